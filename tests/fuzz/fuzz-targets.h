/* fuzz-targets.h: the engine's fuzzing entry points
 *
 * Shared by the libFuzzer targets (fuzz-plan-parser.c, fuzz-plan-events.c,
 * built with clang and sanitizers by run-fuzzers.sh) and by
 * test-fuzz-corpus.c, which replays the committed corpus with the normal
 * build.  Everything is static: include this header once per program.
 *
 * fuzz_plan_parser(): the input is the text of a plan.  A plan that compiles
 * is inspected and gets a few ordinary events, a snapshot and a restore.
 *
 * fuzz_plan_events(): byte 0 chooses one of fuzz_event_plans[]; the rest is
 * a program of one-byte operations, each followed by its operands:
 *
 *   op % 16 == 0   tick: tandem_plan_advance_time (TIME)
 *   op % 16 == 1   snapshot, restore into another plan of the same text (new
 *                  the first time, then the one used before), and go on with
 *                  that one (its snapshot must be the same)
 *   op % 16 == 2   damaged restore: u16 position, u8 mask; the snapshot with
 *                  that byte changed is restored into a scratch plan which
 *                  must then run an event (EVENT of stream 0), whether it
 *                  accepted the snapshot or not
 *   otherwise      an EVENT of input stream (op / 16) % n_inputs
 *
 *   TIME  := mode u8, then: 0 same as the previous; 1 +u8; 2 -u8; 3 +u16;
 *            4 +u32; 5 any i64; 6 an extreme (i64 min/max, 0, -1, max-u8,
 *            min+u8 by a u8); 7 +1000*u8
 *   EVENT := TIME, then one VALUE per attribute
 *   VALUE := mode u8: mode % 8 == 0 is null; else by type: numbers are
 *            small, extreme, NaN/infinities/-0 (floating point) or raw bits;
 *            strings are one of a few symbols, a run of one character up
 *            to 4 KiB long, or raw bytes made valid UTF-8
 *
 * A snapshot+restore also happens once in the middle of the input.  Missing
 * bytes read as zeros.  Every output is formatted to JSON.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <tandem.h>

#define FUZZ_STREAM_S                                                                              \
	"define stream S (symbol string, price double, volume long, qty int, ratio float, "        \
	"ok bool, ts long);\n"
#define FUZZ_STREAM_T "define stream T (sym string, value double, n int, ts long);\n"

/* The plans fuzz_plan_events() drives: together, every operator. */
static const char *const fuzz_event_plans[] G_GNUC_UNUSED = {
	/* 0: filters, arithmetic on every type, running aggregates */
	"@Plan:name('FuzzFilter')\n" FUZZ_STREAM_S
	"@info(name='f') from S[(price * 2.0 > 10.0 or symbol == 'IBM') and not (qty is null)]\n"
	"select symbol, price / ratio as pr, volume / qty as vq, volume % qty as vm, qty / 0 as "
	"z,\n"
	"  -volume as nv, ratio * 1.5 as r, qty + 2147483647 as big, price % ratio as pm\n"
	"insert into O1;\n"
	"@info(name='agg') from S select count() as n, sum(qty) as sq, sum(volume) as sv,\n"
	"  sum(price) as sp, avg(ratio) as ar, min(volume) as mn, max(price) as mx, min(ratio) as "
	"mr\n"
	"insert into O2;\n"
	"@info(name='grp') from S[ok == true or ok is null] select symbol, ok, max(qty) as mq,\n"
	"  avg(volume) as av group by symbol, ok having mq > 3 insert into O3;\n",

	/* 1: length window, group by, having, all events */
	"@Plan:name('FuzzLength')\n" FUZZ_STREAM_S
	"@info(name='l') from S#window.length(4) select symbol, avg(price) as ap, min(price) as "
	"mn,\n"
	"  max(qty) as mx, count() as n, sum(volume) as sv, min(ratio) as mr\n"
	"group by symbol having n > 1 insert all events into O1;\n"
	"@info(name='l1') from S#window.length(1) select max(volume) as mv, sum(ratio) as sr\n"
	"insert expired events into O2;\n",

	/* 2: length batches */
	"@Plan:name('FuzzLengthBatch')\n" FUZZ_STREAM_S
	"@info(name='lb') from S[price > 0.0]#window.lengthBatch(3) select symbol, ok, sum(qty) as "
	"sq,\n"
	"  max(ratio) as mr, count() as n group by symbol, ok insert all events into O1;\n"
	"@info(name='lb_plain') from S#window.lengthBatch(2) select * insert all events into O2;\n"
	"@info(name='lb_min') from S#window.lengthBatch(5) select min(price) as mn, max(volume) as "
	"mx,\n"
	"  avg(qty) as aq insert expired events into O3;\n",

	/* 3: time windows and time batches */
	"@Plan:name('FuzzTime')\n" FUZZ_STREAM_S
	"@info(name='t') from S#window.time(50) select symbol, min(volume) as mn, max(price) as "
	"mx,\n"
	"  avg(ratio) as ar group by symbol insert all events into O1;\n"
	"@info(name='t_plain') from S#window.time(1 sec) select symbol, price insert expired "
	"events into O2;\n"
	"@info(name='tb') from S#window.timeBatch(40) select symbol, sum(price) as sp, min(qty) as "
	"mq,\n"
	"  count() as n group by symbol insert all events into O3;\n"
	"@info(name='tb_long') from S#window.timeBatch(1 min 30 sec) select max(volume) as mv\n"
	"insert all events into O4;\n",

	/* 4: external time */
	"@Plan:name('FuzzExternalTime')\n" FUZZ_STREAM_S
	"@info(name='et') from S#window.externalTime(ts, 60) select symbol, max(price) as mx,\n"
	"  min(ratio) as mr, count() as n group by symbol insert all events into O1;\n"
	"@info(name='etb') from S#window.externalTimeBatch(ts, 30) select count() as n, sum(qty) "
	"as s,\n"
	"  max(volume) as mv insert all events into O2;\n"
	"@info(name='etb_plain') from S#window.externalTimeBatch(ts, 20) select *\n"
	"insert all events into O3;\n",

	/* 5: chained queries, two input streams */
	"@Plan:name('FuzzChained')\n" FUZZ_STREAM_S FUZZ_STREAM_T
	"@info(name='c_s') from S[not (symbol is null)] select symbol, price * 2.0 as p2, qty\n"
	"insert into Mid;\n"
	"@info(name='c_t') from T[n > 0] select sym as symbol, value as p2, n as qty\n"
	"insert into Mid;\n"
	"@info(name='c_win') from Mid#window.length(3) select symbol, max(p2) as mx, min(qty) as "
	"mn\n"
	"group by symbol having mx > 10.0 insert all events into Mid2;\n"
	"@info(name='c_batch') from Mid2#window.timeBatch(25) select count() as n, max(mx) as "
	"best\n"
	"insert all events into Out;\n"
	"@info(name='c_time') from Mid2#window.time(30) select symbol, sum(mx) as total\n"
	"group by symbol insert expired events into Out2;\n",

	/* 6: joins */
	"@Plan:name('FuzzJoin')\n" FUZZ_STREAM_S FUZZ_STREAM_T
	"@info(name='j') from S#window.length(3) join T#window.time(40) on S.symbol == T.sym\n"
	"select S.symbol, S.price, T.value, T.n insert all events into J1;\n"
	"@info(name='j_uni') from S#window.length(2) unidirectional join T#window.lengthBatch(2)\n"
	"on S.symbol == T.sym and S.qty > T.n select S.symbol as s, count() as c, max(T.value) as "
	"mv\n"
	"group by S.symbol insert into J2;\n"
	"@info(name='j_ext') from T#window.externalTime(ts, 50) as t join S#window.timeBatch(30) "
	"as s\n"
	"on s.qty > t.n select t.sym, s.price, sum(s.volume) as sv\n"
	"insert expired events into J3;\n",

	/* 7: patterns */
	"@Plan:name('FuzzPattern')\n" FUZZ_STREAM_S FUZZ_STREAM_T
	"@info(name='p') from every e1=S[price > 50.0] -> e2=T[e2.sym == e1.symbol]\n"
	"select e1.symbol, e1.price, e2.value insert into P1;\n"
	"@info(name='p3') from e1=S -> e2=S[e2.price > e1.price] -> e3=T\n"
	"select e1.symbol, e2.price as p2, e3.n insert into P2;\n"
	"@info(name='p_agg') from every e1=T -> e2=S[e2.qty > e1.n]\n"
	"select e1.sym, count() as c, max(e2.price) as mp group by e1.sym\n"
	"insert all events into P3;\n",
};

