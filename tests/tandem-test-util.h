/* tandem-test-util.h: helpers of the tests that run tandemd as a process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * TANDEM_TEST_TIMEOUT_S:
 *
 * How long the helpers wait for a daemon, in seconds, before they give up.
 */
#define TANDEM_TEST_TIMEOUT_S 15

char *tandem_test_make_tmpdir (const char *tmpl);
void tandem_test_rm_rf (const char *path);
void tandem_test_write_text (const char *path, const char *text);
char *tandem_test_read_text (const char *path);
char *tandem_test_copy_module (const char *src_dir, const char *name, const char *dir, const char *as, int mode);
void tandem_test_copy_fixture (const char *dir, const char *name, const char *as, int mode);

GSubprocessLauncher *tandem_test_launcher_new (GSubprocessFlags flags, const char *plugin_path);

/**
 * TandemTestDaemon:
 * @proc: the tandemd process
 * @notify: the socket tandemd sends its sd_notify() messages to
 * @notify_path: the path of @notify (tandemd's `NOTIFY_SOCKET`)
 * @log_path: the file receiving tandemd's stderr
 * @pid: the process id
 *
 * A tandemd started by tandem_test_daemon_start().
 */
typedef struct {
	GSubprocess *proc;
	GSocket *notify;
	char *notify_path;
	char *log_path;
	int pid;
} TandemTestDaemon;

TandemTestDaemon *tandem_test_daemon_start (GSubprocessLauncher *launcher,
					    const char *tandemd,
					    const char *dir,
					    const char *config,
					    const char *state_dir);
gboolean tandem_test_daemon_wait_notify (TandemTestDaemon *d, const char *needle);
gboolean tandem_test_daemon_wait_log (TandemTestDaemon *d, const char *needle);
gboolean tandem_test_daemon_wait (TandemTestDaemon *d);
void tandem_test_daemon_free (TandemTestDaemon *d);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemTestDaemon, tandem_test_daemon_free)

G_END_DECLS
