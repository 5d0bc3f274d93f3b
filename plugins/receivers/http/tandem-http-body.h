/* tandem-http-body.h: request bodies of the HTTP receiver, parsed into typed events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TANDEM_HTTP_BODY_ERROR:
 *
 * The error domain of tandem_http_body_parse().
 */
#define TANDEM_HTTP_BODY_ERROR (tandem_http_body_error_quark ())
GQuark tandem_http_body_error_quark (void);

/**
 * TandemHttpBodyError:
 * @TANDEM_HTTP_BODY_ERROR_SYNTAX: the body is not JSON (or not NDJSON): the
 *   message starts with `line L, column C:` (answered with 400)
 * @TANDEM_HTTP_BODY_ERROR_INVALID: the body is JSON but an event does not fit
 *   the stream: the message names the event (and its line for NDJSON) and
 *   the attribute, or says which integer is beyond 64 bits (answered with
 *   422)
 * @TANDEM_HTTP_BODY_ERROR_TOO_MANY: the body holds more events than allowed
 *   (answered with 413)
 *
 * Why a body was refused.
 */
typedef enum {
	TANDEM_HTTP_BODY_ERROR_SYNTAX,
	TANDEM_HTTP_BODY_ERROR_INVALID,
	TANDEM_HTTP_BODY_ERROR_TOO_MANY,
} TandemHttpBodyError;

/**
 * TandemHttpBodyFormat:
 * @TANDEM_HTTP_BODY_FORMAT_JSON: one JSON value: an event object or an array
 *   of them (`application/json`)
 * @TANDEM_HTTP_BODY_FORMAT_NDJSON: one event object per line
 *   (`application/x-ndjson`); blank lines are skipped
 *
 * How the events of a body are laid out.
 */
typedef enum {
	TANDEM_HTTP_BODY_FORMAT_JSON,
	TANDEM_HTTP_BODY_FORMAT_NDJSON,
} TandemHttpBodyFormat;

/**
 * TandemHttpBodySchema:
 *
 * What tandem_http_body_parse() needs to know about a stream, worked out
 * once per endpoint: each attribute's name inside its WSO2 group
 * (`metaData`, `correlationData`, `payloadData`) and how the member names
 * `event`, `timestamp` and `id` are read for this stream.
 */
typedef struct _TandemHttpBodySchema TandemHttpBodySchema;

TandemHttpBodySchema *tandem_http_body_schema_new (TandemStreamDefinition *definition);
void tandem_http_body_schema_free (TandemHttpBodySchema *schema);
TandemStreamDefinition *tandem_http_body_schema_get_definition (TandemHttpBodySchema *schema);

gboolean tandem_http_body_parse (TandemHttpBodySchema *schema,
				 TandemHttpBodyFormat format,
				 const char *data,
				 gsize length,
				 guint max_events,
				 gint64 receive_time,
				 GPtrArray **events,
				 GPtrArray **ids,
				 GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemHttpBodySchema, tandem_http_body_schema_free)

G_END_DECLS
