//! The image store: blobs by digest, layers unpacked once per chain id,
//! image records and names, under one root (`/var/lib/skiff` by default).
//!
//! ```text
//! ROOT/blobs/sha256/<hex>        verified blobs: manifests, configs, layers
//! ROOT/layers/<chain hex>/       layer.json + diff/ (the unpacked layer)
//! ROOT/l/<12 hex>                short names for overlay's lowerdir
//! ROOT/images/<id hex>.json      image records
//! ROOT/repositories.json         tags and digest references
//! ROOT/tmp/                      staging; whatever a dead process left is swept
//! ```
//!
//! Locks: `ROOT/lock` is held shared by everything that adds to the store
//! (pull, load, import) and exclusively by what removes from it (garbage
//! collection), so a layer is never collected while a pull is about to use
//! it. Names change under `repositories.lock`, layers unpack under
//! `layers/<hex>.lock`.

mod blobs;
pub(crate) mod fsutil;
mod images;
mod layers;
mod refs;
mod staging;
mod topdir;

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};

pub use fsutil::{
    create_dir_all, disk_usage, random_name, remove_all, write_atomic, write_json_atomic,
    write_json_replace,
};
pub use images::{ImageLayer, ImageRecord};
pub use layers::{chain_ids, Layer};
pub use refs::{RefsGuard, Repositories};
pub use staging::Staging;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::reference::Reference;

/// The default store root.
pub const DEFAULT_ROOT: &str = "/var/lib/skiff";

/// An open image store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A held store lock; released on drop.
pub struct StoreLock {
    _file: File,
}

impl Store {
    /// Opens (creating if needed) the store at `root` and sweeps what dead
    /// processes left in staging.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let store = Store { root: root.into() };
        for dir in ["blobs/sha256", "layers", "l", "images"] {
            fsutil::create_dir_all(&store.root.join(dir))?;
        }
        topdir::create(&store.tmp())?;
        staging::sweep(&store.tmp())?;
        Ok(store)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// A fresh staging directory.
    pub fn staging(&self) -> Result<Staging> {
        Staging::new(&self.tmp())
    }

    fn lock(&self, exclusive: bool) -> Result<StoreLock> {
        let path = self.root.join("lock");
        let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
        let locked = if exclusive {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(|e| Error::io("locking", &path, e))?;
        Ok(StoreLock { _file: file })
    }

    /// The lock that adding to the store holds (shared).
    pub fn lock_for_adding(&self) -> Result<StoreLock> {
        self.lock(false)
    }

    /// The lock that removing from the store holds (exclusive).
    pub fn lock_for_removing(&self) -> Result<StoreLock> {
        self.lock(true)
    }

    /// Finds an image by name (`busybox`, `busybox:1`, `host/x@sha256:...`),
    /// by id (`sha256:<hex>`) or by a unique prefix of its id's hex.
    pub fn resolve(&self, name: &str) -> Result<ImageRecord> {
        let repos = self.repositories()?;
        if let Ok(r) = name.parse::<Reference>() {
            let by_digest = r
                .digest()
                .and_then(|d| repos.digests.get(&format!("{}@{d}", r.name())));
            let by_tag = r
                .tag()
                .and_then(|t| repos.tags.get(&format!("{}:{t}", r.name())));
            if let Some(id) = by_digest.or(by_tag) {
                return self.image(id)?.ok_or_else(|| not_found(name));
            }
        }
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        if hex.len() < 4 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(not_found(name));
        }
        let mut matches = self
            .images()?
            .into_iter()
            .filter(|i| i.id.hex().starts_with(hex));
        match (matches.next(), matches.next()) {
            (Some(one), None) => Ok(one),
            (Some(_), Some(_)) => Err(Error::Other(format!(
                "image id prefix {name:?} is ambiguous: give more characters"
            ))),
            (None, _) => Err(not_found(name)),
        }
    }

    /// Removes image records no name points at and that `keep` does not
    /// keep, then layers and blobs no record uses. Returns the removed ids.
    pub fn prune_images(&self, keep: &dyn Fn(&Digest) -> bool) -> Result<Vec<Digest>> {
        let _lock = self.lock_for_removing()?;
        let repos = self.repositories()?;
        let mut removed = Vec::new();
        for image in self.images()? {
            if !repos.is_named(&image.id) && !keep(&image.id) {
                self.remove_image_record(&image.id)?;
                removed.push(image.id);
            }
        }
        self.collect_garbage()?;
        Ok(removed)
    }

    /// Removes layers and blobs that no image record uses. The caller holds
    /// the exclusive store lock.
    pub fn collect_garbage(&self) -> Result<()> {
        let images = self.images()?;
        let mut chains: HashSet<Digest> = HashSet::new();
        let mut blobs: HashSet<Digest> = HashSet::new();
        for image in &images {
            blobs.insert(image.id.clone());
            blobs.insert(image.manifest.clone());
            blobs.extend(image.index.clone());
            for layer in &image.layers {
                chains.insert(layer.chain_id.clone());
                blobs.insert(layer.blob.digest.clone());
            }
        }
        for layer in self.layers()? {
            if !chains.contains(&layer.chain_id) {
                self.remove_layer(&layer)?;
            }
        }
        for blob in self.blobs()? {
            if !blobs.contains(&blob) {
                self.remove_blob(&blob)?;
            }
        }
        Ok(())
    }
}

fn not_found(name: &str) -> Error {
    Error::Other(format!("no such image: {name}"))
}
