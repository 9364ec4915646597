//! The process table and every process's open files.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

use procfs::FromRead;
use rustix::fs::{AtFlags, Dir, Mode, OFlags, StatxFlags};
use rustix::io::Errno;

use super::fdinfo;
use super::mountinfo::parse_mountinfo_bytes;
use crate::sys::types::*;
use crate::sys::{Snapshot, SourceError};

/// The kernel appends this to the readlink of an fd whose file has no link left.
/// A file may really be named like that, so it is only a hint (docs/kernel-locks.md §4).
const DELETED_SUFFIX: &[u8] = b" (deleted)";

fn open_dir_at(dirfd: impl AsFd, name: &str) -> rustix::io::Result<OwnedFd> {
    rustix::fs::openat(
        dirfd,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Reads a whole proc file. Plain `read` calls until EOF: `File::read_to_end` would
/// add an `fstat` and an `lseek` per file, which doubles the syscalls per fd.
/// fdinfo of an fd with thousands of POSIX ranges is large and generated whole on
/// open, so the buffer grows as needed.
fn read_at(dirfd: impl AsFd, name: &str) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    read_into(dirfd, name, &mut buf)?;
    Ok(buf)
}

/// [`read_at`] into a caller's buffer (cleared first), so the per-fd loop reuses
/// one allocation for every fdinfo it reads.
fn read_into(dirfd: impl AsFd, name: &str, buf: &mut Vec<u8>) -> std::io::Result<()> {
    buf.clear();
    let fd = rustix::fs::openat(dirfd, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    loop {
        if buf.capacity() - buf.len() < 256 {
            buf.reserve(buf.capacity().max(4096));
        }
        let n = loop {
            match rustix::io::read(&fd, buf.spare_capacity_mut()) {
                Ok((init, _)) => break init.len(),
                Err(Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        if n == 0 {
            return Ok(());
        }
        let asked = buf.capacity() - buf.len();
        // SAFETY: `read` initialised `n` bytes of the spare capacity.
        unsafe { buf.set_len(buf.len() + n) };
        // A seq_file read returns less than asked only when the text is exhausted, so a
        // short read is the end: this saves the extra `read` returning 0 on every fd.
        if n < asked {
            return Ok(());
        }
    }
}

/// Opens `/proc` and yields the numeric entries (thread-group leaders).
fn list_pids() -> std::io::Result<Vec<i32>> {
    let proc_fd = open_dir_at(rustix::fs::CWD, "/proc")?;
    let mut dir = Dir::new(proc_fd)?;
    let mut pids = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry?;
        if let Some(pid) = entry
            .file_name()
            .to_str()
            .ok()
            .and_then(|s| s.parse::<i32>().ok())
        {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// What the fd walk found.
#[derive(Default)]
struct FdScanPart {
    fds: Vec<OpenFd>,
    seen: usize,
    denied: Vec<i32>,
    vanished: usize,
    /// Mounts of other mount namespaces, learnt from holders living in them.
    foreign_mounts: HashMap<u64, Mount>,
    names: HashMap<i32, String>,
    /// Indexes in `fds` of `(deleted)` fds on served mounts, to confirm through a
    /// helper process.
    unconfirmed: Vec<usize>,
}

/// What [`walk_fd_tables`] found, to be added to a snapshot with [`add_fd_tables`].
pub struct FdTables(Result<FdScanPart, SourceError>);

/// The processes to walk: the numeric entries of /proc now. Listed before anything
/// else of the scan runs, so that lockscan's own helper processes (forked later to
/// ask a network filesystem, with copies of lockscan's fds) are never among them.
pub struct PidList(Result<Vec<i32>, SourceError>);

pub fn pid_list() -> PidList {
    PidList(list_pids().map_err(|e| SourceError {
        source: "/proc".into(),
        error: e.to_string(),
    }))
}

/// Walks every process's fd table once and records the fds that refer to paths,
/// with their fdinfo (flags, mount id, inode and `lock:` lines). It needs only the
/// mount table, so it runs on other threads while the snapshot is used for
/// something else; [`add_fd_tables`] puts what it found in the snapshot.
///
/// Two threads share it ([`crate::sys::worker_threads`]): the cost is kernel work per fd, which
/// runs on both cores. Measured with 20,000 locked fds in 50 processes on 2 CPUs
/// (`LOCKSCAN_TIMING=1`): one walker 207-235 ms, two 110-177 ms.
pub fn walk_fd_tables(pids: PidList, mounts: &HashMap<u64, Mount>) -> FdTables {
    let pids = match pids.0 {
        Ok(p) => p,
        Err(e) => return FdTables(Err(e)),
    };
    let self_pid = rustix::process::getpid().as_raw_nonzero().get();
    FdTables(Ok(scan_pids(&pids, self_pid, mounts)))
}

/// Adds what [`walk_fd_tables`] found, and confirms its `(deleted)` fds on served
/// mounts (through helper processes).
pub fn add_fd_tables(snap: &mut Snapshot, tables: FdTables) {
    let part = match tables.0 {
        Ok(part) => part,
        Err(e) => {
            snap.errors.push(e);
            return;
        }
    };
    let base = snap.open_fds.len();
    let unconfirmed: Vec<usize> = part.unconfirmed.iter().map(|i| base + i).collect();
    snap.visibility.processes_seen += part.seen;
    snap.visibility.processes_denied += part.denied.len();
    snap.visibility.denied_pids.extend(part.denied);
    snap.visibility.processes_vanished += part.vanished;
    snap.open_fds.extend(part.fds);
    snap.process_names.extend(part.names);
    for (id, m) in part.foreign_mounts {
        snap.mounts.entry(id).or_insert(m);
    }
    confirm_on_served_mounts(snap, &unconfirmed);
}

// The fd tables are walked by `crate::sys::worker_threads()` threads. Every
// process's fds are dealt out among them by position (fd `i` of the listing to
// thread `i % n`), so one process with thousands of fds is shared as evenly as a
// thousand small ones. The cost is kernel work per fd (readlink, and
// open/read/close of fdinfo), which scales with cores; each thread opens the
// process's directories itself (a few syscalls per process, against a few per fd).

fn scan_pids(pids: &[i32], self_pid: i32, mounts: &HashMap<u64, Mount>) -> FdScanPart {
    let walkers = crate::sys::worker_threads();
    let mut parts: Vec<FdScanPart> = std::thread::scope(|s| {
        let others: Vec<_> = (1..walkers)
            .map(|k| s.spawn(move || scan_pids_share(pids, self_pid, mounts, k, walkers)))
            .collect();
        let mut parts = vec![scan_pids_share(pids, self_pid, mounts, 0, walkers)];
        // A walker that panicked loses its share, not the scan.
        parts.extend(others.into_iter().filter_map(|h| h.join().ok()));
        parts
    });
    let mut part = parts.remove(0);
    if parts.is_empty() {
        return part;
    }
    // The unconfirmed fds by identity, since merging moves them.
    let mut unconfirmed: HashSet<(i32, i32)> = part
        .unconfirmed
        .iter()
        .map(|&i| (part.fds[i].pid, part.fds[i].fd))
        .collect();
    for other in parts {
        unconfirmed.extend(
            other
                .unconfirmed
                .iter()
                .map(|&i| (other.fds[i].pid, other.fds[i].fd)),
        );
        part.fds.extend(other.fds);
        part.denied.extend(other.denied);
        for (id, m) in other.foreign_mounts {
            part.foreign_mounts.entry(id).or_insert(m);
        }
    }
    // The order one walker would have produced: by pid as listed, then by fd.
    let order: HashMap<i32, usize> = pids.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    part.fds
        .sort_unstable_by_key(|f| (order.get(&f.pid).copied().unwrap_or(usize::MAX), f.fd));
    part.denied
        .sort_unstable_by_key(|p| order.get(p).copied().unwrap_or(usize::MAX));
    part.denied.dedup();
    part.unconfirmed = part
        .fds
        .iter()
        .enumerate()
        .filter(|(_, f)| unconfirmed.contains(&(f.pid, f.fd)))
        .map(|(i, _)| i)
        .collect();
    part
}

/// One walker's share of [`scan_pids`]: fd `i` of each process's listing when
/// `i % of == share`. Walker 0 alone counts processes (seen, vanished, denied at
/// the directory) and reads their names, so that nothing is counted twice.
fn scan_pids_share(
    pids: &[i32],
    self_pid: i32,
    mounts: &HashMap<u64, Mount>,
    share: usize,
    of: usize,
) -> FdScanPart {
    let first = share == 0;
    let mut part = FdScanPart::default();
    let mut fdinfo_buf: Vec<u8> = Vec::with_capacity(4096);
    let mut foreign_tried: HashSet<i32> = HashSet::new();
    let mut path = String::with_capacity(32);
    let mut fd_numbers: Vec<i32> = Vec::new();
    for &pid in pids {
        if first {
            part.seen += 1;
        }
        if pid == self_pid {
            // Our own fds are the scanner's, never a holder's.
            continue;
        }
        path.clear();
        let _ = write!(path, "/proc/{pid}");
        let piddir = match open_dir_at(rustix::fs::CWD, &path) {
            Ok(fd) => fd,
            // hidepid=1 (noaccess): listed, but not ours to open.
            Err(Errno::ACCESS) | Err(Errno::PERM) => {
                if first {
                    part.denied.push(pid);
                }
                continue;
            }
            Err(_) => {
                if first {
                    part.vanished += 1;
                }
                continue;
            }
        };
        if first && let Ok(comm) = read_at(&piddir, "comm") {
            let name = String::from_utf8_lossy(&comm).trim_end().to_string();
            part.names.insert(pid, name);
        }
        let fddir = match open_dir_at(&piddir, "fd") {
            Ok(fd) => fd,
            Err(Errno::ACCESS) | Err(Errno::PERM) => {
                if first {
                    part.denied.push(pid);
                }
                continue;
            }
            Err(_) => {
                // ENOENT / ESRCH: exited (or a zombie with no fd table).
                if first {
                    part.vanished += 1;
                }
                continue;
            }
        };
        // The directory stream owns the fd (no reopen of "."); fds are looked up
        // relative to it, which does not move its position.
        let Ok(mut dir) = Dir::new(fddir) else {
            if first {
                part.vanished += 1;
            }
            continue;
        };
        fd_numbers.clear();
        while let Some(entry) = dir.read() {
            let Ok(entry) = entry else { break };
            if let Some(fd) = entry
                .file_name()
                .to_str()
                .ok()
                .and_then(|s| s.parse::<i32>().ok())
            {
                fd_numbers.push(fd);
            }
        }
        let Ok(fddir) = dir.fd() else { continue };
        let mut denied = false;
        // Opened at this process's first fd that names a path.
        let mut fdinfo_dir: Option<OwnedFd> = None;
        for (index, &fd) in fd_numbers.iter().enumerate() {
            if index % of != share {
                continue;
            }
            let found = scan_fd(
                piddir.as_fd(),
                fddir,
                pid,
                fd,
                mounts,
                &mut part,
                &mut foreign_tried,
                &mut fdinfo_buf,
                &mut fdinfo_dir,
            );
            if found.is_err() {
                denied = true;
                break;
            }
        }
        if denied {
            part.denied.push(pid);
        }
    }
    part
}

/// Reading an fd of this process was refused: the whole process counts as denied.
struct Denied;

/// Records fd `fd` of `pid` in `part` when its target is a path.
#[allow(clippy::too_many_arguments)]
fn scan_fd(
    piddir: BorrowedFd<'_>,
    fddir: BorrowedFd<'_>,
    pid: i32,
    fd: i32,
    mounts: &HashMap<u64, Mount>,
    part: &mut FdScanPart,
    foreign_tried: &mut HashSet<i32>,
    fdinfo_buf: &mut Vec<u8>,
    fdinfo_dir: &mut Option<OwnedFd>,
) -> Result<(), Denied> {
    // "fdinfo/N", of which "N" is the fd's name in the fd directory.
    let fdinfo_name = format!("fdinfo/{fd}");
    let name = &fdinfo_name["fdinfo/".len()..];
    let target = match rustix::fs::readlinkat(fddir, name, Vec::new()) {
        Ok(t) => t.into_bytes(),
        Err(Errno::ACCESS) | Err(Errno::PERM) => return Err(Denied),
        Err(_) => return Ok(()), // fd closed meanwhile
    };
    // Sockets, pipes, anon inodes: no path, no file lock. Skip on the link alone.
    if target.first() != Some(&b'/') {
        return Ok(());
    }
    // One lookup per fd ("N" in the fdinfo directory) instead of two.
    if fdinfo_dir.is_none() {
        *fdinfo_dir = open_dir_at(piddir, "fdinfo").ok();
    }
    let read = match fdinfo_dir {
        Some(dir) => read_into(&*dir, name, fdinfo_buf),
        None => read_into(piddir, &fdinfo_name, fdinfo_buf),
    };
    let info = match read {
        Ok(()) => fdinfo::parse_fdinfo(&String::from_utf8_lossy(fdinfo_buf)),
        Err(e) if e.raw_os_error() == Some(libc::EACCES) => return Err(Denied),
        Err(_) => return Ok(()),
    };
    let mut key = None;
    if let (Some(mnt), Some(ino)) = (info.mnt_id, info.ino) {
        if !mounts.contains_key(&mnt)
            && !part.foreign_mounts.contains_key(&mnt)
            && foreign_tried.insert(pid)
        {
            // The holder lives in another mount namespace: learn its mounts.
            if let Ok(bytes) = read_at(piddir, "mountinfo") {
                for m in parse_mountinfo_bytes(&bytes).0 {
                    part.foreign_mounts.entry(m.mount_id).or_insert(m);
                }
            }
        }
        if let Some(m) = mounts.get(&mnt).or_else(|| part.foreign_mounts.get(&mnt)) {
            key = Some(FileKey {
                major: m.major,
                minor: m.minor,
                ino,
            });
        }
    }
    if key.is_none() {
        // Older kernels (no `ino:`/`mnt_id:`): the lock lines carry the key.
        key = info.locks.iter().find_map(|l| l.key);
    }
    let mut path_bytes = target;
    let (mut deleted, mut replaced) = (false, false);
    if path_bytes.ends_with(DELETED_SUFFIX) {
        // An unknown mount counts as served: never ask what may not answer.
        let served = info
            .mnt_id
            .and_then(|m| mounts.get(&m).or_else(|| part.foreign_mounts.get(&m)))
            .is_none_or(Mount::served);
        if served {
            // Confirming asks the server: later, through a helper process.
            part.unconfirmed.push(part.fds.len());
        } else if let Some((d, r)) = confirm_deleted(fddir, name, &path_bytes) {
            (deleted, replaced) = (d, r);
            if deleted || replaced {
                path_bytes.truncate(path_bytes.len() - DELETED_SUFFIX.len());
            }
        }
    }
    // Only the holder's own namespace gives its path meaning; keep it either way.
    part.fds.push(OpenFd {
        inherited_from: None,
        pid,
        fd,
        path: Some(PathBuf::from(OsString::from_vec(path_bytes))),
        deleted,
        replaced,
        key,
        mnt_id: info.mnt_id,
        st_dev: subvolume_dev(
            fddir,
            name,
            info.mnt_id
                .and_then(|m| mounts.get(&m).or_else(|| part.foreign_mounts.get(&m))),
        ),
        flags: info.flags,
        locks: info.locks,
        open_file_id: None,
    });
    Ok(())
}

/// Whether the file open as `fddir/name`, which /proc shows as `path … (deleted)`,
/// is really gone: the suffix is only a hint (a file may be named so), so confirm
/// on the open inode itself. nlink 0: unlinked. Otherwise the name it was opened by
/// is gone (renamed over, or unlinked while another hard link lives): it was
/// replaced when the name now leads elsewhere or nowhere. `None`: not known.
///
/// Both `statx` calls ask the filesystem: on a served mount, call this only through
/// a helper process.
pub fn confirm_deleted(fddir: impl AsFd, name: &str, path: &[u8]) -> Option<(bool, bool)> {
    let flags = AtFlags::STATX_DONT_SYNC;
    let st = rustix::fs::statx(&fddir, name, flags, StatxFlags::NLINK | StatxFlags::INO).ok()?;
    if st.stx_nlink == 0 {
        return Some((true, false));
    }
    let stripped = &path[..path.len().saturating_sub(DELETED_SUFFIX.len())];
    let now = rustix::fs::statx(
        rustix::fs::CWD,
        std::ffi::OsStr::from_bytes(stripped),
        flags | AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::INO,
    );
    let same = now.is_ok_and(|n| {
        n.stx_ino == st.stx_ino
            && (n.stx_dev_major, n.stx_dev_minor) == (st.stx_dev_major, st.stx_dev_minor)
    });
    Some((false, !same))
}

/// Confirms the `(deleted)` fds on served mounts that [`scan_pids`] left, each in a
/// helper process (`Snapshot::guarded`): a mount that does not answer leaves them
/// unconfirmed, and the path keeps its suffix.
fn confirm_on_served_mounts(snap: &mut Snapshot, unconfirmed: &[usize]) {
    for &i in unconfirmed {
        let fd = &snap.open_fds[i];
        let Some(mount) = snap.served_mount(fd.mnt_id).cloned() else {
            continue;
        };
        let (pid, fdnum) = (fd.pid, fd.fd);
        let Some(path) = fd.path.clone() else {
            continue;
        };
        let bytes = path.as_os_str().as_bytes().to_vec();
        let answer = snap.guarded(&mount, "checking a deleted file", |_| {
            let dir = format!("/proc/{pid}/fd");
            let verdict =
                rustix::fs::open(dir.as_str(), OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
                    .ok()
                    .and_then(|d| confirm_deleted(&d, &fdnum.to_string(), &bytes));
            match verdict {
                Some((d, r)) => vec![1, d as u8, r as u8],
                None => vec![0],
            }
        });
        if let Some([1, d, r]) = answer.as_deref() {
            let fd = &mut snap.open_fds[i];
            fd.deleted = *d == 1;
            fd.replaced = *r == 1;
            if fd.deleted || fd.replaced {
                let mut b = bytes;
                b.truncate(b.len() - DELETED_SUFFIX.len());
                fd.path = Some(PathBuf::from(OsString::from_vec(b)));
            }
        }
    }
}

/// `PF_KTHREAD` (include/linux/sched.h): the task is a kernel thread.
const PF_KTHREAD: u32 = 0x0020_0000;

/// The `st_dev` of the file open as `/proc/PID/fd/<name>`, for fds on btrfs only:
/// there every subvolume and snapshot has its own `st_dev`, while the lock table
/// (and the key built from mountinfo) names the one superblock, so the same inode
/// number in two subvolumes gives two files one key. `statx` through the magic
/// link asks the open file itself (no path lookup); `AT_STATX_DONT_SYNC` with only
/// `STATX_INO` asked keeps it from doing more than reading the in-memory inode
/// (`st_dev` is filled whatever the mask). Other filesystems cost nothing.
fn subvolume_dev(fddir: BorrowedFd<'_>, name: &str, mount: Option<&Mount>) -> Option<(u32, u32)> {
    if mount?.fstype != "btrfs" {
        return None;
    }
    let st = rustix::fs::statx(
        fddir,
        name,
        AtFlags::STATX_DONT_SYNC,
        rustix::fs::StatxFlags::INO,
    )
    .ok()?;
    Some((st.stx_dev_major, st.stx_dev_minor))
}

/// Reads one process's context; `None` if it does not exist (any more).
pub fn read_process(pid: i32, boot_time: Option<u64>) -> Option<ProcessInfo> {
    let piddir = open_dir_at(rustix::fs::CWD, &format!("/proc/{pid}")).ok()?;
    let stat_file = rustix::fs::openat(
        &piddir,
        "stat",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .ok()?;
    let stat = procfs::process::Stat::from_read(File::from(stat_file)).ok()?;
    let mut info = ProcessInfo {
        pid,
        command: stat.comm.clone(),
        state: ProcessState::from_letter(stat.state),
        ppid: Some(stat.ppid),
        tty_foreground: Some(stat.tty_nr != 0 && stat.tpgid > 0 && stat.tpgid == stat.pgrp),
        kernel_thread: stat.flags & PF_KTHREAD != 0,
        ..Default::default()
    };
    let tps = procfs::ticks_per_second();
    if let (Some(boot), true) = (boot_time, tps > 0) {
        info.started_at = Some(boot + stat.starttime / tps);
    }
    if let Ok(f) = rustix::fs::openat(
        &piddir,
        "status",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) && let Ok(status) = procfs::process::Status::from_read(File::from(f))
    {
        info.uid = Some(status.euid);
        info.ns_pid = status
            .nspid
            .filter(|ns| ns.len() > 1)
            .and_then(|ns| ns.last().copied());
    }
    // A process in uninterruptible sleep may be stuck on a filesystem server with
    // its memory map locked, and reading its command line takes that lock: read it
    // through a helper process, which is abandoned if it does not answer.
    let cmdline = if info.state == Some(ProcessState::DiskSleep) {
        let dir = piddir.try_clone().ok();
        match dir.map(|d| {
            super::guard::run(crate::sys::DEFAULT_MOUNT_TIMEOUT, move |_| {
                read_at(&d, "cmdline").unwrap_or_default()
            })
        }) {
            Some(super::guard::Guarded::Done(b)) => Ok(b),
            _ => Err(()),
        }
    } else {
        read_at(&piddir, "cmdline").map_err(|_| ())
    };
    if let Ok(bytes) = cmdline {
        let mut parts: Vec<String> = bytes
            .split(|b| *b == 0)
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        while parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        info.cmdline = parts.join(" ");
    }
    if let Ok(exe) = rustix::fs::readlinkat(&piddir, "exe", Vec::new()) {
        info.exe = Some(PathBuf::from(OsString::from_vec(exe.into_bytes())));
    }
    if let Ok(cwd) = rustix::fs::readlinkat(&piddir, "cwd", Vec::new()) {
        info.cwd = Some(PathBuf::from(OsString::from_vec(cwd.into_bytes())));
    }
    if let Ok(w) = read_at(&piddir, "wchan") {
        let w = String::from_utf8_lossy(&w).trim().to_string();
        if !w.is_empty() && w != "0" {
            info.wchan = Some(w);
        }
    }
    if let Ok(t) = rustix::fs::readlinkat(&piddir, "fd/0", Vec::new()) {
        let t = t.to_string_lossy().into_owned();
        if t.starts_with("/dev/pts/") || t.starts_with("/dev/tty") || t.starts_with("/dev/console")
        {
            info.stdin_tty = Some(t);
        }
    }
    if let Ok(cg) = read_at(&piddir, "cgroup") {
        // cgroup v2: a single `0::/system.slice/foo.service` line; v1: pick the
        // systemd (name=systemd) hierarchy.
        let text = String::from_utf8_lossy(&cg);
        info.cgroup = text
            .lines()
            .find(|l| l.starts_with("0::"))
            .or_else(|| text.lines().find(|l| l.contains("name=systemd")))
            .and_then(|l| l.rsplit(':').next())
            .filter(|p| !p.is_empty() && *p != "/")
            .map(str::to_string);
    }
    Some(info)
}

/// `kcmp(2)` type: do two fds refer to the same open file description?
const KCMP_FILE: libc::c_int = 0;

fn same_open_file(a: &OpenFd, b: &OpenFd) -> Option<bool> {
    // SAFETY: kcmp only compares kernel objects; it reads no user memory.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kcmp,
            a.pid as libc::pid_t,
            b.pid as libc::pid_t,
            KCMP_FILE,
            a.fd as libc::c_ulong,
            b.fd as libc::c_ulong,
        )
    };
    (r >= 0).then_some(r == 0)
}

/// Groups the lock-carrying fds of each locked inode by open file description, so
/// that identical-looking flock/OFD locks (two shared readers on one file, both
/// shown as `OFDLCK ... READ -1`) can be told apart: every fd of one description
/// holds the same lock. Costs one `kcmp` per fd and group, and only runs where a
/// file carries more than one such fd.
pub fn assign_open_file_ids(snap: &mut Snapshot) {
    let mut by_key: HashMap<FileKey, Vec<usize>> = HashMap::new();
    for (i, fd) in snap.open_fds.iter().enumerate() {
        if let Some(key) = fd.key
            && fd.locks.iter().any(|l| l.kind.owned_by_open_file())
        {
            by_key.entry(key).or_default().push(i);
        }
    }
    let mut next_id: u64 = 1;
    for (_, idxs) in by_key {
        if idxs.len() < 2 {
            snap.open_fds[idxs[0]].open_file_id = Some(next_id);
            next_id += 1;
            continue;
        }
        // Representatives of each group found so far: (fd index, group id).
        let mut groups: Vec<(usize, u64)> = Vec::new();
        for &i in &idxs {
            let mut found = None;
            let mut failed = false;
            for &(rep, gid) in &groups {
                match same_open_file(&snap.open_fds[i], &snap.open_fds[rep]) {
                    Some(true) => {
                        found = Some(gid);
                        break;
                    }
                    Some(false) => {}
                    None => failed = true,
                }
            }
            match (found, failed) {
                (Some(gid), _) => snap.open_fds[i].open_file_id = Some(gid),
                (None, false) => {
                    groups.push((i, next_id));
                    snap.open_fds[i].open_file_id = Some(next_id);
                    next_id += 1;
                }
                // Could not compare (permission, process gone): leave unknown.
                (None, true) => {}
            }
        }
    }
}

/// `F_OFD_SETLKW` (fcntl.h); the blocking OFD lock command.
const F_OFD_SETLKW: u64 = 38;

/// What `/proc/PID/syscall` says the process is blocked in: (syscall, arg0, arg1).
fn blocked_syscall(pid: i32) -> Option<(i64, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/syscall")).ok()?;
    let mut it = text.split_whitespace();
    let nr: i64 = it.next()?.parse().ok()?;
    let hex = |s: &str| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok();
    let a0 = hex(it.next()?)?;
    let a1 = hex(it.next()?)?;
    Some((nr, a0, a1))
}

/// OFD waiters print pid -1 in `/proc/locks`, so the table alone cannot say who
/// waits. Waiters never show in fdinfo either. A blocked `fcntl(fd, F_OFD_SETLKW)`
/// does show in `/proc/PID/syscall` with its fd, and the fd names the inode: that
/// identifies the waiter exactly. Only processes with an fd on such a file are
/// asked, and only when such waiter lines exist.
pub fn resolve_ofd_waiters(snap: &mut Snapshot) {
    let mut lines_by_key: HashMap<FileKey, Vec<usize>> = HashMap::new();
    for (i, l) in snap.locks.lines.iter().enumerate() {
        if l.depth > 0 && l.pid < 0 && l.kind == LockKind::Ofd {
            // The waiter's own line may lack a key only for lease breakers; follow the root.
            let mut j = i;
            while let Some(Some(b)) = snap.locks.blocker.get(j) {
                j = *b;
                if snap.locks.lines[j].depth == 0 {
                    break;
                }
            }
            if let Some(key) = snap.locks.lines[j].key.or(l.key) {
                lines_by_key.entry(key).or_default().push(i);
            }
        }
    }
    for (key, lines) in lines_by_key {
        let mut found: Vec<(i32, i32)> = Vec::new();
        for fd in snap.open_fds.iter().filter(|f| f.key == Some(key)) {
            if let Some((nr, a0, a1)) = blocked_syscall(fd.pid)
                && nr == libc::SYS_fcntl
                && a0 == fd.fd as u64
                && a1 == F_OFD_SETLKW
            {
                found.push((fd.pid, fd.fd));
            }
        }
        found.sort_unstable();
        found.dedup();
        // One blocked call per waiter line; with several, order is not knowable, so
        // pair them in order (each pid is a real waiter on this file either way).
        for (line, who) in lines.iter().zip(found) {
            snap.resolved_waiters.insert(*line, who);
        }
    }
}
