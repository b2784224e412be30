//! One run of a container, inside its monitor: everything from a created
//! record to a running process ([`start`]) and back ([`finish`]), with each
//! step recorded in `state.json` under the container's lock.

use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::unistd::dup2;
use skiff_timestamp::now_rfc3339;

use super::record::Status;
use super::spec::{self, SpecInputs};
use super::{rootfs, user};
use crate::containers::driver::{Created, Driver};
use crate::{Engine, Error, Result};

/// Where the container's standard streams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Stdio {
    /// The monitor's own stdin, stdout and stderr (a foreground `run`
    /// without a terminal: the container gets the user's directly).
    Inherit,
    /// Pipes the monitor reads into the log; stdin is /dev/null.
    Logged,
    /// A pseudo-terminal whose master the monitor holds.
    Tty,
}

/// A running container, as its monitor holds it.
pub struct Running {
    /// Init's pid.
    pub pid: i32,
    /// The pty master, for a terminal.
    pub pty: Option<OwnedFd>,
    /// stdout and stderr pipes' read ends, for [`Stdio::Logged`].
    pub pipes: Vec<OwnedFd>,
}

/// Mounts, writes the spec, creates and starts the container; records it
/// running.
pub fn start(engine: &Engine, id: &str, stdio: Stdio) -> Result<Running> {
    let config = engine.containers.config(id)?;
    let dir = engine.containers.dir(id);
    // With skiff's own runtime the root overlay goes into the spec, and the
    // runtime mounts it inside the container's namespaces: nothing to mount
    // on the host now, nothing to unmount there later (an unmount waits for
    // an RCU grace period). An ordinary user's overlay can be mounted only
    // there. An external runtime gets a mounted root, as a bundle has; so
    // does an image whose layers' absolute names do not fit in a page.
    let driver = Driver::new(&engine.options.runroot, &config.runtime);
    let builtin = matches!(driver, Driver::Builtin(_));
    let overlay = {
        let _lock = engine.containers.lock(id)?;
        let mut state = engine.containers.state(id)?;
        let in_namespace = match engine.userns() {
            Some(_) => Some(rootfs::namespace_options(
                engine.store(),
                &config.image_id,
                &dir,
                true,
            )?),
            None if builtin => {
                let options =
                    rootfs::namespace_options(engine.store(), &config.image_id, &dir, false);
                match engine.options.mount_program {
                    Some(_) => Some(options?),
                    None => options.ok(),
                }
            }
            None => None,
        };
        if in_namespace.is_none() {
            state.rootfs_mounted = Some(rootfs::mount(engine.store(), &config.image_id, &dir)?);
        }
        state.monitor_pid = std::process::id() as i32;
        state.monitor_start = skiff_runtime::state::proc_stat(state.monitor_pid).map_or(0, |s| s.1);
        engine.containers.save_state(id, &state)?;
        in_namespace
    };
    engine.write_net_files(&config, &[])?;
    let identity = match &overlay {
        Some(_) => user::resolve_in_layers(
            &rootfs::layer_dirs(engine.store(), &config.image_id, &dir)?,
            &config.user,
        )?,
        None => user::resolve(&rootfs::target(&dir), &config.user)?,
    };
    let volume_path = |name: &str| engine.volume_path(name);
    let init = match config.init {
        true => Some(super::init_binary::ensure(&engine.options.root)?),
        false => None,
    };
    let mut args = config.args.clone();
    if init.is_some() {
        args.insert(0, super::init_binary::INIT_PATH.to_string());
    }
    let inputs = SpecInputs {
        identity: &identity,
        dir: &dir,
        args,
        volume_path: &volume_path,
        netns: engine.joined_netns(&config)?,
        init,
        userns: engine.userns(),
        root_overlay: overlay,
        mount_program: engine.options.mount_program.as_deref(),
    };
    let spec = spec::build(&config, &inputs)?;
    let bundle = dir.join("bundle");
    // Made again at every start: a copy a power cut emptied does no harm.
    skiff_image::store::write_json_replace(&bundle.join("config.json"), &spec)?;
    let _ = driver.delete(id, true);
    let namespaces = crate::net::mode(&config) == crate::net::Mode::Slirp;
    let (run, created) = create_with_stdio(&driver, id, &bundle, stdio, namespaces)?;
    let networks = match engine.connect_container(&config, &created) {
        Ok(n) => n,
        Err(e) => {
            let _ = driver.delete(id, true);
            return Err(e);
        }
    };
    if let Err(e) = driver.start_created(id, &created) {
        engine.disconnect_all(id, &networks);
        let _ = driver.delete(id, true);
        return Err(e);
    }
    let _lock = engine.containers.lock(id)?;
    let mut state = engine.containers.state(id)?;
    state.status = Status::Running;
    state.pid = run.pid;
    state.pid_start = skiff_runtime::state::proc_stat(run.pid).map_or(0, |s| s.1);
    state.started_at = now_rfc3339();
    state.error.clear();
    state.networks = networks;
    engine.containers.save_state(id, &state)?;
    Ok(run)
}

