//! The scan: snapshot → walk → read pidfiles → correlate → probe → diagnose.

pub mod catalog;
pub mod content;
pub mod correlate;
pub mod names;
pub mod walk;
#[cfg(windows)]
mod windows_probe;

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::report::*;
use crate::sys::{self, FileKey, GatherOptions, LockKind, Snapshot};
use content::PidContent;
use correlate::Extras;
use names::NameKind;
use walk::{Candidate, WalkOptions};

/// Whether (and how) to test locks directly on each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeMode {
    /// Only read the kernel's tables (default): nothing is opened for locking.
    #[default]
    None,
    /// `F_OFD_GETLK` on each lockfile: asks the kernel about POSIX/OFD conflicts
    /// without taking anything.
    Getlk,
    /// Also a momentary flock attempt, released at once. Intrusive: while it is
    /// held, the real owner's non-blocking attempt would fail.
    Acquire,
}

#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// Paths as given; empty for the whole system.
    pub roots: Vec<PathBuf>,
    pub walk: WalkOptions,
    pub probe: ProbeMode,
    /// `--max-age`: report holders older than this many seconds (`held-long`).
    pub max_age: Option<u64>,
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

/// Keys that carry a lease or delegation: opening them (even O_RDONLY|O_NONBLOCK)
/// would start a lease break, so their content is never read and they are never probed.
fn leased_keys(snap: &Snapshot) -> HashSet<FileKey> {
    snap.locks
        .lines
        .iter()
        .filter(|l| matches!(l.kind, LockKind::Lease | LockKind::Deleg))
        .filter_map(|l| l.key)
        .collect()
}

/// Locked files of a whole-system scan, as candidates: the path a holder shows (in
/// our mount namespace, still naming the locked inode), so that they get the same
/// examination as files found by a walk. Directory stats are cached per directory.
///
/// Windows keeps no lock table, so there the candidates are the files with lock-like
/// names that some process has open.
fn system_candidates(snap: &Snapshot) -> Vec<Candidate> {
    let windows = snap.platform == "windows";
    let mut best: HashMap<FileKey, &Path> = HashMap::new();
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
            best.entry(key).or_insert(path.as_path());
        }
    }
    let mut dirs: HashMap<&Path, Option<walk::FileStat>> = HashMap::new();
    let mut out = Vec::new();
    let mut keys: Vec<_> = best.into_iter().collect();
    keys.sort_unstable_by_key(|(k, _)| *k);
    for (key, path) in keys {
        let Some(st) = walk::stat_path(path, false) else {
            continue;
        };
        if walk::key_for(snap, &st) != Some(key) {
            continue; // the path names something else now: reported from the fd instead
        }
        let parent = path.parent().unwrap_or(Path::new("/"));
        let dir = dirs
            .entry(parent)
            .or_insert_with(|| walk::stat_path(parent, true));
        let rule = path.file_name().and_then(names::classify);
        out.push(Candidate {
            path: path.to_path_buf(),
            name_kind: rule.map(|r| r.kind),
            convention: rule.map(|r| r.convention),
            stat: st,
            key: Some(key),
            symlink_target: None,
            explicit: false,
            dir_mode: dir.as_ref().and_then(|d| d.mode),
            dir_uid: dir.as_ref().and_then(|d| d.uid),
        });
    }
    out
}

