# shellcheck shell=bash
# bench/lib-cluster.sh: what the benchmarks that run tandemd clusters share
# (bench/failover/run-failover.sh, bench/replication/run-replication.sh):
# setting up, starting two-node clusters on 127.0.0.1, watching their roles
# through the REST API, stopping everything by PID, waiting for a quiet host.
#
# Source it from bash after `set -u`; it sources scripts/lib.sh, defines the
# functions and variables below and runs nothing else.  A script then sets
# its own knobs and calls bench_setup first.
#
# Knobs (environment) the functions read, with their defaults:
#   QUIET_PCT=10 QUIET_WAIT=60   wait_quiet
#   BUILD=1                      build_bench (0: do not compile)
#   TANDEM_BUILD_DIR             the build directory (scripts/lib.sh: build/)
#
# Variables:
#   B                   the meson build directory ($TANDEM_BUILD_DIR)
#   PIDS                every process started (start_node adds to it); stopped
#                       by bench_cleanup
#   WORK                the temporary directory (make_workdir); removed by
#                       bench_cleanup
#   EPHEMERAL_LOW       the first port of the kernel's ephemeral range
#   PLUGIN_PATH         set by plugin_path; given to every tandemd started
#   N_PID N_RECV N_API  set by start_node: the last node started
#   A_PID A_RECV A_API, B_PID B_RECV B_API, PAIR_WHY   set by start_pair
#
# Setup:
#   bench_setup NAME RECEIVER PROGRAM [PKG...]
#                            all of the setup below for the benchmark NAME whose
#                            nodes have the receiver plugin RECEIVER and whose
#                            client is $B/PROGRAM, then the traps: bench_cleanup
#                            on EXIT, exit 130 on INT and TERM
#   install_missing PKG...   apt-get install the Debian packages PKG (sudo when
#                            not root); a warning when that fails
#   build_bench NAME         unless BUILD=0, compile $B (configure it first when
#                            needed), output in $TMPDIR/tandem-bench-NAME-build.log;
#                            a warning when that fails
#   need_built FILE...       die unless each $B/FILE is an executable
#   plugin_path KIND...      die unless each $B/plugins/KIND holds a plugin; set
#                            PLUGIN_PATH to those directories
#   make_workdir NAME        umask 022; WORK = a new directory of mode 0700
#   write_plan FILE NAME VTYPE   the plan NAME passing every event of
#                            `S (id long, v VTYPE)` to Out
#
# Processes:
#   stop_pid PID             SIGTERM, up to 5 s, then SIGKILL
#   bench_cleanup            stop every PID of PIDS, remove WORK (the EXIT trap)
#
# Ports:
#   port_free PORT           no TCP socket uses PORT
#   pick_port                print a free port below the ephemeral range
#   pick_ports N             print the first of N such ports in a row
#   log_port LOG PID PATTERN wait for the port a sed PATTERN finds in LOG
#
# Node configuration (each prints a part of a tandem.conf):
#   conf_node NAME DIR       [node] NAME, its state in DIR/NAME/state; [api] port 0
#   conf_cluster CLUSTER DIR NAME MA MB [LINE...]
#                            [cluster] CLUSTER with the key DIR/cluster.key and
#                            the LINEs; [membership.m] wka over 127.0.0.1:MA, :MB
#   conf_sqlite_store FILE [LINE...]   [store.db]: gda on the SQLite FILE, and the LINEs
#   conf_tcp_node NAME DIR PLAN   conf_node, [engine] running PLAN, and
#                            [receiver.bin]: tcp on a port the kernel picks, stream S
#   new_cluster DIR          DIR/cluster.key (mode 0600); MA MB, two membership ports
#
# Nodes:
#   start_node DIR NAME PATTERN   start tandemd with DIR/NAME/tandem.conf; N_PID,
#                            N_RECV (the port PATTERN finds in its log), N_API
#   node_status API_PORT     the node's /api/v1/status
#   node_state API_PORT      the node's HA state
#   wait_state API_PORT STATE    wait (15 s at most) for STATE
#   wait_in_sync API_PORT    wait (15 s at most) until the active's passive is in sync
#   start_member DIR NAME PATTERN STATE   start_node, then wait_state STATE
#   start_pair DIR PATTERN   node-a of DIR until active, then node-b until passive
#   stop_pair                stop B_PID, then A_PID
#   tail_logs DIR N          the last N lines of each node's log in DIR, to stderr
#
# Host and figures:
#   host_busy S              percent of all CPUs busy over S seconds
#   wait_quiet               wait up to QUIET_WAIT s for other CPU use to drop to
#                            QUIET_PCT; prints a `# background CPU` line
#   stats DECIMALS           min median max of the numbers on stdin
#
# The peer:
#   run_anchor LABEL SCRIPT KNOB TIMEOUT OUT [VAR=VALUE...]
#                            run the peer's anchor script (../shared/anchors/),
#                            its output in OUT and shown as `#` lines
#
# SPDX-License-Identifier: LGPL-2.1-or-later

