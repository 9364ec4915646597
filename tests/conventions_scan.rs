//! Catalog conventions on a real scan: verdicts, stale-lockfile and its near misses.

#![cfg(target_os = "linux")]

mod common;

use std::path::Path;

use common::*;
use serde_json::Value;

/// Scans with every currently uninspectable process vouched for (`--ignore-pid`), so
/// verdicts that need complete visibility can be reached in a sandbox whose init
/// refuses inspection even to root. Uninspectable processes that start between two
/// scans (other users' builds, when not run as root) are vouched for in turn, until a
/// scan sees everything; the returned scan always has complete visibility.
fn scan_vouched(root: &Path) -> Value {
    common::scan_json_vouched(&[root.to_str().unwrap()])
}

fn codes_of(doc: &Value, p: &Path) -> Vec<String> {
    codes(file(doc, p, false))
}

#[test]
fn certbot_leftover_is_stale_and_safe_to_remove_but_a_held_one_is_not() {
    let d = tempdir();
    let root = canon(d.path());
    let left = root.join("etc/letsencrypt/.certbot.lock");
    let held = root.join("var/lib/letsencrypt/.certbot.lock");
    std::fs::create_dir_all(left.parent().unwrap()).unwrap();
    std::fs::create_dir_all(held.parent().unwrap()).unwrap();
    std::fs::write(&left, "").unwrap();
    let h = Holder::start(&[&format!("posix-w:{}", held.display())]);
    let doc = scan_vouched(&root);
    let f = file(&doc, &left, false);
    assert_eq!(f["convention"]["name"], "certbot-dir-lock");
    assert_eq!(f["safe_to_delete"]["verdict"], "yes");
    assert!(codes_of(&doc, &left).contains(&"stale-lockfile".to_string()));
    let g = file(&doc, &held, false);
    assert_eq!(g["safe_to_delete"]["verdict"], "no");
    assert!(!codes_of(&doc, &held).contains(&"stale-lockfile".to_string()));
    // The explanation quotes certbot's own message and says to wait.
    let r = run(&["explain", held.to_str().unwrap()]);
    assert!(
        r.stdout
            .contains("Another instance of Certbot is already running."),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(&format!("Held by pid {}", h.pid)));
}

#[test]
fn stale_lockfile_is_never_claimed_on_partial_evidence() {
    require!(need_root());
    require!(need_tool("setpriv"));
    let d = tempdir();
    let root = canon(d.path());
    // An existence lock: whether some process has it open is the evidence.
    let left = root.join("repo/.git/index.lock");
    std::fs::create_dir_all(left.parent().unwrap()).unwrap();
    std::fs::write(&left, "").unwrap();
    // A kernel-lock file: the lock table is the evidence.
    let certbot = root.join("letsencrypt/.certbot.lock");
    std::fs::create_dir_all(certbot.parent().unwrap()).unwrap();
    std::fs::write(&certbot, "").unwrap();
    // With complete evidence both leftovers are stale and safe to delete...
    let doc = scan_vouched(&root);
    for p in [&left, &certbot] {
        let f = file(&doc, p, false);
        assert_eq!(f["safe_to_delete"]["verdict"], "yes", "{f:#}");
        assert!(codes(f).contains(&"stale-lockfile".to_string()), "{f:#}");
    }
    // ...but as nobody, root's processes (this test's, at least) cannot be inspected,
    // and any of them could have index.lock open: no "safe to delete".
    let doc = scan_json_as_nobody(&[root.to_str().unwrap()]);
    let me = i64::from(std::process::id());
    assert!(denied_pids(&doc).contains(&me), "{:#}", doc["visibility"]);
    let f = file(&doc, &left, false);
    assert_ne!(f["safe_to_delete"]["verdict"], "yes", "{f:#}");
    assert!(!codes(f).contains(&"stale-lockfile".to_string()), "{f:#}");
    assert_ne!(f["advice"]["action"], "remove", "{f:#}");
    // The lock table, though, is complete in the initial pid namespace whoever reads
    // it: it alone proves that nobody holds certbot's lock.
    let f = file(&doc, &certbot, false);
    assert_eq!(f["safe_to_delete"]["verdict"], "yes", "{f:#}");
}

