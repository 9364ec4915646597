//! The unix walker.
//!
//! Directories are walked through fds: each is opened relative to its parent's fd
//! with `O_NOFOLLOW`, listed with large `getdents64` reads, and every candidate in
//! it is examined right then, relative to that same fd, with no symlink followed
//! and its device and inode checked ([`DirDisk`]). So a directory swapped for a
//! symlink mid-scan is never followed, no full path is ever re-resolved (depth and
//! path length are unlimited), and the file read is the file that was found.
//!
//! Only a bounded number of directory fds stay open: an ancestor whose fd was
//! closed is reopened through `..` when the walk comes back to it, and must still
//! be the same directory.
//!
//! Two threads share the walk: a root is split into subtrees ([`TREE_WALKERS`],
//! [`SPLIT_JOBS`]), each walked whole by one thread with its own fds, and their
//! results joined in the subtrees' order; a crowded directory's files are examined
//! in two halves ([`FILE_BATCH`]). Only the main thread ever forks a helper.
//!
//! A mount served by something that may stop answering (NFS, SMB, FUSE) is walked
//! by a helper process (`Snapshot::guarded`): its answers are sent back, the
//! examination is repeated from them, and a mount whose helper goes silent is
//! reported as unresponsive and left alone. Before any directory is opened, its
//! mount is told by a `statx` with `AT_STATX_DONT_SYNC` (no server round trip), so
//! `-x` and pseudo filesystems are decided before anything is asked of them.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, RawDir, ResolveFlags, StatxFlags};
use rustix::io::Errno;

use super::{Candidate, FileStat, WalkOptions, WalkResult};
use crate::model::ErrorEntry;
use crate::scan::examine::{Answer, Disk, Examiner, Question, Recording, replay};
use crate::scan::names::{self, NameKind};
use crate::scan::wire::Found;
use crate::sys::{FileKey, FileType as Kind, Mount, Snapshot};

/// Filesystems whose contents are not files anyone locks; walking them is slow or
/// endless (/proc) and meaningless. Entered only when given as a root.
const PSEUDO_FS: &[&str] = &[
    "proc",
    "sysfs",
    "cgroup",
    "cgroup2",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "configfs",
    "fusectl",
    "devpts",
    "mqueue",
    "binfmt_misc",
    "autofs",
    "efivarfs",
    "selinuxfs",
    "hugetlbfs",
    "rpc_pipefs",
    "nsfs",
];

/// Directory fds the walk keeps open at once, all its threads together; deeper
/// ancestors are closed and reopened through `..` (the default RLIMIT_NOFILE is
/// 1024, and the scan's other fds must fit beside them).
const OPEN_DIR_BUDGET: usize = 128;

/// `getdents64` buffer: few syscalls per directory, like find(1).
const DIRENT_BUFFER: usize = 64 * 1024;

/// Threads walking a root's subtrees, at most (one on a single CPU). Listing and `statx` in one directory do not
/// wait on another's, so two walkers share a tree's cost on two cores (a
/// 100,000-file tree: the walk 74 -> 28 ms, the scan 1.46x -> 0.94x `find`), while
/// each subtree is still walked by one thread, depth first, through its own fds.
const TREE_WALKERS: usize = 2;

/// A root is split into at least this many subtrees before they are shared (its
/// subdirectories, or theirs when it has fewer), so that one large subtree does
/// not leave the other walker idle for the whole scan.
const SPLIT_JOBS: usize = 16;

/// Files of one directory to `statx` and examine together, on two threads when
/// there are this many (see [`Walker::files`]).
const FILE_BATCH: usize = 4096;

/// How many levels below a root are entered to find [`SPLIT_JOBS`] subtrees.
const SPLIT_LEVELS: usize = 3;

/// Directory fds each walker keeps open: the threads share [`OPEN_DIR_BUDGET`].
const WALKER_DIR_BUDGET: usize = OPEN_DIR_BUDGET / TREE_WALKERS;

// The directories entered while splitting are all on the stack at once, with
// their fds: fewer than a walker's budget, so none is closed before it is shared.
const _: () = assert!(SPLIT_JOBS < WALKER_DIR_BUDGET);

fn type_of(ft: FileType) -> Kind {
    match ft {
        FileType::RegularFile => Kind::Regular,
        FileType::Directory => Kind::Directory,
        FileType::Symlink => Kind::Symlink,
        FileType::Fifo => Kind::Fifo,
        FileType::Socket => Kind::Socket,
        FileType::CharacterDevice => Kind::CharDevice,
        FileType::BlockDevice => Kind::BlockDevice,
        FileType::Unknown => Kind::Unknown,
    }
}

