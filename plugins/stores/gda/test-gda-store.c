/* test-gda-store.c: the gda store against SQLite, MariaDB and PostgreSQL
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test runs once per database: SQLite always, MariaDB and PostgreSQL
 * on private servers started here (test-gda-servers.c) when their programs
 * are installed, skipped otherwise.  The plugin is driven through the
 * public API: a TandemNode with config, tandem_node_ingest_async(), and the
 * TandemStore functions.
 *
 * `test-gda-store --lease-worker CONFIG HOLDER MS OUT` is the child process
 * of the two-process lease test.
 */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <tandem.h>

#include "test-gda-servers.h"

#define LEASE_TTL_MS 150
#define LEASE_RUN_MS 2500

typedef struct {
	const char *name;
	gboolean sqlite;
	TestServerKind kind;
	TestServer *server; /* NULL for SQLite */
	char *skip;         /* why the database is not available */
} Db;

static char *plugin_dir;
static char *self_path;
static Db dbs[3];
static guint db_counter;

/* --- helpers ------------------------------------------------------------------ */

static char *
make_tmpdir (void)
{
	g_autoptr (GError) error = NULL;
	char *dir = g_dir_make_tmp ("tandem-test-gda-XXXXXX", &error);

	g_assert_no_error (error);
	return dir;
}

static void
rm_rf (const char *path)
{
	g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
	const char *name;

	if (dir != NULL) {
		while ((name = g_dir_read_name (dir)) != NULL) {
			g_autofree char *child = g_build_filename (path, name, NULL);

			rm_rf (child);
		}
	}
	g_remove (path);
}

static void
write_file (const char *path, const char *text)
{
	g_autoptr (GError) error = NULL;

	g_file_set_contents (path, text, -1, &error);
	g_assert_no_error (error);
}

static gboolean
skip_unavailable (Db *db)
{
	if (db->skip != NULL) {
		g_test_skip (db->skip);
		return TRUE;
	}
	return FALSE;
}

/* The store keys of a fresh, empty database: a file in @dir for SQLite, a
 * new database on the server otherwise. */
static char *
fresh_database (Db *db, const char *dir)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *name = NULL;

	if (db->sqlite) {
		g_autofree char *file = g_strdup_printf ("%s/db%u.sqlite", dir, db_counter++);

		return g_strdup_printf ("database = %s\n", file);
	}
	name = g_strdup_printf ("t%u", db_counter++);
	test_server_create_database (db->server, name, &error);
	g_assert_no_error (error);
	return test_server_store_keys (db->server, name);
}

static TandemPluginRegistry *
registry_new (void)
{
	TandemPluginRegistry *registry = tandem_plugin_registry_new ();
	const char *path[] = { plugin_dir, NULL };

	tandem_plugin_registry_set_search_path (registry, path);
	tandem_plugin_registry_scan (registry);
	return registry;
}

static TandemNode *
node_new (const char *text, const char *state_dir, GError **error)
{
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemNode) node = NULL;

	tandem_config_load_data (config, text, -1, "tandem.conf", error);
	g_assert_no_error (*error);
	node = tandem_node_new (config, registry);
	tandem_node_set_state_dir (node, state_dir);
	if (!tandem_node_configure (node, error))
		return NULL;
	return g_steal_pointer (&node);
}

/* A node started with @text as its config. */
static TandemNode *
node_start (const char *text, const char *state_dir)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (TandemNode) node = node_new (text, state_dir, &error);

	g_assert_no_error (error);
	tandem_node_open_state (node, &error);
	g_assert_no_error (error);
	tandem_node_start (node, &error);
	g_assert_no_error (error);
	return g_steal_pointer (&node);
}

static TandemStore *
store_of (TandemNode *node, const char *name)
{
	GPtrArray *plugins = tandem_node_get_plugins (node);

	for (guint i = 0; i < plugins->len; i++) {
		TandemPlugin *plugin = g_ptr_array_index (plugins, i);

		if (TANDEM_IS_STORE (plugin) && g_str_equal (tandem_plugin_get_name (plugin), name))
			return TANDEM_STORE (plugin);
	}
	g_assert_not_reached ();
}

static JsonNode *
query (TandemStore *store, const char *sql)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *json = tandem_store_query (store, sql, 0, 10000, &error);
	JsonNode *node;

	g_assert_no_error (error);
	g_assert_nonnull (json);
	node = json_from_string (json, &error);
	g_assert_no_error (error);
	g_assert_true (JSON_NODE_HOLDS_ARRAY (node));
	return node;
}

static gint64
query_int (TandemStore *store, const char *sql)
{
	g_autoptr (JsonNode) rows = query (store, sql);
	JsonArray *array = json_node_get_array (rows);
	JsonObject *row;
	g_autoptr (GList) members = NULL;

	g_assert_cmpuint (json_array_get_length (array), ==, 1);
	row = json_array_get_object_element (array, 0);
	members = json_object_get_values (row);
	g_assert_nonnull (members);
	return json_node_get_int (members->data);
}

typedef struct {
	gboolean done;
	gboolean ok;
	GError *error;
} IngestWait;

static void
on_ingested (GObject *source, GAsyncResult *result, gpointer data)
{
	IngestWait *w = data;

	w->ok = tandem_node_ingest_finish (TANDEM_NODE (source), result, NULL, NULL, &w->error);
	w->done = TRUE;
}

static void
ingest (TandemNode *node, const char *stream, GPtrArray *events)
{
	IngestWait w = { 0 };

	tandem_node_ingest_async (node, stream, events, NULL, NULL, NULL, on_ingested, &w);
	while (!w.done)
		g_main_context_iteration (NULL, TRUE);
	g_assert_no_error (w.error);
	g_assert_true (w.ok);
}

