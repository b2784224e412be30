//! fuse-overlayfs for a container's root overlay: where the kernel refuses
//! an overlay mount in a user namespace (before Linux 5.11), and where the
//! spec asks for it with the annotation [`MOUNT_PROGRAM_ANNOTATION`] (as
//! Podman's `mount_program` storage option does).
//!
//! Init mounts the FUSE file system on the root itself, in the container's
//! user and mount namespaces, on a `/dev/fuse` descriptor it opened
//! (`fd=N`), and hands the descriptor to the runtime over the init channel.
//! The runtime starts the mount program on it, with `/dev/fd/N` as the mount
//! point (libfuse's way of serving a mount another process made). The
//! program runs in the container's user namespace, root over the
//! container's ids, so files get the owners the container gives them; but
//! in the runtime's mount and PID namespaces, so the container does not see
//! it and it holds no reference to the container's mount namespace. When
//! the container's last process ends, its mount namespace goes, the kernel
//! tears the mount down and aborts the FUSE connection, and the program
//! exits by itself: nothing is left to unmount or kill. It daemonizes
//! (libfuse forks and calls setsid) once it serves, so the runtime waits for
//! its first process only, and reports that one's error output; the daemon
//! is adopted by the nearest child subreaper (skiff's monitor) or by the
//! host's init, which reaps it.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::mount::MsFlags;
use oci_spec::runtime::{Mount, Spec};

use crate::error::{Context, Error, Result};
use crate::mount_options;

/// The spec annotation naming the program that mounts the root overlay
/// instead of the kernel (`/usr/bin/fuse-overlayfs`).
pub const MOUNT_PROGRAM_ANNOTATION: &str = "org.skiff.overlay.mount_program";

/// The environment variable naming fuse-overlayfs for the fallback, where it
/// is not on `PATH` or in `/usr/bin`.
pub const PROGRAM_ENV: &str = "SKIFF_FUSE_OVERLAYFS";

/// The fallback's program, and the file system's subtype in the mount table.
const PROGRAM: &str = "fuse-overlayfs";

/// The mount program `spec` names, if any.
pub fn mount_program(spec: &Spec) -> Option<&Path> {
    let annotations = spec.annotations().as_ref()?;
    annotations.get(MOUNT_PROGRAM_ANNOTATION).map(Path::new)
}

/// Checks that `program` is an executable file; the message names it and
/// where fuse-overlayfs comes from.
pub fn check_program(program: &Path) -> std::result::Result<(), String> {
    let why = match std::fs::metadata(program) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(()),
        Ok(_) => "not an executable file".to_string(),
        Err(e) => e.to_string(),
    };
    Err(format!(
        "mount program {}: {why}; install fuse-overlayfs (Debian package fuse-overlayfs) \
         and name /usr/bin/fuse-overlayfs",
        program.display()
    ))
}

/// Refuses, before anything is made, a spec whose mount program is not an
/// executable file.
pub fn check(spec: &Spec) -> Result<()> {
    match mount_program(spec) {
        Some(program) => check_program(program)
            .map_err(|m| Error::Spec(format!("annotation {MOUNT_PROGRAM_ANNOTATION}: {m}"))),
        None => Ok(()),
    }
}

/// The spec's mount on `/` (an engine's root overlay), if it has one.
pub fn root_mount(spec: &Spec) -> Option<&Mount> {
    let mounts = spec.mounts().as_deref()?;
    mounts.iter().find(|m| m.destination() == Path::new("/"))
}

/// Whether a refused overlay mount of the root is made with fuse-overlayfs
/// instead: in a user namespace, where a kernel before 5.11 refuses overlay
/// (EPERM) or its `userxattr` option (EINVAL).
pub fn falls_back(userns: bool, fstype: &str, errno: Errno) -> bool {
    userns && fstype == "overlay" && matches!(errno, Errno::EPERM | Errno::EINVAL)
}

/// The program that serves a root: `named`, else fuse-overlayfs
/// ([`PROGRAM_ENV`], `PATH`, `/usr/bin`) as the kernel's overlay's fallback.
pub fn program(named: Option<&Path>) -> Result<PathBuf> {
    if let Some(program) = named {
        return Ok(program.to_path_buf());
    }
    crate::rootless::find_program(PROGRAM_ENV, PROGRAM).ok_or_else(|| {
        Error::Init(format!(
            "the kernel refused an overlay mount in the user namespace (that needs \
             Linux 5.11), and fuse-overlayfs, its fallback, is not installed (Debian \
             package fuse-overlayfs; {PROGRAM_ENV} names it elsewhere)"
        ))
    })
}

/// The mount program's `-o` argument for overlay mount data `data`: the
/// same options but `userxattr` (fuse-overlayfs reads `user.overlay.opaque`
/// by itself).
pub fn program_options(data: &[String]) -> String {
    let kept: Vec<&str> = data
        .iter()
        .map(String::as_str)
        .filter(|o| *o != "userxattr")
        .collect();
    kept.join(",")
}

/// The FUSE mount data for a root served on descriptor `fd`, mounted by
/// `uid` and `gid`: every process of the mounter's user namespace may use
/// it, with the kernel checking permissions from the modes, as
/// fuse-overlayfs mounts itself.
fn mount_data(fd: RawFd, uid: u32, gid: u32) -> String {
    format!("fd={fd},rootmode=40000,user_id={uid},group_id={gid},default_permissions,allow_other")
}

