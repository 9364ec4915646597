//! Trees built to break a scanner: names that are terminal escapes, line breaks,
//! bidi overrides or not UTF-8 at all, in every output format; and a tree deeper than
//! any path the kernel accepts in one piece.

#![cfg(target_os = "linux")]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::io::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Output of a run, as bytes: a lossy or failing UTF-8 decode must not hide what
/// lockscan really wrote.
struct RawRun {
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn run_raw(args: &[&OsStr]) -> RawRun {
    let mut child = Command::new(lockscan_bin())
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let read_all = |p: &mut dyn std::io::Read| {
        let mut v = Vec::new();
        let _ = p.read_to_end(&mut v);
        v
    };
    let out_t = std::thread::spawn(move || read_all(&mut out_pipe));
    let err_t = std::thread::spawn(move || read_all(&mut err_pipe));
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lockscan hung (killed after 60 s): {args:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let r = RawRun {
        code: status.code().unwrap_or(-1),
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    };
    let text = String::from_utf8_lossy(&r.stderr);
    assert!(!text.contains("panicked"), "lockscan panicked: {text}");
    r
}

/// Names meant to repaint the terminal, forge table rows, reorder text or be
/// undecodable. The two `inv` names differ only in an invalid byte.
fn hostile_names() -> Vec<Vec<u8>> {
    [
        &b"esc\x1b[2J\x1b]0;owned\x07.lock"[..],
        b"nl\nFAKE ROW.lock",
        b"cr\rFAKE CR.lock",
        b"bel\x07.lock",
        "bidi\u{202e}kcol.exe.lock".as_bytes(),
        "isolate\u{2067}x\u{2069}.lock".as_bytes(),
        b"inv\xff.lock",
        b"inv\xfe.lock",
        b"c1csi\xc2\x9b31m.lock",
        b"tab\tx.lock",
        b"del\x7f.lock",
        b"stale\x1b[31m\n.pid",
    ]
    .iter()
    .map(|n| n.to_vec())
    .collect()
}

fn hostile_tree() -> (tempfile::TempDir, PathBuf, Vec<PathBuf>) {
    let d = tempdir();
    let root = canon(d.path());
    let dead = dead_pid();
    let files: Vec<PathBuf> = hostile_names()
        .iter()
        .map(|n| {
            let p = root.join(OsStr::from_bytes(n));
            let body = if n.ends_with(b".pid") {
                format!("{dead}\n")
            } else {
                String::new()
            };
            std::fs::write(&p, body).unwrap();
            p
        })
        .collect();
    (d, root, files)
}

/// A character no text meant for a terminal may carry raw: C0 controls but the line
/// feed (tab and carriage return included), DEL, C1 controls, and the bidi
/// overrides, embeddings and isolates that reorder what is displayed.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n')
        || ('\u{202a}'..='\u{202e}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Text for people: UTF-8, no forbidden character, and no line forged by a name.
#[track_caller]
fn assert_terminal_safe(what: &str, bytes: &[u8]) {
    let text = std::str::from_utf8(bytes)
        .unwrap_or_else(|e| panic!("{what}: raw bytes that are not UTF-8 ({e}): {bytes:?}"));
    if let Some(c) = text.chars().find(|&c| forbidden(c)) {
        panic!("{what}: raw {c:?} in:\n{}", text.escape_debug());
    }
    assert!(
        !text.lines().any(|l| l.starts_with("FAKE")),
        "{what}: a file name forged a line:\n{text}"
    );
}

#[test]
fn hostile_names_are_escaped_in_table_and_explain_and_stderr() {
    let (_d, root, _files) = hostile_tree();
    let r = OsStr::new;
    let table = [r("--format"), r("table"), r("--color"), r("never")];
    let mut runs: Vec<Vec<&OsStr>> = vec![
        [&table[..], &[root.as_os_str()]].concat(),
        vec![r("explain"), root.as_os_str()],
    ];
    // Each hostile name given as the path itself.
    let paths: Vec<PathBuf> = hostile_names()
        .iter()
        .map(|n| root.join(OsStr::from_bytes(n)))
        .collect();
    for p in &paths {
        runs.push([&table[..], &[p.as_os_str()]].concat());
        runs.push(vec![r("explain"), p.as_os_str()]);
    }
    // One that does not exist: the error message quotes it on stderr.
    let missing = root.join(OsStr::from_bytes(b"missing\x1b[2J\x07\xff\x9b.pid"));
    runs.push([&table[..], &[missing.as_os_str()]].concat());
    runs.push(vec![r("explain"), missing.as_os_str()]);
    for args in runs {
        let out = run_raw(&args);
        let exists = !args.contains(&missing.as_os_str());
        assert!(
            out.code >= 0 && (!exists || out.code <= 1),
            "{args:?} exited {}",
            out.code
        );
        assert_terminal_safe(&format!("stdout of {args:?}"), &out.stdout);
        assert_terminal_safe(&format!("stderr of {args:?}"), &out.stderr);
    }
}

#[test]
fn hostile_names_keep_json_and_ndjson_valid_and_every_file_listed() {
    let (_d, root, files) = hostile_tree();
    let r = OsStr::new;
    let out = run_raw(&[r("--json"), root.as_os_str()]);
    assert_terminal_safe("stderr of --json", &out.stderr);
    assert!(out.code == 0 || out.code == 1, "exit {}", out.code);
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {:?}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(
        doc["files"].as_array().unwrap().len(),
        files.len(),
        "{doc:#}"
    );
    let stale = file(&doc, &root.join("stale\u{1b}[31m\n.pid"), false);
    assert_eq!(stale["pidfile"]["status"], "dead", "{stale:#}");

    let out = run_raw(&[r("--format"), r("ndjson"), root.as_os_str()]);
    assert_terminal_safe("stderr of ndjson", &out.stderr);
    assert!(out.code == 0 || out.code == 1, "exit {}", out.code);
    let text = std::str::from_utf8(&out.stdout).expect("NDJSON is UTF-8");
    let mut file_records = 0;
    for line in text.lines() {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("NDJSON line is not JSON ({e}): {line:?}"));
        if v["record"] == "file" {
            file_records += 1;
        }
    }
    assert_eq!(file_records, files.len(), "{text}");
}

/// One sample of the Prometheus text format: `name{label="value",...} number`,
/// where a label value escapes exactly `\\`, `\"` and `\n` (the format's rules).
type Sample = (String, Vec<(String, String)>, f64);

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    let ok_name = |s: &str, colon: bool| {
        let mut cs = s.chars();
        cs.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && cs.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    if !ok_name(name, true) {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest.find('=').ok_or("label without =")?;
            let key = &rest[..eq];
            if !ok_name(key, false) {
                return Err(format!("bad label name {key:?}"));
            }
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or("label value not quoted")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("unterminated label value".into()),
                    Some((i, '"')) => break i,
                    Some((_, '\\')) => match chars.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((_, c)) => value.push(c),
                }
            };
            labels.push((key.to_string(), value));
            rest = &rest[end + 1..];
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let number = value.split(' ').next().unwrap();
    let v = match number {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        n => n.parse().map_err(|e| format!("bad value {n:?}: {e}"))?,
    };
    Ok((name.to_string(), labels, v))
}

#[test]
fn hostile_names_are_one_prometheus_series_per_file() {
    let (_d, root, files) = hostile_tree();
    let r = OsStr::new;
    let out = run_raw(&[r("--format"), r("prometheus"), root.as_os_str()]);
    assert_terminal_safe("stderr of prometheus", &out.stderr);
    assert!(out.code == 0 || out.code == 1, "exit {}", out.code);
    let text = std::str::from_utf8(&out.stdout).expect("the exposition format is UTF-8");
    let mut series = std::collections::BTreeSet::new();
    let mut info_paths = Vec::new();
    for line in text.split('\n') {
        if line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (name, labels, value) =
            parse_sample(line).unwrap_or_else(|e| panic!("{e}: {line:?}\nin:\n{text}"));
        assert!(
            series.insert((name.clone(), labels.clone())),
            "series twice: {line:?}"
        );
        if name == "lockscan_file_info" {
            let path = labels.iter().find(|(k, _)| k == "path").unwrap().1.clone();
            assert_eq!(value, 1.0, "{line:?}: two files share one series");
            info_paths.push(path);
        }
    }
    assert_eq!(
        info_paths.len(),
        files.len(),
        "one lockscan_file_info series per file (the two `inv` names differ in an invalid byte): {info_paths:#?}"
    );
}

/// Makes `depth` nested directories `d` under `root`, each created relative to its
/// parent's fd (the whole path is far longer than PATH_MAX), and writes `name`
/// with `body` at the bottom. Returns the bottom file's full path.
fn deep_tree(root: &Path, depth: usize, name: &str, body: &str) -> PathBuf {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let mut dir: OwnedFd = rustix::fs::open(root, flags, Mode::empty()).unwrap();
    let mut path = root.to_path_buf();
    for _ in 0..depth {
        rustix::fs::mkdirat(&dir, "d", Mode::from_raw_mode(0o755)).unwrap();
        dir = rustix::fs::openat(&dir, "d", flags, Mode::empty()).unwrap();
        path.push("d");
    }
    let f = rustix::fs::openat(
        &dir,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .unwrap();
    rustix::io::write(&f, body.as_bytes()).unwrap();
    path.push(name);
    path
}

#[test]
fn stale_pidfile_5000_directories_deep_is_reported_with_its_whole_path() {
    let d = tempdir();
    let root = canon(d.path());
    let deep = deep_tree(&root, 5000, "deep.pid", &format!("{}\n", dead_pid()));
    assert!(
        deep.as_os_str().len() > 4096,
        "the path must exceed PATH_MAX"
    );
    let doc = scan_json(&[root.to_str().unwrap()]);
    let found = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == deep.to_str().unwrap());
    let Some(f) = found else {
        let paths: Vec<usize> = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap_or("").len())
            .collect();
        panic!(
            "the pidfile {} deep (path of {} bytes) is not reported; reported paths' lengths: \
             {paths:?}; errors: {:#}; findings: {:#}",
            5000,
            deep.as_os_str().len(),
            doc["errors"],
            doc["findings"]
        );
    };
    assert_eq!(f["pidfile"]["status"], "dead", "{f:#}");
    assert!(codes(f).contains(&"stale-pidfile".to_string()), "{f:#}");
}

