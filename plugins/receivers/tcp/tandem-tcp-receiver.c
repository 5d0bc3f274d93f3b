/* tandem-tcp-receiver.c: the tcp receiver plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Takes batches of events from high-rate publishers over TCP, in the
 * length-prefixed binary frames of tandem-tcp-frame.h (README.md documents
 * them), hands each batch to the node's sequenced ingest and acknowledges it
 * once the node accepted it.
 *
 * Everything runs on the main loop.  Each connection reads with
 * g_input_stream_read_async() into its own buffer, decodes whole frames into
 * batches, and hands its batches to the node in order (tandem_node_accept()
 * sequences each at once), so that the events of one connection keep their
 * order.  It does not wait for a batch's acknowledgement (with ack =
 * replicated or durable, the passive or the event store) before handing
 * over the next one; the ACKs go out in request order as the waits end.  A
 * passive node forwards batches to the active: then one at a time, once
 * every batch before is acknowledged.
 *
 * Reading stops (the data waits in the kernel, and the client's
 * writes block when its buffers are full) while:
 *
 * - the node paused the receiver because its ingest queue is full;
 * - the connection has MAX_UNACKED batches, or MAX_PENDING_BYTES of frames,
 *   not acknowledged yet;
 * - the client does not read its ACKs (OUT_HIGH_WATER bytes wait to be sent).
 *
 * A batch the node refuses as busy is kept and ingested again when the node
 * has room: nothing received is dropped while the connection is open.
 *
 * A frame that does not decode gets an ERROR frame, after the ACKs of the
 * requests before it; then the server shuts its side down and discards what
 * the client still sends for a moment (so that the client reads the ERROR
 * instead of a reset), and closes.
 */
#define G_LOG_DOMAIN "Tandem-tcp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <gio/gio.h>
#include <tandem.h>

#include "tandem-tcp-frame.h"
#include "tandem-tcp-receiver.h"

/* the buffer of a connection starts this big and grows by doubling while a
 * frame does not fit */
#define READ_CHUNK (64 * 1024)
/* read only when at least this much room is left in the buffer */
#define MIN_READ 4096
/* stop decoding frames while this many batches are not acknowledged */
#define MAX_UNACKED 64
/* ... or while this many bytes of frames are not acknowledged (a batch in
 * memory is larger than on the wire) */
#define MAX_PENDING_BYTES (4 * 1024 * 1024)
/* stop reading while this many bytes of ACKs wait to be sent */
#define OUT_HIGH_WATER (256 * 1024)
/* how long a failed connection discards input before it closes */
#define LINGER_S 2
/* delays between ingest attempts of a batch refused as busy while the
 * receiver is not paused */
#define RETRY_MIN_MS 1
#define RETRY_MAX_MS 500

typedef struct {
	TandemStreamDefinition *def;
	guint32 request_id;
	guint32 count;
	gsize wire_bytes;
	char *key;
	GPtrArray *events;
	char **ids; /* NULL, or one id per event ("" for none) */
} Batch;

typedef enum {
	CONN_OPEN,   /* reading frames and ingesting batches */
	CONN_LINGER, /* the last frame is sent and our side shut down: discarding input */
	CONN_CLOSED,
} ConnState;

typedef struct {
	gint ref_count;
	ConnState state;
	TandemTcpReceiver *receiver; /* NULL once closed */
	GSocketConnection *connection;
	GSocket *socket;
	GInputStream *in;
	GOutputStream *out;
	GCancellable *cancellable;
	char *peer;
	gboolean serving; /* counted in n_serving */

	/* input: bytes [start, end) of buf are received and not decoded yet;
	 * buf has cap + 1 bytes (one spare byte after the data) */
	guint8 *buf;
	gsize cap;
	gsize start;
	gsize end;
	gboolean reading;
	gboolean eof;
	gint64 last_activity;

	/* batches decoded and not handed to the node yet, in request order
	 * (the head one is at the node while ingesting: forwarded by a
	 * passive, one at a time) */
	GQueue batches;
	/* batches the node accepted, waiting for their acknowledgement, in
	 * request order (of Waiting) */
	GQueue waiting;
	gsize pending_bytes; /* of both */
	gboolean ingesting;
	guint retry_source;
	guint retry_ms;

	/* output: frames waiting, and frames being written */
	GByteArray *out_buf;
	GByteArray *out_flight;
	gboolean writing;

	/* the ERROR frame due once the batches before it are acknowledged */
	gboolean failed;
	gboolean error_queued;
	guint32 error_request;
	TandemTcpErrorCode error_code;
	char *error_reason;

	guint idle_source;
	guint linger_source;
} Conn;

/**
 * TandemTcpReceiver:
 *
 * The receiver plugin `tcp`: batches of events over TCP, in the binary
 * frames of `plugins/receivers/tcp/README.md`, acknowledged once the node
 * accepted them.  Its config keys are its properties flagged
 * %TANDEM_PARAM_CONFIG.
 */
struct _TandemTcpReceiver {
	TandemReceiver parent_instance;

	/* config */
	char *address;
	int port;
	guint max_connections;
	guint max_frame_bytes;
	guint idle_timeout;
	GStrv streams;
	char *streams_where;

	/* running */
	TandemNode *node; /* not owned: the node owns the receiver */
	GSocketService *service;
	guint bound_port;
	GHashTable *allowed; /* set of TandemStreamDefinition, or NULL for any */
	GHashTable *conns;   /* set of Conn, one reference each */
	guint n_serving;
};

G_DEFINE_DYNAMIC_TYPE (TandemTcpReceiver, tandem_tcp_receiver, TANDEM_TYPE_RECEIVER)

