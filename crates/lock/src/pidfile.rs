//! Pidfiles guarded by a lock (`flock` on unix, `LockFileEx` on Windows):
//! claim one for the current process, or read one to find out whether (and by
//! whom) it is held.
//!
//! The lock, not the file's existence or content, says whether the pidfile
//! is live. The pid in the file is information for humans and signal
//! senders, and it can be stale (see [`PidFileRead::HeldBy`]).
//!
//! # Never unlink a pidfile
//!
//! It is tempting to delete the pidfile on shutdown. That reopens a race in
//! which two "singletons" run at once (described in neon's `pid_file.rs`):
//!
//! 1. A holds the flock on `svc.pid`. B starts, opens `svc.pid` (same inode)
//!    and blocks in `flock`.
//! 2. A unlinks `svc.pid` and exits, which releases its lock.
//! 3. B is granted the lock on the now *unlinked* inode and writes its pid
//!    into a file nobody can find.
//! 4. C starts, `open(O_CREAT)` makes a **new** `svc.pid`, locks it without
//!    contention and writes its pid. B and C both believe they are alone.
//!
//! So this module never unlinks, and [`claim`] additionally re-checks after
//! locking that the path still names the locked inode (in case some other
//! program deletes or replaces the file anyway). A stale pidfile is
//! harmless: it is recognised by nobody holding its lock.
//!
//! # Windows
//!
//! [`claim`] takes an exclusive `LockFileEx` lock, but not on the whole file:
//! it locks offsets from `WINDOWS_LOCK_OFFSET` to the end of the 64-bit
//! offset space. Windows byte-range locks are mandatory for I/O, so a
//! whole-file exclusive lock would make the pid unreadable to everybody else
//! (`ERROR_LOCK_VIOLATION`); a lock far beyond the content leaves the pid
//! readable while every whole-file lock attempt or probe (including
//! [`read`] and `probe::probe_lockfileex`) still conflicts with it. The
//! handle's share mode (no `FILE_SHARE_DELETE`) also keeps the file from being
//! deleted or renamed while it is claimed. [`parse_pid`] and friends are the
//! same on every platform but for the largest pid they accept ([`MAX_PID`]).

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
#[cfg(unix)]
use std::os::unix::fs::FileExt;
use std::path::Path;

#[cfg(unix)]
use rustix::fs::{FlockOperation, OFlags};
#[cfg(unix)]
use rustix::io::Errno;

#[cfg(unix)]
use super::unix::{not_regular, retry_eintr};
use super::{LockError, LockGuard, LockOptions, Mechanism, Mode, Wait, context};

/// Linux's `PID_MAX_LIMIT` (4 Mi on 64-bit): `/proc/sys/kernel/pid_max` cannot be
/// raised beyond it, and pids are always *below* `pid_max` (the default 32768
/// hands out 1..=32767), so the largest pid Linux can ever hand out is
/// `PID_MAX_LIMIT - 1`.
pub const PID_MAX_LIMIT: i32 = 4_194_304;

/// The largest pid a process can have where this code runs. A pidfile names a
/// process of this machine, so a larger number in one is not a pid at all (and
/// must never be reported as a pid that merely is not running).
///
/// Unix: `PID_MAX_LIMIT - 1` (Linux's ceiling; the BSDs' and macOS's are lower).
/// Windows: pids are `u32` values (multiples of 4, by an undocumented rule that is
/// not relied on here) without a small ceiling, and the report holds pids as `i32`,
/// so anything up to `i32::MAX` is accepted.
#[cfg(not(windows))]
pub const MAX_PID: i32 = PID_MAX_LIMIT - 1;
/// See the unix definition.
#[cfg(windows)]
pub const MAX_PID: i32 = i32::MAX;

/// Whether `n` can be the pid of a process on this platform: `1..=MAX_PID`.
/// Every parser that takes a pid out of file content or a name checks this.
pub fn is_possible_pid(n: i64) -> bool {
    (1..=i64::from(MAX_PID)).contains(&n)
}

/// Pidfiles are tiny; never read more than this of a file that claims to be
/// one.
const READ_LIMIT: u64 = 4096;

/// Windows: first byte offset of the range [`claim`] locks (2^62, far beyond
/// any pidfile's content; the range runs to the end of the offset space).
#[cfg(windows)]
pub const WINDOWS_LOCK_OFFSET: u64 = 1 << 62;

