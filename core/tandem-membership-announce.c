/* tandem-membership-announce.c: signed discovery datagrams of membership plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An announcement tells the other members of a cluster where this member's
 * heartbeat channel listens.  Discovery plugins (`multicast`) send it to
 * everyone who may listen, so it carries its own authentication: an
 * HMAC-SHA256 under the cluster key.  It is signed, not encrypted.
 *
 * Datagram layout (at most 2048 bytes):
 *
 * | offset | size | content |
 * |---|---|---|
 * | 0 | 4 | magic `TNDA` |
 * | 4 | 1 | version, 1 |
 * | 5 | n | a UTF-8 JSON object (below) |
 * | 5 + n | 32 | HMAC-SHA256 under the cluster key of bytes 0 to 5 + n - 1 |
 *
 * The JSON object has the members (in this order when encoded; any order
 * is accepted, unknown members are ignored):
 *
 * - `cluster` (string): the cluster name;
 * - `scope` (string): what separates clusters besides their name (the
 *   multicast `domain`; "" when none);
 * - `node_id` (string): the announcing member's node id;
 * - `address` (string): the `host:port` of its heartbeat channel (a
 *   wildcard host, `0.0.0.0` or `[::]`, means "the address this datagram
 *   came from");
 * - `ts_ms` (integer): the sender's wall clock, in milliseconds since the
 *   Unix epoch;
 * - `counter` (integer): a per-process counter, increased by every
 *   announcement.  It starts at the wall clock in microseconds times 1024
 *   plus a random number below 1024, so that a restarted process goes on
 *   above the counter of its previous run.
 *
 * A receiver checks, in this order: size, magic and version; that the JSON
 * object is well formed; cluster and scope (a datagram of another cluster
 * or scope is reported as such before its MAC is checked: other clusters
 * sharing a multicast group have other keys, and are ignored quietly); the
 * MAC (compared in constant time); that the node id is not its own; that
 * `ts_ms` is within 30 s of its own clock; and that `counter` is greater
 * than the last one it accepted from that node id.  The last two make a
 * captured datagram useless after 30 s, and at once inside them.
 */
#define G_LOG_DOMAIN "Tandem-Membership"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "tandem-error.h"
#include "tandem-membership-private.h"

#define MAGIC "TNDA"
#define MAGIC_LEN 4
#define VERSION 1
#define HEADER_LEN (MAGIC_LEN + 1)
#define MAC_LEN 32
/* the largest datagram, written or accepted */
#define MAX_DATAGRAM 2048
/* the smallest: a header, "{}" and a MAC */
#define MIN_DATAGRAM (HEADER_LEN + 2 + MAC_LEN)
/* how far a datagram's clock may be from ours */
#define MAX_SKEW_MS (30 * 1000)
/* how long a node id's last counter is kept after its last accepted
 * announcement: longer than it takes that announcement to become stale
 * (2 * MAX_SKEW_MS), with a margin for wall clock steps */
#define REPLAY_KEEP_US (G_GINT64_CONSTANT (3) * MAX_SKEW_MS * 1000)

/* the counter of this process's announcements */
G_LOCK_DEFINE_STATIC (counter);
static gint64 next_counter = -1;

static gint64
take_counter (void)
{
	gint64 counter;

	G_LOCK (counter);
	if (next_counter < 0)
		next_counter = g_get_real_time () * 1024 + g_random_int_range (0, 1024);
	counter = next_counter++;
	G_UNLOCK (counter);
	return counter;
}

/* per membership instance: node id -> the last announcement accepted from it */
typedef struct {
	gint64 counter;
	gint64 accepted_us; /* monotonic */
} Seen;

static GQuark
seen_quark (void)
{
	return g_quark_from_static_string ("tandem-membership-announce-seen");
}

static GHashTable *
get_seen (TandemMembership *self)
{
	GHashTable *seen = g_object_get_qdata (G_OBJECT (self), seen_quark ());

	if (seen == NULL) {
		seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
		g_object_set_qdata_full (G_OBJECT (self), seen_quark (), seen,
					 (GDestroyNotify) g_hash_table_unref);
	}
	return seen;
}

static void
forget_old (GHashTable *seen, gint64 now_us)
{
	GHashTableIter iter;
	Seen *entry;

	g_hash_table_iter_init (&iter, seen);
	while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &entry)) {
		if (now_us - entry->accepted_us > REPLAY_KEEP_US)
			g_hash_table_iter_remove (&iter);
	}
}

