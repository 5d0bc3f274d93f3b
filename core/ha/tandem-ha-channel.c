/* tandem-ha-channel.c: the authenticated heartbeat channel between members
 *
 * One listener (a GSocketService) accepts sessions, one Dial per address
 * given to tandem_ha_channel_add_peer() makes them; both kinds are a Session
 * that runs the handshake of tandem-ha-channel.h and then exchanges
 * heartbeats, messages and a final GOODBYE.  Everything runs on the
 * thread-default main context captured by tandem_ha_channel_new(); every
 * asynchronous operation holds a reference on its Session or Dial, and both
 * lose their pointer to the channel when it closes, so that no callback
 * reaches a channel that was closed or finalized.
 *
 * Details the header leaves open:
 *  - the session key is HMAC-SHA256 (cluster key, "tandem-session-v1" ||
 *    nonce_a || nonce_b) over the 16 raw bytes of each nonce (the JSON
 *    carries them as 32 lowercase hexadecimal digits);
 *  - a HEARTBEAT payload is the status object itself;
 *  - the listener counts a session as authenticated when the first frame
 *    under the session key arrives (the dialer sends a HEARTBEAT at once),
 *    so that a replayed HELLO never makes a member join;
 *  - tandem_ha_channel_close() emits no signal: the owner knows it stops;
 *  - tandem_ha_channel_remove_peer() stops redialling but leaves a session
 *    that is open alone (it ends with a GOODBYE or a timeout).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-HA"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "tandem-error.h"
#include "tandem-ha-channel.h"

#define PROTO_VERSION 1
#define FRAME_VERSION 1
#define HEADER_SIZE 12 /* version, type, reserved, counter */
#define MIN_FRAME (HEADER_SIZE + 2 + TANDEM_HA_MAC_SIZE)
#define MAX_PAYLOAD (TANDEM_HA_MAX_FRAME - HEADER_SIZE - TANDEM_HA_MAC_SIZE)
#define NONCE_SIZE 16
#define SESSION_LABEL "tandem-session-v1"
#define QUEUE_LIMIT (4 * 1024 * 1024)
#define LINGER_MS 250
#define REDIAL_MIN_MS 100
#define REDIAL_MAX_MS 1000
#define CONNECT_TIMEOUT_MIN_MS 1000

typedef struct _Dial Dial;
typedef struct _Session Session;

typedef enum {
	SESSION_HANDSHAKE, /* dialer: HELLO sent; listener: waiting for HELLO */
	SESSION_ACKED,     /* listener: HELLO_ACK sent, waiting for the first keyed frame */
	SESSION_OPEN,      /* authenticated */
	SESSION_LINGER,    /* the channel closed: flushing GOODBYE, then closing */
	SESSION_CLOSED,
} SessionState;

struct _Session {
	guint ref_count;
	TandemHaChannel *channel; /* NULL once detached */
	GMainContext *context;
	GSocketConnection *conn;
	GInputStream *in;
	GOutputStream *out;
	GCancellable *cancellable;
	char *address;
	Dial *dial; /* the dial that made it (owned), or NULL */
	gboolean dialer;
	SessionState state;

	guint8 nonce_a[NONCE_SIZE];
	guint8 nonce_b[NONCE_SIZE];
	guint8 key[32]; /* the session key, once derived */
	guint64 send_counter;
	guint64 recv_counter;
	char *node_id;
	char *role;
	gint64 started_us;
	gint64 last_heard_us;
	gboolean said_goodbye; /* the peer sent GOODBYE */

	/* reading */
	guint8 length_buf[4];
	guint8 *frame;
	gsize frame_len;

	/* writing */
	GQueue queue; /* of GBytes, not yet handed to the stream */
	gsize queued_bytes;
	GBytes *writing;

	GSource *heartbeat_source;
	GSource *watchdog_source;
	GSource *linger_source;
	GSource *close_source; /* a deferred close (send queue overflow) */
};

struct _Dial {
	guint ref_count;
	TandemHaChannel *channel; /* NULL once removed */
	char *address;
	gboolean connecting;
	gboolean connect_timed_out;
	gboolean is_self;
	gboolean failure_logged;
	guint next_delay_ms;
	GCancellable *cancellable;
	GSource *retry_source;
	GSource *connect_timeout_source;
	Session *session; /* the session it made, while open (borrowed) */
};

typedef struct {
	TandemHaPeer pub;
	char *status_raw;  /* the last heartbeat payload, as received */
	char *status_json; /* the same, serialized again */
	char *goodbye;     /* the reason of a GOODBYE from it, if any */
} Peer;

struct _TandemHaChannel {
	GObject parent_instance;

	GMainContext *context;
	char *cluster;
	GBytes *key;
	char *node_id;
	char *role;
	guint interval_ms;
	guint timeout_ms;

	GSocketService *service;
	guint16 port;
	GSocketClient *client;

	GHashTable *dials;          /* address -> Dial */
	GHashTable *self_addresses; /* addresses that turned out to be this channel */
	GPtrArray *sessions;        /* of Session (owned), not yet closed */
	GHashTable *peers;          /* node id -> Peer */
	char *status_payload;       /* serialized status object */
	GHashTable *refusals;       /* "host reason" -> Refusal: what the log said */
	gboolean closed;
};

/* A refusal logged: the same one again is logged at most once a minute */
typedef struct {
	gint64 logged_at;
	guint suppressed;
} Refusal;

#define REFUSAL_LOG_INTERVAL_US (60 * G_USEC_PER_SEC)
#define REFUSALS_MAX 256

G_DEFINE_TYPE (TandemHaChannel, tandem_ha_channel, G_TYPE_OBJECT)

enum {
	SIGNAL_PEER_JOINED,
	SIGNAL_PEER_STATUS,
	SIGNAL_PEER_LEFT,
	SIGNAL_MESSAGE,
	SIGNAL_REFUSED,
	SIGNAL_DATA,
	N_SIGNALS,
};

static guint signals[N_SIGNALS];

static void session_close (Session *s, const char *reason, gboolean died);
static void session_write_next (Session *s);
static void session_read_next (Session *s);
static void dial_start (Dial *d);
static void dial_failed (Dial *d, const char *reason);
static void dial_retry_later (Dial *d);

/* --- small helpers --------------------------------------------------------- */

static void
fill_random (guint8 *buf, gsize len)
{
	gsize done = 0;

	while (done < len) {
		ssize_t n = getrandom (buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* no getrandom(): fall back on the kernel's device */
			int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
			if (fd >= 0) {
				while (done < len) {
					n = read (fd, buf + done, len - done);
					if (n < 0 && errno == EINTR)
						continue;
					if (n <= 0)
						break;
					done += (gsize) n;
				}
				close (fd);
			}
			if (done < len)
				g_error ("Tandem-HA: no source of random numbers for the nonces");
			return;
		}
		done += (gsize) n;
	}
}

static gboolean
mac_equal (const guint8 *a, const guint8 *b, gsize len)
{
	guint8 diff = 0;

	for (gsize i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* HMAC-SHA256 over @direction || @data */
static void
compute_mac (const guint8 *key,
	     gsize key_len,
	     char direction,
	     const guint8 *data,
	     gsize len,
	     guint8 out[TANDEM_HA_MAC_SIZE])
{
	g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
	guint8 dir = (guint8) direction;
	gsize out_len = TANDEM_HA_MAC_SIZE;

	g_hmac_update (hmac, &dir, 1);
	g_hmac_update (hmac, data, len);
	g_hmac_get_digest (hmac, out, &out_len);
}

static char *
hex_encode (const guint8 *data, gsize len)
{
	static const char digits[] = "0123456789abcdef";
	char *hex = g_malloc (len * 2 + 1);

	for (gsize i = 0; i < len; i++) {
		hex[2 * i] = digits[data[i] >> 4];
		hex[2 * i + 1] = digits[data[i] & 0xf];
	}
	hex[len * 2] = '\0';
	return hex;
}

static gboolean
hex_decode (const char *hex, guint8 *out, gsize len)
{
	if (hex == NULL || strlen (hex) != len * 2)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		int hi = g_ascii_xdigit_value (hex[2 * i]);
		int lo = g_ascii_xdigit_value (hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return FALSE;
		out[i] = (guint8) (hi << 4 | lo);
	}
	return TRUE;
}

static char *
object_to_string (JsonObject *object)
{
	g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

	json_node_set_object (node, object);
	return json_to_string (node, FALSE);
}

static JsonObject *
parse_object (const guint8 *data, gsize len, GError **error)
{
	g_autoptr (JsonParser) parser = json_parser_new_immutable ();
	JsonNode *root;

	if (!g_utf8_validate ((const char *) data, (gssize) len, NULL)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "payload is not UTF-8");
		return NULL;
	}
	if (!json_parser_load_from_data (parser, (const char *) data, (gssize) len, error))
		return NULL;
	root = json_parser_get_root (parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "payload is not a JSON object");
		return NULL;
	}
	return json_object_ref (json_node_get_object (root));
}

