/* persist-bench.c: the time and size of persisting a plan holding 1M window
 * events, to files and to a database, and of restoring it
 *
 *   persist-bench [--events N] [--dir DIR] [--plugins DIR]
 *
 * A plan `from S#window.length(N) select ...` (the plan of bench/engine's
 * snapshot case) is filled with N events (1,000,000 by default).  Then,
 * each the median of 3 runs:
 *
 *   plan snapshot   tandem_plan_snapshot(): what the engine thread spends
 *   encode          tandem_snapshot_encode(): container and CRC32C
 *   file save       the file persister: temporary file, write, fsync,
 *                   rename, fsync of the directory, retention (keep 2)
 *   gda save        the gda persister on SQLite (its default provider): one
 *                   row in a BLOB column, committed (synchronous = FULL)
 *   file restore    load_latest from the file persister (read and checksum
 *                   check), tandem_snapshot_decode(), tandem_plan_restore()
 *                   into a fresh plan
 *   node persist    the same through a running TandemNode:
 *                   tandem_node_persist_async() with the file persister,
 *                   from the call until the file is durable (the engine
 *                   thread's snapshot included)
 *
 * file_snapshot_1m_s = plan snapshot + encode + file save; likewise
 * gda_snapshot_1m_s.  Files go under --dir (default: a temporary directory
 * in $TMPDIR, removed at the end): run it on the disk you care about.
 * Plugins come from --plugins (the build tree's plugins/persisters; the
 * modules are copied to a private directory, as the loader wants).
 *
 * The last line:
 *   RESULT name=persist file_snapshot_1m_s=X gda_snapshot_1m_s=X
 *          snapshot_1m_bytes=N file_restore_1m_s=X ...
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <tandem.h>

#define PLAN_TEXT                                                                                  \
	"@Plan:name('Window1M')\n"                                                                 \
	"define stream S (symbol string, price double, volume long);\n"                            \
	"from S#window.length(%u) select symbol, price insert into O;\n"

static double
now_s (void)
{
	return g_get_monotonic_time () / (double) G_USEC_PER_SEC;
}

static int
compare_double (const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

static double
median3 (double *v)
{
	qsort (v, 3, sizeof (double), compare_double);
	return v[1];
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
copy_module (const char *from_dir, const char *name, const char *to_dir)
{
	g_autofree char *src = g_build_filename (from_dir, name, NULL);
	g_autofree char *dst = g_build_filename (to_dir, name, NULL);
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr (GError) error = NULL;

	if (!g_file_get_contents (src, &contents, &length, &error) ||
	    !g_file_set_contents_full (dst, contents, (gssize) length, G_FILE_SET_CONTENTS_NONE,
				       0755, &error))
		g_error ("cannot copy %s: %s", src, error->message);
	g_chmod (dst, 0755);
}

static TandemPersister *
persister_new (TandemPluginRegistry *registry, const char *plugin, const char *keys)
{
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autofree char *text =
		g_strdup_printf ("[persister.bench]\nplugin = %s\n%s", plugin, keys);
	g_autoptr (GError) error = NULL;
	TandemPlugin *p;

	if (!tandem_config_load_data (config, text, -1, "bench.conf", &error))
		g_error ("%s", error->message);
	p = tandem_plugin_registry_create (registry, plugin, TANDEM_PLUGIN_KIND_PERSISTER, "bench",
					   NULL, &error);
	if (p == NULL ||
	    !tandem_plugin_setup (p, tandem_config_get_section (config, "persister.bench"),
				  &error) ||
	    !tandem_plugin_start (p, &error))
		g_error ("persister %s: %s", plugin, error->message);
	return TANDEM_PERSISTER (p);
}

static TandemEvent *
make_event (TandemStreamDefinition *def, guint i)
{
	static const char *symbols[] = { "IBM",  "WSO2", "ORCL", "MSFT",
					 "GOOG", "AAPL", "AMZN", "META" };
	TandemEvent *e = tandem_event_new (def, 1700000000000 + i);

	tandem_event_set_string (e, 0, symbols[i % G_N_ELEMENTS (symbols)]);
	tandem_event_set_double (e, 1, 100.0 + (i % 1000) / 7.0);
	tandem_event_set_long (e, 2, (gint64) (i % 5000));
	tandem_event_set_identity (e, 1, i + 1);
	return e;
}

static TandemPlan *
filled_plan (guint n)
{
	g_autofree char *text = g_strdup_printf (PLAN_TEXT, n);
	g_autoptr (GError) error = NULL;
	TandemPlan *plan = tandem_plan_new (text, -1, &error);
	TandemStreamDefinition *def;

	if (plan == NULL)
		g_error ("%s", error->message);
	def = tandem_plan_lookup_stream (plan, "S");
	for (guint i = 0; i < n; i++) {
		g_autoptr (TandemEvent) e = make_event (def, i);

		if (!tandem_plan_send (plan, "S", e, &error))
			g_error ("%s", error->message);
	}
	return plan;
}

typedef struct {
	gboolean done;
	gboolean ok;
	guint64 seq;
	GError *error;
} Wait;

static void
on_persisted (GObject *source, GAsyncResult *result, gpointer data)
{
	Wait *w = data;

	w->ok = tandem_node_persist_finish (TANDEM_NODE (source), result, &w->seq, &w->error);
	w->done = TRUE;
}

/* The same plan in a node, fed through its sequenced ingest, persisted with
 * tandem_node_persist_async(): from the call until the file is durable. */
