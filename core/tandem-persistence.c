/* tandem-persistence.c: snapshots of the node's plans to its persisters
 *
 * The node's `[persistence]` section and its persister plugins
 * (`[persister.NAME]`): every `interval` seconds, on a clean shutdown and
 * on demand (tandem_node_persist_async(), `POST /api/v1/persist`,
 * `tandemctl persist`), the state of every plan is taken at one point of
 * the sequence S (on the engine thread, between two batches), wrapped in
 * the snapshot container (tandem-snapshot.c) and handed to every persister
 * on a worker thread.  Only a node that may publish (standalone, or the
 * active) persists, unless `passive = true`.  A failure (disk full, a
 * directory that cannot be written, a database down) is logged, reported
 * in the node's status, and retried at the next interval; the node runs on
 * and the persisters keep their older snapshots.
 *
 * At start, once the stores and persisters run and before any receiver
 * takes events, each plan gets the newest valid snapshot any persister
 * holds, and the events kept after it in the event store (a store with
 * role `events` that can read them back) are replayed, so that the state
 * equals that of a node that never stopped.  docs/persistence.md tells the
 * whole story.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Persistence"

#include "config.h"

#include <string.h>

#include <glib/gstdio.h>

#include "tandem-error.h"
#include "tandem-node.h"
#include "tandem-persistence.h"
#include "tandem-persister.h"
#include "tandem-plugin.h"
#include "tandem-snapshot.h"
#include "tandem-store.h"

#define DEFAULT_INTERVAL_S 60
/* events read back from the event store at a time */
#define REPLAY_PAGE 10000
/* in the state directory: the seq of the snapshot taken at a clean stop */
#define CLEAN_STOP_FILE "persisted-at-stop"

typedef struct {
	char *name;
	gint64 last_success_ms;
	guint64 last_success_seq;
	char *last_error;
	gint64 last_error_ms;
} PersisterStatus;

struct _TandemPersistence {
	TandemNode *node; /* unowned: it owns us */
	TandemPipeline *pipeline;
	TandemPersistenceActiveFunc active;
	gpointer active_data;

	/* config */
	guint interval_s;
	gboolean on_shutdown;
	gboolean passive;
	gboolean restore;
	gboolean replay;
	char *tenant;

	GPtrArray *persisters; /* of TandemPersister, from start */
	GArray *status;        /* of PersisterStatus, same order */
	guint timer;
	gboolean running;
	GList *waiters;         /* GTasks for the next run */
	GList *current_waiters; /* GTasks for the run in progress */
	gboolean current_forced;
	gboolean stopping;
	GMutex lock;
	GCond cond;
	gboolean saving; /* a worker thread is saving (lock) */

	/* status of the last runs */
	gint64 last_attempt_ms;
	gint64 last_success_ms;
	guint64 last_success_seq;
	gboolean have_success;
	char *last_error;
	gint64 last_error_ms;
	gint64 last_duration_us;
	guint64 last_bytes;
	guint64 runs;
	guint64 failures;

	/* the restore at start */
	gboolean restored;
	guint n_restored;
	guint64 restore_seq; /* the lowest seq of the restored plans */
	guint64 replayed;
	guint64 replay_first;
	guint64 replay_last;
	char *replay_store;
	char *unrecovered;
};

typedef struct {
	GPtrArray *persisters; /* of TandemPersister */
	char *tenant;
	guint64 epoch;
	guint64 seq;
	GPtrArray *states; /* of TandemPipelineState */
	TandemPipeline *pipeline; /* when the stores must hold the events first */
	GPtrArray *stores;	  /* of TandemStore */
	/* results */
	GPtrArray *errors; /* one per persister: NULL or the message */
	guint64 bytes;
	gint64 duration_us;
} SaveJob;

static void
persister_status_clear (PersisterStatus *st)
{
	g_free (st->name);
	g_free (st->last_error);
}