/* (nullable): the string member @name of @object */
static const char *
object_get_string (JsonObject *object, const char *name)
{
	JsonNode *node = json_object_get_member (object, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
	    json_node_get_value_type (node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string (node);
}

static gboolean
object_get_int (JsonObject *object, const char *name, gint64 *value)
{
	JsonNode *node = json_object_get_member (object, name);

	if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
	    json_node_get_value_type (node) != G_TYPE_INT64)
		return FALSE;
	*value = json_node_get_int (node);
	return TRUE;
}

static char *
socket_address_to_string (GSocketAddress *address)
{
	GInetAddress *inet;
	g_autofree char *host = NULL;
	guint16 port;

	if (!G_IS_INET_SOCKET_ADDRESS (address))
		return g_strdup ("unknown");
	inet = g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address));
	port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address));
	host = g_inet_address_to_string (inet);
	if (g_inet_address_get_family (inet) == G_SOCKET_FAMILY_IPV6)
		return g_strdup_printf ("[%s]:%u", host, port);
	return g_strdup_printf ("%s:%u", host, port);
}

/* A frame with its length prefix, MAC'd under @key with @direction */
static GBytes *
frame_build (TandemHaFrameType type,
	     guint64 counter,
	     const char *payload,
	     gsize payload_len,
	     const guint8 *key,
	     gsize key_len,
	     char direction)
{
	gsize length = HEADER_SIZE + payload_len + TANDEM_HA_MAC_SIZE;
	guint8 *buf = g_malloc (4 + length);
	guint32 length_be = GUINT32_TO_BE ((guint32) length);
	guint64 counter_be = GUINT64_TO_BE (counter);

	memcpy (buf, &length_be, 4);
	buf[4] = FRAME_VERSION;
	buf[5] = (guint8) type;
	buf[6] = 0;
	buf[7] = 0;
	memcpy (buf + 8, &counter_be, 8);
	memcpy (buf + 4 + HEADER_SIZE, payload, payload_len);
	compute_mac (key, key_len, direction, buf + 4, HEADER_SIZE + payload_len,
		     buf + 4 + HEADER_SIZE + payload_len);
	return g_bytes_new_take (buf, 4 + length);
}

/* --- peers ----------------------------------------------------------------- */

static void
peer_free (Peer *peer)
{
	g_free (peer->pub.node_id);
	g_free (peer->pub.address);
	g_free (peer->pub.role);
	g_clear_pointer (&peer->pub.status, json_object_unref);
	g_free (peer->status_raw);
	g_free (peer->status_json);
	g_free (peer->goodbye);
	g_free (peer);
}

/*
 * tandem_ha_peer_free:
 * @peer: (nullable): a peer from tandem_ha_channel_dup_peers()
 *
 * Frees @peer.
 */
void
tandem_ha_peer_free (TandemHaPeer *peer)
{
	if (peer == NULL)
		return;
	g_free (peer->node_id);
	g_free (peer->address);
	g_free (peer->role);
	g_clear_pointer (&peer->status, json_object_unref);
	g_free (peer);
}

/* --- sessions -------------------------------------------------------------- */

static Session *
session_ref (Session *s)
{
	s->ref_count++;
	return s;
}

static void dial_unref (Dial *d);

static void
session_unref (Session *s)
{
	if (--s->ref_count > 0)
		return;
	g_assert (s->heartbeat_source == NULL && s->watchdog_source == NULL);
	g_assert (s->linger_source == NULL && s->close_source == NULL);
	if (s->conn != NULL)
		g_io_stream_close (G_IO_STREAM (s->conn), NULL, NULL);
	g_clear_object (&s->conn);
	g_clear_object (&s->cancellable);
	g_clear_pointer (&s->dial, dial_unref);
	g_queue_clear_full (&s->queue, (GDestroyNotify) g_bytes_unref);
	g_clear_pointer (&s->writing, g_bytes_unref);
	g_main_context_unref (s->context);
	g_free (s->frame);
	g_free (s->address);
	g_free (s->node_id);
	g_free (s->role);
	memset (s->key, 0, sizeof (s->key));
	g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Session, session_unref)

static void
source_clear (GSource **source)
{
	if (*source == NULL)
		return;
	g_source_destroy (*source);
	g_clear_pointer (source, g_source_unref);
}

static gboolean
session_is_live (Session *s)
{
	return s->channel != NULL && s->state < SESSION_LINGER;
}

static GSource *
session_add_timeout (Session *s, guint ms, GSourceFunc func)
{
	GSource *source = g_timeout_source_new (ms);

	g_source_set_callback (source, func, s, NULL);
	g_source_attach (source, s->context);
	return source;
}

static void
session_enqueue_raw (Session *s, GBytes *frame)
{
	gsize size = g_bytes_get_size (frame);

	if (s->close_source != NULL || s->state == SESSION_CLOSED)
		return;
	g_queue_push_tail (&s->queue, g_bytes_ref (frame));
	s->queued_bytes += size;
	if (s->writing == NULL)
		session_write_next (s);
}

static gboolean
session_deferred_close_cb (gpointer data)
{
	Session *s = data;

	g_clear_pointer (&s->close_source, g_source_unref);
	session_close (s, "send queue full (the peer reads too slowly)", FALSE);
	return G_SOURCE_REMOVE;
}

/* (nullable): the next frame under the session key (or, for the
 * handshake, the cluster key) */
static GBytes *
session_frame_len (Session *s, TandemHaFrameType type, const char *payload, gsize len)
{
	char direction = s->dialer ? 'D' : 'L';

	if (len > MAX_PAYLOAD) {
		g_warning ("Not sending a frame of %" G_GSIZE_FORMAT " bytes to %s: too large", len,
			   s->address);
		return NULL;
	}
	if (type == TANDEM_HA_FRAME_HELLO || type == TANDEM_HA_FRAME_HELLO_ACK) {
		gsize key_len = 0;
		const guint8 *key = g_bytes_get_data (s->channel->key, &key_len);
		return frame_build (type, 0, payload, len, key, key_len, direction);
	}
	return frame_build (type, ++s->send_counter, payload, len, s->key, sizeof (s->key),
			    direction);
}

static GBytes *
session_frame (Session *s, TandemHaFrameType type, const char *payload)
{
	return session_frame_len (s, type, payload, strlen (payload));
}

/* Queues a frame; a queue over QUEUE_LIMIT closes the session */
static void
session_send_len (Session *s, TandemHaFrameType type, const char *payload, gsize len)
{
	g_autoptr (GBytes) frame = NULL;

	if (s->close_source != NULL || s->state == SESSION_CLOSED)
		return;
	frame = session_frame_len (s, type, payload, len);
	if (frame == NULL)
		return;
	if (s->queued_bytes + g_bytes_get_size (frame) > QUEUE_LIMIT) {
		/* closing here would emit signals inside the caller's call */
		s->close_source = g_idle_source_new ();
		g_source_set_callback (s->close_source, session_deferred_close_cb, s, NULL);
		g_source_attach (s->close_source, s->context);
		return;
	}
	session_enqueue_raw (s, frame);
}

static void
session_send (Session *s, TandemHaFrameType type, const char *payload)
{
	session_send_len (s, type, payload, strlen (payload));
}

static void
session_write_cb (GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr (Session) s = data;
	g_autoptr (GError) error = NULL;
	g_autofree char *reason = NULL;

	if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, NULL, &error)) {
		if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
		    s->state == SESSION_CLOSED)
			return;
		reason = g_strdup_printf ("write error: %s", error->message);
		session_close (s, reason, TRUE);
		return;
	}
	if (s->state == SESSION_CLOSED)
		return;
	s->queued_bytes -= g_bytes_get_size (s->writing);
	g_clear_pointer (&s->writing, g_bytes_unref);
	session_write_next (s);
}

static void
session_write_next (Session *s)
{
	g_autoptr (GMainContextPusher) pusher = NULL;
	gsize size = 0;
	const guint8 *data;

	s->writing = g_queue_pop_head (&s->queue);
	if (s->writing == NULL) {
		if (s->state == SESSION_LINGER)
			session_close (s, NULL, FALSE);
		return;
	}
	data = g_bytes_get_data (s->writing, &size);
	pusher = g_main_context_pusher_new (s->context);
	g_output_stream_write_all_async (s->out, data, size, G_PRIORITY_DEFAULT, s->cancellable,
					 session_write_cb, session_ref (s));
}

static void
session_send_heartbeat (Session *s)
{
	session_send (s, TANDEM_HA_FRAME_HEARTBEAT, s->channel->status_payload);
}

static gboolean
session_heartbeat_cb (gpointer data)
{
	session_send_heartbeat (data);
	return G_SOURCE_CONTINUE;
}

