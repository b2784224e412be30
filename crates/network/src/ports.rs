//! Published ports: Docker's `-p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`,
//! with ranges (`8000-8001:80-81`).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::Error;

/// A transport protocol a port is published for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One `-p` spec: `range` consecutive host ports starting at `host_port`
/// forwarded to as many container ports starting at `container_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address it answers on; `None` for every address.
    pub host_ip: Option<IpAddr>,
    /// The first host port; 0 until [`crate::Networks::connect`] picks a
    /// free one (for `-p 80` and `-p IP::80`).
    pub host_port: u16,
    /// The first container port.
    pub container_port: u16,
    /// TCP or UDP.
    pub protocol: Protocol,
    /// How many consecutive ports (1 for a single port).
    pub range: u16,
}

impl PortMapping {
    /// The `(host port, container port)` pairs this mapping forwards.
    pub fn pairs(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        (0..self.range).map(|i| (self.host_port + i, self.container_port + i))
    }

    /// Whether this mapping and `other` claim a same host port: same
    /// protocol, overlapping ports, and the same host address or either
    /// one on every address.
    pub fn conflicts_with(&self, other: &PortMapping) -> bool {
        let ips = match (self.host_ip, other.host_ip) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        let (a0, a1) = (
            u32::from(self.host_port),
            u32::from(self.host_port) + u32::from(self.range),
        );
        let (b0, b1) = (
            u32::from(other.host_port),
            u32::from(other.host_port) + u32::from(other.range),
        );
        ips && self.protocol == other.protocol && a0 < b1 && b0 < a1
    }
}

impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host_ip {
            Some(IpAddr::V6(ip)) => write!(f, "[{ip}]:")?,
            Some(ip) => write!(f, "{ip}:")?,
            None => {}
        }
        let span = |start: u16| match self.range {
            1 => start.to_string(),
            n => format!("{start}-{}", start + (n - 1)),
        };
        write!(
            f,
            "{}:{}/{}",
            span(self.host_port),
            span(self.container_port),
            self.protocol
        )
    }
}

/// A port or a port range, `80` or `8000-8010`: (first, count).
fn parse_range(s: &str, what: &str, spec: &str) -> Result<(u16, u16), Error> {
    let bad = |why: String| Error::Invalid(format!("invalid port spec {spec:?}: {why}"));
    let port = |p: &str| {
        p.parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| bad(format!("{what} {p:?} is not a port number from 1 to 65535")))
    };
    match s.split_once('-') {
        None => Ok((port(s)?, 1)),
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            if b < a {
                return Err(bad(format!("{what} range {s} ends before it starts")));
            }
            Ok((a, b - a + 1))
        }
    }
}

/// Splits `[IP:][HOSTPORT:]CONTAINERPORT` into its parts; an IPv6 host
/// address is written in brackets.
fn split_spec(spec: &str) -> Result<(Option<&str>, Option<&str>, &str), Error> {
    let bad = |why: &str| Error::Invalid(format!("invalid port spec {spec:?}: {why}"));
    if let Some(rest) = spec.strip_prefix('[') {
        let (ip, rest) = rest
            .split_once("]:")
            .ok_or_else(|| bad("unclosed [IPv6 address]"))?;
        let (host, container) = rest
            .split_once(':')
            .ok_or_else(|| bad("expected [IP]:HOSTPORT:CONTAINERPORT"))?;
        return Ok((Some(ip), Some(host), container));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [c] => Ok((None, None, c)),
        [h, c] => Ok((None, Some(h), c)),
        [ip, h, c] => Ok((Some(ip), Some(h), c)),
        _ => Err(bad("too many ':' (write an IPv6 address as [ADDR])")),
    }
}

impl FromStr for PortMapping {
    type Err = Error;

    fn from_str(spec: &str) -> Result<PortMapping, Error> {
        let bad = |why: String| Error::Invalid(format!("invalid port spec {spec:?}: {why}"));
        let (addr, protocol) = match spec.rsplit_once('/') {
            None => (spec, Protocol::Tcp),
            Some((a, "tcp")) => (a, Protocol::Tcp),
            Some((a, "udp")) => (a, Protocol::Udp),
            Some((_, p)) => return Err(bad(format!("unknown protocol {p:?} (tcp or udp)"))),
        };
        let (ip, host, container) = split_spec(addr)?;
        let host_ip = match ip.filter(|ip| !ip.is_empty()) {
            None => None,
            Some(ip) => Some(
                ip.parse()
                    .map_err(|_| bad(format!("{ip:?} is not an IP address")))?,
            ),
        };
        let (container_port, range) = parse_range(container, "container port", spec)?;
        let host_port = match host.filter(|h| !h.is_empty()) {
            None => 0,
            Some(h) => {
                let (first, count) = parse_range(h, "host port", spec)?;
                if count != range {
                    return Err(bad(format!(
                        "host ports {h} and container ports {container} are ranges of different sizes"
                    )));
                }
                first
            }
        };
        if host_port == 0 && range > 1 {
            return Err(bad(
                "a container port range needs a host port range of the same size".into(),
            ));
        }
        Ok(PortMapping {
            host_ip,
            host_port,
            container_port,
            protocol,
            range,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PortMapping {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_docker_forms() {
        assert_eq!(p("80").to_string(), "0:80/tcp");
        assert_eq!(p("8080:80").to_string(), "8080:80/tcp");
        assert_eq!(p("8080:80/udp").to_string(), "8080:80/udp");
        assert_eq!(p("127.0.0.1:8080:80").to_string(), "127.0.0.1:8080:80/tcp");
        assert_eq!(p("127.0.0.1::80").to_string(), "127.0.0.1:0:80/tcp");
        assert_eq!(p("[::1]:8080:80").to_string(), "[::1]:8080:80/tcp");
        let r = p("8000-8001:80-81");
        assert_eq!(r.range, 2);
        assert_eq!(r.pairs().collect::<Vec<_>>(), [(8000, 80), (8001, 81)]);
    }

    #[test]
    fn refuses_malformed_specs() {
        for (spec, needle) in [
            ("", "container port"),
            ("abc", "container port"),
            ("0:80", "host port"),
            ("70000:80", "host port"),
            ("8080:80/sctp", "unknown protocol"),
            ("8000-8002:80-81", "different sizes"),
            ("8001-8000:80-79", "ends before"),
            ("1.2.3:8080:80", "not an IP address"),
            ("1:2:3:4", "too many"),
            ("[::1:8080:80", "unclosed"),
            ("80-81", "same size"),
        ] {
            let err = spec.parse::<PortMapping>().unwrap_err().to_string();
            assert!(
                err.contains("invalid port spec") && err.contains(needle),
                "{spec:?}: {err}"
            );
        }
    }

    #[test]
    fn conflicts() {
        assert!(p("8080:80").conflicts_with(&p("127.0.0.1:8080:81")));
        assert!(!p("127.0.0.2:8080:80").conflicts_with(&p("127.0.0.1:8080:81")));
        assert!(!p("8080:80/udp").conflicts_with(&p("8080:80")));
        assert!(p("8000-8005:80-85").conflicts_with(&p("8005:80")));
        assert!(!p("8000-8005:80-85").conflicts_with(&p("8006:80")));
    }
}
