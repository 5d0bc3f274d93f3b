/* tandemd.c: the Tandem daemon: options, config, plugins, main loop
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Daemon"

#include "config.h"

#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib/gi18n.h>

#include <tandem.h>

#include "tandem-api.h"
#include "tandem-sd-notify.h"

typedef struct {
	char *config_path;
	gboolean config_explicit;
	char *state_dir;
	gboolean witness;
	int verbosity;
	TandemPluginRegistry *registry;
	TandemNode *node;
	TandemApi *api;
	GMainLoop *loop;
	int exit_signal;
} Daemon;

static void
daemon_clear (Daemon *d)
{
	g_clear_object (&d->api);
	g_clear_object (&d->node);
	g_clear_object (&d->registry);
	g_clear_pointer (&d->loop, g_main_loop_unref);
	g_clear_pointer (&d->config_path, g_free);
	g_clear_pointer (&d->state_dir, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Daemon, daemon_clear)

static int verbosity;

static gboolean
on_verbose (const char *option, const char *value, gpointer data, GError **error)
{
	verbosity++;
	return TRUE;
}

static TandemLogLevel
effective_level (TandemLogLevel configured)
{
	int level = MAX ((int) configured, (int) TANDEM_LOG_LEVEL_MESSAGE + verbosity);

	return (TandemLogLevel) MIN (level, (int) TANDEM_LOG_LEVEL_DEBUG);
}

static void
print_error_lines (const char *message)
{
	g_auto(GStrv) lines = g_strsplit (message, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++)
		g_printerr ("tandemd: %s\n", lines[i]);
}

static int
list_plugins (TandemPluginRegistry *registry)
{
	GPtrArray *plugins = tandem_plugin_registry_get_plugins (registry);
	const char *const *path = tandem_plugin_registry_get_search_path (registry);
	guint usable = 0;

	g_print ("%s\n", _("Search path (TANDEM_PLUGIN_PATH, then the installed plugins directory):"));
	for (guint i = 0; path[i] != NULL; i++)
		g_print ("  %s%s\n", path[i], g_file_test (path[i], G_FILE_TEST_IS_DIR) ? "" : _(" (missing)"));
	g_print ("\n%-20s %-11s %-10s %s\n", _("NAME"), _("KIND"), _("VERSION"), _("FILE"));
	for (guint i = 0; i < plugins->len; i++) {
		TandemPluginInfo *info = g_ptr_array_index (plugins, i);
		g_autoptr(GError) error = NULL;

		if (!tandem_plugin_info_check (info, &error))
			continue;
		usable++;
		g_print ("%-20s %-11s %-10s %s\n", tandem_plugin_info_get_name (info),
			 tandem_plugin_kind_to_string (tandem_plugin_info_get_kind (info)),
			 tandem_plugin_info_get_version (info), tandem_plugin_info_get_filename (info));
	}
	if (usable == 0)
		g_print ("%s\n", _("(no usable plugins)"));
	for (guint i = 0; i < plugins->len; i++) {
		TandemPluginInfo *info = g_ptr_array_index (plugins, i);
		g_autoptr(GError) error = NULL;

		if (!tandem_plugin_info_check (info, &error))
			g_print ("refused: %s\n", error->message);
	}
	return EXIT_SUCCESS;
}

static TandemConfig *
load_config (Daemon *d, GError **error)
{
	g_autoptr(TandemConfig) config = tandem_config_new ();

	if (!d->config_explicit && !g_file_test (d->config_path, G_FILE_TEST_EXISTS)) {
		g_message ("No config file at %s: using the defaults", d->config_path);
		return g_steal_pointer (&config);
	}
	if (!tandem_config_load_file (config, d->config_path, error))
		return NULL;
	return g_steal_pointer (&config);
}

static TandemNode *
configure_node (Daemon *d, TandemConfig *config, GError **error)
{
	g_autoptr(TandemNode) node = tandem_node_new (config, d->registry);

	if (d->state_dir != NULL)
		tandem_node_set_state_dir (node, d->state_dir);
	tandem_node_set_witness (node, d->witness);
	if (!tandem_node_configure (node, error))
		return NULL;
	return g_steal_pointer (&node);
}

/* Configures the node, then the REST API ([api], which the node leaves to
 * the daemon); the errors of both are reported together. */
static gboolean
configure_all (Daemon *d, TandemConfig *config, TandemNode **node, TandemApi **api, GError **error)
{
	g_autoptr(GError) node_error = NULL;
	g_autoptr(GError) api_error = NULL;
	g_autoptr(TandemNode) new_node = configure_node (d, config, &node_error);
	g_autoptr(TandemApi) new_api = tandem_api_new ();

	if (!tandem_api_configure (new_api, config, &api_error) && node_error != NULL) {
		g_set_error (error, node_error->domain, node_error->code, "%s\n%s",
			     node_error->message, api_error->message);
		return FALSE;
	}
	if (node_error != NULL) {
		g_propagate_error (error, g_steal_pointer (&node_error));
		return FALSE;
	}
	if (api_error != NULL) {
		g_propagate_error (error, g_steal_pointer (&api_error));
		return FALSE;
	}
	*node = g_steal_pointer (&new_node);
	*api = g_steal_pointer (&new_api);
	return TRUE;
}