static gint64
session_deadline (Session *s)
{
	gint64 timeout_us = (gint64) s->channel->timeout_ms * 1000;

	if (s->state == SESSION_OPEN)
		return s->last_heard_us + timeout_us;
	return s->started_us + timeout_us;
}

static gboolean
watchdog_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
	return callback (user_data);
}

static GSourceFuncs watchdog_funcs = {
	NULL, NULL, watchdog_dispatch, NULL, NULL, NULL,
};

static gboolean
session_watchdog_cb (gpointer data)
{
	Session *s = data;
	g_autofree char *reason = NULL;
	gint64 deadline = session_deadline (s);

	if (g_get_monotonic_time () < deadline) {
		g_source_set_ready_time (s->watchdog_source, deadline);
		return G_SOURCE_CONTINUE;
	}
	if (s->state == SESSION_OPEN)
		reason = g_strdup_printf ("no heartbeat for %u ms", s->channel->timeout_ms);
	else
		reason =
			g_strdup_printf ("handshake not done within %u ms", s->channel->timeout_ms);
	session_close (s, reason, FALSE);
	return G_SOURCE_REMOVE;
}

static void
session_arm_watchdog (Session *s)
{
	if (s->watchdog_source == NULL) {
		s->watchdog_source = g_source_new (&watchdog_funcs, sizeof (GSource));
		g_source_set_callback (s->watchdog_source, session_watchdog_cb, s, NULL);
		g_source_attach (s->watchdog_source, s->context);
	}
	g_source_set_ready_time (s->watchdog_source, session_deadline (s));
}

static void
session_start_heartbeats (Session *s)
{
	source_clear (&s->heartbeat_source);
	s->heartbeat_source =
		session_add_timeout (s, s->channel->interval_ms, session_heartbeat_cb);
}

static void
session_stop_timers (Session *s)
{
	source_clear (&s->heartbeat_source);
	source_clear (&s->watchdog_source);
	source_clear (&s->linger_source);
	source_clear (&s->close_source);
}

static void
session_shutdown_socket (Session *s)
{
	g_cancellable_cancel (s->cancellable);
	if (s->conn != NULL)
		g_io_stream_close (G_IO_STREAM (s->conn), NULL, NULL);
	g_queue_clear_full (&s->queue, (GDestroyNotify) g_bytes_unref);
	s->queued_bytes = 0;
}

/* A misconfigured member (a wrong key, another cluster) dials again every
 * second or so: the first refusal of a host for a reason is logged, then at
 * most one a minute, with the count of those not logged in between.  The
 * signal is emitted for every one. */
static void
channel_emit_refused (TandemHaChannel *self, const char *address, const char *reason)
{
	g_autofree char *host = g_strdup (address);
	g_autofree char *key = NULL;
	gint64 now = g_get_monotonic_time ();
	Refusal *r;
	char *colon = strrchr (host, ':');

	/* the port of an incoming connection changes every time */
	if (colon != NULL)
		*colon = '\0';
	key = g_strdup_printf ("%s %s", host, reason);
	r = g_hash_table_lookup (self->refusals, key);
	if (r == NULL) {
		if (g_hash_table_size (self->refusals) >= REFUSALS_MAX)
			g_hash_table_remove_all (self->refusals);
		r = g_new0 (Refusal, 1);
		r->logged_at = now;
		g_hash_table_insert (self->refusals, g_steal_pointer (&key), r);
		g_warning ("Refused member connection %s: %s", address, reason);
	} else if (now - r->logged_at >= REFUSAL_LOG_INTERVAL_US) {
		g_warning ("Refused member connection %s: %s (and %u more time(s) from %s in the last %" G_GINT64_FORMAT
			   " s)",
			   address, reason, r->suppressed, host, (now - r->logged_at) / G_USEC_PER_SEC);
		r->logged_at = now;
		r->suppressed = 0;
	} else {
		r->suppressed++;
	}
	g_signal_emit (self, signals[SIGNAL_REFUSED], 0, address, reason);
}

/* The last session with a peer closed */
static void
channel_peer_left (TandemHaChannel *self, Peer *peer, const char *reason, gboolean died)
{
	g_autofree char *node_id = g_strdup (peer->pub.node_id);
	g_autofree char *why = NULL;

	if (peer->goodbye != NULL) {
		/* it said goodbye on another session: an orderly leave */
		why = g_strdup (peer->goodbye);
		died = FALSE;
	} else {
		why = g_strdup (reason);
	}
	g_hash_table_remove (self->peers, node_id);
	g_message ("Member left: %s (%s)", node_id, why);
	g_signal_emit (self, signals[SIGNAL_PEER_LEFT], 0, node_id, why, died);
}

/* Closes the socket and detaches from the channel.  With a channel: an
 * authenticated session that was the last with its peer makes it leave,
 * and the dial that made the session redials. */
static void
session_close (Session *s, const char *reason, gboolean died)
{
	g_autoptr (TandemHaChannel) self = NULL;
	g_autoptr (Session) keep = session_ref (s);
	SessionState prev = s->state;
	Dial *d = g_steal_pointer (&s->dial);

	if (prev == SESSION_CLOSED) {
		g_clear_pointer (&d, dial_unref);
		return;
	}
	s->state = SESSION_CLOSED;
	session_stop_timers (s);
	session_shutdown_socket (s);

	if (s->channel == NULL) {
		g_clear_pointer (&d, dial_unref);
		return;
	}
	self = g_object_ref (s->channel);
	s->channel = NULL;
	g_ptr_array_remove (self->sessions, s);

	if (d != NULL) {
		if (d->session == s)
			d->session = NULL;
		if (prev == SESSION_OPEN) {
			/* back off from the start again, but never loop at once */
			d->next_delay_ms = REDIAL_MIN_MS;
			dial_retry_later (d);
		} else {
			dial_failed (d, reason);
		}
		dial_unref (d);
	} else if (prev != SESSION_OPEN && reason != NULL) {
		g_debug ("Member connection from %s closed before authentication: %s", s->address,
			 reason);
	}

	if (prev == SESSION_OPEN) {
		Peer *peer = g_hash_table_lookup (self->peers, s->node_id);
		if (peer != NULL) {
			if (s->said_goodbye && peer->goodbye == NULL)
				peer->goodbye = g_strdup (reason);
			if (peer->pub.sessions > 0)
				peer->pub.sessions--;
			if (peer->pub.sessions == 0)
				channel_peer_left (self, peer, reason != NULL ? reason : "closed",
						   died);
		}
	}
}

static void
session_refuse (Session *s, const char *reason)
{
	g_autoptr (Session) keep = session_ref (s);
	g_autoptr (TandemHaChannel) self = g_object_ref (s->channel);

	channel_emit_refused (self, s->address, reason);
	if (s->state != SESSION_CLOSED)
		session_close (s, reason, FALSE);
}

static gboolean
session_linger_cb (gpointer data)
{
	Session *s = data;

	g_clear_pointer (&s->linger_source, g_source_unref);
	session_close (s, NULL, FALSE);
	return G_SOURCE_REMOVE;
}

/* The channel closes: send GOODBYE, give it LINGER_MS to leave, close */
static void
session_linger (Session *s, const char *reason)
{
	g_autoptr (JsonObject) goodbye = json_object_new ();
	g_autoptr (GBytes) frame = NULL;
	g_autofree char *payload = NULL;

	json_object_set_string_member (goodbye, "reason", reason);
	payload = object_to_string (goodbye);
	if (s->close_source == NULL)
		frame = session_frame (s, TANDEM_HA_FRAME_GOODBYE, payload);
	if (frame != NULL && s->writing == NULL && g_queue_is_empty (&s->queue)) {
		/* nothing in flight: hand it to the kernel now, so that the
		 * socket can close at once (a channel disposed right after
		 * closing may never see its main context run again) */
		GSocket *socket = g_socket_connection_get_socket (s->conn);
		gsize size = 0;
		const char *data = g_bytes_get_data (frame, &size);
		gssize n = g_socket_send_with_blocking (socket, data, size, FALSE, NULL, NULL);

		if (n == (gssize) size)
			g_clear_pointer (&frame, g_bytes_unref);
		else if (n > 0) {
			GBytes *rest = g_bytes_new_from_bytes (frame, (gsize) n, size - (gsize) n);
			g_bytes_unref (frame);
			frame = rest;
		}
	}
	if (frame != NULL)
		session_enqueue_raw (s, frame);

	source_clear (&s->heartbeat_source);
	source_clear (&s->watchdog_source);
	source_clear (&s->close_source);
	s->state = SESSION_LINGER;
	s->channel = NULL;
	if (s->dial != NULL) {
		if (s->dial->session == s)
			s->dial->session = NULL;
		g_clear_pointer (&s->dial, dial_unref);
	}
	if (s->writing == NULL && g_queue_is_empty (&s->queue)) {
		session_close (s, NULL, FALSE);
		return;
	}
	/* the source owns a reference: the channel no longer does */
	s->linger_source = g_timeout_source_new (LINGER_MS);
	g_source_set_callback (s->linger_source, session_linger_cb, session_ref (s),
			       (GDestroyNotify) session_unref);
	g_source_attach (s->linger_source, s->context);
}

