//! The container state store: one directory per container under the runtime's
//! `--root`, holding `state.json` (written atomically under the directory's lock)
//! and, until `start`, the exec fifo.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use oci_spec::runtime::Hooks;
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};

/// The default state root of root, as runc's is `/run/runc`.
pub const DEFAULT_ROOT: &str = "/run/skiff-runtime";
/// The version of the OCI runtime spec this runtime implements.
pub const OCI_VERSION: &str = "1.2.1";
/// The name of the fifo that `start` opens to let init exec the process.
pub const EXEC_FIFO: &str = "exec.fifo";

/// A container's status, as the OCI runtime spec names them.
#[derive(Serialize, Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is still running.
    Creating,
    /// Init waits for `start`.
    Created,
    /// The user's process runs.
    Running,
    /// The process has exited.
    Stopped,
    /// The container's processes are frozen.
    Paused,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
            Status::Paused => "paused",
        };
        f.write_str(s)
    }
}

/// What the runtime records about a container.
#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
pub struct State {
    /// The runtime spec version.
    pub oci_version: String,
    /// The container id.
    pub id: String,
    /// The recorded status; see [`State::refresh`] for the live one.
    pub status: Status,
    /// The init process's pid on the host (0 before it exists).
    #[serde(default)]
    pub pid: i32,
    /// The bundle directory, absolute.
    pub bundle: PathBuf,
    /// The root filesystem, absolute.
    pub rootfs: PathBuf,
    /// When the container was created (RFC 3339).
    pub created: String,
    /// The user that created it.
    #[serde(default)]
    pub owner: String,
    /// The spec's annotations.
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub annotations: HashMap<String, String>,
    /// Init's start time in clock ticks since boot, to tell a reused pid apart.
    #[serde(default)]
    pub init_start_time: u64,
    /// The container's cgroup, relative to the hierarchy roots.
    pub cgroup_path: PathBuf,
    /// The container was made without a cgroup (by a user who may not write
    /// the cgroup tree); `cgroup_path` was never made.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub without_cgroup: bool,
    /// The hooks still to run (poststart, poststop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hooks: Option<Hooks>,
}

impl State {
    /// The state as the OCI runtime spec (and `runc state`) shows it.
    pub fn oci_json(&self) -> serde_json::Value {
        serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": self.pid,
            "status": self.status,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
            "annotations": self.annotations,
        })
    }

    /// Update `status` from the live system: a dead init means stopped, a
    /// remaining exec fifo means created.
    pub fn refresh(&mut self, dir: &Path) {
        if self.pid <= 0 {
            return;
        }
        if !process_alive(self.pid, self.init_start_time) {
            self.status = Status::Stopped;
        } else if dir.join(EXEC_FIFO).exists() {
            self.status = Status::Created;
        } else if self.status != Status::Paused {
            self.status = Status::Running;
        }
    }
}

/// Whether `pid` is alive, not a zombie, and is the process that started at `start_time`.
pub fn process_alive(pid: i32, start_time: u64) -> bool {
    match proc_stat(pid) {
        Some((state, start)) => state != 'Z' && state != 'X' && start == start_time,
        None => false,
    }
}

/// The state letter and start time (field 22) from `/proc/PID/stat`.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// The runtime directory of an ordinary user: `$XDG_RUNTIME_DIR`, else
/// `/run/user/UID` where it exists; `None` for root and for a user without one.
pub fn user_runtime_dir() -> Option<PathBuf> {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return None;
    }
    let xdg = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    xdg.or_else(|| Some(PathBuf::from(format!("/run/user/{uid}"))).filter(|p| p.is_dir()))
}

/// The state root when no `--root` is given: [`DEFAULT_ROOT`] for root; for
/// any other user `skiff-runtime` in its [`user_runtime_dir`], else
/// `/tmp/skiff-runtime-UID`.
pub fn default_root() -> PathBuf {
    let uid = nix::unistd::geteuid();
    if uid.is_root() {
        return PathBuf::from(DEFAULT_ROOT);
    }
    match user_runtime_dir() {
        Some(dir) => dir.join("skiff-runtime"),
        None => PathBuf::from(format!("/tmp/skiff-runtime-{uid}")),
    }
}

