//! The container's root filesystem: its mounts in order, /dev, pivot_root,
//! and what is done inside the new root (sysctls, masked and read-only paths,
//! a read-only root).

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use oci_spec::runtime::{Mount, Spec};

use crate::devices;
use crate::error::{Context, Error, Result};
use crate::fuse_overlay;
use crate::mount_options::{self, MountOptions};
use crate::resolve::{self, Create};

/// What the root filesystem setup needs besides the spec.
#[derive(Clone, Copy)]
pub struct Setup<'a> {
    /// The spec.
    pub spec: &'a Spec,
    /// The root filesystem on the host.
    pub rootfs: &'a Path,
    /// Init is in a new user namespace (no mknod; locked mount flags).
    pub userns: bool,
    /// The container has a cgroup namespace of its own.
    pub cgroupns: bool,
    /// The container's cgroup, relative to the hierarchy roots; `None` for a
    /// container made without one (it stays in the runtime's).
    pub cgroup_path: Option<&'a Path>,
    /// Waits until init is in its cgroup (and has its cgroup namespace);
    /// called before the first cgroup mount.
    pub placed: &'a dyn Fn() -> Result<()>,
    /// Hands the `/dev/fuse` descriptor of a root mounted with FUSE to the
    /// runtime, and returns once its mount program serves it.
    pub serve_fuse: &'a dyn Fn(OwnedFd) -> Result<()>,
}

/// Mount everything the spec asks for below the rootfs, and make /dev.
pub fn prepare(s: &Setup) -> Result<()> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "make / a slave mount so nothing propagates to the host".to_string())?;
    mount(
        Some(s.rootfs),
        s.rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("bind mount the rootfs {}", s.rootfs.display()))?;
    let mounts = s.spec.mounts().as_deref().unwrap_or_default();
    let is_root = |m: &&Mount| m.destination() == Path::new("/");
    for m in mounts.iter().filter(is_root) {
        mount_over_root(s, m)?;
    }
    let root: OwnedFd = File::open(s.rootfs)
        .ctx(|| format!("open rootfs {}", s.rootfs.display()))?
        .into();
    for m in mounts.iter().filter(|m| !is_root(m)) {
        mount_entry(s, &root, m)?;
    }
    let dev_bound = mounts
        .iter()
        .any(|m| m.destination() == Path::new("/dev") && parse(m).bind);
    if !dev_bound {
        for node in devices::default_nodes() {
            devices::create(&root, &node, s.userns)?;
        }
        let pts = mounts
            .iter()
            .any(|m| m.destination() == Path::new("/dev/pts"));
        devices::create_symlinks(&root, pts)?;
    }
    let listed = s.spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for d in listed.into_iter().flatten() {
        devices::create(&root, &devices::from_spec(d)?, s.userns)?;
    }
    Ok(())
}

/// A mount whose destination is `/` (an engine's overlay of image layers)
/// goes on the root filesystem itself before every other mount, made here in
/// the container's own mount namespace: an ordinary user may mount an
/// overlay only in a user namespace that owns the mount namespace. Where the
/// kernel refuses that (before Linux 5.11), or the spec names a mount
/// program, fuse-overlayfs serves the root instead ([`fuse_overlay`]).
fn mount_over_root(s: &Setup, m: &Mount) -> Result<()> {
    let o = parse(m);
    let fstype = m.typ().as_deref().unwrap_or("none");
    if o.bind {
        return Err(Error::Spec(
            "a mount on / must be a file system (an overlay), not a bind".into(),
        ));
    }
    if fuse_overlay::mount_program(s.spec).is_none() {
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(fstype));
        let data = o.data.join(",");
        let data = (!data.is_empty()).then_some(data.as_str());
        match mount(Some(&source), s.rootfs, Some(fstype), o.flags, data) {
            Ok(()) => return Ok(()),
            Err(e) if fuse_overlay::falls_back(s.userns, fstype, e) => {}
            Err(e) => {
                return Err(e)
                    .ctx(|| format!("mount {fstype} on the rootfs {}", s.rootfs.display()))
            }
        }
    }
    (s.serve_fuse)(fuse_overlay::mount(s.rootfs, o.flags)?)
}

fn parse(m: &Mount) -> MountOptions {
    let mut o = mount_options::parse(m.options().as_deref().unwrap_or_default());
    if m.typ().as_deref() == Some("bind") {
        o.bind = true;
    }
    o
}

