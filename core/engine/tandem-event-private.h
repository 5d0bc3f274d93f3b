/* tandem-event-private.h: the layout of TandemEvent, for the engine's hot path
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "tandem-event.h"

G_BEGIN_DECLS

typedef union {
	gint32 i;
	gint64 l;
	float f;
	double d;
	gboolean b;
	char *s; /* a GRefString, or NULL */
} TandemValue;

#define TANDEM_VALUE_NULL 0x80 /* bit of types[] marking a null value */
#define TANDEM_VALUE_TYPE(e, i) ((TandemAttributeType) ((e)->types[i] & 0x0f))
#define TANDEM_VALUE_IS_NULL(e, i) (((e)->types[i] & TANDEM_VALUE_NULL) != 0)

struct _TandemEvent {
	gint ref_count;
	guint32 epoch;
	guint16 n_values;
	guint16 flags;
	gint64 timestamp;
	guint64 seq;
	guint8 *types; /* n_values bytes after values[] */
	TandemValue values[];
};

TandemEvent *tandem_event_new_typed (guint n_values, const guint8 *types, gint64 timestamp);
const guint8 *tandem_stream_definition_get_types (TandemStreamDefinition *self);

G_END_DECLS
