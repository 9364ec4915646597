//! Pidfile content: `lockscan_lock::pidfile::parse_pid` and the scanner's
//! `content::pid_from_head` on top of it.
//!
//! Invariants: a pid is in `1..=PID_MAX_LIMIT`, and `parse_pid` accepts exactly
//! what its documented rule accepts (first line, first whitespace-separated token,
//! plain decimal digits, leading zeros allowed), checked against a plain
//! re-statement of that rule; `pid_from_head` agrees with it for heads up to 4 KiB
//! and refuses anything larger.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockscan::lock::pidfile::{PID_MAX_LIMIT, PidParseError, parse_pid};
use lockscan::scan::content::{MAX_PIDFILE_BYTES, PidContent, pid_from_head};

/// The documented rule, written the obvious way (u128 cannot overflow on 7 digits
/// after the zeros are stripped).
fn rule(content: &[u8]) -> Option<i32> {
    let line = content.split(|&b| b == b'\n').next()?;
    let token = line
        .split(|b| b.is_ascii_whitespace())
        .find(|t| !t.is_empty())?;
    if !token.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let digits = std::str::from_utf8(token).ok()?.trim_start_matches('0');
    if digits.is_empty() || digits.len() > 10 {
        return None;
    }
    let v: u128 = digits.parse().ok()?;
    (v <= PID_MAX_LIMIT as u128).then_some(v as i32)
}

fuzz_target!(|data: &[u8]| {
    let parsed = parse_pid(data);
    if let Ok(p) = parsed {
        assert!((1..=PID_MAX_LIMIT).contains(&p), "pid {p}");
    }
    assert_eq!(
        parsed.ok(),
        rule(data),
        "{:?}",
        String::from_utf8_lossy(data)
    );
    if let Err(PidParseError::Negative) = parsed {
        assert!(data.contains(&b'-'));
    }

    let size = data.len() as u64;
    let head = pid_from_head(data, size);
    if size <= MAX_PIDFILE_BYTES {
        match (&head, parsed) {
            (PidContent::Pid(a), Ok(b)) => assert_eq!(*a, b),
            (PidContent::Invalid(why), Err(e)) => assert_eq!(why, &e.to_string()),
            other => panic!("pid_from_head disagrees with parse_pid: {other:?}"),
        }
    } else {
        assert!(matches!(head, PidContent::Invalid(_)), "{head:?}");
    }
    // A sparse file bigger than it reads is judged by its size.
    assert!(matches!(
        pid_from_head(data, MAX_PIDFILE_BYTES + 1),
        PidContent::Invalid(_)
    ));
});
