/* tandem-plugin.h: the base class of every plugin, and the module descriptor
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <glib-object.h>

#include "tandem-types.h"
#include "tandem-version.h"

G_BEGIN_DECLS

/**
 * TANDEM_PARAM_CONFIG:
 *
 * A #GParamFlags bit for plugin properties: the property is a config key of the
 * plugin's section.  The key is the property name with `-` written as `_`
 * (property `max-connections` is key `max_connections`).  The core converts and
 * checks the value against the #GParamSpec (type, range, enum nicks) and names
 * file and line when it is wrong.
 */
#define TANDEM_PARAM_CONFIG 256

/**
 * TANDEM_PARAM_SECRET:
 *
 * A #GParamFlags bit for config properties whose value is a secret: it is never
 * logged and `tandemd --print-config` masks it.
 */
#define TANDEM_PARAM_SECRET 512

#define TANDEM_TYPE_PLUGIN (tandem_plugin_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (TandemPlugin, tandem_plugin, TANDEM, PLUGIN, GObject)

/**
 * TandemPluginClass:
 * @parent_class: the parent class
 * @setup: reads the plugin's config section.  The core has already applied
 *   every %TANDEM_PARAM_CONFIG property from it; @setup checks what depends on
 *   several keys and reads keys that are not properties (mark them with
 *   tandem_config_section_mark_used()).  It must not open sockets or files
 *   that others see: that is @start's job.  `tandemd --check-config` calls it.
 * @start: starts serving (binds sockets, opens connections, starts threads).
 *   Called once, after @setup, in the node's start order.
 * @stop: stops serving and releases what @start took.  Called once for a
 *   started plugin, in reverse start order; must not block for long.
 *
 * The lifecycle of a plugin: setup from config, start, stop.  Every step
 * may fail with a #GError that says why.
 */
struct _TandemPluginClass {
	GObjectClass parent_class;

	gboolean (*setup) (TandemPlugin *self, TandemConfigSection *section, GError **error);
	gboolean (*start) (TandemPlugin *self, GError **error);
	gboolean (*stop) (TandemPlugin *self, GError **error);

	/*< private >*/
	gpointer padding[12];
};

/**
 * TandemPluginState:
 * @TANDEM_PLUGIN_STATE_NEW: created, not yet set up
 * @TANDEM_PLUGIN_STATE_CONFIGURED: set up from its config section
 * @TANDEM_PLUGIN_STATE_STARTED: running
 * @TANDEM_PLUGIN_STATE_STOPPED: stopped (it cannot be started again)
 * @TANDEM_PLUGIN_STATE_FAILED: a lifecycle step failed
 *
 * Where a plugin instance is in its lifecycle.
 */
typedef enum {
	TANDEM_PLUGIN_STATE_NEW,
	TANDEM_PLUGIN_STATE_CONFIGURED,
	TANDEM_PLUGIN_STATE_STARTED,
	TANDEM_PLUGIN_STATE_STOPPED,
	TANDEM_PLUGIN_STATE_FAILED,
} TandemPluginState;

TANDEM_AVAILABLE_IN_ALL
const char *tandem_plugin_get_name (TandemPlugin *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_plugin_get_plugin_name (TandemPlugin *self);
TANDEM_AVAILABLE_IN_ALL
TandemPluginKind tandem_plugin_get_kind (TandemPlugin *self);
TANDEM_AVAILABLE_IN_ALL
TandemNode *tandem_plugin_get_node (TandemPlugin *self);
TANDEM_AVAILABLE_IN_ALL
TandemPluginState tandem_plugin_get_state (TandemPlugin *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_plugin_setup (TandemPlugin *self, TandemConfigSection *section, GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_plugin_start (TandemPlugin *self, GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_plugin_stop (TandemPlugin *self, GError **error);

/**
 * TandemPluginRegisterFunc: (skip)
 * @module: the #GTypeModule of the plugin file
 *
 * Registers the plugin's types into @module, normally by calling the
 * `*_register_type()` functions that G_DEFINE_DYNAMIC_TYPE() generates.
 *
 * Returns: the #GType of the plugin class, derived from the base class of the
 *   plugin's kind
 */
typedef GType (*TandemPluginRegisterFunc) (GTypeModule *module);

/**
 * TandemPluginDescriptor: (skip)
 * @abi_major: %TANDEM_PLUGIN_ABI_MAJOR at build time
 * @abi_minor: %TANDEM_PLUGIN_ABI_MINOR at build time
 * @struct_size: sizeof (TandemPluginDescriptor) at build time
 * @kind: what the plugin is for
 * @name: the unique plugin name used by `plugin = NAME` in config: lower-case
 *   letters, digits and `-`, starting with a letter
 * @version: the plugin's own version
 * @license: an SPDX license expression
 * @description: one line saying what it does
 * @register_types: registers the plugin's types
 *
 * What a plugin module tells the loader about itself.  Never fill it by hand:
 * use TANDEM_PLUGIN_DEFINE(), which also exports the entry point.  The ABI
 * fields come first so that any future layout can still be checked.
 */
typedef struct {
	guint32 abi_major;
	guint32 abi_minor;
	guint32 struct_size;
	TandemPluginKind kind;
	const char *name;
	const char *version;
	const char *license;
	const char *description;
	TandemPluginRegisterFunc register_types;
	/*< private >*/
	gpointer reserved[8];
} TandemPluginDescriptor;

/**
 * TANDEM_PLUGIN_ENTRY_POINT:
 *
 * The name of the symbol every plugin module exports: a function without
 * arguments returning a `const TandemPluginDescriptor *`.
 */
#define TANDEM_PLUGIN_ENTRY_POINT "tandem_plugin_describe"

/**
 * TANDEM_PLUGIN_DEFINE:
 * @Name: the plugin name (a string literal)
 * @Kind: a #TandemPluginKind
 * @Version: the plugin version (a string literal)
 * @License: an SPDX license expression (a string literal)
 * @Description: one line (a string literal)
 * @RegisterFunc: a #TandemPluginRegisterFunc
 *
 * Defines and exports the entry point of a plugin module.  Use it once, at
 * file scope, in one source file of the plugin.
 */
#define TANDEM_PLUGIN_DEFINE(Name, Kind, Version, License, Description, RegisterFunc)              \
	TANDEM_PLUGIN_EXPORT const TandemPluginDescriptor *tandem_plugin_describe (void);          \
	const TandemPluginDescriptor *tandem_plugin_describe (void)                                \
	{                                                                                          \
		static const TandemPluginDescriptor descriptor = {                                 \
			TANDEM_PLUGIN_ABI_MAJOR,                                                   \
			TANDEM_PLUGIN_ABI_MINOR,                                                   \
			sizeof (TandemPluginDescriptor),                                           \
			(Kind),                                                                    \
			(Name),                                                                    \
			(Version),                                                                 \
			(License),                                                                 \
			(Description),                                                             \
			(RegisterFunc),                                                            \
			{ NULL },                                                                  \
		};                                                                                 \
		return &descriptor;                                                                \
	}

G_END_DECLS
