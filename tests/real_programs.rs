//! The real programs holding their real locks, scanned as an operator would:
//! certbot at its e-mail prompt, `git commit` waiting for its editor, nginx whose
//! master was killed while its workers live on, Vim with unsaved changes, SQLite in
//! rollback and WAL mode, flock(1), python-daemon and python's `lockfile`.
//!
//! `.ci/run` installs them: git, nginx-light, vim-tiny and sqlite3 from apt (none
//! is started as a service, and no test touches the system's own files), and
//! certbot, python-daemon and lockfile in a venv at `target/test-venv`
//! (`LOCKSCAN_TEST_VENV` overrides).

#![cfg(target_os = "linux")]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

fn venv() -> PathBuf {
    std::env::var_os("LOCKSCAN_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-venv"))
}

fn need_venv_tool(tool: &str) -> Result<PathBuf, Missing> {
    let p = venv().join("bin").join(tool);
    need(
        p.exists(),
        format!(
            "{} (a venv with certbot, python-daemon and lockfile)",
            p.display()
        ),
        ".ci/run creates it: python3 -m venv target/test-venv && target/test-venv/bin/pip install certbot python-daemon lockfile",
    )?;
    Ok(p)
}

/// A child process killed (with its process group) on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY: signals only; a negative pid names the child's process group.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
        let _ = self.0.wait();
    }
}

/// Starts `cmd` in its own process group.
fn start(cmd: &mut Command) -> Running {
    use std::os::unix::process::CommandExt;
    Running(
        cmd.process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e}")),
    )
}

