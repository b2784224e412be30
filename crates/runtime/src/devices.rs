//! /dev inside the container: the default device nodes, `linux.devices`, and
//! the conventional symlinks. Nodes are made with mknod, or bind-mounted from
//! the host inside a user namespace, where mknod is not allowed.

use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType};

use crate::error::{Context, Error, Result};
use crate::resolve::{self, Create};

/// A device node to make in the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Absolute path inside the container.
    pub path: PathBuf,
    /// `S_IFCHR`, `S_IFBLK` or `S_IFIFO`.
    pub kind: u32,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// The devices every container gets: (name, major, minor).
pub const DEFAULTS: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The default nodes as [`Node`]s.
pub fn default_nodes() -> Vec<Node> {
    DEFAULTS
        .iter()
        .map(|(name, major, minor)| Node {
            path: Path::new("/dev").join(name),
            kind: libc::S_IFCHR,
            major: *major,
            minor: *minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        })
        .collect()
}

/// A `linux.devices` entry as a [`Node`].
pub fn from_spec(d: &LinuxDevice) -> Result<Node> {
    let kind = match d.typ() {
        LinuxDeviceType::C | LinuxDeviceType::U => libc::S_IFCHR,
        LinuxDeviceType::B => libc::S_IFBLK,
        LinuxDeviceType::P => libc::S_IFIFO,
        LinuxDeviceType::A => {
            return Err(Error::Spec(format!(
                "linux.devices {}: type \"a\" is only valid in cgroup device rules",
                d.path().display()
            )))
        }
    };
    if !d.path().is_absolute() {
        return Err(Error::Spec(format!(
            "linux.devices path {:?} must be absolute",
            d.path()
        )));
    }
    Ok(Node {
        path: d.path().clone(),
        kind,
        major: d.major() as u64,
        minor: d.minor() as u64,
        mode: d.file_mode().unwrap_or(0o666) & 0o7777,
        uid: d.uid().unwrap_or(0),
        gid: d.gid().unwrap_or(0),
    })
}

/// Make a device node inside the root (or bind the host's when `bind`).
pub fn create(root: &OwnedFd, node: &Node, bind: bool) -> Result<()> {
    let parent_path = node.path.parent().unwrap_or(Path::new("/"));
    let parent = resolve::open_or_create(root, parent_path, Create::Dir)?;
    let dir = reopen_dir(&parent)?;
    let name = node
        .path
        .file_name()
        .ok_or_else(|| Error::Spec(format!("device path {:?} has no name", node.path)))?;
    let cname = CString::new(std::os::unix::ffi::OsStrExt::as_bytes(name))
        .map_err(|_| Error::Spec(format!("device path {:?} holds a NUL", node.path)))?;
    let show = || format!("create device {}", node.path.display());
    // SAFETY: unlinkat on a directory fd we own with a NUL-terminated name; a
    // missing entry is the common case and is ignored.
    unsafe { libc::unlinkat(dir.as_raw_fd(), cname.as_ptr(), 0) };
    if bind {
        let target = resolve::open_or_create(root, &node.path, Create::File)?;
        return mount(
            Some(node.path.as_path()),
            &resolve::fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(show);
    }
    let dev = libc::makedev(node.major as u32, node.minor as u32);
    // SAFETY: mknodat with a directory fd we own and a NUL-terminated name.
    let r = unsafe { libc::mknodat(dir.as_raw_fd(), cname.as_ptr(), node.kind | node.mode, dev) };
    if r < 0 {
        return Err(std::io::Error::last_os_error()).ctx(show);
    }
    // SAFETY: fchownat on the entry just made, not following symlinks.
    let r = unsafe {
        libc::fchownat(
            dir.as_raw_fd(),
            cname.as_ptr(),
            node.uid,
            node.gid,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error()).ctx(show);
    }
    Ok(())
}

/// Turn an O_PATH directory descriptor into one usable with *at calls that write.
fn reopen_dir(fd: &OwnedFd) -> Result<OwnedFd> {
    let path = resolve::fd_path(fd);
    std::fs::File::open(&path)
        .map(OwnedFd::from)
        .ctx(|| format!("open {}", path.display()))
}

/// The links every /dev has; `ptmx` only when /dev/pts is mounted.
pub fn create_symlinks(root: &OwnedFd, with_ptmx: bool) -> Result<()> {
    let mut links = vec![
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ];
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "core"));
    }
    if with_ptmx {
        links.push(("pts/ptmx", "ptmx"));
    }
    let dev = reopen_dir(&resolve::open_or_create(
        root,
        Path::new("/dev"),
        Create::Dir,
    )?)?;
    for (target, name) in links {
        let (t, n) = (
            CString::new(target).expect("static"),
            CString::new(name).expect("static"),
        );
        if name == "ptmx" {
            // SAFETY: unlinkat on a directory fd we own; a missing entry is fine.
            unsafe { libc::unlinkat(dev.as_raw_fd(), n.as_ptr(), 0) };
        }
        // SAFETY: symlinkat with NUL-terminated strings and a directory fd we own.
        let r = unsafe { libc::symlinkat(t.as_ptr(), dev.as_raw_fd(), n.as_ptr()) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(e).ctx(|| format!("symlink /dev/{name}"));
            }
        }
    }
    Ok(())
}
