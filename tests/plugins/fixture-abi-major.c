/* fixture-abi-major.c: a plugin built for the next major plugin ABI
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Everything is valid except the ABI major version, which is one more than the
 * core's: the loader must refuse it with %TANDEM_ERROR_ABI_MISMATCH.  The
 * descriptor is written by hand because TANDEM_PLUGIN_DEFINE() always uses the
 * ABI of the headers.
 */
#include <tandem.h>

#define FIXTURE_TYPE_ABI_MAJOR (fixture_abi_major_get_type ())
G_DECLARE_FINAL_TYPE (FixtureAbiMajor, fixture_abi_major, FIXTURE, ABI_MAJOR, TandemReceiver)

struct _FixtureAbiMajor {
	TandemReceiver parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (FixtureAbiMajor, fixture_abi_major, TANDEM_TYPE_RECEIVER)

static void
fixture_abi_major_class_init (FixtureAbiMajorClass *klass)
{
}

static void
fixture_abi_major_class_finalize (FixtureAbiMajorClass *klass)
{
}

static void
fixture_abi_major_init (FixtureAbiMajor *self)
{
}

static GType
fixture_abi_major_register_types (GTypeModule *module)
{
	/* the loader hands each plugin its own type module */
	g_assert_true (G_IS_TYPE_MODULE (module));

	fixture_abi_major_register_type (module);
	return FIXTURE_TYPE_ABI_MAJOR;
}

TANDEM_PLUGIN_EXPORT const TandemPluginDescriptor *tandem_plugin_describe (void);

const TandemPluginDescriptor *
tandem_plugin_describe (void)
{
	static const TandemPluginDescriptor descriptor = {
		.abi_major = TANDEM_PLUGIN_ABI_MAJOR + 1,
		.abi_minor = TANDEM_PLUGIN_ABI_MINOR,
		.struct_size = sizeof (TandemPluginDescriptor),
		.kind = TANDEM_PLUGIN_KIND_RECEIVER,
		.name = "abi-major",
		.version = "1.0.0",
		.license = "LGPL-2.1-or-later",
		.description = "Test fixture: built for the next major plugin ABI",
		.register_types = fixture_abi_major_register_types,
	};

	return &descriptor;
}