static void
save_job_free (SaveJob *job)
{
	if (job->stores != NULL)
		g_ptr_array_unref (job->stores);
	g_ptr_array_unref (job->persisters);
	g_free (job->tenant);
	g_ptr_array_unref (job->states);
	g_ptr_array_unref (job->errors);
	g_free (job);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (SaveJob, save_job_free)

static gint64
now_ms (void)
{
	return g_get_real_time () / 1000;
}

TandemPersistence *
tandem_persistence_new (TandemNode *node,
			TandemPipeline *pipeline,
			TandemPersistenceActiveFunc active,
			gpointer user_data)
{
	TandemPersistence *self = g_new0 (TandemPersistence, 1);

	self->node = node;
	self->pipeline = pipeline;
	self->active = active;
	self->active_data = user_data;
	self->interval_s = DEFAULT_INTERVAL_S;
	self->on_shutdown = TRUE;
	self->restore = TRUE;
	self->replay = TRUE;
	self->persisters = g_ptr_array_new_with_free_func (g_object_unref);
	self->status = g_array_new (FALSE, TRUE, sizeof (PersisterStatus));
	g_array_set_clear_func (self->status, (GDestroyNotify) persister_status_clear);
	g_mutex_init (&self->lock);
	g_cond_init (&self->cond);
	return self;
}

void
tandem_persistence_free (TandemPersistence *self)
{
	if (self == NULL)
		return;
	g_clear_handle_id (&self->timer, g_source_remove);
	g_ptr_array_unref (self->persisters);
	g_array_unref (self->status);
	g_free (self->tenant);
	g_free (self->last_error);
	g_free (self->replay_store);
	g_free (self->unrecovered);
	g_mutex_clear (&self->lock);
	g_cond_clear (&self->cond);
	g_free (self);
}

/* --- configuration ------------------------------------------------------------ */

enum {
	KEY_INTERVAL,
	KEY_ON_SHUTDOWN,
	KEY_PASSIVE,
	KEY_RESTORE,
	KEY_REPLAY,
	KEY_TENANT,
	N_KEYS
};

static GParamSpec *
key_spec (guint i)
{
	static GParamSpec *specs[N_KEYS];

	if (specs[0] == NULL) {
		specs[KEY_INTERVAL] = g_param_spec_uint ("interval", NULL, NULL, 0, 7 * 86400,
							 DEFAULT_INTERVAL_S, G_PARAM_READWRITE);
		specs[KEY_ON_SHUTDOWN] =
			g_param_spec_boolean ("on_shutdown", NULL, NULL, TRUE, G_PARAM_READWRITE);
		specs[KEY_PASSIVE] =
			g_param_spec_boolean ("passive", NULL, NULL, FALSE, G_PARAM_READWRITE);
		specs[KEY_RESTORE] =
			g_param_spec_boolean ("restore", NULL, NULL, TRUE, G_PARAM_READWRITE);
		specs[KEY_REPLAY] =
			g_param_spec_boolean ("replay", NULL, NULL, TRUE, G_PARAM_READWRITE);
		specs[KEY_TENANT] =
			g_param_spec_string ("tenant", NULL, NULL, NULL, G_PARAM_READWRITE);
	}
	return specs[i];
}

void
tandem_persistence_configure (TandemPersistence *self,
			      TandemConfigSection *section,
			      GString *errors)
{
	GValue values[N_KEYS] = { G_VALUE_INIT };
	gboolean ok = TRUE;

	for (guint i = 0; i < N_KEYS; i++) {
		g_autoptr (GError) error = NULL;

		if (!tandem_config_section_lookup (section, key_spec (i), &values[i], &error)) {
			g_string_append_printf (errors, "%s\n", error->message);
			ok = FALSE;
		}
	}
	if (ok) {
		const char *tenant = g_value_get_string (&values[KEY_TENANT]);

		self->interval_s = g_value_get_uint (&values[KEY_INTERVAL]);
		self->on_shutdown = g_value_get_boolean (&values[KEY_ON_SHUTDOWN]);
		self->passive = g_value_get_boolean (&values[KEY_PASSIVE]);
		self->restore = g_value_get_boolean (&values[KEY_RESTORE]);
		self->replay = g_value_get_boolean (&values[KEY_REPLAY]);
		if (tenant != NULL &&
		    (*tenant == '\0' || strlen (tenant) > 255 || strchr (tenant, '/') != NULL)) {
			g_autofree char *where =
				tandem_config_section_describe_key (section, "tenant");

			g_string_append_printf (
				errors,
				"%s: expected a name of 1-255 characters without '/', got \"%s\"\n",
				where, tenant);
		} else {
			g_free (self->tenant);
			self->tenant = g_strdup (tenant);
		}
	}
	for (guint i = 0; i < N_KEYS; i++) {
		if (G_IS_VALUE (&values[i]))
			g_value_unset (&values[i]);
	}
}

static const char *
tenant (TandemPersistence *self)
{
	return self->tenant != NULL ? self->tenant : tandem_node_get_cluster_name (self->node);
}

static gboolean
may_persist (TandemPersistence *self)
{
	return self->passive || self->active == NULL || self->active (self->active_data);
}

/* The started persisters of the node, once. */
static void
collect_persisters (TandemPersistence *self)
{
	GPtrArray *plugins = tandem_node_get_plugins (self->node);

	if (self->persisters->len > 0)
		return;
	for (guint i = 0; i < plugins->len; i++) {
		TandemPlugin *plugin = g_ptr_array_index (plugins, i);
		PersisterStatus st = { 0 };

		if (!TANDEM_IS_PERSISTER (plugin) ||
		    tandem_plugin_get_state (plugin) != TANDEM_PLUGIN_STATE_STARTED)
			continue;
		g_ptr_array_add (self->persisters, g_object_ref (plugin));
		st.name = g_strdup (tandem_plugin_get_name (plugin));
		g_array_append_val (self->status, st);
	}
}

/* --- saving ------------------------------------------------------------------- */

/* A worker thread (or the main thread at shutdown): every plan to every
 * persister.  A persister that fails one plan still gets the others. */
/* A snapshot at seq S is of use after a restart only if the event store
 * holds every event up to S (the replay starts after S, and the stores get
 * the outputs up to S from nowhere else): wait until the node published
 * up to S (with HA, once the passive held it) and the stores committed it. */
static gboolean
wait_stores (SaveJob *job, GError **error)
{
	gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

	while (tandem_pipeline_get_published_seq (job->pipeline) < job->seq) {
		if (g_get_monotonic_time () >= deadline) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT,
				     "the events up to seq %" G_GUINT64_FORMAT " were not published within 10 s: "
				     "snapshot not kept (the next one is tried at the next interval)",
				     job->seq);
			return FALSE;
		}
		g_usleep (10000);
	}
	for (guint i = 0; i < job->stores->len; i++) {
		if (!tandem_store_flush (g_ptr_array_index (job->stores, i), NULL, error)) {
			g_prefix_error (error, "the stores cannot commit the events up to seq %" G_GUINT64_FORMAT
				       ": snapshot not kept: ",
				       job->seq);
			return FALSE;
		}
	}
	return TRUE;
}

