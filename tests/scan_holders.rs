//! Real processes hold real locks; lockscan's JSON must name exactly the right
//! holders, kinds, modes, ranges and waiters.

#![cfg(target_os = "linux")]

mod common;

use common::*;

fn only_lock(doc: &serde_json::Value, path: &std::path::Path) -> serde_json::Value {
    let f = file(doc, path, false);
    let locks = f["locks"].as_array().unwrap();
    assert_eq!(locks.len(), 1, "expected one lock on {path:?}: {f:#}");
    locks[0].clone()
}

#[test]
fn flock_exclusive_holder_is_named_with_its_fd_and_context() {
    let d = tempdir();
    let p = canon(d.path()).join("app.lock");
    let h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let f = file(&doc, &p, false);
    assert_eq!(f["kind"], "lockfile");
    let l = only_lock(&doc, &p);
    assert_eq!(l["type"], "flock");
    assert_eq!(l["mode"], "write");
    assert_eq!(l["start"], 0);
    assert!(l["end"].is_null());
    assert_eq!(holder_pids(&l), vec![h.pid as i64]);
    assert_eq!(l["locker_pid"], h.pid);
    assert_eq!(l["locker_alive"], true);
    let holder = &l["holders"][0];
    assert_eq!(holder["command"], "python3");
    assert!(holder["cmdline"].as_str().unwrap().contains("holder.py"));
    assert!(holder["fd"].as_i64().unwrap() >= 3);
    assert_eq!(holder["cloexec"], true);
    assert!(holder["started_at"].as_str().unwrap().ends_with('Z'));
    assert!(holder["ppid"].as_i64().unwrap() > 0);
    assert_eq!(holder["uid"], rustix::process::geteuid().as_raw());
}

#[test]
fn posix_byte_range_lock_reports_inclusive_range_and_owner() {
    let d = tempdir();
    let p = canon(d.path()).join("range.lock");
    let h = Holder::start(&[&format!("posix-w:{}:10:20", p.display())]);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let l = only_lock(&doc, &p);
    assert_eq!(l["type"], "posix");
    assert_eq!(l["mode"], "write");
    assert_eq!(l["start"], 10);
    assert_eq!(l["end"], 29);
    assert_eq!(holder_pids(&l), vec![h.pid as i64]);
}

#[test]
fn posix_read_lock_to_eof_has_null_end() {
    let d = tempdir();
    let p = canon(d.path()).join("r.lock");
    let h = Holder::start(&[&format!("posix-r:{}:200:0", p.display())]);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let l = only_lock(&doc, &p);
    assert_eq!(
        (l["type"].as_str(), l["mode"].as_str()),
        (Some("posix"), Some("read"))
    );
    assert_eq!(l["start"], 200);
    assert!(l["end"].is_null());
    assert_eq!(holder_pids(&l), vec![h.pid as i64]);
}

#[test]
fn ofd_lock_is_attributed_although_the_kernel_prints_pid_minus_one() {
    let d = tempdir();
    let p = canon(d.path()).join("ofd.lock");
    let h = Holder::start(&[&format!("ofd-w:{}:0:64", p.display())]);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let l = only_lock(&doc, &p);
    assert_eq!(l["type"], "ofd");
    assert_eq!(l["end"], 63);
    assert!(l["locker_pid"].is_null());
    assert_eq!(holder_pids(&l), vec![h.pid as i64]);
}

/// Two processes each take `action` (a shared lock) on one file: the report must
/// show two locks, each held by exactly one of them.
fn assert_two_readers_told_apart(action: &str, name: &str) {
    let d = tempdir();
    let p = canon(d.path()).join(name);
    let a = Holder::start(&[&format!("{action}:{}", p.display())]);
    let b = Holder::start(&[&format!("{action}:{}", p.display())]);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let f = file(&doc, &p, false);
    let locks = f["locks"].as_array().unwrap();
    assert_eq!(locks.len(), 2, "{f:#}");
    let mut per_lock: Vec<Vec<i64>> = locks.iter().map(holder_pids).collect();
    per_lock.sort();
    let mut want = vec![vec![a.pid as i64], vec![b.pid as i64]];
    want.sort();
    assert_eq!(per_lock, want);
    assert!(
        locks
            .iter()
            .all(|l| l["mode"] == "read" && l["holders_uncertain"] == false)
    );
}

