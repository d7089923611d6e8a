#!/usr/bin/env python3
"""fabric.py -- the fabric-scale table of issue 13 from srd-sim runs (not part of the test
command: it takes about 10 minutes on 2 cores).

Every figure comes from `srd-sim --topo ... --json` (virtual time: deterministic), 3 seeds
per point unless --seeds says otherwise; the table shows the mean over seeds and the range.
The wall time of S1 and S2 is measured here (the only figures that are not virtual).

  python3 tests/bench/fabric.py [--seeds N] [--out DIR] [--only S1,S2,...] [--sim PATH]
                                [--before-rev REV] [--no-plots]

Sections: S1-S9 and speed (the issue's targets), then the protocol experiments of
deliverable 5 on the two-host fabric, each run with this tree's srd-sim and, with
--before-rev (e.g. 580cddb, the commit before issue 13), with srd-sim built from that
revision, side by side.  Writes results.json, table.md, fct_cdf.png and failover.png to
--out (default build-release/bench/fabric).  This tree's srd-sim is built with
--buildtype=release in build-release/ (the wall times are a release build's; --sim names
another binary).  The plots need matplotlib (python3-matplotlib; run
with /usr/bin/python3 if another python3 comes first on PATH).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fluid_hosts  # noqa: E402
import release_build  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build-release")  # the benchmarks' own release build
SIM = os.path.join(BUILD, "apps", "srd-sim", "srd-sim")

K8 = ["--topo", "fattree:8"]
K16 = ["--topo", "fattree:16"]
S3_EVENTS = ["--degrade", "core:0@0:0.25", "--fail", "core:5@100us"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(sim, args, seed=1, extra=None):
    """srd-sim args --seed seed --json: (parsed JSON, wall seconds)."""
    cmd = [sim] + args + ["--seed", str(seed), "--json"] + (extra or [])
    t0 = time.monotonic()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out), time.monotonic() - t0


def runs(sim, args, seeds):
    """The same run for seeds 1..seeds: list of JSON results and list of wall times."""
    res, wall = [], []
    for s in range(1, seeds + 1):
        r, w = run(sim, args, s)
        res.append(r)
        wall.append(w)
    return res, wall


def check_once(results, what, allow_failed=False):
    """Exactly once: nothing lost, duplicated or corrupted (failures only where allowed)."""
    for r in results:
        bad = r["duplicates"] or r["corrupted"] or r["lost"] or r["unfinished"]
        if bad or (not allow_failed and (r["failed"] or r["delivered"] != r["xfers"])):
            raise SystemExit(f"{what}: delivery not exactly once: {json.dumps(r)[:400]}")


def stat(values):
    """Mean and range of a list of numbers."""
    return statistics.mean(values), min(values), max(values)


def fmt(values, digits=2):
    m, lo, hi = stat(values)
    if len(values) == 1 or lo == hi:
        return f"{m:.{digits}f}"
    return f"{m:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


class Table:
    """Rows of the target table: scenario, figure, measured, reference, target, verdict."""

    def __init__(self):
        self.rows = []

    def add(self, scenario, figure, measured, reference, target, ok):
        verdict = "met" if ok else ("not met" if ok is not None else "-")
        self.rows.append((scenario, figure, measured, reference, target, verdict))
        log(f"  {scenario}: {figure} = {measured}  [{target}: {verdict}]")

    def markdown(self):
        out = ["| scenario | figure | measured: mean (range over seeds) | published reference "
               "| must reach | verdict |", "|---|---|---|---|---|---|"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(out) + "\n"


def s1(sim, seeds, table, data):
    args = K8 + ["--workload", "perm:2M"]
    for lb in ["ecmp", "spray:64", "spray:256", "srd"]:
        res, wall = runs(sim, args + ["--lb", lb], seeds)
        check_once(res, f"S1 {lb}")
        data[f"S1 {lb}"] = res
        mean = [r["fct_norm"]["mean"] for r in res]
        mx = [r["fct_norm"]["max"] for r in res]
        label = f"S1 k=8 perm 2 MB, {lb} ({res[0]['config']['entropies']} per conn)"
        if lb == "ecmp":
            table.add(label, "mean / max FCT / ideal", f"{fmt(mean)} / {fmt(mx)}",
                      "htsim 2.2 / 4.5; fluid 2.4 / 4.2", "2.0-2.7 / 3.8-5.2",
                      2.0 <= stat(mean)[0] <= 2.7 and 3.8 <= stat(mx)[0] <= 5.2)
        else:
            table.add(label, "mean / max FCT / ideal", f"{fmt(mean)} / {fmt(mx)}",
                      "UEC htsim 1.14 / 1.22", "<= 1.20 / <= 1.30",
                      max(mean) <= 1.20 and max(mx) <= 1.30)
        if lb == "srd":
            data["speed S1"] = wall


def s2(sim, seeds, table, data):
    args = K16 + ["--workload", "perm:2M"]
    got = {}
    for lb in ["ecmp", "srd"]:
        res, wall = runs(sim, args + ["--lb", lb], seeds)
        check_once(res, f"S2 {lb}")
        data[f"S2 {lb}"] = res
        got[lb] = [r["fct_norm"]["max"] for r in res]
        if lb == "srd":
            data["speed S2"] = wall
    table.add("S2 k=16 perm 2 MB (1024 hosts)", "max FCT / ideal, spray / ECMP",
              f"{fmt(got['srd'])} / {fmt(got['ecmp'])}", "UEC CI 1.20 / 5.3",
              "<= 1.25 / 4.5-6.1",
              max(got["srd"]) <= 1.25 and 4.5 <= stat(got["ecmp"])[0] <= 6.1)


def s3(sim, seeds, table, data):
    args = K8 + ["--workload", "perm:2M", "--lb", "srd"] + S3_EVENTS
    res, _ = runs(sim, args, seeds)
    check_once(res, "S3")
    data["S3 srd"] = res
    mx = [r["fct_norm"]["max"] for r in res]
    fo = [r["failover"][0]["failover_us"] for r in res]
    fod = [r["failover"][0]["failover_data_us"] for r in res]
    lost = sum(r["lost"] + r["duplicates"] + r["xfers"] - r["delivered"] for r in res)
    table.add("S3 S1 + core link at 25%, another down at 100 us (srd)",
              "max FCT / ideal; until no packet (data packet) is sent into the dead link; "
              "lost or duplicated",
              f"{fmt(mx)}; {fmt(fo, 0)} us ({fmt(fod, 0)} us); {lost}",
              "REPS 1.24; < 100 us", "<= 1.30; <= 100 us; 0",
              max(mx) <= 1.30 and max(fo) <= 100 and lost == 0)


def s5(sim, seeds, table, data):
    args = K8 + ["--workload", "allreduce:128:250K"]
    t = {}
    for lb in ["ecmp", "srd"]:
        res, _ = runs(sim, args + ["--lb", lb], seeds)
        check_once(res, f"S5 {lb}")
        data[f"S5 {lb}"] = res
        t[lb] = [r["completion_us"] for r in res]
    ratio = [e / s for e, s in zip(t["ecmp"], t["srd"])]
    table.add("S5 ring AllReduce, 128 ranks, 250 KB per step, random placement",
              "completion ECMP / spray (completion us: ECMP; spray)",
              f"{fmt(ratio)} ({fmt(t['ecmp'], 0)}; {fmt(t['srd'], 0)})", "htsim 1.86x",
              ">= 1.8x", min(ratio) >= 1.8)


def s6(sim, seeds, table, data):
    args = K8 + ["--workload", "alltoall:128:250K:4", "--lb", "srd"]
    res, _ = runs(sim, args, seeds)
    check_once(res, "S6")
    data["S6 srd"] = res
    ratio = [r["completion_ratio"] for r in res]
    table.add("S6 all-to-all, 128 ranks, 250 KB per pair, 4 in flight (srd)",
              "completion / ((n-1) S / B)", fmt(ratio), "htsim 1.57x", "<= 1.6x",
              max(ratio) <= 1.6)


def s7(sim, seeds, table, data):
    for topo, n in [(K8, 16), (K16, 128)]:
        res, _ = runs(sim, topo + ["--workload", f"incast:{n}:2M", "--lb", "srd"], seeds)
        check_once(res, f"S7 {n}")
        data[f"S7 {n}"] = res
        ratio = [r["completion_ratio"] for r in res]
        rto = [r["rto_events"] for r in res]
        table.add(f"S7 incast {n}->1, 2 MB each", "last FCT / (N S / C); timeouts",
                  f"{fmt(ratio, 3)}; {fmt(rto, 0)}", "UEC NSCC 1.03",
                  "<= 1.05, no timeout collapse", max(ratio) <= 1.05)


def s8(sim, seeds, table, data):
    res, _ = runs(sim, ["--topo", "leafspine:16x16:4", "--workload", "perm:2M", "--lb", "srd"],
                  seeds)
    check_once(res, "S8")
    data["S8 srd"] = res
    ratio = [r["fct_us"]["max"] / r["fct_us"]["min"] for r in res]
    table.add("S8 leaf-spine 16x16, 4:1 oversubscribed, perm 2 MB (srd)", "max / min FCT",
              fmt(ratio), "UEC 4.69 (bound 4)", "<= 4.8", max(ratio) <= 4.8)


def ideal_spray_p99(fct_csv):
    """The large flows' p99 slowdown of a run's transfers replayed in the fluid model with
    only the host links (fluid_hosts.py): the better of fair sharing and greedy
    shortest-remaining-first.  Spraying perfectly removes every switch link's contention
    and no more, so ECMP's p99 over this estimates the most a load balancer can gain (an
    estimate: the model is not a strict bound for a transfer queued behind another of its
    host pair, and the better of two schedules need not be the best p99)."""
    flows = fluid_hosts.load(fct_csv)
    large = [k for k, x in enumerate(flows) if x["bytes"] > 1_000_000]
    best = float("inf")
    for policy in ("fair", "srpt"):
        slow = fluid_hosts.replay([dict(x) for x in flows], policy)
        best = min(best, fluid_hosts.p99([slow[k] for k in large]))
    return best


def s9(sim, seeds, table, data):
    for load in ["0.5", "0.8"]:
        got, ideal = {}, []
        args = K8 + ["--workload", "websearch:2ms", "--load", load]
        got["ecmp"], _ = runs(sim, args + ["--lb", "ecmp"], seeds)
        got["srd"] = []
        with tempfile.TemporaryDirectory() as tmp:
            for s in range(1, seeds + 1):
                fct = os.path.join(tmp, f"fct{s}.csv")
                got["srd"].append(run(sim, args + ["--lb", "srd"], s, ["--fct", fct])[0])
                ideal.append(ideal_spray_p99(fct))
        for lb in ["ecmp", "srd"]:
            check_once(got[lb], f"S9 {load} {lb}")
            data[f"S9 {load} {lb}"] = got[lb]
        data[f"S9 {load} ideal spray p99"] = ideal
        large = [e["slowdown"]["large"]["p99"] / s["slowdown"]["large"]["p99"]
                 for e, s in zip(got["ecmp"], got["srd"])]
        bound = [e["slowdown"]["large"]["p99"] / i for e, i in zip(got["ecmp"], ideal)]
        small = [(s["slowdown"]["small"]["p99"], e["slowdown"]["small"]["p99"])
                 for e, s in zip(got["ecmp"], got["srd"])]
        table.add(f"S9 WebSearch at {float(load):.0%} load, k=8",
                  "p99 slowdown of flows > 1 MB, ECMP / spray; p99 slowdown of flows < 100 KB,"
                  " spray vs ECMP",
                  f"{fmt(large)}; {fmt([s for s, _ in small])} vs {fmt([e for _, e in small])}",
                  "-", ">= 2x; no worse than ECMP",
                  min(large) >= 2 and all(s <= e for s, e in small))
        table.add(f"S9 at {float(load):.0%}: what spraying could reach",
                  "ECMP's p99 over that of the same flows with every switch link infinite "
                  "(fluid model, host links only, fair or shortest-first, the better)",
                  f"{fmt(bound)} (spray's p99 over the model's: "
                  f"{fmt([s['slowdown']['large']['p99'] / i for s, i in zip(got['srd'], ideal)])})",
                  "-", "-", None)


def speed(table, data):
    for key, limit, ref in [("speed S1", 2, "0.5 s"), ("speed S2", 60, "15-19 s")]:
        if key in data:
            table.add(f"{key} (wall time, this machine, srd)", "seconds", fmt(data[key], 1),
                      f"a C++ packet-level simulator: {ref}", f"<= {limit} s",
                      max(data[key]) <= limit)


# ---- protocol experiments (deliverable 5), on the two-host fabric ----

def two_host(sim, args):
    """Two-host srd-sim run: goodput Gbit/s, ideal, path failures, retransmits, delivered."""
    out = subprocess.run([sim] + args + ["--json"], check=True, capture_output=True,
                         text=True).stdout
    return json.loads(out)


PROTOCOL = [
    # (item, label, args)
    ("window", "1 flow, 400 Gbit/s host, 8 x 100 Gbit/s paths, 10 us one way, 1 MiB x 400",
     ["--host-rate", "400G", "--path-rate", "100G", "--paths", "8", "--delay", "10us",
      "--msgs", "400", "--size", "1M", "--window", "16"]),
    ("window", "64 B message stream, same fabric, 4096 outstanding",
     ["--host-rate", "400G", "--path-rate", "100G", "--paths", "8", "--delay", "10us",
      "--msgs", "200000", "--size", "64", "--window", "4096"]),
    ("loss", "16 x 10 Gbit/s paths, 100 Gbit/s host, no loss",
     ["--paths", "16", "--path-rate", "10G", "--msgs", "2000"]),
    ("loss", "the same, 1% loss on every path",
     ["--paths", "16", "--path-rate", "10G", "--msgs", "2000", "--loss", "0.01"]),
    ("loss", "the same, 3% loss on every path",
     ["--paths", "16", "--path-rate", "10G", "--msgs", "2000", "--loss", "0.03"]),
]
for _cc in ["swift", "dctcp"]:
    for _j in ["0", "10us", "20us"]:
        PROTOCOL.append(("jitter", f"8 x 25 Gbit/s, 2 us, jitter {_j}, 1 MiB x 300, {_cc}",
                         ["--jitter", _j, "--size", "1M", "--msgs", "300", "--cc", _cc]))
for _cc in ["swift", "dctcp"]:
    for _d in ["20us", "40us", "50us", "100us", "500us"]:
        PROTOCOL.append(("rtt", f"8 x 25 Gbit/s, {_d} one way, 1 MiB x 300, {_cc}",
                         ["--delay", _d, "--size", "1M", "--msgs", "300", "--cc", _cc]))


def window_allows(args, res):
    """Goodput the windows and paths allow for a two-host run: the ideal, or 512 packets of
    4 KiB per round trip (tx_window and max_cwnd) where that is less."""
    delay = 2e-6
    if "--delay" in args:
        d = args[args.index("--delay") + 1]
        delay = float(d[:-2]) * 1e-6
    rtt = 2 * delay + 3e-6
    return min(res["ideal_gbps"], 512 * 4096 * 8 / rtt / 1e9)


def protocol(sims, md):
    lines = ["| item | run | " + " | ".join(f"{name}: goodput Gbit/s (path failures)"
                                            for name in sims) + " | allowed |",
             "|---|---|" + "---|" * len(sims) + "---|"]
    results = []
    for item, label, args in PROTOCOL:
        cells, row = [], {"item": item, "run": label, "args": args}
        for name, sim in sims.items():
            r = two_host(sim, args)
            row[name] = r
            ok = r["delivered"] == r["sent"] and not r["duplicates"] and not r["corrupted"]
            cells.append(f"{r['goodput_gbps']:.1f} ({r['path_failures']})" +
                         ("" if ok else f" [{r['delivered']}/{r['sent']} delivered]"))
        allowed = window_allows(args, row[list(sims)[0]])
        lines.append(f"| {item} | {label} | " + " | ".join(cells) + f" | {allowed:.1f} |")
        log(f"  {item}: {label}: " + ", ".join(cells))
        results.append(row)
    md.append("\n".join(lines) + "\n")
    return results


def build_before(rev, out):
    """srd-sim built from revision rev (git archive into out/before-src), a release build
    as this tree's."""
    src = os.path.join(out, "before-src")
    shutil.rmtree(src, ignore_errors=True)
    os.makedirs(src)
    arch = subprocess.run(["git", "-C", ROOT, "archive", rev], check=True,
                          capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", src], input=arch, check=True)
    release_build.ensure(src, os.path.join(src, "build"), ["apps/srd-sim/srd-sim"])
    return os.path.join(src, "build", "apps", "srd-sim", "srd-sim")


# ---- plots ----

def plots(sim, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib missing (apt-get install python3-matplotlib): no plots")
        return
    tmp = tempfile.mkdtemp()
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for lb, style in [("ecmp", "-"), ("spray:64", "--"), ("srd", "-.")]:
        path = os.path.join(tmp, f"fct-{lb}.csv")
        subprocess.run([sim] + K8 + ["--workload", "perm:2M", "--lb", lb, "--fct", path],
                       check=True, capture_output=True)
        with open(path) as f:
            next(f)
            v = sorted(float(l.split(",")[3]) / float(l.split(",")[4]) for l in f)
        ax.plot(v, [(i + 1) / len(v) for i in range(len(v))], style,
                label={"ecmp": "single-path ECMP", "spray:64": "oblivious spraying, 64 values",
                       "srd": "srd path-aware spraying, 64 values"}[lb])
    ax.set_xlabel("flow completion time / ideal")
    ax.set_ylabel("fraction of flows")
    ax.set_title("k=8 fat-tree (128 hosts), permutation of 2 MB flows, seed 1")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fct_cdf.png"), dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for lb, style in [("ecmp", "-"), ("spray:64", "--"), ("srd", "-.")]:
        path = os.path.join(tmp, f"tl-{lb}.csv")
        subprocess.run([sim] + K8 + ["--workload", "perm:8M", "--lb", lb, "--fail",
                                     "core:5@200us", "--bin", "10us", "--timeline", path],
                       check=True, capture_output=True)
        with open(path) as f:
            next(f)
            pts = [tuple(map(float, l.split(","))) for l in f]
        ax.plot([p[0] for p in pts], [p[1] / 1000 for p in pts], style,
                label={"ecmp": "single-path ECMP", "spray:64": "oblivious spraying, 64 values",
                       "srd": "srd path-aware spraying, 64 values"}[lb])
    ax.axvline(200, color="grey", linestyle=":", label="core link agg 0.1 - core 5 down")
    ax.set_xlabel("time, us")
    ax.set_ylabel("goodput, all receivers, Tbit/s (10 us bins)")
    ax.set_title("k=8 fat-tree, permutation of 8 MB flows, a core link fails at 200 us")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "failover.png"), dpi=110)
    plt.close(fig)
    shutil.rmtree(tmp, ignore_errors=True)


