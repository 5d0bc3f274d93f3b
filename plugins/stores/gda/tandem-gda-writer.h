/* tandem-gda-writer.h: the worker thread of the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tandem-gda-db.h"
#include "tandem-gda-schema.h"

G_BEGIN_DECLS

typedef struct {
	TandemGdaParams params;
	char *name;    /* the store's section name, for messages */
	char *node_id; /* written in every row */
	guint batch_size;
	guint flush_interval_ms;
	guint queue_size;
	guint retry_max_interval_ms;
	guint shutdown_timeout_ms;
	guint heartbeat_interval_ms;
} TandemGdaWriterConfig;

typedef struct _TandemGdaWriter TandemGdaWriter;

/* Takes @cnc and the tables already opened (keyed by tandem_gda_table_key()). */
TandemGdaWriter *tandem_gda_writer_start (const TandemGdaWriterConfig *config,
					  GdaConnection *cnc,
					  GHashTable *tables);
gboolean tandem_gda_writer_append_events (TandemGdaWriter *self,
					  TandemStreamDefinition *stream,
					  GPtrArray *events,
					  GError **error);
gboolean tandem_gda_writer_append_outputs (TandemGdaWriter *self,
					   const TandemStoreOutput *outputs,
					   guint n_outputs,
					   GError **error);
gboolean tandem_gda_writer_flush (TandemGdaWriter *self, GCancellable *cancellable, GError **error);
void tandem_gda_writer_add_heartbeat (TandemGdaWriter *self,
				      const char *node_id,
				      const char *instance);
/* Writes what is queued (for at most shutdown_timeout_ms if the database is
 * away), stops the thread and frees @self. */
void tandem_gda_writer_stop (TandemGdaWriter *self);

/* Counters, for tests and the log. */
typedef struct {
	guint64 rows_queued;
	guint64 rows_written;   /* committed (new rows) */
	guint64 rows_duplicate; /* committed, already there */
	guint64 rows_dropped;   /* refused by the database, or left at shutdown */
	guint64 batches;
	guint64 reconnects;
} TandemGdaWriterStats;

void tandem_gda_writer_get_stats (TandemGdaWriter *self, TandemGdaWriterStats *stats);

G_END_DECLS
