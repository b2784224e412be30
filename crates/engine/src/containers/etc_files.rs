//! `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` for a container,
//! written in its directory and bind-mounted over the image's.

use std::fs;
use std::path::Path;

use super::record::ContainerConfig;
use crate::{Error, Result};

/// Writes the three files into `dir` for container `c`.
pub fn write(dir: &Path, c: &ContainerConfig) -> Result<()> {
    let write = |name: &str, text: String| {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| Error::Io(format!("writing {}", path.display()), e))
    };
    write("hostname", format!("{}\n", c.hostname))?;
    if c.network == "host" {
        write(
            "hosts",
            fs::read_to_string("/etc/hosts").unwrap_or_default(),
        )?;
        write(
            "resolv.conf",
            fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        )?;
        return Ok(());
    }
    write(
        "hosts",
        format!(
            "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{}\n",
            c.hostname
        ),
    )?;
    write(
        "resolv.conf",
        resolv_conf(&fs::read_to_string("/etc/resolv.conf").unwrap_or_default()),
    )
}

/// The host's resolv.conf without loopback name servers, which mean
/// nothing inside another network namespace.
pub fn resolv_conf(host: &str) -> String {
    host.lines()
        .filter(|l| {
            let mut words = l.split_whitespace();
            !(words.next() == Some("nameserver")
                && words
                    .next()
                    .is_some_and(|a| a.starts_with("127.") || a == "::1"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_servers_are_dropped() {
        let host =
            "search example.com\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver ::1\n";
        assert_eq!(
            super::resolv_conf(host),
            "search example.com\nnameserver 10.0.0.2\n"
        );
    }
}
