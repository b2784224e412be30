//! Starting, stopping, killing, pausing, removing and waiting for
//! containers, from any `skiff` process; and the truth about a container's
//! state when its monitor died (kill -9) and the record went stale.

use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::{fork, ForkResult};

use super::driver::Driver;
use super::monitor::{self, Report};
use super::record::{ContainerState, Status};
use super::rootfs;
use super::running::{self, Stdio};
use crate::{Engine, Error, Result};

/// How often a waiting command looks at a container again.
const POLL: Duration = Duration::from_millis(10);

/// A container just started by this process, still connected to its monitor.
pub struct Attached {
    /// The socket to the monitor: it reports the exit here.
    pub monitor: OwnedFd,
    /// The container's init.
    pub pid: i32,
    /// The pty master, for a terminal.
    pub pty: Option<OwnedFd>,
}

fn running(state: &ContainerState) -> bool {
    matches!(
        state.status,
        Status::Running | Status::Paused | Status::Restarting
    )
}

/// Whether the process `pid` that started at `start` still lives.
fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && skiff_runtime::state::process_alive(pid, start)
}

/// A signal by name (`SIGTERM`, `TERM`, `term`) or number.
pub fn parse_signal(s: &str) -> Result<Signal> {
    skiff_runtime::signals::parse(s).map_err(|e| Error::Invalid(e.to_string()))
}

impl Engine {
    /// Starts a created or exited container under a new monitor, with its
    /// streams as `stdio` says; returns once it runs (or failed to).
    pub fn start_container(&self, id: &str, stdio: Stdio) -> Result<Attached> {
        {
            let _lock = self.containers.lock(id)?;
            let mut state = self.live_state(id)?;
            if running(&state) {
                return Err(Error::Conflict(format!(
                    "container {id} is already running"
                )));
            }
            state.stopped_by_user = false;
            self.containers.save_state(id, &state)?;
        }
        let (ours, theirs) = seqpacket_pair()?;
        // SAFETY: the engine runs no threads when it forks (pulls join theirs
        // before returning), so the child may use anything the parent could.
        match unsafe { fork() }.map_err(|e| Error::Io("forking the monitor".into(), e.into()))? {
            ForkResult::Child => {
                drop(ours);
                let _ = nix::unistd::setsid();
                // SAFETY: prctl with integer arguments only.
                unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
                monitor::main(self, id, stdio, theirs)
            }
            ForkResult::Parent { .. } => {
                drop(theirs);
                match monitor::recv(ours.as_raw_fd()) {
                    Some((Report::Started(pid), pty)) => Ok(Attached {
                        monitor: ours,
                        pid,
                        pty,
                    }),
                    Some((Report::Failed(code, message), _)) => Err(match code {
                        126 | 127 => Error::Command { code, message },
                        _ => Error::Runtime(message),
                    }),
                    _ => Err(Error::Runtime(format!(
                        "the monitor of container {id} ended before starting it: {}",
                        self.containers
                            .state(id)
                            .map(|s| s.error)
                            .unwrap_or_default()
                    ))),
                }
            }
        }
    }

    /// Attaches to a running container's terminal through its monitor:
    /// the pty master arrives as when it started.
    pub fn attach_terminal(&self, id: &str) -> Result<Attached> {
        use nix::sys::socket::{connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};
        let path = monitor::attach_path(self, id);
        let io = |e: nix::Error| {
            Error::Conflict(format!(
                "cannot attach to {id}: {e} (is it running with a terminal?)"
            ))
        };
        let sock = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(io)?;
        connect(sock.as_raw_fd(), &UnixAddr::new(&path).map_err(io)?).map_err(io)?;
        match monitor::recv(sock.as_raw_fd()) {
            Some((Report::Started(pid), Some(pty))) => Ok(Attached {
                monitor: sock,
                pid,
                pty: Some(pty),
            }),
            _ => Err(Error::Conflict(format!(
                "container {id}'s terminal is attached elsewhere"
            ))),
        }
    }

    /// The container's state as it truly is: a record whose monitor died
    /// is repaired (the exit recorded, the root filesystem unmounted) unless
    /// the container still runs without it.
    pub fn live_state(&self, id: &str) -> Result<ContainerState> {
        let state = self.containers.state(id)?;
        if alive(state.monitor_pid, state.monitor_start) {
            return Ok(state);
        }
        if running(&state) && alive(state.pid, state.pid_start) {
            return Ok(state);
        }
        let stale =
            running(&state) || (state.status == Status::Created && state.rootfs_mounted.is_some());
        if !stale {
            return Ok(state);
        }
        let config = self.containers.config(id)?;
        let _ = Driver::new(&self.options.runroot, &config.runtime).delete(id, true);
        self.disconnect_container(&config);
        rootfs::unmount(&self.containers.dir(id))?;
        if state.status == Status::Created {
            let mut fixed = state;
            fixed.rootfs_mounted = None;
            self.containers.save_state(id, &fixed)?;
            return Ok(fixed);
        }
        running::record_exit(
            self,
            id,
            255,
            "the container's monitor died; its exit code is unknown",
        )?;
        self.containers.state(id)
    }