fn mount_entry(s: &Setup, root: &OwnedFd, m: &Mount) -> Result<()> {
    let o = parse(m);
    let dest = m.destination();
    let fstype = m.typ().as_deref().unwrap_or("none");
    if fstype == "cgroup" && !o.bind {
        (s.placed)()?;
        return mount_cgroup(s, root, dest, &o);
    }
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(fstype));
    let create = if o.bind && !source.is_dir() {
        Create::File
    } else {
        Create::Dir
    };
    let target = resolve::open_or_create(root, dest, create)?;
    let show = || format!("mount {} on {}", source.display(), dest.display());
    if o.bind {
        let mut flags = MsFlags::MS_BIND;
        if o.recursive {
            flags |= MsFlags::MS_REC;
        }
        mount(
            Some(&source),
            &resolve::fd_path(&target),
            None::<&str>,
            flags,
            None::<&str>,
        )
        .ctx(show)?;
        let extra = o.flags & !MsFlags::MS_REMOUNT;
        if !extra.is_empty() {
            let mounted = resolve::open_or_create(root, dest, Create::Nothing)?;
            remount(&resolve::fd_path(&mounted), extra).ctx(show)?;
        }
    } else {
        let original = o
            .tmpcopyup
            .then(|| File::open(resolve::fd_path(&target)))
            .transpose()
            .ctx(show)?;
        let data = o.data.join(",");
        let r = mount(
            Some(&source),
            &resolve::fd_path(&target),
            Some(fstype),
            o.flags,
            (!data.is_empty()).then_some(data.as_str()),
        );
        match r {
            Err(nix::errno::Errno::EPERM) if s.userns && host_instead(fstype).is_some() => {
                // A user namespace may not mount sysfs without a network
                // namespace of its own, nor mqueue without an IPC namespace:
                // the container then sees the host's, bound with the entry's flags.
                let host = host_instead(fstype).expect("checked");
                let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
                mount(
                    Some(host),
                    &resolve::fd_path(&target),
                    None::<&str>,
                    flags,
                    None::<&str>,
                )
                .ctx(show)?;
                let kept = MsFlags::MS_RDONLY
                    | MsFlags::MS_NOSUID
                    | MsFlags::MS_NODEV
                    | MsFlags::MS_NOEXEC;
                if !(o.flags & kept).is_empty() {
                    let mounted = resolve::open_or_create(root, dest, Create::Nothing)?;
                    remount(&resolve::fd_path(&mounted), o.flags & kept).ctx(show)?;
                }
            }
            Err(nix::errno::Errno::EINVAL) if fstype == "devpts" && s.userns => {
                // gid=5 (tty) is not mapped in a user namespace of one id:
                // the ptys then belong to the container's own group.
                let data: Vec<&str> = o
                    .data
                    .iter()
                    .map(String::as_str)
                    .filter(|d| !d.starts_with("gid="))
                    .collect();
                let data = data.join(",");
                mount(
                    Some(&source),
                    &resolve::fd_path(&target),
                    Some(fstype),
                    o.flags,
                    (!data.is_empty()).then_some(data.as_str()),
                )
                .ctx(show)?;
            }
            r => r.ctx(show)?,
        }
        if let Some(original) = original {
            let mounted = resolve::open_or_create(root, dest, Create::Nothing)?;
            let from = PathBuf::from(format!("/proc/self/fd/{}", original.as_raw_fd()));
            copy_tree(&from, &resolve::fd_path(&mounted))
                .ctx(|| format!("tmpcopyup into {}", dest.display()))?;
        }
    }
    finish_entry(root, dest, &o)
}

/// The host's mount of a filesystem that a user namespace may be refused
/// (it needs a namespace of the container's own that the spec does not ask
/// for), bound in its place where the host has it mounted.
fn host_instead(fstype: &str) -> Option<&'static str> {
    let host = match fstype {
        "sysfs" => "/sys",
        "mqueue" => "/dev/mqueue",
        _ => return None,
    };
    Path::new(host).exists().then_some(host)
}

/// Copy a directory tree with modes, owners and symlinks (for `tmpcopyup`).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{lchown, MetadataExt, PermissionsExt};
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = entry.metadata()?;
        if meta.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
        } else if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if meta.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            continue;
        }
        lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
        if !meta.file_type().is_symlink() {
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}