static void
log_config_warnings (TandemConfig *config)
{
	GPtrArray *warnings = tandem_config_get_warnings (config);

	for (guint i = 0; i < warnings->len; i++)
		g_warning ("%s", (const char *) g_ptr_array_index (warnings, i));
}

static char *
section_text (TandemConfigSection *section, const char *skip_key)
{
	g_auto(GStrv) keys = NULL;
	GString *text = g_string_new (NULL);

	if (section == NULL)
		return g_string_free (text, FALSE);
	keys = tandem_config_section_dup_keys (section);
	for (guint i = 0; keys[i] != NULL; i++) {
		if (g_strcmp0 (keys[i], skip_key) == 0)
			continue;
		g_string_append_printf (text, "%s=%s\n", keys[i],
					tandem_config_section_get_value (section, keys[i]));
	}
	return g_string_free (text, FALSE);
}

/* Names what changed in a reloaded config that only a restart applies. */
static void
report_restart_needed (TandemConfig *old, TandemConfig *new)
{
	TandemConfig *configs[] = { old, new };

	for (guint c = 0; c < G_N_ELEMENTS (configs); c++) {
		GPtrArray *sections = tandem_config_get_sections (configs[c]);

		for (guint i = 0; i < sections->len; i++) {
			const char *name = tandem_config_section_get_name (g_ptr_array_index (sections, i));
			const char *skip = g_strcmp0 (name, "node") == 0 ? "log_level" : NULL;
			g_autofree char *a = NULL;
			g_autofree char *b = NULL;

			if (c == 1 && tandem_config_get_section (old, name) != NULL)
				continue; /* compared in the first pass */
			a = section_text (tandem_config_get_section (old, name), skip);
			b = section_text (tandem_config_get_section (new, name), skip);
			if (g_strcmp0 (a, b) != 0)
				g_message ("Config of [%s] changed: it takes effect at the next restart", name);
		}
	}
}

static gboolean
on_reload (gpointer data)
{
	Daemon *d = data;
	g_autoptr(TandemConfig) config = NULL;
	g_autoptr(TandemNode) check = NULL;
	g_autoptr(TandemApi) check_api = NULL;
	g_autoptr(GError) error = NULL;
	TandemLogLevel level;

	tandem_sd_notify ("RELOADING=1");
	g_message ("SIGHUP: reloading %s", d->config_path);
	config = load_config (d, &error);
	if (config == NULL || !configure_all (d, config, &check, &check_api, &error)) {
		g_warning ("Reload failed; keeping the running config:\n%s", error->message);
		tandem_sd_notify ("READY=1");
		return G_SOURCE_CONTINUE;
	}
	log_config_warnings (config);
	report_restart_needed (tandem_node_get_config (d->node), config);
	level = effective_level (tandem_node_get_log_level (check));
	if (level != tandem_log_get_level ()) {
		tandem_log_set_level (level);
		g_message ("Log level is now %s", tandem_log_level_to_string (level));
	}
	g_message ("Reloaded %s", d->config_path);
	tandem_sd_notify ("READY=1");
	return G_SOURCE_CONTINUE;
}

