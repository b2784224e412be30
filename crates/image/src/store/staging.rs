//! Staging directories: where blobs download and layers unpack before they
//! are verified and renamed into place.
//!
//! Each staging directory `tmp/NAME` has a lock file `tmp/NAME.lock`, made
//! and locked before the directory, that its owner keeps locked for as long
//! as it lives. Whoever opens the store removes the staging
//! directories whose lock it can take: their owner died (kill -9 mid-pull)
//! and what they hold was never verified, so it is thrown away.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::fsutil::{random_name, remove_all};
use crate::error::{Error, Result};

/// A private directory under the store's `tmp/`, removed on drop.
pub struct Staging {
    dir: PathBuf,
    _lock: File,
}

impl Staging {
    /// A fresh staging directory under `tmp`.
    pub fn new(tmp: &Path) -> Result<Staging> {
        let name = random_name();
        let lock_path = tmp.join(format!("{name}.lock"));
        let lock = File::create(&lock_path).map_err(|e| Error::io("creating", &lock_path, e))?;
        lock.lock()
            .map_err(|e| Error::io("locking", &lock_path, e))?;
        let dir = tmp.join(name);
        fs::create_dir(&dir).map_err(|e| Error::io("creating", &dir, e))?;
        Ok(Staging { dir, _lock: lock })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = remove_all(&self.dir);
        let _ = remove_all(&lock_path(&self.dir));
    }
}

/// Removes the staging directories under `tmp` whose owners are gone.
pub fn sweep(tmp: &Path) -> Result<()> {
    let entries = fs::read_dir(tmp).map_err(|e| Error::io("reading", tmp, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "lock") {
            continue;
        }
        let lock = lock_path(&path);
        if abandoned(&lock) {
            remove_all(&path)?;
            remove_all(&lock)?;
        }
    }
    // Lock files whose owner died before making its directory.
    for entry in fs::read_dir(tmp)
        .map_err(|e| Error::io("reading", tmp, e))?
        .flatten()
    {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "lock")
            && !path.with_extension("").exists()
            && abandoned(&path)
        {
            remove_all(&path)?;
        }
    }
    Ok(())
}

fn lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    dir.with_file_name(name)
}

fn abandoned(lock: &Path) -> bool {
    let Ok(file) = File::open(lock) else {
        // Without its lock file an entry was never a live staging directory.
        return true;
    };
    file.try_lock().is_ok()
}
