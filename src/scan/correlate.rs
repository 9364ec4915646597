//! Joining the walk's files and the snapshot by (device, inode).
//!
//! Pure: no system calls, so it runs the same on fixtures as on a live system. Every
//! join is a hash lookup, so cost grows linearly with locks + fds + files.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::catalog;
use super::content::PidContent;
use super::examine::{Exam, Recognised};
use super::names::{self, NameKind};
use super::walk::Candidate;
use crate::lock::fs::classify_fstype;
use crate::model::time::rfc3339;
use crate::model::*;
use crate::sys::*;

/// One file of the report before rendering. Its path is borrowed (from the walk's
/// candidate or the snapshot's fd): a scan may find a million files.
struct Entry<'a> {
    path: Option<&'a Path>,
    cand: Option<&'a Candidate>,
    key: Option<FileKey>,
    /// On btrfs, the subvolume's `st_dev` ([`Subvol`]); `None` elsewhere.
    sub: Option<Subvol>,
    deleted: bool,
    replaced: bool,
}

/// A btrfs subvolume or snapshot, by its `st_dev` (major, minor). The lock table
/// names only the superblock, so one key can mean a file in each subvolume.
type Subvol = (u32, u32);

pub fn process_ref(snap: &Snapshot, pid: i32, fd: Option<&OpenFd>) -> ProcessRef {
    let p = snap.process(pid);
    ProcessRef {
        pid,
        command: p.map(|p| p.command.clone()),
        cmdline: p.map(|p| p.cmdline.clone()),
        uid: p.and_then(|p| p.uid),
        user: p.and_then(|p| p.user.clone()),
        started_at: p.and_then(|p| p.started_at).map(Timestamp),
        age_seconds: p
            .and_then(|p| p.started_at)
            .map(|s| snap.taken_at.saturating_sub(s)),
        state: p.and_then(|p| p.state),
        ppid: p.and_then(|p| p.ppid),
        fd: fd.map(|f| f.fd),
        cloexec: fd.and_then(|f| f.cloexec()),
        exe: p
            .and_then(|p| p.exe.as_ref())
            .map(|e| e.to_string_lossy().into_owned()),
        unit: p.and_then(|p| p.cgroup.as_deref()).map(unit_of_cgroup),
        container: p
            .and_then(|p| p.cgroup.as_deref())
            .and_then(container_of_cgroup),
        ns_pid: p.and_then(|p| p.ns_pid),
        wchan: p.and_then(|p| p.wchan.clone()),
        tty: p.and_then(|p| p.stdin_tty.clone()),
        tty_foreground: p.and_then(|p| p.tty_foreground),
        inherited_from: fd.and_then(|f| f.inherited_from),
        kernel_thread: p.is_some_and(|p| p.kernel_thread),
        parents: snap
            .parent_chain(pid)
            .into_iter()
            .map(|(pid, command)| ProcessBrief {
                pid,
                command: command.map(str::to_string),
            })
            .collect(),
    }
}

/// The most specific systemd unit in a cgroup path (`/system.slice/nginx.service` →
/// `nginx.service`; `/user.slice/.../session-3.scope` → `session-3.scope`), or the
/// path itself when it names no unit.
pub fn unit_of_cgroup(cg: &str) -> String {
    cg.rsplit('/')
        .find(|c| {
            [".service", ".scope", ".socket", ".timer", ".mount"]
                .iter()
                .any(|s| c.ends_with(s))
        })
        .unwrap_or(cg)
        .to_string()
}

/// The container a cgroup path belongs to, as `runtime:id` (the short 12-digit id
/// the runtime's own tools print) or `runtime:name`: Docker (`/docker/ID`,
/// `docker-ID.scope`), Podman (`libpod-ID.scope`), containerd and CRI-O
/// (`cri-containerd-ID.scope`, `crio-ID.scope`), Kubernetes (`/kubepods/.../ID`),
/// LXC (`/lxc/NAME`, `lxc.payload.NAME`) and systemd-nspawn (`machine-NAME.scope`).
pub fn container_of_cgroup(cg: &str) -> Option<String> {
    let hex64 = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
    let short = |id: &str| id[..12].to_string();
    let parts: Vec<&str> = cg.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate().rev() {
        let scope = part.strip_suffix(".scope").unwrap_or(part);
        for (prefix, runtime) in [
            ("docker-", "docker"),
            ("libpod-", "podman"),
            ("cri-containerd-", "containerd"),
            ("crio-", "cri-o"),
        ] {
            if let Some(id) = scope.strip_prefix(prefix).filter(|id| hex64(id)) {
                return Some(format!("{runtime}:{}", short(id)));
            }
        }
        if hex64(part) && i > 0 {
            let runtime = if parts[..i].iter().any(|p| p.starts_with("kubepods")) {
                "kubepods"
            } else if parts[i - 1] == "docker" {
                "docker"
            } else {
                "container"
            };
            return Some(format!("{runtime}:{}", short(part)));
        }
        if let Some(name) = part.strip_prefix("lxc.payload.") {
            return Some(format!("lxc:{name}"));
        }
        if i > 0 && parts[i - 1] == "lxc" {
            return Some(format!("lxc:{part}"));
        }
        if let Some(name) = scope.strip_prefix("machine-") {
            return Some(format!("nspawn:{}", name.replace("\\x2d", "-")));
        }
    }
    None
}

/// Is `path` at or below one of `roots`?
pub fn under_roots(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| path.starts_with(r))
}

/// For each lock line, the index of the granted lock at the top of its waiter chain.
fn root_lines(locks: &ProcLocks) -> Vec<usize> {
    let mut roots = Vec::with_capacity(locks.lines.len());
    for i in 0..locks.lines.len() {
        let mut j = i;
        let mut steps = 0;
        while let Some(Some(b)) = locks.blocker.get(j) {
            if steps > locks.lines.len() {
                break; // malformed chain: never loop
            }
            j = *b;
            steps += 1;
        }
        roots.push(j);
    }
    roots
}

/// The subvolume of each granted lock on a btrfs key, from its holders' fds (their
/// fdinfo `lock:` lines tie the lock to an fd, and the fd's `st_dev` names the
/// subvolume); `None` for a lock no visible fd carries. Identical lines of one key
/// (the same process's lock on inode 257 of two subvolumes, or two OFD readers) are
/// shared out over the subvolumes their carriers are on, when the counts agree.
fn line_subvolumes(
    snap: &Snapshot,
    locks_by_key: &HashMap<FileKey, Vec<usize>>,
    fds_by_key: &HashMap<FileKey, Vec<usize>>,
    btrfs_devs: &HashSet<(u32, u32)>,
) -> HashMap<usize, Option<Subvol>> {
    let mut out = HashMap::new();
    for (key, lines) in locks_by_key {
        if !btrfs_devs.contains(&(key.major, key.minor)) {
            continue;
        }
        let fds: Vec<&OpenFd> = fds_by_key
            .get(key)
            .into_iter()
            .flatten()
            .map(|&i| &snap.open_fds[i])
            .collect();
        let granted: Vec<usize> = lines
            .iter()
            .copied()
            .filter(|&i| snap.locks.lines[i].depth == 0)
            .collect();
        for &i in &granted {
            if out.contains_key(&i) {
                continue; // shared out with an earlier twin
            }
            let line = &snap.locks.lines[i];
            let twins: Vec<usize> = granted
                .iter()
                .copied()
                .filter(|&j| snap.locks.lines[j].same_lock(line))
                .collect();
            let posix = line.kind == LockKind::Posix;
            let mut carriers: Vec<&OpenFd> = fds
                .iter()
                .copied()
                .filter(|f| f.locks.iter().any(|l| l.same_lock(line)))
                .filter(|f| !posix || f.pid == line.pid)
                .collect();
            if carriers.is_empty() && posix && line.pid > 0 {
                // A POSIX lock dies with its owner's last fd on the inode, so the
                // owner's open fds on this key are on the locked file.
                carriers = fds.iter().copied().filter(|f| f.pid == line.pid).collect();
            }
            let mut devs: Vec<Subvol> = carriers.iter().filter_map(|f| f.st_dev).collect();
            devs.sort_unstable();
            devs.dedup();
            let shares: Vec<Option<Subvol>> = match devs.len() {
                0 => vec![None; twins.len()],
                1 => vec![Some(devs[0]); twins.len()],
                _ => {
                    // One line per lock holder unit: per open file description for
                    // flock/OFD/leases, per subvolume for POSIX (a process's identical
                    // POSIX locks on one inode merge into one line).
                    let units: Vec<Subvol> = if !line.kind.owned_by_open_file() {
                        devs.clone()
                    } else if carriers
                        .iter()
                        .all(|f| f.open_file_id.is_some() && f.st_dev.is_some())
                    {
                        let mut u: Vec<(Subvol, u64)> = carriers
                            .iter()
                            .filter_map(|f| Some((f.st_dev?, f.open_file_id?)))
                            .collect();
                        u.sort_unstable();
                        u.dedup();
                        u.into_iter().map(|(d, _)| d).collect()
                    } else {
                        Vec::new()
                    };
                    if units.len() == twins.len() {
                        units.into_iter().map(Some).collect()
                    } else {
                        vec![None; twins.len()]
                    }
                }
            };
            for (j, sub) in twins.into_iter().zip(shares) {
                out.insert(j, sub);
            }
        }
    }
    out
}