static void
save_job_run (SaveJob *job)
{
	gint64 start = g_get_monotonic_time ();
	g_autoptr (GError) waited = NULL;

	if (job->pipeline != NULL && !wait_stores (job, &waited)) {
		for (guint p = 0; p < job->persisters->len; p++)
			job->errors->pdata[p] = g_strdup (waited->message);
		job->duration_us = g_get_monotonic_time () - start;
		return;
	}

	for (guint i = 0; i < job->states->len; i++) {
		TandemPipelineState *st = g_ptr_array_index (job->states, i);
		g_autoptr (GBytes) snapshot =
			tandem_snapshot_encode (st->plan, job->epoch, st->seq, st->state);

		job->bytes += g_bytes_get_size (snapshot);
		for (guint p = 0; p < job->persisters->len; p++) {
			TandemPersister *persister = g_ptr_array_index (job->persisters, p);
			g_autoptr (GError) error = NULL;

			if (tandem_persister_save (persister, job->tenant, st->plan, snapshot,
						   &error))
				continue;
			if (job->errors->pdata[p] == NULL)
				job->errors->pdata[p] =
					g_strdup_printf ("plan %s: %s", st->plan, error->message);
		}
	}
	job->duration_us = g_get_monotonic_time () - start;
}

static SaveJob *
save_job_new (TandemPersistence *self, GPtrArray *states, guint64 seq)
{
	SaveJob *job = g_new0 (SaveJob, 1);

	job->persisters = g_ptr_array_new_with_free_func (g_object_unref);
	for (guint i = 0; i < self->persisters->len; i++)
		g_ptr_array_add (job->persisters,
				 g_object_ref (g_ptr_array_index (self->persisters, i)));
	job->tenant = g_strdup (tenant (self));
	job->epoch = tandem_pipeline_get_incarnation (self->pipeline);
	job->seq = seq;
	job->states = g_ptr_array_ref (states);
	job->errors = g_ptr_array_new_with_free_func (g_free);
	g_ptr_array_set_size (job->errors, self->persisters->len);
	return job;
}

/* Records what a job did; returns the error of the whole, if any. */
static GError *
record_job (TandemPersistence *self, SaveJob *job, const char *when)
{
	g_autoptr (GString) failed = g_string_new (NULL);
	gint64 now = now_ms ();
	guint n_failed = 0;

	self->runs++;
	self->last_attempt_ms = now;
	self->last_duration_us = job->duration_us;
	self->last_bytes = job->bytes;
	for (guint p = 0; p < job->persisters->len; p++) {
		PersisterStatus *st = &g_array_index (self->status, PersisterStatus, p);
		const char *message = job->errors->pdata[p];

		if (message == NULL) {
			st->last_success_ms = now;
			st->last_success_seq = job->seq;
			g_clear_pointer (&st->last_error, g_free);
			continue;
		}
		n_failed++;
		g_free (st->last_error);
		st->last_error = g_strdup (message);
		st->last_error_ms = now;
		g_string_append_printf (failed, "%s[persister.%s]: %s", failed->len > 0 ? "; " : "",
					st->name, message);
		if (self->interval_s > 0 && !self->stopping)
			g_warning (
				"Cannot persist %s to [persister.%s]: %s; its older snapshots are kept; retrying in %u s",
				when, st->name, message, self->interval_s);
		else
			g_warning (
				"Cannot persist %s to [persister.%s]: %s; its older snapshots are kept",
				when, st->name, message);
	}
	if (n_failed == 0) {
		self->have_success = TRUE;
		self->last_success_ms = now;
		self->last_success_seq = job->seq;
		g_clear_pointer (&self->last_error, g_free);
		g_info ("Persisted %u plan%s at seq %" G_GUINT64_FORMAT " (%s): %" G_GUINT64_FORMAT
			" bytes in %.3f s",
			job->states->len, job->states->len == 1 ? "" : "s", job->seq, when,
			job->bytes, job->duration_us / 1e6);
		return NULL;
	}
	self->failures++;
	g_free (self->last_error);
	self->last_error = g_strdup (failed->str);
	self->last_error_ms = now;
	return g_error_new (TANDEM_ERROR, TANDEM_ERROR_FAILED, "%s", failed->str);
}

