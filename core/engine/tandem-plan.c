/* tandem-plan.c: execution plans: compilation, runtime, snapshot and restore
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Engine"

#include "config.h"

#include <string.h>

#include "tandem-error.h"
#include "tandem-event-private.h"
#include "tandem-plan-ast.h"
#include "tandem-plan-expr.h"
#include "tandem-plan.h"

/**
 * TandemPlan:
 *
 * An execution plan in the SiddhiQL dialect of WSO2 CEP 4.x / DAS 3.x
 * (Siddhi 3.x), compiled and ready to run.
 *
 * Queries read a stream, filter it (`[condition]`), keep a window
 * (`#window.length(n)`, `lengthBatch(n)`, `time(t)`, `timeBatch(t)`,
 * `externalTime(attr, t)`, `externalTimeBatch(attr, t)`), select and
 * aggregate (`count`, `sum`, `avg`, `min`, `max`, with `group by` and
 * `having`) and insert current, expired or all events into a stream, which
 * other queries may read.
 *
 * Time is event time: the plan's clock is the largest event timestamp seen
 * (or given by tandem_plan_advance_time()), never the wall clock, so that
 * two nodes fed the same events produce the same outputs.  All the state of
 * a plan (window contents, aggregates, groups, the clock) can be saved with
 * tandem_plan_snapshot() and restored into a fresh plan of the same text.
 */

#define SNAPSHOT_MAGIC "TNDMPLAN"
#define SNAPSHOT_VERSION 1

typedef enum {
	ITEM_CURRENT = TANDEM_EVENT_KIND_CURRENT,
	ITEM_EXPIRED = TANDEM_EVENT_KIND_EXPIRED,
	ITEM_RESET,
} ItemKind;

typedef enum {
	WIN_NONE,
	WIN_LENGTH,
	WIN_LENGTH_BATCH,
	WIN_TIME,
	WIN_TIME_BATCH,
	WIN_EXT_TIME,
	WIN_EXT_TIME_BATCH,
} WinKind;

typedef struct _Query Query;

#define PATTERN_SIDE G_MAXUINT
#define MAX_SOURCES 8

typedef struct {
	Query *query;
	guint side; /* source index, or PATTERN_SIDE */
} Consumer;

typedef struct {
	char *name;
	TandemStreamDefinition *def;
	GArray *consumers; /* of Consumer */
	gboolean produced; /* some query inserts into it */
} Stream;

/* One aggregate's state for one group. */
typedef struct {
	gint64 count;
	gint64 lsum;
	double dsum;
	TandemValue ext; /* min/max when no value can leave */
	GTree *values;   /* min/max with removals: value -> count */
} AggState;

typedef struct {
	guint hash;
	guint len;
	char *key;
	AggState *aggs;
	/* batch emission */
	TandemEvent *batch_row;
	ItemKind batch_kind;
	gboolean in_batch;
} Group;

typedef struct {
	WinKind kind;
	gint64 size;     /* events, or milliseconds */
	guint ts_index;  /* external time attribute */
	GQueue events;   /* window contents / current batch */
	GQueue expired;  /* previous batch (batch windows) */
	gboolean started;
	gint64 batch_end;
} Window;

typedef enum {
	QUERY_SIMPLE,
	QUERY_JOIN,
	QUERY_PATTERN,
} QueryKind;

typedef struct {
	Stream *stream;
	Expr *filter; /* simple/join: over this source alone; pattern: over steps 0..this */
	Window win;
} Source;

/* A pattern's partial match: the events of the steps matched so far. */
typedef struct {
	guint step; /* the next step to match */
	TandemEvent *events[MAX_SOURCES];
} Partial;

struct _Query {
	char *name;
	QueryKind kind;
	Source sources[MAX_SOURCES];
	guint n_sources;
	Expr *on;          /* join condition */
	gboolean every;    /* pattern: every on the first step */
	gboolean started;  /* pattern without every: the first step matched once */
	GPtrArray *partials; /* of Partial*, oldest first */
	gboolean unidirectional[2]; /* join: only this side triggers */
	GPtrArray *pending;  /* output rows of the input being processed */
	GArray *pending_kinds;
	Stream *output;
	Expr **select;
	guint n_select;
	guint8 *out_types;
	Expr **group_by;
	guint n_group_by;
	Expr *having;
	AggDef **aggs;
	guint n_aggs;
	gboolean current_on;
	gboolean expired_on;
	gboolean batch_mode;     /* aggregates over a batch window: one row per group and batch */
	gboolean in_batch_chunk; /* a batch window is emitting its chunk */
	gboolean track_values; /* min/max need a multiset (values can leave) */
	GHashTable *groups;    /* Group* -> Group* */
	GPtrArray *group_list; /* of Group*, in creation order (owns) */
	Group *single;
	GPtrArray *batch_groups;
	GString *keybuf;
	TandemValue *agg_values;
	gboolean *agg_set;
};

struct _TandemPlan {
	GObject parent_instance;

	char *name;
	char *description;
	GPtrArray *streams; /* of Stream* */
	GHashTable *stream_index; /* name -> Stream* */
	GPtrArray *queries;       /* of Query* */
	gint64 clock;
	gboolean clock_set;
	guint64 fingerprint;

	TandemPlanOutputFunc output_func;
	gpointer output_data;
	GDestroyNotify output_destroy;
};

G_DEFINE_FINAL_TYPE (TandemPlan, tandem_plan, G_TYPE_OBJECT)

/* --- time arithmetic ------------------------------------------------------ */

/* Times come from events, so any value is possible: window arithmetic
 * saturates instead of overflowing. */
static inline gint64
time_add (gint64 t, gint64 d)
{
	if (d > 0 && t > G_MAXINT64 - d)
		return G_MAXINT64;
	if (d < 0 && t < G_MININT64 - d)
		return G_MININT64;
	return t + d;
}

/* The first batch end after @now, from @end, in steps of @size. */
static gint64
next_batch_end (gint64 end, gint64 now, gint64 size)
{
	guint64 steps;

	if (now < end)
		return end;
	/* unsigned arithmetic: exact over the whole range, never undefined */
	steps = ((guint64) now - (guint64) end) / (guint64) size + 1;
	if (steps > ((guint64) G_MAXINT64 - (guint64) end) / (guint64) size)
		return G_MAXINT64;
	return (gint64) ((guint64) end + steps * (guint64) size);
}

/* --- values --------------------------------------------------------------- */

/* FNV-1a, 64 bit: group keys and plan fingerprints. */
static guint64
hash_bytes (const void *data, gsize len, guint64 seed)
{
	const guint8 *p = data;
	guint64 h = seed != 0 ? seed : G_GUINT64_CONSTANT (14695981039346656037);

	for (gsize i = 0; i < len; i++) {
		h ^= p[i];
		h *= G_GUINT64_CONSTANT (1099511628211);
	}
	return h;
}

static int
value_compare (const TandemValue *a, const TandemValue *b, TandemAttributeType type)
{
	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		return (a->i > b->i) - (a->i < b->i);
	case TANDEM_ATTRIBUTE_TYPE_LONG:
		return (a->l > b->l) - (a->l < b->l);
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
		return (a->f > b->f) - (a->f < b->f);
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		return (a->d > b->d) - (a->d < b->d);
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		return (!!a->b) - (!!b->b);
	case TANDEM_ATTRIBUTE_TYPE_STRING:
	default:
		return strcmp (a->s, b->s);
	}
}

static int
tree_compare (gconstpointer a, gconstpointer b, gpointer type)
{
	return value_compare (a, b, GPOINTER_TO_INT (type));
}

/* --- aggregates ----------------------------------------------------------- */

static void
agg_state_init (AggState *st, AggDef *def, gboolean track_values)
{
	memset (st, 0, sizeof *st);
	if (track_values && (def->kind == AGG_MIN || def->kind == AGG_MAX))
		st->values = g_tree_new_full (tree_compare, GINT_TO_POINTER (def->type), g_free, NULL);
}

static void
agg_state_clear (AggState *st)
{
	if (st->values != NULL)
		g_tree_destroy (st->values);
	st->values = NULL;
}

static void
agg_state_reset (AggState *st, AggDef *def, gboolean track_values)
{
	agg_state_clear (st);
	agg_state_init (st, def, track_values);
}

static void
tree_add (GTree *tree, const TandemValue *v, gint64 n)
{
	gpointer orig_key = NULL;
	gpointer count = NULL;

	if (g_tree_lookup_extended (tree, v, &orig_key, &count)) {
		gint64 c = GPOINTER_TO_SIZE (count) + n;

		if (c <= 0)
			g_tree_remove (tree, v);
		else
			g_tree_insert (tree, g_memdup2 (v, sizeof *v), GSIZE_TO_POINTER ((gsize) c));
	} else if (n > 0) {
		g_tree_insert (tree, g_memdup2 (v, sizeof *v), GSIZE_TO_POINTER ((gsize) n));
	}
}

static void
agg_update (AggState *st, AggDef *def, const TandemValue *v, gboolean add)
{
	gint64 sign = add ? 1 : -1;

	st->count += sign;
	switch (def->kind) {
	case AGG_SUM:
	case AGG_AVG:
		switch (def->arg_type) {
		case TANDEM_ATTRIBUTE_TYPE_INT:
			if (def->kind == AGG_SUM)
				st->lsum = (gint64) ((guint64) st->lsum + (guint64) (sign * v->i));
			else
				st->dsum += sign * (double) v->i;
			break;
		case TANDEM_ATTRIBUTE_TYPE_LONG:
			if (def->kind == AGG_SUM)
				st->lsum = (gint64) ((guint64) st->lsum + (add ? (guint64) v->l : 0u - (guint64) v->l));
			else
				st->dsum += sign * (double) v->l;
			break;
		case TANDEM_ATTRIBUTE_TYPE_FLOAT:
			st->dsum += sign * (double) v->f;
			break;
		case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		case TANDEM_ATTRIBUTE_TYPE_BOOL:
		case TANDEM_ATTRIBUTE_TYPE_STRING:
		default:
			st->dsum += sign * v->d;
			break;
		}
		break;
	case AGG_MIN:
	case AGG_MAX:
		if (st->values != NULL) {
			tree_add (st->values, v, sign);
		} else if (add) {
			/* no value ever leaves: keep only the extreme */
			if (st->count == 1 ||
			    (def->kind == AGG_MIN ? value_compare (v, &st->ext, def->type) < 0
						  : value_compare (v, &st->ext, def->type) > 0))
				st->ext = *v;
		}
		break;
	case AGG_COUNT:
	default:
		break;
	}
}

