//! `FileProcessIdsUsingFileInformation`: the per-file question "which processes have
//! this file open?", answered by the file system for any caller that may open the
//! file for metadata, with no admin rights and no handle duplication. It names
//! processes the handle table cannot show (services, other users) but not the
//! handle, its inheritability, or the open's identity, so the handle table still
//! supplies those where it can.
//!
//! Restart Manager (`RmGetList`) answers the same question through a heavier session
//! API and is not used: under Wine it is a stub that reports *no* users of a file
//! that is open, and silently wrong evidence is worse than none.

use std::io;
use std::os::windows::io::AsRawHandle;
use std::path::Path;

use windows_sys::Wdk::Storage::FileSystem::{
    FileProcessIdsUsingFileInformation, NtQueryInformationFile,
};
use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

use super::fileid;

const STATUS_INFO_LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;
const STATUS_BUFFER_OVERFLOW: i32 = 0x8000_0005_u32 as i32;
/// What Wine 8 answers: the information class is not implemented.
pub const STATUS_NOT_IMPLEMENTED: i32 = 0xC000_0002_u32 as i32;
const STATUS_INVALID_INFO_CLASS: i32 = 0xC000_0003_u32 as i32;

/// Why the per-file question could not be asked.
#[derive(Debug)]
pub enum FilePidsError {
    /// This system does not implement it (Wine; very old Windows): use the handle table.
    Unsupported,
    Io(io::Error),
}

/// Parses a `FILE_PROCESS_IDS_USING_FILE_INFORMATION`: a `ULONG` count, padding to
/// pointer alignment, then `count` `ULONG_PTR` process ids.
pub fn parse(buf: &[u8]) -> Option<Vec<u32>> {
    let word = std::mem::size_of::<usize>();
    let count = u32::from_ne_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let list = buf.get(word..)?;
    if list.len() < count.checked_mul(word)? {
        return None;
    }
    Some(
        list.chunks_exact(word)
            .take(count)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..word].copy_from_slice(c);
                u64::from_ne_bytes(b) as u32
            })
            .collect(),
    )
}

/// The pids of every process that has `path` open (a final symlink is not followed).
pub fn pids_using(path: &Path) -> Result<Vec<u32>, FilePidsError> {
    let file = fileid::open_meta(path).map_err(FilePidsError::Io)?;
    let mut len = 4096usize;
    loop {
        let mut buf: Vec<u64> = vec![0; len / 8];
        // SAFETY: zeroed plain data, filled by the call.
        let mut iosb: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
        // SAFETY: `file` owns the handle; `buf` is writable for `len` bytes.
        let status = unsafe {
            NtQueryInformationFile(
                file.as_raw_handle() as HANDLE,
                &mut iosb,
                buf.as_mut_ptr().cast(),
                len as u32,
                FileProcessIdsUsingFileInformation,
            )
        };
        match status {
            STATUS_INFO_LENGTH_MISMATCH | STATUS_BUFFER_OVERFLOW if len < 1 << 24 => {
                len *= 4;
                continue;
            }
            STATUS_NOT_IMPLEMENTED | STATUS_INVALID_INFO_CLASS => {
                return Err(FilePidsError::Unsupported);
            }
            s if s < 0 => {
                return Err(FilePidsError::Io(io::Error::other(format!(
                    "FileProcessIdsUsingFileInformation failed: NTSTATUS {:#010x}",
                    s as u32
                ))));
            }
            _ => {}
        }
        let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
        return parse(&bytes).ok_or_else(|| {
            FilePidsError::Io(io::Error::other(
                "FileProcessIdsUsingFileInformation returned a malformed list",
            ))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn process_id_list_is_read_after_the_aligned_count() {
        let word = std::mem::size_of::<usize>();
        let mut buf = vec![0u8; word * 4];
        buf[..4].copy_from_slice(&3u32.to_ne_bytes());
        for (i, pid) in [4u32, 1234, 0x20].iter().enumerate() {
            buf[word * (i + 1)..word * (i + 1) + 4].copy_from_slice(&pid.to_ne_bytes());
        }
        assert_eq!(parse(&buf), Some(vec![4, 1234, 0x20]));
    }

    #[test]
    fn a_count_beyond_the_buffer_is_rejected_not_read_past() {
        let mut buf = vec![0u8; 16];
        buf[..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert_eq!(parse(&buf), None);
        assert_eq!(parse(&[1, 0]), None);
    }
}