enum {
	PROP_0,
	PROP_ADDRESS,
	PROP_PORT,
	PROP_MAX_CONNECTIONS,
	PROP_MAX_FRAME_BYTES,
	PROP_IDLE_TIMEOUT,
	PROP_STREAMS,
	PROP_BOUND_PORT,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void conn_progress (Conn *conn);

/* --- batches and connections ----------------------------------------------- */

/* A batch the node accepted (tandem_node_accept()), until it may be
 * acknowledged: owned by the connection's waiting queue and by the wait
 * running for it */
typedef struct {
	gint refs;
	Batch *batch;
	guint64 first_seq;
	guint n_new;
	gboolean done;
	GError *error;
} Waiting;

static void batch_free (Batch *batch);

static void
waiting_unref (Waiting *w)
{
	if (--w->refs > 0)
		return;
	batch_free (w->batch);
	g_clear_error (&w->error);
	g_free (w);
}

static void
batch_free (Batch *batch)
{
	/* ids has count entries, NULL where an event had none until decoded */
	for (guint32 i = 0; batch->ids != NULL && i < batch->count; i++)
		g_free (batch->ids[i]);
	g_free (batch->ids);
	g_object_unref (batch->def);
	g_free (batch->key);
	g_ptr_array_unref (batch->events);
	g_free (batch);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Batch, batch_free)

static Conn *
conn_ref (Conn *conn)
{
	conn->ref_count++;
	return conn;
}

static void
conn_unref (Conn *conn)
{
	if (--conn->ref_count > 0)
		return;
	g_queue_clear_full (&conn->batches, (GDestroyNotify) batch_free);
	g_queue_clear_full (&conn->waiting, (GDestroyNotify) waiting_unref);
	/* every operation held a reference: none is pending now */
	g_io_stream_close (G_IO_STREAM (conn->connection), NULL, NULL);
	g_object_unref (conn->connection);
	g_object_unref (conn->cancellable);
	g_byte_array_unref (conn->out_buf);
	g_byte_array_unref (conn->out_flight);
	g_free (conn->buf);
	g_free (conn->peer);
	g_free (conn->error_reason);
	g_free (conn);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Conn, conn_unref)

static Conn *
conn_new (TandemTcpReceiver *receiver, GSocketConnection *connection)
{
	Conn *conn = g_new0 (Conn, 1);
	g_autoptr (GSocketAddress) remote = NULL;

	conn->ref_count = 1;
	conn->state = CONN_OPEN;
	conn->receiver = receiver;
	conn->connection = g_object_ref (connection);
	conn->socket = g_socket_connection_get_socket (connection);
	conn->in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
	conn->out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
	conn->cancellable = g_cancellable_new ();
	remote = g_socket_connection_get_remote_address (connection, NULL);
	conn->peer = remote != NULL ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote))
				    : g_strdup ("client");
	conn->cap = READ_CHUNK;
	conn->buf = g_malloc (conn->cap + 1);
	conn->last_activity = g_get_monotonic_time ();
	conn->out_buf = g_byte_array_sized_new (256);
	conn->out_flight = g_byte_array_sized_new (256);
	g_queue_init (&conn->batches);
	g_queue_init (&conn->waiting);
	/* ACKs are small and a client waits for them */
	g_socket_set_option (conn->socket, IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	return conn;
}

static gboolean
receiver_paused (Conn *conn)
{
	return tandem_receiver_is_paused (TANDEM_RECEIVER (conn->receiver));
}

static void
conn_clear_sources (Conn *conn)
{
	g_clear_handle_id (&conn->retry_source, g_source_remove);
	g_clear_handle_id (&conn->idle_source, g_source_remove);
	g_clear_handle_id (&conn->linger_source, g_source_remove);
}

/* Closes now: pending operations are cancelled and find the connection
 * closed when they complete. */
static void
conn_close (Conn *conn)
{
	g_autoptr (Conn) hold = conn_ref (conn);
	TandemTcpReceiver *receiver = conn->receiver;

	if (conn->state == CONN_CLOSED)
		return;
	g_debug ("%s: closed", conn->peer);
	conn->state = CONN_CLOSED;
	conn_clear_sources (conn);
	g_cancellable_cancel (conn->cancellable);
	g_socket_shutdown (conn->socket, TRUE, TRUE, NULL);
	g_queue_clear_full (&conn->batches, (GDestroyNotify) batch_free);
	g_queue_clear_full (&conn->waiting, (GDestroyNotify) waiting_unref);
	conn->pending_bytes = 0;
	conn->receiver = NULL;
	if (conn->serving)
		receiver->n_serving--;
	g_hash_table_remove (receiver->conns, conn);
}

static void conn_fail (Conn *conn,
		       guint32 request_id,
		       TandemTcpErrorCode code,
		       const char *format,
		       ...) G_GNUC_PRINTF (4, 5);

/* Stops serving the connection: the ERROR frame goes out once the requests
 * before it are acknowledged (see conn_progress()). */
static void
conn_fail (Conn *conn, guint32 request_id, TandemTcpErrorCode code, const char *format, ...)
{
	va_list args;

	if (conn->failed || conn->state != CONN_OPEN)
		return;
	conn->failed = TRUE;
	conn->error_request = request_id;
	conn->error_code = code;
	va_start (args, format);
	conn->error_reason = g_strdup_vprintf (format, args);
	va_end (args);
	g_info ("%s: %s: closing the connection", conn->peer, conn->error_reason);
}

/* --- output ---------------------------------------------------------------- */

static void
on_written (GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr (Conn) conn = user_data;
	g_autoptr (GError) error = NULL;
	gboolean ok =
		g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);

	conn->writing = FALSE;
	g_byte_array_set_size (conn->out_flight, 0);
	if (conn->state == CONN_CLOSED)
		return;
	if (!ok) {
		g_debug ("%s: cannot write: %s", conn->peer, error->message);
		conn_close (conn);
		return;
	}
	conn_progress (conn);
}

static void
conn_flush (Conn *conn)
{
	GByteArray *swap;

	if (conn->writing || conn->out_buf->len == 0 || conn->state == CONN_CLOSED)
		return;
	swap = conn->out_flight;
	conn->out_flight = conn->out_buf;
	conn->out_buf = swap;
	conn->writing = TRUE;
	g_output_stream_write_all_async (conn->out, conn->out_flight->data, conn->out_flight->len,
					 G_PRIORITY_DEFAULT, conn->cancellable, on_written,
					 conn_ref (conn));
}

/* --- lingering close ------------------------------------------------------- */

static void conn_linger_read (Conn *conn);

static void
on_linger_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr (Conn) conn = user_data;
	gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, NULL);

	conn->reading = FALSE;
	if (conn->state != CONN_LINGER)
		return;
	if (n <= 0) {
		conn_close (conn);
		return;
	}
	conn_linger_read (conn);
}

static void
conn_linger_read (Conn *conn)
{
	if (conn->reading)
		return;
	conn->reading = TRUE;
	g_input_stream_read_async (conn->in, conn->buf, conn->cap, G_PRIORITY_DEFAULT,
				   conn->cancellable, on_linger_read, conn_ref (conn));
}

static gboolean
on_linger_timeout (gpointer user_data)
{
	Conn *conn = user_data;

	conn->linger_source = 0;
	conn_close (conn);
	return G_SOURCE_REMOVE;
}

/* Everything is sent: shut our side down so that the client reads our last
 * frame and then end-of-stream, and discard its input for a moment instead
 * of closing at once (closing with unread input would reset the connection,
 * and a reset may destroy the frame before the client reads it). */
