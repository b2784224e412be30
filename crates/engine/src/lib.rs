//! The skiff engine: what users see (images, containers, volumes; networks
//! as they land), composed from the image, network and runtime
//! crates. The `skiff` binary parses and prints; everything it does is here.

pub mod containers;
pub mod error;
pub mod image_view;
pub mod images;
pub mod net;
pub mod system;
pub mod volumes;

use std::path::PathBuf;

use containers::ContainerStore;
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
    /// The `skiff` binary a container's monitor re-executes once the
    /// container runs, to wait with only the memory waiting needs; its
    /// `main` must call [`containers::handover::resume`] when the first
    /// argument is [`containers::handover::RESUME_ARG`]. `None`: monitors
    /// wait in the process forked from the command that started them.
    pub monitor_exe: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            root: PathBuf::from(skiff_image::store::DEFAULT_ROOT),
            runroot: PathBuf::from("/run/skiff"),
            registry: ClientOptions::default(),
            monitor_exe: None,
        }
    }
}

/// An open engine.
pub struct Engine {
    options: EngineOptions,
    store: Store,
    containers: ContainerStore,
    networks: skiff_network::Networks,
}

impl Engine {
    /// Opens the engine's stores, repairing what a crash left half done.
    pub fn open(mut options: EngineOptions) -> Result<Engine> {
        // Absolute paths: they are recorded (mounts, claims) and outlive the
        // working directory.
        for dir in [&mut options.root, &mut options.runroot] {
            *dir = std::path::absolute(&*dir)
                .map_err(|e| Error::Io(format!("{}", dir.display()), e))?;
        }
        let store = Store::open(options.root.join("image"))?;
        let containers = ContainerStore::open(options.root.join("containers"))?;
        let networks = net::open_networks(&options.root)?;
        Ok(Engine {
            options,
            store,
            containers,
            networks,
        })
    }

    /// The image store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The container store.
    pub fn container_store(&self) -> &ContainerStore {
        &self.containers
    }

    /// A registry client with the engine's options.
    pub fn registry(&self) -> Result<Client> {
        Ok(Client::new(self.options.registry.clone())?)
    }
}
