/* tandem-gda-query.c: read-only queries of the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A query is checked with libgda's SQL parser (the provider's dialect):
 * one SELECT (or a compound of SELECTs), nothing after it.  It runs on a
 * connection of its own, opened for it and closed after (MySQL keeps a
 * server-side statement for each distinct statement until then), in a
 * read-only session: SQLite `PRAGMA query_only`, MySQL `SET SESSION
 * TRANSACTION READ ONLY`, PostgreSQL `default_transaction_read_only`.  The
 * server stops it at the timeout (MariaDB `max_statement_time`, MySQL
 * `max_execution_time`, PostgreSQL `statement_timeout`); SQLite has no such
 * setting, so there the timeout is checked between rows.  At most
 * @row_limit rows are read.
 *
 * The rows become a JSON array of objects, one member per column: numbers
 * stay numbers (64-bit integers exactly, doubles in their shortest exact
 * form; NaN and infinities as the strings "NaN", "Infinity", "-Infinity"),
 * booleans, strings, null, binary data as base64, other types as text.
 */
#define G_LOG_DOMAIN "Tandem-gda"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "tandem-gda-query.h"

/* Words that make a SELECT write (SELECT ... INTO OUTFILE), lock (FOR
 * UPDATE, LOCK IN SHARE MODE) or call something. */
static const char *const refused_words[] = {
	"INTO",  "FOR",     "LOCK", "PROCEDURE", "INSERT", "UPDATE", "DELETE",
	"MERGE", "REPLACE", "CALL", "CREATE",    "DROP",   "ALTER",  "TRUNCATE",
	"GRANT", "REVOKE",  "SET",  "HANDLER",   "LOAD",   "COPY",
};

/* The words of @sql before @end, outside quotes and comments, upper-cased. */
static GPtrArray *
sql_words (const char *sql, const char *end)
{
	GPtrArray *words = g_ptr_array_new_with_free_func (g_free);
	const char *p = sql;

	while (p < end && *p != '\0') {
		if (*p == '\'' || *p == '"' || *p == '`') {
			char quote = *p++;

			while (p < end && *p != '\0' && *p != quote) {
				if (*p == '\\' && p[1] != '\0')
					p++;
				p++;
			}
			if (p < end && *p != '\0')
				p++;
		} else if ((p[0] == '-' && p[1] == '-') || p[0] == '#') {
			while (p < end && *p != '\0' && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			const char *close = strstr (p + 2, "*/");

			p = close != NULL ? close + 2 : end;
		} else if (g_ascii_isalpha (*p) || *p == '_') {
			const char *start = p;

			while (p < end && (g_ascii_isalnum (*p) || *p == '_' || *p == '$'))
				p++;
			g_ptr_array_add (words, g_ascii_strup (start, p - start));
		} else {
			p++;
		}
	}
	return words;
}

static gboolean
check_unknown_select (const char *sql, const char *remain, GError **error)
{
	g_autoptr (GPtrArray) words = sql_words (sql, remain != NULL ? remain : sql + strlen (sql));
	const char *first = words->len > 0 ? g_ptr_array_index (words, 0) : "";

	if (!g_str_equal (first, "SELECT") && !g_str_equal (first, "WITH")) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "only a SELECT is allowed, not %s",
			     *first != '\0' ? first : "this statement");
		return FALSE;
	}
	for (guint i = 1; i < words->len; i++) {
		for (guint k = 0; k < G_N_ELEMENTS (refused_words); k++) {
			if (g_str_equal (g_ptr_array_index (words, i), refused_words[k])) {
				g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
					     "only a plain SELECT is allowed: %s is refused",
					     refused_words[k]);
				return FALSE;
			}
		}
	}
	return TRUE;
}

/* Checks @sql; @text receives the statement itself (without what follows,
 * blanks and semicolons). */
