/* tandem-ha-replication.c: the event stream from the active to the passive
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-HA"

#include "config.h"

#include <string.h>

#include "tandem-error.h"
#include "tandem-event-private.h"
#include "tandem-ha-replication.h"
#include "tandem-ha-wire.h"
#include "tandem-store.h"

static gboolean
need_bytes (TandemWireReader *r, gsize n)
{
	return r->ok && (gsize) (r->end - r->p) >= n;
}

static void start_sync (TandemReplication *self, const char *node_id);
static void update_pressure (TandemReplication *self);
static void advertise (TandemReplication *self);
static void check_in_sync (TandemReplication *self);
static void send_hello (TandemReplication *self);

/*
 * The active sequences every accepted event and streams it to the passive
 * in DATA frames of the heartbeat channel (authenticated, ordered while a
 * session lasts).  Messages, each one DATA frame whose first byte says what
 * it is (integers little-endian, strings as u32 length and bytes):
 *
 *   'H' passive -> active   u64 the seq after the last event it holds:
 *                           "send me from here"
 *   'E' active -> passive   u64 the seq of the event the active sequenced
 *                           just before (its sequence may jump), u32
 *                           epoch, string stream, string request key,
 *                           u32 n, then n times: string event id, event
 *   'A' passive -> active   u64 seq: it holds every event up to seq
 *   'P' active -> passive   u64 seq: the outputs of every event up to seq
 *                           are published and committed in the stores
 *   'N' active -> all       u64 epoch: this node became active; a node
 *                           that follows it asks again ('H') from where
 *                           it is (its earlier request may have reached
 *                           it before it was active, or it was dropped)
 *   'R' active -> passive   u64 seq: resumed, events from seq follow
 *   'X' active -> passive   string reason: it cannot resume from there
 *   'S' active -> passive   u64 seq S, u64 total bytes, u32 chunks: the
 *                           state of every plan at S follows (a joining
 *                           node, or one too far behind, syncs): u32 n,
 *                           n times string plan, u64 seq, blob state;
 *                           then u32 k, k times string key, u64 first
 *                           seq, u32 events, u64 ms it is remembered
 *                           still (the idempotency keys and event ids)
 *   'C' active -> passive   u32 index, blob: a chunk of the state
 *   'Z' active -> passive   32 bytes: SHA-256 of the whole state; events
 *                           from S + 1 follow
 *   'F' passive -> active   u32 request, string stream, string key, u32 n,
 *                           n times: string id, event: a client's batch
 *   'f' active -> passive   u32 request, u8 ok, u64 first seq, u32 new,
 *                           u32 error code, string message
 *
 * The active keeps what it sent until the passive acknowledges it, and
 * sends it again from wherever the passive says after a reconnection.  It
 * publishes the outputs of an event only once the passive holds the event,
 * so a passive that takes over holds everything ever published and
 * continues the sequence after it; the passive keeps the outputs of what it
 * holds until the active says they are published, and publishes the rest
 * when it takes over.  The stores' keys are idempotent, so what both
 * published around a takeover is written once.
 */

#define LOG_LIMIT_BYTES (256u * 1024 * 1024)
/* past this much unacknowledged, the node stops taking events until the
 * passive catches up to half of it: a slow passive slows the cluster down
 * (in either ack mode) instead of falling out of sync */
#define LOG_HIGH_WATER_BYTES (64u * 1024 * 1024)
#define SEND_WINDOW_BYTES (1024u * 1024)
#define FRAME_TARGET_BYTES (256u * 1024)
#define PUBLISHED_INTERVAL_MS 100
#define SYNC_CHUNK_BYTES (512u * 1024)

typedef enum {
	ROLE_IDLE,
	ROLE_ACTIVE,
	ROLE_PASSIVE,
} Role;

typedef struct {
	guint64 prev_seq; /* the event this node sequenced just before */
	guint64 first_seq;
	guint64 last_seq;
	GBytes *frame;
} LogEntry;

typedef struct {
	guint64 last_seq;
	GTask *task;
} Waiter;

struct _TandemReplication {
	TandemPipeline *pipeline;
	GPtrArray *stores;
	TandemHaChannel *channel;
	TandemAckMode ack_mode;
	Role role;
	guint32 epoch;
	gulong handlers[3];

	/* active */
	GQueue log;	     /* of LogEntry, unacknowledged, oldest first */
	gsize log_bytes;
	GList *next_to_send; /* in log, or NULL when all is sent */
	char *passive;	     /* the passive following us, or NULL */
	gboolean in_sync;    /* every acknowledged event is held by the passive or committed */
	guint64 local_high;  /* the last seq acknowledged without the passive */
	guint64 logged_seq;  /* the last event put into the log (or held when active) */
	guint64 commit_need; /* in sync once the stores committed up to here */
	gboolean state_unconfirmed; /* a state was sent: not in sync before the passive acknowledges it */
	guint64 acked_seq;
	GQueue waiters; /* of Waiter, by last_seq */
	guint published_source;
	guint64 published_sent;
	gboolean flushing;
	GCancellable *cancellable;

	/* passive */
	char *active;
	gboolean hello_sent;
	gboolean following; /* the active resumed us from where we were */
	guint64 published_seen;
	guint32 next_request;
	GHashTable *forwards; /* request -> GTask */

	/* active: a state sync being sent */
	char *sync_to;
	GBytes *sync_state;
	gsize sync_offset;
	guint sync_index;
	guint64 sync_seq;
	gboolean sync_snapshotting;
	guint sync_source;

	/* passive: a state sync being received */
	GByteArray *sync_in;
	guint64 sync_in_seq;
	guint64 sync_in_total;
	guint sync_in_next;
	TandemReplicationSyncedFunc synced;
	gpointer synced_data;

	TandemReplicationPressureFunc pressure;
	gpointer pressure_data;
	TandemReplicationReservedFunc reserved_func;
	gpointer reserved_data;
	gboolean pressed;

	TandemReplicationIngestFunc ingest;
	TandemReplicationIngestFinishFunc ingest_finish;
	gpointer ingest_data;
};

static void
log_entry_free (LogEntry *e)
{
	g_bytes_unref (e->frame);
	g_free (e);
}

static void
send_bytes (TandemReplication *self, const char *node_id, GByteArray *b)
{
	g_autoptr(GBytes) bytes = g_byte_array_free_to_bytes (b);
	g_autoptr(GError) error = NULL;

	if (!tandem_ha_channel_send_data (self->channel, node_id, bytes, &error))
		g_debug ("replication: cannot send to %s: %s", node_id, error->message);
}

/* --- the active ------------------------------------------------------------ */

static void
complete_waiters (TandemReplication *self, guint64 upto)
{
	Waiter *w;

	while ((w = g_queue_peek_head (&self->waiters)) != NULL && w->last_seq <= upto) {
		g_queue_pop_head (&self->waiters);
		g_task_return_boolean (w->task, TRUE);
		g_object_unref (w->task);
		g_free (w);
	}
}

/* No in-sync passive: what waited for it is acknowledged locally and the
 * outputs go out without it */
