//! Bridge networking through `skiff`: containers reach each other by
//! address and by name, published ports answer on the host's loopback,
//! networks are isolated, and removing things leaves nothing behind. Only
//! loopback and addresses inside namespaces these tests made are contacted;
//! DNS names the networks do not know go to a dead loopback port.

use std::net::UdpSocket;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use skiff_e2e::{eventually, free_port, wait_http, Skiff, INDEX_PAGE};

/// A static UDP echo server (busybox has no UDP listener), built for the
/// test and copied into the image as `/bin/udp-echo PORT`.
const UDP_ECHO_C: &str = r#"
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0) return 1;
    for (;;) {
        char buf[512];
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n > 0) sendto(s, buf, n, 0, (struct sockaddr *)&peer, len);
    }
}
"#;

fn with_busybox_and_udp_echo() -> Skiff {
    Skiff::with_busybox_customised(|rootfs| {
        let src = rootfs.join("udp-echo.c");
        std::fs::write(&src, UDP_ECHO_C).unwrap();
        let built = Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(rootfs.join("bin/udp-echo"))
            .arg(&src)
            .status()
            .unwrap();
        assert!(built.success(), "building the UDP echo server");
        std::fs::remove_file(src).unwrap();
    })
}

fn ip_of(skiff: &Skiff, name: &str, network: &str) -> String {
    skiff.inspect(name)["NetworkSettings"]["Networks"][network]["IPAddress"]
        .as_str()
        .expect("an address")
        .to_string()
}

#[test]
fn containers_talk_by_address_and_by_name() {
    let skiff = Skiff::with_busybox();
    skiff.run(&["network", "create", "appnet"]).ok();
    skiff
        .run(&[
            "run",
            "-d",
            "--name",
            "server",
            "--network",
            "appnet",
            "--network-alias",
            "db",
            "busybox",
            "sh",
            "-c",
            "while true; do echo pong | nc -l -p 7000; done",
        ])
        .ok();
    let addr = ip_of(&skiff, "server", "appnet");
    let script = format!("ping -c1 -W2 {addr} >/dev/null && ping -c1 -W2 server >/dev/null && echo hi | nc -w 2 db 7000");
    let ran = skiff.run(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        "busybox",
        "sh",
        "-c",
        &script,
    ]);
    ran.ok().stdout_has("pong");
    // Its own /etc/hosts and resolv.conf.
    let files = skiff.run(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        "--name",
        "me",
        "--add-host",
        "extra.test:10.1.2.3",
        "--dns-search",
        "example.test",
        "busybox",
        "cat",
        "/etc/hosts",
        "/etc/resolv.conf",
    ]);
    files
        .ok()
        .stdout_has("me")
        .stdout_has("extra.test")
        .stdout_has("search example.test");
    skiff.run(&["rm", "-f", "server"]).ok();
    // A name that is gone no longer resolves.
    let gone = skiff.run(&[
        "run",
        "--rm",
        "--network",
        "appnet",
        "busybox",
        "ping",
        "-c1",
        "-W1",
        "server",
    ]);
    assert_ne!(gone.code, Some(0));
}

/// Waits until a datagram to 127.0.0.1:`port` comes back.
fn udp_echoes(port: u16) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    eventually("the UDP port answers", || {
        socket.send_to(b"ping", ("127.0.0.1", port)).unwrap();
        socket.recv(&mut buf).is_ok_and(|n| &buf[..n] == b"ping")
    });
}