/// Init's part: mounts a FUSE file system on `target` with `flags` and
/// returns the `/dev/fuse` descriptor that serves it.
pub fn mount(target: &Path, flags: MsFlags) -> Result<OwnedFd> {
    let device: OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/fuse")
        .ctx(|| "open /dev/fuse for the root's fuse-overlayfs".to_string())?
        .into();
    let data = mount_data(
        device.as_raw_fd(),
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    nix::mount::mount(
        Some(PROGRAM),
        target,
        Some(format!("fuse.{PROGRAM}").as_str()),
        flags,
        Some(data.as_str()),
    )
    .ctx(|| format!("mount fuse on the rootfs {}", target.display()))?;
    Ok(device)
}

/// The runtime's part: starts the mount program for `spec`'s root overlay
/// on `device` (from init's [`mount`]), in the user namespace `userns`
/// where the container has one, and returns once it serves.
pub fn serve(spec: &Spec, device: OwnedFd, userns: Option<&OwnedFd>) -> Result<()> {
    let program = program(mount_program(spec))?;
    let root = root_mount(spec)
        .ok_or_else(|| Error::Init("a fuse device came without a mount on /".into()))?;
    let data = mount_options::parse(root.options().as_deref().unwrap_or_default()).data;
    start(&program, &data, device, userns)
}

/// Starts `program` serving the FUSE mount on `device` as the overlay of
/// mount data `data`, in the user namespace `userns` (as its root) if
/// given; returns once it serves, when it has daemonized.
pub fn start(
    program: &Path,
    data: &[String],
    device: OwnedFd,
    userns: Option<&OwnedFd>,
) -> Result<()> {
    let fd = device.as_raw_fd();
    let ns = userns.map(AsRawFd::as_raw_fd);
    let mut command = Command::new(program);
    command
        .arg("-o")
        .arg(program_options(data))
        .arg(format!("/dev/fd/{fd}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and makes
    // system calls only (setns, setresuid, fcntl, close_range), no allocation.
    unsafe { command.pre_exec(move || enter(ns, fd)) };
    let out = command
        .output()
        .ctx(|| format!("start the mount program {}", program.display()))?;
    drop(device);
    if !out.status.success() {
        return Err(Error::Init(format!(
            "mount program {} for the root filesystem failed ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// In the mount program's child: joins the user namespace `userns` as its
/// root, and lets only descriptors 0 to 2 and `keep` through exec.
fn enter(userns: Option<RawFd>, keep: RawFd) -> io::Result<()> {
    let check = |r: libc::c_int| match r {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    };
    if let Some(ns) = userns {
        // SAFETY: setns with an open namespace descriptor and its type.
        check(unsafe { libc::setns(ns, libc::CLONE_NEWUSER) })?;
        // SAFETY: setgroups with an empty list. Where the namespace denies
        // it, the program keeps the groups it has (unmapped, so powerless).
        unsafe { libc::setgroups(0, std::ptr::null()) };
        // SAFETY: setresgid and setresuid with integer ids.
        check(unsafe { libc::setresgid(0, 0, 0) })?;
        // SAFETY: as above.
        check(unsafe { libc::setresuid(0, 0, 0) })?;
    }
    crate::process::cloexec_from(3)?;
    // SAFETY: fcntl on the descriptor the caller keeps open.
    check(unsafe { libc::fcntl(keep, libc::F_SETFD, 0) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_drop_userxattr() {
        let data: Vec<String> = ["lowerdir=/a:/b", "upperdir=/u", "workdir=/w", "userxattr"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            program_options(&data),
            "lowerdir=/a:/b,upperdir=/u,workdir=/w"
        );
    }

    #[test]
    fn mount_data_names_the_descriptor_and_owner() {
        assert_eq!(
            mount_data(7, 0, 0),
            "fd=7,rootmode=40000,user_id=0,group_id=0,default_permissions,allow_other"
        );
    }

    #[test]
    fn only_a_refused_overlay_in_a_user_namespace_falls_back() {
        assert!(falls_back(true, "overlay", Errno::EPERM));
        assert!(falls_back(true, "overlay", Errno::EINVAL));
        assert!(!falls_back(false, "overlay", Errno::EPERM));
        assert!(!falls_back(true, "overlay", Errno::ENOENT));
        assert!(!falls_back(true, "tmpfs", Errno::EPERM));
    }

    #[test]
    fn the_spec_names_its_mount_program() {
        let spec: Spec = serde_json::from_str(&format!(
            r#"{{"ociVersion":"1.0.0","annotations":{{"{MOUNT_PROGRAM_ANNOTATION}":"/no/such"}},
                "mounts":[{{"destination":"/","type":"overlay","options":["lowerdir=/l"]}}]}}"#
        ))
        .unwrap();
        assert_eq!(mount_program(&spec), Some(Path::new("/no/such")));
        assert!(root_mount(&spec).is_some());
        let err = check(&spec).unwrap_err().to_string();
        assert!(err.contains("/no/such"), "{err}");
        assert!(err.contains("Debian package fuse-overlayfs"), "{err}");
        assert!(check_program(Path::new("/etc")).is_err());
        assert!(check_program(Path::new("/bin/sh")).is_ok());
    }
}
