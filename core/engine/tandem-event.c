/* tandem-event.c: compact, reference-counted, typed events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "tandem-event-private.h"
#include "tandem-json.h"

G_DEFINE_BOXED_TYPE (TandemEvent, tandem_event, tandem_event_ref, tandem_event_unref)

/* One allocation per event: header, values, then one type byte per value. */
TandemEvent *
tandem_event_new_typed (guint n_values, const guint8 *types, gint64 timestamp)
{
	TandemEvent *self;

	g_return_val_if_fail (n_values <= G_MAXUINT16, NULL);

	self = g_malloc0 (sizeof (TandemEvent) + n_values * (sizeof (TandemValue) + 1));
	self->ref_count = 1;
	self->n_values = (guint16) n_values;
	self->timestamp = timestamp;
	self->types = (guint8 *) &self->values[n_values];
	for (guint i = 0; i < n_values; i++)
		self->types[i] = (types[i] & 0x0f) | TANDEM_VALUE_NULL;
	return self;
}

/**
 * tandem_event_new:
 * @definition: the stream the event belongs to
 * @timestamp: the event time, in milliseconds since the Unix epoch
 *
 * Creates an event with one value per attribute of @definition, typed as the
 * attributes are, every value null.
 *
 * Returns: (transfer full): the new event
 */
TandemEvent *
tandem_event_new (TandemStreamDefinition *definition, gint64 timestamp)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (definition), NULL);

	return tandem_event_new_typed (tandem_stream_definition_get_n_attributes (definition),
				       tandem_stream_definition_get_types (definition), timestamp);
}

/**
 * tandem_event_ref:
 * @self: a #TandemEvent
 *
 * Returns: (transfer full): @self
 */
TandemEvent *
tandem_event_ref (TandemEvent *self)
{
	g_return_val_if_fail (self != NULL, NULL);
	g_atomic_int_inc (&self->ref_count);
	return self;
}

/**
 * tandem_event_unref:
 * @self: (transfer full): a #TandemEvent
 *
 * Drops a reference; the last one frees the event.
 */
void
tandem_event_unref (TandemEvent *self)
{
	g_return_if_fail (self != NULL);

	if (!g_atomic_int_dec_and_test (&self->ref_count))
		return;
	for (guint i = 0; i < self->n_values; i++) {
		if (TANDEM_VALUE_TYPE (self, i) == TANDEM_ATTRIBUTE_TYPE_STRING && self->values[i].s != NULL)
			g_ref_string_release (self->values[i].s);
	}
	g_free (self);
}

/**
 * tandem_event_copy:
 * @self: a #TandemEvent
 *
 * Returns: (transfer full): a new event with the same values, time and identity
 */
TandemEvent *
tandem_event_copy (TandemEvent *self)
{
	TandemEvent *copy;

	g_return_val_if_fail (self != NULL, NULL);

	copy = tandem_event_new_typed (self->n_values, self->types, self->timestamp);
	copy->epoch = self->epoch;
	copy->seq = self->seq;
	memcpy (copy->types, self->types, self->n_values);
	for (guint i = 0; i < self->n_values; i++) {
		copy->values[i] = self->values[i];
		if (TANDEM_VALUE_TYPE (self, i) == TANDEM_ATTRIBUTE_TYPE_STRING && self->values[i].s != NULL)
			g_ref_string_acquire (self->values[i].s);
	}
	return copy;
}

/**
 * tandem_event_get_timestamp:
 * @self: a #TandemEvent
 *
 * Returns: the event time, in milliseconds since the Unix epoch
 */
gint64
tandem_event_get_timestamp (TandemEvent *self)
{
	g_return_val_if_fail (self != NULL, 0);
	return self->timestamp;
}

/**
 * tandem_event_set_timestamp:
 * @self: a #TandemEvent
 * @timestamp: the event time, in milliseconds since the Unix epoch
 *
 * Sets the event time.
 */
void
tandem_event_set_timestamp (TandemEvent *self, gint64 timestamp)
{
	g_return_if_fail (self != NULL);
	self->timestamp = timestamp;
}

/**
 * tandem_event_get_epoch:
 * @self: a #TandemEvent
 *
 * Returns: the cluster epoch in which the event was accepted (0 if never)
 */
guint32
tandem_event_get_epoch (TandemEvent *self)
{
	g_return_val_if_fail (self != NULL, 0);
	return self->epoch;
}

/**
 * tandem_event_get_seq:
 * @self: a #TandemEvent
 *
 * Returns: the cluster sequence number of the event (0 if never accepted)
 */
