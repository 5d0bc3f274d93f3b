/* tandem-gda-writer.c: the worker thread of the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The engine thread queues rows (append blocks while queue_size rows wait:
 * back-pressure, never a drop); this thread takes up to batch_size of them
 * once that many wait, or once the oldest has waited flush_interval, or
 * when someone flushes, and writes them in one transaction: for each table
 * a few multi-row INSERTs, each prepared once per size and reused, then one
 * commit.  A duplicate row (same cluster identity) is a no-op, so a batch
 * can always be written again: after a lost connection the thread
 * reconnects with a growing backoff and writes the whole batch again.  A
 * batch the database keeps refusing with the connection alive is written
 * row by row, and only the rows it refuses are dropped, each with a
 * warning.
 *
 * The same thread refreshes the node registry's heartbeats.
 */
#define G_LOG_DOMAIN "Tandem-gda"

#include <string.h>

#include "tandem-gda-writer.h"

#define RETRY_MIN_MS 100
/* failures of a batch before its tables are opened again (a table or
 * column dropped by hand comes back) */
#define REOPEN_AFTER 2
/* failures of a batch before it is written row by row */
#define ISOLATE_AFTER 4

typedef struct {
	TandemGdaTableKind kind;
	const char *plan;  /* interned */
	const char *query; /* interned */
	TandemStreamDefinition *stream;
	TandemEvent *event;
	TandemEventKind event_kind;
	guint64 input_seq;
	guint index;
	gint64 queued_at;
} Row;

typedef struct {
	TandemGdaTableKind kind;
	const char *plan;
	TandemStreamDefinition *stream;
} RefKey;

typedef enum {
	WRITE_OK,
	WRITE_LOST,   /* the connection is gone */
	WRITE_FAILED, /* the database refused, the connection is fine */
} WriteResult;

struct _TandemGdaWriter {
	TandemGdaWriterConfig config;
	GThread *thread;

	GMutex lock;
	GCond cond;
	GQueue rows;
	guint64 enqueued;
	guint64 done;
	guint flush_requests;
	gboolean stopping;
	gint64 stop_deadline;
	GHashTable *failed;    /* table key -> why its rows are refused */
	GPtrArray *heartbeats; /* node id, instance, node id, instance... */
	TandemGdaWriterStats stats;

	/* the writer thread's */
	GdaConnection *cnc;
	GHashTable *tables; /* table key -> TandemGdaTable */
	GHashTable *by_ref; /* RefKey -> TandemGdaTable */
	TandemGdaStmt *heartbeat;
	gint64 next_heartbeat;
	gboolean outage; /* reconnect attempts are failing */
	gboolean told_duplicates;
	guint outage_attempts;
};

static void
row_free (Row *row)
{
	g_object_unref (row->stream);
	tandem_event_unref (row->event);
	g_free (row);
}

static guint
ref_key_hash (gconstpointer key)
{
	const RefKey *k = key;

	return g_direct_hash (k->stream) ^ g_direct_hash (k->plan) ^ k->kind;
}

static gboolean
ref_key_equal (gconstpointer a, gconstpointer b)
{
	const RefKey *x = a, *y = b;

	return x->kind == y->kind && x->plan == y->plan && x->stream == y->stream;
}

static void
ref_key_free (RefKey *key)
{
	g_object_unref (key->stream);
	g_free (key);
}

/* --- the queue (any thread) -------------------------------------------------- */

static gboolean
check_accepting (TandemGdaWriter *self,
		 TandemGdaTableKind kind,
		 const char *plan,
		 TandemStreamDefinition *stream,
		 GError **error)
{
	const char *why;

	if (self->stopping) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "store %s is stopping",
			     self->config.name);
		return FALSE;
	}
	if (g_hash_table_size (self->failed) > 0) {
		g_autofree char *key = tandem_gda_table_key (kind, plan, stream);

		why = g_hash_table_lookup (self->failed, key);
		if (why != NULL) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "%s", why);
			return FALSE;
		}
	}
	return TRUE;
}

/* Called with the lock held: waits for room, then queues @row. */
static gboolean
push (TandemGdaWriter *self, Row *row, GError **error)
{
	while (self->rows.length >= self->config.queue_size && !self->stopping)
		g_cond_wait (&self->cond, &self->lock);
	if (self->stopping) {
		row_free (row);
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "store %s is stopping",
			     self->config.name);
		return FALSE;
	}
	row->queued_at = g_get_monotonic_time ();
	g_queue_push_tail (&self->rows, row);
	self->enqueued++;
	self->stats.rows_queued++;
	/* wake the writer for a first row (it starts the flush timer) and
	 * for a full batch */
	if (self->rows.length == 1 || self->rows.length == self->config.batch_size)
		g_cond_broadcast (&self->cond);
	return TRUE;
}

