//! Core file-lock primitives: taking a lock, probing other processes' locks
//! without disturbing them, pidfiles, and filesystem classification.
//!
//! This file holds the platform-neutral API types. The implementation for
//! Linux and other unix systems lives in `unix.rs`, the Windows one in
//! `windows.rs`.
//!
//! # Choosing a [`Mechanism`]
//!
//! * [`Mechanism::Flock`]: `flock(2)`. The lock belongs to the *open file
//!   description*, so two independent `acquire` calls conflict even inside
//!   one process, and a child that inherits the fd (fork without exec) keeps
//!   the lock alive after the parent closes its copy.
//! * [`Mechanism::Posix`]: classic `fcntl(F_SETLK)` record locks. The lock
//!   belongs to the *process*. Two guards in one process never exclude each
//!   other, and closing **any** fd of the same inode in this process (another
//!   [`LockGuard`], a failed `acquire`, a `std::fs::read` of the file, ...)
//!   silently releases **all** of the process's POSIX locks on it
//!   (docs/kernel-locks.md §2.2, "the open+close trap"). Use it only when you must
//!   interoperate with programs that use `lockf`/`fcntl` locks.
//! * [`Mechanism::Ofd`]: open-file-description locks (`F_OFD_SETLK`, Linux
//!   3.15+). Same byte-range semantics and conflicts as POSIX locks (the two
//!   kinds conflict with each other), but owned like `flock`: no open+close
//!   trap and real exclusion between threads. Prefer this for new code on
//!   Linux.
//!
//! * [`Mechanism::LockFileEx`]: the only mechanism on Windows (and refused
//!   on unix). Byte-range locks owned by the handle and the process; another
//!   handle conflicts even within one process. Windows enforces them on
//!   `ReadFile`/`WriteFile` of the locked bytes (Wine does not), and cannot
//!   tell who holds one, so [`LockError::WouldBlock`] never has a pid there.
//!   The lock file is opened non-inheritable and without `FILE_SHARE_DELETE`,
//!   so nobody can delete or rename it while the guard lives.
//!
//! Every lock taken here covers the whole file (`l_start = 0`, `l_len = 0`;
//! on Windows offset 0 with length `u64::MAX`, i.e. every offset).
//!
//! # Example
//!
//! ```
//! # #[cfg(target_os = "linux")] {
//! use std::time::{Duration, Instant};
//! use lockscan_lock::{acquire, LockError, LockOptions, Mechanism, Mode, Wait};
//!
//! let dir = std::env::temp_dir().join(format!("lockscan-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("app.lock");
//! let opts = LockOptions::new(Mechanism::Ofd, Mode::Exclusive)
//!     .create(true)
//!     .wait(Wait::Timeout(Duration::from_secs(2)));
//! let guard = acquire(&path, &opts).expect("nobody else holds it");
//! // A second OFD lock conflicts, even in the same process.
//! let again = acquire(&path, &LockOptions::new(Mechanism::Ofd, Mode::Exclusive));
//! assert!(matches!(again, Err(LockError::WouldBlock { .. })));
//! drop(guard); // released by closing; the file is never unlinked
//! assert!(path.exists());
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # }
//! ```

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[cfg(windows)]
pub mod fileid;
pub mod fs;
#[cfg(any(unix, windows))]
pub mod pidfile;
#[cfg(any(target_os = "linux", target_os = "android", windows))]
pub mod probe;
#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
pub use unix::acquire;
#[cfg(windows)]
pub use windows::acquire;

/// Which kernel locking API a lock uses. See the module documentation for
/// how they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `flock(2)`: whole-file, owned by the open file description.
    Flock,
    /// `fcntl(F_SETLK/F_SETLKW)`: byte-range, owned by the process.
    Posix,
    /// `fcntl(F_OFD_SETLK/F_OFD_SETLKW)`: byte-range, owned by the open file
    /// description (Linux only).
    Ofd,
    /// Windows `LockFileEx` on the whole file (every byte offset): owned by the
    /// handle *and* the process that locked it, so unlike `flock` a child that
    /// inherits the handle does not inherit the lock, and the lock ends when the
    /// locker exits (Windows only).
    LockFileEx,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::Flock => "flock",
            Mechanism::Posix => "posix",
            Mechanism::Ofd => "ofd",
            Mechanism::LockFileEx => "lockfileex",
        })
    }
}

/// Shared (read) or exclusive (write) lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Any number of shared holders may coexist; excludes exclusive holders.
    Shared,
    /// Excludes every other holder.
    Exclusive,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Shared => "shared",
            Mode::Exclusive => "exclusive",
        })
    }
}

