//! Explicit probes (`--probe`): testing each candidate's lock directly, one stage of
//! the scan on every platform (after the examination, before correlation).
//!
//! Linux asks `F_OFD_GETLK` (takes nothing) and, with `acquire`, tries a momentary
//! flock; what it finds is reported beside the lock table's facts. Windows keeps no
//! lock table, so there a probe is the only way to see a byte-range lock at all, and
//! a lock it finds becomes a lock line that correlation treats like any other.
//! Files that carry a lease or delegation are never opened (an open would start a
//! lease break).

use std::collections::HashMap;
use std::path::PathBuf;

use super::walk::Candidate;
use crate::model::ProbeReport;
use crate::sys::{FileType, LockLine, Snapshot};

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

#[cfg(unix)]
use unix as platform;
#[cfg(windows)]
use windows as platform;

/// Whether (and how) to test locks directly on each file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeMode {
    /// Only read the kernel's tables (default): nothing is opened for locking.
    #[default]
    None,
    /// `F_OFD_GETLK` on each lockfile: asks the kernel about POSIX/OFD conflicts
    /// without taking anything (Windows: an open with full sharing).
    Getlk,
    /// Also a momentary lock attempt, released at once. Intrusive: while it is
    /// held, the real owner's non-blocking attempt would fail.
    Acquire,
}

/// What one probe found: the report, and on Windows the lock it proved.
pub struct Outcome {
    pub report: ProbeReport,
    /// A lock the probe proved that no table lists (Windows `LockFileEx`).
    pub lock: Option<LockLine>,
}

/// What the probes found.
#[derive(Debug, Default)]
pub struct Probed {
    /// By candidate path.
    pub reports: HashMap<PathBuf, ProbeReport>,
    /// Locks only a probe could see, to be added to the snapshot's lock table.
    pub lock_lines: Vec<LockLine>,
}

#[cfg(target_os = "linux")]
fn guarded_probe(
    snap: &Snapshot,
    m: &crate::sys::Mount,
    c: &Candidate,
    leased: bool,
    mode: ProbeMode,
) -> Outcome {
    let answer = snap.guarded(m, "probing a lock", |_| {
        let o = platform::probe(c, leased, mode);
        let mut e = super::wire::Enc::default();
        e.probe(&o.report);
        e.0
    });
    let report = answer
        .and_then(|b| super::wire::Dec::new(&b).probe().ok())
        .unwrap_or_else(|| ProbeReport {
            method: crate::model::ProbeMethod::Getlk,
            result: crate::model::ProbeResult::Skipped,
            conflict: None,
            note: Some(format!(
                "not probed: the server of {} ({}) did not answer",
                m.mount_point.display(),
                m.fstype
            )),
        });
    Outcome { report, lock: None }
}

/// Probes every regular-file candidate (nothing when `mode` is `None`).
pub fn run(snap: &Snapshot, cands: &[Candidate], mode: ProbeMode) -> Probed {
    let mut out = Probed::default();
    if mode == ProbeMode::None {
        return out;
    }
    let leased = snap.leased_keys();
    for c in cands {
        if c.stat.file_type != FileType::Regular {
            continue;
        }
        let is_leased = c.key.is_some_and(|k| leased.contains(&k));
        // Windows calls are not left waiting uninterruptibly on a server, and a
        // probe there may find a lock that must come back whole: run it in place.
        #[cfg(target_os = "linux")]
        let served = snap.served_mount(c.stat.mnt_id);
        #[cfg(not(target_os = "linux"))]
        let served: Option<&crate::sys::Mount> = None;
        let o = match served {
            // A probe opens the file and asks its filesystem (NFS asks its server's
            // lock manager): through a helper process that may be abandoned.
            #[cfg(target_os = "linux")]
            Some(m) => guarded_probe(snap, m, c, is_leased, mode),
            #[cfg(not(target_os = "linux"))]
            Some(_) => platform::probe(c, is_leased, mode),
            None => platform::probe(c, is_leased, mode),
        };
        out.lock_lines.extend(o.lock);
        out.reports.insert(c.path.clone(), o.report);
    }
    out
}
