/* tandem-plugin-registry.h: finds, checks and loads plugin modules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <glib-object.h>

#include "tandem-types.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_PLUGIN_INFO (tandem_plugin_info_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (TandemPluginInfo, tandem_plugin_info, TANDEM, PLUGIN_INFO, GObject)

#define TANDEM_TYPE_PLUGIN_REGISTRY (tandem_plugin_registry_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (TandemPluginRegistry, tandem_plugin_registry, TANDEM, PLUGIN_REGISTRY, GObject)

TANDEM_AVAILABLE_IN_ALL
const char *tandem_plugin_info_get_name (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
TandemPluginKind tandem_plugin_info_get_kind (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_plugin_info_get_version (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_plugin_info_get_license (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_plugin_info_get_description (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_plugin_info_get_filename (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
guint tandem_plugin_info_get_abi_major (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
guint tandem_plugin_info_get_abi_minor (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_plugin_info_is_usable (TandemPluginInfo *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_plugin_info_check (TandemPluginInfo *self, GError **error);

TANDEM_AVAILABLE_IN_ALL
TandemPluginRegistry *tandem_plugin_registry_new (void);
TANDEM_AVAILABLE_IN_ALL
void tandem_plugin_registry_set_search_path (TandemPluginRegistry *self, const char *const *dirs);
TANDEM_AVAILABLE_IN_ALL
const char *const *tandem_plugin_registry_get_search_path (TandemPluginRegistry *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_plugin_registry_scan (TandemPluginRegistry *self);
TANDEM_AVAILABLE_IN_ALL
GPtrArray *tandem_plugin_registry_get_plugins (TandemPluginRegistry *self);
TANDEM_AVAILABLE_IN_ALL
TandemPluginInfo *tandem_plugin_registry_lookup (TandemPluginRegistry *self,
						 const char *name,
						 GError **error);
TANDEM_AVAILABLE_IN_ALL
TandemPlugin *tandem_plugin_registry_create (TandemPluginRegistry *self,
					     const char *plugin_name,
					     TandemPluginKind kind,
					     const char *instance_name,
					     TandemNode *node,
					     GError **error);

G_END_DECLS
