/* tandem-pipeline.c: the node's sequenced ingest and its engine thread
 *
 * Receivers hand batches to tandem_pipeline_ingest() on the main thread:
 * each event gets its cluster identity (epoch, seq) and the batch enters a
 * bounded queue, all or nothing.  One engine thread takes batches in order
 * and runs them through every plan reading their stream, so that plan
 * processing stays single-threaded and deterministic while the main loop
 * keeps serving sockets.  When the queue is full, ingest refuses (the
 * receivers answer 503 or stop reading) and the node pauses its receivers
 * until the engine has drained half of it.
 *
 * Waking the engine costs a futex call on the main thread and a context
 * switch (on a small machine, often taking the main thread's core), so it
 * is done only when the engine sleeps, and, for batches accepted while the
 * main loop dispatches, once per main loop iteration: the wake source's
 * prepare(), which runs before the loop polls again, wakes it for all the
 * small batches queued meanwhile (a call that waits for the engine, or
 * reads its progress, wakes it first).  The engine signals the threads
 * waiting for it only when there are some.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Engine"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include <glib/gstdio.h>

#include "tandem-error.h"
#include "tandem-event-private.h"
#include "tandem-pipeline.h"
#include "tandem-store.h"

typedef struct {
	TandemStreamDefinition *def;
	GPtrArray *plans; /* plans reading the stream (borrowed) */
} StreamEntry;

typedef struct _EngineTask EngineTask;

typedef struct {
	char *stream;
	GPtrArray *events;
	EngineTask *task; /* persistence, state sync: work to run between batches */
} Batch;

typedef struct {
	GSource source;
	TandemPipeline *pipeline;
} WakeSource;

typedef struct {
	char *key;
	guint64 first_seq;
	guint n;
	gint64 expires;
} Remembered;

/* What one batch publishes (raw events for the event stores, outputs, the
 * output log's lines), held until it may go out: a node publishes only what
 * its lease allows, and, with HA replication, only what the passive holds
 * too (its input seq is at most the release seq) */
typedef struct {
	guint64 last_seq;
	StreamEntry *entry; /* borrowed */
	GPtrArray *events;
	GArray *outputs; /* of TandemStoreOutput */
	GString *log;
} Pending;

struct _TandemPipeline {
	/* configuration */
	GPtrArray *plans;      /* of TandemPlan */
	GHashTable *streams;   /* name -> StreamEntry */
	char *output_log_path;
	guint queue_size;
	guint idempotency_window_s;
	guint idempotency_max_keys;

	/* ingest (main thread) */
	guint32 epoch;
	guint64 next_seq;
	/* the last seq of the events the plans' state includes (or that wait
	 * for the engine): below next_seq after a restart, whose sequence
	 * continues above the block the previous run reserved */
	guint64 held_seq;
	guint64 reserved_seq; /* sequence numbers below this are reserved on disk */
	char *sequence_path;
	GHashTable *remembered; /* key -> Remembered (request keys and event ids) */
	GQueue remembered_order;
	gint pressure_signalled; /* atomic: set on the main thread, read by the engine */
	TandemPipelinePressureFunc pressure;
	gpointer pressure_data;
	GMainContext *main_context;

	/* shared with the engine thread */
	GMutex lock;
	GCond cond;
	GQueue batches;
	guint queued_events;
	gboolean busy;
	gboolean stopping;
	GThread *thread;
	GSource *relieve_source;
	GSource *wake_source;    /* main context: wakes the engine between iterations */
	gboolean engine_waiting; /* the engine sleeps in g_cond_wait () */
	gint wake_pending;       /* atomic, set under lock: batches queued, engine not woken yet */
	guint watchers;          /* other threads waiting on cond for the engine's progress */
	guint64 processed;
	guint64 last_seq;

	/* engine thread only */
	FILE *output_log;
	guint64 current_seq;
	/* HA: outputs are published while g_get_monotonic_time () is below
	 * this (G_MAXINT64 for a node without HA) */
	gint64 publish_until_us;
	guint current_index;  /* outputs so far of the input being processed */
	GPtrArray *stores;    /* of TandemStore */
	Pending *current;     /* what the batch being run publishes */
	GQueue pending;       /* of Pending, oldest first */

	/* HA, under lock: what may be published, what may be forgotten */
	guint64 release_seq;   /* publish what has input seq <= this */
	guint64 discard_seq;   /* forget (never publish) what has input seq <= this */
	guint64 published_seq; /* everything up to this is published or forgotten */
	guint64 held_events;   /* events whose outputs wait in pending */
	GCond published_cond;  /* published_seq moved, for published_waiters */
	guint published_waiters;

	/* HA: accepted batches go to the replicator (main thread) */
	TandemPipelineReplicateFunc replicate;
	gpointer replicate_data;
};

static void pending_free (Pending *p);
static gboolean reserve_sequence (TandemPipeline *self, guint64 up_to, GError **error);

/* sequence numbers reserved on disk at a time */
#define SEQUENCE_BLOCK TANDEM_SEQUENCE_BLOCK

/* a batch queued while the main loop dispatches wakes the sleeping engine
 * at once when this many events wait (large batches: let the engine work
 * beside the main thread), else at the end of the loop iteration */
#define WAKE_AT_ONCE_EVENTS 128

static void
stream_entry_free (StreamEntry *e)
{
	g_object_unref (e->def);
	g_ptr_array_unref (e->plans);
	g_free (e);
}

static void
batch_free (Batch *b)
{
	g_free (b->stream);
	g_ptr_array_unref (b->events);
	g_free (b);
}

static void
remembered_free (Remembered *r)
{
	g_free (r->key);
	g_free (r);
}

TandemPipeline *
tandem_pipeline_new (void)
{
	TandemPipeline *self = g_new0 (TandemPipeline, 1);

	self->plans = g_ptr_array_new_with_free_func (g_object_unref);
	self->streams = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) stream_entry_free);
	self->remembered = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) remembered_free);
	self->queue_size = 100000;
	self->idempotency_window_s = 300;
	self->idempotency_max_keys = 100000;
	self->epoch = 1;
	self->publish_until_us = G_MAXINT64;
	self->release_seq = G_MAXUINT64;
	self->next_seq = 1;
	self->stores = g_ptr_array_new_with_free_func (g_object_unref);
	g_mutex_init (&self->lock);
	g_cond_init (&self->cond);
	g_cond_init (&self->published_cond);
	return self;
}

void
tandem_pipeline_free (TandemPipeline *self)
{
	if (self == NULL)
		return;
	tandem_pipeline_stop (self);
	g_queue_clear_full (&self->batches, (GDestroyNotify) batch_free);
	g_queue_clear (&self->remembered_order);
	g_hash_table_unref (self->remembered);
	g_hash_table_unref (self->streams);
	g_ptr_array_unref (self->plans);
	g_ptr_array_unref (self->stores);
	g_queue_clear_full (&self->pending, (GDestroyNotify) pending_free);
	g_free (self->output_log_path);
	g_free (self->sequence_path);
	g_clear_pointer (&self->main_context, g_main_context_unref);
	g_mutex_clear (&self->lock);
	g_cond_clear (&self->cond);
	g_cond_clear (&self->published_cond);
	g_free (self);
}

/* --- configuration -------------------------------------------------------- */

static GParamSpec *
key_spec (guint i)
{
	static GParamSpec *specs[6];

	if (specs[0] == NULL) {
		specs[0] = g_param_spec_boxed ("plans", NULL, NULL, G_TYPE_STRV, G_PARAM_READWRITE);
		specs[1] = g_param_spec_boxed ("streams", NULL, NULL, G_TYPE_STRV, G_PARAM_READWRITE);
		specs[2] = g_param_spec_string ("output_log", NULL, NULL, NULL, G_PARAM_READWRITE);
		specs[3] = g_param_spec_uint ("queue_size", NULL, NULL, 1, 100000000, 100000, G_PARAM_READWRITE);
		specs[4] = g_param_spec_uint ("idempotency_window", NULL, NULL, 0, 86400, 300, G_PARAM_READWRITE);
		specs[5] = g_param_spec_uint ("idempotency_max_keys", NULL, NULL, 0, 100000000, 100000, G_PARAM_READWRITE);
	}
	return specs[i];
}

