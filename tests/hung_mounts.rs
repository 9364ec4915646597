//! A mount whose server stops answering (a dead NFS server, a wedged sshfs) must not
//! stop the scan: lockscan reports it (`unresponsive-mount`, and
//! `visibility.unresponsive_mounts`) and finishes the rest within a few seconds of
//! its normal time, with its usual exit code.
//!
//! The hung mount is `tests/support/hangfs.py`, a FUSE passthrough that blocks every
//! request while told to hang. A process stuck on it is in uninterruptible sleep and
//! cannot be killed, so no test here ever waits for lockscan without a deadline:
//! past it the server is told to answer again (which releases everything stuck on
//! it), and then the test fails. A watchdog thread per hang does the same for
//! anything else the test body might get stuck on.
//!
//! Needs root, /dev/fuse, libfuse2 and fusepy in the test venv (`target/test-venv`,
//! or `LOCKSCAN_TEST_VENV`); `.ci/run` installs them.

#![cfg(target_os = "linux")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// How much slower than without the hung mount a scan may be: the issue's goal.
const SLACK: Duration = Duration::from_secs(5);
/// Past normal time + this, the server is released and the test fails: lockscan is
/// taken to block on the mount rather than to give up on it.
const HARD_LIMIT: Duration = Duration::from_secs(12);

/// The hung mounts are serialised: a whole-system scan in one test would otherwise
/// meet another test's hung mount, and its baseline time would mean nothing.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn venv() -> PathBuf {
    std::env::var_os("LOCKSCAN_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv"))
}

fn hangfs_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/hangfs.py")
}

/// Root, /dev/fuse, and a venv python that imports fusepy (which loads libfuse2).
fn need_hangfs() -> Result<PathBuf, Missing> {
    need_root()?;
    need_fuse()?;
    let python = venv().join("bin/python3");
    let import = Command::new(&python).args(["-c", "import fuse"]).output();
    need(
        import.as_ref().is_ok_and(|o| o.status.success()),
        format!(
            "fusepy and libfuse2 for {} ({})",
            python.display(),
            match &import {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            }
        ),
        ".ci/run installs libfuse2 (apt) and fusepy into target/test-venv (pip)",
    )?;
    Ok(python)
}

/// The switch of a running hangfs: its stdin, shared by the test and the watchdogs.
struct Control {
    stdin: Mutex<Option<ChildStdin>>,
    acks: Mutex<Receiver<String>>,
}

impl Control {
    /// Sends `cmd` and waits (5 s at most) for hangfs to confirm it with `ack`.
    fn send(&self, cmd: &str, ack: &str) -> bool {
        let sent = match self
            .stdin
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_mut()
        {
            Some(s) => writeln!(s, "{cmd}").and_then(|()| s.flush()).is_ok(),
            None => false,
        };
        if !sent {
            return false;
        }
        let acks = self.acks.lock().unwrap_or_else(|e| e.into_inner());
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match acks.recv_timeout(left) {
                Ok(line) if line == ack => return true,
                Ok(_) => continue,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return false,
            }
        }
    }

    /// Serves every blocked and later request again.
    fn answer(&self) {
        self.send("answer", "answering");
    }
}

/// `tests/support/hangfs.py` serving `src` at `mnt`. Drop answers, unmounts
/// (`fusermount -u`, else `umount -l`) and reaps the server.
struct HangFs {
    child: Child,
    mnt: PathBuf,
    fsname: String,
    ctl: Arc<Control>,
}