#[test]
fn two_shared_flock_readers_are_two_locks_each_with_its_own_holder() {
    assert_two_readers_told_apart("flock-sh", "shared.lock");
}

#[test]
fn two_shared_ofd_readers_are_told_apart_by_open_file_description() {
    // Both lines read `OFDLCK ADVISORY READ -1 ...`: only kcmp can split them.
    assert_two_readers_told_apart("ofd-r", "ofd-shared.lock");
}

#[test]
fn flock_command_and_its_child_both_hold_the_inherited_lock() {
    let d = tempdir();
    let p = canon(d.path()).join("cron.lock");
    use std::os::unix::process::CommandExt;
    let mut child = std::process::Command::new("flock")
        .arg(&p)
        .args(["sleep", "1000"])
        .process_group(0)
        .spawn()
        .expect("flock(1) from util-linux");
    // Wait for the lock to appear.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let doc = loop {
        let doc = scan_json(&[d.path().to_str().unwrap()]);
        let has_child = doc["files"].as_array().unwrap().iter().any(|f| {
            f["locks"]
                .as_array()
                .is_some_and(|l| l.iter().any(|l| holder_pids(l).len() == 2))
        });
        if has_child || std::time::Instant::now() > deadline {
            break doc;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let l = only_lock(&doc, &p);
    let holders = l["holders"].as_array().unwrap();
    let cmds: Vec<&str> = holders
        .iter()
        .map(|h| h["command"].as_str().unwrap())
        .collect();
    assert!(cmds.contains(&"flock") && cmds.contains(&"sleep"), "{l:#}");
    assert_eq!(l["locker_pid"], child.id() as i64);
    let sleeper = holders.iter().find(|h| h["command"] == "sleep").unwrap();
    assert_eq!(sleeper["ppid"], child.id() as i64);
    let pgid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL).unwrap();
    child.wait().unwrap();
}

#[test]
fn inherited_flock_whose_locker_died_names_the_real_holder_not_the_dead_pid() {
    let d = tempdir();
    let p = canon(d.path()).join("orphan.lock");
    let h = Holder::start(&[&format!("inherit-flock-orphan:{}", p.display())]);
    let sleeper = h.info("child");
    let locker = h.info("locker");
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let l = only_lock(&doc, &p);
    assert_eq!(holder_pids(&l), vec![sleeper as i64], "{l:#}");
    assert_eq!(l["locker_pid"], locker);
    assert_eq!(l["locker_alive"], false);
    assert_eq!(l["holders"][0]["command"], "sleep");
    assert_eq!(l["holders"][0]["cloexec"], false);
}

#[test]
fn blocked_flock_waiter_is_listed_under_the_lock_it_waits_for() {
    let d = tempdir();
    let p = canon(d.path()).join("busy.lock");
    let h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let w = Holder::start(&[&format!("wait-flock-ex:{}", p.display())]);
    wait_blocked(w.pid);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let l = only_lock(&doc, &p);
    assert_eq!(holder_pids(&l), vec![h.pid as i64]);
    assert_eq!(waiter_pids(&l), vec![w.pid as i64]);
    assert_eq!(l["waiters"][0]["depth"], 1);
    assert_eq!(l["waiters"][0]["blocked_by"], h.pid);
    assert!(
        !holder_pids(&l).contains(&(w.pid as i64)),
        "a waiter is not a holder"
    );
    assert!(codes(file(&doc, &p, false)).contains(&"blocked-waiters".to_string()));
}

