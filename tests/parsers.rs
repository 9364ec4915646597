//! Parser tests on the fixtures in `fixtures/`.
//!
//! `proc_locks/{flock_posix_ofd,waiters_nested,lease,inherited}.txt`, `fdinfo/*` and
//! `mountinfo/{self,with_mounts}.txt` are real captures made with
//! `fixtures/capture/capture.py` (kernel 6.18; roles of each pid/inode in
//! `fixtures/capture/manifest.txt`), so the concrete pids, inodes and mount ids asserted here
//! are the ones of that capture. `proc_locks/odd_forms.txt` and `mountinfo/synthetic.txt` are
//! synthetic (see the `.README` next to each).

#![cfg(target_os = "linux")]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use lockscan::sys::linux::fdinfo::parse_fdinfo;
use lockscan::sys::linux::mountinfo::{parse_mountinfo, parse_mountinfo_bytes};
use lockscan::sys::linux::proc_locks::{parse_lock_line, parse_proc_locks};
use lockscan::sys::types::*;

macro_rules! fixture_bytes {
    ($p:literal) => {
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/", $p))
            .expect(concat!("fixture ", $p))
    };
}

macro_rules! fixture {
    ($p:literal) => {
        String::from_utf8_lossy(&fixture_bytes!($p)).into_owned()
    };
}

const FE: u32 = 0xfe; // 254: /dev/vda on the capture machine

fn key(major: u32, minor: u32, ino: u64) -> Option<FileKey> {
    Some(FileKey { major, minor, ino })
}

/// A granted (depth 0) or waiting line of a non-lease kind.
#[allow(clippy::too_many_arguments)]
fn lk(
    ordinal: u64,
    depth: u32,
    kind: LockKind,
    mode: LockMode,
    pid: i32,
    key: Option<FileKey>,
    start: u64,
    end: Option<u64>,
) -> LockLine {
    LockLine {
        ordinal,
        depth,
        kind,
        mandatory: false,
        lease_state: None,
        mode,
        pid,
        key,
        start,
        end,
    }
}

fn lease(
    ordinal: u64,
    depth: u32,
    state: LeaseState,
    mode: LockMode,
    pid: i32,
    key: Option<FileKey>,
) -> LockLine {
    LockLine {
        lease_state: Some(state),
        ..lk(ordinal, depth, LockKind::Lease, mode, pid, key, 0, None)
    }
}

use LockKind::{Access, Deleg, Flock, Ofd, Posix, Unknown};
use LockMode::{Read, Unlock, Write};

/// Structural invariants every parse must satisfy.
fn check_invariants(p: &ProcLocks) {
    assert_eq!(p.lines.len(), p.blocker.len());
    for (i, b) in p.blocker.iter().enumerate() {
        match b {
            None => {}
            Some(j) => {
                assert!(*j < i, "blocker must precede its waiter");
                assert_eq!(p.lines[*j].depth + 1, p.lines[i].depth);
                assert_eq!(p.lines[*j].ordinal, p.lines[i].ordinal);
            }
        }
        if p.lines[i].depth == 0 {
            assert_eq!(*b, None);
        }
    }
    for s in &p.skipped {
        assert!(s.line_no >= 1);
        assert!(!s.reason.is_empty());
    }
}

// ------------------------------------------------------------------------------------------
// /proc/locks, real captures

#[test]
fn proc_locks_flock_posix_ofd() {
    let p = parse_proc_locks(&fixture!("proc_locks/flock_posix_ofd.txt"));
    check_invariants(&p);
    let ofd = key(FE, 0, 10018881);
    let fl_sh = key(FE, 0, 10018833);
    let px = key(FE, 0, 10018866);
    let fl_ex = key(FE, 0, 10018849);
    assert_eq!(
        p.lines,
        vec![
            lk(1, 0, Ofd, Read, -1, ofd, 1000, None),
            lk(2, 0, Ofd, Write, -1, ofd, 128, Some(191)),
            lk(3, 0, Flock, Read, 22401, fl_sh, 0, None),
            lk(4, 0, Posix, Read, 22400, px, 200, None),
            lk(5, 0, Posix, Write, 22400, px, 150, Some(150)),
            lk(6, 0, Posix, Write, 22400, px, 0, Some(99)),
            lk(7, 0, Flock, Write, 22400, fl_ex, 0, None),
            lk(8, 0, Flock, Read, 22400, fl_sh, 0, None),
        ]
    );
    assert_eq!(p.blocker, vec![None; 8]);
    assert!(p.skipped.is_empty());
    assert_eq!((fl_sh.unwrap().major, fl_sh.unwrap().minor), (254, 0));
}

