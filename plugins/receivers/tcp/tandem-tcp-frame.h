/* tandem-tcp-frame.h: the frame format of the tcp receiver, version 1
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Constants, encoders and a bounds-checked reader for the length-prefixed
 * binary frames the tcp receiver speaks (see README.md beside this file for
 * the format itself).  Everything is `static inline` and needs only GLib, so
 * that the receiver, its tests and the load generator (bench/tcp-load.c)
 * share one implementation instead of copies.  This header is not part of
 * the installed SDK.
 *
 * Every number on the wire is big endian.  A frame is
 *
 *   u32 length | u8 version | u8 type | payload
 *
 * where length counts the bytes after the length field (2 + the payload).
 */
#pragma once

#include <string.h>

#include <glib.h>

G_BEGIN_DECLS

/**
 * TANDEM_TCP_FRAME_VERSION:
 *
 * The frame format version this header speaks.
 */
#define TANDEM_TCP_FRAME_VERSION 1

/**
 * TANDEM_TCP_FRAME_HEADER_SIZE:
 *
 * Bytes before the payload: the length (4), the version (1) and the type (1).
 */
#define TANDEM_TCP_FRAME_HEADER_SIZE 6

/**
 * TANDEM_TCP_DEFAULT_PORT:
 *
 * The default port of the tcp receiver (the port of WSO2's binary receiver).
 */
#define TANDEM_TCP_DEFAULT_PORT 7611

/**
 * TANDEM_TCP_MAX_REASON:
 *
 * The longest reason an ERROR frame carries, in bytes; longer reasons are cut
 * at a character boundary.
 */
#define TANDEM_TCP_MAX_REASON 1024

/**
 * TandemTcpFrameType:
 * @TANDEM_TCP_FRAME_EVENTS: a batch of events for one stream (client to server)
 * @TANDEM_TCP_FRAME_ACK: the batch is accepted (server to client)
 * @TANDEM_TCP_FRAME_ERROR: the request or the connection failed; always the
 *   last frame the server sends on a connection (server to client)
 *
 * The type byte of a frame.
 */
typedef enum {
	TANDEM_TCP_FRAME_EVENTS = 1,
	TANDEM_TCP_FRAME_ACK = 2,
	TANDEM_TCP_FRAME_ERROR = 3,
} TandemTcpFrameType;

/**
 * TandemTcpEventFlags:
 * @TANDEM_TCP_EVENT_HAS_TIMESTAMP: an i64 timestamp (ms since the Unix epoch)
 *   follows; without it the receiver stamps the event when it arrives
 * @TANDEM_TCP_EVENT_HAS_ID: an event id (u16 length + UTF-8) follows, for
 *   per-event idempotency
 *
 * The flags byte that starts every event of an EVENTS frame; other bits must
 * be 0.
 */
typedef enum {
	TANDEM_TCP_EVENT_HAS_TIMESTAMP = 1 << 0,
	TANDEM_TCP_EVENT_HAS_ID = 1 << 1,
} TandemTcpEventFlags;

/**
 * TANDEM_TCP_EVENT_FLAGS_ALL:
 *
 * Every defined #TandemTcpEventFlags bit.
 */
#define TANDEM_TCP_EVENT_FLAGS_ALL (TANDEM_TCP_EVENT_HAS_TIMESTAMP | TANDEM_TCP_EVENT_HAS_ID)

/**
 * TandemTcpMarker:
 * @TANDEM_TCP_MARKER_NULL: the value is null; nothing follows
 * @TANDEM_TCP_MARKER_INT: an `int`: i32
 * @TANDEM_TCP_MARKER_LONG: a `long`: i64
 * @TANDEM_TCP_MARKER_FLOAT: a `float`: u32, the IEEE 754 binary32 bits
 * @TANDEM_TCP_MARKER_DOUBLE: a `double`: u64, the IEEE 754 binary64 bits
 * @TANDEM_TCP_MARKER_BOOL: a `bool`: u8, 0 or 1
 * @TANDEM_TCP_MARKER_STRING: a `string`: u32 length, then UTF-8 without NUL
 *
 * The byte before every value: null, or the type of the attribute (which
 * must be the type the stream definition gives it).  The type codes are the
 * #TandemAttributeType values plus one.
 */
