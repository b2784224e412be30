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

/// Fields where 0 means "not set", as engines send them (Docker sends every
/// one of them, zeros included) and as runc reads them.
const ZERO_IS_UNSET: &[(&str, &str)] = &[
    ("memory", "limit"),
    ("memory", "reservation"),
    ("memory", "swap"),
    ("memory", "kernel"),
    ("memory", "kernelTCP"),
    ("cpu", "shares"),
    ("cpu", "quota"),
    ("cpu", "period"),
    ("cpu", "realtimeRuntime"),
    ("cpu", "realtimePeriod"),
    ("cpu", "burst"),
    ("blockIO", "weight"),
    ("blockIO", "leafWeight"),
];

/// Drop the zero values that mean "not set", so that nothing writes them.
pub fn without_unset(res: LinuxResources) -> LinuxResources {
    let mut v = serde_json::to_value(&res).expect("resources serialise");
    for (section, key) in ZERO_IS_UNSET {
        if let Some(obj) = v.get_mut(*section).and_then(|s| s.as_object_mut()) {
            if obj.get(*key).and_then(|x| x.as_i64()) == Some(0) {
                obj.remove(*key);
            }
        }
    }
    serde_json::from_value(v).unwrap_or(res)
}

/// The spec's resources with device rules for the default devices, the
/// terminal devices and `linux.devices` appended, as runc does.
pub fn resources(spec: &Spec) -> Result<LinuxResources> {
    let linux = spec.linux().as_ref();
    let mut res = without_unset(
        linux
            .and_then(|l| l.resources().clone())
            .unwrap_or_default(),
    );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_from_engines_are_unset() {
        let res: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":134217728,"reservation":0,"swap":0,"kernel":0},
                "cpu":{"shares":512,"quota":0,"period":0},"pids":{"limit":70},"blockIO":{"weight":0}}"#,
        )
        .unwrap();
        let r = without_unset(res);
        let mem = r.memory().as_ref().unwrap();
        assert_eq!(
            (mem.limit(), mem.reservation(), mem.swap()),
            (Some(134217728), None, None)
        );
        let cpu = r.cpu().as_ref().unwrap();
        assert_eq!(
            (cpu.shares(), cpu.quota(), cpu.period()),
            (Some(512), None, None)
        );
        assert_eq!(r.block_io().as_ref().unwrap().weight(), None);
        assert_eq!(r.pids().as_ref().unwrap().limit(), 70);
    }
}
