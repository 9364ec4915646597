//! The catalog of lockfile / pidfile conventions, as data.
//!
//! One entry per convention (the `name`s of `../shared/reference/conventions.json`
//! plus a few generic ones), most specific first. Each entry says how the file is
//! recognised (name patterns, parent directories, siblings, content magic), how its
//! content is parsed, and which discipline decides whether it is stale and whether
//! it may be deleted. The name table in [`super::names`] is derived from it.
//!
//! No I/O happens here: the scanner describes what it saw ([`Observed`], [`Facts`])
//! and gets answers back. The protocol is:
//!
//! 1. build an [`Observed`] without content; if [`content_would_help`] says so (plain
//!    regular files only), read the first 4 KiB into `content`;
//! 2. [`recognise`] it; [`parse_content`] the result;
//! 3. establish [`Facts`] — the kernel lock is looked up on [`kernel_lock_path`], which
//!    is not always the file itself (Terraform locks the state file, Firefox's `lock`
//!    symlink is backed by `.parentlock`); `PidState::Reused` covers both an exe that is
//!    not one of [`Convention::exe_names`] (see [`exe_matches`]) and a file older than the
//!    current boot holding a live pid (or, for Emacs, another boot time than the one
//!    recorded); a zombie counts as `Dead`; `Facts::dirty` is `ParsedContent::dirty`;
//! 4. ask [`safe_to_delete`] and [`is_stale`].
//!
//! Decisions: `postmaster.pid` is PostgreSQL's beside `PG_VERSION` or when its content
//! has the postmaster shape, otherwise a generic pidfile; `LOCK` needs `CURRENT` (and
//! `IDENTITY` for RocksDB); `*.lock` is git's only under a `.git` (or bare `*.git`)
//! directory; names that are data (`Cargo.lock`, `yarn.lock`, …) are not candidates.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::names::{self, NameKind};

mod parse;
mod table;

pub use parse::ParsedContent;

/// How a convention excludes other instances, which decides staleness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Discipline {
    /// A kernel lock (flock/fcntl/OFD) on a file that is kept after release.
    KernelLockKept,
    /// A kernel lock on a file that its program deletes on release.
    KernelLockDeletedOnRelease,
    /// The file's existence is the lock and it records the owner's pid.
    ExistencePid,
    /// The file's existence is the lock and nothing records the owner.
    ExistenceOnly,
    /// A symlink whose target text records the owner (host, pid).
    Symlink,
    /// A directory whose mtime is refreshed by its living owner.
    HeartbeatDir,
    /// Data that looks like (or carries) a lock; never a leftover.
    DataFile,
}

impl Discipline {
    pub fn as_str(&self) -> &'static str {
        match self {
            Discipline::KernelLockKept => "kernel-lock-kept",
            Discipline::KernelLockDeletedOnRelease => "kernel-lock-deleted-on-release",
            Discipline::ExistencePid => "existence-pid",
            Discipline::ExistenceOnly => "existence-only",
            Discipline::Symlink => "symlink",
            Discipline::HeartbeatDir => "heartbeat-dir",
            Discipline::DataFile => "data-file",
        }
    }
}

/// Which program wrote a symlink lock's target text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymlinkKind {
    /// Gecko `lock`: `IP:+PID` (`+`: also holds `.parentlock`) or `IP:PID`.
    Firefox,
    /// Chromium `SingletonLock`: `hostname-PID`, split at the last `-`.
    ChromiumLock,
    /// Chromium `SingletonSocket`: path of the socket in a private temp dir.
    ChromiumSocket,
    /// Chromium `SingletonCookie`: a random u64 in decimal.
    ChromiumCookie,
    /// Emacs `.#FILE`: `USER@HOST.PID:BOOT` (`:BOOT` optional); also a regular file.
    Emacs,
    /// Unknown program: `host-PID`, `IP:PID` or `user@host.PID` shapes.
    Generic,
}

