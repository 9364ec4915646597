//! The scan: snapshot → walk → examine → probe → correlate, giving the report's
//! facts and verdicts (the diagnosis, a layer above, adds findings and advice).
//!
//! [`collect`] does the I/O of each stage in order; [`assemble`] is the pure rest
//! (correlation), so a described system gives the same report as a live one.

pub mod catalog;
pub mod content;
pub mod correlate;
pub mod examine;
pub mod names;
pub mod probe;
pub mod walk;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::model::*;
use crate::sys::{self, FileKey, GatherOptions, Snapshot};
pub use probe::ProbeMode;
use walk::{WalkOptions, WalkResult};

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Paths as given; empty for the whole system.
    pub roots: Vec<PathBuf>,
    pub walk: WalkOptions,
    pub probe: ProbeMode,
    /// `--max-age`: report holders older than this many seconds (`held-long`).
    pub max_age: Option<u64>,
    /// `--mount-timeout`: how long a filesystem server may leave a call unanswered
    /// before its mount is reported unresponsive and left alone.
    pub mount_timeout: Option<std::time::Duration>,
    /// `--ignore-pid`: processes the operator vouches for: when they cannot be
    /// inspected, that does not make the evidence partial.
    pub ignore_pids: Vec<i32>,
}

/// Why a scan could not run at all.
#[derive(Debug)]
pub enum ScanError {
    NoSuchPath(PathBuf, std::io::Error),
}

impl std::fmt::Display for ScanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScanError::NoSuchPath(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

impl std::error::Error for ScanError {}

/// Resolves a root to an absolute path without symlinks, except that a final
/// component that is a symlink to a non-directory stays (a symlink lock is examined
/// as the link itself, never followed).
fn resolve_root(root: &Path) -> Result<PathBuf, ScanError> {
    let err = |e| ScanError::NoSuchPath(root.to_path_buf(), e);
    let meta = std::fs::symlink_metadata(root).map_err(err)?;
    #[cfg(windows)]
    let canonicalize = |p: &Path| {
        std::fs::canonicalize(p).map(|c| {
            PathBuf::from(crate::sys::windows::fileid::simplify_verbatim(
                &c.to_string_lossy(),
            ))
        })
    };
    #[cfg(not(windows))]
    let canonicalize = std::fs::canonicalize::<&Path>;
    let follows_to_dir =
        meta.file_type().is_symlink() && std::fs::metadata(root).is_ok_and(|m| m.is_dir());
    if !meta.file_type().is_symlink() || follows_to_dir {
        return canonicalize(root).map_err(err);
    }
    let parent = match root.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = root.file_name().unwrap_or(OsStr::new(""));
    Ok(canonicalize(parent).map_err(err)?.join(name))
}

/// Resolves every root ([`resolve_root`]). Where this host has a served mount
/// (NFS, SMB, FUSE), a path may lead onto it (a symlink is enough), and resolving
/// asks its server: that is done in a helper process, and a root whose resolution
/// does not answer is reported as an error while the others are scanned.
fn resolve_roots(
    snap: &Snapshot,
    roots: &[PathBuf],
) -> Result<(Vec<PathBuf>, Vec<ErrorEntry>), ScanError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for root in roots {
        if !snap.any_served_mount() {
            out.push(resolve_root(root)?);
            continue;
        }
        let work = |_: &mut sys::Progress| {
            let mut e = wire::Enc::default();
            match resolve_root(root) {
                Ok(p) => {
                    e.u8(0);
                    e.path(&p);
                }
                Err(ScanError::NoSuchPath(_, err)) => {
                    e.u8(1);
                    e.u32(err.raw_os_error().unwrap_or(0) as u32);
                    e.str(&err.to_string());
                }
            }
            e.0
        };
        let lexical = std::path::absolute(root).unwrap_or_else(|_| root.clone());
        let answer = match snap.mount_of_path(&lexical).filter(|m| m.served()) {
            Some(m) => snap.guarded(m, "resolving a path", work),
            None => match sys::run_guarded(
                snap.mount_timeout.unwrap_or(sys::DEFAULT_MOUNT_TIMEOUT),
                work,
            ) {
                sys::GuardOutcome::Done(b) => Some(b),
                _ => None,
            },
        };
        let decoded = answer.and_then(|b| {
            let mut d = wire::Dec::new(&b);
            match d.u8().ok()? {
                0 => Some(Ok(d.path().ok()?)),
                _ => {
                    let code = d.u32().ok()? as i32;
                    let text = d.string().ok()?;
                    let err = if code != 0 {
                        std::io::Error::from_raw_os_error(code)
                    } else {
                        std::io::Error::other(text)
                    };
                    Some(Err(ScanError::NoSuchPath(root.clone(), err)))
                }
            }
        });
        match decoded {
            Some(Ok(p)) => out.push(p),
            Some(Err(e)) => return Err(e),
            None => errors.push(ErrorEntry::new(
                root,
                "not scanned: resolving it waited on a filesystem server that did not answer"
                    .into(),
            )),
        }
    }
    Ok((out, errors))
}