static void
lose_passive (TandemReplication *self, const char *why)
{
	if (self->passive != NULL && self->in_sync)
		g_message ("Replication: passive %s is no longer in sync (%s); acknowledging locally", self->passive,
			   why);
	g_clear_pointer (&self->passive, g_free);
	self->in_sync = FALSE;
	self->next_to_send = NULL;
	self->local_high = tandem_pipeline_get_last_seq (self->pipeline);
	complete_waiters (self, G_MAXUINT64);
	update_pressure (self);
	advertise (self);
	if (self->role == ROLE_ACTIVE)
		tandem_pipeline_set_release_seq (self->pipeline, G_MAXUINT64);
}

/* The active advertises, in its heartbeats, the seqs it reserved and which
 * passive is in sync: a node taking over continues above what the old
 * active may have given out, unless it was in sync with it */
static void
advertise (TandemReplication *self)
{
	if (self->reserved_func == NULL || self->role != ROLE_ACTIVE)
		return;
	self->reserved_func (tandem_pipeline_get_reserved_seq (self->pipeline),
			     self->in_sync ? self->passive : NULL, self->reserved_data);
}

/* Pauses the node's intake while the passive lags too far behind */
static void
update_pressure (TandemReplication *self)
{
	gboolean full;

	if (self->pressed)
		full = self->passive != NULL && self->log_bytes > LOG_HIGH_WATER_BYTES / 2;
	else
		full = self->passive != NULL && self->log_bytes > LOG_HIGH_WATER_BYTES;
	if (full == self->pressed)
		return;
	self->pressed = full;
	if (full)
		g_message ("Replication: passive %s is %" G_GSIZE_FORMAT " MiB behind: pausing the receivers until it "
			   "catches up",
			   self->passive, self->log_bytes >> 20);
	else
		g_message ("Replication: the passive caught up: resuming the receivers");
	if (self->pressure != NULL)
		self->pressure (full, self->pressure_data);
}

static void
trim_log (TandemReplication *self)
{
	LogEntry *e;

	while ((e = g_queue_peek_head (&self->log)) != NULL &&
	       (e->last_seq <= self->acked_seq || (self->log_bytes > LOG_LIMIT_BYTES && self->passive == NULL))) {
		if (self->next_to_send == self->log.head)
			self->next_to_send = self->next_to_send->next;
		self->log_bytes -= g_bytes_get_size (e->frame);
		log_entry_free (g_queue_pop_head (&self->log));
	}
	if (self->log_bytes > LOG_LIMIT_BYTES && self->passive != NULL) {
		g_autoptr(GByteArray) b = g_byte_array_new ();

		g_warning ("Replication: passive %s is more than %u MiB behind; it must sync again", self->passive,
			   LOG_LIMIT_BYTES >> 20);
		tandem_wire_put_u8 (b, 'X');
		tandem_wire_put_string (b, "too far behind");
		send_bytes (self, self->passive, g_steal_pointer (&b));
		lose_passive (self, "too far behind");
		trim_log (self);
	}
	update_pressure (self);
}

static void
pump (TandemReplication *self)
{
	while (self->passive != NULL && self->next_to_send != NULL &&
	       tandem_ha_channel_get_queued (self->channel, self->passive) < SEND_WINDOW_BYTES) {
		LogEntry *e = self->next_to_send->data;
		g_autoptr(GError) error = NULL;

		if (!tandem_ha_channel_send_data (self->channel, self->passive, e->frame, &error)) {
			lose_passive (self, error->message);
			return;
		}
		self->next_to_send = self->next_to_send->next;
	}
}

/* a batch: epoch, stream, request key, n, then (id, event) n times */
static void
encode_batch (GByteArray *b,
	      guint32 epoch,
	      const char *stream,
	      const char *key,
	      GPtrArray *events,
	      guint from,
	      guint to,
	      const char *const *event_ids)
{
	tandem_wire_put_u32 (b, epoch);
	tandem_wire_put_string (b, stream);
	tandem_wire_put_string (b, key != NULL ? key : "");
	tandem_wire_put_u32 (b, to - from);
	for (guint i = from; i < to; i++) {
		tandem_wire_put_string (b, event_ids != NULL ? event_ids[i] : "");
		tandem_wire_put_event (b, g_ptr_array_index (events, i));
	}
}

/* The pipeline accepted a batch (main thread) */
static void
on_replicate (const char *stream,
	      GPtrArray *events,
	      const char *const *event_ids,
	      const char *idempotency_key,
	      gpointer user_data)
{
	TandemReplication *self = user_data;
	guint from = 0;

	if (self->role != ROLE_ACTIVE)
		return;
	if (!self->in_sync)
		self->local_high = ((TandemEvent *) g_ptr_array_index (events, events->len - 1))->seq;
	/* frames of a bounded size; the request key goes with the first */
	while (from < events->len) {
		GByteArray *b = g_byte_array_new ();
		LogEntry *e = g_new0 (LogEntry, 1);
		guint to = from;
		gsize size = 0;

		while (to < events->len && (to == from || size < FRAME_TARGET_BYTES)) {
			TandemEvent *ev = g_ptr_array_index (events, to);

			size += 32 + ev->n_values * 12;
			to++;
		}
		e->prev_seq = self->logged_seq;
		e->first_seq = ((TandemEvent *) g_ptr_array_index (events, from))->seq;
		tandem_wire_put_u8 (b, 'E');
		/* the sequence may jump (a restart, a take-over above the old
		 * active's reservation): the passive checks it holds prev */
		tandem_wire_put_u64 (b, e->prev_seq);
		encode_batch (b, self->epoch, stream, from == 0 ? idempotency_key : NULL, events, from, to,
			      event_ids);
		e->last_seq = ((TandemEvent *) g_ptr_array_index (events, to - 1))->seq;
		self->logged_seq = e->last_seq;
		e->frame = g_byte_array_free_to_bytes (b);
		self->log_bytes += g_bytes_get_size (e->frame);
		g_queue_push_tail (&self->log, e);
		if (self->next_to_send == NULL && self->passive != NULL)
			self->next_to_send = self->log.tail;
		from = to;
	}
	pump (self);
	trim_log (self);
}

static void
sync_clear (TandemReplication *self)
{
	g_clear_pointer (&self->sync_to, g_free);
	g_clear_pointer (&self->sync_state, g_bytes_unref);
	if (self->sync_source != 0) {
		g_source_remove (self->sync_source);
		self->sync_source = 0;
	}
}

static gboolean sync_pump (gpointer data);

/* Sends the state in chunks while the channel has room; the events after
 * the state follow from the log once it is all out */
