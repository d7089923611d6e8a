#!/usr/bin/python3
"""test_capture.py SRDD SRDCTL XFER SRD_LUA -- packet capture, the dissector and metrics.

srdd runs on the crossed loopback pair with its impairment stage losing 5% of the packets on
every path.  `srdctl capture` records both ports while a transfer runs (xfer, every message
checked by the receiver) and while a sender tries an endpoint that does not exist (NACK
NO_EP, then ABANDON resends).  Then:

  - the pcapng opens with tshark and the dissector (tools/wireshark/srd.lua) decodes every
    SRD frame, with no malformed packet, no Lua error, no invalid-packet verdict;
  - what the capture holds matches what the daemon's counters say it sent over the same
    interval: data packets, retransmissions (RETX flag), ACKs, NACKs, RESETs, probes, and
    the frames the impairment stage dropped (each marked by a pcapng comment);
  - every frame one port sent and the stage did not drop was received by the other;
  - the retransmitted PSNs: every RETX frame's PSN was seen before on its interface (the
    dissector's srd.analysis.retransmission), and nothing else is flagged;
  - every ACK's SACK ranges, as the dissector shows them, are what its sack_base and
    SACK words (one to eight) say, and some ACKs carry SACK ranges;
  - the capture missed nothing (its ring never filled);
  - a second capture with a count, one port, a connection filter and a short snap length
    ends by itself with exactly that many frames, all of that port and connection, cut to
    that length, and still decodes without an error;
  - a transfer of small messages, which go packed several to a packet: the packed frames
    and their messages match engine.tx_packed_pkts / tx_packed_msgs;
  - crafted packets (an ACK with three SACK words, a packed DATA packet, and packets the
    codec refuses: a bad version, a flag not allowed, too many SACK words, a truncated ACK,
    a DATA segment of the wrong length, an unknown RESET reason, packed packets with one
    message, reserved bytes set, a count beyond its messages, a byte left over) decode with the ranges and drop reasons
    docs/wire-format.md gives, on SRD's port and, by the heuristic, on another;
  - `srdctl metrics` passes `promtool check metrics` (when promtool is installed) and this
    test's own check of the text format's rules, and its counters equal /srd/stats.
srdd must exit cleanly.  Prints "capture: N passed, N failed".
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRDD, SRDCTL, XFER, LUA = sys.argv[1:5]
PID = os.getpid()
PREFIX = f"srdcap-{PID}"
work = tempfile.mkdtemp(prefix="srd-capture-")
SOCK = os.path.join(work, "srdd.sock")
passed = failed = 0
procs = []


def check(what, ok, detail=""):
    global passed, failed
    print(f"  {'ok  ' if ok else 'FAIL'} {what} {detail}", flush=True)
    if ok:
        passed += 1
    else:
        failed += 1
    return ok


def start(argv, out):
    p = subprocess.Popen(argv, stdout=open(out, "w"), stderr=subprocess.STDOUT)
    procs.append(p)
    return p


def ctl_json(*what):
    for _ in range(30):
        p = subprocess.run([SRDCTL, "-p", PREFIX, "--json", *what], capture_output=True,
                           text=True)
        if p.returncode == 0:
            return json.loads(p.stdout)
        time.sleep(0.1)
    raise RuntimeError(f"srdctl {what}: {p.stderr}")


def counters():
    """The daemon's counters: engine and worker sums, impairment drops per port."""
    st = ctl_json("stats")
    ports = ctl_json("ports")
    c = {f"engine.{k}": v for k, v in st["engine"].items()}
    c.update({f"worker.{k}": v for k, v in st["worker"].items()})
    for p in ports.values():
        if isinstance(p, dict):
            c[f"drops.{p['name']}"] = (p["impair_drops_loss"] + p["impair_drops_black"] +
                                      p["impair_drops_queue"])
    return c


def quiesce():
    """Wait until nothing moves (the transfer's last acks are in)."""
    last, same = None, 0
    for _ in range(100):
        c = counters()
        key = (c["engine.tx_pkts"], c["engine.rx_pkts"], c["worker.tx_pkts"])
        same = same + 1 if key == last else 0
        if same >= 3:
            return c
        last = key
        time.sleep(0.1)
    return counters()


