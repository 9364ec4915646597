use std::io::{IsTerminal, Write};

use clap::Parser;

use lockscan::exit_codes;
use lockscan::report::{self, Severity};
use lockscan::scan::{ProbeMode, ScanOptions, walk::WalkOptions};

mod cli;

use cli::{Cli, ColorChoice, Format, Probe};

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit_codes::CANNOT_RUN
            } else {
                exit_codes::OK
            };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    let opts = ScanOptions {
        roots: cli.paths.clone(),
        walk: WalkOptions {
            max_depth: cli.max_depth,
            one_file_system: cli.one_file_system,
        },
        probe: match cli.probe {
            Probe::None => ProbeMode::None,
            Probe::Getlk => ProbeMode::Getlk,
            Probe::Acquire => ProbeMode::Acquire,
        },
    };
    let (report, _snapshot) = match lockscan::scan(&opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lockscan: {e}");
            std::process::exit(exit_codes::CANNOT_RUN);
        }
    };
    let stdout = std::io::stdout();
    let tty = stdout.is_terminal();
    // Block-buffered: stdout is line-buffered, and a pretty JSON document has a line per field.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = match cli.format() {
        Format::Json => report::json::write(&report, &mut out),
        Format::Table => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let color = !no_color
                && match cli.color {
                    ColorChoice::Always => true,
                    ColorChoice::Never => false,
                    ColorChoice::Auto => tty,
                };
            let width = if tty { None } else { Some(160) };
            report::table::write(&report, &mut out, color, width)
        }
    };
    if let Err(e) = result.and_then(|_| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("lockscan: writing output: {e}");
        std::process::exit(exit_codes::CANNOT_RUN);
    }
    std::process::exit(exit_codes::for_report(&report, Severity::Warning));
}