static gboolean
sync_pump (gpointer data)
{
	TandemReplication *self = data;

	while (self->sync_to != NULL && self->sync_state != NULL &&
	       tandem_ha_channel_get_queued (self->channel, self->sync_to) < SEND_WINDOW_BYTES) {
		gsize total = 0;
		const guint8 *state = g_bytes_get_data (self->sync_state, &total);
		GByteArray *b = g_byte_array_new ();

		if (self->sync_offset < total) {
			gsize n = MIN (SYNC_CHUNK_BYTES, total - self->sync_offset);

			tandem_wire_put_u8 (b, 'C');
			tandem_wire_put_u32 (b, self->sync_index++);
			tandem_wire_put_blob (b, state + self->sync_offset, n);
			self->sync_offset += n;
			send_bytes (self, self->sync_to, b);
			continue;
		}
		{
			g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
			guint8 digest[32];
			gsize len = sizeof digest;
			LogEntry *oldest = g_queue_peek_head (&self->log);

			g_checksum_update (sum, state, (gssize) total);
			g_checksum_get_digest (sum, digest, &len);
			tandem_wire_put_u8 (b, 'Z');
			g_byte_array_append (b, digest, sizeof digest);
			send_bytes (self, self->sync_to, b);
			/* from now on it follows like any passive */
			if (oldest != NULL && oldest->prev_seq > self->sync_seq) {
				g_warning ("Replication: the log no longer holds seq %" G_GUINT64_FORMAT
					   "; %s must sync again",
					   self->sync_seq + 1, self->sync_to);
				sync_clear (self);
				return G_SOURCE_REMOVE;
			}
			g_free (self->passive);
			self->passive = g_strdup (self->sync_to);
			self->in_sync = FALSE;
			self->acked_seq = self->sync_seq;
			/* the outputs of what it got as a state are only here:
			 * in sync once the stores committed them */
			self->commit_need = self->sync_seq;
			self->state_unconfirmed = TRUE;
			self->next_to_send = NULL;
			for (GList *l = self->log.head; l != NULL; l = l->next) {
				if (((LogEntry *) l->data)->last_seq > self->sync_seq) {
					self->next_to_send = l;
					break;
				}
			}
			g_message ("Replication: state at seq %" G_GUINT64_FORMAT " (%" G_GSIZE_FORMAT
				   " bytes) sent to %s; it follows from seq %" G_GUINT64_FORMAT,
				   self->sync_seq, total, self->sync_to, self->sync_seq + 1);
			self->sync_source = 0;
			sync_clear (self);
			pump (self);
			return G_SOURCE_REMOVE;
		}
	}
	if (self->sync_to == NULL)
		return G_SOURCE_REMOVE;
	if (self->sync_source == 0)
		self->sync_source = g_timeout_add (5, sync_pump, self);
	return G_SOURCE_CONTINUE;
}

typedef struct {
	GByteArray *b;
	guint32 n;
} RememberedOut;

static void
put_remembered (const char *key, guint64 first_seq, guint n, gint64 remaining_us, gpointer data)
{
	RememberedOut *out = data;

	tandem_wire_put_string (out->b, key);
	tandem_wire_put_u64 (out->b, first_seq);
	tandem_wire_put_u32 (out->b, n);
	tandem_wire_put_u64 (out->b, (guint64) remaining_us / 1000);
	out->n++;
}

static void
sync_snapshot_done (GObject *source, GAsyncResult *result, gpointer data)
{
	TandemReplication *self = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) states = NULL;
	GByteArray *state;
	GByteArray *b;
	guint64 seq = 0;
	guint chunks;

	(void) source;
	states = tandem_pipeline_snapshot_finish (result, &seq, &error);
	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	self->sync_snapshotting = FALSE;
	if (states == NULL || self->sync_to == NULL || self->role != ROLE_ACTIVE) {
		if (error != NULL)
			g_warning ("Replication: cannot take the state for %s: %s", self->sync_to, error->message);
		sync_clear (self);
		return;
	}
	state = g_byte_array_new ();
	tandem_wire_put_u32 (state, states->len);
	for (guint i = 0; i < states->len; i++) {
		TandemPipelineState *st = g_ptr_array_index (states, i);
		gsize len = 0;
		const guint8 *data_ = g_bytes_get_data (st->state, &len);

		tandem_wire_put_string (state, st->plan);
		tandem_wire_put_u64 (state, st->seq);
		tandem_wire_put_blob (state, data_, len);
	}
	/* then the request keys and event ids this node remembers, so that a
	 * client repeating an event acknowledged before the sync is
	 * acknowledged again by the passive once it takes over, and not
	 * ingested twice */
	{
		RememberedOut out = { g_byte_array_new (), 0 };

		tandem_pipeline_foreach_remembered (self->pipeline, put_remembered, &out);
		tandem_wire_put_u32 (state, out.n);
		g_byte_array_append (state, out.b->data, out.b->len);
		g_byte_array_unref (out.b);
	}
	self->sync_seq = seq;
	self->sync_offset = 0;
	self->sync_index = 0;
	chunks = (state->len + SYNC_CHUNK_BYTES - 1) / SYNC_CHUNK_BYTES;
	b = g_byte_array_new ();
	tandem_wire_put_u8 (b, 'S');
	tandem_wire_put_u64 (b, seq);
	tandem_wire_put_u64 (b, state->len);
	tandem_wire_put_u32 (b, chunks);
	self->sync_state = g_byte_array_free_to_bytes (state);
	send_bytes (self, self->sync_to, b);
	sync_pump (self);
}

static void
start_sync (TandemReplication *self, const char *node_id)
{
	if (self->sync_to != NULL && g_strcmp0 (self->sync_to, node_id) == 0)
		return; /* already under way */
	sync_clear (self);
	if (g_strcmp0 (self->passive, node_id) == 0)
		lose_passive (self, "it syncs again");
	self->sync_to = g_strdup (node_id);
	self->sync_snapshotting = TRUE;
	tandem_pipeline_snapshot_async (self->pipeline, self->cancellable, sync_snapshot_done, self);
}

static void
handle_hello (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	guint64 next = tandem_wire_get_u64 (r);
	guint64 own_next = tandem_pipeline_get_last_seq (self->pipeline) + 1;
	LogEntry *oldest = g_queue_peek_head (&self->log);
	g_autoptr(GByteArray) b = NULL;

	if (!r->ok || self->role != ROLE_ACTIVE)
		return;
	/* what the passive lacks must all be in the log (which starts right
	 * after the event its oldest entry names as the one before) */
	if (next <= own_next && (next == own_next || (oldest != NULL && oldest->prev_seq < next))) {
		if (self->in_sync)
			lose_passive (self, "it connected again");
		g_free (self->passive);
		self->passive = g_strdup (node_id);
		self->acked_seq = next - 1;
		self->commit_need = 0;
		self->state_unconfirmed = FALSE;
		self->next_to_send = NULL;
		for (GList *l = self->log.head; l != NULL; l = l->next) {
			if (((LogEntry *) l->data)->last_seq >= next) {
				self->next_to_send = l;
				break;
			}
		}
		trim_log (self);
		check_in_sync (self);
		g_message ("Replication: passive %s follows from seq %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
			   " events to catch up)",
			   node_id, next, own_next - next);
		b = g_byte_array_new ();
		tandem_wire_put_u8 (b, 'R');
		tandem_wire_put_u64 (b, next);
		send_bytes (self, node_id, g_steal_pointer (&b));
		pump (self);
		return;
	}
	g_message ("Replication: passive %s asks for seq %" G_GUINT64_FORMAT " on, but this node is at %"
		   G_GUINT64_FORMAT " and holds no log from there: sending it the state of every plan",
		   node_id, next, own_next);
	start_sync (self, node_id);
}