def config():
    cfg = {
        "eal": ["--no-huge", "--no-pci", "-m", "512", "--file-prefix", PREFIX, "-l", "0",
                "--log-level", "lib.eal:error"],
        "workers": 1,
        "idle": {"policy": "sleep", "max_sleep_us": 50},
        "control": {"socket": SOCK, "mode": "0660"},
        "apps": {"region_mb": 64},
        "log_level": "notice",
        # connections stay up until the metrics are read
        "protocol": {"conn_idle_ms": 20000},
        "ports": [{"name": "lo", "type": "loopback_pair",
                   "addresses": ["10.77.0.1/24", "10.77.0.2/24"],
                   "macs": ["02:00:00:77:00:01", "02:00:00:77:00:02"], "mtu": 9000,
                   "impair": {"enabled": True, "paths": 8, "seed": 7, "loss": 0.05}}],
    }
    path = os.path.join(work, "srdd.json")
    json.dump(cfg, open(path, "w"))
    return path


def transfer(seed, count, max_size):
    addr_file = os.path.join(work, f"addr-{seed}")
    recv = start([XFER, "recv", "--socket", SOCK, "--local", "10.77.0.2", "--addr-file",
                  addr_file, "--count", str(count), "--seed", str(seed), "--timeout-ms",
                  "60000", "--max-size", str(max_size)], os.path.join(work, f"recv-{seed}.out"))
    for _ in range(100):
        if os.path.exists(addr_file) and open(addr_file).read().strip():
            break
        time.sleep(0.05)
    to = open(addr_file).read().strip()
    send = start([XFER, "send", "--socket", SOCK, "--local", "10.77.0.1", "--to", to,
                  "--count", str(count), "--seed", str(seed), "--max-size", str(max_size),
                  "--timeout-ms", "60000"], os.path.join(work, f"send-{seed}.out"))
    ok = send.wait(90) == 0 and recv.wait(30) == 0
    return ok, open(os.path.join(work, f"send-{seed}.out")).read().strip()


# ---- the text exposition format ----

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABELS = r'\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\}'
SAMPLE = re.compile(rf"^({NAME})({LABELS})? (\S+)$")


def check_exposition(text):
    """The rules of the Prometheus text format (0.0.4) that a scraper relies on.  Returns a
    list of problems and the samples {(name, labels): value}."""
    problems, samples, types, helps, done = [], {}, {}, set(), set()
    current = None
    if not text.endswith("\n"):
        problems.append("no newline at the end")
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("# HELP "):
            name = line.split(" ", 3)[2]
            if name in helps:
                problems.append(f"line {n}: second HELP for {name}")
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            parts = line.split(" ")
            if len(parts) != 4 or parts[3] not in ("counter", "gauge", "untyped", "summary",
                                                   "histogram"):
                problems.append(f"line {n}: bad TYPE line")
                continue
            name = parts[2]
            if name in types:
                problems.append(f"line {n}: second TYPE for {name}")
            types[name] = parts[3]
            continue
        if line.startswith("#") or not line.strip():
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append(f"line {n}: not a sample: {line}")
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if name != current:
            if name in done:
                problems.append(f"line {n}: {name}'s samples are not together")
            if current:
                done.add(current)
            current = name
        if name not in types or name not in helps:
            problems.append(f"line {n}: {name} has no TYPE or HELP before it")
        if types.get(name) == "counter" and not name.endswith("_total"):
            problems.append(f"line {n}: counter {name} does not end in _total")
        if (name, labels) in samples:
            problems.append(f"line {n}: {name}{labels} twice")
        try:
            v = float(value)
            if types.get(name) == "counter" and v < 0:
                problems.append(f"line {n}: negative counter")
            samples[(name, labels)] = v
        except ValueError:
            problems.append(f"line {n}: bad value {value}")
    return problems, samples


# ---- the capture, decoded ----

FIELDS = ["frame.number", "frame.interface_id", "frame.packet_flags_direction",
          "frame.comment", "udp.dstport", "srd.type", "srd.flags", "srd.psn",
          "srd.ack.sack_base", "srd.ack.sack", "srd.ack.sack_word", "srd.ack.sack_range",
          "srd.nack.reason", "srd.data.packed",
          "srd.analysis.retransmission", "srd.invalid"]


