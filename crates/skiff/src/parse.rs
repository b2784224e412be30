//! Docker's flag syntaxes: sizes (`512m`), `-v` and `--mount` specs,
//! `--ulimit`, `--restart`, `--log-opt`, `--env-file`, `--security-opt`,
//! labels. Each error names the flag and the value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use skiff_engine::containers::{MountSpec, Resources, RestartPolicy};

/// A size in bytes: a number with an optional b, k, m, g or t suffix
/// (binary multiples, as Docker's `--memory`).
pub fn size(flag: &str, value: &str) -> Result<i64> {
    let v = value.trim().to_ascii_lowercase();
    let v = v
        .strip_suffix('b')
        .filter(|s| !s.is_empty() && s.ends_with(|c: char| c.is_ascii_alphabetic()))
        .unwrap_or(&v);
    let (digits, mult) = match v.char_indices().last() {
        Some((i, 'k')) => (&v[..i], 1i64 << 10),
        Some((i, 'm')) => (&v[..i], 1 << 20),
        Some((i, 'g')) => (&v[..i], 1 << 30),
        Some((i, 't')) => (&v[..i], 1 << 40),
        Some((i, 'b')) => (&v[..i], 1),
        _ => (v, 1),
    };
    let n: f64 = digits
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)
        .with_context(|| {
            format!("invalid size {value:?} for --{flag}: a number with b, k, m or g expected")
        })?;
    Ok((n * mult as f64) as i64)
}

/// `--memory-swap`: a size, or -1 for unlimited.
pub fn swap(value: &str) -> Result<i64> {
    if value.trim() == "-1" {
        return Ok(-1);
    }
    size("memory-swap", value)
}

/// `--memory`, `--memory-swap`, `--cpus`, `--cpu-shares`, `--pids-limit`.
pub fn resources(r: &crate::cli::ResourceArgs) -> Result<Resources> {
    Ok(Resources {
        memory: r.memory.as_deref().map(|m| size("memory", m)).transpose()?,
        memory_swap: r.memory_swap.as_deref().map(swap).transpose()?,
        cpus: r.cpus,
        cpu_shares: r.cpu_shares,
        pids_limit: r.pids_limit,
    })
}

/// `-v [SOURCE:]TARGET[:OPTIONS]`: a bind mount when SOURCE is a path, a
/// named volume otherwise, an anonymous volume without SOURCE.
pub fn volume(spec: &str, anonymous_name: impl FnOnce() -> String) -> Result<MountSpec> {
    let parts: Vec<&str> = spec.split(':').collect();
    let bad = |why: &str| anyhow::anyhow!("invalid -v {spec:?}: {why}");
    let (source, target, opts) = match parts.as_slice() {
        [t] => ("", *t, ""),
        [s, t] => (*s, *t, ""),
        [s, t, o] => (*s, *t, *o),
        _ => return Err(bad("[SOURCE:]TARGET[:ro|rw] expected")),
    };
    if !target.starts_with('/') {
        return Err(bad("the target must be an absolute path"));
    }
    let mut readonly = false;
    let mut options = Vec::new();
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => readonly = true,
            "rw" => readonly = false,
            "z" | "Z" => {}
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                options.push(o.to_string())
            }
            other => return Err(bad(&format!("unknown option {other:?}"))),
        }
    }
    let (kind, source) = match source {
        "" => ("volume", anonymous_name()),
        s if s.starts_with('/') => {
            if !Path::new(s).exists() {
                return Err(bad(&format!("the source {s} does not exist")));
            }
            ("bind", s.to_string())
        }
        s if s.starts_with('.') => return Err(bad("a bind source must be an absolute path")),
        s => ("volume", s.to_string()),
    };
    Ok(MountSpec {
        kind: kind.into(),
        source,
        target: target.into(),
        readonly,
        options,
    })
}

/// `--mount type=...,source=...,target=...[,readonly][,tmpfs-size=...]`.
pub fn mount(spec: &str) -> Result<MountSpec> {
    let bad = |why: String| anyhow::anyhow!("invalid --mount {spec:?}: {why}");
    let mut m = MountSpec {
        kind: "volume".into(),
        source: String::new(),
        target: String::new(),
        readonly: false,
        options: vec![],
    };
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => m.kind = v.into(),
            "source" | "src" => m.source = v.into(),
            "target" | "destination" | "dst" => m.target = v.into(),
            "readonly" | "ro" if v.is_empty() || v == "true" || v == "1" => m.readonly = true,
            "readonly" | "ro" if v == "false" || v == "0" => m.readonly = false,
            "tmpfs-size" => m.options.push(format!("size={}", size("mount", v)?)),
            "tmpfs-mode" => m.options.push(format!("mode={v}")),
            "bind-propagation" => m.options.push(v.into()),
            other => return Err(bad(format!("unknown field {other:?}"))),
        }
    }
    if !m.target.starts_with('/') {
        return Err(bad("target=ABSOLUTE_PATH is required".into()));
    }
    match m.kind.as_str() {
        "bind" if !m.source.starts_with('/') || !Path::new(&m.source).exists() => {
            Err(bad(format!(
                "the bind source {:?} must be an existing absolute path",
                m.source
            )))
        }
        "volume" if m.source.is_empty() => Err(bad("a volume needs source=NAME".into())),
        "tmpfs" if !m.source.is_empty() => Err(bad("a tmpfs takes no source".into())),
        "bind" | "volume" | "tmpfs" => Ok(m),
        other => Err(bad(format!(
            "unknown type {other:?}: bind, volume or tmpfs"
        ))),
    }
}

