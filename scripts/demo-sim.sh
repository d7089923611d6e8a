#!/usr/bin/env bash
# demo-sim.sh: install what is missing, build, and run srd-sim over the scenarios of the
# README's figures table (multipath vs single path, loss, a blackholed path, incast).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
[ -f build/build.ninja ] || meson setup build --buildtype=debugoptimized >/dev/null
meson compile -C build srd-sim >/dev/null
sim=build/apps/srd-sim/srd-sim
run() {
	echo "== srd-sim $*"
	"$sim" "$@"
	echo
}
run --msgs 2000
run --msgs 2000 --mode single
run --msgs 2000 --loss 0.01
run --msgs 2000 --loss 0.1
run --msgs 2000 --blackhole 3@1ms
run --msgs 300 --incast 8
