/* tandemctl-status.h: `tandemctl status`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

int tandemctl_status (int argc, char **argv);