def decode(pcap):
    argv = ["tshark", "-n", "-X", f"lua_script:{LUA}", "-r", pcap, "-T", "fields",
            "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=;"]
    for f in FIELDS:
        argv += ["-e", f]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    rows = []
    for line in p.stdout.splitlines():
        v = line.split("\t")
        rows.append(dict(zip(FIELDS, v + [""] * (len(FIELDS) - len(v)))))
    stderr = "\n".join(l for l in p.stderr.splitlines() if "Running as user" not in l)
    return p.returncode, rows, stderr


def sack_ranges(base, words):
    """The PSN ranges SACK words (word k covers base + 64k ..) name."""
    bitmap = sum(w << (64 * k) for k, w in enumerate(words))
    out, start = [], None
    for i in range(64 * len(words) + 1):
        on = i < 64 * len(words) and (bitmap >> i) & 1
        if on and start is None:
            start = i
        elif not on and start is not None:
            a, b = (base + start) % 2**32, (base + i - 1) % 2**32
            out.append(str(a) if a == b else f"{a}-{b}")
            start = None
    return out


def filtered_capture():
    """-c 20 -p lo1 -f conn=ID -s 64 while a small transfer runs."""
    conns = ctl_json("conns")
    ids = [c["local_id"] for c in conns.values()
           if isinstance(c, dict) and c["port"] == "lo1"]
    if not check("a connection on lo1 to filter on", len(ids) == 1, str(ids)):
        return
    pcap = os.path.join(work, "filtered.pcapng")
    out = os.path.join(work, "filtered.out")
    cap = start([SRDCTL, "-p", PREFIX, "capture", "-c", "20", "-p", "lo1", "-f",
                 f"conn={ids[0]:#x}", "-s", "64", pcap], out)
    for _ in range(100):
        if ctl_json("capture", "--status").get("id") == 2:
            break
        time.sleep(0.05)
    ok, text = transfer(4, 160, 16384)
    check("transfer during the filtered capture", ok, text)
    try:
        rc = cap.wait(30)
    except subprocess.TimeoutExpired:
        rc = None
    st = ctl_json("capture", "--status")
    check("the filtered capture ends at its count", rc == 0 and st.get("written") == 20 and
          st.get("end") == "count reached", json.dumps(st) + " " + open(out).read())
    p = subprocess.run(["tshark", "-n", "-X", f"lua_script:{LUA}", "-r", pcap, "-T", "fields",
                        "-E", "separator=\t", "-e", "frame.interface_id", "-e", "frame.cap_len",
                        "-e", "frame.len", "-e", "srd.src_conn", "-e", "srd.dst_conn", "-e",
                        "_ws.lua.error", "-e", "_ws.malformed"],
                       capture_output=True, text=True, timeout=60)
    rows = [l.split("\t") for l in p.stdout.splitlines()]
    good = [r for r in rows if len(r) >= 5 and r[0] == "1" and int(r[1]) <= 64 and
            ids[0] in (int(r[3] or "0", 16), int(r[4] or "0", 16)) and not "".join(r[5:])]
    check("20 frames of lo1 and the connection, cut to 64 bytes, decoded without an error",
          len(rows) == 20 and len(good) == 20 and any(int(r[2]) > 64 for r in rows),
          f"{len(rows)} frames, {len(good)} as expected; stderr: {p.stderr.strip()[:200]}")


