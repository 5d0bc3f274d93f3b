/* test-multicast-membership.c: the multicast membership plugin and the
 * announcement codec, in process
 *
 * The module is copied into a private directory (the loader refuses
 * group-writable files) and loaded through TandemPluginRegistry, as the
 * node does.  The codec tests build datagrams by hand from the format in
 * README.md, with the test's own HMAC; the discovery tests run instances of
 * the plugin on 127.0.0.1, on a random group and port.  meson runs this
 * program inside a private network namespace (tests/run-in-netns.sh): it
 * never sends to a real network.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <tandem.h>

#define KEY "0123456789abcdef0123456789abcdef"
#define OTHER_KEY "fedcba9876543210fedcba9876543210"
#define MAC_LEN 32
/* how long discovery may take before a test gives up */
#define DISCOVERY_TIMEOUT_S 5

static char *plugin_dir;

/* --- warnings -------------------------------------------------------------- */

/* the warnings of the plugin (log domain Tandem-multicast), in order */
static GPtrArray *warnings;

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	const char *domain = NULL;
	const char *message = NULL;

	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0 && fields[i].length < 0)
			domain = fields[i].value;
		else if (g_strcmp0 (fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
			message = fields[i].value;
	}
	if ((level & G_LOG_LEVEL_WARNING) != 0 && g_strcmp0 (domain, "Tandem-multicast") == 0 &&
	    message != NULL) {
		g_test_message ("captured warning: %s", message);
		g_ptr_array_add (warnings, g_strdup (message));
		return G_LOG_WRITER_HANDLED;
	}
	/* anything else keeps GTest's rules (unexpected warnings are fatal) */
	return g_log_writer_default (level, fields, n_fields, user_data);
}

static guint
count_warnings (const char *prefix, const char *needle)
{
	guint n = 0;

	for (guint i = 0; i < warnings->len; i++) {
		const char *w = g_ptr_array_index (warnings, i);

		if (g_str_has_prefix (w, prefix) && (needle == NULL || strstr (w, needle) != NULL))
			n++;
	}
	return n;
}

/* --- instances ------------------------------------------------------------- */

static TandemPluginRegistry *
registry_new (void)
{
	TandemPluginRegistry *registry = tandem_plugin_registry_new ();
	const char *path[] = { plugin_dir, NULL };

	tandem_plugin_registry_set_search_path (registry, path);
	tandem_plugin_registry_scan (registry);
	return registry;
}

static TandemPlugin *
create (TandemPluginRegistry *registry, const char *instance)
{
	g_autoptr (GError) error = NULL;
	TandemPlugin *plugin;

	plugin =
		tandem_plugin_registry_create (registry, "multicast", TANDEM_PLUGIN_KIND_MEMBERSHIP,
					       instance, NULL, &error);
	g_assert_no_error (error);
	g_assert_true (TANDEM_IS_MEMBERSHIP (plugin));
	g_assert_cmpstr (G_OBJECT_TYPE_NAME (plugin), ==, "TandemMulticastMembership");
	return plugin;
}

typedef struct {
	const char *instance;
	const char *cluster;
	const char *key;
	const char *node_id;
	const char *domain;
	const char *advertise;
} Member;

/* An instance set up on @group:@port through 127.0.0.1. */
static TandemMembership *
member_new (TandemPluginRegistry *registry, const Member *m, const char *group, int port)
{
	g_autoptr (TandemPlugin) plugin = create (registry, m->instance);
	g_autoptr (GBytes) key = g_bytes_new (m->key, strlen (m->key));
	g_autoptr (GError) error = NULL;

	tandem_membership_set_cluster (TANDEM_MEMBERSHIP (plugin), m->cluster, key, m->node_id,
				       "node");
	g_object_set (plugin, "group", group, "port", port, "interface", "127.0.0.1", "domain",
		      m->domain, "listen", "127.0.0.1:0", "advertise", m->advertise, NULL);
	g_assert_true (tandem_plugin_setup (plugin, NULL, &error));
	g_assert_no_error (error);
	return TANDEM_MEMBERSHIP (g_steal_pointer (&plugin));
}

static char *
random_group (void)
{
	return g_strdup_printf ("239.255.%u.%u", (guint) g_random_int_range (0, 256),
				(guint) g_random_int_range (1, 255));
}

static int
random_port (void)
{
	return g_random_int_range (20000, 60000);
}

static gboolean
has_peer (TandemMembership *membership, const char *address)
{
	g_auto (GStrv) peers = tandem_membership_dup_peer_addresses (membership);

	return g_strv_contains ((const char *const *) peers, address);
}

static gboolean
on_wake (gpointer user_data)
{
	return G_SOURCE_CONTINUE;
}

/* Runs the main loop for @ms milliseconds. */
static void
run_for (guint ms)
{
	gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
	guint wake = g_timeout_add (20, on_wake, NULL);

	while (g_get_monotonic_time () < end)
		g_main_context_iteration (NULL, TRUE);
	g_source_remove (wake);
}

/* Runs the main loop until @a knows @address_of_b and @b knows
 * @address_of_a, or DISCOVERY_TIMEOUT_S passed. */
