//! Registry credentials in Docker's `config.json` format, so that `skiff`,
//! Docker and Podman can share one file:
//! `{"auths": {"host:port": {"auth": base64("user:pass")}}}`.

use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::reference::DEFAULT_REGISTRY;

/// The key Docker files Docker Hub's credentials under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A user name and password for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub user: String,
    /// The password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // Passwords stay out of logs and panic messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({:?}, ***)", self.user)
    }
}

/// The credentials file: `--authfile` if given, else
/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    path: PathBuf,
}

impl CredentialStore {
    /// The store at `auth_file`, or at Docker's default place.
    pub fn new(auth_file: Option<&Path>) -> CredentialStore {
        let path = match auth_file {
            Some(p) => p.to_path_buf(),
            None => default_path(),
        };
        CredentialStore { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The credentials for `registry`, if the file has any.
    pub fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        let doc = self.read()?;
        let Some(auths) = doc.get("auths").and_then(Value::as_object) else {
            return Ok(None);
        };
        let wanted = normalize_registry(registry);
        auths
            .iter()
            .find(|(key, _)| normalize_registry(key) == wanted)
            .map(|(key, entry)| self.decode(key, entry))
            .transpose()
    }

    /// Stores credentials for `registry`, keeping everything else in the
    /// file, written atomically with mode 0600.
    pub fn store(&self, registry: &str, creds: &Credentials) -> Result<()> {
        let mut doc = self.read()?;
        let auths = auths_of(&mut doc, &self.path)?;
        remove_entries(auths, registry);
        let encoded = STANDARD.encode(format!("{}:{}", creds.user, creds.password));
        let mut entry = Map::new();
        entry.insert("auth".into(), Value::String(encoded));
        auths.insert(storage_key(registry), Value::Object(entry));
        self.write(&doc)
    }

    /// Removes `registry`'s credentials; false when there were none.
    pub fn remove(&self, registry: &str) -> Result<bool> {
        let mut doc = self.read()?;
        let auths = auths_of(&mut doc, &self.path)?;
        if !remove_entries(auths, registry) {
            return Ok(false);
        }
        self.write(&doc)?;
        Ok(true)
    }

    fn read(&self) -> Result<Map<String, Value>> {
        let bytes = match fs::read(&self.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(Error::io("read credentials file", &self.path, e)),
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Map::new());
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Other(format!(
                "malformed credentials file {}: {e}",
                self.path.display()
            ))
        })
    }

    fn decode(&self, key: &str, entry: &Value) -> Result<Credentials> {
        let bad = |why: &str| {
            Error::Other(format!(
                "credentials for {key} in {} {why}",
                self.path.display()
            ))
        };
        // Some tools write the pair out instead of `auth`.
        if let (Some(user), Some(password)) = (
            entry.get("username").and_then(Value::as_str),
            entry.get("password").and_then(Value::as_str),
        ) {
            return Ok(Credentials {
                user: user.into(),
                password: password.into(),
            });
        }
        let auth = entry
            .get("auth")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("have no \"auth\" field"))?;
        let decoded = STANDARD
            .decode(auth.trim())
            .map_err(|_| bad("are not valid base64"))?;
        let text = String::from_utf8(decoded).map_err(|_| bad("are not UTF-8"))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| bad("are not \"user:password\""))?;
        Ok(Credentials {
            user: user.into(),
            password: password.into(),
        })
    }

    fn write(&self, doc: &Map<String, Value>) -> Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io("create directory", dir, e))?;
        let mut bytes = serde_json::to_vec_pretty(doc).expect("a JSON map serialises");
        bytes.push(b'\n');
        let name = self.path.file_name().unwrap_or_default().to_string_lossy();
        let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let result = write_synced(&tmp, &bytes).and_then(|()| {
            fs::rename(&tmp, &self.path).map_err(|e| Error::io("replace", &self.path, e))
        });
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create", path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("write", path, e))
}

fn auths_of<'a>(
    doc: &'a mut Map<String, Value>,
    path: &Path,
) -> Result<&'a mut Map<String, Value>> {
    doc.entry("auths")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| {
            Error::Other(format!(
                "malformed credentials file {}: \"auths\" is not an object",
                path.display()
            ))
        })
}

/// Removes every key that names `registry`; true if there was one.
fn remove_entries(auths: &mut Map<String, Value>, registry: &str) -> bool {
    let wanted = normalize_registry(registry);
    let before = auths.len();
    auths.retain(|key, _| normalize_registry(key) != wanted);
    auths.len() != before
}

fn default_path() -> PathBuf {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("config.json");
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/root"), PathBuf::from);
    home.join(".docker/config.json")
}

/// The key to file `registry` under: Docker's own for Docker Hub, so that
/// Docker finds it too.
fn storage_key(registry: &str) -> String {
    match normalize_registry(registry).as_str() {
        DEFAULT_REGISTRY => DOCKER_HUB_KEY.to_string(),
        other => other.to_string(),
    }
}

/// `host[:port]` for a registry as a user or a credentials file may write
/// it: with or without scheme and path, Docker Hub under any of its names.
pub fn normalize_registry(registry: &str) -> String {
    let rest = registry
        .strip_prefix("https://")
        .or_else(|| registry.strip_prefix("http://"))
        .unwrap_or(registry);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            DEFAULT_REGISTRY.to_string()
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn creds(user: &str, password: &str) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }

    #[test]
    fn round_trip_keeps_other_entries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        let store = CredentialStore::new(Some(&path));
        assert_eq!(store.get("127.0.0.1:5000").unwrap(), None);
        store
            .store("127.0.0.1:5000", &creds("alice", "p:a:ss"))
            .unwrap();
        store.store("docker.io", &creds("bob", "hub")).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["auths"]["127.0.0.1:5000"]["auth"], "YWxpY2U6cDphOnNz");
        assert!(doc["auths"][DOCKER_HUB_KEY].is_object());
        assert_eq!(
            store.get("127.0.0.1:5000").unwrap(),
            Some(creds("alice", "p:a:ss"))
        );
        assert_eq!(
            store.get("index.docker.io").unwrap(),
            Some(creds("bob", "hub"))
        );
        assert!(store.remove("127.0.0.1:5000").unwrap());
        assert!(!store.remove("127.0.0.1:5000").unwrap());
        assert_eq!(store.get("127.0.0.1:5000").unwrap(), None);
        assert_eq!(store.get("docker.io").unwrap(), Some(creds("bob", "hub")));
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "temporary files left: {leftovers:?}");
    }

    #[test]
    fn keeps_foreign_fields_and_reads_other_forms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(
            &path,
            r#"{"credsStore": "desktop", "auths": {"https://reg.lan:5000/v2/": {"username": "u", "password": "p"}}}"#,
        )
        .unwrap();
        let store = CredentialStore::new(Some(&path));
        assert_eq!(store.get("reg.lan:5000").unwrap(), Some(creds("u", "p")));
        store.store("other.lan", &creds("x", "y")).unwrap();
        let doc: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(doc["credsStore"], "desktop");
        assert!(doc["auths"]["https://reg.lan:5000/v2/"].is_object());
    }

    #[test]
    fn malformed_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        fs::write(&path, r#"{"auths": {"reg.lan": {"auth": "!!"}}}"#).unwrap();
        let err = CredentialStore::new(Some(&path))
            .get("reg.lan")
            .unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
        fs::write(&path, "{").unwrap();
        assert!(CredentialStore::new(Some(&path)).get("reg.lan").is_err());
    }
}
