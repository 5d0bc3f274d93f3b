/* tandem-ha-replication.h: the event stream from the active to the passive (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tandem-ha-channel.h"
#include "tandem-pipeline.h"

G_BEGIN_DECLS

typedef struct _TandemReplication TandemReplication;

typedef enum {
	TANDEM_ACK_REPLICATED, /* a client's acknowledgement waits for the in-sync passive */
	TANDEM_ACK_LOCAL,      /* acknowledge at acceptance by the active */
} TandemAckMode;

TandemReplication *tandem_replication_new (TandemPipeline *pipeline,
					   GPtrArray *stores,
					   TandemHaChannel *channel,
					   TandemAckMode ack_mode);
void tandem_replication_free (TandemReplication *self);

/* Roles, from the HA controller */
/* @seq_floor: the sequence continues above it (and above what this node holds) */
void tandem_replication_become_active (TandemReplication *self, guint64 epoch, guint64 seq_floor);
void tandem_replication_become_passive (TandemReplication *self, const char *active_node_id);
/* starting, fenced, stopped: publish nothing, follow nobody */
void tandem_replication_become_idle (TandemReplication *self);

/* TRUE when a client's acknowledgement must wait (active with an in-sync
 * passive in ack mode replicated, or passive forwarding to the active) */
gboolean tandem_replication_must_wait (TandemReplication *self);
/* Completes @task (a boolean task) once the passive holds @last_seq, or at
 * once when there is no in-sync passive any more */
void tandem_replication_wait (TandemReplication *self, guint64 last_seq, GTask *task);

/* Passive: hands a client's batch to the active; @task returns a
 * TandemReplicationForwarded (g_free) or the active's error */
typedef struct {
	guint64 first_seq;
	guint n_new;
} TandemReplicationForwarded;
gboolean tandem_replication_can_forward (TandemReplication *self);
void tandem_replication_forward (TandemReplication *self,
				 const char *stream,
				 GPtrArray *events,
				 const char *const *event_ids,
				 const char *idempotency_key,
				 GTask *task);

/* Active: how to ingest a forwarded batch (the node's own ingest) */
typedef void (*TandemReplicationIngestFunc) (const char *stream,
					     GPtrArray *events,
					     const char *const *event_ids,
					     const char *idempotency_key,
					     GAsyncReadyCallback callback,
					     gpointer callback_data,
					     gpointer user_data);
typedef gboolean (*TandemReplicationIngestFinishFunc) (GAsyncResult *result,
						       guint64 *first_seq,
						       guint *n_new,
						       GError **error);
void tandem_replication_set_ingest (TandemReplication *self,
				    TandemReplicationIngestFunc ingest,
				    TandemReplicationIngestFinishFunc finish,
				    gpointer user_data);

/* Passive: called once it holds the active's state and follows it */
typedef void (*TandemReplicationSyncedFunc) (gpointer user_data);
void tandem_replication_set_synced_func (TandemReplication *self, TandemReplicationSyncedFunc func, gpointer user_data);

/* Back-pressure: called with TRUE when what the passive has not
 * acknowledged passes the high-water mark (the node pauses its receivers and
 * refuses batches), with FALSE once it is below half of it again */
typedef void (*TandemReplicationPressureFunc) (gboolean full, gpointer user_data);
void tandem_replication_set_pressure_func (TandemReplication *self,
					   TandemReplicationPressureFunc func,
					   gpointer user_data);

gboolean tandem_replication_is_pressed (TandemReplication *self);
/* The active, every 100 ms and when its passive gets in or out of sync:
 * the sequence numbers it reserved on disk, and its in-sync passive */
typedef void (*TandemReplicationReservedFunc) (guint64 reserved, const char *in_sync_passive, gpointer user_data);
void tandem_replication_set_reserved_func (TandemReplication *self, TandemReplicationReservedFunc func, gpointer user_data);

void tandem_replication_add_status (TandemReplication *self, JsonBuilder *builder);

/* Switchover (the active drains before it hands over): the in-sync passive
 * (NULL if none); TRUE if there is one, with @acked_seq the last seq it
 * holds and @published_seq the last seq whose outputs are published,
 * committed in the stores and told to it */
const char *tandem_replication_get_in_sync_passive (TandemReplication *self);
gboolean tandem_replication_get_drain_state (TandemReplication *self, guint64 *acked_seq, guint64 *published_seq);
/* Switchover, on the passive: the active @active_node_id says the outputs
 * up to @seq are published (as its 'P' message does) */
void tandem_replication_note_published (TandemReplication *self, const char *active_node_id, guint64 seq);

G_END_DECLS
