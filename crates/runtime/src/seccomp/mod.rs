//! Seccomp: the OCI profile in `linux.seccomp` turned into a BPF filter with
//! libseccomp, loaded into the container's init just before it execs.
//!
//! - [`validate`] checks a profile without loading anything; `create` calls it
//!   before it touches the system, so a bad profile leaves nothing behind.
//! - [`load`] loads the filter into the calling process: the program
//!   `validate` compiled (see `cache.rs`), or one it builds now. It does
//!   not set `no_new_privs` itself: without it the kernel requires
//!   `CAP_SYS_ADMIN`, so with `noNewPrivileges: false` the filter must be
//!   loaded before the capabilities are dropped.
//! - [`send_notify_fd`] hands the `SCMP_ACT_NOTIFY` listener descriptor to the
//!   seccomp agent at `listenerPath`.
//!
//! Semantics follow the OCI runtime spec and, where it is silent, runc:
//! syscall names libseccomp does not know are skipped, a rule whose action is
//! the default action is skipped, several conditions on different arguments
//! of one rule are ANDed, and when one argument index appears more than once
//! every condition of that rule becomes a rule of its own (ORed).

mod cache;
mod checks;
mod filter;
mod notify;

use std::os::fd::OwnedFd;

use oci_spec::runtime::LinuxSeccomp;

use crate::error::Result;

/// Check a seccomp profile without loading it (called by `create` before
/// anything is touched): errnoRet on an action that takes none, NOTIFY without
/// `listenerPath`, argument indexes out of range, architectures or flags
/// libseccomp or the kernel lacks, and so on. Fails with
/// [`crate::error::Error::Spec`] naming the field, e.g.
/// `linux.seccomp.syscalls[3].action`. (Unknown action, architecture and
/// operator strings are already refused, by name, when config.json is parsed.)
pub fn validate(s: &LinuxSeccomp) -> Result<()> {
    if cache::cacheable(s) {
        return cache::prepare(s, false);
    }
    filter::build(s).map(drop)
}

/// [`validate`] for a container about to be made: the compiled program is
/// also kept under `/run/skiff-seccomp` for the next container with the
/// same profile.
pub fn prepare(s: &LinuxSeccomp) -> Result<()> {
    if cache::cacheable(s) {
        return cache::prepare(s, true);
    }
    filter::build(s).map(drop)
}

/// Build the filter and load it into the calling thread (into every thread
/// with `SECCOMP_FILTER_FLAG_TSYNC`). Returns the listener descriptor when a
/// rule uses `SCMP_ACT_NOTIFY`; it is close-on-exec.
pub fn load(s: &LinuxSeccomp) -> Result<Option<OwnedFd>> {
    if let Some(loaded) = cache::load(s) {
        return loaded.map(|()| None);
    }
    filter::build(s)?.load()
}

/// Whether any rule sends system calls to a seccomp agent (SCMP_ACT_NOTIFY);
/// such a filter is loaded before `create` returns, so that the agent gets
/// the descriptor while the runtime still runs.
pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.syscalls()
        .iter()
        .flatten()
        .any(|sc| sc.action() == oci_spec::runtime::LinuxSeccompAction::ScmpActNotify)
}

/// Send the notify descriptor `fd` to the seccomp agent listening at
/// `listenerPath`, with SCM_RIGHTS, together with the container process state
/// the OCI spec describes: `ociVersion`, `fds: ["seccompFd"]`, `pid`,
/// `metadata` (`listenerMetadata`) and `state` (the container's state JSON).
/// The connection is closed afterwards, and so is this process's copy of `fd`.
pub fn send_notify_fd(
    s: &LinuxSeccomp,
    fd: OwnedFd,
    pid: i32,
    state: &serde_json::Value,
) -> Result<()> {
    notify::send(s, fd, pid, state)
}
