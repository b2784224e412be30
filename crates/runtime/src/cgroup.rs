//! The container's cgroup as the runtime sees it: where it is, and the
//! resources written to it (the spec's, plus the device rules every
//! container needs).

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxResources, Spec};
use skiff_cgroups::Cgroup;

use crate::devices;
use crate::error::{Error, Result};

/// The cgroup path for a container: `linux.cgroupsPath` (relative ones below
/// the runtime's own prefix) or `/skiff/<id>`.
pub fn path(spec: &Spec, id: &str) -> Result<PathBuf> {
    let given = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    let path = match given {
        Some(p) if p.is_absolute() => p,
        Some(p) if !p.as_os_str().is_empty() => Path::new("/skiff").join(p),
        _ => Path::new("/skiff").join(id),
    };
    if path.to_string_lossy().contains(':') {
        return Err(Error::Spec(format!(
            "linux.cgroupsPath {} looks like a systemd path (slice:prefix:name); \
             the systemd cgroup driver is not supported, use a cgroupfs path",
            path.display()
        )));
    }
    Ok(path)
}

/// Open the container's cgroup on this host.
pub fn open(path: &Path) -> Result<Box<dyn Cgroup>> {
    Ok(skiff_cgroups::open(path)?)
}

/// The spec's resources with device rules for the default devices, the
/// terminal devices and `linux.devices` appended, as runc does.
pub fn resources(spec: &Spec) -> Result<LinuxResources> {
    let linux = spec.linux().as_ref();
    let mut res = linux
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let mut rules: Vec<LinuxDeviceCgroup> = res.devices().clone().unwrap_or_default();
    let allow = |typ: &str, major: Option<i64>, minor: Option<i64>, access: &str| {
        serde_json::from_value::<LinuxDeviceCgroup>(serde_json::json!({
            "allow": true, "type": typ, "major": major, "minor": minor, "access": access
        }))
        .expect("valid device rule")
    };
    rules.push(allow("c", None, None, "m"));
    rules.push(allow("b", None, None, "m"));
    for (_, major, minor) in devices::DEFAULTS {
        rules.push(allow("c", Some(major as i64), Some(minor as i64), "rwm"));
    }
    rules.push(allow("c", Some(5), Some(1), "rwm"));
    rules.push(allow("c", Some(5), Some(2), "rwm"));
    rules.push(allow("c", Some(136), None, "rwm"));
    for d in linux
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        rules.push(LinuxDeviceCgroup::from(d));
    }
    res.set_devices(Some(rules));
    Ok(res)
}
