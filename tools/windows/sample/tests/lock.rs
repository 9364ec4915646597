//! Cross-process LockFileEx / share-mode conflicts. Run with
//! `cargo test --target x86_64-pc-windows-gnu` (runner = Wine) or on real Windows.
#![cfg(windows)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sample::*;

fn temp_file(tag: &str) -> PathBuf {
    // std::env::temp_dir() under Wine 8: C:\users\<user>\Temp (inside the prefix).
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let p = std::env::temp_dir().join(format!("sample-{tag}-{}-{nanos}", std::process::id()));
    std::fs::write(&p, b"0123456789").unwrap();
    p
}

/// How to start the child. `env!("CARGO_BIN_EXE_sample")` is a *Linux* path
/// (/work/.../sample.exe); Windows resolves "/x" against the current drive, which
/// under Wine is Z: (= /) because cargo starts the test with cwd in the package dir.
fn sample_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sample"))
}

/// The test binary itself, running only `child_entry` with SAMPLE_CHILD set.
fn self_exe() -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "child_entry", "--nocapture", "--test-threads=1"]);
    c
}

/// Child-side entry point when this test binary is re-spawned by `self_exe`.
#[test]
fn child_entry() {
    if let Ok(spec) = std::env::var("SAMPLE_CHILD") {
        let (mode, path) = spec.split_once('|').unwrap();
        std::process::exit(child_main(mode, Path::new(path)));
    }
}

struct Holder {
    child: Child,
}

impl Holder {
    /// Spawn, and wait (max 60 s) for the child's status line; returns it.
    fn start(mut cmd: Command, via_env: bool, mode: &str, path: &Path) -> (Holder, String) {
        if via_env {
            cmd.env("SAMPLE_CHILD", format!("{mode}|{}", path.display()));
        } else {
            cmd.arg(mode).arg(path);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The self-spawned test harness prints "test child_entry ... " with
                // no newline, so the marker ends up at the end of that line.
                let tail = line.rsplit(" ... ").next().unwrap_or("").to_string();
                if tail == "LOCKED" || tail == "OPEN" || tail.starts_with("FAIL ") {
                    let _ = tx.send(tail);
                    break;
                }
            }
        });
        let status = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("child did not report within 60 s");
        (Holder { child }, status)
    }

    /// Close the child's stdin, wait for it, assert it exited 0.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let st = self.child.wait().unwrap();
        assert!(st.success(), "child exit status {st:?}");
    }
}

fn code(r: std::io::Result<impl Sized>) -> Option<i32> {
    r.err().map(|e| e.raw_os_error().unwrap_or(-1))
}

fn lock_conflict(cmd: Command, via_env: bool) {
    let path = temp_file("lock");
    let (holder, status) = Holder::start(cmd, via_env, "lock", &path);
    assert_eq!(status, "LOCKED");

    // The child shares everything, so opening succeeds ...
    let f = open(&path, true, SHARE_ALL).expect("open while child holds the lock");
    // ... but the same byte is locked by another process: ERROR_LOCK_VIOLATION.
    assert_eq!(code(try_lock(&f, 0, 1, true)), Some(ERROR_LOCK_VIOLATION));
    assert_eq!(code(try_lock(&f, 0, 1, false)), Some(ERROR_LOCK_VIOLATION));
    // A non-overlapping byte is free.
    try_lock(&f, 1, 1, true).expect("lock byte 1");
    unlock(&f, 1, 1).expect("unlock byte 1");
    // On Windows byte-range locks are mandatory: I/O on the locked byte fails with 33.
    // Wine 8 does not enforce that: ReadFile/WriteFile succeed (seen here).
    let mut buf = [0u8; 1];
    let (r, w) = (code(read_at(&f, 0, &mut buf)), code(write_at(&f, 0, b"X")));
    if wine_version().is_some() {
        assert!(
            r.is_none() && w.is_none(),
            "Wine started enforcing locks on I/O: {r:?} {w:?}"
        );
    } else {
        assert_eq!(
            (r, w),
            (Some(ERROR_LOCK_VIOLATION), Some(ERROR_LOCK_VIOLATION))
        );
    }
    assert_eq!(read_at(&f, 1, &mut buf).unwrap(), 1);

    holder.finish();
    // The lock dies with the process.
    try_lock(&f, 0, 1, true).expect("lock after child exit");
    drop(f);
    let _ = std::fs::remove_file(&path);
}

fn sharing_conflict(cmd: impl Fn() -> Command, via_env: bool) {
    let path = temp_file("share");
    let (holder, status) = Holder::start(cmd(), via_env, "hold", &path);
    assert_eq!(status, "OPEN");
    // Child opened with share mode 0: any open fails with ERROR_SHARING_VIOLATION.
    assert_eq!(
        code(open(&path, false, SHARE_ALL)),
        Some(ERROR_SHARING_VIOLATION)
    );
    assert_eq!(
        code(open(&path, true, SHARE_ALL)),
        Some(ERROR_SHARING_VIOLATION)
    );
    holder.finish();
    open(&path, true, SHARE_NONE).expect("open after child exit");

    // Child: read access, FILE_SHARE_READ. Reading with full sharing is fine,
    // asking for write access is not.
    let (holder, status) = Holder::start(cmd(), via_env, "hold-read", &path);
    assert_eq!(status, "OPEN");
    open(&path, false, SHARE_ALL).expect("read open next to a FILE_SHARE_READ holder");
    assert_eq!(
        code(open(&path, true, SHARE_ALL)),
        Some(ERROR_SHARING_VIOLATION)
    );
    // We share only READ but the holder has... read access only, so this works.
    open(&path, false, SHARE_READ).expect("read open, share read");
    holder.finish();
    let _ = std::fs::remove_file(&path);
}

#[test]
fn lock_conflict_via_sample_bin() {
    lock_conflict(sample_bin(), false);
}

#[test]
fn lock_conflict_via_self_exe() {
    lock_conflict(self_exe(), true);
}

#[test]
fn sharing_conflict_via_sample_bin() {
    sharing_conflict(sample_bin, false);
}

#[test]
fn sharing_conflict_via_self_exe() {
    sharing_conflict(self_exe, true);
}

#[test]
fn forced_failure_for_exit_code_check() {
    // SAMPLE_FORCE_FAIL=1 shows how a failing test looks through wine (exit 101).
    assert!(
        std::env::var_os("SAMPLE_FORCE_FAIL").is_none(),
        "forced failure"
    );
}
