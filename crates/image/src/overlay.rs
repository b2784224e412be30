//! Root filesystems for containers: an overlay mount of an image's layers
//! (read-only, shared) under a container's own upper and work directories.
//!
//! The layers are named by their short links relative to the store root
//! (`l/<12 hex>`), which keeps the options of a 120-layer image near 1.8 KiB,
//! well under the page that mount(2) accepts. Relative names need the store
//! root as the working directory; a short-lived child changes directory and
//! mounts, so the caller's working directory (shared by all its threads) is
//! never touched.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::store::Store;

/// The most mount(2) copies of a data argument: one page, with its NUL.
const MAX_OPTIONS: usize = 4095;

/// The overlay mount options for an image's layers (base first) under
/// `upper` and `work`.
pub fn overlay_options(
    store: &Store,
    chain_ids: &[Digest],
    upper: &Path,
    work: &Path,
) -> Result<String> {
    options(store, chain_ids, upper, work, None)
}

/// The overlay mount options for a mount made by another process, in the
/// container's own namespaces (its runtime, before `pivot_root`): the
/// layers' short names made absolute, as that process works in another
/// directory. In a user namespace (`userxattr`), overlay keeps its
/// attributes under `user.overlay.`, where the unpacker put them.
pub fn absolute_overlay_options(
    store: &Store,
    chain_ids: &[Digest],
    upper: &Path,
    work: &Path,
    userxattr: bool,
) -> Result<String> {
    options(store, chain_ids, upper, work, Some(userxattr))
}

/// `absolute`: the layers' names made absolute, with `userxattr` or not.
fn options(
    store: &Store,
    chain_ids: &[Digest],
    upper: &Path,
    work: &Path,
    absolute: Option<bool>,
) -> Result<String> {
    if chain_ids.is_empty() {
        return Err(Error::Other(
            "an image without layers has no root filesystem".into(),
        ));
    }
    let mut lower = store.lowerdir(chain_ids)?;
    if absolute.is_some() {
        let absolute: Vec<String> = lower
            .split(':')
            .map(|name| store.root().join(name).display().to_string())
            .collect();
        lower = absolute.join(":");
    }
    let mut options = format!(
        "lowerdir={lower},upperdir={},workdir={}",
        upper.display(),
        work.display()
    );
    if absolute == Some(true) {
        options.push_str(",userxattr");
    }
    if options.len() > MAX_OPTIONS {
        return Err(Error::Other(format!(
            "overlay options for {} layers are {} bytes, more than the {MAX_OPTIONS} mount(2) takes",
            chain_ids.len(),
            options.len()
        )));
    }
    Ok(options)
}

/// Mounts the overlay of `chain_ids` with `upper` and `work` on `target`.
pub fn mount_overlay(
    store: &Store,
    chain_ids: &[Digest],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<()> {
    let options = overlay_options(store, chain_ids, upper, work)?;
    let cstr = |p: &[u8]| CString::new(p).map_err(|_| Error::Other("path with a NUL byte".into()));
    let root = cstr(store.root().as_os_str().as_bytes())?;
    let target_c = cstr(target.as_os_str().as_bytes())?;
    let data = cstr(options.as_bytes())?;
    let errno = mount_in_child(&root, &target_c, &data)?;
    if errno != 0 {
        return Err(Error::io(
            "mounting overlay on",
            target,
            std::io::Error::from_raw_os_error(errno),
        ));
    }
    Ok(())
}

/// Forks a child that changes to `root` and mounts; returns its errno.
fn mount_in_child(root: &CString, target: &CString, data: &CString) -> Result<i32> {
    // SAFETY: the child calls only async-signal-safe functions (chdir, mount,
    // _exit) on memory prepared before the fork, so it is sound even when
    // the parent has other threads.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(Error::io(
            "forking to mount",
            "overlay",
            std::io::Error::last_os_error(),
        ));
    }
    if pid == 0 {
        // SAFETY: see above; every pointer is a live NUL-terminated string.
        unsafe {
            if libc::chdir(root.as_ptr()) != 0 {
                libc::_exit(*libc::__errno_location() & 0xff);
            }
            let fstype = c"overlay";
            let rc = libc::mount(
                fstype.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                0,
                data.as_ptr().cast(),
            );
            libc::_exit(if rc == 0 {
                0
            } else {
                *libc::__errno_location() & 0xff
            });
        }
    }
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out pointer.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::io("waiting for the mount child", "overlay", err));
        }
    }
    if !libc::WIFEXITED(status) {
        return Err(Error::Other("the overlay mount child died".into()));
    }
    Ok(libc::WEXITSTATUS(status))
}
