/* tandem-gda-schema.h: the tables of the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tandem-gda-db.h"

G_BEGIN_DECLS

typedef enum {
	TANDEM_GDA_TABLE_EVENTS,
	TANDEM_GDA_TABLE_OUTPUTS,
} TandemGdaTableKind;

/* One table of events or outputs, with its insert statements.  Used by one
 * thread at a time. */
typedef struct {
	TandemGdaProvider provider;
	TandemGdaTableKind kind;
	char *plan; /* outputs only */
	TandemStreamDefinition *stream;
	char *name;
	guint n_reserved;    /* columns before the attributes */
	guint n_columns;     /* reserved + attributes */
	guint rows_per_stmt; /* rows of the largest insert statement */
	GPtrArray *inserts;  /* index n: the statement inserting n rows, or NULL */
	char *insert_head;   /* INSERT INTO t (columns) VALUES */
	char *insert_tail;   /* what makes a duplicate row a no-op */
} TandemGdaTable;

gboolean tandem_gda_schema_ensure_control (GdaConnection *cnc,
					   TandemGdaProvider provider,
					   GError **error);

TandemGdaTable *tandem_gda_table_open (GdaConnection *cnc,
				       TandemGdaProvider provider,
				       TandemGdaTableKind kind,
				       const char *plan,
				       TandemStreamDefinition *stream,
				       guint max_rows,
				       GError **error);
void tandem_gda_table_free (TandemGdaTable *table);
char *tandem_gda_table_key (TandemGdaTableKind kind,
			    const char *plan,
			    TandemStreamDefinition *stream);
TandemGdaStmt *tandem_gda_table_get_insert (TandemGdaTable *table, guint n_rows, GError **error);

/* Statements on the control tables; parameters are listed beside each. */
/* p0 cluster, p1 holder, p2 ttl_ms, p3 ttl_ms */
TandemGdaStmt *tandem_gda_schema_lease_cas (TandemGdaProvider provider, GError **error);
/* p0 cluster -> holder, epoch, expires_ms, now_ms */
TandemGdaStmt *tandem_gda_schema_lease_get (TandemGdaProvider provider, GError **error);
/* p0 node_id, p1 host, p2 ports, p3 instance, p4 timeout_ms */
TandemGdaStmt *tandem_gda_schema_node_register (TandemGdaProvider provider, GError **error);
/* p0 node_id -> host, instance, alive, last_seen_ms, now_ms */
TandemGdaStmt *tandem_gda_schema_node_get (TandemGdaProvider provider, GError **error);
/* p0 node_id, p1 instance */
TandemGdaStmt *tandem_gda_schema_node_heartbeat (TandemGdaProvider provider, GError **error);
/* p0 node_id, p1 instance */
TandemGdaStmt *tandem_gda_schema_node_leave (TandemGdaProvider provider, GError **error);

/* Reading events back: the columns are epoch, seq, event_ts, node_id, then
 * one per attribute of @stream; p0 is the seq to read after.  NULL without
 * error when the store has no table for @stream. */
char *tandem_gda_schema_events_select (GdaConnection *cnc,
				       TandemGdaProvider provider,
				       TandemStreamDefinition *stream,
				       guint limit,
				       GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemGdaTable, tandem_gda_table_free)

G_END_DECLS
