//! Parser for `/proc/PID/fdinfo/FD` (fs/proc/fd.c `seq_show()`):
//!
//! ```text
//! pos:<TAB>0
//! flags:<TAB>02100002
//! mnt_id:<TAB>27
//! ino:<TAB>10018866
//! lock:<TAB>1: POSIX  ADVISORY  WRITE 22400 fe:00:10018866 0 99
//! lock:<TAB>2: POSIX  ADVISORY  READ 22400 fe:00:10018866 200 EOF
//! ```
//!
//! (`<TAB>` is a tab character.) `pos` is decimal, `flags` octal (with O_CLOEXEC 02000000
//! when FD_CLOEXEC is set), `mnt_id` and `ino` decimal. Each `lock:` line is a
//! [`parse_lock_line`] line (ordinals restart at 1 per fd; waiters never appear). Other keys
//! (`eventfd-count`, `tfd`, `inotify wd`, `scm_fds`, ...) are ignored; a missing or
//! unparseable `pos`/`flags`/`mnt_id`/`ino` is `None`; when a key repeats, the first parseable
//! value wins. Lines are matched on the text before the first `:`, so
//! `inotify wd:1 ino:98e001 ...` is not mistaken for `ino:`.

use crate::sys::linux::proc_locks::{parse_dec_u64, parse_lock_line};
use crate::sys::types::{FdInfo, SkippedLine};

/// Octal without prefix (the kernel prints `0%o`, so there is a leading 0).
fn parse_octal_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(s, 8).ok()
}

/// Parses the text of one `/proc/PID/fdinfo/FD`. Never fails; `lock:` lines that do not parse
/// go to `skipped` with their 1-based line number.
pub fn parse_fdinfo(text: &str) -> FdInfo {
    let mut info = FdInfo::default();
    for (i, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let v = value.trim_ascii();
        match key {
            "pos" => info.pos = info.pos.or_else(|| parse_dec_u64(v)),
            "flags" => info.flags = info.flags.or_else(|| parse_octal_u32(v)),
            "mnt_id" => info.mnt_id = info.mnt_id.or_else(|| parse_dec_u64(v)),
            "ino" => info.ino = info.ino.or_else(|| parse_dec_u64(v)),
            "lock" => match parse_lock_line(value) {
                Ok(lock) => info.locks.push(lock),
                Err(reason) => info.skipped.push(SkippedLine {
                    line_no: i + 1,
                    text: line.to_string(),
                    reason,
                }),
            },
            _ => {}
        }
    }
    info
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal() {
        assert_eq!(parse_octal_u32("02100002"), Some(0o2100002));
        assert_eq!(parse_octal_u32("08"), None);
        assert_eq!(parse_octal_u32(""), None);
        assert_eq!(parse_octal_u32("+1"), None);
        assert_eq!(parse_octal_u32("77777777777"), None);
    }

    #[test]
    fn first_value_wins_and_garbage_is_none() {
        let info = parse_fdinfo("pos:\t-1\npos:\t5\nflags:\tzz\nino:\t7\nino:\t8\n");
        assert_eq!(info.pos, Some(5));
        assert_eq!(info.flags, None);
        assert_eq!(info.ino, Some(7));
        assert_eq!(info.mnt_id, None);
    }
}
