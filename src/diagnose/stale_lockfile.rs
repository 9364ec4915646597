use super::{Context, Found, Rule};
use crate::model::{AdviceAction, DeleteVerdict, FileReport, FindingCode, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::StaleLockfile,
    severity: Severity::Warning,
    explanation: "An existence-style lockfile (its presence is the lock: git index.lock, pacman \
db.lck, a certbot .certbot.lock left by a crash, Terraform .lock.info, ...) that no process holds \
or has open. The program that made it is gone; the next run will refuse to start until it is \
removed, and removing it is safe. Kernel-lock files that are never deleted (dpkg lock-frontend, \
LevelDB LOCK, cargo .package-cache, ...) are never stale: deleting them would not release any \
lock and would break exclusion, and lockscan says so instead.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, _ctx: &Context) -> Option<Found> {
    let conv = file.convention.as_ref()?;
    let safe = file.safe_to_delete.as_ref()?;
    if !conv.discipline.leftover_when_unheld()
        || safe.verdict != DeleteVerdict::Yes
        || !file.locks.is_empty()
        || !file.open_by.is_empty()
    {
        return None;
    }
    Some(Found {
        message: format!(
            "{} lockfile left behind: no process holds it or has it open",
            conv.program
        ),
        hint: format!(
            "Safe to remove ({}): rm {}",
            safe.reason,
            shell_quote(file.path.as_deref()?)
        ),
        action: AdviceAction::Remove,
    })
}

/// Quotes a path for a shell command line shown to the operator.
pub(crate) fn shell_quote(p: &str) -> String {
    if p.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(&b))
    {
        p.to_string()
    } else {
        format!("'{}'", p.replace('\'', "'\\''"))
    }
}
