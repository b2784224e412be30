//! Adding an image to the store, whatever brought it (pull, load, import):
//! its layers unpacked once per chain id and checked against the diff ids
//! the configuration lists, then its blobs, record and names.

use std::io::BufReader;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{Compression, Descriptor, ImageConfig, Manifest};
use crate::reference::Reference;
use crate::store::{chain_ids, ImageLayer, ImageRecord, Layer, Store};
use crate::unpack::unpack_layer;

/// An image whose blobs are all in the store, ready to be recorded.
pub struct NewImage<'a> {
    /// The manifest's bytes, as they will be stored.
    pub manifest_bytes: &'a [u8],
    /// The manifest's media type.
    pub manifest_media_type: &'a str,
    /// The parsed manifest.
    pub manifest: &'a Manifest,
    /// The index it came through, if any.
    pub index: Option<Digest>,
    /// The names to give it.
    pub names: &'a [Reference],
}

/// Checks that a configuration and a manifest agree on the layer count, and
/// returns the configuration with the chain ids of its layers.
pub fn layer_plan(config_bytes: &[u8], manifest: &Manifest) -> Result<(ImageConfig, Vec<Digest>)> {
    let config = ImageConfig::parse(config_bytes)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::Other(format!(
            "the manifest lists {} layers but the configuration {} diff ids",
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let chains = chain_ids(&config.rootfs.diff_ids);
    Ok((config, chains))
}

/// Makes sure layer `chain_id` is unpacked in the store, unpacking the
/// stored blob `blob` if no other image brought it yet. The unpacked tar
/// must hash to `diff_id`, or nothing is kept.
pub fn ensure_layer(
    store: &Store,
    blob: &Descriptor,
    diff_id: &Digest,
    chain_id: &Digest,
    parent: Option<&Digest>,
) -> Result<Layer> {
    if let Some(layer) = store.layer(chain_id)? {
        return Ok(layer);
    }
    let _lock = store.lock_layer(chain_id)?;
    if let Some(layer) = store.layer(chain_id)? {
        return Ok(layer);
    }
    let compression = Compression::of_media_type(&blob.media_type)?;
    let staging = store.staging()?;
    let file = store.open_blob(&blob.digest)?;
    crate::store::create_dir_all(&staging.join("diff"))?;
    let stats = unpack_layer(BufReader::new(file), compression, &staging.join("diff"))
        .map_err(|e| Error::Other(format!("layer {}: {e}", blob.digest)))?;
    if &stats.diff_id != diff_id {
        return Err(Error::Other(format!(
            "layer {} unpacks to {}, but the image configuration says {diff_id}",
            blob.digest, stats.diff_id
        )));
    }
    store.commit_layer(&staging, chain_id, diff_id, parent)
}

/// Unpacks every layer of `manifest` whose blob is in the store (in order,
/// base first) and records the image under `names`. The configuration blob
/// must be in the store already.
pub fn record_image(store: &Store, image: NewImage<'_>) -> Result<ImageRecord> {
    let config_bytes = store.read_blob(&image.manifest.config.digest)?;
    let (config, chains) = layer_plan(&config_bytes, image.manifest)?;
    let mut layers = Vec::with_capacity(chains.len());
    let mut size = 0;
    for (i, blob) in image.manifest.layers.iter().enumerate() {
        let parent = i.checked_sub(1).map(|p| &chains[p]);
        let layer = ensure_layer(store, blob, &config.rootfs.diff_ids[i], &chains[i], parent)?;
        size += layer.size;
        layers.push(ImageLayer {
            blob: blob.clone(),
            diff_id: layer.diff_id,
            chain_id: layer.chain_id,
        });
    }
    let manifest = store.put_blob(image.manifest_bytes)?;
    let record = ImageRecord {
        id: image.manifest.config.digest.clone(),
        manifest,
        manifest_media_type: image.manifest_media_type.to_string(),
        index: image.index,
        config_media_type: image.manifest.config.media_type.clone(),
        layers,
        size,
        added: unix_now(),
    };
    store.put_image(&record)?;
    let mut refs = store.lock_refs()?;
    for name in image.names {
        refs.set(name, &record.id);
    }
    refs.save()?;
    Ok(record)
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
