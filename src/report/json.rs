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
            serde_json::to_writer_pretty(&mut buf, report).map_err(std::io::Error::other)?;
        } else {
            write_compact(report, &mut buf)?;
        }
        buf.write_all(b"\n")?;
        buf.flush()
    }
}

/// The compact document, its files rendered on two threads
/// ([`super::parallel::write_all`]): the report without its files is serialized
/// as usual, and the files go where its empty `files` array is. The bytes are the
/// same as `serde_json::to_writer` of the whole report (a test holds it to that).
fn write_compact(report: &Report, out: &mut impl Write) -> std::io::Result<()> {
    let head = serde_json::to_vec(&without_files(report)).map_err(std::io::Error::other)?;
    // The first `"files":[]` is the top-level key: the fields before it are
    // scalars and strings, and a quote inside a string is always escaped.
    const EMPTY: &[u8] = b"\"files\":[]";
    let Some(at) = head.windows(EMPTY.len()).position(|w| w == EMPTY) else {
        return serde_json::to_writer(out, report).map_err(std::io::Error::other);
    };
    let open = at + EMPTY.len() - 1; // just before `]`
    out.write_all(&head[..open])?;
    super::parallel::write_all(
        &report.files,
        b",",
        |file, buf| serde_json::to_writer(buf, file).map_err(std::io::Error::other),
        out,
    )?;
    out.write_all(&head[open..])
}

/// `report` with no files. Every field is named, so that a field added to the
/// report cannot be left out of the document here.
fn without_files(report: &Report) -> Report {
    let Report {
        schema_version,
        lockscan_version,
        host,
        platform,
        generated_at,
        roots,
        files: _,
        findings,
        errors,
        visibility,
        stats,
    } = report;
    Report {
        schema_version: *schema_version,
        lockscan_version: lockscan_version.clone(),
        host: host.clone(),
        platform: *platform,
        generated_at: *generated_at,
        roots: roots.clone(),
        files: Vec::new(),
        findings: findings.clone(),
        errors: errors.clone(),
        visibility: visibility.clone(),
        stats: stats.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample::*;

    #[test]
    fn compact_output_is_byte_for_byte_serde_jsons_at_every_file_count() {
        // Regression guard for the two-thread renderer: the same bytes as one
        // serializer over the whole report, whatever the number of files.
        for n in [0usize, 1, 2, 255, 256, 257, 600, 1500] {
            let mut report = sample_report();
            let files = std::mem::take(&mut report.files);
            report.files = (0..n).map(|i| files[i % files.len()].clone()).collect();
            let mut ours = Vec::new();
            Json { pretty: false }.write(&report, &mut ours).unwrap();
            let mut theirs = serde_json::to_vec(&report).unwrap();
            theirs.push(b'\n');
            assert!(ours == theirs, "{n} files: the documents differ");
        }
    }
}
