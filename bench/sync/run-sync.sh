#!/usr/bin/env bash
# bench/sync/run-sync.sh: how long a node that comes back takes to copy the
# live state of the active and become passive again (HA part 2, "State
# sync"), for a plan holding a large window; beside it, a Redis replica's
# full resynchronisation of a data set of about the same size, measured in
# the same run.
#
# A two-node cluster on 127.0.0.1 (wka membership, arbiter = none with
# allow_split_brain, so that no database takes part; a tcp receiver) runs
# the plan
#   from S#window.length(EVENTS) select id, sum(v) as total insert into Out;
# build/bench/tcp-load sends EVENTS events of S (id long, v long) to the
# active, which the passive follows.  Then, TRIALS times: the passive is
# killed with kill -9 and started again (it restores nothing: no persister);
# it asks the active, which has no log that far back, for its state; the
# active snapshots the window on its engine thread and streams it in
# checksummed chunks; the node restores it and follows.  A trial's figure is
# the time from starting the process until the active reports its passive
# in sync and the passive logged that it restored the state; the state's size comes from the active's log, the time the
# joiner spent receiving and restoring from the joiner's.
#
# The peer: redis-server (master, --save '' --appendonly no) filled with
# DEBUG POPULATE to KEYS keys of VALUE bytes (default: EVENTS keys of 40
# bytes, about the size of our state), then TRIALS times a replica started
# with --replicaof (diskless sync, no delay): the time from starting it
# until INFO replication says master_link_status:up with no sync in
# progress.
#
# Usage: bench/sync/run-sync.sh   (about 1 minute; + up to QUIET_WAIT s)
#
# Exit status 0 when everything was measured, 1 when something could not be
# (its figure is NA), whatever the figures.
#
# Environment knobs:
#   EVENTS=1000000       events in the window (the state's size)
#   TRIALS=3             restarts of the passive (and replica starts)
#   REDIS=1              0: do not run the Redis peer
#   KEYS=$EVENTS VALUE=40   the Redis data set
#   QUIET_PCT=10 QUIET_WAIT=60   first wait (bounded) for other CPU load to drop
#   BUILD=0              do not run meson compile first
#   TANDEM_BUILD_DIR     the meson build directory (default: build/)
#
# The last line is
#   RESULT name=sync events=N state_bytes=N sync_s=X redis_keys=N
#     redis_dataset_bytes=N redis_full_sync_s=X ratio=X
# sync_s and redis_full_sync_s: medians; ratio: redis_full_sync_s / sync_s
# (above 1: we copy faster); NA where something could not be measured.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -u

# shellcheck source=bench/lib-cluster.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib-cluster.sh"

EVENTS=${EVENTS:-1000000}
TRIALS=${TRIALS:-3}
REDIS=${REDIS:-1}
KEYS=${KEYS:-$EVENTS}
VALUE=${VALUE:-40}
status=0

need=()
[ "$REDIS" = 1 ] && ! command -v redis-server >/dev/null 2>&1 && need+=(redis-server redis-tools)
bench_setup sync receivers/tcp bench/tcp-load "${need[@]}"
wait_quiet

# --- ours ---------------------------------------------------------------------

D="$WORK/cluster"
new_cluster "$D"
cat >"$WORK/plan.siddhiql" <<EOF
@Plan:name('Window')
define stream S (id long, v long);
@info(name = 'sum')
from S#window.length($EVENTS)
select id, sum(v) as total
insert into Out;
EOF
for name in node-a node-b; do
	mkdir -p "$D/$name"
	{
		conf_tcp_node "$name" "$D" "$WORK/plan.siddhiql"
		echo
		conf_cluster bench-sync "$D" "$name" "$MA" "$MB" "arbiter = none" "allow_split_brain = true"
	} >"$D/$name/tandem.conf"
done

