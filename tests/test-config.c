/* test-config.c: tandem.conf parsing, drop-ins, typed values, errors with file and line
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include <glib/gstdio.h>
#include <tandem.h>

#include "tandem-test-util.h"

/* --- a configurable object, as a plugin would be --------------------------- */

typedef enum {
	TEST_COLOR_RED,
	TEST_COLOR_GREEN,
} TestColor;

static GType
test_color_get_type (void)
{
	static GType type = 0;
	static const GEnumValue values[] = {
		{ TEST_COLOR_RED, "TEST_COLOR_RED", "red" },
		{ TEST_COLOR_GREEN, "TEST_COLOR_GREEN", "green" },
		{ 0, NULL, NULL },
	};

	if (type == 0)
		type = g_enum_register_static ("TestColor", values);
	return type;
}

#define TEST_TYPE_TARGET (test_target_get_type ())
G_DECLARE_FINAL_TYPE (TestTarget, test_target, TEST, TARGET, GObject)

struct _TestTarget {
	GObject parent_instance;
	int port;
	gboolean enabled_flag;
	double ratio;
	gint64 big;
	guint count;
	TestColor color;
	char *name;
	char *password;
	GStrv members;
	int not_config;
};

G_DEFINE_FINAL_TYPE (TestTarget, test_target, G_TYPE_OBJECT)

enum {
	PROP_0,
	PROP_PORT,
	PROP_FLAG,
	PROP_RATIO,
	PROP_BIG,
	PROP_COUNT,
	PROP_COLOR,
	PROP_NAME,
	PROP_PASSWORD,
	PROP_MEMBERS,
	PROP_NOT_CONFIG,
	N_PROPS,
};

