//! Windows lock primitives across real processes: `lock::acquire` with
//! `LockFileEx`, `lock::pidfile` and `lock::probe` on Windows. Runs under Wine
//! (`cargo test --target x86_64-pc-windows-gnu --test windows_lock`) or on
//! Windows. The lock holder is this test executable re-spawned with
//! `LOCKSCAN_WL_CHILD=<role>|<path>`, running only `child_entry`.
#![cfg(windows)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lockscan::lock::pidfile::{self, ClaimError, PidFileRead};
use lockscan::lock::probe::{self, ByteRangeProbe};
use lockscan::lock::{LockError, LockGuard, LockOptions, Mechanism, Mode, Wait, acquire};
use lockscan::sys::types::FsLocality;

const CHILD_ENV: &str = "LOCKSCAN_WL_CHILD";
const ERROR_SHARING_VIOLATION: i32 = 32;

fn temp_path(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    std::env::temp_dir().join(format!("lockscan-wl-{tag}-{}-{nanos}", std::process::id()))
}

/// A fresh file with some content.
fn temp_file(tag: &str) -> PathBuf {
    let p = temp_path(tag);
    std::fs::write(&p, b"0123456789").unwrap();
    p
}

fn try_excl() -> LockOptions {
    LockOptions::new(Mechanism::LockFileEx, Mode::Exclusive)
}

fn try_shared() -> LockOptions {
    LockOptions::new(Mechanism::LockFileEx, Mode::Shared)
}

fn say(msg: &str) {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{msg}").unwrap();
    out.flush().unwrap();
}

fn wait_for_stdin_eof() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

fn hold(opts: &LockOptions, path: &Path) -> i32 {
    match acquire(path, opts) {
        Ok(guard) => {
            say("LOCKED");
            wait_for_stdin_eof();
            drop(guard);
            0
        }
        Err(e) => {
            say(&format!("FAIL {e}"));
            1
        }
    }
}

fn child_main(role: &str, path: &Path) -> i32 {
    match role {
        "excl" => hold(&try_excl(), path),
        "shared" => hold(&try_shared(), path),
        // Take the lock, report, hold it ~300 ms, exit (which releases).
        "excl-300" => match acquire(path, &try_excl()) {
            Ok(guard) => {
                say("LOCKED");
                std::thread::sleep(Duration::from_millis(300));
                drop(guard);
                0
            }
            Err(e) => {
                say(&format!("FAIL {e}"));
                1
            }
        },
        "claim" => match pidfile::claim(path) {
            Ok(guard) => {
                say("LOCKED");
                wait_for_stdin_eof();
                drop(guard);
                0
            }
            Err(e) => {
                say(&format!("FAIL {e}"));
                1
            }
        },
        // Open with share mode 0: every other open fails with a sharing violation.
        "noshare" => match std::fs::OpenOptions::new()
            .read(true)
            .share_mode(0)
            .open(path)
        {
            Ok(f) => {
                say("OPEN");
                wait_for_stdin_eof();
                drop(f);
                0
            }
            Err(e) => {
                say(&format!("FAIL {e}"));
                1
            }
        },
        other => {
            say(&format!("FAIL unknown role {other}"));
            2
        }
    }
}

/// Child-side entry point when this test binary is re-spawned by [`Holder`];
/// a no-op in the normal test run.
#[test]
fn child_entry() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        let (role, path) = spec.split_once('|').unwrap();
        std::process::exit(child_main(role, Path::new(path)));
    }
}

/// A child process playing `role` on `path`.
struct Holder {
    child: Child,
}

