//! Platform-neutral facts about the system, gathered once per scan.
//!
//! Everything above `sys` (scanning, correlation, diagnosis, rendering) works on these
//! types only, so it can be tested on fixtures and reused by every platform backend.

use std::path::PathBuf;

use crate::vocab::vocab;

/// Filesystem locality is a fact the lock primitives classify (remote filesystems
/// can be refused there); the snapshot uses the same type.
pub use lockscan_lock::fs::FsLocality;

/// The identity of a locked inode as the kernel's lock tables name it: the
/// superblock device (major:minor, as printed in `/proc/locks` and in mountinfo
/// field 3) plus the inode number.
///
/// This is deliberately *not* `stat().st_dev`: on btrfs and overlayfs the two
/// differ, and matching on inode alone attaches locks to the wrong file when two
/// filesystems share an inode number (lslocks does that on tmpfs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    pub major: u32,
    pub minor: u32,
    pub ino: u64,
}

vocab! {
    /// The kind of a kernel lock, as named by `/proc/locks` (the `type` of a lock in
    /// the report).
    pub enum LockKind {
        /// flock(2); owned by the open file description.
        Flock = "flock",
        /// fcntl F_SETLK / lockf(3); owned by the process.
        Posix = "posix",
        /// fcntl F_OFD_SETLK; owned by the open file description (pid is always -1).
        Ofd = "ofd",
        /// F_SETLEASE (and pNFS layouts); owned by the open file description.
        Lease = "lease",
        /// NFSv4 delegation (knfsd, or F_SETDELEG since 6.19).
        Deleg = "deleg",
        /// FL_ACCESS probe requests; not produced by normal userspace.
        Access = "access",
        /// `UNKNOWN UNKNOWN`: the kernel's own fallback.
        Unknown = "unknown",
        /// A Windows byte-range lock (`LockFileEx`, `msvcrt.locking`), seen by probing:
        /// Windows has no lock table, so its owner cannot be attributed to a handle.
        LockFileEx = "lockfileex",
    }
}

impl LockKind {
    /// Locks owned by an open file description: every process sharing that
    /// description (dup, fork, SCM_RIGHTS) holds the lock, and it travels with
    /// an inherited fd.
    pub fn owned_by_open_file(&self) -> bool {
        matches!(
            self,
            LockKind::Flock | LockKind::Ofd | LockKind::Lease | LockKind::Deleg
        )
    }
}

vocab! {
    /// Lock mode. `unlock` only appears on leases being broken (the target type).
    pub enum LockMode {
        Read = "read",
        Write = "write",
        Unlock = "unlock",
    }
}

vocab! {
    /// State of a lease or delegation line.
    pub enum LeaseState {
        Active = "active",
        Breaking = "breaking",
        /// A process blocked in open()/truncate() waiting for a lease break.
        Breaker = "breaker",
    }
}

vocab! {
    /// A process's scheduling state, by the one letter Linux prints in
    /// `/proc/PID/stat` (Windows maps its own states onto R, S, T and Z).
    pub enum ProcessState {
        Running = "R",
        Sleeping = "S",
        /// Uninterruptible sleep, usually I/O (a hung mount, a failing disk).
        DiskSleep = "D",
        /// Stopped by a signal (Ctrl+Z, SIGSTOP).
        Stopped = "T",
        /// Stopped by a tracer (a debugger).
        TracingStop = "t",
        /// Exited, not yet reaped by its parent.
        Zombie = "Z",
        Dead = "X",
        /// Dead (kernels 2.6.33 to 3.13).
        DeadOld = "x",
        /// Wakekill (kernels 2.6.33 to 3.13).
        Wakekill = "K",
        /// Waking (kernels 2.6.33 to 3.13).
        Waking = "W",
        /// Parked kernel thread.
        Parked = "P",
        /// Idle kernel thread.
        Idle = "I",
    }
}

