//! The report: lockscan's contract with monitoring and scripts.
//!
//! Schema version 1. Field names and the values of every enumeration here may be
//! added to, never renamed or removed; a breaking change bumps [`SCHEMA_VERSION`] and
//! gets a CHANGELOG entry. `lockscan --generate schema` prints the JSON Schema
//! generated from these types (checked in as `docs/report.schema.json`).
//!
//! Every closed set of values is a Rust enum whose JSON names are declared once
//! (see `vocab!`); times are [`Timestamp`]s, permission bits [`Perm`], devices
//! [`Device`]. The scanner fills the facts, the diagnosis adds findings and the one
//! [`Advice`] per file; renderers only read.

#[cfg(test)]
pub(crate) mod sample;
pub mod time;

use std::path::Path;
use std::sync::{Arc, LazyLock};

use schemars::JsonSchema;
use serde::Serialize;

pub use crate::sys::{
    FileType, LeaseState, LockKind, LockMode, PerFileApi, Platform, ProcessState,
};
use crate::vocab::{as_json_string, vocab};
pub use time::Timestamp;

pub const SCHEMA_VERSION: u32 = 1;

vocab! {
    /// How serious a finding is; ordered, so `--fail-on` compares.
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Error = "error",
    }
}

vocab! {
    /// The stable code of a finding (`lockscan codes` explains each).
    pub enum FindingCode {
        StalePidfile = "stale-pidfile",
        PidReused = "pid-reused",
        InvalidPidfile = "invalid-pidfile",
        StaleLockfile = "stale-lockfile",
        DeletedLockfile = "deleted-lockfile",
        SplitBrain = "split-brain",
        LeakedFd = "leaked-fd",
        RemoteFilesystem = "remote-filesystem",
        WorldWritable = "world-writable",
        ForeignOwner = "foreign-owner",
        HolderStopped = "holder-stopped",
        HolderWaitingInput = "holder-waiting-input",
        HolderZombie = "holder-zombie",
        HolderUninterruptible = "holder-uninterruptible",
        HeldLong = "held-long",
        BlockedWaiters = "blocked-waiters",
        PartialVisibility = "partial-visibility",
        UnparsedLockLines = "unparsed-lock-lines",
        UnresponsiveMount = "unresponsive-mount",
    }
}

vocab! {
    /// What a file is to lockscan (`kind`).
    pub enum FileKind {
        Pidfile = "pidfile",
        Lockfile = "lockfile",
        /// A symlink whose target text is the lock data (Firefox, Chromium, Emacs).
        SymlinkLock = "symlink-lock",
        /// A lock directory whose mtime its owner refreshes (npx, yarn).
        HeartbeatDir = "heartbeat-dir",
        /// Locked right now, whatever its name (a database, a script under flock(1)).
        LockedFile = "locked-file",
        /// Given on the command line, neither named like a lock nor locked.
        File = "file",
    }
}

vocab! {
    /// How a lock's `holders` were established.
    pub enum HolderEvidence {
        /// The kernel's per-fd `lock:` lines (for POSIX locks, the owning process).
        Fdinfo = "fdinfo",
        /// Windows: every process with the file open, from the system handle table;
        /// candidates, because a byte-range lock cannot be attributed to a handle.
        HandleTable = "handle-table",
        /// Windows: every process the per-file API says has the file open; candidates.
        FileProcessIds = "file-process-ids",
        /// `F_OFD_GETLK` found a lock the lock table does not list (it is held by a
        /// process outside this pid namespace): no holder can be named from here.
        Getlk = "getlk",
    }
}

impl HolderEvidence {
    /// The holders are candidates (processes with the file open), not proven holders.
    pub fn is_candidates(self) -> bool {
        matches!(
            self,
            HolderEvidence::HandleTable | HolderEvidence::FileProcessIds
        )
    }
}

vocab! {
    /// How far this host's view of a filesystem's locks can be trusted.
    pub enum Locality {
        /// Local disk or memory filesystem: this kernel sees every lock.
        Local = "local",
        /// Network filesystem: holders on other hosts are invisible here.
        Remote = "remote",
        /// Clustered filesystem: coherent through a lock manager this host does not show.
        Cluster = "cluster",
        /// FUSE (incl. virtiofs): semantics depend on the daemon.
        Fuse = "fuse",
    }
}