SCENARIOS = {"S1": s1, "S2": s2, "S3": s3, "S5": s5, "S6": s6, "S7": s7, "S8": s8, "S9": s9}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(BUILD, "bench", "fabric"))
    ap.add_argument("--only", default="", help="comma-separated: S1,...,S9,protocol,plots")
    ap.add_argument("--sim", default=SIM)
    ap.add_argument("--before-rev", default="", help="also run the protocol experiments "
                    "with srd-sim built from this git revision")
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args()
    only = set(filter(None, a.only.split(",")))
    os.makedirs(a.out, exist_ok=True)
    if a.sim == SIM:  # this tree's, as a release build: S1 and S2 time it
        log("building srd-sim (release, build-release/) ...")
        release_build.ensure(ROOT, BUILD, ["apps/srd-sim/srd-sim"])
    elif not os.access(a.sim, os.X_OK):
        raise SystemExit(f"{a.sim}: not built")

    table, data, md = Table(), {}, []
    for name, fn in SCENARIOS.items():
        if not only or name in only:
            log(f"{name} ...")
            fn(a.sim, a.seeds, table, data)
    speed(table, data)
    md.append(f"## Targets ({a.seeds} seeds per point)\n\n" + table.markdown())

    proto = None
    if not only or "protocol" in only:
        log("protocol experiments ...")
        sims = {"this tree": a.sim}
        if a.before_rev:
            log(f"building srd-sim at {a.before_rev} ...")
            sims = {f"before ({a.before_rev})": build_before(a.before_rev, a.out),
                    "this tree": a.sim}
        md.append("## Protocol changes, two hosts (goodput Gbit/s; path failures)\n")
        proto = protocol(sims, md)
    if not a.no_plots and (not only or "plots" in only):
        log("plots ...")
        plots(a.sim, a.out)

    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"table": table.rows, "runs": data, "protocol": proto}, f, indent=1)
    with open(os.path.join(a.out, "table.md"), "w") as f:
        f.write("\n".join(md))
    print("\n".join(md))
    log(f"wrote {a.out}/results.json, table.md, fct_cdf.png, failover.png")


if __name__ == "__main__":
    main()
