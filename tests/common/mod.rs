//! Shared helpers for the integration tests: real lock-holding processes
//! (tests/support/holder.py), running the real lockscan binary, dead pids, and the
//! preconditions (`require!`: root, tools, FUSE, mounts) that fail a test loudly.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub fn holder_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/holder.py")
}

/// A running holder process. Dropping it closes its stdin and kills it.
pub struct Holder {
    pub child: Child,
    pub pid: i32,
    /// Extra `key value` lines it printed before `ready` (e.g. `child 1234`).
    pub info: Vec<(String, String)>,
    stdin: Option<ChildStdin>,
}

impl Holder {
    /// Starts `holder.py ACTIONS...` and waits until it says `ready`.
    pub fn start(actions: &[&str]) -> Holder {
        let mut child = Command::new("python3")
            .arg(holder_script())
            .args(actions)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 must be installed for the integration tests");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout);
        let mut info = Vec::new();
        let pid;
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "holder {actions:?} exited before ready: {:?}",
                child.wait()
            );
            let line = line.trim();
            let (k, v) = line.split_once(' ').unwrap_or((line, ""));
            if k == "ready" {
                pid = v.parse().unwrap();
                break;
            }
            info.push((k.to_string(), v.to_string()));
        }
        // Keep draining stdout in the background (`acquired` lines etc.).
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        let stdin = child.stdin.take();
        Holder {
            child,
            pid,
            info,
            stdin,
        }
    }

    pub fn info(&self, key: &str) -> i32 {
        self.info
            .iter()
            .find(|(k, _)| k == key)
            .unwrap_or_else(|| panic!("holder printed no {key}: {:?}", self.info))
            .1
            .parse()
            .unwrap()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `/proc/PID/wchan` shows the process blocked (a waiter in the kernel's
/// lock queue), so tests never race the waiter's arrival.
pub fn wait_blocked(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        if state == Some('S') && (wchan.contains("lock") || wchan.contains("fcntl")) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "pid {pid} never blocked (wchan {wchan:?})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn lockscan_bin() -> &'static str {
    env!("CARGO_BIN_EXE_lockscan")
}

/// Output of one lockscan run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs lockscan with `args`, failing the test if it takes longer than 60 s
/// (a hang on a FIFO or a lease must not go unnoticed).
pub fn run(args: &[&str]) -> Run {
    run_cmd(Command::new(lockscan_bin()).args(args))
}

pub fn run_cmd(cmd: &mut Command) -> Run {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let out_pipe = child.stdout.take().unwrap();
    let err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || std::io::read_to_string(out_pipe).unwrap_or_default());
    let err_t = std::thread::spawn(move || std::io::read_to_string(err_pipe).unwrap_or_default());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lockscan hung (killed after 60 s)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// Runs `lockscan --json ARGS` and parses the document.
pub fn scan_json(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let r = run(&all);
    assert!(
        r.code == 0 || r.code == 1,
        "lockscan failed ({}): {}",
        r.code,
        r.stderr
    );
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", r.stdout))
}

/// The file entry for `path` (the non-deleted one unless `deleted`).
pub fn file<'a>(doc: &'a Value, path: &Path, deleted: bool) -> &'a Value {
    let p = path.to_str().unwrap();
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == p && f["deleted"] == deleted)
        .unwrap_or_else(|| panic!("{p} (deleted={deleted}) not in report: {doc:#}"))
}

/// Sorted, deduplicated pids of a lock's `holders` or `waiters`.
fn pids(lock: &Value, field: &str) -> Vec<i64> {
    let mut v: Vec<i64> = lock[field]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["pid"].as_i64().unwrap())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

pub fn holder_pids(lock: &Value) -> Vec<i64> {
    pids(lock, "holders")
}

pub fn waiter_pids(lock: &Value) -> Vec<i64> {
    pids(lock, "waiters")
}

