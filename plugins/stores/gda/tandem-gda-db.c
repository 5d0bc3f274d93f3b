/* tandem-gda-db.c: connections, SQL dialects and reusable statements of the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * What libgda 5.2 does with a parameter depends on the provider, and not
 * always well (measured, and read in its sources):
 *
 * - SQLite binds a G_TYPE_LONG with sqlite3_bind_int (32 bits): 64-bit
 *   values go as G_TYPE_INT64 (sqlite3_bind_int64).
 * - MySQL binds a G_TYPE_INT64 through g_value_get_long (a CRITICAL and 0)
 *   and a G_TYPE_LONG as MYSQL_TYPE_LONG (32 bits): 64-bit values go as
 *   decimal strings, which the server converts exactly.
 * - PostgreSQL sends every parameter as text, and formats doubles with
 *   "%f" (six decimals): every value goes as a string formatted here.
 * - A NULL value (GDA_TYPE_NULL) makes every provider copy and rewrite the
 *   whole statement, once per NULL parameter.  A G_TYPE_STRING holding
 *   NULL is bound as SQL NULL by all three without that detour.
 * - gda_statement_get_parameters() and the provider's prepare build their
 *   GdaSet holder by holder, recomputing the whole set each time: quadratic
 *   in the number of parameters (2 s for 4000).  Our own sets are built in
 *   one go, read-only, without change validation; callers keep statements
 *   to a few hundred parameters.
 * - Setting a holder's value emits signals and copies the value (about 2 us).
 *   Each holder here points at a GValue of ours (gda_holder_take_static_value)
 *   that we overwrite in place before each execution.
 */
#define G_LOG_DOMAIN "Tandem-gda"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>
#include <sql-parser/gda-sql-parser.h>

#include "tandem-gda-db.h"

#define SCRATCH_SIZE 32

struct _TandemGdaStmt {
	TandemGdaProvider provider;
	char *sql;
	GdaStatement *statement;
	GdaSet *set;
	guint n_params;
	GValue *values;
	char (*scratch)[SCRATCH_SIZE];
	GdaBinary *binaries; /* for tandem_gda_stmt_set_binary() */
};

static const char *const provider_names[] = { "SQLite", "MySQL", "PostgreSQL" };

void
tandem_gda_ensure_init (void)
{
	static gsize done;

	if (g_once_init_enter (&done)) {
		gda_init ();
		g_once_init_leave (&done, 1);
	}
}

void
tandem_gda_params_clear (TandemGdaParams *params)
{
	g_clear_pointer (&params->database, g_free);
	g_clear_pointer (&params->host, g_free);
	g_clear_pointer (&params->user, g_free);
	if (params->password != NULL) {
		memset (params->password, 0, strlen (params->password));
		g_clear_pointer (&params->password, g_free);
	}
}

void
tandem_gda_params_copy (TandemGdaParams *dest, const TandemGdaParams *src)
{
	dest->provider = src->provider;
	dest->database = g_strdup (src->database);
	dest->host = g_strdup (src->host);
	dest->port = src->port;
	dest->user = g_strdup (src->user);
	dest->password = g_strdup (src->password);
}

gboolean
tandem_gda_provider_from_string (const char *str, TandemGdaProvider *provider)
{
	if (g_ascii_strcasecmp (str, "sqlite") == 0) {
		*provider = TANDEM_GDA_SQLITE;
	} else if (g_ascii_strcasecmp (str, "mysql") == 0 ||
		   g_ascii_strcasecmp (str, "mariadb") == 0) {
		*provider = TANDEM_GDA_MYSQL;
	} else if (g_ascii_strcasecmp (str, "postgresql") == 0 ||
		   g_ascii_strcasecmp (str, "postgres") == 0) {
		*provider = TANDEM_GDA_POSTGRES;
	} else {
		return FALSE;
	}
	return TRUE;
}

const char *
tandem_gda_provider_to_string (TandemGdaProvider provider)
{
	return provider_names[provider];
}

