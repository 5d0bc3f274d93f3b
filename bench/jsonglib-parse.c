/* jsonglib-parse.c: how fast json-glib alone reads WSO2 event bodies
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The ceiling of the HTTP receiver's body parsing on one core: parse one
 * request body over and over with a new JsonParser each time (as a receiver
 * does per request), and walk to every value as a receiver would
 * (`[ {"event": {"payloadData": {"symbol": ..., "price": ..., "volume": ...}}}, ... ]`),
 * reading each with its typed getter.  Nothing else: no validation pass, no
 * events built.
 *
 *   jsonglib-parse --print-body --events 100 > body.json   # the body bench/ingest posts
 *   jsonglib-parse --body body.json --seconds 3
 *
 * Event i of a generated body has symbol IBM, WSO2, ORCL, MSFT or GOOG
 * (i % 5), price 120.5 + i % 50 (never a whole number) and volume 100 + i; one event is sent
 * as a bare object, several as an array.  The last line printed is
 *
 *   RESULT name=jsonglib-parse bytes_per_body=B events_per_body=E bodies=N seconds=S bodies_per_s=R events_per_s=R mb_per_s=R
 */
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

static char *
generate_body (int n_events)
{
	static const char *const symbols[] = { "IBM", "WSO2", "ORCL", "MSFT", "GOOG" };
	GString *body = g_string_new (n_events > 1 ? "[" : "");

	for (int i = 0; i < n_events; i++) {
		char price[G_ASCII_DTOSTR_BUF_SIZE];

		g_ascii_formatd (price, sizeof price, "%g", 120.5 + i % 50);
		g_string_append_printf (
			body,
			"%s{\"event\":{\"payloadData\":{\"symbol\":\"%s\",\"price\":%s,\"volume\":%d}}}",
			i > 0 ? "," : "", symbols[i % G_N_ELEMENTS (symbols)], price, 100 + i);
	}
	if (n_events > 1)
		g_string_append_c (body, ']');
	return g_string_free (body, FALSE);
}

typedef struct {
	guint64 events;
	guint64 volume_sum;
	double price_sum;
	gsize symbol_bytes;
} Walk;

static gboolean
walk_event (JsonNode *node, Walk *walk)
{
	JsonObject *object;
	JsonNode *member;

	if (!JSON_NODE_HOLDS_OBJECT (node))
		return FALSE;
	member = json_object_get_member (json_node_get_object (node), "event");
	if (member == NULL || !JSON_NODE_HOLDS_OBJECT (member))
		return FALSE;
	member = json_object_get_member (json_node_get_object (member), "payloadData");
	if (member == NULL || !JSON_NODE_HOLDS_OBJECT (member))
		return FALSE;
	object = json_node_get_object (member);

	member = json_object_get_member (object, "symbol");
	if (member == NULL || json_node_get_value_type (member) != G_TYPE_STRING)
		return FALSE;
	walk->symbol_bytes += strlen (json_node_get_string (member));
	member = json_object_get_member (object, "price");
	if (member == NULL || !JSON_NODE_HOLDS_VALUE (member))
		return FALSE;
	walk->price_sum += json_node_get_double (member);
	member = json_object_get_member (object, "volume");
	if (member == NULL || json_node_get_value_type (member) != G_TYPE_INT64)
		return FALSE;
	walk->volume_sum += (guint64) json_node_get_int (member);
	walk->events++;
	return TRUE;
}

/* Parses @data once and walks every event; FALSE if it is not a body of events. */
static gboolean
parse_body (const char *data, gsize length, Walk *walk, GError **error)
{
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	JsonNode *root;

	if (!json_parser_load_from_data (parser, data, (gssize) length, error))
		return FALSE;
	root = json_parser_get_root (parser);
	if (root != NULL && JSON_NODE_HOLDS_ARRAY (root)) {
		JsonArray *array = json_node_get_array (root);
		guint n = json_array_get_length (array);

		for (guint i = 0; i < n; i++) {
			if (!walk_event (json_array_get_element (array, i), walk))
				break;
		}
		return TRUE;
	}
	return root != NULL && walk_event (root, walk);
}