/* A following passive is in sync once nothing acknowledged lives only in
 * this node: it holds every event acknowledged since it left, and the
 * stores committed the outputs of what it got as a state */
static void
check_in_sync (TandemReplication *self)
{
	if (self->in_sync || self->passive == NULL || self->state_unconfirmed || self->acked_seq < self->local_high ||
	    self->published_sent < self->commit_need)
		return;
	self->in_sync = TRUE;
	if (self->ack_mode == TANDEM_ACK_REPLICATED)
		tandem_pipeline_set_release_seq (self->pipeline, self->acked_seq);
	g_message ("Replication: passive %s is in sync at seq %" G_GUINT64_FORMAT "; acknowledgements wait for it",
		   self->passive, self->acked_seq);
	advertise (self);
}

static void
handle_ack (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	guint64 seq = tandem_wire_get_u64 (r);

	if (!r->ok || g_strcmp0 (node_id, self->passive) != 0)
		return;
	if (self->state_unconfirmed && seq >= self->commit_need) {
		/* the passive restored the state it was sent: it may be in
		 * sync now, even if nothing else happens */
		self->state_unconfirmed = FALSE;
		check_in_sync (self);
	}
	if (seq <= self->acked_seq)
		return;
	self->acked_seq = seq;
	if (self->in_sync && self->ack_mode == TANDEM_ACK_REPLICATED)
		tandem_pipeline_set_release_seq (self->pipeline, seq);
	complete_waiters (self, seq);
	check_in_sync (self);
	trim_log (self);
	pump (self);
}

typedef struct {
	TandemReplication *self;
	guint64 seq;
	GPtrArray *stores;
} Flush;

static void
flush_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
	Flush *f = data;

	(void) source;
	for (guint i = 0; i < f->stores->len; i++) {
		g_autoptr(GError) error = NULL;

		if (!tandem_store_flush (g_ptr_array_index (f->stores, i), cancellable, &error)) {
			g_task_return_error (task, g_steal_pointer (&error));
			return;
		}
	}
	g_task_return_boolean (task, TRUE);
}

static void
flush_done (GObject *source, GAsyncResult *result, gpointer data)
{
	Flush *f = g_task_get_task_data (G_TASK (result));
	TandemReplication *self = f->self;
	g_autoptr(GError) error = NULL;

	(void) source;
	(void) data;
	if (!g_task_propagate_boolean (G_TASK (result), &error)) {
		if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			self->flushing = FALSE;
		return;
	}
	self->flushing = FALSE;
	self->published_sent = MAX (self->published_sent, f->seq);
	check_in_sync (self);
	if (self->passive != NULL) {
		GByteArray *b = g_byte_array_new ();

		tandem_wire_put_u8 (b, 'P');
		tandem_wire_put_u64 (b, f->seq);
		send_bytes (self, self->passive, b);
	}
}

static void
flush_free (Flush *f)
{
	g_ptr_array_unref (f->stores);
	g_free (f);
}

/* Tells the passive, now and then, up to where the outputs are published
 * and committed: a flush of the stores first, so that it is true */
static gboolean
on_published_timer (gpointer data)
{
	TandemReplication *self = data;
	guint64 seq = tandem_pipeline_get_published_seq (self->pipeline);
	g_autoptr(GTask) task = NULL;
	Flush *f;

	advertise (self);

	if (self->role != ROLE_ACTIVE || self->passive == NULL || self->flushing || seq <= self->published_sent)
		return G_SOURCE_CONTINUE;
	/* (a node without stores commits nothing: what it published is out) */
	f = g_new0 (Flush, 1);
	f->self = self;
	f->seq = seq;
	f->stores = g_ptr_array_ref (self->stores);
	self->flushing = TRUE;
	task = g_task_new (NULL, self->cancellable, flush_done, NULL);
	g_task_set_task_data (task, f, (GDestroyNotify) flush_free);
	g_task_run_in_thread (task, flush_thread);
	return G_SOURCE_CONTINUE;
}

/* --- forwarding ------------------------------------------------------------- */

typedef struct {
	TandemReplication *self;
	char *node_id;
	guint32 request;
	GCancellable *cancellable;
} ForwardReply;

static void
forward_reply_free (ForwardReply *fr)
{
	g_free (fr->node_id);
	g_object_unref (fr->cancellable);
	g_free (fr);
}

static void
forward_ingested (GObject *source, GAsyncResult *result, gpointer data)
{
	ForwardReply *fr = data;
	g_autoptr(GError) error = NULL;
	guint64 first = 0;
	guint n_new = 0;
	gboolean ok;
	GByteArray *b;

	(void) source;
	if (g_cancellable_is_cancelled (fr->cancellable)) {
		forward_reply_free (fr);
		return;
	}
	ok = fr->self->ingest_finish (result, &first, &n_new, &error);
	b = g_byte_array_new ();
	tandem_wire_put_u8 (b, 'f');
	tandem_wire_put_u32 (b, fr->request);
	tandem_wire_put_u8 (b, ok ? 1 : 0);
	tandem_wire_put_u64 (b, first);
	tandem_wire_put_u32 (b, n_new);
	tandem_wire_put_u32 (b, ok ? 0 : (error->domain == TANDEM_ERROR ? (guint32) error->code : TANDEM_ERROR_FAILED));
	tandem_wire_put_string (b, ok ? "" : error->message);
	send_bytes (fr->self, fr->node_id, b);
	forward_reply_free (fr);
}

/* decodes the batch of an 'E' or 'F' message after its kind (and request) */
static gboolean
decode_batch (TandemWireReader *r,
	      guint32 *epoch,
	      char **stream,
	      char **key,
	      GPtrArray **events,
	      GPtrArray **ids)
{
	guint32 n;

	*epoch = tandem_wire_get_u32 (r);
	*stream = tandem_wire_get_string (r);
	*key = tandem_wire_get_string (r);
	n = tandem_wire_get_u32 (r);
	if (!r->ok || n > 1000000)
		return FALSE;
	*events = g_ptr_array_new_full (n, (GDestroyNotify) tandem_event_unref);
	*ids = g_ptr_array_new_full (n + 1, g_free);
	for (guint32 i = 0; i < n; i++) {
		char *id = tandem_wire_get_string (r);
		TandemEvent *e = tandem_wire_get_event (r);

		if (id == NULL || e == NULL) {
			g_free (id);
			if (e != NULL)
				tandem_event_unref (e);
			return FALSE;
		}
		g_ptr_array_add (*ids, id);
		g_ptr_array_add (*events, e);
	}
	g_ptr_array_add (*ids, NULL);
	return r->ok && r->p == r->end;
}

