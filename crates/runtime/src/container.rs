//! The container lifecycle: create, start, state, kill, delete, pause, resume.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use skiff_cgroups::{Cgroup, Entry, FreezerState};

use crate::cgroup;
use crate::error::{Context, Error, Result};
use crate::fuse_overlay;
use crate::hooks;
use crate::idmap;
use crate::init::Init;
use crate::namespaces::{self, Plan};
use crate::rootless;
use crate::spawn;
use crate::spec;
use crate::state::{self, State, Status, Store, EXEC_FIFO};
use crate::sync::{self, Channel, Msg};
use skiff_timestamp as timestamp;

/// Options of `create` (and `run`).
#[derive(Debug, Default)]
pub struct CreateOptions {
    /// The bundle directory.
    pub bundle: PathBuf,
    /// Where to write init's pid.
    pub pid_file: Option<PathBuf>,
    /// A connected unix socket to send the pty master to.
    pub console_socket: Option<OwnedFd>,
    /// Use a move mount and chroot instead of pivot_root.
    pub no_pivot: bool,
    /// Keep the runtime's session keyring.
    pub no_new_keyring: bool,
    /// Extra descriptors from 3 on that the process keeps.
    pub preserve_fds: i32,
    /// Hand back descriptors of init's network and user namespaces
    /// ([`Created::netns`], [`Created::userns`]).
    pub keep_namespaces: bool,
}

/// The result of `create`: the container's init, and the channel to it
/// (which reports a failure after `start`, or closes when init execs).
#[derive(Debug)]
pub struct Created {
    /// The state as saved.
    pub state: State,
    /// The runtime's end of the init channel.
    pub chan: Channel,
    /// With [`CreateOptions::keep_namespaces`], init's network namespace,
    /// opened before init is set going: it then makes itself non-dumpable,
    /// after which an ordinary user may not open its `/proc/PID/ns` files
    /// until it execs (a user-mode network stack needs them before).
    pub netns: Option<OwnedFd>,
    /// Likewise init's user namespace, when it has one of its own.
    pub userns: Option<OwnedFd>,
}

/// Undoes a half-made container unless disarmed.
struct Undo<'a> {
    store: &'a Store,
    id: &'a str,
    cgroup: Option<Box<dyn Cgroup>>,
    pid: Option<Pid>,
    armed: bool,
}

impl Drop for Undo<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Some(pid) = self.pid {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = skiff_cgroups::kill_all(cg.as_ref(), libc::SIGKILL);
            let _ = cg.destroy();
        }
        let _ = self.store.remove(self.id);
    }
}

