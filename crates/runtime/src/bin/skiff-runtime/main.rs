//! skiff-runtime: an OCI runtime with runc's command line.

mod cli;

use std::io::Write;
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{bail, Context, Result};
use clap::Parser;
use oci_spec::runtime::Process;
use skiff_runtime::container::{self, CreateOptions};
use skiff_runtime::exec::{self, ExecOptions, ProcessFlags};
use skiff_runtime::state::{self, Status, Store};
use skiff_runtime::{console, default_spec, features, log, signals};

use cli::{Cli, Command, CreateArgs, ExecArgs, Format, LogFormat, UpdateArgs};

fn main() {
    let cli = Cli::parse();
    log::init(
        cli.log.clone(),
        cli.log_format == LogFormat::Json,
        cli.debug,
    );
    match dispatch(&cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = message(&e);
            if log::has_file() {
                log::error(&msg);
            }
            eprintln!("skiff-runtime: {msg}");
            std::process::exit(1);
        }
    }
}

/// The error and its causes, `: `-separated; a cause whose text the message
/// already ends with (an OS error that both says and holds its source) is
/// not repeated.
fn message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if msg.ends_with(&text) {
            continue;
        }
        if !msg.is_empty() {
            msg.push_str(": ");
        }
        msg.push_str(&text);
    }
    msg
}

fn dispatch(cli: &Cli) -> Result<i32> {
    if cli.systemd_cgroup {
        bail!("--systemd-cgroup: the systemd cgroup driver is not supported; run without it (cgroupfs)");
    }
    if matches!(
        cli.command,
        Command::Create(_) | Command::Run { .. } | Command::Exec(_)
    ) {
        skiff_runtime::sealed_exe::ensure()?;
    }
    let root = cli.root.clone().unwrap_or_else(state::default_root);
    let store = Store::new(root);
    match &cli.command {
        Command::Spec { rootless, bundle } => spec(*rootless, bundle),
        Command::Create(a) => {
            let opts = create_options(a)?;
            container::create(&store, &a.id, &opts)?;
            Ok(0)
        }
        Command::Start { id } => {
            container::start(&store, id)?;
            Ok(0)
        }
        Command::Run { create, detach } => run(&store, create, *detach),
        Command::State { id } => {
            let state = store.load(id)?;
            println!("{}", serde_json::to_string_pretty(&state.oci_json())?);
            Ok(0)
        }
        Command::List { format, quiet } => list(&store, *format, *quiet),
        Command::Kill { all, id, signal } => {
            let sig = signals::parse(signal.as_deref().unwrap_or("SIGTERM"))?;
            container::kill_container(&store, id, sig, *all)?;
            Ok(0)
        }
        Command::Delete { force, id } => {
            container::delete(&store, id, *force)?;
            Ok(0)
        }
        Command::Exec(a) => exec_cmd(&store, a),
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps(&store, id, *format, ps_args),
        Command::Pause { id } => {
            container::set_paused(&store, id, true)?;
            Ok(0)
        }
        Command::Resume { id } => {
            container::set_paused(&store, id, false)?;
            Ok(0)
        }
        Command::Update(a) => update(&store, a),
        Command::Events {
            stats,
            interval,
            id,
        } => {
            if *stats {
                println!("{}", skiff_runtime::events::stats(&store, id)?);
            } else {
                let interval = skiff_runtime::events::parse_interval(interval)?;
                skiff_runtime::events::stream(&store, id, interval, &mut std::io::stdout())?;
            }
            Ok(0)
        }
        Command::Features => {
            println!("{}", serde_json::to_string_pretty(&features::features())?);
            Ok(0)
        }
    }
}

fn spec(rootless: bool, bundle: &Path) -> Result<i32> {
    let path = bundle.join("config.json");
    if path.exists() {
        bail!("{} exists; remove it first", path.display());
    }
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    let text = default_spec::to_runc_json(&default_spec::default_spec(rootless, uid, gid));
    std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
    Ok(0)
}

