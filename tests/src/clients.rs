//! Helpers for the client tests: real engines (Podman, containerd, Docker) driving the
//! runtime under test, each with private state under a scratch directory.
//!
//! A [`Scratch`] owns everything a client test makes: the directory, the daemons it
//! started (stopped by pid), the network links and the cgroups named after it. Dropping
//! it undoes all of that, even when the test panicked: first the engine's own clean-up
//! commands, then the processes left in its cgroups, then the daemons, then leftover
//! helper processes (shims, conmon) whose command line names the scratch directory, then
//! the mounts under the directory, the cgroups, the links and the directory itself.

use crate::guard::cgroup_dirs;
use crate::procs::DEADLINE;
use nix::mount::{umount2, MntFlags};
use nix::pty::{openpty, Winsize};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;
use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Debian's runc, the reference every client scenario also runs against.
pub const DEBIAN_RUNC: &str = "/usr/sbin/runc";

/// How long one engine command may take before the test gives up on it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The page the busybox image serves from `/var/www/index.html`.
pub const INDEX_PAGE: &str = "hello from a skiff client test\n";

/// What an engine command did.
#[derive(Debug)]
pub struct Ran {
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// What it wrote to stdout, lossily decoded.
    pub stdout: String,
    /// What it wrote to stderr, lossily decoded.
    pub stderr: String,
    what: String,
}

impl Ran {
    /// Panics with the command's output unless it exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "{}: expected exit code {code}\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics with the command's output unless it succeeded.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.expect_code(0)
    }

    /// Panics unless stdout contains `want`.
    #[track_caller]
    pub fn stdout_has(&self, want: &str) -> &Self {
        assert!(
            self.stdout.contains(want),
            "{}: stdout lacks {want:?}\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout,
            self.stderr
        );
        self
    }
}

/// What a command gets on stdin.
pub enum Input<'a> {
    /// `/dev/null`.
    Null,
    /// These bytes, then end of file.
    Bytes(&'a [u8]),
    /// A pipe that stays open (and silent) until the command exits.
    Open,
}

/// Runs `cmd` with `input` on stdin, collecting its output; kills it (by its pid) and
/// panics if it takes longer than [`COMMAND_TIMEOUT`].
pub fn run(cmd: &mut Command, input: Input<'_>) -> Ran {
    let what = format!("{cmd:?}");
    cmd.stdin(match input {
        Input::Null => Stdio::null(),
        _ => Stdio::piped(),
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut stdin = child.stdin.take();
    if let (Input::Bytes(bytes), Some(mut pipe)) = (&input, stdin.take()) {
        // A short write to a fresh pipe fits its buffer; the child reads it when it likes.
        let _ = pipe.write_all(bytes);
    }
    let stdout = reader(child.stdout.take());
    let stderr = reader(child.stderr.take());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for command") {
            break status;
        }
        if start.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            let out = collect(stdout);
            let err = collect(stderr);
            panic!("{what} timed out after {COMMAND_TIMEOUT:?}\nstdout: {out}\nstderr: {err}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(stdin);
    Ran {
        code: status.code(),
        stdout: collect(stdout),
        stderr: collect(stderr),
        what,
    }
}

fn reader(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send(buf);
        });
    }
    rx
}