static gboolean
tree_first (gpointer key, gpointer value, gpointer data)
{
	*(TandemValue *) data = *(TandemValue *) key;
	return TRUE;
}

static gboolean
tree_last (gpointer key, gpointer value, gpointer data)
{
	*(TandemValue *) data = *(TandemValue *) key;
	return FALSE;
}

static gboolean
agg_value (AggState *st, AggDef *def, TandemValue *out)
{
	switch (def->kind) {
	case AGG_COUNT:
		out->l = st->count;
		return TRUE;
	case AGG_SUM:
		if (def->type == TANDEM_ATTRIBUTE_TYPE_LONG)
			out->l = st->lsum;
		else
			out->d = st->count == 0 ? 0.0 : st->dsum;
		return TRUE;
	case AGG_AVG:
		/* as Siddhi: an average over nothing (all values left) is 0.0 */
		out->d = st->count <= 0 ? 0.0 : st->dsum / (double) st->count;
		return TRUE;
	case AGG_MIN:
	case AGG_MAX:
	default:
		if (st->count <= 0)
			return FALSE;
		if (st->values == NULL) {
			*out = st->ext;
			return TRUE;
		}
		if (def->kind == AGG_MIN)
			g_tree_foreach (st->values, tree_first, out);
		else
			g_tree_foreach (st->values, tree_last, out);
		return TRUE;
	}
}

/* --- groups --------------------------------------------------------------- */

static guint
group_hash (gconstpointer p)
{
	return ((const Group *) p)->hash;
}

static gboolean
group_equal (gconstpointer a, gconstpointer b)
{
	const Group *x = a, *y = b;

	return x->len == y->len && memcmp (x->key, y->key, x->len) == 0;
}

static Group *
group_new (Query *q, const char *key, guint len, guint hash)
{
	Group *g = g_new0 (Group, 1);

	g->hash = hash;
	g->len = len;
	g->key = g_memdup2 (key, MAX (len, 1));
	g->aggs = g_new0 (AggState, MAX (q->n_aggs, 1));
	for (guint i = 0; i < q->n_aggs; i++)
		agg_state_init (&g->aggs[i], q->aggs[i], q->track_values);
	return g;
}


static void
group_free (Query *q, Group *g)
{
	for (guint i = 0; i < q->n_aggs; i++)
		agg_state_clear (&g->aggs[i]);
	if (g->batch_row != NULL)
		tandem_event_unref (g->batch_row);
	g_free (g->aggs);
	g_free (g->key);
	g_free (g);
}

static void
key_append_value (GString *key, const TandemValue *v, gboolean set, TandemAttributeType type)
{
	guint8 tag = set ? (guint8) type : 0xff;

	g_string_append_c (key, (char) tag);
	if (!set)
		return;
	if (type == TANDEM_ATTRIBUTE_TYPE_STRING) {
		guint32 len = (guint32) strlen (v->s);

		g_string_append_len (key, (const char *) &len, sizeof len);
		g_string_append_len (key, v->s, len);
	} else if (type == TANDEM_ATTRIBUTE_TYPE_BOOL) {
		g_string_append_c (key, v->b ? 1 : 0);
	} else {
		g_string_append_len (key, (const char *) v, sizeof *v);
	}
}

static Group *
find_group (Query *q, const ExprCtx *ctx)
{
	Group probe;
	Group *g;

	if (q->n_group_by == 0)
		return q->single;
	g_string_truncate (q->keybuf, 0);
	for (guint i = 0; i < q->n_group_by; i++) {
		TandemValue v = { 0 };
		gboolean set = expr_eval (q->group_by[i], ctx, &v);

		key_append_value (q->keybuf, &v, set, q->group_by[i]->type);
	}
	probe.key = q->keybuf->str;
	probe.len = (guint) q->keybuf->len;
	probe.hash = (guint) hash_bytes (q->keybuf->str, q->keybuf->len, 0);
	g = g_hash_table_lookup (q->groups, &probe);
	if (g == NULL) {
		g = group_new (q, probe.key, probe.len, probe.hash);
		g_ptr_array_add (q->group_list, g);
		g_hash_table_add (q->groups, g);
	}
	return g;
}

/* --- output --------------------------------------------------------------- */

static void deliver (TandemPlan *self, Stream *stream, TandemEvent *event);

/* Outputs leave a query as one chunk per input, as in Siddhi: the whole
 * chunk reaches the output function, then the queries that read the
 * output stream, event by event. */
static void
emit (TandemPlan *self, Query *q, TandemEvent *row, ItemKind kind)
{
	TandemEventKind k = (TandemEventKind) kind;

	g_ptr_array_add (q->pending, tandem_event_ref (row));
	g_array_append_val (q->pending_kinds, k);
}

static void
flush_outputs (TandemPlan *self, Query *q)
{
	/* no query feeds back into itself (loops are refused), so nothing
	 * appends to these while they are delivered */
	GPtrArray *rows = q->pending;
	GArray *kinds = q->pending_kinds;

	if (rows->len == 0)
		return;
	if (self->output_func != NULL) {
		for (guint i = 0; i < rows->len; i++)
			self->output_func (self, q->name, q->output->name,
					   g_array_index (kinds, TandemEventKind, i),
					   g_ptr_array_index (rows, i), self->output_data);
	}
	/* whatever its kind, an event inserted into a stream arrives there as
	 * a current event */
	for (guint i = 0; i < rows->len; i++)
		deliver (self, q->output, g_ptr_array_index (rows, i));
	g_ptr_array_set_size (rows, 0);
	g_array_set_size (kinds, 0);
}

static TandemEvent *
build_row (Query *q, const ExprCtx *ctx, gint64 timestamp)
{
	TandemEvent *row = tandem_event_new_typed (q->n_select, q->out_types, timestamp);

	for (guint i = 0; i < q->n_select; i++) {
		TandemValue v;

		if (!expr_eval (q->select[i], ctx, &v))
			continue;
		row->types[i] &= ~TANDEM_VALUE_NULL;
		if (q->out_types[i] == TANDEM_ATTRIBUTE_TYPE_STRING)
			v.s = g_ref_string_acquire (v.s);
		row->values[i] = v;
	}
	return row;
}

static void
batch_put (Query *q, Group *g, TandemEvent *row, ItemKind kind)
{
	if (g->batch_row != NULL)
		tandem_event_unref (g->batch_row);
	g->batch_row = row;
	g->batch_kind = kind;
	if (!g->in_batch) {
		g->in_batch = TRUE;
		g_ptr_array_add (q->batch_groups, g);
	}
}

static void
batch_flush (TandemPlan *self, Query *q)
{
	g_autoptr(GPtrArray) groups = NULL;

	if (q->batch_groups->len == 0)
		return;
	/* emitting may re-enter this query (through a loop-free chain, never
	 * itself), so detach the list first */
	groups = g_steal_pointer (&q->batch_groups);
	q->batch_groups = g_ptr_array_new ();
	for (guint i = 0; i < groups->len; i++) {
		Group *g = g_ptr_array_index (groups, i);
		TandemEvent *row = g_steal_pointer (&g->batch_row);

		g->in_batch = FALSE;
		emit (self, q, row, g->batch_kind);
		tandem_event_unref (row);
	}
}

/* Siddhi's query selector, for one item leaving the window (or one joined
 * pair, or one completed pattern match): @events has one event per source. */
static void
select_item (TandemPlan *self, Query *q, TandemEvent **events, ItemKind kind, gint64 timestamp)
{
	ExprCtx ctx = { events, NULL, q->agg_values, q->agg_set };
	Group *g;
	gboolean wanted;
	TandemEvent *row;

	if (kind == ITEM_RESET) {
		for (guint i = 0; i < q->group_list->len; i++) {
			Group *each = g_ptr_array_index (q->group_list, i);

			for (guint a = 0; a < q->n_aggs; a++)
				agg_state_reset (&each->aggs[a], q->aggs[a], q->track_values);
		}
		if (q->single != NULL) {
			for (guint a = 0; a < q->n_aggs; a++)
				agg_state_reset (&q->single->aggs[a], q->aggs[a], q->track_values);
		}
		return;
	}

	g = q->n_aggs > 0 || q->n_group_by > 0 ? find_group (q, &ctx) : NULL;
	for (guint a = 0; a < q->n_aggs; a++) {
		AggDef *def = q->aggs[a];
		TandemValue v = { 0 };

		if (def->arg == NULL || expr_eval (def->arg, &ctx, &v))
			agg_update (&g->aggs[a], def, &v, kind == ITEM_CURRENT);
	}
	wanted = kind == ITEM_CURRENT ? q->current_on : q->expired_on;
	if (!wanted)
		return;
	for (guint a = 0; a < q->n_aggs; a++)
		q->agg_set[a] = agg_value (&g->aggs[a], q->aggs[a], &q->agg_values[a]);

	row = build_row (q, &ctx, timestamp);
	if (q->having != NULL) {
		ctx.row = row;
		if (!expr_true (q->having, &ctx)) {
			tandem_event_unref (row);
			return;
		}
	}
	if (q->in_batch_chunk) {
		batch_put (q, g, row, kind);
		return;
	}
	emit (self, q, row, kind);
	tandem_event_unref (row);
}

/* --- windows -------------------------------------------------------------- */

static gboolean
is_batch_window (WinKind kind)
{
	return kind == WIN_LENGTH_BATCH || kind == WIN_TIME_BATCH || kind == WIN_EXT_TIME_BATCH;
}

/* What a window hands on: to the selector for a simple query; for a join,
 * one pair per event of the other side's window that satisfies the join
 * condition, in that window's order. */
