//! The OCI runtime a container runs under: skiff's own, as a library (the
//! default: no process to start, no state to parse), or a runc-compatible
//! binary (`--runtime PATH`: crun, runc) through its command line.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use oci_spec::runtime::LinuxResources;
use skiff_runtime::container::{self, CreateOptions};
use skiff_runtime::state::Store as RuntimeStore;

use crate::{Error, Result};

/// A container's runtime.
pub enum Driver {
    /// skiff's runtime, in this process.
    Builtin(RuntimeStore),
    /// A runtime binary with runc's command line.
    External(External),
}

/// A runtime binary and the state root it is given.
pub struct External {
    binary: PathBuf,
    root: PathBuf,
}

/// A created container.
pub struct Created {
    /// Init's pid on the host.
    pub pid: i32,
    /// The pty master, for a terminal.
    pub pty: Option<OwnedFd>,
    /// The channel to the built-in runtime's init: closed when the process
    /// execs, an error message when it cannot.
    pub init: Option<skiff_runtime::sync::Channel>,
    /// When asked for: init's network namespace.
    pub netns: Option<OwnedFd>,
    /// When asked for: init's user namespace, if it has one of its own.
    pub userns: Option<OwnedFd>,
}

/// What went wrong starting a process, told apart as Docker's exit codes
/// tell them: 127 when the command is not found, 126 when it cannot run.
pub fn exec_failure_code(message: &str) -> Option<u8> {
    let m = message.to_ascii_lowercase();
    if m.contains("not found in $path") || m.contains("no such file or directory") {
        Some(127)
    } else if m.contains("not an executable") || m.contains("permission denied") {
        Some(126)
    } else {
        None
    }
}

fn runtime_error(e: skiff_runtime::Error) -> Error {
    let message = e.to_string();
    match exec_failure_code(&message) {
        Some(code) => Error::Command { code, message },
        None => Error::Runtime(message),
    }
}

impl Driver {
    /// The driver for `runtime` (empty for the built-in one), with state
    /// under `runroot`.
    pub fn new(runroot: &Path, runtime: &str) -> Driver {
        if runtime.is_empty() {
            return Driver::Builtin(RuntimeStore::new(runroot.join("runtime")));
        }
        let name = Path::new(runtime)
            .file_name()
            .map_or("external".into(), |n| n.to_string_lossy().into_owned());
        Driver::External(External {
            binary: PathBuf::from(runtime),
            root: runroot.join(format!("runtime-{name}")),
        })
    }

    /// Creates the container from `bundle`. Its process gets this
    /// process's stdin, stdout and stderr, or with `tty` a pseudo-terminal
    /// whose master is returned.
    /// With `namespaces`, the result holds descriptors of init's network
    /// and user namespaces (for slirp4netns).
    pub fn create(&self, id: &str, bundle: &Path, tty: bool, namespaces: bool) -> Result<Created> {
        match self {
            Driver::Builtin(store) => {
                let (ours, theirs) = match tty {
                    true => socket_pair().map(|(a, b)| (Some(a), Some(b)))?,
                    false => (None, None),
                };
                let opts = CreateOptions {
                    bundle: bundle.to_path_buf(),
                    console_socket: theirs,
                    keep_namespaces: namespaces,
                    ..CreateOptions::default()
                };
                let mut created = container::create(store, id, &opts).map_err(runtime_error)?;
                drop(opts);
                let pty = ours
                    .map(|s| skiff_runtime::console::recv_fd(s.as_raw_fd()))
                    .transpose()
                    .map_err(runtime_error)?;
                Ok(Created {
                    pid: created.state.pid,
                    pty,
                    netns: created.netns.take(),
                    userns: created.userns.take(),
                    init: Some(created.chan),
                })
            }
            Driver::External(x) => {
                let (pid, pty) = x.create(id, bundle, tty)?;
                let (netns, userns) = match namespaces {
                    true => foreign_namespaces(pid)?,
                    false => (None, None),
                };
                Ok(Created {
                    pid,
                    pty,
                    init: None,
                    netns,
                    userns,
                })
            }
        }
    }

    /// Starts a created container's process and waits until it runs: an
    /// error its init reports (an executable that cannot run) is returned.
    pub fn start_created(&self, id: &str, created: &Created) -> Result<()> {
        self.start(id)?;
        if let Some(chan) = &created.init {
            if let Ok(skiff_runtime::sync::Msg::Error(e)) = chan.recv() {
                return Err(runtime_error(skiff_runtime::Error::Init(e)));
            }
        }
        Ok(())
    }

