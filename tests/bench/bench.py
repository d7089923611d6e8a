#!/usr/bin/env python3
"""bench.py -- srd-dataplane's benchmark suite (not part of the test command).

In one run on this machine it measures srdd + srd-perf side by side with what an EFA user
would reach for instead, prints a table of medians and ratios, saves every run as JSON and
plots the latency distributions (PNG):

  latency   srd-perf lat 64 B  vs  sockperf ping-pong (UDP, TCP) between two network
            namespaces joined by a veth pair, libfabric's fi_pingpong -e rdm over its tcp
            provider (same veth) and over its shm provider (one host: the floor for one
            shared-memory hop)
  bandwidth srd-perf bw 64 KiB and 1 MiB  vs  iperf3 TCP over the same veth
  rate      srd-perf rate 64 B, multipath vs single-path mode, against the cost ceiling:
            memcpy of the same bytes, and dpdk-testpmd forwarding on a net_ring port
  loss      srd-perf bw 64 KiB goodput through the impairment stage (8 paths of 25 Gbit/s
            and 2 us): 0%, 1%, 10% loss, and each of the 8 paths blackholed in turn,
            multipath vs single-path
  fabric    the libfabric provider srd: fi_pingpong -e rdm -m tagged latency (64 B) and
            ping-pong bandwidth (1 MiB) against the same tool over libfabric's tcp and
            udp;ofi_rxd providers between the two namespaces (veth) and over shm; a window of
            sends through the provider (fi_stream, 1 MiB and 16 MiB) against srd-perf bw at
            the same sizes; Open MPI 2-rank ping-pong over srd against Open MPI's ob1/TCP
  order     srd-perf rate 64 B (window 32) and bw 64 KiB over ordered endpoints
            (SRDC_ORDERED) vs unordered ones, lossless and through the impairment stage at
            5% loss with one of its 8 paths blackholed

Pinning (2 cores): srdd's worker is EAL lcore 0 on CPU 0, busy-polling; both srd-perf apps
run on CPU 1 and yield the CPU at each empty poll (--poll yield).  The kernel baselines run
their server on CPU 0 and their client on CPU 1 (taskset), the kernel doing its network work
wherever it runs.  Each figure is the median of --repeat runs (default 3).

  sudo python3 tests/bench/bench.py [--repeat N] [--out DIR] [--quick]
"""

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
SRDD = os.path.join(BUILD, "apps/srdd/srdd")
SRDCTL = os.path.join(BUILD, "apps/srdctl/srdctl")
PERF = os.path.join(BUILD, "apps/srd-perf/srd-perf")
MEMCPY = os.path.join(BUILD, "tests/memcpy_rate")
FI_STREAM = os.path.join(BUILD, "tests/fi_stream")
MPI_LAT = os.path.join(BUILD, "tests/mpi/mpi_lat")
PROV_DIR = os.path.join(BUILD, "lib/fabric")
TOOLS = ["sockperf", "iperf3", "libfabric-bin", "gnuplot-nox", "dpdk-dev"]
NS_A, NS_B = "srdbenchA", "srdbenchB"
VETH_A, VETH_B = "srdbvA", "srdbvB"
IP_A, IP_B = "10.123.0.1", "10.123.0.2"
PREFIX = "srdbench"


def log(msg):
    print(msg, flush=True)


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=check, text=True,
                          capture_output=True, **kw)


# ---------------------------------------------------------------- set-up