/* For messages: never the password. */
char *
tandem_gda_describe (const TandemGdaParams *params)
{
	g_autoptr (GString) out = g_string_new (NULL);

	if (params->provider == TANDEM_GDA_SQLITE)
		return g_strdup_printf ("SQLite database %s", params->database);
	g_string_append_printf (out, "%s database %s", provider_names[params->provider],
				params->database);
	if (params->host != NULL && params->host[0] == '/')
		g_string_append_printf (out, " on socket %s", params->host);
	else
		g_string_append_printf (out, " on %s",
					params->host != NULL ? params->host : "localhost");
	if (params->port != 0 && (params->host == NULL || params->host[0] != '/'))
		g_string_append_printf (out, ":%u", params->port);
	if (params->user != NULL)
		g_string_append_printf (out, " as %s", params->user);
	return g_string_free (g_steal_pointer (&out), FALSE);
}

static void
append_param (GString *out, const char *name, const char *value)
{
	g_autofree char *encoded = gda_rfc1738_encode (value);

	if (out->len > 0)
		g_string_append_c (out, ';');
	g_string_append_printf (out, "%s=%s", name, encoded);
}

static const char *const session_sql[][4] = {
	[TANDEM_GDA_SQLITE] = { "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL",
				"PRAGMA busy_timeout = 10000", NULL },
	/* libgda renders a function call as "name (args)": MySQL takes that
	 * for a stored function unless IGNORE_SPACE */
	[TANDEM_GDA_MYSQL] = { "SET NAMES utf8mb4", "SET time_zone = '+00:00'",
			       "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,IGNORE_SPACE'",
			       NULL },
	[TANDEM_GDA_POSTGRES] = { "SET client_encoding = 'UTF8'", NULL },
};

/* a query's session: not even SQLite's journal mode changes */
static const char *const read_session_sql[][4] = {
	[TANDEM_GDA_SQLITE] = { "PRAGMA busy_timeout = 10000", NULL },
	[TANDEM_GDA_MYSQL] = { "SET NAMES utf8mb4", "SET time_zone = '+00:00'", NULL },
	[TANDEM_GDA_POSTGRES] = { "SET client_encoding = 'UTF8'", NULL },
};

GdaConnection *
tandem_gda_open (const TandemGdaParams *params, TandemGdaSession session, GError **error)
{
	const char *const *setup = session == TANDEM_GDA_SESSION_WRITE
					   ? session_sql[params->provider]
					   : read_session_sql[params->provider];
	g_autoptr (GString) cnc_string = g_string_new (NULL);
	g_autoptr (GString) auth = g_string_new (NULL);
	g_autoptr (GdaConnection) cnc = NULL;
	g_autoptr (GError) local_error = NULL;
	g_autofree char *port = params->port != 0 ? g_strdup_printf ("%u", params->port) : NULL;

	tandem_gda_ensure_init ();
	switch (params->provider) {
	case TANDEM_GDA_SQLITE: {
		g_autofree char *dir = g_path_get_dirname (params->database);
		g_autofree char *base = g_path_get_basename (params->database);

		if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "cannot open SQLite database %s: directory %s does not exist",
				     params->database, dir);
			return NULL;
		}
		append_param (cnc_string, "DB_DIR", dir);
		append_param (cnc_string, "DB_NAME", base);
		append_param (cnc_string, "APPEND_DB_EXTENSION", "FALSE");
		break;
	}
	case TANDEM_GDA_MYSQL:
		append_param (cnc_string, "DB_NAME", params->database);
		if (params->host != NULL && params->host[0] == '/') {
			append_param (cnc_string, "UNIX_SOCKET", params->host);
		} else {
			append_param (cnc_string, "HOST",
				      params->host != NULL ? params->host : "localhost");
			if (port != NULL)
				append_param (cnc_string, "PORT", port);
		}
		break;
	case TANDEM_GDA_POSTGRES:
		append_param (cnc_string, "DB_NAME", params->database);
		if (params->host != NULL)
			append_param (cnc_string, "HOST", params->host);
		if (port != NULL)
			append_param (cnc_string, "PORT", port);
		append_param (cnc_string, "CONNECT_TIMEOUT", "10");
		break;
	default:
		g_assert_not_reached ();
	}
	if (params->user != NULL)
		append_param (auth, "USERNAME", params->user);
	if (params->password != NULL)
		append_param (auth, "PASSWORD", params->password);

	cnc = gda_connection_open_from_string (provider_names[params->provider], cnc_string->str,
					       auth->len > 0 ? auth->str : NULL,
					       GDA_CONNECTION_OPTIONS_NONE, &local_error);
	/* the auth string holds the password */
	memset (auth->str, 0, auth->len);
	if (cnc == NULL) {
		g_autofree char *what = tandem_gda_describe (params);

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "cannot connect to %s: %s",
			     what, local_error != NULL ? local_error->message : "unknown error");
		return NULL;
	}
	for (guint i = 0; setup[i] != NULL; i++) {
		if (!tandem_gda_run (cnc, params->provider, setup[i], &local_error)) {
			g_autofree char *what = tandem_gda_describe (params);

			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "%s: %s: %s", what,
				     setup[i], local_error->message);
			return NULL;
		}
	}
	return g_steal_pointer (&cnc);
}

