//! `/proc/locks` (`parse_proc_locks`, and `parse_lock_line` for every line), fed
//! the way `sys::linux::read_proc_locks` feeds it: the bytes decoded lossily.
//!
//! Invariants: every non-blank line is either a lock or a skipped line; `blocker`
//! runs beside `lines` and points back to a line of the same ordinal one level up;
//! a skipped line keeps its text, number and the reason `parse_lock_line` gives;
//! a parsed line printed back in the kernel's canonical form parses to the same
//! [`LockLine`] (no field is misread or lost).
#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use lockscan::sys::linux::proc_locks::{parse_lock_line, parse_proc_locks};
use lockscan::sys::{LeaseState, LockKind, LockLine, LockMode};

/// The line as `lock_get_status()` prints it (one canonical spelling per field).
fn canonical(l: &LockLine) -> String {
    let kind = match l.kind {
        LockKind::Flock => "FLOCK",
        LockKind::Posix => "POSIX",
        LockKind::Ofd => "OFDLCK",
        LockKind::Access => "ACCESS",
        LockKind::Lease => "LEASE",
        LockKind::Deleg => "DELEG",
        LockKind::Unknown => "UNKNOWN",
        other => panic!("the kernel's table cannot name {other:?}"),
    };
    let flavour = match (l.lease_state, l.kind, l.mandatory) {
        (Some(LeaseState::Active), ..) => "ACTIVE",
        (Some(LeaseState::Breaking), ..) => "BREAKING",
        (Some(LeaseState::Breaker), ..) => "BREAKER",
        (None, LockKind::Unknown, _) => "UNKNOWN",
        (None, _, true) => "MANDATORY",
        (None, _, false) => "ADVISORY",
    };
    let mode = match l.mode {
        LockMode::Read => "READ",
        LockMode::Write => "WRITE",
        LockMode::Unlock => "UNLCK",
    };
    let dev = match l.key {
        Some(k) => format!("{:x}:{:x}:{}", k.major, k.minor, k.ino),
        None => "<none>:0".to_string(),
    };
    let end = l.end.map_or("EOF".to_string(), |e| e.to_string());
    let arrow = if l.depth == 0 {
        " ".to_string()
    } else {
        format!("{}-> ", " ".repeat(l.depth as usize))
    };
    format!(
        "{}:{arrow}{kind} {flavour} {mode} {} {dev} {} {end}",
        l.ordinal, l.pid, l.start
    )
}

fn check_line(l: &LockLine) {
    // Lease states belong to leases and delegations, and only they carry one.
    assert_eq!(
        l.lease_state.is_some(),
        matches!(l.kind, LockKind::Lease | LockKind::Deleg),
        "{l:?}"
    );
    if l.mandatory {
        assert!(
            matches!(l.kind, LockKind::Posix | LockKind::Ofd | LockKind::Access),
            "{l:?}"
        );
    }
    let text = canonical(l);
    assert_eq!(
        parse_lock_line(&text).as_ref(),
        Ok(l),
        "round trip of {text:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let locks = parse_proc_locks(&text);
    assert_eq!(locks.lines.len(), locks.blocker.len());

    let nonblank: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_ascii().is_empty())
        .collect();
    assert_eq!(locks.lines.len() + locks.skipped.len(), nonblank.len());

    let mut parsed = locks.lines.iter();
    let mut skipped = locks.skipped.iter();
    for (i, raw) in nonblank {
        match parse_lock_line(raw) {
            Ok(line) => assert_eq!(parsed.next(), Some(&line)),
            Err(reason) => {
                let s = skipped.next().expect("a skipped line for every failure");
                assert_eq!(
                    (s.line_no, s.text.as_str(), &s.reason),
                    (i + 1, raw, &reason)
                );
            }
        }
    }

    // The blocker is the nearest earlier line of the same ordinal one level up.
    let mut latest: HashMap<(u64, u32), usize> = HashMap::new();
    for (i, (line, blocker)) in locks.lines.iter().zip(&locks.blocker).enumerate() {
        check_line(line);
        let expected = match line.depth {
            0 => None,
            d => latest.get(&(line.ordinal, d - 1)).copied(),
        };
        assert_eq!(*blocker, expected, "blocker of line {i}");
        if let Some(b) = blocker {
            assert!(*b < i);
            assert_eq!(locks.lines[*b].ordinal, line.ordinal);
            assert_eq!(locks.lines[*b].depth + 1, line.depth);
        }
        latest.insert((line.ordinal, line.depth), i);
    }
});
