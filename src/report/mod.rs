//! Rendering a [`Report`]: one file per output format, each behind [`Exporter`].
//!
//! A new format is one file here and one arm of [`Format`]. Renderers only read the
//! report: every decision (lock state, verdicts, the advice) was made before, once,
//! so the table, `explain`, JSON and Prometheus cannot disagree.

pub mod codes;
pub mod escape;
pub mod explain;
pub mod json;
pub mod ndjson;
pub mod parallel;
pub mod prometheus;
pub mod schema;
pub mod table;

use std::io::{self, Write};

use crate::model::Report;

/// Writes a report in one format.
pub trait Exporter {
    fn write(&self, report: &Report, out: &mut dyn Write) -> io::Result<()>;
}

/// The output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A table for people, followed by the findings.
    Table,
    /// One JSON document.
    Json,
    /// One JSON object per line: a scan record, then one per file and per finding.
    Ndjson,
    /// Prometheus text format, for node_exporter's textfile collector.
    Prometheus,
    /// Plain words per file: who holds, who waits, what to do.
    Explain,
}

/// How the output will be seen.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presentation {
    /// Standard output is a terminal (JSON is indented there).
    pub terminal: bool,
    /// Colour the table.
    pub color: bool,
    /// Wrap the table to this width (`None`: the terminal's).
    pub width: Option<u16>,
    /// Follow the table with the explanation (one file asked about by name).
    pub explain_after_table: bool,
}

/// The exporter for `format`.
pub fn exporter(format: Format, p: Presentation) -> Box<dyn Exporter> {
    match format {
        Format::Table => Box::new(table::Table {
            color: p.color,
            width: p.width,
            explain_after: p.explain_after_table,
        }),
        Format::Json => Box::new(json::Json { pretty: p.terminal }),
        Format::Ndjson => Box::new(ndjson::Ndjson),
        Format::Prometheus => Box::new(prometheus::Prometheus),
        Format::Explain => Box::new(explain::Explain),
    }
}

/// How many of a grouped lock's ranges the table and `explain` spell out.
const RANGES_SHOWN: usize = 3;

/// For a lock entry that stands for several ranges (`range_count`): "100000 ranges:
/// 0-0, 2-2, 4-4 and 99997 more". `None` for a single range.
pub(crate) fn ranges_preview(l: &crate::model::LockReport) -> Option<String> {
    let n = l.range_count?;
    let shown: Vec<String> = l
        .ranges
        .iter()
        .take(RANGES_SHOWN)
        .map(|(s, e)| match e {
            Some(e) => format!("{s}-{e}"),
            None => format!("{s}-EOF"),
        })
        .collect();
    let more = n.saturating_sub(shown.len());
    let mut text = format!("{n} ranges: {}", shown.join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    Some(text)
}
