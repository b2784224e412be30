//! The store's staging directory as a top of directory hierarchies.
//!
//! ext4 puts a new directory in its parent's block group, and a new file in
//! its directory's. Without a journal, its inode allocator also skips every
//! free inode of that group deleted in the last seconds, reading each one to
//! find out: after an image (thousands of files) was removed, every file of
//! the next layer unpacked beside it paid a scan of them, about 0.4 ms a
//! file here. A directory marked `FS_TOPDIR_FL` (`chattr +T`) has its
//! subdirectories spread instead, each to a group with many free inodes, as
//! ext4 does for the directories under `/`: each layer being unpacked is an
//! independent tree, which is what the flag is for. 3000 empty files after
//! such a removal: 2.46 s beside it, 0.08 s under a marked directory.

use std::fs::{self, File};
use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::{Error, Result};

/// `FS_TOPDIR_FL` from linux/fs.h.
const FS_TOPDIR_FL: libc::c_int = 0x0002_0000;

/// Makes the directory `path` (its parent exists) and, when it is new, marks
/// it a top of directory hierarchies. File systems without the flag (tmpfs,
/// overlay) keep the directory unmarked: it only places inodes.
pub(crate) fn create(path: &Path) -> Result<()> {
    match fs::create_dir(path) {
        Ok(()) => {
            mark(path);
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::io("creating", path, e)),
    }
}

fn mark(path: &Path) {
    let Ok(dir) = File::open(path) else {
        return;
    };
    let mut flags: libc::c_int = 0;
    // SAFETY: FS_IOC_GETFLAGS stores one int (the kernel's size, whatever the
    // request's encoding says) into `flags`, which outlives the call.
    if unsafe { libc::ioctl(dir.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) } != 0 {
        return;
    }
    flags |= FS_TOPDIR_FL;
    // SAFETY: FS_IOC_SETFLAGS reads one int from `flags`, alive for the call.
    unsafe { libc::ioctl(dir.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) };
}

/// The inode flags of `path`, when its file system has them.
#[cfg(test)]
pub(crate) fn flags(path: &Path) -> Option<libc::c_int> {
    let dir = File::open(path).ok()?;
    let mut flags: libc::c_int = 0;
    // SAFETY: as in `mark`.
    let rc = unsafe { libc::ioctl(dir.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    (rc == 0).then_some(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_is_marked_where_the_file_system_can() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("tmp");
        create(&dir).unwrap();
        assert!(dir.is_dir());
        if flags(base.path()).is_some() {
            let own = flags(&dir).expect("flags of a directory on the same file system");
            assert_ne!(own & FS_TOPDIR_FL, 0, "FS_TOPDIR_FL not set: {own:#x}");
        }
        create(&dir).expect("an existing directory is fine");
        let missing = base.path().join("no/such/parent");
        let err = create(&missing).unwrap_err().to_string();
        assert!(err.contains("no/such/parent"), "{err}");
    }
}
