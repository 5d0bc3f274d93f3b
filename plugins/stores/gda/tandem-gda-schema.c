/* tandem-gda-schema.c: the tables of the gda store
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One table per stream: `evt_<stream>_<version>` for raw events and
 * `out_<plan>_<stream>_<version>` for plan outputs (lower-case letters,
 * digits and `_`; README.md has the details).  The metadata table
 * `tandem_tables` maps each (kind, plan, stream id) to its table and records
 * the attributes the table was made for, so that a changed definition is
 * migrated (a new attribute becomes a new column) or refused (a removed
 * attribute or a changed type: never silent data loss).
 */
#define G_LOG_DOMAIN "Tandem-gda"

#include <string.h>

#include "tandem-gda-schema.h"

/* how long a table name may be (PostgreSQL truncates at 63 bytes) */
#define MAX_NAME 63
/* the most parameters of one insert statement: libgda's prepare is
 * quadratic in them, and a few hundred already make rows cheap */
#define MAX_PARAMS 400

static const char *const event_columns[] = { "epoch", "seq", "event_ts", "node_id" };
static const char *const output_columns[] = { "plan", "query",    "input_seq", "output_index",
					      "kind", "event_ts", "node_id" };

static const char *
bigint (TandemGdaProvider provider)
{
	/* libgda reads SQLite's INT64 as 64 bits and its INTEGER as 32 */
	return provider == TANDEM_GDA_SQLITE ? "INT64" : "BIGINT";
}

static const char *
table_options (TandemGdaProvider provider)
{
	return provider == TANDEM_GDA_MYSQL ? " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" : "";
}

static const char *
attribute_sql_type (TandemGdaProvider provider, TandemAttributeType type)
{
	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		return "INTEGER";
	case TANDEM_ATTRIBUTE_TYPE_LONG:
		return bigint (provider);
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
		return provider == TANDEM_GDA_MYSQL ? "FLOAT" : "REAL";
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		return provider == TANDEM_GDA_SQLITE  ? "REAL"
		       : provider == TANDEM_GDA_MYSQL ? "DOUBLE"
						      : "DOUBLE PRECISION";
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		return "BOOLEAN";
	case TANDEM_ATTRIBUTE_TYPE_STRING:
		return provider == TANDEM_GDA_MYSQL ? "MEDIUMTEXT" : "TEXT";
	default:
		g_assert_not_reached ();
	}
}

/* Replaces %B (64-bit integer type) and %O (table options) in @tmpl. */
static char *
ddl (TandemGdaProvider provider, const char *tmpl)
{
	GString *out = g_string_new (NULL);

	for (const char *p = tmpl; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'B') {
			g_string_append (out, bigint (provider));
			p++;
		} else if (p[0] == '%' && p[1] == 'O') {
			g_string_append (out, table_options (provider));
			p++;
		} else {
			g_string_append_c (out, *p);
		}
	}
	return g_string_free (out, FALSE);
}

static const char *const control_tables[] = {
	"CREATE TABLE IF NOT EXISTS tandem_tables ("
	"table_name VARCHAR(64) NOT NULL PRIMARY KEY, "
	"kind VARCHAR(8) NOT NULL, "
	"plan_name VARCHAR(128) NOT NULL, "
	"stream_id VARCHAR(255) NOT NULL, "
	"attributes TEXT NOT NULL, "
	"definition TEXT NOT NULL, "
	"created_ms %B NOT NULL, "
	"updated_ms %B NOT NULL, "
	"UNIQUE (kind, plan_name, stream_id))%O",

	"CREATE TABLE IF NOT EXISTS tandem_nodes ("
	"node_id VARCHAR(64) NOT NULL PRIMARY KEY, "
	"host VARCHAR(255) NOT NULL, "
	"ports VARCHAR(255) NOT NULL, "
	"instance VARCHAR(64) NOT NULL, "
	"alive INTEGER NOT NULL, "
	"first_seen_ms %B NOT NULL, "
	"last_seen_ms %B NOT NULL)%O",

	"CREATE TABLE IF NOT EXISTS tandem_lease ("
	"cluster VARCHAR(128) NOT NULL PRIMARY KEY, "
	"holder VARCHAR(128), "
	"epoch %B NOT NULL, "
	"expires_ms %B NOT NULL)%O",
};

