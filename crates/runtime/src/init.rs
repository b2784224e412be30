//! The container's init: what runs inside the new namespaces, from the clone
//! to the exec of the user's process.

use std::convert::Infallible;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sched::{unshare, CloneFlags};
use nix::sys::signal::SigSet;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{LinuxNamespaceType, LinuxSeccomp, Spec};
use skiff_cgroups::Entry;

use crate::console;
use crate::error::{Context, Result};
use crate::hooks;
use crate::namespaces::Plan;
use crate::process;
use crate::process_attrs;
use crate::rootfs::{self, Setup};
use crate::seccomp;
use crate::sync::{Channel, Msg};

/// Everything init needs, prepared by the runtime before the clone.
#[derive(Debug)]
pub struct Init<'a> {
    /// The container's spec.
    pub spec: &'a Spec,
    /// The root filesystem on the host.
    pub rootfs: &'a Path,
    /// How the namespaces are made.
    pub plan: &'a Plan,
    /// Init's end of the channel to the runtime.
    pub chan: &'a Channel,
    /// The exec fifo, opened read-write: init blocks reading it until `start`.
    pub fifo: Option<&'a OwnedFd>,
    /// The console socket, when the process has a terminal.
    pub console: Option<RawFd>,
    /// Descriptors from 3 on that the process keeps.
    pub preserve_fds: i32,
    /// Environment added to the process's (LISTEN_FDS).
    pub extra_env: &'a [String],
    /// Use a move mount and chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Keep the runtime's session keyring instead of making a new one.
    pub no_new_keyring: bool,
    /// The container's cgroup, relative to the hierarchy roots; `None` for a
    /// container made without one (it stays in the runtime's).
    pub cgroup_path: Option<&'a Path>,
    /// The ways into the container's cgroup that init takes by itself.
    pub cgroup_entry: Option<&'a Entry>,
    /// Descriptors of the runtime's that init must close at once (the
    /// container's lock, which would otherwise be held until exec).
    pub close_fds: &'a [RawFd],
}

