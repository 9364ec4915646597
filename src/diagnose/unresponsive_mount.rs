use super::{About, Context, Found, Rule};
use crate::model::{AdviceAction, FindingCode, Report, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::UnresponsiveMount,
    severity: Severity::Warning,
    explanation: "A network, cluster or FUSE filesystem's server left one of lockscan's calls \
unanswered for longer than --mount-timeout. lockscan never waits on such a server itself: the \
call ran in a helper process, which was abandoned, and nothing more was asked of that mount. \
Files on it were not walked or read; locks on it are reported from what /proc shows of their \
holders. Processes that touch the mount hang the same way: check the server (or the FUSE \
daemon) and the network, or unmount it (umount -f, umount -l; for FUSE, \
/sys/fs/fuse/connections/N/abort).",
    file: None,
    global: Some(check),
};

fn check(_report: &Report, ctx: &Context) -> Vec<(Found, About)> {
    ctx.snap
        .unresponsive_mounts()
        .iter()
        .map(|u| {
            let point = u.mount_point.to_string_lossy().into_owned();
            (
                Found {
                    message: format!(
                        "the {} filesystem at {point} (from {}) did not answer within {} ms while \
                         lockscan was {}: nothing on it was walked or read",
                        u.fstype, u.source, u.waited_ms, u.during
                    ),
                    hint: format!(
                        "Check the server or FUSE daemon behind {point}; `timeout 5 stat {point}` \
                         shows whether it answers again. Files on it are not in this report."
                    ),
                    action: AdviceAction::Investigate,
                    severity: None,
                },
                About::Path(u.mount_point.clone()),
            )
        })
        .collect()
}
