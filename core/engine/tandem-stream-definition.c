/* tandem-stream-definition.c: typed stream definitions (name:version)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Engine"

#include "config.h"

#include <string.h>

#include <json-glib/json-glib.h>

#include "tandem-error.h"
#include "tandem-event-private.h"
#include "tandem-json.h"
#include "tandem-stream-definition.h"

/**
 * TandemStreamDefinition:
 *
 * A stream: a name, a version, and typed attributes grouped as meta,
 * correlation and payload data, as in WSO2 stream definitions.  Its id is
 * `name:version`.
 *
 * In queries, meta attributes are named `meta_NAME`, correlation attributes
 * `correlation_NAME` and payload attributes `NAME`, as in Siddhi; the
 * attribute names stored here are those query names.
 */

typedef struct {
	char *name;
	TandemAttributeType type;
	TandemAttributeGroup group;
} Attribute;

struct _TandemStreamDefinition {
	GObject parent_instance;

	char *name;
	char *version;
	char *id;
	GArray *attributes; /* of Attribute */
	GByteArray *types;  /* the attribute types, one byte each, for new events */
};

G_DEFINE_FINAL_TYPE (TandemStreamDefinition, tandem_stream_definition, G_TYPE_OBJECT)

static const char *const type_names[] = {
	[TANDEM_ATTRIBUTE_TYPE_INT] = "int",
	[TANDEM_ATTRIBUTE_TYPE_LONG] = "long",
	[TANDEM_ATTRIBUTE_TYPE_FLOAT] = "float",
	[TANDEM_ATTRIBUTE_TYPE_DOUBLE] = "double",
	[TANDEM_ATTRIBUTE_TYPE_BOOL] = "bool",
	[TANDEM_ATTRIBUTE_TYPE_STRING] = "string",
};

/**
 * tandem_attribute_type_to_string:
 * @type: a #TandemAttributeType
 *
 * Returns: the Siddhi name of @type (`int`, `long`, `float`, `double`,
 *   `bool`, `string`)
 */
const char *
tandem_attribute_type_to_string (TandemAttributeType type)
{
	if ((guint) type >= G_N_ELEMENTS (type_names))
		return "unknown";
	return type_names[type];
}

/**
 * tandem_attribute_type_from_string:
 * @str: a type name, any case (`INT`, `string`, also `boolean` and `integer`)
 * @type: (out) (optional): where to store the type
 *
 * Returns: %TRUE if @str names a type
 */
gboolean
tandem_attribute_type_from_string (const char *str, TandemAttributeType *type)
{
	g_return_val_if_fail (str != NULL, FALSE);

	for (guint i = 0; i < G_N_ELEMENTS (type_names); i++) {
		if (g_ascii_strcasecmp (str, type_names[i]) == 0) {
			if (type != NULL)
				*type = (TandemAttributeType) i;
			return TRUE;
		}
	}
	if (g_ascii_strcasecmp (str, "boolean") == 0 || g_ascii_strcasecmp (str, "integer") == 0) {
		if (type != NULL)
			*type = g_ascii_tolower (str[0]) == 'b' ? TANDEM_ATTRIBUTE_TYPE_BOOL
								: TANDEM_ATTRIBUTE_TYPE_INT;
		return TRUE;
	}
	return FALSE;
}

static void
attribute_clear (gpointer data)
{
	g_free (((Attribute *) data)->name);
}

static void
tandem_stream_definition_finalize (GObject *object)
{
	TandemStreamDefinition *self = TANDEM_STREAM_DEFINITION (object);

	g_free (self->name);
	g_free (self->version);
	g_free (self->id);
	g_array_unref (self->attributes);
	g_byte_array_unref (self->types);
	G_OBJECT_CLASS (tandem_stream_definition_parent_class)->finalize (object);
}

static void
tandem_stream_definition_class_init (TandemStreamDefinitionClass *klass)
{
	G_OBJECT_CLASS (klass)->finalize = tandem_stream_definition_finalize;
}

static void
tandem_stream_definition_init (TandemStreamDefinition *self)
{
	self->attributes = g_array_new (FALSE, TRUE, sizeof (Attribute));
	g_array_set_clear_func (self->attributes, attribute_clear);
	self->types = g_byte_array_new ();
}