impl From<crate::sys::FsLocality> for Locality {
    fn from(l: crate::sys::FsLocality) -> Self {
        use crate::sys::FsLocality as F;
        match l {
            F::Local => Locality::Local,
            F::Remote => Locality::Remote,
            F::Cluster => Locality::Cluster,
            F::Fuse => Locality::Fuse,
        }
    }
}

vocab! {
    /// Whether a pidfile still describes its writer. Never `stale` on unknown evidence.
    pub enum PidVerdict {
        Live = "live",
        Stale = "stale",
        Unknown = "unknown",
    }
}

vocab! {
    /// What became of the pid a pidfile names.
    pub enum PidStatus {
        Running = "running",
        /// Not running, or a zombie.
        Dead = "dead",
        /// The content is not a usable pid.
        Invalid = "invalid",
        /// Another host's pid, or the file could not be read.
        Unknown = "unknown",
    }
}

vocab! {
    /// How a program's convention excludes other instances; decides staleness.
    pub enum Discipline {
        /// A kernel lock (flock/fcntl/OFD) on a file that is kept after release.
        KernelLockKept = "kernel-lock-kept",
        /// A kernel lock on a file that its program deletes on release.
        KernelLockDeletedOnRelease = "kernel-lock-deleted-on-release",
        /// The file's existence is the lock and it records the owner's pid.
        ExistencePid = "existence-pid",
        /// The file's existence is the lock and nothing records the owner.
        ExistenceOnly = "existence-only",
        /// A symlink whose target text records the owner (host, pid).
        Symlink = "symlink",
        /// A directory whose mtime is refreshed by its living owner.
        HeartbeatDir = "heartbeat-dir",
        /// Data that looks like (or carries) a lock; never a leftover.
        DataFile = "data-file",
    }
}

impl Discipline {
    /// The file's existence is the lock, or its program deletes it on release: a
    /// copy that nothing holds is a leftover.
    pub fn leftover_when_unheld(self) -> bool {
        matches!(
            self,
            Discipline::ExistenceOnly
                | Discipline::KernelLockDeletedOnRelease
                | Discipline::HeartbeatDir
        )
    }
}

vocab! {
    /// Whether removing a file is safe.
    pub enum DeleteVerdict {
        Yes = "yes",
        No = "no",
        Unknown = "unknown",
    }
}

vocab! {
    /// How an explicit `--probe` tested the file.
    pub enum ProbeMethod {
        /// `F_OFD_GETLK` (takes nothing).
        Getlk = "getlk",
        /// `F_OFD_GETLK`, then a momentary flock attempt.
        GetlkAcquire = "getlk+acquire",
        /// Windows: a momentary whole-file `LockFileEx`.
        LockFileEx = "lockfileex",
        /// Windows: an open with full sharing only.
        Open = "open",
    }
}

vocab! {
    /// What an explicit `--probe` found.
    pub enum ProbeResult {
        Free = "free",
        Held = "held",
        HeldShared = "held-shared",
        HeldExclusive = "held-exclusive",
        /// Not probed (a lease would have been broken).
        Skipped = "skipped",
        Error = "error",
        /// Windows: a process has the file open with share mode 0.
        OpenWithoutSharing = "open-without-sharing",
        /// Windows: the sharing open succeeded; byte-range locks were not tested.
        NotChecked = "not-checked",
    }
}

vocab! {
    /// Whether the file is locked, as far as this scan can tell.
    pub enum LockState {
        /// A lock on it is in the kernel's table (or a Windows probe found one).
        Held = "held",
        /// No lock on it, and this host's view of its locks is complete.
        Free = "free",
        /// No lock is visible, but the view is incomplete (a child pid namespace, an
        /// unreadable lock table, a network filesystem, Windows without a probe).
        Unknown = "unknown",
    }
}

vocab! {
    /// What the one piece of advice for a file asks of the operator.
    pub enum AdviceAction {
        /// Nothing is wrong and nothing holds it.
        Nothing = "nothing",
        /// A process is working with it: wait for it.
        Wait = "wait",
        /// Remove the file.
        Remove = "remove",
        /// Keep the file: deleting it would break exclusion or lose data.
        Keep = "keep",
        /// Deal with a holder process: continue, answer, restart or end it.
        ActOnHolder = "act-on-holder",
        /// Look closer before acting (other hosts, a disk, the content).
        Investigate = "investigate",
        /// Change the set-up: permissions, where the lock lives, how it is opened.
        FixSetup = "fix-setup",
    }
}

