//! Unpacked layers, one directory per chain id (`layers/<hex>/diff`), shared
//! by every image whose layer stack starts the same way.
//!
//! A layer is unpacked in staging and renamed into `layers/` only when its
//! diff id checked out, with `layer.json` written before the rename: a
//! directory under `layers/` is always complete. Each layer also gets a
//! short name, `l/<12 hex>` linking to its `diff`, so that the overlay
//! mount options of an image with a hundred layers fit in a page.

use std::fs::{self, File};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::fsutil::{create_dir_all, read_json, remove_all, write_json_atomic};
use super::staging::Staging;
use super::Store;
use crate::digest::Digest;
use crate::error::{Error, Result};

/// Length of a layer's short link name.
const LINK_LEN: usize = 12;

/// What the store records about an unpacked layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layer {
    /// The layer's chain id: its identity in the store.
    pub chain_id: Digest,
    /// The digest of its uncompressed tar.
    pub diff_id: Digest,
    /// The chain id of the layer below, if any.
    pub parent: Option<Digest>,
    /// Bytes of regular files it holds.
    pub size: u64,
    /// Its short name under `l/`.
    pub link: String,
}

/// The chain ids of a stack of diff ids, base first, as the OCI image spec
/// defines them: the first is the diff id, each next one the sha256 of
/// "<parent chain id> <diff id>".
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff in diff_ids {
        let next = match out.last() {
            None => diff.clone(),
            Some(parent) => {
                let hex = hex::encode(Sha256::digest(format!("{parent} {diff}")));
                format!("sha256:{hex}")
                    .parse()
                    .expect("sha256 hex is a digest")
            }
        };
        out.push(next);
    }
    out
}

impl Store {
    fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.root.join("layers").join(chain_id.hex())
    }

    /// The layer's record, if it is in the store (and therefore complete).
    pub fn layer(&self, chain_id: &Digest) -> Result<Option<Layer>> {
        read_json(&self.layer_dir(chain_id).join("layer.json"))
    }

    /// The directory that holds the layer's files.
    pub fn layer_diff(&self, chain_id: &Digest) -> PathBuf {
        self.layer_dir(chain_id).join("diff")
    }

    /// Every layer in the store.
    pub fn layers(&self) -> Result<Vec<Layer>> {
        let dir = self.root.join("layers");
        let entries = fs::read_dir(&dir).map_err(|e| Error::io("reading", &dir, e))?;
        let mut out = Vec::new();
        for entry in entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        {
            if let Some(layer) = read_json::<Layer>(&entry.path().join("layer.json"))? {
                out.push(layer);
            }
        }
        Ok(out)
    }

    /// Holds the layer's lock: only one process unpacks a given layer, the
    /// others wait and then find it done.
    pub fn lock_layer(&self, chain_id: &Digest) -> Result<File> {
        let path = self
            .root
            .join("layers")
            .join(format!("{}.lock", chain_id.hex()));
        let file = File::create(&path).map_err(|e| Error::io("creating", &path, e))?;
        file.lock().map_err(|e| Error::io("locking", &path, e))?;
        Ok(file)
    }

    /// Moves `staging/diff` into the store as layer `chain_id`. The caller
    /// holds the layer's lock and has checked the diff id.
    pub fn commit_layer(
        &self,
        staging: &Staging,
        chain_id: &Digest,
        diff_id: &Digest,
        parent: Option<&Digest>,
    ) -> Result<Layer> {
        let diff = staging.join("diff");
        let layer = Layer {
            chain_id: chain_id.clone(),
            diff_id: diff_id.clone(),
            parent: parent.cloned(),
            size: super::fsutil::disk_usage(&diff),
            link: chain_id.hex()[..LINK_LEN].to_string(),
        };
        let staged = staging.join("layer");
        create_dir_all(&staged)?;
        fs::rename(&diff, staged.join("diff")).map_err(|e| Error::io("moving", &diff, e))?;
        write_json_atomic(&staged.join("layer.json"), &layer)?;
        self.link_layer(&layer)?;
        let dest = self.layer_dir(chain_id);
        // A directory left by a crash between rename and nothing else cannot
        // exist (rename is the last step), but an empty one from a manual
        // repair might: clear it so the rename succeeds.
        remove_all(&dest)?;
        fs::rename(&staged, &dest).map_err(|e| Error::io("storing layer", &dest, e))?;
        Ok(layer)
    }

    fn link_layer(&self, layer: &Layer) -> Result<()> {
        let link = self.root.join("l").join(&layer.link);
        let target = Path::new("../layers")
            .join(layer.chain_id.hex())
            .join("diff");
        match fs::read_link(&link) {
            Ok(existing) if existing == target => return Ok(()),
            Ok(_) => {
                return Err(Error::Other(format!(
                    "layer link {} is taken by another layer",
                    link.display()
                )))
            }
            Err(_) => remove_all(&link)?,
        }
        symlink(&target, &link).map_err(|e| Error::io("linking", &link, e))
    }

    /// Removes a layer: renamed into staging first, so a crash halfway
    /// leaves no partial layer under its name.
    pub fn remove_layer(&self, layer: &Layer) -> Result<()> {
        let staging = Staging::new(&self.tmp())?;
        let dir = self.layer_dir(&layer.chain_id);
        match fs::rename(&dir, staging.join("gone")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("removing layer", &dir, e)),
        }
        remove_all(&self.root.join("l").join(&layer.link))?;
        remove_all(
            &self
                .root
                .join("layers")
                .join(format!("{}.lock", layer.chain_id.hex())),
        )
    }

    /// The overlay `lowerdir` option for a stack of chain ids (base first),
    /// in short names relative to the store's root: the top layer first, as
    /// overlayfs wants.
    pub fn lowerdir(&self, chain_ids: &[Digest]) -> Result<String> {
        let mut names = Vec::with_capacity(chain_ids.len());
        for chain_id in chain_ids.iter().rev() {
            let layer = self.layer(chain_id)?.ok_or_else(|| {
                Error::Other(format!("layer {chain_id} is missing from the store"))
            })?;
            names.push(format!("l/{}", layer.link));
        }
        Ok(names.join(":"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_ids_follow_the_spec() {
        let a: Digest = "sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"
            .parse()
            .unwrap();
        let ids = chain_ids(&[a.clone(), a.clone()]);
        assert_eq!(ids[0], a);
        let expect = hex::encode(Sha256::digest(format!("{a} {a}")));
        assert_eq!(ids[1].hex(), expect);
    }
}