/// Create a container: validate the bundle, make its state, cgroup and init,
/// and return once init waits for `start`.
pub fn create(store: &Store, id: &str, opts: &CreateOptions) -> Result<Created> {
    state::validate_id(id)?;
    let bundle = fs::canonicalize(&opts.bundle)
        .map_err(|e| Error::Spec(format!("bundle {}: {e}", opts.bundle.display())))?;
    let spec = spec::load(&bundle)?;
    let rootfs = fs::canonicalize(spec::rootfs_path(&spec, &bundle)?)
        .map_err(|e| Error::Spec(format!("root.path: {e}")))?;
    let cgroup_path = cgroup::path(&spec, id)?;
    let plan = Plan::from_spec(&spec);
    rootless::check(&spec, &plan)?;
    fuse_overlay::check(&spec)?;
    let with_cgroup = rootless::use_cgroup(&spec, &cgroup_path)?;
    let dir = store.create_dir(id)?;
    let mut undo = Undo {
        store,
        id,
        cgroup: None,
        pid: None,
        armed: true,
    };
    let lock = store.lock(id)?;
    let mut state = State {
        oci_version: state::OCI_VERSION.to_string(),
        id: id.to_string(),
        status: Status::Creating,
        pid: 0,
        bundle: bundle.clone(),
        rootfs: rootfs.clone(),
        created: timestamp::now_rfc3339(),
        owner: owner_name(),
        annotations: spec.annotations().clone().unwrap_or_default(),
        init_start_time: 0,
        cgroup_path: cgroup_path.clone(),
        without_cgroup: !with_cgroup,
        hooks: spec.hooks().clone(),
    };
    store.save(&state)?;
    fs::copy(bundle.join("config.json"), dir.join("config.json"))
        .ctx(|| format!("copy config.json into {}", dir.display()))?;
    let fifo = make_fifo(&dir)?;
    let cg = cgroup::of(&state)?;
    cg.create()?;
    undo.cgroup = Some(cg);
    let cg = undo.cgroup.as_deref().expect("just set");
    cg.apply(&rootless::resources(&spec)?)?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    let console = match (terminal, &opts.console_socket) {
        (true, Some(fd)) => Some(fd.as_raw_fd()),
        (true, None) => {
            return Err(Error::Usage(
                "process.terminal is true: a --console-socket is needed to receive the pty".into(),
            ))
        }
        (false, _) => None,
    };
    let (parent, child) = sync::pair()?;
    let extra_env = listen_fds_env();
    let entry = cg.entry()?;
    let init = Init {
        spec: &spec,
        rootfs: &rootfs,
        plan: &plan,
        chan: &child,
        fifo: Some(&fifo),
        console,
        preserve_fds: opts.preserve_fds + listen_fds(),
        extra_env: &extra_env,
        no_pivot: opts.no_pivot,
        no_new_keyring: opts.no_new_keyring,
        cgroup_path: with_cgroup.then_some(cgroup_path.as_path()),
        cgroup_entry: entry.as_ref(),
        close_fds: &[lock.as_raw_fd()],
    };
    let into = entry.as_ref().and_then(Entry::clone_into);
    let cloned = spawn::spawn_init(&plan, &spec, &parent, &child, into, || init.run())?;
    let pid = cloned.pid;
    undo.pid = Some(pid);
    let entered = entry.is_some() && (into.is_none() || cloned.in_cgroup);
    drop((child, fifo, entry));
    if plan.new_user() {
        idmap::write(pid.as_raw(), &spec)?;
    }
    let netns = opts
        .keep_namespaces
        .then(|| namespaces::open(pid.as_raw(), "net"))
        .transpose()?;
    // A root served by fuse-overlayfs is served from init's user namespace.
    let in_userns = plan.new_user()
        || plan
            .joins
            .iter()
            .any(|(t, _)| *t == LinuxNamespaceType::User);
    let userns = ((opts.keep_namespaces && plan.new_user())
        || (in_userns && fuse_overlay::root_mount(&spec).is_some()))
    .then(|| namespaces::open(pid.as_raw(), "user"))
    .transpose()?;
    parent.send(&Msg::Go)?;
    place(cg, pid, entered, &parent)?;
    state.pid = pid.as_raw();
    state.init_start_time = state::proc_stat(pid.as_raw()).map(|s| s.1).unwrap_or(0);
    wait_ready(&parent, &spec, &state, userns.as_ref())?;
    let userns = userns.filter(|_| opts.keep_namespaces && plan.new_user());
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, pid.as_raw())?;
    }
    state.status = Status::Created;
    store.save(&state)?;
    undo.armed = false;
    drop(lock);
    Ok(Created {
        state,
        chan: parent,
        netns,
        userns,
    })
}

/// Moves init into its cgroup unless it `entered` it by itself, and tells
/// it so. Init mounts meanwhile and may have failed first: its reason is
/// then the one reported.
fn place(cg: &dyn Cgroup, pid: Pid, entered: bool, chan: &Channel) -> Result<()> {
    let moved = match entered {
        true => Ok(()),
        false => cg.add_process(pid.as_raw()).map_err(Error::from),
    };
    let placed = moved.and_then(|()| chan.send(&Msg::Placed));
    placed.map_err(|e| {
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        match chan.recv() {
            Ok(Msg::Error(reason)) => Error::Init(reason),
            _ => e,
        }
    })
}

