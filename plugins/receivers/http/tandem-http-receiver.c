/* tandem-http-receiver.c: the HTTP receiver plugin (libsoup 3)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Serves `POST /endpoints/RECEIVER` and `POST /endpoints/t/TENANT/RECEIVER`
 * as the HTTP event receivers of WSO2 did, one path per configured
 * endpoint, each bound to a stream of the node.  A request's events are
 * parsed straight from its body into typed events (tandem-http-body.c),
 * handed to the node's sequenced ingest all or nothing, and acknowledged
 * with 202 only once the node accepted them.
 *
 * Requests go through libsoup in this order:
 *
 *   request-started   a connection is accepted, or the first bytes of the
 *                     next request on a kept-alive one arrive: count the
 *                     connection (max_connections) and start the header
 *                     deadline (header_timeout)
 *   early handler     the headers are in: authentication, path, method,
 *                     Content-Type, Content-Length, back-pressure.  The
 *                     body is never accumulated by libsoup: got-chunk
 *                     copies it into one buffer and stops at max_body_bytes
 *   handler           the body is in: parse, ingest (the message is paused
 *                     until the node answers), answer
 *
 * An answer that cannot wait for the body (413, or an early refusal of a
 * body larger than max_body_bytes) is written on the connection stolen from
 * libsoup, which is then closed after draining what the client still sends
 * for a moment (so that it reads the answer instead of a reset).
 *
 * libsoup has no header or idle timeout: a timer closes connections whose
 * deadline passed (headers not complete within header_timeout of a
 * request's first byte; body not complete, or nothing new asked on a
 * kept-alive connection, within idle_timeout).
 */
#define G_LOG_DOMAIN "Tandem-http"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/stat.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "tandem-http-body.h"
#include "tandem-http-input-stream.h"
#include "tandem-http-receiver.h"

#define RETRY_AFTER_S "1"
#define LINGER_MS 2000
#define MAX_IDEMPOTENCY_KEY 256
#define REALM "tandem"

/* --- TandemHttpAuth ------------------------------------------------------- */

static GType tandem_http_auth_type;

/**
 * tandem_http_auth_get_type:
 *
 * Returns: the #GType of #TandemHttpAuth, registered by the plugin module
 */
GType
tandem_http_auth_get_type (void)
{
	return tandem_http_auth_type;
}

static void
tandem_http_auth_register_type (GTypeModule *module)
{
	static const GEnumValue values[] = {
		{ TANDEM_HTTP_AUTH_NONE, "TANDEM_HTTP_AUTH_NONE", "none" },
		{ TANDEM_HTTP_AUTH_BEARER, "TANDEM_HTTP_AUTH_BEARER", "bearer" },
		{ TANDEM_HTTP_AUTH_BASIC, "TANDEM_HTTP_AUTH_BASIC", "basic" },
		{ 0, NULL, NULL },
	};

	tandem_http_auth_type = g_type_module_register_enum (module, "TandemHttpAuth", values);
}

/* --- types ---------------------------------------------------------------- */

typedef struct {
	char *receiver;  /* the last path segment */
	char *stream;    /* as configured: NAME or NAME:VERSION */
	char *stream_id; /* the definition's id, given to the node */
	TandemHttpBodySchema *schema;
} Endpoint;

typedef enum {
	CONN_HANDSHAKE, /* TLS handshake */
	CONN_HEADERS,   /* waiting for a request's headers */
	CONN_BODY,      /* reading its body */
	CONN_HANDLING,  /* parsing and ingesting: no deadline */
	CONN_WRITING,   /* writing the answer */
	CONN_IDLE,      /* kept alive between requests */
	CONN_CLOSING,   /* taken from libsoup, being answered and closed */
} ConnState;

typedef struct {
	grefcount ref_count;
	TandemHttpReceiver *self; /* not a reference: NULL once closed */
	GSocketConnection *tcp;
	GIOStream *stream;         /* what libsoup reads and writes */
	SoupServerMessage *msg;    /* its last request: to take the connection back */
	GCancellable *cancellable; /* the TLS handshake */
	ConnState state;
	gint64 deadline; /* monotonic time, 0 for none */
	guint n_requests;
	gboolean tls;
	gboolean closed;
} Connection;

typedef struct {
	TandemHttpReceiver *self;
	Connection *conn; /* nullable */
	Endpoint *endpoint;
	TandemHttpBodyFormat format;
	GByteArray *body; /* NULL while the body is discarded */
	gboolean kept_by_soup; /* a body of a known, allowed length: libsoup keeps it */
	guint64 received;
	guint n_events;
	/* an answer decided from the headers, sent once the body is read */
	guint status;
	char *answer;
	const char *header_name;
	char *header_value;
} Request;

struct _TandemHttpReceiver {
	TandemReceiver parent_instance;

	/* config keys */
	char *address;
	guint port;
	GStrv endpoints;
	guint64 max_body_bytes;
	guint max_events_per_request;
	guint max_connections;
	guint header_timeout;
	guint idle_timeout;
	TandemHttpAuth auth;
	char *credentials_file;
	char *tls_certificate;
	char *tls_key;

	/* from setup */
	GPtrArray *endpoint_list;   /* of Endpoint */
	GHashTable *endpoint_table; /* receiver name -> Endpoint */
	GHashTable *credentials;    /* SHA-256 (hex) of each token or user:password */
	GTlsCertificate *certificate;

	/* while started */
	GSocketService *service;
	SoupServer *server;
	GHashTable *connections; /* set of Connection */
	guint sweep_id;
	gint64 last_refusal_warning;
};

G_DEFINE_DYNAMIC_TYPE (TandemHttpReceiver, tandem_http_receiver, TANDEM_TYPE_RECEIVER)