static gboolean
check_query (TandemGdaProvider provider, const char *sql, char **text, GError **error)
{
	g_autoptr (GdaStatement) statement = NULL;
	g_autoptr (GError) local_error = NULL;
	const char *remain = NULL;
	GdaSqlStatementType type;
	const char *p = sql;

	while (p != NULL && g_ascii_isspace (*p))
		p++;
	if (p == NULL || *p == '\0') {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "empty query: expected one SELECT");
		return FALSE;
	}
	statement = tandem_gda_parse (provider, sql, &remain, &local_error);
	if (statement == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "the query does not parse: %s",
			     local_error != NULL ? local_error->message : "syntax error");
		return FALSE;
	}
	if (remain != NULL) {
		for (p = remain; *p != '\0'; p++) {
			if (!g_ascii_isspace (*p) && *p != ';') {
				g_set_error (
					error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
					"only one statement is allowed, and something follows the first: "
					"\"%.40s\"",
					p);
				return FALSE;
			}
		}
	}
	if (text != NULL) {
		gsize length = remain != NULL ? (gsize) (remain - sql) : strlen (sql);

		*text = g_strndup (sql, length);
		g_strchomp (*text);
		while (**text != '\0' && (*text)[strlen (*text) - 1] == ';') {
			(*text)[strlen (*text) - 1] = '\0';
			g_strchomp (*text);
		}
	}
	type = gda_statement_get_statement_type (statement);
	if (type == GDA_SQL_STATEMENT_SELECT || type == GDA_SQL_STATEMENT_COMPOUND)
		return TRUE;
	if (type != GDA_SQL_STATEMENT_UNKNOWN) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "only a SELECT is allowed, not %s",
			     gda_sql_statement_type_to_string (type));
		return FALSE;
	}
	/* libgda 5's grammar misses parts of SELECT (COUNT(DISTINCT x),
	 * backquotes, WITH): such a statement parses as "unknown".  It is
	 * taken if it reads like a SELECT and says none of the words that
	 * write or lock; the read-only session refuses any write anyway. */
	return check_unknown_select (sql, remain, error);
}

gboolean
tandem_gda_query_check (TandemGdaProvider provider, const char *sql, GError **error)
{
	return check_query (provider, sql, NULL, error);
}

/* --- JSON ------------------------------------------------------------------------ */

static void
append_json_double (GString *out, double value, gboolean single)
{
	if (isnan (value)) {
		g_string_append (out, "\"NaN\"");
		return;
	}
	if (isinf (value)) {
		g_string_append (out, value > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	tandem_json_append_real (out, value, single);
}

/* A JSON number: -?digits(.digits)?([eE][+-]?digits)? */
static gboolean
is_json_number (const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (!g_ascii_isdigit (*p))
		return FALSE;
	while (g_ascii_isdigit (*p))
		p++;
	if (*p == '.') {
		p++;
		if (!g_ascii_isdigit (*p))
			return FALSE;
		while (g_ascii_isdigit (*p))
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!g_ascii_isdigit (*p))
			return FALSE;
		while (g_ascii_isdigit (*p))
			p++;
	}
	return *p == '\0';
}

static void
append_json_value (GString *out, const GValue *value)
{
	GType type;

	if (value == NULL || gda_value_is_null (value)) {
		g_string_append (out, "null");
		return;
	}
	type = G_VALUE_TYPE (value);
	if (type == G_TYPE_INT) {
		g_string_append_printf (out, "%d", g_value_get_int (value));
	} else if (type == G_TYPE_UINT) {
		g_string_append_printf (out, "%u", g_value_get_uint (value));
	} else if (type == G_TYPE_INT64) {
		g_string_append_printf (out, "%" G_GINT64_FORMAT, g_value_get_int64 (value));
	} else if (type == G_TYPE_UINT64) {
		g_string_append_printf (out, "%" G_GUINT64_FORMAT, g_value_get_uint64 (value));
	} else if (type == G_TYPE_LONG) {
		g_string_append_printf (out, "%ld", g_value_get_long (value));
	} else if (type == G_TYPE_ULONG) {
		g_string_append_printf (out, "%lu", g_value_get_ulong (value));
	} else if (type == GDA_TYPE_SHORT) {
		g_string_append_printf (out, "%d", gda_value_get_short (value));
	} else if (type == GDA_TYPE_USHORT) {
		g_string_append_printf (out, "%u", gda_value_get_ushort (value));
	} else if (type == G_TYPE_CHAR) {
		g_string_append_printf (out, "%d", g_value_get_schar (value));
	} else if (type == G_TYPE_UCHAR) {
		g_string_append_printf (out, "%u", g_value_get_uchar (value));
	} else if (type == G_TYPE_BOOLEAN) {
		g_string_append (out, g_value_get_boolean (value) ? "true" : "false");
	} else if (type == G_TYPE_DOUBLE) {
		append_json_double (out, g_value_get_double (value), FALSE);
	} else if (type == G_TYPE_FLOAT) {
		append_json_double (out, g_value_get_float (value), TRUE);
	} else if (type == G_TYPE_STRING) {
		/* libgda's MySQL reads '' as a NULL string (NULL is a GdaNull) */
		tandem_json_append_string (out, g_value_get_string (value) != NULL
						 ? g_value_get_string (value)
						 : "");
	} else if (type == GDA_TYPE_NUMERIC) {
		g_autofree char *text = gda_numeric_get_string (gda_value_get_numeric (value));

		if (text != NULL && is_json_number (text))
			g_string_append (out, text);
		else
			tandem_json_append_string (out, text != NULL ? text : "");
	} else if (type == GDA_TYPE_BINARY || type == GDA_TYPE_BLOB) {
		const GdaBinary *bin = type == GDA_TYPE_BINARY
					       ? gda_value_get_binary (value)
					       : (const GdaBinary *) gda_value_get_blob (value);
		g_autofree char *b64 =
			bin != NULL && bin->data != NULL
				? g_base64_encode (bin->data, (gsize) bin->binary_length)
				: g_strdup ("");

		tandem_json_append_string (out, b64);
	} else {
		g_autofree char *text = gda_value_stringify (value);

		tandem_json_append_string (out, text != NULL ? text : "");
	}
}

/* --- running ---------------------------------------------------------------------- */

static gboolean
prepare_session (GdaConnection *cnc, TandemGdaProvider provider, guint timeout_ms, GError **error)
{
	g_autofree char *timeout = NULL;

	switch (provider) {
	case TANDEM_GDA_SQLITE:
		return tandem_gda_run (cnc, provider, "PRAGMA query_only = 1", error);
	case TANDEM_GDA_MYSQL: {
		char seconds[G_ASCII_DTOSTR_BUF_SIZE];

		if (!tandem_gda_run (cnc, provider, "SET SESSION TRANSACTION READ ONLY", error))
			return FALSE;
		g_ascii_formatd (seconds, sizeof seconds, "%.3f", timeout_ms / 1000.0);
		timeout = g_strdup_printf ("SET SESSION max_statement_time = %s", seconds);
		if (tandem_gda_run (cnc, provider, timeout, NULL))
			return TRUE;
		/* MySQL rather than MariaDB */
		g_free (timeout);
		timeout = g_strdup_printf ("SET SESSION max_execution_time = %u", timeout_ms);
		return tandem_gda_run (cnc, provider, timeout, error);
	}
	case TANDEM_GDA_POSTGRES:
		if (!tandem_gda_run (cnc, provider, "SET default_transaction_read_only = on",
				     error))
			return FALSE;
		timeout = g_strdup_printf ("SET statement_timeout = %u", timeout_ms);
		return tandem_gda_run (cnc, provider, timeout, error);
	default:
		g_assert_not_reached ();
	}
}

static void
set_timed_out (GError **error, guint timeout_ms)
{
	g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
		     "the query did not finish within %u ms", timeout_ms);
}