/// Reads what each candidate says (at most 4 KiB, never from a leased or special
/// file), recognises its program convention, and finds where its kernel lock lives.
fn examine(snap: &Snapshot, cands: &[Candidate]) -> Extras {
    let leased = leased_keys(snap);
    let mut extras = Extras::default();
    let siblings: std::cell::RefCell<HashMap<PathBuf, bool>> = Default::default();
    for c in cands {
        let ft = c.stat.file_type;
        if !matches!(ft, "regular" | "symlink" | "directory") {
            continue;
        }
        let target = c
            .symlink_target
            .as_ref()
            .map(|t| t.to_string_lossy().into_owned());
        let parent = c.path.parent().unwrap_or(Path::new("/")).to_path_buf();
        // Conventions ask about the same few sibling names for every file in a
        // directory: one lookup per (directory, name).
        let sibling_exists = |n: &str| {
            let p = parent.join(n);
            if let Some(hit) = siblings.borrow().get(&p) {
                return *hit;
            }
            let there = std::fs::symlink_metadata(&p).is_ok();
            siblings.borrow_mut().insert(p, there);
            there
        };
        let mut obs = catalog::Observed {
            path: &c.path,
            file_type: ft,
            symlink_target: target.as_deref(),
            content: None,
            sibling_exists: &sibling_exists,
        };
        let leased_file = c.key.is_some_and(|k| leased.contains(&k));
        let size = c.stat.size;
        // Lockfiles often carry their owner's pid (UUCP LCK.., hand-written ones); a
        // short, non-empty one is worth a look.
        let pidlike = c.name_kind == Some(NameKind::Pidfile)
            || (c.name_kind == Some(NameKind::Lockfile) && (1..=64).contains(&size));
        // An empty file has nothing to read: say so without opening it (most lockfiles
        // are empty, and a system scan can see tens of thousands of them).
        let head = if ft == "regular" && size == 0 && !leased_file {
            Some(Ok(Vec::new()))
        } else {
            (ft == "regular" && !leased_file && (pidlike || catalog::content_would_help(&obs)))
                .then(|| content::read_head(&c.path))
        };
        obs.content = head
            .as_ref()
            .and_then(|h| h.as_ref().ok())
            .map(|b| b.as_slice());
        let conv = catalog::recognise(&obs);
        let parsed = conv.map(|cv| catalog::parse_content(cv, &obs));
        let mut pid = match (&head, c.name_kind) {
            (None, Some(NameKind::Pidfile)) if leased_file && ft == "regular" => {
                Some(PidContent::NotRead(
                    "the file carries a lease; opening it would start a lease break".into(),
                ))
            }
            (Some(Err(e)), Some(NameKind::Pidfile)) => Some(PidContent::NotRead(e.clone())),
            (Some(Ok(b)), Some(NameKind::Pidfile)) => Some(content::pid_from_head(b, size)),
            (Some(Ok(b)), _) if pidlike => match content::pid_from_head(b, size) {
                PidContent::Pid(p) => Some(PidContent::Pid(p)),
                _ => None,
            },
            _ => None,
        };
        // The convention's own format knows better (`pid 4242`, a Vim swap header, ...).
        if ft != "symlink"
            && !matches!(pid, Some(PidContent::Pid(_)))
            && let Some(p) = parsed.as_ref().and_then(|p| p.pid)
        {
            pid = Some(PidContent::Pid(p));
        }
        if let Some(pc) = pid {
            extras.contents.insert(c.path.clone(), pc);
        }
        if let (Some(conv), Some(parsed)) = (conv, parsed) {
            let site = catalog::kernel_lock_path(conv, &c.path);
            if site != c.path {
                let key = walk::stat_path(&site, false).and_then(|st| walk::key_for(snap, &st));
                extras.lock_site_keys.insert(c.path.clone(), key);
            }
            extras
                .recognised
                .insert(c.path.clone(), correlate::Recognised { conv, parsed });
        }
    }
    extras
}

#[cfg(unix)]
fn probe_file(file: &FileReport, mode: ProbeMode) -> Option<ProbeReport> {
    use crate::lock::probe;
    let path = Path::new(file.path.as_ref()?);
    if file.deleted || file.file_type.as_deref() != Some("regular") {
        return None;
    }
    if file
        .locks
        .iter()
        .any(|l| l.kind == "lease" || l.kind == "deleg")
    {
        return Some(ProbeReport {
            method: "getlk".into(),
            result: "skipped".into(),
            conflict: None,
            note: Some("the file carries a lease; opening it would start a lease break".into()),
        });
    }
    let mut report = match probe::probe_path(path) {
        Ok(None) => ProbeReport {
            method: "getlk".into(),
            result: "free".into(),
            conflict: None,
            note: Some("no POSIX or OFD lock conflicts with a whole-file write lock (flock locks are invisible to this probe)".into()),
        },
        Ok(Some(c)) => ProbeReport {
            method: "getlk".into(),
            result: "held".into(),
            conflict: Some(ProbeConflict {
                kind: match c.mechanism {
                    crate::lock::Mechanism::Posix => "posix",
                    crate::lock::Mechanism::Ofd => "ofd",
                    crate::lock::Mechanism::Flock => "flock",
                    crate::lock::Mechanism::LockFileEx => "lockfileex",
                }
                .into(),
                mode: match c.mode {
                    crate::lock::Mode::Shared => "read",
                    crate::lock::Mode::Exclusive => "write",
                }
                .into(),
                start: c.start,
                end: c.end,
                pid: c.pid,
            }),
            note: None,
        },
        Err(e) => ProbeReport {
            method: "getlk".into(),
            result: "error".into(),
            conflict: None,
            note: Some(e.to_string()),
        },
    };
    if mode == ProbeMode::Acquire && report.result != "error" {
        match probe::probe_flock_acquiring(path) {
            Ok(r) => {
                report.method = "getlk+acquire".into();
                let flock = match r {
                    probe::FlockProbe::Free => "free",
                    probe::FlockProbe::HeldShared => "held-shared",
                    probe::FlockProbe::HeldExclusive => "held-exclusive",
                };
                if report.result == "free" {
                    report.result = flock.into();
                }
                report.note = Some(format!(
                    "flock probe (momentary, released at once): {flock}"
                ));
            }
            Err(e) => report.note = Some(format!("flock probe failed: {e}")),
        }
    }
    Some(report)
}

