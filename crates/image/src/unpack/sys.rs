//! Thin wrappers over the `*at` system calls that unpacking uses. Each works
//! relative to a directory descriptor and none follows a symlink in the last
//! component, so a symlink the layer itself made can never redirect a write.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::mem;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A modification time: seconds since the epoch and nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mtime {
    /// Seconds since the epoch (negative before 1970).
    pub secs: i64,
    /// Nanoseconds, below 1e9.
    pub nanos: u32,
}

/// How often `openat2` is retried when the kernel asks (`EAGAIN` from a
/// concurrent rename somewhere in the file system).
const OPENAT2_TRIES: usize = 16;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Opens the directory `path` (the unpacking destination) for `*at` calls.
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)?;
    Ok(file.into())
}

/// Opens `path` below `root` as if `root` were `/`: `..` and absolute
/// symlinks stop at `root`, so no path, whatever symlinks it crosses, leaves
/// it. Magic links (`/proc/self/...`) and other mounts are refused.
pub(crate) fn open_in_root(root: &OwnedFd, path: &CStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: open_how is three integers, for which all zeroes is valid; it is
    // non-exhaustive, so zeroing is the only way to build it.
    let mut how: libc::open_how = unsafe { mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | libc::RESOLVE_NO_XDEV;
    let mut tries = 0;
    loop {
        // SAFETY: `path` is NUL-terminated, `how` lives across the call and
        // its size is passed; the kernel returns a new descriptor or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                path.as_ptr(),
                &how as *const libc::open_how,
                mem::size_of::<libc::open_how>(),
            )
        };
        if fd >= 0 {
            // SAFETY: the kernel just returned this descriptor; nothing else owns it.
            return Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) });
        }
        let err = io::Error::last_os_error();
        tries += 1;
        if err.raw_os_error() != Some(libc::EAGAIN) || tries == OPENAT2_TRIES {
            return Err(err);
        }
    }
}