static gboolean
run_until_discovered (TandemMembership *a,
		      const char *address_of_b,
		      TandemMembership *b,
		      const char *address_of_a)
{
	gint64 start = g_get_monotonic_time ();
	gint64 end = start + DISCOVERY_TIMEOUT_S * G_USEC_PER_SEC;
	guint wake = g_timeout_add (20, on_wake, NULL);
	gboolean done = FALSE;

	while (!done && g_get_monotonic_time () < end) {
		g_main_context_iteration (NULL, TRUE);
		done = (a == NULL || has_peer (a, address_of_b)) &&
		       (b == NULL || has_peer (b, address_of_a));
	}
	g_source_remove (wake);
	g_test_message ("discovery took %" G_GINT64_FORMAT " ms",
			(g_get_monotonic_time () - start) / 1000);
	return done;
}

static void
assert_peers (TandemMembership *membership, const char *const *expected)
{
	g_auto (GStrv) peers = tandem_membership_dup_peer_addresses (membership);

	g_assert_cmpstrv (peers, expected);
}

/* --- crafting datagrams ---------------------------------------------------- */

/* "TNDA", version, @json and the HMAC-SHA256 of all that under @key. */
static GBytes *
craft_full (const char *key, guint8 version, const char *json, gsize json_len)
{
	GByteArray *out = g_byte_array_new ();
	GHmac *hmac = g_hmac_new (G_CHECKSUM_SHA256, (const guint8 *) key, strlen (key));
	guint8 mac[MAC_LEN];
	gsize mac_len = MAC_LEN;

	g_byte_array_append (out, (const guint8 *) "TNDA", 4);
	g_byte_array_append (out, &version, 1);
	g_byte_array_append (out, (const guint8 *) json, json_len);
	g_hmac_update (hmac, out->data, out->len);
	g_hmac_get_digest (hmac, mac, &mac_len);
	g_hmac_unref (hmac);
	g_byte_array_append (out, mac, MAC_LEN);
	return g_byte_array_free_to_bytes (out);
}

static GBytes *
craft (const char *key, const char *json)
{
	return craft_full (key, 1, json, strlen (json));
}

static gint64 crafted_counter = 1000;

/* A datagram of node-x in cluster test/scope scope. */
static GBytes *
craft_announcement (const char *address, gint64 ts_ms, gint64 counter)
{
	g_autofree char *json = g_strdup_printf (
		"{\"cluster\":\"test\",\"scope\":\"scope\",\"node_id\":\"node-x\",\"address\":\"%s\","
		"\"ts_ms\":%" G_GINT64_FORMAT ",\"counter\":%" G_GINT64_FORMAT "}",
		address, ts_ms, counter);

	return craft (KEY, json);
}

static gint64
now_ms (void)
{
	return g_get_real_time () / 1000;
}

/* A bare instance for the codec: cluster `test`, KEY, @node_id, advertising
 * @advertise (NULL: nothing). */
static TandemMembership *
codec_member (TandemPluginRegistry *registry, const char *node_id, const char *advertise)
{
	g_autoptr (TandemPlugin) plugin = create (registry, node_id);
	g_autoptr (GBytes) key = g_bytes_new_static (KEY, strlen (KEY));

	tandem_membership_set_cluster (TANDEM_MEMBERSHIP (plugin), "test", key, node_id, "node");
	g_object_set (plugin, "advertise", advertise, NULL);
	return TANDEM_MEMBERSHIP (g_steal_pointer (&plugin));
}

static char *
decode (TandemMembership *m,
	const char *scope,
	GBytes *datagram,
	const char *sender,
	char **node_id,
	GError **error)
{
	return tandem_membership_decode_announcement (m, scope, datagram, sender, node_id, error);
}

/* --- codec ----------------------------------------------------------------- */

