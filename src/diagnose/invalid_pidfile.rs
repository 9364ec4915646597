use super::{Context, Found, Rule};
use crate::model::{AdviceAction, FileReport, FindingCode, PidStatus, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::InvalidPidfile,
    severity: Severity::Warning,
    explanation: "The pidfile does not contain a usable pid (empty, text, zero, negative, out of \
range, binary, or far too large). A program reading it cannot tell whether its owner runs; some \
refuse to start, others ignore it.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, _ctx: &Context) -> Option<Found> {
    let pf = file.pidfile.as_ref()?;
    if pf.status != PidStatus::Invalid {
        return None;
    }
    let held = file.has_visible_holder();
    Some(Found {
        message: format!(
            "does not contain a valid pid: {}",
            pf.reason.as_deref().unwrap_or("unparseable")
        ),
        hint: if held {
            "A process holds a lock on it: it may be writing it right now; check again before acting.".into()
        } else {
            "Nothing holds it: inspect the content, then remove the file or restart the program that owns it."
                .into()
        },
        action: if held {
            AdviceAction::Investigate
        } else {
            AdviceAction::Remove
        },
        severity: None,
    })
}
