//! lockscan: who holds every lock under a path, which lockfiles and pidfiles are
//! stale, and what to do about it.
//!
//! Data flows one way: [`sys`] gathers a [`sys::Snapshot`] of the system once (the
//! kernel's lock table, mounts, every process's open files; on Windows the system
//! handle table instead), [`scan`](mod@scan) walks the
//! paths and correlates files with the snapshot by (device, inode), [`diagnose`]
//! turns that into findings, and [`report`] renders a table or JSON.
//!
//! [`lock`] holds the lock primitives (flock, POSIX and OFD locks; pidfiles;
//! non-intrusive probes) that the scanner's probes use and that programs can use
//! instead of writing their own lockfile code.

pub mod diagnose;
pub mod exit_codes;
pub use lockscan_lock as lock;
pub mod report;
pub mod scan;
pub mod sys;

pub use report::Report;
pub use scan::{ProbeMode, ScanOptions, scan};
