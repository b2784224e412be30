//! `import`: a root filesystem tarball (plain, gzip or zstd) becomes a
//! one-layer image, as `docker import` makes it.

use std::fs::File;
use std::io::{BufReader, Read};

use crate::digest::Algorithm;
use crate::error::{Error, Result};
use crate::ingest::{record_image, NewImage};
use crate::manifest::{
    Compression, Descriptor, History, ImageConfig, Manifest, Platform, RootFs, RunConfig,
    OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_TAR, OCI_LAYER_ZSTD, OCI_MANIFEST,
};
use crate::reference::Reference;
use crate::store::{ImageRecord, Store};
use crate::unpack::unpack_layer;

/// What the new image's configuration says beyond its layer.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// A comment for its history.
    pub message: Option<String>,
    /// Defaults for containers (`--change CMD ...`).
    pub config: Option<RunConfig>,
}

/// Imports the tarball `data` as an image named `names`.
pub fn import(
    store: &Store,
    data: &mut dyn Read,
    names: &[Reference],
    options: &ImportOptions,
) -> Result<ImageRecord> {
    let _lock = store.lock_for_adding()?;
    let staging = store.staging()?;
    let (path, digest, size) = store.stage_blob(&staging, Algorithm::Sha256, data)?;
    let compression = Compression::sniff_file(&path)?;
    crate::store::create_dir_all(&staging.join("diff"))?;
    let stats = unpack_layer(
        BufReader::new(File::open(&path).map_err(|e| Error::io("opening", &path, e))?),
        compression,
        &staging.join("diff"),
    )
    .map_err(|e| Error::Other(format!("the tarball is not a usable root filesystem: {e}")))?;
    store.commit_blob(&path, &digest)?;
    // A one-layer image's chain id is its diff id; the layer just unpacked
    // goes straight into the store, so it is unpacked once.
    {
        let _layer_lock = store.lock_layer(&stats.diff_id)?;
        if store.layer(&stats.diff_id)?.is_none() {
            store.commit_layer(&staging, &stats.diff_id, &stats.diff_id, None)?;
        }
    }
    let host = Platform::host();
    let now = skiff_timestamp::now_rfc3339();
    let config = ImageConfig {
        created: Some(now.clone()),
        author: None,
        architecture: host.architecture,
        os: host.os,
        variant: None,
        config: options.config.clone(),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![stats.diff_id],
        },
        history: vec![History {
            created: Some(now),
            created_by: Some("skiff import".into()),
            comment: options.message.clone(),
            empty_layer: false,
        }],
    };
    let config_bytes = serde_json::to_vec(&config).expect("a configuration serialises");
    let config_digest = store.put_blob(&config_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        config: Descriptor::new(OCI_CONFIG, config_digest, config_bytes.len() as u64),
        layers: vec![Descriptor::new(layer_media_type(compression), digest, size)],
        annotations: Default::default(),
    };
    let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
    record_image(
        store,
        NewImage {
            manifest_bytes: &manifest_bytes,
            manifest_media_type: OCI_MANIFEST,
            manifest: &manifest,
            index: None,
            names,
        },
    )
}

fn layer_media_type(compression: Compression) -> &'static str {
    match compression {
        Compression::None => OCI_LAYER_TAR,
        Compression::Gzip => OCI_LAYER_GZIP,
        Compression::Zstd => OCI_LAYER_ZSTD,
    }
}
