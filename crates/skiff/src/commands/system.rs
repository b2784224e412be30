//! Commands on skiff as a whole: system df, system prune, info, version,
//! completion.

use std::io::Write;

use anyhow::Result;
use clap::CommandFactory;
use skiff_engine::system::SpaceUse;
use skiff_engine::Engine;

use crate::cli::{Cli, SystemPruneArgs};
use crate::format::{size, table};

/// `system df`
pub fn df(engine: &Engine) -> Result<u8> {
    let usage = engine.disk_use()?;
    let row = |kind: &str, s: &SpaceUse| {
        let percent = match s.size {
            0 => String::new(),
            total => format!(" ({}%)", s.reclaimable * 100 / total),
        };
        vec![
            kind.to_string(),
            s.total.to_string(),
            s.active.to_string(),
            size(s.size),
            format!("{}{percent}", size(s.reclaimable)),
        ]
    };
    let rows = [
        row("Images", &usage.images),
        row("Containers", &usage.containers),
        row("Local Volumes", &usage.volumes),
    ];
    let header = ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"];
    print!("{}", table(&header, &rows));
    Ok(0)
}

/// `system prune`: skiff does not ask, so `-f` changes nothing.
pub fn prune(engine: &Engine, a: SystemPruneArgs) -> Result<u8> {
    let pruned = engine.prune_system(a.all, a.volumes)?;
    let images: Vec<String> = pruned
        .images
        .iter()
        .map(|i| format!("deleted: {i}"))
        .collect();
    for (title, items) in [
        ("Deleted Containers:", &pruned.containers),
        ("Deleted Images:", &images),
        ("Deleted Volumes:", &pruned.volumes),
    ] {
        if !items.is_empty() {
            println!("{title}");
            items.iter().for_each(|i| println!("{i}"));
            println!();
        }
    }
    println!("Total reclaimed space: {}", size(pruned.reclaimed));
    Ok(0)
}

/// `info`
pub fn info(engine: &Engine) -> Result<u8> {
    let i = engine.info()?;
    let platform = skiff_image::manifest::Platform::host();
    println!("Containers: {}", i.running + i.paused + i.stopped);
    println!(" Running: {}", i.running);
    println!(" Paused: {}", i.paused);
    println!(" Stopped: {}", i.stopped);
    println!("Images: {}", i.images);
    println!("Storage Driver: overlay");
    println!("Cgroup Version: {}", i.cgroup);
    println!("Default Runtime: skiff (built in; --runtime PATH for another)");
    println!("Kernel Version: {}", i.kernel);
    println!("OSType: {}", platform.os);
    println!("Architecture: {}", platform.architecture);
    println!("Root Dir: {}", i.root.display());
    println!("Run Root: {}", i.runroot.display());
    Ok(0)
}

/// `version`
pub fn version() -> Result<u8> {
    let platform = skiff_image::manifest::Platform::host();
    println!("Version:          {}", env!("CARGO_PKG_VERSION"));
    println!("OCI runtime spec: {}", skiff_runtime::state::OCI_VERSION);
    println!(
        "OS/Arch:          {}/{}",
        platform.os, platform.architecture
    );
    Ok(0)
}

/// `completion SHELL`: the script on standard output.
pub fn completion(shell: clap_complete::Shell) -> Result<u8> {
    // Generated into memory: clap_complete panics when its writer fails
    // (a closed pipe), where a write here is an error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "skiff", &mut script);
    std::io::stdout().write_all(&script)?;
    Ok(0)
}