static void start_run (TandemPersistence *self, gboolean forced);

/* The run is over: answer who waited for it, and start the next one if
 * someone waits for that. */
static void
finish_run (TandemPersistence *self, const GError *error, guint64 seq)
{
	GList *waiters = g_steal_pointer (&self->current_waiters);
	TandemNode *node = self->node;

	self->running = FALSE;
	for (GList *l = waiters; l != NULL; l = l->next) {
		GTask *task = l->data;

		if (error != NULL)
			g_task_return_error (task, g_error_copy (error));
		else
			g_task_return_pointer (task, g_memdup2 (&seq, sizeof seq), g_free);
		g_object_unref (task);
	}
	g_list_free (waiters);
	if (self->waiters != NULL && !self->stopping)
		start_run (self, TRUE);
	/* the reference start_run() took; it may be the last */
	g_object_unref (node);
}

static void
on_saved (GObject *source, GAsyncResult *result, gpointer data)
{
	TandemPersistence *self = data;
	SaveJob *job = g_task_get_task_data (G_TASK (result));
	g_autoptr (GError) error =
		record_job (self, job, self->current_forced ? "on demand" : "at the interval");

	finish_run (self, error, job->seq);
}

/* the worker thread; stop() waits for it */
static void
save_thread_func (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	TandemPersistence *self = g_object_get_data (G_OBJECT (task), "tandem-persistence");

	save_job_run (task_data);
	g_mutex_lock (&self->lock);
	self->saving = FALSE;
	g_cond_broadcast (&self->cond);
	g_mutex_unlock (&self->lock);
	g_task_return_boolean (task, TRUE);
}

static void
on_snapshot (GObject *source, GAsyncResult *result, gpointer data)
{
	TandemPersistence *self = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) states = NULL;
	g_autoptr (GTask) task = NULL;
	SaveJob *job;
	guint64 seq = 0;

	states = tandem_pipeline_snapshot_finish (result, &seq, &error);
	if (states == NULL) {
		finish_run (self, error, 0);
		return;
	}
	if (self->stopping) {
		g_autoptr (GError) stopping = g_error_new_literal (TANDEM_ERROR, TANDEM_ERROR_BUSY,
								   "the node is stopping");

		finish_run (self, stopping, 0);
		return;
	}
	/* the plans change only with events: at the interval, an unchanged
	 * state is not written again */
	if (!self->current_forced && self->have_success && seq == self->last_success_seq) {
		g_debug (
			"Nothing to persist: no event since the snapshot of seq %" G_GUINT64_FORMAT,
			seq);
		finish_run (self, NULL, seq);
		return;
	}
	task = g_task_new (NULL, NULL, on_saved, self);
	g_object_set_data (G_OBJECT (task), "tandem-persistence", self);
	job = save_job_new (self, states, seq);
	/* the stores must hold what the snapshot includes (see wait_stores) */
	job->pipeline = self->pipeline;
	job->stores = g_ptr_array_new_with_free_func (g_object_unref);
	for (guint i = 0; i < tandem_node_get_plugins (self->node)->len; i++) {
		TandemPlugin *plugin = g_ptr_array_index (tandem_node_get_plugins (self->node), i);

		if (TANDEM_IS_STORE (plugin) && tandem_plugin_get_state (plugin) == TANDEM_PLUGIN_STATE_STARTED)
			g_ptr_array_add (job->stores, g_object_ref (plugin));
	}
	g_task_set_task_data (task, job, (GDestroyNotify) save_job_free);
	g_mutex_lock (&self->lock);
	self->saving = TRUE;
	g_mutex_unlock (&self->lock);
	g_task_run_in_thread (task, save_thread_func);
}

static void
start_run (TandemPersistence *self, gboolean forced)
{
	self->running = TRUE;
	self->current_forced = forced;
	self->current_waiters = g_steal_pointer (&self->waiters);
	/* the callbacks need the node (and us) alive */
	g_object_ref (self->node);
	tandem_pipeline_snapshot_async (self->pipeline, NULL, on_snapshot, self);
}

static gboolean
on_tick (gpointer data)
{
	TandemPersistence *self = data;

	if (self->running || self->stopping || self->persisters->len == 0)
		return G_SOURCE_CONTINUE;
	if (!may_persist (self)) {
		g_debug ("Not persisting: this node is not active ([persistence] passive = false)");
		return G_SOURCE_CONTINUE;
	}
	start_run (self, FALSE);
	return G_SOURCE_CONTINUE;
}

