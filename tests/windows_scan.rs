//! lockscan on Windows (run under Wine in CI): real helper processes hold real
//! `LockFileEx` locks and handles, and the tests assert on lockscan's JSON.
//!
//! The helpers are this test executable itself, started again with
//! `LOCKSCAN_WIN_ROLE` set: `child_entry` then plays the role and waits until its
//! stdin closes.

#![cfg(windows)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::windows::io::AsRawHandle;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use windows_sys::Win32::Foundation::{HANDLE, HANDLE_FLAG_INHERIT, SetHandleInformation};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_SHARE_READ, FILE_SHARE_WRITE, LOCKFILE_EXCLUSIVE_LOCK, LOCKFILE_FAIL_IMMEDIATELY,
    LockFileEx, ReadFile,
};
use windows_sys::Win32::System::IO::OVERLAPPED;
use windows_sys::Win32::System::Pipes::CreatePipe;

const ROLE_VAR: &str = "LOCKSCAN_WIN_ROLE";

// ---------------------------------------------------------------- helper side

fn lock_whole(f: &std::fs::File, exclusive: bool) {
    // SAFETY: zeroed OVERLAPPED = offset 0; the handle is valid while `f` lives.
    let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
    let flags = LOCKFILE_FAIL_IMMEDIATELY
        | if exclusive {
            LOCKFILE_EXCLUSIVE_LOCK
        } else {
            0
        };
    // SAFETY: as above; `ov` outlives the (synchronous) call.
    let ok = unsafe {
        LockFileEx(
            f.as_raw_handle() as HANDLE,
            flags,
            0,
            u32::MAX,
            u32::MAX,
            &mut ov,
        )
    };
    assert_ne!(
        ok,
        0,
        "helper could not lock: {}",
        std::io::Error::last_os_error()
    );
}

fn open(path: &Path, share: u32) -> std::fs::File {
    use std::os::windows::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .share_mode(share)
        .open(path)
        .unwrap_or_else(|e| panic!("helper cannot open {}: {e}", path.display()))
}

fn wait_for_stdin_eof() {
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

/// Plays a helper role when started with `LOCKSCAN_WIN_ROLE`; a no-op test otherwise.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(ROLE_VAR) else {
        return;
    };
    let (what, path) = role.split_once(':').unwrap_or((role.as_str(), ""));
    let path = Path::new(path);
    let mut keep = Vec::new();
    let mut extra = String::new();
    let mut grandchild = None;
    match what {
        "lock-exclusive" | "lock-shared" => {
            let f = open(path, FILE_SHARE_READ | FILE_SHARE_WRITE);
            lock_whole(&f, what == "lock-exclusive");
            keep.push(f);
        }
        "open" => keep.push(open(path, FILE_SHARE_READ | FILE_SHARE_WRITE)),
        "open-noshare" => keep.push(open(path, 0)),
        "inherit" => {
            // Opens the lockfile inheritable (as C's fopen/_open do by default), locks
            // it, and starts a child, which inherits the handle.
            let f = open(path, FILE_SHARE_READ | FILE_SHARE_WRITE);
            // SAFETY: valid handle owned by `f`.
            let ok = unsafe {
                SetHandleInformation(
                    f.as_raw_handle() as HANDLE,
                    HANDLE_FLAG_INHERIT,
                    HANDLE_FLAG_INHERIT,
                )
            };
            assert_ne!(ok, 0);
            lock_whole(&f, true);
            keep.push(f);
            let (c, pid) = spawn_role("idle");
            extra = format!(" {pid}");
            grandchild = Some(c);
        }
        "idle" => {}
        "pipe-read" => {
            // A synchronous read that never completes: the handle's file object stays
            // busy, which is what makes naive handle queries hang.
            let (mut r, mut w): (HANDLE, HANDLE) = (std::ptr::null_mut(), std::ptr::null_mut());
            // SAFETY: out pointers are valid; default security, default size.
            assert_ne!(
                unsafe { CreatePipe(&mut r, &mut w, std::ptr::null(), 0) },
                0
            );
            let r = r as usize;
            std::thread::spawn(move || {
                let mut buf = [0u8; 16];
                let mut got = 0u32;
                // SAFETY: `r` stays open (never closed); the buffer outlives the call.
                unsafe {
                    ReadFile(
                        r as HANDLE,
                        buf.as_mut_ptr(),
                        buf.len() as u32,
                        &mut got,
                        std::ptr::null_mut(),
                    )
                };
            });
            std::thread::sleep(Duration::from_millis(200));
            let _ = w; // the write end stays open: the read never ends
            keep.push(open(path, FILE_SHARE_READ | FILE_SHARE_WRITE));
        }
        other => panic!("unknown role {other}"),
    }
    println!("READY{extra}");
    std::io::stdout().flush().unwrap();
    wait_for_stdin_eof();
    drop(grandchild);
    drop(keep);
}

