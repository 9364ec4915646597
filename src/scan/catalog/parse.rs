//! Content parsers, one per [`ContentFormat`]. All are total: any bytes give a
//! [`ParsedContent`] (with `error` set when the content is present but malformed),
//! never a panic. Each [`ContentFormat`] variant documents its layout.

use super::{ContentFormat, Observed, Shape, SymlinkKind};
use crate::lock::pidfile::{MAX_PID, is_possible_pid};
use crate::scan::names;

/// What a file's content (or symlink target) records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedContent {
    pub pid: Option<i32>,
    pub host: Option<String>,
    /// Boot time (epoch seconds) recorded with the pid (Emacs).
    pub boot_time: Option<u64>,
    /// Start time (epoch seconds) of the owner (PostgreSQL, dnf5).
    pub start_time: Option<u64>,
    /// Vim: the swap file holds unsaved changes.
    pub dirty: Option<bool>,
    /// A human summary ("dnf5 install htop", Terraform's Who/Operation, …).
    pub detail: Option<String>,
    /// The content is present but malformed.
    pub error: Option<String>,
}

impl ParsedContent {
    fn error(e: impl Into<String>) -> Self {
        ParsedContent {
            error: Some(e.into()),
            ..Default::default()
        }
    }
    fn detail(d: impl Into<String>) -> Self {
        ParsedContent {
            detail: Some(d.into()),
            ..Default::default()
        }
    }
}

pub(super) fn parse(format: ContentFormat, obs: &Observed) -> ParsedContent {
    if let ContentFormat::SymlinkTarget(kind) = format {
        return symlink(kind, obs);
    }
    let Some(b) = obs.content else {
        return ParsedContent::default();
    };
    match format {
        ContentFormat::Empty => empty(b),
        ContentFormat::PidLine | ContentFormat::GenericPid => pid_file(b, true),
        ContentFormat::PidNoNewline => pid_file(b, false),
        ContentFormat::PostmasterPid => postmaster(b, 8),
        ContentFormat::PgSocketLock => postmaster(b, 5),
        ContentFormat::GitGcPid => git_gc(b),
        ContentFormat::GitPidLock => git_pid_lock(b),
        ContentFormat::GitLockTarget => git_lock_target(b),
        ContentFormat::SoftFileLock => soft_file_lock(b),
        ContentFormat::Dnf5Toml => dnf5(b),
        ContentFormat::TerraformJson => terraform(b),
        ContentFormat::VimSwap => vim(b),
        ContentFormat::UucpPid => uucp(b),
        ContentFormat::GenericLock => generic_lock(b),
        ContentFormat::Lmdb => lmdb(b),
        ContentFormat::AriaControl => aria(b),
        ContentFormat::Sqlite => sqlite(b),
        ContentFormat::Binary | ContentFormat::Data | ContentFormat::Unknown => {
            ParsedContent::default()
        }
        ContentFormat::SymlinkTarget(_) => ParsedContent::default(),
    }
}

pub(super) fn has_shape(shape: Shape, b: &[u8]) -> bool {
    match shape {
        Shape::PostmasterPid => {
            let Ok(t) = std::str::from_utf8(b) else {
                return false;
            };
            let l: Vec<&str> = t.split('\n').collect();
            l.len() >= 4
                && l[0].parse::<i64>().is_ok_and(|p| p != 0)
                && l[1].starts_with('/')
                && digits(l[2])
                && digits(l[3])
        }
        Shape::SoftFileLock => soft_lines(b).is_some(),
        Shape::TerraformJson => json_object(b).is_some_and(|kv| {
            let has = |k: &str| kv.iter().any(|(key, _)| key == k);
            has("ID") && (has("Operation") || has("Who"))
        }),
    }
}

// ---- helpers ------------------------------------------------------------------------

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Text for a report: lossy UTF-8, control characters escaped, at most `max` chars.
fn show(b: &[u8], max: usize) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i == max {
            out.push('…');
            break;
        }
        if ch.is_control() {
            out.extend(ch.escape_default());
        } else {
            out.push(ch);
        }
    }
    out
}

