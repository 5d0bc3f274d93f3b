/* test-plugin-registry.c: the plugin loader: discovery, checks, instances
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every test runs in its own subprocess: loaded plugin types are process-wide
 * (a GTypeModule is never unloaded), so two tests loading "fixture" from two
 * different copies would otherwise see each other.  The parent makes a
 * temporary directory for the test, passes it in $TANDEM_TEST_TMPDIR, and
 * removes it afterwards whatever happened.
 *
 * Tests never use the fixture files where meson built them: they copy them
 * into the temporary directory and set the mode explicitly, so that the
 * umask of the build does not matter.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <gmodule.h>

#include <tandem.h>

/* --- helpers ------------------------------------------------------------- */

static const char *
test_tmpdir (void)
{
	const char *dir = g_getenv ("TANDEM_TEST_TMPDIR");

	g_assert_nonnull (dir);
	g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
	return dir;
}

static char *
fixture_source (const char *fixture)
{
	const char *dir = g_getenv ("TANDEM_TEST_FIXTURES");
	g_autofree char *basename = g_strconcat (fixture, ".so", NULL);
	char *path;

	if (dir == NULL)
		g_error ("TANDEM_TEST_FIXTURES is not set: run this test with meson test");
	path = g_build_filename (dir, basename, NULL);
	g_assert_true (g_file_test (path, G_FILE_TEST_IS_REGULAR));
	return path;
}

/* Makes (and returns) the directory TMPDIR/NAME. */
static char *
make_dir (const char *name)
{
	char *path = g_build_filename (test_tmpdir (), name, NULL);

	g_assert_cmpint (g_mkdir (path, 0755), ==, 0);
	return path;
}

static void
write_file (const char *path, const char *contents, gsize length, mode_t mode)
{
	g_autoptr (GError) error = NULL;

	g_file_set_contents (path, contents, (gssize) length, &error);
	g_assert_no_error (error);
	/* Explicitly, whatever the umask. */
	g_assert_cmpint (g_chmod (path, mode), ==, 0);
}

/* Copies the content of fixture FIXTURE into DIR/BASENAME (FIXTURE.so if
 * BASENAME is NULL) with MODE, and returns the path of the copy. */
static char *
install_fixture (const char *fixture, const char *dir, const char *basename, mode_t mode)
{
	g_autofree char *source = fixture_source (fixture);
	g_autofree char *default_basename = g_strconcat (fixture, ".so", NULL);
	g_autofree char *contents = NULL;
	g_autoptr (GError) error = NULL;
	char *dest = g_build_filename (dir, basename != NULL ? basename : default_basename, NULL);
	GStatBuf st;
	gsize length = 0;

	g_file_get_contents (source, &contents, &length, &error);
	g_assert_no_error (error);
	write_file (dest, contents, length, mode);
	g_assert_cmpint (g_stat (dest, &st), ==, 0);
	g_assert_cmpuint (st.st_mode & 07777, ==, mode);
	return dest;
}

/* A registry searching exactly the NULL-terminated list of directories,
 * already scanned. */
static TandemPluginRegistry *scanned_registry (const char *first_dir, ...) G_GNUC_NULL_TERMINATED;

static TandemPluginRegistry *
scanned_registry (const char *first_dir, ...)
{
	TandemPluginRegistry *registry = tandem_plugin_registry_new ();
	g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
	g_auto (GStrv) dirs = NULL;
	const char *const *path;
	va_list args;

	va_start (args, first_dir);
	for (const char *dir = first_dir; dir != NULL; dir = va_arg (args, const char *))
		g_strv_builder_add (builder, dir);
	va_end (args);
	dirs = g_strv_builder_end (builder);

	tandem_plugin_registry_set_search_path (registry, (const char *const *) dirs);
	path = tandem_plugin_registry_get_search_path (registry);
	g_assert_nonnull (path);
	g_assert_true (g_strv_equal ((const char *const *) dirs, path));
	tandem_plugin_registry_scan (registry);
	return registry;
}

/* The entry of the last scan for the file PATH (usable or refused). */
static TandemPluginInfo *
info_for_file (TandemPluginRegistry *registry, const char *path)
{
	GPtrArray *plugins = tandem_plugin_registry_get_plugins (registry);

	g_assert_nonnull (plugins);
	for (guint i = 0; i < plugins->len; i++) {
		TandemPluginInfo *info = g_ptr_array_index (plugins, i);

		g_assert_true (TANDEM_IS_PLUGIN_INFO (info));
		if (g_strcmp0 (tandem_plugin_info_get_filename (info), path) == 0)
			return info;
	}
	g_test_message ("no entry for %s in the scan", path);
	return NULL;
}

