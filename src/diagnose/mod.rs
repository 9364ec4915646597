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
mod unresponsive_mount;

use std::collections::HashMap;
use std::sync::Arc;

use crate::model::{
    Advice, AdviceAction, DeleteVerdict, FileReport, Finding, FindingCode, LockState, PathBytes,
    ProcessRef, Report, SafeToDelete, Severity, path_fields,
};
use crate::sys::Snapshot;

/// What a rule found: message, hint, and what the hint asks of the operator.
pub struct Found {
    pub message: String,
    pub hint: String,
    pub action: AdviceAction,
    /// This finding's severity when it differs from the rule's (a leftover that does
    /// not stop the program's next run is only `info`).
    pub severity: Option<Severity>,
}

/// Everything a rule may consult besides the report.
pub struct Context<'a> {
    pub snap: &'a Snapshot,
    /// `--max-age`: holders older than this many seconds are reported (`held-long`).
    pub max_age: Option<u64>,
}

/// What a scan-wide finding is about.
pub enum About {
    /// The scan as a whole.
    Scan,
    /// One of the report's files, by its index in `report.files`: the finding goes
    /// with it. An index, not a path: two files can share a path's text (non-UTF-8
    /// names, an unlinked inode and the file there now).
    File(usize),
    /// A path that is not one of the report's files (a mount point).
    Path(std::path::PathBuf),
}

/// A rule's findings about the scan as a whole, each with what it is about.
pub type GlobalCheck = fn(&Report, &Context) -> Vec<(Found, About)>;

/// A finding rule.
pub struct Rule {
    pub code: FindingCode,
    pub severity: Severity,
    /// A paragraph for `lockscan codes`.
    pub explanation: &'static str,
    /// Checks one file.
    pub file: Option<fn(&FileReport, &Context) -> Option<Found>>,
    /// Checks the scan as a whole; each finding may name the file it is about.
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
    &unresponsive_mount::RULE,
];

/// The rule for a code. Every code has exactly one (a test proves it).
pub fn rule(code: FindingCode) -> &'static Rule {
    RULES
        .iter()
        .copied()
        .find(|r| r.code == code)
        .unwrap_or_else(|| panic!("no rule for {code}"))
}

fn finding(rule: &Rule, f: Found, path: Option<(String, Option<PathBytes>)>) -> Finding {
    let (path, path_bytes) = path.unzip();
    Finding {
        code: rule.code,
        severity: f.severity.unwrap_or(rule.severity),
        message: f.message,
        hint: f.hint,
        path,
        path_bytes: path_bytes.flatten(),
        action: f.action,
    }
}

/// The path fields a finding about `file` names it by.
fn about(file: &FileReport) -> Option<(String, Option<PathBytes>)> {
    Some((file.path.clone()?, file.path_bytes.clone()))
}

/// Runs every rule over the report and attaches the findings.
pub fn diagnose(report: &mut Report, ctx: &Context) {
    for file in &mut report.files {
        for rule in RULES {
            if let Some(v) = rule.file.and_then(|check| check(file, ctx)) {
                let f = finding(rule, v, about(file));
                file.findings.push(f);
            }
        }
    }
    let mut global = Vec::new();
    for rule in RULES {
        let Some(check) = rule.global else { continue };
        for (v, at) in check(report, ctx) {
            // A finding about one file goes with that file.
            match at {
                About::File(i) if i < report.files.len() => {
                    let file = &mut report.files[i];
                    let f = finding(rule, v, about(file));
                    file.findings.push(f);
                }
                About::Path(p) => global.push(finding(rule, v, Some(path_fields(&p)))),
                About::File(_) | About::Scan => global.push(finding(rule, v, None)),
            }
        }
    }
    report.findings.extend(global);
    let mut texts = AdviceTexts::default();
    for file in &mut report.files {
        if !file.findings.is_empty() {
            let verdict = file.safe_to_delete.clone();
            for f in &mut file.findings {
                one_voice(f, verdict.as_ref());
            }
        }
        file.advice = advice(file, &mut texts);
    }
}

/// Advice texts already written, so that files with the same advice share one copy:
/// a scan can find a million leftovers with the same delete verdict and reason.
#[derive(Default)]
struct AdviceTexts(HashMap<(DeleteVerdict, Arc<str>), Arc<str>>);

impl AdviceTexts {
    /// The advice text for a delete verdict with this reason.
    fn for_verdict(&mut self, s: &SafeToDelete) -> Arc<str> {
        if let Some(t) = self.0.get(&(s.verdict, s.reason.clone())) {
            return t.clone();
        }
        let text: Arc<str> = match s.verdict {
            DeleteVerdict::No => format!("do not delete it: {}.", s.reason),
            DeleteVerdict::Yes => {
                format!("nothing to wait for; it is safe to remove ({}).", s.reason)
            }
            DeleteVerdict::Unknown => {
                format!("leave it in place until this is settled: {}.", s.reason)
            }
        }
        .into();
        self.0.insert((s.verdict, s.reason.clone()), text.clone());
        text
    }
}

