/* tandem-http-input-stream.c: a client connection's input, as libsoup reads it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * libsoup 3.2 leaks a kept-alive connection whose client closes it between
 * two requests (fixed in libsoup 3.3, commit d20c6601 "server: do not leak
 * idle connections closed by the client"): it reads the end of the stream
 * for a request that has not started, drops that request and never
 * disconnects, keeping the socket open and its objects alive; worse,
 * stealing such a connection crashes.  The HTTP receiver therefore hands
 * libsoup its connections itself, through this stream: when the end (or a
 * failure) comes while the receiver knows the connection is idle, the end
 * is held back (the read would block, the stream never becomes readable),
 * and the receiver takes the connection from libsoup and closes it.
 *
 * Closing the stream closes the whole connection and says so once.
 */
#include "tandem-http-input-stream.h"

struct _TandemHttpInputStream {
	GInputStream parent_instance;

	GIOStream *connection;
	GInputStream *base; /* the input of @connection: pollable */
	TandemHttpInputEndFunc end_func;
	TandemHttpInputClosedFunc closed_func;
	gpointer user_data;
	GDestroyNotify destroy;
	gboolean held;
	gboolean closed;
};

static void tandem_http_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_DYNAMIC_TYPE_EXTENDED (
	TandemHttpInputStream,
	tandem_http_input_stream,
	G_TYPE_INPUT_STREAM,
	0,
	G_IMPLEMENT_INTERFACE_DYNAMIC (G_TYPE_POLLABLE_INPUT_STREAM,
				       tandem_http_input_stream_pollable_init))

/* Turns the end of the stream (or a failure) into "would block" when the
 * receiver wants it held back. */
static gssize
filter_result (TandemHttpInputStream *self, gssize n, GError *local_error, GError **error)
{
	if (n > 0)
		return n;
	if (self->held ||
	    (n < 0 && (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK) ||
		       g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))) ||
	    self->end_func == NULL || !self->end_func (self->user_data)) {
		if (local_error != NULL)
			g_propagate_error (error, local_error);
		return n;
	}
	g_clear_error (&local_error);
	self->held = TRUE;
	g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
			     "the client ended the connection");
	return -1;
}

static gssize
tandem_http_input_stream_read_nonblocking (GPollableInputStream *pollable,
					   void *buffer,
					   gsize count,
					   GError **error)
{
	TandemHttpInputStream *self = TANDEM_HTTP_INPUT_STREAM (pollable);
	GError *local_error = NULL;
	gssize n;

	if (self->held) {
		g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
				     "the client ended the connection");
		return -1;
	}
	n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (self->base), buffer,
						      count, NULL, &local_error);
	return filter_result (self, n, local_error, error);
}

static gssize
tandem_http_input_stream_read (GInputStream *stream,
			       void *buffer,
			       gsize count,
			       GCancellable *cancellable,
			       GError **error)
{
	TandemHttpInputStream *self = TANDEM_HTTP_INPUT_STREAM (stream);
	GError *local_error = NULL;
	gssize n;

	if (self->held) {
		g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
				     "the client ended the connection");
		return -1;
	}
	n = g_input_stream_read (self->base, buffer, count, cancellable, &local_error);
	return filter_result (self, n, local_error, error);
}

static gboolean
tandem_http_input_stream_is_readable (GPollableInputStream *pollable)
{
	TandemHttpInputStream *self = TANDEM_HTTP_INPUT_STREAM (pollable);

	return !self->held &&
	       g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (self->base));
}

static gboolean
tandem_http_input_stream_can_poll (GPollableInputStream *pollable)
{
	TandemHttpInputStream *self = TANDEM_HTTP_INPUT_STREAM (pollable);

	return g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (self->base));
}

static GSource *
tandem_http_input_stream_create_source (GPollableInputStream *pollable, GCancellable *cancellable)
{
	TandemHttpInputStream *self = TANDEM_HTTP_INPUT_STREAM (pollable);

	if (self->held) /* never readable again */
		return g_pollable_source_new_full (self, NULL, cancellable);
	/* The base stream's own source: readers (libsoup's filter stream)
	 * use it as a child of their source and never call its callback
	 * with the base stream; this saves a source per wait. */
	return g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (self->base),
						      cancellable);
}

