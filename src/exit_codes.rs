//! Exit codes for scripts.

use crate::model::{Report, Severity};

/// The scan ran and found nothing at warning level or above.
pub const OK: i32 = 0;
/// The scan ran and found at least one finding at warning level or above.
pub const FINDINGS: i32 = 1;
/// The scan could not run: bad arguments, a PATH that does not exist.
pub const CANNOT_RUN: i32 = 2;

/// The exit code for a finished scan.
pub fn for_report(report: &Report, threshold: Severity) -> i32 {
    if report.all_findings().any(|f| f.severity >= threshold) {
        FINDINGS
    } else {
        OK
    }
}
