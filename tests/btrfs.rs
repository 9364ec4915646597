//! btrfs subvolumes and snapshots: every subvolume root is inode 256 and the first
//! file in each is inode 257, all on one superblock, and `/proc/locks` names only
//! the superblock. The walk must enter every subvolume, and a lock on inode 257 of
//! one subvolume must not be pinned on inode 257 of another.
//!
//! Needs root (a loop device and a mount) and btrfs-progs.

#![cfg(target_os = "linux")]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

/// A btrfs filesystem on a loop device, mounted under a temporary directory;
/// unmounted and its loop device detached on drop.
struct Btrfs {
    mnt: PathBuf,
    loopdev: String,
    mounted: bool,
    // Last: removed after the unmount.
    _dir: tempfile::TempDir,
}

fn cmd(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Btrfs {
    /// A fresh 300 MB btrfs, mounted.
    fn new() -> Result<Btrfs, Missing> {
        need_root()?;
        need_tool("mkfs.btrfs")?;
        need_tool("btrfs")?;
        need_tool("losetup")?;
        let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap_or_default();
        // Not listed until the module is loaded: mount(8) loads it, so only note it.
        let listed = filesystems.lines().any(|l| l.trim_end().ends_with("btrfs"));
        let dir = tempdir();
        let root = canon(dir.path());
        // nobody must be able to walk it for the unseen-holder case.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let img = root.join("btrfs.img");
        let img_s = img.to_str().unwrap();
        let mnt = root.join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        let vm = |what: String| {
            Missing::new(
                what,
                "CI runs as root on a VM whose kernel has btrfs and loop devices, and installs \
                 btrfs-progs (.ci/run)",
            )
        };
        cmd("truncate", &["-s", "300M", img_s]).map_err(vm)?;
        cmd("mkfs.btrfs", &["-q", img_s]).map_err(vm)?;
        let loopdev = cmd("losetup", &["-f", "--show", img_s]).map_err(vm)?;
        let mut fs = Btrfs {
            mnt,
            loopdev,
            mounted: false,
            _dir: dir,
        };
        cmd(
            "mount",
            &["-t", "btrfs", &fs.loopdev, fs.mnt.to_str().unwrap()],
        )
        .map_err(|e| vm(format!("{e} (btrfs in /proc/filesystems: {listed})")))?;
        fs.mounted = true;
        Ok(fs)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.mnt.join(rel)
    }

    fn btrfs(&self, args: &[&str]) {
        cmd("btrfs", args).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for Btrfs {
    fn drop(&mut self) {
        if self.mounted {
            let mnt = self.mnt.to_str().unwrap();
            if cmd("umount", &[mnt]).is_err() {
                let _ = cmd("umount", &["-l", mnt]);
            }
        }
        let _ = cmd("losetup", &["-d", &self.loopdev]);
    }
}

/// Subvolumes `a` and `b` and a snapshot `snap` of `a`, with `a/x.pid`,
/// `b/y.pid` and (the snapshot's copy) `snap/x.pid`, all recording a dead pid, and
/// proven to share one inode number on one superblock with three `st_dev`s.
fn subvolumes(fs: &Btrfs) {
    fs.btrfs(&["subvolume", "create", fs.path("a").to_str().unwrap()]);
    fs.btrfs(&["subvolume", "create", fs.path("b").to_str().unwrap()]);
    let dead = dead_pid();
    for f in ["a/x.pid", "b/y.pid"] {
        std::fs::write(fs.path(f), format!("{dead}\n")).unwrap();
    }
    fs.btrfs(&[
        "subvolume",
        "snapshot",
        fs.path("a").to_str().unwrap(),
        fs.path("snap").to_str().unwrap(),
    ]);
    let meta: Vec<_> = ["a/x.pid", "b/y.pid", "snap/x.pid"]
        .iter()
        .map(|f| std::fs::metadata(fs.path(f)).unwrap())
        .collect();
    assert!(
        meta.iter().all(|m| m.ino() == meta[0].ino()),
        "the three files must share an inode number for this test to mean anything: {:?}",
        meta.iter().map(|m| m.ino()).collect::<Vec<_>>()
    );
    let devs: std::collections::HashSet<u64> = meta.iter().map(|m| m.dev()).collect();
    assert_eq!(devs.len(), 3, "each subvolume has its own st_dev");
}

fn files_of<'a>(doc: &'a Value, fs: &Btrfs) -> Vec<&'a str> {
    let mut v: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str())
        .filter(|p| Path::new(p).starts_with(&fs.mnt))
        .collect();
    v.sort_unstable();
    v
}

/// The lock-table device of every report entry for these paths must be the same
/// (one superblock), so the test really exercises the shared key.
fn assert_one_key(doc: &Value, paths: &[&Path]) {
    let keys: Vec<(Value, Value)> = paths
        .iter()
        .map(|p| {
            let f = file(doc, p, false);
            (f["device"].clone(), f["inode"].clone())
        })
        .collect();
    assert!(
        keys.iter().all(|k| *k == keys[0]),
        "the files should share one lock-table key: {keys:?}"
    );
}

