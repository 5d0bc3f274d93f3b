/* tandemctl-status.c: `tandemctl status`, a node's view of itself and its cluster
 *
 *   tandemctl status [--url URL] [--token-file FILE] [--config FILE] [--json]
 *
 * Asks `GET /api/v1/status` of a running tandemd's REST API (daemon/tandem-api.c)
 * and prints a summary: the node, its state and role, the members of the
 * cluster and the lease, as far as the answer has them; `--json` prints the
 * answer as it came.  The URL is --url, else the one `[api]` of --config
 * describes, else http://127.0.0.1:9764; the bearer token comes from
 * --token-file, else from `[api] token_file` of --config.
 *
 * Exit status: 0 success, 1 failure (the node cannot be reached, or answered
 * with an error), 2 usage error.
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

#include "tandem-api.h"
#include "tandemctl-status.h"

#define EXIT_USAGE 2
#define TIMEOUT_S 10
#define STATUS_PATH "/api/v1/status"

static int
status_usage (const char *prog, const char *message)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", message);
	g_printerr (_ ("Try '%s --help' for more information.\n"), prog);
	return EXIT_USAGE;
}

static int
status_fail (const char *message)
{
	fflush (stdout);
	g_printerr ("tandemctl: %s\n", message);
	return EXIT_FAILURE;
}

/* --- where the node is ----------------------------------------------------- */

/* The address a client connects to for an API listening on @address. */
static const char *
client_address (const char *address)
{
	if (g_str_equal (address, "0.0.0.0"))
		return "127.0.0.1";
	if (g_str_equal (address, "::"))
		return "::1";
	return address;
}

/* The URL and token that the [api] section of @path describes. */
static gboolean
from_config (const char *path, gboolean need_url, char **url, char **token, GError **error)
{
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (TandemApi) api = tandem_api_new ();

	if (!tandem_config_load_file (config, path, error) ||
	    !tandem_api_configure (api, config, error))
		return FALSE;
	if (need_url) {
		if (!tandem_api_get_enabled (api)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     _ ("%s: the REST API is disabled ([api] enabled = false)"),
				     path);
			return FALSE;
		}
		if (tandem_api_get_port (api) == 0) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     _ ("%s: [api] port is 0 (any free port): give --url "
					"(tandemd logs \"REST API listening on URL\")"),
				     path);
			return FALSE;
		}
		*url = tandem_api_format_url (client_address (tandem_api_get_address (api)),
					      tandem_api_get_port (api));
	}
	if (token != NULL && *token == NULL && tandem_api_get_token_file (api) != NULL) {
		*token = tandem_api_read_token_file (tandem_api_get_token_file (api), FALSE, error);
		if (*token == NULL)
			return FALSE;
	}
	return TRUE;
}

/* Checks --url: http or https, a host, no query; drops final slashes. */
static char *
check_url (const char *url, GError **error)
{
	g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
	g_autofree char *base = NULL;
	gsize len;

	if (uri == NULL ||
	    (g_strcmp0 (g_uri_get_scheme (uri), "http") != 0 &&
	     g_strcmp0 (g_uri_get_scheme (uri), "https") != 0) ||
	    g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0' ||
	    g_uri_get_query (uri) != NULL || g_uri_get_fragment (uri) != NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     _ ("--url: expected http://HOST:PORT (or https://), got \"%s\""), url);
		return NULL;
	}
	base = g_strdup (url);
	len = strlen (base);
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	return g_steal_pointer (&base);
}

static gboolean
is_loopback_host (const char *url)
{
	g_autoptr (GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
	g_autoptr (GInetAddress) address = NULL;
	const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;

	if (host == NULL)
		return FALSE;
	if (g_ascii_strcasecmp (host, "localhost") == 0)
		return TRUE;
	address = g_inet_address_new_from_string (host);
	return address != NULL && g_inet_address_get_is_loopback (address);
}

/* --- asking ---------------------------------------------------------------- */

static char *
describe_transport_error (const GError *error, guint timeout_s)
{
	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED))
		return g_strdup (_ ("connection refused"));
	if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
		return g_strdup_printf (_ ("no answer within %u s"), timeout_s);
	return g_strdup (error->message);
}

