//! Whether a recognised file is stale and whether it may be deleted, from the facts
//! the scanner established. No I/O; every answer is three-way and never "stale" or
//! "yes" on missing evidence.

use super::{Convention, Discipline, LockSite, ProgramScope};
use crate::model::DeleteVerdict;

/// What became of the pid a file records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PidState {
    /// The file records no usable pid (or the convention has none).
    #[default]
    NoPid,
    /// Running, and (when checkable) the right program.
    Alive,
    /// Not running (ESRCH), or a zombie.
    Dead,
    /// Running, but another program (exe mismatch) or the file predates the boot.
    Reused,
    /// Recorded by another host: cannot be checked from here.
    OtherHost,
    /// Could not be checked.
    Unknown,
}

/// Facts the scanner established about the file, for the verdict.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Some process holds a kernel lock on [`kernel_lock_path`].
    pub kernel_locked: bool,
    /// Some process has the file open (any fd).
    pub open_by_any: bool,
    /// Why the kernel's lock table may be missing locks on it (a child pid
    /// namespace's /proc, an unreadable /proc/locks); `None` when it is complete, so
    /// that no kernel lock is proven by its silence.
    pub kernel_gap: Option<String>,
    /// Why processes that have it open may be unseen (processes that could not be
    /// inspected, hidepid=, a child pid namespace); `None` when every open file was
    /// seen. Never "yes" with a gap that bears on the convention's discipline.
    pub open_gap: Option<String>,
    /// Why a lock in the kernel's table may be on this file though it could not be
    /// pinned on it (a btrfs inode number shared by several subvolumes, with the
    /// holder unseen); `None` when every lock was attributed.
    pub lock_unresolved: Option<String>,
    pub pid: PidState,
    /// now − mtime.
    pub age_secs: Option<u64>,
    /// Whether the recorded host is this host; `Some(false)` counts as `OtherHost`.
    pub same_host: Option<bool>,
    /// Vim: the swap file's dirty flag ([`ParsedContent::dirty`]); unused elsewhere.
    pub dirty: Option<bool>,
    /// The running (not exited) processes of the convention's program
    /// ([`Convention::exe_names`]) within its [`Convention::program_scope`], described
    /// ("pid 4242 (git)"); `None` when not checked.
    pub program: Option<Vec<String>>,
    /// Every process in [`Self::program`] is known to be in scope (its working
    /// directory was read); otherwise some only might be.
    pub program_certain: bool,
}

/// Whether removing the file is safe, with one operator-facing sentence why.
pub fn safe_to_delete(conv: &Convention, facts: &Facts) -> (DeleteVerdict, String) {
    let j = judge(conv, facts);
    (j.verdict, j.reason)
}

/// Is this file stale by the convention's own rule? `Some(true)` stale, `Some(false)`
/// live (or never stale), `None` unknown — never "stale" on unknown evidence.
pub fn is_stale(conv: &Convention, facts: &Facts) -> Option<bool> {
    judge(conv, facts).stale
}

struct Judgement {
    stale: Option<bool>,
    verdict: DeleteVerdict,
    reason: String,
}

fn j(stale: Option<bool>, verdict: DeleteVerdict, reason: String) -> Judgement {
    Judgement {
        stale,
        verdict,
        reason,
    }
}