static void
conn_linger (Conn *conn)
{
	conn->state = CONN_LINGER;
	g_clear_handle_id (&conn->retry_source, g_source_remove);
	g_clear_handle_id (&conn->idle_source, g_source_remove);
	g_socket_shutdown (conn->socket, FALSE, TRUE, NULL);
	conn->linger_source =
		g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, LINGER_S, on_linger_timeout,
					    conn_ref (conn), (GDestroyNotify) conn_unref);
	if (!conn->reading && !conn->eof) {
		conn->start = conn->end = 0;
		conn_linger_read (conn);
	} else if (!conn->reading) {
		conn_close (conn);
	}
}

/* --- decoding -------------------------------------------------------------- */

/* A name from a client, shortened for a message. */
static char *
shorten (const char *s)
{
	g_autofree char *head = NULL;

	if (g_utf8_strlen (s, -1) <= 64)
		return g_strdup (s);
	head = g_utf8_substring (s, 0, 64);
	return g_strconcat (head, "…", NULL);
}

static gboolean
read_text16 (TandemTcpReader *r, const guint8 **text, guint16 *len)
{
	return tandem_tcp_reader_u16 (r, len) && tandem_tcp_reader_bytes (r, *len, text);
}

/* Decodes the value of attribute @k of @event, after its marker. */
static gboolean
decode_value (TandemTcpReader *r,
	      TandemEvent *event,
	      guint k,
	      TandemAttributeType type,
	      GString *why)
{
	guint8 b;
	guint32 u32;
	guint64 u64;
	float f;
	double d;
	const guint8 *p;

	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		if (!tandem_tcp_reader_u32 (r, &u32))
			break;
		tandem_event_set_int (event, k, (gint32) u32);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_LONG:
		if (!tandem_tcp_reader_u64 (r, &u64))
			break;
		tandem_event_set_long (event, k, (gint64) u64);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
		if (!tandem_tcp_reader_u32 (r, &u32))
			break;
		memcpy (&f, &u32, sizeof f);
		tandem_event_set_float (event, k, f);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		if (!tandem_tcp_reader_u64 (r, &u64))
			break;
		memcpy (&d, &u64, sizeof d);
		tandem_event_set_double (event, k, d);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		if (!tandem_tcp_reader_u8 (r, &b))
			break;
		if (b > 1) {
			g_string_printf (why, "bool value %u (expected 0 or 1)", b);
			return FALSE;
		}
		tandem_event_set_bool (event, k, b == 1);
		return TRUE;
	case TANDEM_ATTRIBUTE_TYPE_STRING:
	default:
		if (!tandem_tcp_reader_u32 (r, &u32))
			break;
		if (!tandem_tcp_reader_bytes (r, u32, &p)) {
			g_string_printf (why, "string length %u runs past the end of the frame",
					 u32);
			return FALSE;
		}
		if (!g_utf8_validate_len ((const char *) p, u32, NULL)) {
			g_string_assign (why, "string is not valid UTF-8 (or holds a NUL)");
			return FALSE;
		} else {
			/* the buffer has a byte after every frame: terminate the
			 * string in place for a moment instead of copying it */
			guint8 *end = (guint8 *) p + u32;
			guint8 saved = *end;

			*end = '\0';
			tandem_event_set_string (event, k, (const char *) p);
			*end = saved;
		}
		return TRUE;
	}
	g_string_assign (why, "the frame ends inside the value");
	return FALSE;
}

/* Decodes the payload of an EVENTS frame into a batch, or fails the
 * connection saying why. */
