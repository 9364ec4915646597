//! A flood of files with nothing to report (a million empty `*.lock` files dropped
//! into /tmp) must not bury the rows that matter in the table, and the table must
//! say what it left out and how to see it; JSON keeps every file.

#![cfg(target_os = "linux")]

mod common;

use common::*;

#[test]
fn a_flood_of_unremarkable_lockfiles_is_counted_not_listed_in_the_table() {
    let d = tempdir();
    let root = canon(d.path());
    let flood = root.join("flood");
    std::fs::create_dir(&flood).unwrap();
    for i in 0..150 {
        std::fs::write(flood.join(format!("f{i}.lock")), "").unwrap();
    }
    let stale = root.join("daemon.pid");
    std::fs::write(&stale, dead_pid().to_string()).unwrap();

    let r = run(&["--color", "never", root.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let out = &r.stdout;
    // The file that matters is a row; none of the flood is.
    assert!(out.contains(stale.to_str().unwrap()), "{out}");
    assert!(!out.contains("f17.lock"), "{out}");
    assert!(
        out.contains("150 file(s) with nothing to report"),
        "the table says how many it left out: {out}"
    );
    assert!(
        out.contains(&format!("150 in {}", flood.display())),
        "and where they are: {out}"
    );
    assert!(out.contains("--json"), "and how to see them: {out}");
    assert!(
        out.contains("151 file(s)"),
        "the summary counts every file: {out}"
    );

    // JSON (the contract) lists every file.
    let doc = scan_json(&[root.to_str().unwrap()]);
    assert_eq!(doc["files"].as_array().unwrap().len(), 151);
}

#[test]
fn a_few_unremarkable_lockfiles_are_still_listed_in_the_table() {
    let d = tempdir();
    let root = canon(d.path());
    for i in 0..3 {
        std::fs::write(root.join(format!("f{i}.lock")), "").unwrap();
    }
    let r = run(&["--color", "never", root.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    for i in 0..3 {
        assert!(r.stdout.contains(&format!("f{i}.lock")), "{}", r.stdout);
    }
    assert!(!r.stdout.contains("nothing to report"), "{}", r.stdout);
}