    /// Starts a created container's process.
    fn start(&self, id: &str) -> Result<()> {
        match self {
            Driver::Builtin(store) => container::start(store, id)
                .map(|_| ())
                .map_err(runtime_error),
            Driver::External(x) => x.cli(&["start".into(), id.into()]),
        }
    }

    /// Sends `signal` to the container's init, or with `all` to every
    /// process in it.
    pub fn kill(&self, id: &str, signal: Signal, all: bool) -> Result<()> {
        match self {
            Driver::Builtin(store) => {
                container::kill_container(store, id, signal, all).map_err(runtime_error)
            }
            Driver::External(x) => {
                let mut args = vec!["kill".to_string()];
                if all {
                    args.push("--all".into());
                }
                args.extend([id.to_string(), (signal as i32).to_string()]);
                x.cli(&args)
            }
        }
    }

    /// Deletes the runtime's container (killing what is left with `force`).
    /// A container the runtime does not know is already gone.
    pub fn delete(&self, id: &str, force: bool) -> Result<()> {
        match self {
            Driver::Builtin(store) => match container::delete(store, id, force) {
                Err(skiff_runtime::Error::NotFound(_)) => Ok(()),
                r => r.map_err(runtime_error),
            },
            Driver::External(x) => {
                let mut args = vec!["delete".to_string()];
                if force {
                    args.push("--force".into());
                }
                args.push(id.to_string());
                match x.cli(&args) {
                    Err(Error::Runtime(m))
                        if m.contains("not exist") || m.contains("not found") =>
                    {
                        Ok(())
                    }
                    r => r,
                }
            }
        }
    }

    /// Freezes or thaws the container.
    pub fn set_paused(&self, id: &str, paused: bool) -> Result<()> {
        match self {
            Driver::Builtin(store) => {
                container::set_paused(store, id, paused).map_err(runtime_error)
            }
            Driver::External(x) => {
                let verb = if paused { "pause" } else { "resume" };
                x.cli(&[verb.into(), id.into()])
            }
        }
    }

    /// The pids of the container's processes.
    pub fn pids(&self, id: &str) -> Result<Vec<i32>> {
        match self {
            Driver::Builtin(store) => container::pids(store, id).map_err(runtime_error),
            Driver::External(x) => {
                let out = x.output(&["ps".into(), "--format".into(), "json".into(), id.into()])?;
                serde_json::from_slice(&out).map_err(|e| Error::Runtime(format!("runtime ps: {e}")))
            }
        }
    }

    /// Writes new resource limits to a running container's cgroup.
    pub fn update(&self, id: &str, resources: &LinuxResources) -> Result<()> {
        match self {
            Driver::Builtin(store) => {
                skiff_runtime::update::update(store, id, resources).map_err(runtime_error)
            }
            Driver::External(x) => {
                // runc reads the resources from a file: one beside its state.
                let file = x.root.join(format!("{id}.resources.json"));
                let json = serde_json::to_vec(resources).expect("resources serialise");
                std::fs::write(&file, json)
                    .map_err(|e| Error::Io(format!("writing {}", file.display()), e))?;
                let args = [
                    "update".into(),
                    "--resources".into(),
                    path_arg(&file),
                    id.into(),
                ];
                let result = x.cli(&args);
                let _ = std::fs::remove_file(&file);
                result
            }
        }
    }
}

/// The network namespace of an external runtime's init, and its user
/// namespace when it is not this process's (root may open them at any time:
/// only an ordinary user must ask skiff's runtime while init is dumpable).
fn foreign_namespaces(pid: i32) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    use std::os::unix::fs::MetadataExt;
    let open = |kind: &str| {
        let path = format!("/proc/{pid}/ns/{kind}");
        std::fs::File::open(&path)
            .map(OwnedFd::from)
            .map_err(|e| Error::Io(format!("opening {path}"), e))
    };
    let ino = |path: &str| std::fs::metadata(path).map(|m| (m.dev(), m.ino())).ok();
    let userns = match ino(&format!("/proc/{pid}/ns/user")) == ino("/proc/self/ns/user") {
        true => None,
        false => Some(open("user")?),
    };
    Ok((Some(open("net")?), userns))
}

