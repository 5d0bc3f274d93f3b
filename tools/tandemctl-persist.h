/* tandemctl-persist.h: `tandemctl persist`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

int tandemctl_persist (int argc, char **argv);
