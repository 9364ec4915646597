//! Each finding code appears for a real case, and stays quiet for its near miss.

#![cfg(target_os = "linux")]

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::Value;

fn has(doc: &Value, path: &Path, code: &str) -> bool {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"] == path.to_str().unwrap())
        .any(|f| codes(f).iter().any(|c| c == code))
}

fn finding<'a>(doc: &'a Value, path: &Path, code: &str) -> &'a Value {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"] == path.to_str().unwrap())
        .flat_map(|f| f["findings"].as_array().unwrap())
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} on {path:?}: {doc:#}"))
}

/// Runs a small Python holder script that prints `ready` once it holds its lock, and
/// waits for that line. `stdin` is the script's standard input (a pty, or null).
fn python_ready(script: &str, stdin: std::process::Stdio) -> std::process::Child {
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(stdin)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert_eq!(line.trim(), "ready", "holder script failed");
    child
}

fn signal(pid: i32, sig: rustix::process::Signal) {
    rustix::process::kill_process(rustix::process::Pid::from_raw(pid).unwrap(), sig).unwrap();
}

fn wait_state(pid: i32, want: char) {
    for _ in 0..500 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        if stat.rsplit(") ").next().and_then(|s| s.chars().next()) == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("pid {pid} never reached state {want}");
}

#[test]
fn holder_stopped_names_the_suspended_holder_and_how_to_continue_it() {
    let d = tempdir();
    let root = canon(d.path());
    let (a, b) = (root.join("stopped.lock"), root.join("running.lock"));
    let stopped = Holder::start(&[&format!("flock-ex:{}", a.display())]);
    let _running = Holder::start(&[&format!("flock-ex:{}", b.display())]);
    signal(stopped.pid, rustix::process::Signal::STOP);
    wait_state(stopped.pid, 'T');
    let doc = scan_json(&[root.to_str().unwrap()]);
    signal(stopped.pid, rustix::process::Signal::CONT);
    let f = finding(&doc, &a, "holder-stopped");
    assert!(
        f["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("kill -CONT {}", stopped.pid))
    );
    assert_eq!(f["severity"], "warning");
    assert!(
        !has(&doc, &b, "holder-stopped"),
        "a running holder is not stopped"
    );
}

#[test]
fn holder_waiting_for_terminal_input_is_reported() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("prompt.lock");
    // A pty for the holder's stdin, so it really blocks reading a terminal.
    let master =
        rustix::pty::openpt(rustix::pty::OpenptFlags::RDWR | rustix::pty::OpenptFlags::NOCTTY)
            .unwrap();
    rustix::pty::grantpt(&master).unwrap();
    rustix::pty::unlockpt(&master).unwrap();
    let name = rustix::pty::ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let script = format!(
        "import fcntl,os,sys\nfd=os.open({:?},os.O_RDWR|os.O_CREAT)\nfcntl.flock(fd,fcntl.LOCK_EX)\nprint('ready',flush=True)\nsys.stdin.readline()\n",
        p.to_str().unwrap()
    );
    let mut child = python_ready(&script, slave.into());
    let pid = child.id() as i32;
    for _ in 0..300 {
        let w = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if w.contains("tty") || w.contains("wait_woken") {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Near miss: a holder blocked reading a pipe, not a terminal.
    let piped = root.join("piped.lock");
    let _quiet = Holder::start(&[&format!("flock-ex:{}", piped.display())]);
    let doc = scan_json(&[root.to_str().unwrap()]);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(master);
    let f = finding(&doc, &p, "holder-waiting-input");
    assert!(f["message"].as_str().unwrap().contains("/dev/pts/"), "{f}");
    assert!(!has(&doc, &piped, "holder-waiting-input"));
}

#[test]
fn holder_zombie_is_reported_for_a_posix_lock_kept_by_a_surviving_thread() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("zombie.lock");
    // The main thread takes a POSIX lock, starts a thread that lives on, then exits
    // alone (SYS_exit): the process shows as a zombie while it still owns the lock.
    let script = format!(
        "import fcntl,os,threading,time,ctypes\nfd=os.open({:?},os.O_RDWR|os.O_CREAT)\nfcntl.lockf(fd,fcntl.LOCK_EX)\nthreading.Thread(target=lambda: time.sleep(30)).start()\nprint('ready',flush=True)\nctypes.CDLL(None).syscall(60,0)\n",
        p.to_str().unwrap()
    );
    let mut child = python_ready(&script, std::process::Stdio::null());
    let pid = child.id() as i32;
    wait_state(pid, 'Z');
    let doc = scan_json(&[root.to_str().unwrap()]);
    child.kill().unwrap();
    child.wait().unwrap();
    let f = finding(&doc, &p, "holder-zombie");
    assert!(f["message"].as_str().unwrap().contains(&pid.to_string()));
}

#[test]
fn held_long_respects_max_age() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("long.lock");
    let _h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    std::thread::sleep(Duration::from_millis(2100));
    let doc = scan_json(&["--max-age", "1s", root.to_str().unwrap()]);
    assert!(has(&doc, &p, "held-long"), "{doc:#}");
    let doc = scan_json(&["--max-age", "1h", root.to_str().unwrap()]);
    assert!(!has(&doc, &p, "held-long"));
    let doc = scan_json(&[root.to_str().unwrap()]);
    assert!(!has(&doc, &p, "held-long"), "off by default");
}

