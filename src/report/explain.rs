//! `lockscan explain PATH`: a short narrative an operator can act on, rendered from
//! the report alone.

use std::io::Write;

use super::Exporter;
use super::escape::{for_terminal, path_for_terminal};
use crate::diagnose::{UNIDENTIFIED_WAITER, with_article, with_article_capitalized};
use crate::model::time::human_duration;
use crate::model::{
    DeleteVerdict, FileReport, HolderEvidence, LockReport, LockState, PidVerdict, Platform,
    ProbeMethod, ProbeResult, ProcessRef, ProcessState, Report,
};

fn state_name(s: ProcessState) -> &'static str {
    match s {
        ProcessState::Running => "running",
        ProcessState::Sleeping => "sleeping",
        ProcessState::DiskSleep => "in uninterruptible sleep",
        ProcessState::Stopped | ProcessState::TracingStop => "STOPPED",
        ProcessState::Zombie => "a zombie",
        ProcessState::Idle => "idle",
        _ => "in an unknown state",
    }
}

fn who(p: &ProcessRef) -> String {
    let mut s = format!("pid {} ({})", p.pid, p.command.as_deref().unwrap_or("?"));
    if let Some(u) = &p.user {
        s.push_str(&format!(", user {u}"));
    }
    if let Some(a) = p.age_seconds {
        s.push_str(&format!(", running for {}", human_duration(a)));
    }
    if let Some(st) = p.state {
        s.push_str(&format!(", {}", state_name(st)));
    }
    s
}

fn lock_words(l: &LockReport) -> String {
    let mut range = match (l.start, l.end) {
        (0, None) => "the whole file".to_string(),
        (s, None) => format!("bytes {s} to the end"),
        (s, Some(e)) => format!("bytes {s}-{e}"),
    };
    if let Some(p) = super::ranges_preview(l) {
        range = format!("{range} in {p}");
    }
    match &l.role {
        Some(r) => format!(
            "{} {} lock on {range}: {} ({})",
            l.kind, l.mode, r.name, r.meaning
        ),
        None => format!("{} {} lock on {range}", l.kind, l.mode),
    }
}

/// Whether what is said about the file rests on evidence the scan could not
/// fully see (so the scan-wide findings about visibility bear on it).
fn rests_on_partial_evidence(file: &FileReport) -> bool {
    file.lock_state == LockState::Unknown
        || file.locks.iter().any(|l| l.holders_uncertain)
        || file
            .safe_to_delete
            .as_ref()
            .is_some_and(|s| s.verdict == DeleteVerdict::Unknown)
        || file
            .pidfile
            .as_ref()
            .is_some_and(|p| p.verdict == PidVerdict::Unknown)
}