/// The lock mechanism pidfiles use on this platform.
#[cfg(unix)]
const MECHANISM: Mechanism = Mechanism::Flock;
#[cfg(windows)]
const MECHANISM: Mechanism = Mechanism::LockFileEx;

/// A claimed pidfile. The exclusive lock (flock on unix, `LockFileEx` on
/// Windows) lasts as long as this guard;
/// dropping it closes the file, which releases the claim. The file is left
/// in place, content included.
#[derive(Debug)]
#[must_use = "dropping the guard releases the pidfile claim at once"]
pub struct PidFileGuard {
    lock: LockGuard,
    pid: i32,
}

impl PidFileGuard {
    /// The pidfile's path.
    pub fn path(&self) -> &Path {
        self.lock.path()
    }

    /// The open pidfile (read-write, `O_CLOEXEC` / non-inheritable, lock held).
    pub fn file(&self) -> &File {
        self.lock.file()
    }

    /// The pid written into the file.
    pub fn pid(&self) -> i32 {
        self.pid
    }
}

/// Why [`claim`] failed.
#[derive(Debug)]
pub enum ClaimError {
    /// Another open of the pidfile holds a lock on it. `pid` is parsed from
    /// the file content and may be `None` (empty or garbage content, e.g.
    /// the holder has locked but not yet written) or stale.
    HeldBy {
        /// Pid found in the file, if it parsed.
        pid: Option<i32>,
    },
    /// Opening, locking or writing failed.
    Io(io::Error),
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClaimError::HeldBy { pid: Some(pid) } => {
                write!(
                    f,
                    "pidfile is already claimed (by pid {pid} according to the file)"
                )
            }
            ClaimError::HeldBy { pid: None } => {
                f.write_str("pidfile is already claimed (no valid pid in the file)")
            }
            ClaimError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ClaimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClaimError::Io(e) => Some(e),
            ClaimError::HeldBy { .. } => None,
        }
    }
}

/// Claim `path` as the pidfile of the current process.
///
/// Opens or creates the file (`O_CLOEXEC`, mode 0o644 before umask, never
/// truncated by the open), takes an exclusive non-blocking `flock` with the
/// inode re-check of [`LockOptions::recheck_inode`], then replaces the
/// content with `"<pid>\n"` and `fsync`s it.
///
/// On Windows the lock is an exclusive non-blocking `LockFileEx` on offsets
/// `WINDOWS_LOCK_OFFSET`.. (see the module documentation), with the same
/// re-check, a non-inheritable handle and `FlushFileBuffers` for the sync.
///
/// The pid is written at offset 0 *before* the file is truncated to the new
/// length, so a concurrent reader sees either the old content or the new pid
/// on the first line, never an empty file (a truncate-then-write order would
/// expose an empty file between the two calls).
///
/// If writing fails the guard is dropped, which releases the lock.
pub fn claim(path: &Path) -> Result<PidFileGuard, ClaimError> {
    let opts = LockOptions::new(MECHANISM, Mode::Exclusive)
        .wait(Wait::Try)
        .create(true)
        .create_mode(0o644)
        .recheck_inode(true);
    #[cfg(unix)]
    let acquired = super::acquire(path, &opts);
    #[cfg(windows)]
    let acquired = super::windows::acquire_range(path, &opts, WINDOWS_LOCK_OFFSET);
    let lock = match acquired {
        Ok(lock) => lock,
        Err(LockError::WouldBlock { .. }) => {
            let pid = read_head_at(path)
                .ok()
                .and_then(|content| parse_pid(&content).ok());
            return Err(ClaimError::HeldBy { pid });
        }
        Err(LockError::Io(e)) => return Err(ClaimError::Io(e)),
        Err(e @ (LockError::TimedOut | LockError::Remote { .. })) => {
            return Err(ClaimError::Io(io::Error::other(e.to_string())));
        }
    };
    let pid = i32::try_from(std::process::id())
        .map_err(|_| ClaimError::Io(io::Error::other("own pid does not fit in i32")))?;
    let content = format!("{pid}\n");
    let file = lock.file();
    write_all_at(file, content.as_bytes())
        .and_then(|()| file.set_len(content.len() as u64))
        .and_then(|()| file.sync_all())
        .map_err(|e| ClaimError::Io(context(e, "write pid to", path)))?;
    Ok(PidFileGuard { lock, pid })
}