/* The session is authenticated: the peer joins if it is the first */
static void
session_authenticated (Session *s)
{
	TandemHaChannel *self = s->channel;
	Peer *peer;

	s->state = SESSION_OPEN;
	s->last_heard_us = g_get_monotonic_time ();
	session_arm_watchdog (s);
	session_start_heartbeats (s);
	session_send_heartbeat (s);

	if (s->dial != NULL) {
		if (s->dial->failure_logged)
			g_debug ("Connected to member %s", s->dial->address);
		s->dial->failure_logged = FALSE;
		s->dial->next_delay_ms = REDIAL_MIN_MS;
	}

	peer = g_hash_table_lookup (self->peers, s->node_id);
	if (peer != NULL) {
		/* a GOODBYE on an older session no longer says how it will leave */
		g_clear_pointer (&peer->goodbye, g_free);
		peer->pub.sessions++;
		peer->pub.last_heard_us = s->last_heard_us;
		g_debug ("Another session with member %s, from %s (%u open)", s->node_id,
			 s->address, peer->pub.sessions);
		return;
	}
	peer = g_new0 (Peer, 1);
	peer->pub.node_id = g_strdup (s->node_id);
	peer->pub.address = g_strdup (s->address);
	peer->pub.role = g_strdup (s->role);
	peer->pub.sessions = 1;
	peer->pub.joined_us = s->last_heard_us;
	peer->pub.last_heard_us = s->last_heard_us;
	g_hash_table_insert (self->peers, peer->pub.node_id, peer);
	g_message ("Member joined: %s at %s (%s)", s->node_id, s->address, s->role);
	g_signal_emit (self, signals[SIGNAL_PEER_JOINED], 0, s->node_id, s->address, s->role);
}

static void
session_derive_key (Session *s)
{
	gsize key_len = 0;
	const guint8 *key = g_bytes_get_data (s->channel->key, &key_len);
	g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
	gsize out_len = sizeof (s->key);

	g_hmac_update (hmac, (const guint8 *) SESSION_LABEL, strlen (SESSION_LABEL));
	g_hmac_update (hmac, s->nonce_a, NONCE_SIZE);
	g_hmac_update (hmac, s->nonce_b, NONCE_SIZE);
	g_hmac_get_digest (hmac, s->key, &out_len);
}

/* Checks the fields HELLO and HELLO_ACK share; sets *@reason when not */
static gboolean
check_hello_fields (TandemHaChannel *self,
		    JsonObject *obj,
		    const char *what,
		    const char **node_id,
		    const char **role,
		    guint8 nonce[NONCE_SIZE],
		    char **reason)
{
	gint64 proto = 0;
	const char *cluster;

	if (!object_get_int (obj, "proto", &proto)) {
		*reason = g_strdup_printf ("bad %s: no proto", what);
		return FALSE;
	}
	if (proto != PROTO_VERSION) {
		*reason = g_strdup_printf ("unsupported protocol version %" G_GINT64_FORMAT, proto);
		return FALSE;
	}
	cluster = object_get_string (obj, "cluster");
	if (cluster == NULL) {
		*reason = g_strdup_printf ("bad %s: no cluster", what);
		return FALSE;
	}
	if (g_strcmp0 (cluster, self->cluster) != 0) {
		*reason = g_strdup_printf ("cluster mismatch: peer is in cluster %s", cluster);
		return FALSE;
	}
	*node_id = object_get_string (obj, "node_id");
	*role = object_get_string (obj, "role");
	if (*node_id == NULL || **node_id == '\0' || *role == NULL) {
		*reason = g_strdup_printf ("bad %s: no node_id or role", what);
		return FALSE;
	}
	if (!hex_decode (object_get_string (obj, "nonce"), nonce, NONCE_SIZE)) {
		*reason = g_strdup_printf ("bad %s: nonce is not 16 bytes in hexadecimal", what);
		return FALSE;
	}
	return TRUE;
}

static gboolean
session_check_cluster_mac (Session *s, const guint8 *frame, gsize len, char direction)
{
	gsize key_len = 0;
	const guint8 *key = g_bytes_get_data (s->channel->key, &key_len);
	guint8 mac[TANDEM_HA_MAC_SIZE];

	compute_mac (key, key_len, direction, frame, len - TANDEM_HA_MAC_SIZE, mac);
	return mac_equal (mac, frame + len - TANDEM_HA_MAC_SIZE, TANDEM_HA_MAC_SIZE);
}

/* A HELLO from our own dialer: the address it dialled is this channel */
static gboolean
channel_detect_self (TandemHaChannel *self, Session *listener_side, const guint8 *nonce)
{
	for (guint i = 0; i < self->sessions->len; i++) {
		Session *other = g_ptr_array_index (self->sessions, i);
		g_autoptr (Session) keep = NULL;

		if (!other->dialer || other->state != SESSION_HANDSHAKE ||
		    !mac_equal (other->nonce_a, nonce, NONCE_SIZE))
			continue;
		keep = session_ref (other);
		if (other->dial != NULL) {
			other->dial->is_self = TRUE;
			g_hash_table_add (self->self_addresses, g_strdup (other->dial->address));
			g_debug ("%s is this member itself: not dialling it again",
				 other->dial->address);
		}
		session_close (listener_side, NULL, FALSE);
		session_close (other, NULL, FALSE);
		return TRUE;
	}
	return FALSE;
}

static void
session_handle_hello (Session *s, const guint8 *frame, gsize len)
{
	TandemHaChannel *self = s->channel;
	g_autoptr (JsonObject) obj = NULL;
	g_autoptr (JsonObject) ack = json_object_new ();
	g_autoptr (GError) error = NULL;
	g_autofree char *reason = NULL;
	g_autofree char *nonce_a = NULL;
	g_autofree char *nonce_b = NULL;
	g_autofree char *payload = NULL;
	const char *node_id = NULL;
	const char *role = NULL;

	if (frame[1] != TANDEM_HA_FRAME_HELLO) {
		reason = g_strdup_printf ("expected HELLO, got frame type %u", frame[1]);
		session_refuse (s, reason);
		return;
	}
	obj = parse_object (frame + HEADER_SIZE, len - HEADER_SIZE - TANDEM_HA_MAC_SIZE, &error);
	if (obj == NULL) {
		reason = g_strdup_printf ("bad HELLO: %s", error->message);
		session_refuse (s, reason);
		return;
	}
	if (!check_hello_fields (self, obj, "HELLO", &node_id, &role, s->nonce_a, &reason)) {
		session_refuse (s, reason);
		return;
	}
	if (!session_check_cluster_mac (s, frame, len, 'D')) {
		session_refuse (s, "bad cluster key");
		return;
	}
	if (g_strcmp0 (node_id, self->node_id) == 0) {
		if (channel_detect_self (self, s, s->nonce_a))
			return;
		reason = g_strdup_printf ("node id conflict: peer uses our node id %s", node_id);
		session_refuse (s, reason);
		return;
	}
	s->node_id = g_strdup (node_id);
	s->role = g_strdup (role);
	fill_random (s->nonce_b, NONCE_SIZE);
	session_derive_key (s);

	nonce_a = hex_encode (s->nonce_a, NONCE_SIZE);
	nonce_b = hex_encode (s->nonce_b, NONCE_SIZE);
	json_object_set_int_member (ack, "proto", PROTO_VERSION);
	json_object_set_string_member (ack, "cluster", self->cluster);
	json_object_set_string_member (ack, "node_id", self->node_id);
	json_object_set_string_member (ack, "role", self->role);
	json_object_set_string_member (ack, "nonce", nonce_b);
	json_object_set_string_member (ack, "echo", nonce_a);
	payload = object_to_string (ack);
	s->state = SESSION_ACKED;
	session_send (s, TANDEM_HA_FRAME_HELLO_ACK, payload);
}

