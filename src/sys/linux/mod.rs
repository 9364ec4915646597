//! Linux backend: `/proc/locks`, `/proc/PID/fdinfo`, mountinfo and the process table.
//!
//! Cost model (see the README's performance section): `/proc/locks` is read exactly
//! once, because every read takes the kernel's global `file_rwsem` for writing and
//! stalls every lock operation on the system. Each process directory is opened once
//! as a dirfd and everything else is read relative to it, which also pins the pid:
//! after the process exits every `openat` on that dirfd fails with ESRCH, so a
//! recycled pid is never read by mistake. fdinfo is read only for fds whose target is
//! a path (sockets, pipes and anonymous inodes are skipped on the readlink alone).

pub mod fdinfo;
pub mod mountinfo;
pub mod proc_locks;
pub mod process;

use std::collections::HashSet;
use std::fs::File;
use std::io::Read;

use super::{GatherOptions, Snapshot, SourceError};
use crate::sys::types::*;

/// Reads a whole file into a string, lossily (kernel text is ASCII; paths may not be).
pub(crate) fn read_text(mut file: File) -> std::io::Result<String> {
    let mut buf = Vec::with_capacity(4096);
    file.read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads `/proc/locks` once. The only place in lockscan that opens it.
pub fn read_proc_locks() -> std::io::Result<ProcLocks> {
    let text = read_text(File::open("/proc/locks")?)?;
    Ok(proc_locks::parse_proc_locks(&text))
}

fn host_name() -> String {
    let uname = rustix::system::uname();
    uname.nodename().to_string_lossy().into_owned()
}

/// True when our procfs lives in a child pid namespace: the kernel then hides locks
/// whose owner is outside it (docs/kernel-locks.md §1.3), so "not held" cannot be concluded.
fn in_child_pid_namespace() -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/status") else {
        return false;
    };
    text.lines()
        .find_map(|l| l.strip_prefix("NSpid:"))
        .map(|rest| rest.split_whitespace().count() > 1)
        .unwrap_or(false)
}

/// Gathers the whole snapshot.
pub fn gather(opts: &GatherOptions) -> Snapshot {
    let mut snap = Snapshot {
        taken_at: super::now_secs(),
        host: host_name(),
        platform: Platform::Linux,
        boot_time: procfs::boot_time_secs().ok(),
        ..Default::default()
    };
    snap.visibility.root = rustix::process::geteuid().is_root();
    snap.visibility.pid_namespace_filtered = in_child_pid_namespace();

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

    match std::fs::read("/proc/self/mountinfo") {
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

    process::scan_fds(&mut snap);
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
    snap
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
        if let Some(mut info) = process::read_process(pid, boot) {
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
}