enum {
	PROP_0,
	PROP_ADDRESS,
	PROP_PORT,
	PROP_ENDPOINTS,
	PROP_MAX_BODY_BYTES,
	PROP_MAX_EVENTS_PER_REQUEST,
	PROP_MAX_CONNECTIONS,
	PROP_HEADER_TIMEOUT,
	PROP_IDLE_TIMEOUT,
	PROP_AUTH,
	PROP_CREDENTIALS_FILE,
	PROP_TLS_CERTIFICATE,
	PROP_TLS_KEY,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static GQuark connection_quark;
static GQuark request_quark;

static void
endpoint_free (Endpoint *endpoint)
{
	g_free (endpoint->receiver);
	g_free (endpoint->stream);
	g_free (endpoint->stream_id);
	tandem_http_body_schema_free (endpoint->schema);
	g_free (endpoint);
}

/* --- JSON answers --------------------------------------------------------- */

static char *
error_json (const char *error, const char *detail)
{
	GString *out = g_string_sized_new (64 + strlen (detail));

	g_string_append (out, "{\"error\":");
	tandem_json_append_string (out, error);
	g_string_append (out, ",\"detail\":");
	tandem_json_append_string (out, detail);
	g_string_append (out, "}");
	return g_string_free (out, FALSE);
}

static const char *
error_name (guint status)
{
	switch (status) {
	case SOUP_STATUS_BAD_REQUEST:
		return "bad request";
	case SOUP_STATUS_UNAUTHORIZED:
		return "unauthorized";
	case SOUP_STATUS_NOT_FOUND:
		return "not found";
	case SOUP_STATUS_METHOD_NOT_ALLOWED:
		return "method not allowed";
	case SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE:
		return "payload too large";
	case SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE:
		return "unsupported media type";
	case SOUP_STATUS_UNPROCESSABLE_ENTITY:
		return "invalid event";
	case SOUP_STATUS_SERVICE_UNAVAILABLE:
		return "unavailable";
	default:
		return "internal error";
	}
}

/* --- connections ---------------------------------------------------------- */

/* The receiver accepts connections itself (max_connections, TLS handshake
 * under header_timeout) and hands each to libsoup as a stream whose input
 * holds back the end of an idle kept-alive connection: see
 * tandem-http-input-stream.c for the libsoup 3.2 leak this avoids.  libsoup
 * only keeps connections alive while it has a listener of its own, so it
 * gets one that nobody can reach (see dummy_listener_new()). */

static Connection *
connection_ref (Connection *conn)
{
	g_ref_count_inc (&conn->ref_count);
	return conn;
}

static gboolean
unref_later (gpointer data)
{
	g_object_unref (data);
	return G_SOURCE_REMOVE;
}

static void
connection_unref (Connection *conn)
{
	if (!g_ref_count_dec (&conn->ref_count))
		return;
	g_clear_object (&conn->msg);
	g_clear_object (&conn->stream);
	g_clear_object (&conn->cancellable);
	g_object_unref (conn->tcp);
	g_free (conn);
}

static void
connection_set_state (Connection *conn, ConnState state, guint timeout_s)
{
	conn->state = state;
	conn->deadline =
		timeout_s > 0 ? g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC : 0;
}

static Connection *
connection_from_message (SoupServerMessage *msg)
{
	GSocketAddress *remote = soup_server_message_get_remote_address (msg);

	return remote != NULL ? g_object_get_qdata (G_OBJECT (remote), connection_quark) : NULL;
}

/* The connection is closed: forget it. */
static void
connection_forget (Connection *conn)
{
	TandemHttpReceiver *self = conn->self;

	if (conn->closed)
		return;
	conn->closed = TRUE;
	conn->self = NULL;
	conn->deadline = 0;
	/* possibly called from inside libsoup or the stream: drop them later */
	if (conn->msg != NULL)
		g_idle_add_full (G_PRIORITY_DEFAULT, unref_later, g_steal_pointer (&conn->msg),
				 NULL);
	if (conn->stream != NULL)
		g_idle_add_full (G_PRIORITY_DEFAULT, unref_later, g_steal_pointer (&conn->stream),
				 NULL);
	g_io_stream_close (G_IO_STREAM (conn->tcp), NULL, NULL);
	if (self != NULL && self->connections != NULL)
		g_hash_table_remove (self->connections, conn);
}

/* Takes the connection from libsoup (whatever it was doing) and closes it. */
static void
connection_close (Connection *conn)
{
	if (conn->closed)
		return;
	if (conn->msg != NULL) {
		g_autoptr(SoupServerMessage) msg = g_steal_pointer (&conn->msg);
		g_autoptr(GIOStream) stolen = soup_server_message_steal_connection (msg);

		/* closing the stolen stream closes ours: on_input_closed() */
		if (stolen != NULL)
			g_io_stream_close (stolen, NULL, NULL);
	}
	if (!conn->closed) {
		if (conn->cancellable != NULL)
			g_cancellable_cancel (conn->cancellable);
		if (conn->stream != NULL)
			g_io_stream_close (conn->stream, NULL, NULL);
		connection_forget (conn);
	}
}

static gboolean
close_soon_cb (gpointer user_data)
{
	connection_close (user_data);
	return G_SOURCE_REMOVE;
}

/* The client ended its side (or the connection failed) under a read. */
static gboolean
on_input_end (gpointer user_data)
{
	Connection *conn = user_data;

	/* in a request, libsoup ends it and closes the connection itself */
	if (conn->closed || conn->state != CONN_IDLE)
		return FALSE;
	/* between requests libsoup 3.2 would leak it: close it first */
	connection_set_state (conn, CONN_CLOSING, 0);
	g_idle_add_full (G_PRIORITY_HIGH, close_soon_cb, connection_ref (conn),
			 (GDestroyNotify) connection_unref);
	return TRUE;
}

static void
on_input_closed (gpointer user_data)
{
	connection_forget (user_data);
}

static char *
describe_peer (Connection *conn)
{
	g_autoptr(GSocketAddress) address =
		g_socket_connection_get_remote_address (conn->tcp, NULL);

	if (G_IS_INET_SOCKET_ADDRESS (address)) {
		GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (address);
		g_autofree char *host =
			g_inet_address_to_string (g_inet_socket_address_get_address (inet));

		return g_strdup_printf ("%s:%u", host, g_inet_socket_address_get_port (inet));
	}
	return g_strdup ("a client");
}

static gboolean
sweep (gpointer user_data)
{
	TandemHttpReceiver *self = user_data;
	gint64 now = g_get_monotonic_time ();
	g_autoptr(GPtrArray) expired =
		g_ptr_array_new_with_free_func ((GDestroyNotify) connection_unref);
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init (&iter, self->connections);
	while (g_hash_table_iter_next (&iter, &key, NULL)) {
		Connection *conn = key;

		if (conn->deadline != 0 && now >= conn->deadline)
			g_ptr_array_add (expired, connection_ref (conn));
	}
	for (guint i = 0; i < expired->len; i++) {
		Connection *conn = g_ptr_array_index (expired, i);
		g_autofree char *peer = describe_peer (conn);
		const char *why;

		switch (conn->state) {
		case CONN_HANDSHAKE:
			why = "TLS handshake not complete within header_timeout";
			break;
		case CONN_HEADERS:
			why = "request headers not complete within header_timeout";
			break;
		case CONN_BODY:
			why = "request body not complete within idle_timeout";
			break;
		case CONN_WRITING:
			why = "answer not read within idle_timeout";
			break;
		case CONN_IDLE:
		case CONN_HANDLING:
		case CONN_CLOSING:
		default:
			why = "no new request within idle_timeout";
			break;
		}
		if (conn->state == CONN_IDLE)
			g_debug ("http receiver %s: closing the connection of %s: %s",
				 tandem_plugin_get_name (TANDEM_PLUGIN (self)), peer, why);
		else
			g_info ("http receiver %s: closing the connection of %s: %s",
				tandem_plugin_get_name (TANDEM_PLUGIN (self)), peer, why);
		connection_close (conn);
	}
	if (g_hash_table_size (self->connections) == 0) {
		self->sweep_id = 0;
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

/* Gives libsoup the connection, once TLS (if any) is up. */
static void
hand_over (Connection *conn, GIOStream *base)
{
	TandemHttpReceiver *self = conn->self;
	g_autoptr(GInputStream) input = NULL;
	g_autoptr(GSocketAddress) local = g_socket_connection_get_local_address (conn->tcp, NULL);
	g_autoptr(GSocketAddress) remote =
		g_socket_connection_get_remote_address (conn->tcp, NULL);
	g_autoptr(GError) error = NULL;

	if (self == NULL || local == NULL || remote == NULL) {
		connection_close (conn);
		return;
	}
	input = tandem_http_input_stream_new (base, on_input_end, on_input_closed,
					      connection_ref (conn),
					      (GDestroyNotify) connection_unref);
	conn->stream = g_simple_io_stream_new (input, g_io_stream_get_output_stream (base));
	/* each request finds its connection from its remote address */
	g_object_set_qdata_full (G_OBJECT (remote), connection_quark, connection_ref (conn),
				 (GDestroyNotify) connection_unref);
	conn->state = CONN_HEADERS; /* the deadline still counts from the accept */
	if (!soup_server_accept_iostream (self->server, conn->stream, local, remote, &error)) {
		g_warning ("http receiver %s: %s", tandem_plugin_get_name (TANDEM_PLUGIN (self)),
			   error->message);
		connection_close (conn);
	}
}

static void
on_handshake_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
	Connection *conn = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_tls_connection_handshake_finish (G_TLS_CONNECTION (source), result, &error)) {
		if (!conn->closed) {
			g_autofree char *peer = describe_peer (conn);

			g_info ("http receiver %s: TLS handshake with %s failed: %s",
				tandem_plugin_get_name (TANDEM_PLUGIN (conn->self)), peer,
				error->message);
			connection_close (conn);
		}
	} else if (conn->closed) {
		g_io_stream_close (G_IO_STREAM (source), NULL, NULL);
	} else {
		hand_over (conn, G_IO_STREAM (source));
	}
	connection_unref (conn);
}

static gboolean
on_incoming (GSocketService *service,
	     GSocketConnection *tcp,
	     GObject *source_object,
	     gpointer user_data)
{
	TandemHttpReceiver *self = user_data;
	g_autoptr(GIOStream) tls = NULL;
	g_autoptr(GError) error = NULL;
	Connection *conn;

	if (g_hash_table_size (self->connections) >= self->max_connections) {
		gint64 now = g_get_monotonic_time ();

		if (now - self->last_refusal_warning > 10 * G_USEC_PER_SEC) {
			self->last_refusal_warning = now;
			g_warning (
				"http receiver %s: refusing connections: %u open (max_connections)",
				tandem_plugin_get_name (TANDEM_PLUGIN (self)),
				self->max_connections);
		}
		g_io_stream_close (G_IO_STREAM (tcp), NULL, NULL);
		return TRUE;
	}
	g_socket_set_option (g_socket_connection_get_socket (tcp), IPPROTO_TCP, TCP_NODELAY, TRUE,
			     NULL);

	conn = g_new0 (Connection, 1);
	g_ref_count_init (&conn->ref_count);
	conn->self = self;
	conn->tcp = g_object_ref (tcp);
	g_hash_table_add (self->connections, conn);
	if (self->sweep_id == 0)
		self->sweep_id = g_timeout_add_seconds (1, sweep, self);
	connection_set_state (conn, self->certificate != NULL ? CONN_HANDSHAKE : CONN_HEADERS,
			      self->header_timeout);
	if (self->certificate == NULL) {
		hand_over (conn, G_IO_STREAM (tcp));
		return TRUE;
	}

	tls = g_tls_server_connection_new (G_IO_STREAM (tcp), self->certificate, &error);
	if (tls == NULL) {
		g_warning ("http receiver %s: %s", tandem_plugin_get_name (TANDEM_PLUGIN (self)),
			   error->message);
		connection_close (conn);
		return TRUE;
	}
	{
		static const char *const protocols[] = { "http/1.1", "http/1.0", NULL };

		g_tls_connection_set_require_close_notify (G_TLS_CONNECTION (tls), FALSE);
		g_tls_connection_set_advertised_protocols (G_TLS_CONNECTION (tls), protocols);
	}
	conn->tls = TRUE;
	conn->cancellable = g_cancellable_new ();
	g_tls_connection_handshake_async (G_TLS_CONNECTION (tls), G_PRIORITY_DEFAULT,
					  conn->cancellable, on_handshake_done,
					  connection_ref (conn));
	return TRUE;
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	TandemHttpReceiver *self = user_data;
	Connection *conn = connection_from_message (msg);

	if (conn == NULL || conn->closed)
		return;
	g_set_object (&conn->msg, msg);
	/* the first request's deadline counts from the accept; the next ones
	 * start with their first byte */
	if (conn->n_requests++ > 0)
		connection_set_state (conn, CONN_HEADERS, self->header_timeout);
	else
		conn->state = CONN_HEADERS;
}

static void
on_request_done (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	TandemHttpReceiver *self = user_data;
	Connection *conn = connection_from_message (msg);

	if (conn != NULL && !conn->closed && conn->state != CONN_CLOSING)
		connection_set_state (conn, CONN_IDLE, self->idle_timeout);
}

/* libsoup only keeps connections alive while it listens itself: give it a
 * listening socket nobody can reach (a Unix socket whose name is gone). */
static GSocket *
dummy_listener_new (GError **error)
{
	g_autofree char *dir = g_dir_make_tmp ("tandem-http-XXXXXX", error);
	g_autofree char *path = NULL;
	g_autoptr(GSocket) socket = NULL;
	g_autoptr(GSocketAddress) address = NULL;
	gboolean ok;

	if (dir == NULL)
		return NULL;
	path = g_build_filename (dir, "listener", NULL);
	address = g_unix_socket_address_new (path);
	socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
			       G_SOCKET_PROTOCOL_DEFAULT, error);
	ok = socket != NULL && g_socket_bind (socket, address, FALSE, error) &&
	     g_socket_listen (socket, error);
	g_unlink (path);
	g_rmdir (dir);
	return ok ? g_steal_pointer (&socket) : NULL;
}

