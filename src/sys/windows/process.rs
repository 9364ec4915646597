//! The Windows process table (through sysinfo) and liveness checks (`OpenProcess`).

use std::collections::HashMap;

use sysinfo::{ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, UpdateKind};
use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_ACCESS_DENIED, FILETIME, GetLastError, STILL_ACTIVE,
};
use windows_sys::Win32::System::Threading::{
    GetExitCodeProcess, GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
};

use super::fileid::filetime_to_unix;
use crate::sys::{ProcessInfo, ProcessState};

/// Every process the system lists, by pid.
pub fn process_table() -> Result<HashMap<i32, ProcessInfo>, String> {
    let mut sys = System::new().map_err(|e| format!("cannot list processes: {e}"))?;
    sys.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing()
            .with_cmd(UpdateKind::Always)
            .with_exe(UpdateKind::Always),
    );
    // (sysinfo's user list is not used: under Wine it crashes in NetUserEnum's
    // result handling; owners come from each process's token, see `owner_of`.)
    let mut out = HashMap::with_capacity(sys.processes().len());
    for (pid, p) in sys.processes() {
        let Ok(pid) = i32::try_from(pid.as_u32()) else {
            continue;
        };
        let cmdline = p
            .cmd()
            .iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ");
        let state = match p.status() {
            ProcessStatus::Run => Some(ProcessState::Running),
            ProcessStatus::Sleep | ProcessStatus::Idle => Some(ProcessState::Sleeping),
            ProcessStatus::Stop | ProcessStatus::Suspended => Some(ProcessState::Stopped),
            ProcessStatus::Zombie | ProcessStatus::Dead => Some(ProcessState::Zombie),
            _ => None,
        };
        out.insert(
            pid,
            ProcessInfo {
                pid,
                command: p.name().to_string_lossy().into_owned(),
                cmdline,
                uid: None,
                user: None,
                started_at: (p.start_time() > 0).then_some(p.start_time()),
                state,
                ppid: p.parent().and_then(|pp| i32::try_from(pp.as_u32()).ok()),
                exe: p.exe().map(|e| e.to_path_buf()),
                wchan: None,
                stdin_tty: None,
                cgroup: None,
                cwd: None,
                ns_pid: None,
                tty_foreground: None,
                kernel_thread: false,
            },
        );
    }
    Ok(out)
}

/// What `OpenProcess` says about a pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Running; with its creation time (seconds since the Unix epoch) when readable.
    Alive(Option<u64>),
    /// Exists, but we may not query it (another user's or a protected process).
    Denied,
    /// No such process, or it has exited (a handle someone keeps open can keep an
    /// exited process's pid reserved; its exit code then is not `STILL_ACTIVE`).
    Gone,
}

/// Liveness of `pid`, and its creation time, with `OpenProcess`.
pub fn liveness(pid: i32) -> Liveness {
    let Ok(pid) = u32::try_from(pid) else {
        return Liveness::Gone;
    };
    // SAFETY: plain call; a null return is checked.
    let h = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if h.is_null() {
        // SAFETY: reads the calling thread's last error.
        return match unsafe { GetLastError() } {
            ERROR_ACCESS_DENIED => Liveness::Denied,
            _ => Liveness::Gone, // ERROR_INVALID_PARAMETER: no such pid
        };
    }
    let mut code = 0u32;
    // SAFETY: `h` is a process handle we own; `code` is a valid out pointer.
    let ok = unsafe { GetExitCodeProcess(h, &mut code) } != 0;
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    // SAFETY: `h` is valid; the four out pointers are valid FILETIMEs.
    let times = unsafe { GetProcessTimes(h, &mut created, &mut exited, &mut kernel, &mut user) };
    // SAFETY: `h` is ours and closed once.
    unsafe { CloseHandle(h) };
    if ok && code != STILL_ACTIVE as u32 {
        return Liveness::Gone;
    }
    let started = (times != 0)
        .then(|| filetime_to_unix(created))
        .and_then(|s| u64::try_from(s).ok());
    Liveness::Alive(started)
}

/// The account (`DOMAIN\\user`) a process runs as, from its token.
pub fn owner_of(pid: i32) -> Option<String> {
    use windows_sys::Win32::Security::{
        GetTokenInformation, LookupAccountSidW, SID_NAME_USE, TOKEN_QUERY, TOKEN_USER, TokenUser,
    };
    use windows_sys::Win32::System::Threading::OpenProcessToken;
    let pid = u32::try_from(pid).ok()?;
    // SAFETY: plain call; null is checked.
    let h = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if h.is_null() {
        return None;
    }
    let mut token = std::ptr::null_mut();
    // SAFETY: `h` is our process handle; `token` a valid out pointer.
    let opened = unsafe { OpenProcessToken(h, TOKEN_QUERY, &mut token) } != 0;
    // SAFETY: ours, closed once.
    unsafe { CloseHandle(h) };
    if !opened {
        return None;
    }
    // TOKEN_USER plus the SID it points into; u64s keep the buffer aligned.
    let mut buf = [0u64; 64];
    let mut len = 0u32;
    // SAFETY: the buffer is writable for the size passed.
    let ok = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buf.as_mut_ptr().cast(),
            std::mem::size_of_val(&buf) as u32,
            &mut len,
        )
    } != 0;
    // SAFETY: ours, closed once.
    unsafe { CloseHandle(token) };
    if !ok {
        return None;
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER.
    let sid = unsafe { (*buf.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let (mut name, mut domain) = ([0u16; 256], [0u16; 256]);
    let (mut nlen, mut dlen) = (name.len() as u32, domain.len() as u32);
    let mut use_: SID_NAME_USE = 0;
    // SAFETY: `sid` points into `buf`, alive here; buffers match the lengths passed.
    let ok = unsafe {
        LookupAccountSidW(
            std::ptr::null(),
            sid,
            name.as_mut_ptr(),
            &mut nlen,
            domain.as_mut_ptr(),
            &mut dlen,
            &mut use_,
        )
    } != 0;
    if !ok {
        return None;
    }
    let name = String::from_utf16_lossy(&name[..nlen as usize]);
    let domain = String::from_utf16_lossy(&domain[..dlen as usize]);
    Some(if domain.is_empty() {
        name
    } else {
        format!("{domain}\\{name}")
    })
}