static void
compute_mac (GBytes *key, const guint8 *data, gsize len, guint8 mac[MAC_LEN])
{
	gsize key_len = 0;
	const guint8 *key_data = g_bytes_get_data (key, &key_len);
	GHmac *hmac = g_hmac_new (G_CHECKSUM_SHA256, key_data, key_len);
	gsize mac_len = MAC_LEN;

	g_hmac_update (hmac, data, (gssize) len);
	g_hmac_get_digest (hmac, mac, &mac_len);
	g_hmac_unref (hmac);
	g_assert (mac_len == MAC_LEN);
}

static gboolean
equal_constant_time (const guint8 *a, const guint8 *b, gsize len)
{
	guint8 diff = 0;

	for (gsize i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* The string member @name of @object, or NULL when missing or not a string. */
static const char *
get_string (JsonObject *object, const char *name)
{
	JsonNode *node = json_object_get_member (object, name);

	if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string (node);
}

static gboolean
get_int (JsonObject *object, const char *name, gint64 *value)
{
	JsonNode *node = json_object_get_member (object, name);

	if (node == NULL || json_node_get_value_type (node) != G_TYPE_INT64)
		return FALSE;
	*value = json_node_get_int (node);
	return TRUE;
}

static gboolean
is_host_char (char c)
{
	return g_ascii_isalnum (c) || c == '-' || c == '.' || c == '_';
}

/* Checks the `host:port` @address; returns it with a wildcard (or empty)
 * host replaced by @sender_host, or NULL. */
static char *
resolve_address (const char *address, const char *sender_host, GError **error)
{
	const char *colon = strrchr (address, ':');
	g_autofree char *host = NULL;
	g_autoptr (GInetAddress) inet = NULL;
	guint64 port = 0;

	if (colon == NULL || !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "announced address '%s' is not host:port", address);
		return NULL;
	}
	host = g_strndup (address, colon - address);
	if (host[0] == '[') {
		gsize len = strlen (host);

		if (len < 2 || host[len - 1] != ']') {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "announced address '%s' is not host:port", address);
			return NULL;
		}
		memmove (host, host + 1, len - 2);
		host[len - 2] = '\0';
		inet = g_inet_address_new_from_string (host);
		if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV6) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "announced address '%s' is not host:port", address);
			return NULL;
		}
	} else if (*host != '\0') {
		for (const char *p = host; *p != '\0'; p++) {
			if (!is_host_char (*p)) {
				g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
					     "announced address '%s' is not host:port", address);
				return NULL;
			}
		}
		inet = g_inet_address_new_from_string (host);
	}

	if (*host == '\0' || (inet != NULL && g_inet_address_get_is_any (inet))) {
		if (sender_host == NULL || *sender_host == '\0') {
			g_set_error (
				error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				"announced address '%s' has a wildcard host and the sender is unknown",
				address);
			return NULL;
		}
		g_free (host);
		host = g_strdup (sender_host);
	}
	if (strchr (host, ':') != NULL)
		return g_strdup_printf ("[%s]:%u", host, (guint) port);
	return g_strdup_printf ("%s:%u", host, (guint) port);
}

/**
 * tandem_membership_encode_announcement:
 * @self: a started #TandemMembership
 * @scope: (nullable): what separates clusters besides their name (the
 *   multicast `domain`), or %NULL for none
 * @error: return location for a #GError
 *
 * Builds a datagram announcing this member: the magic `TNDA`, the version
 * byte 1, a JSON object with the cluster, @scope, the node id, the advertised
 * address (tandem_membership_dup_advertised_address()), the wall clock in
 * milliseconds and a per-process counter, and an HMAC-SHA256 of all that
 * under the cluster key.  Each call gives a new datagram (a new counter).
 *
 * Fails with %TANDEM_ERROR_INVALID_ARGUMENT before
 * tandem_membership_set_cluster() or when the datagram would exceed 2048
 * bytes, and with %TANDEM_ERROR_FAILED when there is no address to announce
 * yet (the heartbeat channel is not started and #TandemMembership:advertise
 * is not set).
 *
 * Returns: (transfer full): the datagram, or %NULL on error
 */
