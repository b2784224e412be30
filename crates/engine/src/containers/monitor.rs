//! The per-container monitor: a fork of `skiff` (setsid, child subreaper)
//! that is the container's parent for as long as it lives. It mounts the
//! root filesystem, writes the spec, creates and starts the container
//! through its runtime, keeps its output in the log, records its exit,
//! applies the restart policy and `--rm`, and tells the `skiff` that
//! started it (when it is still there) what happened. Once the container
//! runs it re-executes `skiff` to wait with less memory ([`handover`]).
//!
//! The monitor and that `skiff` talk over a SOCK_SEQPACKET pair: the monitor
//! sends one JSON [`Report`] per message (with the pty master attached to
//! `Started` for a terminal); the `skiff` side closing its end means it
//! detached (or died), after which the monitor logs what a terminal says.

use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Duration;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

use super::handover;
use super::logs::LogWriter;
use super::record::RestartPolicy;
use super::running::{self, Stdio};
use crate::{Engine, Error, Result};

/// What the monitor tells the `skiff` that started it.
#[derive(Debug, Serialize, Deserialize)]
pub enum Report {
    /// The container's process runs (its pid on the host).
    Started(i32),
    /// It could not be started: an exit code (125, 126, 127) and why.
    Failed(u8, String),
    /// It ended with this exit code.
    Exited(i32),
}

/// Sends a report, with a descriptor if given; a gone peer is not an error.
pub fn send(sock: RawFd, report: &Report, fd: Option<&OwnedFd>) -> bool {
    skiff_runtime::fdpass::send_json(sock, report, fd).is_ok()
}

/// Receives a report and any descriptor with it; `None` when the monitor
/// closed its end.
pub fn recv(sock: RawFd) -> Option<(Report, Option<OwnedFd>)> {
    skiff_runtime::fdpass::recv_json(sock).ok().flatten()
}

/// The monitor's life: runs the container until it is done with it, then
/// exits the process.
pub fn main(engine: &Engine, id: &str, stdio: Stdio, peer: OwnedFd) -> ! {
    let listener = match stdio {
        Stdio::Tty => attach_listener(engine, id).map(Some),
        _ => Ok(None),
    };
    let result = listener.and_then(|l| supervise(engine, id, stdio, Some(peer), l, true));
    exit_with(engine, id, result)
}

/// Ends the monitor: 0 when it did all it had to, 1 (with the error in the
/// container's record) when not.
pub(super) fn exit_with(engine: &Engine, id: &str, result: Result<()>) -> ! {
    let code = match result {
        Ok(()) => 0,
        Err(e) => {
            let _ = running::record_error(engine, id, &e.to_string());
            1
        }
    };
    std::process::exit(code)
}

/// Starts the container (again), waits for it and handles its exit, for
/// as long as the restart policy says. `first`: the `skiff` at the other
/// end of `peer` waits to hear whether it started.
fn supervise(
    engine: &Engine,
    id: &str,
    stdio: Stdio,
    mut peer: Option<OwnedFd>,
    listener: Option<OwnedFd>,
    mut first: bool,
) -> Result<()> {
    block_signals()?;
    loop {
        let run = match running::start(engine, id, stdio) {
            Ok(run) => run,
            Err(e) => {
                let code = match &e {
                    Error::Command { code, .. } => *code,
                    _ => 125,
                };
                if let Some(p) = peer.as_ref().filter(|_| first) {
                    send(p.as_raw_fd(), &Report::Failed(code, e.to_string()), None);
                }
                running::finish(engine, id, i32::from(code), &e.to_string())?;
                return Ok(());
            }
        };
        if first {
            let sent = peer
                .as_ref()
                .is_some_and(|p| send(p.as_raw_fd(), &Report::Started(run.pid), run.pty.as_ref()));
            if !sent {
                peer = None;
            }
            first = false;
        }
        // A foreground run without a terminal hands the container skiff's
        // own stdio and ends with it: it keeps the fork, sparing the exec
        // to the short commands that are run that way most.
        if let Some(exe) = engine
            .options
            .monitor_exe
            .as_ref()
            .filter(|_| stdio != Stdio::Inherit)
        {
            let held = handover::Held {
                run: &run,
                peer: peer.as_ref(),
                listener: listener.as_ref(),
            };
            // Returns only if the binary is gone; waiting here does the same.
            let _ = handover::exec(exe, engine, id, stdio, &held);
        }
        let config = engine.containers.config(id)?;
        let dir = engine.containers.dir(id);
        let limits = (config.log_max_size, config.log_max_file);
        let code = wait_logged(&dir, limits, &run, &mut peer, listener.as_ref())?;
        if !after_exit(engine, id, code, peer.as_ref(), listener.is_some())? {
            return Ok(());
        }
    }
}

