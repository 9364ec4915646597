use super::{About, Context, Found, Rule};
use crate::model::{AdviceAction, FindingCode, Report, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::UnparsedLockLines,
    severity: Severity::Info,
    explanation: "Some lines of /proc/locks had a form lockscan does not know (a newer or patched \
kernel). They were skipped and are listed under visibility.proc_locks_skipped; everything else \
was reported. Please report the lines so the parser can learn them.",
    file: None,
    global: Some(check),
};

fn check(_report: &Report, ctx: &Context) -> Vec<(Found, About)> {
    let snap = ctx.snap;
    let n = snap.locks.skipped.len();
    if n == 0 {
        return Vec::new();
    }
    vec![(Found {
        message: format!("{n} line(s) of /proc/locks were not understood and were skipped"),
        hint: "See visibility.proc_locks_skipped in the JSON output; locks on those lines are missing from the report."
            .into(),
        action: AdviceAction::Investigate,
        severity: None,
    }, About::Scan)]
}
