//! `load`: images from a `docker save` archive. Docker's legacy
//! `manifest.json` is read when present (it names the tags), an OCI image
//! layout (`index.json`) otherwise. Every blob is checked against its digest
//! as it is copied into the store.

use std::fs::File;

use serde::Deserialize;

use super::blob_name;
use super::extracted::Extracted;
use crate::digest::{Algorithm, Digest};
use crate::error::{Error, Result};
use crate::ingest::{record_image, NewImage};
use crate::manifest::{
    AnyManifest, Compression, Descriptor, Manifest, DOCKER_CONFIG, DOCKER_LAYER_GZIP,
    DOCKER_LAYER_TAR, DOCKER_LAYER_ZSTD, DOCKER_MANIFEST,
};
use crate::reference::Reference;
use crate::store::{ImageRecord, Store};

/// Annotation holding an image's full name (containerd, Docker).
const NAME_ANNOTATION: &str = "io.containerd.image.name";
/// Annotation holding an image's name or tag (OCI).
const REF_ANNOTATION: &str = "org.opencontainers.image.ref.name";

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Loads every image of the archive `data`; returns them with their names.
pub fn load(
    store: &Store,
    data: &mut dyn std::io::Read,
) -> Result<Vec<(ImageRecord, Vec<Reference>)>> {
    let _lock = store.lock_for_adding()?;
    let staging = store.staging()?;
    let archive = Extracted::extract(data, &staging.join("archive"))?;
    if archive.has("manifest.json") {
        load_legacy(store, &archive)
    } else if archive.has("index.json") {
        load_oci(store, &archive)
    } else {
        Err(Error::Other(
            "not an image archive: it has neither manifest.json nor index.json".into(),
        ))
    }
}

fn load_legacy(store: &Store, archive: &Extracted) -> Result<Vec<(ImageRecord, Vec<Reference>)>> {
    let bytes = archive.read("manifest.json")?;
    let entries: Vec<LegacyEntry> = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Other(format!("malformed manifest.json in the archive: {e}")))?;
    let mut out = Vec::new();
    for entry in entries {
        let config = archive.read(&entry.config)?;
        let config_digest = store.put_blob(&config)?;
        let mut layers = Vec::new();
        for name in &entry.layers {
            layers.push(copy_layer(store, archive, name)?);
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(DOCKER_MANIFEST.into()),
            config: Descriptor::new(DOCKER_CONFIG, config_digest, config.len() as u64),
            layers,
            annotations: Default::default(),
        };
        let names = parse_names(entry.repo_tags.unwrap_or_default())?;
        out.push(record(store, &manifest, None, names)?);
    }
    Ok(out)
}

fn load_oci(store: &Store, archive: &Extracted) -> Result<Vec<(ImageRecord, Vec<Reference>)>> {
    let index = match AnyManifest::parse(&archive.read("index.json")?, None)? {
        AnyManifest::Index(index) => index,
        AnyManifest::Image(_) => {
            return Err(Error::Other(
                "index.json in the archive is not an index".into(),
            ))
        }
    };
    let mut out = Vec::new();
    for entry in &index.manifests {
        let bytes = verified_blob(archive, &entry.digest)?;
        let AnyManifest::Image(manifest) = AnyManifest::parse(&bytes, Some(&entry.media_type))?
        else {
            return Err(Error::Other(format!(
                "nested indexes are not supported in archives ({})",
                entry.digest
            )));
        };
        store.put_blob(&verified_blob(archive, &manifest.config.digest)?)?;
        for layer in &manifest.layers {
            Compression::of_media_type(&layer.media_type)?;
            copy_blob(
                store,
                archive,
                &blob_name(&layer.digest),
                Some(&layer.digest),
            )?;
        }
        let names = entry
            .annotations
            .get(NAME_ANNOTATION)
            .or_else(|| {
                entry
                    .annotations
                    .get(REF_ANNOTATION)
                    .filter(|r| r.contains(['/', ':']))
            })
            .map(|n| parse_names(vec![n.clone()]))
            .transpose()?
            .unwrap_or_default();
        out.push(record(store, &manifest, Some(&bytes), names)?);
    }
    Ok(out)
}

fn record(
    store: &Store,
    manifest: &Manifest,
    bytes: Option<&[u8]>,
    names: Vec<Reference>,
) -> Result<(ImageRecord, Vec<Reference>)> {
    let made;
    let manifest_bytes = match bytes {
        Some(b) => b,
        None => {
            made = serde_json::to_vec(manifest).expect("a manifest serialises");
            &made
        }
    };
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| DOCKER_MANIFEST.into());
    let image = record_image(
        store,
        NewImage {
            manifest_bytes,
            manifest_media_type: &media_type,
            manifest,
            index: None,
            names: &names,
        },
    )?;
    Ok((image, names))
}

/// Copies a legacy layer file into the store and describes it.
fn copy_layer(store: &Store, archive: &Extracted, name: &str) -> Result<Descriptor> {
    let (digest, size, compression) = copy_blob(store, archive, name, None)?;
    let media_type = match compression {
        Compression::None => DOCKER_LAYER_TAR,
        Compression::Gzip => DOCKER_LAYER_GZIP,
        Compression::Zstd => DOCKER_LAYER_ZSTD,
    };
    Ok(Descriptor::new(media_type, digest, size))
}

/// Copies the member `name` into the store as a blob, checked against
/// `expected` when given.
fn copy_blob(
    store: &Store,
    archive: &Extracted,
    name: &str,
    expected: Option<&Digest>,
) -> Result<(Digest, u64, Compression)> {
    let path = archive.path(name)?;
    let mut file = File::open(&path).map_err(|e| Error::io("opening", &path, e))?;
    let staging = store.staging()?;
    let algorithm = expected.map_or(Algorithm::Sha256, |d| d.algorithm());
    let (staged, digest, size) = store.stage_blob(&staging, algorithm, &mut file)?;
    if let Some(expected) = expected.filter(|e| **e != digest) {
        return Err(Error::DigestMismatch {
            expected: expected.to_string(),
            actual: digest.to_string(),
        });
    }
    let compression = Compression::sniff_file(&staged)?;
    store.commit_blob(&staged, &digest)?;
    Ok((digest, size, compression))
}

fn verified_blob(archive: &Extracted, digest: &Digest) -> Result<Vec<u8>> {
    let bytes = archive.read(&blob_name(digest))?;
    digest.verify(&bytes)?;
    Ok(bytes)
}

fn parse_names(names: Vec<String>) -> Result<Vec<Reference>> {
    names.iter().map(|n| n.parse()).collect()
}