/* The layout of README.md, and a round trip. */
static void
test_codec_round_trip (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemMembership) a = codec_member (registry, "node-a", "10.0.0.1:7711");
	g_autoptr (TandemMembership) b = codec_member (registry, "node-b", "10.0.0.2:7711");
	g_autoptr (GBytes) datagram = NULL;
	g_autoptr (GBytes) expected = NULL;
	g_autoptr (GError) error = NULL;
	g_autoptr (JsonParser) parser = json_parser_new ();
	g_autofree char *address = NULL;
	g_autofree char *node_id = NULL;
	JsonObject *object;
	const guint8 *data;
	gsize size = 0;

	datagram = tandem_membership_encode_announcement (a, "scope", &error);
	g_assert_no_error (error);
	data = g_bytes_get_data (datagram, &size);
	g_assert_cmpuint (size, >, 5 + MAC_LEN);
	g_assert_cmpuint (size, <=, 2048);
	g_assert_cmpmem (data, 4, "TNDA", 4);
	g_assert_cmpuint (data[4], ==, 1);

	g_assert_true (json_parser_load_from_data (parser, (const char *) data + 5,
						   (gssize) (size - 5 - MAC_LEN), &error));
	g_assert_no_error (error);
	object = json_node_get_object (json_parser_get_root (parser));
	g_assert_cmpstr (json_object_get_string_member (object, "cluster"), ==, "test");
	g_assert_cmpstr (json_object_get_string_member (object, "scope"), ==, "scope");
	g_assert_cmpstr (json_object_get_string_member (object, "node_id"), ==, "node-a");
	g_assert_cmpstr (json_object_get_string_member (object, "address"), ==, "10.0.0.1:7711");
	g_assert_cmpint (ABS (json_object_get_int_member (object, "ts_ms") - now_ms ()), <, 5000);
	g_assert_cmpint (json_object_get_int_member (object, "counter"), >, 0);

	/* the MAC is the test's own HMAC-SHA256 of everything before it */
	expected = craft_full (KEY, 1, (const char *) data + 5, size - 5 - MAC_LEN);
	g_assert_true (g_bytes_equal (datagram, expected));

	address = decode (b, "scope", datagram, "10.9.9.9", &node_id, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (address, ==, "10.0.0.1:7711");
	g_assert_cmpstr (node_id, ==, "node-a");

	/* a member's own announcement */
	g_clear_pointer (&address, g_free);
	address = decode (a, "scope", datagram, "10.0.0.1", NULL, &error);
	g_assert_null (address);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
	g_assert_cmpstr (error->message, ==, "own announcement");
	g_clear_error (&error);

	/* NULL scope is the empty scope on both sides */
	g_clear_pointer (&datagram, g_bytes_unref);
	datagram = tandem_membership_encode_announcement (a, NULL, &error);
	g_assert_no_error (error);
	address = decode (b, NULL, datagram, NULL, NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (address, ==, "10.0.0.1:7711");
}

/* No byte of a datagram can be changed unnoticed; a changed MAC or
 * content is a bad key. */
static void
test_codec_tampered (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemMembership) a = codec_member (registry, "node-a", "10.0.0.1:7711");
	g_autoptr (TandemMembership) b = codec_member (registry, "node-b", "10.0.0.2:7711");
	g_autoptr (GBytes) datagram = NULL;
	g_autoptr (GError) error = NULL;
	const guint8 *data;
	const char *digit;
	gsize size = 0;

	datagram = tandem_membership_encode_announcement (a, "scope", &error);
	g_assert_no_error (error);
	data = g_bytes_get_data (datagram, &size);

	for (gsize i = 0; i < size; i++) {
		for (guint bit = 0; bit < 8; bit++) {
			g_autofree guint8 *copy = g_memdup2 (data, size);
			g_autoptr (GBytes) tampered = NULL;
			g_autoptr (GError) local_error = NULL;
			g_autofree char *address = NULL;

			copy[i] ^= (guint8) (1u << bit);
			tampered = g_bytes_new (copy, size);
			address = decode (b, "scope", tampered, "10.0.0.1", NULL, &local_error);
			g_assert_null (address);
			g_assert_nonnull (local_error);
			g_assert_true (local_error->domain == TANDEM_ERROR);
			/* in the MAC: always a bad key */
			if (i >= size - MAC_LEN)
				g_assert_error (local_error, TANDEM_ERROR,
						TANDEM_ERROR_AUTH_FAILED);
		}
	}

	/* a digit of the address: still JSON, still this cluster: bad key */
	digit = strstr ((const char *) data, "10.0.0.1:7711");
	g_assert_nonnull (digit);
	{
		g_autofree guint8 *copy = g_memdup2 (data, size);
		g_autoptr (GBytes) tampered = NULL;
		g_autofree char *address = NULL;

		copy[digit - (const char *) data + 3] = '1';
		tampered = g_bytes_new (copy, size);
		address = decode (b, "scope", tampered, "10.0.0.1", NULL, &error);
		g_assert_null (address);
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED);
		g_assert_cmpstr (error->message, ==, "bad cluster key");
		g_clear_error (&error);
	}

	/* untouched, it still passes (nothing above was accepted) */
	{
		g_autofree char *address = decode (b, "scope", datagram, "10.0.0.1", NULL, &error);

		g_assert_no_error (error);
		g_assert_cmpstr (address, ==, "10.0.0.1:7711");
	}
}