static Batch *
decode_events (Conn *conn, const guint8 *payload, gsize len)
{
	TandemTcpReceiver *self = conn->receiver;
	TandemTcpReader r;
	guint32 request_id = 0;
	const guint8 *text;
	guint16 text_len;
	g_autofree char *stream = NULL;
	g_autofree char *key = NULL;
	g_autofree char *shown = NULL;
	g_autofree guint8 *types = NULL;
	g_autoptr (GString) why = g_string_new (NULL);
	g_autoptr (Batch) batch = NULL;
	TandemStreamDefinition *def;
	guint32 count;
	guint n_attrs;
	gint64 now_ms;

	tandem_tcp_reader_init (&r, payload, len);
	if (!tandem_tcp_reader_u32 (&r, &request_id)) {
		conn_fail (conn, 0, TANDEM_TCP_ERROR_MALFORMED,
			   "EVENTS frame of %zu bytes is too short for its request id", len);
		return NULL;
	}
	if (!read_text16 (&r, &text, &text_len)) {
		conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
			   "request %u: the stream name runs past the end of the frame",
			   request_id);
		return NULL;
	}
	if (text_len == 0 || !g_utf8_validate_len ((const char *) text, text_len, NULL)) {
		conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
			   "request %u: the stream name is %s", request_id,
			   text_len == 0 ? "empty" : "not valid UTF-8");
		return NULL;
	}
	stream = g_strndup ((const char *) text, text_len);
	if (!read_text16 (&r, &text, &text_len)) {
		conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
			   "request %u: the idempotency key runs past the end of the frame",
			   request_id);
		return NULL;
	}
	if (!g_utf8_validate_len ((const char *) text, text_len, NULL)) {
		conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
			   "request %u: the idempotency key is not valid UTF-8", request_id);
		return NULL;
	}
	if (text_len > 0)
		key = g_strndup ((const char *) text, text_len);
	if (!tandem_tcp_reader_u32 (&r, &count)) {
		conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
			   "request %u: the frame ends before the event count", request_id);
		return NULL;
	}

	shown = shorten (stream);
	def = tandem_node_lookup_stream (self->node, stream);
	if (def == NULL) {
		conn_fail (conn, request_id, TANDEM_TCP_ERROR_UNKNOWN_STREAM,
			   "request %u: the node knows no stream '%s'", request_id, shown);
		return NULL;
	}
	if (self->allowed != NULL && !g_hash_table_contains (self->allowed, def)) {
		conn_fail (
			conn, request_id, TANDEM_TCP_ERROR_STREAM_NOT_ALLOWED,
			"request %u: this receiver does not take stream '%s' (see its key 'streams')",
			request_id, shown);
		return NULL;
	}

	/* every event takes at least its flags and one marker per value: check
	 * the count against the bytes left before allocating anything for it */
	n_attrs = tandem_stream_definition_get_n_attributes (def);
	if (count == 0 || count > tandem_tcp_reader_left (&r) / (1 + n_attrs)) {
		conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
			   "request %u: %u events cannot fit in the %zu bytes left in the frame",
			   request_id, count, tandem_tcp_reader_left (&r));
		return NULL;
	}

	types = g_new (guint8, MAX (n_attrs, 1));
	for (guint k = 0; k < n_attrs; k++)
		types[k] = (guint8) tandem_stream_definition_get_attribute_type (def, k);
	batch = g_new0 (Batch, 1);
	batch->def = g_object_ref (def);
	batch->request_id = request_id;
	batch->count = count;
	batch->wire_bytes = len;
	batch->key = g_steal_pointer (&key);
	batch->events = g_ptr_array_new_full (count, (GDestroyNotify) tandem_event_unref);
	now_ms = g_get_real_time () / 1000;

	for (guint32 i = 0; i < count; i++) {
		g_autoptr (TandemEvent) event = NULL;
		guint8 flags;
		guint64 timestamp = (guint64) now_ms;

		if (!tandem_tcp_reader_u8 (&r, &flags)) {
			conn_fail (
				conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
				"request %u: the frame ends after %u of %u events (the count does not match the payload)",
				request_id, i, count);
			return NULL;
		}
		if ((flags & ~TANDEM_TCP_EVENT_FLAGS_ALL) != 0) {
			conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
				   "request %u: event %u: unknown flags 0x%02x", request_id, i,
				   flags);
			return NULL;
		}
		if ((flags & TANDEM_TCP_EVENT_HAS_TIMESTAMP) != 0 &&
		    !tandem_tcp_reader_u64 (&r, &timestamp)) {
			conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
				   "request %u: event %u: the frame ends inside the timestamp",
				   request_id, i);
			return NULL;
		}
		if ((flags & TANDEM_TCP_EVENT_HAS_ID) != 0) {
			if (!read_text16 (&r, &text, &text_len) || text_len == 0 ||
			    !g_utf8_validate_len ((const char *) text, text_len, NULL)) {
				conn_fail (
					conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
					"request %u: event %u: the event id is empty, not valid UTF-8 or runs past the end of the frame",
					request_id, i);
				return NULL;
			}
			if (batch->ids == NULL)
				batch->ids = g_new0 (char *, count + 1);
			batch->ids[i] = g_strndup ((const char *) text, text_len);
		}

		event = tandem_event_new (def, (gint64) timestamp);
		for (guint k = 0; k < n_attrs; k++) {
			guint8 marker;

			if (!tandem_tcp_reader_u8 (&r, &marker)) {
				g_string_assign (why, "the frame ends before the value");
			} else if (marker == TANDEM_TCP_MARKER_NULL) {
				continue;
			} else if (marker != types[k] + 1) {
				g_string_printf (why,
						 "value marker %u, expected 0 (null) or %u (%s)",
						 marker, types[k] + 1,
						 tandem_attribute_type_to_string (
							 (TandemAttributeType) types[k]));
			} else if (decode_value (&r, event, k, (TandemAttributeType) types[k],
						 why)) {
				continue;
			}
			{
				g_autofree char *attribute = shorten (
					tandem_stream_definition_get_attribute_name (def, k));

				conn_fail (conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
					   "request %u: event %u, attribute '%s': %s", request_id,
					   i, attribute, why->str);
			}
			return NULL;
		}
		g_ptr_array_add (batch->events, g_steal_pointer (&event));
	}
	if (tandem_tcp_reader_left (&r) != 0) {
		conn_fail (
			conn, request_id, TANDEM_TCP_ERROR_MALFORMED,
			"request %u: %zu bytes follow the last of %u events (the count does not match the payload)",
			request_id, tandem_tcp_reader_left (&r), count);
		return NULL;
	}
	if (batch->ids != NULL) {
		for (guint32 i = 0; i < count; i++) {
			if (batch->ids[i] == NULL)
				batch->ids[i] = g_strdup ("");
		}
	}
	return g_steal_pointer (&batch);
}

/* Decodes the whole frames received, while the connection may take more
 * batches. */
static void
conn_decode (Conn *conn)
{
	TandemTcpReceiver *self = conn->receiver;

	while (!conn->failed && conn->batches.length < MAX_UNACKED &&
	       conn->pending_bytes < MAX_PENDING_BYTES) {
		gsize avail = conn->end - conn->start;
		const guint8 *frame = conn->buf + conn->start;
		guint32 length;
		Batch *batch;

		if (avail < 4) {
			if (conn->eof && avail > 0)
				conn_fail (conn, 0, TANDEM_TCP_ERROR_MALFORMED,
					   "the connection ended inside a frame header (%zu bytes)",
					   avail);
			break;
		}
		length = tandem_tcp_get_u32 (frame);
		if (length < 2) {
			conn_fail (conn, 0, TANDEM_TCP_ERROR_MALFORMED,
				   "frame length %u is too short for the version and type", length);
			break;
		}
		if (avail < TANDEM_TCP_FRAME_HEADER_SIZE) {
			if (conn->eof)
				conn_fail (conn, 0, TANDEM_TCP_ERROR_MALFORMED,
					   "the connection ended inside a frame header (%zu bytes)",
					   avail);
			break;
		}
		if (frame[4] != TANDEM_TCP_FRAME_VERSION) {
			conn_fail (
				conn, 0, TANDEM_TCP_ERROR_UNSUPPORTED_VERSION,
				"frame version %u is not supported (this receiver speaks version %u)",
				frame[4], TANDEM_TCP_FRAME_VERSION);
			break;
		}
		if (frame[5] != TANDEM_TCP_FRAME_EVENTS) {
			conn_fail (conn, 0, TANDEM_TCP_ERROR_UNKNOWN_TYPE,
				   "frame type %u is not one a client sends (EVENTS is %u)",
				   frame[5], TANDEM_TCP_FRAME_EVENTS);
			break;
		}
		if (length > self->max_frame_bytes) {
			conn_fail (conn, 0, TANDEM_TCP_ERROR_FRAME_TOO_LARGE,
				   "frame of %u bytes is larger than max_frame_bytes (%u)", length,
				   self->max_frame_bytes);
			break;
		}
		if (avail - 4 < length) {
			if (conn->eof)
				conn_fail (
					conn, 0, TANDEM_TCP_ERROR_MALFORMED,
					"the connection ended inside a frame (%zu of its %u bytes received)",
					avail - 4, length);
			break;
		}
		batch = decode_events (conn, frame + TANDEM_TCP_FRAME_HEADER_SIZE, length - 2);
		conn->start += 4 + (gsize) length;
		if (batch == NULL)
			break;
		conn->pending_bytes += batch->wire_bytes;
		g_queue_push_tail (&conn->batches, batch);
	}
	if (conn->start == conn->end && !conn->reading)
		conn->start = conn->end = 0;
}

/* --- ingest ---------------------------------------------------------------- */

static void conn_ingest (Conn *conn);

