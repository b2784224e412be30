//! Handing the SCMP_ACT_NOTIFY listener to the seccomp agent.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::LinuxSeccomp;
use serde_json::{json, Value};

use crate::error::{Context, Error, Result};
use crate::state::OCI_VERSION;

/// Connect to `listenerPath`, send the container process state with `fd`
/// attached, and close the connection (one state per connection).
pub(super) fn send(s: &LinuxSeccomp, fd: OwnedFd, pid: i32, state: &Value) -> Result<()> {
    let path = s.listener_path().as_deref().ok_or_else(|| {
        Error::Spec("linux.seccomp.listenerPath: needed to hand over the notify descriptor".into())
    })?;
    let payload = process_state(s, pid, state).to_string();
    let agent = UnixStream::connect(path)
        .ctx(|| format!("connect to the seccomp agent at {}", path.display()))?;
    send_all(&agent, payload.as_bytes(), fd.as_raw_fd())
        .ctx(|| format!("send the seccomp notify descriptor to {}", path.display()))
}

/// The container process state of the OCI spec.
fn process_state(s: &LinuxSeccomp, pid: i32, state: &Value) -> Value {
    let mut v = json!({
        "ociVersion": OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": pid,
    });
    if let Some(m) = s.listener_metadata() {
        v["metadata"] = json!(m);
    }
    v["state"] = state.clone();
    v
}

/// Send all of `payload`, with `fd` attached to the first part only.
fn send_all(sock: &UnixStream, payload: &[u8], fd: RawFd) -> nix::Result<()> {
    let fds = [fd];
    let rights = [ControlMessage::ScmRights(&fds)];
    let mut sent = 0;
    while sent < payload.len() {
        let cmsgs: &[ControlMessage] = if sent == 0 { &rights } else { &[] };
        let iov = [IoSlice::new(&payload[sent..])];
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Err(Errno::EINTR) => continue,
            r => sent += r?,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    use std::io::{IoSliceMut, Read};
    use std::os::fd::{AsFd, FromRawFd};
    use std::os::unix::net::UnixListener;

    fn profile(listener: &std::path::Path) -> LinuxSeccomp {
        serde_json::from_value(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": listener,
            "listenerMetadata": "meta=1",
        }))
        .unwrap()
    }

    /// Accept one connection; return the descriptor received and the payload.
    fn receive(listener: &UnixListener) -> (OwnedFd, Value) {
        let (mut conn, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut cmsg = nix::cmsg_space!([RawFd; 1]);
        let (n, fd) = {
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(
                conn.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::empty(),
            )
            .unwrap();
            let fd = msg.cmsgs().unwrap().find_map(|c| match c {
                ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                _ => None,
            });
            (msg.bytes, fd.expect("a descriptor with SCM_RIGHTS"))
        };
        buf.truncate(n);
        conn.read_to_end(&mut buf).unwrap();
        // SAFETY: SCM_RIGHTS installed this descriptor in this process for us alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        (fd, serde_json::from_slice(&buf).unwrap())
    }

    #[test]
    fn sends_descriptor_and_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (r, _w) = nix::unistd::pipe().unwrap();
        let ino = nix::sys::stat::fstat(r.as_raw_fd()).unwrap().st_ino;
        let state = json!({"ociVersion": OCI_VERSION, "id": "c1", "status": "creating"});
        send(&profile(&path), r, 42, &state).unwrap();
        let (fd, got) = receive(&listener);
        assert_eq!(
            nix::sys::stat::fstat(fd.as_fd().as_raw_fd())
                .unwrap()
                .st_ino,
            ino
        );
        assert_eq!(got["fds"], json!(["seccompFd"]));
        assert_eq!(got["pid"], 42);
        assert_eq!(got["metadata"], "meta=1");
        assert_eq!(got["state"], state);
        assert_eq!(got["ociVersion"], OCI_VERSION);
    }

    #[test]
    fn missing_agent_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nobody.sock");
        let (r, _w) = nix::unistd::pipe().unwrap();
        let err = send(&profile(&path), r, 1, &json!({})).unwrap_err();
        assert!(err.to_string().contains("nobody.sock"), "{err}");
    }
}
