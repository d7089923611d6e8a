#!/usr/bin/env python3
"""fluid_hosts.py -- the p99 slowdown of a fabric run's transfers in a fluid model with only
the host links (what a perfectly sprayed fabric leaves), to tell what spraying can still win
from what the hosts' own links decide.

Reads the per-transfer CSV of `srd-sim --topo ... --fct FILE` (src, dst, bytes, ideal_us,
start_us; the measured FCTs are not used) and replays the same transfers as fluid flows:
every host has one uplink and one downlink of rate 1, every switch link is infinite, and a
flow alone on its links takes its ideal time.  Two ways to share the host links:

  fair   max-min fair (progressive filling): every flow through a link gets an equal share
         unless it is held to less elsewhere -- what round-robin senders and equal receiver
         grants approximate;
  srpt   greedy shortest-remaining-first (pFabric's ideal): flows in order of remaining time,
         each taking all its two links still have.

Prints, per file and policy, the p99 slowdown (FCT / ideal) of transfers > 1 MB, 100 KB-1 MB
and < 100 KB, with the simulator's p99 (element floor(0.99 (n-1)) of the sorted values).

  python3 tests/bench/fluid_hosts.py run1.csv [run2.csv ...]

Each transfer is its own flow (the simulator queues a host pair's transfers one after
another on one connection; the model does not), so the model is not a strict bound for a
transfer queued behind another of its pair.  O(flows^2) per event: a few seconds to a minute
for the S9 runs (1,000-1,500 transfers).
"""

import csv
import math
import sys

EPS = 1e-9
CLASSES = [("large (> 1 MB)", lambda b: b > 1_000_000),
           ("mid", lambda b: 100_000 <= b <= 1_000_000),
           ("small (< 100 KB)", lambda b: b < 100_000)]


def load(path):
    """The transfers of an srd-sim --fct CSV, by release time."""
    with open(path, newline="") as f:
        flows = [{"src": int(r["src"]), "dst": int(r["dst"]), "bytes": int(r["bytes"]),
                  "ideal": float(r["ideal_us"]), "start": float(r["start_us"])}
                 for r in csv.DictReader(f)]
    return sorted(flows, key=lambda x: x["start"])


def links(flow):
    return ("up", flow["src"]), ("down", flow["dst"])


def rates_fair(active):
    """Max-min fair rates of the active flows over links of capacity 1."""
    cap = {l: 1.0 for x in active for l in links(x)}
    rate = [0.0] * len(active)
    open_ = set(range(len(active)))
    while open_:
        users = {}
        for j in open_:
            for l in links(active[j]):
                users[l] = users.get(l, 0) + 1
        share = min(cap[l] / n for l, n in users.items())
        full = {l for l, n in users.items() if cap[l] / n <= share + EPS}
        for j in open_:
            rate[j] += share
            for l in links(active[j]):
                cap[l] -= share
        open_ = {j for j in open_ if not any(l in full for l in links(active[j]))}
    return rate


def rates_srpt(active):
    """Greedy shortest-remaining-first rates over links of capacity 1."""
    cap = {}
    rate = [0.0] * len(active)
    for j in sorted(range(len(active)), key=lambda j: active[j]["rem"]):
        up, down = links(active[j])
        r = min(cap.get(up, 1.0), cap.get(down, 1.0))
        rate[j] = r
        cap[up] = cap.get(up, 1.0) - r
        cap[down] = cap.get(down, 1.0) - r
    return rate


def replay(flows, policy):
    """Run the flows to completion; returns {index: slowdown}."""
    share = rates_fair if policy == "fair" else rates_srpt
    t, i, active, slow = 0.0, 0, [], {}
    for k, x in enumerate(flows):
        x["rem"], x["idx"] = x["ideal"], k
    while i < len(flows) or active:
        rate = share(active)
        t_next = flows[i]["start"] if i < len(flows) else math.inf
        for x, r in zip(active, rate):
            if r > EPS:
                t_next = min(t_next, t + x["rem"] / r)
        for x, r in zip(active, rate):
            x["rem"] -= r * (t_next - t)
        t = t_next
        for x in active:
            if x["rem"] <= EPS:
                slow[x["idx"]] = (t - x["start"]) / x["ideal"]
        active = [x for x in active if x["rem"] > EPS]
        while i < len(flows) and flows[i]["start"] <= t + EPS:
            active.append(flows[i])
            i += 1
    return slow


def p99(values):
    v = sorted(values)
    return v[int(math.floor(0.99 * (len(v) - 1)))] if v else float("nan")


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    for path in argv[1:]:
        flows = load(path)
        for policy in ("fair", "srpt"):
            slow = replay([dict(x) for x in flows], policy)
            parts = []
            for name, member in CLASSES:
                vals = [slow[k] for k, x in enumerate(flows) if member(x["bytes"])]
                parts.append(f"{name} p99 {p99(vals):.2f} (n {len(vals)})")
            print(f"{path} {policy}: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