gboolean
tandem_gda_schema_ensure_control (GdaConnection *cnc, TandemGdaProvider provider, GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS (control_tables); i++) {
		g_autofree char *sql = ddl (provider, control_tables[i]);
		g_autoptr (GError) local_error = NULL;

		if (tandem_gda_run (cnc, provider, sql, &local_error))
			continue;
		/* PostgreSQL: two sessions creating the same table at once
		 * can both miss it; the second attempt sees it */
		g_usleep (50 * 1000);
		g_clear_error (&local_error);
		if (!tandem_gda_run (cnc, provider, sql, &local_error)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "cannot create the table %s: %s",
				     i == 0   ? "tandem_tables"
				     : i == 1 ? "tandem_nodes"
					      : "tandem_lease",
				     local_error->message);
			return FALSE;
		}
	}
	return TRUE;
}

/* --- names ----------------------------------------------------------------- */

static void
append_sanitized (GString *out, const char *text)
{
	for (const char *p = text; *p != '\0'; p++)
		g_string_append_c (out, g_ascii_isalnum (*p) ? g_ascii_tolower (*p) : '_');
}

char *
tandem_gda_table_key (TandemGdaTableKind kind, const char *plan, TandemStreamDefinition *stream)
{
	return g_strdup_printf ("%s\n%s\n%s",
				kind == TANDEM_GDA_TABLE_EVENTS ? "events" : "outputs",
				plan != NULL ? plan : "", tandem_stream_definition_get_id (stream));
}

static char *
hashed_name (const char *name, const char *key)
{
	g_autofree char *sum = g_compute_checksum_for_string (G_CHECKSUM_SHA1, key, -1);

	return g_strdup_printf ("%.*s_%.8s", MAX_NAME - 9, name, sum);
}

/* evt_<name>_<version> or out_<plan>_<name>_<version>; too long: cut and
 * made unique by a hash of the key */
static char *
derive_name (TandemGdaTableKind kind,
	     const char *plan,
	     TandemStreamDefinition *stream,
	     const char *key)
{
	g_autoptr (GString) name = g_string_new (kind == TANDEM_GDA_TABLE_EVENTS ? "evt_" : "out_");

	if (kind == TANDEM_GDA_TABLE_OUTPUTS) {
		append_sanitized (name, plan);
		g_string_append_c (name, '_');
	}
	append_sanitized (name, tandem_stream_definition_get_name (stream));
	g_string_append_c (name, '_');
	append_sanitized (name, tandem_stream_definition_get_version (stream));
	if (name->len > MAX_NAME)
		return hashed_name (name->str, key);
	return g_string_free (g_steal_pointer (&name), FALSE);
}

/* The column of each attribute: its name, or attr_<name> when it would
 * clash with a column of ours. */
static char *
attribute_column (TandemGdaTableKind kind, const char *attribute)
{
	const char *const *reserved =
		kind == TANDEM_GDA_TABLE_EVENTS ? event_columns : output_columns;
	guint n = kind == TANDEM_GDA_TABLE_EVENTS ? G_N_ELEMENTS (event_columns)
						  : G_N_ELEMENTS (output_columns);

	for (guint i = 0; i < n; i++) {
		if (g_ascii_strcasecmp (reserved[i], attribute) == 0)
			return g_strconcat ("attr_", attribute, NULL);
	}
	return g_strdup (attribute);
}

/* "type name" lines, in attribute order: what the metadata records */
static char *
attributes_spec (TandemStreamDefinition *stream)
{
	GString *out = g_string_new (NULL);

	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (stream); i++)
		g_string_append_printf (out, "%s %s\n",
					tandem_attribute_type_to_string (
						tandem_stream_definition_get_attribute_type (stream,
											     i)),
					tandem_stream_definition_get_attribute_name (stream, i));
	return g_string_free (out, FALSE);
}

/* --- opening a table ------------------------------------------------------- */

void
tandem_gda_table_free (TandemGdaTable *self)
{
	if (self == NULL)
		return;
	g_free (self->plan);
	g_clear_object (&self->stream);
	g_free (self->name);
	g_clear_pointer (&self->inserts, g_ptr_array_unref);
	g_free (self->insert_head);
	g_free (self->insert_tail);
	g_free (self);
}

static char *
value_string_at (GdaDataModel *model, int col, int row)
{
	const GValue *value = gda_data_model_get_value_at (model, col, row, NULL);

	return tandem_gda_value_dup_string (value);
}