#[test]
fn blocked_posix_and_ofd_waiters_are_identified() {
    let d = tempdir();
    let px = canon(d.path()).join("px.lock");
    let ofd = canon(d.path()).join("ofd.lock");
    let h = Holder::start(&[
        &format!("posix-w:{}", px.display()),
        &format!("ofd-w:{}", ofd.display()),
    ]);
    let wp = Holder::start(&[&format!("wait-posix-w:{}", px.display())]);
    let wo = Holder::start(&[&format!("wait-ofd-w:{}", ofd.display())]);
    wait_blocked(wp.pid);
    wait_blocked(wo.pid);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let lp = only_lock(&doc, &px);
    assert_eq!(holder_pids(&lp), vec![h.pid as i64]);
    assert_eq!(waiter_pids(&lp), vec![wp.pid as i64]);
    let lo = only_lock(&doc, &ofd);
    assert_eq!(holder_pids(&lo), vec![h.pid as i64]);
    // The kernel prints -1 for the OFD waiter; lockscan finds it through its blocked fcntl.
    assert_eq!(waiter_pids(&lo), vec![wo.pid as i64], "{lo:#}");
}

#[test]
fn lock_on_an_unlinked_file_is_reported_deleted_with_its_holder() {
    let d = tempdir();
    let p = canon(d.path()).join("gone.lock");
    let h = Holder::start(&[&format!("deleted-flock:{}", p.display())]);
    assert!(!p.exists());
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let f = file(&doc, &p, true);
    assert_eq!(f["deleted"], true);
    assert_eq!(holder_pids(&f["locks"][0]), vec![h.pid as i64]);
    assert!(codes(f).contains(&"deleted-lockfile".to_string()));
}

#[test]
fn old_and_new_inode_at_one_path_are_both_reported() {
    // The certbot/neon race: B holds the unlinked inode, C locks the new file.
    let d = tempdir();
    let p = canon(d.path()).join("single.lock");
    let b = Holder::start(&[&format!("deleted-flock:{}", p.display())]);
    let c = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let old = file(&doc, &p, true);
    let new = file(&doc, &p, false);
    assert_eq!(holder_pids(&old["locks"][0]), vec![b.pid as i64]);
    assert_eq!(holder_pids(&new["locks"][0]), vec![c.pid as i64]);
    assert_ne!(old["inode"], new["inode"]);
}

#[test]
fn unlocked_files_are_not_given_locks_and_near_misses_stay_quiet() {
    let d = tempdir();
    let p = canon(d.path()).join("idle.lock");
    std::fs::write(&p, "").unwrap();
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let f = file(&doc, &p, false);
    assert!(f["locks"].as_array().unwrap().is_empty());
    assert!(f["findings"].as_array().unwrap().is_empty());
}

#[test]
fn a_file_locked_under_any_name_is_found_by_its_inode() {
    let d = tempdir();
    let p = canon(d.path()).join("data.sqlite");
    let h = Holder::start(&[&format!("posix-r:{}:1073741826:510", p.display())]);
    let doc = scan_json(&[d.path().to_str().unwrap()]);
    let f = file(&doc, &p, false);
    assert_eq!(f["kind"], "locked-file");
    assert_eq!(holder_pids(&f["locks"][0]), vec![h.pid as i64]);
    assert_eq!(f["locks"][0]["end"], 1073742335u64);
}

#[test]
fn lease_holder_is_reported_and_never_broken() {
    let d = tempdir();
    let p = canon(d.path()).join("leased.pid");
    std::fs::write(&p, "1\n").unwrap();
    let h = Holder::start(&[&format!("lease-r:{}", p.display())]);
    let doc = scan_json(&["--probe", "getlk", d.path().to_str().unwrap()]);
    let f = file(&doc, &p, false);
    let l = &f["locks"][0];
    assert_eq!(l["type"], "lease");
    assert_eq!(l["lease_state"], "active");
    assert_eq!(holder_pids(l), vec![h.pid as i64]);
    assert_eq!(f["probe"]["result"], "skipped");
    // Still ACTIVE: nothing started a break.
    let locks = std::fs::read_to_string("/proc/locks").unwrap();
    assert!(!locks.contains("BREAKING"), "{locks}");
}

