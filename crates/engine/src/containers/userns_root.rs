//! An ordinary user's container root for `cp` and `export`, reached from a
//! short-lived child of `skiff` in a user namespace. The root is mounted
//! only in the container's own namespaces while it runs (and, served by
//! fuse-overlayfs, admits no process outside its user namespace), and
//! nowhere while it is stopped. So the child:
//!
//! - for a running container, joins its user namespace and works on its
//!   init's root (`/proc/PID/root`);
//! - for a stopped one, makes a user namespace of the user's maps (written
//!   by `newuidmap` and `newgidmap`, as for unpacking layers) and a private
//!   mount namespace, and mounts the overlay there on the container's mount
//!   point: the kernel's, or fuse-overlayfs where the kernel refuses it or
//!   `overlay.mount_program` names it, served (as the runtime serves a
//!   container's root) by a daemon this process starts in the child's user
//!   namespace. The mount, and with it the daemon, end with the child.
//!
//! Child and parent speak over a SOCK_SEQPACKET pair: the child sends
//! [`Note::Unshared`] (map me) and [`Note::Fuse`] with the `/dev/fuse`
//! descriptor attached (serve me), each answered with a byte once done, and
//! last [`Note::Done`] with its result.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

use nix::mount::{mount, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult, Pid};
use serde::{Deserialize, Serialize};
use skiff_runtime::fuse_overlay;

use super::tree::open_root;
use super::{rootfs, ContainerState};
use crate::{Engine, Error, Result};

/// What the child tells the parent.
#[derive(Debug, Serialize, Deserialize)]
enum Note {
    /// It has a user namespace of its own, to be mapped.
    Unshared,
    /// It mounted FUSE on the root; the descriptor to serve is attached.
    Fuse,
    /// It is done: its error, if any, by kind and message.
    Done(Option<(Kind, String)>),
}

/// The kind of a child's error, which decides the command's exit.
#[derive(Debug, Serialize, Deserialize)]
enum Kind {
    NotFound,
    Conflict,
    Invalid,
    Other,
}

/// How the child reaches the root.
enum Reach {
    /// Joins the running container's user namespace; the root is `root`.
    Join { userns: OwnedFd, root: PathBuf },
    /// Mounts the overlay of mount data `data` on `target`.
    Mount { data: Vec<String>, target: PathBuf },
}

impl Engine {
    /// Runs `f` on container `id`'s merged root, from a child in a user
    /// namespace (see the [module documentation](self)). `state` is its
    /// state; a stopped container's caller holds its lock.
    pub(super) fn with_root_in_userns(
        &self,
        id: &str,
        state: &ContainerState,
        f: impl FnOnce(&OwnedFd) -> Result<()>,
    ) -> Result<()> {
        let running = matches!(state.status, super::Status::Running | super::Status::Paused);
        let dir = self.containers.dir(id);
        let reach = match running {
            true => Reach::Join {
                userns: open_namespace(state.pid, "user")?,
                root: self.running_root(id, state),
            },
            false => {
                let image_id = self.containers.config(id)?.image_id;
                let options = rootfs::namespace_options(self.store(), &image_id, &dir, true)?;
                Reach::Mount {
                    data: options.split(',').map(String::from).collect(),
                    target: rootfs::target(&dir),
                }
            }
        };
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(|e| Error::Io("socketpair for the root's helper".into(), e.into()))?;
        let forced = self.options.mount_program.is_some();
        // SAFETY: `cp` and `export` run no threads (no pull is under way), so
        // the child may use anything the parent could.
        match unsafe { fork() }
            .map_err(|e| Error::Io("forking the root's helper".into(), e.into()))?
        {
            ForkResult::Child => {
                drop(ours);
                let result = reach_root(&reach, &theirs, forced)
                    .and_then(|root| open_root(&root))
                    .and_then(|root| f(&root));
                let _ = send(&theirs, &Note::Done(result.err().map(|e| encode(&e))), None);
                // SAFETY: _exit ends the child without running the parent's
                // exit handlers or flushing its buffers a second time.
                unsafe { libc::_exit(0) }
            }
            ForkResult::Parent { child } => {
                drop(theirs);
                let result = self.serve_child(child, &ours, &reach);
                if result.is_err() {
                    let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                }
                let _ = waitpid(child, None);
                result
            }
        }
    }