/// Runs `shell` on a terminal of its own (`script` allocates a pty), with our end
/// of its input piped, in its own process group.
fn on_a_terminal(shell: &str, dir: &Path) -> Running {
    start(
        Command::new("script")
            .args(["-qfc", shell, "/dev/null"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    )
}

/// Scans until `ok` holds of the document (the program gets where the test wants
/// it), or fails after 30 s with the last document.
fn scan_until(args: &[&str], what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let doc = scan_json_vouched(args);
        if ok(&doc) {
            return doc;
        }
        assert!(Instant::now() < deadline, "never {what}: {doc:#}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn find<'a>(doc: &'a Value, path: &Path) -> Option<&'a Value> {
    let p = path.to_str()?;
    doc["files"]
        .as_array()?
        .iter()
        .find(|f| f["path"] == p && f["deleted"] == false)
}

fn pids_of(parent: u32) -> Vec<i32> {
    let out = Command::new("pgrep")
        .args(["-P", &parent.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

#[test]
fn certbot_at_its_prompt_holds_its_locks_and_waits_for_an_answer() {
    let certbot = require!(need_venv_tool("certbot"));
    require!(need_tool("script"));
    let d = tempdir();
    let root = canon(d.path());
    for sub in ["conf", "work", "logs"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    let shell = format!(
        "{} register --config-dir {r}/conf --work-dir {r}/work --logs-dir {r}/logs \
         --server http://127.0.0.1:9/directory",
        certbot.display(),
        r = root.display()
    );
    let _certbot = on_a_terminal(&shell, &root);
    let lock = root.join("conf/.certbot.lock");
    let doc = scan_until(&[root.to_str().unwrap()], "certbot at its prompt", |doc| {
        find(doc, &lock).is_some_and(|f| codes(f).contains(&"holder-waiting-input".to_string()))
    });
    let f = find(&doc, &lock).unwrap();
    assert_eq!(f["convention"]["name"], "certbot-dir-lock");
    assert_eq!(f["locks"][0]["holders"][0]["command"], "certbot", "{f:#}");
    assert_eq!(f["safe_to_delete"]["verdict"], "no");
    assert_eq!(f["advice"]["action"], "act-on-holder", "{f:#}");
    assert!(
        !f["advice"]["text"]
            .as_str()
            .unwrap()
            .contains("will release the lock when it finishes"),
        "{f:#}"
    );
    assert_eq!(
        f["convention"]["next_run_says"],
        "Another instance of Certbot is already running."
    );
    assert_one_voice(f);
}

#[test]
fn git_commit_waiting_for_its_editor_owns_index_lock_and_a_crash_leaves_it_stale() {
    require!(need_tool("git"));
    let d = tempdir();
    let root = canon(d.path());
    let repo = root.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t"])
            .args(args)
            .current_dir(&repo)
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::write(repo.join("f"), "1\n").unwrap();
    git(&["add", "f"]);
    git(&["commit", "-qm", "one"]);
    std::fs::write(repo.join("f"), "2\n").unwrap();
    let editor = root.join("wait-editor");
    std::fs::write(&editor, "#!/bin/sh\nexec sleep 300\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // `git commit -a` holds index.lock (closed) while the editor runs.
    let commit = start(
        Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qa"])
            .env("GIT_EDITOR", &editor)
            .current_dir(&repo)
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let lock = repo.join(".git/index.lock");
    let doc = scan_until(
        &[repo.to_str().unwrap()],
        "index.lock while git commit edits",
        |doc| find(doc, &lock).is_some(),
    );
    let f = find(&doc, &lock).unwrap();
    assert_eq!(f["convention"]["name"], "git-lockfile");
    assert_eq!(f["safe_to_delete"]["verdict"], "no", "{f:#}");
    let reason = f["safe_to_delete"]["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("pid {}", commit.0.id())),
        "{reason}"
    );
    assert_one_voice(f);
    // Killed, git leaves index.lock behind: a crash leftover, whatever other git
    // runs in another repository meanwhile.
    drop(commit);
    let other = root.join("other");
    std::fs::create_dir_all(&other).unwrap();
    Command::new("git")
        .args(["init", "-q"])
        .current_dir(&other)
        .status()
        .unwrap();
    let _elsewhere = start(
        Command::new("git")
            .args(["cat-file", "--batch"])
            .current_dir(&other)
            .stdin(Stdio::piped())
            .stdout(Stdio::null()),
    );
    assert!(lock.exists());
    let doc = scan_json_vouched(&[repo.to_str().unwrap()]);
    let f = find(&doc, &lock).unwrap();
    assert_eq!(f["safe_to_delete"]["verdict"], "yes", "{f:#}");
    assert!(codes(f).contains(&"stale-lockfile".to_string()), "{f:#}");
    assert_eq!(f["advice"]["action"], "remove");
}

#[test]
fn nginx_whose_master_was_killed_leaves_workers_and_no_safe_pidfile() {
    require!(need_tool("nginx"));
    let d = tempdir();
    let root = canon(d.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pidfile = root.join("nginx.pid");
    let conf = root.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 2;\npid {pid};\nerror_log {root}/error.log;\nevents {{}}\n\
             http {{ access_log off; client_body_temp_path {root}/body; \
             server {{ listen 127.0.0.1:{port}; }} }}\n",
            pid = pidfile.display(),
            root = root.display()
        ),
    )
    .unwrap();
    let ok = Command::new("nginx")
        .args(["-c", conf.to_str().unwrap(), "-p", root.to_str().unwrap()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "nginx did not start");
    let master: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    /// The test's nginx processes, killed however the test ends.
    struct Nginx(Vec<i32>);
    impl Drop for Nginx {
        fn drop(&mut self) {
            for p in &self.0 {
                // SAFETY: a signal to the test's own nginx processes.
                unsafe { libc::kill(*p, libc::SIGKILL) };
            }
        }
    }
    let mut nginx = Nginx(vec![master]);
    // The master writes its pidfile before it forks the workers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let workers = loop {
        let w = pids_of(master as u32);
        if w.len() == 2 || Instant::now() > deadline {
            break w;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(workers.len(), 2, "nginx workers: {workers:?}");
    nginx.0.extend(&workers);
    // SAFETY: the test's own nginx master.
    unsafe { libc::kill(master, libc::SIGKILL) };
    let doc = scan_until(&[root.to_str().unwrap()], "the master gone", |doc| {
        find(doc, &pidfile).is_some_and(|f| f["pidfile"]["status"] == "dead")
    });
    let f = find(&doc, &pidfile).unwrap();
    assert_eq!(f["convention"]["name"], "nginx-pid");
    assert_ne!(f["safe_to_delete"]["verdict"], "yes", "{f:#}");
    let reason = f["safe_to_delete"]["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("pid {}", workers[0])), "{reason}");
    assert_one_voice(f);
}

#[test]
fn vim_swap_file_with_unsaved_changes_is_kept_for_recovery() {
    require!(need_tool("script"));
    let vim = ["vim", "vim.tiny"]
        .into_iter()
        .find(|v| need_tool(v).is_ok());
    let vim =
        require!(vim.ok_or_else(|| Missing::new("vim or vim.tiny", ".ci/run installs vim-tiny")));
    let d = tempdir();
    let root = canon(d.path());
    let mut editor = on_a_terminal(&format!("{vim} -u NONE -N notes.txt"), &root);
    std::thread::sleep(Duration::from_millis(500));
    let stdin = editor.0.stdin.as_mut().unwrap();
    stdin.write_all(b"ihello, unsaved\x1b:preserve\r").unwrap();
    stdin.flush().unwrap();
    let swap = root.join(".notes.txt.swp");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !swap.exists() {
        assert!(Instant::now() < deadline, "vim wrote no swap file");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    // vim dies without saving: its swap file is all that holds the text.
    for p in pids_of(editor.0.id()) {
        // SAFETY: the test's own vim.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    let doc = scan_until(&[root.to_str().unwrap()], "vim gone", |doc| {
        find(doc, &swap).is_some_and(|f| f["pidfile"]["status"] == "dead")
    });
    let f = find(&doc, &swap).unwrap();
    assert_eq!(f["convention"]["name"], "vim-swapfile");
    assert_eq!(f["safe_to_delete"]["verdict"], "no", "{f:#}");
    assert!(
        f["safe_to_delete"]["reason"]
            .as_str()
            .unwrap()
            .contains("vim -r"),
        "{f:#}"
    );
    assert_eq!(f["advice"]["action"], "keep", "{f:#}");
    assert_one_voice(f);
}

/// A `sqlite3` shell reading statements from us, which it runs as they come.
fn sqlite(db: &Path, setup: &str) -> Running {
    let mut shell = start(
        Command::new("sqlite3")
            .arg(db)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    let stdin = shell.0.stdin.as_mut().unwrap();
    stdin.write_all(setup.as_bytes()).unwrap();
    stdin.flush().unwrap();
    shell
}

fn roles(f: &Value) -> Vec<(String, i64)> {
    let mut out: Vec<(String, i64)> = f["locks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| !l["role"].is_null())
        .map(|l| {
            (
                l["role"]["name"].as_str().unwrap().to_string(),
                l["holders"][0]["pid"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn sqlite_locks_are_named_by_role_in_rollback_and_wal_mode() {
    require!(need_tool("sqlite3"));
    let d = tempdir();
    let root = canon(d.path());
    // Rollback journal mode: a reader, then a writer.
    let db = root.join("app.db");
    Command::new("sqlite3")
        .arg(&db)
        .arg("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .status()
        .unwrap();
    let reader = sqlite(&db, "BEGIN; SELECT count(*) FROM t;\n");
    let doc = scan_until(&[root.to_str().unwrap()], "a reader", |doc| {
        find(doc, &db).is_some_and(|f| !roles(f).is_empty())
    });
    let f = find(&doc, &db).unwrap();
    assert_eq!(
        roles(f),
        [("SHARED".to_string(), i64::from(reader.0.id() as i32))]
    );
    // Readers alone lock nobody out: no "database is locked" for the next one.
    assert_eq!(f["convention"]["next_run_says"], Value::Null, "{f:#}");
    drop(reader);
    let writer = sqlite(&db, "BEGIN IMMEDIATE; INSERT INTO t VALUES (2);\n");
    let journal = root.join("app.db-journal");
    let doc = scan_until(&[root.to_str().unwrap()], "a writer", |doc| {
        find(doc, &db).is_some_and(|f| roles(f).iter().any(|(r, _)| r == "RESERVED"))
    });
    let f = find(&doc, &db).unwrap();
    let w = i64::from(writer.0.id() as i32);
    assert!(roles(f).contains(&("RESERVED".to_string(), w)), "{f:#}");
    assert_eq!(
        f["convention"]["next_run_says"],
        "database is locked (SQLITE_BUSY)"
    );
    if let Some(j) = find(&doc, &journal) {
        assert_eq!(j["convention"]["name"], "sqlite-rollback-journal", "{j:#}");
        assert!(!j["convention"]["program"].as_str().unwrap().contains("WAL"));
    }
    drop(writer);
    // WAL mode: the write lock and the live connection in -shm.
    let wal = root.join("wal.db");
    Command::new("sqlite3")
        .arg(&wal)
        .arg("PRAGMA journal_mode=WAL; CREATE TABLE t(x);")
        .stdout(Stdio::null())
        .status()
        .unwrap();
    let writer = sqlite(&wal, "BEGIN IMMEDIATE; INSERT INTO t VALUES (1);\n");
    let shm = root.join("wal.db-shm");
    let doc = scan_until(&[root.to_str().unwrap()], "a WAL writer", |doc| {
        find(doc, &shm).is_some_and(|f| roles(f).iter().any(|(r, _)| r == "WAL write"))
    });
    let f = find(&doc, &shm).unwrap();
    let w = i64::from(writer.0.id() as i32);
    let r = roles(f);
    assert!(r.contains(&("WAL write".to_string(), w)), "{r:?}");
    assert!(r.iter().any(|(n, _)| n == "WAL DMS"), "{r:?}");
    assert_eq!(f["safe_to_delete"]["verdict"], "no");
}

#[test]
fn flock_command_locks_are_recognised_and_waiters_point_at_the_real_holder() {
    require!(need_tool("flock"));
    let d = tempdir();
    let root = canon(d.path());
    let lock = root.join("job.lock");
    let wrapper = start(Command::new("flock").arg(&lock).args(["sleep", "300"]));
    let doc = scan_until(&[root.to_str().unwrap()], "flock holding", |doc| {
        find(doc, &lock).is_some_and(|f| !f["locks"].as_array().unwrap().is_empty())
    });
    let f = find(&doc, &lock).unwrap();
    assert_eq!(f["convention"]["name"], "util-linux-flock-cmd", "{f:#}");
    assert_eq!(f["safe_to_delete"]["verdict"], "no");
    // The wrapper dies; its child keeps the lock; a second job waits.
    let deadline = Instant::now() + Duration::from_secs(10);
    let child = loop {
        // flock(1) takes the lock, then forks its command.
        if let Some(c) = pids_of(wrapper.0.id()).first() {
            break *c;
        }
        assert!(Instant::now() < deadline, "flock started no command");
        std::thread::sleep(Duration::from_millis(50));
    };
    // SAFETY: the test's own flock process.
    unsafe { libc::kill(wrapper.0.id() as i32, libc::SIGKILL) };
    let waiter = start(Command::new("flock").arg(&lock).arg("true"));
    wait_blocked(waiter.0.id() as i32);
    let doc = scan_json_vouched(&[root.to_str().unwrap()]);
    let f = find(&doc, &lock).unwrap();
    let w = &f["locks"][0]["waiters"][0];
    assert_eq!(w["pid"], waiter.0.id(), "{f:#}");
    assert_eq!(w["blocked_by"], child, "{f:#}");
    assert_eq!(f["locks"][0]["locker_alive"], false, "{f:#}");
    // SAFETY: the test's own sleep.
    unsafe { libc::kill(child, libc::SIGKILL) };
}

#[test]
fn python_daemon_pidfile_and_lockfile_link_locks_of_dead_owners() {
    let python = require!(need_venv_tool("python3"));
    let d = tempdir();
    let root = canon(d.path());
    let pidfile = root.join("daemon.pid");
    let linked = root.join("data");
    let script = format!(
        "import time\n\
         from daemon.pidfile import TimeoutPIDLockFile\n\
         from lockfile.linklockfile import LinkLockFile\n\
         TimeoutPIDLockFile({p:?}).acquire()\n\
         LinkLockFile({l:?}).acquire()\n\
         print('ready', flush=True)\n\
         time.sleep(300)\n",
        p = pidfile.to_str().unwrap(),
        l = linked.to_str().unwrap()
    );
    let mut owner = start(
        Command::new(&python)
            .args(["-c", &script])
            .stdout(Stdio::piped()),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(owner.0.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "ready");
    let lock = root.join("data.lock");
    let doc = scan_json_vouched(&[root.to_str().unwrap()]);
    let alive = find(&doc, &lock).unwrap();
    assert_ne!(alive["safe_to_delete"]["verdict"], "yes", "{alive:#}");
    assert_eq!(find(&doc, &pidfile).unwrap()["pidfile"]["verdict"], "live");
    drop(owner);
    let doc = scan_json_vouched(&[root.to_str().unwrap()]);
    let dead = find(&doc, &lock).unwrap();
    assert_eq!(dead["pidfile"]["status"], "dead", "{dead:#}");
    assert_eq!(dead["safe_to_delete"]["verdict"], "yes", "{dead:#}");
    // A python-daemon pidfile has a path of the user's choosing, so it is known
    // only as a pidfile; its pid is dead and the evidence complete: a leftover, and
    // the advice and the verdict agree on it.
    let pf = find(&doc, &pidfile).unwrap();
    assert_eq!(pf["pidfile"]["status"], "dead", "{pf:#}");
    assert_eq!(pf["safe_to_delete"]["verdict"], "yes", "{pf:#}");
    assert_eq!(pf["advice"]["action"], "remove", "{pf:#}");
    for f in [dead, pf] {
        assert_one_voice(f);
    }
}