static gboolean
on_retry (gpointer user_data)
{
	Conn *conn = user_data;

	conn->retry_source = 0;
	conn_progress (conn);
	return G_SOURCE_REMOVE;
}

/* A request refused, or whose acknowledgement failed: nothing decoded
 * after it is handed to the node, and the ERROR frame naming it follows
 * the ACKs of the requests before it (those still waiting too) */
static void
conn_refused (Conn *conn, guint32 request_id, const GError *error)
{
	TandemTcpErrorCode code = TANDEM_TCP_ERROR_INTERNAL;
	Batch *batch;

	while ((batch = g_queue_pop_head (&conn->batches)) != NULL) {
		conn->pending_bytes -= batch->wire_bytes;
		batch_free (batch);
	}
	if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT))
		code = TANDEM_TCP_ERROR_INVALID_EVENT;
	else if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_BUSY))
		code = TANDEM_TCP_ERROR_UNAVAILABLE;
	conn_fail (conn, request_id, code, "request %u: %s", request_id, error->message);
}

/* The head batches whose acknowledgement came, in request order */
static void
conn_answer_waiting (Conn *conn)
{
	Waiting *w;

	while ((w = g_queue_peek_head (&conn->waiting)) != NULL && w->done) {
		g_queue_pop_head (&conn->waiting);
		conn->pending_bytes -= w->batch->wire_bytes;
		if (w->error != NULL) {
			guint32 request_id = w->batch->request_id;
			g_autoptr (GError) error = g_steal_pointer (&w->error);

			waiting_unref (w);
			/* the requests after it are not answered either (when
			 * the node lost its role, their waits failed too) */
			while ((w = g_queue_pop_head (&conn->waiting)) != NULL) {
				conn->pending_bytes -= w->batch->wire_bytes;
				waiting_unref (w);
			}
			conn_refused (conn, request_id, error);
			return;
		}
		tandem_tcp_put_ack (conn->out_buf, w->batch->request_id, w->first_seq, w->batch->count,
				    w->n_new);
		conn->last_activity = g_get_monotonic_time ();
		waiting_unref (w);
	}
}

typedef struct {
	Conn *conn;
	Waiting *w;
} WaitData;

static void
on_acknowledged (GObject *source, GAsyncResult *result, gpointer user_data)
{
	WaitData *d = user_data;
	g_autoptr (Conn) conn = d->conn;
	Waiting *w = d->w;

	g_free (d);
	w->done = TRUE;
	if (!tandem_node_wait_acknowledged_finish (TANDEM_NODE (source), result, &w->error))
		g_debug ("%s: request %u: %s", conn->peer, w->batch->request_id, w->error->message);
	if (conn->state == CONN_OPEN) {
		conn_answer_waiting (conn);
		conn_progress (conn);
	}
	waiting_unref (w);
}

/* A batch refused as busy: kept; the node resumes the receiver when it has
 * room; if it did already, try again a little later */
static void
conn_retry_later (Conn *conn, const GError *error)
{
	g_debug ("%s: request %u: %s; will retry", conn->peer,
		 ((Batch *) g_queue_peek_head (&conn->batches))->request_id, error->message);
	if (!receiver_paused (conn)) {
		conn->retry_ms = CLAMP (conn->retry_ms * 2, RETRY_MIN_MS, RETRY_MAX_MS);
		conn->retry_source = g_timeout_add_full (G_PRIORITY_DEFAULT, conn->retry_ms, on_retry,
							 conn_ref (conn), (GDestroyNotify) conn_unref);
	}
}

/* A passive's forwarded batch was answered */
static void
on_ingested (GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr (Conn) conn = user_data;
	g_autoptr (GError) error = NULL;
	g_autoptr (Batch) batch = NULL;
	guint64 first_seq = 0;
	guint n_new = 0;
	gboolean ok = tandem_node_ingest_finish (TANDEM_NODE (source), result, &first_seq, &n_new,
						 &error);

	conn->ingesting = FALSE;
	if (conn->state != CONN_OPEN)
		return;
	if (!ok && g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_BUSY)) {
		conn_retry_later (conn, error);
		return;
	}
	batch = g_queue_pop_head (&conn->batches);
	conn->pending_bytes -= batch->wire_bytes;
	conn->retry_ms = 0;
	if (!ok) {
		conn_refused (conn, batch->request_id, error);
	} else {
		tandem_tcp_put_ack (conn->out_buf, batch->request_id, first_seq, batch->count,
				    n_new);
		conn->last_activity = g_get_monotonic_time ();
	}
	conn_progress (conn);
}

/* Hands the batches to the node in order: each is sequenced at once, and
 * the next follows without waiting for the acknowledgement of the one
 * before (which, with ack = replicated or durable, waits for the passive
 * or the event store).  A passive node forwards: it takes one batch at a
 * time, and only once every batch before it is acknowledged. */
static void
conn_ingest (Conn *conn)
{
	TandemNode *node = conn->receiver->node;
	Batch *batch;

	while ((batch = g_queue_peek_head (&conn->batches)) != NULL && !conn->ingesting &&
	       conn->retry_source == 0 && !receiver_paused (conn) && conn->waiting.length < MAX_UNACKED) {
		g_autoptr (GError) error = NULL;
		guint64 ack_seq = 0;
		Waiting *w;
		WaitData *d;

		w = g_new0 (Waiting, 1);
		if (!tandem_node_accept (node, tandem_stream_definition_get_name (batch->def), batch->events,
					 (const char *const *) batch->ids, batch->key, &w->first_seq, &w->n_new,
					 &ack_seq, &error)) {
			g_free (w);
			if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED)) {
				/* (once those before are answered) */
				if (g_queue_is_empty (&conn->waiting)) {
					conn->ingesting = TRUE;
					tandem_node_ingest_async (node, tandem_stream_definition_get_name (batch->def),
								  batch->events, (const char *const *) batch->ids,
								  batch->key, NULL, on_ingested, conn_ref (conn));
				}
			} else if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_BUSY)) {
				conn_retry_later (conn, error);
			} else {
				conn_refused (conn, batch->request_id, error);
			}
			break;
		}
		g_queue_pop_head (&conn->batches);
		conn->retry_ms = 0;
		w->batch = batch;
		g_queue_push_tail (&conn->waiting, w);
		if (tandem_node_acks_at_acceptance (node)) {
			/* nothing to wait for (a node without HA, ack = local):
			 * answered below, behind those still waiting */
			w->refs = 1;
			w->done = TRUE;
			continue;
		}
		w->refs = 2;
		d = g_new0 (WaitData, 1);
		d->conn = conn_ref (conn);
		d->w = w;
		tandem_node_wait_acknowledged_async (node, ack_seq, NULL, on_acknowledged, d);
	}
	conn_answer_waiting (conn);
}