/* --- answering on a stolen connection ------------------------------------- */

typedef struct {
	TandemHttpReceiver *self;
	Connection *conn;
	GIOStream *stream;
	char *response;
	guint timeout_id;
	guint8 buffer[16384];
} Closing;

static void
closing_free (Closing *closing)
{
	if (closing->timeout_id != 0)
		g_source_remove (closing->timeout_id);
	/* closes ours too: on_input_closed() forgets the connection */
	g_io_stream_close (closing->stream, NULL, NULL);
	connection_forget (closing->conn);
	g_object_unref (closing->stream);
	connection_unref (closing->conn);
	g_object_unref (closing->self);
	g_free (closing->response);
	g_free (closing);
}

static gboolean
on_linger_timeout (gpointer user_data)
{
	Closing *closing = user_data;

	closing->timeout_id = 0;
	/* the pending read ends with G_IO_ERROR_CANCELLED: on_drained() frees */
	g_cancellable_cancel (closing->conn->cancellable);
	return G_SOURCE_REMOVE;
}

static void
on_drained (GObject *source, GAsyncResult *result, gpointer user_data)
{
	Closing *closing = user_data;
	gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

	if (n <= 0) {
		closing_free (closing);
		return;
	}
	g_input_stream_read_async (G_INPUT_STREAM (source), closing->buffer, sizeof closing->buffer,
				   G_PRIORITY_LOW, closing->conn->cancellable, on_drained, closing);
}

static void
on_answer_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
	Closing *closing = user_data;

	if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, NULL)) {
		closing_free (closing);
		return;
	}
	/* Tell the client we are done, then read (and drop) what it still
	 * sends for a moment: closing with unread data would reset the
	 * connection before the client reads the answer. */
	if (!closing->conn->tls)
		g_socket_shutdown (g_socket_connection_get_socket (closing->conn->tcp), FALSE, TRUE,
				   NULL);
	closing->timeout_id = g_timeout_add (LINGER_MS, on_linger_timeout, closing);
	g_input_stream_read_async (g_io_stream_get_input_stream (closing->stream), closing->buffer,
				   sizeof closing->buffer, G_PRIORITY_LOW,
				   closing->conn->cancellable, on_drained, closing);
}

/* Answers @msg at once and closes its connection, without reading the rest
 * of the body.  Call from a handler of @msg's signals only. */
static void
answer_and_close (TandemHttpReceiver *self,
		  SoupServerMessage *msg,
		  Connection *conn,
		  guint status,
		  const char *body,
		  const char *header_name,
		  const char *header_value)
{
	g_autoptr(GIOStream) stream = NULL;
	GString *response;
	Closing *closing;

	if (conn == NULL || conn->closed)
		return;
	connection_set_state (conn, CONN_CLOSING, 0);
	g_clear_object (&conn->msg);
	stream = soup_server_message_steal_connection (msg);
	if (stream == NULL) {
		connection_close (conn);
		return;
	}
	response = g_string_new (NULL);
	g_string_append_printf (response, "HTTP/1.1 %u %s\r\n", status,
				soup_status_get_phrase (status));
	g_string_append (response, "Content-Type: application/json\r\n");
	g_string_append_printf (response, "Content-Length: %" G_GSIZE_FORMAT "\r\n", strlen (body));
	if (header_name != NULL)
		g_string_append_printf (response, "%s: %s\r\n", header_name, header_value);
	g_string_append (response, "Connection: close\r\n\r\n");
	g_string_append (response, body);

	g_clear_object (&conn->cancellable);
	conn->cancellable = g_cancellable_new (); /* cancelled by the linger timeout, or stop */
	closing = g_new0 (Closing, 1);
	closing->self = g_object_ref (self);
	closing->conn = connection_ref (conn);
	closing->stream = g_steal_pointer (&stream);
	closing->response = g_string_free (response, FALSE);
	g_output_stream_write_all_async (g_io_stream_get_output_stream (closing->stream),
					 closing->response, strlen (closing->response),
					 G_PRIORITY_DEFAULT, conn->cancellable, on_answer_written,
					 closing);
}

/* --- requests ------------------------------------------------------------- */

static void
request_free (Request *req)
{
	if (req->body != NULL)
		g_byte_array_unref (req->body);
	g_clear_pointer (&req->conn, connection_unref);
	g_object_unref (req->self);
	g_free (req->answer);
	g_free (req->header_value);
	g_free (req);
}

/* Decides the answer of a request from its headers; it is sent once the
 * body is read (or at once, see early_handler()). */
static void
request_refuse (Request *req,
		guint status,
		const char *header_name,
		const char *header_value,
		const char *detail)
{
	if (req->status != 0)
		return;
	req->status = status;
	req->answer = error_json (error_name (status), detail);
	req->header_name = header_name;
	req->header_value = g_strdup (header_value);
}

