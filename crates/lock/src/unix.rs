//! Unix implementation of [`acquire`] plus the low-level `fcntl` helpers
//! shared with `probe.rs` and `pidfile.rs`.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;
use std::time::Instant;

use rustix::fs::{FlockOperation, OFlags};
use rustix::io::Errno;

use super::{
    LockError, LockGuard, LockOptions, Mechanism, Mode, Wait, context, poll_until,
    retry_after_replacement,
};

/// Take a whole-file lock on `path` as described by `opts`.
///
/// Steps:
/// 1. With `refuse_remote`, `statfs` the path (or its parent when the file
///    is about to be created) so nothing gets created on a remote
///    filesystem, and `fstatfs` the fd after opening.
/// 2. Open the file, always with `O_CLOEXEC`: a lock fd that leaks across
///    `exec` keeps the lock alive in an unrelated program after our guard is
///    dropped. Also `O_NONBLOCK` during the open (so a FIFO or a leased file
///    cannot hang it) and `O_NOCTTY`; never `O_TRUNC`.
///    Exclusive locks open `O_RDWR` (POSIX/OFD write locks need a writable
///    fd, and `flock(LOCK_EX)` on NFS is emulated as a POSIX write lock);
///    shared locks open `O_RDONLY` (enough for read locks, works on
///    read-only files and filesystems, and breaks no read leases). So an
///    exclusive lock needs write permission even for `flock`. Only regular
///    files are accepted.
/// 3. Lock according to [`Wait`]; `EINTR` during a blocking wait is retried.
/// 4. With `recheck_inode`, compare `fstat(fd)` with `stat(path)` and start
///    over on a mismatch (see [`LockOptions::recheck_inode`]).
///
/// Pitfalls: with [`Mechanism::Posix`], a failed attempt closes its fd and
/// therefore drops every POSIX lock this process already holds on the same
/// inode; and a second `flock`/OFD `acquire` of a file this thread already
/// holds exclusively deadlocks under [`Wait::Block`].
pub fn acquire(path: &Path, opts: &LockOptions) -> Result<LockGuard, LockError> {
    let deadline = match opts.wait {
        // A timeout too large to represent is the same as waiting forever.
        Wait::Timeout(d) => Instant::now().checked_add(d),
        Wait::Try | Wait::Block => None,
    };
    if opts.mechanism == Mechanism::LockFileEx {
        return Err(LockError::Io(io::Error::new(
            io::ErrorKind::Unsupported,
            "LockFileEx is a Windows lock; use Flock, Posix or Ofd here",
        )));
    }
    if opts.refuse_remote {
        refuse_remote_path(path, opts.create)?;
    }
    let mut reopens = 0u32;
    loop {
        let file = open_lock_file(path, opts)?;
        if opts.refuse_remote {
            refuse_remote_fd(&file)?;
        }
        lock_per_policy(&file, opts.mechanism, opts.mode, opts.wait, deadline)?;
        if !opts.recheck_inode || path_names_inode(path, &file)? {
            return Ok(LockGuard::new(
                file,
                path.to_path_buf(),
                opts.mechanism,
                opts.mode,
            ));
        }
        // We hold a lock on an inode that is no longer reachable at `path`
        // (unlinked or replaced by rename). Closing drops that lock; then
        // lock whatever the path names now.
        drop(file);
        retry_after_replacement(opts.wait, &mut reopens, deadline, path)?;
    }
}

/// Open `path` for locking.
///
/// * `O_CLOEXEC`: a lock fd that leaks across `exec` keeps the lock alive in
///   an unrelated program after our guard is dropped (flock and OFD locks
///   live as long as any fd to the open file description), producing a
///   phantom holder that blocks everyone.
/// * `O_NONBLOCK` (cleared again right after the open): opening a FIFO
///   read-only would otherwise hang until a writer appears, and opening a
///   file with a foreign lease would wait up to `lease-break-time` (45 s)
///   even for [`Wait::Try`].
/// * `O_NOCTTY`: if the path turns out to be a terminal, do not make it our
///   controlling terminal before we get to reject it.
/// * Never `O_TRUNC` or `O_EXCL`: the file may carry content (a pid) and may
///   legitimately exist already.
fn open_lock_file(path: &Path, opts: &LockOptions) -> Result<File, LockError> {
    let access = match opts.mode {
        Mode::Exclusive => OFlags::RDWR,
        Mode::Shared => OFlags::RDONLY,
    };
    let mut flags = access | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    if opts.create {
        flags |= OFlags::CREATE;
    }
    let fd: OwnedFd = match rustix::fs::open(
        path,
        flags,
        rustix::fs::Mode::from_raw_mode(opts.create_mode as _),
    ) {
        Ok(fd) => fd,
        Err(Errno::AGAIN) => {
            return Err(LockError::Io(io::Error::new(
                io::ErrorKind::WouldBlock,
                format!(
                    "open {}: another process holds a lease on the file (the open has \
                     started a lease break)",
                    path.display()
                ),
            )));
        }
        Err(e) => return Err(LockError::Io(context(e.into(), "open", path))),
    };
    let file = File::from(fd);
    let meta = file
        .metadata()
        .map_err(|e| LockError::Io(context(e, "fstat", path)))?;
    if !meta.file_type().is_file() {
        return Err(LockError::Io(not_regular(path, meta.file_type())));
    }
    let fl = rustix::fs::fcntl_getfl(&file).map_err(|e| context(e.into(), "fcntl", path))?;
    rustix::fs::fcntl_setfl(&file, fl - OFlags::NONBLOCK)
        .map_err(|e| context(e.into(), "fcntl", path))?;
    Ok(file)
}

