// TEMPORARY SHIM (replaced by the real module)
pub mod fs;
pub mod pidfile;
pub mod probe;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Flock,
    Posix,
    Ofd,
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}