/// `--tmpfs PATH[:OPTIONS]`.
pub fn tmpfs(spec: &str) -> Result<MountSpec> {
    let (target, opts) = spec.split_once(':').unwrap_or((spec, ""));
    if !target.starts_with('/') {
        bail!("invalid --tmpfs {spec:?}: the path must be absolute");
    }
    let options = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    Ok(MountSpec {
        kind: "tmpfs".into(),
        source: String::new(),
        target: target.into(),
        readonly: false,
        options,
    })
}

/// `--ulimit TYPE=SOFT[:HARD]` as (RLIMIT_TYPE, soft, hard).
pub fn ulimit(spec: &str) -> Result<(String, u64, u64)> {
    let bad = || {
        anyhow::anyhow!("invalid --ulimit {spec:?}: TYPE=SOFT[:HARD] expected (nofile=1024:2048)")
    };
    let (kind, limits) = spec.split_once('=').ok_or_else(bad)?;
    const KNOWN: [&str; 16] = [
        "as",
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
    ];
    if !KNOWN.contains(&kind) {
        bail!("invalid --ulimit {spec:?}: unknown type {kind:?}");
    }
    let num = |s: &str| -> Result<u64> {
        match s {
            "-1" | "unlimited" => Ok(u64::MAX),
            s => s.parse().map_err(|_| bad()),
        }
    };
    let (soft, hard) = match limits.split_once(':') {
        Some((s, h)) => (num(s)?, num(h)?),
        None => (num(limits)?, num(limits)?),
    };
    if soft > hard {
        bail!("invalid --ulimit {spec:?}: the soft limit is above the hard one");
    }
    Ok((format!("RLIMIT_{}", kind.to_ascii_uppercase()), soft, hard))
}

/// `--restart no|on-failure[:N]|always|unless-stopped`.
pub fn restart(spec: &str) -> Result<RestartPolicy> {
    Ok(match spec.split_once(':') {
        None if spec == "no" || spec.is_empty() => RestartPolicy::No,
        None if spec == "always" => RestartPolicy::Always,
        None if spec == "unless-stopped" => RestartPolicy::UnlessStopped,
        None if spec == "on-failure" => RestartPolicy::OnFailure(0),
        Some(("on-failure", n)) => RestartPolicy::OnFailure(n.parse().with_context(|| {
            format!("invalid --restart {spec:?}: a count expected after on-failure:")
        })?),
        _ => bail!("invalid --restart {spec:?}: no, on-failure[:N], always or unless-stopped"),
    })
}

/// `--log-opt max-size=10m`, `max-file=3`: (bytes, files).
pub fn log_opts(opts: &[String]) -> Result<(u64, u32)> {
    let (mut max_size, mut max_file) = (0u64, 1u32);
    for o in opts {
        match o.split_once('=') {
            Some(("max-size", v)) => max_size = size("log-opt max-size", v)? as u64,
            Some(("max-file", v)) => {
                max_file = v.parse().ok().filter(|n| *n > 0).with_context(|| {
                    format!("invalid --log-opt {o:?}: max-file is a positive count")
                })?
            }
            _ => bail!("invalid --log-opt {o:?}: max-size=SIZE or max-file=N"),
        }
    }
    Ok((max_size, max_file))
}

/// The `NAME=value` lines of an env file (comments and blank lines skipped).
pub fn env_file(path: &Path) -> Result<Vec<String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("--env-file {}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// `--security-opt`: (seccomp profile or "unconfined" or "", no_new_privileges).
pub fn security_opts(opts: &[String]) -> Result<(String, bool)> {
    let (mut seccomp, mut nnp) = (String::new(), false);
    for o in opts {
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o, ""));
        match k {
            "seccomp" if !v.is_empty() => {
                if v != "unconfined" && !Path::new(v).is_file() {
                    bail!("invalid --security-opt {o:?}: no profile file {v}");
                }
                seccomp = v.to_string();
            }
            "no-new-privileges" if v.is_empty() || v == "true" => nnp = true,
            "no-new-privileges" if v == "false" => nnp = false,
            "label" | "apparmor" => {}
            _ => bail!(
                "invalid --security-opt {o:?}: seccomp=PROFILE|unconfined or no-new-privileges"
            ),
        }
    }
    Ok((seccomp, nnp))
}