static void
respond (TandemHttpReceiver *self, SoupServerMessage *msg, guint status, char *body)
{
	Connection *conn = connection_from_message (msg);

	soup_server_message_set_status (msg, status, NULL);
	soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
					  strlen (body));
	if (conn != NULL)
		connection_set_state (conn, CONN_WRITING, self->idle_timeout);
}

static void
respond_error (TandemHttpReceiver *self,
	       SoupServerMessage *msg,
	       guint status,
	       const char *header_name,
	       const char *header_value,
	       const char *detail)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

	if (header_name != NULL)
		soup_message_headers_replace (headers, header_name, header_value);
	respond (self, msg, status, error_json (error_name (status), detail));
}

/* Sends the answer request_refuse() decided. */
static void
respond_decided (TandemHttpReceiver *self, SoupServerMessage *msg, Request *req)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

	if (req->header_name != NULL)
		soup_message_headers_replace (headers, req->header_name, req->header_value);
	respond (self, msg, req->status, g_steal_pointer (&req->answer));
}

static gboolean
check_credentials (TandemHttpReceiver *self, SoupMessageHeaders *headers)
{
	const char *value = soup_message_headers_get_one (headers, "Authorization");
	const char *scheme = self->auth == TANDEM_HTTP_AUTH_BEARER ? "Bearer" : "Basic";
	gsize scheme_len = strlen (scheme);
	g_autofree char *digest = NULL;

	if (value == NULL || g_ascii_strncasecmp (value, scheme, scheme_len) != 0 ||
	    value[scheme_len] != ' ')
		return FALSE;
	value += scheme_len;
	while (*value == ' ')
		value++;
	if (*value == '\0')
		return FALSE;
	if (self->auth == TANDEM_HTTP_AUTH_BEARER) {
		digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, value, -1);
	} else {
		gsize length = 0;
		g_autofree guchar *decoded = g_base64_decode (value, &length);

		if (decoded == NULL || length == 0 || memchr (decoded, ':', length) == NULL)
			return FALSE;
		digest = g_compute_checksum_for_data (G_CHECKSUM_SHA256, decoded, length);
	}
	/* compares digests: how long it takes says nothing about a secret */
	return g_hash_table_contains (self->credentials, digest);
}

static Endpoint *
lookup_endpoint (TandemHttpReceiver *self, const char *path)
{
	const char *name;

	if (!g_str_has_prefix (path, "/endpoints/"))
		return NULL;
	name = path + strlen ("/endpoints/");
	if (g_str_has_prefix (name, "t/")) {
		const char *tenant = name + 2;
		const char *slash = strchr (tenant, '/');

		if (slash == NULL || slash == tenant)
			return NULL;
		name = slash + 1;
	}
	if (*name == '\0' || strchr (name, '/') != NULL)
		return NULL;
	return g_hash_table_lookup (self->endpoint_table, name);
}

static void
on_got_chunk (SoupServerMessage *msg, GBytes *chunk, gpointer user_data)
{
	Request *req = user_data;
	TandemHttpReceiver *self = req->self;
	gsize size = 0;
	gconstpointer data = g_bytes_get_data (chunk, &size);

	req->received += size;
	if (req->received > self->max_body_bytes) {
		g_autofree char *detail = NULL;
		g_autofree char *body = NULL;

		g_signal_handlers_disconnect_by_data (msg, req);
		if (req->status != 0) {
			answer_and_close (self, msg, req->conn, req->status, req->answer,
					  req->header_name, req->header_value);
			return;
		}
		detail = g_strdup_printf (
			"the body is larger than max_body_bytes (%" G_GUINT64_FORMAT " bytes)",
			self->max_body_bytes);
		body = error_json (error_name (SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE), detail);
		answer_and_close (self, msg, req->conn, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, body,
				  NULL, NULL);
		return;
	}
	if (req->body != NULL)
		g_byte_array_append (req->body, data, (guint) size);
}

/* Decides from the headers what happens to a request: refused (404, 405,
 * 401, 415, 413, 503, 400) or read. */
static void
check_headers (TandemHttpReceiver *self,
	       SoupServerMessage *msg,
	       Request *req,
	       const char *path,
	       goffset content_length)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
	TandemNode *node = tandem_plugin_get_node (TANDEM_PLUGIN (self));
	g_autoptr(GError) busy = NULL;
	const char *method = soup_server_message_get_method (msg);
	const char *content_type;
	const char *key;
	g_autoptr(GHashTable) params = NULL;

	if (self->auth != TANDEM_HTTP_AUTH_NONE && !check_credentials (self, headers)) {
		const char *challenge = self->auth == TANDEM_HTTP_AUTH_BEARER
						? "Bearer realm=\"" REALM "\""
						: "Basic realm=\"" REALM "\", charset=\"UTF-8\"";

		request_refuse (req, SOUP_STATUS_UNAUTHORIZED, "WWW-Authenticate", challenge,
				"missing or wrong credentials");
		return;
	}
	req->endpoint = lookup_endpoint (self, path);
	if (req->endpoint == NULL) {
		g_autofree char *detail = g_strdup_printf ("no receiver at %s", path);

		request_refuse (req, SOUP_STATUS_NOT_FOUND, NULL, NULL, detail);
		return;
	}
	if (g_strcmp0 (method, SOUP_METHOD_POST) != 0) {
		g_autofree char *detail =
			g_strdup_printf ("method %s is not allowed: send events with POST", method);

		request_refuse (req, SOUP_STATUS_METHOD_NOT_ALLOWED, "Allow", "POST", detail);
		return;
	}
	/* parameters (a charset) only when there are some: it costs a table */
	content_type = soup_message_headers_get_one (headers, "Content-Type");
	content_type =
		soup_message_headers_get_content_type (headers,
						       content_type != NULL && strchr (content_type,
										       ';') != NULL
							       ? &params
							       : NULL);
	if (content_type == NULL || g_ascii_strcasecmp (content_type, "application/json") == 0) {
		req->format = TANDEM_HTTP_BODY_FORMAT_JSON;
	} else if (g_ascii_strcasecmp (content_type, "application/x-ndjson") == 0) {
		req->format = TANDEM_HTTP_BODY_FORMAT_NDJSON;
	} else {
		g_autofree char *detail =
			g_strdup_printf ("Content-Type %s is not supported: send "
					 "application/json or application/x-ndjson",
					 content_type);

		request_refuse (req, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, NULL, NULL, detail);
		return;
	}
	if (params != NULL && g_hash_table_contains (params, "charset")) {
		const char *charset = g_hash_table_lookup (params, "charset");

		if (charset == NULL || (g_ascii_strcasecmp (charset, "utf-8") != 0 &&
					g_ascii_strcasecmp (charset, "utf8") != 0)) {
			g_autofree char *detail =
				g_strdup_printf ("charset %s is not supported: send UTF-8",
						 charset != NULL ? charset : "(empty)");

			request_refuse (req, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, NULL, NULL,
					detail);
			return;
		}
	}
	if (content_length > 0 && (guint64) content_length > self->max_body_bytes) {
		g_autofree char *detail = g_strdup_printf ("Content-Length %" G_GOFFSET_FORMAT
							   " is larger than max_body_bytes "
							   "(%" G_GUINT64_FORMAT " bytes)",
							   content_length, self->max_body_bytes);

		request_refuse (req, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL, NULL, detail);
		return;
	}
	key = soup_message_headers_get_one (headers, "Idempotency-Key");
	if (key != NULL && (*key == '\0' || strlen (key) > MAX_IDEMPOTENCY_KEY)) {
		g_autofree char *detail =
			g_strdup_printf ("Idempotency-Key must be 1-%u bytes", MAX_IDEMPOTENCY_KEY);

		request_refuse (req, SOUP_STATUS_BAD_REQUEST, NULL, NULL, detail);
		return;
	}
	if (node == NULL || !tandem_node_check_accepting (node, &busy))
		request_refuse (req, SOUP_STATUS_SERVICE_UNAVAILABLE, "Retry-After", RETRY_AFTER_S,
				busy != NULL ? busy->message : "the node is not running");
	else if (tandem_receiver_is_paused (TANDEM_RECEIVER (self)))
		request_refuse (req, SOUP_STATUS_SERVICE_UNAVAILABLE, "Retry-After", RETRY_AFTER_S,
				"the node's ingest queue is full: retry later");
}

