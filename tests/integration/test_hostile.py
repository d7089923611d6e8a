#!/usr/bin/python3
"""test_hostile.py SRDD SRDCTL XFER -- hostile packets against a running srdd.

srdd runs inside a network namespace the test creates, with two net_tap ports (10.92.1.2
and 10.92.2.2, each behind the namespace's kernel acting as their gateway).  A legitimate
transfer runs from one port's address to the other's, through the kernel's routing.
Meanwhile packets crafted with scapy (python3-scapy) arrive from the namespace: truncated
and malformed headers, wrong versions and types, bogus lengths and offsets, ids of no
connection, PSNs far outside the window and acks for packets never sent on the live
connection's own ids, another peer using its ids and the wrong UDP ports.  Before the
transfer starts, a flood of connection set-ups from spoofed addresses hits the receiving
port: they take at most setup_cookie_pct of its table, the rest are refused (need_cookie),
and the legitimate sender, a new peer, still gets a connection by echoing its cookie.

Each kind must be dropped and counted under its reason (srdctl stats); the spoofed
connections are closed after conn_idle_ms; the legitimate transfer completes with every
message intact, exactly once; srdd exits cleanly.
Prints "hostile: N passed, N failed".
"""

import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time

SRDD, SRDCTL, XFER = sys.argv[1:4]
PID = os.getpid()
NS = f"srdhost-{PID}"
TAP_A, TAP_B = f"srdhA{PID % 100000}", f"srdhB{PID % 100000}"
PREFIX = f"srdhost-{PID}"
ADDR_A, ADDR_B = "10.92.1.2", "10.92.2.2"
PORT = 9371
N = 20            # packets of each kind
MAX_CONNS = 64
COOKIE_PCT = 75   # protocol.setup_cookie_pct (the default)

work = tempfile.mkdtemp(prefix="srd-hostile-")
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    print(f"  {'ok  ' if ok else 'FAIL'} {what} {detail}", flush=True)
    if ok:
        passed += 1
    else:
        failed += 1


def sh(cmd, check_rc=True):
    return subprocess.run(cmd, shell=True, check=check_rc, text=True, capture_output=True)


def tel(what):
    for _ in range(20):
        p = subprocess.run([SRDCTL, "-p", PREFIX, "--json", what], capture_output=True,
                           text=True)
        if p.returncode == 0:
            return json.loads(p.stdout)
        time.sleep(0.1)
    raise RuntimeError(f"srdctl {what}: {p.stderr}")


def stats():
    return tel("stats")


def conns():
    return tel("conns")


# ---- SRD packets (docs/wire-format.md) ----

M64 = (1 << 64) - 1


def isn(conn_id):
    """A connection's first PSN: splitmix64's finaliser of its id (docs/wire-format.md)."""
    z = (conn_id + 0x9e3779b97f4a7c15) & M64
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
    return (z ^ (z >> 31)) & 0xffffffff


def common(ptype, flags, dst, src, psn, ver=1, path=0):
    return struct.pack(">BBBBIII", (ver << 4) | ptype, flags, path, 0, dst, src, psn)


def data(dst, src, psn, msg_id=1, msg_len=100, msg_psn=None, seg=1024, payload=None,
         flags=0x10, ver=1):
    msg_psn = psn if msg_psn is None else msg_psn
    hdr = common(1, flags, dst, src, psn, ver) + struct.pack(
        ">IIIIHHHHQ", 0, msg_id, msg_len, msg_psn, seg, 1, 1, 0, 0)
    if psn == msg_psn:
        hdr += struct.pack(">Q", 0)  # segment 0 carries the immediate
    if payload is None:
        payload = bytes(min(seg, msg_len))
    return hdr + payload


def ack(dst, src, cum_psn):
    # common (psn: the cumulative PSN) + echo_ts, acked_psn, sack_base, credit, sack,
    # ce_count, pkt_count, ack_delay_ns, max_msg: 52 bytes
    body = struct.pack(">IIIIQHHII", 0, cum_psn - 1, cum_psn, 512, 0, 0, 1, 0, 1 << 24)
    return common(2, 0, dst, src, cum_psn) + body