/// `KEY=VALUE` labels.
pub fn labels(items: &[String]) -> BTreeMap<String, String> {
    items
        .iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// A capability as the spec names it: `CAP_NET_ADMIN` for `net_admin`.
pub fn capability(name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" || upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    }
}

/// The mount program `--storage-opt overlay.mount_program=PATH` names (the
/// last one given; an empty path names none). Other keys are refused.
pub fn mount_program(options: &[String]) -> Result<Option<PathBuf>> {
    let mut program = None;
    for option in options {
        match option.split_once('=') {
            Some(("overlay.mount_program", path)) => {
                program = Some(PathBuf::from(path)).filter(|p| !p.as_os_str().is_empty());
            }
            _ => bail!(
                "--storage-opt {option}: unknown storage option; skiff takes \
                 overlay.mount_program=PATH (e.g. /usr/bin/fuse-overlayfs)"
            ),
        }
    }
    Ok(program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_options() {
        let opts = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(mount_program(&[]).unwrap(), None);
        assert_eq!(
            mount_program(&opts(&["overlay.mount_program=/usr/bin/fuse-overlayfs"])).unwrap(),
            Some(PathBuf::from("/usr/bin/fuse-overlayfs"))
        );
        assert_eq!(
            mount_program(&opts(&[
                "overlay.mount_program=/a",
                "overlay.mount_program="
            ]))
            .unwrap(),
            None
        );
        let err = mount_program(&opts(&["overlay.size=1g"])).unwrap_err();
        assert!(err.to_string().contains("overlay.size=1g"), "{err}");
    }

    #[test]
    fn sizes() {
        assert_eq!(size("memory", "512m").unwrap(), 512 << 20);
        assert_eq!(size("memory", "1g").unwrap(), 1 << 30);
        assert_eq!(size("memory", "1.5k").unwrap(), 1536);
        assert_eq!(size("memory", "100").unwrap(), 100);
        assert_eq!(size("memory", "64MB").unwrap(), 64 << 20);
        for bad in ["", "12x", "-5m", "m", "1..2g"] {
            assert!(size("memory", bad).is_err(), "{bad}");
        }
        assert_eq!(swap("-1").unwrap(), -1);
    }

    #[test]
    fn volumes_and_mounts() {
        let v = volume("/tmp:/data:ro", String::new).unwrap();
        assert_eq!((v.kind.as_str(), v.readonly), ("bind", true));
        assert_eq!(volume("cache:/c", String::new).unwrap().kind, "volume");
        assert_eq!(volume("/anon", || "x".into()).unwrap().source, "x");
        for bad in [
            "/tmp:rel",
            "/nonexistent-dir-x:/d",
            "a:b:c:d",
            "/tmp:/d:bogus",
            "./x:/d",
        ] {
            assert!(volume(bad, String::new).is_err(), "{bad}");
        }
        let m = mount("type=bind,source=/tmp,target=/t,readonly").unwrap();
        assert!(m.readonly);
        assert_eq!(
            mount("type=tmpfs,target=/t,tmpfs-size=1m").unwrap().options,
            ["size=1048576"]
        );
        for bad in [
            "type=bind,target=/t",
            "type=nfs,target=/t",
            "target=/t",
            "type=volume,source=v,target=rel",
            "type=volume,source=v,target=/t,bogus=1",
        ] {
            assert!(mount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ulimits_restart_logs_security() {
        assert_eq!(
            ulimit("nofile=1024:2048").unwrap(),
            ("RLIMIT_NOFILE".into(), 1024, 2048)
        );
        assert!(ulimit("nofile=2:1").is_err());
        assert!(ulimit("bogus=1").is_err());
        assert_eq!(
            restart("on-failure:3").unwrap(),
            RestartPolicy::OnFailure(3)
        );
        assert!(restart("sometimes").is_err());
        assert_eq!(
            log_opts(&["max-size=1k".into(), "max-file=2".into()]).unwrap(),
            (1024, 2)
        );
        assert!(log_opts(&["max-file=0".into()]).is_err());
        assert_eq!(
            security_opts(&["no-new-privileges".into()]).unwrap(),
            (String::new(), true)
        );
        assert!(security_opts(&["seccomp=/nonexistent.json".into()]).is_err());
        assert_eq!(capability("net_admin"), "CAP_NET_ADMIN");
    }
}
