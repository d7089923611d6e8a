#!/bin/bash
# test_install.sh BUILD_DIR SOURCE_DIR — `meson install` into a temporary root, then build
# the example app out of the tree with nothing but `pkg-config --cflags --libs libsrd`,
# run it against the installed library, and check the other installed pieces (srdd and the
# tools, the configs, the systemd unit, libsrd's exported symbols).
set -euo pipefail
build=$1
src=$2
root=$(mktemp -d /tmp/srd-install-XXXXXX)
trap 'rm -rf "$root"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

DESTDIR=$root meson install -C "$build" --no-rebuild --quiet >/dev/null
pcfile=$(find "$root" -name libsrd.pc | head -1)
[ -n "$pcfile" ] || fail "libsrd.pc not installed"
# the .pc names the real prefix; the sysroot maps it into the temporary root
export PKG_CONFIG_PATH=$(dirname "$pcfile") PKG_CONFIG_SYSROOT_DIR=$root
flags=$(pkg-config --cflags --libs libsrd) || fail "pkg-config libsrd"
echo "pkg-config --cflags --libs libsrd: $flags"

work=$root/app
mkdir -p "$work"
cp "$src/apps/examples/srd-hello.c" "$work/"   # only the example's source, nothing else
(cd "$work" && cc -std=c11 -Wall -Werror srd-hello.c $flags -o srd-hello) ||
	fail "the example does not build against the installed libsrd"
libdir=$(dirname "$(find "$root" -name 'libsrd.so.0' | head -1)")
# no daemon at that socket: it must load the installed library, try, and say why it failed
set +e
out=$(LD_LIBRARY_PATH=$libdir "$work/srd-hello" "$root/nowhere.sock" 2>&1)
rc=$?
set -e
[ $rc -ne 0 ] || fail "srd-hello succeeded without a daemon"
echo "$out" | grep -qi "attach" || fail "srd-hello said: $out"
ldd_out=$(LD_LIBRARY_PATH=$libdir ldd "$work/srd-hello")
echo "$ldd_out" | grep -q "$libdir/libsrd.so.0" || fail "not linked to the installed libsrd: $ldd_out"

# the rest of the component
for f in bin/srdd bin/srdctl bin/srd-perf etc/srd/loopback.json etc/srd/baremetal.example.json \
	 lib/systemd/system/srdd@.service include/srd.h; do
	[ -n "$(find "$root" -path "*/$f" | head -1)" ] || fail "$f not installed"
done
unit=$(find "$root" -name 'srdd@.service')
grep -q '^ExecStart=.*/bin/srdd -c .*/etc/srd/%i.json$' "$unit" || fail "unit: $(cat "$unit")"
grep -q '^Restart=on-failure' "$unit" || fail "unit does not restart on failure"
"$(find "$root" -path '*/bin/srdd')" --check-config "$(find "$root" -name loopback.json)" >/dev/null ||
	fail "the installed srdd refuses the installed loopback.json"
# libsrd exports its API and nothing else
exported=$(nm -D --defined-only "$libdir/libsrd.so.0" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort)
bad=$(echo "$exported" | grep -v '^srdc_' || true)
[ -z "$bad" ] || fail "libsrd exports internal symbols: $bad"
echo "$exported" | grep -q '^srdc_send$' || fail "srdc_send not exported"

# the libfabric provider: in libfabric's provider folder, exporting its entry point only,
# found there with FI_PROVIDER_PATH alone (no daemon is needed to list it)
prov=$(find "$root" -path '*/libfabric/libsrd-fi.so' | head -1)
if [ -n "$(pkg-config --variable=libdir libfabric 2>/dev/null || true)" ]; then
	[ -n "$prov" ] || fail "libsrd-fi.so not installed in a libfabric folder"
	syms=$(nm -D --defined-only "$prov" | awk '$2 == "T" {print $3}')
	[ "$syms" = "fi_prov_ini" ] || fail "libsrd-fi.so exports: $syms"
	ldd -r "$prov" 2>&1 | grep -q 'undefined symbol' && fail "libsrd-fi.so: $(ldd -r "$prov")"
	listed=$(FI_PROVIDER_PATH=$(dirname "$prov") fi_info -l 2>/dev/null | grep -a '^srd:' || true)
	[ -n "$listed" ] || fail "fi_info -l does not list srd from $(dirname "$prov")"
	echo "fi_info -l with FI_PROVIDER_PATH=$(dirname "$prov"): $listed"
fi
echo "install: 1 passed, 0 failed"