impl Init<'_> {
    /// Run init; returns only the exit code of a failure, which was also sent
    /// to the runtime (or printed, once the runtime has gone).
    pub fn run(&self) -> i32 {
        let Err(e) = self.setup();
        if self.chan.send(&Msg::Error(e.to_string())).is_err() {
            eprintln!("container init: {e}");
        }
        127
    }

    fn setup(&self) -> Result<Infallible> {
        for fd in self.close_fds {
            let _ = nix::unistd::close(*fd);
        }
        SigSet::empty()
            .thread_set_mask()
            .ctx(|| "reset the signal mask".to_string())?;
        nix::sys::stat::umask(nix::sys::stat::Mode::empty());
        if let Some(entry) = self.cgroup_entry {
            entry.enter_self()?;
        }
        self.chan.expect(Msg::Go)?;
        process::set_non_dumpable()?;
        self.enter_namespaces()?;
        let process = self.spec.process().as_ref().expect("validated");
        process::set_oom_score_adj(process)?;
        process::set_rlimits(process)?;
        let userns = self.plan.new_user();
        // Where init could not enter its cgroup by itself, the runtime
        // moves it while init mounts: the first move after a quiet spell
        // waits for an RCU grace period, which the mounts before the cgroup
        // one overlap.
        let placed = std::cell::Cell::new(false);
        let await_placed = || -> Result<()> {
            if !placed.replace(true) {
                self.chan.expect(Msg::Placed)?;
                self.enter_cgroup_namespace()?;
            }
            Ok(())
        };
        // The runtime sends `Placed` before it reads init's messages, so
        // init takes it before it asks for the root's fuse daemon.
        let serve_fuse = |device: OwnedFd| -> Result<()> {
            await_placed()?;
            self.chan.send_with_fd(&Msg::FuseDevice, &device)?;
            drop(device);
            self.chan.expect(Msg::FuseServed)
        };
        rootfs::prepare(&Setup {
            spec: self.spec,
            rootfs: self.rootfs,
            userns,
            cgroupns: crate::spec::has_namespace(self.spec, LinuxNamespaceType::Cgroup),
            cgroup_path: self.cgroup_path,
            placed: &await_placed,
            serve_fuse: &serve_fuse,
        })?;
        await_placed()?;
        let state = self.runtime_hooks()?;
        let h = self.spec.hooks().as_ref();
        hooks::run_all(
            "createContainer",
            h.and_then(|h| h.create_container().as_ref()),
            &state,
        )?;
        rootfs::enter(self.rootfs, self.no_pivot)?;
        rootfs::finish(self.spec)?;
        if let Some(socket) = self.console {
            console::setup_pty(socket, process.console_size(), true)?;
        }
        let prepared = process::prepare(process, self.extra_env)?;
        process::enter_cwd(process)?;
        let linux = self.spec.linux().as_ref();
        let filter = load_notify_filter(linux.and_then(|l| l.seccomp().as_ref()), self.chan)?;
        self.chan.send(&Msg::Ready)?;
        if let Some(fifo) = self.fifo {
            wait_for_start(fifo)?;
        }
        hooks::run_all(
            "startContainer",
            h.and_then(|h| h.start_container().as_ref()),
            &state,
        )?;
        process_attrs::set_personality(linux.and_then(|l| l.personality().as_ref()))?;
        process::finalize(process, self.preserve_fds, filter)?;
        process::exec(&prepared)
    }

    fn enter_namespaces(&self) -> Result<()> {
        if self.plan.new_user() {
            let root_gid = Gid::from_raw(0);
            let root_uid = Uid::from_raw(0);
            nix::unistd::setresgid(root_gid, root_gid, root_gid)
                .ctx(|| "become gid 0 in the user namespace".to_string())?;
            nix::unistd::setresuid(root_uid, root_uid, root_uid)
                .ctx(|| "become uid 0 in the user namespace".to_string())?;
        }
        if !self.no_new_keyring {
            join_session_keyring()?;
        }
        if let Some(name) = self.spec.hostname().as_deref().filter(|h| !h.is_empty()) {
            nix::unistd::sethostname(name).ctx(|| format!("set hostname {name:?}"))?;
        }
        if let Some(name) = self.spec.domainname().as_deref().filter(|h| !h.is_empty()) {
            // SAFETY: setdomainname reads `len` bytes from a buffer that lives across the call.
            if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } < 0 {
                return Err(std::io::Error::last_os_error())
                    .ctx(|| format!("set domainname {name:?}"));
            }
        }
        Ok(())
    }

    /// A cgroup namespace of its own, made once init is in its cgroup, so
    /// that the cgroup is the namespace's root.
    fn enter_cgroup_namespace(&self) -> Result<()> {
        if self.plan.new_cgroup {
            unshare(CloneFlags::CLONE_NEWCGROUP)
                .ctx(|| "unshare the cgroup namespace".to_string())?;
        }
        Ok(())
    }

    /// Ask the runtime to run prestart and createRuntime hooks; returns the
    /// state JSON for the hooks init runs itself. Skipped without hooks.
    fn runtime_hooks(&self) -> Result<String> {
        let Some(h) = self.spec.hooks().as_ref() else {
            return Ok(String::new());
        };
        let any = [
            h.prestart(),
            h.create_runtime(),
            h.create_container(),
            h.start_container(),
        ]
        .iter()
        .any(|l| l.as_ref().is_some_and(|l| !l.is_empty()));
        if !any {
            return Ok(String::new());
        }
        self.chan.send(&Msg::RunHooks)?;
        match self.chan.recv()? {
            Msg::HooksDone(state) => Ok(state),
            Msg::Error(e) => Err(crate::error::Error::Hook(e)),
            other => Err(crate::error::Error::Init(format!("unexpected {other:?}"))),
        }
    }
}

/// A filter that hands system calls to a seccomp agent is loaded now, while
/// the runtime waits, and its descriptor sent to the runtime for the agent.
/// Returns the filter still to load (in `finalize`), if any.
pub fn load_notify_filter<'a>(
    filter: Option<&'a LinuxSeccomp>,
    chan: &Channel,
) -> Result<Option<&'a LinuxSeccomp>> {
    match filter {
        Some(f) if seccomp::uses_notify(f) => {
            if let Some(fd) = seccomp::load(f)? {
                chan.send_with_fd(&Msg::SeccompFd, &fd)?;
            }
            Ok(None)
        }
        other => Ok(other),
    }
}

/// A session keyring of the container's own, so that it cannot see the host's keys.
fn join_session_keyring() -> Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl JOIN_SESSION_KEYRING with a NULL name makes an anonymous keyring.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, 0usize) };
    if r < 0 {
        let e = std::io::Error::last_os_error();
        // Kernels without keys, or seccomp denying keyctl, leave the keyring as it is.
        if !matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) {
            return Err(e).ctx(|| "join a new session keyring".to_string());
        }
    }
    Ok(())
}

/// Block until `start` writes a byte to the exec fifo.
fn wait_for_start(fifo: &OwnedFd) -> Result<()> {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(fifo.as_raw_fd(), &mut b) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => {
                r.ctx(|| "wait on the exec fifo".to_string())?;
                return Ok(());
            }
        }
    }
}
