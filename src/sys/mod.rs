//! The system snapshot: every fact a scan needs, gathered once.
//!
//! Platform backends (`linux`, later `windows`) fill one [`Snapshot`]; the scanner,
//! correlation, diagnosis and rendering above it never touch the operating system's
//! lock tables directly, so they are the same on every platform and testable on
//! fixtures.

pub mod timing;
pub mod types;
#[cfg(unix)]
pub mod users;

#[cfg(target_os = "linux")]
pub mod linux;
#[cfg(windows)]
pub mod windows;

use std::collections::{HashMap, HashSet};
use std::path::Path;

pub use types::*;

/// A failure to read one source; the scan continues without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// What was being read (`/proc/locks`, `/proc/1234/fd`, ...).
    pub source: String,
    pub error: String,
}

/// Everything known about the system's locks at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Seconds since the Unix epoch when gathering started.
    pub taken_at: u64,
    pub host: String,
    pub platform: Platform,
    /// Boot time, seconds since the Unix epoch.
    pub boot_time: Option<u64>,
    /// The kernel's lock table (read once).
    pub locks: ProcLocks,
    /// Mounts by mount id: ours, plus those of other mount namespaces that holders live in.
    pub mounts: HashMap<u64, Mount>,
    /// Mount ids that belong to our own mount namespace (paths from those are valid here).
    pub own_mount_ids: HashSet<u64>,
    /// Open fds of every process that refer to regular files (with their locks).
    pub open_fds: Vec<OpenFd>,
    /// Processes referenced by locks, fds or pidfiles.
    pub processes: HashMap<i32, ProcessInfo>,
    /// uid → user name.
    pub users: HashMap<u32, String>,
    /// Short name (`comm`) of every process seen, to tell whether a program runs at all.
    pub process_names: HashMap<i32, String>,
    /// Waiter lines whose pid the lock table does not give (OFD waiters print -1),
    /// resolved to the (pid, fd) blocked on that file: line index → (pid, fd).
    pub resolved_waiters: HashMap<usize, (i32, i32)>,
    pub visibility: Visibility,
    pub errors: Vec<SourceError>,
    /// Every process the platform lists in one call (Windows), kept so that pids
    /// found later (in pidfiles) need no second listing; `None` on Linux, which reads
    /// each process from /proc on demand.
    pub all_processes: Option<HashMap<i32, ProcessInfo>>,
    /// Pids that exist (a signal 0 reaches them) but whose process could not be read:
    /// hidden by `hidepid=`, or not ours to inspect. Never "dead".
    pub hidden_pids: HashSet<i32>,
    /// Processes that a per-file API says have the file open (Windows
    /// `FileProcessIdsUsingFileInformation`), by file: it also names processes whose
    /// handles could not be read, but not which handle.
    pub open_by_pids: HashMap<FileKey, Vec<i32>>,
    /// Mounts whose server did not answer within the deadline: nothing more is asked
    /// of them for the rest of the scan. Filled while the scan runs (the walk, the
    /// examination and the probes see the snapshot shared), hence the cell.
    pub unresponsive: Unresponsive,
    /// How long a call that may wait on a filesystem server may stay silent before
    /// it is abandoned; `None`: [`DEFAULT_MOUNT_TIMEOUT`].
    pub mount_timeout: Option<std::time::Duration>,
}

/// How long a network or FUSE server may leave one of lockscan's calls unanswered.
pub const DEFAULT_MOUNT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

impl Snapshot {
    /// The mount `mnt_id` when its files are served by something that may not
    /// answer (NFS, SMB, FUSE, a cluster filesystem): every call that touches such
    /// a file goes through [`Snapshot::guarded`].
    pub fn served_mount(&self, mnt_id: Option<u64>) -> Option<&Mount> {
        mnt_id
            .and_then(|id| self.mounts.get(&id))
            .filter(|m| m.served())
    }

    /// The mount of our namespace that `path` (absolute, as written) lies on: the
    /// longest mount point that is a prefix of it.
    pub fn mount_of_path(&self, path: &Path) -> Option<&Mount> {
        self.mounts
            .values()
            .filter(|m| self.own_mount_ids.contains(&m.mount_id))
            .filter(|m| path.starts_with(&m.mount_point))
            .max_by_key(|m| (m.mount_point.as_os_str().len(), m.mount_id))
    }

    /// Whether any mount of our namespace is served (and so a path lookup that
    /// crosses a symlink could end up waiting on its server).
    pub fn any_served_mount(&self) -> bool {
        self.mounts
            .values()
            .any(|m| self.own_mount_ids.contains(&m.mount_id) && m.served())
    }

    /// The mounts that did not answer in this scan. A mutex, so that the snapshot
    /// can be shared by threads (one that panicked poisons nothing here: a list
    /// is whole after every push).
    pub fn unresponsive_mounts(&self) -> std::sync::MutexGuard<'_, Vec<UnresponsiveMount>> {
        self.unresponsive
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `mount` already failed to answer in this scan.
    pub fn is_unresponsive(&self, mount_id: u64) -> bool {
        self.unresponsive_mounts()
            .iter()
            .any(|u| u.mount_id == mount_id)
    }