/* Another key, and another cluster or scope (quietly, whatever its key). */
static void
test_codec_foreign (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemMembership) a = codec_member (registry, "node-a", "10.0.0.1:7711");
	g_autoptr (TandemMembership) b = codec_member (registry, "node-b", "10.0.0.2:7711");
	g_autoptr (TandemMembership) other = codec_member (registry, "node-o", "10.0.0.3:7711");
	g_autoptr (GBytes) other_key = g_bytes_new_static (OTHER_KEY, strlen (OTHER_KEY));
	g_autoptr (GBytes) same_key = g_bytes_new_static (KEY, strlen (KEY));
	g_autoptr (GBytes) datagram = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *address = NULL;

	/* same cluster and scope, another key */
	tandem_membership_set_cluster (other, "test", other_key, "node-o", "node");
	datagram = tandem_membership_encode_announcement (other, "scope", &error);
	g_assert_no_error (error);
	address = decode (b, "scope", datagram, "10.0.0.3", NULL, &error);
	g_assert_null (address);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED);
	g_assert_cmpstr (error->message, ==, "bad cluster key");
	g_clear_error (&error);

	/* another scope */
	g_clear_pointer (&datagram, g_bytes_unref);
	datagram = tandem_membership_encode_announcement (a, "other-scope", &error);
	g_assert_no_error (error);
	address = decode (b, "scope", datagram, "10.0.0.1", NULL, &error);
	g_assert_null (address);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED);
	g_assert_cmpstr (error->message, ==, "foreign cluster test/scope other-scope");
	g_clear_error (&error);

	/* another cluster, with its own key: foreign, not a bad key */
	tandem_membership_set_cluster (other, "prod", other_key, "node-o", "node");
	g_clear_pointer (&datagram, g_bytes_unref);
	datagram = tandem_membership_encode_announcement (other, "scope", &error);
	g_assert_no_error (error);
	address = decode (b, "scope", datagram, "10.0.0.3", NULL, &error);
	g_assert_null (address);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED);
	g_assert_cmpstr (error->message, ==, "foreign cluster prod/scope scope");
	g_clear_error (&error);

	/* another cluster with the same key */
	tandem_membership_set_cluster (other, "prod", same_key, "node-o", "node");
	g_clear_pointer (&datagram, g_bytes_unref);
	datagram = tandem_membership_encode_announcement (other, "scope", &error);
	g_assert_no_error (error);
	address = decode (b, "scope", datagram, "10.0.0.3", NULL, &error);
	g_assert_null (address);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED);
	g_clear_error (&error);
}

/* The same datagram twice, an older one after a newer one, and clocks too
 * far off. */
static void
test_codec_replay (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemMembership) a = codec_member (registry, "node-a", "10.0.0.1:7711");
	g_autoptr (TandemMembership) b = codec_member (registry, "node-b", "10.0.0.2:7711");
	g_autoptr (TandemMembership) c = codec_member (registry, "node-c", "10.0.0.3:7711");
	g_autoptr (GBytes) first = NULL;
	g_autoptr (GBytes) second = NULL;
	g_autoptr (GError) error = NULL;
	char *address;

	first = tandem_membership_encode_announcement (a, "scope", &error);
	g_assert_no_error (error);
	second = tandem_membership_encode_announcement (a, "scope", &error);
	g_assert_no_error (error);

	address = decode (b, "scope", first, "10.0.0.1", NULL, &error);
	g_assert_no_error (error);
	g_free (address);
	address = decode (b, "scope", first, "10.0.0.1", NULL, &error);
	g_assert_null (address);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED);
	g_assert_cmpstr (error->message, ==, "replayed announcement");
	g_clear_error (&error);

	address = decode (b, "scope", second, "10.0.0.1", NULL, &error);
	g_assert_no_error (error);
	g_free (address);
	address = decode (b, "scope", first, "10.0.0.1", NULL, &error);
	g_assert_null (address);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED);
	g_assert_cmpstr (error->message, ==, "replayed announcement");
	g_clear_error (&error);

	/* each instance keeps its own table */
	address = decode (c, "scope", first, "10.0.0.1", NULL, &error);
	g_assert_no_error (error);
	g_free (address);

	/* hand-made, of node-x: 30 s either way is the limit */
	{
		struct {
			gint64 offset_ms;
			gboolean ok;
		} cases[] = {
			{ -31000, FALSE }, { 31000, FALSE }, { -3600000, FALSE },
			{ -29000, TRUE },  { 29000, TRUE },
		};

		for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
			g_autoptr (GBytes) datagram =
				craft_announcement ("10.0.0.9:7711", now_ms () + cases[i].offset_ms,
						    crafted_counter++);

			address = decode (b, "scope", datagram, "10.0.0.9", NULL, &error);
			if (cases[i].ok) {
				g_assert_no_error (error);
				g_assert_cmpstr (address, ==, "10.0.0.9:7711");
				g_free (address);
			} else {
				g_assert_null (address);
				g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED);
				g_assert_cmpstr (error->message, ==, "stale announcement");
				g_clear_error (&error);
			}
		}
	}

	/* a counter not above the last one accepted, with a fresh clock */
	{
		g_autoptr (GBytes) datagram =
			craft_announcement ("10.0.0.9:7711", now_ms (), crafted_counter - 1);

		address = decode (b, "scope", datagram, "10.0.0.9", NULL, &error);
		g_assert_null (address);
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED);
		g_assert_cmpstr (error->message, ==, "replayed announcement");
		g_clear_error (&error);
	}
}

