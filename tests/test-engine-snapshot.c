/* test-engine-snapshot.c: snapshot and restore, as a property
 *
 * For each plan, random cases: random events (timestamps moving forward with
 * equal and backward steps, a few symbols, numbers and nulls) and ticks.
 * Plan A runs them all; plan B runs them up to a random split, is
 * snapshotted, and a fresh plan C restored from that snapshot runs the rest
 * (sometimes several splits in a row).  The outputs of A must be those of B
 * then C byte for byte, and the final snapshots of A and C must be identical.
 *
 * Each case has its own seed, drawn from the test seed (printed at the top of
 * the TAP output: rerun with --seed=R02S...).  A failure prints the case
 * seed; TANDEM_SNAPSHOT_SEED=N runs only the case of seed N for each plan,
 * and TANDEM_SNAPSHOT_DUMP=DIR writes its steps and two outputs into DIR.
 *
 * Damaged snapshots (every truncation, random byte flips) and snapshots of
 * another plan must be refused with TANDEM_ERROR_INVALID_SNAPSHOT, never
 * crash, and leave the plan usable.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <tandem.h>

#define STREAM_S                                                                                   \
	"define stream S (symbol string, price double, volume long, qty int, ratio float, "        \
	"ok bool, ts long);\n"
#define STREAM_T "define stream T (sym string, value double, n int, ts long);\n"

typedef struct {
	const char *name;
	const char *text;
	guint n_cases;
} PlanCase;

static const PlanCase plan_cases[] = {
	{ "length-group",
	  "@Plan:name('SnapLength')\n" STREAM_S "@info(name='lg') from S#window.length(5)\n"
	  "select symbol, avg(price) as ap, min(price) as mn, max(qty) as mx, count() as n,\n"
	  "  sum(volume) as sv, min(ratio) as mr\n"
	  "group by symbol insert all events into O1;\n"
	  "@info(name='l1') from S[price > 30.0]#window.length(1)\n"
	  "select max(volume) as mv, sum(ratio) as sr insert expired events into O2;\n",
	  100 },
	{ "length-batch",
	  "@Plan:name('SnapLengthBatch')\n" STREAM_S
	  "@info(name='lb') from S[price > 20.0]#window.lengthBatch(4)\n"
	  "select symbol, sum(qty) as sq, max(ratio) as mr, count() as n\n"
	  "group by symbol having n > 1 insert all events into O1;\n"
	  "@info(name='lb_plain') from S#window.lengthBatch(3)\n"
	  "select symbol, price, qty * 2 as q2 insert all events into O2;\n"
	  "@info(name='lb_min') from S#window.lengthBatch(6)\n"
	  "select min(price) as mn, max(price) as mx, avg(qty) as aq\n"
	  "insert current events into O3;\n",
	  100 },
	{ "time",
	  "@Plan:name('SnapTime')\n" STREAM_S "@info(name='t_exp') from S#window.time(50)\n"
	  "select symbol, min(volume) as mn, max(price) as mx, avg(ratio) as ar\n"
	  "insert expired events into O1;\n"
	  "@info(name='t_grp') from S[ok == true or qty > 50]#window.time(1 sec)\n"
	  "select symbol, count() as n, max(qty) as mq group by symbol having mq > 10\n"
	  "insert all events into O2;\n"
	  "@info(name='t_plain') from S#window.time(20 millisec) select symbol, price\n"
	  "insert all events into O3;\n",
	  100 },
	{ "time-batch",
	  "@Plan:name('SnapTimeBatch')\n" STREAM_S "@info(name='tb') from S#window.timeBatch(40)\n"
	  "select symbol, sum(price) as sp, min(qty) as mq, count() as n group by symbol\n"
	  "insert all events into O1;\n"
	  "@info(name='tb_plain') from S#window.timeBatch(25) select symbol, volume\n"
	  "insert all events into O2;\n"
	  "@info(name='tb_max') from S[not (symbol is null)]#window.timeBatch(100)\n"
	  "select max(volume) as mv, min(ratio) as mr having mv > 100\n"
	  "insert expired events into O3;\n",
	  100 },
	{ "external-time",
	  "@Plan:name('SnapExternalTime')\n" STREAM_S
	  "@info(name='et') from S#window.externalTime(ts, 60)\n"
	  "select symbol, max(price) as mx, min(ratio) as mr, count() as n group by symbol\n"
	  "insert all events into O1;\n"
	  "@info(name='et_plain') from S#window.externalTime(ts, 15) select symbol, ts\n"
	  "insert expired events into O2;\n",
	  100 },
	{ "external-time-batch",
	  "@Plan:name('SnapExternalTimeBatch')\n" STREAM_S
	  "@info(name='etb') from S#window.externalTimeBatch(ts, 30)\n"
	  "select count() as n, sum(qty) as s, max(volume) as mv insert all events into O1;\n"
	  "@info(name='etb_grp') from S#window.externalTimeBatch(ts, 70)\n"
	  "select symbol, min(price) as mn, avg(volume) as av group by symbol, ok\n"
	  "insert all events into O2;\n"
	  "@info(name='etb_plain') from S#window.externalTimeBatch(ts, 20) select *\n"
	  "insert all events into O3;\n",
	  100 },
	{ "chained",
	  "@Plan:name('SnapChained')\n" STREAM_S STREAM_T
	  "@info(name='c_in_s') from S[not (symbol is null) and price >= 0.0]\n"
	  "select symbol, price * 2.0 as p2, qty insert into Mid;\n"
	  "@info(name='c_in_t') from T[n > 0] select sym as symbol, value as p2, n as qty\n"
	  "insert into Mid;\n"
	  "@info(name='c_win') from Mid#window.length(3)\n"
	  "select symbol, max(p2) as mx, min(qty) as mn group by symbol having mx > 10.0\n"
	  "insert all events into Mid2;\n"
	  "@info(name='c_batch') from Mid2#window.timeBatch(25)\n"
	  "select count() as n, max(mx) as best, min(mn) as least insert all events into Out;\n"
	  "@info(name='c_time') from Mid2[mx > 50.0]#window.time(30)\n"
	  "select symbol, sum(mx) as total group by symbol insert expired events into Out2;\n",
	  100 },
	{ "join",
	  "@Plan:name('SnapJoin')\n" STREAM_S STREAM_T
	  "@info(name='j') from S#window.length(3) join T#window.time(40) on S.symbol == T.sym\n"
	  "select S.symbol, S.price, T.value, T.n insert all events into J1;\n"
	  "@info(name='j_uni') from S[price > 0.0]#window.length(2) unidirectional\n"
	  "join T#window.lengthBatch(2) on S.symbol == T.sym and S.qty > T.n\n"
	  "select S.symbol as s, count() as c, max(T.value) as mv group by S.symbol\n"
	  "insert into J2;\n"
	  "@info(name='j_ext') from T#window.externalTime(ts, 50) as t\n"
	  "join S#window.timeBatch(30) as s\n"
	  "on s.qty > t.n select t.sym, s.price, sum(s.volume) as sv, min(s.ratio) as mr\n"
	  "insert expired events into J3;\n"
	  "@info(name='j_etb') from S#window.externalTimeBatch(ts, 40) join T#window.length(2)\n"
	  "on S.ok == true select S.symbol, T.sym, T.n insert all events into J4;\n",
	  100 },
	{ "pattern",
	  "@Plan:name('SnapPattern')\n" STREAM_S STREAM_T
	  "@info(name='p_every') from every e1=S[price > 50.0] -> e2=T[e2.sym == e1.symbol]\n"
	  "select e1.symbol, e1.price, e2.value insert into P1;\n"
	  "@info(name='p_three') from e1=S -> e2=S[e2.price > e1.price] -> e3=T\n"
	  "select e1.symbol, e2.price as p2, e3.n insert into P2;\n"
	  "@info(name='p_agg') from every e1=T -> e2=S[e2.qty > e1.n]\n"
	  "select e1.sym, count() as c, max(e2.price) as mp group by e1.sym\n"
	  "insert all events into P3;\n"
	  "@info(name='p_chain') from P1#window.length(2) select symbol, max(value) as mv\n"
	  "insert all events into P4;\n",
	  100 },
	{ "no-window",
	  "@Plan:name('SnapNoWindow')\n" STREAM_S "@info(name='nw') from S[ok == true or qty > 5]\n"
	  "select symbol, ok, min(price) as mn, max(volume) as mx, count() as c, avg(ratio) as ar\n"
	  "group by symbol, ok insert into O1;\n"
	  "@info(name='nw_all') from S select * insert into O2;\n"
	  "@info(name='nw_single') from S select max(qty) as mq, min(ts) as mt, sum(price) as sp\n"
	  "having mq > 0 insert into O3;\n",
	  100 },
	{ "strings-nulls",
	  "@Plan:name('SnapStrings')\n" STREAM_S
	  "@info(name='sn') from S[symbol != 'IBM']#window.length(4)\n"
	  "select symbol, ratio, ok, qty / 2 as half, volume % 7 as m, max(ratio) as mr\n"
	  "group by symbol, ok insert all events into O1;\n"
	  "@info(name='sn_null') from S[symbol is null or price is null]#window.length(2)\n"
	  "select symbol, price, ts, count() as n insert all events into O2;\n"
	  "@info(name='sn_eq') from S[symbol == '' or symbol == 'caf\xc3\xa9 \xe2\x82\xac']\n"
	  "#window.lengthBatch(2) select symbol, min(qty) as mq insert all events into O3;\n",
	  100 },
};

/* --- random events --------------------------------------------------------- */