/// Write `buf` at offset 0 (positional: the file position is irrelevant).
#[cfg(unix)]
fn write_all_at(file: &File, buf: &[u8]) -> io::Result<()> {
    file.write_all_at(buf, 0)
}

/// Write `buf` at offset 0 (positional: the file position is irrelevant).
#[cfg(windows)]
fn write_all_at(file: &File, mut buf: &[u8]) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    let mut offset = 0u64;
    while !buf.is_empty() {
        match file.seek_write(buf, offset) {
            Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// State of a pidfile, as found by [`read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidFileRead {
    /// Nothing exists at the path.
    NotExist,
    /// The file exists but nobody holds a lock on it: whoever wrote
    /// `pid_in_file` is gone (or never claimed it properly).
    NotHeld {
        /// Pid parsed from the content, if any.
        pid_in_file: Option<i32>,
    },
    /// Somebody holds an exclusive lock on the file.
    ///
    /// Caveats: the pid is whatever the file says. The holder may have
    /// locked but not yet written (old or empty content), it may exit at any
    /// moment, and the kernel may then recycle the pid for an unrelated
    /// process, so signalling it is inherently racy. Only a supervising
    /// parent (or a pidfd obtained while the holder is known alive) avoids
    /// that.
    HeldBy {
        /// Pid parsed from the content, if any.
        pid_in_file: Option<i32>,
    },
}

/// Inspect a pidfile without claiming it.
///
/// "Held" is decided by a `flock(LOCK_SH | LOCK_NB)` attempt on a fresh
/// `O_RDONLY | O_CLOEXEC` open (also `O_NONBLOCK | O_NOCTTY`, so a FIFO at
/// the path cannot hang the call), released immediately with `LOCK_UN`.
/// This momentarily takes a **shared lock**: a [`claim`] racing with it in
/// another process can fail with [`ClaimError::HeldBy`] during that window.
/// The content is read after the test, so a holder that has just claimed
/// has had the longest possible time to write its pid.
///
/// Only regular files are accepted.
///
/// On Windows: a read-only open with every share mode (non-inheritable;
/// symbolic links are followed, as on unix), then a shared
/// `LockFileEx(FAIL_IMMEDIATELY)` on the whole offset range, released at once
/// with `UnlockFileEx`; `ERROR_LOCK_VIOLATION` means held. The same
/// momentary-lock caveat applies.
#[cfg(unix)]
pub fn read(path: &Path) -> io::Result<PidFileRead> {
    let fd = match rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        rustix::fs::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(PidFileRead::NotExist),
        Err(e) => return Err(context(e.into(), "open", path)),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| context(e, "fstat", path))?;
    if !meta.file_type().is_file() {
        return Err(not_regular(path, meta.file_type()));
    }
    let held = match retry_eintr(|| rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared))
    {
        Ok(()) => {
            retry_eintr(|| rustix::fs::flock(&file, FlockOperation::Unlock))
                .map_err(|e| context(e.into(), "flock(LOCK_UN)", path))?;
            false
        }
        Err(Errno::WOULDBLOCK) => true,
        Err(e) => return Err(context(e.into(), "flock(LOCK_SH|LOCK_NB)", path)),
    };
    finish_read(&file, held, path)
}

/// Windows [`read`]; documented there.
#[cfg(windows)]
pub fn read(path: &Path) -> io::Result<PidFileRead> {
    use std::os::windows::fs::OpenOptionsExt;

    use super::windows::{WHOLE_LEN, check_regular, lock_range, open_error, unlock_range};
    use crate::fileid::SHARE_ALL;

    let file = match std::fs::OpenOptions::new()
        .read(true)
        .share_mode(SHARE_ALL)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(PidFileRead::NotExist),
        Err(e) => return Err(open_error(e, "open", path)),
    };
    check_regular(&file, path)?;
    let held = if lock_range(&file, 0, WHOLE_LEN, false, true)
        .map_err(|e| context(e, "LockFileEx(FAIL_IMMEDIATELY)", path))?
    {
        unlock_range(&file, 0, WHOLE_LEN).map_err(|e| context(e, "UnlockFileEx", path))?;
        false
    } else {
        true
    };
    finish_read(&file, held, path)
}

/// Reads the pid after the lock test (so a holder that has just claimed has had
/// the longest possible time to write it) and builds the answer.
fn finish_read(file: &File, held: bool, path: &Path) -> io::Result<PidFileRead> {
    let content = read_head(file).map_err(|e| context(e, "read", path))?;
    let pid_in_file = parse_pid(&content).ok();
    Ok(if held {
        PidFileRead::HeldBy { pid_in_file }
    } else {
        PidFileRead::NotHeld { pid_in_file }
    })
}

