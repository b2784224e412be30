//! Image archives: `load` reads what `docker save` writes (its legacy
//! `manifest.json`, an OCI image layout, or both), `save` writes both, so
//! that `docker load` and OCI tools alike accept skiff's archives.

mod extracted;
mod load;
mod save;

pub use load::load;
pub use save::save;

/// Where an OCI image layout keeps the blob `digest`.
fn blob_name(digest: &crate::digest::Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
}
