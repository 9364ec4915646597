use super::{Context, Found, Rule};
use crate::model::{AdviceAction, FileReport, FindingCode, PidStatus, PidVerdict, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::PidReused,
    severity: Severity::Warning,
    explanation: "The pidfile's pid belongs to a running process, but not to the one that wrote \
the file: the process started after the file was last written, or the file was written before \
the last boot. The kernel recycles pids; a tool that signals the pid from this file would hit an \
unrelated process. Verdicts are three-way: without clear evidence lockscan says nothing.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, _ctx: &Context) -> Option<Found> {
    let pf = file.pidfile.as_ref()?;
    if pf.status != PidStatus::Running || pf.verdict != PidVerdict::Stale {
        return None;
    }
    if file.has_visible_holder() {
        return None; // a held lock proves an owner, whatever the content says
    }
    Some(Found {
        message: format!(
            "names pid {}, which now belongs to another process: {}",
            pf.pid?,
            pf.reason.as_deref().unwrap_or("")
        ),
        hint: "Do not signal that pid. The program that wrote the file is gone: remove the file \
and restart the service."
            .into(),
        action: AdviceAction::Remove,
        severity: super::leftover_severity(file),
    })
}
