//! Parser for the kernel's lock-status lines: `/proc/locks`, and the `lock:` lines of
//! `/proc/PID/fdinfo/FD` (both are printed by `lock_get_status()` in fs/locks.c).
//!
//! # Line format
//!
//! ```text
//! ID: [INDENT-> ]KIND FLAVOUR MODE PID MAJ:MIN:INO|<none>:0 START END|EOF
//! 4: FLOCK  ADVISORY  WRITE 22403 fe:00:10018897 0 EOF
//! 4: -> FLOCK  ADVISORY  WRITE 22404 fe:00:10018897 0 EOF      depth 1
//! 4:  -> FLOCK  ADVISORY  WRITE 22405 fe:00:10018897 0 EOF     depth 2
//! 4:   -> FLOCK  ADVISORY  READ 22406 fe:00:10018897 0 EOF     depth 3
//! 1: -> LEASE  BREAKER   READ 22415 <none>:0 0 EOF
//! ```
//!
//! Fields are split on runs of ASCII whitespace; the kernel pads some words with extra spaces,
//! and the padding changed between kernel versions (old kernels printed `READ  5433`), so
//! column positions are never used. The one place where whitespace carries meaning is the
//! waiter arrow: the kernel prints `"%lld: "` and then `"%*s"` of `"-> "` with width
//! `level - 1 + 3`, so a waiter at depth N has exactly N whitespace characters between the
//! `ID:` token and `->` (verified on 6.18, fixtures/proc_locks/waiters_nested.txt). Kernels
//! before the 2021 "print full locks information" change only printed direct waiters as
//! `N: -> ...`, which reads as depth 1 here too.
//!
//! # Odd forms (decisions)
//!
//! * `MANDATORY` (POSIX/OFD/ACCESS on `-o mand` mounts, kernels < 5.15) sets
//!   [`LockLine::mandatory`]; `ADVISORY` and `*NOINODE*` do not (`*NOINODE*` lines carry
//!   `<none>:0`, so their key is `None`).
//! * `FLOCK  MSNFS` (Samba `LOCK_MAND` flocks, kernels < 5.15) is parsed as a flock. Its mode
//!   word names what the holder lets *others* do (LOCK_READ = "allows concurrent read",
//!   LOCK_WRITE = "allows concurrent write"), so it is mapped by how much it excludes:
//!   `RW` (others may read and write) and `READ` (others may only read) become
//!   [`LockMode::Read`]; `NONE` (others may do nothing) and `WRITE` (others may only write,
//!   readers are shut out) become [`LockMode::Write`]. `RW`/`NONE` are accepted only after
//!   `MSNFS`. Note that the kernel never enforced LOCK_MAND flocks against other flocks.
//! * `LEASE`/`DELEG` need one of `ACTIVE`/`BREAKING`/`BREAKER`; the 2.4-era `LEASE  MANDATORY`
//!   form is skipped. `UNKNOWN` needs `UNKNOWN`. An unknown kind word is skipped, not guessed.
//! * The PID may be negative or 0 (OFD locks print -1; remote owners print <= 0).
//! * MAJ and MIN are hex with any number of digits (`%02x` is a minimum width: major 259 prints
//!   as `103`, anonymous minors > 255 as e.g. `1a3`). INO is decimal; kernels before 5.6
//!   printed it with `%ld`, so a large inode number (overlayfs xino) could appear negative:
//!   such a value is taken as the kernel's bits, i.e. wrapped to `u64` (`-1` is
//!   `18446744073709551615`).
//! * START/END are decimal; `EOF` as END means "to end of file" (`None`).
//! * Exactly the fields above: a line with a missing or an extra field is skipped (the kernel
//!   calls this representation ABI: "userspace relies on this representation of dev_t").
//!
//! Nothing here panics on any input: tokens are split only at positions returned by `find`
//! (always char boundaries), and every number goes through a checked parse.

use std::collections::HashMap;

use crate::sys::types::{
    FileKey, LeaseState, LockKind, LockLine, LockMode, ProcLocks, SkippedLine,
};

/// Tokens separated by runs of ASCII whitespace, each with the number of whitespace bytes
/// that preceded it.
struct Tokens<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let trimmed = self
            .rest
            .trim_start_matches(|c: char| c.is_ascii_whitespace());
        let ws = self.rest.len() - trimmed.len();
        if trimmed.is_empty() {
            self.rest = trimmed;
            return None;
        }
        let end = trimmed
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(trimmed.len());
        let (tok, rest) = trimmed.split_at(end);
        self.rest = rest;
        Some((ws, tok))
    }
}

