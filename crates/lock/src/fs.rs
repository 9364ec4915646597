//! Which filesystem a lock file lives on, and whether this host's view of
//! its locks can be trusted (docs/kernel-locks.md §3).
//!
//! `/proc/locks`, fdinfo and `F_GETLK` only ever show **this node's** locks.
//! On network filesystems another client's lock is invisible here, and
//! several setups make locks node-local altogether (`local_lock=`, `nobrl`,
//! `localflock`, virtiofs, QEMU's 9p server). FUSE locks are either local to
//! the FUSE inode or forwarded to the daemon, depending on the daemon.
//!
//! Two sources of truth exist: the mountinfo fstype string
//! ([`classify_fstype`]), which can tell FUSE subtypes (and so GlusterFS)
//! apart, and the `statfs` magic number ([`classify_magic`]), which needs no
//! mountinfo lookup but lumps every FUSE filesystem and virtiofs together.

/// How far the lock semantics of a filesystem can be trusted from this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FsLocality {
    /// Local disk or memory filesystem: this kernel sees every lock.
    Local,
    /// Network filesystem (NFS, SMB, AFS, 9p, ...): holders on other hosts are invisible.
    Remote,
    /// Clustered filesystem (CephFS, Lustre, GPFS, GFS2, OCFS2, ...).
    Cluster,
    /// FUSE (incl. virtiofs): semantics depend on the daemon.
    Fuse,
}

/// Classify a filesystem by its mountinfo fstype (field after the `-`
/// separator, e.g. `nfs4`, `fuse.sshfs`). Matching is exact and
/// case-sensitive, as the kernel prints these names in lower case.
/// Unknown names are assumed [`FsLocality::Local`].
pub fn classify_fstype(fstype: &str) -> FsLocality {
    match fstype {
        // Network filesystems: holders on other hosts are invisible here.
        "nfs" | "nfs4" | "cifs" | "smb3" | "smb2" | "smbfs" | "smb" | "afs" | "9p" | "coda"
        | "ncpfs" | "ncp" | "davfs" | "davfs2" => FsLocality::Remote,
        // Hypervisor host shares: node-local and unreliable semantics.
        "vboxsf" | "vmhgfs" | "prl_fs" => FsLocality::Remote,
        // Cluster filesystems: coherent through a lock manager (MDS, DLM),
        // which this host's lock tables do not show.
        "ceph" | "lustre" | "gpfs" | "gfs" | "gfs2" | "ocfs2" | "pvfs2" | "orangefs" | "beegfs"
        | "glusterfs" | "panfs" | "acfs" => FsLocality::Cluster,
        // FUSE-backed clustered filesystems are named by their subtype.
        "fuse.glusterfs" | "fuse.ceph-fuse" | "fuse.ceph" | "fuse.beegfs" | "fuse.lustre" => {
            FsLocality::Cluster
        }
        // Lock semantics depend on the daemon (virtiofsd: guest-local).
        "fuse" | "fuseblk" | "virtiofs" | "sshfs" => FsLocality::Fuse,
        s if s.starts_with("fuse.") || s.starts_with("fuseblk.") => FsLocality::Fuse,
        _ => FsLocality::Local,
    }
}

