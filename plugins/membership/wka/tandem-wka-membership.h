/* tandem-wka-membership.h: the wka membership plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TANDEM_TYPE_WKA_MEMBERSHIP:
 *
 * The #GType of #TandemWkaMembership.
 */
#define TANDEM_TYPE_WKA_MEMBERSHIP (tandem_wka_membership_get_type ())
G_DECLARE_FINAL_TYPE (TandemWkaMembership,
		      tandem_wka_membership,
		      TANDEM,
		      WKA_MEMBERSHIP,
		      TandemMembership)

G_END_DECLS
