#!/usr/bin/env bash
# setup.sh: installs the Debian 12 packages needed to build and test srd-dataplane (idempotent).
set -euo pipefail

PACKAGES=(
    build-essential   # gcc, make, libc headers
    pkg-config        # lets meson find DPDK, jansson, cmocka, libnuma
    meson             # build system
    ninja-build       # meson's backend
    libdpdk-dev       # DPDK headers and libraries (packet I/O)
    dpdk-dev          # DPDK tools (dpdk-devbind, dpdk-hugepages)
    libnuma-dev       # NUMA-local memory where DPDK does not provide it
    libjansson-dev    # JSON configuration parsing
    libcmocka-dev     # unit tests
    python3           # meson and helper scripts
    python3-scapy     # hostile-packet test (crafted packets into a tap)
    clang             # libFuzzer targets
    libfabric-dev     # the libfabric provider srd (lib/fabric)
    libfabric-bin     # fi_info, fi_pingpong: the provider's tests
    openmpi-bin       # mpirun.openmpi for tests/mpi (MPI over the libfabric provider)
    libopenmpi-dev    # Open MPI headers and the ompi-c pkg-config file for tests/mpi/mpi_check
    tshark            # capture test: decodes srdctl's pcapng with tools/wireshark/srd.lua
    prometheus        # capture test: promtool checks srdctl metrics (the server is not used)
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "setup.sh: all ${#PACKAGES[@]} packages already installed, nothing to do"
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    SUDO="sudo"
fi

echo "setup.sh: installing ${missing[*]}"
$SUDO apt-get update
# wireshark-common asks whether non-root users may capture: no (nothing here needs it)
echo "wireshark-common wireshark-common/install-setuid boolean false" |
    $SUDO debconf-set-selections
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
# Debian's prometheus starts a Prometheus server where systemd runs; only promtool is
# wanted, so a server this script brought in is stopped and disabled again
if [[ " ${missing[*]} " == *" prometheus "* ]] && [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
echo "setup.sh: installed ${#missing[@]} package(s)"
