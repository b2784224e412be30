//! `export`: a container's merged root filesystem as a tar archive, walked
//! through directory descriptors so that no symlink in it is followed.
//! Whiteouts never show: the overlay's merged view has already applied them.

use std::io::Write;
use std::path::Path;

use nix::sys::stat::{FileStat, SFlag};

use super::tree::{file_type, stat_fd, walk_contents, Entry, Kind, Visitor};
use crate::{Engine, Error, Result};

/// Appends what a walk visits to a tar archive.
struct TarWriter<W: Write> {
    tar: tar::Builder<W>,
    /// The root's device: a directory on another is a mount point in a
    /// running container (`/proc`, `/dev`, a volume), kept empty as
    /// Docker's export keeps it.
    root_dev: u64,
}

fn header(stat: &FileStat, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(stat.st_mode & 0o7777);
    h.set_uid(u64::from(stat.st_uid));
    h.set_gid(u64::from(stat.st_gid));
    h.set_mtime(stat.st_mtime.max(0) as u64);
    h.set_size(size);
    h
}

impl<W: Write> Visitor for TarWriter<W> {
    fn visit(&mut self, entry: Entry<'_>) -> Result<()> {
        let Entry { path, stat, kind } = entry;
        let err = |e| Error::Io(format!("archiving {}", path.display()), e);
        match kind {
            Kind::Dir => {
                let mut h = header(&stat, tar::EntryType::Directory, 0);
                self.tar.append_data(&mut h, path, std::io::empty())
            }
            Kind::File(file) => {
                let mut h = header(&stat, tar::EntryType::Regular, stat.st_size as u64);
                self.tar.append_data(&mut h, path, file)
            }
            Kind::Symlink(target) => {
                let mut h = header(&stat, tar::EntryType::Symlink, 0);
                self.tar.append_link(&mut h, path, target)
            }
            Kind::Special => {
                let kind = match file_type(&stat) {
                    SFlag::S_IFCHR => tar::EntryType::Char,
                    SFlag::S_IFBLK => tar::EntryType::Block,
                    SFlag::S_IFIFO => tar::EntryType::Fifo,
                    // Sockets have no tar form.
                    _ => return Ok(()),
                };
                let mut h = header(&stat, kind, 0);
                let (major, minor) = (libc::major(stat.st_rdev), libc::minor(stat.st_rdev));
                h.set_device_major(major).map_err(err)?;
                h.set_device_minor(minor).map_err(err)?;
                self.tar.append_data(&mut h, path, std::io::empty())
            }
        }
        .map_err(err)
    }

    fn leave(&mut self, _: &Path, _: &FileStat) -> Result<()> {
        Ok(())
    }

    fn enter(&self, stat: &FileStat) -> bool {
        stat.st_dev == self.root_dev
    }
}

impl Engine {
    /// Writes container `what`'s root filesystem to `out` as a tar archive.
    pub fn export_container(&self, what: &str, out: &mut dyn Write) -> Result<()> {
        self.with_root(what, |root| {
            let mut writer = TarWriter {
                tar: tar::Builder::new(&mut *out),
                root_dev: stat_fd(root, Path::new("/"))?.st_dev,
            };
            walk_contents(root, Path::new(""), &mut writer)?;
            writer
                .tar
                .into_inner()
                .and_then(|w| w.flush())
                .map_err(|e| Error::Io("finishing the archive".into(), e))
        })
    }
}
