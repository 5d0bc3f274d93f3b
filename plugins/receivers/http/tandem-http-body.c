/* tandem-http-body.c: request bodies of the HTTP receiver, parsed into typed events
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One pass over the body, straight into TandemEvents: no JSON tree, no
 * re-serialisation, no GValue per attribute.  The parser knows the only
 * shapes an event may take (see tandem_http_body_parse()), so it never
 * recurses deeper than an event's groups, and it reads JSON strictly
 * (RFC 8259) where json-glib 1.6 is lenient: json-glib reads `0123` as
 * octal, accepts hex numbers, single-quoted strings, comments and unknown
 * escapes, keeps only the last of several top-level values, silently
 * wraps integers beyond 64 bits, and recurses without limit (a megabyte of
 * `[` overflows its stack).  It is also about ten times faster than
 * building json-glib's tree (9 us for a 150-byte event on the reference
 * machine, a tenth of a request's whole budget).
 *
 * Each value still goes through a JsonNode (one, reused), so that the
 * conversion to the attribute's type is the core's, as for every receiver
 * and tool: tandem_event_set_value_from_json().
 *
 * Nothing here touches a socket: the fuzzer (tests/fuzz/fuzz-http-body.c)
 * drives tandem_http_body_parse() directly.
 */
#define G_LOG_DOMAIN "Tandem-http"

#include <stdarg.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "tandem-http-body.h"

G_DEFINE_QUARK (tandem - http - body - error - quark, tandem_http_body_error)

/* Longest event id accepted (bytes). */
#define MAX_ID_LENGTH 256
/* Longest number token accepted (characters). */
#define MAX_NUMBER_LENGTH 64

typedef struct {
	const char *name;       /* as in the definition: meta_X, correlation_X, X */
	const char *group_name; /* inside its WSO2 group: X */
	TandemAttributeGroup group;
} SchemaAttribute;

struct _TandemHttpBodySchema {
	TandemStreamDefinition *definition;
	guint n_attributes;
	SchemaAttribute *attributes;
	GHashTable *by_name;     /* flat objects: name -> index + 1 */
	GHashTable *by_group[3]; /* WSO2 groups: group_name -> index + 1 */
	/* flat objects: these member names are attributes of the stream */
	gboolean event_is_attribute;
	gboolean timestamp_is_attribute;
	gboolean id_is_attribute;
};

static const char *const group_members[3] = { "metaData", "correlationData", "payloadData" };
static const char *const group_prefixes[3] = { "meta_", "correlation_", "" };

/**
 * tandem_http_body_schema_new:
 * @definition: the stream the events belong to
 *
 * Returns: (transfer full): the schema of @definition's events
 */
TandemHttpBodySchema *
tandem_http_body_schema_new (TandemStreamDefinition *definition)
{
	TandemHttpBodySchema *schema;

	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (definition), NULL);

	schema = g_new0 (TandemHttpBodySchema, 1);
	schema->definition = g_object_ref (definition);
	schema->n_attributes = tandem_stream_definition_get_n_attributes (definition);
	schema->attributes = g_new0 (SchemaAttribute, schema->n_attributes);
	schema->by_name = g_hash_table_new (g_str_hash, g_str_equal);
	for (guint g = 0; g < 3; g++)
		schema->by_group[g] = g_hash_table_new (g_str_hash, g_str_equal);
	for (guint i = 0; i < schema->n_attributes; i++) {
		SchemaAttribute *a = &schema->attributes[i];
		const char *prefix;

		a->name = tandem_stream_definition_get_attribute_name (definition, i);
		a->group = tandem_stream_definition_get_attribute_group (definition, i);
		/* a stream defined in a plan has no groups: its meta_X and
		 * correlation_X attributes still come in metaData and
		 * correlationData, as Siddhi names them */
		if (a->group == TANDEM_ATTRIBUTE_GROUP_PAYLOAD) {
			for (guint g = TANDEM_ATTRIBUTE_GROUP_META;
			     g < TANDEM_ATTRIBUTE_GROUP_PAYLOAD; g++) {
				if (g_str_has_prefix (a->name, group_prefixes[g]) &&
				    a->name[strlen (group_prefixes[g])] != '\0')
					a->group = g;
			}
		}
		prefix = group_prefixes[a->group];
		a->group_name =
			g_str_has_prefix (a->name, prefix) ? a->name + strlen (prefix) : a->name;
		g_hash_table_insert (schema->by_name, (gpointer) a->name, GUINT_TO_POINTER (i + 1));
		g_hash_table_insert (schema->by_group[a->group], (gpointer) a->group_name,
				     GUINT_TO_POINTER (i + 1));
		if (strcmp (a->name, "event") == 0)
			schema->event_is_attribute = TRUE;
		else if (strcmp (a->name, "timestamp") == 0)
			schema->timestamp_is_attribute = TRUE;
		else if (strcmp (a->name, "id") == 0)
			schema->id_is_attribute = TRUE;
	}
	return schema;
}