static void
early_handler (SoupServer *server,
	       SoupServerMessage *msg,
	       const char *path,
	       GHashTable *query,
	       gpointer user_data)
{
	TandemHttpReceiver *self = user_data;
	Connection *conn = connection_from_message (msg);
	SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
	SoupEncoding encoding = soup_message_headers_get_encoding (headers);
	goffset content_length = 0;
	Request *req;

	soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
	if (conn == NULL) {
		/* not counted: refused in on_request_started() */
		soup_message_headers_replace (soup_server_message_get_response_headers (msg),
					      "Connection", "close");
		respond_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "Retry-After",
			       RETRY_AFTER_S, "too many connections (max_connections)");
		return;
	}
	connection_set_state (conn, CONN_BODY, self->idle_timeout);

	req = g_new0 (Request, 1);
	req->self = g_object_ref (self);
	req->conn = connection_ref (conn);
	g_object_set_qdata_full (G_OBJECT (msg), request_quark, req, (GDestroyNotify) request_free);

	if (encoding == SOUP_ENCODING_CONTENT_LENGTH)
		content_length = soup_message_headers_get_content_length (headers);
	else if (encoding != SOUP_ENCODING_NONE)
		content_length = -1; /* chunked: counted as it comes */
	check_headers (self, msg, req, path, content_length);

	if (req->status != 0) {
		gboolean expects_continue = (soup_message_headers_get_expectations (headers) &
					     SOUP_EXPECTATION_CONTINUE) != 0;

		if (content_length == 0 || expects_continue) {
			/* no body will come: libsoup answers now */
			respond_decided (self, msg, req);
			return;
		}
		if (content_length > 0 && (guint64) content_length > self->max_body_bytes) {
			/* never read a body beyond the limit: answer and close */
			answer_and_close (self, msg, conn, req->status, req->answer,
					  req->header_name, req->header_value);
			return;
		}
		/* a small body: read and drop it, answer in handler(), keep the connection */
	} else if (content_length > 0 && (guint64) content_length <= self->max_body_bytes) {
		/* libsoup reads exactly that much: let it keep the body, and
		 * spare every request a signal handler and a copy */
		soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), TRUE);
		req->kept_by_soup = TRUE;
		return;
	} else {
		req->body =
			g_byte_array_sized_new (content_length > 0 ? (guint) content_length : 4096);
	}
	g_signal_connect (msg, "got-chunk", G_CALLBACK (on_got_chunk), req);
}

/* Appends the decimal digits of @v at @p; returns the end. */
static char *
append_uint (char *p, guint64 v)
{
	char digits[20];
	guint n = 0;

	do {
		digits[n++] = (char) ('0' + v % 10);
		v /= 10;
	} while (v > 0);
	while (n > 0)
		*p++ = digits[--n];
	return p;
}

/* {"accepted":N,"first_seq":N,"new":N}: on every request, so without
 * printf (a noticeable share of the cost of a one-event request) */
static char *
accepted_json (guint n_events, guint64 first_seq, guint n_new)
{
	char *out = g_malloc (sizeof "{\"accepted\":,\"first_seq\":,\"new\":}" + 10 + 20 + 10);
	char *p = out;

#define APPEND_LITERAL(s) (memcpy (p, s, sizeof s - 1), p += sizeof s - 1)
	APPEND_LITERAL ("{\"accepted\":");
	p = append_uint (p, n_events);
	APPEND_LITERAL (",\"first_seq\":");
	p = append_uint (p, first_seq);
	APPEND_LITERAL (",\"new\":");
	p = append_uint (p, n_new);
	APPEND_LITERAL ("}");
#undef APPEND_LITERAL
	*p = '\0';
	return out;
}

/* The answer to an ingested request: 202 only once the node accepted it. */
static void
answer_ingest (TandemHttpReceiver *self,
	       SoupServerMessage *msg,
	       Request *req,
	       gboolean ok,
	       guint64 first_seq,
	       guint n_new,
	       const GError *error)
{
	if (!ok) {
		if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_BUSY) ||
		    g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT))
			respond_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "Retry-After",
				       RETRY_AFTER_S, error->message);
		else if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT))
			respond_error (self, msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, NULL, NULL,
				       error->message);
		else
			respond_error (self, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL,
				       error->message);
		return;
	}
	respond (self, msg, SOUP_STATUS_ACCEPTED, accepted_json (req->n_events, first_seq, n_new));
}

typedef struct {
	TandemHttpReceiver *self;
	SoupServerMessage *msg;
	Request *req; /* owned by msg */
} Pending;

static void
on_ingested (GObject *source, GAsyncResult *result, gpointer data)
{
	Pending *p = data;
	g_autoptr(GError) error = NULL;
	guint64 first_seq = 0;
	guint n_new = 0;
	gboolean ok = tandem_node_ingest_finish (TANDEM_NODE (source), result, &first_seq, &n_new, &error);

	answer_ingest (p->self, p->msg, p->req, ok, first_seq, n_new, error);
	soup_server_message_unpause (p->msg);
	g_object_unref (p->msg);
	g_object_unref (p->self);
	g_free (p);
}

static void
handler (SoupServer *server,
	 SoupServerMessage *msg,
	 const char *path,
	 GHashTable *query,
	 gpointer user_data)
{
	TandemHttpReceiver *self = user_data;
	Request *req = g_object_get_qdata (G_OBJECT (msg), request_quark);
	TandemNode *node = tandem_plugin_get_node (TANDEM_PLUGIN (self));
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GPtrArray) ids = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) busy = NULL;
	g_autoptr(GBytes) kept = NULL;
	const char *data;
	gsize len;
	const char *key;
	guint64 first_seq = 0;
	guint n_new = 0;
	gboolean ok;

	if (req == NULL) {
		respond_error (self, msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, NULL, NULL,
			       "request not prepared");
		return;
	}
	if (req->status != 0) {
		respond_decided (self, msg, req);
		return;
	}
	if (req->conn != NULL)
		connection_set_state (req->conn, CONN_HANDLING, 0);
	if (req->kept_by_soup) {
		kept = soup_message_body_flatten (soup_server_message_get_request_body (msg));
		data = g_bytes_get_data (kept, &len);
	} else {
		data = (const char *) req->body->data;
		len = req->body->len;
	}
	if (!tandem_http_body_parse (req->endpoint->schema, req->format, data, len,
				     self->max_events_per_request, g_get_real_time () / 1000,
				     &events, &ids, &error)) {
		guint status = SOUP_STATUS_UNPROCESSABLE_ENTITY;

		if (g_error_matches (error, TANDEM_HTTP_BODY_ERROR, TANDEM_HTTP_BODY_ERROR_SYNTAX))
			status = SOUP_STATUS_BAD_REQUEST;
		else if (g_error_matches (error, TANDEM_HTTP_BODY_ERROR,
					  TANDEM_HTTP_BODY_ERROR_TOO_MANY))
			status = SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
		respond (self, msg, status,
			 error_json (status == SOUP_STATUS_BAD_REQUEST ? "malformed JSON"
								       : error_name (status),
				     error->message));
		return;
	}
	g_clear_pointer (&req->body, g_byte_array_unref);
	if (node == NULL || !tandem_node_check_accepting (node, &busy) ||
	    tandem_receiver_is_paused (TANDEM_RECEIVER (self))) {
		respond_error (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "Retry-After", RETRY_AFTER_S,
			       busy != NULL ? busy->message : "the node's ingest queue is full: retry later");
		return;
	}
	req->n_events = events->len;
	key = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
					    "Idempotency-Key");
	/* clients send every event to both nodes: the copies are matched by
	 * id (or by the request's key), so an event without one is refused */
	if (key == NULL && tandem_receiver_get_duplicated_in_cluster (TANDEM_RECEIVER (self))) {
		for (guint i = 0; i < events->len; i++) {
			const char *id = ids != NULL && i < ids->len ? g_ptr_array_index (ids, i) : NULL;

			if (id == NULL || *id == '\0') {
				g_autofree char *detail = g_strdup_printf (
					"event %u has no id: with duplicated_in_cluster = true every event needs "
					"an \"id\" (or the request an Idempotency-Key), so that the nodes can "
					"match the copies clients send to both",
					i);

				respond_error (self, msg, SOUP_STATUS_UNPROCESSABLE_ENTITY, NULL, NULL, detail);
				return;
			}
		}
	}
	if (!tandem_node_acks_at_acceptance (node)) {
		/* the acknowledgement waits for the passive (or for the active,
		 * on a passive that forwards): answer when the node says */
		Pending *p = g_new0 (Pending, 1);

		p->self = g_object_ref (self);
		p->msg = g_object_ref (msg);
		p->req = req;
		soup_server_message_pause (msg);
		tandem_node_ingest_async (node, req->endpoint->stream_id, events,
					  ids != NULL ? (const char *const *) ids->pdata : NULL, key, NULL, on_ingested, p);
		return;
	}
	/* the node acknowledges at acceptance: answer in this same call, with
	 * no pause and no main loop round trip */
	ok = tandem_node_ingest (node, req->endpoint->stream_id, events,
				 ids != NULL ? (const char *const *) ids->pdata : NULL, key, &first_seq,
				 &n_new, &error);
	answer_ingest (self, msg, req, ok, first_seq, n_new, error);
}

