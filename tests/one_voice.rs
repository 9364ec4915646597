//! One decision per file, said in one voice: over every convention and every
//! verdict its rules can reach, with the findings a file of that convention can
//! raise, neither the advice nor any hint tells the operator to remove the file
//! unless the delete verdict is `yes`.

#![cfg(target_os = "linux")]

mod common;

use common::says_remove;
use lockscan::diagnose::{Context, diagnose};
use lockscan::model::*;
use lockscan::scan::catalog::{self, Facts, PidState};
use lockscan::sys::Snapshot;

/// A pidfile of `conv` whose pid is dead (stale-pidfile), reused by another program
/// (pid-reused) or not a pid (invalid-pidfile), with the given delete verdict.
fn file(
    conv: &catalog::Convention,
    verdict: DeleteVerdict,
    reason: String,
    status: PidStatus,
) -> FileReport {
    let (pid, pid_verdict) = match status {
        PidStatus::Invalid => (None, PidVerdict::Unknown),
        _ => (Some(4242), PidVerdict::Stale),
    };
    FileReport {
        path: Some(format!("/srv/{}", conv.name)),
        path_bytes: None,
        kind: FileKind::Pidfile,
        device: None,
        inode: Some(1),
        file_type: Some(FileType::Regular),
        size: Some(5),
        mode: Some(Perm(0o644)),
        uid: Some(0),
        owner: Some("root".into()),
        mtime: None,
        dir_mode: Some(Perm(0o755)),
        dir_uid: Some(0),
        deleted: false,
        replaced: false,
        symlink_target: None,
        filesystem: None,
        locks: vec![],
        open_by: vec![],
        pidfile: Some(Box::new(PidfileReport {
            pid,
            verdict: pid_verdict,
            status,
            reason: Some("why".into()),
            host: None,
            process: None,
        })),
        convention: Some(std::sync::Arc::new(ConventionReport {
            name: conv.name.into(),
            program: conv.program.into(),
            discipline: conv.discipline,
            error_message: None,
            next_run_says: None,
            blocks_next_run: conv.leftover_blocks,
        })),
        safe_to_delete: Some(SafeToDelete {
            verdict,
            reason: reason.into(),
        }),
        probe: None,
        findings: vec![],
        lock_state: LockState::Free,
        lock_state_reason: None,
        advice: Advice::default(),
    }
}

#[test]
fn nothing_says_remove_unless_the_verdict_is_yes() {
    let pids = [
        PidState::NoPid,
        PidState::Alive,
        PidState::Dead,
        PidState::Reused,
        PidState::OtherHost,
        PidState::Unknown,
    ];
    let gaps = [
        None,
        Some("other processes could not be inspected".to_string()),
    ];
    let (mut checked, mut not_yes) = (0, 0);
    for conv in catalog::all() {
        for bits in 0..4u8 {
            for pid in pids {
                for open_gap in &gaps {
                    for (kernel_gap, lock_unresolved) in
                        gaps.iter().flat_map(|k| gaps.iter().map(move |l| (k, l)))
                    {
                        for dirty in [None, Some(true), Some(false)] {
                            let facts = Facts {
                                kernel_locked: bits & 1 != 0,
                                open_by_any: bits & 2 != 0,
                                open_gap: open_gap.clone(),
                                kernel_gap: kernel_gap.clone(),
                                lock_unresolved: lock_unresolved.clone(),
                                pid,
                                age_secs: Some(100_000),
                                same_host: Some(true),
                                dirty,
                                program: Some(vec![]),
                                program_certain: true,
                            };
                            let (verdict, reason) = catalog::safe_to_delete(conv, &facts);
                            for status in [PidStatus::Dead, PidStatus::Running, PidStatus::Invalid]
                            {
                                let mut report = Report {
                                    schema_version: SCHEMA_VERSION,
                                    lockscan_version: "0".into(),
                                    host: "h".into(),
                                    platform: Platform::Linux,
                                    generated_at: Timestamp(0),
                                    roots: vec![],
                                    files: vec![file(conv, verdict, reason.clone(), status)],
                                    findings: vec![],
                                    errors: vec![],
                                    visibility: VisibilityReport::default(),
                                    stats: Stats::default(),
                                };
                                diagnose(
                                    &mut report,
                                    &Context {
                                        snap: &Snapshot::default(),
                                        max_age: None,
                                    },
                                );
                                let f = &report.files[0];
                                checked += 1;
                                if verdict == DeleteVerdict::Yes {
                                    continue;
                                }
                                not_yes += 1;
                                let ctx = || format!("{} {facts:?} {status:?}: {f:#?}", conv.name);
                                assert_ne!(f.advice.action, AdviceAction::Remove, "{}", ctx());
                                assert!(!says_remove(&f.advice.text), "{}", ctx());
                                for finding in &f.findings {
                                    assert_ne!(finding.action, AdviceAction::Remove, "{}", ctx());
                                    assert!(!says_remove(&finding.hint), "{}", ctx());
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(not_yes > 1000 && checked > not_yes, "{checked} {not_yes}");
}

#[test]
fn the_check_recognises_a_remove() {
    assert!(says_remove("Remove the file and start again"));
    assert!(says_remove("Safe to remove it: rm /x"));
    assert!(!says_remove("leave it; removal would break exclusion"));
}