/// How a convention's content is laid out (conventions.md §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentFormat {
    /// Empty by design (kernel-lock files, existence locks).
    Empty,
    /// `4242\n`; only the first line is read (like systemd's `parse_pid`).
    PidLine,
    /// `4242` without a newline (a trailing newline is tolerated).
    PidNoNewline,
    /// A pidfile of unknown origin: a pid on the first line.
    GenericPid,
    /// PostgreSQL `postmaster.pid`: 8 lines (pid, datadir, start, port, sockdir, listen, shmem, status).
    PostmasterPid,
    /// PostgreSQL `.s.PGSQL.<port>.lock`: the first 5 lines of `postmaster.pid`.
    PgSocketLock,
    /// `.git/gc.pid`: `4242 buildhost` (no newline).
    GitGcPid,
    /// git >= 2.54 `X~pid.lock`: `pid 4242\n`.
    GitPidLock,
    /// A git `X.lock`: the new version of X (`DIRC…`, `ref: …`, an object id, text).
    GitLockTarget,
    /// Python filelock `SoftFileLock`: `pid\nhost\n[start_token\n]`.
    SoftFileLock,
    /// dnf5 `rpmtransaction.lock`: TOML `pid = 4242`, `start_time`, `description`, `comment`.
    Dnf5Toml,
    /// Terraform `.terraform.tfstate.lock.info`: JSON LockInfo.
    TerraformJson,
    /// Vim swap file block 0 (binary).
    VimSwap,
    /// The lock data is a symlink's target text.
    SymlinkTarget(SymlinkKind),
    /// UUCP `LCK..dev`: `%10d\n` (HDB) or a binary 4-byte pid (old style).
    UucpPid,
    /// A lockfile of unknown origin: a pid line, `pid N`, SoftFileLock shape, or nothing.
    GenericLock,
    /// LMDB `lock.mdb`: magic `0xBEEFC0DE` (LE), format, reader table.
    Lmdb,
    /// MariaDB `aria_log_control`: magic `FE FE 0C`.
    AriaControl,
    /// An SQLite database (`SQLite format 3\0`).
    Sqlite,
    /// Opaque binary data that is not worth reading (InnoDB, bbolt).
    Binary,
    /// Data that must not be read or touched (SQLite -wal/-shm/-journal, manifests).
    Data,
    /// Defined by the caller (fd-lock, fs4 users).
    Unknown,
}

/// A file-name pattern. Prefix/suffix patterns need at least one more byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Exact(&'static str),
    Prefix(&'static str),
    Suffix(&'static str),
    /// `.s.PGSQL.<digits>.lock`.
    PgSocketLock,
    /// Vim's first swap names: `*.swp`, and `*.swo` … `*.swa` when dot-prefixed (swap
    /// in the file's own directory) or `%`-encoded (a `//` swap directory).
    VimSwap,
    /// Vim's later swap names `*.s[a-v][a-z]` (only with the `b0VIM ` magic).
    VimSwapLate,
    /// Any name (only meaningful with content requirements).
    Any,
}

impl Pattern {
    pub fn matches(&self, name: &[u8]) -> bool {
        match *self {
            Pattern::Exact(s) => name == s.as_bytes(),
            Pattern::Prefix(s) => name.len() > s.len() && name.starts_with(s.as_bytes()),
            Pattern::Suffix(s) => name.len() > s.len() && name.ends_with(s.as_bytes()),
            Pattern::PgSocketLock => name
                .strip_prefix(b".s.PGSQL.")
                .and_then(|r| r.strip_suffix(b".lock"))
                .is_some_and(|port| !port.is_empty() && port.iter().all(u8::is_ascii_digit)),
            Pattern::VimSwap => {
                matches!(name, [.., b'.', b's', b'w', c] if (b'a'..=b'p').contains(c))
                    && (name.ends_with(b".swp") || name.starts_with(b".") || name.contains(&b'%'))
            }
            Pattern::VimSwapLate => matches!(
                name,
                [_, .., b'.', b's', b, c] if (b'a'..=b'v').contains(b) && c.is_ascii_lowercase()
            ),
            Pattern::Any => !name.is_empty(),
        }
    }
}

/// A content shape that identifies a convention (used where the name is generic).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// At least 4 lines: non-zero pid, absolute data dir, epoch, port.
    PostmasterPid,
    /// `pid\nhost\n[token\n]` exactly.
    SoftFileLock,
    /// A JSON object with Terraform's `ID` and `Operation`/`Who` keys.
    TerraformJson,
}

