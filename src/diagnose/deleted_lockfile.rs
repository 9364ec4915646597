use super::{Context, Found, Rule, describe_pid};
use crate::model::{AdviceAction, FileReport, FindingCode, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::DeletedLockfile,
    severity: Severity::Warning,
    explanation: "A lock is held on an inode that no longer has a name (it was unlinked while \
locked), or whose path now names a different file (it was replaced). The lock protects nothing: \
the next instance creates or opens a new file at the path and locks that, so two \"single\" \
instances can run at once. It usually comes from releasing a lock by unlinking the file, or from \
someone deleting a lockfile by hand.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, _ctx: &Context) -> Option<Found> {
    if !(file.deleted || file.replaced) || file.locks.is_empty() {
        return None;
    }
    let holders: Vec<String> = file
        .locks
        .iter()
        .flat_map(|l| l.holders.iter())
        .map(|h| describe_pid(h.pid, h.command.as_deref()))
        .collect();
    let who = if holders.is_empty() {
        "an unknown process".to_string()
    } else {
        holders.join(", ")
    };
    let what = if file.deleted {
        "was deleted while locked"
    } else {
        "was replaced by another file while locked"
    };
    Some(Found {
        message: format!("{what}; the lock held by {who} no longer protects the path"),
        hint: "Do not delete lockfiles by hand. Stop the holder cleanly (it is not excluding anyone), \
and make sure the program never unlinks its lockfile on release."
            .into(),
        action: AdviceAction::ActOnHolder,
        severity: None,
    })
}
