/* tandem-json.c: typed event values from JSON
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Engine"

#include "config.h"

#include <math.h>
#include <string.h>

#include "tandem-error.h"
#include "tandem-event-private.h"
#include "tandem-json.h"

/**
 * tandem_json_describe:
 * @node: a JSON node
 *
 * Describes a JSON value as a user wrote it, for error messages: numbers
 * and booleans as text, strings quoted (cut after 40 characters), `an
 * object`, `an array` or `null`.
 *
 * Returns: (transfer full): the description
 */
char *
tandem_json_describe (JsonNode *node)
{
	g_autoptr(GString) out = g_string_new (NULL);
	g_autofree char *cut = NULL;

	g_return_val_if_fail (node != NULL, NULL);

	switch (JSON_NODE_TYPE (node)) {
	case JSON_NODE_OBJECT:
		return g_strdup ("an object");
	case JSON_NODE_ARRAY:
		return g_strdup ("an array");
	case JSON_NODE_NULL:
		return g_strdup ("null");
	case JSON_NODE_VALUE:
	default:
		break;
	}
	switch (json_node_get_value_type (node)) {
	case G_TYPE_INT64:
		return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (node));
	case G_TYPE_DOUBLE:
		if (!isfinite (json_node_get_double (node)))
			return g_strdup ("a number too large for a double");
		tandem_json_append_real (out, json_node_get_double (node), FALSE);
		return g_string_free (g_steal_pointer (&out), FALSE);
	case G_TYPE_BOOLEAN:
		return g_strdup (json_node_get_boolean (node) ? "true" : "false");
	case G_TYPE_STRING: {
		const char *s = json_node_get_string (node);

		if (g_utf8_strlen (s, -1) > 40) {
			cut = g_utf8_substring (s, 0, 40);
			tandem_json_append_string (out, cut);
			g_string_insert (out, out->len - 1, "...");
		} else {
			tandem_json_append_string (out, s);
		}
		return g_string_free (g_steal_pointer (&out), FALSE);
	}
	default:
		return g_strdup ("a value");
	}
}

static const char *
type_with_article (TandemAttributeType type)
{
	static const char *const names[] = {
		[TANDEM_ATTRIBUTE_TYPE_INT] = "an int",
		[TANDEM_ATTRIBUTE_TYPE_LONG] = "a long",
		[TANDEM_ATTRIBUTE_TYPE_FLOAT] = "a float",
		[TANDEM_ATTRIBUTE_TYPE_DOUBLE] = "a double",
		[TANDEM_ATTRIBUTE_TYPE_BOOL] = "a bool",
		[TANDEM_ATTRIBUTE_TYPE_STRING] = "a string",
	};

	return (guint) type < G_N_ELEMENTS (names) ? names[type] : "a value";
}