# shellcheck source=scripts/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/lib.sh"

QUIET_PCT=${QUIET_PCT:-10}
QUIET_WAIT=${QUIET_WAIT:-60}
BUILD=${BUILD:-1}

B="$TANDEM_BUILD_DIR"
PIDS=()
WORK=""
PLUGIN_PATH=""

# --- setup --------------------------------------------------------------------

# install_missing PKG...: installs the Debian packages PKG with apt-get
# (through sudo when not root); warns when that fails; nothing without PKG
install_missing() {
	[ "$#" -gt 0 ] || return 0
	local sudo=()
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	tandem_step "Installing $*"
	if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
		tandem_warn "could not install $*"
	fi
}

# build_bench NAME: unless BUILD is 0, compiles $B (configures and compiles it
# when it is not a build directory yet), the output in
# ${TMPDIR:-/tmp}/tandem-bench-NAME-build.log; warns when that fails
build_bench() {
	local log="${TMPDIR:-/tmp}/tandem-bench-$1-build.log"
	if [ "$BUILD" = 0 ]; then
		:
	elif [ -f "$B/build.ninja" ]; then
		meson compile -C "$B" >"$log" 2>&1
	else
		tandem_build >"$log" 2>&1
	fi || tandem_warn "the build failed (see $log); measuring what was built"
}

# need_built FILE...: dies unless each $B/FILE is an executable
need_built() {
	local f
	for f in "$@"; do
		[ -x "$B/$f" ] || tandem_die "$B/$f is missing: build with meson compile -C $B"
	done
}

# plugin_path KIND...: dies unless each $B/plugins/KIND (membership/wka, ...)
# holds a plugin; sets PLUGIN_PATH to those directories, colon-separated
plugin_path() {
	local kind
	PLUGIN_PATH=""
	for kind in "$@"; do
		compgen -G "$B/plugins/$kind/*.so" >/dev/null || tandem_die "no plugin in $B/plugins/$kind: build it"
		PLUGIN_PATH="$PLUGIN_PATH${PLUGIN_PATH:+:}$B/plugins/$kind"
	done
}

# make_workdir NAME: sets umask 022 and WORK to a new directory
# ${TMPDIR:-/tmp}/tandem-bench-NAME.XXXXXX of mode 0700; exits when it cannot
make_workdir() {
	umask 022
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-$1.XXXXXX") || exit 1
	chmod 700 "$WORK"
}

# write_plan FILE NAME VTYPE: writes to FILE the plan NAME that passes every
# event of `define stream S (id long, v VTYPE)` to Out
write_plan() {
	cat >"$1" <<-EOF
		@Plan:name('$2')
		define stream S (id long, v $3);
		@info(name = 'all')
		from S
		select id, v
		insert into Out;
	EOF
}

# bench_setup NAME RECEIVER PROGRAM [PKG...]: the start of the benchmark
# NAME: installs the Debian packages PKG and, when they are missing, those of
# ss and curl (install_missing); goes to TANDEM_ROOT; build_bench NAME;
# need_built daemon/tandemd PROGRAM; plugin_path membership/wka RECEIVER
# stores/gda (RECEIVER: receivers/http, ...); make_workdir NAME; and installs
# the traps: bench_cleanup on EXIT, exit 130 on INT and TERM
bench_setup() {
	local name=$1 receiver=$2 program=$3
	shift 3
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	local need=("$@")
	command -v ss >/dev/null 2>&1 || need+=(iproute2)
	command -v curl >/dev/null 2>&1 || need+=(curl)
	install_missing "${need[@]}"
	cd "$TANDEM_ROOT" || exit 1
	build_bench "$name"
	need_built daemon/tandemd "$program"
	plugin_path membership/wka "$receiver" stores/gda
	make_workdir "$name"
}

