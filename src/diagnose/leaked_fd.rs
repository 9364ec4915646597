use super::{Context, Found, Rule, describe, describe_pid, parent_chain};
use crate::model::{AdviceAction, FileReport, FindingCode, ProcessRef, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::LeakedFd,
    severity: Severity::Warning,
    explanation: "A lock is kept alive by an fd that some process inherited from the one that \
took the lock, after that locker exited or let go: typically a daemon or a child started by a \
script that opened its lock without O_CLOEXEC. The lock then lasts as long as the unrelated \
child, and the real program cannot start again. flock(1) running a command, where the flock \
process itself still holds the lock, is deliberate and not reported. On Windows: a process has a \
lockfile open through an inheritable handle it got from its parent (proved by the parent holding \
the same handle value on the same file); the byte-range lock stays with the parent, but the \
handle keeps the file open (and, if it was opened without sharing, unopenable) for as long as the \
child lives.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, ctx: &Context) -> Option<Found> {
    if let Some(v) = inherited_handles(file, ctx) {
        return Some(v);
    }
    for lock in &file.locks {
        // Only locks owned by an open file description travel with an fd.
        if !lock.kind.owned_by_open_file() {
            continue;
        }
        let locker = lock.locker_pid;
        let locker_holds = locker.is_some_and(|l| lock.holders.iter().any(|h| h.pid == l));
        if locker_holds {
            continue; // the locker still has it: flock(1)-style hand-down, not a leak
        }
        let leaked: Vec<_> = lock
            .holders
            .iter()
            .filter(|h| Some(h.pid) != locker && h.cloexec == Some(false))
            .collect();
        let Some(first) = leaked.first() else {
            continue;
        };
        if locker.is_none() && lock.holders.len() < 2 {
            // OFD lock (no locker pid) with one holder: nothing shows it was inherited.
            continue;
        }
        let locker_text = match (locker, lock.locker_alive) {
            (Some(l), Some(true)) => format!(
                "{} took it and no longer holds it",
                describe_pid(l, ctx.snap.process(l).map(|p| p.command.as_str()))
            ),
            (Some(l), _) => format!("pid {l} took it and has exited"),
            (None, _) => "the process that took it is not among the holders".to_string(),
        };
        let chain = parent_chain(first);
        return Some(Found {
            message: format!(
                "{} keeps the {} lock alive through inherited fd {} (no O_CLOEXEC); {}{}",
                leaked
                    .iter()
                    .map(|h| describe(h))
                    .collect::<Vec<_>>()
                    .join(", "),
                lock.kind,
                first
                    .fd
                    .map(|f| f.to_string())
                    .unwrap_or_else(|| "?".into()),
                locker_text,
                if chain.is_empty() {
                    String::new()
                } else {
                    format!("; parent chain: {}", chain.join(" <- "))
                }
            ),
            hint: format!(
                "End or restart {} to release the lock, and make the program that locks open its \
lockfile with O_CLOEXEC (or close it before starting children).",
                describe(first)
            ),
            action: AdviceAction::ActOnHolder,
            severity: None,
        });
    }
    None
}

/// Windows: handles proved inherited from the parent that opened the lockfile.
fn inherited_handles(file: &FileReport, ctx: &Context) -> Option<Found> {
    let mut seen: Vec<&ProcessRef> = Vec::new();
    let all = file
        .locks
        .iter()
        .flat_map(|l| l.holders.iter())
        .chain(file.open_by.iter());
    for p in all {
        if p.inherited_from.is_some() && !seen.iter().any(|s| s.pid == p.pid) {
            seen.push(p);
        }
    }
    let first = *seen.first()?;
    let parent = first.inherited_from?;
    let parent_text = describe_pid(parent, ctx.snap.process(parent).map(|p| p.command.as_str()));
    let handle = first
        .fd
        .map(|h| format!("{h:#x}"))
        .unwrap_or_else(|| "?".into());
    Some(Found {
        message: format!(
            "{} {} the lockfile open through inheritable handle {handle}, inherited from {parent_text}, \
which opened it; the lock itself stays with the process that took it, but this handle keeps the \
file open (and unopenable, if it was opened without sharing) for as long as {} runs",
            seen.iter()
                .map(|p| describe(p))
                .collect::<Vec<_>>()
                .join(", "),
            if seen.len() > 1 { "have" } else { "has" },
            describe(first),
        ),
        hint: format!(
            "Open lockfiles with inheritance off (bInheritHandle = FALSE; O_NOINHERIT or the 'N' \
mode of the C runtime; Python's default), or start children without inheriting handles; ending \
{} closes the handle.",
            describe(first)
        ),
        action: AdviceAction::FixSetup,
        severity: None,
    })
}
