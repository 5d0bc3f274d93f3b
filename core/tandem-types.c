/* tandem-types.c: helpers for the shared enumerations
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "tandem-membership.h"
#include "tandem-persister.h"
#include "tandem-receiver.h"
#include "tandem-store.h"
#include "tandem-types.h"

static const char *const kind_names[] = {
	[TANDEM_PLUGIN_KIND_RECEIVER] = "receiver",
	[TANDEM_PLUGIN_KIND_STORE] = "store",
	[TANDEM_PLUGIN_KIND_MEMBERSHIP] = "membership",
	[TANDEM_PLUGIN_KIND_PERSISTER] = "persister",
};

/**
 * tandem_plugin_kind_to_string:
 * @kind: a #TandemPluginKind
 *
 * Returns: the name of @kind as used in config section prefixes (`receiver`,
 *   `store`, `membership`, `persister`), or `unknown`
 */
const char *
tandem_plugin_kind_to_string (TandemPluginKind kind)
{
	if ((guint) kind >= G_N_ELEMENTS (kind_names))
		return "unknown";
	return kind_names[kind];
}

/**
 * tandem_plugin_kind_from_string:
 * @str: a kind name such as `receiver`
 * @kind: (out) (optional): where to store the kind
 *
 * Returns: %TRUE if @str names a kind
 */
gboolean
tandem_plugin_kind_from_string (const char *str, TandemPluginKind *kind)
{
	g_return_val_if_fail (str != NULL, FALSE);

	for (guint i = 0; i < G_N_ELEMENTS (kind_names); i++) {
		if (g_strcmp0 (str, kind_names[i]) == 0) {
			if (kind != NULL)
				*kind = (TandemPluginKind) i;
			return TRUE;
		}
	}
	return FALSE;
}

/**
 * tandem_plugin_kind_get_base_type:
 * @kind: a #TandemPluginKind
 *
 * Returns: the base class every plugin of @kind derives from, or
 *   %G_TYPE_INVALID for an unknown kind
 */
GType
tandem_plugin_kind_get_base_type (TandemPluginKind kind)
{
	switch (kind) {
	case TANDEM_PLUGIN_KIND_RECEIVER:
		return TANDEM_TYPE_RECEIVER;
	case TANDEM_PLUGIN_KIND_STORE:
		return TANDEM_TYPE_STORE;
	case TANDEM_PLUGIN_KIND_MEMBERSHIP:
		return TANDEM_TYPE_MEMBERSHIP;
	case TANDEM_PLUGIN_KIND_PERSISTER:
		return TANDEM_TYPE_PERSISTER;
	default:
		return G_TYPE_INVALID;
	}
}