/// After a run ended with `code` in a re-executed monitor: the exit handled
/// and, when the policy says so, the container supervised again.
pub(super) fn continue_after(
    engine: &Engine,
    id: &str,
    stdio: Stdio,
    code: i32,
    peer: Option<OwnedFd>,
    listener: Option<OwnedFd>,
) -> Result<()> {
    match after_exit(engine, id, code, peer.as_ref(), listener.is_some())? {
        true => supervise(engine, id, stdio, peer, listener, false),
        false => Ok(()),
    }
}

/// Records the exit; returns whether to start the container again, else
/// removes it for `--rm` and tells the attached `skiff` the exit code.
fn after_exit(
    engine: &Engine,
    id: &str,
    code: i32,
    peer: Option<&OwnedFd>,
    attachable: bool,
) -> Result<bool> {
    // Read before the exit is recorded: from then on `rm` may remove the
    // container's files.
    let config = engine.containers.config(id)?;
    running::finish(engine, id, code, "")?;
    let state = engine.containers.state(id)?;
    if should_restart(
        config.restart,
        code,
        state.restart_count,
        state.stopped_by_user,
    ) {
        running::mark_restarting(engine, id)?;
        std::thread::sleep(backoff(state.restart_count));
        if !engine.containers.state(id)?.stopped_by_user {
            return Ok(true);
        }
        running::record_exit(engine, id, code, "")?;
    }
    if attachable {
        let _ = std::fs::remove_file(attach_path(engine, id));
    }
    if config.auto_remove {
        engine.remove_container_and_volumes(id, true, true)?;
    }
    if let Some(p) = peer {
        send(p.as_raw_fd(), &Report::Exited(code), None);
    }
    Ok(false)
}

/// Waits for the run to end, its output going to the log in `dir` (rotated
/// at `limits`: size, files); its exit code.
pub(super) fn wait_logged(
    dir: &Path,
    limits: (u64, u32),
    run: &running::Running,
    peer: &mut Option<OwnedFd>,
    listener: Option<&OwnedFd>,
) -> Result<i32> {
    let signals = block_signals()?;
    let mut log = LogWriter::open(dir, limits.0, limits.1)?;
    let code = wait(run, &signals, peer, listener, &mut log)?;
    log.flush()?;
    Ok(code)
}

/// Where `skiff attach` finds a terminal container's monitor. Under the run
/// root, whose paths are short: a unix socket's path must fit 108 bytes.
pub fn attach_path(engine: &Engine, id: &str) -> std::path::PathBuf {
    engine
        .options
        .runroot
        .join("attach")
        .join(format!("{}.sock", &id[..12]))
}

fn attach_listener(engine: &Engine, id: &str) -> Result<OwnedFd> {
    use nix::sys::socket::{
        bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, UnixAddr,
    };
    let path = attach_path(engine, id);
    if let Some(dir) = path.parent() {
        skiff_image::store::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&path);
    let io = |e: nix::Error| Error::Io(format!("attach socket {}", path.display()), e.into());
    let fd = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .map_err(io)?;
    bind(fd.as_raw_fd(), &UnixAddr::new(&path).map_err(io)?).map_err(io)?;
    listen(&fd, Backlog::new(4).map_err(io)?).map_err(io)?;
    Ok(fd)
}

/// Whether the policy starts the container again after it exited with `code`.
pub fn should_restart(policy: RestartPolicy, code: i32, count: u32, by_user: bool) -> bool {
    !by_user
        && match policy {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => code != 0 && (max == 0 || count < max),
        }
}

fn backoff(count: u32) -> Duration {
    Duration::from_millis(100u64 << count.min(7))
}

fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGPIPE,
    ] {
        set.add(s);
    }
    set.thread_block()
        .map_err(|e| Error::Io("blocking signals".into(), e.into()))?;
    Ok(set)
}

