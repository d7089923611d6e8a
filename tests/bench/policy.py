#!/usr/bin/env python3
"""policy.py -- srdd's idle policies, and two daemons on one machine, against the kernel
(not part of the test command).

In one run on this machine:

  policy   the main job's set-up (config/loopback.json as scripts/run-loopback.sh runs it:
           srdd on CPU 0, two srd-perf apps on the other CPUs with their default wait): srd-perf
           lat 64 B with the shipped idle policy (adaptive) against the same file switched
           to busy and to sleep, and the CPU share an idle daemon of each policy uses
           (/proc/PID/stat over 10 s, no app attached)
  daemons  two daemons on one machine, as shipped: config/memif-a.json + memif-b.json
           (net_memif), and config/veth-a.json + veth-b.json (net_af_packet on a veth
           pair between two network namespaces); srd-perf lat 64 B (p50, p99.9) and bw
           64 KiB and 1 MiB from an app on A to an app on B, against the kernel over the
           same veth pair, unpinned, with blocking sockets (the daemons share the cores
           with the apps, so the kernel peer is the one that shares them too): sockperf
           UDP ping-pong and iperf3 TCP

Each figure is the median of --repeat runs (default 3).  The functions run_policy(),
run_daemons() and rows() are shaped for bench.py's sections (runs into a dict, table rows
of figure, srd value, baseline text, ratio, target).

  sudo python3 tests/bench/policy.py [--repeat N] [--quick] [--only policy,daemons]
                                      [--build DIR] [--lock FILE]

It takes the shared measuring lock (--lock, /tmp/srd-measure.lock) around each section and
says whether the machine was quiet meanwhile (tests/bench/noise.py).
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
import bench  # noqa: E402  (ROOT, BUILD, sh, log, build, held: the suite's helpers)
import bench_report  # noqa: E402  (median, ratio)
import noise  # noqa: E402

ROOT = bench.ROOT
CONFIG = os.path.join(ROOT, "config")
NS_A, NS_B = "srd-a", "srd-b"        # the namespaces config/veth-*.json expect
VETH_A, VETH_B = "srd-veth-a", "srd-veth-b"
KIP_A, KIP_B = "10.124.0.1", "10.124.0.2"  # the kernel's addresses on the veth pair
SRD_A, SRD_B = "10.124.0.11", "10.124.0.12"  # the daemons' (config/veth-*.json)
MEMIF_A, MEMIF_B = "10.99.0.1", "10.99.0.2"  # config/memif-*.json
LOOP_A, LOOP_B = "10.77.0.1", "10.77.0.2"    # config/loopback.json


def merge(base, over):
    """base with over's keys laid over it, recursively (objects merge, the rest replaces)."""
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict):
            merge(base[k], v)
        else:
            base[k] = v
    return base


class Srdd(bench.SrddProcess):
    """srdd on a shipped config file with only what must differ to run beside other daemons
    changed: its control socket and EAL file prefix (and over's keys laid over the file's,
    idle_policy instead of its own); in network namespace netns if given."""

    def __init__(self, work, config, tag, over=None, netns=None, idle_policy=None):
        cfg = merge(json.load(open(os.path.join(CONFIG, config))), over or {})
        if idle_policy and idle_policy != cfg.get("idle", {}).get("policy"):
            # another policy, the file's sleep bound (its other keys are adaptive's own)
            cfg["idle"] = {"policy": idle_policy,
                           "max_sleep_us": cfg.get("idle", {}).get("max_sleep_us", 100)}
        super().__init__(work, cfg, f"srdpol-{tag}", netns=netns, tag=tag)

    def wait_link(self, timeout=10):
        """Until srdctl shows every port's link up (and a worker has seen it: they look at
        link state every 100 ms)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            out = bench.sh([bench.SRDCTL, "-p", self.prefix, "ports"], check=False).stdout
            rows = [l for l in out.splitlines()[1:] if l.strip()]
            if rows and all(" up " in f" {l} " for l in rows):
                time.sleep(0.2)
                return
            time.sleep(0.05)
        raise RuntimeError(f"srdd {self.prefix}: links not up: {out}")

    def cpu_share(self, secs):
        """Percent of one CPU the daemon used over the next secs seconds (utime + stime of
        /proc/PID/stat; ip netns exec execs srdd, so the pid is the daemon's)."""
        def ticks():
            f = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])  # utime, stime (fields 14, 15)
        t0, w0 = ticks(), time.monotonic()
        time.sleep(secs)
        t1, w1 = ticks(), time.monotonic()
        return 100.0 * (t1 - t0) / os.sysconf("SC_CLK_TCK") / (w1 - w0)


