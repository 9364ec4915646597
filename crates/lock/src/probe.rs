//! Looking at other processes' locks on a known file without disturbing
//! them (docs/kernel-locks.md §2).
//!
//! `getlk`, [`open_for_probe`] and `probe_path` are non-intrusive: they
//! take no lock, open nothing that can block, and only read lock state
//! through `F_OFD_GETLK`/`F_GETLK`, which take just the per-inode spinlock
//! (unlike reading `/proc/locks`, which stalls every locker on the system).
//!
//! `flock` locks are invisible to `GETLK`. The only way to test them on a
//! specific file without `/proc` is to try to take one, which is what the
//! clearly labelled `probe_flock_acquiring` does.
//!
//! # Windows
//!
//! Only `open_for_probe` and the **acquiring** `probe_lockfileex` exist:
//! Windows cannot query byte-range locks without trying to take one, and
//! cannot say which handle or process holds one. The Linux-only items
//! (`getlk`, `probe_path`, `probe_flock_acquiring`, `Conflict`, `FlockProbe`)
//! are not compiled there.
//!
//! # Caveat for callers that hold POSIX locks themselves
//!
//! Closing *any* fd of an inode releases all POSIX locks the calling process
//! holds on it (the open+close trap, docs/kernel-locks.md §2.2). The `O_PATH` fd used
//! internally is harmless (its close does not touch locks), but the file
//! returned by [`open_for_probe`] is a real open: dropping it releases this
//! process's own POSIX locks on that file. A scanner process is unaffected
//! (it cannot release other processes' POSIX locks); a library user that
//! holds `fcntl` locks should probe through an fd it already has.

use std::fs::File;
use std::io;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::fd::AsRawFd;
#[cfg(any(target_os = "linux", target_os = "android"))]
use std::os::unix::fs::MetadataExt;
use std::path::Path;

#[cfg(any(target_os = "linux", target_os = "android"))]
use rustix::fs::{FlockOperation, OFlags};
#[cfg(any(target_os = "linux", target_os = "android"))]
use rustix::io::Errno;

#[cfg(any(target_os = "linux", target_os = "android"))]
use super::context;
#[cfg(any(target_os = "linux", target_os = "android"))]
use super::unix::{fcntl_lock_retrying, lock_type, not_regular, retry_eintr};
#[cfg(any(target_os = "linux", target_os = "android"))]
use super::{Mechanism, Mode};

#[cfg(any(target_os = "linux", target_os = "android"))]
/// One lock that conflicts with a hypothetical whole-file request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict {
    /// [`Mechanism::Posix`] or [`Mechanism::Ofd`] (the kernel reports OFD
    /// owners with pid -1). Never `Flock`: GETLK does not see flock locks.
    pub mechanism: Mechanism,
    /// Shared (read lock) or exclusive (write lock).
    pub mode: Mode,
    /// First locked byte.
    pub start: u64,
    /// Last locked byte, inclusive; `None` means "to end of file, however
    /// far it grows" (`l_len == 0`).
    pub end: Option<u64>,
    /// Owner pid: `None` when the kernel reported -1 (OFD locks), `Some(0)`
    /// when the owner is outside our pid namespace. On network filesystems
    /// non-local owners may also be reported as `<= 0`.
    pub pid: Option<i32>,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// Is there a POSIX or OFD lock on `file` that conflicts with a whole-file
