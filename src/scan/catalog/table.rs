//! The catalog itself. Order matters: [`super::recognise`] returns the first entry
//! that matches, so specific entries (with parent, sibling or content requirements)
//! come before the ones they refine, and the generic fallbacks come last.
//! Facts and messages: fixtures/reference/conventions.json (tests/catalog.rs checks
//! programs, deletion behaviour and messages against it).

use super::ContentFormat as F;
use super::Discipline as D;
use super::Pattern::{Any, Exact, PgSocketLock, Prefix, Suffix, VimSwap, VimSwapLate};
use super::Req::{
    Any as AnyOf, Grandparent, Magic, MagicIfRead, Parent, Shape, Sibling, SiblingStem,
    SymlinkLockData, UnderGitDir,
};
use super::{
    Convention, LockSite, Matcher, Pattern, ProgramScope, Req, Shape as S, SymlinkKind as L,
};
use crate::scan::names::NameKind::{self, HeartbeatDir, Lockfile, Pidfile, SymlinkLock};
use crate::sys::FileType;

const REGULAR: &[FileType] = &[FileType::Regular];
const SYMLINK: &[FileType] = &[FileType::Symlink];
const DIRECTORY: &[FileType] = &[FileType::Directory];
const REGULAR_OR_SYMLINK: &[FileType] = &[FileType::Regular, FileType::Symlink];

const fn c(
    name: &'static str,
    program: &'static str,
    display: &'static str,
    discipline: D,
    content: F,
) -> Convention {
    Convention {
        name,
        program,
        display,
        discipline,
        deletes_on_release: matches!(
            discipline,
            D::KernelLockDeletedOnRelease
                | D::ExistencePid
                | D::ExistenceOnly
                | D::Symlink
                | D::HeartbeatDir
        ),
        content,
        error_message: None,
        next_run: None,
        stale_rule: "",
        exe_names: &[],
        heartbeat_secs: None,
        generic: false,
        name_kind: None,
        file_types: REGULAR,
        matchers: &[],
        lock_site: LockSite::Itself,
        other_host_expiry: None,
        self_cleanup: None,
        running_scope: "",
        program_scope: ProgramScope::Host,
        unsaved_work_recovery: None,
        judged_with: None,
        leftover_blocks: matches!(discipline, D::ExistencePid | D::ExistenceOnly | D::Symlink),
    }
}

impl Convention {
    const fn msg(mut self, m: &'static str) -> Self {
        self.error_message = Some(m);
        self
    }
    const fn says(mut self, template: &'static str) -> Self {
        self.next_run = Some(template);
        self
    }
    const fn rule(mut self, r: &'static str) -> Self {
        self.stale_rule = r;
        self
    }
    const fn exe(mut self, e: &'static [&'static str]) -> Self {
        self.exe_names = e;
        self
    }
    const fn kind(mut self, k: NameKind) -> Self {
        self.name_kind = Some(k);
        self
    }
    const fn types(mut self, t: &'static [FileType]) -> Self {
        self.file_types = t;
        self
    }
    const fn m(mut self, m: &'static [Matcher]) -> Self {
        self.matchers = m;
        self
    }
    const fn generic(mut self) -> Self {
        self.generic = true;
        self
    }
    const fn heartbeat(mut self, secs: u64) -> Self {
        self.heartbeat_secs = Some(secs);
        self
    }
    const fn lock_on(mut self, site: LockSite) -> Self {
        self.lock_site = site;
        self
    }
    const fn other_host_expiry(mut self, secs: u64, why: &'static str) -> Self {
        self.other_host_expiry = Some((secs, why));
        self
    }
    const fn self_cleanup(mut self, what: &'static str) -> Self {
        self.self_cleanup = Some(what);
        self
    }
    const fn running_scope(mut self, scope: &'static str) -> Self {
        self.running_scope = scope;
        self
    }
    const fn in_repository(mut self) -> Self {
        self.program_scope = ProgramScope::Repository;
        self
    }
    const fn unsaved_work(mut self, what: &'static str, recovery: &'static str) -> Self {
        self.unsaved_work_recovery = Some((what, recovery));
        self
    }
    /// The program checks a leftover itself (its pid is dead) and goes on.
    const fn handles_leftover(mut self) -> Self {
        self.leftover_blocks = false;
        self
    }
    const fn judged_with(mut self, how: &'static str) -> Self {
        self.judged_with = Some(how);
        self
    }
}

/// Recognised by this name (the name alone makes it a candidate).
const fn n(pattern: Pattern) -> Matcher {
    Matcher {
        pattern,
        reqs: &[],
        by_name: true,
    }
}

/// Recognised by this name in this context (the name alone makes it a candidate).
const fn nr(pattern: Pattern, reqs: &'static [Req]) -> Matcher {
    Matcher {
        pattern,
        reqs,
        by_name: true,
    }
}

/// Recognised by this name in this context only (the name alone says nothing).
const fn q(pattern: Pattern, reqs: &'static [Req]) -> Matcher {
    Matcher {
        pattern,
        reqs,
        by_name: false,
    }
}

