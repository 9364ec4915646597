use super::{About, Context, Found, Rule};
use crate::model::{AdviceAction, FindingCode, Platform, Report, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::PartialVisibility,
    severity: Severity::Info,
    explanation: "Part of the system could not be seen: other users' open files need root (or \
CAP_SYS_PTRACE) to read, /proc mounted with hidepid= hides other users' processes, and a /proc in \
a child pid namespace (a container) hides locks held outside it. \
On Windows, the handles of processes that cannot be opened with PROCESS_DUP_HANDLE (services \
and other users' processes, unless elevated) are not seen. Holders may be missing from the \
report; lockscan never concludes \"not held\" from that.",
    file: None,
    global: Some(check),
};

fn check(_report: &Report, ctx: &Context) -> Vec<(Found, About)> {
    let snap = ctx.snap;
    let v = &snap.visibility;
    let windows = snap.platform == Platform::Windows;
    let mut parts = Vec::new();
    if windows && !v.handle_table_read {
        parts.push("the system handle table could not be read".to_string());
    } else if !windows && !v.proc_locks_read {
        parts.push("/proc/locks could not be read".to_string());
    }
    if v.processes_denied > 0 {
        let mut named: Vec<String> = v
            .denied_pids
            .iter()
            .take(5)
            .map(|p| match snap.process_names.get(p) {
                Some(n) => format!("{p} {n}"),
                None => p.to_string(),
            })
            .collect();
        if v.denied_pids.len() > 5 {
            named.push("...".into());
        }
        parts.push(format!(
            "the open {} of {} of {} processes could not be read (pid {}); files they may hold open are never called unused",
            if windows { "handles" } else { "files" },
            v.processes_denied,
            v.processes_seen,
            named.join(", ")
        ));
    }
    if v.pid_namespace_filtered {
        parts.push(
            "/proc belongs to a child pid namespace (a container's view), whose lock table leaves \
out every lock held by a process outside it; POSIX and OFD locks there were asked about with \
F_OFD_GETLK, but a flock lock held outside cannot be seen at all"
                .into(),
        );
    }
    if let Some(opts) = &v.proc_restricted {
        parts.push(format!(
            "/proc is mounted with {opts}, which hides other users' processes (and the files \
they hold open) from this scan"
        ));
    }
    if parts.is_empty() {
        return Vec::new();
    }
    vec![(
        Found {
            message: parts.join("; "),
            hint: if v.pid_namespace_filtered {
                "Run lockscan on the host (the initial pid namespace) for the whole picture, or in \
a container that shares the host's pid namespace (`docker run --pid=host`, `hostPID: true`)."
                    .into()
            } else if v.proc_restricted.is_some() {
                "Run as root (sudo lockscan ...), or as a member of /proc's gid= group, to see \
every holder."
                    .into()
            } else if !v.root && windows {
                "Run lockscan from an elevated prompt (Run as administrator) to see every holder."
                    .into()
            } else if !v.root {
                "Run as root (sudo lockscan ...) to see every holder.".into()
            } else {
                "Even root may not inspect some processes (another user namespace, a sandbox's init); \
holders among them are not shown. If you know they touch none of these files, pass \
--ignore-pid PID."
                .into()
            },
            action: AdviceAction::Investigate,
            severity: None,
        },
        About::Scan,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::sample::sample_report;
    use crate::sys::Snapshot;

    fn verdicts(snap: &Snapshot) -> Vec<Found> {
        let ctx = Context {
            snap,
            max_age: None,
        };
        check(&sample_report(), &ctx)
            .into_iter()
            .map(|(v, _)| v)
            .collect()
    }

    #[test]
    fn windows_denied_processes_are_named_with_handle_wording_and_an_elevation_hint() {
        let mut snap = Snapshot {
            platform: Platform::Windows,
            ..Default::default()
        };
        snap.visibility.handle_table_read = true;
        snap.visibility.processes_seen = 40;
        snap.visibility.denied_pids = vec![4, 612];
        snap.visibility.processes_denied = 2;
        snap.process_names.insert(612, "svchost.exe".into());
        let v = verdicts(&snap);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].message.contains("open handles of 2 of 40 processes"),
            "{}",
            v[0].message
        );
        assert!(v[0].message.contains("612 svchost.exe"), "{}", v[0].message);
        assert!(
            !v[0].message.contains("/proc/locks"),
            "no lock table on Windows"
        );
        assert!(v[0].hint.contains("Run as administrator"), "{}", v[0].hint);
    }

    #[test]
    fn windows_without_a_handle_table_says_so_and_nothing_about_proc_locks() {
        let snap = Snapshot {
            platform: Platform::Windows,
            ..Default::default()
        };
        let v = verdicts(&snap);
        assert_eq!(v.len(), 1);
        assert!(v[0].message.contains("handle table could not be read"));
        assert!(!v[0].message.contains("/proc/locks"));
    }

    #[test]
    fn windows_with_everything_visible_reports_nothing() {
        let mut snap = Snapshot {
            platform: Platform::Windows,
            ..Default::default()
        };
        snap.visibility.handle_table_read = true;
        assert!(verdicts(&snap).is_empty());
    }

    fn linux() -> Snapshot {
        let mut snap = Snapshot {
            platform: Platform::Linux,
            ..Default::default()
        };
        snap.visibility.proc_locks_read = true;
        snap.visibility.root = true;
        snap.visibility.processes_seen = 90;
        snap
    }

    #[test]
    fn linux_with_everything_visible_reports_nothing() {
        assert!(verdicts(&linux()).is_empty());
    }

    #[test]
    fn linux_unreadable_lock_table_is_said_first() {
        let mut snap = linux();
        snap.visibility.proc_locks_read = false;
        let v = verdicts(&snap);
        assert_eq!(v.len(), 1);
        assert!(
            v[0].message.contains("/proc/locks could not be read"),
            "{}",
            v[0].message
        );
    }

    #[test]
    fn linux_denied_processes_are_named_and_the_hint_depends_on_root() {
        let mut snap = linux();
        snap.visibility.denied_pids = vec![1, 2, 3, 4, 5, 6];
        snap.visibility.processes_denied = 6;
        snap.process_names.insert(1, "systemd".into());
        let v = verdicts(&snap);
        assert!(
            v[0].message
                .contains("the open files of 6 of 90 processes could not be read (pid 1 systemd, 2, 3, 4, 5, ...)"),
            "{}",
            v[0].message
        );
        assert!(v[0].hint.contains("--ignore-pid"), "{}", v[0].hint);
        snap.visibility.root = false;
        let v = verdicts(&snap);
        assert!(v[0].hint.contains("Run as root"), "{}", v[0].hint);
    }

    #[test]
    fn linux_child_pid_namespace_sends_the_operator_to_the_host() {
        let mut snap = linux();
        snap.visibility.pid_namespace_filtered = true;
        let v = verdicts(&snap);
        assert!(
            v[0].message.contains("child pid namespace"),
            "{}",
            v[0].message
        );
        assert!(v[0].hint.contains("on the host"), "{}", v[0].hint);
        assert_eq!(v[0].action, AdviceAction::Investigate);
    }
}