typedef struct {
	gboolean tick;
	gint64 time;        /* tick */
	const char *stream; /* event */
	TandemEvent *event;
} Step;

static void
step_clear (gpointer data)
{
	Step *step = data;

	if (step->event != NULL)
		tandem_event_unref (step->event);
}

static const char *const symbols[] = { "IBM", "WSO2", "ORCL", "", "caf\xc3\xa9 \xe2\x82\xac" };

static gboolean
chance (GRand *rand, guint percent)
{
	return (guint) g_rand_int_range (rand, 0, 100) < percent;
}

static gint64
next_time (GRand *rand, gint64 t)
{
	guint r = (guint) g_rand_int_range (rand, 0, 100);

	if (r < 55)
		return t + g_rand_int_range (rand, 1, 20);
	if (r < 70)
		return t;
	if (r < 82)
		return t - g_rand_int_range (rand, 1, 40);
	if (r < 96)
		return t + g_rand_int_range (rand, 20, 120);
	return t + g_rand_int_range (rand, 120, 3000);
}

static void
set_random_value (GRand *rand,
		  TandemEvent *event,
		  guint i,
		  TandemAttributeType type,
		  gint64 *ext_ts)
{
	if (ext_ts != NULL) {
		/* the external time attribute: its own clock */
		*ext_ts = next_time (rand, *ext_ts);
		if (chance (rand, 4))
			tandem_event_set_null (event, i);
		else
			tandem_event_set_long (event, i, *ext_ts);
		return;
	}
	if (chance (rand, 8)) {
		tandem_event_set_null (event, i);
		return;
	}
	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		tandem_event_set_int (event, i, g_rand_int_range (rand, -20, 200));
		break;
	case TANDEM_ATTRIBUTE_TYPE_LONG:
		if (chance (rand, 5))
			tandem_event_set_long (event, i, (gint64) g_rand_int (rand) << 20);
		else
			tandem_event_set_long (event, i, g_rand_int_range (rand, -50, 2000));
		break;
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
		if (chance (rand, 5))
			tandem_event_set_float (event, i, chance (rand, 50) ? -0.0f : 0.0f);
		else
			tandem_event_set_float (event, i,
						(float) g_rand_double_range (rand, -10.0, 10.0));
		break;
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		if (chance (rand, 50))
			tandem_event_set_double (event, i, g_rand_int_range (rand, -5, 101));
		else
			tandem_event_set_double (event, i,
						 g_rand_double_range (rand, -100.0, 100.0));
		break;
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		tandem_event_set_bool (event, i, g_rand_boolean (rand));
		break;
	case TANDEM_ATTRIBUTE_TYPE_STRING:
	default:
		tandem_event_set_string (event, i,
					 symbols[g_rand_int_range (rand, 0,
								   G_N_ELEMENTS (symbols))]);
		break;
	}
}

