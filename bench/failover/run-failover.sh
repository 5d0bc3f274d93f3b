#!/usr/bin/env bash
# bench/failover/run-failover.sh: how long a client is without an active node
# when the active node of a two-node cluster is killed, and what happens to
# the events it had acknowledged; beside it, Redis Sentinel's failover
# measured in the same run.
#
# Each trial starts a fresh cluster in a temporary directory: two tandemd on
# 127.0.0.1 with wka membership (free ports), one cluster key, a shared SQLite
# store as the arbiter (arbiter = store), and a plan that passes every event
# through (`from S select id, v insert into Out;`) with an output log per
# node.  Once one node is active and the other passive, build/bench/failover-client
# (bench/failover/failover-client.c) posts one WSO2 JSON event at a time to
# the active node every INTERVAL_US, each with its own id; a refused (503) or
# failed request goes to the other node (Retry-After is not waited for).
# PRE_MS after the start the client SIGKILLs the active node from a second
# thread (a request may be in flight), measures the time from the kill until
# the first 202 from the other node, keeps posting POST_MS more, and stops.
# Then it counts, over both nodes' output logs, the acknowledged events that
# are missing (lost) or there more than once (duplicated).
#
# HA part 1 does not replicate: the events the killed node acknowledged are in
# its own output log (flushed after every batch), not in the new active's; an
# event acknowledged but not yet processed when the node died is lost.
#
# Columns of the table: the node killed, the events acknowledged before the
# kill and in all, the 503 answers and failed requests (connection refused or
# lost), detect_ms (kill to the survivor's "Member left" log line),
# takeover_ms (kill to its "Became active" line; both from log timestamps, ms
# resolution), client_ms (kill to the client's first 202 from the survivor,
# the figure of the summary), lost, dup, and unacked (ids in the outputs that
# were never acknowledged: a request in flight at the kill).
#
# The peer, ../shared/anchors/redis_sentinel_failover.sh (Redis master +
# replica + 3 Sentinels, down-after-milliseconds 1000, kill -9 of the master
# under a fixed write rate), runs after our trials; its figure is the median
# time from the kill until a client following Sentinel gets a write acked.
#
# Usage: bench/failover/run-failover.sh   (about 1 minute for our trials, 1-2 more
#                                          for Sentinel's, + up to QUIET_WAIT s)
#
# Exit status 0 when everything was measured, 1 when something could not be
# (its figure is NA), whatever the figures.
#
# Environment knobs:
#   TRIALS=10            our trials
#   INTERVAL_US=2000     one event every this many microseconds
#   PRE_MS=1000          load before the kill
#   POST_MS=500          load after the first 202 from the new active
#   LEASE_TTL_MS=3000    [cluster] lease_ttl_ms of the nodes
#   SENTINEL=1           0: do not run the Sentinel anchor
#   SENTINEL_TRIALS=5    TRIALS of the anchor
#   SENTINEL_SCRIPT      the anchor (default ../shared/anchors/redis_sentinel_failover.sh)
#   QUIET_PCT=10 QUIET_WAIT=60   first wait (bounded) for other CPU load to drop
#                        (also given to the anchor)
#   BUILD=0              do not run meson compile first
#   TANDEM_BUILD_DIR     the meson build directory (default: build/)
#
# The last line is
#   RESULT name=failover trials=N median_ms=X max_ms=X lost=N duplicated=N sentinel_median_ms=X
# trials: the trials measured; median_ms, max_ms: client_ms over them; lost,
# duplicated: summed over them; NA where nothing could be measured.
#
# Everything listens on 127.0.0.1; every process started is stopped by its PID.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -u

# shellcheck source=scripts/lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/lib.sh"

TRIALS=${TRIALS:-10}
INTERVAL_US=${INTERVAL_US:-2000}
PRE_MS=${PRE_MS:-1000}
POST_MS=${POST_MS:-500}
LEASE_TTL_MS=${LEASE_TTL_MS:-3000}
SENTINEL=${SENTINEL:-1}
SENTINEL_TRIALS=${SENTINEL_TRIALS:-5}
SENTINEL_SCRIPT=${SENTINEL_SCRIPT:-$TANDEM_ROOT/../shared/anchors/redis_sentinel_failover.sh}
QUIET_PCT=${QUIET_PCT:-10}
QUIET_WAIT=${QUIET_WAIT:-60}
BUILD=${BUILD:-1}

B="$TANDEM_BUILD_DIR"
PIDS=()
WORK=""

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

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		stop_pid "$pid"
	done
	[ -n "$WORK" ] && rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# port_free PORT: no TCP socket uses PORT (listening or not)
port_free() {
	! ss -tanH "sport = :$1" 2>/dev/null | grep -q .
}