/// The narrative lines for one file of `report`.
pub fn narrative(file: &FileReport, report: &Report) -> Vec<String> {
    let windows = report.platform == Platform::Windows;
    let mut out = Vec::new();
    // Escaped here so that a non-UTF-8 name shows its exact bytes (`\xNN`); the
    // rest of the line is static words, so escaping the line again changes nothing.
    let mut head = match &file.path {
        Some(p) => path_for_terminal(p, file.path_bytes.as_ref()).into_owned(),
        None => "(unknown path)".into(),
    };
    if file.deleted {
        head.push_str(" (deleted)");
    } else if file.replaced {
        head.push_str(" (replaced)");
    }
    match &file.convention {
        Some(c) => head.push_str(&format!(
            ": {} ({}, {})",
            file.kind, c.program, c.discipline
        )),
        None => head.push_str(&format!(": {}", file.kind)),
    }
    out.push(head);
    for l in &file.locks {
        for h in &l.holders {
            out.push(if l.holder_evidence.is_candidates() {
                format!(
                    "  Possibly held by {} — {} (it has the file open; Windows cannot say which \
handle owns a byte-range lock)",
                    who(h),
                    lock_words(l)
                )
            } else {
                format!("  Held by {} — {}", who(h), lock_words(l))
            });
            if let Some(fd) = h.fd {
                out.push(if windows {
                    format!(
                        "    has it open through handle {fd:#x}{}",
                        match (h.inherited_from, h.cloexec) {
                            (Some(p), _) => format!(" (inherited from pid {p})"),
                            (None, Some(false)) => " (inheritable: children get it)".into(),
                            _ => String::new(),
                        }
                    )
                } else {
                    format!(
                        "    through fd {fd}{}",
                        match h.cloexec {
                            Some(false) => " (not closed on exec: children inherit it)",
                            _ => "",
                        }
                    )
                });
            }
            if let Some(cmd) = &h.cmdline {
                out.push(format!("    command: {cmd}"));
            }
            let chain = crate::diagnose::parent_chain(h);
            if !chain.is_empty() {
                out.push(format!("    started by: {}", chain.join(" <- ")));
            }
            if let Some(u) = &h.unit {
                out.push(format!("    unit: {u}"));
            }
            if let Some(c) = &h.container {
                out.push(format!(
                    "    container: {c}{}",
                    h.ns_pid
                        .map(|p| format!(", where it is pid {p}"))
                        .unwrap_or_default()
                ));
            }
        }
        if l.holders.is_empty() && l.holder_evidence == HolderEvidence::Getlk {
            out.push(format!(
                "  {} is held by a process outside this pid namespace (F_OFD_GETLK sees it; \
no process here shows it)",
                with_article_capitalized(&lock_words(l))
            ));
        } else if l.holders.is_empty() {
            out.push(format!(
                "  {} is held, but no process shows it{}",
                with_article_capitalized(&lock_words(l)),
                if l.holders_uncertain {
                    " (some processes could not be inspected)"
                } else {
                    ""
                }
            ));
        }
        if let Some(pid) = l.locker_pid
            && !l.holders.iter().any(|h| h.pid == pid)
        {
            let unseen = report.visibility.denied_pids.contains(&pid);
            out.push(format!(
                "  It was taken by pid {pid}, which {}.",
                match l.locker_alive {
                    Some(true) if unseen || l.holders_uncertain => {
                        "still runs; whether it still holds it could not be seen (its open files \
                         are not readable here)"
                    }
                    Some(true) => "no longer holds it",
                    Some(false) => "has exited",
                    None => "could not be inspected",
                }
            ));
        }
        for w in &l.waiters {
            out.push(format!(
                "  Waiting: {}; wants {}",
                who(&w.process),
                with_article(&format!("{} lock", w.mode))
            ));
        }
        for w in &l.unidentified_waiters {
            out.push(format!(
                "  Waiting: {}; wants {} ({})",
                UNIDENTIFIED_WAITER,
                with_article(&format!("{} lock", w.mode)),
                w.reason
            ));
        }
    }
    let probed = file
        .probe
        .as_ref()
        .is_some_and(|p| p.method == ProbeMethod::LockFileEx && p.result != ProbeResult::Error);
    match file.lock_state {
        LockState::Held => {}
        LockState::Free => out.push("  No process holds a lock on it.".into()),
        LockState::Unknown if file.lock_state_reason.is_some() => out.push(format!(
            "  Whether it is locked is unknown: {}.",
            file.lock_state_reason.as_deref().unwrap_or_default()
        )),
        LockState::Unknown if windows => out.push(
            "  Windows keeps no lock table: whether a byte-range lock is held shows only with \
--probe acquire (a momentary LockFileEx)."
                .into(),
        ),
        LockState::Unknown => out.push(
            "  No lock on it is visible from here, but this view of its locks is incomplete \
(see the findings)."
                .into(),
        ),
    }
    for p in &file.open_by {
        out.push(if windows && !probed {
            format!("  Open by {}", who(p))
        } else {
            format!("  Open (without a lock) by {}", who(p))
        });
    }
    if let Some(pf) = &file.pidfile {
        let p = match pf.pid {
            Some(pid) => format!("  Pidfile names pid {pid}: {}", pf.status),
            None => format!("  Pidfile content: {}", pf.status),
        };
        out.push(match &pf.reason {
            Some(r) => format!("{p} ({r})"),
            None => p,
        });
    }
    if let Some(c) = &file.convention
        && let Some(msg) = &c.next_run_says
    {
        out.push(format!("  The next {} will say: \"{msg}\"", c.program));
    }
    out.push(format!("  What to do: {}", file.advice.text));
    if rests_on_partial_evidence(file) {
        for f in &report.findings {
            out.push(format!("  Seen only in part: {}", f.message));
        }
    }
    out
}

/// Every file's narrative, then what could not be examined.
pub struct Explain;

impl Exporter for Explain {
    fn write(&self, report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
        if report.files.is_empty() {
            writeln!(
                out,
                "Nothing to explain: no lockfile, pidfile or lock found."
            )?;
        }
        for (i, f) in report.files.iter().enumerate() {
            if i > 0 {
                writeln!(out)?;
            }
            for line in narrative(f, report) {
                writeln!(out, "{}", for_terminal(&line))?;
            }
        }
        for e in &report.errors {
            writeln!(
                out,
                "Not examined: {}: {}",
                path_for_terminal(&e.path, e.path_bytes.as_ref()),
                for_terminal(&e.error)
            )?;
        }
        Ok(())
    }
}
