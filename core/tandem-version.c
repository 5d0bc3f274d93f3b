/* tandem-version.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include "tandem-version.h"

/**
 * tandem_get_version:
 *
 * Returns: the version of the libtandem that is running, such as `0.1.0`
 */
const char *
tandem_get_version (void)
{
	return PACKAGE_VERSION;
}