/// What [`acquire`] does when the lock is held by someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// One non-blocking attempt; a conflict gives [`LockError::WouldBlock`].
    Try,
    /// Sleep in the kernel until the lock is granted. The kernel queues the
    /// waiter, so this is the fair option.
    Block,
    /// Keep trying until the duration has elapsed, then give
    /// [`LockError::TimedOut`].
    ///
    /// The kernel has no timed lock call, so this polls non-blocking attempts
    /// with an exponential backoff (1 ms doubling to 50 ms). The trade-off is
    /// fairness: a poller is not in the kernel's wait queue, so blocking
    /// waiters, or a busy locker that re-takes the lock within the poll gap,
    /// can starve it, and a release is noticed up to 50 ms late.
    Timeout(Duration),
}

/// Options for [`acquire`]. Build with [`LockOptions::new`] (or
/// [`LockOptions::exclusive`] / [`LockOptions::shared`]) and the chained
/// setters.
///
/// Defaults: [`Mechanism::Flock`], [`Mode::Exclusive`], [`Wait::Try`],
/// `create = false`, `create_mode = 0o644`, `recheck_inode = true`,
/// `refuse_remote = false`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockOptions {
    /// Kernel locking API to use.
    pub mechanism: Mechanism,
    /// Shared or exclusive.
    pub mode: Mode,
    /// Behaviour on contention.
    pub wait: Wait,
    /// Create the file (`O_CREAT`, never `O_EXCL`/`O_TRUNC`) if it does not
    /// exist. Off by default so that a typo in a path is an error instead of
    /// a new, unrelated lock file.
    pub create: bool,
    /// Permission bits for a newly created file (before the umask).
    pub create_mode: u32,
    /// After the lock is granted, check that the path still names the locked
    /// inode and retry if it does not. This closes the race in which a
    /// previous holder unlinked or replaced the lock file while we were
    /// waiting on the old inode: without the check we would "own" a lock on
    /// an orphaned inode while a newcomer locks the new file at the same
    /// path, and both would believe they are alone (certbot `lock.py`,
    /// neon #2677, docs/kernel-locks.md §4).
    pub recheck_inode: bool,
    /// Refuse files on network, cluster and FUSE filesystems
    /// ([`LockError::Remote`]). Locks there are either invisible to other
    /// clients or only emulated (docs/kernel-locks.md §3.2), so a tool that must not
    /// silently run unserialised can ask to fail instead.
    pub refuse_remote: bool,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions {
            mechanism: Mechanism::Flock,
            mode: Mode::Exclusive,
            wait: Wait::Try,
            create: false,
            create_mode: 0o644,
            recheck_inode: true,
            refuse_remote: false,
        }
    }
}

impl LockOptions {
    /// Options for `mechanism`/`mode` with every other field at its default.
    pub fn new(mechanism: Mechanism, mode: Mode) -> Self {
        LockOptions {
            mechanism,
            mode,
            ..LockOptions::default()
        }
    }

    /// Exclusive lock with `mechanism`.
    pub fn exclusive(mechanism: Mechanism) -> Self {
        Self::new(mechanism, Mode::Exclusive)
    }

    /// Shared lock with `mechanism`.
    pub fn shared(mechanism: Mechanism) -> Self {
        Self::new(mechanism, Mode::Shared)
    }

    /// Set the mechanism.
    pub fn mechanism(mut self, mechanism: Mechanism) -> Self {
        self.mechanism = mechanism;
        self
    }

    /// Set the mode.
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// Set the wait policy.
    pub fn wait(mut self, wait: Wait) -> Self {
        self.wait = wait;
        self
    }

    /// Create the file if missing (`O_CREAT`).
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Permission bits used when `create` makes a new file.
    pub fn create_mode(mut self, mode: u32) -> Self {
        self.create_mode = mode;
        self
    }

    /// Enable or disable the post-lock inode re-check.
    pub fn recheck_inode(mut self, recheck: bool) -> Self {
        self.recheck_inode = recheck;
        self
    }

    /// Enable or disable refusing remote/cluster/FUSE filesystems.
    pub fn refuse_remote(mut self, refuse: bool) -> Self {
        self.refuse_remote = refuse;
        self
    }
}

