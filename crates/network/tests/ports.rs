//! Published ports answering on the host's 127.0.0.1, rules re-created
//! after their table is deleted, and bad input refused without leftovers.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::{in_netns, netns_path, run, Env};
use skiff_network::{host_veth_name, ConnectOptions, Error, NetworkOptions, PortMapping};

fn publish(spec: &str) -> ConnectOptions {
    ConnectOptions {
        ports: vec![spec.parse().unwrap()],
        ..Default::default()
    }
}

fn tcp_get(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to published port");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    got
}

/// A TCP server inside `ns` on port 80 that greets `n` clients.
fn tcp_server(ns: &str, n: usize) -> std::thread::JoinHandle<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = in_netns(ns, move || {
        let listener = TcpListener::bind("0.0.0.0:80").unwrap();
        tx.send(()).unwrap();
        for _ in 0..n {
            let (mut conn, _) = listener.accept().unwrap();
            conn.write_all(b"hello from the container").unwrap();
        }
    });
    rx.recv().unwrap();
    handle
}

#[test]
fn published_tcp_port_answers_on_localhost_and_survives_a_flush() {
    let mut env = Env::new();
    let net = env.network(false);
    let ns = env.netns();
    let att = env
        .store
        .connect(
            &net.name,
            "web",
            &netns_path(&ns),
            &publish("127.0.0.1::80"),
        )
        .unwrap();
    let port = att.ports[0].host_port;
    assert!(port >= 32768, "{:?}", att.ports);
    let server = tcp_server(&ns, 2);
    assert_eq!(tcp_get(port), "hello from the container");
    let rules = run(
        "nft",
        &["list", "chain", "inet", env.store.table(), "ports"],
    );
    assert!(String::from_utf8_lossy(&rules.stdout).contains("skiff container web"));

    run("nft", &["delete", "table", "inet", env.store.table()]);
    assert!(!env.table_exists());
    assert!(env.store.ensure_rules().unwrap());
    assert!(env.table_exists());
    assert!(
        !env.store.ensure_rules().unwrap(),
        "a present table is left alone"
    );
    assert_eq!(tcp_get(port), "hello from the container");
    server.join().unwrap();
}

#[test]
fn published_udp_port_answers_on_localhost() {
    let mut env = Env::new();
    let net = env.network(false);
    let ns = env.netns();
    let (tx, rx) = std::sync::mpsc::channel();
    let server = in_netns(&ns, move || {
        let socket = UdpSocket::bind("0.0.0.0:53").unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 64];
        let (n, peer) = socket.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"ping");
        socket.send_to(b"pong", peer).unwrap();
    });
    rx.recv().unwrap();
    let att = env
        .store
        .connect(
            &net.name,
            "dns",
            &netns_path(&ns),
            &publish("127.0.0.1::53/udp"),
        )
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    client
        .send_to(b"ping", ("127.0.0.1", att.ports[0].host_port))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"pong");
    server.join().unwrap();
}

#[test]
fn a_port_published_twice_is_refused_and_nothing_is_left() {
    let mut env = Env::new();
    let net = env.network(false);
    let (ns1, ns2) = (env.netns(), env.netns());
    let first = env
        .store
        .connect(
            &net.name,
            "one",
            &netns_path(&ns1),
            &publish("127.0.0.1::80"),
        )
        .unwrap();
    let before = env.store.endpoints(&net.name).unwrap();
    let rules_before = run("nft", &["list", "table", "inet", env.store.table()]).stdout;
    let spec = format!("{}:80", first.ports[0].host_port);
    let err = env
        .store
        .connect(&net.name, "two", &netns_path(&ns2), &publish(&spec))
        .unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err}");
    assert!(
        err.to_string()
            .contains("already published by container one"),
        "{err}"
    );
    assert_eq!(env.store.endpoints(&net.name).unwrap(), before);
    assert!(!env.link_exists(&host_veth_name("two", &net.name)));
    assert!(!env
        .exec(&ns2, &["ip", "link", "show", "eth0"])
        .status
        .success());
    assert_eq!(
        run("nft", &["list", "table", "inet", env.store.table()]).stdout,
        rules_before
    );
}

#[test]
fn a_failed_connect_undoes_its_bridge() {
    let mut env = Env::new();
    let net = env.network(false);
    let missing = env.dir.path().join("no-such-netns");
    let err = env
        .store
        .connect(&net.name, "x", &missing, &ConnectOptions::default())
        .unwrap_err();
    assert!(err.to_string().contains("no-such-netns"), "{err}");
    assert!(
        !env.link_exists(&net.bridge_name),
        "a failed first connect left its bridge"
    );
    assert!(!env.link_exists(&host_veth_name("x", &net.name)));
    assert!(env.store.endpoints(&net.name).unwrap().endpoints.is_empty());
    assert!(!env.table_exists());
}

#[test]
fn bad_networks_are_refused() {
    let mut env = Env::new();
    let net = env.network(false);
    let overlap = NetworkOptions {
        name: "other".into(),
        subnet: Some(net.subnet.to_string()),
        ..Default::default()
    };
    let err = env.store.create(&overlap).unwrap_err().to_string();
    assert!(err.contains("overlaps network"), "{err}");
    let outside = NetworkOptions {
        name: "gw".into(),
        subnet: Some(env.subnet()),
        gateway: Some("192.0.2.200".into()),
        ..Default::default()
    };
    let err = env.store.create(&outside).unwrap_err().to_string();
    assert!(
        err.contains("gateway 192.0.2.200 is not a host address"),
        "{err}"
    );
    let bad = NetworkOptions {
        name: "cidr".into(),
        subnet: Some("10.1.2.3/33".into()),
        ..Default::default()
    };
    assert!(env
        .store
        .create(&bad)
        .unwrap_err()
        .to_string()
        .contains("invalid subnet"));
    let again = NetworkOptions {
        name: net.name.clone(),
        subnet: Some(env.subnet()),
        ..Default::default()
    };
    assert!(matches!(
        env.store.create(&again),
        Err(Error::NetworkExists(_))
    ));
    let ns = env.netns();
    let err = env
        .store
        .connect("nope", "c", &netns_path(&ns), &ConnectOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::UnknownNetwork(_)), "{err}");
    assert!(err.to_string().contains("network \"nope\" not found"));
    assert_eq!(env.store.list().unwrap(), vec![net]);
    assert!("80:80/sctp".parse::<PortMapping>().is_err());
}

#[test]
fn removing_a_network_with_containers_needs_force() {
    let mut env = Env::new();
    let net = env.network(false);
    let ns = env.netns();
    let att = env
        .store
        .connect(&net.name, "c", &netns_path(&ns), &publish("127.0.0.1::80"))
        .unwrap();
    let err = env
        .store
        .remove_network(&net.name, false)
        .unwrap_err()
        .to_string();
    assert!(err.contains("has containers attached (c)"), "{err}");
    assert!(env.link_exists(&net.bridge_name));
    env.store.remove_network(&net.name, true).unwrap();
    assert!(!env.link_exists(&net.bridge_name));
    assert!(!env.link_exists(&att.host_veth));
    assert!(!env.table_exists());
    assert!(!env
        .store
        .root()
        .join("ipam")
        .join(format!("{}.json", net.name))
        .exists());
}
