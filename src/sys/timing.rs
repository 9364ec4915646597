//! Stage timings for benchmarks: with `LOCKSCAN_TIMING=1` in the environment, each
//! stage of a scan prints its wall time on stderr when it ends, with the process's
//! peak resident memory so far (Linux: `VmHWM`), which tells the stage where the
//! peak is reached. Nothing is printed otherwise, and the report is the same.

use std::sync::OnceLock;
use std::time::Instant;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("LOCKSCAN_TIMING").is_some_and(|v| v == "1"))
}

/// A running stage; prints `lockscan: timing <name> <ms> ms` when dropped.
pub struct Stage {
    name: &'static str,
    start: Instant,
}

/// Starts timing `name`, when timings are asked for.
pub fn stage(name: &'static str) -> Option<Stage> {
    enabled().then(|| Stage {
        name,
        start: Instant::now(),
    })
}

impl Drop for Stage {
    fn drop(&mut self) {
        let ms = self.start.elapsed().as_secs_f64() * 1000.0;
        match peak_rss_kib() {
            Some(kib) => eprintln!(
                "lockscan: timing {:<14} {ms:8.1} ms  peak RSS {:7.1} MiB",
                self.name,
                kib as f64 / 1024.0
            ),
            None => eprintln!("lockscan: timing {:<14} {ms:8.1} ms", self.name),
        }
    }
}

/// `VmHWM` of /proc/self/status, in KiB (`None` where there is no such file).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}
