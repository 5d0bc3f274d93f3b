/* test-ha-channel.c: the authenticated heartbeat channel of HA membership
 *
 * Channels talk to each other on 127.0.0.1 (port 0) in this process, on
 * the default main context.  A "raw" client written here from the frame
 * format of core/ha/tandem-ha-channel.h (its own framing, HMAC and key
 * derivation) checks what the channel sends and sends what a well-behaved
 * channel never would: replays, bad MACs, oversize frames, silence and
 * sudden death.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tandem-ha-channel.h"

#define CLUSTER "test-cluster"
#define KEY "0123456789abcdef-the-test-key"
#define OTHER_KEY "fedcba9876543210-another-key"
#define INTERVAL_MS 50
#define TIMEOUT_MS 300

/* warnings of the channel (domain Tandem-HA), which GTest would make fatal */
static GPtrArray *ha_warnings;

/* --- waiting --------------------------------------------------------------- */

static gboolean
tick_cb (gpointer data)
{
	return G_SOURCE_CONTINUE;
}

/* One iteration of the default context, FALSE once @deadline passed */
static gboolean
iterate_until (gint64 deadline)
{
	if (g_get_monotonic_time () >= deadline)
		return FALSE;
	g_main_context_iteration (NULL, TRUE);
	return TRUE;
}

/* Runs the main loop until @cond holds or @ms passed (a 10 ms tick keeps
 * the loop waking up); the caller asserts @cond afterwards */
#define WAIT_UNTIL(cond, ms)                                                                       \
	G_STMT_START                                                                               \
	{                                                                                          \
		gint64 wait_deadline_ = g_get_monotonic_time () + 1000 * (gint64) (ms);            \
		while (!(cond) && iterate_until (wait_deadline_))                                  \
			;                                                                          \
	}                                                                                          \
	G_STMT_END

static void
run_for (guint ms)
{
	gint64 deadline = g_get_monotonic_time () + (gint64) ms * 1000;

	while (iterate_until (deadline))
		;
}

static guint
count_with_prefix (GPtrArray *array, const char *prefix)
{
	guint n = 0;

	for (guint i = 0; i < array->len; i++)
		if (g_str_has_prefix (g_ptr_array_index (array, i), prefix))
			n++;
	return n;
}

static gboolean
has_substring (GPtrArray *array, const char *needle)
{
	for (guint i = 0; i < array->len; i++)
		if (strstr (g_ptr_array_index (array, i), needle) != NULL)
			return TRUE;
	return FALSE;
}

static guint
count_substring (GPtrArray *array, const char *needle)
{
	guint n = 0;

	for (guint i = 0; i < array->len; i++)
		if (strstr (g_ptr_array_index (array, i), needle) != NULL)
			n++;
	return n;
}

static char *
object_to_string (JsonObject *object)
{
	g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);

	json_node_set_object (node, object);
	return json_to_string (node, FALSE);
}

static JsonObject *
object_from_string (const char *json)
{
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autoptr (GError) error = NULL;

	json_parser_load_from_data (parser, json, -1, &error);
	g_assert_no_error (error);
	g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)));
	return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

/* --- members: a channel and what it reported ------------------------------- */

typedef struct {
	TandemHaChannel *channel;
	GPtrArray *joined;   /* "node|address|role" */
	GPtrArray *left;     /* "node|reason|died" */
	GPtrArray *statuses; /* "node|json" */
	GPtrArray *messages; /* "node|type|json" */
	GPtrArray *refused;  /* "address|reason" */
	char *address;       /* 127.0.0.1:port */
} Member;

static void
on_joined (TandemHaChannel *channel,
	   const char *node_id,
	   const char *address,
	   const char *role,
	   Member *m)
{
	g_ptr_array_add (m->joined, g_strdup_printf ("%s|%s|%s", node_id, address, role));
}

static void
on_left (TandemHaChannel *channel,
	 const char *node_id,
	 const char *reason,
	 gboolean died,
	 Member *m)
{
	g_ptr_array_add (m->left,
			 g_strdup_printf ("%s|%s|%s", node_id, reason, died ? "died" : "left"));
}

static void
on_status (TandemHaChannel *channel, const char *node_id, JsonObject *status, Member *m)
{
	g_autofree char *json = object_to_string (status);

	g_ptr_array_add (m->statuses, g_strdup_printf ("%s|%s", node_id, json));
}

static void
on_message (TandemHaChannel *channel,
	    const char *node_id,
	    const char *type,
	    JsonObject *body,
	    Member *m)
{
	g_autofree char *json = object_to_string (body);

	g_ptr_array_add (m->messages, g_strdup_printf ("%s|%s|%s", node_id, type, json));
}

static void
on_refused (TandemHaChannel *channel, const char *address, const char *reason, Member *m)
{
	g_ptr_array_add (m->refused, g_strdup_printf ("%s|%s", address, reason));
}

static Member *
member_new_full (const char *cluster,
		 const char *key,
		 const char *node_id,
		 const char *role,
		 const char *listen)
{
	Member *m = g_new0 (Member, 1);
	g_autoptr (GBytes) bytes = g_bytes_new (key, strlen (key));
	g_autoptr (GError) error = NULL;

	m->channel = tandem_ha_channel_new (cluster, bytes, node_id, role);
	g_assert_nonnull (m->channel);
	tandem_ha_channel_set_timing (m->channel, INTERVAL_MS, TIMEOUT_MS);
	m->joined = g_ptr_array_new_with_free_func (g_free);
	m->left = g_ptr_array_new_with_free_func (g_free);
	m->statuses = g_ptr_array_new_with_free_func (g_free);
	m->messages = g_ptr_array_new_with_free_func (g_free);
	m->refused = g_ptr_array_new_with_free_func (g_free);
	g_signal_connect (m->channel, "peer-joined", G_CALLBACK (on_joined), m);
	g_signal_connect (m->channel, "peer-left", G_CALLBACK (on_left), m);
	g_signal_connect (m->channel, "peer-status", G_CALLBACK (on_status), m);
	g_signal_connect (m->channel, "message", G_CALLBACK (on_message), m);
	g_signal_connect (m->channel, "refused", G_CALLBACK (on_refused), m);
	if (listen != NULL) {
		g_assert_true (tandem_ha_channel_listen (m->channel, listen, &error));
		g_assert_no_error (error);
		g_assert_cmpuint (tandem_ha_channel_get_port (m->channel), >, 0);
		m->address =
			g_strdup_printf ("127.0.0.1:%u", tandem_ha_channel_get_port (m->channel));
	}
	return m;
}