/* --- setup ---------------------------------------------------------------- */

static void add_setup_error (GString *errors,
			     TandemConfigSection *section,
			     const char *key,
			     const char *format,
			     ...) G_GNUC_PRINTF (4, 5);

static void
add_setup_error (GString *errors,
		 TandemConfigSection *section,
		 const char *key,
		 const char *format,
		 ...)
{
	g_autofree char *message = NULL;
	g_autoptr(GError) error = NULL;
	va_list args;

	va_start (args, format);
	message = g_strdup_vprintf (format, args);
	va_end (args);
	if (section != NULL) {
		tandem_config_section_set_error (section, key, &error, "%s", message);
		g_string_append_printf (errors, "%s\n", error->message);
	} else {
		g_string_append_printf (errors, "key '%s': %s\n", key, message);
	}
}

static gboolean
valid_receiver_name (const char *name)
{
	gsize n = strlen (name);

	if (n == 0 || n > 64)
		return FALSE;
	for (const char *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

static void
setup_endpoints (TandemHttpReceiver *self, TandemConfigSection *section, GString *errors)
{
	TandemNode *node = tandem_plugin_get_node (TANDEM_PLUGIN (self));

	if (self->endpoints == NULL || self->endpoints[0] == NULL) {
		add_setup_error (
			errors, section, "endpoints",
			"expected at least one endpoint, as RECEIVER=STREAM or RECEIVER=STREAM:VERSION");
		return;
	}
	for (guint i = 0; self->endpoints[i] != NULL; i++) {
		const char *item = self->endpoints[i];
		const char *eq = strchr (item, '=');
		g_autofree char *receiver = NULL;
		g_autofree char *stream = NULL;
		Endpoint *endpoint;

		if (eq == NULL) {
			add_setup_error (
				errors, section, "endpoints",
				"expected RECEIVER=STREAM or RECEIVER=STREAM:VERSION, got \"%s\"",
				item);
			continue;
		}
		receiver = g_strstrip (g_strndup (item, (gsize) (eq - item)));
		stream = g_strstrip (g_strdup (eq + 1));
		if (!valid_receiver_name (receiver)) {
			add_setup_error (
				errors, section, "endpoints",
				"receiver name \"%s\": expected 1-64 letters, digits, '-', '_' or '.'",
				receiver);
			continue;
		}
		if (*stream == '\0') {
			add_setup_error (errors, section, "endpoints",
					 "receiver %s: expected a stream after '='", receiver);
			continue;
		}
		if (g_hash_table_contains (self->endpoint_table, receiver)) {
			add_setup_error (errors, section, "endpoints",
					 "receiver %s is listed twice", receiver);
			continue;
		}
		endpoint = g_new0 (Endpoint, 1);
		endpoint->receiver = g_steal_pointer (&receiver);
		endpoint->stream = g_steal_pointer (&stream);
		if (node != NULL) {
			TandemStreamDefinition *def =
				tandem_node_lookup_stream (node, endpoint->stream);

			if (def == NULL) {
				add_setup_error (
					errors, section, "endpoints",
					"receiver %s: the node has no stream %s (define it in a plan or "
					"in [engine] streams)",
					endpoint->receiver, endpoint->stream);
				endpoint_free (endpoint);
				continue;
			}
			endpoint->stream_id = g_strdup (tandem_stream_definition_get_id (def));
			endpoint->schema = tandem_http_body_schema_new (def);
		}
		g_ptr_array_add (self->endpoint_list, endpoint);
		g_hash_table_insert (self->endpoint_table, endpoint->receiver, endpoint);
	}
}

static void
setup_credentials (TandemHttpReceiver *self, TandemConfigSection *section, GString *errors)
{
	g_autofree char *contents = NULL;
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) lines = NULL;
	const char *path = self->credentials_file;
	GStatBuf st;

	if (self->auth == TANDEM_HTTP_AUTH_NONE) {
		if (path != NULL && *path != '\0')
			add_setup_error (
				errors, section, "credentials_file",
				"not used with auth = none: set auth = bearer or auth = basic");
		return;
	}
	if (path == NULL || *path == '\0') {
		add_setup_error (errors, section, "auth", "auth = %s needs credentials_file (%s)",
				 self->auth == TANDEM_HTTP_AUTH_BEARER ? "bearer" : "basic",
				 self->auth == TANDEM_HTTP_AUTH_BEARER ? "one token per line"
								       : "user:password lines");
		return;
	}
	if (!g_file_get_contents (path, &contents, NULL, &error)) {
		add_setup_error (errors, section, "credentials_file", "%s", error->message);
		return;
	}
	if (g_stat (path, &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
		g_warning (
			"http receiver %s: credentials file %s is readable by other users: chmod 600 it",
			tandem_plugin_get_name (TANDEM_PLUGIN (self)), path);
	lines = g_strsplit (contents, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		char *line = g_strstrip (lines[i]);

		if (*line == '\0' || *line == '#')
			continue;
		if (self->auth == TANDEM_HTTP_AUTH_BEARER && strpbrk (line, " \t") != NULL) {
			add_setup_error (errors, section, "credentials_file",
					 "%s:%u: a token must not contain spaces", path, i + 1);
			continue;
		}
		if (self->auth == TANDEM_HTTP_AUTH_BASIC &&
		    (strchr (line, ':') == NULL || *line == ':')) {
			add_setup_error (errors, section, "credentials_file",
					 "%s:%u: expected user:password", path, i + 1);
			continue;
		}
		g_hash_table_add (self->credentials,
				  g_compute_checksum_for_string (G_CHECKSUM_SHA256, line, -1));
	}
	if (g_hash_table_size (self->credentials) == 0)
		add_setup_error (errors, section, "credentials_file", "%s holds no credentials",
				 path);
}

static void
setup_tls (TandemHttpReceiver *self, TandemConfigSection *section, GString *errors)
{
	gboolean have_cert = self->tls_certificate != NULL && *self->tls_certificate != '\0';
	gboolean have_key = self->tls_key != NULL && *self->tls_key != '\0';
	g_autoptr(GError) error = NULL;

	if (!have_cert) {
		if (have_key)
			add_setup_error (errors, section, "tls_key",
					 "tls_key needs tls_certificate");
		return;
	}
	if (!g_tls_backend_supports_tls (g_tls_backend_get_default ())) {
		add_setup_error (
			errors, section, "tls_certificate",
			"this system has no TLS backend for GIO (install glib-networking)");
		return;
	}
	if (have_key)
		self->certificate = g_tls_certificate_new_from_files (self->tls_certificate,
								      self->tls_key, &error);
	else
		self->certificate = g_tls_certificate_new_from_file (self->tls_certificate, &error);
	if (self->certificate == NULL)
		add_setup_error (errors, section, have_key ? "tls_key" : "tls_certificate", "%s",
				 error->message);
}

static gboolean
tandem_http_receiver_setup (TandemPlugin *plugin, TandemConfigSection *section, GError **error)
{
	TandemHttpReceiver *self = TANDEM_HTTP_RECEIVER (plugin);
	g_autoptr(GString) errors = g_string_new (NULL);
	g_autoptr(GInetAddress) address = NULL;

	if (TANDEM_PLUGIN_CLASS (tandem_http_receiver_parent_class)->setup != NULL &&
	    !TANDEM_PLUGIN_CLASS (tandem_http_receiver_parent_class)
		     ->setup (plugin, section, error))
		return FALSE;

	g_ptr_array_set_size (self->endpoint_list, 0);
	g_hash_table_remove_all (self->endpoint_table);
	g_hash_table_remove_all (self->credentials);
	g_clear_object (&self->certificate);

	address = self->address != NULL ? g_inet_address_new_from_string (self->address) : NULL;
	if (address == NULL)
		add_setup_error (errors, section, "address",
				 "expected an IPv4 or IPv6 address, got \"%s\"",
				 self->address != NULL ? self->address : "");
	setup_endpoints (self, section, errors);
	setup_credentials (self, section, errors);
	setup_tls (self, section, errors);

	if (errors->len > 0) {
		g_string_truncate (errors, errors->len - 1);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, errors->str);
		return FALSE;
	}
	return TRUE;
}

/* --- start and stop ------------------------------------------------------- */

static gboolean
tandem_http_receiver_start (TandemPlugin *plugin, GError **error)
{
	TandemHttpReceiver *self = TANDEM_HTTP_RECEIVER (plugin);
	TandemNode *node = tandem_plugin_get_node (plugin);
	g_autoptr(SoupServer) server = NULL;
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GSocketService) service = NULL;
	g_autoptr(GSocket) dummy = NULL;
	guint port = self->port;

	if (node == NULL) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "the receiver serves no node");
		return FALSE;
	}
	for (guint i = 0; i < self->endpoint_list->len; i++) {
		Endpoint *endpoint = g_ptr_array_index (self->endpoint_list, i);
		TandemStreamDefinition *def;

		if (endpoint->schema != NULL)
			continue;
		def = tandem_node_lookup_stream (node, endpoint->stream);
		if (def == NULL) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				     "receiver %s: the node has no stream %s", endpoint->receiver,
				     endpoint->stream);
			return FALSE;
		}
		endpoint->stream_id = g_strdup (tandem_stream_definition_get_id (def));
		endpoint->schema = tandem_http_body_schema_new (def);
	}

	dummy = dummy_listener_new (error);
	if (dummy == NULL) {
		g_prefix_error (error, "cannot create libsoup's listener: ");
		return FALSE;
	}
	server = soup_server_new ("server-header", "tandem-http ", NULL);
	if (!soup_server_listen_socket (server, dummy, 0, error))
		return FALSE;
	g_signal_connect (server, "request-started", G_CALLBACK (on_request_started), self);
	g_signal_connect (server, "request-finished", G_CALLBACK (on_request_done), self);
	g_signal_connect (server, "request-aborted", G_CALLBACK (on_request_done), self);
	soup_server_add_early_handler (server, NULL, early_handler, self, NULL);
	soup_server_add_handler (server, NULL, handler, self, NULL);

	service = g_socket_service_new ();
	address = g_inet_socket_address_new_from_string (self->address, port);
	if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
					    G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
					    &bound, error)) {
		g_prefix_error (error, "cannot listen on %s:%u: ", self->address, port);
		return FALSE;
	}
	if (G_IS_INET_SOCKET_ADDRESS (bound))
		port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
	self->connections = g_hash_table_new_full (g_direct_hash, g_direct_equal,
						   (GDestroyNotify) connection_unref, NULL);
	self->server = g_steal_pointer (&server);
	self->service = g_steal_pointer (&service);
	g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
	g_socket_service_start (self->service);
	if (strchr (self->address, ':') != NULL)
		g_message ("http receiver %s listening on [%s]:%u", tandem_plugin_get_name (plugin),
			   self->address, port);
	else
		g_message ("http receiver %s listening on %s:%u", tandem_plugin_get_name (plugin),
			   self->address, port);
	for (guint i = 0; i < self->endpoint_list->len; i++) {
		Endpoint *endpoint = g_ptr_array_index (self->endpoint_list, i);

		g_info ("http receiver %s: %s /endpoints/%s -> stream %s",
			tandem_plugin_get_name (plugin),
			self->certificate != NULL ? "https" : "http", endpoint->receiver,
			endpoint->stream_id);
	}
	return TRUE;
}

