//! Golden reports: the JSON of fixed, hand-built snapshots.
//!
//! Each scenario is a system described as data (the kernel's lock table, mounts,
//! processes, open fds, files found by a walk and what they contain), run through
//! the scanner's pure stages (examination through a described disk, correlation,
//! diagnosis) and serialised. Two expectations per scenario:
//!
//! - `fixtures/golden/v0/NAME.json` was written before the typed-model refactor: the
//!   output with fields added since removed must equal it byte for byte, so no field
//!   name, value or order of schema 1 changed;
//! - `fixtures/golden/NAME.json` is the whole current output.
//!
//! Regenerate the current files with `LOCKSCAN_UPDATE_GOLDEN=1 cargo test --test
//! golden`; the v0 files change only with a deliberate, CHANGELOG-listed change of
//! schema 1 values (`LOCKSCAN_UPDATE_GOLDEN=schema-1-values`, which keeps their
//! field set and order and takes today's values).

#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lockscan::model::*;
use lockscan::pipeline::report_for;
use lockscan::scan::ScanOptions;
use lockscan::scan::examine::{self, Disk};
use lockscan::scan::names::{self, NameKind};
use lockscan::scan::walk::{Candidate, FileStat, WalkResult};
use lockscan::sys::linux::proc_locks::{parse_lock_line, parse_proc_locks};
use lockscan::sys::*;

const NOW: u64 = 1_780_000_000;

fn root_key(ino: u64) -> FileKey {
    FileKey {
        major: 254,
        minor: 0,
        ino,
    }
}

fn run_key(ino: u64) -> FileKey {
    FileKey {
        major: 0,
        minor: 25,
        ino,
    }
}

fn nfs_key(ino: u64) -> FileKey {
    FileKey {
        major: 0,
        minor: 50,
        ino,
    }
}

fn mount(id: u64, dev: (u32, u32), point: &str, fstype: &str, source: &str, sopts: &str) -> Mount {
    Mount {
        mount_id: id,
        parent_id: 1,
        major: dev.0,
        minor: dev.1,
        root: "/".into(),
        mount_point: point.into(),
        mount_options: "rw,relatime".into(),
        fstype: fstype.into(),
        source: source.into(),
        super_options: sopts.into(),
        locality: None,
    }
}

fn linux_mounts() -> HashMap<u64, Mount> {
    [
        mount(27, (254, 0), "/", "ext4", "/dev/vda", "rw"),
        mount(
            30,
            (0, 25),
            "/run",
            "tmpfs",
            "tmpfs",
            "rw,size=400k,mode=755",
        ),
        mount(
            40,
            (0, 50),
            "/mnt/nfs",
            "nfs4",
            "fileserver:/export",
            "rw,vers=4.2,local_lock=none",
        ),
    ]
    .into_iter()
    .map(|m| (m.mount_id, m))
    .collect()
}

fn mnt_of(key: FileKey) -> u64 {
    match (key.major, key.minor) {
        (254, 0) => 27,
        (0, 25) => 30,
        _ => 40,
    }
}

struct Proc {
    pid: i32,
    comm: &'static str,
    ppid: i32,
    age: u64,
    state: char,
}

fn process(p: Proc) -> ProcessInfo {
    ProcessInfo {
        pid: p.pid,
        command: p.comm.into(),
        cmdline: format!("{} --run", p.comm),
        uid: Some(0),
        user: Some("root".into()),
        started_at: Some(NOW - p.age),
        state: ProcessState::from_letter(p.state),
        ppid: Some(p.ppid),
        exe: Some(PathBuf::from(format!("/usr/bin/{}", p.comm))),
        wchan: (p.state == 'S').then(|| "do_sys_poll".to_string()),
        stdin_tty: None,
        cgroup: Some(format!("/system.slice/{}.service", p.comm)),
        cwd: None,
        tty_foreground: None,
        ns_pid: None,
        kernel_thread: false,
    }
}