static Member *
member_new (const char *node_id, const char *role)
{
	return member_new_full (CLUSTER, KEY, node_id, role, "127.0.0.1:0");
}

static void
member_free (Member *m)
{
	TandemHaChannel *channel = m->channel;

	/* nothing else keeps the channel alive (sessions never refer to it) */
	g_signal_handlers_disconnect_by_data (m->channel, m);
	g_object_add_weak_pointer (G_OBJECT (channel), (gpointer *) &channel);
	g_object_unref (m->channel);
	g_assert_null (channel);
	g_ptr_array_unref (m->joined);
	g_ptr_array_unref (m->left);
	g_ptr_array_unref (m->statuses);
	g_ptr_array_unref (m->messages);
	g_ptr_array_unref (m->refused);
	g_free (m->address);
	g_free (m);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Member, member_free)

static guint
member_sessions_with (Member *m, const char *node_id)
{
	g_autoptr (GPtrArray) peers = tandem_ha_channel_dup_peers (m->channel);

	for (guint i = 0; i < peers->len; i++) {
		TandemHaPeer *peer = g_ptr_array_index (peers, i);
		if (g_strcmp0 (peer->node_id, node_id) == 0)
			return peer->sessions;
	}
	return 0;
}

/* --- a raw client: the handshake and frames, written from the header ------- */

typedef struct {
	GSocketConnection *conn;
	GSocket *socket;
	char *cluster;
	GBytes *key;
	guint8 nonce_a[16];
	guint8 nonce_b[16];
	guint8 session_key[32];
	guint64 send_counter;
	guint64 recv_counter;
	char *peer_node_id;
	char *peer_role;
	GBytes *last_sent;
} Raw;

static void
raw_free (Raw *raw)
{
	if (raw->conn != NULL)
		g_io_stream_close (G_IO_STREAM (raw->conn), NULL, NULL);
	g_clear_object (&raw->conn);
	g_free (raw->cluster);
	g_bytes_unref (raw->key);
	g_free (raw->peer_node_id);
	g_free (raw->peer_role);
	g_clear_pointer (&raw->last_sent, g_bytes_unref);
	g_free (raw);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Raw, raw_free)

static Raw *
raw_connect (Member *listener, const char *cluster, const char *key)
{
	g_autoptr (GSocketClient) client = g_socket_client_new ();
	g_autoptr (GError) error = NULL;
	Raw *raw = g_new0 (Raw, 1);

	g_socket_client_set_enable_proxy (client, FALSE);
	/* a loopback connect completes in the kernel's backlog: no loop needed */
	raw->conn = g_socket_client_connect_to_host (client, listener->address, 0, NULL, &error);
	g_assert_no_error (error);
	raw->socket = g_socket_connection_get_socket (raw->conn);
	g_socket_set_blocking (raw->socket, FALSE);
	raw->cluster = g_strdup (cluster);
	raw->key = g_bytes_new (key, strlen (key));
	return raw;
}

static void
raw_mac (const guint8 *key,
	 gsize key_len,
	 char direction,
	 const guint8 *data,
	 gsize len,
	 guint8 *out)
{
	g_autoptr (GHmac) hmac = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
	guint8 dir = (guint8) direction;
	gsize out_len = 32;

	g_hmac_update (hmac, &dir, 1);
	g_hmac_update (hmac, data, len);
	g_hmac_get_digest (hmac, out, &out_len);
	g_assert_cmpuint (out_len, ==, 32);
}

/* u32 length, u8 version, u8 type, u16 reserved, u64 counter, payload, mac */
static GBytes *
raw_build (guint8 type,
	   guint64 counter,
	   const char *payload,
	   const guint8 *key,
	   gsize key_len,
	   char direction)
{
	GByteArray *frame = g_byte_array_new ();
	gsize payload_len = strlen (payload);
	guint32 length = GUINT32_TO_BE ((guint32) (12 + payload_len + 32));
	guint8 header[4] = { 1, type, 0, 0 };
	guint64 counter_be = GUINT64_TO_BE (counter);
	guint8 mac[32];

	g_byte_array_append (frame, (guint8 *) &length, 4);
	g_byte_array_append (frame, header, 4);
	g_byte_array_append (frame, (guint8 *) &counter_be, 8);
	g_byte_array_append (frame, (const guint8 *) payload, (guint) payload_len);
	raw_mac (key, key_len, direction, frame->data + 4, frame->len - 4, mac);
	g_byte_array_append (frame, mac, 32);
	return g_byte_array_free_to_bytes (frame);
}

static void
raw_write (Raw *raw, const void *data, gsize len)
{
	g_autoptr (GError) error = NULL;
	GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (raw->conn));

	/* small frames fit the socket buffer: this does not wait for the channel */
	g_socket_set_blocking (raw->socket, TRUE);
	g_output_stream_write_all (out, data, len, NULL, NULL, &error);
	g_socket_set_blocking (raw->socket, FALSE);
	g_assert_no_error (error);
}

