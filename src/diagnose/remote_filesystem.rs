use super::{Context, Found, Rule};
use crate::model::{AdviceAction, FileReport, FindingCode, Locality, LockKind, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::RemoteFilesystem,
    severity: Severity::Warning,
    explanation: "The lockfile is on a network, cluster or FUSE filesystem (NFS, SMB/CIFS, CephFS, \
AFS, 9p, virtiofs, Lustre, GlusterFS, FUSE, ...). This kernel only sees its own processes' locks: \
holders on other hosts are invisible here, locks may be local-only (NFS local_lock=, SMB nobrl, \
Lustre localflock, FUSE daemons without lock support, QEMU 9p), flock is emulated as a POSIX lock \
on NFS and SMB, and locks can be lost when a server restarts.",
    file: Some(check),
    global: None,
};

/// Mount options that change lock semantics, as printed in mountinfo.
const LOCK_OPTIONS: &[&str] = &[
    "local_lock=",
    "nolock",
    "nobrl",
    "localflock",
    "localflocks",
    "flock=",
    "noflock",
];

fn check(file: &FileReport, _ctx: &Context) -> Option<Found> {
    let fs = file.filesystem.as_ref().filter(|f| f.remote)?;
    let opts: Vec<&str> = fs
        .options
        .split(',')
        .filter(|o| LOCK_OPTIONS.iter().any(|l| o.starts_with(l)))
        .collect();
    let flock = file.locks.iter().any(|l| l.kind == LockKind::Flock);
    let t = fs.fstype.as_str();
    let mut what = match fs.locality {
        Locality::Fuse => format!(
            "on FUSE ({t}): if the daemon implements locking, locks go to it and do not show here; \
if not, they are local to this host only"
        ),
        Locality::Cluster => {
            format!("on the cluster filesystem {t}: other nodes' locks are not visible here")
        }
        _ => format!("on the network filesystem {t}: other clients' locks are not visible here"),
    };
    if flock && (t.starts_with("nfs") || t == "cifs" || t == "smb3") {
        what.push_str("; flock is emulated as a whole-file POSIX lock on this filesystem");
    }
    if !opts.is_empty() {
        what.push_str(&format!(
            "; mount options affecting locks: {}",
            opts.join(",")
        ));
    }
    Some(Found {
        message: what,
        hint: format!(
            "Check for holders on the other hosts that mount {} (from {}); prefer a lock on a \
local filesystem (e.g. /run/lock) when only this host needs exclusion.",
            fs.mount_point, fs.source
        ),
        action: AdviceAction::Investigate,
        severity: None,
    })
}
