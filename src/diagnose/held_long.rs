use super::{Context, Found, Rule, describe};
use crate::model::time::human_duration;
use crate::model::{AdviceAction, FileReport, FindingCode, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::HeldLong,
    severity: Severity::Warning,
    explanation: "A lock has been held longer than --max-age (off by default). The age is the \
holder's running time: the kernel does not record when a lock was taken, so a long-running daemon \
that took its lock at start counts from its start.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, ctx: &Context) -> Option<Found> {
    let max = ctx.max_age?;
    let (p, age) = file
        .holders()
        .filter_map(|h| h.age_seconds.map(|a| (h, a)))
        .filter(|(_, a)| *a > max)
        .max_by_key(|(_, a)| *a)?;
    Some(Found {
        message: format!(
            "held by {} for about {} (limit {})",
            describe(p),
            human_duration(age),
            human_duration(max)
        ),
        hint: format!(
            "Check whether {} is still making progress; if it is stuck, end it to release the lock.",
            describe(p)
        ),
        action: AdviceAction::ActOnHolder,
        severity: None,
    })
}