static int
compare_paths (gconstpointer a, gconstpointer b)
{
	return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Files named by a list key: each entry a file, or a directory whose files
 * ending in @suffix are taken in name order. */
static GPtrArray *
expand_files (TandemConfigSection *section, const char *key, GStrv entries, const char *suffix, GString *errors)
{
	GPtrArray *files = g_ptr_array_new_with_free_func (g_free);

	for (guint i = 0; entries != NULL && entries[i] != NULL; i++) {
		g_autoptr(GDir) dir = NULL;
		g_autoptr(GPtrArray) names = NULL;
		g_autoptr(GError) error = NULL;
		const char *name;

		if (!g_file_test (entries[i], G_FILE_TEST_IS_DIR)) {
			if (!g_file_test (entries[i], G_FILE_TEST_EXISTS)) {
				g_autofree char *where = tandem_config_section_describe_key (section, key);

				g_string_append_printf (errors, "%s: %s does not exist\n", where, entries[i]);
				continue;
			}
			g_ptr_array_add (files, g_strdup (entries[i]));
			continue;
		}
		dir = g_dir_open (entries[i], 0, &error);
		if (dir == NULL) {
			g_autofree char *where = tandem_config_section_describe_key (section, key);

			g_string_append_printf (errors, "%s: %s\n", where, error->message);
			continue;
		}
		names = g_ptr_array_new_with_free_func (g_free);
		while ((name = g_dir_read_name (dir)) != NULL) {
			if (name[0] != '.' && g_str_has_suffix (name, suffix))
				g_ptr_array_add (names, g_build_filename (entries[i], name, NULL));
		}
		g_ptr_array_sort (names, compare_paths);
		for (guint k = 0; k < names->len; k++)
			g_ptr_array_add (files, g_strdup (g_ptr_array_index (names, k)));
	}
	return files;
}

static gboolean
register_stream (TandemPipeline *self, TandemStreamDefinition *def, TandemPlan *plan, GString *errors, const char *where)
{
	const char *name = tandem_stream_definition_get_name (def);
	StreamEntry *entry = g_hash_table_lookup (self->streams, name);

	if (entry == NULL) {
		entry = g_new0 (StreamEntry, 1);
		entry->def = g_object_ref (def);
		entry->plans = g_ptr_array_new ();
		g_hash_table_insert (self->streams, g_strdup (name), entry);
	} else if (!tandem_stream_definition_equal (entry->def, def)) {
		g_autofree char *a = tandem_stream_definition_to_siddhi (entry->def);
		g_autofree char *b = tandem_stream_definition_to_siddhi (def);

		g_string_append_printf (errors, "%s: stream %s is defined two ways: %s and %s\n", where, name, a, b);
		return FALSE;
	}
	if (plan != NULL)
		g_ptr_array_add (entry->plans, plan);
	return TRUE;
}

void
tandem_pipeline_configure (TandemPipeline *self, TandemConfigSection *section, GString *errors)
{
	GValue values[6] = { G_VALUE_INIT };
	g_autoptr(GPtrArray) stream_files = NULL;
	g_autoptr(GPtrArray) plan_files = NULL;
	g_autoptr(GPtrArray) external = g_ptr_array_new_with_free_func (g_object_unref);
	gboolean ok = TRUE;

	if (section == NULL)
		return;
	for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
		g_autoptr(GError) error = NULL;

		if (!tandem_config_section_lookup (section, key_spec (i), &values[i], &error)) {
			g_string_append_printf (errors, "%s\n", error->message);
			ok = FALSE;
		}
	}
	if (ok) {
		self->output_log_path = g_value_dup_string (&values[2]);
		self->queue_size = g_value_get_uint (&values[3]);
		self->idempotency_window_s = g_value_get_uint (&values[4]);
		self->idempotency_max_keys = g_value_get_uint (&values[5]);
		stream_files = expand_files (section, "streams", g_value_get_boxed (&values[1]), ".json", errors);
		plan_files = expand_files (section, "plans", g_value_get_boxed (&values[0]), ".siddhiql", errors);
	}
	for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
		if (G_IS_VALUE (&values[i]))
			g_value_unset (&values[i]);
	}
	if (!ok)
		return;

	for (guint i = 0; i < stream_files->len; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree char *where = tandem_config_section_describe_key (section, "streams");
		TandemStreamDefinition *def = tandem_stream_definition_new_from_file (g_ptr_array_index (stream_files, i), &error);

		if (def == NULL) {
			g_string_append_printf (errors, "%s: %s\n", where, error->message);
			continue;
		}
		g_ptr_array_add (external, def);
		register_stream (self, def, NULL, errors, where);
	}
	for (guint i = 0; i < plan_files->len; i++) {
		const char *path = g_ptr_array_index (plan_files, i);
		g_autofree char *where = tandem_config_section_describe_key (section, "plans");
		g_autofree char *text = NULL;
		gsize length = 0;
		g_autoptr(GError) error = NULL;
		g_autoptr(TandemPlan) plan = NULL;
		g_auto(GStrv) inputs = NULL;

		if (!g_file_get_contents (path, &text, &length, &error)) {
			g_string_append_printf (errors, "%s: %s\n", where, error->message);
			continue;
		}
		plan = tandem_plan_new_with_streams (text, (gssize) length, external, &error);
		if (plan == NULL) {
			/* the engine's message starts with line:column */
			g_string_append_printf (errors, "%s:%s\n", path, error->message);
			continue;
		}
		for (guint k = 0; k < self->plans->len; k++) {
			if (g_strcmp0 (tandem_plan_get_name (g_ptr_array_index (self->plans, k)), tandem_plan_get_name (plan)) == 0) {
				g_string_append_printf (errors, "%s: two plans are named '%s'\n", path, tandem_plan_get_name (plan));
				plan = NULL;
				break;
			}
		}
		if (plan == NULL)
			continue;
		inputs = tandem_plan_dup_input_streams (plan);
		for (guint k = 0; inputs[k] != NULL; k++)
			register_stream (self, tandem_plan_lookup_stream (plan, inputs[k]), plan, errors, path);
		g_ptr_array_add (self->plans, g_steal_pointer (&plan));
	}
}

/* --- the engine thread ---------------------------------------------------- */

static void
write_output (TandemPlan *plan, const char *query, const char *stream, TandemEventKind kind, TandemEvent *event, gpointer user_data)
{
	TandemPipeline *self = user_data;
	g_autofree char *data = NULL;

	if (self->current == NULL)
		return;
	if (self->stores->len > 0) {
		TandemStoreOutput out = {
			.plan = tandem_plan_get_name (plan),
			.query = query,
			.stream = tandem_plan_lookup_stream (plan, stream),
			.kind = kind,
			.input_seq = self->current_seq,
			.index = self->current_index,
			.event = tandem_event_ref (event),
		};

		g_array_append_val (self->current->outputs, out);
	}
	self->current_index++;
	if (self->output_log == NULL)
		return;
	data = tandem_event_values_to_json (event);
	/* names are identifiers: they need no JSON escaping */
	g_string_append_printf (self->current->log,
		 "{\"plan\":\"%s\",\"query\":\"%s\",\"stream\":\"%s\",\"kind\":\"%s\",\"timestamp\":%" G_GINT64_FORMAT
		 ",\"seq\":%" G_GUINT64_FORMAT ",\"data\":%s}\n",
		 tandem_plan_get_name (plan), query, stream,
		 kind == TANDEM_EVENT_KIND_CURRENT ? "current" : "expired", event->timestamp,
		 self->current_seq, data);
}

static gboolean
relieve_pressure (gpointer data)
{
	TandemPipeline *self = data;

	g_mutex_lock (&self->lock);
	g_clear_pointer (&self->relieve_source, g_source_unref);
	g_mutex_unlock (&self->lock);
	if (g_atomic_int_get (&self->pressure_signalled)) {
		g_atomic_int_set (&self->pressure_signalled, FALSE);
		if (self->pressure != NULL)
			self->pressure (FALSE, self->pressure_data);
	}
	return G_SOURCE_REMOVE;
}