/// A pid as written by its program: decimal, 1..=`MAX_PID` (below Linux's
/// `PID_MAX_LIMIT`): a larger number names no process of this machine.
fn pid(s: &str) -> Result<i32, String> {
    let t = s.trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() {
        return Err("no pid".to_string());
    }
    if !digits(t) {
        return Err(format!("not a pid: \"{}\"", show(t.as_bytes(), 40)));
    }
    match t.parse::<i64>() {
        Ok(p) if is_possible_pid(p) => Ok(p as i32),
        _ => Err(out_of_range(show(t.as_bytes(), 40))),
    }
}

/// Why a number is not a pid: outside `1..=MAX_PID`.
fn out_of_range(n: impl std::fmt::Display) -> String {
    format!("pid out of range: {n} (pids run from 1 to {MAX_PID})")
}

fn with_pid(p: Result<i32, String>) -> ParsedContent {
    match p {
        Ok(p) => ParsedContent {
            pid: Some(p),
            ..Default::default()
        },
        Err(e) => ParsedContent::error(e),
    }
}

fn u32_le(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// A NUL-terminated string field of a binary record.
fn cstr(b: &[u8], at: usize, len: usize) -> Option<String> {
    let field = b.get(at..at.checked_add(len)?)?;
    let end = field.iter().position(|&c| c == 0).unwrap_or(field.len());
    (end > 0).then(|| show(&field[..end], len))
}

// ---- formats --------------------------------------------------------------------------

fn empty(b: &[u8]) -> ParsedContent {
    if b.is_empty() {
        ParsedContent::default()
    } else {
        ParsedContent::detail(format!(
            "holds {} bytes although the convention leaves it empty",
            b.len()
        ))
    }
}

fn pid_file(b: &[u8], first_line_only: bool) -> ParsedContent {
    if b.is_empty() {
        return ParsedContent::error("empty: no pid was written");
    }
    let Ok(t) = std::str::from_utf8(b) else {
        return ParsedContent::error(format!("not text: \"{}\"", show(b, 40)));
    };
    let (first, rest) = t.split_once('\n').unwrap_or((t, ""));
    let mut out = with_pid(pid(first));
    if !rest.trim().is_empty() {
        if first_line_only {
            out.detail = Some("lines after the first are ignored".to_string());
        } else if out.error.is_none() {
            out = ParsedContent::error(format!("more than a pid: \"{}\"", show(b, 40)));
        }
    }
    out
}

fn postmaster(b: &[u8], lines: usize) -> ParsedContent {
    if b.is_empty() {
        return ParsedContent::error(
            "empty: another server is starting, or a startup crash left it behind",
        );
    }
    let t = String::from_utf8_lossy(b);
    let l: Vec<&str> = t.split('\n').collect();
    let line = |i: usize| l.get(i).copied().unwrap_or("").trim_end_matches('\r');
    let mut out = ParsedContent::default();
    let mut detail = Vec::new();
    match line(0).trim().parse::<i64>() {
        // A single-user backend writes its pid negated.
        Ok(p) if is_possible_pid(p.saturating_abs()) => {
            out.pid = i32::try_from(p.unsigned_abs()).ok();
            if p < 0 {
                detail.push("single-user backend".to_string());
            }
        }
        _ => {
            return ParsedContent::error(format!(
                "bogus data in lock file: \"{}\"",
                show(line(0).as_bytes(), 40)
            ));
        }
    }
    if !line(1).is_empty() {
        detail.push(format!("data dir {}", show(line(1).as_bytes(), 200)));
    }
    out.start_time = line(2).trim().parse::<u64>().ok();
    if digits(line(3).trim()) {
        detail.push(format!("port {}", line(3).trim()));
    }
    if !line(4).is_empty() {
        detail.push(format!("socket dir {}", show(line(4).as_bytes(), 200)));
    }
    if lines > 5 {
        let shm: Vec<&str> = line(6).split_whitespace().collect();
        if let [key, id] = shm[..]
            && digits(key)
            && digits(id)
        {
            detail.push(format!("shared memory key {key} id {id}"));
        }
        let status = line(7).trim();
        if !status.is_empty() {
            detail.push(format!("status {}", show(status.as_bytes(), 20)));
        }
    }
    out.detail = (!detail.is_empty()).then(|| detail.join(", "));
    out
}

fn git_gc(b: &[u8]) -> ParsedContent {
    let t = String::from_utf8_lossy(b);
    let t = t.trim_end();
    let Some((p, host)) = t.split_once(' ') else {
        return ParsedContent::error(format!("expected \"<pid> <host>\": \"{}\"", show(b, 60)));
    };
    let mut out = with_pid(pid(p));
    if !host.is_empty() && !host.contains(char::is_whitespace) {
        out.host = Some(show(host.as_bytes(), 255));
    } else if out.error.is_none() {
        out.error = Some(format!("bad host name: \"{}\"", show(host.as_bytes(), 60)));
    }
    out
}

fn git_pid_lock(b: &[u8]) -> ParsedContent {
    let t = String::from_utf8_lossy(b);
    match t.strip_prefix("pid ") {
        Some(rest) => with_pid(pid(rest)),
        None => ParsedContent::error(format!("expected \"pid <N>\": \"{}\"", show(b, 60))),
    }
}

fn git_lock_target(b: &[u8]) -> ParsedContent {
    if b.is_empty() {
        return ParsedContent::detail("empty (nothing written yet)");
    }
    if let Some(rest) = b.strip_prefix(b"DIRC") {
        let version = rest
            .get(..4)
            .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
        return ParsedContent::detail(match version {
            Some(v) => format!("a new index (version {v})"),
            None => "a new index".to_string(),
        });
    }
    let first = b.split(|&c| c == b'\n').next().unwrap_or_default();
    if let Some(target) = first.strip_prefix(b"ref: ") {
        return ParsedContent::detail(format!("symbolic ref to {}", show(target, 200)));
    }
    if (first.len() == 40 || first.len() == 64) && first.iter().all(u8::is_ascii_hexdigit) {
        return ParsedContent::detail(format!("object id {}", show(first, 64)));
    }
    if std::str::from_utf8(b).is_ok() {
        ParsedContent::detail(format!("text: \"{}\"", show(first, 60)))
    } else {
        ParsedContent::detail(format!("{} bytes of binary data", b.len()))
    }
}

/// `pid\nhost\n[token\n]` exactly: (pid line, host, token). A host name has no
/// whitespace and no control characters (a NUL-padded or escape-laden line is not
/// one, and the host is reported verbatim).
fn soft_lines(b: &[u8]) -> Option<(&str, &str, Option<&str>)> {
    let t = std::str::from_utf8(b).ok()?;
    let body = t.strip_suffix('\n')?;
    let l: Vec<&str> = body.split('\n').collect();
    let ok_host = |h: &str| {
        !h.is_empty()
            && h.len() <= 255
            && !h.contains(|c: char| c.is_whitespace() || c.is_control())
    };
    match l[..] {
        [p, h] if digits(p) && ok_host(h) => Some((p, h, None)),
        [p, h, tok] if digits(p) && ok_host(h) && digits(tok) => Some((p, h, Some(tok))),
        _ => None,
    }
}

fn soft_file_lock(b: &[u8]) -> ParsedContent {
    if b.is_empty() {
        return ParsedContent::error("empty: no pid was written");
    }
    let Some((p, host, token)) = soft_lines(b) else {
        return ParsedContent::error(format!(
            "expected \"<pid>\\n<host>\\n[<token>\\n]\": \"{}\"",
            show(b, 60)
        ));
    };
    let mut out = with_pid(pid(p));
    out.host = Some(host.to_string());
    out.detail = token.map(|t| format!("start token {}", show(t.as_bytes(), 60)));
    out
}

/// A TOML basic string (`"…"` with escapes) or literal string (`'…'`).
fn toml_string(v: &str) -> Option<String> {
    if let Some(lit) = v.strip_prefix('\'') {
        return lit.split_once('\'').map(|(s, _)| s.to_string());
    }
    let mut chars = v.strip_prefix('"')?.chars();
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'e' => out.push('\u{1b}'),
                c @ ('"' | '\\') => out.push(c),
                u @ ('u' | 'U') => {
                    let hex: String = chars.by_ref().take(if u == 'u' { 4 } else { 8 }).collect();
                    out.push(
                        u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)?,
                    );
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
}

fn dnf5(b: &[u8]) -> ParsedContent {
    if b.is_empty() {
        return ParsedContent::error("empty: no transaction info was written");
    }
    let t = String::from_utf8_lossy(b);
    let mut out = ParsedContent::default();
    let (mut description, mut comment) = (None, None);
    for line in t.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match k.trim() {
            "pid" => match pid(v) {
                Ok(p) => out.pid = Some(p),
                Err(e) => out.error = Some(e),
            },
            "start_time" => out.start_time = v.parse().ok(),
            "description" => description = toml_string(v),
            "comment" => comment = toml_string(v),
            _ => {}
        }
    }
    if out.pid.is_none() && out.error.is_none() {
        out.error = Some("no pid key".to_string());
    }
    out.detail = match (description, comment) {
        (Some(d), Some(c)) if !c.is_empty() => Some(format!(
            "{} ({})",
            show(d.as_bytes(), 200),
            show(c.as_bytes(), 200)
        )),
        (Some(d), _) if !d.is_empty() => Some(show(d.as_bytes(), 200)),
        (_, Some(c)) if !c.is_empty() => Some(show(c.as_bytes(), 200)),
        _ => None,
    };
    out
}