static void
handle_forward (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	guint32 request = tandem_wire_get_u32 (r);
	g_autofree char *stream = NULL;
	g_autofree char *key = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GPtrArray) ids = NULL;
	guint32 epoch;
	ForwardReply *fr;

	if (!decode_batch (r, &epoch, &stream, &key, &events, &ids) || self->ingest == NULL) {
		g_warning ("Replication: a malformed forwarded batch from %s", node_id);
		return;
	}
	fr = g_new0 (ForwardReply, 1);
	fr->self = self;
	fr->node_id = g_strdup (node_id);
	fr->request = request;
	fr->cancellable = g_object_ref (self->cancellable);
	self->ingest (stream, events, (const char *const *) ids->pdata, *key != '\0' ? key : NULL, forward_ingested,
		      fr, self->ingest_data);
}

/* --- the passive ------------------------------------------------------------ */

static void
send_hello (TandemReplication *self)
{
	GByteArray *b;

	if (self->role != ROLE_PASSIVE || self->active == NULL)
		return;
	b = g_byte_array_new ();
	tandem_wire_put_u8 (b, 'H');
	/* the seq after the last event it holds (not its next seq: after a
	 * restart that is above the block the previous run reserved, whatever
	 * the state holds) */
	tandem_wire_put_u64 (b, tandem_pipeline_get_last_seq (self->pipeline) + 1);
	send_bytes (self, self->active, b);
	self->hello_sent = TRUE;
}

static void
handle_events (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	g_autofree char *stream = NULL;
	g_autofree char *key = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GPtrArray) ids = NULL;
	g_autoptr(GError) error = NULL;
	guint32 epoch;
	guint64 prev;
	GByteArray *b;

	if (self->role != ROLE_PASSIVE || g_strcmp0 (node_id, self->active) != 0 || self->sync_in != NULL)
		return;
	prev = tandem_wire_get_u64 (r);
	if (!r->ok || !decode_batch (r, &epoch, &stream, &key, &events, &ids)) {
		g_warning ("Replication: a malformed batch from %s; asking again", node_id);
		send_hello (self);
		return;
	}
	if (!tandem_pipeline_apply (self->pipeline, prev, stream, events, (const char *const *) ids->pdata,
				    *key != '\0' ? key : NULL, &error)) {
		g_warning ("Replication: cannot take a batch from %s: %s; asking again", node_id, error->message);
		send_hello (self);
		return;
	}
	b = g_byte_array_new ();
	tandem_wire_put_u8 (b, 'A');
	tandem_wire_put_u64 (b, tandem_pipeline_get_last_seq (self->pipeline));
	send_bytes (self, node_id, b);
}

static void
now_following (TandemReplication *self, guint64 from)
{
	if (self->following)
		return;
	self->following = TRUE;
	g_message ("Replication: following the active %s from seq %" G_GUINT64_FORMAT, self->active, from);
	if (self->synced != NULL)
		self->synced (self->synced_data);
}

static void
handle_resumed (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	guint64 from = tandem_wire_get_u64 (r);

	if (!r->ok || self->role != ROLE_PASSIVE || g_strcmp0 (node_id, self->active) != 0)
		return;
	now_following (self, from);
}

static void
handle_sync_begin (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	guint64 seq = tandem_wire_get_u64 (r);
	guint64 total = tandem_wire_get_u64 (r);

	if (!r->ok || self->role != ROLE_PASSIVE || g_strcmp0 (node_id, self->active) != 0)
		return;
	if (total > G_MAXUINT32) {
		g_warning ("Replication: a state of %" G_GUINT64_FORMAT " bytes is too large", total);
		return;
	}
	if (self->sync_in != NULL)
		g_byte_array_unref (self->sync_in);
	self->sync_in = g_byte_array_sized_new ((guint) total);
	self->sync_in_seq = seq;
	self->sync_in_total = total;
	self->sync_in_next = 0;
	self->following = FALSE;
	g_message ("Replication: receiving the state of the active %s at seq %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT
		   " bytes)",
		   node_id, seq, total);
}

static void
handle_sync_chunk (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	guint32 index = tandem_wire_get_u32 (r);
	gsize len = 0;
	const guint8 *data = tandem_wire_get_blob (r, &len);

	if (!r->ok || self->sync_in == NULL || g_strcmp0 (node_id, self->active) != 0)
		return;
	if (index != self->sync_in_next || self->sync_in->len + len > self->sync_in_total) {
		g_warning ("Replication: the state from %s came out of order; asking again", node_id);
		g_clear_pointer (&self->sync_in, g_byte_array_unref);
		send_hello (self);
		return;
	}
	g_byte_array_append (self->sync_in, data, (guint) len);
	self->sync_in_next++;
}

typedef struct {
	char *key;
	guint64 first_seq;
	guint32 n;
	guint64 remaining_ms;
} RememberedIn;

static RememberedIn *
remembered_new (const char *key, guint64 first_seq, guint32 n, guint64 remaining_ms)
{
	RememberedIn *k = g_new0 (RememberedIn, 1);

	k->key = g_strdup (key);
	k->first_seq = first_seq;
	k->n = n;
	k->remaining_ms = remaining_ms;
	return k;
}

static void
remembered_in_free (RememberedIn *k)
{
	g_free (k->key);
	g_free (k);
}

typedef struct {
	TandemReplication *self; /* valid unless cancellable is cancelled */
	GCancellable *cancellable;
	char *node_id;
	guint64 seq;
	guint n_plans;
	guint n_keys;
} Restored;

static void
on_state_restored (GObject *source, GAsyncResult *result, gpointer data)
{
	Restored *restored = data;
	TandemReplication *self = restored->self;
	g_autoptr(GError) error = NULL;

	(void) source;
	if (!g_cancellable_is_cancelled (restored->cancellable)) {
		if (tandem_pipeline_restore_finish (self->pipeline, result, &error)) {
			g_message ("Replication: state of %u plan(s) at seq %" G_GUINT64_FORMAT
				   " restored from %s, with %u idempotency key(s)",
				   restored->n_plans, restored->seq, restored->node_id, restored->n_keys);
		} else {
			g_warning ("Replication: cannot take the state of %s: %s; asking again", restored->node_id,
				   error->message);
			send_hello (self);
		}
	}
	g_object_unref (restored->cancellable);
	g_free (restored->node_id);
	g_free (restored);
}