/**
 * tandem_http_body_schema_free:
 * @schema: (transfer full): a #TandemHttpBodySchema
 */
void
tandem_http_body_schema_free (TandemHttpBodySchema *schema)
{
	if (schema == NULL)
		return;
	g_hash_table_unref (schema->by_name);
	for (guint g = 0; g < 3; g++)
		g_hash_table_unref (schema->by_group[g]);
	g_object_unref (schema->definition);
	g_free (schema->attributes);
	g_free (schema);
}

/**
 * tandem_http_body_schema_get_definition:
 * @schema: a #TandemHttpBodySchema
 *
 * Returns: (transfer none): the stream definition of @schema
 */
TandemStreamDefinition *
tandem_http_body_schema_get_definition (TandemHttpBodySchema *schema)
{
	return schema->definition;
}

/* --- JSON values into typed attribute values ------------------------------- */

static gboolean
node_holds (JsonNode *node, GType type)
{
	return JSON_NODE_TYPE (node) == JSON_NODE_VALUE && json_node_get_value_type (node) == type;
}

/* --- the parser ------------------------------------------------------------ */

typedef struct {
	TandemHttpBodySchema *schema;
	const char *data; /* the whole body, to locate errors */
	const char *p;
	const char *end;
	gboolean ndjson;
	gboolean in_line; /* NDJSON: inside an event, a newline is an error */
	guint line_no;    /* NDJSON: the line of the current event */
	guint max_events;
	gint64 receive_time;
	GString *text;  /* the string being decoded */
	JsonNode *node; /* the value being converted: value_node or null_node */
	JsonNode *value_node;
	JsonNode *null_node;
	gboolean *seen;    /* attributes of the current event already set */
	GPtrArray *events; /* of TandemEvent */
	GPtrArray *ids;    /* of char *, NULL until an event has an id */
} Parser;

static void
locate (const char *data, const char *at, guint *line, guint *column)
{
	const char *line_start = data;

	*line = 1;
	for (const char *p = data; p < at; p++) {
		if (*p == '\n') {
			(*line)++;
			line_start = p + 1;
		}
	}
	*column = (guint) (at - line_start) + 1;
}

static gboolean syntax_error (Parser *ps, const char *at, GError **error, const char *format, ...)
	G_GNUC_PRINTF (4, 5);

/* A malformed body: the message starts with the line and column of @at. */
static gboolean
syntax_error (Parser *ps, const char *at, GError **error, const char *format, ...)
{
	g_autofree char *message = NULL;
	va_list args;
	guint line;
	guint column;

	va_start (args, format);
	message = g_strdup_vprintf (format, args);
	va_end (args);
	locate (ps->data, at, &line, &column);
	g_set_error (error, TANDEM_HTTP_BODY_ERROR, TANDEM_HTTP_BODY_ERROR_SYNTAX,
		     "line %u, column %u: %s", line, column, message);
	return FALSE;
}

static gboolean event_error (Parser *ps, GError **error, int code, const char *format, ...)
	G_GNUC_PRINTF (4, 5);

/* An event that does not fit: the message names the event (and its line). */
static gboolean
event_error (Parser *ps, GError **error, int code, const char *format, ...)
{
	g_autofree char *message = NULL;
	va_list args;

	va_start (args, format);
	message = g_strdup_vprintf (format, args);
	va_end (args);
	if (ps->ndjson)
		g_set_error (error, TANDEM_HTTP_BODY_ERROR, code, "line %u (event %u): %s",
			     ps->line_no, ps->events->len, message);
	else
		g_set_error (error, TANDEM_HTTP_BODY_ERROR, code, "event %u: %s", ps->events->len,
			     message);
	return FALSE;
}