fn filesystem_report(
    snap: &Snapshot,
    key: Option<FileKey>,
    cand: Option<&Candidate>,
) -> Option<FilesystemReport> {
    let mount = cand
        .and_then(|c| c.stat.mnt_id)
        .and_then(|id| snap.mounts.get(&id))
        .or_else(|| key.and_then(|k| snap.mount_for_device(k.major, k.minor)))?;
    let locality = mount
        .locality
        .unwrap_or_else(|| classify_fstype(&mount.fstype));
    Some(FilesystemReport {
        fstype: mount.fstype.clone(),
        remote: locality != FsLocality::Local,
        locality: locality.into(),
        mount_point: mount.mount_point.to_string_lossy().into_owned(),
        source: mount.source.clone(),
        options: if mount.super_options.is_empty() {
            mount.mount_options.clone()
        } else {
            format!("{},{}", mount.mount_options, mount.super_options)
        },
    })
}

/// A mount id, or (no mount id) `u64::MAX` and the device.
type MountKey = (u64, u32, u32);

struct Ctx<'a> {
    snap: &'a Snapshot,
    locks_by_key: HashMap<FileKey, Vec<usize>>,
    fds_by_key: HashMap<FileKey, Vec<usize>>,
    waiters_of: HashMap<usize, Vec<usize>>,
    /// Superblock devices of btrfs filesystems (subvolumes share one).
    btrfs_devs: HashSet<(u32, u32)>,
    /// For each granted lock line on a btrfs key, the subvolume it is on as its
    /// holders' fds show it, or `None` when no holder's fd can be seen.
    line_subvol: HashMap<usize, Option<Subvol>>,
    partial: bool,
    /// Process context by pid, built once: a process holding thousands of locks
    /// appears in thousands of files. (The caches are behind mutexes: the reports
    /// are built on two threads.)
    procs: Mutex<HashMap<i32, Arc<ProcessRef>>>,
    /// Filesystem reports by mount id (or device), built once per mount and shared
    /// by its files.
    filesystems: Mutex<HashMap<MountKey, Option<Arc<FilesystemReport>>>>,
    /// Owner names by uid, shared by their files.
    owners: Mutex<HashMap<u32, Option<Arc<str>>>>,
    /// Texts that many files repeat word for word (delete verdicts' reasons), one
    /// copy each: a directory of a million leftovers gives a million equal reasons.
    texts: Mutex<HashSet<Arc<str>>>,
    /// Convention reports without a file-specific `next_run_says`, one per
    /// convention, shared by its files.
    conventions: Mutex<HashMap<&'static str, Arc<ConventionReport>>>,
}

impl<'a> Ctx<'a> {
    fn new(snap: &'a Snapshot) -> Self {
        let roots = root_lines(&snap.locks);
        let mut waiters_of: HashMap<usize, Vec<usize>> = HashMap::new();
        for (i, line) in snap.locks.lines.iter().enumerate() {
            if line.depth > 0 && roots[i] != i {
                waiters_of.entry(roots[i]).or_default().push(i);
            }
        }
        let locks_by_key = snap.locks_by_key();
        let fds_by_key = snap.fds_by_key();
        let btrfs_devs: HashSet<(u32, u32)> = snap
            .mounts
            .values()
            .filter(|m| m.fstype == "btrfs")
            .map(|m| (m.major, m.minor))
            .collect();
        let line_subvol = line_subvolumes(snap, &locks_by_key, &fds_by_key, &btrfs_devs);
        Ctx {
            snap,
            locks_by_key,
            fds_by_key,
            waiters_of,
            btrfs_devs,
            line_subvol,
            partial: !snap.open_files_complete(),
            procs: Default::default(),
            filesystems: Default::default(),
            owners: Default::default(),
            texts: Default::default(),
            conventions: Default::default(),
        }
    }

    /// The one shared copy of `text`.
    fn intern(&self, text: String) -> Arc<str> {
        let mut texts = self.texts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(t) = texts.get(text.as_str()) {
            return t.clone();
        }
        let t: Arc<str> = text.into();
        texts.insert(t.clone());
        t
    }

    /// The owner name of `uid`, shared.
    fn owner(&self, uid: u32) -> Option<Arc<str>> {
        self.owners
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(uid)
            .or_insert_with(|| self.snap.users.get(&uid).map(|u| u.as_str().into()))
            .clone()
    }

    /// The convention report, shared with every file of the convention when nothing
    /// in it is particular to this file.
    fn convention(
        &self,
        conv: &'static catalog::Convention,
        next_run_says: Option<String>,
    ) -> Arc<ConventionReport> {
        let make = |next_run_says| {
            Arc::new(ConventionReport {
                name: conv.name.to_string(),
                program: conv.program.to_string(),
                discipline: conv.discipline,
                error_message: conv.error_message.map(str::to_string),
                next_run_says,
                blocks_next_run: conv.leftover_blocks,
            })
        };
        if next_run_says.is_some() {
            return make(next_run_says);
        }
        self.conventions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(conv.name)
            .or_insert_with(|| make(None))
            .clone()
    }

    /// The subvolume of a file of `key` with this `st_dev`, when `key` is on btrfs.
    fn subvol_of(&self, key: FileKey, st_dev: (u32, u32)) -> Option<Subvol> {
        self.btrfs_devs
            .contains(&(key.major, key.minor))
            .then_some(st_dev)
    }

    /// `process_ref`, cached per pid.
    fn pref(&self, pid: i32, fd: Option<&OpenFd>) -> ProcessRef {
        // The shared copy is taken under the lock, the report's own copy outside it
        // (both threads make thousands of these).
        let shared = self
            .procs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(pid)
            .or_insert_with(|| Arc::new(process_ref(self.snap, pid, None)))
            .clone();
        let mut p = ProcessRef::clone(&shared);
        p.fd = fd.map(|f| f.fd);
        p.cloexec = fd.and_then(|f| f.cloexec());
        p.inherited_from = fd.and_then(|f| f.inherited_from);
        p
    }

    /// `filesystem_report`, cached per mount.
    fn fs(&self, key: Option<FileKey>, cand: Option<&Candidate>) -> Option<Arc<FilesystemReport>> {
        let id = match (cand.and_then(|c| c.stat.mnt_id), key) {
            (Some(m), _) => (m, 0, 0),
            (None, Some(k)) => (u64::MAX, k.major, k.minor),
            (None, None) => return None,
        };
        self.filesystems
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(id)
            .or_insert_with(|| filesystem_report(self.snap, key, cand).map(Arc::new))
            .clone()
    }

    fn fds(&self, key: FileKey) -> impl Iterator<Item = &'a OpenFd> + '_ {
        self.fds_by_key
            .get(&key)
            .into_iter()
            .flatten()
            .map(|&i| &self.snap.open_fds[i])
    }

