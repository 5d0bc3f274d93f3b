/* tandem-snapshot.h: the versioned, checksummed snapshot container
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include <glib.h>

#include "tandem-macros.h"

G_BEGIN_DECLS

/**
 * TANDEM_SNAPSHOT_FORMAT_VERSION:
 *
 * The version of the snapshot container that tandem_snapshot_encode()
 * writes and tandem_snapshot_decode() reads.
 */
#define TANDEM_SNAPSHOT_FORMAT_VERSION 1

/**
 * TANDEM_SNAPSHOT_MAX_NAME:
 *
 * The longest plan name a snapshot holds, in bytes.
 */
#define TANDEM_SNAPSHOT_MAX_NAME 255

/**
 * TANDEM_SNAPSHOT_OVERHEAD:
 *
 * The bytes a snapshot adds to its payload, besides the plan name: the
 * fixed part of the header and the checksum.
 */
#define TANDEM_SNAPSHOT_OVERHEAD 44

TANDEM_AVAILABLE_IN_ALL
guint32 tandem_crc32c (guint32 crc, const guint8 *data, gsize length);

TANDEM_AVAILABLE_IN_ALL
GBytes *tandem_snapshot_encode (const char *plan, guint64 epoch, guint64 seq, GBytes *payload);

TANDEM_AVAILABLE_IN_ALL
gboolean tandem_snapshot_decode (GBytes *snapshot,
				 char **plan,
				 guint64 *epoch,
				 guint64 *seq,
				 GBytes **payload,
				 GError **error);

G_END_DECLS