static char *
describe_char (const char *p, const char *end)
{
	guchar c;

	if (p >= end)
		return g_strdup ("the end of the body");
	c = (guchar) *p;
	if (c == '\n')
		return g_strdup ("the end of the line");
	if (c >= 0x21 && c < 0x7f)
		return g_strdup_printf ("'%c'", c);
	return g_strdup_printf ("byte 0x%02X", c);
}

static gboolean
expected (Parser *ps, GError **error, const char *what)
{
	g_autofree char *got = describe_char (ps->p, ps->end);

	return syntax_error (ps, ps->p, error, "expected %s, got %s", what, got);
}

static void
skip_space (Parser *ps)
{
	while (ps->p < ps->end) {
		char c = *ps->p;

		if (c == ' ' || c == '\t' || c == '\r' || (c == '\n' && !ps->in_line))
			ps->p++;
		else
			break;
	}
}

static gboolean
is_word_char (char c)
{
	return g_ascii_isalnum (c) || c == '_' || c == '.' || c == '$';
}

static void
append_unichar (GString *out, gunichar c)
{
	char buf[6];

	g_string_append_len (out, buf, g_unichar_to_utf8 (c, buf));
}

static gboolean
read_hex4 (const char *p, const char *end, gunichar *out)
{
	gunichar v = 0;

	if (end - p < 4)
		return FALSE;
	for (guint k = 0; k < 4; k++) {
		int d = g_ascii_xdigit_value (p[k]);

		if (d < 0)
			return FALSE;
		v = v * 16 + (gunichar) d;
	}
	*out = v;
	return TRUE;
}

/* Decodes the string at ps->p (on its opening quote) into ps->text. */
static gboolean
parse_string (Parser *ps, GError **error)
{
	const char *p = ps->p + 1;

	g_string_truncate (ps->text, 0);
	for (;;) {
		const char *run = p;
		guchar c;

		while (p < ps->end && *p != '"' && *p != '\\' && (guchar) *p >= 0x20)
			p++;
		if (p > run)
			g_string_append_len (ps->text, run, p - run);
		if (p >= ps->end)
			return syntax_error (ps, ps->p, error, "string not terminated");
		c = (guchar) *p;
		if (c == '"') {
			ps->p = p + 1;
			return TRUE;
		}
		if (c < 0x20)
			return syntax_error (
				ps, p, error,
				"control character U+%04X in a string (write it as \\u%04X)", c, c);
		/* a backslash */
		if (p + 1 >= ps->end)
			return syntax_error (ps, ps->p, error, "string not terminated");
		switch (p[1]) {
		case '"':
		case '\\':
		case '/':
			g_string_append_c (ps->text, p[1]);
			break;
		case 'b':
			g_string_append_c (ps->text, '\b');
			break;
		case 'f':
			g_string_append_c (ps->text, '\f');
			break;
		case 'n':
			g_string_append_c (ps->text, '\n');
			break;
		case 'r':
			g_string_append_c (ps->text, '\r');
			break;
		case 't':
			g_string_append_c (ps->text, '\t');
			break;
		case 'u': {
			gunichar u;
			gunichar low;

			if (!read_hex4 (p + 2, ps->end, &u))
				return syntax_error (ps, p, error,
						     "invalid \\u escape: expected 4 hex digits");
			p += 6;
			if (u >= 0xD800 && u <= 0xDBFF) {
				if (ps->end - p < 6 || p[0] != '\\' || p[1] != 'u' ||
				    !read_hex4 (p + 2, ps->end, &low) || low < 0xDC00 ||
				    low > 0xDFFF)
					return syntax_error (
						ps, p - 6, error,
						"invalid \\u escape: a high surrogate must be followed "
						"by a low one");
				u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
				p += 6;
			} else if (u >= 0xDC00 && u <= 0xDFFF) {
				return syntax_error (ps, p - 6, error,
						     "invalid \\u escape: a lone low surrogate");
			} else if (u == 0) {
				return syntax_error (ps, p - 6, error,
						     "\\u0000 is not allowed in a string");
			}
			append_unichar (ps->text, u);
			continue;
		}
		default: {
			g_autofree char *what = describe_char (p + 1, ps->end);

			return syntax_error (ps, p, error,
					     "invalid escape: backslash followed by %s", what);
		}
		}
		p += 2;
	}
}

static void
set_node_int (Parser *ps, gint64 v)
{
	ps->node = ps->value_node;
	json_node_set_int (ps->node, v);
}

