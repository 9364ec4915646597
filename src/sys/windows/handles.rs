//! The system handle table: which process has which file open.
//!
//! `NtQuerySystemInformation(SystemExtendedHandleInformation)` lists every handle of
//! every process (pid, handle value, object type, `OBJ_INHERIT`), but not what file
//! a handle names. For that, each file handle is duplicated into this process (which
//! needs `PROCESS_DUP_HANDLE` on its owner: without admin rights most services
//! refuse, and they are reported as not inspected) and asked for its file identity
//! and final path.
//!
//! Asking can block: a synchronous handle with an I/O in flight (a named pipe with a
//! pending read) holds its file object's lock, and every query on it waits for that
//! I/O. This is how handle.exe-like tools hang. So the questions are asked on a
//! worker thread under a watchdog: a handle that does not answer within
//! [`QUERY_TIMEOUT`] gets `CancelSynchronousIo`, and if the worker is still stuck it
//! is abandoned (with the duplicate it holds) and a fresh worker takes over.

use std::collections::HashMap;
use std::os::windows::io::AsRawHandle;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use windows_sys::Wdk::System::SystemInformation::NtQuerySystemInformation;
use windows_sys::Win32::Foundation::{
    CloseHandle, DUPLICATE_SAME_ACCESS, DuplicateHandle, ERROR_ACCESS_DENIED, GetLastError, HANDLE,
};
use windows_sys::Win32::Storage::FileSystem::{
    FILE_NAME_NORMALIZED, FILE_STANDARD_INFO, FILE_TYPE_DISK, FileStandardInfo,
    GetFileInformationByHandleEx, GetFileType, GetFinalPathNameByHandleW, VOLUME_NAME_DOS,
};
use windows_sys::Win32::System::IO::CancelSynchronousIo;
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcess, PROCESS_DUP_HANDLE};

use super::fileid::{self, FileIdentity};

/// `SystemExtendedHandleInformation`.
const SYSTEM_EXTENDED_HANDLE_INFORMATION: i32 = 64;
const STATUS_INFO_LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;
/// The handle is inherited by child processes (`HANDLE_FLAG_INHERIT`).
pub const OBJ_INHERIT: u32 = 0x2;
/// How long one handle may take to answer before the watchdog steps in.
pub const QUERY_TIMEOUT: Duration = Duration::from_millis(500);
/// After this many abandoned workers, stop resolving handles altogether.
const MAX_ABANDONED: usize = 8;

/// `SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX` (40 bytes on x64).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct RawEntry {
    object: usize,
    pid: usize,
    handle: usize,
    access: u32,
    creator_back_trace_index: u16,
    object_type_index: u16,
    attributes: u32,
    reserved: u32,
}

/// One handle of another process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandleEntry {
    pub pid: u32,
    pub handle: usize,
    pub type_index: u16,
    pub attributes: u32,
    pub access: u32,
    /// Kernel address of the file object (identifies an open, like an open file
    /// description); 0 when the system hides it (always under Wine, and for
    /// non-admin callers on recent Windows).
    pub object: usize,
}

/// Reads the whole handle table.
pub fn system_handles() -> Result<Vec<HandleEntry>, String> {
    let mut len: usize = 1 << 20;
    loop {
        // u64 elements: the buffer is 8-byte aligned like the structure.
        let mut buf: Vec<u64> = vec![0; len / 8];
        let mut needed: u32 = 0;
        // SAFETY: `buf` is writable for `len` bytes; `needed` is a valid out pointer.
        let status = unsafe {
            NtQuerySystemInformation(
                SYSTEM_EXTENDED_HANDLE_INFORMATION,
                buf.as_mut_ptr().cast(),
                u32::try_from(len).unwrap_or(u32::MAX),
                &mut needed,
            )
        };
        if status == STATUS_INFO_LENGTH_MISMATCH {
            // The table grows while we look: ask for what it said plus room.
            len = (needed as usize).max(len) * 2;
            if len > 1 << 30 {
                return Err("the handle table is larger than 1 GiB".into());
            }
            continue;
        }
        if status < 0 {
            return Err(format!(
                "NtQuerySystemInformation(SystemExtendedHandleInformation) failed: NTSTATUS {:#010x}",
                status as u32
            ));
        }
        let count = buf[0] as usize;
        let header = 2 * std::mem::size_of::<usize>();
        let size = std::mem::size_of::<RawEntry>();
        if header + count.saturating_mul(size) > len {
            return Err(format!(
                "the handle table says {count} entries, more than its buffer holds"
            ));
        }
        let base = buf.as_ptr().cast::<u8>();
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            // SAFETY: in bounds (checked above); read_unaligned needs no alignment.
            let e: RawEntry =
                unsafe { std::ptr::read_unaligned(base.add(header + i * size).cast()) };
            out.push(HandleEntry {
                pid: e.pid as u32,
                handle: e.handle,
                type_index: e.object_type_index,
                attributes: e.attributes,
                access: e.access,
                object: e.object,
            });
        }
        return Ok(out);
    }
}

