/* tandemctl-query.h: `tandemctl query`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

int tandemctl_query (int argc, char **argv);