# --- processes ----------------------------------------------------------------

# stop_pid PID: SIGTERM, up to 5 s, then SIGKILL.
stop_pid() {
	local pid=$1
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# bench_cleanup: stops every process of PIDS and removes WORK (the EXIT trap)
# shellcheck disable=SC2317  # called by the EXIT trap
bench_cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		stop_pid "$pid"
	done
	[ -n "$WORK" ] && rm -rf "$WORK"
}

# --- ports --------------------------------------------------------------------

# port_free PORT: no TCP socket uses PORT (listening or not)
port_free() {
	! ss -tanH "sport = :$1" 2>/dev/null | grep -q .
}

# pick_port: a free TCP port below the kernel's ephemeral range (a port in
# that range that nothing listens on yet may be taken meanwhile as the source
# port of an outgoing connection: one failover trial in three failed that way
# with ports chosen in 20000-59999)
EPHEMERAL_LOW=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
[ "${EPHEMERAL_LOW:-0}" -gt 12000 ] || EPHEMERAL_LOW=32768
pick_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
		port_free "$p" && { echo "$p"; return 0; }
	done
	return 1
}

# pick_ports N: the first of N consecutive free TCP ports below the kernel's
# ephemeral range (for an anchor's BASE_PORT); nothing when 20 tries found none
pick_ports() {
	local p i ok
	for _ in $(seq 1 20); do
		p=$(pick_port) || continue
		ok=1
		for ((i = 1; i < $1; i++)); do
			if [ $((p + i)) -ge "$EPHEMERAL_LOW" ] || ! port_free $((p + i)); then
				ok=0
				break
			fi
		done
		[ "$ok" = 1 ] && { echo "$p"; return 0; }
	done
	return 1
}

