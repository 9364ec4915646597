//! Scanning changes nothing, never hangs, and reports bad input while finishing the rest.

#![cfg(target_os = "linux")]

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::*;

/// (name → inode, size, mtime, ctime, atime, mode) for every entry under `root`.
/// The access time counts too: the files are fresh, so relatime would update it on
/// the first read. This function lists directories with O_NOATIME itself, so that
/// taking the "before" picture does not change what it measures. A symlink's atime
/// is left out: the kernel updates it on every readlink, and reading the target of a
/// symlink lock is the only way to know what it says.
type State = (u64, u64, i64, i64, i64, i64, u32);

fn tree_state(root: &Path) -> BTreeMap<PathBuf, State> {
    use rustix::fs::{Mode, OFlags};
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let fd = rustix::fs::open(
            &dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOATIME | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        let mut rd = rustix::fs::Dir::new(fd).unwrap();
        while let Some(e) = rd.read() {
            let e = e.unwrap();
            let name = e.file_name().to_str().unwrap().to_string();
            if name == "." || name == ".." {
                continue;
            }
            let p = dir.join(name);
            let m = std::fs::symlink_metadata(&p).unwrap();
            let atime = if m.file_type().is_symlink() {
                0
            } else {
                m.atime() * 1_000_000_000 + m.atime_nsec()
            };
            out.insert(
                p.clone(),
                (
                    m.ino(),
                    m.size(),
                    m.mtime(),
                    m.mtime_nsec(),
                    m.ctime_nsec(),
                    atime,
                    m.mode(),
                ),
            );
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

fn make_fifo(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[test]
fn a_scan_changes_nothing_on_disk_and_leaves_no_lock() {
    let d = tempdir();
    let root = canon(d.path());
    std::fs::create_dir(root.join("sub")).unwrap();
    std::fs::write(root.join("a.pid"), "1\n").unwrap();
    let dead = dead_pid();
    std::fs::write(root.join("stale.pid"), format!("{dead}\n")).unwrap();
    std::fs::write(root.join("sub/.certbot.lock"), "").unwrap();
    std::fs::write(root.join("sub/index.lock"), "ref: x\n").unwrap();
    std::os::unix::fs::symlink(format!("127.0.1.1:+{dead}"), root.join("lock")).unwrap();
    make_fifo(&root.join("fifo.pid"));
    let h = Holder::start(&[&format!("flock-ex:{}", root.join("held.lock").display())]);
    let before = tree_state(&root);
    let locks_before: Vec<String> = std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!(" {} ", h.pid)))
        .map(|l| l.split_once(':').unwrap().1.to_string())
        .collect();
    for args in [vec!["--json"], vec![], vec!["--probe", "getlk"]] {
        let mut a: Vec<&str> = args.clone();
        a.push(root.to_str().unwrap());
        let r = run(&a);
        assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    }
    assert_eq!(before, tree_state(&root), "the scan changed the tree");
    let locks_after: Vec<String> = std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&format!(" {} ", h.pid)))
        .map(|l| l.split_once(':').unwrap().1.to_string())
        .collect();
    assert_eq!(locks_before, locks_after);
}

#[test]
fn fifo_device_node_and_huge_sparse_pidfile_are_reported_without_hanging() {
    require!(need_root());
    let d = tempdir();
    let root = canon(d.path());
    make_fifo(&root.join("x.pid"));
    let big = std::fs::File::create(root.join("big.pid")).unwrap();
    big.set_len(2 << 30).unwrap();
    drop(big);
    let c = std::ffi::CString::new(root.join("null.lock").as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(
        unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
        0,
        "mknod: {}",
        std::io::Error::last_os_error()
    );
    std::fs::write(root.join("ok.pid"), format!("{}\n", std::process::id())).unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let errors = doc["errors"].as_array().unwrap();
    let err_for = |name: &str| {
        errors
            .iter()
            .find(|e| e["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("no error for {name}: {errors:#?}"))
            .clone()
    };
    assert!(err_for("x.pid")["error"].as_str().unwrap().contains("fifo"));
    assert!(
        err_for("null.lock")["error"]
            .as_str()
            .unwrap()
            .contains("char-device")
    );
    let bigf = file(&doc, &root.join("big.pid"), false);
    assert_eq!(bigf["pidfile"]["status"], "invalid");
    assert!(
        bigf["pidfile"]["reason"]
            .as_str()
            .unwrap()
            .contains("too large")
    );
    // The rest of the scan is complete.
    let ok = file(&doc, &root.join("ok.pid"), false);
    assert_eq!(ok["pidfile"]["status"], "running");
    assert_eq!(ok["pidfile"]["pid"], std::process::id());
}

#[test]
fn symlink_loops_and_links_out_of_the_tree_are_not_followed() {
    let d = tempdir();
    let root = canon(d.path());
    std::fs::create_dir(root.join("a")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("a/up")).unwrap();
    std::os::unix::fs::symlink("b", root.join("a/c")).unwrap();
    std::os::unix::fs::symlink("c", root.join("a/b")).unwrap();
    std::os::unix::fs::symlink("/etc", root.join("a/etc")).unwrap();
    std::fs::write(root.join("a/x.lock"), "").unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let paths: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, vec![root.join("a/x.lock").to_str().unwrap()]);
}

#[test]
fn bind_mount_cycle_is_walked_once() {
    let d = tempdir();
    let root = canon(d.path());
    std::fs::create_dir_all(root.join("inner/mnt")).unwrap();
    std::fs::write(root.join("inner/y.lock"), "").unwrap();
    let bind = require!(mount_bind(&root, &root.join("inner/mnt")));
    let doc = scan_json(&[root.to_str().unwrap()]);
    drop(bind);
    let paths: Vec<&str> = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        vec![root.join("inner/y.lock").to_str().unwrap()],
        "{doc:#}"
    );
}

/// Entries under `dir`, recursively (not following symlinks).
fn count_entries(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            1 + if e.file_type().unwrap().is_dir() {
                count_entries(&e.path())
            } else {
                0
            }
        })
        .sum()
}

