/* tandem-membership.c: base class of membership plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Membership"

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tandem-error.h"
#include "tandem-membership-private.h"

#include "tandem-ha-channel.h"


static void tandem_membership_channel_add_peer (TandemMembership *self, const char *address);
static void tandem_membership_channel_remove_peer (TandemMembership *self, const char *address);

/**
 * TandemMembership:
 *
 * The base class of membership plugins (`plugins/membership/`): `wka` (a
 * list of well-known members) and `multicast` (discovery by UDP multicast).
 * A membership plugin finds the other nodes, watches their heartbeats and
 * reports who joined and who left; the HA state machine decides the roles.
 *
 * The base class keeps the current member list, so that a plugin only
 * reports changes and the node can ask who is there at any time.  Call the
 * reporting functions from the thread of the main context.
 */

typedef struct {
	GHashTable *members; /* node id -> address */
	GPtrArray *peers;    /* addresses given by the plugin, in order */

	/* config */
	char *listen;
	char *advertise;
	guint heartbeat_interval_ms;
	guint heartbeat_timeout_ms;

	/* from the node */
	char *cluster;
	GBytes *key;
	char *node_id;
	char *role;

	gpointer channel; /* TandemHaChannel, while started */
	guint16 port;
} TandemMembershipPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (TandemMembership, tandem_membership, TANDEM_TYPE_PLUGIN)

