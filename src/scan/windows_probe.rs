//! Windows lock probes. Windows keeps no table of byte-range locks that a program
//! could read, so `--probe acquire` tries a whole-file `LockFileEx` on each candidate
//! (released at once) and turns a refusal into a lock line; `--probe getlk` only
//! opens the file with full sharing, which shows an open without sharing but no
//! byte-range lock.

use std::collections::HashMap;
use std::path::PathBuf;

use super::ProbeMode;
use super::walk::Candidate;
use crate::lock::probe::{ByteRangeProbe, open_for_probe, probe_lockfileex};
use crate::report::{ProbeConflict, ProbeReport};
use crate::sys::{LockKind, LockLine, LockMode, Snapshot};

/// The Windows error for "another open forbids this one" (share mode).
const ERROR_SHARING_VIOLATION: i32 = 32;

const CANDIDATES_NOTE: &str = "Windows cannot tell which handle holds a byte-range lock: \
the processes that have the file open are listed as candidate holders";

const OPEN_WITHOUT_SHARING_NOTE: &str = "a process has the file open without sharing \
(share mode 0), which on Windows is itself a lock: nobody else can open it until that handle \
is closed; byte-range locks could not be checked";

fn report(method: &str, result: &str, conflict: Option<ProbeConflict>, note: &str) -> ProbeReport {
    ProbeReport {
        method: method.into(),
        result: result.into(),
        conflict,
        note: Some(note.into()),
    }
}

/// Probes every regular-file candidate; held locks are added to `snap.locks`.
pub fn probe_candidates(
    snap: &mut Snapshot,
    cands: &[Candidate],
    mode: ProbeMode,
) -> HashMap<PathBuf, ProbeReport> {
    let mut out = HashMap::new();
    if mode == ProbeMode::None {
        return out;
    }
    for c in cands {
        if c.stat.file_type != "regular" {
            continue;
        }
        let r = match mode {
            ProbeMode::None => continue,
            ProbeMode::Getlk => match open_for_probe(&c.path) {
                Ok(_) => report(
                    "open",
                    "not-checked",
                    None,
                    "the file opens with full sharing; Windows cannot report a byte-range lock \
without trying to take one (use --probe acquire for a momentary LockFileEx)",
                ),
                Err(e) if e.raw_os_error() == Some(ERROR_SHARING_VIOLATION) => report(
                    "open",
                    "open-without-sharing",
                    None,
                    OPEN_WITHOUT_SHARING_NOTE,
                ),
                Err(e) => report("open", "error", None, &e.to_string()),
            },
            ProbeMode::Acquire => match probe_lockfileex(&c.path) {
                Ok(ByteRangeProbe::Free) => report(
                    "lockfileex",
                    "free",
                    None,
                    "a whole-file LockFileEx was granted and released at once: no byte-range \
lock is held",
                ),
                Ok(p @ (ByteRangeProbe::HeldShared | ByteRangeProbe::HeldExclusive)) => {
                    let lock_mode = if p == ByteRangeProbe::HeldShared {
                        LockMode::Read
                    } else {
                        LockMode::Write
                    };
                    if let Some(key) = c.key {
                        let ordinal = snap.locks.lines.len() as u64 + 1;
                        snap.locks.lines.push(LockLine {
                            ordinal,
                            depth: 0,
                            kind: LockKind::LockFileEx,
                            mandatory: false,
                            lease_state: None,
                            mode: lock_mode,
                            pid: -1,
                            key: Some(key),
                            start: 0,
                            end: None,
                        });
                        snap.locks.blocker.push(None);
                    }
                    report(
                        "lockfileex",
                        "held",
                        Some(ProbeConflict {
                            kind: "lockfileex".into(),
                            mode: lock_mode.as_str().into(),
                            start: 0,
                            end: None,
                            pid: None,
                        }),
                        CANDIDATES_NOTE,
                    )
                }
                Ok(ByteRangeProbe::OpenWithoutSharing) => report(
                    "lockfileex",
                    "open-without-sharing",
                    None,
                    OPEN_WITHOUT_SHARING_NOTE,
                ),
                Err(e) => report("lockfileex", "error", None, &e.to_string()),
            },
        };
        out.insert(c.path.clone(), r);
    }
    out
}