/* A wildcard host is the sender's address. */
static void
test_codec_wildcard (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemMembership) b = codec_member (registry, "node-b", "10.0.0.2:7711");
	struct {
		const char *announced;
		const char *sender;
		const char *expected;
	} cases[] = {
		{ "0.0.0.0:7000", "10.1.2.3", "10.1.2.3:7000" },
		{ "[::]:7001", "10.1.2.3", "10.1.2.3:7001" },
		{ ":7002", "10.1.2.3", "10.1.2.3:7002" },
		{ "0.0.0.0:7003", "fe80::1", "[fe80::1]:7003" },
		{ "10.4.4.4:7004", "10.1.2.3", "10.4.4.4:7004" },
		{ "db-1.example.com:7005", "10.1.2.3", "db-1.example.com:7005" },
		{ "[fe80::2]:7006", "10.1.2.3", "[fe80::2]:7006" },
		{ "0.0.0.0:7007", NULL, NULL },
		{ "10.0.0.1", "10.1.2.3", NULL },
		{ "10.0.0.1:0", "10.1.2.3", NULL },
		{ "10.0.0.1:99999", "10.1.2.3", NULL },
		{ "bad host:7008", "10.1.2.3", NULL },
		{ "[::1:7009", "10.1.2.3", NULL },
		{ "::1:7010", "10.1.2.3", NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (GBytes) datagram =
			craft_announcement (cases[i].announced, now_ms (), crafted_counter++);
		g_autoptr (GError) error = NULL;
		g_autofree char *address = NULL;

		address = decode (b, "scope", datagram, cases[i].sender, NULL, &error);
		if (cases[i].expected != NULL) {
			g_assert_no_error (error);
			g_assert_cmpstr (address, ==, cases[i].expected);
		} else {
			g_test_message ("%s refused: %s", cases[i].announced,
					error != NULL ? error->message : "?");
			g_assert_null (address);
			g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
		}
	}

	/* through the encoder too */
	{
		g_autoptr (TandemMembership) a = codec_member (registry, "node-a", "0.0.0.0:7711");
		g_autoptr (GError) error = NULL;
		g_autoptr (GBytes) datagram =
			tandem_membership_encode_announcement (a, "s", &error);
		g_autofree char *address = NULL;

		g_assert_no_error (error);
		address = decode (b, "s", datagram, "192.0.2.7", NULL, &error);
		g_assert_no_error (error);
		g_assert_cmpstr (address, ==, "192.0.2.7:7711");
	}
}

/* Whatever arrives, the decoder refuses it with INVALID_ARGUMENT (or a
 * foreign cluster, or a bad key) and never crashes. */