static void
raw_write_bytes (Raw *raw, GBytes *bytes)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data (bytes, &len);

	raw_write (raw, data, len);
}

/* Reads @len bytes while the loop runs; FALSE at end-of-file, error or timeout */
static gboolean
raw_read_exact (Raw *raw, guint8 *buf, gsize len, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
	gsize have = 0;

	while (have < len) {
		g_autoptr (GError) error = NULL;
		gssize n = g_socket_receive (raw->socket, (char *) buf + have, len - have, NULL,
					     &error);
		if (n > 0) {
			have += (gsize) n;
			continue;
		}
		if (n == 0)
			return FALSE;
		if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			return FALSE;
		if (!iterate_until (deadline))
			return FALSE;
	}
	return TRUE;
}

/* Reads one frame, checks its layout and its MAC under @key from @direction */
static JsonObject *
raw_read_frame (Raw *raw,
		const guint8 *key,
		gsize key_len,
		char direction,
		guint8 *type,
		guint64 *counter)
{
	guint8 length_be[4];
	guint32 length;
	g_autofree guint8 *frame = NULL;
	guint8 mac[32];
	guint64 counter_be;
	g_autofree char *payload = NULL;

	g_assert_true (raw_read_exact (raw, length_be, 4, 2000));
	memcpy (&length, length_be, 4);
	length = GUINT32_FROM_BE (length);
	g_assert_cmpuint (length, >=, 12 + 2 + 32);
	g_assert_cmpuint (length, <=, TANDEM_HA_MAX_FRAME);
	frame = g_malloc (length);
	g_assert_true (raw_read_exact (raw, frame, length, 2000));
	g_assert_cmpuint (frame[0], ==, 1); /* version */
	g_assert_cmpuint (frame[2], ==, 0); /* reserved */
	g_assert_cmpuint (frame[3], ==, 0);
	raw_mac (key, key_len, direction, frame, length - 32, mac);
	g_assert_cmpmem (mac, 32, frame + length - 32, 32);
	*type = frame[1];
	memcpy (&counter_be, frame + 4, 8);
	*counter = GUINT64_FROM_BE (counter_be);
	payload = g_strndup ((const char *) frame + 12, length - 12 - 32);
	return object_from_string (payload);
}

static char *
hex (const guint8 *data, gsize len)
{
	GString *s = g_string_new (NULL);

	for (gsize i = 0; i < len; i++)
		g_string_append_printf (s, "%02x", data[i]);
	return g_string_free (s, FALSE);
}

static void
unhex (const char *text, guint8 *out, gsize len)
{
	g_assert_cmpuint (strlen (text), ==, len * 2);
	for (gsize i = 0; i < len; i++) {
		g_assert_true (g_ascii_isxdigit (text[2 * i]) &&
			       g_ascii_isxdigit (text[2 * i + 1]));
		out[i] = (guint8) (g_ascii_xdigit_value (text[2 * i]) << 4 |
				   g_ascii_xdigit_value (text[2 * i + 1]));
	}
}

static void
raw_send_hello (Raw *raw, const char *node_id)
{
	g_autoptr (JsonObject) hello = json_object_new ();
	g_autofree char *nonce = NULL;
	g_autofree char *payload = NULL;
	g_autoptr (GBytes) frame = NULL;
	gsize key_len = 0;
	const guint8 *key = g_bytes_get_data (raw->key, &key_len);

	for (guint i = 0; i < sizeof (raw->nonce_a); i++)
		raw->nonce_a[i] = (guint8) g_random_int_range (0, 256);
	nonce = hex (raw->nonce_a, sizeof (raw->nonce_a));
	json_object_set_int_member (hello, "proto", 1);
	json_object_set_string_member (hello, "cluster", raw->cluster);
	json_object_set_string_member (hello, "node_id", node_id);
	json_object_set_string_member (hello, "role", "node");
	json_object_set_string_member (hello, "nonce", nonce);
	payload = object_to_string (hello);
	frame = raw_build (TANDEM_HA_FRAME_HELLO, 0, payload, key, key_len, 'D');
	raw_write_bytes (raw, frame);
}

/* HELLO, then HELLO_ACK checked field by field, then the session key */
static void
raw_handshake (Raw *raw, const char *node_id, const char *expect_peer)
{
	g_autoptr (JsonObject) ack = NULL;
	g_autofree char *nonce_a = NULL;
	g_autoptr (GHmac) hmac = NULL;
	gsize key_len = 0;
	const guint8 *key = g_bytes_get_data (raw->key, &key_len);
	gsize out_len = 32;
	guint8 type = 0;
	guint64 counter = 99;

	raw_send_hello (raw, node_id);
	ack = raw_read_frame (raw, key, key_len, 'L', &type, &counter);
	g_assert_cmpuint (type, ==, TANDEM_HA_FRAME_HELLO_ACK);
	g_assert_cmpuint (counter, ==, 0);
	g_assert_cmpint (json_object_get_int_member (ack, "proto"), ==, 1);
	g_assert_cmpstr (json_object_get_string_member (ack, "cluster"), ==, raw->cluster);
	g_assert_cmpstr (json_object_get_string_member (ack, "node_id"), ==, expect_peer);
	g_assert_cmpstr (json_object_get_string_member (ack, "role"), ==, "node");
	nonce_a = hex (raw->nonce_a, sizeof (raw->nonce_a));
	g_assert_cmpstr (json_object_get_string_member (ack, "echo"), ==, nonce_a);
	unhex (json_object_get_string_member (ack, "nonce"), raw->nonce_b, sizeof (raw->nonce_b));
	raw->peer_node_id = g_strdup (json_object_get_string_member (ack, "node_id"));
	raw->peer_role = g_strdup (json_object_get_string_member (ack, "role"));

	hmac = g_hmac_new (G_CHECKSUM_SHA256, key, key_len);
	g_hmac_update (hmac, (const guint8 *) "tandem-session-v1", strlen ("tandem-session-v1"));
	g_hmac_update (hmac, raw->nonce_a, sizeof (raw->nonce_a));
	g_hmac_update (hmac, raw->nonce_b, sizeof (raw->nonce_b));
	g_hmac_get_digest (hmac, raw->session_key, &out_len);
}