# log_port LOG PID PATTERN: wait (10 s at most) for a line of LOG matching the
# sed PATTERN (whose \1 is the port) and print the port; fails if PID dies first.
log_port() {
	local log=$1 pid=$2 pattern=$3 port
	for _ in $(seq 1 200); do
		port=$(sed -n "s/$pattern/\\1/p" "$log" 2>/dev/null | head -1)
		[ -n "$port" ] && { echo "$port"; return 0; }
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# --- node configuration -------------------------------------------------------

# conf_node NAME DIR: prints the [node] section of node NAME (its state in
# DIR/NAME/state, log level message) and [api] on a port the kernel picks
conf_node() {
	cat <<-EOF
		[node]
		id = $1
		state_dir = $2/$1/state
		log_level = message

		[api]
		port = 0
	EOF
}

# conf_cluster CLUSTER DIR NAME MA MB [LINE...]: prints the [cluster] section
# of the cluster CLUSTER (key DIR/cluster.key, then each LINE) and
# [membership.m]: wka listing 127.0.0.1:MA (node-a) and 127.0.0.1:MB (node-b),
# node NAME listening on its own
conf_cluster() {
	local cluster=$1 d=$2 name=$3 ma=$4 mb=$5 listen
	shift 5
	listen=$ma
	[ "$name" = node-b ] && listen=$mb
	printf '[cluster]\nname = %s\nkey_file = %s\n' "$cluster" "$d/cluster.key"
	[ "$#" -gt 0 ] && printf '%s\n' "$@"
	cat <<-EOF

		[membership.m]
		plugin = wka
		listen = 127.0.0.1:$listen
		members = 127.0.0.1:$ma, 127.0.0.1:$mb
	EOF
}

# conf_tcp_node NAME DIR PLAN: prints conf_node NAME DIR, then [engine] with
# the plan file PLAN and [receiver.bin], the tcp receiver taking stream S on
# 127.0.0.1, a port the kernel picks (its log says which: TCP_PORT_LOG)
conf_tcp_node() {
	conf_node "$1" "$2"
	cat <<-EOF

		[engine]
		plans = $3

		[receiver.bin]
		plugin = tcp
		address = 127.0.0.1
		port = 0
		streams = S
	EOF
}

# the sed pattern of the tcp receiver's port in a node's log (conf_tcp_node)
# shellcheck disable=SC2034  # for the scripts
TCP_PORT_LOG='.*bin: listening on [^ ]*:\([0-9][0-9]*\).*'

# conf_sqlite_store FILE [LINE...]: prints [store.db], the gda store on the
# SQLite file FILE, then each LINE
conf_sqlite_store() {
	local file=$1
	shift
	printf '[store.db]\nplugin = gda\nprovider = sqlite\ndatabase = %s\n' "$file"
	[ "$#" -gt 0 ] && printf '%s\n' "$@"
	return 0
}

# new_cluster DIR: creates DIR with a new cluster key DIR/cluster.key (mode
# 0600) and sets MA MB to two different free ports for the membership of
# node-a and node-b
MA="" MB=""
new_cluster() {
	mkdir -p "$1"
	(umask 077 && head -c 32 /dev/urandom | base64 >"$1/cluster.key")
	MA=$(pick_port) MB=$(pick_port)
	while [ "$MB" = "$MA" ]; do MB=$(pick_port); done
}

# --- nodes --------------------------------------------------------------------

# start_node DIR NAME PATTERN: starts tandemd with DIR/NAME/tandem.conf
# (PLUGIN_PATH, its log in DIR/NAME/tandemd.log), adds it to PIDS, and waits
# (log_port) for the ports it listens on; sets N_PID, N_RECV (the port the
# sed PATTERN finds in the log: its receiver's) and N_API (its REST API's).
# Fails when the node dies or does not log them in time.
N_PID="" N_RECV="" N_API=""
start_node() {
	local d=$1 name=$2 pattern=$3
	TANDEM_PLUGIN_PATH="$PLUGIN_PATH" "$B/daemon/tandemd" --config "$d/$name/tandem.conf" \
		</dev/null >"$d/$name/tandemd.log" 2>&1 &
	N_PID=$!
	PIDS+=("$N_PID")
	N_RECV=$(log_port "$d/$name/tandemd.log" "$N_PID" "$pattern") &&
		N_API=$(log_port "$d/$name/tandemd.log" "$N_PID" '.*REST API listening on http:\/\/[^ ]*:\([0-9][0-9]*\).*')
}

# node_status API_PORT: the node's /api/v1/status, or nothing
node_status() {
	curl -s --noproxy '*' --max-time 1 "http://127.0.0.1:$1/api/v1/status" 2>/dev/null
}

# node_state API_PORT: the node's HA state, or nothing
node_state() {
	node_status "$1" | grep -o '"state":"[a-z_-]*"' | head -n1 | cut -d'"' -f4
}

# wait_state API_PORT STATE: wait (15 s at most) until the node is in STATE
wait_state() {
	for _ in $(seq 1 300); do
		[ "$(node_state "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# wait_in_sync API_PORT: wait (15 s at most) until the active says that its
# passive is in sync (from then on, ack = replicated waits for it)
wait_in_sync() {
	for _ in $(seq 1 300); do
		node_status "$1" | grep -q '"in_sync":true' && return 0
		sleep 0.05
	done
	return 1
}

# start_member DIR NAME PATTERN STATE: start_node, then wait_state STATE;
# returns 0 once the node is in STATE, else 1 with PAIR_WHY saying why (N_PID
# is then empty when the node did not start)
start_member() {
	if ! start_node "$1" "$2" "$3"; then
		N_PID="" PAIR_WHY="$2 did not start"
		return 1
	fi
	wait_state "$N_API" "$4" || { PAIR_WHY="$2 did not become $4"; return 1; }
}

# start_pair DIR PATTERN: starts node-a of the cluster configured in DIR
# (DIR/node-a/tandem.conf) and waits until it is active, then node-b until it
# is passive (start_member: PATTERN finds the receiver's port).  Sets A_PID
# A_RECV A_API and B_PID B_RECV B_API for the nodes it started (A_PID, B_PID
# empty for one it did not: stop them with stop_pair); returns 1 with
# PAIR_WHY saying what went wrong when one did not start or reach its role.
A_PID="" A_RECV="" A_API="" B_PID="" B_RECV="" B_API="" PAIR_WHY=""
# shellcheck disable=SC2034  # A_* B_* PAIR_WHY are for the scripts
start_pair() {
	local d=$1 pattern=$2 ok=0
	A_PID="" A_RECV="" A_API="" B_PID="" B_RECV="" B_API="" PAIR_WHY=""
	start_member "$d" node-a "$pattern" active || ok=1
	A_PID=$N_PID A_RECV=$N_RECV A_API=$N_API
	[ "$ok" = 0 ] || return 1
	start_member "$d" node-b "$pattern" passive || ok=1
	B_PID=$N_PID B_RECV=$N_RECV B_API=$N_API
	return "$ok"
}

# stop_pair: stops node-b, then node-a (those start_pair started)
stop_pair() {
	[ -n "$B_PID" ] && stop_pid "$B_PID"
	[ -n "$A_PID" ] && stop_pid "$A_PID"
	return 0
}

# tail_logs DIR N: the last N lines of DIR/node-a/tandemd.log and
# DIR/node-b/tandemd.log (those there are) to stderr, as `#   NAME: ` lines
tail_logs() {
	local name
	for name in node-a node-b; do
		[ -f "$1/$name/tandemd.log" ] && tail -n "$2" "$1/$name/tandemd.log" | sed "s/^/#   $name: /" >&2
	done
	return 0
}

# --- host load and figures ----------------------------------------------------

# host_busy S: percent of all CPUs busy over S seconds
host_busy() {
	local a b
	read -r -a a < <(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
	sleep "${1:-1}"
	read -r -a b < <(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
	echo $(((b[0] - a[0]) * 100 / ((b[0] - a[0]) + (b[1] - a[1]) + 1)))
}

# wait_quiet: wait up to QUIET_WAIT s for other CPU use to drop to QUIET_PCT
# (both set by the script); prints a `# background CPU before the run` line
wait_quiet() {
	local t=0 busy
	busy=$(host_busy 1)
	while [ "$busy" -gt "$QUIET_PCT" ] && [ "$t" -lt "$QUIET_WAIT" ]; do
		sleep 2
		t=$((t + 3))
		busy=$(host_busy 1)
	done
	printf '# background CPU before the run: %s%% of %s cpus (waited %ss, threshold %s%%)%s\n' \
		"$busy" "$(nproc)" "$t" "$QUIET_PCT" \
		"$([ "$busy" -gt "$QUIET_PCT" ] && echo ' -- NOISY: the figures below may be depressed by other load')"
}

# stats DECIMALS: min median max of the numbers on stdin, each with DECIMALS
# decimals (NA NA NA when none)
stats() {
	sort -g | awk -v f="%.${1}f" '{ v[NR] = $1 } END {
		if (NR == 0) { print "NA NA NA"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf f " " f " " f "\n", v[1], m, v[NR] }'
}

# --- the peer -----------------------------------------------------------------

# run_anchor LABEL SCRIPT KNOB TIMEOUT OUT [VAR=VALUE...]: after a blank line,
# runs the peer's anchor SCRIPT (../shared/anchors/; it tracks and stops its
# own processes) with bash under `timeout TIMEOUT`, with each VAR=VALUE,
# QUIET_PCT and QUIET_WAIT in its environment and its output in OUT, and
# prints `# LABEL (SCRIPT's name, VAR=VALUE ...):` and that output as `#   `
# lines.  Fails with a warning naming the knobs KNOB_SCRIPT and KNOB (0: skip
# the anchor) when SCRIPT is not readable.
run_anchor() {
	local label=$1 script=$2 knob=$3 limit=$4 out=$5
	shift 5
	echo
	if [ ! -r "$script" ]; then
		tandem_warn "no $label anchor at $script (set ${knob}_SCRIPT, or $knob=0)"
		return 1
	fi
	echo "# $label ($(basename "$script"), $*):"
	env "$@" QUIET_PCT="$QUIET_PCT" QUIET_WAIT="$QUIET_WAIT" timeout "$limit" bash "$script" >"$out" 2>&1
	sed 's/^/#   /' "$out"
}
