/* tandem-membership.c: base class of membership plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Membership"

#include "config.h"

#include <stdlib.h>

#include "tandem-membership.h"

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
} TandemMembershipPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (TandemMembership, tandem_membership, TANDEM_TYPE_PLUGIN)

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

	g_hash_table_unref (priv->members);
	G_OBJECT_CLASS (tandem_membership_parent_class)->finalize (object);
}

static void
tandem_membership_class_init (TandemMembershipClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->finalize = tandem_membership_finalize;

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
