use super::{Context, Found, Rule};
use crate::model::{AdviceAction, DeleteVerdict, FileReport, FindingCode, Severity};

pub static RULE: Rule = Rule {
    code: FindingCode::StaleLockfile,
    severity: Severity::Warning,
    explanation: "A lockfile that its program removes when it is done (git index.lock, pacman \
db.lck, a certbot .certbot.lock left by a crash, Terraform .lock.info, ...) that no process holds \
or has open: the program that made it is gone, and removing it is safe. Where the leftover stops \
the program's next run (git, pacman) this is a warning; where the program checks and reuses it \
(certbot, Terraform), only info. Kernel-lock files that are never deleted (dpkg lock-frontend, \
LevelDB LOCK, cargo .package-cache, ...) are never stale: deleting them would not release any \
lock and would break exclusion, and lockscan says so instead.",
    file: Some(check),
    global: None,
};

fn check(file: &FileReport, _ctx: &Context) -> Option<Found> {
    let conv = file.convention.as_ref()?;
    let safe = file.safe_to_delete.as_ref()?;
    if !conv.discipline.leftover_when_unheld()
        || safe.verdict != DeleteVerdict::Yes
        || !file.locks.is_empty()
        || !file.open_by.is_empty()
    {
        return None;
    }
    Some(Found {
        message: format!(
            "{} lockfile left behind: no process holds it or has it open{}",
            conv.program,
            super::next_run_words(file)
        ),
        hint: format!(
            "Safe to remove ({}): rm {}",
            safe.reason,
            shell_quote(file.raw_path()?)
        ),
        action: AdviceAction::Remove,
        severity: super::leftover_severity(file),
    })
}

/// Quotes a path's exact bytes for a shell command line shown to the operator. A
/// name that is not valid UTF-8 is written as `$'...'` with `\xNN` escapes (bash,
/// zsh, ksh and POSIX.1-2024 sh), so the command names that file, not its lossy
/// spelling.
pub(crate) fn shell_quote(p: &[u8]) -> String {
    if p.iter()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@".contains(b))
    {
        return String::from_utf8_lossy(p).into_owned();
    }
    match std::str::from_utf8(p) {
        Ok(s) => format!("'{}'", s.replace('\'', "'\\''")),
        Err(_) => {
            let mut out = String::from("$'");
            for &b in p {
                match b {
                    b'\\' | b'\'' => {
                        out.push('\\');
                        out.push(char::from(b));
                    }
                    0x20..=0x7e => out.push(char::from(b)),
                    _ => out.push_str(&format!("\\x{b:02x}")),
                }
            }
            out.push('\'');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn shell_quote_names_the_exact_bytes_of_a_non_utf8_path() {
        assert_eq!(shell_quote(b"/run/x.lock"), "/run/x.lock");
        assert_eq!(shell_quote(b"/tmp/it's.lock"), "'/tmp/it'\\''s.lock'");
        assert_eq!(shell_quote(b"/tmp/a\xff'.lock"), "$'/tmp/a\\xff\\'.lock'");
    }
}