/// What a SQLite lock means, by its byte range (see [`LockReport::role`]).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct LockRole {
    /// `SHARED`, `RESERVED`, `PENDING`, `EXCLUSIVE`, `WAL write`, `WAL checkpoint`,
    /// `WAL recovery`, `WAL read mark N`, `WAL DMS`.
    pub name: String,
    /// The holder is writing (or about to): others get "database is locked".
    pub writer: bool,
    /// One sentence for a person.
    pub meaning: String,
}

/// Permission bits, written in octal (`"0644"`, `"1777"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Perm(pub u32);

impl Perm {
    pub fn bits(self) -> u32 {
        self.0
    }
}

impl std::fmt::Display for Perm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

as_json_string!(
    Perm,
    "Permission bits in octal, at least four digits (`0644`, `1777`).",
    "^[0-7]{4,}$"
);

/// A device as the kernel's lock table and mountinfo name it: `major:minor` of the
/// superblock (on Windows, the volume serial number and 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Device {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

as_json_string!(
    Device,
    "The superblock device `major:minor` in decimal, as /proc/locks and mountinfo name it.",
    "^[0-9]+:[0-9]+$"
);

/// The raw bytes of a path that is not valid UTF-8, written as lowercase hex
/// (`path_bytes`). Such a path's `path` text is lossy (each invalid byte became
/// U+FFFD), so two different files can share it; these bytes tell them apart and
/// name the file exactly. On Windows they are the path's WTF-8 bytes (an unpaired
/// surrogate in a name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathBytes(pub Box<[u8]>);

