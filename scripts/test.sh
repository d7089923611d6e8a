#!/usr/bin/env bash
# test.sh: installs dependencies, builds with -Dwerror=true and runs the whole meson test suite.
set -euo pipefail
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

# One plain summary line ("N passed, N failed") from meson's JSON test log.
python3 - build/meson-logs/testlog.json <<'PY' || true
import json, sys
ok = bad = skip = 0
try:
    with open(sys.argv[1]) as f:
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