guint64
tandem_event_get_seq (TandemEvent *self)
{
	g_return_val_if_fail (self != NULL, 0);
	return self->seq;
}

/**
 * tandem_event_set_identity:
 * @self: a #TandemEvent
 * @epoch: the cluster epoch
 * @seq: the cluster sequence number
 *
 * Sets the cluster identity, once, at ingest.
 */
void
tandem_event_set_identity (TandemEvent *self, guint32 epoch, guint64 seq)
{
	g_return_if_fail (self != NULL);
	self->epoch = epoch;
	self->seq = seq;
}

/**
 * tandem_event_get_n_values:
 * @self: a #TandemEvent
 *
 * Returns: the number of values
 */
guint
tandem_event_get_n_values (TandemEvent *self)
{
	g_return_val_if_fail (self != NULL, 0);
	return self->n_values;
}

/**
 * tandem_event_get_value_type:
 * @self: a #TandemEvent
 * @index: a value index
 *
 * Returns: the type of value @index
 */
TandemAttributeType
tandem_event_get_value_type (TandemEvent *self, guint index)
{
	g_return_val_if_fail (self != NULL && index < self->n_values, TANDEM_ATTRIBUTE_TYPE_INT);
	return TANDEM_VALUE_TYPE (self, index);
}

/**
 * tandem_event_is_null:
 * @self: a #TandemEvent
 * @index: a value index
 *
 * Returns: %TRUE if value @index is null
 */
gboolean
tandem_event_is_null (TandemEvent *self, guint index)
{
	g_return_val_if_fail (self != NULL && index < self->n_values, TRUE);
	return TANDEM_VALUE_IS_NULL (self, index);
}

#define CHECK_GET(type, fallback)                                                                  \
	g_return_val_if_fail (self != NULL && index < self->n_values, fallback);                   \
	g_return_val_if_fail (TANDEM_VALUE_TYPE (self, index) == (type), fallback)

/**
 * tandem_event_get_int:
 * @self: a #TandemEvent
 * @index: the index of an `int` value
 *
 * Returns: the value (0 when null)
 */
gint32
tandem_event_get_int (TandemEvent *self, guint index)
{
	CHECK_GET (TANDEM_ATTRIBUTE_TYPE_INT, 0);
	return TANDEM_VALUE_IS_NULL (self, index) ? 0 : self->values[index].i;
}

/**
 * tandem_event_get_long:
 * @self: a #TandemEvent
 * @index: the index of a `long` value
 *
 * Returns: the value (0 when null)
 */
gint64
tandem_event_get_long (TandemEvent *self, guint index)
{
	CHECK_GET (TANDEM_ATTRIBUTE_TYPE_LONG, 0);
	return TANDEM_VALUE_IS_NULL (self, index) ? 0 : self->values[index].l;
}

/**
 * tandem_event_get_float:
 * @self: a #TandemEvent
 * @index: the index of a `float` value
 *
 * Returns: the value (0 when null)
 */
float
tandem_event_get_float (TandemEvent *self, guint index)
{
	CHECK_GET (TANDEM_ATTRIBUTE_TYPE_FLOAT, 0.0f);
	return TANDEM_VALUE_IS_NULL (self, index) ? 0.0f : self->values[index].f;
}

/**
 * tandem_event_get_double:
 * @self: a #TandemEvent
 * @index: the index of a `double` value
 *
 * Returns: the value (0 when null)
 */
double
tandem_event_get_double (TandemEvent *self, guint index)
{
	CHECK_GET (TANDEM_ATTRIBUTE_TYPE_DOUBLE, 0.0);
	return TANDEM_VALUE_IS_NULL (self, index) ? 0.0 : self->values[index].d;
}

/**
 * tandem_event_get_bool:
 * @self: a #TandemEvent
 * @index: the index of a `bool` value
 *
 * Returns: the value (%FALSE when null)
 */
gboolean
tandem_event_get_bool (TandemEvent *self, guint index)
{
	CHECK_GET (TANDEM_ATTRIBUTE_TYPE_BOOL, FALSE);
	return TANDEM_VALUE_IS_NULL (self, index) ? FALSE : self->values[index].b;
}

/**
 * tandem_event_get_string:
 * @self: a #TandemEvent
 * @index: the index of a `string` value
 *
 * Returns: (nullable): the value, or %NULL when null
 */
const char *
tandem_event_get_string (TandemEvent *self, guint index)
{
	CHECK_GET (TANDEM_ATTRIBUTE_TYPE_STRING, NULL);
	return TANDEM_VALUE_IS_NULL (self, index) ? NULL : self->values[index].s;
}

