/* tandem-store.h: base class of record store plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <gio/gio.h>

#include "tandem-plugin.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_STORE (tandem_store_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (TandemStore, tandem_store, TANDEM, STORE, TandemPlugin)

/**
 * TandemStoreClass:
 * @parent_class: the parent class
 * @flush: writes everything queued so far and returns when it is committed.
 *   Called before stop and whenever the node needs a durable point.
 *
 * Stores write raw events (the `EVENT_STORE`) and plan outputs (the
 * `PROCESSED_DATA_STORE`) to a database.  Only the active node writes.
 */
struct _TandemStoreClass {
	TandemPluginClass parent_class;

	gboolean (*flush) (TandemStore *self, GCancellable *cancellable, GError **error);

	/*< private >*/
	gpointer padding[15];
};

TANDEM_AVAILABLE_IN_ALL
gboolean tandem_store_flush (TandemStore *self, GCancellable *cancellable, GError **error);

G_END_DECLS