impl ProcessState {
    /// The state for a letter of `/proc/PID/stat`; `None` for a letter this build
    /// does not know (reported as unknown, never guessed).
    pub fn from_letter(c: char) -> Option<ProcessState> {
        let mut buf = [0u8; 4];
        Self::from_name(c.encode_utf8(&mut buf))
    }

    /// Stopped by a signal or a tracer.
    pub fn is_stopped(self) -> bool {
        matches!(self, ProcessState::Stopped | ProcessState::TracingStop)
    }

    /// Exited: a zombie or dead task, whatever its threads still hold.
    pub fn has_exited(self) -> bool {
        matches!(
            self,
            ProcessState::Zombie | ProcessState::Dead | ProcessState::DeadOld
        )
    }
}

vocab! {
    /// What kind of file a path names (`file_type` in the report).
    pub enum FileType {
        Regular = "regular",
        Directory = "directory",
        Symlink = "symlink",
        Fifo = "fifo",
        Socket = "socket",
        CharDevice = "char-device",
        BlockDevice = "block-device",
        /// The filesystem did not say.
        Unknown = "unknown",
    }
}

impl FileType {
    /// The types lockscan examines; the others (FIFOs, sockets, devices) are
    /// reported as errors and never opened.
    pub fn is_examinable(self) -> bool {
        matches!(
            self,
            FileType::Regular | FileType::Symlink | FileType::Directory
        )
    }
}

vocab! {
    /// The operating system a snapshot was taken on.
    pub enum Platform {
        Linux = "linux",
        Windows = "windows",
    }
}

impl Platform {
    /// The platform this build runs on.
    pub const fn current() -> Platform {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Linux
        }
    }
}

impl Default for Platform {
    fn default() -> Self {
        Platform::current()
    }
}

/// Windows: how the per-file question "who has this file open" was answered
/// (`visibility.per_file_api`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PerFileApi {
    /// `FileProcessIdsUsingFileInformation` named the processes.
    FileProcessIds,
    /// It could not be asked (the reason: Wine does not implement it); the handle
    /// table was the only evidence.
    Unavailable(String),
}

impl serde::Serialize for PerFileApi {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PerFileApi::FileProcessIds => s.serialize_str("file-process-ids"),
            PerFileApi::Unavailable(why) => s.serialize_str(&format!("unavailable: {why}")),
        }
    }
}

impl schemars::JsonSchema for PerFileApi {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "PerFileApi".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "`file-process-ids` when FileProcessIdsUsingFileInformation named the processes that have each file open, or `unavailable: REASON`, in which case the handle table was the only evidence.",
            "type": "string",
            "pattern": "^(file-process-ids|unavailable: .*)$"
        })
    }
}

/// One lock line, from `/proc/locks` or from a `lock:` line of `/proc/PID/fdinfo/FD`
/// (both print the same `lock_get_status()` format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockLine {
    /// The ordinal printed before the colon. Not stable between reads; waiters repeat
    /// their root blocker's ordinal. In fdinfo it restarts at 1 per fd.
    pub ordinal: u64,
    /// 0 for a granted lock; N >= 1 for a waiter N levels below the granted lock.
    pub depth: u32,
    pub kind: LockKind,
    /// `MANDATORY` (kernels before 5.15) instead of `ADVISORY`.
    pub mandatory: bool,
    /// Lease/delegation state; `None` for other kinds.
    pub lease_state: Option<LeaseState>,
    pub mode: LockMode,
    /// The pid printed: the creator of the lock (not necessarily a holder), -1 for
    /// OFD locks, <= 0 for remote owners, the waiter's pid on waiter lines.
    pub pid: i32,
    /// `None` for `<none>:0` (lease breakers have no file).
    pub key: Option<FileKey>,
    /// First byte (inclusive).
    pub start: u64,
    /// Last byte (inclusive); `None` means to end of file (`EOF`).
    pub end: Option<u64>,
}

impl LockLine {
    pub fn is_waiter(&self) -> bool {
        self.depth > 0
    }

