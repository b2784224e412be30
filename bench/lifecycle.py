#!/usr/bin/env python3
"""Time `RUNTIME run` of /bin/true in a busybox bundle, the same as separate
create, start, wait (`state` polled until stopped) and delete commands, and
`RUNTIME exec` of /bin/true into a running container, for several runtimes interleaved in
shuffled order; print medians, peak RSS, and ratios to the first runtime and
to the floor (`unshare` with the same namespaces running /bin/true).

usage: lifecycle.py [-n RUNS] RUNTIME [RUNTIME...]

Each runtime gets its own bundle (made with scripts/mkbundle.sh and the
runtime's own `spec`, forced to ociVersion 1.0.2 so that every runtime reads it)
and its own --root on /run. This process is a child subreaper, so nothing is
left behind if a runtime leaves a process. On a hybrid cgroup host (v1
controllers beside a cgroup2 mount holding controllers), which crun refuses,
the benchmark runs in a private mount namespace without that cgroup2 mount,
the same for every runtime.
"""
import argparse
import ctypes
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from hostenv import hide_hybrid_cgroup2

PR_SET_CHILD_SUBREAPER = 36
HERE = os.path.dirname(os.path.abspath(__file__))
MKBUNDLE = os.path.join(HERE, "..", "scripts", "mkbundle.sh")


def make_bundle(runtime, path):
    subprocess.run([MKBUNDLE, runtime, path, "/bin/true"], check=True, stdout=subprocess.DEVNULL)
    config = os.path.join(path, "config.json")
    spec = json.load(open(config))
    spec["ociVersion"] = "1.0.2"
    json.dump(spec, open(config, "w"))


def timed(argv):
    """Wall time in ms of one command, which must succeed."""
    start = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter() - start) * 1000
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {r.stderr.decode().strip()}")
    return elapsed


def peak_rss(runtime, root, bundle):
    """Peak RSS in KiB of `create` (the runtime alone: it waits for no child)."""
    cid = f"bench-rss-{os.getpid()}"
    # A file, not a pipe: the container's init keeps the runtime's stderr open.
    with tempfile.TemporaryFile() as err:
        subprocess.run(["/usr/bin/time", "-f", "%M", runtime, "--root", root, "create",
                        "--bundle", bundle, cid], stdout=subprocess.DEVNULL, stderr=err,
                       check=True)
        subprocess.run([runtime, "--root", root, "delete", "--force", cid], check=True)
        err.seek(0)
        return int(err.read().decode().split()[-1])


def one_run(runtime, root, bundle, n):
    return timed([runtime, "--root", root, "run", "--bundle", bundle, f"bench-{os.getpid()}-{n}"])


def one_steps(runtime, root, bundle, n):
    """create, start, wait and delete as separate commands, as an engine
    driving the runtime's CLI does; the wait polls `state`. No output is a
    pipe: init inherits the runtime's descriptors."""
    cid = f"bench-steps-{os.getpid()}-{n}"
    base = [runtime, "--root", root]
    start = time.perf_counter()
    for step in (["create", "--bundle", bundle, cid], ["start", cid]):
        quiet(base + step)
    while json.loads(quiet(base + ["state", cid], capture=True))["status"] != "stopped":
        pass
    quiet(base + ["delete", cid])
    return (time.perf_counter() - start) * 1000


def quiet(argv, capture=False):
    """Run one command that must succeed; its stdout when `capture`."""
    r = subprocess.run(argv, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed with status {r.returncode}")
    return r.stdout


def one_exec(runtime, root, cid):
    return timed([runtime, "--root", root, "exec", cid, "/bin/true"])


FLOOR = ["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--fork", "--cgroup", "/bin/true"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("runtimes", nargs="+")
    args = ap.parse_args()
    hide_hybrid_cgroup2()
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    work = tempfile.mkdtemp(prefix="skiff-bench-", dir="/run")
    try:
        runtimes = [os.path.abspath(r) if os.sep in r else shutil.which(r) or r for r in args.runtimes]
        setup = {}
        for i, rt in enumerate(runtimes):
            bundle, root = os.path.join(work, f"b{i}"), os.path.join(work, f"r{i}")
            make_bundle(rt, bundle)
            one_run(rt, root, bundle, "warm")
            setup[rt] = (root, bundle)
        runs = {rt: [] for rt in runtimes + ["floor"]}
        steps = {rt: [] for rt in runtimes}
        rss = {rt: [] for rt in runtimes}
        for n in range(args.n):
            order = runtimes + ["floor"] + [("steps", rt) for rt in runtimes]
            random.shuffle(order)
            for rt in order:
                if rt == "floor":
                    runs[rt].append(timed(FLOOR))
                elif isinstance(rt, tuple):
                    steps[rt[1]].append(one_steps(rt[1], *setup[rt[1]], n))
                else:
                    runs[rt].append(one_run(rt, *setup[rt], n))
        for rt in runtimes:
            rss[rt] = [peak_rss(rt, *setup[rt]) for _ in range(5)]
        execs = exec_times(runtimes, setup, args.n)
        report(runtimes, runs, steps, rss, execs, args.n)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def exec_times(runtimes, setup, n):
    """Median-able exec times, interleaved, each runtime into its own sleeping container."""
    cids = {}
    for rt in runtimes:
        root, bundle = setup[rt]
        sleeper = bundle + "-sleep"
        shutil.copytree(bundle, sleeper, symlinks=True)
        config = os.path.join(sleeper, "config.json")
        spec = json.load(open(config))
        spec["process"]["args"] = ["sleep", "1000"]
        json.dump(spec, open(config, "w"))
        cid = f"bench-exec-{os.getpid()}"
        subprocess.run([rt, "--root", root, "run", "--detach", "--bundle", sleeper, cid], check=True)
        cids[rt] = cid
    times = {rt: [] for rt in runtimes}
    try:
        for _ in range(n):
            order = runtimes[:]
            random.shuffle(order)
            for rt in order:
                times[rt].append(one_exec(rt, setup[rt][0], cids[rt]))
    finally:
        for rt in runtimes:
            subprocess.run([rt, "--root", setup[rt][0], "delete", "--force", cids[rt]],
                           stderr=subprocess.DEVNULL)
    return times


def report(runtimes, runs, steps, rss, execs, n):
    med = {rt: statistics.median(v) for rt, v in runs.items()}
    smed = {rt: statistics.median(v) for rt, v in steps.items()}
    emed = {rt: statistics.median(v) for rt, v in execs.items()}
    print(f"INFO load average: {open('/proc/loadavg').read().split()[:3]}, {n} rounds")
    print(f"RESULT floor (unshare, same namespaces, /bin/true): median {med['floor']:.2f} ms")
    for rt in runtimes:
        print(f"RESULT {rt}: run median {med[rt]:.2f} ms, create+start+wait+delete median "
              f"{smed[rt]:.2f} ms, exec median {emed[rt]:.2f} ms, "
              f"create peak RSS {statistics.median(rss[rt]) / 1024:.1f} MiB")
    first = runtimes[0]
    print(f"RATIO {first} run / floor: {med[first] / med['floor']:.2f}")
    for rt in runtimes[1:]:
        print(f"RATIO {first} / {rt}: run {med[first] / med[rt]:.2f}, "
              f"create+start+wait+delete {smed[first] / smed[rt]:.2f}, "
              f"exec {emed[first] / emed[rt]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
