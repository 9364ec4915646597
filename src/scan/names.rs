//! Which names are lockfiles, pidfiles or symlink locks.
//!
//! One table, matched in order (first match wins), derived from the catalog
//! ([`super::catalog`]): every name pattern a convention is recognised by on its own.
//! Patterns that only mean something in context (`*.lock` under `.git`, `LOCK` next to
//! `CURRENT`) are covered by the generic entries; names that are data, not locks
//! (`Cargo.lock`, `yarn.lock`), match an entry without a kind and are not candidates.

use std::ffi::OsStr;
use std::sync::OnceLock;

use super::catalog::{self, Convention, Pattern};
use crate::model::FileKind;

/// What a name suggests a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// Holds a pid (content is checked).
    Pidfile,
    /// A lockfile: kernel-locked, or an existence lock.
    Lockfile,
    /// A symlink whose target text is the lock data (Firefox, Chromium, Emacs).
    SymlinkLock,
    /// A lock directory whose mtime its owner refreshes (npx, yarn).
    HeartbeatDir,
}

impl NameKind {
    pub const ALL: &'static [NameKind] = &[
        NameKind::Pidfile,
        NameKind::Lockfile,
        NameKind::SymlinkLock,
        NameKind::HeartbeatDir,
    ];
}

impl From<NameKind> for FileKind {
    fn from(k: NameKind) -> FileKind {
        match k {
            NameKind::Pidfile => FileKind::Pidfile,
            NameKind::Lockfile => FileKind::Lockfile,
            NameKind::SymlinkLock => FileKind::SymlinkLock,
            NameKind::HeartbeatDir => FileKind::HeartbeatDir,
        }
    }
}

/// A name rule: the pattern, what it means, and who uses it.
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    pattern: Pattern,
    pub kind: NameKind,
    /// The program(s) using the name, for the report ("dpkg or apt or Firefox").
    pub convention: &'static str,
    /// The catalog conventions that list exactly this pattern, in catalog order (the
    /// file's convention, which may also be a generic one, is [`catalog::recognise`]'s).
    pub conventions: &'static [&'static Convention],
}

struct Entry {
    pattern: Pattern,
    /// `None`: the name is known not to be a lock.
    rule: Option<NameRule>,
}

fn table() -> &'static [Entry] {
    static TABLE: OnceLock<Vec<Entry>> = OnceLock::new();
    TABLE.get_or_init(build)
}

/// One pattern while the table is built.
struct Row {
    pattern: Pattern,
    /// The kind of the first convention with this pattern.
    kind: Option<NameKind>,
    programs: Vec<&'static str>,
    conventions: Vec<&'static Convention>,
}

fn build() -> Vec<Entry> {
    let mut rows: Vec<Row> = Vec::new();
    for conv in catalog::all() {
        for m in conv.matchers.iter().filter(|m| m.by_name) {
            match rows.iter_mut().find(|r| r.pattern == m.pattern) {
                Some(row) => {
                    if !conv.generic && !row.programs.contains(&conv.display) {
                        row.programs.push(conv.display);
                    }
                    row.conventions.push(conv);
                }
                None => rows.push(Row {
                    pattern: m.pattern,
                    kind: conv.name_kind,
                    programs: vec![conv.display],
                    conventions: vec![conv],
                }),
            }
        }
    }
    rows.into_iter()
        .map(|row| Entry {
            pattern: row.pattern,
            rule: row.kind.map(|kind| NameRule {
                pattern: row.pattern,
                kind,
                convention: Box::leak(row.programs.join(" or ").into_boxed_str()),
                conventions: Box::leak(row.conventions.into_boxed_slice()),
            }),
        })
        .collect()
}

impl NameRule {
    /// The name pattern this rule matches.
    pub fn pattern(&self) -> Pattern {
        self.pattern
    }
}

/// The first rule matching `name`, if any.
pub fn classify(name: &OsStr) -> Option<&'static NameRule> {
    let bytes = name.as_encoded_bytes();
    table()
        .iter()
        .find(|e| e.pattern.matches(bytes))
        .and_then(|e| e.rule.as_ref())
}

/// True when a symlink's target text has the shape of lock data: Firefox
/// `127.0.1.1:+4242`, Emacs `user@host.4242:1718000000`, Chromium `host-4242`
/// (the last only together with a lock-like name, checked by the caller).
pub fn symlink_target_is_lock_data(target: &[u8]) -> bool {
    if target.is_empty() || target.contains(&b'/') {
        return false;
    }
    let Ok(t) = std::str::from_utf8(target) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // Firefox: IP ":" ["+"] PID
    if let Some((host, pid)) = t.rsplit_once(':')
        && !host.is_empty()
        && digits(pid.strip_prefix('+').unwrap_or(pid))
        && !host.contains('@')
    {
        return true;
    }
    // Emacs: user "@" host "." PID [":" BOOT]
    if let Some((_, rest)) = t.split_once('@') {
        let pidpart = rest.rsplit_once(':').map(|(a, _)| a).unwrap_or(rest);
        if let Some((host, pid)) = pidpart.rsplit_once('.') {
            return !host.is_empty() && digits(pid);
        }
    }
    false
}

