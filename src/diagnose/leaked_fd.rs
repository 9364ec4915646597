use super::{Context, Rule, Verdict, describe, describe_pid, parent_chain};
use crate::report::{FileReport, Severity};

pub static RULE: Rule = Rule {
    code: "leaked-fd",
    severity: Severity::Warning,
    explanation: "A lock is kept alive by an fd that some process inherited from the one that \
took the lock, after that locker exited or let go: typically a daemon or a child started by a \
script that opened its lock without O_CLOEXEC. The lock then lasts as long as the unrelated \
child, and the real program cannot start again. flock(1) running a command, where the flock \
process itself still holds the lock, is deliberate and not reported.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, ctx: &Context) -> Option<Verdict> {
    for lock in &file.locks {
        // Only locks owned by an open file description travel with an fd.
        if !matches!(lock.kind.as_str(), "flock" | "ofd" | "lease") {
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
        let chain = parent_chain(ctx.snap, first.pid);
        return Some(Verdict {
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
        });
    }
    None
}
