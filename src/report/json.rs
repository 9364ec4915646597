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
        // Streamed through a buffer of our own, never built whole in memory: the
        // document of a million files is a gigabyte. The buffer's type is known here,
        // so the serializer's many small writes are plain copies, and only full
        // buffers go through `out`'s dynamic dispatch.
        let mut buf = std::io::BufWriter::with_capacity(1 << 16, out);
        if self.pretty {
            serde_json::to_writer_pretty(&mut buf, report)
        } else {
            serde_json::to_writer(&mut buf, report)
        }
        .map_err(std::io::Error::other)?;
        buf.write_all(b"\n")?;
        buf.flush()
    }
}
