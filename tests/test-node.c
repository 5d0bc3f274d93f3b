/* test-node.c: node identity, state directory, plugin lifecycle order
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <tandem.h>

#include "tandem-test-util.h"

/* One copy of the fixture plugins for the whole process: a plugin's types
 * are process-wide, so every test uses the same files. */
static char *plugin_dir;

static char *
make_tmpdir (void)
{
	return tandem_test_make_tmpdir ("tandem-test-node-XXXXXX");
}

static TandemPluginRegistry *
fixture_registry (void)
{
	TandemPluginRegistry *registry = tandem_plugin_registry_new ();
	const char *path[] = { plugin_dir, NULL };

	tandem_plugin_registry_set_search_path (registry, path);
	tandem_plugin_registry_scan (registry);
	return registry;
}

static TandemNode *
node_from (const char *text, const char *state_dir)
{
	g_autoptr(TandemConfig) config = tandem_config_new ();
	g_autoptr(TandemPluginRegistry) registry = fixture_registry ();
	g_autoptr(GError) error = NULL;
	TandemNode *node;

	tandem_config_load_data (config, text, -1, "tandem.conf", &error);
	g_assert_no_error (error);
	node = tandem_node_new (config, registry);
	if (state_dir != NULL)
		tandem_node_set_state_dir (node, state_dir);
	return node;
}

static char *
read_trimmed (const char *path)
{
	g_autoptr(GError) error = NULL;
	char *contents = NULL;

	g_file_get_contents (path, &contents, NULL, &error);
	g_assert_no_error (error);
	return g_strstrip (contents);
}

static void
test_node_id_generated_and_stable (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *state = g_build_filename (dir, "deep", "state", NULL);
	g_autofree char *id_file = g_build_filename (state, "node-id", NULL);
	g_autofree char *first = NULL;
	g_autofree char *on_disk = NULL;
	g_autoptr(GError) error = NULL;

	{
		g_autoptr(TandemNode) node = node_from ("[node]\n", state);

		g_assert_null (tandem_node_get_id (node));
		g_assert_true (tandem_node_configure (node, &error));
		g_assert_true (tandem_node_open_state (node, &error));
		g_assert_no_error (error);
		first = g_strdup (tandem_node_get_id (node));
		g_assert_true (g_uuid_string_is_valid (first));
		g_assert_cmpstr (tandem_node_get_state_dir (node), ==, state);
	}
	on_disk = read_trimmed (id_file);
	g_assert_cmpstr (on_disk, ==, first);

	/* a restart (a new node on the same state directory) keeps the id */
	for (guint i = 0; i < 3; i++) {
		g_autoptr(TandemNode) node = node_from ("[node]\n", state);

		g_assert_true (tandem_node_configure (node, &error));
		g_assert_true (tandem_node_open_state (node, &error));
		g_assert_no_error (error);
		g_assert_cmpstr (tandem_node_get_id (node), ==, first);
	}
	tandem_test_rm_rf (dir);
}

static void
test_node_id_from_config_wins (void)
{
	g_autofree char *state = make_tmpdir ();
	g_autofree char *id_file = g_build_filename (state, "node-id", NULL);
	g_autofree char *kept = NULL;
	g_autoptr(GError) error = NULL;

	{
		g_autoptr(TandemNode) node = node_from ("[node]\nid = node-one\n", state);

		g_assert_true (tandem_node_configure (node, &error));
		g_assert_true (tandem_node_open_state (node, &error));
		g_assert_no_error (error);
		g_assert_cmpstr (tandem_node_get_id (node), ==, "node-one");
		/* an explicit id is not written over the state */
		g_assert_false (g_file_test (id_file, G_FILE_TEST_EXISTS));
	}
	g_file_set_contents (id_file, "9c7619a9-8460-465d-8fd0-7eab1c464386\n", -1, &error);
	g_assert_no_error (error);
	{
		g_autoptr(TandemNode) node = node_from ("[node]\nid = node-two\n", state);

		g_assert_true (tandem_node_configure (node, &error));
		g_assert_true (tandem_node_open_state (node, &error));
		g_assert_cmpstr (tandem_node_get_id (node), ==, "node-two");
	}
	kept = read_trimmed (id_file);
	g_assert_cmpstr (kept, ==, "9c7619a9-8460-465d-8fd0-7eab1c464386");
	{
		g_autoptr(TandemNode) node = node_from ("[node]\n", state);

		g_assert_true (tandem_node_configure (node, &error));
		g_assert_true (tandem_node_open_state (node, &error));
		g_assert_cmpstr (tandem_node_get_id (node), ==, "9c7619a9-8460-465d-8fd0-7eab1c464386");
	}
	tandem_test_rm_rf (state);
}