/// Known `statfs(2)` `f_type` magic numbers: (magic, name, locality).
///
/// Remote and cluster entries follow docs/kernel-locks.md §3.1 (linux/magic.h, the
/// coreutils table, filesystem sources). The local entries are common
/// filesystems so that [`classify_magic`] can say "known local" rather than
/// "unknown" for them.
const MAGICS: &[(u64, &str, FsLocality)] = &[
    // Network filesystems.
    (0x6969, "nfs", FsLocality::Remote),
    (0xFF53_4D42, "cifs", FsLocality::Remote),
    (0xFE53_4D42, "smb2", FsLocality::Remote),
    (0x517B, "smbfs", FsLocality::Remote),
    (0x6B41_4653, "afs", FsLocality::Remote), // kAFS, "kAFS"
    (0x5346_414F, "afs", FsLocality::Remote), // OpenAFS / AFS_SUPER_MAGIC
    (0x0102_1997, "9p", FsLocality::Remote),
    (0x7375_7245, "coda", FsLocality::Remote),
    (0x564C, "ncpfs", FsLocality::Remote),
    (0x786F_4256, "vboxsf", FsLocality::Remote),
    (0xBACB_ACBC, "vmhgfs", FsLocality::Remote),
    (0x7C7C_6673, "prl_fs", FsLocality::Remote),
    // Cluster filesystems.
    (0x00C3_6400, "ceph", FsLocality::Cluster),
    (0x0BD0_0BD0, "lustre", FsLocality::Cluster),
    (0x4750_4653, "gpfs", FsLocality::Cluster),
    (0x7461_636F, "ocfs2", FsLocality::Cluster),
    (0x0116_1970, "gfs2", FsLocality::Cluster),
    (0x2003_0528, "orangefs", FsLocality::Cluster),
    (0x1983_0326, "beegfs", FsLocality::Cluster),
    (0xAAD7_AAEA, "panfs", FsLocality::Cluster),
    (0x0131_11A8, "ibrix", FsLocality::Cluster),
    (0xBEEF_DEAD, "snfs", FsLocality::Cluster),
    (0x6163_6673, "acfs", FsLocality::Cluster),
    // FUSE, including virtiofs and every fuse.<subtype> (GlusterFS too:
    // only the mountinfo fstype can tell them apart).
    (0x6573_5546, "fuse", FsLocality::Fuse),
    // Local filesystems.
    (0xEF53, "ext4", FsLocality::Local), // ext2/ext3/ext4 share it
    (0x5846_5342, "xfs", FsLocality::Local),
    (0x9123_683E, "btrfs", FsLocality::Local),
    (0x0102_1994, "tmpfs", FsLocality::Local),
    (0x8584_58F6, "ramfs", FsLocality::Local),
    (0x2FC1_2FC1, "zfs", FsLocality::Local),
    (0x794C_7630, "overlay", FsLocality::Local),
    (0xF2F5_2010, "f2fs", FsLocality::Local),
    (0xCA45_1A4E, "bcachefs", FsLocality::Local),
    (0x4D44, "vfat", FsLocality::Local),
    (0x2011_BAB0, "exfat", FsLocality::Local),
    (0x7371_7368, "squashfs", FsLocality::Local),
    (0xE0F5_E1E2, "erofs", FsLocality::Local),
    (0x9660, "iso9660", FsLocality::Local),
    (0x1501_3346, "udf", FsLocality::Local),
    (0x3434, "nilfs2", FsLocality::Local),
    (0x5265_4973, "reiserfs", FsLocality::Local),
    (0xF15F, "ecryptfs", FsLocality::Local),
    (0x6573_5543, "fusectl", FsLocality::Local),
    (0x9FA0, "proc", FsLocality::Local),
    (0x6265_6572, "sysfs", FsLocality::Local),
    (0x1CD1, "devpts", FsLocality::Local),
    (0x9584_58F6, "hugetlbfs", FsLocality::Local),
];

/// `f_type` values are 32-bit magics, but `f_type` is a signed `long`, so on
/// 32-bit targets magics with the top bit set (CIFS, SMB2, vmhgfs, ...)
/// arrive sign-extended. Compare on the low 32 bits only.
fn normalize(f_type: u64) -> u64 {
    f_type & 0xFFFF_FFFF
}

/// Classify a `statfs` `f_type` magic number. `None` when the magic is not
/// in the table (treat it as local, but you cannot be sure).
pub fn classify_magic(f_type: u64) -> Option<FsLocality> {
    let f_type = normalize(f_type);
    MAGICS
        .iter()
        .find(|(magic, _, _)| *magic == f_type)
        .map(|&(_, _, locality)| locality)
}

/// Filesystem name for a magic number, for messages (`"nfs"`, `"fuse"`...).
pub fn magic_name(f_type: u64) -> Option<&'static str> {
    let f_type = normalize(f_type);
    MAGICS
        .iter()
        .find(|(magic, _, _)| *magic == f_type)
        .map(|&(_, name, _)| name)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn f_type_from_statfs(st: &rustix::fs::StatFs) -> u64 {
    // `f_type` is `long`/`u32` depending on the target; see `normalize`.
    #[allow(clippy::unnecessary_cast)]
    normalize(st.f_type as u64)
}