fn create_options(a: &CreateArgs) -> Result<CreateOptions> {
    Ok(CreateOptions {
        bundle: a.bundle.clone(),
        pid_file: a.pid_file.clone(),
        console_socket: a
            .console_socket
            .as_deref()
            .map(container::connect_console)
            .transpose()?,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds,
        keep_namespaces: false,
    })
}

/// A socket pair standing in for a console socket, when we relay the terminal ourselves.
fn own_console() -> Result<(OwnedFd, OwnedFd)> {
    use nix::sys::socket::{socketpair, AddressFamily, SockFlag, SockType};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .context("socketpair for the console")
}

fn terminal_in_bundle(bundle: &Path) -> bool {
    skiff_runtime::spec::load(bundle)
        .ok()
        .and_then(|s| s.process().as_ref().and_then(|p| p.terminal()))
        == Some(true)
}

fn run(store: &Store, a: &CreateArgs, detach: bool) -> Result<i32> {
    set_subreaper();
    let mut opts = create_options(a)?;
    let mut relay = None;
    if !detach && opts.console_socket.is_none() && terminal_in_bundle(&a.bundle) {
        let (ours, theirs) = own_console()?;
        opts.console_socket = Some(theirs);
        relay = Some(ours);
    }
    let signals = skiff_runtime::foreground::block_signals()?;
    let created = container::create(store, &a.id, &opts)?;
    drop(opts);
    let pty = relay
        .map(|s| console::recv_fd(std::os::fd::AsRawFd::as_raw_fd(&s)))
        .transpose()?;
    if let Err(e) = container::start(store, &a.id) {
        let _ = container::delete(store, &a.id, true);
        return Err(e.into());
    }
    if detach {
        return Ok(0);
    }
    let pid = nix::unistd::Pid::from_raw(created.state.pid);
    if let Ok(skiff_runtime::sync::Msg::Error(e)) = created.chan.recv() {
        log::error(&e);
        eprintln!("skiff-runtime: container init: {e}");
    }
    let code = skiff_runtime::foreground::wait(pid, &signals, pty)?;
    container::delete(store, &a.id, true)?;
    Ok(code)
}

fn set_subreaper() {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
}

fn list(store: &Store, format: Format, quiet: bool) -> Result<i32> {
    let states: Vec<_> = store
        .ids()?
        .iter()
        .filter_map(|id| store.load(id).ok())
        .collect();
    let mut out = std::io::stdout().lock();
    if quiet {
        for s in &states {
            writeln!(out, "{}", s.id)?;
        }
    } else if format == Format::Json {
        let v: Vec<_> = states.iter().map(|s| s.oci_json()).collect();
        writeln!(out, "{}", serde_json::to_string(&v)?)?;
    } else {
        let rows: Vec<[String; 6]> = states
            .iter()
            .map(|s| {
                [
                    s.id.clone(),
                    if s.status == Status::Stopped {
                        0
                    } else {
                        s.pid
                    }
                    .to_string(),
                    s.status.to_string(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    s.owner.clone(),
                ]
            })
            .collect();
        let header = ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from);
        print_table(&mut out, &header, &rows)?;
    }
    Ok(0)
}

fn print_table(out: &mut impl Write, header: &[String; 6], rows: &[[String; 6]]) -> Result<()> {
    let mut widths = header.clone().map(|h| h.len());
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for r in std::iter::once(header).chain(rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        writeln!(out, "{}", cells.join("   ").trim_end())?;
    }
    Ok(())
}

