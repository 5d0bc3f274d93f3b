/* tandem-durable.c: acknowledgements that wait for the event store (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * With `[cluster] ack = durable` a client's acknowledgement waits until
 * every store keeping raw events has committed them: the events then
 * survive the loss of every node at once (kill -9 of both nodes, a power
 * cut), and a restart replays them from the store on top of the snapshots.
 *
 * One thread does the waiting.  While acknowledgements wait, it takes the
 * seq P the engine has published up to (the engine hands a batch's events
 * to the stores before P moves past them), asks every event store to flush
 * (a flush commits everything queued so far, so every event up to P), then
 * tells the main thread that everything up to P is durable.  Requests that
 * arrive while a flush runs are covered by the next one: one commit serves
 * every request that waited for it (group commit).
 *
 * Publishing is what the active does once the passive holds the events
 * (ack = replicated), so a durable acknowledgement also implies the
 * replicated one whenever a passive is in sync.
 */
#define G_LOG_DOMAIN "Tandem"

#include "tandem-durable.h"
#include "tandem-error.h"
#include "tandem-plugin.h"
#include "tandem-store.h"

/* how long the thread waits for the engine to publish before it looks
 * again whether it should stop */
#define PUBLISH_WAIT_US (100 * G_TIME_SPAN_MILLISECOND)

typedef struct {
	guint64 last_seq;
	gint64 deadline_us; /* monotonic */
	GTask *task;
} Waiter;

struct _TandemDurable {
	TandemPipeline *pipeline; /* unowned: the node's */
	GPtrArray *stores;        /* of TandemStore keeping events */
	GMainContext *context;
	GThread *thread;
	GCancellable *cancellable;

	/* main thread only */
	GQueue waiters; /* of Waiter, by last_seq */
	guint timeout_ms;
	GSource *timer; /* the earliest deadline of the waiters */

	/* shared with the thread */
	GMutex lock;
	GCond cond;
	guint64 wanted;  /* the highest seq a waiter needs */
	guint64 durable; /* everything up to this is committed */
	guint64 failed_from; /* the events after this, */
	guint64 failed_upto; /* up to this, are not known to be kept: */
	char *failure;       /* why */
	guint64 commits;
	gboolean stopping;
	GSource *notify; /* pending on the main context */
};

static void
waiter_finish (Waiter *w, GError *error)
{
	if (error != NULL)
		g_task_return_error (w->task, error);
	else
		g_task_return_boolean (w->task, TRUE);
	g_object_unref (w->task);
	g_free (w);
}

/* main thread: what the thread found out */
static gboolean
on_notify (gpointer data)
{
	TandemDurable *self = data;
	g_autofree char *failure = NULL;
	guint64 durable, failed_from, failed_upto;
	Waiter *w;

	g_mutex_lock (&self->lock);
	g_clear_pointer (&self->notify, g_source_unref);
	durable = self->durable;
	failed_from = self->failed_from;
	failed_upto = self->failed_upto;
	failure = g_steal_pointer (&self->failure);
	g_mutex_unlock (&self->lock);

	while ((w = g_queue_peek_head (&self->waiters)) != NULL && w->last_seq <= durable) {
		g_queue_pop_head (&self->waiters);
		if (failure != NULL && w->last_seq > failed_from && w->last_seq <= failed_upto)
			waiter_finish (w, g_error_new (TANDEM_ERROR, TANDEM_ERROR_FAILED,
						       "the event store may not have kept the events up to seq "
						       "%" G_GUINT64_FORMAT ": %s",
						       failed_upto, failure));
		else
			waiter_finish (w, NULL);
	}
	return G_SOURCE_REMOVE;
}

/* with the lock held */
static void
schedule_notify (TandemDurable *self)
{
	if (self->notify != NULL)
		return;
	self->notify = g_idle_source_new ();
	g_source_set_priority (self->notify, G_PRIORITY_DEFAULT);
	g_source_set_callback (self->notify, on_notify, self, NULL);
	g_source_set_static_name (self->notify, "[tandem] durable acknowledgements");
	g_source_attach (self->notify, self->context);
}

