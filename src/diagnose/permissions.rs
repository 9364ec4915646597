use super::{Context, Found, Rule};
use crate::model::{AdviceAction, FileKind, FileReport, FileType, FindingCode, Severity};

pub static WORLD_WRITABLE: Rule = Rule {
    code: FindingCode::WorldWritable,
    severity: Severity::Warning,
    explanation: "The lockfile, or the directory it is in, is writable by every user. Anyone can \
then create or hold the lock first and stop the program (a denial of service), or remove and \
replace the file so two instances run. certbot keeps its locks 0600 in its own directories for \
this reason. A world-writable directory with the sticky bit (like /tmp or /run/lock) still lets \
anyone create the name first.",
    file: Some(world_writable),
    global: None,
};

pub static FOREIGN_OWNER: Rule = Rule {
    code: FindingCode::ForeignOwner,
    severity: Severity::Warning,
    explanation: "A lockfile owned by an ordinary user sits in a root-owned directory. Its owner \
can hold or replace the lock whenever they like, and a root program that trusts the file can be \
blocked or misled by them.",
    file: Some(foreign_owner),
    global: None,
};

fn world_writable(file: &FileReport, _ctx: &Context) -> Option<Found> {
    if !matches!(file.kind, FileKind::Lockfile | FileKind::Pidfile)
        || file.file_type != Some(FileType::Regular)
    {
        return None;
    }
    let mode = file.mode?.bits();
    let dir = file.dir_mode.map(|d| d.bits());
    let file_ww = mode & 0o002 != 0;
    let dir_ww = dir.is_some_and(|d| d & 0o002 != 0 && d & 0o1000 == 0);
    if !file_ww && !dir_ww {
        return None;
    }
    let what = match (file_ww, dir_ww) {
        (true, true) => format!("the file (mode {:04o}) and its directory are writable by every user", mode),
        (true, false) => format!("the file is writable by every user (mode {:04o})", mode),
        _ => "its directory is writable by every user without the sticky bit: anyone can delete or replace it".into(),
    };
    Some(Found {
        message: what,
        hint:
            "Keep lockfiles in a directory only the service can write (e.g. /run/<service>), with \
mode 0600 or 0644."
                .into(),
        action: AdviceAction::FixSetup,
        severity: None,
    })
}

fn foreign_owner(file: &FileReport, _ctx: &Context) -> Option<Found> {
    if !matches!(file.kind, FileKind::Lockfile | FileKind::Pidfile) {
        return None;
    }
    let (uid, dir_uid) = (file.uid?, file.dir_uid?);
    if uid == 0 || dir_uid != 0 {
        return None;
    }
    let root_holder = file.holders().any(|h| h.uid == Some(0));
    let who = file
        .owner
        .as_deref()
        .map_or_else(|| format!("uid {uid}"), str::to_string);
    Some(Found {
        message: format!(
            "owned by {who} in a root-owned directory{}",
            if root_holder {
                ", while a root process holds it"
            } else {
                ""
            }
        ),
        hint: format!(
            "Unless {who} is meant to own this lock, give it to the service's own account (chown) \
or keep the lock in a directory only that account can write."
        ),
        action: AdviceAction::FixSetup,
        severity: None,
    })
}
