#!/usr/bin/env bash
# bench/replication/run-replication.sh: how many events per second a two-node
# cluster acknowledges when every acknowledged batch is held by both nodes
# ([cluster] ack = replicated, the default), beside Redis with a replica and
# `WAIT 1 0` after every pipeline of 16 writes, measured in the same run.
#
# Cases, each on fresh nodes in a temporary directory (ports below the
# kernel's ephemeral range, one cluster key of mode 0600, wka membership
# listing both nodes, a tcp receiver on every node, the plan
# `define stream S (id long, v int); from S select id, v insert into Out;`):
#
#   (a) one node without HA (no [membership]): the ceiling of ingest alone
#   (b) two nodes, ack = local: the active acknowledges at acceptance and
#       streams the events to the passive behind the acknowledgement
#   (c) two nodes, ack = replicated: an acknowledgement waits until the
#       passive holds the batch -- the figure of this benchmark (acked_eps)
#   (d) as (c) with arbiter = store on a shared SQLite file (the default
#       arbiter), the store holding only the lease and node registry
#       (`role =` empty); (b) and (c) use arbiter = none with
#       allow_split_brain = true, so that no database takes part at all
#   (e) as (d) with the store's default role (events,outputs): the active
#       also writes every event and every output to SQLite (asynchronously,
#       behind the acknowledgement, with back-pressure when its queue fills)
#   (f) as (c), but the load goes to the PASSIVE's tcp receiver: it forwards
#       every batch to the active and acknowledges when the active answers
#   (g) as (e) with ack = durable: an acknowledgement also waits until
#       SQLite committed the batch's events (one commit serves every batch
#       waiting for it), so that it survives the loss of both nodes
#
# build/bench/tcp-load drives the tcp receiver of the single node in (a), of
# the ACTIVE node in (b)-(e), of the passive in (f): frames of BATCH (100)
# events, WINDOW frames in flight on each of CONNS connections.  (The
# receiver hands a connection's batches to the node as they come, without
# waiting for the acknowledgement of the one before, and answers them in
# order; a passive that forwards, in (f), one at a time.)  tcp-load
# sends a fixed number of events: a warm-up run of
# WARMUP_EVENTS measures the rate, then each of RUNS measured runs sends about
# DURATION seconds' worth at that rate.  The figure of a case is the median
# of its runs' events/s (every event acknowledged, in order, checked by
# tcp-load); the table also shows their min and max.
#
# Then ../shared/anchors/redis_ingest.sh runs (it installs redis-server and
# redis-tools when missing); its output is printed as `#` lines and its
# "[replica + WAIT 1 0 per round] C client SET -P16" acked writes/s is the
# peer's figure.
#
# Columns: events/s (median of the runs), min and max, frames/s, then the CPU
# during the measured runs in % of one core: act% (the node driven: the
# active, or in (a) the single node; all its threads), pas% (the other node),
# cli% (tcp-load), bg% (every other process on the host, steal, and the
# softirq time of loopback TCP, which is charged to no process), ev/act_s
# (events per second of the driven node's CPU), and lag: the events the
# active had sequenced but the passive did not hold yet when the last run
# ended (from the active's /api/v1/status: last_seq - replication.acked_seq;
# with ack = local the passive may fall behind until the active holds 64 MiB
# it has not acknowledged; the active then pauses its receivers until the
# passive is back under half of that).  A case during which bg% reached 25% is named
# in a NOISY line.  Client, active and passive share the machine's cores:
# compare figures side by side within one run.
#
# Usage: bench/replication/run-replication.sh   (about 2.5 min for our cases, about 2
#                                               for the anchor, + up to QUIET_WAIT s
#                                               twice: ours and the anchor's)
#
# Exit status 0 when everything was measured, 1 when something could not be
# (its figure is NA), whatever the figures.
#
# Environment knobs:
#   DURATION=5           seconds of each measured run
#   RUNS=3               measured runs per case (the median is the figure)
#   WARMUP_EVENTS=500000 events of the warm-up run that sets the run length
#   BATCH=100 CONNS=4 WINDOW=32   tcp-load: events per frame, connections,
#                        frames in flight per connection (the receiver reads
#                        at most 64 unacknowledged frames per connection)
#   CASES="a b c d e f g"  the cases to run (acked_eps is NA without c)
#   REDIS=1              0: do not run the Redis anchor
#   REDIS_SCRIPT         the anchor (default ../shared/anchors/redis_ingest.sh)
#   PERF=1               record the active and the passive tandemd of case (c)
#                        with `perf record --call-graph dwarf` during its
#                        measured runs and print, for each, its busiest
#                        threads, the functions with what they call
#                        (children) and the hottest functions (self); perf's
#                        CPU then shows in bg% and the figures drop a little
#   QUIET_PCT=10 QUIET_WAIT=60   first wait (bounded) for other CPU load to drop
#                        (also given to the anchor)
#   BUILD=0              do not run meson compile first
#   TANDEM_BUILD_DIR     the meson build directory (default: build/)
#
# The last line is
#   RESULT name=replication acked_eps=N redis_wait_p16_wps=N ratio=X
# acked_eps: case (c); redis_wait_p16_wps: the anchor's SET -P16 with WAIT 1 0;
# ratio: acked_eps / redis_wait_p16_wps (the goal of issue 7 is >= 1); NA
# where something could not be measured.  The line before it,
#   # figures: single_eps=N local_eps=N replicated_eps=N store_arbiter_eps=N
#     store_rows_eps=N forwarded_eps=N durable_eps=N
# gives the other cases.
#
# Everything listens on 127.0.0.1; every process started is stopped by its PID.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

