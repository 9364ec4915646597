use std::collections::BTreeMap;

use super::{About, Context, Found, Rule, describe};
use crate::model::{AdviceAction, FileReport, FindingCode, Report, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::SplitBrain,
    severity: Severity::Error,
    explanation: "The same path has two locked inodes: an old one (deleted or replaced while \
locked) and the file that is there now. Each holder believes it has the lock, so two \"single\" \
instances run at once. It follows from releasing a lock by unlinking the file (close-then-unlink \
races), or from someone deleting a held lockfile.",
    file: None,
    global: Some(check),
};

fn check(report: &Report, _ctx: &Context) -> Vec<(Found, About)> {
    // By the path's exact bytes: two files whose non-UTF-8 names read the same are
    // two paths, not one path with two inodes. Only held files are collected (a scan
    // may list a million unheld ones), each with its index for attaching the finding.
    let mut by_path: BTreeMap<&[u8], Vec<usize>> = BTreeMap::new();
    for (i, f) in report.files.iter().enumerate() {
        if let Some(p) = f.raw_path()
            && f.has_visible_holder()
        {
            by_path.entry(p).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for indexes in by_path.into_values() {
        // The finding goes with the first of them in report order.
        let first = indexes[0];
        let files: Vec<&FileReport> = indexes.iter().map(|&i| &report.files[i]).collect();
        let current: Vec<_> = files.iter().filter(|f| !f.deleted && !f.replaced).collect();
        let old: Vec<_> = files.iter().filter(|f| f.deleted || f.replaced).collect();
        if current.is_empty() || old.is_empty() {
            continue;
        }
        let now: Vec<String> = current
            .iter()
            .flat_map(|f| f.holders())
            .map(describe)
            .collect();
        let was: Vec<String> = old.iter().flat_map(|f| f.holders()).map(describe).collect();
        out.push((
            Found {
                message: format!(
                    "two instances hold \"the\" lock: {} on the current file, {} on the old (deleted or replaced) inode",
                    now.join(", "),
                    was.join(", ")
                ),
                hint: "Stop the holder of the old inode (it is no longer excluding anyone), check what \
both instances changed, and fix the program so it never unlinks its lockfile on release."
                    .into(),
                action: AdviceAction::ActOnHolder,
                severity: None,
            },
            About::File(first),
        ));
    }
    out
}
