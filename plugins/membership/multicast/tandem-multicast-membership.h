/* tandem-multicast-membership.h: the multicast membership plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TANDEM_TYPE_MULTICAST_MEMBERSHIP:
 *
 * The #GType of #TandemMulticastMembership.
 */
#define TANDEM_TYPE_MULTICAST_MEMBERSHIP (tandem_multicast_membership_get_type ())
G_DECLARE_FINAL_TYPE (TandemMulticastMembership,
		      tandem_multicast_membership,
		      TANDEM,
		      MULTICAST_MEMBERSHIP,
		      TandemMembership)

G_END_DECLS