/// A condition on the file's surroundings or content. All of a matcher's must hold.
#[derive(Debug, Clone, Copy)]
pub enum Req {
    /// The parent directory has this name.
    Parent(&'static str),
    /// The grandparent directory has this name.
    Grandparent(&'static str),
    /// Some ancestor is a git directory (`.git`, or a bare `*.git`).
    UnderGitDir,
    /// A file or directory of this name exists beside it.
    Sibling(&'static str),
    /// The file's own name minus this prefix and suffix exists beside it
    /// (`data-lock` ⇒ `data`, `.terraform.tfstate.lock.info` ⇒ `terraform.tfstate`).
    SiblingStem(&'static str, &'static str),
    /// The content was read and starts with these bytes.
    Magic(&'static [u8]),
    /// The content was not read, or starts with these bytes.
    MagicIfRead(&'static [u8]),
    /// The content was read and has this shape.
    Shape(Shape),
    /// The symlink target looks like lock data (not a path).
    SymlinkLockData,
    /// At least one of these holds.
    Any(&'static [Req]),
}

impl Req {
    fn holds(&self, obs: &Observed, name: &[u8]) -> bool {
        let component = |up: usize| {
            obs.path
                .ancestors()
                .nth(up)
                .and_then(Path::file_name)
                .map(OsStr::as_encoded_bytes)
        };
        match *self {
            Req::Parent(p) => component(1) == Some(p.as_bytes()),
            Req::Grandparent(p) => component(2) == Some(p.as_bytes()),
            Req::UnderGitDir => obs.path.ancestors().skip(1).any(|a| {
                a.file_name()
                    .map(OsStr::as_encoded_bytes)
                    .is_some_and(|c| c == b".git" || (c.len() > 4 && c.ends_with(b".git")))
            }),
            Req::Sibling(s) => (obs.sibling_exists)(s),
            Req::SiblingStem(prefix, suffix) => name
                .strip_prefix(prefix.as_bytes())
                .and_then(|n| n.strip_suffix(suffix.as_bytes()))
                .filter(|stem| !stem.is_empty())
                .and_then(|stem| std::str::from_utf8(stem).ok())
                .is_some_and(|stem| (obs.sibling_exists)(stem)),
            Req::Magic(m) => obs.content.is_some_and(|c| c.starts_with(m)),
            Req::MagicIfRead(m) => obs.content.is_none_or(|c| c.starts_with(m)),
            Req::Shape(s) => obs.content.is_some_and(|c| parse::has_shape(s, c)),
            Req::SymlinkLockData => obs.symlink_target.is_some_and(|t| {
                names::symlink_target_is_lock_data(t.as_bytes())
                    || (!t.contains('/')
                        && names::pid_from_symlink_target(t).is_some()
                        && obs.path.file_name().and_then(names::classify).is_some())
            }),
            Req::Any(reqs) => reqs.iter().any(|r| r.holds(obs, name)),
        }
    }

    fn needs_content(&self) -> bool {
        match self {
            Req::Magic(_) | Req::Shape(_) => true,
            Req::Any(reqs) => reqs.iter().any(Req::needs_content),
            _ => false,
        }
    }
}

/// One way of recognising a convention.
#[derive(Debug, Clone, Copy)]
pub struct Matcher {
    pub pattern: Pattern,
    pub reqs: &'static [Req],
    /// Whether the name alone makes the file a candidate ([`names::classify`]); the
    /// generic rules cover the names whose meaning comes only from the context.
    pub by_name: bool,
}

/// Where the kernel lock that decides a file's state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockSite {
    /// On the file itself.
    Itself,
    /// On a sibling of this name (Firefox `lock` ⇒ `.parentlock`).
    Sibling(&'static str),
    /// On the sibling named by the file's name minus this prefix and suffix
    /// (Terraform `.terraform.tfstate.lock.info` ⇒ `terraform.tfstate`).
    SiblingStem(&'static str, &'static str),
}

/// One convention.
#[derive(Debug)]
pub struct Convention {
    /// Stable id: the conventions.json `name`, or `generic-…`.
    pub name: &'static str,
    /// The program(s), as in conventions.json.
    pub program: &'static str,
    /// A short program name for sentences ("git", "dpkg", "PostgreSQL").
    pub display: &'static str,
    pub discipline: Discipline,
    pub deletes_on_release: bool,
    pub content: ContentFormat,
    /// What the program prints to a second instance.
    pub error_message: Option<&'static str>,
    /// One operator-facing sentence.
    pub stale_rule: &'static str,
    /// `comm` / exe basenames that legitimately own it (PID-reuse checks); empty = unknown.
    pub exe_names: &'static [&'static str],
    /// For heartbeat directories: stale once older than this.
    pub heartbeat_secs: Option<u64>,
    /// A fallback by name only (`*.pid`, `*.lock`, …): the program is not known.
    pub generic: bool,
    /// How [`names::classify`] labels a name of this convention; `None` hides the
    /// name from name-only classification (data files, dependency manifests).
    pub name_kind: Option<NameKind>,
    /// Observed file types it can have ("regular", "symlink", "directory").
    pub file_types: &'static [&'static str],
    /// Ways to recognise it; empty for user-chosen paths (by [`by_name`] only).
    pub matchers: &'static [Matcher],
    pub lock_site: LockSite,
}

impl Convention {
    /// Whether [`recognise`] can ever return it.
    pub fn recognisable(&self) -> bool {
        !self.matchers.is_empty()
    }

    fn matches(&self, obs: &Observed, name: &[u8]) -> bool {
        self.file_types.contains(&obs.file_type)
            && self
                .matchers
                .iter()
                .any(|m| m.pattern.matches(name) && m.reqs.iter().all(|r| r.holds(obs, name)))
    }
}

/// All conventions, most specific first.
pub fn all() -> &'static [Convention] {
    table::CATALOG
}

/// The convention with this stable name.
pub fn by_name(name: &str) -> Option<&'static Convention> {
    all().iter().find(|c| c.name == name)
}

/// What the scanner observed about one file (no I/O happens in this module).
pub struct Observed<'a> {
    pub path: &'a Path,
    /// "regular", "symlink", "directory", …
    pub file_type: &'a str,
    pub symlink_target: Option<&'a str>,
    /// The first ≤ 4096 bytes when read (`None` = not read).
    pub content: Option<&'a [u8]>,
    /// Does a file or directory of this name exist in the same directory?
    pub sibling_exists: &'a dyn Fn(&str) -> bool,
}

/// The convention a file follows, most specific first; generic rules by name last.
pub fn recognise(obs: &Observed) -> Option<&'static Convention> {
    let name = obs.path.file_name()?.as_encoded_bytes();
    all().iter().find(|c| c.matches(obs, name))
}

