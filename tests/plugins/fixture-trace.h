/* fixture-trace.h: the trace file shared by the lifecycle fixtures
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A fixture whose `trace-file` property is set appends one line per lifecycle
 * step that succeeded (`setup NAME`, `start NAME`, `stop NAME`, `flush NAME`)
 * to that file.  The file is opened with O_APPEND and each line is written with
 * one write(), so several instances (or processes) can share one trace file.
 */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>

#include <tandem.h>

static inline gboolean
fixture_trace (const char *trace_file, const char *step, const char *instance, GError **error)
{
	g_autofree char *line = NULL;
	gsize length;
	gssize written;
	int fd;
	int saved_errno;

	if (trace_file == NULL || *trace_file == '\0')
		return TRUE;

	line = g_strdup_printf ("%s %s\n", step, instance);
	length = strlen (line);

	fd = open (trace_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		saved_errno = errno;
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "fixture: cannot open trace file %s: %s", trace_file,
			     g_strerror (saved_errno));
		return FALSE;
	}

	do
		written = write (fd, line, length);
	while (written < 0 && errno == EINTR);
	saved_errno = errno;
	close (fd);

	if (written < 0 || (gsize) written != length) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "fixture: cannot write to trace file %s: %s", trace_file,
			     written < 0 ? g_strerror (saved_errno) : "short write");
		return FALSE;
	}

	return TRUE;
}
