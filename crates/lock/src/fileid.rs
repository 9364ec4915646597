//! File identity on Windows: the volume serial number and file index that name a
//! file the way (device, inode) does on Linux, read without disturbing anyone.

use std::fs::File;
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Foundation::{FILETIME, HANDLE};
use windows_sys::Win32::Storage::FileSystem::{
    BY_HANDLE_FILE_INFORMATION, FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_REPARSE_POINT,
    FILE_FLAG_BACKUP_SEMANTICS, FILE_FLAG_OPEN_REPARSE_POINT, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, GetFileInformationByHandle,
};

/// Every share mode: our open never makes another program's open fail.
pub const SHARE_ALL: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

/// What `GetFileInformationByHandle` says about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    /// Volume serial number (the "device").
    pub volume_serial: u32,
    /// File index (the "inode"), unique on its volume while the file exists.
    pub file_index: u64,
    pub links: u32,
    pub size: u64,
    pub attributes: u32,
    /// Last write time, seconds since the Unix epoch.
    pub mtime: i64,
}

impl FileIdentity {
    pub fn is_dir(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_DIRECTORY != 0
    }

    pub fn is_reparse_point(&self) -> bool {
        self.attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0
    }
}

/// Seconds since the Unix epoch of a `FILETIME` (100 ns ticks since 1601).
pub fn filetime_to_unix(ft: FILETIME) -> i64 {
    let ticks = (u64::from(ft.dwHighDateTime) << 32) | u64::from(ft.dwLowDateTime);
    (ticks / 10_000_000) as i64 - 11_644_473_600
}

/// Opens `path` for metadata only, the Windows counterpart of `O_PATH|O_NOFOLLOW`.
///
/// Desired access 0 reads no data and conflicts with no other open's share mode,
/// full sharing never makes another program's open fail, `FILE_FLAG_OPEN_REPARSE_POINT`
/// opens a symlink or junction itself instead of following it, and
/// `FILE_FLAG_BACKUP_SEMANTICS` is what lets `CreateFileW` open a directory. Std
/// opens handles non-inheritable.
pub fn open_meta(path: &Path) -> io::Result<File> {
    open_meta_following(path, false)
}

/// [`open_meta`], following a final symlink or junction when `follow`.
pub fn open_meta_following(path: &Path, follow: bool) -> io::Result<File> {
    let reparse = if follow {
        0
    } else {
        FILE_FLAG_OPEN_REPARSE_POINT
    };
    std::fs::OpenOptions::new()
        .access_mode(0)
        .share_mode(SHARE_ALL)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS | reparse)
        .open(path)
}

/// The identity of an open handle.
///
/// # Safety
/// `handle` must be a valid, open handle for the duration of the call.
pub unsafe fn identity_of_handle(handle: HANDLE) -> io::Result<FileIdentity> {
    // SAFETY: the struct is plain data; the call fills it or fails.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: `handle` is a valid handle for the duration of the call (callers own it).
    if unsafe { GetFileInformationByHandle(handle, &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(FileIdentity {
        volume_serial: info.dwVolumeSerialNumber,
        file_index: (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow),
        links: info.nNumberOfLinks,
        size: (u64::from(info.nFileSizeHigh) << 32) | u64::from(info.nFileSizeLow),
        attributes: info.dwFileAttributes,
        mtime: filetime_to_unix(info.ftLastWriteTime),
    })
}

/// The identity of an open file.
pub fn identity(file: &File) -> io::Result<FileIdentity> {
    // SAFETY: `file` owns the handle and outlives the call.
    unsafe { identity_of_handle(file.as_raw_handle() as HANDLE) }
}

/// The identity of the file at `path` (a final symlink is not followed).
pub fn identity_of_path(path: &Path) -> io::Result<FileIdentity> {
    identity(&open_meta(path)?)
}

/// A path without the `\\?\` verbatim prefix that `GetFinalPathNameByHandleW` and
/// `std::fs::canonicalize` add: `\\?\C:\x` → `C:\x`, `\\?\UNC\srv\share` → `\\srv\share`.
/// Other verbatim forms (volume GUIDs) stay as they are.
pub fn simplify_verbatim(path: &str) -> String {
    if let Some(rest) = path.strip_prefix(r"\\?\UNC\") {
        return format!(r"\\{rest}");
    }
    if let Some(rest) = path.strip_prefix(r"\\?\") {
        let b = rest.as_bytes();
        if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
            return rest.to_string();
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::simplify_verbatim;

    #[test]
    fn verbatim_prefixes_are_dropped_only_where_a_plain_path_exists() {
        assert_eq!(
            simplify_verbatim(r"\\?\C:\ProgramData\x.lock"),
            r"C:\ProgramData\x.lock"
        );
        assert_eq!(simplify_verbatim(r"\\?\UNC\srv\share\a"), r"\\srv\share\a");
        assert_eq!(
            simplify_verbatim(r"\\?\Volume{0000}\a"),
            r"\\?\Volume{0000}\a"
        );
        assert_eq!(simplify_verbatim(r"C:\a"), r"C:\a");
    }
}