/* --- input ----------------------------------------------------------------- */

static void
on_read (GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr (Conn) conn = user_data;
	g_autoptr (GError) error = NULL;
	gssize n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);

	conn->reading = FALSE;
	if (conn->state == CONN_LINGER) {
		/* failed while this read was under way: discard */
		if (n <= 0)
			conn_close (conn);
		else
			conn_linger_read (conn);
		return;
	}
	if (conn->state != CONN_OPEN)
		return;
	if (n < 0) {
		/* the client is gone: nobody would read the ACKs */
		g_debug ("%s: cannot read: %s", conn->peer, error->message);
		conn_close (conn);
		return;
	}
	if (n == 0) {
		conn->eof = TRUE;
	} else {
		conn->end += (gsize) n;
		conn->last_activity = g_get_monotonic_time ();
	}
	conn_progress (conn);
}

/* Reads more, unless something says to wait. */
static void
conn_read (Conn *conn)
{
	TandemTcpReceiver *self = conn->receiver;

	if (conn->reading || conn->eof || conn->failed || receiver_paused (conn) ||
	    conn->batches.length + conn->waiting.length >= MAX_UNACKED ||
	    conn->pending_bytes >= MAX_PENDING_BYTES ||
	    conn->out_buf->len + conn->out_flight->len >= OUT_HIGH_WATER)
		return;
	if (conn->cap - conn->end < MIN_READ && conn->start > 0) {
		memmove (conn->buf, conn->buf + conn->start, conn->end - conn->start);
		conn->end -= conn->start;
		conn->start = 0;
	}
	if (conn->cap - conn->end < MIN_READ) {
		/* the buffer holds part of one frame, whose length is checked
		 * against max_frame_bytes: it grows only as its bytes arrive */
		gsize limit = (gsize) self->max_frame_bytes + 4 + READ_CHUNK;

		conn->cap = MIN (conn->cap * 2, limit);
		conn->buf = g_realloc (conn->buf, conn->cap + 1);
	}
	conn->reading = TRUE;
	g_input_stream_read_async (conn->in, conn->buf + conn->end, conn->cap - conn->end,
				   G_PRIORITY_DEFAULT, conn->cancellable, on_read, conn_ref (conn));
}

/* Moves the connection on after anything happened to it. */
static void
conn_progress (Conn *conn)
{
	if (conn->state != CONN_OPEN)
		return;
	conn_decode (conn);
	conn_ingest (conn);
	if ((conn->failed || conn->eof) && !conn->ingesting && g_queue_is_empty (&conn->batches) &&
	    g_queue_is_empty (&conn->waiting)) {
		/* every request before the end is acknowledged */
		if (conn->failed && !conn->error_queued) {
			tandem_tcp_put_error (conn->out_buf, conn->error_request, conn->error_code,
					      conn->error_reason);
			conn->error_queued = TRUE;
		}
		conn_flush (conn);
		if (conn->writing)
			return;
		if (conn->failed)
			conn_linger (conn);
		else
			conn_close (conn);
		return;
	}
	conn_flush (conn);
	conn_read (conn);
}

/* --- idle timeout ---------------------------------------------------------- */

static void conn_arm_idle (Conn *conn, guint seconds);

static gboolean
on_idle_timeout (gpointer user_data)
{
	Conn *conn = user_data;
	guint timeout = conn->receiver->idle_timeout;
	gint64 idle_s = (g_get_monotonic_time () - conn->last_activity) / G_USEC_PER_SEC;
	gboolean busy = conn->ingesting || !g_queue_is_empty (&conn->batches) ||
			!g_queue_is_empty (&conn->waiting) || conn->writing ||
			conn->out_buf->len > 0 || receiver_paused (conn);

	conn->idle_source = 0;
	if (busy) {
		/* waiting for the node or for the client to read is not idling */
		conn->last_activity = g_get_monotonic_time ();
		conn_arm_idle (conn, timeout);
	} else if (idle_s >= timeout) {
		conn_fail (conn, 0, TANDEM_TCP_ERROR_IDLE_TIMEOUT,
			   "nothing received for %u seconds (idle_timeout)", timeout);
		conn_progress (conn);
	} else {
		conn_arm_idle (conn, timeout - (guint) idle_s);
	}
	return G_SOURCE_REMOVE;
}

static void
conn_arm_idle (Conn *conn, guint seconds)
{
	if (seconds == 0 || conn->state != CONN_OPEN)
		return;
	conn->idle_source =
		g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, seconds, on_idle_timeout,
					    conn_ref (conn), (GDestroyNotify) conn_unref);
}

/* --- the receiver ---------------------------------------------------------- */

static gboolean
on_incoming (GSocketService *service,
	     GSocketConnection *connection,
	     GObject *source_object,
	     gpointer user_data)
{
	TandemTcpReceiver *self = user_data;
	Conn *conn = conn_new (self, connection);

	g_hash_table_add (self->conns, conn);
	if (self->n_serving >= self->max_connections) {
		conn_fail (conn, 0, TANDEM_TCP_ERROR_TOO_MANY_CONNECTIONS,
			   "the receiver already serves %u connections (max_connections)",
			   self->n_serving);
	} else {
		conn->serving = TRUE;
		self->n_serving++;
		g_debug ("%s: connected (%u connections)", conn->peer, self->n_serving);
		conn_arm_idle (conn, self->idle_timeout);
	}
	conn_progress (conn);
	return TRUE;
}

static GPtrArray *
dup_conns (TandemTcpReceiver *self)
{
	GPtrArray *conns = g_ptr_array_new_with_free_func ((GDestroyNotify) conn_unref);
	GHashTableIter iter;
	gpointer conn;

	g_hash_table_iter_init (&iter, self->conns);
	while (g_hash_table_iter_next (&iter, &conn, NULL))
		g_ptr_array_add (conns, conn_ref (conn));
	return conns;
}

static void
tandem_tcp_receiver_pause (TandemReceiver *receiver)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (receiver);

	/* reads in flight complete; conn_read() and conn_ingest() wait */
	g_info ("%s: the node's ingest queue is full: stopped reading from %u connection(s)",
		tandem_plugin_get_name (TANDEM_PLUGIN (self)), self->n_serving);
}

static void
tandem_tcp_receiver_resume (TandemReceiver *receiver)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (receiver);
	g_autoptr (GPtrArray) conns = dup_conns (self);

	g_info ("%s: the node has room again: reading from %u connection(s)",
		tandem_plugin_get_name (TANDEM_PLUGIN (self)), self->n_serving);
	for (guint i = 0; i < conns->len; i++)
		conn_progress (g_ptr_array_index (conns, i));
}