static void
session_handle_hello_ack (Session *s, const guint8 *frame, gsize len)
{
	TandemHaChannel *self = s->channel;
	g_autoptr (JsonObject) obj = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *reason = NULL;
	const char *node_id = NULL;
	const char *role = NULL;
	guint8 echo[NONCE_SIZE];

	if (frame[1] != TANDEM_HA_FRAME_HELLO_ACK) {
		reason = g_strdup_printf ("expected HELLO_ACK, got frame type %u", frame[1]);
		session_refuse (s, reason);
		return;
	}
	obj = parse_object (frame + HEADER_SIZE, len - HEADER_SIZE - TANDEM_HA_MAC_SIZE, &error);
	if (obj == NULL) {
		reason = g_strdup_printf ("bad HELLO_ACK: %s", error->message);
		session_refuse (s, reason);
		return;
	}
	if (!check_hello_fields (self, obj, "HELLO_ACK", &node_id, &role, s->nonce_b, &reason)) {
		session_refuse (s, reason);
		return;
	}
	if (!session_check_cluster_mac (s, frame, len, 'L')) {
		session_refuse (s, "bad cluster key");
		return;
	}
	if (!hex_decode (object_get_string (obj, "echo"), echo, NONCE_SIZE) ||
	    !mac_equal (echo, s->nonce_a, NONCE_SIZE)) {
		session_refuse (s, "HELLO_ACK does not echo our nonce");
		return;
	}
	if (g_strcmp0 (node_id, self->node_id) == 0) {
		/* our own listener never answers us (it recognises our nonce):
		 * another member is configured with our node id */
		reason = g_strdup_printf ("node id conflict: peer uses our node id %s", node_id);
		session_refuse (s, reason);
		return;
	}
	s->node_id = g_strdup (node_id);
	s->role = g_strdup (role);
	session_derive_key (s);
	session_authenticated (s);
}

static void
session_handle_heartbeat (Session *s, Peer *peer, const guint8 *payload, gsize len)
{
	TandemHaChannel *self = s->channel;
	g_autoptr (JsonObject) status = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *reason = NULL;
	g_autofree char *json = NULL;

	if (peer->status_raw != NULL && strlen (peer->status_raw) == len &&
	    memcmp (peer->status_raw, payload, len) == 0)
		return;
	status = parse_object (payload, len, &error);
	if (status == NULL) {
		reason = g_strdup_printf ("bad HEARTBEAT: %s", error->message);
		session_refuse (s, reason);
		return;
	}
	g_free (peer->status_raw);
	peer->status_raw = g_strndup ((const char *) payload, len);
	json = object_to_string (status);
	if (g_strcmp0 (json, peer->status_json) == 0)
		return;
	g_free (peer->status_json);
	peer->status_json = g_steal_pointer (&json);
	g_clear_pointer (&peer->pub.status, json_object_unref);
	peer->pub.status = json_object_ref (status);
	g_signal_emit (self, signals[SIGNAL_PEER_STATUS], 0, s->node_id, status);
}

static void
session_handle_message (Session *s, const guint8 *payload, gsize len)
{
	g_autoptr (JsonObject) obj = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *reason = NULL;
	g_autofree char *node_id = g_strdup (s->node_id);
	JsonNode *body;
	const char *type;

	obj = parse_object (payload, len, &error);
	if (obj == NULL) {
		reason = g_strdup_printf ("bad MESSAGE: %s", error->message);
		session_refuse (s, reason);
		return;
	}
	type = object_get_string (obj, "type");
	body = json_object_get_member (obj, "body");
	if (type == NULL || body == NULL || !JSON_NODE_HOLDS_OBJECT (body)) {
		session_refuse (s, "bad MESSAGE: no type or no body object");
		return;
	}
	g_signal_emit (s->channel, signals[SIGNAL_MESSAGE], 0, node_id, type,
		       json_node_get_object (body));
}

/* A frame under the session key; @frame starts at the version byte */
static void
session_handle_keyed (Session *s, const guint8 *frame, gsize len)
{
	TandemHaChannel *self = s->channel;
	g_autofree char *reason = NULL;
	guint8 mac[TANDEM_HA_MAC_SIZE];
	guint64 counter_be;
	guint64 counter;
	const guint8 *payload = frame + HEADER_SIZE;
	gsize payload_len = len - HEADER_SIZE - TANDEM_HA_MAC_SIZE;
	Peer *peer;

	compute_mac (s->key, sizeof (s->key), s->dialer ? 'L' : 'D', frame,
		     len - TANDEM_HA_MAC_SIZE, mac);
	if (!mac_equal (mac, frame + len - TANDEM_HA_MAC_SIZE, TANDEM_HA_MAC_SIZE)) {
		session_refuse (s, "bad MAC");
		return;
	}
	memcpy (&counter_be, frame + 4, 8);
	counter = GUINT64_FROM_BE (counter_be);
	if (counter <= s->recv_counter) {
		reason = g_strdup_printf ("replayed frame: counter %" G_GUINT64_FORMAT
					  " after %" G_GUINT64_FORMAT,
					  counter, s->recv_counter);
		session_refuse (s, reason);
		return;
	}
	s->recv_counter = counter;

	if (s->state == SESSION_ACKED) {
		session_authenticated (s);
		if (!session_is_live (s))
			return;
	}
	s->last_heard_us = g_get_monotonic_time ();
	peer = g_hash_table_lookup (self->peers, s->node_id);
	if (peer != NULL)
		peer->pub.last_heard_us = s->last_heard_us;

	switch (frame[1]) {
	case TANDEM_HA_FRAME_HEARTBEAT:
		if (peer != NULL)
			session_handle_heartbeat (s, peer, payload, payload_len);
		break;
	case TANDEM_HA_FRAME_MESSAGE:
		session_handle_message (s, payload, payload_len);
		break;
	case TANDEM_HA_FRAME_DATA: {
		g_autoptr (GBytes) bytes = g_bytes_new (payload, payload_len);
		g_autofree char *node_id = g_strdup (s->node_id);

		g_signal_emit (self, signals[SIGNAL_DATA], 0, node_id, bytes);
		break;
	}
	case TANDEM_HA_FRAME_GOODBYE: {
		g_autoptr (JsonObject) obj = parse_object (payload, payload_len, NULL);
		const char *why = obj != NULL ? object_get_string (obj, "reason") : NULL;
		s->said_goodbye = TRUE;
		session_close (s, why != NULL ? why : "goodbye", FALSE);
		break;
	}
	default:
		reason = g_strdup_printf ("unexpected frame type %u", frame[1]);
		session_refuse (s, reason);
		break;
	}
}

static void
session_handle_frame (Session *s, const guint8 *frame, gsize len)
{
	g_autofree char *reason = NULL;
	guint64 counter_be;

	if (frame[0] != FRAME_VERSION) {
		reason = g_strdup_printf ("unknown frame version %u", frame[0]);
		session_refuse (s, reason);
		return;
	}
	memcpy (&counter_be, frame + 4, 8);
	switch (s->state) {
	case SESSION_HANDSHAKE:
		if (counter_be != 0) {
			session_refuse (s, "handshake frame with a non-zero counter");
			return;
		}
		if (s->dialer)
			session_handle_hello_ack (s, frame, len);
		else
			session_handle_hello (s, frame, len);
		break;
	case SESSION_ACKED:
	case SESSION_OPEN:
		session_handle_keyed (s, frame, len);
		break;
	case SESSION_LINGER:
	case SESSION_CLOSED:
	default:
		break;
	}
}

static void
session_read_error (Session *s, GError *error)
{
	g_autofree char *reason = NULL;

	if (error == NULL && s->dialer && s->state != SESSION_OPEN)
		reason = g_strdup ("closed during the handshake (other cluster or key?)");
	else if (error == NULL)
		reason = g_strdup ("connection closed");
	else
		reason = g_strdup_printf ("connection lost: %s", error->message);
	session_close (s, reason, TRUE);
}

static void
session_read_frame_cb (GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr (Session) s = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (TandemHaChannel) self = NULL;
	g_autofree guint8 *frame = NULL;
	gsize n = 0;

	if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), res, &n, &error)) {
		if (!session_is_live (s) ||
		    g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		session_read_error (s, error);
		return;
	}
	if (!session_is_live (s))
		return;
	if (n < s->frame_len) {
		session_read_error (s, NULL);
		return;
	}
	self = g_object_ref (s->channel);
	frame = g_steal_pointer (&s->frame);
	session_handle_frame (s, frame, s->frame_len);
	if (session_is_live (s))
		session_read_next (s);
}