/// A JSON object's top-level keys with their string values (other values as
/// `None`); `None` when the text is not a JSON object. Terraform's LockInfo is flat:
/// ID, Operation, Info, Who, Version, Created and Path, all strings.
fn json_object(b: &[u8]) -> Option<Vec<(String, Option<String>)>> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(b).ok()?;
    Some(
        map.into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, Some(s)),
                _ => (k, None),
            })
            .collect(),
    )
}

fn terraform(b: &[u8]) -> ParsedContent {
    if b.is_empty() {
        return ParsedContent::error("empty: no lock info was written");
    }
    let Some(kv) = json_object(b) else {
        return ParsedContent::error(format!("not a JSON object: \"{}\"", show(b, 60)));
    };
    let get = |k: &str| {
        kv.iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.as_deref())
            .filter(|v| !v.is_empty())
            .map(|v| show(v.as_bytes(), 200))
    };
    let mut out = ParsedContent::default();
    let who = get("Who");
    out.host = who
        .as_deref()
        .and_then(|w| w.rsplit_once('@'))
        .map(|(_, h)| h.to_string())
        .filter(|h| !h.is_empty());
    let mut parts = Vec::new();
    match (get("Operation"), who) {
        (Some(op), Some(w)) => parts.push(format!("{op} by {w}")),
        (Some(op), None) => parts.push(op),
        (None, Some(w)) => parts.push(format!("by {w}")),
        (None, None) => {}
    }
    if let Some(id) = get("ID") {
        parts.push(format!("lock ID {id}"));
    }
    if let Some(created) = get("Created") {
        parts.push(format!("created {created}"));
    }
    if let Some(info) = get("Info") {
        parts.push(format!("info \"{info}\""));
    }
    if parts.is_empty() {
        out.error = Some("no Terraform LockInfo fields".to_string());
    } else {
        out.detail = Some(parts.join(", "));
    }
    out
}