void
tandem_persistence_start (TandemPersistence *self)
{
	collect_persisters (self);
	self->stopping = FALSE;
	if (self->persisters->len == 0)
		return;
	if (self->interval_s > 0)
		self->timer = g_timeout_add_seconds (self->interval_s, on_tick, self);
	if (self->interval_s > 0)
		g_message ("Persisting the plans of tenant %s to %u persister%s every %u s%s%s",
			   tenant (self), self->persisters->len,
			   self->persisters->len == 1 ? "" : "s", self->interval_s,
			   self->on_shutdown ? ", at shutdown" : "",
			   self->passive ? " and on demand, also when passive"
					 : " and on demand, when active");
	else
		g_message ("Persisting the plans of tenant %s to %u persister%s%s on demand only%s",
			   tenant (self), self->persisters->len,
			   self->persisters->len == 1 ? "" : "s",
			   self->on_shutdown ? " at shutdown and" : "",
			   self->passive ? ", also when passive" : ", when active");
}

void
tandem_persistence_persist_async (TandemPersistence *self,
				  gpointer source_object,
				  GCancellable *cancellable,
				  GAsyncReadyCallback callback,
				  gpointer user_data)
{
	GTask *task = g_task_new (source_object, cancellable, callback, user_data);

	g_task_set_source_tag (task, tandem_persistence_persist_async);
	if (self->persisters->len == 0 || self->stopping) {
		g_task_return_new_error (task, TANDEM_ERROR,
					 self->stopping ? TANDEM_ERROR_BUSY
							: TANDEM_ERROR_NOT_SUPPORTED,
					 self->stopping
						 ? "the node is not running"
						 : "no persister is configured ([persister.NAME])");
		g_object_unref (task);
		return;
	}
	if (!may_persist (self)) {
		g_task_return_new_error (
			task, TANDEM_ERROR, TANDEM_ERROR_BUSY,
			"this node is not active: only the active node persists "
			"([persistence] passive = true lets a passive node persist too)");
		g_object_unref (task);
		return;
	}
	self->waiters = g_list_append (self->waiters, task);
	if (!self->running)
		start_run (self, TRUE);
}

gboolean
tandem_persistence_persist_finish (GAsyncResult *result, guint64 *seq, GError **error)
{
	g_autofree guint64 *s = g_task_propagate_pointer (G_TASK (result), error);

	if (s == NULL)
		return FALSE;
	if (seq != NULL)
		*seq = *s;
	return TRUE;
}

static char *
clean_stop_path (TandemPersistence *self)
{
	const char *dir = tandem_node_get_state_dir (self->node);

	return dir != NULL ? g_build_filename (dir, CLEAN_STOP_FILE, NULL) : NULL;
}

/* The node stops; the engine has processed everything and stopped: a last
 * snapshot, unless nothing changed since the last one. */
void
tandem_persistence_stop (TandemPersistence *self)
{
	g_autoptr (GPtrArray) states = NULL;
	g_autoptr (SaveJob) job = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *marker = clean_stop_path (self);
	guint64 seq = 0;

	if (self->stopping)
		return;
	self->stopping = TRUE;
	g_clear_handle_id (&self->timer, g_source_remove);
	for (GList *l = self->waiters; l != NULL; l = l->next) {
		g_task_return_new_error (l->data, TANDEM_ERROR, TANDEM_ERROR_BUSY,
					 "the node is stopping");
		g_object_unref (l->data);
	}
	g_clear_pointer (&self->waiters, g_list_free);
	g_mutex_lock (&self->lock);
	while (self->saving)
		g_cond_wait (&self->cond, &self->lock);
	g_mutex_unlock (&self->lock);
	if (self->persisters->len == 0 || !self->on_shutdown)
		return;
	if (!may_persist (self)) {
		g_message ("Not persisting at shutdown: this node is not active");
		return;
	}
	states = tandem_pipeline_snapshot (self->pipeline, &seq, &error);
	if (states == NULL) {
		g_warning ("Cannot take the snapshot at shutdown: %s", error->message);
		return;
	}
	if (!(self->have_success && seq == self->last_success_seq)) {
		job = save_job_new (self, states, seq);
		save_job_run (job);
		error = record_job (self, job, "at shutdown");
		if (error != NULL)
			return;
	}
	g_message ("Persisted %u plan%s at seq %" G_GUINT64_FORMAT " at shutdown", states->len,
		   states->len == 1 ? "" : "s", seq);
	if (marker != NULL) {
		g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", seq);
		g_autoptr (GError) local_error = NULL;

		if (!g_file_set_contents_full (marker, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
					       0600, &local_error))
			g_debug ("cannot write %s: %s", marker, local_error->message);
	}
}

/* --- restoring ----------------------------------------------------------------- */

/* The seq of the snapshot a clean stop took, if the previous run stopped
 * so; the file goes (a crash later must not find it). */
static gboolean
take_clean_stop (TandemPersistence *self, guint64 *seq)
{
	g_autofree char *path = clean_stop_path (self);
	g_autofree char *text = NULL;
	gboolean ok;

	if (path == NULL || !g_file_get_contents (path, &text, NULL, NULL))
		return FALSE;
	g_unlink (path);
	ok = g_ascii_string_to_unsigned (g_strstrip (text), 10, 0, G_MAXUINT64, seq, NULL);
	return ok;
}

