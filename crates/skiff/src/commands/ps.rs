//! `ps`: containers in Docker's columns, with its filters and formats.

use anyhow::{bail, Result};
use serde_json::json;
use skiff_engine::containers::view::ContainerView;
use skiff_engine::containers::Status;
use skiff_engine::Engine;

use crate::cli::PsArgs;
use crate::format::{ago, duration, short_id, size, table};

/// `ps`
pub fn ps(engine: &Engine, a: PsArgs) -> Result<u8> {
    let mut views = engine.containers()?;
    let all = a.all || a.last.is_some() || a.latest || !a.filter.is_empty();
    if !all {
        views.retain(|v| {
            matches!(
                v.state.status,
                Status::Running | Status::Paused | Status::Restarting
            )
        });
    }
    for f in &a.filter {
        let (key, value) = f.split_once('=').unwrap_or((f, ""));
        let keep: Box<dyn Fn(&ContainerView) -> bool> = match key {
            "status" => Box::new(move |v| v.state.status.to_string() == value),
            "name" => Box::new(move |v| v.config.name.contains(value)),
            "id" => Box::new(move |v| v.config.id.starts_with(value)),
            "ancestor" => {
                Box::new(move |v| v.config.image == value || v.config.image_id.contains(value))
            }
            "label" => Box::new(move |v| match value.split_once('=') {
                Some((k, val)) => v.config.labels.get(k).is_some_and(|x| x == val),
                None => v.config.labels.contains_key(value),
            }),
            other => bail!(
                "invalid --filter {f:?}: unknown key {other:?} (status, name, label, ancestor, id)"
            ),
        };
        views.retain(|v| keep(v));
    }
    if let Some(n) = a.last.or(a.latest.then_some(1)) {
        views.truncate(n);
    }
    if a.quiet {
        for v in &views {
            println!("{}", short_id(&v.config.id, a.no_trunc));
        }
        return Ok(0);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    match a.format.as_str() {
        "json" => {
            let docs: Vec<_> = views
                .iter()
                .map(|v| {
                    json!({"ID": short_id(&v.config.id, a.no_trunc), "Image": v.config.image,
                           "Command": command(v, true), "CreatedAt": v.config.created,
                           "Status": v.status_text(now, &duration), "State": v.state.status.to_string(),
                           "Names": v.config.name, "Labels": v.config.labels, "Ports": ports(v)})
                })
                .collect();
            println!("{}", serde_json::to_string_pretty(&docs)?);
        }
        "table" => {
            let mut header = vec![
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ];
            if a.size {
                header.push("SIZE");
            }
            let rows: Vec<Vec<String>> = views
                .iter()
                .map(|v| {
                    let mut row = vec![
                        short_id(&v.config.id, a.no_trunc),
                        v.config.image.clone(),
                        format!("\"{}\"", command(v, a.no_trunc)),
                        ago(skiff_timestamp::parse_rfc3339(&v.config.created)),
                        v.status_text(now, &duration),
                        ports(v),
                        v.config.name.clone(),
                    ];
                    if a.size {
                        row.push(size(engine.container_size(&v.config.id)));
                    }
                    row
                })
                .collect();
            print!("{}", table(&header, &rows));
        }
        other => bail!("unknown --format {other:?}: table or json"),
    }
    Ok(0)
}

/// The PORTS column: `127.0.0.1:8080->80/tcp, ...`, as Docker writes it.
fn ports(v: &ContainerView) -> String {
    let published = super::networks::published(v).unwrap_or_default();
    let pairs = published
        .iter()
        .flat_map(|(inside, outside)| outside.iter().map(move |o| format!("{o}->{inside}")));
    pairs.collect::<Vec<_>>().join(", ")
}

fn command(v: &ContainerView, full: bool) -> String {
    let cmd = v.config.args.join(" ");
    if full || cmd.chars().count() <= 20 {
        cmd
    } else {
        format!("{}…", cmd.chars().take(19).collect::<String>())
    }
}