/* --- logging ------------------------------------------------------------- */

/* A warning or a critical (a failed precondition) is a finding: abort, so
 * that libFuzzer saves the input (GLib's own fatal path raises SIGTRAP,
 * which libFuzzer does not catch). */
G_GNUC_UNUSED static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) == 0)
		return G_LOG_WRITER_HANDLED;
	g_log_writer_standard_streams (level, fields, n_fields, user_data);
	abort ();
}

G_GNUC_UNUSED static void
fuzz_init_logging (void)
{
	g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
	g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* --- reading the input ---------------------------------------------------- */

typedef struct {
	const guint8 *p;
	const guint8 *end;
} FuzzInput;

G_GNUC_UNUSED static guint8
fuzz_u8 (FuzzInput *in)
{
	return in->p < in->end ? *in->p++ : 0;
}

/* n bytes, little-endian */
G_GNUC_UNUSED static guint64
fuzz_uint (FuzzInput *in, guint n)
{
	guint64 v = 0;

	for (guint i = 0; i < n; i++)
		v |= (guint64) fuzz_u8 (in) << (8 * i);
	return v;
}

G_GNUC_UNUSED static gint64
fuzz_time_raw (FuzzInput *in, gint64 last)
{
	static const gint64 extremes[] = { G_MININT64, G_MAXINT64, 0, -1 };
	guint64 base = (guint64) last;

	/* unsigned arithmetic: wrapping is what the fuzzer wants, not UB */
	switch (fuzz_u8 (in) % 8) {
	case 0:
		return last;
	case 1:
		return (gint64) (base + fuzz_u8 (in));
	case 2:
		return (gint64) (base - fuzz_u8 (in));
	case 3:
		return (gint64) (base + fuzz_uint (in, 2));
	case 4:
		return (gint64) (base + fuzz_uint (in, 4));
	case 5:
		return (gint64) fuzz_uint (in, 8);
	case 6: {
		guint8 k = fuzz_u8 (in);

		if (k % 6 < 4)
			return extremes[k % 6];
		return k % 6 == 4 ? G_MAXINT64 - (k / 6) : G_MININT64 + (k / 6);
	}
	case 7:
	default:
		return (gint64) (base + 1000u * fuzz_u8 (in));
	}
}

G_GNUC_UNUSED static gint64
fuzz_time (FuzzInput *in, gint64 last)
{
	gint64 t = fuzz_time_raw (in, last);

#ifdef FUZZ_TAME_TIME
	/* to explore past overflows near the ends of the time line (build with
	 * TANDEM_FUZZ_CFLAGS=-DFUZZ_TAME_TIME): times, and long values, within
	 * 2^40 of 0 */
	t = CLAMP (t, -(G_GINT64_CONSTANT (1) << 40), G_GINT64_CONSTANT (1) << 40);
#endif
	return t;
}

G_GNUC_UNUSED static char *
fuzz_string (FuzzInput *in, guint8 mode)
{
	static const char *const symbols[] = { "IBM", "WSO2", "", "caf\xc3\xa9 \xe2\x82\xac",
					       "ORCL" };

	switch (mode % 4) {
	case 0:
	case 1:
		return g_strdup (symbols[fuzz_u8 (in) % G_N_ELEMENTS (symbols)]);
	case 2: {
		/* long: up to 4 KiB of one character */
		gsize len = (gsize) fuzz_uint (in, 2) % 4096;
		char c = (char) (0x20 + fuzz_u8 (in) % 0x5f);
		char *s = g_malloc (len + 1);

		memset (s, c, len);
		s[len] = '\0';
		return s;
	}
	case 3:
	default: {
		gsize len = fuzz_u8 (in);
		g_autofree char *raw = g_malloc0 (len + 1);

		for (gsize i = 0; i < len; i++)
			raw[i] = (char) fuzz_u8 (in);
		/* strings are UTF-8 by contract; a nul ends them early */
		return g_utf8_make_valid (raw, -1);
	}
	}
}

G_GNUC_UNUSED static double
fuzz_real (FuzzInput *in, guint8 mode, gboolean is_float)
{
	static const double specials[] = { 0.0, -0.0, 1.0, -1.0, 0.5, 1e308, -1e308, 5e-324 };

	switch ((mode / 8) % 6) {
	case 0:
		return (gint8) fuzz_u8 (in);
	case 1:
		return specials[fuzz_u8 (in) % G_N_ELEMENTS (specials)];
	case 2:
		switch (fuzz_u8 (in) % 4) {
		case 0:
			return NAN;
		case 1:
			return INFINITY;
		case 2:
			return -INFINITY;
		case 3:
		default:
			return is_float ? (double) G_MAXFLOAT : G_MAXDOUBLE;
		}
	case 3:
		if (is_float) {
			guint32 bits = (guint32) fuzz_uint (in, 4);
			float f;

			memcpy (&f, &bits, sizeof f);
			return f;
		} else {
			guint64 bits = fuzz_uint (in, 8);
			double d;

			memcpy (&d, &bits, sizeof d);
			return d;
		}
	case 4:
	default:
		return (double) (gint16) fuzz_uint (in, 2) / 8.0;
	}
}

G_GNUC_UNUSED static void
fuzz_value (FuzzInput *in, TandemEvent *event, guint i)
{
	guint8 mode = fuzz_u8 (in);

	if (mode % 8 == 0) {
		tandem_event_set_null (event, i);
		return;
	}
	switch (tandem_event_get_value_type (event, i)) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		if (mode % 3 == 0)
			tandem_event_set_int (event, i, (gint8) fuzz_u8 (in));
		else if (mode % 3 == 1)
			tandem_event_set_int (event, i, fuzz_u8 (in) % 2 ? G_MININT32 : G_MAXINT32);
		else
			tandem_event_set_int (event, i, (gint32) fuzz_uint (in, 4));
		break;
	case TANDEM_ATTRIBUTE_TYPE_LONG: {
		gint64 v;

		if (mode % 3 == 0)
			v = (gint8) fuzz_u8 (in);
		else if (mode % 3 == 1)
			v = fuzz_u8 (in) % 2 ? G_MININT64 : G_MAXINT64;
		else
			v = (gint64) fuzz_uint (in, 8);
#ifdef FUZZ_TAME_TIME
		/* longs may be times too (externalTime) */
		v = CLAMP (v, -(G_GINT64_CONSTANT (1) << 40), G_GINT64_CONSTANT (1) << 40);
#endif
		tandem_event_set_long (event, i, v);
		break;
	}
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
		tandem_event_set_float (event, i, (float) fuzz_real (in, mode, TRUE));
		break;
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		tandem_event_set_double (event, i, fuzz_real (in, mode, FALSE));
		break;
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		tandem_event_set_bool (event, i, mode & 0x10);
		break;
	case TANDEM_ATTRIBUTE_TYPE_STRING:
	default: {
		g_autofree char *s = fuzz_string (in, mode / 8);

		tandem_event_set_string (event, i, s);
		break;
	}
	}
}