/* The columns of table @name (lower-cased), empty if there is no such table. */
static GHashTable *
existing_columns (GdaConnection *cnc, TandemGdaProvider provider, const char *name, GError **error)
{
	static const char *const sql[] = {
		[TANDEM_GDA_SQLITE] = "SELECT name FROM pragma_table_info(##p0::string::null)",
		[TANDEM_GDA_MYSQL] =
			"SELECT column_name FROM information_schema.columns "
			"WHERE table_schema = DATABASE() AND table_name = ##p0::string::null",
		[TANDEM_GDA_POSTGRES] =
			"SELECT column_name FROM information_schema.columns "
			"WHERE table_schema = current_schema() AND table_name = ##p0::string::null",
	};
	const char *params[] = { name };
	g_autoptr (GdaDataModel) model =
		tandem_gda_select_once (cnc, provider, sql[provider], params, 1, error);
	GHashTable *columns;

	if (model == NULL)
		return NULL;
	columns = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	for (int row = 0; row < gda_data_model_get_n_rows (model); row++) {
		g_autofree char *column = value_string_at (model, 0, row);

		if (column != NULL)
			g_hash_table_add (columns, g_ascii_strdown (column, -1));
	}
	return columns;
}

typedef struct {
	char *name;
	char *attributes;
} MetaRow;

