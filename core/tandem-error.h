/* tandem-error.h: the one public error domain of Tandem
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include "tandem-macros.h"

G_BEGIN_DECLS

/**
 * TANDEM_ERROR:
 *
 * The error domain of Tandem.  Errors of this domain are mapped onto D-Bus
 * errors named `io.tandem.Tandem1.Error.<Name>`.
 */
#define TANDEM_ERROR (tandem_error_quark ())

/**
 * TandemError:
 * @TANDEM_ERROR_FAILED: a failure that fits no other code
 * @TANDEM_ERROR_INVALID_ARGUMENT: an argument or input value is not valid
 * @TANDEM_ERROR_INVALID_CONFIG: the configuration is not valid (the message names file and line)
 * @TANDEM_ERROR_NOT_A_PLUGIN: a file in the plugin path is not a Tandem plugin
 * @TANDEM_ERROR_ABI_MISMATCH: a plugin was built for an incompatible plugin ABI
 * @TANDEM_ERROR_DUPLICATE_PLUGIN: a plugin with the same name was already found
 * @TANDEM_ERROR_INSECURE_FILE: a file is writable by group or others, or has a foreign owner
 * @TANDEM_ERROR_PLUGIN_NOT_FOUND: no usable plugin has the requested name
 * @TANDEM_ERROR_STATE_DIR: the state directory cannot be created, read or written
 * @TANDEM_ERROR_BUSY: the resource is in use (for example the state directory by another node)
 * @TANDEM_ERROR_NOT_SUPPORTED: the operation is not supported by this object
 * @TANDEM_ERROR_PLAN_SYNTAX: an execution plan does not parse (the message starts with line:column)
 * @TANDEM_ERROR_PLAN_INVALID: an execution plan parses but is not valid (unknown stream or
 *   attribute, type mismatch...; the message starts with line:column)
 * @TANDEM_ERROR_INVALID_EVENT: an event does not match its stream definition
 * @TANDEM_ERROR_INVALID_SNAPSHOT: a snapshot is damaged or belongs to another plan
 * @TANDEM_ERROR_AUTH_FAILED: a peer or message failed authentication (wrong cluster key, bad MAC, replay)
 * @TANDEM_ERROR_STALE_EPOCH: something carries an HA epoch older than the current one
 * @TANDEM_ERROR_TIMED_OUT: an operation did not finish in time
 *
 * Error codes of the %TANDEM_ERROR domain.
 */
typedef enum {
	TANDEM_ERROR_FAILED,
	TANDEM_ERROR_INVALID_ARGUMENT,
	TANDEM_ERROR_INVALID_CONFIG,
	TANDEM_ERROR_NOT_A_PLUGIN,
	TANDEM_ERROR_ABI_MISMATCH,
	TANDEM_ERROR_DUPLICATE_PLUGIN,
	TANDEM_ERROR_INSECURE_FILE,
	TANDEM_ERROR_PLUGIN_NOT_FOUND,
	TANDEM_ERROR_STATE_DIR,
	TANDEM_ERROR_BUSY,
	TANDEM_ERROR_NOT_SUPPORTED,
	TANDEM_ERROR_PLAN_SYNTAX,
	TANDEM_ERROR_PLAN_INVALID,
	TANDEM_ERROR_INVALID_EVENT,
	TANDEM_ERROR_INVALID_SNAPSHOT,
	TANDEM_ERROR_AUTH_FAILED,
	TANDEM_ERROR_STALE_EPOCH,
	TANDEM_ERROR_TIMED_OUT,
} TandemError;

TANDEM_AVAILABLE_IN_ALL
GQuark tandem_error_quark (void);

G_END_DECLS
