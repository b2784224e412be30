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
//! The table exists while any network has an endpoint, and is deleted with
//! the last one.

mod nft;
mod rules;

pub use nft::{table_exists, Nft};
pub use rules::render;

use crate::error::Result;
use crate::ipam::Allocations;
use crate::store::Networks;

impl Networks {
    /// Loads the store's rules, with network `changed`'s endpoints replaced
    /// by the given ones (the state a change is about to record).
    pub(crate) fn apply_rules(&self, changed: Option<(&str, &Allocations)>) -> Result<()> {
        let mut state = Vec::new();
        for net in self.list()? {
            let allocations = match changed {
                Some((name, a)) if name == net.name => a.clone(),
                _ => self.endpoints(&net.name)?,
            };
            state.push((net, allocations));
        }
        Nft::apply(render(self.table(), &state))
    }

    /// Re-creates the store's table from the store when it is missing (after
    /// `nft flush ruleset` or a firewall reload, say). Returns whether it
    /// re-created it (a store with no endpoint needs no table).
    pub fn ensure_rules(&self) -> Result<bool> {
        let _lock = self.lock()?;
        if table_exists(self.table())? {
            return Ok(false);
        }
        self.apply_rules(None)?;
        table_exists(self.table())
    }
}