/* A frame under the session key; kept in last_sent for a replay */
static GBytes *
raw_frame (Raw *raw, guint8 type, const char *payload, char direction)
{
	return raw_build (type, ++raw->send_counter, payload, raw->session_key,
			  sizeof (raw->session_key), direction);
}

static void
raw_send (Raw *raw, guint8 type, const char *payload)
{
	g_clear_pointer (&raw->last_sent, g_bytes_unref);
	raw->last_sent = raw_frame (raw, type, payload, 'D');
	raw_write_bytes (raw, raw->last_sent);
}

/* The next frame from the channel, under the session key, counter checked */
static JsonObject *
raw_receive (Raw *raw, guint8 *type)
{
	guint64 counter = 0;
	JsonObject *obj = raw_read_frame (raw, raw->session_key, sizeof (raw->session_key), 'L',
					  type, &counter);

	g_assert_cmpuint (counter, ==, raw->recv_counter + 1);
	raw->recv_counter = counter;
	return obj;
}

/* TRUE when the channel closed the connection within @timeout_ms (frames
 * it sent before are skipped) */
static gboolean
raw_wait_closed (Raw *raw, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

	for (;;) {
		g_autoptr (GError) error = NULL;
		char buf[4096];
		gssize n = g_socket_receive (raw->socket, buf, sizeof (buf), NULL, &error);
		if (n == 0)
			return TRUE;
		if (n > 0)
			continue;
		if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			return TRUE; /* reset */
		if (!iterate_until (deadline))
			return FALSE;
	}
}

/* Connects and authenticates as @node_id, then sends a first heartbeat */
static Raw *
raw_join (Member *listener, const char *node_id, const char *status)
{
	Raw *raw = raw_connect (listener, CLUSTER, KEY);
	g_autofree char *prefix = g_strdup_printf ("%s|", node_id);

	raw_handshake (raw, node_id, "node-b");
	raw_send (raw, TANDEM_HA_FRAME_HEARTBEAT, status);
	WAIT_UNTIL (count_with_prefix (listener->joined, prefix) == 1, 3000);
	g_assert_cmpuint (count_with_prefix (listener->joined, prefix), ==, 1);
	return raw;
}

/* --- tests ----------------------------------------------------------------- */

static void
test_join_status_message (void)
{
	g_autoptr (Member) a = member_new ("node-a", "witness");
	g_autoptr (Member) b = member_new ("node-b", "node");
	g_autoptr (JsonObject) status = object_from_string ("{\"state\":\"active\",\"epoch\":3}");
	g_autoptr (JsonObject) status2 = object_from_string ("{\"state\":\"passive\",\"epoch\":4}");
	g_autoptr (JsonObject) ping = object_from_string ("{\"n\":1}");
	g_autoptr (JsonObject) pong = object_from_string ("{\"n\":2,\"s\":\"x\"}");
	g_autoptr (GPtrArray) peers = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *expect_a = NULL;
	TandemHaPeer *peer;

	/* the default interval, and room for a slow machine */
	tandem_ha_channel_set_timing (a->channel, 100, 2000);
	tandem_ha_channel_set_timing (b->channel, 100, 2000);
	tandem_ha_channel_set_status (a->channel, status);
	tandem_ha_channel_add_peer (a->channel, b->address);

	WAIT_UNTIL (a->joined->len == 1 && b->joined->len == 1, 3000);
	g_assert_cmpuint (a->joined->len, ==, 1);
	g_assert_cmpuint (b->joined->len, ==, 1);
	expect_a = g_strdup_printf ("node-b|%s|node", b->address);
	g_assert_cmpstr (g_ptr_array_index (a->joined, 0), ==, expect_a);
	/* B sees A at the address it connected from */
	g_assert_true (g_str_has_prefix (g_ptr_array_index (b->joined, 0), "node-a|127.0.0.1:"));
	g_assert_true (g_str_has_suffix (g_ptr_array_index (b->joined, 0), "|witness"));

	/* the status set before the session is in its first heartbeat */
	WAIT_UNTIL (b->statuses->len >= 1, 2000);
	g_assert_cmpuint (b->statuses->len, ==, 1);
	g_assert_cmpstr (g_ptr_array_index (b->statuses, 0), ==,
			 "node-a|{\"state\":\"active\",\"epoch\":3}");
	/* B never set one: A gets the empty object */
	WAIT_UNTIL (a->statuses->len >= 1, 2000);
	g_assert_cmpstr (g_ptr_array_index (a->statuses, 0), ==, "node-b|{}");

	/* a change arrives; unchanged heartbeats bring no signal */
	tandem_ha_channel_set_status (a->channel, status2);
	WAIT_UNTIL (b->statuses->len >= 2, 2000);
	g_assert_cmpuint (b->statuses->len, ==, 2);
	g_assert_cmpstr (g_ptr_array_index (b->statuses, 1), ==,
			 "node-a|{\"state\":\"passive\",\"epoch\":4}");
	tandem_ha_channel_set_status (a->channel, status2);
	run_for (350);
	g_assert_cmpuint (b->statuses->len, ==, 2);
	g_assert_cmpuint (a->statuses->len, ==, 1);

	/* messages both ways */
	g_assert_true (tandem_ha_channel_send (a->channel, "node-b", "ping", ping, &error));
	g_assert_no_error (error);
	g_assert_true (tandem_ha_channel_send (b->channel, "node-a", "pong", pong, &error));
	g_assert_no_error (error);
	WAIT_UNTIL (a->messages->len == 1 && b->messages->len == 1, 2000);
	g_assert_cmpuint (b->messages->len, ==, 1);
	g_assert_cmpstr (g_ptr_array_index (b->messages, 0), ==, "node-a|ping|{\"n\":1}");
	g_assert_cmpuint (a->messages->len, ==, 1);
	g_assert_cmpstr (g_ptr_array_index (a->messages, 0), ==,
			 "node-b|pong|{\"n\":2,\"s\":\"x\"}");
	g_assert_false (tandem_ha_channel_send (a->channel, "node-x", "ping", ping, &error));
	g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED);

	/* the peer lists */
	peers = tandem_ha_channel_dup_peers (a->channel);
	g_assert_cmpuint (peers->len, ==, 1);
	peer = g_ptr_array_index (peers, 0);
	g_assert_cmpstr (peer->node_id, ==, "node-b");
	g_assert_cmpstr (peer->address, ==, b->address);
	g_assert_cmpstr (peer->role, ==, "node");
	g_assert_cmpuint (peer->sessions, >=, 1);
	g_assert_nonnull (peer->status);
	g_assert_cmpuint (json_object_get_size (peer->status), ==, 0);
	g_assert_cmpint (peer->joined_us, >, 0);
	g_assert_cmpint (peer->last_heard_us, >=, peer->joined_us);
	g_clear_pointer (&peers, g_ptr_array_unref);
	peers = tandem_ha_channel_dup_peers (b->channel);
	g_assert_cmpuint (peers->len, ==, 1);
	peer = g_ptr_array_index (peers, 0);
	g_assert_cmpstr (peer->node_id, ==, "node-a");
	g_assert_cmpstr (peer->role, ==, "witness");
	g_assert_cmpuint (peer->sessions, >=, 1);
	g_assert_cmpstr (json_object_get_string_member (peer->status, "state"), ==, "passive");

	g_assert_cmpuint (a->left->len + b->left->len, ==, 0);
	g_assert_cmpuint (a->refused->len + b->refused->len, ==, 0);
	g_assert_cmpuint (ha_warnings->len, ==, 0);
}

