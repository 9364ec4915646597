//! Stage timings for benchmarks: with `LOCKSCAN_TIMING=1` in the environment, each
//! stage of a scan prints its wall time on stderr when it ends. Nothing is printed
//! otherwise, and the report is the same either way.

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
        eprintln!("lockscan: timing {:<14} {ms:8.1} ms", self.name);
    }
}
