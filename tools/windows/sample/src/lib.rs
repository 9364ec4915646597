//! Thin wrappers over the Win32 calls the Wine test exercises. Empty on non-Windows.
#![cfg(windows)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Storage::FileSystem::{
    FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE, LOCKFILE_EXCLUSIVE_LOCK,
    LOCKFILE_FAIL_IMMEDIATELY, LockFileEx, ReadFile, UnlockFileEx, WriteFile,
};
use windows_sys::Win32::System::IO::OVERLAPPED;

pub const ERROR_SHARING_VIOLATION: i32 = 32;
pub const ERROR_LOCK_VIOLATION: i32 = 33;

pub const SHARE_NONE: u32 = 0;
pub const SHARE_READ: u32 = FILE_SHARE_READ;
pub const SHARE_ALL: u32 = FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE;

/// CreateFileW via std: read (+write) access with an explicit share mode.
pub fn open(path: &Path, write: bool, share: u32) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .share_mode(share)
        .open(path)
}

fn overlapped_at(offset: u64) -> OVERLAPPED {
    let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
    ov.Anonymous.Anonymous.Offset = offset as u32;
    ov.Anonymous.Anonymous.OffsetHigh = (offset >> 32) as u32;
    ov
}

/// LockFileEx(LOCKFILE_FAIL_IMMEDIATELY [| LOCKFILE_EXCLUSIVE_LOCK]) on [offset, offset+len).
pub fn try_lock(f: &File, offset: u64, len: u64, exclusive: bool) -> io::Result<()> {
    let mut flags = LOCKFILE_FAIL_IMMEDIATELY;
    if exclusive {
        flags |= LOCKFILE_EXCLUSIVE_LOCK;
    }
    let mut ov = overlapped_at(offset);
    let ok = unsafe {
        LockFileEx(
            f.as_raw_handle() as HANDLE,
            flags,
            0,
            len as u32,
            (len >> 32) as u32,
            &mut ov,
        )
    };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub fn unlock(f: &File, offset: u64, len: u64) -> io::Result<()> {
    let mut ov = overlapped_at(offset);
    let ok = unsafe {
        UnlockFileEx(
            f.as_raw_handle() as HANDLE,
            0,
            len as u32,
            (len >> 32) as u32,
            &mut ov,
        )
    };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// ReadFile at an offset (Windows byte-range locks are mandatory for I/O).
pub fn read_at(f: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut ov = overlapped_at(offset);
    let mut n = 0u32;
    let ok = unsafe {
        ReadFile(
            f.as_raw_handle() as HANDLE,
            buf.as_mut_ptr(),
            buf.len() as u32,
            &mut n,
            &mut ov,
        )
    };
    if ok != 0 {
        Ok(n as usize)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// WriteFile at an offset.
pub fn write_at(f: &File, offset: u64, buf: &[u8]) -> io::Result<usize> {
    let mut ov = overlapped_at(offset);
    let mut n = 0u32;
    let ok = unsafe {
        WriteFile(
            f.as_raw_handle() as HANDLE,
            buf.as_ptr(),
            buf.len() as u32,
            &mut n,
            &mut ov,
        )
    };
    if ok != 0 {
        Ok(n as usize)
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Some("8.0") etc. when running under Wine (ntdll exports wine_get_version).
///
/// ```
/// // Doc-tests are cross-compiled and run through the runner too (cargo >= 1.89).
/// if let Some(v) = sample::wine_version() {
///     assert!(v.starts_with(char::is_numeric));
/// }
/// ```
pub fn wine_version() -> Option<String> {
    use windows_sys::Win32::System::LibraryLoader::{GetModuleHandleA, GetProcAddress};
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        if ntdll.is_null() {
            return None;
        }
        let f = GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast())?;
        let f: unsafe extern "C" fn() -> *const std::ffi::c_char = std::mem::transmute(f);
        Some(std::ffi::CStr::from_ptr(f()).to_string_lossy().into_owned())
    }
}

/// What the child process does, shared by the `sample` bin and the self-spawning test.
/// Prints exactly one status line ("LOCKED", "OPEN" or "FAIL <os error>"), flushes,
/// then blocks until stdin reaches EOF (the parent drops the pipe), then returns.
pub fn child_main(mode: &str, path: &Path) -> i32 {
    use std::io::{Read, Write};
    let res = match mode {
        // share everything, then lock byte 0 exclusively
        "lock" => open(path, true, SHARE_ALL)
            .and_then(|f| try_lock(&f, 0, 1, true).map(|()| (f, "LOCKED"))),
        // no sharing at all
        "hold" => open(path, true, SHARE_NONE).map(|f| (f, "OPEN")),
        // read access, share read only
        "hold-read" => open(path, false, SHARE_READ).map(|f| (f, "OPEN")),
        other => {
            eprintln!("unknown mode {other}");
            return 2;
        }
    };
    let mut out = io::stdout().lock();
    let (_file, code) = match res {
        Ok((f, msg)) => {
            writeln!(out, "{msg}").unwrap();
            (Some(f), 0)
        }
        Err(e) => {
            writeln!(out, "FAIL {}", e.raw_os_error().unwrap_or(-1)).unwrap();
            (None, 1)
        }
    };
    out.flush().unwrap();
    drop(out);
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
    code
}
