//! Named volumes: directories under `ROOT/volumes/<name>/_data` that
//! outlive containers, as Docker's local driver keeps them.

use std::fs;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use skiff_image::store::{create_dir_all, remove_all, write_json_atomic};

use crate::containers::names::validate_name;
use crate::{Engine, Error, Result};

/// What `volume inspect` shows.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Volume {
    /// Its name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Always `local`.
    #[serde(rename = "Driver")]
    pub driver: String,
    /// The directory containers see.
    #[serde(rename = "Mountpoint")]
    pub mountpoint: PathBuf,
    /// When it was made.
    #[serde(rename = "CreatedAt")]
    pub created_at: String,
    /// Labels.
    #[serde(rename = "Labels")]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl Engine {
    fn volumes_dir(&self) -> PathBuf {
        self.options.root.join("volumes")
    }

    /// The host directory of volume `name`.
    pub fn volume_path(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name).join("_data")
    }

    /// Creates volume `name` unless it exists; returns it.
    pub fn ensure_volume(&self, name: &str) -> Result<Volume> {
        if let Ok(v) = self.volume(name) {
            return Ok(v);
        }
        self.create_volume(name, Default::default())
    }

    /// Creates volume `name` (a conflict if it exists).
    pub fn create_volume(
        &self,
        name: &str,
        labels: std::collections::BTreeMap<String, String>,
    ) -> Result<Volume> {
        validate_name(name)?;
        let dir = self.volumes_dir().join(name);
        create_dir_all(&self.volumes_dir())?;
        match fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return self.volume(name),
            Err(e) => return Err(Error::Io(format!("creating {}", dir.display()), e)),
        }
        create_dir_all(&dir.join("_data"))?;
        let volume = Volume {
            name: name.to_string(),
            driver: "local".into(),
            mountpoint: dir.join("_data"),
            created_at: skiff_timestamp::now_rfc3339(),
            labels,
        };
        write_json_atomic(&dir.join("volume.json"), &volume)?;
        Ok(volume)
    }

    /// Volume `name`.
    pub fn volume(&self, name: &str) -> Result<Volume> {
        let path = self.volumes_dir().join(name).join("volume.json");
        let bytes =
            fs::read(&path).map_err(|_| Error::NotFound(format!("no such volume: {name}")))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Invalid(format!("{} is corrupt: {e}", path.display())))
    }

    /// Every volume.
    pub fn volumes(&self) -> Result<Vec<Volume>> {
        let Ok(entries) = fs::read_dir(self.volumes_dir()) else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Volume> = entries
            .flatten()
            .filter_map(|e| self.volume(&e.file_name().to_string_lossy()).ok())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The containers whose mounts use volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .containers()?
            .into_iter()
            .filter(|c| {
                c.config
                    .mounts
                    .iter()
                    .any(|m| m.kind == "volume" && m.source == name)
            })
            .map(|c| c.config.name)
            .collect())
    }

    /// Removes volume `name`; refused while a container uses it.
    pub fn remove_volume(&self, name: &str) -> Result<()> {
        self.volume(name)?;
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(Error::Conflict(format!(
                "volume {name} is in use by {}: remove those containers first",
                users.join(", ")
            )));
        }
        Ok(remove_all(&self.volumes_dir().join(name))?)
    }
}

/// Whether a volume name is one `-v /path` made up (64 hex characters, as
/// Docker names anonymous volumes).
pub fn is_anonymous(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Engine {
    /// Removes container `what` (see [`Engine::remove_container`]) and,
    /// with `volumes`, the anonymous volumes only it used (`rm -v`).
    pub fn remove_container_and_volumes(&self, id: &str, force: bool, volumes: bool) -> Result<()> {
        let config = self.containers.config(id)?;
        self.remove_container(id, force)?;
        if volumes {
            for m in config
                .mounts
                .iter()
                .filter(|m| m.kind == "volume" && is_anonymous(&m.source))
            {
                if self.volume_users(&m.source)?.is_empty() {
                    self.remove_volume(&m.source)?;
                }
            }
        }
        Ok(())
    }
}