/// Propagation and recursive attributes, applied to the mount now on `dest`.
fn finish_entry(root: &OwnedFd, dest: &Path, o: &MountOptions) -> Result<()> {
    if o.propagation.is_empty() && o.attr_set == 0 && o.attr_clr == 0 {
        return Ok(());
    }
    let mounted = resolve::open_or_create(root, dest, Create::Nothing)?;
    for p in &o.propagation {
        mount(
            None::<&str>,
            &resolve::fd_path(&mounted),
            None::<&str>,
            *p,
            None::<&str>,
        )
        .ctx(|| format!("set propagation of {}", dest.display()))?;
    }
    if o.attr_set != 0 || o.attr_clr != 0 {
        set_recursive_attr(&mounted, o.attr_set, o.attr_clr)
            .ctx(|| format!("mount_setattr on {}", dest.display()))?;
    }
    Ok(())
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn set_recursive_attr(fd: &OwnedFd, set: u64, clr: u64) -> std::io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr reads size_of::<MountAttr>() bytes from `attr`, which
    // lives across the call; the path is an empty C string.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Remount a bind mount with `flags`, keeping the flags the kernel locks
/// (nosuid, nodev, noexec, atime) when the first try is refused.
fn remount(path: &Path, flags: MsFlags) -> nix::Result<()> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount(None::<&str>, path, None::<&str>, base | flags, None::<&str>) {
        Err(nix::errno::Errno::EPERM) => {
            let locked = locked_flags(path)?;
            mount(
                None::<&str>,
                path,
                None::<&str>,
                base | flags | locked,
                None::<&str>,
            )
        }
        r => r,
    }
}

fn locked_flags(path: &Path) -> nix::Result<MsFlags> {
    let st = statvfs(path)?.flags();
    let pairs = [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
    ];
    Ok(pairs
        .iter()
        .filter(|(s, _)| st.contains(*s))
        .fold(MsFlags::empty(), |acc, (_, m)| acc | *m))
}

/// A `cgroup` mount: on a pure v2 host one cgroup2 mount; on a v1 or hybrid
/// host a tmpfs holding one mount per hierarchy the host has, named as there.
fn mount_cgroup(s: &Setup, root: &OwnedFd, dest: &Path, o: &MountOptions) -> Result<()> {
    let hierarchies = skiff_cgroups::hierarchies()?;
    let show = || format!("mount cgroups on {}", dest.display());
    if let [h] = hierarchies.as_slice() {
        if h.fstype == "cgroup2" {
            return mount_hierarchy(s, root, dest, h, o.flags);
        }
    }
    let target = resolve::open_or_create(root, dest, Create::Dir)?;
    let tmpfs_flags = (o.flags & !MsFlags::MS_RDONLY) | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    mount(
        Some("tmpfs"),
        &resolve::fd_path(&target),
        Some("tmpfs"),
        tmpfs_flags,
        Some("mode=755"),
    )
    .ctx(show)?;
    for h in &hierarchies {
        if let Some(name) = h.mount_point.file_name() {
            mount_hierarchy(s, root, &dest.join(name), h, o.flags)?;
        }
    }
    if o.flags.contains(MsFlags::MS_RDONLY) {
        let mounted = resolve::open_or_create(root, dest, Create::Nothing)?;
        remount(
            &resolve::fd_path(&mounted),
            tmpfs_flags | MsFlags::MS_RDONLY,
        )
        .ctx(show)?;
    }
    Ok(())
}

/// One hierarchy at `dest`: a new mount when the container has a cgroup
/// namespace (it then sees its own cgroup as the root); otherwise a bind of
/// the container's own cgroup directory, so that it sees neither the host's
/// tree nor other containers (as runc does).
fn mount_hierarchy(
    s: &Setup,
    root: &OwnedFd,
    dest: &Path,
    h: &skiff_cgroups::Hierarchy,
    flags: MsFlags,
) -> Result<()> {
    let (host, fstype) = (h.mount_point.as_path(), h.fstype);
    let target = resolve::open_or_create(root, dest, Create::Dir)?;
    let show = || {
        format!(
            "mount the {} cgroup hierarchy on {}",
            host.display(),
            dest.display()
        )
    };
    if s.cgroupns {
        let data = (fstype == "cgroup").then_some(h.options.as_str());
        match mount(
            Some(fstype),
            &resolve::fd_path(&target),
            Some(fstype),
            flags,
            data,
        ) {
            Err(nix::errno::Errno::EPERM) if s.userns => {}
            r => return r.ctx(show),
        }
    }
    let cgroup = match s.cgroup_path {
        Some(path) => path.to_path_buf(),
        None => current_cgroup(h)?,
    };
    let own = host.join(cgroup.strip_prefix("/").unwrap_or(&cgroup));
    let bind = MsFlags::MS_BIND | MsFlags::MS_REC;
    mount(
        Some(&own),
        &resolve::fd_path(&target),
        None::<&str>,
        bind,
        None::<&str>,
    )
    .ctx(show)?;
    let extra =
        flags & (MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC);
    if !extra.is_empty() {
        let mounted = resolve::open_or_create(root, dest, Create::Nothing)?;
        remount(&resolve::fd_path(&mounted), extra).ctx(show)?;
    }
    Ok(())
}

