//! `exec`: a new process in a running container's namespaces and cgroup,
//! with the container's own process settings as the base and the flags
//! over them. In the foreground `skiff` is its parent (a child subreaper),
//! forwards signals and the terminal, and returns its exit code.

use std::os::fd::AsRawFd;
use std::path::PathBuf;

use skiff_runtime::exec::{self as rt_exec, ProcessFlags};
use skiff_runtime::foreground;

use super::driver::exec_failure_code;
use super::record::Status;
use super::{rootfs, user};
use crate::{Engine, Error, Result};

/// What `exec` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The command and its arguments.
    pub args: Vec<String>,
    /// `NAME=value` pairs added to the container's environment.
    pub env: Vec<String>,
    /// Working directory.
    pub workdir: Option<String>,
    /// User (name|uid[:group|gid]), looked up in the container.
    pub user: Option<String>,
    /// A pseudo-terminal.
    pub tty: bool,
    /// Do not wait for it.
    pub detach: bool,
    /// Every capability.
    pub privileged: bool,
}

impl Engine {
    /// Runs a process in container `what`; its exit code, or 0 detached.
    pub fn exec(&self, what: &str, opts: &ExecOptions) -> Result<i32> {
        if opts.args.is_empty() {
            return Err(Error::Invalid("exec needs a command".into()));
        }
        let view = self.container(what)?;
        if view.state.status != Status::Running {
            return Err(Error::Conflict(format!(
                "container {} is {}, not running",
                view.config.name, view.state.status
            )));
        }
        let id = &view.config.id;
        // A root mounted only in the container's namespaces is read from
        // its directories: a fuse-overlayfs root admits no process outside
        // the container's user namespace.
        let identity = match (&opts.user, &view.state.rootfs_mounted) {
            (Some(u), Some(_)) => Some(user::resolve(&self.running_root(id, &view.state), u)?),
            (Some(u), None) => {
                let dirs = rootfs::layer_dirs(
                    self.store(),
                    &view.config.image_id,
                    &self.containers.dir(id),
                )?;
                Some(user::resolve_in_layers(&dirs, u)?)
            }
            (None, _) => None,
        };
        let flags = ProcessFlags {
            args: opts.args.clone(),
            env: opts.env.clone(),
            cwd: opts.workdir.as_ref().map(PathBuf::from),
            user: identity.as_ref().map(|i| (i.uid, Some(i.gid))),
            additional_gids: identity.map(|i| i.additional_gids).unwrap_or_default(),
            caps: if opts.privileged {
                skiff_runtime::capabilities::all_names()
            } else {
                Vec::new()
            },
            tty: opts.tty,
            ..ProcessFlags::default()
        };
        if opts.tty && opts.detach {
            return Err(Error::Invalid(
                "exec -d -t: a detached process has no terminal to attach to".into(),
            ));
        }
        if view.config.runtime.is_empty() {
            self.exec_builtin(id, &flags, opts.detach)
        } else {
            self.exec_external(id, &view.config.runtime, &flags, opts.detach)
        }
    }

    /// `exec --process` through an external runtime, which handles the
    /// terminal and the waiting itself; its exit code is the process's.
    fn exec_external(
        &self,
        id: &str,
        runtime: &str,
        flags: &ProcessFlags,
        detach: bool,
    ) -> Result<i32> {
        let bundle = self.containers.dir(id).join("bundle");
        let text = std::fs::read_to_string(bundle.join("config.json"))
            .map_err(|e| Error::Io(format!("reading {}", bundle.display()), e))?;
        let spec = skiff_runtime::spec::parse(&text).map_err(|e| Error::Runtime(e.to_string()))?;
        let base = spec.process().clone().unwrap_or_default();
        let process =
            rt_exec::process_from_flags(&base, flags).map_err(|e| Error::Invalid(e.to_string()))?;
        let file = bundle.join(format!("exec-{}.json", super::names::new_id()));
        skiff_image::store::write_json_atomic(&file, &process)?;
        let mut cmd = std::process::Command::new(runtime);
        cmd.arg("--root")
            .arg(super::driver::external_root(&self.options.runroot, runtime))
            .arg("exec");
        if flags.tty {
            cmd.arg("--tty");
        }
        if detach {
            cmd.arg("--detach");
        }
        cmd.arg("--process").arg(&file).arg(id);
        let status = cmd.status();
        let _ = std::fs::remove_file(&file);
        let status = status.map_err(|e| Error::Runtime(format!("cannot run {runtime}: {e}")))?;
        Ok(status.code().unwrap_or(125))
    }

    fn exec_builtin(&self, id: &str, flags: &ProcessFlags, detach: bool) -> Result<i32> {
        let store = skiff_runtime::state::Store::new(self.options.runroot.join("runtime"));
        let rt = |e: skiff_runtime::Error| {
            let message = e.to_string();
            match exec_failure_code(&message) {
                Some(code) => Error::Command { code, message },
                None => Error::Runtime(message),
            }
        };
        let spec = rt_exec::container_spec(&store, id).map_err(rt)?;
        let base = spec.process().clone().unwrap_or_default();
        let process = rt_exec::process_from_flags(&base, flags).map_err(rt)?;
        // SAFETY: prctl with integer arguments only.
        unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        let (ours, theirs) = match flags.tty && !detach {
            true => super::driver::socket_pair().map(|(a, b)| (Some(a), Some(b)))?,
            false => (None, None),
        };
        let signals = foreground::block_signals().map_err(rt)?;
        let options = rt_exec::ExecOptions {
            console_socket: theirs,
            ..Default::default()
        };
        let started = rt_exec::exec(&store, id, &process, &options).map_err(rt)?;
        drop(options);
        if detach {
            return Ok(0);
        }
        let pty = ours
            .map(|s| skiff_runtime::console::recv_fd(s.as_raw_fd()))
            .transpose()
            .map_err(rt)?;
        foreground::wait(started.pid, &signals, pty).map_err(rt)
    }
}