static void
set_node_double (Parser *ps, double v)
{
	ps->node = ps->value_node;
	json_node_set_double (ps->node, v);
}

/* Reads the number at ps->p into ps->node (an integer when it has no
 * fraction and no exponent, a double otherwise). */
static gboolean
parse_number (Parser *ps, GError **error)
{
	const char *start = ps->p;
	const char *q = start;
	const char *digits;
	gboolean integer = TRUE;
	char buf[MAX_NUMBER_LENGTH + 1];

	if (*q == '-')
		q++;
	if (q >= ps->end || !g_ascii_isdigit (*q))
		return syntax_error (ps, start, error,
				     "invalid number: expected a digit after '-'");
	digits = q;
	if (*q == '0') {
		q++;
		if (q < ps->end && g_ascii_isdigit (*q))
			return syntax_error (ps, start, error,
					     "invalid number: leading zeros are not allowed");
	} else {
		while (q < ps->end && g_ascii_isdigit (*q))
			q++;
	}
	if (q < ps->end && *q == '.') {
		integer = FALSE;
		q++;
		if (q >= ps->end || !g_ascii_isdigit (*q))
			return syntax_error (ps, start, error,
					     "invalid number: expected a digit after '.'");
		while (q < ps->end && g_ascii_isdigit (*q))
			q++;
	}
	if (q < ps->end && (*q == 'e' || *q == 'E')) {
		integer = FALSE;
		q++;
		if (q < ps->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= ps->end || !g_ascii_isdigit (*q))
			return syntax_error (ps, start, error,
					     "invalid number: expected a digit in the exponent");
		while (q < ps->end && g_ascii_isdigit (*q))
			q++;
	}
	if (q < ps->end && is_word_char (*q))
		return syntax_error (ps, start, error,
				     "invalid number: unexpected '%c' (JSON numbers are decimal)",
				     *q);
	ps->p = q;
	if (integer) {
		gboolean negative = *start == '-';
		guint64 v = 0;

		for (const char *d = digits; d < q; d++) {
			guint64 next = v * 10 + (guint64) (*d - '0');

			if (v > G_MAXUINT64 / 10 || next < v ||
			    next > (guint64) G_MAXINT64 + (negative ? 1 : 0)) {
				int shown = (int) MIN (q - start, 40);

				g_set_error (error, TANDEM_HTTP_BODY_ERROR,
					     TANDEM_HTTP_BODY_ERROR_INVALID,
					     "integer %.*s%s is out of the 64-bit range", shown,
					     start, q - start > 40 ? "..." : "");
				return FALSE;
			}
			v = next;
		}
		set_node_int (ps, negative ? (gint64) (0 - v) : (gint64) v);
		return TRUE;
	}
	if (q - start > MAX_NUMBER_LENGTH)
		return syntax_error (ps, start, error, "number longer than %u characters",
				     MAX_NUMBER_LENGTH);
	memcpy (buf, start, (gsize) (q - start));
	buf[q - start] = '\0';
	set_node_double (ps, g_ascii_strtod (buf, NULL));
	return TRUE;
}

/* Reads the scalar value at ps->p into ps->node (the caller refuses
 * objects and arrays before). */
static gboolean
parse_scalar (Parser *ps, GError **error)
{
	const char *start = ps->p;
	char c;

	if (ps->p >= ps->end)
		return expected (ps, error, "a value");
	c = *ps->p;
	if (c == '"') {
		if (!parse_string (ps, error))
			return FALSE;
		ps->node = ps->value_node;
		json_node_set_string (ps->node, ps->text->str);
		return TRUE;
	}
	if (c == '-' || g_ascii_isdigit (c))
		return parse_number (ps, error);
	if (g_ascii_isalpha (c)) {
		const char *q = ps->p;
		gsize length;

		while (q < ps->end && is_word_char (*q))
			q++;
		length = (gsize) (q - start);
		ps->p = q;
		if (length == 4 && memcmp (start, "true", 4) == 0) {
			ps->node = ps->value_node;
			json_node_set_boolean (ps->node, TRUE);
			return TRUE;
		}
		if (length == 5 && memcmp (start, "false", 5) == 0) {
			ps->node = ps->value_node;
			json_node_set_boolean (ps->node, FALSE);
			return TRUE;
		}
		if (length == 4 && memcmp (start, "null", 4) == 0) {
			ps->node = ps->null_node;
			return TRUE;
		}
		return syntax_error (ps, start, error,
				     "unexpected '%.*s%s' (strings need double quotes)",
				     (int) MIN (length, 32), start, length > 32 ? "..." : "");
	}
	return expected (ps, error, "a value");
}

