//! The skiff engine: what users see (images, containers, volumes; networks
//! as they land), composed from the image, network and runtime
//! crates. The `skiff` binary parses and prints; everything it does is here.

pub mod containers;
pub mod error;
pub mod image_view;
pub mod images;
pub mod net;
pub mod rootless;
pub mod slirp;
pub mod system;
pub mod volumes;

use std::path::PathBuf;

use containers::ContainerStore;
pub use error::{Error, Result};
use skiff_image::registry::{Client, ClientOptions};
use skiff_image::store::Store;
use skiff_image::userns::IdMaps;

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
    /// A program that mounts containers' root overlays instead of the
    /// kernel (`overlay.mount_program`, as Podman's storage option):
    /// `/usr/bin/fuse-overlayfs`. Only skiff's own runtime uses it.
    pub mount_program: Option<PathBuf>,
}

impl Default for EngineOptions {
    /// Root's paths for root, the user's own for anyone else
    /// ([`rootless::default_root`], [`rootless::default_runroot`]).
    fn default() -> Self {
        EngineOptions {
            root: rootless::default_root(),
            runroot: rootless::default_runroot(),
            registry: ClientOptions::default(),
            monitor_exe: None,
            mount_program: None,
        }
    }
}

/// An open engine.
pub struct Engine {
    options: EngineOptions,
    store: Store,
    containers: ContainerStore,
    networks: skiff_network::Networks,
    /// The user namespace maps of an ordinary user's engine.
    userns: Option<IdMaps>,
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
        if let Some(program) = &options.mount_program {
            skiff_runtime::fuse_overlay::check_program(program)
                .map_err(|m| Error::Invalid(format!("--storage-opt overlay.mount_program: {m}")))?;
        }
        let userns = match rootless::active() {
            true => Some(open_rootless(&options)?),
            false => None,
        };
        let store = Store::open(options.root.join("image"))?;
        let containers = ContainerStore::open(options.root.join("containers"))?;
        let networks = net::open_networks(&options.root)?;
        Ok(Engine {
            options,
            store,
            containers,
            networks,
            userns,
        })
    }

    /// The user namespace maps of an ordinary user's engine; `None` for root.
    pub fn userns(&self) -> Option<&IdMaps> {
        self.userns.as_ref()
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

/// Checks, before anything is made, what an ordinary user's engine needs
/// (subordinate ids, `newuidmap` and `newgidmap`, directories of the
/// user's own), and has layers unpacked and removed in the user namespace.
fn open_rootless(options: &EngineOptions) -> Result<IdMaps> {
    let maps = rootless::id_maps()?;
    let (newuidmap, newgidmap) = rootless::map_helpers()?;
    let exe =
        std::env::current_exe().map_err(|e| Error::Io("finding skiff's own binary".into(), e))?;
    for dir in [&options.root, &options.runroot] {
        rootless::own_dir(dir)?;
    }
    skiff_image::userns::enable(skiff_image::userns::Helper {
        exe,
        maps: maps.clone(),
        newuidmap,
        newgidmap,
    });
    Ok(maps)
}
