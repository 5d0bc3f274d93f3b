/* tandem-api.h: tandemd's REST management API (`[api]`, `/api/v1/...`)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TANDEM_API_DEFAULT_ADDRESS:
 *
 * The address the REST API listens on when `[api] address` is not set.
 */
#define TANDEM_API_DEFAULT_ADDRESS "127.0.0.1"

/**
 * TANDEM_API_DEFAULT_PORT:
 *
 * The port the REST API listens on when `[api] port` is not set.
 */
#define TANDEM_API_DEFAULT_PORT 9764

#define TANDEM_TYPE_API (tandem_api_get_type ())
G_DECLARE_FINAL_TYPE (TandemApi, tandem_api, TANDEM, API, GObject)

TandemApi *tandem_api_new (void);
gboolean tandem_api_configure (TandemApi *self, TandemConfig *config, GError **error);
gboolean tandem_api_get_enabled (TandemApi *self);
const char *tandem_api_get_address (TandemApi *self);
guint tandem_api_get_port (TandemApi *self);
const char *tandem_api_get_token_file (TandemApi *self);
gboolean tandem_api_start (TandemApi *self, TandemNode *node, GError **error);
void tandem_api_stop (TandemApi *self);
const char *tandem_api_get_url (TandemApi *self);

char *tandem_api_format_url (const char *address, guint port);
char *tandem_api_read_token_file (const char *path, gboolean strict, GError **error);

G_END_DECLS
