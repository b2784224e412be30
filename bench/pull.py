#!/usr/bin/env python3
"""Time pulling a generated 3-layer image (about 100 MB uncompressed, gzip
layers) from a local registry into an empty store: skiff against
`podman pull` and against `skopeo copy` + `umoci unpack` (timed as one).
Print medians, minima, ratios to skiff and throughput (uncompressed layer
bytes / wall time, MB/s).

usage: pull.py [-n ROUNDS] [--skiff PATH] [--tmpdir DIR]

The image is an OCI layout made here: a busybox-static root filesystem, a
layer of a few thousand small files and a layer of four large files of
pseudo-random but compressible bytes (the same bytes every time). Debian's
docker-registry serves it on a free 127.0.0.1 port, pushed there by skopeo.
Tools are interleaved in a new random order every round, each into a fresh
store that is removed afterwards (after unmounting whatever podman left
mounted in it). One untimed pull per tool comes first, so the page cache
holds the registry's blobs and the tools' binaries for all alike. The
registry is killed by its pid at the end, also on error or Ctrl-C.
Everything (registry storage, stores) lives in a directory made under
--tmpdir (default /var/tmp).
"""
import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

from hostenv import loadavg

REGISTRY = "/usr/bin/docker-registry"
MTIME = 1700000000
# Bytes drawn through this table look like text: a few letters are common.
TEXT = bytes("eeeeeeeetttttaaaaoooiiinnnsssrrhhlldcumfpgwybvkx     \n\n__--..//", "ascii")
TABLE = (TEXT * (256 // len(TEXT) + 1))[:256]
# No proxy for anyone: every request goes to the loopback registry.
ENV = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}


def text_bytes(rng, n):
    """n bytes that gzip to about a third: text-like 4 KiB blocks, half of
    them repeating one of the previous few (within deflate's window)."""
    blocks = []
    while len(blocks) * 4096 < n:
        if len(blocks) > 6 and rng.random() < 0.5:
            blocks.append(blocks[-rng.randint(1, 6)])
        else:
            blocks.append(rng.randbytes(4096).translate(TABLE))
    return b"".join(blocks)[:n]


def add(tar, name, data=None, kind=tarfile.REGTYPE, link="", mode=0o644):
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mtime = kind, link, MTIME
    info.mode = 0o755 if kind == tarfile.DIRTYPE else mode
    info.size = len(data) if data is not None else 0
    tar.addfile(info, io.BytesIO(data) if data is not None else None)


def layer(fill):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        fill(tar)
    return buf.getvalue()


def busybox_layer(tar):
    for d in ["bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "tmp", "root", "var"]:
        add(tar, d, kind=tarfile.DIRTYPE)
    add(tar, "bin/busybox", open("/bin/busybox", "rb").read(), mode=0o755)
    applets = subprocess.run(["/bin/busybox", "--list-full"], capture_output=True,
                             text=True, check=True).stdout.split()
    for path in applets:
        if path != "bin/busybox":
            add(tar, path, kind=tarfile.SYMTYPE, link="/bin/busybox")
    add(tar, "etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")


def small_files_layer(tar, rng):
    add(tar, "usr/share", kind=tarfile.DIRTYPE)
    for d in range(50):
        add(tar, f"usr/share/d{d:02}", kind=tarfile.DIRTYPE)
        for f in range(100):
            add(tar, f"usr/share/d{d:02}/f{f:03}.txt", text_bytes(rng, rng.randint(64, 8192)))


def large_files_layer(tar, rng):
    add(tar, "opt", kind=tarfile.DIRTYPE)
    for f in range(4):
        add(tar, f"opt/data{f}.bin", text_bytes(rng, 18_500_000))


def put_blob(layout, data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as out:
        out.write(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def make_image(layout):
    """Writes the OCI layout; returns the layers' uncompressed size in bytes."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    rng = random.Random(42)
    tars = [layer(busybox_layer), layer(lambda t: small_files_layer(t, rng)),
            layer(lambda t: large_files_layer(t, rng))]
    layers = [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
               **put_blob(layout, gzip.compress(t, compresslevel=6, mtime=0))} for t in tars]
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    config = {"architecture": arch, "os": "linux", "created": "2024-01-01T00:00:00Z",
              "config": {"Cmd": ["/bin/sh"]},
              "rootfs": {"type": "layers",
                         "diff_ids": [f"sha256:{hashlib.sha256(t).hexdigest()}" for t in tars]}}
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **put_blob(layout, json.dumps(config).encode())},
                "layers": layers}
    index = {"schemaVersion": 2, "manifests": [
        {"mediaType": manifest["mediaType"], **put_blob(layout, json.dumps(manifest).encode()),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    json.dump(index, open(os.path.join(layout, "index.json"), "w"))
    json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(layout, "oci-layout"), "w"))
    print(f"INFO image: layers of {[len(t) for t in tars]} bytes, "
          f"gzip {[entry['size'] for entry in layers]}")
    return sum(len(t) for t in tars)


def start_registry(dir):
    """Starts docker-registry on a free loopback port; returns (process, port)."""
    for _ in range(3):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = os.path.join(dir, "config.yml")
        with open(config, "w") as out:
            out.write(f"version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                      f"storage:\n  filesystem:\n    rootdirectory: {dir}/storage\n"
                      f"http:\n  addr: 127.0.0.1:{port}\n  secret: skiff-bench\n")
        log = open(os.path.join(dir, "registry.log"), "w")
        proc = subprocess.Popen([REGISTRY, "serve", config], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=ENV)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for _ in range(200):
            if proc.poll() is not None:
                break
            try:
                opener.open(f"http://127.0.0.1:{port}/v2/", timeout=1)
                return proc, port
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    raise SystemExit(f"docker-registry did not start: {open(log.name).read()}")


def unmount_under(path):
    """Unmounts every mount below `path` (what podman's overlay driver leaves), deepest first."""
    prefix = os.path.realpath(path) + "/"
    points = [line.split()[4] for line in open("/proc/self/mountinfo")]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", point], check=True)


def run_once(argvs, dir):
    """Wall time in s of the commands (one after the other) in a fresh `dir`."""
    os.makedirs(dir)
    try:
        start = time.perf_counter()
        for argv in argvs:
            r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, env=ENV)
            if r.returncode != 0:
                raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.decode().strip()}")
        return time.perf_counter() - start
    finally:
        unmount_under(dir)
        shutil.rmtree(dir)


def tools(skiff, ref):
    """Each tool's commands, given its fresh directory."""
    def skiff_pull(d):
        return [[skiff, "--root", d, "--authfile", f"{d}/auth.json",
                 "--registries-conf", f"{d}/registries.json", "pull", "-q", ref]]

    def podman_pull(d):
        return [["podman", "--root", f"{d}/root", "--runroot", f"{d}/run", "--tmpdir", f"{d}/tmp",
                 "--storage-driver", "overlay", "--events-backend", "none",
                 "pull", "-q", "--tls-verify=false", ref]]

    def skopeo_umoci(d):
        return [["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}",
                 f"oci:{d}/oci:bench"],
                ["umoci", "unpack", "--image", f"{d}/oci:bench", f"{d}/bundle"]]
    return {"skiff": skiff_pull, "podman": podman_pull, "skopeo+umoci": skopeo_umoci}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--skiff", default="target/release/skiff")
    ap.add_argument("--tmpdir", default="/var/tmp")
    args = ap.parse_args()
    skiff = os.path.abspath(args.skiff)
    for prog in [skiff, REGISTRY, "skopeo", "podman", "umoci"]:
        if not shutil.which(prog):
            raise SystemExit(f"{prog} is missing (make deps; cargo build --release -p skiff)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"INFO load average at start: {loadavg()}")
    work = tempfile.mkdtemp(prefix="skiff-bench-pull-", dir=args.tmpdir)
    registry = None
    try:
        size = make_image(os.path.join(work, "layout"))
        os.makedirs(os.path.join(work, "registry"))
        registry, port = start_registry(os.path.join(work, "registry"))
        ref = f"127.0.0.1:{port}/bench:1"
        subprocess.run(["skopeo", "copy", "-q", "--dest-tls-verify=false",
                        f"oci:{work}/layout:latest", f"docker://{ref}"], check=True, env=ENV)
        commands = tools(skiff, ref)
        for name, argvs in commands.items():
            run_once(argvs(f"{work}/warm"), f"{work}/warm")
        times = {name: [] for name in commands}
        for n in range(args.n):
            order = list(commands)
            random.shuffle(order)
            for name in order:
                d = f"{work}/{name}-{n}"
                times[name].append(run_once(commands[name](d), d))
        report(times, size, args.n)
    finally:
        if registry:
            registry.kill()
            registry.wait()
        unmount_under(work)
        shutil.rmtree(work)
    print(f"INFO load average at end: {loadavg()}")


def report(times, size, n):
    print(f"INFO {n} rounds, {size / 1e6:.1f} MB uncompressed")
    print(f"{'tool':<14} {'median s':>9} {'min s':>7} {'/ skiff':>8} {'MB/s':>7}")
    base = statistics.median(times["skiff"])
    for name, t in times.items():
        med = statistics.median(t)
        print(f"{name:<14} {med:>9.2f} {min(t):>7.2f} {med / base:>8.2f} {size / 1e6 / med:>7.1f}")
    print(f"RATIO skiff / podman: {base / statistics.median(times['podman']):.2f} (target <= 0.5)")


if __name__ == "__main__":
    sys.exit(main())
