//! User names through the C library's resolver (`getpwuid_r`), so every account
//! the system knows is named: local ones whatever their shell, and those NSS brings
//! from LDAP, SSSD or systemd-userdb (rootless containers' high uids included).

use std::ffi::CStr;

/// The name of `uid`, or `None` when the system knows no such user.
pub fn name_of(uid: u32) -> Option<String> {
    let mut buf = vec![0u8; 1024];
    loop {
        // SAFETY: `passwd` is plain data that getpwuid_r fills; every pointer it
        // stores points into `buf`, which outlives their use below.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: `buf` is writable for `buf.len()` bytes; `pwd` and `result` are
        // valid out pointers.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pwd,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: a successful call leaves a NUL-terminated name inside `buf`.
        let name = unsafe { CStr::from_ptr(pwd.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_named_and_an_unused_uid_is_not() {
        assert_eq!(name_of(0).as_deref(), Some("root"));
        assert_eq!(name_of(4_000_000_123), None);
    }
}