static void
meta_row_clear (MetaRow *row)
{
	g_clear_pointer (&row->name, g_free);
	g_clear_pointer (&row->attributes, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (MetaRow, meta_row_clear)

static gboolean
lookup_meta (GdaConnection *cnc,
	     TandemGdaProvider provider,
	     const char *kind,
	     const char *plan,
	     const char *stream_id,
	     MetaRow *row,
	     GError **error)
{
	const char *params[] = { kind, plan, stream_id };
	g_autoptr (GdaDataModel) model = tandem_gda_select_once (
		cnc, provider,
		"SELECT table_name, attributes FROM tandem_tables WHERE kind = ##p0::string::null "
		"AND plan_name = ##p1::string::null AND stream_id = ##p2::string::null",
		params, 3, error);

	if (model == NULL)
		return FALSE;
	if (gda_data_model_get_n_rows (model) > 0) {
		row->name = value_string_at (model, 0, 0);
		row->attributes = value_string_at (model, 1, 0);
	}
	return TRUE;
}

static gboolean
name_taken (GdaConnection *cnc,
	    TandemGdaProvider provider,
	    const char *name,
	    gboolean *taken,
	    GError **error)
{
	const char *params[] = { name };
	g_autoptr (GdaDataModel) model = tandem_gda_select_once (
		cnc, provider,
		"SELECT stream_id FROM tandem_tables WHERE table_name = ##p0::string::null", params,
		1, error);

	if (model == NULL)
		return FALSE;
	*taken = gda_data_model_get_n_rows (model) > 0;
	return TRUE;
}

/* Refuses what would lose data: an attribute the table has and the stream
 * no longer has, or whose type changed. */
static gboolean
check_compatible (TandemGdaTable *self, const char *recorded, GError **error)
{
	g_auto (GStrv) lines = g_strsplit (recorded != NULL ? recorded : "", "\n", -1);
	const char *stream_id = tandem_stream_definition_get_id (self->stream);

	for (guint i = 0; lines[i] != NULL; i++) {
		char *space = strchr (lines[i], ' ');
		const char *name;
		int index;
		TandemAttributeType type;

		if (space == NULL)
			continue;
		*space = '\0';
		name = space + 1;
		index = tandem_stream_definition_lookup (self->stream, name);
		if (index < 0) {
			g_autofree char *column = attribute_column (self->kind, name);

			g_set_error (
				error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				"table %s: column %s (%s) is no longer in stream %s; the store does not "
				"drop columns: give the new definition a new version (a new table), or drop "
				"the column yourself",
				self->name, column, lines[i], stream_id);
			return FALSE;
		}
		type = tandem_stream_definition_get_attribute_type (self->stream, index);
		if (g_strcmp0 (tandem_attribute_type_to_string (type), lines[i]) != 0) {
			g_autofree char *column = attribute_column (self->kind, name);

			g_set_error (
				error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				"table %s: column %s is %s in the table but %s in stream %s; the store does "
				"not convert columns: give the new definition a new version (a new table)",
				self->name, column, lines[i],
				tandem_attribute_type_to_string (type), stream_id);
			return FALSE;
		}
	}
	return TRUE;
}

static void
append_column (GString *sql,
	       TandemGdaProvider provider,
	       const char *name,
	       const char *type,
	       const char *tail)
{
	g_autofree char *quoted = tandem_gda_quote (provider, name);

	g_string_append (sql, quoted);
	if (type != NULL)
		g_string_append_printf (sql, " %s", type);
	g_string_append (sql, tail);
}

static char *
create_table_sql (TandemGdaTable *self)
{
	TandemGdaProvider p = self->provider;
	g_autoptr (GString) sql = g_string_new (NULL);
	g_autofree char *quoted = tandem_gda_quote (p, self->name);
	const char *big = bigint (p);

	g_string_append_printf (sql, "CREATE TABLE IF NOT EXISTS %s (", quoted);
	if (self->kind == TANDEM_GDA_TABLE_EVENTS) {
		/* SQLite: seq is the rowid, no separate index */
		append_column (sql, p, "epoch", big, " NOT NULL, ");
		append_column (sql, p, "seq", p == TANDEM_GDA_SQLITE ? "INTEGER" : big,
			       " NOT NULL PRIMARY KEY, ");
		append_column (sql, p, "event_ts", big, " NOT NULL, ");
		append_column (sql, p, "node_id", "VARCHAR(64)", " NOT NULL");
	} else {
		append_column (sql, p, "plan", "VARCHAR(128)", " NOT NULL, ");
		append_column (sql, p, "query", "VARCHAR(128)", " NOT NULL, ");
		append_column (sql, p, "input_seq", big, " NOT NULL, ");
		append_column (sql, p, "output_index", "INTEGER", " NOT NULL, ");
		append_column (sql, p, "kind", "VARCHAR(8)", " NOT NULL, ");
		append_column (sql, p, "event_ts", big, " NOT NULL, ");
		append_column (sql, p, "node_id", "VARCHAR(64)", " NOT NULL");
	}
	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (self->stream); i++) {
		g_autofree char *column =
			attribute_column (self->kind,
					  tandem_stream_definition_get_attribute_name (self->stream,
										       i));
		g_autofree char *quoted_column = tandem_gda_quote (p, column);

		g_string_append_printf (
			sql, ", %s %s", quoted_column,
			attribute_sql_type (
				p, tandem_stream_definition_get_attribute_type (self->stream, i)));
	}
	if (self->kind == TANDEM_GDA_TABLE_OUTPUTS) {
		g_string_append (sql, ", PRIMARY KEY (");
		append_column (sql, p, "plan", NULL, ", ");
		append_column (sql, p, "input_seq", NULL, ", ");
		append_column (sql, p, "output_index", NULL, ")");
	}
	g_string_append_printf (sql, ")%s", table_options (p));
	return g_string_free (g_steal_pointer (&sql), FALSE);
}

static gboolean
check_columns (TandemGdaTable *self, GError **error)
{
	g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	const char *const *reserved =
		self->kind == TANDEM_GDA_TABLE_EVENTS ? event_columns : output_columns;

	for (guint i = 0; i < self->n_reserved; i++)
		g_hash_table_add (seen, g_strdup (reserved[i]));
	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (self->stream); i++) {
		const char *attribute =
			tandem_stream_definition_get_attribute_name (self->stream, i);
		g_autofree char *column = attribute_column (self->kind, attribute);
		g_autofree char *lower = g_ascii_strdown (column, -1);

		if (strlen (column) > MAX_NAME) {
			g_set_error (
				error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				"stream %s: attribute %s: a column name may have at most %d bytes",
				tandem_stream_definition_get_id (self->stream), attribute,
				MAX_NAME);
			return FALSE;
		}
		if (!g_hash_table_add (seen, g_steal_pointer (&lower))) {
			g_set_error (
				error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				"stream %s: attribute %s: its column %s would clash with another column "
				"(column names ignore case)",
				tandem_stream_definition_get_id (self->stream), attribute, column);
			return FALSE;
		}
	}
	return TRUE;
}

