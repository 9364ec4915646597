//! The convention catalog against its fixtures (fixtures/conventions/README.md), the
//! reference list of real programs' conventions (fixtures/reference/conventions.json),
//! near misses, verdict rules, and random bytes.

#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use lockscan::model::DeleteVerdict;
use lockscan::scan::catalog::{self, *};
use lockscan::scan::names::{self, NameKind};
use lockscan::sys::FileType;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/conventions");
/// The reference list of real programs' lock conventions (fixtures/reference/README.md).
const CONVENTIONS_JSON: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/reference/conventions.json"
);

/// conventions.json entries deliberately left out of the catalog, with the reason.
/// (Empty: the conventions with user-chosen paths are catalogued too, without
/// matchers, so that `by_name` can name them once the holder is known.)
const NOT_CATALOGUED: &[(&str, &str)] = &[];

// ---- helpers ------------------------------------------------------------------------

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "lockscan-catalog-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    /// Writes `data` at `rel`, creating parents.
    fn file(&self, rel: &str, data: &[u8]) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
        p
    }
    fn symlink(&self, rel: &str, target: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(target, &p).unwrap();
        p
    }
    fn dir(&self, rel: &str) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fix_rel(rel: &Path) -> PathBuf {
    rel.components()
        .map(|c| match c.as_os_str().to_str() {
            Some("_dot_git") => OsStr::new(".git"),
            _ => c.as_os_str(),
        })
        .collect()
}

fn copy_tree(from: &Path, to: &Path, rel: &Path) {
    for e in std::fs::read_dir(from.join(rel)).unwrap() {
        let e = e.unwrap();
        let r = rel.join(e.file_name());
        if rel.as_os_str().is_empty()
            && ["expect.txt", "symlinks.txt", "dirs.txt"].contains(&e.file_name().to_str().unwrap())
        {
            continue;
        }
        let dest = to.join(fix_rel(&r));
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
            copy_tree(from, to, &r);
        } else {
            std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
}

struct Fixture {
    _dir: TempDir,
    target: PathBuf,
    expect: HashMap<String, String>,
}

fn materialise(name: &str) -> Fixture {
    let src = Path::new(FIXTURES).join(name);
    assert!(src.is_dir(), "no fixture directory for {name}");
    let dir = TempDir::new();
    copy_tree(&src, dir.path(), Path::new(""));
    let read = |f: &str| std::fs::read_to_string(src.join(f)).unwrap_or_default();
    for line in read("dirs.txt").lines().filter(|l| !l.is_empty()) {
        dir.dir(fix_rel(Path::new(line)).to_str().unwrap());
    }
    for line in read("symlinks.txt").lines().filter(|l| !l.is_empty()) {
        let (link, target) = line
            .split_once(" -> ")
            .expect("symlinks.txt: `name -> target`");
        dir.symlink(fix_rel(Path::new(link)).to_str().unwrap(), target);
    }
    let expect: HashMap<String, String> = read("expect.txt")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let target = dir.path().join(fix_rel(Path::new(&expect["path"])));
    Fixture {
        _dir: dir,
        target,
        expect,
    }
}

/// What a scanner would observe about a path, following the catalog's protocol:
/// content is read only when `content_would_help` says so.
struct Seen {
    path: PathBuf,
    file_type: FileType,
    target: Option<String>,
    content: Option<Vec<u8>>,
}

fn file_type(path: &Path) -> FileType {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => FileType::Symlink,
        Ok(m) if m.is_dir() => FileType::Directory,
        Ok(m) if m.is_file() => FileType::Regular,
        Ok(_) => FileType::Unknown,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn with_obs<R>(s: &Seen, f: impl FnOnce(&Observed) -> R) -> R {
    let dir = s.path.parent().unwrap().to_path_buf();
    let sibling = move |n: &str| std::fs::symlink_metadata(dir.join(n)).is_ok();
    let obs = Observed {
        path: &s.path,
        file_type: s.file_type,
        symlink_target: s.target.as_deref(),
        content: s.content.as_deref(),
        sibling_exists: &sibling,
    };
    f(&obs)
}

fn see(path: &Path) -> Seen {
    let mut s = Seen {
        path: path.to_path_buf(),
        file_type: file_type(path),
        target: std::fs::read_link(path)
            .ok()
            .map(|t| t.to_string_lossy().into_owned()),
        content: None,
    };
    if with_obs(&s, content_would_help) {
        let mut buf = Vec::new();
        std::fs::File::open(path)
            .unwrap()
            .take(4096)
            .read_to_end(&mut buf)
            .unwrap();
        s.content = Some(buf);
    }
    s
}

fn recognised(path: &Path) -> Option<&'static str> {
    with_obs(&see(path), |o| recognise(o).map(|c| c.name))
}

fn parsed(conv: &str, path: &Path) -> ParsedContent {
    let conv = by_name(conv).unwrap();
    with_obs(&see(path), |o| parse_content(conv, o))
}

fn conv(name: &str) -> &'static Convention {
    by_name(name).unwrap_or_else(|| panic!("{name} is not catalogued"))
}

fn facts() -> Facts {
    Facts {
        same_host: Some(true),
        ..Facts::default()
    }
}

fn verdict(name: &str, f: &Facts) -> (DeleteVerdict, Option<bool>) {
    let c = conv(name);
    (safe_to_delete(c, f).0, is_stale(c, f))
}

// ---- fixtures -----------------------------------------------------------------------

