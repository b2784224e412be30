//! The network `slirp4netns`, an ordinary user's default: the container gets
//! a network namespace of its own whose one link, `tap0`, is served by a
//! `slirp4netns` process (Debian's package) that turns its packets into
//! the user's own sockets on the host. Published ports are sockets that
//! process listens on, added through its API socket (`add_hostfwd`).
//!
//! The process is a child of the container's monitor: started once the
//! runtime has made the container's namespaces and before its process
//! runs, killed by its recorded pid when the container ends (or by the
//! kernel, through `PR_SET_PDEATHSIG`, when the monitor dies first).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use skiff_network::{PortMapping, Protocol};

use crate::containers::NetAttachment;
use crate::{Error, Result};

/// The network's name, as `--network` takes it.
pub const NETWORK: &str = "slirp4netns";
/// The container's link.
pub const IFNAME: &str = "tap0";
/// The container's address (slirp4netns's `--configure`).
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);
/// The gateway: the host, as slirp4netns presents it.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// slirp4netns's DNS forwarder.
pub const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
/// The environment variable naming the binary where it is not on `PATH`.
pub const BINARY_ENV: &str = "SKIFF_SLIRP4NETNS";

const PREFIX: u8 = 24;
const MTU: u32 = 65520;
const READY_TIMEOUT: Duration = Duration::from_secs(10);
const API_TIMEOUT: Duration = Duration::from_secs(5);

/// What `--network slirp4netns:KEY=VALUE,...` sets (Podman's spelling).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `allow_host_loopback=true`: the container reaches the host's
    /// 127.0.0.1 as 10.0.2.2. Off by default, as Podman has it; UDP replies
    /// to a client on the host's loopback need it (slirp4netns sends them
    /// to the host's loopback, which is otherwise closed to the container).
    pub allow_host_loopback: bool,
}

impl Options {
    /// The options in a `--network` value that is `slirp4netns` or
    /// `slirp4netns:...`; `None` for any other network.
    pub fn of(network: &str) -> Option<Result<Options>> {
        let rest = network.strip_prefix(NETWORK)?;
        let list = match rest.strip_prefix(':') {
            Some(list) => list,
            None if rest.is_empty() => "",
            None => return None,
        };
        let mut options = Options::default();
        for item in list.split(',').filter(|i| !i.is_empty()) {
            match item.split_once('=') {
                Some(("allow_host_loopback", "true")) => options.allow_host_loopback = true,
                Some(("allow_host_loopback", "false")) => options.allow_host_loopback = false,
                _ => {
                    return Some(Err(Error::Invalid(format!(
                        "--network {network}: {item:?} is not an option skiff's {NETWORK} \
                         takes (allow_host_loopback=true|false)"
                    ))))
                }
            }
        }
        Some(Ok(options))
    }
}

/// The container's namespaces slirp4netns joins to make `tap0`, as
/// descriptors: an ordinary user may not open a waiting init's
/// `/proc/PID/ns` files (it is not dumpable), so the runtime opens them.
pub struct Namespaces<'a> {
    /// The network namespace.
    pub net: &'a OwnedFd,
    /// The user namespace that owns it, if not the monitor's own:
    /// slirp4netns runs in it, as its root.
    pub user: Option<&'a OwnedFd>,
}

/// Where one container's slirp4netns keeps its things.
pub struct Files {
    /// Its API socket, under the run root (a socket's path must fit 108 bytes).
    pub socket: PathBuf,
    /// Its pid and start time, next to the socket.
    pub pid_file: PathBuf,
    /// Its output, in the container's directory.
    pub log: PathBuf,
}

impl Files {
    /// The files of container `id`, whose directory is `dir`.
    pub fn new(runroot: &Path, dir: &Path, id: &str) -> Files {
        let base = runroot.join(NETWORK).join(&id[..12]);
        Files {
            socket: base.with_extension("sock"),
            pid_file: base.with_extension("pid"),
            log: dir.join("slirp4netns.log"),
        }
    }
}