#[test]
fn proc_locks_waiters_nested() {
    let p = parse_proc_locks(&fixture!("proc_locks/waiters_nested.txt"));
    check_invariants(&p);
    let px = key(FE, 0, 10018913);
    let ofd = key(FE, 0, 10018929);
    let nest = key(FE, 0, 10018897);
    assert_eq!(
        p.lines,
        vec![
            lk(1, 0, Posix, Write, 22407, px, 0, Some(99)),
            lk(1, 1, Posix, Write, 22408, px, 50, Some(59)),
            lk(3, 0, Ofd, Write, -1, ofd, 128, Some(191)),
            lk(3, 1, Ofd, Read, -1, ofd, 130, Some(131)),
            lk(4, 0, Flock, Write, 22403, nest, 0, None),
            lk(4, 1, Flock, Write, 22404, nest, 0, None),
            lk(4, 2, Flock, Write, 22405, nest, 0, None),
            lk(4, 3, Flock, Read, 22406, nest, 0, None),
        ]
    );
    assert_eq!(
        p.blocker,
        vec![
            None,
            Some(0),
            None,
            Some(2),
            None,
            Some(4),
            Some(5),
            Some(6)
        ]
    );
    assert!(p.skipped.is_empty());
    assert!(p.lines[7].is_waiter() && !p.lines[4].is_waiter());
}

#[test]
fn proc_locks_lease() {
    let p = parse_proc_locks(&fixture!("proc_locks/lease.txt"));
    check_invariants(&p);
    use LeaseState::{Active, Breaker, Breaking};
    assert_eq!(
        p.lines,
        vec![
            lease(1, 0, Breaking, Read, 22413, key(FE, 0, 10026998)),
            lease(1, 1, Breaker, Read, 22415, None),
            lease(2, 0, Active, Read, 22411, key(FE, 0, 10027007)),
            lease(4, 0, Breaking, Unlock, 22414, key(FE, 0, 10026997)),
            lease(4, 1, Breaker, Write, 22416, None),
            lease(5, 0, Active, Write, 22412, key(FE, 0, 10026999)),
        ]
    );
    assert_eq!(p.blocker, vec![None, Some(0), None, None, Some(3), None]);
    assert!(p.skipped.is_empty());
}

#[test]
fn proc_locks_inherited() {
    let p = parse_proc_locks(&fixture!("proc_locks/inherited.txt"));
    check_invariants(&p);
    // 22418 exited before the capture; `sleep` (fdinfo/flock_inherited.txt) holds the lock.
    assert_eq!(
        p.lines,
        vec![lk(1, 0, Flock, Write, 22418, key(0, 0x27, 2), 0, None)]
    );
    assert_eq!(
        (p.lines[0].key.unwrap().major, p.lines[0].key.unwrap().minor),
        (0, 39)
    );
}

// ------------------------------------------------------------------------------------------
// /proc/locks, synthetic odd forms and garbage

