//! The Prometheus text exposition format (version 0.0.4), for node_exporter's
//! textfile collector (`docs/monitoring.md` shows the set-up and alert rules).
//!
//! Every metric is a gauge describing this one scan; each family has one `# HELP`
//! and one `# TYPE` line, and is written even when it has no samples. Families are
//! sorted by name and samples by label values, so two scans of the same state give
//! identical files. Label values are escaped as the format requires (`\\`, `\"`,
//! `\n`); a path that is unknown (null in JSON) is `path=""`.
//!
//! Cardinality stays bounded by the files found: no command lines, users or byte
//! ranges become labels. The only process labels are the oldest holder's `pid` and
//! short `command` on `lockscan_lock_holder_age_seconds`. When two series would get
//! the same labels (two byte-range locks of one kind and mode on one file, several
//! files of unknown path), they are merged into one sample: counts are added, ages
//! take the maximum. The format forbids duplicate series.
//!
//! A path that is not valid UTF-8 is written lossily in `path` (like JSON's `path`)
//! and exactly, in lowercase hex, in an extra `path_bytes` label that only such
//! series carry: two files whose names differ only in invalid bytes stay two series.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use super::Exporter;
use crate::model::{FileReport, LockReport, ProcessRef, Report, Severity};

/// The label written only when it has a value (see the module documentation).
const PATH_BYTES: &str = "path_bytes";

/// How two samples with the same labels become one.
#[derive(Clone, Copy)]
enum Merge {
    Sum,
    Max,
}

/// One metric family. Label values borrow from the report where they can: a scan
/// of a million files gives a million `lockscan_file_info` samples.
struct Family<'a> {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    merge: Merge,
    samples: BTreeMap<Vec<Cow<'a, str>>, f64>,
}

