#!/bin/bash
# run.sh NAME FUZZER SEED_DIR SECONDS — run one libFuzzer target for a bounded time from the
# committed seed corpus (new inputs go to a scratch corpus in the build tree, never into the
# source tree), and report the executions.  A crash, leak or timeout fails; its input is
# kept in the build tree as crash-*/leak-*/timeout-* (make it a regression seed).
set -euo pipefail
name=$1 fuzzer=$2 seeds=$3 seconds=$4
work=fuzz-work/$name
mkdir -p "$work" fuzz-artifacts
set +e
"$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
	-artifact_prefix=fuzz-artifacts/"$name"- "$work" "$seeds" > "fuzz-$name.log" 2>&1
rc=$?
set -e
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz-$name.log" | grep -o '[0-9]*$' || echo 0)
echo "$name: $runs executions in $seconds s, exit $rc"
if [ $rc -ne 0 ]; then
	tail -40 "fuzz-$name.log"
	exit 1
fi
