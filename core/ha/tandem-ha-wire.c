/* tandem-ha-wire.c: binary encoding of replication messages
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include "tandem-event-private.h"
#include "tandem-ha-wire.h"

void
tandem_wire_reader_init (TandemWireReader *r, const guint8 *data, gsize len)
{
	r->p = data;
	r->end = data + len;
	r->ok = TRUE;
}

static gboolean
need (TandemWireReader *r, gsize n)
{
	if (!r->ok || (gsize) (r->end - r->p) < n) {
		r->ok = FALSE;
		return FALSE;
	}
	return TRUE;
}

guint8
tandem_wire_get_u8 (TandemWireReader *r)
{
	if (!need (r, 1))
		return 0;
	return *r->p++;
}

guint32
tandem_wire_get_u32 (TandemWireReader *r)
{
	guint32 v;

	if (!need (r, 4))
		return 0;
	memcpy (&v, r->p, 4);
	r->p += 4;
	return GUINT32_FROM_LE (v);
}

guint64
tandem_wire_get_u64 (TandemWireReader *r)
{
	guint64 v;

	if (!need (r, 8))
		return 0;
	memcpy (&v, r->p, 8);
	r->p += 8;
	return GUINT64_FROM_LE (v);
}

const guint8 *
tandem_wire_get_blob (TandemWireReader *r, gsize *len)
{
	guint32 n = tandem_wire_get_u32 (r);
	const guint8 *data;

	*len = 0;
	if (!need (r, n))
		return NULL;
	data = r->p;
	r->p += n;
	*len = n;
	return data;
}

char *
tandem_wire_get_string (TandemWireReader *r)
{
	gsize len = 0;
	const guint8 *data = tandem_wire_get_blob (r, &len);

	if (data == NULL || memchr (data, '\0', len) != NULL || !g_utf8_validate ((const char *) data, len, NULL)) {
		r->ok = FALSE;
		return NULL;
	}
	return g_strndup ((const char *) data, len);
}

void
tandem_wire_put_u8 (GByteArray *b, guint8 v)
{
	g_byte_array_append (b, &v, 1);
}

void
tandem_wire_put_u32 (GByteArray *b, guint32 v)
{
	guint32 le = GUINT32_TO_LE (v);

	g_byte_array_append (b, (const guint8 *) &le, 4);
}

void
tandem_wire_put_u64 (GByteArray *b, guint64 v)
{
	guint64 le = GUINT64_TO_LE (v);

	g_byte_array_append (b, (const guint8 *) &le, 8);
}

void
tandem_wire_put_blob (GByteArray *b, const guint8 *data, gsize len)
{
	tandem_wire_put_u32 (b, (guint32) len);
	if (len > 0)
		g_byte_array_append (b, data, (guint) len);
}

void
tandem_wire_put_string (GByteArray *b, const char *s)
{
	tandem_wire_put_blob (b, (const guint8 *) (s != NULL ? s : ""), s != NULL ? strlen (s) : 0);
}

void
tandem_wire_put_event (GByteArray *b, TandemEvent *e)
{
	tandem_wire_put_u64 (b, (guint64) e->timestamp);
	tandem_wire_put_u32 (b, e->epoch);
	tandem_wire_put_u64 (b, e->seq);
	tandem_wire_put_u32 (b, e->n_values);
	g_byte_array_append (b, e->types, e->n_values);
	for (guint i = 0; i < e->n_values; i++) {
		const TandemValue *v = &e->values[i];

		if (TANDEM_VALUE_IS_NULL (e, i))
			continue;
		switch (TANDEM_VALUE_TYPE (e, i)) {
		case TANDEM_ATTRIBUTE_TYPE_INT:
			tandem_wire_put_u32 (b, (guint32) v->i);
			break;
		case TANDEM_ATTRIBUTE_TYPE_FLOAT: {
			guint32 bits;

			memcpy (&bits, &v->f, 4);
			tandem_wire_put_u32 (b, bits);
			break;
		}
		case TANDEM_ATTRIBUTE_TYPE_BOOL:
			tandem_wire_put_u8 (b, v->b ? 1 : 0);
			break;
		case TANDEM_ATTRIBUTE_TYPE_STRING:
			tandem_wire_put_string (b, v->s);
			break;
		case TANDEM_ATTRIBUTE_TYPE_LONG:
		case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		default:
			tandem_wire_put_u64 (b, (guint64) v->l);
			break;
		}
	}
}

TandemEvent *
tandem_wire_get_event (TandemWireReader *r)
{
	gint64 ts = (gint64) tandem_wire_get_u64 (r);
	guint32 epoch = tandem_wire_get_u32 (r);
	guint64 seq = tandem_wire_get_u64 (r);
	guint32 n = tandem_wire_get_u32 (r);
	TandemEvent *e;

	if (n > G_MAXUINT16 || !need (r, n))
		return NULL;
	for (guint32 i = 0; i < n; i++) {
		if ((r->p[i] & 0x0f) > TANDEM_ATTRIBUTE_TYPE_STRING || (r->p[i] & 0x70) != 0) {
			r->ok = FALSE;
			return NULL;
		}
	}
	e = tandem_event_new_typed (n, r->p, ts);
	memcpy (e->types, r->p, n);
	r->p += n;
	e->epoch = epoch;
	e->seq = seq;
	for (guint i = 0; i < n; i++) {
		TandemValue *v = &e->values[i];

		if (TANDEM_VALUE_IS_NULL (e, i))
			continue;
		switch (TANDEM_VALUE_TYPE (e, i)) {
		case TANDEM_ATTRIBUTE_TYPE_INT:
			v->i = (gint32) tandem_wire_get_u32 (r);
			break;
		case TANDEM_ATTRIBUTE_TYPE_FLOAT: {
			guint32 bits = tandem_wire_get_u32 (r);

			memcpy (&v->f, &bits, 4);
			break;
		}
		case TANDEM_ATTRIBUTE_TYPE_BOOL:
			v->b = tandem_wire_get_u8 (r) != 0;
			break;
		case TANDEM_ATTRIBUTE_TYPE_STRING: {
			g_autofree char *s = tandem_wire_get_string (r);

			v->s = s != NULL ? g_ref_string_new (s) : NULL;
			break;
		}
		case TANDEM_ATTRIBUTE_TYPE_LONG:
		case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		default:
			v->l = (gint64) tandem_wire_get_u64 (r);
			break;
		}
		if (!r->ok) {
			/* the values not read yet hold nothing to free */
			for (guint k = i; k < n; k++)
				e->types[k] |= 0x80;
			tandem_event_unref (e);
			return NULL;
		}
	}
	return e;
}
