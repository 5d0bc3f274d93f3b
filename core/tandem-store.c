/* tandem-store.c: base class of record store plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Store"

#include "config.h"

#include "tandem-enums.h"
#include "tandem-error.h"
#include <string.h>

#include "tandem-store.h"

/**
 * TandemStore:
 *
 * The base class of record store plugins (`plugins/stores/`).  A store keeps
 * raw events and plan outputs in a database; writes are idempotent (keyed by
 * the cluster identity of what produced them) so that a replay after a
 * failover never doubles a row.  It also offers what HA needs from a shared
 * database: a registry of nodes, and the lease row that fences a stale
 * active node.
 *
 * Every store section accepts the key `role` (see #TandemStore:role).
 */

typedef struct {
	TandemStoreRole role;
} TandemStorePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (TandemStore, tandem_store, TANDEM_TYPE_PLUGIN)

enum {
	PROP_0,
	PROP_ROLE,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void
tandem_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemStorePrivate *priv = tandem_store_get_instance_private (TANDEM_STORE (object));

	switch (prop_id) {
	case PROP_ROLE:
		g_value_set_flags (value, priv->role);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_store_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	TandemStorePrivate *priv = tandem_store_get_instance_private (TANDEM_STORE (object));

	switch (prop_id) {
	case PROP_ROLE:
		priv->role = g_value_get_flags (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_store_class_init (TandemStoreClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->get_property = tandem_store_get_property;
	object_class->set_property = tandem_store_set_property;

	/**
	 * TandemStore:role:
	 *
	 * Config key `role`: what the store keeps, `events` (the seed's
	 * `EVENT_STORE`), `outputs` (`PROCESSED_DATA_STORE`) or both
	 * (`events,outputs`, the default).  Both may point at one database.
	 */
	props[PROP_ROLE] = g_param_spec_flags ("role", NULL, NULL, TANDEM_TYPE_STORE_ROLE,
					       TANDEM_STORE_ROLE_EVENTS | TANDEM_STORE_ROLE_OUTPUTS,
					       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					       TANDEM_PARAM_CONFIG);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_store_init (TandemStore *self)
{
	TandemStorePrivate *priv = tandem_store_get_instance_private (self);

	priv->role = TANDEM_STORE_ROLE_EVENTS | TANDEM_STORE_ROLE_OUTPUTS;
}

/**
 * tandem_store_get_role:
 * @self: a #TandemStore
 *
 * Returns: what @self keeps
 */
TandemStoreRole
tandem_store_get_role (TandemStore *self)
{
	TandemStorePrivate *priv = tandem_store_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), 0);
	return priv->role;
}

static gboolean
not_supported (TandemStore *self, const char *what, GError **error)
{
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED, "store %s (%s) cannot %s",
		     tandem_plugin_get_name (TANDEM_PLUGIN (self)), G_OBJECT_TYPE_NAME (self), what);
	return FALSE;
}

/**
 * tandem_store_flush:
 * @self: a #TandemStore
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Writes everything @self has queued and returns once it is committed.  A
 * store without a `flush` vfunc writes synchronously and has nothing to do.
 *
 * Returns: %TRUE when everything queued is committed
 */
gboolean
tandem_store_flush (TandemStore *self, GCancellable *cancellable, GError **error)
{
	TandemStoreClass *klass = TANDEM_STORE_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), FALSE);
	g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);

	if (klass->flush == NULL)
		return TRUE;
	return klass->flush (self, cancellable, error);
}

/**
 * tandem_store_append_events:
 * @self: a #TandemStore
 * @stream: the stream of the events
 * @events: (element-type TandemEvent): events with their cluster identity
 * @error: return location for a #GError
 *
 * Queues raw events for writing.  May block while the store's queue is
 * full; never drops.  Call it from one thread (the node's engine thread).
 *
 * Returns: %TRUE if the events are queued
 */
gboolean
tandem_store_append_events (TandemStore *self, TandemStreamDefinition *stream, GPtrArray *events, GError **error)
{
	TandemStoreClass *klass = TANDEM_STORE_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), FALSE);
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (stream), FALSE);
	g_return_val_if_fail (events != NULL, FALSE);

	if (klass->append_events == NULL)
		return not_supported (self, "keep events", error);
	return klass->append_events (self, stream, events, error);
}

/**
 * tandem_store_append_outputs:
 * @self: a #TandemStore
 * @outputs: (array length=n_outputs): the outputs
 * @n_outputs: how many
 * @error: return location for a #GError
 *
 * Queues plan outputs for writing, under the rules of
 * tandem_store_append_events().
 *
 * Returns: %TRUE if the outputs are queued
 */
gboolean
tandem_store_append_outputs (TandemStore *self, const TandemStoreOutput *outputs, guint n_outputs, GError **error)
{
	TandemStoreClass *klass = TANDEM_STORE_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), FALSE);
	g_return_val_if_fail (outputs != NULL || n_outputs == 0, FALSE);

	if (klass->append_outputs == NULL)
		return not_supported (self, "keep outputs", error);
	return klass->append_outputs (self, outputs, n_outputs, error);
}