gboolean
tandem_gda_writer_append_events (TandemGdaWriter *self,
				 TandemStreamDefinition *stream,
				 GPtrArray *events,
				 GError **error)
{
	gboolean ok = TRUE;

	g_mutex_lock (&self->lock);
	if (!check_accepting (self, TANDEM_GDA_TABLE_EVENTS, NULL, stream, error)) {
		g_mutex_unlock (&self->lock);
		return FALSE;
	}
	for (guint i = 0; ok && i < events->len; i++) {
		Row *row = g_new0 (Row, 1);

		row->kind = TANDEM_GDA_TABLE_EVENTS;
		row->stream = g_object_ref (stream);
		row->event = tandem_event_ref (g_ptr_array_index (events, i));
		ok = push (self, row, error);
	}
	g_mutex_unlock (&self->lock);
	return ok;
}

gboolean
tandem_gda_writer_append_outputs (TandemGdaWriter *self,
				  const TandemStoreOutput *outputs,
				  guint n_outputs,
				  GError **error)
{
	gboolean ok = TRUE;

	g_mutex_lock (&self->lock);
	for (guint i = 0; ok && i < n_outputs; i++) {
		const TandemStoreOutput *out = &outputs[i];
		const char *plan = g_intern_string (out->plan);
		Row *row;

		if (!check_accepting (self, TANDEM_GDA_TABLE_OUTPUTS, plan, out->stream, error)) {
			ok = FALSE;
			break;
		}
		row = g_new0 (Row, 1);
		row->kind = TANDEM_GDA_TABLE_OUTPUTS;
		row->plan = plan;
		row->query = g_intern_string (out->query);
		row->stream = g_object_ref (out->stream);
		row->event = tandem_event_ref (out->event);
		row->event_kind = out->kind;
		row->input_seq = out->input_seq;
		row->index = out->index;
		ok = push (self, row, error);
	}
	g_mutex_unlock (&self->lock);
	return ok;
}

gboolean
tandem_gda_writer_flush (TandemGdaWriter *self, GCancellable *cancellable, GError **error)
{
	guint64 target;
	guint64 dropped;
	gboolean ok = TRUE;

	g_mutex_lock (&self->lock);
	target = self->enqueued;
	dropped = self->stats.rows_dropped;
	self->flush_requests++;
	g_cond_broadcast (&self->cond);
	while (self->done < target) {
		if (g_cancellable_set_error_if_cancelled (cancellable, error)) {
			ok = FALSE;
			break;
		}
		g_cond_wait_until (&self->cond, &self->lock,
				   g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND);
	}
	self->flush_requests--;
	if (ok && self->stats.rows_dropped > dropped) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "store %s: %" G_GUINT64_FORMAT
			     " row(s) could not be written (see the log)",
			     self->config.name, self->stats.rows_dropped - dropped);
		ok = FALSE;
	}
	g_mutex_unlock (&self->lock);
	return ok;
}

void
tandem_gda_writer_add_heartbeat (TandemGdaWriter *self, const char *node_id, const char *instance)
{
	g_mutex_lock (&self->lock);
	for (guint i = 0; i < self->heartbeats->len; i += 2) {
		if (g_str_equal (g_ptr_array_index (self->heartbeats, i), node_id)) {
			g_free (self->heartbeats->pdata[i + 1]);
			self->heartbeats->pdata[i + 1] = g_strdup (instance);
			g_mutex_unlock (&self->lock);
			return;
		}
	}
	g_ptr_array_add (self->heartbeats, g_strdup (node_id));
	g_ptr_array_add (self->heartbeats, g_strdup (instance));
	g_mutex_unlock (&self->lock);
}

void
tandem_gda_writer_get_stats (TandemGdaWriter *self, TandemGdaWriterStats *stats)
{
	g_mutex_lock (&self->lock);
	*stats = self->stats;
	g_mutex_unlock (&self->lock);
}

/* --- the writer thread -------------------------------------------------------- */

/* Sleeps up to @ms; shorter when stopping and the shutdown deadline comes
 * first. */
