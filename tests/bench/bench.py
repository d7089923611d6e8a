#!/usr/bin/env python3
"""bench.py -- srd-dataplane's benchmark suite (not part of the test command).

In one run on this machine it measures srdd + srd-perf side by side with what an EFA user
would reach for instead, prints a table of medians and ratios, saves every run as JSON and
plots the latency distributions (PNG).  Like against like: srdd busy-polls, so the primary
baseline of every latency row is the kernel busy-polling too.

  latency   srd-perf lat 64 B  vs  (primary) sockperf ping-pong --nonblocked, client and
            server both spinning on recvfrom, UDP and TCP, between two network namespaces
            joined by a veth pair; libfabric's fi_pingpong -e rdm over its udp;ofi_rxd and
            tcp providers (same veth; they poll their completion queue) and over shm (one
            host: the floor for one shared-memory hop; fi_pingpong gives means only)
            (secondary, labelled, never a target) sockperf with blocking sockets, which
            sleep in recvfrom
            (quoted) Machnet's 64 B round trip p50 of 2 us from issue 12, not measured here
            srd-perf lat --pair beside it: one app thread holds both ends and spins on CPU 1
            (srdd on CPU 0): the latency without the two apps trading a CPU, which is what a
            core per process gives (the same two CPUs busy as sockperf's two ends)
  handover  what the CPU trade between srd-perf's two apps on one CPU costs alone
            (handover.c: two processes on one CPU, sched_yield while waiting) and, for
            contrast, one cache line crossing two CPUs that spin
  bandwidth srd-perf bw 64 KiB, 1 MiB and 16 MiB  vs  iperf3 TCP over the same veth
  rate      srd-perf rate 64 B with 1 and 2 client threads, multipath, and 1 thread in
            single-path mode, against the cost ceilings: memcpy of the same bytes, and
            dpdk-testpmd forwarding on a net_ring port; window 64 and 128 (perftest's
            default tx depth); srd-perf rate --pair beside them: one app thread spinning on
            CPU 1 holds the sender and the receiver (two attachments), no CPU trade
  loss      srd-perf bw 64 KiB goodput through the impairment stage (8 paths of 25 Gbit/s
            and 2 us): 0%, 1%, 10% loss, and each of the 8 paths blackholed in turn,
            multipath vs single-path
  fabric    the libfabric provider srd: fi_pingpong -e rdm -m tagged latency (64 B) and
            ping-pong bandwidth (1 MiB) against the same tool over libfabric's tcp and
            udp;ofi_rxd providers between the two namespaces (veth) and over shm; a window of
            sends through the provider (fi_stream, 1 MiB and 16 MiB) against srd-perf bw at
            the same sizes, each run with srdd's share of its CPU and each pair with the
            distance between CPUs 0 and 1 (also compared over the pairs that had both);
            Open MPI 2-rank ping-pong over srd against Open MPI's ob1/TCP
  order     srd-perf rate 64 B (window 32) and bw 64 KiB over ordered endpoints
            (SRDC_ORDERED) vs unordered ones, lossless and through the impairment stage at
            5% loss with one of its 8 paths blackholed

Build: everything it runs is built with meson --buildtype=release (what users deploy) in
build-release/ (release_build.py), never the user's build/.

Pinning (2 cores): srdd's worker is EAL lcore 0 on CPU 0, busy-polling; both srd-perf apps
run on CPU 1 and yield the CPU at each empty poll (--poll yield).  The kernel and libfabric
baselines run their server on CPU 0 and their client on CPU 1 (taskset), the kernel doing its
network work wherever it runs.  Each figure is the median of --repeat runs (default 3).

  sudo python3 tests/bench/bench.py [--repeat N] [--out DIR] [--quick] [--only SECTIONS]
                                    [--no-build | --build-only]

Figures to quote come from a quiet machine: on a shared one, build first (--build-only), then
measure under the shared lock (flock /tmp/srd-measure.lock python3 ... --no-build).
"""