    /// Answers the child's notes until it is done; its result.
    fn serve_child(&self, child: Pid, chan: &OwnedFd, reach: &Reach) -> Result<()> {
        loop {
            match recv(chan)? {
                (Note::Unshared, _) => {
                    let helper = skiff_image::userns::helper().ok_or_else(|| {
                        Error::Invalid(
                            "only an ordinary user's engine maps a user namespace".into(),
                        )
                    })?;
                    helper.map(child.as_raw() as u32)?;
                }
                (Note::Fuse, Some(device)) => {
                    let Reach::Mount { data, .. } = reach else {
                        return Err(Error::Invalid("a fuse device from a joining helper".into()));
                    };
                    let program = fuse_overlay::program(self.options.mount_program.as_deref())
                        .map_err(|e| Error::Runtime(e.to_string()))?;
                    let userns = open_namespace(child.as_raw(), "user")?;
                    fuse_overlay::start(&program, data, device, Some(&userns))
                        .map_err(|e| Error::Runtime(e.to_string()))?;
                }
                (Note::Done(result), _) => return result.map_or(Ok(()), decode),
                (note, _) => {
                    return Err(Error::Runtime(format!(
                        "the root's helper sent {note:?} without a descriptor"
                    )))
                }
            }
            nix::unistd::write(chan, b"G")
                .map_err(|e| Error::Io("answering the root's helper".into(), e.into()))?;
        }
    }
}

/// In the child: reaches the root as `reach` says; its path.
fn reach_root(reach: &Reach, chan: &OwnedFd, forced: bool) -> Result<PathBuf> {
    let sys = |what: &str| {
        let what = what.to_string();
        move |e: nix::Error| Error::Io(what, e.into())
    };
    match reach {
        Reach::Join { userns, root } => {
            setns(userns, CloneFlags::CLONE_NEWUSER)
                .map_err(sys("joining the container's user namespace"))?;
            Ok(root.clone())
        }
        Reach::Mount { data, target } => {
            unshare(CloneFlags::CLONE_NEWUSER).map_err(sys("making a user namespace"))?;
            ask(chan, &Note::Unshared, None)?;
            unshare(CloneFlags::CLONE_NEWNS).map_err(sys("making a mount namespace"))?;
            mount(
                None::<&str>,
                "/",
                None::<&str>,
                MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                None::<&str>,
            )
            .map_err(sys("making the mount namespace private"))?;
            let native = match forced {
                true => Err(nix::errno::Errno::EPERM),
                false => mount(
                    Some("overlay"),
                    target,
                    Some("overlay"),
                    MsFlags::empty(),
                    Some(data.join(",").as_str()),
                ),
            };
            match native {
                Ok(()) => {}
                Err(e) if fuse_overlay::falls_back(true, "overlay", e) => {
                    let device = fuse_overlay::mount(target, MsFlags::empty())
                        .map_err(|e| Error::Runtime(e.to_string()))?;
                    ask(chan, &Note::Fuse, Some(&device))?;
                }
                Err(e) => {
                    return Err(Error::Io(
                        format!("mounting the overlay on {}", target.display()),
                        e.into(),
                    ))
                }
            }
            Ok(target.clone())
        }
    }
}

/// A descriptor of process `pid`'s namespace `kind`.
fn open_namespace(pid: i32, kind: &str) -> Result<OwnedFd> {
    skiff_runtime::namespaces::open(pid, kind).map_err(|e| Error::Runtime(e.to_string()))
}

/// Sends `note`, and `fd` with it.
fn send(chan: &OwnedFd, note: &Note, fd: Option<&OwnedFd>) -> Result<()> {
    skiff_runtime::fdpass::send_json(chan.as_raw_fd(), note, fd)
        .map_err(|e| Error::Runtime(format!("talking to the root's helper: {e}")))
}

/// Sends `note` and waits for the parent's answer.
fn ask(chan: &OwnedFd, note: &Note, fd: Option<&OwnedFd>) -> Result<()> {
    send(chan, note, fd)?;
    let mut answer = [0u8; 1];
    match nix::unistd::read(chan.as_raw_fd(), &mut answer) {
        Ok(1) => Ok(()),
        _ => Err(Error::Runtime(format!("no answer to {note:?}"))),
    }
}

/// Receives a note and any descriptor with it.
fn recv(chan: &OwnedFd) -> Result<(Note, Option<OwnedFd>)> {
    skiff_runtime::fdpass::recv_json(chan.as_raw_fd())
        .map_err(|e| Error::Runtime(format!("reading from the root's helper: {e}")))?
        .ok_or_else(|| Error::Runtime("the root's helper ended without a result".into()))
}

fn encode(e: &Error) -> (Kind, String) {
    let kind = match e {
        Error::NotFound(_) => Kind::NotFound,
        Error::Conflict(_) => Kind::Conflict,
        Error::Invalid(_) => Kind::Invalid,
        _ => Kind::Other,
    };
    (kind, e.to_string())
}

fn decode((kind, message): (Kind, String)) -> Result<()> {
    Err(match kind {
        Kind::NotFound => Error::NotFound(message),
        Kind::Conflict => Error::Conflict(message),
        Kind::Invalid => Error::Invalid(message),
        Kind::Other => Error::Runtime(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_their_kind_across() {
        let back = decode(encode(&Error::NotFound(
            "container:/x: no such file".into(),
        )));
        assert!(matches!(back, Err(Error::NotFound(m)) if m == "container:/x: no such file"));
        let io = Error::Io("reading /y".into(), std::io::Error::other("gone"));
        assert!(matches!(decode(encode(&io)), Err(Error::Runtime(m)) if m == "reading /y: gone"));
    }
}
