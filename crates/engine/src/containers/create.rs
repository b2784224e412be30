//! `create`: an image's configuration merged with the flags of `create` or
//! `run` as Docker merges them, into a container record with a unique name.

use std::collections::BTreeMap;

use skiff_image::manifest::RunConfig;
use skiff_timestamp::now_rfc3339;

use super::names::new_id;
use super::record::{ContainerConfig, MountSpec, Resources, RestartPolicy};
use crate::{Engine, Error, Result};

/// What `create` and `run` were asked for (already parsed by the CLI).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The image.
    pub image: String,
    /// The command (after the image), replacing the image's Cmd.
    pub command: Vec<String>,
    /// `--entrypoint` (an empty string clears the image's).
    pub entrypoint: Option<String>,
    /// `--name`.
    pub name: Option<String>,
    /// `-e` and `--env-file`, in order (`NAME=value`, or `NAME` to take the host's).
    pub env: Vec<String>,
    /// `-w`.
    pub working_dir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
    /// `-h`.
    pub hostname: Option<String>,
    /// `-t`.
    pub tty: bool,
    /// `-i`.
    pub interactive: bool,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `--stop-signal`.
    pub stop_signal: Option<String>,
    /// `--stop-timeout`.
    pub stop_timeout: Option<u64>,
    /// `-v` and `--mount`.
    pub mounts: Vec<MountSpec>,
    /// `--read-only`.
    pub read_only: bool,
    /// Resource flags.
    pub resources: Resources,
    /// `--ulimit`.
    pub ulimits: Vec<(String, u64, u64)>,
    /// `--cap-add`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`.
    pub cap_drop: Vec<String>,
    /// `--privileged`.
    pub privileged: bool,
    /// `--security-opt seccomp=...`.
    pub seccomp: String,
    /// `--security-opt no-new-privileges`.
    pub no_new_privileges: bool,
    /// `--device`.
    pub devices: Vec<String>,
    /// `--init`.
    pub init: bool,
    /// `--restart`.
    pub restart: RestartPolicy,
    /// `--rm`.
    pub auto_remove: bool,
    /// `--network`.
    pub network: String,
    /// `--runtime`.
    pub runtime: String,
    /// `--log-opt max-size`.
    pub log_max_size: u64,
    /// `--log-opt max-file`.
    pub log_max_file: u32,
    /// Networking flags.
    pub net: super::record::NetConfig,
}

/// Docker's default seconds between the stop signal and SIGKILL.
const DEFAULT_STOP_TIMEOUT: u64 = 10;

impl Engine {
    /// Creates a container record from `opts` and the image's defaults;
    /// returns its id. The image must be in the store.
    pub fn create_container(&self, opts: &RunOptions) -> Result<String> {
        let image = self.find_image(&opts.image)?;
        let image_config = self.store().image_config(&image)?;
        let defaults = image_config.config.unwrap_or_default();
        let config = merge(opts, &defaults, image.id.to_string())?;
        validate(&config)?;
        if self.userns().is_some() {
            crate::rootless::check_container(&config)?;
        }
        if self.options.mount_program.is_some() && !config.runtime.is_empty() {
            return Err(Error::Invalid(format!(
                "--runtime {}: overlay.mount_program is for skiff's own runtime, which \
                 mounts the root inside the container's namespaces",
                config.runtime
            )));
        }
        self.validate_net(&config)?;
        for m in config.mounts.iter().filter(|m| m.kind == "volume") {
            self.ensure_volume(&m.source)?;
        }
        let mut config = config;
        config.name = self
            .containers
            .reserve_name(&config.id, opts.name.as_deref())?;
        if let Err(e) = self.containers.create(&config) {
            let _ = self.containers.release_name(&config.name);
            let _ = skiff_image::store::remove_all(&self.containers.dir(&config.id));
            return Err(e);
        }
        Ok(config.id)
    }
}

/// Checks what can be checked before the container exists, so that bad
/// flags leave no record behind: capabilities, devices, the seccomp profile.
fn validate(config: &ContainerConfig) -> Result<()> {
    super::spec::capabilities(config)?;
    super::devices::add(&mut serde_json::json!({}), &config.devices)?;
    super::seccomp_profile::for_container(config)?;
    Ok(())
}