static void
pending_free (Pending *p)
{
	if (p->events != NULL)
		g_ptr_array_unref (p->events);
	for (guint i = 0; i < p->outputs->len; i++)
		tandem_event_unref (g_array_index (p->outputs, TandemStoreOutput, i).event);
	g_array_unref (p->outputs);
	g_string_free (p->log, TRUE);
	g_free (p);
}

/* A batch's lines to the output log, then its raw events and the outputs
 * it produced to every store keeping them.  The log comes first: whatever
 * the stores committed is in the log too, even after a kill -9 (the log may
 * hold the lines of a few events the stores never got).  A store's append
 * blocks while its queue is full: the engine then slows down, the ingest
 * queue fills, and the receivers stop taking events; nothing is dropped. */
static void
publish (TandemPipeline *self, Pending *p)
{
	if (self->output_log != NULL && p->log->len > 0) {
		fwrite (p->log->str, 1, p->log->len, self->output_log);
		fflush (self->output_log);
	}
	for (guint i = 0; i < self->stores->len; i++) {
		TandemStore *store = g_ptr_array_index (self->stores, i);
		TandemStoreRole role = tandem_store_get_role (store);
		g_autoptr(GError) error = NULL;

		if ((role & TANDEM_STORE_ROLE_EVENTS) && p->entry != NULL && p->events != NULL &&
		    !tandem_store_append_events (store, p->entry->def, p->events, &error)) {
			g_warning ("[store.%s]: cannot keep events: %s", tandem_plugin_get_name (TANDEM_PLUGIN (store)),
				   error->message);
			g_clear_error (&error);
		}
		if ((role & TANDEM_STORE_ROLE_OUTPUTS) && p->outputs->len > 0 &&
		    !tandem_store_append_outputs (store, (const TandemStoreOutput *) (gpointer) p->outputs->data,
						  p->outputs->len, &error)) {
			g_warning ("[store.%s]: cannot keep outputs: %s", tandem_plugin_get_name (TANDEM_PLUGIN (store)),
				   error->message);
		}
	}
}

/* The engine thread, with the lock held: tell the threads waiting for the
 * engine's progress (wait_idle, run_on_engine) that it made some.  Nobody
 * else waits on cond but the engine itself. */
static void
notify_watchers (TandemPipeline *self)
{
	if (self->watchers > 0)
		g_cond_broadcast (&self->cond);
}

/* With the lock held: wake the engine if batches queued for it wait for
 * its wake-up (a cheap no-op otherwise).  Any thread. */
static void
wake_engine_locked (TandemPipeline *self)
{
	if (!g_atomic_int_get (&self->wake_pending))
		return;
	g_atomic_int_set (&self->wake_pending, FALSE);
	if (!self->engine_waiting)
		return;
	/* told: it looks at the queue before it sleeps again */
	self->engine_waiting = FALSE;
	/* a signal could wake a watcher instead of the engine */
	if (self->watchers > 0)
		g_cond_broadcast (&self->cond);
	else
		g_cond_signal (&self->cond);
}

/* The main thread, with the lock held, after queueing a batch: wake the
 * engine if it sleeps; when the main loop is dispatching, at the end of
 * this loop iteration (the wake source), so that the batches of every
 * request it serves in the iteration take one wake-up. */
static void
queued_batch_locked (TandemPipeline *self)
{
	GSource *current;

	if (!self->engine_waiting)
		return; /* it takes the batch before it sleeps again */
	g_atomic_int_set (&self->wake_pending, TRUE);
	current = g_main_current_source ();
	if (self->wake_source != NULL && self->queued_events < WAKE_AT_ONCE_EVENTS &&
	    current != NULL && g_source_get_context (current) == self->main_context)
		return;
	wake_engine_locked (self);
}

static gboolean
wake_source_prepare (GSource *source, gint *timeout)
{
	TandemPipeline *self = ((WakeSource *) source)->pipeline;

	*timeout = -1;
	if (g_atomic_int_get (&self->wake_pending)) {
		g_mutex_lock (&self->lock);
		wake_engine_locked (self);
		g_mutex_unlock (&self->lock);
	}
	return FALSE;
}

static gboolean
wake_source_check (GSource *source)
{
	return FALSE;
}

static gboolean
wake_source_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs wake_source_funcs = {
	.prepare = wake_source_prepare,
	.check = wake_source_check,
	.dispatch = wake_source_dispatch,
};

/* Publishes what may go out and forgets what was discarded, oldest first;
 * called on the engine thread with the lock held (it drops it while it
 * writes). */
static void
publish_ready (TandemPipeline *self)
{
	Pending *p;

	while ((p = g_queue_peek_head (&self->pending)) != NULL) {
		gboolean discard = p->last_seq <= self->discard_seq;

		if (!discard && (p->last_seq > self->release_seq ||
				 g_get_monotonic_time () >= __atomic_load_n (&self->publish_until_us, __ATOMIC_ACQUIRE)))
			break;
		g_queue_pop_head (&self->pending);
		g_mutex_unlock (&self->lock);
		if (!discard)
			publish (self, p);
		g_mutex_lock (&self->lock);
		self->held_events -= MIN (self->held_events, p->events != NULL ? p->events->len : 0);
		self->published_seq = MAX (self->published_seq, p->last_seq);
		pending_free (p);
		notify_watchers (self);
	}
	if (g_queue_is_empty (&self->pending))
		self->published_seq = MAX (self->published_seq, self->last_seq);
	if (self->published_waiters > 0)
		g_cond_broadcast (&self->published_cond);
}

static gboolean
can_publish_head (TandemPipeline *self)
{
	Pending *p = g_queue_peek_head (&self->pending);

	if (p == NULL)
		return FALSE;
	if (p->last_seq <= self->discard_seq)
		return TRUE;
	return p->last_seq <= self->release_seq &&
	       g_get_monotonic_time () < __atomic_load_n (&self->publish_until_us, __ATOMIC_ACQUIRE);
}

static void run_engine_task (TandemPipeline *self, Batch *batch);

static gpointer
engine_thread (gpointer data)
{
	TandemPipeline *self = data;

	for (;;) {
		Batch *batch;
		StreamEntry *entry;
		gboolean relieve;
		guint64 first = 0;

		g_mutex_lock (&self->lock);
		for (;;) {
			publish_ready (self);
			if (!g_queue_is_empty (&self->batches) || self->stopping)
				break;
			/* a lease deadline passing needs no wake-up: nothing
			 * becomes publishable by it */
			if (!can_publish_head (self)) {
				self->engine_waiting = TRUE;
				g_cond_wait (&self->cond, &self->lock);
				self->engine_waiting = FALSE;
				g_atomic_int_set (&self->wake_pending, FALSE);
			}
		}
		batch = g_queue_pop_head (&self->batches);
		if (batch == NULL) {
			guint n = 0;

			for (GList *l = self->pending.head; l != NULL; l = l->next)
				n += ((Pending *) l->data)->events != NULL ? ((Pending *) l->data)->events->len : 0;
			if (n > 0)
				g_message ("The outputs of %u events were not published: this node was not "
					   "active, or its passive did not confirm them",
					   n);
			g_mutex_unlock (&self->lock);
			break;
		}
		if (batch->task != NULL) {
			/* a snapshot, restore or replay (see the end of the file) */
			run_engine_task (self, batch);
			continue;
		}
		self->busy = TRUE;
		g_mutex_unlock (&self->lock);

		entry = g_hash_table_lookup (self->streams, batch->stream);
		if (self->stores->len > 0 || self->output_log != NULL) {
			self->current = g_new0 (Pending, 1);
			self->current->entry = entry;
			self->current->events = g_ptr_array_ref (batch->events);
			self->current->outputs = g_array_new (FALSE, FALSE, sizeof (TandemStoreOutput));
			self->current->log = g_string_new (NULL);
		}
		for (guint i = 0; i < batch->events->len; i++) {
			TandemEvent *event = g_ptr_array_index (batch->events, i);

			if (i == 0)
				first = event->seq;
			self->current_seq = event->seq;
			self->current_index = 0;
			for (guint p = 0; entry != NULL && p < entry->plans->len; p++) {
				g_autoptr(GError) error = NULL;

				if (!tandem_plan_send (g_ptr_array_index (entry->plans, p), batch->stream, event, &error))
					g_warning ("seq %" G_GUINT64_FORMAT ": %s", event->seq, error->message);
			}
		}
		(void) first;

		g_mutex_lock (&self->lock);
		if (self->current != NULL) {
			self->current->last_seq = self->current_seq;
			self->held_events += batch->events->len;
			g_queue_push_tail (&self->pending, self->current);
			self->current = NULL;
		}
		self->queued_events -= batch->events->len;
		self->processed += batch->events->len;
		self->last_seq = self->current_seq;
		/* published before the batch counts as done (wait_idle) */
		publish_ready (self);
		self->busy = FALSE;
		relieve = self->queued_events <= self->queue_size / 2;
		/* tell the main thread, once, that there is room again */
		if (relieve && g_atomic_int_get (&self->pressure_signalled) && self->relieve_source == NULL &&
		    self->main_context != NULL) {
			self->relieve_source = g_idle_source_new ();
			g_source_set_callback (self->relieve_source, relieve_pressure, self, NULL);
			g_source_attach (self->relieve_source, self->main_context);
		}
		notify_watchers (self);
		g_mutex_unlock (&self->lock);
		batch_free (batch);
	}
	return NULL;
}