/// What a reader thread read; empty if a process the command left behind still holds
/// the pipe open after a few seconds.
fn collect(rx: mpsc::Receiver<Vec<u8>>) -> String {
    let bytes = rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs `argv` (with `envs` added) in a new session whose controlling terminal is a
/// fresh pseudo-terminal, as its stdin, stdout and stderr: what a client's `-it` or
/// `--tty` needs. Returns what the program wrote to the terminal (as stdout), with
/// its exit code; kills it (by pid) after [`COMMAND_TIMEOUT`].
pub fn run_in_pty(argv: &[String], envs: &[(String, String)]) -> Ran {
    let what = format!("{argv:?} on a pty");
    let size = Winsize {
        ws_row: 24,
        ws_col: 80,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = openpty(Some(&size), None).expect("openpty");
    let mut child = {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..])
            .envs(envs.iter().cloned())
            .env("TERM", "xterm");
        for (i, stdio) in [0, 1, 2]
            .into_iter()
            .map(|_| pty.slave.try_clone())
            .enumerate()
        {
            let stdio = Stdio::from(stdio.expect("dup pty slave"));
            match i {
                0 => cmd.stdin(stdio),
                1 => cmd.stdout(stdio),
                _ => cmd.stderr(stdio),
            };
        }
        // SAFETY: between fork and exec only async-signal-safe calls: setsid and ioctl.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        cmd.spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"))
        // `cmd` goes here, and with it the parent's copies of the slave.
    };
    drop(pty.slave);
    // Reading the master ends with EIO once every holder of the slave is gone.
    let output = reader(Some(fs::File::from(pty.master)));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for command") {
            break status;
        }
        if start.elapsed() > COMMAND_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{what} timed out after {COMMAND_TIMEOUT:?}\noutput: {}",
                collect(output)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ran {
        code: status.code(),
        stdout: collect(output),
        stderr: String::new(),
        what,
    }
}

/// `s` as one word for `sh`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// One HTTP/1.0 GET of `path` from 127.0.0.1:`port`; the whole response, if any.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(2))
            .ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    Some(String::from_utf8_lossy(&response).into_owned())
}

/// Fetches `path` from 127.0.0.1:`port` until the response has `want` in it.
pub fn wait_http(port: u16, path: &str, want: &str) -> String {
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < DEADLINE {
        last = http_get(port, path);
        if let Some(body) = &last {
            if body.contains(want) {
                return body.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("http://127.0.0.1:{port}{path} never answered with {want:?}; last: {last:?}");
}

/// Polls `cond` until it is true, or panics after [`DEADLINE`].
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A resource limit of the cgroup `pid` is in, read on the host: `memory` (bytes) or
/// `pids`, from cgroup v1's `memory.limit_in_bytes`/`pids.max` or v2's
/// `memory.max`/`pids.max`.
pub fn cgroup_limit(pid: i32, controller: &str) -> String {
    let cgroups = fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/cgroup: {e}"));
    let v1_file = match controller {
        "memory" => "memory.limit_in_bytes",
        _ => "pids.max",
    };
    let v2_file = format!("{controller}.max");
    let mut unified = None;
    for line in cgroups.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next(), parts.next(), parts.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        if controllers.split(',').any(|c| c == controller) {
            let file = format!("/sys/fs/cgroup/{controller}{path}/{v1_file}");
            return read_trimmed(&file);
        }
        if controllers.is_empty() {
            unified = Some(format!("/sys/fs/cgroup{path}/{v2_file}"));
        }
    }
    let file = unified.unwrap_or_else(|| panic!("pid {pid} has no {controller} cgroup"));
    read_trimmed(&file)
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("read {path}: {e}"))
        .trim()
        .to_string()
}

/// Writes a busybox root filesystem under `dir/rootfs`: the static busybox binary,
/// a symlink per applet, a minimal `/etc` and a page for `httpd` under `/var/www`.
pub fn busybox_rootfs(dir: &Path) -> PathBuf {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.exists())
        .expect("busybox (Debian's busybox-static) is installed");
    let root = dir.join("rootfs");
    for sub in ["bin", "etc", "proc", "sys", "dev", "root", "tmp", "var/www"] {
        fs::create_dir_all(root.join(sub)).expect("mkdir in rootfs");
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).expect("chmod tmp");
    fs::copy(busybox, root.join("bin/busybox")).expect("copy busybox");
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if !applet.is_empty() && applet != "busybox" && !applet.contains('/') {
            symlink("busybox", root.join("bin").join(applet)).expect("applet symlink");
        }
    }
    let files = [
        (
            "etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        ),
        ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
        ("etc/hostname", "busybox\n"),
        ("var/www/index.html", INDEX_PAGE),
    ];
    for (path, content) in files {
        fs::write(root.join(path), content).expect("write rootfs file");
    }
    root
}