pub fn codes(file: &Value) -> Vec<String> {
    file["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// A fresh directory under /tmp (tmpfs or disk, both fine), canonicalized.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("lockscan-test-")
        .tempdir_in("/tmp")
        .unwrap()
}

pub fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

// ---- preconditions ------------------------------------------------------------------
//
// A test that needs something from the machine (root, a tool, FUSE, a mount) asks for
// it with `require!(need_...())`. If it is missing the test FAILS, saying what is
// missing and how CI provides it. Only with `LOCKSCAN_TEST_ALLOW_SKIP=1` does it print
// `skipped: <reason>` to stderr and pass instead; CI never sets that variable.

/// The opt-out: set to `1` to let tests whose preconditions are missing pass as skipped.
pub const ALLOW_SKIP_VAR: &str = "LOCKSCAN_TEST_ALLOW_SKIP";

/// A precondition this machine does not meet.
#[derive(Debug)]
pub struct Missing {
    /// What is missing, e.g. "root (euid 0)".
    pub what: String,
    /// How CI provides it, e.g. ".ci/run installs it (apt package bindfs)".
    pub ci: String,
}

impl Missing {
    pub fn new(what: impl Into<String>, ci: impl Into<String>) -> Missing {
        Missing {
            what: what.into(),
            ci: ci.into(),
        }
    }
}

/// Reports a missing precondition: panics, or with `LOCKSCAN_TEST_ALLOW_SKIP=1` prints
/// `skipped: <reason>` (the caller then returns). Called by [`require!`].
#[track_caller]
pub fn precondition_missing(m: Missing) {
    let reason = format!("{}; {}", m.what, m.ci);
    if std::env::var(ALLOW_SKIP_VAR).is_ok_and(|v| v == "1") {
        eprintln!("skipped: {reason}");
    } else {
        panic!(
            "precondition missing: {reason}. Tests do not skip silently; \
             set {ALLOW_SKIP_VAR}=1 to skip instead (CI never does)."
        );
    }
}

/// `require!(need_x())`: the value of an `Ok`, or, on `Err(Missing)`, a failed test
/// (or, with `LOCKSCAN_TEST_ALLOW_SKIP=1`, `skipped: ...` and a return from the test).
#[allow(unused_macros)] // not every test binary has preconditions
macro_rules! require {
    ($check:expr) => {
        match $check {
            Ok(v) => v,
            Err(missing) => {
                $crate::common::precondition_missing(missing);
                return;
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use require;

/// `Ok` if `cond`, else the missing `what` and how CI provides it.
pub fn need(cond: bool, what: impl Into<String>, ci: impl Into<String>) -> Result<(), Missing> {
    if cond {
        Ok(())
    } else {
        Err(Missing::new(what, ci))
    }
}

/// Root (euid 0): mounts, chown, mknod, dropping to `nobody`.
pub fn need_root() -> Result<(), Missing> {
    need(
        is_root(),
        format!(
            "root (euid 0; this is euid {})",
            rustix::process::geteuid().as_raw()
        ),
        "CI runs the tests as root (.ci/run)",
    )
}

/// The Debian package that provides a tool the tests drive (what .ci/run installs).
fn package_of(tool: &str) -> &'static str {
    match tool {
        "lslocks" | "setpriv" | "flock" => "util-linux",
        "mount" | "umount" => "mount",
        "lsof" => "lsof",
        "python3" => "python3",
        "bindfs" => "bindfs",
        "mkfs.btrfs" | "btrfs" => "btrfs-progs",
        "losetup" => "mount",
        _ => "see .ci/run",
    }
}

/// An executable named `tool` on PATH.
pub fn need_tool(tool: &str) -> Result<(), Missing> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path).any(|dir| {
        std::fs::metadata(dir.join(tool))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    need(
        found,
        format!("the `{tool}` command (not on PATH)"),
        format!(".ci/run installs it (apt package {})", package_of(tool)),
    )
}

/// A usable /dev/fuse (present and openable), for FUSE mounts.
pub fn need_fuse() -> Result<(), Missing> {
    let open = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse");
    need(
        open.is_ok(),
        format!(
            "/dev/fuse ({})",
            open.err().map_or(String::new(), |e| e.to_string())
        ),
        "CI runs as root on a VM whose kernel has FUSE (/dev/fuse), not in an unprivileged container",
    )
}

/// A mount made by a test, unmounted on drop (lazily if it is still busy).
pub struct Mount {
    point: PathBuf,
}

impl Mount {
    fn run_mount(args: &[&str], point: &Path) -> Result<Mount, Missing> {
        let out = Command::new("mount").args(args).arg(point).output();
        match out {
            Ok(o) if o.status.success() => Ok(Mount {
                point: point.to_path_buf(),
            }),
            other => Err(Missing::new(
                format!(
                    "permission to `mount {} {}` ({})",
                    args.join(" "),
                    point.display(),
                    match other {
                        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                        Err(e) => e.to_string(),
                    }
                ),
                "CI runs as root on a VM where mounting is permitted",
            )),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.point)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount")
                .arg("-l")
                .arg(&self.point)
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// A fresh tmpfs mounted at `dir` (needs root).
pub fn mount_tmpfs(dir: &Path) -> Result<Mount, Missing> {
    need_root()?;
    Mount::run_mount(&["-t", "tmpfs", "tmpfs"], dir)
}

/// `src` bind-mounted at `dst` (needs root).
pub fn mount_bind(src: &Path, dst: &Path) -> Result<Mount, Missing> {
    need_root()?;
    Mount::run_mount(&["--bind", src.to_str().unwrap()], dst)
}

/// Waits up to 4 s for a mount at `mnt` to show in /proc/self/mountinfo.
pub fn wait_mounted(mnt: &Path, by: &str) -> Result<(), Missing> {
    let needle = format!(" {} ", mnt.to_str().unwrap());
    let mounted = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .contains(&needle)
    });
    need(
        mounted,
        format!(
            "a working {by} mount at {} (it never appeared)",
            mnt.display()
        ),
        "CI runs as root on a VM with /dev/fuse and installs bindfs (.ci/run)",
    )
}

/// A command that runs `lockscan ARGS` as `nobody` (uid/gid 65534, no groups) through
/// setpriv, so other users' (root's) open files really are unreadable to it. The caller
/// must `require!(need_root())` and `require!(need_tool("setpriv"))`.
pub fn lockscan_as_nobody(args: &[&str]) -> Command {
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        lockscan_bin(),
    ])
    .args(args);
    c
}

/// `lockscan --json ARGS` run as `nobody` (see [`lockscan_as_nobody`]), parsed.
pub fn scan_json_as_nobody(args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let r = run_cmd(&mut lockscan_as_nobody(&all));
    assert!(
        r.code == 0 || r.code == 1,
        "lockscan as nobody failed ({}): {}",
        r.code,
        r.stderr
    );
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", r.stdout))
}

/// The pids lockscan could not inspect (`visibility.denied_pids`).
pub fn denied_pids(doc: &Value) -> Vec<i64> {
    doc["visibility"]["denied_pids"]
        .as_array()
        .unwrap_or_else(|| panic!("no visibility.denied_pids: {doc:#}"))
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect()
}

/// The codes of the scan-wide findings (`findings` at the top of the report).
pub fn global_codes(doc: &Value) -> Vec<String> {
    codes(doc)
}

/// The pid of a process that was started and reaped: certainly not running (a constant
/// such as 999999 can be a live pid where pid_max is 4194304). Pids are handed out
/// in increasing order, so it stays free for the rest of the test.
pub fn dead_pid() -> i32 {
    let mut child = Command::new("true")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn true");
    let pid = i32::try_from(child.id()).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still exists after it was reaped"
    );
    pid
}

/// A bindfs (FUSE) mount of `src` at `mnt`, unmounted on drop.
pub struct Bindfs {
    mnt: PathBuf,
}

impl Bindfs {
    /// Mounts, or says what is missing: root, bindfs, /dev/fuse, or the mount itself.
    pub fn mount(src: &Path, mnt: &Path) -> Result<Bindfs, Missing> {
        need_root()?;
        need_tool("bindfs")?;
        need_fuse()?;
        let out = Command::new("bindfs")
            .args([src.to_str().unwrap(), mnt.to_str().unwrap()])
            .output();
        match out {
            Ok(o) if o.status.success() => Ok(Bindfs {
                mnt: mnt.to_path_buf(),
            }),
            other => Err(Missing::new(
                format!(
                    "a working bindfs mount ({})",
                    match other {
                        Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                        Err(e) => e.to_string(),
                    }
                ),
                "CI runs as root on a VM with /dev/fuse and installs bindfs (.ci/run)",
            )),
        }
    }
}

impl Drop for Bindfs {
    fn drop(&mut self) {
        let _ = Command::new("fusermount")
            .args(["-u", self.mnt.to_str().unwrap()])
            .stderr(Stdio::null())
            .status();
        let _ = Command::new("umount")
            .arg(&self.mnt)
            .stderr(Stdio::null())
            .status();
    }
}

/// `lockscan --json ARGS`, vouching (`--ignore-pid`) for every process it could not
/// inspect (on some hosts even root cannot read pid 1), so that verdicts rest on
/// complete evidence; rescans while new uninspectable processes appear.
pub fn scan_json_vouched(args: &[&str]) -> Value {
    let mut vouched: Vec<i64> = Vec::new();
    for _ in 0..20 {
        let mut all: Vec<String> = vouched
            .iter()
            .flat_map(|p| ["--ignore-pid".to_string(), p.to_string()])
            .collect();
        all.extend(args.iter().map(|a| a.to_string()));
        let a: Vec<&str> = all.iter().map(String::as_str).collect();
        let doc = scan_json(&a);
        let denied = denied_pids(&doc);
        if denied.is_empty() {
            assert_eq!(doc["visibility"]["processes_denied"], 0, "{doc:#}");
            return doc;
        }
        vouched.extend(denied);
    }
    panic!("new uninspectable processes kept appearing in 20 scans: {vouched:?}");
}

/// Whether a sentence tells the operator to remove something (`remove`, `rm`).
pub fn says_remove(text: &str) -> bool {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .any(|w| w == "remove" || w == "rm")
}

/// Neither the file's advice nor any of its hints says to remove it unless its
/// delete verdict is `yes`.
pub fn assert_one_voice(f: &Value) {
    if f["safe_to_delete"]["verdict"] == "yes" {
        return;
    }
    assert_ne!(f["advice"]["action"], "remove", "{f:#}");
    assert!(!says_remove(f["advice"]["text"].as_str().unwrap()), "{f:#}");
    for finding in f["findings"].as_array().unwrap() {
        assert!(!says_remove(finding["hint"].as_str().unwrap()), "{f:#}");
    }
}