    /// Processes a per-file API (Windows) says have the file open, handles seen or not.
    fn per_file_pids(&self, key: FileKey) -> &'a [i32] {
        self.snap
            .open_by_pids
            .get(&key)
            .map_or(&[][..], Vec::as_slice)
    }

    /// Holders of the granted lock `idx`.
    fn holders(&self, idx: usize, key: FileKey) -> (Vec<ProcessRef>, bool) {
        let line = &self.snap.locks.lines[idx];
        if line.kind == LockKind::LockFileEx {
            // Windows cannot say which handle owns a byte-range lock: every process
            // with the file open is a candidate holder, and the list says so.
            let mut out: Vec<ProcessRef> = Vec::new();
            for fd in self.fds(key) {
                if !out.iter().any(|p| p.pid == fd.pid) {
                    out.push(self.pref(fd.pid, Some(fd)));
                }
            }
            for &pid in self.per_file_pids(key) {
                if !out.iter().any(|p| p.pid == pid) {
                    out.push(self.pref(pid, None));
                }
            }
            out.sort_by_key(|p| (p.pid, p.fd));
            return (out, true);
        }
        // On btrfs, only fds on the lock's own subvolume carry it (an identical line
        // may be on the same inode number in another subvolume).
        let sub = self.line_subvol.get(&idx).copied().flatten();
        let carriers: Vec<&OpenFd> = self
            .fds(key)
            .filter(|fd| sub.is_none() || fd.st_dev == sub)
            .filter(|fd| fd.locks.iter().any(|l| l.same_lock(line)))
            .collect();
        let mut uncertain = false;
        let mut chosen: Vec<&OpenFd> = carriers.clone(); // refs only
        if line.kind.owned_by_open_file() {
            // Identical granted lines (e.g. two OFD readers, both pid -1): tell them
            // apart by open file description.
            let twins: Vec<usize> = self.locks_by_key[&key]
                .iter()
                .copied()
                .filter(|&j| {
                    let o = &self.snap.locks.lines[j];
                    o.depth == 0
                        && o.same_lock(line)
                        && self.line_subvol.get(&j).copied().flatten() == sub
                })
                .collect();
            if twins.len() > 1 {
                let mut groups: Vec<u64> = carriers.iter().filter_map(|f| f.open_file_id).collect();
                groups.sort_unstable();
                groups.dedup();
                let all_known = carriers.iter().all(|f| f.open_file_id.is_some());
                if all_known && groups.len() == twins.len() {
                    // Order groups by their first (pid, fd) for a stable assignment.
                    let mut ordered: Vec<(i32, i32, u64)> = groups
                        .iter()
                        .map(|g| {
                            carriers
                                .iter()
                                .filter(|f| f.open_file_id == Some(*g))
                                .map(|f| (f.pid, f.fd, *g))
                                .min()
                                .unwrap_or((0, 0, *g))
                        })
                        .collect();
                    ordered.sort_unstable();
                    let rank = twins.iter().position(|&j| j == idx).unwrap_or(0);
                    let gid = ordered[rank].2;
                    chosen.retain(|f| f.open_file_id == Some(gid));
                } else {
                    uncertain = true;
                }
            }
        } else {
            // POSIX: the owner is the process that set it; the lock line shows only on
            // the fd it was set through.
            chosen.retain(|f| f.pid == line.pid);
        }
        let mut seen = HashSet::new();
        let mut out: Vec<ProcessRef> = Vec::new();
        for fd in &chosen {
            if seen.insert((fd.pid, fd.fd)) {
                out.push(self.pref(fd.pid, Some(fd)));
            }
        }
        if line.kind == LockKind::Posix
            && out.is_empty()
            && line.pid > 0
            && self.snap.process(line.pid).is_some()
        {
            // The owner is alive but no fd shows the line (fds not readable, or the
            // lock was set through an fd since closed by another thread): still the owner.
            out.push(self.pref(line.pid, None));
        }
        if out.is_empty() && self.partial {
            uncertain = true;
        }
        out.sort_by_key(|p| (p.pid, p.fd));
        (out, uncertain)
    }

    fn lock_report(&self, idx: usize, key: FileKey) -> LockReport {
        let line = &self.snap.locks.lines[idx];
        let (holders, uncertain) = self.holders(idx, key);
        let holders_hidden = holders.is_empty() && uncertain;
        let mut waiters = Vec::new();
        let mut unidentified_waiters = Vec::new();
        for &w in self.waiters_of.get(&idx).into_iter().flatten() {
            {
                let wl = &self.snap.locks.lines[w];
                let (wpid, wfd) = match self.snap.resolved_waiters.get(&w) {
                    Some((pid, fd)) => (*pid, self.fds(key).find(|f| f.pid == *pid && f.fd == *fd)),
                    // The fd it waits through: its open fd on this file without a lock.
                    None => (
                        wl.pid,
                        self.fds(key)
                            .find(|f| f.pid == wl.pid && f.locks.is_empty()),
                    ),
                };
                if wpid <= 0 {
                    // -1 (OFD) or 0 (another pid namespace) is no process: say who
                    // could not be identified instead of showing a pid.
                    unidentified_waiters.push(UnidentifiedWaiter {
                        mode: wl.mode,
                        start: wl.start,
                        end: wl.end,
                        depth: wl.depth,
                        reason: unidentified_waiter_reason(wl, self.partial),
                    });
                    continue;
                }
                // Whom it waits for: a process that holds the lock (not the pid that
                // took it, which may be gone: a killed `flock -n` wrapper whose child
                // still holds), or the waiter it is queued behind.
                let blocked_by = self.snap.locks.blocker[w].and_then(|b| {
                    if b == idx {
                        holders
                            .first()
                            .map(|h| h.pid)
                            .or_else(|| Some(line.pid).filter(|p| *p > 0 && holders_hidden))
                    } else {
                        self.snap
                            .resolved_waiters
                            .get(&b)
                            .map(|(pid, _)| *pid)
                            .or(Some(self.snap.locks.lines[b].pid))
                            .filter(|p| *p > 0)
                    }
                });
                waiters.push(WaiterRef {
                    process: self.pref(wpid, wfd),
                    mode: wl.mode,
                    start: wl.start,
                    end: wl.end,
                    depth: wl.depth,
                    blocked_by,
                });
            }
        }
        let locker_pid = (line.pid > 0).then_some(line.pid);
        LockReport {
            kind: line.kind,
            mode: line.mode,
            start: line.start,
            end: line.end,
            lease_state: line.lease_state,
            holders,
            waiters,
            unidentified_waiters,
            locker_pid,
            locker_alive: locker_pid.and_then(|p| alive(self.snap, p)),
            holders_uncertain: uncertain,
            holder_evidence: match line.kind {
                LockKind::LockFileEx if self.snap.open_by_pids.contains_key(&key) => {
                    HolderEvidence::FileProcessIds
                }
                LockKind::LockFileEx => HolderEvidence::HandleTable,
                _ => HolderEvidence::Fdinfo,
            },
            role: None,
            range_count: None,
            ranges: Vec::new(),
        }
    }
}

/// Why a waiter line with no usable pid (`wl.pid` -1 or 0) names no process.
fn unidentified_waiter_reason(wl: &LockLine, partial: bool) -> String {
    if wl.pid == 0 {
        return "it runs outside this pid namespace (the kernel's lock table shows it as pid 0)"
            .to_string();
    }
    format!(
        "the kernel's lock table prints pid -1 for OFD lock waiters, and no process was seen \
         blocked in F_OFD_SETLKW on this file{}",
        if partial {
            ", but some processes could not be inspected"
        } else {
            ""
        }
    )
}

/// Why a lock on a btrfs file's key cannot be pinned on it or on its namesake in
/// another subvolume, and what would tell.
fn btrfs_ambiguity(path: Option<&Path>) -> String {
    let lsof = match path {
        Some(p) => format!("`lsof {}`", p.display()),
        None => "`lsof`".to_string(),
    };
    format!(
        "the lock table cannot tell btrfs subvolumes apart: a lock on this inode number is held, \
         another subvolume has a file with the same inode number, and the lock's holder could not \
         be seen, so whether the lock is on this file is unknown ({lsof} or lockscan as root \
         would tell)"
    )
}

/// Seconds of tolerance between a process's start time (derived from boot time and
/// clock ticks) and a file's mtime (wall clock): the two clocks drift apart a little.
const CLOCK_SLACK_SECS: i64 = 2;

/// Why a running pid is not the process that wrote the file, if the evidence says so.
fn reuse_evidence(snap: &Snapshot, proc_: &ProcessInfo, mtime: Option<i64>) -> Option<String> {
    let mtime = mtime?;
    if let Some(boot) = snap.boot_time
        && mtime + CLOCK_SLACK_SECS < boot as i64
    {
        return Some(format!(
            "the file was written before the last boot ({}), so its pid belongs to an earlier boot",
            rfc3339(boot)
        ));
    }
    let started = proc_.started_at? as i64;
    (started > mtime + CLOCK_SLACK_SECS).then(|| {
        format!(
            "pid {} ({}) started at {}, after the file was written ({})",
            proc_.pid,
            proc_.command,
            rfc3339(started as u64),
            rfc3339(mtime.max(0) as u64)
        )
    })
}

/// The pid is a kernel thread's (kthreadd is always pid 2): no program runs there, so
/// whatever wrote the file is gone and its pid was taken by the kernel (or the file
/// never held a writer's own pid). Checked before anything else: a kernel thread
/// started at boot would otherwise pass every start-time test.
fn kernel_thread(p: &ProcessInfo) -> Option<String> {
    p.kernel_thread.then(|| {
        format!(
            "pid {} is the kernel thread {}, not a program: kernel threads never write \
             pidfiles, so the process that wrote it is gone",
            p.pid, p.command
        )
    })
}

