//! Linux probes: `F_OFD_GETLK` for POSIX and OFD conflicts, and with `acquire` a
//! momentary flock from a fresh open file description.

use super::{Outcome, ProbeMode};
use crate::lock::probe::{self, FlockProbe};
use crate::lock::{Mechanism, Mode};
use crate::model::{LockKind, LockMode, ProbeConflict, ProbeMethod, ProbeReport, ProbeResult};
use crate::scan::walk::Candidate;

fn report(method: ProbeMethod, result: ProbeResult, note: Option<String>) -> ProbeReport {
    ProbeReport {
        method,
        result,
        conflict: None,
        note,
    }
}

pub(super) fn probe(c: &Candidate, leased: bool, mode: ProbeMode) -> Outcome {
    if leased {
        return Outcome {
            report: report(
                ProbeMethod::Getlk,
                ProbeResult::Skipped,
                Some("the file carries a lease; opening it would start a lease break".into()),
            ),
            lock: None,
        };
    }
    // The file the walk found, opened with no symlink in any component: a path
    // swapped meanwhile is refused, never probed (let alone locked).
    let want = probe::FileIdentity {
        dev_major: c.stat.st_dev.0,
        dev_minor: c.stat.st_dev.1,
        ino: c.stat.ino,
    };
    let file = probe::open_for_probe_beneath(rustix::fs::CWD, &c.path, Some(want));
    let mut r = match file
        .as_ref()
        .map_err(|e| std::io::Error::new(e.kind(), e.to_string()))
        .and_then(|f| probe::getlk(f, Mode::Exclusive))
    {
        Ok(None) => report(
            ProbeMethod::Getlk,
            ProbeResult::Free,
            Some(
                "no POSIX or OFD lock conflicts with a whole-file write lock (flock locks are \
                 invisible to this probe)"
                    .into(),
            ),
        ),
        Ok(Some(conflict)) => ProbeReport {
            method: ProbeMethod::Getlk,
            result: ProbeResult::Held,
            conflict: Some(ProbeConflict {
                kind: match conflict.mechanism {
                    Mechanism::Posix => LockKind::Posix,
                    Mechanism::Ofd => LockKind::Ofd,
                    Mechanism::Flock => LockKind::Flock,
                    Mechanism::LockFileEx => LockKind::LockFileEx,
                },
                mode: match conflict.mode {
                    Mode::Shared => LockMode::Read,
                    Mode::Exclusive => LockMode::Write,
                },
                start: conflict.start,
                end: conflict.end,
                pid: conflict.pid,
            }),
            note: None,
        },
        Err(e) => report(ProbeMethod::Getlk, ProbeResult::Error, Some(e.to_string())),
    };
    if mode == ProbeMode::Acquire
        && r.result != ProbeResult::Error
        && let Ok(file) = &file
    {
        match probe::probe_flock_acquiring_file(file, &c.path) {
            Ok(found) => {
                r.method = ProbeMethod::GetlkAcquire;
                let flock = match found {
                    FlockProbe::Free => ProbeResult::Free,
                    FlockProbe::HeldShared => ProbeResult::HeldShared,
                    FlockProbe::HeldExclusive => ProbeResult::HeldExclusive,
                };
                if r.result == ProbeResult::Free {
                    r.result = flock;
                }
                r.note = Some(format!(
                    "flock probe (momentary, released at once): {flock}"
                ));
            }
            Err(e) => r.note = Some(format!("flock probe failed: {e}")),
        }
    }
    Outcome {
        report: r,
        lock: None,
    }
}
