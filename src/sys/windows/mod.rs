//! The Windows backend: processes, the system handle table and volumes, gathered
//! into the same [`crate::sys::Snapshot`] type the Linux backend fills.
//!
//! Windows has no system lock table to read: byte-range locks (`LockFileEx`) are
//! seen only by probing a file (`--probe acquire`), and then cannot be attributed to
//! a handle. What Windows does list is every process's open handles, so the
//! snapshot's `open_fds` are the processes that have each file open: the candidate
//! holders of any lock on it.

pub mod file_pids;
pub use lockscan_lock::fileid;
pub mod handles;
pub mod process;
pub mod volumes;

use std::collections::HashMap;

use super::{
    FileKey, GatherOptions, OpenFd, PerFileApi, Platform, ProcessInfo, Snapshot, SourceError,
};
use handles::{Answer, OpenError, Watchdog};
use process::Liveness;

/// Whether this process runs elevated (the Windows counterpart of root: only then
/// may it duplicate every other user's and service's handles).
fn elevated() -> bool {
    use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
    use windows_sys::Win32::Security::{
        GetTokenInformation, TOKEN_ELEVATION, TOKEN_QUERY, TokenElevation,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: `token` is a valid out pointer; the pseudo handle needs no closing.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return false;
    }
    let mut elevation = TOKEN_ELEVATION { TokenIsElevated: 0 };
    let mut len = 0u32;
    // SAFETY: the buffer is a TOKEN_ELEVATION of the size passed.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenElevation,
            (&mut elevation as *mut TOKEN_ELEVATION).cast(),
            std::mem::size_of::<TOKEN_ELEVATION>() as u32,
            &mut len,
        )
    } != 0;
    // SAFETY: our token handle, closed once.
    unsafe { CloseHandle(token) };
    ok && elevation.TokenIsElevated != 0
}

pub fn gather(opts: &GatherOptions) -> Snapshot {
    let mut snap = Snapshot {
        taken_at: super::now_secs(),
        host: sysinfo::System::host_name().unwrap_or_default(),
        platform: Platform::Windows,
        boot_time: sysinfo::System::boot_time().ok().filter(|b| *b > 0),
        ..Default::default()
    };
    snap.visibility.root = elevated();
    let (mounts, errors) = volumes::volumes();
    snap.own_mount_ids = mounts.keys().copied().collect();
    snap.mounts = mounts;
    snap.errors.extend(errors);

    let table = process::process_table().unwrap_or_else(|e| {
        snap.errors.push(SourceError {
            source: "process table".into(),
            error: e,
        });
        HashMap::new()
    });
    snap.visibility.processes_seen = table.len();
    snap.process_names = table
        .iter()
        .map(|(pid, p)| (*pid, p.command.clone()))
        .collect();
    read_handles(&mut snap, &table);

    // Context (OpenProcess, token) only for pids asked for; the scan adds the
    // processes that have a reported file open, as on Linux.
    insert_processes(&mut snap, &table, opts.extra_pids.iter().copied());
    snap.all_processes = Some(table);
    snap
}

/// Reads every process's file handles into `snap.open_fds`.
fn read_handles(snap: &mut Snapshot, table: &HashMap<i32, ProcessInfo>) {
    // A handle of our own tells which object type index means "File".
    let own = match std::env::current_exe().and_then(|p| fileid::open_meta(&p)) {
        Ok(f) => f,
        Err(e) => {
            snap.errors.push(SourceError {
                source: "handle table".into(),
                error: format!("cannot open a file to learn the File object type: {e}"),
            });
            return;
        }
    };
    let entries = match handles::system_handles() {
        Ok(t) => t,
        Err(e) => {
            snap.errors.push(SourceError {
                source: "handle table".into(),
                error: e,
            });
            return;
        }
    };
    let Some(file_type) = handles::file_type_index(&entries, &own) else {
        snap.errors.push(SourceError {
            source: "handle table".into(),
            error: "our own file handle is missing from the system handle table".into(),
        });
        return;
    };
    snap.visibility.handle_table_read = true;
    let me = std::process::id();
    let by_pid = handles::file_handles_by_pid(&entries, file_type);
    let mut pids: Vec<u32> = by_pid.keys().copied().collect();
    pids.sort_unstable();
    let mut watchdog = Watchdog::new();
    let mut hung = 0usize;
    let mut gave_up = false;
    for pid in pids {
        if pid == me || pid == 0 {
            continue;
        }
        let ipid = pid as i32;
        let process = match handles::open_process(pid) {
            Ok(p) => p,
            Err(OpenError::Denied) => {
                snap.visibility.denied_pids.push(ipid);
                continue;
            }
            Err(OpenError::Gone) => {
                snap.visibility.processes_vanished += 1;
                continue;
            }
        };
        for e in &by_pid[&pid] {
            let Some(dup) = handles::duplicate(&process, e.handle) else {
                continue; // closed meanwhile
            };
            let r = match watchdog.resolve(dup) {
                Answer::Resolved(r) => r,
                Answer::NotAFile => continue,
                Answer::Hung => {
                    hung += 1;
                    snap.errors.push(SourceError {
                        source: format!("handle {:#x} of pid {pid}", e.handle),
                        error: format!(
                            "did not answer within {} ms (a pipe with I/O in flight?); skipped",
                            handles::QUERY_TIMEOUT.as_millis()
                        ),
                    });
                    continue;
                }
                Answer::GaveUp => {
                    gave_up = true;
                    break;
                }
            };
            let inherit = e.attributes & handles::OBJ_INHERIT != 0;
            snap.open_fds.push(OpenFd {
                pid: ipid,
                fd: e.handle as i32,
                path: r.path,
                deleted: r.identity.links == 0 || r.delete_pending,
                replaced: false,
                key: Some(FileKey {
                    major: r.identity.volume_serial,
                    minor: 0,
                    ino: r.identity.file_index,
                }),
                mnt_id: None,
                st_dev: None,
                // No O_CLOEXEC bit = inherited by children, as on Linux.
                flags: Some(if inherit { 0 } else { OpenFd::O_CLOEXEC }),
                locks: Vec::new(),
                open_file_id: (e.object != 0).then_some(e.object as u64),
                inherited_from: None,
            });
        }
        if gave_up {
            snap.errors.push(SourceError {
                source: "handle table".into(),
                error: format!(
                    "{hung} handle queries hung; stopped resolving handles (holders may be missing)"
                ),
            });
            break;
        }
    }
    snap.visibility.processes_denied = snap.visibility.denied_pids.len();
    mark_inherited(&mut snap.open_fds, table);
}