static void
test_dual_sessions_goodbye (void)
{
	g_autoptr (Member) a = member_new ("node-a", "node");
	g_autoptr (Member) b = member_new ("node-b", "node");

	tandem_ha_channel_add_peer (a->channel, b->address);
	tandem_ha_channel_add_peer (b->channel, a->address);
	WAIT_UNTIL (member_sessions_with (a, "node-b") == 2 &&
			    member_sessions_with (b, "node-a") == 2,
		    3000);
	g_assert_cmpuint (member_sessions_with (a, "node-b"), ==, 2);
	g_assert_cmpuint (member_sessions_with (b, "node-a"), ==, 2);
	run_for (200);
	g_assert_cmpuint (a->joined->len, ==, 1);
	g_assert_cmpuint (b->joined->len, ==, 1);
	g_assert_true (g_str_has_prefix (g_ptr_array_index (a->joined, 0), "node-b|"));
	g_assert_true (g_str_has_prefix (g_ptr_array_index (b->joined, 0), "node-a|"));

	tandem_ha_channel_close (a->channel, "stopping");
	WAIT_UNTIL (b->left->len >= 1, 2000);
	run_for (2 * TIMEOUT_MS);
	g_assert_cmpuint (b->left->len, ==, 1);
	g_assert_cmpstr (g_ptr_array_index (b->left, 0), ==, "node-a|stopping|left");
	/* closing emits nothing on the closing side */
	g_assert_cmpuint (a->left->len, ==, 0);
	g_assert_cmpuint (member_sessions_with (b, "node-a"), ==, 0);
	/* B redials A in vain: nobody joins */
	g_assert_cmpuint (b->joined->len, ==, 1);
	g_assert_cmpuint (a->refused->len + b->refused->len, ==, 0);
	g_assert_cmpuint (ha_warnings->len, ==, 0);
}

static void
test_death_and_timeout (void)
{
	g_autoptr (Member) b = member_new ("node-b", "node");
	g_autoptr (Raw) raw = NULL;
	g_autoptr (Raw) silent = NULL;
	g_autoptr (Raw) mute = NULL;
	g_autoptr (JsonObject) hb = NULL;
	g_autoptr (JsonObject) hb2 = NULL;
	g_autoptr (JsonObject) status = object_from_string ("{\"role\":\"b\"}");
	guint8 type = 0;

	tandem_ha_channel_set_status (b->channel, status);

	/* the channel's own frames: heartbeats with counters 1, 2, ... */
	raw = raw_join (b, "raw-dies", "{\"x\":1}");
	g_assert_true (g_str_has_prefix (g_ptr_array_index (b->joined, 0), "raw-dies|127.0.0.1:"));
	WAIT_UNTIL (b->statuses->len == 1, 2000);
	g_assert_cmpstr (g_ptr_array_index (b->statuses, 0), ==, "raw-dies|{\"x\":1}");
	hb = raw_receive (raw, &type);
	g_assert_cmpuint (type, ==, TANDEM_HA_FRAME_HEARTBEAT);
	g_assert_cmpstr (json_object_get_string_member (hb, "role"), ==, "b");
	hb2 = raw_receive (raw, &type);
	g_assert_cmpuint (type, ==, TANDEM_HA_FRAME_HEARTBEAT);

	/* the process dies: its kernel closes the socket, no GOODBYE */
	g_io_stream_close (G_IO_STREAM (raw->conn), NULL, NULL);
	WAIT_UNTIL (b->left->len == 1, 2000);
	g_assert_cmpuint (b->left->len, ==, 1);
	g_assert_true (g_str_has_prefix (g_ptr_array_index (b->left, 0), "raw-dies|"));
	g_assert_true (g_str_has_suffix (g_ptr_array_index (b->left, 0), "|died"));

	/* authenticated, then silent: a timeout, not a death */
	silent = raw_join (b, "raw-silent", "{}");
	WAIT_UNTIL (b->left->len == 2, 4 * TIMEOUT_MS + 1000);
	g_assert_cmpuint (b->left->len, ==, 2);
	g_assert_cmpstr (g_ptr_array_index (b->left, 1), ==,
			 "raw-silent|no heartbeat for 300 ms|left");
	g_assert_true (raw_wait_closed (silent, 1000));

	/* connected, never says HELLO: closed after the timeout, nobody joins */
	mute = raw_connect (b, CLUSTER, KEY);
	g_assert_true (raw_wait_closed (mute, 4 * TIMEOUT_MS + 1000));
	g_assert_cmpuint (b->joined->len, ==, 2);
	g_assert_cmpuint (b->refused->len, ==, 0);
	g_assert_cmpuint (ha_warnings->len, ==, 0);
}