fn errno_text(e: Errno) -> String {
    std::io::Error::from(e).to_string()
}

/// `statx` without a server round trip where the filesystem allows it
/// (`AT_STATX_DONT_SYNC`: NFS, FUSE and SMB answer from their caches) and without
/// triggering an automount.
fn statx_at(dirfd: impl AsFd, name: &OsStr, follow: bool) -> rustix::io::Result<FileStat> {
    let mut flags = AtFlags::NO_AUTOMOUNT | AtFlags::STATX_DONT_SYNC;
    if !follow {
        flags |= AtFlags::SYMLINK_NOFOLLOW;
    }
    if name.is_empty() {
        flags |= AtFlags::EMPTY_PATH;
    }
    let st = rustix::fs::statx(
        dirfd,
        name,
        flags,
        StatxFlags::BASIC_STATS | StatxFlags::MNT_ID,
    )?;
    let mnt_id = (st.stx_mask & StatxFlags::MNT_ID.bits() != 0).then_some(st.stx_mnt_id);
    Ok(FileStat {
        file_type: type_of(FileType::from_raw_mode(st.stx_mode as u32)),
        size: st.stx_size,
        mode: Some(st.stx_mode as u32 & 0o7777),
        uid: Some(st.stx_uid),
        mtime: st.stx_mtime.tv_sec,
        nlink: st.stx_nlink,
        ino: st.stx_ino,
        mnt_id,
        st_dev: (st.stx_dev_major, st.stx_dev_minor),
    })
}

/// `statx` of a path (following a final symlink only when `follow`).
pub fn stat_path(path: &Path, follow: bool) -> Option<FileStat> {
    statx_at(rustix::fs::CWD, path.as_os_str(), follow).ok()
}

/// Opens a directory for listing. O_NOATIME keeps the walk from touching the
/// directory's access time (the scan changes nothing); only the owner or
/// CAP_FOWNER may ask for it, so EPERM falls back to a plain open.
fn open_dir(parent: impl AsFd, name: &OsStr, extra: OFlags) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK | extra;
    match rustix::fs::openat(&parent, name, flags | OFlags::NOATIME, Mode::empty()) {
        Err(Errno::PERM) => rustix::fs::openat(&parent, name, flags, Mode::empty()),
        other => other,
    }
}

/// Opens a root directory (an absolute, canonical path) with no symlink followed
/// in any component, so a component swapped for a symlink after the root was
/// resolved cannot redirect the walk.
fn open_root_dir(path: &Path) -> rustix::io::Result<OwnedFd> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    let how = ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
    let open =
        |extra| rustix::fs::openat2(rustix::fs::CWD, path, flags | extra, Mode::empty(), how);
    match open(OFlags::NOATIME) {
        Err(Errno::PERM) => open(OFlags::empty()),
        Err(Errno::NOSYS) => {
            let opath = crate::lock::probe::open_path_no_symlinks(rustix::fs::CWD, path)?;
            open_dir(opath, OsStr::new("."), OFlags::empty())
        }
        other => other,
    }
}

/// The lock-table key of a file: the mount's superblock device (not `st_dev`, which
/// differs on btrfs and overlayfs) plus the inode.
pub fn key_for(snap: &Snapshot, st: &FileStat) -> Option<FileKey> {
    let (major, minor) = match st.mnt_id.and_then(|id| snap.mounts.get(&id)) {
        Some(m) => (m.major, m.minor),
        None if st.mnt_id.is_none() => st.st_dev, // kernel < 5.8: best effort
        None => return None,
    };
    Some(FileKey {
        major,
        minor,
        ino: st.ino,
    })
}

/// `dir/name` in a buffer of exactly its size (a scan may keep a million of them).
fn child_path(dir: &Path, name: &OsStr) -> PathBuf {
    let mut p = PathBuf::with_capacity(dir.as_os_str().len() + 1 + name.len());
    p.push(dir);
    p.push(name);
    p
}

fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.ino == b.ino
}

/// The examination's disk questions, asked relative to the directory fd the walk
/// holds: a name in that directory is opened with [`crate::lock::probe`]'s
/// no-symlink open and checked to be the file the walk saw. Anything elsewhere
/// (rare: a convention's lock on a file in another directory) is asked by path,
/// still without following symlinks.
pub struct DirDisk<'a> {
    pub dir: BorrowedFd<'a>,
    pub dir_path: &'a Path,
}