/// Docker's rules: `--entrypoint` replaces the image's Entrypoint and
/// clears its Cmd; a command replaces Cmd; env from the image, then the
/// flags; the working directory, user and stop signal from the flags, else
/// the image.
fn merge(opts: &RunOptions, image: &RunConfig, image_id: String) -> Result<ContainerConfig> {
    let entrypoint = match &opts.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => image.entrypoint.clone().unwrap_or_default(),
    };
    let cmd = match (&opts.command, &opts.entrypoint) {
        (c, _) if !c.is_empty() => c.clone(),
        (_, Some(_)) => Vec::new(),
        _ => image.cmd.clone().unwrap_or_default(),
    };
    let args: Vec<String> = entrypoint.iter().chain(&cmd).cloned().collect();
    if args.is_empty() {
        return Err(Error::Invalid(
            "no command: the image has no Entrypoint or Cmd, give one after the image".into(),
        ));
    }
    let id = new_id();
    let mut labels = image.labels.clone().unwrap_or_default();
    labels.extend(opts.labels.clone());
    Ok(ContainerConfig {
        hostname: opts
            .hostname
            .clone()
            .unwrap_or_else(|| id[..12].to_string()),
        name: String::new(),
        image: opts.image.clone(),
        image_id,
        created: now_rfc3339(),
        args,
        entrypoint,
        cmd,
        env: merge_env(image.env.as_deref().unwrap_or_default(), &opts.env),
        working_dir: opts
            .working_dir
            .clone()
            .or(image.working_dir.clone())
            .unwrap_or_default(),
        user: opts.user.clone().or(image.user.clone()).unwrap_or_default(),
        tty: opts.tty,
        open_stdin: opts.interactive,
        labels,
        stop_signal: opts
            .stop_signal
            .clone()
            .or(image.stop_signal.clone())
            .unwrap_or_else(|| "SIGTERM".into()),
        stop_timeout: opts.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT),
        mounts: opts.mounts.clone(),
        read_only: opts.read_only,
        resources: opts.resources.clone(),
        ulimits: opts.ulimits.clone(),
        cap_add: opts.cap_add.clone(),
        cap_drop: opts.cap_drop.clone(),
        privileged: opts.privileged,
        seccomp: opts.seccomp.clone(),
        no_new_privileges: opts.no_new_privileges,
        devices: opts.devices.clone(),
        init: opts.init,
        restart: opts.restart,
        auto_remove: opts.auto_remove,
        network: if opts.network.is_empty() {
            "none".into()
        } else {
            opts.network.clone()
        },
        runtime: opts.runtime.clone(),
        log_max_size: opts.log_max_size,
        log_max_file: opts.log_max_file,
        exposed_ports: image
            .exposed_ports
            .clone()
            .unwrap_or_default()
            .into_keys()
            .collect(),
        net: opts.net.clone(),
        id,
    })
}

/// The image's environment with the flags' entries over it; a bare `NAME`
/// takes the value from skiff's own environment (and is dropped if unset).
fn merge_env(image: &[String], flags: &[String]) -> Vec<String> {
    let mut env: Vec<String> = image.to_vec();
    for entry in flags {
        let entry = match entry.split_once('=') {
            Some(_) => entry.clone(),
            None => match std::env::var(entry) {
                Ok(v) => format!("{entry}={v}"),
                Err(_) => continue,
            },
        };
        let key = entry.split('=').next().unwrap_or_default().to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image() -> RunConfig {
        RunConfig {
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["serve".into()]),
            env: Some(vec!["A=1".into(), "PATH=/bin".into()]),
            working_dir: Some("/app".into()),
            user: Some("web".into()),
            ..RunConfig::default()
        }
    }

    #[test]
    fn docker_merge_rules() {
        let base = RunOptions {
            image: "x".into(),
            ..RunOptions::default()
        };
        let c = merge(&base, &image(), "sha256:1".into()).unwrap();
        assert_eq!(c.args, ["/entry", "serve"]);
        assert_eq!((c.working_dir.as_str(), c.user.as_str()), ("/app", "web"));
        let cmd = RunOptions {
            command: vec!["ls".into()],
            ..base.clone()
        };
        assert_eq!(
            merge(&cmd, &image(), "i".into()).unwrap().args,
            ["/entry", "ls"]
        );
        let ep = RunOptions {
            entrypoint: Some("/bin/sh".into()),
            ..base.clone()
        };
        assert_eq!(merge(&ep, &image(), "i".into()).unwrap().args, ["/bin/sh"]);
        let cleared = RunOptions {
            entrypoint: Some(String::new()),
            command: vec!["id".into()],
            ..base.clone()
        };
        assert_eq!(merge(&cleared, &image(), "i".into()).unwrap().args, ["id"]);
        let none = RunOptions {
            entrypoint: Some(String::new()),
            ..base
        };
        assert!(merge(&none, &image(), "i".into()).is_err());
    }

    #[test]
    fn env_flags_override_the_image() {
        let env = merge_env(
            &["A=1".into(), "B=2".into()],
            &["A=3".into(), "SKIFF_SURELY_UNSET_VAR".into()],
        );
        assert_eq!(env, ["B=2", "A=3"]);
    }
}