def crafted():
    """Packets written by hand (docs/wire-format.md), decoded by the dissector."""
    import struct

    def frame(payload, dport=9371):
        udp = struct.pack(">HHHH", 0xc123, dport, 8 + len(payload), 0) + payload
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([10, 77, 0, 1]), bytes([10, 77, 0, 2])) + udp
        return bytes.fromhex("020000770002020000770001") + b"\x08\x00" + ip

    def ack(more, words):
        return struct.pack(">BBBBIIIIIIIQHHII", 0x12, 0, 4, more, 0x12340001, 0x56780002,
                           990, 0, 995, 1000, 512, words[0], 0, 3, 0, 1 << 24) + \
            b"".join(struct.pack(">Q", w) for w in words[1:])

    def data(payload_len, flags=0x10, ver=1):
        return struct.pack(">BBBBIIIIIIIHHHHQQ", ver << 4 | 1, flags, 3, 0, 0x12340001,
                           0x56780002, 100, 7, 1, 10, 100, 1024, 1, 1, 0, 0xabc, 5) + \
            bytes(payload_len)

    def packed(lens, count=None, rsvd=0, extra=b""):
        """A packed DATA packet: byte 3 counts the messages, each a 24-byte sub-header
        (msg_id, len, tag, imm) before its bytes."""
        subs = b"".join(struct.pack(">IIQQ", 7 + i, n, 0xabc, i) + bytes(n)
                        for i, n in enumerate(lens))
        return struct.pack(">BBBBIIIIHHHH", 0x11, 0x10, 3, len(lens) if count is None else count,
                           0x12340001, 0x56780002, 100, 7, 1, 1, 0, rsvd) + subs + extra

    wide = ack(2, [(1 << 63) | 0b111, 1, (1 << 5) | (1 << 63)])
    cases = [  # (payload, port, expected srd.invalid, expected SACK ranges)
        (wide, 9371, "", "1000-1002;1063-1064;1133;1191"),
        (wide, 5001, "", "1000-1002;1063-1064;1133;1191"),
        (data(10), 9371, "", ""),
        (data(10, ver=2), 9371, "bad_version", ""),
        (data(10, flags=0x04), 9371, "bad_header", ""),
        (data(11), 9371, "bad_length", ""),
        (ack(9, [1]), 9371, "bad_header", ""),
        (packed([64, 0, 5]), 9371, "", ""),
        (packed([64, 0, 5]), 5001, "", ""),
        (packed([64]), 9371, "bad_header", ""),
        (packed([64, 5], rsvd=1), 9371, "bad_header", ""),
        (packed([64, 5], count=3), 9371, "truncated", ""),
        (packed([64, 5], extra=b"\0"), 9371, "bad_length", ""),
        (wide[:60], 9371, "truncated", ""),
        (struct.pack(">BBBBIIII", 0x15, 0, 0, 0, 0x12340001, 0x56780002, 0, 9), 9371,
         "bad_header", ""),
    ]
    pcap = os.path.join(work, "crafted.pcap")
    with open(pcap, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for payload, port, _, _ in cases:
            fr = frame(payload, port)
            f.write(struct.pack("<IIII", 1, 0, len(fr), len(fr)) + fr)
    p = subprocess.run(["tshark", "-n", "-X", f"lua_script:{LUA}", "-r", pcap, "-T", "fields",
                        "-E", "occurrence=a", "-E", "aggregator=;", "-e", "srd.type", "-e",
                        "srd.invalid", "-e", "srd.ack.sack_range"],
                       capture_output=True, text=True, timeout=60)
    got = [tuple((l.split("\t") + ["", "", ""])[:3]) for l in p.stdout.splitlines()]
    want = [(("1" if c[0][0] & 15 == 1 else str(c[0][0] & 15)), c[2], c[3]) for c in cases]
    check("crafted packets: SACK words, drop reasons, the heuristic", got == want,
          f"got {got}, want {want}")


def main():
    if not shutil.which("tshark"):
        check("tshark is installed (scripts/setup.sh installs it)", False)
        return
    cfg = config()
    srdd = start([SRDD, "-c", cfg], os.path.join(work, "srdd.log"))
    for _ in range(200):
        if os.path.exists(SOCK):
            break
        time.sleep(0.05)
    check("srdd started", os.path.exists(SOCK))

    # warm up: neighbours resolved, so that every packet the engines produce reaches the
    # port (and the capture) from here on
    ok, out = transfer(1, 5, 4096)
    check("warm-up transfer", ok, out)

    before = quiesce()
    pcap = os.path.join(work, "srd.pcapng")
    cap_out = os.path.join(work, "capture.out")
    cap = start([SRDCTL, "-p", PREFIX, "capture", "-s", "128", pcap], cap_out)
    for _ in range(100):
        st = ctl_json("capture", "--status") if cap.poll() is None else {}
        if st.get("state") == "running":
            break
        time.sleep(0.05)
    check("capture running", st.get("state") == "running", json.dumps(st))

    ok, out = transfer(2, 200, 32768)
    check("transfer with 5% loss, every message intact and once", ok, out)
    ok, out = transfer(5, 400, 200)
    check("small messages (packed) with 5% loss, every message intact and once", ok, out)
    # an endpoint that does not exist: NACK NO_EP, the sender gives the messages up
    p = subprocess.run([XFER, "send", "--socket", SOCK, "--local", "10.77.0.1", "--to",
                        "10.77.0.2:77", "--count", "2", "--seed", "3", "--timeout-ms",
                        "20000"], capture_output=True, text=True, timeout=60)
    check("send to a missing endpoint fails with -ENXIO", '"first_error":-6' in p.stdout,
          p.stdout.strip())
    mid = quiesce()

    # metrics while the connections exist
    m = subprocess.run([SRDCTL, "-p", PREFIX, "metrics"], capture_output=True, text=True)
    check("srdctl metrics", m.returncode == 0, m.stderr.strip())
    problems, samples = check_exposition(m.stdout)
    check("metrics follow the text format's rules", not problems, "; ".join(problems[:5]))
    if shutil.which("promtool"):
        pt = subprocess.run(["promtool", "check", "metrics"], input=m.stdout,
                            capture_output=True, text=True)
        check("promtool check metrics", pt.returncode == 0, (pt.stdout + pt.stderr).strip())
    else:
        print("  (promtool not installed: its check skipped)")
    for key in ("tx_retx_pkts", "tx_acks", "tx_nacks", "msgs_delivered"):
        v = samples.get((f"srd_engine_{key}_total", '{worker="0"}'))
        check(f"metric srd_engine_{key}_total equals /srd/stats", v == mid[f"engine.{key}"],
              f"{v} vs {mid[f'engine.{key}']}")
    paths = [k for k in samples if k[0] == "srd_path_srtt_seconds"]
    check("per-path RTT series with port, worker, peer and path labels",
          len(paths) >= 16 and all(re.search(r'port="lo\d",worker="0",peer="10\.77\.0\.\d",'
                                             r'peer_worker="0",path="\d+"', k[1])
                                   for k in paths), f"{len(paths)} series")
    check("impairment drops by reason",
          sum(v for k, v in samples.items() if k[0] == "srd_impair_drops_total"
              and 'reason="loss"' in k[1]) == sum(v for k, v in mid.items()
                                                   if k.startswith("drops.")))

    cap.send_signal(signal.SIGINT)
    rc = cap.wait(30)
    capture_log = open(cap_out).read()
    check("srdctl capture ended cleanly", rc == 0, capture_log.strip())
    after = counters()
    st = ctl_json("capture", "--status")
    check("the capture missed nothing", st.get("dropped") == 0 and st.get("written", 0) > 0,
          json.dumps(st))
    moved = [k for k in ("engine.tx_pkts", "worker.tx_pkts", "worker.rx_pkts")
             if after[k] != mid[k]]
    check("nothing moved between the last count and the end of the capture", not moved,
          str(moved))
    d = {k: mid[k] - before[k] for k in mid if k in before}
    check("no packet lost before the port (neighbour, route, link)",
          d["worker.tx_no_neigh"] == 0 and d["worker.tx_no_route"] == 0 and
          d["worker.tx_link_down"] == 0, str({k: d[k] for k in ("worker.tx_no_neigh",
                                                                 "worker.tx_no_route",
                                                                 "worker.tx_link_down")}))

    rc, rows, stderr = decode(pcap)
    check("tshark reads the capture with the dissector", rc == 0 and len(rows) > 0 and
          not stderr.strip(), f"rc {rc}, {len(rows)} frames, stderr: {stderr[:300]}")
    bad = subprocess.run(["tshark", "-n", "-X", f"lua_script:{LUA}", "-r", pcap, "-Y",
                          "_ws.malformed || _ws.lua.error || srd.invalid || "
                          "_ws.expert.severity >= 8388608"],
                         capture_output=True, text=True, timeout=120)
    check("no malformed packet, Lua error or invalid SRD packet",
          bad.returncode == 0 and not bad.stdout.strip(), bad.stdout[:500])
    udp = [r for r in rows if r["udp.dstport"]]
    srd = [r for r in rows if r["srd.type"]]
    check("every UDP frame decoded as SRD", len(udp) == len(srd) > 0,
          f"{len(udp)} UDP, {len(srd)} SRD")

    out_ = [r for r in srd if r["frame.packet_flags_direction"] == "0x00000002"]
    dropped = [r for r in out_ if r["frame.comment"].startswith("srd: dropped")]

    def count(rows_, t, flag=None):
        return sum(1 for r in rows_ if r["srd.type"] == str(t) and
                   (flag is None or int(r["srd.flags"], 16) & flag))

    for name, key, n in (("data packets", "tx_data_pkts", count(out_, 1)),
                         ("retransmissions (RETX)", "tx_retx_pkts", count(out_, 1, 0x08)),
                         ("ACKs", "tx_acks", count(out_, 2)),
                         ("NACKs", "tx_nacks", count(out_, 3)),
                         ("probes", "tx_probes", count(out_, 4)),
                         ("RESETs", "tx_resets", count(out_, 5)),
                         ("SRD packets", "tx_pkts", len(out_))):
        check(f"sent {name} in the capture = engine.{key}", n == d[f"engine.{key}"],
              f"{n} vs {d[f'engine.{key}']}")
    check("at least one NACK or RESET", count(out_, 3) + count(out_, 5) > 0)
    packed = [r for r in out_ if r["srd.data.packed"] and not int(r["srd.flags"], 16) & 0x08]
    check("packed data packets in the capture = engine.tx_packed_pkts",
          len(packed) == d["engine.tx_packed_pkts"] > 0,
          f"{len(packed)} vs {d['engine.tx_packed_pkts']}")
    check("their messages = engine.tx_packed_msgs",
          sum(int(r["srd.data.packed"]) for r in packed) == d["engine.tx_packed_msgs"])
    check("NACK reasons are NO_EP", all(r["srd.nack.reason"] == "3"
                                        for r in out_ if r["srd.type"] == "3"))
    drops = sum(v for k, v in d.items() if k.startswith("drops."))
    check("frames marked dropped = the impairment stage's drops", len(dropped) == drops > 0,
          f"{len(dropped)} vs {drops}")
    for a, b in (("0", "1"), ("1", "0")):
        sent = sum(1 for r in out_ if r["frame.interface_id"] == a and
                   not r["frame.comment"].startswith("srd: dropped"))
        recv = sum(1 for r in srd if r["frame.interface_id"] == b and
                   r["frame.packet_flags_direction"] == "0x00000001")
        check(f"what port {a} sent and the stage kept, port {b} received", sent == recv,
              f"{sent} vs {recv}")

    retx = {r["frame.number"] for r in out_ if r["srd.type"] == "1" and
            int(r["srd.flags"], 16) & 0x08}
    seen_twice = {r["frame.number"] for r in out_ if r["srd.analysis.retransmission"]}
    check("retransmitted PSNs: every RETX frame's PSN seen before, nothing else",
          retx == seen_twice and len(retx) > 0,
          f"{len(retx)} RETX, {len(seen_twice)} seen twice, differ: "
          f"{sorted(retx ^ seen_twice)[:5]}")

    acks = [r for r in srd if r["srd.type"] == "2"]
    def words(r):
        return [int(w, 16) for w in [r["srd.ack.sack"]] + r["srd.ack.sack_word"].split(";")
                if w]

    wrong = [r["frame.number"] for r in acks
             if sack_ranges(int(r["srd.ack.sack_base"]), words(r)) !=
             [x for x in r["srd.ack.sack_range"].split(";") if x]]
    with_sack = sum(1 for r in acks if r["srd.ack.sack_range"])
    check("ACK SACK ranges match sack_base and the bitmap", not wrong and with_sack > 0,
          f"{with_sack} of {len(acks)} ACKs with ranges; wrong in frames {wrong[:5]}")

    filtered_capture()
    crafted()

    srdd.send_signal(signal.SIGTERM)
    rc = srdd.wait(30)
    log = open(os.path.join(work, "srdd.log")).read()
    check("srdd exits cleanly", rc == 0 and "still in use" not in log, log[-500:])


try:
    main()
except Exception as e:  # a crash of the test is a failure, with its reason
    import traceback
    traceback.print_exc()
    check("test ran to the end", False, repr(e))
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    subprocess.run(["rm", "-rf", work, f"/var/run/dpdk/{PREFIX}"])
print(f"capture: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
