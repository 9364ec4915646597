//! The human table: one row per lock (or per file without locks), then findings.
//!
//! Columns are declared once in [`COLUMNS`]. Every string taken from the system
//! (paths, command lines, symlink targets) goes through [`for_terminal`].

use std::collections::HashMap;
use std::io::Write;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, Color, ContentArrangement, Table as Grid};

use super::Exporter;
use super::escape::{for_terminal, path_for_terminal};
use crate::model::time::human_duration;
use crate::model::{
    DeleteVerdict, FileReport, HolderEvidence, LockReport, LockState, PidStatus, Platform,
    ProcessRef, ProcessState, Report, Severity,
};

/// One row of the table: a file and, optionally, one of its locks.
pub struct Row<'a> {
    pub file: &'a FileReport,
    pub lock: Option<&'a LockReport>,
    /// The first row of a file (file-level cells are shown only there).
    pub first: bool,
    /// The report is from Windows: fds are handles, holders of a byte-range lock
    /// are candidates.
    pub windows: bool,
}

/// A column: header and how to fill a cell (one string per line of the cell; each
/// line is escaped on its own, so a newline in a file name cannot fake a row).
pub struct Column {
    pub header: &'static str,
    pub cell: fn(&Row) -> Vec<String>,
    /// Coloured by the file's worst finding.
    pub severity_colored: bool,
}

fn proc_label(p: &ProcessRef, windows: bool) -> String {
    let mut s = format!("{} {}", p.pid, p.command.as_deref().unwrap_or("?"));
    if let Some(u) = &p.user {
        s.push_str(&format!(" [{u}]"));
    }
    match p.fd {
        Some(h) if windows => s.push_str(&format!(" handle {h:#x}")),
        Some(fd) => s.push_str(&format!(" fd {fd}")),
        None => {}
    }
    if let Some(c) = &p.container {
        s.push_str(&format!(" in {c}"));
    }
    if let Some(parent) = p.inherited_from {
        s.push_str(&format!(" (inherited from {parent})"));
    }
    match p.state {
        Some(ProcessState::Stopped | ProcessState::TracingStop) => s.push_str(" STOPPED"),
        Some(ProcessState::DiskSleep) => s.push_str(" D-STATE"),
        Some(ProcessState::Zombie) => s.push_str(" ZOMBIE"),
        _ => {}
    }
    if let Some(age) = p.age_seconds {
        s.push_str(&format!(" up {}", human_duration(age)));
    }
    s
}

fn range(l: &LockReport) -> String {
    let span = match (l.start, l.end) {
        (0, None) => String::new(),
        (s, None) => format!(" {s}-EOF"),
        (s, Some(e)) => format!(" {s}-{e}"),
    };
    match super::ranges_preview(l) {
        Some(p) => format!("{span} ({p})"),
        None => span,
    }
}

fn col_path(r: &Row) -> Vec<String> {
    if !r.first {
        return Vec::new();
    }
    // Escaped here, piece by piece, so that the exact bytes of a non-UTF-8 name show
    // as `\xNN` (the line's own escaping then finds nothing left to escape).
    let mut p = match &r.file.path {
        Some(path) => path_for_terminal(path, r.file.path_bytes.as_ref()).into_owned(),
        None => "(unknown path)".into(),
    };
    if r.file.deleted {
        p.push_str(" (deleted)");
    } else if r.file.replaced {
        p.push_str(" (replaced)");
    }
    if let Some(t) = &r.file.symlink_target {
        p.push_str(&format!(" -> {}", for_terminal(t)));
    }
    if let Some(fs) = r.file.filesystem.as_ref().filter(|f| f.remote) {
        p.push_str(&format!(" [{} {}]", fs.locality, for_terminal(&fs.fstype)));
    }
    vec![p]
}

fn col_kind(r: &Row) -> Vec<String> {
    if r.first {
        vec![r.file.kind.to_string()]
    } else {
        Vec::new()
    }
}