    /// Sends the stop signal, then SIGKILL after `timeout` seconds (the
    /// container's own by default), and waits until the exit is recorded.
    pub fn stop_container(&self, id: &str, timeout: Option<u64>) -> Result<()> {
        let config = self.containers.config(id)?;
        let state = self.mark_stopped_by_user(id)?;
        if !running(&state) {
            return Ok(());
        }
        if state.pid <= 0 {
            // Between restarts: the monitor sees the stop and does not start it again.
            return self.await_exit_recorded(id);
        }
        let driver = Driver::new(&self.options.runroot, &config.runtime);
        let signal = parse_signal(&config.stop_signal)?;
        if state.status == Status::Paused {
            let _ = driver.set_paused(id, false);
        }
        let _ = driver.kill(id, signal, false);
        let grace = Duration::from_secs(timeout.unwrap_or(config.stop_timeout));
        if !wait_gone(state.pid, state.pid_start, grace) {
            let _ = driver.kill(id, Signal::SIGKILL, true);
            wait_gone(state.pid, state.pid_start, Duration::from_secs(10));
        }
        self.await_exit_recorded(id)
    }

    /// Sends `signal` to the container's init.
    pub fn kill_container(&self, id: &str, signal: Signal) -> Result<()> {
        let config = self.containers.config(id)?;
        let state = self.mark_stopped_by_user(id)?;
        if !running(&state) {
            return Err(Error::Conflict(format!(
                "container {} is not running",
                config.name
            )));
        }
        Driver::new(&self.options.runroot, &config.runtime).kill(id, signal, false)
    }

    fn mark_stopped_by_user(&self, id: &str) -> Result<ContainerState> {
        let _lock = self.containers.lock(id)?;
        let mut state = self.live_state(id)?;
        state.stopped_by_user = true;
        self.containers.save_state(id, &state)?;
        Ok(state)
    }

    /// Waits until the monitor recorded the exit; repairs the record when
    /// the monitor is gone.
    fn await_exit_recorded(&self, id: &str) -> Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = self.live_state(id)?;
            if !running(&state) || Instant::now() > deadline {
                return Ok(());
            }
            std::thread::sleep(POLL);
        }
    }

    /// Freezes (`true`) or thaws a running container.
    pub fn pause_container(&self, id: &str, paused: bool) -> Result<()> {
        let config = self.containers.config(id)?;
        let _lock = self.containers.lock(id)?;
        let mut state = self.live_state(id)?;
        let (want, now) = if paused {
            (Status::Running, Status::Paused)
        } else {
            (Status::Paused, Status::Running)
        };
        if state.status != want {
            return Err(Error::Conflict(format!(
                "container {} is {}, not {want}",
                config.name, state.status
            )));
        }
        Driver::new(&self.options.runroot, &config.runtime).set_paused(id, paused)?;
        state.status = now;
        self.containers.save_state(id, &state)
    }

    /// Blocks until the container is not running; returns its exit code.
    pub fn wait_container(&self, id: &str) -> Result<i32> {
        loop {
            let state = match self.live_state(id) {
                Ok(s) => s,
                Err(Error::NotFound(_)) => return Ok(0),
                Err(e) => return Err(e),
            };
            if !running(&state) && state.status != Status::Created {
                return Ok(state.exit_code);
            }
            std::thread::sleep(POLL * 5);
        }
    }

    /// Removes a container: refused while it runs unless `force`, which
    /// kills it first. Its runtime state, mounts, cgroup, logs and name go.
    pub fn remove_container(&self, id: &str, force: bool) -> Result<()> {
        let config = self.containers.config(id)?;
        let state = self.live_state(id)?;
        if running(&state) {
            if !force {
                return Err(Error::Conflict(format!(
                    "container {} is {}: stop it first, or remove it with -f",
                    config.name, state.status
                )));
            }
            let state = self.mark_stopped_by_user(id)?;
            let driver = Driver::new(&self.options.runroot, &config.runtime);
            if state.status == Status::Paused {
                let _ = driver.set_paused(id, false);
            }
            let _ = driver.kill(id, Signal::SIGKILL, true);
            wait_gone(state.pid, state.pid_start, Duration::from_secs(10));
            self.await_exit_recorded(id)?;
        }
        let _lock = self.containers.lock(id)?;
        let driver = Driver::new(&self.options.runroot, &config.runtime);
        driver.delete(id, true)?;
        self.disconnect_container(&config);
        rootfs::unmount(&self.containers.dir(id))?;
        self.containers.remove(id, &config.name)
    }
}

/// Waits up to `limit` for the process to end; whether it did.
fn wait_gone(pid: i32, start: u64, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while alive(pid, start) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
    true
}

fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::Io("socketpair".into(), e.into()))
}