impl PathBytes {
    /// The `path_bytes` of `path`: `None` when it is valid UTF-8 (its `path` text
    /// is then exact).
    pub fn of(path: &Path) -> Option<PathBytes> {
        let raw = path.as_os_str().as_encoded_bytes();
        std::str::from_utf8(raw)
            .is_err()
            .then(|| PathBytes(raw.into()))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Display for PathBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

as_json_string!(
    PathBytes,
    "The raw bytes of a path that is not valid UTF-8, in lowercase hex; present only then.",
    "^([0-9a-f]{2})+$"
);

/// A path as the report writes it: the (lossy) `path` text and, when the path is
/// not valid UTF-8, its exact `path_bytes`.
pub fn path_fields(path: &Path) -> (String, Option<PathBytes>) {
    (path.to_string_lossy().into_owned(), PathBytes::of(path))
}

/// The exact bytes of a reported path: its `path_bytes` when it has them, else its
/// text (which is then exact). Everything that tells files apart by path keys by
/// this, never by the lossy text.
pub fn raw_path<'a>(path: Option<&'a str>, bytes: Option<&'a PathBytes>) -> Option<&'a [u8]> {
    bytes.map(PathBytes::bytes).or(path.map(str::as_bytes))
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Finding {
    /// Stable code (`lockscan codes` lists them).
    pub code: FindingCode,
    pub severity: Severity,
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// The file it concerns, when it is about one file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The exact bytes of `path`, in lowercase hex, when it is not valid UTF-8 (two
    /// such paths can have the same `path` text); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<PathBytes>,
    /// What the hint asks of the operator (not serialised: the file's `advice` carries
    /// the one decision).
    #[serde(skip)]
    pub action: AdviceAction,
}

/// A process named in a parent chain.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ProcessBrief {
    pub pid: i32,
    /// Short command name; null when the process could not be read.
    pub command: Option<String>,
}

/// A process as shown in the report.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, Default)]
pub struct ProcessRef {
    pub pid: i32,
    /// Short command name (`comm`); null when the process could not be read.
    pub command: Option<String>,
    pub cmdline: Option<String>,
    pub uid: Option<u32>,
    pub user: Option<String>,
    pub started_at: Option<Timestamp>,
    /// Seconds the process has been running at scan time.
    pub age_seconds: Option<u64>,
    /// One-letter state: R running, S sleeping, D uninterruptible, T stopped, Z zombie, ...
    pub state: Option<ProcessState>,
    pub ppid: Option<i32>,
    /// The fd through which it holds (or has open) the file; on Windows the handle
    /// value; null when unknown.
    pub fd: Option<i32>,
    /// Whether that fd is closed on exec (Windows: the handle is not inheritable);
    /// null when unknown.
    pub cloexec: Option<bool>,
    /// The executable (`/proc/PID/exe`); null when unreadable.
    pub exe: Option<String>,
    /// The systemd unit (or cgroup path) it runs in, e.g. `certbot.service`.
    pub unit: Option<String>,
    /// The container it runs in, from its cgroup: `docker:ID`, `podman:ID`,
    /// `containerd:ID`, `cri-o:ID` or `kubepods:ID` (12 hex digits), `lxc:NAME`,
    /// `nspawn:NAME`; null when none is recognised.
    pub container: Option<String>,
    /// Its pid inside its own pid namespace (a container's view), when that differs
    /// from the pid seen here; null otherwise.
    pub ns_pid: Option<i32>,
    /// The kernel function it sleeps in (`wchan`), e.g. `n_tty_read` when it waits for
    /// terminal input.
    pub wchan: Option<String>,
    /// Its standard input, when that is a terminal.
    pub tty: Option<String>,
    /// It is the foreground job of its terminal (what is typed there goes to it);
    /// null when unknown or it has no terminal.
    pub tty_foreground: Option<bool>,
    /// The process it inherited this fd (handle) from, when that is proved (Windows:
    /// the parent holds the same handle value on the same file). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<i32>,
    /// Its parent, grandparent, ... up to pid 1 (nearest first), as far as they
    /// could be read.
    pub parents: Vec<ProcessBrief>,
    /// True for a kernel thread (kthreadd, a kworker, ...; Linux `PF_KTHREAD`): no
    /// program, so never the writer of a pidfile. Absent otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kernel_thread: bool,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct WaiterRef {
    #[serde(flatten)]
    pub process: ProcessRef,
    /// The mode it waits for.
    pub mode: LockMode,
    pub start: u64,
    pub end: Option<u64>,
    /// 1 = waits for the holder directly; 2 = waits behind another waiter; ...
    pub depth: u32,
    /// The pid this waiter is blocked behind, as the kernel printed it (may be the locker).
    pub blocked_by: Option<i32>,
}

/// A waiter the kernel's lock table lists but lockscan could not name: an OFD
/// waiter (the table prints pid -1) whose blocked `F_OFD_SETLKW` call was not seen,
/// or a waiter outside this pid namespace (pid 0). It is never given a pid.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct UnidentifiedWaiter {
    /// The mode it waits for.
    pub mode: LockMode,
    pub start: u64,
    pub end: Option<u64>,
    /// 1 = waits for the holder directly; 2 = waits behind another waiter; ...
    pub depth: u32,
    /// Why it could not be identified.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct LockReport {
    #[serde(rename = "type")]
    pub kind: LockKind,
    pub mode: LockMode,
    pub start: u64,
    /// Inclusive last byte; null means to end of file.
    pub end: Option<u64>,
    /// For leases and delegations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_state: Option<LeaseState>,
    /// Every process that really holds the lock (see `holder_evidence`).
    pub holders: Vec<ProcessRef>,
    /// Processes blocked waiting for it, each identified by its pid.
    pub waiters: Vec<WaiterRef>,
    /// Waiters the kernel lists that could not be identified (never in `waiters`,
    /// whose pids are all real processes). Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unidentified_waiters: Vec<UnidentifiedWaiter>,
    /// The pid the kernel's lock table names: the process that *took* the lock. It
    /// may be dead, or differ from the holders after fork/exec; null for OFD locks (-1).
    pub locker_pid: Option<i32>,
    /// Whether `locker_pid` is a running process; null when there is no locker pid.
    pub locker_alive: Option<bool>,
    /// True when the holders list could be incomplete (processes that could not be
    /// inspected) or ambiguous (identical locks that could not be told apart).
    pub holders_uncertain: bool,
    pub holder_evidence: HolderEvidence,
    /// What the lock means to the program that takes it, where its ranges have a
    /// known meaning (SQLite: `SHARED`, `RESERVED`, `PENDING`, `EXCLUSIVE` on the
    /// database; `WAL write`, `WAL checkpoint`, `WAL recovery`, `WAL read mark N`,
    /// `WAL DMS` on the `-shm` file). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<LockRole>,
    /// How many byte ranges this entry stands for, when more than one: POSIX record
    /// locks that one process holds on one file with the same type and mode (a
    /// program locking records one by one) are one entry. `start` and `end` are then
    /// the span from the first range's start to the last range's end. Absent for a
    /// single range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range_count: Option<usize>,
    /// Every range of such an entry as `[start, end]` (end inclusive, null: to end
    /// of file), in order of start. Absent for a single range.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<(u64, Option<u64>)>,
}

impl LockReport {
    /// Adds one more range held the same way (see `range_count`).
    pub fn add_range(&mut self, start: u64, end: Option<u64>) {
        if self.ranges.is_empty() {
            self.ranges.push((self.start, self.end));
        }
        self.ranges.push((start, end));
        self.range_count = Some(self.ranges.len());
        self.start = self.start.min(start);
        self.end = match (self.end, end) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
    }

