//! A small report for the renderers' and rules' unit tests: two files (a held
//! flock with a waiter; a stale pidfile with a hostile name) and a global finding.

use super::*;

/// A path with every character the Prometheus label format must escape.
pub(crate) const HOSTILE_PIDFILE: &str = "/run/odd \"name\"\\dir\nnginx.pid";

pub(crate) fn finding(code: FindingCode, severity: Severity, path: Option<&str>) -> Finding {
    Finding {
        code,
        severity,
        message: format!("{code} message"),
        hint: format!("{code} hint"),
        path: path.map(Into::into),
        path_bytes: None,
        action: AdviceAction::Investigate,
    }
}

pub(crate) fn file(path: &str, kind: FileKind) -> FileReport {
    FileReport {
        path: Some(path.into()),
        path_bytes: None,
        kind,
        device: Some(Device {
            major: 254,
            minor: 0,
        }),
        inode: Some(4242),
        file_type: Some(FileType::Regular),
        size: Some(0),
        mode: Some(Perm(0o644)),
        uid: Some(0),
        owner: Some("root".into()),
        mtime: Some(Timestamp(1_795_327_200)),
        dir_mode: Some(Perm(0o755)),
        dir_uid: Some(0),
        deleted: false,
        replaced: false,
        symlink_target: None,
        filesystem: None,
        locks: vec![],
        open_by: vec![],
        pidfile: None,
        convention: None,
        safe_to_delete: None,
        probe: None,
        findings: vec![],
        lock_state: LockState::Free,
        lock_state_reason: None,
        advice: Advice::default(),
    }
}

pub(crate) fn process(pid: i32, command: &str, age_seconds: u64) -> ProcessRef {
    ProcessRef {
        pid,
        command: Some(command.into()),
        cmdline: Some(format!("/usr/bin/{command} --secret-token=xyz")),
        uid: Some(0),
        user: Some("root".into()),
        age_seconds: Some(age_seconds),
        state: Some(ProcessState::Sleeping),
        fd: Some(3),
        ..Default::default()
    }
}

pub(crate) fn flock_write(holders: Vec<ProcessRef>, waiters: Vec<ProcessRef>) -> LockReport {
    LockReport {
        kind: LockKind::Flock,
        mode: LockMode::Write,
        start: 0,
        end: None,
        lease_state: None,
        locker_pid: holders.first().map(|h| h.pid),
        locker_alive: Some(true),
        holder_evidence: HolderEvidence::Fdinfo,
        holders,
        waiters: waiters
            .into_iter()
            .map(|process| WaiterRef {
                process,
                mode: LockMode::Write,
                start: 0,
                end: None,
                depth: 1,
                blocked_by: Some(100),
            })
            .collect(),
        unidentified_waiters: Vec::new(),
        holders_uncertain: false,
        role: None,
        range_count: None,
        ranges: Vec::new(),
    }
}

/// Two files (a held flock with a waiter; a stale pidfile with a finding) and one
/// global finding. Shared with the Prometheus tests.
pub(crate) fn sample_report() -> Report {
    let mut certbot = file("/etc/letsencrypt/.certbot.lock", FileKind::Lockfile);
    certbot.locks.push(flock_write(
        vec![process(100, "certbot", 3600), process(101, "certbot", 60)],
        vec![process(200, "certbot", 900)],
    ));
    certbot.findings.push(finding(
        FindingCode::BlockedWaiters,
        Severity::Info,
        certbot.path.as_deref(),
    ));

    let mut nginx = file(HOSTILE_PIDFILE, FileKind::Pidfile);
    nginx.size = Some(5);
    nginx.pidfile = Some(Box::new(PidfileReport {
        pid: Some(4191),
        verdict: PidVerdict::Stale,
        status: PidStatus::Dead,
        reason: None,
        host: None,
        process: None,
    }));
    nginx.findings.push(finding(
        FindingCode::StalePidfile,
        Severity::Warning,
        Some(HOSTILE_PIDFILE),
    ));

    Report {
        schema_version: SCHEMA_VERSION,
        lockscan_version: "0.1.0".into(),
        host: "vm".into(),
        platform: Platform::Linux,
        generated_at: Timestamp(1_795_330_496),
        roots: vec!["/etc/letsencrypt".into(), "/run".into()],
        files: vec![certbot, nginx],
        findings: vec![finding(
            FindingCode::PartialVisibility,
            Severity::Info,
            None,
        )],
        errors: vec![ErrorEntry {
            path: "/run/initctl".into(),
            path_bytes: None,
            error: "FIFO: skipped".into(),
        }],
        visibility: VisibilityReport {
            root: false,
            proc_locks_read: true,
            processes_seen: 78,
            processes_denied: 3,
            ..Default::default()
        },
        stats: Stats {
            duration_ms: 17,
            lock_lines: 2,
            fds_examined: 43,
            entries_walked: 12,
        },
    }
}