static gboolean
tandem_http_input_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
	TandemHttpInputStream *self = TANDEM_HTTP_INPUT_STREAM (stream);
	gboolean ok = g_io_stream_close (self->connection, cancellable, error);

	if (!self->closed) {
		self->closed = TRUE;
		if (self->closed_func != NULL)
			self->closed_func (self->user_data);
	}
	return ok;
}

/* Closing a socket does not block: close on the calling thread (the main
 * one) rather than on a worker thread as GInputStream would. */
static void
tandem_http_input_stream_close_async (GInputStream *stream,
				      int io_priority,
				      GCancellable *cancellable,
				      GAsyncReadyCallback callback,
				      gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new (stream, cancellable, callback, user_data);
	GError *error = NULL;

	if (tandem_http_input_stream_close (stream, cancellable, &error))
		g_task_return_boolean (task, TRUE);
	else
		g_task_return_error (task, error);
}

static gboolean
tandem_http_input_stream_close_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
	return g_task_propagate_boolean (G_TASK (result), error);
}

static void
tandem_http_input_stream_finalize (GObject *object)
{
	TandemHttpInputStream *self = TANDEM_HTTP_INPUT_STREAM (object);

	g_object_unref (self->connection);
	if (self->destroy != NULL)
		self->destroy (self->user_data);

	G_OBJECT_CLASS (tandem_http_input_stream_parent_class)->finalize (object);
}

static void
tandem_http_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
	iface->can_poll = tandem_http_input_stream_can_poll;
	iface->is_readable = tandem_http_input_stream_is_readable;
	iface->create_source = tandem_http_input_stream_create_source;
	iface->read_nonblocking = tandem_http_input_stream_read_nonblocking;
}

static void
tandem_http_input_stream_class_init (TandemHttpInputStreamClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

	object_class->finalize = tandem_http_input_stream_finalize;
	stream_class->read_fn = tandem_http_input_stream_read;
	stream_class->close_fn = tandem_http_input_stream_close;
	stream_class->close_async = tandem_http_input_stream_close_async;
	stream_class->close_finish = tandem_http_input_stream_close_finish;
}

static void
tandem_http_input_stream_class_finalize (TandemHttpInputStreamClass *klass)
{
}

static void
tandem_http_input_stream_init (TandemHttpInputStream *self)
{
}

/**
 * tandem_http_input_stream_register:
 * @module: the plugin's #GTypeModule
 *
 * Registers #TandemHttpInputStream into @module.
 */
void
tandem_http_input_stream_register (GTypeModule *module)
{
	tandem_http_input_stream_register_type (module);
}

/**
 * tandem_http_input_stream_new:
 * @connection: a client connection (a #GSocketConnection or a
 *   #GTlsConnection): its input must be pollable
 * @end_func: (nullable): called when the client's stream ends under a read
 * @closed_func: (nullable): called once when the stream is closed
 * @user_data: data for @end_func and @closed_func
 * @destroy: (nullable): frees @user_data with the stream
 *
 * Returns: (transfer full): the input of @connection, for libsoup; closing
 *   it closes @connection
 */
GInputStream *
tandem_http_input_stream_new (GIOStream *connection,
			      TandemHttpInputEndFunc end_func,
			      TandemHttpInputClosedFunc closed_func,
			      gpointer user_data,
			      GDestroyNotify destroy)
{
	TandemHttpInputStream *self;

	g_return_val_if_fail (G_IS_IO_STREAM (connection), NULL);
	g_return_val_if_fail (G_IS_POLLABLE_INPUT_STREAM (
				      g_io_stream_get_input_stream (connection)),
			      NULL);

	self = g_object_new (TANDEM_TYPE_HTTP_INPUT_STREAM, NULL);
	self->connection = g_object_ref (connection);
	self->base = g_io_stream_get_input_stream (connection);
	self->end_func = end_func;
	self->closed_func = closed_func;
	self->user_data = user_data;
	self->destroy = destroy;
	return G_INPUT_STREAM (self);
}
