//! `lockscan codes`: every finding code with its meaning.

use std::io::Write;

use crate::diagnose::RULES;

pub fn write(out: &mut dyn Write) -> std::io::Result<()> {
    for (i, rule) in RULES.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{} ({})", rule.code, rule.severity.as_str())?;
        // Wrap the paragraph at 78 columns, indented.
        let mut line = String::from("   ");
        for word in rule.explanation.split_whitespace() {
            if line.len() + word.len() + 1 > 78 {
                writeln!(out, "{line}")?;
                line = String::from("   ");
            }
            line.push(' ');
            line.push_str(word);
        }
        if !line.trim().is_empty() {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}
