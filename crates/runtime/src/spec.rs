//! Loading and validating a bundle's config.json before anything on the system
//! is touched.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Error, Result};

/// Read `config.json` from `bundle`, parse it and validate it; its seccomp
/// program is compiled once here and kept (see `seccomp::prepare`).
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Spec(format!("cannot read {}: {e}", path.display())))?;
    let spec = parse(&text)?;
    validate(&spec, bundle)?;
    if let Some(s) = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        crate::seccomp::prepare(s)?;
    }
    Ok(spec)
}

/// Parse config.json text; syntax and type errors name the field, the line and the column.
pub fn parse(text: &str) -> Result<Spec> {
    let de = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." | "" => Error::Spec(e.inner().to_string()),
            _ => Error::Spec(format!("{path}: {}", e.inner())),
        }
    })
}

/// The absolute path of the root filesystem named by `root.path`.
pub fn rootfs_path(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Spec("root is missing".into()))?;
    let path = root.path();
    Ok(if path.is_absolute() {
        path.clone()
    } else {
        bundle.join(path)
    })
}

/// The namespace types the container lists, in order.
pub fn namespaces(spec: &Spec) -> Vec<&oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .map(|v| v.iter().collect())
        .unwrap_or_default()
}

/// Whether the container gets or joins a namespace of this type.
pub fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces(spec).iter().any(|ns| ns.typ() == typ)
}

/// Check everything that can be checked without touching the system.
pub fn validate(spec: &Spec, bundle: &Path) -> Result<()> {
    if spec.process().is_none() {
        return Err(Error::Spec("process is missing".into()));
    }
    validate_process(spec)?;
    validate_root(spec, bundle)?;
    validate_namespaces(spec)?;
    validate_mounts(spec)?;
    validate_names(spec)?;
    validate_sysctl(spec)?;
    refuse_unsupported(spec)
}

/// Fields this runtime does not apply are refused rather than ignored; a
/// seccomp profile is checked in full.
fn refuse_unsupported(spec: &Spec) -> Result<()> {
    let refuse = |field: &str| {
        Err(Error::Spec(format!(
            "{field} is not supported by this runtime; remove it from config.json"
        )))
    };
    if let Some(l) = spec.linux().as_ref() {
        if let Some(s) = l.seccomp() {
            crate::seccomp::validate(s)?;
        }
        if l.intel_rdt().is_some() {
            return refuse("linux.intelRdt");
        }
        if l.memory_policy().is_some() {
            return refuse("linux.memoryPolicy");
        }
        if l.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
            return refuse("linux.netDevices");
        }
    }
    let process = spec.process().as_ref();
    if process.is_some_and(|p| p.exec_cpu_affinity().is_some()) {
        return refuse("process.execCPUAffinity");
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
            return refuse(&format!("mounts[{i}].uidMappings (id-mapped mounts)"));
        }
    }
    Ok(())
}

fn validate_process(spec: &Spec) -> Result<()> {
    let process = spec.process().as_ref().expect("checked by validate");
    match process.args() {
        Some(args) if !args.is_empty() && !args[0].is_empty() => {}
        _ => return Err(Error::Spec("process.args must name an executable".into())),
    }
    if !process.cwd().is_absolute() {
        return Err(Error::Spec(format!(
            "process.cwd {:?} must be an absolute path",
            process.cwd()
        )));
    }
    Ok(())
}

fn validate_root(spec: &Spec, bundle: &Path) -> Result<()> {
    let rootfs = rootfs_path(spec, bundle)?;
    match std::fs::metadata(&rootfs) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Error::Spec(format!(
            "root.path {} is not a directory",
            rootfs.display()
        ))),
        Err(e) => Err(Error::Spec(format!("root.path {}: {e}", rootfs.display()))),
    }
}

