//! Applying one tar entry to the layer directory, through directory
//! descriptors only: parents are resolved with `openat2(RESOLVE_IN_ROOT)` and
//! the entry itself is made with an `*at` call that does not follow it.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;

use tar::EntryType;

use super::meta::{failed, Meta};
use super::name::LayerPath;
use super::reader::{quote, Entry};
use super::sys::{self, Mtime};
use super::whiteout::{self, opaque_xattr, Whiteout};

/// A directory whose time is set once the layer is complete: creating its
/// contents would change it again.
struct DirTime {
    path: LayerPath,
    /// The inode it had, so a directory later replaced is left alone.
    ino: u64,
    mtime: Mtime,
}

/// The layer directory being filled.
pub(crate) struct Layer {
    root: OwnedFd,
    dir_times: Vec<DirTime>,
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// An overlay whiteout: a character device 0/0.
fn is_whiteout(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFCHR && st.st_rdev == 0
}

fn display(path: &LayerPath) -> String {
    quote(path.to_cstring().as_bytes())
}

impl Layer {
    /// Fills the directory open as `root`.
    pub(crate) fn new(root: OwnedFd) -> Layer {
        Layer {
            root,
            dir_times: Vec::new(),
        }
    }

    /// Applies `entry`, reading its data from `data`. The error is the reason
    /// alone; the caller adds the entry's name.
    pub(crate) fn apply(&mut self, entry: &Entry, data: &mut impl Read) -> Result<(), String> {
        let path = LayerPath::parse(&entry.path)?;
        let Some(base) = path.base() else {
            return self.root_dir(entry);
        };
        if let Some(w) = whiteout::classify(base.to_bytes())? {
            return self.whiteout(&path, w);
        }
        let meta = Meta::of(entry)?;
        let parent = self.ensure_dir(&path.parent())?;
        match entry.header.entry_type() {
            // Old (v7) archives mark directories only by a trailing slash.
            EntryType::Regular if entry.path.ends_with(b"/") => self.dir(&parent, &path, &meta),
            EntryType::Regular | EntryType::Continuous => {
                file(&parent, base, &meta, entry.size, data)
            }
            EntryType::Directory => self.dir(&parent, &path, &meta),
            EntryType::Symlink => symlink(&parent, base, entry, &meta),
            EntryType::Link => self.hardlink(&parent, base, &path, entry),
            // Only the initial user namespace's root may make device nodes.
            EntryType::Char | EntryType::Block if crate::userns::in_user_namespace() => Ok(()),
            EntryType::Char => node(&parent, base, libc::S_IFCHR, entry, &meta),
            EntryType::Block => node(&parent, base, libc::S_IFBLK, entry, &meta),
            EntryType::Fifo => node(&parent, base, libc::S_IFIFO, entry, &meta),
            other => Err(format!("unsupported entry type {other:?}")),
        }
    }

    /// Sets each directory's time, now that nothing more is created in it.
    /// The error names the directory.
    pub(crate) fn finish(self) -> Result<(), (String, String)> {
        for dir in &self.dir_times {
            let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW;
            let fd = match sys::open_in_root(&self.root, &dir.path.to_cstring(), flags) {
                Ok(fd) => fd,
                // Replaced by a later entry: that entry's time stands.
                Err(e) if matches!(errno(&e), libc::ENOENT | libc::ELOOP | libc::ENOTDIR) => {
                    continue
                }
                Err(e) => return Err((display(&dir.path), format!("opening: {e}"))),
            };
            let err = |e: io::Error| (display(&dir.path), format!("setting the time: {e}"));
            if sys::fstat(&fd).map_err(err)?.st_ino == dir.ino {
                sys::futimens(&fd, dir.mtime).map_err(err)?;
            }
        }
        Ok(())
    }

    /// Opens the directory `path`, creating what is missing of it (mode
    /// 0755, root's) the way tar does for archives that list no parents.
    fn ensure_dir(&self, path: &LayerPath) -> Result<OwnedFd, String> {
        let flags = libc::O_RDONLY | libc::O_DIRECTORY;
        let open = |p: &LayerPath| sys::open_in_root(&self.root, &p.to_cstring(), flags);
        match open(path) {
            Ok(fd) => return Ok(fd),
            Err(e) if errno(&e) == libc::ENOENT => {}
            Err(e) => return Err(format!("parent directory {}: {e}", display(path))),
        }
        let mut dir = open(&path.prefix(0)).map_err(failed("opening the layer root"))?;
        for n in 1..=path.len() {
            let prefix = path.prefix(n);
            dir = match open(&prefix) {
                Ok(fd) => fd,
                Err(e) if errno(&e) == libc::ENOENT => {
                    let name = prefix.base().expect("a prefix of one or more components");
                    make_parent(&dir, name).map_err(|e| {
                        format!("creating parent directory {}: {e}", display(&prefix))
                    })?
                }
                Err(e) => return Err(format!("parent directory {}: {e}", display(&prefix))),
            };
        }
        Ok(dir)
    }

