//! Owners, modes, extended attributes and times, set in the order that keeps
//! each: owner before mode (chown clears setuid and setgid), owner before
//! xattrs (chown clears `security.capability`), time last.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::OwnedFd;

use super::reader::{quote, Entry};
use super::sys::{self, Mtime};

/// xattr namespaces a layer may not set: overlay's own attributes
/// (`redirect`, `metacopy`, `opaque`, ...) change what the mounted overlay
/// shows, and only the unpacker decides those.
const RESERVED_XATTRS: [&[u8]; 2] = [b"trusted.overlay.", b"user.overlay."];

/// An entry's attributes, checked.
pub(crate) struct Meta {
    uid: u32,
    gid: u32,
    mode: u32,
    pub(crate) mtime: Mtime,
    xattrs: Vec<(CString, Vec<u8>)>,
}

impl Meta {
    /// The attributes of `entry`; ids that do not fit in 32 bits and
    /// reserved or malformed xattr names are refused.
    pub(crate) fn of(entry: &Entry) -> Result<Meta, String> {
        let id = |v: u64, what: &str| {
            u32::try_from(v).map_err(|_| format!("{what} {v} does not fit in 32 bits"))
        };
        let mode = entry
            .header
            .mode()
            .map_err(|e| format!("reading the mode: {e}"))?;
        let xattrs = entry
            .xattrs
            .iter()
            .map(|(name, value)| Ok((xattr_name(name)?, value.clone())))
            .collect::<Result<_, String>>()?;
        Ok(Meta {
            uid: id(entry.uid, "uid")?,
            gid: id(entry.gid, "gid")?,
            mode: mode & 0o7777,
            mtime: entry.mtime,
            xattrs,
        })
    }

    /// The permission bits (with setuid, setgid and sticky).
    pub(crate) fn mode(&self) -> u32 {
        self.mode
    }

    /// Owner, mode and xattrs on an open file or directory; the time is the
    /// caller's (directories get theirs after their contents).
    pub(crate) fn set_on(&self, fd: &OwnedFd) -> Result<(), String> {
        sys::fchown(fd, self.uid, self.gid).map_err(self.chown_failed())?;
        sys::fchmod(fd, self.mode).map_err(failed("setting the mode"))?;
        for (key, value) in &self.xattrs {
            sys::fsetxattr(fd, key, value).map_err(xattr_failed(key))?;
        }
        Ok(())
    }

    /// Everything on `name` in `dir`, an entry that cannot be opened
    /// (symlink, device, fifo). Symlinks have no mode of their own, so
    /// `chmod` is false for them.
    pub(crate) fn set_at(&self, dir: &OwnedFd, name: &CStr, chmod: bool) -> Result<(), String> {
        sys::lchownat(dir, name, self.uid, self.gid).map_err(self.chown_failed())?;
        if chmod {
            sys::fchmodat(dir, name, self.mode).map_err(failed("setting the mode"))?;
        }
        for (key, value) in &self.xattrs {
            sys::lsetxattrat(dir, name, key, value).map_err(xattr_failed(key))?;
        }
        sys::lutimensat(dir, name, self.mtime).map_err(failed("setting the time"))
    }
}

impl Meta {
    /// Why setting the owner failed: in a user namespace, EINVAL means the
    /// entry's ids are not mapped there.
    fn chown_failed(&self) -> impl Fn(io::Error) -> String + '_ {
        move |e| match e.raw_os_error() {
            Some(libc::EINVAL) if crate::userns::in_user_namespace() => format!(
                "uid {} or gid {} is not mapped in the user namespace: /etc/subuid and \
                 /etc/subgid give the user too few ids for this image",
                self.uid, self.gid
            ),
            _ => format!("setting the owner: {e}"),
        }
    }
}

/// Maps an I/O error to a reason that says what was being done.
pub(crate) fn failed(what: &'static str) -> impl Fn(io::Error) -> String {
    move |e| format!("{what}: {e}")
}

fn xattr_failed(key: &CStr) -> impl Fn(io::Error) -> String + '_ {
    move |e| format!("setting xattr {}: {e}", key.to_string_lossy())
}

fn xattr_name(name: &[u8]) -> Result<CString, String> {
    if RESERVED_XATTRS.iter().any(|p| name.starts_with(p)) {
        return Err(format!(
            "xattr {} is reserved for the overlay file system",
            quote(name)
        ));
    }
    if name.is_empty() {
        return Err("empty xattr name".to_string());
    }
    CString::new(name).map_err(|_| format!("xattr name {} contains a NUL byte", quote(name)))
}