/// The running process is not the convention's program (`nginx.pid` naming a bash).
fn wrong_program(rec: Option<&Recognised>, p: &ProcessInfo) -> Option<String> {
    let conv = rec?.conv;
    let exe_base = p
        .exe
        .as_ref()
        .and_then(|e| e.file_name())
        .map(|n| n.to_string_lossy().into_owned());
    let by_comm = catalog::exe_matches(conv, &p.command)?;
    let by_exe = exe_base
        .as_deref()
        .and_then(|e| catalog::exe_matches(conv, e));
    (!by_comm && by_exe != Some(true)).then(|| {
        format!(
            "pid {} is {}, not {} ({})",
            p.pid,
            p.command,
            conv.display,
            conv.exe_names.join(", ")
        )
    })
}

/// A pid recorded on another host: nothing can be said about it here.
fn other_host(pid: i32, host: &str, ours: &str) -> PidfileReport {
    PidfileReport {
        pid: Some(pid),
        verdict: PidVerdict::Unknown,
        status: PidStatus::Unknown,
        reason: Some(format!(
            "written on host {host:?}, not this host ({ours:?})"
        )),
        host: Some(host.to_string()),
        process: None,
    }
}

fn pidfile_report(
    snap: &Snapshot,
    content: Option<&PidContent>,
    kind: Option<NameKind>,
    symlink_target: Option<&str>,
    mtime: Option<i64>,
    rec: Option<&Recognised>,
) -> Option<PidfileReport> {
    // A pid recorded on another host says nothing about this host's processes.
    if let (Some(h), Some(PidContent::Pid(pid))) =
        (rec.and_then(|r| r.parsed.host.as_deref()), content)
        && !h.is_empty()
        && h != snap.host
        && symlink_target.is_none()
    {
        return Some(other_host(*pid, h, &snap.host));
    }
    let verdict = |pid: i32| {
        if snap.process(pid).is_none() && snap.hidden_pids.contains(&pid) {
            // It exists (signal 0 reaches it) but cannot be read: running, by whom
            // unknown, so whether it is the writer cannot be told.
            return PidfileReport {
                pid: Some(pid),
                verdict: PidVerdict::Unknown,
                status: PidStatus::Running,
                reason: Some(format!(
                    "pid {pid} exists but could not be inspected (another user's process, or \
                     hidden by /proc's hidepid=), so whether it wrote the file is unknown"
                )),
                host: None,
                process: None,
            };
        }
        let proc_ = snap.process(pid);
        let running = proc_.filter(|p| !p.state.is_some_and(ProcessState::has_exited));
        let reused = running.and_then(|p| {
            kernel_thread(p)
                .or_else(|| reuse_evidence(snap, p, mtime))
                .or_else(|| wrong_program(rec, p))
        });
        let (status, verdict) = match (running, &reused) {
            (Some(_), None) => (PidStatus::Running, PidVerdict::Live),
            (Some(_), Some(_)) => (PidStatus::Running, PidVerdict::Stale),
            (None, _) => (PidStatus::Dead, PidVerdict::Stale),
        };
        PidfileReport {
            pid: Some(pid),
            verdict,
            status,
            reason: reused.or_else(|| {
                proc_
                    .filter(|p| p.state.is_some_and(ProcessState::has_exited))
                    .map(|_| "the process is a zombie (exited, not yet reaped)".to_string())
            }),
            host: None,
            process: proc_.map(|_| process_ref(snap, pid, None)),
        }
    };
    if let Some(target) = symlink_target {
        let pid = names::pid_from_symlink_target(target)?;
        // `host-pid` / `user@host.pid`: a lock of another host says nothing about our pids.
        let host = target
            .split_once('@')
            .map(|(_, r)| r.rsplit_once('.').map(|(h, _)| h).unwrap_or(r))
            .or_else(|| {
                target
                    .rsplit_once('-')
                    .map(|(h, _)| h)
                    .filter(|_| !target.contains(':'))
            });
        if let Some(h) = host
            && !h.is_empty()
            && h != snap.host
        {
            return Some(other_host(pid, h, &snap.host));
        }
        return Some(verdict(pid));
    }
    match content? {
        PidContent::Pid(pid) => Some(verdict(*pid)),
        PidContent::LinkName { name, pids } => {
            let about = format!(
                "the hard link {name:?} (python lockfile's LinkLockFile) records its owner"
            );
            if !name.starts_with(snap.host.as_str()) {
                return Some(PidfileReport {
                    reason: Some(format!("{about}, written on another host")),
                    ..other_host(
                        pids[0],
                        name.split(['.', '-']).next().unwrap_or(""),
                        &snap.host,
                    )
                });
            }
            if let [pid] = pids[..] {
                let mut r = verdict(pid);
                r.reason = Some(r.reason.map_or(about.clone(), |w| format!("{about}; {w}")));
                return Some(r);
            }
            // Pid and hash run together: the owner is gone only if no candidate runs.
            let running: Vec<String> = pids
                .iter()
                .filter(|p| alive(snap, **p) != Some(false))
                .map(|p| p.to_string())
                .collect();
            let listed = pids
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ");
            Some(if running.is_empty() {
                PidfileReport {
                    pid: None,
                    verdict: PidVerdict::Stale,
                    status: PidStatus::Dead,
                    reason: Some(format!(
                        "{about}, with its pid run together with a hash: none of the pids it may \
                         hold ({listed}) runs"
                    )),
                    host: None,
                    process: None,
                }
            } else {
                PidfileReport {
                    pid: None,
                    verdict: PidVerdict::Unknown,
                    status: PidStatus::Running,
                    reason: Some(format!(
                        "{about}, with its pid run together with a hash: of the pids it may hold \
                         ({listed}), {} runs, so the owner may be alive",
                        running.join(", ")
                    )),
                    host: None,
                    process: None,
                }
            })
        }
        PidContent::Invalid(reason) if kind == Some(NameKind::Pidfile) => Some(PidfileReport {
            pid: None,
            verdict: PidVerdict::Unknown,
            status: PidStatus::Invalid,
            reason: Some(reason.clone()),
            host: None,
            process: None,
        }),
        PidContent::NotRead(reason) if kind == Some(NameKind::Pidfile) => Some(PidfileReport {
            pid: None,
            verdict: PidVerdict::Unknown,
            status: PidStatus::Unknown,
            reason: Some(format!("not read: {reason}")),
            host: None,
            process: None,
        }),
        _ => None,
    }
}

/// What the pidfile verdict says about its pid, for the catalog's rules.
fn pid_state(pf: Option<&PidfileReport>) -> catalog::PidState {
    use catalog::PidState;
    let Some(pf) = pf else { return PidState::NoPid };
    if pf.pid.is_none() {
        // A link name's candidates: gone, or perhaps running.
        return match pf.status {
            PidStatus::Dead => PidState::Dead,
            PidStatus::Running => PidState::Unknown,
            _ => PidState::NoPid,
        };
    }
    match (pf.status, pf.verdict) {
        (PidStatus::Running, PidVerdict::Live) => PidState::Alive,
        (PidStatus::Running, PidVerdict::Stale) => PidState::Reused,
        // Running, but not inspectable: it may be the writer.
        (PidStatus::Running, PidVerdict::Unknown) => PidState::Unknown,
        (PidStatus::Dead, _) => PidState::Dead,
        _ if pf.host.is_some() => PidState::OtherHost,
        _ => PidState::Unknown,
    }
}

/// Whether `pid` runs: `Some(false)` when it is gone or has exited (a zombie),
/// `None` when it exists but could not be read (hidden from us).
fn alive(snap: &Snapshot, pid: i32) -> Option<bool> {
    match snap.process(pid) {
        Some(p) => Some(!p.state.is_some_and(ProcessState::has_exited)),
        None if snap.hidden_pids.contains(&pid) => None,
        None => Some(false),
    }
}

/// A lock the kernel's table does not list but `F_OFD_GETLK` reported: held by a
/// process outside this pid namespace (pid 0), or an OFD lock (pid -1). Its holders
/// cannot be named from here.
fn probed_lock(snap: &Snapshot, p: &ProbeReport) -> Option<LockReport> {
    let c = p.conflict.as_ref()?;
    if p.method != ProbeMethod::Getlk && p.method != ProbeMethod::GetlkAcquire {
        return None;
    }
    let locker_pid = c.pid.filter(|pid| *pid > 0);
    Some(LockReport {
        kind: c.kind,
        mode: c.mode,
        start: c.start,
        end: c.end,
        lease_state: None,
        holders: Vec::new(),
        waiters: Vec::new(),
        unidentified_waiters: Vec::new(),
        locker_pid,
        locker_alive: locker_pid.and_then(|pid| alive(snap, pid)),
        holders_uncertain: true,
        holder_evidence: HolderEvidence::Getlk,
        role: None,
        range_count: None,
        ranges: Vec::new(),
    })
}