static void
session_read_length_cb (GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr (Session) s = data;
	g_autoptr (GError) error = NULL;
	g_autoptr (GMainContextPusher) pusher = NULL;
	g_autofree char *reason = NULL;
	guint32 length_be;
	gsize n = 0;

	if (!g_input_stream_read_all_finish (G_INPUT_STREAM (source), res, &n, &error)) {
		if (!session_is_live (s) ||
		    g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		session_read_error (s, error);
		return;
	}
	if (!session_is_live (s))
		return;
	if (n < sizeof (s->length_buf)) {
		session_read_error (s, NULL);
		return;
	}
	memcpy (&length_be, s->length_buf, 4);
	s->frame_len = GUINT32_FROM_BE (length_be);
	if (s->frame_len > TANDEM_HA_MAX_FRAME) {
		reason = g_strdup_printf ("frame of %" G_GSIZE_FORMAT " bytes is larger than %u",
					  s->frame_len, (guint) TANDEM_HA_MAX_FRAME);
		session_refuse (s, reason);
		return;
	}
	if (s->frame_len < MIN_FRAME) {
		reason = g_strdup_printf ("frame of %" G_GSIZE_FORMAT " bytes is too short",
					  s->frame_len);
		session_refuse (s, reason);
		return;
	}
	s->frame = g_malloc (s->frame_len);
	pusher = g_main_context_pusher_new (s->context);
	g_input_stream_read_all_async (s->in, s->frame, s->frame_len, G_PRIORITY_DEFAULT,
				       s->cancellable, session_read_frame_cb, session_ref (s));
}

static void
session_read_next (Session *s)
{
	g_autoptr (GMainContextPusher) pusher = g_main_context_pusher_new (s->context);

	g_input_stream_read_all_async (s->in, s->length_buf, sizeof (s->length_buf),
				       G_PRIORITY_DEFAULT, s->cancellable, session_read_length_cb,
				       session_ref (s));
}

/* (transfer none): a new session, owned by the channel's list */
static Session *
session_new (TandemHaChannel *self, GSocketConnection *conn, Dial *dial)
{
	Session *s = g_new0 (Session, 1);
	GSocket *socket = g_socket_connection_get_socket (conn);
	g_autoptr (GError) error = NULL;

	s->ref_count = 1;
	s->channel = self;
	s->context = g_main_context_ref (self->context);
	s->conn = g_object_ref (conn);
	s->in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
	s->out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
	s->cancellable = g_cancellable_new ();
	s->dialer = dial != NULL;
	s->state = SESSION_HANDSHAKE;
	s->started_us = g_get_monotonic_time ();
	g_queue_init (&s->queue);
	if (dial != NULL) {
		s->dial = dial;
		dial->ref_count++;
		dial->session = s;
		s->address = g_strdup (dial->address);
	} else {
		g_autoptr (GSocketAddress) remote =
			g_socket_connection_get_remote_address (conn, NULL);
		s->address =
			remote != NULL ? socket_address_to_string (remote) : g_strdup ("unknown");
	}
	if (!g_socket_set_option (socket, IPPROTO_TCP, TCP_NODELAY, 1, &error))
		g_debug ("Cannot set TCP_NODELAY on %s: %s", s->address, error->message);
	g_ptr_array_add (self->sessions, s);
	session_arm_watchdog (s);
	return s;
}

/* --- the listener ---------------------------------------------------------- */

static gboolean
channel_incoming_cb (GSocketService *service,
		     GSocketConnection *conn,
		     GObject *source_object,
		     gpointer user_data)
{
	TandemHaChannel *self = user_data;
	Session *s;

	if (self->closed)
		return FALSE;
	s = session_new (self, conn, NULL);
	g_debug ("Member connection from %s", s->address);
	session_read_next (s);
	return TRUE;
}

/* --- dials ----------------------------------------------------------------- */

static void
dial_unref (Dial *d)
{
	if (--d->ref_count > 0)
		return;
	g_assert (d->retry_source == NULL && d->connect_timeout_source == NULL);
	g_clear_object (&d->cancellable);
	g_free (d->address);
	g_free (d);
}

/* Stops dialling; an open session stays */
static void
dial_detach (Dial *d)
{
	d->channel = NULL;
	source_clear (&d->retry_source);
	source_clear (&d->connect_timeout_source);
	if (d->cancellable != NULL)
		g_cancellable_cancel (d->cancellable);
	if (d->session != NULL) {
		Session *s = d->session;
		d->session = NULL;
		if (s->dial == d) {
			s->dial = NULL;
			dial_unref (d);
		}
	}
}

static gboolean
dial_retry_cb (gpointer data)
{
	Dial *d = data;

	g_clear_pointer (&d->retry_source, g_source_unref);
	dial_start (d);
	return G_SOURCE_REMOVE;
}

static gboolean
dial_can_retry (Dial *d)
{
	return d->channel != NULL && !d->is_self && d->retry_source == NULL && !d->connecting &&
	       d->session == NULL;
}

/* Dials again after next_delay_ms, and doubles it (up to REDIAL_MAX_MS) */
static void
dial_retry_later (Dial *d)
{
	if (!dial_can_retry (d))
		return;
	d->retry_source = g_timeout_source_new (d->next_delay_ms);
	d->next_delay_ms = MIN (d->next_delay_ms * 2, REDIAL_MAX_MS);
	g_source_set_callback (d->retry_source, dial_retry_cb, d, NULL);
	g_source_attach (d->retry_source, d->channel->context);
}

/* The attempt failed (connect or handshake): try again after a while */
static void
dial_failed (Dial *d, const char *reason)
{
	if (!dial_can_retry (d))
		return;
	if (!d->failure_logged) {
		g_debug ("Cannot reach member at %s: %s (retrying every %u ms at most)", d->address,
			 reason != NULL ? reason : "closed", REDIAL_MAX_MS);
		d->failure_logged = TRUE;
	}
	dial_retry_later (d);
}

static void
dial_connect_cb (GObject *source, GAsyncResult *res, gpointer data)
{
	Dial *d = data;
	g_autoptr (GSocketConnection) conn = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *reason = NULL;
	Session *s;

	conn = g_socket_client_connect_to_host_finish (G_SOCKET_CLIENT (source), res, &error);
	source_clear (&d->connect_timeout_source);
	d->connecting = FALSE;
	if (d->channel == NULL) {
		if (conn != NULL)
			g_io_stream_close (G_IO_STREAM (conn), NULL, NULL);
		dial_unref (d);
		return;
	}
	if (conn == NULL) {
		if (d->connect_timed_out)
			reason = g_strdup ("connection timed out");
		else
			reason = g_strdup (error->message);
		dial_failed (d, reason);
		dial_unref (d);
		return;
	}
	s = session_new (d->channel, conn, d);
	{
		g_autoptr (JsonObject) hello = json_object_new ();
		g_autofree char *nonce = NULL;
		g_autofree char *payload = NULL;

		fill_random (s->nonce_a, NONCE_SIZE);
		nonce = hex_encode (s->nonce_a, NONCE_SIZE);
		json_object_set_int_member (hello, "proto", PROTO_VERSION);
		json_object_set_string_member (hello, "cluster", s->channel->cluster);
		json_object_set_string_member (hello, "node_id", s->channel->node_id);
		json_object_set_string_member (hello, "role", s->channel->role);
		json_object_set_string_member (hello, "nonce", nonce);
		payload = object_to_string (hello);
		session_send (s, TANDEM_HA_FRAME_HELLO, payload);
	}
	session_read_next (s);
	dial_unref (d);
}

static gboolean
dial_connect_timeout_cb (gpointer data)
{
	Dial *d = data;

	g_clear_pointer (&d->connect_timeout_source, g_source_unref);
	d->connect_timed_out = TRUE;
	g_cancellable_cancel (d->cancellable);
	return G_SOURCE_REMOVE;
}

static void
dial_start (Dial *d)
{
	TandemHaChannel *self = d->channel;
	g_autoptr (GMainContextPusher) pusher = NULL;

	if (self == NULL || d->is_self || d->connecting || d->session != NULL)
		return;
	source_clear (&d->retry_source);
	g_clear_object (&d->cancellable);
	d->cancellable = g_cancellable_new ();
	d->connecting = TRUE;
	d->connect_timed_out = FALSE;
	d->connect_timeout_source =
		g_timeout_source_new (MAX (self->timeout_ms, CONNECT_TIMEOUT_MIN_MS));
	g_source_set_callback (d->connect_timeout_source, dial_connect_timeout_cb, d, NULL);
	g_source_attach (d->connect_timeout_source, self->context);
	d->ref_count++;
	pusher = g_main_context_pusher_new (self->context);
	g_socket_client_connect_to_host_async (self->client, d->address, 0, d->cancellable,
					       dial_connect_cb, d);
}

/* --- the channel ----------------------------------------------------------- */

/* (transfer full): the open sessions, each with a reference */
static GPtrArray *
channel_dup_sessions (TandemHaChannel *self)
{
	GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) session_unref);

	for (guint i = 0; i < self->sessions->len; i++)
		g_ptr_array_add (copy, session_ref (g_ptr_array_index (self->sessions, i)));
	return copy;
}

static void
tandem_ha_channel_dispose (GObject *object)
{
	TandemHaChannel *self = TANDEM_HA_CHANNEL (object);

	tandem_ha_channel_close (self, "shutting down");
	G_OBJECT_CLASS (tandem_ha_channel_parent_class)->dispose (object);
}