    /// The ranges of a grouped entry in order of start (call once all are added).
    pub fn sort_ranges(&mut self) {
        self.ranges
            .sort_unstable_by_key(|(s, e)| (*s, e.unwrap_or(u64::MAX)));
    }

    /// Every waiter, identified or not.
    pub fn waiter_count(&self) -> usize {
        self.waiters.len() + self.unidentified_waiters.len()
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct FilesystemReport {
    /// The filesystem type as mountinfo names it (`ext4`, `nfs4`, `fuse.sshfs`);
    /// on Windows the volume's file system (`NTFS`).
    #[serde(rename = "type")]
    pub fstype: String,
    /// True for network, cluster and FUSE filesystems: holders may be on other hosts
    /// or invisible to this kernel.
    pub remote: bool,
    pub locality: Locality,
    pub mount_point: String,
    pub source: String,
    pub options: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct PidfileReport {
    /// The pid the file names; null when the content is not a pid.
    pub pid: Option<i32>,
    pub verdict: PidVerdict,
    pub status: PidStatus,
    /// Why it is invalid (or a note on the verdict).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The host the file says it was written on, when that is not this host: its pid
    /// says nothing about this host's processes. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The running process, when `status` is `running` (or a zombie's remains).
    pub process: Option<ProcessRef>,
}

/// A recognised program convention (from the built-in catalog).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ConventionReport {
    /// Stable catalog name, e.g. `certbot-dir-lock`, `dpkg-lock-frontend`.
    pub name: String,
    pub program: String,
    pub discipline: Discipline,
    /// What the program prints to a second instance (every known version's wording).
    pub error_message: Option<String>,
    /// What the next instance will print now, with the real pid and path filled in;
    /// null when the file's exclusion is not in force (nothing holds it, the pid it
    /// names is gone) or the program's message is not known.
    pub next_run_says: Option<String>,
    /// A leftover of this file stops the program's next run until it is removed
    /// (git's index.lock); false when the program checks and replaces a leftover
    /// itself (certbot, nginx), so a leftover is harmless.
    pub blocks_next_run: bool,
}

/// Verdict on removing a file.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct SafeToDelete {
    pub verdict: DeleteVerdict,
    // Shared: thousands of files often have the same reason word for word.
    pub reason: Arc<str>,
}

/// What an explicit probe of the file found.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ProbeReport {
    pub method: ProbeMethod,
    pub result: ProbeResult,
    /// For a POSIX/OFD conflict: the kind, mode, range and pid the kernel reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<ProbeConflict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ProbeConflict {
    #[serde(rename = "type")]
    pub kind: LockKind,
    pub mode: LockMode,
    pub start: u64,
    pub end: Option<u64>,
    /// Null for OFD locks; 0 means a process outside this pid namespace.
    pub pid: Option<i32>,
}

/// The one thing to do about a file, decided once by the diagnosis; `explain` and
/// every format render this.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Advice {
    pub action: AdviceAction,
    /// One instruction for a person.
    // Shared between files that get the same words: a scan can see a million
    // identical leftovers.
    pub text: Arc<str>,
}

