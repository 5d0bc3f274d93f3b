#!/usr/bin/env bash
# run-in-netns.sh: runs a test inside a private network namespace.
#
#   run-in-netns.sh PROGRAM [ARGUMENTS...]
#
# The namespace has only a loopback interface, up, with multicast on and the
# multicast range 224.0.0.0/4 routed to it, so that multicast tests talk on
# 127.0.0.1 and can never reach a real network.  As root it uses
# `unshare -n`; otherwise (or where root may not create one, as in some
# containers) `unshare -rn`, a user namespace mapping the caller to root.
# When neither works it fails, loudly: a test that needs isolation is not
# skipped.  Needs unshare (util-linux) and ip (iproute2).
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -euo pipefail

if [ "$#" -lt 1 ]; then
	printf 'usage: %s PROGRAM [ARGUMENTS...]\n' "$0" >&2
	exit 2
fi

fail() {
	# the tests speak TAP: say it on stdout too
	printf 'Bail out! run-in-netns.sh: %s\n' "$*"
	printf 'run-in-netns.sh: %s\n' "$*" >&2
	exit 1
}

command -v unshare >/dev/null 2>&1 || fail "unshare (util-linux) is not installed"
command -v ip >/dev/null 2>&1 || fail "ip (iproute2) is not installed"

# shellcheck disable=SC2016  # expanded by the inner shell
setup='ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec "$@"'

if [ "$(id -u)" -eq 0 ] && unshare -n true >/dev/null 2>&1; then
	exec unshare -n sh -c "$setup" sh "$@"
fi
if unshare -rn true >/dev/null 2>&1; then
	exec unshare -rn sh -c "$setup" sh "$@"
fi
fail "cannot create a network namespace: neither 'unshare -n' (as root) nor 'unshare -rn' (user namespaces) works here"
