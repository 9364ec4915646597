//! The layers point one way: each module under `src/` names (through `crate::…`)
//! only the modules below it, and the lock primitives are a crate of their own that
//! depends on nothing of lockscan's.
//!
//! lock ← sys ← model ← scan ← diagnose ← report; `pipeline` puts scan and
//! diagnose together; `vocab` (the enum macro) is usable everywhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The modules each top-level module may name besides itself.
const ALLOWED: &[(&str, &[&str])] = &[
    ("vocab", &[]),
    ("sys", &["lock", "vocab"]),
    ("model", &["sys", "vocab"]),
    ("scan", &["lock", "sys", "model"]),
    ("diagnose", &["sys", "model"]),
    ("report", &["model", "diagnose"]),
    ("pipeline", &["sys", "model", "scan", "diagnose"]),
    ("exit_codes", &["model"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `X` of every `crate::X` in the text.
fn crate_refs(text: &str) -> BTreeSet<String> {
    text.match_indices("crate::")
        .filter(|(i, _)| !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

#[test]
fn every_module_names_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut checked = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" || top == "cli" {
            continue; // the crate root and the binary see everything
        }
        let allowed = ALLOWED
            .iter()
            .find(|(m, _)| *m == top)
            .unwrap_or_else(|| panic!("{}: module {top} has no place in ALLOWED", rel.display()))
            .1;
        let text = std::fs::read_to_string(&file).unwrap();
        for r in crate_refs(&text) {
            assert!(
                r == top || allowed.contains(&r.as_str()),
                "{} names crate::{r}, which is not below {top}",
                rel.display()
            );
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} files checked");
}

#[test]
fn the_lock_crate_depends_on_nothing_of_lockscan() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/lock");
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(!manifest.contains("lockscan ="), "{manifest}");
    let mut files = Vec::new();
    rust_files(&dir.join("src"), &mut files);
    assert!(!files.is_empty());
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(!text.contains("lockscan::"), "{}", f.display());
    }
}

#[test]
fn the_checker_sees_a_reference() {
    let refs = crate_refs("use crate::model::X; fn f() { crate::scan::go(); notcrate::y }");
    assert_eq!(refs.into_iter().collect::<Vec<_>>(), ["model", "scan"]);
}