/* Every entry of the key `streams` names a stream @node knows. */
static gboolean
check_streams (TandemTcpReceiver *self, TandemNode *node, GError **error)
{
	for (guint i = 0; self->streams != NULL && self->streams[i] != NULL; i++) {
		if (tandem_node_lookup_stream (node, self->streams[i]) == NULL) {
			g_set_error (
				error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				"%s: the node knows no stream '%s' (streams are the inputs of the plans in [engine] plans and the definitions in [engine] streams)",
				self->streams_where != NULL ? self->streams_where : "streams",
				self->streams[i]);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
tandem_tcp_receiver_setup (TandemPlugin *plugin, TandemConfigSection *section, GError **error)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (plugin);
	TandemNode *node = tandem_plugin_get_node (plugin);
	g_autoptr (GInetAddress) address = g_inet_address_new_from_string (self->address);

	if (address == NULL) {
		if (section != NULL)
			tandem_config_section_set_error (
				section, "address", error,
				"expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, got \"%s\"",
				self->address);
		else
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "address: expected an IP address, got \"%s\"", self->address);
		return FALSE;
	}
	for (guint i = 0; self->streams != NULL && self->streams[i] != NULL; i++) {
		if (*self->streams[i] == '\0' || strlen (self->streams[i]) > G_MAXUINT16) {
			if (section != NULL)
				tandem_config_section_set_error (
					section, "streams", error,
					"expected stream names or ids (name:version), got an empty or overlong entry");
			else
				g_set_error_literal (error, TANDEM_ERROR,
						     TANDEM_ERROR_INVALID_ARGUMENT,
						     "streams: an entry is empty or too long");
			return FALSE;
		}
	}
	g_clear_pointer (&self->streams_where, g_free);
	if (section != NULL && tandem_config_section_has_key (section, "streams"))
		self->streams_where = tandem_config_section_describe_key (section, "streams");
	/* the node configures its engine before its plugins: check the streams
	 * now, so that --check-config reports them (start checks them again,
	 * for a receiver set up without a node) */
	return node == NULL || check_streams (self, node, error);
}

static gboolean
tandem_tcp_receiver_start (TandemPlugin *plugin, GError **error)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (plugin);
	const char *name = tandem_plugin_get_name (plugin);
	g_autoptr (GInetAddress) address = NULL;
	g_autoptr (GSocketAddress) socket_address = NULL;
	g_autoptr (GSocketAddress) effective = NULL;
	g_autoptr (GSocketService) service = NULL;
	g_autoptr (GHashTable) allowed = NULL;
	g_autoptr (GError) local_error = NULL;
	g_autofree char *shown = NULL;

	self->node = tandem_plugin_get_node (plugin);
	if (self->node == NULL) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
				     "the tcp receiver needs a node");
		return FALSE;
	}
	if (!check_streams (self, self->node, error))
		return FALSE;
	if (self->streams != NULL && self->streams[0] != NULL) {
		allowed = g_hash_table_new_full (NULL, NULL, g_object_unref, NULL);
		for (guint i = 0; self->streams[i] != NULL; i++) {
			TandemStreamDefinition *def =
				tandem_node_lookup_stream (self->node, self->streams[i]);

			g_hash_table_add (allowed, g_object_ref (def));
		}
	}

	address = g_inet_address_new_from_string (self->address);
	if (address == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "address: expected an IP address, got \"%s\"", self->address);
		return FALSE;
	}
	socket_address = g_inet_socket_address_new (address, (guint16) self->port);
	service = g_socket_service_new ();
	g_socket_listener_set_backlog (G_SOCKET_LISTENER (service),
				       MAX (128, MIN (self->max_connections, 4096)));
	if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), socket_address,
					    G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
					    &effective, &local_error)) {
		g_autofree char *wanted =
			g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (socket_address));

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "cannot listen on %s: %s",
			     wanted, local_error->message);
		return FALSE;
	}
	self->bound_port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
	g_signal_connect (service, "incoming", G_CALLBACK (on_incoming), self);
	g_socket_service_start (service);
	self->service = g_steal_pointer (&service);
	self->allowed = g_steal_pointer (&allowed);
	g_object_notify_by_pspec (G_OBJECT (self), props[PROP_BOUND_PORT]);

	shown = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (effective));
	g_message ("%s: listening on %s%s", name, shown,
		   self->port == 0 ? " (port = 0: a free port)" : "");
	return TRUE;
}

/* Stopping must not block: whatever the client can take without waiting
 * (its pending ACKs, and an ERROR saying the node stops) is sent, then the
 * connection is closed.  Batches not acknowledged yet were not ingested, or
 * were and are processed by the node before it stops; a client sends them
 * again, with their idempotency key. */
static void
conn_stop (Conn *conn)
{
	if (conn->state == CONN_OPEN && !conn->writing) {
		if (!conn->error_queued) {
			tandem_tcp_put_error (conn->out_buf, 0, TANDEM_TCP_ERROR_UNAVAILABLE,
					      "the node is stopping");
			conn->error_queued = TRUE;
		}
		g_socket_send_with_blocking (conn->socket, (const char *) conn->out_buf->data,
					     conn->out_buf->len, FALSE, NULL, NULL);
	}
	conn_close (conn);
}

static gboolean
tandem_tcp_receiver_stop (TandemPlugin *plugin, GError **error)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (plugin);
	g_autoptr (GPtrArray) conns = dup_conns (self);

	if (self->service != NULL) {
		g_socket_service_stop (self->service);
		g_socket_listener_close (G_SOCKET_LISTENER (self->service));
		g_signal_handlers_disconnect_by_data (self->service, self);
		g_clear_object (&self->service);
	}
	for (guint i = 0; i < conns->len; i++)
		conn_stop (g_ptr_array_index (conns, i));
	g_debug ("%s: stopped", tandem_plugin_get_name (plugin));
	return TRUE;
}

