//! skiff's nftables rules, all in one table of its own (`inet skiff` by
//! default), rendered whole from the store and loaded in one transaction
//! on every change. Nothing outside that table is ever read or touched.
//!
//! ```text
//! chain prerouting   nat, hook prerouting:  fib daddr type local -> ports
//! chain output       nat, hook output:      fib daddr type local -> ports
//! chain ports        one DNAT rule per published port, commented
//!                    "skiff container <id>"
//! chain postrouting  nat, hook postrouting: per network, masquerade what
//!                    leaves the subnet (not for internal networks), what
//!                    came from 127.0.0.0/8 (published ports on localhost)
//!                    and hairpinned DNAT traffic
//! chain forward      filter, hook forward: per bridge, accept replies,
//!                    its own traffic and DNATed connections in, drop the
//!                    rest in (isolation between networks); accept what
//!                    goes out, unless the network is internal
//! ```
//!
//! The table holds the rules of every network whose bridge exists: it is
//! made with the first bridge and deleted with the last (`network rm`).
//! What was loaded last is kept in the store (`rules.applied.json`): a
//! change that renders the same rules (a container without published
//! ports joining or leaving) starts no `nft` at all.

mod nft;
mod rules;
mod table;

pub use nft::Nft;
pub use rules::render;
pub use table::table_exists;

use crate::error::Result;
use crate::ipam::Allocations;
use crate::netlink::Netlink;
use crate::store::Networks;

impl Networks {
    /// Loads the rules of the store's networks that have a bridge, with
    /// network `changed`'s endpoints replaced by the given ones (the state
    /// a change is about to record).
    pub(crate) fn apply_rules(&self, changed: Option<(&str, &Allocations)>) -> Result<()> {
        let mut nl = Netlink::new()?;
        let mut state = Vec::new();
        for net in self.list()? {
            if nl.link_by_name(&net.bridge_name)?.is_none() {
                continue;
            }
            let allocations = match changed {
                Some((name, a)) if name == net.name => a.clone(),
                _ => self.endpoints(&net.name)?,
            };
            state.push((net, allocations));
        }
        let commands = render(self.table(), &state);
        let text = serde_json::to_string(&commands).unwrap_or_default();
        let applied = self.root().join("rules.applied.json");
        if std::fs::read_to_string(&applied).is_ok_and(|last| last == text) {
            return Ok(());
        }
        Nft::apply(commands)?;
        crate::fsutil::write_atomic(&applied, text.as_bytes())
    }

    /// Re-creates the store's table from the store when it is missing (after
    /// `nft flush ruleset` or a firewall reload, say). Returns whether it
    /// re-created it (a store with no bridge needs no table).
    pub fn ensure_rules(&self) -> Result<bool> {
        let _lock = self.lock()?;
        if table_exists(self.table())? {
            return Ok(false);
        }
        crate::fsutil::remove_file(&self.root().join("rules.applied.json"))?;
        self.apply_rules(None)?;
        table_exists(self.table())
    }
}
