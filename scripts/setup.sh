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
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
echo "setup.sh: installed ${#missing[@]} package(s)"
