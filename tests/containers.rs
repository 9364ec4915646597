//! What lockscan can and cannot see from inside a container (its own pid namespace
//! and /proc) and with a restricted /proc (hidepid=), and that it never calls a lock
//! free or a file safe to delete on that evidence.

#![cfg(target_os = "linux")]

mod common;

use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;

fn run_json(cmd: &mut Command) -> Value {
    let out = run_cmd(cmd);
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
}

/// Nothing in the report tells the operator to remove anything.
fn assert_never_remove(doc: &Value) {
    for f in doc["files"].as_array().unwrap() {
        assert_ne!(f["safe_to_delete"]["verdict"], "yes", "{f:#}");
        assert_one_voice(f);
    }
}

/// Locks held on the host, scanned from inside `unshare -pf --mount-proc`: the
/// kernel leaves them out of that /proc/locks. POSIX and OFD locks are still found
/// (F_OFD_GETLK; OFD lines are never filtered), a flock lock cannot be, and no
/// file is called free or safe to delete.
#[test]
fn locks_held_outside_a_pid_namespace_are_never_called_free() {
    require!(need_root());
    require!(need_tool("unshare"));
    let d = tempdir();
    let root = canon(d.path());
    let p = |n: &str| root.join(n);
    std::fs::create_dir_all(p("le")).unwrap();
    std::fs::create_dir_all(p("fl")).unwrap();
    let _holder = Holder::start(&[
        &format!("posix-w:{}", p("le/.certbot.lock").display()),
        &format!("flock-ex:{}", p("fl/.certbot.lock").display()),
        &format!("ofd-w:{}", p("ofd.lock").display()),
        &format!("flock-ex:{}", p("plain.lock").display()),
    ]);
    let doc = run_json(
        Command::new("unshare")
            .args(["-pf", "--mount-proc", lockscan_bin(), "--json"])
            .arg(&root),
    );
    assert_eq!(
        doc["visibility"]["pid_namespace_filtered"], true,
        "{:#}",
        doc["visibility"]
    );
    let global: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert!(global.contains(&"partial-visibility"), "{global:?}");
    // POSIX: asked with F_OFD_GETLK, held by a process outside this namespace.
    let posix = file(&doc, &p("le/.certbot.lock"), false);
    assert_eq!(posix["lock_state"], "held", "{posix:#}");
    assert_eq!(posix["locks"][0]["type"], "posix", "{posix:#}");
    assert_eq!(posix["locks"][0]["holder_evidence"], "getlk", "{posix:#}");
    assert_eq!(posix["safe_to_delete"]["verdict"], "no", "{posix:#}");
    // OFD: in the table whatever the namespace.
    let ofd = file(&doc, &p("ofd.lock"), false);
    assert_eq!(ofd["lock_state"], "held", "{ofd:#}");
    assert_eq!(ofd["locks"][0]["type"], "ofd", "{ofd:#}");
    // flock: invisible from here, so unknown, never free.
    for f in [p("fl/.certbot.lock"), p("plain.lock")] {
        let f = file(&doc, &f, false);
        assert_eq!(f["lock_state"], "unknown", "{f:#}");
        assert!(f["locks"].as_array().unwrap().is_empty(), "{f:#}");
    }
    let certbot = file(&doc, &p("fl/.certbot.lock"), false);
    assert_eq!(
        certbot["safe_to_delete"]["verdict"], "unknown",
        "{certbot:#}"
    );
    assert_never_remove(&doc);
    // explain says so in words, and tells where to look.
    let out = run_cmd(
        Command::new("unshare")
            .args(["-pf", "--mount-proc", lockscan_bin(), "explain"])
            .arg(p("fl/.certbot.lock")),
    );
    assert!(out.stdout.contains("incomplete"), "{}", out.stdout);
    assert!(out.stdout.contains("child pid namespace"), "{}", out.stdout);
    assert!(!out.stdout.contains("rm "), "{}", out.stdout);
}

/// From the host, a holder inside a container is named with its pid in there.
#[test]
fn a_holder_in_a_pid_namespace_is_shown_with_its_pid_in_there() {
    require!(need_root());
    require!(need_tool("unshare"));
    let d = tempdir();
    let root = canon(d.path());
    let lock = root.join("job.lock");
    let mut child = Command::new("unshare")
        .args(["-pf", "--mount-proc", "python3"])
        .arg(holder_script())
        .arg(format!("flock-ex:{}", lock.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("ready"), "{line}");
    let doc = scan_json(&[root.to_str().unwrap()]);
    let _ = child.kill();
    let _ = child.wait();
    let f = file(&doc, &lock, false);
    let h = &f["locks"][0]["holders"][0];
    assert_eq!(h["command"], "python3", "{f:#}");
    assert_eq!(h["ns_pid"], 1, "{f:#}");
    assert_ne!(h["pid"], 1, "{f:#}");
    assert_eq!(doc["visibility"]["pid_namespace_filtered"], false);
}

/// A non-root scan under /proc mounted hidepid=invisible (here in a private mount
/// namespace): root's processes are invisible, so a file root has open is not a
/// leftover and root's running daemon is not dead.
#[test]
fn hidepid_hides_processes_but_never_makes_them_dead_or_files_free() {
    require!(need_root());
    require!(need_tool("unshare"));
    require!(need_tool("setpriv"));
    let d = tempdir();
    let root = canon(d.path());
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let git = root.join("repo/.git");
    std::fs::create_dir_all(&git).unwrap();
    let index = git.join("index.lock");
    std::fs::write(&index, "").unwrap();
    // root has index.lock open (as its stdin) and runs the daemon the pidfile names.
    let mut opener = Command::new("sleep")
        .arg("300")
        .stdin(std::fs::File::open(&index).unwrap())
        .spawn()
        .unwrap();
    let mut daemon = Command::new("sleep").arg("300").spawn().unwrap();
    let pidfile = root.join("daemon.pid");
    std::fs::write(&pidfile, format!("{}\n", daemon.id())).unwrap();
    for p in [root.join("repo"), git.clone()] {
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    let script = format!(
        "mount -t proc -o hidepid=invisible proc /proc && exec setpriv --reuid=nobody \
         --regid=nogroup --clear-groups {} --json {}",
        lockscan_bin(),
        root.display()
    );
    let doc = run_json(Command::new("unshare").args(["-m", "sh", "-c", &script]));
    for c in [&mut opener, &mut daemon] {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!(
        doc["visibility"]["proc_restricted"], "hidepid=invisible",
        "{:#}",
        doc["visibility"]
    );
    let partial = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "partial-visibility")
        .unwrap_or_else(|| panic!("{:#}", doc["findings"]));
    assert!(
        partial["message"].as_str().unwrap().contains("hidepid"),
        "{partial:#}"
    );
    let f = file(&doc, &index, false);
    assert_ne!(f["safe_to_delete"]["verdict"], "yes", "{f:#}");
    let pf = file(&doc, &pidfile, false);
    assert_eq!(pf["pidfile"]["status"], "running", "{pf:#}");
    assert_ne!(pf["pidfile"]["verdict"], "stale", "{pf:#}");
    assert_never_remove(&doc);
}

#[test]
fn the_checker_catches_a_remove() {
    let doc: Value = serde_json::from_str(
        r#"{"files":[{"safe_to_delete":{"verdict":"unknown"},"advice":{"action":"investigate","text":"just rm it"},"findings":[]}]}"#,
    )
    .unwrap();
    assert!(std::panic::catch_unwind(|| assert_never_remove(&doc)).is_err());
}