/* The newest valid snapshot of @plan among the persisters. */
static TandemPipelineState *
load_plan (TandemPersistence *self, const char *plan, const char **from)
{
	TandemPipelineState *best = NULL;

	for (guint p = 0; p < self->persisters->len; p++) {
		TandemPersister *persister = g_ptr_array_index (self->persisters, p);
		const char *name = tandem_plugin_get_name (TANDEM_PLUGIN (persister));
		g_autoptr (GError) error = NULL;
		g_autoptr (GBytes) bytes =
			tandem_persister_load_latest (persister, tenant (self), plan, &error);
		g_autoptr (GBytes) payload = NULL;
		g_autofree char *stored_plan = NULL;
		guint64 seq = 0;

		if (bytes == NULL) {
			if (error != NULL)
				g_warning (
					"[persister.%s]: cannot load the snapshots of plan %s: %s",
					name, plan, error->message);
			continue;
		}
		if (!tandem_snapshot_decode (bytes, &stored_plan, NULL, &seq, &payload, &error)) {
			g_warning ("[persister.%s]: the snapshot of plan %s is not valid: %s", name,
				   plan, error->message);
			continue;
		}
		if (g_strcmp0 (stored_plan, plan) != 0) {
			g_warning ("[persister.%s]: the snapshot of plan %s holds plan %s", name,
				   plan, stored_plan);
			continue;
		}
		if (best != NULL && best->seq >= seq)
			continue;
		tandem_pipeline_state_free (best);
		best = tandem_pipeline_state_new (plan, seq, payload);
		*from = name;
	}
	return best;
}

static TandemStore *
event_store (TandemPersistence *self)
{
	GPtrArray *plugins = tandem_node_get_plugins (self->node);

	for (guint i = 0; i < plugins->len; i++) {
		TandemPlugin *plugin = g_ptr_array_index (plugins, i);

		if (TANDEM_IS_STORE (plugin) &&
		    tandem_plugin_get_state (plugin) == TANDEM_PLUGIN_STATE_STARTED &&
		    (tandem_store_get_role (TANDEM_STORE (plugin)) & TANDEM_STORE_ROLE_EVENTS) &&
		    TANDEM_STORE_GET_CLASS (plugin)->read_events != NULL)
			return TANDEM_STORE (plugin);
	}
	return NULL;
}

typedef struct {
	TandemStreamDefinition *def;
	GPtrArray *page;
	guint pos;
	guint64 after;
	gboolean done;
} Cursor;

static void
cursor_clear (Cursor *c)
{
	g_clear_pointer (&c->page, g_ptr_array_unref);
}

static TandemEvent *
cursor_head (TandemStore *store, Cursor *c, GError **error)
{
	while (!c->done && (c->page == NULL || c->pos >= c->page->len)) {
		g_clear_pointer (&c->page, g_ptr_array_unref);
		c->page = tandem_store_read_events (store, c->def, c->after, REPLAY_PAGE, error);
		c->pos = 0;
		if (c->page == NULL)
			return NULL;
		if (c->page->len == 0) {
			c->done = TRUE;
			break;
		}
		c->after = tandem_event_get_seq (g_ptr_array_index (c->page, c->page->len - 1));
	}
	return c->done ? NULL : g_ptr_array_index (c->page, c->pos);
}

/* Every event of the plans' input streams above @from, in seq order
 * across the streams, through the plans.  Returns FALSE with @error if the
 * store or the engine failed part way. */
static gboolean
replay (TandemPersistence *self,
	TandemStore *store,
	GPtrArray *restored,
	guint64 from,
	GError **error)
{
	g_autoptr (GArray) cursors = g_array_new (FALSE, TRUE, sizeof (Cursor));
	g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
	g_autoptr (GPtrArray) run =
		g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);
	GPtrArray *plans = tandem_node_get_plans (self->node);

	g_array_set_clear_func (cursors, (GDestroyNotify) cursor_clear);
	for (guint i = 0; i < plans->len; i++) {
		g_auto (GStrv) inputs =
			tandem_plan_dup_input_streams (g_ptr_array_index (plans, i));

		for (guint k = 0; inputs[k] != NULL; k++) {
			TandemStreamDefinition *def =
				tandem_node_lookup_stream (self->node, inputs[k]);
			Cursor c = { 0 };

			if (def == NULL ||
			    g_hash_table_contains (seen, tandem_stream_definition_get_name (def)))
				continue;
			g_hash_table_add (seen, (gpointer) tandem_stream_definition_get_name (def));
			c.def = def;
			c.after = from;
			g_array_append_val (cursors, c);
		}
	}
	for (;;) {
		Cursor *best = NULL;
		guint64 next_other = G_MAXUINT64;

		/* the stream holding the lowest seq, and the lowest of the others */
		for (guint i = 0; i < cursors->len; i++) {
			Cursor *c = &g_array_index (cursors, Cursor, i);
			TandemEvent *head = cursor_head (store, c, error);

			if (head == NULL) {
				if (error != NULL && *error != NULL)
					return FALSE;
				continue;
			}
			if (best == NULL ||
			    tandem_event_get_seq (head) <
				    tandem_event_get_seq (best->page->pdata[best->pos])) {
				if (best != NULL)
					next_other = MIN (next_other,
							  tandem_event_get_seq (
								  best->page->pdata[best->pos]));
				best = c;
			} else {
				next_other = MIN (next_other, tandem_event_get_seq (head));
			}
		}
		if (best == NULL)
			return TRUE;
		/* its events up to the next one of another stream */
		g_ptr_array_set_size (run, 0);
		while (best->pos < best->page->len && run->len < REPLAY_PAGE) {
			TandemEvent *event = g_ptr_array_index (best->page, best->pos);

			if (tandem_event_get_seq (event) > next_other)
				break;
			g_ptr_array_add (run, tandem_event_ref (event));
			best->pos++;
		}
		if (!tandem_pipeline_replay (self->pipeline,
					     tandem_stream_definition_get_name (best->def), run,
					     restored, error))
			return FALSE;
		if (self->replayed == 0)
			self->replay_first = tandem_event_get_seq (g_ptr_array_index (run, 0));
		self->replay_last = tandem_event_get_seq (g_ptr_array_index (run, run->len - 1));
		self->replayed += run->len;
	}
}

