//! Which names are lockfiles, pidfiles or symlink locks.
//!
//! One table, matched in order (first match wins); no chain of ifs. The facts come
//! from the programs' own sources (../shared/reference/conventions.md §3).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// What a name suggests a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// Holds a pid (content is checked).
    Pidfile,
    /// A lockfile: kernel-locked, or an existence lock.
    Lockfile,
    /// A symlink whose target text is the lock data (Firefox, Chromium, Emacs).
    SymlinkLock,
}

impl NameKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            NameKind::Pidfile => "pidfile",
            NameKind::Lockfile => "lockfile",
            NameKind::SymlinkLock => "symlink-lock",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Pattern {
    Exact(&'static str),
    Prefix(&'static str),
    Suffix(&'static str),
}

impl Pattern {
    fn matches(&self, name: &[u8]) -> bool {
        match self {
            Pattern::Exact(s) => name == s.as_bytes(),
            Pattern::Prefix(s) => name.len() > s.len() && name.starts_with(s.as_bytes()),
            Pattern::Suffix(s) => name.len() > s.len() && name.ends_with(s.as_bytes()),
        }
    }
}

/// A name rule: the pattern, what it means, and who uses it.
#[derive(Debug, Clone, Copy)]
pub struct NameRule {
    pattern: Pattern,
    pub kind: NameKind,
    /// The program or convention, for the report.
    pub convention: &'static str,
}

const fn rule(pattern: Pattern, kind: NameKind, convention: &'static str) -> NameRule {
    NameRule {
        pattern,
        kind,
        convention,
    }
}

use NameKind::*;
use Pattern::*;

/// Names, most specific first.
static RULES: &[NameRule] = &[
    rule(Exact(".certbot.lock"), Lockfile, "certbot"),
    rule(Exact("lock-frontend"), Lockfile, "dpkg"),
    rule(Exact("lock"), Lockfile, "dpkg/apt or Firefox"),
    rule(Exact("Lock"), Lockfile, "dpkg triggers"),
    rule(Exact("daily_lock"), Lockfile, "apt.systemd.daily"),
    rule(Exact("db.lck"), Lockfile, "pacman"),
    rule(Exact(".rpm.lock"), Lockfile, "rpm"),
    rule(Exact(".keyring.lock"), Lockfile, "rpm"),
    rule(Exact("LOCK"), Lockfile, "LevelDB/RocksDB"),
    rule(Exact("lock.mdb"), Lockfile, "LMDB"),
    rule(Exact(".parentlock"), Lockfile, "Firefox"),
    rule(Exact("SingletonLock"), SymlinkLock, "Chromium"),
    rule(Exact("SingletonSocket"), SymlinkLock, "Chromium"),
    rule(Exact("SingletonCookie"), SymlinkLock, "Chromium"),
    rule(Exact(".package-cache"), Lockfile, "cargo"),
    rule(Exact(".package-cache-mutate"), Lockfile, "cargo"),
    rule(Exact(".cargo-lock"), Lockfile, "cargo"),
    rule(Exact(".cargo-build-lock"), Lockfile, "cargo"),
    rule(Exact(".terraform.tfstate.lock.info"), Lockfile, "Terraform"),
    rule(Exact("postmaster.pid"), Pidfile, "PostgreSQL"),
    rule(Exact("gc.pid"), Pidfile, "git gc"),
    rule(Prefix(".s.PGSQL."), Lockfile, "PostgreSQL socket"),
    rule(Prefix("LCK.."), Lockfile, "UUCP serial-line lock"),
    rule(Prefix(".#"), SymlinkLock, "Emacs"),
    rule(Suffix(".pid.oldbin"), Pidfile, "nginx"),
    rule(Suffix(".pid"), Pidfile, "pidfile"),
    rule(Suffix(".lock"), Lockfile, "lockfile"),
    rule(Suffix(".lck"), Lockfile, "lockfile"),
    rule(Suffix(".LCK"), Lockfile, "lockfile"),
];

/// The first rule matching `name`, if any.
pub fn classify(name: &OsStr) -> Option<&'static NameRule> {
    let bytes = name.as_bytes();
    RULES.iter().find(|r| r.pattern.matches(bytes))
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
/// `user@host.4242:boot`); `None` when there is none.
pub fn pid_from_symlink_target(target: &str) -> Option<i32> {
    let digits = |s: &str| -> Option<i32> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i32>().ok())
            .flatten()
            .filter(|p| *p > 0)
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
}
