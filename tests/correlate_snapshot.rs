//! Correlation on a hand-built snapshot: platform-neutral, no live system needed.

#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::path::PathBuf;

use lockscan::model::{FileKind, LockKind, LockMode};
use lockscan::scan::correlate::build_files;
use lockscan::sys::linux::proc_locks::parse_proc_locks;
use lockscan::sys::*;

fn key(ino: u64) -> FileKey {
    FileKey {
        major: 254,
        minor: 0,
        ino,
    }
}

fn fd(pid: i32, fd: i32, path: &str, ino: u64, lock_lines: &[&str], flags: u32) -> OpenFd {
    OpenFd {
        pid,
        fd,
        path: Some(PathBuf::from(path)),
        deleted: false,
        replaced: false,
        key: Some(key(ino)),
        mnt_id: Some(27),
        st_dev: None,
        flags: Some(flags),
        locks: lock_lines
            .iter()
            .map(|l| lockscan::sys::linux::proc_locks::parse_lock_line(l).unwrap())
            .collect(),
        open_file_id: None,
        inherited_from: None,
    }
}

fn process(pid: i32, comm: &str, ppid: i32) -> ProcessInfo {
    ProcessInfo {
        pid,
        command: comm.into(),
        cmdline: comm.into(),
        uid: Some(0),
        user: Some("root".into()),
        started_at: Some(1_000),
        state: Some(ProcessState::Sleeping),
        ppid: Some(ppid),
        ..Default::default()
    }
}

fn snapshot() -> Snapshot {
    // 8074 took the flock and died; its child 8075 (sleep) holds it through an
    // inherited fd. 7000 holds an OFD lock (pid -1) and a POSIX range; 7100 waits.
    let locks = parse_proc_locks(
        "1: FLOCK  ADVISORY  WRITE 8074 fe:00:100 0 EOF\n\
         2: OFDLCK ADVISORY  WRITE -1 fe:00:200 0 63\n\
         3: POSIX  ADVISORY  WRITE 7000 fe:00:300 10 29\n\
         3: -> POSIX  ADVISORY  WRITE 7100 fe:00:300 0 EOF\n\
         4: FLOCK  ADVISORY  WRITE 7200 fe:00:400 0 EOF\n",
    );
    assert!(locks.skipped.is_empty());
    let mut mounts = HashMap::new();
    mounts.insert(
        27,
        Mount {
            mount_id: 27,
            parent_id: 1,
            major: 254,
            minor: 0,
            root: "/".into(),
            mount_point: "/".into(),
            mount_options: "rw".into(),
            fstype: "ext4".into(),
            source: "/dev/vda".into(),
            super_options: "rw".into(),
            locality: None,
        },
    );
    let mut processes = HashMap::new();
    for p in [
        process(8075, "sleep", 1),
        process(7000, "app", 1),
        process(7100, "app2", 1),
        process(7200, "old", 1),
    ] {
        processes.insert(p.pid, p);
    }
    let mut deleted = fd(
        7200,
        4,
        "/srv/app.lock",
        400,
        &["1: FLOCK  ADVISORY  WRITE 7200 fe:00:400 0 EOF"],
        0o2100001,
    );
    deleted.deleted = true;
    Snapshot {
        taken_at: 2_000,
        host: "h".into(),
        platform: Platform::Linux,
        locks,
        own_mount_ids: [27].into_iter().collect(),
        mounts,
        open_fds: vec![
            fd(
                8075,
                5,
                "/srv/inherited.lock",
                100,
                &["1: FLOCK  ADVISORY  WRITE 8074 fe:00:100 0 EOF"],
                0o100001,
            ),
            fd(
                7000,
                3,
                "/srv/ofd.lock",
                200,
                &["1: OFDLCK ADVISORY  WRITE -1 fe:00:200 0 63"],
                0o2100002,
            ),
            fd(
                7000,
                4,
                "/srv/range.db",
                300,
                &["1: POSIX  ADVISORY  WRITE 7000 fe:00:300 10 29"],
                0o2100002,
            ),
            fd(7100, 3, "/srv/range.db", 300, &[], 0o2100002),
            deleted,
        ],
        processes,
        ..Default::default()
    }
}

