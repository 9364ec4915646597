//! `/proc/PID/fdinfo/FD` (`parse_fdinfo`), fed the way `sys::linux::process`
//! feeds it: the bytes decoded lossily.
//!
//! Invariants: every `lock:` line becomes a lock or a skipped line, in order, and
//! the lock is exactly what `parse_lock_line` makes of the text after `lock:`;
//! `pos`, `flags`, `mnt_id` and `ino` are the first value of their key that is a
//! plain number (decimal; octal for flags), or `None` when there is none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lockscan::sys::linux::fdinfo::parse_fdinfo;
use lockscan::sys::linux::proc_locks::parse_lock_line;

/// The first value of `key` that is all `radix` digits and fits the type.
fn first<T>(text: &str, key: &str, radix: u32, parse: fn(&str, u32) -> Option<T>) -> Option<T> {
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| *k == key)
        .map(|(_, v)| v.trim_ascii())
        .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_digit(radix)))
        .find_map(|v| parse(v, radix))
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let info = parse_fdinfo(&text);

    let mut locks = info.locks.iter();
    let mut skipped = info.skipped.iter();
    for (i, line) in text.lines().enumerate() {
        let Some(("lock", value)) = line.split_once(':') else {
            continue;
        };
        match parse_lock_line(value) {
            Ok(l) => assert_eq!(locks.next(), Some(&l)),
            Err(reason) => {
                let s = skipped.next().expect("a skipped line for every failure");
                assert_eq!(
                    (s.line_no, s.text.as_str(), &s.reason),
                    (i + 1, line, &reason)
                );
            }
        }
    }
    assert!(locks.next().is_none() && skipped.next().is_none());

    let dec = |v: &str, r| u64::from_str_radix(v, r).ok();
    assert_eq!(info.pos, first(&text, "pos", 10, dec));
    assert_eq!(info.mnt_id, first(&text, "mnt_id", 10, dec));
    assert_eq!(info.ino, first(&text, "ino", 10, dec));
    let oct = |v: &str, r| u32::from_str_radix(v, r).ok();
    assert_eq!(info.flags, first(&text, "flags", 8, oct));
});