static const char *
describe_container (char c)
{
	return c == '{' ? "an object" : "an array";
}

/* Expects @c (after blanks) and consumes it. */
static gboolean
expect_char (Parser *ps, char c, const char *what, GError **error)
{
	skip_space (ps);
	if (ps->p < ps->end && *ps->p == c) {
		ps->p++;
		return TRUE;
	}
	return expected (ps, error, what);
}

/* Walks the members of the object at ps->p: for each, decodes the name
 * into ps->text and calls @member, which must consume the value.  @member
 * returns FALSE with @error set to stop. */
typedef gboolean (*MemberFunc) (Parser *ps, gpointer data, const char *at, GError **error);

static gboolean
parse_members (Parser *ps, MemberFunc member, gpointer data, GError **error)
{
	if (!expect_char (ps, '{', "'{'", error))
		return FALSE;
	skip_space (ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return TRUE;
	}
	for (;;) {
		const char *at;

		skip_space (ps);
		at = ps->p;
		if (ps->p >= ps->end || *ps->p != '"')
			return expected (ps, error, "a member name in double quotes");
		if (!parse_string (ps, error) ||
		    !expect_char (ps, ':', "':' after the member name", error))
			return FALSE;
		skip_space (ps);
		if (!member (ps, data, at, error))
			return FALSE;
		skip_space (ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return TRUE;
		}
		return expected (ps, error, "',' or '}' after a member");
	}
}

typedef struct {
	TandemEvent *event;
	gint64 timestamp;
	char *id;
	gboolean wso2;              /* an "event" member was read */
	gboolean flat;              /* an attribute member was read */
	TandemAttributeGroup group; /* the WSO2 group being read */
} EventState;

/* Reads the value at ps->p into attribute @index of the event. */
static gboolean
read_attribute (Parser *ps, EventState *st, guint index, GError **error)
{
	const char *name = ps->schema->attributes[index].name;
	g_autoptr(GError) local_error = NULL;
	char c = ps->p < ps->end ? *ps->p : '\0';

	if (ps->seen[index])
		return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				    "attribute '%s' is given twice", name);
	ps->seen[index] = TRUE;
	if (c == '{' || c == '[') {
		TandemAttributeType type = tandem_event_get_value_type (st->event, index);

		return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				    "attribute '%s': expected %s %s, got %s", name,
				    type == TANDEM_ATTRIBUTE_TYPE_INT ? "an" : "a",
				    tandem_attribute_type_to_string (type), describe_container (c));
	}
	if (!parse_scalar (ps, &local_error)) {
		if (g_error_matches (local_error, TANDEM_HTTP_BODY_ERROR,
				     TANDEM_HTTP_BODY_ERROR_INVALID))
			return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
					    "attribute '%s': %s", name, local_error->message);
		g_propagate_error (error, g_steal_pointer (&local_error));
		return FALSE;
	}
	if (!tandem_event_set_value_from_json (st->event, index, ps->node, &local_error))
		return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID, "attribute '%s': %s",
				    name, local_error->message);
	return TRUE;
}

static gboolean
read_timestamp (Parser *ps, EventState *st, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autofree char *got = NULL;
	char c = ps->p < ps->end ? *ps->p : '\0';

	if (c == '{' || c == '[')
		got = g_strdup (describe_container (c));
	else if (!parse_scalar (ps, &local_error))
		got = g_strdup (local_error->message);
	else if (node_holds (ps->node, G_TYPE_INT64) && json_node_get_int (ps->node) >= 0) {
		st->timestamp = json_node_get_int (ps->node);
		return TRUE;
	} else
		got = tandem_json_describe (ps->node);
	if (local_error != NULL && !g_error_matches (local_error, TANDEM_HTTP_BODY_ERROR,
						     TANDEM_HTTP_BODY_ERROR_INVALID)) {
		g_propagate_error (error, g_steal_pointer (&local_error));
		return FALSE;
	}
	return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
			    "member 'timestamp': expected milliseconds since the Unix epoch "
			    "(a non-negative integer), got %s",
			    got);
}

