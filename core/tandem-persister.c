/* tandem-persister.c: base class of snapshot persister plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Persister"

#include "config.h"

#include "tandem-error.h"
#include "tandem-persister.h"

/**
 * TandemPersister:
 *
 * The base class of persister plugins (`plugins/persisters/`), which keep
 * execution-plan snapshots in files or a database so that a restart of the
 * whole cluster loses nothing.
 */

G_DEFINE_ABSTRACT_TYPE (TandemPersister, tandem_persister, TANDEM_TYPE_PLUGIN)

static void
tandem_persister_class_init (TandemPersisterClass *klass)
{
}

static void
tandem_persister_init (TandemPersister *self)
{
}

static gboolean
check_names (const char *tenant, const char *plan, GError **error)
{
	if (tenant == NULL || *tenant == '\0' || plan == NULL || *plan == '\0') {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "a snapshot needs a tenant and a plan name");
		return FALSE;
	}
	return TRUE;
}

/**
 * tandem_persister_save:
 * @self: a #TandemPersister
 * @tenant: the tenant the plan belongs to
 * @plan: the execution plan name
 * @snapshot: the snapshot, in the core's checksummed snapshot format
 * @error: return location for a #GError
 *
 * Keeps @snapshot durably.  May block: call it from a worker thread.
 *
 * Returns: %TRUE once @snapshot is durable
 */
gboolean
tandem_persister_save (TandemPersister *self,
		       const char *tenant,
		       const char *plan,
		       GBytes *snapshot,
		       GError **error)
{
	TandemPersisterClass *klass = TANDEM_PERSISTER_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_PERSISTER (self), FALSE);
	g_return_val_if_fail (snapshot != NULL, FALSE);

	if (!check_names (tenant, plan, error))
		return FALSE;
	if (klass->save == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
			     "persister %s cannot save snapshots", G_OBJECT_TYPE_NAME (self));
		return FALSE;
	}
	return klass->save (self, tenant, plan, snapshot, error);
}

/**
 * tandem_persister_load_latest:
 * @self: a #TandemPersister
 * @tenant: the tenant the plan belongs to
 * @plan: the execution plan name
 * @error: return location for a #GError
 *
 * Finds the newest valid snapshot of @plan.  May block: call it from a worker
 * thread.
 *
 * Returns: (transfer full) (nullable): the snapshot, or %NULL with @error
 *   unset when there is none
 */
GBytes *
tandem_persister_load_latest (TandemPersister *self,
			      const char *tenant,
			      const char *plan,
			      GError **error)
{
	TandemPersisterClass *klass = TANDEM_PERSISTER_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_PERSISTER (self), NULL);

	if (!check_names (tenant, plan, error))
		return NULL;
	if (klass->load_latest == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
			     "persister %s cannot load snapshots", G_OBJECT_TYPE_NAME (self));
		return NULL;
	}
	return klass->load_latest (self, tenant, plan, error);
}