static gboolean
looks_timed_out (const GError *error, gint64 elapsed_us, guint timeout_ms)
{
	return elapsed_us >= (gint64) timeout_ms * 900 ||
	       strstr (error->message, "statement timeout") != NULL ||
	       strstr (error->message, "max_statement_time") != NULL ||
	       strstr (error->message, "maximum statement execution time") != NULL;
}

typedef enum {
	RUN_OK,
	RUN_FAILED,
	RUN_RETRY_WIDER, /* an integer did not fit the 32-bit type libgda chose */
} RunResult;

static RunResult
run_once (GdaConnection *cnc,
	  TandemGdaProvider provider,
	  GdaStatement *statement,
	  guint row_limit,
	  guint timeout_ms,
	  GType *col_types,
	  GType **wider_types,
	  GString *out,
	  GError **error)
{
	gint64 start = g_get_monotonic_time ();
	g_autoptr (GdaDataModel) model = NULL;
	g_autoptr (GdaDataModelIter) iter = NULL;
	g_autoptr (GError) local_error = NULL;
	g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
	gboolean widen = FALSE;
	int n_columns;
	guint n_rows = 0;

	/* libgda's MySQL cursor reads every row anyway, and loses values */
	model = gda_connection_statement_execute_select_full (
		cnc, statement, NULL,
		provider == TANDEM_GDA_MYSQL ? GDA_STATEMENT_MODEL_RANDOM_ACCESS
					     : GDA_STATEMENT_MODEL_CURSOR_FORWARD,
		col_types, &local_error);
	if (model == NULL) {
		if (local_error != NULL &&
		    looks_timed_out (local_error, g_get_monotonic_time () - start, timeout_ms))
			set_timed_out (error, timeout_ms);
		else
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "the query failed: %s",
				     local_error != NULL ? local_error->message : "no detail");
		return RUN_FAILED;
	}
	n_columns = gda_data_model_get_n_columns (model);
	for (int c = 0; c < n_columns; c++) {
		GdaColumn *column = gda_data_model_describe_column (model, c);
		const char *name = column != NULL ? gda_column_get_name (column) : NULL;
		GString *quoted = g_string_new (NULL);

		tandem_json_append_string (quoted, name != NULL ? name : "");
		g_ptr_array_add (names, g_string_free (quoted, FALSE));
	}
	iter = gda_data_model_create_iter (model);
	g_string_append_c (out, '[');
	while (n_rows < row_limit && gda_data_model_iter_move_next (iter)) {
		gint total = gda_data_model_get_n_rows (model);

		/* (libgda's MySQL cursor repeats its last row forever) */
		if (total >= 0 && n_rows >= (guint) total)
			break;
		if (g_get_monotonic_time () - start >
		    (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND) {
			set_timed_out (error, timeout_ms);
			return RUN_FAILED;
		}
		g_string_append (out, n_rows > 0 ? ",{" : "{");
		for (int c = 0; c < n_columns; c++) {
			g_autoptr (GError) value_error = NULL;
			const GValue *value =
				gda_data_model_iter_get_value_at_e (iter, c, &value_error);

			if (value == NULL && value_error != NULL) {
				GdaColumn *column = gda_data_model_describe_column (model, c);
				GType type = column != NULL ? gda_column_get_g_type (column)
							    : G_TYPE_INVALID;

				if (type == G_TYPE_INT || type == G_TYPE_UINT)
					widen = TRUE;
			}
			g_string_append_printf (out, "%s%s:", c > 0 ? "," : "",
						(const char *) names->pdata[c]);
			append_json_value (out, value);
		}
		g_string_append_c (out, '}');
		n_rows++;
	}
	g_string_append_c (out, ']');
	if (widen && wider_types != NULL) {
		GType *types = g_new0 (GType, n_columns + 1);

		for (int c = 0; c < n_columns; c++) {
			GdaColumn *column = gda_data_model_describe_column (model, c);
			GType type =
				column != NULL ? gda_column_get_g_type (column) : G_TYPE_INVALID;

			types[c] = (type == G_TYPE_INT || type == G_TYPE_UINT) ? G_TYPE_INT64 : 0;
		}
		types[n_columns] = G_TYPE_NONE;
		*wider_types = types;
		return RUN_RETRY_WIDER;
	}
	return RUN_OK;
}