/// A finding whose hint says to remove the file speaks with the file's delete
/// verdict: only a `yes` lets it say so; otherwise its hint and action become the
/// verdict's.
fn one_voice(f: &mut Finding, verdict: Option<&SafeToDelete>) {
    if f.action != AdviceAction::Remove {
        return;
    }
    match verdict {
        Some(v) if v.verdict == DeleteVerdict::Yes => {}
        Some(v) if v.verdict == DeleteVerdict::No => {
            f.action = AdviceAction::Keep;
            f.hint = format!("Do not delete it: {}.", v.reason);
        }
        Some(v) => {
            f.action = AdviceAction::Investigate;
            f.hint = format!("Leave it in place until this is settled: {}.", v.reason);
        }
        None => {
            f.action = AdviceAction::Investigate;
            f.hint = "No program convention says whether removing it is safe: find out which \
                      program uses it before touching it."
                .into();
        }
    }
}

/// The single most useful instruction for a file, decided once: the hint of its
/// worst finding at warning level or above; otherwise wait for a working holder;
/// otherwise what the delete verdict says.
fn advice(file: &FileReport, texts: &mut AdviceTexts) -> Advice {
    let worst = file
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .max_by_key(|f| f.severity);
    if let Some(f) = worst {
        return Advice {
            action: f.action,
            text: f.hint.as_str().into(),
        };
    }
    if let Some(h) = file.holders().next() {
        return Advice {
            action: AdviceAction::Wait,
            text: format!(
                "wait: pid {} ({}) is working and will release the lock when it finishes.",
                h.pid,
                h.command.as_deref().unwrap_or("?")
            )
            .into(),
        };
    }
    if let Some(s) = &file.safe_to_delete {
        return Advice {
            action: match s.verdict {
                DeleteVerdict::No => AdviceAction::Keep,
                DeleteVerdict::Yes => AdviceAction::Remove,
                DeleteVerdict::Unknown => AdviceAction::Investigate,
            },
            text: texts.for_verdict(s),
        };
    }
    // No verdict (a locked file that is no lockfile) and no holder in sight: the
    // lock state alone decides; "nothing holds it" only when nothing does.
    match file.lock_state {
        LockState::Free => Advice::default(),
        LockState::Held => Advice {
            action: AdviceAction::Wait,
            text: "wait: a process lockscan cannot see holds a lock on it (outside this pid \
                   namespace, or not inspectable); a scan as root from the host names it."
                .into(),
        },
        LockState::Unknown => Advice {
            action: AdviceAction::Investigate,
            text: "leave it alone until this is settled: whether it is locked could not be \
                   seen from here; a scan as root from the host tells."
                .into(),
        },
    }
}

/// The severity of a leftover: a warning when it stops the program's next run (or
/// the program is unknown), info when the program checks and replaces it itself.
pub(crate) fn leftover_severity(file: &FileReport) -> Option<Severity> {
    file.convention
        .as_ref()
        .filter(|c| !c.blocks_next_run)
        .map(|_| Severity::Info)
}

/// How a leftover affects the next run, for a message.
pub(crate) fn next_run_words(file: &FileReport) -> &'static str {
    match &file.convention {
        Some(c) if !c.blocks_next_run => {
            "; the program checks it and goes on, so it blocks nothing"
        }
        Some(c) if c.name.starts_with("generic-") => "",
        Some(_) => "; the program's next run stops at it until it is removed",
        None => "",
    }
}

/// "pid 4242 (nginx)" or "pid 4242".
pub(crate) fn describe_pid(pid: i32, command: Option<&str>) -> String {
    match command {
        Some(c) => format!("pid {pid} ({c})"),
        None => format!("pid {pid}"),
    }
}

/// How a waiter the kernel lists but lockscan could not name is shown in text
/// (`LockReport::unidentified_waiters`): never as a pid.
pub(crate) const UNIDENTIFIED_WAITER: &str = "a waiter lockscan could not identify";

/// `phrase` with the indefinite article its first word takes, by sound: "an ofd
/// write lock" (said O-F-D), "an unknown lock", "a flock lock", "a posix lock", "a
/// lease", "a write lock". Messages name lock kinds and modes from the vocabulary,
/// so the article cannot be written into the format string.
pub(crate) fn with_article(phrase: &str) -> String {
    format!("{} {phrase}", article(phrase))
}

/// [`with_article`] at the start of a sentence ("An ofd write lock ...").
pub(crate) fn with_article_capitalized(phrase: &str) -> String {
    let a = if article(phrase) == "an" { "An" } else { "A" };
    format!("{a} {phrase}")
}

fn article(phrase: &str) -> &'static str {
    let word = phrase
        .split(|c: char| !c.is_alphanumeric())
        .next()
        .unwrap_or("");
    let lower = word.to_ascii_lowercase();
    let spelled_out = word.len() > 1
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    let an = if spelled_out {
        // An initialism is said letter by letter: "an NFS lock", "an LMDB file".
        lower.starts_with(['a', 'e', 'f', 'h', 'i', 'l', 'm', 'n', 'o', 'r', 's', 'x'])
    } else {
        // "a unix ...", "a user ...": a 'u' said "you" takes "a".
        lower.starts_with(['a', 'e', 'i', 'o'])
            || (lower.starts_with('u')
                && !["uni", "use", "usu", "uti"]
                    .iter()
                    .any(|p| lower.starts_with(p)))
    };
    if an { "an" } else { "a" }
}

