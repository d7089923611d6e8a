#!/usr/bin/env bash
# run_mpi_check.sh: runs tests/mpi/mpi_check under Open MPI's OFI MTL (pml cm + mtl ofi) with
# one libfabric provider, and fails unless the job passed AND Open MPI's own verbose output
# proves that every rank used pml cm and the OFI MTL with that provider (a job that silently
# fell back to another transport fails).
#
#   run_mpi_check.sh [options] PROVIDER NRANKS [-- MPI_CHECK_ARGS...]
#
#   PROVIDER  a libfabric provider name (srd, tcp, ...), or `ob1`: Open MPI's ob1 PML over its
#             TCP BTL on loopback instead of any libfabric provider (checks the program itself)
#   NRANKS    ranks to start (>= 2; oversubscribed if the machine has fewer cores)
#   options   --bin PATH      the mpi_check binary (default: $MPI_CHECK_BIN, else
#                             build/tests/mpi/mpi_check of this source tree)
#             --timeout SEC   abort the job after SEC seconds (default 300)
#             --verbose       print Open MPI's whole verbose output, not only the evidence
#
# Every FI_* variable of the environment (FI_PROVIDER_PATH, FI_LOG_LEVEL, provider parameters
# such as FI_SRD_*) is passed to the ranks; FI_PROVIDER is set to PROVIDER.  Examples:
#   FI_PROVIDER_PATH=build/lib/fabric tests/mpi/run_mpi_check.sh srd 2
#   tests/mpi/run_mpi_check.sh tcp 4 -- --quick
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
}

src_root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MPI_CHECK_BIN:-$src_root/build/tests/mpi/mpi_check}
timeout_s=300
verbose=0
while [[ $# -gt 0 && $1 == -* ]]; do
    case $1 in
        --bin) bin=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --verbose) verbose=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "run_mpi_check: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