typedef enum {
	TANDEM_TCP_MARKER_NULL = 0,
	TANDEM_TCP_MARKER_INT = 1,
	TANDEM_TCP_MARKER_LONG = 2,
	TANDEM_TCP_MARKER_FLOAT = 3,
	TANDEM_TCP_MARKER_DOUBLE = 4,
	TANDEM_TCP_MARKER_BOOL = 5,
	TANDEM_TCP_MARKER_STRING = 6,
} TandemTcpMarker;

/**
 * TandemTcpErrorCode:
 * @TANDEM_TCP_ERROR_UNSUPPORTED_VERSION: the frame's version is not 1
 * @TANDEM_TCP_ERROR_UNKNOWN_TYPE: the frame's type is not one a client may send
 * @TANDEM_TCP_ERROR_FRAME_TOO_LARGE: the frame's length is over `max_frame_bytes`
 * @TANDEM_TCP_ERROR_MALFORMED: the frame does not decode (truncated, a length
 *   past the end, not UTF-8, a bad flag or value marker, a count that does
 *   not match the payload)
 * @TANDEM_TCP_ERROR_UNKNOWN_STREAM: the node knows no such stream
 * @TANDEM_TCP_ERROR_STREAM_NOT_ALLOWED: the receiver's `streams` key does not
 *   list the stream
 * @TANDEM_TCP_ERROR_INVALID_EVENT: the node refused the batch
 * @TANDEM_TCP_ERROR_UNAVAILABLE: the node is stopping; requests without an
 *   ACK were not acknowledged and may be sent again (with their idempotency key)
 * @TANDEM_TCP_ERROR_TOO_MANY_CONNECTIONS: the receiver already serves
 *   `max_connections` clients
 * @TANDEM_TCP_ERROR_IDLE_TIMEOUT: nothing arrived for `idle_timeout` seconds
 * @TANDEM_TCP_ERROR_INTERNAL: anything else
 *
 * The code of an ERROR frame.  The server closes the connection after every
 * ERROR frame.
 */
typedef enum {
	TANDEM_TCP_ERROR_UNSUPPORTED_VERSION = 1,
	TANDEM_TCP_ERROR_UNKNOWN_TYPE = 2,
	TANDEM_TCP_ERROR_FRAME_TOO_LARGE = 3,
	TANDEM_TCP_ERROR_MALFORMED = 4,
	TANDEM_TCP_ERROR_UNKNOWN_STREAM = 5,
	TANDEM_TCP_ERROR_STREAM_NOT_ALLOWED = 6,
	TANDEM_TCP_ERROR_INVALID_EVENT = 7,
	TANDEM_TCP_ERROR_UNAVAILABLE = 8,
	TANDEM_TCP_ERROR_TOO_MANY_CONNECTIONS = 9,
	TANDEM_TCP_ERROR_IDLE_TIMEOUT = 10,
	TANDEM_TCP_ERROR_INTERNAL = 11,
} TandemTcpErrorCode;

/* --- big-endian numbers ---------------------------------------------------- */

/**
 * tandem_tcp_get_u32:
 * @p: 4 readable bytes
 *
 * Returns: the big-endian u32 at @p
 */