/// Vim block 0 offsets (struct block0, vim/src/memline.c).
const B0_PAGE_SIZE: usize = 12;
const B0_PID: usize = 24;
const B0_UNAME: usize = 28;
const B0_HNAME: usize = 68;
const B0_FNAME: usize = 108;
const B0_FNAME_SIZE: usize = 900;
const B0_DIRTY: usize = 1007;
const B0_MAGIC_LONG: usize = 1008;

fn vim(b: &[u8]) -> ParsedContent {
    if !b.starts_with(b"b0") {
        return ParsedContent::error("not a Vim swap file (no \"b0\" block 0 id)");
    }
    if b.len() <= B0_DIRTY {
        return ParsedContent::error(format!("truncated block 0 ({} bytes)", b.len()));
    }
    let mut out = ParsedContent::default();
    let mut detail = Vec::new();
    if let Some(v) = cstr(b, 2, 10) {
        detail.push(v);
    }
    match u32_le(b, B0_PID) {
        Some(0) | None => detail.push("no pid recorded".to_string()),
        Some(p) if is_possible_pid(p.into()) => out.pid = Some(p as i32),
        Some(p) => out.error = Some(out_of_range(p)),
    }
    if let Some(user) = cstr(b, B0_UNAME, 40) {
        detail.push(format!("user {user}"));
    }
    out.host = cstr(b, B0_HNAME, 40);
    if let Some(f) = cstr(b, B0_FNAME, B0_FNAME_SIZE - 2) {
        detail.push(format!("file {f}"));
    }
    let dirty = b[B0_DIRTY] == 0x55;
    out.dirty = Some(dirty);
    detail.push(if dirty { "modified" } else { "not modified" }.to_string());
    // The magic numbers are stored in the writer's native byte order and size; a
    // mismatch means another architecture (Vim then refuses to recover it here).
    let native = u32_le(b, B0_MAGIC_LONG) == Some(0x3031_3233);
    if !native {
        detail.push("written on a machine with another byte order or word size".to_string());
    }
    if u32_le(b, B0_PAGE_SIZE).is_some_and(|ps| ps < 1024 && native) {
        out.error = Some("page size in block 0 is too small".to_string());
    }
    out.detail = Some(detail.join(", "));
    out
}