#[test]
fn every_convention_has_a_fixture_that_is_recognised_and_parsed() {
    for c in all() {
        let fx = materialise(c.name);
        let seen = see(&fx.target);
        let want = fx.expect.get("recognised").map_or(c.name, String::as_str);
        let got = with_obs(&seen, |o| recognise(o).map(|c| c.name));
        assert_eq!(
            got,
            Some(want),
            "{}: recognise({})",
            c.name,
            fx.target.display()
        );
        let rec = by_name(want).unwrap();
        if seen.file_type == FileType::Regular && wants_content(rec) {
            assert!(seen.content.is_some(), "{}: content was not read", c.name);
        }
        let name = fx.target.file_name().unwrap();
        // Whatever names the catalog recognises, the walker sees by name (data aside).
        let classified = names::classify(name);
        match rec.name_kind {
            Some(_) => assert!(classified.is_some(), "{}: not a candidate by name", c.name),
            None if rec.name == "dependency-lockfile" => assert!(classified.is_none()),
            None => {}
        }

        let p = with_obs(&seen, |o| parse_content(c, o));
        let e = &fx.expect;
        let num = |k: &str| e.get(k).map(|v| v.parse::<u64>().unwrap());
        assert_eq!(
            p.pid.map(|p| p as u64),
            num("pid"),
            "{}: pid in {p:?}",
            c.name
        );
        assert_eq!(
            p.host.as_deref(),
            e.get("host").map(String::as_str),
            "{}: host",
            c.name
        );
        assert_eq!(p.boot_time, num("boot_time"), "{}: boot_time", c.name);
        assert_eq!(p.start_time, num("start_time"), "{}: start_time", c.name);
        assert_eq!(
            p.dirty,
            e.get("dirty").map(|v| v == "true"),
            "{}: dirty",
            c.name
        );
        if let Some(d) = e.get("detail~") {
            assert!(
                p.detail.as_deref().is_some_and(|x| x.contains(d.as_str())),
                "{}: detail {:?} lacks {d:?}",
                c.name,
                p.detail
            );
        }
        match e.get("error~") {
            Some(err) => assert!(p.error.as_deref().is_some_and(|x| x.contains(err.as_str()))),
            None => assert_eq!(p.error, None, "{}", c.name),
        }
    }
}

#[test]
fn every_fixture_directory_is_a_convention() {
    for e in std::fs::read_dir(FIXTURES).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            let n = e.file_name();
            assert!(
                by_name(n.to_str().unwrap()).is_some(),
                "stray fixture {n:?}"
            );
        }
    }
}

#[test]
fn the_catalog_is_consistent() {
    let mut seen = std::collections::HashSet::new();
    for c in all() {
        assert!(seen.insert(c.name), "duplicate {}", c.name);
        assert!(
            !c.stale_rule.is_empty() && !c.stale_rule.contains('\n'),
            "{}",
            c.name
        );
        assert_eq!(
            c.heartbeat_secs.is_some(),
            c.discipline == Discipline::HeartbeatDir
        );
        assert_eq!(by_name(c.name).map(|x| x.name), Some(c.name));
        if c.discipline == Discipline::KernelLockKept || c.discipline == Discipline::DataFile {
            assert!(!c.deletes_on_release, "{}", c.name);
        }
    }
    assert_eq!(conv("npx-concurrency-lock").heartbeat_secs, Some(5));
    assert_eq!(conv("yarn-mutex-file").heartbeat_secs, Some(10));
    let kinds: Vec<&str> = all().iter().map(|c| c.discipline.as_str()).collect();
    for d in [
        "kernel-lock-kept",
        "kernel-lock-deleted-on-release",
        "existence-pid",
        "existence-only",
        "symlink",
        "heartbeat-dir",
        "data-file",
    ] {
        assert!(kinds.contains(&d), "no {d} convention");
    }
    // The generic fallbacks come after everything they could shadow.
    let pos = |n: &str| all().iter().position(|c| c.name == n).unwrap();
    for g in [
        "generic-pidfile",
        "generic-lockfile",
        "generic-symlink-lock",
    ] {
        assert!(conv(g).generic);
        assert!(pos(g) > pos("git-lockfile") && pos(g) > pos("leveldb-lock"));
    }
}

// ---- conventions.json ---------------------------------------------------------------

