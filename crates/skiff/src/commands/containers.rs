//! Container commands.

use std::io::IsTerminal;

use anyhow::{bail, Context, Result};
use skiff_engine::containers::attach::{self, Ended};
use skiff_engine::containers::lifecycle::parse_signal;
use skiff_engine::containers::{NetConfig, RunOptions, Stdio};
use skiff_engine::{Engine, Error};

use crate::cli::{
    AttachArgs, ExecArgs, KillArgs, NamesArg, RenameArgs, RmArgs, RunArgs, StartArgs, StopArgs,
};
use crate::parse;
use crate::progress::PullProgress;

/// Turns the flags into the engine's options.
fn run_options(a: &RunArgs, runtime: Option<&str>) -> Result<RunOptions> {
    let mut env = Vec::new();
    for file in &a.env_file {
        env.extend(parse::env_file(file)?);
    }
    env.extend(a.env.iter().cloned());
    let mut mounts = Vec::new();
    for v in &a.volume {
        mounts.push(parse::volume(v, || {
            skiff_engine::containers::names::new_id()
        })?);
    }
    for m in &a.mount {
        mounts.push(parse::mount(m)?);
    }
    for t in &a.tmpfs {
        mounts.push(parse::tmpfs(t)?);
    }
    let (seccomp, no_new_privileges) = parse::security_opts(&a.security_opt)?;
    let (log_max_size, log_max_file) = parse::log_opts(&a.log_opt)?;
    if let Some(s) = &a.stop_signal {
        parse_signal(s)?;
    }
    Ok(RunOptions {
        image: a.image.clone(),
        command: a.command.clone(),
        entrypoint: a.entrypoint.clone(),
        name: a.name.clone(),
        env,
        working_dir: a.workdir.clone(),
        user: a.user.clone(),
        hostname: a.hostname.clone(),
        tty: a.tty,
        interactive: a.interactive,
        labels: parse::labels(&a.label),
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        mounts,
        read_only: a.read_only,
        resources: parse::resources(&a.resources)?,
        ulimits: a
            .ulimit
            .iter()
            .map(|u| parse::ulimit(u))
            .collect::<Result<_>>()?,
        cap_add: a.cap_add.iter().map(|c| parse::capability(c)).collect(),
        cap_drop: a.cap_drop.iter().map(|c| parse::capability(c)).collect(),
        privileged: a.privileged,
        seccomp,
        no_new_privileges,
        devices: a.device.clone(),
        init: a.init,
        restart: parse::restart(&a.restart)?,
        auto_remove: a.rm,
        network: a.network.clone(),
        runtime: runtime.unwrap_or_default().to_string(),
        log_max_size,
        log_max_file,
        net: NetConfig {
            publish: a.publish.clone(),
            publish_all: a.publish_all,
            aliases: a.network_alias.clone(),
            ip: a.ip.clone(),
            mac: a.mac_address.clone(),
            dns: a.dns.clone(),
            dns_search: a.dns_search.clone(),
            dns_options: a.dns_option.clone(),
            add_hosts: a.add_host.clone(),
            extra_networks: Vec::new(),
        },
    })
}

/// Pulls the image unless the store has it, as `docker run` does.
fn ensure_image(engine: &Engine, image: &str) -> Result<()> {
    if engine.find_image(image).is_ok() {
        return Ok(());
    }
    eprintln!("Unable to find image '{image}' locally");
    engine.pull(image, None, &PullProgress::new(false))?;
    Ok(())
}

/// `create`: prints the new container's id.
pub fn create(engine: &Engine, a: RunArgs, runtime: Option<&str>) -> Result<u8> {
    let opts = run_options(&a, runtime)?;
    ensure_image(engine, &a.image)?;
    println!("{}", engine.create_container(&opts)?);
    Ok(0)
}

/// `run`: create, start, and in the foreground follow until it exits.
pub fn run(engine: &Engine, a: RunArgs, runtime: Option<&str>) -> Result<u8> {
    let opts = run_options(&a, runtime)?;
    if a.tty && !a.detach && !std::io::stdin().is_terminal() {
        bail!("the input device is not a TTY: run without -t, or from a terminal");
    }
    ensure_image(engine, &a.image)?;
    let id = engine.create_container(&opts)?;
    let stdio = match (a.detach, a.tty) {
        (_, true) => Stdio::Tty,
        (true, false) => Stdio::Logged,
        (false, false) => Stdio::Inherit,
    };
    if !a.detach && !a.interactive && !a.tty {
        stdin_from_dev_null()?;
    }
    let signals = if a.detach {
        None
    } else {
        Some(attach::block_signals()?)
    };
    let attached = match engine.start_container(&id, stdio) {
        Ok(attached) => attached,
        Err(e) => return start_failed(engine, &id, a.rm, e),
    };
    if a.detach {
        println!("{id}");
        return Ok(0);
    }
    let ended = attach::follow(
        &attached,
        signals.as_ref().expect("blocked for the foreground"),
    )?;
    finish(engine, &id, ended)
}

fn start_failed(engine: &Engine, id: &str, remove: bool, e: Error) -> Result<u8> {
    if remove {
        let _ = engine.remove_container(id, true);
    }
    let code = match &e {
        Error::Command { code, .. } => *code,
        _ => 125,
    };
    eprintln!("skiff: {e}");
    Ok(code)
}

/// The exit code of a followed container.
fn finish(engine: &Engine, id: &str, ended: Ended) -> Result<u8> {
    Ok(match ended {
        Ended::Exited(code) => code as u8,
        Ended::Detached => 0,
        Ended::MonitorGone => match engine.wait_container(id) {
            Ok(code) => code as u8,
            Err(_) => 125,
        },
    })
}

