//! Name and symlink-target rules of `scan::names` and `scan::content`:
//! `classify`, `symlink_target_is_lock_data`, `pid_from_symlink_target`,
//! `pids_from_link_name`, on one fuzzed string used as a name and as a target.
//!
//! Invariants: a rule that `classify` returns matches the name; pids are
//! positive, a link name's are within `1..=PID_MAX_LIMIT`, deduplicated, and
//! each is written in the name.
#![no_main]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use libfuzzer_sys::fuzz_target;
use lockscan::lock::pidfile::PID_MAX_LIMIT;
use lockscan::scan::content::pids_from_link_name;
use lockscan::scan::names::{classify, pid_from_symlink_target, symlink_target_is_lock_data};

fuzz_target!(|data: &[u8]| {
    if let Some(rule) = classify(OsStr::from_bytes(data)) {
        assert!(rule.pattern().matches(data), "{rule:?}");
        assert!(!rule.conventions.is_empty());
    }

    let lock_data = symlink_target_is_lock_data(data);
    if lock_data {
        assert!(!data.contains(&b'/') && std::str::from_utf8(data).is_ok());
    }

    // Callers turn targets and link names into text lossily.
    let text = String::from_utf8_lossy(data);
    if let Some(p) = pid_from_symlink_target(&text) {
        assert!(p > 0, "pid {p} from {text:?}");
        assert!(text.contains(&p.to_string()), "pid {p} is not in {text:?}");
    }

    let pids = pids_from_link_name(&text);
    assert!(pids.len() <= 8, "{pids:?}");
    for (i, p) in pids.iter().enumerate() {
        assert!((1..=PID_MAX_LIMIT).contains(p), "pid {p} from {text:?}");
        assert!(text.contains(&p.to_string()), "pid {p} is not in {text:?}");
        assert!(!pids[..i].contains(p), "duplicate pid {p}: {pids:?}");
    }
});