static void
clear_value (TandemEvent *self, guint index)
{
	if (TANDEM_VALUE_TYPE (self, index) == TANDEM_ATTRIBUTE_TYPE_STRING && self->values[index].s != NULL)
		g_ref_string_release (self->values[index].s);
	self->values[index].l = 0;
}

#define CHECK_SET(type)                                                                            \
	g_return_if_fail (self != NULL && index < self->n_values);                                 \
	g_return_if_fail (TANDEM_VALUE_TYPE (self, index) == (type));                              \
	clear_value (self, index);                                                                 \
	self->types[index] = (guint8) (type)

/**
 * tandem_event_set_null:
 * @self: a #TandemEvent
 * @index: a value index
 *
 * Makes value @index null.
 */
void
tandem_event_set_null (TandemEvent *self, guint index)
{
	g_return_if_fail (self != NULL && index < self->n_values);
	clear_value (self, index);
	self->types[index] |= TANDEM_VALUE_NULL;
}

/**
 * tandem_event_set_int:
 * @self: a #TandemEvent
 * @index: the index of an `int` value
 * @value: the value
 *
 * Sets value @index.
 */
void
tandem_event_set_int (TandemEvent *self, guint index, gint32 value)
{
	CHECK_SET (TANDEM_ATTRIBUTE_TYPE_INT);
	self->values[index].i = value;
}

/**
 * tandem_event_set_long:
 * @self: a #TandemEvent
 * @index: the index of a `long` value
 * @value: the value
 *
 * Sets value @index.
 */
void
tandem_event_set_long (TandemEvent *self, guint index, gint64 value)
{
	CHECK_SET (TANDEM_ATTRIBUTE_TYPE_LONG);
	self->values[index].l = value;
}

/**
 * tandem_event_set_float:
 * @self: a #TandemEvent
 * @index: the index of a `float` value
 * @value: the value
 *
 * Sets value @index.
 */
void
tandem_event_set_float (TandemEvent *self, guint index, float value)
{
	CHECK_SET (TANDEM_ATTRIBUTE_TYPE_FLOAT);
	self->values[index].f = value;
}

/**
 * tandem_event_set_double:
 * @self: a #TandemEvent
 * @index: the index of a `double` value
 * @value: the value
 *
 * Sets value @index.
 */
void
tandem_event_set_double (TandemEvent *self, guint index, double value)
{
	CHECK_SET (TANDEM_ATTRIBUTE_TYPE_DOUBLE);
	self->values[index].d = value;
}

/**
 * tandem_event_set_bool:
 * @self: a #TandemEvent
 * @index: the index of a `bool` value
 * @value: the value
 *
 * Sets value @index.
 */
void
tandem_event_set_bool (TandemEvent *self, guint index, gboolean value)
{
	CHECK_SET (TANDEM_ATTRIBUTE_TYPE_BOOL);
	self->values[index].b = value ? TRUE : FALSE;
}

/**
 * tandem_event_set_string:
 * @self: a #TandemEvent
 * @index: the index of a `string` value
 * @value: (nullable): the value (copied), or %NULL for null
 *
 * Sets value @index.
 */
void
tandem_event_set_string (TandemEvent *self, guint index, const char *value)
{
	CHECK_SET (TANDEM_ATTRIBUTE_TYPE_STRING);
	if (value == NULL) {
		self->types[index] |= TANDEM_VALUE_NULL;
		return;
	}
	self->values[index].s = g_ref_string_new (value);
}

/**
 * tandem_event_equal:
 * @a: a #TandemEvent
 * @b: a #TandemEvent
 *
 * Returns: %TRUE if @a and @b have the same timestamp, types and values
 *   (floating-point values compared bit for bit)
 */
gboolean
tandem_event_equal (TandemEvent *a, TandemEvent *b)
{
	g_return_val_if_fail (a != NULL && b != NULL, FALSE);

	if (a->timestamp != b->timestamp || a->n_values != b->n_values ||
	    memcmp (a->types, b->types, a->n_values) != 0)
		return FALSE;
	for (guint i = 0; i < a->n_values; i++) {
		if (TANDEM_VALUE_IS_NULL (a, i))
			continue;
		switch (TANDEM_VALUE_TYPE (a, i)) {
		case TANDEM_ATTRIBUTE_TYPE_INT:
			if (a->values[i].i != b->values[i].i)
				return FALSE;
			break;
		case TANDEM_ATTRIBUTE_TYPE_FLOAT:
			if (memcmp (&a->values[i].f, &b->values[i].f, sizeof (float)) != 0)
				return FALSE;
			break;
		case TANDEM_ATTRIBUTE_TYPE_BOOL:
			if (!a->values[i].b != !b->values[i].b)
				return FALSE;
			break;
		case TANDEM_ATTRIBUTE_TYPE_STRING:
			if (strcmp (a->values[i].s, b->values[i].s) != 0)
				return FALSE;
			break;
		case TANDEM_ATTRIBUTE_TYPE_LONG:
		case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		default:
			if (a->values[i].l != b->values[i].l)
				return FALSE;
			break;
		}
	}
	return TRUE;
}

