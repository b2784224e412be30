//! OCI bundles: a busybox root filesystem plus a `config.json` built as JSON.

use serde_json::{json, Value};
use std::fs;
use std::os::unix::fs::{lchown, symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use tempfile::TempDir;

/// The `PATH` that `runc spec` puts in the process environment.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const BUSYBOX: &str = "/bin/busybox";

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// The applet paths busybox knows, relative to `/`, asked once per process.
fn applets() -> &'static [String] {
    static APPLETS: OnceLock<Vec<String>> = OnceLock::new();
    APPLETS.get_or_init(|| {
        let out = Command::new(BUSYBOX)
            .arg("--list-full")
            .output()
            .expect("run busybox --list-full");
        assert!(out.status.success(), "busybox --list-full failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().trim_start_matches('/').to_string())
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// The configuration `runc spec` writes, except that `process.terminal` is false.
pub fn base_config() -> Value {
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    json!({
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [DEFAULT_PATH, "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": caps,
                "effective": caps,
                "permitted": caps,
                "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    })
}

/// An OCI bundle in a temporary directory: `rootfs/` made from the host's static
/// busybox, and a `config.json` that starts as [`base_config`] and is edited with the
/// builder methods. The configuration is written by [`Bundle::write_config`], which the
/// runtime helpers call before every `create` or `run`.
pub struct Bundle {
    dir: TempDir,
    config: Value,
    raw: Option<String>,
}

impl Default for Bundle {
    fn default() -> Self {
        Self::new()
    }
}

impl Bundle {
    /// Makes a bundle whose process is `sh` with no terminal, as `runc spec` would
    /// configure it apart from the terminal.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("skiff-e2e-bundle.")
            .tempdir()
            .expect("create bundle dir");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod bundle");
        let rootfs = dir.path().join("rootfs");
        for d in ["bin", "etc", "proc", "sys", "dev", "tmp", "root"] {
            fs::create_dir_all(rootfs.join(d)).expect("create rootfs dir");
        }
        fs::set_permissions(rootfs.join("tmp"), fs::Permissions::from_mode(0o1777))
            .expect("chmod rootfs/tmp");
        fs::copy(BUSYBOX, rootfs.join("bin/busybox")).expect("copy busybox");
        for applet in applets() {
            let link = rootfs.join(applet);
            if link.symlink_metadata().is_ok() {
                continue;
            }
            if let Some(parent) = link.parent() {
                fs::create_dir_all(parent).expect("create applet dir");
            }
            symlink(BUSYBOX, &link).expect("symlink applet");
        }
        fs::write(rootfs.join("etc/passwd"), PASSWD).expect("write passwd");
        fs::write(rootfs.join("etc/group"), GROUP).expect("write group");
        Bundle {
            dir,
            config: base_config(),
            raw: None,
        }
    }

    /// The bundle directory (what `--bundle` is given).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The root filesystem directory, `<bundle>/rootfs`.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }

    /// The configuration as it stands.
    pub fn config(&self) -> &Value {
        &self.config
    }

    /// Creates (if needed) and returns a directory `<bundle>/<name>` outside the
    /// rootfs, for bind mounts and log files. It is world-writable.
    pub fn host_dir(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::create_dir_all(&p).expect("create host dir");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o777)).expect("chmod host dir");
        p
    }

    /// Applies an arbitrary edit to the configuration.
    pub fn edit(mut self, f: impl FnOnce(&mut Value)) -> Self {
        f(&mut self.config);
        self
    }

    /// Writes `text` verbatim as `config.json` instead of the built configuration.
    pub fn raw_config(mut self, text: &str) -> Self {
        self.raw = Some(text.to_string());
        self
    }

    /// Sets `process.args`.
    pub fn args(self, args: &[&str]) -> Self {
        self.edit(|v| v["process"]["args"] = json!(args))
    }

    /// Appends `KEY=value` entries to `process.env`.
    pub fn env(self, vars: &[&str]) -> Self {
        self.edit(|v| {
            let env = v["process"]["env"].as_array_mut().expect("env array");
            env.extend(vars.iter().map(|s| json!(s)));
        })
    }

    /// Sets `process.cwd`.
    pub fn cwd(self, cwd: &str) -> Self {
        self.edit(|v| v["process"]["cwd"] = json!(cwd))
    }

    /// Sets `process.user.uid` and `gid`.
    pub fn user(self, uid: u32, gid: u32) -> Self {
        self.edit(|v| {
            v["process"]["user"]["uid"] = json!(uid);
            v["process"]["user"]["gid"] = json!(gid);
        })
    }

    /// Sets `process.user.additionalGids`.
    pub fn additional_gids(self, gids: &[u32]) -> Self {
        self.edit(|v| v["process"]["user"]["additionalGids"] = json!(gids))
    }

    /// Sets `process.user.umask`.
    pub fn umask(self, umask: u32) -> Self {
        self.edit(|v| v["process"]["user"]["umask"] = json!(umask))
    }

    /// Sets `process.terminal`.
    pub fn terminal(self, on: bool) -> Self {
        self.edit(|v| v["process"]["terminal"] = json!(on))
    }

    /// Sets every capability set (bounding, effective, permitted, inheritable,
    /// ambient) to `caps`.
    pub fn capabilities(self, caps: &[&str]) -> Self {
        self.edit(|v| {
            v["process"]["capabilities"] = json!({
                "bounding": caps, "effective": caps, "permitted": caps,
                "inheritable": caps, "ambient": caps
            })
        })
    }

    /// Sets `hostname`.
    pub fn hostname(self, name: &str) -> Self {
        self.edit(|v| v["hostname"] = json!(name))
    }

    /// Sets `root.readonly`.
    pub fn readonly_root(self, on: bool) -> Self {
        self.edit(|v| v["root"]["readonly"] = json!(on))
    }

    /// Removes the namespace of type `kind` from `linux.namespaces`.
    pub fn remove_namespace(self, kind: &str) -> Self {
        self.edit(|v| {
            let ns = v["linux"]["namespaces"].as_array_mut().expect("namespaces");
            ns.retain(|n| n["type"] != kind);
        })
    }

    /// Adds a namespace of type `kind` (replacing one of the same type), joining the
    /// namespace file `path` when given.
    pub fn namespace(self, kind: &str, path: Option<&Path>) -> Self {
        let entry = match path {
            Some(p) => json!({"type": kind, "path": p}),
            None => json!({"type": kind}),
        };
        self.remove_namespace(kind).edit(|v| {
            let ns = v["linux"]["namespaces"].as_array_mut().expect("namespaces");
            ns.push(entry);
        })
    }

    /// Appends a mount to `mounts`.
    pub fn mount(self, destination: &str, kind: &str, source: &str, options: &[&str]) -> Self {
        self.edit(|v| {
            let mounts = v["mounts"].as_array_mut().expect("mounts");
            mounts.push(json!({
                "destination": destination, "type": kind,
                "source": source, "options": options
            }));
        })
    }

    /// Appends a bind mount of the host path `source` at `destination`; `options` are
    /// added after `rbind`.
    pub fn bind(self, source: &Path, destination: &str, options: &[&str]) -> Self {
        let mut opts = vec!["rbind"];
        opts.extend_from_slice(options);
        let source = source.to_str().expect("utf-8 path").to_string();
        self.mount(destination, "bind", &source, &opts)
    }

    /// Appends a hook to `hooks.<stage>` (e.g. `createRuntime`, `poststop`).
    pub fn hook(self, stage: &str, path: &str, args: &[&str], env: &[&str]) -> Self {
        self.edit(|v| {
            if !v["hooks"].is_object() {
                v["hooks"] = json!({});
            }
            let list = &mut v["hooks"][stage];
            if !list.is_array() {
                *list = json!([]);
            }
            list.as_array_mut().expect("hook list").push(json!({
                "path": path, "args": args, "env": env
            }));
        })
    }

    /// Sets `linux.cgroupsPath`.
    pub fn cgroups_path(self, path: &str) -> Self {
        self.edit(|v| v["linux"]["cgroupsPath"] = json!(path))
    }

    /// Changes the owner of every file in the rootfs (symlinks themselves included).
    pub fn chown_rootfs(self, uid: u32, gid: u32) -> Self {
        fn walk(p: &Path, uid: u32, gid: u32) {
            lchown(p, Some(uid), Some(gid)).expect("lchown");
            let meta = p.symlink_metadata().expect("stat");
            if meta.is_dir() {
                for entry in fs::read_dir(p).expect("read_dir") {
                    walk(&entry.expect("dir entry").path(), uid, gid);
                }
            }
        }
        walk(&self.rootfs(), uid, gid);
        self
    }

    /// Writes `config.json` (the raw text if one was set, else the built value).
    pub fn write_config(&self) {
        let text = match &self.raw {
            Some(raw) => raw.clone(),
            None => serde_json::to_string_pretty(&self.config).expect("serialise config"),
        };
        fs::write(self.dir.path().join("config.json"), text).expect("write config.json");
    }
}
