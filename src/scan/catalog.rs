//! The catalog of lockfile / pidfile conventions, as data.
//!
//! One entry per convention (the `name`s of `fixtures/reference/conventions.json`,
//! the reference list of real programs' lock conventions that `tests/catalog.rs`
//! checks it against, plus a few generic ones), most specific first. Each entry
//! says how the file is recognised (name patterns, parent directories, siblings,
//! content magic), how its content is parsed, and which discipline decides whether
//! it is stale and whether it may be deleted; what is particular to one program
//! (git gc's 12-hour expiry, PostgreSQL cleaning up after itself, Vim's unsaved
//! changes) is a field of its entry, never a test of its name. The name table in
//! [`super::names`] is derived from it.
//!
//! Three parts, no I/O in any: this module holds the types and the [`all`] table;
//! [`recognise`](recognise()) says which convention a file follows from what the
//! scanner observed ([`Observed`]); [`verdict`] says whether it is stale and may be
//! deleted from the facts the scanner established ([`Facts`]). The protocol is:
//!
//! 1. build an [`Observed`] without content; if [`content_would_help`] says so (plain
//!    regular files only), read the first 4 KiB into `content`;
//! 2. [`recognise`](recognise()) it; [`parse_content`] the result;
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

use super::names::NameKind;
use crate::sys::FileType;

mod parse;
mod recognise;
mod table;
pub mod verdict;

pub use crate::model::Discipline;
pub use parse::ParsedContent;
pub use recognise::{
    Observed, content_would_help, exe_matches, kernel_lock_path, parse_content, recognise,
    wants_content,
};
pub use verdict::{Facts, PidState, is_stale, safe_to_delete};

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
    /// What the program prints to a second instance (every version's wording, as
    /// the reference list has it).
    pub error_message: Option<&'static str>,
    /// What the current program prints to the next instance while this file's
    /// exclusion is in force, with `{path}`, `{dir}` (its directory), `{pid}` and
    /// `{comm}` (of the holder, or of the process the file names) to fill in.
    pub next_run: Option<&'static str>,
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
    /// Observed file types it can have.
    pub file_types: &'static [FileType],
    /// Ways to recognise it; empty for user-chosen paths (by [`by_name`] only).
    pub matchers: &'static [Matcher],
    pub lock_site: LockSite,
    /// For pid-recording files: a copy written on another host is ignored by the
    /// program itself once older than this many seconds, and why (git gc: 12 hours).
    pub other_host_expiry: Option<(u64, &'static str)>,
    /// When its owner is gone, the program must clean up itself rather than the
    /// operator: what to do instead of deleting (PostgreSQL's postmaster.pid).
    pub self_cleanup: Option<&'static str>,
    /// Where "no process is running" must hold before removing a leftover
    /// existence lock (" in this repository", " on this root").
    pub running_scope: &'static str,
    /// Which running processes of the program count as its possible owners.
    pub program_scope: ProgramScope,
    /// The file can hold unsaved work ([`ParsedContent::dirty`]): what it is called
    /// and how to recover the work before deleting (Vim's swap file, `vim -r`).
    pub unsaved_work_recovery: Option<(&'static str, &'static str)>,
    /// A leftover (the owner is gone) stops the program's next run until someone
    /// removes it (git's index.lock, pacman's db.lck); false when the program checks
    /// a leftover itself and goes on (certbot, nginx, systemd).
    pub leftover_blocks: bool,
    /// The file records no owner of its own: how to judge it instead (Chromium's
    /// SingletonSocket and SingletonCookie go with SingletonLock).
    pub judged_with: Option<&'static str>,
}

/// Which running processes of a convention's program may own a file of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgramScope {
    /// Any on this host.
    #[default]
    Host,
    /// Those working in the file's repository (their working directory is in the
    /// work tree that the `.git` directory holding the file belongs to).
    Repository,
}

impl Convention {
    /// Whether [`recognise`](recognise()) can ever return it.
    pub fn recognisable(&self) -> bool {
        !self.matchers.is_empty()
    }
}

/// All conventions, most specific first.
pub fn all() -> &'static [Convention] {
    table::CATALOG
}

/// The convention whose files can be anywhere and are known only by the program
/// that locks them (flock(1)), for a holder named `process_name`.
pub fn by_holder(process_name: &str) -> Option<&'static Convention> {
    all()
        .iter()
        .find(|c| c.matchers.is_empty() && exe_matches(c, process_name) == Some(true))
}

/// The convention with this stable name.
pub fn by_name(name: &str) -> Option<&'static Convention> {
    all().iter().find(|c| c.name == name)
}