/* Creates the table if needed and adds the columns it lacks. */
static gboolean
ensure_table (TandemGdaTable *self, GdaConnection *cnc, GError **error)
{
	TandemGdaProvider p = self->provider;
	g_autofree char *create = create_table_sql (self);
	g_autofree char *quoted = tandem_gda_quote (p, self->name);
	g_autoptr (GHashTable) columns = NULL;
	const char *const *reserved =
		self->kind == TANDEM_GDA_TABLE_EVENTS ? event_columns : output_columns;

	if (!tandem_gda_run (cnc, p, create, error)) {
		g_prefix_error (error, "cannot create the table %s: ", self->name);
		return FALSE;
	}
	columns = existing_columns (cnc, p, self->name, error);
	if (columns == NULL) {
		g_prefix_error (error, "cannot read the columns of %s: ", self->name);
		return FALSE;
	}
	for (guint i = 0; i < self->n_reserved; i++) {
		if (!g_hash_table_contains (columns, reserved[i])) {
			g_set_error (
				error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				"table %s exists but is not a Tandem table (it has no column %s)",
				self->name, reserved[i]);
			return FALSE;
		}
	}
	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (self->stream); i++) {
		g_autofree char *column =
			attribute_column (self->kind,
					  tandem_stream_definition_get_attribute_name (self->stream,
										       i));
		g_autofree char *lower = g_ascii_strdown (column, -1);
		g_autofree char *quoted_column = NULL;
		g_autofree char *alter = NULL;

		if (g_hash_table_contains (columns, lower))
			continue;
		quoted_column = tandem_gda_quote (p, column);
		alter = g_strdup_printf (
			"ALTER TABLE %s ADD COLUMN %s %s", quoted, quoted_column,
			attribute_sql_type (
				p, tandem_stream_definition_get_attribute_type (self->stream, i)));
		if (!tandem_gda_run (cnc, p, alter, error)) {
			g_prefix_error (error, "table %s: cannot add the column %s: ", self->name,
					column);
			return FALSE;
		}
		g_message ("Table %s: added column %s (new attribute of stream %s)", self->name,
			   column, tandem_stream_definition_get_id (self->stream));
	}
	return TRUE;
}

static void
prepare_insert_text (TandemGdaTable *self)
{
	TandemGdaProvider p = self->provider;
	g_autoptr (GString) head = g_string_new (NULL);
	g_autofree char *quoted = tandem_gda_quote (p, self->name);
	const char *const *reserved =
		self->kind == TANDEM_GDA_TABLE_EVENTS ? event_columns : output_columns;

	g_string_append_printf (head, "INSERT INTO %s (", quoted);
	for (guint i = 0; i < self->n_reserved; i++)
		append_column (head, p, reserved[i], NULL, i + 1 < self->n_reserved ? ", " : "");
	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (self->stream); i++) {
		g_autofree char *column =
			attribute_column (self->kind,
					  tandem_stream_definition_get_attribute_name (self->stream,
										       i));
		g_autofree char *quoted_column = tandem_gda_quote (p, column);

		g_string_append_printf (head, ", %s", quoted_column);
	}
	g_string_append (head, ") VALUES ");
	self->insert_head = g_string_free (g_steal_pointer (&head), FALSE);
	if (p == TANDEM_GDA_MYSQL)
		self->insert_tail =
			g_strdup (self->kind == TANDEM_GDA_TABLE_EVENTS
					  ? " ON DUPLICATE KEY UPDATE `seq` = `seq`"
					  : " ON DUPLICATE KEY UPDATE `input_seq` = `input_seq`");
	else
		self->insert_tail = g_strdup (" ON CONFLICT DO NOTHING");
}

