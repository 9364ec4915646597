//! Volumes (drive letters), the Windows counterpart of the mount table: the volume
//! serial number is the "device" of every file key, the drive type says whether
//! locks there are seen by this host alone.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use windows_sys::Win32::Storage::FileSystem::{
    GetDriveTypeW, GetLogicalDrives, GetVolumeInformationW,
};

use crate::lock::fs::classify_fstype;
use crate::sys::{FsLocality, Mount, SourceError};

/// `GetDriveTypeW` results that matter here.
const DRIVE_REMOTE: u32 = 4;
const DRIVE_NO_ROOT_DIR: u32 = 1;

/// A disconnected network drive can make `GetVolumeInformationW` wait for the
/// network's timeout; the scan does not.
const VOLUME_TIMEOUT: Duration = Duration::from_secs(2);

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

fn volume_info(root: String) -> Option<(u32, String, String)> {
    let w = wide(&root);
    let mut name = [0u16; 261];
    let mut fs = [0u16; 261];
    let (mut serial, mut maxlen, mut flags) = (0u32, 0u32, 0u32);
    // SAFETY: every buffer is writable for the length passed; out pointers are valid.
    let ok = unsafe {
        GetVolumeInformationW(
            w.as_ptr(),
            name.as_mut_ptr(),
            name.len() as u32,
            &mut serial,
            &mut maxlen,
            &mut flags,
            fs.as_mut_ptr(),
            fs.len() as u32,
        )
    } != 0;
    let text = |b: &[u16]| {
        String::from_utf16_lossy(&b[..b.iter().position(|c| *c == 0).unwrap_or(b.len())])
    };
    ok.then(|| (serial, text(&fs), text(&name)))
}

/// One mount per drive letter, by mount id (the drive's index, A: = 0).
pub fn volumes() -> (HashMap<u64, Mount>, Vec<SourceError>) {
    let mut out = HashMap::new();
    let mut errors = Vec::new();
    // SAFETY: plain call.
    let mask = unsafe { GetLogicalDrives() };
    for i in 0..26u32 {
        if mask & (1 << i) == 0 {
            continue;
        }
        let root = format!("{}:\\", (b'A' + i as u8) as char);
        let w = wide(&root);
        // SAFETY: `w` is a NUL-terminated wide string.
        let drive_type = unsafe { GetDriveTypeW(w.as_ptr()) };
        if drive_type == DRIVE_NO_ROOT_DIR {
            continue;
        }
        let (tx, rx) = mpsc::channel();
        let r = root.clone();
        std::thread::spawn(move || {
            let _ = tx.send(volume_info(r));
        });
        let info = match rx.recv_timeout(VOLUME_TIMEOUT) {
            Ok(Some(i)) => i,
            Ok(None) => continue, // no medium
            Err(_) => {
                errors.push(SourceError {
                    source: root.clone(),
                    error: format!(
                        "the volume did not answer within {} s; files on it have no filesystem details",
                        VOLUME_TIMEOUT.as_secs()
                    ),
                });
                continue;
            }
        };
        let (serial, fstype, label) = info;
        let locality = if drive_type == DRIVE_REMOTE {
            match classify_fstype(&fstype.to_ascii_lowercase()) {
                FsLocality::Local => FsLocality::Remote,
                other => other,
            }
        } else {
            FsLocality::Local
        };
        out.insert(
            u64::from(i),
            Mount {
                mount_id: u64::from(i),
                parent_id: u64::from(i),
                major: serial,
                minor: 0,
                root: "\\".into(),
                mount_point: root.clone().into(),
                mount_options: String::new(),
                fstype,
                source: label,
                super_options: String::new(),
                locality: Some(locality),
            },
        );
    }
    (out, errors)
}