fn validate_namespaces(spec: &Spec) -> Result<()> {
    let mut seen = HashSet::new();
    for ns in namespaces(spec) {
        if !seen.insert(ns.typ()) {
            return Err(Error::Spec(format!(
                "linux.namespaces: duplicate namespace type {:?}",
                ns.typ().to_string()
            )));
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(Error::Spec(format!(
                    "linux.namespaces: {} path {path:?} must be absolute",
                    ns.typ()
                )));
            }
        }
    }
    if !seen.contains(&LinuxNamespaceType::Mount) {
        return Err(Error::Spec(
            "linux.namespaces: a mount namespace is required to set up the root filesystem".into(),
        ));
    }
    validate_user_namespace(spec, seen.contains(&LinuxNamespaceType::User))?;
    let linux = spec.linux().as_ref();
    let offsets = linux.and_then(|l| l.time_offsets().as_ref());
    if offsets.is_some_and(|o| !o.is_empty()) && !seen.contains(&LinuxNamespaceType::Time) {
        return Err(Error::Spec(
            "linux.timeOffsets needs a time namespace in linux.namespaces".into(),
        ));
    }
    if let Some(offsets) = offsets {
        for clock in offsets.keys() {
            if clock != "monotonic" && clock != "boottime" {
                return Err(Error::Spec(format!(
                    "linux.timeOffsets: unknown clock {clock:?} (monotonic or boottime)"
                )));
            }
        }
    }
    Ok(())
}

fn validate_user_namespace(spec: &Spec, has_userns: bool) -> Result<()> {
    let linux = spec.linux().as_ref();
    let uid = linux.and_then(|l| l.uid_mappings().as_ref());
    let gid = linux.and_then(|l| l.gid_mappings().as_ref());
    let mapped = uid.is_some_and(|m| !m.is_empty()) || gid.is_some_and(|m| !m.is_empty());
    if mapped && !has_userns {
        return Err(Error::Spec(
            "linux.uidMappings/gidMappings are set but linux.namespaces has no user namespace"
                .into(),
        ));
    }
    let joins = namespaces(spec)
        .iter()
        .any(|ns| ns.typ() == LinuxNamespaceType::User && ns.path().is_some());
    let complete = uid.is_some_and(|m| !m.is_empty()) && gid.is_some_and(|m| !m.is_empty());
    if has_userns && !joins && !complete {
        return Err(Error::Spec(
            "a new user namespace needs both linux.uidMappings and linux.gidMappings".into(),
        ));
    }
    Ok(())
}

fn validate_mounts(spec: &Spec) -> Result<()> {
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return Err(Error::Spec(format!(
                "mounts[{i}].destination {:?} must be an absolute path",
                m.destination()
            )));
        }
    }
    Ok(())
}

fn validate_names(spec: &Spec) -> Result<()> {
    let uts = has_namespace(spec, LinuxNamespaceType::Uts);
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(Error::Spec(
            "hostname is set but the container has no UTS namespace".into(),
        ));
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty()) && !uts {
        return Err(Error::Spec(
            "domainname is set but the container has no UTS namespace".into(),
        ));
    }
    Ok(())
}

/// Refuse sysctls that would change the host: only those isolated by a
/// namespace the container has are allowed (runc's rule).
fn validate_sysctl(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    for key in sysctl.keys() {
        let needed = sysctl_namespace(key).ok_or_else(|| {
            Error::Spec(format!(
                "linux.sysctl {key:?} is not isolated by any namespace and would change the host"
            ))
        })?;
        if !has_namespace(spec, needed) {
            return Err(Error::Spec(format!(
                "linux.sysctl {key:?} needs a private {needed} namespace"
            )));
        }
    }
    Ok(())
}

/// The namespace that isolates a sysctl, if any.
fn sysctl_namespace(key: &str) -> Option<LinuxNamespaceType> {
    const IPC: &[&str] = &[
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if IPC.contains(&key) || key.starts_with("fs.mqueue.") {
        Some(LinuxNamespaceType::Ipc)
    } else if key.starts_with("net.") {
        Some(LinuxNamespaceType::Network)
    } else if key == "kernel.hostname" || key == "kernel.domainname" {
        Some(LinuxNamespaceType::Uts)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_error_names_line_and_column() {
        let err = parse("{\n  \"ociVersion\": \"1.0.0\",\n  oops }").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("column"), "{msg}");
    }

    #[test]
    fn wrong_type_is_named() {
        let msg = parse(r#"{"ociVersion":"1.0.0","hostname":5}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("hostname: invalid type"), "{msg}");
        let msg = parse(r#"{"ociVersion":"1.0.0","linux":{"resources":{"pids":{"limit":"x"}}}}"#)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("linux.resources.pids.limit"), "{msg}");
    }

    #[test]
    fn sysctl_namespaces() {
        assert_eq!(
            sysctl_namespace("net.ipv4.ip_forward"),
            Some(LinuxNamespaceType::Network)
        );
        assert_eq!(
            sysctl_namespace("fs.mqueue.msg_max"),
            Some(LinuxNamespaceType::Ipc)
        );
        assert_eq!(sysctl_namespace("vm.swappiness"), None);
    }
}
