//! Exit codes, pidfile verdicts and argument errors.

#![cfg(target_os = "linux")]

mod common;

use common::*;

#[test]
fn exit_code_is_0_when_nothing_is_wrong() {
    let d = tempdir();
    let root = canon(d.path());
    std::fs::write(root.join("me.pid"), format!("{}\n", std::process::id())).unwrap();
    let r = run(&[root.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

#[test]
fn exit_code_is_1_for_a_stale_pidfile() {
    let d = tempdir();
    let root = canon(d.path());
    let dead = dead_pid();
    std::fs::write(root.join("gone.pid"), format!("{dead}\n")).unwrap();
    let r = run(&["--json", root.to_str().unwrap()]);
    assert_eq!(r.code, 1);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let f = file(&doc, &root.join("gone.pid"), false);
    assert_eq!(f["pidfile"]["status"], "dead");
    assert_eq!(f["pidfile"]["pid"], dead);
    assert!(codes(f).contains(&"stale-pidfile".to_string()));
}

#[test]
fn missing_path_is_exit_2_with_one_line_on_stderr_and_no_panic() {
    let r = run(&["/nonexistent/lockscan/path"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/lockscan/path"));
    assert!(!r.stderr.contains("panicked"));
    assert!(r.stdout.is_empty());
}

#[test]
fn bad_arguments_are_exit_2_with_one_line_on_stderr() {
    for (args, says) in [
        (
            &["--format", "yaml"][..],
            "possible values: table, json, ndjson, prometheus",
        ),
        (&["--max-depth", "minus-one", "/tmp"][..], "--max-depth"),
        (&["--max-age", "5w"][..], "is not an age"),
        // u64's parser takes a leading `+`; an age does not.
        (&["--max-age", "+5"][..], "is not an age"),
        (&["--max-age", "+5m", "/tmp"][..], "is not an age"),
        (&["--max-age=-5"][..], "is not an age"),
        (&["--jsn"][..], "did you mean --json"),
        (&["explain"][..], "PATH"),
        (&["--generate", "complete-tcsh"][..], "complete-bash"),
    ] {
        let r = run(args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
        assert!(r.stderr.starts_with("lockscan: "), "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(says), "{args:?}: {}", r.stderr);
    }
    // --help and --version are not errors.
    for args in [
        &["--help"][..],
        &["--version"][..],
        &["explain", "--help"][..],
    ] {
        let r = run(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
        assert!(r.stderr.is_empty() && !r.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn generate_prints_completions_and_the_man_page() {
    for (kind, marker) in [
        ("complete-bash", "complete -F"),
        ("complete-zsh", "#compdef lockscan"),
        ("complete-fish", "complete -c lockscan"),
        ("complete-powershell", "Register-ArgumentCompleter"),
        ("man", ".TH lockscan"),
    ] {
        let r = run(&["--generate", kind]);
        assert_eq!(r.code, 0, "{kind}: {}", r.stderr);
        assert!(r.stdout.contains(marker), "{kind}: {}", r.stdout);
        // Every option is offered.
        for opt in ["--probe", "--max-age", "--ignore-pid", "--generate"] {
            let opt = if kind == "man" {
                opt.replace('-', "\\-")
            } else {
                opt.to_string()
            };
            let bare = opt.trim_start_matches(['-', '\\']);
            assert!(
                r.stdout.contains(&opt) || r.stdout.contains(bare),
                "{kind} lacks {opt}"
            );
        }
    }
    // The bash completion is a script bash accepts.
    let script = run(&["--generate", "complete-bash"]).stdout;
    let ok = std::process::Command::new("bash")
        .args(["-n", "-c", &script])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn garbage_pidfiles_are_invalid_never_running() {
    let d = tempdir();
    let root = canon(d.path());
    let cases: &[(&str, &[u8])] = &[
        ("empty.pid", b""),
        ("text.pid", b"hello\n"),
        ("negative.pid", b"-5\n"),
        ("zero.pid", b"0\n"),
        ("overflow.pid", b"99999999999999999999\n"),
        ("binary.pid", b"\x00\x01\x02\xff"),
        ("self-ish.pid", b"1x\n"),
    ];
    for (name, content) in cases {
        std::fs::write(root.join(name), content).unwrap();
    }
    std::fs::write(
        root.join("spaced.pid"),
        format!("  {}  \n", std::process::id()),
    )
    .unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    for (name, _) in cases {
        let f = file(&doc, &root.join(name), false);
        assert_eq!(f["pidfile"]["status"], "invalid", "{name}: {f:#}");
        assert!(f["pidfile"]["pid"].is_null());
        assert!(codes(f).contains(&"invalid-pidfile".to_string()), "{name}");
    }
    let f = file(&doc, &root.join("spaced.pid"), false);
    assert_eq!(f["pidfile"]["status"], "running");
    assert_eq!(f["pidfile"]["process"]["pid"], std::process::id());
}

#[test]
fn json_has_the_contract_fields() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("c.lock");
    let _h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let doc = scan_json(&[root.to_str().unwrap()]);
    for k in [
        "schema_version",
        "lockscan_version",
        "host",
        "platform",
        "roots",
        "files",
        "findings",
        "errors",
    ] {
        assert!(doc.get(k).is_some(), "missing top-level {k}");
    }
    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["platform"], "linux");
    let f = file(&doc, &p, false);
    for k in [
        "path",
        "kind",
        "device",
        "inode",
        "filesystem",
        "locks",
        "pidfile",
        "findings",
    ] {
        assert!(f.get(k).is_some(), "missing file field {k}");
    }
    for k in ["type", "remote", "mount_point", "source"] {
        assert!(f["filesystem"].get(k).is_some(), "missing filesystem.{k}");
    }
    let l = &f["locks"][0];
    for k in [
        "type",
        "mode",
        "start",
        "end",
        "holders",
        "waiters",
        "locker_pid",
    ] {
        assert!(l.get(k).is_some(), "missing lock field {k}");
    }
    for k in [
        "pid",
        "command",
        "cmdline",
        "uid",
        "user",
        "started_at",
        "state",
        "fd",
    ] {
        assert!(l["holders"][0].get(k).is_some(), "missing holder field {k}");
    }
    let dev = f["device"].as_str().unwrap();
    assert!(dev.split(':').all(|n| n.parse::<u32>().is_ok()), "{dev}");
}

#[test]
fn symlink_lock_with_a_dead_pid_is_dead_and_a_live_one_running() {
    let d = tempdir();
    let root = canon(d.path());
    let dead_target = format!("127.0.1.1:+{}", dead_pid());
    std::os::unix::fs::symlink(&dead_target, root.join("lock")).unwrap();
    std::os::unix::fs::symlink(
        format!("127.0.1.1:+{}", std::process::id()),
        root.join(".parentlock-like.lock"),
    )
    .unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    let dead = file(&doc, &root.join("lock"), false);
    assert_eq!(dead["kind"], "symlink-lock");
    assert_eq!(dead["symlink_target"], dead_target.as_str());
    assert_eq!(dead["pidfile"]["status"], "dead");
    let live = file(&doc, &root.join(".parentlock-like.lock"), false);
    assert_eq!(live["pidfile"]["status"], "running");
}

#[test]
fn prometheus_and_ndjson_formats_describe_a_held_lock() {
    let d = tempdir();
    let root = canon(d.path());
    let p = root.join("m.lock");
    let _h = Holder::start(&[&format!("flock-ex:{}", p.display())]);
    let r = run(&["--format", "prometheus", root.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let want = format!(
        "lockscan_lock_held{{path=\"{}\",type=\"flock\",mode=\"write\"}} 1",
        p.display()
    );
    assert!(
        r.stdout.lines().any(|l| l == want),
        "{want} not in\n{}",
        r.stdout
    );
    assert!(r.stdout.contains("# TYPE lockscan_up gauge"));
    let r = run(&["--format", "ndjson", root.to_str().unwrap()]);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["record"], "scan");
    let f = lines.iter().find(|l| l["record"] == "file").unwrap();
    assert_eq!(f["path"], p.to_str().unwrap());
    assert_eq!(f["locks"][0]["holders"][0]["pid"], _h.pid);
}

/// 4194304..=2147483647 fit in a pid_t but no Linux process can have them (pids stay
/// below pid_max, at most PID_MAX_LIMIT = 4194304), so the content is invalid, never
/// a pid that is merely dead (which made `stale-pidfile` advise removing a file whose
/// content is simply wrong).
#[test]
fn pids_above_the_largest_linux_pid_are_invalid_not_dead() {
    let d = tempdir();
    let root = canon(d.path());
    for n in ["4194304", "4194305", "2147483647"] {
        std::fs::write(root.join(format!("{n}.pid")), format!("{n}\n")).unwrap();
    }
    // The same numbers where the convention has its own format.
    std::fs::create_dir(root.join(".git")).unwrap();
    std::fs::write(root.join(".git/gc.pid"), "4194305 buildhost").unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    std::os::unix::fs::symlink(
        format!("{}-2147483647", host.trim()),
        root.join("SingletonLock"),
    )
    .unwrap();
    std::fs::write(root.join("4194303.pid"), "4194303\n").unwrap();
    let doc = scan_json(&[root.to_str().unwrap()]);
    for n in ["4194304", "4194305", "2147483647"] {
        let f = file(&doc, &root.join(format!("{n}.pid")), false);
        assert_eq!(f["pidfile"]["status"], "invalid", "{n}: {f:#}");
        assert!(f["pidfile"]["pid"].is_null(), "{n}: {f:#}");
        assert!(
            f["pidfile"]["reason"].as_str().unwrap().contains("4194303"),
            "{n}: {f:#}"
        );
        assert_eq!(codes(f), vec!["invalid-pidfile"], "{n}: {f:#}");
    }
    for name in [".git/gc.pid", "SingletonLock"] {
        let f = file(&doc, &root.join(name), false);
        assert_ne!(f["pidfile"]["status"], "dead", "{name}: {f:#}");
        assert!(
            !codes(f).contains(&"stale-pidfile".to_string()),
            "{name}: {f:#}"
        );
        assert_ne!(f["safe_to_delete"]["verdict"], "yes", "{name}: {f:#}");
    }
    // The largest pid is a pid (whether or not it runs here).
    let f = file(&doc, &root.join("4194303.pid"), false);
    assert_eq!(f["pidfile"]["pid"], 4194303, "{f:#}");
}

/// A path is whatever bytes its creator chose: an error quoting it on stderr (a
/// terminal, usually) must escape it like the table does, or `lockscan
/// $'/tmp/\e[2J...'` rewrites the operator's screen.
#[test]
fn escape_sequences_in_a_missing_path_are_escaped_on_stderr() {
    let d = tempdir();
    let root = canon(d.path());
    let hostile = format!("{}/\u{1b}[31mred\u{1b}]0;title\u{7}\nnext", root.display());
    for args in [vec![hostile.as_str()], vec!["explain", hostile.as_str()]] {
        let r = run(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            !r.stderr.chars().any(|c| c.is_control() && c != '\n'),
            "raw control characters on stderr: {:?}",
            r.stderr
        );
        assert_eq!(r.stderr.lines().count(), 1, "{:?}", r.stderr);
        assert!(
            r.stderr.contains("\\e[31mred\\e]0;title\\x07\\nnext"),
            "{:?}",
            r.stderr
        );
    }
}