/// Whether reading the file's first 4 KiB could refine or complete recognition:
/// the current answer wants its content, or a convention for this name is only
/// confirmed by content (Vim's later swap names, `*.lock.info`, `X-lock`, SoftFileLock).
/// Always false for anything but unread regular files.
pub fn content_would_help(obs: &Observed) -> bool {
    if obs.file_type != "regular" || obs.content.is_some() {
        return false;
    }
    let Some(name) = obs.path.file_name().map(OsStr::as_encoded_bytes) else {
        return false;
    };
    recognise(obs).is_some_and(wants_content)
        || all().iter().any(|c| {
            c.file_types.contains(&"regular")
                && c.matchers.iter().any(|m| {
                    m.pattern != Pattern::Any
                        && m.pattern.matches(name)
                        && m.reqs.iter().any(Req::needs_content)
                })
        })
}

/// Whether the scanner should read the first 4 KiB (plain regular files only).
pub fn wants_content(conv: &Convention) -> bool {
    match conv.content {
        ContentFormat::Empty
        | ContentFormat::Binary
        | ContentFormat::Data
        | ContentFormat::Unknown
        | ContentFormat::Sqlite => false,
        ContentFormat::SymlinkTarget(kind) => kind == SymlinkKind::Emacs,
        _ => true,
    }
}

/// Parses what the file records (pid, host, …). Total: never panics on any bytes.
pub fn parse_content(conv: &Convention, obs: &Observed) -> ParsedContent {
    parse::parse(conv.content, obs)
}