/// The object type index of files: the type of a file handle of our own.
pub fn file_type_index(table: &[HandleEntry], own: &std::fs::File) -> Option<u16> {
    let me = std::process::id();
    let h = own.as_raw_handle() as usize;
    table
        .iter()
        .find(|e| e.pid == me && e.handle == h)
        .map(|e| e.type_index)
}

/// A process opened for duplicating its handles.
pub struct ProcessHandle(HANDLE);

impl Drop for ProcessHandle {
    fn drop(&mut self) {
        // SAFETY: the handle is ours and closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// Why a process's handles could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenError {
    Denied,
    Gone,
}

pub fn open_process(pid: u32) -> Result<ProcessHandle, OpenError> {
    // SAFETY: plain call; a null return is checked.
    let h = unsafe { OpenProcess(PROCESS_DUP_HANDLE, 0, pid) };
    if h.is_null() {
        // SAFETY: reads this thread's last error.
        return Err(match unsafe { GetLastError() } {
            ERROR_ACCESS_DENIED => OpenError::Denied,
            _ => OpenError::Gone,
        });
    }
    Ok(ProcessHandle(h))
}

/// A duplicate of another process's handle, closed on drop.
pub struct Duplicate(HANDLE);

// SAFETY: a handle value may be used and closed from any thread.
unsafe impl Send for Duplicate {}

impl Drop for Duplicate {
    fn drop(&mut self) {
        // SAFETY: the duplicate is ours and closed once.
        unsafe { CloseHandle(self.0) };
    }
}

pub fn duplicate(process: &ProcessHandle, handle: usize) -> Option<Duplicate> {
    let mut dup: HANDLE = std::ptr::null_mut();
    // SAFETY: `process` is open with PROCESS_DUP_HANDLE; `dup` is a valid out pointer.
    let ok = unsafe {
        DuplicateHandle(
            process.0,
            handle as HANDLE,
            GetCurrentProcess(),
            &mut dup,
            0,
            0, // not inheritable
            DUPLICATE_SAME_ACCESS,
        )
    };
    (ok != 0 && !dup.is_null()).then_some(Duplicate(dup))
}

/// What a file handle names.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub identity: FileIdentity,
    pub path: Option<PathBuf>,
    /// The file is marked for deletion (it disappears when the last handle closes).
    pub delete_pending: bool,
}

fn final_path(h: HANDLE) -> Option<PathBuf> {
    let mut buf = vec![0u16; 512];
    loop {
        // SAFETY: `buf` is writable for its length in u16s.
        let n = unsafe {
            GetFinalPathNameByHandleW(
                h,
                buf.as_mut_ptr(),
                buf.len() as u32,
                FILE_NAME_NORMALIZED | VOLUME_NAME_DOS,
            )
        } as usize;
        if n == 0 {
            return None;
        }
        if n >= buf.len() {
            buf.resize(n + 1, 0);
            continue;
        }
        let s = String::from_utf16_lossy(&buf[..n]);
        return Some(PathBuf::from(fileid::simplify_verbatim(&s)));
    }
}