static inline guint32
tandem_tcp_get_u32 (const guint8 *p)
{
	return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

/**
 * tandem_tcp_set_u32:
 * @p: 4 writable bytes
 * @v: the value
 *
 * Stores @v at @p, big endian.
 */
static inline void
tandem_tcp_set_u32 (guint8 *p, guint32 v)
{
	p[0] = (guint8) (v >> 24);
	p[1] = (guint8) (v >> 16);
	p[2] = (guint8) (v >> 8);
	p[3] = (guint8) v;
}

/* --- writing --------------------------------------------------------------- */

/**
 * tandem_tcp_put_u8:
 * @buf: the output
 * @v: the value
 *
 * Appends @v.
 */
static inline void
tandem_tcp_put_u8 (GByteArray *buf, guint8 v)
{
	g_byte_array_append (buf, &v, 1);
}

/**
 * tandem_tcp_put_u16:
 * @buf: the output
 * @v: the value
 *
 * Appends @v, big endian.
 */
static inline void
tandem_tcp_put_u16 (GByteArray *buf, guint16 v)
{
	guint8 b[2] = { (guint8) (v >> 8), (guint8) v };

	g_byte_array_append (buf, b, 2);
}

/**
 * tandem_tcp_put_u32:
 * @buf: the output
 * @v: the value
 *
 * Appends @v, big endian.
 */
static inline void
tandem_tcp_put_u32 (GByteArray *buf, guint32 v)
{
	guint8 b[4];

	tandem_tcp_set_u32 (b, v);
	g_byte_array_append (buf, b, 4);
}

/**
 * tandem_tcp_put_u64:
 * @buf: the output
 * @v: the value
 *
 * Appends @v, big endian.
 */
static inline void
tandem_tcp_put_u64 (GByteArray *buf, guint64 v)
{
	guint8 b[8];

	tandem_tcp_set_u32 (b, (guint32) (v >> 32));
	tandem_tcp_set_u32 (b + 4, (guint32) v);
	g_byte_array_append (buf, b, 8);
}

/**
 * tandem_tcp_put_bytes16:
 * @buf: the output
 * @s: (nullable): the bytes, or %NULL for none
 * @len: their length, or -1 if @s is NUL-terminated; at most 65535
 *
 * Appends a u16 length and the bytes (a stream name, key or event id).
 */
static inline void
tandem_tcp_put_bytes16 (GByteArray *buf, const char *s, gssize len)
{
	gsize n = s == NULL ? 0 : len < 0 ? strlen (s) : (gsize) len;

	g_return_if_fail (n <= G_MAXUINT16);
	tandem_tcp_put_u16 (buf, (guint16) n);
	if (n > 0)
		g_byte_array_append (buf, (const guint8 *) s, (guint) n);
}

/**
 * tandem_tcp_frame_begin:
 * @buf: the output
 * @type: a #TandemTcpFrameType
 *
 * Starts a frame: appends a placeholder length, the version and @type.
 * Append the payload, then call tandem_tcp_frame_end() with the result.
 *
 * Returns: the offset of the frame in @buf
 */
static inline guint
tandem_tcp_frame_begin (GByteArray *buf, TandemTcpFrameType type)
{
	guint offset = buf->len;
	guint8 header[TANDEM_TCP_FRAME_HEADER_SIZE] = {
		0, 0, 0, 0, TANDEM_TCP_FRAME_VERSION, (guint8) type
	};

	g_byte_array_append (buf, header, sizeof header);
	return offset;
}

/**
 * tandem_tcp_frame_end:
 * @buf: the output
 * @offset: what tandem_tcp_frame_begin() returned
 *
 * Ends the frame started at @offset: fills in its length.
 */
static inline void
tandem_tcp_frame_end (GByteArray *buf, guint offset)
{
	tandem_tcp_set_u32 (buf->data + offset, buf->len - offset - 4);
}

/**
 * tandem_tcp_put_events_header:
 * @buf: the output, after tandem_tcp_frame_begin() with %TANDEM_TCP_FRAME_EVENTS
 * @request_id: the client's id for the request, echoed by its ACK or ERROR
 * @stream: the stream name (`S`) or id (`S:1.0.0`)
 * @idempotency_key: (nullable): a key for the whole batch, or %NULL
 * @count: how many events follow
 *
 * Appends the start of an EVENTS payload.  Then append @count events, each
 * with tandem_tcp_put_event_start() and one value per attribute.
 */
static inline void
tandem_tcp_put_events_header (GByteArray *buf,
			      guint32 request_id,
			      const char *stream,
			      const char *idempotency_key,
			      guint32 count)
{
	tandem_tcp_put_u32 (buf, request_id);
	tandem_tcp_put_bytes16 (buf, stream, -1);
	tandem_tcp_put_bytes16 (buf, idempotency_key, -1);
	tandem_tcp_put_u32 (buf, count);
}

/**
 * tandem_tcp_put_event_start:
 * @buf: the output
 * @has_timestamp: whether @timestamp is sent (otherwise the receiver stamps
 *   the event when it arrives)
 * @timestamp: the event time, in milliseconds since the Unix epoch
 * @id: (nullable): an event id, or %NULL
 *
 * Appends the flags, timestamp and id that start an event.
 */
static inline void
tandem_tcp_put_event_start (GByteArray *buf,
			    gboolean has_timestamp,
			    gint64 timestamp,
			    const char *id)
{
	guint8 flags = (has_timestamp ? TANDEM_TCP_EVENT_HAS_TIMESTAMP : 0) |
		       (id != NULL ? TANDEM_TCP_EVENT_HAS_ID : 0);

	tandem_tcp_put_u8 (buf, flags);
	if (has_timestamp)
		tandem_tcp_put_u64 (buf, (guint64) timestamp);
	if (id != NULL)
		tandem_tcp_put_bytes16 (buf, id, -1);
}

/**
 * tandem_tcp_put_null:
 * @buf: the output
 *
 * Appends a null value.
 */
static inline void
tandem_tcp_put_null (GByteArray *buf)
{
	tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_NULL);
}