const DPKG_TOOLS: &[&str] = &[
    "dpkg",
    "apt",
    "apt-get",
    "aptitude",
    "unattended-upgr",
    "unattended-upgrade",
    "packagekitd",
    "synaptic",
];
const RPM_TOOLS: &[&str] = &[
    "rpm",
    "dnf",
    "dnf5",
    "dnf-3",
    "yum",
    "microdnf",
    "zypper",
    "packagekitd",
    "dnf5daemon-server",
];
const GECKO: &[&str] = &[
    "firefox",
    "firefox-bin",
    "firefox-esr",
    "firefox.real",
    "GeckoMain",
    "thunderbird",
    "thunderbird-bin",
    "librewolf",
    "waterfox",
    "icecat",
    "seamonkey",
];
const VIM: &[&str] = &[
    "vim", "vi", "gvim", "vimx", "view", "rvim", "vimdiff", "nvim",
];
const POSTGRES: &[&str] = &["postgres", "postmaster"];
const MYSQL: &[&str] = &["mysqld", "mariadbd"];
const NODE: &[&str] = &["node", "npm", "npx", "yarn"];
const FIREFOX_PROFILE: Req = AnyOf(&[
    Sibling("prefs.js"),
    Sibling(".parentlock"),
    Sibling("times.json"),
]);
const RPMDB: Req = AnyOf(&[
    Parent("rpm"),
    Sibling("rpmdb.sqlite"),
    Sibling("Packages"),
    Sibling("Packages.db"),
]);

