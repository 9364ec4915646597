//! Integration tests for `lockscan::lock`, against real processes.
//!
//! The "other process" is this test binary re-executed with
//! `--exact child_role_entry` and the role in `LOCKSCAN_LOCK_PRIMITIVES_ROLE`, so the
//! holder uses the crate's own API. A child signals readiness with a `READY`
//! line on stdout and holds its lock until its stdin reaches EOF; nothing
//! here synchronises with fixed sleeps.
//!
//! Each test works in its own directory. Tests run in parallel threads of
//! one process, which matters for POSIX locks (per process): no two tests
//! touch the same file.

#![cfg(target_os = "linux")]

mod common;

use std::ffi::CString;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lockscan::lock::pidfile::{self, ClaimError, PidFileRead, PidParseError};
use lockscan::lock::probe::{self, Conflict, FlockProbe};
use lockscan::lock::{LockError, LockGuard, LockOptions, Mechanism, Mode, Wait, acquire};
use lockscan::sys::types::FsLocality;

use common::{need, require};

const ROLE_ENV: &str = "LOCKSCAN_LOCK_PRIMITIVES_ROLE";
const PATH_ENV: &str = "LOCKSCAN_LOCK_PRIMITIVES_PATH";
const MECHANISMS: [Mechanism; 3] = [Mechanism::Flock, Mechanism::Posix, Mechanism::Ofd];
/// Upper bound for anything that should happen "promptly".
const PATIENCE: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Child side
// ---------------------------------------------------------------------------

/// Entry point of the helper processes. A no-op when run as a normal test.
#[test]
fn child_role_entry() {
    let Ok(role) = std::env::var(ROLE_ENV) else {
        return;
    };
    let path = PathBuf::from(std::env::var_os(PATH_ENV).expect("LOCKSCAN_LOCK_PRIMITIVES_PATH"));
    let words: Vec<&str> = role.split(' ').collect();
    match words[..] {
        // Take a whole-file lock through the crate API and hold it.
        ["hold", mechanism, mode] => {
            let opts = LockOptions::new(parse_mechanism(mechanism), parse_mode(mode));
            let guard = acquire(&path, &opts).expect("child: acquire");
            ready_then_wait_for_eof();
            drop(guard);
        }
        // A classic POSIX write lock on a byte range, set with raw fcntl.
        ["hold-posix-range", start, len] => {
            let file = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .expect("child: open");
            // SAFETY: zeroed `struct flock` is valid; fields set below.
            let mut fl: libc::flock = unsafe { std::mem::zeroed() };
            fl.l_type = libc::F_WRLCK as libc::c_short;
            fl.l_whence = libc::SEEK_SET as libc::c_short;
            fl.l_start = start.parse().unwrap();
            fl.l_len = len.parse().unwrap();
            // SAFETY: valid fd and a valid, exclusively borrowed flock struct.
            let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &mut fl) };
            assert_eq!(rc, 0, "child: F_SETLK: {}", std::io::Error::last_os_error());
            ready_then_wait_for_eof();
            drop(file);
        }
        ["claim"] => {
            let guard = pidfile::claim(&path).expect("child: claim");
            ready_then_wait_for_eof();
            drop(guard);
        }
        ["try-claim"] => {
            let line = match pidfile::claim(&path) {
                Ok(_) => "RESULT claimed".to_string(),
                Err(ClaimError::HeldBy { pid }) => format!("RESULT held-by {pid:?}"),
                Err(e) => format!("RESULT error {e}"),
            };
            println!("{line}");
            std::io::stdout().flush().unwrap();
        }
        _ => panic!("unknown child role {role:?}"),
    }
}

fn ready_then_wait_for_eof() {
    println!("READY");
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    std::io::stdin().read_to_end(&mut sink).unwrap();
}

fn parse_mechanism(s: &str) -> Mechanism {
    match s {
        "flock" => Mechanism::Flock,
        "posix" => Mechanism::Posix,
        "ofd" => Mechanism::Ofd,
        _ => panic!("mechanism {s}"),
    }
}

fn parse_mode(s: &str) -> Mode {
    match s {
        "shared" => Mode::Shared,
        "exclusive" => Mode::Exclusive,
        _ => panic!("mode {s}"),
    }
}

// ---------------------------------------------------------------------------
// Parent side helpers
// ---------------------------------------------------------------------------

/// A helper process running one role.
struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pid: i32,
}

