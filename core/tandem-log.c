/* tandem-log.c: a structured log writer with a run-time level
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tandem-log.h"

static gint log_level = TANDEM_LOG_LEVEL_MESSAGE;

static const char *const level_names[] = {
	[TANDEM_LOG_LEVEL_WARNING] = "warning",
	[TANDEM_LOG_LEVEL_MESSAGE] = "message",
	[TANDEM_LOG_LEVEL_INFO] = "info",
	[TANDEM_LOG_LEVEL_DEBUG] = "debug",
};

/**
 * tandem_log_level_to_string:
 * @level: a #TandemLogLevel
 *
 * Returns: the name of @level as written in config (`warning`, `message`,
 *   `info`, `debug`)
 */
const char *
tandem_log_level_to_string (TandemLogLevel level)
{
	if ((guint) level >= G_N_ELEMENTS (level_names))
		return "unknown";
	return level_names[level];
}

/**
 * tandem_log_set_level:
 * @level: the most verbose level to write
 *
 * Sets how much the writer installed by tandem_log_install_writer() writes.
 * Safe to call from any thread, for example on SIGHUP.
 */
void
tandem_log_set_level (TandemLogLevel level)
{
	g_atomic_int_set (&log_level, (gint) CLAMP (level, TANDEM_LOG_LEVEL_WARNING, TANDEM_LOG_LEVEL_DEBUG));
}

/**
 * tandem_log_get_level:
 *
 * Returns: the level set by tandem_log_set_level()
 */
TandemLogLevel
tandem_log_get_level (void)
{
	return (TandemLogLevel) g_atomic_int_get (&log_level);
}

static const char *
field_domain (const GLogField *fields, gsize n_fields)
{
	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0 (fields[i].key, "GLIB_DOMAIN") == 0)
			return fields[i].value;
	}
	return NULL;
}

/* G_MESSAGES_DEBUG still works as in every GLib program: it turns on debug
 * (and info) output for the listed domains, or for all of them. */
static gboolean
debug_domain_enabled (const char *domain)
{
	const char *env = g_getenv ("G_MESSAGES_DEBUG");

	if (env == NULL || *env == '\0')
		return FALSE;
	if (strcmp (env, "all") == 0)
		return TRUE;
	return domain != NULL && strstr (env, domain) != NULL;
}

static gboolean
level_enabled (GLogLevelFlags flags, const GLogField *fields, gsize n_fields)
{
	TandemLogLevel level = tandem_log_get_level ();

	if (flags & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
		return TRUE;
	if (flags & G_LOG_LEVEL_MESSAGE)
		return level >= TANDEM_LOG_LEVEL_MESSAGE;
	if (flags & G_LOG_LEVEL_INFO)
		return level >= TANDEM_LOG_LEVEL_INFO ||
		       debug_domain_enabled (field_domain (fields, n_fields));
	return level >= TANDEM_LOG_LEVEL_DEBUG ||
	       debug_domain_enabled (field_domain (fields, n_fields));
}

static GLogWriterOutput
tandem_log_writer (GLogLevelFlags flags,
		   const GLogField *fields,
		   gsize n_fields,
		   gpointer user_data)
{
	g_autofree char *line = NULL;

	if (!level_enabled (flags, fields, n_fields))
		return G_LOG_WRITER_HANDLED;

	if (g_log_writer_is_journald (fileno (stderr)) &&
	    g_log_writer_journald (flags, fields, n_fields, user_data) == G_LOG_WRITER_HANDLED)
		return G_LOG_WRITER_HANDLED;

	/* Everything goes to stderr, whatever the level: a daemon's stdout is
	 * for what the operator asked for (--list-plugins, --print-config). */
	line = g_log_writer_format_fields (flags, fields, n_fields, g_log_writer_supports_color (fileno (stderr)));
	fputs (line, stderr);
	fputc ('\n', stderr);
	fflush (stderr);
	return G_LOG_WRITER_HANDLED;
}

/**
 * tandem_log_install_writer:
 *
 * Installs the Tandem log writer as the process's GLib structured log writer:
 * journald when stderr is connected to the journal, otherwise one formatted
 * line per message on stderr, filtered by tandem_log_set_level() and
 * `G_MESSAGES_DEBUG`.  Call it once, early in main(); embedders that have
 * their own logging should not call it.
 */
void
tandem_log_install_writer (void)
{
	g_log_set_writer_func (tandem_log_writer, NULL, NULL);
}
