#!/usr/bin/env python3
"""soak.py -- srdd under sustained mixed traffic with the impairment stage on (not part of the
test command).

For --minutes (default 10) two transfers run at all times, one each way across the crossed
loopback pair, in rounds of --round messages with sizes log-uniform between 1 B and 1 MiB;
every message's bytes are checked by the receiving app (tests/integration/xfer.c) and each
round must deliver every message exactly once.  The impairment stage emulates 8 paths of
25 Gbit/s and 2 us with --loss random loss (default 1%).  Each minute it prints throughput,
messages, retransmissions and failed rounds; at the end, once traffic has stopped, it checks
that the daemon is back to its idle state: no apps, endpoints, lent buffers, sends in flight
or connections, and every mbuf back in its pool (as before the traffic, and at shutdown).

  sudo python3 tests/bench/soak.py [--minutes M] [--loss P] [--round N]
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("bench", os.path.join(HERE, "bench.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
XFER = os.path.join(bench.BUILD, "tests/xfer")


def tel(cmd):
    out = subprocess.run([bench.SRDCTL, "-p", bench.PREFIX, "--json", cmd],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def idle_state():
    st, ports = tel("stats"), tel("ports")
    state = {k: st["shm"][k] for k in ("apps", "endpoints", "rx_bufs_lent", "sends_inflight")}
    state["conns_active"] = st["engine"]["conns_active"]
    state["mbufs_avail"] = {n: p["mbufs_avail"] for n, p in ports.items()
                            if isinstance(p, dict)}
    return state


class Transfer:
    """One round: an xfer receiver on `dst`, an xfer sender on `src`."""

    def __init__(self, daemon, work, src, dst, count, seed):
        self.count = count
        addr = os.path.join(work, f"addr-{seed}")
        if os.path.exists(addr):
            os.unlink(addr)
        common = ["--socket", daemon.socket, "--count", str(count), "--seed", str(seed),
                  "--timeout-ms", "300000"]
        self.recv = subprocess.Popen([XFER, "recv", "--local", dst, "--addr-file", addr]
                                     + common, stdout=subprocess.PIPE, text=True)
        for _ in range(500):
            if os.path.exists(addr) and open(addr).read().strip():
                break
            time.sleep(0.01)
        to = open(addr).read().strip()
        self.send = subprocess.Popen([XFER, "send", "--local", src, "--to", to] + common,
                                     stdout=subprocess.PIPE, text=True)

    def done(self):
        return self.send.poll() is not None and self.recv.poll() is not None

    def result(self):
        s = json.loads(self.send.communicate()[0].strip().splitlines()[-1])
        r = json.loads(self.recv.communicate()[0].strip().splitlines()[-1])
        ok = (self.send.returncode == 0 and self.recv.returncode == 0 and
              r["received"] == self.count and r["bad"] == 0 and r["duplicates"] == 0)
        return ok, s, r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--loss", type=float, default=0.01)
    ap.add_argument("--round", type=int, default=3000, help="messages per round")
    ap.add_argument("--out", default=os.path.join(bench.BUILD, "soak.json"))
    o = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak.py: run as root (DPDK)")
    bench.build()
    subprocess.run(["meson", "compile", "-C", bench.BUILD, "xfer"], check=True,
                   capture_output=True)
    work = tempfile.mkdtemp(prefix="srd-soak-")
    impair = {"paths": 8, "seed": 3, "rate_gbps": 25, "delay_us": 2, "loss": o.loss}
    d = bench.Daemon(work, impair=impair)
    report = {"minutes": o.minutes, "loss": o.loss, "per_minute": [], "failed_rounds": 0}
    try:
        before = idle_state()
        print(f"soak: {o.minutes} min, loss {o.loss}, rounds of {o.round} messages each way; "
              f"idle: {before}", flush=True)
        start = time.time()
        end = start + o.minutes * 60
        seed = 100
        flows = []
        for src, dst in (("10.77.0.1", "10.77.0.2"), ("10.77.0.2", "10.77.0.1")):
            seed += 1
            flows.append([src, dst, Transfer(d, work, src, dst, o.round, seed)])
        last = tel("stats")["engine"]
        next_report = start + 60
        rounds = 0
        while flows:
            time.sleep(0.2)
            now = time.time()
            for f in list(flows):
                if not f[2].done():
                    continue
                ok, s, r = f[2].result()
                rounds += 1
                if not ok:
                    report["failed_rounds"] += 1
                    print(f"soak: a round failed: {s} {r}", flush=True)
                if now < end:
                    seed += 1
                    f[2] = Transfer(d, work, f[0], f[1], o.round, seed)
                else:
                    flows.remove(f)
            if now >= next_report or not flows:
                eng = tel("stats")["engine"]
                dt = now - (next_report - 60)
                line = {
                    "minute": round((now - start) / 60, 2),
                    "gbps": round((eng["rx_payload_bytes"] - last["rx_payload_bytes"]) * 8
                                  / dt / 1e9, 3),
                    "msgs": eng["msgs_delivered"] - last["msgs_delivered"],
                    "retransmits": eng["tx_retx_pkts"] - last["tx_retx_pkts"],
                    "msgs_failed": eng["msgs_failed"] - last["msgs_failed"],
                    "rounds": rounds,
                }
                report["per_minute"].append(line)
                print(f"soak: {json.dumps(line)}", flush=True)
                last = eng
                next_report = now + 60
        time.sleep(1.5)  # connections close after conn_idle_ms of idleness
        after = idle_state()
        report["idle_before"], report["idle_after"] = before, after
        report["back_to_idle"] = after == before
        print(f"soak: after: {after}; back to idle: {report['back_to_idle']}", flush=True)
    finally:
        d.stop()  # raises if srdd did not exit cleanly or kept mbufs
    json.dump(report, open(o.out, "w"), indent=1)
    ok = report["back_to_idle"] and report["failed_rounds"] == 0
    print(f"soak: {'passed' if ok else 'FAILED'}; report in {o.out}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