#[test]
fn proc_locks_odd_forms() {
    let text = fixture!("proc_locks/odd_forms.txt");
    let p = parse_proc_locks(&text);
    check_invariants(&p);
    let mut expected = vec![
        lk(1, 0, Posix, Write, 1234, key(8, 1, 5678), 0, None),
        lk(2, 0, Flock, Read, 5433, key(8, 1, 1001), 0, None), // MSNFS RW
        lk(3, 0, Flock, Write, 5434, key(8, 1, 1002), 0, None), // MSNFS NONE
        lk(4, 0, Flock, Read, 5435, key(8, 1, 1003), 0, None), // MSNFS READ
        lk(5, 0, Flock, Write, 5436, key(8, 1, 1004), 0, None), // MSNFS WRITE
        lk(6, 0, Access, Read, 777, key(FE, 0, 42), 0, Some(9)),
        lk(7, 0, Posix, Write, 888, None, 0, None), // *NOINODE*
        lk(8, 0, Unknown, Write, 999, key(FE, 0, 43), 0, None),
        LockLine {
            lease_state: Some(LeaseState::Active),
            ..lk(9, 0, Deleg, Read, 1777, key(FE, 0, 44), 0, None)
        },
        lk(10, 0, Posix, Write, 0, key(0, 0x31, 5), 0, None),
        lk(11, 0, Posix, Read, -1, key(0, 0x32, 6), 10, Some(19)),
        lk(12, 0, Posix, Write, 4242, key(259, 5, 131074), 0, None),
        lk(13, 0, Flock, Write, 4243, key(0, 419, 2), 0, None),
        lk(
            14,
            0,
            Posix,
            Write,
            4244,
            key(0, 0x2d, 10376293541461622785),
            0,
            None,
        ),
        lk(15, 0, Posix, Read, 5433, key(8, 1, 1234), 0, None),
        lk(15, 1, Posix, Write, 5500, key(8, 1, 1234), 0, None),
        lk(16, 2, Flock, Write, 5501, key(8, 1, 1235), 0, None),
        lk(9, 0, Posix, Write, 12, key(FE, 0, 1), 20, None),
    ];
    expected[0].mandatory = true;
    assert_eq!(p.lines, expected);
    let mut blockers = vec![None; expected.len()];
    blockers[15] = Some(14); // waiter of the old-kernel "READ  5433" line
    // line 17: orphan waiter at depth 2 stays, without a blocker
    assert_eq!(p.blocker, blockers);
    assert_eq!(
        u64::wrapping_neg(8070450532247928831),
        10376293541461622785,
        "negative pre-5.6 inode keeps the kernel's bits"
    );

    let skipped: Vec<(usize, &str)> = p
        .skipped
        .iter()
        .map(|s| (s.line_no, s.reason.as_str()))
        .collect();
    let want = [
        (19, "empty lock id"),
        (20, "lock kind"),
        (21, "bad pid"),
        (22, "range start"),
        (23, "bad device field"),
        (24, "lock id"),
        (25, "lock id"),
        (27, "lock kind"),
        (28, "unexpected trailing field"),
        (29, "unexpected flavour"),
    ];
    assert_eq!(skipped.len(), want.len(), "{skipped:#?}");
    for ((no, reason), (want_no, want_reason)) in skipped.iter().zip(want) {
        assert_eq!(*no, want_no);
        assert!(
            reason.contains(want_reason),
            "line {no}: {reason:?} should mention {want_reason:?}"
        );
    }
    // The skipped entry keeps the text of its line.
    let lines: Vec<&str> = text.lines().collect();
    for s in &p.skipped {
        assert_eq!(s.text, lines[s.line_no - 1]);
    }
    assert_eq!(
        p.skipped[0].text,
        ": POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF"
    );
}

