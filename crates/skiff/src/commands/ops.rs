//! Commands on one container's insides: top, stats, cp, export, update.

use std::time::Duration;

use anyhow::{bail, Result};
use skiff_engine::containers::stats::Usage;
use skiff_engine::containers::update::Update;
use skiff_engine::Engine;

use crate::cli::{ContainerArg, CpArgs, ExportArgs, StatsArgs, UpdateArgs};
use crate::format::{binary_size, short_id, size, table};
use crate::parse;

/// How long `stats` measures CPU use, and how often it refreshes.
const STATS_INTERVAL: Duration = Duration::from_secs(1);

/// `top`: the container's processes, as `ps -ef` columns.
pub fn top(engine: &Engine, a: ContainerArg) -> Result<u8> {
    let rows: Vec<Vec<String>> = engine
        .top(&a.name)?
        .into_iter()
        .map(|p| {
            let t = p.cpu_seconds;
            vec![
                p.uid.to_string(),
                p.pid.to_string(),
                p.ppid.to_string(),
                format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60),
                p.cmd,
            ]
        })
        .collect();
    print!("{}", table(&["UID", "PID", "PPID", "TIME", "CMD"], &rows));
    Ok(0)
}

/// `stats`: one table with `--no-stream`, else a fresh one every second
/// until interrupted.
pub fn stats(engine: &Engine, a: StatsArgs) -> Result<u8> {
    loop {
        let rows: Vec<Vec<String>> = engine
            .stats(&a.names, STATS_INTERVAL)?
            .iter()
            .map(|u| stats_row(u, a.no_trunc))
            .collect();
        let header = [
            "CONTAINER ID",
            "NAME",
            "CPU %",
            "MEM USAGE / LIMIT",
            "MEM %",
            "NET I/O",
            "BLOCK I/O",
            "PIDS",
        ];
        if a.no_stream {
            print!("{}", table(&header, &rows));
            return Ok(0);
        }
        // Clear the screen and home the cursor, as Docker redraws.
        print!("\x1b[2J\x1b[H{}", table(&header, &rows));
    }
}

fn stats_row(u: &Usage, no_trunc: bool) -> Vec<String> {
    vec![
        short_id(&u.id, no_trunc),
        u.name.clone(),
        format!("{:.2}%", u.cpu_percent),
        format!(
            "{} / {}",
            binary_size(u.memory),
            binary_size(u.memory_limit)
        ),
        format!("{:.2}%", u.memory_percent()),
        "--".into(),
        format!("{} / {}", size(u.block_read), size(u.block_write)),
        u.pids.to_string(),
    ]
}

/// `CONTAINER:PATH` as (container, path); a host path (absolute, or
/// starting with `.`, or without `:`) as `None`.
fn container_path(arg: &str) -> Result<Option<(&str, &str)>> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Ok(None);
    }
    match arg.split_once(':') {
        Some((name, "")) => bail!("invalid {arg:?}: give a path after {name}:"),
        Some((name, path)) => Ok(Some((name, path))),
        None => Ok(None),
    }
}

/// `cp`: between a container and the host, either way.
pub fn cp(engine: &Engine, a: CpArgs) -> Result<u8> {
    match (container_path(&a.src)?, container_path(&a.dest)?) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => {
            bail!("one side must be in a container: CONTAINER:SRC DEST or SRC CONTAINER:DEST")
        }
        (Some((name, src)), None) => engine.copy_from_container(name, src, &a.dest, a.archive)?,
        (None, Some((name, dest))) => engine.copy_to_container(&a.src, name, dest, a.archive)?,
    }
    Ok(0)
}

/// `export`: the container's files as a tar archive.
pub fn export(engine: &Engine, a: ExportArgs) -> Result<u8> {
    super::images::write_archive(a.output.as_deref(), &mut |out| {
        Ok(engine.export_container(&a.name, out)?)
    })?;
    Ok(0)
}

/// `update`: prints each container it changed.
pub fn update(engine: &Engine, a: UpdateArgs) -> Result<u8> {
    let update = Update {
        resources: parse::resources(&a.resources)?,
        restart: a.restart.as_deref().map(parse::restart).transpose()?,
    };
    if update == Update::default() {
        bail!("nothing to update: give --memory, --memory-swap, --cpus, --cpu-shares, --pids-limit or --restart");
    }
    let mut failed = false;
    for name in &a.names {
        match engine.update_container(name, &update) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                eprintln!("skiff: {name}: {e}");
                failed = true;
            }
        }
    }
    Ok(u8::from(failed))
}
