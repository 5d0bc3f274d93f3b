/* fixture-not-plugin.c: a shared module that is not a Tandem plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * It loads fine but exports no `tandem_plugin_describe`: the loader must refuse
 * it with %TANDEM_ERROR_NOT_A_PLUGIN and name the file.
 */
#include <gmodule.h>

G_MODULE_EXPORT int fixture_not_plugin_answer (void);

static void fixture_not_plugin_loaded (void) __attribute__ ((constructor));

/* the loader opens it with GModule before it looks for a descriptor: the
 * refusal the test expects is NOT_A_PLUGIN, never a failure to open */
static void
fixture_not_plugin_loaded (void)
{
	g_assert_true (g_module_supported ());
}

int
fixture_not_plugin_answer (void)
{
	return 42;
}
