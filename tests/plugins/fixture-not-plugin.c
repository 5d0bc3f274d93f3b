/* fixture-not-plugin.c: a shared module that is not a Tandem plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * It loads fine but exports no `tandem_plugin_describe`: the loader must refuse
 * it with %TANDEM_ERROR_NOT_A_PLUGIN and name the file.
 */
#include <gmodule.h>

G_MODULE_EXPORT int fixture_not_plugin_answer (void);

int
fixture_not_plugin_answer (void)
{
	return 42;
}