static void
test_node_id_corrupt (void)
{
	g_autofree char *state = make_tmpdir ();
	g_autofree char *id_file = g_build_filename (state, "node-id", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) node = node_from ("[node]\n", state);

	g_file_set_contents (id_file, "not an id; rm -rf /\n", -1, &error);
	g_assert_no_error (error);
	g_assert_true (tandem_node_configure (node, &error));
	g_assert_false (tandem_node_open_state (node, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR);
	g_assert_nonnull (strstr (error->message, id_file));
	g_assert_nonnull (strstr (error->message, "invalid node id"));
	g_assert_null (tandem_node_get_id (node));
	tandem_test_rm_rf (state);
}

static void
test_state_dir_not_creatable (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *file = g_build_filename (dir, "a-file", NULL);
	g_autofree char *state = g_build_filename (file, "state", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) node = node_from ("[node]\n", NULL);
	g_autofree char *config_text = NULL;

	g_file_set_contents (file, "x", -1, &error);
	g_assert_no_error (error);

	/* through the config key, as an operator would set it */
	config_text = g_strdup_printf ("[node]\nstate_dir = %s\n", state);
	g_clear_object (&node);
	node = node_from (config_text, NULL);
	g_assert_true (tandem_node_configure (node, &error));
	g_assert_cmpstr (tandem_node_get_state_dir (node), ==, state);
	g_assert_false (tandem_node_open_state (node, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR);
	g_assert_nonnull (strstr (error->message, state));
	g_assert_nonnull (strstr (error->message, "cannot be created"));
	tandem_test_rm_rf (dir);
}

static void
test_state_dir_not_writable (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) node = node_from ("[node]\n", dir);

	if (geteuid () == 0) {
		/* root writes through permission bits: use a read-only place
		 * that even root cannot write, /proc */
		g_clear_object (&node);
		node = node_from ("[node]\n", "/proc/self");
	} else {
		g_assert_cmpint (g_chmod (dir, 0500), ==, 0);
	}
	g_assert_true (tandem_node_configure (node, &error));
	g_assert_false (tandem_node_open_state (node, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR);
	g_assert_nonnull (strstr (error->message, "is not writable"));
	g_chmod (dir, 0700);
	tandem_test_rm_rf (dir);
}

static void
test_state_dir_locked (void)
{
	g_autofree char *state = make_tmpdir ();
	g_autofree char *pid = g_strdup_printf ("pid %ld", (long) getpid ());
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) first = node_from ("[node]\n", state);
	g_autoptr(TandemNode) second = node_from ("[node]\n", state);

	g_assert_true (tandem_node_configure (first, &error));
	g_assert_true (tandem_node_open_state (first, &error));
	g_assert_true (tandem_node_configure (second, &error));
	g_assert_false (tandem_node_open_state (second, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY);
	g_assert_nonnull (strstr (error->message, "in use by another node"));
	g_assert_nonnull (strstr (error->message, pid));
	g_clear_error (&error);

	/* once the first is gone, the directory is free again */
	g_clear_object (&first);
	g_clear_object (&second);
	second = node_from ("[node]\n", state);
	g_assert_true (tandem_node_configure (second, &error));
	g_assert_true (tandem_node_open_state (second, &error));
	g_assert_no_error (error);
	tandem_test_rm_rf (state);
}

static char *
lifecycle_config (const char *trace, const char *extra)
{
	return g_strdup_printf ("[receiver.r1]\nplugin = fixture\ntrace_file = %s\n"
				"[store.s1]\nplugin = fixture-store\ntrace_file = %s\n"
				"[receiver.r2]\nplugin = fixture\ntrace_file = %s\nport = 9000\n%s"
				"[store.s2]\nplugin = fixture-store\ntrace_file = %s\n"
				"[receiver.off]\nplugin = fixture\nenabled = false\ntrace_file = %s\n",
				trace, trace, trace, extra, trace, trace);
}

static void
test_start_stop_order (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *trace = g_build_filename (dir, "trace", NULL);
	g_autofree char *text = lifecycle_config (trace, "");
	g_autofree char *lines = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) node = node_from (text, state);
	GPtrArray *plugins;

	g_assert_true (tandem_node_configure (node, &error));
	g_assert_no_error (error);
	plugins = tandem_node_get_plugins (node);
	g_assert_cmpuint (plugins->len, ==, 4);
	g_assert_cmpstr (tandem_plugin_get_name (g_ptr_array_index (plugins, 0)), ==, "s1");
	g_assert_cmpstr (tandem_plugin_get_name (g_ptr_array_index (plugins, 3)), ==, "r2");
	g_assert_true (TANDEM_IS_STORE (g_ptr_array_index (plugins, 0)));
	g_assert_true (TANDEM_IS_RECEIVER (g_ptr_array_index (plugins, 3)));
	g_assert_true (tandem_node_open_state (node, &error));
	g_assert_true (tandem_node_start (node, &error));
	g_assert_no_error (error);
	for (guint i = 0; i < plugins->len; i++)
		g_assert_cmpint (tandem_plugin_get_state (g_ptr_array_index (plugins, i)), ==,
				 TANDEM_PLUGIN_STATE_STARTED);
	tandem_node_stop (node);
	for (guint i = 0; i < plugins->len; i++)
		g_assert_cmpint (tandem_plugin_get_state (g_ptr_array_index (plugins, i)), ==,
				 TANDEM_PLUGIN_STATE_STOPPED);
	/* stopping twice does nothing more */
	tandem_node_stop (node);

	g_file_get_contents (trace, &lines, NULL, &error);
	g_assert_no_error (error);
	/* setup in config order; start: stores, then receivers, each in config
	 * order; stop in exactly the reverse order */
	g_assert_cmpstr (lines, ==,
			 "setup r1\nsetup s1\nsetup r2\nsetup s2\n"
			 "start s1\nstart s2\nstart r1\nstart r2\n"
			 "stop r2\nstop r1\nstop s2\nstop s1\n");
	tandem_test_rm_rf (dir);
}

static void
test_start_failure_rolls_back (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *trace = g_build_filename (dir, "trace", NULL);
	g_autofree char *text = lifecycle_config (trace, "fail_start = true\n");
	g_autofree char *lines = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) node = node_from (text, state);

	g_assert_true (tandem_node_configure (node, &error));
	g_assert_true (tandem_node_open_state (node, &error));
	g_assert_false (tandem_node_start (node, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
	g_assert_nonnull (strstr (error->message, "cannot start [receiver.r2]"));
	g_clear_error (&error);

	g_file_get_contents (trace, &lines, NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (lines, ==,
			 "setup r1\nsetup s1\nsetup r2\nsetup s2\n"
			 "start s1\nstart s2\nstart r1\n"
			 "stop r1\nstop s2\nstop s1\n");
	tandem_test_rm_rf (dir);
}

static void
test_plugin_config_errors_located (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) node = node_from ("[receiver.a]\n"
						"plugin = fixture\n"
						"port = 70000\n"
						"mode = fast\n"
						"[receiver.b]\n"
						"plugin = fixture-store\n",
						NULL);

	g_assert_false (tandem_node_configure (node, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_nonnull (strstr (error->message, "tandem.conf:3: key 'port' in [receiver.a]: expected an integer 1-65535, got \"70000\""));
	g_assert_nonnull (strstr (error->message, "tandem.conf:6: key 'plugin' in [receiver.b]: plugin 'fixture-store'"));
	g_assert_nonnull (strstr (error->message, "is a store plugin, not a receiver plugin"));
}

static void
test_plugin_setup_error_located (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) node = node_from ("[receiver.a]\nplugin = fixture\nmode = fast\n", NULL);

	g_assert_false (tandem_node_configure (node, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_nonnull (strstr (error->message, "tandem.conf:3: key 'mode' in [receiver.a]:"));
}

static void
test_receiver_base_keys (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemNode) node = node_from ("[receiver.a]\nplugin = fixture\nduplicated_in_cluster = true\n"
						"[receiver.b]\nplugin = fixture\n",
						NULL);
	GPtrArray *plugins;

	g_assert_true (tandem_node_configure (node, &error));
	g_assert_no_error (error);
	plugins = tandem_node_get_plugins (node);
	g_assert_true (tandem_receiver_get_duplicated_in_cluster (g_ptr_array_index (plugins, 0)));
	g_assert_false (tandem_receiver_get_duplicated_in_cluster (g_ptr_array_index (plugins, 1)));
	g_assert_cmpuint (tandem_config_get_warnings (tandem_node_get_config (node))->len, ==, 0);
}


typedef struct {
	gboolean done;
	gboolean ok;
	guint64 first_seq;
	guint n_new;
	GError *error;
} IngestWait;

static void
on_ingested (GObject *source, GAsyncResult *result, gpointer data)
{
	IngestWait *w = data;

	w->ok = tandem_node_ingest_finish (TANDEM_NODE (source), result, &w->first_seq, &w->n_new, &w->error);
	w->done = TRUE;
}

static gboolean
ingest (TandemNode *node, const char *stream, GPtrArray *events, const char *const *ids, const char *key,
	guint64 *first_seq, guint *n_new, GError **error)
{
	IngestWait w = { 0 };

	tandem_node_ingest_async (node, stream, events, ids, key, NULL, on_ingested, &w);
	while (!w.done)
		g_main_context_iteration (NULL, TRUE);
	if (first_seq != NULL)
		*first_seq = w.first_seq;
	if (n_new != NULL)
		*n_new = w.n_new;
	if (w.error != NULL)
		g_propagate_error (error, w.error);
	return w.ok;
}

static GPtrArray *
stock_events (TandemNode *node, const char *const *symbols, const double *prices, guint n)
{
	TandemStreamDefinition *def = tandem_node_lookup_stream (node, "Stocks:1.0.0");
	GPtrArray *events = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);

	g_assert_nonnull (def);
	for (guint i = 0; i < n; i++) {
		TandemEvent *ev = tandem_event_new (def, 1000 + i);

		tandem_event_set_string (ev, 0, symbols[i]);
		tandem_event_set_double (ev, 1, prices[i]);
		g_ptr_array_add (events, ev);
	}
	return events;
}

static void
test_ingest_runs_plans (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *plans = g_build_filename (dir, "plans", NULL);
	g_autofree char *plan = g_build_filename (plans, "10-filter.siddhiql", NULL);
	g_autofree char *out = g_build_filename (dir, "outputs.jsonl", NULL);
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *text = NULL;
	g_autofree char *lines = NULL;
	g_autoptr(TandemNode) node = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) batch = NULL;
	g_autoptr(GPtrArray) again = NULL;
	const char *symbols[] = { "IBM", "WSO2", "ORCL" };
	const double prices[] = { 120.5, 5.0, 99.25 };
	const char *ids1[] = { "a", "b", "c", NULL };
	const char *ids2[] = { "c", "d", "e", NULL };
	guint64 first = 0;
	guint n_new = 0;

	g_assert_cmpint (g_mkdir (plans, 0755), ==, 0);
	g_file_set_contents (plan,
			     "@Plan:name('Filter')\n"
			     "@Import('Stocks:1.0.0')\n"
			     "define stream Stocks (symbol string, price double);\n"
			     "@info(name = 'dear')\n"
			     "from Stocks[price > 10.0] select symbol, price insert into Dear;\n",
			     -1, &error);
	g_assert_no_error (error);
	text = g_strdup_printf ("[engine]\nplans = %s\noutput_log = %s\nidempotency_window = 60\n", plans, out);
	node = node_from (text, state);
	g_assert_true (tandem_node_configure (node, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (tandem_node_get_plans (node)->len, ==, 1);
	g_assert_nonnull (tandem_node_lookup_stream (node, "Stocks"));
	g_assert_null (tandem_node_lookup_stream (node, "Stocks:2.0.0"));
	g_assert_true (tandem_node_open_state (node, &error));

	/* not running yet: refused, as a receiver would answer 503 */
	batch = stock_events (node, symbols, prices, 3);
	g_assert_false (tandem_node_is_accepting (node));
	g_assert_false (ingest (node, "Stocks", batch, NULL, NULL, NULL, NULL, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY);
	g_clear_error (&error);

	g_assert_true (tandem_node_start (node, &error));
	g_assert_true (tandem_node_is_accepting (node));
	g_assert_true (ingest (node, "Stocks:1.0.0", batch, ids1, "request-1", &first, &n_new, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (first, ==, 1);
	g_assert_cmpuint (n_new, ==, 3);
	g_assert_cmpuint (tandem_event_get_seq (g_ptr_array_index (batch, 2)), ==, 3);

	/* the same request again: acknowledged again, not ingested twice */
	g_assert_true (ingest (node, "Stocks", batch, ids1, "request-1", &first, &n_new, &error));
	g_assert_cmpuint (first, ==, 1);
	g_assert_cmpuint (n_new, ==, 0);

	/* per-event ids: c is a repeat (IBM is skipped), d and e are new
	 * (WSO2 gets 4 and is filtered out, ORCL gets 5) */
	again = stock_events (node, symbols, prices, 3);
	g_assert_true (ingest (node, "Stocks", again, ids2, NULL, &first, &n_new, &error));
	g_assert_cmpuint (first, ==, 3);
	g_assert_cmpuint (n_new, ==, 2);
	g_assert_cmpuint (tandem_node_get_last_seq (node), ==, 5);

	/* an unknown stream is refused */
	g_assert_false (ingest (node, "Nope", batch, NULL, NULL, NULL, NULL, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT);
	g_clear_error (&error);

	tandem_node_wait_engine_idle (node);
	g_assert_cmpuint (tandem_node_get_events_processed (node), ==, 5);
	tandem_node_stop (node);
	g_file_get_contents (out, &lines, NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (lines, ==,
			 "{\"plan\":\"Filter\",\"query\":\"dear\",\"stream\":\"Dear\",\"kind\":\"current\",\"timestamp\":1000,\"seq\":1,\"data\":[\"IBM\",120.5]}\n"
			 "{\"plan\":\"Filter\",\"query\":\"dear\",\"stream\":\"Dear\",\"kind\":\"current\",\"timestamp\":1002,\"seq\":3,\"data\":[\"ORCL\",99.25]}\n"
			 "{\"plan\":\"Filter\",\"query\":\"dear\",\"stream\":\"Dear\",\"kind\":\"current\",\"timestamp\":1002,\"seq\":5,\"data\":[\"ORCL\",99.25]}\n");
	tandem_test_rm_rf (dir);
}

static void
test_stores_get_events_and_outputs (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *plan = g_build_filename (dir, "window.siddhiql", NULL);
	g_autofree char *trace = g_build_filename (dir, "trace", NULL);
	g_autofree char *text = NULL;
	g_autofree char *lines = NULL;
	g_autoptr(TandemNode) node = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) batch = NULL;
	const char *symbols[] = { "A", "B", "C" };
	const double prices[] = { 1.0, 2.0, 3.0 };

	g_file_set_contents (plan,
			     "@Plan:name('Win')\n"
			     "define stream Stocks (symbol string, price double);\n"
			     "@info(name = 'last2')\n"
			     "from Stocks#window.length(2) select symbol, price insert all events into Last;\n",
			     -1, &error);
	g_assert_no_error (error);
	text = g_strdup_printf ("[engine]\nplans = %s\n"
				"[store.raw]\nplugin = fixture-store\nrole = events\ntrace_file = %s\n"
				"[store.results]\nplugin = fixture-store\nrole = outputs\ntrace_file = %s\n",
				plan, trace, trace);
	node = node_from (text, dir);
	g_assert_true (tandem_node_configure (node, &error));
	g_assert_no_error (error);
	g_assert_true (tandem_node_open_state (node, &error));
	g_assert_true (tandem_node_start (node, &error));
	batch = stock_events (node, symbols, prices, 3);
	g_assert_true (ingest (node, "Stocks", batch, NULL, NULL, NULL, NULL, &error));
	g_assert_no_error (error);
	/* stopping drains the engine into the stores before they stop */
	tandem_node_stop (node);
	g_file_get_contents (trace, &lines, NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (lines, ==,
			 "setup raw\nsetup results\nstart raw\nstart results\n"
			 "events raw Stocks 1-3\n"
			 "output results Win/last2 1.0 current [\"A\",1.0]\n"
			 "output results Win/last2 2.0 current [\"B\",2.0]\n"
			 "output results Win/last2 3.0 expired [\"A\",1.0]\n"
			 "output results Win/last2 3.1 current [\"C\",3.0]\n"
			 "stop results\nstop raw\n");
	tandem_test_rm_rf (dir);
}

typedef struct {
	char *trace;
	char *trace_at_answer; /* the store's trace when the answer came */
	gboolean done;
	gboolean ok;
	GError *error;
} DurableWait;

static void
on_durable (GObject *source, GAsyncResult *result, gpointer data)
{
	DurableWait *w = data;

	w->ok = tandem_node_ingest_finish (TANDEM_NODE (source), result, NULL, NULL, &w->error);
	g_file_get_contents (w->trace, &w->trace_at_answer, NULL, NULL);
	w->done = TRUE;
}

/* A started node with `[cluster] ack = durable`, a plan on Stocks, the
 * store [store.raw] (fixture-store keeping events, tracing to @trace, with
 * @store_extra keys) and its state in @dir/@state_name */
static TandemNode *
durable_node_start (const char *dir, const char *state_name, const char *cluster_extra, const char *trace,
		    const char *store_extra)
{
	g_autofree char *plan = g_build_filename (dir, "p.siddhiql", NULL);
	g_autofree char *state = g_build_filename (dir, state_name, NULL);
	g_autofree char *text = NULL;
	g_autoptr(GError) error = NULL;
	TandemNode *node;

	g_file_set_contents (plan, "define stream Stocks (symbol string, price double);\n"
				   "from Stocks select symbol insert into O;\n", -1, &error);
	g_assert_no_error (error);
	text = g_strdup_printf ("[cluster]\nack = durable\n%s[engine]\nplans = %s\n"
				"[store.raw]\nplugin = fixture-store\nrole = events\ntrace_file = %s\n%s"
				"[store.results]\nplugin = fixture-store\nrole = outputs\nflush_error = not asked\n",
				cluster_extra, plan, trace, store_extra);
	node = node_from (text, state);
	g_assert_true (tandem_node_configure (node, &error));
	g_assert_no_error (error);
	g_assert_true (tandem_node_open_state (node, &error));
	g_assert_true (tandem_node_start (node, &error));
	g_assert_no_error (error);
	return node;
}

/* tandem_node_ingest_async() of @batch, until @w says how it ended; with
 * @warns, a warning it logs is not fatal */
static void
durable_ingest (TandemNode *node, GPtrArray *batch, DurableWait *w, gboolean warns)
{
	GLogLevelFlags old_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);

	g_log_set_always_fatal (warns ? G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL : old_fatal);
	tandem_node_ingest_async (node, "Stocks", batch, NULL, NULL, NULL, on_durable, w);
	while (!w->done)
		g_main_context_iteration (NULL, TRUE);
	g_log_set_always_fatal (old_fatal);
}

/* [cluster] ack = durable: the answer comes once the stores keeping events
 * flushed after the events were handed to them; a flush that fails is the
 * answer's error (also logged as a warning) */
static void
test_durable_ack_waits_for_flush (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *trace = g_build_filename (dir, "trace", NULL);
	const char *symbols[] = { "A", "B", "C" };
	const double prices[] = { 1.0, 2.0, 3.0 };

	for (guint failing = 0; failing < 2; failing++) {
		g_autofree char *state = g_strdup_printf ("state%u", failing);
		g_autoptr(TandemNode) node = NULL;
		g_autoptr(GPtrArray) batch = NULL;
		g_autoptr(JsonNode) status = NULL;
		g_autoptr(GError) error = NULL;
		DurableWait w = { .trace = trace };
		const char *flushed;

		g_unlink (trace);
		node = durable_node_start (dir, state, "", trace, failing ? "flush_error = disk on fire\n" : "");
		g_assert_false (tandem_node_acks_at_acceptance (node));
		batch = stock_events (node, symbols, prices, 3);
		g_assert_false (tandem_node_ingest (node, "Stocks", batch, NULL, NULL, NULL, NULL, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED);

		durable_ingest (node, batch, &w, failing);
		status = tandem_node_dup_status (node);
		g_assert_cmpstr (json_object_get_string_member (json_node_get_object (status), "ack"), ==,
				 "durable");
		if (!failing) {
			g_assert_no_error (w.error);
			g_assert_true (w.ok);
			/* handed to the store, then flushed, then answered */
			flushed = strstr (w.trace_at_answer, "events raw Stocks 1-3\n");
			g_assert_nonnull (flushed);
			g_assert_nonnull (strstr (flushed, "flush raw\n"));
			g_assert_cmpint (json_object_get_int_member (json_node_get_object (status), "durable_seq"), >=,
					 3);
		} else {
			g_assert_false (w.ok);
			g_assert_error (w.error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
			g_assert_nonnull (strstr (w.error->message, "may not have kept the events up to seq 3"));
			g_assert_nonnull (strstr (w.error->message, "[store.raw]: disk on fire"));
			g_clear_error (&w.error);
		}
		tandem_node_stop (node);
		g_free (w.trace_at_answer);
	}
	tandem_test_rm_rf (dir);
}

/* ack = durable with an event store that does not confirm (a database
 * that hangs): the request fails with TIMED_OUT after durable_timeout_ms
 * (also logged as a warning), and stopping the node does not wait for the
 * store */
static void
test_durable_ack_times_out (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *trace = g_build_filename (dir, "trace", NULL);
	g_autoptr(TandemNode) node = NULL;
	g_autoptr(GPtrArray) batch = NULL;
	const char *symbols[] = { "A" };
	const double prices[] = { 1.0 };
	DurableWait w = { .trace = trace };
	gint64 start, took;

	node = durable_node_start (dir, "state", "durable_timeout_ms = 200\n", trace, "flush_delay_ms = 600000\n");
	batch = stock_events (node, symbols, prices, 1);
	start = g_get_monotonic_time ();
	durable_ingest (node, batch, &w, TRUE);
	took = g_get_monotonic_time () - start;
	g_assert_false (w.ok);
	g_assert_error (w.error, TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT);
	g_assert_nonnull (strstr (w.error->message, "did not confirm the events within 200 ms"));
	g_assert_cmpint (took, >=, 200 * 1000);
	g_assert_cmpint (took, <, 5 * G_USEC_PER_SEC);
	/* the flush still runs: stopping cancels it */
	start = g_get_monotonic_time ();
	tandem_node_stop (node);
	g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
	g_clear_error (&w.error);
	g_free (w.trace_at_answer);
	tandem_test_rm_rf (dir);
}

static void
test_sequence_survives_restarts (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *plan = g_build_filename (dir, "p.siddhiql", NULL);
	g_autofree char *text = NULL;
	g_autofree char *seq_file = g_build_filename (dir, "state", "sequence", NULL);
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	const char *symbols[] = { "A", "B" };
	const double prices[] = { 1.0, 2.0 };
	guint64 firsts[2] = { 0 };
	guint32 epochs[2] = { 0 };
	g_autoptr(GError) error = NULL;

	g_file_set_contents (plan, "define stream Stocks (symbol string, price double);\n"
				   "from Stocks select symbol insert into O;\n", -1, &error);
	g_assert_no_error (error);
	text = g_strdup_printf ("[engine]\nplans = %s\n", plan);
	for (guint run = 0; run < 2; run++) {
		g_autoptr(TandemNode) node = node_from (text, state);
		g_autoptr(GPtrArray) batch = NULL;

		g_assert_true (tandem_node_configure (node, &error));
		g_assert_true (tandem_node_open_state (node, &error));
		g_assert_true (tandem_node_start (node, &error));
		g_assert_no_error (error);
		batch = stock_events (node, symbols, prices, 2);
		g_assert_true (ingest (node, "Stocks", batch, NULL, NULL, &firsts[run], NULL, &error));
		epochs[run] = tandem_event_get_epoch (g_ptr_array_index (batch, 0));
		tandem_node_stop (node);
	}
	/* a restart (even after a crash) never gives a sequence number twice,
	 * and starts a new epoch */
	g_assert_cmpuint (firsts[0], ==, 1);
	g_assert_cmpuint (firsts[1], >, 2);
	g_assert_cmpuint (epochs[1], ==, epochs[0] + 1);
	g_assert_true (g_file_test (seq_file, G_FILE_TEST_IS_REGULAR));

	/* a damaged sequence file stops the node instead of reusing numbers */
	g_file_set_contents (seq_file, "garbage\n", -1, &error);
	{
		g_autoptr(TandemNode) node = node_from (text, state);

		g_assert_true (tandem_node_configure (node, &error));
		g_assert_false (tandem_node_open_state (node, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR);
		g_assert_nonnull (strstr (error->message, "must not be edited"));
	}
	tandem_test_rm_rf (dir);
}

static void
test_plan_errors_located (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *plan = g_build_filename (dir, "bad.siddhiql", NULL);
	g_autofree char *text = NULL;
	g_autofree char *expected = NULL;
	g_autoptr(TandemNode) node = NULL;
	g_autoptr(GError) error = NULL;

	g_file_set_contents (plan, "define stream S (a int);\nfrom S select b insert into T;\n", -1, &error);
	g_assert_no_error (error);
	text = g_strdup_printf ("[engine]\nplans = %s\nstreams = %s/missing.json\n", plan, dir);
	node = node_from (text, NULL);
	g_assert_false (tandem_node_configure (node, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	expected = g_strdup_printf ("%s:2:15: unknown attribute 'b'", plan);
	g_assert_nonnull (strstr (error->message, expected));
	g_assert_nonnull (strstr (error->message, "tandem.conf:3: key 'streams' in [engine]:"));
	tandem_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
	int rc;

	g_test_init (&argc, &argv, NULL);

	plugin_dir = make_tmpdir ();
	tandem_test_copy_fixture (plugin_dir, "fixture-receiver.so", NULL, 0755);
	tandem_test_copy_fixture (plugin_dir, "fixture-store.so", NULL, 0755);

	g_test_add_func ("/node/id-generated-and-stable", test_node_id_generated_and_stable);
	g_test_add_func ("/node/id-from-config-wins", test_node_id_from_config_wins);
	g_test_add_func ("/node/id-corrupt", test_node_id_corrupt);
	g_test_add_func ("/node/state-dir-not-creatable", test_state_dir_not_creatable);
	g_test_add_func ("/node/state-dir-not-writable", test_state_dir_not_writable);
	g_test_add_func ("/node/state-dir-locked", test_state_dir_locked);
	g_test_add_func ("/node/start-stop-order", test_start_stop_order);
	g_test_add_func ("/node/start-failure-rolls-back", test_start_failure_rolls_back);
	g_test_add_func ("/node/plugin-config-errors-located", test_plugin_config_errors_located);
	g_test_add_func ("/node/plugin-setup-error-located", test_plugin_setup_error_located);
	g_test_add_func ("/node/receiver-base-keys", test_receiver_base_keys);
	g_test_add_func ("/node/ingest-runs-plans", test_ingest_runs_plans);
	g_test_add_func ("/node/plan-errors-located", test_plan_errors_located);
	g_test_add_func ("/node/sequence-survives-restarts", test_sequence_survives_restarts);
	g_test_add_func ("/node/stores-get-events-and-outputs", test_stores_get_events_and_outputs);
	g_test_add_func ("/node/durable-ack-waits-for-flush", test_durable_ack_waits_for_flush);
	g_test_add_func ("/node/durable-ack-times-out", test_durable_ack_times_out);

	rc = g_test_run ();
	tandem_test_rm_rf (plugin_dir);
	g_free (plugin_dir);
	return rc;
}
