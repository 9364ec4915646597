use crate::sys::types::FsLocality;
pub fn classify_fstype(fstype: &str) -> FsLocality {
    match fstype {
        "nfs" | "nfs4" | "cifs" | "smb3" | "9p" => FsLocality::Remote,
        f if f.starts_with("fuse") => FsLocality::Fuse,
        _ => FsLocality::Local,
    }
}