/// Waits for the container's init to exit, logging its output unless a
/// terminal is attached (the first `skiff`, or `skiff attach` through
/// `listener`); returns its exit code (128 + the signal that killed it).
fn wait(
    run: &running::Running,
    signals: &SigSet,
    peer: &mut Option<OwnedFd>,
    listener: Option<&OwnedFd>,
    log: &mut LogWriter,
) -> Result<i32> {
    let sfd = SignalFd::with_flags(signals, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::Io("signalfd".into(), e.into()))?;
    let init = Pid::from_raw(run.pid);
    let mut streams: Vec<Option<&OwnedFd>> = match &run.pty {
        Some(m) => vec![Some(m), None],
        None => run.pipes.iter().map(Some).collect(),
    };
    loop {
        let read_pty = run.pty.is_none() || peer.is_none();
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        let mut which = Vec::new();
        for (i, s) in streams.iter().enumerate() {
            if let Some(fd) = s.filter(|_| read_pty) {
                fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
                which.push(i);
            }
        }
        let peer_at = peer.as_ref().map(|p| {
            fds.push(PollFd::new(p.as_fd(), PollFlags::empty()));
            fds.len() - 1
        });
        let listener_at = listener.filter(|_| peer.is_none()).map(|l| {
            fds.push(PollFd::new(l.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.map_err(|e| Error::Io("poll".into(), e.into()))?,
        };
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        let flags: Vec<bool> = fds.iter().map(ready).collect();
        if peer_at.is_some_and(|i| flags[i]) {
            *peer = None;
        }
        if let (Some(i), Some(l)) = (listener_at, listener) {
            if flags[i] {
                *peer = accept_attach(l, run);
            }
        }
        for (k, i) in which.iter().enumerate() {
            if flags[k + 1] && !copy_to_log(streams[*i].expect("polled"), *i, log)? {
                streams[*i] = None;
            }
        }
        if flags[0] {
            if let Some(code) = on_signal(&sfd, init)? {
                // An attached terminal's last output is the attached side's to read.
                if read_pty {
                    drain(&streams, log)?;
                }
                return Ok(code);
            }
        }
    }
}

/// A `skiff attach` connecting: it gets the pty master, and the monitor
/// stops logging the terminal until it goes.
fn accept_attach(listener: &OwnedFd, run: &running::Running) -> Option<OwnedFd> {
    let fd = nix::sys::socket::accept4(
        listener.as_raw_fd(),
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )
    .ok()?;
    // SAFETY: accept returned a new descriptor that nothing else owns.
    let conn = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    send(
        conn.as_raw_fd(),
        &Report::Started(run.pid),
        run.pty.as_ref(),
    )
    .then_some(conn)
}

/// SIGCHLD reaps; the other signals the monitor gets go on to init.
fn on_signal(sfd: &SignalFd, init: Pid) -> Result<Option<i32>> {
    let Some(info) = sfd
        .read_signal()
        .map_err(|e| Error::Io("signalfd".into(), e.into()))?
    else {
        return Ok(None);
    };
    let signo = info.ssi_signo as i32;
    if signo == libc::SIGCHLD {
        return Ok(reap(init));
    }
    if let Some(sig) = Signal::try_from(signo)
        .ok()
        .filter(|s| *s != Signal::SIGPIPE)
    {
        let _ = nix::sys::signal::kill(init, sig);
    }
    Ok(None)
}

/// Reaps every exited child; init's exit code if it was among them.
fn reap(init: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) if p == init => code = Some(c),
            Ok(WaitStatus::Signaled(p, s, _)) if p == init => code = Some(128 + s as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(_) => {}
        }
    }
}

/// Reads what is ready on `fd` into the log; false at end of file.
fn copy_to_log(fd: &OwnedFd, stream: usize, log: &mut LogWriter) -> Result<bool> {
    let mut buf = [0u8; 16384];
    match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
        Ok(0) | Err(nix::errno::Errno::EIO) => Ok(false),
        Ok(n) => log.write(stream, &buf[..n]).map(|()| true),
        Err(nix::errno::Errno::EAGAIN) | Err(nix::errno::Errno::EINTR) => Ok(true),
        Err(e) => Err(Error::Io("reading the container's output".into(), e.into())),
    }
}

/// Logs what the streams still hold after init exited, without waiting
/// for writers that outlived it.
fn drain(streams: &[Option<&OwnedFd>], log: &mut LogWriter) -> Result<()> {
    for (i, fd) in streams.iter().enumerate() {
        let Some(fd) = fd else { continue };
        let _ = nix::fcntl::fcntl(
            fd.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        while copy_to_log(fd, i, log)? {
            let mut probe = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
            if poll(&mut probe, PollTimeout::ZERO).unwrap_or(0) == 0 {
                break;
            }
        }
    }
    Ok(())
}
