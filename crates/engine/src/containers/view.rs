//! Containers as users see them: the rows of `ps` and the document of
//! `inspect`, in Docker's field names.

use serde_json::{json, Value};

use super::record::{ContainerConfig, ContainerState, Status};
use crate::{Engine, Result};

/// A container's configuration with its true state.
#[derive(Debug, Clone)]
pub struct ContainerView {
    /// How it was asked to run.
    pub config: ContainerConfig,
    /// What became of it.
    pub state: ContainerState,
}

impl ContainerView {
    /// Docker's STATUS column: `Up 5 seconds`, `Exited (0) 2 minutes ago`,
    /// `Created`, `Up 1 hour (Paused)`, `Restarting (1) 3 seconds ago`.
    pub fn status_text(&self, now: i64, human: &dyn Fn(u64) -> String) -> String {
        let since =
            |t: &str| skiff_timestamp::parse_rfc3339(t).map_or(0, |t| (now - t).max(0) as u64);
        let s = &self.state;
        match s.status {
            Status::Created => "Created".into(),
            Status::Running => format!("Up {}", human(since(&s.started_at))),
            Status::Paused => format!("Up {} (Paused)", human(since(&s.started_at))),
            Status::Restarting => format!(
                "Restarting ({}) {} ago",
                s.exit_code,
                human(since(&s.finished_at))
            ),
            Status::Exited => format!(
                "Exited ({}) {} ago",
                s.exit_code,
                human(since(&s.finished_at))
            ),
            Status::Removing => "Removal In Progress".into(),
            Status::Dead => "Dead".into(),
        }
    }

    /// `inspect`'s document.
    pub fn inspect(&self) -> Value {
        let (c, s) = (&self.config, &self.state);
        let running = matches!(s.status, Status::Running | Status::Paused);
        json!({
            "Id": c.id,
            "Created": c.created,
            "Path": c.args.first().cloned().unwrap_or_default(),
            "Args": c.args.iter().skip(1).collect::<Vec<_>>(),
            "State": {
                "Status": s.status.to_string(),
                "Running": running,
                "Paused": s.status == Status::Paused,
                "Restarting": s.status == Status::Restarting,
                "OOMKilled": false,
                "Dead": s.status == Status::Dead,
                "Pid": if running { s.pid } else { 0 },
                "ExitCode": s.exit_code,
                "Error": s.error,
                "StartedAt": s.started_at,
                "FinishedAt": s.finished_at,
            },
            "Image": c.image_id,
            "Name": format!("/{}", c.name),
            "RestartCount": s.restart_count,
            "Driver": "overlay",
            "Mounts": c.mounts.iter().map(|m| json!({
                "Type": m.kind, "Source": m.source, "Destination": m.target, "RW": !m.readonly,
            })).collect::<Vec<_>>(),
            "Config": {
                "Hostname": c.hostname,
                "User": c.user,
                "Tty": c.tty,
                "OpenStdin": c.open_stdin,
                "Env": c.env,
                "Cmd": c.cmd,
                "Entrypoint": c.entrypoint,
                "Image": c.image,
                "WorkingDir": c.working_dir,
                "Labels": c.labels,
                "StopSignal": c.stop_signal,
                "StopTimeout": c.stop_timeout,
                "ExposedPorts": c.exposed_ports.iter().map(|p| (p.clone(), json!({}))).collect::<serde_json::Map<_, _>>(),
            },
            "HostConfig": {
                "NetworkMode": c.network,
                "RestartPolicy": restart_json(c),
                "AutoRemove": c.auto_remove,
                "Privileged": c.privileged,
                "ReadonlyRootfs": c.read_only,
                "CapAdd": c.cap_add,
                "CapDrop": c.cap_drop,
                "Memory": c.resources.memory.unwrap_or(0),
                "MemorySwap": c.resources.memory_swap.unwrap_or(0),
                "NanoCpus": c.resources.cpus.map_or(0, |c| (c * 1e9) as i64),
                "CpuShares": c.resources.cpu_shares.unwrap_or(0),
                "PidsLimit": c.resources.pids_limit,
                "Runtime": if c.runtime.is_empty() { "skiff" } else { &c.runtime },
                "Init": c.init,
            },
            "NetworkSettings": network_settings(s),
        })
    }
}

/// Docker's `NetworkSettings`: each network's address, and the published
/// ports as `"80/tcp": [{"HostIp": ..., "HostPort": ...}]`.
fn network_settings(s: &ContainerState) -> Value {
    let mut networks = serde_json::Map::new();
    let mut ports = serde_json::Map::new();
    for a in &s.networks {
        networks.insert(a.network.clone(), json!({
            "IPAddress": a.ip, "IPPrefixLen": a.prefix, "Gateway": a.gateway, "MacAddress": a.mac,
            "GlobalIPv6Address": a.ip6, "GlobalIPv6PrefixLen": a.prefix6, "IPv6Gateway": a.gateway6,
        }));
        for spec in &a.ports {
            let Ok(m) = spec.parse::<skiff_network::PortMapping>() else {
                continue;
            };
            let host_ip = m.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string());
            for (host, inside) in m.pairs() {
                let entry = ports
                    .entry(format!("{inside}/{}", m.protocol))
                    .or_insert_with(|| json!([]));
                if let Some(list) = entry.as_array_mut() {
                    list.push(json!({"HostIp": host_ip, "HostPort": host.to_string()}));
                }
            }
        }
    }
    let first = s.networks.first();
    json!({
        "Networks": networks,
        "Ports": ports,
        "IPAddress": first.map_or("", |a| a.ip.as_str()),
        "Gateway": first.map_or("", |a| a.gateway.as_str()),
        "GlobalIPv6Address": first.map_or("", |a| a.ip6.as_str()),
        "GlobalIPv6PrefixLen": first.map_or(0, |a| a.prefix6),
        "IPv6Gateway": first.map_or("", |a| a.gateway6.as_str()),
    })
}

fn restart_json(c: &ContainerConfig) -> Value {
    use super::record::RestartPolicy::*;
    let (name, count) = match c.restart {
        No => ("no", 0),
        Always => ("always", 0),
        UnlessStopped => ("unless-stopped", 0),
        OnFailure(n) => ("on-failure", n),
    };
    json!({"Name": name, "MaximumRetryCount": count})
}

impl Engine {
    /// One container, found by name or id (prefix).
    pub fn container(&self, what: &str) -> Result<ContainerView> {
        let id = self.containers.find(what)?;
        Ok(ContainerView {
            config: self.containers.config(&id)?,
            state: self.live_state(&id)?,
        })
    }

    /// Every container, newest first.
    pub fn containers(&self) -> Result<Vec<ContainerView>> {
        let mut out = Vec::new();
        for id in self.containers.ids()? {
            // A container removed while we look is simply not listed.
            if let (Ok(config), Ok(state)) = (self.containers.config(&id), self.live_state(&id)) {
                out.push(ContainerView { config, state });
            }
        }
        out.sort_by(|a, b| b.config.created.cmp(&a.config.created));
        Ok(out)
    }
}