fn read_head(file: &File) -> io::Result<Vec<u8>> {
    let mut content = Vec::new();
    file.take(READ_LIMIT).read_to_end(&mut content)?;
    Ok(content)
}

/// Read the start of the pidfile at `path` for an error report.
#[cfg(unix)]
fn read_head_at(path: &Path) -> io::Result<Vec<u8>> {
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY,
        rustix::fs::Mode::empty(),
    )?;
    let file = File::from(fd);
    if !file.metadata()?.file_type().is_file() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    read_head(&file)
}

/// Read the start of the pidfile at `path` for an error report (Windows:
/// read-only, every share mode, regular files only).
#[cfg(windows)]
fn read_head_at(path: &Path) -> io::Result<Vec<u8>> {
    use std::os::windows::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .share_mode(crate::fileid::SHARE_ALL)
        .open(path)?;
    super::windows::check_regular(&file, path)?;
    read_head(&file)
}

/// Why a pidfile's content is not a pid. See [`parse_pid`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidParseError {
    /// The first line is empty or only whitespace.
    Empty,
    /// The first token is not a plain decimal number (letters, `+`, hex...).
    NotANumber,
    /// The number is zero (pid 0 is the idle task, never a process).
    Zero,
    /// The number has a minus sign.
    Negative,
    /// The number exceeds [`MAX_PID`] (`PID_MAX_LIMIT - 1` on unix).
    TooLarge,
    /// The first token contains NUL, control or non-ASCII bytes (a binary,
    /// zero-filled or corrupted file).
    Binary,
}

impl fmt::Display for PidParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PidParseError::Empty => "pidfile has no pid on its first line",
            PidParseError::NotANumber => "pidfile's first token is not a decimal number",
            PidParseError::Zero => "pidfile contains pid 0, which is not a process",
            PidParseError::Negative => "pidfile contains a negative number",
            #[cfg(not(windows))]
            PidParseError::TooLarge => {
                "pidfile contains a number above 4194303, the largest pid Linux can have \
                 (pid_max is at most 4194304)"
            }
            #[cfg(windows)]
            PidParseError::TooLarge => {
                "pidfile contains a number above 2147483647, larger than any pid lockscan can \
                 represent"
            }
            PidParseError::Binary => "pidfile contains binary data where a pid was expected",
        })
    }
}

impl std::error::Error for PidParseError {}

