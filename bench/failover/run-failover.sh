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
# With replication (ack = replicated, the default) an acknowledged event is
# held by both nodes: the survivor publishes what the killed node had not
# confirmed as published.  An output both nodes logged around the takeover
# for the same input seq is one output (the stores key it by input seq and
# write it once); "duplicated" counts events ingested twice (an id under two
# input seqs).
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

# shellcheck source=bench/lib-cluster.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib-cluster.sh"

TRIALS=${TRIALS:-10}
INTERVAL_US=${INTERVAL_US:-2000}
PRE_MS=${PRE_MS:-1000}
POST_MS=${POST_MS:-500}
LEASE_TTL_MS=${LEASE_TTL_MS:-3000}
SENTINEL=${SENTINEL:-1}
SENTINEL_TRIALS=${SENTINEL_TRIALS:-5}
SENTINEL_SCRIPT=${SENTINEL_SCRIPT:-$TANDEM_ROOT/../shared/anchors/redis_sentinel_failover.sh}
# QUIET_PCT, QUIET_WAIT, BUILD: bench/lib-cluster.sh

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
bench_setup failover receivers/http bench/failover-client "${need[@]}"
write_plan "$WORK/plan.siddhiql" Failover long

# the sed pattern of the http receiver's port in a node's log (start_pair)
HTTP_PORT_LOG='.*http receiver http listening on [^ ]*:\([0-9][0-9]*\).*'

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
	new_cluster "$D"
	for name in node-a node-b; do
		mkdir -p "$D/$name"
		{
			conf_node "$name" "$D"
			echo
			conf_cluster bench-failover "$D" "$name" "$MA" "$MB" "lease_ttl_ms = $LEASE_TTL_MS"
			echo
			conf_sqlite_store "$D/shared.db"
			cat <<-EOF

				[engine]
				plans = $WORK/plan.siddhiql
				output_log = $D/$name/outputs.jsonl

				[receiver.http]
				plugin = http
				port = 0
				endpoints = s=S
			EOF
		} >"$D/$name/tandem.conf"
	done

	why=""
	start_pair "$D" "$HTTP_PORT_LOG" || why=$PAIR_WHY
	# no "Killed" job notice when the client kills node-a
	for pid in $A_PID $B_PID; do disown "$pid"; done
	out=""
	if [ -z "$why" ]; then
		out=$(timeout 120 "$B/bench/failover-client" --node "$A_RECV:$A_PID" --node "$B_RECV:$B_PID" \
			--acked "$D/acked" --interval-us "$INTERVAL_US" --pre-ms "$PRE_MS" --post-ms "$POST_MS" \
			--timeout 30 2>"$D/client.err")
		line=$(printf '%s\n' "$out" | grep '^RESULT name=failover-client' | tail -1)
		[ -n "$line" ] || why="the client failed: $(tail -2 "$D/client.err" | tr '\n' ' ')"
	fi
	# node-a is dead (killed by the client) or stopped here; node-b stops in order
	stop_pair
	if [ -n "$why" ]; then
		tandem_warn "trial $t: $why"
		tail_logs "$D" 15
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

read -r C_MIN C_MED C_MAX < <(stats 1 <"$WORK/client_ms")
read -r T_MIN T_MED T_MAX < <(stats 1 <"$WORK/takeover_ms")
[ "$measured" -gt 0 ] || { LOST=NA DUP=NA; }
echo
echo "# tandem, $measured of $TRIALS trials measured"
printf '%-58s min=%s median=%s max=%s\n' "kill -> first event acknowledged by the new active (ms)" "$C_MIN" "$C_MED" "$C_MAX"
printf '%-58s min=%s median=%s max=%s\n' "kill -> 'Became active' in the survivor's log (ms)" "$T_MIN" "$T_MED" "$T_MAX"
printf '%-58s %s lost, %s duplicated (over all trials)\n' "acknowledged events in the two output logs" "$LOST" "$DUP"

# --- the peer -----------------------------------------------------------------

S_MED=NA
if [ "$SENTINEL" = 1 ]; then
	S_MED=""
	# the anchor uses the 5 ports from BASE_PORT
	run_anchor "Redis Sentinel" "$SENTINEL_SCRIPT" SENTINEL $((SENTINEL_TRIALS * 60 + QUIET_WAIT + 120)) \
		"$WORK/sentinel.out" TRIALS="$SENTINEL_TRIALS" BASE_PORT="$(pick_ports 5)" &&
		S_MED=$(awk '/first write acked via sentinel discovery/ {
			for (i = 1; i <= NF; i++) if ($i ~ /^median=/) { sub(/^median=/, "", $i); print $i } }' \
			"$WORK/sentinel.out" | head -1)
	[ -n "$S_MED" ] || { S_MED=NA; status=1; }
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
