//! Protection against overwriting the runtime binary from inside a container
//! (CVE-2019-5736): before any command that enters a container, the runtime
//! re-executes itself from a read-only view of its binary, so that the
//! `/proc/PID/exe` a container process could reach cannot be opened for
//! writing. The view is a read-only bind mount of the binary in a mount
//! namespace of the runtime's own (a few system calls); where that is not
//! allowed (no CAP_SYS_ADMIN), a sealed memfd copy of the binary (a copy of
//! every byte).

use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use anyhow::{Context, Result};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Re-exec from a read-only view unless this process already runs from one.
pub fn ensure() -> Result<()> {
    let exe = File::open("/proc/self/exe").context("open /proc/self/exe")?;
    // SAFETY: fcntl with an integer command on a descriptor we own.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    if seals >= 0 && seals & SEALS == SEALS || read_only(&exe) {
        return Ok(());
    }
    let target = match read_only_view() {
        Ok(fd) => fd,
        Err(_) => sealed_copy(exe)?,
    };
    reexec(&target)
}

/// Whether the binary is on a read-only mount (then nothing can write it).
fn read_only(exe: &File) -> bool {
    nix::sys::statvfs::fstatvfs(exe)
        .map(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
        .unwrap_or(false)
}

/// A private mount namespace in which the binary is bind-mounted read-only
/// over itself; returns the binary opened through that mount.
fn read_only_view() -> Result<OwnedFd> {
    use nix::mount::{mount, MsFlags};
    let path = std::fs::read_link("/proc/self/exe").context("read /proc/self/exe")?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .context("unshare the mount namespace")?;
    // Nothing mounted here may reach the host's mount namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .context("make / a slave")?;
    mount(
        Some(&path),
        &path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .context("bind the runtime binary")?;
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    mount(None::<&str>, &path, None::<&str>, ro, None::<&str>)
        .context("remount the runtime binary read-only")?;
    Ok(File::open(&path)
        .context("open the read-only runtime binary")?
        .into())
}

fn reexec(target: &OwnedFd) -> Result<()> {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| CString::new(a.as_bytes()).context("an argument holds a NUL byte"))
        .collect::<Result<_>>()?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv).context("an environment variable holds a NUL byte")
        })
        .collect::<Result<_>>()?;
    let argv: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    let envp: Vec<*const libc::c_char> = env
        .iter()
        .map(|e| e.as_ptr())
        .chain([std::ptr::null()])
        .collect();
    // SAFETY: argv and envp are NULL-terminated arrays of pointers to C strings
    // that outlive the call; on success execveat does not return.
    unsafe {
        libc::syscall(
            libc::SYS_execveat,
            target.as_raw_fd(),
            c"".as_ptr(),
            argv.as_ptr(),
            envp.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(std::io::Error::last_os_error()).context("re-exec from the read-only runtime")
}

fn sealed_copy(mut exe: File) -> Result<OwnedFd> {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create with a NUL-terminated name and integer flags.
    let fd = unsafe { libc::memfd_create(c"skiff-runtime".as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    let mut memfd = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    std::io::copy(&mut exe, &mut memfd).context("copy the runtime into a memfd")?;
    // SAFETY: fcntl with integer arguments on a descriptor we own.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(std::io::Error::last_os_error()).context("seal the memfd");
    }
    Ok(memfd.into())
}
