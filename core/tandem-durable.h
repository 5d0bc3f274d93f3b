/* tandem-durable.h: acknowledgements that wait for the event store (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

#include "tandem-pipeline.h"

G_BEGIN_DECLS

typedef struct _TandemDurable TandemDurable;

/* @stores: the stores that keep raw events (each is flushed); a waiter
 * not answered within @timeout_ms fails with TANDEM_ERROR_TIMED_OUT */
TandemDurable *tandem_durable_new (TandemPipeline *pipeline, GPtrArray *stores, guint timeout_ms);
/* Fails what still waits with TANDEM_ERROR_BUSY and stops the thread */
void tandem_durable_free (TandemDurable *self);
/* Main thread: @task returns TRUE once the events up to @last_seq are
 * committed by every event store, or an error (see tandem-durable.c) */
void tandem_durable_wait (TandemDurable *self, guint64 last_seq, GTask *task);
/* Main thread: fails every waiting task with a copy of @error */
void tandem_durable_fail_waiting (TandemDurable *self, const GError *error);
/* Everything up to the result is committed by the event stores */
guint64 tandem_durable_get_seq (TandemDurable *self);
guint tandem_durable_get_n_waiting (TandemDurable *self);
guint64 tandem_durable_get_n_commits (TandemDurable *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemDurable, tandem_durable_free)

G_END_DECLS
