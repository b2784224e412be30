//! The channel between the runtime and the container's init while it is set
//! up: a SOCK_SEQPACKET socket pair carrying one small JSON message per packet.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use serde::{Deserialize, Serialize};

use crate::error::{Context, Error, Result};
use crate::fdpass;

/// What the runtime and init tell each other.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Runtime to init: id maps written; go on (init waits for `Placed`
    /// before it needs its cgroup).
    Go,
    /// Runtime to init: init is in the container's cgroup (moved there by
    /// the runtime, or by itself through the cgroup's entry).
    Placed,
    /// Intermediate process to runtime: init's pid in the runtime's PID
    /// namespace, and whether it was cloned into its cgroup.
    Pid(i32, bool),
    /// Init to runtime: run the prestart and createRuntime hooks now.
    RunHooks,
    /// Runtime to init: the hooks ran; the state JSON for the hooks init runs.
    HooksDone(String),
    /// Init to runtime: set up, waiting for `start` (or, for exec, about to exec).
    Ready,
    /// Init to runtime: the seccomp listener descriptor is attached.
    SeccompFd,
    /// Init to runtime: the root is a FUSE mount whose `/dev/fuse`
    /// descriptor is attached; start its mount program.
    FuseDevice,
    /// Runtime to init: the mount program serves the root.
    FuseServed,
    /// Either side: a failure, with its message.
    Error(String),
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

/// A connected pair of channel ends (runtime side, init side).
pub fn pair() -> Result<(Channel, Channel)> {
    let (a, b) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .ctx(|| "socketpair for the init channel".to_string())?;
    Ok((Channel { fd: a }, Channel { fd: b }))
}

impl Channel {
    /// Send one message.
    pub fn send(&self, msg: &Msg) -> Result<()> {
        fdpass::send_json(self.raw(), msg, None)
    }

    /// Send one message with a descriptor attached (SCM_RIGHTS).
    pub fn send_with_fd(&self, msg: &Msg, fd: &OwnedFd) -> Result<()> {
        fdpass::send_json(self.raw(), msg, Some(fd))
    }

    /// Receive one message; the other side closing is an error.
    pub fn recv(&self) -> Result<Msg> {
        self.recv_with_fd().map(|(m, _)| m)
    }

    /// Receive one message and the descriptor attached to it, if any.
    pub fn recv_with_fd(&self) -> Result<(Msg, Option<OwnedFd>)> {
        fdpass::recv_json(self.raw())?.ok_or_else(|| {
            Error::Init("the container's init process exited before it was ready".into())
        })
    }

    /// Receive a message and turn a reported failure into an error.
    pub fn expect(&self, want: Msg) -> Result<()> {
        match self.recv()? {
            m if m == want => Ok(()),
            Msg::Error(e) => Err(Error::Init(e)),
            other => Err(Error::Init(format!(
                "expected {want:?} on the init channel, got {other:?}"
            ))),
        }
    }

    /// The raw descriptor.
    pub fn raw(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