static gboolean
tandem_http_receiver_stop (TandemPlugin *plugin, GError **error)
{
	TandemHttpReceiver *self = TANDEM_HTTP_RECEIVER (plugin);

	if (self->service != NULL) {
		g_socket_service_stop (self->service);
		g_socket_listener_close (G_SOCKET_LISTENER (self->service));
		g_signal_handlers_disconnect_by_data (self->service, self);
		g_clear_object (&self->service);
	}
	/* libsoup closes the connections it serves: they forget themselves */
	if (self->server != NULL)
		soup_server_disconnect (self->server);
	if (self->connections != NULL) {
		g_autoptr(GPtrArray) rest =
			g_ptr_array_new_with_free_func ((GDestroyNotify) connection_unref);
		GHashTableIter iter;
		gpointer key;

		/* TLS handshakes, and answers being written on stolen connections */
		g_hash_table_iter_init (&iter, self->connections);
		while (g_hash_table_iter_next (&iter, &key, NULL))
			g_ptr_array_add (rest, connection_ref (key));
		for (guint i = 0; i < rest->len; i++)
			connection_close (g_ptr_array_index (rest, i));
		g_clear_pointer (&self->connections, g_hash_table_unref);
	}
	g_clear_handle_id (&self->sweep_id, g_source_remove);
	g_clear_object (&self->server);
	return TRUE;
}

static void
tandem_http_receiver_pause (TandemReceiver *receiver)
{
	g_info ("http receiver %s: the node's ingest queue is full: answering 503",
		tandem_plugin_get_name (TANDEM_PLUGIN (receiver)));
}

static void
tandem_http_receiver_resume (TandemReceiver *receiver)
{
	g_info ("http receiver %s: taking events again",
		tandem_plugin_get_name (TANDEM_PLUGIN (receiver)));
}

/* --- GObject -------------------------------------------------------------- */

