/* tandem-test-util.c: helpers of the tests that run tandemd as a process
 *
 * Every daemon is started on this machine, gets PR_SET_PDEATHSIG so that
 * none outlives a failed test, reports readiness on its own NOTIFY_SOCKET,
 * and is ended by PID.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>

#include "tandem-test-util.h"

/**
 * tandem_test_make_tmpdir:
 * @tmpl: a name ending in `XXXXXX`
 *
 * Returns: (transfer full): a new directory under the temporary directory
 */
char *
tandem_test_make_tmpdir (const char *tmpl)
{
	g_autoptr (GError) error = NULL;
	char *dir = g_dir_make_tmp (tmpl, &error);

	g_assert_no_error (error);
	return dir;
}

/**
 * tandem_test_copy_module:
 * @src_dir: the directory holding the module
 * @name: its file name
 * @dir: where to copy it
 * @as: (nullable): the name of the copy, or %NULL to keep @name
 * @mode: the mode of the copy
 *
 * Copies a plugin module with an explicit mode, so that tests never depend
 * on the modes of the build directory (the loader refuses group- or
 * world-writable files).
 *
 * Returns: (transfer full): the path of the copy
 */
char *
tandem_test_copy_module (const char *src_dir, const char *name, const char *dir, const char *as, int mode)
{
	g_autofree char *src = g_build_filename (src_dir, name, NULL);
	char *dst = g_build_filename (dir, as != NULL ? as : name, NULL);
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr (GError) error = NULL;

	g_file_get_contents (src, &contents, &length, &error);
	g_assert_no_error (error);
	g_file_set_contents_full (dst, contents, length, G_FILE_SET_CONTENTS_NONE, 0755, &error);
	g_assert_no_error (error);
	g_assert_cmpint (g_chmod (dst, mode), ==, 0);
	return dst;
}

/**
 * tandem_test_copy_fixture:
 * @dir: where to copy it
 * @name: the file name of a fixture plugin in `$TANDEM_TEST_FIXTURES`
 * @as: (nullable): the name of the copy, or %NULL to keep @name
 * @mode: the mode of the copy
 *
 * tandem_test_copy_module() for the fixture plugins of tests/plugins.
 */
void
tandem_test_copy_fixture (const char *dir, const char *name, const char *as, int mode)
{
	g_autofree char *copy = NULL;

	g_assert_nonnull (g_getenv ("TANDEM_TEST_FIXTURES"));
	copy = tandem_test_copy_module (g_getenv ("TANDEM_TEST_FIXTURES"), name, dir, as, mode);
}

/**
 * tandem_test_rm_rf:
 * @path: a file or directory
 *
 * Removes @path and everything under it.
 */
void
tandem_test_rm_rf (const char *path)
{
	g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
	const char *name;

	if (dir != NULL) {
		while ((name = g_dir_read_name (dir)) != NULL) {
			g_autofree char *child = g_build_filename (path, name, NULL);

			tandem_test_rm_rf (child);
		}
	}
	g_remove (path);
}

/**
 * tandem_test_write_text:
 * @path: a file
 * @text: its new contents
 *
 * Writes @path, asserting success.
 */
void
tandem_test_write_text (const char *path, const char *text)
{
	g_autoptr (GError) error = NULL;

	g_file_set_contents (path, text, -1, &error);
	g_assert_no_error (error);
}

/**
 * tandem_test_read_text:
 * @path: a file
 *
 * Returns: (transfer full): the contents of @path, asserting success
 */
char *
tandem_test_read_text (const char *path)
{
	g_autoptr (GError) error = NULL;
	char *contents = NULL;

	g_file_get_contents (path, &contents, NULL, &error);
	g_assert_no_error (error);
	return contents;
}

static void
child_setup (gpointer data)
{
	prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/**
 * tandem_test_launcher_new:
 * @flags: flags for the launcher
 * @plugin_path: the `TANDEM_PLUGIN_PATH` of the children
 *
 * Returns: (transfer full): a launcher whose children die with the test,
 *   without the test's `NOTIFY_SOCKET` and `G_MESSAGES_DEBUG`
 */
GSubprocessLauncher *
tandem_test_launcher_new (GSubprocessFlags flags, const char *plugin_path)
{
	GSubprocessLauncher *launcher = g_subprocess_launcher_new (flags);

	g_subprocess_launcher_setenv (launcher, "TANDEM_PLUGIN_PATH", plugin_path, TRUE);
	g_subprocess_launcher_unsetenv (launcher, "NOTIFY_SOCKET");
	g_subprocess_launcher_unsetenv (launcher, "G_MESSAGES_DEBUG");
	g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
	return launcher;
}

static GSocket *
notify_socket_new (const char *path)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GSocketAddress) address = g_unix_socket_address_new (path);
	GSocket *socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_DATAGRAM,
					G_SOCKET_PROTOCOL_DEFAULT, &error);

	g_assert_no_error (error);
	g_socket_bind (socket, address, FALSE, &error);
	g_assert_no_error (error);
	return socket;
}