    /// Runs `work`, which may wait on `mount`'s server, where lockscan can abandon
    /// it (a child process; see `sys::linux::guard`). `None` when the mount did not
    /// answer now or earlier in this scan (it is then recorded as unresponsive and
    /// never asked again), or when the helper failed. `during` says what was being
    /// done, for the report.
    pub fn guarded<F>(&self, mount: &Mount, during: &str, work: F) -> Option<Vec<u8>>
    where
        F: FnOnce(&mut Progress) -> Vec<u8>,
    {
        if self.is_unresponsive(mount.mount_id) {
            return None;
        }
        let idle = self.mount_timeout.unwrap_or(DEFAULT_MOUNT_TIMEOUT);
        match run_guarded(idle, work) {
            GuardOutcome::Done(bytes) => Some(bytes),
            GuardOutcome::TimedOut { waited } => {
                self.unresponsive_mounts().push(UnresponsiveMount {
                    mount_id: mount.mount_id,
                    mount_point: mount.mount_point.clone(),
                    fstype: mount.fstype.clone(),
                    source: mount.source.clone(),
                    waited_ms: waited.as_millis() as u64,
                    during: during.to_string(),
                });
                None
            }
            GuardOutcome::Failed(_) => None,
        }
    }

    /// Index of locks by file key: granted locks and waiters.
    pub fn locks_by_key(&self) -> HashMap<FileKey, Vec<usize>> {
        let mut map: HashMap<FileKey, Vec<usize>> = HashMap::new();
        for (i, line) in self.locks.lines.iter().enumerate() {
            if let Some(key) = line.key {
                map.entry(key).or_default().push(i);
            }
        }
        map
    }

    /// Index of open fds by file key.
    pub fn fds_by_key(&self) -> HashMap<FileKey, Vec<usize>> {
        let mut map: HashMap<FileKey, Vec<usize>> = HashMap::new();
        for (i, fd) in self.open_fds.iter().enumerate() {
            if let Some(key) = fd.key {
                map.entry(key).or_default().push(i);
            }
        }
        map
    }

    /// The mount that holds files of `key`'s device, preferring one of our own namespace.
    pub fn mount_for_device(&self, major: u32, minor: u32) -> Option<&Mount> {
        let mut best: Option<&Mount> = None;
        for m in self.mounts.values() {
            if m.major != major || m.minor != minor {
                continue;
            }
            let own = self.own_mount_ids.contains(&m.mount_id);
            best = match best {
                None => Some(m),
                Some(b) => {
                    let b_own = self.own_mount_ids.contains(&b.mount_id);
                    // Prefer our namespace, then the mount of the filesystem's root
                    // (shortest root), then the lowest id for a stable answer.
                    let better = (
                        own,
                        std::cmp::Reverse(m.root.as_os_str().len()),
                        std::cmp::Reverse(m.mount_id),
                    ) > (
                        b_own,
                        std::cmp::Reverse(b.root.as_os_str().len()),
                        std::cmp::Reverse(b.mount_id),
                    );
                    if better { Some(m) } else { Some(b) }
                }
            };
        }
        best
    }

    pub fn process(&self, pid: i32) -> Option<&ProcessInfo> {
        self.processes.get(&pid)
    }

    /// The kernel's lock table lists every lock this host holds: it was read, in the
    /// initial pid namespace. Windows has no lock table.
    pub fn lock_table_complete(&self) -> bool {
        let v = &self.visibility;
        self.platform == Platform::Linux && v.proc_locks_read && !v.pid_namespace_filtered
    }

    /// Every process's open files were seen: none was denied or hidden (hidepid, a
    /// child pid namespace; on Windows, an unreadable handle table).
    pub fn open_files_complete(&self) -> bool {
        let v = &self.visibility;
        let listed = match self.platform {
            Platform::Linux => !v.pid_namespace_filtered,
            Platform::Windows => v.handle_table_read,
        };
        listed && v.processes_denied == 0 && v.proc_restricted.is_none()
    }

    /// Files that carry a lease or delegation: opening them (even
    /// `O_RDONLY|O_NONBLOCK`) would start a lease break, so they are never read or
    /// probed.
    pub fn leased_keys(&self) -> HashSet<FileKey> {
        self.locks
            .lines
            .iter()
            .filter(|l| matches!(l.kind, LockKind::Lease | LockKind::Deleg))
            .filter_map(|l| l.key)
            .collect()
    }

    /// The parent chain of `pid` (nearest first), up to pid 1, with each parent's
    /// short name where known. Stops at 32 levels (a corrupt table cannot loop).
    pub fn parent_chain(&self, pid: i32) -> Vec<(i32, Option<&str>)> {
        let mut out = Vec::new();
        let mut cur = self.process(pid).and_then(|p| p.ppid);
        while let Some(pp) = cur {
            if pp <= 0 || out.len() > 32 {
                break;
            }
            let p = self.process(pp);
            let name = p
                .map(|p| p.command.as_str())
                .or_else(|| self.process_names.get(&pp).map(String::as_str));
            out.push((pp, name));
            if pp == 1 {
                break;
            }
            cur = p.and_then(|p| p.ppid);
        }
        out
    }
}

