//! A private registry for the registry client's tests: Debian's
//! `docker-registry` (the CNCF distribution registry) on a free 127.0.0.1
//! port, storing under a directory of its own, optionally behind htpasswd
//! Basic authentication. Dropping it kills the registry by pid and removes
//! the directory, even when the test panicked.

use crate::clients::{free_port, http_get, require_program, run, Input};
use crate::procs::DEADLINE;
use skiff_image::registry::{Client, ClientOptions};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const REGISTRY: &str = "/usr/bin/docker-registry";
/// How often a start is tried, each on a new port, in case the free port
/// was taken between finding it and the registry binding it.
const START_TRIES: usize = 3;

/// A running registry; see the module documentation.
pub struct Registry {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Registry {
    /// A registry anyone may pull from and push to.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry that wants `user` and `password` (Basic authentication).
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user, password)))
    }

    fn start_with(auth: Option<(&str, &str)>) -> Registry {
        require_program(REGISTRY, "docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("skiff-e2e-registry.")
            .tempdir_in("/tmp")
            .expect("create registry dir");
        if let Some((user, password)) = auth {
            write_htpasswd(dir.path(), user, password);
        }
        for _ in 0..START_TRIES {
            let port = free_port();
            write_config(dir.path(), port, auth.is_some());
            let mut child = spawn(dir.path());
            if wait_ready(&mut child, port) {
                return Registry { dir, child, port };
            }
            stop(&mut child);
        }
        let log = fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not start; its log:\n{log}");
    }

    /// `127.0.0.1:PORT`, the registry part of references to it.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's storage root.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// The file the registry keeps the blob `digest` (`sha256:<hex>`) in.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        self.storage()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// Options for a client that reads and writes nothing outside `dir`: its
/// credentials file and (absent) registries configuration live there.
pub fn client_options(dir: &Path) -> ClientOptions {
    ClientOptions {
        auth_file: Some(dir.join("auth.json")),
        registries_conf: Some(dir.join("registries.json")),
        ..ClientOptions::default()
    }
}

/// A client with [`client_options`].
pub fn test_client(dir: &Path) -> Client {
    Client::new(client_options(dir)).expect("create registry client")
}

fn write_htpasswd(dir: &Path, user: &str, password: &str) {
    require_program("htpasswd", "apache2-utils");
    let out = run(
        Command::new("htpasswd").args(["-Bbn", user, password]),
        Input::Null,
    );
    out.ok();
    fs::write(
        dir.join("htpasswd"),
        out.stdout.trim_end().to_string() + "\n",
    )
    .expect("write htpasswd");
}

fn write_config(dir: &Path, port: u16, auth: bool) {
    let mut config = format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: skiff-e2e\n",
        storage = dir.join("storage").display()
    );
    if auth {
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: skiff-e2e\n    path: {}\n",
            dir.join("htpasswd").display()
        ));
    }
    fs::write(dir.join("config.yml"), config).expect("write registry config");
}

fn spawn(dir: &Path) -> Child {
    let log = fs::File::create(dir.join("registry.log")).expect("create registry log");
    Command::new(REGISTRY)
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("dup log"))
        .stderr(log)
        .spawn()
        .expect("start docker-registry")
}

/// Waits until `/v2/` answers (200, or 401 behind authentication); false
/// if the registry exited first or never answered.
fn wait_ready(child: &mut Child, port: u16) -> bool {
    let start = Instant::now();
    while start.elapsed() < DEADLINE {
        if child.try_wait().expect("poll docker-registry").is_some() {
            return false;
        }
        let answer = http_get(port, "/v2/").unwrap_or_default();
        let status = answer.lines().next().unwrap_or_default();
        if status.starts_with("HTTP/") && (status.contains(" 200 ") || status.contains(" 401 ")) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Kills the registry this harness started (by its pid) and reaps it.
fn stop(child: &mut Child) {
    if child.try_wait().ok().flatten().is_none() {
        let _ = child.kill();
    }
    let _ = child.wait();
}
