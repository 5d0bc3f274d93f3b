/* tandem-error.c
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <gio/gio.h>

#include "tandem-error.h"

static const GDBusErrorEntry tandem_error_entries[] = {
	{ TANDEM_ERROR_FAILED, "io.tandem.Tandem1.Error.Failed" },
	{ TANDEM_ERROR_INVALID_ARGUMENT, "io.tandem.Tandem1.Error.InvalidArgument" },
	{ TANDEM_ERROR_INVALID_CONFIG, "io.tandem.Tandem1.Error.InvalidConfig" },
	{ TANDEM_ERROR_NOT_A_PLUGIN, "io.tandem.Tandem1.Error.NotAPlugin" },
	{ TANDEM_ERROR_ABI_MISMATCH, "io.tandem.Tandem1.Error.AbiMismatch" },
	{ TANDEM_ERROR_DUPLICATE_PLUGIN, "io.tandem.Tandem1.Error.DuplicatePlugin" },
	{ TANDEM_ERROR_INSECURE_FILE, "io.tandem.Tandem1.Error.InsecureFile" },
	{ TANDEM_ERROR_PLUGIN_NOT_FOUND, "io.tandem.Tandem1.Error.PluginNotFound" },
	{ TANDEM_ERROR_STATE_DIR, "io.tandem.Tandem1.Error.StateDir" },
	{ TANDEM_ERROR_BUSY, "io.tandem.Tandem1.Error.Busy" },
	{ TANDEM_ERROR_NOT_SUPPORTED, "io.tandem.Tandem1.Error.NotSupported" },
	{ TANDEM_ERROR_PLAN_SYNTAX, "io.tandem.Tandem1.Error.PlanSyntax" },
	{ TANDEM_ERROR_PLAN_INVALID, "io.tandem.Tandem1.Error.PlanInvalid" },
	{ TANDEM_ERROR_INVALID_EVENT, "io.tandem.Tandem1.Error.InvalidEvent" },
	{ TANDEM_ERROR_INVALID_SNAPSHOT, "io.tandem.Tandem1.Error.InvalidSnapshot" },
	{ TANDEM_ERROR_AUTH_FAILED, "io.tandem.Tandem1.Error.AuthFailed" },
	{ TANDEM_ERROR_STALE_EPOCH, "io.tandem.Tandem1.Error.StaleEpoch" },
	{ TANDEM_ERROR_TIMED_OUT, "io.tandem.Tandem1.Error.TimedOut" },
};

G_STATIC_ASSERT (G_N_ELEMENTS (tandem_error_entries) == TANDEM_ERROR_TIMED_OUT + 1);

/**
 * tandem_error_quark:
 *
 * Returns: the quark of the %TANDEM_ERROR domain, registered with D-Bus names
 */
GQuark
tandem_error_quark (void)
{
	static gsize quark = 0;

	g_dbus_error_register_error_domain ("tandem-error-quark",
					    &quark,
					    tandem_error_entries,
					    G_N_ELEMENTS (tandem_error_entries));
	return (GQuark) quark;
}