/// What a scan of this system collected: the snapshot and the report of its facts
/// (without findings or advice yet).
pub struct Collected {
    pub snap: Snapshot,
    pub report: Report,
}

/// Scans this system: every stage that does I/O, then [`assemble`].
pub fn collect(opts: &ScanOptions) -> Result<Collected, ScanError> {
    let gather = GatherOptions {
        mount_timeout: opts.mount_timeout,
        ..Default::default()
    };
    // A path scan walks its tree while the fd tables are read (the walk needs only
    // the mount and lock tables); the system scan's walk starts from the fds.
    let (mut snap, walked) = if opts.roots.is_empty() {
        let snap = sys::gather(&gather);
        let _t = sys::timing::stage("walk");
        let walked = walk::system(&snap);
        (snap, Ok((Vec::new(), walked)))
    } else {
        sys::gather_while(&gather, |snap| {
            let _t = sys::timing::stage("walk");
            let (roots, root_errors) = resolve_roots(snap, &opts.roots)?;
            let mut walked = walk::walk(snap, &roots, &opts.walk);
            walked.errors.extend(root_errors);
            Ok((roots, walked))
        })
    };
    let (roots, walked) = walked?;
    let v = &mut snap.visibility;
    v.denied_pids.retain(|p| !opts.ignore_pids.contains(p));
    v.processes_denied = v.denied_pids.len();
    let t = sys::timing::stage("per-file");
    sys::ask_per_file(
        &mut snap,
        walked
            .candidates
            .iter()
            .filter(|c| c.stat.file_type == FileType::Regular)
            .filter_map(|c| Some((c.path.as_path(), c.key?))),
    );
    let pids = wanted_pids(&snap, &walked);
    sys::add_processes(&mut snap, pids);
    sys::add_users(
        &mut snap,
        walked
            .candidates
            .iter()
            .filter_map(|c| c.stat.uid)
            .collect::<HashSet<_>>(),
    );
    drop(t);
    let t = sys::timing::stage("probe");
    let probed = if opts.probe == ProbeMode::None
        && snap.platform == Platform::Linux
        && !snap.lock_table_complete()
    {
        // This /proc's lock table leaves out locks held outside its pid namespace:
        // F_OFD_GETLK still sees POSIX and OFD locks across namespaces (and takes
        // nothing), so ask it about every file the table is silent on.
        let listed: HashSet<FileKey> = snap.locks.lines.iter().filter_map(|l| l.key).collect();
        let silent: Vec<_> = walked
            .candidates
            .iter()
            .filter(|c| c.key.is_some_and(|k| !listed.contains(&k)))
            .cloned()
            .collect();
        let mut probed = probe::run(&snap, &silent, ProbeMode::Getlk);
        for r in probed.reports.values_mut() {
            let note = r.note.take().unwrap_or_default();
            r.note = Some(format!(
                "asked without --probe because this pid namespace's lock table leaves out \
                 locks held outside it; {note}"
            ));
        }
        probed
    } else {
        probe::run(&snap, &walked.candidates, opts.probe)
    };
    for line in probed.lock_lines {
        snap.locks.add_granted(line);
    }
    drop(t);
    let t = sys::timing::stage("assemble");
    let report = assemble(&snap, &roots, walked, probed.reports, opts);
    drop(t);
    Ok(Collected { snap, report })
}

/// Whether a file the walk did not find lies where the walk would have looked:
/// no deeper than `--max-depth` below its root, and with `-x` on the root's mount.
fn within_walk_limits(
    snap: &Snapshot,
    roots: &[PathBuf],
    path: &str,
    f: &FileReport,
    opts: &ScanOptions,
) -> bool {
    let path = Path::new(path);
    let Some(root) = roots
        .iter()
        .filter(|r| path.starts_with(r))
        .max_by_key(|r| r.as_os_str().len())
    else {
        return true;
    };
    let depth = path
        .strip_prefix(root)
        .map(|r| r.components().count())
        .unwrap_or(0);
    if opts.walk.max_depth.is_some_and(|m| depth > m) {
        return false;
    }
    if opts.walk.one_file_system {
        let root_mount = snap.mount_of_path(root).map(|m| m.mount_point.as_path());
        let file_mount = f.filesystem.as_ref().map(|fs| Path::new(&fs.mount_point));
        if root_mount.is_some() && file_mount.is_some() && root_mount != file_mount {
            return false;
        }
    }
    true
}