/* At start, before receivers take events: the newest valid snapshot of
 * each plan, then the events kept after it. */
void
tandem_persistence_restore (TandemPersistence *self)
{
	GPtrArray *plans = tandem_node_get_plans (self->node);
	g_autoptr (GPtrArray) states =
		g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_pipeline_state_free);
	g_autoptr (GError) error = NULL;
	TandemStore *store;
	guint64 clean_seq = 0;
	gboolean clean = FALSE;
	guint64 reserved = tandem_pipeline_get_next_seq (self->pipeline) - 1;
	guint64 from = G_MAXUINT64;

	if (self->restored)
		return;
	self->restored = TRUE;
	collect_persisters (self);
	clean = take_clean_stop (self, &clean_seq);
	if (!self->restore || self->persisters->len == 0 || plans == NULL || plans->len == 0)
		return;

	for (guint i = 0; i < plans->len; i++) {
		const char *plan = tandem_plan_get_name (g_ptr_array_index (plans, i));
		const char *from_persister = NULL;
		TandemPipelineState *st = load_plan (self, plan, &from_persister);

		if (st == NULL) {
			g_message ("Plan %s: no snapshot in tenant %s; it starts empty", plan,
				   tenant (self));
			from = 0;
			continue;
		}
		g_message ("Plan %s: restoring the snapshot of seq %" G_GUINT64_FORMAT
			   " from [persister.%s] (%" G_GSIZE_FORMAT " bytes of state)",
			   plan, st->seq, from_persister, g_bytes_get_size (st->state));
		g_ptr_array_add (states, st);
	}
	/* a state that does not fit its plan (the plan changed) is dropped:
	 * that plan starts empty */
	while (states->len > 0 && !tandem_pipeline_restore (self->pipeline, states, &error)) {
		gboolean dropped = FALSE;

		for (guint i = 0; i < states->len && !dropped; i++) {
			TandemPipelineState *st = g_ptr_array_index (states, i);
			g_autofree char *prefix = g_strdup_printf ("plan %s: ", st->plan);

			if (g_str_has_prefix (error->message, prefix) ||
			    strstr (error->message, st->plan) != NULL) {
				g_warning (
					"Plan %s: cannot restore its snapshot (%s); it starts empty",
					st->plan, error->message);
				g_ptr_array_remove_index (states, i);
				dropped = TRUE;
			}
		}
		if (!dropped) {
			g_warning ("Cannot restore the snapshots: %s; the plans start empty",
				   error->message);
			g_ptr_array_set_size (states, 0);
		}
		g_clear_error (&error);
	}
	if (states->len == 0)
		from = 0;
	for (guint i = 0; i < states->len; i++)
		from = MIN (from, ((TandemPipelineState *) g_ptr_array_index (states, i))->seq);
	self->n_restored = states->len;
	self->restore_seq = from;

	if (!self->replay)
		return;
	store = event_store (self);
	if (store == NULL) {
		if (clean && clean_seq == from) {
			g_message (
				"Nothing to replay: the node stopped cleanly after its snapshot of seq %" G_GUINT64_FORMAT,
				from);
			return;
		}
		if (reserved > from) {
			self->unrecovered = g_strdup_printf (
				"the events accepted after seq %" G_GUINT64_FORMAT
				" (at most %" G_GUINT64_FORMAT ": seq %" G_GUINT64_FORMAT
				" to %" G_GUINT64_FORMAT
				", the sequence the previous run had reserved; fewer if it stopped sooner) are not in "
				"the plans' state: no event store ([store.NAME] with role events) keeps them",
				from, reserved - from, from + 1, reserved);
			g_warning ("Cannot replay: %s", self->unrecovered);
		}
		return;
	}
	self->replay_store = g_strdup (tandem_plugin_get_name (TANDEM_PLUGIN (store)));
	if (!replay (self, store, states, from, &error)) {
		self->unrecovered = g_strdup_printf (
			"the replay from [store.%s] stopped after seq %" G_GUINT64_FORMAT ": %s",
			self->replay_store, self->replayed > 0 ? self->replay_last : from,
			error->message);
		g_warning ("Cannot replay all the events kept after the snapshots: %s",
			   self->unrecovered);
		return;
	}
	if (self->replayed > 0)
		g_message ("Replayed %" G_GUINT64_FORMAT " events (seq %" G_GUINT64_FORMAT
			   " to %" G_GUINT64_FORMAT ") from [store.%s] on top of the snapshots",
			   self->replayed, self->replay_first, self->replay_last,
			   self->replay_store);
	else
		g_message (
			"Nothing to replay: [store.%s] keeps no event after seq %" G_GUINT64_FORMAT,
			self->replay_store, from);
}