GBytes *
tandem_membership_encode_announcement (TandemMembership *self, const char *scope, GError **error)
{
	g_autoptr (JsonBuilder) builder = NULL;
	g_autoptr (JsonGenerator) generator = NULL;
	g_autoptr (JsonNode) root = NULL;
	g_autofree char *address = NULL;
	g_autofree char *json = NULL;
	GBytes *key;
	const char *cluster;
	const char *node_id;
	GByteArray *out;
	gsize json_len = 0;
	guint8 version = VERSION;
	guint8 mac[MAC_LEN];

	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	cluster = tandem_membership_get_cluster (self);
	node_id = tandem_membership_get_node_id (self);
	key = tandem_membership_get_key (self);
	if (cluster == NULL || node_id == NULL || key == NULL) {
		g_set_error_literal (
			error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			"no cluster to announce (tandem_membership_set_cluster() was not called)");
		return NULL;
	}
	address = tandem_membership_dup_advertised_address (self);
	if (address == NULL) {
		g_set_error_literal (
			error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			"no address to announce: the heartbeat channel is not started and 'advertise' is not set");
		return NULL;
	}

	builder = json_builder_new ();
	json_builder_begin_object (builder);
	json_builder_set_member_name (builder, "cluster");
	json_builder_add_string_value (builder, cluster);
	json_builder_set_member_name (builder, "scope");
	json_builder_add_string_value (builder, scope != NULL ? scope : "");
	json_builder_set_member_name (builder, "node_id");
	json_builder_add_string_value (builder, node_id);
	json_builder_set_member_name (builder, "address");
	json_builder_add_string_value (builder, address);
	json_builder_set_member_name (builder, "ts_ms");
	json_builder_add_int_value (builder, g_get_real_time () / 1000);
	json_builder_set_member_name (builder, "counter");
	json_builder_add_int_value (builder, take_counter ());
	json_builder_end_object (builder);
	root = json_builder_get_root (builder);
	generator = json_generator_new ();
	json_generator_set_root (generator, root);
	json = json_generator_to_data (generator, &json_len);

	if (HEADER_LEN + json_len + MAC_LEN > MAX_DATAGRAM) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "the announcement would take %" G_GSIZE_FORMAT
			     " bytes, more than %u (cluster name, node id or address too long)",
			     HEADER_LEN + json_len + MAC_LEN, MAX_DATAGRAM);
		return NULL;
	}

	out = g_byte_array_sized_new (HEADER_LEN + json_len + MAC_LEN);
	g_byte_array_append (out, (const guint8 *) MAGIC, MAGIC_LEN);
	g_byte_array_append (out, &version, 1);
	g_byte_array_append (out, (const guint8 *) json, json_len);
	compute_mac (key, out->data, out->len, mac);
	g_byte_array_append (out, mac, MAC_LEN);
	return g_byte_array_free_to_bytes (out);
}

/**
 * tandem_membership_decode_announcement:
 * @self: a #TandemMembership, after tandem_membership_set_cluster()
 * @scope: (nullable): the scope this member accepts (%NULL: none, as for
 *   tandem_membership_encode_announcement())
 * @datagram: a received datagram
 * @sender_host: (nullable): the IP address it came from
 * @node_id: (out) (optional) (transfer full): the announcing node id
 * @error: return location for a #GError
 *
 * Checks a datagram from tandem_membership_encode_announcement(), in this
 * order, each failure with its own error:
 *
 * - size (at most 2048 bytes), magic and version, and a well-formed JSON
 *   object: %TANDEM_ERROR_INVALID_ARGUMENT;
 * - another cluster name or scope: %TANDEM_ERROR_NOT_SUPPORTED, "foreign
 *   cluster NAME/scope SCOPE" (checked before the MAC, so that clusters
 *   sharing a multicast group with their own keys can be ignored quietly);
 * - the MAC under the cluster key: %TANDEM_ERROR_AUTH_FAILED, "bad cluster
 *   key";
 * - this member's own node id: %TANDEM_ERROR_INVALID_ARGUMENT, "own
 *   announcement";
 * - a clock more than 30 s from ours: %TANDEM_ERROR_AUTH_FAILED, "stale
 *   announcement";
 * - a counter not greater than the last one accepted from that node id by
 *   this instance: %TANDEM_ERROR_AUTH_FAILED, "replayed announcement".
 *
 * A wildcard or empty announced host (`0.0.0.0`, `::`) is replaced by
 * @sender_host.
 *
 * Returns: (transfer full) (nullable): the announced `host:port`, or %NULL
 *   on error
 */