#[test]
fn lockfile_renamed_over_while_another_link_lives_is_reported_replaced() {
    let d = tempdir();
    let root = canon(d.path()).join("scanned");
    std::fs::create_dir(&root).unwrap();
    let p = root.join("svc.lock");
    let h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    // Keep the old inode linked outside the scanned tree, then put a new file at the path.
    std::fs::hard_link(&p, canon(d.path()).join("old-copy")).unwrap();
    std::fs::write(root.join("new"), "").unwrap();
    std::fs::rename(root.join("new"), &p).unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let files = doc["files"].as_array().unwrap();
    let old = files
        .iter()
        .find(|f| f["path"] == p.to_str().unwrap() && f["replaced"] == true)
        .unwrap_or_else(|| panic!("no replaced entry: {doc:#}"));
    assert_eq!(holder_pids(&old["locks"][0]), vec![h.pid as i64]);
    assert!(codes(old).contains(&"deleted-lockfile".to_string()));
    let new = files
        .iter()
        .find(|f| f["path"] == p.to_str().unwrap() && f["replaced"] == false)
        .unwrap_or_else(|| panic!("no entry for the new file: {doc:#}"));
    assert!(new["locks"].as_array().unwrap().is_empty());
    assert_ne!(new["inode"], old["inode"]);
}

#[test]
fn many_posix_ranges_of_one_holder_are_one_entry_with_every_range() {
    // Regression: 100,000 record locks of one process were 100,000 lock entries,
    // each with a full copy of the holder (37 MB of JSON, 246 MiB resident).
    let d = tempdir();
    let root = canon(d.path());
    let db = root.join("records.db");
    let h = Holder::start(&[&format!("many-posix:{}:50", db.display())]);
    let doc = scan_json(&[db.to_str().unwrap()]);
    let lock = only_lock(&doc, &db);
    assert_eq!(lock["type"], "posix");
    assert_eq!(holder_pids(&lock), vec![i64::from(h.pid)]);
    assert_eq!(lock["range_count"], 50, "{lock:#}");
    let ranges = lock["ranges"].as_array().unwrap();
    assert_eq!(ranges.len(), 50);
    // One byte every other byte, in order; the entry's start/end are the span.
    for (i, r) in ranges.iter().enumerate() {
        let at = 2 * i as u64;
        assert_eq!(r, &serde_json::json!([at, at]), "range {i}");
    }
    assert_eq!(lock["start"], 0);
    assert_eq!(lock["end"], 98);
    let words = run(&["explain", db.to_str().unwrap()]).stdout;
    assert!(
        words.contains("in 50 ranges: 0-0, 2-2, 4-4 and 47 more"),
        "{words}"
    );
    let prom = run(&["--format", "prometheus", db.to_str().unwrap()]).stdout;
    assert!(
        prom.lines().any(|l| l == "lockscan_locks 50"),
        "every range counts as a lock: {prom}"
    );
}

#[test]
fn every_fd_of_a_process_is_seen_when_the_fd_walk_is_shared_between_threads() {
    // Regression guard for the threaded fd walk: each walker takes every other fd
    // of every process, so an odd count in one process, deleted fds and the
    // holder's own order must all come out whole, each lock with its own fd.
    let d = tempdir();
    let root = canon(d.path());
    let h = Holder::start(&[&format!("many-flock:{}:257", root.display())]);
    let doc = scan_json(&[root.to_str().unwrap()]);
    let mut fds = Vec::new();
    for i in 0..257 {
        let l = only_lock(&doc, &root.join(format!("f{i}.lock")));
        assert_eq!(holder_pids(&l), vec![i64::from(h.pid)], "f{i}.lock: {l:#}");
        fds.push(l["holders"][0]["fd"].as_i64().unwrap());
    }
    fds.sort_unstable();
    fds.dedup();
    assert_eq!(fds.len(), 257, "each lock on its own fd: {fds:?}");
    // The whole-system scan finds the same holders.
    let all = scan_json(&[]);
    let mine = all["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["path"]
                .as_str()
                .is_some_and(|p| p.starts_with(root.to_str().unwrap()))
        })
        .filter(|f| holder_pids(&f["locks"][0]) == vec![i64::from(h.pid)])
        .count();
    assert_eq!(mine, 257);
}
