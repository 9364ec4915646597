//! The unix walker.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, StatxFlags};
use rustix::io::Errno;

use super::{Candidate, FileStat, WalkOptions, WalkResult};
use crate::model::ErrorEntry;
use crate::scan::names::{self, NameKind};
use crate::sys::{FileKey, FileType as Kind, Snapshot};

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

/// Recursion stops here whatever `--max-depth` says (a path can't be deeper anyway).
const HARD_DEPTH_LIMIT: usize = 2048;

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

struct Walker<'a> {
    snap: &'a Snapshot,
    opts: &'a WalkOptions,
    /// Inode numbers of every locked file, for the cheap pre-filter on `d_ino`.
    locked_inos: HashSet<u64>,
    locked_keys: HashSet<FileKey>,
    visited: HashSet<(u32, u32, u64)>,
    root_mnt: Option<u64>,
    /// Mode and owner of the directory being listed (for candidates found in it).
    cur_dir: Option<(Option<u32>, Option<u32>)>,
    out: WalkResult,
}

fn statx_at(dirfd: impl AsFd, name: &OsStr, follow: bool) -> rustix::io::Result<FileStat> {
    let mut flags = AtFlags::NO_AUTOMOUNT;
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

impl<'a> Walker<'a> {
    fn fstype(&self, mnt_id: Option<u64>) -> Option<&str> {
        mnt_id
            .and_then(|id| self.snap.mounts.get(&id))
            .map(|m| m.fstype.as_str())
    }

    fn error(&mut self, path: &Path, error: String) {
        self.out.errors.push(ErrorEntry::new(path, error));
    }

    fn walk_dir(&mut self, dirfd: OwnedFd, path: &Path, depth: usize, dir_stat: &FileStat) {
        let fstype = self.fstype(dir_stat.mnt_id).unwrap_or("").to_string();
        // overlayfs may return a d_ino that is not the st_ino: stat every name there.
        let stat_all = fstype == "overlay";
        let mut entries: Vec<(OsString, FileType, u64)> = Vec::new();
        match Dir::read_from(&dirfd) {
            Ok(mut dir) => {
                while let Some(entry) = dir.read() {
                    match entry {
                        Ok(e) => {
                            let name = e.file_name().to_bytes();
                            if name == b"." || name == b".." {
                                continue;
                            }
                            entries.push((
                                OsString::from_vec(name.to_vec()),
                                e.file_type(),
                                e.ino(),
                            ));
                        }
                        Err(e) => {
                            self.error(path, format!("reading directory: {}", errno_text(e)));
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                self.error(path, format!("reading directory: {}", errno_text(e)));
                return;
            }
        }
        self.out.entries += entries.len();
        for (name, ft, d_ino) in entries {
            let child = path.join(&name);
            let mut kind = type_of(ft);
            if ft == FileType::Unknown {
                // The filesystem does not fill d_type: ask.
                match statx_at(&dirfd, &name, false) {
                    Ok(st) => kind = st.file_type,
                    Err(_) => continue, // vanished
                }
            }
            match kind {
                Kind::Directory => {
                    self.cur_dir = Some((dir_stat.mode, dir_stat.uid));
                    self.enter(&dirfd, &name, &child, depth + 1)
                }
                Kind::Symlink => self.symlink(&dirfd, &name, child, dir_stat),
                _ => {
                    let rule = names::classify(&name);
                    if rule.is_none() && !stat_all && !self.locked_inos.contains(&d_ino) {
                        continue;
                    }
                    let st = match statx_at(&dirfd, &name, false) {
                        Ok(st) => st,
                        Err(Errno::NOENT) => continue,
                        Err(e) => {
                            self.error(&child, errno_text(e));
                            continue;
                        }
                    };
                    let key = key_for(self.snap, &st);
                    if rule.is_none() && !key.is_some_and(|k| self.locked_keys.contains(&k)) {
                        continue;
                    }
                    self.out.candidates.push(Candidate {
                        path: child,
                        name_kind: rule.map(|r| r.kind),
                        stat: st,
                        key,
                        symlink_target: None,
                        explicit: false,
                        dir_mode: dir_stat.mode,
                        dir_uid: dir_stat.uid,
                    });
                }
            }
        }
    }

    fn symlink(&mut self, dirfd: &OwnedFd, name: &OsStr, child: PathBuf, dir_stat: &FileStat) {
        let rule = names::classify(name);
        let Ok(target) = rustix::fs::readlinkat(dirfd, name, Vec::new()) else {
            return;
        };
        let target = target.into_bytes();
        if rule.is_none() && !names::symlink_target_is_lock_data(&target) {
            return;
        }
        let Ok(st) = statx_at(dirfd, name, false) else {
            return;
        };
        self.out.candidates.push(Candidate {
            path: child,
            name_kind: Some(NameKind::SymlinkLock),
            key: None, // a symlink itself cannot carry a kernel lock
            stat: st,
            symlink_target: Some(OsString::from_vec(target)),
            explicit: false,
            dir_mode: dir_stat.mode,
            dir_uid: dir_stat.uid,
        });
    }

    fn enter(&mut self, parent: &OwnedFd, name: &OsStr, path: &Path, depth: usize) {
        if depth > HARD_DEPTH_LIMIT || self.opts.max_depth.is_some_and(|m| depth > m) {
            return;
        }
        let fd = match open_dir(parent, name, OFlags::NOFOLLOW) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return,
            Err(e) => {
                self.error(path, format!("cannot open directory: {}", errno_text(e)));
                return;
            }
        };
        let Ok(st) = statx_at(&fd, OsStr::new(""), false) else {
            return;
        };
        if self.opts.one_file_system && st.mnt_id.is_some() && st.mnt_id != self.root_mnt {
            return;
        }
        if let Some(fstype) = self.fstype(st.mnt_id)
            && PSEUDO_FS.contains(&fstype)
        {
            return;
        }
        // Directory locks (npx, yarn): the directory itself is the lock.
        if let Some(rule) = names::classify(name)
            && rule.kind == NameKind::HeartbeatDir
        {
            let (dir_mode, dir_uid) = (
                self.cur_dir.and_then(|d| d.0),
                self.cur_dir.and_then(|d| d.1),
            );
            self.out.candidates.push(Candidate {
                path: path.to_path_buf(),
                name_kind: Some(NameKind::HeartbeatDir),
                stat: st.clone(),
                key: None,
                symlink_target: None,
                explicit: false,
                dir_mode,
                dir_uid,
            });
        }
        self.descend(fd, path, depth, &st);
    }

    fn descend(&mut self, fd: OwnedFd, path: &Path, depth: usize, st: &FileStat) {
        let dev = key_for(self.snap, st)
            .map(|k| (k.major, k.minor))
            .unwrap_or(st.st_dev);
        if !self.visited.insert((dev.0, dev.1, st.ino)) {
            // The same directory again: a bind mount of an ancestor (a cycle) or twice given.
            return;
        }
        self.walk_dir(fd, path, depth, st);
    }
}

/// Walks `roots` (absolute, symlink-free paths) and returns the candidate files.
pub fn walk(snap: &Snapshot, roots: &[PathBuf], opts: &WalkOptions) -> WalkResult {
    let locked_keys: HashSet<FileKey> = snap.locks.lines.iter().filter_map(|l| l.key).collect();
    let mut w = Walker {
        snap,
        opts,
        locked_inos: locked_keys.iter().map(|k| k.ino).collect(),
        locked_keys,
        visited: HashSet::new(),
        root_mnt: None,
        cur_dir: None,
        out: WalkResult::default(),
    };
    for root in roots {
        let root_os = root.as_os_str();
        // The root itself: a symlink given explicitly is examined as the link.
        let lst = match statx_at(rustix::fs::CWD, root_os, false) {
            Ok(st) => st,
            Err(e) => {
                w.error(root, errno_text(e));
                continue;
            }
        };
        if lst.file_type == Kind::Directory {
            let fd = match open_dir(rustix::fs::CWD, root_os, OFlags::empty()) {
                Ok(fd) => fd,
                Err(e) => {
                    w.error(root, format!("cannot open directory: {}", errno_text(e)));
                    continue;
                }
            };
            w.root_mnt = lst.mnt_id;
            w.descend(fd, root, 0, &lst);
            continue;
        }
        let name = root.file_name().unwrap_or(root_os);
        let rule = names::classify(name);
        let symlink_target = if lst.file_type == Kind::Symlink {
            rustix::fs::readlinkat(rustix::fs::CWD, root_os, Vec::new())
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
            key_for(snap, &lst)
        };
        let parent = root.parent().unwrap_or(Path::new("/"));
        let dir = statx_at(rustix::fs::CWD, parent.as_os_str(), true).ok();
        w.out.entries += 1;
        w.out.candidates.push(Candidate {
            path: root.clone(),
            name_kind,
            stat: lst,
            key,
            symlink_target,
            explicit: true,
            dir_mode: dir.as_ref().and_then(|d| d.mode),
            dir_uid: dir.as_ref().and_then(|d| d.uid),
        });
    }
    w.out
}
