//! The registries configuration file and the choice between HTTPS and plain
//! HTTP that it feeds.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// Where the registries configuration lives unless the caller says otherwise.
pub const DEFAULT_REGISTRIES_CONF: &str = "/etc/skiff/registries.json";

/// The registries configuration: `{"insecure": ["host:port", "host"]}`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistriesConfig {
    /// Registries spoken to over plain HTTP: `host:port` for one port,
    /// `host` for every port of that host.
    #[serde(default)]
    pub insecure: Vec<String>,
}

impl RegistriesConfig {
    /// Reads `path`, or [`DEFAULT_REGISTRIES_CONF`] when `None`. A missing
    /// file is an empty configuration; a malformed one is an error naming it.
    pub fn load(path: Option<&Path>) -> Result<RegistriesConfig> {
        let path = path.map_or_else(|| PathBuf::from(DEFAULT_REGISTRIES_CONF), Path::to_path_buf);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(RegistriesConfig::default()),
            Err(e) => return Err(Error::io("read registries configuration", path, e)),
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Other(format!(
                "malformed registries configuration {}: {e}",
                path.display()
            ))
        })
    }

    /// Whether `registry` (`host[:port]`) is listed as insecure.
    pub fn is_insecure(&self, registry: &str) -> bool {
        let host = split_host(registry);
        self.insecure
            .iter()
            .any(|entry| entry == registry || entry == host)
    }
}

/// Whether to speak plain HTTP to `registry`: on loopback (as Docker does),
/// for registries the configuration lists, and whenever TLS verification is
/// off.
pub fn use_plain_http(registry: &str, tls_verify: bool, config: &RegistriesConfig) -> bool {
    !tls_verify || is_loopback(registry) || config.is_insecure(registry)
}

/// Whether `registry` names this machine: `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(registry: &str) -> bool {
    let host = split_host(registry);
    if host == "localhost" {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(IpAddr::V6(v6)) => {
            v6 == Ipv6Addr::LOCALHOST || v6.to_ipv4_mapped() == Some(Ipv4Addr::LOCALHOST)
        }
        Err(_) => false,
    }
}

/// The host part of `host[:port]`, brackets kept for IPv6 (`[::1]:5000`).
fn split_host(registry: &str) -> &str {
    if let Some(end) = registry.find(']') {
        return &registry[..=end];
    }
    registry.split(':').next().unwrap_or(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_plain_http() {
        let none = RegistriesConfig::default();
        for host in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.9.8.7",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(use_plain_http(host, true, &none), "{host}");
        }
        for host in [
            "quay.io",
            "docker.io",
            "10.0.0.1:5000",
            "localhost.example.com",
            "[::2]:5000",
        ] {
            assert!(!use_plain_http(host, true, &none), "{host}");
        }
        assert!(use_plain_http("quay.io", false, &none));
    }

    #[test]
    fn insecure_list_by_host_or_host_and_port() {
        let conf: RegistriesConfig =
            serde_json::from_str(r#"{"insecure": ["reg.lan:5000", "build.lan"]}"#).unwrap();
        assert!(use_plain_http("reg.lan:5000", true, &conf));
        assert!(!use_plain_http("reg.lan:5001", true, &conf));
        assert!(!use_plain_http("reg.lan", true, &conf));
        assert!(use_plain_http("build.lan:443", true, &conf));
        assert!(use_plain_http("build.lan", true, &conf));
    }

    #[test]
    fn loads_missing_and_refuses_malformed() {
        let dir = tempfile::tempdir().unwrap();
        let missing = RegistriesConfig::load(Some(&dir.path().join("nope.json"))).unwrap();
        assert!(missing.insecure.is_empty());
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"insecur": []}"#).unwrap();
        let err = RegistriesConfig::load(Some(&bad)).unwrap_err().to_string();
        assert!(err.contains("bad.json"), "{err}");
        let good = dir.path().join("good.json");
        std::fs::write(&good, r#"{"insecure": ["a.lan"]}"#).unwrap();
        assert!(RegistriesConfig::load(Some(&good))
            .unwrap()
            .is_insecure("a.lan:80"));
    }
}
