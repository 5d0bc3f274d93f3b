/* tandem-stream-definition.h: typed stream definitions (name:version)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <glib-object.h>

#include "tandem-types.h"

G_BEGIN_DECLS

/**
 * TandemAttributeType:
 * @TANDEM_ATTRIBUTE_TYPE_INT: 32-bit signed integer
 * @TANDEM_ATTRIBUTE_TYPE_LONG: 64-bit signed integer
 * @TANDEM_ATTRIBUTE_TYPE_FLOAT: IEEE binary32
 * @TANDEM_ATTRIBUTE_TYPE_DOUBLE: IEEE binary64
 * @TANDEM_ATTRIBUTE_TYPE_BOOL: boolean
 * @TANDEM_ATTRIBUTE_TYPE_STRING: UTF-8 string
 *
 * The type of an attribute, as in Siddhi (`int`, `long`, `float`, `double`,
 * `bool`, `string`).
 */
typedef enum {
	TANDEM_ATTRIBUTE_TYPE_INT,
	TANDEM_ATTRIBUTE_TYPE_LONG,
	TANDEM_ATTRIBUTE_TYPE_FLOAT,
	TANDEM_ATTRIBUTE_TYPE_DOUBLE,
	TANDEM_ATTRIBUTE_TYPE_BOOL,
	TANDEM_ATTRIBUTE_TYPE_STRING,
} TandemAttributeType;

/**
 * TandemAttributeGroup:
 * @TANDEM_ATTRIBUTE_GROUP_META: meta data (named `meta_NAME` in queries)
 * @TANDEM_ATTRIBUTE_GROUP_CORRELATION: correlation data (named `correlation_NAME`)
 * @TANDEM_ATTRIBUTE_GROUP_PAYLOAD: payload data (named `NAME`)
 *
 * The part of a WSO2 event an attribute belongs to.  Attributes are ordered
 * meta first, then correlation, then payload.
 */
typedef enum {
	TANDEM_ATTRIBUTE_GROUP_META,
	TANDEM_ATTRIBUTE_GROUP_CORRELATION,
	TANDEM_ATTRIBUTE_GROUP_PAYLOAD,
} TandemAttributeGroup;

TANDEM_AVAILABLE_IN_ALL
const char *tandem_attribute_type_to_string (TandemAttributeType type);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_attribute_type_from_string (const char *str, TandemAttributeType *type);

#define TANDEM_TYPE_STREAM_DEFINITION (tandem_stream_definition_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (TandemStreamDefinition, tandem_stream_definition, TANDEM, STREAM_DEFINITION, GObject)

TANDEM_AVAILABLE_IN_ALL
TandemStreamDefinition *tandem_stream_definition_new (const char *name, const char *version);
TANDEM_AVAILABLE_IN_ALL
TandemStreamDefinition *tandem_stream_definition_new_from_json (const char *data,
								gssize length,
								GError **error);
TANDEM_AVAILABLE_IN_ALL
TandemStreamDefinition *tandem_stream_definition_new_from_file (const char *path, GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_stream_definition_add_attribute (TandemStreamDefinition *self,
						 const char *name,
						 TandemAttributeType type,
						 TandemAttributeGroup group,
						 GError **error);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_stream_definition_get_name (TandemStreamDefinition *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_stream_definition_get_version (TandemStreamDefinition *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_stream_definition_get_id (TandemStreamDefinition *self);
TANDEM_AVAILABLE_IN_ALL
guint tandem_stream_definition_get_n_attributes (TandemStreamDefinition *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_stream_definition_get_attribute_name (TandemStreamDefinition *self, guint index);
TANDEM_AVAILABLE_IN_ALL
TandemAttributeType tandem_stream_definition_get_attribute_type (TandemStreamDefinition *self,
								 guint index);
TANDEM_AVAILABLE_IN_ALL
TandemAttributeGroup tandem_stream_definition_get_attribute_group (TandemStreamDefinition *self,
								   guint index);
TANDEM_AVAILABLE_IN_ALL
int tandem_stream_definition_lookup (TandemStreamDefinition *self, const char *name);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_stream_definition_equal (TandemStreamDefinition *a, TandemStreamDefinition *b);
TANDEM_AVAILABLE_IN_ALL
char *tandem_stream_definition_to_siddhi (TandemStreamDefinition *self);

G_END_DECLS
