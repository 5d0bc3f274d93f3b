/* tandem-node.h: one Tandem node: identity, state directory, plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tandem-types.h"
#include "tandem-plan.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_NODE (tandem_node_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (TandemNode, tandem_node, TANDEM, NODE, GObject)

TANDEM_AVAILABLE_IN_ALL
TandemNode *tandem_node_new (TandemConfig *config, TandemPluginRegistry *registry);
TANDEM_AVAILABLE_IN_ALL
TandemConfig *tandem_node_get_config (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
TandemPluginRegistry *tandem_node_get_registry (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_node_set_state_dir (TandemNode *self, const char *state_dir);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_node_get_state_dir (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_node_get_id (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_node_get_cluster_name (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
TandemLogLevel tandem_node_get_log_level (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_configure (TandemNode *self, GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_open_state (TandemNode *self, GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_start (TandemNode *self, GError **error);
TANDEM_AVAILABLE_IN_ALL
void tandem_node_stop (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
GPtrArray *tandem_node_get_plugins (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
TandemStreamDefinition *tandem_node_lookup_stream (TandemNode *self, const char *name);
TANDEM_AVAILABLE_IN_ALL
GPtrArray *tandem_node_get_plans (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_is_accepting (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_check_accepting (TandemNode *self, GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_acks_at_acceptance (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
JsonNode *tandem_node_dup_state_digest (TandemNode *self, GError **error);
TANDEM_AVAILABLE_IN_ALL
guint64 tandem_node_get_events_processed (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
guint64 tandem_node_get_last_seq (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_node_wait_engine_idle (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_ingest (TandemNode *self,
			     const char *stream,
			     GPtrArray *events,
			     const char *const *event_ids,
			     const char *idempotency_key,
			     guint64 *first_seq,
			     guint *n_new,
			     GError **error);
TANDEM_AVAILABLE_IN_ALL
void tandem_node_ingest_async (TandemNode *self,
			       const char *stream,
			       GPtrArray *events,
			       const char *const *event_ids,
			       const char *idempotency_key,
			       GCancellable *cancellable,
			       GAsyncReadyCallback callback,
			       gpointer user_data);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_ingest_finish (TandemNode *self,
				    GAsyncResult *result,
				    guint64 *first_seq,
				    guint *n_new,
				    GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_accept (TandemNode *self,
			     const char *stream,
			     GPtrArray *events,
			     const char *const *event_ids,
			     const char *idempotency_key,
			     guint64 *first_seq,
			     guint *n_new,
			     guint64 *ack_seq,
			     GError **error);
TANDEM_AVAILABLE_IN_ALL
void tandem_node_wait_acknowledged_async (TandemNode *self,
					  guint64 ack_seq,
					  GCancellable *cancellable,
					  GAsyncReadyCallback callback,
					  gpointer user_data);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_wait_acknowledged_finish (TandemNode *self, GAsyncResult *result, GError **error);

TANDEM_AVAILABLE_IN_ALL
JsonNode *tandem_node_dup_status (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_node_set_witness (TandemNode *self, gboolean witness);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_node_get_instance_id (TandemNode *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_node_persist_async (TandemNode *self,
				GCancellable *cancellable,
				GAsyncReadyCallback callback,
				gpointer user_data);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_persist_finish (TandemNode *self, GAsyncResult *result, guint64 *seq, GError **error);
TANDEM_AVAILABLE_IN_ALL
void tandem_node_switchover_async (TandemNode *self,
				   GCancellable *cancellable,
				   GAsyncReadyCallback callback,
				   gpointer user_data);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_node_switchover_finish (TandemNode *self,
					GAsyncResult *result,
					char **active_node,
					guint64 *epoch,
					GError **error);

G_END_DECLS
