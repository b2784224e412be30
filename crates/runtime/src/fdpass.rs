//! Passing descriptors over unix sockets with SCM_RIGHTS: the pty master to a
//! console socket, the seccomp listener from init to the runtime.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

use crate::error::{Context, Result};

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