#[test]
fn lock_line_forms() {
    // fdinfo form: leading tab (and any whitespace) before the ordinal is fine.
    let l = parse_lock_line("\t1: OFDLCK ADVISORY  WRITE -1 fe:00:10018881 128 191").unwrap();
    assert_eq!(
        l,
        lk(1, 0, Ofd, Write, -1, key(FE, 0, 10018881), 128, Some(191))
    );
    // CRLF-terminated and tab-separated input.
    let l = parse_lock_line("2:\tPOSIX\tADVISORY\tREAD\t7\t0a:0B:9\t0\tEOF\r").unwrap();
    assert_eq!(l, lk(2, 0, Posix, Read, 7, key(10, 11, 9), 0, None));
    // Deep indentation is counted, not capped at 3.
    let deep = format!(
        "5:{}-> FLOCK  ADVISORY  WRITE 1 fe:00:9 0 EOF",
        " ".repeat(10_000)
    );
    assert_eq!(parse_lock_line(&deep).unwrap().depth, 10_000);
    // Full 64-bit values.
    let l = parse_lock_line(
        "18446744073709551615: POSIX  ADVISORY  WRITE 2147483647 ffffffff:fffff:18446744073709551615 9223372036854775806 9223372036854775807",
    )
    .unwrap();
    assert_eq!(l.ordinal, u64::MAX);
    assert_eq!(l.pid, i32::MAX);
    assert_eq!(l.key, key(u32::MAX, 0xfffff, u64::MAX));
    assert_eq!(l.end, Some(i64::MAX as u64));

    for (bad, why) in [
        ("", "lock id"),
        ("x: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF", "bad lock id"),
        ("-1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF", "bad lock id"),
        (
            "1 POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF",
            "does not end with ':'",
        ),
        (
            "1: LAYOUT ACTIVE    WRITE 1 fe:00:1 0 EOF",
            "unknown lock kind",
        ),
        (
            "1: LEASE  ADVISORY  WRITE 1 fe:00:1 0 EOF",
            "unexpected flavour",
        ),
        (
            "1: FLOCK  MANDATORY WRITE 1 fe:00:1 0 EOF",
            "unexpected flavour",
        ),
        (
            "1: UNKNOWN ADVISORY  WRITE 1 fe:00:1 0 EOF",
            "unexpected flavour",
        ),
        ("1: POSIX  ADVISORY  RW 1 fe:00:1 0 EOF", "unknown mode"),
        ("1: FLOCK  MSNFS     UNLCK 1 fe:00:1 0 EOF", "unknown mode"),
        (
            "1: POSIX  ADVISORY  WRITE 2147483648 fe:00:1 0 EOF",
            "bad pid",
        ),
        ("1: POSIX  ADVISORY  WRITE +1 fe:00:1 0 EOF", "bad pid"),
        (
            "1: POSIX  ADVISORY  WRITE 1 fe:00 0 EOF",
            "bad device field",
        ),
        (
            "1: POSIX  ADVISORY  WRITE 1 fe:00:1:2 0 EOF",
            "bad device field",
        ),
        (
            "1: POSIX  ADVISORY  WRITE 1 fg:00:1 0 EOF",
            "bad device field",
        ),
        (
            "1: POSIX  ADVISORY  WRITE 1 100000000:00:1 0 EOF",
            "bad device field",
        ),
        (
            "1: POSIX  ADVISORY  WRITE 1 fe:00:0x1 0 EOF",
            "bad device field",
        ),
        (
            "1: POSIX  ADVISORY  WRITE 1 <none>:1 0 EOF",
            "bad device field",
        ),
        (
            "1: POSIX  ADVISORY  WRITE 1 fe:00:1 -1 EOF",
            "bad range start",
        ),
        ("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 eof", "bad range end"),
        ("1: POSIX  ADVISORY  WRITE 1 fe:00:1 0", "range end"),
        ("1: ->", "lock kind"),
        ("1: -> ->", "unknown lock kind"),
    ] {
        let err = parse_lock_line(bad).expect_err(bad);
        assert!(err.contains(why), "{bad:?}: {err:?} should mention {why:?}");
    }
}

#[test]
fn proc_locks_blank_lines_and_line_numbers() {
    let text = "\n1: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF\r\n  \n\
                1:  -> POSIX  ADVISORY  WRITE 2 fe:00:1 0 EOF\n\
                1: -> POSIX  ADVISORY  WRITE 3 fe:00:1 0 EOF\n\
                1:  -> POSIX  ADVISORY  WRITE 4 fe:00:1 0 EOF\n\
                garbage\n\
                2: -> FLOCK  ADVISORY  WRITE 5 fe:00:2 0 EOF";
    let p = parse_proc_locks(text);
    check_invariants(&p);
    assert_eq!(
        p.lines.iter().map(|l| (l.pid, l.depth)).collect::<Vec<_>>(),
        vec![(1, 0), (2, 2), (3, 1), (4, 2), (5, 1)]
    );
    // pid 2: depth 2 before any depth-1 line of ordinal 1 -> orphan; pid 4 -> pid 3's line;
    // pid 5: depth 1 with no line of ordinal 2 -> orphan.
    assert_eq!(p.blocker, vec![None, None, Some(0), Some(2), None]);
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].line_no, 7);
    assert_eq!(p.skipped[0].text, "garbage");
    assert_eq!(parse_proc_locks(""), ProcLocks::default());
}

// ------------------------------------------------------------------------------------------
// fdinfo

