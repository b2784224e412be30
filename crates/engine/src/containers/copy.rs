//! `cp`: files and directories between the host and a container's root
//! filesystem, both ways, with modes, times and symlinks kept (owners too in
//! archive mode).
//!
//! A path inside the container is resolved with openat2(RESOLVE_IN_ROOT):
//! a symlink on the way leads somewhere inside the root, never out of it.
//! The last name is never followed: a symlink there is copied as a link
//! when reading, and replaced (not written through) when writing. Host
//! paths are the user's own and resolve as usual.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{
    fchmod, futimens, mkdirat, mknodat, utimensat, FileStat, Mode, SFlag, UtimensatFlags,
};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchown, fchownat, symlinkat, unlinkat, Gid, Uid, UnlinkatFlags};
use skiff_runtime::resolve::openat_in_root;

use super::tree::{
    file_type, lstat_at, open_at, stat_fd, sys_err, walk, walk_contents, Entry, Kind, Visitor,
};
use crate::{Engine, Error, Result};

/// One end of a copy.
#[derive(Clone, Copy)]
pub enum Side<'a> {
    /// The host's filesystem.
    Host,
    /// A container's root filesystem, as a directory descriptor.
    Container(&'a OwnedFd),
}

impl Side<'_> {
    /// Opens the directory `path` (on the host, or inside the container's
    /// root without leaving it).
    fn open_dir(self, path: &Path) -> Result<OwnedFd> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
        let opened = match self {
            Side::Host => std::fs::File::options()
                .read(true)
                .custom_flags(flags)
                .open(path)
                .map(OwnedFd::from),
            Side::Container(root) => openat_in_root(root.as_raw_fd(), path, flags),
        };
        opened.map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound(format!(
                "{}{}: no such directory",
                self.prefix(),
                path.display()
            )),
            _ => Error::Io(format!("opening {}{}", self.prefix(), path.display()), e),
        })
    }

    /// The directory `name` in `parent`, if it is one. In a container a
    /// symlink is not followed, so it is not a directory here.
    fn child_dir(self, parent: &OwnedFd, name: &OsStr) -> Option<OwnedFd> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        match self {
            Side::Host => nix::fcntl::openat(Some(parent.as_raw_fd()), name, flags, Mode::empty())
                .ok()
                // SAFETY: openat returned a new descriptor that nothing else owns.
                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            Side::Container(_) => open_at(parent, name, flags).ok(),
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Side::Host => "",
            Side::Container(_) => "container:",
        }
    }
}

/// A path split as `cp` reads it: the directory it is in, its last name
/// (none for `/`), and whether it ends in `/.` (a directory's contents) or
/// `/` (must be a directory).
struct Spec {
    parent: PathBuf,
    name: Option<OsString>,
    contents: bool,
    dir_only: bool,
}

fn split(path: &str) -> Spec {
    let contents = path == "." || path.ends_with("/.");
    let p = Path::new(path);
    Spec {
        parent: match p.parent() {
            None => p.to_path_buf(),
            Some(dir) if dir.as_os_str().is_empty() => PathBuf::from("."),
            Some(dir) => dir.to_path_buf(),
        },
        name: p.file_name().map(OsStr::to_os_string),
        contents,
        dir_only: path.ends_with('/') || contents,
    }
}

