/* engine.c: single-thread throughput of the execution engine
 *
 * Runs plans over pre-built events on one thread and prints events/s:
 *
 *   filter       from S[price > 50] select symbol, price * 2 as p
 *   window+group from S#window.length(1000) select symbol, avg(price)
 *                group by symbol (100 symbols)
 *   timeBatch    from S#window.timeBatch(1 sec) select sum(price)
 *                (10 events per millisecond)
 *   join         from A#window.length(100) join B#window.length(100)
 *                on A.symbol == B.symbol (100 symbols)
 *   snapshot     a #window.length(1000000) holding 1M events: the time and
 *                size of tandem_plan_snapshot(), and of the restore
 *
 * The events are built before the clock starts; each case runs about
 * TANDEM_BENCH_SECONDS (default 1.5) seconds; the output function only
 * counts.  Arguments name the cases to run (filter, window, timebatch, join,
 * snapshot; default all, and a case not run shows 0).  Prints a table, then
 * one line:
 *
 *   RESULT name=engine filter_eps=N window_group_eps=N timebatch_eps=N join_eps=N
 *          snapshot_1m_s=X snapshot_1m_bytes=N
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <tandem.h>

#define POOL_SIZE 1000000
#define N_SYMBOLS 100

typedef struct {
	const char *name;
	guint64 events;
	guint64 outputs;
	double seconds;
	const char *note;
} Result;

static double target_seconds = 1.5;
static char **selected;

static gboolean
wanted (const char *name)
{
	return selected == NULL || selected[0] == NULL ||
	       g_strv_contains ((const char *const *) selected, name);
}
static char *symbols[N_SYMBOLS];

static void
count_output (TandemPlan *plan,
	      const char *query,
	      const char *stream,
	      TandemEventKind kind,
	      TandemEvent *event,
	      gpointer user_data)
{
	(*(guint64 *) user_data)++;
}

static TandemPlan *
plan_new (const char *text, guint64 *outputs)
{
	g_autoptr(GError) error = NULL;
	TandemPlan *plan = tandem_plan_new (text, -1, &error);

	if (plan == NULL)
		g_error ("bench plan does not compile: %s", error->message);
	tandem_plan_set_output_func (plan, count_output, outputs, NULL);
	return plan;
}

/* Events of stream (symbol string, price double, volume long): symbols in
 * turn, prices 0-100, timestamps from @t0 moving @per_ms events per ms. */
static GPtrArray *
build_events (TandemStreamDefinition *def, guint n, gint64 t0, guint per_ms, GRand *rand)
{
	GPtrArray *events = g_ptr_array_new_full (n, (GDestroyNotify) tandem_event_unref);

	for (guint i = 0; i < n; i++) {
		TandemEvent *event = tandem_event_new (def, t0 + i / per_ms);

		tandem_event_set_string (event, 0, symbols[g_rand_int_range (rand, 0, N_SYMBOLS)]);
		tandem_event_set_double (event, 1, g_rand_double_range (rand, 0.0, 100.0));
		tandem_event_set_long (event, 2, g_rand_int_range (rand, 1, 10000));
		tandem_event_set_identity (event, 1, i + 1);
		g_ptr_array_add (events, event);
	}
	return events;
}

/* not inlined, so that a profiler can count this part alone
 * (valgrind --tool=callgrind --toggle-collect=send_all) */
G_GNUC_NO_INLINE static gint64
send_all (TandemPlan *plan, const char *stream, GPtrArray *events)
{
	gint64 start = g_get_monotonic_time ();

	for (guint i = 0; i < events->len; i++) {
		if (!tandem_plan_send (plan, stream, g_ptr_array_index (events, i), NULL))
			g_error ("an event was refused");
	}
	return g_get_monotonic_time () - start;
}

/* Sends the same pool again and again (for plans without time) until the
 * target time is reached. */
static void
run_pool (Result *r, const char *text, GRand *rand)
{
	g_autoptr(TandemPlan) plan = plan_new (text, &r->outputs);
	g_autoptr(GPtrArray) pool =
		build_events (tandem_plan_lookup_stream (plan, "S"), POOL_SIZE, 1000, 1000, rand);
	gint64 elapsed = 0;

	/* one pass to warm up (fills the windows, creates the groups) */
	send_all (plan, "S", pool);
	r->outputs = 0;
	while (elapsed < target_seconds * G_USEC_PER_SEC) {
		elapsed += send_all (plan, "S", pool);
		r->events += pool->len;
	}
	r->seconds = elapsed / (double) G_USEC_PER_SEC;
}

/* Event time must move forward: new events for every pass, built outside
 * the timed part. */