/// Two chains 2,000 directories deep, so that both walker threads are deep at the
/// same time, under a limit of 200 open files: the walk's threads share one budget
/// of directory fds (each closing and reopening ancestors beyond its share), so
/// neither runs out of fds and both pidfiles at the bottoms are found.
#[test]
fn two_walker_threads_deep_at_once_stay_within_a_low_open_file_limit() {
    let d = tempdir();
    let root = canon(d.path());
    let mut deep = Vec::new();
    for side in ["left", "right"] {
        std::fs::create_dir(root.join(side)).unwrap();
        deep.push(deep_tree(
            &root.join(side),
            2000,
            "deep.pid",
            &format!("{}\n", dead_pid()),
        ));
    }
    let r = run_cmd(
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 200 && exec \"$0\" --json \"$1\"")
            .arg(lockscan_bin())
            .arg(&root),
    );
    assert_eq!(r.code, 1, "stale pidfiles expected: {}", r.stderr);
    let doc: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        doc["errors"].as_array().unwrap().len(),
        0,
        "{:#}",
        doc["errors"]
    );
    for path in &deep {
        let found = doc["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path.to_str().unwrap());
        let f = found.unwrap_or_else(|| panic!("{} not reported", path.display()));
        assert_eq!(f["pidfile"]["status"], "dead", "{f:#}");
    }
}