/// A stand-alone sentence as part of a reason: lower-case start, no final period.
fn sentence_part(s: &str) -> String {
    let s = s.trim_end_matches('.');
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn judge(c: &Convention, f: &Facts) -> Judgement {
    let mut out = match c.discipline {
        Discipline::KernelLockKept => kept(c, f),
        Discipline::KernelLockDeletedOnRelease => deleted_on_release(c, f),
        Discipline::ExistencePid | Discipline::Symlink => by_pid(c, f),
        Discipline::ExistenceOnly if f.pid != PidState::NoPid => by_pid(c, f),
        Discipline::ExistenceOnly => existence_only(c, f),
        Discipline::HeartbeatDir => heartbeat(c, f),
        Discipline::DataFile => j(Some(false), DeleteVerdict::No, sentence_part(c.stale_rule)),
    };
    // What the verdict rests on must have been seen whole: the lock table for a
    // kernel-lock file; open files and processes (and the table) for the others. A
    // heartbeat directory is judged by its age alone.
    let gap = match c.discipline {
        Discipline::KernelLockDeletedOnRelease => f.kernel_gap.as_ref(),
        Discipline::HeartbeatDir => None,
        _ => f.open_gap.as_ref().or(f.kernel_gap.as_ref()),
    };
    if out.verdict == DeleteVerdict::Yes
        && let Some(gap) = gap
    {
        out.verdict = DeleteVerdict::Unknown;
        out.reason = format!("it looks stale, but {gap}");
    }
    // A lock that may be on it outweighs anything but a "no".
    if out.verdict != DeleteVerdict::No
        && let Some(why) = &f.lock_unresolved
    {
        out.reason = if out.verdict == DeleteVerdict::Yes {
            format!("it looks stale, but {why}")
        } else {
            format!("{}, and {why}", out.reason)
        };
        out.verdict = DeleteVerdict::Unknown;
        out.stale = None;
    }
    out
}

fn kept(c: &Convention, f: &Facts) -> Judgement {
    let who = c.display;
    let reason = if f.kernel_locked {
        format!(
            "{who} holds a kernel lock on it right now, and the file is kept on purpose: deleting \
             it never releases a lock, it only breaks mutual exclusion (the holder keeps the old \
             inode while the next {who} locks a new one)"
        )
    } else {
        format!(
            "{who} keeps this file for its kernel lock and nobody holds it now: deleting it never \
             releases a lock, it only breaks mutual exclusion between a waiter on the old inode \
             and a newcomer on a new one"
        )
    };
    j(Some(false), DeleteVerdict::No, reason)
}

fn lock_place(c: &Convention) -> &'static str {
    match c.lock_site {
        LockSite::Itself => "it",
        LockSite::Sibling(s) => s,
        LockSite::SiblingStem(..) => "the state file it describes",
    }
}

fn deleted_on_release(c: &Convention, f: &Facts) -> Judgement {
    let who = c.display;
    let place = lock_place(c);
    if f.kernel_locked {
        j(
            Some(false),
            DeleteVerdict::No,
            format!("{who} holds a kernel lock on {place}: the lock is in use"),
        )
    } else if f.open_by_any {
        j(
            Some(false),
            DeleteVerdict::No,
            format!(
                "no kernel lock is held on {place}, but a process has the file open (it may be \
                 taking or releasing the lock)"
            ),
        )
    } else if let Some(gap) = &f.kernel_gap {
        j(
            None,
            DeleteVerdict::Unknown,
            format!("no kernel lock on {place} is visible, but {gap}"),
        )
    } else {
        j(
            Some(true),
            DeleteVerdict::Yes,
            format!(
                "no process holds the kernel lock on {place} or has the file open: it is a crash \
                 leftover ({who} deletes it on release)"
            ),
        )
    }
}

/// "the nginx process", or "the owning process" for generic conventions.
fn owner(c: &Convention) -> String {
    if c.generic {
        "owning process".to_string()
    } else {
        format!("{} process", c.display)
    }
}

fn by_pid(c: &Convention, f: &Facts) -> Judgement {
    let who = owner(c);
    if f.kernel_locked {
        return j(
            Some(false),
            DeleteVerdict::No,
            format!(
                "a process holds a kernel lock on {}: it is in use",
                lock_place(c)
            ),
        );
    }
    let pid = match f.pid {
        PidState::NoPid => PidState::NoPid,
        _ if f.same_host == Some(false) => PidState::OtherHost,
        p => p,
    };
    let gone = match pid {
        PidState::Alive => {
            return j(
                Some(false),
                DeleteVerdict::No,
                format!("the {who} it records is still running"),
            );
        }
        PidState::Dead => format!("the {who} it records is gone"),
        PidState::Reused => format!(
            "the pid it records now belongs to another program, so the {who} that wrote it is \
             gone"
        ),
        PidState::OtherHost
            if c.other_host_expiry
                .is_some_and(|(secs, _)| f.age_secs.is_some_and(|a| a > secs)) =>
        {
            let (secs, why) = c.other_host_expiry.unwrap_or_default();
            format!(
                "it was written on another host more than {} hours ago, and {why}",
                secs / 3600
            )
        }
        PidState::OtherHost => {
            return j(
                None,
                DeleteVerdict::Unknown,
                "it was written by a process on another host, which cannot be checked from here"
                    .to_string(),
            );
        }
        PidState::Unknown => {
            return j(
                None,
                DeleteVerdict::Unknown,
                format!("the {who} it records could not be checked"),
            );
        }
        PidState::NoPid if c.judged_with.is_some() => {
            return j(
                None,
                DeleteVerdict::Unknown,
                format!(
                    "it records no pid of its own: {}",
                    c.judged_with.unwrap_or_default()
                ),
            );
        }
        PidState::NoPid => {
            return j(
                None,
                DeleteVerdict::Unknown,
                "it holds no usable pid (empty or malformed), so its owner cannot be checked"
                    .to_string(),
            );
        }
    };
    if let Some((what, recovery)) = c.unsaved_work_recovery {
        match f.dirty {
            Some(true) => {
                return j(
                    Some(true),
                    DeleteVerdict::No,
                    format!("{gone}, but the {what} holds unsaved changes: {recovery}"),
                );
            }
            None => {
                return j(
                    Some(true),
                    DeleteVerdict::Unknown,
                    format!("{gone}, but whether the {what} holds unsaved changes is unknown"),
                );
            }
            Some(false) => {}
        }
    }
    if let Some(cleanup) = c.self_cleanup {
        return j(
            Some(true),
            DeleteVerdict::Unknown,
            format!("{gone}, but {cleanup}"),
        );
    }
    if let Some(others) = f.program.as_ref().filter(|p| !p.is_empty()) {
        let display = c.display;
        return j(
            Some(true),
            DeleteVerdict::Unknown,
            format!(
                "{gone}, but other {display} processes still run ({}): orphaned workers of the \
                 dead one (still holding its sockets) or another instance; stop them before \
                 starting {display} again",
                others.join(", ")
            ),
        );
    }
    if f.open_by_any {
        return j(
            Some(true),
            DeleteVerdict::No,
            format!("{gone}, but a process has the file open (perhaps a new owner taking it over)"),
        );
    }
    if let Some(gap) = &f.open_gap {
        return j(
            Some(true),
            DeleteVerdict::Unknown,
            format!("{gone}, but {gap}"),
        );
    }
    j(
        Some(true),
        DeleteVerdict::Yes,
        format!("{gone}: the file is a leftover and nothing depends on it"),
    )
}

