//! The Windows backend: processes, the system handle table and volumes, gathered
//! into the same [`Snapshot`](super::Snapshot) the Linux backend fills.

pub mod fileid;
