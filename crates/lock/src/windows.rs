//! Windows implementation of [`acquire`] plus the `LockFileEx` helpers shared
//! with `probe.rs` and `pidfile.rs`.
//!
//! Only [`Mechanism::LockFileEx`] exists here. A `LockFileEx` lock belongs to
//! the handle *and* the process that took it: another handle conflicts even in
//! the same process, a child that inherits the handle does not inherit the
//! lock, and the lock ends when the handle is closed or the process exits.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;
use std::time::Instant;

use windows_sys::Win32::Foundation::{
    ERROR_IO_PENDING, ERROR_LOCK_VIOLATION, ERROR_OPERATION_ABORTED, GENERIC_READ, GENERIC_WRITE,
    HANDLE,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_READ, FILE_SHARE_WRITE, FILE_TYPE_CHAR,
    FILE_TYPE_DISK, FILE_TYPE_PIPE, GetFileType, LOCKFILE_EXCLUSIVE_LOCK,
    LOCKFILE_FAIL_IMMEDIATELY, LockFileEx, UnlockFileEx,
};
use windows_sys::Win32::System::IO::{CancelIoEx, GetOverlappedResult, OVERLAPPED};

use super::{
    LockError, LockGuard, LockOptions, Mechanism, Mode, Wait, context, poll_until,
    retry_after_replacement,
};
use crate::fileid;
use crate::fs::FsLocality;

/// Length of a "whole file" lock: `u32::MAX` in both halves, i.e. every byte
/// offset from the start of the range on. `LockFileEx` may lock beyond the
/// end of the file, so the lock also covers bytes written later.
pub(crate) const WHOLE_LEN: u64 = u64::MAX;

/// Take a whole-file `LockFileEx` lock on `path` as described by `opts`.
///
/// Steps:
/// 1. Only [`Mechanism::LockFileEx`] is accepted; `flock`, POSIX and OFD locks
///    do not exist on Windows ([`io::ErrorKind::Unsupported`]).
/// 2. With `refuse_remote`, classify the volume of the path (or of its parent
///    directory when the file is about to be created) with
///    [`super::fs::locality_of`] and refuse anything but a local volume.
/// 3. Open the file (see `open_lock_file`): read access always, write access
///    for exclusive locks, `FILE_SHARE_READ | FILE_SHARE_WRITE`, never
///    truncated, created only with `create`; non-inheritable. Only regular
///    files are accepted: directories, reparse points (symbolic links,
///    junctions; never followed) and non-disk objects are refused.
/// 4. `LockFileEx` on offsets `0..=u64::MAX-1` according to [`Wait`].
/// 5. With `recheck_inode`, compare volume serial + file index of the handle
///    with what the path names now and start over on a mismatch.
///
/// `create_mode` is ignored: a new file inherits its directory's ACL.
/// Pitfall: a second `acquire` of a file this process already holds
/// exclusively conflicts (locks are per handle) and deadlocks under
/// [`Wait::Block`].
pub fn acquire(path: &Path, opts: &LockOptions) -> Result<LockGuard, LockError> {
    acquire_range(path, opts, 0)
}

/// [`acquire`], locking offsets `start..` (to the end of the 64-bit offset
/// space) instead of the whole file. Pidfiles lock far beyond their content so
/// that other processes can still read the pid (Windows byte-range locks are
/// mandatory for `ReadFile`/`WriteFile`), while any whole-file lock or probe
/// still conflicts with the claim.
pub(crate) fn acquire_range(
    path: &Path,
    opts: &LockOptions,
    start: u64,
) -> Result<LockGuard, LockError> {
    if opts.mechanism != Mechanism::LockFileEx {
        return Err(LockError::Io(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "{} locks do not exist on Windows; use Mechanism::LockFileEx",
                opts.mechanism
            ),
        )));
    }
    let deadline = match opts.wait {
        // A timeout too large to represent is the same as waiting forever.
        Wait::Timeout(d) => Instant::now().checked_add(d),
        Wait::Try | Wait::Block => None,
    };
    if opts.refuse_remote {
        refuse_remote_path(path, opts.create)?;
    }
    let len = WHOLE_LEN - start;
    let exclusive = opts.mode == Mode::Exclusive;
    let mut reopens = 0u32;
    loop {
        let file = open_lock_file(path, opts)?;
        lock_per_policy(&file, start, len, exclusive, opts.wait, deadline).map_err(
            |e| match e {
                LockError::Io(e) => LockError::Io(context(e, "LockFileEx", path)),
                e => e,
            },
        )?;
        if !opts.recheck_inode || path_names_file(path, &file)? {
            return Ok(LockGuard::new(
                file,
                path.to_path_buf(),
                Mechanism::LockFileEx,
                opts.mode,
            ));
        }
        // The path names a different file than the one we locked (it was
        // deleted or replaced before our open). Closing releases the lock;
        // then lock whatever the path names now.
        drop(file);
        retry_after_replacement(opts.wait, &mut reopens, deadline, path)?;
    }
}

