use super::{Context, Found, Rule};
use crate::model::{AdviceAction, FileReport, FindingCode, PidStatus, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::StalePidfile,
    severity: Severity::Warning,
    explanation: "The pidfile names a process that is not running (or is a zombie). Whatever wrote \
it has exited without removing it, usually after a crash or a kill -9. Programs that trust the \
file may refuse to start, or may signal whatever process reuses the pid.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, _ctx: &Context) -> Option<Found> {
    let pf = file.pidfile.as_ref()?;
    if pf.status != PidStatus::Dead {
        return None;
    }
    // A kernel lock on the file means a live owner whatever the content says.
    if file.has_visible_holder() {
        return None;
    }
    let pid = pf.pid?;
    let zombie = pf.process.is_some();
    Some(Found {
        message: if zombie {
            format!("names pid {pid}, which has exited (zombie, not reaped by its parent)")
        } else {
            format!("names pid {pid}, which is not running")
        },
        hint:
            "No process holds it: remove the file (or let the program's own start-up replace it) \
and start the service again."
                .into(),
        action: AdviceAction::Remove,
    })
}