static void
run_timed (Result *r, const char *text, GRand *rand)
{
	g_autoptr(TandemPlan) plan = plan_new (text, &r->outputs);
	TandemStreamDefinition *def = tandem_plan_lookup_stream (plan, "S");
	gint64 elapsed = 0;
	gint64 t = 1000;
	guint pass = 0;

	while (elapsed < target_seconds * G_USEC_PER_SEC) {
		g_autoptr(GPtrArray) events = build_events (def, POOL_SIZE, t, 10, rand);
		gint64 spent = send_all (plan, "S", events);

		t += POOL_SIZE / 10;
		if (pass++ == 0) {
			r->outputs = 0; /* warm-up */
			continue;
		}
		elapsed += spent;
		r->events += events->len;
	}
	r->seconds = elapsed / (double) G_USEC_PER_SEC;
}

static void
run_join (Result *r, const char *text, GRand *rand)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemPlan) plan = tandem_plan_new (text, -1, &error);
	g_autoptr(GPtrArray) pool_a = NULL;
	g_autoptr(GPtrArray) pool_b = NULL;
	gint64 elapsed = 0;
	guint half = POOL_SIZE / 10;
	gboolean warm = FALSE;

	if (plan == NULL) {
		r->note = "not implemented";
		g_printerr ("join: %s\n", error->message);
		return;
	}
	tandem_plan_set_output_func (plan, count_output, &r->outputs, NULL);
	pool_a = build_events (tandem_plan_lookup_stream (plan, "A"), half, 1000, 1000, rand);
	pool_b = build_events (tandem_plan_lookup_stream (plan, "B"), half, 1000, 1000, rand);
	while (elapsed < target_seconds * G_USEC_PER_SEC) {
		gint64 start = g_get_monotonic_time ();

		for (guint i = 0; i < half; i++) {
			if (!tandem_plan_send (plan, "A", g_ptr_array_index (pool_a, i), NULL) ||
			    !tandem_plan_send (plan, "B", g_ptr_array_index (pool_b, i), NULL))
				g_error ("a join event was refused");
		}
		if (!warm) {
			warm = TRUE;
			r->outputs = 0;
			continue;
		}
		elapsed += g_get_monotonic_time () - start;
		r->events += 2 * half;
	}
	r->seconds = elapsed / (double) G_USEC_PER_SEC;
}