enum {
	PROP_0,
	PROP_LISTEN,
	PROP_ADVERTISE,
	PROP_HEARTBEAT_INTERVAL_MS,
	PROP_HEARTBEAT_TIMEOUT_MS,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

enum {
	SIGNAL_MEMBER_JOINED,
	SIGNAL_MEMBER_LEFT,
	N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void
tandem_membership_finalize (GObject *object)
{
	TandemMembership *self = TANDEM_MEMBERSHIP (object);
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	if (priv->channel != NULL) {
		g_signal_handlers_disconnect_by_data (priv->channel, self);
		tandem_ha_channel_close (priv->channel, "stopping");
		g_clear_object (&priv->channel);
	}
	g_hash_table_unref (priv->members);
	g_ptr_array_unref (priv->peers);
	g_free (priv->listen);
	g_free (priv->advertise);
	g_free (priv->cluster);
	g_clear_pointer (&priv->key, g_bytes_unref);
	g_free (priv->node_id);
	g_free (priv->role);
	G_OBJECT_CLASS (tandem_membership_parent_class)->finalize (object);
}

static void
tandem_membership_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemMembership *self = TANDEM_MEMBERSHIP (object);
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	switch (prop_id) {
	case PROP_LISTEN:
		g_value_set_string (value, priv->listen);
		break;
	case PROP_ADVERTISE:
		g_value_set_string (value, priv->advertise);
		break;
	case PROP_HEARTBEAT_INTERVAL_MS:
		g_value_set_uint (value, priv->heartbeat_interval_ms);
		break;
	case PROP_HEARTBEAT_TIMEOUT_MS:
		g_value_set_uint (value, priv->heartbeat_timeout_ms);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_membership_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	TandemMembership *self = TANDEM_MEMBERSHIP (object);
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	switch (prop_id) {
	case PROP_LISTEN:
		g_free (priv->listen);
		priv->listen = g_value_dup_string (value);
		break;
	case PROP_ADVERTISE:
		g_free (priv->advertise);
		priv->advertise = g_value_dup_string (value);
		break;
	case PROP_HEARTBEAT_INTERVAL_MS:
		priv->heartbeat_interval_ms = g_value_get_uint (value);
		break;
	case PROP_HEARTBEAT_TIMEOUT_MS:
		priv->heartbeat_timeout_ms = g_value_get_uint (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_membership_class_init (TandemMembershipClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->finalize = tandem_membership_finalize;
	object_class->get_property = tandem_membership_get_property;
	object_class->set_property = tandem_membership_set_property;

	/**
	 * TandemMembership:listen:
	 *
	 * Config key `listen`: the `host:port` this member's heartbeat channel
	 * listens on (port 0 picks a free one).
	 */
	props[PROP_LISTEN] =
		g_param_spec_string ("listen", NULL, "host:port of the heartbeat channel",
				     TANDEM_MEMBERSHIP_DEFAULT_LISTEN,
				     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG);
	/**
	 * TandemMembership:advertise:
	 *
	 * Config key `advertise`: the `host:port` the other members should use
	 * to reach this one, when it differs from #TandemMembership:listen
	 * (listening on 0.0.0.0, or behind NAT).
	 */
	props[PROP_ADVERTISE] =
		g_param_spec_string ("advertise", NULL, "host:port other members reach this one at", NULL,
				     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG);
	/**
	 * TandemMembership:heartbeat-interval-ms:
	 *
	 * Config key `heartbeat_interval_ms`: how often a heartbeat goes to
	 * every member.
	 */
	props[PROP_HEARTBEAT_INTERVAL_MS] =
		g_param_spec_uint ("heartbeat-interval-ms", NULL, "Heartbeat interval in milliseconds", 10,
				   60000, 100,
				   G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG);
	/**
	 * TandemMembership:heartbeat-timeout-ms:
	 *
	 * Config key `heartbeat_timeout_ms`: a member silent this long is
	 * considered gone.  A member whose process dies is noticed at once (its
	 * connection closes); this bounds the time to notice a host that
	 * vanished from the network.
	 */
	props[PROP_HEARTBEAT_TIMEOUT_MS] =
		g_param_spec_uint ("heartbeat-timeout-ms", NULL, "Heartbeat timeout in milliseconds", 30,
				   600000, 600,
				   G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG);
	g_object_class_install_properties (object_class, N_PROPS, props);

	/**
	 * TandemMembership::member-joined:
	 * @self: the membership plugin
	 * @node_id: the id of the node that joined
	 * @address: where it can be reached (`host:port`)
	 *
	 * A node joined the cluster, or changed its address.
	 */
	signals[SIGNAL_MEMBER_JOINED] =
		g_signal_new ("member-joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
			      G_STRUCT_OFFSET (TandemMembershipClass, member_joined), NULL, NULL,
			      NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
	/**
	 * TandemMembership::member-left:
	 * @self: the membership plugin
	 * @node_id: the id of the node that left
	 * @reason: why it is considered gone (for example `heartbeat timeout`)
	 *
	 * A node left the cluster or stopped answering.
	 */
	signals[SIGNAL_MEMBER_LEFT] =
		g_signal_new ("member-left", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
			      G_STRUCT_OFFSET (TandemMembershipClass, member_left), NULL, NULL,
			      NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
tandem_membership_init (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	priv->members = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
	priv->peers = g_ptr_array_new_with_free_func (g_free);
	priv->listen = g_strdup (TANDEM_MEMBERSHIP_DEFAULT_LISTEN);
	priv->heartbeat_interval_ms = 100;
	priv->heartbeat_timeout_ms = 600;
}

/**
 * tandem_membership_set_cluster:
 * @self: a #TandemMembership
 * @cluster: the cluster name
 * @key: the cluster key (at least 16 bytes) that authenticates every message
 * @node_id: this member's node id
 * @role: `node`, or `witness` for a member that only votes
 *
 * Tells the plugin which cluster it serves.  The node calls this before it
 * starts the plugin; tests and embedders may call it themselves.
 */
void
tandem_membership_set_cluster (TandemMembership *self,
			       const char *cluster,
			       GBytes *key,
			       const char *node_id,
			       const char *role)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	g_return_if_fail (TANDEM_IS_MEMBERSHIP (self));
	g_return_if_fail (cluster != NULL && key != NULL && node_id != NULL && role != NULL);

	g_free (priv->cluster);
	priv->cluster = g_strdup (cluster);
	g_clear_pointer (&priv->key, g_bytes_unref);
	priv->key = g_bytes_ref (key);
	g_free (priv->node_id);
	priv->node_id = g_strdup (node_id);
	g_free (priv->role);
	priv->role = g_strdup (role);
}

/**
 * tandem_membership_get_cluster:
 * @self: a #TandemMembership
 *
 * Returns: (nullable): the cluster name given to tandem_membership_set_cluster()
 */
const char *
tandem_membership_get_cluster (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);
	return priv->cluster;
}

/**
 * tandem_membership_get_node_id:
 * @self: a #TandemMembership
 *
 * Returns: (nullable): this member's node id
 */
const char *
tandem_membership_get_node_id (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);
	return priv->node_id;
}

GBytes *
tandem_membership_get_key (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	return priv->key;
}

gpointer
tandem_membership_get_channel (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	return priv->channel;
}

/**
 * tandem_membership_get_port:
 * @self: a #TandemMembership
 *
 * Returns: the port the heartbeat channel listens on, once started (0 before)
 */
guint16
tandem_membership_get_port (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), 0);
	return priv->port;
}

/**
 * tandem_membership_dup_advertised_address:
 * @self: a #TandemMembership
 *
 * Returns: (transfer full) (nullable): the `host:port` other members should
 *   dial: #TandemMembership:advertise if set, else the listening address with
 *   the bound port (%NULL before start)
 */
char *
tandem_membership_dup_advertised_address (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);
	g_autofree char *host = NULL;
	const char *colon;

	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);

