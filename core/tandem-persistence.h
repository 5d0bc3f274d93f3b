/* tandem-persistence.h: snapshots of the node's plans to its persisters (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tandem-config.h"
#include "tandem-pipeline.h"
#include "tandem-types.h"

G_BEGIN_DECLS

typedef struct _TandemPersistence TandemPersistence;

/* Whether the node may persist now (it is the active, or standalone) */
typedef gboolean (*TandemPersistenceActiveFunc) (gpointer user_data);

TandemPersistence *tandem_persistence_new (TandemNode *node,
					   TandemPipeline *pipeline,
					   TandemPersistenceActiveFunc active,
					   gpointer user_data);
void tandem_persistence_free (TandemPersistence *self);
void tandem_persistence_configure (TandemPersistence *self,
				   TandemConfigSection *section,
				   GString *errors);
void tandem_persistence_restore (TandemPersistence *self);
void tandem_persistence_start (TandemPersistence *self);
void tandem_persistence_stop (TandemPersistence *self);
void tandem_persistence_persist_async (TandemPersistence *self,
				       gpointer source_object,
				       GCancellable *cancellable,
				       GAsyncReadyCallback callback,
				       gpointer user_data);
gboolean tandem_persistence_persist_finish (GAsyncResult *result, guint64 *seq, GError **error);
void tandem_persistence_add_status (TandemPersistence *self, JsonBuilder *builder);

G_END_DECLS
