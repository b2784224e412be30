//! `save`: images to an archive that both `docker load` (through the legacy
//! `manifest.json`) and OCI tools (through `oci-layout` and `index.json`)
//! read. Blobs are written once each, under `blobs/sha256/`.

use std::collections::HashSet;
use std::io::Write;

use serde_json::json;

use super::blob_name;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::manifest::{Descriptor, OCI_INDEX};
use crate::reference::Reference;
use crate::store::{ImageRecord, Store};

/// Writes `images` (each with the names to save it under) as a tar to `out`.
pub fn save(
    store: &Store,
    images: &[(ImageRecord, Vec<Reference>)],
    out: &mut dyn Write,
) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut written = HashSet::new();
    let mut legacy = Vec::new();
    let mut index = Vec::new();
    for (image, names) in images {
        for digest in blobs_of(image) {
            if written.insert(digest.clone()) {
                append_blob(&mut tar, store, &digest)?;
            }
        }
        legacy.push(json!({
            "Config": blob_name(&image.id),
            "RepoTags": names.iter().filter(|n| n.tag().is_some())
                .map(|n| format!("{}:{}", n.familiar_name(), n.tag().unwrap_or_default()))
                .collect::<Vec<_>>(),
            "Layers": image.layers.iter().map(|l| blob_name(&l.blob.digest)).collect::<Vec<_>>(),
        }));
        let manifest_size = std::fs::metadata(store.blob_path(&image.manifest))
            .map_err(|e| Error::io("reading", store.blob_path(&image.manifest), e))?
            .len();
        let names: Vec<Option<&Reference>> = if names.is_empty() {
            vec![None]
        } else {
            names.iter().map(Some).collect()
        };
        for name in names {
            index.push(index_entry(image, manifest_size, name));
        }
    }
    append(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": index});
    append(
        &mut tar,
        "index.json",
        &serde_json::to_vec(&index).expect("json"),
    )?;
    append(
        &mut tar,
        "manifest.json",
        &serde_json::to_vec(&legacy).expect("json"),
    )?;
    tar.into_inner()
        .and_then(|w| w.flush())
        .map_err(|e| Error::io("writing", "the archive", e))
}

fn index_entry(image: &ImageRecord, size: u64, name: Option<&Reference>) -> Descriptor {
    let mut annotations = std::collections::BTreeMap::new();
    if let Some(name) = name {
        annotations.insert("io.containerd.image.name".to_string(), name.to_string());
        if let Some(tag) = name.tag() {
            annotations.insert(
                "org.opencontainers.image.ref.name".to_string(),
                tag.to_string(),
            );
        }
    }
    Descriptor {
        media_type: image.manifest_media_type.clone(),
        digest: image.manifest.clone(),
        size,
        platform: None,
        annotations,
        urls: Vec::new(),
    }
}

fn blobs_of(image: &ImageRecord) -> Vec<Digest> {
    let mut out = vec![image.id.clone(), image.manifest.clone()];
    out.extend(image.layers.iter().map(|l| l.blob.digest.clone()));
    out
}

fn append_blob(
    tar: &mut tar::Builder<&mut dyn Write>,
    store: &Store,
    digest: &Digest,
) -> Result<()> {
    let mut file = store.open_blob(digest)?;
    let path = store.blob_path(digest);
    tar.append_file(blob_name(digest), &mut file)
        .map_err(|e| Error::io("archiving", &path, e))
}

fn append(tar: &mut tar::Builder<&mut dyn Write>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, bytes)
        .map_err(|e| Error::io("archiving", name, e))
}
