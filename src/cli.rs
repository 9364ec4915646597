//! Command-line definitions (clap).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// One JSON document (schema_version 1; see the README).
    Json,
    /// One JSON object per line: a scan record, then one per file and per finding.
    Ndjson,
    /// Prometheus text format, for node_exporter's textfile collector.
    Prometheus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Probe {
    /// Read the kernel's lock tables only (default): nothing is opened for locking.
    None,
    /// Also ask the kernel with F_OFD_GETLK whether a POSIX/OFD lock conflicts (takes nothing).
    /// Windows has no such query: there it only checks that the file opens with full sharing.
    Getlk,
    /// Also try a flock on each file and release it at once (Windows: a whole-file
    /// LockFileEx, the only way to see a byte-range lock there). Intrusive: a real
    /// owner's non-blocking attempt at that instant would fail.
    Acquire,
}

/// What `--generate` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// Bash completions.
    CompleteBash,
    /// Zsh completions.
    CompleteZsh,
    /// Fish completions.
    CompleteFish,
    /// PowerShell completions.
    CompletePowershell,
    /// The man page (roff).
    Man,
    /// The JSON Schema of the report (`--json`, `--format ndjson` lines in `$defs`).
    Schema,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Error,
}

/// Who holds every lock under a path, which lockfiles and pidfiles are stale, and what to do.
///
/// With no PATH, reports every lock on the system. With PATHs (files or directories,
/// walked recursively), reports the lockfiles, pidfiles and locked files found there.
/// Scanning changes nothing and takes no lock unless --probe=acquire is given.
/// A PATH named like a subcommand is written `./codes`.
#[derive(Debug, Parser)]
#[command(name = "lockscan", version, about, long_about = None, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub scan: ScanArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain one file (or every file under a directory) in plain words: who holds it,
    /// who waits, what the program will say, and what to do.
    Explain {
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        opts: CommonArgs,
    },
    /// List every finding code with what it means.
    Codes,
}

/// Options shared by the scan and `explain`.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Descend at most N directory levels below each PATH.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,

    /// Do not cross into other mounted filesystems while walking.
    #[arg(short = 'x', long)]
    pub one_file_system: bool,

    /// Test locks directly on each file found (see the values).
    #[arg(long, value_enum, default_value_t = Probe::None)]
    pub probe: Probe,

    /// Report locks held longer than this (`held-long`): seconds, or with a unit
    /// (90s, 30m, 12h, 2d).
    #[arg(long, value_name = "AGE", value_parser = parse_age)]
    pub max_age: Option<u64>,

    /// A process not to count as a possible holder when it cannot be inspected (e.g. a
    /// sandbox's or container runtime's init): lockscan otherwise treats every
    /// uninspectable process as one that might have any file open. Repeatable.
    #[arg(long = "ignore-pid", value_name = "PID")]
    pub ignore_pids: Vec<i32>,

    /// How long a network or FUSE filesystem's server may leave one of lockscan's
    /// calls unanswered before its mount is reported unresponsive
    /// (`unresponsive-mount`) and left alone for the rest of the scan: seconds
    /// (fractions allowed) or milliseconds with `ms` (2, 0.5, 500ms).
    #[arg(long, value_name = "TIME", value_parser = parse_timeout, default_value = "2")]
    pub mount_timeout: std::time::Duration,

    /// The lowest severity that makes the exit code 1.
    #[arg(long, value_enum, default_value_t = FailOn::Warning)]
    pub fail_on: FailOn,
}

/// `--mount-timeout`: `2`, `2s`, `0.5`, `500ms`; between 10 ms and one hour.
fn parse_timeout(text: &str) -> Result<std::time::Duration, String> {
    let bad = || format!("{text:?} is not a time such as 2, 0.5 or 500ms");
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else {
        (text.strip_suffix('s').unwrap_or(text), 1.0)
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(bad());
    }
    let secs = number.parse::<f64>().map_err(|_| bad())? * scale;
    if !(0.01..=3600.0).contains(&secs) {
        return Err(format!("{text:?} is out of range (10ms to 3600s)"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files or directories to scan (default: the whole system's locks).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Shorthand for --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// When to colour the table (never when NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Print shell completions, the man page or the report's JSON Schema, and exit.
    #[arg(long, value_enum, value_name = "KIND")]
    pub generate: Option<Generate>,

    #[command(flatten)]
    pub common: CommonArgs,
}

impl ScanArgs {
    pub fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}

/// A clap error as one line: its message (with the valid values, when clap lists
/// them), a similar argument clap would suggest, and where to read more.
pub fn one_line_error(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue};
    let rendered = e.to_string();
    // The message is the first paragraph (some continue on indented lines, such as
    // the list of missing arguments); usage and tips follow a blank line.
    let message: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = message.join(" ");
    let mut line = joined
        .strip_prefix("error: ")
        .unwrap_or(&joined)
        .to_string();
    if line.is_empty() {
        line = "invalid arguments".into();
    }
    let list = |kind| match e.get(kind) {
        Some(ContextValue::Strings(v)) if !v.is_empty() => Some(v.join(", ")),
        Some(ContextValue::String(v)) => Some(v.clone()),
        _ => None,
    };
    if let Some(similar) = list(ContextKind::SuggestedArg).or(list(ContextKind::SuggestedValue)) {
        line.push_str(&format!(" (did you mean {similar}?)"));
    }
    line.push_str("; see 'lockscan --help'");
    line
}

/// Parses `90`, `90s`, `30m`, `12h`, `2d` into seconds. The number is plain
/// decimal digits: `u64::from_str` would also take `+5`, which is no age anyone
/// writes on purpose.
pub fn parse_age(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        _ => (s, 1),
    };
    Some(num)
        .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u64>().ok())
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("{s:?} is not an age like 90, 90s, 30m, 12h or 2d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_timeouts_take_seconds_or_milliseconds_and_refuse_signs() {
        assert_eq!(
            parse_timeout("2").unwrap(),
            std::time::Duration::from_secs(2)
        );
        assert_eq!(
            parse_timeout("0.5s").unwrap(),
            std::time::Duration::from_millis(500)
        );
        assert_eq!(
            parse_timeout("250ms").unwrap(),
            std::time::Duration::from_millis(250)
        );
        for bad in ["+5", "-1", "", "s", "5m", "0", "1e3", "99999"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ages_take_units_and_reject_garbage() {
        assert_eq!(parse_age("90"), Ok(90));
        assert_eq!(parse_age("90s"), Ok(90));
        assert_eq!(parse_age("30m"), Ok(1800));
        assert_eq!(parse_age("12h"), Ok(43_200));
        assert_eq!(parse_age("2d"), Ok(172_800));
        assert!(parse_age("").is_err());
        assert!(parse_age("-5m").is_err());
        assert!(parse_age("5w").is_err());
        assert!(parse_age("99999999999999999999d").is_err());
    }

    #[test]
    fn ages_with_a_sign_or_other_garbage_are_rejected() {
        for bad in [
            "+5", "+5m", "-5", "s", "m", "5 s", "5.0", "0x10", "5ss", "٥", "5m5", "+",
        ] {
            assert!(parse_age(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(parse_age("0"), Ok(0));
        assert_eq!(parse_age("007m"), Ok(420));
        assert_eq!(parse_age(" 10m "), Ok(600));
    }
}