static void
window_emit (TandemPlan *self, Query *q, guint side, TandemEvent *event, ItemKind kind, gint64 timestamp)
{
	TandemEvent *events[2] = { event, NULL };
	Window *other;
	GQueue *contents;
	ExprCtx ctx = { events, NULL, NULL, NULL };

	if (q->kind == QUERY_SIMPLE) {
		select_item (self, q, events, kind, timestamp);
		return;
	}
	if (kind == ITEM_RESET) {
		select_item (self, q, NULL, ITEM_RESET, timestamp);
		return;
	}
	if (q->unidirectional[1 - side])
		return; /* only the other side triggers the join */
	other = &q->sources[1 - side].win;
	/* a batch window joins with the batch it emitted last */
	contents = is_batch_window (other->kind) ? &other->expired : &other->events;
	for (GList *l = contents->head; l != NULL; l = l->next) {
		events[side] = event;
		events[1 - side] = l->data;
		if (q->on == NULL || expr_true (q->on, &ctx))
			select_item (self, q, events, kind, timestamp);
	}
}

/* An event whose time attribute is null counts at its own event time. */
static gint64
ext_time (Window *w, TandemEvent *event)
{
	return TANDEM_VALUE_IS_NULL (event, w->ts_index) ? event->timestamp : event->values[w->ts_index].l;
}

static void
queue_clear (GQueue *queue)
{
	TandemEvent *event;

	while ((event = g_queue_pop_head (queue)) != NULL)
		tandem_event_unref (event);
}

/* Batch windows emit: the previous batch as expired events, a reset of the
 * aggregates, then the new batch as current events. */
static void
flush_batch (TandemPlan *self, Query *q, guint side, gint64 now)
{
	Window *w = &q->sources[side].win;
	GQueue expired;
	TandemEvent *event;

	if (g_queue_is_empty (&w->events) && g_queue_is_empty (&w->expired))
		return;
	/* the batch becomes the expired batch of the next flush (and what the
	 * other side of a join matches) before anything is emitted */
	expired = w->expired;
	w->expired = w->events;
	g_queue_init (&w->events);
	/* Siddhi's batch selector: with aggregates, only the last row of each
	 * group leaves the chunk (items from the other side of a join, which
	 * do not come in batches, leave one by one) */
	q->in_batch_chunk = q->batch_mode;
	while ((event = g_queue_pop_head (&expired)) != NULL) {
		window_emit (self, q, side, event, ITEM_EXPIRED, now);
		tandem_event_unref (event);
	}
	window_emit (self, q, side, NULL, ITEM_RESET, now);
	for (GList *l = w->expired.head; l != NULL; l = l->next)
		window_emit (self, q, side, l->data, ITEM_CURRENT, ((TandemEvent *) l->data)->timestamp);
	q->in_batch_chunk = FALSE;
	batch_flush (self, q);
}

static void
window_advance (TandemPlan *self, Query *q, guint side, gint64 now)
{
	Window *w = &q->sources[side].win;

	switch (w->kind) {
	case WIN_TIME:
		while (!g_queue_is_empty (&w->events)) {
			TandemEvent *head = g_queue_peek_head (&w->events);

			if (time_add (head->timestamp, w->size) > now)
				break;
			g_queue_pop_head (&w->events);
			window_emit (self, q, side, head, ITEM_EXPIRED, now);
			tandem_event_unref (head);
		}
		break;
	case WIN_TIME_BATCH:
		/* a flush, then (once the last batch has expired too) a jump over
		 * the empty batches; the end of time ends the loop */
		while (w->started && now >= w->batch_end && w->batch_end != G_MAXINT64) {
			flush_batch (self, q, side, now);
			w->batch_end = time_add (w->batch_end, w->size);
			if (g_queue_is_empty (&w->events) && g_queue_is_empty (&w->expired))
				w->batch_end = next_batch_end (w->batch_end, now, w->size);
		}
		break;
	case WIN_NONE:
	case WIN_LENGTH:
	case WIN_LENGTH_BATCH:
	case WIN_EXT_TIME:
	case WIN_EXT_TIME_BATCH:
	default:
		break;
	}
}

static void
window_process (TandemPlan *self, Query *q, guint side, TandemEvent *event)
{
	Window *w = &q->sources[side].win;

	switch (w->kind) {
	case WIN_NONE:
		window_emit (self, q, side, event, ITEM_CURRENT, event->timestamp);
		break;
	case WIN_LENGTH:
		if ((gint64) w->events.length >= w->size) {
			TandemEvent *old = g_queue_pop_head (&w->events);

			window_emit (self, q, side, old, ITEM_EXPIRED, self->clock);
			tandem_event_unref (old);
		}
		g_queue_push_tail (&w->events, tandem_event_ref (event));
		window_emit (self, q, side, event, ITEM_CURRENT, event->timestamp);
		break;
	case WIN_LENGTH_BATCH:
		g_queue_push_tail (&w->events, tandem_event_ref (event));
		if ((gint64) w->events.length >= w->size)
			flush_batch (self, q, side, self->clock);
		break;
	case WIN_TIME:
		g_queue_push_tail (&w->events, tandem_event_ref (event));
		window_emit (self, q, side, event, ITEM_CURRENT, event->timestamp);
		break;
	case WIN_TIME_BATCH:
		if (!w->started) {
			w->started = TRUE;
			w->batch_end = time_add (event->timestamp, w->size);
		}
		g_queue_push_tail (&w->events, tandem_event_ref (event));
		break;
	case WIN_EXT_TIME: {
		gint64 now = ext_time (w, event);

		while (!g_queue_is_empty (&w->events)) {
			TandemEvent *head = g_queue_peek_head (&w->events);

			if (time_add (ext_time (w, head), w->size) > now)
				break;
			g_queue_pop_head (&w->events);
			window_emit (self, q, side, head, ITEM_EXPIRED, now);
			tandem_event_unref (head);
		}
		g_queue_push_tail (&w->events, tandem_event_ref (event));
		window_emit (self, q, side, event, ITEM_CURRENT, event->timestamp);
		break;
	}
	case WIN_EXT_TIME_BATCH:
	default: {
		gint64 now = ext_time (w, event);

		if (!w->started) {
			w->started = TRUE;
			w->batch_end = time_add (now, w->size);
		} else if (now >= w->batch_end) {
			flush_batch (self, q, side, event->timestamp);
			w->batch_end = next_batch_end (w->batch_end, now, w->size);
		}
		g_queue_push_tail (&w->events, tandem_event_ref (event));
		break;
	}
	}
}

/* --- patterns ------------------------------------------------------------- */

static void
partial_free (Partial *p)
{
	for (guint i = 0; i < MAX_SOURCES; i++) {
		if (p->events[i] != NULL)
			tandem_event_unref (p->events[i]);
	}
	g_free (p);
}

/* `A -> B -> C`: an event is first offered to the partial matches waiting
 * for its stream, oldest first (each completes or advances at most one
 * step); then it may start a new partial match (always with `every`, else
 * only until the first step matched once). */
static void
pattern_process (TandemPlan *self, Query *q, Stream *stream, TandemEvent *event)
{
	guint n = q->partials->len;
	guint kept = 0;

	for (guint i = 0; i < n; i++) {
		Partial *p = g_ptr_array_index (q->partials, i);
		Source *src = &q->sources[p->step];
		gboolean done = FALSE;

		if (src->stream == stream) {
			ExprCtx ctx = { p->events, NULL, NULL, NULL };

			p->events[p->step] = event;
			if (src->filter == NULL || expr_true (src->filter, &ctx)) {
				if (p->step + 1 == q->n_sources) {
					select_item (self, q, p->events, ITEM_CURRENT, event->timestamp);
					done = TRUE;
				} else {
					tandem_event_ref (event);
					p->step++;
				}
			} else {
				p->events[p->step] = NULL;
			}
		}
		if (done) {
			p->events[q->n_sources - 1] = NULL; /* borrowed */
			partial_free (p);
		} else {
			q->partials->pdata[kept++] = p;
		}
	}
	/* keep what was appended while emitting (never, as queries do not loop) */
	for (guint i = n; i < q->partials->len; i++)
		q->partials->pdata[kept++] = q->partials->pdata[i];
	q->partials->len = kept;

	if (q->sources[0].stream == stream && (q->every || !q->started)) {
		TandemEvent *events[MAX_SOURCES] = { event };
		ExprCtx ctx = { events, NULL, NULL, NULL };

		if (q->sources[0].filter == NULL || expr_true (q->sources[0].filter, &ctx)) {
			Partial *p = g_new0 (Partial, 1);

			p->step = 1;
			p->events[0] = tandem_event_ref (event);
			g_ptr_array_add (q->partials, p);
			q->started = TRUE;
		}
	}
}

static void
query_process (TandemPlan *self, Query *q, guint side, Stream *stream, TandemEvent *event)
{
	Source *src;

	if (q->kind == QUERY_PATTERN) {
		pattern_process (self, q, stream, event);
		flush_outputs (self, q);
		return;
	}
	src = &q->sources[side];
	if (src->filter != NULL) {
		TandemEvent *events[1] = { event };
		ExprCtx ctx = { events, NULL, NULL, NULL };

		if (!expr_true (src->filter, &ctx))
			return;
	}
	window_process (self, q, side, event);
	flush_outputs (self, q);
}

static void
deliver (TandemPlan *self, Stream *stream, TandemEvent *event)
{
	for (guint i = 0; i < stream->consumers->len; i++) {
		Consumer *c = &g_array_index (stream->consumers, Consumer, i);

		query_process (self, c->query, c->side, stream, event);
	}
}

static void
advance_clock (TandemPlan *self, gint64 now)
{
	if (self->clock_set && now <= self->clock)
		return;
	self->clock = now;
	self->clock_set = TRUE;
	for (guint i = 0; i < self->queries->len; i++) {
		Query *q = g_ptr_array_index (self->queries, i);

		if (q->kind == QUERY_PATTERN)
			continue;
		for (guint side = 0; side < q->n_sources; side++) {
			WinKind kind = q->sources[side].win.kind;

			if (kind == WIN_TIME || kind == WIN_TIME_BATCH)
				window_advance (self, q, side, now);
		}
		flush_outputs (self, q);
	}
}

/* --- compiling ------------------------------------------------------------ */

static void
stream_free (Stream *s)
{
	g_free (s->name);
	g_clear_object (&s->def);
	g_array_unref (s->consumers);
	g_free (s);
}