/// Seconds since the Unix epoch now (the snapshot's `taken_at`).
fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What the scanner wants the backend to look at beyond the lock table.
#[derive(Debug, Clone, Default)]
pub struct GatherOptions {
    /// Extra pids whose process context is wanted (e.g. pids read from pidfiles).
    pub extra_pids: Vec<i32>,
    /// See [`Snapshot::mount_timeout`].
    pub mount_timeout: Option<std::time::Duration>,
}

/// The mounts that did not answer (see [`Snapshot::unresponsive_mounts`]).
#[derive(Debug, Default)]
pub struct Unresponsive(std::sync::Mutex<Vec<UnresponsiveMount>>);

impl Clone for Unresponsive {
    fn clone(&self) -> Self {
        let list = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Unresponsive(std::sync::Mutex::new(list.clone()))
    }
}

#[cfg(target_os = "linux")]
pub use linux::guard::{Guarded as GuardOutcome, Progress, run as run_guarded};

/// Where no filesystem call can hang the process for good, guarded work runs inline.
#[cfg(not(target_os = "linux"))]
pub enum GuardOutcome {
    Done(Vec<u8>),
    #[allow(dead_code)]
    TimedOut {
        waited: std::time::Duration,
    },
    #[allow(dead_code)]
    Failed(String),
}

/// Progress of inline guarded work (nothing to report to).
#[cfg(not(target_os = "linux"))]
pub struct Progress;

#[cfg(not(target_os = "linux"))]
impl Progress {
    pub fn tick(&mut self) {}
}

#[cfg(not(target_os = "linux"))]
pub fn run_guarded<F>(_idle: std::time::Duration, work: F) -> GuardOutcome
where
    F: FnOnce(&mut Progress) -> Vec<u8>,
{
    GuardOutcome::Done(work(&mut Progress))
}

#[cfg(target_os = "linux")]
use linux as platform;
#[cfg(windows)]
use windows as platform;

/// Threads a stage of the scan shares its work among: two, or one on a single CPU
/// (asked once: the answer reads cgroup files). Two, not more, is what was measured
/// (2 CPUs); every stage that splits its work asks here.
pub fn worker_threads() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 2)
    })
}

/// Gathers a snapshot of this system.
pub fn gather(opts: &GatherOptions) -> Snapshot {
    platform::gather(opts)
}

/// Gathers a snapshot of this system, running `during` with it once its mount and
/// lock tables are in, while the platform may still be reading the rest (Linux: the
/// fd tables, on other threads). `during` must need nothing but mounts and locks:
/// open fds and processes may not be there yet.
pub fn gather_while<T>(opts: &GatherOptions, during: impl FnOnce(&Snapshot) -> T) -> (Snapshot, T) {
    #[cfg(target_os = "linux")]
    return linux::gather_while(opts, during);
    #[cfg(not(target_os = "linux"))]
    {
        let snap = platform::gather(opts);
        let out = during(&snap);
        (snap, out)
    }
}

/// Adds process context for `pids` (and their parents) to a snapshot, e.g. for pids
/// read from pidfiles after the snapshot was taken. On Windows a pid counts as
/// running only when `OpenProcess` says so.
pub fn add_processes(snap: &mut Snapshot, pids: impl IntoIterator<Item = i32>) {
    platform::add_processes(snap, pids)
}

/// Asks the platform which processes have each of these files open, where it has a
/// per-file question for that (Windows `FileProcessIdsUsingFileInformation`; on
/// Linux the fd tables already answered it).
pub fn ask_per_file<'a>(snap: &mut Snapshot, files: impl IntoIterator<Item = (&'a Path, FileKey)>) {
    #[cfg(windows)]
    windows::ask_per_file(snap, files);
    #[cfg(not(windows))]
    let _ = (snap, files.into_iter());
}

/// Whether a process with this pid exists, asked with signal 0 (which delivers
/// nothing): `Some(false)` only for ESRCH. Unix only; `None` elsewhere.
pub fn process_exists(pid: i32) -> Option<bool> {
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_raw(pid)?;
        match rustix::process::test_kill_process(pid) {
            Ok(()) => Some(true),
            Err(rustix::io::Errno::SRCH) => Some(false),
            Err(rustix::io::Errno::PERM) => Some(true),
            Err(_) => None,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        None
    }
}

/// Adds the names of these users (uids) to the snapshot, through the system's own
/// resolver (NSS on unix: local files, LDAP, SSSD, systemd-userdb).
pub fn add_users(snap: &mut Snapshot, uids: impl IntoIterator<Item = u32>) {
    #[cfg(unix)]
    for uid in uids {
        if let std::collections::hash_map::Entry::Vacant(e) = snap.users.entry(uid)
            && let Some(name) = users::name_of(uid)
        {
            e.insert(name);
        }
    }
    #[cfg(not(unix))]
    let _ = (snap, uids.into_iter());
}

/// The snapshot is shared by the threads of a scan (the system walk examines its
/// files on two): it must stay `Sync`.
const _: () = {
    const fn sync<T: Sync>() {}
    sync::<Snapshot>()
};