fn check_lock_pinned_on_one_file(lock_action: &str, locked: &str, kind: &str) {
    let fs = require!(Btrfs::new());
    subvolumes(&fs);
    let target = fs.path(locked);
    let holder = Holder::start(&[
        &format!("{lock_action}:{}", target.display()),
        &format!("pidfile:{}", target.display()),
    ]);
    let doc = scan_json(&[fs.mnt.to_str().unwrap()]);
    let all = ["a/x.pid", "b/y.pid", "snap/x.pid"].map(|f| fs.path(f));
    assert_eq!(
        files_of(&doc, &fs),
        all.iter().map(|p| p.to_str().unwrap()).collect::<Vec<_>>(),
        "every subvolume and snapshot is walked: {doc:#}"
    );
    assert_one_key(&doc, &all.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    for p in &all {
        let f = file(&doc, p, false);
        if *p == target {
            let locks = f["locks"].as_array().unwrap();
            assert_eq!(locks.len(), 1, "{f:#}");
            assert_eq!(locks[0]["type"], kind, "{f:#}");
            assert_eq!(holder_pids(&locks[0]), vec![holder.pid as i64], "{f:#}");
            assert_eq!(f["lock_state"], "held", "{f:#}");
            assert_eq!(f["pidfile"]["verdict"], "live", "{f:#}");
            assert_eq!(f["safe_to_delete"]["verdict"], "no", "{f:#}");
        } else {
            assert_eq!(f["locks"], serde_json::json!([]), "{f:#}");
            assert_eq!(f["lock_state"], "free", "{f:#}");
            assert_eq!(f["pidfile"]["verdict"], "stale", "{f:#}");
            // "yes" where every process could be inspected; never "no" for a lock.
            assert_ne!(f["safe_to_delete"]["verdict"], "no", "{f:#}");
            let reason = f["safe_to_delete"]["reason"].as_str().unwrap();
            assert!(!reason.contains("kernel lock"), "{f:#}");
            assert!(f["lock_state_reason"].is_null(), "{f:#}");
        }
        assert_one_voice(f);
    }
    drop(holder);
}

#[test]
fn flock_in_one_subvolume_is_not_pinned_on_the_same_inode_in_another() {
    check_lock_pinned_on_one_file("flock-ex", "a/x.pid", "flock");
}

#[test]
fn posix_lock_in_one_subvolume_is_not_pinned_on_the_same_inode_in_another() {
    check_lock_pinned_on_one_file("posix-w", "b/y.pid", "posix");
}

#[test]
fn whole_system_scan_names_the_locked_file_of_the_right_subvolume() {
    let fs = require!(Btrfs::new());
    subvolumes(&fs);
    let a = fs.path("a/x.pid");
    let b = fs.path("b/y.pid");
    let ha = Holder::start(&[&format!("flock-ex:{}", a.display())]);
    let hb = Holder::start(&[&format!("posix-w:{}", b.display())]);
    let doc = scan_json(&[]);
    let fa = file(&doc, &a, false);
    let fb = file(&doc, &b, false);
    assert_eq!(fa["device"], fb["device"], "one superblock");
    assert_eq!(fa["inode"], fb["inode"], "one inode number");
    assert_eq!(holder_pids(&fa["locks"][0]), vec![ha.pid as i64], "{fa:#}");
    assert_eq!(fa["locks"].as_array().unwrap().len(), 1, "{fa:#}");
    assert_eq!(holder_pids(&fb["locks"][0]), vec![hb.pid as i64], "{fb:#}");
    assert_eq!(fb["locks"].as_array().unwrap().len(), 1, "{fb:#}");
    drop((ha, hb));
}

#[test]
fn lock_of_an_unseen_holder_is_not_pinned_on_a_namesake_in_another_subvolume() {
    require!(need_tool("setpriv"));
    let fs = require!(Btrfs::new());
    subvolumes(&fs);
    let a = fs.path("a/x.pid");
    // Held by root: `nobody` sees the lock in /proc/locks but not the holder's fds,
    // so nothing says which subvolume's inode 257 it is on.
    let holder = Holder::start(&[&format!("flock-ex:{}", a.display())]);
    let doc = scan_json_as_nobody(&[fs.mnt.to_str().unwrap()]);
    assert!(
        denied_pids(&doc).contains(&(holder.pid as i64)),
        "the holder must really be unseen: {doc:#}"
    );
    let all = ["a/x.pid", "b/y.pid", "snap/x.pid"].map(|f| fs.path(f));
    assert_eq!(
        files_of(&doc, &fs),
        all.iter().map(|p| p.to_str().unwrap()).collect::<Vec<_>>(),
        "{doc:#}"
    );
    for p in &all {
        let f = file(&doc, p, false);
        assert_eq!(f["locks"], serde_json::json!([]), "{f:#}");
        assert_eq!(f["lock_state"], "unknown", "{f:#}");
        let why = f["lock_state_reason"].as_str().unwrap_or_default();
        assert!(
            why.contains("cannot tell btrfs subvolumes apart") && why.contains("lsof"),
            "{f:#}"
        );
        assert_eq!(f["safe_to_delete"]["verdict"], "unknown", "{f:#}");
        let reason = f["safe_to_delete"]["reason"].as_str().unwrap();
        assert!(reason.contains("btrfs subvolumes"), "{f:#}");
        assert_ne!(f["pidfile"]["verdict"], "live", "{f:#}");
        assert_one_voice(f);
    }
    drop(holder);
}