static GArray *
random_steps (GRand *rand, TandemPlan *plan, guint n_steps)
{
	GArray *steps = g_array_sized_new (FALSE, TRUE, sizeof (Step), n_steps);
	g_auto(GStrv) inputs = tandem_plan_dup_input_streams (plan);
	guint n_inputs = g_strv_length (inputs);
	gint64 t =
		g_rand_int_range (rand, 0, 2) == 0 ? 1000 : g_rand_int_range (rand, -500, 1000000);
	gint64 ext_ts = t + g_rand_int_range (rand, -100, 100);
	guint64 seq = 0;

	g_array_set_clear_func (steps, step_clear);
	g_assert_cmpuint (n_inputs, >, 0);
	for (guint s = 0; s < n_steps; s++) {
		Step step = { 0 };

		t = next_time (rand, t);
		if (chance (rand, 10)) {
			step.tick = TRUE;
			step.time = t + g_rand_int_range (rand, -30, 80);
		} else {
			const char *name = inputs[g_rand_int_range (rand, 0, (gint32) n_inputs)];
			TandemStreamDefinition *def = tandem_plan_lookup_stream (plan, name);
			guint n = tandem_stream_definition_get_n_attributes (def);

			step.stream = g_intern_string (name);
			step.event = tandem_event_new (def, t);
			seq++;
			tandem_event_set_identity (step.event, 1 + (guint32) (seq / 50), seq);
			for (guint i = 0; i < n; i++) {
				const char *attr =
					tandem_stream_definition_get_attribute_name (def, i);
				TandemAttributeType type =
					tandem_stream_definition_get_attribute_type (def, i);

				set_random_value (rand, step.event, i, type,
						  g_strcmp0 (attr, "ts") == 0 ? &ext_ts : NULL);
			}
		}
		g_array_append_val (steps, step);
	}
	return steps;
}

/* --- running plans --------------------------------------------------------- */

static void
record_output (TandemPlan *plan,
	       const char *query,
	       const char *stream,
	       TandemEventKind kind,
	       TandemEvent *event,
	       gpointer user_data)
{
	GString *out = user_data;
	g_autofree char *json = tandem_event_values_to_json (event);

	g_string_append_printf (out, "%s|%s|%s|%" G_GINT64_FORMAT "|%s\n", query, stream,
				kind == TANDEM_EVENT_KIND_CURRENT ? "current" : "expired",
				tandem_event_get_timestamp (event), json);
}

static TandemPlan *
new_plan (const char *text, GString *out)
{
	g_autoptr(GError) error = NULL;
	TandemPlan *plan = tandem_plan_new (text, -1, &error);

	g_assert_no_error (error);
	g_assert_nonnull (plan);
	if (out != NULL)
		tandem_plan_set_output_func (plan, record_output, out, NULL);
	return plan;
}

static void
run_steps (TandemPlan *plan, GArray *steps, guint from, guint to)
{
	for (guint s = from; s < to; s++) {
		Step *step = &g_array_index (steps, Step, s);

		if (step->tick) {
			tandem_plan_advance_time (plan, step->time);
		} else {
			g_autoptr(GError) error = NULL;

			tandem_plan_send (plan, step->stream, step->event, &error);
			g_assert_no_error (error);
		}
	}
}