/* Asserts that the file PATH was found and refused with CODE, and that the
 * reason names the file.  Returns the reason. */
static char *
assert_refused (TandemPluginRegistry *registry, const char *path, TandemError code)
{
	TandemPluginInfo *info = info_for_file (registry, path);
	g_autoptr (GError) error = NULL;

	g_assert_nonnull (info);
	g_assert_false (tandem_plugin_info_is_usable (info));
	g_assert_false (tandem_plugin_info_check (info, &error));
	g_assert_error (error, TANDEM_ERROR, (gint) code);
	g_test_message ("refused as expected: %s", error->message);
	g_assert_nonnull (strstr (error->message, path));
	return g_strdup (error->message);
}

static guint
count_usable (TandemPluginRegistry *registry)
{
	GPtrArray *plugins = tandem_plugin_registry_get_plugins (registry);
	guint usable = 0;

	for (guint i = 0; i < plugins->len; i++) {
		if (tandem_plugin_info_is_usable (g_ptr_array_index (plugins, i)))
			usable++;
	}
	return usable;
}

static char *
read_text (const char *path)
{
	g_autoptr (GError) error = NULL;
	char *contents = NULL;

	g_file_get_contents (path, &contents, NULL, &error);
	g_assert_no_error (error);
	return contents;
}

/* --- a usable plugin ------------------------------------------------------ */

static void
test_good_plugin (void)
{
	g_autofree char *path = install_fixture ("fixture-receiver", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autoptr (GError) error = NULL;
	TandemPluginInfo *info;
	GPtrArray *plugins;

	info = tandem_plugin_registry_lookup (registry, "fixture", &error);
	g_assert_no_error (error);
	g_assert_nonnull (info);

	g_assert_cmpstr (tandem_plugin_info_get_name (info), ==, "fixture");
	g_assert_cmpint (tandem_plugin_info_get_kind (info), ==, TANDEM_PLUGIN_KIND_RECEIVER);
	g_assert_cmpstr (tandem_plugin_info_get_version (info), ==, "1.2.3");
	g_assert_cmpstr (tandem_plugin_info_get_license (info), ==, "LGPL-2.1-or-later");
	g_assert_cmpstr (tandem_plugin_info_get_description (info), ==,
			 "Test fixture: a receiver that receives nothing and traces its lifecycle");
	g_assert_cmpstr (tandem_plugin_info_get_filename (info), ==, path);
	g_assert_cmpuint (tandem_plugin_info_get_abi_major (info), ==, TANDEM_PLUGIN_ABI_MAJOR);
	g_assert_cmpuint (tandem_plugin_info_get_abi_minor (info), ==, TANDEM_PLUGIN_ABI_MINOR);
	g_assert_true (tandem_plugin_info_is_usable (info));
	g_assert_true (tandem_plugin_info_check (info, &error));
	g_assert_no_error (error);

	plugins = tandem_plugin_registry_get_plugins (registry);
	g_assert_cmpuint (plugins->len, ==, 1);
	g_assert_true (g_ptr_array_index (plugins, 0) == info);
}

/* Built with hidden visibility, a fixture exports the entry point that
 * TANDEM_PLUGIN_DEFINE() defines, and nothing else of its own. */
static void
test_entry_point_exported (void)
{
	g_autofree char *path = fixture_source ("fixture-receiver");
	const TandemPluginDescriptor *(*describe) (void) = NULL;
	gpointer symbol = NULL;
	const TandemPluginDescriptor *descriptor;
	GModule *module;

	module = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
	if (module == NULL)
		g_error ("cannot open %s: %s", path, g_module_error ());

	g_assert_true (g_module_symbol (module, TANDEM_PLUGIN_ENTRY_POINT, (gpointer *) &describe));
	g_assert_nonnull (describe);
	g_assert_false (g_module_symbol (module, "fixture_receiver_get_type", &symbol));
	g_assert_null (symbol);

	descriptor = describe ();
	g_assert_nonnull (descriptor);
	g_assert_cmpuint (descriptor->abi_major, ==, TANDEM_PLUGIN_ABI_MAJOR);
	g_assert_cmpuint (descriptor->abi_minor, ==, TANDEM_PLUGIN_ABI_MINOR);
	g_assert_cmpuint (descriptor->struct_size, ==, sizeof (TandemPluginDescriptor));
	g_assert_cmpint (descriptor->kind, ==, TANDEM_PLUGIN_KIND_RECEIVER);
	g_assert_cmpstr (descriptor->name, ==, "fixture");
	g_assert_nonnull (descriptor->register_types);

	/* No type was registered from it: closing is allowed. */
	g_assert_true (g_module_close (module));
}

static void
test_create (void)
{
	g_autofree char *receiver_path =
		install_fixture ("fixture-receiver", test_tmpdir (), NULL, 0755);
	g_autofree char *store_path = install_fixture ("fixture-store", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autoptr (TandemPlugin) plugin = NULL;
	g_autoptr (TandemPlugin) second = NULL;
	g_autoptr (TandemPlugin) store = NULL;
	g_autoptr (GError) error = NULL;

	g_assert_cmpuint (count_usable (registry), ==, 2);

	plugin = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_RECEIVER,
						"main", NULL, &error);
	g_assert_no_error (error);
	g_assert_nonnull (plugin);
	g_assert_true (TANDEM_IS_RECEIVER (plugin));
	g_assert_cmpstr (G_OBJECT_TYPE_NAME (plugin), ==, "FixtureReceiver");
	g_assert_cmpstr (tandem_plugin_get_name (plugin), ==, "main");
	g_assert_cmpstr (tandem_plugin_get_plugin_name (plugin), ==, "fixture");
	g_assert_cmpint (tandem_plugin_get_kind (plugin), ==, TANDEM_PLUGIN_KIND_RECEIVER);
	g_assert_cmpint (tandem_plugin_get_state (plugin), ==, TANDEM_PLUGIN_STATE_NEW);
	g_assert_null (tandem_plugin_get_node (plugin));

	/* A second instance of the same plugin shares the type. */
	second = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_RECEIVER,
						"second", NULL, &error);
	g_assert_no_error (error);
	g_assert_nonnull (second);
	g_assert_true (plugin != second);
	g_assert_true (G_OBJECT_TYPE (plugin) == G_OBJECT_TYPE (second));
	g_assert_cmpstr (tandem_plugin_get_name (second), ==, "second");

	store = tandem_plugin_registry_create (registry, "fixture-store", TANDEM_PLUGIN_KIND_STORE,
					       "events", NULL, &error);
	g_assert_no_error (error);
	g_assert_nonnull (store);
	g_assert_true (TANDEM_IS_STORE (store));
	g_assert_false (TANDEM_IS_RECEIVER (store));
	g_assert_cmpstr (tandem_plugin_get_name (store), ==, "events");
	g_assert_cmpstr (tandem_plugin_get_plugin_name (store), ==, "fixture-store");
	g_assert_cmpint (tandem_plugin_get_kind (store), ==, TANDEM_PLUGIN_KIND_STORE);
}