impl HangFs {
    /// Mounts `src` at `mnt` with the source name `fsname` (mountinfo:
    /// `fuse.hangfs fsname`), answering.
    fn mount(src: &Path, mnt: &Path, fsname: &str) -> Result<HangFs, Missing> {
        let python = need_hangfs()?;
        let mut child = Command::new(python)
            .arg(hangfs_script())
            .args([src.as_os_str(), mnt.as_os_str()])
            .arg(fsname)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Missing::new(format!("starting hangfs.py: {e}"), "see .ci/run"))?;
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line.trim().to_string()).is_err() {
                    break;
                }
            }
        });
        let ready = rx.recv_timeout(Duration::from_secs(15));
        let fs = HangFs {
            ctl: Arc::new(Control {
                stdin: Mutex::new(child.stdin.take()),
                acks: Mutex::new(rx),
            }),
            child,
            mnt: mnt.to_path_buf(),
            fsname: fsname.to_string(),
        };
        if !ready.as_ref().is_ok_and(|l| l.starts_with("ready ")) {
            return Err(Missing::new(
                format!("a working hangfs mount at {} ({ready:?})", mnt.display()),
                "CI runs as root on a VM with /dev/fuse; .ci/run installs libfuse2 and fusepy",
            ));
        }
        wait_mounted(mnt, "hangfs")?;
        Ok(fs)
    }

    /// Stops answering until the returned guard is dropped or `watchdog` has passed.
    fn hang(&self, watchdog: Duration) -> Hang {
        assert!(
            self.ctl.send("hang", "hanging"),
            "hangfs did not confirm `hang`"
        );
        let cancelled = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let (ctl, c, f) = (self.ctl.clone(), cancelled.clone(), fired.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + watchdog;
            while Instant::now() < deadline {
                if c.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !c.load(Ordering::SeqCst) {
                f.store(true, Ordering::SeqCst);
                ctl.answer();
            }
        });
        Hang {
            ctl: self.ctl.clone(),
            cancelled,
            fired,
            mnt: self.mnt.clone(),
        }
    }
}

