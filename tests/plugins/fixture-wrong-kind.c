/* fixture-wrong-kind.c: a plugin whose type does not match its declared kind
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The descriptor says %TANDEM_PLUGIN_KIND_STORE but the registered type derives
 * from #TandemReceiver: the loader must refuse to create an instance of it.
 */
#include <tandem.h>

#define FIXTURE_TYPE_WRONG_KIND (fixture_wrong_kind_get_type ())
G_DECLARE_FINAL_TYPE (FixtureWrongKind, fixture_wrong_kind, FIXTURE, WRONG_KIND, TandemReceiver)

struct _FixtureWrongKind {
	TandemReceiver parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (FixtureWrongKind, fixture_wrong_kind, TANDEM_TYPE_RECEIVER)

static void
fixture_wrong_kind_class_init (FixtureWrongKindClass *klass)
{
}

static void
fixture_wrong_kind_class_finalize (FixtureWrongKindClass *klass)
{
}

static void
fixture_wrong_kind_init (FixtureWrongKind *self)
{
}

static GType
fixture_wrong_kind_register_types (GTypeModule *module)
{
	/* the loader hands each plugin its own type module */
	g_assert_true (G_IS_TYPE_MODULE (module));

	fixture_wrong_kind_register_type (module);
	return FIXTURE_TYPE_WRONG_KIND;
}

TANDEM_PLUGIN_DEFINE ("wrong-kind",
		      TANDEM_PLUGIN_KIND_STORE,
		      "1.0.0",
		      "LGPL-2.1-or-later",
		      "Test fixture: says it is a store but registers a receiver",
		      fixture_wrong_kind_register_types)
