/* tandemctl-persist.c: `tandemctl persist`, a snapshot of every plan now
 *
 *   tandemctl persist [--url URL] [--token-file FILE] [--config FILE] [--json]
 *
 * Asks `POST /api/v1/persist` of a running node's REST API
 * (daemon/tandem-api.c) and waits until every persister holds the
 * snapshots (docs/persistence.md).  Prints the sequence they include;
 * `--json` prints the answer as it came.  The node is found as `tandemctl
 * status` finds it (--url, --config, the default).
 *
 * Exit status: 0 persisted, 1 failure (the node cannot be reached, is not
 * active: 503, has no persister: 409, or a persister failed: 500), 2 usage
 * error.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Ctl"

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <tandem.h>

#include "tandemctl-persist.h"
#include "tandemctl-status.h"

#define EXIT_USAGE 2
#define PERSIST_PATH "/api/v1/persist"
/* a snapshot of large windows to a slow database takes a while */
#define TIMEOUT_S 300

static int
persist_usage (const char *prog, const char *message)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", message);
	g_printerr (_ ("Try '%s --help' for more information.\n"), prog);
	return EXIT_USAGE;
}

static int
persist_fail (const char *message)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", message);
	return EXIT_FAILURE;
}

int
tandemctl_persist (int argc, char **argv)
{
	g_autofree char *url_option = NULL;
	g_autofree char *token_file = NULL;
	g_autofree char *config_path = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
		{ "url", 'u', 0, G_OPTION_ARG_STRING, &url_option,
		  N_ ("The node's REST API (default: from --config, else http://127.0.0.1:9764)"),
		  N_ ("URL") },
		{ "token-file", 't', 0, G_OPTION_ARG_FILENAME, &token_file,
		  N_ ("A file holding the API's bearer token (default: [api] token_file of --config)"),
		  N_ ("FILE") },
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		  N_ ("The node's config: its [api] section gives the URL and the token file"),
		  N_ ("FILE") },
		{ "json", 'j', 0, G_OPTION_ARG_NONE, &json, N_ ("Print the node's answer as JSON"),
		  NULL },
		G_OPTION_ENTRY_NULL,
	};
	g_autoptr (GOptionContext) context = g_option_context_new (NULL);
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) body = NULL;
	g_autoptr (JsonParser) parser = NULL;
	g_autofree char *url = NULL;
	g_autofree char *token = NULL;
	const char *prog = argv[0];
	const char *data;
	gsize size = 0;

	g_option_context_set_summary (
		context,
		_ ("Takes a snapshot of every execution plan of a running node at one point of its\n"
		   "sequence and saves it with every persister ([persister.NAME]) now, as the\n"
		   "periodic snapshots do (POST /api/v1/persist).  Returns once they hold it,\n"
		   "and prints the last sequence number the snapshot includes."));
	g_option_context_set_description (
		context,
		_ ("Examples:\n"
		   "  tandemctl persist --config /etc/tandem/tandem.conf\n"
		   "  tandemctl persist --url http://node1:9764 --token-file ~/.tandem-token\n"
		   "\n"
		   "Only the active node persists (or any node with [persistence] passive = true):\n"
		   "another answers 503.  A node without persisters answers 409; one whose\n"
		   "persister failed answers 500 and names it (the others saved the snapshot).\n"
		   "\n"
		   "Exit status: 0 persisted, 1 the node cannot be reached or refused, 2 usage\n"
		   "error."));
	g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse (context, &argc, &argv, &error))
		return persist_usage (prog, error->message);
	if (argc > 1) {
		g_autofree char *message =
			g_strdup_printf (_ ("unexpected argument '%s'"), argv[1]);

		return persist_usage (prog, message);
	}
	if (!tandemctl_api_target (url_option, token_file, config_path, &url, &token, &error)) {
		if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT))
			return persist_usage (prog, error->message);
		return persist_fail (error->message);
	}
	body = tandemctl_api_request (SOUP_METHOD_POST, url, PERSIST_PATH, token, TIMEOUT_S,
				      &error);
	if (token != NULL)
		explicit_bzero (token, strlen (token));
	if (body == NULL)
		return persist_fail (error->message);
	data = g_bytes_get_data (body, &size);
	parser = json_parser_new_immutable ();
	if (!json_parser_load_from_data (parser, data, (gssize) size, NULL) ||
	    !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
		g_autofree char *message =
			g_strdup_printf (_ ("%s%s: the answer is not a JSON object"), url,
					 PERSIST_PATH);

		return persist_fail (message);
	}
	if (json) {
		fwrite (data, 1, size, stdout);
		if (size == 0 || data[size - 1] != '\n')
			g_print ("\n");
	} else {
		JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
		g_autofree char *seq =
			g_strdup_printf ("%" G_GINT64_FORMAT,
					 json_object_get_int_member_with_default (obj, "seq", 0));

		g_print (_ ("Persisted: every plan up to seq %s\n"), seq);
	}
	if (fflush (stdout) != 0)
		return persist_fail (_ ("cannot write the output"));
	return EXIT_SUCCESS;
}