impl Drop for HangFs {
    fn drop(&mut self) {
        self.ctl.answer();
        let mnt = self.mnt.to_str().unwrap();
        let unmounted = ["fusermount", "fusermount3"].iter().any(|tool| {
            Command::new(tool)
                .args(["-u", mnt])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if !unmounted {
            let _ = Command::new("umount")
                .args(["-l", mnt])
                .stderr(Stdio::null())
                .status();
        }
        // EOF: hangfs answers and unmounts lazily itself if it still serves.
        drop(
            self.ctl
                .stdin
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server hangs while this lives. Dropping it (or its watchdog's deadline)
/// makes it answer again.
struct Hang {
    ctl: Arc<Control>,
    cancelled: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
    mnt: PathBuf,
}

impl Hang {
    /// Answers again now (releasing whatever is stuck on the mount).
    fn release(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.ctl.answer();
    }
}

impl Drop for Hang {
    fn drop(&mut self) {
        self.release();
        // Not while unwinding: the first failure is the one worth reading.
        if !std::thread::panicking() {
            assert!(
                !self.fired.load(Ordering::SeqCst),
                "the watchdog had to release {}: something was stuck on it",
                self.mnt.display()
            );
        }
    }
}

/// A finished lockscan run and its wall time.
struct Timed {
    run: Run,
    elapsed: Duration,
}

/// Runs `cmd`, with pipes, and waits for it; `hang`, if given, is released when
/// `limit` has passed, then the test fails (lockscan blocked on the hung mount).
fn run_timed(cmd: &mut Command, hang: Option<&Hang>, limit: Duration) -> Timed {
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out_pipe = child.stdout.take().unwrap();
    let err_pipe = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || std::io::read_to_string(out_pipe).unwrap_or_default());
    let err_t = std::thread::spawn(move || std::io::read_to_string(err_pipe).unwrap_or_default());
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let Some(hang) = hang else {
                let _ = child.kill();
                let _ = child.wait();
                panic!("lockscan did not finish within {limit:?} (no hung mount)");
            };
            // Killing it would not help: a process in a FUSE request is unkillable.
            hang.release();
            let released = Instant::now();
            let after = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break Some(s);
                }
                if released.elapsed() > Duration::from_secs(30) {
                    let _ = child.kill();
                    let _ = child.wait();
                    break None;
                }
                std::thread::sleep(Duration::from_millis(10));
            };
            panic!(
                "lockscan blocked on the hung mount {}: not finished after {limit:?}; once the \
                 server answered again it {} after {:?} more ({cmd:?})",
                hang.mnt.display(),
                match after {
                    Some(s) => format!("exited ({s})"),
                    None => "still had not exited (killed)".to_string(),
                },
                released.elapsed(),
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = start.elapsed();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    };
    assert!(
        status.code().is_some(),
        "lockscan died of a signal ({status}): {}",
        run.stderr
    );
    Timed { run, elapsed }
}

fn lockscan(args: &[&str]) -> Command {
    let mut c = Command::new(lockscan_bin());
    c.args(args);
    c
}

/// The JSON report of a run that exited normally (0, or 1 for findings).
fn parse(t: &Timed) -> Value {
    assert!(
        t.run.code == 0 || t.run.code == 1,
        "lockscan failed ({}): {}",
        t.run.code,
        t.run.stderr
    );
    serde_json::from_str(&t.run.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", t.run.stdout))
}

/// Runs `args` once answering (the baseline), then hung; the hung run must finish
/// within the baseline + [`SLACK`]. `check` is asserted of both reports (so the
/// baseline shows that the test's own expectations hold without the hang). Returns
/// the hung run's report.
fn scan_hung(fs: &HangFs, args: &[&str], mut check: impl FnMut(&Value)) -> Value {
    let doc = parse(&run_hung(fs, args, |t| check(&parse(t))));
    check(&doc);
    doc
}

/// Runs `lockscan ARGS` once with the mount answering (`normal`, to check the
/// test's own expectations and learn the normal time), then with it hung: the
/// second run must finish within the normal time plus [`SLACK`].
fn run_hung(fs: &HangFs, args: &[&str], normal_check: impl FnOnce(&Timed)) -> Timed {
    let normal = run_timed(&mut lockscan(args), None, Duration::from_secs(60));
    normal_check(&normal);
    let hang = fs.hang(normal.elapsed + HARD_LIMIT + Duration::from_secs(20));
    let t = run_timed(
        &mut lockscan(args),
        Some(&hang),
        normal.elapsed + HARD_LIMIT,
    );
    drop(hang);
    assert!(
        t.elapsed <= normal.elapsed + SLACK,
        "with {} hung, `lockscan {}` took {:?}; without, {:?}",
        fs.mnt.display(),
        args.join(" "),
        t.elapsed,
        normal.elapsed
    );
    t
}

/// Every finding in the report, global and per file.
fn all_findings(doc: &Value) -> Vec<&Value> {
    let mut v: Vec<&Value> = doc["findings"].as_array().unwrap().iter().collect();
    for f in doc["files"].as_array().unwrap() {
        v.extend(f["findings"].as_array().unwrap());
    }
    v
}

/// The `unresponsive-mount` finding and `visibility.unresponsive_mounts` entry for `fs`.
fn assert_reported_unresponsive(doc: &Value, fs: &HangFs) {
    let mnt = fs.mnt.to_str().unwrap();
    let findings = all_findings(doc);
    let finding = findings
        .iter()
        .find(|f| f["code"] == "unresponsive-mount" && f["path"] == mnt)
        .unwrap_or_else(|| panic!("no unresponsive-mount finding for {mnt}: {findings:#?}"));
    assert_eq!(finding["severity"], "warning", "{finding:#}");
    let msg = finding["message"].as_str().unwrap();
    assert!(
        msg.contains("fuse.hangfs") && msg.contains(&fs.fsname),
        "the message names neither the fstype nor the source: {finding:#}"
    );
    let listed = doc["visibility"]["unresponsive_mounts"]
        .as_array()
        .unwrap_or_else(|| panic!("no visibility.unresponsive_mounts: {:#}", doc["visibility"]));
    let entry = listed
        .iter()
        .find(|m| m["mount_point"] == mnt)
        .unwrap_or_else(|| panic!("{mnt} not in visibility.unresponsive_mounts: {listed:#?}"));
    assert_eq!(entry["fstype"], "fuse.hangfs", "{entry:#}");
    assert_eq!(entry["source"], fs.fsname.as_str(), "{entry:#}");
    assert!(entry["waited_ms"].is_u64(), "{entry:#}");
}

/// A unique source name, so mountinfo tells this test's mount from any other.
fn fsname(test: &str) -> String {
    format!("hangfs-{test}-{}", std::process::id())
}

/// `root/src` (the backing directory, outside the scanned tree) and
/// `root/scan/mnt` (the mount point), with `scan/stale.pid` (a dead pid) and
/// `scan/idle.lock` beside the mount and a pidfile inside it.
fn tree_with_mount(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let src = root.join("src");
    let scan = root.join("scan");
    let mnt = scan.join("mnt");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::write(src.join("inner.pid"), format!("{}\n", dead_pid())).unwrap();
    std::fs::write(scan.join("stale.pid"), format!("{}\n", dead_pid())).unwrap();
    std::fs::write(scan.join("idle.lock"), "").unwrap();
    (src, scan, mnt)
}

/// The files beside the mount are reported in full.
fn assert_beside_complete(doc: &Value, scan: &Path) {
    let stale = file(doc, &scan.join("stale.pid"), false);
    assert_eq!(stale["pidfile"]["status"], "dead", "{stale:#}");
    assert!(
        codes(stale).contains(&"stale-pidfile".to_string()),
        "{stale:#}"
    );
    let idle = file(doc, &scan.join("idle.lock"), false);
    assert_eq!(idle["lock_state"], "free", "{idle:#}");
}

#[test]
fn hung_mount_under_the_scanned_path_is_reported_and_the_rest_scanned() {
    let _serial = serial();
    let d = tempdir();
    let (src, scan, mnt) = tree_with_mount(&canon(d.path()));
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("under")));
    let doc = scan_hung(&fs, &["--json", scan.to_str().unwrap()], |doc| {
        assert_beside_complete(doc, &scan)
    });
    assert_reported_unresponsive(&doc, &fs);
}

/// A mount deep enough in a wide tree to be met by one of the walk's threads (the
/// root has more subdirectories than the walk splits it into): the thread must
/// leave it to a helper process started from the main thread, which walks it while
/// it answers and gives up on it when it hangs, the rest of the tree complete.
#[test]
fn mount_met_by_a_walker_thread_goes_through_a_helper_answering_or_hung() {
    let _serial = serial();
    let d = tempdir();
    let root = canon(d.path());
    let (src, scan) = (root.join("src"), root.join("scan"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("inner.pid"), format!("{}\n", dead_pid())).unwrap();
    let dirs: Vec<PathBuf> = (0..40).map(|i| scan.join(format!("d{i}"))).collect();
    for dir in &dirs {
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/stale.pid"), format!("{}\n", dead_pid())).unwrap();
    }
    let mnt = dirs[29].join("sub/mnt");
    std::fs::create_dir(&mnt).unwrap();
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("thread")));
    let all_beside = |doc: &Value| {
        for dir in &dirs {
            let stale = file(doc, &dir.join("sub/stale.pid"), false);
            assert_eq!(stale["pidfile"]["status"], "dead", "{stale:#}");
        }
    };
    let answering = parse(&run_timed(
        &mut lockscan(&["--json", scan.to_str().unwrap()]),
        None,
        Duration::from_secs(60),
    ));
    all_beside(&answering);
    let inner = file(&answering, &mnt.join("inner.pid"), false);
    assert_eq!(inner["pidfile"]["status"], "dead", "{inner:#}");
    let doc = scan_hung(&fs, &["--json", scan.to_str().unwrap()], all_beside);
    assert_reported_unresponsive(&doc, &fs);
}

#[test]
fn hung_mount_under_the_scanned_path_with_one_file_system_does_not_block() {
    // -x does not descend into the mount; whether it then reports the mount at all
    // is the implementation's choice, blocking on it is not.
    let _serial = serial();
    let d = tempdir();
    let (src, scan, mnt) = tree_with_mount(&canon(d.path()));
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("onefs")));
    let doc = scan_hung(&fs, &["--json", "-x", scan.to_str().unwrap()], |doc| {
        assert_beside_complete(doc, &scan)
    });
    if all_findings(&doc)
        .iter()
        .any(|f| f["code"] == "unresponsive-mount")
    {
        assert_reported_unresponsive(&doc, &fs);
    }
}

