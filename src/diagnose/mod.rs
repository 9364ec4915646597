//! Findings: one rule per code, each with a stable code, a severity, a message and a hint.
//!
//! A rule looks at one file's report (or the scan as a whole) plus the snapshot and
//! says what is wrong. Rules never draw a conclusion from missing evidence: where
//! processes could not be inspected, `partial-visibility` says so instead.

mod blocked_waiters;
mod deleted_lockfile;
mod invalid_pidfile;
mod partial_visibility;
mod stale_pidfile;
mod unparsed_lock_lines;

use crate::report::{FileReport, Finding, Report, Severity};
use crate::sys::Snapshot;

/// What a rule found: message and hint.
pub struct Verdict {
    pub message: String,
    pub hint: String,
}

/// A finding rule.
pub struct Rule {
    pub code: &'static str,
    pub severity: Severity,
    /// A paragraph for `lockscan codes`.
    pub explanation: &'static str,
    /// Checks one file.
    pub file: Option<fn(&FileReport, &Snapshot) -> Option<Verdict>>,
    /// Checks the scan as a whole.
    pub global: Option<fn(&Report, &Snapshot) -> Option<Verdict>>,
}

/// Every rule, in the order findings are listed.
pub static RULES: &[&Rule] = &[
    &stale_pidfile::RULE,
    &invalid_pidfile::RULE,
    &deleted_lockfile::RULE,
    &blocked_waiters::RULE,
    &partial_visibility::RULE,
    &unparsed_lock_lines::RULE,
];

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
pub fn diagnose(report: &mut Report, snap: &Snapshot) {
    for file in &mut report.files {
        let found: Vec<Finding> = RULES
            .iter()
            .filter_map(|rule| {
                let v = (rule.file?)(file, snap)?;
                Some(finding(rule, v, file.path.clone()))
            })
            .collect();
        file.findings.extend(found);
    }
    let global: Vec<Finding> = RULES
        .iter()
        .filter_map(|rule| Some(finding(rule, (rule.global?)(report, snap)?, None)))
        .collect();
    report.findings.extend(global);
}

/// "pid 4242 (nginx)" or "pid 4242".
pub(crate) fn describe_pid(pid: i32, command: Option<&str>) -> String {
    match command {
        Some(c) => format!("pid {pid} ({c})"),
        None => format!("pid {pid}"),
    }
}
