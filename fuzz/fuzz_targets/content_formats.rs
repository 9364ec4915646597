//! Every content parser of the catalog, whatever the file's name: the first byte
//! picks one distinct `ContentFormat` (postmaster.pid, Vim swap, Terraform lock
//! info, dnf5 TOML, SoftFileLock, git, UUCP, LMDB, Aria, SQLite, pid lines, …, and
//! the symlink formats: Firefox, Chromium, Emacs, generic) and
//! `catalog::parse_content` runs on the rest as a regular file's head and, as text,
//! as a symlink's target. `fuzz/seed.sh` seeds every fixture under every format,
//! so each parser starts from every other program's files too.
//!
//! Invariants: those of `check_parsed` (positive pid, non-empty host, no control
//! characters in text meant for a terminal); only Vim says whether a file is dirty
//! and only Emacs gives a boot time.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lockscan::scan::catalog::{self, ContentFormat, Convention, Observed, SymlinkKind};
use lockscan::sys::FileType;
use lockscan_fuzz::{HEAD_MAX, check_parsed};

/// One convention per content format.
fn formats() -> &'static [&'static Convention] {
    static ONE_EACH: OnceLock<Vec<&'static Convention>> = OnceLock::new();
    ONE_EACH.get_or_init(|| {
        let mut seen: Vec<ContentFormat> = Vec::new();
        catalog::all()
            .iter()
            .filter(|c| {
                let new = !seen.contains(&c.content);
                seen.push(c.content);
                new
            })
            .collect()
    })
}

fn check(conv: &Convention, obs: &Observed, as_what: &str) {
    let p = catalog::parse_content(conv, obs);
    let what = format!("{:?} as {as_what}", conv.content);
    check_parsed(&p, &what);
    if p.dirty.is_some() {
        assert_eq!(conv.content, ContentFormat::VimSwap, "{what}: {p:?}");
    }
    if p.boot_time.is_some() {
        assert!(
            matches!(
                conv.content,
                ContentFormat::SymlinkTarget(SymlinkKind::Emacs | SymlinkKind::Generic)
            ),
            "{what}: {p:?}"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, data)) = data.split_first() else {
        return;
    };
    let conv = formats()[usize::from(pick) % formats().len()];
    let data = &data[..data.len().min(HEAD_MAX)];
    let no_siblings = |_: &str| false;
    let path = Path::new("/fuzz/file");
    let file = Observed {
        path,
        file_type: FileType::Regular,
        symlink_target: None,
        content: Some(data),
        sibling_exists: &no_siblings,
    };
    check(conv, &file, "file");
    let text = String::from_utf8_lossy(data);
    let link = Observed {
        path,
        file_type: FileType::Symlink,
        symlink_target: Some(&text),
        content: None,
        sibling_exists: &no_siblings,
    };
    check(conv, &link, "symlink");
});
