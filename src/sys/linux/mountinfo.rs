// TEMPORARY SHIM
use crate::sys::types::*;
use std::path::PathBuf;
pub fn parse_mountinfo(text: &str) -> (Vec<Mount>, Vec<SkippedLine>) {
    let mut v = Vec::new();
    for l in text.lines() {
        let t: Vec<&str> = l.split(' ').collect();
        let Some(sep) = t.iter().position(|x| *x == "-") else {
            continue;
        };
        let mm: Vec<&str> = t[2].split(':').collect();
        v.push(Mount {
            mount_id: t[0].parse().unwrap_or(0),
            parent_id: t[1].parse().unwrap_or(0),
            major: mm[0].parse().unwrap_or(0),
            minor: mm[1].parse().unwrap_or(0),
            root: PathBuf::from(t[3]),
            mount_point: PathBuf::from(t[4]),
            mount_options: t[5].into(),
            fstype: t[sep + 1].into(),
            source: t[sep + 2].into(),
            super_options: t.get(sep + 3).unwrap_or(&"").to_string(),
        });
    }
    (v, Vec::new())
}