/// Copies `src` on one side to `dest` on the other, as `docker cp` does:
/// into `dest` when it is a directory, else as `dest`; `DIR/.` copies a
/// directory's contents.
pub fn copy(from: Side<'_>, src: &str, to: Side<'_>, dest: &str, archive: bool) -> Result<()> {
    let s = split(src);
    let missing = || Error::NotFound(format!("{}{src}: no such file or directory", from.prefix()));
    let src_parent = from.open_dir(&s.parent).map_err(|e| match e {
        Error::NotFound(_) => missing(),
        e => e,
    })?;
    let src_dir = match &s.name {
        Some(name) => from.child_dir(&src_parent, name).filter(|_| s.contents),
        None => Some(
            src_parent
                .try_clone()
                .map_err(|e| Error::Io("dup".into(), e))?,
        ),
    };
    if let Some(name) = s.name.as_deref().filter(|_| src_dir.is_none()) {
        lstat_at(&src_parent, name).map_err(|e| match e {
            nix::Error::ENOENT => missing(),
            e => sys_err("reading", Path::new(src), e),
        })?;
    }
    let d = split(dest);
    let dest_parent = to.open_dir(&d.parent)?;
    let existing = match &d.name {
        Some(name) => to.child_dir(&dest_parent, name),
        None => Some(
            dest_parent
                .try_clone()
                .map_err(|e| Error::Io("dup".into(), e))?,
        ),
    };
    let mut copier = Copier {
        dirs: Vec::new(),
        archive,
    };
    match (existing, src_dir) {
        (Some(into), Some(contents)) => {
            copier.dirs.push(into);
            walk_contents(&contents, Path::new(""), &mut copier)
        }
        (Some(into), None) => {
            copier.dirs.push(into);
            let name = s.name.as_deref().expect("only a root has no name");
            walk(&src_parent, name, Path::new(name), &mut copier)
        }
        (None, _) if d.dir_only => Err(Error::NotFound(format!(
            "{}{dest}: no such directory",
            to.prefix()
        ))),
        (None, contents) => {
            copier.dirs.push(dest_parent);
            let dest_name = d.name.as_deref().expect("a missing path has a name");
            match contents {
                Some(dir) => copier.copy_dir_as(&dir, Path::new(dest_name)),
                None => {
                    let name = s.name.as_deref().expect("only a root has no name");
                    walk(&src_parent, name, Path::new(dest_name), &mut copier)
                }
            }
        }
    }
}

/// Writes what a walk visits under the top of a stack of directories.
struct Copier {
    dirs: Vec<OwnedFd>,
    archive: bool,
}

impl Copier {
    /// Copies the contents of `dir` into a new directory `path`.
    fn copy_dir_as(&mut self, dir: &OwnedFd, path: &Path) -> Result<()> {
        let stat = stat_fd(dir, path)?;
        self.visit(Entry {
            path,
            stat,
            kind: Kind::Dir,
        })?;
        walk_contents(dir, path, self)?;
        self.leave(path, &stat)
    }

    fn parent(&self) -> &OwnedFd {
        self.dirs.last().expect("a destination directory")
    }

    /// Clears the way for a new non-directory `name`: a file or symlink there
    /// is removed (so a symlink is replaced, never written through); a
    /// directory there is an error.
    fn clear(&self, name: &OsStr, path: &Path) -> Result<()> {
        match lstat_at(self.parent(), name) {
            Err(nix::Error::ENOENT) => Ok(()),
            Err(e) => Err(sys_err("reading", path, e)),
            Ok(st) if file_type(&st) == SFlag::S_IFDIR => Err(Error::Conflict(format!(
                "cannot overwrite directory {} with a non-directory",
                path.display()
            ))),
            Ok(_) => unlinkat(
                Some(self.parent().as_raw_fd()),
                name,
                UnlinkatFlags::NoRemoveDir,
            )
            .map_err(|e| sys_err("removing", path, e)),
        }
    }

