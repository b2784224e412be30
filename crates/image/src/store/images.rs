//! Image records (`images/<id>.json`): what the store knows of an image, by
//! its id, the digest of its configuration as Docker names images.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::fsutil::{read_json, remove_all, write_json_atomic};
use super::Store;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, ImageConfig};

/// One layer of an image: the blob it came in and what it unpacked to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageLayer {
    /// The (usually compressed) blob as the manifest lists it.
    pub blob: Descriptor,
    /// The digest of the uncompressed tar.
    pub diff_id: Digest,
    /// The layer's identity in the store.
    pub chain_id: Digest,
}

/// What the store records about an image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The digest of the configuration blob.
    pub id: Digest,
    /// The manifest blob's digest.
    pub manifest: Digest,
    /// The manifest's media type.
    pub manifest_media_type: String,
    /// The index or manifest list it was picked from, when pulled through one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Digest>,
    /// The configuration blob's media type.
    pub config_media_type: String,
    /// Layers, base first.
    pub layers: Vec<ImageLayer>,
    /// Total unpacked size in bytes.
    pub size: u64,
    /// When the store got it, in seconds since the epoch.
    pub added: u64,
}

impl ImageRecord {
    /// The chain ids of its layers, base first.
    pub fn chain_ids(&self) -> Vec<Digest> {
        self.layers.iter().map(|l| l.chain_id.clone()).collect()
    }

    /// The id as Docker shows it: 12 hex characters.
    pub fn short_id(&self) -> &str {
        &self.id.hex()[..12]
    }
}

impl Store {
    fn image_path(&self, id: &Digest) -> PathBuf {
        self.root.join("images").join(format!("{}.json", id.hex()))
    }

    /// Writes an image record (replacing one with the same id).
    pub fn put_image(&self, record: &ImageRecord) -> Result<()> {
        write_json_atomic(&self.image_path(&record.id), record)
    }

    /// The record of image `id`.
    pub fn image(&self, id: &Digest) -> Result<Option<ImageRecord>> {
        read_json(&self.image_path(id))
    }

    /// The parsed configuration of an image.
    pub fn image_config(&self, record: &ImageRecord) -> Result<ImageConfig> {
        ImageConfig::parse(&self.read_blob(&record.id)?)
    }

    /// Every image record.
    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let dir = self.root.join("images");
        let entries = fs::read_dir(&dir).map_err(|e| Error::io("reading", &dir, e))?;
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "json") {
                if let Some(record) = read_json::<ImageRecord>(&path)? {
                    out.push(record);
                }
            }
        }
        out.sort_by(|a, b| b.added.cmp(&a.added).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Removes an image record (its layers and blobs go with the next
    /// garbage collection).
    pub fn remove_image_record(&self, id: &Digest) -> Result<()> {
        remove_all(&self.image_path(id))
    }
}
