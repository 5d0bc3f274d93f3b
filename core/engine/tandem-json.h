/* tandem-json.h: typed event values from JSON, shared by receivers and tools
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <json-glib/json-glib.h>

#include "tandem-event.h"

G_BEGIN_DECLS

TANDEM_AVAILABLE_IN_ALL
gboolean tandem_event_set_value_from_json (TandemEvent *self,
					   guint index,
					   JsonNode *value,
					   GError **error);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_json_check_text (const char *text, gssize length, guint max_depth, GError **error);
TANDEM_AVAILABLE_IN_ALL
char *tandem_json_describe (JsonNode *node);
TANDEM_AVAILABLE_IN_ALL
void tandem_json_append_string (GString *out, const char *s);
TANDEM_AVAILABLE_IN_ALL
void tandem_json_append_real (GString *out, double value, gboolean is_float);

G_END_DECLS