#[test]
fn leaked_fd_names_the_inheriting_holder_and_the_dead_locker() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("leak.lock");
    let h = Holder::start(&[&format!("inherit-flock-orphan:{}", p.display())]);
    let doc = scan_json(&[root.to_str().unwrap()]);
    let f = finding(&doc, &p, "leaked-fd");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("pid {} (sleep)", h.info("child"))),
        "{msg}"
    );
    assert!(msg.contains(&format!("pid {}", h.info("locker"))), "{msg}");
}

#[test]
fn leaked_fd_when_the_live_locker_closed_its_copy() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("handed.lock");
    let _h = Holder::start(&[&format!("inherit-flock:{}", p.display())]);
    let doc = scan_json(&[root.to_str().unwrap()]);
    assert!(has(&doc, &p, "leaked-fd"), "{doc:#}");
}

#[test]
fn no_leaked_fd_for_flock_command_children_or_cloexec_holders() {
    use std::os::unix::process::CommandExt;
    let d = tempdir();
    let root = canon(d.path());
    let (a, b) = (root.join("cmd.lock"), root.join("plain.lock"));
    let mut fl = std::process::Command::new("flock")
        .arg(&a)
        .args(["sleep", "1000"])
        .process_group(0)
        .spawn()
        .unwrap();
    let h = Holder::start(&[&format!("flock-ex:{}", b.display())]);
    // Holders of each file's locks (empty until the file is locked and in the report).
    let holders_of = |doc: &Value, p: &Path| -> Vec<i64> {
        doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["path"] == p.to_str().unwrap())
            .flat_map(|f| f["locks"].as_array().unwrap().iter().flat_map(holder_pids))
            .collect()
    };
    // flock(1) takes its lock, then starts sleep: wait until both hold it.
    let mut doc = scan_json(&[root.to_str().unwrap()]);
    for _ in 0..100 {
        if holders_of(&doc, &a).len() + holders_of(&doc, &b).len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(30));
        doc = scan_json(&[root.to_str().unwrap()]);
    }
    let flock_pid = fl.id() as i64;
    let pgid = rustix::process::Pid::from_raw(fl.id() as i32).unwrap();
    rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
    fl.wait().unwrap();
    // The three holders: flock(1) and its sleep on cmd.lock, the holder on plain.lock.
    let cmd_holders = holders_of(&doc, &a);
    assert_eq!(cmd_holders.len(), 2, "flock and sleep: {doc:#}");
    assert!(cmd_holders.contains(&flock_pid), "{doc:#}");
    assert_eq!(holders_of(&doc, &b), vec![h.pid as i64], "{doc:#}");
    assert!(!has(&doc, &a, "leaked-fd"), "{doc:#}");
    assert!(!has(&doc, &b, "leaked-fd"));
}