static void
test_wrong_key_or_cluster (void)
{
	g_autoptr (Member) a = member_new ("node-a", "node");
	g_autoptr (Member) b =
		member_new_full (CLUSTER, OTHER_KEY, "node-b", "node", "127.0.0.1:0");
	g_autoptr (Member) c =
		member_new_full ("other-cluster", KEY, "node-c", "node", "127.0.0.1:0");
	g_autoptr (Raw) raw = NULL;

	/* B has another key: A refuses it */
	tandem_ha_channel_add_peer (b->channel, a->address);
	WAIT_UNTIL (a->refused->len >= 1, 2000);
	g_assert_cmpuint (a->refused->len, >=, 1);
	g_assert_true (g_str_has_prefix (g_ptr_array_index (a->refused, 0), "127.0.0.1:"));
	g_assert_true (g_str_has_suffix (g_ptr_array_index (a->refused, 0), "|bad cluster key"));
	g_assert_true (has_substring (ha_warnings, "bad cluster key"));
	/* B dials again and again: every refusal is signalled, the log says
	 * it once (then once a minute) */
	WAIT_UNTIL (a->refused->len >= 3, 5000);
	g_assert_cmpuint (a->refused->len, >=, 3);
	g_assert_cmpuint (count_substring (ha_warnings, "Refused member connection 127.0.0.1:"), ==, 1);
	tandem_ha_channel_remove_peer (b->channel, a->address);

	/* C is in another cluster */
	tandem_ha_channel_add_peer (c->channel, a->address);
	WAIT_UNTIL (has_substring (a->refused, "cluster mismatch"), 2000);
	g_assert_true (
		has_substring (a->refused, "|cluster mismatch: peer is in cluster other-cluster"));
	tandem_ha_channel_remove_peer (c->channel, a->address);

	/* and A dialling them: refused by them */
	tandem_ha_channel_add_peer (a->channel, b->address);
	tandem_ha_channel_add_peer (a->channel, c->address);
	WAIT_UNTIL (b->refused->len >= 1 && c->refused->len >= 1, 2000);
	g_assert_true (has_substring (b->refused, "|bad cluster key"));
	g_assert_true (
		has_substring (c->refused, "|cluster mismatch: peer is in cluster " CLUSTER));

	/* a raw client with the wrong key never gets a HELLO_ACK */
	raw = raw_connect (a, CLUSTER, OTHER_KEY);
	raw_send_hello (raw, "raw-wrong");
	g_assert_true (raw_wait_closed (raw, 2000));

	run_for (300);
	g_assert_cmpuint (a->joined->len + b->joined->len + c->joined->len, ==, 0);
	g_assert_cmpuint (a->left->len + b->left->len + c->left->len, ==, 0);
}

static void
test_replay_and_bad_mac (void)
{
	g_autoptr (Member) b = member_new ("node-b", "node");
	g_autoptr (Raw) replay = NULL;
	g_autoptr (Raw) bad_mac = NULL;
	g_autoptr (Raw) reflected = NULL;
	g_autoptr (GBytes) frame = NULL;
	g_autoptr (GByteArray) damaged = NULL;
	g_autofree char *warning = NULL;

	/* the same valid heartbeat twice */
	replay = raw_join (b, "raw-replay", "{}");
	raw_write_bytes (replay, replay->last_sent);
	WAIT_UNTIL (b->refused->len == 1, 2000);
	g_assert_cmpuint (b->refused->len, ==, 1);
	g_assert_true (g_str_has_suffix (g_ptr_array_index (b->refused, 0),
					 "|replayed frame: counter 1 after 1"));
	g_assert_true (raw_wait_closed (replay, 2000));
	WAIT_UNTIL (b->left->len == 1, 2000);
	g_assert_cmpstr (g_ptr_array_index (b->left, 0), ==,
			 "raw-replay|replayed frame: counter 1 after 1|left");
	/* the warning names the peer's address */
	warning = g_strdup_printf ("%s", (char *) g_ptr_array_index (b->refused, 0));
	*strchr (warning, '|') = '\0';
	g_assert_true (has_substring (ha_warnings, warning));

	/* a heartbeat with one bit of its MAC flipped */
	bad_mac = raw_join (b, "raw-bad-mac", "{}");
	frame = raw_frame (bad_mac, TANDEM_HA_FRAME_HEARTBEAT, "{}", 'D');
	damaged = g_bytes_unref_to_array (g_steal_pointer (&frame));
	damaged->data[damaged->len - 1] ^= 1;
	raw_write (bad_mac, damaged->data, damaged->len);
	WAIT_UNTIL (b->refused->len == 2, 2000);
	g_assert_true (g_str_has_suffix (g_ptr_array_index (b->refused, 1), "|bad MAC"));
	g_assert_true (raw_wait_closed (bad_mac, 2000));

	/* a frame MAC'd in the listener's direction (a reflection) */
	reflected = raw_connect (b, CLUSTER, KEY);
	raw_handshake (reflected, "raw-reflected", "node-b");
	frame = raw_frame (reflected, TANDEM_HA_FRAME_HEARTBEAT, "{}", 'L');
	raw_write_bytes (reflected, frame);
	WAIT_UNTIL (b->refused->len == 3, 2000);
	g_assert_true (g_str_has_suffix (g_ptr_array_index (b->refused, 2), "|bad MAC"));
	g_assert_true (raw_wait_closed (reflected, 2000));

	run_for (100);
	/* the reflected session never authenticated */
	g_assert_cmpuint (b->joined->len, ==, 2);
	g_assert_cmpuint (b->left->len, ==, 2);
}