static void
query_free (Query *q)
{
	g_free (q->name);
	for (guint i = 0; i < q->n_sources; i++) {
		expr_free (q->sources[i].filter);
		queue_clear (&q->sources[i].win.events);
		queue_clear (&q->sources[i].win.expired);
	}
	expr_free (q->on);
	if (q->partials != NULL)
		g_ptr_array_unref (q->partials);
	if (q->pending != NULL)
		g_ptr_array_unref (q->pending);
	if (q->pending_kinds != NULL)
		g_array_unref (q->pending_kinds);
	for (guint i = 0; i < q->n_select; i++)
		expr_free (q->select[i]);
	g_free (q->select);
	g_free (q->out_types);
	for (guint i = 0; i < q->n_group_by; i++)
		expr_free (q->group_by[i]);
	g_free (q->group_by);
	expr_free (q->having);
	if (q->group_list != NULL) {
		for (guint i = 0; i < q->group_list->len; i++)
			group_free (q, g_ptr_array_index (q->group_list, i));
		g_ptr_array_unref (q->group_list);
	}
	if (q->single != NULL)
		group_free (q, q->single);
	if (q->groups != NULL)
		g_hash_table_unref (q->groups);
	if (q->batch_groups != NULL)
		g_ptr_array_unref (q->batch_groups);
	for (guint i = 0; i < q->n_aggs; i++)
		agg_def_free (q->aggs[i]);
	g_free (q->aggs);
	g_free (q->agg_values);
	g_free (q->agg_set);
	if (q->keybuf != NULL)
		g_string_free (q->keybuf, TRUE);
	g_free (q);
}

static void G_GNUC_PRINTF (4, 5)
semantic_error (GError **error, guint line, guint col, const char *format, ...)
{
	g_autofree char *msg = NULL;
	va_list args;

	va_start (args, format);
	msg = g_strdup_vprintf (format, args);
	va_end (args);
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_PLAN_INVALID, "%u:%u: %s", line, col, msg);
}

static Stream *
add_stream (TandemPlan *self, TandemStreamDefinition *def)
{
	Stream *s = g_new0 (Stream, 1);

	s->name = g_strdup (tandem_stream_definition_get_name (def));
	s->def = g_object_ref (def);
	s->consumers = g_array_new (FALSE, FALSE, sizeof (Consumer));
	g_ptr_array_add (self->streams, s);
	g_hash_table_insert (self->stream_index, s->name, s);
	return s;
}

static gboolean
compile_stream (TandemPlan *self, AstStream *ast, GPtrArray *external, GError **error)
{
	g_autoptr(TandemStreamDefinition) def = NULL;
	const char *version = "1.0.0";
	const char *id = ast->import_id != NULL ? ast->import_id : ast->export_id;

	if (strlen (ast->name) > 255) {
		semantic_error (error, ast->line, ast->col, "a stream name has at most 255 characters");
		return FALSE;
	}
	if (g_hash_table_contains (self->stream_index, ast->name)) {
		semantic_error (error, ast->line, ast->col, "stream %s is defined twice", ast->name);
		return FALSE;
	}
	if (id != NULL) {
		const char *colon = strrchr (id, ':');

		if (colon == NULL || strncmp (id, ast->name, colon - id) != 0 ||
		    strlen (ast->name) != (gsize) (colon - id) || colon[1] == '\0') {
			semantic_error (error, ast->line, ast->col,
					"stream %s is annotated with '%s', expected '%s:VERSION'", ast->name, id,
					ast->name);
			return FALSE;
		}
		version = colon + 1;
	}
	def = tandem_stream_definition_new (ast->name, version);
	for (guint i = 0; i < ast->attr_names->len; i++) {
		g_autoptr(GError) local_error = NULL;

		if (!tandem_stream_definition_add_attribute (def, g_ptr_array_index (ast->attr_names, i),
							     g_array_index (ast->attr_types, TandemAttributeType, i),
							     TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &local_error)) {
			semantic_error (error, ast->line, ast->col, "%s", local_error->message);
			return FALSE;
		}
	}
	/* a definition given from outside (a WSO2 stream definition file) must
	 * agree with the plan's, attribute by attribute */
	for (guint i = 0; external != NULL && i < external->len; i++) {
		TandemStreamDefinition *ext = g_ptr_array_index (external, i);

		if (g_strcmp0 (tandem_stream_definition_get_name (ext), ast->name) != 0)
			continue;
		if (tandem_stream_definition_get_n_attributes (ext) != tandem_stream_definition_get_n_attributes (def)) {
			semantic_error (error, ast->line, ast->col,
					"stream %s has %u attributes here but %u in its definition %s", ast->name,
					tandem_stream_definition_get_n_attributes (def),
					tandem_stream_definition_get_n_attributes (ext),
					tandem_stream_definition_get_id (ext));
			return FALSE;
		}
		for (guint a = 0; a < tandem_stream_definition_get_n_attributes (def); a++) {
			if (tandem_stream_definition_get_attribute_type (ext, a) != tandem_stream_definition_get_attribute_type (def, a) ||
			    g_strcmp0 (tandem_stream_definition_get_attribute_name (ext, a),
				       tandem_stream_definition_get_attribute_name (def, a)) != 0) {
				semantic_error (error, ast->line, ast->col,
						"attribute %u of stream %s is '%s %s' here but '%s %s' in %s", a + 1,
						ast->name, tandem_stream_definition_get_attribute_name (def, a),
						tandem_attribute_type_to_string (tandem_stream_definition_get_attribute_type (def, a)),
						tandem_stream_definition_get_attribute_name (ext, a),
						tandem_attribute_type_to_string (tandem_stream_definition_get_attribute_type (ext, a)),
						tandem_stream_definition_get_id (ext));
				return FALSE;
			}
		}
		g_set_object (&def, ext);
	}
	add_stream (self, def);
	return TRUE;
}

static gboolean
time_unit (const AstExpr *unit, gint64 *factor, GError **error)
{
	static const struct {
		const char *name;
		gint64 ms;
	} units[] = {
		{ "millisec", 1 }, { "millisecs", 1 }, { "millisecond", 1 }, { "milliseconds", 1 },
		{ "ms", 1 }, { "sec", 1000 }, { "secs", 1000 }, { "second", 1000 }, { "seconds", 1000 },
		{ "min", 60000 }, { "mins", 60000 }, { "minute", 60000 }, { "minutes", 60000 },
		{ "hour", 3600000 }, { "hours", 3600000 }, { "day", 86400000 }, { "days", 86400000 },
		{ "week", 604800000 }, { "weeks", 604800000 }, { "month", G_GINT64_CONSTANT (2630000000) },
		{ "months", G_GINT64_CONSTANT (2630000000) }, { "year", G_GINT64_CONSTANT (31556900000) },
		{ "years", G_GINT64_CONSTANT (31556900000) },
	};

	for (guint i = 0; i < G_N_ELEMENTS (units); i++) {
		if (g_ascii_strcasecmp (unit->name, units[i].name) == 0) {
			*factor = units[i].ms;
			return TRUE;
		}
	}
	semantic_error (error, unit->line, unit->col,
			"unknown time unit '%s' (use millisec, sec, min, hour, day, week, month or year)",
			unit->name);
	return FALSE;
}

static gboolean
const_int_value (const AstExpr *value, gboolean allow_unit, gint64 *out, GError **error)
{
	if (value->kind != AST_CONST || value->const_null ||
	    (value->const_type != TANDEM_ATTRIBUTE_TYPE_INT && value->const_type != TANDEM_ATTRIBUTE_TYPE_LONG)) {
		semantic_error (error, value->line, value->col, "expected an int or long constant%s",
				allow_unit ? " (milliseconds) or a time such as '5 sec'" : "");
		return FALSE;
	}
	*out = value->const_type == TANDEM_ATTRIBUTE_TYPE_INT ? value->const_value.i : value->const_value.l;
	if (*out <= 0) {
		semantic_error (error, value->line, value->col, "expected a positive window size, got %" G_GINT64_FORMAT, *out);
		return FALSE;
	}
	return TRUE;
}

/* A window size: a positive constant, or (for time windows) a sum of
 * `VALUE UNIT` terms such as `1 min 30 sec`. */
static gboolean
const_int_param (const AstExpr *p, gboolean allow_unit, gint64 *out, GError **error)
{
	gint64 total = 0;
	guint n_terms;

	if (!(p->kind == AST_CALL && g_strcmp0 (p->name, "#unit") == 0))
		return const_int_value (p, allow_unit, out, error);
	if (!allow_unit) {
		semantic_error (error, p->b->line, p->b->col, "this parameter is a count, not a time: drop '%s'", p->b->name);
		return FALSE;
	}
	n_terms = 1 + (p->args != NULL ? p->args->len : 0);
	for (guint i = 0; i < n_terms; i++) {
		const AstExpr *term = i == 0 ? p : g_ptr_array_index (p->args, i - 1);
		gint64 value;
		gint64 factor;

		if (!const_int_value (term->a, TRUE, &value, error) || !time_unit (term->b, &factor, error))
			return FALSE;
		if (value > (G_MAXINT64 - total) / factor) {
			semantic_error (error, term->a->line, term->a->col, "window time is too long");
			return FALSE;
		}
		total += value * factor;
	}
	*out = total;
	return TRUE;
}

