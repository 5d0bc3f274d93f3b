/* tandemctl-switchover.c: `tandemctl switchover`, hand the active role to the passive
 *
 *   tandemctl switchover [--url URL] [--token-file FILE] [--config FILE] [--json]
 *
 * Asks `POST /api/v1/switchover` of the active node's REST API
 * (daemon/tandem-api.c) and waits for the answer: the node drains, hands
 * its lease to the in-sync passive and follows it.  Prints the new active
 * node and its epoch; `--json` prints the answer as it came.  The node is
 * found as `tandemctl status` finds it (--url, --config, the default).
 *
 * Exit status: 0 the other node is active, 1 failure (the node cannot be
 * reached, refused: 409, or the switchover was aborted: 503), 2 usage error.
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

#include "tandemctl-status.h"
#include "tandemctl-switchover.h"

#define EXIT_USAGE 2
#define SWITCHOVER_PATH "/api/v1/switchover"
/* the node answers once the switchover is done: draining takes at most 5 s,
 * the hand-over at most the lease ttl and 1 s */
#define TIMEOUT_S 120

static int
switchover_usage (const char *prog, const char *message)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", message);
	g_printerr (_ ("Try '%s --help' for more information.\n"), prog);
	return EXIT_USAGE;
}

static int
switchover_fail (const char *message)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", message);
	return EXIT_FAILURE;
}

/* Text fit for a terminal: control characters become '?'. */
static char *
member_text (JsonObject *obj, const char *name)
{
	JsonNode *node = json_object_get_member (obj, name);
	char *text;

	if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
		return g_strdup ("?");
	if (json_node_get_value_type (node) == G_TYPE_INT64)
		return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
	if (json_node_get_value_type (node) != G_TYPE_STRING)
		return g_strdup ("?");
	text = g_strdup (json_node_get_string (node));
	for (char *p = text; *p != '\0'; p++) {
		if ((guchar) *p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return text;
}

int
tandemctl_switchover (int argc, char **argv)
{
	g_autofree char *url_option = NULL;
	g_autofree char *token_file = NULL;
	g_autofree char *config_path = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
		{ "url", 'u', 0, G_OPTION_ARG_STRING, &url_option,
		  N_ ("The active node's REST API (default: from --config, else http://127.0.0.1:9764)"),
		  N_ ("URL") },
		{ "token-file", 't', 0, G_OPTION_ARG_FILENAME, &token_file,
		  N_ ("A file holding the API's bearer token (default: [api] token_file of --config)"),
		  N_ ("FILE") },
		{ "config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path,
		  N_ ("The active node's config: its [api] section gives the URL and the token file"),
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
		_ ("Hands the active role of a cluster to its passive node, with nothing lost\n"
		   "or published twice (POST /api/v1/switchover on the active node).  The\n"
		   "active node refuses new events for a moment (clients get 503 with\n"
		   "Retry-After) until the passive holds every event, stops publishing, and\n"
		   "hands the lease over; the passive becomes active and the old active\n"
		   "follows it as the new passive.  Prints the new active node."));
	g_option_context_set_description (
		context,
		_ ("Examples:\n"
		   "  tandemctl switchover --config /etc/tandem/tandem.conf\n"
		   "  tandemctl switchover --url http://node1:9764 --token-file ~/.tandem-token\n"
		   "\n"
		   "Run it against the active node: a passive node answers 409 and names the\n"
		   "active one.  It is refused (409) when no passive node is in sync.\n"
		   "\n"
		   "Exit status: 0 the other node is active, 1 the node cannot be reached,\n"
		   "refused, or the switchover was aborted (this node stays active), 2 usage\n"
		   "error."));
	g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse (context, &argc, &argv, &error))
		return switchover_usage (prog, error->message);
	if (argc > 1) {
		g_autofree char *message =
			g_strdup_printf (_ ("unexpected argument '%s'"), argv[1]);

		return switchover_usage (prog, message);
	}
	if (!tandemctl_api_target (url_option, token_file, config_path, &url, &token, &error)) {
		if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT))
			return switchover_usage (prog, error->message);
		return switchover_fail (error->message);
	}
	body = tandemctl_api_request (SOUP_METHOD_POST, url, SWITCHOVER_PATH, token, TIMEOUT_S,
				      &error);
	if (token != NULL)
		explicit_bzero (token, strlen (token));
	if (body == NULL)
		return switchover_fail (error->message);
	data = g_bytes_get_data (body, &size);
	parser = json_parser_new_immutable ();
	if (!json_parser_load_from_data (parser, data, (gssize) size, NULL) ||
	    !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
		g_autofree char *message =
			g_strdup_printf (_ ("%s%s: the answer is not a JSON object"), url,
					 SWITCHOVER_PATH);

		return switchover_fail (message);
	}
	if (json) {
		fwrite (data, 1, size, stdout);
		if (size == 0 || data[size - 1] != '\n')
			g_print ("\n");
	} else {
		JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
		g_autofree char *active = member_text (obj, "active");
		g_autofree char *epoch = member_text (obj, "epoch");
		g_autofree char *previous = member_text (obj, "previous_active");

		g_print (_ ("Switchover done: %s is active (epoch %s); %s follows it as passive\n"),
			 active, epoch, previous);
	}
	if (fflush (stdout) != 0)
		return switchover_fail (_ ("cannot write the output"));
	return EXIT_SUCCESS;
}