/// Identity and path of a disk file handle; `None` for pipes, devices, directories.
fn resolve(h: HANDLE) -> Option<Resolved> {
    // SAFETY: `h` is a valid duplicate for the duration of the call.
    if unsafe { GetFileType(h) } != FILE_TYPE_DISK {
        return None;
    }
    // SAFETY: `h` is the caller's valid duplicate.
    let identity = unsafe { fileid::identity_of_handle(h) }.ok()?;
    if identity.is_dir() {
        return None;
    }
    // SAFETY: zeroed plain data, filled by the call.
    let mut std_info: FILE_STANDARD_INFO = unsafe { std::mem::zeroed() };
    // SAFETY: the buffer is a FILE_STANDARD_INFO of the size passed.
    let delete_pending = unsafe {
        GetFileInformationByHandleEx(
            h,
            FileStandardInfo,
            (&mut std_info as *mut FILE_STANDARD_INFO).cast(),
            std::mem::size_of::<FILE_STANDARD_INFO>() as u32,
        )
    } != 0
        && std_info.DeletePending;
    Some(Resolved {
        identity,
        path: final_path(h),
        delete_pending,
    })
}

struct Worker {
    tx: Sender<Duplicate>,
    rx: Receiver<Option<Resolved>>,
    thread: JoinHandle<()>,
}

fn spawn_worker() -> Option<Worker> {
    let (tx, jobs) = mpsc::channel::<Duplicate>();
    let (answers, rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("lockscan-handle-query".into())
        .spawn(move || {
            for dup in jobs {
                let r = resolve(dup.0);
                drop(dup);
                if answers.send(r).is_err() {
                    break;
                }
            }
        })
        .ok()?;
    Some(Worker { tx, rx, thread })
}

/// Resolves duplicated handles on a worker thread, never waiting on one for long.
pub struct Watchdog {
    worker: Option<Worker>,
    pub abandoned: usize,
}

/// Result of one watched query.
pub enum Answer {
    Resolved(Resolved),
    /// Not a disk file (pipe, device, directory) or already closed.
    NotAFile,
    /// The query did not return in time; the handle was skipped.
    Hung,
    /// Too many hung queries: resolving was given up.
    GaveUp,
}

impl Watchdog {
    pub fn new() -> Self {
        Watchdog {
            worker: spawn_worker(),
            abandoned: 0,
        }
    }

    pub fn resolve(&mut self, dup: Duplicate) -> Answer {
        if self.abandoned >= MAX_ABANDONED {
            return Answer::GaveUp;
        }
        if self.worker.is_none() {
            self.worker = spawn_worker();
        }
        let Some(w) = &self.worker else {
            return Answer::GaveUp;
        };
        if w.tx.send(dup).is_err() {
            self.worker = None;
            return Answer::NotAFile;
        }
        match w.rx.recv_timeout(QUERY_TIMEOUT) {
            Ok(Some(r)) => return Answer::Resolved(r),
            Ok(None) => return Answer::NotAFile,
            Err(RecvTimeoutError::Disconnected) => {
                self.worker = None;
                return Answer::NotAFile;
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        // Stuck: cancel the worker's synchronous I/O and give it a moment.
        // SAFETY: the thread handle stays valid while we own its JoinHandle.
        unsafe { CancelSynchronousIo(w.thread.as_raw_handle() as HANDLE) };
        match w.rx.recv_timeout(Duration::from_millis(200)) {
            Ok(Some(r)) => Answer::Resolved(r),
            Ok(None) => Answer::NotAFile,
            Err(_) => {
                // Abandon it (dropping the JoinHandle detaches the thread) and its
                // duplicate; a fresh worker serves the next handle.
                self.worker = None;
                self.abandoned += 1;
                Answer::Hung
            }
        }
    }
}

impl Default for Watchdog {
    fn default() -> Self {
        Self::new()
    }
}

/// Handles grouped by owning process, file handles only.
pub fn file_handles_by_pid(
    table: &[HandleEntry],
    file_type: u16,
) -> HashMap<u32, Vec<HandleEntry>> {
    let mut map: HashMap<u32, Vec<HandleEntry>> = HashMap::new();
    for e in table {
        if e.type_index == file_type {
            map.entry(e.pid).or_default().push(*e);
        }
    }
    map
}
