//! `/proc/PID/mountinfo` (`parse_mountinfo_bytes`, on raw bytes as the scanner
//! reads it).
//!
//! Invariants: every non-blank line is a mount or a skipped line (with its line
//! number); a mount printed back the way `show_mountinfo()` prints it (octal escapes
//! for whitespace and backslash in paths, source and type) parses to the same
//! [`Mount`]: no field is misread, unescaped twice or lost.
#![no_main]

use std::os::unix::ffi::OsStrExt;

use libfuzzer_sys::fuzz_target;
use lockscan::sys::Mount;
use lockscan::sys::linux::mountinfo::parse_mountinfo_bytes;

/// The kernel's `mangle()`: whitespace and backslash as `\ooo` (all ASCII
/// whitespace here, since a line's ends are trimmed).
fn escape(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    for &c in b {
        if c.is_ascii_whitespace() || c == b'\\' {
            out.extend_from_slice(format!("\\{c:03o}").as_bytes());
        } else {
            out.push(c);
        }
    }
    out
}

fn canonical(m: &Mount) -> Vec<u8> {
    let mut out = format!("{} {} {}:{} ", m.mount_id, m.parent_id, m.major, m.minor).into_bytes();
    out.extend(escape(m.root.as_os_str().as_bytes()));
    out.push(b' ');
    out.extend(escape(m.mount_point.as_os_str().as_bytes()));
    out.push(b' ');
    out.extend_from_slice(m.mount_options.as_bytes());
    out.extend_from_slice(b" - ");
    out.extend(escape(m.fstype.as_bytes()));
    out.push(b' ');
    out.extend(escape(m.source.as_bytes()));
    out.push(b' ');
    out.extend_from_slice(m.super_options.as_bytes());
    out
}

fuzz_target!(|data: &[u8]| {
    let (mounts, skipped) = parse_mountinfo_bytes(data);
    let nonblank = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.trim_ascii().is_empty())
        .count();
    assert_eq!(mounts.len() + skipped.len(), nonblank);
    let lines = data.split(|&b| b == b'\n').count();
    let mut last = 0;
    for s in &skipped {
        assert!(
            s.line_no > last && s.line_no <= lines,
            "line number {}",
            s.line_no
        );
        last = s.line_no;
    }
    for m in &mounts {
        assert!(m.locality.is_none());
        let line = canonical(m);
        let (again, bad) = parse_mountinfo_bytes(&line);
        assert!(
            bad.is_empty(),
            "{:?} did not parse: {bad:?}",
            String::from_utf8_lossy(&line)
        );
        assert_eq!(again.as_slice(), std::slice::from_ref(m));
    }
});