static void
tandem_ha_channel_finalize (GObject *object)
{
	TandemHaChannel *self = TANDEM_HA_CHANNEL (object);

	g_ptr_array_unref (self->sessions);
	g_hash_table_unref (self->dials);
	g_hash_table_unref (self->self_addresses);
	g_hash_table_unref (self->peers);
	g_hash_table_unref (self->refusals);
	g_clear_object (&self->client);
	g_main_context_unref (self->context);
	g_free (self->cluster);
	g_bytes_unref (self->key);
	g_free (self->node_id);
	g_free (self->role);
	g_free (self->status_payload);
	G_OBJECT_CLASS (tandem_ha_channel_parent_class)->finalize (object);
}

static void
tandem_ha_channel_class_init (TandemHaChannelClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->dispose = tandem_ha_channel_dispose;
	object_class->finalize = tandem_ha_channel_finalize;

	signals[SIGNAL_PEER_JOINED] =
		g_signal_new ("peer-joined", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
			      NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING,
			      G_TYPE_STRING);
	signals[SIGNAL_PEER_STATUS] =
		g_signal_new ("peer-status", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
			      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, JSON_TYPE_OBJECT);
	signals[SIGNAL_PEER_LEFT] =
		g_signal_new ("peer-left", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
			      NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING,
			      G_TYPE_BOOLEAN);
	signals[SIGNAL_MESSAGE] = g_signal_new ("message", G_TYPE_FROM_CLASS (klass),
						G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
						3, G_TYPE_STRING, G_TYPE_STRING, JSON_TYPE_OBJECT);
	signals[SIGNAL_DATA] = g_signal_new ("data", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
					     NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_BYTES);
	signals[SIGNAL_REFUSED] =
		g_signal_new ("refused", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
			      NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
tandem_ha_channel_init (TandemHaChannel *self)
{
	self->context = g_main_context_ref_thread_default ();
	self->interval_ms = 100;
	self->timeout_ms = 600;
	self->client = g_socket_client_new ();
	g_socket_client_set_enable_proxy (self->client, FALSE);
	self->dials =
		g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) dial_unref);
	self->self_addresses = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	self->sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) session_unref);
	self->refusals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
	self->peers =
		g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) peer_free);
	self->status_payload = g_strdup ("{}");
}

/*
 * tandem_ha_channel_new:
 * @cluster: the cluster name
 * @key: the cluster key (at least 16 bytes)
 * @node_id: this member's node id
 * @role: "node" or "witness"
 *
 * Creates a channel on the thread-default main context.
 *
 * Returns: (transfer full): a new channel
 */
TandemHaChannel *
tandem_ha_channel_new (const char *cluster, GBytes *key, const char *node_id, const char *role)
{
	TandemHaChannel *self;

	g_return_val_if_fail (cluster != NULL, NULL);
	g_return_val_if_fail (key != NULL && g_bytes_get_size (key) >= 16, NULL);
	g_return_val_if_fail (node_id != NULL && *node_id != '\0', NULL);
	g_return_val_if_fail (role != NULL, NULL);

	self = g_object_new (TANDEM_TYPE_HA_CHANNEL, NULL);
	self->cluster = g_strdup (cluster);
	self->key = g_bytes_ref (key);
	self->node_id = g_strdup (node_id);
	self->role = g_strdup (role);
	return self;
}

/*
 * tandem_ha_channel_set_timing:
 * @self: a channel
 * @heartbeat_interval_ms: how often to send a heartbeat on every session
 * @heartbeat_timeout_ms: how long a session may stay silent (also bounds the handshake)
 *
 * Changes the timing; open sessions follow at once.
 */
void
tandem_ha_channel_set_timing (TandemHaChannel *self,
			      guint heartbeat_interval_ms,
			      guint heartbeat_timeout_ms)
{
	g_return_if_fail (TANDEM_IS_HA_CHANNEL (self));
	g_return_if_fail (heartbeat_interval_ms > 0 && heartbeat_timeout_ms > 0);

	self->interval_ms = heartbeat_interval_ms;
	self->timeout_ms = heartbeat_timeout_ms;
	for (guint i = 0; i < self->sessions->len; i++) {
		Session *s = g_ptr_array_index (self->sessions, i);
		if (s->state == SESSION_OPEN)
			session_start_heartbeats (s);
		if (s->watchdog_source != NULL)
			session_arm_watchdog (s);
	}
}

static gboolean
listener_add (TandemHaChannel *self, GInetAddress *inet, guint16 *port, GError **error)
{
	g_autoptr (GSocketAddress) address = g_inet_socket_address_new (inet, *port);
	g_autoptr (GSocketAddress) effective = NULL;

	if (!g_socket_listener_add_address (G_SOCKET_LISTENER (self->service), address,
					    G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
					    &effective, error))
		return FALSE;
	if (*port == 0 && G_IS_INET_SOCKET_ADDRESS (effective))
		*port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (effective));
	return TRUE;
}

/*
 * tandem_ha_channel_listen:
 * @self: a channel
 * @address: `host:port` (`[v6]:port` for IPv6); port 0 picks a free port
 * @error: return location for a #GError
 *
 * Listens on @address.  A host name is resolved here, at once, and the
 * channel listens on every address it has.
 *
 * Returns: %TRUE on success
 */
gboolean
tandem_ha_channel_listen (TandemHaChannel *self, const char *address, GError **error)
{
	g_autoptr (GSocketConnectable) parsed = NULL;
	g_autoptr (GMainContextPusher) pusher = NULL;
	g_autolist (GInetAddress) inets = NULL;
	g_autoptr (GError) first_error = NULL;
	const char *host;
	guint16 port;
	guint bound = 0;

	g_return_val_if_fail (TANDEM_IS_HA_CHANNEL (self), FALSE);
	g_return_val_if_fail (address != NULL, FALSE);

	if (self->closed) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "the channel is closed");
		return FALSE;
	}
	parsed = g_network_address_parse (address, 0, error);
	if (parsed == NULL) {
		g_prefix_error (error, "cannot listen on '%s': ", address);
		return FALSE;
	}
	host = g_network_address_get_hostname (G_NETWORK_ADDRESS (parsed));
	port = g_network_address_get_port (G_NETWORK_ADDRESS (parsed));
	if (g_strcmp0 (host, "*") == 0) {
		inets = g_list_prepend (inets, g_inet_address_new_any (G_SOCKET_FAMILY_IPV4));
	} else if (g_hostname_is_ip_address (host)) {
		inets = g_list_prepend (inets, g_inet_address_new_from_string (host));
	} else {
		g_autoptr (GResolver) resolver = g_resolver_get_default ();
		inets = g_resolver_lookup_by_name (resolver, host, NULL, error);
		if (inets == NULL) {
			g_prefix_error (error, "cannot listen on '%s': ", address);
			return FALSE;
		}
	}

	pusher = g_main_context_pusher_new (self->context);
	if (self->service == NULL) {
		self->service = g_socket_service_new ();
		g_signal_connect (self->service, "incoming", G_CALLBACK (channel_incoming_cb),
				  self);
	}
	for (GList *l = inets; l != NULL; l = l->next) {
		g_autoptr (GError) local_error = NULL;
		if (listener_add (self, l->data, &port, &local_error)) {
			bound++;
			continue;
		}
		g_debug ("Cannot listen on %s port %u: %s", address, port, local_error->message);
		if (first_error == NULL)
			first_error = g_steal_pointer (&local_error);
	}
	if (bound == 0) {
		g_propagate_prefixed_error (error, g_steal_pointer (&first_error),
					    "cannot listen on '%s': ", address);
		return FALSE;
	}
	if (self->port == 0)
		self->port = port;
	g_socket_service_start (self->service);
	g_debug ("Listening for members on %s (port %u)", address, self->port);
	return TRUE;
}

/*
 * tandem_ha_channel_get_port:
 * @self: a channel
 *
 * Returns: the port the channel listens on, or 0
 */
guint16
tandem_ha_channel_get_port (TandemHaChannel *self)
{
	g_return_val_if_fail (TANDEM_IS_HA_CHANNEL (self), 0);
	return self->port;
}

/*
 * tandem_ha_channel_add_peer:
 * @self: a channel
 * @address: `host:port` of another member
 *
 * Dials @address at once and redials it whenever no session from it is open.
 */
void
tandem_ha_channel_add_peer (TandemHaChannel *self, const char *address)
{
	Dial *d;

	g_return_if_fail (TANDEM_IS_HA_CHANNEL (self));
	g_return_if_fail (address != NULL);

	if (self->closed || g_hash_table_contains (self->dials, address))
		return;
	if (g_hash_table_contains (self->self_addresses, address)) {
		g_debug ("Not dialling %s: it is this member itself", address);
		return;
	}
	d = g_new0 (Dial, 1);
	d->ref_count = 1;
	d->channel = self;
	d->address = g_strdup (address);
	d->next_delay_ms = REDIAL_MIN_MS;
	g_hash_table_insert (self->dials, d->address, d);
	dial_start (d);
}

