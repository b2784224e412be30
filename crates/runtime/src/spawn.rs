//! Creating the container's processes with clone(2), fork-style: the child
//! continues in a copy of this (single-threaded) process and runs a closure.

use std::os::fd::RawFd;

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::Spec;

use crate::error::{Context, Error, Result};
use crate::namespaces::{self, Plan};
use crate::sync::{Channel, Msg};

/// Clone a child into the namespaces in `flags`; it runs `child` and exits
/// with the code returned, never returning here.
pub fn clone_child<F: FnOnce() -> i32>(flags: CloneFlags, child: F) -> Result<Pid> {
    clone_into(flags, None, child).map(|c| c.pid)
}

/// A child made by [`clone_into`].
#[derive(Debug, Clone, Copy)]
pub struct Cloned {
    /// Its pid.
    pub pid: Pid,
    /// Whether it started in the cgroup it was to be cloned into.
    pub in_cgroup: bool,
}

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Like [`clone_child`], and with `cgroup` (a cgroup v2 directory) the child
/// starts in that cgroup (clone3 with CLONE_INTO_CGROUP), so that not one of
/// its instructions runs outside it. On kernels without clone3 (or without
/// CLONE_INTO_CGROUP, before 5.7) it is a plain clone, and the caller moves
/// the child.
pub fn clone_into<F: FnOnce() -> i32>(
    flags: CloneFlags,
    cgroup: Option<RawFd>,
    child: F,
) -> Result<Cloned> {
    let pid = match cgroup {
        Some(fd) => {
            let args = CloneArgs {
                flags: flags.bits() as u64 | CLONE_INTO_CGROUP,
                exit_signal: libc::SIGCHLD as u64,
                cgroup: fd as u64,
                ..CloneArgs::default()
            };
            // SAFETY: clone3 with no stack behaves like fork (see below); the
            // kernel reads size_of::<CloneArgs>() bytes of `args`, which lives across the call.
            let pid = unsafe {
                libc::syscall(
                    libc::SYS_clone3,
                    &args as *const CloneArgs,
                    std::mem::size_of::<CloneArgs>(),
                )
            };
            let errno = std::io::Error::last_os_error().raw_os_error();
            if pid == -1 && matches!(errno, Some(libc::ENOSYS | libc::EINVAL)) {
                return clone_into(flags, None, child);
            }
            pid
        }
        None => {
            let flags = flags.bits() as libc::c_ulong | libc::SIGCHLD as libc::c_ulong;
            // SAFETY: clone without a new stack behaves like fork: the child gets a copy
            // of this single-threaded process, so no lock can be held by another thread.
            unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) }
        }
    };
    match pid {
        -1 => {
            Err(std::io::Error::last_os_error()).ctx(|| "clone the container process".to_string())
        }
        0 => {
            let code = child();
            // SAFETY: _exit ends the child without running the parent's atexit
            // handlers or flushing buffers that belong to the parent.
            unsafe { libc::_exit(code) }
        }
        pid => Ok(Cloned {
            pid: Pid::from_raw(pid as i32),
            in_cgroup: cgroup.is_some(),
        }),
    }
}

/// Create the container's init. When namespaces must be joined by path (or a
/// time namespace prepared), an intermediate process joins them first, clones
/// init and reports its pid on `chan`; otherwise one clone does it all.
pub fn spawn_init<F: FnOnce() -> i32>(
    plan: &Plan,
    spec: &Spec,
    parent: &Channel,
    child_end: &Channel,
    cgroup: Option<RawFd>,
    init: F,
) -> Result<Cloned> {
    if plan.joins.is_empty() && !plan.new_time {
        return clone_into(plan.clone_flags, cgroup, init);
    }
    let middle = clone_child(CloneFlags::empty(), || {
        let r = namespaces::join_paths(&plan.joins)
            .and_then(|()| match plan.new_time {
                true => namespaces::unshare_time(spec),
                false => Ok(()),
            })
            .and_then(|()| clone_into(plan.clone_flags, cgroup, init));
        let msg = match r {
            Ok(c) => Msg::Pid(c.pid.as_raw(), c.in_cgroup),
            Err(e) => Msg::Error(e.to_string()),
        };
        i32::from(child_end.send(&msg).is_err())
    })?;
    let status = waitpid(middle, None).ctx(|| "wait for the intermediate process".to_string())?;
    if !matches!(status, WaitStatus::Exited(_, 0)) {
        return Err(Error::Init(format!(
            "the process that joins the namespaces failed: {status:?}"
        )));
    }
    match parent.recv()? {
        Msg::Pid(pid, in_cgroup) => Ok(Cloned {
            pid: Pid::from_raw(pid),
            in_cgroup,
        }),
        Msg::Error(e) => Err(Error::Init(e)),
        other => Err(Error::Init(format!("expected init's pid, got {other:?}"))),
    }
}
