//! Walking the given paths without changing or following anything.
//!
//! Directories are opened relative to their parent's fd with O_NOFOLLOW, so a
//! symlink swapped in mid-walk is never followed and symlink loops cannot occur;
//! bind-mount cycles are cut by remembering every directory's (device, inode).
//! Entries are looked at by name and the inode number `getdents` already returned:
//! only names that look like locks, or whose inode number is locked right now, cost
//! a `statx`. Nothing is opened for reading here.

use std::ffi::OsString;
use std::path::PathBuf;

use super::names::NameKind;
use crate::report::ErrorEntry;
use crate::sys::FileKey;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::{key_for, stat_path, walk};
#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::{key_for, stat_path, walk};

/// Walk limits from the command line.
#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Deepest level to enter below a root (the root's entries are level 1).
    pub max_depth: Option<usize>,
    /// Do not descend into other mounts.
    pub one_file_system: bool,
}

/// What `statx` (or, on Windows, `GetFileInformationByHandle`) said about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    pub file_type: &'static str,
    pub size: u64,
    /// Permission bits; `None` where the platform has none (Windows ACLs).
    pub mode: Option<u32>,
    /// Owner uid; `None` where the platform has none.
    pub uid: Option<u32>,
    pub mtime: i64,
    pub nlink: u32,
    pub ino: u64,
    pub mnt_id: Option<u64>,
    /// `st_dev` (per-subvolume on btrfs; not the lock-table device); on Windows the
    /// volume serial number and 0.
    pub st_dev: (u32, u32),
}

/// A file found under a root that may matter.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    /// What the name suggests (None: found only because its inode is locked, or given
    /// explicitly).
    pub name_kind: Option<NameKind>,
    pub convention: Option<&'static str>,
    pub stat: FileStat,
    /// The lock-table key, when the mount is known.
    pub key: Option<FileKey>,
    pub symlink_target: Option<OsString>,
    /// Given on the command line rather than found.
    pub explicit: bool,
    /// Mode and owner of the directory it is in (for permission findings).
    pub dir_mode: Option<u32>,
    pub dir_uid: Option<u32>,
}

#[derive(Debug, Default)]
pub struct WalkResult {
    pub candidates: Vec<Candidate>,
    pub errors: Vec<ErrorEntry>,
    pub entries: usize,
}
