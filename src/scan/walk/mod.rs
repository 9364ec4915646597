//! Walking the given paths without changing or following anything.
//!
//! Directories are opened relative to their parent's fd with O_NOFOLLOW, so a
//! symlink swapped in mid-walk is never followed and symlink loops cannot occur;
//! bind-mount cycles are cut by remembering every directory's (device, inode).
//! Entries are looked at by name and the inode number `getdents` already returned:
//! only names that look like locks, or whose inode number is locked right now, cost
//! a `statx`. Nothing is opened for reading here.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::examine::{Exam, Examiner, LiveDisk, Recording, replay};
use super::names::{self, NameKind};
use super::wire::Found;
use crate::model::ErrorEntry;
use crate::sys::{FileKey, FileType, Platform, Snapshot};

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
    pub file_type: FileType,
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
    pub stat: FileStat,
    /// The lock-table key, when the mount is known.
    pub key: Option<FileKey>,
    pub symlink_target: Option<OsString>,
    /// Given on the command line rather than found.
    pub explicit: bool,
    /// Mode and owner of the directory it is in (for permission findings).
    pub dir_mode: Option<u32>,
    pub dir_uid: Option<u32>,
    /// What the examination found (filled while the walk holds its directory).
    pub exam: Exam,
}

#[derive(Debug, Default)]
pub struct WalkResult {
    pub candidates: Vec<Candidate>,
    pub errors: Vec<ErrorEntry>,
    pub entries: usize,
}

/// The other names in `dir` of the file `name` (`seen`): hard links (python's
/// `lockfile.LinkLockFile` keeps its owner's pid in the other link's name).
pub fn hard_links_in(dir: &Path, name: &std::ffi::OsStr, seen: &FileStat) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name() != name)
        .filter(|e| {
            stat_path(&e.path(), false)
                .is_some_and(|o| o.ino == seen.ino && o.st_dev == seen.st_dev)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Locked files of a whole-system scan, as candidates: the path a holder shows (in
/// our mount namespace, still naming the locked inode), so that they get the same
/// examination as files found by a walk. Directory stats are cached per directory.
///
/// Files on a served mount (NFS, SMB, FUSE) are looked at by a helper process
/// (`Snapshot::guarded`), one per mount; when it does not answer, they are left to
/// what /proc says of their holders' fds.
///
/// Windows keeps no lock table, so there the candidates are the files with lock-like
/// names that some process has open.
pub fn system(snap: &Snapshot) -> WalkResult {
    let windows = snap.platform == Platform::Windows;
    // Keyed by the lock-table key and, on btrfs, the subvolume's `st_dev`: locked
    // files with one inode number in two subvolumes share a key but are two files.
    let mut best: HashMap<FileId, (&Path, Option<u64>)> = HashMap::new();
    for fd in &snap.open_fds {
        let (Some(path), Some(key)) = (&fd.path, fd.key) else {
            continue;
        };
        if fd.deleted || fd.replaced {
            continue;
        }
        let relevant = !fd.locks.is_empty()
            || (windows && path.file_name().and_then(names::classify).is_some());
        if !relevant {
            continue;
        }
        let reachable = match fd.mnt_id {
            Some(m) => snap.own_mount_ids.contains(&m),
            None => windows, // one namespace: every path is ours
        };
        if reachable {
            best.entry((key, fd.st_dev))
                .or_insert((path.as_path(), fd.mnt_id));
        }
    }
    let mut keys: Vec<_> = best.into_iter().collect();
    keys.sort_unstable_by_key(|(k, _)| *k);
    let mut local = Vec::new();
    let mut served: HashMap<u64, Vec<LockedAt<'_>>> = HashMap::new();
    for ((key, sub), (path, mnt)) in keys {
        match snap.served_mount(mnt) {
            Some(m) => served.entry(m.mount_id).or_default().push((key, sub, path)),
            None => local.push((key, sub, path)),
        }
    }
    let mut out = WalkResult::default();
    let examiner = Examiner::new(snap);
    // A stat and an examination per locked file, each independent of the others:
    // the two halves on two threads (tens of thousands of locked files on a busy
    // host), joined in order.
    let (mine, theirs) = in_halves(&local, |files| {
        let examiner = Examiner::new(snap);
        let mut cands = system_candidates(snap, files);
        for c in &mut cands {
            examiner.examine_one(c, &LiveDisk);
        }
        cands
    });
    out.candidates = mine;
    // A panic there loses its half to the fds' view, not the scan.
    if let Ok(rest) = theirs {
        out.candidates.extend(rest);
    }
    let mut served: Vec<_> = served.into_iter().collect();
    served.sort_unstable_by_key(|(id, _)| *id);
    for (mount_id, files) in served {
        let Some(mount) = snap.mounts.get(&mount_id) else {
            continue;
        };
        let answer = snap.guarded(mount, "looking at a locked file", |_| {
            let mut candidates = system_candidates(snap, &files);
            let rec = Recording::new(&LiveDisk);
            for c in &mut candidates {
                examiner.examine_one(c, &rec);
            }
            Found {
                candidates,
                answers: rec.log.into_inner(),
                ..Default::default()
            }
            .encode()
        });
        let Some(Ok(mut found)) = answer.map(|b| Found::decode(&b)) else {
            continue;
        };
        replay(&examiner, &mut found.candidates, found.answers);
        out.candidates.extend(found.candidates);
    }
    out
}

/// `work` over both halves of `items`, in order: the first on this thread, the
/// second on another when the scan has two ([`crate::sys::worker_threads`]). The
/// second's result is `Err` when its thread panicked.
fn in_halves<'i, T: Sync, R: Send>(
    items: &'i [T],
    work: impl Fn(&'i [T]) -> R + Sync,
) -> (R, std::thread::Result<R>) {
    let (first, second) = items.split_at(items.len().div_ceil(2));
    if second.is_empty() || crate::sys::worker_threads() < 2 {
        return (work(first), Ok(work(second)));
    }
    std::thread::scope(|s| {
        let other = s.spawn(|| work(second));
        (work(first), other.join())
    })
}

/// A btrfs subvolume's `st_dev` (see `OpenFd::st_dev`).
type Subvol = (u32, u32);
/// A locked file: its lock-table key and, on btrfs, its subvolume.
type FileId = (FileKey, Option<Subvol>);
/// A locked file and the path a holder shows for it.
type LockedAt<'a> = (FileKey, Option<Subvol>, &'a Path);

/// The candidates for locked files at `files` (key, btrfs subvolume, path a holder
/// shows): each path must still name the locked inode, in that subvolume.
fn system_candidates(snap: &Snapshot, files: &[LockedAt<'_>]) -> Vec<Candidate> {
    let mut dirs: HashMap<&Path, Option<FileStat>> = HashMap::new();
    let mut out = Vec::new();
    for &(key, sub, path) in files {
        let Some(st) = stat_path(path, false) else {
            continue;
        };
        if key_for(snap, &st) != Some(key) || sub.is_some_and(|d| d != st.st_dev) {
            continue; // the path names something else now: reported from the fd instead
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir = dirs
            .entry(parent)
            .or_insert_with(|| stat_path(parent, true));
        let rule = path.file_name().and_then(names::classify);
        out.push(Candidate {
            path: path.to_path_buf(),
            name_kind: rule.map(|r| r.kind),
            stat: st,
            key: Some(key),
            symlink_target: None,
            explicit: false,
            dir_mode: dir.as_ref().and_then(|d| d.mode),
            dir_uid: dir.as_ref().and_then(|d| d.uid),
            exam: Exam::default(),
        });
    }
    out
}