/// The file whose kernel lock decides this one's state (`Facts::kernel_locked`).
pub fn kernel_lock_path(conv: &Convention, path: &Path) -> PathBuf {
    let sibling = |s: &str| path.with_file_name(s);
    match conv.lock_site {
        LockSite::Itself => path.to_path_buf(),
        LockSite::Sibling(s) => sibling(s),
        LockSite::SiblingStem(prefix, suffix) => path
            .file_name()
            .map(OsStr::as_encoded_bytes)
            .and_then(|n| n.strip_prefix(prefix.as_bytes()))
            .and_then(|n| n.strip_suffix(suffix.as_bytes()))
            .filter(|stem| !stem.is_empty())
            .and_then(|stem| std::str::from_utf8(stem).ok())
            .map_or_else(|| path.to_path_buf(), sibling),
    }
}

/// Whether a process name (`comm`, or an exe basename) is one that legitimately owns
/// files of this convention; `None` when the convention names none. `comm` is cut to
/// 15 bytes by the kernel, and versioned binaries (`emacs-29.3`) count as their base.
pub fn exe_matches(conv: &Convention, process_name: &str) -> Option<bool> {
    if conv.exe_names.is_empty() {
        return None;
    }
    let cut = |s: &str| -> Vec<u8> { s.bytes().take(15).collect() };
    let p = process_name.as_bytes();
    Some(conv.exe_names.iter().any(|e| {
        let e = e.as_bytes();
        p == e
            || (p.len() == 15 && e.len() > 15 && cut(process_name) == e[..15])
            || p.strip_prefix(e)
                .and_then(|rest| rest.strip_prefix(b"-"))
                .is_some_and(|v| {
                    !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b'.')
                })
    }))
}

/// What became of the pid a file records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PidState {
    /// The file records no usable pid (or the convention has none).
    #[default]
    NoPid,
    /// Running, and (when checkable) the right program.
    Alive,
    /// Not running (ESRCH), or a zombie.
    Dead,
    /// Running, but another program (exe mismatch) or the file predates the boot.
    Reused,
    /// Recorded by another host: cannot be checked from here.
    OtherHost,
    /// Could not be checked.
    Unknown,
}

/// Facts the scanner established about the file, for the verdict.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Some process holds a kernel lock on [`kernel_lock_path`].
    pub kernel_locked: bool,
    /// Some process has the file open (any fd).
    pub open_by_any: bool,
    /// False when other processes could not be inspected (then never "yes").
    pub visibility_complete: bool,
    pub pid: PidState,
    /// now − mtime.
    pub age_secs: Option<u64>,
    /// Whether the recorded host is this host; `Some(false)` counts as `OtherHost`.
    pub same_host: Option<bool>,
    /// Vim: the swap file's dirty flag ([`ParsedContent::dirty`]); unused elsewhere.
    pub dirty: Option<bool>,
    /// Whether a process named in [`Convention::exe_names`] is running (on the same
    /// root/repo when known); only consulted for existence-only locks.
    pub program_running: Option<bool>,
}

/// A verdict on deleting a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Yes,
    No,
    Unknown,
}

impl Verdict {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Yes => "yes",
            Verdict::No => "no",
            Verdict::Unknown => "unknown",
        }
    }
}

/// Whether removing the file is safe, with one operator-facing sentence why.
pub fn safe_to_delete(conv: &Convention, facts: &Facts) -> (Verdict, String) {
    let j = judge(conv, facts);
    (j.verdict, j.reason)
}

/// Is this file stale by the convention's own rule? `Some(true)` stale, `Some(false)`
/// live (or never stale), `None` unknown — never "stale" on unknown evidence.
pub fn is_stale(conv: &Convention, facts: &Facts) -> Option<bool> {
    judge(conv, facts).stale
}

struct Judgement {
    stale: Option<bool>,
    verdict: Verdict,
    reason: String,
}

fn j(stale: Option<bool>, verdict: Verdict, reason: String) -> Judgement {
    Judgement {
        stale,
        verdict,
        reason,
    }
}

