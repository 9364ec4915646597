//! The JSON document: lockscan's contract with monitoring and scripts.
//!
//! Schema version 1. Field names here may be added to, never renamed or removed;
//! a breaking change bumps [`SCHEMA_VERSION`] and gets a CHANGELOG entry. The README
//! documents every field.

use serde::Serialize;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// Stable code, e.g. `stale-pidfile` (`lockscan codes` lists them).
    pub code: String,
    pub severity: Severity,
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// The file it concerns, when it is about one file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A process as shown in the report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct ProcessRef {
    pub pid: i32,
    /// Short command name (`comm`); null when the process could not be read.
    pub command: Option<String>,
    pub cmdline: Option<String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// RFC 3339, UTC.
    pub started_at: Option<String>,
    /// Seconds the process has been running at scan time.
    pub age_seconds: Option<u64>,
    /// One-letter state: R running, S sleeping, D uninterruptible, T stopped, Z zombie, ...
    pub state: Option<String>,
    pub ppid: Option<i32>,
    /// The fd through which it holds (or has open) the file; null when unknown.
    pub fd: Option<i32>,
    /// Whether that fd is closed on exec; null when unknown.
    pub cloexec: Option<bool>,
    /// The executable (`/proc/PID/exe`); null when unreadable.
    pub exe: Option<String>,
    /// The systemd unit (or cgroup path) it runs in, e.g. `certbot.service`.
    pub unit: Option<String>,
    /// The kernel function it sleeps in (`wchan`), e.g. `n_tty_read` when it waits for
    /// terminal input.
    pub wchan: Option<String>,
    /// Its standard input, when that is a terminal.
    pub tty: Option<String>,
    /// The process it inherited this fd (handle) from, when that is proved (Windows:
    /// the parent holds the same handle value on the same file). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<i32>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WaiterRef {
    #[serde(flatten)]
    pub process: ProcessRef,
    /// The mode and range it waits for.
    pub mode: String,
    pub start: u64,
    pub end: Option<u64>,
    /// 1 = waits for the holder directly; 2 = waits behind another waiter; ...
    pub depth: u32,
    /// The pid this waiter is blocked behind, as the kernel printed it (may be the locker).
    pub blocked_by: Option<i32>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LockReport {
    /// `flock`, `posix`, `ofd`, `lease`, `deleg` (also `access`, `unknown`).
    #[serde(rename = "type")]
    pub kind: String,
    /// `read` or `write` (`unlock` for a lease being broken to nothing).
    pub mode: String,
    pub start: u64,
    /// Inclusive last byte; null means to end of file.
    pub end: Option<u64>,
    /// For leases: `active`, `breaking`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_state: Option<String>,
    /// Every process that really holds the lock (fdinfo evidence; the owner for POSIX).
    pub holders: Vec<ProcessRef>,
    /// Processes blocked waiting for it.
    pub waiters: Vec<WaiterRef>,
    /// The pid the kernel's lock table names: the process that *took* the lock. It
    /// may be dead, or differ from the holders after fork/exec; null for OFD locks (-1).
    pub locker_pid: Option<i32>,
    /// Whether `locker_pid` is a running process; null when there is no locker pid.
    pub locker_alive: Option<bool>,
    /// True when the holders list could be incomplete (processes that could not be
    /// inspected) or ambiguous (identical locks that could not be told apart).
    pub holders_uncertain: bool,
    /// How `holders` was established: `fdinfo` (the kernel's per-fd lock lines, or
    /// the POSIX owner), or `handle-table` (Windows: the processes that have the file
    /// open are *candidate* holders, because a byte-range lock cannot be attributed).
    pub holder_evidence: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FilesystemReport {
    #[serde(rename = "type")]
    pub fstype: String,
    /// True for network, cluster and FUSE filesystems: holders may be on other hosts
    /// or invisible to this kernel.
    pub remote: bool,
    /// `local`, `remote`, `cluster` or `fuse`.
    pub locality: String,
    pub mount_point: String,
    pub source: String,
    pub options: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PidfileReport {
    /// The pid the file names; null when the content is not a pid.
    pub pid: Option<i32>,
    /// Whether the file still describes its writer: `live`, `stale` or `unknown`
    /// (another host's pid, not enough evidence). Never `stale` on unknown evidence.
    pub verdict: String,
    /// `running`, `dead`, `invalid`, or `unknown` (another host's pid, or unreadable).
    pub status: String,
    /// Why it is invalid (or a note on the verdict).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The running process, when `status` is `running` (or a zombie's remains).
    pub process: Option<ProcessRef>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileReport {
    /// Absolute path; null when no process shows a path for a locked inode.
    pub path: Option<String>,
    /// `pidfile`, `lockfile`, `symlink-lock`, `locked-file` or `file`.
    pub kind: String,
    /// Superblock device `major:minor` (as /proc/locks and mountinfo name it).
    pub device: Option<String>,
    pub inode: Option<u64>,
    /// `regular`, `symlink`, ... ; null when the file is not reachable by path.
    pub file_type: Option<String>,
    pub size: Option<u64>,
    /// Permission bits in octal, e.g. `0644`.
    pub mode: Option<String>,
    pub uid: Option<u32>,
    pub owner: Option<String>,
    /// RFC 3339, UTC.
    pub mtime: Option<String>,
    /// Permission bits of the directory holding the file, in octal.
    pub dir_mode: Option<String>,
    /// Owner uid of the directory holding the file.
    pub dir_uid: Option<u32>,
    /// The locked inode has no remaining link (unlinked while held).
    pub deleted: bool,
    /// The path now names another inode than the locked one (replaced while held).
    pub replaced: bool,
    /// For symlink locks, the link's target text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    pub filesystem: Option<FilesystemReport>,
    pub locks: Vec<LockReport>,
    /// Processes that have the file open without holding any lock on it.
    pub open_by: Vec<ProcessRef>,
    pub pidfile: Option<PidfileReport>,
    /// The program convention the file follows, when recognised.
    pub convention: Option<ConventionReport>,
    /// Whether removing the file is safe, and why.
    pub safe_to_delete: Option<SafeToDelete>,
    /// Result of an explicit `--probe`; absent when no probe was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeReport>,
    pub findings: Vec<Finding>,
}

/// A recognised program convention (from the built-in catalog).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConventionReport {
    /// Stable catalog name, e.g. `certbot-dir-lock`, `dpkg-lock-frontend`.
    pub name: String,
    pub program: String,
    /// `kernel-lock-kept`, `kernel-lock-deleted-on-release`, `existence-pid`,
    /// `existence-only`, `symlink`, `heartbeat-dir`, `data-file`.
    pub discipline: String,
    /// What the program prints to a second instance.
    pub error_message: Option<String>,
}

/// Verdict on removing a file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SafeToDelete {
    /// `yes`, `no` or `unknown`.
    pub verdict: String,
    pub reason: String,
}

/// What an explicit probe of the file found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProbeReport {
    /// `getlk` (non-intrusive F_OFD_GETLK) or `acquire` (a momentary flock attempt).
    pub method: String,
    /// `free`, `held`, `held-shared`, `held-exclusive`, `skipped` or `error`.
    pub result: String,
    /// For a POSIX/OFD conflict: the kind, mode, range and pid the kernel reported
    /// (pid null for OFD; 0 means a process outside this pid namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<ProbeConflict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProbeConflict {
    #[serde(rename = "type")]
    pub kind: String,
    pub mode: String,
    pub start: u64,
    pub end: Option<u64>,
    pub pid: Option<i32>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorEntry {
    pub path: String,
    pub error: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct SkippedLineReport {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct VisibilityReport {
    /// Effective uid 0.
    pub root: bool,
    pub proc_locks_read: bool,
    /// Lines of /proc/locks that were not understood (skipped, never fatal).
    pub proc_locks_skipped: Vec<SkippedLineReport>,
    pub processes_seen: usize,
    /// Processes whose open files could not be read (permission).
    pub processes_denied: usize,
    /// Their pids (besides those excluded with `--ignore-pid`).
    pub denied_pids: Vec<i32>,
    /// Processes that exited during the scan.
    pub processes_vanished: usize,
    /// /proc is in a child pid namespace: locks of outside processes are hidden.
    pub pid_namespace_filtered: bool,
    /// Windows only: the system handle table was read (Windows has no lock table;
    /// `proc_locks_read` is always false there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle_table_read: Option<bool>,
    /// Windows only: `file-process-ids` when the per-file API
    /// (`FileProcessIdsUsingFileInformation`) named the processes that have each file
    /// open, or `unavailable: REASON` (Wine does not implement it), in which case the
    /// handle table is the only evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_file_api: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Stats {
    pub duration_ms: u64,
    /// Lines in /proc/locks (granted locks plus waiters).
    pub lock_lines: usize,
    /// Open fds with a path that were examined.
    pub fds_examined: usize,
    /// Directory entries looked at under the roots.
    pub entries_walked: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub schema_version: u32,
    pub lockscan_version: String,
    pub host: String,
    pub platform: String,
    /// RFC 3339, UTC.
    pub generated_at: String,
    /// The paths scanned as given; empty for a whole-system scan.
    pub roots: Vec<String>,
    pub files: Vec<FileReport>,
    /// Findings about the scan as a whole (not about one file).
    pub findings: Vec<Finding>,
    pub errors: Vec<ErrorEntry>,
    pub visibility: VisibilityReport,
    pub stats: Stats,
}

impl Report {
    /// Every finding, global and per file.
    pub fn all_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .chain(self.files.iter().flat_map(|f| f.findings.iter()))
    }
}
