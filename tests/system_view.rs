//! The whole-system view against lslocks, and file identity by (device, inode).

#![cfg(target_os = "linux")]

mod common;

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;

use common::*;

fn lslocks_json() -> Option<serde_json::Value> {
    let out = std::process::Command::new("lslocks")
        .args(["-J", "-o", "COMMAND,PID,TYPE,INODE,MAJ:MIN,PATH"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn alive(pid: i64) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn every_live_pid_inode_pair_lslocks_reports_is_in_the_system_view() {
    let d = tempdir();
    let root = canon(d.path());
    let _a = Holder::start(&[
        &format!("flock-ex:{}", root.join("f.lock").display()),
        &format!("posix-w:{}:0:10", root.join("p.lock").display()),
        &format!("ofd-w:{}", root.join("o.lock").display()),
    ]);
    let orphan = Holder::start(&[&format!(
        "inherit-flock-orphan:{}",
        root.join("orphan.lock").display()
    )]);
    let sleeper = orphan.info("child") as i64;
    let dead_locker = orphan.info("locker") as i64;
    require!(need_tool("lslocks"));
    let ls = lslocks_json().expect("lslocks -J failed or printed no JSON");
    let ours = scan_json(&[]);
    assert!(ours["roots"].as_array().unwrap().is_empty());
    // (pid, inode) pairs lockscan names, as holder or as original locker.
    let mut pairs: HashSet<(i64, u64)> = HashSet::new();
    for f in ours["files"].as_array().unwrap() {
        let Some(ino) = f["inode"].as_u64() else {
            continue;
        };
        for l in f["locks"].as_array().unwrap() {
            for h in l["holders"].as_array().unwrap() {
                pairs.insert((h["pid"].as_i64().unwrap(), ino));
            }
            if let Some(p) = l["locker_pid"].as_i64() {
                pairs.insert((p, ino));
            }
        }
    }
    let test_inodes: HashSet<u64> = ["f.lock", "p.lock", "o.lock", "orphan.lock"]
        .iter()
        .map(|n| std::fs::metadata(root.join(n)).unwrap().ino())
        .collect();
    let mut checked = 0;
    for l in ls["locks"].as_array().unwrap() {
        let pid = l["pid"].as_i64().unwrap_or(-1);
        let ino = l["inode"].as_u64().unwrap_or(0);
        // Other processes' locks may come and go between the two reads; ours don't.
        if pid <= 0 || !alive(pid) || !test_inodes.contains(&ino) {
            continue;
        }
        assert!(
            pairs.contains(&(pid, ino)),
            "lslocks reports pid {pid} on inode {ino}, lockscan does not: {l}"
        );
        checked += 1;
    }
    assert!(
        checked >= 2,
        "lslocks should show at least our flock and POSIX locks: {ls:#}"
    );
    // lslocks names the dead locker of the orphaned flock; lockscan names the real holder.
    let orphan_ino = std::fs::metadata(root.join("orphan.lock")).unwrap().ino();
    assert!(pairs.contains(&(sleeper, orphan_ino)));
    assert!(!alive(dead_locker));
    // And the OFD lock lslocks 2.38 shows as "(undefined) -1" has its holder here.
    let ofd_ino = std::fs::metadata(root.join("o.lock")).unwrap().ino();
    assert!(pairs.contains(&(_a.pid as i64, ofd_ino)));
}

#[test]
fn system_view_resolves_paths_of_locked_files() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("sys.lock");
    let h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let doc = scan_json(&[]);
    let f = file(&doc, &p, false);
    assert_eq!(holder_pids(&f["locks"][0]), vec![h.pid as i64]);
    assert_eq!(f["inode"], std::fs::metadata(&p).unwrap().ino());
}

#[test]
fn same_inode_number_on_two_tmpfs_mounts_is_not_confused() {
    let d = tempdir();
    let root = canon(d.path());
    let (t1, t2) = (root.join("t1"), root.join("t2"));
    std::fs::create_dir(&t1).unwrap();
    std::fs::create_dir(&t2).unwrap();
    let m1 = require!(mount_tmpfs(&t1));
    let m2 = require!(mount_tmpfs(&t2));
    std::fs::write(t1.join("a.lock"), "").unwrap();
    std::fs::write(t2.join("b.lock"), "").unwrap();
    let (ino1, ino2) = (
        std::fs::metadata(t1.join("a.lock")).unwrap().ino(),
        std::fs::metadata(t2.join("b.lock")).unwrap().ino(),
    );
    // The collision this test is about; tmpfs numbers inodes per mount since Linux 5.9.
    require!(need(
        ino1 == ino2,
        format!("tmpfs mounts that number inodes per mount (got inodes {ino1} and {ino2})"),
        "CI's kernel (Linux >= 5.9) gives the first file on every fresh tmpfs the same inode number",
    ));
    let h = Holder::start(&[&format!("flock-ex:{}", t2.join("b.lock").display())]);
    let doc = scan_json(&[root.to_str().unwrap()]);
    let sys = scan_json(&[]);
    let holder = h.pid as i64;
    drop(h);
    drop((m1, m2));
    let a = file(&doc, &t1.join("a.lock"), false);
    assert!(
        a["locks"].as_array().unwrap().is_empty(),
        "lock attached to the wrong file: {a:#}"
    );
    let b = file(&doc, &t2.join("b.lock"), false);
    assert_eq!(b["locks"].as_array().unwrap().len(), 1);
    assert_eq!(holder_pids(&b["locks"][0]), vec![holder]);
    // System view: the lock is on t2/b.lock, never on t1/a.lock.
    assert!(
        sys["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["path"] != t1.join("a.lock").to_str().unwrap())
    );
    let b = file(&sys, &t2.join("b.lock"), false);
    assert_eq!(holder_pids(&b["locks"][0]), vec![holder]);
}

/// Owners are named by the system's resolver (NSS), so accounts a login-oriented
/// user list drops are named too: a service account with /bin/false (mysql's) and
/// a uid above 65535 (LDAP/SSSD users, rootless containers). The accounts exist
/// only in a private mount namespace, where a copy of /etc/passwd is bound over it.
#[test]
fn owners_are_named_through_the_system_resolver() {
    require!(need_root());
    require!(need_tool("unshare"));
    let d = tempdir();
    let root = canon(d.path());
    let mut passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd.push_str("svcacct:x:70001:70001:service:/nonexistent:/bin/false\n");
    passwd.push_str("ldapuser:x:200123:200123:directory user:/home/ldapuser:/bin/bash\n");
    let passwd_file = root.join("passwd");
    std::fs::write(&passwd_file, passwd).unwrap();
    let scanned = root.join("scanned");
    std::fs::create_dir(&scanned).unwrap();
    for (name, uid) in [
        ("svc.pid", 70001),
        ("ldap.lock", 200123),
        ("nobody.lock", 4_000_001),
    ] {
        let p = scanned.join(name);
        std::fs::write(&p, "").unwrap();
        std::os::unix::fs::chown(&p, Some(uid), Some(uid)).unwrap();
    }
    let script = format!(
        "mount --bind {} /etc/passwd && exec {} --json {}",
        passwd_file.display(),
        lockscan_bin(),
        scanned.display()
    );
    let out = run_cmd(std::process::Command::new("unshare").args(["-m", "sh", "-c", &script]));
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let owner = |n: &str| file(&doc, &scanned.join(n), false)["owner"].clone();
    assert_eq!(owner("svc.pid"), "svcacct");
    assert_eq!(owner("ldap.lock"), "ldapuser");
    assert_eq!(owner("nobody.lock"), serde_json::Value::Null);
    assert_eq!(
        file(&doc, &scanned.join("nobody.lock"), false)["uid"],
        4_000_001
    );
}
