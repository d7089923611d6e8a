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
	 lib/systemd/system/srdd@.service include/srd.h share/man/man8/srdd.8 \
	 share/man/man1/srdctl.1 share/man/man1/srd-perf.1 share/man/man1/srd-sim.1 \
	 share/doc/srd-dataplane/observability.md; do
	[ -n "$(find "$root" -path "*/$f" | head -1)" ] || fail "$f not installed"
done
unit=$(find "$root" -name 'srdd@.service')
grep -q '^ExecStart=.*/bin/srdd -c .*/etc/srd/%i.json$' "$unit" || fail "unit: $(cat "$unit")"
grep -q '^Restart=on-failure' "$unit" || fail "unit does not restart on failure"
"$(find "$root" -path '*/bin/srdd')" --check-config "$(find "$root" -name loopback.json)" >/dev/null ||
	fail "the installed srdd refuses the installed loopback.json"
# man finds the pages and formats them without a warning
mandir=$(dirname "$(dirname "$(find "$root" -path '*/man1/srdctl.1' | head -1)")")
for page in srdd srdctl srd-perf srd-sim; do
	MANPATH=$mandir man -w "$page" >/dev/null || fail "man -w $page: not found in $mandir"
	warn=$(MANPATH=$mandir MANWIDTH=80 man --warnings "$page" 2>&1 >/dev/null) ||
		fail "man $page failed: $warn"
	[ -z "$warn" ] || fail "man $page: $warn"
done
MANPATH=$mandir MANWIDTH=80 man srdctl 2>/dev/null | grep -q "capture" || fail "man srdctl: no capture"
# the dissector lands in Wireshark's Lua plugin folder (the configured one) and loads there
lua=$(find "$root" -path '*/wireshark/plugins/srd.lua' | head -1)
[ -n "$lua" ] || fail "srd.lua not installed in a wireshark/plugins folder"
if command -v tshark >/dev/null; then
	want=$(tshark -G folders 2>/dev/null | sed -n 's/^Global Lua Plugins:[[:space:]]*//p')
	[ -z "$want" ] || [ "$lua" = "$root$want/srd.lua" ] ||
		fail "srd.lua went to $lua, Wireshark's Lua plugins are in $want"
	# one RESET (UNKNOWN_CONN) in a pcap file, decoded by the installed script
	python3 - "$root/reset.pcap" <<'PY'
import struct, sys
srd = struct.pack(">BBBBIIII", 0x15, 0, 0, 0, 0x12340001, 0x56780002, 0, 1)
udp = struct.pack(">HHHH", 0xc123, 9371, 8 + len(srd), 0) + srd
ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                 bytes([10, 77, 0, 1]), bytes([10, 77, 0, 2])) + udp
frame = bytes.fromhex("020000770002020000770001") + b"\x08\x00" + ip
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    f.write(struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame)
PY
	got=$(tshark -X "lua_script:$lua" -r "$root/reset.pcap" -T fields -e srd.reset.reason \
		-e srd.src_conn 2>/dev/null)
	[ "$got" = $'1\t0x56780002' ] || fail "the installed srd.lua decoded the RESET as: $got"
fi
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