#[test]
fn split_brain_when_old_and_new_inode_are_both_locked() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("single.lock");
    let lone = root.join("lone.lock");
    let _old = Holder::start(&[&format!("deleted-flock:{}", p.display())]);
    let _new = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let _lone = Holder::start(&[&format!("deleted-flock:{}", lone.display())]);
    let doc = scan_json(&[root.to_str().unwrap()]);
    let f = finding(&doc, &p, "split-brain");
    assert_eq!(f["severity"], "error");
    // One deleted lock alone is deleted-lockfile, not split-brain.
    assert!(has(&doc, &lone, "deleted-lockfile"));
    assert!(!has(&doc, &lone, "split-brain"));
}

#[test]
fn world_writable_file_or_directory_is_reported_but_a_sticky_dir_is_not() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempdir();
    let root = canon(d.path());
    let set =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    for dir in ["open", "sticky", "normal"] {
        std::fs::create_dir(root.join(dir)).unwrap();
    }
    set(&root.join("open"), 0o777);
    set(&root.join("sticky"), 0o1777);
    set(&root.join("normal"), 0o755);
    let files = [
        ("open/a.lock", 0o644, true),
        ("sticky/b.lock", 0o644, false),
        ("normal/c.lock", 0o666, true),
        ("normal/d.lock", 0o644, false),
    ];
    for (f, mode, _) in files {
        std::fs::write(root.join(f), "").unwrap();
        set(&root.join(f), mode);
    }
    let doc = scan_json(&[root.to_str().unwrap()]);
    for (f, _, want) in files {
        assert_eq!(
            has(&doc, &root.join(f), "world-writable"),
            want,
            "{f}: {doc:#}"
        );
    }
}

#[test]
fn foreign_owner_in_a_root_directory() {
    require!(need_root());
    let d = tempdir();
    let root = canon(d.path());
    let (theirs, ours) = (root.join("theirs.lock"), root.join("ours.lock"));
    std::fs::write(&theirs, "").unwrap();
    std::fs::write(&ours, "").unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    assert!(has(&doc, &theirs, "foreign-owner"));
    assert!(!has(&doc, &ours, "foreign-owner"));
}

#[test]
fn pid_reused_when_the_file_predates_the_process_or_the_boot() {
    let d = tempdir();
    let root = canon(d.path());
    let me = std::process::id();
    let (old, fresh) = (root.join("old.pid"), root.join("fresh.pid"));
    std::fs::write(&old, format!("{me}\n")).unwrap();
    std::fs::write(&fresh, format!("{me}\n")).unwrap();
    // Written "in 2001": before this boot, so pid `me` cannot be its writer.
    let t = std::time::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(t)
        .unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let f = file(&doc, &old, false);
    assert_eq!(f["pidfile"]["status"], "running");
    assert_eq!(f["pidfile"]["verdict"], "stale");
    assert!(has(&doc, &old, "pid-reused"));
    assert!(!has(&doc, &old, "stale-pidfile"));
    assert_eq!(file(&doc, &fresh, false)["pidfile"]["verdict"], "live");
    assert!(!has(&doc, &fresh, "pid-reused"));
}

