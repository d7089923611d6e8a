#!/usr/bin/env bash
# run-loopback.sh: the main job.  Installs what is missing, builds, starts srdd on
# config/loopback.json (the crossed loopback pair 10.77.0.1 <-> 10.77.0.2, no hugepages),
# runs short srd-perf latency, bandwidth and message-rate tests between two apps, shows what
# srdctl sees, and stops the daemon cleanly (it must give back every mbuf).
set -euo pipefail
# srdd binds /run/srd and runs the EAL: root.  Run as root, or as a user with sudo.
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "run-loopback.sh: run it as root (no sudo here)" >&2; exit 1; }
	exec sudo bash "$0" "$@"
fi
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f build/build.ninja ] || meson setup build --buildtype=release -Db_lto=true >/dev/null
# everything the README goes on to run: srdd, srdctl, srd-perf, srd-sim, srd-hello, the provider
meson compile -C build >/dev/null

config=config/loopback.json
socket=/run/srd/srdd.sock        # from the config
prefix=srdd-lo                   # its EAL --file-prefix
bin=build/apps
work=$(mktemp -d /tmp/srd-run-XXXXXX)
srdd_pid=

stop_srdd() {
	[ -n "$srdd_pid" ] || return 0
	kill -TERM "$srdd_pid" 2>/dev/null || true
	local rc=0
	wait "$srdd_pid" || rc=$?
	srdd_pid=
	return $rc
}
cleanup() {
	stop_srdd || true
	pkill -f "$bin/srd-perf/srd-perf" 2>/dev/null || true
	rm -rf "$work" "/var/run/dpdk/$prefix"
}
trap cleanup EXIT

if [ -S "$socket" ] && "$bin/srdctl/srdctl" -p "$prefix" stats >/dev/null 2>&1; then
	echo "run-loopback.sh: an srdd already serves $socket; stop it first" >&2
	exit 1
fi
echo "== srdd -c $config"
"$bin/srdd/srdd" -c "$config" >"$work/srdd.log" 2>&1 &
srdd_pid=$!
for _ in $(seq 150); do
	[ -S "$socket" ] && break
	kill -0 "$srdd_pid" 2>/dev/null || { cat "$work/srdd.log"; exit 1; }
	sleep 0.1
done
[ -S "$socket" ] || { echo "srdd did not start"; cat "$work/srdd.log"; exit 1; }
grep -E 'port lo[01]|serving' "$work/srdd.log" | sed 's/^/   /'

# The apps run on the CPUs srdd's worker does not (it is EAL lcore 0 on CPU 0, and spins
# while traffic flows): an app the scheduler puts on CPU 0 waits for the worker's yields.
apps_cpus=
[ "$(nproc)" -gt 1 ] && apps_cpus="taskset -c 1-$(($(nproc) - 1))"

# srd-perf TEST [client options]: a server app on 10.77.0.2, a client app on 10.77.0.1
perf() {
	local test=$1
	shift
	rm -f "$work/addr"
	$apps_cpus "$bin/srd-perf/srd-perf" "$test" -S "$socket" -L 10.77.0.2 \
		--addr-file "$work/addr" >"$work/server.log" 2>&1 &
	local server=$!
	for _ in $(seq 100); do [ -s "$work/addr" ] && break; sleep 0.05; done
	echo
	echo "== srd-perf $test $* $(cat "$work/addr")"
	$apps_cpus "$bin/srd-perf/srd-perf" "$test" -S "$socket" -L 10.77.0.1 "$@" \
		"$(cat "$work/addr")"
	wait "$server"
}
perf lat -s 64 -n 20000
perf lat -s 64K -n 5000
perf bw -s 64K -n 20000
perf bw -s 1M -n 2000 -w 8
perf rate -s 64 -n 200000
echo
echo "== srdctl ports / conns"
"$bin/srdctl/srdctl" -p "$prefix" ports
"$bin/srdctl/srdctl" -p "$prefix" conns
echo
echo "== stopping srdd"
stop_srdd
grep -E 'stopping|mbufs' "$work/srdd.log" | sed 's/^/   /'
if grep -q 'still in use' "$work/srdd.log"; then
	echo "run-loopback.sh: srdd did not get every mbuf back" >&2
	exit 1
fi
echo "run-loopback.sh: done"
