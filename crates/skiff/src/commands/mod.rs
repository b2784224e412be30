//! One function per command: parse what clap gave, call the engine, print.

mod images;

use anyhow::Result;
use skiff_engine::{Engine, EngineOptions};
use skiff_image::registry::ClientOptions;

use crate::cli::{Cli, Command, ImageCommand, TlsArgs};

/// Runs the command; returns the exit code.
pub fn run(cli: Cli) -> Result<u8> {
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
        Command::Inspect(a) | Command::Image(ImageCommand::Inspect(a)) => {
            images::inspect(&engine, a)
        }
        Command::Image(ImageCommand::Prune(a)) => images::prune(&engine, a),
    }
}

fn tls_of(command: &Command) -> Option<&TlsArgs> {
    match command {
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => Some(&a.tls),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => Some(&a.tls),
        Command::Login(a) => Some(&a.tls),
        _ => None,
    }
}