impl Helper {
    fn spawn(role: &str, path: &Path) -> Helper {
        let exe = std::env::current_exe().expect("current_exe");
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "child_role_entry",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(ROLE_ENV, role)
            .env(PATH_ENV, path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn helper");
        let pid = i32::try_from(child.id()).unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Helper {
            child,
            stdin,
            stdout,
            pid,
        }
    }

    /// Spawn a holder role and wait until it reports that it holds the lock.
    fn hold(role: &str, path: &Path) -> Helper {
        let mut helper = Helper::spawn(role, path);
        helper.line_starting_with("READY");
        helper
    }

    /// Next stdout line starting with `prefix` (libtest prints its own lines
    /// around ours).
    fn line_starting_with(&mut self, prefix: &str) -> String {
        loop {
            let mut line = String::new();
            let n = self
                .stdout
                .read_line(&mut line)
                .expect("read helper stdout");
            if n == 0 {
                let status = self.child.wait();
                panic!("helper exited before printing {prefix:?}: {status:?}");
            }
            if line.starts_with(prefix) {
                return line.trim_end().to_string();
            }
        }
    }

    /// Close the helper's stdin (it then releases and exits) and reap it.
    /// When this returns, the helper's fds are closed and its locks gone.
    fn release(mut self) {
        drop(self.stdin.take());
        let status = self.child.wait().expect("wait helper");
        assert!(status.success(), "helper failed: {status:?}");
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            // A test failed while the helper was holding: don't leak it.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn mech_name(m: Mechanism) -> &'static str {
    match m {
        Mechanism::Flock => "flock",
        Mechanism::Posix => "posix",
        Mechanism::Ofd => "ofd",
        Mechanism::LockFileEx => unreachable!("not a unix mechanism"),
    }
}

fn hold_role(m: Mechanism, mode: Mode) -> String {
    let mode = match mode {
        Mode::Shared => "shared",
        Mode::Exclusive => "exclusive",
    };
    format!("hold {} {mode}", mech_name(m))
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "lockscan-lockprim-{}-{name}-{n}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create test dir");
        TempDir(dir)
    }

    /// A path in the directory, created with `content`.
    fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, content).expect("write test file");
        path
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn try_opts(m: Mechanism, mode: Mode) -> LockOptions {
    LockOptions::new(m, mode).wait(Wait::Try)
}

fn ino(path: &Path) -> u64 {
    fs::metadata(path).expect("stat").ino()
}

fn guard_ino(guard: &LockGuard) -> u64 {
    guard.file().metadata().expect("fstat").ino()
}

fn is_cloexec(fd: &impl AsRawFd) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags of a valid fd.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    assert!(flags >= 0, "F_GETFD: {}", std::io::Error::last_os_error());
    flags & libc::FD_CLOEXEC != 0
}

fn status_flags(fd: &impl AsRawFd) -> libc::c_int {
    // SAFETY: F_GETFL only reads the file status flags of a valid fd.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "F_GETFL: {}", std::io::Error::last_os_error());
    flags
}

/// Poll `cond` every 2 ms until it holds, failing after [`PATIENCE`].
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Does `/proc/locks` show a blocked waiter (`->` line) on inode `ino`?
/// Line shape: `1: -> FLOCK  ADVISORY  WRITE 7527 fe:00:10011260 0 EOF`.
fn has_waiter_on(ino: u64) -> bool {
    let want = ino.to_string();
    let text = fs::read_to_string("/proc/locks").expect("read /proc/locks");
    text.lines().any(|line| {
        let mut tokens = line.split_whitespace().skip(1);
        tokens.next() == Some("->")
            && tokens.any(|t| {
                let parts: Vec<&str> = t.split(':').collect();
                parts.len() == 3 && parts[2] == want
            })
    })
}

/// Run `acquire` on another thread so the test can watch it block.
fn acquire_in_thread(
    path: &Path,
    opts: LockOptions,
) -> mpsc::Receiver<Result<LockGuard, LockError>> {
    let (tx, rx) = mpsc::channel();
    let path = path.to_path_buf();
    thread::spawn(move || {
        let _ = tx.send(acquire(&path, &opts));
    });
    rx
}