/// `fstatfs(2)` `f_type` of the filesystem `file` lives on (low 32 bits).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn fs_type_of(file: &std::fs::File) -> std::io::Result<u64> {
    let st = rustix::fs::fstatfs(file)?;
    Ok(f_type_from_statfs(&st))
}

/// Locality of the filesystem holding `path` (`statfs(2)`, follows
/// symlinks). Unknown magics are reported as [`FsLocality::Local`]; FUSE
/// filesystems, including virtiofs and GlusterFS, all come back as
/// [`FsLocality::Fuse`] because they share one magic. Use
/// [`classify_fstype`] on the mountinfo fstype for a finer answer.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub fn locality_of(path: &std::path::Path) -> std::io::Result<FsLocality> {
    let st = rustix::fs::statfs(path)?;
    Ok(classify_magic(f_type_from_statfs(&st)).unwrap_or(FsLocality::Local))
}

/// Classify a Windows volume by the file system name `GetVolumeInformationW`
/// reports (`NTFS`, `ReFS`, `FAT32`, `exFAT`, `CSVFS`, `NFS`, ...), ignoring
/// case. `CSVFS` (Cluster Shared Volumes) is [`FsLocality::Cluster`]; other
/// names go through [`classify_fstype`] in lower case, so `NFS`/`SMB`/`9P`
/// are remote and the local Windows file systems are [`FsLocality::Local`].
/// The drive type decides first in [`locality_of`]: a network drive reports
/// the *server's* file system name (often `NTFS`).
pub fn classify_volume_fs(name: &str) -> FsLocality {
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "csvfs" => FsLocality::Cluster,
        other => classify_fstype(other),
    }
}

/// NUL-terminated UTF-16 form of an absolute version of `path`.
#[cfg(windows)]
fn wide_absolute(path: &std::path::Path) -> std::io::Result<Vec<u16>> {
    use std::os::windows::ffi::OsStrExt;
    let abs = std::path::absolute(path)?;
    Ok(abs.as_os_str().encode_wide().chain(Some(0)).collect())
}

/// Is `path` a UNC path (`\\server\share\...`, `\\?\UNC\server\share\...`)?
#[cfg(windows)]
fn is_unc(path: &std::path::Path) -> bool {
    use std::path::{Component, Prefix};
    matches!(
        std::path::absolute(path).ok().as_deref().and_then(|p| p.components().next()),
        Some(Component::Prefix(p)) if matches!(p.kind(), Prefix::UNC(..) | Prefix::VerbatimUNC(..))
    )
}

/// Root of the volume holding `path` (`C:\`, `\\server\share\`, or a
/// mount-point folder), NUL-terminated, from `GetVolumePathNameW`.
#[cfg(windows)]
fn volume_root(path: &std::path::Path) -> std::io::Result<Vec<u16>> {
    use windows_sys::Win32::Storage::FileSystem::GetVolumePathNameW;
    let wide = wide_absolute(path)?;
    // The volume path is a prefix of the full path plus a backslash.
    let mut buf = vec![0u16; wide.len().max(261) + 2];
    let cap = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    // SAFETY: `wide` is NUL-terminated; `buf` is writable for `cap` UTF-16
    // units and the call writes at most that many, NUL included.
    if unsafe { GetVolumePathNameW(wide.as_ptr(), buf.as_mut_ptr(), cap) } == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let len = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    buf.truncate(len);
    buf.push(0);
    Ok(buf)
}

/// File system name of the volume holding `path` (`"NTFS"`, `"ReFS"`,
/// `"FAT32"`, `"exFAT"`, `"CSVFS"`, ...) from `GetVolumeInformationW`. For a
/// network share this is what the server reports. The path need not exist,
/// but its volume must.
#[cfg(windows)]
pub fn fs_name_of(path: &std::path::Path) -> std::io::Result<String> {
    use windows_sys::Win32::Storage::FileSystem::GetVolumeInformationW;
    let root = volume_root(path)?;
    let mut name = [0u16; 261];
    // SAFETY: `root` is NUL-terminated; every optional out-pointer is null
    // (allowed) except the name buffer, writable for its full length.
    let ok = unsafe {
        GetVolumeInformationW(
            root.as_ptr(),
            std::ptr::null_mut(),
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            name.as_mut_ptr(),
            name.len() as u32,
        )
    };
    if ok == 0 {
        return Err(std::io::Error::last_os_error());
    }
    let len = name.iter().position(|&c| c == 0).unwrap_or(name.len());
    Ok(String::from_utf16_lossy(&name[..len]))
}