static void
test_target_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	TestTarget *self = TEST_TARGET (object);

	switch (prop_id) {
	case PROP_PORT:
		self->port = g_value_get_int (value);
		break;
	case PROP_FLAG:
		self->enabled_flag = g_value_get_boolean (value);
		break;
	case PROP_RATIO:
		self->ratio = g_value_get_double (value);
		break;
	case PROP_BIG:
		self->big = g_value_get_int64 (value);
		break;
	case PROP_COUNT:
		self->count = g_value_get_uint (value);
		break;
	case PROP_COLOR:
		self->color = g_value_get_enum (value);
		break;
	case PROP_NAME:
		g_free (self->name);
		self->name = g_value_dup_string (value);
		break;
	case PROP_PASSWORD:
		g_free (self->password);
		self->password = g_value_dup_string (value);
		break;
	case PROP_MEMBERS:
		g_strfreev (self->members);
		self->members = g_value_dup_boxed (value);
		break;
	case PROP_NOT_CONFIG:
		self->not_config = g_value_get_int (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
test_target_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
test_target_finalize (GObject *object)
{
	TestTarget *self = TEST_TARGET (object);

	g_free (self->name);
	g_free (self->password);
	g_strfreev (self->members);
	G_OBJECT_CLASS (test_target_parent_class)->finalize (object);
}

static void
test_target_class_init (TestTargetClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	GParamFlags flags = G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG;
	GParamSpec *props[N_PROPS] = { NULL };

	object_class->set_property = test_target_set_property;
	object_class->get_property = test_target_get_property;
	object_class->finalize = test_target_finalize;
	props[PROP_PORT] = g_param_spec_int ("port", NULL, NULL, 1, 65535, 8080, flags);
	props[PROP_FLAG] = g_param_spec_boolean ("flag", NULL, NULL, FALSE, flags);
	props[PROP_RATIO] = g_param_spec_double ("ratio", NULL, NULL, 0.0, 1.0, 0.5, flags);
	props[PROP_BIG] = g_param_spec_int64 ("big-number", NULL, NULL, G_MININT64, G_MAXINT64, 0, flags);
	props[PROP_COUNT] = g_param_spec_uint ("count", NULL, NULL, 0, G_MAXUINT, 3, flags);
	props[PROP_COLOR] = g_param_spec_enum ("color", NULL, NULL, test_color_get_type (), TEST_COLOR_RED, flags);
	props[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL, flags);
	props[PROP_PASSWORD] = g_param_spec_string ("secret-value", NULL, NULL, NULL,
						    flags | TANDEM_PARAM_SECRET);
	props[PROP_MEMBERS] = g_param_spec_boxed ("members", NULL, NULL, G_TYPE_STRV, flags);
	props[PROP_NOT_CONFIG] = g_param_spec_int ("not-config", NULL, NULL, 0, 100, 7,
						   G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
test_target_init (TestTarget *self)
{
	self->port = 8080;
	self->ratio = 0.5;
	self->count = 3;
	self->not_config = 7;
}

/* --- helpers --------------------------------------------------------------- */

static char *
make_tmpdir (void)
{
	return tandem_test_make_tmpdir ("tandem-test-config-XXXXXX");
}

static void
write_file (const char *dir, const char *name, const char *text)
{
	g_autofree char *path = g_build_filename (dir, name, NULL);
	g_autofree char *parent = g_path_get_dirname (path);
	g_autoptr(GError) error = NULL;

	g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
	g_file_set_contents (path, text, -1, &error);
	g_assert_no_error (error);
}

static TandemConfig *
config_from (const char *text, GError **error)
{
	g_autoptr(TandemConfig) config = tandem_config_new ();

	if (!tandem_config_load_data (config, text, -1, "tandem.conf", error))
		return NULL;
	return g_steal_pointer (&config);
}

static gboolean
warnings_contain (TandemConfig *config, const char *needle)
{
	GPtrArray *warnings = tandem_config_get_warnings (config);

	for (guint i = 0; i < warnings->len; i++) {
		if (strstr (g_ptr_array_index (warnings, i), needle) != NULL)
			return TRUE;
	}
	return FALSE;
}

/* --- tests ----------------------------------------------------------------- */

static void
test_basic_values (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("# a comment\n"
						      "\n"
						      "[node]\n"
						      "  id =  node-a  \n"
						      "[receiver.http-main]\n"
						      "plugin=http\n"
						      "motd = hello\\sworld\\n\\tline\\\\two\n",
						      &error);
	TandemConfigSection *section;
	guint line = 0;
	g_auto(GStrv) keys = NULL;

	g_assert_no_error (error);
	g_assert_cmpuint (tandem_config_get_sections (config)->len, ==, 2);

	section = tandem_config_get_section (config, "node");
	g_assert_nonnull (section);
	g_assert_cmpstr (tandem_config_section_get_value (section, "id"), ==, "node-a");
	g_assert_cmpstr (tandem_config_section_get_origin (section, "id", &line), ==, "tandem.conf");
	g_assert_cmpuint (line, ==, 4);
	g_assert_cmpuint (tandem_config_section_get_line (section), ==, 3);
	g_assert_null (tandem_config_section_get_instance (section));

	section = tandem_config_get_section (config, "receiver.http-main");
	g_assert_nonnull (section);
	g_assert_cmpstr (tandem_config_section_get_prefix (section), ==, "receiver");
	g_assert_cmpstr (tandem_config_section_get_instance (section), ==, "http-main");
	g_assert_cmpstr (tandem_config_section_get_value (section, "motd"), ==, "hello world\n\tline\\two");
	keys = tandem_config_section_dup_keys (section);
	g_assert_cmpuint (g_strv_length (keys), ==, 2);
	g_assert_cmpstr (keys[0], ==, "plugin");
	g_assert_cmpstr (keys[1], ==, "motd");
	g_assert_null (tandem_config_get_section (config, "missing"));
}

static void
test_syntax_errors_have_lines (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = tandem_config_new ();
	gboolean ok;

	ok = tandem_config_load_data (config,
				      "[node]\n"
				      "id = a\n"
				      "this is not a key\n"
				      "[unterminated\n"
				      "name[de] = x\n"
				      "bad key = 1\n"
				      "value = a\\qb\n"
				      "[]\n",
				      -1, "broken.conf", &error);
	g_assert_false (ok);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_nonnull (strstr (error->message, "broken.conf:3: expected '[section]', 'key = value' or a '#' comment, got \"this is not a key\""));
	g_assert_nonnull (strstr (error->message, "broken.conf:4: expected a section header"));
	g_assert_nonnull (strstr (error->message, "broken.conf:5: key 'name[de]': localized keys"));
	g_assert_nonnull (strstr (error->message, "broken.conf:6: invalid key name 'bad key'"));
	g_assert_nonnull (strstr (error->message, "broken.conf:7: key 'value' in [node]: invalid escape '\\q'"));
	g_assert_nonnull (strstr (error->message, "broken.conf:8: invalid section name"));
	/* nothing of a broken file is merged */
	g_assert_cmpuint (tandem_config_get_sections (config)->len, ==, 0);
	g_assert_cmpuint (tandem_config_get_files (config)->len, ==, 0);
}

static void
test_key_before_section (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("\n# c\nport = 1\n[node]\n", &error);

	g_assert_null (config);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_cmpstr (error->message, ==, "tandem.conf:3: key 'port' appears before any [section]");
}

static void
test_invalid_utf8 (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[node]\nid = \xff\xfe\n", &error);

	g_assert_null (config);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_cmpstr (error->message, ==, "tandem.conf:2: not valid UTF-8");
}

static void
test_missing_file (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = tandem_config_new ();

	g_assert_false (tandem_config_load_file (config, "/nonexistent/tandem.conf", &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_cmpstr (error->message, ==, "/nonexistent/tandem.conf: cannot read: No such file or directory");
}

static void
test_value_error_names_file_and_line (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[receiver.http]\n"
						      "# 2\n# 3\n# 4\n# 5\n# 6\n# 7\n# 8\n# 9\n# 10\n# 11\n"
						      "port = 80a\n",
						      &error);
	g_autoptr(TestTarget) target = g_object_new (TEST_TYPE_TARGET, NULL);
	TandemConfigSection *section;

	g_assert_no_error (error);
	section = tandem_config_get_section (config, "receiver.http");
	g_assert_false (tandem_config_section_apply (section, G_OBJECT (target), &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	/* the format DESIGN.md promises, exactly */
	g_assert_cmpstr (error->message, ==,
			 "tandem.conf:12: key 'port' in [receiver.http]: expected an integer 1-65535, got \"80a\"");
	g_assert_cmpint (target->port, ==, 8080);
}

static void
test_typed_values (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[t]\n"
						      "port = 443\n"
						      "flag = yes\n"
						      "ratio = 0.25\n"
						      "big_number = 9007199254740993\n"
						      "count = 0\n"
						      "color = GREEN\n"
						      "name = \\sx y\\s\n"
						      "secret_value = s3cr3t\n"
						      "members = a:1, b:2 ;c:3,,\n"
						      "not_config = 5\n",
						      &error);
	g_autoptr(TestTarget) target = g_object_new (TEST_TYPE_TARGET, NULL);
	TandemConfigSection *section;
	g_auto(GStrv) unused = NULL;

	g_assert_no_error (error);
	section = tandem_config_get_section (config, "t");
	g_assert_true (tandem_config_section_apply (section, G_OBJECT (target), &error));
	g_assert_no_error (error);
	g_assert_cmpint (target->port, ==, 443);
	g_assert_true (target->enabled_flag);
	g_assert_cmpfloat_with_epsilon (target->ratio, 0.25, 1e-12);
	g_assert_cmpint (target->big, ==, G_GINT64_CONSTANT (9007199254740993));
	g_assert_cmpuint (target->count, ==, 0);
	g_assert_cmpint (target->color, ==, TEST_COLOR_GREEN);
	g_assert_cmpstr (target->name, ==, " x y ");
	g_assert_cmpstr (target->password, ==, "s3cr3t");
	g_assert_nonnull (target->members);
	g_assert_cmpuint (g_strv_length (target->members), ==, 3);
	g_assert_cmpstr (target->members[0], ==, "a:1");
	g_assert_cmpstr (target->members[1], ==, "b:2");
	g_assert_cmpstr (target->members[2], ==, "c:3");
	/* a property without TANDEM_PARAM_CONFIG is not a config key */
	g_assert_cmpint (target->not_config, ==, 7);
	unused = tandem_config_section_dup_unused_keys (section);
	g_assert_cmpuint (g_strv_length (unused), ==, 1);
	g_assert_cmpstr (unused[0], ==, "not_config");
}

static void
test_booleans (void)
{
	const char *yes[] = { "true", "TRUE", "yes", "on", "1" };
	const char *no[] = { "false", "No", "off", "0" };

	for (guint i = 0; i < G_N_ELEMENTS (yes) + G_N_ELEMENTS (no); i++) {
		const char *word = i < G_N_ELEMENTS (yes) ? yes[i] : no[i - G_N_ELEMENTS (yes)];
		g_autofree char *text = g_strdup_printf ("[t]\nflag = %s\n", word);
		g_autoptr(GError) error = NULL;
		g_autoptr(TandemConfig) config = config_from (text, &error);
		g_autoptr(TestTarget) target = g_object_new (TEST_TYPE_TARGET, NULL);

		g_assert_no_error (error);
		target->enabled_flag = i >= G_N_ELEMENTS (yes);
		g_assert_true (tandem_config_section_apply (tandem_config_get_section (config, "t"),
							    G_OBJECT (target), &error));
		g_assert_no_error (error);
		g_assert_cmpint (target->enabled_flag, ==, i < G_N_ELEMENTS (yes));
	}
}

static void
test_all_bad_values_reported (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[t]\n"
						      "port = 0\n"
						      "flag = maybe\n"
						      "ratio = 1.5\n"
						      "color = blue\n"
						      "count = -1\n"
						      "big_number = 99999999999999999999\n"
						      "secret_value = fine\n"
						      "name = good\n",
						      &error);
	g_autoptr(TestTarget) target = g_object_new (TEST_TYPE_TARGET, NULL);

	g_assert_no_error (error);
	g_assert_false (tandem_config_section_apply (tandem_config_get_section (config, "t"),
						     G_OBJECT (target), &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_nonnull (strstr (error->message, "tandem.conf:2: key 'port' in [t]: expected an integer 1-65535, got \"0\""));
	g_assert_nonnull (strstr (error->message, "tandem.conf:3: key 'flag' in [t]: expected a boolean (true or false), got \"maybe\""));
	g_assert_nonnull (strstr (error->message, "tandem.conf:4: key 'ratio' in [t]: expected a number 0-1, got \"1.5\""));
	g_assert_nonnull (strstr (error->message, "tandem.conf:5: key 'color' in [t]: expected one of red, green, got \"blue\""));
	g_assert_nonnull (strstr (error->message, "tandem.conf:6: key 'count' in [t]: expected a non-negative integer, got \"-1\""));
	g_assert_nonnull (strstr (error->message, "tandem.conf:7: key 'big_number' in [t]: expected an integer, got"));
	/* all or nothing: the good keys were not applied either */
	g_assert_null (target->name);
	g_assert_null (target->password);
	g_assert_cmpint (target->port, ==, 8080);
}

static void
test_secret_values_not_echoed (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[t]\nsecret_value = \\q\n", &error);

	/* a syntax error may echo the escape, but a bad typed secret must not
	 * echo the value: check with a type error on a secret int */
	g_assert_null (config);
	g_clear_error (&error);
	{
		g_autoptr(TandemConfig) c2 = config_from ("[t]\nport = hunter2\n", &error);
		TandemConfigSection *section = tandem_config_get_section (c2, "t");
		g_autoptr(TestTarget) target = g_object_new (TEST_TYPE_TARGET, NULL);

		g_assert_no_error (error);
		tandem_config_section_mark_secret (section, "port");
		g_assert_false (tandem_config_section_apply (section, G_OBJECT (target), &error));
		g_assert_nonnull (strstr (error->message, "(secret value hidden)"));
		g_assert_null (strstr (error->message, "hunter2"));
	}
}

static void
test_dropins_precedence (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *main_conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *a = g_build_filename (dir, "tandem.conf.d", "10-a.conf", NULL);
	g_autofree char *b = g_build_filename (dir, "tandem.conf.d", "20-b.conf", NULL);
	g_autoptr(TandemConfig) config = tandem_config_new ();
	g_autoptr(GError) error = NULL;
	TandemConfigSection *section;
	GPtrArray *files;
	guint line = 0;

	write_file (dir, "tandem.conf", "[node]\nid = main\nlog_level = warning\nstate_dir = /main\n");
	/* written in reverse name order on purpose: order is by name */
	write_file (dir, "tandem.conf.d/20-b.conf", "[node]\n\nlog_level = debug\n[cluster]\nname = b\n");
	write_file (dir, "tandem.conf.d/10-a.conf", "[node]\nid = from-a\nlog_level = info\n[cluster]\nname = a\n");
	write_file (dir, "tandem.conf.d/30-ignored.txt", "[node]\nid = ignored\n");
	write_file (dir, "tandem.conf.d/.hidden.conf", "[node]\nid = hidden\n");

	g_assert_true (tandem_config_load_file (config, main_conf, &error));
	g_assert_no_error (error);

	files = tandem_config_get_files (config);
	g_assert_cmpuint (files->len, ==, 3);
	g_assert_cmpstr (g_ptr_array_index (files, 0), ==, main_conf);
	g_assert_cmpstr (g_ptr_array_index (files, 1), ==, a);
	g_assert_cmpstr (g_ptr_array_index (files, 2), ==, b);

	section = tandem_config_get_section (config, "node");
	g_assert_cmpstr (tandem_config_section_get_value (section, "id"), ==, "from-a");
	g_assert_cmpstr (tandem_config_section_get_origin (section, "id", &line), ==, a);
	g_assert_cmpuint (line, ==, 2);
	g_assert_cmpstr (tandem_config_section_get_value (section, "log_level"), ==, "debug");
	g_assert_cmpstr (tandem_config_section_get_origin (section, "log_level", &line), ==, b);
	g_assert_cmpuint (line, ==, 3);
	g_assert_cmpstr (tandem_config_section_get_value (section, "state_dir"), ==, "/main");
	g_assert_cmpstr (tandem_config_section_get_value (tandem_config_get_section (config, "cluster"), "name"), ==, "b");

	tandem_test_rm_rf (dir);
}

static void
test_dropin_error_names_dropin (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *main_conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autoptr(TandemConfig) config = tandem_config_new ();
	g_autoptr(GError) error = NULL;
	g_autofree char *expected = NULL;

	write_file (dir, "tandem.conf", "[node]\n");
	write_file (dir, "tandem.conf.d/50-bad.conf", "[node]\n\noops\n");
	g_assert_false (tandem_config_load_file (config, main_conf, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	expected = g_strdup_printf ("%s/tandem.conf.d/50-bad.conf:3:", dir);
	g_assert_true (g_str_has_prefix (error->message, expected));
	tandem_test_rm_rf (dir);
}

static void
test_repeated_key_warns (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[node]\nid = a\nid = b\n", &error);

	g_assert_no_error (error);
	g_assert_cmpstr (tandem_config_section_get_value (tandem_config_get_section (config, "node"), "id"), ==, "b");
	g_assert_true (warnings_contain (config, "tandem.conf:3: key 'id' in [node] repeats line 2; the later value wins"));
}

static void
test_unknown_keys_and_sections_warn (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[node]\n"
						      "log_level = info\n"
						      "colour = blue\n"
						      "[cluster]\n"
						      "name = c1\n"
						      "size = 2\n"
						      "[frobnicator]\n"
						      "x = 1\n",
						      &error);
	g_autoptr(TandemNode) node = NULL;
	g_autoptr(TandemPluginRegistry) registry = tandem_plugin_registry_new ();
	const char *const empty[] = { NULL };

	g_assert_no_error (error);
	tandem_plugin_registry_set_search_path (registry, empty);
	tandem_plugin_registry_scan (registry);
	node = tandem_node_new (config, registry);
	g_assert_true (tandem_node_configure (node, &error));
	g_assert_no_error (error);
	g_assert_cmpint (tandem_node_get_log_level (node), ==, TANDEM_LOG_LEVEL_INFO);
	g_assert_cmpstr (tandem_node_get_cluster_name (node), ==, "c1");
	g_assert_true (warnings_contain (config, "tandem.conf:3: unknown key 'colour' in [node], ignored"));
	g_assert_true (warnings_contain (config, "tandem.conf:6: unknown key 'size' in [cluster], ignored"));
	g_assert_true (warnings_contain (config, "tandem.conf:7: section [frobnicator]: unknown section, ignored"));
	g_assert_cmpuint (tandem_config_get_warnings (config)->len, ==, 3);
}

static void
test_bad_values_refuse_node (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[node]\n"
						      "log_level = loud\n"
						      "id = not a valid id!\n"
						      "[cluster]\n"
						      "name = has space\n"
						      "[receiver.main]\n"
						      "duplicated_in_cluster = true\n"
						      "[store.bad name]\n"
						      "plugin = x\n"
						      "[persister.p]\n"
						      "plugin = nosuch\n"
						      "[membership.off]\n"
						      "enabled = false\n"
						      "plugin = nosuch\n"
						      "whatever = 1\n",
						      &error);
	g_autoptr(TandemNode) node = NULL;
	g_autoptr(TandemPluginRegistry) registry = tandem_plugin_registry_new ();
	const char *const empty[] = { NULL };

	g_assert_no_error (error);
	tandem_plugin_registry_set_search_path (registry, empty);
	tandem_plugin_registry_scan (registry);
	node = tandem_node_new (config, registry);
	g_assert_false (tandem_node_configure (node, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_nonnull (strstr (error->message, "tandem.conf:2: key 'log_level' in [node]: expected one of warning, message, info, debug, got \"loud\""));
	g_assert_nonnull (strstr (error->message, "tandem.conf:3: key 'id' in [node]: expected a UUID or a name"));
	g_assert_nonnull (strstr (error->message, "tandem.conf:5: key 'name' in [cluster]: expected a name"));
	g_assert_nonnull (strstr (error->message, "tandem.conf:6: section [receiver.main]: missing key 'plugin'"));
	g_assert_nonnull (strstr (error->message, "tandem.conf:8: section [store.bad name]: expected [store.NAME]"));
	g_assert_nonnull (strstr (error->message, "tandem.conf:11: key 'plugin' in [persister.p]: no plugin named 'nosuch'"));
	/* a disabled section is not instantiated, and its keys are not errors */
	g_assert_null (strstr (error->message, "[membership.off]"));
	g_assert_false (warnings_contain (config, "whatever"));
	g_assert_cmpuint (tandem_node_get_plugins (node)->len, ==, 0);
}

static void
test_print_masks_secrets (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("[store.db]\n"
						      "plugin = gda\n"
						      "password = hunter2\n"
						      "api_token = abc123\n"
						      "key_file = /etc/tandem/cluster.key\n"
						      "secret_value = flagged\n"
						      "motd = two words\\nline\n",
						      &error);
	g_autoptr(TestTarget) target = g_object_new (TEST_TYPE_TARGET, NULL);
	g_autofree char *masked = NULL;
	g_autofree char *plain = NULL;
	g_autoptr(TandemConfig) reparsed = NULL;

	g_assert_no_error (error);
	/* the flagged property is only known once applied */
	g_assert_true (tandem_config_section_apply (tandem_config_get_section (config, "store.db"),
						    G_OBJECT (target), &error));
	masked = tandem_config_to_string (config, TRUE);
	g_assert_null (strstr (masked, "hunter2"));
	g_assert_null (strstr (masked, "abc123"));
	g_assert_null (strstr (masked, "flagged"));
	g_assert_nonnull (strstr (masked, "password = ********"));
	g_assert_nonnull (strstr (masked, "secret_value = ********"));
	g_assert_nonnull (strstr (masked, "key_file = /etc/tandem/cluster.key"));
	g_assert_nonnull (strstr (masked, "# tandem.conf:3\npassword"));

	/* unmasked output reads back to the same values */
	plain = tandem_config_to_string (config, FALSE);
	reparsed = config_from (plain, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (tandem_config_section_get_value (tandem_config_get_section (reparsed, "store.db"), "motd"),
			 ==, "two words\nline");
	g_assert_cmpstr (tandem_config_section_get_value (tandem_config_get_section (reparsed, "store.db"), "password"),
			 ==, "hunter2");
}

static void
test_section_error_helper (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemConfig) config = config_from ("\n[receiver.x]\nmode = fast\n", &error);
	TandemConfigSection *section = tandem_config_get_section (config, "receiver.x");

	g_assert_no_error (error);
	tandem_config_section_set_error (section, "mode", &error, "expected normal or strict, got \"%s\"", "fast");
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
	g_assert_cmpstr (error->message, ==,
			 "tandem.conf:3: key 'mode' in [receiver.x]: expected normal or strict, got \"fast\"");
	g_clear_error (&error);
	tandem_config_section_set_error (section, NULL, &error, "needs a port");
	g_assert_cmpstr (error->message, ==, "tandem.conf:2: section [receiver.x]: needs a port");
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);

	g_test_add_func ("/config/basic-values", test_basic_values);
	g_test_add_func ("/config/syntax-errors-have-lines", test_syntax_errors_have_lines);
	g_test_add_func ("/config/key-before-section", test_key_before_section);
	g_test_add_func ("/config/invalid-utf8", test_invalid_utf8);
	g_test_add_func ("/config/missing-file", test_missing_file);
	g_test_add_func ("/config/value-error-names-file-and-line", test_value_error_names_file_and_line);
	g_test_add_func ("/config/typed-values", test_typed_values);
	g_test_add_func ("/config/booleans", test_booleans);
	g_test_add_func ("/config/all-bad-values-reported", test_all_bad_values_reported);
	g_test_add_func ("/config/secret-values-not-echoed", test_secret_values_not_echoed);
	g_test_add_func ("/config/dropins-precedence", test_dropins_precedence);
	g_test_add_func ("/config/dropin-error-names-dropin", test_dropin_error_names_dropin);
	g_test_add_func ("/config/repeated-key-warns", test_repeated_key_warns);
	g_test_add_func ("/config/unknown-keys-and-sections-warn", test_unknown_keys_and_sections_warn);
	g_test_add_func ("/config/bad-values-refuse-node", test_bad_values_refuse_node);
	g_test_add_func ("/config/print-masks-secrets", test_print_masks_secrets);
	g_test_add_func ("/config/section-error-helper", test_section_error_helper);

	return g_test_run ();
}