/// Open `path` for locking.
///
/// * Access: `GENERIC_READ` always (`LockFileEx` needs read or write access),
///   plus `GENERIC_WRITE` for exclusive locks, mirroring `O_RDWR`/`O_RDONLY`
///   on unix. (`write(true)` is set only to satisfy std's rule that `create`
///   needs write access; the real access mask is the explicit `access_mode`.)
/// * Share mode `FILE_SHARE_READ | FILE_SHARE_WRITE`: other lockers, pidfile
///   readers and the scanner must be able to open the file while we hold it.
///   `FILE_SHARE_DELETE` is deliberately **not** included: while the guard
///   lives, nobody can delete or rename the lock file, or rename another file
///   over it (each needs `DELETE` access, which our share mode denies). That
///   closes the unlink/replace race of [`LockOptions::recheck_inode`] for as
///   long as we hold the lock; the re-check covers the window before our
///   open.
/// * `create` → `OPEN_ALWAYS`, otherwise `OPEN_EXISTING`; never truncating.
/// * `FILE_FLAG_OPEN_REPARSE_POINT`: a symbolic link or junction is opened
///   itself and then refused, never followed.
/// * Handles opened by std are **not inheritable** (`bInheritHandle = FALSE`),
///   the Windows counterpart of `O_CLOEXEC`: a child process started while we
///   hold the lock does not get a copy of the handle, so it cannot keep the
///   file open (and, with our share mode, undeletable) after the guard is
///   dropped.
pub(crate) fn open_lock_file(path: &Path, opts: &LockOptions) -> Result<File, LockError> {
    let access = match opts.mode {
        Mode::Exclusive => GENERIC_READ | GENERIC_WRITE,
        Mode::Shared => GENERIC_READ,
    };
    let mut oo = OpenOptions::new();
    oo.read(true);
    if opts.create {
        oo.write(true).create(true).truncate(false);
    }
    oo.access_mode(access)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
        .custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    let file = oo
        .open(path)
        .map_err(|e| LockError::Io(open_error(e, "open", path)))?;
    check_regular(&file, path).map_err(LockError::Io)?;
    Ok(file)
}

/// Refuse anything that is not a plain file on disk: directories, reparse
/// points (symbolic links, junctions, ...), pipes, consoles and devices.
pub(crate) fn check_regular(file: &File, path: &Path) -> io::Result<()> {
    // SAFETY: the handle is owned by `file`, which outlives the call.
    let ty = unsafe { GetFileType(file.as_raw_handle() as HANDLE) };
    if ty != FILE_TYPE_DISK {
        let what = match ty {
            FILE_TYPE_PIPE => "a pipe or socket",
            FILE_TYPE_CHAR => "a character device or console",
            _ => "not a disk file",
        };
        return Err(not_regular(path, what));
    }
    let id = fileid::identity(file).map_err(|e| context(e, "GetFileInformationByHandle", path))?;
    if id.is_dir() {
        return Err(not_regular(path, "a directory"));
    }
    if id.is_reparse_point() {
        return Err(not_regular(
            path,
            "a reparse point (symbolic link, junction or similar; not followed)",
        ));
    }
    Ok(())
}

/// Improve an open error: opening a directory without backup semantics fails
/// with "access denied", which is misleading; say it is a directory instead.
pub(crate) fn open_error(e: io::Error, op: &str, path: &Path) -> io::Error {
    if e.kind() == io::ErrorKind::PermissionDenied
        && fileid::identity_of_path(path).is_ok_and(|id| id.is_dir())
    {
        return not_regular(path, "a directory");
    }
    context(e, op, path)
}

pub(crate) fn not_regular(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{} is {what}, not a regular file", path.display()),
    )
}

/// Does `path` (not following a final reparse point, like the open) still
/// name the file `file` refers to (same volume serial and file index)? A
/// vanished path counts as "no".
fn path_names_file(path: &Path, file: &File) -> Result<bool, LockError> {
    let held = fileid::identity(file)
        .map_err(|e| LockError::Io(context(e, "GetFileInformationByHandle", path)))?;
    match fileid::identity_of_path(path) {
        Ok(now) => Ok(now.volume_serial == held.volume_serial && now.file_index == held.file_index),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(LockError::Io(context(e, "open", path))),
    }
}

