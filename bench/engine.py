#!/usr/bin/env python3
"""Time short-lived containers through three engines, the memory of a detached
container's monitor, and what a bridge network costs.

usage: engine.py [-n ROUNDS] [--skiff PATH] [--tmpdir DIR] [--mib N]

1. `ENGINE run --rm --network none IMAGE true` for skiff, Podman (crun,
   conmon) and Docker (Debian's dockerd, started here), and `run --rm IMAGE
   true` on the default bridge network for skiff and Podman (netavark):
   wall time of each command, interleaved in a new random order every round;
   medians, minima, ratios to Podman, and the milliseconds a bridge adds.
2. The RSS (VmRSS, and RssAnon) of skiff's per-container monitor (the pid
   `monitor_pid` in ROOT/containers/ID/state.json) for `skiff run -d IMAGE
   sleep 1000`, against conmon's for `podman run -d IMAGE sleep 1000`.
3. TCP throughput container -> host over each engine's bridge: busybox
   `dd if=/dev/zero bs=1M count=N | nc GATEWAY PORT` in the container, a
   receiver in this process listening on the bridge's gateway address, timed
   from the first byte to the last; and the same `dd | nc` run by the host's
   busybox to 127.0.0.1, the sender's ceiling.

IMAGE is a busybox-static root filesystem (a symlink per applet) imported
with `skiff import`, `podman import` and `docker import`. Every engine keeps
its store under a directory made in --tmpdir (default /var/tmp): skiff's
--root, Podman's --root/--runroot/--tmpdir and a network of its own (its
default network, with a bridge and /24 subnet of the benchmark's), dockerd's
--data-root/--exec-root (no bridge, no iptables). On a hybrid cgroup host
(v1 controllers beside a cgroup2 mount holding controllers), which crun
refuses, everything runs in a private mount namespace without that cgroup2
mount. Containers are removed every round; at the end dockerd is stopped by
its pid, the stores are removed, leftover mounts under the directory
unmounted and the cgroups the engines made (that were not there before)
removed.
"""
import argparse
import io
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

from hostenv import hide_hybrid_cgroup2, loadavg

IMAGE = "skiff-bench-busybox"
DOCKER = "/usr/bin/docker"
CGROUP_V1 = "/sys/fs/cgroup"
ENGINE_CGROUPS = ["libpod_parent", "docker"]