static double
node_persist (TandemPluginRegistry *registry, const char *dir, guint n)
{
	g_autofree char *plan_path = g_build_filename (dir, "plan.siddhiql", NULL);
	g_autofree char *plan = g_strdup_printf (PLAN_TEXT, n);
	g_autofree char *state = g_build_filename (dir, "node-state", NULL);
	g_autofree char *snaps = g_build_filename (dir, "node-snapshots", NULL);
	g_autofree char *text =
		g_strdup_printf ("[node]\nid = bench\n[engine]\nplans = %s\nqueue_size = 2000000\n"
				 "[persistence]\ninterval = 0\non_shutdown = false\n"
				 "[persister.files]\nplugin = file\ndirectory = %s\n",
				 plan_path, snaps);
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (TandemNode) node = NULL;
	g_autoptr (GError) error = NULL;
	TandemStreamDefinition *def;
	double t[3];

	g_file_set_contents (plan_path, plan, -1, NULL);
	if (!tandem_config_load_data (config, text, -1, "bench.conf", &error))
		g_error ("%s", error->message);
	node = tandem_node_new (config, registry);
	tandem_node_set_state_dir (node, state);
	if (!tandem_node_configure (node, &error) || !tandem_node_open_state (node, &error) ||
	    !tandem_node_start (node, &error))
		g_error ("node: %s", error->message);
	def = tandem_node_lookup_stream (node, "S");
	for (guint i = 0; i < n; i += 10000) {
		g_autoptr (GPtrArray) batch =
			g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);

		for (guint k = i; k < MIN (n, i + 10000); k++)
			g_ptr_array_add (batch, make_event (def, k));
		while (!tandem_node_ingest (node, "S", batch, NULL, NULL, NULL, NULL, &error)) {
			if (!g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_BUSY))
				g_error ("ingest: %s", error->message);
			g_clear_error (&error);
			tandem_node_wait_engine_idle (node);
		}
	}
	tandem_node_wait_engine_idle (node);
	for (guint r = 0; r < 3; r++) {
		Wait w = { 0 };
		double start = now_s ();

		tandem_node_persist_async (node, NULL, on_persisted, &w);
		while (!w.done)
			g_main_context_iteration (NULL, TRUE);
		t[r] = now_s () - start;
		if (!w.ok)
			g_error ("persist: %s", w.error->message);
	}
	tandem_node_stop (node);
	return median3 (t);
}

