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

/* sequence numbers reserved on disk at a time */
#define TANDEM_SEQUENCE_BLOCK 100000

typedef void (*TandemPipelinePressureFunc) (gboolean full, gpointer user_data);
/* HA: a batch was accepted: @events carry their identity; @event_ids has
 * one entry per event ("" for none) */
typedef void (*TandemPipelineReplicateFunc) (const char *stream,
					     GPtrArray *events,
					     const char *const *event_ids,
					     const char *idempotency_key,
					     gpointer user_data);

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
void tandem_pipeline_set_release_seq (TandemPipeline *self, guint64 seq);
void tandem_pipeline_discard_through (TandemPipeline *self, guint64 seq);
guint64 tandem_pipeline_get_published_seq (TandemPipeline *self);
guint64 tandem_pipeline_wait_published (TandemPipeline *self, guint64 after, gint64 end_time);
void tandem_pipeline_wake_published (TandemPipeline *self);
void tandem_pipeline_set_replicator (TandemPipeline *self, TandemPipelineReplicateFunc func, gpointer data);
guint64 tandem_pipeline_get_next_seq (TandemPipeline *self);
void tandem_pipeline_restore_async (TandemPipeline *self,
				    GPtrArray *states,
				    GAsyncReadyCallback callback,
				    gpointer user_data);
gboolean tandem_pipeline_restore_finish (TandemPipeline *self, GAsyncResult *result, GError **error);
guint64 tandem_pipeline_get_reserved_seq (TandemPipeline *self);
gboolean tandem_pipeline_continue_after (TandemPipeline *self, guint64 seq, GError **error);
void tandem_pipeline_set_epoch (TandemPipeline *self, guint32 epoch);
gboolean tandem_pipeline_apply (TandemPipeline *self,
				guint64 prev_seq,
				const char *stream,
				GPtrArray *events,
				const char *const *event_ids,
				const char *idempotency_key,
				GError **error);
void tandem_pipeline_get_backlog (TandemPipeline *self, guint *queued, guint64 *held);
typedef void (*TandemPipelineRememberedFunc) (const char *key,
					      guint64 first_seq,
					      guint n,
					      gint64 remaining_us,
					      gpointer user_data);
void tandem_pipeline_foreach_remembered (TandemPipeline *self, TandemPipelineRememberedFunc func, gpointer user_data);
void tandem_pipeline_remember (TandemPipeline *self, const char *key, guint64 first_seq, guint n, gint64 remaining_us);
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

/* Persistence and state sync: the state of the plans at one seq (see the
 * end of tandem-pipeline.c) */
typedef struct {
	char *plan;
	guint64 seq;   /* the last input seq the state includes (0: none) */
	GBytes *state; /* tandem_plan_snapshot() */
} TandemPipelineState;

TandemPipelineState *tandem_pipeline_state_new (const char *plan, guint64 seq, GBytes *state);
void tandem_pipeline_state_free (TandemPipelineState *state);
guint64 tandem_pipeline_get_processed_seq (TandemPipeline *self);
void tandem_pipeline_snapshot_async (TandemPipeline *self,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data);
GPtrArray *tandem_pipeline_snapshot_finish (GAsyncResult *result, guint64 *seq, GError **error);
GPtrArray *tandem_pipeline_snapshot (TandemPipeline *self, guint64 *seq, GError **error);
gboolean tandem_pipeline_restore (TandemPipeline *self, GPtrArray *states, GError **error);
gboolean tandem_pipeline_replay (TandemPipeline *self,
				 const char *stream,
				 GPtrArray *events,
				 GPtrArray *restored,
				 GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemPipeline, tandem_pipeline_free)

G_END_DECLS