/* Asking for a receiver plugin in a store section is refused, saying what
 * the plugin is. */
static void
test_create_wrong_kind (void)
{
	g_autofree char *path = install_fixture ("fixture-receiver", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autoptr (TandemPlugin) plugin = NULL;
	g_autoptr (GError) error = NULL;

	plugin = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_STORE,
						"main", NULL, &error);
	g_assert_null (plugin);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND);
	g_test_message ("refused as expected: %s", error->message);
	g_assert_nonnull (strstr (error->message, "'fixture'"));
	g_assert_nonnull (strstr (error->message, "receiver"));
	g_assert_nonnull (strstr (error->message, "store"));
}

/* The lifecycle of the fixtures, driven through the registry and a config
 * section, as the node does it; the trace file records each step. */
static void
test_fixture_lifecycle (void)
{
	g_autofree char *receiver_path =
		install_fixture ("fixture-receiver", test_tmpdir (), NULL, 0755);
	g_autofree char *store_path = install_fixture ("fixture-store", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autofree char *trace = g_build_filename (test_tmpdir (), "trace", NULL);
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (TandemPlugin) receiver = NULL;
	g_autoptr (TandemPlugin) store = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *data = NULL;
	g_autofree char *text = NULL;
	g_autofree char *trace_file = NULL;
	g_autofree char *mode = NULL;
	g_autofree char *token = NULL;
	g_autofree char *printed = NULL;
	TandemConfigSection *section;
	gboolean fail_start = TRUE;
	double ratio = 0.0;
	int port = 0;

	data = g_strdup_printf ("[receiver.main]\n"
				"plugin = fixture\n"
				"trace_file = %s\n"
				"port = 9090\n"
				"mode = strict\n"
				"token = s3cret\n"
				"ratio = 0.25\n"
				"\n"
				"[store.events]\n"
				"plugin = fixture-store\n"
				"trace_file = %s\n",
				trace, trace);
	g_assert_true (tandem_config_load_data (config, data, -1, "test.conf", &error));
	g_assert_no_error (error);

	receiver = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_RECEIVER,
						  "main", NULL, &error);
	g_assert_no_error (error);
	store = tandem_plugin_registry_create (registry, "fixture-store", TANDEM_PLUGIN_KIND_STORE,
					       "events", NULL, &error);
	g_assert_no_error (error);

	section = tandem_config_get_section (config, "receiver.main");
	g_assert_nonnull (section);
	g_assert_true (tandem_plugin_setup (receiver, section, &error));
	g_assert_no_error (error);
	g_assert_cmpint (tandem_plugin_get_state (receiver), ==, TANDEM_PLUGIN_STATE_CONFIGURED);
	g_object_get (receiver, "trace-file", &trace_file, "fail-start", &fail_start, "port", &port,
		      "mode", &mode, "token", &token, "ratio", &ratio, NULL);
	g_assert_cmpstr (trace_file, ==, trace);
	g_assert_false (fail_start);
	g_assert_cmpint (port, ==, 9090);
	g_assert_cmpstr (mode, ==, "strict");
	g_assert_cmpstr (token, ==, "s3cret");
	g_assert_cmpfloat_with_epsilon (ratio, 0.25, 1e-9);

	/* token is TANDEM_PARAM_SECRET: masked once the plugin has read it. */
	printed = tandem_config_to_string (config, TRUE);
	g_assert_null (strstr (printed, "s3cret"));
	g_assert_nonnull (strstr (printed, "port = 9090"));
	g_clear_pointer (&printed, g_free);
	printed = tandem_config_to_string (config, FALSE);
	g_assert_nonnull (strstr (printed, "s3cret"));

	section = tandem_config_get_section (config, "store.events");
	g_assert_nonnull (section);
	g_assert_true (tandem_plugin_setup (store, section, &error));
	g_assert_no_error (error);

	g_assert_true (tandem_plugin_start (store, &error));
	g_assert_no_error (error);
	g_assert_true (tandem_plugin_start (receiver, &error));
	g_assert_no_error (error);
	g_assert_cmpint (tandem_plugin_get_state (receiver), ==, TANDEM_PLUGIN_STATE_STARTED);
	g_assert_true (tandem_store_flush (TANDEM_STORE (store), NULL, &error));
	g_assert_no_error (error);
	g_assert_true (tandem_plugin_stop (receiver, &error));
	g_assert_no_error (error);
	g_assert_true (tandem_plugin_stop (store, &error));
	g_assert_no_error (error);
	g_assert_cmpint (tandem_plugin_get_state (receiver), ==, TANDEM_PLUGIN_STATE_STOPPED);

	text = read_text (trace);
	g_assert_cmpstr (text, ==,
			 "setup main\n"
			 "setup events\n"
			 "start events\n"
			 "start main\n"
			 "flush events\n"
			 "stop main\n"
			 "stop events\n");
}