/// The regression: a pidfile naming pid 2 (kthreadd, a kernel thread since boot, so no
/// start-time evidence against it) was "pid 2 running kthreadd, do not delete". A
/// kernel thread never writes a pidfile: its pid was taken since, as with any reuse.
#[test]
fn a_pidfile_naming_a_kernel_thread_is_reused_not_running_do_not_delete() {
    // PF_KTHREAD in /proc/2/stat's flags (the 9th field): only in the initial pid
    // namespace is pid 2 kthreadd.
    let stat = std::fs::read_to_string("/proc/2/stat").unwrap_or_default();
    let flags: u32 = stat
        .rsplit(") ")
        .next()
        .and_then(|rest| rest.split(' ').nth(6))
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    require!(need(
        flags & 0x0020_0000 != 0,
        "a kernel thread at pid 2 (kthreadd: the initial pid namespace)",
        "CI runs on a VM, not in a container"
    ));
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("kthread.pid");
    std::fs::write(&p, "2\n").unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let f = file(&doc, &p, false);
    assert_eq!(f["pidfile"]["status"], "running", "{f:#}");
    assert_eq!(f["pidfile"]["verdict"], "stale", "{f:#}");
    assert_eq!(f["pidfile"]["process"]["kernel_thread"], true, "{f:#}");
    assert!(
        f["pidfile"]["reason"]
            .as_str()
            .unwrap()
            .contains("kernel thread"),
        "{f:#}"
    );
    assert_ne!(f["safe_to_delete"]["verdict"], "no", "{f:#}");
    assert!(has(&doc, &p, "pid-reused"), "{f:#}");
    let r = run(&["--color", "never", p.to_str().unwrap()]);
    assert!(r.stdout.contains("(kernel thread)"), "{}", r.stdout);
    assert!(!r.stdout.contains("do not delete"), "{}", r.stdout);
    // An ordinary live process is no kernel thread: the field is absent.
    let me = root.join("me.pid");
    std::fs::write(&me, format!("{}\n", std::process::id())).unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let f = file(&doc, &me, false);
    assert_eq!(f["pidfile"]["verdict"], "live", "{f:#}");
    assert!(
        f["pidfile"]["process"].get("kernel_thread").is_none(),
        "{f:#}"
    );
}

#[test]
fn stale_pidfile_for_a_zombie_but_not_for_a_live_process() {
    let d = tempdir();
    let root = canon(d.path());
    // A child that exits and is not reaped yet.
    let mut z = std::process::Command::new("true").spawn().unwrap();
    let zp = z.id() as i32;
    wait_state(zp, 'Z');
    std::fs::write(root.join("z.pid"), format!("{zp}\n")).unwrap();
    std::fs::write(root.join("live.pid"), format!("{}\n", std::process::id())).unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    z.wait().unwrap();
    assert!(has(&doc, &root.join("z.pid"), "stale-pidfile"));
    assert!(!has(&doc, &root.join("live.pid"), "stale-pidfile"));
}

#[test]
fn remote_filesystem_finding_on_fuse_and_not_on_local_disk() {
    let d = tempdir();
    let root = canon(d.path());
    let (src, mnt) = (root.join("src"), root.join("mnt"));
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&mnt).unwrap();
    std::fs::write(src.join("app.lock"), "").unwrap();
    let fuse = require!(Bindfs::mount(&src, &mnt));
    let doc = scan_json(&[root.to_str().unwrap()]);
    drop(fuse);
    let fs = &file(&doc, &mnt.join("app.lock"), false)["filesystem"];
    assert_eq!(
        (fs["remote"].as_bool(), fs["locality"].as_str()),
        (Some(true), Some("fuse"))
    );
    assert!(fs["type"].as_str().unwrap().starts_with("fuse"));
    let f = finding(&doc, &mnt.join("app.lock"), "remote-filesystem");
    assert!(f["message"].as_str().unwrap().contains("FUSE"));
    assert!(!has(&doc, &src.join("app.lock"), "remote-filesystem"));
}

