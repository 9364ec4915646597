//! The scanner's own path through the catalog (`scan::examine`): one fuzzed file
//! (path, type, existing siblings, symlink target, head; layout in
//! `lockscan_fuzz::Decoded`) goes through `content_would_help`, `recognise`,
//! `parse_content`, `kernel_lock_path` and `exe_matches`, with `names::classify`
//! and `content::pid_from_head` as examine uses them.
//!
//! Invariants: the convention recognised accepts the file's type; a file whose
//! head was read never asks for it again; the lock site is the file itself or a
//! file in its directory; the parse keeps `check_parsed`'s invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockscan::scan::catalog;
use lockscan::scan::content::{PidContent, pid_from_head};
use lockscan::scan::names::{NameKind, classify};
use lockscan::sys::FileType;
use lockscan_fuzz::{Decoded, check_parsed};

fuzz_target!(|data: &[u8]| {
    let Some(d) = Decoded::new(data) else {
        return;
    };
    let sibling_exists = |n: &str| d.siblings.iter().any(|s| s == n);
    let obs = d.observed(&sibling_exists);

    let would_help = catalog::content_would_help(&obs);
    if d.content.is_some() || d.file_type != FileType::Regular {
        assert!(!would_help);
    }
    let name_kind = d.path.file_name().and_then(classify).map(|r| r.kind);

    let Some(conv) = catalog::recognise(&obs) else {
        return;
    };
    assert!(
        conv.file_types.contains(&d.file_type),
        "{} for {:?}",
        conv.name,
        d.file_type
    );
    let parsed = catalog::parse_content(conv, &obs);
    check_parsed(&parsed, conv.name);

    let site = catalog::kernel_lock_path(conv, &d.path);
    assert!(
        site == d.path || site.parent() == d.path.parent(),
        "{}: lock site {site:?} of {:?}",
        conv.name,
        d.path
    );

    if let (Some(head), Some(NameKind::Pidfile)) = (&d.content, name_kind)
        && let PidContent::Pid(p) = pid_from_head(head, head.len() as u64)
    {
        assert!(p > 0);
    }
    // The holder's name is as fuzzed as the rest: the symlink target's text.
    if let Some(t) = &d.target {
        let _ = catalog::exe_matches(conv, t);
    }
});
