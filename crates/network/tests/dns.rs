//! The DNS responder on loopback, with a fake upstream the test runs: it
//! answers for the network's names and forwards the rest.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use skiff_network::dns::message::{self, parse_query, Rcode, TYPE_A, TYPE_AAAA};
use skiff_network::dns::records::{self, Record};

/// A fake upstream: `upstream.test` is 127.0.0.9, everything else NXDOMAIN.
fn fake_upstream() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, peer)) = socket.recv_from(&mut buf) {
            let q = parse_query(&buf[..n]).unwrap();
            let answer = if q.name == "upstream.test" {
                message::response(
                    &buf[..n],
                    &q,
                    Rcode::NoError,
                    &["127.0.0.9".parse().unwrap()],
                )
            } else {
                message::response(&buf[..n], &q, Rcode::NxDomain, &[])
            };
            socket.send_to(&answer, peer).unwrap();
        }
    });
    addr
}

/// A silent upstream: a bound socket that never answers.
fn dead_upstream() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

fn start(records_path: &Path, upstreams: Vec<SocketAddr>) -> SocketAddr {
    let ip = format!(
        "127.0.{}.{}",
        1 + std::process::id() % 250,
        2 + std::process::id() % 250
    );
    let listen = UdpSocket::bind((ip.as_str(), 0))
        .unwrap()
        .local_addr()
        .unwrap();
    let path = records_path.to_owned();
    std::thread::spawn(move || skiff_network::dns::serve("testnet", listen, &path, upstreams));
    listen
}

/// Asks `server`; returns the rcode and the addresses in the answer.
fn ask(server: SocketAddr, name: &str, qtype: u16) -> (u8, Vec<IpAddr>) {
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let id = 0x4242;
    let mut buf = [0u8; 512];
    for _ in 0..30 {
        client
            .send_to(&message::query(id, name, qtype), server)
            .unwrap();
        if let Ok(n) = client.recv(&mut buf) {
            return decode(&buf[..n], id);
        }
    }
    panic!("no answer from {server} for {name}");
}

fn decode(p: &[u8], id: u16) -> (u8, Vec<IpAddr>) {
    assert_eq!(u16::from_be_bytes([p[0], p[1]]), id);
    assert!(p[2] & 0x80 != 0, "not a response");
    let ancount = u16::from_be_bytes([p[6], p[7]]);
    let q = {
        let mut at = 12;
        while p[at] != 0 {
            at += usize::from(p[at]) + 1;
        }
        at + 5
    };
    let mut at = q;
    let mut ips = Vec::new();
    for _ in 0..ancount {
        at += 2; // name pointer
        let len = usize::from(u16::from_be_bytes([p[at + 8], p[at + 9]]));
        let data = &p[at + 10..at + 10 + len];
        ips.push(match len {
            4 => IpAddr::from(<[u8; 4]>::try_from(data).unwrap()),
            _ => IpAddr::from(<[u8; 16]>::try_from(data).unwrap()),
        });
        at += 10 + len;
    }
    (p[3] & 0x0f, ips)
}

fn record(id: &str, names: &[&str], ip: &str) -> Record {
    Record {
        container_id: id.into(),
        names: names.iter().map(|n| n.to_string()).collect(),
        ips: vec![ip.parse().unwrap()],
    }
}

#[test]
fn answers_for_containers_and_forwards_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("testnet.json");
    records::add(&path, record("c1", &["web", "www"], "10.201.0.5")).unwrap();
    let server = start(&path, vec![fake_upstream()]);
    let web: IpAddr = "10.201.0.5".parse().unwrap();
    assert_eq!(ask(server, "web", TYPE_A), (0, vec![web]));
    assert_eq!(ask(server, "WWW.testnet", TYPE_A), (0, vec![web]));
    assert_eq!(ask(server, "web", TYPE_AAAA), (0, vec![]));
    assert_eq!(
        ask(server, "upstream.test", TYPE_A),
        (0, vec!["127.0.0.9".parse().unwrap()])
    );
    assert_eq!(ask(server, "missing.test", TYPE_A).0, Rcode::NxDomain as u8);

    records::add(&path, record("c2", &["db"], "10.201.0.6")).unwrap();
    assert_eq!(
        ask(server, "db", TYPE_A),
        (0, vec!["10.201.0.6".parse().unwrap()])
    );
    records::remove(&path, "c1").unwrap();
    assert_eq!(
        ask(server, "web", TYPE_A).0,
        Rcode::NxDomain as u8,
        "forwarded once gone"
    );
}

#[test]
fn servfail_without_an_answering_upstream_and_nxdomain_without_any() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("testnet.json");
    let (_silent, dead) = dead_upstream();
    let server = start(&path, vec![dead]);
    assert_eq!(ask(server, "example.test", TYPE_A).0, Rcode::ServFail as u8);
    let dir2 = tempfile::tempdir().unwrap();
    let lone = {
        let path = dir2.path().join("lone.json");
        let listen = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        std::thread::spawn(move || skiff_network::dns::serve("lone", listen, &path, Vec::new()));
        listen
    };
    assert_eq!(ask(lone, "nobody", TYPE_A).0, Rcode::NxDomain as u8);
}
