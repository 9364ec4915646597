// TEMPORARY SHIM
use crate::sys::types::*;
pub fn parse_lock_line(s: &str) -> Result<LockLine, String> {
    let t: Vec<&str> = s.split_whitespace().collect();
    let ord: u64 = t
        .first()
        .and_then(|x| x.strip_suffix(':'))
        .and_then(|x| x.parse().ok())
        .ok_or("id")?;
    let mut i = 1;
    let mut depth = 0;
    if t.get(1) == Some(&"->") {
        i = 2;
        depth = 1;
    }
    let kind = match *t.get(i).ok_or("kind")? {
        "FLOCK" => LockKind::Flock,
        "POSIX" => LockKind::Posix,
        "OFDLCK" => LockKind::Ofd,
        "LEASE" => LockKind::Lease,
        _ => LockKind::Unknown,
    };
    let mode = match *t.get(i + 2).ok_or("mode")? {
        "READ" => LockMode::Read,
        "WRITE" => LockMode::Write,
        _ => LockMode::Unlock,
    };
    let pid: i32 = t.get(i + 3).and_then(|x| x.parse().ok()).ok_or("pid")?;
    let dev: Vec<&str> = t.get(i + 4).ok_or("dev")?.split(':').collect();
    let key = if dev.len() == 3 {
        Some(FileKey {
            major: u32::from_str_radix(dev[0], 16).map_err(|_| "maj")?,
            minor: u32::from_str_radix(dev[1], 16).map_err(|_| "min")?,
            ino: dev[2].parse().map_err(|_| "ino")?,
        })
    } else {
        None
    };
    let start: u64 = t.get(i + 5).and_then(|x| x.parse().ok()).ok_or("start")?;
    let end = match *t.get(i + 6).ok_or("end")? {
        "EOF" => None,
        x => Some(x.parse().map_err(|_| "end")?),
    };
    Ok(LockLine {
        ordinal: ord,
        depth,
        kind,
        mandatory: false,
        lease_state: None,
        mode,
        pid,
        key,
        start,
        end,
    })
}
pub fn parse_proc_locks(text: &str) -> ProcLocks {
    let mut p = ProcLocks::default();
    for (n, l) in text.lines().enumerate() {
        match parse_lock_line(l) {
            Ok(x) => {
                let b = if x.depth > 0 {
                    p.lines.iter().rposition(|y| y.depth == 0)
                } else {
                    None
                };
                p.lines.push(x);
                p.blocker.push(b);
            }
            Err(e) => p.skipped.push(SkippedLine {
                line_no: n + 1,
                text: l.into(),
                reason: e,
            }),
        }
    }
    p
}
