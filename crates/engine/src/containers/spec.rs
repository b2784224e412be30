//! The OCI spec for a container: runc's defaults, Docker's security
//! defaults, and what the container was asked for (process, mounts,
//! namespaces, resources, capabilities, seccomp).

use std::path::Path;

use serde_json::{json, Value};
use skiff_runtime::default_spec::default_spec;
use skiff_runtime::fuse_overlay::MOUNT_PROGRAM_ANNOTATION;
use skiff_runtime::security_defaults::{self, CAPABILITIES, MASKED_PATHS, READONLY_PATHS};

use super::record::{ContainerConfig, MountSpec};
use super::user::Identity;
use crate::{rootless, Error, Result};
use skiff_image::userns::IdMaps;

/// Where a container's cgroup goes, under every hierarchy.
pub const CGROUP_PARENT: &str = "/skiff";

/// CFS period used for `--cpus`, as Docker uses.
const CPU_PERIOD: u64 = 100_000;

/// What the spec needs beyond the container's configuration.
pub struct SpecInputs<'a> {
    /// The resolved user.
    pub identity: &'a Identity,
    /// The container's directory (hosts, hostname and resolv.conf are there).
    pub dir: &'a Path,
    /// The process's arguments after `--init` (which may put an init first).
    pub args: Vec<String>,
    /// Host paths of named volumes, by name.
    pub volume_path: &'a dyn Fn(&str) -> std::path::PathBuf,
    /// The network namespace to join (a path), or `None` for a new one.
    pub netns: Option<String>,
    /// skiff's init on the host, for `--init`.
    pub init: Option<std::path::PathBuf>,
    /// An ordinary user's container: the maps of its user namespace.
    pub userns: Option<&'a IdMaps>,
    /// The root overlay's mount options, when the runtime mounts it inside
    /// the container's namespaces rather than the engine on the host.
    pub root_overlay: Option<String>,
    /// The program that mounts the root overlay instead of the kernel.
    pub mount_program: Option<&'a Path>,
}

/// Builds the spec.
pub fn build(c: &ContainerConfig, inputs: &SpecInputs<'_>) -> Result<Value> {
    let mut spec = default_spec(false, 0, 0);
    set_process(&mut spec, c, inputs)?;
    spec["root"] = json!({"path": "rootfs", "readonly": c.read_only});
    spec["hostname"] = json!(c.hostname);
    set_mounts(&mut spec, c, inputs)?;
    set_linux(&mut spec, c, inputs)?;
    if let Some(maps) = inputs.userns {
        set_userns(&mut spec, maps);
    }
    if let Some(options) = &inputs.root_overlay {
        set_root_overlay(&mut spec, options);
    }
    spec["annotations"] = json!({"org.skiff.container.name": c.name});
    if let (Some(_), Some(program)) = (&inputs.root_overlay, inputs.mount_program) {
        spec["annotations"][MOUNT_PROGRAM_ANNOTATION] = json!(program);
    }
    Ok(spec)
}

/// A user namespace of the user's maps.
fn set_userns(spec: &mut Value, maps: &IdMaps) {
    let linux = &mut spec["linux"];
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        ns.push(json!({"type": "user"}));
    }
    linux["uidMappings"] = rootless::spec_mappings(&maps.uids);
    linux["gidMappings"] = rootless::spec_mappings(&maps.gids);
}

/// The root overlay as the first mount (on `/`), which the runtime makes
/// in the container's namespaces before any other.
fn set_root_overlay(spec: &mut Value, options: &str) {
    let options: Vec<&str> = options.split(',').collect();
    if let Some(mounts) = spec["mounts"].as_array_mut() {
        mounts.insert(
            0,
            json!({"destination": "/", "type": "overlay", "source": "overlay", "options": options}),
        );
    }
}

fn set_process(spec: &mut Value, c: &ContainerConfig, inputs: &SpecInputs<'_>) -> Result<()> {
    let id = inputs.identity;
    let mut env = c.env.clone();
    let has = |env: &[String], key: &str| env.iter().any(|e| e.split('=').next() == Some(key));
    if !has(&env, "PATH") {
        env.insert(0, format!("PATH={}", skiff_runtime_default_path()));
    }
    if !has(&env, "HOSTNAME") {
        env.push(format!("HOSTNAME={}", c.hostname));
    }
    if !has(&env, "HOME") {
        env.push(format!(
            "HOME={}",
            if id.home.is_empty() { "/" } else { &id.home }
        ));
    }
    if c.tty && !has(&env, "TERM") {
        env.push("TERM=xterm".into());
    }
    let caps = capabilities(c)?;
    let p = &mut spec["process"];
    p["terminal"] = json!(c.tty);
    p["user"] = json!({"uid": id.uid, "gid": id.gid, "additionalGids": id.additional_gids});
    p["args"] = json!(inputs.args);
    p["env"] = json!(env);
    p["cwd"] = json!(if c.working_dir.is_empty() {
        "/"
    } else {
        &c.working_dir
    });
    p["capabilities"] = json!({"bounding": caps, "effective": caps, "permitted": caps});
    p["noNewPrivileges"] = json!(c.no_new_privileges);
    let rlimits: Vec<Value> = c
        .ulimits
        .iter()
        .map(|(kind, soft, hard)| json!({"type": kind, "soft": soft, "hard": hard}))
        .collect();
    p["rlimits"] = json!(rlimits);
    Ok(())
}

fn skiff_runtime_default_path() -> &'static str {
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
}

