//! Shared helpers for the integration tests: real lock-holding processes
//! (tests/support/holder.py) and running the real lockscan binary.
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

/// A bindfs (FUSE) mount of `src` at `mnt`, unmounted on drop.
pub struct Bindfs {
    mnt: PathBuf,
}

impl Bindfs {
    /// Mounts, or returns `None` (with a note) where the test cannot run: not root,
    /// no bindfs, no /dev/fuse.
    pub fn mount(src: &Path, mnt: &Path) -> Option<Bindfs> {
        if !is_root() || Command::new("bindfs").arg("--version").output().is_err() {
            eprintln!("skipped: needs root and bindfs (.ci/run installs it)");
            return None;
        }
        let ok = Command::new("bindfs")
            .args([src.to_str().unwrap(), mnt.to_str().unwrap()])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: bindfs could not mount (no /dev/fuse?)");
            return None;
        }
        Some(Bindfs {
            mnt: mnt.to_path_buf(),
        })
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
