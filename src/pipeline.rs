//! A whole scan: the scanner's facts, then the diagnosis. The one place that puts
//! the layers together, so that each of them depends only on those below it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use crate::diagnose::{self, Context};
use crate::model::{ProbeReport, Report};
use crate::scan::walk::WalkResult;
use crate::scan::{self, ScanError, ScanOptions};
use crate::sys::Snapshot;

/// Scans this system and returns the finished report.
pub fn scan(opts: &ScanOptions) -> Result<Report, ScanError> {
    let started = Instant::now();
    let scan::Collected { snap, mut report } = scan::collect(opts)?;
    let t = crate::sys::timing::stage("diagnose");
    diagnose::diagnose(&mut report, &context(&snap, opts));
    drop(t);
    report.stats.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The finished report for a described system (no I/O): [`scan::assemble`], then
/// the diagnosis. `duration_ms` is 0.
pub fn report_for(
    snap: &Snapshot,
    roots: &[PathBuf],
    walked: WalkResult,
    probes: HashMap<PathBuf, ProbeReport>,
    opts: &ScanOptions,
) -> Report {
    let mut report = scan::assemble(snap, roots, walked, probes, opts);
    diagnose::diagnose(&mut report, &context(snap, opts));
    report
}

fn context<'a>(snap: &'a Snapshot, opts: &ScanOptions) -> Context<'a> {
    Context {
        snap,
        max_age: opts.max_age,
    }
}
