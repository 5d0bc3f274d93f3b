/* tandem-plan.h: execution plans in the SiddhiQL dialect
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <glib-object.h>

#include "tandem-event.h"
#include "tandem-stream-definition.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_PLAN (tandem_plan_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (TandemPlan, tandem_plan, TANDEM, PLAN, GObject)

/**
 * TandemPlanOutputFunc:
 * @plan: the plan
 * @query: the name of the query that emitted the event (`@info(name=...)`,
 *   or `query1`, `query2`... in plan order)
 * @stream: the stream the query inserts into
 * @kind: whether the query emitted it as a current or an expired event
 * @event: the event (borrowed: ref it to keep it)
 * @user_data: the data given to tandem_plan_set_output_func()
 *
 * Called for every event a query inserts into a stream, in the order the
 * plan produces them, before tandem_plan_send() returns.
 */
typedef void (*TandemPlanOutputFunc) (TandemPlan *plan,
				      const char *query,
				      const char *stream,
				      TandemEventKind kind,
				      TandemEvent *event,
				      gpointer user_data);

TANDEM_AVAILABLE_IN_ALL
TandemPlan *tandem_plan_new (const char *text, gssize length, GError **error);
TANDEM_AVAILABLE_IN_ALL
TandemPlan *tandem_plan_new_with_streams (const char *text,
					  gssize length,
					  GPtrArray *streams,
					  GError **error);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_plan_get_name (TandemPlan *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_plan_get_description (TandemPlan *self);
TANDEM_AVAILABLE_IN_ALL
TandemStreamDefinition *tandem_plan_lookup_stream (TandemPlan *self, const char *name);
TANDEM_AVAILABLE_IN_ALL
GPtrArray *tandem_plan_get_streams (TandemPlan *self);
TANDEM_AVAILABLE_IN_ALL
GStrv tandem_plan_dup_input_streams (TandemPlan *self);
TANDEM_AVAILABLE_IN_ALL
GStrv tandem_plan_dup_query_names (TandemPlan *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_plan_set_output_func (TandemPlan *self,
				  TandemPlanOutputFunc func,
				  gpointer user_data,
				  GDestroyNotify destroy);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_plan_send (TandemPlan *self, const char *stream, TandemEvent *event, GError **error);
TANDEM_AVAILABLE_IN_ALL
void tandem_plan_advance_time (TandemPlan *self, gint64 timestamp);
TANDEM_AVAILABLE_IN_ALL
gint64 tandem_plan_get_clock (TandemPlan *self);
TANDEM_AVAILABLE_IN_ALL
GBytes *tandem_plan_snapshot (TandemPlan *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_plan_restore (TandemPlan *self, GBytes *snapshot, GError **error);

G_END_DECLS