// ---------------------------------------------------------------- test side

/// A running helper; it exits when dropped (its stdin closes).
struct Helper {
    child: Child,
    stdin: Option<ChildStdin>,
    pid: i64,
}

impl Drop for Helper {
    fn drop(&mut self) {
        drop(self.stdin.take());
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

fn spawn_child(role: &str, stderr: Stdio) -> (Child, String) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_entry", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn helper");
    let out = child.stdout.take().unwrap();
    let mut lines = BufReader::new(out).lines();
    // The harness prints "test child_entry ... " before the role's output.
    let ready = loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("READY") => break l,
            Some(Ok(_)) => continue,
            _ => panic!("helper {role} exited before it was ready"),
        }
    };
    let rest = ready[ready.find("READY").unwrap() + 5..].trim().to_string();
    // Keep draining so the helper never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, rest)
}

/// Starts a helper; returns it and its pid. Used by `inherit` for its own child too,
/// whose harness finds its stdout gone when `inherit` exits: its stderr is discarded.
fn spawn_role(role: &str) -> (Child, i64) {
    let (child, _) = spawn_child(role, Stdio::null());
    let pid = i64::from(child.id());
    (child, pid)
}

fn helper(role: &str) -> (Helper, String) {
    let (mut child, rest) = spawn_child(role, Stdio::inherit());
    let pid = i64::from(child.id());
    let stdin = child.stdin.take();
    (Helper { child, stdin, pid }, rest)
}

fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "lockscan-win-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lockscan(args: &[&str]) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_lockscan"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run lockscan");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "lockscan failed ({code}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (code, v)
}

fn file<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with(&format!("\\{name}")))
        })
        .unwrap_or_else(|| panic!("{name} not in the report: {report:#}"))
}

fn pids(list: &Value) -> Vec<i64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| p["pid"].as_i64().unwrap())
        .collect()
}

