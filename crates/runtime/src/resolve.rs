//! Resolving paths inside the container's root filesystem so that no symlink
//! in the image (or swapped in while we work) leads outside it: every lookup
//! goes through openat2(2) with RESOLVE_IN_ROOT, and missing components are
//! made relative to directories already resolved inside the root.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use crate::error::{Context, Result};

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// What to make at a destination that does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Create {
    /// Nothing: a missing path is an error.
    Nothing,
    /// A directory (and any missing parents).
    Dir,
    /// An empty regular file (parents as directories).
    File,
}

fn cstr(p: &Path) -> CString {
    CString::new(p.as_os_str().as_bytes()).unwrap_or_else(|_| CString::from(c"\u{fffd}"))
}

/// openat2(2) `path` below `root`, treating `root` as `/` for every lookup.
pub fn openat_in_root(root: RawFd, path: &Path, flags: i32) -> std::io::Result<OwnedFd> {
    let rel = relative(path);
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    let c = cstr(&rel);
    // SAFETY: `c` is a valid NUL-terminated string and `how` a valid open_how
    // that outlive the call; the kernel reads size_of::<OpenHow>() bytes of it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root,
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `path` without its leading `/` ("." for the root itself).
fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Open `path` inside the root as an O_PATH descriptor, making it first if
/// missing. A dangling symlink on the way is followed inside the root: its
/// target is made there, as runc does.
pub fn open_or_create(root: &OwnedFd, path: &Path, create: Create) -> Result<OwnedFd> {
    create_in_root(root, path, create, 0)
}

fn create_in_root(root: &OwnedFd, path: &Path, create: Create, depth: u32) -> Result<OwnedFd> {
    let show = || format!("resolve {} in the container's root", path.display());
    match openat_in_root(root.as_raw_fd(), path, libc::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) && create != Create::Nothing => {}
        Err(e) => return Err(e).ctx(show),
    }
    if depth > 40 {
        return Err(std::io::Error::from_raw_os_error(libc::ELOOP)).ctx(show);
    }
    let rel = relative(path);
    let parts: Vec<_> = rel.components().collect();
    let mut done = PathBuf::from("/");
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let parent = openat_in_root(root.as_raw_fd(), &done, libc::O_PATH).ctx(show)?;
        let name = cstr(Path::new(part.as_os_str()));
        if let Some(target) = dangling_link(&parent, &name) {
            let base = if target.is_absolute() {
                PathBuf::from("/")
            } else {
                done.clone()
            };
            let rest: PathBuf = parts[i + 1..].iter().collect();
            return create_in_root(root, &base.join(target).join(rest), create, depth + 1);
        }
        done.push(part);
        if openat_in_root(root.as_raw_fd(), &done, libc::O_PATH).is_ok() {
            continue;
        }
        if last && create == Create::File {
            make_file(&parent, &name).ctx(show)?;
        } else {
            make_dir(&parent, &name).ctx(show)?;
        }
    }
    openat_in_root(root.as_raw_fd(), path, libc::O_PATH).ctx(show)
}

/// The target of `name` in `parent` when it is a symlink that leads nowhere yet.
fn dangling_link(parent: &OwnedFd, name: &CString) -> Option<PathBuf> {
    let mut buf = vec![0u8; libc::PATH_MAX as usize];
    // SAFETY: readlinkat writes at most buf.len() bytes into buf, which lives across the call.
    let n = unsafe {
        libc::readlinkat(
            parent.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n <= 0 {
        return None;
    }
    buf.truncate(n as usize);
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(&buf)))
}

fn make_dir(parent: &OwnedFd, name: &CString) -> std::io::Result<()> {
    // SAFETY: mkdirat with a valid directory fd and NUL-terminated name.
    let r = unsafe { libc::mkdirat(parent.as_raw_fd(), name.as_ptr(), 0o755) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EEXIST) {
            return Err(e);
        }
    }
    Ok(())
}

fn make_file(parent: &OwnedFd, name: &CString) -> std::io::Result<()> {
    let flags = libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW;
    // SAFETY: openat with a valid directory fd and NUL-terminated name; O_NOFOLLOW
    // keeps a symlink planted at the name from being followed.
    let fd = unsafe { libc::openat(parent.as_raw_fd(), name.as_ptr(), flags, 0o644) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: we own the descriptor just returned.
    drop(unsafe { OwnedFd::from_raw_fd(fd) });
    Ok(())
}

/// The `/proc/self/fd/N` path of a descriptor, for system calls that take paths.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("evil")).unwrap();
        let rootfd = std::fs::File::open(&root).unwrap().into();
        open_or_create(&rootfd, Path::new("/evil/sub"), Create::Dir).unwrap();
        assert!(!outside.path().join("sub").exists());
        assert!(root
            .join(outside.path().strip_prefix("/").unwrap())
            .join("sub")
            .is_dir());
        open_or_create(&rootfd, Path::new("/../../f"), Create::File).unwrap();
        assert!(root.join("f").is_file());
    }
}