/// What the convention's program will print to its next instance now, filled in;
/// `None` when its exclusion is not in force or a value it needs is unknown.
fn next_run_says(
    conv: &catalog::Convention,
    f: &catalog::Facts,
    locks: &[LockReport],
    pidfile: Option<&PidfileReport>,
    path: Option<&Path>,
) -> Option<String> {
    let template = conv.next_run?;
    let pid_alive = pidfile.is_some_and(|p| p.verdict == PidVerdict::Live);
    let in_force = if locks.iter().any(|l| l.role.is_some()) {
        // SQLite: only a writer makes the next one fail; readers share.
        locks
            .iter()
            .any(|l| l.role.as_ref().is_some_and(|r| r.writer))
    } else {
        match conv.discipline {
            Discipline::KernelLockKept | Discipline::KernelLockDeletedOnRelease => f.kernel_locked,
            Discipline::ExistenceOnly => true,
            Discipline::ExistencePid | Discipline::Symlink => {
                f.kernel_locked || pid_alive || conv.leftover_blocks
            }
            Discipline::HeartbeatDir | Discipline::DataFile => f.kernel_locked,
        }
    };
    if !in_force {
        return None;
    }
    let holder = locks.iter().flat_map(|l| l.holders.iter()).next();
    let named = pidfile.and_then(|p| p.process.as_ref());
    let pid = holder
        .map(|h| h.pid)
        .or(pidfile.and_then(|p| p.pid))
        .map(|p| p.to_string());
    let comm = holder.or(named).and_then(|p| p.command.clone());
    let path_text = path.map(|p| p.to_string_lossy().into_owned());
    let dir = path
        .and_then(Path::parent)
        .map(|d| d.to_string_lossy().into_owned());
    let mut out = template.to_string();
    for (key, value) in [
        ("{path}", path_text),
        ("{dir}", dir),
        ("{pid}", pid),
        ("{comm}", comm),
    ] {
        if out.contains(key) {
            out = out.replace(key, &value?);
        }
    }
    Some(out)
}

/// SQLite's lock bytes on a database (os_unix.c): PENDING_BYTE at 1 GiB, RESERVED
/// after it, then the 510-byte SHARED range.
const SQLITE_PENDING: u64 = 0x4000_0000;
const SQLITE_RESERVED: u64 = SQLITE_PENDING + 1;
const SQLITE_SHARED_FIRST: u64 = SQLITE_PENDING + 2;
const SQLITE_SHARED_LAST: u64 = SQLITE_SHARED_FIRST + 510 - 1;
/// SQLite's WAL-index locks in `-shm`: 8 one-byte locks from offset 120, then the
/// DMS byte that every connection holds a read lock on.
const SQLITE_WAL_LOCKS: u64 = 120;
const SQLITE_WAL_DMS: u64 = 128;

fn role(name: impl Into<String>, writer: bool, meaning: &str) -> Option<LockRole> {
    Some(LockRole {
        name: name.into(),
        writer,
        meaning: meaning.into(),
    })
}

/// What a lock means to SQLite, by its range, on a database (`shm == false`) or its
/// WAL index (`-shm`).
fn sqlite_role(l: &LockReport, shm: bool) -> Option<LockRole> {
    let write = l.mode == LockMode::Write;
    let one = |at: u64| l.start == at && l.end == Some(at);
    if !shm {
        return if one(SQLITE_PENDING) {
            role(
                "PENDING",
                true,
                "a writer waits for the readers to finish; no new reader may start",
            )
        } else if one(SQLITE_RESERVED) {
            role(
                "RESERVED",
                true,
                "a writer has begun a write transaction; readers may go on",
            )
        } else if l.start == SQLITE_SHARED_FIRST && l.end == Some(SQLITE_SHARED_LAST) {
            if write {
                role(
                    "EXCLUSIVE",
                    true,
                    "a writer is committing: nobody else may read or write",
                )
            } else {
                role(
                    "SHARED",
                    false,
                    "a reader: others may read too; it blocks only a commit",
                )
            }
        } else if (SQLITE_SHARED_FIRST..=SQLITE_SHARED_LAST).contains(&l.start) {
            role("SHARED", false, "a reader (one byte of the shared range)")
        } else {
            None
        };
    }
    match (l.start, l.end) {
        (s, Some(e)) if s == e && s == SQLITE_WAL_LOCKS => {
            role("WAL write", true, "the one writer of the WAL database")
        }
        (s, Some(e)) if s == e && s == SQLITE_WAL_LOCKS + 1 => role(
            "WAL checkpoint",
            write,
            "a checkpoint copies the WAL back into the database",
        ),
        (s, Some(e)) if s == e && s == SQLITE_WAL_LOCKS + 2 => {
            role("WAL recovery", true, "a connection rebuilds the WAL index")
        }
        (s, Some(e)) if s == e && (SQLITE_WAL_LOCKS + 3..SQLITE_WAL_DMS).contains(&s) => role(
            format!("WAL read mark {}", s - SQLITE_WAL_LOCKS - 3),
            false,
            if write {
                "a connection sets a reader's snapshot mark"
            } else {
                "a reader holds its snapshot of the WAL"
            },
        ),
        (s, _) if s == SQLITE_WAL_DMS => role(
            "WAL DMS",
            false,
            "a live connection to the database (the last one to leave cleans up the WAL)",
        ),
        _ => None,
    }
}

/// Names the SQLite locks of a database or its `-shm` file. A database is known by
/// its convention, or by locks at SQLite's own offsets (no other program uses 1 GiB).
/// Whether `conv` names its lock bytes one by one (SQLite's database lock bytes and
/// `-shm` slots): such ranges are never grouped, and get their roles.
fn sqlite_bytes_named(conv: Option<&catalog::Convention>) -> bool {
    conv.is_some_and(|c| matches!(c.name, "sqlite-wal-shm" | "sqlite-db-locks"))
}

/// Whether a range starts in SQLite's lock bytes (PENDING to the last SHARED byte),
/// which mark a database whatever its name.
fn is_sqlite_lock_byte(start: u64) -> bool {
    (SQLITE_PENDING..=SQLITE_SHARED_LAST).contains(&start)
}

fn name_sqlite_locks(
    locks: &mut [LockReport],
    conv: Option<&catalog::Convention>,
    path: Option<&Path>,
) {
    let shm = conv.is_some_and(|c| c.name == "sqlite-wal-shm")
        && path.is_some_and(|p| p.as_os_str().as_encoded_bytes().ends_with(b"-shm"));
    let db = conv.is_some_and(|c| c.name == "sqlite-db-locks")
        || locks.iter().any(|l| is_sqlite_lock_byte(l.start));
    if !shm && !db {
        return;
    }
    for l in locks.iter_mut() {
        l.role = sqlite_role(l, shm);
    }
}

/// Why the lock table may be missing locks on this file, if it may.
fn kernel_gap(snap: &Snapshot, probe: Option<&ProbeReport>) -> Option<String> {
    let v = &snap.visibility;
    match snap.platform {
        Platform::Windows => {
            let tried = probe.is_some_and(|p| {
                p.method == ProbeMethod::LockFileEx && p.result != ProbeResult::Error
            });
            (!tried).then(|| {
                "Windows keeps no lock table, and only --probe acquire shows a byte-range lock"
                    .to_string()
            })
        }
        Platform::Linux if !v.proc_locks_read => {
            Some("/proc/locks could not be read, so its locks are unknown".into())
        }
        Platform::Linux if v.pid_namespace_filtered => Some(
            "this /proc belongs to a child pid namespace, whose lock table leaves out every lock \
             held by a process outside it (F_OFD_GETLK still shows POSIX and OFD locks; a flock \
             lock held outside cannot be seen from here at all)"
                .into(),
        ),
        Platform::Linux => None,
    }
}

/// Why processes that have a file open may be unseen, if they may.
fn open_gap(snap: &Snapshot) -> Option<String> {
    let v = &snap.visibility;
    if snap.platform == Platform::Windows && !v.handle_table_read {
        return Some("the system handle table could not be read".into());
    }
    if snap.platform == Platform::Linux && v.pid_namespace_filtered {
        return Some(
            "this pid namespace cannot see the processes outside it, one of which may be using it"
                .into(),
        );
    }
    if let Some(opts) = &v.proc_restricted {
        return Some(format!(
            "/proc is mounted with {opts}, which hides other users' processes from this scan, \
             so one of them may be using it"
        ));
    }
    (v.processes_denied > 0).then(|| {
        "other processes could not be inspected, so one of them may still be using it".into()
    })
}

