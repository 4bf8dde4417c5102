#!/bin/sh
# test_sdk_install.sh BUILD_DIR SOURCE_DIR CAIRN [CMAKE]
#
# Installs the `sdk` component into a temporary prefix, builds the installed
# example plugin out of tree against it (find_package(Cairn) with CMake, and
# pkg-config with make), then runs the installed cairn-plugin-check on it and
# `cairn plugins check`. Proves a third party needs nothing but the SDK.
set -u
build=$1 src=$2 cairn=$3 cmake=${4:-cmake}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }
run() { # run LOG CMD… — quiet unless it fails
	log=$1; shift
	if ! "$@" >"$tmp/$log.log" 2>&1; then
		cat "$tmp/$log.log" >&2
		return 1
	fi
}
[ -d "$src/sdk/example" ] || { echo "no SDK sources in $src" >&2; exit 1; }

prefix=$tmp/prefix
run install "$cmake" --install "$build" --component sdk --prefix "$prefix" ||
	{ fail "cmake --install --component sdk"; exit 1; }
for f in bin/cairn-plugin-check include/cairn/storage.h include/cairn/plugin.h \
	share/cairn/sdk-example/CMakeLists.txt share/cairn/sdk-example/example.c \
	share/cairn/sdk-example/Makefile; do
	[ -e "$prefix/$f" ] || fail "not installed: $f"
done
# lib/ or lib/<multiarch>/: whatever CMAKE_INSTALL_LIBDIR was
pc=$(find "$prefix" -name cairn-sdk.pc | head -n 1)
[ -n "$pc" ] || { fail "cairn-sdk.pc not installed"; exit 1; }
pcdir=$(dirname "$pc")
[ -f "$(dirname "$pcdir")/cmake/Cairn/CairnConfig.cmake" ] || fail "CairnConfig.cmake not next to the .pc"

# the relocated .pc must point into the prefix it was installed to
inc=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=includedir cairn-sdk)
[ -f "$inc/cairn/storage.h" ] || fail "pkg-config includedir '$inc' has no cairn/storage.h"
[ "$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=abi_major cairn-sdk)" = 1 ] || fail "abi_major"

# 1. CMake: find_package(Cairn 0.1) + cairn_add_plugin(), out of tree
ex=$tmp/ex
if run cmake-configure "$cmake" -S "$prefix/share/cairn/sdk-example" -B "$ex" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON &&
	run cmake-build "$cmake" --build "$ex"; then
	case $(sed -n 's/^Cairn_DIR:[A-Z]*=//p' "$ex/CMakeCache.txt") in
	"$prefix"/*) ;;
	*) fail "find_package(Cairn) did not use the installed SDK" ;;
	esac
else
	fail "CMake build of the installed example"
fi
so_cmake=$ex/plugins/cairn-storage-example.so
[ -f "$so_cmake" ] || fail "no $so_cmake"

# 2. make + pkg-config, in a copy (the installed tree may be read-only)
mk=$tmp/mk
cp -R "$prefix/share/cairn/sdk-example" "$mk"
run make make -C "$mk" PKG_CONFIG_PATH="$pcdir" || fail "make build of the installed example"
so_make=$mk/cairn-storage-example.so
[ -f "$so_make" ] || fail "no $so_make"

# 3. both builds pass the installed conformance kit and the core's loader
unset CAIRN_PLUGIN_PATH
export CAIRN_CONFIG="$tmp/none.conf"
: > "$CAIRN_CONFIG"
n=0
for so in "$so_cmake" "$so_make"; do
	[ -f "$so" ] || continue
	n=$((n + 1))
	if command -v nm >/dev/null 2>&1; then
		syms=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBR]$/ {print $3}')
		[ "$syms" = cairn_plugin_entry_v1 ] || fail "$so exports: $syms"
	fi
	if ! "$prefix/bin/cairn-plugin-check" storage "$so" "example://$tmp/data$n" >"$tmp/check$n.log" 2>&1; then
		cat "$tmp/check$n.log" >&2
		fail "cairn-plugin-check on $so"
	fi
	grep -q '^[1-9][0-9]* passed, 0 failed$' "$tmp/check$n.log" || fail "no summary line for $so"
	out=$("$cairn" plugins check "$so" 2>&1) || fail "cairn plugins check $so: $out"
	case $out in
	*"ok: example storage plugin"*) ;;
	*) fail "cairn plugins check $so said: $out" ;;
	esac
done

[ $failed = 0 ] && echo "sdk install: ok"
exit $failed