/* Where two texts first differ, for a failure message. */
static char *
describe_difference (const char *a, gsize a_len, const char *b, gsize b_len)
{
	gsize i = 0;
	gsize line_start = 0;
	guint line = 1;
	const char *a_end, *b_end;

	while (i < a_len && i < b_len && a[i] == b[i]) {
		if (a[i] == '\n') {
			line++;
			line_start = i + 1;
		}
		i++;
	}
	a_end = memchr (a + line_start, '\n', a_len - line_start);
	b_end = memchr (b + line_start, '\n', b_len - line_start);
	return g_strdup_printf ("first difference at byte %" G_GSIZE_FORMAT
				" (line %u): expected \"%.*s\", "
				"got \"%.*s\" (lengths %" G_GSIZE_FORMAT " and %" G_GSIZE_FORMAT
				")",
				i, line,
				(int) ((a_end != NULL ? a_end - a : (gssize) a_len) - line_start),
				a + line_start,
				(int) ((b_end != NULL ? b_end - b : (gssize) b_len) - line_start),
				b + line_start, a_len, b_len);
}

static char *
describe_bytes_difference (GBytes *a, GBytes *b)
{
	gsize a_len, b_len, i = 0;
	const guint8 *pa = g_bytes_get_data (a, &a_len);
	const guint8 *pb = g_bytes_get_data (b, &b_len);

	while (i < a_len && i < b_len && pa[i] == pb[i])
		i++;
	return g_strdup_printf ("sizes %" G_GSIZE_FORMAT " and %" G_GSIZE_FORMAT
				", first difference at byte %" G_GSIZE_FORMAT,
				a_len, b_len, i);
}

/* Returns NULL if the case holds, else what went wrong. */
static char *
run_case (const PlanCase *pc, guint32 seed, guint *total_steps, guint *total_outputs)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
	g_autoptr(GString) out_a = g_string_new (NULL);
	g_autoptr(GString) out_bc = g_string_new (NULL);
	g_autoptr(TandemPlan) a = new_plan (pc->text, out_a);
	g_autoptr(TandemPlan) current = new_plan (pc->text, out_bc);
	g_autoptr(GArray) steps = NULL;
	g_autoptr(GBytes) snap_a = NULL;
	g_autoptr(GBytes) snap_c = NULL;
	guint n_steps, n_splits, at = 0;
	guint splits[3];
	g_autoptr(GString) where = g_string_new (NULL);

	n_steps = chance (rand, 10) ? (guint) g_rand_int_range (rand, 0, 6)
				    : (guint) g_rand_int_range (rand, 5, 260);
	n_splits = chance (rand, 75) ? 1 : (guint) g_rand_int_range (rand, 2, 4);
	steps = random_steps (rand, a, n_steps);
	for (guint i = 0; i < n_splits; i++)
		splits[i] = (guint) g_rand_int_range (rand, 0, (gint32) n_steps + 1);
	for (guint i = 0; i < n_splits; i++) {
		for (guint j = i + 1; j < n_splits; j++) {
			if (splits[j] < splits[i]) {
				guint tmp = splits[i];

				splits[i] = splits[j];
				splits[j] = tmp;
			}
		}
	}

	run_steps (a, steps, 0, n_steps);
	for (guint i = 0; i < n_splits; i++) {
		g_autoptr(GBytes) snap = NULL;
		g_autoptr(GBytes) again = NULL;
		g_autoptr(GError) error = NULL;
		g_autoptr(TandemPlan) fresh = new_plan (pc->text, out_bc);
		gboolean dirty = chance (rand, 20);

		run_steps (current, steps, at, splits[i]);
		at = splits[i];
		g_string_append_printf (where, "%s%u", i > 0 ? "," : "", at);
		snap = tandem_plan_snapshot (current);
		if (dirty) {
			/* restoring replaces the whole state, whatever was there */
			g_autoptr(GRand) other = g_rand_new_with_seed (seed ^ 0x5a5a5a5a);
			g_autoptr(GArray) noise = random_steps (other, fresh, 40);

			tandem_plan_set_output_func (fresh, NULL, NULL, NULL);
			run_steps (fresh, noise, 0, noise->len);
			tandem_plan_set_output_func (fresh, record_output, out_bc, NULL);
		}
		if (!tandem_plan_restore (fresh, snap, &error))
			return g_strdup_printf ("restore at step %u failed: %s", at,
						error->message);
		again = tandem_plan_snapshot (fresh);
		if (!g_bytes_equal (snap, again)) {
			g_autofree char *diff = describe_bytes_difference (snap, again);

			return g_strdup_printf (
				"the snapshot of the restored plan%s differs from the one "
				"restored at step %u: %s",
				dirty ? " (restored over a used plan)" : "", at, diff);
		}
		g_clear_object (&current);
		current = g_steal_pointer (&fresh);
	}
	run_steps (current, steps, at, n_steps);
	*total_steps += n_steps;
	for (gsize i = 0; i < out_a->len; i++)
		*total_outputs += out_a->str[i] == '\n';

	if (g_getenv ("TANDEM_SNAPSHOT_DUMP") != NULL) {
		/* for a case rerun alone: the two outputs, side by side */
		const char *dir = g_getenv ("TANDEM_SNAPSHOT_DUMP");
		g_autofree char *path_a = g_build_filename (dir, "uninterrupted.txt", NULL);
		g_autofree char *path_bc = g_build_filename (dir, "restored.txt", NULL);

		g_autofree char *path_steps = g_build_filename (dir, "steps.txt", NULL);
		g_autoptr(GString) text = g_string_new (NULL);

		g_assert_true (g_file_set_contents (path_a, out_a->str, (gssize) out_a->len, NULL));
		g_assert_true (
			g_file_set_contents (path_bc, out_bc->str, (gssize) out_bc->len, NULL));
		for (guint s = 0; s < n_steps; s++) {
			Step *step = &g_array_index (steps, Step, s);

			for (guint i = 0; i < n_splits; i++) {
				if (splits[i] == s)
					g_string_append (text,
							 "-- snapshot, restore into a new plan\n");
			}
			if (step->tick) {
				g_string_append_printf (text, "%u tick %" G_GINT64_FORMAT "\n", s,
							step->time);
			} else {
				g_autofree char *json = tandem_event_values_to_json (step->event);

				g_string_append_printf (text, "%u %s %" G_GINT64_FORMAT " %s\n", s,
							step->stream,
							tandem_event_get_timestamp (step->event),
							json);
			}
		}
		g_assert_true (
			g_file_set_contents (path_steps, text->str, (gssize) text->len, NULL));
	}
	if (!g_string_equal (out_a, out_bc)) {
		g_autofree char *diff =
			describe_difference (out_a->str, out_a->len, out_bc->str, out_bc->len);

		return g_strdup_printf ("%u steps, restored at step %s: outputs differ: %s",
					n_steps, where->str, diff);
	}
	snap_a = tandem_plan_snapshot (a);
	snap_c = tandem_plan_snapshot (current);
	if (!g_bytes_equal (snap_a, snap_c)) {
		g_autofree char *diff = describe_bytes_difference (snap_a, snap_c);

		return g_strdup_printf ("%u steps, restored at step %s: final snapshots differ: %s",
					n_steps, where->str, diff);
	}
	return NULL;
}