fn open_fd(pid: i32, fd: i32, path: &str, key: FileKey, locks: &[&str], flags: u32) -> OpenFd {
    OpenFd {
        pid,
        fd,
        path: Some(PathBuf::from(path)),
        deleted: false,
        replaced: false,
        key: Some(key),
        mnt_id: Some(mnt_of(key)),
        st_dev: None,
        flags: Some(flags),
        locks: locks.iter().map(|l| parse_lock_line(l).unwrap()).collect(),
        open_file_id: None,
        inherited_from: None,
    }
}

const CLOEXEC: u32 = 0o2100002;
const INHERITABLE: u32 = 0o100002;

/// A file the walk found, with its content and the sibling names beside it.
struct Found {
    path: &'static str,
    key: FileKey,
    file_type: FileType,
    mode: u32,
    uid: u32,
    age: u64,
    content: Option<&'static [u8]>,
    symlink_target: Option<&'static str>,
    siblings: &'static [&'static str],
    dir_mode: u32,
}

fn found(path: &'static str, key: FileKey) -> Found {
    Found {
        path,
        key,
        file_type: FileType::Regular,
        mode: 0o644,
        uid: 0,
        age: 600,
        content: Some(b""),
        symlink_target: None,
        siblings: &[],
        dir_mode: 0o755,
    }
}

/// The disk the found files describe.
struct DescribedDisk<'a>(&'a [Found]);

impl Disk for DescribedDisk<'_> {
    fn read_head(&self, path: &Path, _seen: &FileStat) -> Result<Vec<u8>, String> {
        self.0
            .iter()
            .find(|f| Path::new(f.path) == path)
            .and_then(|f| f.content)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "not described".to_string())
    }

    fn exists(&self, path: &Path) -> bool {
        self.0.iter().any(|f| {
            Path::new(f.path) == path
                || (Path::new(f.path).parent() == path.parent()
                    && f.siblings
                        .iter()
                        .any(|s| path.file_name() == Some(s.as_ref())))
        })
    }

    fn other_names(&self, _path: &Path, _seen: &FileStat) -> Vec<String> {
        Vec::new()
    }

    fn key_of(&self, _snap: &Snapshot, path: &Path) -> Option<FileKey> {
        self.0
            .iter()
            .find(|f| Path::new(f.path) == path)
            .map(|f| f.key)
    }
}

/// The walk's candidates for the found files (and a FIFO it met, which is reported
/// as not examined).
fn walk(files: &[Found]) -> WalkResult {
    let mut cands: Vec<Candidate> = files
        .iter()
        .map(|f| {
            let path = PathBuf::from(f.path);
            let rule = path.file_name().and_then(names::classify);
            let name_kind = if f.symlink_target.is_some() {
                Some(NameKind::SymlinkLock)
            } else {
                rule.map(|r| r.kind)
            };
            Candidate {
                path,
                name_kind,
                stat: FileStat {
                    file_type: f.file_type,
                    size: f.content.map_or(0, |c| c.len() as u64),
                    mode: Some(f.mode),
                    uid: Some(f.uid),
                    mtime: (NOW - f.age) as i64,
                    nlink: 1,
                    ino: f.key.ino,
                    mnt_id: Some(mnt_of(f.key)),
                    st_dev: (f.key.major, f.key.minor),
                },
                key: (f.file_type != FileType::Symlink).then_some(f.key),
                symlink_target: f.symlink_target.map(Into::into),
                explicit: false,
                dir_mode: Some(f.dir_mode),
                dir_uid: Some(0),
                exam: Default::default(),
            }
        })
        .collect();
    let fifo = found("/run/initctl", run_key(3999));
    cands.push(Candidate {
        path: PathBuf::from(fifo.path),
        name_kind: None,
        stat: FileStat {
            file_type: FileType::Fifo,
            size: 0,
            mode: Some(0o600),
            uid: Some(0),
            mtime: NOW as i64,
            nlink: 1,
            ino: fifo.key.ino,
            mnt_id: Some(30),
            st_dev: (0, 25),
        },
        key: Some(fifo.key),
        symlink_target: None,
        explicit: false,
        dir_mode: Some(0o755),
        dir_uid: Some(0),
        exam: Default::default(),
    });
    WalkResult {
        candidates: cands,
        errors: Vec::new(),
        entries: 321,
    }
}

