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
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                    "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_LOG"]
            },
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
