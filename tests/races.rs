//! A tree that changes while it is scanned: a directory swapped for a symlink the
//! moment the walk opens it (by an unprivileged user, against a root scan), and
//! processes taking, passing on and dropping locks as fast as they can.

#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Run as `nobody`: watches `T/d` with inotify and, the moment anything opens or
/// reads it (the walk listing it), renames it to `T/d.old` and puts a symlink
/// `T/d -> TARGET` in its place, then prints `swapped`. Each `arm` line on stdin
/// puts the directory back and watches again, then prints `armed`.
const SWAPPER: &str = r#"
import ctypes, os, select, sys
libc = ctypes.CDLL(None, use_errno=True)
IN_ACCESS, IN_OPEN = 0x1, 0x20
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
top, target = sys.argv[1], sys.argv[2]
d, old = os.path.join(top, "d"), os.path.join(top, "d.old")
ifd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
if ifd < 0:
    sys.exit("inotify_init1: errno %d" % ctypes.get_errno())
swapped = armed = False

def drain():
    while True:
        try:
            os.read(ifd, 65536)
        except BlockingIOError:
            return

def say(word):
    os.write(1, word.encode() + b"\n")

while True:
    ready, _, _ = select.select([ifd, 0], [], [])
    if 0 in ready:
        if not os.read(0, 64):
            break
        if swapped:
            os.unlink(d)
            os.rename(old, d)
            swapped = False
        if libc.inotify_add_watch(ifd, d.encode(), IN_OPEN | IN_ACCESS) < 0:
            sys.exit("inotify_add_watch: errno %d" % ctypes.get_errno())
        drain()
        armed = True
        say("armed")
    elif ifd in ready:
        drain()
        if armed and not swapped:
            os.rename(d, old)
            os.symlink(target, d)
            swapped, armed = True, False
            say("swapped")
"#;

/// The system's python3, which `nobody` can run (a pyenv shim under /root is not).
const SYSTEM_PYTHON: &str = "/usr/bin/python3";

struct Swapper {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    swaps: usize,
}

impl Swapper {
    fn start(top: &Path, target: &Path) -> Swapper {
        let mut child = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                SYSTEM_PYTHON,
                "-c",
                SWAPPER,
            ])
            .args([top, target])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take().unwrap();
        Swapper {
            child,
            stdin,
            lines,
            swaps: 0,
        }
    }

    /// Restores `T/d` and waits until the swapper watches it again.
    fn arm(&mut self) {
        writeln!(self.stdin, "arm").unwrap();
        self.stdin.flush().unwrap();
        loop {
            match self.lines.recv_timeout(Duration::from_secs(10)) {
                Ok(l) if l == "armed" => return,
                Ok(l) if l == "swapped" => self.swaps += 1,
                other => panic!("swapper: {other:?} ({:?})", self.child.try_wait()),
            }
        }
    }
}

impl Drop for Swapper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Counts opens and reads of one file, by anyone, through inotify.
struct OpenWatch(std::os::fd::OwnedFd);

impl OpenWatch {
    fn new(path: &Path) -> OpenWatch {
        use std::os::fd::FromRawFd;
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: plain syscalls; the fd is owned from here on.
        unsafe {
            let fd = libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC);
            assert!(
                fd >= 0,
                "inotify_init1: {}",
                std::io::Error::last_os_error()
            );
            let fd = std::os::fd::OwnedFd::from_raw_fd(fd);
            let wd = libc::inotify_add_watch(
                std::os::fd::AsRawFd::as_raw_fd(&fd),
                c.as_ptr(),
                libc::IN_OPEN | libc::IN_ACCESS,
            );
            assert!(
                wd >= 0,
                "inotify_add_watch: {}",
                std::io::Error::last_os_error()
            );
            OpenWatch(fd)
        }
    }

    /// Events since the last call.
    fn take(&self) -> usize {
        let mut n = 0;
        let mut buf = [0u8; 4096];
        loop {
            match rustix::io::read(&self.0, &mut buf) {
                Ok(len) if len > 0 => {
                    let mut off = 0;
                    while off + 16 <= len {
                        let name_len =
                            u32::from_ne_bytes(buf[off + 12..off + 16].try_into().unwrap());
                        off += 16 + name_len as usize;
                        n += 1;
                    }
                }
                _ => return n,
            }
        }
    }
}

