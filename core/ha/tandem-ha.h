/* tandem-ha.h: the node's HA controller (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <json-glib/json-glib.h>

#include "tandem-config.h"
#include "tandem-membership.h"
#include "tandem-store.h"

G_BEGIN_DECLS

typedef enum {
	TANDEM_HA_ARBITER_STORE,
	TANDEM_HA_ARBITER_WITNESS,
	TANDEM_HA_ARBITER_NONE,
} TandemHaArbiter;

/* The HA keys of [cluster] */
typedef struct {
	char *key_file;
	TandemHaArbiter arbiter;
	char *arbiter_store;
	gboolean allow_split_brain;
	guint lease_ttl_ms;
	guint lease_renew_ms;
	guint fence_margin_ms;
	gboolean ack_local;   /* ack = local: acknowledge without waiting for the passive */
	gboolean ack_durable; /* ack = durable: also wait for the event store's commit */
	guint durable_timeout_ms; /* ... at most this long */
	/* where the keys are, for messages */
	char *key_file_origin;
	char *arbiter_origin;
} TandemHaConfig;

void tandem_ha_config_init (TandemHaConfig *config);
void tandem_ha_config_clear (TandemHaConfig *config);
/* Reads the HA keys of @section; appends "file:line: ..." lines to @errors */
void tandem_ha_config_parse (TandemHaConfig *config, TandemConfigSection *section, GString *errors);

typedef struct _TandemHa TandemHa;

/* Called on the main thread whenever the node may (or may no longer)
 * publish and acknowledge: until @until_us (g_get_monotonic_time()), or
 * never (0), or always (G_MAXINT64). */
typedef void (*TandemHaPublishFunc) (gint64 until_us, gpointer user_data);

/*
 * @membership: the node's membership plugin (its channel is open)
 * @store: the arbiter store for TANDEM_HA_ARBITER_STORE, else NULL
 * @witness: TRUE when this member only votes (tandemd --witness)
 * @state_dir: where a witness (and arbiter none) keep their highest epoch
 */
TandemHa *tandem_ha_new (const TandemHaConfig *config,
			 const char *cluster,
			 const char *node_id,
			 guint64 incarnation,
			 TandemMembership *membership,
			 TandemStore *store,
			 gboolean witness,
			 const char *state_dir,
			 TandemHaPublishFunc publish,
			 gpointer publish_data,
			 GError **error);
/* Called after every transition: the new state, this node's epoch, and
 * the node id of the active member when another one is active */
typedef void (*TandemHaRoleFunc) (const char *state, guint64 epoch, const char *active_node, gpointer user_data);
void tandem_ha_set_role_func (TandemHa *self, TandemHaRoleFunc func, gpointer user_data);
void tandem_ha_start (TandemHa *self);
/* The sequence numbers this node reserved and its in-sync passive, as the
 * active advertises them in its heartbeats; and, on a node taking over,
 * the seq its sequence must continue above (0: none) */
#define TANDEM_HA_SEQUENCE_MARGIN 100000
void tandem_ha_set_replication_status (TandemHa *self, guint64 seq_reserved, const char *in_sync_passive);
guint64 tandem_ha_get_takeover_seq_floor (TandemHa *self);
/* A syncing node holds the active's state now */
void tandem_ha_sync_done (TandemHa *self);
/* Switchover, on the active node: stops publishing and offers the lease to
 * @to_node (a "take-over" message carrying @extra's members, the holder
 * string and the epoch); completes once @to_node is active (its epoch),
 * or with an error when this node is not active (TANDEM_ERROR_NOT_SUPPORTED),
 * takes the lease back (TANDEM_ERROR_BUSY), stops, or sees no outcome
 * within lease_ttl_ms + 1 s (TANDEM_ERROR_TIMED_OUT) */
void tandem_ha_hand_over_async (TandemHa *self,
				const char *to_node,
				JsonObject *extra,
				GAsyncReadyCallback callback,
				gpointer user_data);
gboolean tandem_ha_hand_over_finish (TandemHa *self, GAsyncResult *result, guint64 *epoch, GError **error);
gboolean tandem_ha_is_handing_over (TandemHa *self);
/* On a passive: @from_node offers its lease (@body: the offer); return
 * FALSE, with a @reason, to refuse it (this node does not hold every
 * event): the offering node is told, and takes its lease back at once */
typedef gboolean (*TandemHaHandoverFunc) (const char *from_node, JsonObject *body, char **reason, gpointer user_data);
void tandem_ha_set_handover_func (TandemHa *self, TandemHaHandoverFunc func, gpointer user_data);
/* Steps down (releasing the lease if active) and stops deciding */
void tandem_ha_stop (TandemHa *self, const char *reason);
void tandem_ha_free (TandemHa *self);

/* "starting", "passive", "active", "fenced", "witness"... */
const char *tandem_ha_get_state (TandemHa *self);
/* Who is active, for error messages ("node X"), or NULL */
char *tandem_ha_dup_active_description (TandemHa *self);
/* Adds state, role, epoch, members and lease to a status object */
void tandem_ha_add_status (TandemHa *self, JsonBuilder *builder);

/* Reads a cluster key file: at least 16 bytes, not readable by group or others */
GBytes *tandem_ha_read_key_file (const char *path, GError **error);

G_END_DECLS
