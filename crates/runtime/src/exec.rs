//! `exec`: a new process in a running container, in all of its namespaces and
//! its cgroup.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use nix::sched::CloneFlags;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{Capability, Process, Spec};
use skiff_cgroups::Entry;

use crate::cgroup;
use crate::console;
use crate::error::{Context, Error, Result};
use crate::namespaces;
use crate::process;
use crate::spawn::{clone_child, clone_into};
use crate::state::{Status, Store};
use crate::sync::{self, Channel, Msg};

/// What `exec` needs besides the process.
#[derive(Debug, Default)]
pub struct ExecOptions {
    /// A connected unix socket to send the pty master to (with a terminal).
    pub console_socket: Option<std::os::fd::OwnedFd>,
    /// Where to write the new process's pid.
    pub pid_file: Option<PathBuf>,
    /// Extra descriptors from 3 on that the process keeps.
    pub preserve_fds: i32,
    /// Allow exec into a paused container.
    pub ignore_paused: bool,
}

/// The flags of `exec` that change the container's own process.
#[derive(Debug, Default, Clone)]
pub struct ProcessFlags {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `KEY=VALUE` pairs added to the environment.
    pub env: Vec<String>,
    /// The working directory.
    pub cwd: Option<PathBuf>,
    /// `UID[:GID]`.
    pub user: Option<(u32, Option<u32>)>,
    /// Supplementary groups.
    pub additional_gids: Vec<u32>,
    /// Capabilities added (never to the inheritable set).
    pub caps: Vec<String>,
    /// Set no_new_privs.
    pub no_new_privs: bool,
    /// Allocate a terminal.
    pub tty: bool,
    /// AppArmor profile for the process.
    pub apparmor: Option<String>,
    /// SELinux label for the process.
    pub process_label: Option<String>,
}

/// The container's spec as it was created.
pub fn container_spec(store: &Store, id: &str) -> Result<Spec> {
    let path = store.dir(id).join("config.json");
    let text = fs::read_to_string(&path).ctx(|| format!("read {}", path.display()))?;
    crate::spec::parse(&text)
}