G_GNUC_UNUSED static TandemEvent *
fuzz_event (FuzzInput *in, TandemStreamDefinition *def, gint64 *last_time)
{
	TandemEvent *event;

	*last_time = fuzz_time (in, *last_time);
	event = tandem_event_new (def, *last_time);
	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (def); i++)
		fuzz_value (in, event, i);
	return event;
}

/* --- outputs -------------------------------------------------------------- */

/* set to print every input and output (when replaying a reproducer) */
G_GNUC_UNUSED static gboolean fuzz_trace;

G_GNUC_UNUSED static void
fuzz_output (TandemPlan *plan,
	     const char *query,
	     const char *stream,
	     TandemEventKind kind,
	     TandemEvent *event,
	     gpointer user_data)
{
	guint64 *count = user_data;
	g_autofree char *json = tandem_event_values_to_json (event);

	g_assert (json != NULL && json[0] == '[');
	(*count)++;
	if (fuzz_trace) {
		g_printerr ("  -> %s %s %s %" G_GINT64_FORMAT " %.200s\n", query, stream,
			    kind == TANDEM_EVENT_KIND_CURRENT ? "current" : "expired",
			    tandem_event_get_timestamp (event), json);
	}
}

G_GNUC_UNUSED static void
fuzz_trace_event (const char *what, const char *stream, TandemEvent *event)
{
	g_autofree char *json = NULL;

	if (!fuzz_trace)
		return;
	json = tandem_event_values_to_json (event);
	g_printerr ("%s %s %" G_GINT64_FORMAT " %.200s\n", what, stream,
		    tandem_event_get_timestamp (event), json);
}

