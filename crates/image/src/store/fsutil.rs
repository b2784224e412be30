//! Small file-system steps the store repeats: atomic JSON writes, a fresh
//! random name, removal that tolerates what is already gone.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Writes `value` as JSON to `path` atomically: a temporary file beside it,
/// fsync, rename. A crash leaves the old file or the new one, never half.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Other(format!("serialising {}: {e}", path.display())))?;
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically (see [`write_json_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, true)
}

/// Writes `value` as JSON to `path` through a temporary file and a rename,
/// without fsync: a killed process leaves the old file or the new one, but
/// a power cut may leave neither. For records that are rebuilt after a
/// reboot anyway (a container's run state), where an fsync per change
/// would be most of what starting a container costs.
pub fn write_json_replace<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Other(format!("serialising {}: {e}", path.display())))?;
    replace(path, &bytes, false)
}

fn replace(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}", random_name()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        if sync {
            file.sync_all()?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|e| Error::io("writing", path, e))
}

/// Reads and parses a JSON file; `None` when it does not exist.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => f
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading", path, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("opening", path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Other(format!("{} is corrupt: {e}", path.display())))
}

/// Sixteen random hex characters from the kernel's generator.
pub fn random_name() -> String {
    let mut buf = [0u8; 8];
    // getrandom(2) never returns short reads for requests of 256 bytes or less.
    // SAFETY: buf is valid for writes of its length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert_eq!(n, buf.len() as isize, "getrandom failed");
    hex::encode(buf)
}

/// Removes a file or a directory tree; what is already gone is not an error.
/// In an ordinary user's store, a tree holding what other ids of the user's
/// namespace own is removed from inside that namespace
/// ([`crate::userns`]).
pub fn remove_all(path: &Path) -> Result<()> {
    match (remove_here(path), crate::userns::helper()) {
        (Err(Error::Io { source, .. }), Some(helper))
            if source.kind() == io::ErrorKind::PermissionDenied =>
        {
            helper.remove(path)
        }
        (result, _) => result,
    }
}

/// [`remove_all`] with this process's own permissions.
pub(crate) fn remove_here(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match result {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("removing", path, e)),
        _ => Ok(()),
    }
}

/// Creates a directory and its parents, naming it on failure.
pub fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io("creating", path, e))
}

/// Total bytes of the regular files under `path` (a layer's size).
pub fn disk_usage(path: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => disk_usage(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