/// Parse pidfile content.
///
/// Rules: take the first line (up to the first `\n`), trim ASCII whitespace,
/// and take the first whitespace-separated token; trailing tokens are
/// ignored (`"4242 buildhost"` → 4242; surrounding blanks as in UUCP
/// `LCK..` files, `"      4242\n"`, are fine). The token must be plain
/// decimal digits (leading zeros allowed; no sign, `+` included) with a
/// value in `1..=MAX_PID` (below `PID_MAX_LIMIT` on unix).
pub fn parse_pid(content: &[u8]) -> Result<i32, PidParseError> {
    let line = content.split(|&b| b == b'\n').next().unwrap_or_default();
    let token = line
        .split(|b| b.is_ascii_whitespace())
        .find(|t| !t.is_empty())
        .ok_or(PidParseError::Empty)?;
    if token.iter().any(|&b| !b.is_ascii() || b.is_ascii_control()) {
        return Err(PidParseError::Binary);
    }
    if let Some(rest) = token.strip_prefix(b"-") {
        return Err(if !rest.is_empty() && rest.iter().all(u8::is_ascii_digit) {
            PidParseError::Negative
        } else {
            PidParseError::NotANumber
        });
    }
    if !token.iter().all(u8::is_ascii_digit) {
        return Err(PidParseError::NotANumber);
    }
    let significant = match token.iter().position(|&b| b != b'0') {
        Some(i) => &token[i..],
        None => return Err(PidParseError::Zero),
    };
    // MAX_PID has at most 10 digits; anything longer is too large and would
    // overflow the accumulation below.
    if significant.len() > 10 {
        return Err(PidParseError::TooLarge);
    }
    let value = significant
        .iter()
        .fold(0i64, |acc, &d| acc * 10 + i64::from(d - b'0'));
    if !is_possible_pid(value) {
        return Err(PidParseError::TooLarge);
    }
    Ok(value as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_pid_rules() {
        assert_eq!(parse_pid(b"4242\n"), Ok(4242));
        assert_eq!(parse_pid(b"  4242\n"), Ok(4242));
        assert_eq!(parse_pid(b"      4242\n"), Ok(4242));
        assert_eq!(parse_pid(b"4242"), Ok(4242));
        assert_eq!(parse_pid(b"4242\r\n"), Ok(4242));
        assert_eq!(parse_pid(b"\t4242 buildhost\nmore\n"), Ok(4242));
        assert_eq!(parse_pid(b"0042"), Ok(42));
        assert_eq!(parse_pid(b"1"), Ok(1));
        assert_eq!(parse_pid(b"4194303"), Ok(4_194_303));
        assert_eq!(parse_pid(b"2147483648"), Err(PidParseError::TooLarge));
        assert_eq!(parse_pid(b"99999999999"), Err(PidParseError::TooLarge));
        assert_eq!(
            parse_pid(b"99999999999999999999"),
            Err(PidParseError::TooLarge)
        );
        assert_eq!(parse_pid(b""), Err(PidParseError::Empty));
        assert_eq!(parse_pid(b"   \n4242\n"), Err(PidParseError::Empty));
        assert_eq!(parse_pid(b"\n"), Err(PidParseError::Empty));
        assert_eq!(parse_pid(b"abc"), Err(PidParseError::NotANumber));
        assert_eq!(parse_pid(b"12abc"), Err(PidParseError::NotANumber));
        assert_eq!(parse_pid(b"0x10"), Err(PidParseError::NotANumber));
        assert_eq!(parse_pid(b"+5"), Err(PidParseError::NotANumber));
        assert_eq!(parse_pid(b"-"), Err(PidParseError::NotANumber));
        assert_eq!(parse_pid(b"-x"), Err(PidParseError::NotANumber));
        assert_eq!(parse_pid(b"-5"), Err(PidParseError::Negative));
        assert_eq!(parse_pid(b"-0"), Err(PidParseError::Negative));
        assert_eq!(parse_pid(b"0"), Err(PidParseError::Zero));
        assert_eq!(parse_pid(b"000\n"), Err(PidParseError::Zero));
        assert_eq!(parse_pid(b"\x00\x01"), Err(PidParseError::Binary));
        assert_eq!(parse_pid(b"\x00\x00\x00\x00"), Err(PidParseError::Binary));
        assert_eq!(parse_pid(b"42\x00"), Err(PidParseError::Binary));
        assert_eq!(parse_pid("42é".as_bytes()), Err(PidParseError::Binary));
        assert_eq!(parse_pid(b"\xff\xfe"), Err(PidParseError::Binary));
    }

    /// Every number Linux can never hand out is too large, up to `i32::MAX` (the
    /// regression: 4194305..=2147483647 were taken as pids that merely were dead;
    /// 4194304 itself is `PID_MAX_LIMIT`, one above the largest pid).
    #[cfg(not(windows))]
    #[test]
    fn numbers_above_the_largest_linux_pid_are_too_large_not_pids() {
        for n in [
            "4194304",
            "4194305",
            "9999999",
            "10000000",
            "2147483647",
            "0004194305",
        ] {
            assert_eq!(parse_pid(n.as_bytes()), Err(PidParseError::TooLarge), "{n}");
        }
        assert!(is_possible_pid(1) && is_possible_pid(4_194_303));
        assert!(!is_possible_pid(0) && !is_possible_pid(4_194_304) && !is_possible_pid(-1));
        assert!(PidParseError::TooLarge.to_string().contains("4194303"));
    }

    /// Windows pids have no such ceiling: anything the report can hold is a pid.
    #[cfg(windows)]
    #[test]
    fn windows_accepts_pids_up_to_i32_max() {
        assert_eq!(parse_pid(b"4194308"), Ok(4_194_308));
        assert_eq!(parse_pid(b"2147483647"), Ok(i32::MAX));
        assert!(!is_possible_pid(0));
    }

    #[test]
    fn parse_errors_display_something_useful() {
        for e in [
            PidParseError::Empty,
            PidParseError::NotANumber,
            PidParseError::Zero,
            PidParseError::Negative,
            PidParseError::TooLarge,
            PidParseError::Binary,
        ] {
            assert!(e.to_string().starts_with("pidfile"), "{e}");
        }
    }
}