fn uucp(b: &[u8]) -> ParsedContent {
    // Old-style (Kermit, early UUCP): the pid as a binary int.
    if b.len() == 4
        && !b
            .iter()
            .all(|c| c.is_ascii_digit() || *c == b' ' || *c == b'\n')
    {
        let p = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
        return if is_possible_pid(p.into()) {
            ParsedContent {
                pid: Some(p),
                detail: Some("binary pid (old-style lock)".to_string()),
                ..Default::default()
            }
        } else {
            ParsedContent::error(format!("binary {}", out_of_range(p)))
        };
    }
    pid_file(b, true)
}

fn generic_lock(b: &[u8]) -> ParsedContent {
    if b.is_empty() {
        return ParsedContent::default();
    }
    if soft_lines(b).is_some() {
        return soft_file_lock(b);
    }
    let t = String::from_utf8_lossy(b);
    let first = t.split('\n').next().unwrap_or_default().trim();
    let p = first
        .strip_prefix("pid")
        .map(|r| r.trim_start_matches([' ', '=', ':']))
        .unwrap_or(first);
    match pid(p) {
        Ok(p) => ParsedContent {
            pid: Some(p),
            ..Default::default()
        },
        Err(_) => ParsedContent::detail(format!("{} bytes, no pid", b.len())),
    }
}

fn lmdb(b: &[u8]) -> ParsedContent {
    match (u32_le(b, 0), u32_le(b, 4)) {
        (Some(0xBEEF_C0DE), Some(format)) => {
            ParsedContent::detail(format!("LMDB lock file, lock format {format:#x}"))
        }
        (Some(0xBEEF_C0DE), None) => ParsedContent::detail("LMDB lock file"),
        _ if b.is_empty() => ParsedContent::detail("empty (not initialised yet)"),
        _ => ParsedContent::error("no LMDB magic 0xBEEFC0DE"),
    }
}

fn aria(b: &[u8]) -> ParsedContent {
    match b {
        [0xfe, 0xfe, 0x0c, version, ..] => {
            ParsedContent::detail(format!("Aria control file, version {version}"))
        }
        [0xfe, 0xfe, 0x0c] => ParsedContent::detail("Aria control file"),
        _ => ParsedContent::error("no Aria control file magic FE FE 0C"),
    }
}

fn sqlite(b: &[u8]) -> ParsedContent {
    if !b.starts_with(b"SQLite format 3\0") {
        return ParsedContent::error("no SQLite header");
    }
    match b.get(16..18).map(|s| u16::from_be_bytes([s[0], s[1]])) {
        Some(1) => ParsedContent::detail("SQLite database, page size 65536"),
        Some(ps) => ParsedContent::detail(format!("SQLite database, page size {ps}")),
        None => ParsedContent::detail("SQLite database"),
    }
}