#[test]
fn directory_swapped_for_a_symlink_mid_walk_never_leads_a_root_scan_out_of_the_tree() {
    require!(need_root());
    require!(need_tool("setpriv"));
    require!(need(
        Path::new(SYSTEM_PYTHON).exists(),
        format!("{SYSTEM_PYTHON}, runnable by nobody"),
        ".ci/run installs python3 (apt)",
    ));
    // The root-only file the symlink points at: a pid and a token of its own.
    let secret_dir = tempfile::Builder::new()
        .prefix("lockscan-secret-")
        .tempdir_in("/root")
        .unwrap();
    let secret = canon(secret_dir.path());
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o700)).unwrap();
    let token = format!("ROOTONLY{}", std::process::id());
    std::fs::write(secret.join("app.pid"), format!("4242\n{token}\n")).unwrap();
    std::fs::set_permissions(
        secret.join("app.pid"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // nobody's tree T/d/app.pid, with a dead pid.
    let d = tempdir();
    let top = canon(d.path());
    std::fs::create_dir(top.join("d")).unwrap();
    std::fs::write(top.join("d/app.pid"), format!("{}\n", dead_pid())).unwrap();
    for p in [top.clone(), top.join("d"), top.join("d/app.pid")] {
        std::os::unix::fs::chown(&p, Some(65534), Some(65534)).unwrap();
        let mode = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let watch = OpenWatch::new(&secret.join("app.pid"));
    let mut swapper = Swapper::start(&top, &secret);
    let runs = 200;
    let (mut read_runs, mut opened_runs) = (Vec::new(), Vec::new());
    for i in 0..runs {
        swapper.arm();
        let acquire = i % 2 == 1;
        let mut args = vec!["--json"];
        if acquire {
            args.extend(["--probe", "acquire"]);
        }
        args.push(top.to_str().unwrap());
        let r = run(&args);
        assert!(r.code == 0 || r.code == 1, "run {i}: {}", r.stderr);
        let doc: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("run {i}: bad JSON ({e}): {}", r.stdout));
        let leaked = r.stdout.contains(&token)
            || r.stderr.contains(&token)
            || doc["files"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["pidfile"]["pid"] == 4242);
        if leaked {
            read_runs.push((i, acquire));
        }
        if watch.take() > 0 {
            opened_runs.push((i, acquire));
        }
    }
    swapper.arm();
    let swaps = swapper.swaps;
    drop(swapper);
    assert!(
        swaps > 0,
        "the swapper never saw the walk open T/d: the race was not run"
    );
    let first = |v: &[(usize, bool)]| v.iter().take(8).copied().collect::<Vec<_>>();
    assert!(
        read_runs.is_empty() && opened_runs.is_empty(),
        "of {runs} root scans (odd ones with --probe acquire; the directory was swapped in \
         {swaps}), the root-only file's content showed in {} (first: {:?}) and the file was \
         opened (read or locked) in {} (first: {:?}) (run, acquire)",
        read_runs.len(),
        first(&read_runs),
        opened_runs.len(),
        first(&opened_runs),
    );
}

/// One churner: takes flock (shared or exclusive), POSIX or OFD locks on a few
/// files in DIR, and while holding one forks a child that inherits it, renames the
/// file over another, or unlinks it; for SECONDS. Prints `pid N` for itself and
/// every child, with single writes (lines from many processes share the pipe).
const CHURNER: &str = r#"
import fcntl, os, random, struct, sys, time
d, idx, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
rnd = random.Random(idx)
F_OFD_SETLK = 37
def note(pid):
    os.write(1, b"pid %d\n" % pid)
note(os.getpid())
names = ["f%d.lock" % i for i in range(6)]
end = time.monotonic() + secs
while time.monotonic() < end:
    p = os.path.join(d, rnd.choice(names))
    try:
        fd = os.open(p, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        continue
    kind = rnd.randrange(3)
    try:
        if kind == 0:
            fcntl.flock(fd, rnd.choice([fcntl.LOCK_EX, fcntl.LOCK_SH]) | fcntl.LOCK_NB)
        elif kind == 1:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1 + rnd.randrange(8), rnd.randrange(8))
        else:
            fl = struct.pack("hhqqi4x", fcntl.F_WRLCK, 0, rnd.randrange(8), 1 + rnd.randrange(8), 0)
            fcntl.fcntl(fd, F_OFD_SETLK, fl)
    except OSError:
        os.close(fd)
        continue
    act = rnd.randrange(4)
    if act == 0:
        pid = os.fork()
        if pid == 0:
            time.sleep(rnd.random() * 0.01)
            os._exit(0)
        note(pid)
    elif act == 1:
        try:
            os.rename(p, os.path.join(d, rnd.choice(names)))
        except OSError:
            pass
    elif act == 2:
        try:
            os.unlink(p)
        except OSError:
            pass
    time.sleep(rnd.random() * 0.005)
    os.close(fd)
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
"#;

#[test]
fn scans_during_lock_churn_finish_with_valid_json_and_only_real_holders() {
    require!(need_tool("python3"));
    let d = tempdir();
    let dir = canon(d.path());
    let secs = 10;
    let churners: Vec<Child> = (0..9)
        .map(|i| {
            Command::new("python3")
                .args(["-c", CHURNER, dir.to_str().unwrap(), &i.to_string()])
                .arg(secs.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap()
        })
        .collect();
    let readers: Vec<_> = churners
        .into_iter()
        .map(|mut c| {
            let out = c.stdout.take().unwrap();
            std::thread::spawn(move || {
                let text = std::io::read_to_string(out).unwrap_or_default();
                let status = c.wait().unwrap();
                (text, status)
            })
        })
        .collect();
    let prefix = format!("{}/", dir.display());
    let start = Instant::now();
    let mut reported: Vec<(usize, String, i64)> = Vec::new();
    let mut runs = 0;
    while start.elapsed() < Duration::from_secs(secs) {
        let whole = runs % 2 == 0;
        let args: Vec<&str> = if whole {
            vec!["--json"]
        } else {
            vec!["--json", dir.to_str().unwrap()]
        };
        let r = run(&args);
        assert!(
            r.code == 0 || r.code == 1,
            "run {runs} {args:?} exited {}: {}",
            r.code,
            r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "run {runs}: {}", r.stderr);
        let doc: Value = serde_json::from_str(&r.stdout)
            .unwrap_or_else(|e| panic!("run {runs} {args:?}: bad JSON ({e}): {}", r.stdout));
        for f in doc["files"].as_array().unwrap() {
            let Some(path) = f["path"].as_str() else {
                continue;
            };
            if !path.starts_with(&prefix) {
                continue;
            }
            for lock in f["locks"].as_array().unwrap() {
                for pid in holder_pids(lock) {
                    reported.push((runs, path.to_string(), pid));
                }
            }
        }
        runs += 1;
    }
    let mut churner_pids = BTreeSet::new();
    for r in readers {
        let (text, status) = r.join().unwrap();
        assert!(status.success(), "a churner failed: {status}");
        for line in text.lines() {
            let pid = line
                .strip_prefix("pid ")
                .and_then(|p| p.parse::<i64>().ok());
            churner_pids.insert(pid.unwrap_or_else(|| panic!("churner said {line:?}")));
        }
    }
    assert!(runs >= 10, "only {runs} scans in {secs} s");
    assert!(
        !reported.is_empty(),
        "no churn lock was seen in {runs} scans: the test exercised nothing"
    );
    let wrong: Vec<_> = reported
        .iter()
        .filter(|(_, _, pid)| !churner_pids.contains(pid))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} reported holders were never churners (run, file, pid): {wrong:?}",
        wrong.len(),
        reported.len()
    );
}