/// Tars `rootfs` into `dest` (an uncompressed layer, owned by root).
pub fn tar_dir(rootfs: &Path, dest: &Path) {
    run(
        Command::new("tar")
            .args(["--numeric-owner", "--owner=0", "--group=0", "-C"])
            .arg(rootfs)
            .arg("-cf")
            .arg(dest)
            .arg("."),
        Input::Null,
    )
    .ok();
}

fn sha256_hex(path: &Path) -> String {
    let ran = run(Command::new("sha256sum").arg(path), Input::Null);
    ran.ok();
    ran.stdout
        .split_whitespace()
        .next()
        .expect("sha256sum output")
        .to_string()
}

/// The image architecture name of this machine (`amd64`, `arm64`, ...).
pub fn image_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390x",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        other => other,
    }
}

/// Builds a `docker save`-style archive (what `docker load` and `ctr images import`
/// read) at `dir/image.tar` holding one image, `reference`, whose single layer is
/// `layer` (a tar of a root filesystem).
pub fn docker_archive(dir: &Path, layer: &Path, reference: &str) -> PathBuf {
    let work = dir.join("image");
    fs::create_dir_all(&work).expect("mkdir image");
    fs::copy(layer, work.join("layer.tar")).expect("copy layer");
    let diff_id = format!("sha256:{}", sha256_hex(&work.join("layer.tar")));
    let config = json!({
        "architecture": image_arch(),
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {
            "Env": [crate::DEFAULT_PATH],
            "Cmd": ["sh"],
            "WorkingDir": "/",
        },
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        "history": [{ "created": "2024-01-01T00:00:00Z", "created_by": "skiff client test" }],
    });
    fs::write(work.join("config.json"), config.to_string()).expect("write config");
    let config_hex = sha256_hex(&work.join("config.json"));
    let config_name = format!("{config_hex}.json");
    fs::rename(work.join("config.json"), work.join(&config_name)).expect("rename config");
    let manifest = json!([{
        "Config": config_name,
        "RepoTags": [reference],
        "Layers": ["layer.tar"],
    }]);
    fs::write(work.join("manifest.json"), manifest.to_string()).expect("write manifest");
    let archive = dir.join("image.tar");
    run(
        Command::new("tar")
            .arg("-C")
            .arg(&work)
            .arg("-cf")
            .arg(&archive)
            .args(["manifest.json", &config_name, "layer.tar"]),
        Input::Null,
    )
    .ok();
    archive
}

/// Panics unless `program` can be found on `PATH` or as given.
pub fn require_program(program: &str, package: &str) {
    let found = Path::new(program).is_absolute() && Path::new(program).exists()
        || std::env::var_os("PATH").is_some_and(|paths| {
            std::env::split_paths(&paths).any(|dir| dir.join(program).exists())
        });
    assert!(found, "{program} is missing: apt-get install {package}");
}

type Teardown = Box<dyn FnOnce()>;

struct Daemon {
    what: String,
    child: Child,
    log: PathBuf,
}

/// A client test's private world; see the module documentation.
pub struct Scratch {
    dir: PathBuf,
    name: String,
    daemons: Vec<Daemon>,
    teardown: Vec<Teardown>,
    links: Vec<String>,
    paths: Vec<PathBuf>,
}

impl Scratch {
    /// A fresh scratch directory `/tmp/<name>-XXXXXX`, where the unique name is
    /// `sk<tag><pid>`: short enough for a network interface, distinct for each test
    /// process and each `tag`.
    pub fn new(tag: &str) -> Self {
        let name = format!("sk{tag}{}", std::process::id());
        assert!(name.len() <= 15, "{name} is too long for an interface name");
        let dir = tempfile::Builder::new()
            .prefix(&format!("{name}-"))
            .tempdir_in("/tmp")
            .expect("scratch dir")
            .keep();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod scratch");
        Scratch {
            dir,
            name,
            daemons: Vec::new(),
            teardown: Vec::new(),
            links: Vec::new(),
            paths: Vec::new(),
        }
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `rel` under the scratch directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// The test's unique name: use it for networks, cgroup parents, namespaces.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts a daemon with its output going to `<what>.log` in the scratch directory.
    /// It is stopped by its pid when the scratch is dropped.
    pub fn start_daemon(&mut self, what: &str, mut cmd: Command) -> i32 {
        let log = self.path(&format!("{what}.log"));
        let out = fs::File::create(&log).expect("daemon log");
        let err = out.try_clone().expect("dup daemon log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what} ({cmd:?}): {e}"));
        let pid = i32::try_from(child.id()).expect("pid fits i32");
        self.daemons.push(Daemon {
            what: what.to_string(),
            child,
            log,
        });
        pid
    }

