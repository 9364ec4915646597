//! Walk limits, probes and filesystem classification.

#![cfg(target_os = "linux")]

mod common;

use common::*;

#[test]
fn max_depth_limits_how_far_below_a_root_the_walk_goes() {
    let d = tempdir();
    let root = canon(d.path());
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    let dead = dead_pid().to_string();
    std::fs::write(root.join("top.pid"), &dead).unwrap();
    std::fs::write(root.join("a/mid.pid"), &dead).unwrap();
    std::fs::write(root.join("a/b/deep.pid"), &dead).unwrap();
    let names = |doc: &serde_json::Value| -> Vec<String> {
        doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                f["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let r = root.to_str().unwrap();
    assert_eq!(names(&scan_json(&["--max-depth", "0", r])), vec!["top.pid"]);
    assert_eq!(
        names(&scan_json(&["--max-depth", "1", r])),
        vec!["mid.pid", "top.pid"]
    );
    assert_eq!(
        names(&scan_json(&[r])),
        vec!["deep.pid", "mid.pid", "top.pid"]
    );
}

#[test]
fn one_file_system_does_not_enter_other_mounts() {
    let d = tempdir();
    let root = canon(d.path());
    std::fs::create_dir(root.join("mnt")).unwrap();
    let dead = dead_pid().to_string();
    std::fs::write(root.join("here.pid"), &dead).unwrap();
    let mnt = require!(mount_tmpfs(&root.join("mnt")));
    std::fs::write(root.join("mnt/there.pid"), &dead).unwrap();
    let r = root.to_str().unwrap();
    let all = scan_json(&[r]);
    let one = scan_json(&["-x", r]);
    drop(mnt);
    assert_eq!(all["files"].as_array().unwrap().len(), 2);
    let one_files = one["files"].as_array().unwrap();
    assert_eq!(one_files.len(), 1, "{one:#}");
    assert!(one_files[0]["path"].as_str().unwrap().ends_with("here.pid"));
    let there = file(&all, &root.join("mnt/there.pid"), false);
    assert_eq!(there["filesystem"]["type"], "tmpfs");
    assert_eq!(there["filesystem"]["remote"], false);
}

#[test]
fn locked_files_found_through_the_lock_table_obey_max_depth_and_one_file_system() {
    // Regression: a locked file below --max-depth, or on another mount with -x,
    // came back through the lock table (its holder's path lies under the root).
    let d = tempdir();
    let root = canon(d.path());
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::create_dir(root.join("mnt")).unwrap();
    let mnt = require!(mount_tmpfs(&root.join("mnt")));
    let deep = root.join("a/b/deep.db");
    let other = root.join("mnt/other.db");
    let _h = Holder::start(&[
        &format!("flock-ex:{}", deep.display()),
        &format!("posix-w:{}", other.display()),
    ]);
    let r = root.to_str().unwrap();
    let paths = |doc: &serde_json::Value| -> Vec<String> {
        doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_string())
            .collect()
    };
    let all = paths(&scan_json(&[r]));
    assert!(all.contains(&deep.display().to_string()), "{all:?}");
    assert!(all.contains(&other.display().to_string()), "{all:?}");
    let shallow = paths(&scan_json(&["--max-depth", "1", r]));
    assert!(
        !shallow.contains(&deep.display().to_string()),
        "{shallow:?}"
    );
    let one = paths(&scan_json(&["-x", r]));
    assert!(!one.contains(&other.display().to_string()), "{one:?}");
    assert!(one.contains(&deep.display().to_string()), "{one:?}");
    drop(_h);
    drop(mnt);
}

#[test]
fn getlk_probe_reports_a_posix_conflict_with_its_pid_and_takes_nothing() {
    let d = tempdir();
    let root = canon(d.path());
    let held = root.join("held.lock");
    let free = root.join("free.lock");
    std::fs::write(&free, "").unwrap();
    let h = Holder::start(&[&format!("posix-w:{}:10:20", held.display())]);
    let doc = scan_json(&["--probe", "getlk", root.to_str().unwrap()]);
    let p = &file(&doc, &held, false)["probe"];
    assert_eq!(p["method"], "getlk");
    assert_eq!(p["result"], "held");
    assert_eq!(p["conflict"]["type"], "posix");
    assert_eq!(p["conflict"]["pid"], h.pid);
    assert_eq!(
        (
            p["conflict"]["start"].as_u64(),
            p["conflict"]["end"].as_u64()
        ),
        (Some(10), Some(29))
    );
    assert_eq!(file(&doc, &free, false)["probe"]["result"], "free");
    // Without --probe there is no probe field at all.
    let plain = scan_json(&[root.to_str().unwrap()]);
    assert!(file(&plain, &free, false).get("probe").is_none());
}

#[test]
fn acquire_probe_tells_shared_from_exclusive_flock_and_releases_at_once() {
    let d = tempdir();
    let root = canon(d.path());
    let ex = root.join("ex.lock");
    let sh = root.join("sh.lock");
    let _a = Holder::start(&[
        &format!("flock-ex:{}", ex.display()),
        &format!("flock-sh:{}", sh.display()),
    ]);
    let doc = scan_json(&["--probe", "acquire", root.to_str().unwrap()]);
    assert_eq!(file(&doc, &ex, false)["probe"]["result"], "held-exclusive");
    assert_eq!(file(&doc, &sh, false)["probe"]["result"], "held-shared");
    // The probe left nothing behind: the only flocks on these files are the holder's.
    let doc2 = scan_json(&[root.to_str().unwrap()]);
    for p in [&ex, &sh] {
        let locks = file(&doc2, p, false)["locks"].as_array().unwrap().clone();
        assert_eq!(locks.len(), 1);
        assert_eq!(holder_pids(&locks[0]), vec![_a.pid as i64]);
    }
}
