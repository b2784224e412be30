#!/usr/bin/env python3
"""Time `RUNTIME run` of /bin/true in a busybox bundle, for several runtimes
interleaved in shuffled order, and print medians and ratios to the first.

usage: lifecycle.py [-n RUNS] RUNTIME [RUNTIME...]

Each runtime gets its own bundle (made with scripts/mkbundle.sh and the
runtime's own `spec`, forced to ociVersion 1.0.2 so that every runtime reads it)
and its own --root. This process is a child subreaper, so nothing is left
behind if a runtime leaves a process.
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

PR_SET_CHILD_SUBREAPER = 36
HERE = os.path.dirname(os.path.abspath(__file__))
MKBUNDLE = os.path.join(HERE, "..", "scripts", "mkbundle.sh")


def make_bundle(runtime, path):
    subprocess.run([MKBUNDLE, runtime, path, "/bin/true"], check=True, stdout=subprocess.DEVNULL)
    config = os.path.join(path, "config.json")
    spec = json.load(open(config))
    spec["ociVersion"] = "1.0.2"
    json.dump(spec, open(config, "w"))


def one_run(runtime, root, bundle, n):
    cid = f"bench-{os.getpid()}-{n}"
    start = time.perf_counter()
    r = subprocess.run([runtime, "--root", root, "run", "--bundle", bundle, cid],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{runtime} run failed: {r.stderr.decode().strip()}")
    return elapsed * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=50)
    ap.add_argument("runtimes", nargs="+")
    args = ap.parse_args()
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    work = tempfile.mkdtemp(prefix="skiff-bench-")
    try:
        runtimes = [os.path.abspath(r) if os.sep in r else shutil.which(r) or r for r in args.runtimes]
        setup = {}
        for i, rt in enumerate(runtimes):
            bundle, root = os.path.join(work, f"b{i}"), os.path.join(work, f"r{i}")
            make_bundle(rt, bundle)
            one_run(rt, root, bundle, "warm")
            setup[rt] = (root, bundle)
        times = {rt: [] for rt in runtimes}
        for n in range(args.n):
            order = runtimes[:]
            random.shuffle(order)
            for rt in order:
                times[rt].append(one_run(rt, *setup[rt], n))
        base = statistics.median(times[runtimes[0]])
        for rt in runtimes:
            med = statistics.median(times[rt])
            print(f"RESULT {rt}: median {med:.2f} ms over {args.n} runs (min {min(times[rt]):.2f})")
        for rt in runtimes[1:]:
            print(f"RATIO {runtimes[0]} / {rt}: {base / statistics.median(times[rt]):.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