# ms since the epoch of a log line's timestamp (HH:MM:SS.mmm, today)
log_ms() {
	local t
	t=$(sed -n "s/.* \([0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9][0-9][0-9]\): $1.*/\1/p" "$2" | tail -1)
	[ -n "$t" ] || return 1
	awk -v t="$t" 'BEGIN { split(t, a, /[:.]/); print ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 + a[4] }'
}

STATE_BYTES=NA SYNC_S=NA
printf '# sync: %s cpus; a window of %s events; %s restarts of the passive\n' "$(nproc)" "$EVENTS" "$TRIALS"
if ! start_pair "$D" "$TCP_PORT_LOG" || ! wait_in_sync "$A_API"; then
	tandem_warn "the cluster did not start: ${PAIR_WHY:-node-b is not in sync}"
	tail_logs "$D" 5
	status=1
else
	out=$(timeout 300 "$B/bench/tcp-load" --port "$A_RECV" --stream S --types long,long --events "$EVENTS" \
		--batch 100 --window 16 --connections 1 --timeout 240 2>&1)
	eps=$(printf '%s\n' "$out" | sed -n 's/^RESULT name=tcp-load .* events_per_s=\([0-9]*\).*/\1/p' | tail -1)
	printf '# fed %s events at %s events/s (ack = replicated)\n' "$EVENTS" "${eps:-NA}"
	printf '%-8s %12s %12s %12s\n' trial sync_s receive_s state_bytes
	: >"$WORK/sync.s"
	for trial in $(seq 1 "$TRIALS"); do
		kill -KILL "$B_PID" 2>/dev/null
		wait "$B_PID" 2>/dev/null
		# the active sees the passive gone before it comes back
		for _ in $(seq 1 100); do
			node_status "$A_API" | grep -q '"in_sync":true' || break
			sleep 0.02
		done
		t0=$(date +%s%N)
		if ! start_node "$D" node-b "$TCP_PORT_LOG"; then
			tandem_warn "node-b did not start again"
			status=1
			break
		fi
		B_PID=$N_PID B_API=$N_API
		ok=0
		for _ in $(seq 1 3000); do
			if [ "$(node_state "$B_API")" = passive ] && node_status "$A_API" | grep -q '"in_sync":true' &&
				grep -q "Replication: state of .* restored from" "$D/node-b/tandemd.log"; then
				ok=1
				break
			fi
			sleep 0.01
		done
		t1=$(date +%s%N)
		if [ "$ok" = 0 ]; then
			tandem_warn "trial $trial: node-b did not become passive and in sync within 30 s"
			tail_logs "$D" 25
			status=1
			break
		fi
		s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
		echo "$s" >>"$WORK/sync.s"
		blog="$D/node-b/tandemd.log"
		recv=$(log_ms "Replication: receiving the state" "$blog")
		rest=$(log_ms "Replication: state of .* restored from" "$blog")
		STATE_BYTES=$(sed -n 's/.*Replication: state at seq [0-9]* (\([0-9]*\) bytes) sent to node-b.*/\1/p' \
			"$D/node-a/tandemd.log" | tail -1)
		[ -n "$STATE_BYTES" ] || STATE_BYTES=NA
		printf '%-8s %12s %12s %12s\n' "$trial" "$s" \
			"$(awk -v a="${recv:-}" -v b="${rest:-}" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.2f", (b - a) / 1000 }')" \
			"$STATE_BYTES"
	done
	read -r _ SYNC_S _ < <(stats 2 <"$WORK/sync.s")
	stop_pair
fi
echo "# sync_s: from starting the passive's process until the active reports it in sync and it restored"
echo "# the state (the restore runs on its engine thread, the events after the state queued behind it);"
echo "# receive_s: from the joiner's first state chunk until it restored the state (its log, ms)"

# --- the peer: a Redis replica's full resynchronisation -----------------------

