#!/bin/bash
# test-plugin-template.sh: the plugin SDK works out of tree.
#
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: test-plugin-template.sh BUILD_ROOT SOURCE_ROOT
#
# Installs the build into a temporary DESTDIR, builds a copy of
# examples/plugin-template against the installed tandem-1.pc alone (warnings
# are errors), then checks that the installed tandemd lists the plugin and
# accepts a config that uses it.  Prints TAP.  Run through
# `meson test -C BUILD --suite sdk`.

set -u

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_ROOT SOURCE_ROOT" >&2
	exit 2
fi
build_root=$(cd "$1" && pwd) || exit 2
source_root=$(cd "$2" && pwd) || exit 2
meson=${MESON:-meson}

# Plugins must not be writable by group or others, whatever the caller's umask.
umask 022

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tandem-sdk-XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
log=$tmp/log

plan=7
n=0
echo "1..$plan"

ok () {
	n=$((n + 1))
	echo "ok $n - $1"
}

not_ok () {
	n=$((n + 1))
	echo "not ok $n - $1"
	if [ -s "$log" ]; then
		sed -e 's/^/# /' "$log"
	fi
}

# A step the later ones need failed: report it and stop.
bail () {
	not_ok "$1"
	echo "Bail out! $1"
	exit 1
}

# 1. Install into DESTDIR.
if "$meson" install -C "$build_root" --destdir "$dest" --no-rebuild --quiet >"$log" 2>&1; then
	ok "meson install into a DESTDIR"
else
	bail "meson install into a DESTDIR"
fi

# 2. The SDK is there: tandem-1.pc, the library, the headers and tandemd.
pc_file=$(find "$dest" -name tandem-1.pc -type f | head -n 1)
lib_file=$(find "$dest" -name 'libtandem-1.so.*' -type f | head -n 1)
tandemd=$(find "$dest" -name tandemd -type f -perm -u+x | head -n 1)
header=$(find "$dest" -path '*/tandem-1/tandem.h' -type f | head -n 1)
{
	echo "tandem-1.pc: ${pc_file:-missing}"
	echo "libtandem-1: ${lib_file:-missing}"
	echo "tandem.h: ${header:-missing}"
	echo "tandemd: ${tandemd:-missing}"
} >"$log"
if [ -n "$pc_file" ] && [ -n "$lib_file" ] && [ -n "$tandemd" ] && [ -n "$header" ]; then
	ok "installed SDK has tandem-1.pc, libtandem-1, tandem.h and tandemd"
else
	bail "installed SDK has tandem-1.pc, libtandem-1, tandem.h and tandemd"
fi

# pkg-config must find the installed files.  PKG_CONFIG_SYSROOT_DIR cannot be
# used for this: pkgconf prefixes it to the flags of every package, so glib's
# -I/usr/include/glib-2.0 would point into the DESTDIR too.  Instead point the
# prefix of a copy of tandem-1.pc at the DESTDIR; every other path of the file
# derives from ${prefix}.
prefix=$(sed -n 's/^prefix=//p' "$pc_file")
mkdir -p "$tmp/pkgconfig"
sed -e "s|^prefix=.*|prefix=$dest$prefix|" "$pc_file" >"$tmp/pkgconfig/tandem-1.pc"
export PKG_CONFIG_PATH=$tmp/pkgconfig
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
export LD_LIBRARY_PATH=$(dirname "$lib_file")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# 3. Configure a copy of the template (so that nothing of the source tree
# is reachable from it) against the installed SDK.
cp -R "$source_root/examples/plugin-template" "$tmp/template"
if "$meson" setup "$tmp/template-build" "$tmp/template" -Dwerror=true >"$log" 2>&1 &&
	grep -q "Run-time dependency tandem-1 found: YES" "$tmp/template-build/meson-logs/meson-log.txt"; then
	ok "meson setup of examples/plugin-template against the installed tandem-1.pc"
else
	bail "meson setup of examples/plugin-template against the installed tandem-1.pc"
fi

# 4. Build it, warnings being errors.
module=$tmp/template-build/tandem-example-receiver.so
if "$meson" compile -C "$tmp/template-build" >"$log" 2>&1 && [ -f "$module" ]; then
	ok "the template builds without warnings into tandem-example-receiver.so"
else
	bail "the template builds without warnings into tandem-example-receiver.so"
fi

# 5. It exports the entry point and nothing else of its own.
nm -D --defined-only "$module" >"$log" 2>&1
exported=$(awk '$2 ~ /^[TDBR]$/ { print $3 }' "$log" | sort | tr '\n' ' ')
if [ "$exported" = "tandem_plugin_describe " ]; then
	ok "the module exports only tandem_plugin_describe"
else
	echo "exported: $exported" >>"$log"
	not_ok "the module exports only tandem_plugin_describe"
fi

# 6. The installed tandemd lists it.
TANDEM_PLUGIN_PATH=$tmp/template-build "$tandemd" --list-plugins >"$log" 2>&1
rc=$?
if [ $rc -eq 0 ] &&
	awk -v file="$module" '$1 == "example" && $2 == "receiver" && $3 == "0.1.0" && $4 == file { found = 1 }
		END { exit !found }' "$log" &&
	! grep -q "^refused: $module" "$log"; then
	ok "tandemd --list-plugins lists example (receiver) from $module"
else
	echo "exit status $rc" >>"$log"
	not_ok "tandemd --list-plugins lists example (receiver) from $module"
fi

# 7. A config using it is valid.
cat >"$tmp/tandem.conf" <<'EOF'
[receiver.hello]
plugin = example
greeting = hi
EOF
TANDEM_PLUGIN_PATH=$tmp/template-build "$tandemd" --check-config --config "$tmp/tandem.conf" \
	--state-dir "$tmp/state" >"$log" 2>&1
rc=$?
if [ $rc -eq 0 ]; then
	ok "tandemd --check-config accepts [receiver.hello] plugin = example"
else
	echo "exit status $rc" >>"$log"
	not_ok "tandemd --check-config accepts [receiver.hello] plugin = example"
fi

[ $n -eq $plan ] || echo "# ran $n of $plan checks"