static void
tandem_tcp_receiver_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (object);

	switch (prop_id) {
	case PROP_ADDRESS:
		g_value_set_string (value, self->address);
		break;
	case PROP_PORT:
		g_value_set_int (value, self->port);
		break;
	case PROP_MAX_CONNECTIONS:
		g_value_set_uint (value, self->max_connections);
		break;
	case PROP_MAX_FRAME_BYTES:
		g_value_set_uint (value, self->max_frame_bytes);
		break;
	case PROP_IDLE_TIMEOUT:
		g_value_set_uint (value, self->idle_timeout);
		break;
	case PROP_STREAMS:
		g_value_set_boxed (value, self->streams);
		break;
	case PROP_BOUND_PORT:
		g_value_set_uint (value, self->bound_port);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_tcp_receiver_set_property (GObject *object,
				  guint prop_id,
				  const GValue *value,
				  GParamSpec *pspec)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (object);

	switch (prop_id) {
	case PROP_ADDRESS:
		g_free (self->address);
		self->address = g_value_dup_string (value);
		if (self->address == NULL)
			self->address = g_strdup ("127.0.0.1");
		break;
	case PROP_PORT:
		self->port = g_value_get_int (value);
		break;
	case PROP_MAX_CONNECTIONS:
		self->max_connections = g_value_get_uint (value);
		break;
	case PROP_MAX_FRAME_BYTES:
		self->max_frame_bytes = g_value_get_uint (value);
		break;
	case PROP_IDLE_TIMEOUT:
		self->idle_timeout = g_value_get_uint (value);
		break;
	case PROP_STREAMS:
		g_strfreev (self->streams);
		self->streams = g_value_dup_boxed (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_tcp_receiver_dispose (GObject *object)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (object);

	/* a receiver that was never stopped */
	if (self->service != NULL)
		tandem_tcp_receiver_stop (TANDEM_PLUGIN (self), NULL);
	G_OBJECT_CLASS (tandem_tcp_receiver_parent_class)->dispose (object);
}

static void
tandem_tcp_receiver_finalize (GObject *object)
{
	TandemTcpReceiver *self = TANDEM_TCP_RECEIVER (object);

	g_hash_table_unref (self->conns);
	g_clear_pointer (&self->allowed, g_hash_table_unref);
	g_free (self->address);
	g_strfreev (self->streams);
	g_free (self->streams_where);
	G_OBJECT_CLASS (tandem_tcp_receiver_parent_class)->finalize (object);
}

static void
tandem_tcp_receiver_class_init (TandemTcpReceiverClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);
	TandemReceiverClass *receiver_class = TANDEM_RECEIVER_CLASS (klass);

	object_class->get_property = tandem_tcp_receiver_get_property;
	object_class->set_property = tandem_tcp_receiver_set_property;
	object_class->dispose = tandem_tcp_receiver_dispose;
	object_class->finalize = tandem_tcp_receiver_finalize;
	plugin_class->setup = tandem_tcp_receiver_setup;
	plugin_class->start = tandem_tcp_receiver_start;
	plugin_class->stop = tandem_tcp_receiver_stop;
	receiver_class->pause = tandem_tcp_receiver_pause;
	receiver_class->resume = tandem_tcp_receiver_resume;

	/**
	 * TandemTcpReceiver:address:
	 *
	 * Config key `address`: the IP address to listen on.
	 */
	props[PROP_ADDRESS] =
		g_param_spec_string ("address", NULL,
				     "IP address to listen on (0.0.0.0 or :: for every interface)",
				     "127.0.0.1",
				     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					     TANDEM_PARAM_CONFIG);
	/**
	 * TandemTcpReceiver:port:
	 *
	 * Config key `port`: the TCP port to listen on; 0 picks a free port
	 * (logged at start, and in #TandemTcpReceiver:bound-port).
	 */
	props[PROP_PORT] =
		g_param_spec_int ("port", NULL, "TCP port to listen on (0: any free port)", 0,
				  65535, TANDEM_TCP_DEFAULT_PORT,
				  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG);
	/**
	 * TandemTcpReceiver:max-connections:
	 *
	 * Config key `max_connections`: how many clients are served at once;
	 * more get an ERROR frame and are closed.
	 */
	props[PROP_MAX_CONNECTIONS] =
		g_param_spec_uint ("max-connections", NULL, "Clients served at once", 1, 65535, 256,
				   G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					   TANDEM_PARAM_CONFIG);
	/**
	 * TandemTcpReceiver:max-frame-bytes:
	 *
	 * Config key `max_frame_bytes`: the largest frame accepted (its length
	 * field); a longer frame fails the connection.
	 */
	props[PROP_MAX_FRAME_BYTES] =
		g_param_spec_uint ("max-frame-bytes", NULL, "Largest frame accepted, in bytes", 64,
				   1024 * 1024 * 1024, 16 * 1024 * 1024,
				   G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					   TANDEM_PARAM_CONFIG);
	/**
	 * TandemTcpReceiver:idle-timeout:
	 *
	 * Config key `idle_timeout`: seconds without a byte from a client
	 * (while it has nothing waiting for an ACK) before it is closed; 0 for
	 * never.
	 */
	props[PROP_IDLE_TIMEOUT] =
		g_param_spec_uint ("idle-timeout", NULL,
				   "Seconds a client may stay silent (0: no limit)", 0,
				   7 * 24 * 3600, 300,
				   G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					   TANDEM_PARAM_CONFIG);
	/**
	 * TandemTcpReceiver:streams:
	 *
	 * Config key `streams`: the names or ids (`name:version`) of the
	 * streams the receiver takes; empty for every stream the node knows.
	 */
	props[PROP_STREAMS] =
		g_param_spec_boxed ("streams", NULL,
				    "Streams taken (names or name:version); empty: all",
				    G_TYPE_STRV,
				    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					    TANDEM_PARAM_CONFIG);
	/**
	 * TandemTcpReceiver:bound-port:
	 *
	 * The port the receiver listens on once started (the one picked when
	 * #TandemTcpReceiver:port is 0), or 0.
	 */
	props[PROP_BOUND_PORT] =
		g_param_spec_uint ("bound-port", NULL, "Port listened on", 0, 65535, 0,
				   G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
					   G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_tcp_receiver_class_finalize (TandemTcpReceiverClass *klass)
{
}

static void
tandem_tcp_receiver_init (TandemTcpReceiver *self)
{
	self->address = g_strdup ("127.0.0.1");
	self->port = TANDEM_TCP_DEFAULT_PORT;
	self->max_connections = 256;
	self->max_frame_bytes = 16 * 1024 * 1024;
	self->idle_timeout = 300;
	self->conns = g_hash_table_new_full (NULL, NULL, (GDestroyNotify) conn_unref, NULL);
}

static GType
tandem_tcp_receiver_register_types (GTypeModule *module)
{
	tandem_tcp_receiver_register_type (module);
	return TANDEM_TYPE_TCP_RECEIVER;
}

TANDEM_PLUGIN_DEFINE ("tcp",
		      TANDEM_PLUGIN_KIND_RECEIVER,
		      "0.1.0",
		      "LGPL-2.1-or-later",
		      "Receives batches of events over TCP in length-prefixed binary frames",
		      tandem_tcp_receiver_register_types)