#[test]
fn whole_system_scan_with_a_hung_mount_still_lists_its_lock_and_holder() {
    let _serial = serial();
    let d = tempdir();
    let (src, _scan, mnt) = tree_with_mount(&canon(d.path()));
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("system")));
    let held = mnt.join("held.lock");
    let h = Holder::start(&[&format!("flock-ex:{}", held.display())]);
    // /proc/locks, the fd link and fdinfo say it all without asking the server.
    let listed_with_holder = |doc: &Value| {
        let f = file(doc, &held, false);
        let flock = f["locks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["type"] == "flock")
            .unwrap_or_else(|| panic!("no flock on {}: {f:#}", held.display()));
        assert_eq!(holder_pids(flock), vec![i64::from(h.pid)], "{f:#}");
    };
    let doc = scan_hung(&fs, &["--json"], listed_with_holder);
    assert_reported_unresponsive(&doc, &fs);
}

#[test]
fn processes_with_deleted_files_open_on_a_hung_mount_do_not_block_an_unrelated_scan() {
    let _serial = serial();
    let d = tempdir();
    let (src, _scan, mnt) = tree_with_mount(&canon(d.path()));
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("deleted")));
    // A live file whose name ends like a deleted one's fd link, and a really
    // unlinked one: telling them apart is where a scanner stats the file.
    let _named = Holder::start(&[&format!("flock-ex:{}", mnt.join("x (deleted)").display())]);
    let _unlinked = Holder::start(&[&format!(
        "deleted-flock:{}",
        mnt.join("gone.lock").display()
    )]);
    let other = tempdir();
    let local = canon(other.path());
    std::fs::write(local.join("old.pid"), format!("{}\n", dead_pid())).unwrap();
    let h = Holder::start(&[&format!("flock-ex:{}", local.join("busy.lock").display())]);
    scan_hung(&fs, &["--json", local.to_str().unwrap()], |doc| {
        assert_eq!(
            file(doc, &local.join("old.pid"), false)["pidfile"]["status"],
            "dead"
        );
        let busy = file(doc, &local.join("busy.lock"), false);
        assert_eq!(
            holder_pids(&busy["locks"][0]),
            vec![i64::from(h.pid)],
            "{busy:#}"
        );
        assert_eq!(busy["safe_to_delete"]["verdict"], "no", "{busy:#}");
    });
}