fn existence_only(c: &Convention, f: &Facts) -> Judgement {
    let who = c.display;
    if f.kernel_locked {
        return j(
            Some(false),
            DeleteVerdict::No,
            "a process holds a kernel lock on it: it is in use".to_string(),
        );
    }
    if f.open_by_any {
        return j(
            Some(false),
            DeleteVerdict::No,
            format!("a process has it open, so {who} is still working with it"),
        );
    }
    if let Some(running) = f.program.as_ref().filter(|p| !p.is_empty()) {
        let running = running.join(", ");
        let scope = c.running_scope;
        return match c.program_scope {
            // A program working in this very place owns its lock, file open or not
            // (git keeps index.lock closed while `git commit` waits for the editor).
            ProgramScope::Repository if f.program_certain => j(
                Some(false),
                DeleteVerdict::No,
                format!(
                    "{running} is running{scope} and owns it (its file need not be open): let it \
                     finish, or end it, and it goes away"
                ),
            ),
            _ => j(
                None,
                DeleteVerdict::Unknown,
                format!(
                    "nobody has it open, but {running} is running and may still own it (a lock \
                     can be held with its file closed)"
                ),
            ),
        };
    }
    if let Some(gap) = &f.open_gap {
        return j(
            None,
            DeleteVerdict::Unknown,
            format!("nobody visible has it open, but {gap}"),
        );
    }
    if c.generic {
        return j(
            None,
            DeleteVerdict::Unknown,
            "nothing holds it or has it open, but no known convention identifies it: it may be a \
             free reusable lock file (flock(1), filelock) rather than a leftover"
                .to_string(),
        );
    }
    let scope = c.running_scope;
    j(
        Some(true),
        DeleteVerdict::Yes,
        format!(
            "no process has it open, so no {who} process is using it: it is a leftover from a \
             crashed {who}; remove it only while no {who} process is running{scope}"
        ),
    )
}

fn heartbeat(c: &Convention, f: &Facts) -> Judgement {
    let who = c.display;
    let limit = c.heartbeat_secs.unwrap_or(10);
    match f.age_secs {
        Some(age) if age > limit => j(
            Some(true),
            DeleteVerdict::Yes,
            format!(
                "its owner has not refreshed it for {age} s (stale after {limit} s), so the {who} \
                 process that made it is gone; {who} removes such a directory itself"
            ),
        ),
        Some(age) => j(
            Some(false),
            DeleteVerdict::No,
            format!(
                "it was refreshed {age} s ago (stale only after {limit} s): its {who} owner is alive"
            ),
        ),
        None => j(
            None,
            DeleteVerdict::Unknown,
            "its age is unknown, so whether its owner still refreshes it cannot be told"
                .to_string(),
        ),
    }
}