/// This process's cgroup in hierarchy `h`, from `/proc/self/cgroup`: the
/// line whose controllers are the hierarchy's (`0::` for cgroup2).
fn current_cgroup(h: &skiff_cgroups::Hierarchy) -> Result<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup")
        .ctx(|| "read /proc/self/cgroup".to_string())?;
    let mut wanted: Vec<&str> = h.options.split(',').filter(|c| !c.is_empty()).collect();
    wanted.sort_unstable();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let mut have: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
            have.sort_unstable();
            (have == wanted).then(|| PathBuf::from(path))
        })
        .next()
        .ok_or_else(|| {
            Error::Init(format!(
                "/proc/self/cgroup has no line for the cgroup hierarchy at {}",
                h.mount_point.display()
            ))
        })
}

/// Make the rootfs the process's root: pivot_root, or a move mount and chroot
/// when `no_pivot` (for roots on a ramfs, where pivot_root is not allowed).
pub fn enter(rootfs: &Path, no_pivot: bool) -> Result<()> {
    if no_pivot {
        chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
        mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
            .ctx(|| "move the rootfs mount onto /".to_string())?;
        chroot(".").ctx(|| "chroot into the rootfs".to_string())?;
        return chdir("/").ctx(|| "chdir /".to_string());
    }
    let old = File::open("/").ctx(|| "open /".to_string())?;
    let new = File::open(rootfs).ctx(|| format!("open {}", rootfs.display()))?;
    fchdir(new.as_raw_fd()).ctx(|| format!("chdir {}", rootfs.display()))?;
    pivot_root(".", ".").ctx(|| format!("pivot_root into {}", rootfs.display()))?;
    fchdir(old.as_raw_fd()).ctx(|| "chdir to the old root".to_string())?;
    mount(
        None::<&str>,
        ".",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "make the old root a slave".to_string())?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "detach the old root".to_string())?;
    chdir("/").ctx(|| "chdir /".to_string())
}

/// What is done inside the new root: propagation of /, sysctls, read-only and
/// masked paths, and a read-only root last.
pub fn finish(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    if let Some(p) = linux.and_then(|l| l.rootfs_propagation().as_ref()) {
        let flags = mount_options::propagation(p).ok_or_else(|| {
            Error::Spec(format!(
                "linux.rootfsPropagation {p:?} is not a propagation mode"
            ))
        })?;
        mount(None::<&str>, "/", None::<&str>, flags, None::<&str>)
            .ctx(|| format!("set rootfs propagation {p}"))?;
    }
    for (key, value) in linux
        .and_then(|l| l.sysctl().as_ref())
        .into_iter()
        .flatten()
    {
        let path = PathBuf::from("/proc/sys").join(key.replace('.', "/"));
        std::fs::write(&path, value).ctx(|| format!("set sysctl {key}={value}"))?;
    }
    for p in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        readonly_path(Path::new(p))?;
    }
    for p in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        mask_path(Path::new(p))?;
    }
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        remount(Path::new("/"), MsFlags::MS_RDONLY)
            .ctx(|| "remount the root read-only".to_string())?;
    }
    Ok(())
}

fn readonly_path(path: &Path) -> Result<()> {
    let show = || format!("make {} read-only", path.display());
    match mount(
        Some(path),
        path,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    ) {
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        r => r.ctx(show)?,
    }
    remount(path, MsFlags::MS_RDONLY | MsFlags::MS_REC).ctx(show)
}

fn mask_path(path: &Path) -> Result<()> {
    let show = || format!("mask {}", path.display());
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx(show),
    };
    if meta.is_dir() {
        mount(
            Some("tmpfs"),
            path,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .ctx(show)
    } else {
        mount(
            Some("/dev/null"),
            path,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(show)
    }
}