/// A tree the walk shares between its threads only after entering two levels (one
/// subdirectory, then three, then ninety), with a directory that two threads'
/// shares both reach (a bind mount): every lockfile is reported exactly once, every
/// entry is counted once, and two scans agree.
#[test]
fn tree_shared_between_walker_threads_is_reported_whole_and_once() {
    let d = tempdir();
    let root = canon(d.path());
    let mut expected = std::collections::BTreeSet::new();
    let mut lockfile = |p: PathBuf| {
        std::fs::write(&p, "").unwrap();
        expected.insert(p.to_str().unwrap().to_string());
    };
    std::fs::create_dir(root.join("a")).unwrap();
    lockfile(root.join("top.lock"));
    lockfile(root.join("a/mid.lock"));
    for b in 0..3 {
        let bdir = root.join(format!("a/b{b}"));
        for c in 0..30 {
            let cdir = bdir.join(format!("c{c}"));
            std::fs::create_dir_all(cdir.join("deep/deeper")).unwrap();
            std::fs::write(cdir.join("data.dat"), "").unwrap();
            lockfile(cdir.join("x.lock"));
            lockfile(cdir.join("deep/deeper/y.lock"));
        }
        lockfile(bdir.join("b.lock"));
    }
    let shared = root.join("a/b0/c0");
    let again = root.join("a/b2/c29/again");
    std::fs::create_dir(&again).unwrap();
    let entries = count_entries(&root);
    let bind = require!(mount_bind(&shared, &again));
    let docs = [
        scan_json(&[root.to_str().unwrap()]),
        scan_json(&[root.to_str().unwrap()]),
    ];
    drop(bind);
    let mut seen = Vec::new();
    for doc in &docs {
        // The shared directory's files are reported under whichever name reached it first.
        let mut paths: Vec<String> = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let p = f["path"].as_str().unwrap();
                p.replace(again.to_str().unwrap(), shared.to_str().unwrap())
            })
            .collect();
        let reported = paths.len();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), reported, "a file reported twice: {doc:#}");
        assert_eq!(
            paths,
            expected.iter().cloned().collect::<Vec<_>>(),
            "{doc:#}"
        );
        assert_eq!(
            doc["stats"]["entries_walked"], entries,
            "{:#}",
            doc["stats"]
        );
        assert_eq!(
            doc["errors"].as_array().unwrap().len(),
            0,
            "{:#}",
            doc["errors"]
        );
        seen.push(paths);
    }
    assert_eq!(seen[0], seen[1]);
}