/**
 * tandem_store_register_node:
 * @self: a #TandemStore
 * @node_id: the node id
 * @host: where the node runs
 * @ports: its ports, as text (`http=9763,management=10005`)
 * @error: return location for a #GError
 *
 * Records the node in the registry (first and last seen).
 *
 * Returns: %TRUE if registered; %FALSE with %TANDEM_ERROR_BUSY when another
 *   live node has the same id
 */
gboolean
tandem_store_register_node (TandemStore *self, const char *node_id, const char *host, const char *ports, GError **error)
{
	TandemStoreClass *klass = TANDEM_STORE_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), FALSE);
	g_return_val_if_fail (node_id != NULL && host != NULL && ports != NULL, FALSE);

	if (klass->register_node == NULL)
		return not_supported (self, "register nodes", error);
	return klass->register_node (self, node_id, host, ports, error);
}

/**
 * tandem_store_acquire_lease:
 * @self: a #TandemStore
 * @cluster: the cluster name
 * @holder: the holder asking for the lease (HA uses `NODE_ID#INCARNATION`)
 * @ttl_ms: how long the lease lasts from now, in milliseconds; 0 from the
 *   holder releases it
 * @take_from: (nullable): a holder whose process is known to be gone: take
 *   the lease from it even before it expires, if it still holds it at
 *   @take_from_epoch
 * @take_from_epoch: the epoch @take_from is known to hold
 * @lease: (out caller-allocates): the lease row after the attempt; free
 *   its contents with tandem_lease_clear()
 * @error: return location for a #GError
 *
 * Takes or renews the cluster's lease by compare-and-set (see
 * #TandemStoreClass).  Losing is not an error: compare @lease's holder.
 *
 * Returns: %TRUE if the attempt ran (won or lost); %FALSE if the database
 *   could not be asked
 */
gboolean
tandem_store_acquire_lease (TandemStore *self,
			    const char *cluster,
			    const char *holder,
			    gint64 ttl_ms,
			    const char *take_from,
			    guint64 take_from_epoch,
			    TandemLease *lease,
			    GError **error)
{
	TandemStoreClass *klass = TANDEM_STORE_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), FALSE);
	g_return_val_if_fail (cluster != NULL && holder != NULL && *holder != '\0' && lease != NULL, FALSE);
	g_return_val_if_fail (ttl_ms >= 0, FALSE);

	memset (lease, 0, sizeof *lease);
	if (klass->acquire_lease == NULL)
		return not_supported (self, "hold leases", error);
	return klass->acquire_lease (self, cluster, holder, ttl_ms, take_from, take_from_epoch, lease, error);
}

/**
 * tandem_lease_clear:
 * @lease: a #TandemLease
 *
 * Frees what @lease holds.
 */
void
tandem_lease_clear (TandemLease *lease)
{
	g_return_if_fail (lease != NULL);
	g_clear_pointer (&lease->holder, g_free);
}

/**
 * tandem_store_query:
 * @self: a #TandemStore
 * @sql: one `SELECT` statement
 * @row_limit: the most rows to return
 * @timeout_ms: how long the query may run
 * @error: return location for a #GError
 *
 * Runs a read-only query: anything but a single `SELECT` is refused with
 * %TANDEM_ERROR_INVALID_ARGUMENT.
 *
 * Returns: (transfer full) (nullable): the rows as a JSON array of objects
 */
char *
tandem_store_query (TandemStore *self, const char *sql, guint row_limit, guint timeout_ms, GError **error)
{
	TandemStoreClass *klass = TANDEM_STORE_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), NULL);
	g_return_val_if_fail (sql != NULL, NULL);

	if (klass->query == NULL) {
		not_supported (self, "run queries", error);
		return NULL;
	}
	return klass->query (self, sql, row_limit, timeout_ms, error);
}

/**
 * tandem_store_read_events:
 * @self: a #TandemStore keeping events (#TANDEM_STORE_ROLE_EVENTS)
 * @stream: the stream whose events to read
 * @after_seq: read the events whose sequence is above this
 * @limit: the most events to return (at least 1)
 * @error: return location for a #GError
 *
 * Reads back the raw events of @stream that the store holds, with their
 * cluster identity (epoch, seq) and event time, in sequence order: what a
 * node replays after a restart, on top of its restored snapshots, so that
 * its state equals that of a node that never stopped.  Page through them by
 * passing the seq of the last event returned as @after_seq.  May block:
 * call it from a thread that may.  Stores that cannot read events back
 * fail with %TANDEM_ERROR_NOT_SUPPORTED.
 *
 * Returns: (transfer container) (element-type TandemEvent) (nullable): the
 *   events (an empty array when there are no more), or %NULL with @error set
 */
GPtrArray *
tandem_store_read_events (TandemStore *self,
			  TandemStreamDefinition *stream,
			  guint64 after_seq,
			  guint limit,
			  GError **error)
{
	TandemStoreClass *klass = TANDEM_STORE_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), NULL);
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (stream), NULL);
	g_return_val_if_fail (limit > 0, NULL);

	if (klass->read_events == NULL) {
		not_supported (self, "read events back", error);
		return NULL;
	}
	return klass->read_events (self, stream, after_seq, limit, error);
}