static GdaSqlParser *
parser_for (TandemGdaProvider provider)
{
	static GMutex lock;
	static GdaSqlParser *parsers[3];
	GdaSqlParser *parser;

	g_mutex_lock (&lock);
	if (parsers[provider] == NULL) {
		GdaServerProvider *server =
			gda_config_get_provider (provider_names[provider], NULL);

		if (server != NULL)
			parsers[provider] = gda_server_provider_create_parser (server, NULL);
		if (parsers[provider] == NULL)
			parsers[provider] = gda_sql_parser_new ();
	}
	parser = g_object_ref (parsers[provider]);
	g_mutex_unlock (&lock);
	return parser;
}

GdaStatement *
tandem_gda_parse (TandemGdaProvider provider, const char *sql, const char **remain, GError **error)
{
	g_autoptr (GdaSqlParser) parser = NULL;
	GdaStatement *statement;

	tandem_gda_ensure_init ();
	parser = parser_for (provider);
	/* a parser is lockable, but not meant to parse for two threads at once */
	gda_lockable_lock (GDA_LOCKABLE (parser));
	statement = gda_sql_parser_parse_string (parser, sql, remain, error);
	gda_lockable_unlock (GDA_LOCKABLE (parser));
	return statement;
}

GdaStatement *
tandem_gda_statement_verbatim (const char *sql)
{
	GdaSqlStatement *structure = gda_sql_statement_new (GDA_SQL_STATEMENT_UNKNOWN);
	GdaSqlExpr *expr = gda_sql_expr_new (GDA_SQL_ANY_PART (structure->contents));
	GdaStatement *statement;

	/* a string value that is not an identifier is rendered as it is */
	expr->value = gda_value_new (G_TYPE_STRING);
	g_value_set_string (expr->value, sql);
	gda_sql_statement_unknown_take_expressions (structure, g_slist_append (NULL, expr));
	statement = g_object_new (GDA_TYPE_STATEMENT, "structure", structure, NULL);
	gda_sql_statement_free (structure);
	return statement;
}

static GdaStatement *
parse (TandemGdaProvider provider, const char *sql, GError **error)
{
	return tandem_gda_parse (provider, sql, NULL, error);
}

gboolean
tandem_gda_run (GdaConnection *cnc, TandemGdaProvider provider, const char *sql, GError **error)
{
	g_autoptr (GdaStatement) statement = parse (provider, sql, error);
	g_autoptr (GObject) result = NULL;
	g_autoptr (GError) local_error = NULL;

	if (statement == NULL)
		return FALSE;
	result = gda_connection_statement_execute (cnc, statement, NULL,
						   GDA_STATEMENT_MODEL_RANDOM_ACCESS, NULL,
						   &local_error);
	/* once: do not keep a prepared statement for it on the server */
	gda_connection_del_prepared_statement (cnc, statement);
	if (local_error != NULL) {
		g_propagate_error (error, g_steal_pointer (&local_error));
		return FALSE;
	}
	return TRUE;
}

gboolean
tandem_gda_ping (GdaConnection *cnc)
{
	g_autoptr (GdaSqlParser) parser = gda_connection_create_parser (cnc);
	g_autoptr (GdaStatement) statement = NULL;
	g_autoptr (GdaDataModel) model = NULL;

	if (cnc == NULL || !gda_connection_is_opened (cnc))
		return FALSE;
	if (parser == NULL)
		parser = gda_sql_parser_new ();
	statement = gda_sql_parser_parse_string (parser, "SELECT 1", NULL, NULL);
	if (statement == NULL)
		return FALSE;
	model = gda_connection_statement_execute_select (cnc, statement, NULL, NULL);
	gda_connection_del_prepared_statement (cnc, statement);
	return model != NULL;
}

