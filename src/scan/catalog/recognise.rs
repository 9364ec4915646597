//! Which convention a file follows, from what the scanner observed. No I/O.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::{
    ContentFormat, Convention, LockSite, ParsedContent, Pattern, Req, SymlinkKind, all, parse,
};
use crate::scan::names;
use crate::sys::FileType;

impl Pattern {
    pub fn matches(&self, name: &[u8]) -> bool {
        match *self {
            Pattern::Exact(s) => name == s.as_bytes(),
            Pattern::Prefix(s) => name.len() > s.len() && name.starts_with(s.as_bytes()),
            Pattern::Suffix(s) => name.len() > s.len() && name.ends_with(s.as_bytes()),
            Pattern::PgSocketLock => name
                .strip_prefix(b".s.PGSQL.")
                .and_then(|r| r.strip_suffix(b".lock"))
                .is_some_and(|port| !port.is_empty() && port.iter().all(u8::is_ascii_digit)),
            Pattern::VimSwap => {
                matches!(name, [.., b'.', b's', b'w', c] if (b'a'..=b'p').contains(c))
                    && (name.ends_with(b".swp") || name.starts_with(b".") || name.contains(&b'%'))
            }
            Pattern::VimSwapLate => matches!(
                name,
                [_, .., b'.', b's', b, c] if (b'a'..=b'v').contains(b) && c.is_ascii_lowercase()
            ),
            Pattern::Any => !name.is_empty(),
        }
    }
}

impl Req {
    fn holds(&self, obs: &Observed, name: &[u8]) -> bool {
        let component = |up: usize| {
            obs.path
                .ancestors()
                .nth(up)
                .and_then(Path::file_name)
                .map(OsStr::as_encoded_bytes)
        };
        match *self {
            Req::Parent(p) => component(1) == Some(p.as_bytes()),
            Req::Grandparent(p) => component(2) == Some(p.as_bytes()),
            Req::UnderGitDir => obs.path.ancestors().skip(1).any(|a| {
                a.file_name()
                    .map(OsStr::as_encoded_bytes)
                    .is_some_and(|c| c == b".git" || (c.len() > 4 && c.ends_with(b".git")))
            }),
            Req::Sibling(s) => (obs.sibling_exists)(s),
            Req::SiblingStem(prefix, suffix) => name
                .strip_prefix(prefix.as_bytes())
                .and_then(|n| n.strip_suffix(suffix.as_bytes()))
                .filter(|stem| !stem.is_empty())
                .and_then(|stem| std::str::from_utf8(stem).ok())
                .is_some_and(|stem| (obs.sibling_exists)(stem)),
            Req::Magic(m) => obs.content.is_some_and(|c| c.starts_with(m)),
            Req::MagicIfRead(m) => obs.content.is_none_or(|c| c.starts_with(m)),
            Req::Shape(s) => obs.content.is_some_and(|c| parse::has_shape(s, c)),
            Req::SymlinkLockData => obs.symlink_target.is_some_and(|t| {
                names::symlink_target_is_lock_data(t.as_bytes())
                    || (!t.contains('/')
                        && names::pid_from_symlink_target(t).is_some()
                        && obs.path.file_name().and_then(names::classify).is_some())
            }),
            Req::Any(reqs) => reqs.iter().any(|r| r.holds(obs, name)),
        }
    }

    fn needs_content(&self) -> bool {
        match self {
            Req::Magic(_) | Req::Shape(_) => true,
            Req::Any(reqs) => reqs.iter().any(Req::needs_content),
            _ => false,
        }
    }
}

impl Convention {
    fn matches(&self, obs: &Observed, name: &[u8]) -> bool {
        self.file_types.contains(&obs.file_type)
            && self
                .matchers
                .iter()
                .any(|m| m.pattern.matches(name) && m.reqs.iter().all(|r| r.holds(obs, name)))
    }
}

