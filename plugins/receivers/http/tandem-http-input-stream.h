/* tandem-http-input-stream.h: a client connection's input, as libsoup reads it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * TandemHttpInputEndFunc:
 * @user_data: the data given to tandem_http_input_stream_new()
 *
 * Called when the client's stream ended (or failed) under a read.
 *
 * Returns: %TRUE to hold the end back: the read reports
 *   %G_IO_ERROR_WOULD_BLOCK and the stream never becomes readable again,
 *   so that the caller can take the connection away and close it
 */
typedef gboolean (*TandemHttpInputEndFunc) (gpointer user_data);

/**
 * TandemHttpInputClosedFunc:
 * @user_data: the data given to tandem_http_input_stream_new()
 *
 * Called once, when the stream (and so the connection) is closed.
 */
typedef void (*TandemHttpInputClosedFunc) (gpointer user_data);

#define TANDEM_TYPE_HTTP_INPUT_STREAM (tandem_http_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (TandemHttpInputStream,
		      tandem_http_input_stream,
		      TANDEM,
		      HTTP_INPUT_STREAM,
		      GInputStream)

void tandem_http_input_stream_register (GTypeModule *module);
GInputStream *tandem_http_input_stream_new (GIOStream *connection,
					    TandemHttpInputEndFunc end_func,
					    TandemHttpInputClosedFunc closed_func,
					    gpointer user_data,
					    GDestroyNotify destroy);

G_END_DECLS