int
main (int argc, char **argv)
{
	int n_events = 100;
	double seconds = 3.0;
	gboolean print_body = FALSE;
	g_autofree char *body_file = NULL;
	g_autofree char *body = NULL;
	gsize length;
	g_autoptr (GError) error = NULL;
	g_autoptr (GOptionContext) context = NULL;
	Walk walk = { 0 };
	guint64 events_per_body;
	guint64 bodies = 0;
	gint64 start, elapsed;
	double s;
	const GOptionEntry entries[] = {
		{ "body", 'f', 0, G_OPTION_ARG_FILENAME, &body_file,
		  "Parse this body (default: a generated one)", "FILE" },
		{ "events", 'n', 0, G_OPTION_ARG_INT, &n_events,
		  "Events in the generated body (default 100)", "N" },
		{ "print-body", 0, 0, G_OPTION_ARG_NONE, &print_body,
		  "Print the generated body and exit", NULL },
		{ "seconds", 's', 0, G_OPTION_ARG_DOUBLE, &seconds,
		  "Parse for this long (default 3)", "S" },
		{ NULL },
	};

	context = g_option_context_new (
		"- parse WSO2 JSON event bodies with json-glib and measure the rate");
	g_option_context_add_main_entries (context, entries, NULL);
	if (!g_option_context_parse (context, &argc, &argv, &error)) {
		g_printerr ("jsonglib-parse: %s\n", error->message);
		return 2;
	}
	if (n_events < 1 || n_events > 1000000 || !(seconds > 0 && seconds <= 600)) {
		g_printerr (
			"jsonglib-parse: --events must be 1-1000000 and --seconds in (0, 600]\n");
		return 2;
	}

	if (body_file != NULL) {
		if (!g_file_get_contents (body_file, &body, &length, &error)) {
			g_printerr ("jsonglib-parse: %s\n", error->message);
			return 1;
		}
	} else {
		body = generate_body (n_events);
		length = strlen (body);
	}
	if (print_body) {
		fwrite (body, 1, length, stdout);
		return 0;
	}

	/* one untimed pass: checks the body and counts its events */
	if (!parse_body (body, length, &walk, &error)) {
		g_printerr ("jsonglib-parse: not a body of WSO2 events%s%s\n",
			    error != NULL ? ": " : "", error != NULL ? error->message : "");
		return 1;
	}
	events_per_body = walk.events;
	if (events_per_body == 0) {
		g_printerr (
			"jsonglib-parse: the body holds no event with symbol, price and volume\n");
		return 1;
	}

	walk = (Walk){ 0 };
	start = g_get_monotonic_time ();
	do {
		for (int k = 0; k < 16; k++) {
			parse_body (body, length, &walk, NULL);
			bodies++;
		}
		elapsed = g_get_monotonic_time () - start;
	} while (elapsed < (gint64) (seconds * G_USEC_PER_SEC));
	s = (double) elapsed / G_USEC_PER_SEC;

	g_print ("%-28s %12s\n", "json-glib 1 core", "");
	g_print ("%-28s %12" G_GSIZE_FORMAT "\n", "bytes per body", length);
	g_print ("%-28s %12" G_GUINT64_FORMAT "\n", "events per body", events_per_body);
	g_print ("%-28s %12" G_GUINT64_FORMAT "\n", "bodies parsed", bodies);
	g_print ("%-28s %12.0f\n", "bodies/s", bodies / s);
	g_print ("%-28s %12.0f\n", "events/s", walk.events / s);
	g_print ("%-28s %12.1f\n", "MB/s", bodies * (double) length / s / 1e6);
	g_print ("%-28s %12.1f\n", "(checksum)",
		 walk.price_sum + walk.volume_sum + walk.symbol_bytes);
	g_print ("RESULT name=jsonglib-parse bytes_per_body=%" G_GSIZE_FORMAT
		 " events_per_body=%" G_GUINT64_FORMAT " bodies=%" G_GUINT64_FORMAT
		 " seconds=%.2f bodies_per_s=%.0f events_per_s=%.0f mb_per_s=%.1f\n",
		 length, events_per_body, bodies, s, bodies / s, walk.events / s,
		 bodies * (double) length / s / 1e6);
	return 0;
}
