//! Findings: one rule per code, each with a stable code, a severity, a message and a hint.
//!
//! A rule looks at one file's report (or the scan as a whole) plus the snapshot and
//! says what is wrong. Rules never draw a conclusion from missing evidence: where
//! processes could not be inspected, `partial-visibility` says so instead.

mod blocked_waiters;
mod deleted_lockfile;
mod held_long;
mod holder_state;
mod invalid_pidfile;
mod leaked_fd;
mod partial_visibility;
mod permissions;
mod pid_reused;
mod remote_filesystem;
mod split_brain;
mod stale_lockfile;
mod stale_pidfile;
mod unparsed_lock_lines;

use crate::report::{FileReport, Finding, ProcessRef, Report, Severity};
use crate::sys::Snapshot;

/// What a rule found: message and hint.
pub struct Verdict {
    pub message: String,
    pub hint: String,
}

/// Everything a rule may consult besides the report.
pub struct Context<'a> {
    pub snap: &'a Snapshot,
    /// `--max-age`: holders older than this many seconds are reported (`held-long`).
    pub max_age: Option<u64>,
}

/// A rule's findings about the scan as a whole, each naming the file it concerns (if any).
pub type GlobalCheck = fn(&Report, &Context) -> Vec<(Verdict, Option<String>)>;

/// A finding rule.
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    /// A paragraph for `lockscan codes`.
    pub explanation: &'static str,
    /// Checks one file.
    pub file: Option<fn(&FileReport, &Context) -> Option<Verdict>>,
    /// Checks the scan as a whole; each verdict may name the file it is about.
    pub global: Option<GlobalCheck>,
}

/// Every rule, in the order findings are listed. Codes are stable.
pub static RULES: &[&Rule] = &[
    &stale_pidfile::RULE,
    &pid_reused::RULE,
    &invalid_pidfile::RULE,
    &stale_lockfile::RULE,
    &deleted_lockfile::RULE,
    &split_brain::RULE,
    &leaked_fd::RULE,
    &remote_filesystem::RULE,
    &permissions::WORLD_WRITABLE,
    &permissions::FOREIGN_OWNER,
    &holder_state::STOPPED,
    &holder_state::WAITING_INPUT,
    &holder_state::ZOMBIE,
    &holder_state::UNINTERRUPTIBLE,
    &held_long::RULE,
    &blocked_waiters::RULE,
    &partial_visibility::RULE,
    &unparsed_lock_lines::RULE,
];

/// The rule for a code, for `lockscan codes` and tests.
pub fn rule(code: &str) -> Option<&'static Rule> {
    RULES.iter().copied().find(|r| r.code == code)
}

fn finding(rule: &Rule, v: Verdict, path: Option<String>) -> Finding {
    Finding {
        code: rule.code.to_string(),
        severity: rule.severity.clone(),
        message: v.message,
        hint: v.hint,
        path,
    }
}

/// Runs every rule over the report and attaches the findings.
pub fn diagnose(report: &mut Report, ctx: &Context) {
    for file in &mut report.files {
        let found: Vec<Finding> = RULES
            .iter()
            .filter_map(|rule| {
                let v = (rule.file?)(file, ctx)?;
                Some(finding(rule, v, file.path.clone()))
            })
            .collect();
        file.findings.extend(found);
    }
    let mut global = Vec::new();
    for rule in RULES {
        let Some(check) = rule.global else { continue };
        for (v, path) in check(report, ctx) {
            let f = finding(rule, v, path.clone());
            // A finding about one file goes with that file.
            match path.and_then(|p| {
                report
                    .files
                    .iter_mut()
                    .find(|f| f.path.as_deref() == Some(p.as_str()))
            }) {
                Some(file) => file.findings.push(f),
                None => global.push(f),
            }
        }
    }
    report.findings.extend(global);
}

/// "pid 4242 (nginx)" or "pid 4242".
pub(crate) fn describe_pid(pid: i32, command: Option<&str>) -> String {
    match command {
        Some(c) => format!("pid {pid} ({c})"),
        None => format!("pid {pid}"),
    }
}

pub(crate) fn describe(p: &ProcessRef) -> String {
    describe_pid(p.pid, p.command.as_deref())
}

/// Every holder of every lock on the file.
pub(crate) fn holders(file: &FileReport) -> impl Iterator<Item = &ProcessRef> {
    file.locks.iter().flat_map(|l| l.holders.iter())
}

/// The chain of parents of `pid` (nearest first), up to pid 1, as "pid N (cmd)".
pub(crate) fn parent_chain(snap: &Snapshot, pid: i32) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = snap.process(pid).and_then(|p| p.ppid);
    while let Some(pp) = cur {
        if pp <= 0 || out.len() > 32 {
            break;
        }
        let p = snap.process(pp);
        let name = p
            .map(|p| p.command.as_str())
            .or_else(|| snap.process_names.get(&pp).map(String::as_str));
        out.push(describe_pid(pp, name));
        if pp == 1 {
            break;
        }
        cur = p.and_then(|p| p.ppid);
    }
    out
}
