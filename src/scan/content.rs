//! Reading what a pidfile or lockfile says, without disturbing anything.
//!
//! Files are opened with the lock module's probe open (O_PATH|O_NOFOLLOW, type
//! check, then a non-blocking O_RDONLY reopen of the same inode), so a FIFO named
//! `x.pid` cannot block the scan and a device node is never opened. At most
//! [`MAX_PIDFILE_BYTES`] are read: a 2 GiB sparse `big.pid` is judged by its size.

use std::io::Read;
use std::path::Path;

use crate::lock::pidfile::parse_pid;
#[cfg(not(unix))]
use crate::lock::probe::open_for_probe;

use super::walk::FileStat;

/// No real pidfile is longer (PostgreSQL's postmaster.pid is the largest, ~100 bytes).
pub const MAX_PIDFILE_BYTES: u64 = 4096;

/// What a file's content says about a pid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidContent {
    Pid(i32),
    /// The content is not a pid; the reason says why.
    Invalid(String),
    /// The content was not read (not a regular file, leased, unreadable).
    NotRead(String),
    /// The owner's pid is in the name of a hard link to the file (python's
    /// `lockfile.LinkLockFile`: `NAME.lock` linked to `HOST-THREAD.PIDHASH`); where the
    /// name runs pid and hash together, every pid it may hold.
    LinkName {
        name: String,
        pids: Vec<i32>,
    },
}

/// The pids a `lockfile.LinkLockFile` link name may record, most likely first.
///
/// The name is `HOST.THREAD-PID` (lockfile 0.9-0.11), `HOST` `-THREAD` `.PID` `HASH`
/// (0.12: `hash(path)` written right after the pid, with a `-` only when the hash is
/// negative), or `HOST.PID` unthreaded; a host name may contain dots. Where pid and
/// hash run together, each leading run of up to 7 digits that leaves a hash-sized
/// rest (8 to 19 digits) is a candidate.
pub fn pids_from_link_name(name: &str) -> Vec<i32> {
    let valid = |s: &str| -> Option<i32> {
        (!s.is_empty() && s.len() <= 7 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
            .filter(|p| crate::lock::pidfile::is_possible_pid((*p).into()))
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some((_, tail)) = name.rsplit_once('.') else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some((a, b)) = tail.split_once('-') {
        // 0.12 with a negative hash: PID-HASH; 0.9-0.11: THREAD-PID (hex thread).
        if digits(b) && b.len() > 7 {
            out.extend(valid(a));
        } else {
            out.extend(valid(a).filter(|_| digits(b)));
            out.extend(valid(b).filter(|_| a.bytes().all(|c| c.is_ascii_hexdigit())));
        }
    } else if digits(tail) {
        out.extend(valid(tail));
        for len in (1..tail.len().min(8)).rev() {
            // A 64-bit hash has at most 19 digits and, but for a chance of 1e-11,
            // at least 8.
            out.extend(valid(&tail[..len]).filter(|_| (8..=19).contains(&(tail.len() - len))));
        }
    }
    out.dedup();
    out
}

/// Reads the first `MAX_PIDFILE_BYTES` of a regular file (enough for every
/// convention's header: a Vim swap block 0 is exactly 4 KiB) and one byte more, so
/// the caller can tell a longer file. `path` is absolute; no component of it may be
/// a symlink, and the file must be the one the scan saw (`seen`).
pub fn read_head(path: &Path, seen: &FileStat) -> Result<Vec<u8>, String> {
    #[cfg(unix)]
    {
        read_head_at(rustix::fs::CWD, path, seen)
    }
    #[cfg(not(unix))]
    {
        let _ = seen;
        read_all(open_for_probe(path).map_err(|e| e.to_string())?)
    }
}

/// [`read_head`] of `name` under the directory `dir` (the walk's own fd).
#[cfg(unix)]
pub fn read_head_at(
    dir: std::os::fd::BorrowedFd<'_>,
    name: &Path,
    seen: &FileStat,
) -> Result<Vec<u8>, String> {
    let want = crate::lock::probe::FileIdentity {
        dev_major: seen.st_dev.0,
        dev_minor: seen.st_dev.1,
        ino: seen.ino,
    };
    let file = crate::lock::probe::open_for_probe_beneath(dir, name, Some(want))
        .map_err(|e| e.to_string())?;
    read_all(file)
}

fn read_all(file: std::fs::File) -> Result<Vec<u8>, String> {
    let mut buf = Vec::with_capacity(256);
    file.take(MAX_PIDFILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// What the head of a file (from [`read_head`]) says about a pid; `size` is the
/// file's size, so a 2 GiB sparse `big.pid` is judged without reading it.
pub fn pid_from_head(head: &[u8], size: u64) -> PidContent {
    if size > MAX_PIDFILE_BYTES || head.len() as u64 > MAX_PIDFILE_BYTES {
        return PidContent::Invalid(format!("{size} bytes: too large for a pidfile"));
    }
    match parse_pid(head) {
        Ok(pid) => PidContent::Pid(pid),
        Err(e) => PidContent::Invalid(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_names_of_every_lockfile_version_give_their_pid() {
        // 0.12, negative hash: the pid stands alone.
        assert_eq!(
            pids_from_link_name("vm-7f3a21c0.4242-8836254112341"),
            [4242]
        );
        // 0.9-0.11: HOST.THREAD-PID.
        assert_eq!(
            pids_from_link_name("build.example.com.7f3a21c0-4242"),
            [4242]
        );
        // Unthreaded: HOST.PID.
        assert_eq!(pids_from_link_name("vm.4242"), [4242]);
        // 0.12, positive hash: every leading run of digits may be the pid.
        let c = pids_from_link_name("vm-7f3a21c0.42421234567890123456");
        assert!(
            c.contains(&4242) && c.contains(&424) && c.contains(&42),
            "{c:?}"
        );
        assert!(
            c.iter()
                .all(|p| crate::lock::pidfile::is_possible_pid((*p).into()))
        );
        assert!(pids_from_link_name("no-dots-here").is_empty());
        assert!(pids_from_link_name("vm.notapid").is_empty());
    }
}