/// The report the scanner assembles from these parts (as `lockscan::scan` does,
/// without the I/O).
fn report(
    snap: &Snapshot,
    files: &[Found],
    roots: &[&str],
    probes: Vec<(&str, ProbeReport)>,
    max_age: Option<u64>,
) -> Report {
    let mut walked = walk(files);
    examine::examine(snap, &mut walked.candidates, &DescribedDisk(files));
    let roots: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    let opts = ScanOptions {
        roots: roots.clone(),
        max_age,
        ..Default::default()
    };
    let probes = probes
        .into_iter()
        .map(|(p, r)| (PathBuf::from(p), r))
        .collect();
    let mut report = report_for(snap, &roots, walked, probes, &opts);
    report.stats.duration_ms = 7;
    report
}

/// JSON with its object keys in document order (serde_json's `Value` sorts them).
enum Json {
    Scalar(serde_json::Value),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Json;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
                Ok(Json::Scalar(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
                Ok(Json::Scalar(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
                Ok(Json::Scalar(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
                Ok(Json::Scalar(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Json, E> {
                Ok(Json::Scalar(v.into()))
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Scalar(serde_json::Value::Null))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = a.next_element()? {
                    out.push(v);
                }
                Ok(Json::Array(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = a.next_entry()? {
                    out.push((k, v));
                }
                Ok(Json::Object(out))
            }
        }
        d.deserialize_any(V)
    }
}

impl serde::Serialize for Json {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Json::Scalar(v) => v.serialize(s),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for i in items {
                    seq.serialize_element(i)?;
                }
                seq.end()
            }
            Json::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

/// `actual` without the object keys `baseline` lacks (fields added since).
fn without_additions(actual: Json, baseline: &Json) -> Json {
    match (actual, baseline) {
        (Json::Object(entries), Json::Object(base)) => Json::Object(
            entries
                .into_iter()
                .filter_map(|(k, v)| {
                    let b = base.iter().find(|(bk, _)| *bk == k)?;
                    Some((k, without_additions(v, &b.1)))
                })
                .collect(),
        ),
        (Json::Array(items), Json::Array(base)) => Json::Array(
            items
                .into_iter()
                .zip(
                    base.iter()
                        .chain(std::iter::repeat(&Json::Scalar(serde_json::Value::Null))),
                )
                .map(|(v, b)| without_additions(v, b))
                .collect(),
        ),
        (v, _) => v,
    }
}

fn golden_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/golden")
        .join(rel)
}

fn assert_same_text(what: &str, got: &str, want: &str) {
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
        panic!(
            "{what} differs from line {}:\n got: {:?}\nwant: {:?}",
            line + 1,
            got.lines().nth(line),
            want.lines().nth(line)
        );
    }
}

fn check(name: &str, report: &Report) {
    let text = serde_json::to_string_pretty(report).unwrap() + "\n";
    let current = golden_path(&format!("{name}.json"));
    if std::env::var_os("LOCKSCAN_UPDATE_GOLDEN").is_some() {
        std::fs::write(&current, &text).unwrap();
    }
    // Schema 1 as it was before the refactor: byte for byte, once additions are gone.
    let v0_path = golden_path(&format!("v0/{name}.json"));
    let v0_text =
        std::fs::read_to_string(&v0_path).unwrap_or_else(|e| panic!("{}: {e}", v0_path.display()));
    let v0: Json = serde_json::from_str(&v0_text).unwrap();
    let actual: Json = serde_json::from_str(&text).unwrap();
    let stripped = serde_json::to_string_pretty(&without_additions(actual, &v0)).unwrap() + "\n";
    if std::env::var_os("LOCKSCAN_UPDATE_GOLDEN").is_some_and(|v| v == "schema-1-values") {
        // A deliberate change of schema 1 values (listed in the CHANGELOG).
        std::fs::write(&v0_path, &stripped).unwrap();
        return;
    }
    assert_same_text(&format!("{name} (fields of schema 1)"), &stripped, &v0_text);
    // And the whole current document.
    let want =
        std::fs::read_to_string(&current).unwrap_or_else(|e| panic!("{}: {e}", current.display()));
    assert_same_text(&format!("{name} (whole report)"), &text, &want);
}

/// A host seen completely (root, initial pid namespace): every kind of lock and
/// most findings.
fn host_snapshot() -> Snapshot {
    let locks = parse_proc_locks(
        "1: POSIX  ADVISORY  WRITE 771 fe:00:1001 0 EOF\n\
         1: -> POSIX  ADVISORY  WRITE 818 fe:00:1001 0 EOF\n\
         2: FLOCK  ADVISORY  WRITE 8074 fe:00:1002 0 EOF\n\
         3: OFDLCK ADVISORY  READ  -1 fe:00:1003 0 63\n\
         4: FLOCK  ADVISORY  WRITE 7200 fe:00:1004 0 EOF\n\
         5: FLOCK  ADVISORY  WRITE 7300 fe:00:1005 0 EOF\n\
         6: FLOCK  ADVISORY  WRITE 7400 00:32:2001 0 EOF\n\
         7: LEASE  ACTIVE    READ  7500 fe:00:1006 0 EOF\n\
         8: POSIX  ADVISORY  WRITE 7600 fe:00:1007 100 199\n\
         9: FLOCK  ADVISORY  WRITE 7700 fe:00:1008 0 EOF\n\
         10: FLOCK  ADVISORY  WRITE 7800 fe:00:1009 0 EOF\n\
         11: SOMETHING NEW FROM A FUTURE KERNEL\n",
    );
    let mut processes = HashMap::new();
    for p in [
        Proc {
            pid: 1,
            comm: "systemd",
            ppid: 0,
            age: 864_000,
            state: 'S',
        },
        Proc {
            pid: 771,
            comm: "python3",
            ppid: 770,
            age: 7_200,
            state: 'S',
        },
        Proc {
            pid: 770,
            comm: "bash",
            ppid: 1,
            age: 7_300,
            state: 'S',
        },
        Proc {
            pid: 818,
            comm: "python3",
            ppid: 1,
            age: 30,
            state: 'S',
        },
        Proc {
            pid: 8075,
            comm: "sleep",
            ppid: 1,
            age: 500,
            state: 'S',
        },
        Proc {
            pid: 7000,
            comm: "sqlite3",
            ppid: 1,
            age: 50,
            state: 'S',
        },
        Proc {
            pid: 7200,
            comm: "app",
            ppid: 1,
            age: 900,
            state: 'S',
        },
        Proc {
            pid: 7300,
            comm: "app",
            ppid: 1,
            age: 100,
            state: 'S',
        },
        Proc {
            pid: 7399,
            comm: "bash",
            ppid: 1,
            age: 2_000,
            state: 'S',
        },
        Proc {
            pid: 7400,
            comm: "rsync",
            ppid: 7399,
            age: 1_000,
            state: 'T',
        },
        Proc {
            pid: 7500,
            comm: "smbd",
            ppid: 1,
            age: 3_000,
            state: 'S',
        },
        Proc {
            pid: 7600,
            comm: "certbot",
            ppid: 1,
            age: 90,
            state: 'S',
        },
        Proc {
            pid: 7700,
            comm: "worker",
            ppid: 1,
            age: 40,
            state: 'Z',
        },
        Proc {
            pid: 7800,
            comm: "cp",
            ppid: 1,
            age: 4_000,
            state: 'D',
        },
        Proc {
            pid: 900,
            comm: "sshd",
            ppid: 1,
            age: 86_400,
            state: 'S',
        },
        Proc {
            pid: 950,
            comm: "bash",
            ppid: 1,
            age: 60,
            state: 'S',
        },
        Proc {
            pid: 1500,
            comm: "vim",
            ppid: 1,
            age: 700,
            state: 'S',
        },
    ] {
        processes.insert(p.pid, process(p));
    }
    let tty = processes.get_mut(&7600).unwrap();
    tty.stdin_tty = Some("/dev/pts/1".into());
    tty.wchan = Some("n_tty_read".into());
    tty.tty_foreground = Some(true);
    processes.get_mut(&7800).unwrap().wchan = Some("rpc_wait_bit_killable".into());
    // The new app instance runs in a Docker container, where it is pid 1.
    let app = processes.get_mut(&7300).unwrap();
    app.cgroup = Some(
        "/system.slice/docker-4f1e2d3c4b5a69788796a5b4c3d2e1f001122334455667788990aabbccddeeff.scope"
            .into(),
    );
    app.ns_pid = Some(1);
    processes.get_mut(&900).unwrap().exe = Some("/usr/sbin/sshd".into());
    processes.get_mut(&1500).unwrap().uid = Some(1000);
    processes.get_mut(&1500).unwrap().user = Some("alice".into());
    let process_names = processes
        .values()
        .map(|p| (p.pid, p.command.clone()))
        .chain([(2, "kthreadd".to_string())])
        .collect();

    let mut old_app = open_fd(
        7200,
        4,
        "/srv/app.lock",
        root_key(1004),
        &["1: FLOCK  ADVISORY  WRITE 7200 fe:00:1004 0 EOF"],
        CLOEXEC,
    );
    old_app.deleted = true;
    let open_fds = vec![
        open_fd(
            771,
            3,
            "/etc/letsencrypt/.certbot.lock",
            root_key(1001),
            &["1: POSIX  ADVISORY  WRITE 771 fe:00:1001 0 EOF"],
            CLOEXEC,
        ),
        open_fd(
            818,
            3,
            "/etc/letsencrypt/.certbot.lock",
            root_key(1001),
            &[],
            CLOEXEC,
        ),
        open_fd(
            8075,
            5,
            "/srv/inherited.lock",
            root_key(1002),
            &["1: FLOCK  ADVISORY  WRITE 8074 fe:00:1002 0 EOF"],
            INHERITABLE,
        ),
        open_fd(
            7000,
            4,
            "/srv/db.sqlite",
            root_key(1003),
            &["1: OFDLCK ADVISORY  READ  -1 fe:00:1003 0 63"],
            CLOEXEC,
        ),
        old_app,
        open_fd(
            7300,
            3,
            "/srv/app.lock",
            root_key(1005),
            &["1: FLOCK  ADVISORY  WRITE 7300 fe:00:1005 0 EOF"],
            CLOEXEC,
        ),
        open_fd(
            7400,
            3,
            "/mnt/nfs/job.lock",
            nfs_key(2001),
            &["1: FLOCK  ADVISORY  WRITE 7400 00:32:2001 0 EOF"],
            CLOEXEC,
        ),
        open_fd(
            7500,
            5,
            "/srv/leased.dat",
            root_key(1006),
            &["1: LEASE  ACTIVE    READ  7500 fe:00:1006 0 EOF"],
            CLOEXEC,
        ),
        open_fd(
            7600,
            3,
            "/srv/tty.lock",
            root_key(1007),
            &["1: POSIX  ADVISORY  WRITE 7600 fe:00:1007 100 199"],
            CLOEXEC,
        ),
        open_fd(
            7700,
            3,
            "/srv/zombie.lock",
            root_key(1008),
            &["1: FLOCK  ADVISORY  WRITE 7700 fe:00:1008 0 EOF"],
            CLOEXEC,
        ),
        open_fd(
            7800,
            3,
            "/srv/dstate.lock",
            root_key(1009),
            &["1: FLOCK  ADVISORY  WRITE 7800 fe:00:1009 0 EOF"],
            CLOEXEC,
        ),
        open_fd(1500, 7, "/run/user.lock", run_key(3005), &[], CLOEXEC),
    ];
    let mut snap = Snapshot {
        taken_at: NOW,
        host: "vm".into(),
        platform: Platform::Linux,
        boot_time: Some(NOW - 864_000),
        locks,
        mounts: linux_mounts(),
        own_mount_ids: [27, 30, 40].into_iter().collect(),
        open_fds,
        processes,
        users: [(0, "root".to_string()), (1000, "alice".to_string())]
            .into_iter()
            .collect(),
        process_names,
        ..Default::default()
    };
    snap.visibility = Visibility {
        processes_seen: 140,
        proc_locks_read: true,
        root: true,
        ..Default::default()
    };
    snap
}

fn host_files() -> Vec<Found> {
    vec![
        found("/etc/letsencrypt/.certbot.lock", root_key(1001)),
        found("/srv/inherited.lock", root_key(1002)),
        Found {
            content: None,
            ..found("/srv/db.sqlite", root_key(1003))
        },
        found("/srv/app.lock", root_key(1005)),
        found("/mnt/nfs/job.lock", nfs_key(2001)),
        Found {
            content: None,
            ..found("/srv/leased.dat", root_key(1006))
        },
        found("/srv/tty.lock", root_key(1007)),
        found("/srv/zombie.lock", root_key(1008)),
        found("/srv/dstate.lock", root_key(1009)),
        Found {
            content: Some(b"4191\n"),
            ..found("/run/nginx.pid", run_key(3001))
        },
        Found {
            content: Some(b"900\n"),
            age: 80_000,
            ..found("/run/sshd.pid", run_key(3002))
        },
        Found {
            content: Some(b"950\n"),
            age: 3_600,
            ..found("/run/reused.pid", run_key(3003))
        },
        Found {
            content: Some(b"hello\n"),
            ..found("/run/garbage.pid", run_key(3004))
        },
        Found {
            uid: 1000,
            ..found("/run/user.lock", run_key(3005))
        },
        Found {
            mode: 0o666,
            dir_mode: 0o1777,
            ..found("/tmp/ww.lock", root_key(1010))
        },
        Found {
            content: Some(b"DIRC\x00\x00\x00\x02"),
            ..found("/repo/.git/index.lock", root_key(1011))
        },
        found("/var/lib/dpkg/lock-frontend", root_key(1012)),
        Found {
            file_type: FileType::Symlink,
            content: None,
            symlink_target: Some("127.0.1.1:+4242"),
            siblings: &[".parentlock", "prefs.js"],
            ..found("/home/alice/.mozilla/firefox/p/lock", root_key(1013))
        },
        Found {
            content: Some(b"5555\n/var/lib/postgresql/16/main\n1779990000\n5432\n/var/run/postgresql\n*\n  5432001         0\nready   \n"),
            siblings: &["PG_VERSION"],
            ..found("/var/lib/postgresql/16/main/postmaster.pid", root_key(1014))
        },
        Found {
            content: Some(b"4242 buildhost"),
            age: 100_000,
            ..found("/repo/.git/gc.pid", root_key(1015))
        },
    ]
}

#[test]
fn host_report_is_unchanged() {
    let snap = host_snapshot();
    let probe = ProbeReport {
        method: ProbeMethod::Getlk,
        result: ProbeResult::Held,
        conflict: Some(ProbeConflict {
            kind: LockKind::Posix,
            mode: LockMode::Write,
            start: 0,
            end: None,
            pid: Some(771),
        }),
        note: None,
    };
    let report = report(
        &snap,
        &host_files(),
        &[
            "/etc", "/srv", "/mnt/nfs", "/run", "/tmp", "/repo", "/var/lib", "/home",
        ],
        vec![("/etc/letsencrypt/.certbot.lock", probe)],
        Some(3_600),
    );
    check("host", &report);
}

/// A non-root scan that could not read two processes' fds: a lock whose holder is
/// hidden, and leftovers that can no longer be called safe to delete.
#[test]
fn restricted_report_is_unchanged() {
    let mut snap = host_snapshot();
    snap.locks = parse_proc_locks("1: FLOCK  ADVISORY  WRITE 4000 fe:00:1001 0 EOF\n");
    snap.open_fds.clear();
    snap.processes.retain(|pid, _| [1, 1500].contains(pid));
    snap.visibility = Visibility {
        processes_seen: 90,
        processes_denied: 2,
        denied_pids: vec![1, 4000],
        proc_locks_read: true,
        root: false,
        ..Default::default()
    };
    let files = vec![
        found("/etc/letsencrypt/.certbot.lock", root_key(1001)),
        Found {
            content: Some(b"DIRC\x00\x00\x00\x02"),
            ..found("/repo/.git/index.lock", root_key(1011))
        },
        Found {
            content: Some(b"4191\n"),
            ..found("/run/nginx.pid", run_key(3001))
        },
    ];
    let report = report(&snap, &files, &["/etc", "/repo", "/run"], vec![], None);
    check("restricted", &report);
}

/// A whole-system scan (no roots) on Windows: a LockFileEx lock found by the probe,
/// with candidate holders from the handle table and the per-file API, one of them
/// through an inherited handle.
#[test]
fn windows_report_is_unchanged() {
    let key = FileKey {
        major: 0x1234,
        minor: 0,
        ino: 0x0005_0000_0000_0042,
    };
    let mut locks = ProcLocks::default();
    locks.lines.push(LockLine {
        ordinal: 1,
        depth: 0,
        kind: LockKind::LockFileEx,
        mandatory: false,
        lease_state: None,
        mode: LockMode::Write,
        pid: -1,
        key: Some(key),
        start: 0,
        end: None,
    });
    locks.blocker.push(None);
    let mut mounts = HashMap::new();
    mounts.insert(
        1,
        Mount {
            mount_id: 1,
            parent_id: 0,
            major: 0x1234,
            minor: 0,
            root: "\\".into(),
            mount_point: "C:\\".into(),
            mount_options: String::new(),
            fstype: "NTFS".into(),
            source: "\\\\?\\Volume{0000}\\".into(),
            super_options: String::new(),
            locality: Some(FsLocality::Local),
        },
    );
    let path = "C:\\app\\app.lock";
    let fd = |pid: i32, handle: i32, from: Option<i32>| OpenFd {
        pid,
        fd: handle,
        path: Some(PathBuf::from(path)),
        deleted: false,
        replaced: false,
        key: Some(key),
        mnt_id: Some(1),
        st_dev: None,
        flags: None,
        locks: vec![],
        open_file_id: None,
        inherited_from: from,
    };
    let mut processes = HashMap::new();
    for (pid, comm, ppid) in [
        (3000, "app.exe", 500),
        (3100, "child.exe", 3000),
        (3200, "svc.exe", 500),
    ] {
        processes.insert(
            pid,
            ProcessInfo {
                pid,
                command: comm.into(),
                cmdline: format!("C:\\app\\{comm}"),
                uid: None,
                user: Some("DESKTOP\\alice".into()),
                started_at: Some(NOW - 100),
                state: None,
                ppid: Some(ppid),
                exe: Some(PathBuf::from(format!("C:\\app\\{comm}"))),
                ..Default::default()
            },
        );
    }
    let mut snap = Snapshot {
        taken_at: NOW,
        host: "DESKTOP".into(),
        platform: Platform::Windows,
        boot_time: Some(NOW - 5_000),
        locks,
        mounts,
        open_fds: vec![fd(3000, 0x1a4, None), fd(3100, 0x1a4, Some(3000))],
        processes,
        process_names: [(500, "services.exe".to_string())].into_iter().collect(),
        open_by_pids: [(key, vec![3000, 3100, 3200])].into_iter().collect(),
        ..Default::default()
    };
    snap.visibility = Visibility {
        processes_seen: 60,
        root: false,
        handle_table_read: true,
        per_file_api: Some(PerFileApi::FileProcessIds),
        ..Default::default()
    };
    let walked = WalkResult {
        candidates: vec![Candidate {
            path: PathBuf::from(path),
            name_kind: Some(NameKind::Lockfile),
            stat: FileStat {
                file_type: FileType::Regular,
                size: 0,
                mode: None,
                uid: None,
                mtime: (NOW - 100) as i64,
                nlink: 1,
                ino: key.ino,
                mnt_id: Some(1),
                st_dev: (0x1234, 0),
            },
            key: Some(key),
            symlink_target: None,
            explicit: false,
            dir_mode: None,
            dir_uid: None,
            exam: Default::default(),
        }],
        errors: vec![],
        entries: 0,
    };
    let probe = ProbeReport {
        method: ProbeMethod::LockFileEx,
        result: ProbeResult::Held,
        conflict: Some(ProbeConflict {
            kind: LockKind::LockFileEx,
            mode: LockMode::Write,
            start: 0,
            end: None,
            pid: None,
        }),
        note: Some("candidates".into()),
    };
    // Not examined: this scenario is about correlating handles and the probe.
    let mut report = report_for(
        &snap,
        &[],
        walked,
        [(PathBuf::from(path), probe)].into_iter().collect(),
        &ScanOptions::default(),
    );
    report.stats.duration_ms = 3;
    check("windows", &report);
}
