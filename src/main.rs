use std::io::{IsTerminal, Write};

use clap::{CommandFactory, Parser};

use lockscan::exit_codes;
use lockscan::model::Severity;
use lockscan::report::escape::for_terminal;
use lockscan::report::{self, Format as OutFormat, Presentation};
use lockscan::scan::{ProbeMode, ScanOptions, walk::WalkOptions};

mod cli;

use cli::{Cli, ColorChoice, Command, CommonArgs, FailOn, Format, Generate, Probe};

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
        mount_timeout: Some(c.mount_timeout),
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

/// `lockscan: MESSAGE` on stderr, then exit 2. The message can quote a path or an
/// argument exactly as given (`lockscan $'/tmp/\e[31mx'`), so it is escaped like
/// every name in the table: stderr is usually a terminal.
fn fail(message: &str) -> ! {
    eprintln!("lockscan: {}", for_terminal(message));
    std::process::exit(exit_codes::CANNOT_RUN);
}

/// Writes through `f` into a block-buffered stdout; a closed pipe is not an error.
fn emit(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) {
    let stdout = std::io::stdout();
    let _t = lockscan::sys::timing::stage("render");
    let mut out = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    if let Err(e) = f(&mut out).and_then(|_| out.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        fail(&format!("writing output: {e}"));
    }
}

fn run_scan(opts: &ScanOptions) -> lockscan::Report {
    lockscan::scan(opts).unwrap_or_else(|e| fail(&e.to_string()))
}

/// Bad arguments: one line on stderr and exit code 2, as the README promises
/// (clap's own report is several lines). `--help` and `--version` print as usual.
fn parse_args() -> Cli {
    let e = match Cli::try_parse() {
        Ok(cli) => return cli,
        Err(e) => e,
    };
    if !e.use_stderr() {
        let _ = e.print();
        std::process::exit(exit_codes::OK);
    }
    fail(&cli::one_line_error(&e));
}

fn generate(what: Generate, out: &mut dyn Write) -> std::io::Result<()> {
    use clap_complete::Shell;
    let mut cmd = Cli::command();
    let shell = match what {
        Generate::Man => return clap_mangen::Man::new(cmd).render(out),
        Generate::Schema => return out.write_all(report::schema::text().as_bytes()),
        Generate::CompleteBash => Shell::Bash,
        Generate::CompleteZsh => Shell::Zsh,
        Generate::CompleteFish => Shell::Fish,
        Generate::CompletePowershell => Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut cmd, "lockscan", out);
    Ok(())
}

fn main() {
    let cli = parse_args();
    let terminal = std::io::stdout().is_terminal();
    let (paths, common, format) = match &cli.command {
        Some(Command::Codes) => {
            emit(report::codes::write);
            std::process::exit(exit_codes::OK);
        }
        Some(Command::Explain { paths, opts }) => (paths, opts, OutFormat::Explain),
        None => {
            if let Some(what) = cli.scan.generate {
                emit(|out| generate(what, out));
                std::process::exit(exit_codes::OK);
            }
            let format = match cli.scan.format() {
                Format::Table => OutFormat::Table,
                Format::Json => OutFormat::Json,
                Format::Ndjson => OutFormat::Ndjson,
                Format::Prometheus => OutFormat::Prometheus,
            };
            (&cli.scan.paths, &cli.scan.common, format)
        }
    };
    let report = run_scan(&scan_options(paths, common));
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let presentation = Presentation {
        terminal,
        color: !no_color
            && match cli.scan.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => terminal,
            },
        width: if terminal { None } else { Some(160) },
        // One file asked about by name: the table plus its plain-words explanation.
        // Told from the report, never by asking the disk again (the path may be on
        // a mount whose server does not answer).
        explain_after_table: paths.len() == 1
            && report.files.len() == 1
            && report.files[0].file_type != Some(lockscan::model::FileType::Directory)
            && report.files[0]
                .path
                .as_deref()
                .map(std::path::Path::new)
                .and_then(|p| p.file_name())
                == paths[0].file_name(),
    };
    let exporter = report::exporter(format, presentation);
    emit(|out| exporter.write(&report, out));
    std::process::exit(exit_codes::for_report(&report, threshold(common.fail_on)));
}
