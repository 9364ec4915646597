use super::{Context, Found, Rule, UNIDENTIFIED_WAITER, describe_pid};
use crate::model::time::human_duration;
use crate::model::{AdviceAction, FileReport, FindingCode, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::BlockedWaiters,
    severity: Severity::Info,
    explanation: "Processes are blocked waiting for this lock. That is normal while the holder \
works; it becomes a problem when the holder is stuck, stopped or runs far longer than expected.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, _ctx: &Context) -> Option<Found> {
    let waiters: Vec<_> = file.locks.iter().flat_map(|l| l.waiters.iter()).collect();
    // Waiters without a pid (an OFD waiter whose blocked call was not seen) still wait.
    let unidentified: usize = file
        .locks
        .iter()
        .map(|l| l.unidentified_waiters.len())
        .sum();
    if waiters.is_empty() && unidentified == 0 {
        return None;
    }
    let mut names: Vec<String> = waiters
        .iter()
        .map(|w| describe_pid(w.process.pid, w.process.command.as_deref()))
        .collect();
    match unidentified {
        0 => {}
        1 => names.push(UNIDENTIFIED_WAITER.to_string()),
        n => names.push(format!("{n} waiters lockscan could not identify")),
    }
    let oldest = waiters.iter().filter_map(|w| w.process.age_seconds).max();
    let holders: Vec<String> = file
        .locks
        .iter()
        .filter(|l| l.waiter_count() > 0)
        .flat_map(|l| l.holders.iter())
        .map(|h| describe_pid(h.pid, h.command.as_deref()))
        .collect();
    Some(Found {
        message: format!(
            "{} process(es) waiting: {}{}",
            waiters.len() + unidentified,
            names.join(", "),
            oldest
                .map(|a| format!(" (oldest started {} ago)", human_duration(a)))
                .unwrap_or_default()
        ),
        hint: if holders.is_empty() {
            "Wait for the holder to finish.".into()
        } else {
            format!(
                "Wait for {} to finish; if it is stuck, inspect it before ending it.",
                holders.join(", ")
            )
        },
        action: AdviceAction::Wait,
        severity: None,
    })
}
