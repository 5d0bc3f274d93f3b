/* fixture-bad-name.c: a plugin with an invalid name
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Plugin names are lower-case letters, digits and `-`, starting with a letter,
 * because they appear in config files (`plugin = NAME`) and in log lines.  This
 * one is "Bad Name!": the loader must refuse it.
 */
#include <tandem.h>

#define FIXTURE_TYPE_BAD_NAME (fixture_bad_name_get_type ())
G_DECLARE_FINAL_TYPE (FixtureBadName, fixture_bad_name, FIXTURE, BAD_NAME, TandemReceiver)

struct _FixtureBadName {
	TandemReceiver parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (FixtureBadName, fixture_bad_name, TANDEM_TYPE_RECEIVER)

static void
fixture_bad_name_class_init (FixtureBadNameClass *klass)
{
}

static void
fixture_bad_name_class_finalize (FixtureBadNameClass *klass)
{
}

static void
fixture_bad_name_init (FixtureBadName *self)
{
}

static GType
fixture_bad_name_register_types (GTypeModule *module)
{
	/* the loader hands each plugin its own type module */
	g_assert_true (G_IS_TYPE_MODULE (module));

	fixture_bad_name_register_type (module);
	return FIXTURE_TYPE_BAD_NAME;
}

TANDEM_PLUGIN_DEFINE ("Bad Name!",
		      TANDEM_PLUGIN_KIND_RECEIVER,
		      "1.0.0",
		      "LGPL-2.1-or-later",
		      "Test fixture: a plugin whose name is not valid",
		      fixture_bad_name_register_types)
