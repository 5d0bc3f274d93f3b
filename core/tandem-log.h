/* tandem-log.h: structured logging for tandemd and embedders
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include "tandem-types.h"

G_BEGIN_DECLS

TANDEM_AVAILABLE_IN_ALL
void tandem_log_install_writer (void);
TANDEM_AVAILABLE_IN_ALL
void tandem_log_set_level (TandemLogLevel level);
TANDEM_AVAILABLE_IN_ALL
TandemLogLevel tandem_log_get_level (void);
TANDEM_AVAILABLE_IN_ALL
const char *tandem_log_level_to_string (TandemLogLevel level);

G_END_DECLS