/// Parses the pid out of a symlink lock's target (`host-4242`, `ip:+4242`,
/// `user@host.4242:boot`); `None` when there is none, or when the number cannot be
/// a pid here (`PID_MAX_LIMIT` or above on Linux).
pub fn pid_from_symlink_target(target: &str) -> Option<i32> {
    let digits = |s: &str| -> Option<i32> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())
            .flatten()
            .filter(|p| crate::lock::pidfile::is_possible_pid(*p))
            .map(|p| p as i32)
    };
    if let Some((_, rest)) = target.split_once('@') {
        let pidpart = rest.rsplit_once(':').map(|(a, _)| a).unwrap_or(rest);
        return pidpart.rsplit_once('.').and_then(|(_, p)| digits(p));
    }
    if let Some((_, pid)) = target.rsplit_once(':') {
        return digits(pid.strip_prefix('+').unwrap_or(pid));
    }
    target.rsplit_once('-').and_then(|(_, p)| digits(p))
}

#[cfg(test)]
mod tests {
    use super::NameKind::*;
    use super::*;

    fn kind(n: &str) -> Option<NameKind> {
        classify(OsStr::new(n)).map(|r| r.kind)
    }

    #[test]
    fn conventional_names_are_recognised() {
        assert_eq!(kind(".certbot.lock"), Some(Lockfile));
        assert_eq!(kind("lock-frontend"), Some(Lockfile));
        assert_eq!(kind("nginx.pid"), Some(Pidfile));
        assert_eq!(kind("postmaster.pid"), Some(Pidfile));
        assert_eq!(kind("index.lock"), Some(Lockfile));
        assert_eq!(kind("db.lck"), Some(Lockfile));
        assert_eq!(kind("SingletonLock"), Some(SymlinkLock));
        assert_eq!(kind(".#todo.org"), Some(SymlinkLock));
        assert_eq!(kind("LCK..ttyS0"), Some(Lockfile));
    }

    #[test]
    fn bare_suffixes_and_ordinary_files_are_not_candidates() {
        assert_eq!(kind(".pid"), None);
        assert_eq!(kind(".lock"), None);
        assert_eq!(kind("Cargo.toml"), None);
        assert_eq!(kind("pidgin"), None);
        assert_eq!(kind("locksmith"), None);
    }

    #[test]
    fn the_table_comes_from_the_catalog() {
        assert_eq!(kind("concurrency.lock.lock"), Some(HeartbeatDir));
        assert_eq!(kind(".todo.txt.swp"), Some(Lockfile));
        assert_eq!(kind(".todo.txt.swo"), Some(Lockfile));
        assert_eq!(kind("movie.swf"), None);
        assert_eq!(kind("pageserver.pid"), Some(Pidfile));
        // Data, not locks: dependency manifests, a PostgreSQL socket, InnoDB's tablespace.
        assert_eq!(kind("Cargo.lock"), None);
        assert_eq!(kind("yarn.lock"), None);
        assert_eq!(kind(".s.PGSQL.5432"), None);
        assert_eq!(kind("ibdata1"), None);
        let rule = classify(OsStr::new("LOCK")).unwrap();
        assert_eq!(rule.convention, "RocksDB or LevelDB");
        assert!(std::ptr::eq(rule, classify(OsStr::new("LOCK")).unwrap()));
    }

    #[test]
    fn symlink_lock_targets_are_recognised_and_paths_are_not() {
        assert!(symlink_target_is_lock_data(b"127.0.1.1:+4242"));
        assert!(symlink_target_is_lock_data(
            b"alice@buildhost.4242:1718000000"
        ));
        assert!(!symlink_target_is_lock_data(b"/usr/bin/python3"));
        assert!(!symlink_target_is_lock_data(b"python3.11"));
        assert_eq!(pid_from_symlink_target("buildhost-4242"), Some(4242));
        assert_eq!(pid_from_symlink_target("127.0.1.1:+4242"), Some(4242));
        assert_eq!(
            pid_from_symlink_target("alice@buildhost.4242:1718000000"),
            Some(4242)
        );
        assert_eq!(pid_from_symlink_target("nonsense"), None);
    }

    #[cfg(not(windows))]
    #[test]
    fn symlink_targets_above_the_largest_linux_pid_name_no_pid() {
        assert_eq!(
            pid_from_symlink_target("buildhost-4194303"),
            Some(4_194_303)
        );
        for t in [
            "buildhost-4194304",
            "buildhost-4194305",
            "buildhost-2147483647",
            "127.0.1.1:+4194305",
            "alice@buildhost.2147483647:1718000000",
            "buildhost-0",
        ] {
            assert_eq!(pid_from_symlink_target(t), None, "{t}");
        }
    }
}