#[test]
fn dpkg_frontend_lock_is_never_safe_to_delete_even_when_free() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("var/lib/dpkg/lock-frontend");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, "").unwrap();
    let doc = scan_vouched(&root);
    let f = file(&doc, &p, false);
    assert_eq!(f["convention"]["name"], "dpkg-lock-frontend");
    assert_eq!(f["convention"]["discipline"], "kernel-lock-kept");
    assert_eq!(f["safe_to_delete"]["verdict"], "no");
    assert!(
        f["safe_to_delete"]["reason"]
            .as_str()
            .unwrap()
            .contains("never releases")
    );
    assert!(!codes(f).contains(&"stale-lockfile".to_string()));
}

#[test]
fn pacman_lock_is_stale_unless_someone_has_it_open() {
    let d = tempdir();
    let root = canon(d.path());
    let (a, b) = (root.join("a/db.lck"), root.join("b/db.lck"));
    for p in [&a, &b] {
        std::fs::create_dir_all(p.parent().unwrap().join("local")).unwrap();
        std::fs::write(p, "").unwrap();
    }
    // Someone has b/db.lck open (no lock: pacman's lock is its existence).
    let mut opener = std::process::Command::new("sleep")
        .arg("100")
        .stdin(std::fs::File::open(&b).unwrap())
        .spawn()
        .unwrap();
    let doc = scan_vouched(&root);
    opener.kill().unwrap();
    opener.wait().unwrap();
    assert_eq!(file(&doc, &a, false)["convention"]["name"], "pacman-db-lck");
    assert!(
        codes_of(&doc, &a).contains(&"stale-lockfile".to_string()),
        "{doc:#}"
    );
    let fb = file(&doc, &b, false);
    assert_eq!(fb["safe_to_delete"]["verdict"], "no");
    assert_eq!(fb["open_by"][0]["command"], "sleep");
    assert!(!codes(fb).contains(&"stale-lockfile".to_string()));
}

#[test]
fn nginx_pidfile_naming_another_program_is_pid_reused() {
    let d = tempdir();
    let root = canon(d.path());
    let me = std::process::id();
    std::fs::write(root.join("nginx.pid"), format!("{me}\n")).unwrap();
    std::fs::write(root.join("myapp.pid"), format!("{me}\n")).unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let n = file(&doc, &root.join("nginx.pid"), false);
    assert_eq!(n["convention"]["name"], "nginx-pid");
    assert_eq!(n["pidfile"]["verdict"], "stale", "{n:#}");
    assert!(codes(n).contains(&"pid-reused".to_string()));
    // A generic pidfile has no program to compare with: live.
    let m = file(&doc, &root.join("myapp.pid"), false);
    assert_eq!(m["pidfile"]["verdict"], "live");
    assert!(!codes(m).contains(&"pid-reused".to_string()));
}

#[test]
fn gc_pid_from_another_host_is_unknown_not_stale() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("repo/.git/gc.pid");
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, format!("{} some-other-host", dead_pid())).unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let f = file(&doc, &p, false);
    assert_eq!(f["convention"]["name"], "git-gc-pid");
    assert_eq!(f["pidfile"]["status"], "unknown");
    assert_eq!(f["pidfile"]["verdict"], "unknown");
    assert!(!codes(f).contains(&"stale-pidfile".to_string()));
}

#[test]
fn abandoned_heartbeat_directory_is_stale() {
    let d = tempdir();
    let root = canon(d.path());
    let old = root.join("old/.yarn-single-instance.lock");
    std::fs::create_dir_all(&old).unwrap();
    let t = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::open(&old).unwrap().set_modified(t).unwrap();
    let doc = scan_vouched(&root);
    let f = file(&doc, &old, false);
    assert_eq!(f["kind"], "heartbeat-dir");
    assert_eq!(f["convention"]["discipline"], "heartbeat-dir");
    assert!(codes(f).contains(&"stale-lockfile".to_string()), "{f:#}");
}
