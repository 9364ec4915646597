use super::{Context, Rule, Verdict};
use crate::report::{FileReport, Severity};

pub static RULE: Rule = Rule {
    code: "invalid-pidfile",
    severity: Severity::Warning,
    explanation: "The pidfile does not contain a usable pid (empty, text, zero, negative, out of \
range, binary, or far too large). A program reading it cannot tell whether its owner runs; some \
refuse to start, others ignore it.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, _ctx: &Context) -> Option<Verdict> {
    let pf = file.pidfile.as_ref()?;
    if pf.status != "invalid" {
        return None;
    }
    let held = file.locks.iter().any(|l| !l.holders.is_empty());
    Some(Verdict {
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
    })
}
