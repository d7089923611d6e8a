#!/usr/bin/env python3
"""capture_cost.py -- what packet capture costs srdd's message rate (not part of the tests).

Three daemons, in turns, on the set-up of bench.py (srdd busy-polling on CPU 0, the two
srd-perf apps on CPU 1 yielding; srd-perf rate, 64-byte messages, window 64):

  baseline  srdd and srd-perf built from --baseline REV (default: main), a tree without the
            capture hooks, exported (git archive) under the output folder
  off       this tree's srdd, no capture running: the claim is that it costs nothing
  on        this tree's srdd while `srdctl capture -s 128` writes everything to /dev/null

The runs interleave (baseline, off, on, baseline, ...) so that a change in the machine's
load hits all three alike.  It prints every run, the medians, the ratios off/baseline and
on/off, and the spread (min..max of the per-round ratios): on a shared 2-core machine the
spread says how far to trust the medians.

  sudo python3 tests/bench/capture_cost.py [--baseline REV] [--rounds N] [--seconds S]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (Daemon, perf, sh, log: the same set-up as the suite)
import release_build  # noqa: E402

ROOT = bench.ROOT


def build_baseline(rev, out):
    """srdd and srd-perf of rev, built in an exported tree (kept between runs), a release
    build as this tree's are (bench.build)."""
    sha = bench.sh(["git", "-C", ROOT, "rev-parse", rev]).stdout.strip()
    head = bench.sh(["git", "-C", ROOT, "rev-parse", "HEAD"]).stdout.strip()
    if sha == head:
        sys.exit(f"capture_cost: --baseline {rev} is this very commit; name one without the "
                 "capture hooks (e.g. the parent of the merge that brought them)")
    tree = os.path.join(out, f"baseline-{sha[:12]}")
    if not os.path.exists(tree):
        os.makedirs(tree)
        bench.sh(f"git -C {ROOT} archive {sha} | tar -x -C {tree}")
    build = os.path.join(tree, "build-release")
    release_build.ensure(tree, build, ["srdd", "srd-perf"], options=["-Dtests=false"])
    return (os.path.join(build, "apps/srdd/srdd"), os.path.join(build, "apps/srd-perf/srd-perf"),
            sha[:12])


def run(kind, binaries, work, seconds):
    """One srd-perf rate run on a fresh daemon of the given kind; returns M msgs/s."""
    bench.SRDD, bench.PERF = binaries
    d = bench.Daemon(work)
    cap = None
    try:
        if kind == "on":
            cap = subprocess.Popen([bench.SRDCTL, "-p", bench.PREFIX, "capture", "-q", "-s",
                                    "128", "/dev/null"], stderr=subprocess.PIPE, text=True)
            for _ in range(100):  # running once /srd/capture says so
                st = bench.sh([bench.SRDCTL, "-p", bench.PREFIX, "capture", "--status"],
                              check=False).stdout
                if "running" in st:
                    break
                time.sleep(0.05)
        runs = bench.perf(d, "rate", ["-s", "64", "-w", "64", "-D", str(seconds)], work,
                          f"cost-{kind}")
        status = ""
        if cap:
            cap.send_signal(2)
            cap.wait(30)
            status = bench.sh([bench.SRDCTL, "-p", bench.PREFIX, "capture", "--status"],
                              check=False).stdout.strip()
        return runs[0]["mmsgs"], status
    finally:
        if cap and cap.poll() is None:
            cap.kill()
        d.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", default="main", help="git revision without the hooks")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of the three runs")
    ap.add_argument("--seconds", type=int, default=3, help="length of each run")
    ap.add_argument("--out", default=os.path.join(bench.BUILD, "bench"))
    o = ap.parse_args()
    os.makedirs(o.out, exist_ok=True)
    bench.build()
    base_srdd, base_perf, sha = build_baseline(o.baseline, o.out)
    this = (os.path.join(bench.BUILD, "apps/srdd/srdd"),
            os.path.join(bench.BUILD, "apps/srd-perf/srd-perf"))
    work = tempfile.mkdtemp(prefix="srd-capcost-")
    try:
        measure(o, work, (base_srdd, base_perf), this, sha)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(o, work, base, this, sha):
    """The interleaved rounds, then the medians, ratios and spreads."""
    res = {"baseline": [], "off": [], "on": []}
    bench.log(f"# baseline {o.baseline} ({sha}); srd-perf rate -s 64 -w 64 -D {o.seconds}; "
              f"{o.rounds} rounds")
    for r in range(o.rounds):
        line = []
        for kind, binaries in (("baseline", base), ("off", this), ("on", this)):
            v, status = run(kind, binaries, work, o.seconds)
            res[kind].append(v)
            line.append(f"{kind} {v:.3f}")
            if status:
                line.append(f"({status.split(': ', 1)[-1]})")
        bench.log(f"round {r + 1}: " + "  ".join(line) + "  Mmsg/s")
    med = {k: statistics.median(v) for k, v in res.items()}
    off_base = [a / b for a, b in zip(res["off"], res["baseline"])]
    on_off = [a / b for a, b in zip(res["on"], res["off"])]
    bench.log(f"median Mmsg/s: baseline {med['baseline']:.3f}, off {med['off']:.3f}, "
              f"on {med['on']:.3f}")
    bench.log(f"capture off / baseline: {med['off'] / med['baseline']:.3f} (per round "
              f"{min(off_base):.3f}..{max(off_base):.3f})")
    bench.log(f"capture on / off:       {med['on'] / med['off']:.3f} (per round "
              f"{min(on_off):.3f}..{max(on_off):.3f})")


if __name__ == "__main__":
    main()