TandemGdaTable *
tandem_gda_table_open (GdaConnection *cnc,
		       TandemGdaProvider provider,
		       TandemGdaTableKind kind,
		       const char *plan,
		       TandemStreamDefinition *stream,
		       guint max_rows,
		       GError **error)
{
	g_autoptr (TandemGdaTable) self = g_new0 (TandemGdaTable, 1);
	g_auto (MetaRow) meta = { 0 };
	g_autofree char *key = tandem_gda_table_key (kind, plan, stream);
	g_autofree char *spec = attributes_spec (stream);
	const char *kind_name = kind == TANDEM_GDA_TABLE_EVENTS ? "events" : "outputs";
	const char *plan_name = plan != NULL ? plan : "";
	const char *stream_id = tandem_stream_definition_get_id (stream);

	self->provider = provider;
	self->kind = kind;
	self->plan = g_strdup (plan);
	self->stream = g_object_ref (stream);
	self->n_reserved = kind == TANDEM_GDA_TABLE_EVENTS ? G_N_ELEMENTS (event_columns)
							   : G_N_ELEMENTS (output_columns);
	self->n_columns = self->n_reserved + tandem_stream_definition_get_n_attributes (stream);
	self->rows_per_stmt = CLAMP (MAX_PARAMS / self->n_columns, 1, MAX (max_rows, 1));
	self->inserts = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_gda_stmt_free);
	g_ptr_array_set_size (self->inserts, self->rows_per_stmt + 1);

	if (!check_columns (self, error))
		return NULL;
	for (guint attempt = 0;; attempt++) {
		if (!lookup_meta (cnc, provider, kind_name, plan_name, stream_id, &meta, error)) {
			g_prefix_error (error, "cannot read tandem_tables: ");
			return NULL;
		}
		if (meta.name != NULL) {
			self->name = g_strdup (meta.name);
			if (!check_compatible (self, meta.attributes, error))
				return NULL;
			if (!ensure_table (self, cnc, error))
				return NULL;
			if (g_strcmp0 (meta.attributes, spec) != 0) {
				g_autofree char *definition =
					tandem_stream_definition_to_siddhi (stream);
				const char *params[] = { spec, definition, self->name };
				g_autofree char *update = g_strdup_printf (
					"UPDATE tandem_tables SET attributes = ##p0::string::null, definition = "
					"##p1::string::null, updated_ms = %s WHERE table_name = ##p2::string::null",
					tandem_gda_now_ms_sql (provider));

				if (tandem_gda_exec_once (cnc, provider, update, params, 3, error) <
				    0) {
					g_prefix_error (error, "cannot update tandem_tables: ");
					return NULL;
				}
			}
			break;
		} else {
			g_autofree char *definition = tandem_stream_definition_to_siddhi (stream);
			g_autofree char *insert = NULL;
			g_autoptr (GError) local_error = NULL;
			gboolean taken = FALSE;

			self->name = derive_name (kind, plan, stream, key);
			if (!name_taken (cnc, provider, self->name, &taken, error))
				return NULL;
			if (taken) {
				char *other = hashed_name (self->name, key);

				g_free (self->name);
				self->name = other;
			}
			if (!ensure_table (self, cnc, error))
				return NULL;
			insert = g_strdup_printf (
				"INSERT INTO tandem_tables (table_name, kind, plan_name, stream_id, "
				"attributes, definition, created_ms, updated_ms) VALUES "
				"(##p0::string::null, ##p1::string::null, ##p2::string::null, "
				"##p3::string::null, ##p4::string::null, ##p5::string::null, %s, %s)",
				tandem_gda_now_ms_sql (provider), tandem_gda_now_ms_sql (provider));
			{
				const char *params[] = { self->name, kind_name, plan_name,
							 stream_id,  spec,      definition };

				if (tandem_gda_exec_once (cnc, provider, insert, params, 6,
							  &local_error) >= 0) {
					g_message ("Table %s created for the %s of stream %s%s%s",
						   self->name, kind_name, stream_id,
						   plan != NULL ? " in plan " : "", plan_name);
					break;
				}
			}
			/* another node registered it meanwhile: use its row */
			if (attempt > 0) {
				g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
					     "cannot record the table %s in tandem_tables: %s",
					     self->name, local_error->message);
				return NULL;
			}
			g_clear_pointer (&self->name, g_free);
			meta_row_clear (&meta);
		}
	}
	prepare_insert_text (self);
	return g_steal_pointer (&self);
}

TandemGdaStmt *
tandem_gda_table_get_insert (TandemGdaTable *self, guint n_rows, GError **error)
{
	TandemGdaStmt *stmt;
	g_autoptr (GString) sql = NULL;
	guint param = 0;

	g_return_val_if_fail (n_rows > 0 && n_rows <= self->rows_per_stmt, NULL);

	stmt = g_ptr_array_index (self->inserts, n_rows);
	if (stmt != NULL)
		return stmt;
	sql = g_string_new (self->insert_head);
	for (guint r = 0; r < n_rows; r++) {
		g_string_append (sql, r > 0 ? ", (" : "(");
		for (guint c = 0; c < self->n_columns; c++)
			g_string_append_printf (sql, "%s##p%u::string::null", c > 0 ? ", " : "",
						param++);
		g_string_append_c (sql, ')');
	}
	g_string_append (sql, self->insert_tail);
	stmt = tandem_gda_stmt_new (self->provider, sql->str, param, error);
	if (stmt != NULL)
		self->inserts->pdata[n_rows] = stmt;
	return stmt;
}

/* --- the lease and the node registry --------------------------------------- */