static void
handle_sync_end (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	Restored *restored;
	g_autoptr(GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
	g_autoptr(GPtrArray) states = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_pipeline_state_free);
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func ((GDestroyNotify) remembered_in_free);
	g_autoptr(GByteArray) in = NULL;
	g_autoptr(GError) error = NULL;
	guint8 digest[32];
	gsize digest_len = sizeof digest;
	TandemWireReader sr;
	guint32 n;
	GByteArray *b;

	if (self->sync_in == NULL || g_strcmp0 (node_id, self->active) != 0 || !need_bytes (r, 32))
		return;
	in = g_steal_pointer (&self->sync_in);
	g_checksum_update (sum, in->data, in->len);
	g_checksum_get_digest (sum, digest, &digest_len);
	if (in->len != self->sync_in_total || memcmp (digest, r->p, 32) != 0) {
		g_warning ("Replication: the state from %s is damaged (checksum); asking again", node_id);
		send_hello (self);
		return;
	}
	tandem_wire_reader_init (&sr, in->data, in->len);
	n = tandem_wire_get_u32 (&sr);
	for (guint32 i = 0; sr.ok && i < n; i++) {
		g_autofree char *plan = tandem_wire_get_string (&sr);
		guint64 seq = tandem_wire_get_u64 (&sr);
		gsize len = 0;
		const guint8 *data = tandem_wire_get_blob (&sr, &len);

		if (plan != NULL && data != NULL) {
			g_autoptr(GBytes) bytes = g_bytes_new (data, len);

			g_ptr_array_add (states, tandem_pipeline_state_new (plan, seq, bytes));
		}
	}
	if (sr.ok && sr.p < sr.end) {
		guint32 n_keys = tandem_wire_get_u32 (&sr);

		for (guint32 i = 0; sr.ok && i < n_keys; i++) {
			g_autofree char *key = tandem_wire_get_string (&sr);
			guint64 first_seq = tandem_wire_get_u64 (&sr);
			guint32 count = tandem_wire_get_u32 (&sr);
			guint64 remaining_ms = tandem_wire_get_u64 (&sr);

			if (sr.ok && key != NULL)
				g_ptr_array_add (keys, remembered_new (key, first_seq, count, remaining_ms));
		}
	}
	if (!sr.ok) {
		g_warning ("Replication: the state from %s does not parse; asking again", node_id);
		send_hello (self);
		return;
	}
	/* what this node held before is replaced: nothing of it is published */
	tandem_pipeline_discard_through (self->pipeline, MIN (tandem_pipeline_get_last_seq (self->pipeline),
							      self->sync_in_seq));
	if (!tandem_pipeline_continue_after (self->pipeline, self->sync_in_seq, &error)) {
		g_warning ("Replication: cannot take the state of %s: %s", node_id, error->message);
		return;
	}
	/* restored on the engine thread, before the batches that follow: the
	 * main loop goes on meanwhile (heartbeats, the events after S) */
	restored = g_new0 (Restored, 1);
	restored->self = self;
	restored->cancellable = g_object_ref (self->cancellable);
	restored->node_id = g_strdup (node_id);
	restored->seq = self->sync_in_seq;
	restored->n_plans = states->len;
	restored->n_keys = keys->len;
	tandem_pipeline_restore_async (self->pipeline, states, on_state_restored, restored);
	for (guint i = 0; i < keys->len; i++) {
		RememberedIn *k = g_ptr_array_index (keys, i);

		tandem_pipeline_remember (self->pipeline, k->key, k->first_seq, k->n,
					  (gint64) MIN (k->remaining_ms, G_MAXINT64 / 1000) * 1000);
	}
	b = g_byte_array_new ();
	tandem_wire_put_u8 (b, 'A');
	tandem_wire_put_u64 (b, self->sync_in_seq);
	send_bytes (self, node_id, b);
	now_following (self, self->sync_in_seq + 1);
}

static void
handle_published (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	guint64 seq = tandem_wire_get_u64 (r);

	if (!r->ok || self->role != ROLE_PASSIVE || g_strcmp0 (node_id, self->active) != 0)
		return;
	self->published_seen = MAX (self->published_seen, seq);
	tandem_pipeline_discard_through (self->pipeline, seq);
}

static void
handle_cannot_resume (TandemReplication *self, const char *node_id, TandemWireReader *r)
{
	g_autofree char *reason = tandem_wire_get_string (r);

	if (self->role != ROLE_PASSIVE || g_strcmp0 (node_id, self->active) != 0)
		return;
	self->following = FALSE;
	g_warning ("Replication: the active %s cannot send this node what it lacks (%s); asking for its state",
		   node_id, reason != NULL ? reason : "?");
	send_hello (self);
}

static void
handle_forward_result (TandemReplication *self, TandemWireReader *r)
{
	guint32 request = tandem_wire_get_u32 (r);
	gboolean ok = tandem_wire_get_u8 (r) != 0;
	guint64 first = tandem_wire_get_u64 (r);
	guint32 n_new = tandem_wire_get_u32 (r);
	guint32 code = tandem_wire_get_u32 (r);
	g_autofree char *message = tandem_wire_get_string (r);
	GTask *task;

	if (!r->ok)
		return;
	task = g_hash_table_lookup (self->forwards, GUINT_TO_POINTER (request));
	if (task == NULL)
		return;
	g_hash_table_steal (self->forwards, GUINT_TO_POINTER (request));
	if (ok) {
		TandemReplicationForwarded *fw = g_new0 (TandemReplicationForwarded, 1);

		fw->first_seq = first;
		fw->n_new = n_new;
		g_task_return_pointer (task, fw, g_free);
	} else {
		g_task_return_new_error (task, TANDEM_ERROR, (gint) code, "the active refused: %s", message);
	}
	g_object_unref (task);
}

static void
fail_forwards (TandemReplication *self, const char *why)
{
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init (&iter, self->forwards);
	while (g_hash_table_iter_next (&iter, NULL, &value)) {
		/* the active may have taken the batch before it went: the
		 * outcome is unknown, which BUSY ("not taken, retry") would
		 * hide; a client retrying with ids or a key is safe */
		g_task_return_new_error (value, TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT,
					 "the active node %s %s before it answered: the events may or may not "
					 "be ingested; retry with the same event ids or Idempotency-Key",
					 self->active, why);
		g_object_unref (value);
		g_hash_table_iter_steal (&iter);
	}
}

/* --- channel ---------------------------------------------------------------- */

static void
on_data (TandemHaChannel *channel, const char *node_id, GBytes *payload, gpointer data)
{
	TandemReplication *self = data;
	gsize len = 0;
	const guint8 *bytes = g_bytes_get_data (payload, &len);
	TandemWireReader r;

	(void) channel;
	tandem_wire_reader_init (&r, bytes, len);
	switch (tandem_wire_get_u8 (&r)) {
	case 'H':
		handle_hello (self, node_id, &r);
		break;
	case 'E':
		handle_events (self, node_id, &r);
		break;
	case 'A':
		handle_ack (self, node_id, &r);
		break;
	case 'P':
		handle_published (self, node_id, &r);
		break;
	case 'X':
		handle_cannot_resume (self, node_id, &r);
		break;
	case 'R':
		handle_resumed (self, node_id, &r);
		break;
	case 'S':
		handle_sync_begin (self, node_id, &r);
		break;
	case 'C':
		handle_sync_chunk (self, node_id, &r);
		break;
	case 'Z':
		handle_sync_end (self, node_id, &r);
		break;
	case 'F':
		if (self->role == ROLE_ACTIVE)
			handle_forward (self, node_id, &r);
		break;
	case 'f':
		handle_forward_result (self, &r);
		break;
	case 'N':
		if (self->role == ROLE_PASSIVE && g_strcmp0 (node_id, self->active) == 0 && self->sync_in == NULL) {
			self->following = FALSE;
			send_hello (self);
		}
		break;
	default:
		g_debug ("replication: unknown message from %s", node_id);
		break;
	}
}

