/* store-bench.c: rows/s of raw events through the gda store plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 *   store-bench --plugin-dir DIR --config FILE [--rows N] [--dump DIR]
 *
 * Starts a node whose config FILE has a [store.bench] section, builds N
 * events of a 4-attribute stream (TemperatureStream:1.0.0: ts long, stream
 * string, val double, payload string of about 106 bytes of JSON, as in
 * ../shared/anchors/sqlite_mysql_insert.sh), hands them to the store in
 * batches of 1000 as the engine thread would, flushes, and prints
 * `rows=N seconds=S rows_per_s=R` once every row is committed.
 *
 * --dump DIR also writes the same rows for the native peers: DIR/rows.tsv
 * (for LOAD DATA) and DIR/insert500-sqlite.sql, DIR/insert500-mysql.sql
 * (500-row multi-row INSERTs, one transaction each), against a table named
 * native_events with the store's columns.
 */
#include <string.h>

#include <glib/gstdio.h>
#include <tandem.h>

#define APPEND_CHUNK 1000
#define NATIVE_BATCH 500

static TandemStreamDefinition *
bench_stream (void)
{
	TandemStreamDefinition *def = tandem_stream_definition_new ("TemperatureStream", "1.0.0");
	g_autoptr (GError) error = NULL;

	tandem_stream_definition_add_attribute (def, "ts", TANDEM_ATTRIBUTE_TYPE_LONG,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	tandem_stream_definition_add_attribute (def, "stream", TANDEM_ATTRIBUTE_TYPE_STRING,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	tandem_stream_definition_add_attribute (def, "val", TANDEM_ATTRIBUTE_TYPE_DOUBLE,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	tandem_stream_definition_add_attribute (def, "payload", TANDEM_ATTRIBUTE_TYPE_STRING,
						TANDEM_ATTRIBUTE_GROUP_PAYLOAD, &error);
	g_assert_no_error (error);
	return def;
}

static GPtrArray *
bench_events (TandemStreamDefinition *def, guint n)
{
	GPtrArray *events = g_ptr_array_new_full (n, (GDestroyNotify) tandem_event_unref);
	GRand *rand = g_rand_new_with_seed (42);

	for (guint i = 0; i < n; i++) {
		gint64 ts = G_GINT64_CONSTANT (1732953600000) + i;
		double val = g_rand_double_range (rand, -20, 60);
		TandemEvent *ev = tandem_event_new (def, ts);
		g_autofree char *payload = NULL;

		val = (double) (gint64) (val * 1000) / 1000;
		payload = g_strdup_printf (
			"{\"sensorId\":\"sensor-%06d\",\"site\":\"plant-%d\",\"temperature\":%.3f,"
			"\"humidity\":%.1f,\"status\":\"OK\",\"seq\":%u}",
			g_rand_int_range (rand, 0, 1000000), g_rand_int_range (rand, 0, 10), val,
			g_rand_double_range (rand, 0, 100), i);
		tandem_event_set_long (ev, 0, ts);
		tandem_event_set_string (ev, 1, "org.example.TemperatureStream");
		tandem_event_set_double (ev, 2, val);
		tandem_event_set_string (ev, 3, payload);
		tandem_event_set_identity (ev, 1, i + 1);
		g_ptr_array_add (events, ev);
	}
	g_rand_free (rand);
	return events;
}

static void
dump_native (GPtrArray *events, const char *dir, const char *node_id)
{
	g_autoptr (GString) tsv = g_string_new (NULL);
	g_autoptr (GString) sqlite =
		g_string_new ("PRAGMA journal_mode = WAL;\nPRAGMA synchronous = FULL;\n");
	g_autoptr (GString) mysql = g_string_new (NULL);
	g_autoptr (GError) error = NULL;
	g_autofree char *tsv_path = g_build_filename (dir, "rows.tsv", NULL);
	g_autofree char *sqlite_path = g_build_filename (dir, "insert500-sqlite.sql", NULL);
	g_autofree char *mysql_path = g_build_filename (dir, "insert500-mysql.sql", NULL);

	for (guint i = 0; i < events->len; i++) {
		TandemEvent *ev = g_ptr_array_index (events, i);
		char val[G_ASCII_DTOSTR_BUF_SIZE];
		g_autofree char *row = NULL;

		g_ascii_dtostr (val, sizeof val, tandem_event_get_double (ev, 2));
		/* the payload holds no quote nor backslash */
		row = g_strdup_printf ("(%u,%" G_GUINT64_FORMAT ",%" G_GINT64_FORMAT
				       ",'%s',%" G_GINT64_FORMAT ",'%s',%s,'%s')",
				       tandem_event_get_epoch (ev), tandem_event_get_seq (ev),
				       tandem_event_get_timestamp (ev), node_id,
				       tandem_event_get_long (ev, 0),
				       tandem_event_get_string (ev, 1), val,
				       tandem_event_get_string (ev, 3));
		g_string_append_printf (tsv,
					"%u\t%" G_GUINT64_FORMAT "\t%" G_GINT64_FORMAT
					"\t%s\t%" G_GINT64_FORMAT "\t%s\t%s\t%s\n",
					tandem_event_get_epoch (ev), tandem_event_get_seq (ev),
					tandem_event_get_timestamp (ev), node_id,
					tandem_event_get_long (ev, 0),
					tandem_event_get_string (ev, 1), val,
					tandem_event_get_string (ev, 3));
		if (i % NATIVE_BATCH == 0) {
			const char *head =
				"INSERT INTO native_events (epoch, seq, event_ts, node_id, ts, stream, val, payload) VALUES ";

			g_string_append_printf (sqlite, "BEGIN;\n%s", head);
			g_string_append_printf (mysql, "BEGIN;\n%s", head);
		} else {
			g_string_append_c (sqlite, ',');
			g_string_append_c (mysql, ',');
		}
		g_string_append (sqlite, row);
		g_string_append (mysql, row);
		if (i % NATIVE_BATCH == NATIVE_BATCH - 1 || i + 1 == events->len) {
			g_string_append (sqlite, ";\nCOMMIT;\n");
			g_string_append (mysql, ";\nCOMMIT;\n");
		}
	}
	if (!g_file_set_contents (tsv_path, tsv->str, (gssize) tsv->len, &error) ||
	    !g_file_set_contents (sqlite_path, sqlite->str, (gssize) sqlite->len, &error) ||
	    !g_file_set_contents (mysql_path, mysql->str, (gssize) mysql->len, &error))
		g_error ("cannot write the native files: %s", error->message);
}

int
main (int argc, char **argv)
{
	g_autofree char *plugin_dir = NULL;
	g_autofree char *config_path = NULL;
	g_autofree char *dump_dir = NULL;
	g_autofree char *state_dir = NULL;
	int rows = 100000;
	const GOptionEntry entries[] = {
		{ "plugin-dir", 0, 0, G_OPTION_ARG_FILENAME, &plugin_dir,
		  "Directory of tandem-gda-store.so", "DIR" },
		{ "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
		  "Config with a [store.bench] section", "FILE" },
		{ "rows", 0, 0, G_OPTION_ARG_INT, &rows, "Rows to write (100000)", "N" },
		{ "dump", 0, 0, G_OPTION_ARG_FILENAME, &dump_dir,
		  "Write the rows for the native peers here", "DIR" },
		G_OPTION_ENTRY_NULL,
	};
	g_autoptr (GOptionContext) context = g_option_context_new (NULL);
	g_autoptr (GError) error = NULL;
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (TandemPluginRegistry) registry = tandem_plugin_registry_new ();
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (TandemStreamDefinition) def = bench_stream ();
	g_autoptr (GPtrArray) events = NULL;
	g_autofree char *count_json = NULL;
	TandemStore *store = NULL;
	GPtrArray *plugins;
	gint64 start;
	double seconds;
	const char *path[2] = { NULL, NULL };

	g_option_context_add_main_entries (context, entries, NULL);
	if (!g_option_context_parse (context, &argc, &argv, &error) || plugin_dir == NULL ||
	    config_path == NULL || rows <= 0) {
		g_printerr (
			"usage: store-bench --plugin-dir DIR --config FILE [--rows N] [--dump DIR]\n");
		return 2;
	}
	path[0] = plugin_dir;
	tandem_plugin_registry_set_search_path (registry, path);
	tandem_plugin_registry_scan (registry);
	if (!tandem_config_load_file (config, config_path, &error))
		g_error ("%s", error->message);
	node = tandem_node_new (config, registry);
	state_dir = g_path_get_dirname (config_path);
	tandem_node_set_state_dir (node, state_dir);
	if (!tandem_node_configure (node, &error) || !tandem_node_open_state (node, &error) ||
	    !tandem_node_start (node, &error))
		g_error ("%s", error->message);
	plugins = tandem_node_get_plugins (node);
	for (guint i = 0; i < plugins->len; i++) {
		if (TANDEM_IS_STORE (g_ptr_array_index (plugins, i)))
			store = g_ptr_array_index (plugins, i);
	}
	if (store == NULL)
		g_error ("%s has no store section", config_path);

	events = bench_events (def, (guint) rows);
	if (dump_dir != NULL)
		dump_native (events, dump_dir, tandem_node_get_id (node));

	/* the table exists before the clock starts, as it does after a
	 * node's start */
	{
		g_autoptr (GPtrArray) first = g_ptr_array_new ();

		g_ptr_array_add (first, g_ptr_array_index (events, 0));
		if (!tandem_store_append_events (store, def, first, &error) ||
		    !tandem_store_flush (store, NULL, &error))
			g_error ("%s", error->message);
	}

	start = g_get_monotonic_time ();
	for (guint i = 1; i < events->len; i += APPEND_CHUNK) {
		g_autoptr (GPtrArray) chunk = g_ptr_array_new ();

		for (guint k = i; k < MIN (i + APPEND_CHUNK, events->len); k++)
			g_ptr_array_add (chunk, g_ptr_array_index (events, k));
		if (!tandem_store_append_events (store, def, chunk, &error))
			g_error ("%s", error->message);
	}
	if (!tandem_store_flush (store, NULL, &error))
		g_error ("%s", error->message);
	seconds = (g_get_monotonic_time () - start) / 1e6;

	count_json =
		tandem_store_query (store, "SELECT COUNT(*) AS n FROM evt_temperaturestream_1_0_0",
				    1, 60000, &error);
	if (count_json == NULL)
		g_error ("%s", error->message);
	tandem_node_stop (node);
	g_print ("rows=%d seconds=%.3f rows_per_s=%.0f count=%s node_id=%s\n", rows - 1, seconds,
		 (rows - 1) / seconds, count_json, tandem_node_get_id (node));
	return 0;
}