gboolean
tandem_pipeline_start (TandemPipeline *self,
		       GPtrArray *stores,
		       TandemPipelinePressureFunc pressure,
		       gpointer user_data,
		       GError **error)
{
	g_return_val_if_fail (self->thread == NULL, FALSE);

	g_ptr_array_set_size (self->stores, 0);
	for (guint i = 0; stores != NULL && i < stores->len; i++)
		g_ptr_array_add (self->stores, g_object_ref (g_ptr_array_index (stores, i)));
	if (self->output_log_path != NULL) {
		int fd = g_open (self->output_log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

		if (fd < 0) {
			int saved = errno;

			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "cannot open the output log %s: %s",
				     self->output_log_path, g_strerror (saved));
			return FALSE;
		}
		self->output_log = fdopen (fd, "a");
	}
	for (guint i = 0; i < self->plans->len; i++) {
		TandemPlan *plan = g_ptr_array_index (self->plans, i);
		g_auto(GStrv) inputs = tandem_plan_dup_input_streams (plan);
		g_auto(GStrv) queries = tandem_plan_dup_query_names (plan);
		g_autofree char *list = g_strjoinv (", ", inputs);

		tandem_plan_set_output_func (plan, write_output, self, NULL);
		g_message ("Plan %s deployed: %u quer%s reading %s", tandem_plan_get_name (plan),
			   g_strv_length (queries), g_strv_length (queries) == 1 ? "y" : "ies",
			   *list != '\0' ? list : "no stream");
	}
	self->pressure = pressure;
	self->pressure_data = user_data;
	self->main_context = g_main_context_ref_thread_default ();
	self->stopping = FALSE;
	/* first in the context: its prepare() runs on every iteration */
	self->wake_source = g_source_new (&wake_source_funcs, sizeof (WakeSource));
	((WakeSource *) self->wake_source)->pipeline = self;
	g_source_set_priority (self->wake_source, G_MININT);
	g_source_set_name (self->wake_source, "tandem engine wake-up");
	g_source_attach (self->wake_source, self->main_context);
	self->thread = g_thread_new ("tandem-engine", engine_thread, self);
	return TRUE;
}

/* Processes everything queued, then stops the engine thread. */
void
tandem_pipeline_stop (TandemPipeline *self)
{
	if (self->thread == NULL)
		return;
	g_mutex_lock (&self->lock);
	self->stopping = TRUE;
	g_cond_broadcast (&self->cond);
	g_mutex_unlock (&self->lock);
	g_thread_join (self->thread);
	self->thread = NULL;
	if (self->wake_source != NULL) {
		g_source_destroy (self->wake_source);
		g_clear_pointer (&self->wake_source, g_source_unref);
	}
	g_mutex_lock (&self->lock);
	g_atomic_int_set (&self->wake_pending, FALSE);
	if (self->relieve_source != NULL) {
		g_source_destroy (self->relieve_source);
		g_clear_pointer (&self->relieve_source, g_source_unref);
	}
	g_mutex_unlock (&self->lock);
	if (self->output_log != NULL) {
		fclose (self->output_log);
		self->output_log = NULL;
	}
}

void
tandem_pipeline_wait_idle (TandemPipeline *self)
{
	g_mutex_lock (&self->lock);
	wake_engine_locked (self);
	self->watchers++;
	while (self->thread != NULL && (!g_queue_is_empty (&self->batches) || self->busy))
		g_cond_wait (&self->cond, &self->lock);
	self->watchers--;
	g_mutex_unlock (&self->lock);
}

guint64
tandem_pipeline_get_processed (TandemPipeline *self)
{
	guint64 n;

	g_mutex_lock (&self->lock);
	wake_engine_locked (self);
	n = self->processed;
	g_mutex_unlock (&self->lock);
	return n;
}

/* The last seq of the events this node holds: those its plans' state
 * includes (restored, replayed, run) or that wait for the engine.  Its
 * next seq may be further on: after a restart the sequence continues above
 * the block the previous run reserved.  Main thread. */
guint64
tandem_pipeline_get_last_seq (TandemPipeline *self)
{
	return self->held_seq;
}

GPtrArray *
tandem_pipeline_get_plans (TandemPipeline *self)
{
	return self->plans;
}

TandemStreamDefinition *
tandem_pipeline_lookup_stream (TandemPipeline *self, const char *name)
{
	g_autofree char *base = NULL;
	const char *colon = strchr (name, ':');
	StreamEntry *entry;

	if (colon != NULL)
		base = g_strndup (name, colon - name);
	entry = g_hash_table_lookup (self->streams, base != NULL ? base : name);
	if (entry == NULL)
		return NULL;
	if (colon != NULL && g_strcmp0 (colon + 1, tandem_stream_definition_get_version (entry->def)) != 0)
		return NULL;
	return entry->def;
}

/* HA: outputs and raw events go to the output log and the stores only
 * while g_get_monotonic_time () < @until_us */
void
tandem_pipeline_set_publish_until (TandemPipeline *self, gint64 until_us)
{
	g_mutex_lock (&self->lock);
	__atomic_store_n (&self->publish_until_us, until_us, __ATOMIC_RELEASE);
	g_cond_broadcast (&self->cond);
	g_mutex_unlock (&self->lock);
}

/* HA: outputs of input seq <= @seq may be published (G_MAXUINT64: all) */
void
tandem_pipeline_set_release_seq (TandemPipeline *self, guint64 seq)
{
	g_mutex_lock (&self->lock);
	if (seq != self->release_seq) {
		self->release_seq = seq;
		g_cond_broadcast (&self->cond);
	}
	g_mutex_unlock (&self->lock);
}

/* HA: outputs of input seq <= @seq are never published here (the active
 * published them; or this node lost its role) */
void
tandem_pipeline_discard_through (TandemPipeline *self, guint64 seq)
{
	g_mutex_lock (&self->lock);
	if (seq > self->discard_seq) {
		self->discard_seq = seq;
		g_cond_broadcast (&self->cond);
	}
	g_mutex_unlock (&self->lock);
}

/* Waits (at most until @end_time, g_get_monotonic_time()) until the
 * engine published past @after (a spurious or early wake-up returns
 * sooner); returns the published seq.  Any thread but the engine's. */
guint64
tandem_pipeline_wait_published (TandemPipeline *self, guint64 after, gint64 end_time)
{
	guint64 seq;

	g_mutex_lock (&self->lock);
	wake_engine_locked (self);
	self->published_waiters++;
	if (self->published_seq <= after)
		g_cond_wait_until (&self->published_cond, &self->lock, end_time);
	self->published_waiters--;
	seq = self->published_seq;
	g_mutex_unlock (&self->lock);
	return seq;
}

/* Wakes tandem_pipeline_wait_published() early (its caller stops) */
void
tandem_pipeline_wake_published (TandemPipeline *self)
{
	g_mutex_lock (&self->lock);
	g_cond_broadcast (&self->published_cond);
	g_mutex_unlock (&self->lock);
}

/* Everything with input seq <= the result was published (or discarded) */
guint64
tandem_pipeline_get_published_seq (TandemPipeline *self)
{
	guint64 seq;

	g_mutex_lock (&self->lock);
	wake_engine_locked (self);
	seq = self->published_seq;
	g_mutex_unlock (&self->lock);
	return seq;
}