#[test]
fn fdinfo_posix_ranges_match_proc_locks() {
    let info = parse_fdinfo(&fixture!("fdinfo/posix_ranges.txt"));
    let px = key(FE, 0, 10018866);
    assert_eq!(info.pos, Some(0));
    assert_eq!(info.flags, Some(0o2100002)); // O_RDWR | O_LARGEFILE | O_CLOEXEC
    assert_eq!(info.mnt_id, Some(27));
    assert_eq!(info.ino, Some(10018866));
    assert_eq!(
        info.locks,
        vec![
            lk(1, 0, Posix, Write, 22400, px, 0, Some(99)),
            lk(2, 0, Posix, Write, 22400, px, 150, Some(150)),
            lk(3, 0, Posix, Read, 22400, px, 200, None),
        ]
    );
    assert!(info.skipped.is_empty());
    // The same locks as in /proc/locks (ordinals differ, same_lock ignores them).
    let p = parse_proc_locks(&fixture!("proc_locks/flock_posix_ofd.txt"));
    for l in &info.locks {
        assert_eq!(p.lines.iter().filter(|g| g.same_lock(l)).count(), 1);
    }
}

#[test]
fn fdinfo_flock_cloexec_and_inherited() {
    let own = parse_fdinfo(&fixture!("fdinfo/flock_cloexec.txt"));
    assert_eq!(own.flags, Some(0o2100001)); // O_WRONLY | O_LARGEFILE | O_CLOEXEC
    assert_eq!(own.flags.unwrap() & OpenFd::O_CLOEXEC, OpenFd::O_CLOEXEC);
    assert_eq!(
        own.locks,
        vec![lk(1, 0, Flock, Write, 22400, key(FE, 0, 10018849), 0, None)]
    );

    let inh = parse_fdinfo(&fixture!("fdinfo/flock_inherited.txt"));
    assert_eq!(inh.pos, Some(0));
    assert_eq!(inh.flags, Some(0o100001)); // no O_CLOEXEC: inherited across exec
    assert_eq!(inh.flags.unwrap() & OpenFd::O_CLOEXEC, 0);
    assert_eq!(inh.mnt_id, Some(42));
    assert_eq!(inh.ino, Some(2));
    let expected = lk(1, 0, Flock, Write, 22418, key(0, 0x27, 2), 0, None);
    assert_eq!(inh.locks, vec![expected.clone()]);
    // The line names the dead locker; the holder is the process that has this fd.
    let p = parse_proc_locks(&fixture!("proc_locks/inherited.txt"));
    assert!(p.lines[0].same_lock(&expected));
    // mnt_id 42 is the private tmpfs of the capture, whose device is the lock's device.
    let (mounts, skipped) = parse_mountinfo(&fixture!("mountinfo/self.txt"));
    assert!(skipped.is_empty());
    let m = mounts.iter().find(|m| m.mount_id == 42).unwrap();
    assert_eq!((m.major, m.minor), (0, 0x27));
    assert_eq!(m.fstype, "tmpfs");
}

#[test]
fn fdinfo_ofd_and_leases() {
    let ofd = parse_fdinfo(&fixture!("fdinfo/ofd.txt"));
    let k = key(FE, 0, 10018881);
    assert_eq!(ofd.flags, Some(0o2100002));
    assert_eq!(
        ofd.locks,
        vec![
            lk(1, 0, Ofd, Write, -1, k, 128, Some(191)),
            lk(2, 0, Ofd, Read, -1, k, 1000, None),
        ]
    );

    let l = parse_fdinfo(&fixture!("fdinfo/lease.txt"));
    assert_eq!(l.flags, Some(0o2120000)); // O_RDONLY | FASYNC (added by F_SETLEASE) | ...
    assert_eq!(l.ino, Some(10027007));
    assert_eq!(
        l.locks,
        vec![lease(
            1,
            0,
            LeaseState::Active,
            Read,
            22411,
            key(FE, 0, 10027007)
        )]
    );

    let b = parse_fdinfo(&fixture!("fdinfo/lease_breaking.txt"));
    assert_eq!(
        b.locks,
        vec![lease(
            1,
            0,
            LeaseState::Breaking,
            Unlock,
            22414,
            key(FE, 0, 10026997)
        )]
    );
}