fn col_lock(r: &Row) -> Vec<String> {
    match r.lock {
        Some(l) => {
            let mut s = format!("{} {}{}", l.kind, l.mode, range(l));
            if let Some(r) = &l.role {
                s.push_str(&format!(" ({})", r.name));
            }
            if let Some(st) = &l.lease_state {
                s.push_str(&format!(" ({st})"));
            }
            vec![s]
        }
        None => vec!["-".into()],
    }
}

fn col_holders(r: &Row) -> Vec<String> {
    let Some(l) = r.lock else {
        return if r.first {
            r.file
                .open_by
                .iter()
                .map(|p| format!("open: {}", proc_label(p, r.windows)))
                .collect()
        } else {
            Vec::new()
        };
    };
    let mut lines: Vec<String> = l.holders.iter().map(|p| proc_label(p, r.windows)).collect();
    if lines.is_empty() {
        lines.push(if l.holder_evidence == HolderEvidence::Getlk {
            "(held outside this pid namespace)".into()
        } else {
            "(holder not visible)".into()
        });
    }
    if let Some(pid) = l.locker_pid {
        let is_holder = l.holders.iter().any(|h| h.pid == pid);
        if !is_holder {
            let alive = if l.locker_alive == Some(true) {
                "alive"
            } else {
                "exited"
            };
            lines.push(format!("(locked by {pid}, {alive})"));
        }
    }
    if l.holder_evidence.is_candidates() {
        lines.push("(candidates: they have the file open)".into());
    } else if l.holders_uncertain {
        lines.push("(may be incomplete)".into());
    }
    lines
}

fn col_waiters(r: &Row) -> Vec<String> {
    let Some(l) = r.lock else { return Vec::new() };
    let queued = |depth: u32| if depth > 1 { "queued" } else { "waiting" };
    l.waiters
        .iter()
        .map(|w| {
            format!(
                "{} ({} {})",
                proc_label(&w.process, r.windows),
                w.mode,
                queued(w.depth)
            )
        })
        .chain(l.unidentified_waiters.iter().map(|w| {
            format!(
                "{} ({} {})",
                crate::diagnose::UNIDENTIFIED_WAITER,
                w.mode,
                queued(w.depth)
            )
        }))
        .collect()
}

fn col_status(r: &Row) -> Vec<String> {
    if !r.first {
        return Vec::new();
    }
    let mut parts = Vec::new();
    if let Some(pf) = &r.file.pidfile {
        let s = match (pf.pid, pf.status) {
            (Some(pid), PidStatus::Running) => {
                let cmd = pf
                    .process
                    .as_ref()
                    .and_then(|p| p.command.clone())
                    .unwrap_or_default();
                let kthread = pf.process.as_ref().is_some_and(|p| p.kernel_thread);
                format!(
                    "pid {pid} running {cmd}{}",
                    if kthread { " (kernel thread)" } else { "" }
                )
            }
            (Some(pid), status) => format!("pid {pid} {status}"),
            (None, status) => format!("{status}: {}", pf.reason.as_deref().unwrap_or("")),
        };
        parts.push(s.trim_end().to_string());
    }
    if let Some(c) = &r.file.convention
        && !c.name.starts_with("generic-")
    {
        parts.push(c.program.clone());
    }
    if let Some(sd) = &r.file.safe_to_delete {
        parts.push(
            match sd.verdict {
                DeleteVerdict::Yes => "safe to delete",
                DeleteVerdict::No => "do not delete",
                DeleteVerdict::Unknown => "delete? unknown",
            }
            .to_string(),
        );
    }
    if let Some(p) = &r.file.probe {
        parts.push(format!("probe: {}", p.result));
    }
    for f in &r.file.findings {
        parts.push(format!("{}: {}", f.severity.as_str(), f.code));
    }
    parts
}