/* A snapshot must restore into a plan of the same text (@target, or a new
 * one if %NULL), which then has the same snapshot: anything else is a bug,
 * reported by aborting.  Returns the plan restored into. */
G_GNUC_UNUSED static TandemPlan *
fuzz_snapshot_restore (TandemPlan *plan,
		       TandemPlan *target,
		       const char *text,
		       gssize length,
		       guint64 *count)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) snap = tandem_plan_snapshot (plan);
	g_autoptr(GBytes) again = NULL;

	if (target == NULL) {
		target = tandem_plan_new (text, length, &error);
		g_assert_no_error (error);
		tandem_plan_set_output_func (target, fuzz_output, count, NULL);
	}
	if (!tandem_plan_restore (target, snap, &error))
		g_error ("a plan refuses its own snapshot: %s", error->message);
	again = tandem_plan_snapshot (target);
	if (!g_bytes_equal (snap, again))
		g_error ("the snapshot of a restored plan differs from the one it was "
			 "restored from");
	return target;
}

/* --- entry points --------------------------------------------------------- */

G_GNUC_UNUSED static int
fuzz_plan_parser (const guint8 *data, gsize size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemPlan) plan = tandem_plan_new ((const char *) data, (gssize) size, &error);
	g_autoptr(TandemPlan) restored = NULL;
	g_autoptr(GPtrArray) streams = NULL;
	g_auto(GStrv) inputs = NULL;
	g_auto(GStrv) queries = NULL;
	guint64 count = 0;

	if (plan == NULL) {
		g_assert (error != NULL);
		g_assert (error->domain == TANDEM_ERROR);
		return 0;
	}
	g_assert (tandem_plan_get_name (plan) != NULL);
	tandem_plan_get_description (plan);
	queries = tandem_plan_dup_query_names (plan);
	inputs = tandem_plan_dup_input_streams (plan);
	streams = tandem_plan_get_streams (plan);
	for (guint i = 0; i < streams->len; i++) {
		g_autofree char *siddhi =
			tandem_stream_definition_to_siddhi (g_ptr_array_index (streams, i));

		g_assert (siddhi != NULL);
	}
	tandem_plan_set_output_func (plan, fuzz_output, &count, NULL);

	/* a few ordinary events into every input stream: nulls, zeros, ones */
	for (guint round = 0; round < 3; round++) {
		for (guint s = 0; inputs[s] != NULL; s++) {
			TandemStreamDefinition *def = tandem_plan_lookup_stream (plan, inputs[s]);
			g_autoptr(TandemEvent) event = tandem_event_new (def, 1000 + 700 * round);

			for (guint i = 0;
			     round > 0 && i < tandem_stream_definition_get_n_attributes (def);
			     i++) {
				switch (tandem_event_get_value_type (event, i)) {
				case TANDEM_ATTRIBUTE_TYPE_INT:
					tandem_event_set_int (event, i, (gint32) round - 1);
					break;
				case TANDEM_ATTRIBUTE_TYPE_LONG:
					tandem_event_set_long (event, i, 1000 + round);
					break;
				case TANDEM_ATTRIBUTE_TYPE_FLOAT:
					tandem_event_set_float (event, i, (float) round - 1.0f);
					break;
				case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
					tandem_event_set_double (event, i, round - 1.0);
					break;
				case TANDEM_ATTRIBUTE_TYPE_BOOL:
					tandem_event_set_bool (event, i, round == 2);
					break;
				case TANDEM_ATTRIBUTE_TYPE_STRING:
				default:
					tandem_event_set_string (event, i, round == 1 ? "" : "IBM");
					break;
				}
			}
			if (!tandem_plan_send (plan, inputs[s], event, &error))
				g_error ("an event of the stream's own definition is refused: %s",
					 error->message);
		}
		if (round == 1) {
			TandemPlan *fresh = fuzz_snapshot_restore (plan, NULL, (const char *) data,
								   (gssize) size, &count);

			g_object_unref (plan);
			plan = fresh;
		}
	}
	tandem_plan_advance_time (plan, 100000);
	restored = fuzz_snapshot_restore (plan, NULL, (const char *) data, (gssize) size, &count);
	return 0;
}

