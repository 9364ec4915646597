//! `lockscan explain PATH`: a short narrative an operator can act on.

use std::io::Write;

use super::escape::for_terminal;
use super::time::human_duration;
use super::{FileReport, LockReport, ProcessRef, Report, Severity};
use crate::sys::Snapshot;

fn state_name(s: &str) -> &'static str {
    match s {
        "R" => "running",
        "S" => "sleeping",
        "D" => "in uninterruptible sleep",
        "T" | "t" => "STOPPED",
        "Z" => "a zombie",
        "I" => "idle",
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
    if let Some(st) = &p.state {
        s.push_str(&format!(", {}", state_name(st)));
    }
    s
}

fn chain(snap: &Snapshot, pid: i32) -> Vec<String> {
    crate::diagnose::parent_chain(snap, pid)
}

fn lock_words(l: &LockReport) -> String {
    let range = match (l.start, l.end) {
        (0, None) => "the whole file".to_string(),
        (s, None) => format!("bytes {s} to the end"),
        (s, Some(e)) => format!("bytes {s}-{e}"),
    };
    format!("{} {} lock on {range}", l.kind, l.mode)
}

/// The narrative lines for one file.
pub fn narrative(file: &FileReport, snap: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    let mut head = file.path.clone().unwrap_or_else(|| "(unknown path)".into());
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
    let held: Vec<&LockReport> = file
        .locks
        .iter()
        .filter(|l| !l.holders.is_empty())
        .collect();
    for l in &file.locks {
        for h in &l.holders {
            out.push(if l.holder_evidence == "handle-table" {
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
                out.push(if snap.platform == "windows" {
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
            let c = chain(snap, h.pid);
            if !c.is_empty() {
                out.push(format!("    started by: {}", c.join(" <- ")));
            }
            if let Some(u) = &h.unit {
                out.push(format!("    unit: {u}"));
            }
        }
        if l.holders.is_empty() {
            out.push(format!(
                "  A {} is held, but no process shows it{}",
                lock_words(l),
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
            out.push(format!(
                "  It was taken by pid {pid}, which {}.",
                if l.locker_alive == Some(true) {
                    "no longer holds it"
                } else {
                    "has exited"
                }
            ));
        }
        for w in &l.waiters {
            out.push(format!(
                "  Waiting: {}; wants a {} lock",
                who(&w.process),
                w.mode
            ));
        }
    }
    let windows = snap.platform == "windows";
    let probed = file
        .probe
        .as_ref()
        .is_some_and(|p| p.method == "lockfileex" && p.result != "error");
    if windows && !probed && file.locks.is_empty() {
        out.push(
            "  Windows keeps no lock table: whether a byte-range lock is held shows only with \
--probe acquire (a momentary LockFileEx)."
                .into(),
        );
    } else if held.is_empty() && file.locks.is_empty() {
        out.push("  No process holds a lock on it.".into());
    }
    for p in &file.open_by {
        out.push(if windows && !probed {
            format!("  Open by {}", who(p))
        } else {
            format!("  Open (without a lock) by {}", who(p))
        });
    }
    if let Some(pf) = &file.pidfile {
        let p = match (pf.pid, pf.status.as_str()) {
            (Some(pid), s) => format!("  Pidfile names pid {pid}: {s}"),
            (None, s) => format!("  Pidfile content: {s}"),
        };
        out.push(match &pf.reason {
            Some(r) => format!("{p} ({r})"),
            None => p,
        });
    }
    if let Some(c) = &file.convention
        && let Some(msg) = &c.error_message
        && !held.is_empty()
    {
        out.push(format!("  The next {} will say: \"{msg}\"", c.program));
    }
    out.push(format!("  What to do: {}", advice(file)));
    out
}

/// The single most useful instruction for this file.
fn advice(file: &FileReport) -> String {
    let worst = file
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .max_by_key(|f| f.severity.clone());
    if let Some(f) = worst {
        return f.hint.clone();
    }
    if let Some(l) = file.locks.iter().find(|l| !l.holders.is_empty()) {
        let h = &l.holders[0];
        return format!(
            "wait: pid {} ({}) is working and will release the lock when it finishes.",
            h.pid,
            h.command.as_deref().unwrap_or("?")
        );
    }
    if let Some(s) = &file.safe_to_delete {
        return match s.verdict.as_str() {
            "no" => format!("do not delete it: {}", s.reason),
            "yes" => format!("nothing to wait for; it is safe to remove ({})", s.reason),
            _ => format!("nothing holds it now; {}", s.reason),
        };
    }
    "nothing holds it now; nothing to do.".into()
}

/// Writes the narrative of every file in the report.
pub fn write(report: &Report, snap: &Snapshot, out: &mut dyn Write) -> std::io::Result<()> {
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
        for line in narrative(f, snap) {
            writeln!(out, "{}", for_terminal(&line))?;
        }
    }
    for e in &report.errors {
        writeln!(
            out,
            "Not examined: {}: {}",
            for_terminal(&e.path),
            for_terminal(&e.error)
        )?;
    }
    Ok(())
}