/// Running (not exited) processes whose name is one of the convention's programs.
fn program_pids(snap: &Snapshot, conv: &catalog::Convention) -> Vec<i32> {
    let mut pids: Vec<i32> = snap
        .process_names
        .iter()
        .filter(|(_, n)| catalog::exe_matches(conv, n) == Some(true))
        .map(|(p, _)| *p)
        .filter(|p| alive(snap, *p) != Some(false))
        .collect();
    pids.sort_unstable();
    pids
}

/// Those of `pids` that may own a file of `conv` at `path`, described for a person,
/// and whether each is known to work there (false when a working directory could
/// not be read; always true for host-wide conventions).
fn in_scope(
    snap: &Snapshot,
    conv: &catalog::Convention,
    path: Option<&Path>,
    pids: &[i32],
) -> (Vec<String>, bool) {
    let describe = |pid: i32| match snap.process(pid) {
        Some(p) => {
            let words: Vec<&str> = p.cmdline.split_whitespace().take(3).collect();
            let what = if words.is_empty() {
                p.command.clone()
            } else {
                words.join(" ")
            };
            format!("pid {pid} ({what})")
        }
        None => format!("pid {pid}"),
    };
    let tree = match (conv.program_scope, path) {
        (catalog::ProgramScope::Repository, Some(p)) => work_tree(p),
        _ => None,
    };
    let mut certain = true;
    let listed = pids
        .iter()
        .copied()
        .filter(|pid| match &tree {
            // A process whose working directory cannot be read might work there.
            Some(tree) => match snap.process(*pid).and_then(|p| p.cwd.as_ref()) {
                Some(cwd) => cwd.starts_with(tree),
                None => {
                    certain = false;
                    true
                }
            },
            None => true,
        })
        .map(describe)
        .collect();
    (listed, certain)
}

/// The work tree of the git repository holding `path` (the directory above its
/// `.git`), or the bare repository itself.
fn work_tree(path: &Path) -> Option<PathBuf> {
    path.ancestors().skip(1).find_map(|a| {
        let name = a.file_name()?.as_encoded_bytes();
        if name == b".git" {
            a.parent().map(Path::to_path_buf)
        } else if name.len() > 4 && name.ends_with(b".git") {
            Some(a.to_path_buf())
        } else {
            None
        }
    })
}

/// Whether a file is locked, as far as this scan can tell: held when a lock on it is
/// in the table (or a probe found one), free only when this host's view of its locks
/// is complete, unknown otherwise.
fn lock_state(
    snap: &Snapshot,
    locks: &[LockReport],
    fs: Option<&FilesystemReport>,
    probe: Option<&ProbeReport>,
) -> LockState {
    let probed = probe.map(|p| p.result);
    if !locks.is_empty()
        || matches!(
            probed,
            Some(ProbeResult::Held | ProbeResult::HeldShared | ProbeResult::HeldExclusive)
        )
    {
        return LockState::Held;
    }
    let v = &snap.visibility;
    let complete = match snap.platform {
        // No lock table: only a momentary LockFileEx tells.
        Platform::Windows => {
            probe.is_some_and(|p| p.method == ProbeMethod::LockFileEx)
                && probed == Some(ProbeResult::Free)
        }
        Platform::Linux => {
            v.proc_locks_read && !v.pid_namespace_filtered && !fs.is_some_and(|f| f.remote)
        }
    };
    if complete {
        LockState::Free
    } else {
        LockState::Unknown
    }
}