/// Does `path` (following symlinks, like the open did) still name the inode
/// `file` refers to? A vanished path counts as "no".
fn path_names_inode(path: &Path, file: &File) -> Result<bool, LockError> {
    let held = file
        .metadata()
        .map_err(|e| LockError::Io(context(e, "fstat", path)))?;
    match std::fs::metadata(path) {
        Ok(now) => Ok(now.dev() == held.dev() && now.ino() == held.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(LockError::Io(context(e, "stat", path))),
    }
}

fn lock_per_policy(
    file: &File,
    mechanism: Mechanism,
    mode: Mode,
    wait: Wait,
    deadline: Option<Instant>,
) -> Result<(), LockError> {
    match (wait, deadline) {
        (Wait::Try, _) => {
            if try_lock(file, mechanism, mode)? {
                Ok(())
            } else {
                Err(LockError::WouldBlock {
                    holder_pid: holder_pid(file, mechanism, mode),
                })
            }
        }
        (Wait::Block, _) | (Wait::Timeout(_), None) => Ok(lock_blocking(file, mechanism, mode)?),
        (Wait::Timeout(_), Some(deadline)) => {
            poll_until(deadline, || try_lock(file, mechanism, mode))
        }
    }
}

/// One non-blocking attempt. `Ok(false)` means a conflicting lock exists.
fn try_lock(file: &File, mechanism: Mechanism, mode: Mode) -> io::Result<bool> {
    match mechanism {
        Mechanism::Flock => {
            let op = match mode {
                Mode::Shared => FlockOperation::NonBlockingLockShared,
                Mode::Exclusive => FlockOperation::NonBlockingLockExclusive,
            };
            match retry_eintr(|| rustix::fs::flock(file, op)) {
                Ok(()) => Ok(true),
                Err(Errno::WOULDBLOCK) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        Mechanism::Posix | Mechanism::Ofd | Mechanism::LockFileEx => {
            let cmd = set_cmd(mechanism, false)?;
            match fcntl_lock_retrying(file, cmd, lock_type(mode)) {
                Ok(_) => Ok(true),
                // POSIX allows either errno for "conflicting lock held".
                Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => {
                    Ok(false)
                }
                Err(e) => Err(e),
            }
        }
    }
}

/// Wait in the kernel until the lock is granted, retrying after signals.
fn lock_blocking(file: &File, mechanism: Mechanism, mode: Mode) -> io::Result<()> {
    match mechanism {
        Mechanism::Flock => {
            let op = match mode {
                Mode::Shared => FlockOperation::LockShared,
                Mode::Exclusive => FlockOperation::LockExclusive,
            };
            retry_eintr(|| rustix::fs::flock(file, op)).map_err(io::Error::from)
        }
        Mechanism::Posix | Mechanism::Ofd | Mechanism::LockFileEx => {
            let cmd = set_cmd(mechanism, true)?;
            match fcntl_lock_retrying(file, cmd, lock_type(mode)) {
                Ok(_) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::EDEADLK) => Err(io::Error::new(
                    e.kind(),
                    format!(
                        "{e}: the kernel detected that waiting would deadlock \
                         (another POSIX lock owner is waiting for a lock we hold)"
                    ),
                )),
                Err(e) => Err(e),
            }
        }
    }
}

/// Ask the kernel who conflicts with the lock we just failed to take.
/// Best effort: any failure, or a holder that already left, gives `None`.
fn holder_pid(file: &File, mechanism: Mechanism, mode: Mode) -> Option<i32> {
    let cmd = match mechanism {
        Mechanism::Flock | Mechanism::LockFileEx => return None,
        Mechanism::Posix => libc::F_GETLK,
        Mechanism::Ofd => getlk_ofd_cmd().ok()?,
    };
    let fl = fcntl_lock_retrying(file, cmd, lock_type(mode)).ok()?;
    if fl.l_type == libc::F_UNLCK as libc::c_short || fl.l_pid == -1 {
        None
    } else {
        Some(fl.l_pid)
    }
}

fn set_cmd(mechanism: Mechanism, blocking: bool) -> io::Result<libc::c_int> {
    match (mechanism, blocking) {
        (Mechanism::Posix, false) => Ok(libc::F_SETLK),
        (Mechanism::Posix, true) => Ok(libc::F_SETLKW),
        (Mechanism::Ofd, blocking) => ofd_set_cmd(blocking),
        (Mechanism::Flock | Mechanism::LockFileEx, _) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "only POSIX and OFD locks have fcntl commands",
        )),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn ofd_set_cmd(blocking: bool) -> io::Result<libc::c_int> {
    Ok(if blocking {
        libc::F_OFD_SETLKW
    } else {
        libc::F_OFD_SETLK
    })
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn ofd_set_cmd(_blocking: bool) -> io::Result<libc::c_int> {
    Err(ofd_unsupported())
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn getlk_ofd_cmd() -> io::Result<libc::c_int> {
    Ok(libc::F_OFD_GETLK)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn getlk_ofd_cmd() -> io::Result<libc::c_int> {
    Err(ofd_unsupported())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn ofd_unsupported() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "open-file-description (OFD) locks are only implemented for Linux",
    )
}

pub(crate) fn lock_type(mode: Mode) -> libc::c_short {
    (match mode {
        Mode::Shared => libc::F_RDLCK,
        Mode::Exclusive => libc::F_WRLCK,
    }) as libc::c_short
}

/// A `struct flock` covering the whole file: `l_start = 0` and `l_len = 0`
/// ("to EOF, however far the file grows"), `l_pid = 0` (required by the OFD
/// commands, ignored by the POSIX ones).
pub(crate) fn whole_file(l_type: libc::c_short) -> libc::flock {
    // SAFETY: `libc::flock` is a plain C struct of integers (plus padding on
    // some platforms); all-zero is a valid value for every field.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = l_type;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0;
    fl.l_pid = 0;
    fl
}

/// `fcntl(fd, cmd, &mut fl)` for the record-lock commands. A single call:
/// callers decide how to treat `EINTR`.
pub(crate) fn fcntl_lock(
    file: &impl AsFd,
    cmd: libc::c_int,
    fl: &mut libc::flock,
) -> io::Result<()> {
    let fd = file.as_fd().as_raw_fd();
    // SAFETY: `fd` is a valid open descriptor borrowed for the duration of
    // the call, and `fl` is a valid, exclusively borrowed `struct flock`,
    // which is the argument type every F_*LK command expects.
    let rc = unsafe { libc::fcntl(fd, cmd, fl as *mut libc::flock) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// [`fcntl_lock`] on a fresh whole-file `struct flock` of `l_type`,
/// repeated after `EINTR` (a signal during `F_SETLKW`, or during a lock
/// request that has to go over the network). Returns the struct as the
/// kernel left it (the GETLK answer).
pub(crate) fn fcntl_lock_retrying(
    file: &impl AsFd,
    cmd: libc::c_int,
    l_type: libc::c_short,
) -> io::Result<libc::flock> {
    loop {
        let mut fl = whole_file(l_type);
        match fcntl_lock(file, cmd, &mut fl) {
            Ok(()) => return Ok(fl),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn retry_eintr<T>(
    mut f: impl FnMut() -> rustix::io::Result<T>,
) -> rustix::io::Result<T> {
    loop {
        match f() {
            Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// Human name of a non-regular file type, for error messages.
pub(crate) fn file_type_name(ft: std::fs::FileType) -> &'static str {
    if ft.is_dir() {
        "a directory"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_file() {
        "a regular file"
    } else {
        "of an unknown file type"
    }
}

pub(crate) fn not_regular(path: &Path, ft: std::fs::FileType) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is {}, not a regular file",
            path.display(),
            file_type_name(ft)
        ),
    )
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn refuse_remote_path(path: &Path, create: bool) -> Result<(), LockError> {
    let f_type = match rustix::fs::statfs(path) {
        Ok(st) => super::fs::f_type_from_statfs(&st),
        // The file does not exist yet: check the directory it will be
        // created in, so nothing is created on a remote filesystem.
        Err(Errno::NOENT) if create => {
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => Path::new("."),
            };
            let st = rustix::fs::statfs(parent)
                .map_err(|e| LockError::Io(context(e.into(), "statfs", parent)))?;
            super::fs::f_type_from_statfs(&st)
        }
        // Let the open report a missing file or a permission problem.
        Err(_) => return Ok(()),
    };
    refuse_magic(f_type)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn refuse_remote_fd(file: &File) -> Result<(), LockError> {
    refuse_magic(super::fs::fs_type_of(file)?)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn refuse_magic(f_type: u64) -> Result<(), LockError> {
    use crate::fs::FsLocality;
    match super::fs::classify_magic(f_type) {
        None | Some(FsLocality::Local) => Ok(()),
        Some(_) => Err(LockError::Remote {
            fstype: super::fs::magic_name(f_type)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("f_type {f_type:#x}")),
        }),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn refuse_remote_path(_path: &Path, _create: bool) -> Result<(), LockError> {
    Err(LockError::Io(io::Error::new(
        io::ErrorKind::Unsupported,
        "refuse_remote: filesystem classification is only implemented for Linux",
    )))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn refuse_remote_fd(_file: &File) -> Result<(), LockError> {
    Ok(())
}