/* "HTTP 401 Unauthorized: the bearer token is not valid" from an error answer. */
static char *
describe_http_error (SoupMessage *msg, GBytes *body)
{
	guint status = soup_message_get_status (msg);
	const char *reason = soup_message_get_reason_phrase (msg);
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	gsize size = 0;
	const char *data = g_bytes_get_data (body, &size);
	GString *out = g_string_new (NULL);

	g_string_append_printf (out, "HTTP %u %s", status,
				reason != NULL && *reason != '\0'
					? reason
					: soup_status_get_phrase (status));
	if (size > 0 && json_parser_load_from_data (parser, data, (gssize) size, NULL) &&
	    JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
		JsonObject *obj = json_node_get_object (json_parser_get_root (parser));
		const char *detail =
			json_object_get_string_member_with_default (obj, "detail", NULL);
		const char *name = json_object_get_string_member_with_default (obj, "error", NULL);

		if (detail != NULL)
			g_string_append_printf (out, ": %s", detail);
		else if (name != NULL)
			g_string_append_printf (out, ": %s", name);
	}
	return g_string_free (out, FALSE);
}

/**
 * tandemctl_api_request:
 * @method: the HTTP method (%SOUP_METHOD_GET, %SOUP_METHOD_POST)
 * @base: the API's URL, http://HOST:PORT
 * @path: the resource, /api/v1/...
 * @token: (nullable): the bearer token
 * @timeout_s: how long to wait for the answer
 * @error: return location for a #GError: the node cannot be reached, or
 *   answered with something else than 200 (the message has the status and
 *   the answer's detail)
 *
 * Returns: (transfer full): the body of a 200 answer
 */
GBytes *
tandemctl_api_request (const char *method,
		       const char *base,
		       const char *path,
		       const char *token,
		       guint timeout_s,
		       GError **error)
{
	g_autoptr (SoupSession) session = NULL;
	g_autoptr (SoupMessage) msg = NULL;
	g_autoptr (GBytes) body = NULL;
	g_autoptr (GError) local_error = NULL;
	g_autofree char *url = g_strconcat (base, path, NULL);
	guint status;

	session = soup_session_new_with_options ("timeout", timeout_s, "user-agent",
						 "tandemctl/" PACKAGE_VERSION, NULL);
	/* a proxy from the environment has no business with a local node */
	if (is_loopback_host (base))
		soup_session_set_proxy_resolver (session, NULL);
	msg = soup_message_new (method, url);
	if (msg == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     _ ("not a valid URL: %s"), url);
		return NULL;
	}
	soup_message_headers_replace (soup_message_get_request_headers (msg), "Accept",
				      "application/json");
	if (token != NULL) {
		g_autofree char *value = g_strconcat ("Bearer ", token, NULL);

		soup_message_headers_replace (soup_message_get_request_headers (msg),
					      "Authorization", value);
		explicit_bzero (value, strlen (value));
	}
	body = soup_session_send_and_read (session, msg, NULL, &local_error);
	if (body == NULL) {
		g_autofree char *why = describe_transport_error (local_error, timeout_s);

		g_set_error (error, G_IO_ERROR, local_error->code, _ ("cannot reach %s: %s"), base,
			     why);
		return NULL;
	}
	status = soup_message_get_status (msg);
	if (status != SOUP_STATUS_OK) {
		g_autofree char *why = describe_http_error (msg, body);

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "%s: %s", url, why);
		return NULL;
	}
	return g_steal_pointer (&body);
}

/**
 * tandemctl_api_target:
 * @url_option: (nullable): --url
 * @token_file: (nullable): --token-file
 * @config_path: (nullable): --config
 * @url: (out): the API's URL: --url, else the one `[api]` of --config
 *   describes, else http://127.0.0.1:9764
 * @token: (out) (nullable): the bearer token: from --token-file, else from
 *   `[api] token_file` of --config, else %NULL
 * @error: return location for a #GError; %TANDEM_ERROR_INVALID_ARGUMENT for
 *   a bad --url (a usage error)
 *
 * How `tandemctl status` and the other commands that ask a node find it.
 *
 * Returns: %TRUE if @url (and @token) are set
 */