void
tandem_pipeline_set_replicator (TandemPipeline *self, TandemPipelineReplicateFunc func, gpointer data)
{
	self->replicate = func;
	self->replicate_data = data;
}

/* The seq the next accepted event gets */
guint64
tandem_pipeline_get_next_seq (TandemPipeline *self)
{
	return self->next_seq;
}

/* No event gets a seq at or above this before it is reserved on disk */
guint64
tandem_pipeline_get_reserved_seq (TandemPipeline *self)
{
	return self->reserved_seq;
}

/* HA: a node taking over continues the cluster's sequence after @seq (the
 * last event it holds); the sequence file keeps it above that */
gboolean
tandem_pipeline_continue_after (TandemPipeline *self, guint64 seq, GError **error)
{
	if (self->sequence_path != NULL && seq + 1 > self->reserved_seq &&
	    !reserve_sequence (self, seq + 1 + SEQUENCE_BLOCK, error))
		return FALSE;
	/* never lower: seqs a previous run may have given out stay unused */
	self->next_seq = MAX (self->next_seq, seq + 1);
	/* what is discarded is below the new sequence: the events to come
	 * are not */
	g_mutex_lock (&self->lock);
	self->discard_seq = MIN (self->discard_seq, seq);
	g_mutex_unlock (&self->lock);
	return TRUE;
}

void
tandem_pipeline_set_epoch (TandemPipeline *self, guint32 epoch)
{
	self->epoch = epoch;
}

guint32
tandem_pipeline_get_incarnation (TandemPipeline *self)
{
	return self->epoch;
}

gboolean
tandem_pipeline_is_accepting (TandemPipeline *self)
{
	gboolean ok;

	g_mutex_lock (&self->lock);
	ok = self->thread != NULL && !self->stopping && !g_atomic_int_get (&self->pressure_signalled);
	g_mutex_unlock (&self->lock);
	return ok;
}

/* --- the sequence --------------------------------------------------------- */

/* Sequence numbers are reserved on disk in blocks before they are given out,
 * so that a restarted node never gives the same number twice (a store keys
 * events by it): after a crash it continues from the end of the last
 * reserved block.  Each start is a new epoch. */

static gboolean
reserve_sequence (TandemPipeline *self, guint64 up_to, GError **error)
{
	g_autofree char *text = NULL;
	g_autoptr(GError) local_error = NULL;

	text = g_strdup_printf ("%u %" G_GUINT64_FORMAT "\n", self->epoch, up_to);
	if (!g_file_set_contents_full (self->sequence_path, text, -1,
				       G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644,
				       &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR, "cannot reserve sequence numbers: %s",
			     local_error->message);
		return FALSE;
	}
	self->reserved_seq = up_to;
	return TRUE;
}

gboolean
tandem_pipeline_open_sequence (TandemPipeline *self, const char *state_dir, GError **error)
{
	g_autofree char *contents = NULL;
	g_autoptr(GError) local_error = NULL;
	guint64 epoch = 0;
	guint64 next = 1;

	g_free (self->sequence_path);
	self->sequence_path = g_build_filename (state_dir, "sequence", NULL);
	if (g_file_get_contents (self->sequence_path, &contents, NULL, &local_error)) {
		g_auto(GStrv) parts = g_strsplit (g_strstrip (contents), " ", -1);

		if (g_strv_length (parts) != 2 ||
		    !g_ascii_string_to_unsigned (parts[0], 10, 0, G_MAXUINT32 - 1, &epoch, NULL) ||
		    !g_ascii_string_to_unsigned (parts[1], 10, 1, G_MAXUINT64 / 2, &next, NULL)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR,
				     "%s: damaged (expected \"EPOCH NEXT-SEQ\"); it must not be edited or removed: "
				     "restore it from a backup", self->sequence_path);
			return FALSE;
		}
	} else if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR, "%s", local_error->message);
		return FALSE;
	}
	self->epoch = (guint32) epoch + 1;
	self->next_seq = next;
	return reserve_sequence (self, next + SEQUENCE_BLOCK, error);
}

/* --- ingest --------------------------------------------------------------- */

/* Main thread: tell the node, once, that the queue is full; the engine
 * thread relieves it when half is processed. */
static void
signal_pressure (TandemPipeline *self)
{
	if (g_atomic_int_get (&self->pressure_signalled))
		return;
	g_atomic_int_set (&self->pressure_signalled, TRUE);
	if (self->pressure != NULL)
		self->pressure (TRUE, self->pressure_data);
}

static void
forget_expired (TandemPipeline *self)
{
	gint64 now = g_get_monotonic_time ();
	Remembered *r;

	while ((r = g_queue_peek_head (&self->remembered_order)) != NULL &&
	       (r->expires <= now || self->remembered_order.length > self->idempotency_max_keys)) {
		g_queue_pop_head (&self->remembered_order);
		g_hash_table_remove (self->remembered, r->key);
	}
}

static void
remember (TandemPipeline *self, const char *key, guint64 first_seq, guint n)
{
	Remembered *r;

	if (self->idempotency_window_s == 0 || self->idempotency_max_keys == 0)
		return;
	r = g_new0 (Remembered, 1);
	r->key = g_strdup (key);
	r->first_seq = first_seq;
	r->n = n;
	r->expires = g_get_monotonic_time () + (gint64) self->idempotency_window_s * G_USEC_PER_SEC;
	if (g_hash_table_contains (self->remembered, key)) {
		remembered_free (r);
		return;
	}
	g_hash_table_insert (self->remembered, r->key, r);
	g_queue_push_tail (&self->remembered_order, r);
	forget_expired (self);
}

/*
 * HA state sync: the request keys and event ids remembered now, oldest
 * first, each with the seq it was given, its count of events and how long
 * it is remembered still.  Main thread.
 */
void
tandem_pipeline_foreach_remembered (TandemPipeline *self, TandemPipelineRememberedFunc func, gpointer user_data)
{
	gint64 now = g_get_monotonic_time ();

	forget_expired (self);
	for (GList *l = self->remembered_order.head; l != NULL; l = l->next) {
		Remembered *r = l->data;

		func (r->key, r->first_seq, r->n, MAX (r->expires - now, 0), user_data);
	}
}

/* HA state sync: remembers what the active remembered (see
 * tandem_pipeline_foreach_remembered()); a key known already is kept as it
 * is.  Main thread. */
void
tandem_pipeline_remember (TandemPipeline *self, const char *key, guint64 first_seq, guint n, gint64 remaining_us)
{
	Remembered *r;

	if (self->idempotency_window_s == 0 || self->idempotency_max_keys == 0 || remaining_us <= 0 ||
	    g_hash_table_contains (self->remembered, key))
		return;
	remember (self, key, first_seq, n);
	r = g_hash_table_lookup (self->remembered, key);
	if (r != NULL)
		r->expires = g_get_monotonic_time () +
			     MIN (remaining_us, (gint64) self->idempotency_window_s * G_USEC_PER_SEC);
}

/*
 * Accepts @events into the sequenced ingest, all or nothing, and returns the
 * sequence of the first one.  A repeated @idempotency_key (a whole request)
 * or event id (one event) within the idempotency window is acknowledged
 * again with its original sequence and not ingested twice.
 */