/// A granted lock. Dropping it closes the file, which releases the lock.
///
/// Dropping never unlinks and never truncates the file: unlinking a lock file
/// on release reopens the split-brain race described at
/// [`LockOptions::recheck_inode`], and truncating would destroy content such
/// as a pid that readers rely on.
///
/// Caveats of the close-based release: a `flock`/OFD lock stays held while a
/// forked child still has the fd (fork without exec), and for
/// [`Mechanism::Posix`] closing releases every POSIX lock this process holds
/// on the inode, including ones held through other guards.
#[derive(Debug)]
pub struct LockGuard {
    file: File,
    path: PathBuf,
    mechanism: Mechanism,
    mode: Mode,
}

impl LockGuard {
    pub(crate) fn new(file: File, path: PathBuf, mechanism: Mechanism, mode: Mode) -> Self {
        LockGuard {
            file,
            path,
            mechanism,
            mode,
        }
    }

    /// The locked file. Opened read-write for exclusive locks and read-only
    /// for shared ones.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// The path that was locked (as given to [`acquire`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mechanism the lock was taken with.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The mode the lock was taken in.
    pub fn mode(&self) -> Mode {
        self.mode
    }
}

/// Why [`acquire`] did not return a lock.
#[derive(Debug)]
pub enum LockError {
    /// The lock is held in a conflicting mode ([`Wait::Try`]).
    ///
    /// `holder_pid` comes from `F_GETLK`/`F_OFD_GETLK` for POSIX and OFD
    /// requests: `Some(pid)` for a POSIX holder, `Some(0)` for a holder
    /// outside our pid namespace, `None` for an OFD holder (the kernel
    /// reports -1), for `flock` (no query exists) and when the holder went
    /// away before the query.
    WouldBlock {
        /// Pid of one conflicting holder, if the kernel could tell.
        holder_pid: Option<i32>,
    },
    /// [`Wait::Timeout`] elapsed without the lock being granted.
    TimedOut,
    /// `refuse_remote` was set and the file is on a filesystem whose locks
    /// this host cannot vouch for.
    Remote {
        /// Name of the filesystem type (from the statfs magic number).
        fstype: String,
    },
    /// Any other failure (open, permission, unsupported mechanism, ...).
    Io(io::Error),
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::WouldBlock {
                holder_pid: Some(0),
            } => f.write_str("lock is held by a process outside this pid namespace"),
            LockError::WouldBlock {
                holder_pid: Some(pid),
            } => write!(f, "lock is held by process {pid}"),
            LockError::WouldBlock { holder_pid: None } => {
                f.write_str("lock is held by another open file (holder pid unknown)")
            }
            LockError::TimedOut => f.write_str("timed out waiting for the lock"),
            LockError::Remote { fstype } => write!(
                f,
                "refusing to lock a file on a {fstype} filesystem: this host cannot tell \
                 whether other clients see locks there (refuse_remote is set)"
            ),
            LockError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for LockError {
    fn from(e: io::Error) -> Self {
        LockError::Io(e)
    }
}

/// With [`Wait::Try`], how many times the lock file may be found replaced right
/// after locking before `acquire` gives up (someone is churning it).
const TRY_REOPEN_LIMIT: u32 = 8;

/// After a lock turned out to be on a file the path no longer names (see
/// [`LockOptions::recheck_inode`]): whether to try again, per the wait policy.
pub(crate) fn retry_after_replacement(
    wait: Wait,
    reopens: &mut u32,
    deadline: Option<Instant>,
    path: &Path,
) -> Result<(), LockError> {
    match wait {
        Wait::Try => {
            *reopens += 1;
            if *reopens >= TRY_REOPEN_LIMIT {
                return Err(LockError::Io(io::Error::other(format!(
                    "{}: lock file was replaced {reopens} times while it was being locked",
                    path.display()
                ))));
            }
        }
        Wait::Timeout(_) => {
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(LockError::TimedOut);
            }
        }
        Wait::Block => {}
    }
    Ok(())
}

/// First pause of the [`Wait::Timeout`] polling loop.
const BACKOFF_START: Duration = Duration::from_millis(1);
/// Longest pause of the polling loop: bounds how late a release is noticed.
const BACKOFF_MAX: Duration = Duration::from_millis(50);

/// [`Wait::Timeout`]: repeats a non-blocking `attempt` (`Ok(true)` = granted) with
/// an exponential backoff until it succeeds or `deadline` passes.
pub(crate) fn poll_until(
    deadline: Instant,
    mut attempt: impl FnMut() -> io::Result<bool>,
) -> Result<(), LockError> {
    let mut pause = BACKOFF_START;
    loop {
        if attempt()? {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(LockError::TimedOut);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(BACKOFF_MAX);
    }
}

/// Prefix an error with the operation and path, keeping its kind.
pub(crate) fn context(e: io::Error, op: &str, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{op} {}: {e}", path.display()))
}
