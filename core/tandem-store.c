/* tandem-store.c: base class of record store plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Store"

#include "config.h"

#include "tandem-store.h"

/**
 * TandemStore:
 *
 * The base class of record store plugins (`plugins/stores/`).  A store keeps
 * raw events and plan outputs in a database; writes are idempotent (keyed by
 * the cluster identity of what produced them) so that a replay after a
 * failover never doubles a row.
 */

G_DEFINE_ABSTRACT_TYPE (TandemStore, tandem_store, TANDEM_TYPE_PLUGIN)

static void
tandem_store_class_init (TandemStoreClass *klass)
{
}

static void
tandem_store_init (TandemStore *self)
{
}

/**
 * tandem_store_flush:
 * @self: a #TandemStore
 * @cancellable: (nullable): a #GCancellable
 * @error: return location for a #GError
 *
 * Writes everything @self has queued and returns once it is committed.  A
 * store without a `flush` vfunc writes synchronously and has nothing to do.
 *
 * Returns: %TRUE when everything queued is committed
 */
gboolean
tandem_store_flush (TandemStore *self, GCancellable *cancellable, GError **error)
{
	TandemStoreClass *klass = TANDEM_STORE_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_STORE (self), FALSE);
	g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);

	if (klass->flush == NULL)
		return TRUE;
	return klass->flush (self, cancellable, error);
}
