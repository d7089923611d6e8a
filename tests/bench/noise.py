"""noise.py -- was the machine quiet while the benchmarks ran?  On a shared 2-core machine a
busy poller that yields hands its CPU to whatever else is runnable, so one build or stray
poller moves the tails by milliseconds.  A Watch records, over an interval, what ran that
was not ours:

  nice    CPU time of niced processes (builds and test runs on this machine run niced; the
          benchmarks do not), from /proc/stat
  steal   CPU time the hypervisor gave to other guests, from /proc/stat
  others  user processes outside the benchmark alive at the end of the interval that used
          more than 3% of a CPU during it (our own children have exited by then)
  foreign all CPU time the machine spent (/proc/stat: everything but idle and iowait) that
          was not the benchmark's own (this process and its children, which have exited and
          been waited for by the end): what the others above miss, short-lived processes,
          plus the kernel threads that do part of the benchmark's own network work

All in CPUs (CPU-seconds per second).
"""

import os
import time

TICK = os.sysconf("SC_CLK_TCK")
PF_KTHREAD = 0x00200000
OTHERS_MIN_CPU = 0.03


def _cpu_line():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is within user)
    t = os.times()
    return {"nice": v[1], "steal": v[7] if len(v) > 7 else 0,
            "busy": v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0),
            "ours": (t.user + t.system + t.children_user + t.children_system) * TICK}


def _procs():
    """{pid: (start time, comm, CPU ticks)} of user processes (no kernel threads)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                text = f.read()
        except OSError:
            continue  # gone meanwhile
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        # after the comm: state is field 3, so field k is fields[k - 3]
        if int(fields[9 - 3]) & PF_KTHREAD:
            continue
        out[int(name)] = (int(fields[22 - 3]), comm, int(fields[14 - 3]) + int(fields[15 - 3]))
    return out


class Watch:
    """Start at construction; stop() returns what else ran meanwhile."""

    def __init__(self):
        self.t0 = time.monotonic()
        self.cpu0 = _cpu_line()
        self.procs0 = _procs()

    def stop(self):
        secs = max(time.monotonic() - self.t0, 1e-3)
        cpu1, procs1 = _cpu_line(), _procs()
        me = os.getpid()
        others = []
        for pid, (start, comm, ticks) in procs1.items():
            if pid == me:
                continue
            before = self.procs0.get(pid)
            used = ticks - before[2] if before and before[0] == start else ticks
            share = used / TICK / secs
            if share > OTHERS_MIN_CPU:
                others.append({"pid": pid, "comm": comm, "cpu": round(share, 3)})
        return {"seconds": round(secs, 1),
                "nice": round((cpu1["nice"] - self.cpu0["nice"]) / TICK / secs, 3),
                "steal": round((cpu1["steal"] - self.cpu0["steal"]) / TICK / secs, 3),
                "foreign": round(((cpu1["busy"] - self.cpu0["busy"]) -
                                  (cpu1["ours"] - self.cpu0["ours"])) / TICK / secs, 3),
                "others": sorted(others, key=lambda o: -o["cpu"])}


def quiet(rec, limit=0.05, foreign_limit=0.15):
    """True when nothing else used more than limit CPUs (nice, steal, or any other process)
    and the CPU time not ours stayed under foreign_limit (the kernel's own share of our
    network work is in it)."""
    return (rec["nice"] <= limit and rec["steal"] <= limit and
            rec.get("foreign", 0) <= foreign_limit and
            not any(o["cpu"] > limit for o in rec["others"]))


def describe(rec):
    others = ", ".join(f"{o['comm']}({o['pid']}) {o['cpu']:.2f}" for o in rec["others"][:4])
    return (f"not ours {rec.get('foreign', float('nan')):.2f} CPU: niced {rec['nice']:.2f}, "
            f"stolen {rec['steal']:.2f}" + (f"; others: {others}" if others else ""))