set -u

# shellcheck source=bench/lib-cluster.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib-cluster.sh"

DURATION=${DURATION:-5}
RUNS=${RUNS:-3}
WARMUP_EVENTS=${WARMUP_EVENTS:-500000}
BATCH=${BATCH:-100}
CONNS=${CONNS:-4}
WINDOW=${WINDOW:-32}
CASES=${CASES:-a b c d e f g}
REDIS=${REDIS:-1}
REDIS_SCRIPT=${REDIS_SCRIPT:-$TANDEM_ROOT/../shared/anchors/redis_ingest.sh}
PERF=${PERF:-0}
# QUIET_PCT, QUIET_WAIT, BUILD: bench/lib-cluster.sh

HZ=$(getconf CLK_TCK)

# --- CPU ----------------------------------------------------------------------

# cpu_ticks PID: user+system clock ticks of the process (all its threads), 0
# when there is no such process
cpu_ticks() {
	[ -n "${1:-}" ] || { echo 0; return; }
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# child_ticks: user+system clock ticks of the children this shell has waited
# for (tcp-load)
child_ticks() {
	awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"
}

# host_ticks: clock ticks all CPUs spent busy (user nice system irq softirq steal)
host_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# meter_start DRIVEN_PID OTHER_PID, then meter_stop DRIVEN_PID OTHER_PID
# EVENTS: sets ACT_CPU, PAS_CPU, CLI_CPU, BG_CPU (% of one core over the
# interval) and PER_CPU (EVENTS per second of DRIVEN_PID's CPU)
meter_start() {
	M_T0=$(date +%s%N) M_A0=$(cpu_ticks "$1") M_P0=$(cpu_ticks "${2:-}") M_C0=$(child_ticks) M_H0=$(host_ticks)
}
meter_stop() {
	local h1 c1 a1 p1 t1
	h1=$(host_ticks) c1=$(child_ticks) a1=$(cpu_ticks "$1") p1=$(cpu_ticks "${2:-}") t1=$(date +%s%N)
	[ -n "${2:-}" ] || p1=$M_P0
	read -r ACT_CPU PAS_CPU CLI_CPU BG_CPU PER_CPU < <(awk -v ev="$3" -v hz="$HZ" \
		-v a="$((a1 - M_A0))" -v p="$((p1 - M_P0))" -v c="$((c1 - M_C0))" -v h="$((h1 - M_H0))" \
		-v ns="$((t1 - M_T0))" 'BEGIN {
		t = ns / 1e9; bg = (h - a - p - c) / hz / t
		printf "%.0f %.0f %.0f %.0f %s\n", a / hz / t * 100, p / hz / t * 100, c / hz / t * 100,
			(bg > 0 ? bg * 100 : 0), (a > 0 && ev > 0) ? sprintf("%.0f", ev / (a / hz)) : "-"
	}')
	[ -n "${2:-}" ] || PAS_CPU=-
}

# --- figures ------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NA" || b == "NA" || b == 0) print "NA"; else printf "%.2f", a / b }'; }

# --- setup --------------------------------------------------------------------

need=()
[ "$PERF" = 1 ] && ! command -v perf >/dev/null 2>&1 && need+=(linux-perf)
bench_setup replication receivers/tcp bench/tcp-load "${need[@]}"
write_plan "$WORK/plan.siddhiql" Replication int

# write_conf DIR NAME ACK ARBITER MA MB: the config of node NAME of a cluster
# (ACK local, replicated or durable; ARBITER none, store (a store for the lease only)
# or store-rows (the store also keeps events and outputs); MA MB the
# membership ports), or of a single node without HA when ACK is "-"
write_conf() {
	local d=$1 name=$2 ack=$3 arbiter=$4 ma=$5 mb=$6
	mkdir -p "$d/$name"
	conf_tcp_node "$name" "$d" "$WORK/plan.siddhiql" >"$d/$name/tandem.conf"
	[ "$ack" = - ] && return 0
	{
		echo
		conf_cluster bench-replication "$d" "$name" "$ma" "$mb" "ack = $ack" "arbiter = ${arbiter%-rows}" \
			"$([ "$arbiter" = none ] && echo "allow_split_brain = true")"
		if [ "$arbiter" != none ]; then
			echo
			conf_sqlite_store "$d/shared.db" "$([ "$arbiter" = store ] && echo "role =")"
		fi
	} >>"$d/$name/tandem.conf"
}

# tcp_load PORT EVENTS: one tcp-load run; prints its events/s, or nothing
tcp_load() {
	local out
	out=$(timeout $((DURATION * 8 + 60)) "$B/bench/tcp-load" --port "$1" --stream S --types long,int \
		--events "$2" --batch "$BATCH" --window "$WINDOW" --connections "$CONNS" \
		--timeout $((DURATION * 8 + 30)) 2>&1)
	LOAD_OUT=$out
	printf '%s\n' "$out" | sed -n 's/^RESULT name=tcp-load .* events_per_s=\([0-9]*\).*/\1/p' | tail -1
}

# perf_start PID NAME... / perf_stop: sample each PID during the measured
# runs into $WORK/perf-NAME.data (PERF=1)
PERF_PIDS=()
perf_start() {
	[ "$PERF" = 1 ] || return 0
	while [ "$#" -ge 2 ]; do
		perf record -q -F 199 --call-graph dwarf,16384 -p "$1" -o "$WORK/perf-$2.data" \
			>/dev/null 2>&1 &
		PERF_PIDS+=("$!")
		PIDS+=("$!")
		shift 2
	done
	sleep 0.3
}
perf_stop() {
	local pid
	for pid in "${PERF_PIDS[@]}"; do
		kill -INT "$pid" 2>/dev/null
	done
	for pid in "${PERF_PIDS[@]}"; do
		for _ in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		stop_pid "$pid"
	done
	PERF_PIDS=()
}

# perf_print NAME WHAT: the summary of $WORK/perf-NAME.data
perf_print() {
	local data="$WORK/perf-$1.data"
	[ -s "$data" ] || return 0
	echo
	echo "# perf, $2"
	echo "# samples by thread"
	perf report -i "$data" --no-children --sort comm --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -4 | sed 's/^/#  /'
	echo "# functions with what they call (children, self)"
	perf report -i "$data" --children --sort sym --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | grep -vE '\] (0x[0-9a-f]+|_start|__libc_start_[a-z_]*|main|clone3|start_thread|g_main_loop_run|g_main_context_dispatch|g_main_context_iterate[a-z_.]*|ffi_call[a-z_]*|g_signal_emit[a-z_]*|g_cclosure_[a-z_]*|g_closure_invoke|signal_emit_unlocked_R[a-z_.]*|entry_SYSCALL_[a-z0-9_]*|do_syscall_64)( \(inlined\))?$' |
		head -30 | sed 's/^/#  /'
	echo "# hottest functions (self)"
	perf report -i "$data" --no-children --sort dso,sym --stdio -g none 2>/dev/null |
		grep -E '^ +[0-9]' | head -15 | sed 's/^/#  /'
}

# measure CASE DRIVEN_PID PORT OTHER_PID: the warm-up and the measured runs;
# sets EPS MIN MAX (NA when a run failed) and the CPU figures
measure() {
	local case=$1 pid=$2 port=$3 other=$4 rate events r total=0
	EPS=NA MIN=NA MAX=NA ACT_CPU=- PAS_CPU=- CLI_CPU=- BG_CPU=- PER_CPU=- WHY=""
	rate=$(tcp_load "$port" "$WARMUP_EVENTS")
	if [ -z "$rate" ]; then
		WHY="warm-up failed: $(printf '%s\n' "$LOAD_OUT" | tail -2 | tr '\n' ' ')"
		return 1
	fi
	events=$(awk -v r="$rate" -v d="$DURATION" -v b="$BATCH" 'BEGIN {
		n = r * d; if (n < 100000) n = 100000; if (n > 100000000) n = 100000000
		printf "%d\n", int((n + b - 1) / b) * b }')
	: >"$WORK/$case.eps"
	[ "$case" = c ] && perf_start "$pid" driven "$other" other
	meter_start "$pid" "$other"
	for _ in $(seq 1 "$RUNS"); do
		r=$(tcp_load "$port" "$events")
		if [ -z "$r" ]; then
			WHY="tcp-load failed: $(printf '%s\n' "$LOAD_OUT" | tail -2 | tr '\n' ' ')"
			break
		fi
		echo "$r" >>"$WORK/$case.eps"
		total=$((total + events))
	done
	meter_stop "$pid" "$other" "$total"
	[ "$case" = c ] && perf_stop
	[ -z "$WHY" ] || return 1
	read -r MIN EPS MAX < <(stats 0 <"$WORK/$case.eps")
	CASE_EVENTS=$events
}

NOISY=()
FMT='%-52s %10s %10s %10s %9s %5s %5s %5s %5s %9s %9s\n'
# row LABEL: a line of the table from the figures of the last measure
row() {
	local fps=NA
	[ "$EPS" != NA ] && fps=$((EPS / BATCH))
	# shellcheck disable=SC2059
	printf "$FMT" "$1" "$EPS" "$MIN" "$MAX" "$fps" "$ACT_CPU" "$PAS_CPU" "$CLI_CPU" "$BG_CPU" "$PER_CPU" "$LAG"
	[ "$BG_CPU" != - ] && [ "$BG_CPU" -ge 25 ] && NOISY+=("(${1:1:1})")
}

# run_case CASE LABEL MODE [ARBITER] [DRIVE]: starts the nodes of a case,
# measures it, prints its row, stops them; sets the figure CASE_EPS.
# MODE: "single" (one node without HA), "local", "replicated" or "durable"
# (a cluster's ack);
# DRIVE: "active" (default) or "passive": whose tcp receiver gets the load.
run_case() {
	local case=$1 label=$2 mode=$3 arbiter=${4:-none} drive=${5:-active} d="$WORK/$1"
	local why="" pid port other
	A_PID="" A_RECV="" A_API="" B_PID="" B_RECV="" B_API=""
	mkdir -p "$d"
	CASE_EPS=NA
	if [ "$mode" = single ]; then
		write_conf "$d" node-a - - 0 0
		if start_node "$d" node-a "$TCP_PORT_LOG"; then
			A_PID=$N_PID pid=$N_PID port=$N_RECV other=""
			wait_state "$N_API" standalone || why="the node did not start (state $(node_state "$N_API"))"
		else
			why="the node did not start"
		fi
	else
		new_cluster "$d"
		write_conf "$d" node-a "$mode" "$arbiter" "$MA" "$MB"
		write_conf "$d" node-b "$mode" "$arbiter" "$MA" "$MB"
		if ! start_pair "$d" "$TCP_PORT_LOG"; then
			why=$PAIR_WHY
		elif ! wait_in_sync "$A_API"; then
			why="node-a does not see node-b in sync"
		elif [ "$drive" = passive ]; then
			pid=$B_PID port=$B_RECV other=$A_PID
		else
			pid=$A_PID port=$A_RECV other=$B_PID
		fi
	fi
	LAG=-
	if [ -z "$why" ]; then
		if measure "$case" "$pid" "$port" "$other"; then
			CASE_EPS=$EPS
		else
			why=$WHY
		fi
		# how far the passive was behind the active when the last run's
		# last acknowledgement arrived
		[ "$mode" != single ] && LAG=$(node_status "$A_API" | tr ',{}' '\n' | awk -F: '
			$1 == "\"acked_seq\"" { a = $2 } $1 == "\"last_seq\"" { l = $2 }
			END { if (a != "" && l != "") print l - a; else print "NA" }')
		# the roles must not have changed during the load
		if [ "$mode" != single ] && [ -z "$why" ] &&
			{ [ "$(node_state "$A_API")" != active ] || [ "$(node_state "$B_API")" != passive ]; }; then
			why="the roles changed during the load (node-a $(node_state "$A_API"), node-b $(node_state "$B_API"))"
			CASE_EPS=NA EPS=NA
		fi
	fi
	if [ -n "$why" ]; then
		tandem_warn "case ($case): $why"
		tail_logs "$d" 8
		status=1
	fi
	row "$label"
	# the passive dropped out of sync under the load (before the nodes stop)
	if [ "$mode" != single ] && [ -f "$d/node-a/tandemd.log" ]; then
		grep -E 'Replication: .*(must sync again|no longer in sync|cannot)' "$d/node-a/tandemd.log" |
			head -3 | sed "s/^.*Replication: /#   ($case) node-a: /"
	fi
	stop_pair
	if [ -n "$A_PID" ] && grep -q 'CRITICAL\|ERROR' "$d/node-a/tandemd.log" "$d/node-b/tandemd.log" 2>/dev/null; then
		tandem_warn "case ($case): the logs hold errors:"
		grep -h 'CRITICAL\|ERROR' "$d/node-a/tandemd.log" "$d/node-b/tandemd.log" 2>/dev/null | head -5 | sed 's/^/#   /' >&2
	fi
	return 0
}

# --- our cases ----------------------------------------------------------------

status=0
echo "# replication: $(nproc) cpus; tcp receiver, frames of $BATCH events, $CONNS connection(s) x $WINDOW frames" \
	"in flight (build/bench/tcp-load); $RUNS runs of about ${DURATION}s per case after a warm-up of $WARMUP_EVENTS events;" \
	"plan: from S select id, v insert into Out"
wait_quiet
# shellcheck disable=SC2059
printf "$FMT" case events/s min max frames/s act% pas% cli% bg% ev/act_s lag

# wanted CASE: CASE is listed in CASES
wanted() {
	[[ " $CASES " == *" $1 "* ]]
}

SINGLE_EPS=NA LOCAL_EPS=NA REPL_EPS=NA STORE_EPS=NA ROWS_EPS=NA FWD_EPS=NA DURABLE_EPS=NA REPL_EVENTS=0
if wanted a; then
	run_case a "(a) one node, no HA" single
	SINGLE_EPS=$CASE_EPS
fi
if wanted b; then
	run_case b "(b) two nodes, ack = local, arbiter none" local none
	LOCAL_EPS=$CASE_EPS
fi
if wanted c; then
	run_case c "(c) two nodes, ack = replicated, arbiter none" replicated none
	REPL_EPS=$CASE_EPS
	REPL_EVENTS=${CASE_EVENTS:-0}
fi
if wanted d; then
	run_case d "(d) as (c), arbiter = store (SQLite, lease only)" replicated store
	STORE_EPS=$CASE_EPS
fi
if wanted e; then
	run_case e "(e) as (d), SQLite also keeps events+outputs" replicated store-rows
	ROWS_EPS=$CASE_EPS
fi
if wanted f; then
	run_case f "(f) as (c), load on the passive (forwarded)" replicated none passive
	FWD_EPS=$CASE_EPS
fi
if wanted g; then
	run_case g "(g) as (e), ack = durable (SQLite committed)" durable store-rows
	DURABLE_EPS=$CASE_EPS
fi

echo
echo "# act%: the node driven (the active; in (a) the single node; in (f) the passive), pas%: the other"
echo "# node, cli%: tcp-load, bg%: everything else on the host, all in % of one core ($(nproc) cpus);"
echo "# softirq time (loopback TCP) is not charged to a process: it shows in bg%.  ev/act_s: events"
echo "# per second of the driven node's CPU.  lag: events the active had sequenced and the passive"
echo "# did not hold yet when the last run ended (ack = local acknowledges before the passive holds"
echo "# them; past 64 MiB of them the active pauses its receivers until the passive catches up)."
echo "# (b), (c), (f) use arbiter = none and allow_split_brain = true so that no database takes part;"
echo "# (d), (e) the default arbiter, a shared SQLite file."
if [ "${#NOISY[@]}" -gt 0 ]; then
	echo "# NOISY: other load took 25% of a core or more during ${NOISY[*]}: those figures are depressed."
fi
printf '%-58s %s\n' "(c)/(a) replicated vs one node" "$(ratio "$REPL_EPS" "$SINGLE_EPS")"
printf '%-58s %s\n' "(c)/(b) replicated vs ack = local" "$(ratio "$REPL_EPS" "$LOCAL_EPS")"
wanted d && printf '%-58s %s\n' "(d)/(c) arbiter store vs none" "$(ratio "$STORE_EPS" "$REPL_EPS")"
wanted e && printf '%-58s %s\n' "(e)/(c) events and outputs in SQLite vs no store" "$(ratio "$ROWS_EPS" "$REPL_EPS")"
wanted f && printf '%-58s %s\n' "(f)/(c) forwarded by the passive vs sent to the active" "$(ratio "$FWD_EPS" "$REPL_EPS")"
wanted g && printf '%-58s %s\n' "(g)/(e) ack = durable vs replicated, same store" "$(ratio "$DURABLE_EPS" "$ROWS_EPS")"

if [ "$PERF" = 1 ]; then
	perf_print driven "the active tandemd (node-a) during the measured runs of (c), $REPL_EVENTS events each"
	perf_print other "the passive tandemd (node-b) during the same runs"
fi

# --- the peer -----------------------------------------------------------------

REDIS_WPS=NA
if [ "$REDIS" = 1 ]; then
	REDIS_WPS=""
	# the anchor uses BASE_PORT and the port after it
	run_anchor Redis "$REDIS_SCRIPT" REDIS $((QUIET_WAIT * 2 + 600)) "$WORK/redis.out" BASE_PORT="$(pick_ports 2)" &&
		REDIS_WPS=$(grep -F '[replica + WAIT 1 0 per round] C client SET -P16' "$WORK/redis.out" |
			sed -n 's/.*acked_writes_per_s=\([0-9.]*\).*/\1/p' | head -1 | awk '{ printf "%.0f", $1 }')
	[ -n "$REDIS_WPS" ] || { REDIS_WPS=NA; status=1; }
fi

RATIO=$(ratio "$REPL_EPS" "$REDIS_WPS")
echo
printf '%-58s %s events/s\n' "tandem: ack = replicated, acknowledged" "$REPL_EPS"
printf '%-58s %s writes/s\n' "Redis: replica + WAIT 1 0 per pipeline of 16, acknowledged" "$REDIS_WPS"
printf '%-58s %s   goal >= 1: %s\n' "ratio tandem / Redis" "$RATIO" \
	"$(awk -v r="$RATIO" 'BEGIN { if (r == "NA") print "not measured"; else if (r + 0 >= 1) print "reached"; else print "not reached" }')"
wanted c || status=1
echo "# figures: single_eps=$SINGLE_EPS local_eps=$LOCAL_EPS replicated_eps=$REPL_EPS" \
	"store_arbiter_eps=$STORE_EPS store_rows_eps=$ROWS_EPS forwarded_eps=$FWD_EPS durable_eps=$DURABLE_EPS"
echo "RESULT name=replication acked_eps=$REPL_EPS redis_wait_p16_wps=$REDIS_WPS ratio=$RATIO"
exit "$status"
