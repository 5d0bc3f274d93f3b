/* tandem-membership.h: base class of membership plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include "tandem-plugin.h"

G_BEGIN_DECLS

/* the default of #TandemMembership:listen */
#define TANDEM_MEMBERSHIP_DEFAULT_LISTEN "127.0.0.1:7711"

#define TANDEM_TYPE_MEMBERSHIP (tandem_membership_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (TandemMembership, tandem_membership, TANDEM, MEMBERSHIP, TandemPlugin)

/**
 * TandemMembershipClass:
 * @parent_class: the parent class
 * @member_joined: class handler of #TandemMembership::member-joined
 * @member_left: class handler of #TandemMembership::member-left
 *
 * Membership plugins find the other members of the cluster.  The base class
 * does the rest: it listens on #TandemMembership:listen, keeps an
 * authenticated heartbeat session with every address a plugin gives it
 * (tandem_membership_add_peer()), and reports who is there through the
 * #TandemMembership::member-joined and #TandemMembership::member-left
 * signals.  A `wka` plugin adds its configured list; a discovery plugin adds
 * what it discovers (tandem_membership_encode_announcement() and
 * tandem_membership_decode_announcement() sign and check its datagrams with
 * the cluster key).
 */
struct _TandemMembershipClass {
	TandemPluginClass parent_class;

	void (*member_joined) (TandemMembership *self, const char *node_id, const char *address);
	void (*member_left) (TandemMembership *self, const char *node_id, const char *reason);

	/*< private >*/
	gpointer padding[14];
};

TANDEM_AVAILABLE_IN_ALL
void tandem_membership_set_cluster (TandemMembership *self,
				    const char *cluster,
				    GBytes *key,
				    const char *node_id,
				    const char *role);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_membership_get_cluster (TandemMembership *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_membership_get_node_id (TandemMembership *self);
TANDEM_AVAILABLE_IN_ALL
guint16 tandem_membership_get_port (TandemMembership *self);
TANDEM_AVAILABLE_IN_ALL
char *tandem_membership_dup_advertised_address (TandemMembership *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_membership_add_peer (TandemMembership *self, const char *address);
TANDEM_AVAILABLE_IN_ALL
void tandem_membership_remove_peer (TandemMembership *self, const char *address);
TANDEM_AVAILABLE_IN_ALL
GStrv tandem_membership_dup_peer_addresses (TandemMembership *self);
TANDEM_AVAILABLE_IN_ALL
GBytes *tandem_membership_encode_announcement (TandemMembership *self,
					       const char *scope,
					       GError **error);
TANDEM_AVAILABLE_IN_ALL
char *tandem_membership_decode_announcement (TandemMembership *self,
					     const char *scope,
					     GBytes *datagram,
					     const char *sender_host,
					     char **node_id,
					     GError **error);

TANDEM_AVAILABLE_IN_ALL
void tandem_membership_member_joined (TandemMembership *self,
				      const char *node_id,
				      const char *address);
TANDEM_AVAILABLE_IN_ALL
void tandem_membership_member_left (TandemMembership *self,
				    const char *node_id,
				    const char *reason);
TANDEM_AVAILABLE_IN_ALL
GStrv tandem_membership_dup_members (TandemMembership *self);

G_END_DECLS
