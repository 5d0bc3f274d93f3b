/* tandem-gda-read.h: reading raw events back from the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tandem-gda-db.h"

G_BEGIN_DECLS

/* The events of @stream above @after_seq, in seq order, at most @limit, on
 * a connection opened for the call; an empty array when the store has no
 * table for @stream. */
GPtrArray *tandem_gda_read_events (const TandemGdaParams *params,
				   TandemStreamDefinition *stream,
				   guint64 after_seq,
				   guint limit,
				   GError **error);

G_END_DECLS
