//! Linux backend: `/proc/locks`, `/proc/PID/fdinfo`, mountinfo and the process table.
//!
//! Cost model (see the README's performance section): `/proc/locks` is read exactly
//! once, because every read takes the kernel's global `file_rwsem` for writing and
//! stalls every lock operation on the system; it is read on its own thread while two
//! others walk the fd tables. Each walker opens a process's directory as a dirfd and
//! reads everything else relative to it, which also pins the pid: after the process
//! exits every `openat` on that dirfd fails with ESRCH, so a recycled pid is never
//! read by mistake. fdinfo is read only for fds whose target is a path (sockets,
//! pipes and anonymous inodes are skipped on the readlink alone).

pub mod fdinfo;
pub mod guard;
pub mod mountinfo;
pub mod proc_locks;
pub mod process;

use std::collections::HashSet;
use std::fs::File;

use super::{GatherOptions, Snapshot, SourceError};
use crate::sys::types::*;

/// Reads a seq_file (such as /proc/locks) to its end, without small reads.
///
/// Every `read()` of a seq_file restarts the kernel's walk of its records from the
/// first one (fs/locks.c `locks_start` skips `*pos` entries), and the kernel hands
/// out at most one page per read, so the cost is (pages) x (records): the floor.
/// `read_to_end` added reads of 32 bytes and other odd sizes (each one a whole
/// walk); here every read asks for more than a page can hold.
pub fn read_seq_file(file: &File) -> std::io::Result<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let n = match rustix::io::read(file, &mut chunk[..]) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

/// Reads `/proc/locks` once. The only place in lockscan that opens it.
pub fn read_proc_locks() -> std::io::Result<ProcLocks> {
    let bytes = read_seq_file(&File::open("/proc/locks")?)?;
    Ok(proc_locks::parse_proc_locks(&String::from_utf8_lossy(
        &bytes,
    )))
}

fn host_name() -> String {
    let uname = rustix::system::uname();
    uname.nodename().to_string_lossy().into_owned()
}

/// The inode of the initial pid namespace's `ns/pid` link (`PROC_PID_INIT_INO` in
/// include/linux/proc_ns.h): fixed, so a namespace is the host's exactly when its
/// link has this inode.
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;

/// Whether `/proc` belongs to the initial pid namespace. The kernel filters
/// `/proc/locks` by the pid namespace of the procfs mount (docs/kernel-locks.md
/// §1.3): anywhere else, locks held by processes outside are left out.
///
/// `NSpid` in `/proc/self/status` lists our pid from the procfs's namespace down to
/// our own: one entry means the procfs is of our own namespace, whose inode
/// `/proc/self/ns/pid` gives; more mean the procfs is of an outer namespace (a
/// container that bind-mounted the host's /proc), whose init's link tells (readable
/// only with ptrace access to it). `None` when that cannot be established.
fn procfs_in_initial_pid_namespace() -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let levels = status
        .lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|rest| rest.split_whitespace().count())
        .unwrap_or(1);
    let link = if levels <= 1 {
        "/proc/self/ns/pid"
    } else {
        "/proc/1/ns/pid"
    };
    let st = rustix::fs::stat(link).ok()?;
    Some(st.st_ino == PROC_PID_INIT_INO)
}

/// The `hidepid=`/`subset=` options of the procfs at `/proc`, when they hide other
/// users' processes from us (root, and members of the `gid=` group, see them all).
fn proc_restriction(mounts: &std::collections::HashMap<u64, Mount>) -> Option<String> {
    let st = rustix::fs::statx(
        rustix::fs::CWD,
        "/proc",
        rustix::fs::AtFlags::empty(),
        rustix::fs::StatxFlags::MNT_ID,
    )
    .ok()?;
    let mount = mounts.get(&st.stx_mnt_id)?;
    let opts: Vec<&str> = mount
        .super_options
        .split(',')
        .chain(mount.mount_options.split(','))
        .filter(|o| {
            (o.starts_with("hidepid=") && !matches!(*o, "hidepid=0" | "hidepid=off"))
                || o.starts_with("subset=")
        })
        .collect();
    if opts.is_empty() || rustix::process::geteuid().is_root() {
        return None;
    }
    let exempt_gid = mount
        .super_options
        .split(',')
        .find_map(|o| o.strip_prefix("gid="))
        .and_then(|g| g.parse::<u32>().ok());
    if let Some(gid) = exempt_gid {
        let mut groups = vec![0u32; 256];
        // SAFETY: the buffer holds 256 gids; getgroups writes at most that many.
        let n = unsafe { libc::getgroups(256, groups.as_mut_ptr()) };
        groups.truncate(n.max(0) as usize);
        if groups.contains(&gid) || rustix::process::getegid().as_raw() == gid {
            return None;
        }
    }
    let mut opts: Vec<String> = opts.into_iter().map(str::to_string).collect();
    opts.dedup();
    Some(opts.join(","))
}

/// Gathers the whole snapshot.
pub fn gather(opts: &GatherOptions) -> Snapshot {
    gather_while(opts, |_| ()).0
}

