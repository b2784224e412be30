//! A foreground `run` or `exec`: forward signals to the process, copy between
//! our terminal and its pty, reap it, and turn its end into an exit code.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

use crate::error::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Block the signals we forward (and SIGCHLD) so that they queue for the signalfd.
/// Call before creating the process; its init resets the mask.
pub fn block_signals() -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in crate::signals::FORWARDED {
        set.add(s);
    }
    set.add(Signal::SIGCHLD);
    set.thread_block().ctx(|| "block signals".to_string())?;
    Ok(set)
}

/// Wait for `pid` to end, forwarding signals and, with `pty`, the terminal.
/// Returns the exit code: the process's status, or 128 + the signal that killed it.
pub fn wait(pid: Pid, signals: &SigSet, pty: Option<OwnedFd>) -> Result<i32> {
    let sfd =
        SignalFd::with_flags(signals, SfdFlags::SFD_CLOEXEC).ctx(|| "signalfd".to_string())?;
    let _raw = pty.as_ref().and_then(|_| crate::console::RawMode::enter());
    if let Some(m) = &pty {
        crate::console::copy_winsize(std::io::stdin(), m);
    }
    let mut stdin_open = pty.is_some();
    let mut code = reap(pid);
    while code.is_none() {
        let stdin = std::io::stdin();
        let mut fds = vec![PollFd::new(sfd.as_fd(), PollFlags::POLLIN)];
        if let Some(m) = &pty {
            fds.push(PollFd::new(m.as_fd(), PollFlags::POLLIN));
            if stdin_open {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.ctx(|| "poll".to_string())?,
        };
        let ready: Vec<bool> = fds
            .iter()
            .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
            .collect();
        if ready[0] {
            if let Some(info) = sfd.read_signal().ctx(|| "read signalfd".to_string())? {
                code = on_signal(pid, info.ssi_signo as i32, pty.as_ref());
            }
        }
        if let Some(m) = &pty {
            if ready.get(1) == Some(&true) && copy(m.as_fd(), std::io::stdout().as_fd()) == 0 {
                code = code.or_else(|| wait_blocking(pid));
            }
            if ready.get(2) == Some(&true) && copy(stdin.as_fd(), m.as_fd()) == 0 {
                stdin_open = false;
            }
        }
    }
    if let Some(m) = &pty {
        // Drain what the process wrote before it ended, without waiting for more.
        let _ = nix::fcntl::fcntl(
            m.as_raw_fd(),
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        );
        while copy(m.as_fd(), std::io::stdout().as_fd()) > 0 {}
    }
    Ok(code.unwrap_or(0))
}

fn on_signal(pid: Pid, signo: i32, pty: Option<&OwnedFd>) -> Option<i32> {
    let sig = Signal::try_from(signo).ok()?;
    match sig {
        Signal::SIGCHLD => reap(pid),
        Signal::SIGWINCH => {
            if let Some(m) = pty {
                crate::console::copy_winsize(std::io::stdin(), m);
            }
            None
        }
        s => {
            let _ = kill(pid, s);
            None
        }
    }
}

/// Reap every exited child; the exit code of `pid` if it was among them.
fn reap(pid: Pid) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(None::<Pid>, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, c)) if p == pid => code = Some(c),
            Ok(WaitStatus::Signaled(p, s, _)) if p == pid => code = Some(128 + s as i32),
            Ok(WaitStatus::StillAlive) | Err(_) => return code,
            Ok(_) => {}
        }
    }
}

fn wait_blocking(pid: Pid) -> Option<i32> {
    match waitpid(pid, None) {
        Ok(WaitStatus::Exited(_, c)) => Some(c),
        Ok(WaitStatus::Signaled(_, s, _)) => Some(128 + s as i32),
        _ => None,
    }
}

/// Copy what is ready from one descriptor to another; 0 at end of file or error.
fn copy(from: BorrowedFd, to: BorrowedFd) -> usize {
    let mut buf = [0u8; 8192];
    let n = match nix::unistd::read(from.as_raw_fd(), &mut buf) {
        Ok(n) => n,
        Err(_) => return 0,
    };
    let mut done = 0;
    while done < n {
        match nix::unistd::write(to, &buf[done..n]) {
            Ok(w) => done += w,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => break,
        }
    }
    n
}