static void
tandem_http_receiver_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemHttpReceiver *self = TANDEM_HTTP_RECEIVER (object);

	switch (prop_id) {
	case PROP_ADDRESS:
		g_value_set_string (value, self->address);
		break;
	case PROP_PORT:
		g_value_set_uint (value, self->port);
		break;
	case PROP_ENDPOINTS:
		g_value_set_boxed (value, self->endpoints);
		break;
	case PROP_MAX_BODY_BYTES:
		g_value_set_uint64 (value, self->max_body_bytes);
		break;
	case PROP_MAX_EVENTS_PER_REQUEST:
		g_value_set_uint (value, self->max_events_per_request);
		break;
	case PROP_MAX_CONNECTIONS:
		g_value_set_uint (value, self->max_connections);
		break;
	case PROP_HEADER_TIMEOUT:
		g_value_set_uint (value, self->header_timeout);
		break;
	case PROP_IDLE_TIMEOUT:
		g_value_set_uint (value, self->idle_timeout);
		break;
	case PROP_AUTH:
		g_value_set_enum (value, self->auth);
		break;
	case PROP_CREDENTIALS_FILE:
		g_value_set_string (value, self->credentials_file);
		break;
	case PROP_TLS_CERTIFICATE:
		g_value_set_string (value, self->tls_certificate);
		break;
	case PROP_TLS_KEY:
		g_value_set_string (value, self->tls_key);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_http_receiver_set_property (GObject *object,
				   guint prop_id,
				   const GValue *value,
				   GParamSpec *pspec)
{
	TandemHttpReceiver *self = TANDEM_HTTP_RECEIVER (object);

	switch (prop_id) {
	case PROP_ADDRESS:
		g_free (self->address);
		self->address = g_value_dup_string (value);
		break;
	case PROP_PORT:
		self->port = g_value_get_uint (value);
		break;
	case PROP_ENDPOINTS:
		g_strfreev (self->endpoints);
		self->endpoints = g_value_dup_boxed (value);
		break;
	case PROP_MAX_BODY_BYTES:
		self->max_body_bytes = g_value_get_uint64 (value);
		break;
	case PROP_MAX_EVENTS_PER_REQUEST:
		self->max_events_per_request = g_value_get_uint (value);
		break;
	case PROP_MAX_CONNECTIONS:
		self->max_connections = g_value_get_uint (value);
		break;
	case PROP_HEADER_TIMEOUT:
		self->header_timeout = g_value_get_uint (value);
		break;
	case PROP_IDLE_TIMEOUT:
		self->idle_timeout = g_value_get_uint (value);
		break;
	case PROP_AUTH:
		self->auth = g_value_get_enum (value);
		break;
	case PROP_CREDENTIALS_FILE:
		g_free (self->credentials_file);
		self->credentials_file = g_value_dup_string (value);
		break;
	case PROP_TLS_CERTIFICATE:
		g_free (self->tls_certificate);
		self->tls_certificate = g_value_dup_string (value);
		break;
	case PROP_TLS_KEY:
		g_free (self->tls_key);
		self->tls_key = g_value_dup_string (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_http_receiver_dispose (GObject *object)
{
	tandem_http_receiver_stop (TANDEM_PLUGIN (object), NULL);
	G_OBJECT_CLASS (tandem_http_receiver_parent_class)->dispose (object);
}

static void
tandem_http_receiver_finalize (GObject *object)
{
	TandemHttpReceiver *self = TANDEM_HTTP_RECEIVER (object);

	g_free (self->address);
	g_strfreev (self->endpoints);
	g_free (self->credentials_file);
	g_free (self->tls_certificate);
	g_free (self->tls_key);
	g_ptr_array_unref (self->endpoint_list);
	g_hash_table_unref (self->endpoint_table);
	g_hash_table_unref (self->credentials);
	g_clear_object (&self->certificate);

	G_OBJECT_CLASS (tandem_http_receiver_parent_class)->finalize (object);
}

static void
tandem_http_receiver_class_init (TandemHttpReceiverClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);
	TandemReceiverClass *receiver_class = TANDEM_RECEIVER_CLASS (klass);
	GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG;

	object_class->get_property = tandem_http_receiver_get_property;
	object_class->set_property = tandem_http_receiver_set_property;
	object_class->dispose = tandem_http_receiver_dispose;
	object_class->finalize = tandem_http_receiver_finalize;
	plugin_class->setup = tandem_http_receiver_setup;
	plugin_class->start = tandem_http_receiver_start;
	plugin_class->stop = tandem_http_receiver_stop;
	receiver_class->pause = tandem_http_receiver_pause;
	receiver_class->resume = tandem_http_receiver_resume;

	connection_quark = g_quark_from_static_string ("tandem-http-connection");
	request_quark = g_quark_from_static_string ("tandem-http-request");

	/**
	 * TandemHttpReceiver:address:
	 *
	 * Config key `address`: the IP address to listen on.
	 */
	props[PROP_ADDRESS] = g_param_spec_string ("address", NULL, "IP address to listen on",
						   "127.0.0.1", flags);
	/**
	 * TandemHttpReceiver:port:
	 *
	 * Config key `port`: the TCP port to listen on (9763, as WSO2's HTTP
	 * receiver); 0 picks a free port, logged at start.
	 */
	props[PROP_PORT] =
		g_param_spec_uint ("port", NULL, "TCP port to listen on (0: any free port)", 0,
				   65535, 9763, flags);
	/**
	 * TandemHttpReceiver:endpoints:
	 *
	 * Config key `endpoints`: one `RECEIVER=STREAM` or
	 * `RECEIVER=STREAM:VERSION` per endpoint, served at
	 * `POST /endpoints/RECEIVER` and `POST /endpoints/t/TENANT/RECEIVER`.
	 */
	props[PROP_ENDPOINTS] =
		g_param_spec_boxed ("endpoints", NULL, "RECEIVER=STREAM[:VERSION] list",
				    G_TYPE_STRV, flags);
	/**
	 * TandemHttpReceiver:max-body-bytes:
	 *
	 * Config key `max_body_bytes`: the largest request body read; larger
	 * ones are answered 413 without being read.
	 */
	props[PROP_MAX_BODY_BYTES] =
		g_param_spec_uint64 ("max-body-bytes", NULL, "largest request body", 1,
				     G_GUINT64_CONSTANT (1) << 30, 1 << 20, flags);
	/**
	 * TandemHttpReceiver:max-events-per-request:
	 *
	 * Config key `max_events_per_request`: the most events one request may
	 * carry (413 beyond).
	 */
	props[PROP_MAX_EVENTS_PER_REQUEST] =
		g_param_spec_uint ("max-events-per-request", NULL, "most events in one request", 1,
				   10000000, 10000, flags);
	/**
	 * TandemHttpReceiver:max-connections:
	 *
	 * Config key `max_connections`: the most client connections open at
	 * once; further ones are closed as soon as they are accepted.
	 */
	props[PROP_MAX_CONNECTIONS] =
		g_param_spec_uint ("max-connections", NULL, "most open connections", 1, 1000000,
				   1024, flags);
	/**
	 * TandemHttpReceiver:header-timeout:
	 *
	 * Config key `header_timeout`: seconds a client has to send a
	 * request's line and headers in full, from the connection's accept
	 * (TLS handshake included) or the request's first byte.
	 */
	props[PROP_HEADER_TIMEOUT] =
		g_param_spec_uint ("header-timeout", NULL, "seconds to send the headers", 1, 3600,
				   10, flags);
	/**
	 * TandemHttpReceiver:idle-timeout:
	 *
	 * Config key `idle_timeout`: seconds a client has to send a body in
	 * full after its headers, to read an answer, or to start the next
	 * request on a kept-alive connection.
	 */
	props[PROP_IDLE_TIMEOUT] =
		g_param_spec_uint ("idle-timeout", NULL, "seconds a client may keep us waiting", 1,
				   86400, 60, flags);
	/**
	 * TandemHttpReceiver:auth:
	 *
	 * Config key `auth`: `none`, `bearer` or `basic`.
	 */
	props[PROP_AUTH] = g_param_spec_enum ("auth", NULL, "none, bearer or basic",
					      TANDEM_TYPE_HTTP_AUTH, TANDEM_HTTP_AUTH_NONE, flags);
	/**
	 * TandemHttpReceiver:credentials-file:
	 *
	 * Config key `credentials_file`: for `auth = bearer` one token per
	 * line, for `auth = basic` one `user:password` per line; read at setup.
	 */
	props[PROP_CREDENTIALS_FILE] = g_param_spec_string ("credentials-file", NULL,
							    "file of tokens or users", NULL, flags);
	/**
	 * TandemHttpReceiver:tls-certificate:
	 *
	 * Config key `tls_certificate`: a PEM certificate (chain); when set the
	 * receiver speaks HTTPS only.
	 */
	props[PROP_TLS_CERTIFICATE] =
		g_param_spec_string ("tls-certificate", NULL, "PEM certificate file", NULL, flags);
	/**
	 * TandemHttpReceiver:tls-key:
	 *
	 * Config key `tls_key`: the PEM private key of `tls_certificate`
	 * (unset: the key is in the certificate file).
	 */
	props[PROP_TLS_KEY] =
		g_param_spec_string ("tls-key", NULL, "PEM private key file", NULL, flags);

	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_http_receiver_class_finalize (TandemHttpReceiverClass *klass)
{
}

static void
tandem_http_receiver_init (TandemHttpReceiver *self)
{
	self->address = g_strdup ("127.0.0.1");
	self->port = 9763;
	self->max_body_bytes = 1 << 20;
	self->max_events_per_request = 10000;
	self->max_connections = 1024;
	self->header_timeout = 10;
	self->idle_timeout = 60;
	self->auth = TANDEM_HTTP_AUTH_NONE;
	self->endpoint_list = g_ptr_array_new_with_free_func ((GDestroyNotify) endpoint_free);
	self->endpoint_table = g_hash_table_new (g_str_hash, g_str_equal);
	self->credentials = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

static GType
tandem_http_receiver_register_types (GTypeModule *module)
{
	tandem_http_auth_register_type (module);
	tandem_http_input_stream_register (module);
	tandem_http_receiver_register_type (module);
	return TANDEM_TYPE_HTTP_RECEIVER;
}

TANDEM_PLUGIN_DEFINE ("http",
		      TANDEM_PLUGIN_KIND_RECEIVER,
		      "0.1.0",
		      "LGPL-2.1-or-later",
		      "Receives events over HTTP (WSO2 event JSON, flat JSON, NDJSON)",
		      tandem_http_receiver_register_types)