impl DirDisk<'_> {
    fn name_in_dir<'p>(&self, path: &'p Path) -> Option<&'p OsStr> {
        (path.parent() == Some(self.dir_path))
            .then(|| path.file_name())
            .flatten()
    }
}

impl Disk for DirDisk<'_> {
    fn read_head(&self, path: &Path, seen: &FileStat) -> Result<Vec<u8>, String> {
        match self.name_in_dir(path) {
            Some(name) => crate::scan::content::read_head_at(self.dir, Path::new(name), seen),
            None => crate::scan::content::read_head(path, seen),
        }
    }

    fn exists(&self, path: &Path) -> bool {
        match self.name_in_dir(path) {
            Some(name) => statx_at(self.dir, name, false).is_ok(),
            None => stat_path(path, false).is_some(),
        }
    }

    fn key_of(&self, snap: &Snapshot, path: &Path) -> Option<FileKey> {
        let st = match self.name_in_dir(path) {
            Some(name) => statx_at(self.dir, name, false).ok(),
            None => stat_path(path, false),
        };
        st.and_then(|st| key_for(snap, &st))
    }

    fn other_names(&self, path: &Path, seen: &FileStat) -> Vec<String> {
        let Some(own) = self.name_in_dir(path) else {
            return super::hard_links_in(
                path.parent().unwrap_or(Path::new("/")),
                OsStr::new(""),
                seen,
            );
        };
        let Ok(fd) = open_dir(self.dir, OsStr::new("."), OFlags::empty()) else {
            return Vec::new();
        };
        let mut buf = vec![MaybeUninit::<u8>::uninit(); DIRENT_BUFFER];
        let mut dir = RawDir::new(&fd, &mut buf);
        let mut out = Vec::new();
        while let Some(Ok(e)) = dir.next() {
            let name = OsStr::from_bytes(e.file_name().to_bytes());
            if e.ino() != seen.ino || name == own || name == "." || name == ".." {
                continue;
            }
            if statx_at(&fd, name, false).is_ok_and(|st| same_file(&st, seen)) {
                out.push(name.to_string_lossy().into_owned());
            }
        }
        out
    }
}

/// The candidate for the file `name` in the directory `disk`, by a `statx`: kept
/// when its name is a lock's (`kind`) or its inode is locked; `None` when it is
/// neither, or is gone.
fn file_candidate(
    snap: &Snapshot,
    locked_keys: &HashSet<FileKey>,
    disk: &DirDisk,
    dir_stat: &FileStat,
    name: &OsStr,
    kind: Option<NameKind>,
) -> Result<Option<Candidate>, ErrorEntry> {
    let st = match statx_at(disk.dir, name, false) {
        Ok(st) => st,
        Err(Errno::NOENT) => return Ok(None),
        Err(e) => return Err(ErrorEntry::new(&disk.dir_path.join(name), errno_text(e))),
    };
    let key = key_for(snap, &st);
    if kind.is_none() && !key.is_some_and(|k| locked_keys.contains(&k)) {
        return Ok(None);
    }
    Ok(Some(Candidate {
        path: child_path(disk.dir_path, name),
        name_kind: kind,
        stat: st,
        key,
        symlink_target: None,
        explicit: false,
        dir_mode: dir_stat.mode,
        dir_uid: dir_stat.uid,
        exam: Default::default(),
    }))
}

/// One directory on the walk's stack: its fd (closed when too deep; see
/// [`WALKER_DIR_BUDGET`]) and the subdirectories still to enter.
struct Frame {
    fd: Option<OwnedFd>,
    path: PathBuf,
    depth: usize,
    stat: FileStat,
    subdirs: Vec<OsString>,
    next: usize,
}

/// A subtree shared out to the walker threads: the directory `name` in `parent`.
struct Job {
    parent: Arc<OwnedFd>,
    parent_stat: FileStat,
    name: OsString,
    path: PathBuf,
    depth: usize,
}

/// A served mount a walker thread met, left to the main thread. Its directory is
/// kept by path and identity, not by fd, and reopened then (no symlink followed,
/// and it must still be the same directory): a host with hundreds of network or
/// FUSE mounts does not make the walk hold hundreds of fds meanwhile.
struct Deferred {
    parent_stat: FileStat,
    name: OsString,
    path: PathBuf,
    depth: usize,
}