// ---- symlink locks -------------------------------------------------------------------

fn symlink(kind: SymlinkKind, obs: &Observed) -> ParsedContent {
    let owned;
    let target = match (obs.symlink_target, obs.content) {
        (Some(t), _) => t,
        // Emacs falls back to a regular file holding the same text.
        (None, Some(b)) if kind == SymlinkKind::Emacs => {
            owned = String::from_utf8_lossy(b).into_owned();
            owned.trim_end_matches('\n')
        }
        (None, Some(_)) => {
            return ParsedContent::error("expected a symlink lock, found a regular file");
        }
        (None, None) => return ParsedContent::default(),
    };
    match kind {
        SymlinkKind::Firefox => firefox(target),
        SymlinkKind::ChromiumLock => chromium(target),
        SymlinkKind::ChromiumSocket => {
            ParsedContent::detail(format!("socket {}", show(target.as_bytes(), 200)))
        }
        SymlinkKind::ChromiumCookie => match target.parse::<u64>() {
            Ok(_) => ParsedContent::detail(format!("cookie {target}")),
            Err(_) => {
                ParsedContent::error(format!("not a cookie: \"{}\"", show(target.as_bytes(), 60)))
            }
        },
        SymlinkKind::Emacs => emacs(target),
        SymlinkKind::Generic => generic_symlink(target),
    }
}

fn firefox(t: &str) -> ParsedContent {
    let Some((ip, p)) = t.rsplit_once(':') else {
        return ParsedContent::error(format!(
            "expected \"<IP>:[+]<pid>\": \"{}\"",
            show(t.as_bytes(), 60)
        ));
    };
    let (plus, p) = match p.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, p),
    };
    let mut out = with_pid(pid(p));
    if ip.is_empty() {
        out.error.get_or_insert_with(|| "no address".to_string());
    } else {
        out.host = Some(show(ip.as_bytes(), 64));
    }
    if plus {
        out.detail = Some("the owner also holds .parentlock (fcntl)".to_string());
    }
    out
}

fn chromium(t: &str) -> ParsedContent {
    let Some((host, p)) = t.rsplit_once('-') else {
        return ParsedContent::error(format!(
            "invalid SingletonLock (no \"-\"): \"{}\"",
            show(t.as_bytes(), 60)
        ));
    };
    let mut out = with_pid(pid(p));
    if !host.is_empty() {
        out.host = Some(show(host.as_bytes(), 255));
    }
    out
}

fn emacs(t: &str) -> ParsedContent {
    let Some((user, rest)) = t.split_once('@') else {
        return ParsedContent::error(format!(
            "expected \"USER@HOST.PID:BOOT\": \"{}\"",
            show(t.as_bytes(), 60)
        ));
    };
    // Emacs tolerates U+F022 for ':' (a CIFS mapping bug).
    let (pidpart, boot) = match rest.rfind([':', '\u{f022}']) {
        Some(i) => {
            let sep = rest[i..].chars().next().map_or(1, char::len_utf8);
            (&rest[..i], Some(&rest[i + sep..]))
        }
        None => (rest, None),
    };
    let Some((host, p)) = pidpart.rsplit_once('.') else {
        return ParsedContent::error(format!(
            "no pid after the host: \"{}\"",
            show(t.as_bytes(), 60)
        ));
    };
    let mut out = with_pid(pid(p));
    if !host.is_empty() {
        out.host = Some(show(host.as_bytes(), 255));
    }
    match boot {
        Some(b) if digits(b) => out.boot_time = b.parse().ok(),
        Some(b) => {
            out.error
                .get_or_insert_with(|| format!("bad boot time: \"{}\"", show(b.as_bytes(), 40)));
        }
        None => {}
    }
    if !user.is_empty() {
        out.detail = Some(format!("user {}", show(user.as_bytes(), 64)));
    }
    out
}

