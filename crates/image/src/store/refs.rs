//! Names for images: `registry/repo:tag` and `registry/repo@digest`, in one
//! file (`repositories.json`) changed only under its lock.

use std::collections::BTreeMap;
use std::fs::File;

use serde::{Deserialize, Serialize};

use super::fsutil::{read_json, write_json_atomic};
use super::Store;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::reference::Reference;

/// The store's names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Repositories {
    /// `registry/repo:tag` to image id.
    #[serde(default)]
    pub tags: BTreeMap<String, Digest>,
    /// `registry/repo@digest` to image id.
    #[serde(default)]
    pub digests: BTreeMap<String, Digest>,
}

impl Repositories {
    /// The names (tags) of image `id`.
    pub fn tags_of(&self, id: &Digest) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The digest references of image `id`.
    pub fn digests_of(&self, id: &Digest) -> Vec<String> {
        self.digests
            .iter()
            .filter(|(_, v)| *v == id)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Whether any name points at `id`.
    pub fn is_named(&self, id: &Digest) -> bool {
        self.tags
            .values()
            .chain(self.digests.values())
            .any(|v| v == id)
    }
}

/// The repositories file, held under its lock until dropped.
pub struct RefsGuard<'a> {
    store: &'a Store,
    _lock: File,
    /// The names, to read and change; [`RefsGuard::save`] writes them.
    pub repos: Repositories,
}

impl RefsGuard<'_> {
    /// Writes the changed names back.
    pub fn save(&self) -> Result<()> {
        write_json_atomic(&self.store.root.join("repositories.json"), &self.repos)
    }

    /// Points the tag and the digest reference of `r` (either or both) at
    /// image `id`.
    pub fn set(&mut self, r: &Reference, id: &Digest) {
        if let Some(digest) = r.digest() {
            let key = format!("{}@{digest}", r.name());
            self.repos.digests.insert(key, id.clone());
        }
        if let Some(tag) = r.tag() {
            self.repos
                .tags
                .insert(format!("{}:{tag}", r.name()), id.clone());
        }
    }
}

impl Store {
    /// The names, for reading.
    pub fn repositories(&self) -> Result<Repositories> {
        Ok(read_json(&self.root.join("repositories.json"))?.unwrap_or_default())
    }

    /// The names under their lock, for changing.
    pub fn lock_refs(&self) -> Result<RefsGuard<'_>> {
        let path = self.root.join("repositories.lock");
        let lock = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
        lock.lock().map_err(|e| Error::io("locking", &path, e))?;
        Ok(RefsGuard {
            store: self,
            _lock: lock,
            repos: self.repositories()?,
        })
    }
}
