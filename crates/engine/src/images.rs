//! Image operations: pull, push, tag, remove, prune, import, load, save,
//! login and logout.

use std::io::{Read, Write};

use skiff_image::archive;
use skiff_image::import::{import, ImportOptions};
use skiff_image::manifest::Platform;
use skiff_image::pull::{pull, Progress, PullOptions};
use skiff_image::store::ImageRecord;
use skiff_image::{Digest, Reference};

use crate::{Engine, Error, Result};

/// What `rmi` did, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removal {
    /// A name no longer points at the image.
    Untagged(String),
    /// The image itself is gone.
    Deleted(Digest),
}

/// Parses a user's image reference, with the error naming it.
pub fn parse_reference(name: &str) -> Result<Reference> {
    name.parse()
        .map_err(|e: skiff_image::Error| Error::Invalid(e.to_string()))
}

impl Engine {
    /// Pulls `name` for `platform` (the host's by default).
    pub fn pull(
        &self,
        name: &str,
        platform: Option<Platform>,
        progress: &dyn Progress,
    ) -> Result<(Reference, ImageRecord)> {
        let reference = parse_reference(name)?;
        let options = PullOptions {
            platform: platform.unwrap_or_else(Platform::host),
            ..PullOptions::default()
        };
        let record = pull(
            &self.store,
            &self.registry()?,
            &reference,
            &options,
            progress,
        )?;
        Ok((reference, record))
    }

    /// The image `name` refers to (a name, an id or an id prefix).
    pub fn find_image(&self, name: &str) -> Result<ImageRecord> {
        self.store
            .resolve(name)
            .map_err(|_| Error::NotFound(format!("no such image: {name}")))
    }

    /// Gives the image `source` the name `target`.
    pub fn tag(&self, source: &str, target: &str) -> Result<()> {
        let image = self.find_image(source)?;
        let target = parse_reference(target)?;
        if target.digest().is_some() {
            return Err(Error::Invalid(format!(
                "cannot tag with a digest: {target}"
            )));
        }
        let mut refs = self.store.lock_refs()?;
        refs.set(&target, &image.id);
        refs.save()?;
        Ok(())
    }

    /// Removes the name `name`, and the image when no name is left. An id
    /// whose image has several names is refused unless `force`.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<Removal>> {
        let image = self.find_image(name)?;
        let users: Vec<String> = self
            .containers()?
            .into_iter()
            .filter(|c| c.config.image_id == image.id.to_string())
            .map(|c| c.config.name)
            .collect();
        if !users.is_empty() && !force {
            return Err(Error::Conflict(format!(
                "image {} is used by containers {}: remove them first, or use -f",
                image.short_id(),
                users.join(", ")
            )));
        }
        let _lock = self.store.lock_for_removing()?;
        let mut refs = self.store.lock_refs()?;
        let mut removed = Vec::new();
        let by_name = parse_reference(name).ok().and_then(|r| {
            let key = r.tag().map(|t| format!("{}:{t}", r.name()));
            key.filter(|k| refs.repos.tags.contains_key(k))
        });
        let tags = refs.repos.tags_of(&image.id);
        match by_name {
            Some(key) if tags.len() > 1 => {
                refs.repos.tags.remove(&key);
                removed.push(Removal::Untagged(key));
            }
            _ if tags.len() > 1 && !force => {
                return Err(Error::Conflict(format!(
                    "image {} is referenced by several names ({}): remove them by name, or use -f",
                    image.short_id(),
                    tags.join(", ")
                )));
            }
            _ => {
                for key in tags.into_iter().chain(refs.repos.digests_of(&image.id)) {
                    refs.repos.tags.remove(&key);
                    refs.repos.digests.remove(&key);
                    removed.push(Removal::Untagged(key));
                }
                // An image a container still runs from loses its names but
                // stays, as Docker keeps it, until the container is gone.
                if users.is_empty() {
                    self.store.remove_image_record(&image.id)?;
                    removed.push(Removal::Deleted(image.id.clone()));
                }
            }
        }
        refs.save()?;
        drop(refs);
        self.store.collect_garbage()?;
        Ok(removed)
    }

    /// Removes images without names, or with `all` every image; returns
    /// their ids.
    pub fn prune_images(&self, all: bool) -> Result<Vec<Digest>> {
        let in_use = self.images_in_use()?;
        if all {
            // Images that containers use keep their names, as in Docker.
            let mut refs = self.store.lock_refs()?;
            refs.repos
                .tags
                .retain(|_, id| in_use.contains(&id.to_string()));
            refs.repos
                .digests
                .retain(|_, id| in_use.contains(&id.to_string()));
            refs.save()?;
        }
        Ok(self
            .store
            .prune_images(&|id| in_use.contains(&id.to_string()))?)
    }

    /// Imports a root filesystem tarball as a one-layer image.
    pub fn import(
        &self,
        data: &mut dyn Read,
        name: Option<&str>,
        message: Option<String>,
    ) -> Result<ImageRecord> {
        let names = name
            .map(parse_reference)
            .transpose()?
            .into_iter()
            .collect::<Vec<_>>();
        let options = ImportOptions {
            message,
            config: None,
        };
        Ok(import(&self.store, data, &names, &options)?)
    }

    /// Loads the images of a `docker save` or OCI archive.
    pub fn load(&self, data: &mut dyn Read) -> Result<Vec<(ImageRecord, Vec<Reference>)>> {
        Ok(archive::load(&self.store, data)?)
    }

    /// Saves images (by name or id) to an archive.
    pub fn save(&self, names: &[String], out: &mut dyn Write) -> Result<()> {
        let repos = self.store.repositories()?;
        let mut images = Vec::new();
        for name in names {
            let image = self.find_image(name)?;
            let refs: Vec<Reference> = match parse_reference(name) {
                Ok(r) if repos.tags.contains_key(&r.to_string()) => vec![r],
                _ => repos
                    .tags_of(&image.id)
                    .iter()
                    .filter_map(|t| t.parse().ok())
                    .collect(),
            };
            images.push((image, refs));
        }
        Ok(archive::save(&self.store, &images, out)?)
    }

    /// Pushes the local image `name` to its registry; returns the manifest
    /// digest.
    pub fn push(&self, name: &str, report: &mut dyn FnMut(&Digest, bool)) -> Result<Digest> {
        let reference = parse_reference(name)?;
        let image = self.find_image(name)?;
        let client = self.registry()?;
        let mut blobs: Vec<(Digest, u64)> = image
            .layers
            .iter()
            .map(|l| (l.blob.digest.clone(), l.blob.size))
            .collect();
        let config_size = self.store.read_blob(&image.id)?.len() as u64;
        blobs.push((image.id.clone(), config_size));
        for (digest, size) in blobs {
            let exists = client.blob_exists(&reference, &digest)?;
            if !exists {
                let mut file = self.store.open_blob(&digest)?;
                client.push_blob(&reference, &digest, size, &mut file)?;
            }
            report(&digest, exists);
        }
        let manifest = self.store.read_blob(&image.manifest)?;
        Ok(client.push_manifest(&reference, &manifest, &image.manifest_media_type)?)
    }

    /// Checks credentials with the registry and stores them.
    pub fn login(&self, registry: &str, user: &str, password: &str) -> Result<()> {
        Ok(self.registry()?.login(registry, user, password)?)
    }

    /// Forgets the credentials for a registry.
    pub fn logout(&self, registry: &str) -> Result<()> {
        Ok(self.registry()?.logout(registry)?)
    }
}
