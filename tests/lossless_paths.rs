//! Names that are not valid UTF-8 stay exact: two files whose names differ only in
//! such bytes are two files in every format, never merged into one.

#![cfg(target_os = "linux")]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn raw(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// A directory with two stale pidfiles `a\xff.pid` and `a\xfe.pid` (each naming a
/// dead pid, so each also gets a finding that names its path) and a FIFO
/// `b\xfd.lock` (reported as an error), plus one UTF-8 pidfile.
fn tree() -> (tempfile::TempDir, PathBuf, [PathBuf; 3], PathBuf) {
    let d = tempdir();
    let root = canon(d.path());
    let pid = dead_pid().to_string();
    let ff = root.join(OsStr::from_bytes(b"a\xff.pid"));
    let fe = root.join(OsStr::from_bytes(b"a\xfe.pid"));
    let plain = root.join("plain.pid");
    for p in [&ff, &fe, &plain] {
        std::fs::write(p, &pid).unwrap();
    }
    let fifo = root.join(OsStr::from_bytes(b"b\xfd.lock"));
    let c = std::ffi::CString::new(raw(&fifo)).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    (d, root, [ff, fe, plain], fifo)
}

fn files_named(doc: &Value, lossy: &str) -> Vec<Value> {
    doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"] == lossy)
        .cloned()
        .collect()
}

#[test]
fn non_utf8_names_are_two_files_with_exact_path_bytes_in_json() {
    let (_d, root, [ff, fe, plain], fifo) = tree();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let lossy = ff.to_string_lossy().into_owned();
    assert_eq!(lossy, fe.to_string_lossy(), "the two names read the same");
    let two = files_named(&doc, &lossy);
    assert_eq!(two.len(), 2, "{doc:#}");
    let mut bytes: Vec<&str> = two
        .iter()
        .map(|f| f["path_bytes"].as_str().expect("path_bytes"))
        .collect();
    bytes.sort_unstable();
    let mut want = [hex(raw(&fe)), hex(raw(&ff))];
    want.sort_unstable();
    assert_eq!(bytes, want);
    // Each file's findings name it exactly too.
    for f in &two {
        let findings = f["findings"].as_array().unwrap();
        assert!(!findings.is_empty(), "{f:#}");
        for finding in findings {
            assert_eq!(finding["path"], lossy);
            assert_eq!(finding["path_bytes"], f["path_bytes"], "{f:#}");
        }
    }
    // A UTF-8 path has no path_bytes, in the file or its findings.
    let p = file(&doc, &plain, false);
    assert!(p.get("path_bytes").is_none(), "{p:#}");
    assert!(
        p["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f.get("path_bytes").is_none())
    );
    // Errors keep the exact bytes of their path.
    let err = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == fifo.to_string_lossy().as_ref())
        .unwrap_or_else(|| panic!("no error for the FIFO: {doc:#}"));
    assert_eq!(err["path_bytes"], hex(raw(&fifo)));
}

#[test]
fn non_utf8_names_are_two_records_in_ndjson() {
    let (_d, root, [ff, fe, _], _) = tree();
    let r = run(&["--format", "ndjson", root.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let mut bytes: Vec<String> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["record"] == "file" && v["path"] == ff.to_string_lossy().as_ref())
        .map(|v| v["path_bytes"].as_str().unwrap().to_string())
        .collect();
    bytes.sort_unstable();
    let mut want = vec![hex(raw(&fe)), hex(raw(&ff))];
    want.sort_unstable();
    assert_eq!(bytes, want, "{}", r.stdout);
}

#[test]
fn non_utf8_names_are_two_prometheus_series() {
    let (_d, root, [ff, fe, plain], _) = tree();
    let r = run(&["--format", "prometheus", root.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let info: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("lockscan_file_info{"))
        .collect();
    for p in [&ff, &fe] {
        let label = format!("path_bytes=\"{}\"", hex(raw(p)));
        let series: Vec<_> = info.iter().filter(|l| l.contains(&label)).collect();
        assert_eq!(series.len(), 1, "{label} in {info:#?}");
        assert!(series[0].ends_with(" 1"), "{series:?}");
    }
    // A UTF-8 path's series carries no path_bytes label: its series are as before.
    let plain_series: Vec<_> = info
        .iter()
        .filter(|l| l.contains(&format!("path=\"{}\"", plain.display())))
        .collect();
    assert_eq!(plain_series.len(), 1, "{info:#?}");
    assert!(!plain_series[0].contains("path_bytes"), "{plain_series:?}");
    // The stale-pidfile finding of each is its own series too.
    let findings = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("lockscan_file_findings{") && l.contains("path_bytes="))
        .count();
    assert_eq!(findings, 2, "{}", r.stdout);
}

#[test]
fn non_utf8_names_show_their_bytes_escaped_in_the_table_and_explain() {
    let (_d, root, [ff, fe, _], fifo) = tree();
    let r = run(&["--color", "never", root.to_str().unwrap()]);
    assert!(r.code == 0 || r.code == 1, "{}", r.stderr);
    let dir = root.display();
    for name in ["a\\xff.pid", "a\\xfe.pid"] {
        let shown = format!("{dir}/{name}");
        assert!(r.stdout.contains(&shown), "{shown} not in {}", r.stdout);
    }
    assert!(
        r.stdout
            .contains(&format!("{dir}/b\\xfd.lock: not a regular file")),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains('\u{fffd}'), "{}", r.stdout);
    for (p, name) in [(&ff, "a\\xff.pid"), (&fe, "a\\xfe.pid")] {
        let e = run_cmd(
            std::process::Command::new(lockscan_bin())
                .arg("explain")
                .arg(p),
        );
        assert!(e.code == 0 || e.code == 1, "{}", e.stderr);
        let shown = format!("{dir}/{name}");
        assert!(
            e.stdout.starts_with(&shown),
            "{shown} not at the start of {}",
            e.stdout
        );
    }
    let _ = fifo;
}
