//! The files a container's network needs: `/etc/hosts`, `/etc/hostname`
//! and `/etc/resolv.conf`. The engine writes them beside the container and
//! bind-mounts them in.

use std::net::IpAddr;
use std::path::Path;

use crate::error::{Error, Result};

/// What goes into a container's `/etc/hosts`.
#[derive(Debug, Clone, Default)]
pub struct HostsOptions {
    /// The container's hostname.
    pub hostname: String,
    /// Its addresses (one per network).
    pub ips: Vec<IpAddr>,
    /// Its other names (container name, network aliases).
    pub aliases: Vec<String>,
    /// `--add-host NAME:IP` entries.
    pub extra: Vec<(String, IpAddr)>,
}

/// What goes into a container's `/etc/resolv.conf`.
#[derive(Debug, Clone, Default)]
pub struct ResolvOptions {
    /// `--dns`: replaces the host's nameservers.
    pub dns: Vec<IpAddr>,
    /// `--dns-search`: replaces the host's search domains.
    pub search: Vec<String>,
    /// `--dns-option`: replaces the host's options.
    pub options: Vec<String>,
    /// The network's DNS responder (its gateway), which then comes first
    /// and forwards what it does not know to the others.
    pub network_dns: Option<IpAddr>,
}

/// `/etc/hosts`: localhost for both families, the container's addresses
/// with its hostname and aliases, then `--add-host` entries.
pub fn hosts(opts: &HostsOptions) -> String {
    let mut out = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    let mut names = vec![opts.hostname.clone()];
    names.extend(
        opts.aliases
            .iter()
            .filter(|a| **a != opts.hostname)
            .cloned(),
    );
    for ip in &opts.ips {
        out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    for (name, ip) in &opts.extra {
        out.push_str(&format!("{ip}\t{name}\n"));
    }
    out
}

/// Parses `--add-host NAME:IP` (the IP may be IPv6, as Docker allows).
pub fn parse_add_host(spec: &str) -> Result<(String, IpAddr)> {
    let bad = || Error::Invalid(format!("invalid --add-host {spec:?}: expected NAME:IP"));
    let (name, ip) = spec.split_once(':').ok_or_else(bad)?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(bad());
    }
    Ok((name.to_string(), ip.parse().map_err(|_| bad())?))
}

/// `/etc/hostname`.
pub fn hostname(name: &str) -> String {
    format!("{name}\n")
}

/// The `nameserver` addresses in a resolv.conf's text.
pub fn nameservers(text: &str) -> Vec<IpAddr> {
    directive(text, "nameserver")
        .filter_map(|v| v.split_whitespace().next()?.parse().ok())
        .collect()
}

fn directive<'a>(text: &'a str, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    text.lines().filter_map(move |l| {
        let mut words = l.trim().splitn(2, char::is_whitespace);
        (words.next() == Some(key)).then(|| words.next().unwrap_or("").trim())
    })
}

/// `/etc/resolv.conf` from the host's (`host`, its text): its nameservers
/// without loopback ones (which mean nothing inside the container), its
/// search domains and options — each replaced by `opts` when given. With
/// no nameserver left, Docker's fallback of public resolvers is not used:
/// the file has none, and the container resolves only from /etc/hosts.
pub fn resolv_conf(host: &str, opts: &ResolvOptions) -> String {
    let mut servers: Vec<IpAddr> = opts.network_dns.into_iter().collect();
    if opts.dns.is_empty() {
        servers.extend(nameservers(host).into_iter().filter(|ip| !ip.is_loopback()));
    } else {
        servers.extend(&opts.dns);
    }
    let words = |key, given: &[String]| -> Vec<String> {
        if !given.is_empty() {
            return given.to_vec();
        }
        directive(host, key)
            .flat_map(|v| v.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect()
    };
    let mut out = String::new();
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    let search = words("search", &opts.search);
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    let options = words("options", &opts.options);
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// Writes `text` to `path` atomically.
pub fn write(path: &Path, text: &str) -> Result<()> {
    crate::fsutil::write_atomic(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nsearch example.test corp.test\noptions edns0\n";

    #[test]
    fn resolv_conf_drops_loopback_and_honours_flags() {
        let plain = resolv_conf(HOST, &ResolvOptions::default());
        assert_eq!(
            plain,
            "nameserver 192.0.2.53\nsearch example.test corp.test\noptions edns0\n"
        );
        let opts = ResolvOptions {
            dns: vec!["192.0.2.1".parse().unwrap()],
            search: vec!["a.test".into()],
            options: vec!["ndots:2".into()],
            network_dns: Some("10.201.0.1".parse().unwrap()),
        };
        assert_eq!(
            resolv_conf(HOST, &opts),
            "nameserver 10.201.0.1\nnameserver 192.0.2.1\nsearch a.test\noptions ndots:2\n"
        );
    }

    #[test]
    fn hosts_lists_names_and_extra_entries() {
        let opts = HostsOptions {
            hostname: "abc123".into(),
            ips: vec!["10.201.0.2".parse().unwrap()],
            aliases: vec!["web".into(), "abc123".into()],
            extra: vec![
                parse_add_host("db:10.201.0.9").unwrap(),
                parse_add_host("v6:[::1]").unwrap(),
            ],
        };
        let text = hosts(&opts);
        assert!(text.starts_with("127.0.0.1\tlocalhost\n"));
        assert!(text.contains("10.201.0.2\tabc123 web\n"));
        assert!(text.contains("10.201.0.9\tdb\n") && text.contains("::1\tv6\n"));
        assert!(parse_add_host("nocolon").is_err());
        assert!(parse_add_host("x:notanip").is_err());
        assert_eq!(hostname("abc"), "abc\n");
    }
}
