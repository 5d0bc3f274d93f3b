/* fixture-abi-minor.c: a plugin built for a newer minor plugin ABI
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything is valid except the ABI minor version, which is one more than the
 * core's: the plugin may use something this core does not have, so the loader
 * must refuse it with %TANDEM_ERROR_ABI_MISMATCH.  The descriptor is written by
 * hand because TANDEM_PLUGIN_DEFINE() always uses the ABI of the headers.
 */
#include <tandem.h>

#define FIXTURE_TYPE_ABI_MINOR (fixture_abi_minor_get_type ())
G_DECLARE_FINAL_TYPE (FixtureAbiMinor, fixture_abi_minor, FIXTURE, ABI_MINOR, TandemReceiver)

struct _FixtureAbiMinor {
	TandemReceiver parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (FixtureAbiMinor, fixture_abi_minor, TANDEM_TYPE_RECEIVER)

static void
fixture_abi_minor_class_init (FixtureAbiMinorClass *klass)
{
}

static void
fixture_abi_minor_class_finalize (FixtureAbiMinorClass *klass)
{
}

static void
fixture_abi_minor_init (FixtureAbiMinor *self)
{
}

static GType
fixture_abi_minor_register_types (GTypeModule *module)
{
	/* the loader hands each plugin its own type module */
	g_assert_true (G_IS_TYPE_MODULE (module));

	fixture_abi_minor_register_type (module);
	return FIXTURE_TYPE_ABI_MINOR;
}

TANDEM_PLUGIN_EXPORT const TandemPluginDescriptor *tandem_plugin_describe (void);

const TandemPluginDescriptor *
tandem_plugin_describe (void)
{
	static const TandemPluginDescriptor descriptor = {
		.abi_major = TANDEM_PLUGIN_ABI_MAJOR,
		.abi_minor = TANDEM_PLUGIN_ABI_MINOR + 1,
		.struct_size = sizeof (TandemPluginDescriptor),
		.kind = TANDEM_PLUGIN_KIND_RECEIVER,
		.name = "abi-minor",
		.version = "1.0.0",
		.license = "LGPL-2.1-or-later",
		.description = "Test fixture: built for a newer minor plugin ABI",
		.register_types = fixture_abi_minor_register_types,
	};

	return &descriptor;
}
