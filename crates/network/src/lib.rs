//! Networking for skiff's containers: bridge networks with veth pairs,
//! address management, outbound NAT, published ports and isolation in an
//! nftables table of skiff's own, the `/etc` files a container needs, and
//! a small DNS responder so containers find each other by name.
//!
//! The crate is synchronous (no async runtime). Links, addresses and
//! routes go through netlink; rules through `nft -j -f -`.
//!
//! # Use from the engine
//!
//! ```no_run
//! use skiff_network::{ConnectOptions, Networks, NetworkOptions};
//! # fn main() -> skiff_network::Result<()> {
//! let store = Networks::open("/var/lib/skiff/network")?;
//! store.ensure_default()?;                      // `skiff` on bridge skiff0
//! store.create(&NetworkOptions { name: "web".into(), dns_enabled: true, ..Default::default() })?;
//! let opts = ConnectOptions {
//!     aliases: vec!["db".into()],
//!     ports: vec!["127.0.0.1:8080:80".parse()?],
//!     ..Default::default()
//! };
//! // After the runtime made the container's network namespace:
//! let att = store.connect("web", "c0ffee", "/proc/1234/ns/net".as_ref(), &opts)?;
//! println!("{} on {}/{} via {}", att.ifname, att.ip, att.prefix, att.gateway);
//! // When its processes are gone (safe to call again after a crash):
//! store.release("web", "c0ffee")?;
//! # Ok(()) }
//! ```
//!
//! - [`Networks::create`], [`Networks::ensure_default`], [`Networks::get`],
//!   [`Networks::list`], [`Networks::endpoints`], [`Networks::remove_network`]:
//!   network definitions and who is on them.
//! - [`Networks::connect`] / [`Networks::disconnect`]: a container on and off
//!   a network, with its published ports ([`PortMapping`], parsed from `-p`);
//!   [`Networks::release`] takes off a container whose processes are gone,
//!   leaving its veth pair to the kernel.
//! - [`Networks::ensure_rules`]: re-creates the nftables table after a
//!   firewall reload; call it when the engine starts a container.
//! - [`etc_files`]: `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`.
//! - [`dns::serve`]: the per-network DNS responder, to run in a detached
//!   process listening on the gateway; [`Networks::dns_records_path`] names
//!   its records file, which connect and disconnect keep up to date.
//!
//! See `docs/networking.md` for the design.

mod bridge;
pub mod cidr;
mod claims;
mod connect;
pub mod dns;
pub mod error;
pub mod etc_files;
pub mod firewall;
mod fsutil;
pub mod ipam;
pub mod mac;
pub mod netlink;
pub mod network;
pub mod ports;
mod publish;
mod store;
mod sysctl;

pub use cidr::{Ipv4Net, Ipv6Net};
pub use connect::{host_veth_name, Attachment, ConnectOptions};
pub use error::{Error, Result};
pub use ipam::{Allocations, Endpoint};
pub use network::{NetworkConfig, NetworkOptions, DEFAULT_BRIDGE, DEFAULT_NETWORK};
pub use ports::{PortMapping, Protocol};
pub use publish::free_host_port;
pub use store::{Networks, DEFAULT_TABLE};