def busybox_tar(path):
    """A busybox-static root filesystem tarball, owned by root."""
    def add(tar, name, data=None, kind=tarfile.REGTYPE, link="", mode=0o644):
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = kind, link, mode
        info.size = len(data) if data is not None else 0
        tar.addfile(info, io.BytesIO(data) if data is not None else None)

    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    with tarfile.open(path, "w") as tar:
        for d in ["bin", "etc", "proc", "sys", "dev", "root", "tmp", "var"]:
            add(tar, d, kind=tarfile.DIRTYPE, mode=0o1777 if d == "tmp" else 0o755)
        add(tar, "bin/busybox", open("/bin/busybox", "rb").read(), mode=0o755)
        for applet in applets:
            if applet != "busybox":
                add(tar, f"bin/{applet}", kind=tarfile.SYMTYPE, link="busybox")
        add(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        add(tar, "etc/group", b"root:x:0:\n")


def check(argv, env=None):
    """Runs a command that must succeed; returns its stdout."""
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def timed(argv, env=None):
    """Wall time in ms of one command, which must succeed."""
    start = time.perf_counter()
    check(argv, env)
    return (time.perf_counter() - start) * 1000


class Engine:
    """One engine's command line: argv prefix and environment."""

    def __init__(self, name, prefix, env):
        self.name, self.prefix, self.env = name, prefix, env

    def argv(self, *args):
        return [*self.prefix, *args]

    def run(self, *args):
        return check(self.argv(*args), self.env)

    def time(self, *args):
        return timed(self.argv(*args), self.env)


def skiff_engine(skiff, d):
    env = {**os.environ, "SKIFF_DNS_UPSTREAM": "127.0.0.1:9"}
    return Engine("skiff", [skiff, "--root", f"{d}/root", "--runroot", f"{d}/run"], env)


def free_subnet():
    """A 10.87.X.0/24 no host route overlaps: (prefix "10.87.X", subnet)."""
    routes = check(["ip", "-4", "route", "show", "table", "all"])
    for x in random.sample(range(1, 255), 254):
        prefix = f"10.87.{x}"
        if f"{prefix}." not in routes and "10.87.0.0/16" not in routes:
            return prefix
    raise SystemExit("no free 10.87.X.0/24")


def podman_engine(d):
    """Podman with crun, a store of its own and, as its default network, a
    bridge of the benchmark's; returns (engine, gateway address)."""
    for sub in ["networks", "tmp", "libpod-tmp", "crun"]:
        os.makedirs(f"{d}/{sub}")
    prefix = free_subnet()
    name = f"skbench{os.getpid()}"
    network = {"name": name, "id": f"{os.getpid():064x}", "driver": "bridge",
               "network_interface": f"skb{os.getpid()}", "created": "2024-01-01T00:00:00Z",
               "subnets": [{"subnet": f"{prefix}.0/24", "gateway": f"{prefix}.1"}],
               "ipv6_enabled": False, "internal": False, "dns_enabled": False,
               "ipam_options": {"driver": "host-local"}}
    json.dump(network, open(f"{d}/networks/{name}.json", "w"))
    with open(f"{d}/containers.conf", "w") as out:
        out.write(f'[containers]\ndefault_ulimits = []\n'
                  f'[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = "{d}/networks"\n'
                  f'default_network = "{name}"\n[engine]\ntmp_dir = "{d}/libpod-tmp"\n'
                  f'static_dir = "{d}/root/libpod"\nvolume_path = "{d}/root/volumes"\n')
    with open(f"{d}/storage.conf", "w") as out:
        out.write(f'[storage]\ndriver = "overlay"\ngraphroot = "{d}/root"\nrunroot = "{d}/run"\n')
    env = {**os.environ, "CONTAINERS_CONF": f"{d}/containers.conf",
           "CONTAINERS_STORAGE_CONF": f"{d}/storage.conf", "TMPDIR": f"{d}/tmp"}
    prefix_argv = ["podman", "--root", f"{d}/root", "--runroot", f"{d}/run",
                   "--tmpdir", f"{d}/libpod-tmp", "--runtime", "crun",
                   "--runtime-flag", f"root={d}/crun", "--cgroup-manager", "cgroupfs",
                   "--events-backend", "none", "--storage-driver", "overlay"]
    return Engine("podman", prefix_argv, env), f"{prefix}.1"


def start_dockerd(d):
    """dockerd with its own roots, no bridge and no iptables; returns (process, engine)."""
    os.makedirs(f"{d}/cli")
    sock = f"/tmp/skiff-bench-docker-{os.getpid()}.sock"
    with open(f"{d}/daemon.json", "w") as out:
        out.write("{}\n")
    log = open(f"{d}/dockerd.log", "w")
    proc = subprocess.Popen(
        ["dockerd", f"--data-root={d}/data", f"--exec-root={d}/x", f"--pidfile={d}/docker.pid",
         f"--config-file={d}/daemon.json", f"-H=unix://{sock}", "--bridge=none",
         "--iptables=false", "--ip-forward=false", "--ip-masq=false",
         "--exec-opt=native.cgroupdriver=cgroupfs"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    engine = Engine("docker", [DOCKER, "-H", f"unix://{sock}"], {**os.environ, "DOCKER_CONFIG": f"{d}/cli"})
    for _ in range(300):
        if proc.poll() is not None:
            break
        if subprocess.run(engine.argv("version"), env=engine.env, capture_output=True).returncode == 0:
            return proc, engine
        time.sleep(0.1)
    stop(proc)
    raise SystemExit(f"dockerd did not start: {open(log.name).read()[-2000:]}")


def stop(proc):
    """Stops a process this script started, by its pid."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def remove_all(engine):
    ids = engine.run("ps", "-aq").split()
    if ids:
        engine.run("rm", "-f", *ids)


def unmount_under(path):
    """Unmounts every mount below `path`, deepest first."""
    prefix = os.path.realpath(path) + "/"
    points = [line.split()[4] for line in open("/proc/self/mountinfo")]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)


def cgroups_present():
    return {os.path.join(CGROUP_V1, h, name) for h in os.listdir(CGROUP_V1)
            for name in ENGINE_CGROUPS if os.path.isdir(os.path.join(CGROUP_V1, h, name))}


def remove_new_cgroups(before):
    """Removes (empty, deepest first) the engines' cgroups that were not there before."""
    for top in cgroups_present() - before:
        for dirpath, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
            try:
                os.rmdir(dirpath)
            except OSError:
                pass


def run_cases(engines):
    """The timed commands: (label, engine, args)."""
    skiff, podman, docker = engines
    return [("skiff --network none", skiff, ["run", "--rm", "--network", "none", IMAGE, "true"]),
            ("podman --network none", podman, ["run", "--rm", "--network", "none", IMAGE, "true"]),
            ("docker --network none", docker, ["run", "--rm", "--network", "none", IMAGE, "true"]),
            ("skiff bridge", skiff, ["run", "--rm", IMAGE, "true"]),
            ("podman bridge", podman, ["run", "--rm", IMAGE, "true"])]


def time_runs(cases, rounds):
    times = {label: [] for label, _, _ in cases}
    for label, engine, args in cases:
        engine.time(*args)
    for _ in range(rounds):
        order = cases[:]
        random.shuffle(order)
        for label, engine, args in order:
            times[label].append(engine.time(*args))
    return times


def status_kib(pid, field):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise SystemExit(f"/proc/{pid}/status has no {field}")


def monitor_pids(skiff, podman, skiff_root):
    """Detached sleepers on each engine's default network; their monitors' pids."""
    sid = skiff.run("run", "-d", IMAGE, "sleep", "1000").split()[-1]
    state = json.load(open(f"{skiff_root}/containers/{sid}/state.json"))
    pid = podman.run("run", "-d", IMAGE, "sleep", "1000").split()[-1]
    conmon = podman.run("inspect", "--format", "{{.State.ConmonPid}}", pid).strip()
    return {"skiff monitor": state["monitor_pid"], "conmon": int(conmon)}


def memory(skiff, podman, skiff_root, samples):
    """VmRSS and RssAnon in KiB of each monitor, a fresh pair of sleepers per sample."""
    rss = {"skiff monitor": [], "conmon": []}
    for _ in range(samples):
        pids = monitor_pids(skiff, podman, skiff_root)
        time.sleep(1)
        for name, pid in pids.items():
            rss[name].append((status_kib(pid, "VmRSS"), status_kib(pid, "RssAnon")))
        remove_all(skiff)
        remove_all(podman)
    return rss


def receive(listener, want, result):
    """Accepts one connection, reads `want` bytes; result gets (bytes, seconds)."""
    conn, _ = listener.accept()
    buf = bytearray(1 << 20)
    got = conn.recv_into(buf)
    start = time.perf_counter()
    while 0 < got < want:
        n = conn.recv_into(buf)
        if n == 0:
            break
        got += n
    result.append((got, time.perf_counter() - start))
    conn.close()


def throughput(argv, env, gateway, mib):
    """MB/s of `argv + [script]` (a container, or busybox sh on the host) sending
    `mib` MiB of zeros to `gateway`."""
    with socket.socket() as listener:
        listener.bind((gateway, 0))
        listener.listen(1)
        listener.settimeout(60)
        port = listener.getsockname()[1]
        result = []
        receiver = threading.Thread(target=receive, args=(listener, mib << 20, result))
        receiver.start()
        check(argv + [f"dd if=/dev/zero bs=1M count={mib} 2>/dev/null | nc {gateway} {port}"], env)
        receiver.join()
    got, secs = result[0]
    if got < mib << 20:
        raise SystemExit(f"{argv[0]}: received {got} of {mib << 20} bytes")
    return got / 1e6 / secs


def skiff_gateway(skiff):
    doc = json.loads(skiff.run("network", "inspect", "skiff"))
    return doc[0]["gateway"]


def network_throughput(skiff, podman, podman_gateway, mib, samples):
    """Throughput per engine, interleaved, with a sleeper keeping each bridge up; and
    the same sender on the host to 127.0.0.1 (what busybox dd | nc manage at most)."""
    skiff.run("run", "-d", IMAGE, "sleep", "1000")
    podman.run("run", "-d", IMAGE, "sleep", "1000")
    run = ["run", "--rm", IMAGE, "sh", "-c"]
    gateways = {"skiff": (skiff.argv(*run), skiff.env, skiff_gateway(skiff)),
                "podman": (podman.argv(*run), podman.env, podman_gateway),
                "host loopback, no container": (["/bin/busybox", "sh", "-c"], None, "127.0.0.1")}
    rates = {name: [] for name in gateways}
    for _ in range(samples):
        for name in random.sample(list(gateways), len(gateways)):
            rates[name].append(throughput(*gateways[name], mib))
    remove_all(skiff)
    remove_all(podman)
    return rates


def versions(skiff, podman):
    return {"skiff": check([skiff.prefix[0], "--version"]).strip(),
            "podman": check(["podman", "--version"]).strip(),
            "crun": check(["crun", "--version"]).split("\n")[0],
            "netavark": check(["/usr/lib/podman/netavark", "--version"]).strip(),
            "docker": check([DOCKER, "--version"]).strip(),
            "conmon": check(["conmon", "--version"]).split("\n")[0]}


def report_runs(times, rounds):
    med = {label: statistics.median(t) for label, t in times.items()}
    print(f"INFO {rounds} rounds")
    print(f"{'command':<24} {'median ms':>10} {'min ms':>8} {'/ podman':>9}")
    for label, t in times.items():
        base = med["podman " + label.split(" ", 1)[1]]
        print(f"{label:<24} {med[label]:>10.1f} {min(t):>8.1f} {med[label] / base:>9.3f}")
    ratio = med["skiff --network none"] / med["podman --network none"]
    print(f"RATIO skiff / podman (--network none): {ratio:.3f} (target <= 0.1)")
    print(f"RATIO skiff / docker (--network none): "
          f"{med['skiff --network none'] / med['docker --network none']:.3f}")
    for tool in ["skiff", "podman"]:
        added = med[f"{tool} bridge"] - med[f"{tool} --network none"]
        paired = statistics.median(b - n for b, n in zip(times[f"{tool} bridge"],
                                                          times[f"{tool} --network none"]))
        print(f"BRIDGE {tool}: +{added:.1f} ms (difference of medians), "
              f"+{paired:.1f} ms (median of per-round differences) (target < 5)")


def report_resources(rss, rates):
    for name, samples in rss.items():
        print(f"MEMORY {name}: VmRSS {statistics.median(s[0] for s in samples)} KiB, "
              f"RssAnon {statistics.median(s[1] for s in samples)} KiB "
              f"(samples {[s[0] for s in samples]})")
    vmrss = {name: statistics.median(s[0] for s in samples) for name, samples in rss.items()}
    print(f"RATIO skiff monitor / conmon (VmRSS): "
          f"{vmrss['skiff monitor'] / vmrss['conmon']:.2f} (target <= 1)")
    for name, r in rates.items():
        print(f"THROUGHPUT {name}: median {statistics.median(r):.0f} MB/s, "
              f"max {max(r):.0f} MB/s ({len(r)} transfers)")


def measure(engines, podman_gateway, work, args):
    """Imports the image into every engine, then takes and prints all three measurements."""
    skiff, podman, _ = engines
    for engine in engines:
        engine.run("import", f"{work}/rootfs.tar", IMAGE)
    print(f"INFO {versions(skiff, podman)}")
    times = time_runs(run_cases(engines), args.n)
    print(f"INFO load average after runs: {loadavg()}")
    rss = memory(skiff, podman, f"{work}/skiff/root", 5)
    rates = network_throughput(skiff, podman, podman_gateway, args.mib, 5)
    report_runs(times, args.n)
    report_resources(rss, rates)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    ap.add_argument("--skiff", default="target/release/skiff")
    ap.add_argument("--tmpdir", default="/var/tmp")
    ap.add_argument("--mib", type=int, default=500, help="MiB per throughput transfer")
    args = ap.parse_args()
    skiff_bin = os.path.abspath(args.skiff)
    for prog in [skiff_bin, "podman", "crun", "dockerd", DOCKER, "/usr/lib/podman/netavark"]:
        if not shutil.which(prog):
            raise SystemExit(f"{prog} is missing (make deps; cargo build --release -p skiff)")
    hide_hybrid_cgroup2()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"INFO load average at start: {loadavg()}")
    cgroups_before = cgroups_present()
    work = tempfile.mkdtemp(prefix="skbench-", dir=args.tmpdir)
    engines, dockerd = [], None
    try:
        busybox_tar(f"{work}/rootfs.tar")
        skiff = skiff_engine(skiff_bin, f"{work}/skiff")
        podman, podman_gateway = podman_engine(f"{work}/podman")
        dockerd, docker = start_dockerd(f"{work}/docker")
        engines = [skiff, podman, docker]
        measure(engines, podman_gateway, work, args)
    finally:
        cleanup(work, engines, dockerd, cgroups_before)
    print(f"INFO load average at end: {loadavg()}")


def cleanup(work, engines, dockerd, cgroups_before):
    """Containers, skiff's networks, dockerd (by pid), mounts, the directory, cgroups."""
    for engine in engines:
        try:
            remove_all(engine)
        except SystemExit as e:
            print(f"WARN {e}", file=sys.stderr)
    if engines:
        subprocess.run(engines[0].argv("network", "rm", "skiff"), env=engines[0].env,
                       capture_output=True)
    if dockerd:
        stop(dockerd)
    unmount_under(work)
    shutil.rmtree(work, ignore_errors=True)
    remove_new_cgroups(cgroups_before)


if __name__ == "__main__":
    sys.exit(main())