gboolean
tandemctl_api_target (const char *url_option,
		      const char *token_file,
		      const char *config_path,
		      char **url,
		      char **token,
		      GError **error)
{
	*url = NULL;
	*token = NULL;
	if (url_option != NULL) {
		*url = check_url (url_option, error);
		if (*url == NULL)
			return FALSE;
	}
	if (token_file != NULL) {
		*token = tandem_api_read_token_file (token_file, FALSE, error);
		if (*token == NULL) {
			g_clear_pointer (url, g_free);
			/* not a usage error */
			if (error != NULL && *error != NULL && (*error)->domain == TANDEM_ERROR &&
			    (*error)->code == TANDEM_ERROR_INVALID_ARGUMENT)
				(*error)->code = TANDEM_ERROR_FAILED;
			return FALSE;
		}
	}
	if (config_path != NULL && !from_config (config_path, *url == NULL, url, token, error)) {
		g_clear_pointer (url, g_free);
		g_clear_pointer (token, g_free);
		if (error != NULL && *error != NULL && (*error)->domain == TANDEM_ERROR &&
		    (*error)->code == TANDEM_ERROR_INVALID_ARGUMENT)
			(*error)->code = TANDEM_ERROR_FAILED;
		return FALSE;
	}
	if (*url == NULL)
		*url = tandem_api_format_url (TANDEM_API_DEFAULT_ADDRESS, TANDEM_API_DEFAULT_PORT);
	return TRUE;
}

/* --- printing -------------------------------------------------------------- */

/* Text fit for a terminal: control characters become '?'. */
static char *
sanitize (char *text)
{
	for (char *p = text; *p != '\0'; p++) {
		if ((guchar) *p < 0x20 || *p == 0x7f)
			*p = '?';
	}
	return text;
}

/* The member @name of @obj as text, or %NULL when it is missing or null. */
static char *
member_text (JsonObject *obj, const char *name)
{
	JsonNode *node = obj != NULL ? json_object_get_member (obj, name) : NULL;

	if (node == NULL || JSON_NODE_HOLDS_NULL (node))
		return NULL;
	if (JSON_NODE_HOLDS_VALUE (node)) {
		switch (json_node_get_value_type (node)) {
		case G_TYPE_STRING:
			return sanitize (g_strdup (json_node_get_string (node)));
		case G_TYPE_INT64:
			return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
		case G_TYPE_DOUBLE:
			return g_strdup_printf ("%g", json_node_get_double (node));
		case G_TYPE_BOOLEAN:
			return g_strdup (json_node_get_boolean (node) ? _ ("yes") : _ ("no"));
		default:
			break;
		}
	}
	return sanitize (json_to_string (node, FALSE));
}

static void
print_field (const char *label, char *value)
{
	if (value != NULL)
		g_print ("%-12s %s\n", label, value);
	g_free (value);
}

typedef struct {
	const char *member;
	const char *title;
	const char *suffix;
} Column;

static const Column member_columns[] = {
	{ "node_id", N_ ("NODE ID"), NULL },
	{ "role", N_ ("ROLE"), NULL },
	{ "state", N_ ("STATE"), NULL },
	{ "address", N_ ("ADDRESS"), NULL },
	{ "last_heartbeat_ms_ago", N_ ("LAST HEARTBEAT"), N_ (" ms ago") },
	{ "epoch", N_ ("EPOCH"), NULL },
};

static char *
cell_text (JsonNode *member, const Column *column)
{
	JsonObject *obj = JSON_NODE_HOLDS_OBJECT (member) ? json_node_get_object (member) : NULL;
	g_autofree char *text = member_text (obj, column->member);

	if (text == NULL)
		return NULL;
	if (column->suffix != NULL)
		return g_strconcat (text, _ (column->suffix), NULL);
	return g_steal_pointer (&text);
}

/* One line per member, with the columns some member has. */
static void
print_members (JsonArray *members)
{
	guint n = json_array_get_length (members);
	gsize width[G_N_ELEMENTS (member_columns)] = { 0 };
	gboolean present[G_N_ELEMENTS (member_columns)] = { FALSE };
	guint last = 0;

	if (n == 0) {
		g_print ("%-12s %s\n", _ ("Members"), _ ("none"));
		return;
	}
	for (guint c = 0; c < G_N_ELEMENTS (member_columns); c++) {
		width[c] = g_utf8_strlen (_ (member_columns[c].title), -1);
		present[c] = c == 0; /* the node id, "-" when missing */
		for (guint i = 0; i < n; i++) {
			g_autofree char *text =
				cell_text (json_array_get_element (members, i), &member_columns[c]);

			if (text != NULL) {
				present[c] = TRUE;
				width[c] = MAX (width[c], (gsize) g_utf8_strlen (text, -1));
			}
		}
		if (present[c])
			last = c;
	}
	g_print ("%s\n", _ ("Members"));
	for (gint i = -1; i < (gint) n; i++) {
		GString *line = g_string_new ("  ");

		for (guint c = 0; c <= last; c++) {
			g_autofree char *text = NULL;
			const char *shown;

			if (!present[c])
				continue;
			if (i < 0)
				shown = _ (member_columns[c].title);
			else {
				text = cell_text (json_array_get_element (members, (guint) i),
						  &member_columns[c]);
				shown = text != NULL ? text : "-";
			}
			g_string_append (line, shown);
			if (c < last) {
				for (gsize w = g_utf8_strlen (shown, -1); w < width[c] + 2; w++)
					g_string_append_c (line, ' ');
			}
		}
		g_print ("%s\n", line->str);
		g_string_free (line, TRUE);
	}
}

