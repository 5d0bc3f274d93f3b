/* test-wka-membership.c: the wka membership plugin, in process
 *
 * The module is copied into a private directory (the loader refuses
 * group-writable files) and loaded through TandemPluginRegistry, as the
 * node does.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib/gstdio.h>
#include <tandem.h>

static char *plugin_dir;

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
wka_new (TandemPluginRegistry *registry, const char *instance)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) key = g_bytes_new_static ("0123456789abcdef0123456789abcdef", 32);
	TandemPlugin *plugin;

	plugin = tandem_plugin_registry_create (registry, "wka", TANDEM_PLUGIN_KIND_MEMBERSHIP,
						instance, NULL, &error);
	g_assert_no_error (error);
	g_assert_true (TANDEM_IS_MEMBERSHIP (plugin));
	g_assert_cmpstr (G_OBJECT_TYPE_NAME (plugin), ==, "TandemWkaMembership");
	tandem_membership_set_cluster (TANDEM_MEMBERSHIP (plugin), "test", key, "node-a", "node");
	/* no fixed port for the heartbeat channel */
	g_object_set (plugin, "listen", "127.0.0.1:0", NULL);
	return plugin;
}

static TandemConfigSection *
load_section (TandemConfig *config, const char *text, const char *name)
{
	g_autoptr (GError) error = NULL;

	g_assert_true (tandem_config_load_data (config, text, -1, "tandem.conf", &error));
	g_assert_no_error (error);
	return tandem_config_get_section (config, name);
}

/* start hands every member to the base class, in order, once each, its own
 * address included; entries may be separated by commas, semicolons or white
 * space. */
static void
test_start_adds_members (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemPlugin) plugin = wka_new (registry, "seeds");
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (GError) error = NULL;
	g_auto (GStrv) peers = NULL;
	g_auto (GStrv) members = NULL;
	TandemConfigSection *section;
	const char *expected[] = { "127.0.0.1:7711", "10.0.0.2:7711",  "db-2.example.com:7712",
				   "[::1]:7713",     "[fe80::1]:7714", NULL };

	section = load_section (config,
				"[membership.seeds]\n"
				"plugin = wka\n"
				"members = 127.0.0.1:7711, 10.0.0.2:7711;db-2.example.com:7712 "
				"[::1]:7713\t[fe80::1]:7714 127.0.0.1:7711\n",
				"membership.seeds");
	g_assert_nonnull (section);
	g_assert_true (tandem_plugin_setup (plugin, section, &error));
	g_assert_no_error (error);
	/* the config splits at `,` and `;`; setup at white space too */
	g_object_get (plugin, "members", &members, NULL);
	g_assert_cmpuint (g_strv_length (members), ==, 3);

	/* nothing is given to the base class before start */
	peers = tandem_membership_dup_peer_addresses (TANDEM_MEMBERSHIP (plugin));
	g_assert_cmpuint (g_strv_length (peers), ==, 0);
	g_clear_pointer (&peers, g_strfreev);

	g_assert_true (tandem_plugin_start (plugin, &error));
	g_assert_no_error (error);
	peers = tandem_membership_dup_peer_addresses (TANDEM_MEMBERSHIP (plugin));
	g_assert_cmpstrv (peers, expected);

	g_assert_true (tandem_plugin_stop (plugin, &error));
	g_assert_no_error (error);
	g_assert_cmpint (tandem_plugin_get_state (plugin), ==, TANDEM_PLUGIN_STATE_STOPPED);
}

