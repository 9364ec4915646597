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
