//! Probe which Windows APIs a lock scanner would need actually work (under Wine).
//! Spawns itself as a child that opens a temp file and LockFileEx-locks byte 0,
//! then queries each API from the parent and prints what it returns.
//! Output: one "[api] ..." block per API. Exit 0 unless the setup itself fails.
#[cfg(not(windows))]
fn main() {
    eprintln!("probe: Windows only");
}

#[cfg(windows)]
fn main() {
    win::main()
}

#[cfg(windows)]
mod win {
    use std::ffi::c_void;
    use std::io::{BufRead, BufReader};
    use std::os::windows::ffi::OsStrExt;
    use std::os::windows::io::AsRawHandle;
    use std::path::Path;
    use std::process::{Command, Stdio};

    use sample::*;
    use windows_sys::Wdk::Foundation::{NtQueryObject, ObjectTypeInformation};
    use windows_sys::Wdk::Storage::FileSystem::{
        FileProcessIdsUsingFileInformation, NtQueryInformationFile,
    };
    use windows_sys::Wdk::System::SystemInformation::NtQuerySystemInformation;
    use windows_sys::Win32::Foundation::{
        CloseHandle, DUPLICATE_SAME_ACCESS, DuplicateHandle, FILETIME, GetLastError, HANDLE,
        UNICODE_STRING,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        BY_HANDLE_FILE_INFORMATION, FILE_TYPE_DISK, GetFileInformationByHandle, GetFileType,
        GetFinalPathNameByHandleW, VOLUME_NAME_DOS, VOLUME_NAME_GUID, VOLUME_NAME_NONE,
        VOLUME_NAME_NT,
    };
    use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;
    use windows_sys::Win32::System::RestartManager::{
        CCH_RM_SESSION_KEY, RM_PROCESS_INFO, RmEndSession, RmGetList, RmRegisterResources,
        RmStartSession,
    };
    use windows_sys::Win32::System::Threading::{
        GetCurrentProcess, GetCurrentProcessId, GetProcessTimes, OpenProcess, PROCESS_DUP_HANDLE,
        PROCESS_NAME_WIN32, PROCESS_QUERY_LIMITED_INFORMATION, QueryFullProcessImageNameW,
    };

    const STATUS_INFO_LENGTH_MISMATCH: i32 = 0xC0000004u32 as i32;
    const SYSTEM_EXTENDED_HANDLE_INFORMATION: i32 = 64;
    const SYSTEM_HANDLE_INFORMATION: i32 = 16;

    /// SYSTEM_HANDLE_TABLE_ENTRY_INFO_EX (x64: 40 bytes)
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct HandleEntryEx {
        object: *mut c_void,
        pid: usize,
        handle: usize,
        access: u32,
        backtrace: u16,
        type_index: u16,
        attributes: u32,
        reserved: u32,
    }

    /// SYSTEM_HANDLE_TABLE_ENTRY_INFO (x64: 24 bytes)
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct HandleEntry {
        pid: u16,
        backtrace: u16,
        type_index: u8,
        attributes: u8,
        handle: u16,
        object: *mut c_void,
        access: u32,
    }

    fn wide(s: &std::ffi::OsStr) -> Vec<u16> {
        s.encode_wide().chain(Some(0)).collect()
    }

    /// NtQuerySystemInformation with a growing buffer. Returns (status, bytes).
    fn query_system(class: i32) -> (i32, Vec<u8>) {
        let mut len: u32 = 1 << 16;
        loop {
            let mut buf = vec![0u8; len as usize];
            let mut ret = 0u32;
            let st =
                unsafe { NtQuerySystemInformation(class, buf.as_mut_ptr().cast(), len, &mut ret) };
            if st == STATUS_INFO_LENGTH_MISMATCH && len < (1 << 28) {
                len = (len * 2).max(ret + 4096);
                continue;
            }
            buf.truncate(if st >= 0 { len as usize } else { 0 });
            return (st, buf);
        }
    }

    fn final_path(h: HANDLE, flags: u32) -> Result<String, u32> {
        let mut buf = vec![0u16; 1024];
        let n = unsafe { GetFinalPathNameByHandleW(h, buf.as_mut_ptr(), buf.len() as u32, flags) };
        if n == 0 || n as usize >= buf.len() {
            return Err(unsafe { GetLastError() });
        }
        Ok(String::from_utf16_lossy(&buf[..n as usize]))
    }

