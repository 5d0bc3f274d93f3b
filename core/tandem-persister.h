/* tandem-persister.h: base class of snapshot persister plugins
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

#define TANDEM_TYPE_PERSISTER (tandem_persister_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (TandemPersister, tandem_persister, TANDEM, PERSISTER, TandemPlugin)

/**
 * TandemPersisterClass:
 * @parent_class: the parent class
 * @save: keeps @snapshot (an execution-plan snapshot in the core's checksummed
 *   format) for @plan of @tenant durably before returning, then applies the
 *   retention policy.  Runs on a worker thread: it may block.
 * @load_latest: returns the newest snapshot of @plan of @tenant whose header
 *   and checksum are valid, skipping damaged ones, or %NULL without error when
 *   there is none.  Runs on a worker thread: it may block.
 *
 * Persisters keep execution-plan snapshots so that a whole-cluster restart
 * loses nothing.
 */
struct _TandemPersisterClass {
	TandemPluginClass parent_class;

	gboolean (*save) (TandemPersister *self,
			  const char *tenant,
			  const char *plan,
			  GBytes *snapshot,
			  GError **error);
	GBytes *(*load_latest) (TandemPersister *self,
				const char *tenant,
				const char *plan,
				GError **error);

	/*< private >*/
	gpointer padding[14];
};

TANDEM_AVAILABLE_IN_ALL
gboolean tandem_persister_save (TandemPersister *self,
				const char *tenant,
				const char *plan,
				GBytes *snapshot,
				GError **error);
TANDEM_AVAILABLE_IN_ALL
GBytes *tandem_persister_load_latest (TandemPersister *self,
				      const char *tenant,
				      const char *plan,
				      GError **error);

G_END_DECLS
