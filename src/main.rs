use std::io::{IsTerminal, Write};

use clap::Parser;

use lockscan::exit_codes;
use lockscan::report::{self, Severity};
use lockscan::scan::{ProbeMode, ScanOptions, walk::WalkOptions};

mod cli;

use cli::{Cli, ColorChoice, Command, CommonArgs, FailOn, Format, Probe};

fn scan_options(paths: &[std::path::PathBuf], c: &CommonArgs) -> ScanOptions {
    ScanOptions {
        roots: paths.to_vec(),
        walk: WalkOptions {
            max_depth: c.max_depth,
            one_file_system: c.one_file_system,
        },
        probe: match c.probe {
            Probe::None => ProbeMode::None,
            Probe::Getlk => ProbeMode::Getlk,
            Probe::Acquire => ProbeMode::Acquire,
        },
        max_age: c.max_age,
        ignore_pids: c.ignore_pids.clone(),
    }
}

fn threshold(f: FailOn) -> Severity {
    match f {
        FailOn::Info => Severity::Info,
        FailOn::Warning => Severity::Warning,
        FailOn::Error => Severity::Error,
    }
}

/// Writes through `f` into a block-buffered stdout; a closed pipe is not an error.
fn emit(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    if let Err(e) = f(&mut out).and_then(|_| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        eprintln!("lockscan: writing output: {e}");
        std::process::exit(exit_codes::CANNOT_RUN);
    }
}

fn run_scan(opts: &ScanOptions) -> (lockscan::Report, lockscan::sys::Snapshot) {
    match lockscan::scan(opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lockscan: {e}");
            std::process::exit(exit_codes::CANNOT_RUN);
        }
    }
}

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
    let tty = std::io::stdout().is_terminal();
    match &cli.command {
        Some(Command::Codes) => {
            emit(|out| report::codes::write(out));
            std::process::exit(exit_codes::OK);
        }
        Some(Command::Explain { paths, opts }) => {
            let (report, snap) = run_scan(&scan_options(paths, opts));
            emit(|out| report::explain::write(&report, &snap, out));
            std::process::exit(exit_codes::for_report(&report, threshold(opts.fail_on)));
        }
        None => {}
    }
    let args = &cli.scan;
    let (report, snap) = run_scan(&scan_options(&args.paths, &args.common));
    match args.format() {
        Format::Json => emit(|out| report::json::write(&report, out, tty)),
        Format::Ndjson => emit(|out| report::ndjson::write(&report, out)),
        Format::Prometheus => emit(|out| report::prometheus::write(&report, out)),
        Format::Table => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
            let color = !no_color
                && match args.color {
                    ColorChoice::Always => true,
                    ColorChoice::Never => false,
                    ColorChoice::Auto => tty,
                };
            let width = if tty { None } else { Some(160) };
            // One file asked about by name: the table plus its plain-words explanation.
            let single_file = args.paths.len() == 1
                && report.files.len() == 1
                && std::fs::symlink_metadata(&args.paths[0]).is_ok_and(|m| !m.is_dir());
            emit(|out| {
                report::table::write(&report, out, color, width)?;
                if single_file {
                    writeln!(out)?;
                    report::explain::write(&report, &snap, out)?;
                }
                Ok(())
            });
        }
    }
    std::process::exit(exit_codes::for_report(
        &report,
        threshold(args.common.fail_on),
    ));
}