char *
tandem_membership_decode_announcement (TandemMembership *self,
				       const char *scope,
				       GBytes *datagram,
				       const char *sender_host,
				       char **node_id,
				       GError **error)
{
	g_autoptr (JsonParser) parser = NULL;
	g_autoptr (GError) local_error = NULL;
	g_autofree char *resolved = NULL;
	GHashTable *seen;
	JsonObject *object;
	JsonNode *root;
	GBytes *key;
	const guint8 *data;
	const char *json;
	const char *cluster;
	const char *their_scope;
	const char *their_id;
	const char *address;
	const char *own_id;
	gsize size = 0;
	gsize json_len;
	gint64 ts_ms = 0;
	gint64 counter = 0;
	gint64 now_ms;
	gint64 now_us;
	guint8 mac[MAC_LEN];
	Seen *entry;

	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);
	g_return_val_if_fail (datagram != NULL, NULL);
	g_return_val_if_fail (error == NULL || *error == NULL, NULL);

	key = tandem_membership_get_key (self);
	own_id = tandem_membership_get_node_id (self);
	if (key == NULL || own_id == NULL) {
		g_set_error_literal (
			error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			"no cluster key (tandem_membership_set_cluster() was not called)");
		return NULL;
	}

	/* header */
	data = g_bytes_get_data (datagram, &size);
	if (size < MIN_DATAGRAM || size > MAX_DATAGRAM) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "not an announcement: %" G_GSIZE_FORMAT " bytes (expected %u to %u)",
			     size, MIN_DATAGRAM, MAX_DATAGRAM);
		return NULL;
	}
	if (memcmp (data, MAGIC, MAGIC_LEN) != 0) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "not an announcement: bad magic");
		return NULL;
	}
	if (data[MAGIC_LEN] != VERSION) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "announcement version %u is not supported (expected %u)",
			     data[MAGIC_LEN], VERSION);
		return NULL;
	}

	/* the JSON object */
	json = (const char *) data + HEADER_LEN;
	json_len = size - HEADER_LEN - MAC_LEN;
	if (!g_utf8_validate (json, (gssize) json_len, NULL)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "malformed announcement: not UTF-8");
		return NULL;
	}
	parser = json_parser_new_immutable ();
	if (!json_parser_load_from_data (parser, json, (gssize) json_len, &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "malformed announcement: %s", local_error->message);
		return NULL;
	}
	root = json_parser_get_root (parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "malformed announcement: not a JSON object");
		return NULL;
	}
	object = json_node_get_object (root);
	cluster = get_string (object, "cluster");
	their_scope = get_string (object, "scope");
	their_id = get_string (object, "node_id");
	address = get_string (object, "address");
	if (cluster == NULL || their_scope == NULL || their_id == NULL || *their_id == '\0' ||
	    address == NULL || !get_int (object, "ts_ms", &ts_ms) ||
	    !get_int (object, "counter", &counter) || counter < 0) {
		g_set_error_literal (
			error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			"malformed announcement: expected strings cluster, scope, node_id, address and integers ts_ms, counter");
		return NULL;
	}

	/* another cluster: reported as such even when its key is not ours */
	if (g_strcmp0 (cluster, tandem_membership_get_cluster (self)) != 0 ||
	    g_strcmp0 (their_scope, scope != NULL ? scope : "") != 0) {
		g_autofree char *shown_cluster = g_strescape (cluster, NULL);
		g_autofree char *shown_scope = g_strescape (their_scope, NULL);

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
			     "foreign cluster %s/scope %s", shown_cluster, shown_scope);
		return NULL;
	}

	/* the MAC */
	compute_mac (key, data, size - MAC_LEN, mac);
	if (!equal_constant_time (mac, data + size - MAC_LEN, MAC_LEN)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED,
				     "bad cluster key");
		return NULL;
	}

	if (g_strcmp0 (their_id, own_id) == 0) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "own announcement");
		return NULL;
	}

	/* replays */
	now_ms = g_get_real_time () / 1000;
	if (ts_ms < now_ms - MAX_SKEW_MS || ts_ms > now_ms + MAX_SKEW_MS) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED,
				     "stale announcement");
		return NULL;
	}
	now_us = g_get_monotonic_time ();
	seen = get_seen (self);
	entry = g_hash_table_lookup (seen, their_id);
	if (entry != NULL && now_us - entry->accepted_us > REPLAY_KEEP_US) {
		g_hash_table_remove (seen, their_id);
		entry = NULL;
	}
	if (entry != NULL && counter <= entry->counter) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED,
				     "replayed announcement");
		return NULL;
	}

	resolved = resolve_address (address, sender_host, error);
	if (resolved == NULL)
		return NULL;

	if (entry == NULL) {
		forget_old (seen, now_us);
		entry = g_new0 (Seen, 1);
		g_hash_table_insert (seen, g_strdup (their_id), entry);
	}
	entry->counter = counter;
	entry->accepted_us = now_us;

	if (node_id != NULL)
		*node_id = g_strdup (their_id);
	return g_steal_pointer (&resolved);
}
