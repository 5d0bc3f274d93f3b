/* tandem-event.h: compact, reference-counted, typed events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <glib-object.h>

#include "tandem-stream-definition.h"

G_BEGIN_DECLS

/**
 * TandemEvent:
 *
 * One event: its typed attribute values (no #GValue per attribute), its event
 * time (milliseconds since the Unix epoch, from the event, never from the
 * clock of the node that processes it) and its cluster identity
 * `(epoch, seq)`, set once at ingest.
 *
 * Events are reference counted and immutable once shared: set the values of
 * a new event, then hand it on.
 */
typedef struct _TandemEvent TandemEvent;

/**
 * TandemEventKind:
 * @TANDEM_EVENT_KIND_CURRENT: a current event (arrived, or the result of one)
 * @TANDEM_EVENT_KIND_EXPIRED: an expired event (left a window, or the result of one)
 *
 * Whether a query emitted an event for a current or an expired event, as in
 * Siddhi's `insert [current|expired|all] events into`.
 */
typedef enum {
	TANDEM_EVENT_KIND_CURRENT,
	TANDEM_EVENT_KIND_EXPIRED,
} TandemEventKind;

#define TANDEM_TYPE_EVENT (tandem_event_get_type ())
TANDEM_AVAILABLE_IN_ALL
GType tandem_event_get_type (void) G_GNUC_CONST;

TANDEM_AVAILABLE_IN_ALL
TandemEvent *tandem_event_new (TandemStreamDefinition *definition, gint64 timestamp);
TANDEM_AVAILABLE_IN_ALL
TandemEvent *tandem_event_ref (TandemEvent *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_unref (TandemEvent *self);
TANDEM_AVAILABLE_IN_ALL
TandemEvent *tandem_event_copy (TandemEvent *self);

TANDEM_AVAILABLE_IN_ALL
gint64 tandem_event_get_timestamp (TandemEvent *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_timestamp (TandemEvent *self, gint64 timestamp);
TANDEM_AVAILABLE_IN_ALL
guint32 tandem_event_get_epoch (TandemEvent *self);
TANDEM_AVAILABLE_IN_ALL
guint64 tandem_event_get_seq (TandemEvent *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_identity (TandemEvent *self, guint32 epoch, guint64 seq);

TANDEM_AVAILABLE_IN_ALL
guint tandem_event_get_n_values (TandemEvent *self);
TANDEM_AVAILABLE_IN_ALL
TandemAttributeType tandem_event_get_value_type (TandemEvent *self, guint index);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_event_is_null (TandemEvent *self, guint index);
TANDEM_AVAILABLE_IN_ALL
gint32 tandem_event_get_int (TandemEvent *self, guint index);
TANDEM_AVAILABLE_IN_ALL
gint64 tandem_event_get_long (TandemEvent *self, guint index);
TANDEM_AVAILABLE_IN_ALL
float tandem_event_get_float (TandemEvent *self, guint index);
TANDEM_AVAILABLE_IN_ALL
double tandem_event_get_double (TandemEvent *self, guint index);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_event_get_bool (TandemEvent *self, guint index);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_event_get_string (TandemEvent *self, guint index);

TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_null (TandemEvent *self, guint index);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_int (TandemEvent *self, guint index, gint32 value);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_long (TandemEvent *self, guint index, gint64 value);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_float (TandemEvent *self, guint index, float value);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_double (TandemEvent *self, guint index, double value);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_bool (TandemEvent *self, guint index, gboolean value);
TANDEM_AVAILABLE_IN_ALL
void tandem_event_set_string (TandemEvent *self, guint index, const char *value);

TANDEM_AVAILABLE_IN_ALL
gboolean tandem_event_equal (TandemEvent *a, TandemEvent *b);
TANDEM_AVAILABLE_IN_ALL
char *tandem_event_values_to_json (TandemEvent *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemEvent, tandem_event_unref)

G_END_DECLS