/// A stand-alone sentence as part of a reason: lower-case start, no final period.
fn sentence_part(s: &str) -> String {
    let s = s.trim_end_matches('.');
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

const INVISIBLE: &str =
    "other processes could not be inspected, so one of them may still be using it";

fn judge(c: &Convention, f: &Facts) -> Judgement {
    let mut out = match c.discipline {
        Discipline::KernelLockKept => kept(c, f),
        Discipline::KernelLockDeletedOnRelease => deleted_on_release(c, f),
        Discipline::ExistencePid | Discipline::Symlink => by_pid(c, f),
        Discipline::ExistenceOnly if f.pid != PidState::NoPid => by_pid(c, f),
        Discipline::ExistenceOnly => existence_only(c, f),
        Discipline::HeartbeatDir => heartbeat(c, f),
        Discipline::DataFile => j(Some(false), Verdict::No, sentence_part(c.stale_rule)),
    };
    if out.verdict == Verdict::Yes && !f.visibility_complete {
        out.verdict = Verdict::Unknown;
        out.reason = format!("it looks stale, but {INVISIBLE}");
    }
    out
}

fn kept(c: &Convention, f: &Facts) -> Judgement {
    let who = c.display;
    let reason = if f.kernel_locked {
        format!(
            "{who} holds a kernel lock on it right now, and the file is kept on purpose: deleting \
             it never releases a lock, it only breaks mutual exclusion (the holder keeps the old \
             inode while the next {who} locks a new one)"
        )
    } else {
        format!(
            "{who} keeps this file for its kernel lock and nobody holds it now: deleting it never \
             releases a lock, it only breaks mutual exclusion between a waiter on the old inode \
             and a newcomer on a new one"
        )
    };
    j(Some(false), Verdict::No, reason)
}

fn lock_place(c: &Convention) -> &'static str {
    match c.lock_site {
        LockSite::Itself => "it",
        LockSite::Sibling(s) => s,
        LockSite::SiblingStem(..) => "the state file it describes",
    }
}

fn deleted_on_release(c: &Convention, f: &Facts) -> Judgement {
    let who = c.display;
    let place = lock_place(c);
    if f.kernel_locked {
        j(
            Some(false),
            Verdict::No,
            format!("{who} holds a kernel lock on {place}: the lock is in use"),
        )
    } else if f.open_by_any {
        j(
            Some(false),
            Verdict::No,
            format!(
                "no kernel lock is held on {place}, but a process has the file open (it may be \
                 taking or releasing the lock)"
            ),
        )
    } else if !f.visibility_complete {
        j(
            None,
            Verdict::Unknown,
            format!("no kernel lock is held on {place}, but {INVISIBLE}"),
        )
    } else {
        j(
            Some(true),
            Verdict::Yes,
            format!(
                "no process holds the kernel lock on {place} or has the file open: it is a crash \
                 leftover ({who} deletes it on release)"
            ),
        )
    }
}

/// "the nginx process", or "the owning process" for generic conventions.
fn owner(c: &Convention) -> String {
    if c.generic {
        "owning process".to_string()
    } else {
        format!("{} process", c.display)
    }
}