static gboolean
read_id (Parser *ps, EventState *st, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autofree char *got = NULL;
	char c = ps->p < ps->end ? *ps->p : '\0';

	if (c == '{' || c == '[') {
		got = g_strdup (describe_container (c));
	} else if (!parse_scalar (ps, &local_error)) {
		if (!g_error_matches (local_error, TANDEM_HTTP_BODY_ERROR,
				      TANDEM_HTTP_BODY_ERROR_INVALID)) {
			g_propagate_error (error, g_steal_pointer (&local_error));
			return FALSE;
		}
		got = g_strdup (local_error->message);
	} else if (node_holds (ps->node, G_TYPE_STRING)) {
		gsize n = strlen (json_node_get_string (ps->node));

		if (n > 0 && n <= MAX_ID_LENGTH) {
			g_free (st->id);
			st->id = g_strdup (json_node_get_string (ps->node));
			return TRUE;
		}
		return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				    "member 'id': expected 1-%u bytes, got %" G_GSIZE_FORMAT,
				    MAX_ID_LENGTH, n);
	} else if (node_holds (ps->node, G_TYPE_INT64)) {
		g_free (st->id);
		st->id = g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (ps->node));
		return TRUE;
	} else {
		got = tandem_json_describe (ps->node);
	}
	return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
			    "member 'id': expected a string or an integer, got %s", got);
}

/* A member of metaData, correlationData or payloadData. */
static gboolean
on_group_member (Parser *ps, gpointer data, const char *at, GError **error)
{
	EventState *st = data;
	guint index = GPOINTER_TO_UINT (
		g_hash_table_lookup (ps->schema->by_group[st->group], ps->text->str));

	if (index == 0)
		return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				    "unknown attribute '%s' in '%s' (stream %s)", ps->text->str,
				    group_members[st->group],
				    tandem_stream_definition_get_id (ps->schema->definition));
	return read_attribute (ps, st, index - 1, error);
}

/* A member of the WSO2 "event" object. */
static gboolean
on_wso2_member (Parser *ps, gpointer data, const char *at, GError **error)
{
	EventState *st = data;
	const char *name = ps->text->str;

	for (guint g = 0; g < 3; g++) {
		if (strcmp (name, group_members[g]) != 0)
			continue;
		if (ps->p + 4 <= ps->end && memcmp (ps->p, "null", 4) == 0 &&
		    (ps->p + 4 == ps->end || !is_word_char (ps->p[4]))) {
			ps->p += 4;
			return TRUE;
		}
		if (ps->p >= ps->end || *ps->p != '{') {
			g_autofree char *got = describe_char (ps->p, ps->end);

			return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
					    "member '%s': expected an object, got %s",
					    group_members[g], got);
		}
		st->group = g;
		return parse_members (ps, on_group_member, st, error);
	}
	if (strcmp (name, "timestamp") == 0)
		return read_timestamp (ps, st, error);
	if (strcmp (name, "id") == 0)
		return read_id (ps, st, error);
	return event_error (
		ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
		"unknown member '%s' in 'event' (expected metaData, correlationData, payloadData, "
		"timestamp, id)",
		name);
}

/* A member of an event object: "event" (WSO2) or an attribute (flat). */
static gboolean
on_event_member (Parser *ps, gpointer data, const char *at, GError **error)
{
	EventState *st = data;
	TandemHttpBodySchema *schema = ps->schema;
	const char *name = ps->text->str;
	guint index;

	if (!schema->event_is_attribute && strcmp (name, "event") == 0) {
		if (st->flat || st->wso2)
			return event_error (
				ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				"member 'event' must be the only member of the event object");
		st->wso2 = TRUE;
		if (ps->p >= ps->end || *ps->p != '{') {
			g_autofree char *got = describe_char (ps->p, ps->end);

			return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
					    "member 'event': expected an object, got %s", got);
		}
		return parse_members (ps, on_wso2_member, st, error);
	}
	if (st->wso2)
		return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				    "unknown member '%s' beside 'event'", name);
	st->flat = TRUE;
	if (!schema->timestamp_is_attribute && strcmp (name, "timestamp") == 0)
		return read_timestamp (ps, st, error);
	if (!schema->id_is_attribute && strcmp (name, "id") == 0)
		return read_id (ps, st, error);
	index = GPOINTER_TO_UINT (g_hash_table_lookup (schema->by_name, name));
	if (index == 0)
		return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				    "unknown attribute '%s' (stream %s)", name,
				    tandem_stream_definition_get_id (schema->definition));
	return read_attribute (ps, st, index - 1, error);
}