/// Builds the file reports. `roots` is `None` for a whole-system scan.
pub fn build_files<'a>(
    snap: &'a Snapshot,
    mut cands: Vec<Candidate>,
    mut probes: HashMap<PathBuf, ProbeReport>,
    roots: Option<&[PathBuf]>,
) -> Vec<FileReport> {
    let ctx = Ctx::new(snap);
    // Special files are reported as errors by the caller.
    cands.retain(|c| c.stat.file_type.is_examinable());
    // Locked files found, by key and (on btrfs) subvolume. Only locked ones: the walk
    // may find a million unlocked files, and this set is only asked about locked keys.
    let mut by_key: HashSet<(FileKey, Option<Subvol>)> = HashSet::new();
    // Every subvolume known to hold a file of each btrfs key: a lock on that key whose
    // holder cannot be seen may be on any of them.
    let mut subvols_of: HashMap<FileKey, HashSet<Subvol>> = HashMap::new();
    for c in &cands {
        let sub = c.key.and_then(|k| ctx.subvol_of(k, c.stat.st_dev));
        if let Some(k) = c.key.filter(|k| ctx.locks_by_key.contains_key(k)) {
            by_key.insert((k, sub));
        }
        if let (Some(k), Some(s)) = (c.key, sub) {
            subvols_of.entry(k).or_default().insert(s);
        }
    }
    let found_keys: HashSet<FileKey> = by_key.iter().map(|(k, _)| *k).collect();
    let mut unfound: Vec<Entry<'a>> = Vec::new();
    // Locked inodes not found by the walk: all of them for a system scan; under the
    // roots, those whose holders' paths lead there (unlinked or replaced lockfiles).
    // On btrfs one key is a file per subvolume its locks are on.
    let mut locked: Vec<(FileKey, Option<Subvol>)> = ctx
        .locks_by_key
        .iter()
        .flat_map(|(k, lines)| {
            let subs: Vec<Option<Subvol>> = lines
                .iter()
                .filter_map(|i| ctx.line_subvol.get(i).copied())
                .collect();
            if subs.is_empty() {
                vec![(*k, None)] // not btrfs (or only waiters)
            } else {
                subs.into_iter().map(|s| (*k, s)).collect()
            }
        })
        .collect();
    locked.sort_unstable();
    locked.dedup();
    for (key, sub) in locked {
        let covered = match sub {
            Some(_) => by_key.contains(&(key, sub)),
            // A lock whose subvolume is unknown is judged on the files found.
            None => found_keys.contains(&key),
        };
        if covered {
            continue;
        }
        let fds: Vec<&OpenFd> = ctx
            .fds(key)
            .filter(|f| sub.is_none() || f.st_dev == sub)
            .collect();
        let own = |f: &OpenFd| f.mnt_id.is_some_and(|m| snap.own_mount_ids.contains(&m));
        let best = fds
            .iter()
            .filter(|f| own(f))
            .min_by_key(|f| (f.deleted, f.locks.is_empty(), f.pid, f.fd))
            .or_else(|| fds.iter().min_by_key(|f| (f.deleted, f.pid, f.fd)));
        let path = best.and_then(|f| f.path.as_deref());
        if let Some(roots) = roots {
            match (path, best) {
                (Some(p), Some(f)) if own(f) && under_roots(p, roots) => {}
                _ => continue,
            }
        }
        by_key.insert((key, sub));
        let sub = sub.or_else(|| best.and_then(|f| f.st_dev));
        if let Some(s) = sub {
            subvols_of.entry(key).or_default().insert(s);
        }
        unfound.push(Entry {
            deleted: best.is_some_and(|f| f.deleted),
            replaced: best.is_some_and(|f| f.replaced),
            path,
            cand: None,
            key: Some(key),
            sub,
        });
    }

    // The running processes of each convention's program, found once per convention.
    let mut running: HashMap<&'static str, Vec<i32>> = HashMap::new();
    for r in cands.iter().filter_map(|c| c.exam.recognised.as_ref()) {
        if !r.conv.exe_names.is_empty() && !running.contains_key(r.conv.name) {
            running.insert(r.conv.name, program_pids(snap, r.conv));
        }
    }
    for f in &snap.open_fds {
        if let (Some(k), Some(s)) = (f.key, f.st_dev) {
            subvols_of.entry(k).or_default().insert(s);
        }
    }
    for (&i, s) in &ctx.line_subvol {
        if let (Some(k), Some(s)) = (snap.locks.lines[i].key, s) {
            subvols_of.entry(k).or_default().insert(*s);
        }
    }
    let open_gap = open_gap(snap);
    // A locked inode no longer at its path (replaced, unlinked) is still the file its
    // name says: it takes the examination of the file found there now. Only those
    // few paths are indexed (and their examinations copied: the candidates are
    // consumed below).
    let unfound_paths: HashSet<&'a Path> = unfound.iter().filter_map(|e| e.path).collect();
    let found_at: HashMap<&'a Path, Exam> = if unfound_paths.is_empty() {
        HashMap::new()
    } else {
        cands
            .iter()
            .filter_map(|c| {
                let at = unfound_paths.get(c.path.as_path())?;
                Some((*at, c.exam.clone()))
            })
            .collect()
    };
    let build = higher_ranked(
        |e: &Entry<'_>, probe: Option<Box<ProbeReport>>| -> FileReport {
            let cand = e.cand;
            let exam = cand
                .map(|c| &c.exam)
                .or_else(|| e.path.and_then(|p| found_at.get(p)));
            let key = e.key;
            // A probe result belongs to the file the walk found at that path (not to an
            // unlinked or replaced inode that a holder still names by it).
            // (Most scans probe nothing: no path is hashed then.)
            let mut locks: Vec<LockReport> = Vec::new();
            // A lock on this key that may be this file's or another subvolume's.
            let mut ambiguous = false;
            if let Some(k) = key {
                // POSIX ranges one process holds with one type and mode, and nobody
                // waits for, are one entry (a database locking 100,000 records is one
                // holder, not 100,000 copies of it): by (mode, pid), its index.
                let mut range_groups: HashMap<(LockMode, i32), usize> = HashMap::new();
                // Where each byte has a meaning (SQLite's lock bytes and -shm slots are
                // named one by one), nothing is grouped.
                let bytes_have_roles =
                    sqlite_bytes_named(exam.and_then(|x| x.recognised.as_ref()).map(|r| r.conv));
                for &i in ctx.locks_by_key.get(&k).into_iter().flatten() {
                    let line = &snap.locks.lines[i];
                    if line.depth != 0 {
                        continue;
                    }
                    let groupable = line.kind == LockKind::Posix
                        && !bytes_have_roles
                        && !is_sqlite_lock_byte(line.start)
                        && line.pid > 0
                        && line.lease_state.is_none()
                        && !ctx.waiters_of.contains_key(&i)
                        && !ctx.line_subvol.contains_key(&i);
                    if groupable && let Some(&at) = range_groups.get(&(line.mode, line.pid)) {
                        locks[at].add_range(line.start, line.end);
                        continue;
                    }
                    let mine = match (ctx.line_subvol.get(&i), e.sub) {
                        (None, _) | (Some(_), None) => true, // not btrfs, or cannot tell
                        (Some(Some(d)), Some(s)) => *d == s,
                        (Some(None), Some(s)) => {
                            let elsewhere = subvols_of
                                .get(&k)
                                .is_some_and(|v| v.iter().any(|o| *o != s));
                            ambiguous |= elsewhere;
                            !elsewhere
                        }
                    };
                    if mine {
                        if groupable {
                            range_groups.insert((line.mode, line.pid), locks.len());
                        }
                        locks.push(ctx.lock_report(i, k));
                    }
                }
                for l in locks.iter_mut().filter(|l| !l.ranges.is_empty()) {
                    l.sort_ranges();
                }
            }
            let ambiguous = (ambiguous && locks.is_empty()).then(|| btrfs_ambiguity(e.path));
            if locks.is_empty()
                && let Some(lock) = probe.as_deref().and_then(|p| probed_lock(snap, p))
            {
                locks.push(lock);
            }
            // Holders and waiters are listed with their locks; open_by is everyone else.
            let listed: HashSet<i32> = locks
                .iter()
                .flat_map(|l| {
                    l.holders
                        .iter()
                        .map(|h| h.pid)
                        .chain(l.waiters.iter().map(|w| w.process.pid))
                })
                .collect();
            let mut open_by: Vec<ProcessRef> = key
                .map(|k| {
                    ctx.fds(k)
                        .filter(|f| e.sub.is_none() || f.st_dev.is_none() || f.st_dev == e.sub)
                        .filter(|f| f.locks.is_empty() && !listed.contains(&f.pid))
                        .map(|f| ctx.pref(f.pid, Some(f)))
                        .collect()
                })
                .unwrap_or_default();
            // Processes a per-file API names but whose handles were not seen (Windows
            // services and other users' processes, without admin rights).
            for &pid in key.map_or(&[][..], |k| ctx.per_file_pids(k)) {
                if !listed.contains(&pid) && !open_by.iter().any(|p| p.pid == pid) {
                    open_by.push(ctx.pref(pid, None));
                }
            }
            open_by.sort_by_key(|p| (p.pid, p.fd));
            let name_kind = cand.and_then(|c| c.name_kind).or_else(|| {
                e.path
                    .and_then(|p| p.file_name())
                    .and_then(names::classify)
                    .map(|r| r.kind)
            });
            let kind = match name_kind {
                Some(k) => k.into(),
                None if !locks.is_empty() => FileKind::LockedFile,
                None => FileKind::File,
            };
            let symlink_target = cand
                .and_then(|c| c.symlink_target.as_ref())
                .map(|t| t.to_string_lossy().into_owned());
            let content = exam.and_then(|x| x.content.as_deref());
            let found = exam.and_then(|x| x.recognised.as_ref());
            // Conventions known only by their program (flock(1) locks any path):
            // recognised by the process that holds the lock.
            let by_holder = found
                .is_none_or(|r| r.conv.generic)
                .then(|| {
                    locks
                        .iter()
                        .flat_map(|l| l.holders.iter().map(|h| h.pid).chain(l.locker_pid))
                        .find_map(|pid| {
                            snap.process_names
                                .get(&pid)
                                .and_then(|n| catalog::by_holder(n))
                        })
                })
                .flatten()
                .map(|conv| Recognised {
                    conv,
                    parsed: Default::default(),
                });
            let rec = by_holder.as_ref().or(found);
            name_sqlite_locks(&mut locks, rec.map(|r| r.conv), e.path);
            let pidfile = pidfile_report(
                snap,
                content,
                name_kind,
                symlink_target.as_deref(),
                cand.map(|c| c.stat.mtime),
                rec,
            )
            .map(Box::new);
            let (convention, safe_to_delete) = match rec {
                Some(r) => {
                    let site_locked = exam
                        .and_then(|x| x.lock_site_key.as_deref())
                        .copied()
                        .flatten()
                        .is_some_and(|k| ctx.locks_by_key.contains_key(&k));
                    let scoped = running
                        .get(r.conv.name)
                        .map(|pids| in_scope(snap, r.conv, e.path, pids));
                    let facts = catalog::Facts {
                        kernel_locked: !locks.is_empty() || site_locked,
                        open_by_any: !open_by.is_empty()
                            || locks.iter().any(|l| !l.holders.is_empty()),
                        kernel_gap: kernel_gap(snap, probe.as_deref()),
                        lock_unresolved: ambiguous.clone(),
                        open_gap: open_gap.clone(),
                        pid: pid_state(pidfile.as_deref()),
                        age_secs: cand
                            .and_then(|c| u64::try_from(c.stat.mtime).ok())
                            .map(|m| snap.taken_at.saturating_sub(m)),
                        same_host: r.parsed.host.as_deref().map(|h| h == snap.host),
                        dirty: r.parsed.dirty,
                        program: scoped.as_ref().map(|s| s.0.clone()),
                        program_certain: scoped.as_ref().is_some_and(|s| s.1),
                    };
                    let (v, reason) = catalog::safe_to_delete(r.conv, &facts);
                    let says = next_run_says(r.conv, &facts, &locks, pidfile.as_deref(), e.path);
                    (
                        Some(ctx.convention(r.conv, says)),
                        Some(SafeToDelete {
                            verdict: v,
                            reason: ctx.intern(reason),
                        }),
                    )
                }
                None => (None, None),
            };
            let st = cand.map(|c| &c.stat);
            let filesystem = ctx.fs(key, cand);
            let lock_state = if ambiguous.is_some() {
                LockState::Unknown
            } else {
                lock_state(snap, &locks, filesystem.as_deref(), probe.as_deref())
            };
            let (path, path_bytes) = e.path.map(path_fields).unzip();
            FileReport {
                path,
                path_bytes: path_bytes.flatten(),
                kind,
                device: key.map(|k| Device {
                    major: k.major,
                    minor: k.minor,
                }),
                inode: key.map(|k| k.ino).or(st.map(|s| s.ino)),
                file_type: st.map(|s| s.file_type),
                size: st.map(|s| s.size),
                mode: st.and_then(|s| s.mode).map(Perm),
                uid: st.and_then(|s| s.uid),
                owner: st.and_then(|s| s.uid).and_then(|u| ctx.owner(u)),
                mtime: st.and_then(|s| Timestamp::from_signed(s.mtime)),
                dir_mode: cand.and_then(|c| c.dir_mode).map(Perm),
                dir_uid: cand.and_then(|c| c.dir_uid),
                deleted: e.deleted,
                replaced: e.replaced,
                symlink_target,
                filesystem,
                locks,
                open_by,
                pidfile,
                convention,
                safe_to_delete,
                probe,
                findings: Vec::new(),
                lock_state,
                lock_state_reason: ambiguous,
                advice: Advice::default(),
            }
        },
    );
    // The reports are made from the candidates a chunk at a time, from the end, each
    // chunk's candidates freed (and the list shrunk) once their reports exist: the
    // candidates and the reports of a million files are never all in memory at once.
    const CHUNK: usize = 4096;
    let mut files: Vec<FileReport> = Vec::with_capacity(cands.len() + unfound.len());
    while !cands.is_empty() {
        let chunk = cands.split_off(cands.len().saturating_sub(CHUNK));
        cands.shrink_to_fit();
        let entries: Vec<Entry<'_>> = chunk
            .iter()
            .map(|c| Entry {
                path: Some(&c.path),
                cand: Some(c),
                key: c.key,
                sub: c.key.and_then(|k| ctx.subvol_of(k, c.stat.st_dev)),
                deleted: false,
                replaced: false,
            })
            .collect();
        // A probe result belongs to the file the walk found at that path (not to an
        // unlinked or replaced inode that a holder still names by it).
        // (Most scans probe nothing: no path is hashed then.)
        let probed: Vec<Option<Box<ProbeReport>>> = chunk
            .iter()
            .map(|c| {
                (!probes.is_empty())
                    .then(|| probes.remove(&c.path))
                    .flatten()
                    .map(Box::new)
            })
            .collect();
        files.extend(build_in_two(&entries, probed, &build));
    }
    let probed = (0..unfound.len()).map(|_| None).collect();
    files.extend(build_in_two(&unfound, probed, &build));
    sort_in_report_order(&mut files);
    files
}