gboolean
tandem_pipeline_ingest (TandemPipeline *self,
			const char *stream,
			GPtrArray *events,
			const char *const *event_ids,
			const char *idempotency_key,
			guint64 *first_seq,
			guint *n_new,
			GError **error)
{
	g_autofree char *request_key = NULL;
	g_autoptr(GPtrArray) fresh = NULL;
	g_autoptr(GPtrArray) fresh_ids = NULL;
	TandemStreamDefinition *def = tandem_pipeline_lookup_stream (self, stream);
	const char *name;
	guint64 first = 0;
	gboolean have_first = FALSE;
	gboolean full;
	Remembered *seen;
	Batch *batch;

	if (def == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT, "no stream named '%s'", stream);
		return FALSE;
	}
	name = tandem_stream_definition_get_name (def);
	for (guint i = 0; i < events->len; i++) {
		TandemEvent *event = g_ptr_array_index (events, i);
		guint n = tandem_stream_definition_get_n_attributes (def);
		gboolean ok = event->n_values == n;

		for (guint k = 0; ok && k < n; k++)
			ok = TANDEM_VALUE_TYPE (event, k) == tandem_stream_definition_get_attribute_type (def, k);
		if (!ok) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     "event %u does not match stream %s", i, tandem_stream_definition_get_id (def));
			return FALSE;
		}
	}
	forget_expired (self);
	if (idempotency_key != NULL) {
		request_key = g_strconcat ("r:", name, ":", idempotency_key, NULL);
		seen = g_hash_table_lookup (self->remembered, request_key);
		if (seen != NULL) {
			*first_seq = seen->first_seq;
			*n_new = 0;
			return TRUE;
		}
	}

	g_mutex_lock (&self->lock);
	if (self->thread == NULL || self->stopping) {
		g_mutex_unlock (&self->lock);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is not accepting events");
		return FALSE;
	}
	if (self->queued_events + events->len > self->queue_size && self->queued_events > 0) {
		g_mutex_unlock (&self->lock);
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY,
			     "the ingest queue is full (%u events waiting for the engine)", self->queue_size);
		signal_pressure (self);
		return FALSE;
	}
	g_mutex_unlock (&self->lock);

	if (self->sequence_path != NULL && self->next_seq + events->len > self->reserved_seq &&
	    !reserve_sequence (self, self->next_seq + events->len + SEQUENCE_BLOCK, error))
		return FALSE;
	fresh = g_ptr_array_new_full (events->len, (GDestroyNotify) tandem_event_unref);
	if (self->replicate != NULL)
		fresh_ids = g_ptr_array_new_full (events->len + 1, NULL);
	for (guint i = 0; i < events->len; i++) {
		TandemEvent *event = g_ptr_array_index (events, i);
		const char *id = event_ids != NULL ? event_ids[i] : NULL;
		g_autofree char *event_key = NULL;

		if (id != NULL && *id != '\0') {
			event_key = g_strconcat ("e:", name, ":", id, NULL);
			seen = g_hash_table_lookup (self->remembered, event_key);
			if (seen != NULL) {
				if (!have_first) {
					first = seen->first_seq;
					have_first = TRUE;
				}
				continue;
			}
		}
		tandem_event_set_identity (event, self->epoch, self->next_seq);
		if (!have_first) {
			first = self->next_seq;
			have_first = TRUE;
		}
		if (event_key != NULL)
			remember (self, event_key, self->next_seq, 1);
		self->held_seq = self->next_seq;
		self->next_seq++;
		g_ptr_array_add (fresh, tandem_event_ref (event));
		if (fresh_ids != NULL)
			g_ptr_array_add (fresh_ids, (gpointer) (id != NULL ? id : ""));
	}
	if (!have_first)
		first = self->next_seq;
	if (request_key != NULL)
		remember (self, request_key, first, events->len);
	*first_seq = first;
	*n_new = fresh->len;
	if (fresh->len == 0)
		return TRUE;
	if (self->replicate != NULL) {
		g_ptr_array_add (fresh_ids, NULL);
		self->replicate (name, fresh, (const char *const *) fresh_ids->pdata, idempotency_key,
				 self->replicate_data);
	}

	batch = g_new0 (Batch, 1);
	batch->stream = g_strdup (name);
	batch->events = g_steal_pointer (&fresh);
	g_mutex_lock (&self->lock);
	self->queued_events += batch->events->len;
	full = self->queued_events >= self->queue_size;
	g_queue_push_tail (&self->batches, batch);
	queued_batch_locked (self);
	g_mutex_unlock (&self->lock);
	/* the queue is full now: pause the receivers before anyone is refused */
	if (full)
		signal_pressure (self);
	return TRUE;
}

static gboolean
event_fits (TandemStreamDefinition *def, TandemEvent *event)
{
	guint n = tandem_stream_definition_get_n_attributes (def);

	if (event->n_values != n)
		return FALSE;
	for (guint k = 0; k < n; k++) {
		if (TANDEM_VALUE_TYPE (event, k) != tandem_stream_definition_get_attribute_type (def, k))
			return FALSE;
	}
	return TRUE;
}

/*
 * HA: takes events the active sequenced (they carry their identity) into
 * this passive node's ingest, in order: @prev_seq, the event the active
 * sequenced just before them, must be one this node holds (its sequence
 * may jump; events it holds already, seen again after a reconnection, are
 * skipped).  Their ids and the request's key are remembered, so that a
 * client retrying after a takeover is acknowledged and not ingested twice.
 * The ingest queue's bound does not apply: the active bounds what it sends.
 */
gboolean
tandem_pipeline_apply (TandemPipeline *self,
		       guint64 prev_seq,
		       const char *stream,
		       GPtrArray *events,
		       const char *const *event_ids,
		       const char *idempotency_key,
		       GError **error)
{
	TandemStreamDefinition *def = tandem_pipeline_lookup_stream (self, stream);
	g_autoptr(GPtrArray) fresh = NULL;
	const char *name;
	guint64 first_new = 0;
	Batch *batch;

	if (def == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT, "no stream named '%s'", stream);
		return FALSE;
	}
	name = tandem_stream_definition_get_name (def);
	fresh = g_ptr_array_new_full (events->len, (GDestroyNotify) tandem_event_unref);
	for (guint i = 0; i < events->len; i++) {
		TandemEvent *event = g_ptr_array_index (events, i);
		const char *id = event_ids != NULL ? event_ids[i] : NULL;

		if (event->seq <= self->held_seq)
			continue;
		/* the first new one follows what this node holds, the others
		 * follow each other */
		if (fresh->len == 0 ? prev_seq > self->held_seq : event->seq != self->held_seq + 1) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "replicated events skip from seq %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
				     fresh->len == 0 ? prev_seq : self->held_seq, event->seq);
			return FALSE;
		}
		if (!event_fits (def, event)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     "replicated event %" G_GUINT64_FORMAT " does not match stream %s", event->seq,
				     tandem_stream_definition_get_id (def));
			return FALSE;
		}
		if (fresh->len == 0)
			first_new = event->seq;
		if (id != NULL && *id != '\0') {
			g_autofree char *event_key = g_strconcat ("e:", name, ":", id, NULL);

			remember (self, event_key, event->seq, 1);
		}
		self->next_seq = MAX (self->next_seq, event->seq + 1);
		self->held_seq = event->seq;
		g_ptr_array_add (fresh, tandem_event_ref (event));
	}
	if (fresh->len == 0)
		return TRUE;
	if (idempotency_key != NULL && *idempotency_key != '\0') {
		g_autofree char *request_key = g_strconcat ("r:", name, ":", idempotency_key, NULL);

		remember (self, request_key, first_new, fresh->len);
	}
	if (self->sequence_path != NULL && self->next_seq > self->reserved_seq &&
	    !reserve_sequence (self, self->next_seq + SEQUENCE_BLOCK, error))
		return FALSE;
	g_mutex_lock (&self->lock);
	if (self->thread == NULL || self->stopping) {
		g_mutex_unlock (&self->lock);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is stopping");
		return FALSE;
	}
	batch = g_new0 (Batch, 1);
	batch->stream = g_strdup (name);
	batch->events = g_steal_pointer (&fresh);
	self->queued_events += batch->events->len;
	g_queue_push_tail (&self->batches, batch);
	queued_batch_locked (self);
	g_mutex_unlock (&self->lock);
	return TRUE;
}

/* Events waiting for the engine, and events whose outputs wait to be
 * published */
void
tandem_pipeline_get_backlog (TandemPipeline *self, guint *queued, guint64 *held)
{
	g_mutex_lock (&self->lock);
	wake_engine_locked (self);
	*queued = self->queued_events;
	*held = self->held_events;
	g_mutex_unlock (&self->lock);
}

/* --- work on the engine thread: snapshots, restore, replay ---------------- */

/* Persistence and the state sync of a joining node need the plans between
 * two batches, and the plans belong to the engine thread: such work goes
 * through the batch queue, so that it sees every batch accepted before it
 * and none accepted after.  When the engine does not run, it runs on the
 * caller's thread.  Call these from the thread that starts and stops the
 * pipeline. */