#[test]
fn fdinfo_waiter_and_non_files() {
    let w = parse_fdinfo(&fixture!("fdinfo/waiter_blocked.txt"));
    assert_eq!(
        w,
        FdInfo {
            pos: Some(0),
            flags: Some(0o2100002),
            mnt_id: Some(27),
            ino: Some(10018897),
            locks: vec![],
            skipped: vec![],
        }
    );

    let e = parse_fdinfo(&fixture!("fdinfo/eventfd.txt"));
    assert_eq!(
        (e.pos, e.flags, e.mnt_id, e.ino),
        (Some(0), Some(0o2004002), Some(17), Some(1038))
    );
    assert!(e.locks.is_empty() && e.skipped.is_empty());

    let s = parse_fdinfo(&fixture!("fdinfo/socket.txt"));
    assert_eq!((s.mnt_id, s.ino), (Some(10), Some(194499)));
    assert!(s.locks.is_empty() && s.skipped.is_empty());

    // "inotify wd:1 ino:98e001 ..." must not be read as the ino: key.
    let i = parse_fdinfo(&fixture!("fdinfo/inotify.txt"));
    assert_eq!((i.flags, i.ino), (Some(0o2004000), Some(1038)));
    assert!(i.locks.is_empty() && i.skipped.is_empty());
}

#[test]
fn fdinfo_synthetic() {
    let text = "pos:\t12\nflags:\t02\nlock:\t1: FLOCK  ADVISORY  WRITE 5 fe:00:7 0 EOF\n\
                lock:\tgarbage\nlock:\nlock:\t2: FLOCK  ADVISORY  READ 5 fe:00:7 0 EOF\n\
                tfd:       5 events:       19 data:                5  pos:0 ino:24f sdev:7\n";
    let info = parse_fdinfo(text);
    assert_eq!(
        (info.pos, info.flags, info.mnt_id, info.ino),
        (Some(12), Some(2), None, None)
    );
    assert_eq!(info.locks.len(), 2);
    assert_eq!(info.locks[1].mode, Read);
    assert_eq!(
        info.skipped
            .iter()
            .map(|s| (s.line_no, s.text.as_str()))
            .collect::<Vec<_>>(),
        vec![(4, "lock:\tgarbage"), (5, "lock:")]
    );
    assert_eq!(parse_fdinfo(""), FdInfo::default());
}

// ------------------------------------------------------------------------------------------
// mountinfo

fn path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(bytes))
}

#[test]
fn mountinfo_self() {
    let (mounts, skipped) = parse_mountinfo(&fixture!("mountinfo/self.txt"));
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(mounts.len(), 21);
    let root = mounts.iter().find(|m| m.mount_id == 27).unwrap();
    assert_eq!(
        root,
        &Mount {
            mount_id: 27,
            parent_id: 1,
            major: 254,
            minor: 0,
            root: PathBuf::from("/"),
            mount_point: PathBuf::from("/"),
            mount_options: "rw,relatime".into(),
            fstype: "ext4".into(),
            source: "/dev/vda".into(),
            super_options: "rw,discard,resv_strict,resuid=65534,resgid=65534".into(),
            locality: None,
        }
    );
    let devtmpfs = mounts.iter().find(|m| m.mount_id == 24).unwrap();
    assert_eq!((devtmpfs.major, devtmpfs.minor), (0, 6));
}