    fn root_dir(&mut self, entry: &Entry) -> Result<(), String> {
        if entry.header.entry_type() != EntryType::Directory {
            return Err("names the layer root but is not a directory".to_string());
        }
        let meta = Meta::of(entry)?;
        meta.set_on(&self.root)?;
        let ino = sys::fstat(&self.root)
            .map_err(failed("reading the layer root"))?
            .st_ino;
        self.dir_times.push(DirTime {
            path: LayerPath::parse(b"").expect("the empty name is the root"),
            ino,
            mtime: meta.mtime,
        });
        Ok(())
    }

    /// A directory entry: made, or merged into the directory an earlier
    /// entry made. One that replaces a whiteout becomes opaque: the layer
    /// removed the lower directory and made a new one.
    fn dir(&mut self, parent: &OwnedFd, path: &LayerPath, meta: &Meta) -> Result<(), String> {
        let name = path.base().expect("not the root");
        let mut opaque = false;
        if let Err(e) = sys::mkdirat(parent, name, 0o700) {
            if errno(&e) != libc::EEXIST {
                return Err(format!("creating the directory: {e}"));
            }
            let st = sys::lstatat(parent, name).map_err(failed("reading the existing entry"))?;
            if !st.as_ref().is_some_and(is_dir) {
                opaque = st.as_ref().is_some_and(is_whiteout);
                remove(parent, name)?;
                sys::mkdirat(parent, name, 0o700).map_err(failed("creating the directory"))?;
            }
        }
        let fd = sys::openat(parent, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
            .map_err(failed("opening the directory"))?;
        meta.set_on(&fd)?;
        if opaque {
            sys::fsetxattr(&fd, opaque_xattr(), b"y").map_err(failed("making it opaque"))?;
        }
        let ino = sys::fstat(&fd)
            .map_err(failed("reading the directory"))?
            .st_ino;
        self.dir_times.push(DirTime {
            path: path.clone(),
            ino,
            mtime: meta.mtime,
        });
        Ok(())
    }

    /// A hardlink to an earlier entry of this layer. The target is resolved
    /// inside the layer like any name, and a symlink target is linked itself.
    fn hardlink(
        &self,
        parent: &OwnedFd,
        name: &CStr,
        path: &LayerPath,
        entry: &Entry,
    ) -> Result<(), String> {
        let link = entry.link.as_deref().ok_or("hardlink without a target")?;
        let target =
            LayerPath::parse(link).map_err(|r| format!("hardlink target {}: {r}", quote(link)))?;
        let target_name = target.base().ok_or("hardlink to the layer root")?;
        if &target == path {
            return Err("hardlink to itself".to_string());
        }
        let missing = || format!("hardlink target {} is not in the layer", quote(link));
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        let dir = match sys::open_in_root(&self.root, &target.parent().to_cstring(), flags) {
            Ok(fd) => fd,
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => return Err(missing()),
            Err(e) => return Err(format!("hardlink target {}: {e}", quote(link))),
        };
        if sys::lstatat(&dir, target_name)
            .map_err(failed("reading the hardlink target"))?
            .is_none()
        {
            return Err(missing());
        }
        create(parent, name, failed("creating the hardlink"), || {
            sys::linkat(&dir, target_name, parent, name)
        })
    }

    fn whiteout(&self, path: &LayerPath, w: Whiteout<'_>) -> Result<(), String> {
        let dir = self.ensure_dir(&path.parent())?;
        let name = match w {
            Whiteout::Opaque => {
                return sys::fsetxattr(&dir, opaque_xattr(), b"y")
                    .map_err(failed("making the directory opaque"));
            }
            Whiteout::Remove(name) => CString::new(name).expect("a name component holds no NUL"),
        };
        // The whiteout hides lower layers only: an entry this layer made stays
        // (a directory made opaque so the lower one's contents stay hidden).
        match sys::lstatat(&dir, &name).map_err(failed("reading the whited-out entry"))? {
            None => sys::mknodat(&dir, &name, libc::S_IFCHR, 0, 0).map_err(mknod_failed),
            Some(st) if is_dir(&st) => {
                let fd = sys::openat(&dir, &name, libc::O_RDONLY | libc::O_DIRECTORY, 0)
                    .map_err(failed("opening the whited-out directory"))?;
                sys::fsetxattr(&fd, opaque_xattr(), b"y").map_err(failed("making it opaque"))
            }
            Some(_) => Ok(()),
        }
    }
}

/// Creates the missing directory `name` in `dir` and opens it.
fn make_parent(dir: &OwnedFd, name: &CStr) -> io::Result<OwnedFd> {
    sys::mkdirat(dir, name, 0o755)?;
    let fd = sys::openat(dir, name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    // The umask may have taken bits away.
    sys::fchmod(&fd, 0o755)?;
    Ok(fd)
}

/// Runs `make`; if `name` exists (an earlier entry of the same path), removes
/// it and runs `make` again, as the spec's "changeset over existing files" says.
fn create<T>(
    parent: &OwnedFd,
    name: &CStr,
    failed: impl Fn(io::Error) -> String,
    mut make: impl FnMut() -> io::Result<T>,
) -> Result<T, String> {
    match make() {
        Err(e) if errno(&e) == libc::EEXIST => {
            remove(parent, name)?;
            make().map_err(failed)
        }
        other => other.map_err(failed),
    }
}

/// Removes the earlier entry `name`; a directory only when empty.
fn remove(parent: &OwnedFd, name: &CStr) -> Result<(), String> {
    let st = sys::lstatat(parent, name).map_err(failed("reading the existing entry"))?;
    let flags = if st.as_ref().is_some_and(is_dir) {
        libc::AT_REMOVEDIR
    } else {
        0
    };
    sys::unlinkat(parent, name, flags).map_err(|e| match errno(&e) {
        libc::ENOTEMPTY => "replaces a non-empty directory of the same layer".to_string(),
        _ => format!("removing the existing entry: {e}"),
    })
}

fn file(
    parent: &OwnedFd,
    name: &CStr,
    meta: &Meta,
    size: u64,
    data: &mut impl Read,
) -> Result<(), String> {
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL;
    let fd = create(parent, name, failed("creating the file"), || {
        sys::openat(parent, name, flags, 0o600)
    })?;
    let mut file = File::from(fd);
    let copied = io::copy(&mut data.take(size), &mut file).map_err(failed("writing the file"))?;
    if copied < size {
        return Err(format!("data ends after {copied} of {size} bytes"));
    }
    let fd = OwnedFd::from(file);
    meta.set_on(&fd)?;
    sys::futimens(&fd, meta.mtime).map_err(failed("setting the time"))
}

fn symlink(parent: &OwnedFd, name: &CStr, entry: &Entry, meta: &Meta) -> Result<(), String> {
    let target = entry.link.as_deref().ok_or("symlink without a target")?;
    let target = CString::new(target).map_err(|_| "symlink target contains a NUL byte")?;
    create(parent, name, failed("creating the symlink"), || {
        sys::symlinkat(&target, parent, name)
    })?;
    meta.set_at(parent, name, false)
}

fn node(
    parent: &OwnedFd,
    name: &CStr,
    kind: u32,
    entry: &Entry,
    meta: &Meta,
) -> Result<(), String> {
    let number = |n: io::Result<Option<u32>>| {
        n.map(Option::unwrap_or_default)
            .map_err(failed("reading the device number"))
    };
    // A fifo has no device number, and archivers may leave the fields blank.
    let (major, minor) = if kind == libc::S_IFIFO {
        (0, 0)
    } else {
        (
            number(entry.header.device_major())?,
            number(entry.header.device_minor())?,
        )
    };
    let mode = kind | meta.mode();
    create(parent, name, mknod_failed, || {
        sys::mknodat(parent, name, mode, major, minor)
    })?;
    meta.set_at(parent, name, true)
}

/// The reason `mknodat` failed; without privilege, a plain statement of it.
fn mknod_failed(e: io::Error) -> String {
    if errno(&e) == libc::EPERM {
        format!("creating a device node is not permitted ({e}): unpacking needs root")
    } else {
        format!("creating the node: {e}")
    }
}