/// Runs a whole scan and returns the report plus the snapshot it was built from.
pub fn scan(opts: &ScanOptions) -> Result<(Report, Snapshot), ScanError> {
    let started = Instant::now();
    let roots: Vec<PathBuf> = opts
        .roots
        .iter()
        .map(|r| resolve_root(r))
        .collect::<Result<_, _>>()?;
    let system = roots.is_empty();
    let mut snap = sys::gather(&GatherOptions::default());
    let v = &mut snap.visibility;
    v.denied_pids.retain(|p| !opts.ignore_pids.contains(p));
    v.processes_denied = v.denied_pids.len();

    let walked = if system {
        walk::WalkResult {
            candidates: system_candidates(&snap),
            ..Default::default()
        }
    } else {
        walk::walk(&snap, &roots, &opts.walk)
    };
    let extras = examine(&snap, &walked.candidates);
    #[cfg(windows)]
    sys::windows::ask_per_file(&mut snap, &walked.candidates);
    let mut pids: Vec<i32> = extras
        .contents
        .values()
        .filter_map(|c| match c {
            PidContent::Pid(p) => Some(*p),
            _ => None,
        })
        .collect();
    pids.extend(walked.candidates.iter().filter_map(|c| {
        c.symlink_target
            .as_ref()
            .and_then(|t| names::pid_from_symlink_target(&t.to_string_lossy()))
    }));
    // Processes that merely have a candidate open are named in `open_by`.
    let cand_keys: HashSet<FileKey> = walked.candidates.iter().filter_map(|c| c.key).collect();
    pids.extend(
        snap.open_fds
            .iter()
            .filter(|f| f.key.is_some_and(|k| cand_keys.contains(&k)))
            .map(|f| f.pid),
    );
    pids.extend(snap.open_by_pids.values().flatten());
    sys::add_processes(&mut snap, pids);
    // Windows has no lock table: a probe is the only way to see a byte-range lock,
    // and what it finds becomes a lock line before correlation.
    #[cfg(windows)]
    let win_probes = windows_probe::probe_candidates(&mut snap, &walked.candidates, opts.probe);
    let mut files = correlate::build_files(
        &snap,
        &walked.candidates,
        &extras,
        (!system).then_some(&roots[..]),
    );
    #[cfg(unix)]
    if opts.probe != ProbeMode::None {
        for f in &mut files {
            f.probe = probe_file(f, opts.probe);
        }
    }
    #[cfg(windows)]
    for f in &mut files {
        f.probe = f
            .path
            .as_ref()
            .and_then(|p| win_probes.get(Path::new(p)).cloned());
    }

    let mut errors: Vec<ErrorEntry> = walked.errors;
    for c in &walked.candidates {
        if !matches!(c.stat.file_type, "regular" | "symlink" | "directory") {
            errors.push(ErrorEntry {
                path: c.path.to_string_lossy().into_owned(),
                error: format!("not a regular file ({}): not read", c.stat.file_type),
            });
        }
    }
    for e in &snap.errors {
        errors.push(ErrorEntry {
            path: e.source.clone(),
            error: e.error.clone(),
        });
    }

    let v = &snap.visibility;
    let mut report = Report {
        schema_version: SCHEMA_VERSION,
        lockscan_version: env!("CARGO_PKG_VERSION").to_string(),
        host: snap.host.clone(),
        platform: snap.platform.clone(),
        generated_at: time::rfc3339(snap.taken_at),
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
            handle_table_read: (snap.platform == "windows").then_some(v.handle_table_read),
            per_file_api: v.per_file_api.clone(),
        },
        stats: Stats {
            duration_ms: 0,
            lock_lines: snap.locks.lines.len(),
            fds_examined: snap.open_fds.len(),
            entries_walked: walked.entries,
        },
    };
    let ctx = crate::diagnose::Context {
        snap: &snap,
        max_age: opts.max_age,
    };
    crate::diagnose::diagnose(&mut report, &ctx);
    report.stats.duration_ms = started.elapsed().as_millis() as u64;
    Ok((report, snap))
}
