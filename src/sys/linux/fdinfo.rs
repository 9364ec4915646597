// TEMPORARY SHIM
use crate::sys::types::*;
pub fn parse_fdinfo(text: &str) -> FdInfo {
    let mut f = FdInfo::default();
    for l in text.lines() {
        if let Some(v) = l.strip_prefix("pos:") {
            f.pos = v.trim().parse().ok();
        }
        if let Some(v) = l.strip_prefix("flags:") {
            f.flags = u32::from_str_radix(v.trim(), 8).ok();
        }
        if let Some(v) = l.strip_prefix("mnt_id:") {
            f.mnt_id = v.trim().parse().ok();
        }
        if let Some(v) = l.strip_prefix("ino:") {
            f.ino = v.trim().parse().ok();
        }
        if let Some(v) = l.strip_prefix("lock:\t")
            && let Ok(x) = super::proc_locks::parse_lock_line(v)
        {
            f.locks.push(x);
        }
    }
    f
}
