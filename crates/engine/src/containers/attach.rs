//! The foreground side of `run` and `start -a`: while the container runs,
//! signals sent to `skiff` go to it, and with a terminal our terminal is put
//! in raw mode and copied to and from its pty, with its size passed on and
//! ctrl-p ctrl-q to detach. Returns the exit code the monitor reports.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use super::lifecycle::Attached;
use super::monitor::{self, Report};
use crate::{Error, Result};

/// ctrl-p then ctrl-q, Docker's detach keys.
const DETACH: [u8; 2] = [0x10, 0x11];

/// How an attached session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The container exited with this code.
    Exited(i32),
    /// The user detached; the container runs on.
    Detached,
    /// The monitor went away without a report.
    MonitorGone,
}

/// Blocks the forwarded signals so that they queue for the signalfd; call
/// before starting the container.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in skiff_runtime::signals::FORWARDED {
        set.add(s);
    }
    set.thread_block()
        .map_err(|e| Error::Io("blocking signals".into(), e.into()))?;
    Ok(set)
}

/// Follows the attached container until it exits or the user detaches.
pub fn follow(attached: &Attached, signals: &SigSet) -> Result<Ended> {
    let sfd = SignalFd::with_flags(signals, SfdFlags::SFD_CLOEXEC)
        .map_err(|e| Error::Io("signalfd".into(), e.into()))?;
    let _raw = attached
        .pty
        .as_ref()
        .and_then(|_| skiff_runtime::console::RawMode::enter());
    if let Some(m) = &attached.pty {
        skiff_runtime::console::copy_winsize(std::io::stdin(), m);
    }
    let mut stdin_open = attached.pty.is_some();
    let mut pending_ctrl_p = false;
    loop {
        let stdin = std::io::stdin();
        let mut fds = vec![
            PollFd::new(sfd.as_fd(), PollFlags::POLLIN),
            PollFd::new(attached.monitor.as_fd(), PollFlags::POLLIN),
        ];
        if let Some(m) = &attached.pty {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.map_err(|e| Error::Io("poll".into(), e.into()))?,
        };
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0] {
            forward(&sfd, attached)?;
        }
        if let Some(m) = &attached.pty {
            if ready.get(2) == Some(&true) {
                copy(m.as_fd(), std::io::stdout().as_fd());
            }
            if ready.get(3) == Some(&true) {
                match copy_stdin(m, &mut pending_ctrl_p) {
                    Input::Open => {}
                    Input::Closed => stdin_open = false,
                    Input::Detach => return Ok(Ended::Detached),
                }
            }
        }
        if ready[1] {
            return Ok(match monitor::recv(attached.monitor.as_raw_fd()) {
                Some((Report::Exited(code), _)) => {
                    drain(attached.pty.as_ref());
                    Ended::Exited(code)
                }
                _ => Ended::MonitorGone,
            });
        }
    }
}

fn forward(sfd: &SignalFd, attached: &Attached) -> Result<()> {
    let Some(info) = sfd
        .read_signal()
        .map_err(|e| Error::Io("signalfd".into(), e.into()))?
    else {
        return Ok(());
    };
    match Signal::try_from(info.ssi_signo as i32) {
        Ok(Signal::SIGWINCH) => {
            if let Some(m) = &attached.pty {
                skiff_runtime::console::copy_winsize(std::io::stdin(), m);
            }
        }
        Ok(sig) => {
            let _ = kill(Pid::from_raw(attached.pid), sig);
        }
        Err(_) => {}
    }
    Ok(())
}

enum Input {
    Open,
    Closed,
    Detach,
}

/// Copies what the user typed to the pty, watching for the detach keys.
fn copy_stdin(pty: &OwnedFd, pending_ctrl_p: &mut bool) -> Input {
    let mut buf = [0u8; 4096];
    let n = match nix::unistd::read(std::io::stdin().as_raw_fd(), &mut buf) {
        Ok(0) | Err(_) => return Input::Closed,
        Ok(n) => n,
    };
    let mut out = Vec::with_capacity(n + 1);
    for &b in &buf[..n] {
        match (*pending_ctrl_p, b) {
            (true, b) if b == DETACH[1] => return Input::Detach,
            (true, b) => {
                out.push(DETACH[0]);
                *pending_ctrl_p = b == DETACH[0];
                if !*pending_ctrl_p {
                    out.push(b);
                }
            }
            (false, b) if b == DETACH[0] => *pending_ctrl_p = true,
            (false, b) => out.push(b),
        }
    }
    let _ = write_all(pty.as_fd(), &out);
    Input::Open
}

/// Copies what is ready; the number of bytes (0 at end or on error).
fn copy(from: BorrowedFd, to: BorrowedFd) -> usize {
    let mut buf = [0u8; 8192];
    match nix::unistd::read(from.as_raw_fd(), &mut buf) {
        Ok(n) if n > 0 => {
            let _ = write_all(to, &buf[..n]);
            n
        }
        _ => 0,
    }
}

fn write_all(to: BorrowedFd, mut bytes: &[u8]) -> nix::Result<()> {
    while !bytes.is_empty() {
        let n = nix::unistd::write(to, bytes)?;
        bytes = &bytes[n..];
    }
    Ok(())
}

/// Copies what the pty still holds after the container exited.
fn drain(pty: Option<&OwnedFd>) {
    let Some(m) = pty else { return };
    let _ = nix::fcntl::fcntl(
        m.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    );
    while copy(m.as_fd(), std::io::stdout().as_fd()) > 0 {}
}
