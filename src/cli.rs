//! Command-line definitions (clap).

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// One JSON document (schema_version 1; see the README).
    Json,
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
    Getlk,
    /// Also try a flock on each file and release it at once. Intrusive: a real
    /// owner's non-blocking attempt at that instant would fail.
    Acquire,
}

/// Who holds every lock under a path, which lockfiles and pidfiles are stale, and what to do.
///
/// With no PATH, reports every lock on the system. With PATHs (files or directories,
/// walked recursively), reports the lockfiles, pidfiles and locked files found there.
/// Scanning changes nothing and takes no lock unless --probe=acquire is given.
#[derive(Debug, Parser)]
#[command(name = "lockscan", version, about, long_about = None)]
pub struct Cli {
    /// Files or directories to scan (default: the whole system's locks).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Shorthand for --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// Descend at most N directory levels below each PATH.
    #[arg(long, value_name = "N")]
    pub max_depth: Option<usize>,

    /// Do not cross into other mounted filesystems while walking.
    #[arg(short = 'x', long)]
    pub one_file_system: bool,

    /// Test locks directly on each file found (see the values).
    #[arg(long, value_enum, default_value_t = Probe::None)]
    pub probe: Probe,

    /// When to colour the table (never when NO_COLOR is set).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

impl Cli {
    pub fn format(&self) -> Format {
        if self.json { Format::Json } else { self.format }
    }
}