pub(crate) fn describe(p: &ProcessRef) -> String {
    describe_pid(p.pid, p.command.as_deref())
}

/// A process's parent chain (nearest first), as "pid N (cmd)".
pub(crate) fn parent_chain(p: &ProcessRef) -> Vec<String> {
    p.parents
        .iter()
        .map(|b| describe_pid(b.pid, b.command.as_deref()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Severity;
    use crate::model::sample::sample_report;

    /// The regression: "A ofd write lock". Every lock kind and mode the vocabulary
    /// has gets the article it is said with.
    #[test]
    fn lock_kinds_and_modes_take_the_article_they_are_said_with() {
        use crate::sys::LockKind;
        let expected = |kind: LockKind| match kind {
            LockKind::Ofd | LockKind::Access | LockKind::Unknown => "an",
            LockKind::Flock
            | LockKind::Posix
            | LockKind::Lease
            | LockKind::Deleg
            | LockKind::LockFileEx => "a",
        };
        for kind in LockKind::ALL {
            let phrase = format!("{kind} write lock on the whole file");
            assert_eq!(
                with_article(&phrase),
                format!("{} {phrase}", expected(*kind)),
                "{kind}"
            );
        }
        assert_eq!(with_article("read lock"), "a read lock");
        assert_eq!(with_article("write lock"), "a write lock");
        assert_eq!(with_article("unlock"), "an unlock");
        assert_eq!(
            with_article_capitalized("ofd write lock"),
            "An ofd write lock"
        );
        assert_eq!(
            with_article_capitalized("posix read lock"),
            "A posix read lock"
        );
        assert_eq!(with_article("OFD lock"), "an OFD lock");
        assert_eq!(with_article("NFS mount"), "an NFS mount");
        assert_eq!(with_article("POSIX lock"), "a POSIX lock");
        assert_eq!(with_article("unix socket"), "a unix socket");
    }

    #[test]
    fn every_code_has_exactly_one_rule() {
        for code in FindingCode::ALL {
            assert_eq!(
                RULES.iter().filter(|r| r.code == *code).count(),
                1,
                "{code}"
            );
            assert_eq!(rule(*code).code, *code);
            assert!(!rule(*code).explanation.is_empty());
        }
        assert_eq!(RULES.len(), FindingCode::ALL.len());
        for r in RULES {
            assert!(
                r.file.is_some() != r.global.is_some(),
                "{}: one check",
                r.code
            );
        }
    }

    /// The advice is decided once, in this order: the worst finding at warning or
    /// above; a working holder; the delete verdict; nothing.
    #[test]
    fn advice_follows_findings_then_holders_then_the_verdict() {
        let report = sample_report();
        let (certbot, nginx) = (&report.files[0], &report.files[1]);
        // An info finding does not decide; the holder does.
        let a = advice(certbot, &mut Default::default());
        assert_eq!(a.action, AdviceAction::Wait);
        assert!(a.text.contains("pid 100 (certbot)"), "{}", a.text);
        // A warning decides, with the finding's own action and hint.
        let a = advice(nginx, &mut Default::default());
        assert_eq!(
            (a.action, &*a.text),
            (AdviceAction::Investigate, "stale-pidfile hint")
        );
        let mut plain = nginx.clone();
        plain.findings.clear();
        assert_eq!(advice(&plain, &mut Default::default()), Advice::default());
        // Regression: a lock held by a process this scan cannot see (a container's
        // view of a host lock) was advised "nothing holds it now; nothing to do".
        let mut hidden = plain.clone();
        hidden.safe_to_delete = None;
        for (state, action) in [
            (LockState::Held, AdviceAction::Wait),
            (LockState::Unknown, AdviceAction::Investigate),
        ] {
            hidden.lock_state = state;
            let a = advice(&hidden, &mut Default::default());
            assert_eq!(a.action, action, "{state}");
            assert!(!a.text.contains("nothing holds it"), "{}", a.text);
        }
        for (verdict, action) in [
            (DeleteVerdict::Yes, AdviceAction::Remove),
            (DeleteVerdict::No, AdviceAction::Keep),
            (DeleteVerdict::Unknown, AdviceAction::Investigate),
        ] {
            plain.safe_to_delete = Some(SafeToDelete {
                verdict,
                reason: "because".into(),
            });
            let a = advice(&plain, &mut Default::default());
            assert_eq!(a.action, action, "{verdict}");
            assert!(a.text.contains("because"));
        }
        // Among warnings and errors, the most severe wins.
        let mut both = nginx.clone();
        both.findings.push(Finding {
            severity: Severity::Error,
            hint: "the error's hint".into(),
            action: AdviceAction::ActOnHolder,
            ..nginx.findings[0].clone()
        });
        assert_eq!(
            advice(&both, &mut Default::default()).action,
            AdviceAction::ActOnHolder
        );
    }
}