#[test]
fn pidfile_on_a_hung_mount_given_explicitly_is_unknown_never_safe_to_delete() {
    let _serial = serial();
    let d = tempdir();
    let (src, _scan, mnt) = tree_with_mount(&canon(d.path()));
    // A dead pid: had it been read, the file would be a stale pidfile, safe to delete
    // (where every process can be inspected).
    std::fs::write(src.join("app.pid"), format!("{}\n", dead_pid())).unwrap();
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("explicit")));
    let pidfile = mnt.join("app.pid");
    let p = pidfile.to_str().unwrap();
    let mut answering = true;
    let doc = scan_hung(&fs, &["--json", p], |doc| {
        if std::mem::take(&mut answering) {
            assert_eq!(
                file(doc, &pidfile, false)["pidfile"]["status"],
                "dead",
                "control: answering, its content is read"
            );
        }
    });
    assert_reported_unresponsive(&doc, &fs);
    let entry = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == p);
    match entry {
        Some(f) => {
            assert_ne!(f["safe_to_delete"]["verdict"], "yes", "{f:#}");
            let status = &f["pidfile"]["status"];
            assert!(
                status.is_null() || *status == "unknown",
                "content of a file on a hung mount cannot have been read: {f:#}"
            );
            assert_one_voice(f);
        }
        None => {
            let errors = doc["errors"].as_array().unwrap();
            assert!(
                errors.iter().any(|e| e["path"] == p),
                "{p} is neither in files nor in errors: {doc:#}"
            );
        }
    }
}