    /// The directory `name`, made unless there is one.
    fn make_dir(&self, name: &OsStr, path: &Path) -> Result<OwnedFd> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY;
        match lstat_at(self.parent(), name) {
            Ok(st) if file_type(&st) != SFlag::S_IFDIR => {
                return Err(Error::Conflict(format!(
                    "cannot overwrite non-directory {} with a directory",
                    path.display()
                )))
            }
            Ok(_) => {}
            Err(nix::Error::ENOENT) => {
                mkdirat(
                    Some(self.parent().as_raw_fd()),
                    name,
                    Mode::from_bits_truncate(0o700),
                )
                .map_err(|e| sys_err("making", path, e))?;
            }
            Err(e) => return Err(sys_err("reading", path, e)),
        }
        open_at(self.parent(), name, flags).map_err(|e| sys_err("opening", path, e))
    }

    fn copy_file(
        &self,
        mut from: std::fs::File,
        name: &OsStr,
        path: &Path,
        st: &FileStat,
    ) -> Result<()> {
        self.clear(name, path)?;
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW;
        let fd = nix::fcntl::openat(
            Some(self.parent().as_raw_fd()),
            name,
            flags | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(|e| sys_err("creating", path, e))?;
        // SAFETY: openat returned a new descriptor that nothing else owns.
        let mut to = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
        io::copy(&mut from, &mut to)
            .map_err(|e| Error::Io(format!("copying {}", path.display()), e))?;
        self.set_meta(&OwnedFd::from(to), path, st)
    }

    /// Owner (in archive mode), mode and times of an open file or directory.
    fn set_meta(&self, fd: &OwnedFd, path: &Path, st: &FileStat) -> Result<()> {
        let raw = fd.as_raw_fd();
        if self.archive {
            fchown(
                raw,
                Some(Uid::from_raw(st.st_uid)),
                Some(Gid::from_raw(st.st_gid)),
            )
            .map_err(|e| sys_err("changing the owner of", path, e))?;
        }
        fchmod(raw, Mode::from_bits_truncate(st.st_mode & 0o7777))
            .map_err(|e| sys_err("changing the mode of", path, e))?;
        let (atime, mtime) = times(st);
        futimens(raw, &atime, &mtime).map_err(|e| sys_err("setting the times of", path, e))
    }

    /// Owner (in archive mode) and times of a link or special file, by name:
    /// neither call follows a symlink.
    fn set_meta_at(&self, name: &OsStr, path: &Path, st: &FileStat) -> Result<()> {
        let parent = Some(self.parent().as_raw_fd());
        if self.archive {
            let (uid, gid) = (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid));
            fchownat(
                parent,
                name,
                Some(uid),
                Some(gid),
                AtFlags::AT_SYMLINK_NOFOLLOW,
            )
            .map_err(|e| sys_err("changing the owner of", path, e))?;
        }
        let (atime, mtime) = times(st);
        utimensat(
            parent,
            name,
            &atime,
            &mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| sys_err("setting the times of", path, e))
    }
}

fn times(st: &FileStat) -> (TimeSpec, TimeSpec) {
    (
        TimeSpec::new(st.st_atime, st.st_atime_nsec),
        TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
    )
}

impl Visitor for Copier {
    fn visit(&mut self, entry: Entry<'_>) -> Result<()> {
        let Entry { path, stat, kind } = entry;
        let name = path.file_name().unwrap_or(path.as_os_str()).to_os_string();
        match kind {
            Kind::Dir => {
                let dir = self.make_dir(&name, path)?;
                self.dirs.push(dir);
                Ok(())
            }
            Kind::File(from) => self.copy_file(from, &name, path, &stat),
            Kind::Symlink(target) => {
                self.clear(&name, path)?;
                symlinkat(target.as_os_str(), Some(self.parent().as_raw_fd()), &*name)
                    .map_err(|e| sys_err("making the link", path, e))?;
                self.set_meta_at(&name, path, &stat)
            }
            // A socket is a live endpoint, not content: tar skips them too.
            Kind::Special if file_type(&stat) == SFlag::S_IFSOCK => Ok(()),
            Kind::Special => {
                self.clear(&name, path)?;
                mknodat(
                    Some(self.parent().as_raw_fd()),
                    &*name,
                    file_type(&stat),
                    Mode::from_bits_truncate(stat.st_mode & 0o7777),
                    stat.st_rdev,
                )
                .map_err(|e| sys_err("making", path, e))?;
                self.set_meta_at(&name, path, &stat)
            }
        }
    }

    fn leave(&mut self, path: &Path, stat: &FileStat) -> Result<()> {
        let dir = self.dirs.pop().expect("entered before left");
        self.set_meta(&dir, path, stat)
    }
}

impl Engine {
    /// Copies `src` from container `what` to `dest` on the host.
    pub fn copy_from_container(
        &self,
        what: &str,
        src: &str,
        dest: &str,
        archive: bool,
    ) -> Result<()> {
        self.with_root(what, |root| {
            copy(Side::Container(root), src, Side::Host, dest, archive)
        })
    }

    /// Copies `src` on the host to `dest` in container `what`.
    pub fn copy_to_container(
        &self,
        src: &str,
        what: &str,
        dest: &str,
        archive: bool,
    ) -> Result<()> {
        self.with_root(what, |root| {
            copy(Side::Host, src, Side::Container(root), dest, archive)
        })
    }
}