/// Creates the container with its streams set up as `stdio` asks. The
/// runtime gives init this process's descriptors 0, 1 and 2, so they are
/// pointed where the container's should go for the length of the call and
/// at /dev/null after it: the monitor keeps only the far ends.
/// `namespaces`: see [`Driver::create`].
fn create_with_stdio(
    driver: &Driver,
    id: &str,
    bundle: &Path,
    stdio: Stdio,
    namespaces: bool,
) -> Result<(Running, Created)> {
    let (created, pipes) = match stdio {
        Stdio::Inherit => {
            let created = driver.create(id, bundle, false, namespaces);
            redirect(None, None)?;
            (created?, Vec::new())
        }
        Stdio::Tty => {
            redirect(None, None)?;
            (driver.create(id, bundle, true, namespaces)?, Vec::new())
        }
        Stdio::Logged => {
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            redirect(Some(&out_w), Some(&err_w))?;
            drop((out_w, err_w));
            let created = driver.create(id, bundle, false, namespaces);
            redirect(None, None)?;
            (created?, vec![out_r, err_r])
        }
    };
    let mut created = created;
    let run = Running {
        pid: created.pid,
        pty: created.pty.take(),
        pipes,
    };
    Ok((run, created))
}

fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::Io("pipe".into(), e.into()))
}

/// Points 0 at /dev/null and 1 and 2 at `out` and `err` (or /dev/null).
fn redirect(out: Option<&OwnedFd>, err: Option<&OwnedFd>) -> Result<()> {
    let null = File::options()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| Error::Io("opening /dev/null".into(), e))?;
    let target = |fd: Option<&OwnedFd>| fd.map_or(null.as_raw_fd(), |f| f.as_raw_fd());
    for (from, to) in [(null.as_raw_fd(), 0), (target(out), 1), (target(err), 2)] {
        dup2(from, to).map_err(|e| Error::Io("dup2".into(), e.into()))?;
    }
    Ok(())
}

/// After init exited with `code` (or never started, with `error`): the
/// runtime's container deleted, the root filesystem unmounted, the exit
/// recorded.
pub fn finish(engine: &Engine, id: &str, code: i32, error: &str) -> Result<()> {
    let config = engine.containers.config(id)?;
    let driver = Driver::new(&engine.options.runroot, &config.runtime);
    driver.delete(id, true)?;
    engine.disconnect_container(&config);
    rootfs::unmount(&engine.containers.dir(id))?;
    record_exit(engine, id, code, error)
}

/// Records that the container is not running, with `code` and `error`.
pub fn record_exit(engine: &Engine, id: &str, code: i32, error: &str) -> Result<()> {
    let _lock = engine.containers.lock(id)?;
    let mut state = engine.containers.state(id)?;
    state.status = Status::Exited;
    state.pid = 0;
    state.pid_start = 0;
    state.exit_code = code;
    state.error = error.to_string();
    state.finished_at = now_rfc3339();
    state.rootfs_mounted = None;
    state.networks.clear();
    engine.containers.save_state(id, &state)
}

/// Records an error that stopped the monitor.
pub fn record_error(engine: &Engine, id: &str, error: &str) -> Result<()> {
    let _lock = engine.containers.lock(id)?;
    let mut state = engine.containers.state(id)?;
    state.error = error.to_string();
    engine.containers.save_state(id, &state)
}

/// Records that the restart policy starts the container again.
pub fn mark_restarting(engine: &Engine, id: &str) -> Result<()> {
    let _lock = engine.containers.lock(id)?;
    let mut state = engine.containers.state(id)?;
    state.status = Status::Restarting;
    state.restart_count += 1;
    engine.containers.save_state(id, &state)
}
