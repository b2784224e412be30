//! `features`: what this runtime supports, in the JSON shape of the OCI
//! runtime spec's features document (as runc prints it, and containerd reads it).

use serde_json::{json, Value};

use crate::capabilities;
use crate::mount_options;
use crate::state::OCI_VERSION;

/// The features document.
pub fn features() -> Value {
    let last = capabilities::last_cap();
    let caps: Vec<String> = caps::all()
        .into_iter()
        .filter(|c| u32::from(c.index()) <= last)
        .map(|c| (c.index(), c.to_string()))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_values()
        .collect();
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": OCI_VERSION,
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options::KNOWN,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": true },
            "seccomp": { "enabled": false },
            "apparmor": { "enabled": std::path::Path::new("/sys/kernel/security/apparmor").exists() },
            "selinux": { "enabled": std::path::Path::new("/sys/fs/selinux/enforce").exists() },
            "intelRdt": { "enabled": false },
            "mountExtensions": { "idmap": { "enabled": false } }
        },
        "annotations": {
            "org.opencontainers.runtime.name": "skiff-runtime",
            "org.opencontainers.runtime.version": env!("CARGO_PKG_VERSION")
        }
    })
}
