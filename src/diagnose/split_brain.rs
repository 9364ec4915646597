use std::collections::BTreeMap;

use super::{Context, Found, Rule, describe};
use crate::model::{AdviceAction, FindingCode, Report, Severity};

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

fn check(report: &Report, _ctx: &Context) -> Vec<(Found, Option<String>)> {
    let mut by_path: BTreeMap<&str, Vec<&crate::model::FileReport>> = BTreeMap::new();
    for f in &report.files {
        if let Some(p) = f.path.as_deref()
            && f.has_visible_holder()
        {
            by_path.entry(p).or_default().push(f);
        }
    }
    let mut out = Vec::new();
    for (path, files) in by_path {
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
            Some(path.to_string()),
        ));
    }
    out
}