/**
 * tandem_json_append_real:
 * @out: where to append
 * @value: the number
 * @is_float: whether @value is a `float` (IEEE binary32) rather than a `double`
 *
 * Appends the shortest decimal text that reads back to the same float or
 * double, always with a fraction or an exponent so that the type stays
 * visible (`241.0`, `1e-07`); JSON has no NaN or infinity: those append
 * `null`.
 */
void
tandem_json_append_real (GString *out, double value, gboolean is_float)
{
	char buf[G_ASCII_DTOSTR_BUF_SIZE + 8];

	if (!isfinite (value)) {
		g_string_append (out, "null");
		return;
	}
	for (int precision = is_float ? 6 : 15; precision <= (is_float ? 9 : 17); precision++) {
		char fmt[8];
		double back;

		g_snprintf (fmt, sizeof fmt, "%%.%dg", precision);
		g_ascii_formatd (buf, sizeof buf - 2, fmt, value);
		back = g_ascii_strtod (buf, NULL);
		if (is_float ? (float) back == (float) value : back == value)
			break;
	}
	if (strpbrk (buf, ".eEn") == NULL)
		strcat (buf, ".0");
	g_string_append (out, buf);
}

/**
 * tandem_json_append_string:
 * @out: where to append
 * @s: a string
 *
 * Appends @s as a JSON string, quoted and escaped; bytes that are not valid
 * UTF-8 are replaced.
 */
void
tandem_json_append_string (GString *out, const char *s)
{
	g_autofree char *valid = g_utf8_validate (s, -1, NULL) ? NULL : g_utf8_make_valid (s, -1);

	if (valid != NULL)
		s = valid;
	g_string_append_c (out, '"');
	for (const char *p = s; *p != '\0'; p++) {
		guchar c = (guchar) *p;

		switch (c) {
		case '"':
			g_string_append (out, "\\\"");
			break;
		case '\\':
			g_string_append (out, "\\\\");
			break;
		case '\n':
			g_string_append (out, "\\n");
			break;
		case '\r':
			g_string_append (out, "\\r");
			break;
		case '\t':
			g_string_append (out, "\\t");
			break;
		default:
			if (c < 0x20)
				g_string_append_printf (out, "\\u%04x", c);
			else
				g_string_append_c (out, (char) c);
		}
	}
	g_string_append_c (out, '"');
}

/**
 * tandem_event_values_to_json:
 * @self: a #TandemEvent
 *
 * Formats the values as a JSON array with their types visible: `int` and
 * `long` as integers, `float` and `double` as numbers with a fraction or an
 * exponent (the shortest text that reads back to the same value), strings,
 * booleans and `null`.
 *
 * Returns: (transfer full): the JSON text
 */
char *
tandem_event_values_to_json (TandemEvent *self)
{
	GString *out;

	g_return_val_if_fail (self != NULL, NULL);

	out = g_string_sized_new (16 * self->n_values + 2);
	g_string_append_c (out, '[');
	for (guint i = 0; i < self->n_values; i++) {
		if (i > 0)
			g_string_append_c (out, ',');
		if (TANDEM_VALUE_IS_NULL (self, i)) {
			g_string_append (out, "null");
			continue;
		}
		switch (TANDEM_VALUE_TYPE (self, i)) {
		case TANDEM_ATTRIBUTE_TYPE_INT:
			g_string_append_printf (out, "%d", self->values[i].i);
			break;
		case TANDEM_ATTRIBUTE_TYPE_LONG:
			g_string_append_printf (out, "%" G_GINT64_FORMAT, self->values[i].l);
			break;
		case TANDEM_ATTRIBUTE_TYPE_FLOAT:
			tandem_json_append_real (out, self->values[i].f, TRUE);
			break;
		case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
			tandem_json_append_real (out, self->values[i].d, FALSE);
			break;
		case TANDEM_ATTRIBUTE_TYPE_BOOL:
			g_string_append (out, self->values[i].b ? "true" : "false");
			break;
		case TANDEM_ATTRIBUTE_TYPE_STRING:
		default:
			tandem_json_append_string (out, self->values[i].s);
			break;
		}
	}
	g_string_append_c (out, ']');
	return g_string_free (out, FALSE);
}