    /// True when `other` describes the same lock (same file, kind, mode, range and
    /// creator pid); used to match fdinfo `lock:` lines to `/proc/locks` lines.
    pub fn same_lock(&self, other: &LockLine) -> bool {
        self.key == other.key
            && self.kind == other.kind
            && self.mode == other.mode
            && self.start == other.start
            && self.end == other.end
            && self.pid == other.pid
            && self.lease_state == other.lease_state
    }
}

/// A line that could not be parsed; kept so the report can say what was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number in the source.
    pub line_no: usize,
    pub text: String,
    pub reason: String,
}

/// Result of parsing a whole `/proc/locks` text. Never fails: unknown lines are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcLocks {
    /// Lines in file order; each waiter follows its blocker.
    pub lines: Vec<LockLine>,
    /// For each entry of `lines`, the index of the line that blocks it (the nearest
    /// preceding line one level up), or `None` for granted locks.
    pub blocker: Vec<Option<usize>>,
    pub skipped: Vec<SkippedLine>,
}

impl ProcLocks {
    /// Adds a granted lock that no table lists (a Windows probe's finding).
    pub fn add_granted(&mut self, mut line: LockLine) {
        line.ordinal = self.lines.len() as u64 + 1;
        line.depth = 0;
        self.lines.push(line);
        self.blocker.push(None);
    }
}

/// Parsed `/proc/PID/fdinfo/FD`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FdInfo {
    pub pos: Option<u64>,
    /// `flags:` (octal in the file); includes O_CLOEXEC (0o2000000) when FD_CLOEXEC is set.
    pub flags: Option<u32>,
    pub mnt_id: Option<u64>,
    pub ino: Option<u64>,
    /// Granted locks owned through this fd (waiters never appear here).
    pub locks: Vec<LockLine>,
    /// `lock:` lines that did not parse.
    pub skipped: Vec<SkippedLine>,
}

/// One line of `/proc/PID/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub mount_id: u64,
    pub parent_id: u64,
    /// The superblock device (decimal in mountinfo); the same device `/proc/locks` prints.
    pub major: u32,
    pub minor: u32,
    /// Root of the mount within its filesystem (bind mounts, btrfs subvolumes).
    pub root: PathBuf,
    pub mount_point: PathBuf,
    pub mount_options: String,
    pub fstype: String,
    pub source: String,
    pub super_options: String,
    /// Locality known from the platform (Windows drive type) rather than derived
    /// from `fstype`.
    pub locality: Option<FsLocality>,
}

impl Mount {
    /// Whether its files are served by something that may stop answering: a
    /// network, cluster or FUSE filesystem (the platform's word wins over the
    /// fstype where it has one).
    pub fn served(&self) -> bool {
        let locality = self
            .locality
            .unwrap_or_else(|| crate::lock::fs::classify_fstype(&self.fstype));
        locality != crate::lock::fs::FsLocality::Local
    }
}

/// A mount whose server left one of lockscan's calls unanswered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnresponsiveMount {
    pub mount_id: u64,
    pub mount_point: PathBuf,
    pub fstype: String,
    pub source: String,
    /// How long lockscan waited before it gave up.
    pub waited_ms: u64,
    /// What it was doing (`walking`, `reading a pidfile`, ...).
    pub during: String,
}