fn generic_symlink(t: &str) -> ParsedContent {
    if t.contains('@') {
        return emacs(t);
    }
    if t.contains(':') {
        return firefox(t);
    }
    match names::pid_from_symlink_target(t) {
        Some(_) => chromium(t),
        None => ParsedContent::error(format!("no pid in \"{}\"", show(t.as_bytes(), 60))),
    }
}

#[cfg(all(test, not(windows)))]
mod tests {
    use super::*;

    /// A number Linux can never hand out as a pid is malformed content, never a pid
    /// (the regression: 4194305..=2147483647 were reported as pids that were dead).
    #[test]
    fn numbers_above_the_largest_linux_pid_are_errors_in_every_format() {
        for n in ["4194304", "4194305", "2147483647"] {
            let mut vim_block = vec![0u8; 1024];
            vim_block[..2].copy_from_slice(b"b0");
            let raw: u32 = n.parse().unwrap();
            vim_block[B0_PID..B0_PID + 4].copy_from_slice(&raw.to_le_bytes());
            let cases = [
                ("pid line", pid_file(format!("{n}\n").as_bytes(), true)),
                ("no newline", pid_file(n.as_bytes(), false)),
                (
                    "postmaster",
                    postmaster(
                        format!("{n}\n/var/lib/pg\n1718000000\n5432\n").as_bytes(),
                        8,
                    ),
                ),
                (
                    "postmaster single-user",
                    postmaster(
                        format!("-{n}\n/var/lib/pg\n1718000000\n5432\n").as_bytes(),
                        8,
                    ),
                ),
                ("git gc", git_gc(format!("{n} buildhost").as_bytes())),
                (
                    "git pid lock",
                    git_pid_lock(format!("pid {n}\n").as_bytes()),
                ),
                (
                    "soft",
                    soft_file_lock(format!("{n}\nbuildhost\n").as_bytes()),
                ),
                ("dnf5", dnf5(format!("pid = {n}\n").as_bytes())),
                ("uucp", uucp(format!("{n:>10}\n").as_bytes())),
                ("uucp binary", uucp(&raw.to_ne_bytes())),
                ("vim", vim(&vim_block)),
                ("firefox", firefox(&format!("127.0.1.1:+{n}"))),
                ("chromium", chromium(&format!("buildhost-{n}"))),
                ("emacs", emacs(&format!("alice@buildhost.{n}:1718000000"))),
            ];
            for (what, parsed) in cases {
                assert_eq!(parsed.pid, None, "{what} {n}: {parsed:?}");
                let e = parsed.error.unwrap_or_default();
                assert!(
                    e.contains("out of range") || e.contains("bogus"),
                    "{what} {n}: {e}"
                );
            }
            // A lockfile of unknown origin just has no pid.
            assert_eq!(generic_lock(format!("{n}\n").as_bytes()).pid, None, "{n}");
        }
        assert_eq!(pid_file(b"4194303\n", true).pid, Some(4_194_303));
        assert_eq!(postmaster(b"-4242\n/d\n1\n5432\n", 8).pid, Some(4242));
    }

    /// Found by `fuzz/fuzz_targets/content_formats.rs`: SoftFileLock's host line
    /// went to the report verbatim, NULs and escape sequences included.
    #[test]
    fn soft_file_lock_host_with_control_characters_is_not_a_host() {
        for host in ["bui\0\0\0ildhost", "evil\x1b[31mhost", "a\x7fb"] {
            let b = format!("4242\n{host}\n");
            assert_eq!(soft_lines(b.as_bytes()), None, "{host:?}");
            let p = soft_file_lock(b.as_bytes());
            assert_eq!((p.pid, p.host.as_deref()), (None, None), "{p:?}");
            assert!(p.error.is_some_and(|e| !e.contains(char::is_control)));
            // Read as a generic lockfile it is a pid, never a host.
            let g = generic_lock(b.as_bytes());
            assert_eq!((g.pid, g.host), (Some(4242), None));
        }
        assert_eq!(
            soft_file_lock(b"4242\nbuildhost\n").host.as_deref(),
            Some("buildhost")
        );
    }
}