def install_tools():
    missing = [p for p in TOOLS
               if sh(["dpkg-query", "-W", "-f=${Status}", p], check=False).stdout
               != "install ok installed"]
    if missing:
        log(f"installing {' '.join(missing)}")
        sh("apt-get update -q")
        sh(["apt-get", "install", "-y", "--no-install-recommends"] + missing,
           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def build():
    sh(["bash", os.path.join(ROOT, "scripts/setup.sh")])
    if not os.path.exists(os.path.join(BUILD, "build.ninja")):
        sh(["meson", "setup", BUILD, "--buildtype=debugoptimized"], cwd=ROOT)
    sh(["meson", "compile", "-C", BUILD, "srdd", "srd-perf", "srdctl", "memcpy_rate"])


def netns_up():
    netns_down()
    for cmd in [f"ip netns add {NS_A}", f"ip netns add {NS_B}",
                f"ip link add {VETH_A} type veth peer name {VETH_B}",
                f"ip link set {VETH_A} netns {NS_A}", f"ip link set {VETH_B} netns {NS_B}",
                f"ip -n {NS_A} addr add {IP_A}/24 dev {VETH_A}",
                f"ip -n {NS_B} addr add {IP_B}/24 dev {VETH_B}",
                f"ip -n {NS_A} link set {VETH_A} up", f"ip -n {NS_B} link set {VETH_B} up",
                f"ip -n {NS_A} link set lo up", f"ip -n {NS_B} link set lo up"]:
        sh(cmd)


def netns_down():
    for ns in (NS_A, NS_B):
        sh(f"ip netns del {ns}", check=False)


# ---------------------------------------------------------------- srdd

class Daemon:
    """srdd on the crossed loopback pair, busy-polling on CPU 0."""

    def __init__(self, work, mode="multipath", impair=None):
        self.dir = tempfile.mkdtemp(dir=work)
        self.socket = os.path.join(self.dir, "srdd.sock")
        cfg = json.load(open(os.path.join(ROOT, "config/loopback.json")))
        cfg["eal"] = ["--no-huge", "--no-pci", "-m", "512", "--file-prefix", PREFIX,
                      "-l", "0", "--log-level", "lib.eal:error"]
        cfg["idle"] = {"policy": "busy"}
        cfg["control"]["socket"] = self.socket
        cfg["apps"]["region_mb"] = 96
        cfg["log_level"] = "notice"
        cfg["protocol"]["mode"] = mode
        cfg["protocol"]["seed"] = 11  # the same paths at every start (single-path: one)
        port = cfg["ports"][0]
        if impair:
            port["impair"] = dict(impair, enabled=True)
        else:
            port.pop("impair", None)
        self.config = os.path.join(self.dir, "srdd.json")
        json.dump(cfg, open(self.config, "w"), indent=1)
        self.log = open(os.path.join(self.dir, "srdd.log"), "w")
        self.proc = subprocess.Popen([SRDD, "-c", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.socket):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("srdd did not start: " + open(self.log.name).read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.log.close()
        text = open(self.log.name).read()
        shutil.rmtree(f"/var/run/dpdk/{PREFIX}", ignore_errors=True)
        if rc != 0 or "still in use" in text:
            raise RuntimeError(f"srdd stopped badly ({rc}):\n{text}")


def perf(daemon, test, args, work, tag, may_fail=False):
    """One srd-perf server (on 10.77.0.2) and client (on 10.77.0.1), both on CPU 1.
    may_fail: a client that could not even reach its server counts as a run with no
    goodput (a single path blackholed) instead of an error."""
    addr_file = os.path.join(work, f"{tag}.addr")
    if os.path.exists(addr_file):
        os.unlink(addr_file)
    base = ["taskset", "-c", "1", PERF, test, "-S", daemon.socket, "--poll", "yield"]
    server = subprocess.Popen(base + ["-L", "10.77.0.2", "--addr-file", addr_file],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        if os.path.exists(addr_file) and open(addr_file).read().strip():
            break
        time.sleep(0.02)
    addr = open(addr_file).read().strip()
    # a run whose messages fail (a single path blackholed) exits 1 but still reports
    try:
        out = sh(base + ["-L", "10.77.0.1", "--json"] + args + [addr], timeout=120,
                 check=False)
    except subprocess.TimeoutExpired:
        # say what the daemon saw before giving up
        for what in ("stats", "conns"):
            log(sh([SRDCTL, "-p", PREFIX, what], check=False).stdout)
        server.kill()
        raise
    if out.returncode != 0:
        server.terminate()  # its client may never have reached it
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
    runs = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
    if not runs and may_fail:
        runs = [{"test": test, "gbps": 0.0, "msgs": 0, "failed": 1, "error": out.stderr.strip()}]
    if not runs:
        raise RuntimeError(f"srd-perf {test} {args}: {out.stderr}")
    return runs


# ---------------------------------------------------------------- baselines

def sockperf(proto, seconds, full_log):
    tcp = ["--tcp"] if proto == "tcp" else []
    server = subprocess.Popen(["ip", "netns", "exec", NS_A, "taskset", "-c", "0", "sockperf",
                               "server", "-i", IP_A] + tcp, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        out = sh(["ip", "netns", "exec", NS_B, "taskset", "-c", "1", "sockperf", "ping-pong",
                  "-i", IP_A, "-m", "64", "-t", str(seconds), "--full-log", full_log] + tcp,
                 timeout=seconds + 30).stdout
    finally:
        server.terminate()
        server.wait()
    pct = {float(m.group(1)): float(m.group(2))
           for m in re.finditer(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", out)}
    mx = re.search(r"<MAX> observation\s*=\s*([\d.]+)", out)
    return {"p50_us": pct[50.0], "p99_us": pct[99.0], "p999_us": pct[99.9],
            "max_us": float(mx.group(1))}


def fi_pingpong(provider, iters, size="64"):
    """libfabric's fi_pingpong -m tagged: tcp and udp;ofi_rxd between the namespaces (server
    CPU 0, client CPU 1), shm on one host."""
    args = ["fi_pingpong", "-p", provider, "-e", "rdm", "-m", "tagged", "-I", str(iters),
            "-S", size]
    if provider != "shm":
        srv = ["ip", "netns", "exec", NS_A, "taskset", "-c", "0"] + args
        cli = ["ip", "netns", "exec", NS_B, "taskset", "-c", "1"] + args + [IP_A]
    else:
        srv = ["taskset", "-c", "0"] + args
        cli = ["taskset", "-c", "1"] + args + ["127.0.0.1"]
    server = subprocess.Popen(srv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        out = sh(cli, timeout=300).stdout
    finally:
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return pingpong_row(out, size)


def pingpong_row(out, size):
    """fi_pingpong's row for size (bytes; it prints 1 MiB as "1m"): usec/xfer is one way
    (it counts both directions)."""
    label = {"1048576": "1m"}.get(size, size)
    line = [l for l in out.splitlines() if l.startswith(label + " ")][-1].split()
    return {"mean_us": float(line[6]), "mbps": float(line[5]), "mxfers": float(line[7])}


def fi_env(daemon, **kw):
    return dict(os.environ, FI_PROVIDER_PATH=PROV_DIR, FI_SRD_SOCKET=daemon.socket,
                FI_SRD_YIELD="1", **kw)


def fi_pingpong_srd(daemon, iters, size="64"):
    """fi_pingpong over srd, both ends on CPU 1 next to the busy srdd on CPU 0 (yielding
    when idle, as srd-perf's apps do): server on 10.77.0.2, client on 10.77.0.1."""
    args = ["taskset", "-c", "1", "fi_pingpong", "-p", "srd", "-e", "rdm", "-m", "tagged",
            "-I", str(iters), "-S", size]
    server = subprocess.Popen(args + ["-d", "10.77.0.2"], env=fi_env(daemon),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        out = sh(args + ["-d", "10.77.0.1", "127.0.0.1"], env=fi_env(daemon), timeout=300).stdout
    finally:
        server.wait(timeout=30)
    return pingpong_row(out, size)


def fi_stream(daemon, size, secs, work):
    """A window of 8 sends through the provider (fi_stream), both ends on CPU 1."""
    name = os.path.join(work, "fi_stream.name")
    if os.path.exists(name):
        os.unlink(name)
    args = ["taskset", "-c", "1", FI_STREAM, "-p", "srd", "-f", name, "-s", str(size),
            "-w", "8"]
    server = subprocess.Popen(args + ["-d", "10.77.0.2"], env=fi_env(daemon),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = sh(args + ["-d", "10.77.0.1", "-D", str(secs), "-c"], env=fi_env(daemon),
                 timeout=secs + 60).stdout
    finally:
        server.wait(timeout=30)
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def mpi_lat(daemon, iters):
    """Open MPI 2-rank ping-pong: over srd (OFI MTL, ranks on CPU 1 next to srdd), or, with
    daemon None, over Open MPI's ob1 PML and TCP BTL on loopback (ranks on CPUs 0 and 1:
    no daemon takes a core)."""
    cmd = ["mpirun.openmpi", "--allow-run-as-root", "-np", "2"]
    if daemon:
        env = fi_env(daemon)
        cmd = ["taskset", "-c", "1"] + cmd + [
            "--bind-to", "none", "--mca", "pml", "cm", "--mca", "mtl", "ofi",
            "--mca", "mtl_ofi_provider_include", "srd", "-x", "FI_PROVIDER_PATH",
            "-x", "FI_SRD_SOCKET", "-x", "FI_SRD_YIELD", "-x", "FI_PROVIDER=srd"]
    else:
        env = dict(os.environ)
        cmd += ["--bind-to", "core", "--mca", "pml", "ob1", "--mca", "btl", "tcp,self",
                "--mca", "btl_tcp_if_include", "lo"]
    out = sh(cmd + [MPI_LAT, "64", str(iters)], env=env, timeout=300).stdout
    return json.loads([l for l in out.splitlines() if l.startswith("{")][-1])


def iperf3(seconds):
    server = subprocess.Popen(["ip", "netns", "exec", NS_A, "taskset", "-c", "0", "iperf3",
                               "-s", "-1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        out = sh(["ip", "netns", "exec", NS_B, "taskset", "-c", "1", "iperf3", "-c", IP_A,
                  "-t", str(seconds), "-J"], timeout=seconds + 30).stdout
    finally:
        server.wait(timeout=30)
    return {"gbps": json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9}


def testpmd(seconds):
    # stdbuf: testpmd's statistics must reach the pipe before timeout stops it
    out = sh(["timeout", "-s", "INT", str(seconds + 5), "stdbuf", "-oL", "dpdk-testpmd", "--no-huge", "--no-pci", "-m",
              "1024", "--file-prefix", "srdbench-tpmd", "-l", "0-1", "--vdev=net_ring0", "--",
              "--forward-mode=macswap", "--tx-first", "--burst=32", "--txpkts=64",
              "--stats-period", "1", "--auto-start", "--nb-cores=1",
              "--total-num-mbufs=16384"], check=False).stdout
    shutil.rmtree("/var/run/dpdk/srdbench-tpmd", ignore_errors=True)
    pps = [int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", out)]
    return {"mpps": max(pps) / 1e6 if pps else 0.0}


def memcpy(seconds):
    out = sh(["taskset", "-c", "1", MEMCPY, "64", str(seconds)]).stdout
    return {"mcopies": json.loads(out)["mcopies"]}


# ---------------------------------------------------------------- the suite

def median(runs, key):
    return statistics.median(r[key] for r in runs) if runs else float("nan")


def with_daemon(work, fn, **kw):
    d = Daemon(work, **kw)
    try:
        return fn(d)
    finally:
        d.stop()


def repeat(n, fn):
    return sum((fn() for _ in range(n)), [])


def run_srd(R, o, work, n, iters, secs):
    """srd-perf lat, bw and rate on the loopback pair, no impairment."""
    def multipath(d):
        log("bench: latency (srd-perf lat 64 B)")
        R["srd_lat"] = []
        for i in range(n):
            csv = ["--csv", os.path.join(o.out, "srd_lat.csv")] if i == 0 else []
            R["srd_lat"] += perf(d, "lat", ["-s", "64", "-n", str(iters)] + csv, work, "lat")
        log("bench: bandwidth and rate (srd-perf bw, rate)")
        R["srd_bw_64k"] = repeat(n, lambda: perf(
            d, "bw", ["-s", "64K", "-n", "5000" if o.quick else "20000"], work, "bw"))
        R["srd_bw_1m"] = repeat(n, lambda: perf(
            d, "bw", ["-s", "1M", "-w", "8", "-n", "500" if o.quick else "2000"], work, "bw"))
        R["srd_rate_mp"] = repeat(n, lambda: perf(
            d, "rate", ["-s", "64", "-w", "64", "-D", str(secs)], work, "rate"))

    with_daemon(work, multipath)
    R["srd_rate_sp"] = with_daemon(work, lambda d: repeat(n, lambda: perf(
        d, "rate", ["-s", "64", "-w", "64", "-D", str(secs)], work, "rate")),
        mode="single")


def run_loss(R, work, n, secs):
    """Goodput through the impairment stage: an emulated fabric of 8 paths."""
    log("bench: goodput through the impairment stage")
    fabric = {"paths": 8, "seed": 7, "rate_gbps": 25, "delay_us": 2}
    bw = ["-s", "64K", "-D", str(secs)]
    for name, extra in [("0%", {}), ("1%", {"loss": 0.01}), ("10%", {"loss": 0.1})]:
        for mode in ("multipath", "single"):
            R[f"loss_{name}_{mode}"] = with_daemon(
                work, lambda d: repeat(n, lambda: perf(d, "bw", bw, work, "loss")),
                mode=mode, impair=dict(fabric, **extra))
    # one of 8 paths blackholed, each in turn: a single-path connection has one path (which
    # one is its hash's choice, fixed by the seed), so one of the 8 runs takes it away
    for mode in ("multipath", "single"):
        R[f"blackhole_{mode}"] = []
        for k in range(8):
            R[f"blackhole_{mode}"] += with_daemon(
                work, lambda d: perf(d, "bw", bw, work, "bh", may_fail=True), mode=mode,
                impair=dict(fabric, blackhole=[k]))


def run_order(R, work, n, secs):
    """Ordered endpoints against unordered ones, same daemon, same run."""
    log("bench: ordered vs unordered endpoints")
    fabric = {"paths": 8, "seed": 7, "rate_gbps": 25, "delay_us": 2}
    tests = {"rate": ["rate", "-s", "64", "-w", "32", "-D", str(secs)],
             "bw": ["bw", "-s", "64K", "-w", "32", "-D", str(secs)]}
    for net, impair in (("clean", None), ("loss5", dict(fabric, loss=0.05, blackhole=[3]))):
        def runs(d):
            for name, (test, *args) in tests.items():
                for kind, extra in (("unord", []), ("ord", ["--ordered"])):
                    R[f"order_{net}_{name}_{kind}"] = repeat(
                        n, lambda: perf(d, test, args + extra, work, "order"))
        with_daemon(work, runs, impair=impair)


def run_fabric(R, o, work, n, secs, iters):
    """The libfabric provider srd against libfabric's tcp, udp;ofi_rxd and shm, srd-perf, and
    Open MPI's own TCP transport."""
    log("bench: the libfabric provider (fi_pingpong, fi_stream, Open MPI)")

    def with_srd(d):
        R["fi_srd_lat"] = repeat(n, lambda: [fi_pingpong_srd(d, iters // 5)])
        R["fi_srd_1m"] = repeat(n, lambda: [fi_pingpong_srd(d, 500, "1048576")])
        # the provider's stream and srd-perf's, run by turns: a shared machine's speed
        # drifts, and a copy-bound stream feels it more than srd-perf does (at least 5
        # pairs, medians compared)
        for size, tag in ((1 << 20, "1m"), (16 << 20, "16m")):
            R[f"fi_stream_{tag}"], R[f"srd_bw_{tag}_w8"] = [], []
            for _ in range(max(n, 5)):
                R[f"fi_stream_{tag}"].append(fi_stream(d, size, secs, work))
                R[f"srd_bw_{tag}_w8"] += perf(
                    d, "bw", ["-s", str(size), "-w", "8", "-D", str(secs)], work, "bw8")
        R["mpi_srd_lat"] = repeat(n, lambda: [mpi_lat(d, iters // 5)])

    with_daemon(work, with_srd)
    for prov, tag in (("tcp", "tcp"), ("udp;ofi_rxd", "rxd"), ("shm", "shm")):
        R[f"fi_{tag}_lat"] = repeat(n, lambda: [fi_pingpong(prov, iters // 5)])
        # udp;ofi_rxd moves a MiB in tens of milliseconds: fewer round trips
        R[f"fi_{tag}_1m"] = repeat(n, lambda: [fi_pingpong(prov, 20 if tag == "rxd" else 500,
                                                           "1048576")])
    R["mpi_ob1_lat"] = repeat(n, lambda: [mpi_lat(None, iters // 5)])


def run_kernel(R, o, n, secs, iters):
    """The baselines: the kernel over veth, libfabric, and the cost ceilings."""
    log("bench: kernel and libfabric baselines, ceilings")
    R["sockperf_udp"] = [sockperf("udp", secs, os.path.join(o.out, f"udp{i}.log"))
                         for i in range(n)]
    R["sockperf_tcp"] = [sockperf("tcp", secs, os.path.join(o.out, f"tcp{i}.log"))
                         for i in range(n)]
    R["fi_tcp"] = [fi_pingpong("tcp", iters // 2) for _ in range(n)]
    R["fi_shm"] = [fi_pingpong("shm", iters) for _ in range(n)]
    R["iperf3"] = [iperf3(secs) for _ in range(n)]
    R["memcpy"] = [memcpy(1) for _ in range(n)]
    R["testpmd"] = [testpmd(2 if o.quick else 4) for _ in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(BUILD, "bench"))
    ap.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    ap.add_argument("--only", default="srd,loss,order,fabric,kernel",
                    help="sections to run: srd (latency, bandwidth, rate), loss, order, "
                         "fabric (the libfabric provider), kernel (baselines); "
                         "comma-separated")
    o = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root (namespaces, DPDK)")
    os.makedirs(o.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="srd-bench-")
    n = o.repeat
    secs = 1 if o.quick else 3
    iters = 20000 if o.quick else 100000
    res = {"machine": {"cpu": next((l.split(":", 1)[1].strip()
                                    for l in open("/proc/cpuinfo") if l.startswith("model name")),
                                   "?"),
                       "cpus": os.cpu_count(), "kernel": platform.release(),
                       "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
           "pinning": "srdd worker: EAL lcore 0 on CPU 0, busy; srd-perf apps: CPU 1, "
                      "--poll yield; kernel baselines: server CPU 0, client CPU 1",
           "repeat": n, "runs": {}}
    R = res["runs"]
    log("bench: installing tools, building")
    install_tools()
    build()
    log(f"bench: {res['pinning']}; median of {n} runs each")
    only = set(o.only.split(","))
    netns_up()
    try:
        if "srd" in only:
            run_srd(R, o, work, n, iters, secs)
        if "loss" in only:
            run_loss(R, work, n, secs)
        if "order" in only:
            run_order(R, work, n, secs)
        if "fabric" in only:
            run_fabric(R, o, work, n, secs, iters)
        if "kernel" in only:
            run_kernel(R, o, n, secs, iters)
    finally:
        netns_down()
        shutil.rmtree(work, ignore_errors=True)

    report(res, o.out)


def ratio(a, b):
    if b:
        return a / b
    return float("inf") if a else float("nan")


def report(res, out):
    json.dump(res, open(os.path.join(out, "results.json"), "w"), indent=1)  # the raw runs first
    R = res["runs"]
    m = lambda k, f: median(R.get(k, []), f)
    lat50, lat999 = m("srd_lat", "p50_us"), m("srd_lat", "p999_us")
    udp50, udp999 = m("sockperf_udp", "p50_us"), m("sockperf_udp", "p999_us")
    tcp50, tcp999 = m("sockperf_tcp", "p50_us"), m("sockperf_tcp", "p999_us")
    bw64, bw1m, ip3 = m("srd_bw_64k", "gbps"), m("srd_bw_1m", "gbps"), m("iperf3", "gbps")
    mp, sp = m("srd_rate_mp", "mmsgs"), m("srd_rate_sp", "mmsgs")
    rows = [
        ("latency 64 B p50, us one-way", lat50, f"sockperf UDP {udp50:.2f}", ratio(lat50, udp50),
         "<= 0.5"),
        ("latency 64 B p99.9, us", lat999, f"sockperf UDP {udp999:.2f}", ratio(lat999, udp999),
         "<= 0.5"),
        ("latency 64 B p50, us", lat50, f"sockperf TCP {tcp50:.2f}", ratio(lat50, tcp50), ""),
        ("latency 64 B p99.9, us", lat999, f"sockperf TCP {tcp999:.2f}", ratio(lat999, tcp999),
         "<= 0.15"),
        ("latency 64 B mean, us", m("srd_lat", "mean_us"),
         f"fi_pingpong tcp {m('fi_tcp', 'mean_us'):.2f}",
         ratio(m("srd_lat", "mean_us"), m("fi_tcp", "mean_us")), ""),
        ("latency 64 B mean, us", m("srd_lat", "mean_us"),
         f"fi_pingpong shm {m('fi_shm', 'mean_us'):.2f}",
         ratio(m("srd_lat", "mean_us"), m("fi_shm", "mean_us")), "(floor)"),
        ("bandwidth 64 KiB, Gbit/s", bw64, f"iperf3 TCP {ip3:.2f}", ratio(bw64, ip3), ">= 2"),
        ("bandwidth 1 MiB, Gbit/s", bw1m, f"iperf3 TCP {ip3:.2f}", ratio(bw1m, ip3), ">= 2"),
        ("rate 64 B, Mmsg/s per worker", mp, f"single-path {sp:.2f}", ratio(mp, sp), ""),
        ("rate 64 B, Mmsg/s per worker", mp, f"memcpy {m('memcpy', 'mcopies'):.1f}",
         ratio(mp, m("memcpy", "mcopies")), "(ceiling)"),
        ("rate 64 B, Mmsg/s per worker", mp, f"testpmd macswap {m('testpmd', 'mpps'):.1f}",
         ratio(mp, m("testpmd", "mpps")), ">= 10 Mmsg/s"),
    ]
    base = m("loss_0%_multipath", "gbps")
    for name in ("0%", "1%", "10%"):
        g_mp, g_sp = m(f"loss_{name}_multipath", "gbps"), m(f"loss_{name}_single", "gbps")
        target = {"1%": ">= 0.9 of 0%", "10%": ">= 0.6 of 0%"}.get(name, "")
        rows.append((f"goodput loss {name}, Gbit/s (of 0%: {ratio(g_mp, base):.2f})", g_mp,
                     f"single-path {g_sp:.2f}", ratio(g_mp, g_sp), target))
    bh_mp = [r["gbps"] for r in R.get("blackhole_multipath", [])] or [float("nan")]
    bh_sp = [r["gbps"] for r in R.get("blackhole_single", [])] or [float("nan")]
    dead = sum(1 for r in R.get("blackhole_single", []) if r["failed"])
    rows.append((f"goodput 1 of 8 paths dead, worst of 8", min(bh_mp),
                 f"single-path {min(bh_sp):.2f}", ratio(min(bh_mp), min(bh_sp)),
                 f"single: {dead}/8 runs failed (its data or its ack path)"))
    rows.append((f"goodput 1 of 8 paths dead, mean of 8", statistics.mean(bh_mp),
                 f"single-path {statistics.mean(bh_sp):.2f}",
                 ratio(statistics.mean(bh_mp), statistics.mean(bh_sp)), ""))
    for net, label in (("clean", "lossless"), ("loss5", "5% loss + dead path")):
        for name, unit, key in (("rate", "Mmsg/s", "mmsgs"), ("bw", "Gbit/s", "gbps")):
            o_, u_ = m(f"order_{net}_{name}_ord", key), m(f"order_{net}_{name}_unord", key)
            if R.get(f"order_{net}_{name}_ord"):
                what = "rate 64 B w32" if name == "rate" else "bw 64 KiB w32"
                rows.append((f"ordered {what} {label}, {unit}", o_, f"unordered {u_:.2f}",
                             ratio(o_, u_), ">= 0.8"))
    fsrd = m("fi_srd_lat", "mean_us")
    for tag, name in (("tcp", "fi_pingpong tcp"), ("rxd", "fi_pingpong udp;ofi_rxd"),
                      ("shm", "fi_pingpong shm")):
        b = m(f"fi_{tag}_lat", "mean_us")
        rows.append(("fi_pingpong srd 64 B mean, us one-way", fsrd, f"{name} {b:.2f}",
                     ratio(fsrd, b), "(floor)" if tag == "shm" else ""))
    f1m = m("fi_srd_1m", "mbps")
    for tag, name in (("tcp", "fi_pingpong tcp"), ("rxd", "fi_pingpong udp;ofi_rxd"),
                      ("shm", "fi_pingpong shm")):
        b = m(f"fi_{tag}_1m", "mbps")
        rows.append(("fi_pingpong srd 1 MiB, MB/s", f1m, f"{name} {b:.0f}", ratio(f1m, b), ""))
    for tag, label in (("1m", "1 MiB"), ("16m", "16 MiB")):
        a, b = m(f"fi_stream_{tag}", "gbps"), m(f"srd_bw_{tag}_w8", "gbps")
        rows.append((f"provider stream {label} w8, Gbit/s", a, f"srd-perf bw {b:.2f}",
                     ratio(a, b), ">= 0.8"))
    a, b = m("mpi_srd_lat", "p50_us"), m("mpi_ob1_lat", "p50_us")
    rows.append(("Open MPI 64 B p50 over srd, us one-way", a, f"ob1 tcp (lo) {b:.2f}",
                 ratio(a, b), ""))
    rows = [r for r in rows if r[1] == r[1]]  # sections not run leave NaN: not shown
    res["table"] = [dict(figure=r[0], srd=round(r[1], 3), baseline=r[2], ratio=round(r[3], 3),
                         target=r[4]) for r in rows]
    lines = [f"# {res['machine']['cpus']} x {res['machine']['cpu']}, Linux "
             f"{res['machine']['kernel']}, {res['machine']['date']}",
             f"# {res['pinning']}; median of {res['repeat']}",
             f"{'figure':44} {'srd':>9}  {'baseline':28} {'ratio':>7}  target"]
    for r in rows:
        lines.append(f"{r[0]:44} {r[1]:9.2f}  {r[2]:28} {r[3]:7.3f}  {r[4]}")
    text = "\n".join(lines)
    print(text)
    open(os.path.join(out, "table.txt"), "w").write(text + "\n")
    json.dump(res, open(os.path.join(out, "results.json"), "w"), indent=1)
    if R.get("srd_lat") and R.get("sockperf_udp"):
        plot(out)
    log(f"bench: results in {out}/results.json, table.txt, latency.png")


def plot(out):
    """Latency distributions (one-way, µs) as CDFs: srd-perf vs the kernel."""
    def cdf(values, path):
        values.sort()
        with open(path, "w") as f:
            for i, v in enumerate(values):
                f.write(f"{v:.3f} {(i + 1) / len(values):.6f}\n")

    srd = [int(l.split(",")[2]) / 1e3 for l in open(os.path.join(out, "srd_lat.csv"))
           if l[0].isdigit()]
    cdf(srd, os.path.join(out, "srd.cdf"))
    for proto in ("udp", "tcp"):
        vals = []
        for l in open(os.path.join(out, f"{proto}0.log")):
            parts = l.strip().split(",")
            if len(parts) >= 4 and parts[0].strip().isdigit():
                # packet, tx time, rx time, latency (µs, one-way: round trip / 2)
                vals.append(float(parts[3]))
        cdf(vals, os.path.join(out, f"{proto}.cdf"))
    script = f"""set terminal pngcairo size 900,560
set output '{out}/latency.png'
set title 'One-way latency, 64 B ping-pong (round trip / 2)'
set xlabel 'microseconds (log)'
set ylabel 'fraction of round trips'
set logscale x
set key bottom right
set grid
plot '{out}/srd.cdf' with lines lw 2 title 'srd-perf (srdd, loopback pair)', \\
     '{out}/udp.cdf' with lines lw 2 title 'sockperf UDP (veth)', \\
     '{out}/tcp.cdf' with lines lw 2 title 'sockperf TCP (veth)'
"""
    p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if p.returncode:
        log("bench: gnuplot failed: " + p.stderr)


if __name__ == "__main__":
    main()
