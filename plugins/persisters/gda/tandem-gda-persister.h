/* tandem-gda-persister.h: the gda persister plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TANDEM_TYPE_GDA_PERSISTER:
 *
 * The #GType of #TandemGdaPersister.
 */
#define TANDEM_TYPE_GDA_PERSISTER (tandem_gda_persister_get_type ())
G_DECLARE_FINAL_TYPE (TandemGdaPersister,
		      tandem_gda_persister,
		      TANDEM,
		      GDA_PERSISTER,
		      TandemPersister)

G_END_DECLS