#[test]
fn system_view_attributes_every_lock_to_its_real_holder() {
    let snap = snapshot();
    let files = build_files(&snap, Vec::new(), HashMap::new(), None);
    let by_path = |p: &str, deleted: bool| {
        files
            .iter()
            .find(|f| f.path.as_deref() == Some(p) && f.deleted == deleted)
            .unwrap_or_else(|| panic!("{p}: {files:#?}"))
    };
    let inh = &by_path("/srv/inherited.lock", false).locks[0];
    assert_eq!(
        inh.holders.iter().map(|h| h.pid).collect::<Vec<_>>(),
        vec![8075]
    );
    assert_eq!(inh.holders[0].cloexec, Some(false));
    assert_eq!(
        (inh.locker_pid, inh.locker_alive),
        (Some(8074), Some(false))
    );

    let ofd = &by_path("/srv/ofd.lock", false).locks[0];
    assert_eq!(ofd.kind, LockKind::Ofd);
    assert_eq!(ofd.locker_pid, None);
    assert_eq!(ofd.holders[0].pid, 7000);
    assert_eq!((ofd.start, ofd.end), (0, Some(63)));

    let db = by_path("/srv/range.db", false);
    assert_eq!(db.kind, FileKind::LockedFile);
    let l = &db.locks[0];
    assert_eq!(
        l.holders.iter().map(|h| (h.pid, h.fd)).collect::<Vec<_>>(),
        vec![(7000, Some(4))]
    );
    assert_eq!(l.waiters.len(), 1);
    assert_eq!(l.waiters[0].process.pid, 7100);
    assert_eq!(l.waiters[0].process.fd, Some(3));
    assert_eq!(l.waiters[0].blocked_by, Some(7000));
    assert!(
        db.open_by.is_empty(),
        "the waiter is listed as a waiter, not as an opener"
    );

    let gone = by_path("/srv/app.lock", true);
    assert!(gone.deleted);
    assert_eq!(gone.locks[0].holders[0].pid, 7200);
    assert_eq!(gone.filesystem.as_ref().unwrap().fstype, "ext4");
}

#[test]
fn path_scan_includes_deleted_locked_files_under_the_roots_only() {
    let snap = snapshot();
    let inside = build_files(
        &snap,
        Vec::new(),
        HashMap::new(),
        Some(&[PathBuf::from("/srv")]),
    );
    assert_eq!(inside.len(), 4, "{inside:#?}");
    let elsewhere = build_files(
        &snap,
        Vec::new(),
        HashMap::new(),
        Some(&[PathBuf::from("/var")]),
    );
    assert!(elsewhere.is_empty());
}

#[test]
fn posix_owner_without_a_visible_fd_is_still_the_holder() {
    let mut snap = snapshot();
    snap.open_fds.retain(|f| f.pid != 7000);
    let files = build_files(&snap, Vec::new(), HashMap::new(), None);
    let range = files
        .iter()
        .find(|f| f.locks.iter().any(|l| l.kind == LockKind::Posix))
        .unwrap();
    assert_eq!(range.locks[0].holders[0].pid, 7000);
    assert_eq!(range.locks[0].holders[0].fd, None);
}

#[test]
fn containers_are_named_from_the_cgroup() {
    use lockscan::scan::correlate::container_of_cgroup as c;
    let id = "4f1e2d3c4b5a69788796a5b4c3d2e1f001122334455667788990aabbccddeeff";
    assert_eq!(
        c(&format!("/docker/{id}")).as_deref(),
        Some("docker:4f1e2d3c4b5a")
    );
    assert_eq!(
        c(&format!("/system.slice/docker-{id}.scope")).as_deref(),
        Some("docker:4f1e2d3c4b5a")
    );
    assert_eq!(
        c(&format!(
            "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{id}.scope/container"
        ))
        .as_deref(),
        Some("podman:4f1e2d3c4b5a")
    );
    assert_eq!(
        c(&format!(
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/cri-containerd-{id}.scope"
        ))
        .as_deref(),
        Some("containerd:4f1e2d3c4b5a")
    );
    assert_eq!(
        c(&format!("/kubepods/burstable/pod1234/{id}")).as_deref(),
        Some("kubepods:4f1e2d3c4b5a")
    );
    assert_eq!(c("/lxc.payload.web/init.scope").as_deref(), Some("lxc:web"));
    assert_eq!(
        c("/machine.slice/machine-build\\x2dbox.scope").as_deref(),
        Some("nspawn:build-box")
    );
    assert_eq!(c("/system.slice/nginx.service"), None);
    assert_eq!(c("/user.slice/user-1000.slice/session-3.scope"), None);
}

