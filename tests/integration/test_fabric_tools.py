#!/usr/bin/python3
"""test_fabric_tools.py SRDD SRDCTL PROVIDER_DIR [MPI_RUNNER MPI_CHECK] -- libfabric's tools and
Open MPI over the srd provider, from the build tree (FI_PROVIDER_PATH=PROVIDER_DIR).

  - no srdd: `fi_info -p srd` fails and, at FI_LOG_LEVEL=warn, says why;
  - `fi_info -l` lists srd, `fi_info -p srd` shows a domain per srdd address,
    `fi_info -e` documents the FI_SRD_* parameters;
  - `fi_pingpong -e rdm -p srd` in -m msg and -m tagged, -S all -c (every size, data
    checked): over the crossed loopback pair (server on 10.77.0.2, client on 10.77.0.1),
    through the impairment stage (5% loss, one of 8 paths blackholed; srdctl shows the
    retransmissions), and between two srdd joined by net_memif;
  - Open MPI with the OFI MTL and mtl_ofi_provider_include srd, 2 and 4 ranks, running the
    project's MPI checks (tests/mpi), its output proving srd carried the traffic.

Each srdd has its own --file-prefix, control socket and temporary directory; everything is
stopped and removed even when a check fails.  Prints "fabric tools: N passed, N failed".
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRDD, SRDCTL, PROV_DIR = sys.argv[1:4]
MPI_RUNNER, MPI_CHECK = (sys.argv[4], sys.argv[5]) if len(sys.argv) > 5 else (None, None)
PID = os.getpid()
work = tempfile.mkdtemp(prefix="srd-fabric-")
procs = []
prefixes = []
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    print(f"  {'ok  ' if ok else 'FAIL'} {what} {detail}".rstrip(), flush=True)
    if ok:
        passed += 1
    else:
        failed += 1
    return ok


def env(**kw):
    e = dict(os.environ, FI_PROVIDER_PATH=PROV_DIR)
    e.pop("FI_PROVIDER", None)
    e.update({k: str(v) for k, v in kw.items()})
    return e


def run(cmd, timeout=120, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


class Daemon:
    """One srdd: config, socket, log and EAL prefix in a directory of its own."""

    def __init__(self, name, ports, protocol=None):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir)
        self.socket = os.path.join(self.dir, "srdd.sock")
        self.prefix = f"srdfab-{name}-{PID}"
        prefixes.append(self.prefix)
        cfg = {
            "eal": ["--no-huge", "--no-pci", "-m", "512", "--file-prefix", self.prefix,
                    "-l", "0", "--log-level", "lib.eal:error"],
            "idle": {"policy": "sleep", "max_sleep_us": 20},
            "control": {"socket": self.socket},
            "apps": {"region_mb": 96},
            "log_level": "notice",
            "protocol": dict({"max_rnr_retries": 0}, **(protocol or {})),
            "ports": ports,
        }
        self.config = os.path.join(self.dir, "srdd.json")
        json.dump(cfg, open(self.config, "w"), indent=1)
        self.log = open(os.path.join(self.dir, "srdd.log"), "w")
        self.proc = subprocess.Popen([SRDD, "-c", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        procs.append(self.proc)
        for _ in range(300):
            if os.path.exists(self.socket):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("srdd did not start: " + open(self.log.name).read())

    def stats(self):
        """srdctl stats (telemetry may be busy for a moment: asked again)."""
        for _ in range(20):
            p = run([SRDCTL, "-p", self.prefix, "--json", "stats"])
            if p.returncode == 0:
                return json.loads(p.stdout)
            time.sleep(0.1)
        return {"error": p.stderr}

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        self.log.close()
        return check(f"srdd {os.path.basename(self.dir)} stops cleanly", rc == 0,
                     "" if rc == 0 else open(self.log.name).read()[-2000:])


def loopback(name, impair=None):
    port = {"name": "lo", "type": "loopback_pair",
            "addresses": ["10.77.0.1/24", "10.77.0.2/24"],
            "macs": ["02:00:00:77:00:01", "02:00:00:77:00:02"], "mtu": 9000}
    if impair:
        port["impair"] = dict(impair, enabled=True)
    return Daemon(name, [port])


def pingpong(what, srv_sock, srv_dom, cli_sock, cli_dom, mode, iters=10):
    """fi_pingpong server and client; both must exit 0 with one row per size."""
    ctl = 47592 + PID % 1000
    args = ["fi_pingpong", "-e", "rdm", "-p", "srd", "-m", mode, "-S", "all", "-c",
            "-I", str(iters), "-B", str(ctl)]
    srv = subprocess.Popen(args + ["-d", srv_dom], env=env(FI_SRD_SOCKET=srv_sock),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    procs.append(srv)
    time.sleep(0.3)
    try:
        cli = run(args[:-2] + ["-P", str(ctl), "-d", cli_dom, "127.0.0.1"],
                  env=env(FI_SRD_SOCKET=cli_sock), timeout=240)
    except subprocess.TimeoutExpired:
        srv.kill()
        return check(f"fi_pingpong {what} -m {mode}", False, "client timed out")
    try:
        out_s = srv.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        srv.kill()
        out_s = srv.communicate()[0]
    rows = [l for l in cli.stdout.splitlines() if l[:1].isdigit()]
    ok = cli.returncode == 0 and srv.returncode == 0 and len(rows) >= 40
    return check(f"fi_pingpong {what} -m {mode} -S all -c", ok,
                 f"({len(rows)} sizes, largest: {rows[-1].split()[0] if rows else '-'})" if ok
                 else f"\nclient rc {cli.returncode}:\n{cli.stdout}{cli.stderr}\n"
                      f"server rc {srv.returncode}:\n{out_s}")


def main():
    # ---- no daemon ----
    p = run(["fi_info", "-p", "srd"], env=env(FI_SRD_SOCKET=f"{work}/none.sock",
                                              FI_LOG_LEVEL="warn"))
    check("no srdd: fi_info -p srd fails", p.returncode != 0)
    check("no srdd: the warning says why", "no srdd at" in p.stderr, p.stderr[-300:])

    # ---- the crossed loopback pair ----
    d = loopback("lo")
    p = run(["fi_info", "-l"], env=env(FI_SRD_SOCKET=d.socket))
    check("fi_info -l lists srd", "srd:" in p.stdout)
    p = run(["fi_info", "-p", "srd"], env=env(FI_SRD_SOCKET=d.socket))
    doms = [l.split(":", 1)[1].strip() for l in p.stdout.splitlines() if "domain:" in l]
    check("fi_info -p srd: a domain per address", doms == ["10.77.0.1", "10.77.0.2"], str(doms))
    p = run(["fi_info", "-p", "srd", "-v"], env=env(FI_SRD_SOCKET=d.socket))
    check("fi_info -p srd -v: RDM, tagged, 64-bit tags",
          "FI_EP_RDM" in p.stdout and "FI_TAGGED" in p.stdout and
          "mem_tag_format: 0xffffffffffffffff" in p.stdout)
    p = run(["fi_info", "-e"], env=env(FI_SRD_SOCKET=d.socket))
    check("fi_info -e documents FI_SRD_*",
          all(f"FI_SRD_{v}" in p.stdout
              for v in ("SOCKET", "ADDR", "SEGMENT", "UNEXP_HOLD", "YIELD")))
    for mode in ("msg", "tagged"):
        pingpong("over the loopback pair", d.socket, "10.77.0.2", d.socket, "10.77.0.1", mode)
    if not MPI_RUNNER:
        check("Open MPI is installed (tests/mpi/mpi_check is built)", False)
    else:
        for ranks in (2, 4):
            p = run(["bash", MPI_RUNNER, "--bin", MPI_CHECK, "srd", str(ranks), "--",
                     "--quick"], env=env(FI_SRD_SOCKET=d.socket, FI_SRD_YIELD=1), timeout=600)
            out = p.stdout + p.stderr
            check(f"Open MPI over srd, {ranks} ranks (the project's MPI checks)",
                  p.returncode == 0 and "mtl:ofi:prov: srd" in out,
                  "" if p.returncode == 0 else out[-4000:])
    d.stop()

    # ---- 5% loss, one of 8 paths blackholed ----
    d = loopback("lossy", {"paths": 8, "seed": 3, "loss": 0.05, "blackhole": [3]})
    for mode in ("msg", "tagged"):
        pingpong("at 5% loss, a dead path", d.socket, "10.77.0.2", d.socket, "10.77.0.1",
                 mode)
    st = d.stats()
    retx = st.get("engine", {}).get("tx_retx_pkts", 0)
    check("the impairment stage made srdd retransmit", retx > 0,
          f"({retx} retransmissions)" if retx else json.dumps(st)[:2000])
    d.stop()

    # ---- two daemons joined by net_memif ----
    msock = os.path.join(work, "memif.sock")
    ports = lambda role, n: [{
        "name": "m", "type": "vdev",
        "device": f"net_memif0,role={role},socket={msock},socket-abstract=no,"
                  f"mac=02:00:00:99:00:0{n}",
        "address": f"10.99.0.{n}/24", "mtu": 1500}]
    a = Daemon("memif-a", ports("server", 1))
    b = Daemon("memif-b", ports("client", 2))
    for mode in ("msg", "tagged"):
        pingpong("between two srdd over memif", b.socket, "10.99.0.2", a.socket, "10.99.0.1",
                 mode)
    b.stop()
    a.stop()


try:
    main()
except Exception as e:  # a check that could not even run
    check("the test ran to the end", False, repr(e))
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for pre in prefixes:
        shutil.rmtree(f"/var/run/dpdk/{pre}", ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
print(f"fabric tools: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