pub(super) static CATALOG: &[Convention] = &[
    // ---- package managers -------------------------------------------------------
    c("certbot-dir-lock", "certbot", "certbot", D::KernelLockDeletedOnRelease, F::Empty)
        .says("Another instance of Certbot is already running.")
        .msg("Another instance of Certbot is already running.")
        .rule("Held while certbot runs; a .certbot.lock that no process has locked is a crash leftover and can be removed.")
        .exe(&["certbot", "letsencrypt"])
        .kind(Lockfile)
        .m(&[n(Exact(".certbot.lock"))]),
    c("dpkg-lock-frontend", "dpkg/apt", "dpkg", D::KernelLockKept, F::Empty)
        .says("dpkg: error: dpkg frontend lock was locked by {comm} process with pid {pid}")
        .msg("dpkg >=1.22.10: 'dpkg: error: dpkg frontend lock was locked by <exe> process with pid <N>' + 'Note: removing the lock file is always wrong, can damage the locked area\\nand the entire system. See <https://wiki.debian.org/Teams/Dpkg/FAQ#db-lock>.'; dpkg 1.20-1.22.9: '... was locked by another process with pid <N>'; dpkg <1.20: '... is locked by another process'. apt: 'E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process <N> (<comm>)' / 'N: Be aware that removing the lock file is not a solution and may break your system.' / 'E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another process using it?'")
        .rule("Never stale: dpkg keeps the file and locks it with fcntl; ask who holds it and never delete it (dpkg: removing the lock file is always wrong).")
        .exe(DPKG_TOOLS)
        .kind(Lockfile)
        .m(&[nr(Exact("lock-frontend"), &[Parent("dpkg")])]),
    c("dpkg-lock", "dpkg/apt", "dpkg", D::KernelLockKept, F::Empty)
        .says("dpkg: error: dpkg database lock was locked by {comm} process with pid {pid}")
        .msg("dpkg: 'dpkg database lock was locked by <exe> process with pid <N>' (+ removal warning). apt: 'E: Could not get lock /var/lib/dpkg/lock. It is held by process <N> (<comm>)' / 'E: Unable to lock the administration directory (/var/lib/dpkg/), is another process using it?'")
        .rule("Never stale: dpkg keeps the file and locks it with fcntl; never delete it (an interrupted dpkg shows as a non-empty /var/lib/dpkg/updates/, not as this file).")
        .exe(DPKG_TOOLS)
        .kind(Lockfile)
        .m(&[nr(Exact("lock"), &[Parent("dpkg")])]),
    c("dpkg-triggers-lock", "dpkg", "dpkg", D::KernelLockKept, F::Empty)
        .rule("Never stale: dpkg keeps the triggers Lock file and locks it with fcntl; never delete it.")
        .exe(DPKG_TOOLS)
        .kind(Lockfile)
        .m(&[nr(Exact("Lock"), &[Parent("triggers"), Grandparent("dpkg")])]),
    c("apt-lists-lock", "apt", "apt", D::KernelLockKept, F::Empty)
        .says("E: Could not get lock {path}. It is held by process {pid} ({comm})")
        .msg("E: Could not get lock /var/lib/apt/lists/lock. It is held by process <N> (<name>)\\nN: Be aware that removing the lock file is not a solution and may break your system.\\nE: Unable to lock directory /var/lib/apt/lists/")
        .rule("Never stale: apt keeps the file and locks it with fcntl; never delete it (apt: removing the lock file is not a solution).")
        .exe(DPKG_TOOLS)
        .kind(Lockfile)
        .m(&[nr(Exact("lock"), &[Parent("lists"), Grandparent("apt")])]),
    c("apt-archives-lock", "apt", "apt", D::KernelLockKept, F::Empty)
        .says("E: Could not get lock {path}. It is held by process {pid} ({comm})")
        .msg("E: Could not get lock /var/cache/apt/archives/lock. It is held by process <N> (<name>) ... E: Unable to lock directory /var/cache/apt/archives/")
        .rule("Never stale: apt keeps the file and locks it with fcntl; never delete it.")
        .exe(DPKG_TOOLS)
        .kind(Lockfile)
        .m(&[nr(Exact("lock"), &[Parent("archives"), Grandparent("apt")])]),
    c("apt-daily-lock", "apt (apt.systemd.daily)", "apt.systemd.daily", D::KernelLockKept, F::Empty)
        .says("E: Could not acquire lock")
        .msg("E: Could not acquire lock")
        .rule("Never stale: apt.systemd.daily keeps the file and holds flock(1) on it while it runs; never delete it.")
        .exe(&["apt.systemd.daily", "apt-get", "unattended-upgr", "unattended-upgrade"])
        .kind(Lockfile)
        .m(&[nr(Exact("daily_lock"), &[Parent("apt")])]),
    c("pacman-db-lck", "pacman/libalpm (also yay, paru, pamac)", "pacman", D::ExistenceOnly, F::Empty)
        .says("error: failed to init transaction (unable to lock database)")
        .msg("error: failed to init transaction (unable to lock database)\\nerror: could not lock database: File exists\\n  if you're sure a package manager is not already\\n  running, you can remove /var/lib/pacman/db.lck")
        .rule("Its existence is the lock and libalpm keeps it open while it runs: a db.lck no process has open, while no pacman/yay/paru/pamac runs, is a crash leftover and can be removed.")
        .exe(&["pacman", "yay", "paru", "pamac", "pamac-daemon"])
        .kind(Lockfile)
        .running_scope(" on this root")
        .m(&[nr(Exact("db.lck"), &[AnyOf(&[Sibling("local"), Sibling("sync"), Parent("pacman")])])]),
    c("rpm-transaction-lock", "rpm (and everything using librpm: dnf, yum, zypper)", "rpm", D::KernelLockKept, F::Empty)
        .says("warning: waiting for transaction lock on {path}")
        .msg("warning: waiting for transaction lock on /var/lib/rpm/.rpm.lock\\nerror: can't create transaction lock on /var/lib/rpm/.rpm.lock (Resource temporarily unavailable)")
        .rule("Never stale: rpm keeps .rpm.lock and locks it with fcntl; never delete it.")
        .exe(RPM_TOOLS)
        .kind(Lockfile)
        .m(&[nr(Exact(".rpm.lock"), &[RPMDB])]),
    c("rpm-keyring-lock", "rpm", "rpm", D::KernelLockKept, F::Empty)
        .says("waiting for keyring lock on {path}")
        .msg("waiting for keyring lock on ... / can't create keyring lock on ... (<strerror>)")
        .rule("Never stale: rpm keeps .keyring.lock and locks it with fcntl; never delete it.")
        .exe(RPM_TOOLS)
        .kind(Lockfile)
        .m(&[nr(Exact(".keyring.lock"), &[RPMDB])]),
    c("dnf4-process-locks", "dnf (v4)", "dnf", D::ExistencePid, F::PidNoNewline)
        .says("Waiting for process with pid {pid} to finish.")
        .msg("Waiting for process with pid <N> to finish. | (exit_on_lock) '<RPMDB|metadata|cachedir|log> already locked by <N>' + '  The application with PID <N> is: <name>' | Malformed lock file found: <path>.\\nEnsure no other dnf process is running and remove the lock file manually or run systemd-tmpfiles --remove dnf.conf.")
        .rule("Stale when the pid it records is gone (dnf then takes it over by itself); content that is not a pid needs manual removal.")
        .exe(&["dnf", "dnf-3", "dnf-automatic", "yum", "packagekitd", "dnfdragora"])
        .kind(Pidfile)
        .handles_leftover()
        .m(&[
            n(Exact("rpmdb_lock.pid")),
            n(Exact("metadata_lock.pid")),
            n(Exact("download_lock.pid")),
            n(Exact("log_lock.pid")),
        ]),
    c("dnf5-transaction-lock", "dnf5/libdnf5", "dnf5", D::KernelLockDeletedOnRelease, F::Dnf5Toml)
        .says("Failed to obtain rpm transaction lock. Another transaction is in progress.")
        .msg("Failed to obtain rpm transaction lock. Another transaction is in progress. (followed by the concurrent transaction's info)")
        .rule("Held by fcntl during an rpm transaction and deleted afterwards: a file nobody has locked is a leftover, whatever pid it names.")
        .exe(RPM_TOOLS)
        .kind(Lockfile)
        .m(&[n(Exact("rpmtransaction.lock"))]),
    c("dnf5-system-repo-lock", "dnf5/libdnf5", "dnf5", D::KernelLockKept, F::Empty)
        .says("Waiting for a lock on the system repository. The following processes are currently accessing it:\\n{pid}\\t{comm}")
        .msg("Waiting for a lock on the system repository. The following processes are currently accessing it:\\n<pid>\\t<cmdline> ... Use the \"--skip-file-locks\" option to bypass the lock.")
        .rule("Never stale: dnf5 keeps system-repo.lock and locks it with fcntl; never delete it.")
        .exe(RPM_TOOLS)
        .kind(Lockfile)
        .m(&[n(Exact("system-repo.lock"))]),
    c("yum-pid", "yum (legacy RHEL/CentOS 7)", "yum", D::ExistencePid, F::PidNoNewline)
        .says("Existing lock {path}: another copy is running as pid {pid}.")
        .msg("Existing lock /var/run/yum.pid: another copy is running as pid <N>.\\nAnother app is currently holding the yum lock; waiting for it to exit...")
        .rule("Stale when the pid it records is gone, a zombie or not a number (yum then removes it by itself).")
        .exe(&["yum", "yum-cron", "packagekitd"])
        .kind(Pidfile)
        .handles_leftover()
        .m(&[n(Exact("yum.pid"))]),
    // ---- git ----------------------------------------------------------------------
    c("git-lock-pid", "git >= 2.54 (core.lockfilePid=true)", "git", D::ExistencePid, F::GitPidLock)
        .says("Lock may be held by process {pid}; if no git process is running, the lock file may be stale (PIDs can be reused)")
        .msg("Lock may be held by process <N>; if no git process is running, the lock file may be stale (PIDs can be reused) | Lock was held by process <N>, which is no longer running; the lock file appears to be stale")
        .rule("Stale when the git process it records is gone; judge the .lock beside it with it.")
        .exe(&["git"])
        .kind(Lockfile)
        .m(&[q(Suffix("~pid.lock"), &[UnderGitDir])]),
    c("git-gc-pid", "git gc", "git gc", D::ExistencePid, F::GitGcPid)
        .msg("gc is already running on machine '<host>' pid <N> (use --force if not)")
        .rule("Stale when the git gc it records is gone on this host, or when it is more than 12 hours old (git gc itself ignores it then).")
        .exe(&["git"])
        .kind(Pidfile)
        .other_host_expiry(12 * 3600, "git gc itself ignores it then")
        .handles_leftover()
        .m(&[nr(Exact("gc.pid"), &[UnderGitDir])]),
    c("git-lockfile", "git", "git", D::ExistenceOnly, F::GitLockTarget)
        .says("fatal: Unable to create '{path}': File exists.")
        .msg("git >=2.54: \"Unable to create '<abs>/index.lock': File exists.\\n\\nAnother git process seems to be running in this repository, or the lock file may be stale\" (or 'Lock may be held by process N; ...' / 'Lock was held by process N, which is no longer running; the lock file appears to be stale' when a ~pid.lock exists). git <2.54: \"...File exists.\\n\\nAnother git process seems to be running in this repository, e.g.\\nan editor opened by 'git commit'. Please make sure all processes\\nare terminated then try again. If it still fails, a git process\\nmay have crashed in this repository earlier:\\nremove the file manually to continue.\" Refs: \"cannot lock ref '<ref>': Unable to create '<path>.lock': File exists.\"")
        .rule("Its existence is the lock and git never removes a stale one: a .lock no process has open, while no git runs in the repository, is a crash leftover and can be removed.")
        .exe(&["git"])
        .kind(Lockfile)
        .running_scope(" in this repository")
        .in_repository()
        .m(&[q(Suffix(".lock"), &[UnderGitDir])]),
    // ---- browsers and editors -----------------------------------------------------
    c("firefox-parentlock", "Firefox/Thunderbird (Gecko)", "Firefox", D::KernelLockKept, F::Empty)
        .says("Firefox is already running, but is not responding. To use Firefox, you must first close the existing Firefox process, restart your device, or use a different profile.")
        .msg("Firefox is already running, but is not responding. To use Firefox, you must first close the existing Firefox process, restart your device, or use a different profile. (older: '...To open a new window, you must first close the existing Firefox process, or restart your system.')")
        .rule("Never stale: Gecko keeps .parentlock (its mtime marks the profile's last use) and locks it with fcntl; never delete it.")
        .exe(GECKO)
        .kind(Lockfile)
        .m(&[n(Exact(".parentlock"))]),
    c("firefox-lock-symlink", "Firefox/Thunderbird (Gecko, Unix)", "Firefox", D::Symlink, F::SymlinkTarget(L::Firefox))
        .says("Firefox is already running, but is not responding. To use Firefox, you must first close the existing Firefox process, restart your device, or use a different profile.")
        .msg("Firefox is already running, but is not responding. To use Firefox, you must first close the existing Firefox process, restart your device, or use a different profile. (older: '...To open a new window, you must first close the existing Firefox process, or restart your system.')")
        .rule("Live while .parentlock beside it is locked; otherwise stale when the pid it records is gone on this host (a remote IP counts as live).")
        .exe(GECKO)
        .kind(SymlinkLock)
        .types(SYMLINK)
        .lock_on(LockSite::Sibling(".parentlock"))
        .handles_leftover()
        .m(&[nr(Exact("lock"), &[FIREFOX_PROFILE])]),
    c("chromium-singletonlock", "Chromium/Chrome/Electron (POSIX)", "Chromium", D::Symlink, F::SymlinkTarget(L::ChromiumLock))
        .msg("The profile appears to be in use by another Google Chrome process (<pid>) on another computer (<host>). Chrome has locked the profile so that it doesn't get corrupted. If you are sure no other processes are using this profile, you can unlock the profile and relaunch Chrome. (IDS_PROFILE_IN_USE_POSIX)")
        .rule("Stale when it names this host and a pid that is gone or no longer the browser; a lock from another host can only be released by the user.")
        .kind(SymlinkLock)
        .types(SYMLINK)
        .handles_leftover()
        .m(&[n(Exact("SingletonLock"))]),
    c("chromium-singletonsocket", "Chromium/Chrome/Electron", "Chromium", D::Symlink, F::SymlinkTarget(L::ChromiumSocket))
        .rule("Goes with SingletonLock: stale when the socket it points to is gone or refuses connections.")
        .kind(SymlinkLock)
        .types(SYMLINK)
        .judged_with("judge it by the SingletonLock beside it: the three Singleton links go together")
        .handles_leftover()
        .m(&[n(Exact("SingletonSocket"))]),
    c("chromium-singletoncookie", "Chromium/Chrome/Electron", "Chromium", D::Symlink, F::SymlinkTarget(L::ChromiumCookie))
        .rule("Goes with SingletonLock: stale when the cookie link in the socket's directory is missing or differs.")
        .kind(SymlinkLock)
        .types(SYMLINK)
        .judged_with("judge it by the SingletonLock beside it: the three Singleton links go together")
        .handles_leftover()
        .m(&[n(Exact("SingletonCookie"))]),
    c("emacs-lockfile", "GNU Emacs", "Emacs", D::Symlink, F::SymlinkTarget(L::Emacs))
        .msg("<file> locked by USER@HOST (pid PID): (s, q, p, ?)?")
        .rule("Stale when it names this host and an Emacs pid that is gone, or a boot time other than the current one; locks from other hosts are honoured.")
        .exe(&["emacs", "emacs-gtk", "emacs-nox", "emacs-lucid", "emacs-pgtk"])
        .kind(SymlinkLock)
        .types(REGULAR_OR_SYMLINK)
        .handles_leftover()
        .m(&[n(Prefix(".#"))]),
    c("vim-swapfile", "Vim", "Vim", D::ExistencePid, F::VimSwap)
        .says("E325: ATTENTION: Found a swap file by the name \"{path}\"")
        .msg("E325: ATTENTION\\nFound a swap file by the name \"<swap>\"\\n          owned by: <user>   dated: ...\\n         file name: ...\\n          modified: YES|no\\n         user name: ...   host name: ...\\n        process ID: <N> (STILL RUNNING)\\nWhile opening file \"<file>\" ...")
        .rule("Stale when it names this host and a Vim pid that is gone (or predates the boot); a modified swap file is recoverable data: recover with `vim -r`, never delete it unread.")
        .exe(VIM)
        .kind(Lockfile)
        .unsaved_work("swap file", "recover them with `vim -r`, then delete it")
        .m(&[
            nr(VimSwap, &[MagicIfRead(b"b0VIM ")]),
            q(VimSwapLate, &[Magic(b"b0VIM ")]),
        ]),
    // ---- databases and daemons --------------------------------------------------
    c("postgres-postmaster-pid", "PostgreSQL", "PostgreSQL", D::ExistencePid, F::PostmasterPid)
        .says("FATAL:  lock file \"postmaster.pid\" already exists (HINT:  Is another postmaster (PID {pid}) running in data directory \"{dir}\"?)")
        .msg("FATAL:  lock file \"postmaster.pid\" already exists\\nHINT:  Is another postmaster (PID <N>) running in data directory \"<dir>\"? | FATAL: pre-existing shared memory block (key <k>, ID <id>) is still in use | FATAL: lock file \"postmaster.pid\" is empty")
        .rule("Stale only when the postmaster it records is gone and no process still has its shared memory attached; PostgreSQL checks both and removes it itself at start, so start the server instead of deleting it.")
        .exe(POSTGRES)
        .kind(Pidfile)
        .self_cleanup("orphaned backends may still have its shared memory attached: start PostgreSQL and let it clean up the file itself")
        .handles_leftover()
        .m(&[nr(Exact("postmaster.pid"), &[AnyOf(&[Sibling("PG_VERSION"), Shape(S::PostmasterPid)])])]),
    c("postgres-socket-lock", "PostgreSQL", "PostgreSQL", D::ExistencePid, F::PgSocketLock)
        .says("FATAL:  lock file \"{path}\" already exists (HINT:  Is another postmaster (PID {pid}) using socket file?)")
        .msg("FATAL:  lock file \"/var/run/postgresql/.s.PGSQL.5432.lock\" already exists\\nHINT:  Is another postmaster (PID <N>) using socket file \"/var/run/postgresql/.s.PGSQL.5432\"?")
        .rule("Stale when the postmaster it records is gone (the server refreshes its mtime so /tmp cleaners keep it).")
        .exe(POSTGRES)
        .kind(Lockfile)
        .handles_leftover()
        .m(&[n(PgSocketLock)]),
    c("mysql-pidfile", "MySQL/MariaDB mysqld/mariadbd", "MySQL/MariaDB", D::ExistencePid, F::PidLine)
        .msg("[ERROR] Can't start server: can't create PID file: <strerror>")
        .rule("Stale when the pid it records is gone or is not mysqld/mariadbd; the real exclusion is InnoDB's and Aria's fcntl locks.")
        .exe(MYSQL)
        .kind(Pidfile)
        .handles_leftover()
        .m(&[
            n(Exact("mysqld.pid")),
            n(Exact("mariadb.pid")),
            n(Exact("mariadbd.pid")),
            q(Suffix(".pid"), &[AnyOf(&[Sibling("ibdata1"), Sibling("aria_log_control")])]),
        ]),
    c("innodb-ibdata-lock", "MySQL/MariaDB InnoDB", "InnoDB", D::DataFile, F::Binary)
        .says("[ERROR] InnoDB: Unable to lock {path} error: 11")
        .msg("[ERROR] InnoDB: Unable to lock ./ibdata1 error: 11\\n[Note] InnoDB: Check that you do not already have another mariadbd|mysqld process using the same InnoDB data or log files.")
        .rule("Never delete: ibdata1 is InnoDB's system tablespace (table data), and its fcntl lock only says that mysqld/mariadbd has it open.")
        .exe(MYSQL)
        .m(&[q(Exact("ibdata1"), &[])]),
    c("aria-control-lock", "MariaDB Aria", "Aria", D::DataFile, F::AriaControl)
        .says("[ERROR] mariadbd: Can't lock aria control file '{path}' for exclusive use, error: 11. Will retry for 30 seconds")
        .msg("[ERROR] mariadbd: Can't lock aria control file '<datadir>/aria_log_control' for exclusive use, error: 11. Will retry for 30 seconds\\n[ERROR] mariadbd: Got error 'Could not get an exclusive lock; file is probably in use by another process' when trying to use aria control file '<path>'")
        .rule("Never delete: aria_log_control is Aria's recovery control data, and its fcntl lock only says that mariadbd has it open.")
        .exe(MYSQL)
        .m(&[q(Exact("aria_log_control"), &[MagicIfRead(&[0xfe, 0xfe, 0x0c])])]),
    c("docker-pid", "dockerd (moby)", "dockerd", D::ExistencePid, F::PidNoNewline)
        .says("failed to start daemon: pid file found, ensure docker is not running or delete {path}")
        .msg("failed to start daemon, ensure docker is not running or delete /var/run/docker.pid: process with PID <N> is still running (older: 'pid file found, ensure docker is not running or delete /var/run/docker.pid')")
        .rule("Stale when the pid it records is gone or is not dockerd (PID 1 inside a container is a common false match).")
        .exe(&["dockerd"])
        .kind(Pidfile)
        .handles_leftover()
        .m(&[n(Exact("docker.pid"))]),
    c("docker-containerd-pid", "dockerd-managed containerd", "containerd", D::ExistencePid, F::PidNoNewline)
        .rule("Stale when the pid it records is gone or is not containerd.")
        .exe(&["containerd"])
        .kind(Pidfile)
        .handles_leftover()
        .m(&[n(Exact("containerd.pid"))]),
    c("containerd-metadata-bolt", "containerd (also dockerd's *.db bolt files)", "containerd", D::DataFile, F::Binary)
        .msg("waiting for response from boltdb open (logged after 10 s; io.containerd.timeout.bolt.open default 0 = wait forever)")
        .rule("Never delete: meta.db is containerd's metadata database, and its flock only says that containerd has it open.")
        .exe(&["containerd"])
        .m(&[q(Exact("meta.db"), &[Parent("io.containerd.metadata.v1.bolt")])]),
    c("nginx-pid", "nginx", "nginx", D::ExistencePid, F::PidLine)
        .says("nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)")
        .msg("nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use) ... still could not bind(); for -s: 'invalid PID number \"...\" in \"<pidfile>\"' / 'open() \"<pidfile>\" failed'")
        .rule("Stale when the pid it records is gone or is not an nginx master; nginx itself never checks it, a second nginx fails in bind().")
        .exe(&["nginx"])
        .kind(Pidfile)
        .handles_leftover()
        .m(&[n(Exact("nginx.pid")), n(Suffix(".pid.oldbin"))]),
    c("sshd-pid", "OpenSSH sshd", "sshd", D::ExistencePid, F::PidLine)
        .msg("Couldn't create pid file \"<path>\": <strerror> (no contention check)")
        .rule("Stale when the pid it records is gone or is not the sshd listener.")
        .exe(&["sshd"])
        .kind(Pidfile)
        .handles_leftover()
        .m(&[n(Exact("sshd.pid"))]),
    c("cron-pid", "cronie crond (Vixie cron similar)", "cron", D::KernelLockDeletedOnRelease, F::PidLine)
        .says("crond: can't lock {path}, otherpid may be {pid}: Resource temporarily unavailable")
        .msg("crond: can't lock /var/run/crond.pid, otherpid may be <N>: Resource temporarily unavailable (or 'otherpid unknown')")
        .rule("crond holds a flock on it for its lifetime and the pid inside is informational: a file nobody has locked is a leftover.")
        .exe(&["crond", "cron"])
        .kind(Pidfile)
        .m(&[n(Exact("crond.pid"))]),
    c("neon-pid-file", "neon (pageserver, safekeeper, storage_broker, control_plane)", "neon", D::KernelLockKept, F::PidNoNewline)
        .says("claim pid file: lock file: file is already locked")
        .msg("claim pid file: lock file: file is already locked")
        .rule("Never remove: neon keeps its pidfiles and holds a flock for the process lifetime; an unlocked one means no owner, and its pid must not be signalled.")
        .exe(&["pageserver", "safekeeper", "storage_broker", "compute_ctl", "endpoint_storage"])
        .kind(Pidfile)
        .m(&[
            n(Exact("pageserver.pid")),
            n(Exact("safekeeper.pid")),
            n(Exact("storage_broker.pid")),
            n(Exact("compute_ctl.pid")),
            n(Exact("endpoint_storage.pid")),
        ]),
    // ---- build tools and JavaScript -----------------------------------------------
    c("cargo-package-cache", "cargo", "cargo", D::KernelLockKept, F::Empty)
        .says("    Blocking waiting for file lock on package cache")
        .msg("    Blocking waiting for file lock on package cache | ... on shared package cache | ... on package cache mutation")
        .rule("Never stale: cargo keeps the file and takes flock on it; never delete it.")
        .exe(&["cargo"])
        .kind(Lockfile)
        .m(&[n(Exact(".package-cache")), n(Exact(".package-cache-mutate"))]),
    c("cargo-target-lock", "cargo", "cargo", D::KernelLockKept, F::Empty)
        .says("    Blocking waiting for file lock on build directory")
        .msg("    Blocking waiting for file lock on build directory | ... on artifact directory")
        .rule("Never stale: cargo keeps the file and takes flock on it; never delete it.")
        .exe(&["cargo"])
        .kind(Lockfile)
        .m(&[n(Exact(".cargo-lock")), n(Exact(".cargo-build-lock"))]),
    c("npx-concurrency-lock", "npm >= 11 (libnpmexec / npx)", "npx", D::HeartbeatDir, F::Empty)
        .rule("Its owner touches the directory every 100 ms: stale once its mtime is more than 5 s old (npm then removes it itself).")
        .exe(NODE)
        .heartbeat(5)
        .kind(HeartbeatDir)
        .types(DIRECTORY)
        .m(&[n(Exact("concurrency.lock.lock"))]),
    c("npm-legacy-cache-locks", "npm <= 6", "npm", D::ExistenceOnly, F::Empty)
        .msg("npm WARN locking <lockfile> failed <err>")
        .rule("Its existence is the lock: one no npm process has open is a leftover (npm <= 6 breaks it once older than cache-lock-stale).")
        .exe(NODE)
        .m(&[q(Suffix(".lock"), &[Parent("_locks")])]),
    c("yarn-mutex-file", "yarn v1 (--mutex file[:path])", "yarn", D::HeartbeatDir, F::Empty)
        .msg("warning Waiting for the other yarn instance to finish (newer builds: '... (pid $0, inside $1)')")
        .rule("Its owner refreshes the directory's mtime every 5 s: stale once it is more than 10 s old.")
        .exe(NODE)
        .heartbeat(10)
        .kind(HeartbeatDir)
        .types(DIRECTORY)
        .m(&[n(Exact(".yarn-single-instance.lock"))]),
    // ---- embedded databases -----------------------------------------------------------
    c("rocksdb-lock", "RocksDB", "RocksDB", D::KernelLockKept, F::Empty)
        .says("IO error: While lock file: {path}: Resource temporarily unavailable")
        .msg("IO error: While lock file: <dbdir>/LOCK: Resource temporarily unavailable | IO error: lock hold by current process, acquire time <t> acquiring thread <tid>: <dbdir>/LOCK: No locks available")
        .rule("Never stale: RocksDB keeps LOCK and locks it with fcntl while the database is open; never delete it.")
        .kind(Lockfile)
        .m(&[nr(Exact("LOCK"), &[Sibling("CURRENT"), Sibling("IDENTITY")])]),
    c("leveldb-lock", "LevelDB (Chrome IndexedDB/Local Storage, bitcoin-core, etc.)", "LevelDB", D::KernelLockKept, F::Empty)
        .says("IO error: lock {path}: Resource temporarily unavailable")
        .msg("IO error: lock <dbdir>/LOCK: Resource temporarily unavailable | IO error: lock <dbdir>/LOCK: already held by process")
        .rule("Never stale: LevelDB keeps LOCK and locks it with fcntl while the database is open; never delete it.")
        .kind(Lockfile)
        .m(&[nr(Exact("LOCK"), &[Sibling("CURRENT")])]),
    c("lmdb-lockfile", "LMDB (OpenLDAP, Monero, Caffe ...)", "LMDB", D::DataFile, F::Lmdb)
        .msg("MDB_READERS_FULL: Environment maxreaders limit reached | MDB_VERSION_MISMATCH: Database environment version mismatch")
        .rule("Never delete: lock.mdb holds LMDB's reader table and writer mutex (the first opener reinitialises it); stale reader slots are cleared with `mdb_stat -rr`.")
        .kind(Lockfile)
        .m(&[
            nr(Exact("lock.mdb"), &[AnyOf(&[Sibling("data.mdb"), Magic(&[0xde, 0xc0, 0xef, 0xbe])])]),
            q(Suffix("-lock"), &[SiblingStem("", "-lock"), Magic(&[0xde, 0xc0, 0xef, 0xbe])]),
        ]),
    c("sqlite-wal-shm", "SQLite WAL mode", "SQLite", D::DataFile, F::Data)
        .says("database is locked (SQLITE_BUSY)")
        .msg("database is locked")
        .rule("Never delete: -wal holds committed transactions, a hot -journal is needed for rollback and -shm carries the live locks; open the database with sqlite3 and let SQLite recover.")
        .m(&[
            q(Suffix("-wal"), &[SiblingStem("", "-wal")]),
            q(Suffix("-shm"), &[SiblingStem("", "-shm")]),
        ]),
    c("sqlite-rollback-journal", "SQLite (rollback journal)", "SQLite", D::DataFile, F::Data)
        .rule("Never delete: a hot -journal (its database's writer crashed mid-commit) is what SQLite rolls the database back with; open the database with sqlite3 and let SQLite recover.")
        .m(&[q(Suffix("-journal"), &[SiblingStem("", "-journal")])]),
    c("sqlite-db-locks", "SQLite (unix VFS)", "SQLite", D::DataFile, F::Sqlite)
        .says("database is locked (SQLITE_BUSY)")
        .msg("database is locked (SQLITE_BUSY)")
        .rule("Never delete: the database file itself carries SQLite's byte-range locks; the holders show in /proc/locks.")
        .m(&[
            q(Suffix(".db"), &[Magic(b"SQLite format 3\0")]),
            q(Suffix(".sqlite"), &[Magic(b"SQLite format 3\0")]),
            q(Suffix(".sqlite3"), &[Magic(b"SQLite format 3\0")]),
            q(Any, &[Magic(b"SQLite format 3\0")]),
        ]),
    // ---- infrastructure tools -------------------------------------------------------
    c("terraform-local-state-lock", "Terraform (local backend)", "Terraform", D::KernelLockDeletedOnRelease, F::TerraformJson)
        .says("Error: Error acquiring the state lock")
        .msg("Error: Error acquiring the state lock\\n\\nError message: resource temporarily unavailable\\nLock Info:\\n  ID: ...\\n  Path: ...\\n  Operation: OperationTypeApply\\n  Who: user@host\\n  Version: ...\\n  Created: ...\\n  Info:\\n\\nTerraform acquires a state lock to protect the state from being written\\nby multiple users at the same time. ...")
        .rule("The lock is an fcntl lock on the state file; a .lock.info while nobody locks the state file is a leftover (`terraform force-unlock <ID>` is the sanctioned fix).")
        .exe(&["terraform", "tofu"])
        .kind(Lockfile)
        .lock_on(LockSite::SiblingStem(".", ".lock.info"))
        .m(&[
            nr(Suffix(".tfstate.lock.info"), &[AnyOf(&[SiblingStem(".", ".lock.info"), Shape(S::TerraformJson)])]),
            q(Suffix(".lock.info"), &[Shape(S::TerraformJson)]),
        ]),
    // ---- libraries with user-chosen paths ------------------------------------------------
    c("py-filelock-soft", "Python filelock (SoftFileLock)", "filelock", D::ExistencePid, F::SoftFileLock)
        .says("Timeout: The file lock '{path}' could not be acquired.")
        .msg("Timeout: The file lock '<path>' could not be acquired.")
        .rule("Stale when it names this host and a pid that is gone (or a start token that no longer matches).")
        .handles_leftover()
        .m(&[q(Suffix(".lock"), &[Shape(S::SoftFileLock)])]),
    c("py-filelock-unix", "Python filelock (FileLock/UnixFileLock)", "filelock", D::KernelLockKept, F::Empty)
        .says("Timeout: The file lock '{path}' could not be acquired.")
        .msg("Timeout: The file lock '<path>' could not be acquired.")
        .rule("Never stale: filelock leaves the file in place and takes flock on it; deleting it breaks mutual exclusion."),
    c("py-fasteners", "Python fasteners (InterProcessLock / InterProcessReaderWriterLock)", "fasteners", D::KernelLockKept, F::Empty)
        .rule("Never stale: fasteners keeps the file and locks it with fcntl; deleting it breaks mutual exclusion."),
    c("py-pid", "Python 'pid' package (PidFile)", "python-pid", D::KernelLockDeletedOnRelease, F::PidLine)
        .says("PidFileAlreadyRunningError: Program already running with pid: {pid}")
        .msg("PidFileAlreadyLockedError([Errno 11] Resource temporarily unavailable) | PidFileAlreadyRunningError: Program already running with pid: <N>")
        .rule("Held by flock while the program runs and removed on exit: a file nobody has locked is a leftover."),
    c("py-pidlockfile", "lockfile.pidlockfile / python-daemon TimeoutPIDLockFile", "python-daemon", D::ExistencePid, F::PidLine)
        .says("lockfile.AlreadyLocked: {path} is already locked")
        .msg("lockfile.AlreadyLocked: <path> is already locked | LockTimeout: Timeout waiting to acquire lock for <path> | python-daemon: PID file '<path>' already locked")
        .rule("Stale when the pid it records is gone (python-daemon then breaks the lock itself)."),
    c("systemd-pidfile", "systemd (PIDFile= of Type=forking services)", "daemon", D::ExistencePid, F::PidLine)
        .msg("PID file <path> not readable (yet?) after <state>: <errno> | PID <N> read from file <path> does not exist or is a zombie.")
        .rule("Stale when the pid on its first line is gone or a zombie; systemd deletes it when the service stops."),
    c("rust-fd-lock", "Rust fd-lock", "fd-lock", D::KernelLockKept, F::Unknown)
        .msg("io::ErrorKind::WouldBlock on try_* ")
        .rule("Never stale: the file is kept and locked with flock; deleting it breaks mutual exclusion."),
    c("rust-fs4", "Rust fs4", "fs4", D::KernelLockKept, F::Unknown)
        .msg("TryLockError::WouldBlock")
        .rule("Never stale: the file is kept and locked with flock; deleting it breaks mutual exclusion."),
    c("util-linux-flock-cmd", "util-linux flock(1) (cron/systemd timer wrappers)", "flock(1)", D::KernelLockKept, F::Unknown)
        .says("flock: failed to get lock")
        .msg("exit status 1 (or -E N) with -n / -w; with --verbose: 'flock: failed to get lock' | 'flock: timeout while waiting to get lock'")
        .rule("Never stale: flock(1) creates the file once and only locks it; deleting it lets two jobs run at once.")
        .exe(&["flock"]),
    // ---- not locks at all --------------------------------------------------------------
    c("dependency-lockfile", "package managers (Cargo, yarn, Bundler, Poetry, Composer, Nix, …)", "package manager", D::DataFile, F::Data)
        .rule("Never delete: this is a dependency manifest that pins versions (project data, usually under version control), not a lock.")
        .handles_leftover()
        .handles_leftover()
        .m(&[
            n(Exact("Cargo.lock")),
            n(Exact("yarn.lock")),
            n(Exact("Gemfile.lock")),
            n(Exact("poetry.lock")),
            n(Exact("Pipfile.lock")),
            n(Exact("composer.lock")),
            n(Exact("flake.lock")),
            n(Exact("mix.lock")),
            n(Exact("Podfile.lock")),
            n(Exact("pubspec.lock")),
            n(Exact("uv.lock")),
            n(Exact("pdm.lock")),
            n(Exact("bun.lock")),
            n(Exact("deno.lock")),
            n(Exact("pixi.lock")),
            n(Exact("Chart.lock")),
            n(Exact("renv.lock")),
            n(Exact("shard.lock")),
            n(Exact("paket.lock")),
            n(Exact("conan.lock")),
            n(Exact("stack.yaml.lock")),
            n(Exact("MODULE.bazel.lock")),
        ]),
    // ---- generic fallbacks by name -------------------------------------------------------
    c("uucp-serial-lock", "UUCP-style serial line locks (minicom, cu, ModemManager, …)", "serial-line", D::ExistencePid, F::UucpPid)
        .rule("Stale when the pid it records is gone.")
        .kind(Lockfile)
        .handles_leftover()
        .m(&[n(Prefix("LCK.."))]),
    c("generic-pidfile", "unknown (pidfile by name)", "pidfile", D::ExistencePid, F::GenericPid)
        .rule("A pidfile of an unknown program: stale when the pid it records is gone, live while a process holds a lock on it.")
        .generic()
        .kind(Pidfile)
        .m(&[n(Suffix(".pid"))]),
    c("generic-lockfile", "unknown (lockfile by name)", "lockfile", D::ExistenceOnly, F::GenericLock)
        .rule("A lockfile of an unknown program: live while a process locks it or has it open, stale when a pid it records is gone, otherwise undecidable.")
        .generic()
        .kind(Lockfile)
        .m(&[
            n(Suffix(".lock")),
            n(Suffix(".lck")),
            n(Suffix(".LCK")),
            n(Exact("LOCK")),
            n(Exact("lock")),
            n(Exact("Lock")),
        ]),
    c("generic-symlink-lock", "unknown (symlink lock)", "symlink lock", D::Symlink, F::SymlinkTarget(L::Generic))
        .rule("A symlink lock of an unknown program: stale when it names this host and a pid that is gone.")
        .generic()
        .kind(SymlinkLock)
        .types(SYMLINK)
        .m(&[q(Any, &[SymlinkLockData])]),
];