/// The state root an external runtime gets: one per binary name.
pub fn external_root(runroot: &Path, runtime: &str) -> PathBuf {
    let name = Path::new(runtime)
        .file_name()
        .map_or("external".into(), |n| n.to_string_lossy().into_owned());
    runroot.join(format!("runtime-{name}"))
}

/// A connected pair of unix stream sockets (for a console).
pub fn socket_pair() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::Io("socketpair".into(), e.into()))
}

impl External {
    /// `create` through the binary; a terminal's master arrives on a
    /// listening socket in the bundle, as runc's `--console-socket` wants.
    fn create(&self, id: &str, bundle: &Path, tty: bool) -> Result<(i32, Option<OwnedFd>)> {
        let pid_file = bundle.join("init.pid");
        let log = bundle.join("runtime.log");
        let mut args = vec!["--log".to_string(), path_arg(&log), "create".into()];
        args.extend(["--bundle".into(), path_arg(bundle)]);
        args.extend(["--pid-file".into(), path_arg(&pid_file)]);
        let sock_path = bundle.join("console.sock");
        let listener = match tty {
            true => {
                let _ = std::fs::remove_file(&sock_path);
                let l = std::os::unix::net::UnixListener::bind(&sock_path)
                    .map_err(|e| Error::Io(format!("binding {}", sock_path.display()), e))?;
                args.extend(["--console-socket".into(), path_arg(&sock_path)]);
                Some(l)
            }
            false => None,
        };
        args.push(id.to_string());
        // The runtime hands its own stdio to the container's process, so it
        // is inherited here and the runtime's errors come from its log.
        let child = self.spawn_with(&args, false)?;
        let pty = listener
            .map(|l| -> Result<OwnedFd> {
                let (conn, _) = l
                    .accept()
                    .map_err(|e| Error::Io("accepting the console".into(), e))?;
                skiff_runtime::console::recv_fd(conn.as_raw_fd()).map_err(runtime_error)
            })
            .transpose();
        let status = child.wait_with_output().map(|o| o.status);
        let _ = std::fs::remove_file(&sock_path);
        if !status.as_ref().is_ok_and(|s| s.success()) {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let last = text.lines().last().unwrap_or("no log").to_string();
            let message = serde_json::from_str::<serde_json::Value>(&last)
                .ok()
                .and_then(|v| v["msg"].as_str().map(str::to_string))
                .unwrap_or(last);
            let message = format!("{} create: {message}", self.binary.display());
            return Err(match exec_failure_code(&message) {
                Some(code) => Error::Command { code, message },
                None => Error::Runtime(message),
            });
        }
        let pty = pty?;
        let pid = std::fs::read_to_string(&pid_file)
            .map_err(|e| Error::Io(format!("reading {}", pid_file.display()), e))?;
        let pid = pid
            .trim()
            .parse()
            .map_err(|_| Error::Runtime(format!("the runtime wrote a bad pid {pid:?}")))?;
        Ok((pid, pty))
    }

    fn cli(&self, args: &[String]) -> Result<()> {
        let child = self.spawn_with(args, true)?;
        self.finish(args, child)
    }

    fn spawn_with(&self, args: &[String], capture: bool) -> Result<std::process::Child> {
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--root").arg(&self.root).args(args);
        if capture {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped());
        }
        cmd.spawn()
            .map_err(|e| Error::Runtime(format!("cannot run {}: {e}", self.binary.display())))
    }

    fn finish(&self, args: &[String], child: std::process::Child) -> Result<()> {
        let out = child
            .wait_with_output()
            .map_err(|e| Error::Runtime(format!("waiting for {}: {e}", self.binary.display())))?;
        if out.status.success() {
            return Ok(());
        }
        let message = format!(
            "{} {}: {}",
            self.binary.display(),
            args.first().map_or("", String::as_str),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        match exec_failure_code(&message) {
            Some(code) => Err(Error::Command { code, message }),
            None => Err(Error::Runtime(message)),
        }
    }

    fn output(&self, args: &[String]) -> Result<Vec<u8>> {
        let (binary, root) = (&self.binary, &self.root);
        let out = Command::new(binary)
            .arg("--root")
            .arg(root)
            .args(args)
            .output()
            .map_err(|e| Error::Runtime(format!("cannot run {}: {e}", binary.display())))?;
        if !out.status.success() {
            return Err(Error::Runtime(
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        Ok(out.stdout)
    }
}

fn path_arg(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
