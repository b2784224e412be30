//! Compiled filters, kept. Compiling a profile with libseccomp costs
//! milliseconds (Docker's default profile: about 9 ms here), and it used to
//! happen twice per container: when `create` checks the spec and again in
//! init. Now `create` compiles once, keeps the BPF program in memory (init,
//! a clone of the runtime, inherits it and only makes the seccomp(2) call)
//! and on disk under `/run/skiff-seccomp` (an ordinary user's under
//! `skiff-seccomp` in its own runtime directory), keyed by the SHA-256 of the
//! profile, the libseccomp version and the architecture, so the next
//! container with the same profile compiles nothing.
//!
//! Only profiles without flags and without SCMP_ACT_NOTIFY are kept: those
//! need libseccomp's own load (flags it translates, the listener descriptor).

use std::fs;
use std::io::{Read, Seek};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use oci_spec::runtime::LinuxSeccomp;
use sha2::{Digest, Sha256};

use super::filter;
use crate::error::{Context, Error, Result};

/// Where root keeps compiled programs (tmpfs: gone with the kernel they fit).
const DIR: &str = "/run/skiff-seccomp";

/// Where this process keeps compiled programs: [`DIR`] for root; for an
/// ordinary user `skiff-seccomp` in its runtime directory when that is its
/// own, so that nobody else can put a program there; else nowhere (each
/// container compiles its profile).
fn dir() -> Option<PathBuf> {
    use std::os::unix::fs::MetadataExt;
    if nix::unistd::geteuid().is_root() {
        return Some(PathBuf::from(DIR));
    }
    let own = crate::state::user_runtime_dir()
        .filter(|d| fs::metadata(d).is_ok_and(|m| m.uid() == nix::unistd::geteuid().as_raw()))?;
    Some(own.join("skiff-seccomp"))
}

/// The program this process compiled or read last: (key, BPF bytes).
static LAST: Mutex<Option<(String, Vec<u8>)>> = Mutex::new(None);

/// Whether the profile's program can be kept and loaded with a plain
/// seccomp(2) call.
pub fn cacheable(s: &LinuxSeccomp) -> bool {
    s.flags().as_ref().is_none_or(|f| f.is_empty()) && !super::uses_notify(s)
}

fn key(s: &LinuxSeccomp) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(s).unwrap_or_default());
    let v =
        libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro));
    h.update(v.unwrap_or_default());
    h.update(std::env::consts::ARCH);
    h.update(filter::OPTIMIZE.to_le_bytes());
    hex::encode(h.finalize())
}

/// The profile's BPF program, compiled (and so checked) unless this process
/// or the disk cache has it; remembered for [`load`], and with `disk` kept
/// on disk for the next process (only containers about to be made write
/// there, not a mere check).
pub fn prepare(s: &LinuxSeccomp, disk: bool) -> Result<()> {
    let key = key(s);
    let path = dir().map(|d| d.join(&key));
    let disk = disk && path.is_some();
    if let Some((_, bpf)) = LAST
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .filter(|(k, _)| *k == key)
    {
        if let Some(path) = path.as_deref().filter(|p| disk && !p.exists()) {
            store(path, bpf);
        }
        return Ok(());
    }
    let cached = path
        .as_deref()
        .and_then(|p| fs::read(p).ok())
        .filter(|b| !b.is_empty() && b.len() % 8 == 0);
    let bpf = match cached {
        Some(bytes) => bytes,
        None => {
            let bytes = compile(s)?;
            if let Some(path) = path.as_deref().filter(|_| disk) {
                store(path, &bytes);
            }
            bytes
        }
    };
    *LAST.lock().unwrap_or_else(|p| p.into_inner()) = Some((key, bpf));
    Ok(())
}

/// Loads the program [`prepare`] kept for this profile, if it kept one;
/// `None` when the caller must compile.
pub fn load(s: &LinuxSeccomp) -> Option<Result<()>> {
    let guard = LAST.lock().unwrap_or_else(|p| p.into_inner());
    let (k, bpf) = guard.as_ref()?;
    if *k != key(s) {
        return None;
    }
    let prog = libc::sock_fprog {
        len: (bpf.len() / 8) as u16,
        filter: bpf.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: prog points at `len` sock_filter records (8 bytes each, the
    // layout libseccomp exported) that live for the duration of the call.
    let rc = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog) };
    Some(if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()).ctx(|| {
            "load the seccomp filter (without no_new_privs this needs CAP_SYS_ADMIN)".to_string()
        })
    })
}

/// Compiles the profile and exports its program through a memfd.
fn compile(s: &LinuxSeccomp) -> Result<Vec<u8>> {
    let built = filter::build(s)?;
    // SAFETY: memfd_create with a static NUL-terminated name and flags.
    let fd = unsafe { libc::memfd_create(c"seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "memfd_create".to_string());
    }
    // SAFETY: fd was just created and is owned by nothing else.
    let mut file = fs::File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    built.export(file.as_raw_fd())?;
    let mut bytes = Vec::new();
    file.rewind()
        .and_then(|()| file.read_to_end(&mut bytes))
        .ctx(|| "read the exported seccomp program".to_string())?;
    if bytes.is_empty() || bytes.len() % 8 != 0 {
        return Err(Error::Spec(
            "libseccomp exported a malformed program".into(),
        ));
    }
    Ok(bytes)
}

/// Keeps the program on disk; a cache that cannot be written only costs a
/// compile next time.
fn store(path: &Path, bytes: &[u8]) {
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let parent = path.parent().unwrap_or(Path::new(DIR));
    let written = fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .and_then(|()| fs::write(&tmp, bytes))
        .and_then(|()| fs::rename(&tmp, path));
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
}
