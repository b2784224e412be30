//! `logs`: a container's output from its log, with `--tail`, `--since`,
//! `--until`, `-t`, and `-f` following it until the container stops.

use std::io::Write;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use skiff_engine::containers::logs::{read_all, read_from, Entry, LOG_FILE};
use skiff_engine::containers::Status;
use skiff_engine::Engine;

use crate::cli::LogsArgs;

/// `logs`
pub fn logs(engine: &Engine, a: LogsArgs) -> Result<u8> {
    let view = engine.container(&a.name)?;
    let dir = engine.container_store().dir(&view.config.id);
    let since = a
        .since
        .as_deref()
        .map(|s| instant("since", s))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| instant("until", s))
        .transpose()?;
    let tail: Option<usize> = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse()
                .with_context(|| format!("invalid --tail {n:?}: a count or all"))?,
        ),
    };
    let entries = read_all(&dir)?;
    let in_range = |e: &&Entry| {
        let t = skiff_timestamp::parse_rfc3339(&e.time).unwrap_or(0);
        since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u)
    };
    let selected: Vec<&Entry> = entries.iter().filter(in_range).collect();
    let skip = tail.map_or(0, |n| selected.len().saturating_sub(n));
    for e in &selected[skip..] {
        print_entry(e, a.timestamps)?;
    }
    if a.follow {
        let offset = std::fs::metadata(dir.join(LOG_FILE)).map_or(0, |m| m.len());
        return follow_until_exit(engine, &view.config.id, offset, a.timestamps);
    }
    Ok(0)
}

/// Prints what the log gains from `offset` until the container stops.
pub fn follow_until_exit(engine: &Engine, id: &str, offset: u64, timestamps: bool) -> Result<u8> {
    let path = engine.container_store().dir(id).join(LOG_FILE);
    let mut offset = offset;
    loop {
        let state = engine.live_state(id).ok();
        let (entries, next) = read_from(&path, offset)?;
        // A rotation starts the file again.
        offset = if next < offset { 0 } else { next };
        for e in &entries {
            print_entry(e, timestamps)?;
        }
        let running = state.is_some_and(|s| {
            matches!(
                s.status,
                Status::Running | Status::Paused | Status::Restarting
            )
        });
        if !running {
            let (rest, _) = read_from(&path, offset)?;
            for e in &rest {
                print_entry(e, timestamps)?;
            }
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn print_entry(e: &Entry, timestamps: bool) -> Result<()> {
    let prefix = if timestamps {
        format!("{} ", e.time)
    } else {
        String::new()
    };
    let text = format!("{prefix}{}", e.log);
    let written = if e.stream == "stderr" {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        std::io::stdout().write_all(text.as_bytes())
    };
    match written {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing the log"),
    }
}

/// An RFC 3339 time, a Unix timestamp, or a duration before now (`10m`).
fn instant(flag: &str, s: &str) -> Result<i64> {
    if let Some(t) = skiff_timestamp::parse_rfc3339(s) {
        return Ok(t);
    }
    if let Ok(t) = s.parse::<i64>() {
        return Ok(t);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => bail!("invalid --{flag} {s:?}: RFC 3339, a Unix time, or a duration like 10m"),
    };
    let n: i64 = num
        .parse()
        .with_context(|| format!("invalid --{flag} {s:?}"))?;
    Ok(now - n * mult)
}
