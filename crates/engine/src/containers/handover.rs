//! A monitor sheds its memory once the container runs: it re-executes
//! `skiff`, and the new image waits for the container with only the pages
//! waiting needs.
//!
//! The monitor is a fork of the `skiff` that started the container, so it
//! holds every page that command touched: argument parsing, image and
//! runtime code, the heap (about 6 MB resident, most of it the binary's
//! text). `execve` keeps what makes it the container's monitor: its pid
//! (recorded in `state.json`), its children, the child-subreaper flag, its
//! session, its signal mask and the descriptors it clears `FD_CLOEXEC` on.
//! Those descriptors and what the wait needs go in one JSON argument after
//! [`RESUME_ARG`]; the binary's `main` must hand them to [`resume`] before
//! anything else.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use serde::{Deserialize, Serialize};

use super::monitor;
use super::running::{Running, Stdio};
use crate::{Engine, EngineOptions, Error, Result};

/// The first argument that makes `skiff` a monitor resuming its wait.
pub const RESUME_ARG: &str = "--skiff-monitor-resume";

/// What a monitor passes to the image it executes.
#[derive(Debug, Serialize, Deserialize)]
struct Handover {
    root: PathBuf,
    runroot: PathBuf,
    #[serde(default)]
    mount_program: Option<PathBuf>,
    exe: PathBuf,
    id: String,
    stdio: Stdio,
    log_max_size: u64,
    log_max_file: u32,
    pid: i32,
    pty: Option<RawFd>,
    pipes: Vec<RawFd>,
    peer: Option<RawFd>,
    listener: Option<RawFd>,
}

/// The monitor's descriptors while the container runs.
pub(super) struct Held<'a> {
    /// The running container.
    pub run: &'a Running,
    /// The `skiff` that started it, while it is attached.
    pub peer: Option<&'a OwnedFd>,
    /// The attach socket of a terminal container.
    pub listener: Option<&'a OwnedFd>,
}

/// Executes `exe` as the monitor of `id`, waiting for `held.run`. Returns
/// only when that failed (the binary was replaced or removed since): the
/// caller then waits in this process, which works the same with more
/// memory.
pub(super) fn exec(exe: &Path, engine: &Engine, id: &str, stdio: Stdio, held: &Held) -> Error {
    match try_exec(exe, engine, id, stdio, held) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

fn try_exec(
    exe: &Path,
    engine: &Engine,
    id: &str,
    stdio: Stdio,
    held: &Held,
) -> Result<std::convert::Infallible> {
    let config = engine.containers.config(id)?;
    let raw = |fd: Option<&OwnedFd>| fd.map(AsRawFd::as_raw_fd);
    let handover = Handover {
        root: engine.options.root.clone(),
        runroot: engine.options.runroot.clone(),
        mount_program: engine.options.mount_program.clone(),
        exe: exe.to_path_buf(),
        id: id.to_string(),
        stdio,
        log_max_size: config.log_max_size,
        log_max_file: config.log_max_file,
        pid: held.run.pid,
        pty: raw(held.run.pty.as_ref()),
        pipes: held.run.pipes.iter().map(AsRawFd::as_raw_fd).collect(),
        peer: raw(held.peer),
        listener: raw(held.listener),
    };
    let fds: Vec<RawFd> = [handover.pty, handover.peer, handover.listener]
        .into_iter()
        .flatten()
        .chain(handover.pipes.iter().copied())
        .collect();
    let json = serde_json::to_string(&handover).map_err(|e| Error::Runtime(e.to_string()))?;
    let cstring = |b: &[u8]| CString::new(b).map_err(|e| Error::Runtime(e.to_string()));
    let args = [
        cstring(exe.as_os_str().as_bytes())?,
        cstring(RESUME_ARG.as_bytes())?,
        cstring(json.as_bytes())?,
    ];
    for fd in &fds {
        set_cloexec(*fd, false)?;
    }
    let err = nix::unistd::execv(&args[0], &args).unwrap_err();
    for fd in &fds {
        set_cloexec(*fd, true)?;
    }
    Err(Error::Io(
        format!("executing {}", exe.display()),
        err.into(),
    ))
}

fn set_cloexec(fd: RawFd, on: bool) -> Result<()> {
    let flags = if on {
        FdFlag::FD_CLOEXEC
    } else {
        FdFlag::empty()
    };
    fcntl(fd, FcntlArg::F_SETFD(flags))
        .map(drop)
        .map_err(|e| Error::Io("setting FD_CLOEXEC".into(), e.into()))
}

/// The monitor after [`exec`]: `arg` is the argument after [`RESUME_ARG`].
/// Waits for the container, then does what the monitor does after each
/// run (record the exit, restart, `--rm`); exits the process.
pub fn resume(arg: &OsStr) -> ! {
    let handover: Handover = match serde_json::from_slice(arg.as_bytes()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("skiff: {RESUME_ARG}: {e}");
            std::process::exit(125)
        }
    };
    let (run, peer, listener) = match reclaim(&handover) {
        Ok(held) => held,
        Err(e) => {
            eprintln!("skiff: {RESUME_ARG}: {e}");
            std::process::exit(125)
        }
    };
    let dir = handover.root.join("containers").join(&handover.id);
    let limits = (handover.log_max_size, handover.log_max_file);
    let mut peer = peer;
    drop_clean_file_pages();
    let waited = monitor::wait_logged(&dir, limits, &run, &mut peer, listener.as_ref());
    let options = EngineOptions {
        root: handover.root,
        runroot: handover.runroot,
        monitor_exe: Some(handover.exe),
        mount_program: handover.mount_program,
        ..EngineOptions::default()
    };
    let engine = match Engine::open(options) {
        Ok(engine) => engine,
        Err(e) => {
            eprintln!("skiff: monitor of {}: {e}", handover.id);
            std::process::exit(1)
        }
    };
    let id = handover.id;
    let result = waited.and_then(|code| {
        monitor::continue_after(&engine, &id, handover.stdio, code, peer, listener)
    });
    monitor::exit_with(&engine, &id, result)
}