/// What the scanner observed about one file (no I/O happens in this module).
pub struct Observed<'a> {
    pub path: &'a Path,
    pub file_type: FileType,
    pub symlink_target: Option<&'a str>,
    /// The first ≤ 4096 bytes when read (`None` = not read).
    pub content: Option<&'a [u8]>,
    /// Does a file or directory of this name exist in the same directory?
    pub sibling_exists: &'a dyn Fn(&str) -> bool,
}

/// The convention a file follows, most specific first; generic rules by name last.
pub fn recognise(obs: &Observed) -> Option<&'static Convention> {
    let name = obs.path.file_name()?.as_encoded_bytes();
    all().iter().find(|c| c.matches(obs, name))
}

/// Whether reading the file's first 4 KiB could refine or complete recognition:
/// the current answer wants its content, or a convention for this name is only
/// confirmed by content (Vim's later swap names, `*.lock.info`, `X-lock`, SoftFileLock).
/// Always false for anything but unread regular files.
pub fn content_would_help(obs: &Observed) -> bool {
    if obs.file_type != FileType::Regular || obs.content.is_some() {
        return false;
    }
    let Some(name) = obs.path.file_name().map(OsStr::as_encoded_bytes) else {
        return false;
    };
    recognise(obs).is_some_and(wants_content)
        || all().iter().any(|c| {
            c.file_types.contains(&FileType::Regular)
                && c.matchers.iter().any(|m| {
                    m.pattern != Pattern::Any
                        && m.pattern.matches(name)
                        && m.reqs.iter().any(Req::needs_content)
                })
        })
}

/// Whether the scanner should read the first 4 KiB (plain regular files only).
pub fn wants_content(conv: &Convention) -> bool {
    match conv.content {
        ContentFormat::Empty
        | ContentFormat::Binary
        | ContentFormat::Data
        | ContentFormat::Unknown
        | ContentFormat::Sqlite => false,
        ContentFormat::SymlinkTarget(kind) => kind == SymlinkKind::Emacs,
        _ => true,
    }
}

/// Parses what the file records (pid, host, …). Total: never panics on any bytes.
pub fn parse_content(conv: &Convention, obs: &Observed) -> ParsedContent {
    parse::parse(conv.content, obs)
}

/// The file whose kernel lock decides this one's state (`Facts::kernel_locked`).
pub fn kernel_lock_path(conv: &Convention, path: &Path) -> PathBuf {
    let sibling = |s: &str| path.with_file_name(s);
    match conv.lock_site {
        LockSite::Itself => path.to_path_buf(),
        LockSite::Sibling(s) => sibling(s),
        LockSite::SiblingStem(prefix, suffix) => path
            .file_name()
            .map(OsStr::as_encoded_bytes)
            .and_then(|n| n.strip_prefix(prefix.as_bytes()))
            .and_then(|n| n.strip_suffix(suffix.as_bytes()))
            .filter(|stem| !stem.is_empty())
            .and_then(|stem| std::str::from_utf8(stem).ok())
            .map_or_else(|| path.to_path_buf(), sibling),
    }
}

/// Whether a process name (`comm`, or an exe basename) is one that legitimately owns
/// files of this convention; `None` when the convention names none. `comm` is cut to
/// 15 bytes by the kernel, and versioned binaries (`emacs-29.3`) count as their base.
pub fn exe_matches(conv: &Convention, process_name: &str) -> Option<bool> {
    if conv.exe_names.is_empty() {
        return None;
    }
    let cut = |s: &str| -> Vec<u8> { s.bytes().take(15).collect() };
    let p = process_name.as_bytes();
    Some(conv.exe_names.iter().any(|e| {
        let e = e.as_bytes();
        p == e
            || (p.len() == 15 && e.len() > 15 && cut(process_name) == e[..15])
            || p.strip_prefix(e)
                .and_then(|rest| rest.strip_prefix(b"-"))
                .is_some_and(|v| {
                    !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b'.')
                })
    }))
}
