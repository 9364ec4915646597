//! The Windows walker.
//!
//! Directories are listed with `FindFirstFileW` (through `std::fs::read_dir`), which
//! reads names and attributes without opening the entries. Symlinks and junctions
//! are reparse points: they are never followed, so link loops cannot occur, and a
//! directory reached twice (the same volume serial and file index) is not entered
//! again. Only names that look like locks are opened, and then only for metadata
//! (desired access 0, every share mode), which conflicts with no other open.

use std::collections::HashSet;
use std::fs::FileType;
use std::path::{Path, PathBuf};

use super::{Candidate, FileStat, WalkOptions, WalkResult};
use crate::model::ErrorEntry;
use crate::scan::names::{self, NameKind};
use crate::sys::windows::fileid::{self, FileIdentity};
use crate::sys::{FileKey, FileType as Kind, Snapshot};

/// Recursion stops here whatever `--max-depth` says.
const HARD_DEPTH_LIMIT: usize = 2048;

fn file_stat(id: &FileIdentity, file_type: Kind) -> FileStat {
    FileStat {
        file_type,
        size: id.size,
        mode: None,
        uid: None,
        mtime: id.mtime,
        nlink: id.links,
        ino: id.file_index,
        mnt_id: None,
        st_dev: (id.volume_serial, 0),
    }
}

fn type_of(id: &FileIdentity) -> Kind {
    if id.is_reparse_point() {
        Kind::Symlink
    } else if id.is_dir() {
        Kind::Directory
    } else {
        Kind::Regular
    }
}

/// Metadata of a path (a final symlink is followed only when `follow`).
pub fn stat_path(path: &Path, follow: bool) -> Option<FileStat> {
    let id = fileid::identity(&fileid::open_meta_following(path, follow).ok()?).ok()?;
    Some(file_stat(&id, type_of(&id)))
}

/// The key of a file: volume serial number and file index (there is no lock
/// table to match on Windows; the handle table is keyed the same way).
pub fn key_for(_snap: &Snapshot, st: &FileStat) -> Option<FileKey> {
    Some(FileKey {
        major: st.st_dev.0,
        minor: st.st_dev.1,
        ino: st.ino,
    })
}

struct Walker<'a> {
    snap: &'a Snapshot,
    opts: &'a WalkOptions,
    visited: HashSet<(u32, u64)>,
    root_volume: Option<u32>,
    out: WalkResult,
}

fn type_name(ft: &FileType) -> Kind {
    if ft.is_symlink() {
        Kind::Symlink
    } else if ft.is_dir() {
        Kind::Directory
    } else if ft.is_file() {
        Kind::Regular
    } else {
        Kind::Unknown
    }
}