/// The binary: `$SKIFF_SLIRP4NETNS`, else the first on `PATH`, else
/// `/usr/bin/slirp4netns`; an error naming the package when there is none.
pub fn binary() -> Result<PathBuf> {
    if let Some(given) = std::env::var_os(BINARY_ENV) {
        let path = PathBuf::from(&given);
        if path.is_file() {
            return Ok(path);
        }
        return Err(Error::Invalid(format!(
            "{BINARY_ENV}={}: no such file; name the slirp4netns binary there, or unset it",
            path.display()
        )));
    }
    let search = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(NETWORK))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Invalid(format!(
                "--network {NETWORK}: slirp4netns is not installed; install Debian's package \
                 slirp4netns (or name the binary in {BINARY_ENV}), or run the container with \
                 --network none or host"
            ))
        })
}

/// Refuses, before anything is made, what slirp4netns cannot publish.
pub fn check_ports(ports: &[PortMapping]) -> Result<()> {
    match ports
        .iter()
        .find(|p| matches!(p.host_ip, Some(IpAddr::V6(_))))
    {
        Some(p) => Err(Error::Invalid(format!(
            "-p {p}: ports published through {NETWORK} take IPv4 host addresses only"
        ))),
        None => Ok(()),
    }
}

/// Starts slirp4netns for the container's namespaces (its init waiting to
/// run), publishes `ports`, and returns the attachment to record. On
/// failure the process is gone again.
pub fn start(
    files: &Files,
    namespaces: &Namespaces,
    options: Options,
    mac: Option<&str>,
    ports: &[PortMapping],
) -> Result<NetAttachment> {
    check_ports(ports)?;
    let bin = binary()?;
    let child = spawn(&bin, files, namespaces, options, mac)?;
    let published = wait_ready(files, child).and_then(|()| {
        let mut taken = Vec::new();
        for p in ports {
            taken.push(publish(files, p, &taken)?);
        }
        Ok(taken)
    });
    let published = published.inspect_err(|_| stop(files))?;
    Ok(NetAttachment {
        network: NETWORK.to_string(),
        ifname: IFNAME.to_string(),
        ip: ADDRESS.to_string(),
        prefix: PREFIX,
        gateway: GATEWAY.to_string(),
        ip6: String::new(),
        prefix6: 0,
        gateway6: String::new(),
        mac: mac.unwrap_or_default().to_string(),
        ports: published.iter().map(|p| p.to_string()).collect(),
    })
}

/// The started process, and the read end of its ready pipe.
struct Child {
    pid: i32,
    ready: OwnedFd,
}