static gboolean
compile_window (Window *win, AstWindow *ast, TandemStreamDefinition *def, GError **error)
{
	static const struct {
		const char *name;
		WinKind kind;
		guint n_params;
		gboolean time;
	} windows[] = {
		{ "length", WIN_LENGTH, 1, FALSE },
		{ "lengthBatch", WIN_LENGTH_BATCH, 1, FALSE },
		{ "time", WIN_TIME, 1, TRUE },
		{ "timeBatch", WIN_TIME_BATCH, 1, TRUE },
		{ "externalTime", WIN_EXT_TIME, 2, TRUE },
		{ "externalTimeBatch", WIN_EXT_TIME_BATCH, 2, TRUE },
	};
	guint found = G_N_ELEMENTS (windows);
	const AstExpr *size_param;

	for (guint i = 0; i < G_N_ELEMENTS (windows); i++) {
		if (strcmp (ast->name, windows[i].name) == 0)
			found = i;
	}
	if (found == G_N_ELEMENTS (windows)) {
		semantic_error (error, ast->line, ast->col,
				"unknown window '%s' (supported: length, lengthBatch, time, timeBatch, externalTime, externalTimeBatch)",
				ast->name);
		return FALSE;
	}
	if (ast->params->len != windows[found].n_params) {
		semantic_error (error, ast->line, ast->col, "window %s expects %u parameter%s, got %u", ast->name,
				windows[found].n_params, windows[found].n_params == 1 ? "" : "s", ast->params->len);
		return FALSE;
	}
	win->kind = windows[found].kind;
	if (windows[found].n_params == 2) {
		const AstExpr *attr = g_ptr_array_index (ast->params, 0);
		int idx;

		if (attr->kind != AST_ATTR) {
			semantic_error (error, attr->line, attr->col, "window %s needs a long attribute holding the event time first",
					ast->name);
			return FALSE;
		}
		idx = tandem_stream_definition_lookup (def, attr->name);
		if (idx < 0 || tandem_stream_definition_get_attribute_type (def, idx) != TANDEM_ATTRIBUTE_TYPE_LONG) {
			semantic_error (error, attr->line, attr->col, "window %s: '%s' is not a long attribute of stream %s",
					ast->name, attr->name, tandem_stream_definition_get_name (def));
			return FALSE;
		}
		win->ts_index = (guint) idx;
	}
	size_param = g_ptr_array_index (ast->params, ast->params->len - 1);
	return const_int_param (size_param, windows[found].time, &win->size, error);
}

static gboolean
has_cycle_from (TandemPlan *self, Stream *start, Stream *at, guint depth)
{
	if (depth > self->queries->len + 1)
		return TRUE;
	for (guint i = 0; i < at->consumers->len; i++) {
		Query *q = g_array_index (at->consumers, Consumer, i).query;

		if (q->output == start || has_cycle_from (self, start, q->output, depth + 1))
			return TRUE;
	}
	return FALSE;
}

/* Plan and query names end up in file paths, table names and JSON lines:
 * keep them to a safe alphabet. */