/// lock in `mode`? Returns one such lock (the kernel reports only the
/// first it finds) or `None`.
///
/// Uses `F_OFD_GETLK`, which works on an `O_RDONLY` fd even for
/// [`Mode::Exclusive`] (GETLK never checks the access mode; only SETLK
/// does), and which sees POSIX locks with their real pid, OFD locks with
/// pid -1, and also POSIX locks held by the calling process itself (an OFD
/// request conflicts with them). On kernels before 3.15 `F_OFD_GETLK` gives
/// `EINVAL` and this falls back to `F_GETLK`, which cannot see the calling
/// process's own POSIX locks.
///
/// The answer may be stale by the time it is returned.
pub fn getlk(file: &File, mode: Mode) -> io::Result<Option<Conflict>> {
    let fl = match fcntl_lock_retrying(file, libc::F_OFD_GETLK, lock_type(mode)) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            fcntl_lock_retrying(file, libc::F_GETLK, lock_type(mode))?
        }
        other => other?,
    };
    Ok(conflict_from(&fl))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn conflict_from(fl: &libc::flock) -> Option<Conflict> {
    if fl.l_type == libc::F_UNLCK as libc::c_short {
        return None;
    }
    let mode = if fl.l_type == libc::F_WRLCK as libc::c_short {
        Mode::Exclusive
    } else {
        Mode::Shared
    };
    // The kernel answers with l_whence = SEEK_SET, l_start >= 0 and
    // l_len = 0 (to EOF) or the positive length of the range.
    let start = u64::try_from(fl.l_start).unwrap_or(0);
    let end = match u64::try_from(fl.l_len) {
        Ok(0) | Err(_) => None,
        Ok(len) => Some(start.saturating_add(len - 1)),
    };
    let (mechanism, pid) = if fl.l_pid == -1 {
        (Mechanism::Ofd, None)
    } else {
        (Mechanism::Posix, Some(fl.l_pid))
    };
    Some(Conflict {
        mechanism,
        mode,
        start,
        end,
        pid,
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// Open a candidate lock file for probing, safely.
///
/// 1. `open(O_PATH | O_NOFOLLOW | O_CLOEXEC)`: an `O_PATH` open touches
///    nothing. It does not open a FIFO or device, does not break leases,
///    does not update atime and does not fire inotify `IN_OPEN`.
///    `O_NOFOLLOW` makes a symlink in the last path component come back as
///    the link itself, which is then refused: following it could lead the
///    probe anywhere. Directories higher up in the path are still followed.
/// 2. `fstat` that fd and refuse anything that is not a regular file, with
///    an `InvalidInput` error naming the type (FIFO, socket, device,
///    directory, symbolic link).
/// 3. Reopen **the same inode** through `/proc/self/fd/N` with
///    `O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC`. Going through the
///    magic link means a rename between the checks cannot substitute a
///    different file. `O_RDONLY` is enough for `getlk` in either mode.
///    `O_NONBLOCK` guarantees the open never waits: a file with a lease gives
///    `EAGAIN` at once instead of waiting up to `lease-break-time` (45 s).
///    `O_NOCTTY` is belt and braces for a terminal. `O_CLOEXEC` keeps the fd
///    out of programs we spawn.
///
/// Caveats: a non-`O_PATH` open of a file with a write lease **starts** a
/// lease break even though `O_NONBLOCK` makes it fail fast; the lease holder
/// gets `SIGIO`, whose default action kills it. Callers should skip files
/// that `/proc/locks` lists with a `LEASE` or `DELEG` entry. On NFS, SMB and
/// FUSE the reopen costs server round trips. See also the module-level
/// caveat about the calling process's own POSIX locks. Needs `/proc`.
///
/// The returned file keeps `O_NONBLOCK`, which does not affect regular file
/// reads.
pub fn open_for_probe(path: &Path) -> io::Result<File> {
    let opath = rustix::fs::open(
        path,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )
    .map_err(|e| context(e.into(), "open (O_PATH)", path))?;
    reopen_for_read(File::from(opath), path, None)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// Which file a caller saw: `st_dev` (as major, minor; per subvolume on btrfs) and
/// inode. [`open_for_probe_beneath`] refuses any other file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    pub dev_major: u32,
    pub dev_minor: u32,
    pub ino: u64,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// [`open_for_probe`] for a file a scan found, which must not be swapped under it.
///
/// `path` is resolved below `dir` (a directory fd the caller holds, or
/// `rustix::fs::CWD` with an absolute path) and **no component may be a symlink**
/// (`openat2` with `RESOLVE_NO_SYMLINKS`; relative paths also `RESOLVE_BENEATH`).
/// Then the file must be the one the caller saw (`expect`).
///
/// Why: a scan runs as root over directories other users own. Between finding
/// `~user/d/app.pid` and reading it, the user can rename `d` and put a symlink to a
/// root-only directory in its place; re-resolving the path would then read (and
/// with an acquiring probe, lock) a file the user may not touch. Resolving
/// relative to the walk's own directory fd, refusing symlinks, and comparing device
/// and inode closes every such window.
///
/// Kernels before 5.6 have no `openat2`: the path is then opened one component
/// at a time with `O_NOFOLLOW`, which refuses the same symlinks.
pub fn open_for_probe_beneath(
    dir: std::os::fd::BorrowedFd<'_>,
    path: &Path,
    expect: Option<FileIdentity>,
) -> io::Result<File> {
    let opath = open_path_no_symlinks(dir, path)
        .map_err(|e| context(e.into(), "open (O_PATH, no symlinks)", path))?;
    reopen_for_read(File::from(opath), path, expect)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// An `O_PATH` fd for `path` under `dir` without following any symlink (see
/// [`open_for_probe_beneath`]).
pub fn open_path_no_symlinks(
    dir: std::os::fd::BorrowedFd<'_>,
    path: &Path,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::ResolveFlags;
    let mut resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    if path.is_relative() {
        resolve |= ResolveFlags::BENEATH;
    }
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat2(dir, path, flags, rustix::fs::Mode::empty(), resolve) {
        Err(Errno::NOSYS) | Err(Errno::PERM) => {
            // No openat2 (or a seccomp filter refusing it): one component at a time.
            open_path_stepwise(dir, path)
        }
        other => other,
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn open_path_stepwise(
    dir: std::os::fd::BorrowedFd<'_>,
    path: &Path,
) -> rustix::io::Result<std::os::fd::OwnedFd> {
    use std::path::Component;
    let step = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let mut cur: Option<std::os::fd::OwnedFd> = None;
    let comps: Vec<Component> = path.components().collect();
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        let name: &std::ffi::OsStr = match comp {
            Component::RootDir => {
                cur = Some(rustix::fs::open(
                    "/",
                    step | OFlags::DIRECTORY,
                    rustix::fs::Mode::empty(),
                )?);
                continue;
            }
            Component::CurDir => continue,
            Component::Normal(n) => n,
            // `..` could climb out of `dir`: refused, like RESOLVE_BENEATH does.
            Component::ParentDir | Component::Prefix(_) => return Err(Errno::XDEV),
        };
        let flags = if last { step } else { step | OFlags::DIRECTORY };
        let next = match &cur {
            Some(fd) => rustix::fs::openat(fd, name, flags, rustix::fs::Mode::empty())?,
            None => rustix::fs::openat(dir, name, flags, rustix::fs::Mode::empty())?,
        };
        if !last {
            // O_PATH|O_NOFOLLOW on a symlink gives the link itself; O_DIRECTORY then
            // fails with ENOTDIR, so a symlinked directory never gets here.
            let st = rustix::fs::fstat(&next)?;
            if !rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir() {
                return Err(Errno::LOOP);
            }
        }
        cur = Some(next);
    }
    match cur {
        Some(fd) => Ok(fd),
        None => rustix::io::dup(dir),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// The second half of every probe open: type check on the `O_PATH` fd, identity
/// check, and a non-blocking read-only reopen of the very same inode.
fn reopen_for_read(opath: File, path: &Path, expect: Option<FileIdentity>) -> io::Result<File> {
    let meta = opath.metadata().map_err(|e| context(e, "fstat", path))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    if let Some(want) = expect {
        let dev = meta.dev();
        let seen = FileIdentity {
            dev_major: libc::major(dev),
            dev_minor: libc::minor(dev),
            ino: meta.ino(),
        };
        if seen != want {
            return Err(io::Error::other(format!(
                "{}: not the file the scan found (it was replaced meanwhile)",
                path.display()
            )));
        }
    }
    let magic = format!("/proc/self/fd/{}", opath.as_raw_fd());
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    // O_NOATIME: reading a pidfile should not even touch its access time (the scan
    // changes nothing). Only the owner (or CAP_FOWNER) may ask for it: EPERM means
    // read without it.
    let fd = match rustix::fs::open(
        magic.as_str(),
        flags | OFlags::NOATIME,
        rustix::fs::Mode::empty(),
    ) {
        Err(Errno::PERM) => rustix::fs::open(magic.as_str(), flags, rustix::fs::Mode::empty()),
        other => other,
    }
    .map_err(|e| match e {
        Errno::AGAIN => io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "open {}: the file has a lease (a lease break was started)",
                path.display()
            ),
        ),
        Errno::NOENT => io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "reopen {} via {magic}: /proc does not seem to be mounted",
                path.display()
            ),
        ),
        e => context(e.into(), "reopen", path),
    })?;
    let file = File::from(fd);
    // The magic link resolves to the inode the O_PATH fd pins, so this
    // cannot differ; checked anyway because everything after relies on it.
    let reopened = file.metadata().map_err(|e| context(e, "fstat", path))?;
    if reopened.dev() != meta.dev() || reopened.ino() != meta.ino() {
        return Err(io::Error::other(format!(
            "reopen {}: got a different inode",
            path.display()
        )));
    }
    Ok(file)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// [`open_for_probe`] + [`getlk`] for an exclusive request: "is any POSIX or
/// OFD lock held on this file?".
pub fn probe_path(path: &Path) -> io::Result<Option<Conflict>> {
    let file = open_for_probe(path)?;
    getlk(&file, Mode::Exclusive)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// Result of [`probe_flock_acquiring`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlockProbe {
    /// Neither a shared nor an exclusive flock was held at probe time.
    Free,
    /// At least one shared flock was held (and no exclusive one).
    HeldShared,
    /// An exclusive flock was held.
    HeldExclusive,
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// **Intrusive** flock probe: find out whether `path` is flock-locked by
/// briefly taking a lock. Only call this behind an explicit user option.
///
/// From a fresh open file description ([`open_for_probe`]; never a dup of
/// anybody's fd, because flock on the owner's own description would convert
/// the owner's lock and unlocking would release it):
/// 1. `LOCK_SH | LOCK_NB`: `EWOULDBLOCK` means an exclusive holder
///    ([`FlockProbe::HeldExclusive`]); otherwise `LOCK_UN` at once.
/// 2. `LOCK_EX | LOCK_NB`: `EWOULDBLOCK` means shared holders
///    ([`FlockProbe::HeldShared`]); otherwise `LOCK_UN` at once
///    ([`FlockProbe::Free`]).
///
/// Why it is intrusive: while the probe holds its lock (microseconds), the
/// real owners' `LOCK_NB` attempts fail and blocking lockers queue behind
/// it; during step 2 it excludes even shared lockers. The state can also
/// change between the two steps. On NFS, flock is emulated with POSIX locks
/// and `LOCK_EX` on this read-only fd fails with `EBADF`.
pub fn probe_flock_acquiring(path: &Path) -> io::Result<FlockProbe> {
    probe_flock_acquiring_file(&open_for_probe(path)?, path)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
/// [`probe_flock_acquiring`] on a file opened by [`open_for_probe`] or
/// [`open_for_probe_beneath`] (a fresh open file description of our own, never a
/// dup of someone's fd); `path` is for messages only.
pub fn probe_flock_acquiring_file(file: &File, path: &Path) -> io::Result<FlockProbe> {
    let flock = |op| retry_eintr(|| rustix::fs::flock(file, op));
    match flock(FlockOperation::NonBlockingLockShared) {
        Err(Errno::WOULDBLOCK) => return Ok(FlockProbe::HeldExclusive),
        Err(e) => return Err(context(e.into(), "flock(LOCK_SH|LOCK_NB)", path)),
        Ok(()) => {
            flock(FlockOperation::Unlock).map_err(|e| context(e.into(), "flock(LOCK_UN)", path))?
        }
    }
    match flock(FlockOperation::NonBlockingLockExclusive) {
        Err(Errno::WOULDBLOCK) => Ok(FlockProbe::HeldShared),
        Err(e) => Err(context(e.into(), "flock(LOCK_EX|LOCK_NB)", path)),
        Ok(()) => {
            flock(FlockOperation::Unlock).map_err(|e| context(e.into(), "flock(LOCK_UN)", path))?;
            Ok(FlockProbe::Free)
        }
    }
    // Dropping the caller's `file` closes our private open file description, which
    // would release its flock even if an unlock above had failed.
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[cfg(test)]
mod tests {
    use super::super::unix::whole_file;
    use super::*;

    fn fl(l_type: i32, start: i64, len: i64, pid: i32) -> libc::flock {
        let mut fl = whole_file(l_type as libc::c_short);
        fl.l_start = start;
        fl.l_len = len;
        fl.l_pid = pid;
        fl
    }

    #[test]
    fn conflict_decoding() {
        assert_eq!(conflict_from(&fl(libc::F_UNLCK, 0, 0, 0)), None);
        assert_eq!(
            conflict_from(&fl(libc::F_WRLCK, 10, 20, 42)),
            Some(Conflict {
                mechanism: Mechanism::Posix,
                mode: Mode::Exclusive,
                start: 10,
                end: Some(29),
                pid: Some(42),
            })
        );
        assert_eq!(
            conflict_from(&fl(libc::F_RDLCK, 5, 0, -1)),
            Some(Conflict {
                mechanism: Mechanism::Ofd,
                mode: Mode::Shared,
                start: 5,
                end: None,
                pid: None,
            })
        );
        // Owner outside our pid namespace.
        assert_eq!(
            conflict_from(&fl(libc::F_RDLCK, 0, 1, 0)).unwrap().pid,
            Some(0)
        );
    }
}

/// Result of [`probe_lockfileex`].
#[cfg(windows)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRangeProbe {
    /// Neither an exclusive nor a shared `LockFileEx` lock overlapped the
    /// file at probe time.
    Free,
    /// At least one shared lock was held (and no exclusive one).
    HeldShared,
    /// An exclusive lock was held.
    HeldExclusive,
    /// The file could not be opened at all: another process has it open
    /// without sharing (`ERROR_SHARING_VIOLATION`, 32). On Windows that is
    /// itself a lock idiom (a share-mode lock), whatever byte-range locks
    /// exist.
    OpenWithoutSharing,
}

/// Open a candidate lock file for probing (Windows).
///
/// Read-only, with every share mode (`FILE_SHARE_READ | FILE_SHARE_WRITE |
/// FILE_SHARE_DELETE`), so the open never makes another program's open, write,
/// rename or delete fail; `FILE_FLAG_OPEN_REPARSE_POINT`, so a symbolic link
/// or junction is opened itself (and then refused), never followed. The handle
/// is not inheritable (std default). Anything that is not a regular disk file
/// (directory, reparse point, pipe, console, device: `GetFileType` other than
/// `FILE_TYPE_DISK`) is refused with an [`io::ErrorKind::InvalidInput`] error
/// naming what it is.
///
/// A sharing violation (the file is open elsewhere without sharing) is
/// returned unchanged, so `raw_os_error()` is `Some(32)`; other open errors
/// carry the path.
///
/// Windows byte-range locks are mandatory for I/O: reading bytes another
/// process has locked exclusively fails with `ERROR_LOCK_VIOLATION` (33).
/// Pidfiles claimed with [`super::pidfile::claim`] lock far beyond their
/// content, so their pid stays readable.
#[cfg(windows)]
pub fn open_for_probe(path: &Path) -> io::Result<File> {
    use std::os::windows::fs::OpenOptionsExt;
    use windows_sys::Win32::Foundation::ERROR_SHARING_VIOLATION;
    use windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT;

    use super::windows::{check_regular, open_error};
    use crate::fileid::SHARE_ALL;

    let file = std::fs::OpenOptions::new()
        .read(true)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION as i32) {
                e
            } else {
                open_error(e, "open", path)
            }
        })?;
    check_regular(&file, path)?;
    Ok(file)
}

/// **Acquiring** `LockFileEx` probe (Windows): find out whether `path` is
/// byte-range locked by briefly taking a lock. Opt-in: only call this behind an
/// explicit user option.
///
/// Windows has no query for byte-range locks (no `F_GETLK`), so the only test
/// is an attempt. From a fresh handle ([`open_for_probe`]):
/// 1. A sharing violation at the open gives
///    [`ByteRangeProbe::OpenWithoutSharing`].
/// 2. `LockFileEx(EXCLUSIVE | FAIL_IMMEDIATELY)` on the whole offset range:
///    success → `UnlockFileEx` at once → [`ByteRangeProbe::Free`].
/// 3. On `ERROR_LOCK_VIOLATION`, `LockFileEx(FAIL_IMMEDIATELY)` shared:
///    success → unlock at once → [`ByteRangeProbe::HeldShared`]; a violation
///    → [`ByteRangeProbe::HeldExclusive`].
///
/// Why it is intrusive: while the probe holds its lock (microseconds), the
/// owners' `FAIL_IMMEDIATELY` attempts fail, blocking lockers wait behind it,
/// and on real Windows their reads/writes of the locked bytes fail with
/// `ERROR_LOCK_VIOLATION`. The state can change between steps. Closing the
/// handle would release a lock even if an unlock failed, so nothing is left
/// behind.
///
/// A byte-range lock cannot be attributed to a handle or process on Windows:
/// this says *that* the file is locked, never *who* holds it. Any lock
/// overlapping the file's offset range counts, including a lock on a single
/// byte far beyond the end of the file.
#[cfg(windows)]
pub fn probe_lockfileex(path: &Path) -> io::Result<ByteRangeProbe> {
    use windows_sys::Win32::Foundation::ERROR_SHARING_VIOLATION;

    use super::context;
    use super::windows::{WHOLE_LEN, lock_range, unlock_range};

    let file = match open_for_probe(path) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION as i32) => {
            return Ok(ByteRangeProbe::OpenWithoutSharing);
        }
        Err(e) => return Err(e),
    };
    let unlock = |what| unlock_range(&file, 0, WHOLE_LEN).map_err(|e| context(e, what, path));
    if lock_range(&file, 0, WHOLE_LEN, true, true)
        .map_err(|e| context(e, "LockFileEx(EXCLUSIVE|FAIL_IMMEDIATELY)", path))?
    {
        unlock("UnlockFileEx")?;
        return Ok(ByteRangeProbe::Free);
    }
    if lock_range(&file, 0, WHOLE_LEN, false, true)
        .map_err(|e| context(e, "LockFileEx(FAIL_IMMEDIATELY)", path))?
    {
        unlock("UnlockFileEx")?;
        return Ok(ByteRangeProbe::HeldShared);
    }
    Ok(ByteRangeProbe::HeldExclusive)
    // Dropping `file` closes the handle, which releases any lock it still has.
}