/// A process as far as it could be read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcessInfo {
    pub pid: i32,
    /// Short name (`comm`).
    pub command: String,
    /// Full command line, arguments joined by spaces (NULs in argv become spaces).
    pub cmdline: String,
    pub uid: Option<u32>,
    pub user: Option<String>,
    /// Start time, seconds since the Unix epoch.
    pub started_at: Option<u64>,
    /// Scheduling state; `None` when unreadable or unknown.
    pub state: Option<ProcessState>,
    pub ppid: Option<i32>,
    pub exe: Option<PathBuf>,
    /// Kernel function the process sleeps in (`/proc/PID/wchan`), e.g. `n_tty_read`,
    /// `locks_lock_inode_wait`; `None` when running or unreadable.
    pub wchan: Option<String>,
    /// Its standard input is a terminal (`/dev/pts/N`, `/dev/ttyN`): with `wchan` this
    /// tells a holder waiting for someone to type.
    pub stdin_tty: Option<String>,
    /// The systemd unit or other cgroup the process runs in (`/proc/PID/cgroup`).
    pub cgroup: Option<String>,
    /// Its working directory (`/proc/PID/cwd`), when readable.
    pub cwd: Option<PathBuf>,
    /// Its pid inside its own (innermost) pid namespace, when that is not ours
    /// (the last `NSpid` entry): the pid a container's tools know it by.
    pub ns_pid: Option<i32>,
    /// It is the foreground process group of its controlling terminal: what is typed
    /// there goes to it.
    pub tty_foreground: Option<bool>,
    /// A kernel thread (Linux: `PF_KTHREAD` in the `flags` of `/proc/PID/stat`), such as
    /// kthreadd (pid 2) or a kworker: no program, so it never wrote a pidfile. False
    /// when unknown, and on Windows.
    pub kernel_thread: bool,
}

/// An open fd of a process that refers to a file lockscan cares about (a locked
/// inode or a scan candidate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFd {
    pub pid: i32,
    pub fd: i32,
    /// Path as the holder sees it (readlink of /proc/PID/fd/N), without a
    /// " (deleted)" suffix; relative to the holder's mount namespace.
    pub path: Option<PathBuf>,
    /// The file behind the fd has no remaining link (nlink == 0).
    pub deleted: bool,
    /// The name it was opened by now leads to another file or nowhere, though the
    /// inode still has a link elsewhere.
    pub replaced: bool,
    pub key: Option<FileKey>,
    pub mnt_id: Option<u64>,
    /// `st_dev` of the open file (major, minor), filled only where it differs from
    /// the lock-table device in a way that matters: on btrfs, where each subvolume
    /// and snapshot has its own `st_dev` while `/proc/locks` names the superblock, so
    /// that a lock can be pinned on the right one of several files sharing a key.
    pub st_dev: Option<(u32, u32)>,
    pub flags: Option<u32>,
    /// Locks this fd carries (fdinfo `lock:` lines).
    pub locks: Vec<LockLine>,
    /// Fds with the same id share one open file description (proved with
    /// `kcmp(KCMP_FILE)`); `None` when that could not be established.
    pub open_file_id: Option<u64>,
    /// The process this fd was proved to be inherited from (Windows: an inheritable
    /// handle whose parent process holds the same handle value on the same file).
    pub inherited_from: Option<i32>,
}

impl OpenFd {
    pub const O_CLOEXEC: u32 = 0o2000000;

    /// `Some(true)` when the fd is closed on exec, `None` when flags are unknown.
    pub fn cloexec(&self) -> Option<bool> {
        self.flags.map(|f| f & Self::O_CLOEXEC != 0)
    }
}

/// What could not be seen, so no verdict is drawn from missing evidence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visibility {
    /// Processes found in /proc.
    pub processes_seen: usize,
    /// Processes whose fds could not be read (permission).
    pub processes_denied: usize,
    /// Which processes those were.
    pub denied_pids: Vec<i32>,
    /// Processes that exited while being read.
    pub processes_vanished: usize,
    /// `/proc/locks` was readable.
    pub proc_locks_read: bool,
    /// The procfs is not the initial pid namespace's (or that could not be
    /// established): locks of processes outside it are missing from the lock table.
    pub pid_namespace_filtered: bool,
    /// The `hidepid=`/`subset=` options of /proc that hide other users' processes
    /// from this (non-root) scan.
    pub proc_restricted: Option<String>,
    /// Effective uid was root (Windows: the process runs elevated).
    pub root: bool,
    /// Windows: the system handle table was read (there is no lock table there).
    pub handle_table_read: bool,
    /// Windows: how the per-file question "who has this open" was answered.
    pub per_file_api: Option<PerFileApi>,
}