static guint proxy_accepted;

static gboolean
proxy_incoming_cb (GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
	g_autoptr (GSocketClient) client = g_socket_client_new ();
	g_autoptr (GSocketConnection) out = NULL;
	g_autoptr (GError) error = NULL;

	proxy_accepted++;
	g_socket_client_set_enable_proxy (client, FALSE);
	out = g_socket_client_connect_to_host (client, data, 0, NULL, &error);
	g_assert_no_error (error);
	g_io_stream_splice_async (G_IO_STREAM (conn), G_IO_STREAM (out),
				  G_IO_STREAM_SPLICE_CLOSE_STREAM1 |
					  G_IO_STREAM_SPLICE_CLOSE_STREAM2,
				  G_PRIORITY_DEFAULT, NULL, NULL, NULL);
	return TRUE;
}

static void
test_self_dial (void)
{
	g_autoptr (Member) a = member_new ("node-a", "node");
	g_autoptr (GSocketService) proxy = g_socket_service_new ();
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) peers = NULL;
	g_autofree char *proxy_address = NULL;
	guint16 port;

	/* its own address */
	tandem_ha_channel_add_peer (a->channel, a->address);

	/* and an address leading to it that it cannot know is its own */
	port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (proxy), NULL, &error);
	g_assert_no_error (error);
	proxy_address = g_strdup_printf ("127.0.0.1:%u", port);
	proxy_accepted = 0;
	g_signal_connect (proxy, "incoming", G_CALLBACK (proxy_incoming_cb), a->address);
	tandem_ha_channel_add_peer (a->channel, proxy_address);

	WAIT_UNTIL (proxy_accepted >= 1, 2000);
	run_for (600);
	g_assert_cmpuint (proxy_accepted, ==, 1);
	g_assert_cmpuint (a->joined->len, ==, 0);
	g_assert_cmpuint (a->refused->len, ==, 0);
	peers = tandem_ha_channel_dup_peers (a->channel);
	g_assert_cmpuint (peers->len, ==, 0);

	/* once known, the address is not dialled again */
	tandem_ha_channel_remove_peer (a->channel, proxy_address);
	tandem_ha_channel_add_peer (a->channel, proxy_address);
	run_for (200);
	g_assert_cmpuint (proxy_accepted, ==, 1);

	g_socket_service_stop (proxy);
	g_socket_listener_close (G_SOCKET_LISTENER (proxy));
	g_assert_cmpuint (ha_warnings->len, ==, 0);
}

static void
test_redial (void)
{
	g_autoptr (Member) a = member_new ("node-a", "node");
	g_autoptr (Member) b = member_new ("node-b", "node");
	g_autoptr (Member) b2 = NULL;
	g_autofree char *listen = g_strdup (b->address);

	tandem_ha_channel_add_peer (a->channel, b->address);
	WAIT_UNTIL (a->joined->len == 1 && b->joined->len == 1, 3000);
	g_assert_cmpuint (a->joined->len, ==, 1);

	/* B stops; A keeps dialling its address in vain */
	tandem_ha_channel_close (b->channel, "restarting");
	g_clear_pointer (&b, member_free);
	WAIT_UNTIL (a->left->len == 1, 2000);
	g_assert_cmpstr (g_ptr_array_index (a->left, 0), ==, "node-b|restarting|left");
	run_for (500);
	g_assert_cmpuint (a->joined->len, ==, 1);

	/* B comes back on the same port */
	b2 = member_new_full (CLUSTER, KEY, "node-b", "node", listen);
	g_assert_cmpstr (b2->address, ==, listen);
	WAIT_UNTIL (a->joined->len == 2 && b2->joined->len == 1, 4000);
	g_assert_cmpuint (a->joined->len, ==, 2);
	g_assert_true (g_str_has_prefix (g_ptr_array_index (a->joined, 1), "node-b|"));
	g_assert_cmpuint (b2->joined->len, ==, 1);
	g_assert_cmpuint (ha_warnings->len, ==, 0);
}

