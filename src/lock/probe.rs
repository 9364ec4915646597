use super::{Mechanism, Mode};
use std::fs::File;
use std::path::Path;
pub struct Conflict {
    pub mechanism: Mechanism,
    pub mode: Mode,
    pub start: u64,
    pub end: Option<u64>,
    pub pid: Option<i32>,
}
pub enum FlockProbe {
    Free,
    HeldShared,
    HeldExclusive,
}
pub fn open_for_probe(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let m = std::fs::symlink_metadata(path)?;
    if !m.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
}
pub fn probe_path(_path: &Path) -> std::io::Result<Option<Conflict>> {
    Ok(None)
}
pub fn probe_flock_acquiring(_path: &Path) -> std::io::Result<FlockProbe> {
    Ok(FlockProbe::Free)
}