char *
tandem_gda_quote (TandemGdaProvider provider, const char *identifier)
{
	char quote = provider == TANDEM_GDA_MYSQL ? '`' : '"';
	GString *out = g_string_sized_new (strlen (identifier) + 2);

	g_string_append_c (out, quote);
	for (const char *p = identifier; *p != '\0'; p++) {
		if (*p == quote)
			g_string_append_c (out, quote);
		g_string_append_c (out, *p);
	}
	g_string_append_c (out, quote);
	return g_string_free (out, FALSE);
}

/* The database's clock, in milliseconds since the Unix epoch. */
const char *
tandem_gda_now_ms_sql (TandemGdaProvider provider)
{
	switch (provider) {
	case TANDEM_GDA_SQLITE:
		return "(CAST(strftime('%s', 'now') AS INTEGER) * 1000 + "
		       "CAST(substr(strftime('%f', 'now'), 4) AS INTEGER))";
	case TANDEM_GDA_MYSQL:
		/* the session's time zone is UTC */
		return "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)";
	case TANDEM_GDA_POSTGRES:
		return "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";
	default:
		g_assert_not_reached ();
	}
}

/* --- statements ------------------------------------------------------------ */

TandemGdaStmt *
tandem_gda_stmt_new (TandemGdaProvider provider, const char *sql, guint n_params, GError **error)
{
	g_autoptr (GdaStatement) statement = parse (provider, sql, error);
	TandemGdaStmt *self;
	GSList *holders = NULL;

	if (statement == NULL) {
		g_prefix_error (error, "cannot parse %.80s: ", sql);
		return NULL;
	}
	self = g_new0 (TandemGdaStmt, 1);
	self->provider = provider;
	self->sql = g_strdup (sql);
	self->statement = g_steal_pointer (&statement);
	self->n_params = n_params;
	self->values = g_new0 (GValue, MAX (n_params, 1));
	self->scratch = g_malloc0 (sizeof (*self->scratch) * MAX (n_params, 1));
	for (guint i = n_params; i > 0; i--) {
		char id[24];
		GdaHolder *holder;
		gboolean changed;

		g_snprintf (id, sizeof id, "p%u", i - 1);
		holder = g_object_new (GDA_TYPE_HOLDER, "g-type", G_TYPE_STRING, "id", id,
				       "validate-changes", FALSE, NULL);
		g_value_init (&self->values[i - 1], G_TYPE_STRING);
		gda_holder_take_static_value (holder, &self->values[i - 1], &changed, NULL);
		holders = g_slist_prepend (holders, holder);
	}
	if (holders != NULL) {
		self->set = gda_set_new_read_only (holders);
		g_object_set (self->set, "validate-changes", FALSE, NULL);
		g_slist_free_full (holders, g_object_unref);
	}
	return self;
}

void
tandem_gda_stmt_free (TandemGdaStmt *self)
{
	if (self == NULL)
		return;
	g_clear_object (&self->set);
	g_clear_object (&self->statement);
	for (guint i = 0; i < self->n_params; i++)
		g_value_unset (&self->values[i]);
	g_free (self->values);
	g_free (self->scratch);
	g_free (self->binaries);
	g_free (self->sql);
	g_free (self);
}

guint
tandem_gda_stmt_get_n_params (TandemGdaStmt *self)
{
	return self->n_params;
}

const char *
tandem_gda_stmt_get_sql (TandemGdaStmt *self)
{
	return self->sql;
}

static inline GValue *
value_of_type (TandemGdaStmt *self, guint i, GType type)
{
	GValue *value = &self->values[i];

	g_assert (i < self->n_params);
	if (G_VALUE_TYPE (value) != type) {
		g_value_unset (value);
		g_value_init (value, type);
	}
	return value;
}

static inline void
set_text (TandemGdaStmt *self, guint i, const char *text)
{
	g_value_set_static_string (value_of_type (self, i, G_TYPE_STRING), text);
}

static inline char *
scratch (TandemGdaStmt *self, guint i)
{
	return self->scratch[i];
}