fn codes(f: &Value) -> Vec<String> {
    f["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap().to_string())
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn lockfileex_holder_is_named_as_candidate_and_the_probe_sees_the_lock() {
    let d = tempdir("held");
    let lock = d.join("app.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, _) = helper(&format!("lock-exclusive:{}", s(&lock)));

    let (_, r) = lockscan(&["--json", "--probe", "acquire", s(&d)]);
    assert_eq!(r["platform"], "windows");
    assert_eq!(r["visibility"]["handle_table_read"], true, "{r:#}");
    let f = file(&r, "app.lock");
    let locks = f["locks"].as_array().unwrap();
    assert_eq!(locks.len(), 1, "{f:#}");
    assert_eq!(locks[0]["type"], "lockfileex");
    assert_eq!(locks[0]["mode"], "write");
    // Wine lacks FileProcessIdsUsingFileInformation: the handle table is the evidence
    // there, and the report says so; Windows answers the per-file question.
    let per_file = r["visibility"]["per_file_api"].as_str().unwrap();
    let evidence = if per_file == "file-process-ids" {
        "file-process-ids"
    } else {
        assert!(per_file.starts_with("unavailable: "), "{per_file}");
        "handle-table"
    };
    assert_eq!(locks[0]["holder_evidence"], evidence);
    assert_eq!(locks[0]["holders_uncertain"], true);
    assert!(pids(&locks[0]["holders"]).contains(&h.pid), "{f:#}");
    assert_eq!(f["probe"]["method"], "lockfileex");
    assert_eq!(f["probe"]["result"], "held");
    assert_eq!(f["probe"]["conflict"]["mode"], "write");
    assert!(!codes(f).contains(&"stale-lockfile".to_string()));
    drop(h);
}

#[test]
fn shared_lockfileex_lock_is_reported_as_read() {
    let d = tempdir("shared");
    let lock = d.join("db.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, _) = helper(&format!("lock-shared:{}", s(&lock)));
    let (_, r) = lockscan(&["--json", "--probe", "acquire", s(&d)]);
    let f = file(&r, "db.lock");
    assert_eq!(f["probe"]["result"], "held");
    assert_eq!(f["locks"][0]["mode"], "read", "{f:#}");
    assert!(pids(&f["locks"][0]["holders"]).contains(&h.pid));
}

#[test]
fn without_a_probe_the_handle_table_still_names_who_has_the_file_open() {
    let d = tempdir("open");
    let lock = d.join("app.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, _) = helper(&format!("lock-exclusive:{}", s(&lock)));
    let (_, r) = lockscan(&["--json", s(&d)]);
    let f = file(&r, "app.lock");
    assert!(
        f["locks"].as_array().unwrap().is_empty(),
        "no probe, no lock claim: {f:#}"
    );
    assert!(f["probe"].is_null());
    assert!(pids(&f["open_by"]).contains(&h.pid), "{f:#}");
    let me = &f["open_by"].as_array().unwrap()[0];
    assert!(
        me["fd"].as_i64().is_some(),
        "the handle value is reported: {me:#}"
    );
    assert_eq!(me["cloexec"], true, "std handles are not inheritable");
    assert!(!codes(f).contains(&"stale-lockfile".to_string()));
}

#[test]
fn probe_releases_at_once_and_changes_nothing() {
    let d = tempdir("free");
    let lock = d.join("free.lock");
    std::fs::write(&lock, b"keep me").unwrap();
    let before = std::fs::metadata(&lock).unwrap().modified().unwrap();
    let (_, r) = lockscan(&["--json", "--probe", "acquire", s(&d)]);
    let f = file(&r, "free.lock");
    assert_eq!(f["probe"]["result"], "free", "{f:#}");
    assert!(f["locks"].as_array().unwrap().is_empty());
    // Nothing left locked, nothing written.
    let (h, _) = helper(&format!("lock-exclusive:{}", s(&lock)));
    drop(h);
    assert_eq!(std::fs::read(&lock).unwrap(), b"keep me");
    assert_eq!(
        std::fs::metadata(&lock).unwrap().modified().unwrap(),
        before
    );
    let names: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "the scan created files: {names:?}");
}

#[test]
fn open_without_sharing_is_told_apart_from_a_byte_range_lock() {
    let d = tempdir("noshare");
    let lock = d.join("excl.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, _) = helper(&format!("open-noshare:{}", s(&lock)));
    let (_, r) = lockscan(&["--json", "--probe", "acquire", s(&d)]);
    let f = file(&r, "excl.lock");
    assert_eq!(f["probe"]["result"], "open-without-sharing", "{f:#}");
    assert!(pids(&f["open_by"]).contains(&h.pid), "{f:#}");
}

#[test]
fn pidfile_with_a_dead_pid_is_stale() {
    let d = tempdir("stale");
    // A pid that ran and exited, and one that never existed.
    let (mut c, dead) = spawn_role("idle");
    drop(c.stdin.take());
    c.wait().unwrap();
    std::fs::write(d.join("exited.pid"), format!("{dead}\n")).unwrap();
    std::fs::write(d.join("never.pid"), "4000000\n").unwrap();
    let (code, r) = lockscan(&["--json", s(&d)]);
    assert_eq!(code, 1, "findings give exit code 1");
    for (name, pid) in [("exited.pid", dead), ("never.pid", 4_000_000)] {
        let f = file(&r, name);
        assert_eq!(f["pidfile"]["pid"], pid);
        assert_eq!(f["pidfile"]["verdict"], "stale", "{f:#}");
        assert!(codes(f).contains(&"stale-pidfile".to_string()), "{f:#}");
    }
}

#[test]
fn pidfile_of_a_running_process_is_live_and_names_it() {
    let d = tempdir("live");
    let (h, _) = helper("idle");
    std::fs::write(d.join("svc.pid"), format!("{}\n", h.pid)).unwrap();
    let (_, r) = lockscan(&["--json", s(&d)]);
    let f = file(&r, "svc.pid");
    assert_eq!(f["pidfile"]["verdict"], "live", "{f:#}");
    assert_eq!(f["pidfile"]["process"]["pid"], h.pid);
    assert!(f["pidfile"]["process"]["started_at"].is_string());
    assert!(codes(f).is_empty(), "{f:#}");
}

#[test]
fn pidfile_written_before_its_process_started_is_pid_reuse() {
    let d = tempdir("reuse");
    let (h, _) = helper("idle");
    let pf = d.join("old.pid");
    std::fs::write(&pf, format!("{}\n", h.pid)).unwrap();
    // The file claims to be from an hour before the process was created.
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&pf)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
    let (_, r) = lockscan(&["--json", s(&d)]);
    let f = file(&r, "old.pid");
    assert!(codes(f).contains(&"pid-reused".to_string()), "{f:#}");
}

#[test]
fn inherited_lock_handle_in_a_child_is_a_leaked_fd() {
    let d = tempdir("leak");
    let lock = d.join("job.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, rest) = helper(&format!("inherit:{}", s(&lock)));
    let grandchild: i64 = rest.parse().expect("grandchild pid");
    let (_, r) = lockscan(&["--json", s(&d)]);
    let f = file(&r, "job.lock");
    let open_by = f["open_by"].as_array().unwrap();
    let gc = open_by
        .iter()
        .find(|p| p["pid"] == grandchild)
        .unwrap_or_else(|| panic!("the child's inherited handle is not seen: {f:#}"));
    assert_eq!(gc["inherited_from"], h.pid, "{gc:#}");
    assert_eq!(gc["cloexec"], false);
    assert_eq!(gc["ppid"], h.pid);
    let parent = open_by.iter().find(|p| p["pid"] == h.pid).unwrap();
    assert!(
        parent.get("inherited_from").is_none(),
        "the opener inherited nothing"
    );
    assert!(codes(f).contains(&"leaked-fd".to_string()), "{f:#}");
}

#[test]
fn a_lockfile_nobody_has_open_probes_free() {
    let d = tempdir("nobody");
    std::fs::write(d.join("left.lock"), b"").unwrap();
    let (_, r) = lockscan(&["--json", "--probe", "acquire", s(&d)]);
    let f = file(&r, "left.lock");
    assert!(f["open_by"].as_array().unwrap().is_empty());
    assert_eq!(f["probe"]["result"], "free");
}

#[test]
fn table_output_renders_on_windows() {
    let d = tempdir("table");
    let lock = d.join("app.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, _) = helper(&format!("lock-exclusive:{}", s(&lock)));
    let out = Command::new(env!("CARGO_BIN_EXE_lockscan"))
        .args(["--probe", "acquire", "--color", "never", s(&d)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("app.lock"), "{text}");
    assert!(text.contains(&h.pid.to_string()), "{text}");
}

#[test]
fn a_pipe_with_a_read_in_flight_does_not_hang_the_scan() {
    let d = tempdir("pipe");
    let lock = d.join("busy.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, _) = helper(&format!("pipe-read:{}", s(&lock)));
    // (`output()`, not a read of a piped ChildStdout: std opens its end of that pipe
    // overlapped, and Wine then answers a plain read with STATUS_PENDING.)
    let (tx, rx) = std::sync::mpsc::channel();
    let dir = s(&d).to_string();
    std::thread::spawn(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_lockscan"))
            .args(["--json", &dir])
            .stdin(Stdio::null())
            .output();
        let _ = tx.send(out);
    });
    let out = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("lockscan hung on a process with a pipe read in flight")
        .unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = file(&r, "busy.lock");
    assert!(pids(&f["open_by"]).contains(&h.pid), "{f:#}");
}

#[test]
fn explain_without_a_probe_does_not_claim_the_file_is_unlocked() {
    let d = tempdir("explain");
    let lock = d.join("app.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, _) = helper(&format!("lock-exclusive:{}", s(&lock)));
    let text = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_lockscan"))
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plain = text(&["explain", s(&lock)]);
    assert!(!plain.contains("No process holds a lock"), "{plain}");
    assert!(plain.contains("--probe acquire"), "{plain}");
    assert!(plain.contains(&format!("pid {}", h.pid)), "{plain}");
    let probed = text(&["explain", "--probe", "acquire", s(&lock)]);
    assert!(probed.contains("Possibly held by"), "{probed}");
    assert!(probed.contains(&format!("pid {}", h.pid)), "{probed}");
}

#[test]
fn whole_system_scan_lists_lock_named_files_that_processes_have_open() {
    let d = tempdir("system");
    let lock = d.join("svc.lock");
    std::fs::write(&lock, b"").unwrap();
    let (h, _) = helper(&format!("lock-exclusive:{}", s(&lock)));
    // No probe here: an acquiring probe of every lockfile on the system would race
    // the other tests' helpers taking their locks.
    let (_, r) = lockscan(&["--json"]);
    assert!(r["roots"].as_array().unwrap().is_empty());
    let f = file(&r, "svc.lock");
    assert!(pids(&f["open_by"]).contains(&h.pid), "{f:#}");
}
