//! lockscan: who holds every lock under a path, which lockfiles and pidfiles are
//! stale, and what to do about it.
//!
//! The layers point one way; each depends only on those before it:
//!
//! - [`lock`] (the `lockscan-lock` crate): lock primitives, usable on their own;
//! - [`sys`]: the operating system's facts, gathered once into a [`sys::Snapshot`]
//!   (the kernel's lock table, mounts, every process's open files; on Windows the
//!   system handle table), one folder per OS;
//! - [`model`]: the report's types, the JSON contract (schema generated from them);
//! - [`scan`](mod@scan): walks the paths, examines and probes the files, correlates
//!   them with the snapshot by (device, inode) and decides each file's verdicts;
//! - [`diagnose`]: one rule per finding, and the one piece of advice per file;
//! - [`report`]: renders a finished report, one file per format.
//!
//! [`pipeline`] runs a scan through the layers; [`scan()`] is its entry point.

mod vocab;

pub mod diagnose;
pub mod exit_codes;
pub use lockscan_lock as lock;
pub mod model;
pub mod pipeline;
pub mod report;
pub mod scan;
pub mod sys;

pub use model::Report;
pub use pipeline::scan;
pub use scan::{ProbeMode, ScanOptions};