static void
on_peer_joined (TandemHaChannel *channel, const char *node_id, const char *address, const char *role, gpointer data)
{
	TandemReplication *self = data;

	(void) channel;
	(void) address;
	(void) role;
	if (self->role == ROLE_PASSIVE && g_strcmp0 (node_id, self->active) == 0)
		send_hello (self);
}

static void
on_peer_left (TandemHaChannel *channel, const char *node_id, const char *reason, gboolean died, gpointer data)
{
	TandemReplication *self = data;

	(void) channel;
	(void) died;
	if (self->role == ROLE_ACTIVE && g_strcmp0 (node_id, self->passive) == 0)
		lose_passive (self, reason);
	if (g_strcmp0 (node_id, self->sync_to) == 0)
		sync_clear (self);
	if (self->role == ROLE_PASSIVE && g_strcmp0 (node_id, self->active) == 0) {
		self->following = FALSE;
		if (self->sync_in != NULL) {
			g_warning ("Replication: the active %s left during the state sync (%" G_GUINT64_FORMAT
				   " of %" G_GUINT64_FORMAT " bytes received): this node does not hold its state",
				   node_id, (guint64) self->sync_in->len, self->sync_in_total);
			g_clear_pointer (&self->sync_in, g_byte_array_unref);
		}
		self->hello_sent = FALSE;
		fail_forwards (self, "left");
	}
}

/* --- life cycle ------------------------------------------------------------- */

TandemReplication *
tandem_replication_new (TandemPipeline *pipeline, GPtrArray *stores, TandemHaChannel *channel, TandemAckMode ack_mode)
{
	TandemReplication *self = g_new0 (TandemReplication, 1);

	self->pipeline = pipeline;
	self->stores = g_ptr_array_new_with_free_func (g_object_unref);
	for (guint i = 0; stores != NULL && i < stores->len; i++)
		g_ptr_array_add (self->stores, g_object_ref (g_ptr_array_index (stores, i)));
	self->channel = g_object_ref (channel);
	self->ack_mode = ack_mode;
	self->cancellable = g_cancellable_new ();
	self->forwards = g_hash_table_new (NULL, NULL);
	self->handlers[0] = g_signal_connect (channel, "data", G_CALLBACK (on_data), self);
	self->handlers[1] = g_signal_connect (channel, "peer-joined", G_CALLBACK (on_peer_joined), self);
	self->handlers[2] = g_signal_connect (channel, "peer-left", G_CALLBACK (on_peer_left), self);
	self->published_source = g_timeout_add (PUBLISHED_INTERVAL_MS, on_published_timer, self);
	tandem_pipeline_set_replicator (pipeline, on_replicate, self);
	/* nothing is published before the node knows its role */
	tandem_pipeline_set_release_seq (pipeline, 0);
	return self;
}

void
tandem_replication_free (TandemReplication *self)
{
	if (self == NULL)
		return;
	tandem_pipeline_set_replicator (self->pipeline, NULL, NULL);
	g_cancellable_cancel (self->cancellable);
	g_source_remove (self->published_source);
	sync_clear (self);
	if (self->sync_in != NULL)
		g_byte_array_unref (self->sync_in);
	for (guint i = 0; i < G_N_ELEMENTS (self->handlers); i++)
		g_signal_handler_disconnect (self->channel, self->handlers[i]);
	complete_waiters (self, G_MAXUINT64);
	fail_forwards (self, "stopped");
	g_hash_table_unref (self->forwards);
	g_queue_clear_full (&self->log, (GDestroyNotify) log_entry_free);
	g_object_unref (self->cancellable);
	g_object_unref (self->channel);
	g_ptr_array_unref (self->stores);
	g_free (self->passive);
	g_free (self->active);
	g_free (self);
}

/* Tells every member that this node is active now: a node that follows
 * it asks again from where it is */
static void
announce_active (TandemReplication *self)
{
	g_autoptr(GPtrArray) peers = tandem_ha_channel_dup_peers (self->channel);

	for (guint i = 0; i < peers->len; i++) {
		TandemHaPeer *peer = g_ptr_array_index (peers, i);
		GByteArray *b;

		if (g_strcmp0 (peer->role, "witness") == 0)
			continue;
		b = g_byte_array_new ();
		tandem_wire_put_u8 (b, 'N');
		tandem_wire_put_u64 (b, self->epoch);
		send_bytes (self, peer->node_id, b);
	}
}

void
tandem_replication_become_active (TandemReplication *self, guint64 epoch, guint64 seq_floor)
{
	g_autoptr(GError) error = NULL;
	/* what it holds; its sequence goes on above its next seq, which a
	 * restart moved above the block the previous run reserved */
	guint64 last = tandem_pipeline_get_last_seq (self->pipeline);
	guint64 next;

	if (self->role == ROLE_ACTIVE) {
		self->epoch = (guint32) epoch;
		tandem_pipeline_set_epoch (self->pipeline, (guint32) epoch);
		return;
	}
	fail_forwards (self, "lost its role");
	g_clear_pointer (&self->active, g_free);
	g_clear_pointer (&self->sync_in, g_byte_array_unref);
	self->role = ROLE_ACTIVE;
	self->epoch = (guint32) epoch;
	self->acked_seq = last;
	self->local_high = last;
	self->commit_need = 0;
	self->state_unconfirmed = FALSE;
	self->in_sync = FALSE;
	tandem_pipeline_set_epoch (self->pipeline, (guint32) epoch);
	/* the sequence goes on after the last event this node holds, and
	 * above every seq the old active may have given out: an old active
	 * with no passive in sync published alone, and its seqs must never be
	 * given to other events (the stores key events by seq) */
	self->logged_seq = last;
	next = MAX (tandem_pipeline_get_next_seq (self->pipeline) - 1, seq_floor);
	if (!tandem_pipeline_continue_after (self->pipeline, next, &error))
		g_warning ("Replication: %s", error->message);
	tandem_pipeline_set_release_seq (self->pipeline, G_MAXUINT64);
	announce_active (self);
	g_message ("Replication: this node sequences the cluster's events from seq %" G_GUINT64_FORMAT
		   " (epoch %" G_GUINT64_FORMAT "); it holds them up to %" G_GUINT64_FORMAT
		   ", and publishes what the old active had not confirmed after %" G_GUINT64_FORMAT,
		   next + 1, epoch, last, self->published_seen);
}

void
tandem_replication_become_passive (TandemReplication *self, const char *active_node_id)
{
	if (self->role == ROLE_PASSIVE && g_strcmp0 (self->active, active_node_id) == 0)
		return;
	if (self->role == ROLE_ACTIVE)
		lose_passive (self, "this node is no longer active");
	sync_clear (self);
	g_queue_clear_full (&self->log, (GDestroyNotify) log_entry_free);
	self->log_bytes = 0;
	self->next_to_send = NULL;
	self->role = ROLE_PASSIVE;
	g_free (self->active);
	self->active = g_strdup (active_node_id);
	self->following = FALSE;
	tandem_pipeline_set_release_seq (self->pipeline, 0);
	send_hello (self);
}

