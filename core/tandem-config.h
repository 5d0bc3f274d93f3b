/* tandem-config.h: tandem.conf and its drop-ins, with file and line for every key
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

#define TANDEM_TYPE_CONFIG (tandem_config_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (TandemConfig, tandem_config, TANDEM, CONFIG, GObject)

#define TANDEM_TYPE_CONFIG_SECTION (tandem_config_section_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_FINAL_TYPE (TandemConfigSection, tandem_config_section, TANDEM, CONFIG_SECTION, GObject)

TANDEM_AVAILABLE_IN_ALL
TandemConfig *tandem_config_new (void);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_config_load_file (TandemConfig *self, const char *path, GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_config_load_data (TandemConfig *self,
				  const char *data,
				  gssize length,
				  const char *origin,
				  GError **error);
TANDEM_AVAILABLE_IN_ALL
GPtrArray *tandem_config_get_sections (TandemConfig *self);
TANDEM_AVAILABLE_IN_ALL
TandemConfigSection *tandem_config_get_section (TandemConfig *self, const char *name);
TANDEM_AVAILABLE_IN_ALL
GPtrArray *tandem_config_get_files (TandemConfig *self);
TANDEM_AVAILABLE_IN_ALL
GPtrArray *tandem_config_get_warnings (TandemConfig *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_config_add_warning (TandemConfig *self, const char *message);
TANDEM_AVAILABLE_IN_ALL
char *tandem_config_to_string (TandemConfig *self, gboolean mask_secrets);

TANDEM_AVAILABLE_IN_ALL
const char *tandem_config_section_get_name (TandemConfigSection *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_config_section_get_prefix (TandemConfigSection *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_config_section_get_instance (TandemConfigSection *self);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_config_section_get_file (TandemConfigSection *self);
TANDEM_AVAILABLE_IN_ALL
guint tandem_config_section_get_line (TandemConfigSection *self);
TANDEM_AVAILABLE_IN_ALL
GStrv tandem_config_section_dup_keys (TandemConfigSection *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_config_section_has_key (TandemConfigSection *self, const char *key);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_config_section_get_value (TandemConfigSection *self, const char *key);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_config_section_get_origin (TandemConfigSection *self,
					      const char *key,
					      guint *line);
TANDEM_AVAILABLE_IN_ALL
char *tandem_config_section_describe_key (TandemConfigSection *self, const char *key);
TANDEM_AVAILABLE_IN_ALL
void tandem_config_section_mark_used (TandemConfigSection *self, const char *key);
TANDEM_AVAILABLE_IN_ALL
void tandem_config_section_mark_secret (TandemConfigSection *self, const char *key);
TANDEM_AVAILABLE_IN_ALL
GStrv tandem_config_section_dup_unused_keys (TandemConfigSection *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_config_section_lookup (TandemConfigSection *self,
				       GParamSpec *pspec,
				       GValue *value,
				       GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_config_section_apply (TandemConfigSection *self, GObject *object, GError **error);
TANDEM_AVAILABLE_IN_ALL
void tandem_config_section_set_error (TandemConfigSection *self,
				      const char *key,
				      GError **error,
				      const char *format,
				      ...) G_GNUC_PRINTF (4, 5);

G_END_DECLS
