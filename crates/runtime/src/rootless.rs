//! Running as an ordinary user ("rootless"): what such a user's container
//! needs, checked before anything is made, and whether it gets a cgroup.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, LinuxResources, Spec};

use crate::cgroup;
use crate::error::{Error, Result};
use crate::idmap;
use crate::namespaces::Plan;
use crate::spec;

/// Whether the runtime runs as an ordinary user (effective uid not 0).
pub fn active() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// A helper program: the file the environment variable `env` names, else
/// `name` found through `PATH`, then in `/usr/bin`.
pub fn find_program(env: &str, name: &str) -> Option<PathBuf> {
    if let Some(named) = std::env::var_os(env).filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(named)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Refuse, before anything is made, a spec an ordinary user cannot run: one
/// without a user namespace (every mount would fail with EPERM), or with id
/// maps that cannot be written.
pub fn check(spec: &Spec, plan: &Plan) -> Result<()> {
    if !active() {
        return Ok(());
    }
    if !spec::has_namespace(spec, LinuxNamespaceType::User) {
        return Err(Error::Spec(format!(
            "linux.namespaces has no user namespace, which uid {} (not root) needs to \
             make a container; `skiff-runtime spec --rootless` writes a spec with one",
            nix::unistd::geteuid()
        )));
    }
    if plan.new_user() {
        idmap::check(spec)?;
    }
    Ok(())
}

/// Whether the container gets its cgroup at `path`. Root always does; an
/// ordinary user only where it may write the cgroup tree there. Without
/// one, a spec that limits resources is refused (as crun does: a limit
/// silently not enforced is worse than an error); otherwise the container
/// runs in the caller's cgroup, which a debug line says.
pub fn use_cgroup(spec: &Spec, path: &Path) -> Result<bool> {
    if cgroup::usable(path)? {
        return Ok(true);
    }
    let who = nix::unistd::geteuid();
    if cgroup::limits_anything(&cgroup::resources(spec)?) {
        return Err(Error::Spec(format!(
            "linux.resources sets limits, but uid {who} may not write the cgroup {} (nor \
             the nearest directory above it) on every hierarchy, so they could not be \
             enforced: drop the limits, or run where the cgroup tree is delegated to \
             the user (cgroup v2 with systemd)",
            path.display()
        )));
    }
    crate::log::debug(&format!(
        "no cgroup: uid {who} may not write {}; the container stays in the caller's cgroup",
        path.display()
    ));
    Ok(false)
}

/// The resources written to the container's cgroup: the spec's with the
/// device rules every container needs ([`cgroup::resources`]); for an
/// ordinary user without device rules, which need CAP_SYS_ADMIN on the host
/// (a v1 `devices` file, a v2 eBPF program) and guard nothing the user
/// namespace does not: it can make no device node, only bind the host's.
pub fn resources(spec: &Spec) -> Result<LinuxResources> {
    let mut res = cgroup::resources(spec)?;
    if active() {
        res.set_devices(None);
    }
    Ok(res)
}