impl<'a> Family<'a> {
    fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        merge: Merge,
    ) -> Self {
        Family {
            name,
            help,
            labels,
            merge,
            samples: BTreeMap::new(),
        }
    }

    fn single(name: &'static str, help: &'static str, value: f64) -> Self {
        let mut family = Family::new(name, help, &[], Merge::Sum);
        family.add(&[], value);
        family
    }

    fn add(&mut self, values: &[&'a str], value: f64) {
        self.add_cow(values.iter().map(|v| Cow::Borrowed(*v)).collect(), value);
    }

    fn add_cow(&mut self, key: Vec<Cow<'a, str>>, value: f64) {
        assert_eq!(key.len(), self.labels.len(), "labels of {}", self.name);
        let merge = self.merge;
        self.samples
            .entry(key)
            .and_modify(|old| {
                *old = match merge {
                    Merge::Sum => *old + value,
                    Merge::Max => old.max(value),
                }
            })
            .or_insert(value);
    }

    /// Writes the family to `sink`, through `out` as a buffer that is emptied
    /// whenever it holds 64 KiB.
    fn render(&self, out: &mut String, sink: &mut dyn Write) -> std::io::Result<()> {
        out.push_str("# HELP ");
        out.push_str(self.name);
        out.push(' ');
        escape_help(self.help, out);
        out.push('\n');
        let _ = writeln!(out, "# TYPE {} gauge", self.name);
        for (values, value) in &self.samples {
            out.push_str(self.name);
            if !values.is_empty() {
                out.push('{');
                let present = self
                    .labels
                    .iter()
                    .zip(values)
                    .filter(|(label, v)| **label != PATH_BYTES || !v.is_empty());
                for (i, (label, v)) in present.enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(label);
                    out.push_str("=\"");
                    escape_label_value(v, out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            format_value(*value, out);
            out.push('\n');
            if out.len() >= 1 << 16 {
                sink.write_all(out.as_bytes())?;
                out.clear();
            }
        }
        Ok(())
    }
}

/// Label values: backslash, double quote and line feed are escaped; everything else
/// is written as is (the format is UTF-8).
fn escape_label_value(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// HELP text: backslash and line feed are escaped.
fn escape_help(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Integers without a fraction (`3`, not `3.0`), other values in plain decimal
/// notation; both parse with Go's `strconv.ParseFloat`.
fn format_value(v: f64, out: &mut String) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// The `path` and `path_bytes` label values of a file (`path_bytes` empty, and so
/// left out, when the path is valid UTF-8).
fn path_labels(file: &FileReport) -> (&str, Cow<'_, str>) {
    (
        file.path.as_deref().unwrap_or(""),
        file.path_bytes
            .as_ref()
            .map_or(Cow::Borrowed(""), |b| Cow::Owned(b.to_string())),
    )
}

/// The holder that has run longest (lowest pid on a tie), with its age.
fn oldest_holder(lock: &LockReport) -> Option<(u64, &ProcessRef)> {
    lock.holders
        .iter()
        .filter_map(|h| h.age_seconds.map(|age| (age, h)))
        .max_by(|(a, x), (b, y)| a.cmp(b).then(y.pid.cmp(&x.pid)))
}

fn families(report: &Report) -> Vec<Family<'_>> {
    let up = Family::single(
        "lockscan_up",
        "1 when this file was written by a completed lockscan run.",
        1.0,
    );
    let timestamp = Family::single(
        "lockscan_last_scan_timestamp_seconds",
        "Unix time at which the scan ran (the report's generated_at).",
        report.generated_at.secs() as f64,
    );
    let duration = Family::single(
        "lockscan_scan_duration_seconds",
        "How long the scan took.",
        report.stats.duration_ms as f64 / 1000.0,
    );
    let files = Family::single(
        "lockscan_files",
        "Lockfiles, pidfiles, symlink locks and locked files reported.",
        report.files.len() as f64,
    );
    let locks = Family::single(
        "lockscan_locks",
        "Locks held on the reported files (each byte range of a grouped entry counts).",
        report
            .files
            .iter()
            .flat_map(|f| &f.locks)
            .map(|l| l.range_count.unwrap_or(1))
            .sum::<usize>() as f64,
    );
    let errors = Family::single(
        "lockscan_errors",
        "Paths that could not be examined (special files, unreadable directories).",
        report.errors.len() as f64,
    );
    let denied = Family::single(
        "lockscan_processes_denied",
        "Processes whose open files could not be read: their locks may be missing.",
        report.visibility.processes_denied as f64,
    );
    let proc_locks = Family::single(
        "lockscan_proc_locks_read",
        "1 when /proc/locks was read; 0 means no lock could be seen at all.",
        if report.visibility.proc_locks_read {
            1.0
        } else {
            0.0
        },
    );

    let mut file_info = Family::new(
        "lockscan_file_info",
        "1 per reported file (number of files when several share the labels).",
        &["path", "path_bytes", "kind"],
        Merge::Sum,
    );
    let mut lock_held = Family::new(
        "lockscan_lock_held",
        "Locks held on the file, by lock type and mode (1 for one lock).",
        &["path", "path_bytes", "type", "mode"],
        Merge::Sum,
    );
    let mut lock_waiters = Family::new(
        "lockscan_lock_waiters",
        "Processes blocked waiting for a lock on the file, by lock type.",
        &["path", "path_bytes", "type"],
        Merge::Sum,
    );
    let mut holder_age = Family::new(
        "lockscan_lock_holder_age_seconds",
        "How long the oldest holder of the lock has been running.",
        &["path", "path_bytes", "type", "pid", "command"],
        Merge::Max,
    );
    let mut pidfile_status = Family::new(
        "lockscan_pidfile_status",
        "1 per pidfile: status running, dead, invalid or unknown; verdict live, stale or unknown.",
        &["path", "path_bytes", "status", "verdict"],
        Merge::Sum,
    );
    let mut file_findings = Family::new(
        "lockscan_file_findings",
        "Findings about one file, by code and severity.",
        &["path", "path_bytes", "code", "severity"],
        Merge::Sum,
    );
    let mut findings = Family::new(
        "lockscan_findings",
        "Findings (about files and about the scan as a whole), by code and severity.",
        &["code", "severity"],
        Merge::Sum,
    );
    let mut by_severity = Family::new(
        "lockscan_findings_by_severity",
        "Findings by severity; every severity is present, 0 when there is none.",
        &["severity"],
        Merge::Sum,
    );

    for file in &report.files {
        let (path, bytes) = path_labels(file);
        let key = |rest: &[&'static str]| -> Vec<Cow<'_, str>> {
            [Cow::Borrowed(path), bytes.clone()]
                .into_iter()
                .chain(rest.iter().map(|v| Cow::Borrowed(*v)))
                .collect()
        };
        file_info.add_cow(key(&[file.kind.as_str()]), 1.0);
        for lock in &file.locks {
            lock_held.add_cow(key(&[lock.kind.as_str(), lock.mode.as_str()]), 1.0);
            lock_waiters.add_cow(key(&[lock.kind.as_str()]), lock.waiter_count() as f64);
            if let Some((age, holder)) = oldest_holder(lock) {
                let mut k = key(&[lock.kind.as_str()]);
                k.push(Cow::Owned(holder.pid.to_string()));
                k.push(Cow::Borrowed(holder.command.as_deref().unwrap_or("")));
                holder_age.add_cow(k, age as f64);
            }
        }
        if let Some(pidfile) = &file.pidfile {
            pidfile_status.add_cow(
                key(&[pidfile.status.as_str(), pidfile.verdict.as_str()]),
                1.0,
            );
        }
        for finding in &file.findings {
            file_findings.add_cow(
                key(&[finding.code.as_str(), finding.severity.as_str()]),
                1.0,
            );
        }
    }
    for severity in [Severity::Info, Severity::Warning, Severity::Error] {
        by_severity.add(&[severity.as_str()], 0.0);
    }
    for finding in report.all_findings() {
        findings.add(&[finding.code.as_str(), finding.severity.as_str()], 1.0);
        by_severity.add(&[finding.severity.as_str()], 1.0);
    }

    let mut all = vec![
        up,
        timestamp,
        duration,
        files,
        locks,
        errors,
        denied,
        proc_locks,
        file_info,
        lock_held,
        lock_waiters,
        holder_age,
        pidfile_status,
        file_findings,
        findings,
        by_severity,
    ];
    all.sort_by_key(|f| f.name);
    all
}

/// Prometheus text-format gauges (see the module documentation).
pub struct Prometheus;

impl Exporter for Prometheus {
    fn write(&self, report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
        // Written as it is made: the text of a million files' series is never whole
        // in memory.
        let mut text = String::with_capacity(1 << 17);
        for family in families(report) {
            family.render(&mut text, out)?;
        }
        out.write_all(text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap, HashSet};

    use super::*;
    use crate::model::sample::{HOSTILE_PIDFILE, flock_write, process, sample_report};
    use crate::model::*;

    fn render(report: &Report) -> String {
        let mut out = Vec::new();
        Prometheus.write(report, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn is_metric_name(s: &str) -> bool {
        let mut chars = s.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }

    fn is_label_name(s: &str) -> bool {
        let mut chars = s.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    fn is_float(s: &str) -> bool {
        matches!(s, "NaN" | "+Inf" | "-Inf" | "Inf")
            || (!s.is_empty()
                && s.bytes()
                    .all(|c| c.is_ascii_digit() || b".eE+-".contains(&c))
                && s.parse::<f64>().is_ok())
    }

    #[derive(Debug)]
    struct Sample {
        name: String,
        labels: Vec<(String, String)>,
        value: f64,
    }

    /// Parses one sample line by the text-format grammar:
    /// `name [ "{" label="value" { "," label="value" } [ "," ] "}" ] value [ timestamp ]`,
    /// where a value's only escapes are `\\`, `\"` and `\n`. Labels come back unescaped.
    fn parse_sample(line: &str) -> Result<Sample, String> {
        let name_end = line.find(['{', ' ']).ok_or("no value")?;
        let name = &line[..name_end];
        if !is_metric_name(name) {
            return Err(format!("bad metric name {name:?}"));
        }
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(mut r) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = r.strip_prefix('}') {
                    r = after;
                    break;
                }
                let eq = r.find('=').ok_or("label without =")?;
                let label = &r[..eq];
                if !is_label_name(label) {
                    return Err(format!("bad label name {label:?}"));
                }
                r = r[eq + 1..]
                    .strip_prefix('"')
                    .ok_or("unquoted label value")?;
                let mut value = String::new();
                let mut chars = r.char_indices();
                let end = loop {
                    match chars.next().ok_or("unterminated label value")? {
                        (i, '"') => break i,
                        (_, '\\') => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            other => return Err(format!("bad escape {other:?}")),
                        },
                        (_, '\n') => return Err("raw newline in label value".into()),
                        (_, c) => value.push(c),
                    }
                };
                labels.push((label.to_owned(), value));
                r = &r[end + 1..];
                if let Some(after) = r.strip_prefix(',') {
                    r = after;
                } else if !r.starts_with('}') {
                    return Err(format!("expected , or }} at {r:?}"));
                }
            }
            rest = r;
        }
        let rest = rest.strip_prefix(' ').ok_or("no space before value")?;
        let mut fields = rest.split(' ');
        let value = fields.next().unwrap();
        if !is_float(value) {
            return Err(format!("bad value {value:?}"));
        }
        if let Some(ts) = fields.next()
            && ts.parse::<i64>().is_err()
        {
            return Err(format!("bad timestamp {ts:?}"));
        }
        if fields.next().is_some() {
            return Err("trailing fields".into());
        }
        let names: HashSet<_> = labels.iter().map(|(n, _)| n).collect();
        if names.len() != labels.len() {
            return Err("repeated label".into());
        }
        Ok(Sample {
            name: name.to_owned(),
            labels,
            value: value.parse().unwrap_or(f64::NAN),
        })
    }

    /// Validates a whole exposition and returns its samples: every line is a HELP,
    /// TYPE or sample line; each family has exactly one HELP and one TYPE before its
    /// samples, its lines are contiguous, and no series appears twice.
    fn validate(text: &str) -> Vec<Sample> {
        check_exposition(text).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`validate`], with the first violation as an error.
    fn check_exposition(text: &str) -> Result<Vec<Sample>, String> {
        macro_rules! ensure {
            ($cond:expr, $($why:tt)*) => {
                if !$cond {
                    return Err(format!($($why)*));
                }
            };
        }
        ensure!(text.ends_with('\n'), "no final newline");
        let mut help = HashMap::<&str, usize>::new();
        let mut types = HashMap::<&str, usize>::new();
        let mut finished = HashSet::<&str>::new();
        let mut current: Option<&str> = None;
        let mut series = HashSet::new();
        let mut samples = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let family = if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap_or("");
                ensure!(is_metric_name(name), "line {n}: bad name {line:?}");
                ensure!(rest.len() > name.len() + 1, "line {n}: empty help");
                *help.entry(name).or_default() += 1;
                ensure!(help[name] == 1, "{name}: two HELP lines");
                name
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let Some((name, kind)) = rest.split_once(' ') else {
                    return Err(format!("line {n}: TYPE without type"));
                };
                ensure!(is_metric_name(name), "line {n}: bad name {line:?}");
                ensure!(kind == "gauge", "line {n}: type {kind}");
                ensure!(help.get(name) == Some(&1), "line {n}: TYPE before HELP");
                *types.entry(name).or_default() += 1;
                name
            } else {
                ensure!(!line.starts_with('#'), "line {n}: stray comment {line:?}");
                let sample = parse_sample(line).map_err(|e| format!("line {n}: {e}: {line:?}"))?;
                let name = &line[..sample.name.len()];
                ensure!(help.get(name) == Some(&1), "line {n}: sample before HELP");
                ensure!(types.get(name) == Some(&1), "line {n}: sample before TYPE");
                let key = format!("{}{:?}", sample.name, sample.labels);
                ensure!(series.insert(key), "line {n}: duplicate series {line:?}");
                samples.push(sample);
                name
            };
            if current != Some(family) {
                if let Some(previous) = current {
                    finished.insert(previous);
                }
                ensure!(!finished.contains(family), "line {n}: {family} is split");
                current = Some(family);
            }
        }
        for name in help.keys() {
            ensure!(types.get(name) == Some(&1), "{name}: no TYPE line");
        }
        Ok(samples)
    }

    /// The value of the one sample with exactly these labels.
    fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
        let want: BTreeMap<&str, &str> = labels.iter().copied().collect();
        let found: Vec<_> = samples
            .iter()
            .filter(|s| {
                s.name == name
                    && s.labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .collect::<BTreeMap<_, _>>()
                        == want
            })
            .collect();
        assert_eq!(found.len(), 1, "{name}{labels:?} in {samples:#?}");
        found[0].value
    }

    const FAMILIES: [&str; 16] = [
        "lockscan_errors",
        "lockscan_file_findings",
        "lockscan_file_info",
        "lockscan_files",
        "lockscan_findings",
        "lockscan_findings_by_severity",
        "lockscan_last_scan_timestamp_seconds",
        "lockscan_lock_held",
        "lockscan_lock_holder_age_seconds",
        "lockscan_lock_waiters",
        "lockscan_locks",
        "lockscan_pidfile_status",
        "lockscan_proc_locks_read",
        "lockscan_processes_denied",
        "lockscan_scan_duration_seconds",
        "lockscan_up",
    ];

    #[test]
    fn every_line_follows_the_text_format() {
        let text = render(&sample_report());
        validate(&text);
        let helps: Vec<_> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# HELP "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        assert_eq!(helps, FAMILIES, "families sorted by name, none missing");
    }

    #[test]
    fn expected_values_are_present() {
        let samples = validate(&render(&sample_report()));
        let cert = "/etc/letsencrypt/.certbot.lock";
        let v = |name, labels: &[(&str, &str)]| value(&samples, name, labels);
        assert_eq!(v("lockscan_up", &[]), 1.0);
        assert_eq!(v("lockscan_files", &[]), 2.0);
        assert_eq!(v("lockscan_locks", &[]), 1.0);
        assert_eq!(v("lockscan_errors", &[]), 1.0);
        assert_eq!(v("lockscan_processes_denied", &[]), 3.0);
        assert_eq!(v("lockscan_proc_locks_read", &[]), 1.0);
        assert_eq!(v("lockscan_scan_duration_seconds", &[]), 0.017);
        assert_eq!(
            v("lockscan_last_scan_timestamp_seconds", &[]),
            1_795_330_496.0
        );
        assert_eq!(
            v(
                "lockscan_file_info",
                &[("path", cert), ("kind", "lockfile")]
            ),
            1.0
        );
        assert_eq!(
            v(
                "lockscan_file_info",
                &[("path", HOSTILE_PIDFILE), ("kind", "pidfile")]
            ),
            1.0
        );
        assert_eq!(
            v(
                "lockscan_lock_held",
                &[("path", cert), ("type", "flock"), ("mode", "write")]
            ),
            1.0
        );
        assert_eq!(
            v(
                "lockscan_lock_waiters",
                &[("path", cert), ("type", "flock")]
            ),
            1.0
        );
        // The oldest of the two holders (pid 100, up an hour), not the waiter.
        assert_eq!(
            v(
                "lockscan_lock_holder_age_seconds",
                &[
                    ("path", cert),
                    ("type", "flock"),
                    ("pid", "100"),
                    ("command", "certbot")
                ]
            ),
            3600.0
        );
        assert_eq!(
            samples
                .iter()
                .filter(|s| s.name == "lockscan_lock_holder_age_seconds")
                .count(),
            1
        );
        assert_eq!(
            v(
                "lockscan_pidfile_status",
                &[
                    ("path", HOSTILE_PIDFILE),
                    ("status", "dead"),
                    ("verdict", "stale")
                ]
            ),
            1.0
        );
        assert_eq!(
            v(
                "lockscan_file_findings",
                &[
                    ("path", HOSTILE_PIDFILE),
                    ("code", "stale-pidfile"),
                    ("severity", "warning")
                ]
            ),
            1.0
        );
        for (code, severity) in [
            ("stale-pidfile", "warning"),
            ("blocked-waiters", "info"),
            ("partial-visibility", "info"),
        ] {
            assert_eq!(
                v(
                    "lockscan_findings",
                    &[("code", code), ("severity", severity)]
                ),
                1.0
            );
        }
        for (severity, count) in [("info", 2.0), ("warning", 1.0), ("error", 0.0)] {
            assert_eq!(
                v("lockscan_findings_by_severity", &[("severity", severity)]),
                count
            );
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let text = render(&sample_report());
        assert!(
            text.contains(
                "lockscan_file_info{path=\"/run/odd \\\"name\\\"\\\\dir\\nnginx.pid\",kind=\"pidfile\"} 1\n"
            ),
            "{text}"
        );
        // Parsed back, the label is the original path.
        let samples = validate(&text);
        assert!(
            samples
                .iter()
                .any(|s| s.labels.contains(&("path".into(), HOSTILE_PIDFILE.into())))
        );
    }

    #[test]
    fn command_lines_never_become_labels() {
        let text = render(&sample_report());
        assert!(!text.contains("secret-token"), "{text}");
        assert!(!text.contains("cmdline"), "{text}");
    }

    #[test]
    fn series_with_equal_labels_are_merged() {
        let mut report = sample_report();
        // A second write lock on another byte range of the same file, with an older
        // holder, and a file whose path is unknown, twice.
        let mut second = flock_write(vec![process(100, "certbot", 7200)], vec![]);
        second.start = 10;
        report.files[0].locks.push(second);
        for _ in 0..2 {
            let mut unknown = report.files[0].clone();
            unknown.path = None;
            unknown.kind = FileKind::LockedFile;
            unknown.findings.clear();
            report.files.push(unknown);
        }
        let samples = validate(&render(&report));
        let cert = "/etc/letsencrypt/.certbot.lock";
        let held = |path| {
            value(
                &samples,
                "lockscan_lock_held",
                &[("path", path), ("type", "flock"), ("mode", "write")],
            )
        };
        assert_eq!(held(cert), 2.0);
        assert_eq!(held(""), 4.0);
        assert_eq!(
            value(
                &samples,
                "lockscan_lock_holder_age_seconds",
                &[
                    ("path", cert),
                    ("type", "flock"),
                    ("pid", "100"),
                    ("command", "certbot")
                ]
            ),
            7200.0
        );
        assert_eq!(
            value(
                &samples,
                "lockscan_file_info",
                &[("path", ""), ("kind", "locked-file")]
            ),
            2.0
        );
        assert_eq!(value(&samples, "lockscan_locks", &[]), 6.0);
    }

    #[test]
    fn an_empty_report_still_declares_every_family() {
        let mut report = sample_report();
        report.files.clear();
        report.findings.clear();
        report.errors.clear();
        let text = render(&report);
        let samples = validate(&text);
        assert_eq!(text.matches("# HELP ").count(), FAMILIES.len());
        assert_eq!(text.matches("# TYPE ").count(), FAMILIES.len());
        assert_eq!(value(&samples, "lockscan_files", &[]), 0.0);
        assert_eq!(
            value(&samples, "lockscan_last_scan_timestamp_seconds", &[]),
            1_795_330_496.0
        );
        assert_eq!(
            value(
                &samples,
                "lockscan_findings_by_severity",
                &[("severity", "warning")]
            ),
            0.0
        );
    }

    #[test]
    fn output_is_deterministic() {
        let report = sample_report();
        let mut shuffled = report.clone();
        shuffled.files.reverse();
        assert_eq!(render(&report), render(&shuffled));
    }

    #[test]
    fn the_validator_rejects_malformed_expositions() {
        let head = "# HELP m h\n# TYPE m gauge\n";
        let rejects = |text: &str, why: &str| match check_exposition(text) {
            Err(e) => assert!(e.contains(why), "{text:?}: {e} (wanted {why:?})"),
            Ok(_) => panic!("{text:?} passed"),
        };
        rejects("m 1\n", "sample before HELP");
        rejects("# HELP m h\nm 1\n", "sample before TYPE");
        rejects("# HELP m h\n# HELP m h\n# TYPE m gauge\nm 1\n", "two HELP");
        rejects(
            "# HELP m h\n# TYPE m gauge\nm{a=\"x\"} 1\n# HELP n h\n# TYPE n gauge\nn 1\nm{a=\"y\"} 1\n",
            "is split",
        );
        rejects("# HELP m h\n# TYPE m gauge\nm 1", "no final newline");
        for (bad, why) in [
            ("m{a=\"x\\q\"} 1", "bad escape"),
            ("m{a=\"x\"y\"} 1", "expected , or }"),
            ("m{a=\"x\"} one", "bad value"),
            ("m{1a=\"x\"} 1", "bad label name"),
            ("m{a=\"x\",a=\"y\"} 1", "repeated label"),
            ("m{a=\"x\"}1", "no space before value"),
        ] {
            rejects(&format!("{head}{bad}\n"), why);
        }
        rejects(
            &format!("{head}m{{a=\"x\"}} 1\nm{{a=\"x\"}} 2\n"),
            "duplicate series",
        );
        validate(&format!(
            "{head}m{{a=\"\\\\ \\\" \\n\",}} -1.5e3 1700000000000\n"
        ));
    }

    #[test]
    fn values_use_plain_notation() {
        let mut s = String::new();
        for v in [0.0, 3.0, 0.017, 1_795_330_496.0, f64::NAN, f64::INFINITY] {
            format_value(v, &mut s);
            s.push(' ');
        }
        assert_eq!(s, "0 3 0.017 1795330496 NaN +Inf ");
    }
}