done
if [[ $# -lt 2 ]]; then
    usage >&2
    exit 2
fi
prov=$1
nranks=$2
shift 2
if [[ $# -gt 0 && $1 == -- ]]; then
    shift
fi
if ! [[ $nranks =~ ^[0-9]+$ && $nranks -ge 2 ]]; then
    echo "run_mpi_check: NRANKS must be a number >= 2, not '$nranks'" >&2
    exit 2
fi
if ! [[ $timeout_s =~ ^[0-9]+$ && $timeout_s -ge 1 ]]; then
    echo "run_mpi_check: --timeout needs a number of seconds, not '$timeout_s'" >&2
    exit 2
fi
if [[ ! -x $bin ]]; then
    echo "run_mpi_check: no mpi_check binary at $bin (build it, or give --bin)" >&2
    exit 2
fi
mpirun=$(command -v mpirun.openmpi || true)
if [[ -z $mpirun ]]; then
    echo "run_mpi_check: mpirun.openmpi not found (apt-get install openmpi-bin)" >&2
    exit 2
fi

# Open MPI: root needs --allow-run-as-root; this machine may have fewer cores than ranks.
args=(--allow-run-as-root --oversubscribe -np "$nranks" --timeout "$timeout_s"
      --mca pml_base_verbose 10)
if [[ $prov == ob1 ]]; then
    args+=(--mca pml ob1 --mca btl "self,tcp" --mca btl_tcp_if_include lo)
    expect_pml=ob1
else
    # Debian's /etc/openmpi/openmpi-mca-params.conf says mtl = ^ofi: the command line must
    # name pml cm and mtl ofi (it overrides the file).
    args+=(--mca pml cm --mca mtl ofi --mca mtl_ofi_provider_include "$prov"
           --mca mtl_base_verbose 10 --mca opal_common_ofi_verbose 1 -x "FI_PROVIDER=$prov")
    expect_pml=cm
    while IFS='=' read -r name _; do
        if [[ $name == FI_* && $name != FI_PROVIDER ]]; then
            args+=(-x "$name")
        fi
    done < <(env)
    if [[ $prov == tcp ]]; then
        # libfabric 1.17's tcp;ofi_rxm breaks on truncated receives above its 16 KiB eager
        # size: with dynamic receive buffers the connection is disabled and the job hangs
        # (ofiwg/libfabric#8274); its SAR protocol segfaults.  Rendezvous truncates right.
        for setting in FI_TCP_IFACE=lo FI_OFI_RXM_ENABLE_DYN_RBUF=0 FI_OFI_RXM_SAR_LIMIT=0; do
            name=${setting%%=*}
            if [[ -z ${!name:-} ]]; then  # the environment's own value wins
                args+=(-x "$setting")
            fi
        done
    fi
fi

log=$(mktemp /tmp/run_mpi_check.XXXXXX)
session=""
cleanup() {
    # ranks that outlived mpirun (e.g. one stuck in an abort handler) share its session
    if [[ -n $session ]]; then
        for pid in $(ps -eo pid=,sid= | awk -v s="$session" '$2 == s && $1 != s {print $1}'); do
            kill -9 "$pid" 2>/dev/null || true
        done
    fi
    rm -f "$log"
}
trap cleanup EXIT

echo "run_mpi_check: $mpirun ${args[*]} $bin $*"
start_ms=$(date +%s%3N)
# setsid: mpirun and its ranks in a session of their own, so that cleanup finds stragglers;
# timeout: a last resort if mpirun itself does not stop at --timeout.
setsid timeout --kill-after=10 $((timeout_s + 30)) "$mpirun" "${args[@]}" "$bin" "$@" \
    > "$log" 2>&1 < /dev/null &
session=$!
rc=0
wait "$session" || rc=$?
elapsed_ms=$(( $(date +%s%3N) - start_ms ))

# What the job printed, without Open MPI's component chatter (unless --verbose).
if [[ $verbose -eq 1 ]]; then
    cat "$log"
else
    grep -vE '^\[[^]]*\] (mca|select|check:select|selected|\.\./)|mca: base:' "$log" || true
fi

fail() {
    echo "run_mpi_check: FAIL: $*" >&2
    if [[ $verbose -eq 0 ]]; then
        echo "run_mpi_check: Open MPI's selection output follows:" >&2
        grep -E 'select|mtl:ofi|pml|mtl' "$log" | head -n 80 >&2 || true
    fi
    exit 1
}

# Evidence, one line per rank: the PML chosen, and for the OFI MTL the provider it opened.
pml_lines=$(grep -cE "select: component $expect_pml selected\$" "$log" || true)
if [[ $pml_lines -ne $nranks ]]; then
    fail "Open MPI selected pml $expect_pml on $pml_lines of $nranks ranks"
fi
if [[ $expect_pml == cm ]]; then
    # 4.1.4 prints "mtl:ofi:prov: NAME" (NAME is e.g. "tcp;ofi_rxm" when a utility
    # provider is layered over the core provider)
    prov_re=$(printf '%s' "$prov" | sed 's/[][\.*^$+?(){}|/]/\\&/g')
    mtl_lines=$(grep -ciE "mtl:ofi:prov: ${prov_re}(;ofi_[a-z]+)?\$" "$log" || true)
    chosen=$(grep -oE 'mtl:ofi:prov: .*' "$log" | sort | uniq -c | tr -s ' ' | paste -sd, - || true)
    if [[ $mtl_lines -ne $nranks ]]; then
        fail "the OFI MTL used provider '$prov' on $mtl_lines of $nranks ranks (saw: ${chosen:-nothing})"
    fi
    echo "run_mpi_check: evidence: pml cm selected on $nranks ranks;$chosen"
else
    echo "run_mpi_check: evidence: pml ob1 selected on $nranks ranks"
fi
if [[ $rc -ne 0 ]]; then
    if grep -q 'time limit for job execution has been reached' "$log"; then
        fail "mpi_check timed out after ${timeout_s} s (the last 'ok' line above is the last check that passed)"
    fi
    fail "mpirun exited with status $rc"
fi
if ! grep -qE '^mpi_check: all [0-9]+ checks passed' "$log"; then
    fail "mpi_check did not report that all checks passed"
fi
printf 'run_mpi_check: PASS: %s, %d ranks, %d.%02d s\n' "$prov" "$nranks" \
    $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 10))