static void
pause_ms (TandemGdaWriter *self, guint ms)
{
	gint64 until = g_get_monotonic_time () + (gint64) ms * G_TIME_SPAN_MILLISECOND;

	g_mutex_lock (&self->lock);
	for (;;) {
		gint64 end = self->stopping ? MIN (until, self->stop_deadline) : until;

		if (g_get_monotonic_time () >= end)
			break;
		g_cond_wait_until (&self->cond, &self->lock, end);
	}
	g_mutex_unlock (&self->lock);
}

static gboolean
giving_up (TandemGdaWriter *self)
{
	gboolean give_up;

	g_mutex_lock (&self->lock);
	give_up = self->stopping && g_get_monotonic_time () >= self->stop_deadline;
	g_mutex_unlock (&self->lock);
	return give_up;
}

static void
forget_tables (TandemGdaWriter *self)
{
	g_hash_table_remove_all (self->by_ref);
	g_hash_table_remove_all (self->tables);
}

static void
drop_connection (TandemGdaWriter *self)
{
	if (self->cnc == NULL)
		return;
	gda_connection_close (self->cnc);
	g_clear_object (&self->cnc);
}

static gboolean
ensure_connection (TandemGdaWriter *self)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *what = NULL;

	if (self->cnc != NULL)
		return TRUE;
	self->cnc = tandem_gda_open (&self->config.params, TANDEM_GDA_SESSION_WRITE, &error);
	if (self->cnc == NULL) {
		if (!self->outage)
			g_warning ("[store.%s]: %s; retrying (at most every %u ms)",
				   self->config.name, error->message,
				   self->config.retry_max_interval_ms);
		else
			g_debug ("[store.%s]: %s", self->config.name, error->message);
		self->outage = TRUE;
		self->outage_attempts++;
		return FALSE;
	}
	what = tandem_gda_describe (&self->config.params);
	g_message ("[store.%s]: reconnected to %s", self->config.name, what);
	self->outage = FALSE;
	self->outage_attempts = 0;
	g_mutex_lock (&self->lock);
	self->stats.reconnects++;
	g_mutex_unlock (&self->lock);
	return TRUE;
}

static void
rollback_quietly (TandemGdaWriter *self)
{
	if (self->cnc != NULL && gda_connection_get_transaction_status (self->cnc) != NULL)
		gda_connection_rollback_transaction (self->cnc, NULL, NULL);
}

/* The table of @row, opened (created, migrated) the first time. */
static TandemGdaTable *
resolve (TandemGdaWriter *self, Row *row, GError **error)
{
	RefKey probe = { row->kind, row->plan, row->stream };
	TandemGdaTable *table = g_hash_table_lookup (self->by_ref, &probe);
	g_autofree char *key = NULL;
	RefKey *ref;

	if (table != NULL)
		return table;
	key = tandem_gda_table_key (row->kind, row->plan, row->stream);
	table = g_hash_table_lookup (self->tables, key);
	if (table == NULL) {
		table = tandem_gda_table_open (self->cnc, self->config.params.provider, row->kind,
					       row->plan, row->stream, self->config.batch_size,
					       error);
		if (table == NULL)
			return NULL;
		g_hash_table_insert (self->tables, g_steal_pointer (&key), table);
	}
	ref = g_new (RefKey, 1);
	*ref = probe;
	g_object_ref (ref->stream);
	g_hash_table_insert (self->by_ref, ref, table);
	return table;
}

