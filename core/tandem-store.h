/* tandem-store.h: base class of record store plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <gio/gio.h>

#include "tandem-event.h"
#include "tandem-plugin.h"
#include "tandem-stream-definition.h"

G_BEGIN_DECLS

/**
 * TandemStoreRole:
 * @TANDEM_STORE_ROLE_EVENTS: keeps the raw events (the `EVENT_STORE`)
 * @TANDEM_STORE_ROLE_OUTPUTS: keeps the plan outputs (the `PROCESSED_DATA_STORE`)
 *
 * What a store instance keeps (config key `role`: `events`, `outputs`, or
 * both, the default).
 */
typedef enum /*< flags >*/ {
	TANDEM_STORE_ROLE_EVENTS = 1 << 0,
	TANDEM_STORE_ROLE_OUTPUTS = 1 << 1,
} TandemStoreRole;

/**
 * TandemStoreOutput:
 * @plan: the plan name
 * @query: the query name
 * @stream: the definition of the stream the query inserts into
 * @kind: current or expired, as the query emitted it
 * @input_seq: the cluster sequence of the input event that produced it
 * @index: its position among the outputs of that input (from 0)
 * @event: the output event
 *
 * One plan output.  `(plan, stream, input_seq, index)` identifies it in the
 * cluster, so that writing it twice (after a failover or a retry) is a
 * no-op, never a duplicate row.
 */
typedef struct {
	const char *plan;
	const char *query;
	TandemStreamDefinition *stream;
	TandemEventKind kind;
	guint64 input_seq;
	guint index;
	TandemEvent *event;
} TandemStoreOutput;

/**
 * TandemLease:
 * @holder: the node id holding the lease, or %NULL if none
 * @epoch: the lease's epoch (it only grows)
 * @expires_ms: when it expires, in milliseconds since the Unix epoch, by
 *   the database's clock
 *
 * The lease row of a cluster, used by HA to fence a stale active node.
 */
typedef struct {
	char *holder;
	guint64 epoch;
	gint64 expires_ms;
} TandemLease;

#define TANDEM_TYPE_STORE (tandem_store_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (TandemStore, tandem_store, TANDEM, STORE, TandemPlugin)

/**
 * TandemStoreClass:
 * @parent_class: the parent class
 * @flush: writes everything queued so far and returns when it is committed.
 *   Called before stop and whenever the node needs a durable point.
 * @append_events: queues raw events of @stream (with their cluster identity)
 *   for writing.  Called from the node's engine thread; it may block while
 *   the store's bounded queue is full (back-pressure), and never drops.
 * @append_outputs: queues plan outputs for writing, under the same rules.
 * @register_node: records a node (id, host, ports, first and last seen) in
 *   the node registry; refuses with %TANDEM_ERROR_BUSY when another live node
 *   has the same id.
 * @acquire_lease: compare-and-set on the cluster's lease row in one
 *   statement: @holder takes (or renews) the lease for @ttl_ms if it is
 *   free, expired, or already its own (or, with @take_from, still held by
 *   @take_from at @take_from_epoch: a holder whose process is known to be
 *   gone), with an epoch one higher than any seen when it changes hands;
 *   @ttl_ms 0 from the holder releases it; @lease receives the row as it is
 *   after the attempt (so a loser learns the holder and epoch).
 * @query: runs one read-only `SELECT` (anything else is refused) with a row
 *   limit and a timeout, and returns the rows as a JSON array of objects.
 * @read_events: reads back the raw events of @stream kept so far whose
 *   sequence is above @after_seq, in sequence order, at most @limit of them,
 *   with their cluster identity and event time: what a node replays after a
 *   restart on top of its restored snapshots.  Runs on the caller's thread
 *   (it may block) on a connection of its own.
 *
 * Stores write raw events (the `EVENT_STORE`) and plan outputs (the
 * `PROCESSED_DATA_STORE`) to a database.  Only the active node writes.
 * Every vfunc but @append_events and @append_outputs runs on the main
 * thread and may block briefly.
 */
struct _TandemStoreClass {
	TandemPluginClass parent_class;

	gboolean (*flush) (TandemStore *self, GCancellable *cancellable, GError **error);
	gboolean (*append_events) (TandemStore *self,
				   TandemStreamDefinition *stream,
				   GPtrArray *events,
				   GError **error);
	gboolean (*append_outputs) (TandemStore *self,
				    const TandemStoreOutput *outputs,
				    guint n_outputs,
				    GError **error);
	gboolean (*register_node) (TandemStore *self,
				   const char *node_id,
				   const char *host,
				   const char *ports,
				   GError **error);
	gboolean (*acquire_lease) (TandemStore *self,
				   const char *cluster,
				   const char *holder,
				   gint64 ttl_ms,
				   const char *take_from,
				   guint64 take_from_epoch,
				   TandemLease *lease,
				   GError **error);
	char *(*query) (TandemStore *self, const char *sql, guint row_limit, guint timeout_ms, GError **error);
	GPtrArray *(*read_events) (TandemStore *self,
				   TandemStreamDefinition *stream,
				   guint64 after_seq,
				   guint limit,
				   GError **error);

	/*< private >*/
	gpointer padding[9];
};

TANDEM_AVAILABLE_IN_ALL
TandemStoreRole tandem_store_get_role (TandemStore *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_store_flush (TandemStore *self, GCancellable *cancellable, GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_store_append_events (TandemStore *self,
				     TandemStreamDefinition *stream,
				     GPtrArray *events,
				     GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_store_append_outputs (TandemStore *self,
				      const TandemStoreOutput *outputs,
				      guint n_outputs,
				      GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_store_register_node (TandemStore *self,
				     const char *node_id,
				     const char *host,
				     const char *ports,
				     GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_store_acquire_lease (TandemStore *self,
				     const char *cluster,
				     const char *holder,
				     gint64 ttl_ms,
				     const char *take_from,
				     guint64 take_from_epoch,
				     TandemLease *lease,
				     GError **error);
TANDEM_AVAILABLE_IN_ALL
void tandem_lease_clear (TandemLease *lease);
TANDEM_AVAILABLE_IN_ALL
char *tandem_store_query (TandemStore *self,
			  const char *sql,
			  guint row_limit,
			  guint timeout_ms,
			  GError **error);
TANDEM_AVAILABLE_IN_ALL
GPtrArray *tandem_store_read_events (TandemStore *self,
				     TandemStreamDefinition *stream,
				     guint64 after_seq,
				     guint limit,
				     GError **error);

G_END_DECLS