# pick_port: a free TCP port below the kernel's ephemeral range (a port in
# that range that nothing listens on yet may be taken meanwhile as the source
# port of an outgoing connection: one trial in three failed that way with
# ports chosen in 20000-59999)
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

# node_state API_PORT: the node's HA state, or nothing
node_state() {
	curl -s --noproxy '*' --max-time 1 "http://127.0.0.1:$1/api/v1/status" 2>/dev/null |
		grep -o '"state":"[a-z_-]*"' | head -n1 | cut -d'"' -f4
}

# wait_state API_PORT STATE: wait (15 s at most) until the node is in STATE
wait_state() {
	for _ in $(seq 1 300); do
		[ "$(node_state "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# --- host load ----------------------------------------------------------------

# host_busy S: percent of all CPUs busy over S seconds
host_busy() {
	local a b
	read -r -a a < <(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
	sleep "${1:-1}"
	read -r -a b < <(awk '/^cpu /{print $2+$3+$4+$7+$8, $5+$6}' /proc/stat)
	echo $(((b[0] - a[0]) * 100 / ((b[0] - a[0]) + (b[1] - a[1]) + 1)))
}

# wait_quiet: wait up to QUIET_WAIT s for other CPU use to drop to QUIET_PCT
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

# --- figures ------------------------------------------------------------------

# ms_of_day_from_log LOG PATTERN: the time of day in ms of the first line of
# LOG containing PATTERN (GLib's "HH:MM:SS.mmm" stamp), or nothing
ms_of_day_from_log() {
	grep -m1 -F "$2" "$1" 2>/dev/null |
		sed -n 's/.* \([0-9][0-9]\):\([0-9][0-9]\):\([0-9][0-9]\)\.\([0-9][0-9][0-9]\): .*/\1 \2 \3 \4/p' |
		awk '{ printf "%d\n", (($1 * 60 + $2) * 60 + $3) * 1000 + $4 }'
}

# ms_of_day_from_wall US: the local time of day in ms (fractional) of a wall
# clock time in microseconds since the Unix epoch
ms_of_day_from_wall() {
	local s=$(($1 / 1000000)) midnight
	midnight=$(date -d "$(date -d "@$s" +%F) 00:00:00" +%s)
	awk -v us="$1" -v m="$midnight" 'BEGIN { printf "%.1f\n", us / 1000 - m * 1000 }'
}

# log_delay_ms LOG PATTERN KILL_WALL_US: ms from the kill to the log line
log_delay_ms() {
	local at kill
	at=$(ms_of_day_from_log "$1" "$2")
	[ -n "$at" ] || { echo NA; return; }
	kill=$(ms_of_day_from_wall "$3")
	awk -v a="$at" -v k="$kill" 'BEGIN { d = a - k; if (d < -43200000) d += 86400000; printf "%.0f\n", d }'
}

# stats: min median max of the numbers on stdin (NA NA NA when none)
stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "NA NA NA"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f %.1f\n", v[1], m, v[NR] }'
}

# field NAME LINE: the value of NAME=VALUE in LINE
field() {
	printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}

# --- setup --------------------------------------------------------------------

need=()
if [ "$SENTINEL" = 1 ]; then
	command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
	command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
	command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
fi
command -v ss >/dev/null 2>&1 || need+=(iproute2)
if [ "${#need[@]}" -gt 0 ]; then
	sudo=()
	[ "$(id -u)" -ne 0 ] && sudo=(sudo)
	tandem_step "Installing ${need[*]}"
	if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
		tandem_warn "could not install ${need[*]}"
	fi
fi

cd "$TANDEM_ROOT" || exit 1
BUILD_LOG="${TMPDIR:-/tmp}/tandem-bench-failover-build.log"
if [ "$BUILD" = 0 ]; then
	:
elif [ -f "$B/build.ninja" ]; then
	meson compile -C "$B" >"$BUILD_LOG" 2>&1
else
	tandem_build >"$BUILD_LOG" 2>&1
fi || tandem_warn "the build failed (see $BUILD_LOG); measuring what was built"
for f in daemon/tandemd bench/failover-client; do
	[ -x "$B/$f" ] || tandem_die "$B/$f is missing: build with meson compile -C $B"
done
for kind in membership/wka receivers/http stores/gda; do
	compgen -G "$B/plugins/$kind/*.so" >/dev/null || tandem_die "no plugin in $B/plugins/$kind: build it"
done
PLUGIN_PATH="$B/plugins/membership/wka:$B/plugins/receivers/http:$B/plugins/stores/gda"

umask 022
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tandem-bench-failover.XXXXXX") || exit 1
chmod 700 "$WORK"
cat >"$WORK/plan.siddhiql" <<-'EOF'
	@Plan:name('Failover')
	define stream S (id long, v long);
	@info(name = 'all')
	from S
	select id, v
	insert into Out;
EOF

# start_node TRIAL_DIR NAME: starts a node of the trial's cluster; sets
# N_PID, N_HTTP, N_API
N_PID="" N_HTTP="" N_API=""
start_node() {
	local d=$1 name=$2
	TANDEM_PLUGIN_PATH="$PLUGIN_PATH" "$B/daemon/tandemd" --config "$d/$name/tandem.conf" \
		</dev/null >"$d/$name/tandemd.log" 2>&1 &
	N_PID=$!
	PIDS+=("$N_PID")
	disown "$N_PID" # no "Killed" job notice when the client kills it
	N_HTTP=$(log_port "$d/$name/tandemd.log" "$N_PID" '.*http receiver http listening on [^ ]*:\([0-9][0-9]*\).*') &&
		N_API=$(log_port "$d/$name/tandemd.log" "$N_PID" '.*REST API listening on http:\/\/[^ ]*:\([0-9][0-9]*\).*')
}

# --- trials -------------------------------------------------------------------

echo "# failover: $(nproc) cpus; $TRIALS trials; two tandemd, wka membership, arbiter = store (shared SQLite)," \
	"lease_ttl_ms $LEASE_TTL_MS; one event per request every ${INTERVAL_US} us, kill -9 of the active" \
	"after ${PRE_MS} ms, ${POST_MS} ms more after the first 202 from the new active"
wait_quiet
FMT='%-6s %-7s %9s %7s %8s %7s %10s %12s %10s %5s %5s %8s\n'
# shellcheck disable=SC2059
printf "$FMT" trial killed acked_pre acked refused failed detect_ms takeover_ms client_ms lost dup unacked

status=0
measured=0
LOST=0 DUP=0
: >"$WORK/client_ms"
: >"$WORK/takeover_ms"
for t in $(seq 1 "$TRIALS"); do
	D="$WORK/t$t"
	mkdir -p "$D/node-a" "$D/node-b"
	(umask 077 && head -c 32 /dev/urandom | base64 >"$D/cluster.key")
	ma=$(pick_port) mb=$(pick_port)
	while [ "$mb" = "$ma" ]; do mb=$(pick_port); done
	for name in node-a node-b; do
		listen=$ma
		[ "$name" = node-b ] && listen=$mb
		cat >"$D/$name/tandem.conf" <<-EOF
			[node]
			id = $name
			state_dir = $D/$name/state
			log_level = message

			[cluster]
			name = bench-failover
			key_file = $D/cluster.key
			lease_ttl_ms = $LEASE_TTL_MS

			[api]
			port = 0

			[membership.m]
			plugin = wka
			listen = 127.0.0.1:$listen
			members = 127.0.0.1:$ma, 127.0.0.1:$mb

			[store.db]
			plugin = gda
			provider = sqlite
			database = $D/shared.db

			[engine]
			plans = $WORK/plan.siddhiql
			output_log = $D/$name/outputs.jsonl

			[receiver.http]
			plugin = http
			port = 0
			endpoints = s=S
		EOF
	done

	why=""
	A_PID="" B_PID=""
	if ! start_node "$D" node-a; then
		why="node-a did not start"
	else
		A_PID=$N_PID A_HTTP=$N_HTTP A_API=$N_API
		if ! wait_state "$A_API" active; then
			why="node-a did not become active"
		elif ! start_node "$D" node-b; then
			why="node-b did not start"
		else
			B_PID=$N_PID B_HTTP=$N_HTTP B_API=$N_API
			wait_state "$B_API" passive || why="node-b did not become passive"
		fi
	fi
	out=""
	if [ -z "$why" ]; then
		out=$(timeout 120 "$B/bench/failover-client" --node "$A_HTTP:$A_PID" --node "$B_HTTP:$B_PID" \
			--acked "$D/acked" --interval-us "$INTERVAL_US" --pre-ms "$PRE_MS" --post-ms "$POST_MS" \
			--timeout 30 2>"$D/client.err")
		line=$(printf '%s\n' "$out" | grep '^RESULT name=failover-client' | tail -1)
		[ -n "$line" ] || why="the client failed: $(tail -2 "$D/client.err" | tr '\n' ' ')"
	fi
	# node-a is dead (killed by the client) or stopped here; node-b stops in order
	[ -n "$B_PID" ] && stop_pid "$B_PID"
	[ -n "$A_PID" ] && stop_pid "$A_PID"
	if [ -n "$why" ]; then
		tandem_warn "trial $t: $why"
		for name in node-a node-b; do
			[ -f "$D/$name/tandemd.log" ] && tail -n 15 "$D/$name/tandemd.log" | sed "s/^/#   $name: /" >&2
		done
		# shellcheck disable=SC2059
		printf "$FMT" "$t" NA NA NA NA NA NA NA NA NA NA NA
		status=1
		rm -rf "$D"
		continue
	fi
	count=$("$B/bench/failover-client" --count --acked "$D/acked" \
		"$D/node-a/outputs.jsonl" "$D/node-b/outputs.jsonl" 2>&1 | grep '^RESULT' | tail -1)
	client_ms=$(field client_ms "$line")
	kill_wall=$(field kill_wall_us "$line")
	detect=$(log_delay_ms "$D/node-b/tandemd.log" "Member left: node-a" "$kill_wall")
	takeover=$(log_delay_ms "$D/node-b/tandemd.log" "Became active" "$kill_wall")
	lost=$(field lost "$count")
	dup=$(field duplicated "$count")
	# shellcheck disable=SC2059
	printf "$FMT" "$t" node-a "$(field acked_before_kill "$line")" "$(field acked "$line")" \
		"$(field refused "$line")" "$(field failed "$line")" "$detect" "$takeover" "$client_ms" \
		"${lost:-NA}" "${dup:-NA}" "$(field unacked_in_outputs "$count")"
	if [ -z "$lost" ] || [ -z "$dup" ]; then
		status=1
	else
		LOST=$((LOST + lost))
		DUP=$((DUP + dup))
	fi
	echo "$client_ms" >>"$WORK/client_ms"
	[ "$takeover" != NA ] && echo "$takeover" >>"$WORK/takeover_ms"
	measured=$((measured + 1))
	rm -rf "$D"
done

read -r C_MIN C_MED C_MAX < <(stats <"$WORK/client_ms")
read -r T_MIN T_MED T_MAX < <(stats <"$WORK/takeover_ms")
[ "$measured" -gt 0 ] || { LOST=NA DUP=NA; }
echo
echo "# tandem, $measured of $TRIALS trials measured"
printf '%-58s min=%s median=%s max=%s\n' "kill -> first event acknowledged by the new active (ms)" "$C_MIN" "$C_MED" "$C_MAX"
printf '%-58s min=%s median=%s max=%s\n' "kill -> 'Became active' in the survivor's log (ms)" "$T_MIN" "$T_MED" "$T_MAX"
printf '%-58s %s lost, %s duplicated (over all trials)\n' "acknowledged events in the two output logs" "$LOST" "$DUP"

# --- the peer -----------------------------------------------------------------

S_MED=NA
if [ "$SENTINEL" = 1 ]; then
	echo
	if [ ! -r "$SENTINEL_SCRIPT" ]; then
		tandem_warn "no Sentinel anchor at $SENTINEL_SCRIPT (set SENTINEL_SCRIPT, or SENTINEL=0)"
		status=1
	else
		base=17100
		for _ in $(seq 1 20); do
			free=1
			for p in $(seq "$base" $((base + 4))); do port_free "$p" || free=0; done
			[ "$free" = 1 ] && break
			base=$((20000 + RANDOM % 40000))
		done
		echo "# Redis Sentinel ($(basename "$SENTINEL_SCRIPT"), TRIALS=$SENTINEL_TRIALS BASE_PORT=$base):"
		# its own processes are tracked and killed by the anchor itself
		TRIALS=$SENTINEL_TRIALS BASE_PORT=$base QUIET_PCT=$QUIET_PCT QUIET_WAIT=$QUIET_WAIT \
			timeout $((SENTINEL_TRIALS * 60 + QUIET_WAIT + 120)) bash "$SENTINEL_SCRIPT" >"$WORK/sentinel.out" 2>&1
		sed 's/^/#   /' "$WORK/sentinel.out"
		S_MED=$(awk '/first write acked via sentinel discovery/ {
			for (i = 1; i <= NF; i++) if ($i ~ /^median=/) { sub(/^median=/, "", $i); print $i } }' \
			"$WORK/sentinel.out" | head -1)
		[ -n "$S_MED" ] || { S_MED=NA; status=1; }
	fi
fi

ratio=$(awk -v a="$C_MED" -v b="$S_MED" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.4f", a / b }')
echo
printf '%-58s %s ms\n' "tandem: kill -> first 202 from the new active, median" "$C_MED"
printf '%-58s %s ms\n' "Redis Sentinel: kill -> client following Sentinel acked, median" "$S_MED"
printf '%-58s %s\n' "ratio tandem / Sentinel" "$ratio"
[ "$measured" = "$TRIALS" ] || status=1
[ "$C_MED" = NA ] && { C_MED=NA C_MAX=NA; }
echo "RESULT name=failover trials=$measured median_ms=$C_MED max_ms=$C_MAX lost=$LOST duplicated=$DUP sentinel_median_ms=$S_MED"
exit "$status"