int
main (int argc, char **argv)
{
	guint n = 1000000;
	g_autofree char *dir_arg = NULL;
	g_autofree char *plugins_arg = NULL;
	GOptionEntry entries[] = {
		{ "events", 0, 0, G_OPTION_ARG_INT, &n, "Events in the window (default 1000000)",
		  "N" },
		{ "dir", 0, 0, G_OPTION_ARG_FILENAME, &dir_arg,
		  "Where the snapshots go (default: a temporary directory)", "DIR" },
		{ "plugins", 0, 0, G_OPTION_ARG_FILENAME, &plugins_arg,
		  "The build tree's plugins/persisters directory", "DIR" },
		{ NULL },
	};
	g_autoptr (GOptionContext) context =
		g_option_context_new ("- persist a plan holding 1M window events");
	g_autoptr (GError) error = NULL;
	g_autoptr (TandemPluginRegistry) registry = NULL;
	g_autoptr (TandemPlan) plan = NULL;
	g_autoptr (TandemPersister) files = NULL;
	g_autoptr (TandemPersister) gda = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *module_dir = NULL;
	g_autofree char *keys = NULL;
	double snap_t[3], encode_t[3], file_t[3], gda_t[3], restore_t[3];
	double fill_s, node_s;
	gsize payload_bytes = 0, bytes = 0;

	g_option_context_add_main_entries (context, entries, NULL);
	if (!g_option_context_parse (context, &argc, &argv, &error)) {
		g_printerr ("persist-bench: %s\n", error->message);
		return 2;
	}
	if (plugins_arg == NULL) {
		g_printerr (
			"persist-bench: --plugins DIR is required (build/plugins/persisters)\n");
		return 2;
	}
	dir = dir_arg != NULL
		      ? g_build_filename (dir_arg, "tandem-persist-bench-XXXXXX", NULL)
		      : g_build_filename (g_get_tmp_dir (), "tandem-persist-bench-XXXXXX", NULL);
	if (g_mkdtemp (dir) == NULL)
		g_error ("cannot create %s", dir);
	module_dir = g_build_filename (dir, "plugins", NULL);
	g_mkdir (module_dir, 0700);
	{
		g_autofree char *file_dir = g_build_filename (plugins_arg, "file", NULL);
		g_autofree char *gda_dir = g_build_filename (plugins_arg, "gda", NULL);
		const char *path[] = { module_dir, NULL };

		copy_module (file_dir, "tandem-file-persister.so", module_dir);
		copy_module (gda_dir, "tandem-gda-persister.so", module_dir);
		registry = tandem_plugin_registry_new ();
		tandem_plugin_registry_set_search_path (registry, path);
		tandem_plugin_registry_scan (registry);
	}
	keys = g_strdup_printf ("directory = %s/files\n", dir);
	files = persister_new (registry, "file", keys);
	g_free (keys);
	keys = g_strdup_printf ("database = %s/snapshots.db\n", dir);
	gda = persister_new (registry, "gda-persister", keys);

	{
		double start = now_s ();

		plan = filled_plan (n);
		fill_s = now_s () - start;
	}
	for (guint r = 0; r < 3; r++) {
		g_autoptr (GBytes) state = NULL;
		g_autoptr (GBytes) snap = NULL;
		g_autoptr (GBytes) loaded = NULL;
		g_autoptr (GBytes) payload = NULL;
		g_autoptr (TandemPlan) fresh = NULL;
		g_autofree char *text = g_strdup_printf (PLAN_TEXT, n);
		double start;

		start = now_s ();
		state = tandem_plan_snapshot (plan);
		snap_t[r] = now_s () - start;
		payload_bytes = g_bytes_get_size (state);

		start = now_s ();
		snap = tandem_snapshot_encode ("Window1M", 1, n, state);
		encode_t[r] = now_s () - start;
		bytes = g_bytes_get_size (snap);
		g_clear_pointer (&state, g_bytes_unref);

		start = now_s ();
		if (!tandem_persister_save (files, "bench", "Window1M", snap, &error))
			g_error ("file save: %s", error->message);
		file_t[r] = now_s () - start;

		start = now_s ();
		if (!tandem_persister_save (gda, "bench", "Window1M", snap, &error))
			g_error ("gda save: %s", error->message);
		gda_t[r] = now_s () - start;
		g_clear_pointer (&snap, g_bytes_unref);

		fresh = tandem_plan_new (text, -1, &error);
		start = now_s ();
		loaded = tandem_persister_load_latest (files, "bench", "Window1M", &error);
		if (loaded == NULL ||
		    !tandem_snapshot_decode (loaded, NULL, NULL, NULL, &payload, &error) ||
		    !tandem_plan_restore (fresh, payload, &error))
			g_error ("restore: %s", error != NULL ? error->message : "no snapshot");
		restore_t[r] = now_s () - start;
	}
	node_s = node_persist (registry, dir, n);

	{
		double snap_s = median3 (snap_t), encode_s = median3 (encode_t);
		double file_s = median3 (file_t), gda_s = median3 (gda_t),
		       restore_s = median3 (restore_t);
		double file_total = snap_s + encode_s + file_s,
		       gda_total = snap_s + encode_s + gda_s;

		g_print (
			"plan holding %u window events (filled in %.2f s); median of 3; files under %s\n",
			n, fill_s, dir);
		g_print ("  %-34s %8.3f s\n", "plan snapshot (engine thread)", snap_s);
		g_print ("  %-34s %8.3f s   %.0f MB/s\n", "encode (container + CRC32C)", encode_s,
			 bytes / encode_s / 1e6);
		g_print ("  %-34s %8.3f s   %.0f MB/s\n", "file save (write, fsync, rename)",
			 file_s, bytes / file_s / 1e6);
		g_print ("  %-34s %8.3f s   %.0f MB/s\n", "gda save (SQLite BLOB, commit)", gda_s,
			 bytes / gda_s / 1e6);
		g_print ("  %-34s %8.3f s   (target < 0.5 s)\n", "= file snapshot", file_total);
		g_print ("  %-34s %8.3f s\n", "= gda snapshot", gda_total);
		g_print ("  %-34s %8.3f s\n", "node persist (file, end to end)", node_s);
		g_print ("  %-34s %8.3f s\n", "file restore (load, check, restore)", restore_s);
		g_print ("  snapshot size %" G_GSIZE_FORMAT
			 " bytes (%.1f bytes/event; payload %" G_GSIZE_FORMAT ")\n",
			 bytes, bytes / (double) n, payload_bytes);
		g_print (
			"RESULT name=persist file_snapshot_1m_s=%.3f gda_snapshot_1m_s=%.3f snapshot_1m_bytes=%" G_GSIZE_FORMAT
			" file_restore_1m_s=%.3f plan_snapshot_1m_s=%.3f encode_1m_s=%.3f file_save_1m_s=%.3f "
			"gda_save_1m_s=%.3f node_persist_1m_s=%.3f\n",
			file_total, gda_total, bytes, restore_s, snap_s, encode_s, file_s, gda_s,
			node_s);
	}
	tandem_plugin_stop (TANDEM_PLUGIN (files), NULL);
	tandem_plugin_stop (TANDEM_PLUGIN (gda), NULL);
	rm_rf (dir);
	return 0;
}