import argparse
import contextlib
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench_report  # noqa: E402  (the table and the plot)
import noise  # noqa: E402
import release_build  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.join(ROOT, "build-release")  # the benchmarks' own release build
SRDD = os.path.join(BUILD, "apps/srdd/srdd")
SRDCTL = os.path.join(BUILD, "apps/srdctl/srdctl")
PERF = os.path.join(BUILD, "apps/srd-perf/srd-perf")
MEMCPY = os.path.join(BUILD, "tests/memcpy_rate")
HANDOVER = os.path.join(BUILD, "tests/handover")
FI_STREAM = os.path.join(BUILD, "tests/fi_stream")
MPI_LAT = os.path.join(BUILD, "tests/mpi/mpi_lat")
PROV_DIR = os.path.join(BUILD, "lib/fabric")
TOOLS = ["sockperf", "iperf3", "libfabric-bin", "gnuplot-nox", "dpdk-dev"]
NS_A, NS_B = "srdbenchA", "srdbenchB"
VETH_A, VETH_B = "srdbvA", "srdbvB"
IP_A, IP_B = "10.123.0.1", "10.123.0.2"
PREFIX = "srdbench"


T0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", flush=True)


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=check, text=True,
                          capture_output=True, **kw)


def client_server(server_cmd, client_cmd, timeout, env=None, stop_server=False):
    """Start server_cmd, give it half a second, run client_cmd to its end (timeout seconds)
    and return the client's standard output.  Then the server is stopped (stop_server: it
    serves until told) or waited for (it ends with its client; killed if it has not within
    30 s)."""
    server = subprocess.Popen(server_cmd, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        return sh(client_cmd, env=env, timeout=timeout).stdout
    finally:
        if stop_server:
            server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def sockperf_percentiles(out):
    """sockperf ping-pong's percentile lines: {percentile: µs}."""
    return {float(m.group(1)): float(m.group(2))
            for m in re.finditer(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", out)}


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
    """Everything the suite runs (the daemon, the tools, the provider, the helpers in
    tests/bench), as a release build in BUILD."""
    sh(["bash", os.path.join(ROOT, "scripts/setup.sh")])
    release_build.ensure(ROOT, BUILD)


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

class SrddProcess:
    """An srdd started from the config dict cfg in a folder of its own under work, with its
    control socket there and EAL file prefix `prefix` (in network namespace netns if given):
    ready once the socket exists (srdd creates it when it accepts apps).  stop() checks that
    it ended cleanly."""

    def __init__(self, work, cfg, prefix, netns=None, tag="srdd"):
        self.dir = tempfile.mkdtemp(dir=work, prefix=tag + "-")
        self.socket = os.path.join(self.dir, "srdd.sock")
        self.prefix = prefix
        cfg["control"] = dict(cfg.get("control", {}), socket=self.socket)
        eal = cfg["eal"]
        eal[eal.index("--file-prefix") + 1] = prefix
        if "--log-level" not in eal:
            eal += ["--log-level", "lib.eal:error"]
        cfg["log_level"] = "notice"
        self.config = os.path.join(self.dir, "srdd.json")
        json.dump(cfg, open(self.config, "w"), indent=1)
        self.log = open(os.path.join(self.dir, "srdd.log"), "w")
        cmd = [SRDD, "-c", self.config]
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if os.path.exists(self.socket):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError(f"srdd ({prefix}) did not start: " + open(self.log.name).read())

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        text = open(self.log.name).read()
        if rc != 0 or "still in use" in text:
            raise RuntimeError(f"srdd stopped badly ({rc}):\n{text}")


class Daemon(SrddProcess):
    """srdd on the crossed loopback pair, busy-polling on CPU 0."""

    def __init__(self, work, mode="multipath", impair=None):
        cfg = json.load(open(os.path.join(ROOT, "config/loopback.json")))
        cfg["eal"] = ["--no-huge", "--no-pci", "-m", "512", "--file-prefix", PREFIX,
                      "-l", "0", "--log-level", "lib.eal:error"]
        cfg["idle"] = {"policy": "busy"}
        cfg["apps"]["region_mb"] = 96
        cfg["protocol"]["mode"] = mode
        cfg["protocol"]["seed"] = 11  # the same paths at every start (single-path: one)
        port = cfg["ports"][0]
        if impair:
            port["impair"] = dict(impair, enabled=True)
        else:
            port.pop("impair", None)
        super().__init__(work, cfg, PREFIX)


class DaemonCpu:
    """srdd's share of its CPU while a run lasts: the time its threads ran and the time they
    waited, runnable, for the CPU (/proc/PID/task/*/schedstat), per second of wall time.
    srdd's worker busy-polls, so whatever it did not run went to something else on its CPU
    (another process: the benchmark's own are pinned to CPU 1), and every message in flight,
    both ends of the loopback pair being this one worker, waited that long."""

    def __init__(self, daemon):
        self.pid = daemon.proc.pid
        self.t0, self.s0 = time.monotonic(), self._sample()

    def _sample(self):
        ran = waited = 0
        task_dir = f"/proc/{self.pid}/task"
        for tid in os.listdir(task_dir):
            try:
                with open(f"{task_dir}/{tid}/schedstat") as f:
                    r, w = f.read().split()[:2]
            except OSError:
                continue  # a thread that ended meanwhile
            ran, waited = ran + int(r), waited + int(w)
        return ran, waited

    def stop(self):
        """{"srdd_ran": share of the wall time srdd ran, "srdd_waited": ... waited for its CPU}"""
        ran, waited = self._sample()
        wall = (time.monotonic() - self.t0) * 1e9
        return {"srdd_ran": (ran - self.s0[0]) / wall, "srdd_waited": (waited - self.s0[1]) / wall}


def perf(daemon, test, args, work, tag, may_fail=False, server_args=()):
    """One srd-perf server (on 10.77.0.2) and client (on 10.77.0.1), both on CPU 1.
    may_fail: a client that could not even reach its server counts as a run with no
    goodput (a single path blackholed) instead of an error.  server_args: the server's own
    options (-t N: one endpoint per client thread)."""
    addr_file = os.path.join(work, f"{tag}.addr")
    if os.path.exists(addr_file):
        os.unlink(addr_file)
    base = ["taskset", "-c", "1", PERF, test, "-S", daemon.socket, "--poll", "yield"]
    server = subprocess.Popen(base + list(server_args) +
                              ["-L", "10.77.0.2", "--addr-file", addr_file],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        if os.path.exists(addr_file) and open(addr_file).read().strip():
            break
        time.sleep(0.02)
    addr = open(addr_file).read().strip()
    # a run whose messages fail (a single path blackholed) exits 1 but still reports
    cpu = DaemonCpu(daemon)
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
    share = cpu.stop()
    runs = [dict(json.loads(l), **share) for l in out.stdout.splitlines() if l.startswith("{")]
    if not runs and may_fail:
        runs = [{"test": test, "gbps": 0.0, "msgs": 0, "failed": 1, "error": out.stderr.strip()}]
    if not runs:
        raise RuntimeError(f"srd-perf {test} {args}: {out.stderr}")
    return runs


def perf_pair(daemon, args, test="lat"):
    """srd-perf lat --pair on CPU 1, spinning: one thread pings from 10.77.0.1 to an
    endpoint of its own on 10.77.0.2 and echoes back (no second app to trade the CPU with).
    test "rate" or "bw": the thread sends from 10.77.0.1 to 10.77.0.2 with a window in
    flight, each end with its own attachment (perf_pair_rate)."""
    cpu = DaemonCpu(daemon)
    out = sh(["taskset", "-c", "1", PERF, test, "-S", daemon.socket, "--poll", "spin",
              "-L", "10.77.0.1", "--pair", "10.77.0.2", "--json"] + args, timeout=120)
    share = cpu.stop()
    return [dict(json.loads(l), **share) for l in out.stdout.splitlines() if l.startswith("{")]


def perf_pair_rate(daemon, args):
    """srd-perf rate --pair on CPU 1, spinning: one thread holds the sender (10.77.0.1) and
    the receiver (10.77.0.2), two attachments as two apps would have, so that no two apps
    trade CPU 1: the rate a core per app would give."""
    return perf_pair(daemon, args, test="rate")


def worker_stats():
    """srdd's worker counters (srdctl stats, summed over workers)."""
    return json.loads(sh([SRDCTL, "-p", PREFIX, "--json", "stats"]).stdout)["worker"]


def srdd_own(before, after):
    """srdd's own part of a message's latency between two reads of its counters: the mean
    time from a receive burst to the completions it produced being published (wire to app)
    and from taking submissions to their packets handed to the port (app to wire), over
    the worker loop iterations that did that work (upper bounds: an iteration's other work
    is included)."""
    d = {k: after.get(k, 0) - before.get(k, 0)
         for k in ("rx_to_app", "rx_to_app_ns", "app_to_tx", "app_to_tx_ns")}
    return {"rx_to_app_us": d["rx_to_app_ns"] / d["rx_to_app"] / 1e3 if d["rx_to_app"] else
            float("nan"),
            "app_to_tx_us": d["app_to_tx_ns"] / d["app_to_tx"] / 1e3 if d["app_to_tx"] else
            float("nan"), "iterations": d["rx_to_app"] + d["app_to_tx"]}


# ---------------------------------------------------------------- baselines

def sockperf(proto, busy, seconds, full_log):
    """sockperf ping-pong 64 B between the namespaces, server on CPU 0, client on CPU 1.
    busy: both ends open non-blocking sockets (--nonblocked) and, given one address (-i),
    call recvfrom in a loop until a message is there: they spin as srdd does.  Otherwise
    both sleep in recvfrom until the kernel wakes them."""
    opts = (["--tcp"] if proto == "tcp" else []) + (["--nonblocked"] if busy else [])
    out = client_server(["ip", "netns", "exec", NS_A, "taskset", "-c", "0", "sockperf",
                         "server", "-i", IP_A] + opts,
                        ["ip", "netns", "exec", NS_B, "taskset", "-c", "1", "sockperf",
                         "ping-pong", "-i", IP_A, "-m", "64", "-t", str(seconds),
                         "--full-log", full_log] + opts,
                        timeout=seconds + 30, stop_server=True)
    pct = sockperf_percentiles(out)
    mx = re.search(r"<MAX> observation\s*=\s*([\d.]+)", out)
    avg = re.search(r"avg-latency=([\d.]+)", out)
    return {"p50_us": pct[50.0], "p99_us": pct[99.0], "p999_us": pct[99.9],
            "max_us": float(mx.group(1)), "mean_us": float(avg.group(1)), "busy": busy}


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
    return pingpong_row(client_server(srv, cli, timeout=300), size)


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
    out = client_server(args + ["-d", "10.77.0.2"], args + ["-d", "10.77.0.1", "127.0.0.1"],
                        timeout=300, env=fi_env(daemon))
    return pingpong_row(out, size)


def fi_stream(daemon, size, secs, work, window=8):
    """A window of sends through the provider (fi_stream), both ends on CPU 1."""
    name = os.path.join(work, "fi_stream.name")
    if os.path.exists(name):
        os.unlink(name)
    args = ["taskset", "-c", "1", FI_STREAM, "-p", "srd", "-f", name, "-s", str(size),
            "-w", str(window)]
    server = subprocess.Popen(args + ["-d", "10.77.0.2"], env=fi_env(daemon),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cpu = DaemonCpu(daemon)
    try:
        out = sh(args + ["-d", "10.77.0.1", "-D", str(secs), "-c"], env=fi_env(daemon),
                 timeout=secs + 60).stdout
    finally:
        server.wait(timeout=30)
    r = dict(json.loads([l for l in out.splitlines() if l.startswith("{")][-1]), **cpu.stop())
    r["mmsgs"] = r["msgs"] / r["seconds"] / 1e6 if r["seconds"] else 0.0
    return r


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
    out = client_server(["ip", "netns", "exec", NS_A, "taskset", "-c", "0", "iperf3", "-s",
                         "-1"],
                        ["ip", "netns", "exec", NS_B, "taskset", "-c", "1", "iperf3", "-c",
                         IP_A, "-t", str(seconds), "-J"], timeout=seconds + 30)
    return {"gbps": json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9}


def testpmd(seconds):
    # stdbuf: testpmd's statistics must reach the pipe before timeout stops it
    out = sh(["timeout", "-s", "INT", str(seconds + 5), "stdbuf", "-oL", "dpdk-testpmd",
              "--no-huge", "--no-pci", "-m", "1024", "--file-prefix", "srdbench-tpmd",
              "-l", "0-1", "--vdev=net_ring0", "--",
              "--forward-mode=macswap", "--tx-first", "--burst=32", "--txpkts=64",
              "--stats-period", "1", "--auto-start", "--nb-cores=1",
              "--total-num-mbufs=16384"], check=False).stdout
    shutil.rmtree("/var/run/dpdk/srdbench-tpmd", ignore_errors=True)
    pps = [int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", out)]
    return {"mpps": max(pps) / 1e6 if pps else 0.0}


def memcpy(seconds):
    out = sh(["taskset", "-c", "1", MEMCPY, "64", str(seconds)]).stdout
    return {"mcopies": json.loads(out)["mcopies"]}


def cpu_link(daemon):
    """How far apart CPUs 0 and 1 are now: the median one-way time of a cache line between
    them (handover spin, µs), measured with srdd stopped for those few milliseconds (its
    worker spins on CPU 0).  A VM's two vCPUs are two host threads: on cores that share a
    cache (about 0.035 µs on this VM) or not (0.15-0.2 µs), as the host places them, and that
    changes by the minute.  The provider's stream moves every byte between the CPUs twice
    (the sending app writes the bounce buffer srdd reads, srdd writes the receive buffer
    the receiving app reads); srd-perf's apps do not touch the payload."""
    daemon.proc.send_signal(signal.SIGSTOP)
    try:
        return handover("spin", 20000)["p50_us"]
    finally:
        daemon.proc.send_signal(signal.SIGCONT)


def handover(mode, iters, csv=None):
    """handover.c: yield, two processes on CPU 1 (where srd-perf's apps are) trading it
    with sched_yield; spin, one on CPU 0 and one on CPU 1, spinning."""
    cpus = ["1", "1"] if mode == "yield" else ["0", "1"]
    out = sh([HANDOVER, mode, str(iters)] + cpus + ([csv] if csv else []), timeout=300).stdout
    return json.loads(out)


# ---------------------------------------------------------------- the suite

def with_daemon(work, fn, **kw):
    d = Daemon(work, **kw)
    try:
        return fn(d)
    finally:
        d.stop()


def repeat(n, fn):
    return sum((fn() for _ in range(n)), [])


def repeat_kept(n, fn):
    """repeat(n, fn) for srd-perf runs, counting only those in which srdd kept its CPU
    (srdd_ran >= bench_report.SRDD_CPU_KEPT), at most 2 * n runs in all.  A run whose worker
    lost part of CPU 0 measures whatever took it (a build or a test that does not take the
    measuring lock; srdd's throughput falls in proportion to its share: 13 Gbit/s at 16 MiB
    with 40% of its CPU, 33 with all of it): it stays in the results, flagged "contended",
    and the table's median leaves it out."""
    runs, kept = [], 0
    for _ in range(2 * n):
        if kept == n:
            break
        got = fn()
        for r in got:
            if r.get("srdd_ran", 1.0) < bench_report.SRDD_CPU_KEPT:
                r["contended"] = True
        kept += all(not r.get("contended") for r in got)
        runs += got
    if kept < n:
        log(f"bench: srdd lost its CPU in {len(runs) - kept} of {len(runs)} runs")
    return runs


def run_srd(R, o, work, n, iters, secs):
    """srd-perf lat, bw and rate on the loopback pair, no impairment."""
    def multipath(d):
        log("bench: latency (srd-perf lat 64 B)")
        R["srd_lat"], R["srdd_own"] = [], []
        for i in range(n):
            csv = f"srd_lat{i}.csv"  # every sample: the plot shows the median run's
            before = worker_stats()
            run = perf(d, "lat", ["-s", "64", "-n", str(iters), "--csv",
                                  os.path.join(o.out, csv)], work, "lat")
            R["srd_lat"] += [dict(r, log=csv) for r in run]
            R["srdd_own"].append(srdd_own(before, worker_stats()))
        log("bench: latency with both ends in one spinning app thread (srd-perf lat --pair)")
        R["srd_lat_pair"] = []
        for i in range(n):
            csv = f"srd_lat_pair{i}.csv"
            R["srd_lat_pair"] += [dict(r, log=csv) for r in perf_pair(d, [
                "-s", "64", "-n", str(iters), "--csv", os.path.join(o.out, csv)])]
        log("bench: bandwidth and rate (srd-perf bw, rate)")
        R["srd_bw_64k"] = repeat_kept(n, lambda: perf(
            d, "bw", ["-s", "64K", "-n", "5000" if o.quick else "20000"], work, "bw"))
        R["srd_bw_1m"] = repeat_kept(n, lambda: perf(
            d, "bw", ["-s", "1M", "-w", "8", "-n", "500" if o.quick else "2000"], work, "bw"))
        R["srd_bw_16m"] = repeat_kept(n, lambda: perf(
            d, "bw", ["-s", "16M", "-w", "8", "-D", str(secs)], work, "bw"))
        R["srd_rate_mp"] = repeat(n, lambda: perf(
            d, "rate", ["-s", "64", "-w", "64", "-D", str(secs)], work, "rate"))
        # perftest's default tx depth: 128 in flight
        R["srd_rate_mp_w128"] = repeat(n, lambda: perf(
            d, "rate", ["-s", "64", "-w", "128", "-D", str(secs)], work, "rate"))
        # both ends in one spinning app thread (srd-perf rate --pair): no CPU trade
        R["srd_rate_pair"] = repeat(n, lambda: perf_pair_rate(
            d, ["-s", "64", "-w", "128", "-D", str(secs)]))
        # two client threads, each with its own server endpoint (all on CPU 1)
        R["srd_rate_mp_t2"] = repeat(n, lambda: perf(
            d, "rate", ["-s", "64", "-w", "64", "-t", "2", "-D", str(secs)], work, "rate",
            server_args=["-t", "2"]))
        # silent sends (srdc_inject: no completion per message), 1 and 2 client threads
        for tag, t in (("", "1"), ("_t2", "2")):
            R[f"srd_rate_inject{tag}"] = repeat(n, lambda: perf(
                d, "rate", ["-s", "64", "--inject", "-t", t, "-D", str(secs)], work, "rate",
                server_args=["-t", t]))

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


def run_fi_baselines(R, n, iters):
    """fi_pingpong 64 B over libfabric's udp;ofi_rxd, tcp (veth) and shm (one host): the
    latency rows and the fabric rows share them, measured once per run."""
    for prov, tag, k in (("udp;ofi_rxd", "rxd", iters // 2), ("tcp", "tcp", iters // 2),
                         ("shm", "shm", iters)):
        if f"fi_{tag}_lat" not in R:
            R[f"fi_{tag}_lat"] = repeat(n, lambda: [fi_pingpong(prov, k)])


def run_fabric(R, o, work, n, secs, iters):
    """The libfabric provider srd against libfabric's tcp, udp;ofi_rxd and shm, srd-perf, and
    Open MPI's own TCP transport."""
    log("bench: the libfabric provider (fi_pingpong, fi_stream, Open MPI)")

    def with_srd(d):
        R["fi_srd_lat"] = repeat(n, lambda: [fi_pingpong_srd(d, iters // 5)])
        R["fi_srd_1m"] = repeat(n, lambda: [fi_pingpong_srd(d, 500, "1048576")])
        # the provider's stream and srd-perf's, run by turns: a shared machine's speed
        # drifts, and a copy-bound stream feels it more than srd-perf does (at least 5
        # pairs, medians compared).  Each pair carries srdd's share of its CPU in each run
        # and the distance between the two CPUs around it (cpu_link)
        for size, tag in ((1 << 20, "1m"), (16 << 20, "16m")):
            R[f"fi_stream_{tag}"], R[f"srd_bw_{tag}_w8"] = [], []
            for _ in range(max(n, 5)):
                before = cpu_link(d)
                fs = fi_stream(d, size, secs, work)
                bw = perf(d, "bw", ["-s", str(size), "-w", "8", "-D", str(secs)], work, "bw8")
                link = {"cpu_link_us": max(before, cpu_link(d))}
                R[f"fi_stream_{tag}"].append(dict(fs, **link))
                R[f"srd_bw_{tag}_w8"] += [dict(r, **link) for r in bw]
        # the message rate through the provider: srd-perf rate's size and window
        R["fi_stream_rate"] = repeat(n, lambda: [fi_stream(d, 64, secs, work, window=64)])
        R["mpi_srd_lat"] = repeat(n, lambda: [mpi_lat(d, iters // 5)])

    with_daemon(work, with_srd)
    run_fi_baselines(R, n, iters)
    for prov, tag in (("tcp", "tcp"), ("udp;ofi_rxd", "rxd"), ("shm", "shm")):
        # udp;ofi_rxd moves a MiB in tens of milliseconds: fewer round trips
        R[f"fi_{tag}_1m"] = repeat(n, lambda: [fi_pingpong(prov, 20 if tag == "rxd" else 500,
                                                           "1048576")])
    R["mpi_ob1_lat"] = repeat(n, lambda: [mpi_lat(None, iters // 5)])


def run_kernel(R, o, n, secs, iters):
    """The baselines: the kernel over veth (busy-polling first, then blocking), libfabric,
    and the cost ceilings."""
    log("bench: kernel and libfabric baselines, ceilings")
    for busy, kind in ((True, "busy"), (False, "blocking")):
        for proto in ("udp", "tcp"):
            R[f"sockperf_{proto}_{kind}"] = [
                dict(sockperf(proto, busy, secs, os.path.join(o.out, f"{proto}_{kind}{i}.log")),
                     log=f"{proto}_{kind}{i}.log") for i in range(n)]
    run_fi_baselines(R, n, iters)
    R["iperf3"] = [iperf3(secs) for _ in range(n)]
    R["memcpy"] = [memcpy(1) for _ in range(n)]
    R["testpmd"] = [testpmd(2 if o.quick else 4) for _ in range(n)]


def run_handover(R, o, n, iters):
    """The CPU trade between two apps on one CPU, alone; a cache line between two CPUs."""
    log("bench: hand-over between two processes (handover)")
    for mode in ("yield", "spin"):
        R[f"handover_{mode}"] = [
            dict(handover(mode, iters, os.path.join(o.out, f"handover_{mode}{i}.csv")),
                 log=f"handover_{mode}{i}.csv") for i in range(n)]


SECTIONS = ("srd", "handover", "kernel", "loss", "order", "fabric")
# what runs under one hold of --lock (each a few minutes at most): srd-perf's latency and
# the kernel's are compared, so they run back to back in one hold
LOCK_GROUPS = (("srd", "handover", "kernel"), ("loss",), ("order",), ("fabric",))


@contextlib.contextmanager
def held(path):
    """flock(2) on path for the block (what flock(1) takes: the same lock), or nothing."""
    if not path:
        yield
        return
    fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log(f"bench: waiting for {path}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(BUILD, "bench"))
    ap.add_argument("--quick", action="store_true", help="shorter runs (a smoke test)")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="sections to run: srd (latency, bandwidth, rate), handover (the "
                         "CPU trade between two apps), loss, order, fabric (the libfabric "
                         "provider), kernel (baselines); comma-separated")
    how = ap.add_mutually_exclusive_group()
    how.add_argument("--no-build", action="store_true",
                     help="measure what build-release/ holds (built before, e.g. with "
                          "--build-only, so that no build runs while measuring)")
    how.add_argument("--build-only", action="store_true",
                     help="install the tools and build, measure nothing")
    ap.add_argument("--lock", metavar="FILE",
                    help="measure only while holding flock(FILE) (e.g. /tmp/srd-measure.lock "
                         "on a shared machine), taken for each group of sections and released "
                         "between them; do not also wrap the command in flock(1) on FILE")
    o = ap.parse_args()
    only = set(o.only.split(","))
    if only - set(SECTIONS):
        sys.exit(f"bench.py: unknown section(s) {', '.join(sorted(only - set(SECTIONS)))}")
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root (namespaces, DPDK)")
    if not o.no_build:
        log("bench: installing tools, building (release, build-release/)")
        install_tools()
        build()
        if o.build_only:
            return
    elif not os.access(SRDD, os.X_OK):
        sys.exit(f"bench.py: {SRDD} is not built (run with --build-only first)")
    os.makedirs(o.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="srd-bench-")
    n = o.repeat
    secs = 1 if o.quick else 3
    iters = 20000 if o.quick else 100000
    rev = sh(["git", "-C", ROOT, "describe", "--always", "--dirty"], check=False).stdout
    res = {"machine": {"cpu": next((l.split(":", 1)[1].strip()
                                    for l in open("/proc/cpuinfo") if l.startswith("model name")),
                                   "?"),
                       "cpus": os.cpu_count(), "kernel": platform.release(),
                       "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())},
           "build": f"meson --buildtype={release_build.BUILDTYPE} -Db_lto=true "
                    f"(build-release/), tree {rev.strip() or '?'}",
           "pinning": "srdd worker: EAL lcore 0 on CPU 0, busy; srd-perf apps: CPU 1, "
                      "--poll yield; kernel and libfabric baselines: server CPU 0, client "
                      "CPU 1, busy-polling unless labelled blocking",
           "repeat": n, "quick": o.quick, "sections": sorted(only), "noise": {},
           "runs": {}}
    R = res["runs"]
    log(f"bench: {res['build']}; {res['pinning']}; median of {n} runs each")
    runs = {"srd": lambda: run_srd(R, o, work, n, iters, secs),
            "handover": lambda: run_handover(R, o, n, iters),
            "kernel": lambda: run_kernel(R, o, n, secs, iters),
            "loss": lambda: run_loss(R, work, n, secs),
            "order": lambda: run_order(R, work, n, secs),
            "fabric": lambda: run_fabric(R, o, work, n, secs, iters)}
    netns_up()
    try:
        for group in LOCK_GROUPS:
            todo = [s for s in group if s in only]
            if not todo:
                continue
            with held(o.lock):
                watch = noise.Watch()
                for section in todo:
                    runs[section]()
                rec = res["noise"][",".join(todo)] = watch.stop()
            if not noise.quiet(rec):
                log(f"bench: NOT QUIET during {','.join(todo)}: {noise.describe(rec)}")
    finally:
        netns_down()
        shutil.rmtree(work, ignore_errors=True)
    bench_report.report(res, o.out)


if __name__ == "__main__":
    main()
