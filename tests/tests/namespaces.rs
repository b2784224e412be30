//! Namespaces: new ones, shared ones, joined ones, and what they look like inside.

use skiff_e2e::{
    ns_link, ns_report_script, parse_ns_report, sh_output, skip_skiff_checks, Bundle, NetNs,
    NS_KINDS,
};
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

/// Namespace links (`net:[...]`) of the container's process, by kind.
fn container_namespaces(name: &str, bundle: Bundle) -> BTreeMap<String, String> {
    parse_ns_report(&sh_output(name, bundle, &ns_report_script()))
}

fn host_namespace(kind: &str) -> String {
    ns_link(format!("/proc/self/ns/{kind}"))
}

#[test]
fn configured_namespaces_differ_from_host() {
    let inside = container_namespaces("ns-new", Bundle::new().namespace("cgroup", None));
    for kind in NS_KINDS {
        assert_ne!(
            inside[kind],
            host_namespace(kind),
            "{kind} namespace is the host's"
        );
    }
}

#[test]
fn namespace_left_out_is_shared_with_host() {
    let bundle = Bundle::new()
        .remove_namespace("network")
        .remove_namespace("ipc");
    let inside = container_namespaces("ns-shared", bundle);
    assert_eq!(inside["net"], host_namespace("net"));
    assert_eq!(inside["ipc"], host_namespace("ipc"));
    assert_ne!(inside["mnt"], host_namespace("mnt"));
    assert_ne!(inside["pid"], host_namespace("pid"));
}

#[test]
fn namespace_path_is_joined() {
    let netns = NetNs::new(&format!("skiff-e2e-{}", std::process::id()));
    let inode = std::fs::metadata(netns.path()).expect("stat netns").ino();
    let bundle = Bundle::new().namespace("network", Some(&netns.path()));
    let inside = container_namespaces("ns-path", bundle);
    assert_eq!(inside["net"], format!("net:[{inode}]"));
}

#[test]
fn hostname_comes_from_config() {
    let out = sh_output("ns-hostname", Bundle::new().hostname("e2e-box"), "hostname");
    assert_eq!(out.trim(), "e2e-box");
}

#[test]
fn process_is_pid_1() {
    assert_eq!(sh_output("ns-pid1", Bundle::new(), "echo $$").trim(), "1");
}

#[test]
fn ps_shows_only_container_processes() {
    let out = sh_output("ns-ps", Bundle::new(), "sleep 100 & ps; kill $!");
    let pids: Vec<u32> = out
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(pids.len(), 3, "expected sh, sleep and ps only:\n{out}");
    assert!(pids.contains(&1), "pid 1 missing:\n{out}");
    assert!(pids.iter().all(|&p| p < 10), "host pids visible:\n{out}");
}

#[test]
fn new_network_namespace_has_only_loopback() {
    let out = sh_output("ns-lo", Bundle::new(), "cat /proc/net/dev");
    let links: Vec<&str> = out
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(links, ["lo"], "{out}");
}

#[test]
fn time_namespace_offsets_uptime() {
    if skip_skiff_checks() {
        return;
    }
    let ten_days = 86400 * 10;
    let host_uptime = read_uptime(&std::fs::read_to_string("/proc/uptime").expect("uptime"));
    let bundle = Bundle::new()
        .namespace("time", None)
        .edit(|v| v["linux"]["timeOffsets"] = serde_json::json!({"boottime": {"secs": ten_days}}));
    let inside = read_uptime(&sh_output("ns-time", bundle, "cat /proc/uptime"));
    assert!(
        inside >= host_uptime + ten_days as f64,
        "uptime inside {inside}, host {host_uptime}"
    );
}

fn read_uptime(text: &str) -> f64 {
    text.split_whitespace()
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad /proc/uptime: {text}"))
}