/* A stream with one attribute of every type. */
static TandemStreamDefinition *
types_stream (const char *name, const char *version)
{
	TandemStreamDefinition *def = tandem_stream_definition_new (name, version);
	g_autoptr (GError) error = NULL;

	tandem_stream_definition_add_attribute (def, "i", TANDEM_ATTRIBUTE_TYPE_INT,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	tandem_stream_definition_add_attribute (def, "l", TANDEM_ATTRIBUTE_TYPE_LONG,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	tandem_stream_definition_add_attribute (def, "f", TANDEM_ATTRIBUTE_TYPE_FLOAT,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	tandem_stream_definition_add_attribute (def, "d", TANDEM_ATTRIBUTE_TYPE_DOUBLE,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	tandem_stream_definition_add_attribute (def, "b", TANDEM_ATTRIBUTE_TYPE_BOOL,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	tandem_stream_definition_add_attribute (def, "s", TANDEM_ATTRIBUTE_TYPE_STRING,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	/* a name that is one of the store's own columns */
	tandem_stream_definition_add_attribute (def, "seq", TANDEM_ATTRIBUTE_TYPE_LONG,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	g_assert_no_error (error);
	return def;
}

static GPtrArray *
simple_events (TandemStreamDefinition *def, guint64 first_seq, guint n)
{
	GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);

	for (guint k = 0; k < n; k++) {
		TandemEvent *ev = tandem_event_new (def, 1700000000000 + (gint64) (first_seq + k));
		g_autofree char *s = g_strdup_printf ("event %" G_GUINT64_FORMAT, first_seq + k);

		tandem_event_set_int (ev, 0, (gint32) k);
		tandem_event_set_long (ev, 1, (gint64) (first_seq + k) * 1000003);
		tandem_event_set_float (ev, 2, 0.5f);
		tandem_event_set_double (ev, 3, (double) k / 3.0);
		tandem_event_set_bool (ev, 4, k % 2 == 0);
		tandem_event_set_string (ev, 5, s);
		tandem_event_set_long (ev, 6, -1);
		tandem_event_set_identity (ev, 1, first_seq + k);
		g_ptr_array_add (events, ev);
	}
	return events;
}

static char *
store_config (Db *db, const char *dir, const char *extra)
{
	g_autofree char *keys = fresh_database (db, dir);

	return g_strdup_printf ("[node]\nid = node-a\n[store.db]\nplugin = gda\n%s%s", keys,
				extra != NULL ? extra : "");
}

/* --- schema -------------------------------------------------------------------- */

static void
write_plan (const char *path, const char *stream_def)
{
	g_autofree char *text = g_strdup_printf (
		"@Plan:name('Win')\n"
		"%s\n"
		"@info(name = 'last2')\n"
		"from Stocks#window.length(2) select symbol, price insert all events into Last;\n",
		stream_def);

	write_file (path, text);
}

static void
test_schema (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *plan = NULL;
	g_autofree char *keys = NULL;
	g_autofree char *text = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (JsonNode) rows = NULL;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	plan = g_build_filename (dir, "win.siddhiql", NULL);
	keys = fresh_database (db, dir);
	text = g_strdup_printf (
		"[node]\nid = node-a\n[engine]\nplans = %s\n[store.db]\nplugin = gda\n%s", plan,
		keys);

	/* created at start */
	write_plan (plan, "define stream Stocks (symbol string, price double);");
	{
		g_autoptr (TandemNode) node = node_start (text, dir);
		TandemStore *store = store_of (node, "db");

		g_assert_cmpint (query_int (store, "SELECT COUNT(*) AS n FROM evt_stocks_1_0_0"),
				 ==, 0);
		g_assert_cmpint (query_int (store, "SELECT COUNT(*) AS n FROM out_win_last_1_0_0"),
				 ==, 0);
		rows = query (
			store,
			"SELECT table_name, kind, plan_name, stream_id, attributes FROM tandem_tables "
			"ORDER BY table_name");
		g_assert_cmpuint (json_array_get_length (json_node_get_array (rows)), ==, 2);
		{
			JsonObject *evt =
				json_array_get_object_element (json_node_get_array (rows), 0);
			JsonObject *out =
				json_array_get_object_element (json_node_get_array (rows), 1);

			g_assert_cmpstr (json_object_get_string_member (evt, "table_name"), ==,
					 "evt_stocks_1_0_0");
			g_assert_cmpstr (json_object_get_string_member (evt, "kind"), ==, "events");
			g_assert_cmpstr (json_object_get_string_member (evt, "stream_id"), ==,
					 "Stocks:1.0.0");
			g_assert_cmpstr (json_object_get_string_member (evt, "attributes"), ==,
					 "string symbol\ndouble price\n");
			g_assert_cmpstr (json_object_get_string_member (out, "table_name"), ==,
					 "out_win_last_1_0_0");
			g_assert_cmpstr (json_object_get_string_member (out, "plan_name"), ==,
					 "Win");
		}
		tandem_node_stop (node);
	}

	/* a new attribute: a new column, the old rows get NULL */
	write_plan (plan, "define stream Stocks (symbol string, price double, volume long);");
	{
		g_autoptr (TandemNode) node = node_start (text, dir);
		TandemStore *store = store_of (node, "db");

		g_assert_cmpint (query_int (store,
					    "SELECT COUNT(volume) AS n FROM evt_stocks_1_0_0"),
				 ==, 0);
		g_clear_pointer (&rows, json_node_unref);
		rows = query (
			store,
			"SELECT attributes FROM tandem_tables WHERE table_name = 'evt_stocks_1_0_0'");
		g_assert_cmpstr (json_object_get_string_member (
					 json_array_get_object_element (json_node_get_array (rows),
									0),
					 "attributes"),
				 ==, "string symbol\ndouble price\nlong volume\n");
		tandem_node_stop (node);
	}

	/* a removed attribute: refused, naming table and column */
	write_plan (plan, "define stream Stocks (symbol string, price double);");
	{
		g_autoptr (TandemNode) node = node_new (text, dir, &error);

		g_assert_no_error (error);
		g_assert_true (tandem_node_open_state (node, &error));
		g_assert_false (tandem_node_start (node, &error));
		g_assert_nonnull (error);
		g_assert_nonnull (strstr (
			error->message,
			"table evt_stocks_1_0_0: column volume (long) is no longer in stream Stocks:1.0.0"));
		g_clear_error (&error);
	}

	/* a changed type: refused too */
	write_plan (plan, "define stream Stocks (symbol string, price string, volume long);");
	{
		g_autoptr (TandemNode) node = node_new (text, dir, &error);

		g_assert_no_error (error);
		g_assert_true (tandem_node_open_state (node, &error));
		g_assert_false (tandem_node_start (node, &error));
		g_assert_nonnull (strstr (
			error->message,
			"table evt_stocks_1_0_0: column price is double in the table but string in stream Stocks:1.0.0"));
		g_clear_error (&error);
	}
	rm_rf (dir);
}

/* --- values --------------------------------------------------------------------- */

typedef struct {
	gint32 i;
	gint64 l;
	float f;
	double d;
	gboolean b;
	const char *s;
} Values;

static const Values round_trip_values[] = {
	{ G_MININT32, G_MININT64, -3.4e38f, -1.7976931348623157e308, FALSE, "" },
	{ G_MAXINT32, G_MAXINT64, 3.4e38f, 1.7976931348623157e308, TRUE, "it's \"quoted\"" },
	{ 0, (G_GINT64_CONSTANT (1) << 31) + 1, 0.1f, 0.1, TRUE, "back\\slash \\n \\' \\\\" },
	{ -1, (G_GINT64_CONSTANT (1) << 53) + 1, 1.17549435e-38f, 5e-324, FALSE,
	  "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80 \xe6\x97\xa5\xe6\x9c\xac" },
	{ 42, -(G_GINT64_CONSTANT (1) << 53) - 3, 16777217.0f, 9007199254740993.0, TRUE,
	  "line\nbreak\ttab\x01" },
	{ 7, 1732953600123, -0.0f, 123456.789e10, FALSE,
	  "%s %d ##p0 ? $1 :x 'x' `x` \"x\" -- x /* x */" },
};

static void
test_round_trip (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *text = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (TandemStreamDefinition) def = types_stream ("Types", "2.1");
	g_autoptr (GPtrArray) events =
		g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);
	g_autoptr (GError) error = NULL;
	g_autoptr (JsonNode) rows = NULL;
	TandemStore *store;
	JsonArray *array;
	guint n = G_N_ELEMENTS (round_trip_values);

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	text = store_config (db, dir, NULL);
	node = node_start (text, dir);
	store = store_of (node, "db");

	for (guint k = 0; k < n; k++) {
		const Values *v = &round_trip_values[k];
		TandemEvent *ev = tandem_event_new (def, G_MAXINT64 - k);

		tandem_event_set_int (ev, 0, v->i);
		tandem_event_set_long (ev, 1, v->l);
		tandem_event_set_float (ev, 2, v->f);
		tandem_event_set_double (ev, 3, v->d);
		tandem_event_set_bool (ev, 4, v->b);
		tandem_event_set_string (ev, 5, v->s);
		tandem_event_set_long (ev, 6, v->l);
		tandem_event_set_identity (ev, G_MAXUINT32, (G_GUINT64_CONSTANT (1) << 62) + k);
		g_ptr_array_add (events, ev);
	}
	/* and a row of NULLs */
	{
		TandemEvent *ev = tandem_event_new (def, 0);

		for (guint a = 0; a < 7; a++)
			tandem_event_set_null (ev, a);
		tandem_event_set_identity (ev, 1, 1);
		g_ptr_array_add (events, ev);
	}
	g_assert_true (tandem_store_append_events (store, def, events, &error));
	g_assert_true (tandem_store_flush (store, NULL, &error));
	g_assert_no_error (error);

	rows = query (
		store,
		"SELECT epoch, seq, event_ts, node_id, i, l, f, d, b, s, attr_seq FROM evt_types_2_1 ORDER BY seq");
	array = json_node_get_array (rows);
	g_assert_cmpuint (json_array_get_length (array), ==, n + 1);
	{
		JsonObject *row = json_array_get_object_element (array, 0);

		g_assert_cmpint (json_object_get_int_member (row, "seq"), ==, 1);
		g_assert_true (json_object_get_null_member (row, "i"));
		g_assert_true (json_object_get_null_member (row, "l"));
		g_assert_true (json_object_get_null_member (row, "f"));
		g_assert_true (json_object_get_null_member (row, "d"));
		g_assert_true (json_object_get_null_member (row, "b"));
		g_assert_true (json_object_get_null_member (row, "s"));
	}
	for (guint k = 0; k < n; k++) {
		const Values *v = &round_trip_values[k];
		JsonObject *row = json_array_get_object_element (array, k + 1);
		JsonNode *b = json_object_get_member (row, "b");

		g_assert_cmpint (json_object_get_int_member (row, "epoch"), ==, G_MAXUINT32);
		g_assert_cmpint (json_object_get_int_member (row, "seq"), ==,
				 (G_GINT64_CONSTANT (1) << 62) + k);
		g_assert_cmpint (json_object_get_int_member (row, "event_ts"), ==, G_MAXINT64 - k);
		g_assert_cmpstr (json_object_get_string_member (row, "node_id"), ==, "node-a");
		g_assert_cmpint (json_object_get_int_member (row, "i"), ==, v->i);
		g_assert_cmpint (json_object_get_int_member (row, "l"), ==, v->l);
		g_assert_cmpint (json_object_get_int_member (row, "attr_seq"), ==, v->l);
		g_assert_cmpfloat ((float) json_object_get_double_member (row, "f"), ==, v->f);
		g_assert_cmpfloat (json_object_get_double_member (row, "d"), ==, v->d);
		/* MySQL's BOOLEAN is a TINYINT */
		if (json_node_get_value_type (b) == G_TYPE_BOOLEAN)
			g_assert_cmpint (json_node_get_boolean (b), ==, v->b);
		else
			g_assert_cmpint (json_node_get_int (b), ==, v->b);
		g_assert_cmpstr (json_object_get_string_member (row, "s"), ==, v->s);
	}

	/* the server itself holds the exact 64-bit values */
	if (db->server != NULL) {
		g_autofree char *sql = g_strdup_printf (
			"SELECT l FROM evt_types_2_1 WHERE seq = %" G_GUINT64_FORMAT,
			(G_GUINT64_CONSTANT (1) << 62) + 3);
		g_autofree char *dbname = NULL;
		g_autofree char *out = NULL;
		const char *p = strstr (text, "database = ");

		g_assert_nonnull (p);
		dbname = g_strndup (p + 11, strcspn (p + 11, "\n"));
		out = test_server_sql (db->server, dbname, sql, &error);
		g_assert_no_error (error);
		g_assert_cmpstr (g_strstrip (out), ==, "9007199254740993");
		g_clear_pointer (&out, g_free);
		out = test_server_sql (db->server, dbname,
				       "SELECT COUNT(*) FROM evt_types_2_1 WHERE s = ''", &error);
		g_assert_no_error (error);
		g_assert_cmpstr (g_strstrip (out), ==, "1");
	}
	tandem_node_stop (node);
	rm_rf (dir);
}

/* Reading events back (for the replay after a restart): every value
 * exactly as it went in, the identity and event time, in seq order, page
 * by page; nothing for a stream without a table; refused by an outputs
 * store. */
static void
assert_same_event (TandemEvent *a, TandemEvent *b)
{
	g_assert_cmpuint (tandem_event_get_seq (a), ==, tandem_event_get_seq (b));
	g_assert_cmpuint (tandem_event_get_epoch (a), ==, tandem_event_get_epoch (b));
	g_assert_cmpint (tandem_event_get_timestamp (a), ==, tandem_event_get_timestamp (b));
	g_assert_cmpuint (tandem_event_get_n_values (a), ==, tandem_event_get_n_values (b));
	for (guint i = 0; i < tandem_event_get_n_values (a); i++) {
		g_assert_cmpint (tandem_event_is_null (a, i), ==, tandem_event_is_null (b, i));
		if (tandem_event_is_null (a, i))
			continue;
		switch (tandem_event_get_value_type (a, i)) {
		case TANDEM_ATTRIBUTE_TYPE_INT:
			g_assert_cmpint (tandem_event_get_int (a, i), ==, tandem_event_get_int (b, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_LONG:
			g_assert_cmpint (tandem_event_get_long (a, i), ==, tandem_event_get_long (b, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_FLOAT:
			g_assert_cmpfloat (tandem_event_get_float (a, i), ==, tandem_event_get_float (b, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
			g_assert_cmpfloat (tandem_event_get_double (a, i), ==, tandem_event_get_double (b, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_BOOL:
			g_assert_cmpint (!tandem_event_get_bool (a, i), ==, !tandem_event_get_bool (b, i));
			break;
		case TANDEM_ATTRIBUTE_TYPE_STRING:
		default:
			g_assert_cmpstr (tandem_event_get_string (a, i), ==, tandem_event_get_string (b, i));
			break;
		}
	}
}

static void
test_read_events (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *text = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (TandemStreamDefinition) def = types_stream ("Types", "3.0");
	g_autoptr (TandemStreamDefinition) other = types_stream ("Never", "1.0");
	g_autoptr (GPtrArray) events =
		g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);
	g_autoptr (GPtrArray) read = NULL;
	g_autoptr (GError) error = NULL;
	TandemStore *store;
	guint n = G_N_ELEMENTS (round_trip_values);
	guint64 after = 0;
	guint got = 0;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	text = store_config (db, dir, NULL);
	node = node_start (text, dir);
	store = store_of (node, "db");

	/* seqs past 2^32 (SQLite's INTEGER reads as 32 bits) */
	for (guint k = 0; k < n; k++) {
		const Values *v = &round_trip_values[k];
		TandemEvent *ev = tandem_event_new (def, 1700000000000 + k);

		tandem_event_set_int (ev, 0, v->i);
		tandem_event_set_long (ev, 1, v->l);
		tandem_event_set_float (ev, 2, v->f);
		tandem_event_set_double (ev, 3, v->d);
		tandem_event_set_bool (ev, 4, v->b);
		tandem_event_set_string (ev, 5, v->s);
		tandem_event_set_long (ev, 6, v->l);
		tandem_event_set_identity (ev, 3 + k, (G_GUINT64_CONSTANT (1) << 33) + 10 * k);
		g_ptr_array_add (events, ev);
	}
	{
		TandemEvent *ev = tandem_event_new (def, -5);

		for (guint a = 0; a < 7; a++)
			tandem_event_set_null (ev, a);
		tandem_event_set_identity (ev, 2, (G_GUINT64_CONSTANT (1) << 33) + 10 * n);
		g_ptr_array_add (events, ev);
	}
	/* appended out of order: read back in seq order */
	{
		g_autoptr (GPtrArray) reversed = g_ptr_array_new ();

		for (guint k = events->len; k > 0; k--)
			g_ptr_array_add (reversed, g_ptr_array_index (events, k - 1));
		g_assert_true (tandem_store_append_events (store, def, reversed, &error));
	}
	g_assert_true (tandem_store_flush (store, NULL, &error));
	g_assert_no_error (error);

	/* pages of 3 */
	for (;;) {
		g_autoptr (GPtrArray) page = tandem_store_read_events (store, def, after, 3, &error);

		g_assert_no_error (error);
		g_assert_nonnull (page);
		g_assert_cmpuint (page->len, <=, 3);
		if (page->len == 0)
			break;
		for (guint i = 0; i < page->len; i++)
			assert_same_event (g_ptr_array_index (events, got + i), g_ptr_array_index (page, i));
		got += page->len;
		after = tandem_event_get_seq (g_ptr_array_index (page, page->len - 1));
	}
	g_assert_cmpuint (got, ==, n + 1);

	/* after a seq in the middle */
	read = tandem_store_read_events (store, def, (G_GUINT64_CONSTANT (1) << 33) + 25, 100, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (read->len, ==, n + 1 - 3);
	assert_same_event (g_ptr_array_index (events, 3), g_ptr_array_index (read, 0));
	g_clear_pointer (&read, g_ptr_array_unref);

	/* a stream the store never saw */
	read = tandem_store_read_events (store, other, 0, 100, &error);
	g_assert_no_error (error);
	g_assert_cmpuint (read->len, ==, 0);
	tandem_node_stop (node);
	rm_rf (dir);
}

/* NaN and infinities: kept where the database can (SQLite turns NaN into
 * NULL; MySQL has neither: NULL). */
static void
test_non_finite (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *text = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (TandemStreamDefinition) def = types_stream ("Odd", "1");
	g_autoptr (GPtrArray) events = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (JsonNode) rows = NULL;
	const double values[] = { NAN, INFINITY, -INFINITY };
	JsonArray *array;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	text = store_config (db, dir, NULL);
	node = node_start (text, dir);
	events = simple_events (def, 1, 3);
	for (guint k = 0; k < 3; k++)
		tandem_event_set_double (g_ptr_array_index (events, k), 3, values[k]);
	g_assert_true (tandem_store_append_events (store_of (node, "db"), def, events, &error));
	g_assert_true (tandem_store_flush (store_of (node, "db"), NULL, &error));
	g_assert_no_error (error);
	rows = query (store_of (node, "db"), "SELECT d FROM evt_odd_1 ORDER BY seq");
	array = json_node_get_array (rows);
	g_assert_cmpuint (json_array_get_length (array), ==, 3);
	for (guint k = 0; k < 3; k++) {
		JsonObject *row = json_array_get_object_element (array, k);

		if (db->kind == TEST_SERVER_MARIADB && !db->sqlite) {
			g_assert_true (json_object_get_null_member (row, "d"));
		} else if (k == 0) {
			if (db->sqlite)
				g_assert_true (json_object_get_null_member (row, "d"));
			else
				g_assert_cmpstr (json_object_get_string_member (row, "d"), ==,
						 "NaN");
		} else {
			g_assert_cmpstr (json_object_get_string_member (row, "d"), ==,
					 k == 1 ? "Infinity" : "-Infinity");
		}
	}
	tandem_node_stop (node);
	rm_rf (dir);
}

/* --- idempotency ---------------------------------------------------------------- */

static void
test_idempotent (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *text = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (TandemStreamDefinition) def = types_stream ("Again", "1.0.0");
	g_autoptr (GPtrArray) first = NULL;
	g_autoptr (GPtrArray) overlap = NULL;
	g_autoptr (GError) error = NULL;
	TandemStore *store;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	text = store_config (db, dir, "batch_size = 64\n");
	node = node_start (text, dir);
	store = store_of (node, "db");

	first = simple_events (def, 1, 1000);
	overlap = simple_events (def, 501, 1000);
	g_assert_true (tandem_store_append_events (store, def, first, &error));
	g_assert_true (tandem_store_append_events (store, def, first, &error));
	g_assert_true (tandem_store_flush (store, NULL, &error));
	g_assert_true (tandem_store_append_events (store, def, overlap, &error));
	g_assert_true (tandem_store_flush (store, NULL, &error));
	g_assert_no_error (error);
	g_assert_cmpint (query_int (store, "SELECT COUNT(*) AS n FROM evt_again_1_0_0"), ==, 1500);
	g_assert_cmpint (query_int (store, "SELECT COUNT(DISTINCT seq) AS n FROM evt_again_1_0_0"),
			 ==, 1500);
	g_assert_cmpint (query_int (store, "SELECT SUM(l) AS n FROM evt_again_1_0_0"), ==,
			 (gint64) 1000003 * 1500 * 1501 / 2);

	/* a second node (a failover) writes the same rows again: no-ops */
	tandem_node_stop (node);
	g_clear_object (&node);
	node = node_start (text, dir);
	store = store_of (node, "db");
	g_assert_true (tandem_store_append_events (store, def, overlap, &error));
	g_assert_true (tandem_store_flush (store, NULL, &error));
	g_assert_cmpint (query_int (store, "SELECT COUNT(*) AS n FROM evt_again_1_0_0"), ==, 1500);
	tandem_node_stop (node);
	rm_rf (dir);
}

/* --- the node end to end, and roles ---------------------------------------------- */

static GPtrArray *
stock_events (TandemNode *node, guint n, guint offset)
{
	TandemStreamDefinition *def = tandem_node_lookup_stream (node, "Stocks");
	GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);

	for (guint k = 0; k < n; k++) {
		TandemEvent *ev = tandem_event_new (def, 1000 + offset + k);
		g_autofree char *symbol = g_strdup_printf ("S%u", offset + k);

		tandem_event_set_string (ev, 0, symbol);
		tandem_event_set_double (ev, 1, offset + k + 0.25);
		g_ptr_array_add (events, ev);
	}
	return events;
}

static void
test_roles (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *plan = NULL;
	g_autofree char *events_keys = NULL;
	g_autofree char *outputs_keys = NULL;
	g_autofree char *both_keys = NULL;
	g_autofree char *text = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (GPtrArray) batch = NULL;
	g_autoptr (JsonNode) rows = NULL;
	JsonObject *row;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	plan = g_build_filename (dir, "win.siddhiql", NULL);
	write_plan (plan, "define stream Stocks (symbol string, price double);");
	events_keys = fresh_database (db, dir);
	outputs_keys = fresh_database (db, dir);
	both_keys = fresh_database (db, dir);
	text = g_strdup_printf ("[node]\nid = node-a\n[engine]\nplans = %s\n"
				"[store.raw]\nplugin = gda\nrole = events\n%s"
				"[store.results]\nplugin = gda\nrole = outputs\n%s"
				"[store.all]\nplugin = gda\n%s",
				plan, events_keys, outputs_keys, both_keys);
	node = node_start (text, dir);
	batch = stock_events (node, 3, 0);
	ingest (node, "Stocks", batch);
	/* stopping drains the engine into the stores, which write everything */
	tandem_node_stop (node);

	/* the stores still answer queries once stopped */
	g_assert_cmpint (query_int (store_of (node, "raw"),
				    "SELECT COUNT(*) AS n FROM evt_stocks_1_0_0"),
			 ==, 3);
	g_assert_cmpint (query_int (store_of (node, "raw"),
				    "SELECT COUNT(*) AS n FROM tandem_tables"),
			 ==, 1);
	g_assert_cmpint (query_int (store_of (node, "results"),
				    "SELECT COUNT(*) AS n FROM out_win_last_1_0_0"),
			 ==, 4);
	g_assert_cmpint (query_int (store_of (node, "results"),
				    "SELECT COUNT(*) AS n FROM tandem_tables"),
			 ==, 1);
	g_assert_cmpint (query_int (store_of (node, "all"),
				    "SELECT COUNT(*) AS n FROM tandem_tables"),
			 ==, 2);

	rows = query (
		store_of (node, "all"),
		"SELECT plan, query, input_seq, output_index, kind, event_ts, node_id, symbol, price "
		"FROM out_win_last_1_0_0 ORDER BY input_seq, output_index");
	g_assert_cmpuint (json_array_get_length (json_node_get_array (rows)), ==, 4);
	/* the third event expires the first, then is current */
	row = json_array_get_object_element (json_node_get_array (rows), 2);
	g_assert_cmpstr (json_object_get_string_member (row, "plan"), ==, "Win");
	g_assert_cmpstr (json_object_get_string_member (row, "query"), ==, "last2");
	g_assert_cmpint (json_object_get_int_member (row, "input_seq"), ==, 3);
	g_assert_cmpint (json_object_get_int_member (row, "output_index"), ==, 0);
	g_assert_cmpstr (json_object_get_string_member (row, "kind"), ==, "expired");
	g_assert_cmpstr (json_object_get_string_member (row, "symbol"), ==, "S0");
	g_assert_cmpstr (json_object_get_string_member (row, "node_id"), ==, "node-a");
	row = json_array_get_object_element (json_node_get_array (rows), 3);
	g_assert_cmpint (json_object_get_int_member (row, "output_index"), ==, 1);
	g_assert_cmpstr (json_object_get_string_member (row, "kind"), ==, "current");
	g_assert_cmpfloat (json_object_get_double_member (row, "price"), ==, 2.25);
	rm_rf (dir);
}

/* SQLite's default database: tandem.db in the state directory. */
static void
test_default_database (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *plan = g_build_filename (dir, "win.siddhiql", NULL);
	g_autofree char *db = g_build_filename (dir, "tandem.db", NULL);
	g_autofree char *text =
		g_strdup_printf ("[engine]\nplans = %s\n[store.db]\nplugin = gda\n", plan);
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (GPtrArray) batch = NULL;

	write_plan (plan, "define stream Stocks (symbol string, price double);");
	node = node_start (text, dir);
	batch = stock_events (node, 2, 0);
	ingest (node, "Stocks", batch);
	tandem_node_wait_engine_idle (node);
	g_assert_true (tandem_store_flush (store_of (node, "db"), NULL, NULL));
	g_assert_true (g_file_test (db, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpint (query_int (store_of (node, "db"),
				    "SELECT COUNT(*) AS n FROM evt_stocks_1_0_0"),
			 ==, 2);
	tandem_node_stop (node);
	rm_rf (dir);
}

/* --- query ------------------------------------------------------------------------ */

static void
test_query (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *text = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (TandemStreamDefinition) def = types_stream ("Q", "1");
	g_autoptr (GPtrArray) events = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *json = NULL;
	TandemStore *store;
	const char *refused[] = {
		"DELETE FROM evt_q_1",
		"UPDATE evt_q_1 SET i = 0",
		"INSERT INTO evt_q_1 (seq) VALUES (99)",
		"DROP TABLE evt_q_1",
		"CREATE TABLE x (a INTEGER)",
		"SELECT 1; DELETE FROM evt_q_1",
		"SELECT 1; SELECT 2",
		"",
		"   ",
		"BEGIN",
		"PRAGMA writable_schema = 1",
		"SELECT * FROM evt_q_1 INTO OUTFILE '/tmp/x'",
	};

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	text = store_config (db, dir, NULL);
	node = node_start (text, dir);
	store = store_of (node, "db");
	events = simple_events (def, 1, 5);
	g_assert_true (tandem_store_append_events (store, def, events, &error));
	g_assert_true (tandem_store_flush (store, NULL, &error));

	for (guint k = 0; k < G_N_ELEMENTS (refused); k++) {
		g_autofree char *out = tandem_store_query (store, refused[k], 10, 1000, &error);

		g_assert_null (out);
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
		g_clear_error (&error);
	}
	g_assert_cmpint (query_int (store, "SELECT COUNT(*) AS n FROM evt_q_1"), ==, 5);

	/* the row limit */
	json = tandem_store_query (store, "SELECT seq FROM evt_q_1 ORDER BY seq", 2, 1000, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (json, ==, "[{\"seq\":1},{\"seq\":2}]");
	g_clear_pointer (&json, g_free);
	json = tandem_store_query (
		store,
		"SELECT seq FROM evt_q_1 WHERE seq > 1 UNION SELECT seq FROM evt_q_1 WHERE seq = 1 ORDER BY seq",
		0, 0, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (json, ==, "[{\"seq\":1},{\"seq\":2},{\"seq\":3},{\"seq\":4},{\"seq\":5}]");
	g_clear_pointer (&json, g_free);
	/* a failing SELECT is an error, not a crash */
	json = tandem_store_query (store, "SELECT nope FROM evt_q_1", 0, 0, &error);
	g_assert_null (json);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
	g_clear_error (&error);
	/* a query that runs too long is stopped */
	if (!db->sqlite) {
		json = tandem_store_query (store,
					   db->kind == TEST_SERVER_MARIADB
						   ? "SELECT SLEEP(5) AS s"
						   : "SELECT pg_sleep(5) AS s",
					   0, 300, &error);
		g_assert_null (json);
		g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
		g_clear_error (&error);
	}
	tandem_node_stop (node);
	rm_rf (dir);
}

/* --- node registry ---------------------------------------------------------------- */

static void
test_node_registry (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *keys = NULL;
	g_autofree char *text = NULL;
	g_autofree char *dir_a = NULL;
	g_autofree char *dir_b = NULL;
	g_autoptr (TandemNode) a = NULL;
	g_autoptr (TandemNode) b = NULL;
	g_autoptr (GError) error = NULL;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	dir_a = g_build_filename (dir, "a", NULL);
	dir_b = g_build_filename (dir, "b", NULL);
	keys = fresh_database (db, dir);
	text = g_strdup_printf ("[store.db]\nplugin = gda\nnode_timeout = 2000\n%s", keys);
	a = node_start (text, dir_a);
	b = node_start (text, dir_b);

	g_assert_true (tandem_store_register_node (store_of (a, "db"), "node-1", "host-a",
						   "tcp=9000", &error));
	g_assert_no_error (error);
	/* again by the same store: fine */
	g_assert_true (tandem_store_register_node (store_of (a, "db"), "node-1", "host-a",
						   "tcp=9000", &error));
	/* by another: refused while the first is live (its writer thread
	 * refreshes it every node_timeout / 3) */
	g_assert_false (tandem_store_register_node (store_of (b, "db"), "node-1", "host-b",
						    "tcp=9001", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY);
	g_assert_nonnull (
		strstr (error->message, "node id node-1 is already live on host-a (last seen "));
	g_clear_error (&error);
	g_usleep (2500 * 1000); /* longer than node_timeout: the heartbeats keep it live */
	g_assert_false (tandem_store_register_node (store_of (b, "db"), "node-1", "host-b",
						    "tcp=9001", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY);
	g_clear_error (&error);
	g_assert_true (tandem_store_register_node (store_of (b, "db"), "node-2", "host-b",
						   "tcp=9001", &error));
	g_assert_no_error (error);

	/* a stopped node leaves: its id is free at once */
	tandem_node_stop (a);
	g_assert_true (tandem_store_register_node (store_of (b, "db"), "node-1", "host-b",
						   "tcp=9001", &error));
	g_assert_no_error (error);
	g_assert_cmpint (query_int (store_of (b, "db"),
				    "SELECT COUNT(*) AS n FROM tandem_nodes WHERE host = 'host-b'"),
			 ==, 2);

	/* a store that registered and is not running (no heartbeat) is gone
	 * after node_timeout */
	{
		g_autofree char *dir_c = g_build_filename (dir, "c", NULL);
		g_autoptr (TandemNode) c = node_new (text, dir_c, &error);

		g_assert_no_error (error);
		g_assert_true (tandem_store_register_node (store_of (c, "db"), "node-3", "host-c",
							   "", &error));
		g_assert_false (tandem_store_register_node (store_of (b, "db"), "node-3", "host-b",
							    "", &error));
		g_clear_error (&error);
		g_usleep (2200 * 1000);
		g_assert_true (tandem_store_register_node (store_of (b, "db"), "node-3", "host-b",
							   "", &error));
		g_assert_no_error (error);
	}
	tandem_node_stop (b);
	rm_rf (dir);
}

/* --- lease -------------------------------------------------------------------------- */

typedef struct {
	char holder[64];
	guint64 epoch;
	gint64 expires_ms;
	gboolean won;
} Observation;

/* Takes, renews, and sometimes lets go of the lease for @run_ms; records
 * what each attempt returned. */
static GArray *
lease_loop (TandemStore *store, const char *holder, guint run_ms)
{
	GArray *seen = g_array_new (FALSE, TRUE, sizeof (Observation));
	gint64 end = g_get_monotonic_time () + (gint64) run_ms * 1000;
	GRand *rand = g_rand_new ();
	gboolean went_quiet = FALSE;

	while (g_get_monotonic_time () < end) {
		TandemLease lease = { 0 };
		Observation o = { 0 };
		g_autoptr (GError) error = NULL;

		g_assert_true (tandem_store_acquire_lease (store, "cluster-1", holder, LEASE_TTL_MS,
							   NULL, 0, &lease, &error));
		g_assert_no_error (error);
		g_strlcpy (o.holder, lease.holder != NULL ? lease.holder : "", sizeof o.holder);
		o.epoch = lease.epoch;
		o.expires_ms = lease.expires_ms;
		o.won = g_strcmp0 (lease.holder, holder) == 0;
		g_array_append_val (seen, o);
		tandem_lease_clear (&lease);
		/* renew well before the end of the lease; the first time it is
		 * won, and now and then after, go quiet for longer than it lasts
		 * so that the other takes it: the lease changes hands in every
		 * run, whatever the random draws */
		if (o.won && (!went_quiet || g_rand_int_range (rand, 0, 20) == 0)) {
			went_quiet = TRUE;
			g_usleep ((LEASE_TTL_MS + 50) * 1000);
		}
		else
			g_usleep (g_rand_int_range (rand, 0, LEASE_TTL_MS / 5) * 1000);
	}
	g_rand_free (rand);
	return seen;
}

/* Exactly one holder per epoch; epochs only grow for each observer; the
 * lease changes hands only after it expired (by the database's clock). */
static void
check_lease_history (GArray **histories, guint n)
{
	g_autoptr (GHashTable) holder_of =
		g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
	g_autoptr (GHashTable) last_expiry =
		g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
	guint64 max_epoch = 0;
	guint wins = 0;

	for (guint h = 0; h < n; h++) {
		guint64 previous = 0;

		for (guint i = 0; i < histories[h]->len; i++) {
			Observation *o = &g_array_index (histories[h], Observation, i);
			const char *known = g_hash_table_lookup (holder_of, &o->epoch);
			gint64 *expiry;

			g_assert_cmpuint (o->epoch, >=, previous);
			previous = o->epoch;
			max_epoch = MAX (max_epoch, o->epoch);
			if (known == NULL) {
				gint64 *key = g_new (gint64, 1);

				*key = (gint64) o->epoch;
				g_hash_table_insert (holder_of, key, g_strdup (o->holder));
			} else {
				g_assert_cmpstr (known, ==, o->holder);
			}
			if (!o->won)
				continue;
			wins++;
			expiry = g_hash_table_lookup (last_expiry, &o->epoch);
			if (expiry == NULL) {
				gint64 *key = g_new (gint64, 1);

				*key = (gint64) o->epoch;
				expiry = g_new (gint64, 1);
				*expiry = o->expires_ms;
				g_hash_table_insert (last_expiry, key, expiry);
			} else {
				*expiry = MAX (*expiry, o->expires_ms);
			}
		}
	}
	/* a holder's tenure (epoch e) begins after the previous one ended */
	for (guint h = 0; h < n; h++) {
		for (guint i = 0; i < histories[h]->len; i++) {
			Observation *o = &g_array_index (histories[h], Observation, i);
			gint64 before = (gint64) o->epoch - 1;
			gint64 *end = g_hash_table_lookup (last_expiry, &before);

			if (o->won && end != NULL &&
			    (i == 0 ||
			     g_array_index (histories[h], Observation, i - 1).epoch != o->epoch))
				g_assert_cmpint (o->expires_ms - LEASE_TTL_MS, >=, *end);
		}
	}
	g_assert_cmpuint (wins, >, 0);
	/* the lease changed hands at least once */
	g_assert_cmpuint (max_epoch, >=, 2);
}

typedef struct {
	TandemStore *store;
	const char *holder;
	GArray *seen;
} LeaseThread;

static gpointer
lease_thread (gpointer data)
{
	LeaseThread *t = data;

	t->seen = lease_loop (t->store, t->holder, LEASE_RUN_MS);
	return NULL;
}

static void
test_lease_threads (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *keys = NULL;
	g_autofree char *text = NULL;
	g_autofree char *dir_a = NULL;
	g_autofree char *dir_b = NULL;
	g_autoptr (TandemNode) a = NULL;
	g_autoptr (TandemNode) b = NULL;
	g_autoptr (GError) error = NULL;
	LeaseThread threads[2];
	GThread *t[2];
	GArray *histories[2];

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	dir_a = g_build_filename (dir, "a", NULL);
	dir_b = g_build_filename (dir, "b", NULL);
	keys = fresh_database (db, dir);
	text = g_strdup_printf ("[store.db]\nplugin = gda\n%s", keys);
	/* configured, not started: the lease needs no writer */
	a = node_new (text, dir_a, &error);
	b = node_new (text, dir_b, &error);
	g_assert_no_error (error);
	threads[0] = (LeaseThread){ store_of (a, "db"), "node-a", NULL };
	threads[1] = (LeaseThread){ store_of (b, "db"), "node-b", NULL };
	for (guint i = 0; i < 2; i++)
		t[i] = g_thread_new ("lease", lease_thread, &threads[i]);
	for (guint i = 0; i < 2; i++) {
		g_thread_join (t[i]);
		histories[i] = threads[i].seen;
	}
	check_lease_history (histories, 2);
	for (guint i = 0; i < 2; i++)
		g_array_unref (histories[i]);
	rm_rf (dir);
}

/* One attempt; returns whether @holder holds the lease after it. */
static gboolean
try_lease (TandemStore *store,
	   const char *holder,
	   gint64 ttl_ms,
	   const char *take_from,
	   guint64 take_from_epoch,
	   TandemLease *lease)
{
	g_autoptr (GError) error = NULL;

	tandem_lease_clear (lease);
	g_assert_true (tandem_store_acquire_lease (store, "cluster-t", holder, ttl_ms, take_from,
						   take_from_epoch, lease, &error));
	g_assert_no_error (error);
	return g_strcmp0 (lease->holder, holder) == 0;
}

/* Taking over from a holder known to be gone, and releasing: both decided
 * in the one compare-and-set statement, on every provider. */
static void
test_lease_take_over (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *keys = NULL;
	g_autofree char *text = NULL;
	g_autofree char *dir_a = NULL;
	g_autoptr (TandemNode) a = NULL;
	g_autoptr (GError) error = NULL;
	TandemLease lease = { 0 };
	TandemStore *store;
	guint64 first;
	gint64 expires;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	dir_a = g_build_filename (dir, "a", NULL);
	keys = fresh_database (db, dir);
	text = g_strdup_printf ("[store.db]\nplugin = gda\n%s", keys);
	a = node_new (text, dir_a, &error);
	g_assert_no_error (error);
	store = store_of (a, "db");

	g_assert_true (try_lease (store, "a#1", 60000, NULL, 0, &lease));
	first = lease.epoch;
	expires = lease.expires_ms;
	/* held and unexpired: b loses, with or without a wrong take-over */
	g_assert_false (try_lease (store, "b#1", 60000, NULL, 0, &lease));
	g_assert_cmpstr (lease.holder, ==, "a#1");
	g_assert_cmpuint (lease.epoch, ==, first);
	g_assert_false (try_lease (store, "b#1", 60000, "a#1", first + 1, &lease));
	g_assert_false (try_lease (store, "b#1", 60000, "a#0", first, &lease));
	g_assert_cmpstr (lease.holder, ==, "a#1");
	g_assert_cmpuint (lease.epoch, ==, first);
	g_assert_cmpint (lease.expires_ms, ==, expires);
	/* a is known gone at this epoch: b takes over at once */
	g_assert_true (try_lease (store, "b#1", 60000, "a#1", first, &lease));
	g_assert_cmpuint (lease.epoch, ==, first + 1);
	/* the same take-over again is a renewal, not a new epoch */
	g_assert_true (try_lease (store, "b#1", 60000, "a#1", first, &lease));
	g_assert_cmpuint (lease.epoch, ==, first + 1);
	/* a's next renewal learns it lost */
	g_assert_false (try_lease (store, "a#1", 60000, NULL, 0, &lease));
	g_assert_cmpstr (lease.holder, ==, "b#1");
	g_assert_cmpuint (lease.epoch, ==, first + 1);
	/* a stale take-over (a's view of an older epoch) does nothing */
	g_assert_false (try_lease (store, "a#2", 60000, "b#1", first, &lease));
	g_assert_cmpstr (lease.holder, ==, "b#1");
	/* b releases: the next one takes it without waiting */
	g_assert_true (try_lease (store, "b#1", 0, NULL, 0, &lease));
	g_assert_true (try_lease (store, "a#2", 60000, NULL, 0, &lease));
	g_assert_cmpuint (lease.epoch, ==, first + 2);
	tandem_lease_clear (&lease);
	rm_rf (dir);
}

/* The child of test_lease_processes: writes one line per attempt. */
static int
lease_worker (const char *config_path, const char *holder, guint run_ms, const char *out_path)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *text = NULL;
	g_autofree char *state = g_strdup_printf ("%s.%s", out_path, holder);
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (GArray) seen = NULL;
	g_autoptr (GString) out = g_string_new (NULL);

	g_file_get_contents (config_path, &text, NULL, &error);
	g_assert_no_error (error);
	node = node_new (text, state, &error);
	g_assert_no_error (error);
	seen = lease_loop (store_of (node, "db"), holder, run_ms);
	for (guint i = 0; i < seen->len; i++) {
		Observation *o = &g_array_index (seen, Observation, i);

		g_string_append_printf (out, "%d %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %s\n",
					o->won, o->epoch, o->expires_ms,
					o->holder[0] != '\0' ? o->holder : "-");
	}
	g_file_set_contents (out_path, out->str, -1, &error);
	g_assert_no_error (error);
	return 0;
}

static GArray *
read_observations (const char *path)
{
	g_autoptr (GError) error = NULL;
	g_autofree char *text = NULL;
	g_auto (GStrv) lines = NULL;
	GArray *seen = g_array_new (FALSE, TRUE, sizeof (Observation));

	g_file_get_contents (path, &text, NULL, &error);
	g_assert_no_error (error);
	lines = g_strsplit (text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		Observation o = { 0 };
		int won = 0;
		char holder[64] = { 0 };

		if (lines[i][0] == '\0')
			continue;
		g_assert_cmpint (sscanf (lines[i],
					 "%d %" G_GUINT64_FORMAT " %" G_GINT64_FORMAT " %63s", &won,
					 &o.epoch, &o.expires_ms, holder),
				 ==, 4);
		o.won = won;
		g_strlcpy (o.holder, holder, sizeof o.holder);
		g_array_append_val (seen, o);
	}
	return seen;
}

static void
test_lease_processes (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *keys = NULL;
	g_autofree char *text = NULL;
	g_autofree char *config = NULL;
	g_autoptr (GError) error = NULL;
	GSubprocess *procs[2];
	GArray *histories[2];
	const char *holders[] = { "proc-a", "proc-b" };
	g_autofree char *ms = g_strdup_printf ("%u", LEASE_RUN_MS);

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	config = g_build_filename (dir, "tandem.conf", NULL);
	keys = fresh_database (db, dir);
	text = g_strdup_printf ("[store.db]\nplugin = gda\n%s", keys);
	write_file (config, text);
	for (guint i = 0; i < 2; i++) {
		g_autofree char *out = g_strdup_printf ("%s/%s.out", dir, holders[i]);

		procs[i] = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, self_path,
					     "--lease-worker", config, holders[i], ms, out, NULL);
		g_assert_no_error (error);
	}
	for (guint i = 0; i < 2; i++) {
		g_autofree char *out = g_strdup_printf ("%s/%s.out", dir, holders[i]);

		g_assert_true (g_subprocess_wait_check (procs[i], NULL, &error));
		g_assert_no_error (error);
		g_object_unref (procs[i]);
		histories[i] = read_observations (out);
	}
	check_lease_history (histories, 2);
	for (guint i = 0; i < 2; i++)
		g_array_unref (histories[i]);
	rm_rf (dir);
}

/* --- a database restart in the middle of a write stream ---------------------------- */

typedef struct {
	TandemStore *store;
	TandemStreamDefinition *def;
	guint total;
	gboolean ok;
	volatile gint sent;
} Writer;

static gpointer
writer_thread (gpointer data)
{
	Writer *w = data;

	w->ok = TRUE;
	for (guint seq = 1; seq <= w->total; seq += 50) {
		g_autoptr (GPtrArray) events = simple_events (w->def, seq, 50);
		g_autoptr (GError) error = NULL;

		if (!tandem_store_append_events (w->store, w->def, events, &error)) {
			g_printerr ("append: %s\n", error->message);
			w->ok = FALSE;
			return NULL;
		}
		g_atomic_int_add (&w->sent, 50);
		g_usleep (2000);
	}
	return NULL;
}

static void
test_server_restart_mid_stream (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *text = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (TandemStreamDefinition) def = types_stream ("Flow", "1.0.0");
	g_autoptr (GError) error = NULL;
	Writer w = { 0 };
	GThread *thread;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	text = store_config (
		db, dir,
		"batch_size = 200\nflush_interval = 20\nretry_max_interval = 500\nqueue_size = 2000\n");
	node = node_start (text, dir);
	w.store = store_of (node, "db");
	w.def = def;
	w.total = 20000;
	thread = g_thread_new ("writer", writer_thread, &w);

	/* a crash, then a clean restart, while rows flow */
	while (g_atomic_int_get (&w.sent) < 4000)
		g_usleep (1000);
	g_assert_true (test_server_restart (db->server, TRUE, &error));
	g_assert_no_error (error);
	while (g_atomic_int_get (&w.sent) < 12000)
		g_usleep (1000);
	g_assert_true (test_server_restart (db->server, FALSE, &error));
	g_assert_no_error (error);

	g_thread_join (thread);
	g_assert_true (w.ok);
	g_assert_true (tandem_store_flush (w.store, NULL, &error));
	g_assert_no_error (error);
	g_assert_cmpint (query_int (w.store, "SELECT COUNT(*) AS n FROM evt_flow_1_0_0"), ==,
			 20000);
	g_assert_cmpint (query_int (w.store, "SELECT COUNT(DISTINCT seq) AS n FROM evt_flow_1_0_0"),
			 ==, 20000);
	g_assert_cmpint (query_int (w.store, "SELECT MIN(seq) AS n FROM evt_flow_1_0_0"), ==, 1);
	g_assert_cmpint (query_int (w.store, "SELECT MAX(seq) AS n FROM evt_flow_1_0_0"), ==,
			 20000);
	tandem_node_stop (node);
	rm_rf (dir);
}

/* --- a row the database refuses ------------------------------------------------------ */

static void
test_poison_row (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *text = NULL;
	g_autofree char *dbname = NULL;
	g_autofree char *out = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (TandemStreamDefinition) def = types_stream ("Poison", "1");
	g_autoptr (GPtrArray) first = NULL;
	g_autoptr (GPtrArray) rest = NULL;
	g_autoptr (GPtrArray) more = NULL;
	g_autoptr (GError) error = NULL;
	TandemStore *store;
	const char *p;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	text = store_config (db, dir, "batch_size = 50\nflush_interval = 20\n");
	p = strstr (text, "database = ");
	dbname = g_strndup (p + 11, strcspn (p + 11, "\n"));
	node = node_start (text, dir);
	store = store_of (node, "db");
	first = simple_events (def, 1, 1);
	g_assert_true (tandem_store_append_events (store, def, first, &error));
	g_assert_true (tandem_store_flush (store, NULL, &error));
	g_assert_no_error (error);

	/* the database now refuses i = 13: that row alone is dropped */
	out = test_server_sql (db->server, dbname,
			       "ALTER TABLE evt_poison_1 ADD CONSTRAINT no13 CHECK (i <> 13)",
			       &error);
	g_assert_no_error (error);
	rest = simple_events (def, 2, 100);
	g_assert_true (tandem_store_append_events (store, def, rest, &error));
	g_assert_false (tandem_store_flush (store, NULL, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
	g_assert_nonnull (strstr (error->message, "1 row(s) could not be written"));
	g_clear_error (&error);
	g_assert_cmpint (query_int (store, "SELECT COUNT(*) AS n FROM evt_poison_1"), ==, 100);
	g_assert_cmpint (query_int (store, "SELECT COUNT(*) AS n FROM evt_poison_1 WHERE seq = 15"),
			 ==, 0);

	/* and the store goes on */
	more = simple_events (def, 200, 10);
	tandem_event_set_int (g_ptr_array_index (more, 0), 0, 12);
	g_assert_true (tandem_store_append_events (store, def, more, &error));
	g_assert_true (tandem_store_flush (store, NULL, &error));
	g_assert_no_error (error);
	g_assert_cmpint (query_int (store, "SELECT COUNT(*) AS n FROM evt_poison_1"), ==, 110);
	tandem_node_stop (node);
	rm_rf (dir);
}

/* --- config ----------------------------------------------------------------------- */

static void
test_config_errors (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *secret = g_build_filename (dir, "secret", NULL);
	g_autofree char *text = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (TandemNode) node = NULL;

	node = node_new ("[store.db]\nplugin = gda\nprovider = oracle\n", dir, &error);
	g_assert_null (node);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_nonnull (strstr (
		error->message,
		"tandem.conf:3: key 'provider' in [store.db]: expected sqlite, mysql (or mariadb) or postgresql, got \"oracle\""));
	g_clear_error (&error);

	write_file (secret, "s3cret-value\n");
	g_assert_cmpint (g_chmod (secret, 0600), ==, 0);
	text = g_strdup_printf (
		"[store.db]\nplugin = gda\nprovider = mysql\npassword = x\npassword_file = %s\n",
		secret);
	node = node_new (text, dir, &error);
	g_assert_null (node);
	g_assert_nonnull (strstr (error->message, "give the password one way"));
	g_clear_error (&error);

	g_free (text);
	text = g_strdup_printf (
		"[store.db]\nplugin = gda\nprovider = mysql\npassword_file = %s.missing\n", secret);
	node = node_new (text, dir, &error);
	g_assert_null (node);
	g_assert_nonnull (
		strstr (error->message, "key 'password_file' in [store.db]: cannot read"));
	g_clear_error (&error);

	/* the password never shows, not even in a connection error */
	g_free (text);
	text = g_strdup_printf (
		"[node]\nid = n\n[store.db]\nplugin = gda\nprovider = mysql\nhost = %s/no-such.sock\n"
		"user = u\npassword_file = %s\n",
		dir, secret);
	node = node_new (text, dir, &error);
	g_assert_no_error (error);
	g_assert_true (tandem_node_open_state (node, &error));
	g_assert_false (tandem_node_start (node, &error));
	g_assert_nonnull (
		strstr (error->message, "cannot connect to MySQL database tandem on socket"));
	g_assert_null (strstr (error->message, "s3cret"));
	g_clear_error (&error);
	rm_rf (dir);
}

/* --- main ------------------------------------------------------------------------- */

static void
copy_plugin (void)
{
	const char *build = g_getenv ("TANDEM_TEST_GDA_PLUGIN_DIR");
	g_autofree char *src = NULL;
	g_autofree char *dst = NULL;
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr (GError) error = NULL;

	g_assert_nonnull (build);
	src = g_build_filename (build, "tandem-gda-store.so", NULL);
	dst = g_build_filename (plugin_dir, "tandem-gda-store.so", NULL);
	g_file_get_contents (src, &contents, &length, &error);
	g_assert_no_error (error);
	g_file_set_contents_full (dst, contents, length, G_FILE_SET_CONTENTS_NONE, 0755, &error);
	g_assert_no_error (error);
	g_assert_cmpint (g_chmod (dst, 0755), ==, 0);
}

static void
add_tests (Db *db)
{
	struct {
		const char *name;
		GTestDataFunc func;
		gboolean servers_only;
	} tests[] = {
		{ "schema", test_schema, FALSE },
		{ "round-trip", test_round_trip, FALSE },
		{ "read-events", test_read_events, FALSE },
		{ "non-finite", test_non_finite, FALSE },
		{ "idempotent", test_idempotent, FALSE },
		{ "roles", test_roles, FALSE },
		{ "query", test_query, FALSE },
		{ "node-registry", test_node_registry, FALSE },
		{ "lease-threads", test_lease_threads, FALSE },
		{ "lease-take-over", test_lease_take_over, FALSE },
		{ "lease-processes", test_lease_processes, FALSE },
		{ "restart-mid-stream", test_server_restart_mid_stream, TRUE },
		{ "poison-row", test_poison_row, TRUE },
	};

	for (guint i = 0; i < G_N_ELEMENTS (tests); i++) {
		g_autofree char *path = NULL;

		if (tests[i].servers_only && db->sqlite)
			continue;
		path = g_strdup_printf ("/gda/%s/%s", db->name, tests[i].name);
		g_test_add_data_func (path, db, tests[i].func);
	}
}

int
main (int argc, char **argv)
{
	int rc;

	if (argc == 6 && g_str_equal (argv[1], "--lease-worker")) {
		plugin_dir = g_strdup (g_getenv ("TANDEM_TEST_GDA_WORKER_PLUGINS"));
		return lease_worker (argv[2], argv[3], (guint) atoi (argv[4]), argv[5]);
	}
	g_test_init (&argc, &argv, NULL);
	/* the store warns when it loses its database, which some tests make
	 * happen; criticals stay fatal */
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	self_path = g_canonicalize_filename (argv[0], NULL);
	plugin_dir = make_tmpdir ();
	copy_plugin ();
	g_setenv ("TANDEM_TEST_GDA_WORKER_PLUGINS", plugin_dir, TRUE);

	dbs[0] = (Db){ "sqlite", TRUE, 0, NULL, NULL };
	dbs[1] = (Db){ "mariadb", FALSE, TEST_SERVER_MARIADB, NULL, NULL };
	dbs[2] = (Db){ "postgresql", FALSE, TEST_SERVER_POSTGRES, NULL, NULL };
	if (g_getenv ("TANDEM_TEST_GDA_SQLITE_ONLY") != NULL) {
		dbs[1].skip = g_strdup ("TANDEM_TEST_GDA_SQLITE_ONLY is set");
		dbs[2].skip = g_strdup ("TANDEM_TEST_GDA_SQLITE_ONLY is set");
	} else {
		for (guint i = 1; i < 3; i++) {
			g_autofree char *why = NULL;

			dbs[i].server = test_server_start (dbs[i].kind, &why);
			if (dbs[i].server == NULL)
				dbs[i].skip = g_strdup_printf ("%s: %s", dbs[i].name, why);
		}
	}

	g_test_add_func ("/gda/config-errors", test_config_errors);
	g_test_add_func ("/gda/sqlite/default-database", test_default_database);
	for (guint i = 0; i < 3; i++)
		add_tests (&dbs[i]);

	rc = g_test_run ();
	for (guint i = 0; i < 3; i++) {
		g_clear_pointer (&dbs[i].server, test_server_free);
		g_free (dbs[i].skip);
	}
	rm_rf (plugin_dir);
	g_free (plugin_dir);
	g_free (self_path);
	return rc;
}
