//! Containers (network namespaces made by the test) on bridge networks:
//! reachability, isolation, addresses, cleanup.

mod common;

use std::io::Read;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{netns_path, run, Env};
use skiff_network::dns::records::Records;
use skiff_network::{host_veth_name, ConnectOptions};

fn connect(env: &Env, net: &str, id: &str, ns: &str) -> skiff_network::Attachment {
    env.store
        .connect(net, id, &netns_path(ns), &ConnectOptions::default())
        .unwrap()
}

#[test]
fn two_containers_ping_and_talk_tcp() {
    let mut env = Env::new();
    let net = env.network(false);
    let (ns1, ns2) = (env.netns(), env.netns());
    let a = connect(&env, &net.name, "c1", &ns1);
    let b = connect(&env, &net.name, "c2", &ns2);
    assert_eq!(
        (a.ifname.as_str(), a.prefix, a.gateway),
        ("eth0", 24, net.gateway)
    );
    assert_ne!(a.ip, b.ip);
    let eth0 = env.exec(&ns1, &["ip", "-o", "addr", "show", "eth0"]);
    let eth0 = String::from_utf8_lossy(&eth0.stdout);
    assert!(eth0.contains(&format!("{}/24", a.ip)), "{eth0}");
    let route = env.exec(&ns1, &["ip", "route", "show", "default"]);
    assert!(String::from_utf8_lossy(&route.stdout).contains(&net.gateway.to_string()));
    assert!(env.ping(&ns1, b.ip), "c1 cannot ping c2");
    assert!(env.ping(&ns2, a.ip), "c2 cannot ping c1");

    // The server's stdin stays open: at EOF there busybox nc would quit
    // before reading what the client sends.
    let mut server = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns2,
            "/bin/busybox",
            "nc",
            "-l",
            "-p",
            "5000",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut sent = false;
    for _ in 0..50 {
        let client = env.exec(
            &ns1,
            &[
                "sh",
                "-c",
                &format!("echo hello-tcp | /bin/busybox nc -w 2 {} 5000", b.ip),
            ],
        );
        if client.status.success() {
            sent = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(sent, "client never connected");
    let mut got = String::new();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut got)
        .unwrap();
    drop(server.stdin.take());
    server.wait().unwrap();
    assert_eq!(got.trim(), "hello-tcp");
}

#[test]
fn networks_are_isolated_from_each_other() {
    let mut env = Env::new();
    let (na, nb) = (env.network(false), env.network(false));
    let (ns1, ns2, ns3) = (env.netns(), env.netns(), env.netns());
    let a = connect(&env, &na.name, "a1", &ns1);
    let b = connect(&env, &nb.name, "b1", &ns2);
    let a2 = connect(&env, &na.name, "a2", &ns3);
    assert!(env.ping(&ns3, a.ip), "same network must reach");
    assert!(!env.ping(&ns1, b.ip), "network A reached network B");
    assert!(!env.ping(&ns2, a2.ip), "network B reached network A");
}

#[test]
fn internal_network_has_no_way_out() {
    let mut env = Env::new();
    let (internal, other) = (env.network(true), env.network(false));
    let (ns1, ns2, ns3) = (env.netns(), env.netns(), env.netns());
    let a = connect(&env, &internal.name, "i1", &ns1);
    let b = connect(&env, &internal.name, "i2", &ns2);
    let c = connect(&env, &other.name, "o1", &ns3);
    assert!(
        env.ping(&ns2, a.ip),
        "an internal network still reaches itself"
    );
    assert!(!env.ping(&ns1, c.ip), "internal network got out");
    assert!(
        !env.ping(&ns3, b.ip),
        "internal network was reached from outside"
    );
    let rules = run(
        "nft",
        &["list", "chain", "inet", env.store.table(), "postrouting"],
    );
    let rules = String::from_utf8_lossy(&rules.stdout);
    assert!(!rules.contains(&format!(
        "ip saddr {} ip daddr != {} masquerade",
        internal.subnet, internal.subnet
    )));
    assert!(
        rules.contains(&format!(
            "ip saddr {} ip daddr != {} masquerade",
            other.subnet, other.subnet
        )),
        "{rules}"
    );
}

#[test]
fn thirty_containers_get_distinct_addresses_and_leave_nothing() {
    let mut env = Env::new();
    let net = env.network(false);
    let mut ips = Vec::new();
    for i in 0..30 {
        let ns = env.netns();
        ips.push(connect(&env, &net.name, &format!("c{i}"), &ns).ip);
    }
    let mut unique = ips.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 30, "{ips:?}");
    assert!(ips
        .iter()
        .all(|ip| net.subnet.contains(*ip) && *ip != net.gateway));
    for i in 0..30 {
        env.store.disconnect(&net.name, &format!("c{i}")).unwrap();
        assert!(!env.link_exists(&host_veth_name(&format!("c{i}"), &net.name)));
    }
    assert!(env.store.endpoints(&net.name).unwrap().endpoints.is_empty());
    assert!(
        env.table_exists(),
        "the table went with the last container, not with its bridge"
    );
    env.store.remove_network(&net.name, false).unwrap();
    assert!(!env.link_exists(&net.bridge_name));
    assert!(!env.table_exists(), "the table outlived the last bridge");
    for dir in ["networks", "ipam", "dns"] {
        let left: Vec<_> = std::fs::read_dir(env.dir.path().join(dir))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "{dir}: {left:?}");
    }
}