/// A token for an error message: quoted, and cut to a sane length.
fn show(tok: &str) -> String {
    const MAX: usize = 40;
    if tok.chars().count() > MAX {
        let cut: String = tok.chars().take(MAX).collect();
        format!("{cut:?}...")
    } else {
        format!("{tok:?}")
    }
}

/// Unsigned decimal: one or more ASCII digits, nothing else (no sign, no spaces).
pub(crate) fn parse_dec_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Signed decimal: an optional `-` then one or more ASCII digits.
fn parse_dec_i64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Hex without prefix: one or more hex digits.
fn parse_hex_u32(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(s, 16).ok()
}

/// `MAJ:MIN:INO` (hex, hex, decimal) or `<none>:0`.
fn parse_device(tok: &str) -> Result<Option<FileKey>, String> {
    if tok == "<none>:0" {
        return Ok(None);
    }
    let bad = || {
        format!(
            "bad device field {} (want MAJ:MIN:INO or <none>:0)",
            show(tok)
        )
    };
    let mut parts = tok.split(':');
    let (Some(maj), Some(min), Some(ino), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let major = parse_hex_u32(maj).ok_or_else(bad)?;
    let minor = parse_hex_u32(min).ok_or_else(bad)?;
    let ino = if ino.starts_with('-') {
        // Kernels before 5.6 printed i_ino with %ld: keep the kernel's bits.
        parse_dec_i64(ino).ok_or_else(bad)? as u64
    } else {
        parse_dec_u64(ino).ok_or_else(bad)?
    };
    Ok(Some(FileKey { major, minor, ino }))
}

/// Parses one line in the `lock_get_status()` format: a whole `/proc/locks` line, or the part
/// of an fdinfo `lock:` line after the colon (leading whitespace is ignored).
///
/// Returns a short reason when the line is not a lock line; never panics.
pub fn parse_lock_line(s: &str) -> Result<LockLine, String> {
    let mut toks = Tokens { rest: s };
    let mut next = |what: &str| {
        toks.next()
            .ok_or_else(|| format!("line ends before the {what}"))
    };

    let (_, id_tok) = next("lock id")?;
    let id = id_tok
        .strip_suffix(':')
        .ok_or_else(|| format!("lock id {} does not end with ':'", show(id_tok)))?;
    if id.is_empty() {
        return Err("empty lock id".to_string());
    }
    let ordinal = parse_dec_u64(id).ok_or_else(|| format!("bad lock id {}", show(id_tok)))?;

    let (ws, mut tok) = next("lock kind")?;
    let mut depth = 0;
    if tok == "->" {
        // "%*s" with width level-1+3: level N has N whitespace bytes between "ID:" and "->".
        depth = u32::try_from(ws).unwrap_or(u32::MAX);
        tok = next("lock kind")?.1;
    }

    let kind = match tok {
        "FLOCK" => LockKind::Flock,
        "POSIX" => LockKind::Posix,
        "OFDLCK" => LockKind::Ofd,
        "ACCESS" => LockKind::Access,
        "LEASE" => LockKind::Lease,
        "DELEG" => LockKind::Deleg,
        "UNKNOWN" => LockKind::Unknown,
        other => return Err(format!("unknown lock kind {}", show(other))),
    };

    let (_, flavour) = next("flavour (ADVISORY, ACTIVE, ...)")?;
    let mut msnfs = false;
    let (mandatory, lease_state) = match (kind, flavour) {
        (LockKind::Lease | LockKind::Deleg, "ACTIVE") => (false, Some(LeaseState::Active)),
        (LockKind::Lease | LockKind::Deleg, "BREAKING") => (false, Some(LeaseState::Breaking)),
        (LockKind::Lease | LockKind::Deleg, "BREAKER") => (false, Some(LeaseState::Breaker)),
        (LockKind::Unknown, "UNKNOWN") => (false, None),
        (LockKind::Flock, "MSNFS") => {
            msnfs = true;
            (false, None)
        }
        (LockKind::Flock | LockKind::Posix | LockKind::Ofd | LockKind::Access, "ADVISORY") => {
            (false, None)
        }
        (LockKind::Posix | LockKind::Ofd | LockKind::Access, "MANDATORY") => (true, None),
        (LockKind::Posix | LockKind::Ofd | LockKind::Access, "*NOINODE*") => (false, None),
        (_, other) => {
            return Err(format!(
                "unexpected flavour {} for {}",
                show(other),
                kind.as_str()
            ));
        }
    };

    let (_, mode_tok) = next("mode (READ, WRITE, UNLCK)")?;
    let mode = match (msnfs, mode_tok) {
        (_, "READ") => LockMode::Read,
        (_, "WRITE") => LockMode::Write,
        (false, "UNLCK") => LockMode::Unlock,
        // LOCK_MAND|LOCK_READ|LOCK_WRITE: others may read and write.
        (true, "RW") => LockMode::Read,
        // LOCK_MAND alone: others may neither read nor write.
        (true, "NONE") => LockMode::Write,
        (_, other) => return Err(format!("unknown mode {}", show(other))),
    };

    let (_, pid_tok) = next("pid")?;
    let pid = parse_dec_i64(pid_tok)
        .and_then(|p| i32::try_from(p).ok())
        .ok_or_else(|| format!("bad pid {}", show(pid_tok)))?;

    let (_, dev_tok) = next("device field")?;
    let key = parse_device(dev_tok)?;

    let (_, start_tok) = next("range start")?;
    let start =
        parse_dec_u64(start_tok).ok_or_else(|| format!("bad range start {}", show(start_tok)))?;

    let (_, end_tok) = next("range end")?;
    let end = if end_tok == "EOF" {
        None
    } else {
        Some(parse_dec_u64(end_tok).ok_or_else(|| format!("bad range end {}", show(end_tok)))?)
    };

    if let Some((_, extra)) = toks.next() {
        return Err(format!("unexpected trailing field {}", show(extra)));
    }

    Ok(LockLine {
        ordinal,
        depth,
        kind,
        mandatory,
        lease_state,
        mode,
        pid,
        key,
        start,
        end,
    })
}

/// Parses the whole text of `/proc/locks`. Never fails: a line that does not parse is kept in
/// `skipped` (1-based line number, text, reason); blank lines are ignored.
///
/// `blocker[i]` is the index of the nearest preceding line with the same ordinal and depth
/// `depth(i) - 1`, or `None` for granted locks and for waiters whose parent line is missing.
pub fn parse_proc_locks(text: &str) -> ProcLocks {
    let mut out = ProcLocks::default();
    // (ordinal, depth) -> index of the latest line with that ordinal and depth.
    let mut latest: HashMap<(u64, u32), usize> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        if raw.trim_ascii().is_empty() {
            continue;
        }
        match parse_lock_line(raw) {
            Ok(line) => {
                let blocker = match line.depth {
                    0 => None,
                    d => latest.get(&(line.ordinal, d - 1)).copied(),
                };
                latest.insert((line.ordinal, line.depth), out.lines.len());
                out.lines.push(line);
                out.blocker.push(blocker);
            }
            Err(reason) => out.skipped.push(SkippedLine {
                line_no: i + 1,
                text: raw.to_string(),
                reason,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_count_whitespace() {
        let toks: Vec<_> = Tokens {
            rest: "4:   -> FLOCK\t x",
        }
        .collect();
        assert_eq!(toks, vec![(0, "4:"), (3, "->"), (1, "FLOCK"), (2, "x")]);
        assert_eq!(Tokens { rest: "  \t " }.count(), 0);
    }

    #[test]
    fn depth_from_indentation() {
        for (line, depth) in [
            ("4: FLOCK  ADVISORY  WRITE 1 fe:00:9 0 EOF", 0),
            ("4: -> FLOCK  ADVISORY  WRITE 1 fe:00:9 0 EOF", 1),
            ("4:  -> FLOCK  ADVISORY  WRITE 1 fe:00:9 0 EOF", 2),
            ("4:   -> FLOCK  ADVISORY  WRITE 1 fe:00:9 0 EOF", 3),
        ] {
            assert_eq!(parse_lock_line(line).unwrap().depth, depth, "{line}");
        }
    }

    #[test]
    fn numbers_are_strict() {
        assert_eq!(parse_dec_u64("+1"), None);
        assert_eq!(parse_dec_u64(""), None);
        assert_eq!(parse_dec_u64("18446744073709551616"), None);
        assert_eq!(parse_dec_i64("-"), None);
        assert_eq!(parse_dec_i64("--1"), None);
        assert_eq!(parse_hex_u32("+f"), None);
        assert_eq!(parse_hex_u32("100000000"), None);
        assert_eq!(parse_device("fe:00:-1").unwrap().unwrap().ino, u64::MAX);
        assert!(parse_device("fe:00:1:2").is_err());
        assert!(parse_device("fe:00").is_err());
        assert!(parse_device("<none>:1").is_err());
    }

    #[test]
    fn show_cuts_long_tokens() {
        let long = "é".repeat(100);
        let s = show(&long);
        assert!(s.ends_with("..."));
        assert_eq!(s.chars().filter(|&c| c == 'é').count(), 40);
    }
}