static void
bind_row (TandemGdaWriter *self, TandemGdaTable *table, TandemGdaStmt *stmt, guint base, Row *row)
{
	TandemEvent *event = row->event;
	guint n = tandem_stream_definition_get_n_attributes (table->stream);
	guint p = base;

	if (row->kind == TANDEM_GDA_TABLE_EVENTS) {
		tandem_gda_stmt_set_long (stmt, p++, tandem_event_get_epoch (event));
		tandem_gda_stmt_set_long (stmt, p++, (gint64) tandem_event_get_seq (event));
		tandem_gda_stmt_set_long (stmt, p++, tandem_event_get_timestamp (event));
		tandem_gda_stmt_set_string (stmt, p++, self->config.node_id);
	} else {
		tandem_gda_stmt_set_string (stmt, p++, row->plan);
		tandem_gda_stmt_set_string (stmt, p++, row->query);
		tandem_gda_stmt_set_long (stmt, p++, (gint64) row->input_seq);
		tandem_gda_stmt_set_int (stmt, p++, (gint32) row->index);
		tandem_gda_stmt_set_string (stmt, p++,
					    row->event_kind == TANDEM_EVENT_KIND_CURRENT
						    ? "current"
						    : "expired");
		tandem_gda_stmt_set_long (stmt, p++, tandem_event_get_timestamp (event));
		tandem_gda_stmt_set_string (stmt, p++, self->config.node_id);
	}
	for (guint i = 0; i < n; i++, p++) {
		if (i >= tandem_event_get_n_values (event) || tandem_event_is_null (event, i)) {
			tandem_gda_stmt_set_null (stmt, p);
			continue;
		}
		switch (tandem_stream_definition_get_attribute_type (table->stream, i)) {
		case TANDEM_ATTRIBUTE_TYPE_INT:
			tandem_gda_stmt_set_int (stmt, p, tandem_event_get_int (event, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_LONG:
			tandem_gda_stmt_set_long (stmt, p, tandem_event_get_long (event, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_FLOAT:
			tandem_gda_stmt_set_float (stmt, p, tandem_event_get_float (event, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
			tandem_gda_stmt_set_double (stmt, p, tandem_event_get_double (event, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_BOOL:
			tandem_gda_stmt_set_bool (stmt, p, tandem_event_get_bool (event, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_STRING:
			tandem_gda_stmt_set_string (stmt, p, tandem_event_get_string (event, i));
			break;
		default:
			tandem_gda_stmt_set_null (stmt, p);
		}
	}
}

/* Inserts @n rows of @rows from @first with one statement. */
static gboolean
insert_chunk (TandemGdaWriter *self,
	      TandemGdaTable *table,
	      GPtrArray *rows,
	      guint first,
	      guint n,
	      guint64 *changed,
	      GError **error)
{
	TandemGdaStmt *stmt = tandem_gda_table_get_insert (table, n, error);
	gint count;

	if (stmt == NULL)
		return FALSE;
	for (guint r = 0; r < n; r++)
		bind_row (self, table, stmt, r * table->n_columns,
			  g_ptr_array_index (rows, first + r));
	count = tandem_gda_stmt_exec (self->cnc, stmt, error);
	if (count < 0) {
		g_prefix_error (error, "table %s: ", table->name);
		return FALSE;
	}
	*changed += (guint) count;
	return TRUE;
}

/* Inserts all @rows (of one table): full statements, then the rest in
 * statements of power-of-two sizes, so that a table needs few of them. */
static gboolean
insert_rows (TandemGdaWriter *self,
	     TandemGdaTable *table,
	     GPtrArray *rows,
	     guint64 *changed,
	     GError **error)
{
	guint off = 0;
	guint rest;

	while (rows->len - off >= table->rows_per_stmt) {
		if (!insert_chunk (self, table, rows, off, table->rows_per_stmt, changed, error))
			return FALSE;
		off += table->rows_per_stmt;
	}
	rest = rows->len - off;
	for (guint size = 1u << g_bit_storage (table->rows_per_stmt); size > 0; size >>= 1) {
		if (rest & size) {
			if (!insert_chunk (self, table, rows, off, size, changed, error))
				return FALSE;
			off += size;
		}
	}
	return TRUE;
}

static WriteResult
classify (TandemGdaWriter *self)
{
	rollback_quietly (self);
	return tandem_gda_ping (self->cnc) ? WRITE_FAILED : WRITE_LOST;
}

static void
note_dropped (TandemGdaWriter *self, GPtrArray *rows, const char *why)
{
	Row *first = g_ptr_array_index (rows, 0);

	if (first->kind == TANDEM_GDA_TABLE_EVENTS)
		g_warning (
			"[store.%s]: dropped %u event(s) of stream %s from seq %" G_GUINT64_FORMAT
			": %s",
			self->config.name, rows->len,
			tandem_stream_definition_get_id (first->stream),
			tandem_event_get_seq (first->event), why);
	else
		g_warning (
			"[store.%s]: dropped %u output(s) of plan %s, stream %s, from input seq %" G_GUINT64_FORMAT
			": %s",
			self->config.name, rows->len, first->plan,
			tandem_stream_definition_get_id (first->stream), first->input_seq, why);
	g_mutex_lock (&self->lock);
	self->stats.rows_dropped += rows->len;
	g_mutex_unlock (&self->lock);
}

/* Writes @rows in one transaction.  Rows of a table that cannot be opened
 * for good (a definition the table cannot take) are dropped, and their
 * stream refused from then on. */
static WriteResult
try_write (TandemGdaWriter *self, GPtrArray *rows, GError **error)
{
	g_autoptr (GPtrArray) tables = g_ptr_array_new ();
	g_autoptr (GPtrArray) groups =
		g_ptr_array_new_with_free_func ((GDestroyNotify) g_ptr_array_unref);
	g_autoptr (GPtrArray) refused = g_ptr_array_new ();
	g_autofree char *why = NULL;
	TandemGdaTable *table = NULL;
	GPtrArray *group = NULL;
	Row *prev = NULL;
	guint64 changed = 0;
	guint n_rows = 0;

	/* open the tables outside the transaction: MySQL commits DDL */
	for (guint i = 0; i < rows->len; i++) {
		Row *row = g_ptr_array_index (rows, i);

		if (prev == NULL || row->stream != prev->stream || row->plan != prev->plan ||
		    row->kind != prev->kind) {
			g_autoptr (GError) local_error = NULL;
			g_autofree char *key =
				tandem_gda_table_key (row->kind, row->plan, row->stream);
			const char *failed;
			guint k;

			prev = NULL;
			g_mutex_lock (&self->lock);
			failed = g_hash_table_lookup (self->failed, key);
			if (failed != NULL && why == NULL)
				why = g_strdup (failed);
			g_mutex_unlock (&self->lock);
			if (failed != NULL) {
				g_ptr_array_add (refused, row);
				continue;
			}
			table = resolve (self, row, &local_error);
			if (table == NULL) {
				if (!g_error_matches (local_error, TANDEM_ERROR,
						      TANDEM_ERROR_INVALID_CONFIG)) {
					g_propagate_error (error, g_steal_pointer (&local_error));
					return classify (self);
				}
				/* refused for good: the stream's next rows are
				 * refused at once */
				g_warning ("[store.%s]: %s", self->config.name,
					   local_error->message);
				g_mutex_lock (&self->lock);
				g_hash_table_insert (self->failed, g_steal_pointer (&key),
						     g_strdup (local_error->message));
				g_mutex_unlock (&self->lock);
				if (why == NULL)
					why = g_strdup (local_error->message);
				g_ptr_array_add (refused, row);
				continue;
			}
			for (k = 0; k < tables->len && tables->pdata[k] != table; k++)
				;
			if (k == tables->len) {
				g_ptr_array_add (tables, table);
				g_ptr_array_add (groups, g_ptr_array_new ());
			}
			group = g_ptr_array_index (groups, k);
		}
		prev = row;
		g_ptr_array_add (group, row);
		n_rows++;
	}
	if (n_rows == 0) {
		if (refused->len > 0)
			note_dropped (self, refused, why);
		return WRITE_OK;
	}

	if (!gda_connection_begin_transaction (self->cnc, NULL, GDA_TRANSACTION_ISOLATION_UNKNOWN,
					       error))
		return classify (self);
	for (guint k = 0; k < tables->len; k++) {
		if (!insert_rows (self, g_ptr_array_index (tables, k),
				  g_ptr_array_index (groups, k), &changed, error))
			return classify (self);
	}
	if (!gda_connection_commit_transaction (self->cnc, NULL, error))
		return classify (self);

	if (changed < n_rows && !self->told_duplicates) {
		/* normal after a retry or a failover; said once, because it is
		 * also what a node whose sequence started again would see */
		g_message ("[store.%s]: %" G_GUINT64_FORMAT
			   " row(s) were already in the database and are "
			   "left as they are (rows are keyed by their cluster sequence)",
			   self->config.name, n_rows - changed);
		self->told_duplicates = TRUE;
	}
	g_mutex_lock (&self->lock);
	self->stats.rows_written += MIN (changed, n_rows);
	self->stats.rows_duplicate += n_rows - MIN (changed, n_rows);
	self->stats.batches++;
	g_mutex_unlock (&self->lock);
	/* dropped once the rest is written: a batch written again would
	 * count them twice */
	if (refused->len > 0)
		note_dropped (self, refused, why);
	return WRITE_OK;
}

static void write_rows (TandemGdaWriter *self, GPtrArray *rows, gboolean isolate);

static void
write_one_by_one (TandemGdaWriter *self, GPtrArray *rows)
{
	for (guint i = 0; i < rows->len; i++) {
		g_autoptr (GPtrArray) one = g_ptr_array_new ();

		g_ptr_array_add (one, g_ptr_array_index (rows, i));
		write_rows (self, one, FALSE);
	}
}

/* Writes @rows, whatever it takes: reconnects and retries while the
 * connection is lost, retries a refused batch, then writes it row by row
 * (@isolate) so that only the rows the database refuses are dropped. */
static void
write_rows (TandemGdaWriter *self, GPtrArray *rows, gboolean isolate)
{
	guint backoff = RETRY_MIN_MS;
	guint failures = 0;

	for (;;) {
		g_autoptr (GError) error = NULL;
		WriteResult result;

		if (giving_up (self)) {
			note_dropped (self, rows,
				      "the store stopped while the database was unavailable");
			return;
		}
		if (!ensure_connection (self)) {
			pause_ms (self, backoff);
			backoff = MIN (backoff * 2, self->config.retry_max_interval_ms);
			continue;
		}
		result = try_write (self, rows, &error);
		if (result == WRITE_OK)
			return;
		if (result == WRITE_LOST) {
			g_autofree char *what = tandem_gda_describe (&self->config.params);

			g_warning ("[store.%s]: lost the connection to %s (%s); reconnecting",
				   self->config.name, what,
				   error != NULL ? error->message : "no detail");
			drop_connection (self);
			forget_tables (self);
			self->outage = TRUE;
			continue;
		}
		failures++;
		g_debug ("[store.%s]: write failed (%u): %s", self->config.name, failures,
			 error->message);
		if (failures == REOPEN_AFTER)
			forget_tables (self);
		if (failures < ISOLATE_AFTER) {
			pause_ms (self, backoff);
			backoff = MIN (backoff * 2, self->config.retry_max_interval_ms);
			continue;
		}
		if (isolate && rows->len > 1) {
			g_warning (
				"[store.%s]: a batch of %u rows keeps failing (%s); writing it row by row",
				self->config.name, rows->len, error->message);
			write_one_by_one (self, rows);
		} else {
			note_dropped (self, rows, error->message);
		}
		return;
	}
}

static void
heartbeat (TandemGdaWriter *self)
{
	g_autoptr (GPtrArray) beats = g_ptr_array_new_with_free_func (g_free);

	g_mutex_lock (&self->lock);
	for (guint i = 0; i < self->heartbeats->len; i++)
		g_ptr_array_add (beats, g_strdup (g_ptr_array_index (self->heartbeats, i)));
	g_mutex_unlock (&self->lock);

	if (beats->len == 0 || !ensure_connection (self))
		return;
	if (self->heartbeat == NULL) {
		g_autoptr (GError) error = NULL;

		self->heartbeat =
			tandem_gda_schema_node_heartbeat (self->config.params.provider, &error);
		if (self->heartbeat == NULL) {
			g_warning ("[store.%s]: %s", self->config.name, error->message);
			return;
		}
	}
	for (guint i = 0; i < beats->len; i += 2) {
		g_autoptr (GError) error = NULL;
		gint n;

		tandem_gda_stmt_set_string (self->heartbeat, 0, g_ptr_array_index (beats, i));
		tandem_gda_stmt_set_string (self->heartbeat, 1, g_ptr_array_index (beats, i + 1));
		n = tandem_gda_stmt_exec (self->cnc, self->heartbeat, &error);
		if (n < 0) {
			g_debug ("[store.%s]: heartbeat: %s", self->config.name, error->message);
			if (!tandem_gda_ping (self->cnc)) {
				drop_connection (self);
				forget_tables (self);
			}
			return;
		}
		if (n == 0)
			g_warning (
				"[store.%s]: node id %s is registered by another instance now (this one was not "
				"seen for too long)",
				self->config.name, (const char *) g_ptr_array_index (beats, i));
	}
}

static gpointer
writer_thread (gpointer data)
{
	TandemGdaWriter *self = data;
	gint64 interval = (gint64) self->config.flush_interval_ms * G_TIME_SPAN_MILLISECOND;
	gint64 beat = (gint64) self->config.heartbeat_interval_ms * G_TIME_SPAN_MILLISECOND;

	self->next_heartbeat = g_get_monotonic_time () + beat;
	g_mutex_lock (&self->lock);
	for (;;) {
		gint64 now = g_get_monotonic_time ();
		gint64 wake = now + G_TIME_SPAN_SECOND;
		Row *head = g_queue_peek_head (&self->rows);

		if (head != NULL) {
			gint64 due = head->queued_at + interval;

			if (self->rows.length >= self->config.batch_size ||
			    self->flush_requests > 0 || self->stopping || now >= due) {
				g_autoptr (GPtrArray) batch =
					g_ptr_array_new_with_free_func ((GDestroyNotify) row_free);

				while (batch->len < self->config.batch_size &&
				       !g_queue_is_empty (&self->rows))
					g_ptr_array_add (batch, g_queue_pop_head (&self->rows));
				/* room again for the engine thread */
				g_cond_broadcast (&self->cond);
				g_mutex_unlock (&self->lock);
				write_rows (self, batch, TRUE);
				g_mutex_lock (&self->lock);
				self->done += batch->len;
				g_cond_broadcast (&self->cond);
				continue;
			}
			wake = MIN (wake, due);
		} else if (self->stopping) {
			break;
		}
		if (beat > 0 && self->heartbeats->len > 0) {
			if (now >= self->next_heartbeat) {
				self->next_heartbeat = now + beat;
				g_mutex_unlock (&self->lock);
				heartbeat (self);
				g_mutex_lock (&self->lock);
				continue;
			}
			wake = MIN (wake, self->next_heartbeat);
		}
		g_cond_wait_until (&self->cond, &self->lock, wake);
	}
	g_mutex_unlock (&self->lock);
	return NULL;
}

TandemGdaWriter *
tandem_gda_writer_start (const TandemGdaWriterConfig *config,
			 GdaConnection *cnc,
			 GHashTable *tables)
{
	TandemGdaWriter *self = g_new0 (TandemGdaWriter, 1);

	tandem_gda_params_copy (&self->config.params, &config->params);
	self->config.name = g_strdup (config->name);
	self->config.node_id = g_strdup (config->node_id);
	self->config.batch_size = MAX (config->batch_size, 1);
	self->config.flush_interval_ms = config->flush_interval_ms;
	self->config.queue_size = MAX (config->queue_size, 1);
	self->config.retry_max_interval_ms = MAX (config->retry_max_interval_ms, RETRY_MIN_MS);
	self->config.shutdown_timeout_ms = config->shutdown_timeout_ms;
	self->config.heartbeat_interval_ms = config->heartbeat_interval_ms;
	g_mutex_init (&self->lock);
	g_cond_init (&self->cond);
	g_queue_init (&self->rows);
	self->failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
	self->heartbeats = g_ptr_array_new_with_free_func (g_free);
	self->cnc = cnc;
	self->tables = g_hash_table_ref (tables);
	self->by_ref = g_hash_table_new_full (ref_key_hash, ref_key_equal,
					      (GDestroyNotify) ref_key_free, NULL);
	self->thread = g_thread_new ("tandem-gda-writer", writer_thread, self);
	return self;
}

void
tandem_gda_writer_stop (TandemGdaWriter *self)
{
	TandemGdaWriterStats stats;

	g_mutex_lock (&self->lock);
	self->stopping = TRUE;
	self->stop_deadline = g_get_monotonic_time () +
			      (gint64) self->config.shutdown_timeout_ms * G_TIME_SPAN_MILLISECOND;
	g_cond_broadcast (&self->cond);
	g_mutex_unlock (&self->lock);
	g_thread_join (self->thread);

	stats = self->stats;
	g_info ("[store.%s]: %" G_GUINT64_FORMAT " row(s) written, %" G_GUINT64_FORMAT
		" already there, %" G_GUINT64_FORMAT " dropped, in %" G_GUINT64_FORMAT
		" batch(es); %" G_GUINT64_FORMAT " reconnection(s)",
		self->config.name, stats.rows_written, stats.rows_duplicate, stats.rows_dropped,
		stats.batches, stats.reconnects);
	g_clear_pointer (&self->heartbeat, tandem_gda_stmt_free);
	g_hash_table_unref (self->by_ref);
	g_hash_table_unref (self->tables);
	drop_connection (self);
	g_queue_clear_full (&self->rows, (GDestroyNotify) row_free);
	g_hash_table_unref (self->failed);
	g_ptr_array_unref (self->heartbeats);
	g_mutex_clear (&self->lock);
	g_cond_clear (&self->cond);
	tandem_gda_params_clear (&self->config.params);
	g_free (self->config.name);
	g_free (self->config.node_id);
	g_free (self);
}
