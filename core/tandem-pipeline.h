/* tandem-pipeline.h: the node's sequenced ingest and its engine thread (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "tandem-config.h"
#include "tandem-event.h"
#include "tandem-plan.h"

G_BEGIN_DECLS

typedef struct _TandemPipeline TandemPipeline;

typedef void (*TandemPipelinePressureFunc) (gboolean full, gpointer user_data);

TandemPipeline *tandem_pipeline_new (void);
void tandem_pipeline_free (TandemPipeline *self);
void tandem_pipeline_configure (TandemPipeline *self, TandemConfigSection *section, GString *errors);
gboolean tandem_pipeline_start (TandemPipeline *self,
				GPtrArray *stores,
				TandemPipelinePressureFunc pressure,
				gpointer user_data,
				GError **error);
void tandem_pipeline_stop (TandemPipeline *self);
gboolean tandem_pipeline_open_sequence (TandemPipeline *self, const char *state_dir, GError **error);
TandemStreamDefinition *tandem_pipeline_lookup_stream (TandemPipeline *self, const char *name);
GPtrArray *tandem_pipeline_get_plans (TandemPipeline *self);
gboolean tandem_pipeline_is_accepting (TandemPipeline *self);
void tandem_pipeline_set_publish_until (TandemPipeline *self, gint64 until_us);
guint32 tandem_pipeline_get_incarnation (TandemPipeline *self);
gboolean tandem_pipeline_ingest (TandemPipeline *self,
				 const char *stream,
				 GPtrArray *events,
				 const char *const *event_ids,
				 const char *idempotency_key,
				 guint64 *first_seq,
				 guint *n_new,
				 GError **error);
guint64 tandem_pipeline_get_processed (TandemPipeline *self);
guint64 tandem_pipeline_get_last_seq (TandemPipeline *self);
void tandem_pipeline_wait_idle (TandemPipeline *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemPipeline, tandem_pipeline_free)

G_END_DECLS
