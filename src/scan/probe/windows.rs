//! Windows probes. Windows keeps no table of byte-range locks that a program could
//! read, so `--probe acquire` tries a whole-file `LockFileEx` on each candidate
//! (released at once) and turns a refusal into a lock line; `--probe getlk` only
//! opens the file with full sharing, which shows an open without sharing but no
//! byte-range lock.

use super::{Outcome, ProbeMode};
use crate::lock::probe::{ByteRangeProbe, open_for_probe, probe_lockfileex};
use crate::model::{ProbeConflict, ProbeMethod, ProbeReport, ProbeResult};
use crate::scan::walk::Candidate;
use crate::sys::{LockKind, LockLine, LockMode};

/// The Windows error for "another open forbids this one" (share mode).
const ERROR_SHARING_VIOLATION: i32 = 32;

const CANDIDATES_NOTE: &str = "Windows cannot tell which handle holds a byte-range lock: \
the processes that have the file open are listed as candidate holders";

const OPEN_WITHOUT_SHARING_NOTE: &str = "a process has the file open without sharing \
(share mode 0), which on Windows is itself a lock: nobody else can open it until that handle \
is closed; byte-range locks could not be checked";

fn outcome(method: ProbeMethod, result: ProbeResult, note: &str) -> Outcome {
    Outcome {
        report: ProbeReport {
            method,
            result,
            conflict: None,
            note: Some(note.into()),
        },
        lock: None,
    }
}

pub(super) fn probe(c: &Candidate, _leased: bool, mode: ProbeMode) -> Outcome {
    match mode {
        ProbeMode::None | ProbeMode::Getlk => match open_for_probe(&c.path) {
            Ok(_) => outcome(
                ProbeMethod::Open,
                ProbeResult::NotChecked,
                "the file opens with full sharing; Windows cannot report a byte-range lock \
without trying to take one (use --probe acquire for a momentary LockFileEx)",
            ),
            Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION) => outcome(
                ProbeMethod::Open,
                ProbeResult::OpenWithoutSharing,
                OPEN_WITHOUT_SHARING_NOTE,
            ),
            Err(e) => outcome(ProbeMethod::Open, ProbeResult::Error, &e.to_string()),
        },
        ProbeMode::Acquire => match probe_lockfileex(&c.path) {
            Ok(ByteRangeProbe::Free) => outcome(
                ProbeMethod::LockFileEx,
                ProbeResult::Free,
                "a whole-file LockFileEx was granted and released at once: no byte-range \
lock is held",
            ),
            Ok(p @ (ByteRangeProbe::HeldShared | ByteRangeProbe::HeldExclusive)) => {
                let mode = if p == ByteRangeProbe::HeldShared {
                    LockMode::Read
                } else {
                    LockMode::Write
                };
                let mut o = outcome(ProbeMethod::LockFileEx, ProbeResult::Held, CANDIDATES_NOTE);
                o.report.conflict = Some(ProbeConflict {
                    kind: LockKind::LockFileEx,
                    mode,
                    start: 0,
                    end: None,
                    pid: None,
                });
                o.lock = c.key.map(|key| LockLine {
                    ordinal: 0,
                    depth: 0,
                    kind: LockKind::LockFileEx,
                    mandatory: false,
                    lease_state: None,
                    mode,
                    pid: -1,
                    key: Some(key),
                    start: 0,
                    end: None,
                });
                o
            }
            Ok(ByteRangeProbe::OpenWithoutSharing) => outcome(
                ProbeMethod::LockFileEx,
                ProbeResult::OpenWithoutSharing,
                OPEN_WITHOUT_SHARING_NOTE,
            ),
            Err(e) => outcome(ProbeMethod::LockFileEx, ProbeResult::Error, &e.to_string()),
        },
    }
}