/*
 * tandem_ha_channel_remove_peer:
 * @self: a channel
 * @address: an address given to tandem_ha_channel_add_peer()
 *
 * Stops dialling @address.  A session it made stays open until it ends.
 */
void
tandem_ha_channel_remove_peer (TandemHaChannel *self, const char *address)
{
	Dial *d;

	g_return_if_fail (TANDEM_IS_HA_CHANNEL (self));
	g_return_if_fail (address != NULL);

	d = g_hash_table_lookup (self->dials, address);
	if (d == NULL)
		return;
	dial_detach (d);
	g_hash_table_remove (self->dials, address);
}

/*
 * tandem_ha_channel_set_status:
 * @self: a channel
 * @status: (nullable): the status object to send in every heartbeat
 *
 * Sets the status; when it changed, every session gets a heartbeat at once.
 */
void
tandem_ha_channel_set_status (TandemHaChannel *self, JsonObject *status)
{
	g_autofree char *payload = NULL;
	g_autoptr (GPtrArray) sessions = NULL;

	g_return_if_fail (TANDEM_IS_HA_CHANNEL (self));

	payload = status != NULL ? object_to_string (status) : g_strdup ("{}");
	if (strlen (payload) > MAX_PAYLOAD) {
		g_warning ("Status of %" G_GSIZE_FORMAT " bytes is too large: not sent",
			   strlen (payload));
		return;
	}
	if (g_strcmp0 (payload, self->status_payload) == 0)
		return;
	g_free (self->status_payload);
	self->status_payload = g_steal_pointer (&payload);
	sessions = channel_dup_sessions (self);
	for (guint i = 0; i < sessions->len; i++) {
		Session *s = g_ptr_array_index (sessions, i);
		if (s->state == SESSION_OPEN)
			session_send_heartbeat (s);
	}
}

/*
 * tandem_ha_channel_send:
 * @self: a channel
 * @node_id: the node to send to
 * @type: the message type
 * @body: (nullable): the message body (an empty object when %NULL)
 * @error: return location for a #GError
 *
 * Sends a MESSAGE frame on every open session with @node_id.
 *
 * Returns: %TRUE when it was queued on at least one session
 */
gboolean
tandem_ha_channel_send (TandemHaChannel *self,
			const char *node_id,
			const char *type,
			JsonObject *body,
			GError **error)
{
	g_autoptr (JsonObject) message = json_object_new ();
	g_autoptr (GPtrArray) sessions = NULL;
	g_autofree char *payload = NULL;
	guint sent = 0;

	g_return_val_if_fail (TANDEM_IS_HA_CHANNEL (self), FALSE);
	g_return_val_if_fail (node_id != NULL && type != NULL, FALSE);

	json_object_set_string_member (message, "type", type);
	json_object_set_object_member (message, "body",
				       body != NULL ? json_object_ref (body) : json_object_new ());
	payload = object_to_string (message);
	if (strlen (payload) > MAX_PAYLOAD) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "message '%s' of %" G_GSIZE_FORMAT " bytes is larger than a frame",
			     type, strlen (payload));
		return FALSE;
	}
	sessions = channel_dup_sessions (self);
	for (guint i = 0; i < sessions->len; i++) {
		Session *s = g_ptr_array_index (sessions, i);
		if (s->state != SESSION_OPEN || g_strcmp0 (s->node_id, node_id) != 0)
			continue;
		session_send (s, TANDEM_HA_FRAME_MESSAGE, payload);
		sent++;
	}
	if (sent == 0) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
			     "no open session with member %s", node_id);
		return FALSE;
	}
	return TRUE;
}

/* The oldest open session with @node_id (borrowed), or NULL */
static Session *
channel_primary_session (TandemHaChannel *self, const char *node_id)
{
	for (guint i = 0; i < self->sessions->len; i++) {
		Session *s = g_ptr_array_index (self->sessions, i);

		if (s->state == SESSION_OPEN && s->close_source == NULL && g_strcmp0 (s->node_id, node_id) == 0)
			return s;
	}
	return NULL;
}

gboolean
tandem_ha_channel_send_data (TandemHaChannel *self, const char *node_id, GBytes *payload, GError **error)
{
	Session *s;
	gsize len = 0;
	const char *data;

	g_return_val_if_fail (TANDEM_IS_HA_CHANNEL (self), FALSE);
	g_return_val_if_fail (node_id != NULL && payload != NULL, FALSE);

	data = g_bytes_get_data (payload, &len);
	if (len > MAX_PAYLOAD) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "a data frame of %" G_GSIZE_FORMAT " bytes is larger than a frame", len);
		return FALSE;
	}
	s = channel_primary_session (self, node_id);
	if (s == NULL) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "no open session with member %s", node_id);
		return FALSE;
	}
	session_send_len (s, TANDEM_HA_FRAME_DATA, data != NULL ? data : "", len);
	return TRUE;
}

guint
tandem_ha_channel_get_timeout_ms (TandemHaChannel *self)
{
	g_return_val_if_fail (TANDEM_IS_HA_CHANNEL (self), 0);
	return self->timeout_ms;
}

gsize
tandem_ha_channel_get_queued (TandemHaChannel *self, const char *node_id)
{
	gsize queued = 0;

	g_return_val_if_fail (TANDEM_IS_HA_CHANNEL (self), 0);
	for (guint i = 0; i < self->sessions->len; i++) {
		Session *s = g_ptr_array_index (self->sessions, i);

		if (g_strcmp0 (s->node_id, node_id) == 0)
			queued += s->queued_bytes;
	}
	return queued;
}

static gint
peer_compare (gconstpointer a, gconstpointer b)
{
	const TandemHaPeer *pa = *(TandemHaPeer *const *) a;
	const TandemHaPeer *pb = *(TandemHaPeer *const *) b;

	return g_strcmp0 (pa->node_id, pb->node_id);
}

/*
 * tandem_ha_channel_dup_peers:
 * @self: a channel
 *
 * Returns: (transfer full) (element-type TandemHaPeer): the peers with an
 *   open session, sorted by node id
 */
GPtrArray *
tandem_ha_channel_dup_peers (TandemHaChannel *self)
{
	GPtrArray *peers = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_ha_peer_free);
	GHashTableIter iter;
	gpointer value;

	g_return_val_if_fail (TANDEM_IS_HA_CHANNEL (self), peers);

	g_hash_table_iter_init (&iter, self->peers);
	while (g_hash_table_iter_next (&iter, NULL, &value)) {
		Peer *peer = value;
		TandemHaPeer *copy = g_new0 (TandemHaPeer, 1);

		copy->node_id = g_strdup (peer->pub.node_id);
		copy->address = g_strdup (peer->pub.address);
		copy->role = g_strdup (peer->pub.role);
		copy->status = peer->pub.status != NULL ? json_object_ref (peer->pub.status) : NULL;
		copy->last_heard_us = peer->pub.last_heard_us;
		copy->joined_us = peer->pub.joined_us;
		copy->sessions = peer->pub.sessions;
		g_ptr_array_add (peers, copy);
	}
	g_ptr_array_sort (peers, peer_compare);
	return peers;
}

/*
 * tandem_ha_channel_close:
 * @self: a channel
 * @reason: why, sent to every peer in a GOODBYE
 *
 * Sends GOODBYE on every session, closes them and the listener and stops
 * dialling.  The GOODBYE frames are flushed for a short while without
 * blocking.  No signal is emitted from here on.
 */
void
tandem_ha_channel_close (TandemHaChannel *self, const char *reason)
{
	g_autoptr (GPtrArray) sessions = NULL;
	GHashTableIter iter;
	gpointer value;

	g_return_if_fail (TANDEM_IS_HA_CHANNEL (self));

	if (self->closed)
		return;
	self->closed = TRUE;
	if (reason == NULL)
		reason = "closed";

	if (self->service != NULL) {
		g_signal_handlers_disconnect_by_data (self->service, self);
		g_socket_service_stop (self->service);
		g_socket_listener_close (G_SOCKET_LISTENER (self->service));
		g_clear_object (&self->service);
	}

	g_hash_table_iter_init (&iter, self->dials);
	while (g_hash_table_iter_next (&iter, NULL, &value))
		dial_detach (value);
	g_hash_table_remove_all (self->dials);

	sessions = channel_dup_sessions (self);
	g_ptr_array_set_size (self->sessions, 0);
	for (guint i = 0; i < sessions->len; i++) {
		Session *s = g_ptr_array_index (sessions, i);

		if (s->state == SESSION_OPEN) {
			session_linger (s, reason);
		} else {
			s->channel = NULL;
			session_close (s, NULL, FALSE);
		}
	}
	g_hash_table_remove_all (self->peers);
	g_debug ("Heartbeat channel closed: %s", reason);
}