def srd_perf(test, args, server, client, work, pin=None, timeout=180):
    """One srd-perf run: a server app on daemon server[0] at address server[1], a client on
    client[0] at client[1], both with srd-perf's default wait unless args say otherwise,
    unpinned unless pin names CPUs.  Returns the client's JSON results."""
    addr_file = os.path.join(work, "perf.addr")
    if os.path.exists(addr_file):
        os.unlink(addr_file)
    pre = ["taskset", "-c", pin] if pin else []
    waits = [a for i, a in enumerate(args) if a == "--poll" or (i and args[i - 1] == "--poll")]
    srv = subprocess.Popen(pre + [bench.PERF, test, "-S", server[0].socket, "-L", server[1],
                                  "--addr-file", addr_file] + waits,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(500):
            if os.path.exists(addr_file) and open(addr_file).read().strip():
                break
            if srv.poll() is not None:
                raise RuntimeError(f"srd-perf {test} server: {srv.stderr.read()}")
            time.sleep(0.02)
        addr = open(addr_file).read().strip()
        out = bench.sh(pre + [bench.PERF, test, "-S", client[0].socket, "-L", client[1],
                              "--json"] + args + [addr], timeout=timeout, check=False)
        if out.returncode != 0:
            srv.terminate()  # its client may never have reached it
        srv.wait(timeout=30)
    finally:
        if srv.poll() is None:
            srv.kill()
            srv.wait()
    runs = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    if out.returncode != 0 or not runs:
        raise RuntimeError(f"srd-perf {test} {args}: {out.stderr}")
    return runs


# ---------------------------------------------------------------- the veth pair

def veth_up(mtu=9000):
    """Namespaces srd-a and srd-b joined by the veth pair srd-veth-a -- srd-veth-b (MTU
    mtu), the kernel's addresses 10.124.0.1 and .2 on it (the daemons' are .11 and .12)."""
    veth_down()
    for cmd in [f"ip netns add {NS_A}", f"ip netns add {NS_B}",
                f"ip link add {VETH_A} netns {NS_A} mtu {mtu} type veth peer name {VETH_B} "
                f"netns {NS_B} mtu {mtu}",
                f"ip -n {NS_A} addr add {KIP_A}/24 dev {VETH_A}",
                f"ip -n {NS_B} addr add {KIP_B}/24 dev {VETH_B}",
                f"ip -n {NS_A} link set {VETH_A} up", f"ip -n {NS_B} link set {VETH_B} up",
                f"ip -n {NS_A} link set lo up", f"ip -n {NS_B} link set lo up"]:
        bench.sh(cmd)


def veth_down():
    for ns in (NS_A, NS_B):
        bench.sh(f"ip netns del {ns}", check=False)


def sockperf_blocking(secs):
    """sockperf UDP ping-pong 64 B over the veth pair with blocking sockets, unpinned (the
    kernel's way of sharing the cores): one-way µs (round trip / 2)."""
    out = bench.client_server(["ip", "netns", "exec", NS_A, "sockperf", "server", "-i", KIP_A],
                              ["ip", "netns", "exec", NS_B, "sockperf", "ping-pong", "-i",
                               KIP_A, "-m", "64", "-t", str(secs)],
                              timeout=secs + 30, stop_server=True)
    pct = bench.sockperf_percentiles(out)
    return {"p50_us": pct[50.0], "p99_us": pct[99.0], "p999_us": pct[99.9]}


def iperf3_unpinned(secs):
    """iperf3 TCP over the veth pair, one stream, unpinned: Gbit/s received."""
    out = bench.client_server(["ip", "netns", "exec", NS_A, "iperf3", "-s", "-1"],
                              ["ip", "netns", "exec", NS_B, "iperf3", "-c", KIP_A, "-t",
                               str(secs), "-J"], timeout=secs + 30)
    return {"gbps": json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9}


# ---------------------------------------------------------------- two daemons

def start_pair(work, specs):
    """Daemons from specs, (config file, tag, over, netns) each, started in that order and
    waited for until their links are up; on a failure the started ones are stopped."""
    daemons = []
    try:
        for config, tag, over, netns in specs:
            daemons.append(Srdd(work, config, tag, over, netns=netns))
        for d in daemons:
            d.wait_link()
    except Exception:
        stop_all(daemons)
        raise
    return daemons


def memif_pair(work, over=None):
    """config/memif-a.json (the memif server, started first) and memif-b.json, on a memif
    socket of their own (an abstract name: nothing to clean up)."""
    specs = []
    for side in ("a", "b"):
        port = json.load(open(os.path.join(CONFIG, f"memif-{side}.json")))["ports"][0]
        dev = port["device"].replace("socket=/run/srd/memif.sock",
                                     f"socket=/run/srd/memif-{os.getpid()}.sock")
        specs.append((f"memif-{side}.json", f"memif-{side}",
                      merge({"ports": [dict(port, device=dev)]}, dict(over or {})), None))
    return start_pair(work, specs)


def veth_pair(work, over=None):
    """config/veth-a.json in namespace srd-a and veth-b.json in srd-b (veth_up() first)."""
    return start_pair(work, [(f"veth-{side}.json", f"veth-{side}", over, ns)
                             for side, ns in (("a", NS_A), ("b", NS_B))])


def use_build(build):
    """Run srdd, srd-perf and srdctl from build (compiled first)."""
    bench.sh(["meson", "compile", "-C", build, "srdd", "srd-perf", "srdctl"])
    bench.BUILD = build
    bench.SRDD = os.path.join(build, "apps/srdd/srdd")
    bench.SRDCTL = os.path.join(build, "apps/srdctl/srdctl")
    bench.PERF = os.path.join(build, "apps/srd-perf/srd-perf")


# ---------------------------------------------------------------- the sections

POLICIES = ("adaptive", "busy", "sleep")  # adaptive is config/loopback.json's own


def run_policy(R, work, n, secs, iters):
    """The main job's daemon (config/loopback.json) with its own idle policy and switched to
    busy and to sleep: srd-perf lat 64 B back to back and with 1 ms gaps (a message that
    meets sleeping waiters), apps as scripts/run-loopback.sh runs them (their default wait,
    on the CPUs other than srdd's CPU 0); and the CPU share of each idle daemon over 10 s,
    nothing attached."""
    cpus = f"1-{os.cpu_count() - 1}" if os.cpu_count() > 1 else None
    bench.log("policy: the main job's latency under busy / adaptive / sleep, idle CPU")
    for p in POLICIES:
        R[f"main_lat_{p}"], R[f"main_gap_{p}"], R[f"main_idle_{p}"] = [], [], []
    for i in range(n):
        for p in POLICIES:  # by turns: a shared machine's load hits all three alike
            d = Srdd(work, "loopback.json", f"lo-{p}", idle_policy=p)
            try:
                if i == 0:
                    time.sleep(1)
                    R[f"main_idle_{p}"].append({"cpu_pct": d.cpu_share(10)})
                pair = ((d, LOOP_B), (d, LOOP_A))
                R[f"main_lat_{p}"] += srd_perf("lat", ["-s", "64", "-n", str(iters)], *pair,
                                               work, pin=cpus)
                R[f"main_gap_{p}"] += srd_perf("lat", ["-s", "64", "-n", str(iters // 20),
                                                       "--warmup", "10", "--gap", "1000"],
                                               *pair, work, pin=cpus)
            finally:
                d.stop()


def stop_all(daemons):
    """Stop the daemons, the last started first (a memif server stopped under a connected
    client crashed once in DPDK's interrupt thread), every one even if another fails."""
    errors = []
    for d in reversed(daemons):
        try:
            d.stop()
        except RuntimeError as e:
            errors.append(str(e))
    if errors:
        raise RuntimeError("\n".join(errors))


def pair_runs(R, key, daemons, addrs, work, n, secs, iters):
    """srd-perf between an app on daemons[0] (client) and one on daemons[1] (server)."""
    pair = ((daemons[1], addrs[1]), (daemons[0], addrs[0]))
    for _ in range(n):
        R[f"{key}_lat"] += srd_perf("lat", ["-s", "64", "-n", str(iters)], *pair, work)
        R[f"{key}_bw_64k"] += srd_perf("bw", ["-s", "64K", "-D", str(secs)], *pair, work)
        R[f"{key}_bw_1m"] += srd_perf("bw", ["-s", "1M", "-w", "8", "-D", str(secs)], *pair,
                                      work)


def run_daemons(R, work, n, secs, iters):
    """Two daemons on one machine, as shipped (memif pair, af_packet over the veth pair),
    against the kernel over the same veth pair with blocking sockets, all unpinned."""
    bench.log("daemons: memif pair, af_packet over veth, kernel UDP/TCP over the same veth")
    veth_up()
    try:
        R["kernel_udp"] = [sockperf_blocking(secs) for _ in range(n)]
        R["kernel_tcp"] = [iperf3_unpinned(secs) for _ in range(n)]
        for key, start, addrs in (("memif", memif_pair, (MEMIF_A, MEMIF_B)),
                                  ("veth", veth_pair, (SRD_A, SRD_B))):
            for what in ("lat", "bw_64k", "bw_1m"):
                R[f"{key}_{what}"] = []
            daemons = start(work)
            try:
                pair_runs(R, key, daemons, addrs, work, n, secs, iters)
            finally:
                stop_all(daemons)
    finally:
        veth_down()


def rows(R, m):
    """Table rows (figure, srd value, baseline text, ratio, target) of what ran; m(key,
    field) is the median of R[key]'s field (NaN when absent: bench.py drops such rows)."""
    out = []
    ratio = bench_report.ratio
    for f, label in (("p50_us", "p50"), ("p999_us", "p99.9")):
        a, b, s = m("main_lat_adaptive", f), m("main_lat_busy", f), m("main_lat_sleep", f)
        out.append((f"main job lat 64 B {label}, us (adaptive)", a, f"busy policy {b:.2f}",
                    ratio(a, b), "<= 1.3"))
        out.append((f"main job lat 64 B {label}, us (sleep)", s, f"busy policy {b:.2f}",
                    ratio(s, b), ""))
    a, b = m("main_gap_adaptive", "p50_us"), m("main_gap_busy", "p50_us")
    out.append(("main job lat 64 B, 1 ms gaps, p50 us (adaptive)", a, f"busy policy {b:.2f}",
                ratio(a, b), ""))
    for p in ("adaptive", "sleep"):
        a, b = m(f"main_idle_{p}", "cpu_pct"), m("main_idle_busy", "cpu_pct")
        out.append((f"idle daemon, % of a CPU over 10 s ({p})", a, f"busy policy {b:.1f}",
                    ratio(a, b), "little" if p == "adaptive" else ""))
    k50, k999 = m("kernel_udp", "p50_us"), m("kernel_udp", "p999_us")
    tcp = m("kernel_tcp", "gbps")
    for key, name in (("memif", "memif pair"), ("veth", "af_packet veth pair")):
        for f, label, base in (("p50_us", "p50", k50), ("p999_us", "p99.9", k999)):
            v = m(f"{key}_lat", f)
            out.append((f"{name} lat 64 B {label}, us", v, f"UDP blocking {base:.2f}",
                        ratio(v, base), "<= 1"))
        for what, label in (("bw_64k", "64 KiB"), ("bw_1m", "1 MiB")):
            v = m(f"{key}_{what}", "gbps")
            out.append((f"{name} bw {label}, Gbit/s", v, f"iperf3 {tcp:.2f}", ratio(v, tcp),
                        ">= 1"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    ap.add_argument("--only", default="policy,daemons",
                    help="sections: policy (the main job), daemons (two daemons)")
    ap.add_argument("--build", help="a configured build folder to use instead of bench.py's "
                                    "release build")
    ap.add_argument("--lock", default="/tmp/srd-measure.lock",
                    help="flock(2) this file around each section ('' : none)")
    o = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("policy.py: run as root (namespaces, DPDK)")
    n = o.repeat
    secs = 1 if o.quick else 3
    iters = 5000 if o.quick else 20000
    bench.log("policy: installing tools, building")
    bench.install_tools()
    if o.build:
        use_build(os.path.abspath(o.build))
    else:
        bench.build()
    work = tempfile.mkdtemp(prefix="srd-policy-")
    R, quiet = {}, {}
    sections = {"policy": lambda: run_policy(R, work, n, secs, iters),
                "daemons": lambda: run_daemons(R, work, n, secs, iters)}
    try:
        for name in o.only.split(","):
            with bench.held(o.lock):
                watch = noise.Watch()
                sections[name]()
                rec = watch.stop()
            quiet[name] = noise.quiet(rec)
            if not quiet[name]:
                bench.log(f"policy: NOT QUIET during {name}: {noise.describe(rec)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    m = lambda k, f: bench_report.median(R.get(k, []), f)
    table = [r for r in rows(R, m) if r[1] == r[1]]
    print(f"# median of {n}; srd-perf's default wait; main job: apps off srdd's CPU 0; two "
          "daemons and the kernel (blocking sockets): unpinned; "
          + ", ".join(f"{k} {'quiet' if v else 'NOT QUIET'}" for k, v in quiet.items()))
    print(f"{'figure':48} {'srd':>9}  {'baseline':26} {'ratio':>7}  target")
    for r in table:
        print(f"{r[0]:48} {r[1]:9.2f}  {r[2]:26} {r[3]:7.3f}  {r[4]}")
    print(json.dumps(R))


if __name__ == "__main__":
    main()