static void
test_codec_malformed (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemMembership) b = codec_member (registry, "node-b", "10.0.0.2:7711");
	g_autofree char *long_name = g_strnfill (2100, 'x');
	g_autofree char *long_json = NULL;
	const char *bad_json[] = {
		"{}",
		"[]",
		"null",
		"\"text\"",
		"{\"cluster\":\"test\"",
		"{\"cluster\":\"test\",\"scope\":\"scope\",\"node_id\":\"n\",\"address\":\"1.2.3.4:5\",\"ts_ms\":1}",
		"{\"cluster\":\"test\",\"scope\":\"scope\",\"node_id\":\"n\",\"address\":\"1.2.3.4:5\",\"ts_ms\":\"1\",\"counter\":1}",
		"{\"cluster\":\"test\",\"scope\":\"scope\",\"node_id\":\"n\",\"address\":5,\"ts_ms\":1,\"counter\":1}",
		"{\"cluster\":\"test\",\"scope\":\"scope\",\"node_id\":\"\",\"address\":\"1.2.3.4:5\",\"ts_ms\":1,\"counter\":1}",
		"{\"cluster\":\"test\",\"scope\":\"scope\",\"node_id\":\"n\",\"address\":\"1.2.3.4:5\",\"ts_ms\":1,\"counter\":-1}",
		"{\"cluster\":\"test\",\"scope\":\"scope\",\"node_id\":\"n\",\"address\":\"1.2.3.4:5\",\"ts_ms\":1.5,\"counter\":1}",
		"{\"cluster\":[\"test\"],\"scope\":\"scope\",\"node_id\":\"n\",\"address\":\"1.2.3.4:5\",\"ts_ms\":1,\"counter\":1}",
		"{\"cluster\":\"te\\u0000st\"}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
		"\xff\xfe{}",
	};

	/* header */
	{
		g_autoptr (GBytes) empty = g_bytes_new_static ("", 0);
		g_autoptr (GBytes) tiny = g_bytes_new_static ("TNDA\x01{}", 7);
		g_autoptr (GBytes) magic = craft ("xxxxxxxxxxxxxxxxxxxxxxxx", "{}");
		g_autoptr (GBytes) version = craft_full (KEY, 2, "{}", 2);
		g_autoptr (GError) error = NULL;
		g_autofree guint8 *copy = NULL;
		g_autoptr (GBytes) bad_magic = NULL;
		gsize size = 0;
		const guint8 *data = g_bytes_get_data (magic, &size);

		g_assert_null (decode (b, "scope", empty, "10.0.0.1", NULL, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
		g_clear_error (&error);
		g_assert_null (decode (b, "scope", tiny, "10.0.0.1", NULL, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
		g_clear_error (&error);
		copy = g_memdup2 (data, size);
		copy[0] = 'X';
		bad_magic = g_bytes_new (copy, size);
		g_assert_null (decode (b, "scope", bad_magic, "10.0.0.1", NULL, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
		g_assert_cmpstr (error->message, ==, "not an announcement: bad magic");
		g_clear_error (&error);
		g_assert_null (decode (b, "scope", version, "10.0.0.1", NULL, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
		g_assert_cmpstr (error->message, ==,
				 "announcement version 2 is not supported (expected 1)");
		g_clear_error (&error);
	}

	/* too large, even when signed */
	long_json = g_strdup_printf (
		"{\"cluster\":\"test\",\"scope\":\"scope\",\"node_id\":\"%s\",\"address\":\"1.2.3.4:5\",\"ts_ms\":%" G_GINT64_FORMAT
		",\"counter\":%" G_GINT64_FORMAT "}",
		long_name, now_ms (), crafted_counter++);
	{
		g_autoptr (GBytes) datagram = craft (KEY, long_json);
		g_autoptr (GError) error = NULL;

		g_assert_null (decode (b, "scope", datagram, "10.0.0.1", NULL, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
	}

	/* signed, but not an announcement */
	for (guint i = 0; i < G_N_ELEMENTS (bad_json); i++) {
		g_autoptr (GBytes) datagram = craft (KEY, bad_json[i]);
		g_autoptr (GError) error = NULL;
		g_autofree char *shown = g_strescape (bad_json[i], NULL);

		g_assert_null (decode (b, "scope", datagram, "10.0.0.1", NULL, &error));
		g_test_message ("%s refused: %s", shown, error->message);
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
	}

	/* random bytes, with and without the header */
	for (guint i = 0; i < 20000; i++) {
		gsize size = (gsize) g_random_int_range (0, 2200);
		g_autofree guint8 *data = g_malloc (size + 1);
		g_autoptr (GBytes) datagram = NULL;
		g_autoptr (GError) error = NULL;

		for (gsize j = 0; j < size; j++)
			data[j] = (guint8) g_random_int_range (0, 256);
		if (i % 2 == 0 && size >= 6) {
			memcpy (data, "TNDA\x01{", 6);
		}
		datagram = g_bytes_new (data, size);
		g_assert_null (decode (b, "scope", datagram, "10.0.0.1", NULL, &error));
		g_assert_nonnull (error);
	}
}

/* The encoder refuses what it cannot announce. */
static void
test_codec_encode_errors (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemPlugin) bare = create (registry, "bare");
	g_autoptr (TandemMembership) nowhere = codec_member (registry, "node-a", NULL);
	g_autofree char *long_id = g_strnfill (2100, 'n');
	g_autoptr (TandemMembership) big = codec_member (registry, long_id, "10.0.0.1:7711");
	g_autoptr (GError) error = NULL;

	g_assert_null (
		tandem_membership_encode_announcement (TANDEM_MEMBERSHIP (bare), "s", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
	g_clear_error (&error);
	/* not started, nothing advertised */
	g_assert_null (tandem_membership_encode_announcement (nowhere, "s", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
	g_clear_error (&error);
	g_assert_null (tandem_membership_encode_announcement (big, "s", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
	g_test_message ("refused as expected: %s", error->message);
}

/* --- the plugin ------------------------------------------------------------ */

/* Bad keys are refused by setup, at their line. */
static void
test_setup_errors (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	struct {
		const char *line;
		const char *message;
	} cases[] = {
		{ "group = 10.0.0.1",
		  "tandem.conf:3: key 'group' in [membership.mc]: expected an IPv4 multicast address (224.0.0.0 to 239.255.255.255, such as 239.255.84.77), got \"10.0.0.1\"" },
		{ "group = ff02::1",
		  "tandem.conf:3: key 'group' in [membership.mc]: expected an IPv4 multicast address (224.0.0.0 to 239.255.255.255, such as 239.255.84.77), got \"ff02::1\"" },
		{ "group = cluster.example.com",
		  "tandem.conf:3: key 'group' in [membership.mc]: expected an IPv4 multicast address (224.0.0.0 to 239.255.255.255, such as 239.255.84.77), got \"cluster.example.com\"" },
		{ "interface = eth0",
		  "tandem.conf:3: key 'interface' in [membership.mc]: expected the IPv4 address of an interface (0.0.0.0: the kernel's choice), got \"eth0\"" },
		{ "interface = 239.1.1.1",
		  "tandem.conf:3: key 'interface' in [membership.mc]: expected the IPv4 address of an interface (0.0.0.0: the kernel's choice), got \"239.1.1.1\"" },
		{ "domain = ",
		  "tandem.conf:3: key 'domain' in [membership.mc]: expected a name of 1 to 255 bytes, got an empty or overlong one" },
		{ "ttl = 256", NULL },
		{ "port = 0", NULL },
		{ "announce_interval_ms = 5", NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (TandemPlugin) plugin = create (registry, "mc");
		g_autoptr (TandemConfig) config = tandem_config_new ();
		g_autoptr (GError) error = NULL;
		g_autofree char *text =
			g_strdup_printf ("[membership.mc]\nplugin = multicast\n%s\n",
					 cases[i].line);

		g_assert_true (tandem_config_load_data (config, text, -1, "tandem.conf", &error));
		g_assert_no_error (error);
		g_assert_false (
			tandem_plugin_setup (plugin,
					     tandem_config_get_section (config, "membership.mc"),
					     &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
		g_test_message ("%s: %s", cases[i].line, error->message);
		if (cases[i].message != NULL)
			g_assert_cmpstr (error->message, ==, cases[i].message);
		else
			g_assert_true (g_str_has_prefix (error->message, "tandem.conf:3: key '"));
	}

	/* the defaults pass */
	{
		g_autoptr (TandemPlugin) plugin = create (registry, "mc");
		g_autoptr (GError) error = NULL;
		g_autofree char *group = NULL;
		g_autofree char *domain = NULL;
		g_autofree char *interface = NULL;
		int port = 0;
		guint ttl = 0;
		guint interval = 0;

		g_assert_true (tandem_plugin_setup (plugin, NULL, &error));
		g_assert_no_error (error);
		g_object_get (plugin, "group", &group, "port", &port, "ttl", &ttl, "domain",
			      &domain, "interface", &interface, "announce-interval-ms", &interval,
			      NULL);
		g_assert_cmpstr (group, ==, "239.255.84.77");
		g_assert_cmpint (port, ==, 54327);
		g_assert_cmpuint (ttl, ==, 1);
		g_assert_cmpstr (domain, ==, "default");
		g_assert_cmpstr (interface, ==, "0.0.0.0");
		g_assert_cmpuint (interval, ==, 1000);
	}
}

/* Two members of a cluster find each other; members of another cluster, of
 * another domain or with another key are left out, and a member with the
 * wrong key is logged (once per sender per 10 s). */
static void
test_discovery (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autofree char *group = random_group ();
	int port = random_port ();
	const Member members[] = {
		{ "a", "alpha", KEY, "node-a", "test", "127.0.0.1:17001" },
		/* a wildcard host: the others use the sender's address */
		{ "b", "alpha", KEY, "node-b", "test", "0.0.0.0:17002" },
		/* another cluster, same key */
		{ "c", "beta", KEY, "node-c", "test", "127.0.0.1:17003" },
		/* another domain */
		{ "d", "alpha", KEY, "node-d", "other", "127.0.0.1:17004" },
		/* the wrong key */
		{ "e", "alpha", OTHER_KEY, "node-e", "test", "127.0.0.1:17005" },
		/* another cluster with its own key */
		{ "f", "gamma", OTHER_KEY, "node-f", "test", "127.0.0.1:17006" },
	};
	TandemMembership *m[G_N_ELEMENTS (members)];
	const char *only_b[] = { "127.0.0.1:17002", NULL };
	const char *only_a[] = { "127.0.0.1:17001", NULL };
	const char *none[] = { NULL };
	g_autoptr (GError) error = NULL;
	gint64 first_start;
	guint max_per_instance;

	g_test_message ("group %s:%d", group, port);
	g_ptr_array_set_size (warnings, 0);
	for (guint i = 0; i < G_N_ELEMENTS (members); i++)
		m[i] = member_new (registry, &members[i], group, port);
	first_start = g_get_monotonic_time ();
	for (guint i = 0; i < G_N_ELEMENTS (members); i++) {
		g_assert_true (tandem_plugin_start (TANDEM_PLUGIN (m[i]), &error));
		g_assert_no_error (error);
	}

	g_assert_true (run_until_discovered (m[0], "127.0.0.1:17002", m[1], "127.0.0.1:17001"));
	/* a few more rounds (three quick announcements, then one a second) */
	run_for (1500);

	assert_peers (m[0], only_b);
	assert_peers (m[1], only_a);
	for (guint i = 2; i < G_N_ELEMENTS (members); i++)
		assert_peers (m[i], none);

	/* the wrong key is logged by a and b, and e logs theirs; the other
	 * clusters and domains are ignored quietly */
	g_assert_cmpuint (
		count_warnings ("a: refused an announcement from 127.0.0.1: bad cluster key", NULL),
		>=, 1);
	g_assert_cmpuint (
		count_warnings ("b: refused an announcement from 127.0.0.1: bad cluster key", NULL),
		>=, 1);
	g_assert_cmpuint (
		count_warnings ("e: refused an announcement from 127.0.0.1: bad cluster key", NULL),
		>=, 1);
	g_assert_cmpuint (count_warnings ("c: ", NULL), ==, 0);
	g_assert_cmpuint (count_warnings ("d: ", NULL), ==, 0);
	g_assert_cmpuint (count_warnings ("f: ", NULL), ==, 0);
	/* rate limited: one per sender per 10 s started */
	max_per_instance =
		1 + (guint) ((g_get_monotonic_time () - first_start) / (10 * G_USEC_PER_SEC));
	g_assert_cmpuint (count_warnings ("a: ", NULL), <=, max_per_instance);
	g_assert_cmpuint (count_warnings ("b: ", NULL), <=, max_per_instance);
	g_assert_cmpuint (count_warnings ("e: ", NULL), <=, max_per_instance);

	/* b restarts elsewhere: a dials the new address instead of the old */
	g_assert_true (tandem_plugin_stop (TANDEM_PLUGIN (m[1]), &error));
	g_assert_no_error (error);
	g_clear_object (&m[1]);
	{
		const Member moved = { "b", "alpha", KEY, "node-b", "test", "127.0.0.1:17012" };
		const char *only_new_b[] = { "127.0.0.1:17012", NULL };

		m[1] = member_new (registry, &moved, group, port);
		g_assert_true (tandem_plugin_start (TANDEM_PLUGIN (m[1]), &error));
		g_assert_no_error (error);
		g_assert_true (
			run_until_discovered (m[0], "127.0.0.1:17012", m[1], "127.0.0.1:17001"));
		assert_peers (m[0], only_new_b);
		assert_peers (m[1], only_a);
	}

	for (guint i = 0; i < G_N_ELEMENTS (members); i++) {
		g_assert_true (tandem_plugin_stop (TANDEM_PLUGIN (m[i]), &error));
		g_assert_no_error (error);
		g_object_unref (m[i]);
	}
}

/* Two groups on one port do not hear each other; a plugin stopped stops
 * announcing. */
static void
test_groups_and_stop (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	int port = random_port ();
	const Member ma = { "a", "alpha", KEY, "node-a", "test", "127.0.0.1:17101" };
	const Member mb = { "b", "alpha", KEY, "node-b", "test", "127.0.0.1:17102" };
	const Member mc = { "c", "alpha", KEY, "node-c", "test", "127.0.0.1:17103" };
	const char *none[] = { NULL };
	const char *only_a[] = { "127.0.0.1:17101", NULL };
	g_autoptr (TandemMembership) a = member_new (registry, &ma, "239.255.1.1", port);
	g_autoptr (TandemMembership) b = member_new (registry, &mb, "239.255.1.2", port);
	g_autoptr (TandemMembership) c = NULL;
	g_autoptr (GError) error = NULL;

	g_ptr_array_set_size (warnings, 0);
	g_assert_true (tandem_plugin_start (TANDEM_PLUGIN (a), &error));
	g_assert_no_error (error);
	g_assert_true (tandem_plugin_start (TANDEM_PLUGIN (b), &error));
	g_assert_no_error (error);
	run_for (1500);
	assert_peers (a, none);
	assert_peers (b, none);

	/* c on a's group hears a ... */
	c = member_new (registry, &mc, "239.255.1.1", port);
	g_assert_true (tandem_plugin_start (TANDEM_PLUGIN (c), &error));
	g_assert_no_error (error);
	g_assert_true (run_until_discovered (c, "127.0.0.1:17101", NULL, NULL));
	assert_peers (c, only_a);
	/* ... until a stops: nothing more arrives, c keeps what it knows */
	g_assert_true (tandem_plugin_stop (TANDEM_PLUGIN (a), &error));
	g_assert_no_error (error);
	g_assert_true (tandem_plugin_stop (TANDEM_PLUGIN (b), &error));
	g_assert_no_error (error);
	run_for (1200);
	assert_peers (c, only_a);
	g_assert_true (tandem_plugin_stop (TANDEM_PLUGIN (c), &error));
	g_assert_no_error (error);
	g_assert_cmpuint (warnings->len, ==, 0);
}

/* --- main ------------------------------------------------------------------ */

static void
rm_rf (const char *path)
{
	g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
	const char *name;

	while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
		g_autofree char *child = g_build_filename (path, name, NULL);

		g_unlink (child);
	}
	g_rmdir (path);
}

static void
copy_plugin (void)
{
	const char *build = g_getenv ("TANDEM_TEST_MULTICAST_PLUGIN_DIR");
	g_autofree char *src = NULL;
	g_autofree char *dst = NULL;
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr (GError) error = NULL;

	g_assert_nonnull (build);
	src = g_build_filename (build, "tandem-multicast-membership.so", NULL);
	dst = g_build_filename (plugin_dir, "tandem-multicast-membership.so", NULL);
	g_file_get_contents (src, &contents, &length, &error);
	g_assert_no_error (error);
	g_file_set_contents_full (dst, contents, length, G_FILE_SET_CONTENTS_NONE, 0755, &error);
	g_assert_no_error (error);
	g_assert_cmpint (g_chmod (dst, 0755), ==, 0);
}

int
main (int argc, char **argv)
{
	g_autoptr (GError) error = NULL;
	int rc;

	g_test_init (&argc, &argv, NULL);
	warnings = g_ptr_array_new_with_free_func (g_free);
	g_log_set_writer_func (log_writer, NULL, NULL);
	plugin_dir = g_dir_make_tmp ("tandem-test-multicast-XXXXXX", &error);
	g_assert_no_error (error);
	copy_plugin ();

	g_test_add_func ("/multicast/codec/round-trip", test_codec_round_trip);
	g_test_add_func ("/multicast/codec/tampered", test_codec_tampered);
	g_test_add_func ("/multicast/codec/foreign", test_codec_foreign);
	g_test_add_func ("/multicast/codec/replay", test_codec_replay);
	g_test_add_func ("/multicast/codec/wildcard", test_codec_wildcard);
	g_test_add_func ("/multicast/codec/malformed", test_codec_malformed);
	g_test_add_func ("/multicast/codec/encode-errors", test_codec_encode_errors);
	g_test_add_func ("/multicast/setup-errors", test_setup_errors);
	g_test_add_func ("/multicast/discovery", test_discovery);
	g_test_add_func ("/multicast/groups-and-stop", test_groups_and_stop);
	rc = g_test_run ();
	rm_rf (plugin_dir);
	g_free (plugin_dir);
	g_ptr_array_unref (warnings);
	return rc;
}
