//! Shared pieces of the fuzz targets: the invariants every content parser's output
//! must keep, and the byte layout the `catalog` target decodes into what the
//! scanner observed about one file.

use std::path::PathBuf;

use lockscan::lock::pidfile::PID_MAX_LIMIT;
use lockscan::scan::catalog::{Observed, ParsedContent};
use lockscan::sys::FileType;

/// What the scanner reads of a file at most (`content::read_head`: 4096 bytes and
/// one more, so it can tell a longer file).
pub const HEAD_MAX: usize = 4097;

/// Invariants of any [`ParsedContent`], whatever the bytes:
///
/// * a pid is one Linux can hand out, `1..=PID_MAX_LIMIT` (the verdicts signal it);
/// * a host is never empty (an empty host would read as "this host" nowhere);
/// * host, detail and error carry no control characters: they go to terminals and
///   logs verbatim, so every parser routes file text through its escaping `show`.
pub fn check_parsed(p: &ParsedContent, what: &str) {
    if let Some(pid) = p.pid {
        assert!(
            (1..=PID_MAX_LIMIT).contains(&pid),
            "{what}: pid {pid} is not a process id: {p:?}"
        );
    }
    if let Some(h) = &p.host {
        assert!(!h.is_empty(), "{what}: empty host: {p:?}");
    }
    for (field, s) in [
        ("host", &p.host),
        ("detail", &p.detail),
        ("error", &p.error),
    ] {
        if let Some(s) = s {
            assert!(
                !s.chars().any(char::is_control),
                "{what}: {field} carries a control character: {s:?}"
            );
        }
    }
}

/// One file as the scanner saw it, decoded from fuzz bytes:
///
/// ```text
/// byte 0        file type (low 2 bits: 0 regular, 1 symlink, 2 directory, 3 FIFO);
///               bit 2 set: the content was read
/// line          the path (made absolute)
/// line          names of the siblings that exist, separated by '/'
/// line          the symlink target (symlinks only)
/// rest          the content (first HEAD_MAX bytes; only when bit 2 is set)
/// ```
///
/// `fuzz/seed.sh` writes the convention fixtures in this layout.
pub struct Decoded {
    pub path: PathBuf,
    pub file_type: FileType,
    pub siblings: Vec<String>,
    pub target: Option<String>,
    pub content: Option<Vec<u8>>,
}

fn take_line<'a>(rest: &mut &'a [u8]) -> &'a [u8] {
    match rest.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = &rest[..i];
            *rest = &rest[i + 1..];
            line
        }
        None => std::mem::take(rest),
    }
}

impl Decoded {
    pub fn new(data: &[u8]) -> Option<Decoded> {
        use std::os::unix::ffi::OsStrExt;
        let (&mode, mut rest) = data.split_first()?;
        let file_type = match mode & 3 {
            0 => FileType::Regular,
            1 => FileType::Symlink,
            2 => FileType::Directory,
            _ => FileType::Fifo,
        };
        let path = take_line(&mut rest);
        let mut abs = PathBuf::from("/");
        abs.push(std::ffi::OsStr::from_bytes(path));
        let siblings = String::from_utf8_lossy(take_line(&mut rest))
            .split('/')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        // The scanner turns a link target into text lossily (examine.rs).
        let target = (file_type == FileType::Symlink)
            .then(|| String::from_utf8_lossy(take_line(&mut rest)).into_owned());
        let content = (mode & 4 != 0).then(|| rest[..rest.len().min(HEAD_MAX)].to_vec());
        Some(Decoded {
            path: abs,
            file_type,
            siblings,
            target,
            content,
        })
    }

    /// The scanner's [`Observed`] for this file.
    pub fn observed<'a>(&'a self, sibling_exists: &'a dyn Fn(&str) -> bool) -> Observed<'a> {
        Observed {
            path: &self.path,
            file_type: self.file_type,
            symlink_target: self.target.as_deref(),
            content: self.content.as_deref(),
            sibling_exists,
        }
    }
}
