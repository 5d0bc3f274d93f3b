/* tandem-membership-private.h: what the node and the announcement codec see of the base class
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tandem-membership.h"

G_BEGIN_DECLS

/* (transfer none) (nullable): the cluster key given to tandem_membership_set_cluster() */
GBytes *tandem_membership_get_key (TandemMembership *self);
/* (transfer none) (nullable): the heartbeat channel, while started
 * (a TandemHaChannel, see core/ha/tandem-ha-channel.h) */
gpointer tandem_membership_get_channel (TandemMembership *self);

gboolean tandem_membership_open_channel (TandemMembership *self, GError **error);
void tandem_membership_close_channel (TandemMembership *self, const char *reason);

G_END_DECLS