static gboolean
valid_identifier (const char *name)
{
	if (name == NULL || !(g_ascii_isalpha (name[0]) || name[0] == '_'))
		return FALSE;
	for (const char *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum (*p) && *p != '_')
			return FALSE;
	}
	return strlen (name) <= 255;
}

/**
 * tandem_stream_definition_new:
 * @name: the stream name: letters, digits and `_`, not starting with a digit
 * @version: (nullable): the version, `1.0.0` if %NULL
 *
 * Returns: (transfer full): a stream definition without attributes
 */
TandemStreamDefinition *
tandem_stream_definition_new (const char *name, const char *version)
{
	TandemStreamDefinition *self;

	g_return_val_if_fail (valid_identifier (name), NULL);

	self = g_object_new (TANDEM_TYPE_STREAM_DEFINITION, NULL);
	self->name = g_strdup (name);
	self->version = g_strdup (version != NULL ? version : "1.0.0");
	self->id = g_strdup_printf ("%s:%s", self->name, self->version);
	return self;
}

/**
 * tandem_stream_definition_add_attribute:
 * @self: a #TandemStreamDefinition
 * @name: the attribute name as used in queries
 * @type: its type
 * @group: its group; attributes must be added meta first, then correlation,
 *   then payload
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the attribute was added; %FALSE for an invalid or
 *   duplicate name or out-of-order group
 */
gboolean
tandem_stream_definition_add_attribute (TandemStreamDefinition *self,
					const char *name,
					TandemAttributeType type,
					TandemAttributeGroup group,
					GError **error)
{
	Attribute attr;

	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), FALSE);
	g_return_val_if_fail (name != NULL, FALSE);
	g_return_val_if_fail ((guint) type < G_N_ELEMENTS (type_names), FALSE);

	if (!valid_identifier (name)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "stream %s: invalid attribute name \"%s\": use letters, digits and '_', not starting with a digit",
			     self->id, name);
		return FALSE;
	}
	if (tandem_stream_definition_lookup (self, name) >= 0) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "stream %s: attribute '%s' is defined twice", self->id, name);
		return FALSE;
	}
	if (self->attributes->len > 0 &&
	    g_array_index (self->attributes, Attribute, self->attributes->len - 1).group > group) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "stream %s: attribute '%s' is out of order: meta, then correlation, then payload",
			     self->id, name);
		return FALSE;
	}
	if (self->attributes->len >= G_MAXUINT16) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "stream %s: too many attributes", self->id);
		return FALSE;
	}
	attr.name = g_strdup (name);
	attr.type = type;
	attr.group = group;
	g_array_append_val (self->attributes, attr);
	g_byte_array_append (self->types, (const guint8 *) &(guint8) { (guint8) type }, 1);
	return TRUE;
}

static gboolean
add_json_group (TandemStreamDefinition *self,
		JsonObject *root,
		const char *member,
		const char *prefix,
		TandemAttributeGroup group,
		GError **error)
{
	JsonNode *node = json_object_get_member (root, member);
	JsonArray *array;

	if (node == NULL || JSON_NODE_HOLDS_NULL (node))
		return TRUE;
	if (!JSON_NODE_HOLDS_ARRAY (node)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "stream definition: \"%s\" must be an array", member);
		return FALSE;
	}
	array = json_node_get_array (node);
	for (guint i = 0; i < json_array_get_length (array); i++) {
		JsonNode *item = json_array_get_element (array, i);
		JsonObject *obj;
		const char *name;
		const char *type_name;
		TandemAttributeType type;
		g_autofree char *full = NULL;

		if (!JSON_NODE_HOLDS_OBJECT (item)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "stream definition: %s[%u] must be an object {\"name\", \"type\"}", member, i);
			return FALSE;
		}
		obj = json_node_get_object (item);
		name = json_object_get_string_member_with_default (obj, "name", NULL);
		type_name = json_object_get_string_member_with_default (obj, "type", NULL);
		if (name == NULL || type_name == NULL) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "stream definition: %s[%u] needs string members \"name\" and \"type\"",
				     member, i);
			return FALSE;
		}
		if (!tandem_attribute_type_from_string (type_name, &type)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "stream definition: %s[%u] (%s): unknown type \"%s\" (expected INT, LONG, FLOAT, DOUBLE, BOOL or STRING)",
				     member, i, name, type_name);
			return FALSE;
		}
		full = g_strconcat (prefix, name, NULL);
		if (!tandem_stream_definition_add_attribute (self, full, type, group, error))
			return FALSE;
	}
	return TRUE;
}

