/* tandem-sd-notify.h: the systemd notification protocol, without libsystemd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

gboolean tandem_sd_notify (const char *state);
