//! Images for skiff: references and digests, the content-addressed store,
//! the registry client, safe layer unpacking and overlay root filesystems.
//!
//! The crate knows nothing of containers: the engine asks it for an image's
//! layers and for an overlay mount, and runs the result through the runtime.

pub mod archive;
pub mod digest;
pub mod error;
pub mod import;
pub mod ingest;
pub mod manifest;
pub mod overlay;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod store;
pub mod unpack;
pub mod userns;

pub use digest::{Digest, DigestWriter};
pub use error::{Error, Result};
pub use reference::Reference;
pub use unpack::{unpack_layer, UnpackStats};