/**
 * tandem_stream_definition_new_from_json:
 * @data: a WSO2 stream definition:
 *   `{"name", "version", "metaData": [{"name", "type"}], "correlationData": [...], "payloadData": [...]}`
 * @length: the length of @data, or -1 if nul-terminated
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the definition, or %NULL with a
 *   %TANDEM_ERROR_INVALID_ARGUMENT error saying what is wrong and where
 */
TandemStreamDefinition *
tandem_stream_definition_new_from_json (const char *data, gssize length, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable ();
	g_autoptr(GError) local_error = NULL;
	g_autoptr(TandemStreamDefinition) self = NULL;
	JsonNode *root;
	JsonObject *obj;
	const char *name;
	const char *version;

	g_return_val_if_fail (data != NULL, NULL);

	if (!tandem_json_check_text (data, length, 16, &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "stream definition: %s", local_error->message);
		return NULL;
	}
	if (!json_parser_load_from_data (parser, data, length, &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "stream definition: %s", local_error->message);
		return NULL;
	}
	root = json_parser_get_root (parser);
	if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "stream definition: expected a JSON object");
		return NULL;
	}
	obj = json_node_get_object (root);
	name = json_object_get_string_member_with_default (obj, "name", NULL);
	version = json_object_get_string_member_with_default (obj, "version", "1.0.0");
	if (name == NULL || !valid_identifier (name)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "stream definition: \"name\" must be a stream name (letters, digits, '_'), got %s",
			     name != NULL ? name : "nothing");
		return NULL;
	}
	if (version == NULL || *version == '\0' || strchr (version, ':') != NULL) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "stream definition: \"version\" must be a non-empty string without ':'");
		return NULL;
	}
	self = tandem_stream_definition_new (name, version);
	if (!add_json_group (self, obj, "metaData", "meta_", TANDEM_ATTRIBUTE_GROUP_META, error) ||
	    !add_json_group (self, obj, "correlationData", "correlation_", TANDEM_ATTRIBUTE_GROUP_CORRELATION, error) ||
	    !add_json_group (self, obj, "payloadData", "", TANDEM_ATTRIBUTE_GROUP_PAYLOAD, error))
		return NULL;
	return g_steal_pointer (&self);
}

/**
 * tandem_stream_definition_new_from_file:
 * @path: a WSO2 stream definition JSON file
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the definition, or %NULL with an error
 *   naming the file
 */
TandemStreamDefinition *
tandem_stream_definition_new_from_file (const char *path, GError **error)
{
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr(GError) local_error = NULL;
	TandemStreamDefinition *self;

	g_return_val_if_fail (path != NULL, NULL);

	if (!g_file_get_contents (path, &contents, &length, &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT, "%s", local_error->message);
		return NULL;
	}
	self = tandem_stream_definition_new_from_json (contents, (gssize) length, &local_error);
	if (self == NULL)
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT, "%s: %s", path,
			     local_error->message);
	return self;
}

/**
 * tandem_stream_definition_get_name:
 * @self: a #TandemStreamDefinition
 *
 * Returns: the stream name
 */
const char *
tandem_stream_definition_get_name (TandemStreamDefinition *self)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), NULL);
	return self->name;
}

/**
 * tandem_stream_definition_get_version:
 * @self: a #TandemStreamDefinition
 *
 * Returns: the stream version
 */
const char *
tandem_stream_definition_get_version (TandemStreamDefinition *self)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), NULL);
	return self->version;
}

/**
 * tandem_stream_definition_get_id:
 * @self: a #TandemStreamDefinition
 *
 * Returns: the stream id, `name:version`
 */
const char *
tandem_stream_definition_get_id (TandemStreamDefinition *self)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), NULL);
	return self->id;
}

/**
 * tandem_stream_definition_get_n_attributes:
 * @self: a #TandemStreamDefinition
 *
 * Returns: the number of attributes
 */
