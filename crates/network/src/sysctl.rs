//! The kernel switches a bridge network needs.

use std::path::Path;

use crate::error::{Error, Result};

fn set(path: &str, value: &str) -> Result<()> {
    let path = Path::new(path);
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(path, value).map_err(|e| Error::io("writing", path, e))
}

/// Turns on IPv4 forwarding, without which nothing leaves a bridge.
pub fn enable_ip_forward() -> Result<()> {
    set("/proc/sys/net/ipv4/ip_forward", "1")
}

/// Lets packets from 127.0.0.0/8 be routed out of `bridge`, so a port
/// published on the host answers on 127.0.0.1 (the output-hook DNAT sends
/// such packets to the container; the kernel drops them without this).
pub fn enable_route_localnet(bridge: &str) -> Result<()> {
    set(
        &format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet"),
        "1",
    )
}

/// Turns on IPv6 forwarding, for dual-stack networks that are not
/// internal. (The kernel then ignores router advertisements on interfaces
/// with `accept_ra=1`, as it does under Docker.)
pub fn enable_ipv6_forward() -> Result<()> {
    set("/proc/sys/net/ipv6/conf/all/forwarding", "1")
}

/// Makes sure IPv6 is on for `bridge` (a host may turn it off for new
/// links by default).
pub fn enable_ipv6(bridge: &str) -> Result<()> {
    set(
        &format!("/proc/sys/net/ipv6/conf/{bridge}/disable_ipv6"),
        "0",
    )
}