static int
compare_double (gconstpointer a, gconstpointer b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

typedef struct {
	double fill_eps;
	double snapshot_s;
	double restore_s;
	gsize bytes;
} SnapshotResult;

/* The median of 3 snapshots and restores of a plan holding 1M events. */
static void
run_snapshot (SnapshotResult *r, GRand *rand)
{
	static const char *text =
		"define stream S (symbol string, price double, volume long);\n"
		"from S#window.length(1000000) select symbol, price insert into O;\n";
	guint64 outputs = 0;
	g_autoptr(TandemPlan) plan = plan_new (text, &outputs);
	g_autoptr(GPtrArray) events =
		build_events (tandem_plan_lookup_stream (plan, "S"), POOL_SIZE, 1000, 1000, rand);
	double snap_s[3], restore_s[3];
	gint64 start;

	r->fill_eps = POOL_SIZE / (send_all (plan, "S", events) / (double) G_USEC_PER_SEC);
	g_clear_pointer (&events, g_ptr_array_unref); /* the window holds them alone */
	for (guint i = 0; i < 3; i++) {
		g_autoptr(GBytes) snap = NULL;
		g_autoptr(TandemPlan) fresh = plan_new (text, &outputs);
		g_autoptr(GError) error = NULL;

		start = g_get_monotonic_time ();
		snap = tandem_plan_snapshot (plan);
		snap_s[i] = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
		r->bytes = g_bytes_get_size (snap);

		start = g_get_monotonic_time ();
		if (!tandem_plan_restore (fresh, snap, &error))
			g_error ("restore failed: %s", error->message);
		restore_s[i] = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
	}
	qsort (snap_s, 3, sizeof (double), compare_double);
	qsort (restore_s, 3, sizeof (double), compare_double);
	r->snapshot_s = snap_s[1];
	r->restore_s = restore_s[1];
}

static char *
thousands (double value)
{
	g_autofree char *digits = g_strdup_printf ("%.0f", value);
	GString *out = g_string_new (NULL);
	gsize len = strlen (digits);

	for (gsize i = 0; i < len; i++) {
		if (i > 0 && (len - i) % 3 == 0)
			g_string_append_c (out, ',');
		g_string_append_c (out, digits[i]);
	}
	return g_string_free (out, FALSE);
}

static double
eps (const Result *r)
{
	return r->seconds > 0 ? r->events / r->seconds : 0.0;
}

static char *
cpu_model (void)
{
	g_autofree char *info = NULL;
	char *line;

	if (!g_file_get_contents ("/proc/cpuinfo", &info, NULL, NULL))
		return g_strdup ("unknown CPU");
	line = strstr (info, "model name");
	if (line == NULL || strchr (line, ':') == NULL)
		return g_strdup ("unknown CPU");
	line = strchr (line, ':') + 2;
	return g_strndup (line, strcspn (line, "\n"));
}

int
main (int argc, char **argv)
{
	static const char *filter_plan =
		"define stream S (symbol string, price double, volume long);\n"
		"from S[price > 50] select symbol, price * 2 as p insert into O;\n";
	static const char *window_plan =
		"define stream S (symbol string, price double, volume long);\n"
		"from S#window.length(1000) select symbol, avg(price) as ap\n"
		"group by symbol insert into O;\n";
	static const char *timebatch_plan =
		"define stream S (symbol string, price double, volume long);\n"
		"from S#window.timeBatch(1 sec) select sum(price) as total\n"
		"insert into O;\n";
	static const char *join_plan =
		"define stream A (symbol string, price double, volume long);\n"
		"define stream B (symbol string, price double, volume long);\n"
		"from A#window.length(100) join B#window.length(100) on A.symbol == B.symbol\n"
		"select A.symbol, A.price, B.volume insert into J;\n";
	g_autoptr(GRand) rand = g_rand_new_with_seed (42);
	g_autofree char *cpu = cpu_model ();
	Result results[] = {
		{ "filter + projection" },
		{ "length(1000) + avg, group by (100)" },
		{ "timeBatch(1 sec) + sum" },
		{ "join of two length(100) windows" },
	};
	SnapshotResult snap = { 0 };
	g_autofree char *snap_bytes = NULL;

	if (g_getenv ("TANDEM_BENCH_SECONDS") != NULL)
		target_seconds = g_ascii_strtod (g_getenv ("TANDEM_BENCH_SECONDS"), NULL);
	for (guint i = 0; i < N_SYMBOLS; i++)
		symbols[i] = g_strdup_printf ("SYM%03u", i);

	g_print ("Tandem engine, one thread, %s, %s\n\n", tandem_get_version (), cpu);
	selected = argv + 1;
	if (wanted ("filter"))
		run_pool (&results[0], filter_plan, rand);
	if (wanted ("window"))
		run_pool (&results[1], window_plan, rand);
	if (wanted ("timebatch"))
		run_timed (&results[2], timebatch_plan, rand);
	if (wanted ("join"))
		run_join (&results[3], join_plan, rand);
	if (wanted ("snapshot"))
		run_snapshot (&snap, rand);

	g_print ("%-36s %12s %9s %14s %12s\n", "case", "events", "seconds", "events/s", "outputs");
	for (guint i = 0; i < G_N_ELEMENTS (results); i++) {
		g_autofree char *n = thousands (results[i].events);
		g_autofree char *e = thousands (eps (&results[i]));
		g_autofree char *o = thousands (results[i].outputs);

		if (results[i].note != NULL)
			g_print ("%-36s %12s %9s %14s %12s  (%s)\n", results[i].name, "-", "-", "0",
				 "-", results[i].note);
		else
			g_print ("%-36s %12s %9.2f %14s %12s\n", results[i].name, n,
				 results[i].seconds, e, o);
	}
	snap_bytes = thousands (snap.bytes);
	{
		g_autofree char *fill = thousands (snap.fill_eps);

		g_print (
			"\nlength(1000000) window holding 1M events (filled at %s events/s), "
			"median of 3:\n",
			fill);
	}
	g_print ("  snapshot %.3f s, %s bytes (%.1f bytes/event)\n", snap.snapshot_s, snap_bytes,
		 snap.bytes / (double) POOL_SIZE);
	g_print ("  restore  %.3f s\n\n", snap.restore_s);

	g_print (
		"RESULT name=engine filter_eps=%.0f window_group_eps=%.0f timebatch_eps=%.0f "
		"join_eps=%.0f "
		"snapshot_1m_s=%.3f snapshot_1m_bytes=%" G_GSIZE_FORMAT "\n",
		eps (&results[0]), eps (&results[1]), eps (&results[2]), eps (&results[3]),
		snap.snapshot_s, snap.bytes);
	for (guint i = 0; i < N_SYMBOLS; i++)
		g_free (symbols[i]);
	return 0;
}