guint
tandem_stream_definition_get_n_attributes (TandemStreamDefinition *self)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), 0);
	return self->attributes->len;
}

/**
 * tandem_stream_definition_get_attribute_name:
 * @self: a #TandemStreamDefinition
 * @index: an attribute index
 *
 * Returns: the name of attribute @index
 */
const char *
tandem_stream_definition_get_attribute_name (TandemStreamDefinition *self, guint index)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), NULL);
	g_return_val_if_fail (index < self->attributes->len, NULL);
	return g_array_index (self->attributes, Attribute, index).name;
}

/**
 * tandem_stream_definition_get_attribute_type:
 * @self: a #TandemStreamDefinition
 * @index: an attribute index
 *
 * Returns: the type of attribute @index
 */
TandemAttributeType
tandem_stream_definition_get_attribute_type (TandemStreamDefinition *self, guint index)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), TANDEM_ATTRIBUTE_TYPE_INT);
	g_return_val_if_fail (index < self->attributes->len, TANDEM_ATTRIBUTE_TYPE_INT);
	return g_array_index (self->attributes, Attribute, index).type;
}

/**
 * tandem_stream_definition_get_attribute_group:
 * @self: a #TandemStreamDefinition
 * @index: an attribute index
 *
 * Returns: the group of attribute @index
 */
TandemAttributeGroup
tandem_stream_definition_get_attribute_group (TandemStreamDefinition *self, guint index)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), TANDEM_ATTRIBUTE_GROUP_PAYLOAD);
	g_return_val_if_fail (index < self->attributes->len, TANDEM_ATTRIBUTE_GROUP_PAYLOAD);
	return g_array_index (self->attributes, Attribute, index).group;
}

/**
 * tandem_stream_definition_lookup:
 * @self: a #TandemStreamDefinition
 * @name: an attribute name
 *
 * Returns: the index of attribute @name, or -1
 */
int
tandem_stream_definition_lookup (TandemStreamDefinition *self, const char *name)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), -1);
	g_return_val_if_fail (name != NULL, -1);

	for (guint i = 0; i < self->attributes->len; i++) {
		if (strcmp (g_array_index (self->attributes, Attribute, i).name, name) == 0)
			return (int) i;
	}
	return -1;
}

/**
 * tandem_stream_definition_equal:
 * @a: a #TandemStreamDefinition
 * @b: a #TandemStreamDefinition
 *
 * Returns: %TRUE if @a and @b have the same id and the same attributes
 *   (names, types and groups, in order)
 */
gboolean
tandem_stream_definition_equal (TandemStreamDefinition *a, TandemStreamDefinition *b)
{
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (a), FALSE);
	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (b), FALSE);

	if (strcmp (a->id, b->id) != 0 || a->attributes->len != b->attributes->len)
		return FALSE;
	for (guint i = 0; i < a->attributes->len; i++) {
		Attribute *x = &g_array_index (a->attributes, Attribute, i);
		Attribute *y = &g_array_index (b->attributes, Attribute, i);

		if (strcmp (x->name, y->name) != 0 || x->type != y->type || x->group != y->group)
			return FALSE;
	}
	return TRUE;
}

/**
 * tandem_stream_definition_to_siddhi:
 * @self: a #TandemStreamDefinition
 *
 * Returns: (transfer full): the definition as SiddhiQL,
 *   `define stream NAME (a int, b string);`
 */
char *
tandem_stream_definition_to_siddhi (TandemStreamDefinition *self)
{
	GString *out;

	g_return_val_if_fail (TANDEM_IS_STREAM_DEFINITION (self), NULL);

	out = g_string_new (NULL);
	g_string_append_printf (out, "define stream %s (", self->name);
	for (guint i = 0; i < self->attributes->len; i++) {
		Attribute *attr = &g_array_index (self->attributes, Attribute, i);

		g_string_append_printf (out, "%s%s %s", i > 0 ? ", " : "", attr->name,
					tandem_attribute_type_to_string (attr->type));
	}
	g_string_append (out, ");");
	return g_string_free (out, FALSE);
}

/* The attribute types, one byte each (for tandem_event_new()). */
const guint8 *
tandem_stream_definition_get_types (TandemStreamDefinition *self)
{
	return self->types->data;
}
