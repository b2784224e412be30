//! One function per command: parse what clap gave, call the engine, print.

mod containers;
mod images;
mod logs;
mod networks;
mod ops;
mod ps;
mod system;
mod volumes;

use anyhow::Result;
use skiff_engine::{Engine, EngineOptions};
use skiff_image::registry::ClientOptions;

use crate::cli::{
    Cli, Command, ContainerCommand, ImageCommand, NetworkCommand, SystemCommand, TlsArgs,
    VolumeCommand,
};

/// Runs the command; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
    // These need no store: they work for any user, before one exists.
    match &cli.command {
        Command::InternalDns(a) => return networks::serve_dns(a),
        Command::Version => return system::version(),
        Command::Completion(a) => return system::completion(a.shell),
        _ => {}
    }
    let tls = tls_of(&cli.command);
    let options = EngineOptions {
        root: cli.root.clone(),
        runroot: cli.runroot.clone(),
        registry: ClientOptions {
            tls_verify: tls.is_none_or(|t| t.tls_verify),
            auth_file: cli.authfile.clone(),
            registries_conf: cli.registries_conf.clone(),
            ..ClientOptions::default()
        },
        monitor_exe: std::env::current_exe().ok(),
        mount_program: crate::parse::mount_program(&cli.storage_opt)?,
    };
    let engine = Engine::open(options)?;
    match cli.command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => images::pull(&engine, a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => images::push(&engine, a),
        Command::Login(a) => images::login(&engine, a),
        Command::Logout(a) => images::logout(&engine, a),
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::list(&engine, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => images::remove(&engine, a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => images::tag(&engine, a),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => {
            images::history(&engine, a)
        }
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => images::load(&engine, a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => images::save(&engine, a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => images::import(&engine, a),
        Command::Image(ImageCommand::Inspect(a)) => images::inspect(&engine, a),
        Command::Inspect(a) => inspect(&engine, a),
        Command::Container(ContainerCommand::Inspect(a)) => inspect_containers(&engine, a),
        Command::Image(ImageCommand::Prune(a)) => images::prune(&engine, a),
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => {
            containers::run(&engine, a, cli.runtime.as_deref())
        }
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            containers::create(&engine, a, cli.runtime.as_deref())
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            containers::start(&engine, a)
        }
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => ps::ps(&engine, a),
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => logs::logs(&engine, a),
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => {
            containers::stop(&engine, a)
        }
        Command::Restart(a) => containers::restart(&engine, a),
        Command::Kill(a) => containers::kill(&engine, a),
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => containers::rm(&engine, a),
        Command::Wait(a) => containers::wait(&engine, a),
        Command::Pause(a) => containers::pause(&engine, a, true),
        Command::Unpause(a) => containers::pause(&engine, a, false),
        Command::Rename(a) => containers::rename(&engine, a),
        Command::Attach(a) => containers::attach_to(&engine, a),
        Command::Exec(a) => {
            skiff_runtime::sealed_exe::ensure()?;
            containers::exec(&engine, a)
        }
        Command::Container(ContainerCommand::Prune(_)) => {
            for id in engine.prune_containers()? {
                println!("{id}");
            }
            Ok(0)
        }
        Command::Volume(VolumeCommand::Create(a)) => volumes::create(&engine, a),
        Command::Volume(VolumeCommand::Ls(a)) => volumes::list(&engine, a),
        Command::Volume(VolumeCommand::Inspect(a)) => volumes::inspect(&engine, a),
        Command::Volume(VolumeCommand::Rm(a)) => volumes::remove(&engine, a),
        Command::Volume(VolumeCommand::Prune(a)) => volumes::prune(&engine, a),
        Command::Network(NetworkCommand::Create(a)) => networks::create(&engine, a),
        Command::Network(NetworkCommand::Ls(a)) => networks::list(&engine, a),
        Command::Network(NetworkCommand::Inspect(a)) => networks::inspect(&engine, a),
        Command::Network(NetworkCommand::Rm(a)) => networks::remove(&engine, a),
        Command::Network(NetworkCommand::Prune(a)) => networks::prune(&engine, a),
        Command::Network(NetworkCommand::Connect(a)) => networks::connect(&engine, a),
        Command::Network(NetworkCommand::Disconnect(a)) => networks::disconnect(&engine, a),
        Command::Port(a) => networks::port(&engine, a),
        Command::Top(a) => ops::top(&engine, a),
        Command::Stats(a) => ops::stats(&engine, a),
        Command::Cp(a) => ops::cp(&engine, a),
        Command::Export(a) => ops::export(&engine, a),
        Command::Update(a) => ops::update(&engine, a),
        Command::System(SystemCommand::Df) => system::df(&engine),
        Command::System(SystemCommand::Prune(a)) => system::prune(&engine, a),
        Command::Info | Command::System(SystemCommand::Info) => system::info(&engine),
        Command::Version | Command::Completion(_) | Command::InternalDns(_) => {
            unreachable!("answered before a store is opened")
        }
    }
}

fn tls_of(command: &Command) -> Option<&TlsArgs> {
    match command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => Some(&a.tls),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => Some(&a.tls),
        Command::Login(a) => Some(&a.tls),
        Command::Run(a) | Command::Create(a) => Some(&a.tls),
        _ => None,
    }
}

/// `inspect`: containers first, then images, by each name.
fn inspect(engine: &Engine, a: crate::cli::InspectArgs) -> Result<u8> {
    let mut docs = Vec::new();
    let mut failed = false;
    for name in &a.names {
        let doc = engine
            .container(name)
            .map(|v| v.inspect())
            .or_else(|_| engine.inspect_image(name));
        match doc {
            Ok(doc) => docs.push(doc),
            Err(_) => {
                eprintln!("skiff: no such object: {name}");
                failed = true;
            }
        }
    }
    crate::template::print(&docs, a.format.as_deref())?;
    Ok(u8::from(failed))
}

/// `container inspect`
fn inspect_containers(engine: &Engine, a: crate::cli::InspectArgs) -> Result<u8> {
    let mut docs = Vec::new();
    for name in &a.names {
        docs.push(engine.container(name)?.inspect());
    }
    crate::template::print(&docs, a.format.as_deref())?;
    Ok(0)
}

/// Runs `f` on each name, printing the name when it worked and the error
/// when not; 1 if any failed, as Docker's multi-object commands do.
pub(crate) fn for_each_name(names: &[String], f: impl Fn(&str) -> skiff_engine::Result<()>) -> u8 {
    let mut failed = false;
    for name in names {
        match f(name) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("skiff: {name}: {e}");
                failed = true;
            }
        }
    }
    u8::from(failed)
}

/// Prints the JSON array of `f`'s document for each name.
pub(crate) fn print_docs<T: serde::Serialize>(
    names: &[String],
    f: impl Fn(&str) -> skiff_engine::Result<T>,
) -> Result<u8> {
    let docs = names
        .iter()
        .map(|n| f(n))
        .collect::<skiff_engine::Result<Vec<_>>>()?;
    println!("{}", serde_json::to_string_pretty(&docs)?);
    Ok(0)
}

/// Docker's prune report: a title and what went.
pub(crate) fn print_deleted(title: &str, removed: &[String]) {
    if !removed.is_empty() {
        println!("{title}:");
        removed.iter().for_each(|r| println!("{r}"));
    }
}