/* Reads the event object at ps->p and appends it to ps->events. */
static gboolean
parse_event (Parser *ps, GError **error)
{
	TandemHttpBodySchema *schema = ps->schema;
	EventState st = {
		NULL, ps->receive_time, NULL, FALSE, FALSE, TANDEM_ATTRIBUTE_GROUP_PAYLOAD
	};
	gboolean ok;

	if (ps->events->len >= ps->max_events) {
		g_set_error (error, TANDEM_HTTP_BODY_ERROR, TANDEM_HTTP_BODY_ERROR_TOO_MANY,
			     "more than %u events in one request (max_events_per_request)",
			     ps->max_events);
		return FALSE;
	}
	if (ps->p < ps->end && *ps->p != '{') {
		if (*ps->p == '[' || *ps->p == '"' || *ps->p == '-' || g_ascii_isalnum (*ps->p)) {
			g_autoptr(GError) local_error = NULL;
			g_autofree char *got = NULL;

			if (*ps->p == '[') {
				got = g_strdup ("an array");
			} else if (parse_scalar (ps, &local_error)) {
				got = tandem_json_describe (ps->node);
			} else {
				g_propagate_error (error, g_steal_pointer (&local_error));
				return FALSE;
			}
			return event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
					    "expected an event object, got %s", got);
		}
		return expected (ps, error, "an event object");
	}

	st.event = tandem_event_new (schema->definition, 0);
	memset (ps->seen, 0, schema->n_attributes * sizeof (gboolean));
	ok = parse_members (ps, on_event_member, &st, error);
	for (guint i = 0; ok && i < schema->n_attributes; i++) {
		SchemaAttribute *a = &schema->attributes[i];

		if (ps->seen[i])
			continue;
		if (st.wso2)
			event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				     "attribute '%s' is missing (expected member '%s' in '%s')",
				     a->name, a->group_name, group_members[a->group]);
		else
			event_error (ps, error, TANDEM_HTTP_BODY_ERROR_INVALID,
				     "attribute '%s' is missing", a->name);
		ok = FALSE;
	}
	if (!ok) {
		tandem_event_unref (st.event);
		g_free (st.id);
		return FALSE;
	}
	tandem_event_set_timestamp (st.event, st.timestamp);
	if (st.id != NULL && ps->ids == NULL) {
		ps->ids = g_ptr_array_new_full (ps->events->len + 2, g_free);
		for (guint i = 0; i < ps->events->len; i++)
			g_ptr_array_add (ps->ids, g_strdup (""));
	}
	if (ps->ids != NULL)
		g_ptr_array_add (ps->ids, st.id != NULL ? st.id : g_strdup (""));
	else
		g_free (st.id);
	g_ptr_array_add (ps->events, st.event);
	return TRUE;
}

static gboolean
parse_json_body (Parser *ps, GError **error)
{
	skip_space (ps);
	if (ps->p >= ps->end) {
		g_set_error_literal (
			error, TANDEM_HTTP_BODY_ERROR, TANDEM_HTTP_BODY_ERROR_SYNTAX,
			"the body is empty: expected an event object or an array of events");
		return FALSE;
	}
	if (*ps->p == '[') {
		ps->p++;
		skip_space (ps);
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
		} else {
			for (;;) {
				skip_space (ps);
				if (!parse_event (ps, error))
					return FALSE;
				skip_space (ps);
				if (ps->p < ps->end && *ps->p == ',') {
					ps->p++;
					continue;
				}
				if (ps->p < ps->end && *ps->p == ']') {
					ps->p++;
					break;
				}
				return expected (ps, error, "',' or ']' after an event");
			}
		}
	} else if (!parse_event (ps, error)) {
		return FALSE;
	}
	skip_space (ps);
	if (ps->p < ps->end)
		return syntax_error (
			ps, ps->p, error,
			"unexpected data after the JSON value: send several events as an array");
	return TRUE;
}

