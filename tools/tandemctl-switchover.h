/* tandemctl-switchover.h: `tandemctl switchover`
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

int tandemctl_switchover (int argc, char **argv);
