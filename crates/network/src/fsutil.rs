//! Small file-system steps the store repeats: atomic JSON writes, reads that
//! treat a missing file as empty, removal that tolerates what is gone.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// Writes `value` as JSON to `path` atomically: a temporary file beside it,
/// fsync, rename. A crash leaves the old file or the new one, never half.
pub fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_atomic(path, &to_json(path, value)?)
}

fn to_json<T: Serialize>(path: &Path, value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(value)
        .map_err(|e| Error::Other(format!("serialising {}: {e}", path.display())))
}

/// Writes `value` as JSON to `path` by a rename over it, without fsync: a
/// crash leaves the old file or the new one, a power cut possibly an empty
/// one. For records of what runs, which a power cut ends anyway.
pub fn write_json_replace<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    write_renamed(path, &to_json(path, value)?, false)
}

/// Writes `bytes` to `path` atomically (see [`write_json_atomic`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_renamed(path, bytes, true)
}

fn write_renamed(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
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
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("reading", path, e)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::Other(format!("{} is corrupt: {e}", path.display())))
}

/// Removes a file; one already gone is not an error.
pub fn remove_file(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("removing", path, e)),
        _ => Ok(()),
    }
}

/// Creates a directory and its parents, naming it on failure.
pub fn create_dir_all(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io("creating", path, e))
}

/// Eight random bytes from the kernel's generator.
pub fn random_bytes() -> [u8; 8] {
    let mut buf = [0u8; 8];
    // getrandom(2) never returns short reads for requests of 256 bytes or less.
    // SAFETY: buf is valid for writes of its length.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr().cast(), buf.len(), 0) };
    assert_eq!(n, buf.len() as isize, "getrandom failed");
    buf
}