static void
print_lease (JsonObject *lease)
{
	g_autofree char *holder = member_text (lease, "holder");
	g_autofree char *epoch = member_text (lease, "epoch");
	g_autofree char *expires = member_text (lease, "expires_in_ms");
	g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
	g_autofree char *text = NULL;

	if (holder != NULL)
		g_ptr_array_add (parts, g_strdup_printf (_ ("held by %s"), holder));
	if (epoch != NULL)
		g_ptr_array_add (parts, g_strdup_printf (_ ("epoch %s"), epoch));
	if (expires != NULL)
		g_ptr_array_add (parts, g_strdup_printf (_ ("expires in %s ms"), expires));
	g_ptr_array_add (parts, NULL);
	text = g_strjoinv (", ", (char **) parts->pdata);
	g_print ("%-12s %s\n", _ ("Lease"), *text != '\0' ? text : _ ("(no details)"));
}

/* The snapshots (docs/persistence.md), when the node has persisters */
static void
print_persistence (JsonObject *p)
{
	JsonNode *enabled = json_object_get_member (p, "enabled");
	g_autofree char *seq = member_text (p, "last_success_seq");
	g_autofree char *error = member_text (p, "last_error");
	JsonNode *when = json_object_get_member (p, "last_success_ms");

	if (enabled == NULL || !JSON_NODE_HOLDS_VALUE (enabled) || !json_node_get_boolean (enabled))
		return;
	if (seq != NULL && when != NULL && JSON_NODE_HOLDS_VALUE (when)) {
		gint64 ago_s = MAX (g_get_real_time () / 1000 - json_node_get_int (when), 0) / 1000;
		g_autofree char *ago = g_strdup_printf ("%" G_GINT64_FORMAT, ago_s);

		print_field (_ ("Persisted"), g_strdup_printf (_ ("up to seq %s, %s s ago"), seq, ago));
	} else {
		print_field (_ ("Persisted"), g_strdup (_ ("not yet")));
	}
	if (error != NULL)
		print_field (_ ("Persist err"), g_steal_pointer (&error));
}

static void
print_summary (JsonObject *status)
{
	g_autofree char *state = member_text (status, "state");
	g_autofree char *role = member_text (status, "role");
	JsonNode *members = json_object_get_member (status, "members");
	JsonNode *lease = json_object_get_member (status, "lease");

	print_field (_ ("Node"), member_text (status, "node_id"));
	print_field (_ ("Cluster"), member_text (status, "cluster"));
	if (state != NULL && role != NULL)
		print_field (_ ("State"), g_strdup_printf (_ ("%s (role %s)"), state, role));
	else if (state != NULL || role != NULL)
		print_field (state != NULL ? _ ("State") : _ ("Role"),
			     g_strdup (state != NULL ? state : role));
	print_field (_ ("Epoch"), member_text (status, "epoch"));
	print_field (_ ("Accepting"), member_text (status, "accepting"));
	print_field (_ ("Last seq"), member_text (status, "last_seq"));
	print_field (_ ("Processed"), member_text (status, "events_processed"));
	{
		g_autofree char *ack = member_text (status, "ack");
		g_autofree char *durable = member_text (status, "durable_seq");

		if (ack != NULL && durable != NULL)
			print_field (_ ("Ack"), g_strdup_printf (_ ("%s (stored up to seq %s)"), ack, durable));
		else
			print_field (_ ("Ack"), g_steal_pointer (&ack));
	}
	if (json_object_has_member (status, "switchover") &&
	    JSON_NODE_HOLDS_OBJECT (json_object_get_member (status, "switchover"))) {
		JsonObject *sw = json_object_get_object_member (status, "switchover");
		g_autofree char *to = member_text (sw, "to");
		g_autofree char *up_to = member_text (sw, "up_to_seq");
		JsonNode *draining = json_object_get_member (sw, "draining");

		print_field (_ ("Switchover"),
			     g_strdup_printf (_ ("to %s, %s (the passive must hold up to seq %s)"),
					      to != NULL ? to : "?",
					      draining != NULL && JSON_NODE_HOLDS_VALUE (draining) &&
							      json_node_get_boolean (draining)
						      ? _ ("draining: new events get 503")
						      : _ ("handing over"),
					      up_to != NULL ? up_to : "?"));
	}
	if (json_object_has_member (status, "persistence") &&
	    JSON_NODE_HOLDS_OBJECT (json_object_get_member (status, "persistence")))
		print_persistence (json_object_get_object_member (status, "persistence"));
	if (members != NULL && JSON_NODE_HOLDS_ARRAY (members))
		print_members (json_node_get_array (members));
	if (lease != NULL && JSON_NODE_HOLDS_OBJECT (lease))
		print_lease (json_node_get_object (lease));
}