void
tandem_gda_stmt_set_null (TandemGdaStmt *self, guint i)
{
	set_text (self, i, NULL);
}

void
tandem_gda_stmt_set_int (TandemGdaStmt *self, guint i, gint32 value)
{
	if (self->provider == TANDEM_GDA_POSTGRES) {
		g_snprintf (scratch (self, i), SCRATCH_SIZE, "%" G_GINT32_FORMAT, value);
		set_text (self, i, scratch (self, i));
		return;
	}
	g_value_set_int (value_of_type (self, i, G_TYPE_INT), value);
}

void
tandem_gda_stmt_set_long (TandemGdaStmt *self, guint i, gint64 value)
{
	if (self->provider == TANDEM_GDA_SQLITE) {
		g_value_set_int64 (value_of_type (self, i, G_TYPE_INT64), value);
		return;
	}
	g_snprintf (scratch (self, i), SCRATCH_SIZE, "%" G_GINT64_FORMAT, value);
	set_text (self, i, scratch (self, i));
}

static void
set_postgres_double (TandemGdaStmt *self, guint i, double value, gboolean single)
{
	char *buf = scratch (self, i);

	if (isnan (value))
		set_text (self, i, "NaN");
	else if (isinf (value))
		set_text (self, i, value > 0 ? "Infinity" : "-Infinity");
	else if (single)
		set_text (self, i, g_ascii_formatd (buf, SCRATCH_SIZE, "%.9g", value));
	else
		set_text (self, i, g_ascii_dtostr (buf, SCRATCH_SIZE, value));
}

void
tandem_gda_stmt_set_float (TandemGdaStmt *self, guint i, float value)
{
	switch (self->provider) {
	case TANDEM_GDA_POSTGRES:
		set_postgres_double (self, i, value, TRUE);
		break;
	case TANDEM_GDA_MYSQL:
		/* MySQL has no NaN nor infinities */
		if (!isfinite (value)) {
			set_text (self, i, NULL);
			break;
		}
		G_GNUC_FALLTHROUGH;
	default:
		g_value_set_float (value_of_type (self, i, G_TYPE_FLOAT), value);
	}
}

void
tandem_gda_stmt_set_double (TandemGdaStmt *self, guint i, double value)
{
	switch (self->provider) {
	case TANDEM_GDA_POSTGRES:
		set_postgres_double (self, i, value, FALSE);
		break;
	case TANDEM_GDA_MYSQL:
		if (!isfinite (value)) {
			set_text (self, i, NULL);
			break;
		}
		G_GNUC_FALLTHROUGH;
	default:
		g_value_set_double (value_of_type (self, i, G_TYPE_DOUBLE), value);
	}
}

void
tandem_gda_stmt_set_bool (TandemGdaStmt *self, guint i, gboolean value)
{
	switch (self->provider) {
	case TANDEM_GDA_POSTGRES:
		set_text (self, i, value ? "true" : "false");
		break;
	case TANDEM_GDA_MYSQL:
		g_value_set_int (value_of_type (self, i, G_TYPE_INT), value ? 1 : 0);
		break;
	default:
		g_value_set_boolean (value_of_type (self, i, G_TYPE_BOOLEAN), value);
	}
}

void
tandem_gda_stmt_set_string (TandemGdaStmt *self, guint i, const char *value)
{
	set_text (self, i, value);
}

void
tandem_gda_stmt_set_binary (TandemGdaStmt *self, guint i, const guint8 *data, gsize length)
{
	GValue *value = value_of_type (self, i, GDA_TYPE_BINARY);

	/* a GdaBinary of ours, pointing at the caller's data: nothing copied,
	 * nothing freed with the value */
	if (self->binaries == NULL)
		self->binaries = g_new0 (GdaBinary, self->n_params);
	self->binaries[i].data = (guchar *) data;
	self->binaries[i].binary_length = (glong) length;
	g_value_set_static_boxed (value, &self->binaries[i]);
}

gint
tandem_gda_stmt_exec (GdaConnection *cnc, TandemGdaStmt *self, GError **error)
{
	g_autoptr (GError) local_error = NULL;
	gint n = gda_connection_statement_execute_non_select (cnc, self->statement, self->set, NULL,
							      &local_error);

	if (local_error != NULL) {
		g_propagate_error (error, g_steal_pointer (&local_error));
		return -1;
	}
	return MAX (n, 0);
}

