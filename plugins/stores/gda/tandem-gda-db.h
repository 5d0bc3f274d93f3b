/* tandem-gda-db.h: connections, SQL dialects and reusable statements of the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libgda/libgda.h>
#include <tandem.h>

G_BEGIN_DECLS

/* libgda 5 predates g_autoptr() */
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GdaConnection, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GdaDataModel, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GdaDataModelIter, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GdaStatement, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GdaSqlParser, g_object_unref)

/* The database engines the store supports. */
typedef enum {
	TANDEM_GDA_SQLITE,
	TANDEM_GDA_MYSQL,
	TANDEM_GDA_POSTGRES,
} TandemGdaProvider;

/* Where the database is.  @host starting with '/' is a Unix socket: the
 * socket file for MySQL/MariaDB, the socket directory for PostgreSQL. */
typedef struct {
	TandemGdaProvider provider;
	char *database; /* SQLite: the file; others: the database name */
	char *host;
	guint port; /* 0: the default */
	char *user;
	char *password; /* never logged */
} TandemGdaParams;

void tandem_gda_params_clear (TandemGdaParams *params);
void tandem_gda_params_copy (TandemGdaParams *dest, const TandemGdaParams *src);

void tandem_gda_ensure_init (void);
gboolean tandem_gda_provider_from_string (const char *str, TandemGdaProvider *provider);
const char *tandem_gda_provider_to_string (TandemGdaProvider provider);
char *tandem_gda_describe (const TandemGdaParams *params);

typedef enum {
	TANDEM_GDA_SESSION_WRITE, /* the store's own connections */
	TANDEM_GDA_SESSION_READ,  /* queries: change nothing in the database */
} TandemGdaSession;

/* Opens a connection and prepares its session.  Writing: SQLite WAL, full
 * sync, busy timeout; MySQL utf8mb4, UTC, strict mode, IGNORE_SPACE.
 * Reading: the busy timeout, the character set and UTC only. */
GdaConnection *tandem_gda_open (const TandemGdaParams *params,
				TandemGdaSession session,
				GError **error);
gboolean tandem_gda_ping (GdaConnection *cnc);

char *tandem_gda_quote (TandemGdaProvider provider, const char *identifier);
/* A statement that libgda sends as it is, without rendering it again
 * (libgda's renderer changes the meaning of some statements: a compound
 * SELECT's ORDER BY moves into its last part).  No parameters. */
GdaStatement *tandem_gda_statement_verbatim (const char *sql);
/* Parses one statement with the provider's parser; @remain gets what
 * follows it, if anything. */
GdaStatement *tandem_gda_parse (TandemGdaProvider provider,
				const char *sql,
				const char **remain,
				GError **error);
const char *tandem_gda_now_ms_sql (TandemGdaProvider provider);

/* Runs SQL without parameters once (DDL, session settings).  DDL returns -1
 * from libgda even on success: only the GError tells. */
gboolean tandem_gda_run (GdaConnection *cnc,
			 TandemGdaProvider provider,
			 const char *sql,
			 GError **error);

/* A statement parsed once and executed many times, on any connection of its
 * provider.  Its parameters are `##p0::string::null` ... `##pN::string::null`
 * and each has a GValue that the holder points at: setting a value is a
 * store into that GValue, without signals or copies.  The value types are
 * chosen per provider so that libgda 5.2 binds them exactly (see
 * tandem-gda-db.c). */
typedef struct _TandemGdaStmt TandemGdaStmt;

TandemGdaStmt *tandem_gda_stmt_new (TandemGdaProvider provider,
				    const char *sql,
				    guint n_params,
				    GError **error);
void tandem_gda_stmt_free (TandemGdaStmt *stmt);
guint tandem_gda_stmt_get_n_params (TandemGdaStmt *stmt);
const char *tandem_gda_stmt_get_sql (TandemGdaStmt *stmt);

void tandem_gda_stmt_set_null (TandemGdaStmt *stmt, guint i);
void tandem_gda_stmt_set_int (TandemGdaStmt *stmt, guint i, gint32 value);
void tandem_gda_stmt_set_long (TandemGdaStmt *stmt, guint i, gint64 value);
void tandem_gda_stmt_set_float (TandemGdaStmt *stmt, guint i, float value);
void tandem_gda_stmt_set_double (TandemGdaStmt *stmt, guint i, double value);
void tandem_gda_stmt_set_bool (TandemGdaStmt *stmt, guint i, gboolean value);
/* @value must stay valid until the statement has run */
void tandem_gda_stmt_set_string (TandemGdaStmt *stmt, guint i, const char *value);
/* binary data for a BLOB, BYTEA or LONGBLOB column, read in place: @data
 * must stay valid until the statement has run */
void tandem_gda_stmt_set_binary (TandemGdaStmt *stmt, guint i, const guint8 *data, gsize length);

/* Returns the number of rows changed, or -1 with @error set. */

gint tandem_gda_stmt_exec (GdaConnection *cnc, TandemGdaStmt *stmt, GError **error);
GdaDataModel *tandem_gda_stmt_select (GdaConnection *cnc, TandemGdaStmt *stmt, GError **error);
/* A random-access result whose columns have the types of @col_types (an
 * array ending with G_TYPE_NONE, 0 for the provider's choice) */
GdaDataModel *tandem_gda_stmt_select_typed (GdaConnection *cnc,
					    TandemGdaStmt *stmt,
					    GType *col_types,
					    GError **error);
/* Drops what @cnc prepared for @stmt (MySQL keeps a server-side statement
 * for each one until the connection closes). */
void tandem_gda_stmt_forget (GdaConnection *cnc, TandemGdaStmt *stmt);

/* One-off statements with string parameters (NULL: SQL NULL): parsed, run
 * and forgotten.  For schema work, not for hot paths. */
GdaDataModel *tandem_gda_select_once (GdaConnection *cnc,
				      TandemGdaProvider provider,
				      const char *sql,
				      const char *const *params,
				      guint n_params,
				      GError **error);
gint tandem_gda_exec_once (GdaConnection *cnc,
			   TandemGdaProvider provider,
			   const char *sql,
			   const char *const *params,
			   guint n_params,
			   GError **error);

/* Reads a value of a data model as an integer or a string, whatever the
 * provider made of it. */
gboolean tandem_gda_value_get_long (const GValue *value, gint64 *out);
char *tandem_gda_value_dup_string (const GValue *value);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemGdaStmt, tandem_gda_stmt_free)

G_END_DECLS
