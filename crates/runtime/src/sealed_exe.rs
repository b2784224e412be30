//! Protection against overwriting the running binary (the runtime, or the
//! engine when it enters a container) from inside a container
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

use crate::error::{Context, Error, Result};

const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;

/// Re-exec from a read-only view unless this process already runs from one.
pub fn ensure() -> Result<()> {
    let exe = File::open("/proc/self/exe").ctx(|| "open /proc/self/exe".to_string())?;
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
    let path = std::fs::read_link("/proc/self/exe").ctx(|| "read /proc/self/exe".to_string())?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS)
        .ctx(|| "unshare the mount namespace".to_string())?;
    // Nothing mounted here may reach the host's mount namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| "make / a slave".to_string())?;
    mount(
        Some(&path),
        &path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .ctx(|| "bind the runtime binary".to_string())?;
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    mount(None::<&str>, &path, None::<&str>, ro, None::<&str>)
        .ctx(|| "remount the runtime binary read-only".to_string())?;
    Ok(File::open(&path)
        .ctx(|| "open the read-only runtime binary".to_string())?
        .into())
}

fn reexec(target: &OwnedFd) -> Result<()> {
    let args: Vec<CString> = std::env::args_os()
        .map(|a| {
            CString::new(a.as_bytes())
                .map_err(|_| Error::Usage("an argument holds a NUL byte".into()))
        })
        .collect::<Result<_>>()?;
    let env: Vec<CString> = std::env::vars_os()
        .map(|(k, v)| {
            let mut kv = k.as_bytes().to_vec();
            kv.push(b'=');
            kv.extend_from_slice(v.as_bytes());
            CString::new(kv)
                .map_err(|_| Error::Usage("an environment variable holds a NUL byte".into()))
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
    Err(std::io::Error::last_os_error()).ctx(|| "re-exec from the read-only runtime".to_string())
}

fn sealed_copy(mut exe: File) -> Result<OwnedFd> {
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create with a NUL-terminated name and integer flags.
    let fd = unsafe { libc::memfd_create(c"skiff-runtime".as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "memfd_create".to_string());
    }
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    let mut memfd = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    std::io::copy(&mut exe, &mut memfd).ctx(|| "copy the runtime into a memfd".to_string())?;
    // SAFETY: fcntl with integer arguments on a descriptor we own.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "seal the memfd".to_string());
    }
    Ok(memfd.into())
}
