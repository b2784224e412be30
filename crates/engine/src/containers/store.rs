//! The container store: `ROOT/containers/<id>/` holds `container.json`,
//! `state.json`, the bundle, the overlay's upper and work directories and the
//! log; `ROOT/containers/names/<name>` is a symbolic link to the id, made
//! with symlink(2), which fails if the name exists: names are unique without
//! a global lock, however many `skiff run` start at once.

use std::fs::{self, File};
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use skiff_image::store::{create_dir_all, remove_all, write_json_atomic, write_json_replace};

use super::names::{generated_name, validate_name};
use super::record::{ContainerConfig, ContainerState};
use crate::{Error, Result};

/// How many made-up names to try before giving up.
const NAME_ATTEMPTS: u32 = 100;

/// The engine's containers on disk.
#[derive(Debug, Clone)]
pub struct ContainerStore {
    root: PathBuf,
}

fn io_err(what: &str, path: &Path, e: io::Error) -> Error {
    Error::Io(format!("{what} {}", path.display()), e)
}

impl ContainerStore {
    /// Opens (creating) the store under `root`.
    pub fn open(root: PathBuf) -> Result<ContainerStore> {
        create_dir_all(&root.join("names"))?;
        Ok(ContainerStore { root })
    }

    /// A container's directory.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Reserves `name` (or a made-up one) for `id`; returns the name.
    pub fn reserve_name(&self, id: &str, name: Option<&str>) -> Result<String> {
        if let Some(name) = name {
            let name = name.strip_prefix('/').unwrap_or(name);
            validate_name(name)?;
            return match self.link_name(id, name) {
                Ok(()) => Ok(name.to_string()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(Error::Conflict(format!(
                    "the container name {name:?} is already in use by container {}: remove or rename it",
                    self.id_of_name(name).unwrap_or_default()
                ))),
                Err(e) => Err(io_err("reserving the name", &self.root.join("names").join(name), e)),
            };
        }
        for attempt in 0..NAME_ATTEMPTS {
            let name = generated_name(id, attempt);
            match self.link_name(id, &name) {
                Ok(()) => return Ok(name),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_err("reserving the name", &self.root.join("names"), e)),
            }
        }
        Err(Error::Conflict(
            "no free container name after 100 attempts".into(),
        ))
    }

    fn link_name(&self, id: &str, name: &str) -> io::Result<()> {
        symlink(id, self.root.join("names").join(name))
    }

    /// Frees a name.
    pub fn release_name(&self, name: &str) -> Result<()> {
        Ok(remove_all(&self.root.join("names").join(name))?)
    }

    /// Gives container `id` the name `new` in place of `old`.
    pub fn rename(&self, id: &str, old: &str, new: &str) -> Result<()> {
        self.reserve_name(id, Some(new))?;
        self.release_name(old)
    }

    fn id_of_name(&self, name: &str) -> Option<String> {
        let target = fs::read_link(self.root.join("names").join(name)).ok()?;
        Some(target.to_string_lossy().into_owned())
    }

    /// Writes a new container's records.
    pub fn create(&self, config: &ContainerConfig) -> Result<()> {
        let dir = self.dir(&config.id);
        fs::create_dir(&dir).map_err(|e| io_err("creating", &dir, e))?;
        write_json_atomic(&dir.join("container.json"), config)?;
        self.save_state(&config.id, &ContainerState::created())
    }

    /// A container's configuration.
    pub fn config(&self, id: &str) -> Result<ContainerConfig> {
        read(&self.dir(id).join("container.json"))
    }

    /// A container's recorded state. A state file a power cut emptied (it
    /// is written without fsync) reads as an exited container: nothing a
    /// record described survives a reboot.
    pub fn state(&self, id: &str) -> Result<ContainerState> {
        match read(&self.dir(id).join("state.json")) {
            Err(Error::Invalid(why)) => {
                let mut state = ContainerState::created();
                state.status = super::record::Status::Exited;
                state.exit_code = 255;
                state.error = format!("the container's state was lost in a crash ({why})");
                Ok(state)
            }
            other => other,
        }
    }

    /// Records a container's state: atomically (rename) but without fsync,
    /// which would cost more than the rest of a start (see [`Self::state`]).
    pub fn save_state(&self, id: &str, state: &ContainerState) -> Result<()> {
        Ok(write_json_replace(&self.dir(id).join("state.json"), state)?)
    }

    /// Rewrites a container's configuration (rename, update).
    pub fn save_config(&self, config: &ContainerConfig) -> Result<()> {
        Ok(write_json_atomic(
            &self.dir(&config.id).join("container.json"),
            config,
        )?)
    }

    /// Holds the container's lock until dropped: state changes are made
    /// under it.
    pub fn lock(&self, id: &str) -> Result<File> {
        let path = self.dir(id).join("lock");
        let file = File::create(&path).map_err(|e| io_err("creating", &path, e))?;
        file.lock().map_err(|e| io_err("locking", &path, e))?;
        Ok(file)
    }

    /// The ids of every container whose records are complete.
    pub fn ids(&self) -> Result<Vec<String>> {
        let entries = fs::read_dir(&self.root).map_err(|e| io_err("reading", &self.root, e))?;
        let mut ids: Vec<String> = entries
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.len() == 64 && self.dir(n).join("state.json").exists())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Finds a container by name, full id or unique id prefix.
    pub fn find(&self, what: &str) -> Result<String> {
        let name = what.strip_prefix('/').unwrap_or(what);
        if let Some(id) = self.id_of_name(name).filter(|id| self.dir(id).exists()) {
            return Ok(id);
        }
        let hex = what.bytes().all(|b| b.is_ascii_hexdigit());
        let matches: Vec<String> = match hex && !what.is_empty() {
            true => self
                .ids()?
                .into_iter()
                .filter(|id| id.starts_with(what))
                .collect(),
            false => Vec::new(),
        };
        match matches.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Error::NotFound(format!("no such container: {what}"))),
            _ => Err(Error::Conflict(format!(
                "container id prefix {what:?} is ambiguous: give more characters"
            ))),
        }
    }

    /// Removes a container's records and name.
    pub fn remove(&self, id: &str, name: &str) -> Result<()> {
        if self.id_of_name(name).as_deref() == Some(id) {
            self.release_name(name)?;
        }
        Ok(remove_all(&self.dir(id))?)
    }
}

fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            Error::NotFound(format!("no such container: {}", path.display()))
        }
        _ => io_err("reading", path, e),
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Invalid(format!("{} is corrupt: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_a_power_cut_emptied_reads_as_exited() {
        let dir = tempfile::tempdir().unwrap();
        let store = ContainerStore::open(dir.path().join("containers")).unwrap();
        let id = "a".repeat(64);
        fs::create_dir(store.dir(&id)).unwrap();
        fs::write(store.dir(&id).join("state.json"), "").unwrap();
        let state = store.state(&id).unwrap();
        assert_eq!(state.status, super::super::record::Status::Exited);
        assert!(state.error.contains("lost in a crash"), "{}", state.error);
        store.save_state(&id, &ContainerState::created()).unwrap();
        assert_eq!(
            store.state(&id).unwrap().status,
            super::super::record::Status::Created
        );
        assert!(matches!(
            store.state(&"b".repeat(64)),
            Err(Error::NotFound(_))
        ));
    }
}