/// Refuse ids that are empty or could name a path outside the state root.
pub fn validate_id(id: &str) -> Result<()> {
    let bad = |why| {
        Err(Error::InvalidId {
            id: id.to_string(),
            why,
        })
    };
    if id.is_empty() {
        return bad("the id is empty");
    }
    if id == "." || id == ".." {
        return bad("the id may not be . or ..");
    }
    if id.len() > 1024 {
        return bad("the id is longer than 1024 bytes");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_+-.".contains(&b))
    {
        return bad("the id may hold only letters, digits, '_', '+', '-' and '.'");
    }
    Ok(())
}

/// The directory tree under `--root`.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// A store rooted at `root` (made on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of container `id`.
    pub fn dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Make the directory for a new container; fails if the id is in use.
    pub fn create_dir(&self, id: &str) -> Result<PathBuf> {
        validate_id(id)?;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .ctx(|| format!("create state root {}", self.root.display()))?;
        if !nix::unistd::geteuid().is_root() {
            self.check_private_root()?;
        }
        let dir = self.dir(id);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(Error::Exists(id.to_string()))
            }
            Err(e) => Err(e).ctx(|| format!("create state directory {}", dir.display())),
        }
    }

    /// An ordinary user's state root must be a directory of the user's own
    /// (a directory in `/tmp` could have been made by someone else, who could
    /// then rewrite the state); it gets the sticky bit so that the cleaner of
    /// `$XDG_RUNTIME_DIR` leaves it alone, as runc does.
    fn check_private_root(&self) -> Result<()> {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let root = &self.root;
        let meta = fs::symlink_metadata(root).ctx(|| format!("stat {}", root.display()))?;
        let me = nix::unistd::geteuid().as_raw();
        if !meta.is_dir() || meta.uid() != me {
            return Err(Error::Usage(format!(
                "state root {} is not a directory of uid {me}'s own (owner {}); \
                 remove it or pass another --root",
                root.display(),
                meta.uid()
            )));
        }
        if meta.mode() & 0o7777 != 0o1700 {
            fs::set_permissions(root, fs::Permissions::from_mode(0o1700))
                .ctx(|| format!("chmod 1700 {}", root.display()))?;
        }
        Ok(())
    }

    /// Take the container's exclusive lock (held until the file is dropped).
    pub fn lock(&self, id: &str) -> Result<File> {
        validate_id(id)?;
        let dir = self.dir(id);
        let f = match File::open(&dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(e).ctx(|| format!("open {}", dir.display())),
        };
        f.lock().ctx(|| format!("lock {}", dir.display()))?;
        Ok(f)
    }

    /// Read a container's state, with its live status.
    pub fn load(&self, id: &str) -> Result<State> {
        validate_id(id)?;
        let dir = self.dir(id);
        let path = dir.join("state.json");
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.to_string()))
            }
            Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
        };
        if text.is_empty() {
            // What a power cut leaves of a state written without fsync: the
            // container's processes ended with it, so it is gone, and
            // `delete --force` clears what is left of it.
            return Err(Error::NotFound(id.to_string()));
        }
        let mut state: State = serde_json::from_str(&text)
            .map_err(|e| Error::Usage(format!("corrupt state file {}: {e}", path.display())))?;
        state.refresh(&dir);
        Ok(state)
    }

    /// Write a container's state atomically: a temporary file renamed over
    /// the old one. Not fsynced: the state describes processes, which a
    /// power cut ends, and it lives under /run; an fsync per change cost a
    /// third of a millisecond on disk.
    pub fn save(&self, state: &State) -> Result<()> {
        let dir = self.dir(&state.id);
        let tmp = dir.join(".state.json.tmp");
        let path = dir.join("state.json");
        let data = serde_json::to_vec(state).expect("state serialises");
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .ctx(|| format!("write {}", tmp.display()))?;
        f.write_all(&data)
            .ctx(|| format!("write {}", tmp.display()))?;
        fs::rename(&tmp, &path).ctx(|| format!("rename to {}", path.display()))
    }

    /// The ids of every container in the store.
    pub fn ids(&self) -> Result<Vec<String>> {
        let entries = match fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).ctx(|| format!("read {}", self.root.display())),
        };
        let mut ids: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("state.json").exists())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// Remove a container's directory and everything in it.
    pub fn remove(&self, id: &str) -> Result<()> {
        let dir = self.dir(id);
        match fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).ctx(|| format!("remove {}", dir.display()))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for bad in ["", ".", "..", "a/b", "../x", "a\0b", "a b"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "abc-123_x.y+z", "..a"] {
            assert!(validate_id(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn an_emptied_state_is_a_container_gone() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::new(root.path());
        fs::create_dir(root.path().join("c1")).unwrap();
        fs::write(root.path().join("c1/state.json"), "").unwrap();
        assert!(matches!(store.load("c1"), Err(Error::NotFound(_))));
        crate::container::delete(&store, "c1", true).unwrap();
        assert!(!root.path().join("c1").exists());
    }

    #[test]
    fn stat_of_self() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S', "{state}");
        assert!(process_alive(std::process::id() as i32, start));
        assert!(!process_alive(std::process::id() as i32, start + 1));
    }
}