fn stdin_from_dev_null() -> Result<()> {
    use std::os::fd::AsRawFd;
    let null = std::fs::File::open("/dev/null").context("opening /dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), 0).context("redirecting stdin")?;
    Ok(())
}

/// `start`: each container under its monitor; with `-a`, follows the one.
pub fn start(engine: &Engine, a: StartArgs) -> Result<u8> {
    if a.attach && a.names.len() > 1 {
        bail!("start -a takes one container");
    }
    let mut failed = false;
    for name in &a.names {
        let view = engine.container(name)?;
        let id = view.config.id.clone();
        let stdio = match (view.config.tty, a.attach) {
            (true, _) => Stdio::Tty,
            (false, true) => Stdio::Inherit,
            (false, false) => Stdio::Logged,
        };
        if a.attach && !a.interactive && !view.config.tty {
            stdin_from_dev_null()?;
        }
        let signals = if a.attach {
            Some(attach::block_signals()?)
        } else {
            None
        };
        match engine.start_container(&id, stdio) {
            Ok(attached) if a.attach => {
                let ended = attach::follow(&attached, signals.as_ref().expect("blocked"))?;
                return finish(engine, &id, ended);
            }
            Ok(_) => println!("{name}"),
            Err(e) => {
                eprintln!("skiff: {name}: {e}");
                failed = true;
            }
        }
    }
    Ok(u8::from(failed))
}

/// Runs `f` on the id of each named container, printing the name on success.
fn each(
    engine: &Engine,
    names: &[String],
    f: impl Fn(&str) -> skiff_engine::Result<()>,
) -> Result<u8> {
    let store = engine.container_store();
    Ok(super::for_each_name(names, |name| {
        store.find(name).and_then(|id| f(&id))
    }))
}

/// `stop`
pub fn stop(engine: &Engine, a: StopArgs) -> Result<u8> {
    each(engine, &a.names, |id| engine.stop_container(id, a.time))
}

/// `restart`
pub fn restart(engine: &Engine, a: StopArgs) -> Result<u8> {
    each(engine, &a.names, |id| {
        engine.stop_container(id, a.time)?;
        let tty = engine.container_store().config(id)?.tty;
        engine
            .start_container(id, if tty { Stdio::Tty } else { Stdio::Logged })
            .map(|_| ())
    })
}

/// `kill`
pub fn kill(engine: &Engine, a: KillArgs) -> Result<u8> {
    let signal = parse_signal(&a.signal)?;
    each(engine, &a.names, |id| engine.kill_container(id, signal))
}

/// `rm`
pub fn rm(engine: &Engine, a: RmArgs) -> Result<u8> {
    each(engine, &a.names, |id| {
        engine.remove_container_and_volumes(id, a.force, a.volumes)
    })
}

/// `pause` / `unpause`
pub fn pause(engine: &Engine, a: NamesArg, paused: bool) -> Result<u8> {
    each(engine, &a.names, |id| engine.pause_container(id, paused))
}

/// `wait`: prints each container's exit code.
pub fn wait(engine: &Engine, a: NamesArg) -> Result<u8> {
    let mut failed = false;
    for name in &a.names {
        match engine
            .container_store()
            .find(name)
            .and_then(|id| engine.wait_container(&id))
        {
            Ok(code) => println!("{code}"),
            Err(e) => {
                eprintln!("skiff: {name}: {e}");
                failed = true;
            }
        }
    }
    Ok(u8::from(failed))
}

/// `rename`
pub fn rename(engine: &Engine, a: RenameArgs) -> Result<u8> {
    engine.rename_container(&a.name, &a.new_name)?;
    Ok(0)
}

/// `attach`: a terminal container's pty (ctrl-p ctrl-q detaches), or the
/// output of one without a terminal as it is logged.
pub fn attach_to(engine: &Engine, a: AttachArgs) -> Result<u8> {
    let view = engine.container(&a.name)?;
    if !matches!(view.state.status, skiff_engine::containers::Status::Running) {
        bail!("container {} is not running", view.config.name);
    }
    let id = view.config.id.clone();
    if !view.config.tty {
        return super::logs::follow_until_exit(engine, &id, log_end(engine, &id), false);
    }
    if !std::io::stdin().is_terminal() {
        bail!("the input device is not a TTY: attach to a terminal container from a terminal");
    }
    let signals = attach::block_signals()?;
    let attached = engine.attach_terminal(&id)?;
    let ended = attach::follow(&attached, &signals)?;
    finish(engine, &id, ended)
}

/// Where the container's log ends now (attach shows what comes after).
fn log_end(engine: &Engine, id: &str) -> u64 {
    let log = engine
        .container_store()
        .dir(id)
        .join(skiff_engine::containers::logs::LOG_FILE);
    std::fs::metadata(log).map_or(0, |m| m.len())
}

/// `exec`: the process's exit code (126/127 when it cannot run).
pub fn exec(engine: &Engine, a: ExecArgs) -> Result<u8> {
    if a.tty && !a.detach && !std::io::stdin().is_terminal() {
        bail!("the input device is not a TTY: exec without -t, or from a terminal");
    }
    if !a.interactive && !a.tty {
        stdin_from_dev_null()?;
    }
    let opts = skiff_engine::containers::exec::ExecOptions {
        args: a.command,
        env: a.env,
        workdir: a.workdir,
        user: a.user,
        tty: a.tty,
        detach: a.detach,
        privileged: a.privileged,
    };
    match engine.exec(&a.container, &opts) {
        Ok(code) => Ok(code as u8),
        Err(Error::Command { code, message }) => {
            eprintln!("skiff: {message}");
            Ok(code)
        }
        Err(e) => Err(e.into()),
    }
}