    /// Waits until a daemon accepts connections on the unix socket `sock`; panics with
    /// its log if it exits first or takes longer than [`DEADLINE`].
    pub fn wait_for_socket(&mut self, what: &str, sock: &Path) {
        let start = Instant::now();
        loop {
            if UnixStream::connect(sock).is_ok() {
                return;
            }
            let daemon = self
                .daemons
                .iter_mut()
                .find(|d| d.what == what)
                .unwrap_or_else(|| panic!("no daemon {what}"));
            if let Ok(Some(status)) = daemon.child.try_wait() {
                let log = fs::read_to_string(&daemon.log).unwrap_or_default();
                panic!("{what} exited with {status} before listening on {sock:?}\n{log}");
            }
            if start.elapsed() > DEADLINE {
                let log = fs::read_to_string(&daemon.log).unwrap_or_default();
                panic!("{what} did not listen on {sock:?} in time\n{log}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `f` when the scratch is dropped, before its daemons are stopped (last
    /// registered runs first): the place for an engine's own clean-up commands.
    pub fn on_teardown(&mut self, f: impl FnOnce() + 'static) {
        self.teardown.push(Box::new(f));
    }

    /// Deletes the network link `name` when the scratch is dropped.
    pub fn remove_link_later(&mut self, name: &str) {
        self.links.push(name.to_string());
    }

    /// Removes `path` (a file or directory outside the scratch directory that an engine
    /// makes for this test alone) when the scratch is dropped.
    pub fn remove_path_later(&mut self, path: PathBuf) {
        self.paths.push(path);
    }

    fn stop_daemons(&mut self) {
        for daemon in self.daemons.iter_mut().rev() {
            let pid = Pid::from_raw(i32::try_from(daemon.child.id()).expect("pid fits i32"));
            if let Ok(Some(_)) = daemon.child.try_wait() {
                continue;
            }
            let _ = kill(pid, Signal::SIGTERM);
            let start = Instant::now();
            let exited = loop {
                match daemon.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break true,
                    Ok(None) if start.elapsed() > Duration::from_secs(15) => break false,
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            if !exited {
                eprintln!("{} ignored SIGTERM; killing pid {pid}", daemon.what);
                let _ = kill(pid, Signal::SIGKILL);
                let _ = daemon.child.wait();
            }
        }
    }

    fn dump_logs(&self) {
        for daemon in &self.daemons {
            let log = fs::read_to_string(&daemon.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            eprintln!(
                "--- last lines of {} ({}):",
                daemon.what,
                daemon.log.display()
            );
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.dump_logs();
        }
        while let Some(f) = self.teardown.pop() {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_err() {
                eprintln!("a teardown step of {} panicked", self.name);
            }
        }
        kill_cgroup_processes(&self.name);
        self.stop_daemons();
        kill_processes_naming(&self.dir);
        unmount_under(&self.dir);
        remove_cgroups(&self.name);
        for link in &self.links {
            let _ = Command::new("ip")
                .args(["link", "delete", link])
                .stderr(Stdio::null())
                .status();
            remove_iptables_rules_naming(link);
        }
        for path in &self.paths {
            let _ = fs::remove_dir_all(path).or_else(|_| fs::remove_file(path));
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("cannot remove {}: {e}", self.dir.display());
        }
    }
}

/// Deletes the iptables rules (filter and nat tables) that name the interface `link`:
/// Docker leaves its per-bridge FORWARD and MASQUERADE rules behind when it stops.
pub fn remove_iptables_rules_naming(link: &str) {
    // The rules of `table` that name `link`; `None` when iptables cannot list them.
    let rules = |table: &str| -> Option<Vec<Vec<String>>> {
        let out = Command::new("iptables")
            .args(["--wait", "-t", table, "-S"])
            .stderr(Stdio::null())
            .output()
            .ok()
            .filter(|out| out.status.success())?;
        let rules = String::from_utf8_lossy(&out.stdout)
            .lines()
            // Rules naming only interfaces, addresses and targets have no quoted words.
            .filter(|rule| !rule.contains('"'))
            .map(|rule| {
                rule.split_whitespace()
                    .map(String::from)
                    .collect::<Vec<_>>()
            })
            .filter(|words| {
                words.first().is_some_and(|w| w == "-A") && words.iter().any(|w| w == link)
            })
            .collect();
        Some(rules)
    };
    // A daemon starting meanwhile (another test's) may make a deletion fail: retry.
    for _ in 0..5 {
        let mut left = false;
        for table in ["filter", "nat"] {
            let Some(found) = rules(table) else {
                left = true;
                continue;
            };
            for words in found {
                left = true;
                let _ = Command::new("iptables")
                    .args(["--wait", "-t", table, "-D"])
                    .args(&words[1..])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if !left {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every cgroup directory named `name`, with everything below it, deepest first.
fn cgroup_trees(name: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = fs::read_dir(dir) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&entry.path(), out);
                }
            }
        }
        out.push(dir.to_path_buf());
    }
    let mut out = Vec::new();
    for top in cgroup_dirs(name) {
        walk(&top, &mut out);
    }
    out
}

/// SIGKILLs, by pid, every process in a cgroup named `name` (or below one): what an
/// engine left running in the test's cgroup parent.
fn kill_cgroup_processes(name: &str) {
    for dir in cgroup_trees(name) {
        let procs = fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if pid != std::process::id() as i32 {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// SIGKILLs, by pid, every process whose command line names `dir`: the shims and
/// monitors (containerd-shim, conmon) the test's engines started, which outlive them.
fn kill_processes_naming(dir: &Path) {
    let needle = dir.to_string_lossy().into_owned();
    let me = std::process::id().to_string();
    let Ok(entries) = fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let pid = entry.file_name().to_string_lossy().into_owned();
        if pid == me || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmdline) = fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            if let Ok(pid) = pid.parse::<i32>() {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
            }
        }
    }
}

/// A mount point as /proc/self/mountinfo writes it: spaces, tabs, newlines and
/// backslashes are octal escapes.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        if let (b'\\', Some(digits)) = (bytes[i], octal) {
            let value = digits.iter().fold(0u32, |v, d| v * 8 + u32::from(d - b'0'));
            if let Ok(byte) = u8::try_from(value) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detaches every mount at or below `dir`, deepest first (engines leave overlay,
/// shm and netns mounts behind when they are stopped abruptly).
pub fn unmount_under(dir: &Path) {
    let prefix = dir.to_string_lossy().into_owned();
    for _ in 0..5 {
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut points: Vec<String> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .map(unescape_mountinfo)
            .filter(|p| p == &prefix || p.starts_with(&format!("{prefix}/")))
            .collect();
        if points.is_empty() {
            return;
        }
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            let _ = umount2(point.as_str(), MntFlags::MNT_DETACH);
        }
    }
}

/// Removes every cgroup directory named `name` and everything below it.
fn remove_cgroups(name: &str) {
    for _ in 0..50 {
        let trees = cgroup_trees(name);
        if trees.is_empty() {
            return;
        }
        for dir in trees {
            let _ = fs::remove_dir(&dir);
        }
        if cgroup_trees(name).is_empty() {
            return;
        }
        kill_cgroup_processes(name);
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("cgroups named {name} are left: {:?}", cgroup_trees(name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
        assert_eq!(unescape_mountinfo(r"/end\"), r"/end\");
    }

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