/// Gathers the whole snapshot, and runs `during` with it as soon as it holds the
/// mount and lock tables, while the fd tables are still being walked on other
/// threads (a path scan walks its tree meanwhile: neither needs the other). Every
/// other part of the snapshot (fds, processes) is empty for `during`.
pub fn gather_while<T>(opts: &GatherOptions, during: impl FnOnce(&Snapshot) -> T) -> (Snapshot, T) {
    let mut snap = Snapshot {
        taken_at: super::now_secs(),
        host: host_name(),
        platform: Platform::Linux,
        boot_time: procfs::boot_time_secs().ok(),
        mount_timeout: opts.mount_timeout,
        ..Default::default()
    };
    snap.visibility.root = rustix::process::geteuid().is_root();
    // Unknown counts as filtered: "not held" is never concluded from a table that
    // may be missing locks.
    snap.visibility.pid_namespace_filtered = procfs_in_initial_pid_namespace() != Some(true);

    read_mountinfo(&mut snap);
    snap.visibility.proc_restricted = proc_restriction(&snap.mounts);

    // The fd tables need only the mount table: walk them on their own threads while
    // this one reads /proc/locks (the kernel's cost, a walk of the whole lock list per
    // page read, see `read_seq_file`) and then runs `during`.
    // Listed here, before `during` can fork a helper (a helper is a copy of lockscan
    // and holds what it is reading open: it must not be mistaken for a holder).
    let pids = process::pid_list();
    let (tables, out) = std::thread::scope(|s| {
        let mounts = &snap.mounts;
        let fds = s.spawn(move || {
            let _t = super::timing::stage("fds");
            process::walk_fd_tables(pids, mounts)
        });
        let t = super::timing::stage("proc-locks");
        match read_proc_locks() {
            Ok(locks) => {
                snap.locks = locks;
                snap.visibility.proc_locks_read = true;
            }
            Err(e) => snap.errors.push(SourceError {
                source: "/proc/locks".into(),
                error: e.to_string(),
            }),
        }
        drop(t);
        let out = during(&snap);
        (fds.join(), out)
    });
    match tables {
        Ok(tables) => process::add_fd_tables(&mut snap, tables),
        Err(_) => snap.errors.push(SourceError {
            source: "/proc/PID/fd".into(),
            error: "walking the fd tables failed unexpectedly".into(),
        }),
    }
    let _t = super::timing::stage("processes");
    process::assign_open_file_ids(&mut snap);
    process::resolve_ofd_waiters(&mut snap);

    // Process context for every pid the lock table or the fds mention.
    let mut wanted: HashSet<i32> = HashSet::new();
    for line in &snap.locks.lines {
        if line.pid > 0 {
            wanted.insert(line.pid);
        }
    }
    wanted.extend(snap.resolved_waiters.values().map(|(pid, _)| *pid));
    for fd in &snap.open_fds {
        if !fd.locks.is_empty() {
            wanted.insert(fd.pid);
        }
    }
    wanted.extend(opts.extra_pids.iter().copied().filter(|p| *p > 0));
    add_processes(&mut snap, wanted);
    (snap, out)
}

/// Reads this mount namespace's mount table into the snapshot.
fn read_mountinfo(snap: &mut Snapshot) {
    match File::open("/proc/self/mountinfo").and_then(|f| read_seq_file(&f)) {
        Ok(bytes) => {
            // Bytes, not text: the kernel prints non-UTF-8 mount paths raw.
            let (mounts, skipped) = mountinfo::parse_mountinfo_bytes(&bytes);
            for m in mounts {
                snap.own_mount_ids.insert(m.mount_id);
                snap.mounts.insert(m.mount_id, m);
            }
            for s in skipped {
                snap.errors.push(SourceError {
                    source: format!("/proc/self/mountinfo line {}", s.line_no),
                    error: s.reason,
                });
            }
        }
        Err(e) => snap.errors.push(SourceError {
            source: "/proc/self/mountinfo".into(),
            error: e.to_string(),
        }),
    }
}

/// Reads process context for `pids` that are not in the snapshot yet, and their
/// parents' chain up to pid 1 (so a holder can be explained by its service).
pub fn add_processes(snap: &mut Snapshot, pids: impl IntoIterator<Item = i32>) {
    let boot = snap.boot_time;
    let mut queue: Vec<i32> = pids.into_iter().collect();
    let mut seen: HashSet<i32> = HashSet::new();
    while let Some(pid) = queue.pop() {
        if pid <= 0 || !seen.insert(pid) || snap.processes.contains_key(&pid) {
            continue;
        }
        let Some(mut info) = process::read_process(pid, boot) else {
            // Not readable: gone, or hidden from us (hidepid=, another user's, a
            // pid namespace). A signal 0 tells which without disturbing it.
            if super::process_exists(pid) == Some(true) {
                snap.hidden_pids.insert(pid);
            }
            continue;
        };
        if let Some(uid) = info.uid {
            super::add_users(snap, [uid]);
            info.user = snap.users.get(&uid).cloned();
        }
        if let Some(pp) = info.ppid
            && pp > 1
        {
            queue.push(pp);
        }
        snap.processes.insert(pid, info);
    }
}