static gboolean
safe_name (const char *name)
{
	gsize len = strlen (name);

	if (len == 0 || len > 128 || name[0] == '.')
		return FALSE;
	for (const char *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

static gboolean
compile_query (TandemPlan *self, AstQuery *ast, GError **error)
{
	Query *q;
	ExprScope scope = { .prefer = -1 };
	g_autoptr(GPtrArray) aggs = g_ptr_array_new_with_free_func ((GDestroyNotify) agg_def_free);
	g_autoptr(TandemStreamDefinition) out_def = NULL;
	g_autoptr(GPtrArray) select = g_ptr_array_new_with_free_func ((GDestroyNotify) expr_free);
	Stream *output;

	if (!safe_name (ast->name)) {
		semantic_error (error, ast->line, ast->col,
				"query name '%s': use 1-128 letters, digits, '_', '-' or '.', not starting with '.'",
				ast->name);
		return FALSE;
	}
	for (guint i = 0; i < self->queries->len; i++) {
		if (g_strcmp0 (((Query *) g_ptr_array_index (self->queries, i))->name, ast->name) == 0) {
			semantic_error (error, ast->line, ast->col, "two queries are named '%s'", ast->name);
			return FALSE;
		}
	}
	if (ast->sources->len > MAX_SOURCES) {
		semantic_error (error, ast->line, ast->col, "a pattern may have at most %d steps", MAX_SOURCES);
		return FALSE;
	}

	q = g_new0 (Query, 1);
	q->name = g_strdup (ast->name);
	q->kind = ast->kind == AST_QUERY_JOIN ? QUERY_JOIN : ast->kind == AST_QUERY_PATTERN ? QUERY_PATTERN : QUERY_SIMPLE;
	q->every = ast->every;
	if (ast->kind == AST_QUERY_JOIN) {
		q->unidirectional[0] = ((AstSource *) g_ptr_array_index (ast->sources, 0))->unidirectional;
		q->unidirectional[1] = ((AstSource *) g_ptr_array_index (ast->sources, 1))->unidirectional;
		if (q->unidirectional[0] && q->unidirectional[1]) {
			semantic_error (error, ast->line, ast->col, "only one side of a join can be unidirectional");
			return FALSE;
		}
	}
	g_ptr_array_add (self->queries, q); /* owned from here on */
	q->groups = g_hash_table_new (group_hash, group_equal);
	q->group_list = g_ptr_array_new ();
	q->batch_groups = g_ptr_array_new ();
	q->partials = g_ptr_array_new_with_free_func ((GDestroyNotify) partial_free);
	q->pending = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);
	q->pending_kinds = g_array_new (FALSE, FALSE, sizeof (TandemEventKind));
	q->keybuf = g_string_new (NULL);
	q->current_on = ast->output_kind != AST_OUTPUT_EXPIRED;
	q->expired_on = ast->output_kind != AST_OUTPUT_CURRENT;

	for (guint i = 0; i < ast->sources->len; i++) {
		AstSource *src = g_ptr_array_index (ast->sources, i);
		Stream *input = g_hash_table_lookup (self->stream_index, src->stream);

		if (input == NULL) {
			semantic_error (error, src->line, src->col,
					"unknown stream '%s' (define it, or insert into it from an earlier query)",
					src->stream);
			return FALSE;
		}
		for (guint k = 0; k < i && src->alias != NULL; k++) {
			if (g_strcmp0 (scope.aliases[k], src->alias) == 0) {
				semantic_error (error, src->line, src->col, "'%s' names two inputs of the query", src->alias);
				return FALSE;
			}
		}
		q->sources[i].stream = input;
		q->n_sources = i + 1;
		scope.defs[i] = input->def;
		scope.names[i] = input->name;
		scope.aliases[i] = src->alias;
	}
	if (q->kind == QUERY_JOIN && q->sources[0].stream == q->sources[1].stream &&
	    (scope.aliases[0] == NULL || scope.aliases[1] == NULL)) {
		AstSource *src = g_ptr_array_index (ast->sources, 1);

		semantic_error (error, src->line, src->col,
				"a stream joined with itself needs an alias on each side ('as NAME')");
		return FALSE;
	}

	/* filters and windows: a filter sees its own input (a pattern step
	 * also sees the steps before it); aggregates are not allowed */
	for (guint i = 0; i < q->n_sources; i++) {
		AstSource *src = g_ptr_array_index (ast->sources, i);
		ExprScope fscope = scope;

		if (q->kind == QUERY_PATTERN) {
			fscope.n_sources = i + 1;
			fscope.prefer = (int) i;
		} else {
			fscope.n_sources = 1;
			fscope.defs[0] = scope.defs[i];
			fscope.names[0] = scope.names[i];
			fscope.aliases[0] = scope.aliases[i];
		}
		fscope.aggs = NULL;
		fscope.no_agg_where = "a filter";
		if (src->filter != NULL) {
			q->sources[i].filter = expr_compile_bool (src->filter, &fscope, "a filter", error);
			if (q->sources[i].filter == NULL)
				return FALSE;
		}
		if (src->window != NULL &&
		    !compile_window (&q->sources[i].win, src->window, scope.defs[i], error))
			return FALSE;
	}
	scope.n_sources = q->n_sources;
	scope.prefer = -1;
	if (ast->on != NULL) {
		scope.no_agg_where = "a join condition";
		q->on = expr_compile_bool (ast->on, &scope, "a join condition", error);
		if (q->on == NULL)
			return FALSE;
	}
	if (ast->select_all && q->n_sources > 1) {
		semantic_error (error, ast->line, ast->col,
				"'select *' needs a single input: list the attributes of a join or pattern");
		return FALSE;
	}

	/* select */
	scope.aggs = aggs;
	if (strlen (ast->into) > 255) {
		semantic_error (error, ast->into_line, ast->into_col, "a stream name has at most 255 characters");
		return FALSE;
	}
	out_def = tandem_stream_definition_new (ast->into, "1.0.0");
	if (ast->select_all) {
		TandemStreamDefinition *input_def = q->sources[0].stream->def;

		for (guint i = 0; i < tandem_stream_definition_get_n_attributes (input_def); i++) {
			AstExpr ref = { .kind = AST_ATTR, .line = ast->line, .col = ast->col };
			Expr *e;

			ref.name = (char *) tandem_stream_definition_get_attribute_name (input_def, i);
			e = expr_compile (&ref, &scope, error);
			if (e == NULL)
				return FALSE;
			g_ptr_array_add (select, e);
			tandem_stream_definition_add_attribute (out_def, ref.name, e->type,
								TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
		}
	}
	for (guint i = 0; i < ast->outputs->len; i++) {
		AstOutput *out = g_ptr_array_index (ast->outputs, i);
		const char *name = out->as != NULL ? out->as : out->expr->kind == AST_ATTR ? out->expr->name : NULL;
		Expr *e;

		if (name == NULL) {
			semantic_error (error, out->line, out->col, "output attribute %u needs a name: add 'as NAME'", i + 1);
			return FALSE;
		}
		e = expr_compile (out->expr, &scope, error);
		if (e == NULL)
			return FALSE;
		g_ptr_array_add (select, e);
		if (tandem_stream_definition_lookup (out_def, name) >= 0) {
			semantic_error (error, out->line, out->col, "output attribute '%s' is selected twice", name);
			return FALSE;
		}
		tandem_stream_definition_add_attribute (out_def, name, e->type, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	}
	q->n_select = select->len;
	q->select = (Expr **) g_ptr_array_steal (select, NULL);
	q->out_types = g_new (guint8, MAX (q->n_select, 1));
	for (guint i = 0; i < q->n_select; i++)
		q->out_types[i] = (guint8) q->select[i]->type;

	/* group by */
	scope.aggs = NULL;
	scope.no_agg_where = "group by";
	q->n_group_by = ast->group_by->len;
	q->group_by = g_new0 (Expr *, MAX (q->n_group_by, 1));
	for (guint i = 0; i < q->n_group_by; i++) {
		q->group_by[i] = expr_compile (g_ptr_array_index (ast->group_by, i), &scope, error);
		if (q->group_by[i] == NULL)
			return FALSE;
	}

	/* having: as in Siddhi, a condition on the output attributes only
	 * (select an aggregate `as NAME` to test it) */
	if (ast->having != NULL) {
		ExprScope hscope = { .prefer = -1 };

		hscope.row_def = out_def;
		hscope.no_agg_where = "having (select the aggregate 'as NAME' and test NAME)";
		q->having = expr_compile_bool (ast->having, &hscope, "having", error);
		if (q->having == NULL)
			return FALSE;
	}
	q->n_aggs = aggs->len;
	q->aggs = (AggDef **) g_ptr_array_steal (aggs, NULL);
	q->agg_values = g_new0 (TandemValue, MAX (q->n_aggs, 1));
	q->agg_set = g_new0 (gboolean, MAX (q->n_aggs, 1));
	for (guint i = 0; i < q->n_sources; i++) {
		if (q->sources[i].win.kind != WIN_NONE)
			q->track_values = TRUE;
		if (q->n_aggs > 0 && is_batch_window (q->sources[i].win.kind))
			q->batch_mode = TRUE;
	}
	if (q->n_group_by == 0)
		q->single = group_new (q, "", 0, 0);

	/* insert into */
	output = g_hash_table_lookup (self->stream_index, ast->into);
	if (output == NULL) {
		output = add_stream (self, out_def);
	} else {
		guint n = tandem_stream_definition_get_n_attributes (output->def);
		gboolean same = n == q->n_select;

		for (guint i = 0; same && i < n; i++)
			same = tandem_stream_definition_get_attribute_type (output->def, i) == q->select[i]->type;
		if (!same) {
			g_autofree char *have = tandem_stream_definition_to_siddhi (out_def);
			g_autofree char *want = tandem_stream_definition_to_siddhi (output->def);

			/* "define stream U (x int);" -> "(x int)" */
			*strrchr (have, ';') = '\0';
			*strrchr (want, ';') = '\0';
			semantic_error (error, ast->into_line, ast->into_col,
					"query '%s' inserts %s, but stream %s is %s", q->name, strchr (have, '('),
					ast->into, strchr (want, '('));
			return FALSE;
		}
	}
	q->output = output;
	output->produced = TRUE;
	for (guint i = 0; i < q->n_sources; i++) {
		Consumer c = { q, q->kind == QUERY_PATTERN ? PATTERN_SIDE : i };
		Stream *input = q->sources[i].stream;
		gboolean seen = FALSE;

		/* a pattern reads each of its streams once */
		for (guint k = 0; k < i && q->kind == QUERY_PATTERN; k++)
			seen = seen || q->sources[k].stream == input;
		if (!seen)
			g_array_append_val (input->consumers, c);
	}
	for (guint i = 0; i < q->n_sources; i++) {
		Stream *input = q->sources[i].stream;

		if (has_cycle_from (self, input, input, 0)) {
			semantic_error (error, ast->into_line, ast->into_col,
					"query '%s' makes a loop: what it inserts into %s flows back into %s", q->name,
					ast->into, input->name);
			return FALSE;
		}
	}
	return TRUE;
}

static guint64
fingerprint (TandemPlan *self)
{
	guint64 h = hash_bytes (SNAPSHOT_MAGIC, 8, 0);

	for (guint i = 0; i < self->streams->len; i++) {
		Stream *s = g_ptr_array_index (self->streams, i);
		g_autofree char *text = tandem_stream_definition_to_siddhi (s->def);

		h = hash_bytes (text, strlen (text), h);
	}
	for (guint i = 0; i < self->queries->len; i++) {
		Query *q = g_ptr_array_index (self->queries, i);
		gint64 shape[6] = { q->kind, q->n_sources, q->n_aggs, q->n_group_by, q->n_select, q->batch_mode };

		h = hash_bytes (q->name, strlen (q->name), h);
		h = hash_bytes (shape, sizeof shape, h);
		for (guint k = 0; k < q->n_sources; k++) {
			gint64 win[3] = { q->sources[k].win.kind, q->sources[k].win.size, q->sources[k].win.ts_index };

			h = hash_bytes (q->sources[k].stream->name, strlen (q->sources[k].stream->name), h);
			h = hash_bytes (win, sizeof win, h);
		}
		for (guint a = 0; a < q->n_aggs; a++) {
			gint64 agg[2] = { q->aggs[a]->kind, q->aggs[a]->type };

			h = hash_bytes (agg, sizeof agg, h);
		}
	}
	return h;
}

static void
tandem_plan_finalize (GObject *object)
{
	TandemPlan *self = TANDEM_PLAN (object);

	if (self->output_destroy != NULL)
		self->output_destroy (self->output_data);
	g_ptr_array_unref (self->queries);
	g_hash_table_unref (self->stream_index);
	g_ptr_array_unref (self->streams);
	g_free (self->name);
	g_free (self->description);
	G_OBJECT_CLASS (tandem_plan_parent_class)->finalize (object);
}

static void
tandem_plan_class_init (TandemPlanClass *klass)
{
	G_OBJECT_CLASS (klass)->finalize = tandem_plan_finalize;
}

static void
tandem_plan_init (TandemPlan *self)
{
	self->streams = g_ptr_array_new_with_free_func ((GDestroyNotify) stream_free);
	self->stream_index = g_hash_table_new (g_str_hash, g_str_equal);
	self->queries = g_ptr_array_new_with_free_func ((GDestroyNotify) query_free);
}

/**
 * tandem_plan_new:
 * @text: the execution plan, in SiddhiQL
 * @length: the length of @text in bytes, or -1 if it is nul-terminated
 * @error: return location for a #GError
 *
 * Parses and checks a plan.  Syntax errors (%TANDEM_ERROR_PLAN_SYNTAX) and
 * semantic errors such as an unknown stream or attribute, a type mismatch, an
 * aggregate in a filter or an unknown window (%TANDEM_ERROR_PLAN_INVALID)
 * start with `line:column:`.
 *
 * Returns: (transfer full) (nullable): the plan, ready to receive events
 */
TandemPlan *
tandem_plan_new (const char *text, gssize length, GError **error)
{
	return tandem_plan_new_with_streams (text, length, NULL, error);
}

/**
 * tandem_plan_new_with_streams:
 * @text: the execution plan, in SiddhiQL
 * @length: the length of @text in bytes, or -1 if it is nul-terminated
 * @streams: (nullable) (element-type TandemStreamDefinition): definitions of
 *   the imported streams (for example from WSO2 stream definition files)
 * @error: return location for a #GError
 *
 * Like tandem_plan_new(), and checks that every stream the plan defines
 * agrees with the given definition of the same name, which then replaces it
 * (keeping its version and attribute groups).
 *
 * Returns: (transfer full) (nullable): the plan
 */
TandemPlan *
tandem_plan_new_with_streams (const char *text, gssize length, GPtrArray *streams, GError **error)
{
	g_autoptr(TandemPlan) self = NULL;
	g_autoptr(AstPlan) ast = NULL;

	g_return_val_if_fail (text != NULL, NULL);

	ast = tandem_plan_parse (text, length < 0 ? strlen (text) : (gsize) length, error);
	if (ast == NULL)
		return NULL;
	if (ast->name != NULL && !safe_name (ast->name)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_PLAN_INVALID,
			     "1:1: plan name '%s': use 1-128 letters, digits, '_', '-' or '.', not starting with '.'",
			     ast->name);
		return NULL;
	}
	self = g_object_new (TANDEM_TYPE_PLAN, NULL);
	self->name = g_strdup (ast->name != NULL ? ast->name : "ExecutionPlan");
	self->description = g_strdup (ast->description);
	for (guint i = 0; i < ast->streams->len; i++) {
		if (!compile_stream (self, g_ptr_array_index (ast->streams, i), streams, error))
			return NULL;
	}
	for (guint i = 0; i < ast->queries->len; i++) {
		if (!compile_query (self, g_ptr_array_index (ast->queries, i), error))
			return NULL;
	}
	/* the compiled shape and every token of the text: a snapshot only fits
	 * the plan it was taken from, whatever its comments and layout */
	self->fingerprint = fingerprint (self) ^ ast->token_hash;
	return g_steal_pointer (&self);
}

/**
 * tandem_plan_get_name:
 * @self: a #TandemPlan
 *
 * Returns: the plan name (`@Plan:name`, or `ExecutionPlan`)
 */
const char *
tandem_plan_get_name (TandemPlan *self)
{
	g_return_val_if_fail (TANDEM_IS_PLAN (self), NULL);
	return self->name;
}

/**
 * tandem_plan_get_description:
 * @self: a #TandemPlan
 *
 * Returns: (nullable): the plan description (`@Plan:description`)
 */
const char *
tandem_plan_get_description (TandemPlan *self)
{
	g_return_val_if_fail (TANDEM_IS_PLAN (self), NULL);
	return self->description;
}

/**
 * tandem_plan_lookup_stream:
 * @self: a #TandemPlan
 * @name: a stream name
 *
 * Returns: (transfer none) (nullable): the definition of stream @name,
 *   defined in the plan or inferred from the query that inserts into it
 */
TandemStreamDefinition *
tandem_plan_lookup_stream (TandemPlan *self, const char *name)
{
	Stream *s;

	g_return_val_if_fail (TANDEM_IS_PLAN (self), NULL);
	g_return_val_if_fail (name != NULL, NULL);

	s = g_hash_table_lookup (self->stream_index, name);
	return s != NULL ? s->def : NULL;
}

/**
 * tandem_plan_get_streams:
 * @self: a #TandemPlan
 *
 * Returns: (transfer container) (element-type TandemStreamDefinition): every
 *   stream of the plan, defined ones first
 */
GPtrArray *
tandem_plan_get_streams (TandemPlan *self)
{
	GPtrArray *out;

	g_return_val_if_fail (TANDEM_IS_PLAN (self), NULL);

	out = g_ptr_array_new_with_free_func (g_object_unref);
	for (guint i = 0; i < self->streams->len; i++)
		g_ptr_array_add (out, g_object_ref (((Stream *) g_ptr_array_index (self->streams, i))->def));
	return out;
}

/**
 * tandem_plan_dup_input_streams:
 * @self: a #TandemPlan
 *
 * Returns: (transfer full): the names of the streams no query inserts into:
 *   those that events are sent to
 */
GStrv
tandem_plan_dup_input_streams (TandemPlan *self)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

	g_return_val_if_fail (TANDEM_IS_PLAN (self), NULL);

	for (guint i = 0; i < self->streams->len; i++) {
		Stream *s = g_ptr_array_index (self->streams, i);

		if (!s->produced)
			g_strv_builder_add (builder, s->name);
	}
	return g_strv_builder_end (builder);
}

/**
 * tandem_plan_dup_query_names:
 * @self: a #TandemPlan
 *
 * Returns: (transfer full): the query names, in plan order
 */
GStrv
tandem_plan_dup_query_names (TandemPlan *self)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

	g_return_val_if_fail (TANDEM_IS_PLAN (self), NULL);

	for (guint i = 0; i < self->queries->len; i++)
		g_strv_builder_add (builder, ((Query *) g_ptr_array_index (self->queries, i))->name);
	return g_strv_builder_end (builder);
}