static gboolean
flush_stores (TandemDurable *self, GError **error)
{
	for (guint i = 0; i < self->stores->len; i++) {
		TandemStore *store = g_ptr_array_index (self->stores, i);

		if (!tandem_store_flush (store, self->cancellable, error)) {
			g_prefix_error (error, "[store.%s]: ", tandem_plugin_get_name (TANDEM_PLUGIN (store)));
			return FALSE;
		}
	}
	return TRUE;
}

static gpointer
durable_thread (gpointer data)
{
	TandemDurable *self = data;

	g_mutex_lock (&self->lock);
	while (!self->stopping) {
		guint64 durable = self->durable;
		guint64 published;
		g_autoptr (GError) error = NULL;
		gboolean ok;

		if (self->wanted <= durable) {
			g_cond_wait (&self->cond, &self->lock);
			continue;
		}
		g_mutex_unlock (&self->lock);
		published = tandem_pipeline_wait_published (self->pipeline, durable,
							    g_get_monotonic_time () + PUBLISH_WAIT_US);
		if (published <= durable) {
			g_mutex_lock (&self->lock);
			continue;
		}
		ok = flush_stores (self, &error);
		g_mutex_lock (&self->lock);
		self->commits++;
		if (ok) {
			self->durable = MAX (self->durable, published);
		} else if (!self->stopping) {
			g_warning ("Acknowledgements (ack = durable) up to seq %" G_GUINT64_FORMAT " fail: %s", published,
				   error->message);
			if (self->failure == NULL)
				self->failed_from = durable;
			g_free (self->failure);
			self->failure = g_strdup (error->message);
			self->failed_upto = published;
			/* what failed is not waited for again */
			self->durable = MAX (self->durable, published);
		}
		schedule_notify (self);
	}
	g_mutex_unlock (&self->lock);
	return NULL;
}

TandemDurable *
tandem_durable_new (TandemPipeline *pipeline, GPtrArray *stores, guint timeout_ms)
{
	TandemDurable *self = g_new0 (TandemDurable, 1);

	self->pipeline = pipeline;
	self->timeout_ms = timeout_ms;
	self->stores = g_ptr_array_new_with_free_func (g_object_unref);
	for (guint i = 0; i < stores->len; i++)
		g_ptr_array_add (self->stores, g_object_ref (g_ptr_array_index (stores, i)));
	self->context = g_main_context_ref_thread_default ();
	self->cancellable = g_cancellable_new ();
	g_mutex_init (&self->lock);
	g_cond_init (&self->cond);
	/* nothing to wait for below what the engine published already */
	self->durable = tandem_pipeline_get_published_seq (pipeline);
	self->thread = g_thread_new ("tandem-durable", durable_thread, self);
	return self;
}

void
tandem_durable_fail_waiting (TandemDurable *self, const GError *error)
{
	Waiter *w;

	while ((w = g_queue_pop_head (&self->waiters)) != NULL)
		waiter_finish (w, g_error_copy (error));
}

void
tandem_durable_free (TandemDurable *self)
{
	g_autoptr (GError) error = NULL;

	if (self == NULL)
		return;
	g_mutex_lock (&self->lock);
	self->stopping = TRUE;
	g_cond_broadcast (&self->cond);
	g_mutex_unlock (&self->lock);
	tandem_pipeline_wake_published (self->pipeline);
	/* a flush waiting for a database that is down gives up */
	g_cancellable_cancel (self->cancellable);
	g_thread_join (self->thread);
	if (self->timer != NULL) {
		g_source_destroy (self->timer);
		g_source_unref (self->timer);
	}
	if (self->notify != NULL) {
		g_source_destroy (self->notify);
		g_source_unref (self->notify);
	}
	error = g_error_new_literal (TANDEM_ERROR, TANDEM_ERROR_BUSY,
				     "the node stopped before the event store confirmed the events");
	tandem_durable_fail_waiting (self, error);
	g_free (self->failure);
	g_mutex_clear (&self->lock);
	g_cond_clear (&self->cond);
	g_object_unref (self->cancellable);
	g_main_context_unref (self->context);
	g_ptr_array_unref (self->stores);
	g_free (self);
}

