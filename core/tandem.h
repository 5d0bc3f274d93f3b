/* tandem.h: the one header of libtandem
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define __TANDEM_H_INSIDE__

#include "tandem-macros.h"
#include "tandem-version.h"
#include "tandem-types.h"
#include "tandem-enums.h"
#include "tandem-error.h"
#include "tandem-config.h"
#include "tandem-plugin.h"
#include "tandem-receiver.h"
#include "tandem-store.h"
#include "tandem-membership.h"
#include "tandem-persister.h"
#include "tandem-snapshot.h"
#include "tandem-plugin-registry.h"
#include "tandem-node.h"
#include "tandem-log.h"
#include "tandem-stream-definition.h"
#include "tandem-event.h"
#include "tandem-plan.h"
#include "tandem-json.h"

#undef __TANDEM_H_INSIDE__
