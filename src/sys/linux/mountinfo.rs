//! Parser for `/proc/PID/mountinfo` (fs/proc_namespace.c `show_mountinfo()`):
//!
//! ```text
//! ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
//! 44 27 0:40 /sub\040dir /tmp/x/bind rw,relatime shared:1 - tmpfs lockscan\040src rw,size=1024k
//! ```
//!
//! * Fields are separated by single spaces and split exactly there: a mount with an empty
//!   source prints two spaces in a row (`- tmpfs  rw,size=1024k`, captured on 6.18), which a
//!   split on runs of whitespace would misread.
//! * There are zero or more optional fields (`shared:N`, `master:N`, `propagate_from:N`,
//!   `unbindable`) before the lone `-` separator; the first `-` field after OPTS ends them.
//!   They are not kept ([`Mount`] has no field for them).
//! * `MAJ:MIN` is decimal and is the superblock device, the one `/proc/locks` prints in hex.
//! * ROOT, MOUNTPOINT, SOURCE and FSTYPE have space, tab, newline and backslash escaped as
//!   `\040`, `\011`, `\012`, `\134`. Any `\` followed by three octal digits (value <= 0o377)
//!   is decoded to that byte; any other backslash is kept as is. ROOT and MOUNTPOINT become
//!   `PathBuf`s built from the raw bytes, so non-UTF-8 names survive when the input is bytes
//!   ([`parse_mountinfo_bytes`]; the kernel prints such bytes raw) or when they arrive escaped.
//!   SOURCE and FSTYPE are `String`s (lossy for non-UTF-8).
//! * OPTS and SUPEROPTS are kept verbatim (not unescaped: filesystems escape `,` and `=` inside
//!   option values, and decoding them would make the list ambiguous). If more than one field
//!   follows SOURCE, they are joined back with single spaces into SUPEROPTS.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use crate::sys::types::{Mount, SkippedLine};

/// Decodes `\ooo` octal escapes into raw bytes.
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\'
            && let Some(&[a, b, c]) = field.get(i + 1..i + 4)
            && (b'0'..=b'3').contains(&a)
            && (b'0'..=b'7').contains(&b)
            && (b'0'..=b'7').contains(&c)
        {
            out.push((a - b'0') * 64 + (b - b'0') * 8 + (c - b'0'));
            i += 4;
            continue;
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

fn to_path(field: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(unescape(field)))
}

fn to_string(field: &[u8]) -> String {
    String::from_utf8_lossy(field).into_owned()
}

fn dec_u64(field: &[u8]) -> Option<u64> {
    if field.is_empty() || !field.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // All ASCII digits, so valid UTF-8.
    std::str::from_utf8(field).ok()?.parse().ok()
}

fn dec_u32(field: &[u8]) -> Option<u32> {
    dec_u64(field).and_then(|v| u32::try_from(v).ok())
}

fn parse_line(line: &[u8]) -> Result<Mount, String> {
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    if fields.len() < 10 {
        return Err(format!(
            "too few fields ({}, want at least 10)",
            fields.len()
        ));
    }
    let mount_id =
        dec_u64(fields[0]).ok_or_else(|| format!("bad mount id {:?}", to_string(fields[0])))?;
    let parent_id =
        dec_u64(fields[1]).ok_or_else(|| format!("bad parent id {:?}", to_string(fields[1])))?;
    let bad_dev = || format!("bad major:minor {:?}", to_string(fields[2]));
    let mut dev = fields[2].split(|&b| b == b':');
    let (Some(maj), Some(min), None) = (dev.next(), dev.next(), dev.next()) else {
        return Err(bad_dev());
    };
    let major = dec_u32(maj).ok_or_else(bad_dev)?;
    let minor = dec_u32(min).ok_or_else(bad_dev)?;

    let sep = fields[6..]
        .iter()
        .position(|f| *f == b"-")
        .map(|p| p + 6)
        .ok_or_else(|| "no \" - \" separator after the mount options".to_string())?;
    if fields.len() < sep + 4 {
        return Err("missing fstype, source or super options after \" - \"".to_string());
    }

    Ok(Mount {
        mount_id,
        parent_id,
        major,
        minor,
        root: to_path(fields[3]),
        mount_point: to_path(fields[4]),
        mount_options: to_string(fields[5]),
        fstype: to_string(&unescape(fields[sep + 1])),
        source: to_string(&unescape(fields[sep + 2])),
        super_options: to_string(&fields[sep + 3..].join(&b' ')),
        locality: None,
    })
}

/// Parses mountinfo from raw bytes (keeps non-UTF-8 mount points intact). Never fails:
/// unparseable lines go to the second vector with their 1-based line number; blank lines are
/// ignored.
pub fn parse_mountinfo_bytes(data: &[u8]) -> (Vec<Mount>, Vec<SkippedLine>) {
    let mut mounts = Vec::new();
    let mut skipped = Vec::new();
    for (i, raw) in data.split(|&b| b == b'\n').enumerate() {
        let line = raw.trim_ascii();
        if line.is_empty() {
            continue;
        }
        match parse_line(line) {
            Ok(m) => mounts.push(m),
            Err(reason) => skipped.push(SkippedLine {
                line_no: i + 1,
                text: to_string(raw),
                reason,
            }),
        }
    }
    (mounts, skipped)
}

/// Parses the text of `/proc/PID/mountinfo`. See [`parse_mountinfo_bytes`] to keep non-UTF-8
/// mount points that the kernel prints unescaped.
pub fn parse_mountinfo(text: &str) -> (Vec<Mount>, Vec<SkippedLine>) {
    parse_mountinfo_bytes(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescape_forms() {
        assert_eq!(unescape(br"a\040b\011c\012d\134e"), b"a b\tc\nd\\e");
        assert_eq!(unescape(br"\377"), [0xff]);
        // Not an escape: kept literally.
        assert_eq!(unescape(br"\400\08\1\"), br"\400\08\1\");
        assert_eq!(unescape(br"x\04"), br"x\04");
    }
}