#[test]
fn fail_on_sets_the_severity_that_fails() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("busy.lock");
    let _h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let w = Holder::start(&[&format!("wait-flock-ex:{}", p.display())]);
    wait_blocked(w.pid);
    // Only info findings (blocked-waiters): 0 by default, 1 with --fail-on info.
    let r = run(&["--json", root.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = run(&["--json", "--fail-on", "info", root.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    std::fs::write(root.join("dead.pid"), dead_pid().to_string()).unwrap();
    let r = run(&["--json", "--fail-on", "error", root.to_str().unwrap()]);
    assert_eq!(r.code, 0, "warnings do not fail with --fail-on error");
    let r = run(&["--json", root.to_str().unwrap()]);
    assert_eq!(r.code, 1);
}

#[test]
fn codes_lists_every_rule_with_an_explanation() {
    let r = run(&["codes"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // One block per rule, blank-line separated: `code (severity)`, then the
    // explanation wrapped and indented.
    let printed: Vec<(String, String)> = r
        .stdout
        .split("\n\n")
        .map(|block| {
            let (head, body) = block.split_once('\n').unwrap_or((block, ""));
            assert!(
                body.lines().all(|l| l.starts_with("    ")),
                "unindented explanation line in:\n{block}"
            );
            let text = body.split_whitespace().collect::<Vec<_>>().join(" ");
            (head.to_string(), text)
        })
        .collect();
    let rules = lockscan::diagnose::RULES;
    assert!(!rules.is_empty());
    // Every rule, with its explanation...
    for rule in rules {
        let head = format!("{} ({})", rule.code, rule.severity.as_str());
        let (_, text) = printed
            .iter()
            .find(|(h, _)| *h == head)
            .unwrap_or_else(|| panic!("{head} missing from:\n{}", r.stdout));
        assert!(!text.is_empty(), "{} has no explanation", rule.code);
        assert_eq!(
            *text,
            rule.explanation
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
            "{}",
            rule.code
        );
    }
    // ...and nothing else, in the rules' order.
    let heads: Vec<&str> = printed.iter().map(|(h, _)| h.as_str()).collect();
    let want: Vec<String> = rules
        .iter()
        .map(|r| format!("{} ({})", r.code, r.severity.as_str()))
        .collect();
    assert_eq!(heads, want, "{}", r.stdout);
}

#[test]
fn explain_tells_who_holds_who_waits_and_what_to_do() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join(".certbot.lock");
    let h = Holder::start(&[&format!("posix-w:{}", p.display())]);
    let w = Holder::start(&[&format!("wait-posix-w:{}", p.display())]);
    wait_blocked(w.pid);
    let r = run(&["explain", p.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains(&format!("Held by pid {} (python3)", h.pid)),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains(&format!("Waiting: pid {} (python3)", w.pid)),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("What to do:"), "{}", r.stdout);
    assert!(r.stdout.contains("started by:"), "{}", r.stdout);
    // Stopped holder: the advice is to continue or end it.
    signal(h.pid, rustix::process::Signal::STOP);
    wait_state(h.pid, 'T');
    let r = run(&["explain", p.to_str().unwrap()]);
    signal(h.pid, rustix::process::Signal::CONT);
    assert!(
        r.stdout.contains(&format!("kill -CONT {}", h.pid)),
        "{}",
        r.stdout
    );
}

/// Undoes the stopped-FUSE setup whatever happens, so a failing assertion can never
/// leave a hung mount behind (removing the temp dir would hang on it).
struct FuseCleanup {
    daemon: std::process::Child,
    holder: Option<std::process::Child>,
    mnt: std::path::PathBuf,
}

impl Drop for FuseCleanup {
    fn drop(&mut self) {
        let pid = self.daemon.id() as i32;
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::CONT,
        );
        if let Some(h) = &mut self.holder {
            let _ = h.kill();
            let _ = h.wait();
        }
        let _ = std::process::Command::new("fusermount")
            .args(["-u", self.mnt.to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .status();
        // Where only fuse3's fusermount3 is installed; root may unmount directly.
        let _ = std::process::Command::new("umount")
            .arg(&self.mnt)
            .stderr(std::process::Stdio::null())
            .status();
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

#[test]
fn holder_uninterruptible_when_it_hangs_on_a_stopped_fuse_daemon() {
    require!(need_root());
    require!(need_tool("bindfs"));
    require!(need_fuse());
    let d = tempdir();
    let root = canon(d.path());
    let (src, mnt, locks) = (root.join("src"), root.join("mnt"), root.join("locks"));
    for p in [&src, &mnt, &locks] {
        std::fs::create_dir(p).unwrap();
    }
    std::fs::write(src.join("x"), "").unwrap();
    // Foreground bindfs, so its pid is ours to stop.
    let daemon = std::process::Command::new("bindfs")
        .args(["-f", src.to_str().unwrap(), mnt.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut guard = FuseCleanup {
        daemon,
        holder: None,
        mnt: mnt.clone(),
    };
    require!(wait_mounted(&mnt, "bindfs"));
    let lock = locks.join("d.lock");
    signal(guard.daemon.id() as i32, rustix::process::Signal::STOP);
    // The holder takes its lock, then touches the stopped mount. FUSE first waits
    // interruptibly (S); a signal makes it wait killably, which shows as D.
    let script = format!(
        "import fcntl,os,signal\nsignal.signal(signal.SIGALRM, lambda *a: None)\nfd=os.open({:?},os.O_RDWR|os.O_CREAT)\nfcntl.flock(fd,fcntl.LOCK_EX)\nprint('ready',flush=True)\nsignal.alarm(1)\nos.stat({:?})\n",
        lock.to_str().unwrap(),
        mnt.join("x").to_str().unwrap()
    );
    let holder = python_ready(&script, std::process::Stdio::null());
    let hpid = holder.id() as i32;
    guard.holder = Some(holder);
    wait_state(hpid, 'D');
    // Scan only the lock directory: the stopped mount itself would hang anyone who enters it.
    let doc = scan_json(&[locks.to_str().unwrap()]);
    drop(guard);
    assert!(has(&doc, &lock, "holder-uninterruptible"), "{doc:#}");
}

#[test]
fn partial_visibility_names_the_hidden_processes_and_goes_away_when_vouched_for() {
    require!(need_root());
    require!(need_tool("setpriv"));
    let d = tempdir();
    let root = canon(d.path());
    // A root-owned process with a locked file open (outside the scanned tree); lockscan
    // run as nobody cannot read its fds.
    let other = tempdir();
    let hidden = Holder::start(&[&format!(
        "flock-ex:{}",
        canon(other.path()).join("hidden.lock").display()
    )]);
    let partial = |doc: &Value| -> Option<Value> {
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["code"] == "partial-visibility")
            .cloned()
    };
    let doc = scan_json_as_nobody(&[root.to_str().unwrap()]);
    let denied = denied_pids(&doc);
    assert!(denied.contains(&(hidden.pid as i64)), "{denied:?}");
    assert_eq!(doc["visibility"]["processes_denied"], denied.len());
    let f = partial(&doc).unwrap_or_else(|| panic!("no partial-visibility: {doc:#}"));
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("of {} of ", denied.len())),
        "the count of hidden processes: {msg}"
    );
    assert!(
        msg.contains(&format!("(pid {}", denied[0])),
        "names a hidden pid: {msg}"
    );
    assert_eq!(f["severity"], "info");
    // Vouching for every hidden process (--ignore-pid) makes the view complete. Other
    // tests start root processes meanwhile: vouch for those too until none is new.
    let mut vouched: std::collections::BTreeSet<i64> = denied.into_iter().collect();
    let mut complete = None;
    for _ in 0..20 {
        let mut args: Vec<String> = vouched
            .iter()
            .flat_map(|p| ["--ignore-pid".into(), p.to_string()])
            .collect();
        args.push(root.to_str().unwrap().into());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let doc = scan_json_as_nobody(&a);
        let left = denied_pids(&doc);
        assert!(
            left.iter().all(|p| !vouched.contains(p)),
            "a vouched-for pid is still reported hidden: {left:?}"
        );
        assert_eq!(partial(&doc).is_some(), !left.is_empty(), "{doc:#}");
        if left.is_empty() {
            complete = Some(doc);
            break;
        }
        vouched.extend(left);
    }
    let doc = complete.expect("new hidden processes kept appearing in 20 scans");
    assert_eq!(doc["visibility"]["processes_denied"], 0);
    assert!(partial(&doc).is_none(), "{doc:#}");
    drop(hidden);
}

#[test]
fn no_blocked_waiters_finding_without_waiters() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("calm.lock");
    let _h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let doc = scan_json(&[root.to_str().unwrap()]);
    assert!(!has(&doc, &p, "blocked-waiters"));
    assert!(codes(file(&doc, &p, false)).is_empty(), "{doc:#}");
}

/// A root holder's OFD write lock on `f` in a directory `nobody` can read, and, if
/// asked, a root waiter blocked on it in F_OFD_SETLKW. Run as `nobody`, lockscan can
/// read neither the holder's fds nor the waiter's /proc/PID/syscall.
struct HiddenOfd {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    _holder: Holder,
    _waiter: Option<Holder>,
}

fn hidden_ofd_lock(with_waiter: bool) -> HiddenOfd {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    let root = canon(dir.path());
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = root.join("f");
    let holder = Holder::start(&[&format!("ofd-w:{}", path.display())]);
    let waiter = with_waiter.then(|| {
        let w = Holder::start(&[&format!("wait-ofd-w:{}", path.display())]);
        wait_blocked(w.pid);
        w
    });
    HiddenOfd {
        _dir: dir,
        path,
        _holder: holder,
        _waiter: waiter,
    }
}

/// The regression: "A ofd write lock on the whole file is held, ..."; OFD is said
/// O-F-D, so it is "An ofd write lock".
#[test]
fn explain_says_an_ofd_lock_not_a_ofd_lock() {
    require!(need_root());
    require!(need_tool("setpriv"));
    let h = hidden_ofd_lock(false);
    let r = run_cmd(&mut lockscan_as_nobody(&[
        "explain",
        h.path.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("An ofd write lock on the whole file is held, but no process shows it"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("A ofd"), "{}", r.stdout);
}

/// The regression: an OFD waiter whose blocked call could not be seen was shown as
/// "-1 ?" in the table, "pid -1 (?)" in explain and the blocked-waiters finding, and
/// as a process with pid -1 in JSON.
#[test]
fn an_ofd_waiter_that_cannot_be_identified_is_never_shown_as_pid_minus_one() {
    require!(need_root());
    require!(need_tool("setpriv"));
    let h = hidden_ofd_lock(true);
    let path = h.path.to_str().unwrap();
    let doc = scan_json_as_nobody(&[path]);
    let f = file(&doc, &h.path, false);
    let lock = &f["locks"][0];
    assert_eq!(lock["type"], "ofd", "{f:#}");
    assert!(lock["waiters"].as_array().unwrap().is_empty(), "{f:#}");
    let unidentified = lock["unidentified_waiters"].as_array().unwrap();
    assert_eq!(unidentified.len(), 1, "{f:#}");
    assert_eq!(unidentified[0]["mode"], "write");
    assert!(unidentified[0].get("pid").is_none(), "{f:#}");
    let blocked = finding(&doc, &h.path, "blocked-waiters")["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        blocked.contains("1 process(es) waiting: a waiter lockscan could not identify"),
        "{blocked}"
    );
    for args in [vec!["--color", "never", path], vec!["explain", path]] {
        let r = run_cmd(&mut lockscan_as_nobody(&args));
        assert!(r.code == 0 || r.code == 1, "{args:?}: {}", r.stderr);
        assert!(
            r.stdout.contains("a waiter lockscan could not identify"),
            "{args:?}: {}",
            r.stdout
        );
        // (The reason may quote the kernel's -1; no process is shown with it.)
        for shown_as_process in ["-1 ?", "pid -1 (", "Waiting: pid -1", "waiting: pid -1"] {
            assert!(
                !r.stdout.contains(shown_as_process),
                "{args:?}: {}",
                r.stdout
            );
        }
    }
}
