/* tandem-file-persister.h: the file persister plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TANDEM_TYPE_FILE_PERSISTER:
 *
 * The #GType of #TandemFilePersister.
 */
#define TANDEM_TYPE_FILE_PERSISTER (tandem_file_persister_get_type ())
G_DECLARE_FINAL_TYPE (TandemFilePersister,
		      tandem_file_persister,
		      TANDEM,
		      FILE_PERSISTER,
		      TandemPersister)

G_END_DECLS
