//! Making hostile text safe for a terminal.
//!
//! File names and command lines are chosen by whoever created them. Printed raw, a
//! name containing ESC sequences can rewrite the operator's screen (fake a "no locks"
//! table, change the title, hide lines). Every string that reaches the table goes
//! through [`for_terminal`].

use std::borrow::Cow;

use crate::model::PathBytes;

/// True for characters that must not reach a terminal verbatim: C0 and C1 controls,
/// DEL, and the bidirectional overrides that can reorder what is shown.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Escapes control characters as `\n`, `\t`, `\e`, `\xNN` or `\u{NNNN}`; a backslash
/// is doubled only when something else was escaped, so ordinary paths are unchanged.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    s.chars().for_each(|c| push_escaped(c, &mut out));
    Cow::Owned(out)
}

fn push_escaped(c: char, out: &mut String) {
    match c {
        '\\' => out.push_str("\\\\"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        '\u{1b}' => out.push_str("\\e"),
        c if is_unsafe(c) && (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if is_unsafe(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
        c => out.push(c),
    }
}

/// Raw bytes (a path that is not valid UTF-8) for a terminal: each byte that is not
/// part of valid UTF-8 becomes `\xNN`, and the rest is escaped as [`for_terminal`]
/// does (with backslashes doubled, since something was escaped), so two names that
/// differ only in such bytes look different.
pub fn bytes_for_terminal(raw: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(raw) {
        return for_terminal(s);
    }
    let mut out = String::with_capacity(raw.len() + 8);
    for chunk in raw.utf8_chunks() {
        chunk
            .valid()
            .chars()
            .for_each(|c| push_escaped(c, &mut out));
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    Cow::Owned(out)
}

/// A report's path for a terminal: its exact bytes when it has `path_bytes`,
/// otherwise its text, escaped.
pub fn path_for_terminal<'a>(path: &'a str, bytes: Option<&PathBytes>) -> Cow<'a, str> {
    match bytes {
        Some(b) => Cow::Owned(bytes_for_terminal(b.bytes()).into_owned()),
        None => for_terminal(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_through_unchanged() {
        assert!(matches!(
            for_terminal("/var/lib/dpkg/lock-frontend"),
            Cow::Borrowed(_)
        ));
        assert_eq!(for_terminal("C:\\x\\y"), "C:\\x\\y");
    }

    #[test]
    fn escape_sequences_in_file_names_cannot_reach_the_terminal() {
        let hostile = "evil\u{1b}[2J\u{1b}]0;pwned\u{7}.lock\nnext\u{9b}31m\u{202e}kcol";
        let safe = for_terminal(hostile);
        assert!(!safe.chars().any(is_unsafe), "{safe:?}");
        assert_eq!(
            safe,
            "evil\\e[2J\\e]0;pwned\\x07.lock\\nnext\\x9b31m\\u{202e}kcol"
        );
    }

    /// Two names that differ only in bytes that are not UTF-8 must not look alike.
    #[test]
    fn invalid_utf8_bytes_show_as_hex_escapes() {
        assert_eq!(bytes_for_terminal(b"/tmp/a\xff.pid"), "/tmp/a\\xff.pid");
        assert_eq!(bytes_for_terminal(b"/tmp/a\xfe.pid"), "/tmp/a\\xfe.pid");
        // Once something is escaped, a literal backslash is doubled: a file really
        // named `a\xff` cannot pass for one with the byte 0xff.
        assert_eq!(bytes_for_terminal(b"a\\xff\xff\n"), "a\\\\xff\\xff\\n");
        assert!(matches!(
            bytes_for_terminal(b"/run/x.pid"),
            Cow::Borrowed(_)
        ));
    }
}