impl Default for Advice {
    fn default() -> Self {
        static NOTHING: LazyLock<Arc<str>> =
            LazyLock::new(|| "nothing holds it now; nothing to do.".into());
        Advice {
            action: AdviceAction::Nothing,
            text: NOTHING.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct FileReport {
    /// Absolute path; null when no process shows a path for a locked inode. When the
    /// path is not valid UTF-8, each invalid byte is U+FFFD here and `path_bytes`
    /// holds the exact path.
    pub path: Option<String>,
    /// The exact bytes of `path`, in lowercase hex, when it is not valid UTF-8 (two
    /// such paths can have the same `path` text); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<PathBytes>,
    pub kind: FileKind,
    pub device: Option<Device>,
    pub inode: Option<u64>,
    /// Null when the file is not reachable by path.
    pub file_type: Option<FileType>,
    pub size: Option<u64>,
    pub mode: Option<Perm>,
    pub uid: Option<u32>,
    // Shared by every file of the same owner.
    pub owner: Option<Arc<str>>,
    pub mtime: Option<Timestamp>,
    /// Permission bits of the directory holding the file.
    pub dir_mode: Option<Perm>,
    /// Owner uid of the directory holding the file.
    pub dir_uid: Option<u32>,
    /// The locked inode has no remaining link (unlinked while held).
    pub deleted: bool,
    /// The path now names another inode than the locked one (replaced while held).
    pub replaced: bool,
    /// For symlink locks, the link's target text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symlink_target: Option<String>,
    // Shared by every file on the same mount.
    pub filesystem: Option<Arc<FilesystemReport>>,
    pub locks: Vec<LockReport>,
    /// Processes that have the file open without holding any lock on it.
    pub open_by: Vec<ProcessRef>,
    // Boxed, like `probe`: most files have none, and a file report stays small.
    pub pidfile: Option<Box<PidfileReport>>,
    /// The program convention the file follows, when recognised.
    // Shared by the files of one convention when nothing in it is their own (no
    // `next_run_says`).
    pub convention: Option<Arc<ConventionReport>>,
    /// Whether removing the file is safe, and why.
    pub safe_to_delete: Option<SafeToDelete>,
    /// Result of an explicit `--probe`; absent when no probe was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<Box<ProbeReport>>,
    pub findings: Vec<Finding>,
    /// Whether it is locked, as far as this scan can tell.
    pub lock_state: LockState,
    /// Why `lock_state` is `unknown` when the reason is particular to this file (a
    /// lock on its btrfs inode number that may be another subvolume's); absent
    /// otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_state_reason: Option<String>,
    /// The one thing to do about it.
    pub advice: Advice,
}

impl FileReport {
    /// Every holder of every lock on the file.
    pub fn holders(&self) -> impl Iterator<Item = &ProcessRef> {
        self.locks.iter().flat_map(|l| l.holders.iter())
    }

    /// The exact bytes of its path (see [`raw_path`]); `None` when unknown.
    pub fn raw_path(&self) -> Option<&[u8]> {
        raw_path(self.path.as_deref(), self.path_bytes.as_ref())
    }

    /// Some lock on it has a visible holder.
    pub fn has_visible_holder(&self) -> bool {
        self.locks.iter().any(|l| !l.holders.is_empty())
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ErrorEntry {
    /// The path (lossy when it is not valid UTF-8, like a file's `path`).
    pub path: String,
    /// The exact bytes of `path`, in lowercase hex, when it is not valid UTF-8 (two
    /// such paths can have the same `path` text); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_bytes: Option<PathBytes>,
    pub error: String,
}

impl ErrorEntry {
    /// The error entry for `path`, keeping its exact bytes when it is not UTF-8.
    pub fn new(path: &Path, error: String) -> ErrorEntry {
        let (path, path_bytes) = path_fields(path);
        ErrorEntry {
            path,
            path_bytes,
            error,
        }
    }
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, Default)]
pub struct SkippedLineReport {
    pub line: usize,
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, Default)]
pub struct VisibilityReport {
    /// Effective uid 0 (Windows: elevated).
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
    /// /proc is not the initial pid namespace's (or that could not be told): locks
    /// of processes outside it are missing from the lock table.
    pub pid_namespace_filtered: bool,
    /// The `hidepid=`/`subset=` options of /proc that hide other users' processes
    /// from this (non-root) scan; null when none do.
    pub proc_restricted: Option<String>,
    /// Windows only: the system handle table was read (Windows has no lock table;
    /// `proc_locks_read` is always false there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle_table_read: Option<bool>,
    /// Windows only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub per_file_api: Option<PerFileApi>,
    /// Network, cluster or FUSE mounts whose server did not answer within
    /// `--mount-timeout`: nothing on them was walked or read (`unresponsive-mount`).
    pub unresponsive_mounts: Vec<UnresponsiveMountReport>,
}

/// A mount whose server left one of lockscan's calls unanswered.
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, Default)]
pub struct UnresponsiveMountReport {
    pub mount_point: String,
    pub fstype: String,
    pub source: String,
    /// How long lockscan waited before it gave up, in milliseconds.
    pub waited_ms: u64,
    /// What lockscan was doing (`walking`, `looking at a locked file`, ...).
    pub during: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq, Default)]