/// Unmaps from this process the pages of read-only file mappings that hold
/// no private copy (`Anonymous: 0 kB` in smaps): start-up code, parsing,
/// the libraries' initialisation. They are clean page-cache pages, so the
/// next access maps the same bytes again; what the wait loop uses comes
/// back on its first run, the rest stays out of the monitor's resident set.
fn drop_clean_file_pages() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let mut candidate: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(range) = mapping_header(line) {
            candidate = range;
        } else if let (Some((start, end)), Some(rest)) =
            (candidate, line.strip_prefix("Anonymous:"))
        {
            if rest.trim() == "0 kB" {
                // SAFETY: [start, end) is a whole mapping of this process,
                // read-only and file-backed, with no page privately
                // modified: dropping its page-table entries loses nothing,
                // the next access faults the same file bytes back in.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED)
                };
            }
            candidate = None;
        }
    }
}

/// For an smaps mapping header line: `Some(range)` when the mapping is a
/// read-only mapping of a file, `Some(None)` for any other mapping, `None`
/// for a field line.
fn mapping_header(line: &str) -> Option<Option<(usize, usize)>> {
    let mut fields = line.split_whitespace();
    let (range, perms) = (fields.next()?, fields.next()?);
    let (start, end) = range.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let path = fields.nth(3).unwrap_or("");
    let read_only_file = perms.len() == 4 && !perms.contains('w') && path.starts_with('/');
    Some(read_only_file.then_some((start, end)))
}

/// Takes ownership of the handed-over descriptors again, close-on-exec.
fn reclaim(h: &Handover) -> Result<(Running, Option<OwnedFd>, Option<OwnedFd>)> {
    let own = |fd: RawFd| -> Result<OwnedFd> {
        set_cloexec(fd, true)?;
        // SAFETY: the monitor that executed this image handed `fd` over
        // open; nothing else in this fresh image has taken it.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let run = Running {
        pid: h.pid,
        pty: h.pty.map(own).transpose()?,
        pipes: h.pipes.iter().map(|fd| own(*fd)).collect::<Result<_>>()?,
    };
    Ok((
        run,
        h.peer.map(own).transpose()?,
        h.listener.map(own).transpose()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_read_only_file_mappings_are_candidates() {
        let text = "55931cd14000-55931d3bc000 r-xp 0024a000 fe:00 5350210   /usr/bin/skiff";
        assert_eq!(
            mapping_header(text),
            Some(Some((0x55931cd14000, 0x55931d3bc000)))
        );
        let data = "7f00-8f00 rw-p 00000000 fe:00 5350210   /usr/bin/skiff";
        assert_eq!(mapping_header(data), Some(None));
        assert_eq!(
            mapping_header("7f00-8f00 r--p 00000000 00:00 0   [vvar]"),
            Some(None)
        );
        assert_eq!(
            mapping_header("7f00-8f00 r--p 00000000 00:00 0"),
            Some(None)
        );
        assert_eq!(mapping_header("Anonymous:             0 kB"), None);
    }
}
