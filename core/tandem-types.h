/* tandem-types.h: forward declarations shared by the public headers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <glib-object.h>

#include "tandem-macros.h"

G_BEGIN_DECLS

typedef struct _TandemConfig TandemConfig;
typedef struct _TandemConfigSection TandemConfigSection;
typedef struct _TandemNode TandemNode;
typedef struct _TandemPlugin TandemPlugin;
typedef struct _TandemPluginInfo TandemPluginInfo;
typedef struct _TandemPluginRegistry TandemPluginRegistry;

/**
 * TandemPluginKind:
 * @TANDEM_PLUGIN_KIND_RECEIVER: takes events in from clients (`plugins/receivers/`)
 * @TANDEM_PLUGIN_KIND_STORE: writes events and results to a record store (`plugins/stores/`)
 * @TANDEM_PLUGIN_KIND_MEMBERSHIP: finds the other nodes of the cluster (`plugins/membership/`)
 * @TANDEM_PLUGIN_KIND_PERSISTER: keeps execution-plan snapshots (`plugins/persisters/`)
 *
 * What a plugin is for.  Each kind has its base class (#TandemReceiver,
 * #TandemStore, #TandemMembership, #TandemPersister) and its config section
 * prefix (`[receiver.NAME]`, `[store.NAME]`, `[membership.NAME]`,
 * `[persister.NAME]`).
 */
typedef enum {
	TANDEM_PLUGIN_KIND_RECEIVER,
	TANDEM_PLUGIN_KIND_STORE,
	TANDEM_PLUGIN_KIND_MEMBERSHIP,
	TANDEM_PLUGIN_KIND_PERSISTER,
} TandemPluginKind;

/**
 * TandemLogLevel:
 * @TANDEM_LOG_LEVEL_WARNING: warnings and errors only
 * @TANDEM_LOG_LEVEL_MESSAGE: also the messages an operator acts on (the default)
 * @TANDEM_LOG_LEVEL_INFO: also informational messages
 * @TANDEM_LOG_LEVEL_DEBUG: everything
 *
 * How much a node logs.
 */
typedef enum {
	TANDEM_LOG_LEVEL_WARNING,
	TANDEM_LOG_LEVEL_MESSAGE,
	TANDEM_LOG_LEVEL_INFO,
	TANDEM_LOG_LEVEL_DEBUG,
} TandemLogLevel;

TANDEM_AVAILABLE_IN_ALL
const char *tandem_plugin_kind_to_string (TandemPluginKind kind);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_plugin_kind_from_string (const char *str, TandemPluginKind *kind);
TANDEM_AVAILABLE_IN_ALL
GType tandem_plugin_kind_get_base_type (TandemPluginKind kind);

G_END_DECLS