/* --- the command ----------------------------------------------------------- */

/**
 * tandemctl_api_command:
 * @argc: the command's arguments
 * @argv: the command's arguments
 * @summary: the --help summary
 * @description: the --help description (examples, exit status)
 * @method: the HTTP method
 * @path: the API path
 * @timeout_s: how long the node may take to answer
 * @print: prints the answer (a JSON object) for a person
 *
 * The commands that ask a node's REST API: options --url, --token-file,
 * --config and --json, the request, and the answer printed as JSON or by
 * @print.
 *
 * Returns: the exit status: 0 success, 1 the node cannot be reached or
 *   answered with an error, 2 usage error
 */
int
tandemctl_api_command (int argc,
		       char **argv,
		       const char *summary,
		       const char *description,
		       const char *method,
		       const char *path,
		       guint timeout_s,
		       TandemctlPrintFunc print)
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

	g_option_context_set_summary (context, summary);
	g_option_context_set_description (context, description);
	g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse (context, &argc, &argv, &error))
		return status_usage (prog, error->message);
	if (argc > 1) {
		g_autofree char *message =
			g_strdup_printf (_ ("unexpected argument '%s'"), argv[1]);

		return status_usage (prog, message);
	}
	if (!tandemctl_api_target (url_option, token_file, config_path, &url, &token, &error)) {
		if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT))
			return status_usage (prog, error->message);
		return status_fail (error->message);
	}
	body = tandemctl_api_request (method, url, path, token, timeout_s, &error);
	if (token != NULL)
		explicit_bzero (token, strlen (token));
	if (body == NULL)
		return status_fail (error->message);
	data = g_bytes_get_data (body, &size);
	parser = json_parser_new_immutable ();
	if (!json_parser_load_from_data (parser, data, (gssize) size, NULL) ||
	    !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
		g_autofree char *message =
			g_strdup_printf (_ ("%s%s: the answer is not a JSON object"), url, path);

		return status_fail (message);
	}
	if (json) {
		fwrite (data, 1, size, stdout);
		if (size == 0 || data[size - 1] != '\n')
			g_print ("\n");
	} else {
		print (json_node_get_object (json_parser_get_root (parser)));
	}
	if (fflush (stdout) != 0)
		return status_fail (_ ("cannot write the output"));
	return EXIT_SUCCESS;
}

int
tandemctl_status (int argc, char **argv)
{
	return tandemctl_api_command (
		argc, argv,
		_ ("Prints a running node's view of itself and of its cluster: its id,\n"
		   "state and role, epoch, whether it accepts events, the last sequence\n"
		   "number, the members and the lease (GET /api/v1/status)."),
		_ ("Examples:\n"
		   "  tandemctl status\n"
		   "  tandemctl status --config /etc/tandem/tandem.conf\n"
		   "  tandemctl status --url http://node2:9764 --token-file ~/.tandem-token "
		   "--json\n"
		   "\n"
		   "Exit status: 0 success, 1 the node cannot be reached or answered with an "
		   "error,\n"
		   "2 usage error."),
		SOUP_METHOD_GET, STATUS_PATH, TIMEOUT_S, print_summary);
}
