//! The JSON document (schema in the README; field names are a contract).

use std::io::Write;

use super::Report;

/// Writes the report as one pretty-printed JSON document followed by a newline.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}