/// Serve init until it is ready: run the runtime's hooks and the root's
/// mount program (in init's user namespace `userns`) when asked.
fn wait_ready(chan: &Channel, spec: &Spec, state: &State, userns: Option<&OwnedFd>) -> Result<()> {
    loop {
        match chan.recv_with_fd()? {
            (Msg::Ready, _) => return Ok(()),
            (Msg::SeccompFd, Some(fd)) => forward_seccomp_fd(spec, fd, state.pid, state)?,
            (Msg::FuseDevice, Some(fd)) => {
                if let Err(e) = fuse_overlay::serve(spec, fd, userns) {
                    let _ = chan.send(&Msg::Error(e.to_string()));
                    return Err(e);
                }
                chan.send(&Msg::FuseServed)?;
            }
            (Msg::RunHooks, _) => {
                let json = state.oci_json().to_string();
                let h = spec.hooks().as_ref();
                let r = hooks::run_all("prestart", h.and_then(|h| h.prestart().as_ref()), &json)
                    .and_then(|()| {
                        let list = h.and_then(|h| h.create_runtime().as_ref());
                        hooks::run_all("createRuntime", list, &json)
                    });
                if let Err(e) = r {
                    let _ = chan.send(&Msg::Error(e.to_string()));
                    return Err(e);
                }
                chan.send(&Msg::HooksDone(json))?;
            }
            (Msg::Error(e), _) => return Err(Error::Init(e)),
            (other, _) => return Err(Error::Init(format!("unexpected message {other:?}"))),
        }
    }
}

/// Hand a seccomp listener descriptor from the container to the agent at `listenerPath`.
pub fn forward_seccomp_fd(spec: &Spec, fd: OwnedFd, pid: i32, state: &State) -> Result<()> {
    let filter = spec.linux().as_ref().and_then(|l| l.seccomp().as_ref());
    let filter =
        filter.ok_or_else(|| Error::Init("a seccomp descriptor came without a profile".into()))?;
    crate::seccomp::send_notify_fd(filter, fd, pid, &state.oci_json())
}

fn make_fifo(dir: &Path) -> Result<OwnedFd> {
    let path = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o600))
        .ctx(|| format!("mkfifo {}", path.display()))?;
    // Read-write so that opening never blocks; init reads, `start` writes.
    let f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open(&path)
        .ctx(|| format!("open {}", path.display()))?;
    Ok(f.into())
}

/// Connect to a console socket given by path.
pub fn connect_console(path: &Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .ctx(|| format!("connect to the console socket {}", path.display()))?;
    Ok(s.into())
}

fn listen_fds() -> i32 {
    std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Socket activation passes through: with LISTEN_FDS set for the runtime,
/// the process gets LISTEN_FDS and LISTEN_PID=1 and keeps those descriptors.
fn listen_fds_env() -> Vec<String> {
    match listen_fds() {
        n if n > 0 => vec![format!("LISTEN_FDS={n}"), "LISTEN_PID=1".to_string()],
        _ => Vec::new(),
    }
}

/// The name of the calling user from `/etc/passwd`, or its uid. Read
/// directly, not through NSS: the release binary is linked statically, and
/// a static glibc would load the host's NSS modules for it.
fn owner_name() -> String {
    let uid = nix::unistd::getuid().to_string();
    fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|text| passwd_name(&text, &uid).map(str::to_string))
        .unwrap_or(uid)
}

/// The name on the line of `passwd` whose uid field is `uid`.
fn passwd_name<'a>(passwd: &'a str, uid: &str) -> Option<&'a str> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)? == uid).then_some(name)
    })
}

/// Write a pid file atomically.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("skiff-tmp");
    fs::write(&tmp, pid.to_string())
        .and_then(|()| fs::rename(&tmp, path))
        .ctx(|| format!("write pid file {}", path.display()))
}

/// Let a created container's init exec the process, then run poststart hooks.
pub fn start(store: &Store, id: &str) -> Result<State> {
    let _lock = store.lock(id)?;
    let mut state = store.load(id)?;
    if state.status != Status::Created {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: state.status.to_string(),
            what: "only a created container can be started",
        });
    }
    let path = store.dir(id).join(EXEC_FIFO);
    let fifo = fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .ctx(|| format!("open {} (is the container's init alive?)", path.display()))?;
    nix::unistd::write(&fifo, &[0]).ctx(|| format!("write {}", path.display()))?;
    fs::remove_file(&path).ctx(|| format!("remove {}", path.display()))?;
    wait_for_exec(&fifo)?;
    state.status = Status::Running;
    store.save(&state)?;
    let list = state.hooks.as_ref().and_then(|h| h.poststart().as_ref());
    if let Err(e) = hooks::run_all("poststart", list, &state.oci_json().to_string()) {
        crate::log::warn(&e.to_string());
    }
    Ok(state)
}

