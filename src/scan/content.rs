//! Reading what a pidfile or lockfile says, without disturbing anything.
//!
//! Files are opened with the lock module's probe open (O_PATH|O_NOFOLLOW, type
//! check, then a non-blocking O_RDONLY reopen of the same inode), so a FIFO named
//! `x.pid` cannot block the scan and a device node is never opened. At most
//! [`MAX_PIDFILE_BYTES`] are read: a 2 GiB sparse `big.pid` is judged by its size.

use std::io::Read;
use std::path::Path;

use crate::lock::pidfile::parse_pid;
use crate::lock::probe::open_for_probe;

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
}

/// Reads the first `MAX_PIDFILE_BYTES` of a regular file (enough for every
/// convention's header: a Vim swap block 0 is exactly 4 KiB) and one byte more, so
/// the caller can tell a longer file.
pub fn read_head(path: &Path) -> Result<Vec<u8>, String> {
    let file = open_for_probe(path).map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(1024);
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
