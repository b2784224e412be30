//! Walking a file tree through directory descriptors: every name is opened
//! relative to its parent with O_NOFOLLOW, so a symlink a container plants
//! (or swaps in while the walk runs) is reported as a symlink and never
//! followed out of the container's root. `cp` and `export` walk this way.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::fcntl::{openat, AtFlags, OFlag};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};

use crate::{Error, Result};

/// What an entry of the tree is.
pub enum Kind {
    /// A directory, visited before its contents.
    Dir,
    /// A regular file, open for reading.
    File(File),
    /// A symbolic link and its target.
    Symlink(OsString),
    /// A device, fifo or socket.
    Special,
}

/// One entry met on the walk.
pub struct Entry<'a> {
    /// Its path relative to where the walk began.
    pub path: &'a Path,
    /// Its metadata (of the link itself for a symlink).
    pub stat: FileStat,
    /// What it is.
    pub kind: Kind,
}

/// What a walk does with each entry.
pub trait Visitor {
    /// Called for every entry; for a directory before its contents.
    fn visit(&mut self, entry: Entry<'_>) -> Result<()>;
    /// Called for a directory after its contents.
    fn leave(&mut self, path: &Path, stat: &FileStat) -> Result<()>;
    /// Whether to walk the contents of the directory `stat` (every one,
    /// unless the visitor says otherwise).
    fn enter(&self, _stat: &FileStat) -> bool {
        true
    }
}

/// An error from a system call on `path`.
pub fn sys_err(what: &str, path: &Path, e: nix::Error) -> Error {
    Error::Io(format!("{what} {}", path.display()), e.into())
}

/// Opens `name` in `parent` without following a symlink there.
pub fn open_at(parent: &OwnedFd, name: &OsStr, flags: OFlag) -> nix::Result<OwnedFd> {
    let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(Some(parent.as_raw_fd()), name, flags, Mode::empty())?;
    // SAFETY: openat returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The type bits of a mode.
pub fn file_type(stat: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits())
}

/// Metadata of `name` in `parent`, of a symlink itself.
pub fn lstat_at(parent: &OwnedFd, name: &OsStr) -> nix::Result<FileStat> {
    fstatat(Some(parent.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW)
}

/// Visits `name` in `parent` (and everything below it when a directory),
/// reporting it under `path`.
pub fn walk(parent: &OwnedFd, name: &OsStr, path: &Path, v: &mut dyn Visitor) -> Result<()> {
    let stat = lstat_at(parent, name).map_err(|e| sys_err("reading", path, e))?;
    let kind = match file_type(&stat) {
        SFlag::S_IFDIR => {
            let dir = open_at(parent, name, OFlag::O_RDONLY | OFlag::O_DIRECTORY)
                .map_err(|e| sys_err("opening", path, e))?;
            v.visit(Entry {
                path,
                stat,
                kind: Kind::Dir,
            })?;
            if v.enter(&stat) {
                walk_contents(&dir, path, v)?;
            }
            return v.leave(path, &stat);
        }
        SFlag::S_IFREG => {
            let fd =
                open_at(parent, name, OFlag::O_RDONLY).map_err(|e| sys_err("opening", path, e))?;
            Kind::File(File::from(fd))
        }
        SFlag::S_IFLNK => Kind::Symlink(
            nix::fcntl::readlinkat(Some(parent.as_raw_fd()), name)
                .map_err(|e| sys_err("reading the link", path, e))?,
        ),
        _ => Kind::Special,
    };
    v.visit(Entry { path, stat, kind })
}

/// Visits everything in directory `dir`, whose entries are reported under
/// `path`.
pub fn walk_contents(dir: &OwnedFd, path: &Path, v: &mut dyn Visitor) -> Result<()> {
    for name in list(dir, path)? {
        walk(dir, &name, &path.join(&name), v)?;
    }
    Ok(())
}

/// The names in a directory, sorted, without `.` and `..`.
fn list(dir: &OwnedFd, path: &Path) -> Result<Vec<OsString>> {
    // A fresh descriptor of the same directory: reading moves its offset.
    let fd = open_at(dir, OsStr::new("."), OFlag::O_RDONLY | OFlag::O_DIRECTORY)
        .map_err(|e| sys_err("opening", path, e))?;
    let mut d = nix::dir::Dir::from_fd(std::os::fd::IntoRawFd::into_raw_fd(fd))
        .map_err(|e| sys_err("listing", path, e))?;
    let mut names = Vec::new();
    for entry in d.iter() {
        let entry = entry.map_err(|e| sys_err("listing", path, e))?;
        let name = OsStr::from_bytes(entry.file_name().to_bytes());
        if name != "." && name != ".." {
            names.push(name.to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

/// Metadata of an open descriptor.
pub fn stat_fd(fd: &OwnedFd, path: &Path) -> Result<FileStat> {
    fstat(fd.as_raw_fd()).map_err(|e| sys_err("reading", path, e))
}

/// Whether the directory `fd` is an overlay mount (the kernel's, or
/// fuse-overlayfs's): a container's root that was unmounted under us (it
/// stopped) is an empty directory instead.
fn is_overlay(fd: &OwnedFd) -> bool {
    use nix::sys::statfs::{fstatfs, FUSE_SUPER_MAGIC, OVERLAYFS_SUPER_MAGIC};
    fstatfs(fd)
        .is_ok_and(|s| [OVERLAYFS_SUPER_MAGIC, FUSE_SUPER_MAGIC].contains(&s.filesystem_type()))
}

impl crate::Engine {
    /// Runs `f` on container `what`'s merged root filesystem, as a directory
    /// descriptor. A stopped container's root is mounted for the call, under
    /// its lock (so it cannot start meanwhile), and unmounted after. An
    /// ordinary user's container is reached from a child in a user
    /// namespace ([`super::userns_root`]).
    pub(crate) fn with_root(
        &self,
        what: &str,
        f: impl FnOnce(&OwnedFd) -> Result<()>,
    ) -> Result<()> {
        let id = self.containers.find(what)?;
        let dir = self.containers.dir(&id);
        let running = |s: &super::ContainerState| {
            matches!(s.status, super::Status::Running | super::Status::Paused)
        };
        let state = self.live_state(&id)?;
        let userns = self.userns().is_some();
        if running(&state) && userns {
            return self.with_root_in_userns(&id, &state, f);
        }
        if running(&state) {
            return f(&open_root(&self.running_root(&id, &state))?);
        }
        let _lock = self.containers.lock(&id)?;
        let state = self.containers.state(&id)?;
        if userns {
            return self.with_root_in_userns(&id, &state, f);
        }
        if running(&state) {
            return f(&open_root(&self.running_root(&id, &state))?);
        }
        let image_id = self.containers.config(&id)?.image_id;
        let target = super::rootfs::mount(self.store(), &image_id, &dir)?;
        let result = open_root(&target).and_then(|root| f(&root));
        super::rootfs::unmount(&dir)?;
        result
    }
}

impl crate::Engine {
    /// Where a running container's root filesystem is seen from the host:
    /// its mount point when it is mounted on the host, else (mounted only in
    /// the container's own namespaces) its init's root.
    pub(crate) fn running_root(
        &self,
        id: &str,
        state: &super::ContainerState,
    ) -> std::path::PathBuf {
        match state.rootfs_mounted {
            Some(_) => super::rootfs::target(&self.containers.dir(id)),
            None => std::path::PathBuf::from(format!("/proc/{}/root", state.pid)),
        }
    }
}

/// Opens the merged root at `target`, which must still be mounted.
pub(super) fn open_root(target: &Path) -> Result<OwnedFd> {
    let root = File::open(target)
        .map(OwnedFd::from)
        .map_err(|e| Error::Io(format!("opening {}", target.display()), e))?;
    if !is_overlay(&root) {
        return Err(Error::Conflict(
            "the container stopped while its files were being opened: try again".into(),
        ));
    }
    Ok(root)
}
