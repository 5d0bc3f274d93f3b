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

#define PERSIST_PATH "/api/v1/persist"
/* a snapshot of large windows to a slow database takes a while */
#define TIMEOUT_S 300

static void
print_persisted (JsonObject *answer)
{
	g_autofree char *seq = g_strdup_printf ("%" G_GINT64_FORMAT,
						json_object_get_int_member_with_default (answer, "seq", 0));

	g_print (_ ("Persisted: every plan up to seq %s\n"), seq);
}

int
tandemctl_persist (int argc, char **argv)
{
	return tandemctl_api_command (argc, argv,
				      _ ("Takes a snapshot of every execution plan of a running node at one point of its\n"
		   "sequence and saves it with every persister ([persister.NAME]) now, as the\n"
		   "periodic snapshots do (POST /api/v1/persist).  Returns once they hold it,\n"
		   "and prints the last sequence number the snapshot includes."),
				      _ ("Examples:\n"
		   "  tandemctl persist --config /etc/tandem/tandem.conf\n"
		   "  tandemctl persist --url http://node1:9764 --token-file ~/.tandem-token\n"
		   "\n"
		   "Only the active node persists (or any node with [persistence] passive = true):\n"
		   "another answers 503.  A node without persisters answers 409; one whose\n"
		   "persister failed answers 500 and names it (the others saved the snapshot).\n"
		   "\n"
		   "Exit status: 0 persisted, 1 the node cannot be reached or refused, 2 usage\n"
		   "error."),
				      SOUP_METHOD_POST, PERSIST_PATH, TIMEOUT_S, print_persisted);
}