/// /proc/locks prints -1 for every OFD lock and waiter (and 0 for a process in
/// another pid namespace). A waiter whose blocked call was not found must not become
/// a "process" with pid -1: it is listed apart, with why it has no pid.
#[test]
fn waiters_without_a_pid_are_unidentified_never_pid_minus_one_or_zero() {
    let mut snap = snapshot();
    snap.locks = parse_proc_locks(
        "2: OFDLCK ADVISORY  WRITE -1 fe:00:200 0 63\n\
         2: -> OFDLCK ADVISORY  WRITE -1 fe:00:200 0 63\n\
         2: -> OFDLCK ADVISORY  READ -1 fe:00:200 0 63\n\
         3: POSIX  ADVISORY  WRITE 7000 fe:00:300 10 29\n\
         3: -> POSIX  ADVISORY  WRITE 0 fe:00:300 0 EOF\n",
    );
    // The first OFD waiter was found blocked in F_OFD_SETLKW through fd 6 of 7100.
    snap.resolved_waiters.insert(1, (7100, 6));
    snap.open_fds
        .push(fd(7100, 6, "/srv/ofd.lock", 200, &[], 0o2100002));
    let files = build_files(&snap, Vec::new(), HashMap::new(), None);
    let lock = |p: &str| {
        files
            .iter()
            .find(|f| f.path.as_deref() == Some(p))
            .unwrap_or_else(|| panic!("{p}: {files:#?}"))
            .locks[0]
            .clone()
    };
    let ofd = lock("/srv/ofd.lock");
    assert_eq!(
        ofd.waiters
            .iter()
            .map(|w| w.process.pid)
            .collect::<Vec<_>>(),
        vec![7100]
    );
    assert_eq!(ofd.unidentified_waiters.len(), 1, "{ofd:#?}");
    let u = &ofd.unidentified_waiters[0];
    assert_eq!((u.mode, u.depth), (LockMode::Read, 1));
    assert!(u.reason.contains("F_OFD_SETLKW"), "{}", u.reason);
    assert_eq!(ofd.waiter_count(), 2);
    let posix = lock("/srv/range.db");
    assert!(posix.waiters.is_empty(), "{posix:#?}");
    assert!(
        posix.unidentified_waiters[0]
            .reason
            .contains("pid namespace"),
        "{posix:#?}"
    );
    // In JSON: no waiter with a pid below 1; the unidentified ones carry no pid.
    for l in [&ofd, &posix] {
        let v = serde_json::to_value(l).unwrap();
        for w in v["waiters"].as_array().unwrap() {
            assert!(w["pid"].as_i64().unwrap() > 0, "{v:#}");
        }
        for w in v["unidentified_waiters"].as_array().unwrap() {
            assert!(w.get("pid").is_none(), "{v:#}");
        }
    }
}

/// One process's identical locks on inode 257 of two btrfs subvolumes print as two
/// identical `/proc/locks` lines naming the one superblock: each file gets one, by
/// the `st_dev` of the fd that carries it, and not both.
#[test]
fn identical_locks_on_one_inode_number_of_two_btrfs_subvolumes_go_one_to_each() {
    let line = "POSIX  ADVISORY  WRITE 7000 00:29:257 0 EOF";
    let ofd = "OFDLCK ADVISORY  READ -1 00:29:258 0 EOF";
    let locks = parse_proc_locks(&format!("1: {line}\n2: {line}\n3: {ofd}\n4: {ofd}\n"));
    let mut mounts = HashMap::new();
    mounts.insert(
        40,
        Mount {
            mount_id: 40,
            parent_id: 1,
            major: 0,
            minor: 41,
            root: "/".into(),
            mount_point: "/mnt".into(),
            mount_options: "rw".into(),
            fstype: "btrfs".into(),
            source: "/dev/loop0".into(),
            super_options: "rw".into(),
            locality: None,
        },
    );
    let btrfs_fd = |fd_no: i32, path: &str, ino: u64, sub: u32, lock: &str, ofid: u64| OpenFd {
        key: Some(FileKey {
            major: 0,
            minor: 41,
            ino,
        }),
        mnt_id: Some(40),
        st_dev: Some((0, sub)),
        open_file_id: Some(ofid),
        ..fd(7000, fd_no, path, ino, &[&format!("1: {lock}")], 0o2100002)
    };
    let snap = Snapshot {
        taken_at: 2_000,
        host: "h".into(),
        platform: Platform::Linux,
        locks,
        own_mount_ids: [40].into_iter().collect(),
        mounts,
        open_fds: vec![
            btrfs_fd(3, "/mnt/a/x.pid", 257, 43, line, 1),
            btrfs_fd(4, "/mnt/b/y.pid", 257, 44, line, 2),
            btrfs_fd(5, "/mnt/a/r.lock", 258, 43, ofd, 3),
            btrfs_fd(6, "/mnt/b/r.lock", 258, 44, ofd, 4),
        ],
        processes: [(7000, process(7000, "app", 1))].into_iter().collect(),
        ..Default::default()
    };
    let files = build_files(&snap, Vec::new(), HashMap::new(), None);
    for (path, fd_no) in [
        ("/mnt/a/x.pid", 3),
        ("/mnt/b/y.pid", 4),
        ("/mnt/a/r.lock", 5),
        ("/mnt/b/r.lock", 6),
    ] {
        let f = files
            .iter()
            .find(|f| f.path.as_deref() == Some(path))
            .unwrap_or_else(|| panic!("{path} not reported: {files:#?}"));
        assert_eq!(f.locks.len(), 1, "{path}: {f:#?}");
        assert_eq!(
            f.locks[0]
                .holders
                .iter()
                .map(|h| (h.pid, h.fd))
                .collect::<Vec<_>>(),
            vec![(7000, Some(fd_no))],
            "{path}"
        );
    }
    assert_eq!(files.len(), 4, "{files:#?}");
}
