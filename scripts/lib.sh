# shellcheck shell=bash
# scripts/lib.sh: shared helpers for scripts/run, scripts/test and .ci/run.
#
# Source it from bash; it defines functions and variables and runs nothing.
#
#   TANDEM_ROOT        the top of the source tree (this file's parent directory)
#   TANDEM_BUILD_DIR   the meson build directory (default: $TANDEM_ROOT/build)
#   TANDEM_DEPS        the Debian packages needed to build and test Tandem
#
#   tandem_step MSG...     print a step header
#   tandem_note MSG...     print an indented detail line
#   tandem_warn MSG...     print a warning to stderr
#   tandem_die MSG...      print an error to stderr and exit 1
#   tandem_install_deps    install the missing TANDEM_DEPS with apt-get
#   tandem_build           configure (first time only) and compile the build directory
#
# SPDX-License-Identifier: LGPL-2.1-or-later

TANDEM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TANDEM_BUILD_DIR="${TANDEM_BUILD_DIR:-$TANDEM_ROOT/build}"

# The Debian 12 packages needed to build Tandem and run its tests.  This is the
# only list: add a package here, with a short comment saying what needs it.
TANDEM_DEPS=(
	meson                   # build system (1.0.1 on Debian 12)
	ninja-build             # meson's backend
	pkg-config
	gcc
	libglib2.0-dev          # GLib, GObject, GIO, GModule
	libglib2.0-dev-bin      # glib-mkenums, gdbus-codegen, glib-compile-resources
	libsoup-3.0-dev         # HTTP receiver, REST management API
	libjson-glib-dev        # JSON events and API bodies
	libgda-5.0-dev          # record stores and persisters (SQLite provider included)
	gobject-introspection   # g-ir-scanner, g-ir-compiler
	libgirepository1.0-dev  # GIR files of GLib/GObject/Gio
	gir1.2-glib-2.0         # GLib typelibs for Python tests
	python3-gi              # PyGObject for the Python (GI) tests
	gettext                 # msgfmt, xgettext (po/)
	dbus                    # dbus-daemon: .ci/run starts a session bus
	curl                    # REST API tests and examples
	iproute2                # tests/run-in-netns.sh: ip, for the multicast tests' private network
	glib-networking         # TLS for GIO: the HTTP receiver's HTTPS
	openssl                 # tests: a self-signed certificate for the HTTP receiver
	clang                   # tests/fuzz: the libFuzzer targets (run-fuzzers.sh)
	libclang-rt-14-dev      # tests/fuzz: libFuzzer and the sanitizer runtimes
	libgda-5.0-mysql        # gda store: the MySQL/MariaDB provider
	libgda-5.0-postgres     # gda store: the PostgreSQL provider
	mariadb-server          # gda store tests and bench/store: a private mariadbd
	mariadb-client          # gda store tests and bench/store: mariadb, mariadb-install-db
	postgresql              # gda store tests and bench/store: a private postgres (initdb)
	postgresql-client       # gda store tests and bench/store: psql
	sqlite3                 # bench/store: the native SQLite rate
)

tandem_step() {
	printf '==> %s\n' "$*"
}

tandem_note() {
	printf '    %s\n' "$*"
}

tandem_warn() {
	printf 'warning: %s\n' "$*" >&2
}

tandem_die() {
	printf 'error: %s\n' "$*" >&2
	exit 1
}

# Prints the packages of TANDEM_DEPS that are not installed, one per line.
tandem_missing_deps() {
	local pkg status
	for pkg in "${TANDEM_DEPS[@]}"; do
		# One line per installed architecture of the package.
		status="$(dpkg-query -W -f='${db:Status-Status}\n' "$pkg" 2>/dev/null || true)"
		if ! printf '%s\n' "$status" | grep -qx installed; then
			printf '%s\n' "$pkg"
		fi
	done
}

# Installs what is missing from TANDEM_DEPS.  Runs apt-get update only when
# something has to be installed; uses sudo when not root.  Returns non-zero
# when the installation fails.
tandem_install_deps() {
	local -a missing sudo=()

	if ! command -v dpkg-query >/dev/null 2>&1; then
		tandem_warn "dpkg-query not found: not a Debian system, not installing packages"
		return 0
	fi

	mapfile -t missing < <(tandem_missing_deps)
	if [ "${#missing[@]}" -eq 0 ]; then
		tandem_step "Build dependencies: all ${#TANDEM_DEPS[@]} packages installed"
		return 0
	fi

	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			printf 'error: missing packages and no sudo to install them: %s\n' \
				"${missing[*]}" >&2
			return 1
		fi
		sudo=(sudo)
	fi

	tandem_step "Installing missing packages: ${missing[*]}"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends "${missing[@]}" || return 1

	mapfile -t missing < <(tandem_missing_deps)
	if [ "${#missing[@]}" -ne 0 ]; then
		printf 'error: still not installed after apt-get: %s\n' "${missing[*]}" >&2
		return 1
	fi
}

# Prints the value of a meson option of the configured build directory.
tandem_build_option() {
	local name="$1"
	/usr/bin/python3 - "$TANDEM_BUILD_DIR/meson-info/intro-buildoptions.json" "$name" <<'PY'
import json, sys
try:
    with open(sys.argv[1], encoding="utf-8") as f:
        options = json.load(f)
except (OSError, ValueError):
    sys.exit(1)
for option in options:
    if option.get("name") == sys.argv[2]:
        value = option.get("value")
        print(str(value).lower() if isinstance(value, bool) else value)
        sys.exit(0)
sys.exit(1)
PY
}

# Configures the build directory the first time (with -Dwerror=true), turns
# werror on in an existing build directory that has it off, and compiles.
# Returns non-zero when either step fails.
tandem_build() {
	if [ -f "$TANDEM_BUILD_DIR/build.ninja" ] &&
		[ -f "$TANDEM_BUILD_DIR/meson-private/coredata.dat" ]; then
		if [ "$(tandem_build_option werror || true)" != "true" ]; then
			tandem_step "Turning on werror in $TANDEM_BUILD_DIR"
			meson configure "$TANDEM_BUILD_DIR" -Dwerror=true || return 1
		fi
	else
		tandem_step "Configuring $TANDEM_BUILD_DIR"
		if [ -f "$TANDEM_BUILD_DIR/meson-private/coredata.dat" ]; then
			# A previous setup failed half way: start again from scratch.
			meson setup --wipe "$TANDEM_BUILD_DIR" "$TANDEM_ROOT" -Dwerror=true || return 1
		else
			meson setup "$TANDEM_BUILD_DIR" "$TANDEM_ROOT" -Dwerror=true || return 1
		fi
	fi

	tandem_step "Compiling"
	meson compile -C "$TANDEM_BUILD_DIR" || return 1
}