impl Holder {
    /// Spawn and wait (max 60 s) for the child's status line; returns it.
    fn start(role: &str, path: &Path) -> (Holder, String) {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, format!("{role}|{}", path.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // The harness prints "test child_entry ... " without a newline
                // before the body runs: the marker ends that line.
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

    /// Like `start`, asserting the child got what it wanted.
    fn started(role: &str, path: &Path, expect: &str) -> Holder {
        let (h, status) = Holder::start(role, path);
        assert_eq!(status, expect, "child {role}");
        h
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Close the child's stdin (it releases and exits), wait, assert exit 0.
    fn finish(mut self) {
        drop(self.child.stdin.take());
        let st = self.child.wait().unwrap();
        assert!(st.success(), "child exit status {st:?}");
    }
}

fn assert_would_block(r: Result<LockGuard, LockError>) {
    match r {
        Err(LockError::WouldBlock { holder_pid: None }) => {}
        other => panic!("expected WouldBlock {{ holder_pid: None }}, got {other:?}"),
    }
}

#[test]
fn exclusive_held_by_child_makes_try_would_block() {
    let path = temp_file("excl");
    let holder = Holder::started("excl", &path, "LOCKED");
    assert_would_block(acquire(&path, &try_excl()));
    assert_would_block(acquire(&path, &try_shared()));
    holder.finish();
    // The lock ended with the child.
    let g = acquire(&path, &try_excl()).expect("lock after the child exited");
    assert_eq!(g.mechanism(), Mechanism::LockFileEx);
    assert_eq!(g.mode(), Mode::Exclusive);
    drop(g);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn shared_locks_coexist_and_exclude_exclusive() {
    let path = temp_file("shared");
    let holder = Holder::started("shared", &path, "LOCKED");
    let mine = acquire(&path, &try_shared()).expect("shared + shared coexist");
    assert_would_block(acquire(&path, &try_excl()));
    drop(mine);
    assert_would_block(acquire(&path, &try_excl()));
    holder.finish();
    drop(acquire(&path, &try_excl()).expect("free after child exit"));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn shared_held_by_child_excludes_exclusive_child() {
    let path = temp_file("shared-excl");
    let holder = Holder::started("shared", &path, "LOCKED");
    let (other, status) = Holder::start("excl", &path);
    assert!(status.starts_with("FAIL "), "{status}");
    let _ = other.child.wait_with_output();
    holder.finish();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn block_waits_until_child_releases() {
    let path = temp_file("block");
    let holder = Holder::started("excl-300", &path, "LOCKED");
    let t0 = Instant::now();
    let g = acquire(&path, &try_excl().wait(Wait::Block)).expect("blocking acquire");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(100),
        "Block returned after {waited:?}, before the child released"
    );
    drop(g);
    holder.finish();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn timeout_gives_timed_out_while_child_holds() {
    let path = temp_file("timeout");
    let holder = Holder::started("excl", &path, "LOCKED");
    let t0 = Instant::now();
    let r = acquire(
        &path,
        &try_shared().wait(Wait::Timeout(Duration::from_millis(200))),
    );
    let waited = t0.elapsed();
    assert!(matches!(r, Err(LockError::TimedOut)), "{r:?}");
    assert!(waited >= Duration::from_millis(200), "{waited:?}");
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    holder.finish();
    // And a timeout is granted once the holder is gone.
    drop(
        acquire(
            &path,
            &try_excl().wait(Wait::Timeout(Duration::from_secs(5))),
        )
        .expect("timeout acquire of a free lock"),
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn guard_handle_is_not_inheritable() {
    use windows_sys::Win32::Foundation::{GetHandleInformation, HANDLE, HANDLE_FLAG_INHERIT};
    let path = temp_file("inherit");
    for opts in [try_excl(), try_shared()] {
        let g = acquire(&path, &opts).unwrap();
        let mut flags = 0u32;
        // SAFETY: the handle is owned by the guard, alive for the call.
        let ok = unsafe { GetHandleInformation(g.file().as_raw_handle() as HANDLE, &mut flags) };
        assert_ne!(ok, 0, "{}", std::io::Error::last_os_error());
        assert_eq!(flags & HANDLE_FLAG_INHERIT, 0, "lock handle is inheritable");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn missing_file_without_create_is_io_error_and_creates_nothing() {
    let path = temp_path("missing");
    match acquire(&path, &try_excl()) {
        Err(LockError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}"),
        other => panic!("expected Io(NotFound), got {other:?}"),
    }
    assert!(!path.exists(), "acquire without create made a file");
    // With create it is made (empty) and locked.
    let g = acquire(&path, &try_shared().create(true)).expect("create + shared");
    assert!(path.exists());
    drop(g);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn dropping_guard_leaves_file_and_content() {
    let path = temp_file("drop");
    let g = acquire(&path, &try_excl().create(true)).unwrap();
    drop(g);
    assert_eq!(std::fs::read(&path).unwrap(), b"0123456789");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn held_lock_file_cannot_be_deleted() {
    let path = temp_file("nodelete");
    let g = acquire(&path, &try_excl()).unwrap();
    let e = std::fs::remove_file(&path).expect_err("deleted a held lock file");
    assert_eq!(e.raw_os_error(), Some(ERROR_SHARING_VIOLATION), "{e}");
    drop(g);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn unix_mechanisms_are_unsupported() {
    let path = temp_file("mech");
    for m in [Mechanism::Flock, Mechanism::Posix, Mechanism::Ofd] {
        match acquire(&path, &LockOptions::new(m, Mode::Exclusive)) {
            Err(LockError::Io(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
                assert!(e.to_string().contains("LockFileEx"), "{e}");
            }
            other => panic!("{m}: expected Io(Unsupported), got {other:?}"),
        }
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn directories_are_refused() {
    let dir = temp_path("dir");
    std::fs::create_dir(&dir).unwrap();
    match acquire(&dir, &try_shared()) {
        Err(LockError::Io(e)) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
            assert!(e.to_string().contains("directory"), "{e}");
        }
        other => panic!("expected Io(InvalidInput), got {other:?}"),
    }
    let e = probe::open_for_probe(&dir).expect_err("probe opened a directory");
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("directory"), "{e}");
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn local_temp_dir_is_local_and_unc_is_remote() {
    let dir = std::env::temp_dir();
    assert_eq!(
        lockscan::lock::fs::locality_of(&dir).unwrap(),
        FsLocality::Local
    );
    let name = lockscan::lock::fs::fs_name_of(&dir).unwrap();
    assert!(!name.is_empty());
    assert_eq!(
        lockscan::lock::fs::locality_of(Path::new(r"\\server\share\app.lock")).unwrap(),
        FsLocality::Remote
    );
    // refuse_remote accepts a local file, existing or about to be created.
    let path = temp_path("remote");
    drop(acquire(&path, &try_excl().create(true).refuse_remote(true)).unwrap());
    drop(acquire(&path, &try_excl().refuse_remote(true)).unwrap());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn pidfile_claim_writes_pid_and_second_claim_gets_held_by() {
    let path = temp_path("pid");
    assert_eq!(pidfile::read(&path).unwrap(), PidFileRead::NotExist);
    let holder = Holder::started("claim", &path, "LOCKED");
    let child_pid = holder.pid();
    // The pid is readable while claimed (the claim locks beyond the content).
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        format!("{child_pid}\n")
    );
    match pidfile::claim(&path) {
        Err(ClaimError::HeldBy { pid }) => assert_eq!(pid, Some(child_pid)),
        other => panic!("expected HeldBy, got {other:?}"),
    }
    assert_eq!(
        pidfile::read(&path).unwrap(),
        PidFileRead::HeldBy {
            pid_in_file: Some(child_pid)
        }
    );
    // Whole-file lockers and the probe see the claim too.
    assert_would_block(acquire(&path, &try_shared()));
    assert_eq!(
        probe::probe_lockfileex(&path).unwrap(),
        ByteRangeProbe::HeldExclusive
    );
    holder.finish();
    assert_eq!(
        pidfile::read(&path).unwrap(),
        PidFileRead::NotHeld {
            pid_in_file: Some(child_pid)
        }
    );
    // Our own claim replaces the content; our own read sees it held.
    let guard = pidfile::claim(&path).expect("claim after the child exited");
    let me = std::process::id() as i32;
    assert_eq!(guard.pid(), me);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{me}\n"));
    assert_eq!(
        pidfile::read(&path).unwrap(),
        PidFileRead::HeldBy {
            pid_in_file: Some(me)
        }
    );
    drop(guard);
    assert!(path.exists(), "dropping the claim removed the pidfile");
    assert_eq!(
        pidfile::read(&path).unwrap(),
        PidFileRead::NotHeld {
            pid_in_file: Some(me)
        }
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn probe_reports_exclusive_shared_and_free() {
    let path = temp_file("probe");
    assert_eq!(
        probe::probe_lockfileex(&path).unwrap(),
        ByteRangeProbe::Free
    );
    let holder = Holder::started("excl", &path, "LOCKED");
    assert_eq!(
        probe::probe_lockfileex(&path).unwrap(),
        ByteRangeProbe::HeldExclusive
    );
    holder.finish();
    let holder = Holder::started("shared", &path, "LOCKED");
    assert_eq!(
        probe::probe_lockfileex(&path).unwrap(),
        ByteRangeProbe::HeldShared
    );
    // The probe's shared lock is gone: the holder's lock is the only one, so
    // a shared lock here still works and an exclusive one still conflicts.
    drop(acquire(&path, &try_shared()).unwrap());
    assert_would_block(acquire(&path, &try_excl()));
    holder.finish();
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn probe_never_leaves_a_lock_behind() {
    let path = temp_file("probe-left");
    for _ in 0..3 {
        assert_eq!(
            probe::probe_lockfileex(&path).unwrap(),
            ByteRangeProbe::Free
        );
    }
    // A child can take it exclusively right after our probes ...
    let holder = Holder::started("excl", &path, "LOCKED");
    assert_eq!(
        probe::probe_lockfileex(&path).unwrap(),
        ByteRangeProbe::HeldExclusive
    );
    holder.finish();
    // ... and so can we after probing a held lock.
    drop(acquire(&path, &try_excl()).expect("lock after probes"));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn probe_reports_open_without_sharing() {
    let path = temp_file("noshare");
    let holder = Holder::started("noshare", &path, "OPEN");
    assert_eq!(
        probe::probe_lockfileex(&path).unwrap(),
        ByteRangeProbe::OpenWithoutSharing
    );
    let e = probe::open_for_probe(&path).expect_err("opened a file held without sharing");
    assert_eq!(e.raw_os_error(), Some(ERROR_SHARING_VIOLATION), "{e}");
    holder.finish();
    assert_eq!(
        probe::probe_lockfileex(&path).unwrap(),
        ByteRangeProbe::Free
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn open_for_probe_reads_a_locked_pidfile_and_missing_is_not_found() {
    let path = temp_path("probe-read");
    let guard = pidfile::claim(&path).unwrap();
    let mut f = probe::open_for_probe(&path).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, format!("{}\n", guard.pid()));
    drop(f);
    drop(guard);
    std::fs::remove_file(&path).unwrap();
    let e = probe::open_for_probe(&path).expect_err("opened a missing file");
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
}
