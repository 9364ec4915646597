use super::{Context, Found, Rule};
use crate::model::{AdviceAction, FileReport, FindingCode, PidStatus, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::StalePidfile,
    severity: Severity::Warning,
    explanation: "The pidfile names a process that is not running (or is a zombie). Whatever wrote \
it has exited without removing it, usually after a crash or a kill -9. Programs that trust the \
file may refuse to start, or may signal whatever process reuses the pid (a warning); programs \
that check it themselves and go on (nginx, systemd, dockerd) make it only info. The advice to \
remove it comes only with a \"yes\" delete verdict: not while other processes of the program \
still run (orphaned workers holding its sockets), nor on partial evidence.",
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
            format!(
                "names pid {pid}, which has exited (zombie, not reaped by its parent){}",
                super::next_run_words(file)
            )
        } else {
            format!(
                "names pid {pid}, which is not running{}",
                super::next_run_words(file)
            )
        },
        hint:
            "No process holds it: remove the file (or let the program's own start-up replace it) \
and start the service again."
                .into(),
        action: AdviceAction::Remove,
        severity: super::leftover_severity(file),
    })
}
