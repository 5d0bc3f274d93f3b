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

typedef struct {
	char *stream;
	GPtrArray *events;
} Batch;

typedef struct {
	char *key;
	guint64 first_seq;
	guint n;
	gint64 expires;
} Remembered;

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
	guint64 processed;
	guint64 last_seq;

	/* engine thread only */
	FILE *output_log;
	guint64 current_seq;
	/* HA: outputs are published while g_get_monotonic_time () is below
	 * this (G_MAXINT64 for a node without HA); read by the engine thread */
	gint64 publish_until_us;
	gboolean publishing;	/* for the batch being run */
	guint64 withheld;	/* events whose outputs were not published */
	guint current_index;  /* outputs so far of the input being processed */
	GPtrArray *stores;    /* of TandemStore */
	GArray *outputs;      /* of TandemStoreOutput, for the stores */
};

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
	self->next_seq = 1;
	self->stores = g_ptr_array_new_with_free_func (g_object_unref);
	self->outputs = g_array_new (FALSE, FALSE, sizeof (TandemStoreOutput));
	g_mutex_init (&self->lock);
	g_cond_init (&self->cond);
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
	g_array_unref (self->outputs);
	g_free (self->output_log_path);
	g_free (self->sequence_path);
	g_clear_pointer (&self->main_context, g_main_context_unref);
	g_mutex_clear (&self->lock);
	g_cond_clear (&self->cond);
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

	if (!self->publishing)
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

		g_array_append_val (self->outputs, out);
	}
	self->current_index++;
	if (self->output_log == NULL)
		return;
	data = tandem_event_values_to_json (event);
	/* names are identifiers: they need no JSON escaping */
	fprintf (self->output_log,
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

/* The raw events of a batch, then the outputs it produced, to every store
 * keeping them.  A store's append blocks while its queue is full: the
 * engine then slows down, the ingest queue fills, and the receivers stop
 * taking events; nothing is dropped. */
static void
write_stores (TandemPipeline *self, StreamEntry *entry, Batch *batch)
{
	for (guint i = 0; i < self->stores->len; i++) {
		TandemStore *store = g_ptr_array_index (self->stores, i);
		TandemStoreRole role = tandem_store_get_role (store);
		g_autoptr(GError) error = NULL;

		if ((role & TANDEM_STORE_ROLE_EVENTS) && entry != NULL &&
		    !tandem_store_append_events (store, entry->def, batch->events, &error)) {
			g_warning ("[store.%s]: cannot keep events: %s", tandem_plugin_get_name (TANDEM_PLUGIN (store)),
				   error->message);
			g_clear_error (&error);
		}
		if ((role & TANDEM_STORE_ROLE_OUTPUTS) && self->outputs->len > 0 &&
		    !tandem_store_append_outputs (store, (const TandemStoreOutput *) self->outputs->data,
						  self->outputs->len, &error)) {
			g_warning ("[store.%s]: cannot keep outputs: %s", tandem_plugin_get_name (TANDEM_PLUGIN (store)),
				   error->message);
		}
	}
	for (guint i = 0; i < self->outputs->len; i++)
		tandem_event_unref (g_array_index (self->outputs, TandemStoreOutput, i).event);
	g_array_set_size (self->outputs, 0);
}

static gpointer
engine_thread (gpointer data)
{
	TandemPipeline *self = data;

	for (;;) {
		Batch *batch;
		StreamEntry *entry;
		gboolean relieve;

		g_mutex_lock (&self->lock);
		while (g_queue_is_empty (&self->batches) && !self->stopping)
			g_cond_wait (&self->cond, &self->lock);
		batch = g_queue_pop_head (&self->batches);
		if (batch == NULL) {
			g_mutex_unlock (&self->lock);
			break;
		}
		self->busy = TRUE;
		g_mutex_unlock (&self->lock);

		entry = g_hash_table_lookup (self->streams, batch->stream);
		/* a node that may not publish (passive, fenced) still runs its
		 * plans, but what they produce goes nowhere */
		self->publishing = g_get_monotonic_time () < __atomic_load_n (&self->publish_until_us, __ATOMIC_ACQUIRE);
		if (!self->publishing) {
			if (self->withheld == 0)
				g_warning ("Not publishing (this node is not active): the outputs of events from seq %"
					   G_GUINT64_FORMAT " on are withheld",
					   batch->events->len > 0 ? ((TandemEvent *) batch->events->pdata[0])->seq : 0);
			self->withheld += batch->events->len;
		} else if (self->withheld > 0) {
			g_message ("Publishing again; the outputs of %" G_GUINT64_FORMAT " events were withheld",
				   self->withheld);
			self->withheld = 0;
		}
		for (guint i = 0; i < batch->events->len; i++) {
			TandemEvent *event = g_ptr_array_index (batch->events, i);

			self->current_seq = event->seq;
			self->current_index = 0;
			for (guint p = 0; entry != NULL && p < entry->plans->len; p++) {
				g_autoptr(GError) error = NULL;

				if (!tandem_plan_send (g_ptr_array_index (entry->plans, p), batch->stream, event, &error))
					g_warning ("seq %" G_GUINT64_FORMAT ": %s", event->seq, error->message);
			}
		}
		if (self->output_log != NULL)
			fflush (self->output_log);
		if (self->publishing)
			write_stores (self, entry, batch);

		g_mutex_lock (&self->lock);
		self->queued_events -= batch->events->len;
		self->processed += batch->events->len;
		self->last_seq = self->current_seq;
		self->busy = FALSE;
		relieve = self->queued_events <= self->queue_size / 2;
		/* tell the main thread, once, that there is room again */
		if (relieve && g_atomic_int_get (&self->pressure_signalled) && self->relieve_source == NULL &&
		    self->main_context != NULL) {
			self->relieve_source = g_idle_source_new ();
			g_source_set_callback (self->relieve_source, relieve_pressure, self, NULL);
			g_source_attach (self->relieve_source, self->main_context);
		}
		g_cond_broadcast (&self->cond);
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
	g_mutex_lock (&self->lock);
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
	while (self->thread != NULL && (!g_queue_is_empty (&self->batches) || self->busy))
		g_cond_wait (&self->cond, &self->lock);
	g_mutex_unlock (&self->lock);
}

guint64
tandem_pipeline_get_processed (TandemPipeline *self)
{
	guint64 n;

	g_mutex_lock (&self->lock);
	n = self->processed;
	g_mutex_unlock (&self->lock);
	return n;
}

guint64
tandem_pipeline_get_last_seq (TandemPipeline *self)
{
	return self->next_seq - 1;
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
	__atomic_store_n (&self->publish_until_us, until_us, __ATOMIC_RELEASE);
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
#define SEQUENCE_BLOCK 100000

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
		self->next_seq++;
		g_ptr_array_add (fresh, tandem_event_ref (event));
	}
	if (!have_first)
		first = self->next_seq;
	if (request_key != NULL)
		remember (self, request_key, first, events->len);
	*first_seq = first;
	*n_new = fresh->len;
	if (fresh->len == 0)
		return TRUE;

	batch = g_new0 (Batch, 1);
	batch->stream = g_strdup (name);
	batch->events = g_steal_pointer (&fresh);
	g_mutex_lock (&self->lock);
	self->queued_events += batch->events->len;
	full = self->queued_events >= self->queue_size;
	g_queue_push_tail (&self->batches, batch);
	g_cond_signal (&self->cond);
	g_mutex_unlock (&self->lock);
	/* the queue is full now: pause the receivers before anyone is refused */
	if (full)
		signal_pressure (self);
	return TRUE;
}