def inject(packets, dst=ADDR_A):
    """Send [(src_ip, sport, dport, payload)] to dst from inside the namespace with scapy."""
    spec = os.path.join(work, "inject.json")
    json.dump([(s, sp, dp, p.hex()) for s, sp, dp, p in packets], open(spec, "w"))
    code = (
        "import json,sys\n"
        "from scapy.all import IP, UDP, Raw, send, conf\n"
        "conf.verb = 0\n"
        f"pk = [IP(src=s, dst='{dst}')/UDP(sport=sp, dport=dp)/Raw(bytes.fromhex(h))"
        f" for s, sp, dp, h in json.load(open('{spec}'))]\n"
        "send(pk, inter=0.0002)\n")
    sh(f"ip netns exec {NS} /usr/bin/python3 -c \"{code}\"")


def main():
    random.seed(7)
    cfg = {
        "eal": ["--no-huge", "--no-pci", "-m", "512", "--file-prefix", PREFIX, "-l", "0",
                "--log-level", "lib.eal:error"],
        "idle": {"policy": "sleep", "max_sleep_us": 50},
        "control": {"socket": os.path.join(work, "srdd.sock")},
        "apps": {"region_mb": 96},
        "protocol": {"max_conns": MAX_CONNS, "conn_idle_ms": 3000,
                     "setup_cookie_pct": COOKIE_PCT},
        "ports": [
            {"name": "ta", "type": "vdev", "device": f"net_tap0,iface={TAP_A}",
             "address": f"{ADDR_A}/24", "gateway": "10.92.1.1", "mtu": 1500},
            {"name": "tb", "type": "vdev", "device": f"net_tap1,iface={TAP_B}",
             "address": f"{ADDR_B}/24", "gateway": "10.92.2.1", "mtu": 1500},
        ],
    }
    cfg_path = os.path.join(work, "srdd.json")
    json.dump(cfg, open(cfg_path, "w"))
    sh(f"ip netns add {NS}")
    sh(f"ip netns exec {NS} sysctl -q -w net.ipv4.ip_forward=1")
    log = open(os.path.join(work, "srdd.log"), "w")
    srdd = subprocess.Popen(["ip", "netns", "exec", NS, SRDD, "-c", cfg_path], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            if os.path.exists(cfg["control"]["socket"]):
                break
            time.sleep(0.05)
        for tap, gw in ((TAP_A, "10.92.1.1"), (TAP_B, "10.92.2.1")):
            sh(f"ip -n {NS} addr add {gw}/24 dev {tap} && ip -n {NS} link set {tap} up")
        run(cfg["control"]["socket"])
    finally:
        srdd.terminate()
        rc = srdd.wait(timeout=20)
        log.close()
        text = open(log.name).read()
        check("srdd stopped cleanly", rc == 0 and "still in use" not in text,
              "" if rc == 0 else text[-2000:])
        sh(f"ip netns del {NS}", check_rc=False)
        sh(f"rm -rf {work} /var/run/dpdk/{PREFIX}", check_rc=False)
    print(f"hostile: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


def run(sock):
    count = 4000
    addr_file = os.path.join(work, "addr")
    # a flood of set-ups from spoofed addresses at the receiving port (tb), more than its
    # table holds, before the legitimate sender (a new peer for tb) starts
    start = stats()
    flood = [(f"10.92.{random.randint(3, 200)}.{random.randint(1, 254)}", 0xc000 | i, PORT,
              data(0, 0x10000 + i, isn(0x10000 + i), msg_len=0, payload=b"", flags=0x11))
             for i in range(3 * MAX_CONNS)]
    inject(flood, dst=ADDR_B)
    time.sleep(0.2)
    flooded = stats()
    held = flooded["engine"]["conns_active"] - start["engine"]["conns_active"]
    refused = flooded["engine_drops"]["need_cookie"] - start["engine_drops"]["need_cookie"]
    check("spoofed set-ups take at most setup_cookie_pct of the table",
          held <= MAX_CONNS * COOKIE_PCT // 100, f"({held} of {MAX_CONNS})")
    check("the other spoofed set-ups are refused (need_cookie)",
          refused >= 3 * MAX_CONNS - MAX_CONNS * COOKIE_PCT // 100, f"(+{refused})")
    common_args = ["--socket", sock, "--count", str(count), "--seed", "17", "--timeout-ms",
                   "120000"]
    recv = subprocess.Popen([XFER, "recv", "--local", ADDR_B, "--addr-file", addr_file]
                            + common_args, stdout=subprocess.PIPE, text=True)
    for _ in range(500):
        if os.path.exists(addr_file) and open(addr_file).read().strip():
            break
        time.sleep(0.01)
    to = open(addr_file).read().strip()
    send = subprocess.Popen([XFER, "send", "--local", ADDR_A, "--to", to] + common_args,
                            stdout=subprocess.PIPE, text=True)
    # the live connection's ids, as port ta (10.92.1.2) knows them
    live = None
    for _ in range(500):
        c = conns()
        for v in c.values():
            if isinstance(v, dict) and v.get("port") == "ta" and v.get("peer") == ADDR_B \
                    and v.get("peer_id"):
                live = v
        if live:
            break
        time.sleep(0.01)
    check("the legitimate connection is up", live is not None)
    taken = stats()["engine"]["cookies_taken"] - start["engine"]["cookies_taken"]
    check("the legitimate sender, a new peer, got in with a cookie", taken >= 1,
          f"(cookies taken {taken})")
    if not live:
        return
    L, P = live["local_id"], live["peer_id"]
    before = stats()
    stranger, sport = "10.92.1.1", 0xc000 | 5
    kinds = {
        "truncated": [(stranger, sport, PORT, bytes(8))],
        "bad_version": [(stranger, sport, PORT, data(0, 99, 1, flags=0x11, ver=2))],
        "bad_type": [(stranger, sport, PORT, common(7, 0, 5, 99, 1))],
        "bad_length": [(stranger, sport, PORT, data(0, 99, 1, flags=0x11, msg_len=500,
                                                     payload=bytes(100)))],
        "bad_offset": [(stranger, sport, PORT, data(0, 99, 9, msg_psn=1, msg_len=100,
                                                     flags=0x11))],
        "unknown_conn": [(stranger, sport, PORT, data(0x7777, 99, 1))],
        # on the live connection's own ids, from its own peer's address
        # (ta receives no data on it: its next expected PSN is still the peer's first)
        "psn_window": [(ADDR_B, sport, PORT, data(L, P, (isn(P) + 0x100000 + i) & 0xffffffff))
                       for i in range(N)],
        # acks far beyond anything ta has sent (its PSNs start at isn(L))
        "ack_unsent": [(ADDR_B, sport, PORT, ack(L, P, (isn(L) + 0x40000000 + i) & 0xffffffff))
                       for i in range(N)],
        # its ids, from another address
        "peer_mismatch": [(stranger, sport, PORT, data(L, P, 5))],
    }
    net_kinds = {
        "wrong_port": [(stranger, sport, PORT + 50, data(0, 99, 1, flags=0x11))],
        "src_port": [(stranger, 5000, PORT, data(0, 99, 1, flags=0x11))],
    }
    packets = []
    for k, v in list(kinds.items()) + list(net_kinds.items()):
        packets += (v * N)[:N] if len(v) == 1 else v
    random.shuffle(packets)
    inject(packets)
    time.sleep(0.5)
    after = stats()
    for group in ("engine_drops", "net_drops"):
        changed = {k: after[group][k] - before[group][k] for k in after[group]
                   if after[group][k] != before[group][k]}
        print(f"  {group} changed: {changed}")
    for k in kinds:
        d = after["engine_drops"][k] - before["engine_drops"][k]
        check(f"engine drop {k}", d >= N, f"(+{d})")
    for k in net_kinds:
        d = after["net_drops"][k] - before["net_drops"][k]
        check(f"framing drop {k}", d >= N, f"(+{d})")
    # the transfer
    s_out, r_out = send.communicate(timeout=180)[0], recv.communicate(timeout=60)[0]
    s, r = json.loads(s_out.strip().splitlines()[-1]), json.loads(r_out.strip().splitlines()[-1])
    check("the legitimate transfer completed intact, exactly once",
          send.returncode == 0 and recv.returncode == 0 and r["received"] == count and
          r["bad"] == 0 and r["duplicates"] == 0, f"{s} {r}")
    # the spoofed connections go after conn_idle_ms; the table is free again
    deadline = time.time() + 10
    while time.time() < deadline and stats()["engine"]["conns_active"] > 2:
        time.sleep(0.2)
    check("spoofed connections are closed after conn_idle_ms",
          stats()["engine"]["conns_active"] <= 2, f"({stats()['engine']['conns_active']})")
    text = subprocess.run([SRDCTL, "-p", PREFIX, "stats"], capture_output=True,
                          text=True).stdout
    check("srdctl stats shows the drops by reason",
          "engine_drops.bad_version" in text and "net_drops.src_port" in text)


if __name__ == "__main__":
    main()