struct _EngineTask {
	void (*func) (TandemPipeline *self, gpointer data);
	gpointer data;
	gboolean done;
	gboolean free_when_done; /* nobody waits for it */
};

/* the engine thread, with the lock held; drops it */
static void
run_engine_task (TandemPipeline *self, Batch *batch)
{
	EngineTask *task = g_steal_pointer (&batch->task);

	self->busy = TRUE;
	g_mutex_unlock (&self->lock);
	task->func (self, task->data);
	batch_free (batch);
	g_mutex_lock (&self->lock);
	self->busy = FALSE;
	if (task->free_when_done)
		g_free (task);
	else
		task->done = TRUE;
	notify_watchers (self);
	g_mutex_unlock (&self->lock);
}

/* Queues @task behind the accepted batches: FALSE if the engine does not
 * run. */
static gboolean
queue_engine_task (TandemPipeline *self, EngineTask *task, GError **error)
{
	Batch *batch;

	g_mutex_lock (&self->lock);
	if (self->thread == NULL) {
		g_mutex_unlock (&self->lock);
		return FALSE;
	}
	if (self->stopping) {
		g_mutex_unlock (&self->lock);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "the engine is stopping");
		return FALSE;
	}
	batch = g_new0 (Batch, 1);
	batch->events = g_ptr_array_new ();
	batch->task = task;
	g_queue_push_tail (&self->batches, batch);
	g_cond_broadcast (&self->cond);
	g_mutex_unlock (&self->lock);
	return TRUE;
}

/* Runs @func on the engine thread between two batches and waits for it, or
 * here if the engine does not run. */
static gboolean
run_on_engine (TandemPipeline *self, void (*func) (TandemPipeline *self, gpointer data), gpointer data,
	       GError **error)
{
	EngineTask task = { func, data, FALSE, FALSE };
	g_autoptr(GError) local_error = NULL;

	if (!queue_engine_task (self, &task, &local_error)) {
		if (local_error != NULL) {
			g_propagate_error (error, g_steal_pointer (&local_error));
			return FALSE;
		}
		func (self, data);
		return TRUE;
	}
	g_mutex_lock (&self->lock);
	self->watchers++;
	while (!task.done)
		g_cond_wait (&self->cond, &self->lock);
	self->watchers--;
	g_mutex_unlock (&self->lock);
	return TRUE;
}

TandemPipelineState *
tandem_pipeline_state_new (const char *plan, guint64 seq, GBytes *state)
{
	TandemPipelineState *st = g_new0 (TandemPipelineState, 1);

	st->plan = g_strdup (plan);
	st->seq = seq;
	st->state = g_bytes_ref (state);
	return st;
}

void
tandem_pipeline_state_free (TandemPipelineState *st)
{
	if (st == NULL)
		return;
	g_free (st->plan);
	g_bytes_unref (st->state);
	g_free (st);
}

/* The last input seq the engine has run through the plans (0: none). */
guint64
tandem_pipeline_get_processed_seq (TandemPipeline *self)
{
	guint64 seq;

	g_mutex_lock (&self->lock);
	wake_engine_locked (self);
	seq = self->last_seq;
	g_mutex_unlock (&self->lock);
	return seq;
}

typedef struct {
	GPtrArray *states;
	guint64 seq;
} SnapshotResult;

static void
snapshot_result_free (SnapshotResult *r)
{
	g_clear_pointer (&r->states, g_ptr_array_unref);
	g_free (r);
}

/* the engine thread (or no engine) */
static void
take_snapshot (TandemPipeline *self, SnapshotResult *r)
{
	r->seq = self->last_seq;
	r->states = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_pipeline_state_free);
	for (guint i = 0; i < self->plans->len; i++) {
		TandemPlan *plan = g_ptr_array_index (self->plans, i);
		g_autoptr(GBytes) state = tandem_plan_snapshot (plan);

		g_ptr_array_add (r->states, tandem_pipeline_state_new (tandem_plan_get_name (plan), r->seq, state));
	}
}

static void
snapshot_task_func (TandemPipeline *self, gpointer data)
{
	GTask *task = data;
	SnapshotResult *r = g_new0 (SnapshotResult, 1);

	take_snapshot (self, r);
	g_task_return_pointer (task, r, (GDestroyNotify) snapshot_result_free);
	g_object_unref (task);
}

/*
 * Takes the state of every plan at one point of the sequence: after the
 * last batch accepted before the call, before any accepted after (on the
 * engine thread, between two batches).  The plans are serialised there
 * (tandem_plan_snapshot()); nothing else waits.  Finish with
 * tandem_pipeline_snapshot_finish() in the callback.
 */
void
tandem_pipeline_snapshot_async (TandemPipeline *self,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data)
{
	GTask *task = g_task_new (NULL, cancellable, callback, user_data);
	EngineTask *engine_task = g_new0 (EngineTask, 1);
	GError *error = NULL;

	g_task_set_source_tag (task, tandem_pipeline_snapshot_async);
	engine_task->func = snapshot_task_func;
	engine_task->data = task;
	engine_task->free_when_done = TRUE;
	if (queue_engine_task (self, engine_task, &error))
		return;
	g_free (engine_task);
	if (error != NULL) {
		g_task_return_error (task, error);
		g_object_unref (task);
		return;
	}
	snapshot_task_func (self, task);
}

/* Returns: (element-type TandemPipelineState): one state per plan, in plan
 * order, all at @seq: the last input seq they include (0: none) */
GPtrArray *
tandem_pipeline_snapshot_finish (GAsyncResult *result, guint64 *seq, GError **error)
{
	SnapshotResult *r;
	GPtrArray *states;

	g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
	r = g_task_propagate_pointer (G_TASK (result), error);
	if (r == NULL)
		return NULL;
	if (seq != NULL)
		*seq = r->seq;
	states = g_steal_pointer (&r->states);
	snapshot_result_free (r);
	return states;
}

static void
snapshot_sync_func (TandemPipeline *self, gpointer data)
{
	take_snapshot (self, data);
}

/* The same, waiting: for the snapshot at shutdown (the engine has stopped)
 * or from a thread that may block. */
GPtrArray *
tandem_pipeline_snapshot (TandemPipeline *self, guint64 *seq, GError **error)
{
	SnapshotResult r = { NULL, 0 };

	if (!run_on_engine (self, snapshot_sync_func, &r, error))
		return NULL;
	if (seq != NULL)
		*seq = r.seq;
	return r.states;
}

/* Keeps the sequence above @seq: a restored state includes events up to
 * it, and no event may get their numbers again. */
static gboolean
continue_above (TandemPipeline *self, guint64 seq, GError **error)
{
	if (self->next_seq > seq)
		return TRUE;
	if (self->sequence_path != NULL && seq + 1 > self->reserved_seq &&
	    !reserve_sequence (self, seq + 1 + SEQUENCE_BLOCK, error))
		return FALSE;
	self->next_seq = seq + 1;
	return TRUE;
}

typedef struct {
	GPtrArray *states;
	GError *error;
} RestoreWork;

static void
restore_func (TandemPipeline *self, gpointer data)
{
	RestoreWork *w = data;
	guint64 processed = G_MAXUINT64;

	for (guint i = 0; i < w->states->len && w->error == NULL; i++) {
		TandemPipelineState *st = g_ptr_array_index (w->states, i);
		TandemPlan *plan = NULL;

		for (guint k = 0; k < self->plans->len && plan == NULL; k++) {
			if (g_strcmp0 (tandem_plan_get_name (g_ptr_array_index (self->plans, k)), st->plan) == 0)
				plan = g_ptr_array_index (self->plans, k);
		}
		if (plan == NULL) {
			g_set_error (&w->error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT,
				     "the state of plan %s cannot be restored: no such plan is deployed", st->plan);
			break;
		}
		if (!tandem_plan_restore (plan, st->state, &w->error)) {
			g_prefix_error (&w->error, "plan %s: ", st->plan);
			break;
		}
		processed = MIN (processed, st->seq);
	}
	if (w->error != NULL || w->states->len == 0)
		return;
	g_mutex_lock (&self->lock);
	self->last_seq = processed;
	self->current_seq = processed;
	g_mutex_unlock (&self->lock);
}