char *
tandem_gda_query_run (const TandemGdaParams *params,
		      const char *sql,
		      guint row_limit,
		      guint timeout_ms,
		      GError **error)
{
	g_autoptr (GdaStatement) statement = NULL;
	g_autoptr (GdaConnection) cnc = NULL;
	g_autoptr (GString) out = g_string_new (NULL);
	g_autofree GType *wider = NULL;
	g_autofree char *text = NULL;
	RunResult result;

	if (row_limit == 0)
		row_limit = TANDEM_GDA_QUERY_DEFAULT_ROWS;
	if (timeout_ms == 0)
		timeout_ms = TANDEM_GDA_QUERY_DEFAULT_TIMEOUT_MS;
	if (!check_query (params->provider, sql, &text, error))
		return NULL;
	/* what was checked, as the user wrote it */
	statement = tandem_gda_statement_verbatim (text);
	if (params->provider == TANDEM_GDA_SQLITE &&
	    !g_file_test (params->database, G_FILE_TEST_IS_REGULAR)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "SQLite database %s does not exist", params->database);
		return NULL;
	}
	cnc = tandem_gda_open (params, TANDEM_GDA_SESSION_READ, error);
	if (cnc == NULL)
		return NULL;
	if (!prepare_session (cnc, params->provider, timeout_ms, error)) {
		g_prefix_error (error, "cannot make a read-only session: ");
		return NULL;
	}
	result = run_once (cnc, params->provider, statement, row_limit, timeout_ms, NULL, &wider,
			   out, error);
	if (result == RUN_RETRY_WIDER) {
		/* SQLite's integers are 64-bit whatever the declared type:
		 * again, with the 32-bit columns read as 64-bit ones */
		g_string_truncate (out, 0);
		gda_connection_del_prepared_statement (cnc, statement);
		result = run_once (cnc, params->provider, statement, row_limit, timeout_ms, wider,
				   NULL, out, error);
	}
	gda_connection_close (cnc);
	if (result == RUN_FAILED)
		return NULL;
	return g_string_free (g_steal_pointer (&out), FALSE);
}