#[test]
fn published_ports_answer_on_the_host() {
    let skiff = with_busybox_and_udp_echo();
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    skiff
        .run(&[
            "run", "-d", "--name", "web", "-p", &publish, "busybox", "httpd", "-f", "-p", "80",
            "-h", "/var/www",
        ])
        .ok();
    wait_http(port, "/", INDEX_PAGE.trim());
    let ports = skiff.run(&["port", "web"]);
    ports
        .ok()
        .stdout_has(&format!("80/tcp -> 127.0.0.1:{port}"));
    skiff
        .run(&["ps", "--filter", "name=web"])
        .ok()
        .stdout_has(&format!("127.0.0.1:{port}->80/tcp"));
    assert_eq!(
        skiff.inspect("web")["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        port.to_string().as_str()
    );
    // The same host port again is refused, naming it.
    let taken = skiff.run(&["run", "--rm", "-p", &publish, "busybox", "true"]);
    assert_ne!(taken.code, Some(0));
    assert!(taken.stderr.contains(&port.to_string()), "{}", taken.stderr);
    // UDP: a datagram to the published port comes back from the container.
    let udp_port = free_port();
    let udp = format!("127.0.0.1:{udp_port}:9000/udp");
    skiff
        .run(&[
            "run", "-d", "--name", "udp", "-p", &udp, "busybox", "udp-echo", "9000",
        ])
        .ok();
    udp_echoes(udp_port);
    // After the firewall table is gone (a reload), starting a container
    // brings it back. The store's table shares its tag with the default
    // bridge: sk<tag>0 and skiff_<tag>.
    let default = skiff.run(&["network", "inspect", "skiff"]);
    let default: Value = serde_json::from_str(&default.stdout).unwrap();
    let bridge = default[0]["bridge_name"].as_str().unwrap();
    let tag = bridge.strip_prefix("sk").and_then(|b| b.strip_suffix('0'));
    let table = format!("skiff_{}", tag.expect("a store's own bridge name"));
    assert!(Command::new("nft")
        .args(["delete", "table", "inet", &table])
        .status()
        .unwrap()
        .success());
    skiff.run(&["run", "--rm", "busybox", "true"]).ok();
    wait_http(port, "/", INDEX_PAGE.trim());
}

#[test]
fn slirp4netns_publishes_tcp_and_udp_for_root_too() {
    let skiff = with_busybox_and_udp_echo();
    let (port, udp_port) = (free_port(), free_port());
    let (tcp, udp) = (
        format!("127.0.0.1:{port}:80"),
        format!("127.0.0.1:{udp_port}:9000/udp"),
    );
    // slirp4netns sends a UDP reply to a client on the host's loopback
    // through the host's loopback, which the default keeps closed.
    let script = "udp-echo 9000 & exec httpd -f -p 80 -h /var/www";
    skiff
        .run(&[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "slirp4netns:allow_host_loopback=true",
            "-p",
            &tcp,
            "-p",
            &udp,
            "busybox",
            "sh",
            "-c",
            script,
        ])
        .ok();
    wait_http(port, "/", INDEX_PAGE.trim());
    udp_echoes(udp_port);
    // allow_host_loopback: the host's 127.0.0.1 is 10.0.2.2 inside, where
    // the container's own published port answers.
    let get = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 10.0.2.2 {port}");
    skiff
        .run(&["exec", "web", "sh", "-c", &get])
        .ok()
        .stdout_has(INDEX_PAGE.trim());
    // Its slirp4netns (its API socket is under this store's run root) ends
    // with it.
    let store = skiff.dir().to_string_lossy().into_owned();
    let slirps = || -> Vec<String> {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
            .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
            .filter(|c| {
                let argv0 = c.split(' ').next().unwrap_or_default();
                argv0.ends_with("slirp4netns") && c.contains(&store)
            })
            .collect()
    };
    assert_eq!(slirps().len(), 1, "{:?}", slirps());
    skiff.run(&["rm", "-f", "web"]).ok();
    eventually("slirp4netns to end", || slirps().is_empty());
}

#[test]
fn networks_are_isolated_and_modes_work() {
    let skiff = Skiff::with_busybox();
    skiff.run(&["network", "create", "neta"]).ok();
    skiff.run(&["network", "create", "netb", "--internal"]).ok();
    skiff
        .run(&[
            "run",
            "-d",
            "--name",
            "a1",
            "--network",
            "neta",
            "busybox",
            "sleep",
            "60",
        ])
        .ok();
    let a1 = ip_of(&skiff, "a1", "neta");
    let from_b = skiff.run(&[
        "run",
        "--rm",
        "--network",
        "netb",
        "busybox",
        "ping",
        "-c1",
        "-W1",
        &a1,
    ]);
    assert_ne!(from_b.code, Some(0), "netb must not reach neta");
    // container:ID shares a1's namespace: the same address.
    let shared = skiff.run(&[
        "run",
        "--rm",
        "--network",
        "container:a1",
        "busybox",
        "ip",
        "-4",
        "-o",
        "addr",
        "show",
        "eth0",
    ]);
    shared.ok().stdout_has(&a1);
    // Host networking sees the host's links.
    skiff
        .run(&[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "ls",
            "/sys/class/net",
        ])
        .ok()
        .stdout_has("lo");
    // A running container joins a second network as eth1, and leaves it.
    skiff.run(&["network", "connect", "netb", "a1"]).ok();
    skiff
        .run(&["exec", "a1", "ip", "link", "show", "eth1"])
        .ok();
    skiff.run(&["network", "disconnect", "netb", "a1"]).ok();
    assert_ne!(
        skiff
            .run(&["exec", "a1", "ip", "link", "show", "eth1"])
            .code,
        Some(0)
    );
    let busy = skiff.run(&["network", "rm", "neta"]);
    assert!(busy.stderr.contains("a1"), "{}", busy.stderr);
}

#[test]
fn thirty_containers_get_distinct_addresses_and_leave_nothing() {
    let skiff = Skiff::with_busybox();
    skiff
        .run(&["network", "create", "--subnet", "10.233.7.0/24", "many"])
        .ok();
    let mut ips = Vec::new();
    for i in 0..30 {
        let name = format!("c{i}");
        skiff
            .run(&[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "many",
                "busybox",
                "sleep",
                "60",
            ])
            .ok();
        ips.push(ip_of(&skiff, &name, "many"));
    }
    let mut unique = ips.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 30, "{ips:?}");
    assert!(ips.iter().all(|ip| ip.starts_with("10.233.7.")));
    let names: Vec<String> = (0..30).map(|i| format!("c{i}")).collect();
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    skiff.run(&args).ok();
    let bridge = skiff.run(&["network", "inspect", "many"]);
    let bridge: Value = serde_json::from_str(&bridge.stdout).unwrap();
    let bridge = bridge[0]["bridge_name"].as_str().unwrap().to_string();
    // The kernel deletes each veth pair with its container's namespace,
    // in the background: wait for it, within reason.
    let attached = || {
        let out = Command::new("ip")
            .args(["-br", "link", "show", "master", &bridge])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !attached().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(attached(), "", "no veth is left on {bridge}");
    let ipam = skiff.root().join("network/ipam/many.json");
    let left = std::fs::read_to_string(&ipam).unwrap_or_default();
    let left: Value = serde_json::from_str(&left).unwrap_or_default();
    assert!(
        left["endpoints"].as_object().is_none_or(|e| e.is_empty()),
        "addresses are released: {left}"
    );
    skiff.run(&["network", "rm", "many"]).ok();
    assert!(!skiff.run(&["network", "ls"]).stdout.contains("many"));
}

#[test]
fn bad_network_input_is_refused() {
    let skiff = Skiff::with_busybox();
    skiff
        .run(&["network", "create", "--subnet", "10.234.1.0/24", "first"])
        .ok();
    skiff.expect_failures(&[
        (
            vec![
                "network",
                "create",
                "--subnet",
                "10.234.1.128/25",
                "overlap",
            ],
            "overlaps",
        ),
        (
            vec![
                "network",
                "create",
                "--subnet",
                "10.234.2.0/24",
                "--gateway",
                "10.9.9.9",
                "gw",
            ],
            "10.9.9.9",
        ),
        (
            vec![
                "network",
                "create",
                "--subnet",
                "10.234.300.0/24",
                "badcidr",
            ],
            "10.234.300.0",
        ),
        (vec!["network", "create", "first"], "first"),
        (vec!["network", "rm", "nosuch"], "nosuch"),
        (
            vec!["run", "--rm", "--network", "nosuch", "busybox", "true"],
            "nosuch",
        ),
        (
            vec!["run", "--rm", "-p", "80:80:80", "busybox", "true"],
            "80:80:80",
        ),
        (
            vec!["run", "--rm", "-p", "99999:80", "busybox", "true"],
            "99999",
        ),
        (
            vec![
                "run",
                "--rm",
                "--network",
                "none",
                "-p",
                "8080:80",
                "busybox",
                "true",
            ],
            "-p",
        ),
    ]);
    let ls = skiff.run(&["network", "ls", "-q"]);
    let mut names: Vec<&str> = ls.stdout.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["first", "skiff"], "nothing half-made");
    assert!(skiff.run(&["ps", "-aq"]).stdout.trim().is_empty());
}

