/* tandem-gda-query.h: read-only queries of the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tandem-gda-db.h"

G_BEGIN_DECLS

/* rows returned when the caller asks for 0 */
#define TANDEM_GDA_QUERY_DEFAULT_ROWS 1000
/* timeout when the caller asks for 0 */
#define TANDEM_GDA_QUERY_DEFAULT_TIMEOUT_MS 30000

gboolean tandem_gda_query_check (TandemGdaProvider provider, const char *sql, GError **error);
char *tandem_gda_query_run (const TandemGdaParams *params,
			    const char *sql,
			    guint row_limit,
			    guint timeout_ms,
			    GError **error);

G_END_DECLS