#[test]
fn every_json_convention_is_catalogued_or_excused() {
    // Part of the repository: missing is a failure, never a skip.
    let text = std::fs::read_to_string(CONVENTIONS_JSON)
        .unwrap_or_else(|e| panic!("{CONVENTIONS_JSON}: {e} (see fixtures/reference/README.md)"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let entries = json.as_array().unwrap();
    assert!(entries.len() >= 56);
    for e in entries {
        let name = e["name"].as_str().unwrap();
        let excused = NOT_CATALOGUED.iter().any(|(n, _)| *n == name);
        let Some(c) = by_name(name) else {
            assert!(
                excused,
                "{name} is neither catalogued nor in NOT_CATALOGUED"
            );
            continue;
        };
        assert!(!excused, "{name} is catalogued and excused");
        assert_eq!(c.program, e["program"].as_str().unwrap(), "{name}: program");
        assert_eq!(
            c.deletes_on_release,
            e["deletes_on_release"].as_bool().unwrap(),
            "{name}: deletes_on_release"
        );
        let msg = e["error_message"].as_str().unwrap();
        if !msg.starts_with('(') {
            assert_eq!(c.error_message, Some(msg), "{name}: error_message");
        }
    }
    for (n, why) in NOT_CATALOGUED {
        assert!(!why.is_empty() && by_name(n).is_none());
    }
}

// ---- near misses --------------------------------------------------------------------

#[test]
fn leveldb_and_rocksdb_lock_need_their_siblings() {
    let t = TempDir::new();
    let bare = t.file("plain/LOCK", b"");
    assert_eq!(recognised(&bare), Some("generic-lockfile"));
    let level = t.file("level/LOCK", b"");
    t.file("level/CURRENT", b"MANIFEST-000001\n");
    assert_eq!(recognised(&level), Some("leveldb-lock"));
    let rocks = t.file("rocks/LOCK", b"");
    t.file("rocks/CURRENT", b"MANIFEST-000005\n");
    t.file("rocks/IDENTITY", b"id");
    assert_eq!(recognised(&rocks), Some("rocksdb-lock"));
}

#[test]
fn postmaster_pid_is_recognised_by_pg_version_or_by_its_shape() {
    let t = TempDir::new();
    let text = b"4242\n/var/lib/postgresql/16/main\n1718000060\n5432\n/var/run/postgresql\n";
    // Without PG_VERSION, the content's shape is enough (it is read: generic-pidfile wants it).
    let shaped = t.file("a/postmaster.pid", text);
    assert_eq!(recognised(&shaped), Some("postgres-postmaster-pid"));
    // An unrelated postmaster.pid is just a pidfile.
    let plain = t.file("b/postmaster.pid", b"4242\n");
    assert_eq!(recognised(&plain), Some("generic-pidfile"));
    // With PG_VERSION even an empty one is PostgreSQL's (and malformed).
    let empty = t.file("c/postmaster.pid", b"");
    t.file("c/PG_VERSION", b"16\n");
    assert_eq!(recognised(&empty), Some("postgres-postmaster-pid"));
    let p = parsed("postgres-postmaster-pid", &empty);
    assert!(p.error.unwrap().contains("another server is starting"));
    let neg = t.file(
        "d/postmaster.pid",
        b"-4242\n/data\n1718000060\n5432\n\n\n\n\n",
    );
    t.file("d/PG_VERSION", b"16\n");
    let p = parsed("postgres-postmaster-pid", &neg);
    assert_eq!(p.pid, Some(4242));
    assert!(p.detail.unwrap().contains("single-user backend"));
}

#[test]
fn git_locks_need_a_git_directory() {
    let t = TempDir::new();
    let outside = t.file("work/index.lock", b"DIRC");
    assert_eq!(recognised(&outside), Some("generic-lockfile"));
    let head = t.file("repo/.git/HEAD.lock", b"ref: refs/heads/main\n");
    assert_eq!(recognised(&head), Some("git-lockfile"));
    assert!(
        parsed("git-lockfile", &head)
            .detail
            .unwrap()
            .contains("refs/heads/main")
    );
    let oid = "0123456789abcdef0123456789abcdef01234567";
    let r = t.file(
        "repo/.git/refs/heads/main.lock",
        format!("{oid}\n").as_bytes(),
    );
    assert_eq!(recognised(&r), Some("git-lockfile"));
    assert!(parsed("git-lockfile", &r).detail.unwrap().contains(oid));
    let bare = t.file("srv/project.git/HEAD.lock", b"ref: refs/heads/main\n");
    assert_eq!(recognised(&bare), Some("git-lockfile"));
    let pid = t.file("repo/.git/index~pid.lock", b"pid 4242\n");
    assert_eq!(recognised(&pid), Some("git-lock-pid"));
    let gc_outside = t.file("work/gc.pid", b"4242 buildhost");
    assert_eq!(recognised(&gc_outside), Some("generic-pidfile"));
    // A git lock that is a SoftFileLock by shape is still git's (git comes first).
    let soft = t.file("repo/.git/config.lock", b"4242\nbuildhost\n");
    assert_eq!(recognised(&soft), Some("git-lockfile"));
}

#[test]
fn context_decides_the_ambiguous_names() {
    let t = TempDir::new();
    // `lock`: dpkg, apt lists/archives, Firefox (symlink), or generic.
    assert_eq!(
        recognised(&t.file("var/lib/dpkg/lock", b"")),
        Some("dpkg-lock")
    );
    assert_eq!(
        recognised(&t.file("var/lib/apt/lists/lock", b"")),
        Some("apt-lists-lock")
    );
    assert_eq!(
        recognised(&t.file("other/lock", b"")),
        Some("generic-lockfile")
    );
    assert_eq!(
        recognised(&t.symlink("nowhere/lock", "127.0.1.1:+4242")),
        Some("generic-symlink-lock")
    );
    assert_eq!(
        recognised(&t.symlink("nowhere2/lock", "/etc/hostname")),
        None
    );
    t.file("profile/prefs.js", b"");
    let ff = t.symlink("profile/lock", "127.0.1.1:4242");
    assert_eq!(recognised(&ff), Some("firefox-lock-symlink"));
    assert_eq!(
        kernel_lock_path(conv("firefox-lock-symlink"), &ff),
        t.path().join("profile/.parentlock")
    );
    // A regular `lock` in a profile is not the symlink lock.
    assert_eq!(
        recognised(&t.file("profile2/lock", b"")),
        Some("generic-lockfile")
    );
    // Package manager names outside their directories.
    assert_eq!(
        recognised(&t.file("elsewhere/.rpm.lock", b"")),
        Some("generic-lockfile")
    );
    assert_eq!(
        recognised(&t.file("usr/lib/sysimage/rpm/.rpm.lock", b"")),
        Some("rpm-transaction-lock")
    );
    assert_eq!(
        recognised(&t.file("elsewhere/db.lck", b"")),
        Some("generic-lockfile")
    );
    assert_eq!(recognised(&t.file("elsewhere/lock-frontend", b"")), None);
    assert_eq!(
        recognised(&t.file("elsewhere/Lock", b"")),
        Some("generic-lockfile")
    );
    // npm <= 6 locks live in _locks.
    assert_eq!(
        recognised(&t.file("x/_locks/a-0123.lock", b"")),
        Some("npm-legacy-cache-locks")
    );
    // A heartbeat directory's name on a regular file is a plain lockfile.
    assert_eq!(
        recognised(&t.file("f/concurrency.lock.lock", b"")),
        Some("generic-lockfile")
    );
    assert_eq!(
        recognised(&t.dir("d/concurrency.lock.lock")),
        Some("npx-concurrency-lock")
    );
    assert_eq!(recognised(&t.dir("d/other.lock")), None);
    // MySQL's <hostname>.pid needs the datadir beside it.
    let host_pid = t.file("datadir/db1.pid", b"4242\n");
    assert_eq!(recognised(&host_pid), Some("generic-pidfile"));
    t.file("datadir/ibdata1", &[0; 16]);
    assert_eq!(recognised(&host_pid), Some("mysql-pidfile"));
    assert_eq!(
        recognised(&t.file("datadir/ibdata1", &[0; 16])),
        Some("innodb-ibdata-lock")
    );
}

#[test]
fn content_confirms_the_generic_names() {
    let t = TempDir::new();
    let soft = t.file(
        "w/build.lock",
        b"4242\nbuildhost\n170141183460469231731687303715884105727\n",
    );
    assert_eq!(recognised(&soft), Some("py-filelock-soft"));
    let p = parsed("py-filelock-soft", &soft);
    assert_eq!((p.pid, p.host.as_deref()), (Some(4242), Some("buildhost")));
    assert!(p.detail.unwrap().contains("start token"));
    let pidline = t.file("w/other.lock", b"4242\n");
    assert_eq!(recognised(&pidline), Some("generic-lockfile"));
    assert_eq!(parsed("generic-lockfile", &pidline).pid, Some(4242));
    assert_eq!(
        parsed("generic-lockfile", &t.file("w/p.lock", b"pid=77\n")).pid,
        Some(77)
    );
    let blob = parsed(
        "generic-lockfile",
        &t.file("w/blob.lock", b"\x00\x01binary"),
    );
    assert_eq!((blob.pid, blob.error), (None, None));

    // Vim: `.sw[a-p]` by name; later names only with the block 0 magic.
    let vim = std::fs::read(Path::new(FIXTURES).join("vim-swapfile/notes/.todo.txt.swp")).unwrap();
    assert_eq!(
        recognised(&t.file("n/.todo.txt.svz", &vim)),
        Some("vim-swapfile")
    );
    assert_eq!(recognised(&t.file("n/.schema.sql", b"select 1;\n")), None);
    assert_eq!(recognised(&t.file("n/.notes.txt.swo", b"not vim")), None);
    assert_eq!(
        recognised(&t.file("n/%home%alice%notes%todo.txt.swp", &vim)),
        Some("vim-swapfile")
    );

    // LMDB NOSUBDIR `X-lock` beside X, with the magic.
    let magic = [0xde, 0xc0, 0xef, 0xbe, 2, 0, 0, 2];
    t.file("l/store", &[0; 8]);
    assert_eq!(
        recognised(&t.file("l/store-lock", &magic)),
        Some("lmdb-lockfile")
    );
    assert_eq!(recognised(&t.file("l/nodata-lock", &magic)), None);
    assert_eq!(recognised(&t.file("l/store2-lock", b"")), None);
    assert_eq!(
        recognised(&t.file("l2/lock.mdb", &magic)),
        Some("lmdb-lockfile")
    );
    assert!(
        parsed("lmdb-lockfile", &t.file("l3/lock.mdb", b"garbage!"))
            .error
            .is_some()
    );

    // Terraform with another state file name, by sibling or by JSON.
    t.file("tf/prod.tfstate", b"{}");
    let prod = t.file("tf/.prod.tfstate.lock.info", b"");
    assert_eq!(recognised(&prod), Some("terraform-local-state-lock"));
    assert_eq!(
        kernel_lock_path(conv("terraform-local-state-lock"), &prod),
        t.path().join("tf/prod.tfstate")
    );
    let json = br#"{"ID":"x","Operation":"OperationTypePlan","Who":"bob@ci","Version":"1.9.4","Created":"2024-01-01T00:00:00Z","Path":"s","Info":""}"#;
    assert_eq!(
        recognised(&t.file("tf/.custom.lock.info", json)),
        Some("terraform-local-state-lock")
    );
    assert_eq!(recognised(&t.file("tf/.notes.lock.info", b"hello")), None);
    let bad = t.file("tf/bad.lock.info", b"{\"ID\":");
    assert!(parsed("terraform-local-state-lock", &bad).error.is_some());

    // SQLite databases by header; WAL files beside their database.
    let fixture_db = std::fs::read(Path::new(FIXTURES).join("sqlite-db-locks/db/app.db")).unwrap();
    assert_eq!(
        recognised(&t.file("s/places.sqlite", &fixture_db)),
        Some("sqlite-db-locks")
    );
    assert_eq!(recognised(&t.file("s/notes.db", b"not sqlite")), None);
    assert_eq!(
        recognised(&t.file("s/places.sqlite-wal", b"")),
        Some("sqlite-wal-shm")
    );
    // A rollback journal is not WAL mode.
    assert_eq!(
        recognised(&t.file("s/places.sqlite-journal", b"")),
        Some("sqlite-rollback-journal")
    );
    assert_eq!(recognised(&t.file("s/orphan-wal", b"")), None);

    // Emacs' regular-file fallback carries the same text as the symlink.
    let emacs = t.file(
        "e/.#notes.org",
        b"alice@buildhost.example.org.4242:1718000000",
    );
    assert_eq!(recognised(&emacs), Some("emacs-lockfile"));
    let p = parsed("emacs-lockfile", &emacs);
    assert_eq!(p.host.as_deref(), Some("buildhost.example.org"));
    assert_eq!((p.pid, p.boot_time), (Some(4242), Some(1718000000)));
    let no_boot = parsed(
        "emacs-lockfile",
        &t.symlink("e/.#a", "alice@buildhost.4242"),
    );
    assert_eq!(
        (no_boot.pid, no_boot.boot_time, no_boot.error),
        (Some(4242), None, None)
    );
}

#[test]
fn data_that_is_not_a_lock_is_not_a_candidate() {
    for n in [
        "Cargo.lock",
        "yarn.lock",
        "Gemfile.lock",
        "poetry.lock",
        "flake.lock",
        ".s.PGSQL.5432",
    ] {
        assert!(names::classify(OsStr::new(n)).is_none(), "{n}");
    }
    let t = TempDir::new();
    let cargo = t.file("p/Cargo.lock", b"version = 4\n");
    assert_eq!(recognised(&cargo), Some("dependency-lockfile"));
    let (v, reason) = safe_to_delete(conv("dependency-lockfile"), &facts());
    assert_eq!(v, DeleteVerdict::No);
    assert!(reason.contains("not a lock"));
    // A socket is not a lockfile; the socket's .lock is.
    assert_eq!(
        names::classify(OsStr::new(".s.PGSQL.5432.lock")).map(|r| r.kind),
        Some(NameKind::Lockfile)
    );
}

#[test]
fn the_name_table_is_the_catalogs() {
    let rule = names::classify(OsStr::new("lock")).unwrap();
    assert_eq!(rule.kind, NameKind::Lockfile);
    assert!(rule.convention.contains("dpkg") && rule.convention.contains("Firefox"));
    let convs: Vec<&str> = rule.conventions.iter().map(|c| c.name).collect();
    assert!(convs.contains(&"dpkg-lock") && convs.contains(&"generic-lockfile"));
    assert_eq!(
        names::classify(OsStr::new("concurrency.lock.lock")).map(|r| r.kind),
        Some(NameKind::HeartbeatDir)
    );
    assert_eq!(
        names::classify(OsStr::new(".todo.txt.swp")).map(|r| r.kind),
        Some(NameKind::Lockfile)
    );
    assert_eq!(names::classify(OsStr::new("ibdata1")).map(|r| r.kind), None);
    // Every by-name pattern of every convention classifies (unless hidden as data).
    let mut exact = 0;
    for c in all() {
        for m in c.matchers.iter().filter(|m| m.by_name) {
            if let Pattern::Exact(s) = m.pattern {
                exact += 1;
                let r = names::classify(OsStr::new(s));
                assert_eq!(r.is_some(), c.name_kind.is_some(), "{} {s}", c.name);
                if let Some(r) = r {
                    assert!(
                        r.conventions.iter().any(|x| x.name == c.name),
                        "{} {s}",
                        c.name
                    );
                }
            }
        }
    }
    assert!(exact >= 20, "only {exact} exact by-name patterns checked");
}

// ---- verdicts -----------------------------------------------------------------------

#[test]
fn kernel_locks_that_are_kept_are_never_deleted_nor_stale() {
    let kept: Vec<&Convention> = all()
        .iter()
        .filter(|c| c.discipline == Discipline::KernelLockKept)
        .collect();
    assert!(kept.len() >= 2, "dpkg's locks at least: {kept:?}");
    for c in kept {
        for locked in [false, true] {
            let f = Facts {
                kernel_locked: locked,
                pid: PidState::Dead,
                ..facts()
            };
            let (v, reason) = safe_to_delete(c, &f);
            assert_eq!(v, DeleteVerdict::No, "{}", c.name);
            assert!(
                reason.contains("never releases a lock"),
                "{}: {reason}",
                c.name
            );
            assert!(
                reason.contains("breaks mutual exclusion"),
                "{}: {reason}",
                c.name
            );
            assert_eq!(is_stale(c, &f), Some(false));
        }
    }
}

#[test]
fn deleted_on_release_locks_are_leftovers_when_unheld() {
    for name in [
        "certbot-dir-lock",
        "dnf5-transaction-lock",
        "terraform-local-state-lock",
        "cron-pid",
        "py-pid",
    ] {
        let held = Facts {
            kernel_locked: true,
            ..facts()
        };
        assert_eq!(
            verdict(name, &held),
            (DeleteVerdict::No, Some(false)),
            "{name}"
        );
        // Whatever pid the content names, the kernel lock decides.
        let free = Facts {
            pid: PidState::Alive,
            ..facts()
        };
        assert_eq!(
            verdict(name, &free),
            (DeleteVerdict::Yes, Some(true)),
            "{name}"
        );
        let open = Facts {
            open_by_any: true,
            ..facts()
        };
        assert_eq!(verdict(name, &open).0, DeleteVerdict::No, "{name}");
        // A lock table that may miss locks (a child pid namespace) proves nothing.
        let blind = Facts {
            kernel_gap: Some("the lock table is partial".into()),
            ..facts()
        };
        assert_eq!(
            verdict(name, &blind),
            (DeleteVerdict::Unknown, None),
            "{name}"
        );
        // Processes that could not be inspected cannot hide a kernel lock from a
        // complete lock table: the table alone proves the file is a leftover.
        let hidden = Facts {
            open_gap: Some("other processes could not be inspected".into()),
            ..facts()
        };
        assert_eq!(
            verdict(name, &hidden),
            (DeleteVerdict::Yes, Some(true)),
            "{name}"
        );
    }
    let (_, reason) = safe_to_delete(
        conv("terraform-local-state-lock"),
        &Facts {
            kernel_locked: true,
            ..facts()
        },
    );
    assert!(reason.contains("state file"), "{reason}");
}

#[test]
fn pidfiles_follow_their_pid() {
    for name in [
        "nginx-pid",
        "sshd-pid",
        "docker-pid",
        "yum-pid",
        "dnf4-process-locks",
        "mysql-pidfile",
        "generic-pidfile",
        "git-lock-pid",
        "postgres-socket-lock",
        "uucp-serial-lock",
        "py-filelock-soft",
    ] {
        let with = |pid| Facts { pid, ..facts() };
        assert_eq!(
            verdict(name, &with(PidState::Dead)),
            (DeleteVerdict::Yes, Some(true)),
            "{name}"
        );
        assert_eq!(
            verdict(name, &with(PidState::Reused)),
            (DeleteVerdict::Yes, Some(true)),
            "{name}"
        );
        assert_eq!(
            verdict(name, &with(PidState::Alive)),
            (DeleteVerdict::No, Some(false)),
            "{name}"
        );
        assert_eq!(
            verdict(name, &with(PidState::OtherHost)),
            (DeleteVerdict::Unknown, None),
            "{name}"
        );
        assert_eq!(
            verdict(name, &with(PidState::Unknown)),
            (DeleteVerdict::Unknown, None),
            "{name}"
        );
        assert_eq!(
            verdict(name, &with(PidState::NoPid)),
            (DeleteVerdict::Unknown, None),
            "{name}"
        );
        let open = Facts {
            open_by_any: true,
            ..with(PidState::Dead)
        };
        assert_eq!(
            verdict(name, &open),
            (DeleteVerdict::No, Some(true)),
            "{name}"
        );
        let blind = Facts {
            open_gap: Some("other processes could not be inspected".into()),
            ..with(PidState::Dead)
        };
        assert_eq!(
            verdict(name, &blind),
            (DeleteVerdict::Unknown, Some(true)),
            "{name}"
        );
        let flocked = Facts {
            kernel_locked: true,
            ..with(PidState::Dead)
        };
        assert_eq!(
            verdict(name, &flocked),
            (DeleteVerdict::No, Some(false)),
            "{name}"
        );
    }
    let (_, reason) = safe_to_delete(
        conv("nginx-pid"),
        &Facts {
            pid: PidState::Reused,
            ..facts()
        },
    );
    assert!(reason.contains("another program"), "{reason}");
}

#[test]
fn postgres_leaves_its_stale_postmaster_pid_to_the_server() {
    let f = Facts {
        pid: PidState::Dead,
        ..facts()
    };
    let (v, reason) = safe_to_delete(conv("postgres-postmaster-pid"), &f);
    assert_eq!(v, DeleteVerdict::Unknown);
    assert!(reason.contains("shared memory"));
    assert_eq!(is_stale(conv("postgres-postmaster-pid"), &f), Some(true));
}

#[test]
fn symlink_locks_check_the_host() {
    for name in [
        "emacs-lockfile",
        "chromium-singletonlock",
        "firefox-lock-symlink",
        "generic-symlink-lock",
    ] {
        let dead = Facts {
            pid: PidState::Dead,
            ..facts()
        };
        assert_eq!(
            verdict(name, &dead),
            (DeleteVerdict::Yes, Some(true)),
            "{name}"
        );
        let remote = Facts {
            same_host: Some(false),
            ..dead.clone()
        };
        assert_eq!(
            verdict(name, &remote),
            (DeleteVerdict::Unknown, None),
            "{name}"
        );
        let alive = Facts {
            pid: PidState::Alive,
            ..facts()
        };
        assert_eq!(
            verdict(name, &alive),
            (DeleteVerdict::No, Some(false)),
            "{name}"
        );
    }
    // Firefox's `lock` is live while .parentlock is locked, whatever its pid says.
    let held = Facts {
        kernel_locked: true,
        pid: PidState::Dead,
        ..facts()
    };
    assert_eq!(
        verdict("firefox-lock-symlink", &held),
        (DeleteVerdict::No, Some(false))
    );
    for name in ["chromium-singletonsocket", "chromium-singletoncookie"] {
        let (v, reason) = safe_to_delete(conv(name), &facts());
        assert_eq!(v, DeleteVerdict::Unknown);
        assert!(reason.contains("SingletonLock"));
    }
}

#[test]
fn git_gc_pid_from_another_host_expires_after_twelve_hours() {
    let old = Facts {
        pid: PidState::OtherHost,
        age_secs: Some(13 * 3600),
        ..facts()
    };
    assert_eq!(
        verdict("git-gc-pid", &old),
        (DeleteVerdict::Yes, Some(true))
    );
    let young = Facts {
        age_secs: Some(3600),
        ..old.clone()
    };
    assert_eq!(
        verdict("git-gc-pid", &young),
        (DeleteVerdict::Unknown, None)
    );
    let alive = Facts {
        pid: PidState::Alive,
        ..old
    };
    assert_eq!(
        verdict("git-gc-pid", &alive),
        (DeleteVerdict::No, Some(false))
    );
}

#[test]
fn existence_locks_are_leftovers_when_nobody_has_them_open() {
    for name in ["git-lockfile", "pacman-db-lck", "npm-legacy-cache-locks"] {
        let (v, reason) = safe_to_delete(conv(name), &facts());
        assert_eq!(
            (v, is_stale(conv(name), &facts())),
            (DeleteVerdict::Yes, Some(true)),
            "{name}"
        );
        assert!(
            reason.contains("no process has it open") && reason.contains("running"),
            "{reason}"
        );
        let open = Facts {
            open_by_any: true,
            ..facts()
        };
        assert_eq!(
            verdict(name, &open),
            (DeleteVerdict::No, Some(false)),
            "{name}"
        );
        let maybe_running = Facts {
            program: Some(vec!["pid 4242 (x)".into()]),
            program_certain: false,
            ..facts()
        };
        assert_eq!(
            verdict(name, &maybe_running),
            (DeleteVerdict::Unknown, None),
            "{name}"
        );
        // Working in this very repository: it owns the lock, file closed or not.
        let running = Facts {
            program_certain: true,
            ..maybe_running
        };
        let scoped = conv(name).program_scope == ProgramScope::Repository;
        assert_eq!(
            verdict(name, &running),
            if scoped {
                (DeleteVerdict::No, Some(false))
            } else {
                (DeleteVerdict::Unknown, None)
            },
            "{name}"
        );
        let none_running = Facts {
            program: Some(vec![]),
            ..facts()
        };
        assert_eq!(verdict(name, &none_running).0, DeleteVerdict::Yes, "{name}");
        let blind = Facts {
            open_gap: Some("other processes could not be inspected".into()),
            ..facts()
        };
        assert_eq!(
            verdict(name, &blind),
            (DeleteVerdict::Unknown, None),
            "{name}"
        );
    }
    let (_, reason) = safe_to_delete(conv("git-lockfile"), &facts());
    assert!(
        reason.contains("no git process") && reason.contains("in this repository"),
        "{reason}"
    );
    // A lockfile of unknown origin that nobody uses may just be a free flock(1) file.
    assert_eq!(
        verdict("generic-lockfile", &facts()),
        (DeleteVerdict::Unknown, None)
    );
    let dead = Facts {
        pid: PidState::Dead,
        ..facts()
    };
    assert_eq!(
        verdict("generic-lockfile", &dead),
        (DeleteVerdict::Yes, Some(true))
    );
    let held = Facts {
        kernel_locked: true,
        ..facts()
    };
    assert_eq!(
        verdict("generic-lockfile", &held),
        (DeleteVerdict::No, Some(false))
    );
}

#[test]
fn heartbeat_directories_expire() {
    let aged = |a| Facts {
        age_secs: a,
        ..facts()
    };
    assert_eq!(
        verdict("npx-concurrency-lock", &aged(Some(6))),
        (DeleteVerdict::Yes, Some(true))
    );
    assert_eq!(
        verdict("npx-concurrency-lock", &aged(Some(5))),
        (DeleteVerdict::No, Some(false))
    );
    assert_eq!(
        verdict("yarn-mutex-file", &aged(Some(11))),
        (DeleteVerdict::Yes, Some(true))
    );
    assert_eq!(
        verdict("yarn-mutex-file", &aged(Some(9))),
        (DeleteVerdict::No, Some(false))
    );
    assert_eq!(
        verdict("yarn-mutex-file", &aged(None)),
        (DeleteVerdict::Unknown, None)
    );
    // Its age is the evidence: unseen processes do not change it.
    let blind = Facts {
        open_gap: Some("other processes could not be inspected".into()),
        ..aged(Some(60))
    };
    assert_eq!(verdict("yarn-mutex-file", &blind).0, DeleteVerdict::Yes);
}

#[test]
fn vim_swap_files_with_unsaved_changes_are_kept() {
    let dead = |dirty| Facts {
        pid: PidState::Dead,
        dirty,
        ..facts()
    };
    let (v, reason) = safe_to_delete(conv("vim-swapfile"), &dead(Some(true)));
    assert_eq!(v, DeleteVerdict::No);
    assert!(reason.contains("vim -r"));
    assert_eq!(
        is_stale(conv("vim-swapfile"), &dead(Some(true))),
        Some(true)
    );
    assert_eq!(
        verdict("vim-swapfile", &dead(Some(false))),
        (DeleteVerdict::Yes, Some(true))
    );
    assert_eq!(
        verdict("vim-swapfile", &dead(None)),
        (DeleteVerdict::Unknown, Some(true))
    );
    let alive = Facts {
        pid: PidState::Alive,
        dirty: Some(true),
        ..facts()
    };
    assert_eq!(
        verdict("vim-swapfile", &alive),
        (DeleteVerdict::No, Some(false))
    );
    let editing = Facts {
        open_by_any: true,
        ..dead(Some(false))
    };
    assert_eq!(verdict("vim-swapfile", &editing).0, DeleteVerdict::No);
}

#[test]
fn data_files_are_never_deleted() {
    let data: Vec<&Convention> = all()
        .iter()
        .filter(|c| c.discipline == Discipline::DataFile)
        .collect();
    assert!(!data.is_empty(), "no data-file convention");
    for c in data {
        let (v, reason) = safe_to_delete(
            c,
            &Facts {
                pid: PidState::Dead,
                ..facts()
            },
        );
        assert_eq!(v, DeleteVerdict::No, "{}", c.name);
        assert!(reason.starts_with("never delete"), "{}: {reason}", c.name);
        assert_eq!(is_stale(c, &facts()), Some(false));
    }
}

/// Every convention over a grid of facts: incomplete visibility never gives "yes",
/// "yes" always means stale, reasons are single sentences.
#[test]
fn verdict_invariants_over_all_facts() {
    let pids = [
        PidState::NoPid,
        PidState::Alive,
        PidState::Dead,
        PidState::Reused,
        PidState::OtherHost,
        PidState::Unknown,
    ];
    let opt_bools = [None, Some(false), Some(true)];
    // How often each conditional check below applied: none may be vacuous.
    let (mut blind, mut yes, mut locked, mut unknown_pid) = (0, 0, 0, 0);
    for c in all() {
        for bits in 0..32u8 {
            for pid in pids {
                for age in [None, Some(0), Some(7), Some(50_000)] {
                    for same_host in opt_bools {
                        for dirty in opt_bools {
                            for (program, program_certain) in [
                                (None, false),
                                (Some(vec![]), true),
                                (Some(vec!["pid 1 (x)".to_string()]), false),
                                (Some(vec!["pid 1 (x)".to_string()]), true),
                            ] {
                                let f = Facts {
                                    kernel_locked: bits & 1 != 0,
                                    open_by_any: bits & 2 != 0,
                                    open_gap: (bits & 4 != 0).then(|| "hidden".to_string()),
                                    kernel_gap: (bits & 8 != 0).then(|| "partial".to_string()),
                                    lock_unresolved: (bits & 16 != 0)
                                        .then(|| "a lock may be on it".to_string()),
                                    pid,
                                    age_secs: age,
                                    same_host,
                                    dirty,
                                    program,
                                    program_certain,
                                };
                                let (v, reason) = safe_to_delete(c, &f);
                                let stale = is_stale(c, &f);
                                let ctx = || format!("{} {f:?}", c.name);
                                // The evidence the discipline rests on has a gap.
                                let gap = match c.discipline {
                                    Discipline::KernelLockDeletedOnRelease => {
                                        f.kernel_gap.is_some()
                                    }
                                    Discipline::HeartbeatDir => false,
                                    _ => f.kernel_gap.is_some() || f.open_gap.is_some(),
                                } || f.lock_unresolved.is_some();
                                if gap {
                                    blind += 1;
                                    assert_ne!(v, DeleteVerdict::Yes, "{}", ctx());
                                }
                                if v == DeleteVerdict::Yes {
                                    yes += 1;
                                    assert_eq!(stale, Some(true), "{}", ctx());
                                    assert!(
                                        !f.open_by_any || c.discipline == Discipline::HeartbeatDir,
                                        "{}",
                                        ctx()
                                    );
                                }
                                if f.kernel_locked && c.discipline != Discipline::HeartbeatDir {
                                    locked += 1;
                                    assert_eq!(v, DeleteVerdict::No, "{}", ctx());
                                }
                                if matches!(pid, PidState::Unknown)
                                    && !f.kernel_locked
                                    && same_host != Some(false)
                                    && matches!(
                                        c.discipline,
                                        Discipline::ExistencePid | Discipline::Symlink
                                    )
                                {
                                    unknown_pid += 1;
                                    assert_eq!(stale, None, "{}", ctx());
                                }
                                assert!(!reason.is_empty() && !reason.contains('\n'), "{}", ctx());
                                assert!(!reason.contains(". "), "{}: {reason}", ctx());
                                assert!(["yes", "no", "unknown"].contains(&v.as_str()));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        blind > 0 && yes > 0 && locked > 0 && unknown_pid > 0,
        "a check never applied: blind {blind}, yes {yes}, locked {locked}, unknown pid {unknown_pid}"
    );
}

#[test]
fn process_names_are_matched_like_comm() {
    assert_eq!(
        exe_matches(conv("emacs-lockfile"), "emacs-29.3"),
        Some(true)
    );
    assert_eq!(
        exe_matches(conv("emacs-lockfile"), "emacsclient"),
        Some(false)
    );
    assert_eq!(
        exe_matches(conv("dpkg-lock-frontend"), "unattended-upgr"),
        Some(true)
    );
    assert_eq!(exe_matches(conv("nginx-pid"), "nginx"), Some(true));
    assert_eq!(exe_matches(conv("nginx-pid"), "bash"), Some(false));
    assert_eq!(exe_matches(conv("chromium-singletonlock"), "code"), None);
    assert_eq!(exe_matches(conv("generic-pidfile"), "anything"), None);
}

// ---- random bytes -------------------------------------------------------------------

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn parsers_are_total_on_random_bytes() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // Seeds: the fixtures' own bytes and targets, mutated; plus pure noise.
    let mut seeds: Vec<Vec<u8>> = Vec::new();
    for c in all() {
        let fx = materialise(c.name);
        if let Ok(b) = std::fs::read(&fx.target) {
            seeds.push(b);
        }
        if let Ok(t) = std::fs::read_link(&fx.target) {
            seeds.push(t.to_string_lossy().into_owned().into_bytes());
        }
    }
    let alphabet = b"0123456789-+:@.\n /=\"{}\\,abcxyzPIDpid\xef\xbf\xbd\xff\x00";
    let never = |_: &str| false;
    let always = |_: &str| true;
    for round in 0..400 {
        let mut bytes = match round % 4 {
            0 => (0..rng.below(4097))
                .map(|_| rng.next() as u8)
                .collect::<Vec<u8>>(),
            1 => (0..rng.below(80))
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect(),
            _ => seeds[rng.below(seeds.len())].clone(),
        };
        for _ in 0..rng.below(8) {
            match rng.below(3) {
                0 if !bytes.is_empty() => {
                    let i = rng.below(bytes.len());
                    bytes[i] = rng.next() as u8;
                }
                1 => {
                    let cut = rng.below(bytes.len() + 1);
                    bytes.truncate(cut);
                }
                _ => bytes.insert(
                    rng.below(bytes.len() + 1),
                    alphabet[rng.below(alphabet.len())],
                ),
            }
        }
        bytes.truncate(4096);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        for c in all() {
            for (file_type, target) in [
                (FileType::Regular, None),
                (FileType::Symlink, Some(text.as_str())),
            ] {
                for siblings in [&never as &dyn Fn(&str) -> bool, &always] {
                    let name = format!("x{}", c.name);
                    let path = PathBuf::from("/a/.git/dpkg").join(&name);
                    let obs = Observed {
                        path: &path,
                        file_type,
                        symlink_target: target,
                        content: Some(&bytes),
                        sibling_exists: siblings,
                    };
                    let p = parse_content(c, &obs);
                    assert!(p.pid.is_none_or(|p| p > 0), "{}: {p:?}", c.name);
                    let _ = recognise(&obs);
                    let _ = content_would_help(&obs);
                }
            }
        }
    }
}

#[test]
fn parsers_ignore_unread_content() {
    let never = |_: &str| false;
    for c in all() {
        let obs = Observed {
            path: Path::new("/x/y"),
            file_type: FileType::Regular,
            symlink_target: None,
            content: None,
            sibling_exists: &never,
        };
        assert_eq!(
            parse_content(c, &obs),
            ParsedContent::default(),
            "{}",
            c.name
        );
    }
    let _ = catalog::all();
}