static gboolean
node_has_type (JsonNode *node, GType type)
{
	return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/**
 * tandem_event_set_value_from_json:
 * @self: a #TandemEvent
 * @index: a value index
 * @value: the JSON value
 * @error: return location for a #GError
 *
 * Sets value @index from JSON, checked against its type: an `int` needs an
 * integer in the 32-bit range, a `long` an integer (see
 * tandem_json_check_text() for integers beyond 64 bits, which json-glib
 * wraps), `float` and `double` a finite number in their range,
 * `bool` true or false, `string` a string; `null` makes the value null.
 *
 * Returns: %TRUE if the value was set; %FALSE with a
 *   %TANDEM_ERROR_INVALID_EVENT error such as `expected a float, got "abc"`
 */
gboolean
tandem_event_set_value_from_json (TandemEvent *self, guint index, JsonNode *value, GError **error)
{
	TandemAttributeType type;
	const char *range = NULL;
	g_autofree char *got = NULL;

	g_return_val_if_fail (self != NULL && index < self->n_values, FALSE);
	g_return_val_if_fail (value != NULL, FALSE);

	type = TANDEM_VALUE_TYPE (self, index);
	if (JSON_NODE_HOLDS_NULL (value)) {
		tandem_event_set_null (self, index);
		return TRUE;
	}
	switch (type) {
	case TANDEM_ATTRIBUTE_TYPE_INT:
		if (node_has_type (value, G_TYPE_INT64)) {
			gint64 v = json_node_get_int (value);

			if (v >= G_MININT32 && v <= G_MAXINT32) {
				tandem_event_set_int (self, index, (gint32) v);
				return TRUE;
			}
			range = "out of the int range -2147483648..2147483647";
		}
		break;
	case TANDEM_ATTRIBUTE_TYPE_LONG:
		if (node_has_type (value, G_TYPE_INT64)) {
			tandem_event_set_long (self, index, json_node_get_int (value));
			return TRUE;
		}
		break;
	case TANDEM_ATTRIBUTE_TYPE_FLOAT:
	case TANDEM_ATTRIBUTE_TYPE_DOUBLE:
		if (node_has_type (value, G_TYPE_INT64) || node_has_type (value, G_TYPE_DOUBLE)) {
			double v = json_node_get_double (value);

			if (type == TANDEM_ATTRIBUTE_TYPE_DOUBLE && isfinite (v)) {
				tandem_event_set_double (self, index, v);
				return TRUE;
			}
			if (type == TANDEM_ATTRIBUTE_TYPE_FLOAT && isfinite ((float) v)) {
				tandem_event_set_float (self, index, (float) v);
				return TRUE;
			}
			if (isfinite (v))
				range = "too large for a float";
		}
		break;
	case TANDEM_ATTRIBUTE_TYPE_BOOL:
		if (node_has_type (value, G_TYPE_BOOLEAN)) {
			tandem_event_set_bool (self, index, json_node_get_boolean (value));
			return TRUE;
		}
		break;
	case TANDEM_ATTRIBUTE_TYPE_STRING:
	default:
		if (node_has_type (value, G_TYPE_STRING)) {
			tandem_event_set_string (self, index, json_node_get_string (value));
			return TRUE;
		}
		break;
	}
	got = tandem_json_describe (value);
	if (range != NULL)
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT, "expected %s, got %s (%s)",
			     type_with_article (type), got, range);
	else
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT, "expected %s, got %s",
			     type_with_article (type), got);
	return FALSE;
}

/**
 * tandem_json_check_text:
 * @text: a JSON document
 * @length: its length, or -1 if nul-terminated
 * @max_depth: the deepest nesting of arrays and objects allowed
 * @error: return location for a #GError
 *
 * Checks JSON text from outside before json-glib 1.6 parses it: that
 * parser crashes on very deep nesting, and silently wraps integers beyond
 * 64 bits (2^63 reads as -2^63), which would take a `long` with a wrong
 * value.  Call it on text that is about to be parsed.
 *
 * Returns: %TRUE if the nesting and every integer are within bounds;
 *   %FALSE with a %TANDEM_ERROR_INVALID_EVENT error saying which
 */
gboolean
tandem_json_check_text (const char *text, gssize length, guint max_depth, GError **error)
{
	const char *end;
	guint depth = 0;

	g_return_val_if_fail (text != NULL, FALSE);

	end = text + (length < 0 ? strlen (text) : (gsize) length);
	for (const char *p = text; p < end; p++) {
		const char *start;
		gboolean integer = TRUE;
		g_autofree char *token = NULL;

		if (*p == '"') {
			for (p++; p < end && *p != '"'; p++) {
				if (*p == '\\')
					p++;
			}
			continue;
		}
		if (*p == '[' || *p == '{') {
			if (++depth > max_depth) {
				g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
					     "JSON nested deeper than %u levels", max_depth);
				return FALSE;
			}
			continue;
		}
		if (*p == ']' || *p == '}') {
			if (depth > 0)
				depth--;
			continue;
		}
		if (*p != '-' && !g_ascii_isdigit (*p))
			continue;
		start = p;
		for (; p < end && (g_ascii_isdigit (*p) || strchr ("-+.eE", *p) != NULL); p++) {
			if (!g_ascii_isdigit (*p) && *p != '-')
				integer = FALSE;
		}
		/* a digit run longer than 20 cannot fit: do not copy it whole */
		if (integer && p - start > 21) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     "integer %.21s... is out of the 64-bit range", start);
			return FALSE;
		}
		token = g_strndup (start, p - start);
		if (integer && !g_ascii_string_to_signed (token, 10, G_MININT64, G_MAXINT64, NULL, NULL)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT,
				     "integer %s is out of the 64-bit range", token);
			return FALSE;
		}
		p--;
	}
	return TRUE;
}
