/* tandem-ha-wire.h: binary encoding of replication messages (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

#include "tandem-event.h"

G_BEGIN_DECLS

/* Little-endian writer and bounds-checked reader.  A reader that runs out
 * of bytes or meets a bad value sets ok to FALSE and returns zeros from
 * then on. */
typedef struct {
	const guint8 *p;
	const guint8 *end;
	gboolean ok;
} TandemWireReader;

void tandem_wire_reader_init (TandemWireReader *r, const guint8 *data, gsize len);
guint8 tandem_wire_get_u8 (TandemWireReader *r);
guint32 tandem_wire_get_u32 (TandemWireReader *r);
guint64 tandem_wire_get_u64 (TandemWireReader *r);
/* a u32 length and the bytes, as a new string (no NUL inside) or NULL */
char *tandem_wire_get_string (TandemWireReader *r);
/* a u32 length and the bytes, borrowed; *len receives the length */
const guint8 *tandem_wire_get_blob (TandemWireReader *r, gsize *len);
/* an event as tandem_wire_put_event() wrote it, or NULL */
TandemEvent *tandem_wire_get_event (TandemWireReader *r);

void tandem_wire_put_u8 (GByteArray *b, guint8 v);
void tandem_wire_put_u32 (GByteArray *b, guint32 v);
void tandem_wire_put_u64 (GByteArray *b, guint64 v);
void tandem_wire_put_string (GByteArray *b, const char *s);
void tandem_wire_put_blob (GByteArray *b, const guint8 *data, gsize len);
/* timestamp, epoch, seq, types and values */
void tandem_wire_put_event (GByteArray *b, TandemEvent *e);

G_END_DECLS