pub struct Stats {
    pub duration_ms: u64,
    /// Lines in /proc/locks (granted locks plus waiters).
    pub lock_lines: usize,
    /// Open fds with a path that were examined.
    pub fds_examined: usize,
    /// Directory entries looked at under the roots.
    pub entries_walked: usize,
}

/// One scan's report (`schema_version` 1).
#[derive(Debug, Clone, Serialize, JsonSchema, PartialEq, Eq)]
pub struct Report {
    pub schema_version: u32,
    pub lockscan_version: String,
    pub host: String,
    pub platform: Platform,
    pub generated_at: Timestamp,
    /// The paths scanned as given; empty for a whole-system scan.
    pub roots: Vec<String>,
    /// Sorted by path.
    pub files: Vec<FileReport>,
    /// Findings about the scan as a whole (not about one file).
    pub findings: Vec<Finding>,
    /// What could not be examined.
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one list of names per vocabulary is what serde writes.
    #[test]
    fn every_vocabulary_serialises_to_its_declared_name() {
        fn check<T: Serialize + Copy>(all: &[T], name: fn(T) -> &'static str) {
            for v in all {
                assert_eq!(serde_json::to_value(v).unwrap(), name(*v));
            }
        }
        check(Severity::ALL, Severity::as_str);
        check(FindingCode::ALL, FindingCode::as_str);
        check(FileKind::ALL, FileKind::as_str);
        check(HolderEvidence::ALL, HolderEvidence::as_str);
        check(Locality::ALL, Locality::as_str);
        check(PidVerdict::ALL, PidVerdict::as_str);
        check(PidStatus::ALL, PidStatus::as_str);
        check(Discipline::ALL, Discipline::as_str);
        check(DeleteVerdict::ALL, DeleteVerdict::as_str);
        check(ProbeMethod::ALL, ProbeMethod::as_str);
        check(ProbeResult::ALL, ProbeResult::as_str);
        check(LockState::ALL, LockState::as_str);
        check(AdviceAction::ALL, AdviceAction::as_str);
        check(LockKind::ALL, LockKind::as_str);
        check(LockMode::ALL, LockMode::as_str);
        check(LeaseState::ALL, LeaseState::as_str);
        check(ProcessState::ALL, ProcessState::as_str);
        check(FileType::ALL, FileType::as_str);
        check(Platform::ALL, Platform::as_str);
    }

    #[test]
    fn severities_are_ordered_for_fail_on() {
        assert!(Severity::Info < Severity::Warning && Severity::Warning < Severity::Error);
    }

    #[test]
    fn scalar_types_render_as_before() {
        assert_eq!(serde_json::to_value(Perm(0o644)).unwrap(), "0644");
        assert_eq!(serde_json::to_value(Perm(0o1777)).unwrap(), "1777");
        let dev = Device {
            major: 254,
            minor: 0,
        };
        assert_eq!(serde_json::to_value(dev).unwrap(), "254:0");
        assert_eq!(
            serde_json::to_value(PerFileApi::Unavailable("not here".into())).unwrap(),
            "unavailable: not here"
        );
        assert_eq!(
            ProcessState::from_letter('t'),
            Some(ProcessState::TracingStop)
        );
        assert_eq!(ProcessState::from_letter('?'), None);
    }
}