	if (priv->advertise != NULL && *priv->advertise != '\0')
		return g_strdup (priv->advertise);
	if (priv->port == 0 || priv->listen == NULL)
		return NULL;
	colon = strrchr (priv->listen, ':');
	host = colon != NULL ? g_strndup (priv->listen, colon - priv->listen) : g_strdup (priv->listen);
	return g_strdup_printf ("%s:%u", host, priv->port);
}

/**
 * tandem_membership_add_peer:
 * @self: a #TandemMembership
 * @address: a `host:port` where another member may listen
 *
 * Gives the base class an address to keep a heartbeat session with: it is
 * dialled now (if the plugin runs) and redialled whenever the session ends.
 * Adding a known address does nothing; the member's own address is
 * recognised at the handshake and left alone.
 */
void
tandem_membership_add_peer (TandemMembership *self, const char *address)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	g_return_if_fail (TANDEM_IS_MEMBERSHIP (self));
	g_return_if_fail (address != NULL);

	for (guint i = 0; i < priv->peers->len; i++) {
		if (g_strcmp0 (g_ptr_array_index (priv->peers, i), address) == 0)
			return;
	}
	g_ptr_array_add (priv->peers, g_strdup (address));
	tandem_membership_channel_add_peer (self, address);
}

/**
 * tandem_membership_remove_peer:
 * @self: a #TandemMembership
 * @address: an address given to tandem_membership_add_peer()
 *
 * Stops dialling @address (an open session stays until it ends).
 */
void
tandem_membership_remove_peer (TandemMembership *self, const char *address)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	g_return_if_fail (TANDEM_IS_MEMBERSHIP (self));
	g_return_if_fail (address != NULL);

	for (guint i = 0; i < priv->peers->len; i++) {
		if (g_strcmp0 (g_ptr_array_index (priv->peers, i), address) == 0) {
			g_ptr_array_remove_index (priv->peers, i);
			tandem_membership_channel_remove_peer (self, address);
			return;
		}
	}
}

/**
 * tandem_membership_dup_peer_addresses:
 * @self: a #TandemMembership
 *
 * Returns: (transfer full): the addresses given to tandem_membership_add_peer(),
 *   in the order given
 */
GStrv
tandem_membership_dup_peer_addresses (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);
	GStrv addresses;

	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);

	addresses = g_new0 (char *, priv->peers->len + 1);
	for (guint i = 0; i < priv->peers->len; i++)
		addresses[i] = g_strdup (g_ptr_array_index (priv->peers, i));
	return addresses;
}

/**
 * tandem_membership_member_joined:
 * @self: a #TandemMembership
 * @node_id: the id of the node that joined
 * @address: where it can be reached (`host:port`)
 *
 * Reports a member.  Emits #TandemMembership::member-joined unless the member
 * was already known at the same address.
 */
void
tandem_membership_member_joined (TandemMembership *self, const char *node_id, const char *address)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);
	const char *known;

	g_return_if_fail (TANDEM_IS_MEMBERSHIP (self));
	g_return_if_fail (node_id != NULL && *node_id != '\0');
	g_return_if_fail (address != NULL);

	known = g_hash_table_lookup (priv->members, node_id);
	if (known != NULL && g_strcmp0 (known, address) == 0)
		return;
	g_hash_table_replace (priv->members, g_strdup (node_id), g_strdup (address));
	g_signal_emit (self, signals[SIGNAL_MEMBER_JOINED], 0, node_id, address);
}

/**
 * tandem_membership_member_left:
 * @self: a #TandemMembership
 * @node_id: the id of the node that left
 * @reason: why it is considered gone
 *
 * Reports that a member is gone.  Emits #TandemMembership::member-left if it
 * was known.
 */
void
tandem_membership_member_left (TandemMembership *self, const char *node_id, const char *reason)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	g_return_if_fail (TANDEM_IS_MEMBERSHIP (self));
	g_return_if_fail (node_id != NULL);

	if (!g_hash_table_remove (priv->members, node_id))
		return;
	g_signal_emit (self, signals[SIGNAL_MEMBER_LEFT], 0, node_id,
		       reason != NULL ? reason : "left");
}

