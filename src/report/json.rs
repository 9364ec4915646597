//! The JSON document (schema in the README; field names are a contract).

use std::io::Write;

use super::Report;

/// Writes the report as one pretty-printed JSON document followed by a newline.
pub fn write(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    // Serialised into memory first: the pretty printer emits many tiny writes, and
    // one large write is measurably faster than feeding them through a BufWriter.
    let mut buf = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    buf.push(b'\n');
    out.write_all(&buf)
}