static gboolean on_timer (gpointer data);

/* main thread: a timer for the earliest deadline of the waiters, if any */
static void
arm_timer (TandemDurable *self)
{
	gint64 earliest = G_MAXINT64;

	if (self->timer != NULL) {
		g_source_destroy (self->timer);
		g_clear_pointer (&self->timer, g_source_unref);
	}
	for (GList *l = self->waiters.head; l != NULL; l = l->next)
		earliest = MIN (earliest, ((Waiter *) l->data)->deadline_us);
	if (earliest == G_MAXINT64)
		return;
	self->timer = g_timeout_source_new ((guint) CLAMP ((earliest - g_get_monotonic_time ()) / 1000 + 1, 1,
							    G_MAXUINT));
	g_source_set_callback (self->timer, on_timer, self, NULL);
	g_source_set_static_name (self->timer, "[tandem] durable acknowledgement timeout");
	g_source_attach (self->timer, self->context);
}

/* main thread: waiters the event stores did not answer in time (a
 * database that is down: the store writer keeps trying) */
static gboolean
on_timer (gpointer data)
{
	TandemDurable *self = data;
	gint64 now = g_get_monotonic_time ();
	GList *l = self->waiters.head;
	guint failed = 0;

	g_clear_pointer (&self->timer, g_source_unref);
	while (l != NULL) {
		GList *next = l->next;
		Waiter *w = l->data;

		if (w->deadline_us <= now) {
			g_queue_delete_link (&self->waiters, l);
			waiter_finish (w, g_error_new (TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT,
						       "the event store did not confirm the events within %u ms (it "
						       "may be unavailable); they may be kept: send them again with "
						       "the same event ids",
						       self->timeout_ms));
			failed++;
		}
		l = next;
	}
	if (failed > 0)
		g_warning ("Acknowledgements (ack = durable): %u request(s) got no confirmation from the event "
			   "store within %u ms (durable_timeout_ms)",
			   failed, self->timeout_ms);
	arm_timer (self);
	return G_SOURCE_REMOVE;
}

void
tandem_durable_wait (TandemDurable *self, guint64 last_seq, GTask *task)
{
	Waiter *w;
	GList *after;

	g_mutex_lock (&self->lock);
	if (last_seq <= self->durable) {
		g_mutex_unlock (&self->lock);
		g_task_return_boolean (task, TRUE);
		return;
	}
	if (last_seq > self->wanted) {
		self->wanted = last_seq;
		g_cond_signal (&self->cond);
	}
	g_mutex_unlock (&self->lock);

	w = g_new0 (Waiter, 1);
	w->last_seq = last_seq;
	w->deadline_us = g_get_monotonic_time () + (gint64) self->timeout_ms * 1000;
	w->task = g_object_ref (task);
	/* by seq: nearly always the last (a repeat acknowledged again may
	 * wait for an older seq) */
	for (after = self->waiters.tail; after != NULL && ((Waiter *) after->data)->last_seq > last_seq;
	     after = after->prev)
		;
	if (after == NULL)
		g_queue_push_head (&self->waiters, w);
	else
		g_queue_insert_after (&self->waiters, after, w);
	if (self->timer == NULL)
		arm_timer (self);
}

guint64
tandem_durable_get_seq (TandemDurable *self)
{
	guint64 seq;

	g_mutex_lock (&self->lock);
	seq = self->durable;
	g_mutex_unlock (&self->lock);
	return seq;
}

guint
tandem_durable_get_n_waiting (TandemDurable *self)
{
	return self->waiters.length;
}

guint64
tandem_durable_get_n_commits (TandemDurable *self)
{
	guint64 n;

	g_mutex_lock (&self->lock);
	n = self->commits;
	g_mutex_unlock (&self->lock);
	return n;
}