/* --- status -------------------------------------------------------------------- */

static void
add_ms_or_null (JsonBuilder *builder, const char *name, gint64 ms)
{
	json_builder_set_member_name (builder, name);
	if (ms > 0)
		json_builder_add_int_value (builder, ms);
	else
		json_builder_add_null_value (builder);
}

static void
add_string_or_null (JsonBuilder *builder, const char *name, const char *value)
{
	json_builder_set_member_name (builder, name);
	if (value != NULL)
		json_builder_add_string_value (builder, value);
	else
		json_builder_add_null_value (builder);
}

void
tandem_persistence_add_status (TandemPersistence *self, JsonBuilder *builder)
{
	json_builder_set_member_name (builder, "persistence");
	json_builder_begin_object (builder);
	json_builder_set_member_name (builder, "enabled");
	json_builder_add_boolean_value (builder, self->persisters->len > 0);
	json_builder_set_member_name (builder, "tenant");
	json_builder_add_string_value (builder, tenant (self));
	json_builder_set_member_name (builder, "interval_s");
	json_builder_add_int_value (builder, self->interval_s);
	json_builder_set_member_name (builder, "persisting");
	json_builder_add_boolean_value (builder, self->persisters->len > 0 && !self->stopping &&
							 may_persist (self));
	json_builder_set_member_name (builder, "in_progress");
	json_builder_add_boolean_value (builder, self->running);
	add_ms_or_null (builder, "last_success_ms", self->have_success ? self->last_success_ms : 0);
	json_builder_set_member_name (builder, "last_success_seq");
	if (self->have_success)
		json_builder_add_int_value (builder, (gint64) self->last_success_seq);
	else
		json_builder_add_null_value (builder);
	add_ms_or_null (builder, "last_attempt_ms", self->last_attempt_ms);
	add_string_or_null (builder, "last_error", self->last_error);
	add_ms_or_null (builder, "last_error_ms",
			self->last_error != NULL ? self->last_error_ms : 0);
	json_builder_set_member_name (builder, "last_duration_ms");
	json_builder_add_double_value (builder, self->last_duration_us / 1000.0);
	json_builder_set_member_name (builder, "last_bytes");
	json_builder_add_int_value (builder, (gint64) self->last_bytes);
	json_builder_set_member_name (builder, "runs");
	json_builder_add_int_value (builder, (gint64) self->runs);
	json_builder_set_member_name (builder, "failures");
	json_builder_add_int_value (builder, (gint64) self->failures);
	json_builder_set_member_name (builder, "persisters");
	json_builder_begin_array (builder);
	for (guint i = 0; i < self->status->len; i++) {
		PersisterStatus *st = &g_array_index (self->status, PersisterStatus, i);

		json_builder_begin_object (builder);
		json_builder_set_member_name (builder, "name");
		json_builder_add_string_value (builder, st->name);
		add_ms_or_null (builder, "last_success_ms", st->last_success_ms);
		json_builder_set_member_name (builder, "last_success_seq");
		if (st->last_success_ms > 0)
			json_builder_add_int_value (builder, (gint64) st->last_success_seq);
		else
			json_builder_add_null_value (builder);
		add_string_or_null (builder, "last_error", st->last_error);
		json_builder_end_object (builder);
	}
	json_builder_end_array (builder);
	json_builder_set_member_name (builder, "restore");
	json_builder_begin_object (builder);
	json_builder_set_member_name (builder, "plans_restored");
	json_builder_add_int_value (builder, self->n_restored);
	json_builder_set_member_name (builder, "snapshot_seq");
	if (self->n_restored > 0)
		json_builder_add_int_value (builder, (gint64) self->restore_seq);
	else
		json_builder_add_null_value (builder);
	json_builder_set_member_name (builder, "replayed_events");
	json_builder_add_int_value (builder, (gint64) self->replayed);
	json_builder_set_member_name (builder, "replayed_seqs");
	if (self->replayed > 0) {
		json_builder_begin_array (builder);
		json_builder_add_int_value (builder, (gint64) self->replay_first);
		json_builder_add_int_value (builder, (gint64) self->replay_last);
		json_builder_end_array (builder);
	} else {
		json_builder_add_null_value (builder);
	}
	add_string_or_null (builder, "replayed_from", self->replay_store);
	add_string_or_null (builder, "unrecovered", self->unrecovered);
	json_builder_end_object (builder);
	json_builder_end_object (builder);
}