/**
 * tandem_tcp_put_int:
 * @buf: the output
 * @v: the value
 *
 * Appends an `int` value.
 */
static inline void
tandem_tcp_put_int (GByteArray *buf, gint32 v)
{
	tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_INT);
	tandem_tcp_put_u32 (buf, (guint32) v);
}

/**
 * tandem_tcp_put_long:
 * @buf: the output
 * @v: the value
 *
 * Appends a `long` value.
 */
static inline void
tandem_tcp_put_long (GByteArray *buf, gint64 v)
{
	tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_LONG);
	tandem_tcp_put_u64 (buf, (guint64) v);
}

/**
 * tandem_tcp_put_float:
 * @buf: the output
 * @v: the value
 *
 * Appends a `float` value.
 */
static inline void
tandem_tcp_put_float (GByteArray *buf, float v)
{
	guint32 bits;

	memcpy (&bits, &v, sizeof bits);
	tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_FLOAT);
	tandem_tcp_put_u32 (buf, bits);
}

/**
 * tandem_tcp_put_double:
 * @buf: the output
 * @v: the value
 *
 * Appends a `double` value.
 */
static inline void
tandem_tcp_put_double (GByteArray *buf, double v)
{
	guint64 bits;

	memcpy (&bits, &v, sizeof bits);
	tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_DOUBLE);
	tandem_tcp_put_u64 (buf, bits);
}

/**
 * tandem_tcp_put_bool:
 * @buf: the output
 * @v: the value
 *
 * Appends a `bool` value.
 */
static inline void
tandem_tcp_put_bool (GByteArray *buf, gboolean v)
{
	tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_BOOL);
	tandem_tcp_put_u8 (buf, v ? 1 : 0);
}

/**
 * tandem_tcp_put_string:
 * @buf: the output
 * @v: the value, UTF-8
 * @len: its length in bytes, or -1 if it is NUL-terminated
 *
 * Appends a `string` value.
 */
static inline void
tandem_tcp_put_string (GByteArray *buf, const char *v, gssize len)
{
	gsize n = len < 0 ? strlen (v) : (gsize) len;

	g_return_if_fail (n <= G_MAXUINT32);
	tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_STRING);
	tandem_tcp_put_u32 (buf, (guint32) n);
	g_byte_array_append (buf, (const guint8 *) v, (guint) n);
}

/**
 * tandem_tcp_put_ack:
 * @buf: the output
 * @request_id: the request acknowledged
 * @first_seq: the sequence number of its first event
 * @count: how many events the request held
 * @n_new: how many of them were new (the others were repeats of events
 *   already accepted: see the idempotency key)
 *
 * Appends a whole ACK frame.
 */