static void
test_fixture_defaults_and_errors (void)
{
	g_autofree char *path = install_fixture ("fixture-receiver", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autofree char *trace = g_build_filename (test_tmpdir (), "trace", NULL);
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (TandemPlugin) defaults = NULL;
	g_autoptr (TandemPlugin) failing = NULL;
	g_autoptr (TandemPlugin) bad_mode = NULL;
	g_autoptr (TandemPlugin) bad_port = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *data = NULL;
	g_autofree char *text = NULL;
	g_autofree char *mode = NULL;
	g_autofree char *token = NULL;
	TandemConfigSection *section;
	double ratio = 0.0;
	int port = 0;

	data = g_strdup_printf ("[receiver.failing]\n" /* line 1 */
				"plugin = fixture\n"
				"trace_file = %s\n"
				"fail_start = true\n"
				"\n"
				"[receiver.bad-mode]\n" /* line 6 */
				"plugin = fixture\n"
				"mode = fancy\n" /* line 8 */
				"\n"
				"[receiver.bad-port]\n" /* line 10 */
				"plugin = fixture\n"
				"port = 70000\n", /* line 12 */
				trace);
	g_assert_true (tandem_config_load_data (config, data, -1, "test.conf", &error));
	g_assert_no_error (error);

	/* No section: every property keeps its default. */
	defaults = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_RECEIVER,
						  "defaults", NULL, &error);
	g_assert_no_error (error);
	g_assert_true (tandem_plugin_setup (defaults, NULL, &error));
	g_assert_no_error (error);
	g_object_get (defaults, "port", &port, "mode", &mode, "token", &token, "ratio", &ratio,
		      NULL);
	g_assert_cmpint (port, ==, 8080);
	g_assert_cmpstr (mode, ==, "normal");
	g_assert_null (token);
	g_assert_cmpfloat_with_epsilon (ratio, 0.5, 1e-9);

	/* fail_start: set up, then start fails and stop does nothing. */
	failing = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_RECEIVER,
						 "failing", NULL, &error);
	g_assert_no_error (error);
	section = tandem_config_get_section (config, "receiver.failing");
	g_assert_true (tandem_plugin_setup (failing, section, &error));
	g_assert_no_error (error);
	g_assert_false (tandem_plugin_start (failing, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
	g_assert_cmpstr (error->message, ==, "fixture: asked to fail");
	g_clear_error (&error);
	g_assert_cmpint (tandem_plugin_get_state (failing), ==, TANDEM_PLUGIN_STATE_FAILED);
	g_assert_true (tandem_plugin_stop (failing, &error));
	g_assert_no_error (error);
	text = read_text (trace);
	g_assert_cmpstr (text, ==, "setup failing\n");

	/* mode is checked by the fixture's setup vfunc, located at its line. */
	bad_mode = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_RECEIVER,
						  "bad-mode", NULL, &error);
	g_assert_no_error (error);
	section = tandem_config_get_section (config, "receiver.bad-mode");
	g_assert_false (tandem_plugin_setup (bad_mode, section, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_cmpstr (error->message, ==,
			 "test.conf:8: key 'mode' in [receiver.bad-mode]: "
			 "expected normal or strict, got \"fancy\"");
	g_clear_error (&error);
	g_assert_cmpint (tandem_plugin_get_state (bad_mode), ==, TANDEM_PLUGIN_STATE_FAILED);

	/* port is checked by the core against the fixture's GParamSpec range. */
	bad_port = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_RECEIVER,
						  "bad-port", NULL, &error);
	g_assert_no_error (error);
	section = tandem_config_get_section (config, "receiver.bad-port");
	g_assert_false (tandem_plugin_setup (bad_port, section, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_test_message ("refused as expected: %s", error->message);
	g_assert_true (g_str_has_prefix (error->message,
					 "test.conf:12: key 'port' in [receiver.bad-port]"));
	g_assert_nonnull (strstr (error->message, "70000"));
}

/* --- refusals ------------------------------------------------------------ */

static void
test_not_a_plugin (void)
{
	g_autofree char *path = install_fixture ("fixture-not-plugin", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autofree char *reason = assert_refused (registry, path, TANDEM_ERROR_NOT_A_PLUGIN);

	g_assert_nonnull (strstr (reason, TANDEM_PLUGIN_ENTRY_POINT));
	g_assert_null (tandem_plugin_info_get_name (info_for_file (registry, path)));
	g_assert_cmpuint (count_usable (registry), ==, 0);
}

static void
test_text_file (void)
{
	static const char text[] = "This is not a shared object.\n";
	g_autofree char *path = g_build_filename (test_tmpdir (), "x.so", NULL);
	g_autoptr (TandemPluginRegistry) registry = NULL;
	g_autofree char *reason = NULL;

	write_file (path, text, sizeof text - 1, 0755);
	registry = scanned_registry (test_tmpdir (), NULL);
	reason = assert_refused (registry, path, TANDEM_ERROR_NOT_A_PLUGIN);
	g_assert_cmpuint (tandem_plugin_registry_get_plugins (registry)->len, ==, 1);
	g_assert_cmpuint (count_usable (registry), ==, 0);
}

static void
test_abi_major (void)
{
	g_autofree char *path = install_fixture ("fixture-abi-major", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autofree char *reason = assert_refused (registry, path, TANDEM_ERROR_ABI_MISMATCH);
	g_autofree char *plugin_abi =
		g_strdup_printf ("%d.%d", TANDEM_PLUGIN_ABI_MAJOR + 1, TANDEM_PLUGIN_ABI_MINOR);
	g_autofree char *core_abi =
		g_strdup_printf ("%d.%d", TANDEM_PLUGIN_ABI_MAJOR, TANDEM_PLUGIN_ABI_MINOR);
	g_autoptr (GError) error = NULL;
	TandemPluginInfo *info = info_for_file (registry, path);

	g_assert_nonnull (strstr (reason, plugin_abi));
	g_assert_nonnull (strstr (reason, core_abi));
	g_assert_cmpuint (tandem_plugin_info_get_abi_major (info), ==, TANDEM_PLUGIN_ABI_MAJOR + 1);
	g_assert_null (tandem_plugin_registry_lookup (registry, "abi-major", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND);
}

static void
test_abi_minor (void)
{
	g_autofree char *path = install_fixture ("fixture-abi-minor", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autofree char *reason = assert_refused (registry, path, TANDEM_ERROR_ABI_MISMATCH);
	g_autofree char *plugin_abi =
		g_strdup_printf ("%d.%d", TANDEM_PLUGIN_ABI_MAJOR, TANDEM_PLUGIN_ABI_MINOR + 1);
	g_autofree char *core_abi =
		g_strdup_printf ("%d.%d", TANDEM_PLUGIN_ABI_MAJOR, TANDEM_PLUGIN_ABI_MINOR);
	g_autoptr (GError) error = NULL;
	TandemPluginInfo *info = info_for_file (registry, path);

	g_assert_nonnull (strstr (reason, plugin_abi));
	g_assert_nonnull (strstr (reason, core_abi));
	g_assert_cmpuint (tandem_plugin_info_get_abi_minor (info), ==, TANDEM_PLUGIN_ABI_MINOR + 1);
	g_assert_null (tandem_plugin_registry_lookup (registry, "abi-minor", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND);
}

/* The same plugin name in two directories of the path: the first wins. */
static void
test_duplicate (void)
{
	g_autofree char *first_dir = make_dir ("first");
	g_autofree char *second_dir = make_dir ("second");
	g_autofree char *first = install_fixture ("fixture-receiver", first_dir, NULL, 0755);
	g_autofree char *second = install_fixture ("fixture-receiver", second_dir, NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (first_dir, second_dir, NULL);
	g_autofree char *reason = assert_refused (registry, second, TANDEM_ERROR_DUPLICATE_PLUGIN);
	g_autoptr (TandemPlugin) plugin = NULL;
	g_autoptr (GError) error = NULL;
	TandemPluginInfo *info;

	g_assert_nonnull (strstr (reason, first));
	g_assert_nonnull (strstr (reason, "'fixture'"));

	info = tandem_plugin_registry_lookup (registry, "fixture", &error);
	g_assert_no_error (error);
	g_assert_nonnull (info);
	g_assert_cmpstr (tandem_plugin_info_get_filename (info), ==, first);
	g_assert_true (info_for_file (registry, first) == info);
	g_assert_cmpuint (count_usable (registry), ==, 1);

	plugin = tandem_plugin_registry_create (registry, "fixture", TANDEM_PLUGIN_KIND_RECEIVER,
						"main", NULL, &error);
	g_assert_no_error (error);
	g_assert_true (TANDEM_IS_RECEIVER (plugin));
}

/* Files writable by group or others are refused without being loaded: the
 * marker fixture's constructor would record any dlopen(). */
static void
test_insecure (void)
{
	g_autofree char *marker = g_build_filename (test_tmpdir (), "marker", NULL);
	g_autofree char *insecure_dir = make_dir ("insecure");
	g_autofree char *secure_dir = make_dir ("secure");
	g_autofree char *group_writable =
		install_fixture ("fixture-marker", insecure_dir, "marker-group.so", 0775);
	g_autofree char *world_writable =
		install_fixture ("fixture-marker", insecure_dir, "marker-world.so", 0757);
	g_autoptr (TandemPluginRegistry) registry = NULL;
	g_autoptr (TandemPluginRegistry) control = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *reason = NULL;
	g_autofree char *secure = NULL;
	g_autofree char *text = NULL;

	g_setenv ("TANDEM_TEST_MARKER", marker, TRUE);

	registry = scanned_registry (insecure_dir, NULL);
	reason = assert_refused (registry, group_writable, TANDEM_ERROR_INSECURE_FILE);
	g_clear_pointer (&reason, g_free);
	reason = assert_refused (registry, world_writable, TANDEM_ERROR_INSECURE_FILE);
	g_assert_cmpuint (count_usable (registry), ==, 0);
	g_assert_null (tandem_plugin_registry_lookup (registry, "marker", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND);
	g_clear_error (&error);
	g_assert_false (g_file_test (marker, G_FILE_TEST_EXISTS));

	/* Control: the same file with a safe mode is loaded, and the marker
	 * shows it. */
	secure = install_fixture ("fixture-marker", secure_dir, NULL, 0755);
	control = scanned_registry (secure_dir, NULL);
	g_assert_nonnull (tandem_plugin_registry_lookup (control, "marker", &error));
	g_assert_no_error (error);
	text = read_text (marker);
	g_assert_cmpstr (text, ==, "loaded\n");
}

/* Only regular files ending in ".so" directly in a search directory count. */
static void
test_ignored_files (void)
{
	static const char readme[] = "Plugins live here.\n";
	g_autofree char *dir = make_dir ("plugins");
	g_autofree char *nested = NULL;
	g_autofree char *good = install_fixture ("fixture-receiver", dir, NULL, 0755);
	g_autofree char *disabled =
		install_fixture ("fixture-store", dir, "fixture-store.so.disabled", 0755);
	g_autofree char *other_suffix =
		install_fixture ("fixture-not-plugin", dir, "not-plugin.so.1", 0755);
	g_autofree char *readme_path = g_build_filename (dir, "README", NULL);
	g_autofree char *nested_store = NULL;
	g_autoptr (TandemPluginRegistry) registry = NULL;
	g_autoptr (GError) error = NULL;
	GPtrArray *plugins;

	write_file (readme_path, readme, sizeof readme - 1, 0644);
	nested = g_build_filename (dir, "nested", NULL);
	g_assert_cmpint (g_mkdir (nested, 0755), ==, 0);
	nested_store = install_fixture ("fixture-store", nested, NULL, 0755);

	registry = scanned_registry (dir, NULL);
	plugins = tandem_plugin_registry_get_plugins (registry);
	g_assert_cmpuint (plugins->len, ==, 1);
	g_assert_cmpstr (tandem_plugin_info_get_filename (g_ptr_array_index (plugins, 0)), ==,
			 good);
	g_assert_null (tandem_plugin_registry_lookup (registry, "fixture-store", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND);
}

static void
test_missing_dirs (void)
{
	g_autofree char *dir = make_dir ("plugins");
	g_autofree char *missing = g_build_filename (test_tmpdir (), "does-not-exist", NULL);
	g_autofree char *path = install_fixture ("fixture-receiver", dir, NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry =
		scanned_registry (missing, dir, "/nonexistent/tandem-test/plugins", NULL);
	g_autoptr (GError) error = NULL;
	TandemPluginInfo *info;

	g_assert_cmpuint (tandem_plugin_registry_get_plugins (registry)->len, ==, 1);
	info = tandem_plugin_registry_lookup (registry, "fixture", &error);
	g_assert_no_error (error);
	g_assert_cmpstr (tandem_plugin_info_get_filename (info), ==, path);
}

/* The descriptor says store but the type is a receiver: the file looks fine
 * until its types are registered, and then no instance is made. */
static void
test_wrong_kind_fixture (void)
{
	g_autofree char *path = install_fixture ("fixture-wrong-kind", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autoptr (TandemPlugin) plugin = NULL;
	g_autoptr (TandemPlugin) again = NULL;
	g_autoptr (GError) error = NULL;
	TandemPluginInfo *info;

	info = tandem_plugin_registry_lookup (registry, "wrong-kind", &error);
	g_assert_no_error (error);
	g_assert_cmpint (tandem_plugin_info_get_kind (info), ==, TANDEM_PLUGIN_KIND_STORE);

	plugin = tandem_plugin_registry_create (registry, "wrong-kind", TANDEM_PLUGIN_KIND_STORE,
						"w", NULL, &error);
	g_assert_null (plugin);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_A_PLUGIN);
	g_test_message ("refused as expected: %s", error->message);
	g_assert_nonnull (strstr (error->message, path));
	g_assert_nonnull (strstr (error->message, "FixtureWrongKind"));
	g_clear_error (&error);

	/* And it stays refused. */
	again = tandem_plugin_registry_create (registry, "wrong-kind", TANDEM_PLUGIN_KIND_STORE,
					       "w2", NULL, &error);
	g_assert_null (again);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_A_PLUGIN);
	g_assert_nonnull (strstr (error->message, path));
}

static void
test_bad_name (void)
{
	g_autofree char *path = install_fixture ("fixture-bad-name", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autofree char *reason = assert_refused (registry, path, TANDEM_ERROR_NOT_A_PLUGIN);

	g_assert_nonnull (strstr (reason, "\"Bad Name!\""));
	g_assert_cmpuint (count_usable (registry), ==, 0);
}

static void
test_not_found (void)
{
	g_autofree char *path = install_fixture ("fixture-receiver", test_tmpdir (), NULL, 0755);
	g_autoptr (TandemPluginRegistry) registry = scanned_registry (test_tmpdir (), NULL);
	g_autoptr (TandemPlugin) plugin = NULL;
	g_autoptr (GError) error = NULL;

	g_assert_null (tandem_plugin_registry_lookup (registry, "no-such-plugin", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND);
	g_test_message ("refused as expected: %s", error->message);
	g_assert_nonnull (strstr (error->message, "'no-such-plugin'"));
	/* It says what is available. */
	g_assert_nonnull (strstr (error->message, "fixture"));
	g_clear_error (&error);

	plugin = tandem_plugin_registry_create (registry, "no-such-plugin",
						TANDEM_PLUGIN_KIND_RECEIVER, "main", NULL, &error);
	g_assert_null (plugin);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND);
}

/* TANDEM_PLUGIN_PATH comes first, in order, then the installed directory. */
static void
test_env_path (void)
{
	g_autofree char *a = make_dir ("a");
	g_autofree char *b = make_dir ("b");
	g_autofree char *store = install_fixture ("fixture-store", a, NULL, 0755);
	g_autofree char *receiver = install_fixture ("fixture-receiver", b, NULL, 0755);
	g_autofree char *env = g_strjoin (":", a, b, NULL);
	const char *pluginsdir = g_getenv ("TANDEM_TEST_PLUGINSDIR");
	g_autoptr (TandemPluginRegistry) registry = NULL;
	g_autoptr (GError) error = NULL;
	const char *const *path;
	TandemPluginInfo *info;
	guint installed = G_MAXUINT;

	g_assert_nonnull (pluginsdir);
	g_setenv ("TANDEM_PLUGIN_PATH", env, TRUE);
	registry = tandem_plugin_registry_new ();

	path = tandem_plugin_registry_get_search_path (registry);
	g_assert_nonnull (path);
	g_assert_cmpuint (g_strv_length ((char **) path), >=, 3);
	g_assert_cmpstr (path[0], ==, a);
	g_assert_cmpstr (path[1], ==, b);
	for (guint i = 0; path[i] != NULL; i++) {
		if (g_strcmp0 (path[i], pluginsdir) == 0)
			installed = i;
	}
	g_assert_cmpuint (installed, >=, 2);
	g_assert_cmpuint (installed, !=, G_MAXUINT);

	tandem_plugin_registry_scan (registry);
	info = tandem_plugin_registry_lookup (registry, "fixture-store", &error);
	g_assert_no_error (error);
	g_assert_cmpstr (tandem_plugin_info_get_filename (info), ==, store);
	info = tandem_plugin_registry_lookup (registry, "fixture", &error);
	g_assert_no_error (error);
	g_assert_cmpstr (tandem_plugin_info_get_filename (info), ==, receiver);
}

/* --- running each test alone --------------------------------------------- */

typedef struct {
	const char *path;
	void (*func) (void);
} IsolatedTest;

static void
remove_tree (const char *path)
{
	g_autoptr (GDir) dir = NULL;
	const char *name;

	dir = g_dir_open (path, 0, NULL);
	if (dir != NULL) {
		while ((name = g_dir_read_name (dir)) != NULL) {
			g_autofree char *child = g_build_filename (path, name, NULL);

			if (g_file_test (child, G_FILE_TEST_IS_DIR) &&
			    !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
				remove_tree (child);
			else if (g_unlink (child) != 0)
				g_test_message ("cannot remove %s: %s", child, g_strerror (errno));
		}
	}
	if (g_rmdir (path) != 0)
		g_test_message ("cannot remove %s: %s", path, g_strerror (errno));
}

static void
run_isolated (gconstpointer data)
{
	const IsolatedTest *test = data;
	g_autoptr (GError) error = NULL;
	g_autofree char *tmpdir = NULL;

	if (g_test_subprocess ()) {
		test->func ();
		return;
	}

	tmpdir = g_dir_make_tmp ("tandem-test-registry-XXXXXX", &error);
	g_assert_no_error (error);
	g_setenv ("TANDEM_TEST_TMPDIR", tmpdir, TRUE);
	g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_INHERIT_STDERR);
	g_unsetenv ("TANDEM_TEST_TMPDIR");
	remove_tree (tmpdir);
	g_test_trap_assert_passed ();
}

static const IsolatedTest tests[] = {
	{ "/plugin-registry/good-plugin", test_good_plugin },
	{ "/plugin-registry/entry-point-exported", test_entry_point_exported },
	{ "/plugin-registry/create", test_create },
	{ "/plugin-registry/create-wrong-kind", test_create_wrong_kind },
	{ "/plugin-registry/fixture/lifecycle", test_fixture_lifecycle },
	{ "/plugin-registry/fixture/defaults-and-errors", test_fixture_defaults_and_errors },
	{ "/plugin-registry/refused/not-a-plugin", test_not_a_plugin },
	{ "/plugin-registry/refused/text-file", test_text_file },
	{ "/plugin-registry/refused/abi-major", test_abi_major },
	{ "/plugin-registry/refused/abi-minor", test_abi_minor },
	{ "/plugin-registry/refused/duplicate", test_duplicate },
	{ "/plugin-registry/refused/insecure", test_insecure },
	{ "/plugin-registry/refused/wrong-kind-fixture", test_wrong_kind_fixture },
	{ "/plugin-registry/refused/bad-name", test_bad_name },
	{ "/plugin-registry/ignored-files", test_ignored_files },
	{ "/plugin-registry/missing-dirs", test_missing_dirs },
	{ "/plugin-registry/not-found", test_not_found },
	{ "/plugin-registry/env-path", test_env_path },
};

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);

	if (!g_test_subprocess ()) {
		/* The user's own plugin path must not leak into the tests. */
		g_unsetenv ("TANDEM_PLUGIN_PATH");
		/* A failed child fails its test, and the others still run. */
		g_test_set_nonfatal_assertions ();
	}

	for (gsize i = 0; i < G_N_ELEMENTS (tests); i++)
		g_test_add_data_func (tests[i].path, &tests[i], run_isolated);

	return g_test_run ();
}