/*
 * Replaces the state of the plans named in @states (of
 * TandemPipelineState) with theirs, on the engine thread between two
 * batches (or at once when it does not run).  The engine's processed seq
 * becomes the lowest of their seqs, and the sequence continues above the
 * highest.  A state that does not fit its plan (another text, damaged) is
 * refused with TANDEM_ERROR_INVALID_SNAPSHOT naming the plan; the plans
 * before it in @states keep their new state and that plan is left empty.
 */
typedef struct {
	RestoreWork w;
	GPtrArray *states;
	GTask *task;
} RestoreAsync;

static void
restore_async_func (TandemPipeline *self, gpointer data)
{
	RestoreAsync *r = data;

	restore_func (self, &r->w);
	if (r->w.error != NULL)
		g_task_return_error (r->task, g_steal_pointer (&r->w.error));
	else
		g_task_return_boolean (r->task, TRUE);
	g_object_unref (r->task);
	g_ptr_array_unref (r->states);
	g_free (r);
}

/* Highest and lowest seq of @states */
static void
states_range (GPtrArray *states, guint64 *lowest, guint64 *highest)
{
	*lowest = G_MAXUINT64;
	*highest = 0;
	for (guint i = 0; i < states->len; i++) {
		guint64 seq = ((TandemPipelineState *) g_ptr_array_index (states, i))->seq;

		*highest = MAX (*highest, seq);
		*lowest = MIN (*lowest, seq);
	}
}

/*
 * HA state sync: as tandem_pipeline_restore(), without waiting for the
 * engine thread (a large state takes it a second or more, during which
 * the main loop must go on serving the channel's heartbeats).  The node
 * holds the states' seq at once: batches applied after this call run on
 * the engine after the restore.  The callback tells a failure (the node
 * then holds nothing: finish with tandem_pipeline_restore_finish()).
 */
void
tandem_pipeline_restore_async (TandemPipeline *self,
			       GPtrArray *states,
			       GAsyncReadyCallback callback,
			       gpointer user_data)
{
	RestoreAsync *r = g_new0 (RestoreAsync, 1);
	EngineTask *engine_task = g_new0 (EngineTask, 1);
	GError *error = NULL;
	guint64 lowest, highest;

	r->states = g_ptr_array_ref (states);
	r->w.states = states;
	r->task = g_task_new (NULL, NULL, callback, user_data);
	g_task_set_source_tag (r->task, tandem_pipeline_restore_async);
	states_range (states, &lowest, &highest);
	if (states->len > 0)
		self->held_seq = lowest;
	if (!continue_above (self, highest, &error)) {
		g_task_return_error (r->task, error);
		g_object_unref (r->task);
		g_ptr_array_unref (r->states);
		g_free (r);
		g_free (engine_task);
		return;
	}
	engine_task->func = restore_async_func;
	engine_task->data = r;
	engine_task->free_when_done = TRUE;
	if (queue_engine_task (self, engine_task, &error))
		return;
	g_free (engine_task);
	if (error != NULL) {
		g_task_return_error (r->task, error);
		g_object_unref (r->task);
		g_ptr_array_unref (r->states);
		g_free (r);
		return;
	}
	restore_async_func (self, r);
}

gboolean
tandem_pipeline_restore_finish (TandemPipeline *self, GAsyncResult *result, GError **error)
{
	if (g_task_propagate_boolean (G_TASK (result), error))
		return TRUE;
	/* the plans hold what they held before, or part of the state */
	self->held_seq = 0;
	return FALSE;
}

gboolean
tandem_pipeline_restore (TandemPipeline *self, GPtrArray *states, GError **error)
{
	RestoreWork w = { states, NULL };
	guint64 highest, lowest;

	if (!run_on_engine (self, restore_func, &w, error))
		return FALSE;
	if (w.error != NULL) {
		g_propagate_error (error, w.error);
		return FALSE;
	}
	states_range (states, &lowest, &highest);
	/* what every plan includes */
	self->held_seq = states->len > 0 ? lowest : 0;
	return continue_above (self, highest, error);
}

typedef struct {
	StreamEntry *entry;
	GPtrArray *events;
	GPtrArray *restored;
	guint64 last;
} ReplayWork;

static guint64
restored_seq (GPtrArray *restored, TandemPlan *plan)
{
	for (guint i = 0; restored != NULL && i < restored->len; i++) {
		TandemPipelineState *st = g_ptr_array_index (restored, i);

		if (g_strcmp0 (st->plan, tandem_plan_get_name (plan)) == 0)
			return st->seq;
	}
	return 0;
}

static void
replay_func (TandemPipeline *self, gpointer data)
{
	ReplayWork *w = data;
	g_autofree guint64 *skip = g_new0 (guint64, MAX (w->entry->plans->len, 1));
	guint64 newest = 0;
	Pending *p = NULL;

	/* each plan skips what its restored state includes; outputs are
	 * published only past every restored state: before that, some plan
	 * did not run and the output indexes would differ */
	for (guint i = 0; i < w->entry->plans->len; i++)
		skip[i] = restored_seq (w->restored, g_ptr_array_index (w->entry->plans, i));
	for (guint i = 0; w->restored != NULL && i < w->restored->len; i++)
		newest = MAX (newest, ((TandemPipelineState *) g_ptr_array_index (w->restored, i))->seq);
	if (self->stores->len > 0 || self->output_log != NULL) {
		p = g_new0 (Pending, 1);
		p->outputs = g_array_new (FALSE, FALSE, sizeof (TandemStoreOutput));
		p->log = g_string_new (NULL);
	}
	for (guint i = 0; i < w->events->len; i++) {
		TandemEvent *event = g_ptr_array_index (w->events, i);

		self->current_seq = event->seq;
		self->current_index = 0;
		self->current = event->seq > newest ? p : NULL;
		for (guint k = 0; k < w->entry->plans->len; k++) {
			g_autoptr(GError) error = NULL;

			if (event->seq <= skip[k])
				continue;
			if (!tandem_plan_send (g_ptr_array_index (w->entry->plans, k),
					       tandem_stream_definition_get_name (w->entry->def), event, &error))
				g_warning ("replayed seq %" G_GUINT64_FORMAT ": %s", event->seq, error->message);
		}
		w->last = event->seq;
	}
	self->current = NULL;
	g_mutex_lock (&self->lock);
	if (p != NULL) {
		/* their lines are in the output log already: it was written
		 * before the events reached the event store */
		g_string_truncate (p->log, 0);
		p->last_seq = w->last;
		g_queue_push_tail (&self->pending, p);
	}
	self->last_seq = MAX (self->last_seq, w->last);
	g_mutex_unlock (&self->lock);
}

/*
 * Restart without loss: runs @events (of @stream, in seq order, carrying
 * their identity, read back from an event store) through the plans, on the
 * engine thread.  A plan skips the events its restored state includes
 * (@restored: the TandemPipelineState array given to
 * tandem_pipeline_restore(), or NULL).  Outputs go to the stores (their
 * keys make a row written before a no-op), not to the output log; they
 * are not counted as processed.  The sequence continues above them.
 */
gboolean
tandem_pipeline_replay (TandemPipeline *self, const char *stream, GPtrArray *events, GPtrArray *restored,
			GError **error)
{
	ReplayWork w = { NULL, events, restored, 0 };

	w.entry = g_hash_table_lookup (self->streams, stream);
	if (w.entry == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT, "no stream named '%s'", stream);
		return FALSE;
	}
	for (guint i = 0; i < events->len; i++) {
		TandemEvent *event = g_ptr_array_index (events, i);

		if (!event_fits (w.entry->def, event)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     "replayed event %" G_GUINT64_FORMAT " does not match stream %s", event->seq,
				     tandem_stream_definition_get_id (w.entry->def));
			return FALSE;
		}
		if (i > 0 && event->seq <= ((TandemEvent *) g_ptr_array_index (events, i - 1))->seq) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "replayed events are out of order at seq %" G_GUINT64_FORMAT, event->seq);
			return FALSE;
		}
	}
	if (events->len == 0)
		return TRUE;
	if (!run_on_engine (self, replay_func, &w, error))
		return FALSE;
	self->held_seq = MAX (self->held_seq, w.last);
	return continue_above (self, w.last, error);
}