fn by_pid(c: &Convention, f: &Facts) -> Judgement {
    let who = owner(c);
    if f.kernel_locked {
        return j(
            Some(false),
            Verdict::No,
            format!(
                "a process holds a kernel lock on {}: it is in use",
                lock_place(c)
            ),
        );
    }
    let pid = match f.pid {
        PidState::NoPid => PidState::NoPid,
        _ if f.same_host == Some(false) => PidState::OtherHost,
        p => p,
    };
    let gone = match pid {
        PidState::Alive => {
            return j(
                Some(false),
                Verdict::No,
                format!("the {who} it records is still running"),
            );
        }
        PidState::Dead => format!("the {who} it records is gone"),
        PidState::Reused => format!(
            "the pid it records now belongs to another program, so the {who} that wrote it is \
             gone"
        ),
        PidState::OtherHost
            if c.name == "git-gc-pid" && f.age_secs.is_some_and(|a| a > 12 * 3600) =>
        {
            "it was written on another host more than 12 hours ago, and git gc itself ignores it \
             then"
                .to_string()
        }
        PidState::OtherHost => {
            return j(
                None,
                Verdict::Unknown,
                "it was written by a process on another host, which cannot be checked from here"
                    .to_string(),
            );
        }
        PidState::Unknown => {
            return j(
                None,
                Verdict::Unknown,
                format!("the {who} it records could not be checked"),
            );
        }
        PidState::NoPid
            if matches!(
                c.content,
                ContentFormat::SymlinkTarget(
                    SymlinkKind::ChromiumSocket | SymlinkKind::ChromiumCookie
                )
            ) =>
        {
            return j(
                None,
                Verdict::Unknown,
                "it records no pid of its own: judge it by the SingletonLock beside it and remove \
                 the three Singleton links together"
                    .to_string(),
            );
        }
        PidState::NoPid => {
            return j(
                None,
                Verdict::Unknown,
                "it holds no usable pid (empty or malformed), so its owner cannot be checked"
                    .to_string(),
            );
        }
    };
    if c.content == ContentFormat::VimSwap {
        match f.dirty {
            Some(true) => {
                return j(
                    Some(true),
                    Verdict::No,
                    format!(
                        "{gone}, but the swap file holds unsaved changes: recover them with \
                         `vim -r`, then delete it"
                    ),
                );
            }
            None => {
                return j(
                    Some(true),
                    Verdict::Unknown,
                    format!("{gone}, but whether the swap file holds unsaved changes is unknown"),
                );
            }
            Some(false) => {}
        }
    }
    if c.name == "postgres-postmaster-pid" {
        return j(
            Some(true),
            Verdict::Unknown,
            format!(
                "{gone}, but orphaned backends may still have its shared memory attached: start \
                 PostgreSQL and let it remove the file itself"
            ),
        );
    }
    if f.open_by_any {
        return j(
            Some(true),
            Verdict::No,
            format!("{gone}, but a process has the file open (perhaps a new owner taking it over)"),
        );
    }
    if !f.visibility_complete {
        return j(
            Some(true),
            Verdict::Unknown,
            format!("{gone}, but {INVISIBLE}"),
        );
    }
    j(
        Some(true),
        Verdict::Yes,
        format!("{gone}: the file is a leftover and nothing depends on it"),
    )
}

fn existence_only(c: &Convention, f: &Facts) -> Judgement {
    let who = c.display;
    if f.kernel_locked {
        return j(
            Some(false),
            Verdict::No,
            "a process holds a kernel lock on it: it is in use".to_string(),
        );
    }
    if f.open_by_any {
        return j(
            Some(false),
            Verdict::No,
            format!("a process has it open, so {who} is still working with it"),
        );
    }
    if f.program_running == Some(true) {
        return j(
            None,
            Verdict::Unknown,
            format!(
                "nobody has it open, but a {who} process is running and may still own it (a lock \
                 can be held with its file closed)"
            ),
        );
    }
    if !f.visibility_complete {
        return j(
            None,
            Verdict::Unknown,
            format!("nobody visible has it open, but {INVISIBLE}"),
        );
    }
    if c.generic {
        return j(
            None,
            Verdict::Unknown,
            "nothing holds it or has it open, but no known convention identifies it: it may be a \
             free reusable lock file (flock(1), filelock) rather than a leftover"
                .to_string(),
        );
    }
    let scope = match c.name {
        "git-lockfile" => " in this repository",
        "pacman-db-lck" => " on this root",
        _ => "",
    };
    j(
        Some(true),
        Verdict::Yes,
        format!(
            "no process has it open, so no {who} process is using it: it is a leftover from a \
             crashed {who}; remove it only while no {who} process is running{scope}"
        ),
    )
}

fn heartbeat(c: &Convention, f: &Facts) -> Judgement {
    let who = c.display;
    let limit = c.heartbeat_secs.unwrap_or(10);
    match f.age_secs {
        Some(age) if age > limit => j(
            Some(true),
            Verdict::Yes,
            format!(
                "its owner has not refreshed it for {age} s (stale after {limit} s), so the {who} \
                 process that made it is gone; {who} removes such a directory itself"
            ),
        ),
        Some(age) => j(
            Some(false),
            Verdict::No,
            format!(
                "it was refreshed {age} s ago (stale only after {limit} s): its {who} owner is alive"
            ),
        ),
        None => j(
            None,
            Verdict::Unknown,
            "its age is unknown, so whether its owner still refreshes it cannot be told"
                .to_string(),
        ),
    }
}