/**
 * tandem_plan_set_output_func:
 * @self: a #TandemPlan
 * @func: (nullable) (scope notified) (closure user_data) (destroy destroy):
 *   called for every event a query inserts into a stream
 * @user_data: data for @func
 * @destroy: (nullable): frees @user_data
 *
 * Sets where the plan's outputs go.
 */
void
tandem_plan_set_output_func (TandemPlan *self,
			     TandemPlanOutputFunc func,
			     gpointer user_data,
			     GDestroyNotify destroy)
{
	g_return_if_fail (TANDEM_IS_PLAN (self));

	if (self->output_destroy != NULL)
		self->output_destroy (self->output_data);
	self->output_func = func;
	self->output_data = user_data;
	self->output_destroy = destroy;
}

/**
 * tandem_plan_send:
 * @self: a #TandemPlan
 * @stream: the name of the stream the event belongs to
 * @event: the event: one value per attribute of @stream, of its type
 * @error: return location for a #GError
 *
 * Processes @event completely: the clock moves to its timestamp (expiring
 * and flushing time windows first), then every query reading @stream runs,
 * and so on down the chain.  Every output reaches the output function before
 * this returns.
 *
 * Returns: %TRUE if the event was processed; %FALSE with
 *   %TANDEM_ERROR_INVALID_EVENT if @stream is unknown or @event does not
 *   match it (nothing is processed then)
 */
gboolean
tandem_plan_send (TandemPlan *self, const char *stream, TandemEvent *event, GError **error)
{
	Stream *s;
	guint n;
	const guint8 *types;

	g_return_val_if_fail (TANDEM_IS_PLAN (self), FALSE);
	g_return_val_if_fail (stream != NULL, FALSE);
	g_return_val_if_fail (event != NULL, FALSE);

	s = g_hash_table_lookup (self->stream_index, stream);
	if (s == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT, "plan %s has no stream named '%s'",
			     self->name, stream);
		return FALSE;
	}
	n = tandem_stream_definition_get_n_attributes (s->def);
	if (event->n_values != n) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
			     "stream %s has %u attributes, the event has %u values", stream, n, event->n_values);
		return FALSE;
	}
	types = tandem_stream_definition_get_types (s->def);
	for (guint i = 0; i < n; i++) {
		if (TANDEM_VALUE_TYPE (event, i) != types[i]) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     "attribute '%s' of stream %s is a %s, the event has a %s",
				     tandem_stream_definition_get_attribute_name (s->def, i), stream,
				     tandem_attribute_type_to_string (tandem_stream_definition_get_attribute_type (s->def, i)),
				     tandem_attribute_type_to_string (TANDEM_VALUE_TYPE (event, i)));
			return FALSE;
		}
	}
	advance_clock (self, event->timestamp);
	deliver (self, s, event);
	return TRUE;
}

/**
 * tandem_plan_advance_time:
 * @self: a #TandemPlan
 * @timestamp: the event time reached, in milliseconds since the Unix epoch
 *
 * Moves the clock forward without an event (a heartbeat when streams are
 * idle): time windows expire and time batches flush, emitting what they
 * emit.  A timestamp earlier than the clock does nothing.
 */
void
tandem_plan_advance_time (TandemPlan *self, gint64 timestamp)
{
	g_return_if_fail (TANDEM_IS_PLAN (self));
	advance_clock (self, timestamp);
}

/**
 * tandem_plan_get_clock:
 * @self: a #TandemPlan
 *
 * Returns: the plan's event-time clock (0 before the first event)
 */
gint64
tandem_plan_get_clock (TandemPlan *self)
{
	g_return_val_if_fail (TANDEM_IS_PLAN (self), 0);
	return self->clock;
}

/* --- snapshot ------------------------------------------------------------- */

static void
put_u8 (GByteArray *b, guint8 v)
{
	g_byte_array_append (b, &v, 1);
}

static void
put_u32 (GByteArray *b, guint32 v)
{
	guint32 le = GUINT32_TO_LE (v);

	g_byte_array_append (b, (const guint8 *) &le, 4);
}

static void
put_u64 (GByteArray *b, guint64 v)
{
	guint64 le = GUINT64_TO_LE (v);

	g_byte_array_append (b, (const guint8 *) &le, 8);
}

static void
put_bytes (GByteArray *b, const void *data, guint32 len)
{
	put_u32 (b, len);
	g_byte_array_append (b, data, len);
}

static void
put_value (GByteArray *b, const TandemValue *v, TandemAttributeType type)
{
	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		put_u32 (b, (guint32) v->i);
		break;
	case TANDEM_ATTRIBUTE_TYPE_FLOAT: {
		guint32 bits;

		memcpy (&bits, &v->f, 4);
		put_u32 (b, bits);
		break;
	}
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		put_u8 (b, v->b ? 1 : 0);
		break;
	case TANDEM_ATTRIBUTE_TYPE_STRING:
		put_bytes (b, v->s, (guint32) strlen (v->s));
		break;
	case TANDEM_ATTRIBUTE_TYPE_LONG:
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
	default:
		put_u64 (b, (guint64) v->l);
		break;
	}
}

static void
put_event (GByteArray *b, TandemEvent *e)
{
	put_u64 (b, (guint64) e->timestamp);
	put_u32 (b, e->epoch);
	put_u64 (b, e->seq);
	put_u32 (b, e->n_values);
	g_byte_array_append (b, e->types, e->n_values);
	for (guint i = 0; i < e->n_values; i++) {
		if (!TANDEM_VALUE_IS_NULL (e, i))
			put_value (b, &e->values[i], TANDEM_VALUE_TYPE (e, i));
	}
}

static void
put_queue (GByteArray *b, GQueue *queue)
{
	put_u32 (b, queue->length);
	for (GList *l = queue->head; l != NULL; l = l->next)
		put_event (b, l->data);
}

static gboolean
put_tree_entry (gpointer key, gpointer value, gpointer data)
{
	GByteArray *b = ((gpointer *) data)[0];
	AggDef *def = ((gpointer *) data)[1];

	put_value (b, key, def->type);
	put_u64 (b, GPOINTER_TO_SIZE (value));
	return FALSE;
}

static void
put_group (GByteArray *b, Query *q, Group *g)
{
	put_bytes (b, g->key, g->len);
	for (guint a = 0; a < q->n_aggs; a++) {
		AggState *st = &g->aggs[a];

		put_u64 (b, (guint64) st->count);
		put_u64 (b, (guint64) st->lsum);
		put_value (b, (TandemValue *) &st->dsum, TANDEM_ATTRIBUTE_TYPE_DOUBLE);
		put_u64 (b, (guint64) st->ext.l);
		if (st->values != NULL) {
			gpointer data[2] = { b, q->aggs[a] };

			put_u32 (b, (guint32) g_tree_nnodes (st->values));
			g_tree_foreach (st->values, put_tree_entry, data);
		}
	}
}

/**
 * tandem_plan_snapshot:
 * @self: a #TandemPlan
 *
 * Serialises every bit of the plan's state: the clock, window contents,
 * batches, aggregates and groups, in a versioned binary format.  Two plans
 * of the same text fed the same events produce identical snapshots.
 *
 * Returns: (transfer full): the snapshot
 */
GBytes *
tandem_plan_snapshot (TandemPlan *self)
{
	GByteArray *b;

	g_return_val_if_fail (TANDEM_IS_PLAN (self), NULL);

	b = g_byte_array_new ();
	g_byte_array_append (b, (const guint8 *) SNAPSHOT_MAGIC, 8);
	put_u32 (b, SNAPSHOT_VERSION);
	put_u64 (b, self->fingerprint);
	put_u8 (b, self->clock_set);
	put_u64 (b, (guint64) self->clock);
	put_u32 (b, self->queries->len);
	for (guint i = 0; i < self->queries->len; i++) {
		Query *q = g_ptr_array_index (self->queries, i);

		for (guint k = 0; k < q->n_sources; k++) {
			Window *w = &q->sources[k].win;

			put_u8 (b, w->started);
			put_u64 (b, (guint64) w->batch_end);
			put_queue (b, &w->events);
			put_queue (b, &w->expired);
		}
		put_u8 (b, q->started);
		put_u32 (b, q->partials->len);
		for (guint p = 0; p < q->partials->len; p++) {
			Partial *partial = g_ptr_array_index (q->partials, p);

			put_u32 (b, partial->step);
			for (guint k = 0; k < partial->step; k++)
				put_event (b, partial->events[k]);
		}
		put_u8 (b, q->single != NULL);
		if (q->single != NULL)
			put_group (b, q, q->single);
		put_u32 (b, q->group_list->len);
		for (guint g = 0; g < q->group_list->len; g++)
			put_group (b, q, g_ptr_array_index (q->group_list, g));
	}
	return g_byte_array_free_to_bytes (b);
}

typedef struct {
	const guint8 *p;
	const guint8 *end;
	gboolean ok;
} Reader;

static gboolean
get_raw (Reader *r, void *out, gsize len)
{
	if (!r->ok || (gsize) (r->end - r->p) < len) {
		r->ok = FALSE;
		memset (out, 0, len);
		return FALSE;
	}
	memcpy (out, r->p, len);
	r->p += len;
	return TRUE;
}