/// Build the process for `exec` from the container's process and the flags.
pub fn process_from_flags(base: &Process, f: &ProcessFlags) -> Result<Process> {
    let mut p = base.clone();
    if f.args.is_empty() {
        return Err(Error::Usage(
            "exec needs a command (or --process FILE)".into(),
        ));
    }
    p.set_args(Some(f.args.clone()));
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(f.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(cwd) = &f.cwd {
        p.set_cwd(cwd.clone());
    }
    if let Some((uid, gid)) = f.user {
        p.user_mut().set_uid(uid);
        p.user_mut().set_gid(gid.unwrap_or(0));
    }
    if !f.additional_gids.is_empty() {
        p.user_mut()
            .set_additional_gids(Some(f.additional_gids.clone()));
    }
    if f.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    p.set_terminal(Some(f.tty));
    if f.apparmor.is_some() {
        p.set_apparmor_profile(f.apparmor.clone());
    }
    if f.process_label.is_some() {
        p.set_selinux_label(f.process_label.clone());
    }
    add_caps(&mut p, &f.caps)?;
    Ok(p)
}

fn add_caps(p: &mut Process, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut caps = p.capabilities().clone().unwrap_or_default();
    for name in names {
        let full = if name.to_ascii_uppercase().starts_with("CAP_") {
            name.to_ascii_uppercase()
        } else {
            format!("CAP_{}", name.to_ascii_uppercase())
        };
        let cap: Capability = serde_json::from_value(serde_json::Value::String(full.clone()))
            .map_err(|_| Error::Usage(format!("unknown capability {name:?}")))?;
        // Inheritable is left alone: adding there is CVE-2022-29162.
        let add = |set: Option<&oci_spec::runtime::Capabilities>| {
            let mut s = set.cloned().unwrap_or_default();
            s.insert(cap);
            Some(s)
        };
        caps.set_bounding(add(caps.bounding().as_ref()));
        caps.set_effective(add(caps.effective().as_ref()));
        caps.set_permitted(add(caps.permitted().as_ref()));
        caps.set_ambient(add(caps.ambient().as_ref()));
    }
    p.set_capabilities(Some(caps));
    Ok(())
}

/// A started exec process.
#[derive(Debug)]
pub struct Execd {
    /// Its pid on the host.
    pub pid: Pid,
    /// The runtime's end of the channel (closes when the process execs).
    pub chan: Channel,
}

/// Start `process` inside container `id`.
pub fn exec(store: &Store, id: &str, process: &Process, opts: &ExecOptions) -> Result<Execd> {
    let state = store.load(id)?;
    match state.status {
        Status::Running => {}
        Status::Paused if opts.ignore_paused => {}
        s => {
            return Err(Error::WrongState {
                id: id.to_string(),
                status: s.to_string(),
                what: "exec needs a running container",
            })
        }
    }
    let cg = cgroup::of(&state)?;
    let spec = container_spec(store, id)?;
    let filter = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let console_fd = match (process.terminal() == Some(true), &opts.console_socket) {
        (true, Some(fd)) => Some(fd.as_raw_fd()),
        (true, None) => return Err(Error::Usage("a terminal needs a console socket".into())),
        (false, _) => None,
    };
    let (parent, child) = sync::pair()?;
    let init_pid = state.pid;
    let entry = cg.entry()?;
    let run = || -> i32 {
        let r = entry
            .as_ref()
            .map_or(Ok(()), |e| e.enter_self().map_err(Error::from))
            .and_then(|()| {
                run_in_container(process, &child, console_fd, opts.preserve_fds, filter)
            });
        let Err(e) = r;
        if child.send(&Msg::Error(e.to_string())).is_err() {
            eprintln!("exec: {e}");
        }
        127
    };
    // The helper that joins the namespaces is cloned into the cgroup2 part
    // of the cgroup, so the process it clones starts there; the process
    // then moves itself on the v1 hierarchies.
    let into = entry.as_ref().and_then(Entry::clone_into);
    let middle = clone_into(CloneFlags::empty(), into, || {
        let r =
            namespaces::join_process(init_pid).and_then(|()| clone_child(CloneFlags::empty(), run));
        let msg = match r {
            Ok(pid) => Msg::Pid(pid.as_raw(), false),
            Err(e) => Msg::Error(e.to_string()),
        };
        i32::from(child.send(&msg).is_err())
    })?;
    let entered = entry.is_some() && (into.is_none() || middle.in_cgroup);
    let middle = middle.pid;
    drop((child, entry));
    let status = waitpid(middle, None).ctx(|| "wait for the exec helper".to_string())?;
    if !matches!(status, WaitStatus::Exited(_, 0)) {
        return Err(Error::Init(format!("exec helper failed: {status:?}")));
    }
    let pid = match parent.recv()? {
        Msg::Pid(p, _) => Pid::from_raw(p),
        Msg::Error(e) => return Err(Error::Init(e)),
        other => return Err(Error::Init(format!("unexpected {other:?}"))),
    };
    let moved = match entered {
        true => Ok(()),
        false => cg.add_process(pid.as_raw()),
    };
    if let Err(e) = moved {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        return Err(e.into());
    }
    parent.send(&Msg::Go)?;
    loop {
        match parent.recv_with_fd()? {
            (Msg::Ready, _) => break,
            (Msg::SeccompFd, Some(fd)) => {
                crate::container::forward_seccomp_fd(&spec, fd, pid.as_raw(), &state)?
            }
            (Msg::Error(e), _) => return Err(Error::Init(e)),
            (other, _) => return Err(Error::Init(format!("unexpected {other:?}"))),
        }
    }
    if let Some(p) = &opts.pid_file {
        crate::container::write_pid_file(p, pid.as_raw())?;
    }
    Ok(Execd { pid, chan: parent })
}

fn run_in_container(
    process: &Process,
    chan: &Channel,
    console: Option<i32>,
    preserve_fds: i32,
    filter: Option<&oci_spec::runtime::LinuxSeccomp>,
) -> Result<std::convert::Infallible> {
    nix::sys::signal::SigSet::empty()
        .thread_set_mask()
        .ctx(|| "reset the signal mask".to_string())?;
    chan.expect(Msg::Go)?;
    if let Some(socket) = console {
        console::setup_pty(socket, process.console_size(), false)?;
    }
    let prepared = process::prepare(process, &[])?;
    process::set_rlimits(process)?;
    process::enter_cwd(process)?;
    let filter = crate::init::load_notify_filter(filter, chan)?;
    process::finalize(process, preserve_fds, filter)?;
    chan.send(&Msg::Ready)?;
    process::exec(&prepared)
}