fn spawn(
    bin: &Path,
    files: &Files,
    ns: &Namespaces,
    options: Options,
    mac: Option<&str>,
) -> Result<Child> {
    let dir = files.socket.parent().expect("the socket is in a directory");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::Io(format!("creating {}", dir.display()), e))?;
    let _ = std::fs::remove_file(&files.socket);
    let log = File::create(&files.log)
        .map_err(|e| Error::Io(format!("creating {}", files.log.display()), e))?;
    let log_err = log
        .try_clone()
        .map_err(|e| Error::Io(format!("opening {}", files.log.display()), e))?;
    let (ready, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Io("making slirp4netns's ready pipe".into(), e.into()))?;
    let ready_fd = ready_w.as_raw_fd();
    let net_fd = ns.net.as_raw_fd();
    let user_fd = ns.user.map_or(-1, |fd| fd.as_raw_fd());
    let monitor = nix::unistd::getpid();
    let mut cmd = Command::new(bin);
    cmd.arg("--configure").arg(format!("--mtu={MTU}"));
    if !options.allow_host_loopback {
        cmd.arg("--disable-host-loopback");
    }
    cmd.arg("--enable-sandbox")
        .arg("--enable-seccomp")
        .arg("--api-socket")
        .arg(&files.socket)
        .arg(format!("--ready-fd={ready_fd}"));
    if let Some(mac) = mac {
        cmd.arg(format!("--macaddress={mac}"));
    }
    cmd.arg("--netns-type=path")
        .arg(format!("/proc/self/fd/{net_fd}"))
        .arg(IFNAME)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SAFETY: between fork and exec the child calls only async-signal-safe
    // functions (fcntl, sigprocmask, prctl, getppid, setns) on its own
    // copies of the descriptors, mask and credentials. It keeps the ready
    // pipe's write end and the network namespace open across exec, gets an
    // empty signal mask (the monitor blocks the signals it waits for, and a
    // mask survives exec), and is killed when the monitor dies; a monitor
    // already gone by then fails the spawn. It enters the container's user
    // namespace, where it is root: slirp4netns then joins the network
    // namespace without entering a user namespace by path (which its
    // sandbox does not do for a network namespace given by path), and its
    // sandbox drops every capability but CAP_NET_BIND_SERVICE there.
    unsafe {
        cmd.pre_exec(move || {
            for fd in [ready_fd, net_fd] {
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::getppid() != monitor.as_raw() {
                return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
            }
            if user_fd >= 0 && libc::setns(user_fd, libc::CLONE_NEWUSER) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd
        .spawn()
        .map_err(|e| Error::Io(format!("starting {}", bin.display()), e))?;
    drop(ready_w);
    let pid = child.id() as i32;
    let start = skiff_runtime::state::proc_stat(pid).map_or(0, |s| s.1);
    if let Err(e) = std::fs::write(&files.pid_file, format!("{pid} {start}\n")) {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        return Err(Error::Io(
            format!("writing {}", files.pid_file.display()),
            e,
        ));
    }
    Ok(Child { pid, ready })
}

/// Waits until slirp4netns says it has configured `tap0` and listens on
/// its API socket; an error with what it printed when it ends first.
fn wait_ready(files: &Files, child: Child) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(child.ready.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::Io("waiting for slirp4netns".into(), e.into())),
            Ok(0) => {
                return Err(Error::Runtime(format!(
                    "slirp4netns (pid {}) was not ready after {} s; its output: {}",
                    child.pid,
                    READY_TIMEOUT.as_secs(),
                    output(files)
                )))
            }
            Ok(_) => break,
        }
    }
    let mut byte = [0u8; 1];
    match nix::unistd::read(child.ready.as_raw_fd(), &mut byte) {
        Ok(1) if byte[0] == b'1' => Ok(()),
        _ => Err(Error::Runtime(format!(
            "slirp4netns could not set up the container's network: {}",
            output(files)
        ))),
    }
}

/// The last lines slirp4netns wrote, for an error.
fn output(files: &Files) -> String {
    let text = std::fs::read_to_string(&files.log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(5)..].join("; ");
    match tail.is_empty() {
        true => format!("(nothing; see {})", files.log.display()),
        false => tail,
    }
}

/// Publishes one `-p` mapping, choosing its host ports when it names none;
/// the mapping as published. `taken`: the container's mappings so far.
fn publish(files: &Files, p: &PortMapping, taken: &[PortMapping]) -> Result<PortMapping> {
    let host_ip = match p.host_ip {
        Some(IpAddr::V4(ip)) => ip,
        _ => Ipv4Addr::UNSPECIFIED,
    };
    let mut p = *p;
    if p.host_port == 0 {
        p.host_port =
            skiff_network::free_host_port(&p, |c| taken.iter().any(|t| t.conflicts_with(c)))
                .map_err(|_| Error::Conflict(format!("-p {p}: no free host port")))?;
    }
    if let Some(t) = taken.iter().find(|t| t.conflicts_with(&p)) {
        return Err(Error::Conflict(format!(
            "-p {p}: its host port is published twice (also by -p {t})"
        )));
    }
    for (host, guest) in p.pairs() {
        if let Err(e) = bind(host_ip, host, p.protocol) {
            let why = match e.kind() {
                std::io::ErrorKind::AddrInUse => "is already in use on the host".to_string(),
                std::io::ErrorKind::PermissionDenied => {
                    "needs root on the host (ports below net.ipv4.ip_unprivileged_port_start)"
                        .to_string()
                }
                _ => format!("cannot be bound on the host: {e}"),
            };
            return Err(Error::Conflict(format!(
                "-p {p}: {host_ip}:{host}/{} {why}; publish it on another host port",
                p.protocol
            )));
        }
        let request = serde_json::json!({
            "execute": "add_hostfwd",
            "arguments": {
                "proto": p.protocol.to_string(),
                "host_addr": host_ip.to_string(),
                "host_port": host,
                "guest_port": guest,
            }
        });
        api(files, &request).map_err(|e| match e {
            Error::Runtime(why) => Error::Runtime(format!(
                "-p {p}: slirp4netns could not forward {host_ip}:{host}/{}: {why}",
                p.protocol
            )),
            other => other,
        })?;
    }
    Ok(p)
}