impl Walker<'_> {
    fn error(&mut self, path: &Path, error: String) {
        self.out.errors.push(ErrorEntry::new(path, error));
    }

    fn walk_dir(&mut self, path: &Path, depth: usize) {
        let rd = match std::fs::read_dir(path) {
            Ok(rd) => rd,
            Err(e) => {
                self.error(path, format!("cannot open directory: {e}"));
                return;
            }
        };
        let mut entries = Vec::new();
        for entry in rd {
            match entry {
                Ok(e) => entries.push(e),
                Err(e) => {
                    self.error(path, format!("reading directory: {e}"));
                    break;
                }
            }
        }
        self.out.entries += entries.len();
        for e in entries {
            let name = e.file_name();
            let child = e.path();
            let Ok(ft) = e.file_type() else {
                continue; // vanished
            };
            match type_name(&ft) {
                Kind::Directory => self.enter(&child, depth + 1),
                kind => {
                    let rule = names::classify(&name);
                    let Some(rule) = rule else { continue };
                    let id = match fileid::identity_of_path(&child) {
                        Ok(id) => id,
                        Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(err) => {
                            self.error(&child, err.to_string());
                            continue;
                        }
                    };
                    let symlink = kind == Kind::Symlink;
                    let symlink_target = if symlink {
                        std::fs::read_link(&child).ok().map(|t| t.into_os_string())
                    } else {
                        None
                    };
                    let stat = file_stat(&id, if symlink { Kind::Symlink } else { type_of(&id) });
                    self.out.candidates.push(Candidate {
                        path: child,
                        name_kind: Some(if symlink {
                            NameKind::SymlinkLock
                        } else {
                            rule.kind
                        }),
                        key: if symlink {
                            None
                        } else {
                            key_for(self.snap, &stat)
                        },
                        stat,
                        symlink_target,
                        explicit: false,
                        dir_mode: None,
                        dir_uid: None,
                        exam: Default::default(),
                    });
                }
            }
        }
    }

    fn enter(&mut self, path: &Path, depth: usize) {
        if depth > HARD_DEPTH_LIMIT || self.opts.max_depth.is_some_and(|m| depth > m) {
            return;
        }
        let id = match fileid::identity_of_path(path) {
            Ok(id) => id,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
            Err(e) => {
                self.error(path, format!("cannot open directory: {e}"));
                return;
            }
        };
        if id.is_reparse_point() {
            return; // a junction or directory symlink swapped in: never followed
        }
        if self.opts.one_file_system && self.root_volume.is_some_and(|v| v != id.volume_serial) {
            return;
        }
        if let Some(rule) = path.file_name().and_then(names::classify)
            && rule.kind == NameKind::HeartbeatDir
        {
            self.out.candidates.push(Candidate {
                path: path.to_path_buf(),
                name_kind: Some(NameKind::HeartbeatDir),
                stat: file_stat(&id, Kind::Directory),
                key: None,
                symlink_target: None,
                explicit: false,
                dir_mode: None,
                dir_uid: None,
                exam: Default::default(),
            });
        }
        self.descend(path, depth, &id);
    }

    fn descend(&mut self, path: &Path, depth: usize, id: &FileIdentity) {
        if !self.visited.insert((id.volume_serial, id.file_index)) {
            return;
        }
        self.walk_dir(path, depth);
    }
}

/// Walks `roots` (absolute paths) and returns the candidate files.
pub fn walk(snap: &Snapshot, roots: &[PathBuf], opts: &WalkOptions) -> WalkResult {
    let mut w = Walker {
        snap,
        opts,
        visited: HashSet::new(),
        root_volume: None,
        out: WalkResult::default(),
    };
    for root in roots {
        let id = match fileid::identity_of_path(root) {
            Ok(id) => id,
            Err(e) => {
                w.error(root, e.to_string());
                continue;
            }
        };
        if id.is_dir() && !id.is_reparse_point() {
            w.root_volume = Some(id.volume_serial);
            w.descend(root, 0, &id);
            continue;
        }
        let name = root.file_name().unwrap_or(root.as_os_str());
        let rule = names::classify(name);
        let symlink = id.is_reparse_point();
        let symlink_target = if symlink {
            std::fs::read_link(root).ok().map(|t| t.into_os_string())
        } else {
            None
        };
        let stat = file_stat(&id, type_of(&id));
        w.out.entries += 1;
        w.out.candidates.push(Candidate {
            path: root.clone(),
            name_kind: if symlink {
                Some(NameKind::SymlinkLock)
            } else {
                rule.map(|r| r.kind)
            },
            key: if symlink { None } else { key_for(snap, &stat) },
            stat,
            symlink_target,
            explicit: true,
            dir_mode: None,
            dir_uid: None,
            exam: Default::default(),
        });
    }
    // The examination, by path, once the walk is done (no directory handles are
    // kept on Windows, and no call there can be left waiting the way a unix call on
    // a dead FUSE or NFS mount can).
    use crate::scan::examine::{LiveDisk, examine};
    examine(snap, &mut w.out.candidates, &LiveDisk);
    w.out
}
