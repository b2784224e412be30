//! Links: bridges, veth pairs, up, master, delete, lookup by name.

use std::os::fd::RawFd;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo as NlLinkInfo, LinkMessage,
};
use netlink_packet_route::RouteNetlinkMessage;

use super::Netlink;
use crate::error::Result;

/// What the kernel says about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkInfo {
    /// The interface index.
    pub index: u32,
    /// The interface name.
    pub name: String,
    /// The index of the bridge it is attached to, if any.
    pub master: Option<u32>,
    /// Whether it is administratively up.
    pub up: bool,
}

/// A veth pair to create: the host end here, the peer end straight inside
/// another network namespace under its final name.
#[derive(Debug, Clone)]
pub struct VethSpec<'a> {
    /// The host end's name.
    pub host_name: &'a str,
    /// The peer's name inside the namespace (`eth0`).
    pub peer_name: &'a str,
    /// An open fd of the namespace the peer is created in.
    pub peer_netns: RawFd,
    /// The peer's MAC address.
    pub peer_mac: [u8; 6],
    /// The MTU of both ends.
    pub mtu: u32,
}

fn message(attributes: Vec<LinkAttribute>) -> LinkMessage {
    let mut msg = LinkMessage::default();
    msg.attributes = attributes;
    msg
}

impl Netlink {
    /// The link called `name`, if there is one.
    pub fn link_by_name(&mut self, name: &str) -> Result<Option<LinkInfo>> {
        let msg = message(vec![LinkAttribute::IfName(name.to_string())]);
        let what = format!("looking up link {name}");
        match self.dump_one(RouteNetlinkMessage::GetLink(msg), &what) {
            Ok(found) => Ok(found),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn dump_one(&mut self, msg: RouteNetlinkMessage, what: &str) -> Result<Option<LinkInfo>> {
        // A GetLink by name answers with one message; NLM_F_ACK adds the
        // acknowledgement that ends the exchange.
        let seq = self.send(msg, netlink_packet_core::NLM_F_ACK, what)?;
        let mut found = None;
        self.receive(seq, what, |m| {
            if let RouteNetlinkMessage::NewLink(link) = m {
                found = Some(link_info(&link));
            }
        })?;
        Ok(found)
    }

    /// Creates a bridge called `name` with the given MTU.
    pub fn create_bridge(&mut self, name: &str, mtu: u32) -> Result<()> {
        let msg = message(vec![
            LinkAttribute::IfName(name.to_string()),
            LinkAttribute::Mtu(mtu),
            LinkAttribute::LinkInfo(vec![NlLinkInfo::Kind(InfoKind::Bridge)]),
        ]);
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("creating bridge {name}"),
        )
    }

    /// Creates a veth pair whose peer is born inside another namespace,
    /// already named and addressed at the link layer, so no moment exists
    /// where it sits in the host's namespace under a temporary name.
    pub fn create_veth(&mut self, spec: &VethSpec<'_>) -> Result<()> {
        let peer = message(vec![
            LinkAttribute::IfName(spec.peer_name.to_string()),
            LinkAttribute::NetNsFd(spec.peer_netns),
            LinkAttribute::Address(spec.peer_mac.to_vec()),
            LinkAttribute::Mtu(spec.mtu),
        ]);
        let msg = message(vec![
            LinkAttribute::IfName(spec.host_name.to_string()),
            LinkAttribute::Mtu(spec.mtu),
            LinkAttribute::LinkInfo(vec![
                NlLinkInfo::Kind(InfoKind::Veth),
                NlLinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
            ]),
        ]);
        self.request(
            RouteNetlinkMessage::NewLink(msg),
            NLM_F_CREATE | NLM_F_EXCL,
            &format!("creating veth pair {}", spec.host_name),
        )
    }

    /// Sets link `index` up, and attaches it to bridge `master` if given.
    pub fn set_up(&mut self, index: u32, master: Option<u32>) -> Result<()> {
        let mut msg = message(master.map(LinkAttribute::Controller).into_iter().collect());
        msg.header.index = index;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.request(
            RouteNetlinkMessage::SetLink(msg),
            0,
            &format!("setting link {index} up"),
        )
    }

    /// Deletes the link called `name`; `Ok(false)` when there is none.
    /// Deleting one end of a veth pair deletes the other.
    pub fn delete_link(&mut self, name: &str) -> Result<bool> {
        let Some(link) = self.link_by_name(name)? else {
            return Ok(false);
        };
        let mut msg = message(Vec::new());
        msg.header.index = link.index;
        match self.request(
            RouteNetlinkMessage::DelLink(msg),
            0,
            &format!("deleting link {name}"),
        ) {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn link_info(link: &LinkMessage) -> LinkInfo {
    let mut info = LinkInfo {
        index: link.header.index,
        name: String::new(),
        master: None,
        up: link.header.flags.contains(LinkFlags::Up),
    };
    for attr in &link.attributes {
        match attr {
            LinkAttribute::IfName(n) => info.name = n.clone(),
            LinkAttribute::Controller(m) => info.master = Some(*m),
            _ => {}
        }
    }
    info
}
