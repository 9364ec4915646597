//! The JSON Schema generated from the model is the contract: the checked-in copy
//! matches the model, and real output of every kind validates against it.

#![cfg(target_os = "linux")]

mod common;

use std::path::Path;

use common::*;
use lockscan::model::*;
use serde_json::{Value, json};

fn checked_in() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{e}"));
    serde_json::from_str(&text).unwrap()
}

/// A validator for the document (`None`) or for one definition (`NdjsonRecord`).
fn validator(def: Option<&str>) -> jsonschema::Validator {
    let mut schema = checked_in();
    if let Some(def) = def {
        let defs = schema["$defs"].clone();
        schema = json!({
            "$schema": schema["$schema"],
            "$defs": defs,
            "$ref": format!("#/$defs/{def}"),
        });
    }
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

fn assert_valid(v: &jsonschema::Validator, doc: &Value, what: &str) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not validate:\n{}",
        errors.join("\n")
    );
}

#[test]
fn checked_in_schema_is_the_one_the_model_generates() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        text,
        lockscan::report::schema::text(),
        "docs/report.schema.json is out of date: run `cargo run -- --generate schema > docs/report.schema.json`"
    );
    let printed = run(&["--generate", "schema"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    assert_eq!(printed.stdout, text);
}

#[test]
fn every_enumeration_is_in_the_schema() {
    let schema = serde_json::to_string(&checked_in()).unwrap();
    let names = FindingCode::ALL
        .iter()
        .map(|v| v.as_str())
        .chain(LockKind::ALL.iter().map(|v| v.as_str()))
        .chain(DeleteVerdict::ALL.iter().map(|v| v.as_str()))
        .chain(Discipline::ALL.iter().map(|v| v.as_str()))
        .chain(ProbeResult::ALL.iter().map(|v| v.as_str()))
        .chain(ProcessState::ALL.iter().map(|v| v.as_str()))
        .chain(AdviceAction::ALL.iter().map(|v| v.as_str()))
        .chain(HolderEvidence::ALL.iter().map(|v| v.as_str()));
    for name in names {
        assert!(schema.contains(&format!("\"{name}\"")), "{name} missing");
    }
}

/// The validator is not a rubber stamp: an unknown field, a wrong enumeration value
/// or a malformed time is rejected.
#[test]
fn output_outside_the_contract_is_rejected() {
    let v = validator(None);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden/host.json");
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
    assert_valid(&v, &doc, "the golden host report");
    let mut extra = doc.clone();
    extra["files"][0]["locks"][0]["surprise"] = json!(1);
    assert!(!v.is_valid(&extra), "an unknown field passed");
    let mut wrong = doc.clone();
    wrong["files"][0]["locks"][0]["type"] = json!("FLOCK");
    assert!(!v.is_valid(&wrong), "an unknown lock type passed");
    let mut time = doc.clone();
    time["generated_at"] = json!("yesterday");
    assert!(!v.is_valid(&time), "a malformed time passed");
    let mut missing = doc;
    missing["files"][0]
        .as_object_mut()
        .unwrap()
        .remove("safe_to_delete");
    assert!(!v.is_valid(&missing), "a missing field passed");
}

#[test]
fn golden_reports_validate() {
    let v = validator(None);
    for name in ["host", "restricted", "windows"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/golden")
            .join(format!("{name}.json"));
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_valid(&v, &doc, name);
    }
}

/// Real locks of every kind under a directory, a waiter, a stale pidfile, a symlink
/// lock and a FIFO that is reported as not examined.
fn populated_dir() -> (tempfile::TempDir, Vec<Holder>) {
    let dir = tempdir();
    let root = canon(dir.path());
    let p = |n: &str| root.join(n).to_str().unwrap().to_string();
    let holder = Holder::start(&[
        &format!("flock-ex:{}", p("a.lock")),
        &format!("posix-w:{}:10:20", p("b.lock")),
        &format!("ofd-r:{}", p("c.db")),
        &format!("lease-r:{}", p("d.dat")),
    ]);
    let waiter = Holder::start(&[&format!("wait-flock-ex:{}", p("a.lock"))]);
    wait_blocked(waiter.pid);
    std::fs::write(root.join("gone.pid"), format!("{}\n", dead_pid())).unwrap();
    std::fs::write(root.join("junk.pid"), "not a pid\n").unwrap();
    std::os::unix::fs::symlink("127.0.1.1:+1", root.join("lock")).unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("x.pid"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    (dir, vec![holder, waiter])
}

#[test]
fn a_path_scan_validates() {
    let (dir, _holders) = populated_dir();
    let root = canon(dir.path());
    for probe in ["none", "getlk", "acquire"] {
        let doc = scan_json(&[root.to_str().unwrap(), "--probe", probe]);
        assert!(doc["files"].as_array().unwrap().len() >= 6, "{doc:#}");
        assert!(!doc["errors"].as_array().unwrap().is_empty(), "{doc:#}");
        assert_valid(
            &validator(None),
            &doc,
            &format!("path scan, --probe {probe}"),
        );
    }
}

#[test]
fn a_whole_system_scan_validates() {
    let (_dir, _holders) = populated_dir();
    let doc = scan_json(&[]);
    let locks: usize = doc["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["locks"].as_array().unwrap().len())
        .sum();
    assert!(locks >= 4, "{doc:#}");
    assert_valid(&validator(None), &doc, "whole-system scan");
}

/// Every NDJSON record type: a scan line, file lines, and global finding lines
/// (partial visibility, from a scan as nobody while root holds a lock).
#[test]
fn every_ndjson_record_validates() {
    require!(need_root());
    require!(need_tool("setpriv"));
    let (dir, _holders) = populated_dir();
    let root = canon(dir.path());
    let out = run_cmd(&mut lockscan_as_nobody(&[
        "--format",
        "ndjson",
        root.to_str().unwrap(),
    ]));
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    let v = validator(Some("NdjsonRecord"));
    let mut kinds = std::collections::BTreeSet::new();
    for line in out.stdout.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        kinds.insert(rec["record"].as_str().unwrap().to_string());
        assert_valid(&v, &rec, line);
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["file", "finding", "scan"],
        "{}",
        out.stdout
    );
    // A line of another record type, or a file line with an unknown field, fails.
    assert!(!v.is_valid(&json!({"record": "other"})));
    let first_file = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|r| r["record"] == "file")
        .unwrap();
    let mut extra = first_file;
    extra["surprise"] = json!(true);
    assert!(!v.is_valid(&extra));
}