/// The table's columns, in order.
pub static COLUMNS: &[Column] = &[
    Column {
        header: "PATH",
        cell: col_path,
        severity_colored: false,
    },
    Column {
        header: "KIND",
        cell: col_kind,
        severity_colored: false,
    },
    Column {
        header: "LOCK",
        cell: col_lock,
        severity_colored: false,
    },
    Column {
        header: "HOLDERS",
        cell: col_holders,
        severity_colored: false,
    },
    Column {
        header: "WAITERS",
        cell: col_waiters,
        severity_colored: false,
    },
    Column {
        header: "STATUS",
        cell: col_status,
        severity_colored: true,
    },
];

/// Files with nothing to say beyond their existence that the table lists one by
/// one; beyond this many, it counts them by directory instead. A million empty
/// `*.lock` files dropped into /tmp would otherwise bury the few rows that matter
/// (and cost a row each to lay out); JSON and NDJSON still list every file.
pub const UNREMARKABLE_ROWS: usize = 100;

/// A file with nothing to report beyond its existence: no lock, no process has it
/// open, no finding, no pidfile, no probe result, not deleted or replaced.
pub fn unremarkable(f: &FileReport) -> bool {
    f.locks.is_empty()
        && f.open_by.is_empty()
        && f.findings.is_empty()
        && f.pidfile.is_none()
        && f.probe.is_none()
        && !f.deleted
        && !f.replaced
        && f.lock_state != LockState::Held
}

/// Directories listed by name in the summary of files left out.
const SUMMARY_DIRS: usize = 5;

/// The lines saying which unremarkable files the table left out, and how to see them.
fn left_out_summary(files: &[&FileReport]) -> Vec<String> {
    let mut by_dir: HashMap<&str, usize> = HashMap::new();
    for f in files {
        let dir = f
            .path
            .as_deref()
            .map(|p| p.rsplit_once(['/', '\\']).map_or("", |(d, _)| d))
            .map(|d| if d.is_empty() { "/" } else { d })
            .unwrap_or("(unknown path)");
        *by_dir.entry(dir).or_default() += 1;
    }
    let mut dirs: Vec<(&str, usize)> = by_dir.into_iter().collect();
    dirs.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut lines = vec![format!(
        "{} file(s) with nothing to report (no lock, not open, no finding) are not shown; \
         `--json` or `--format ndjson` lists every file.",
        files.len()
    )];
    for (dir, n) in dirs.iter().take(SUMMARY_DIRS) {
        lines.push(format!("  {n} in {}", for_terminal(dir)));
    }
    if dirs.len() > SUMMARY_DIRS {
        let rest: usize = dirs[SUMMARY_DIRS..].iter().map(|d| d.1).sum();
        lines.push(format!(
            "  {rest} in {} other directories",
            dirs.len() - SUMMARY_DIRS
        ));
    }
    lines
}

fn severity_color(s: Severity) -> Color {
    match s {
        Severity::Info => Color::Cyan,
        Severity::Warning => Color::Yellow,
        Severity::Error => Color::Red,
    }
}

/// Renders the report for a person. `color` is decided by the caller (terminal, NO_COLOR).
/// The table, the findings, what could not be examined, and a summary line; with
/// `explain_after`, the plain-words explanation follows.
pub struct Table {
    pub color: bool,
    /// Wrap to this width (`None`: the terminal's).
    pub width: Option<u16>,
    pub explain_after: bool,
}

impl Exporter for Table {
    fn write(&self, report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
        write_table(report, out, self.color, self.width)?;
        if self.explain_after {
            writeln!(out)?;
            super::explain::Explain.write(report, out)?;
        }
        Ok(())
    }
}