static guint8
get_u8 (Reader *r)
{
	guint8 v = 0;

	get_raw (r, &v, 1);
	return v;
}

static guint32
get_u32 (Reader *r)
{
	guint32 v = 0;

	get_raw (r, &v, 4);
	return GUINT32_FROM_LE (v);
}

static guint64
get_u64 (Reader *r)
{
	guint64 v = 0;

	get_raw (r, &v, 8);
	return GUINT64_FROM_LE (v);
}

static char *
get_string (Reader *r)
{
	guint32 len = get_u32 (r);
	char *s;

	if (!r->ok || (gsize) (r->end - r->p) < len) {
		r->ok = FALSE;
		return NULL;
	}
	s = g_strndup ((const char *) r->p, len);
	r->p += len;
	if (strlen (s) != len || !g_utf8_validate (s, len, NULL)) {
		r->ok = FALSE;
		g_free (s);
		return NULL;
	}
	return s;
}

static gboolean
get_value (Reader *r, TandemValue *v, TandemAttributeType type)
{
	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		v->i = (gint32) get_u32 (r);
		break;
	case TANDEM_ATTRIBUTE_TYPE_FLOAT: {
		guint32 bits = get_u32 (r);

		memcpy (&v->f, &bits, 4);
		break;
	}
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		v->b = get_u8 (r) != 0;
		break;
	case TANDEM_ATTRIBUTE_TYPE_STRING: {
		g_autofree char *s = get_string (r);

		v->s = s != NULL ? g_ref_string_new (s) : NULL;
		break;
	}
	case TANDEM_ATTRIBUTE_TYPE_LONG:
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
	default:
		v->l = (gint64) get_u64 (r);
		break;
	}
	return r->ok;
}

static TandemEvent *
get_event (Reader *r)
{
	gint64 ts = (gint64) get_u64 (r);
	guint32 epoch = get_u32 (r);
	guint64 seq = get_u64 (r);
	guint32 n = get_u32 (r);
	TandemEvent *e;

	if (!r->ok || n > G_MAXUINT16 || (gsize) (r->end - r->p) < n) {
		r->ok = FALSE;
		return NULL;
	}
	for (guint32 i = 0; i < n; i++) {
		if ((r->p[i] & 0x0f) > TANDEM_ATTRIBUTE_TYPE_STRING || (r->p[i] & 0x70) != 0) {
			r->ok = FALSE;
			return NULL;
		}
	}
	e = tandem_event_new_typed (n, r->p, ts);
	memcpy (e->types, r->p, n);
	r->p += n;
	e->epoch = epoch;
	e->seq = seq;
	for (guint i = 0; i < n; i++) {
		if (!TANDEM_VALUE_IS_NULL (e, i) && !get_value (r, &e->values[i], TANDEM_VALUE_TYPE (e, i))) {
			e->types[i] |= TANDEM_VALUE_NULL; /* nothing to free for this one */
			tandem_event_unref (e);
			return NULL;
		}
	}
	return e;
}

/* A restored event must have exactly the types of its stream: the engine
 * reads values by the types the plan was compiled for. */
static gboolean
event_matches (TandemEvent *e, TandemStreamDefinition *def)
{
	if (e->n_values != tandem_stream_definition_get_n_attributes (def))
		return FALSE;
	for (guint i = 0; i < e->n_values; i++) {
		if (TANDEM_VALUE_TYPE (e, i) != tandem_stream_definition_get_attribute_type (def, i))
			return FALSE;
	}
	return TRUE;
}

static gboolean
get_queue (Reader *r, GQueue *queue, TandemStreamDefinition *def)
{
	guint32 n = get_u32 (r);

	for (guint32 i = 0; r->ok && i < n; i++) {
		TandemEvent *e = get_event (r);

		if (e == NULL)
			return FALSE;
		g_queue_push_tail (queue, e);
		if (!event_matches (e, def))
			r->ok = FALSE;
	}
	return r->ok;
}

static gboolean
get_group_state (Reader *r, Query *q, Group *g)
{
	for (guint a = 0; r->ok && a < q->n_aggs; a++) {
		AggState *st = &g->aggs[a];

		st->count = (gint64) get_u64 (r);
		st->lsum = (gint64) get_u64 (r);
		get_value (r, (TandemValue *) &st->dsum, TANDEM_ATTRIBUTE_TYPE_DOUBLE);
		st->ext.l = (gint64) get_u64 (r);
		if (st->values != NULL) {
			guint32 n = get_u32 (r);

			for (guint32 i = 0; r->ok && i < n; i++) {
				TandemValue v = { 0 };
				guint64 count;

				get_value (r, &v, q->aggs[a]->type);
				count = get_u64 (r);
				if (r->ok && count > 0 && count <= G_MAXINT64)
					tree_add (st->values, &v, (gint64) count);
				else
					r->ok = FALSE;
			}
		}
	}
	return r->ok;
}

static void
query_reset_state (Query *q)
{
	for (guint k = 0; k < q->n_sources; k++) {
		Window *w = &q->sources[k].win;

		queue_clear (&w->events);
		queue_clear (&w->expired);
		w->started = FALSE;
		w->batch_end = 0;
	}
	q->started = FALSE;
	g_ptr_array_set_size (q->partials, 0);
	g_hash_table_remove_all (q->groups);
	for (guint i = 0; i < q->group_list->len; i++)
		group_free (q, g_ptr_array_index (q->group_list, i));
	g_ptr_array_set_size (q->group_list, 0);
	g_ptr_array_set_size (q->batch_groups, 0);
	if (q->single != NULL) {
		group_free (q, q->single);
		q->single = group_new (q, "", 0, 0);
	}
}

/**
 * tandem_plan_restore:
 * @self: a #TandemPlan
 * @snapshot: a snapshot made by tandem_plan_snapshot() of a plan of the same
 *   text
 * @error: return location for a #GError
 *
 * Replaces the whole state of @self with that of @snapshot.  A damaged
 * snapshot, or one of another plan, is refused with
 * %TANDEM_ERROR_INVALID_SNAPSHOT and leaves @self empty (as new).
 *
 * Returns: %TRUE if the state was restored
 */
gboolean
tandem_plan_restore (TandemPlan *self, GBytes *snapshot, GError **error)
{
	gsize size = 0;
	const guint8 *data;
	Reader r;
	char magic[8];
	guint32 version;
	guint64 fp;
	guint32 n_queries;

	g_return_val_if_fail (TANDEM_IS_PLAN (self), FALSE);
	g_return_val_if_fail (snapshot != NULL, FALSE);

	data = g_bytes_get_data (snapshot, &size);
	r.p = data;
	r.end = data + size;
	r.ok = TRUE;
	for (guint i = 0; i < self->queries->len; i++)
		query_reset_state (g_ptr_array_index (self->queries, i));
	self->clock = 0;
	self->clock_set = FALSE;

	get_raw (&r, magic, 8);
	version = get_u32 (&r);
	fp = get_u64 (&r);
	if (!r.ok || memcmp (magic, SNAPSHOT_MAGIC, 8) != 0) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
				     "not a Tandem plan snapshot (bad magic)");
		return FALSE;
	}
	if (version != SNAPSHOT_VERSION) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
			     "plan snapshot format %u is not supported (this Tandem reads format %u)", version,
			     SNAPSHOT_VERSION);
		return FALSE;
	}
	if (fp != self->fingerprint) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
			     "the snapshot belongs to another plan than %s (or another version of it)", self->name);
		return FALSE;
	}
	self->clock_set = get_u8 (&r) != 0;
	self->clock = (gint64) get_u64 (&r);
	n_queries = get_u32 (&r);
	if (r.ok && n_queries != self->queries->len)
		r.ok = FALSE;
	for (guint i = 0; r.ok && i < self->queries->len; i++) {
		Query *q = g_ptr_array_index (self->queries, i);
		guint32 n_groups;
		guint32 n_partials;

		for (guint k = 0; r.ok && k < q->n_sources; k++) {
			Window *w = &q->sources[k].win;
			TandemStreamDefinition *def = q->sources[k].stream->def;

			w->started = get_u8 (&r) != 0;
			w->batch_end = (gint64) get_u64 (&r);
			get_queue (&r, &w->events, def);
			get_queue (&r, &w->expired, def);
		}
		q->started = get_u8 (&r) != 0;
		n_partials = get_u32 (&r);
		for (guint32 p = 0; r.ok && p < n_partials; p++) {
			Partial *partial = g_new0 (Partial, 1);

			g_ptr_array_add (q->partials, partial);
			partial->step = get_u32 (&r);
			if (partial->step == 0 || partial->step >= q->n_sources) {
				r.ok = FALSE;
				break;
			}
			for (guint k = 0; r.ok && k < partial->step; k++) {
				partial->events[k] = get_event (&r);
				if (partial->events[k] == NULL || !event_matches (partial->events[k], q->sources[k].stream->def))
					r.ok = FALSE;
			}
		}
		if (!r.ok)
			break;
		if ((get_u8 (&r) != 0) != (q->single != NULL)) {
			r.ok = FALSE;
			break;
		}
		if (q->single != NULL) {
			g_autofree char *key = get_string (&r);

			if (!get_group_state (&r, q, q->single))
				break;
		}
		n_groups = get_u32 (&r);
		for (guint32 g = 0; r.ok && g < n_groups; g++) {
			guint32 len = get_u32 (&r);
			Group *group;

			if (!r.ok || (gsize) (r.end - r.p) < len) {
				r.ok = FALSE;
				break;
			}
			group = group_new (q, (const char *) r.p, len, (guint) hash_bytes (r.p, len, 0));
			r.p += len;
			if (g_hash_table_contains (q->groups, group)) {
				group_free (q, group);
				r.ok = FALSE;
				break;
			}
			g_ptr_array_add (q->group_list, group);
			g_hash_table_add (q->groups, group);
			get_group_state (&r, q, group);
		}
	}
	if (r.ok && r.p != r.end)
		r.ok = FALSE;
	if (!r.ok) {
		for (guint i = 0; i < self->queries->len; i++)
			query_reset_state (g_ptr_array_index (self->queries, i));
		self->clock = 0;
		self->clock_set = FALSE;
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
				     "the plan snapshot is truncated or damaged");
		return FALSE;
	}
	return TRUE;
}