/// The capability set: Docker's defaults (or all, privileged), with
/// `--cap-add` and `--cap-drop` applied.
pub fn capabilities(c: &ContainerConfig) -> Result<Vec<String>> {
    let all = skiff_runtime::capabilities::all_names();
    let mut caps: Vec<String> = if c.privileged {
        all.clone()
    } else {
        CAPABILITIES.iter().map(|s| s.to_string()).collect()
    };
    let known = |name: &String| -> Result<()> {
        if all.contains(name) {
            Ok(())
        } else {
            Err(Error::Invalid(format!("unknown capability {name:?}")))
        }
    };
    if c.cap_drop.iter().any(|d| d == "ALL") {
        caps.clear();
    }
    for drop in c.cap_drop.iter().filter(|d| *d != "ALL") {
        known(drop)?;
        caps.retain(|x| x != drop);
    }
    if c.cap_add.iter().any(|a| a == "ALL") {
        caps = all.clone();
    }
    for add in c.cap_add.iter().filter(|a| *a != "ALL") {
        known(add)?;
        if !caps.contains(add) {
            caps.push(add.clone());
        }
    }
    Ok(caps)
}

fn set_mounts(spec: &mut Value, c: &ContainerConfig, inputs: &SpecInputs<'_>) -> Result<()> {
    let mounts = spec["mounts"]
        .as_array_mut()
        .expect("the default spec has mounts");
    if c.privileged {
        for m in mounts.iter_mut().filter(|m| m["destination"] == "/sys") {
            m["options"] = json!(["nosuid", "noexec", "nodev"]);
        }
    }
    for file in ["hostname", "hosts", "resolv.conf"] {
        let source = inputs.dir.join(file);
        let mut options = vec!["rbind", "rprivate"];
        if c.read_only {
            options.push("ro");
        }
        mounts.push(
            json!({"destination": format!("/etc/{file}"), "type": "bind",
                           "source": source, "options": options}),
        );
    }
    for m in &c.mounts {
        mounts.push(mount_json(m, inputs)?);
    }
    if let Some(init) = &inputs.init {
        mounts.push(
            json!({"destination": super::init_binary::INIT_PATH, "type": "bind",
                           "source": init, "options": ["bind", "ro", "nosuid", "nodev"]}),
        );
    }
    Ok(())
}

fn mount_json(m: &MountSpec, inputs: &SpecInputs<'_>) -> Result<Value> {
    let ro = if m.readonly { "ro" } else { "rw" };
    let value = match m.kind.as_str() {
        "bind" => {
            let mut options = vec!["rbind".to_string(), ro.to_string()];
            options.extend(m.options.iter().cloned());
            json!({"destination": m.target, "type": "bind", "source": m.source, "options": options})
        }
        "volume" => {
            let source = (inputs.volume_path)(&m.source);
            let mut options = vec!["rbind".to_string(), ro.to_string()];
            options.extend(m.options.iter().cloned());
            json!({"destination": m.target, "type": "bind", "source": source, "options": options})
        }
        "tmpfs" => {
            let mut options = vec!["nosuid".to_string(), "nodev".to_string(), ro.to_string()];
            options.extend(m.options.iter().cloned());
            json!({"destination": m.target, "type": "tmpfs", "source": "tmpfs", "options": options})
        }
        other => return Err(Error::Invalid(format!("unknown mount type {other:?}"))),
    };
    Ok(value)
}

fn set_linux(spec: &mut Value, c: &ContainerConfig, inputs: &SpecInputs<'_>) -> Result<()> {
    let linux = &mut spec["linux"];
    linux["cgroupsPath"] = json!(format!("{CGROUP_PARENT}/{}", c.id));
    if let Some(ns) = linux["namespaces"].as_array_mut() {
        match (c.network.as_str(), &inputs.netns) {
            ("host", _) => ns.retain(|n| n["type"] != "network"),
            (_, Some(path)) => {
                for n in ns.iter_mut().filter(|n| n["type"] == "network") {
                    n["path"] = json!(path);
                }
            }
            _ => {}
        }
    }
    if c.privileged {
        linux["maskedPaths"] = json!([]);
        linux["readonlyPaths"] = json!([]);
        linux["resources"]["devices"] = json!([{"allow": true, "access": "rwm"}]);
    } else {
        linux["maskedPaths"] = json!(MASKED_PATHS);
        linux["readonlyPaths"] = json!(READONLY_PATHS);
    }
    set_resources(&mut linux["resources"], c);
    super::devices::add(linux, &c.devices)?;
    if let Some(seccomp) = super::seccomp_profile::for_container(c)? {
        linux["seccomp"] = seccomp;
    } else if let Some(obj) = linux.as_object_mut() {
        obj.shift_remove("seccomp");
    }
    Ok(())
}

fn set_resources(r: &mut Value, c: &ContainerConfig) {
    let res = &c.resources;
    if let Some(m) = res.memory {
        r["memory"]["limit"] = json!(m);
    }
    if let Some(s) = res.memory_swap {
        r["memory"]["swap"] = json!(s);
    }
    if let Some(cpus) = res.cpus {
        r["cpu"]["quota"] = json!((cpus * CPU_PERIOD as f64).round() as i64);
        r["cpu"]["period"] = json!(CPU_PERIOD);
    }
    if let Some(shares) = res.cpu_shares {
        r["cpu"]["shares"] = json!(shares);
    }
    if let Some(p) = res.pids_limit {
        r["pids"] = json!({"limit": p});
    }
}

/// The default profile for a container's capabilities.
pub fn default_seccomp(caps: &[String]) -> Value {
    let names: Vec<&str> = caps.iter().map(String::as_str).collect();
    serde_json::to_value(security_defaults::seccomp(&names)).expect("a profile serialises")
}