#[test]
fn pidfile_on_a_hung_mount_in_the_table_with_its_explanation_finishes() {
    // Regression: the table's "explain one file" decision looked at the path again,
    // after the scan, outside any helper process.
    let _serial = serial();
    let d = tempdir();
    let (src, _scan, mnt) = tree_with_mount(&canon(d.path()));
    std::fs::write(src.join("app.pid"), format!("{}\n", dead_pid())).unwrap();
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("table")));
    let p = mnt.join("app.pid");
    let t = run_hung(&fs, &["--color", "never", p.to_str().unwrap()], |_| {});
    assert!(
        t.run.stdout.contains("unresponsive-mount"),
        "{}",
        t.run.stdout
    );
}

#[test]
fn probes_with_a_hung_mount_under_the_path_finish() {
    let _serial = serial();
    let d = tempdir();
    let (src, scan, mnt) = tree_with_mount(&canon(d.path()));
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("probe")));
    for probe in ["getlk", "acquire"] {
        let args = ["--json", "--probe", probe, scan.to_str().unwrap()];
        let doc = scan_hung(&fs, &args, |doc| assert_beside_complete(doc, &scan));
        assert_reported_unresponsive(&doc, &fs);
    }
}

/// A process killed (and reaped) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Holds a flock on argv[1] with its working directory on the mount argv[2], and
/// has a second thread that stats a path on the mount over and over: once the
/// server hangs, that thread is stuck in the kernel.
const STUCK_HOLDER: &str = r#"
import fcntl, os, sys, threading, time
local, mnt = sys.argv[1], sys.argv[2]
fd = os.open(local, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
os.chdir(mnt)
def poke():
    while True:
        try:
            os.stat(os.path.join(mnt, "poke"))
        except OSError:
            pass
        time.sleep(0.02)
threading.Thread(target=poke, daemon=True).start()
print("ready", os.getpid(), flush=True)
sys.stdin.read()
"#;

/// Whether some thread of `pid` waits for a FUSE answer.
fn has_thread_stuck_on_fuse(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("wchan"))
            .is_ok_and(|w| w.contains("request_wait_answer") || w.contains("fuse"))
    })
}

#[test]
fn holder_with_a_thread_stuck_on_a_hung_mount_is_still_named() {
    let _serial = serial();
    let d = tempdir();
    let (src, _scan, mnt) = tree_with_mount(&canon(d.path()));
    let fs = require!(HangFs::mount(&src, &mnt, &fsname("thread")));
    let other = tempdir();
    let local = canon(other.path());
    let lock = local.join("held.lock");
    let mut child = Command::new("python3")
        .args(["-c", STUCK_HOLDER])
        .args([lock.as_os_str(), mnt.as_os_str()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let holder = Killed(child);
    assert!(line.starts_with("ready "), "holder: {line:?}");
    let pid = holder.0.id();
    let args = ["--json", local.to_str().unwrap()];
    let normal = run_timed(&mut lockscan(&args), None, Duration::from_secs(60));
    parse(&normal);
    let hang = fs.hang(normal.elapsed + HARD_LIMIT + Duration::from_secs(20));
    let deadline = Instant::now() + Duration::from_secs(5);
    while !has_thread_stuck_on_fuse(pid) {
        assert!(
            Instant::now() < deadline,
            "no thread of {pid} got stuck on the hung mount"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = run_timed(
        &mut lockscan(&args),
        Some(&hang),
        normal.elapsed + HARD_LIMIT,
    );
    drop(hang);
    assert!(
        t.elapsed <= normal.elapsed + SLACK,
        "took {:?}, without the hang {:?}",
        t.elapsed,
        normal.elapsed
    );
    let doc = parse(&t);
    let f = file(&doc, &lock, false);
    assert_eq!(holder_pids(&f["locks"][0]), vec![i64::from(pid)], "{f:#}");
    drop(holder);
}