/// Wait until init has exec'd the process (or died): its descriptor of the fifo
/// is close-on-exec, and a fifo with no reader left reports POLLERR to writers.
/// This is what lets poststart hooks run after the process started, as the spec says.
fn wait_for_exec(fifo: &fs::File) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    loop {
        let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::empty())];
        match poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => {
                r.ctx(|| "wait for the container process to exec".to_string())?;
                return Ok(());
            }
        }
    }
}

/// Send a signal to the container's init, or with `all` to every process in its cgroup.
pub fn kill_container(store: &Store, id: &str, signal: Signal, all: bool) -> Result<()> {
    let state = store.load(id)?;
    if state.status == Status::Stopped && !all {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: state.status.to_string(),
            what: "a stopped container cannot be signalled",
        });
    }
    if all {
        let cg = cgroup::of(&state)?;
        skiff_cgroups::kill_all(cg.as_ref(), signal as i32)?;
        return Ok(());
    }
    // A pid of 0 would signal our own process group: a container still
    // being created has no process to signal yet.
    if state.pid <= 0 {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: state.status.to_string(),
            what: "the container has no process yet",
        });
    }
    kill(Pid::from_raw(state.pid), signal)
        .ctx(|| format!("signal container {id} (pid {})", state.pid))
}

/// Delete a container: refuse a running one unless `force`, which kills it.
pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let _lock = match store.lock(id) {
        Err(Error::NotFound(_)) if force => return Ok(()),
        r => r?,
    };
    let state = match store.load(id) {
        Ok(s) => s,
        Err(Error::NotFound(_)) if force => return store.remove(id),
        Err(e) => return Err(e),
    };
    match state.status {
        Status::Running | Status::Paused if !force => {
            return Err(Error::WrongState {
                id: id.to_string(),
                status: state.status.to_string(),
                what: "stop it first, or use delete --force",
            })
        }
        _ => {}
    }
    let cg = cgroup::of(&state)?;
    if state.status != Status::Stopped && state.pid > 0 {
        let _ = kill(Pid::from_raw(state.pid), Signal::SIGKILL);
    }
    if cg.pids().map_or(true, |p| !p.is_empty()) {
        skiff_cgroups::kill_all(cg.as_ref(), libc::SIGKILL)?;
    }
    if state.status == Status::Paused {
        cg.set_freezer(FreezerState::Thawed)?;
    }
    wait_gone(&state);
    cg.destroy()?;
    let list = state.hooks.as_ref().and_then(|h| h.poststop().as_ref());
    if let Err(e) = hooks::run_all("poststop", list, &state.oci_json().to_string()) {
        crate::log::warn(&e.to_string());
    }
    store.remove(id)
}

/// Wait (briefly) until init is gone, so that its cgroup can be removed.
fn wait_gone(state: &State) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.pid > 0
        && state::process_alive(state.pid, state.init_start_time)
        && Instant::now() < deadline
    {
        // Reap it if it is our child (as after `run`); otherwise its parent will.
        let _ = nix::sys::wait::waitpid(
            Pid::from_raw(state.pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Freeze or thaw every process of a running container.
pub fn set_paused(store: &Store, id: &str, paused: bool) -> Result<()> {
    let _lock = store.lock(id)?;
    let mut state = store.load(id)?;
    let want = if paused {
        Status::Running
    } else {
        Status::Paused
    };
    if state.status != want {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: state.status.to_string(),
            what: if paused {
                "only a running container can be paused"
            } else {
                "only a paused container can be resumed"
            },
        });
    }
    let cg = cgroup::of(&state)?;
    let (freezer, status) = if paused {
        (FreezerState::Frozen, Status::Paused)
    } else {
        (FreezerState::Thawed, Status::Running)
    };
    cg.set_freezer(freezer)?;
    state.status = status;
    store.save(&state)
}

/// The pids in a container's cgroup.
pub fn pids(store: &Store, id: &str) -> Result<Vec<i32>> {
    let state = store.load(id)?;
    Ok(cgroup::of(&state)?.pids()?)
}

#[cfg(test)]
mod tests {
    use super::passwd_name;

    #[test]
    fn names_the_owner_from_passwd() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\nbad line\nalice:x:1000:1000::/home/a:/bin/sh\n";
        assert_eq!(passwd_name(passwd, "0"), Some("root"));
        assert_eq!(passwd_name(passwd, "1000"), Some("alice"));
        assert_eq!(passwd_name(passwd, "1001"), None);
        assert_eq!(passwd_name("", "0"), None);
    }
}