/// What every walker of one scan reads (and, for `visited`, updates) in common.
struct Shared<'a> {
    snap: &'a Snapshot,
    opts: &'a WalkOptions,
    /// Inode numbers of every locked file, for the cheap pre-filter on `d_ino`.
    locked_inos: HashSet<u64>,
    locked_keys: HashSet<FileKey>,
    /// Directories entered, by `st_dev` (per subvolume on btrfs) and inode: shared,
    /// so a directory reached twice (a bind mount) is walked once whichever thread
    /// reaches it.
    visited: Mutex<HashSet<(u32, u32, u64)>>,
}

struct Walker<'a> {
    snap: &'a Snapshot,
    opts: &'a WalkOptions,
    locked_inos: &'a HashSet<u64>,
    locked_keys: &'a HashSet<FileKey>,
    visited: &'a Mutex<HashSet<(u32, u32, u64)>>,
    examiner: Examiner<'a>,
    out: WalkResult,
    stack: Vec<Frame>,
    /// Frames below this index have had their fd closed.
    closed_below: usize,
    buf: Vec<MaybeUninit<u8>>,
    /// Inside a helper process: walk served mounts directly, and keep every answer
    /// the examination gets, to send back.
    in_helper: bool,
    recorded: Vec<(Question, PathBuf, Answer)>,
    /// On a walker thread: served mounts met, left to the main thread, which walks
    /// them through a helper process once the threads are done (a process forked
    /// while another thread holds a lock would inherit it held forever).
    deferred: Option<Vec<Deferred>>,
}

impl<'a> Walker<'a> {
    fn new(shared: &'a Shared<'a>) -> Self {
        Walker {
            snap: shared.snap,
            opts: shared.opts,
            locked_inos: &shared.locked_inos,
            locked_keys: &shared.locked_keys,
            visited: &shared.visited,
            examiner: Examiner::new(shared.snap),
            out: WalkResult::default(),
            stack: Vec::new(),
            closed_below: 0,
            buf: Vec::new(),
            in_helper: false,
            recorded: Vec::new(),
            deferred: None,
        }
    }

    fn fstype(&self, mnt_id: Option<u64>) -> Option<&str> {
        mnt_id
            .and_then(|id| self.snap.mounts.get(&id))
            .map(|m| m.fstype.as_str())
    }

    fn error(&mut self, path: &Path, error: String) {
        self.out.errors.push(ErrorEntry::new(path, error));
    }

    /// Examines a candidate with `disk` and keeps it.
    fn found(&mut self, mut cand: Candidate, disk: &dyn Disk) {
        if self.in_helper {
            let rec = Recording::new(disk);
            self.examiner.examine_one(&mut cand, &rec);
            self.recorded.extend(rec.log.into_inner());
        } else {
            self.examiner.examine_one(&mut cand, disk);
        }
        self.out.candidates.push(cand);
    }