/// An inheritable handle whose parent process holds the same handle value on the
/// same file was inherited from that parent (a child gets its parent's inheritable
/// handles at the same values). The parent must have started first, so that a
/// recycled parent pid proves nothing.
fn mark_inherited(fds: &mut [OpenFd], table: &HashMap<i32, ProcessInfo>) {
    let index: HashMap<(i32, i32), Option<FileKey>> =
        fds.iter().map(|f| ((f.pid, f.fd), f.key)).collect();
    for f in fds.iter_mut() {
        if f.cloexec() != Some(false) {
            continue;
        }
        let Some(child) = table.get(&f.pid) else {
            continue;
        };
        let Some(ppid) = child.ppid else { continue };
        let parent_first = match (
            table.get(&ppid).and_then(|p| p.started_at),
            child.started_at,
        ) {
            (Some(p), Some(c)) => p <= c,
            _ => false,
        };
        if parent_first && index.get(&(ppid, f.fd)).is_some_and(|k| *k == f.key) {
            f.inherited_from = Some(ppid);
        }
    }
}

/// Copies process context for `pids` (and their parents) into the snapshot.
fn insert_processes(
    snap: &mut Snapshot,
    table: &HashMap<i32, ProcessInfo>,
    pids: impl IntoIterator<Item = i32>,
) {
    let mut todo: Vec<i32> = pids.into_iter().collect();
    while let Some(pid) = todo.pop() {
        if pid <= 0 || snap.processes.contains_key(&pid) {
            continue;
        }
        // Liveness is OpenProcess's to say, not the (slightly older) table's: a pid
        // in a pidfile may have exited, or be held open by someone after exiting.
        let info = match process::liveness(pid) {
            Liveness::Gone => continue,
            Liveness::Alive(started) => {
                let mut p = table.get(&pid).cloned().unwrap_or_else(|| ProcessInfo {
                    pid,
                    ..Default::default()
                });
                if started.is_some() {
                    p.started_at = started;
                }
                p
            }
            Liveness::Denied => table.get(&pid).cloned().unwrap_or_else(|| ProcessInfo {
                pid,
                ..Default::default()
            }),
        };
        let mut info = info;
        if info.user.is_none() {
            info.user = process::owner_of(pid);
        }
        if let Some(pp) = info.ppid {
            todo.push(pp);
        }
        snap.processes.insert(pid, info);
    }
}

/// Adds process context for `pids` (e.g. read from pidfiles) to a snapshot.
pub fn add_processes(snap: &mut Snapshot, pids: impl IntoIterator<Item = i32>) {
    let table = snap.all_processes.take().unwrap_or_default();
    insert_processes(snap, &table, pids);
    snap.all_processes = Some(table);
}

/// Asks the per-file API who has each candidate open (see [`file_pids`]). The first
/// "not implemented" stops it (Wine), and the report says the handle table was the
/// only evidence.
pub fn ask_per_file<'a>(
    snap: &mut Snapshot,
    files: impl IntoIterator<Item = (&'a std::path::Path, FileKey)>,
) {
    let me = std::process::id() as i32;
    let mut asked = false;
    for (path, key) in files {
        match file_pids::pids_using(path) {
            Ok(pids) => {
                asked = true;
                let pids: Vec<i32> = pids
                    .into_iter()
                    .map(|p| p as i32)
                    .filter(|p| *p != me && *p > 0)
                    .collect();
                if !pids.is_empty() {
                    snap.open_by_pids.insert(key, pids);
                }
            }
            Err(file_pids::FilePidsError::Unsupported) => {
                snap.visibility.per_file_api = Some(PerFileApi::Unavailable(
                    "FileProcessIdsUsingFileInformation is not implemented here (Wine); holders \
come from the handle table alone"
                        .into(),
                ));
                return;
            }
            Err(file_pids::FilePidsError::Io(e)) => snap.errors.push(SourceError {
                source: path.to_string_lossy().into_owned(),
                error: format!("cannot ask which processes have it open: {e}"),
            }),
        }
    }
    if asked {
        snap.visibility.per_file_api = Some(PerFileApi::FileProcessIds);
    }
}