#[test]
fn mountinfo_with_mounts() {
    let bytes = fixture_bytes!("mountinfo/with_mounts.txt");
    let (mounts, skipped) = parse_mountinfo_bytes(&bytes);
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(mounts.len(), 28);
    let by_id = |id: u64| mounts.iter().find(|m| m.mount_id == id).unwrap();
    let base = b"/tmp/lockscan-capture-yok_4nht/";
    let under = |rest: &[u8]| path(&[&base[..], rest].concat());

    let odd = by_id(43);
    assert_eq!((odd.parent_id, odd.major, odd.minor), (27, 0, 40));
    assert_eq!(odd.root, PathBuf::from("/"));
    assert_eq!(odd.mount_point, under(b"sp ace\ttab\\bs"));
    assert_eq!(odd.mount_options, "rw,relatime");
    assert_eq!(odd.fstype, "tmpfs");
    assert_eq!(odd.source, "lockscan src");
    assert_eq!(odd.super_options, "rw,size=1024k");

    let bind = by_id(44); // bind mount of "sub dir", same superblock
    assert_eq!((bind.major, bind.minor), (0, 40));
    assert_eq!(bind.root, PathBuf::from("/sub dir"));
    assert_eq!(bind.mount_point, under(b"bind"));

    let slave = by_id(45); // "master:1" optional field
    assert_eq!(slave.mount_point, under(b"slave"));
    assert_eq!(slave.fstype, "tmpfs");

    let nl = by_id(46);
    assert_eq!(nl.mount_point, under(b"nl\nname"));
    assert_eq!(nl.source, "nl");

    let empty = by_id(47); // the kernel prints "- tmpfs  rw,size=1024k"
    assert_eq!(empty.source, "");
    assert_eq!(empty.fstype, "tmpfs");
    assert_eq!(empty.super_options, "rw,size=1024k");

    let latin1 = by_id(48); // raw byte 0xe9 in the mount point survives from bytes
    assert_eq!(latin1.mount_point, under(b"caf\xe9"));
    assert_eq!(
        latin1.mount_point.as_os_str().as_bytes().last(),
        Some(&0xe9)
    );

    let fuse = by_id(49);
    assert_eq!((fuse.major, fuse.minor), (0, 44));
    assert_eq!(fuse.fstype, "fuse");
    assert_eq!(fuse.source, "/tmp/lockscan-capture-yok_4nht/bindfs_src");
    assert_eq!(
        fuse.super_options,
        "rw,user_id=0,group_id=0,default_permissions,allow_other"
    );
    assert_eq!(fuse.mount_options, "rw,nosuid,nodev,relatime");

    // Through &str (lossy) the same lines parse; only the raw byte becomes U+FFFD.
    let (lossy, skipped) = parse_mountinfo(&String::from_utf8_lossy(&bytes));
    assert!(skipped.is_empty());
    assert_eq!(lossy.len(), 28);
    let l48 = lossy.iter().find(|m| m.mount_id == 48).unwrap();
    assert_eq!(l48.mount_point, under("caf\u{fffd}".as_bytes()));
}

#[test]
fn mountinfo_synthetic() {
    let (mounts, skipped) = parse_mountinfo(&fixture!("mountinfo/synthetic.txt"));
    assert_eq!(mounts.len(), 10);
    let by_id = |id: u64| mounts.iter().find(|m| m.mount_id == id).unwrap();

    let nfs = by_id(25);
    assert_eq!(nfs.fstype, "nfs4");
    assert_eq!(nfs.source, "server.example:/export");
    assert!(nfs.super_options.split(',').any(|o| o == "local_lock=none"));

    let cifs = by_id(26);
    assert_eq!(cifs.fstype, "cifs");
    assert_eq!(cifs.source, "//fileserver/share");
    assert!(cifs.super_options.split(',').any(|o| o == "nobrl"));

    let btrfs = by_id(27);
    assert_eq!((btrfs.major, btrfs.minor), (0, 39));
    assert_eq!(btrfs.root, PathBuf::from("/@home"));
    assert_eq!(btrfs.mount_point, PathBuf::from("/home"));
    assert!(btrfs.super_options.ends_with("subvolid=257,subvol=/@home"));

    let ovl = by_id(28);
    assert_eq!(
        (ovl.fstype.as_str(), ovl.source.as_str()),
        ("overlay", "overlay")
    );
    assert!(
        ovl.super_options
            .contains("upperdir=/var/lib/docker/overlay2/abc/diff")
    );

    let multi = by_id(29); // four optional fields
    assert_eq!((multi.major, multi.minor), (8, 17));
    assert_eq!(multi.mount_options, "rw,nosuid");
    assert_eq!(
        (multi.fstype.as_str(), multi.source.as_str()),
        ("ext4", "/dev/sdb1")
    );
    assert_eq!(multi.super_options, "rw");

    let nvme = by_id(30); // zero optional fields, major > 255
    assert_eq!((nvme.major, nvme.minor), (259, 3));
    assert_eq!(nvme.fstype, "xfs");

    assert_eq!(by_id(31).mount_point, PathBuf::from("/mnt/-"));
    assert_eq!(by_id(31).fstype, "tmpfs");

    let esc = by_id(32);
    assert_eq!(esc.root, path(b"/caf\xe9"));
    assert_eq!(esc.mount_point, path(b"/mnt/odd\\name\xff"));
    assert_eq!(esc.fstype, "fuse.sshfs");
    assert_eq!(esc.source, "user@host:/dir x");

    assert_eq!(
        skipped
            .iter()
            .map(|s| (s.line_no, s.reason.as_str()))
            .collect::<Vec<_>>(),
        vec![
            (11, "bad mount id \"x\""),
            (12, "bad major:minor \"0x39\""),
            (13, "no \" - \" separator after the mount options"),
            (14, "missing fstype, source or super options after \" - \""),
            (15, "too few fields (4, want at least 10)"),
        ]
    );
    assert_eq!(skipped[4].text, "37 1 0:59 /");
}

