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

#define SWITCHOVER_PATH "/api/v1/switchover"
/* the node answers once the switchover is done: draining takes at most 5 s,
 * the hand-over at most the lease ttl and 1 s */
#define TIMEOUT_S 120

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

static void
print_switched (JsonObject *answer)
{
	g_autofree char *active = member_text (answer, "active");
	g_autofree char *epoch = member_text (answer, "epoch");
	g_autofree char *previous = member_text (answer, "previous_active");

	g_print (_ ("Switchover done: %s is active (epoch %s); %s follows it as passive\n"), active, epoch,
		 previous);
}

int
tandemctl_switchover (int argc, char **argv)
{
	return tandemctl_api_command (argc, argv,
				      _ ("Hands the active role of a cluster to its passive node, with nothing lost\n"
		   "or published twice (POST /api/v1/switchover on the active node).  The\n"
		   "active node refuses new events for a moment (clients get 503 with\n"
		   "Retry-After) until the passive holds every event, stops publishing, and\n"
		   "hands the lease over; the passive becomes active and the old active\n"
		   "follows it as the new passive.  Prints the new active node."),
				      _ ("Examples:\n"
		   "  tandemctl switchover --config /etc/tandem/tandem.conf\n"
		   "  tandemctl switchover --url http://node1:9764 --token-file ~/.tandem-token\n"
		   "\n"
		   "Run it against the active node: a passive node answers 409 and names the\n"
		   "active one.  It is refused (409) when no passive node is in sync.\n"
		   "\n"
		   "Exit status: 0 the other node is active, 1 the node cannot be reached,\n"
		   "refused, or the switchover was aborted (this node stays active), 2 usage\n"
		   "error."),
				      SOUP_METHOD_POST, SWITCHOVER_PATH, TIMEOUT_S, print_switched);
}
