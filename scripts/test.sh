#!/usr/bin/env bash
# test.sh: installs dependencies, builds with -Dwerror=true and runs the whole meson test
# suite; then builds again with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan/)
# and runs the unit, simulation, dataplane and integration tests there too (a leak, an
# invalid access or undefined behaviour fails the test it happens in); then runs each
# libFuzzer target (build-fuzz/, clang) for 28 s (four: under 2 minutes together).
set -euo pipefail
# The tests start daemons, create network namespaces and taps: root.  As root, or with sudo.
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "test.sh: run it as root (no sudo here)" >&2; exit 1; }
    exec sudo bash "$0" "$@"
fi
cd "$(dirname "$0")/.."

bash scripts/setup.sh

if [[ -f build/build.ninja ]]; then
    meson configure build -Dwerror=true
else
    meson setup build --buildtype=debugoptimized -Dwerror=true
fi

meson compile -C build

status=0
meson test -C build --print-errorlogs --num-processes 2 || status=$?

# The same code under the sanitizers (the install test is about packaging: not here).
if [[ -f build-asan/build.ninja ]]; then
    meson configure build-asan -Dwerror=true
else
    meson setup build-asan --buildtype=debug -Dwerror=true -Db_sanitize=address,undefined \
        -Db_lundef=false
fi
meson compile -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs --num-processes 2 --no-suite install ||
    status=$?

# The libFuzzer targets (clang), each for a bounded time from the committed corpus:
# the packet receive path of the core, the wire codec, the config loader, the daemon's
# checks of app descriptors.
if [[ ! -f build-fuzz/build.ninja ]]; then
    CC=clang meson setup build-fuzz --buildtype=debugoptimized -Dtests=false -Dfuzz=true \
        -Dfuzz_seconds=28 -Db_sanitize=address,undefined -Db_lundef=false
fi
meson compile -C build-fuzz tests/fuzz/fuzz_wire tests/fuzz/fuzz_core tests/fuzz/fuzz_config \
    tests/fuzz/fuzz_shm
meson test -C build-fuzz --no-rebuild --print-errorlogs --suite fuzz -v > build-fuzz/fuzz.out 2>&1 ||
    status=$?
grep -E 'executions in|FAIL' build-fuzz/fuzz.out || cat build-fuzz/fuzz.out

# One plain summary line ("N passed, N failed") from meson's JSON test logs.
python3 - build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
    build-fuzz/meson-logs/testlog.json <<'PY' || true
import json, sys
ok = bad = skip = 0
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            for line in f:
                r = json.loads(line).get("result", "")
                if r in ("OK", "EXPECTEDFAIL"):
                    ok += 1
                elif r == "SKIP":
                    skip += 1
                else:
                    bad += 1
    except FileNotFoundError:
        pass
print(f"tests: {ok} passed, {bad} failed, {skip} skipped")
PY

exit "$status"