static gboolean
on_sigterm (gpointer data)
{
	Daemon *d = data;

	d->exit_signal = SIGTERM;
	g_main_loop_quit (d->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_sigint (gpointer data)
{
	Daemon *d = data;

	d->exit_signal = SIGINT;
	g_main_loop_quit (d->loop);
	return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
	g_auto(Daemon) d = { 0 };
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = NULL;
	g_autofree char *config_path = NULL;
	gboolean show_version = FALSE;
	gboolean opt_list_plugins = FALSE;
	gboolean check_config = FALSE;
	gboolean print_config = FALSE;
	GPtrArray *plugins;
	guint refused = 0;
	const GOptionEntry entries[] = {
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		  N_("Config file (default " TANDEM_CONFDIR "/tandem.conf); drop-ins are read from FILE.d/*.conf"),
		  N_("FILE") },
		{ "state-dir", 's', 0, G_OPTION_ARG_FILENAME, &d.state_dir,
		  N_("State directory (overrides [node] state_dir; default " TANDEM_STATEDIR ")"), N_("DIR") },
		{ "witness", 0, 0, G_OPTION_ARG_NONE, &d.witness,
		  N_("Run as the witness of a cluster ([cluster] arbiter = witness): vote on the lease, "
		     "take no events"),
		  NULL },
		{ "list-plugins", 0, 0, G_OPTION_ARG_NONE, &opt_list_plugins,
		  N_("List the plugins found, and why any was refused, then exit"), NULL },
		{ "check-config", 0, 0, G_OPTION_ARG_NONE, &check_config,
		  N_("Check the config and the plugins it enables, then exit (0 valid, 1 invalid)"), NULL },
		{ "print-config", 0, 0, G_OPTION_ARG_NONE, &print_config,
		  N_("Print the merged config with secrets masked, then exit"), NULL },
		{ "version", 0, 0, G_OPTION_ARG_NONE, &show_version, N_("Print the version and exit"), NULL },
		{ "verbose", 'v', G_OPTION_FLAG_NO_ARG, G_OPTION_ARG_CALLBACK, (gpointer) on_verbose,
		  N_("Log more (-v: info, -vv: debug)"), NULL },
		G_OPTION_ENTRY_NULL,
	};

	setlocale (LC_ALL, "");
#ifdef ENABLE_NLS
	bindtextdomain (GETTEXT_PACKAGE, TANDEM_LOCALEDIR);
	bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
	textdomain (GETTEXT_PACKAGE);
#endif
	tandem_log_install_writer ();

	context = g_option_context_new (NULL);
	g_option_context_set_summary (context, _("Tandem: a highly available event analytics server."));
	g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse (context, &argc, &argv, &error)) {
		g_printerr ("tandemd: %s\n", error->message);
		g_printerr (_("Try 'tandemd --help' for more information.\n"));
		return EXIT_FAILURE;
	}
	if (argc > 1) {
		g_printerr (_("tandemd: unexpected argument '%s'\n"), argv[1]);
		return EXIT_FAILURE;
	}
	if (show_version) {
		g_print ("tandemd %s (plugin ABI %d.%d)\n", tandem_get_version (),
			 TANDEM_PLUGIN_ABI_MAJOR, TANDEM_PLUGIN_ABI_MINOR);
		return EXIT_SUCCESS;
	}
	tandem_log_set_level (effective_level (TANDEM_LOG_LEVEL_MESSAGE));

	d.registry = tandem_plugin_registry_new ();
	tandem_plugin_registry_scan (d.registry);
	if (opt_list_plugins)
		return list_plugins (d.registry);

	d.config_explicit = config_path != NULL;
	d.config_path = config_path != NULL ? g_strdup (config_path)
					    : g_build_filename (TANDEM_CONFDIR, "tandem.conf", NULL);
	config = load_config (&d, &error);
	if (config == NULL) {
		print_error_lines (error->message);
		return EXIT_FAILURE;
	}
	configure_all (&d, config, &d.node, &d.api, &error);
	log_config_warnings (config);
	if (print_config) {
		g_autofree char *text = tandem_config_to_string (config, TRUE);

		g_print ("%s", text);
		if (d.node == NULL)
			print_error_lines (error->message);
		return d.node != NULL ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	if (d.node == NULL) {
		print_error_lines (error->message);
		return EXIT_FAILURE;
	}
	if (check_config) {
		GPtrArray *files = tandem_config_get_files (config);

		g_print (_("Config is valid: %u file(s), %u plugin instance(s)\n"), files->len,
			 tandem_node_get_plugins (d.node)->len);
		return EXIT_SUCCESS;
	}

	tandem_log_set_level (effective_level (tandem_node_get_log_level (d.node)));
	plugins = tandem_plugin_registry_get_plugins (d.registry);
	for (guint i = 0; i < plugins->len; i++) {
		g_autoptr(GError) refusal = NULL;

		if (!tandem_plugin_info_check (g_ptr_array_index (plugins, i), &refusal)) {
			g_warning ("Plugin refused: %s", refusal->message);
			refused++;
		}
	}
	if (!tandem_node_open_state (d.node, &error)) {
		print_error_lines (error->message);
		return EXIT_FAILURE;
	}
	g_message ("Node %s of cluster '%s', state in %s", tandem_node_get_id (d.node),
		   tandem_node_get_cluster_name (d.node), tandem_node_get_state_dir (d.node));

	d.loop = g_main_loop_new (NULL, FALSE);
	g_unix_signal_add (SIGTERM, on_sigterm, &d);
	g_unix_signal_add (SIGINT, on_sigint, &d);
	g_unix_signal_add (SIGHUP, on_reload, &d);

	if (!tandem_node_start (d.node, &error)) {
		print_error_lines (error->message);
		return EXIT_FAILURE;
	}
	if (!tandem_api_start (d.api, d.node, &error)) {
		print_error_lines (error->message);
		tandem_node_stop (d.node);
		return EXIT_FAILURE;
	}
	g_message ("tandemd %s running: node %s, %u plugin instance(s), %u plugin file(s) refused",
		   tandem_get_version (), tandem_node_get_id (d.node),
		   tandem_node_get_plugins (d.node)->len, refused);
	{
		g_autofree char *status = g_strdup_printf ("READY=1\nSTATUS=node %s running\nMAINPID=%ld",
							   tandem_node_get_id (d.node), (long) getpid ());

		tandem_sd_notify (status);
	}

	g_main_loop_run (d.loop);

	tandem_sd_notify ("STOPPING=1");
	g_message ("%s: stopping", d.exit_signal == SIGINT ? "SIGINT" : "SIGTERM");
	tandem_api_stop (d.api);
	tandem_node_stop (d.node);
	g_message ("tandemd stopped");
	return EXIT_SUCCESS;
}