/**
 * tandem_test_daemon_wait_notify:
 * @d: a daemon
 * @needle: what to wait for
 *
 * Waits (bounded) for a notification datagram containing @needle.
 *
 * Returns: %FALSE on timeout
 */
gboolean
tandem_test_daemon_wait_notify (TandemTestDaemon *d, const char *needle)
{
	gint64 deadline = g_get_monotonic_time () + TANDEM_TEST_TIMEOUT_S * G_USEC_PER_SEC;

	while (g_get_monotonic_time () < deadline) {
		char buf[512];
		gssize n;
		g_autoptr (GError) error = NULL;

		if (!g_socket_condition_timed_wait (d->notify, G_IO_IN,
						    deadline - g_get_monotonic_time (), NULL, NULL))
			return FALSE;
		n = g_socket_receive (d->notify, buf, sizeof buf - 1, NULL, &error);
		g_assert_no_error (error);
		buf[MAX (n, 0)] = '\0';
		if (strstr (buf, needle) != NULL)
			return TRUE;
	}
	return FALSE;
}

/**
 * tandem_test_daemon_wait_log:
 * @d: a daemon
 * @needle: what to wait for
 *
 * Waits (bounded) until the daemon's log contains @needle.
 *
 * Returns: %FALSE on timeout
 */
gboolean
tandem_test_daemon_wait_log (TandemTestDaemon *d, const char *needle)
{
	for (guint i = 0; i < TANDEM_TEST_TIMEOUT_S * 20; i++) {
		g_autofree char *log = NULL;

		if (g_file_get_contents (d->log_path, &log, NULL, NULL) &&
		    strstr (log, needle) != NULL)
			return TRUE;
		g_usleep (50 * 1000);
	}
	return FALSE;
}

/**
 * tandem_test_daemon_start:
 * @launcher: a launcher from tandem_test_launcher_new() (its stderr and
 *   `NOTIFY_SOCKET` are set here)
 * @tandemd: the tandemd executable
 * @dir: a directory for the notify socket and the log
 * @config: the config file
 * @state_dir: the state directory
 *
 * Starts `tandemd --config @config --state-dir @state_dir`, its stderr in
 * `@dir/tandemd-N.log`.
 *
 * Returns: (transfer full): the daemon
 */
TandemTestDaemon *
tandem_test_daemon_start (GSubprocessLauncher *launcher,
			  const char *tandemd,
			  const char *dir,
			  const char *config,
			  const char *state_dir)
{
	g_autoptr (GError) error = NULL;
	TandemTestDaemon *d = g_new0 (TandemTestDaemon, 1);
	static guint counter;

	d->notify_path = g_strdup_printf ("%s/notify-%u", dir, counter);
	d->log_path = g_strdup_printf ("%s/tandemd-%u.log", dir, counter);
	counter++;
	d->notify = notify_socket_new (d->notify_path);
	g_subprocess_launcher_setenv (launcher, "NOTIFY_SOCKET", d->notify_path, TRUE);
	g_subprocess_launcher_set_stderr_file_path (launcher, d->log_path);
	d->proc = g_subprocess_launcher_spawn (launcher, &error, tandemd, "--config", config,
					       "--state-dir", state_dir, NULL);
	g_assert_no_error (error);
	d->pid = atoi (g_subprocess_get_identifier (d->proc));
	return d;
}

static void
on_wait_done (GObject *source, GAsyncResult *result, gpointer data)
{
	gboolean *done = data;

	g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
	*done = TRUE;
}

static gboolean
on_timeout (gpointer data)
{
	gboolean *timed_out = data;

	*timed_out = TRUE;
	return G_SOURCE_REMOVE;
}

/**
 * tandem_test_daemon_wait:
 * @d: a daemon
 *
 * Waits (bounded) for the daemon to exit.
 *
 * Returns: %FALSE on timeout
 */
gboolean
tandem_test_daemon_wait (TandemTestDaemon *d)
{
	gboolean done = FALSE;
	gboolean timed_out = FALSE;
	guint timeout_id;

	g_subprocess_wait_async (d->proc, NULL, on_wait_done, &done);
	timeout_id = g_timeout_add_seconds (TANDEM_TEST_TIMEOUT_S, on_timeout, &timed_out);
	while (!done && !timed_out)
		g_main_context_iteration (NULL, TRUE);
	if (!timed_out)
		g_source_remove (timeout_id);
	return done;
}

/**
 * tandem_test_daemon_free:
 * @d: a daemon
 *
 * Kills the daemon if it still runs, waits for it and frees @d.
 */
void
tandem_test_daemon_free (TandemTestDaemon *d)
{
	if (g_subprocess_get_identifier (d->proc) != NULL) {
		g_subprocess_force_exit (d->proc);
		tandem_test_daemon_wait (d);
	}
	g_object_unref (d->proc);
	g_object_unref (d->notify);
	g_free (d->notify_path);
	g_free (d->log_path);
	g_free (d);
}