GdaDataModel *
tandem_gda_stmt_select (GdaConnection *cnc, TandemGdaStmt *self, GError **error)
{
	return gda_connection_statement_execute_select (cnc, self->statement, self->set, error);
}

GdaDataModel *
tandem_gda_stmt_select_typed (GdaConnection *cnc, TandemGdaStmt *self, GType *col_types, GError **error)
{
	return gda_connection_statement_execute_select_full (cnc, self->statement, self->set,
							     GDA_STATEMENT_MODEL_RANDOM_ACCESS,
							     col_types, error);
}

/* --- reading values -------------------------------------------------------- */

gboolean
tandem_gda_value_get_long (const GValue *value, gint64 *out)
{
	GType type;

	if (value == NULL || gda_value_is_null (value))
		return FALSE;
	type = G_VALUE_TYPE (value);
	if (type == G_TYPE_INT64) {
		*out = g_value_get_int64 (value);
	} else if (type == G_TYPE_UINT64) {
		*out = (gint64) g_value_get_uint64 (value);
	} else if (type == G_TYPE_INT) {
		*out = g_value_get_int (value);
	} else if (type == G_TYPE_UINT) {
		*out = g_value_get_uint (value);
	} else if (type == G_TYPE_LONG) {
		*out = g_value_get_long (value);
	} else if (type == G_TYPE_ULONG) {
		*out = (gint64) g_value_get_ulong (value);
	} else if (type == G_TYPE_BOOLEAN) {
		*out = g_value_get_boolean (value);
	} else if (type == G_TYPE_DOUBLE) {
		*out = (gint64) g_value_get_double (value);
	} else if (type == GDA_TYPE_SHORT) {
		*out = gda_value_get_short (value);
	} else {
		g_autofree char *text = tandem_gda_value_dup_string (value);
		char *end = NULL;

		if (text == NULL)
			return FALSE;
		*out = g_ascii_strtoll (text, &end, 10);
		if (end == text)
			return FALSE;
	}
	return TRUE;
}

char *
tandem_gda_value_dup_string (const GValue *value)
{
	if (value == NULL || gda_value_is_null (value))
		return NULL;
	if (G_VALUE_TYPE (value) == G_TYPE_STRING)
		return g_value_dup_string (value);
	if (G_VALUE_TYPE (value) == GDA_TYPE_NUMERIC)
		return gda_numeric_get_string (gda_value_get_numeric (value));
	return gda_value_stringify (value);
}

void
tandem_gda_stmt_forget (GdaConnection *cnc, TandemGdaStmt *self)
{
	gda_connection_del_prepared_statement (cnc, self->statement);
}

static TandemGdaStmt *
stmt_with_strings (TandemGdaProvider provider,
		   const char *sql,
		   const char *const *params,
		   guint n_params,
		   GError **error)
{
	TandemGdaStmt *stmt = tandem_gda_stmt_new (provider, sql, n_params, error);

	for (guint i = 0; stmt != NULL && i < n_params; i++)
		tandem_gda_stmt_set_string (stmt, i, params[i]);
	return stmt;
}

GdaDataModel *
tandem_gda_select_once (GdaConnection *cnc,
			TandemGdaProvider provider,
			const char *sql,
			const char *const *params,
			guint n_params,
			GError **error)
{
	g_autoptr (TandemGdaStmt) stmt = stmt_with_strings (provider, sql, params, n_params, error);
	GdaDataModel *model;

	if (stmt == NULL)
		return NULL;
	model = tandem_gda_stmt_select (cnc, stmt, error);
	tandem_gda_stmt_forget (cnc, stmt);
	return model;
}

gint
tandem_gda_exec_once (GdaConnection *cnc,
		      TandemGdaProvider provider,
		      const char *sql,
		      const char *const *params,
		      guint n_params,
		      GError **error)
{
	g_autoptr (TandemGdaStmt) stmt = stmt_with_strings (provider, sql, params, n_params, error);
	gint n;

	if (stmt == NULL)
		return -1;
	n = tandem_gda_stmt_exec (cnc, stmt, error);
	tandem_gda_stmt_forget (cnc, stmt);
	return n;
}