/// Whether a host socket could have the port (dropped at once).
fn bind(ip: Ipv4Addr, port: u16, protocol: Protocol) -> std::io::Result<()> {
    let addr = SocketAddr::new(IpAddr::V4(ip), port);
    match protocol {
        Protocol::Tcp => TcpListener::bind(addr).map(drop),
        Protocol::Udp => UdpSocket::bind(addr).map(drop),
    }
}

/// One request to the API socket, one answer: its `return`, or its `error`
/// as [`Error::Runtime`].
fn api(files: &Files, request: &serde_json::Value) -> Result<serde_json::Value> {
    let io =
        |e: std::io::Error| Error::Io(format!("slirp4netns API {}", files.socket.display()), e);
    let mut sock = UnixStream::connect(&files.socket).map_err(io)?;
    sock.set_read_timeout(Some(API_TIMEOUT)).map_err(io)?;
    sock.set_write_timeout(Some(API_TIMEOUT)).map_err(io)?;
    sock.write_all(request.to_string().as_bytes()).map_err(io)?;
    sock.shutdown(std::net::Shutdown::Write).map_err(io)?;
    let mut answer = String::new();
    sock.read_to_string(&mut answer).map_err(io)?;
    let answer: serde_json::Value = serde_json::from_str(&answer)
        .map_err(|e| Error::Runtime(format!("slirp4netns answered {answer:?}, not JSON: {e}")))?;
    match answer.get("error") {
        Some(err) => Err(Error::Runtime(
            err["desc"]
                .as_str()
                .unwrap_or("an error without a description")
                .to_string(),
        )),
        None => Ok(answer["return"].clone()),
    }
}

/// Ends the container's slirp4netns, if it runs (killed by its recorded pid
/// and start time, reaped when it is this process's child), and removes its
/// socket and pid file. Harmless when there is none.
pub fn stop(files: &Files) {
    if let Some((pid, start)) = crate::net::read_pid_file(&files.pid_file) {
        if skiff_runtime::state::process_alive(pid, start) {
            let pid = Pid::from_raw(pid);
            let _ = kill(pid, Signal::SIGKILL);
            if waitpid(pid, None).is_err() {
                let deadline = Instant::now() + Duration::from_secs(2);
                while skiff_runtime::state::process_alive(pid.as_raw(), start)
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
    let _ = std::fs::remove_file(&files.socket);
    let _ = std::fs::remove_file(&files.pid_file);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_in_the_network_value() {
        assert_eq!(
            Options::of("slirp4netns").unwrap().unwrap(),
            Options::default()
        );
        let open = Options::of("slirp4netns:allow_host_loopback=true");
        assert!(open.unwrap().unwrap().allow_host_loopback);
        assert!(Options::of("slirp4netns:mtu=1500").unwrap().is_err());
        assert!(Options::of("slirp4netnsx").is_none());
        assert!(Options::of("host").is_none());
    }

    #[test]
    fn ipv6_host_addresses_are_refused() {
        let v6: PortMapping = "[::1]:8080:80".parse().unwrap();
        let v4: PortMapping = "127.0.0.1:8080:80".parse().unwrap();
        assert!(check_ports(&[v4]).is_ok());
        assert!(check_ports(&[v4, v6]).is_err());
    }
}