static TandemGdaStmt *
control_stmt (TandemGdaProvider provider, const char *tmpl, guint n_params, GError **error)
{
	/* %N is the database clock */
	g_autoptr (GString) sql = g_string_new (NULL);

	for (const char *p = tmpl; *p != '\0'; p++) {
		if (p[0] == '%' && p[1] == 'N') {
			g_string_append (sql, tandem_gda_now_ms_sql (provider));
			p++;
		} else {
			g_string_append_c (sql, *p);
		}
	}
	return tandem_gda_stmt_new (provider, sql->str, n_params, error);
}

/* Takes the lease if it is free, expired or already ours, or still held by
 * p4 at epoch p5 (a holder whose process is known to be gone), in one
 * statement; the epoch grows by one when the holder changes.  p0 cluster,
 * p1 holder, p2 and p3 the ttl in ms, p4 the holder to take over from ("" for
 * none), p5 its epoch. */
TandemGdaStmt *
tandem_gda_schema_lease_cas (TandemGdaProvider provider, GError **error)
{
	if (provider == TANDEM_GDA_MYSQL)
		/* Assignments run left to right, each seeing the ones before.
		 * The epoch goes first, judged on the old row, and is negated
		 * when the lease changes hands, so that the holder and the
		 * expiry can tell; the last assignment makes it positive. */
		return control_stmt (
			provider,
			"INSERT INTO tandem_lease (cluster, holder, epoch, expires_ms) VALUES "
			"(##p0::string::null, ##p1::string::null, 1, %N + CAST(##p2::string::null AS SIGNED)) "
			"ON DUPLICATE KEY UPDATE "
			"epoch = IF(holder <=> VALUES(holder), epoch, "
			"IF(expires_ms <= VALUES(expires_ms) - CAST(##p3::string::null AS SIGNED) OR "
			"(holder <=> ##p4::string::null AND epoch = CAST(##p5::string::null AS SIGNED)), "
			"-(epoch + 1), epoch)), "
			"holder = IF(holder <=> VALUES(holder) OR epoch < 0, VALUES(holder), holder), "
			"expires_ms = IF(holder <=> VALUES(holder), VALUES(expires_ms), expires_ms), "
			"epoch = ABS(epoch)",
			6, error);
	return control_stmt (
		provider,
		"INSERT INTO tandem_lease (cluster, holder, epoch, expires_ms) VALUES "
		"(##p0::string::null, ##p1::string::null, 1, %N + ##p2::string::null) "
		"ON CONFLICT (cluster) DO UPDATE SET "
		"epoch = CASE WHEN tandem_lease.holder = excluded.holder THEN tandem_lease.epoch "
		"ELSE tandem_lease.epoch + 1 END, "
		"holder = excluded.holder, expires_ms = excluded.expires_ms "
		"WHERE tandem_lease.holder = excluded.holder OR "
		"tandem_lease.expires_ms <= excluded.expires_ms - ##p3::string::null OR "
		"(tandem_lease.holder = ##p4::string::null AND tandem_lease.epoch = ##p5::string::null)",
		6, error);
}

TandemGdaStmt *
tandem_gda_schema_lease_get (TandemGdaProvider provider, GError **error)
{
	return control_stmt (
		provider,
		"SELECT holder, epoch, expires_ms, %N FROM tandem_lease WHERE cluster = ##p0::string::null",
		1, error);
}

/* Registers a node id unless another instance holds it and is alive (seen
 * within p4 ms and not stopped). */
TandemGdaStmt *
tandem_gda_schema_node_register (TandemGdaProvider provider, GError **error)
{
	if (provider == TANDEM_GDA_MYSQL)
		return control_stmt (
			provider,
			"INSERT INTO tandem_nodes (node_id, host, ports, instance, alive, first_seen_ms, last_seen_ms) "
			"VALUES (##p0::string::null, ##p1::string::null, ##p2::string::null, ##p3::string::null, 1, %N, %N) "
			"ON DUPLICATE KEY UPDATE "
			"instance = IF(instance = VALUES(instance) OR alive = 0 OR "
			"last_seen_ms <= VALUES(last_seen_ms) - CAST(##p4::string::null AS SIGNED), "
			"VALUES(instance), instance), "
			"host = IF(instance = VALUES(instance), VALUES(host), host), "
			"ports = IF(instance = VALUES(instance), VALUES(ports), ports), "
			"alive = IF(instance = VALUES(instance), 1, alive), "
			"last_seen_ms = IF(instance = VALUES(instance), VALUES(last_seen_ms), last_seen_ms)",
			5, error);
	return control_stmt (
		provider,
		"INSERT INTO tandem_nodes (node_id, host, ports, instance, alive, first_seen_ms, last_seen_ms) "
		"VALUES (##p0::string::null, ##p1::string::null, ##p2::string::null, ##p3::string::null, 1, %N, %N) "
		"ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, ports = excluded.ports, "
		"instance = excluded.instance, alive = 1, last_seen_ms = excluded.last_seen_ms "
		"WHERE tandem_nodes.instance = excluded.instance OR tandem_nodes.alive = 0 OR "
		"tandem_nodes.last_seen_ms <= excluded.last_seen_ms - ##p4::string::null",
		5, error);
}

