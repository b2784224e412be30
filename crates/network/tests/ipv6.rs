//! Dual-stack networks: namespaces the test made reach each other over
//! IPv6 as well as IPv4, networks stay isolated over IPv6, and addresses
//! are released on disconnect.

mod common;

use common::{netns_path, run, Env};
use skiff_network::dns::records::Records;
use skiff_network::{Attachment, ConnectOptions, NetworkOptions};

fn connect(env: &Env, net: &str, id: &str, ns: &str) -> Attachment {
    let opts = ConnectOptions {
        aliases: vec![id.into()],
        ..Default::default()
    };
    env.store.connect(net, id, &netns_path(ns), &opts).unwrap()
}

fn stdout(out: std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn two_namespaces_ping_over_ipv6() {
    let mut env = Env::new();
    let net = env.network6();
    let (subnet6, gateway6) = (net.subnet6.unwrap(), net.gateway6.unwrap());
    let (ns1, ns2) = (env.netns(), env.netns());
    let a = connect(&env, &net.name, "c1", &ns1);
    let b = connect(&env, &net.name, "c2", &ns2);
    let (a6, b6) = (a.ip6.unwrap(), b.ip6.unwrap());
    assert!(subnet6.contains(a6) && subnet6.contains(b6) && a6 != b6);
    assert_eq!((a.prefix6, a.gateway6), (Some(64), Some(gateway6)));
    let addr = stdout(env.exec(&ns1, &["ip", "-6", "-o", "addr", "show", "eth0"]));
    assert!(addr.contains(&format!("{a6}/64")), "{addr}");
    let route = stdout(env.exec(&ns1, &["ip", "-6", "route", "show", "default"]));
    assert!(route.contains(&gateway6.to_string()), "{route}");
    assert!(env.ping6(&ns1, b6), "c1 cannot ping c2 over IPv6");
    assert!(env.ping6(&ns2, a6), "c2 cannot ping c1 over IPv6");
    assert!(env.ping6(&ns1, gateway6), "c1 cannot ping the IPv6 gateway");
    assert!(env.ping(&ns1, b.ip), "IPv4 still works");
    let names = Records::load(&env.store.dns_records_path(&net.name)).unwrap();
    assert_eq!(names.lookup("c2"), Some(vec![b.ip.into(), b6.into()]));
    let rules = run(
        "nft",
        &["list", "chain", "inet", env.store.table(), "postrouting"],
    );
    let rules = stdout(rules);
    let masquerade = format!("ip6 saddr {subnet6} ip6 daddr != {subnet6} masquerade");
    assert!(rules.contains(&masquerade), "{rules}");
}

#[test]
fn dual_stack_networks_are_isolated_over_ipv6() {
    let mut env = Env::new();
    let (na, nb) = (env.network6(), env.network6());
    let (ns1, ns2) = (env.netns(), env.netns());
    let a = connect(&env, &na.name, "a1", &ns1);
    let b = connect(&env, &nb.name, "b1", &ns2);
    assert!(env.ping6(&ns1, na.gateway6.unwrap()));
    assert!(!env.ping6(&ns1, b.ip6.unwrap()), "network A reached B");
    assert!(!env.ping6(&ns2, a.ip6.unwrap()), "network B reached A");
}

#[test]
fn ipv6_address_is_released_on_disconnect() {
    let mut env = Env::new();
    let net = env.network_with(|o: &mut NetworkOptions| o.ipv6 = true);
    let subnet6 = net.subnet6.expect("--ipv6 alone picks a subnet");
    assert!(subnet6.to_string().starts_with("fd00:89:"), "{subnet6}");
    assert_eq!(subnet6.prefix(), 64);
    let (ns1, ns2) = (env.netns(), env.netns());
    let first = connect(&env, &net.name, "c1", &ns1).ip6.unwrap();
    env.store.disconnect(&net.name, "c1").unwrap();
    assert!(env.store.endpoints(&net.name).unwrap().endpoints.is_empty());
    let again = connect(&env, &net.name, "c2", &ns2).ip6.unwrap();
    assert!(subnet6.contains(again), "{again}");
    assert_ne!(
        again, first,
        "a released address waits for the range to wrap"
    );
    env.store.disconnect(&net.name, "c2").unwrap();
    env.store.remove_network(&net.name, false).unwrap();
    assert!(!env.link_exists(&net.bridge_name));
}