fn ps(store: &Store, id: &str, format: Format, args: &[String]) -> Result<i32> {
    let pids = container::pids(store, id)?;
    if format == Format::Json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(0);
    }
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let output = std::process::Command::new("ps")
        .args(&args)
        .output()
        .context("run ps")?;
    if !output.status.success() {
        bail!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let pid_col = header
        .split_whitespace()
        .position(|c| c == "PID")
        .context("ps output has no PID column")?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(pid_col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(0)
}

fn exec_cmd(store: &Store, a: &ExecArgs) -> Result<i32> {
    set_subreaper();
    let process = exec_process(store, a)?;
    let terminal = process.terminal() == Some(true);
    let mut relay = None;
    let console_socket = match (&a.console_socket, terminal, a.detach) {
        (Some(p), _, _) => Some(container::connect_console(p)?),
        (None, true, false) => {
            let (ours, theirs) = own_console()?;
            relay = Some(ours);
            Some(theirs)
        }
        (None, true, true) => bail!("exec --tty --detach needs --console-socket"),
        (None, false, _) => None,
    };
    let opts = ExecOptions {
        console_socket,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        ignore_paused: a.ignore_paused,
    };
    let signals = skiff_runtime::foreground::block_signals()?;
    let started = exec::exec(store, &a.id, &process, &opts)?;
    drop(opts);
    if a.detach {
        return Ok(0);
    }
    let pty = relay
        .map(|s| console::recv_fd(std::os::fd::AsRawFd::as_raw_fd(&s)))
        .transpose()?;
    Ok(skiff_runtime::foreground::wait(started.pid, &signals, pty)?)
}

fn exec_process(store: &Store, a: &ExecArgs) -> Result<Process> {
    if let Some(path) = &a.process {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("read process file {}", path.display()))?;
        return serde_json::from_str(&text)
            .with_context(|| format!("process file {}", path.display()));
    }
    let spec = exec::container_spec(store, &a.id)?;
    let base = spec.process().clone().unwrap_or_default();
    let user = a.user.as_deref().map(parse_user).transpose()?;
    let flags = ProcessFlags {
        args: a.command.clone(),
        env: a.env.clone(),
        cwd: a.cwd.clone(),
        user,
        additional_gids: a.additional_gids.clone(),
        caps: a.cap.clone(),
        no_new_privs: a.no_new_privs,
        tty: a.tty,
        apparmor: a.apparmor.clone(),
        process_label: a.process_label.clone(),
    };
    Ok(exec::process_from_flags(&base, &flags)?)
}

fn parse_user(s: &str) -> Result<(u32, Option<u32>)> {
    let (u, g) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    let uid = u
        .parse()
        .with_context(|| format!("--user {s:?}: the uid must be a number"))?;
    let gid = g
        .map(|g| {
            g.parse()
                .with_context(|| format!("--user {s:?}: the gid must be a number"))
        })
        .transpose()?;
    Ok((uid, gid))
}

fn update(store: &Store, a: &UpdateArgs) -> Result<i32> {
    use skiff_runtime::update::{parse_bytes, parse_resources, Limits};
    let base = match a.resources.as_deref() {
        Some(p) if p == Path::new("-") => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .context("read stdin")?;
            Some(parse_resources(&text)?)
        }
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("read {}", p.display()))?;
            Some(parse_resources(&text)?)
        }
        None => None,
    };
    let bytes = |s: &Option<String>| s.as_deref().map(parse_bytes).transpose();
    let limits = Limits {
        memory: bytes(&a.memory)?,
        memory_reservation: bytes(&a.memory_reservation)?,
        memory_swap: bytes(&a.memory_swap)?,
        cpu_shares: a.cpu_share,
        cpu_quota: a.cpu_quota,
        cpu_period: a.cpu_period,
        cpu_rt_runtime: a.cpu_rt_runtime,
        cpu_rt_period: a.cpu_rt_period,
        cpuset_cpus: a.cpuset_cpus.clone(),
        cpuset_mems: a.cpuset_mems.clone(),
        pids_limit: a.pids_limit,
        blkio_weight: a.blkio_weight,
    };
    skiff_runtime::update::update(store, &a.id, &limits.over(base)?)?;
    Ok(0)
}
