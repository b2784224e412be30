//! `update`: new resource limits or restart policy for a container. A
//! running one gets the limits in its cgroup now, through its runtime; the
//! container's record keeps them for every later start.

use skiff_runtime::update::Limits;

use super::driver::Driver;
use super::record::{Resources, RestartPolicy, Status};
use crate::{Engine, Error, Result};

/// CFS period for `--cpus`, the one the spec is built with (Docker's).
const CPU_PERIOD: u64 = 100_000;

/// What `update` changes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Update {
    /// Resource limits.
    pub resources: Resources,
    /// Restart policy.
    pub restart: Option<RestartPolicy>,
}

impl Update {
    /// The changed limits as the runtime takes them.
    fn limits(&self) -> Limits {
        let r = &self.resources;
        Limits {
            memory: r.memory,
            memory_swap: r.memory_swap,
            cpu_shares: r.cpu_shares,
            cpu_quota: r.cpus.map(|c| (c * CPU_PERIOD as f64).round() as i64),
            cpu_period: r.cpus.map(|_| CPU_PERIOD),
            pids_limit: r.pids_limit,
            ..Limits::default()
        }
    }
}

impl Engine {
    /// Applies `update` to container `what`: to its cgroup when it runs, and
    /// to its record always.
    pub fn update_container(&self, what: &str, update: &Update) -> Result<()> {
        let id = self.containers.find(what)?;
        // Repairs a stale record before the lock is taken (the repair takes it).
        self.live_state(&id)?;
        let _lock = self.containers.lock(&id)?;
        let mut config = self.containers.config(&id)?;
        let restarts = update.restart.is_some_and(|p| p != RestartPolicy::No);
        if restarts && config.auto_remove {
            return Err(Error::Conflict(format!(
                "container {} is removed when it exits (--rm): it cannot have a restart policy",
                config.name
            )));
        }
        let state = self.containers.state(&id)?;
        if matches!(state.status, Status::Running | Status::Paused) && state.pid > 0 {
            let resources = update
                .limits()
                .over(None)
                .map_err(|e| Error::Invalid(e.to_string()))?;
            Driver::new(&self.options.runroot, &config.runtime).update(&id, &resources)?;
        }
        let (r, new) = (&mut config.resources, &update.resources);
        r.memory = new.memory.or(r.memory);
        r.memory_swap = new.memory_swap.or(r.memory_swap);
        r.cpus = new.cpus.or(r.cpus);
        r.cpu_shares = new.cpu_shares.or(r.cpu_shares);
        r.pids_limit = new.pids_limit.or(r.pids_limit);
        config.restart = update.restart.unwrap_or(config.restart);
        self.containers.save_config(&config)
    }
}