    fn type_name(h: HANDLE) -> String {
        let mut buf = vec![0u8; 1024];
        let mut ret = 0;
        let st = unsafe {
            NtQueryObject(
                h,
                ObjectTypeInformation,
                buf.as_mut_ptr().cast(),
                1024,
                &mut ret,
            )
        };
        if st < 0 {
            return format!("<NtQueryObject status {:#010x}>", st as u32);
        }
        let us = unsafe { &*(buf.as_ptr() as *const UNICODE_STRING) };
        let s = unsafe { std::slice::from_raw_parts(us.Buffer, us.Length as usize / 2) };
        String::from_utf16_lossy(s)
    }

    fn filetime_unix(ft: FILETIME) -> f64 {
        let t = ((ft.dwHighDateTime as u64) << 32) | ft.dwLowDateTime as u64;
        t as f64 / 1e7 - 11_644_473_600.0
    }

    fn process_times(pid: u32) -> String {
        unsafe {
            let h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
            if h.is_null() {
                return format!("OpenProcess failed, error {}", GetLastError());
            }
            let z = FILETIME {
                dwLowDateTime: 0,
                dwHighDateTime: 0,
            };
            let (mut c, mut e, mut k, mut u) = (z, z, z, z);
            let ok = GetProcessTimes(h, &mut c, &mut e, &mut k, &mut u);
            let err = GetLastError();
            let mut name = vec![0u16; 1024];
            let mut n = name.len() as u32;
            let nok = QueryFullProcessImageNameW(h, PROCESS_NAME_WIN32, name.as_mut_ptr(), &mut n);
            let image = if nok != 0 {
                String::from_utf16_lossy(&name[..n as usize])
            } else {
                format!("<QueryFullProcessImageNameW error {}>", GetLastError())
            };
            CloseHandle(h);
            if ok == 0 {
                return format!(
                    "OpenProcess ok, GetProcessTimes failed, error {err}; image {image}"
                );
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            format!(
                "ok: created {:.3}s ago (unix {:.3}), kernel {:.4}s user {:.4}s; image {image}",
                now - filetime_unix(c),
                filetime_unix(c),
                filetime_unix(k) + 11_644_473_600.0,
                filetime_unix(u) + 11_644_473_600.0,
            )
        }
    }

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        if args.len() == 3 && args[1] == "--child" {
            // burn ~300 ms of user CPU so GetProcessTimes can tell child from parent
            let t = std::time::Instant::now();
            let mut x = 0u64;
            while t.elapsed().as_millis() < 300 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
            std::process::exit(child_main("lock", Path::new(&args[2])));
        }
        println!("wine_get_version: {:?}", wine_version());
        let me = unsafe { GetCurrentProcessId() };
        println!(
            "self pid {me} ({me:#x}); std::process::id() = {}",
            std::process::id()
        );

        let path = std::env::temp_dir().join(format!("probe-{me}.dat"));
        std::fs::write(&path, b"probe data").unwrap();
        let own = open(&path, false, SHARE_ALL).expect("open own handle");
        let own_h = own.as_raw_handle() as HANDLE;
        println!("file {}  own handle {:#x}", path.display(), own_h as usize);
        let mut bhfi: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
        let ino = if unsafe { GetFileInformationByHandle(own_h, &mut bhfi) } != 0 {
            let idx = ((bhfi.nFileIndexHigh as u64) << 32) | bhfi.nFileIndexLow as u64;
            println!(
                "GetFileInformationByHandle: file index {idx} (= Linux st_ino under Wine), volume serial {:#x}",
                bhfi.dwVolumeSerialNumber
            );
            idx
        } else {
            0
        };

        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--child")
            .arg(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn child");
        let cpid = child.id();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        println!("child pid {cpid} ({cpid:#x}) says {:?}", line.trim());
        assert_eq!(line.trim(), "LOCKED");

        // ---- LockFileEx between processes
        let f = open(&path, true, SHARE_ALL).unwrap();
        let r = try_lock(&f, 0, 1, true);
        println!(
            "\n[LockFileEx] parent lock of child-locked byte 0: {:?}",
            r.map_err(|e| e.raw_os_error())
        );
        let r = try_lock(&f, 5, 1, true);
        println!(
            "[LockFileEx] parent lock of free byte 5: {:?}",
            r.map_err(|e| e.raw_os_error())
        );
        let _ = unlock(&f, 5, 1);
        let mut b = [0u8; 1];
        println!(
            "[LockFileEx] ReadFile/WriteFile on the locked byte: {:?} / {:?} (Windows: Err(33))",
            read_at(&f, 0, &mut b).map_err(|e| e.raw_os_error()),
            write_at(&f, 0, b"p").map_err(|e| e.raw_os_error())
        );
        drop(f);
        // Wine implements the locks in wineserver with fcntl() on its own fd:
        // the Linux side sees them as POSIX locks held by the wineserver process.
        match std::fs::read_to_string(r"Z:\proc\locks") {
            Ok(s) => {
                let tag = format!(":{ino} ");
                let hits: Vec<&str> = s.lines().filter(|l| l.contains(&tag)).collect();
                println!(
                    "[LockFileEx] Z:\\proc\\locks lines for inode {ino} (Linux view): {}",
                    hits.len()
                );
                for l in hits {
                    let pid = l.split_whitespace().nth(4).unwrap_or("?");
                    let comm =
                        std::fs::read_to_string(format!(r"Z:\proc\{pid}\comm")).unwrap_or_default();
                    println!("    {l}   <- Linux pid {pid} = {}", comm.trim());
                }
            }
            Err(e) => println!("[LockFileEx] Z:\\proc\\locks unreadable: {e}"),
        }

        // ---- NtQuerySystemInformation(SystemExtendedHandleInformation = 64)
        println!();
        let (st, buf) = query_system(SYSTEM_EXTENDED_HANDLE_INFORMATION);
        println!(
            "[NtQuerySystemInformation(64)] status {:#010x}, {} bytes",
            st as u32,
            buf.len()
        );
        let mut file_type_index = None;
        if st >= 0 {
            let count = unsafe { *(buf.as_ptr() as *const usize) };
            let entries = unsafe {
                std::slice::from_raw_parts(buf.as_ptr().add(16) as *const HandleEntryEx, count)
            };
            let mut pids: Vec<usize> = entries.iter().map(|e| e.pid).collect();
            pids.sort();
            pids.dedup();
            let mine: Vec<_> = entries.iter().filter(|e| e.pid == me as usize).collect();
            let theirs: Vec<_> = entries.iter().filter(|e| e.pid == cpid as usize).collect();
            println!(
                "    {count} handles in {} processes; self {} handles; child {} handles",
                pids.len(),
                mine.len(),
                theirs.len()
            );
            match mine.iter().find(|e| e.handle == own_h as usize) {
                Some(e) => {
                    file_type_index = Some(e.type_index);
                    println!(
                        "    own file handle found: type_index {} access {:#x} object {:p} attrs {:#x}; type name via NtQueryObject: {:?}",
                        e.type_index,
                        e.access,
                        e.object,
                        e.attributes,
                        type_name(own_h)
                    );
                }
                None => println!("    own file handle {:#x} NOT in the list", own_h as usize),
            }
            let objs_nonnull = entries.iter().filter(|e| !e.object.is_null()).count();
            println!("    entries with non-null Object pointer: {objs_nonnull}/{count}");

            // Handle-duplication scan of the child, as a Windows lock scanner would do.
            let hp = unsafe { OpenProcess(PROCESS_DUP_HANDLE, 0, cpid) };
            if hp.is_null() {
                println!(
                    "    OpenProcess(PROCESS_DUP_HANDLE, child) failed: {}",
                    unsafe { GetLastError() }
                );
            } else {
                let mut disk = 0;
                let mut found = Vec::new();
                for e in theirs
                    .iter()
                    .filter(|e| Some(e.type_index) == file_type_index)
                {
                    let mut dup: HANDLE = std::ptr::null_mut();
                    let ok = unsafe {
                        DuplicateHandle(
                            hp,
                            e.handle as HANDLE,
                            GetCurrentProcess(),
                            &mut dup,
                            0,
                            0,
                            DUPLICATE_SAME_ACCESS,
                        )
                    };
                    if ok == 0 {
                        continue;
                    }
                    if unsafe { GetFileType(dup) } == FILE_TYPE_DISK {
                        disk += 1;
                        if let Ok(p) = final_path(dup, VOLUME_NAME_DOS)
                            && p.to_lowercase().ends_with(&format!("probe-{me}.dat"))
                        {
                            found.push((e.handle, p));
                        }
                    }
                    unsafe { CloseHandle(dup) };
                }
                println!(
                    "    child handles of the file type: {disk} disk files after DuplicateHandle; the probe file among them: {found:?}"
                );
                unsafe { CloseHandle(hp) };
            }
        }
        let (st16, buf16) = query_system(SYSTEM_HANDLE_INFORMATION);
        if st16 >= 0 {
            let count = unsafe { *(buf16.as_ptr() as *const u32) } as usize;
            let entries = unsafe {
                std::slice::from_raw_parts(buf16.as_ptr().add(8) as *const HandleEntry, count)
            };
            let mine = entries.iter().filter(|e| e.pid as u32 == me).count();
            let own = entries
                .iter()
                .any(|e| e.pid as u32 == me && e.handle as usize == own_h as usize);
            println!(
                "[NtQuerySystemInformation(16)] status {:#010x}: {count} handles, self {mine}, own file handle present: {own}",
                st16 as u32
            );
        } else {
            println!(
                "[NtQuerySystemInformation(16)] status {:#010x}",
                st16 as u32
            );
        }

        // ---- GetFinalPathNameByHandleW
        println!();
        for (name, fl) in [
            ("VOLUME_NAME_DOS", VOLUME_NAME_DOS),
            ("VOLUME_NAME_GUID", VOLUME_NAME_GUID),
            ("VOLUME_NAME_NT", VOLUME_NAME_NT),
            ("VOLUME_NAME_NONE", VOLUME_NAME_NONE),
        ] {
            println!(
                "[GetFinalPathNameByHandleW {name}] {:?}",
                final_path(own_h, fl)
            );
        }

        // ---- NtQueryInformationFile(FileProcessIdsUsingFileInformation = 47)
        println!();
        let mut iosb: IO_STATUS_BLOCK = unsafe { std::mem::zeroed() };
        let mut buf = vec![0usize; 256];
        let st = unsafe {
            NtQueryInformationFile(
                own_h,
                &mut iosb,
                buf.as_mut_ptr().cast(),
                (buf.len() * 8) as u32,
                FileProcessIdsUsingFileInformation,
            )
        };
        if st >= 0 {
            let n = buf[0] as u32 as usize;
            println!(
                "[NtQueryInformationFile(47)] status {:#010x}: {n} pids {:?} (self {me}, child {cpid})",
                st as u32,
                &buf[1..1 + n.min(255)]
            );
        } else {
            println!("[NtQueryInformationFile(47)] status {:#010x}", st as u32);
        }

        // ---- Restart Manager
        println!();
        unsafe {
            let mut session = 0u32;
            let mut key = [0u16; CCH_RM_SESSION_KEY as usize + 1];
            let r = RmStartSession(&mut session, 0, key.as_mut_ptr());
            println!("[RmStartSession] {r} session {session}");
            if r == 0 {
                let wpath = wide(path.as_os_str());
                let files = [wpath.as_ptr()];
                let r = RmRegisterResources(
                    session,
                    1,
                    files.as_ptr(),
                    0,
                    std::ptr::null(),
                    0,
                    std::ptr::null(),
                );
                println!("[RmRegisterResources] {r}");
                let (mut needed, mut n, mut reasons) = (0u32, 0u32, 0u32);
                let r = RmGetList(
                    session,
                    &mut needed,
                    &mut n,
                    std::ptr::null_mut(),
                    &mut reasons,
                );
                println!("[RmGetList, 0 slots] {r} needed {needed} reasons {reasons}");
                let mut infos: Vec<RM_PROCESS_INFO> = (0..16).map(|_| std::mem::zeroed()).collect();
                let mut n = infos.len() as u32;
                let r = RmGetList(
                    session,
                    &mut needed,
                    &mut n,
                    infos.as_mut_ptr(),
                    &mut reasons,
                );
                let got: Vec<_> = infos[..(n as usize).min(16)]
                    .iter()
                    .map(|i| {
                        let end = i.strAppName.iter().position(|&c| c == 0).unwrap_or(256);
                        (
                            i.Process.dwProcessId,
                            String::from_utf16_lossy(&i.strAppName[..end]),
                        )
                    })
                    .collect();
                println!("[RmGetList, 16 slots] {r} needed {needed} returned {n}: {got:?}");
                println!("[RmEndSession] {}", RmEndSession(session));
            }
        }

        // ---- OpenProcess + GetProcessTimes
        println!();
        println!("[GetProcessTimes self]  {}", process_times(me));
        println!("[GetProcessTimes child] {}", process_times(cpid));
        println!(
            "[GetProcessTimes pid 0xFFFFFFF0] {}",
            process_times(0xFFFF_FFF0)
        );

        drop(child.stdin.take());
        let st = child.wait().unwrap();
        println!("\nchild exit: {st:?}");
        println!(
            "[GetProcessTimes exited child, its handle still held by std Child] {}",
            process_times(cpid)
        );
        drop(child);
        println!(
            "[GetProcessTimes exited child, all handles closed] {}",
            process_times(cpid)
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
        println!(
            "[GetProcessTimes exited child, all handles closed, 2 s later] {}",
            process_times(cpid)
        );
        drop(own);
        let _ = std::fs::remove_file(&path);
    }
}