fn lock_per_policy(
    file: &File,
    start: u64,
    len: u64,
    exclusive: bool,
    wait: Wait,
    deadline: Option<Instant>,
) -> Result<(), LockError> {
    match (wait, deadline) {
        (Wait::Try, _) => {
            if lock_range(file, start, len, exclusive, true)? {
                Ok(())
            } else {
                // Windows cannot tell who holds a byte-range lock.
                Err(LockError::WouldBlock { holder_pid: None })
            }
        }
        (Wait::Block, _) | (Wait::Timeout(_), None) => {
            if lock_range(file, start, len, exclusive, false)? {
                Ok(())
            } else {
                Err(LockError::Io(io::Error::other(
                    "blocking LockFileEx reported a lock violation",
                )))
            }
        }
        (Wait::Timeout(_), Some(deadline)) => {
            poll_until(deadline, || lock_range(file, start, len, exclusive, true))
        }
    }
}

/// An `OVERLAPPED` whose only meaningful content is the 64-bit start offset
/// (no event: the handle itself is signalled on completion).
fn overlapped_at(start: u64) -> OVERLAPPED {
    // SAFETY: OVERLAPPED is plain data (integers, a union of integers and a
    // pointer, a handle); all-zero is its documented initial state.
    let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
    ov.Anonymous.Anonymous.Offset = start as u32;
    ov.Anonymous.Anonymous.OffsetHigh = (start >> 32) as u32;
    ov
}

/// One `LockFileEx` call on `start..start+len`. `Ok(true)`: granted.
/// `Ok(false)`: a conflicting lock exists (`ERROR_LOCK_VIOLATION`; only with
/// `fail_immediately`). Without `fail_immediately` the call waits until the
/// lock is granted.
///
/// Our handles are synchronous, so `ERROR_IO_PENDING` should not happen; if a
/// driver returns it anyway, a blocking request waits for the result, and a
/// non-blocking one is cancelled and its final status used (granted before
/// the cancel took effect → `Ok(true)`), so no request is left pending.
pub(crate) fn lock_range(
    file: &File,
    start: u64,
    len: u64,
    exclusive: bool,
    fail_immediately: bool,
) -> io::Result<bool> {
    let h = file.as_raw_handle() as HANDLE;
    let mut flags = 0;
    if exclusive {
        flags |= LOCKFILE_EXCLUSIVE_LOCK;
    }
    if fail_immediately {
        flags |= LOCKFILE_FAIL_IMMEDIATELY;
    }
    let mut ov = overlapped_at(start);
    // SAFETY: `h` is a valid handle owned by `file` for the whole call; `ov`
    // is a valid OVERLAPPED that outlives the request (a pending request is
    // waited for below before `ov` goes out of scope).
    let ok = unsafe { LockFileEx(h, flags, 0, len as u32, (len >> 32) as u32, &mut ov) };
    if ok != 0 {
        return Ok(true);
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error().map(|c| c as u32) {
        Some(ERROR_LOCK_VIOLATION) if fail_immediately => Ok(false),
        Some(ERROR_IO_PENDING) => {
            if fail_immediately {
                // SAFETY: cancels only the request that uses `ov` on `h`,
                // both still valid.
                unsafe { CancelIoEx(h, &ov) };
            }
            let mut n = 0u32;
            // SAFETY: `h` and `ov` are the handle and OVERLAPPED of the
            // pending request; bWait = TRUE waits until it completes, so `ov`
            // is not used by the system after this returns.
            let done = unsafe { GetOverlappedResult(h, &ov, &mut n, 1) };
            if done != 0 {
                return Ok(true);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error().map(|c| c as u32) {
                Some(ERROR_LOCK_VIOLATION | ERROR_OPERATION_ABORTED) if fail_immediately => {
                    Ok(false)
                }
                _ => Err(e),
            }
        }
        _ => Err(err),
    }
}

/// Release a lock taken with [`lock_range`] on exactly the same range.
pub(crate) fn unlock_range(file: &File, start: u64, len: u64) -> io::Result<()> {
    let mut ov = overlapped_at(start);
    // SAFETY: the handle is owned by `file` for the whole call and `ov` is a
    // valid OVERLAPPED; unlocking completes synchronously.
    let ok = unsafe {
        UnlockFileEx(
            file.as_raw_handle() as HANDLE,
            0,
            len as u32,
            (len >> 32) as u32,
            &mut ov,
        )
    };
    if ok == 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn refuse_remote_path(path: &Path, create: bool) -> Result<(), LockError> {
    let target = if create && !path.exists() {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    } else {
        path
    };
    let locality = match super::fs::locality_of(target) {
        Ok(l) => l,
        // Let the open report a missing file or a permission problem.
        Err(_) => return Ok(()),
    };
    if locality == FsLocality::Local {
        return Ok(());
    }
    let name = super::fs::fs_name_of(target).ok();
    let fstype = match (locality, name) {
        (FsLocality::Remote, Some(n)) => format!("remote {n}"),
        (FsLocality::Remote, None) => "remote (network share)".to_owned(),
        (_, Some(n)) => n,
        (l, None) => format!("{l:?}").to_lowercase(),
    };
    Err(LockError::Remote { fstype })
}
