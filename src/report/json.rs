//! The JSON document (schema in the README; field names are a contract).

use std::io::Write;

use super::Report;

/// Writes the report as one pretty-printed JSON document followed by a newline.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    // `From<serde_json::Error>` keeps the io error kind (BrokenPipe stays BrokenPipe).
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::from)?;
    out.write_all(b"\n")
}