static void
test_roundtrip (gconstpointer data)
{
	const PlanCase *pc = data;
	const char *env = g_getenv ("TANDEM_SNAPSHOT_SEED");
	guint n_cases = pc->n_cases;
	guint total_steps = 0, total_outputs = 0;

	if (env != NULL)
		n_cases = 1;
	for (guint i = 0; i < n_cases; i++) {
		/* the test seed gives every plan the same sequence: mix in the plan */
		guint32 seed = env != NULL ? (guint32) g_ascii_strtoull (env, NULL, 0)
					   : (guint32) g_test_rand_int () ^ g_str_hash (pc->name);
		g_autofree char *failure = run_case (pc, seed, &total_steps, &total_outputs);

		if (failure != NULL) {
			g_test_fail_printf (
				"plan %s, case %u, seed %u (TANDEM_SNAPSHOT_SEED=%u): %s", pc->name,
				i, seed, seed, failure);
			return;
		}
	}
	g_test_message ("plan %s: %u cases, %u events and ticks, %u outputs (a failure prints its "
			"case seed; TANDEM_SNAPSHOT_SEED=N reruns that case alone)",
			pc->name, n_cases, total_steps, total_outputs);
}

/* --- damaged snapshots ----------------------------------------------------- */

static const char *damage_plan =
	"@Plan:name('SnapDamage')\n" STREAM_S "@info(name='d_len') from S#window.length(3)\n"
	"select symbol, min(price) as mn, max(qty) as mx, avg(ratio) as ar group by symbol\n"
	"insert all events into O1;\n"
	"@info(name='d_batch') from S#window.lengthBatch(2)\n"
	"select symbol, count() as n group by symbol insert all events into O2;\n"
	"@info(name='d_time') from S#window.timeBatch(30) select sum(volume) as sv, min(ts) as mt\n"
	"insert all events into O3;\n"
	"@info(name='d_ext') from S#window.externalTime(ts, 40) select symbol, ok, price\n"
	"insert all events into O4;\n";

/* A handful of fixed events, with strings, nulls and every type. */
static GArray *
damage_steps (TandemPlan *plan, guint32 seed, guint n)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed (seed);

	return random_steps (rand, plan, n);
}

/* After a refused restore the plan is as new: same state, same outputs. */
static void
assert_as_new (TandemPlan *plan, GString *out, GArray *after)
{
	g_autoptr(GString) fresh_out = g_string_new (NULL);
	g_autoptr(TandemPlan) fresh = new_plan (damage_plan, fresh_out);
	g_autoptr(GBytes) snap = tandem_plan_snapshot (plan);
	g_autoptr(GBytes) fresh_snap = tandem_plan_snapshot (fresh);
	g_autoptr(GBytes) snap2 = NULL;
	g_autoptr(GBytes) fresh_snap2 = NULL;

	g_assert_true (g_bytes_equal (snap, fresh_snap));
	g_string_truncate (out, 0);
	run_steps (plan, after, 0, after->len);
	run_steps (fresh, after, 0, after->len);
	g_assert_cmpstr (out->str, ==, fresh_out->str);
	snap2 = tandem_plan_snapshot (plan);
	fresh_snap2 = tandem_plan_snapshot (fresh);
	g_assert_true (g_bytes_equal (snap2, fresh_snap2));
}

