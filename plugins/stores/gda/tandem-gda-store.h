/* tandem-gda-store.h: the gda store plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TANDEM_TYPE_GDA_STORE:
 *
 * The #GType of #TandemGdaStore.
 */
#define TANDEM_TYPE_GDA_STORE (tandem_gda_store_get_type ())
G_DECLARE_FINAL_TYPE (TandemGdaStore, tandem_gda_store, TANDEM, GDA_STORE, TandemStore)

G_END_DECLS