// ------------------------------------------------------------------------------------------
// Robustness: no input makes a parser panic.

/// xorshift64*: small, deterministic, no crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn all_fixture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            all_fixture_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Runs every parser on `bytes` (as lossy text, and as bytes where a parser takes bytes).
fn feed(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let _ = parse_lock_line(&text);
    check_invariants(&parse_proc_locks(&text));
    let info = parse_fdinfo(&text);
    assert!(info.skipped.iter().all(|s| s.line_no >= 1));
    let _ = parse_fdinfo(&format!("lock:\t{text}"));
    let _ = parse_mountinfo(&text);
    let (_, skipped) = parse_mountinfo_bytes(bytes);
    assert!(skipped.iter().all(|s| s.line_no >= 1));
}

#[test]
fn no_panic_on_prefixes_of_fixture_lines() {
    let mut files = Vec::new();
    all_fixture_files(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures")),
        &mut files,
    );
    assert!(files.len() >= 20, "{files:?}");
    for f in &files {
        let data = std::fs::read(f).unwrap();
        for line in data.split(|&b| b == b'\n') {
            for end in 0..=line.len() {
                feed(&line[..end]);
            }
        }
        // Whole-file prefixes of the fixtures proper (the capture scripts are long).
        if f.extension().is_some_and(|e| e == "txt") {
            for end in 0..=data.len() {
                let text = String::from_utf8_lossy(&data[..end]);
                check_invariants(&parse_proc_locks(&text));
                let _ = parse_fdinfo(&text);
                let _ = parse_mountinfo_bytes(&data[..end]);
            }
        }
    }
}

#[test]
fn no_panic_on_random_and_mutated_input() {
    const SOUP: &[&[u8]] = &[
        b"1:",
        b"42:",
        b":",
        b" ",
        b"  ",
        b"\t",
        b"\n",
        b"\r\n",
        b"->",
        b" -> ",
        b"-",
        b"FLOCK",
        b"POSIX",
        b"OFDLCK",
        b"ACCESS",
        b"LEASE",
        b"DELEG",
        b"UNKNOWN",
        b"ADVISORY",
        b"MANDATORY",
        b"*NOINODE*",
        b"MSNFS",
        b"ACTIVE",
        b"BREAKING",
        b"BREAKER",
        b"READ",
        b"WRITE",
        b"UNLCK",
        b"RW",
        b"NONE",
        b"EOF",
        b"<none>:0",
        b"fe:00:",
        b"103:1a3:",
        b"0",
        b"9",
        b"-1",
        b"18446744073709551616",
        b"ff",
        b"lock:\t",
        b"pos:\t",
        b"flags:\t0",
        b"ino:",
        b"mnt_id:",
        b" - ",
        b"\\040",
        b"\\",
        b"\\3",
        b"shared:1",
        b"0:39",
        b"/",
        "é".as_bytes(),
        "🔒".as_bytes(),
        b"\xff",
        b"\x00",
        b"\xc3",
    ];
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..20_000 {
        let mut s = Vec::new();
        for _ in 0..rng.below(24) {
            if rng.below(4) == 0 {
                s.push(rng.next() as u8);
            } else {
                s.extend_from_slice(SOUP[rng.below(SOUP.len())]);
            }
        }
        feed(&s);
    }

    // Mutations of real lines: replace, insert or delete bytes.
    let mut files = Vec::new();
    all_fixture_files(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures")),
        &mut files,
    );
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "txt"))
    {
        let data = std::fs::read(f).unwrap();
        for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            for _ in 0..40 {
                let mut m = line.to_vec();
                for _ in 0..=rng.below(3) {
                    let at = rng.below(m.len() + 1);
                    match rng.below(3) {
                        0 if at < m.len() => m[at] = rng.next() as u8,
                        1 => m.insert(at, SOUP[rng.below(SOUP.len())][0]),
                        _ if at < m.len() => {
                            m.remove(at);
                        }
                        _ => {}
                    }
                }
                feed(&m);
            }
        }
    }
}