/// Locality of the volume holding `path` (Windows).
///
/// * UNC paths (`\\server\share\...`) are [`FsLocality::Remote`] without
///   asking the server anything.
/// * Otherwise the volume root comes from `GetVolumePathNameW`, and a
///   `DRIVE_REMOTE` drive type (mapped network drive) is
///   [`FsLocality::Remote`].
/// * Otherwise the file system name ([`fs_name_of`]) is classified with
///   [`classify_volume_fs`] (`CSVFS` → cluster); unknown names are local.
#[cfg(windows)]
pub fn locality_of(path: &std::path::Path) -> std::io::Result<FsLocality> {
    use windows_sys::Win32::Storage::FileSystem::GetDriveTypeW;
    use windows_sys::Win32::System::WindowsProgramming::DRIVE_REMOTE;
    if is_unc(path) {
        return Ok(FsLocality::Remote);
    }
    let root = volume_root(path)?;
    // SAFETY: `root` is a NUL-terminated UTF-16 string that outlives the call.
    if unsafe { GetDriveTypeW(root.as_ptr()) } == DRIVE_REMOTE {
        return Ok(FsLocality::Remote);
    }
    Ok(classify_volume_fs(&fs_name_of(path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_cluster_and_fuse_fstypes_are_classified() {
        for name in [
            "nfs", "nfs4", "cifs", "smb3", "smbfs", "afs", "9p", "coda", "ncpfs", "davfs",
            "vboxsf", "vmhgfs", "prl_fs",
        ] {
            assert_eq!(classify_fstype(name), FsLocality::Remote, "{name}");
        }
        for name in [
            "ceph",
            "lustre",
            "gpfs",
            "gfs2",
            "ocfs2",
            "pvfs2",
            "orangefs",
            "beegfs",
            "glusterfs",
            "fuse.glusterfs",
        ] {
            assert_eq!(classify_fstype(name), FsLocality::Cluster, "{name}");
        }
        for name in [
            "fuse",
            "fuseblk",
            "virtiofs",
            "fuse.sshfs",
            "fuse.bindfs",
            "fuse.gcsfuse",
            "sshfs",
        ] {
            assert_eq!(classify_fstype(name), FsLocality::Fuse, "{name}");
        }
        for name in [
            "ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "fusectl", "nfsd", "proc", "",
        ] {
            assert_eq!(classify_fstype(name), FsLocality::Local, "{name}");
        }
    }

    #[test]
    fn magic_table_matches_linux_magic_h() {
        let cases: &[(u64, FsLocality, &str)] = &[
            (0x6969, FsLocality::Remote, "nfs"),
            (0xFF534D42, FsLocality::Remote, "cifs"),
            (0xFE534D42, FsLocality::Remote, "smb2"),
            (0x517B, FsLocality::Remote, "smbfs"),
            (0x00C36400, FsLocality::Cluster, "ceph"),
            (0x6B414653, FsLocality::Remote, "afs"),
            (0x5346414F, FsLocality::Remote, "afs"),
            (0x65735546, FsLocality::Fuse, "fuse"),
            (0x01021997, FsLocality::Remote, "9p"),
            (0x0BD00BD0, FsLocality::Cluster, "lustre"),
            (0x47504653, FsLocality::Cluster, "gpfs"),
            (0x7461636F, FsLocality::Cluster, "ocfs2"),
            (0x01161970, FsLocality::Cluster, "gfs2"),
            (0x73757245, FsLocality::Remote, "coda"),
            (0x564C, FsLocality::Remote, "ncpfs"),
            (0x20030528, FsLocality::Cluster, "orangefs"),
            (0x19830326, FsLocality::Cluster, "beegfs"),
            (0xAAD7AAEA, FsLocality::Cluster, "panfs"),
            (0x013111A8, FsLocality::Cluster, "ibrix"),
            (0xBEEFDEAD, FsLocality::Cluster, "snfs"),
            (0x61636673, FsLocality::Cluster, "acfs"),
            (0x786F4256, FsLocality::Remote, "vboxsf"),
            (0xBACBACBC, FsLocality::Remote, "vmhgfs"),
            (0x7C7C6673, FsLocality::Remote, "prl_fs"),
            (0x794C7630, FsLocality::Local, "overlay"),
            (0xEF53, FsLocality::Local, "ext4"),
            (0x58465342, FsLocality::Local, "xfs"),
            (0x9123683E, FsLocality::Local, "btrfs"),
            (0x01021994, FsLocality::Local, "tmpfs"),
            (0x2FC12FC1, FsLocality::Local, "zfs"),
        ];
        for &(magic, locality, name) in cases {
            assert_eq!(classify_magic(magic), Some(locality), "{magic:#x}");
            assert_eq!(magic_name(magic), Some(name), "{magic:#x}");
        }
        assert_eq!(classify_magic(0x1234_5678), None);
        assert_eq!(magic_name(0), None);
    }

    #[test]
    fn sign_extended_magic_from_32bit_long_still_matches() {
        // 0xFF534D42 stored in a 32-bit signed long, then widened.
        let widened = (0xFF53_4D42u32 as i32) as i64 as u64;
        assert_eq!(widened, 0xFFFF_FFFF_FF53_4D42);
        assert_eq!(classify_magic(widened), Some(FsLocality::Remote));
    }

    #[test]
    fn windows_volume_names_are_classified() {
        for name in ["NTFS", "ReFS", "FAT32", "FAT", "exFAT", "UDF", "CDFS", ""] {
            assert_eq!(classify_volume_fs(name), FsLocality::Local, "{name}");
        }
        assert_eq!(classify_volume_fs("CSVFS"), FsLocality::Cluster);
        assert_eq!(classify_volume_fs("NFS"), FsLocality::Remote);
        assert_eq!(classify_volume_fs("9P"), FsLocality::Remote);
    }

    #[test]
    fn magic_table_has_no_duplicate_magics() {
        for (i, (a, _, _)) in MAGICS.iter().enumerate() {
            for (b, _, _) in &MAGICS[i + 1..] {
                assert_ne!(a, b, "duplicate magic {a:#x}");
            }
        }
    }

    /// The filesystem type mountinfo names for the mount holding `path` (longest
    /// mount point that is a prefix of it): an independent source to check
    /// `fstatfs` against.
    #[cfg(target_os = "linux")]
    fn mountinfo_fstype(path: &std::path::Path) -> String {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        text.lines()
            .filter_map(|l| {
                let (left, right) = l.split_once(" - ")?;
                let point = left.split(' ').nth(4)?;
                let fstype = right.split(' ').next()?;
                path.starts_with(point)
                    .then(|| (point.len(), fstype.to_string()))
            })
            .max()
            .map(|(_, t)| t)
            .unwrap()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn fstatfs_magic_agrees_with_the_mount_table() {
        let dir = std::env::temp_dir().canonicalize().unwrap();
        let magic = fs_type_of(&std::fs::File::open(&dir).unwrap()).unwrap();
        let fstype = mountinfo_fstype(&dir);
        let name = magic_name(magic).unwrap_or_else(|| {
            panic!("the temp dir's filesystem {fstype} ({magic:#x}) is not in the magic table")
        });
        assert!(fstype.starts_with(name), "mountinfo {fstype}, magic {name}");
        assert_eq!(classify_magic(magic), Some(classify_fstype(&fstype)));
        assert_eq!(locality_of(&dir).unwrap(), classify_fstype(&fstype));
        // procfs: a fixed magic, and local.
        let proc = std::fs::File::open("/proc/self/status").unwrap();
        assert_eq!(fs_type_of(&proc).unwrap(), 0x9FA0);
        assert_eq!(
            locality_of(std::path::Path::new("/proc")).unwrap(),
            FsLocality::Local
        );
    }
}