/* Restores the snapshot of *plan into *spare (a new plan the first time),
 * and swaps them. */
G_GNUC_UNUSED static void
fuzz_swap (TandemPlan **plan, TandemPlan **spare, const char *text, guint64 *count)
{
	TandemPlan *restored = fuzz_snapshot_restore (*plan, *spare, text, -1, count);

	*spare = *plan;
	*plan = restored;
}

G_GNUC_UNUSED static int
fuzz_plan_events (const guint8 *data, gsize size)
{
	FuzzInput in = { data, data + size };
	const char *text;
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemPlan) plan = NULL;
	g_autoptr(TandemPlan) spare = NULL;   /* what a snapshot is restored into */
	g_autoptr(TandemPlan) scratch = NULL; /* what a damaged one is restored into */
	g_auto(GStrv) inputs = NULL;
	guint n_inputs;
	gint64 last_time = 1000;
	gboolean swapped = FALSE;
	guint64 count = 0;

	if (size == 0)
		return 0;
	text = fuzz_event_plans[fuzz_u8 (&in) % G_N_ELEMENTS (fuzz_event_plans)];
	if (fuzz_trace)
		g_printerr ("plan %u of fuzz_event_plans\n",
			    data[0] % (guint) G_N_ELEMENTS (fuzz_event_plans));
	plan = tandem_plan_new (text, -1, &error);
	g_assert_no_error (error);
	tandem_plan_set_output_func (plan, fuzz_output, &count, NULL);
	inputs = tandem_plan_dup_input_streams (plan);
	n_inputs = g_strv_length (inputs);
	g_assert (n_inputs > 0);

	while (in.p < in.end) {
		guint8 op = fuzz_u8 (&in);

		if (!swapped && in.p >= data + size / 2) {
			if (fuzz_trace)
				g_printerr ("(middle) snapshot, restore into %s plan\n",
					    spare == NULL ? "a new" : "the other");
			fuzz_swap (&plan, &spare, text, &count);
			swapped = TRUE;
		}
		switch (op % 16) {
		case 0:
			last_time = fuzz_time (&in, last_time);
			if (fuzz_trace)
				g_printerr ("tick %" G_GINT64_FORMAT "\n", last_time);
			tandem_plan_advance_time (plan, last_time);
			break;
		case 1:
			if (fuzz_trace)
				g_printerr ("snapshot, restore into %s plan\n",
					    spare == NULL ? "a new" : "the other");
			fuzz_swap (&plan, &spare, text, &count);
			break;
		case 2: {
			g_autoptr(GBytes) snap = tandem_plan_snapshot (plan);
			g_autoptr(GBytes) damaged = NULL;
			g_autoptr(TandemEvent) event = NULL;
			g_autoptr(GError) local_error = NULL;
			gsize len;
			guint8 *copy = g_bytes_unref_to_data (g_steal_pointer (&snap), &len);
			gsize pos = (gsize) fuzz_uint (&in, 2);
			guint8 mask = fuzz_u8 (&in) | 1;

			copy[pos % len] ^= mask;
			damaged = g_bytes_new_take (copy, len);
			if (scratch == NULL) {
				scratch = tandem_plan_new (text, -1, NULL);
				tandem_plan_set_output_func (scratch, fuzz_output, &count, NULL);
			}
			event = fuzz_event (&in, tandem_plan_lookup_stream (scratch, inputs[0]),
					    &last_time);
			if (fuzz_trace)
				g_printerr ("damaged snapshot: byte %" G_GSIZE_FORMAT
					    " ^= 0x%02x\n",
					    pos % len, mask);
			fuzz_trace_event ("  then", inputs[0], event);
			if (tandem_plan_restore (scratch, damaged, &local_error)) {
				g_assert_true (tandem_plan_send (scratch, inputs[0], event, NULL));
			} else {
				g_assert (g_error_matches (local_error, TANDEM_ERROR,
							   TANDEM_ERROR_INVALID_SNAPSHOT));
				g_assert_true (tandem_plan_send (scratch, inputs[0], event, NULL));
			}
			break;
		}
		default: {
			const char *stream = inputs[(op / 16) % n_inputs];
			g_autoptr(TandemEvent) event =
				fuzz_event (&in, tandem_plan_lookup_stream (plan, stream),
					    &last_time);

			fuzz_trace_event ("event", stream, event);
			if (!tandem_plan_send (plan, stream, event, &error))
				g_error ("an event of the stream's own definition is refused: %s",
					 error->message);
			break;
		}
		}
	}
	return 0;
}
