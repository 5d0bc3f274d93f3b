/* tandem-http-receiver.h: the HTTP receiver plugin (libsoup 3)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TandemHttpAuth:
 * @TANDEM_HTTP_AUTH_NONE: no authentication (`none`)
 * @TANDEM_HTTP_AUTH_BEARER: `Authorization: Bearer TOKEN` with one of the
 *   tokens of the credentials file (`bearer`)
 * @TANDEM_HTTP_AUTH_BASIC: `Authorization: Basic ...` with one of the
 *   `user:password` lines of the credentials file (`basic`)
 *
 * How clients of the HTTP receiver authenticate (config key `auth`).
 */
typedef enum {
	TANDEM_HTTP_AUTH_NONE,
	TANDEM_HTTP_AUTH_BEARER,
	TANDEM_HTTP_AUTH_BASIC,
} TandemHttpAuth;

#define TANDEM_TYPE_HTTP_AUTH (tandem_http_auth_get_type ())
GType tandem_http_auth_get_type (void);

#define TANDEM_TYPE_HTTP_RECEIVER (tandem_http_receiver_get_type ())
G_DECLARE_FINAL_TYPE (TandemHttpReceiver,
		      tandem_http_receiver,
		      TANDEM,
		      HTTP_RECEIVER,
		      TandemReceiver)

G_END_DECLS