static void
test_truncated (void)
{
	g_autoptr(GString) out = g_string_new (NULL);
	g_autoptr(TandemPlan) source = new_plan (damage_plan, NULL);
	g_autoptr(TandemPlan) target = new_plan (damage_plan, out);
	g_autoptr(GArray) before = damage_steps (source, 7, 12);
	g_autoptr(GArray) after = damage_steps (source, 8, 6);
	g_autoptr(GBytes) snap = NULL;
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GError) error = NULL;
	gsize size;
	const guint8 *data;

	run_steps (source, before, 0, before->len);
	snap = tandem_plan_snapshot (source);
	data = g_bytes_get_data (snap, &size);
	g_test_message ("snapshot of %" G_GSIZE_FORMAT " bytes: every truncation", size);
	for (gsize len = 0; len < size; len++) {
		g_autoptr(GBytes) cut = g_bytes_new (data, len);
		g_autoptr(GError) local_error = NULL;

		/* some state first, that a failed restore must clear */
		if (len % 4 == 0)
			run_steps (target, before, 0, 5);
		g_assert_false (tandem_plan_restore (target, cut, &local_error));
		g_assert_error (local_error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
		assert_as_new (target, out, after);
	}
	/* and the whole snapshot still restores into the same plan */
	g_assert_true (tandem_plan_restore (target, snap, &error));
	g_assert_no_error (error);
	back = tandem_plan_snapshot (target);
	g_assert_true (g_bytes_equal (back, snap));

	/* trailing bytes are damage too */
	{
		g_autoptr(GByteArray) longer = g_byte_array_new ();
		g_autoptr(GBytes) bytes = NULL;

		g_byte_array_append (longer, data, (guint) size);
		g_byte_array_append (longer, (const guint8 *) "", 1);
		bytes = g_byte_array_free_to_bytes (g_steal_pointer (&longer));
		g_assert_false (tandem_plan_restore (target, bytes, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
		assert_as_new (target, out, after);
	}
}

/* Restores a damaged copy into a new plan: refused as new, or decoded and
 * runnable; usable either way.  Returns whether it decoded. */
static gboolean
try_damaged (GBytes *snap, GBytes *damaged, GString *out, GArray *after)
{
	g_autoptr(TandemPlan) target = new_plan (damage_plan, out);
	g_autoptr(GBytes) back = NULL;
	g_autoptr(GError) error = NULL;
	gboolean decoded;

	decoded = tandem_plan_restore (target, damaged, &error);
	if (decoded) {
		g_autoptr(GBytes) state = NULL;

		/* it decoded: the plan must run on it, whatever it holds */
		run_steps (target, after, 0, after->len);
		state = tandem_plan_snapshot (target);
		g_assert_nonnull (state);
	} else {
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
		assert_as_new (target, out, after);
	}
	/* the good snapshot restores into it */
	g_clear_error (&error);
	g_assert_true (tandem_plan_restore (target, snap, &error));
	g_assert_no_error (error);
	back = tandem_plan_snapshot (target);
	g_assert_true (g_bytes_equal (back, snap));
	return decoded;
}

static void
test_byte_flips (void)
{
	/* low bits change a type or a small count, the high bit a null flag,
	 * 0xff a sign */
	static const guint8 masks[] = { 0x01, 0x04, 0x80, 0xff };
	g_autoptr(GString) out = g_string_new (NULL);
	g_autoptr(TandemPlan) source = new_plan (damage_plan, NULL);
	g_autoptr(GArray) before = damage_steps (source, 11, 14);
	g_autoptr(GArray) after = damage_steps (source, 12, 8);
	g_autoptr(GBytes) snap = NULL;
	gsize size;
	const guint8 *data;
	guint n_refused = 0, n_decoded = 0;

	run_steps (source, before, 0, before->len);
	snap = tandem_plan_snapshot (source);
	data = g_bytes_get_data (snap, &size);

	/* every byte, a few ways */
	for (gsize pos = 0; pos < size; pos++) {
		for (guint m = 0; m < G_N_ELEMENTS (masks); m++) {
			g_autofree guint8 *copy = g_memdup2 (data, size);
			g_autoptr(GBytes) bytes = NULL;

			copy[pos] ^= masks[m];
			bytes = g_bytes_new_take (g_steal_pointer (&copy), size);
			if (try_damaged (snap, bytes, out, after))
				n_decoded++;
			else
				n_refused++;
		}
	}
	g_test_message ("snapshot of %" G_GSIZE_FORMAT
			" bytes, every byte changed %u ways: %u refused, "
			"%u still decoded",
			size, (guint) G_N_ELEMENTS (masks), n_refused, n_decoded);
	g_assert_cmpuint (n_refused, >, 0);

	/* and random flips of 1-3 bytes */
	n_refused = n_decoded = 0;
	for (guint iter = 0; iter < 2000; iter++) {
		g_autofree guint8 *copy = g_memdup2 (data, size);
		g_autoptr(GBytes) bytes = NULL;
		guint n_flips = g_test_rand_int_range (1, 4);

		for (guint f = 0; f < n_flips; f++)
			copy[g_test_rand_int_range (0, (gint32) size)] ^=
				(guint8) g_test_rand_int_range (1, 256);
		bytes = g_bytes_new_take (g_steal_pointer (&copy), size);
		if (try_damaged (snap, bytes, out, after))
			n_decoded++;
		else
			n_refused++;
	}
	g_test_message ("2000 copies with 1-3 random bytes flipped: %u refused, %u still decoded",
			n_refused, n_decoded);
	g_assert_cmpuint (n_refused, >, 0);
}

static void
test_garbage (void)
{
	static const char *const inputs[] = {
		"",
		"TNDMPLAN",
		"TNDMPLAN\x01\x00\x00\x00",
		"TNDMPLAN\x02\x00\x00\x00\x00\x00\x00\x00",
		"not a snapshot at all, but long enough to have a header",
	};
	g_autoptr(GString) out = g_string_new (NULL);
	g_autoptr(TandemPlan) source = new_plan (damage_plan, NULL);
	g_autoptr(GArray) after = damage_steps (source, 13, 6);

	for (guint i = 0; i < G_N_ELEMENTS (inputs); i++) {
		g_autoptr(TandemPlan) target = new_plan (damage_plan, out);
		g_autoptr(GBytes) bytes = g_bytes_new_static (inputs[i], strlen (inputs[i]));
		g_autoptr(GError) error = NULL;

		g_assert_false (tandem_plan_restore (target, bytes, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
		assert_as_new (target, out, after);
	}
}

/* --- another plan ---------------------------------------------------------- */

static void
test_other_plan (void)
{
	static const char *const others[] = {
		/* another window size */
		"@Plan:name('SnapDamage')\n" STREAM_S
		"@info(name='d_len') from S#window.length(4)\n"
		"select symbol, min(price) as mn, max(qty) as mx, avg(ratio) as ar group by "
		"symbol\n"
		"insert all events into O1;\n"
		"@info(name='d_batch') from S#window.lengthBatch(2)\n"
		"select symbol, count() as n group by symbol insert all events into O2;\n"
		"@info(name='d_time') from S#window.timeBatch(30) select sum(volume) as sv, "
		"min(ts) as mt\n"
		"insert all events into O3;\n"
		"@info(name='d_ext') from S#window.externalTime(ts, 40) select symbol, ok, price\n"
		"insert all events into O4;\n",
		/* another aggregate */
		"@Plan:name('SnapDamage')\n" STREAM_S
		"@info(name='d_len') from S#window.length(3)\n"
		"select symbol, max(price) as mn, max(qty) as mx, avg(ratio) as ar group by "
		"symbol\n"
		"insert all events into O1;\n"
		"@info(name='d_batch') from S#window.lengthBatch(2)\n"
		"select symbol, count() as n group by symbol insert all events into O2;\n"
		"@info(name='d_time') from S#window.timeBatch(30) select sum(volume) as sv, "
		"min(ts) as mt\n"
		"insert all events into O3;\n"
		"@info(name='d_ext') from S#window.externalTime(ts, 40) select symbol, ok, price\n"
		"insert all events into O4;\n",
		/* a query less */
		"@Plan:name('SnapDamage')\n" STREAM_S
		"@info(name='d_len') from S#window.length(3)\n"
		"select symbol, min(price) as mn, max(qty) as mx, avg(ratio) as ar group by "
		"symbol\n"
		"insert all events into O1;\n"
		"@info(name='d_batch') from S#window.lengthBatch(2)\n"
		"select symbol, count() as n group by symbol insert all events into O2;\n"
		"@info(name='d_time') from S#window.timeBatch(30) select sum(volume) as sv, "
		"min(ts) as mt\n"
		"insert all events into O3;\n",
		/* another stream definition */
		"@Plan:name('SnapDamage')\n"
		"define stream S (symbol string, price double, volume long, qty int, ratio float, "
		"ok bool, "
		"ts long, extra int);\n"
		"@info(name='d_len') from S#window.length(3)\n"
		"select symbol, min(price) as mn, max(qty) as mx, avg(ratio) as ar group by "
		"symbol\n"
		"insert all events into O1;\n"
		"@info(name='d_batch') from S#window.lengthBatch(2)\n"
		"select symbol, count() as n group by symbol insert all events into O2;\n"
		"@info(name='d_time') from S#window.timeBatch(30) select sum(volume) as sv, "
		"min(ts) as mt\n"
		"insert all events into O3;\n"
		"@info(name='d_ext') from S#window.externalTime(ts, 40) select symbol, ok, price\n"
		"insert all events into O4;\n",
		/* a renamed query */
		"@Plan:name('SnapDamage')\n" STREAM_S
		"@info(name='d_length') from S#window.length(3)\n"
		"select symbol, min(price) as mn, max(qty) as mx, avg(ratio) as ar group by "
		"symbol\n"
		"insert all events into O1;\n"
		"@info(name='d_batch') from S#window.lengthBatch(2)\n"
		"select symbol, count() as n group by symbol insert all events into O2;\n"
		"@info(name='d_time') from S#window.timeBatch(30) select sum(volume) as sv, "
		"min(ts) as mt\n"
		"insert all events into O3;\n"
		"@info(name='d_ext') from S#window.externalTime(ts, 40) select symbol, ok, price\n"
		"insert all events into O4;\n",
		/* an unrelated plan */
		"define stream In (a int);\nfrom In#window.length(2) select a, count() as n insert "
		"into Out;\n",
	};
	g_autoptr(TandemPlan) source = new_plan (damage_plan, NULL);
	g_autoptr(GArray) before = damage_steps (source, 21, 12);
	g_autoptr(GBytes) snap = NULL;

	run_steps (source, before, 0, before->len);
	snap = tandem_plan_snapshot (source);
	for (guint i = 0; i < G_N_ELEMENTS (others); i++) {
		g_autoptr(GString) out = g_string_new (NULL);
		g_autoptr(GString) fresh_out = g_string_new (NULL);
		g_autoptr(TandemPlan) other = new_plan (others[i], out);
		g_autoptr(TandemPlan) fresh = new_plan (others[i], fresh_out);
		g_autoptr(GArray) after = damage_steps (other, 22, 10);
		g_autoptr(GBytes) own = NULL;
		g_autoptr(GBytes) fresh_snap = NULL;
		g_autoptr(GError) error = NULL;

		g_test_message ("plan variant %u", i);
		g_assert_false (tandem_plan_restore (other, snap, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
		/* and the other plan still runs as new */
		run_steps (other, after, 0, after->len);
		run_steps (fresh, after, 0, after->len);
		g_assert_cmpstr (out->str, ==, fresh_out->str);
		own = tandem_plan_snapshot (other);
		fresh_snap = tandem_plan_snapshot (fresh);
		g_assert_true (g_bytes_equal (own, fresh_snap));
	}
}

/* Plans with the same streams, windows and aggregates as damage_plan, but
 * another filter, selection, having or output kind: another plan too, whose
 * state means something else. */
static void
test_other_plan_same_shape (void)
{
	static const struct {
		const char *what;
		const char *from;
		const char *to;
	} edits[] = {
		{ "filter", "from S#window.length(3)", "from S[price > 10.0]#window.length(3)" },
		{ "aggregate argument", "min(price) as mn", "min(price * 2.0) as mn" },
		{ "group by", "group by symbol\ninsert all events into O1",
		  "group by ok\ninsert all events into O1" },
		{ "having", "group by symbol\ninsert all events into O1",
		  "group by symbol having mx > 3\ninsert all events into O1" },
		{ "output kind", "insert all events into O2", "insert expired events into O2" },
		{ "projection", "select symbol, ok, price",
		  "select symbol, ok, price * 2.0 as price" },
	};
	g_autoptr(TandemPlan) source = new_plan (damage_plan, NULL);
	g_autoptr(GArray) before = damage_steps (source, 31, 12);
	g_autoptr(GBytes) snap = NULL;

	run_steps (source, before, 0, before->len);
	snap = tandem_plan_snapshot (source);
	for (guint i = 0; i < G_N_ELEMENTS (edits); i++) {
		g_autoptr(GString) text = g_string_new (damage_plan);
		g_autoptr(TandemPlan) other = NULL;
		g_autoptr(GError) error = NULL;

		g_test_message ("a plan with another %s", edits[i].what);
		g_assert_cmpuint (g_string_replace (text, edits[i].from, edits[i].to, 1), ==, 1);
		other = new_plan (text->str, NULL);
		g_assert_false (tandem_plan_restore (other, snap, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
	}
}

/* Comments and layout do not make another plan. */
static void
test_same_plan_other_layout (void)
{
	g_autoptr(GString) text = g_string_new (damage_plan);
	g_autoptr(GString) out = g_string_new (NULL);
	g_autoptr(GString) other_out = g_string_new (NULL);
	g_autoptr(TandemPlan) source = new_plan (damage_plan, out);
	g_autoptr(TandemPlan) other = NULL;
	g_autoptr(GArray) before = damage_steps (source, 41, 12);
	g_autoptr(GArray) after = damage_steps (source, 42, 12);
	g_autoptr(GBytes) snap = NULL;
	g_autoptr(GBytes) end = NULL;
	g_autoptr(GBytes) other_end = NULL;
	g_autoptr(GError) error = NULL;

	g_string_replace (text, "\n", "\n  -- a comment\n\t", 0);
	g_string_replace (text, "from S", "from  S", 0);
	g_string_replace (text, ", ", " ,", 0);
	g_string_prepend (text, "/* the same plan,\n   laid out differently */\n");
	other = new_plan (text->str, other_out);
	run_steps (source, before, 0, before->len);
	snap = tandem_plan_snapshot (source);
	g_assert_true (tandem_plan_restore (other, snap, &error));
	g_assert_no_error (error);
	g_string_truncate (out, 0);
	run_steps (source, after, 0, after->len);
	run_steps (other, after, 0, after->len);
	g_assert_cmpstr (out->str, ==, other_out->str);
	end = tandem_plan_snapshot (source);
	other_end = tandem_plan_snapshot (other);
	g_assert_true (g_bytes_equal (end, other_end));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);

	for (guint i = 0; i < G_N_ELEMENTS (plan_cases); i++) {
		g_autofree char *path =
			g_strdup_printf ("/engine-snapshot/roundtrip/%s", plan_cases[i].name);

		g_test_add_data_func (path, &plan_cases[i], test_roundtrip);
	}
	g_test_add_func ("/engine-snapshot/truncated", test_truncated);
	g_test_add_func ("/engine-snapshot/byte-flips", test_byte_flips);
	g_test_add_func ("/engine-snapshot/garbage", test_garbage);
	g_test_add_func ("/engine-snapshot/other-plan", test_other_plan);
	g_test_add_func ("/engine-snapshot/other-plan-same-shape", test_other_plan_same_shape);
	g_test_add_func ("/engine-snapshot/same-plan-other-layout", test_same_plan_other_layout);
	return g_test_run ();
}