/// Pids whose process context the report needs beyond the lock holders: those the
/// files name, and those that have a candidate open.
fn wanted_pids(snap: &Snapshot, walked: &WalkResult) -> Vec<i32> {
    let mut pids: Vec<i32> = examine::pids(&walked.candidates).collect();
    // The running processes of recognised programs (is git working in this
    // repository? are nginx workers left?), for their state and working directory.
    let mut programs: Vec<&catalog::Convention> = walked
        .candidates
        .iter()
        .filter_map(|c| c.exam.recognised.as_ref())
        .map(|r| r.conv)
        .filter(|c| !c.exe_names.is_empty())
        .collect();
    programs.sort_unstable_by_key(|c| c.name);
    programs.dedup_by_key(|c| c.name);
    pids.extend(snap.process_names.iter().filter_map(|(pid, name)| {
        programs
            .iter()
            .any(|c| catalog::exe_matches(c, name) == Some(true))
            .then_some(*pid)
    }));
    let cand_keys: HashSet<FileKey> = walked.candidates.iter().filter_map(|c| c.key).collect();
    pids.extend(
        snap.open_fds
            .iter()
            .filter(|f| f.key.is_some_and(|k| cand_keys.contains(&k)))
            .map(|f| f.pid),
    );
    pids.extend(snap.open_by_pids.values().flatten());
    pids
}

/// The report for a snapshot and what the walk, the examination and the probes
/// found: correlation. No I/O. `roots` are the resolved roots (empty for a
/// whole-system scan); `duration_ms` is left 0 for the caller.
pub fn assemble(
    snap: &Snapshot,
    roots: &[PathBuf],
    walked: WalkResult,
    probes: HashMap<PathBuf, ProbeReport>,
    opts: &ScanOptions,
) -> Report {
    let WalkResult {
        candidates,
        errors: walk_errors,
        ..
    } = walked;
    let mut errors: Vec<ErrorEntry> = walk_errors;
    for c in &candidates {
        if !c.stat.file_type.is_examinable() {
            errors.push(ErrorEntry::new(
                &c.path,
                format!("not a regular file ({}): not read", c.stat.file_type),
            ));
        }
    }
    let limited =
        !opts.roots.is_empty() && (opts.walk.max_depth.is_some() || opts.walk.one_file_system);
    // The paths the walk found, when locked files found through the lock table must
    // be held to the walk's limits (taken before the candidates are consumed).
    let walked_paths: HashSet<String> = if limited {
        candidates
            .iter()
            .map(|c| c.path.to_string_lossy().into_owned())
            .collect()
    } else {
        HashSet::new()
    };
    let mut files = correlate::build_files(
        snap,
        candidates,
        probes,
        (!opts.roots.is_empty()).then_some(roots),
    );
    if limited {
        // Locked files found through the lock table (not by the walk) obey the same
        // limits the walk does: `--max-depth` and `-x`.
        files.retain(|f| match &f.path {
            Some(p) => {
                walked_paths.contains(p.as_str()) || within_walk_limits(snap, roots, p, f, opts)
            }
            None => true,
        });
    }
    for e in &snap.errors {
        errors.push(ErrorEntry {
            path: e.source.clone(),
            path_bytes: None,
            error: e.error.clone(),
        });
    }
    let v = &snap.visibility;
    Report {
        schema_version: SCHEMA_VERSION,
        lockscan_version: env!("CARGO_PKG_VERSION").to_string(),
        host: snap.host.clone(),
        platform: snap.platform,
        generated_at: Timestamp(snap.taken_at),
        roots: opts
            .roots
            .iter()
            .map(|r| r.to_string_lossy().into_owned())
            .collect(),
        files,
        findings: Vec::new(),
        errors,
        visibility: VisibilityReport {
            root: v.root,
            proc_locks_read: v.proc_locks_read,
            proc_locks_skipped: snap
                .locks
                .skipped
                .iter()
                .map(|s| SkippedLineReport {
                    line: s.line_no,
                    text: s.text.clone(),
                    reason: s.reason.clone(),
                })
                .collect(),
            processes_seen: v.processes_seen,
            processes_denied: v.processes_denied,
            denied_pids: v.denied_pids.clone(),
            processes_vanished: v.processes_vanished,
            pid_namespace_filtered: v.pid_namespace_filtered,
            proc_restricted: v.proc_restricted.clone(),
            handle_table_read: (snap.platform == Platform::Windows).then_some(v.handle_table_read),
            per_file_api: v.per_file_api.clone(),
            unresponsive_mounts: snap
                .unresponsive_mounts()
                .iter()
                .map(|u| UnresponsiveMountReport {
                    mount_point: u.mount_point.to_string_lossy().into_owned(),
                    fstype: u.fstype.clone(),
                    source: u.source.clone(),
                    waited_ms: u.waited_ms,
                    during: u.during.clone(),
                })
                .collect(),
        },
        stats: Stats {
            duration_ms: 0,
            lock_lines: snap.locks.lines.len(),
            fds_examined: snap.open_fds.len(),
            entries_walked: walked.entries,
        },
    }
}
