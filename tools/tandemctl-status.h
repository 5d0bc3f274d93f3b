/* tandemctl-status.h: `tandemctl status`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

int tandemctl_status (int argc, char **argv);

/* Shared by the commands that ask a node's REST API (tandemctl-status.c) */
gboolean tandemctl_api_target (const char *url_option,
			       const char *token_file,
			       const char *config_path,
			       char **url,
			       char **token,
			       GError **error);
typedef void (*TandemctlPrintFunc) (JsonObject *answer);
int tandemctl_api_command (int argc,
			   char **argv,
			   const char *summary,
			   const char *description,
			   const char *method,
			   const char *path,
			   guint timeout_s,
			   TandemctlPrintFunc print);
GBytes *tandemctl_api_request (const char *method,
			       const char *base,
			       const char *path,
			       const char *token,
			       guint timeout_s,
			       GError **error);