/// Replace `path` atomically by a new file (new inode) via rename.
fn replace_by_rename(path: &Path, content: &[u8]) -> u64 {
    let tmp = path.with_extension("replacement");
    fs::write(&tmp, content).unwrap();
    fs::rename(&tmp, path).unwrap();
    ino(path)
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

// ---------------------------------------------------------------------------
// Acquisition
// ---------------------------------------------------------------------------

#[test]
fn try_lock_sees_other_process_holder_for_each_mechanism_and_succeeds_after_it_exits() {
    let dir = TempDir::new("contention");
    for m in MECHANISMS {
        let path = dir.file(&format!("{}.lock", mech_name(m)), b"");
        let holder = Helper::hold(&hold_role(m, Mode::Exclusive), &path);

        let expected_pid = match m {
            // F_GETLK names the POSIX owner.
            Mechanism::Posix => Some(holder.pid),
            // OFD owners are reported as -1, flock has no query.
            Mechanism::Ofd | Mechanism::Flock | Mechanism::LockFileEx => None,
        };
        for mode in [Mode::Exclusive, Mode::Shared] {
            match acquire(&path, &try_opts(m, mode)) {
                Err(LockError::WouldBlock { holder_pid }) => {
                    assert_eq!(holder_pid, expected_pid, "{m:?} {mode:?}")
                }
                other => panic!("{m:?} {mode:?}: expected WouldBlock, got {other:?}"),
            }
        }

        holder.release();
        let guard = acquire(&path, &try_opts(m, Mode::Exclusive))
            .unwrap_or_else(|e| panic!("{m:?} after holder exit: {e}"));
        assert_eq!(guard.mechanism(), m);
        assert_eq!(guard.mode(), Mode::Exclusive);
        assert_eq!(guard.path(), path);
    }
}

#[test]
fn ofd_request_names_the_pid_of_a_conflicting_posix_holder() {
    // OFD and POSIX locks conflict with each other; F_OFD_GETLK reports the
    // POSIX owner's real pid.
    let dir = TempDir::new("ofd-vs-posix");
    let path = dir.file("x.lock", b"");
    let holder = Helper::hold("hold posix exclusive", &path);
    match acquire(&path, &try_opts(Mechanism::Ofd, Mode::Shared)) {
        Err(LockError::WouldBlock { holder_pid }) => assert_eq!(holder_pid, Some(holder.pid)),
        other => panic!("expected WouldBlock, got {other:?}"),
    }
    holder.release();
}

#[test]
fn shared_locks_coexist_and_conflict_with_exclusive_across_processes() {
    let dir = TempDir::new("shared");
    for m in MECHANISMS {
        let path = dir.file(&format!("{}.lock", mech_name(m)), b"");
        let holder = Helper::hold(&hold_role(m, Mode::Shared), &path);

        let shared = acquire(&path, &try_opts(m, Mode::Shared))
            .unwrap_or_else(|e| panic!("{m:?}: shared next to shared: {e}"));
        assert_eq!(shared.mode(), Mode::Shared);
        // Drop before the next attempt: for POSIX, the failing attempt's
        // close would release this process's shared lock anyway.
        drop(shared);

        // Only F_GETLK names a POSIX owner; OFD owners are -1 and flock has no query.
        let expected_pid = (m == Mechanism::Posix).then_some(holder.pid);
        match acquire(&path, &try_opts(m, Mode::Exclusive)) {
            Err(LockError::WouldBlock { holder_pid }) => {
                assert_eq!(holder_pid, expected_pid, "{m:?}")
            }
            other => panic!("{m:?}: exclusive next to shared: expected WouldBlock, got {other:?}"),
        }
        holder.release();
    }
}

#[test]
fn every_returned_fd_has_cloexec_so_locks_cannot_leak_into_exec_children() {
    let dir = TempDir::new("cloexec");
    for m in MECHANISMS {
        for mode in [Mode::Exclusive, Mode::Shared] {
            let path = dir.path(&format!("{}-{mode:?}.lock", mech_name(m)));
            let guard = acquire(&path, &try_opts(m, mode).create(true)).unwrap();
            assert!(is_cloexec(guard.file()), "acquire {m:?} {mode:?}");
            // The O_NONBLOCK used while opening must not stay on the fd.
            assert_eq!(status_flags(guard.file()) & libc::O_NONBLOCK, 0);
            let access = status_flags(guard.file()) & libc::O_ACCMODE;
            match mode {
                Mode::Exclusive => assert_eq!(access, libc::O_RDWR),
                Mode::Shared => assert_eq!(access, libc::O_RDONLY),
            }
        }
    }
    let pid_path = dir.path("svc.pid");
    let claimed = pidfile::claim(&pid_path).unwrap();
    assert!(is_cloexec(claimed.file()), "claim");

    let probe_path = dir.file("probe.lock", b"");
    let probe_file = probe::open_for_probe(&probe_path).unwrap();
    assert!(is_cloexec(&probe_file), "open_for_probe");
}

#[test]
fn timeout_gives_up_after_the_deadline_against_a_held_lock() {
    let dir = TempDir::new("timeout-expire");
    for m in MECHANISMS {
        let path = dir.file(&format!("{}.lock", mech_name(m)), b"");
        let holder = Helper::hold(&hold_role(m, Mode::Exclusive), &path);
        let opts = LockOptions::exclusive(m).wait(Wait::Timeout(Duration::from_millis(200)));
        let start = Instant::now();
        let result = acquire(&path, &opts);
        let elapsed = start.elapsed();
        assert!(
            matches!(result, Err(LockError::TimedOut)),
            "{m:?}: expected TimedOut, got {result:?}"
        );
        assert!(
            elapsed >= Duration::from_millis(200),
            "{m:?}: gave up early: {elapsed:?}"
        );
        assert!(
            elapsed < Duration::from_secs(2),
            "{m:?}: gave up late: {elapsed:?}"
        );
        holder.release();
    }
}

#[test]
fn timeout_succeeds_when_the_holder_releases_before_the_deadline() {
    let dir = TempDir::new("timeout-succeed");
    for m in MECHANISMS {
        let path = dir.file(&format!("{}.lock", mech_name(m)), b"");
        let holder = Helper::hold(&hold_role(m, Mode::Exclusive), &path);
        // The release delay is the scenario, not synchronisation: nothing
        // below depends on when exactly it happens.
        let start = Instant::now();
        let releaser = thread::spawn(move || {
            thread::sleep(Duration::from_millis(100));
            holder.release();
        });
        let opts = LockOptions::exclusive(m).wait(Wait::Timeout(PATIENCE));
        let guard = acquire(&path, &opts);
        let elapsed = start.elapsed();
        releaser.join().unwrap();
        assert!(guard.is_ok(), "{m:?}: {guard:?}");
        assert!(
            elapsed >= Duration::from_millis(100),
            "{m:?}: got the lock while it was held"
        );
    }
}

#[test]
fn blocking_acquire_returns_once_the_holder_exits() {
    let dir = TempDir::new("block");
    for m in MECHANISMS {
        let path = dir.file(&format!("{}.lock", mech_name(m)), b"");
        let holder = Helper::hold(&hold_role(m, Mode::Exclusive), &path);
        let rx = acquire_in_thread(&path, LockOptions::exclusive(m).wait(Wait::Block));
        let locked_ino = ino(&path);
        eventually("the waiter to block in the kernel", || {
            has_waiter_on(locked_ino)
        });
        assert!(
            rx.try_recv().is_err(),
            "{m:?}: returned while the lock was held"
        );

        holder.release();
        let guard = rx
            .recv_timeout(PATIENCE)
            .expect("blocking acquire did not return after the holder exited")
            .unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(guard_ino(&guard), locked_ino);
    }
}

#[test]
fn inode_recheck_relocks_when_the_file_is_replaced_while_waiting() {
    // certbot's race: we open the old inode and wait; meanwhile the path is
    // replaced; the old holder releases and we are granted a lock on an
    // inode nobody else can find. The re-check must notice and lock the new
    // file instead.
    let dir = TempDir::new("recheck-block");
    for m in MECHANISMS {
        let path = dir.file(&format!("{}.lock", mech_name(m)), b"old");
        let old_ino = ino(&path);
        let holder = Helper::hold(&hold_role(m, Mode::Exclusive), &path);
        let rx = acquire_in_thread(&path, LockOptions::exclusive(m).wait(Wait::Block));
        eventually("the waiter to block on the old inode", || {
            has_waiter_on(old_ino)
        });

        let new_ino = replace_by_rename(&path, b"new");
        assert_ne!(new_ino, old_ino);
        holder.release();

        let guard = rx
            .recv_timeout(PATIENCE)
            .expect("acquire did not return")
            .unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(
            guard_ino(&guard),
            new_ino,
            "{m:?}: lock on the orphaned inode"
        );
        assert_eq!(guard_ino(&guard), ino(&path));
    }
}

#[test]
fn without_inode_recheck_the_replaced_file_race_yields_an_orphaned_lock() {
    // Control for the test above: shows the race is real and that
    // `recheck_inode` is what prevents it.
    let dir = TempDir::new("recheck-off");
    let m = Mechanism::Flock;
    let path = dir.file("x.lock", b"old");
    let old_ino = ino(&path);
    let holder = Helper::hold(&hold_role(m, Mode::Exclusive), &path);
    let opts = LockOptions::exclusive(m)
        .wait(Wait::Block)
        .recheck_inode(false);
    let rx = acquire_in_thread(&path, opts);
    eventually("the waiter to block on the old inode", || {
        has_waiter_on(old_ino)
    });
    let new_ino = replace_by_rename(&path, b"new");
    holder.release();
    let guard = rx.recv_timeout(PATIENCE).unwrap().unwrap();
    assert_eq!(guard_ino(&guard), old_ino);
    assert_ne!(guard_ino(&guard), ino(&path));
    assert_eq!(ino(&path), new_ino);
}

#[test]
fn try_lock_after_the_file_was_replaced_locks_the_new_inode() {
    let dir = TempDir::new("recheck-try");
    for m in MECHANISMS {
        let path = dir.file(&format!("{}.lock", mech_name(m)), b"old");
        let holder = Helper::hold(&hold_role(m, Mode::Exclusive), &path);
        let new_ino = replace_by_rename(&path, b"new");
        // The holder still holds the old inode; the path names a free one.
        let guard =
            acquire(&path, &try_opts(m, Mode::Exclusive)).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(guard_ino(&guard), new_ino);
        assert_eq!(guard_ino(&guard), ino(&path));
        holder.release();
    }
}

#[test]
fn dropping_a_guard_never_unlinks_or_truncates_the_file() {
    let dir = TempDir::new("no-unlink");
    for m in MECHANISMS {
        let path = dir.file(&format!("{}.lock", mech_name(m)), b"keep me\n");
        let guard = acquire(&path, &try_opts(m, Mode::Exclusive)).unwrap();
        drop(guard);
        assert_eq!(fs::read(&path).unwrap(), b"keep me\n", "{m:?}");
    }
}

#[test]
fn missing_file_without_create_is_not_found_and_is_not_created() {
    let dir = TempDir::new("no-create");
    let path = dir.path("absent.lock");
    match acquire(&path, &try_opts(Mechanism::Flock, Mode::Exclusive)) {
        Err(LockError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!path.exists());
}

#[test]
fn create_uses_the_configured_permission_bits() {
    let dir = TempDir::new("create-mode");
    let path = dir.path("new.lock");
    let opts = try_opts(Mechanism::Ofd, Mode::Exclusive)
        .create(true)
        .create_mode(0o600);
    let _guard = acquire(&path, &opts).unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn acquire_refuses_a_fifo_without_blocking() {
    // A read-only open of a FIFO without a writer would hang forever.
    let dir = TempDir::new("acquire-fifo");
    let path = dir.path("fifo.lock");
    mkfifo(&path);
    let rx = acquire_in_thread(&path, try_opts(Mechanism::Flock, Mode::Shared));
    match rx
        .recv_timeout(PATIENCE)
        .expect("acquire blocked on a FIFO")
    {
        Err(LockError::Io(e)) => assert!(e.to_string().contains("FIFO"), "{e}"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn refuse_remote_accepts_local_files() {
    let dir = TempDir::new("refuse-remote");
    let locality = lockscan::lock::fs::locality_of(&dir.0).unwrap();
    require!(need(
        locality == FsLocality::Local,
        format!(
            "a temp dir on a local filesystem ({} is {locality:?})",
            dir.0.display()
        ),
        "CI's temp dir (/tmp, or $TMPDIR) is on local disk or tmpfs",
    ));
    let path = dir.path("local.lock");
    let opts = try_opts(Mechanism::Flock, Mode::Exclusive)
        .create(true)
        .refuse_remote(true);
    acquire(&path, &opts).expect("local file refused");
}

// ---------------------------------------------------------------------------
// Pidfiles
// ---------------------------------------------------------------------------

#[test]
fn pidfile_claim_excludes_other_processes_and_the_file_is_never_unlinked() {
    let dir = TempDir::new("pidfile");
    let path = dir.path("svc.pid");
    assert_eq!(pidfile::read(&path).unwrap(), PidFileRead::NotExist);

    // Another process claims it.
    let other = Helper::hold("claim", &path);
    assert_eq!(
        pidfile::read(&path).unwrap(),
        PidFileRead::HeldBy {
            pid_in_file: Some(other.pid)
        }
    );
    match pidfile::claim(&path) {
        Err(ClaimError::HeldBy { pid }) => assert_eq!(pid, Some(other.pid)),
        other => panic!("expected HeldBy, got {other:?}"),
    }
    let other_pid = other.pid;
    other.release();
    assert!(path.exists(), "pidfile was unlinked by its holder");
    assert_eq!(
        pidfile::read(&path).unwrap(),
        PidFileRead::NotHeld {
            pid_in_file: Some(other_pid)
        }
    );

    // We claim it; our pid replaces the stale one.
    let me = i32::try_from(std::process::id()).unwrap();
    let guard = pidfile::claim(&path).expect("claim after holder exit");
    assert_eq!(guard.pid(), me);
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{me}\n"));
    assert_eq!(
        pidfile::read(&path).unwrap(),
        PidFileRead::HeldBy {
            pid_in_file: Some(me)
        }
    );

    // A second claim from another process names us.
    let mut contender = Helper::spawn("try-claim", &path);
    let line = contender.line_starting_with("RESULT");
    assert_eq!(line, format!("RESULT held-by {:?}", Some(me)));
    contender.release();

    drop(guard);
    assert!(path.exists(), "pidfile was unlinked on drop");
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{me}\n"));
    // Polled: a helper being spawned by a concurrent test may briefly share
    // our (close-on-exec) fd between its fork and exec.
    eventually("the pidfile to be reported free", || {
        pidfile::read(&path).unwrap()
            == PidFileRead::NotHeld {
                pid_in_file: Some(me),
            }
    });
}

#[test]
fn pidfile_claim_replaces_longer_stale_content_completely() {
    let dir = TempDir::new("pidfile-stale");
    let path = dir.file("svc.pid", b"123456789 somehost\nsecond line\n");
    let guard = pidfile::claim(&path).unwrap();
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        format!("{}\n", std::process::id())
    );
    drop(guard);
}

#[test]
fn pidfile_read_reports_garbage_content_as_no_pid() {
    let dir = TempDir::new("pidfile-garbage");
    let path = dir.file("svc.pid", b"\x00\x00\x00\x00");
    assert_eq!(
        pidfile::read(&path).unwrap(),
        PidFileRead::NotHeld { pid_in_file: None }
    );
}

#[test]
fn parse_pid_rejects_garbage_and_accepts_padded_pids() {
    use PidParseError::*;
    let cases: &[(&[u8], Result<i32, PidParseError>)] = &[
        (b"", Err(Empty)),
        (b"abc", Err(NotANumber)),
        (b"-5", Err(Negative)),
        (b"0", Err(Zero)),
        (b"99999999999999999999", Err(TooLarge)),
        (b"\x00\x01", Err(Binary)),
        (b"+42", Err(NotANumber)),
        (b"  4242\n", Ok(4242)),
        (b"4242 buildhost", Ok(4242)),
        (b"4194303\n", Ok(4_194_303)),
        (b"4194304\n", Err(TooLarge)),
        (b"4194305\n", Err(TooLarge)),
        (b"2147483647\n", Err(TooLarge)),
    ];
    for (input, expected) in cases {
        assert_eq!(
            pidfile::parse_pid(input),
            *expected,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

// ---------------------------------------------------------------------------
// Probes
// ---------------------------------------------------------------------------

#[test]
fn getlk_reports_a_posix_range_holder_with_its_pid_through_a_read_only_fd() {
    let dir = TempDir::new("getlk-posix");
    let path = dir.file("range.lock", &[0u8; 64]);
    let holder = Helper::hold("hold-posix-range 10 20", &path);

    let file = probe::open_for_probe(&path).unwrap();
    assert_eq!(status_flags(&file) & libc::O_ACCMODE, libc::O_RDONLY);
    let expected = Conflict {
        mechanism: Mechanism::Posix,
        mode: Mode::Exclusive,
        start: 10,
        end: Some(29),
        pid: Some(holder.pid),
    };
    assert_eq!(
        probe::getlk(&file, Mode::Exclusive).unwrap(),
        Some(expected)
    );
    // A read request conflicts with a write lock too.
    assert_eq!(probe::getlk(&file, Mode::Shared).unwrap(), Some(expected));
    assert_eq!(probe::probe_path(&path).unwrap(), Some(expected));
    drop(file);

    holder.release();
    assert_eq!(probe::probe_path(&path).unwrap(), None);
}

#[test]
fn getlk_reports_an_ofd_holder_without_a_pid() {
    let dir = TempDir::new("getlk-ofd");
    let path = dir.file("ofd.lock", b"");
    let holder = Helper::hold("hold ofd shared", &path);
    let file = probe::open_for_probe(&path).unwrap();
    assert_eq!(
        probe::getlk(&file, Mode::Exclusive).unwrap(),
        Some(Conflict {
            mechanism: Mechanism::Ofd,
            mode: Mode::Shared,
            start: 0,
            end: None,
            pid: None,
        })
    );
    // Shared next to shared: no conflict.
    assert_eq!(probe::getlk(&file, Mode::Shared).unwrap(), None);
    holder.release();
}

#[test]
fn getlk_cannot_see_flock_holders() {
    let dir = TempDir::new("getlk-flock");
    let path = dir.file("flock.lock", b"");
    let holder = Helper::hold("hold flock exclusive", &path);
    assert_eq!(probe::probe_path(&path).unwrap(), None);
    holder.release();
}

#[test]
fn open_for_probe_refuses_a_fifo_without_blocking() {
    let dir = TempDir::new("probe-fifo");
    let path = dir.path("x.pid");
    mkfifo(&path);
    let (tx, rx) = mpsc::channel();
    let p = path.clone();
    thread::spawn(move || {
        let _ = tx.send(probe::open_for_probe(&p));
    });
    let err = rx
        .recv_timeout(PATIENCE)
        .expect("open_for_probe blocked on a FIFO")
        .expect_err("a FIFO was accepted");
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("FIFO"), "{err}");
    // pidfile::read must not hang on it either.
    let err = pidfile::read(&path).expect_err("a FIFO was read as a pidfile");
    assert!(err.to_string().contains("FIFO"), "{err}");
}

#[test]
fn open_for_probe_does_not_follow_symlinks() {
    let dir = TempDir::new("probe-symlink");
    let target = dir.file("target.lock", b"");
    let link = dir.path("link.lock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let err = probe::open_for_probe(&link).expect_err("symlink was followed");
    assert!(err.to_string().contains("symbolic link"), "{err}");
}

#[test]
fn open_for_probe_refuses_directories_and_devices() {
    let dir = TempDir::new("probe-dir");
    let err = probe::open_for_probe(&dir.0).expect_err("directory accepted");
    assert!(err.to_string().contains("directory"), "{err}");
    let err = probe::open_for_probe(Path::new("/dev/null")).expect_err("device accepted");
    assert!(err.to_string().contains("character device"), "{err}");
}

#[test]
fn open_for_probe_opens_the_same_inode_read_only() {
    let dir = TempDir::new("probe-regular");
    let path = dir.file("r.lock", b"x");
    let file = probe::open_for_probe(&path).unwrap();
    assert_eq!(file.metadata().unwrap().ino(), ino(&path));
    assert_eq!(status_flags(&file) & libc::O_ACCMODE, libc::O_RDONLY);
}

#[test]
fn flock_probe_classifies_holders_and_leaves_their_locks_intact() {
    let dir = TempDir::new("flock-probe");
    let path = dir.file("f.lock", b"");
    assert_eq!(
        probe::probe_flock_acquiring(&path).unwrap(),
        FlockProbe::Free
    );

    let shared = Helper::hold("hold flock shared", &path);
    assert_eq!(
        probe::probe_flock_acquiring(&path).unwrap(),
        FlockProbe::HeldShared
    );
    // The holder still has its shared lock: exclusive is refused.
    assert!(matches!(
        acquire(&path, &try_opts(Mechanism::Flock, Mode::Exclusive)),
        Err(LockError::WouldBlock { holder_pid: None })
    ));
    shared.release();

    let exclusive = Helper::hold("hold flock exclusive", &path);
    assert_eq!(
        probe::probe_flock_acquiring(&path).unwrap(),
        FlockProbe::HeldExclusive
    );
    assert!(matches!(
        acquire(&path, &try_opts(Mechanism::Flock, Mode::Shared)),
        Err(LockError::WouldBlock { .. })
    ));
    exclusive.release();

    assert_eq!(
        probe::probe_flock_acquiring(&path).unwrap(),
        FlockProbe::Free
    );
}