#[test]
fn static_ip_mac_and_second_interface() {
    let mut env = Env::new();
    let (n1, n2) = (env.network(false), env.network(false));
    let ns = env.netns();
    let ip = Ipv4Addr::from(u32::from(n1.subnet.addr()) + 77);
    let opts = ConnectOptions {
        ip: Some(ip),
        mac: Some("02:42:0a:00:00:4d".into()),
        mtu: Some(1400),
        aliases: vec!["static".into()],
        ..Default::default()
    };
    let a = env
        .store
        .connect(&n1.name, "s1", &netns_path(&ns), &opts)
        .unwrap();
    assert_eq!((a.ip, a.mac.as_str()), (ip, "02:42:0a:00:00:4d"));
    let names = Records::load(&env.store.dns_records_path(&n1.name)).unwrap();
    assert_eq!(names.lookup("static"), Some(vec![ip.into()]));
    let link = env.exec(&ns, &["ip", "-o", "link", "show", "eth0"]);
    let link = String::from_utf8_lossy(&link.stdout);
    assert!(
        link.contains("mtu 1400") && link.contains("02:42:0a:00:00:4d"),
        "{link}"
    );
    let eth1 = ConnectOptions {
        ifname: "eth1".into(),
        ..Default::default()
    };
    let b = env
        .store
        .connect(&n2.name, "s1", &netns_path(&ns), &eth1)
        .unwrap();
    assert_eq!(b.ifname, "eth1");
    let route = env.exec(&ns, &["ip", "route", "show", "default"]);
    assert!(String::from_utf8_lossy(&route.stdout).contains("dev eth0"));
    let lo = env.exec(&ns, &["ip", "-o", "link", "show", "lo"]);
    assert!(String::from_utf8_lossy(&lo.stdout).contains("UP"));
    env.store.disconnect(&n2.name, "s1").unwrap();
    assert!(!env
        .exec(&ns, &["ip", "link", "show", "eth1"])
        .status
        .success());
    assert!(env
        .exec(&ns, &["ip", "link", "show", "eth0"])
        .status
        .success());
}

#[test]
fn a_released_veth_goes_with_its_namespace() {
    let mut env = Env::new();
    let net = env.network(false);
    let ns = env.netns();
    let a = connect(&env, &net.name, "gone", &ns);
    env.store.release(&net.name, "gone").unwrap();
    assert!(env.store.endpoints(&net.name).unwrap().endpoints.is_empty());
    assert!(
        env.link_exists(&a.host_veth),
        "release leaves the veth to the kernel while the namespace lives"
    );
    assert!(run("ip", &["netns", "del", &ns]).status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while env.link_exists(&a.host_veth) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !env.link_exists(&a.host_veth),
        "the kernel deletes the pair with the namespace"
    );
    let again = env.netns();
    let b = connect(&env, &net.name, "gone", &again);
    assert_ne!(a.ip, b.ip, "a released address waits for the range to wrap");
    env.store.disconnect(&net.name, "gone").unwrap();
    assert!(!env.link_exists(&b.host_veth));
}

#[test]
fn an_endpoints_record_a_power_cut_emptied_reads_as_none() {
    let mut env = Env::new();
    let net = env.network(false);
    let ns = env.netns();
    connect(&env, &net.name, "before", &ns);
    let record = env.dir.path().join(format!("ipam/{}.json", net.name));
    std::fs::write(&record, b"").unwrap();
    assert!(env.store.endpoints(&net.name).unwrap().endpoints.is_empty());
    env.store.remove_network(&net.name, true).unwrap();
}