static inline void
tandem_tcp_put_ack (GByteArray *buf,
		    guint32 request_id,
		    guint64 first_seq,
		    guint32 count,
		    guint32 n_new)
{
	guint offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_ACK);

	tandem_tcp_put_u32 (buf, request_id);
	tandem_tcp_put_u64 (buf, first_seq);
	tandem_tcp_put_u32 (buf, count);
	tandem_tcp_put_u32 (buf, n_new);
	tandem_tcp_frame_end (buf, offset);
}

/**
 * tandem_tcp_put_error:
 * @buf: the output
 * @request_id: the request that failed, or 0 when the error is about the
 *   connection
 * @code: a #TandemTcpErrorCode
 * @reason: what went wrong, UTF-8; cut to %TANDEM_TCP_MAX_REASON bytes
 *
 * Appends a whole ERROR frame.
 */
static inline void
tandem_tcp_put_error (GByteArray *buf,
		      guint32 request_id,
		      TandemTcpErrorCode code,
		      const char *reason)
{
	guint offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_ERROR);
	gsize len = strlen (reason);

	if (len > TANDEM_TCP_MAX_REASON) {
		const char *end =
			g_utf8_find_prev_char (reason, reason + TANDEM_TCP_MAX_REASON + 1);

		len = end != NULL ? (gsize) (end - reason) : 0;
	}
	tandem_tcp_put_u32 (buf, request_id);
	tandem_tcp_put_u16 (buf, (guint16) code);
	tandem_tcp_put_bytes16 (buf, reason, (gssize) len);
	tandem_tcp_frame_end (buf, offset);
}

/* --- reading --------------------------------------------------------------- */

/**
 * TandemTcpReader:
 * @data: the bytes
 * @len: how many there are
 * @pos: how many were read
 *
 * A cursor over received bytes.  Every read checks the bytes left first and
 * fails, reading nothing, when there are too few.
 */
typedef struct {
	const guint8 *data;
	gsize len;
	gsize pos;
} TandemTcpReader;

/**
 * tandem_tcp_reader_init:
 * @r: a reader
 * @data: the bytes
 * @len: how many
 *
 * Points @r at the start of @data.
 */
static inline void
tandem_tcp_reader_init (TandemTcpReader *r, const guint8 *data, gsize len)
{
	r->data = data;
	r->len = len;
	r->pos = 0;
}

/**
 * tandem_tcp_reader_left:
 * @r: a reader
 *
 * Returns: the bytes not read yet
 */
static inline gsize
tandem_tcp_reader_left (const TandemTcpReader *r)
{
	return r->len - r->pos;
}

/**
 * tandem_tcp_reader_bytes:
 * @r: a reader
 * @n: how many bytes
 * @out: (out): where they start
 *
 * Returns: %FALSE, reading nothing, if fewer than @n bytes are left
 */
static inline gboolean
tandem_tcp_reader_bytes (TandemTcpReader *r, gsize n, const guint8 **out)
{
	if (n > r->len - r->pos)
		return FALSE;
	*out = r->data + r->pos;
	r->pos += n;
	return TRUE;
}

/**
 * tandem_tcp_reader_u8:
 * @r: a reader
 * @v: (out): the value
 *
 * Returns: %FALSE if no byte is left
 */
static inline gboolean
tandem_tcp_reader_u8 (TandemTcpReader *r, guint8 *v)
{
	if (r->pos >= r->len)
		return FALSE;
	*v = r->data[r->pos++];
	return TRUE;
}

/**
 * tandem_tcp_reader_u16:
 * @r: a reader
 * @v: (out): the value
 *
 * Returns: %FALSE if fewer than 2 bytes are left
 */
static inline gboolean
tandem_tcp_reader_u16 (TandemTcpReader *r, guint16 *v)
{
	const guint8 *p;

	if (!tandem_tcp_reader_bytes (r, 2, &p))
		return FALSE;
	*v = (guint16) ((p[0] << 8) | p[1]);
	return TRUE;
}