/* Every bad entry is refused by setup, named, at the line of the key. */
static void
test_bad_member (void)
{
	const char *bad[] = {
		"localhost",          /* no port */
		"host:",              /* empty port */
		":7711",              /* no host */
		"host:0",             /* port out of range */
		"host:65536",         /* port out of range */
		"host:77a1",          /* not a number */
		"host:+7711",         /* not only digits */
		"ho/st:7711",         /* not a host name */
		"::1:7711",           /* IPv6 without brackets */
		"[::1:7711",          /* unclosed bracket */
		"[10.0.0.1]:7711",    /* brackets around IPv4 */
		"[nonsense]:7711",    /* brackets around a name */
		"10.0.0.1:7711:7712", /* two ports */
	};

	for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
		g_autoptr (TandemPluginRegistry) registry = registry_new ();
		g_autoptr (TandemPlugin) plugin = wka_new (registry, "seeds");
		g_autoptr (TandemConfig) config = tandem_config_new ();
		g_autoptr (GError) error = NULL;
		g_autofree char *text = NULL;
		g_autofree char *message = NULL;
		TandemConfigSection *section;

		text = g_strdup_printf ("[membership.seeds]\n"
					"plugin = wka\n"
					"members = 127.0.0.1:7711, %s, 10.0.0.2:7711\n",
					bad[i]);
		section = load_section (config, text, "membership.seeds");
		g_assert_false (tandem_plugin_setup (plugin, section, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
		message = g_strdup_printf (
			"tandem.conf:3: key 'members' in [membership.seeds]: member '%s' is not host:port",
			bad[i]);
		g_assert_cmpstr (error->message, ==, message);
		g_assert_cmpint (tandem_plugin_get_state (plugin), ==, TANDEM_PLUGIN_STATE_FAILED);
	}
}

/* Without members, or set without a config section. */
static void
test_no_members (void)
{
	g_autoptr (TandemPluginRegistry) registry = registry_new ();
	g_autoptr (TandemPlugin) missing = wka_new (registry, "seeds");
	g_autoptr (TandemPlugin) empty = wka_new (registry, "empty");
	g_autoptr (TandemPlugin) direct = wka_new (registry, "direct");
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autoptr (GError) error = NULL;
	g_auto (GStrv) peers = NULL;
	const char *bad_list[] = { "10.0.0.1:7711", "10.0.0.2", NULL };
	const char *good_list[] = { "10.0.0.1:7711 10.0.0.2:7711", NULL };
	const char *expected[] = { "10.0.0.1:7711", "10.0.0.2:7711", NULL };
	TandemConfigSection *section;

	section = load_section (config,
				"[membership.seeds]\n"
				"plugin = wka\n"
				"\n"
				"[membership.empty]\n"
				"plugin = wka\n"
				"members = , ;\n",
				"membership.seeds");
	g_assert_false (tandem_plugin_setup (missing, section, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_cmpstr (
		error->message, ==,
		"tandem.conf:1: section [membership.seeds]: expected every member's heartbeat address (host:port), got none");
	g_clear_error (&error);

	section = tandem_config_get_section (config, "membership.empty");
	g_assert_false (tandem_plugin_setup (empty, section, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_cmpstr (
		error->message, ==,
		"tandem.conf:6: key 'members' in [membership.empty]: expected every member's heartbeat address (host:port), got none");
	g_clear_error (&error);

	/* properties set directly (an embedder, without a config file) */
	g_object_set (direct, "members", bad_list, NULL);
	g_assert_false (tandem_plugin_setup (direct, NULL, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_cmpstr (error->message, ==, "members: member '10.0.0.2' is not host:port");
	g_clear_error (&error);
	g_clear_object (&direct);

	direct = wka_new (registry, "direct");
	g_object_set (direct, "members", good_list, NULL);
	g_assert_true (tandem_plugin_setup (direct, NULL, &error));
	g_assert_no_error (error);
	g_assert_true (tandem_plugin_start (direct, &error));
	g_assert_no_error (error);
	peers = tandem_membership_dup_peer_addresses (TANDEM_MEMBERSHIP (direct));
	g_assert_cmpstrv (peers, expected);
	g_assert_true (tandem_plugin_stop (direct, &error));
	g_assert_no_error (error);
}

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
	const char *build = g_getenv ("TANDEM_TEST_WKA_PLUGIN_DIR");
	g_autofree char *src = NULL;
	g_autofree char *dst = NULL;
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr (GError) error = NULL;

	g_assert_nonnull (build);
	src = g_build_filename (build, "tandem-wka-membership.so", NULL);
	dst = g_build_filename (plugin_dir, "tandem-wka-membership.so", NULL);
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
	plugin_dir = g_dir_make_tmp ("tandem-test-wka-XXXXXX", &error);
	g_assert_no_error (error);
	copy_plugin ();

	g_test_add_func ("/wka/start-adds-members", test_start_adds_members);
	g_test_add_func ("/wka/bad-member", test_bad_member);
	g_test_add_func ("/wka/no-members", test_no_members);
	rc = g_test_run ();
	rm_rf (plugin_dir);
	g_free (plugin_dir);
	return rc;
}