REDIS_S=NA REDIS_BYTES=NA
if [ "$REDIS" = 1 ]; then
	if ! command -v redis-server >/dev/null 2>&1; then
		tandem_warn "redis-server is not installed: no peer"
		status=1
	else
		MP=$(pick_port) RP=$(pick_port)
		while [ "$RP" = "$MP" ]; do RP=$(pick_port); done
		mkdir -p "$WORK/redis-m" "$WORK/redis-r"
		redis-server --bind 127.0.0.1 --port "$MP" --save '' --appendonly no --dir "$WORK/redis-m" \
			--enable-debug-command local --repl-diskless-sync yes --repl-diskless-sync-delay 0 \
			>"$WORK/redis-m.log" 2>&1 &
		M_PID=$!
		PIDS+=("$M_PID")
		for _ in $(seq 1 100); do
			redis-cli -p "$MP" ping >/dev/null 2>&1 && break
			sleep 0.05
		done
		redis-cli -p "$MP" debug populate "$KEYS" key "$VALUE" >/dev/null
		REDIS_BYTES=$(redis-cli -p "$MP" info memory | sed -n 's/^used_memory_dataset:\([0-9]*\).*/\1/p')
		[ -n "$REDIS_BYTES" ] || REDIS_BYTES=NA
		printf '\n# Redis %s: %s keys of %s bytes (dataset %s bytes in memory); replica: diskless sync, no delay\n' \
			"$(redis-server --version | awk '{ print $3 }' | cut -d= -f2)" "$KEYS" "$VALUE" "$REDIS_BYTES"
		printf '%-8s %12s\n' trial full_sync_s
		: >"$WORK/redis.s"
		for trial in $(seq 1 "$TRIALS"); do
			rm -rf "$WORK/redis-r" && mkdir -p "$WORK/redis-r"
			t0=$(date +%s%N)
			redis-server --bind 127.0.0.1 --port "$RP" --save '' --appendonly no --dir "$WORK/redis-r" \
				--replicaof 127.0.0.1 "$MP" >"$WORK/redis-r.log" 2>&1 &
			R_PID=$!
			PIDS+=("$R_PID")
			ok=0
			for _ in $(seq 1 6000); do
				info=$(redis-cli -p "$RP" info replication 2>/dev/null)
				if printf '%s' "$info" | grep -q 'master_link_status:up' &&
					printf '%s' "$info" | grep -q 'master_sync_in_progress:0'; then
					ok=1
					break
				fi
				sleep 0.005
			done
			t1=$(date +%s%N)
			n=$(redis-cli -p "$RP" dbsize 2>/dev/null)
			stop_pid "$R_PID"
			if [ "$ok" = 0 ] || [ "$n" != "$KEYS" ]; then
				tandem_warn "Redis trial $trial: the replica did not sync (keys: ${n:-?})"
				status=1
				break
			fi
			s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
			echo "$s" >>"$WORK/redis.s"
			printf '%-8s %12s\n' "$trial" "$s"
		done
		read -r _ REDIS_S _ < <(stats 2 <"$WORK/redis.s")
		stop_pid "$M_PID"
	fi
fi

RATIO=$(awk -v a="$REDIS_S" -v b="$SYNC_S" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b }')
echo
printf '%-52s %s s (state of %s bytes)\n' "tandem: passive restarted until in sync, median" "$SYNC_S" "$STATE_BYTES"
printf '%-52s %s s (%s keys)\n' "Redis: replica started until synced, median" "$REDIS_S" "$KEYS"
printf '%-52s %s\n' "ratio Redis / tandem (above 1: tandem is faster)" "$RATIO"
for v in "$SYNC_S" "$STATE_BYTES"; do
	[ "$v" = NA ] && status=1
done
[ "$REDIS" = 1 ] && [ "$REDIS_S" = NA ] && status=1
echo "RESULT name=sync events=$EVENTS state_bytes=$STATE_BYTES sync_s=$SYNC_S redis_keys=$KEYS" \
	"redis_dataset_bytes=$REDIS_BYTES redis_full_sync_s=$REDIS_S ratio=$RATIO"
exit "$status"
