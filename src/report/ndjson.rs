//! Newline-delimited JSON: one self-contained JSON object per line, for log shippers
//! (Vector, Fluent Bit, Filebeat, Promtail, `jq -c`) that index one event per line.
//!
//! Every line is a compact JSON object whose `record` field says what it is. The
//! field names and values are those of the JSON document (schema version 1, see the
//! README); nothing is renamed, and strings are escaped by serde_json, so a line never
//! contains a raw newline whatever a file name holds. Lines come in this order:
//!
//! 1. exactly one **`scan`** record, first:
//!    `{"record":"scan", "schema_version", "lockscan_version", "host", "platform",
//!    "generated_at", "roots", "visibility", "stats", "errors"}`: the report
//!    without its `files` and `findings`;
//! 2. one **`file`** record per entry of `files`, in the report's order (by path):
//!    `{"record":"file", <every field of a file object: "path", "kind", "device",
//!    "inode", ..., "locks", "open_by", "pidfile", ..., "findings">, "host",
//!    "generated_at"}`;
//! 3. one **`finding`** record per global finding (those about the scan as a whole;
//!    a file's findings stay inside its `file` record):
//!    `{"record":"finding", "code", "severity", "message", "hint", "path" (optional),
//!    "host", "generated_at"}`.
//!
//! `host` and `generated_at` are repeated on every line so that each line can be
//! indexed and searched on its own; `generated_at` is the same on all lines of one
//! scan and, with `host`, groups them back into one report.

use std::io::Write;

use schemars::JsonSchema;
use serde::Serialize;

use super::Exporter;
use crate::model::{
    ErrorEntry, FileReport, Finding, Platform, Report, Stats, Timestamp, VisibilityReport,
};

/// One line of the NDJSON output; `record` says which.
#[derive(Serialize, JsonSchema)]
#[serde(tag = "record", rename_all = "lowercase")]
#[schemars(rename = "NdjsonRecord")]
pub enum Record<'a> {
    /// The report without its `files` and `findings`; always the first line.
    Scan(ScanRecord<'a>),
    /// One entry of `files`, with the scan's `host` and `generated_at`.
    File(FileRecord<'a>),
    /// One global finding, with the scan's `host` and `generated_at`.
    Finding(FindingRecord<'a>),
}

#[derive(Serialize, JsonSchema)]
pub struct ScanRecord<'a> {
    pub schema_version: u32,
    pub lockscan_version: &'a str,
    pub host: &'a str,
    pub platform: Platform,
    pub generated_at: Timestamp,
    pub roots: &'a [String],
    pub visibility: &'a VisibilityReport,
    pub stats: &'a Stats,
    pub errors: &'a [ErrorEntry],
}

#[derive(Serialize, JsonSchema)]
pub struct FileRecord<'a> {
    #[serde(flatten)]
    pub file: &'a FileReport,
    pub host: &'a str,
    pub generated_at: Timestamp,
}

#[derive(Serialize, JsonSchema)]
pub struct FindingRecord<'a> {
    #[serde(flatten)]
    pub finding: &'a Finding,
    pub host: &'a str,
    pub generated_at: Timestamp,
}

fn push_line(buf: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *buf, value).map_err(std::io::Error::other)?;
    buf.write_all(b"\n")
}

/// A `scan` line, one `file` line per file, one `finding` line per global finding
/// (see the module documentation).
pub struct Ndjson;