    /// Lists the directory `fd` (at `path`), examining the candidates in it, and
    /// returns the names of its subdirectories.
    fn list(&mut self, fd: &OwnedFd, path: &Path, dir_stat: &FileStat) -> Vec<OsString> {
        let fstype = self.fstype(dir_stat.mnt_id).unwrap_or("").to_string();
        // overlayfs may return a d_ino that is not the st_ino: stat every name there.
        let stat_all = fstype == "overlay";
        self.examiner.next_directory();
        let mut subdirs = Vec::new();
        let mut batch = Vec::new();
        let mut buf = std::mem::take(&mut self.buf);
        if buf.is_empty() {
            buf = vec![MaybeUninit::uninit(); DIRENT_BUFFER];
        }
        let mut dir = RawDir::new(fd, &mut buf);
        let disk = DirDisk {
            dir: fd.as_fd(),
            dir_path: path,
        };
        while let Some(entry) = dir.next() {
            let e = match entry {
                Ok(e) => e,
                Err(e) => {
                    self.error(path, format!("reading directory: {}", errno_text(e)));
                    break;
                }
            };
            let name = OsStr::from_bytes(e.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            self.out.entries += 1;
            let mut kind = type_of(e.file_type());
            let d_ino = e.ino();
            if kind == Kind::Unknown {
                // The filesystem does not fill d_type: ask.
                match statx_at(fd, name, false) {
                    Ok(st) => kind = st.file_type,
                    Err(_) => continue, // vanished
                }
            }
            match kind {
                Kind::Directory => subdirs.push(name.to_os_string()),
                Kind::Symlink => self.symlink(fd, name, path, dir_stat, &disk),
                _ => {
                    let rule = names::classify(name);
                    if rule.is_none() && !stat_all && !self.locked_inos.contains(&d_ino) {
                        continue;
                    }
                    batch.push((name.to_os_string(), rule.map(|r| r.kind)));
                    if batch.len() == FILE_BATCH {
                        self.files(&disk, dir_stat, &mut batch);
                    }
                }
            }
        }
        self.files(&disk, dir_stat, &mut batch);
        self.buf = buf;
        subdirs
    }

    /// `statx`es the files of `batch` (in the directory `disk`), keeps those that
    /// matter and examines them: a full batch on two threads, a half each (a flood
    /// of lockfiles in one directory is a `statx` and an examination per file), and
    /// what they find added in name order. Inside a helper process, where every
    /// answer is recorded, on this thread alone.
    fn files(
        &mut self,
        disk: &DirDisk,
        dir_stat: &FileStat,
        batch: &mut Vec<(OsString, Option<NameKind>)>,
    ) {
        let names = std::mem::take(batch);
        let (snap, locked_keys) = (self.snap, self.locked_keys);
        if self.in_helper || names.len() < FILE_BATCH {
            for (name, kind) in &names {
                match file_candidate(snap, locked_keys, disk, dir_stat, name, *kind) {
                    Ok(Some(cand)) => self.found(cand, disk),
                    Ok(None) => {}
                    Err(e) => self.out.errors.push(e),
                }
            }
            return;
        }
        let (mine, theirs) = super::in_halves(&names, |part| {
            let examiner = Examiner::new(snap);
            let mut out = Vec::new();
            let mut errors = Vec::new();
            for (name, kind) in part {
                match file_candidate(snap, locked_keys, disk, dir_stat, name, *kind) {
                    Ok(Some(mut cand)) => {
                        examiner.examine_one(&mut cand, disk);
                        out.push(cand);
                    }
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            }
            (out, errors)
        });
        self.out.candidates.extend(mine.0);
        self.out.errors.extend(mine.1);
        match theirs {
            Ok((cands, errors)) => {
                self.out.candidates.extend(cands);
                self.out.errors.extend(errors);
            }
            // Said, not lost: the rest of the scan goes on.
            Err(_) => self.error(
                disk.dir_path,
                format!(
                    "{} files in it not examined: the thread examining them failed",
                    names.len() / 2
                ),
            ),
        }
    }

    /// A symlink is read only when its name is a lock's (Firefox `lock`, Emacs
    /// `.#file`, Chromium `SingletonLock`): `readlink` updates a symlink's access
    /// time, and the scan changes nothing it need not.
    fn symlink(
        &mut self,
        dirfd: &OwnedFd,
        name: &OsStr,
        dir: &Path,
        dir_stat: &FileStat,
        disk: &DirDisk,
    ) {
        if names::classify(name).is_none() {
            return;
        }
        let Ok(target) = rustix::fs::readlinkat(dirfd, name, Vec::new()) else {
            return;
        };
        let Ok(st) = statx_at(dirfd, name, false) else {
            return;
        };
        let cand = Candidate {
            path: dir.join(name),
            name_kind: Some(NameKind::SymlinkLock),
            key: None, // a symlink itself cannot carry a kernel lock
            stat: st,
            symlink_target: Some(OsString::from_vec(target.into_bytes())),
            explicit: false,
            dir_mode: dir_stat.mode,
            dir_uid: dir_stat.uid,
            exam: Default::default(),
        };
        self.found(cand, disk);
    }

    /// Enters the subdirectory `name` of `parent` (at `path`): decides from a
    /// cache-only `statx` whether to (another mount with `-x`, a pseudo
    /// filesystem, a served mount: through a helper), then opens, lists and
    /// pushes it.
    fn enter(
        &mut self,
        parent: &OwnedFd,
        parent_stat: &FileStat,
        name: &OsStr,
        path: PathBuf,
        depth: usize,
    ) {
        if self.opts.max_depth.is_some_and(|m| depth > m) {
            return;
        }
        let pre = match statx_at(parent, name, false) {
            Ok(st) if st.file_type == Kind::Directory => st,
            Ok(_) | Err(Errno::NOENT) => return, // replaced or gone meanwhile
            Err(e) => {
                self.error(&path, errno_text(e));
                return;
            }
        };
        if pre.mnt_id != parent_stat.mnt_id {
            if self.opts.one_file_system && pre.mnt_id.is_some() {
                return;
            }
            if let Some(fstype) = self.fstype(pre.mnt_id)
                && PSEUDO_FS.contains(&fstype)
            {
                return;
            }
            if !self.in_helper
                && let Some(m) = self.snap.served_mount(pre.mnt_id)
            {
                if let Some(deferred) = &mut self.deferred {
                    deferred.push(Deferred {
                        parent_stat: parent_stat.clone(),
                        name: name.to_os_string(),
                        path,
                        depth,
                    });
                    return;
                }
                let m = m.clone();
                self.through_helper(&m, &path, |w| {
                    w.enter(parent, parent_stat, name, path.clone(), depth)
                });
                return;
            }
        }
        let fd = match open_dir(parent, name, OFlags::NOFOLLOW) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return,
            Err(e) => {
                self.error(&path, format!("cannot open directory: {}", errno_text(e)));
                return;
            }
        };
        let Ok(st) = statx_at(&fd, OsStr::new(""), false) else {
            return;
        };
        if st.mnt_id != pre.mnt_id {
            self.error(
                &path,
                "replaced by another mount while being walked: not walked".into(),
            );
            return;
        }
        // Directory locks (npx, yarn): the directory itself is the lock.
        if let Some(rule) = names::classify(name)
            && rule.kind == NameKind::HeartbeatDir
        {
            let cand = Candidate {
                path: path.clone(),
                name_kind: Some(NameKind::HeartbeatDir),
                stat: st.clone(),
                key: None,
                symlink_target: None,
                explicit: false,
                dir_mode: parent_stat.mode,
                dir_uid: parent_stat.uid,
                exam: Default::default(),
            };
            let parent_path = path.parent().unwrap_or(Path::new("/")).to_path_buf();
            let disk = DirDisk {
                dir: parent.as_fd(),
                dir_path: &parent_path,
            };
            self.found(cand, &disk);
        }
        self.push(fd, path, depth, st);
    }

    /// Lists a directory and puts it on the stack (unless it was walked already:
    /// a bind mount of an ancestor, or a root given twice).
    fn push(&mut self, fd: OwnedFd, path: PathBuf, depth: usize, st: FileStat) {
        // `st_dev`, not the lock-table device: every btrfs subvolume and snapshot root
        // is inode 256 on one superblock, and only `st_dev` tells them apart. A bind
        // mount shows its source's `st_dev`, so a bind-mount cycle still meets itself.
        let first = self
            .visited
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert((st.st_dev.0, st.st_dev.1, st.ino));
        if !first {
            return;
        }
        let subdirs = self.list(&fd, &path, &st);
        if subdirs.is_empty() {
            return;
        }
        self.stack.push(Frame {
            fd: Some(fd),
            path,
            depth,
            stat: st,
            subdirs,
            next: 0,
        });
        if self.stack.len() - self.closed_below > WALKER_DIR_BUDGET {
            self.stack[self.closed_below].fd = None;
            self.closed_below += 1;
        }
    }

    /// Walks until the stack is back to `base` frames.
    fn run(&mut self, base: usize, tick: &mut dyn FnMut()) {
        while self.stack.len() > base {
            let top = self.stack.len() - 1;
            let frame = &mut self.stack[top];
            if frame.next < frame.subdirs.len() {
                let name = std::mem::take(&mut frame.subdirs[frame.next]);
                frame.next += 1;
                let path = frame.path.join(&name);
                let depth = frame.depth + 1;
                let stat = frame.stat.clone();
                let Some(fd) = frame.fd.take() else {
                    self.stack.pop();
                    continue;
                };
                self.enter(&fd, &stat, &name, path, depth);
                self.stack[top].fd = Some(fd);
                tick();
                continue;
            }
            let done = self.stack.pop().expect("a frame");
            self.back_to_parent(done);
        }
    }

    /// Enters a job's directory (see [`Walker::enter`]).
    fn enter_job(&mut self, job: &Job) {
        self.enter(
            &job.parent,
            &job.parent_stat,
            &job.name,
            job.path.clone(),
            job.depth,
        );
    }

    /// Turns the directories on the stack (a root just listed) into jobs, one per
    /// subdirectory, entering a level deeper while there are fewer than
    /// [`SPLIT_JOBS`]: what is entered on the way is listed and examined here.
    fn split(&mut self) -> Vec<Job> {
        let mut jobs = Vec::new();
        for level in 0..=SPLIT_LEVELS {
            self.closed_below = 0;
            for frame in std::mem::take(&mut self.stack) {
                let Some(fd) = frame.fd else {
                    // Cannot happen (fewer frames than the fd budget), but is not lost
                    // in silence if it does.
                    self.error(
                        &frame.path,
                        "its directory fd was closed: not walked".into(),
                    );
                    continue;
                };
                let parent = Arc::new(fd);
                for name in frame.subdirs.into_iter().skip(frame.next) {
                    jobs.push(Job {
                        parent: Arc::clone(&parent),
                        parent_stat: frame.stat.clone(),
                        path: child_path(&frame.path, &name),
                        name,
                        depth: frame.depth + 1,
                    });
                }
            }
            if jobs.len() >= SPLIT_JOBS || level == SPLIT_LEVELS {
                break;
            }
            for job in std::mem::take(&mut jobs) {
                self.enter_job(&job);
            }
        }
        jobs
    }

    /// Walks `jobs` on [`TREE_WALKERS`] threads, each taking the next job in turn
    /// with a walker of its own; what they find is added in the jobs' order, so the
    /// report does not depend on which thread walked what. Served mounts they met
    /// are walked afterwards from here, through a helper process each.
    fn walk_jobs(&mut self, shared: &Shared<'_>, jobs: Vec<Job>) {
        if jobs.len() < 2 {
            for job in jobs {
                self.enter_job(&job);
                self.run(0, &mut || {});
            }
            return;
        }
        type Done = (WalkResult, Vec<Deferred>);
        let results: Vec<Mutex<Option<Done>>> = jobs.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let work = || {
            let mut w = Walker::new(shared);
            w.deferred = Some(Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else {
                    break;
                };
                w.enter_job(job);
                w.run(0, &mut || {});
                let deferred = w.deferred.replace(Vec::new()).unwrap_or_default();
                let done = (std::mem::take(&mut w.out), deferred);
                *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(done);
            }
        };
        let walkers = crate::sys::worker_threads().min(TREE_WALKERS);
        std::thread::scope(|s| {
            let others: Vec<_> = (1..walkers).map(|_| s.spawn(work)).collect();
            work();
            for h in others {
                // A walker that panicked leaves its jobs' slots empty: said below.
                let _ = h.join();
            }
        });
        for (job, slot) in jobs.iter().zip(results) {
            let Some((found, deferred)) = slot.into_inner().unwrap_or_else(|p| p.into_inner())
            else {
                self.error(&job.path, "not walked: the thread walking it failed".into());
                continue;
            };
            self.out.entries += found.entries;
            self.out.candidates.extend(found.candidates);
            self.out.errors.extend(found.errors);
            for d in deferred {
                self.walk_deferred(d);
            }
        }
    }

    /// Walks a served mount a walker thread left (see [`Deferred`]), from its
    /// directory reopened by path.
    fn walk_deferred(&mut self, d: Deferred) {
        let parent_path = d.path.parent().unwrap_or(Path::new("/"));
        let parent = match open_root_dir(parent_path) {
            Ok(fd) => fd,
            Err(e) => {
                self.error(
                    &d.path,
                    format!(
                        "not walked: its directory could not be opened again: {}",
                        errno_text(e)
                    ),
                );
                return;
            }
        };
        if !statx_at(&parent, OsStr::new(""), false).is_ok_and(|st| same_file(&st, &d.parent_stat))
        {
            self.error(&d.path, "moved while being walked: not walked".into());
            return;
        }
        let base = self.stack.len();
        self.enter(&parent, &d.parent_stat, &d.name, d.path, d.depth);
        self.run(base, &mut || {});
    }

    /// After a directory is done: reopen its parent through `..` when the parent's
    /// fd was closed, and make sure it is still the same directory.
    fn back_to_parent(&mut self, done: Frame) {
        let Some(parent) = self.stack.last() else {
            return;
        };
        if parent.fd.is_some() {
            return;
        }
        let reopened = done
            .fd
            .as_ref()
            .and_then(|fd| open_dir(fd, OsStr::new(".."), OFlags::NOFOLLOW).ok())
            .filter(|fd| {
                statx_at(fd, OsStr::new(""), false).is_ok_and(|st| same_file(&st, &parent.stat))
            });
        match reopened {
            Some(fd) => {
                let i = self.stack.len() - 1;
                self.stack[i].fd = Some(fd);
                self.closed_below = self.closed_below.min(i);
            }
            None => {
                // Moved while we were below it: what is left of it and of its closed
                // ancestors can no longer be reached safely.
                let path = parent.path.clone();
                self.error(
                    &path,
                    "moved while being walked: the rest of it was not walked".into(),
                );
                while self.stack.last().is_some_and(|f| f.fd.is_none()) {
                    self.stack.pop();
                }
                self.closed_below = self.closed_below.min(self.stack.len());
            }
        }
    }

    /// Runs `walk` in a helper process (`Snapshot::guarded`) for the served mount
    /// `m`, then takes over what it found: candidates, errors, and the examination
    /// repeated from the answers the helper got.
    fn through_helper(&mut self, m: &Mount, path: &Path, walk: impl FnOnce(&mut Self)) {
        let snap = self.snap;
        let answer = snap.guarded(m, "walking", |progress| {
            self.in_helper = true;
            self.out = WalkResult::default();
            self.recorded.clear();
            let base = self.stack.len();
            walk(self);
            self.run(base, &mut || progress.tick());
            Found {
                entries: self.out.entries,
                candidates: std::mem::take(&mut self.out.candidates),
                errors: std::mem::take(&mut self.out.errors),
                answers: std::mem::take(&mut self.recorded),
            }
            .encode()
        });
        let Some(bytes) = answer else {
            if !snap.is_unresponsive(m.mount_id) {
                self.error(
                    path,
                    "could not be walked: the helper process failed".into(),
                );
            }
            return;
        };
        match Found::decode(&bytes) {
            Ok(mut found) => {
                replay(&self.examiner, &mut found.candidates, found.answers);
                self.out.entries += found.entries;
                self.out.candidates.extend(found.candidates);
                self.out.errors.extend(found.errors);
            }
            Err(_) => self.error(
                path,
                "could not be walked: the helper's answer was cut short".into(),
            ),
        }
    }

    /// One root: a directory is listed and put on the stack (the caller runs it),
    /// anything else is examined as given.
    fn root(&mut self, root: &Path) {
        let root_os = root.as_os_str();
        let lst = match statx_at(rustix::fs::CWD, root_os, false) {
            Ok(st) => st,
            Err(e) => {
                self.error(root, errno_text(e));
                return;
            }
        };
        if lst.file_type == Kind::Directory {
            let fd = match open_root_dir(root) {
                Ok(fd) => fd,
                Err(e) => {
                    self.error(root, format!("cannot open directory: {}", errno_text(e)));
                    return;
                }
            };
            let Ok(st) = statx_at(&fd, OsStr::new(""), false) else {
                return;
            };
            self.push(fd, root.to_path_buf(), 0, st);
            return;
        }
        let parent = root.parent().unwrap_or(Path::new("/"));
        let name = root.file_name().unwrap_or(root_os);
        let dirfd = match open_root_dir(parent) {
            Ok(fd) => fd,
            Err(e) => {
                self.error(
                    root,
                    format!("cannot open its directory: {}", errno_text(e)),
                );
                return;
            }
        };
        let Ok(lst) = statx_at(&dirfd, name, false) else {
            self.error(root, "vanished while being looked at".into());
            return;
        };
        let dir = statx_at(&dirfd, OsStr::new(""), false).ok();
        let rule = names::classify(name);
        let symlink_target = if lst.file_type == Kind::Symlink {
            rustix::fs::readlinkat(&dirfd, name, Vec::new())
                .ok()
                .map(|t| OsString::from_vec(t.into_bytes()))
        } else {
            None
        };
        let name_kind = if symlink_target.is_some() {
            Some(NameKind::SymlinkLock)
        } else {
            rule.map(|r| r.kind)
        };
        let key = if symlink_target.is_some() {
            None
        } else {
            key_for(self.snap, &lst)
        };
        self.out.entries += 1;
        let cand = Candidate {
            path: root.to_path_buf(),
            name_kind,
            stat: lst,
            key,
            symlink_target,
            explicit: true,
            dir_mode: dir.as_ref().and_then(|d| d.mode),
            dir_uid: dir.as_ref().and_then(|d| d.uid),
            exam: Default::default(),
        };
        let disk = DirDisk {
            dir: dirfd.as_fd(),
            dir_path: parent,
        };
        self.examiner.next_directory();
        self.found(cand, &disk);
    }
}

/// Walks `roots` (absolute, symlink-free paths), examining what it finds.
pub fn walk(snap: &Snapshot, roots: &[PathBuf], opts: &WalkOptions) -> WalkResult {
    let locked_keys: HashSet<FileKey> = snap.locks.lines.iter().filter_map(|l| l.key).collect();
    let shared = Shared {
        snap,
        opts,
        locked_inos: locked_keys.iter().map(|k| k.ino).collect(),
        locked_keys,
        visited: Mutex::new(HashSet::new()),
    };
    let mut w = Walker::new(&shared);
    for root in roots {
        match snap.mount_of_path(root).filter(|m| m.served()) {
            Some(m) => {
                let m = m.clone();
                w.through_helper(&m, root, |w| w.root(root));
            }
            None => {
                w.root(root);
                let jobs = w.split();
                w.walk_jobs(&shared, jobs);
            }
        }
    }
    w.out
}
