//! Layer unpacking: a layer blob, decompressed and hashed as it streams, is
//! applied entry by entry to an empty directory that becomes one overlay
//! lower layer.
//!
//! # What is kept
//!
//! Regular files, directories, symlinks, hardlinks within the layer,
//! character and block devices and fifos, with their modes (setuid, setgid
//! and sticky included), numeric owners, modification times and the xattrs
//! of PAX `SCHILY.xattr.*` records (`security.capability` among them).
//! Directory times are set once the whole layer is in place. Names come from
//! GNU long names, PAX `path`/`linkpath` or the header, and PAX `size`,
//! `uid`, `gid` and `mtime` override the header.
//!
//! # Containment
//!
//! Nothing is written outside `dest`, whatever the layer holds:
//!
//! - Names are normalized by their text: a leading `/` is dropped, `.` is
//!   skipped and a `..` that would climb above the layer root is refused.
//! - Parent directories are opened with `openat2(RESOLVE_IN_ROOT)` below
//!   `dest`: a symlink the layer made (`a -> /`, `a -> ../../..`) resolves
//!   as it would inside the container, within `dest`, never outside it.
//! - The entry itself is made with an `*at` call on the parent's descriptor
//!   that does not follow a symlink in its name (`O_NOFOLLOW`, `O_EXCL`,
//!   `AT_SYMLINK_NOFOLLOW`, `linkat` without `AT_SYMLINK_FOLLOW`).
//! - A hardlink's target is resolved the same way and must be an entry the
//!   layer already made; a symlink target is linked itself.
//! - Names and link targets are at most 4096 bytes; extension headers are
//!   bounded before they are read, so the layer is never
//!   held in memory.
//! - xattrs in overlay's namespaces (`trusted.overlay.*`, `user.overlay.*`)
//!   are refused: only the unpacker sets those.
//!
//! # Whiteouts
//!
//! The OCI image spec (`layer.md`) marks removals with `.wh.NAME` entries and
//! opaque directories with `.wh..wh..opq`; they hide what *lower* layers hold,
//! never what the same layer holds. They become overlay's forms:
//!
//! - `.wh.NAME` is a character device 0/0 named `NAME`. If this layer already
//!   made `NAME`, it stays; a directory becomes opaque so the lower one's
//!   contents stay hidden. A directory entry that later replaces the
//!   whiteout is made opaque for the same reason.
//! - `.wh..wh..opq` in a directory sets `trusted.overlay.opaque=y` on it.
//! - `.wh.`, `.wh..`, `.wh...` (which would name the directory itself or its
//!   parent) and AUFS metadata (`.wh..wh.*`) are refused.
//!
//! # Entries of the same path
//!
//! The spec forbids duplicate paths but says how to apply an entry over an
//! existing file: a directory over a directory merges (the later attributes
//! win); anything else removes the earlier entry and makes the new one. A
//! non-empty directory is never replaced by a non-directory: that is refused.
//!
//! # Errors
//!
//! Every error names the tar entry. On error `dest` is left as it is, half
//! filled: the caller (the store) removes the directory. Device nodes need
//! root: unprivileged, they fail with an error that says so. In a user
//! namespace (an ordinary user's store, see [`crate::userns`]) they are
//! skipped, as Docker and Podman skip them, and opaque directories are
//! marked `user.overlay.opaque`, which an overlay mounted with `userxattr`
//! reads.

mod decompress;
mod entry;
mod meta;
mod name;
mod reader;
mod sys;
#[cfg(test)]
mod tests;
mod whiteout;

use std::io::Read;
use std::path::Path;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::Compression;

use decompress::{decoder, HashingReader};
use entry::Layer;
use reader::TarReader;

/// What unpacking a layer produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackStats {
    /// The SHA-256 of the uncompressed tar, every byte of it: the layer's
    /// diff_id in the image configuration.
    pub diff_id: Digest,
    /// Bytes of uncompressed tar.
    pub size: u64,
    /// File system entries applied (whiteouts included, extension headers not).
    pub entries: u64,
}

/// Unpacks the layer blob `blob` (compressed as `compression`) into the empty
/// directory `dest`, as described in the [module documentation](self).
///
/// The returned diff_id is computed, not checked: the caller compares it with
/// the image configuration's. On error `dest` is left half filled for the
/// caller to remove.
///
/// Once [`crate::userns::enable`]d, the layer unpacks in the user
/// namespace helper instead of this process.
pub fn unpack_layer(blob: impl Read, compression: Compression, dest: &Path) -> Result<UnpackStats> {
    match crate::userns::helper() {
        Some(helper) => helper.unpack(blob, compression, dest),
        None => unpack_here(blob, compression, dest),
    }
}

/// [`unpack_layer`] in this process.
pub(crate) fn unpack_here(
    blob: impl Read,
    compression: Compression,
    dest: &Path,
) -> Result<UnpackStats> {
    let root =
        sys::open_dir(dest).map_err(|e| Error::io("opening the layer directory", dest, e))?;
    let stream = decoder(blob, compression).map_err(|e| unpack_error("(start of the layer)", e))?;
    let mut hashed = HashingReader::new(stream);
    let mut tar = TarReader::new(&mut hashed);
    let mut layer = Layer::new(root);
    let mut entries = 0;
    let mut last = None;
    loop {
        let next = tar.next_entry().map_err(|e| {
            let after = last.as_deref().unwrap_or("the start");
            unpack_error(&format!("(header after {after})"), e)
        })?;
        let Some(entry) = next else { break };
        let name = entry.display_name();
        layer
            .apply(&entry, &mut tar)
            .map_err(|reason| unpack_error(&name, reason))?;
        entries += 1;
        last = Some(name);
    }
    layer
        .finish()
        .map_err(|(dir, reason)| unpack_error(&dir, reason))?;
    hashed
        .drain()
        .map_err(|e| unpack_error("(after the end of the archive)", e))?;
    let (diff_id, size) = hashed.finish();
    Ok(UnpackStats {
        diff_id,
        size,
        entries,
    })
}

fn unpack_error(entry: &str, reason: impl ToString) -> Error {
    Error::Unpack {
        entry: entry.to_string(),
        reason: reason.to_string(),
    }
}