/// `openat(dir, name, flags | O_NOFOLLOW | O_CLOEXEC, mode)`.
pub(crate) fn openat(
    dir: &OwnedFd,
    name: &CStr,
    flags: libc::c_int,
    mode: u32,
) -> io::Result<OwnedFd> {
    let flags = flags | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: `name` is NUL-terminated and `dir` is an open descriptor.
    let fd = cvt(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags, mode) })?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mkdirat(dir, name, mode)`.
pub(crate) fn mkdirat(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and `dir` is an open descriptor.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), mode) }).map(drop)
}

/// `symlinkat(target, dir, name)`.
pub(crate) fn symlinkat(target: &CStr, dir: &OwnedFd, name: &CStr) -> io::Result<()> {
    // SAFETY: both strings are NUL-terminated and `dir` is an open descriptor.
    cvt(unsafe { libc::symlinkat(target.as_ptr(), dir.as_raw_fd(), name.as_ptr()) }).map(drop)
}

/// `linkat(old_dir, old, new_dir, new, 0)`: a symlink `old` is linked itself,
/// never the file it points to.
pub(crate) fn linkat(
    old_dir: &OwnedFd,
    old: &CStr,
    new_dir: &OwnedFd,
    new: &CStr,
) -> io::Result<()> {
    // SAFETY: both names are NUL-terminated and both descriptors are open.
    cvt(unsafe {
        libc::linkat(
            old_dir.as_raw_fd(),
            old.as_ptr(),
            new_dir.as_raw_fd(),
            new.as_ptr(),
            0,
        )
    })
    .map(drop)
}

/// `mknodat(dir, name, mode, makedev(major, minor))`.
pub(crate) fn mknodat(
    dir: &OwnedFd,
    name: &CStr,
    mode: u32,
    major: u32,
    minor: u32,
) -> io::Result<()> {
    let dev = libc::makedev(major, minor);
    // SAFETY: `name` is NUL-terminated and `dir` is an open descriptor.
    cvt(unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) }).map(drop)
}

/// `unlinkat(dir, name, flags)`.
pub(crate) fn unlinkat(dir: &OwnedFd, name: &CStr, flags: libc::c_int) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and `dir` is an open descriptor.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), flags) }).map(drop)
}

/// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`, `None` when there is no such entry.
pub(crate) fn lstatat(dir: &OwnedFd, name: &CStr) -> io::Result<Option<libc::stat>> {
    // SAFETY: all zeroes is a valid `stat` (integers only).
    let mut st: libc::stat = unsafe { mem::zeroed() };
    // SAFETY: `name` is NUL-terminated, `st` is writable and `dir` is open.
    let ret = unsafe {
        libc::fstatat(
            dir.as_raw_fd(),
            name.as_ptr(),
            &mut st,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    match cvt(ret) {
        Ok(_) => Ok(Some(st)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `fstat(fd)`.
pub(crate) fn fstat(fd: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: all zeroes is a valid `stat` (integers only).
    let mut st: libc::stat = unsafe { mem::zeroed() };
    // SAFETY: `st` is writable and `fd` is open.
    cvt(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// `fchown(fd, uid, gid)`.
pub(crate) fn fchown(fd: &OwnedFd, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `fd` is an open descriptor.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

/// `fchownat(dir, name, uid, gid, AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn lchownat(dir: &OwnedFd, name: &CStr, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and `dir` is an open descriptor.
    cvt(unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            name.as_ptr(),
            uid,
            gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}

/// `fchmod(fd, mode)`.
pub(crate) fn fchmod(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    // SAFETY: `fd` is an open descriptor.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

/// `fchmodat(dir, name, mode, 0)`, for device nodes and fifos, which cannot
/// be opened without side effects. Callers pass only names they have just
/// created with `mknodat`, so the name is not a symlink.
pub(crate) fn fchmodat(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated and `dir` is an open descriptor.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) }).map(drop)
}

/// `fsetxattr(fd, key, value, 0)`.
pub(crate) fn fsetxattr(fd: &OwnedFd, key: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: `key` is NUL-terminated and `value` is valid for its length.
    cvt(unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

/// `lsetxattr` on `name` in `dir`, for entries that cannot be opened
/// (symlinks, devices, fifos): the directory is reached through its
/// descriptor's `/proc/self/fd` link and `name` is not followed.
pub(crate) fn lsetxattrat(dir: &OwnedFd, name: &CStr, key: &CStr, value: &[u8]) -> io::Result<()> {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.to_bytes());
    let path = CString::new(path).map_err(io::Error::other)?;
    // SAFETY: both strings are NUL-terminated and `value` is valid for its length.
    cvt(unsafe {
        libc::lsetxattr(
            path.as_ptr(),
            key.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
    .map(drop)
}

fn times(mtime: Mtime) -> [libc::timespec; 2] {
    let ts = libc::timespec {
        tv_sec: mtime.secs as libc::time_t,
        tv_nsec: mtime.nanos as libc::c_long,
    };
    // Access time as modification time: a tar has no access time worth keeping.
    [ts, ts]
}

/// `futimens(fd, [mtime, mtime])`.
pub(crate) fn futimens(fd: &OwnedFd, mtime: Mtime) -> io::Result<()> {
    let ts = times(mtime);
    // SAFETY: `ts` holds two timespecs as the call requires; `fd` is open.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) }).map(drop)
}

/// `utimensat(dir, name, [mtime, mtime], AT_SYMLINK_NOFOLLOW)`.
pub(crate) fn lutimensat(dir: &OwnedFd, name: &CStr, mtime: Mtime) -> io::Result<()> {
    let ts = times(mtime);
    // SAFETY: `name` is NUL-terminated, `ts` holds two timespecs, `dir` is open.
    cvt(unsafe {
        libc::utimensat(
            dir.as_raw_fd(),
            name.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
    .map(drop)
}