static int
compare_strings (const void *a, const void *b)
{
	return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

/**
 * tandem_membership_dup_members:
 * @self: a #TandemMembership
 *
 * Returns: (transfer full): the ids of the current members, sorted
 */
GStrv
tandem_membership_dup_members (TandemMembership *self)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);
	GStrv ids;

	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);

	ids = (GStrv) g_hash_table_get_keys_as_array (priv->members, NULL);
	for (guint i = 0; ids[i] != NULL; i++)
		ids[i] = g_strdup (ids[i]);
	qsort (ids, g_strv_length (ids), sizeof (char *), compare_strings);
	return ids;
}

/* --- the heartbeat channel ------------------------------------------------ */

static void
tandem_membership_channel_add_peer (TandemMembership *self, const char *address)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	if (priv->channel != NULL)
		tandem_ha_channel_add_peer (priv->channel, address);
}

static void
tandem_membership_channel_remove_peer (TandemMembership *self, const char *address)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	if (priv->channel != NULL)
		tandem_ha_channel_remove_peer (priv->channel, address);
}

static void
on_channel_peer_joined (TandemHaChannel *channel, const char *node_id, const char *address, const char *role,
			gpointer data)
{
	(void) channel;
	(void) role;
	tandem_membership_member_joined (TANDEM_MEMBERSHIP (data), node_id, address);
}

static void
on_channel_peer_left (TandemHaChannel *channel, const char *node_id, const char *reason, gboolean died,
		      gpointer data)
{
	g_autofree char *why = died ? g_strdup_printf ("%s (process gone)", reason) : g_strdup (reason);

	(void) channel;
	tandem_membership_member_left (TANDEM_MEMBERSHIP (data), node_id, why);
}

/* Opens the heartbeat channel: listens, then dials every peer known so far.
 * The node calls this before the plugin's start, so that the plugin can
 * announce the bound address. */
gboolean
tandem_membership_open_channel (TandemMembership *self, GError **error)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);
	g_autoptr(TandemHaChannel) channel = NULL;
	g_autofree char *advertised = NULL;

	g_return_val_if_fail (priv->channel == NULL, FALSE);

	if (priv->cluster == NULL || priv->key == NULL) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				     "membership needs a cluster name and key ([cluster] key_file)");
		return FALSE;
	}
	if (priv->heartbeat_timeout_ms < 3 * priv->heartbeat_interval_ms) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
			     "heartbeat_timeout_ms (%u) must be at least three heartbeat intervals (%u ms)",
			     priv->heartbeat_timeout_ms, priv->heartbeat_interval_ms);
		return FALSE;
	}
	channel = tandem_ha_channel_new (priv->cluster, priv->key, priv->node_id, priv->role);
	tandem_ha_channel_set_timing (channel, priv->heartbeat_interval_ms, priv->heartbeat_timeout_ms);
	if (!tandem_ha_channel_listen (channel, priv->listen, error)) {
		g_prefix_error (error, "cannot listen on %s: ", priv->listen);
		return FALSE;
	}
	priv->port = tandem_ha_channel_get_port (channel);
	g_signal_connect (channel, "peer-joined", G_CALLBACK (on_channel_peer_joined), self);
	g_signal_connect (channel, "peer-left", G_CALLBACK (on_channel_peer_left), self);
	priv->channel = g_steal_pointer (&channel);
	advertised = tandem_membership_dup_advertised_address (self);
	g_message ("Membership [membership.%s] of cluster %s listening on %s (heartbeat every %u ms, timeout %u ms)",
		   tandem_plugin_get_name (TANDEM_PLUGIN (self)), priv->cluster, advertised,
		   priv->heartbeat_interval_ms, priv->heartbeat_timeout_ms);
	for (guint i = 0; i < priv->peers->len; i++)
		tandem_ha_channel_add_peer (priv->channel, g_ptr_array_index (priv->peers, i));
	return TRUE;
}

/* Says goodbye to every member and closes the channel. */
void
tandem_membership_close_channel (TandemMembership *self, const char *reason)
{
	TandemMembershipPrivate *priv = tandem_membership_get_instance_private (self);

	if (priv->channel == NULL)
		return;
	g_signal_handlers_disconnect_by_data (priv->channel, self);
	tandem_ha_channel_close (priv->channel, reason);
	g_clear_object (&priv->channel);
	priv->port = 0;
	g_hash_table_remove_all (priv->members);
}
