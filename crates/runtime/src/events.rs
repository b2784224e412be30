//! `events`: a container's resource statistics, once or as a stream, with an
//! event for every process the OOM killer takes.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cgroup;
use crate::error::{Context, Error, Result};
use crate::state::{self, Status, Store};

/// One `stats` event for container `id`.
pub fn stats(store: &Store, id: &str) -> Result<Value> {
    let state = store.load(id)?;
    if state.status == Status::Stopped {
        return Err(Error::WrongState {
            id: id.to_string(),
            status: state.status.to_string(),
            what: "a stopped container has no statistics",
        });
    }
    if state.without_cgroup {
        return Err(cgroup::no_cgroup("reading statistics").into());
    }
    let cg = cgroup::of(&state)?;
    Ok(json!({ "type": "stats", "id": id, "data": cg.stats() }))
}

/// Write a `stats` event every `interval`, and an `oom` event whenever the
/// OOM killer took a process, one JSON object per line, until the container stops.
pub fn stream(store: &Store, id: &str, interval: Duration, out: &mut impl Write) -> Result<()> {
    let state = store.load(id)?;
    if state.without_cgroup {
        return Err(cgroup::no_cgroup("reading events").into());
    }
    let cg = cgroup::of(&state)?;
    let mut ooms = cg.stats().memory.oom_kills;
    let tick = interval
        .min(Duration::from_millis(100))
        .max(Duration::from_millis(10));
    let mut waited = Duration::ZERO;
    loop {
        let alive = state::process_alive(state.pid, state.init_start_time);
        let s = cg.stats();
        if s.memory.oom_kills > ooms {
            ooms = s.memory.oom_kills;
            emit(out, &json!({ "type": "oom", "id": id }))?;
        }
        if !alive {
            return Ok(());
        }
        if waited >= interval {
            waited = Duration::ZERO;
            emit(out, &json!({ "type": "stats", "id": id, "data": s }))?;
        }
        std::thread::sleep(tick);
        waited += tick;
    }
}

fn emit(out: &mut impl Write, v: &Value) -> Result<()> {
    writeln!(out, "{v}")
        .and_then(|()| out.flush())
        .ctx(|| "write an event".to_string())
}

/// Parse an interval such as `5s`, `250ms` or `1m`.
pub fn parse_interval(s: &str) -> Result<Duration> {
    let bad = || {
        Error::Usage(format!(
            "--interval {s:?}: a duration such as 5s, 250ms or 1m"
        ))
    };
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map(|i| s.split_at(i))
        .unwrap_or((s, "s"));
    let n: f64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(bad()),
    };
    if !(secs > 0.0 && secs.is_finite()) {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_interval("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_interval("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_interval("2").unwrap(), Duration::from_secs(2));
        assert!(parse_interval("0s").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