void
tandem_replication_become_idle (TandemReplication *self)
{
	if (self->role == ROLE_ACTIVE)
		lose_passive (self, "this node is no longer active");
	fail_forwards (self, "is not followed any more");
	sync_clear (self);
	g_clear_pointer (&self->sync_in, g_byte_array_unref);
	self->role = ROLE_IDLE;
	g_clear_pointer (&self->active, g_free);
	g_queue_clear_full (&self->log, (GDestroyNotify) log_entry_free);
	self->log_bytes = 0;
	self->next_to_send = NULL;
	/* what was not published now never is: another node holds the role */
	tandem_pipeline_set_release_seq (self->pipeline, 0);
	tandem_pipeline_discard_through (self->pipeline, tandem_pipeline_get_last_seq (self->pipeline));
}

gboolean
tandem_replication_must_wait (TandemReplication *self)
{
	if (self->role == ROLE_ACTIVE)
		return self->ack_mode == TANDEM_ACK_REPLICATED && self->in_sync && self->passive != NULL;
	return self->role == ROLE_PASSIVE;
}

void
tandem_replication_wait (TandemReplication *self, guint64 last_seq, GTask *task)
{
	Waiter *w;

	if (!tandem_replication_must_wait (self) || self->role != ROLE_ACTIVE || last_seq <= self->acked_seq) {
		g_task_return_boolean (task, TRUE);
		return;
	}
	w = g_new0 (Waiter, 1);
	w->last_seq = last_seq;
	w->task = g_object_ref (task);
	g_queue_push_tail (&self->waiters, w);
}

gboolean
tandem_replication_can_forward (TandemReplication *self)
{
	return self->role == ROLE_PASSIVE && self->active != NULL && self->following;
}

void
tandem_replication_forward (TandemReplication *self,
			    const char *stream,
			    GPtrArray *events,
			    const char *const *event_ids,
			    const char *idempotency_key,
			    GTask *task)
{
	GByteArray *b;
	guint32 request;
	gsize len;
	g_autoptr(GBytes) bytes = NULL;
	g_autoptr(GError) error = NULL;

	if (!tandem_replication_can_forward (self)) {
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_BUSY,
					 "this node is passive and not connected to the active: retry shortly");
		return;
	}
	request = ++self->next_request;
	b = g_byte_array_new ();
	tandem_wire_put_u8 (b, 'F');
	tandem_wire_put_u32 (b, request);
	encode_batch (b, 0, stream, idempotency_key, events, 0, events->len, event_ids);
	len = b->len;
	bytes = g_byte_array_free_to_bytes (b);
	if (len > TANDEM_HA_MAX_FRAME - 64 ||
	    !tandem_ha_channel_send_data (self->channel, self->active, bytes, &error)) {
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_BUSY,
					 "cannot forward the events to the active %s: %s", self->active,
					 error != NULL ? error->message : "the batch is too large to forward");
		return;
	}
	g_hash_table_insert (self->forwards, GUINT_TO_POINTER (request), g_object_ref (task));
}

void
tandem_replication_set_ingest (TandemReplication *self,
			       TandemReplicationIngestFunc ingest,
			       TandemReplicationIngestFinishFunc finish,
			       gpointer user_data)
{
	self->ingest = ingest;
	self->ingest_finish = finish;
	self->ingest_data = user_data;
}

void
tandem_replication_set_reserved_func (TandemReplication *self, TandemReplicationReservedFunc func, gpointer user_data)
{
	self->reserved_func = func;
	self->reserved_data = user_data;
}

void
tandem_replication_set_pressure_func (TandemReplication *self,
				      TandemReplicationPressureFunc func,
				      gpointer user_data)
{
	self->pressure = func;
	self->pressure_data = user_data;
}

gboolean
tandem_replication_is_pressed (TandemReplication *self)
{
	return self->pressed;
}

void
tandem_replication_set_synced_func (TandemReplication *self, TandemReplicationSyncedFunc func, gpointer user_data)
{
	self->synced = func;
	self->synced_data = user_data;
}

void
tandem_replication_add_status (TandemReplication *self, JsonBuilder *builder)
{
	guint queued = 0;
	guint64 held = 0;

	tandem_pipeline_get_backlog (self->pipeline, &queued, &held);
	json_builder_set_member_name (builder, "replication");
	json_builder_begin_object (builder);
	json_builder_set_member_name (builder, "ack_mode");
	json_builder_add_string_value (builder, self->ack_mode == TANDEM_ACK_REPLICATED ? "replicated" : "local");
	if (self->role == ROLE_ACTIVE) {
		json_builder_set_member_name (builder, "passive");
		if (self->passive != NULL)
			json_builder_add_string_value (builder, self->passive);
		else
			json_builder_add_null_value (builder);
		json_builder_set_member_name (builder, "in_sync");
		json_builder_add_boolean_value (builder, self->in_sync && self->passive != NULL);
		json_builder_set_member_name (builder, "acked_seq");
		json_builder_add_int_value (builder, (gint64) self->acked_seq);
		json_builder_set_member_name (builder, "unacked_bytes");
		json_builder_add_int_value (builder, (gint64) self->log_bytes);
	} else if (self->role == ROLE_PASSIVE) {
		json_builder_set_member_name (builder, "following");
		json_builder_add_boolean_value (builder, self->following);
		json_builder_set_member_name (builder, "active");
		json_builder_add_string_value (builder, self->active);
		json_builder_set_member_name (builder, "published_seen");
		json_builder_add_int_value (builder, (gint64) self->published_seen);
	}
	json_builder_set_member_name (builder, "held_events");
	json_builder_add_int_value (builder, (gint64) held);
	json_builder_set_member_name (builder, "published_seq");
	json_builder_add_int_value (builder, (gint64) tandem_pipeline_get_published_seq (self->pipeline));
	json_builder_end_object (builder);
}

/* --- switchover --------------------------------------------------------------- */

const char *
tandem_replication_get_in_sync_passive (TandemReplication *self)
{
	if (self->role != ROLE_ACTIVE || !self->in_sync)
		return NULL;
	return self->passive;
}

gboolean
tandem_replication_get_drain_state (TandemReplication *self, guint64 *acked_seq, guint64 *published_seq)
{
	if (tandem_replication_get_in_sync_passive (self) == NULL)
		return FALSE;
	*acked_seq = self->acked_seq;
	*published_seq = self->published_sent;
	return TRUE;
}

void
tandem_replication_note_published (TandemReplication *self, const char *active_node_id, guint64 seq)
{
	if (self->role != ROLE_PASSIVE || g_strcmp0 (active_node_id, self->active) != 0)
		return;
	self->published_seen = MAX (self->published_seen, seq);
	tandem_pipeline_discard_through (self->pipeline, MIN (seq, tandem_pipeline_get_last_seq (self->pipeline)));
}
