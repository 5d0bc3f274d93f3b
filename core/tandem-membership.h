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

#define TANDEM_TYPE_MEMBERSHIP (tandem_membership_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (TandemMembership, tandem_membership, TANDEM, MEMBERSHIP, TandemPlugin)

/**
 * TandemMembershipClass:
 * @parent_class: the parent class
 * @member_joined: class handler of #TandemMembership::member-joined
 * @member_left: class handler of #TandemMembership::member-left
 *
 * Membership plugins find the other nodes of the cluster and tell the node,
 * through the #TandemMembership::member-joined and
 * #TandemMembership::member-left signals, who is there.  Plugins report with
 * tandem_membership_member_joined() and tandem_membership_member_left().
 */
struct _TandemMembershipClass {
	TandemPluginClass parent_class;

	void (*member_joined) (TandemMembership *self, const char *node_id, const char *address);
	void (*member_left) (TandemMembership *self, const char *node_id, const char *reason);

	/*< private >*/
	gpointer padding[14];
};

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