fn write_table(
    report: &Report,
    out: &mut dyn Write,
    color: bool,
    width: Option<u16>,
) -> std::io::Result<()> {
    let scope = if report.roots.is_empty() {
        "the whole system".to_string()
    } else {
        report
            .roots
            .iter()
            .map(|r| for_terminal(r).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let plain: Vec<&FileReport> = report.files.iter().filter(|f| unremarkable(f)).collect();
    let left_out = if plain.len() > UNREMARKABLE_ROWS {
        plain
    } else {
        Vec::new()
    };
    let shown = report.files.len() - left_out.len();
    if report.files.is_empty() {
        writeln!(out, "No locks, lockfiles or pidfiles found in {scope}.")?;
    } else if shown > 0 {
        let mut table = Grid::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_content_arrangement(ContentArrangement::Dynamic);
        if let Some(w) = width {
            table.set_width(w);
        }
        if !color {
            table.force_no_tty();
        } else {
            table.enforce_styling();
        }
        table.set_header(COLUMNS.iter().map(|c| Cell::new(c.header)));
        let windows = report.platform == Platform::Windows;
        let collapse = !left_out.is_empty();
        for file in &report.files {
            if collapse && unremarkable(file) {
                continue;
            }
            let worst = file.findings.iter().map(|f| f.severity).max();
            let rows: Vec<Row> = if file.locks.is_empty() {
                vec![Row {
                    file,
                    lock: None,
                    first: true,
                    windows,
                }]
            } else {
                file.locks
                    .iter()
                    .enumerate()
                    .map(|(i, l)| Row {
                        file,
                        lock: Some(l),
                        first: i == 0,
                        windows,
                    })
                    .collect()
            };
            for row in rows {
                let cells = COLUMNS.iter().map(|c| {
                    let lines: Vec<String> = (c.cell)(&row)
                        .iter()
                        .map(|l| for_terminal(l).into_owned())
                        .collect();
                    let text = lines.join("\n");
                    let cell = Cell::new(text);
                    match (color, worst, c.severity_colored) {
                        (true, Some(s), true) => cell.fg(severity_color(s)),
                        _ => cell,
                    }
                });
                table.add_row(cells);
            }
        }
        writeln!(out, "{table}")?;
    }
    if !left_out.is_empty() {
        if shown > 0 {
            writeln!(out)?;
        }
        for line in left_out_summary(&left_out) {
            writeln!(out, "{line}")?;
        }
    }

    let findings: Vec<_> = report.all_findings().collect();
    if !findings.is_empty() {
        writeln!(out)?;
        writeln!(out, "Findings:")?;
        for f in findings {
            let where_ = f
                .path
                .as_deref()
                .map(|p| format!("{}: ", path_for_terminal(p, f.path_bytes.as_ref())))
                .unwrap_or_default();
            let sev = if color {
                let code = match f.severity {
                    Severity::Info => "36",
                    Severity::Warning => "33",
                    Severity::Error => "31",
                };
                format!("\x1b[{code}m{}\x1b[0m", f.severity.as_str())
            } else {
                f.severity.as_str().to_string()
            };
            writeln!(
                out,
                "  {sev} [{}] {where_}{}",
                f.code,
                for_terminal(&f.message)
            )?;
            writeln!(out, "      hint: {}", for_terminal(&f.hint))?;
        }
    }
    if !report.errors.is_empty() {
        writeln!(out)?;
        writeln!(out, "Not examined:")?;
        for e in &report.errors {
            writeln!(
                out,
                "  {}: {}",
                path_for_terminal(&e.path, e.path_bytes.as_ref()),
                for_terminal(&e.error)
            )?;
        }
    }
    let locks: usize = report.files.iter().map(|f| f.locks.len()).sum();
    if report.platform == Platform::Windows {
        writeln!(
            out,
            "\n{} file(s), {} lock(s) in {}; {} file handles examined, {} ms.",
            report.files.len(),
            locks,
            scope,
            report.stats.fds_examined,
            report.stats.duration_ms
        )?;
    } else {
        writeln!(
            out,
            "\n{} file(s), {} lock(s) in {}; {} lock line(s) in the kernel table, {} fds examined, {} ms.",
            report.files.len(),
            locks,
            scope,
            report.stats.lock_lines,
            report.stats.fds_examined,
            report.stats.duration_ms
        )?;
    }
    Ok(())
}