TandemGdaStmt *
tandem_gda_schema_node_get (TandemGdaProvider provider, GError **error)
{
	return control_stmt (provider,
			     "SELECT host, instance, alive, last_seen_ms, %N FROM tandem_nodes "
			     "WHERE node_id = ##p0::string::null",
			     1, error);
}

TandemGdaStmt *
tandem_gda_schema_node_heartbeat (TandemGdaProvider provider, GError **error)
{
	return control_stmt (provider,
			     "UPDATE tandem_nodes SET last_seen_ms = %N, alive = 1 "
			     "WHERE node_id = ##p0::string::null AND instance = ##p1::string::null",
			     2, error);
}

TandemGdaStmt *
tandem_gda_schema_node_leave (TandemGdaProvider provider, GError **error)
{
	return control_stmt (provider,
			     "UPDATE tandem_nodes SET alive = 0, last_seen_ms = %N "
			     "WHERE node_id = ##p0::string::null AND instance = ##p1::string::null",
			     2, error);
}

/* --- reading events back ----------------------------------------------------- */

/* SELECT epoch, seq, event_ts and the attributes of @stream (in definition
 * order; NULL for one the table lacks) from its events table, for seq above
 * p0, in seq order, at most @limit rows; NULL without error when the store
 * has no table for @stream. */
char *
tandem_gda_schema_events_select (GdaConnection *cnc,
				 TandemGdaProvider provider,
				 TandemStreamDefinition *stream,
				 guint limit,
				 GError **error)
{
	g_auto (MetaRow) meta = { 0 };
	g_autoptr (GHashTable) columns = NULL;
	g_autoptr (GString) sql = NULL;
	g_autofree char *quoted = NULL;

	if (!lookup_meta (cnc, provider, "events", "", tandem_stream_definition_get_id (stream), &meta,
			  error)) {
		g_prefix_error (error, "cannot read tandem_tables: ");
		return NULL;
	}
	if (meta.name == NULL)
		return NULL;
	columns = existing_columns (cnc, provider, meta.name, error);
	if (columns == NULL) {
		g_prefix_error (error, "cannot read the columns of %s: ", meta.name);
		return NULL;
	}
	if (g_hash_table_size (columns) == 0)
		return NULL;
	sql = g_string_new ("SELECT ");
	for (guint i = 0; i < G_N_ELEMENTS (event_columns); i++)
		append_column (sql, provider, event_columns[i], NULL, ", ");
	for (guint i = 0; i < tandem_stream_definition_get_n_attributes (stream); i++) {
		g_autofree char *column = attribute_column (
			TANDEM_GDA_TABLE_EVENTS, tandem_stream_definition_get_attribute_name (stream, i));
		g_autofree char *lower = g_ascii_strdown (column, -1);

		if (g_hash_table_contains (columns, lower))
			append_column (sql, provider, column, NULL, ", ");
		else
			g_string_append (sql, "NULL, ");
	}
	quoted = tandem_gda_quote (provider, meta.name);
	g_string_truncate (sql, sql->len - 2);
	g_string_append_printf (sql, " FROM %s WHERE ", quoted);
	append_column (sql, provider, "seq", NULL, " > ");
	g_string_append (sql, provider == TANDEM_GDA_MYSQL ? "CAST(##p0::string::null AS SIGNED)"
							     : "##p0::string::null");
	g_string_append (sql, " ORDER BY ");
	append_column (sql, provider, "seq", NULL, "");
	g_string_append_printf (sql, " LIMIT %u", limit);
	return g_string_free (g_steal_pointer (&sql), FALSE);
}
