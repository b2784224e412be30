//! Rendering the table from the store's networks and endpoints.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::{json, Value};

use crate::cidr::Ipv4Net;
use crate::ipam::Allocations;
use crate::network::NetworkConfig;
use crate::ports::PortMapping;

/// A base chain's type, hook and priority.
type Hook = (&'static str, &'static str, i32);

/// The chains of the table: name and, for base chains, hook.
const CHAINS: [(&str, Option<Hook>); 5] = [
    ("ports", None),
    ("prerouting", Some(("nat", "prerouting", -100))),
    ("output", Some(("nat", "output", -100))),
    ("postrouting", Some(("nat", "postrouting", 100))),
    ("forward", Some(("filter", "forward", 0))),
];

/// The nftables commands that make table `inet <table>` hold the rules for
/// `networks` (each with its endpoints), or delete it when there are none.
/// The table and its chains are added (a no-op when they exist) and the
/// chains flushed and refilled, never deleted: deleting a base chain
/// unregisters its hook, and the kernel then waits for an RCU grace period
/// (tens of milliseconds) before the transaction returns. Adding the table
/// before deleting it makes the delete succeed whether or not it existed.
pub fn render(table: &str, networks: &[(NetworkConfig, Allocations)]) -> Vec<Value> {
    let t = json!({ "family": "inet", "name": table });
    let mut out = vec![json!({ "add": { "table": t } })];
    if networks.is_empty() {
        out.push(json!({ "delete": { "table": t } }));
        return out;
    }
    let r = Rules {
        table,
        out: &mut out,
    };
    r.build(networks);
    out
}

struct Rules<'a> {
    table: &'a str,
    out: &'a mut Vec<Value>,
}

fn cmp(op: &str, left: Value, right: Value) -> Value {
    json!({ "match": { "op": op, "left": left, "right": right } })
}

fn meta(key: &str, op: &str, value: Value) -> Value {
    cmp(op, json!({ "meta": { "key": key } }), value)
}

fn payload(protocol: &str, field: &str, op: &str, value: Value) -> Value {
    cmp(
        op,
        json!({ "payload": { "protocol": protocol, "field": field } }),
        value,
    )
}

fn prefix(addr: impl std::fmt::Display, len: u8) -> Value {
    json!({ "prefix": { "addr": addr.to_string(), "len": len } })
}

fn fib_local() -> Value {
    cmp(
        "==",
        json!({ "fib": { "result": "type", "flags": ["daddr"] } }),
        json!("local"),
    )
}

fn verdict(v: &str) -> Value {
    json!({ v: null })
}

impl Rules<'_> {
    fn chain(&mut self, name: &str, hook: Option<Hook>) {
        let mut chain = json!({ "family": "inet", "table": self.table, "name": name });
        if let Some((kind, hook, prio)) = hook {
            chain["type"] = json!(kind);
            chain["hook"] = json!(hook);
            chain["prio"] = json!(prio);
            chain["policy"] = json!("accept");
        }
        self.out.push(json!({ "add": { "chain": chain } }));
        let flush = json!({ "family": "inet", "table": self.table, "name": name });
        self.out.push(json!({ "flush": { "chain": flush } }));
    }

    fn rule(&mut self, chain: &str, expr: Vec<Value>, comment: Option<String>) {
        let mut rule =
            json!({ "family": "inet", "table": self.table, "chain": chain, "expr": expr });
        if let Some(c) = comment {
            rule["comment"] = json!(c);
        }
        self.out.push(json!({ "add": { "rule": rule } }));
    }

    fn build(mut self, networks: &[(NetworkConfig, Allocations)]) {
        for (name, hook) in CHAINS {
            self.chain(name, hook);
        }
        for hook in ["prerouting", "output"] {
            self.rule(
                hook,
                vec![fib_local(), json!({ "jump": { "target": "ports" } })],
                None,
            );
        }
        for (net, allocations) in networks {
            self.postrouting(net);
            for (id, endpoint) in &allocations.endpoints {
                for port in &endpoint.ports {
                    self.dnat(id, endpoint.ip, port);
                }
            }
        }
        // Rules on traffic into each bridge come first: an "accept what
        // leaves bridge A" must not end the chain before "drop what enters
        // bridge B from elsewhere" is seen.
        for (net, _) in networks {
            self.forward_in(net);
        }
        for (net, _) in networks {
            let br = json!(net.bridge_name);
            let last = if net.internal { "drop" } else { "accept" };
            self.rule(
                "forward",
                vec![meta("iifname", "==", br), verdict(last)],
                None,
            );
        }
    }

    fn postrouting(&mut self, net: &NetworkConfig) {
        let br = json!(net.bridge_name);
        let subnet = prefix(net.subnet.addr(), net.subnet.prefix());
        let loopback = Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("valid prefix");
        let from_localhost = vec![
            meta("oifname", "==", br.clone()),
            payload(
                "ip",
                "saddr",
                "==",
                prefix(loopback.addr(), loopback.prefix()),
            ),
            verdict("masquerade"),
        ];
        self.rule("postrouting", from_localhost, None);
        let hairpin = vec![
            meta("oifname", "==", br),
            payload("ip", "saddr", "==", subnet.clone()),
            cmp("in", json!({ "ct": { "key": "status" } }), json!("dnat")),
            verdict("masquerade"),
        ];
        self.rule("postrouting", hairpin, None);
        if net.internal {
            return;
        }
        self.masquerade_leaving("ip", subnet);
        if let Some(s6) = net.subnet6 {
            self.masquerade_leaving("ip6", prefix(s6.addr(), s6.prefix()));
        }
    }

    /// Masquerades what the subnet sends anywhere but to itself; `family`
    /// is the payload protocol, `ip` or `ip6`.
    fn masquerade_leaving(&mut self, family: &str, subnet: Value) {
        let out = vec![
            payload(family, "saddr", "==", subnet.clone()),
            payload(family, "daddr", "!=", subnet),
            verdict("masquerade"),
        ];
        self.rule("postrouting", out, None);
    }

    fn forward_in(&mut self, net: &NetworkConfig) {
        let oif = || meta("oifname", "==", json!(net.bridge_name));
        self.rule(
            "forward",
            vec![
                oif(),
                meta("iifname", "==", json!(net.bridge_name)),
                verdict("accept"),
            ],
            None,
        );
        if !net.internal {
            let state = cmp(
                "in",
                json!({ "ct": { "key": "state" } }),
                json!(["established", "related"]),
            );
            self.rule("forward", vec![oif(), state, verdict("accept")], None);
            let dnat = cmp("in", json!({ "ct": { "key": "status" } }), json!("dnat"));
            self.rule("forward", vec![oif(), dnat, verdict("accept")], None);
        }
        self.rule("forward", vec![oif(), verdict("drop")], None);
    }

    fn dnat(&mut self, container: &str, ip: Ipv4Addr, port: &PortMapping) {
        let proto = port.protocol.to_string();
        for (host, inside) in port.pairs() {
            let mut expr = vec![meta("nfproto", "==", json!("ipv4"))];
            if let Some(IpAddr::V4(host_ip)) = port.host_ip {
                expr.push(payload("ip", "daddr", "==", json!(host_ip.to_string())));
            }
            expr.push(payload(&proto, "dport", "==", json!(host)));
            expr.push(
                json!({ "dnat": { "family": "ip", "addr": ip.to_string(), "port": inside } }),
            );
            self.rule("ports", expr, Some(format!("skiff container {container}")));
        }
    }
}