static void
test_oversize (void)
{
	g_autoptr (Member) b = member_new ("node-b", "node");
	g_autoptr (Raw) huge = NULL;
	g_autoptr (Raw) tiny = NULL;
	g_autoptr (Raw) joined = NULL;
	guint32 length;

	/* a length prefix of almost 4 GiB, and nothing after it: refused at once */
	huge = raw_connect (b, CLUSTER, KEY);
	length = GUINT32_TO_BE (0xfffffff0);
	raw_write (huge, &length, 4);
	WAIT_UNTIL (b->refused->len == 1, 2000);
	g_assert_cmpuint (b->refused->len, ==, 1);
	g_assert_true (g_str_has_suffix (g_ptr_array_index (b->refused, 0),
					 "|frame of 4294967280 bytes is larger than 1048576"));
	g_assert_true (raw_wait_closed (huge, 2000));

	/* shorter than any frame */
	tiny = raw_connect (b, CLUSTER, KEY);
	length = GUINT32_TO_BE (10);
	raw_write (tiny, &length, 4);
	WAIT_UNTIL (b->refused->len == 2, 2000);
	g_assert_true (g_str_has_suffix (g_ptr_array_index (b->refused, 1),
					 "|frame of 10 bytes is too short"));
	g_assert_true (raw_wait_closed (tiny, 2000));

	/* one byte over the maximum, from an authenticated member */
	joined = raw_join (b, "raw-big", "{}");
	length = GUINT32_TO_BE (TANDEM_HA_MAX_FRAME + 1);
	raw_write (joined, &length, 4);
	WAIT_UNTIL (b->left->len == 1, 2000);
	g_assert_cmpuint (b->refused->len, ==, 3);
	g_assert_true (g_str_has_suffix (g_ptr_array_index (b->refused, 2),
					 "|frame of 1048577 bytes is larger than 1048576"));
	g_assert_true (g_str_has_prefix (g_ptr_array_index (b->left, 0), "raw-big|"));
	g_assert_true (raw_wait_closed (joined, 2000));
}

static void
test_slow_peer (void)
{
	g_autoptr (Member) a = member_new ("node-a", "node");
	g_autoptr (Member) b = member_new ("node-b", "node");
	g_autoptr (Raw) slow = NULL;
	g_autoptr (JsonObject) body = json_object_new ();
	g_autoptr (GError) error = NULL;
	g_autofree char *data = g_strnfill (512 * 1024, 'x');
	guint sent_to_a = 0;

	/* the large messages keep the loop busy: no heartbeat timeout by accident */
	tandem_ha_channel_set_timing (a->channel, INTERVAL_MS, 3000);
	tandem_ha_channel_set_timing (b->channel, INTERVAL_MS, 3000);
	tandem_ha_channel_add_peer (a->channel, b->address);
	WAIT_UNTIL (a->joined->len == 1 && b->joined->len == 1, 3000);
	g_assert_cmpuint (b->joined->len, ==, 1);

	/* a member that never reads: B's queue for it grows past its bound
	 * and B closes that session, while A, which reads, gets everything */
	slow = raw_join (b, "raw-slow", "{}");
	json_object_set_string_member (body, "data", data);
	for (guint i = 0; i < 64 && b->left->len == 0; i++) {
		g_assert_true (
			tandem_ha_channel_send (b->channel, "raw-slow", "bulk", body, &error));
		g_assert_no_error (error);
		g_assert_true (tandem_ha_channel_send (b->channel, "node-a", "bulk", body, &error));
		g_assert_no_error (error);
		sent_to_a++;
		/* it is alive: it writes heartbeats */
		raw_send (slow, TANDEM_HA_FRAME_HEARTBEAT, "{}");
		run_for (20);
	}
	WAIT_UNTIL (b->left->len == 1, 2000);
	g_assert_cmpuint (b->left->len, ==, 1);
	g_assert_cmpstr (g_ptr_array_index (b->left, 0), ==,
			 "raw-slow|send queue full (the peer reads too slowly)|left");
	WAIT_UNTIL (a->messages->len == sent_to_a, 3000);
	g_assert_cmpuint (a->messages->len, ==, sent_to_a);
	g_assert_cmpuint (member_sessions_with (b, "node-a"), ==, 1);
	g_assert_cmpuint (a->left->len, ==, 0);
}

/* Keeps the channel's warnings (expected in the refusal tests) from being
 * fatal, and counts them; everything else goes to the default writer */
static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	const char *domain = NULL;
	const char *message = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
			domain = fields[i].value;
		else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0)
			message = fields[i].value;
	}
	if ((level & G_LOG_LEVEL_MASK) == G_LOG_LEVEL_WARNING &&
	    g_strcmp0 (domain, "Tandem-HA") == 0) {
		g_ptr_array_add (ha_warnings, g_strdup (message));
		g_test_message ("warning: %s", message);
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default (level, fields, n_fields, data);
}

/* Runs a test with the list of warnings emptied first */
static void
run_test (gconstpointer data)
{
	GTestFunc func = (GTestFunc) data;

	g_ptr_array_set_size (ha_warnings, 0);
	func ();
}

static void
add_test (const char *path, GTestFunc func)
{
	g_test_add_data_func (path, (gconstpointer) func, run_test);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);
	ha_warnings = g_ptr_array_new_with_free_func (g_free);
	g_log_set_writer_func (log_writer, NULL, NULL);
	/* wakes the loop up in WAIT_UNTIL and raw reads */
	g_timeout_add (10, tick_cb, NULL);

	add_test ("/ha-channel/join-status-message", test_join_status_message);
	add_test ("/ha-channel/dual-sessions-goodbye", test_dual_sessions_goodbye);
	add_test ("/ha-channel/death-and-timeout", test_death_and_timeout);
	add_test ("/ha-channel/wrong-key-or-cluster", test_wrong_key_or_cluster);
	add_test ("/ha-channel/replay-and-bad-mac", test_replay_and_bad_mac);
	add_test ("/ha-channel/self-dial", test_self_dial);
	add_test ("/ha-channel/redial", test_redial);
	add_test ("/ha-channel/oversize", test_oversize);
	add_test ("/ha-channel/slow-peer", test_slow_peer);

	return g_test_run ();
}
