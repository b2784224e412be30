//! Passing descriptors over unix sockets with SCM_RIGHTS: the pty master to a
//! console socket, the seccomp listener from init to the runtime; and the
//! JSON messages, one per SOCK_SEQPACKET datagram, that carry them.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Context, Error, Result};

/// Largest JSON message [`recv_json`] takes.
const MAX_MESSAGE: usize = 64 * 1024;

/// Sends `message` as one JSON datagram, with `fd` attached when given. A
/// peer that has gone is an error, not a SIGPIPE.
pub fn send_json<T: Serialize>(socket: RawFd, message: &T, fd: Option<&OwnedFd>) -> Result<()> {
    let payload = serde_json::to_vec(message).expect("messages serialise");
    match fd {
        Some(fd) => send(socket, &payload, fd),
        None => nix::sys::socket::send(socket, &payload, MsgFlags::MSG_NOSIGNAL)
            .map(drop)
            .ctx(|| "send a message over a unix socket".to_string()),
    }
}

/// Receives one JSON datagram and the descriptor attached to it, if any;
/// `None` when the peer closed its end.
pub fn recv_json<T: DeserializeOwned>(socket: RawFd) -> Result<Option<(T, Option<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MESSAGE];
    let (n, fd) = recv(socket, &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    let message = serde_json::from_slice(&buf[..n])
        .map_err(|e| Error::Init(format!("bad message on a unix socket: {e}")))?;
    Ok(Some((message, fd)))
}

/// Send `payload` with `fd` attached.
pub fn send(socket: RawFd, payload: &[u8], fd: &OwnedFd) -> Result<()> {
    let fds = [fd.as_raw_fd()];
    let iov = [IoSlice::new(payload)];
    sendmsg::<()>(
        socket,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .ctx(|| "send a descriptor over a unix socket".to_string())?;
    Ok(())
}

/// Receive one message into `buf`: its length, and the descriptor attached to it if any.
pub fn recv(socket: RawFd, buf: &mut [u8]) -> Result<(usize, Option<OwnedFd>)> {
    let mut space = nix::cmsg_space!([RawFd; 1]);
    loop {
        let mut iov = [IoSliceMut::new(buf)];
        match recvmsg::<()>(
            socket,
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => {
                let msg = r.ctx(|| "receive from a unix socket".to_string())?;
                let fd = msg
                    .cmsgs()
                    .ok()
                    .into_iter()
                    .flatten()
                    .find_map(|c| match c {
                        // SAFETY: SCM_RIGHTS gave us a new descriptor that nothing else owns.
                        ControlMessageOwned::ScmRights(fds) => {
                            fds.first().map(|fd| unsafe { OwnedFd::from_raw_fd(*fd) })
                        }
                        _ => None,
                    });
                return Ok((msg.bytes, fd));
            }
        }
    }
}
