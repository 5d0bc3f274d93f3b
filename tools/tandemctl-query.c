/* tandemctl-query.c: `tandemctl query`, a read-only SELECT on a record store
 *
 *   tandemctl query --store NAME|FILE [--config FILE] [--state-dir DIR]
 *                   [--limit N] [--timeout MS] SQL
 *
 * NAME is a [store.NAME] section of the config (tandemd's, by default): the
 * store is configured as tandemd would, not started, and asked with
 * tandem_store_query().  A FILE (a path: it has a '/', or exists) is an
 * SQLite database, read with the gda store plugin.  The rows are printed as
 * one JSON array of objects.  Only a single SELECT is accepted (the store
 * checks it, and runs it in a read-only session).
 *
 * Exit status: 0 success, 1 failure (a message on stderr), 2 usage error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Ctl"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>
#include <tandem.h>

#include "tandemctl-query.h"

#define EXIT_USAGE 2
#define DEFAULT_LIMIT 1000
#define DEFAULT_TIMEOUT_MS 30000

static int
query_usage (const char *prog, const char *message)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", message);
	g_printerr (_ ("Try '%s --help' for more information.\n"), prog);
	return EXIT_USAGE;
}

static int
query_fail (const GError *error)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", error->message);
	return EXIT_FAILURE;
}

static gboolean
is_database_file (const char *store)
{
	return strchr (store, '/') != NULL || g_file_test (store, G_FILE_TEST_EXISTS);
}

static TandemStore *
find_store (TandemNode *node, const char *name, GError **error)
{
	GPtrArray *plugins = tandem_node_get_plugins (node);
	g_autoptr (GString) names = g_string_new (NULL);

	for (guint i = 0; i < plugins->len; i++) {
		TandemPlugin *plugin = g_ptr_array_index (plugins, i);

		if (!TANDEM_IS_STORE (plugin))
			continue;
		if (g_str_equal (tandem_plugin_get_name (plugin), name))
			return TANDEM_STORE (plugin);
		g_string_append_printf (names, "%s[store.%s]", names->len > 0 ? ", " : "",
					tandem_plugin_get_name (plugin));
	}
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
		     "no enabled [store.%s] section (the config has %s)", name,
		     names->len > 0 ? names->str : "no store");
	return NULL;
}

int
tandemctl_query (int argc, char **argv)
{
	g_autofree char *store_name = NULL;
	g_autofree char *config_path = NULL;
	g_autofree char *state_dir = NULL;
	int limit = DEFAULT_LIMIT;
	int timeout_ms = DEFAULT_TIMEOUT_MS;
	const GOptionEntry entries[] = {
		{ "store", 's', 0, G_OPTION_ARG_STRING, &store_name,
		  N_ ("The store: a [store.NAME] section of the config, or an SQLite database file"),
		  N_ ("NAME|FILE") },
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		  N_ ("Config file (default " TANDEM_CONFDIR "/tandem.conf, with its drop-ins)"),
		  N_ ("FILE") },
		{ "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
		  N_ ("State directory (where a store's relative SQLite file is)"), N_ ("DIR") },
		{ "limit", 'n', 0, G_OPTION_ARG_INT, &limit,
		  N_ ("Print at most N rows (default 1000)"), N_ ("N") },
		{ "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_ms,
		  N_ ("Stop the query after MS milliseconds (default 30000)"), N_ ("MS") },
		G_OPTION_ENTRY_NULL,
	};
	g_autoptr (GOptionContext) context = g_option_context_new (_ ("SQL"));
	g_autoptr (GError) error = NULL;
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (TandemPluginRegistry) registry = NULL;
	g_autoptr (TandemNode) node = NULL;
	g_autofree char *json = NULL;
	const char *prog = argv[0];
	const char *section = "query";
	TandemStore *store;

	g_option_context_set_summary (
		context, _ ("Runs one read-only SELECT on a record store and prints the rows\n"
			    "as a JSON array of objects, one member per column."));
	g_option_context_set_description (
		context,
		_ ("Anything but a single SELECT is refused.  Examples:\n"
		   "  tandemctl query --store events \"SELECT * FROM evt_stocks_1_0_0 ORDER BY seq DESC\"\n"
		   "  tandemctl query --store /var/lib/tandem/tandem.db \"SELECT * FROM tandem_nodes\"\n"
		   "\n"
		   "Exit status: 0 success, 1 failure, 2 usage error."));
	g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse (context, &argc, &argv, &error))
		return query_usage (prog, error->message);
	if (store_name == NULL)
		return query_usage (prog, _ ("missing --store NAME|FILE"));
	if (argc < 2)
		return query_usage (prog, _ ("missing the SQL"));
	if (argc > 2)
		return query_usage (prog, _ ("give the SQL as one argument (quote it)"));
	if (limit <= 0 || timeout_ms <= 0)
		return query_usage (prog, _ ("--limit and --timeout must be positive"));

	if (is_database_file (store_name)) {
		g_autofree char *path = g_canonicalize_filename (store_name, NULL);
		g_autofree char *text = NULL;

		if (!g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
			g_set_error (&error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
				     "%s: no such database file", path);
			return query_fail (error);
		}
		/* a value of a key goes to the end of the line: no quoting */
		text = g_strdup_printf ("[store.%s]\nplugin = gda\ndatabase = %s\n", section, path);
		if (!tandem_config_load_data (config, text, -1, "<command line>", &error))
			return query_fail (error);
	} else {
		g_autofree char *path =
			config_path != NULL
				? g_strdup (config_path)
				: g_build_filename (TANDEM_CONFDIR, "tandem.conf", NULL);

		if (!tandem_config_load_file (config, path, &error))
			return query_fail (error);
		section = store_name;
	}
	registry = tandem_plugin_registry_new ();
	tandem_plugin_registry_scan (registry);
	node = tandem_node_new (config, registry);
	if (state_dir != NULL)
		tandem_node_set_state_dir (node, state_dir);
	/* sets every plugin up (nothing is opened or started) */
	if (!tandem_node_configure (node, &error))
		return query_fail (error);
	store = find_store (node, section, &error);
	if (store == NULL)
		return query_fail (error);
	json = tandem_store_query (store, argv[1], (guint) limit, (guint) timeout_ms, &error);
	if (json == NULL)
		return query_fail (error);
	g_print ("%s\n", json);
	return EXIT_SUCCESS;
}