impl Exporter for Ndjson {
    fn write(&self, report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
        // Streamed, as the JSON writer does: a line is written as soon as it is made.
        let mut buf = std::io::BufWriter::with_capacity(1 << 16, out);
        let (host, generated_at) = (report.host.as_str(), report.generated_at);
        push_line(
            &mut buf,
            &Record::Scan(ScanRecord {
                schema_version: report.schema_version,
                lockscan_version: &report.lockscan_version,
                host,
                platform: report.platform,
                generated_at,
                roots: &report.roots,
                visibility: &report.visibility,
                stats: &report.stats,
                errors: &report.errors,
            }),
        )?;
        // The file lines, rendered on two threads and written in order.
        super::parallel::write_all(
            &report.files,
            b"",
            |file, line| {
                push_line(
                    line,
                    &Record::File(FileRecord {
                        file,
                        host,
                        generated_at,
                    }),
                )
            },
            &mut buf,
        )?;
        for finding in &report.findings {
            push_line(
                &mut buf,
                &Record::Finding(FindingRecord {
                    finding,
                    host,
                    generated_at,
                }),
            )?;
        }
        buf.flush()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::model::sample::*;
    use crate::model::*;

    fn lines(report: &Report) -> Vec<Map<String, Value>> {
        let mut out = Vec::new();
        Ndjson.write(report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|line| match serde_json::from_str(line) {
                Ok(Value::Object(map)) => map,
                other => panic!("not a JSON object: {line:?}: {other:?}"),
            })
            .collect()
    }

    /// The line without the NDJSON envelope fields.
    fn without(mut map: Map<String, Value>, keys: &[&str]) -> Value {
        for key in keys {
            assert!(map.remove(*key).is_some(), "missing {key}");
        }
        Value::Object(map)
    }

    #[test]
    fn file_lines_rendered_on_two_threads_come_out_whole_and_in_order() {
        let mut report = sample_report();
        let files = std::mem::take(&mut report.files);
        report.files = (0..700)
            .map(|i| {
                let mut f = files[i % files.len()].clone();
                f.path = Some(format!("/tmp/n/{i:04}.lock"));
                f
            })
            .collect();
        let got = lines(&report);
        let paths: Vec<&str> = got
            .iter()
            .filter(|l| l["record"] == "file")
            .map(|l| l["path"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = report
            .files
            .iter()
            .map(|f| f.path.as_deref().unwrap())
            .collect();
        assert_eq!(paths, want);
        assert_eq!(got[0]["record"], "scan");
    }

    #[test]
    fn one_scan_line_then_files_then_global_findings() {
        let report = sample_report();
        let lines = lines(&report);
        let records: Vec<_> = lines.iter().map(|l| l["record"].clone()).collect();
        assert_eq!(records, ["scan", "file", "file", "finding"]);
        for line in &lines {
            assert_eq!(line["host"], "vm");
            assert_eq!(line["generated_at"], "2026-11-22T06:54:56Z");
        }
    }

    #[test]
    fn scan_line_is_the_report_without_files_and_findings() {
        let report = sample_report();
        let scan = lines(&report).remove(0);
        let mut expected = serde_json::to_value(&report).unwrap();
        let map = expected.as_object_mut().unwrap();
        map.remove("files");
        map.remove("findings");
        assert_eq!(without(scan.clone(), &["record"]), expected);
        assert_eq!(scan["schema_version"], 1);
        assert_eq!(scan["lockscan_version"], "0.1.0");
        assert_eq!(scan["platform"], "linux");
        assert_eq!(scan["roots"], json!(["/etc/letsencrypt", "/run"]));
        assert_eq!(scan["stats"]["duration_ms"], 17);
        assert_eq!(scan["visibility"]["processes_denied"], 3);
        assert_eq!(scan["errors"][0]["path"], "/run/initctl");
    }

    #[test]
    fn file_lines_carry_every_field_of_the_file_object() {
        let report = sample_report();
        let lines = lines(&report);
        for (line, file) in lines[1..3].iter().zip(&report.files) {
            assert_eq!(
                without(line.clone(), &["record", "host", "generated_at"]),
                serde_json::to_value(file).unwrap()
            );
        }
        let certbot = &lines[1];
        assert_eq!(certbot["path"], "/etc/letsencrypt/.certbot.lock");
        assert_eq!(certbot["kind"], "lockfile");
        assert_eq!(certbot["pidfile"], Value::Null);
        assert_eq!(certbot["locks"][0]["type"], "flock");
        assert_eq!(certbot["locks"][0]["holders"][0]["pid"], 100);
        assert_eq!(certbot["locks"][0]["waiters"][0]["pid"], 200);
        assert_eq!(certbot["locks"][0]["waiters"][0]["depth"], 1);
        assert_eq!(certbot["findings"][0]["code"], "blocked-waiters");

        let nginx = &lines[2];
        assert_eq!(nginx["path"], HOSTILE_PIDFILE);
        assert_eq!(nginx["pidfile"]["status"], "dead");
        assert_eq!(nginx["pidfile"]["verdict"], "stale");
        assert_eq!(nginx["findings"][0]["code"], "stale-pidfile");
        assert_eq!(nginx["findings"][0]["severity"], "warning");
    }

    #[test]
    fn finding_lines_carry_the_finding() {
        let report = sample_report();
        let finding = lines(&report).pop().unwrap();
        assert_eq!(finding["record"], "finding");
        assert_eq!(finding["code"], "partial-visibility");
        assert_eq!(finding["severity"], "info");
        assert!(!finding.contains_key("path"));
        assert_eq!(
            without(finding, &["record", "host", "generated_at"]),
            serde_json::to_value(&report.findings[0]).unwrap()
        );
    }

    #[test]
    fn an_empty_report_is_one_scan_line() {
        let mut report = sample_report();
        report.files.clear();
        report.findings.clear();
        let lines = lines(&report);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["record"], "scan");
    }
}