/**
 * tandem_tcp_reader_u32:
 * @r: a reader
 * @v: (out): the value
 *
 * Returns: %FALSE if fewer than 4 bytes are left
 */
static inline gboolean
tandem_tcp_reader_u32 (TandemTcpReader *r, guint32 *v)
{
	const guint8 *p;

	if (!tandem_tcp_reader_bytes (r, 4, &p))
		return FALSE;
	*v = tandem_tcp_get_u32 (p);
	return TRUE;
}

/**
 * tandem_tcp_reader_u64:
 * @r: a reader
 * @v: (out): the value
 *
 * Returns: %FALSE if fewer than 8 bytes are left
 */
static inline gboolean
tandem_tcp_reader_u64 (TandemTcpReader *r, guint64 *v)
{
	const guint8 *p;

	if (!tandem_tcp_reader_bytes (r, 8, &p))
		return FALSE;
	*v = ((guint64) tandem_tcp_get_u32 (p) << 32) | tandem_tcp_get_u32 (p + 4);
	return TRUE;
}

/**
 * TandemTcpReply:
 * @type: %TANDEM_TCP_FRAME_ACK or %TANDEM_TCP_FRAME_ERROR
 * @request_id: the request it answers (0 for an ERROR about the connection)
 * @first_seq: ACK: the sequence number of the first event
 * @count: ACK: how many events the request held
 * @n_new: ACK: how many of them were new
 * @code: ERROR: a #TandemTcpErrorCode
 * @reason: ERROR: what went wrong (not NUL-terminated; points into the frame)
 * @reason_len: ERROR: the length of @reason
 *
 * A decoded server frame, for clients.
 */
typedef struct {
	TandemTcpFrameType type;
	guint32 request_id;
	guint64 first_seq;
	guint32 count;
	guint32 n_new;
	guint16 code;
	const char *reason;
	gsize reason_len;
} TandemTcpReply;

/**
 * tandem_tcp_parse_reply:
 * @frame: a whole frame, from its length field on
 * @len: the bytes of @frame (4 + its length field)
 * @reply: (out): the decoded frame
 *
 * Decodes an ACK or ERROR frame a client received.
 *
 * Returns: %FALSE if @frame is not a well-formed version 1 ACK or ERROR frame
 */
static inline gboolean
tandem_tcp_parse_reply (const guint8 *frame, gsize len, TandemTcpReply *reply)
{
	TandemTcpReader r;
	guint32 length;
	guint8 version, type;
	guint16 reason_len;
	const guint8 *reason;

	memset (reply, 0, sizeof *reply);
	tandem_tcp_reader_init (&r, frame, len);
	if (!tandem_tcp_reader_u32 (&r, &length) || length != len - 4 ||
	    !tandem_tcp_reader_u8 (&r, &version) || version != TANDEM_TCP_FRAME_VERSION ||
	    !tandem_tcp_reader_u8 (&r, &type) || !tandem_tcp_reader_u32 (&r, &reply->request_id))
		return FALSE;
	reply->type = (TandemTcpFrameType) type;
	if (type == TANDEM_TCP_FRAME_ACK)
		return tandem_tcp_reader_u64 (&r, &reply->first_seq) &&
		       tandem_tcp_reader_u32 (&r, &reply->count) &&
		       tandem_tcp_reader_u32 (&r, &reply->n_new) &&
		       tandem_tcp_reader_left (&r) == 0;
	if (type != TANDEM_TCP_FRAME_ERROR || !tandem_tcp_reader_u16 (&r, &reply->code) ||
	    !tandem_tcp_reader_u16 (&r, &reason_len) ||
	    !tandem_tcp_reader_bytes (&r, reason_len, &reason) || tandem_tcp_reader_left (&r) != 0)
		return FALSE;
	reply->reason = (const char *) reason;
	reply->reason_len = reason_len;
	return TRUE;
}

G_END_DECLS
