//! The JSON document (the schema is generated from `crate::model`; field names are a
//! contract).

use std::io::Write;

use super::Exporter;
use crate::model::Report;

/// One JSON document followed by a newline: indented for a person (`pretty`, used
/// on a terminal), compact for programs (a pipe or a file), where a system-wide
/// report with tens of thousands of locks is a third smaller and faster to write
/// and to parse.
pub struct Json {
    pub pretty: bool,
}

impl Exporter for Json {
    fn write(&self, report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
        // Serialised into memory first: the serializer emits many tiny writes, and one
        // large write is measurably faster than feeding them through a BufWriter.
        let mut buf = if self.pretty {
            serde_json::to_vec_pretty(report)
        } else {
            serde_json::to_vec(report)
        }
        .map_err(std::io::Error::other)?;
        buf.push(b'\n');
        out.write_all(&buf)
    }
}