/// One directory with more lock-named files than the walk examines in one batch
/// (each full batch is shared by two threads): every file is reported exactly
/// once and judged on its own content and holders, whichever thread looked at it.
#[test]
fn directory_of_thousands_of_lockfiles_is_examined_whole_on_two_threads() {
    let d = tempdir();
    let dir = canon(d.path());
    let dead = dead_pid();
    let live = std::process::id();
    let mut expected = std::collections::BTreeSet::new();
    for i in 0..9000 {
        let (name, body) = match i % 1000 {
            7 => (format!("svc{i}.pid"), format!("{dead}\n")),
            8 => (format!("own{i}.pid"), format!("{live}\n")),
            _ => (format!("job{i}.lock"), String::new()),
        };
        std::fs::write(dir.join(&name), body).unwrap();
        expected.insert(dir.join(&name).to_str().unwrap().to_string());
        if i % 9 == 0 {
            std::fs::write(dir.join(format!("data{i}.dat")), "").unwrap();
        }
    }
    // Near the end of the listing order is unknowable; the holder's file is one more.
    let held = dir.join("zz-held.lock");
    let holder = Holder::start(&[&format!("flock-ex:{}", held.display())]);
    expected.insert(held.to_str().unwrap().to_string());
    let doc = scan_json(&[dir.to_str().unwrap()]);
    drop(holder);
    let files = doc["files"].as_array().unwrap();
    let mut paths: Vec<String> = files
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect();
    let reported = paths.len();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), reported, "a file reported twice");
    assert_eq!(paths, expected.iter().cloned().collect::<Vec<_>>());
    assert_eq!(
        doc["stats"]["entries_walked"],
        9000 + 1000 + 1,
        "{:#}",
        doc["stats"]
    );
    for f in files {
        let path = f["path"].as_str().unwrap();
        let name = path.rsplit('/').next().unwrap();
        if name.starts_with("svc") {
            assert_eq!(f["pidfile"]["status"], "dead", "{f:#}");
        } else if name.starts_with("own") {
            assert_eq!(f["pidfile"]["status"], "running", "{f:#}");
        } else if name == "zz-held.lock" {
            assert_eq!(f["lock_state"], "held", "{f:#}");
        } else {
            assert_eq!(f["lock_state"], "free", "{f:#}");
        }
    }
}

#[test]
fn unreadable_directory_is_reported_and_the_rest_is_scanned() {
    // Dropping to nobody makes the directory really unreadable (root reads anything).
    require!(need_root());
    require!(need_tool("setpriv"));
    let d = tempdir();
    let root = canon(d.path());
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(root.join("secret")).unwrap();
    std::fs::write(root.join("secret/hidden.lock"), "").unwrap();
    std::fs::set_permissions(root.join("secret"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::write(root.join("visible.pid"), format!("{}\n", dead_pid())).unwrap();
    std::fs::set_permissions(
        root.join("visible.pid"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    // A root-owned process with a locked file open outside the scanned tree: nobody
    // cannot read its fds, so the scan is partial and must say so.
    let other = tempdir();
    let hidden = Holder::start(&[&format!(
        "flock-ex:{}",
        canon(other.path()).join("hidden.lock").display()
    )]);
    let r = run_cmd(&mut lockscan_as_nobody(&["--json", root.to_str().unwrap()]));
    let hidden_pid = hidden.pid;
    drop(hidden);
    std::fs::set_permissions(root.join("secret"), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(r.code, 1, "stale pidfile expected: {}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let errs = doc["errors"].as_array().unwrap();
    assert!(
        errs.iter()
            .any(|e| e["path"].as_str().unwrap().ends_with("/secret")
                && e["error"].as_str().unwrap().contains("ermission")),
        "{errs:#?}"
    );
    assert_eq!(
        file(&doc, &root.join("visible.pid"), false)["pidfile"]["status"],
        "dead"
    );
    // Not root any more: root's fds were invisible, and the report says so.
    let denied = denied_pids(&doc);
    assert!(denied.contains(&(hidden_pid as i64)), "{denied:?}");
    assert!(
        global_codes(&doc).contains(&"partial-visibility".to_string()),
        "{:#}",
        doc["findings"]
    );
}

#[test]
fn hostile_file_names_cannot_inject_terminal_escapes() {
    let d = tempdir();
    let root = canon(d.path());
    let evil = "x\u{1b}[2J\u{1b}]0;owned\u{7}\nFAKE ROW\u{9b}1m.lock";
    std::fs::write(root.join(evil), "").unwrap();
    let r = run(&["--color", "never", root.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("x\\e[2J"), "{}", r.stdout);
    for bad in ['\u{1b}', '\u{7}', '\u{9b}'] {
        assert!(
            !r.stdout.contains(bad),
            "raw control char {bad:?} in {}",
            r.stdout
        );
    }
    assert!(!r.stdout.lines().any(|l| l.starts_with("FAKE ROW")));
}

#[test]
fn no_color_env_and_pipes_get_plain_text() {
    let d = tempdir();
    let root = canon(d.path());
    std::fs::write(root.join("dead.pid"), dead_pid().to_string()).unwrap();
    // Control: --color always does colour (the stale pidfile's status).
    let r = run_cmd(
        std::process::Command::new(lockscan_bin())
            .env_remove("NO_COLOR")
            .args(["--color", "always", root.to_str().unwrap()]),
    );
    assert!(r.stdout.contains('\u{1b}'), "{}", r.stdout);
    let r = run_cmd(
        std::process::Command::new(lockscan_bin())
            .env("NO_COLOR", "1")
            .args(["--color", "always", root.to_str().unwrap()]),
    );
    assert!(!r.stdout.contains('\u{1b}'), "{}", r.stdout);
    let r = run(&[root.to_str().unwrap()]);
    assert!(
        !r.stdout.contains('\u{1b}'),
        "piped output must not be coloured"
    );
}