static gboolean
parse_ndjson_body (Parser *ps, GError **error)
{
	while (ps->p < ps->end) {
		ps->line_no++;
		ps->in_line = TRUE;
		skip_space (ps);
		if (ps->p < ps->end && *ps->p != '\n') {
			if (!parse_event (ps, error))
				return FALSE;
			skip_space (ps);
			if (ps->p < ps->end && *ps->p != '\n')
				return syntax_error (
					ps, ps->p, error,
					"unexpected data after the event: one event per line");
		}
		ps->in_line = FALSE;
		if (ps->p < ps->end)
			ps->p++; /* the newline */
	}
	if (ps->events->len == 0) {
		g_set_error_literal (error, TANDEM_HTTP_BODY_ERROR, TANDEM_HTTP_BODY_ERROR_SYNTAX,
				     "the body is empty: expected one event object per line");
		return FALSE;
	}
	return TRUE;
}

/**
 * tandem_http_body_parse:
 * @schema: the stream's schema
 * @format: how the body is laid out
 * @data: (array length=length): the body
 * @length: its length in bytes
 * @max_events: the most events the body may hold
 * @receive_time: the event time of events without a `timestamp` member
 *   (milliseconds since the Unix epoch)
 * @events: (out) (transfer container) (element-type TandemEvent): the events
 * @ids: (out) (transfer container) (nullable): one id per event (empty for
 *   none) followed by %NULL, or %NULL when no event has an `id` member
 * @error: return location for a #GError
 *
 * Reads every event of a body: a WSO2 event object
 * `{"event": {"metaData": {...}, "correlationData": {...}, "payloadData": {...}}}`,
 * a flat object of attribute names (`meta_X`, `correlation_X`, `X`), or an
 * array of either (%TANDEM_HTTP_BODY_FORMAT_JSON); or one such object per
 * line (%TANDEM_HTTP_BODY_FORMAT_NDJSON).  Optional members `timestamp`
 * (event time in milliseconds) and `id` (for idempotency) go in the WSO2
 * `event` object or in the flat object.  Each value is checked against the
 * attribute's type; a missing attribute, an attribute given twice or an
 * unknown member is an error, `null` is a null value.  The JSON must be
 * strict RFC 8259 UTF-8 JSON.  All or nothing: on error no event is
 * returned.
 *
 * Returns: %TRUE on success; otherwise %FALSE with a %TANDEM_HTTP_BODY_ERROR
 *   naming the line and column, or the event (and line) and attribute
 */
gboolean
tandem_http_body_parse (TandemHttpBodySchema *schema,
			TandemHttpBodyFormat format,
			const char *data,
			gsize length,
			guint max_events,
			gint64 receive_time,
			GPtrArray **events,
			GPtrArray **ids,
			GError **error)
{
	Parser ps = { 0 };
	const char *bad = NULL;
	gboolean ok;

	g_return_val_if_fail (schema != NULL, FALSE);
	g_return_val_if_fail (data != NULL || length == 0, FALSE);
	g_return_val_if_fail (events != NULL && ids != NULL, FALSE);

	if (data == NULL)
		data = "";
	ps.schema = schema;
	ps.data = data;
	ps.p = data;
	ps.end = data + length;
	ps.ndjson = format == TANDEM_HTTP_BODY_FORMAT_NDJSON;
	ps.max_events = max_events;
	ps.receive_time = receive_time;
	if (!g_utf8_validate_len (data, length, &bad))
		return syntax_error (&ps, bad, error, "invalid UTF-8");
	if (length >= 3 && memcmp (data, "\xEF\xBB\xBF", 3) == 0)
		ps.p += 3; /* a byte order mark */

	ps.text = g_string_sized_new (64);
	/* json-glib 1.6 cannot re-initialise a node (json_node_init() leaves
	 * the old value dangling): one node holds every value, set in place */
	ps.value_node = json_node_new (JSON_NODE_VALUE);
	ps.null_node = json_node_new (JSON_NODE_NULL);
	ps.node = ps.null_node;
	ps.seen = g_new0 (gboolean, MAX (schema->n_attributes, 1));
	ps.events = g_ptr_array_new_with_free_func ((GDestroyNotify) tandem_event_unref);
	if (ps.ndjson)
		ok = parse_ndjson_body (&ps, error);
	else
		ok = parse_json_body (&ps, error);
	g_string_free (ps.text, TRUE);
	json_node_unref (ps.value_node);
	json_node_unref (ps.null_node);
	g_free (ps.seen);
	if (!ok) {
		g_ptr_array_unref (ps.events);
		if (ps.ids != NULL)
			g_ptr_array_unref (ps.ids);
		return FALSE;
	}
	if (ps.ids != NULL)
		g_ptr_array_add (ps.ids, NULL);
	*events = ps.events;
	*ids = ps.ids;
	return TRUE;
}
