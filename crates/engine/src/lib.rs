//! The skiff engine: what users see (images now; containers, volumes and
//! networks as they land), composed from the image, network and runtime
//! crates. The `skiff` binary parses and prints; everything it does is here.

pub mod error;
pub mod image_view;
pub mod images;

use std::path::PathBuf;

pub use error::{Error, Result};
use skiff_image::registry::{Client, ClientOptions};
use skiff_image::store::Store;

/// Where the engine keeps things and how it reaches registries.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Persistent storage: images, containers, volumes (`/var/lib/skiff`).
    pub root: PathBuf,
    /// Run state that does not survive a reboot (`/run/skiff`).
    pub runroot: PathBuf,
    /// How to talk to registries.
    pub registry: ClientOptions,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            root: PathBuf::from(skiff_image::store::DEFAULT_ROOT),
            runroot: PathBuf::from("/run/skiff"),
            registry: ClientOptions::default(),
        }
    }
}

/// An open engine.
pub struct Engine {
    options: EngineOptions,
    store: Store,
}

impl Engine {
    /// Opens the engine's stores, repairing what a crash left half done.
    pub fn open(options: EngineOptions) -> Result<Engine> {
        let store = Store::open(options.root.join("image"))?;
        Ok(Engine { options, store })
    }

    /// The image store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// A registry client with the engine's options.
    pub fn registry(&self) -> Result<Client> {
        Ok(Client::new(self.options.registry.clone())?)
    }
}