/// Gives a closure building one report the signature that takes entries of any
/// lifetime (each chunk's entries borrow that chunk).
fn higher_ranked<F>(f: F) -> F
where
    F: for<'e> Fn(&Entry<'e>, Option<Box<ProbeReport>>) -> FileReport,
{
    f
}

/// Sorts reports by their path's exact bytes, then deleted after not, then inode:
/// the report's order. The walk's order is the directories' and differs from run to
/// run. The order is found on indices and applied by swaps along its cycles, so
/// that no second copy of the reports is made.
fn sort_in_report_order(files: &mut [FileReport]) {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&files[a], &files[b]);
        raw_path(x.path.as_deref(), x.path_bytes.as_ref())
            .cmp(&raw_path(y.path.as_deref(), y.path_bytes.as_ref()))
            .then(x.deleted.cmp(&y.deleted))
            .then(x.inode.cmp(&y.inode))
    });
    // files[i] must become the old files[order[i]].
    let mut done = vec![false; files.len()];
    for start in 0..files.len() {
        let mut at = start;
        while !done[at] {
            done[at] = true;
            let next = order[at];
            if next == start {
                break;
            }
            files.swap(at, next);
            at = next;
        }
    }
}

/// `build` of every entry, in order: the first half on this thread, the second on
/// another (one CPU: both here), each writing straight into its half of the result
/// (no second copy of a million reports while they are joined).
fn build_in_two<'e, E: Sync, P: Send>(
    entries: &'e [E],
    probed: Vec<P>,
    build: &(dyn Fn(&'e E, P) -> FileReport + Sync),
) -> Vec<FileReport> {
    let n = entries.len();
    assert_eq!(probed.len(), n);
    if n < 64 || crate::sys::worker_threads() < 2 {
        return entries
            .iter()
            .zip(probed)
            .map(|(e, p)| build(e, p))
            .collect();
    }
    let half = n / 2;
    let mut probed = probed;
    let second_probed = probed.split_off(half);
    let mut out: Vec<FileReport> = Vec::with_capacity(n);
    let (mine, theirs) = out.spare_capacity_mut()[..n].split_at_mut(half);
    std::thread::scope(|s| {
        s.spawn(|| {
            for ((slot, e), p) in theirs.iter_mut().zip(&entries[half..]).zip(second_probed) {
                slot.write(build(e, p));
            }
        });
        for ((slot, e), p) in mine.iter_mut().zip(&entries[..half]).zip(probed) {
            slot.write(build(e, p));
        }
    });
    // SAFETY: both loops ran to the end (a panic in either thread propagates out of
    // `scope` before this line, leaking what was written, never exposing a gap), and
    // they wrote slots 0..half and half..n, each exactly once.
    unsafe { out.set_len(n) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reports made a chunk at a time from the end come out in report order: by the
    /// path's exact bytes, then deleted after not, then inode, whatever order they
    /// were made in (the swaps along the permutation's cycles lose nothing).
    #[test]
    fn reports_made_in_any_order_are_sorted_into_report_order() {
        let mut files: Vec<FileReport> = Vec::new();
        // A scrambled order: multiplying by a unit modulo a prime visits every index.
        for k in 0..997u64 {
            let i = (k * 389) % 997;
            let mut f = crate::model::sample::file(&format!("/d/{i:04}"), FileKind::Lockfile);
            f.inode = Some(1000 - i);
            files.push(f);
        }
        // Same path twice: the deleted one after, then by inode.
        let mut gone = crate::model::sample::file("/d/0500", FileKind::Lockfile);
        gone.deleted = true;
        gone.inode = Some(1);
        files.insert(3, gone);
        let mut other = crate::model::sample::file("/d/0500", FileKind::Lockfile);
        other.inode = Some(2);
        files.insert(700, other);
        sort_in_report_order(&mut files);
        let keys: Vec<(String, bool, Option<u64>)> = files
            .iter()
            .map(|f| (f.path.clone().unwrap(), f.deleted, f.inode))
            .collect();
        let mut want = keys.clone();
        want.sort();
        assert_eq!(keys, want);
        assert_eq!(keys.len(), 999);
    }

    /// The reports built on two threads come out one per entry, in the entries'
    /// order, each with its own probe, at every size around the threshold.
    #[test]
    fn reports_built_in_two_halves_keep_the_entries_order() {
        for n in [0usize, 1, 63, 64, 65, 1001] {
            let entries: Vec<usize> = (0..n).collect();
            let probed: Vec<usize> = (0..n).map(|i| i * 10).collect();
            let build = |e: &usize, p: usize| {
                assert_eq!(p, e * 10, "entry {e} got another entry's probe");
                crate::model::sample::file(&format!("/f/{e}"), FileKind::Lockfile)
            };
            let out = build_in_two(&entries, probed, &build);
            let paths: Vec<String> = out.iter().map(|f| f.path.clone().unwrap()).collect();
            let want: Vec<String> = (0..n).map(|e| format!("/f/{e}")).collect();
            assert_eq!(paths, want, "{n} entries");
        }
    }

    /// The regression: a pidfile naming kthreadd (pid 2, started at boot, so no
    /// start-time evidence) was "running, do not delete".
    #[test]
    fn a_pid_that_is_a_kernel_thread_is_reused_never_live() {
        let mut snap = Snapshot {
            taken_at: 10_000,
            boot_time: Some(1_000),
            ..Default::default()
        };
        for (pid, kernel_thread) in [(2, true), (4242, false)] {
            snap.processes.insert(
                pid,
                ProcessInfo {
                    pid,
                    command: if kernel_thread { "kthreadd" } else { "app" }.into(),
                    started_at: Some(1_001),
                    state: Some(ProcessState::Sleeping),
                    kernel_thread,
                    ..Default::default()
                },
            );
        }
        let report = |pid| {
            pidfile_report(
                &snap,
                Some(&PidContent::Pid(pid)),
                Some(NameKind::Pidfile),
                None,
                Some(9_000),
                None,
            )
            .unwrap()
        };
        let k = report(2);
        assert_eq!(
            (k.status, k.verdict),
            (PidStatus::Running, PidVerdict::Stale)
        );
        assert!(
            k.reason
                .as_deref()
                .unwrap()
                .contains("kernel thread kthreadd"),
            "{k:?}"
        );
        assert!(k.process.as_ref().unwrap().kernel_thread);
        assert_eq!(pid_state(Some(&k)), catalog::PidState::Reused);
        // The same facts without the flag: the writer, alive.
        let a = report(4242);
        assert_eq!(
            (a.status, a.verdict),
            (PidStatus::Running, PidVerdict::Live)
        );
        assert!(!a.process.as_ref().unwrap().kernel_thread);
        let json = serde_json::to_value(a.process.unwrap()).unwrap();
        assert!(json.get("kernel_thread").is_none(), "{json:#}");
    }
}