/// A random ULA /64 (`fd42:…/64`), so that runs side by side never pick
/// the same one.
fn random_subnet6() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let pid = std::process::id();
    format!(
        "fd42:{:x}:{:x}:{:x}::/64",
        pid & 0xffff,
        nanos >> 16,
        (nanos & 0xffff) | 1
    )
}

#[test]
fn dual_stack_network_reaches_by_ipv6_address_and_name() {
    let skiff = Skiff::with_busybox();
    let subnet6 = random_subnet6();
    skiff
        .run(&["network", "create", "--ipv6", "--subnet", &subnet6, "v6net"])
        .ok();
    skiff
        .run(&[
            "run",
            "-d",
            "--name",
            "server6",
            "--network",
            "v6net",
            "busybox",
            "sleep",
            "60",
        ])
        .ok();
    let settings = &skiff.inspect("server6")["NetworkSettings"]["Networks"]["v6net"];
    let addr6 = settings["GlobalIPv6Address"].as_str().unwrap().to_string();
    let net6: std::net::Ipv6Addr = subnet6.trim_end_matches("/64").parse().unwrap();
    let ip6: std::net::Ipv6Addr = addr6.parse().unwrap();
    assert_eq!(
        ip6.segments()[..4],
        net6.segments()[..4],
        "{addr6} in {subnet6}"
    );
    assert_eq!(settings["GlobalIPv6PrefixLen"], 64);
    let script = format!("ping -6 -c1 -W2 {addr6} && ping -6 -c1 -W2 server6");
    skiff
        .run(&[
            "run",
            "--rm",
            "--network",
            "v6net",
            "busybox",
            "sh",
            "-c",
            &script,
        ])
        .ok()
        .stdout_has(&addr6);
    skiff
        .run(&["exec", "server6", "cat", "/etc/hosts"])
        .ok()
        .stdout_has(&format!("{addr6}\t"));
    skiff.run(&["rm", "-f", "server6"]).ok();
    let ipam = skiff.root().join("network/ipam/v6net.json");
    let left = std::fs::read_to_string(&ipam).unwrap_or_default();
    assert!(!left.contains(&addr6), "the address is released: {left}");
    let other6 = random_subnet6();
    skiff.expect_failures(&[
        (
            vec![
                "network", "create", "--ipv6", "--subnet", &subnet6, "clash6",
            ],
            "overlaps network v6net",
        ),
        (
            vec![
                "network",
                "create",
                "--subnet",
                &other6,
                "--gateway",
                "fd43::1",
                "gw6",
            ],
            "IPv6 gateway fd43::1 is not a host address",
        ),
        (
            vec!["network", "create", "--subnet", "fd44::/40", "wide6"],
            "/48 to /120",
        ),
    ]);
    let ls = skiff.run(&["network", "ls", "-q"]);
    let mut names: Vec<&str> = ls.stdout.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["skiff", "v6net"], "nothing half-made");
    skiff.run(&["network", "rm", "v6net"]).ok();
}
