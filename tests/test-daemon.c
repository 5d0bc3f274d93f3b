/* test-daemon.c: tandemd as a process: options, config checks, signals, notify
 *
 * Every test starts real tandemd processes on this machine and ends them by
 * PID; each child also gets PR_SET_PDEATHSIG so that none outlives a failed
 * test.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "tandem-test-util.h"

static const char *tandemd;
static char *plugin_dir;

/* --- helpers --------------------------------------------------------------- */

static char *
make_tmpdir (void)
{
	return tandem_test_make_tmpdir ("tandem-test-daemon-XXXXXX");
}

static GSubprocessLauncher *
launcher_new (GSubprocessFlags flags)
{
	return tandem_test_launcher_new (flags, plugin_dir);
}

/* Runs tandemd to completion; returns its exit status. */
static int
run_tandemd (const char *const *args, char **out, char **err)
{
	g_autoptr(GSubprocessLauncher) launcher =
		launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GPtrArray) argv = g_ptr_array_new ();
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	char *stdout_buf = NULL;
	char *stderr_buf = NULL;

	g_ptr_array_add (argv, (gpointer) tandemd);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add (argv, (gpointer) args[i]);
	g_ptr_array_add (argv, NULL);
	proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
	g_assert_no_error (error);
	g_subprocess_communicate_utf8 (proc, NULL, NULL, &stdout_buf, &stderr_buf, &error);
	g_assert_no_error (error);
	if (out != NULL)
		*out = stdout_buf;
	else
		g_free (stdout_buf);
	if (err != NULL)
		*err = stderr_buf;
	else
		g_free (stderr_buf);
	g_assert_true (g_subprocess_get_if_exited (proc));
	return g_subprocess_get_exit_status (proc);
}

static TandemTestDaemon *
daemon_start (const char *dir, const char *config, const char *state_dir)
{
	g_autoptr(GSubprocessLauncher) launcher = launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE);

	return tandem_test_daemon_start (launcher, tandemd, dir, config, state_dir);
}

static void
assert_exit_status (TandemTestDaemon *d, int status)
{
	g_assert_true (tandem_test_daemon_wait (d));
	g_assert_true (g_subprocess_get_if_exited (d->proc));
	g_assert_cmpint (g_subprocess_get_exit_status (d->proc), ==, status);
}

/* --- tests ----------------------------------------------------------------- */

static void
test_version (void)
{
	const char *args[] = { "--version", NULL };
	g_autofree char *out = NULL;
	g_autofree char *expected = g_strdup_printf ("tandemd %s (plugin ABI 1.0)\n", PACKAGE_VERSION);

	g_assert_cmpint (run_tandemd (args, &out, NULL), ==, 0);
	g_assert_cmpstr (out, ==, expected);
}

static void
test_bad_option (void)
{
	const char *args[] = { "--no-such-option", NULL };
	g_autofree char *err = NULL;

	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	g_assert_nonnull (strstr (err, "no-such-option"));
}

static void
test_check_config_broken (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "broken.conf", NULL);
	g_autofree char *err = NULL;
	g_autofree char *expected = NULL;
	const char *args[] = { "--config", conf, "--check-config", NULL };

	tandem_test_write_text (conf, "[node]\n# the next line is wrong\nlog_level = chatty\n[receiver.in]\nplugin = fixture\nport = 80a\n");
	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	expected = g_strdup_printf ("tandemd: %s:3: key 'log_level' in [node]: expected one of warning, message, info, debug, got \"chatty\"\n", conf);
	g_assert_nonnull (strstr (err, expected));
	g_clear_pointer (&expected, g_free);
	expected = g_strdup_printf ("tandemd: %s:6: key 'port' in [receiver.in]: expected an integer 1-65535, got \"80a\"\n", conf);
	g_assert_nonnull (strstr (err, expected));

	/* a syntax error names file and line too */
	g_clear_pointer (&err, g_free);
	tandem_test_write_text (conf, "[node]\nlog_level info\n");
	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	g_clear_pointer (&expected, g_free);
	expected = g_strdup_printf ("%s:2: expected '[section]', 'key = value' or a '#' comment, got \"log_level info\"", conf);
	g_assert_nonnull (strstr (err, expected));

	/* an explicit config that does not exist is an error */
	g_clear_pointer (&err, g_free);
	g_remove (conf);
	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	g_assert_nonnull (strstr (err, "cannot read: No such file or directory"));
	tandem_test_rm_rf (dir);
}

static void
test_check_config_valid (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *dropins = g_build_filename (dir, "tandem.conf.d", NULL);
	g_autofree char *dropin = g_build_filename (dropins, "50-extra.conf", NULL);
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;
	const char *args[] = { "--config", conf, "--check-config", NULL };

	tandem_test_write_text (conf, "[node]\nlog_level = info\nshoe_size = 42\n[receiver.in]\nplugin = fixture\nport = 8081\n");
	g_assert_cmpint (g_mkdir (dropins, 0755), ==, 0);
	tandem_test_write_text (dropin, "[receiver.in]\nport = 80a\n");
	/* the drop-in wins, so the config is invalid */
	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	g_assert_nonnull (strstr (err, "50-extra.conf:2: key 'port' in [receiver.in]"));
	g_clear_pointer (&err, g_free);

	tandem_test_write_text (dropin, "[receiver.in]\nport = 8082\n");
	g_assert_cmpint (run_tandemd (args, &out, &err), ==, 0);
	g_assert_nonnull (strstr (out, "Config is valid: 2 file(s), 1 plugin instance(s)"));
	/* unknown keys warn, with file and line, and do not fail the check */
	g_assert_nonnull (strstr (err, "tandem.conf:3: unknown key 'shoe_size' in [node], ignored"));
	tandem_test_rm_rf (dir);
}

static void
test_list_plugins (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *out = NULL;
	g_autofree char *line = NULL;
	g_autofree char *refused = NULL;
	const char *args[] = { "--list-plugins", NULL };
	const char *saved = plugin_dir;

	tandem_test_copy_fixture (dir, "fixture-receiver.so", NULL, 0755);
	tandem_test_copy_fixture (dir, "fixture-not-plugin.so", NULL, 0755);
	tandem_test_copy_fixture (dir, "fixture-store.so", "shared-store.so", 0666);
	tandem_test_copy_fixture (dir, "fixture-abi-major.so", NULL, 0755);
	plugin_dir = dir;
	g_assert_cmpint (run_tandemd (args, &out, NULL), ==, 0);
	plugin_dir = (char *) saved;

	line = g_strdup_printf ("%-20s %-11s %-10s %s/fixture-receiver.so\n", "fixture", "receiver", "1.2.3", dir);
	g_assert_nonnull (strstr (out, line));
	refused = g_strdup_printf ("refused: %s/fixture-not-plugin.so: not a Tandem plugin", dir);
	g_assert_nonnull (strstr (out, refused));
	g_clear_pointer (&refused, g_free);
	refused = g_strdup_printf ("refused: %s/shared-store.so: refusing to load a file writable by others", dir);
	g_assert_nonnull (strstr (out, refused));
	g_clear_pointer (&refused, g_free);
	refused = g_strdup_printf ("refused: %s/fixture-abi-major.so: built for plugin ABI 2.0", dir);
	g_assert_nonnull (strstr (out, refused));
	g_assert_null (strstr (out, "fixture-store "));
	tandem_test_rm_rf (dir);
}

static void
test_print_config_masks (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *out = NULL;
	const char *args[] = { "--config", conf, "--print-config", NULL };

	tandem_test_write_text (conf, "[receiver.in]\nplugin = fixture\ntoken = hunter2\n"
			  "[store.db]\nplugin = fixture-store\nenabled = false\npassword = swordfish\n");
	g_assert_cmpint (run_tandemd (args, &out, NULL), ==, 0);
	g_assert_null (strstr (out, "hunter2"));
	g_assert_null (strstr (out, "swordfish"));
	g_assert_nonnull (strstr (out, "token = ********"));
	g_assert_nonnull (strstr (out, "password = ********"));
	g_assert_nonnull (strstr (out, "plugin = fixture\n"));
	tandem_test_rm_rf (dir);
}

static char *
lifecycle_config (const char *trace, const char *log_level, const char *cluster)
{
	return g_strdup_printf ("[node]\nlog_level = %s\n[cluster]\nname = %s\n"
				"[receiver.r1]\nplugin = fixture\ntrace_file = %s\n"
				"[store.s1]\nplugin = fixture-store\ntrace_file = %s\n"
				"[receiver.r2]\nplugin = fixture\ntrace_file = %s\n"
				"[store.s2]\nplugin = fixture-store\ntrace_file = %s\n",
				log_level, cluster, trace, trace, trace, trace);
}

static void
check_shutdown (int signum)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *trace = g_build_filename (dir, "trace", NULL);
	g_autofree char *text = lifecycle_config (trace, "message", "c1");
	g_autofree char *lines = NULL;
	g_autofree char *log = NULL;
	g_autoptr(TandemTestDaemon) d = NULL;

	tandem_test_write_text (conf, text);
	d = daemon_start (dir, conf, state);
	g_assert_true (tandem_test_daemon_wait_notify (d, "READY=1"));
	g_assert_true (tandem_test_daemon_wait_log (d, "running: node"));
	kill (d->pid, signum);
	assert_exit_status (d, 0);

	lines = tandem_test_read_text (trace);
	g_assert_cmpstr (lines, ==,
			 "setup r1\nsetup s1\nsetup r2\nsetup s2\n"
			 "start s1\nstart s2\nstart r1\nstart r2\n"
			 "stop r2\nstop r1\nstop s2\nstop s1\n");
	log = tandem_test_read_text (d->log_path);
	g_assert_nonnull (strstr (log, signum == SIGTERM ? "SIGTERM: stopping" : "SIGINT: stopping"));
	g_assert_nonnull (strstr (log, "tandemd stopped"));
	tandem_test_rm_rf (dir);
}

static void
test_sigterm_stops_in_reverse_order (void)
{
	check_shutdown (SIGTERM);
}

static void
test_sigint_stops_in_reverse_order (void)
{
	check_shutdown (SIGINT);
}

static void
test_sighup_reloads (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *trace = g_build_filename (dir, "trace", NULL);
	g_autofree char *text = lifecycle_config (trace, "message", "c1");
	g_autofree char *log = NULL;
	g_autoptr(TandemTestDaemon) d = NULL;

	tandem_test_write_text (conf, text);
	d = daemon_start (dir, conf, state);
	g_assert_true (tandem_test_daemon_wait_notify (d, "READY=1"));

	g_free (text);
	text = lifecycle_config (trace, "debug", "c2");
	tandem_test_write_text (conf, text);
	kill (d->pid, SIGHUP);
	g_assert_true (tandem_test_daemon_wait_notify (d, "RELOADING=1"));
	g_assert_true (tandem_test_daemon_wait_notify (d, "READY=1"));
	g_assert_true (tandem_test_daemon_wait_log (d, "Log level is now debug"));
	g_assert_true (tandem_test_daemon_wait_log (d, "Config of [cluster] changed: it takes effect at the next restart"));

	/* a broken config is refused and the node keeps running */
	tandem_test_write_text (conf, "[node]\nlog_level = shouty\n");
	kill (d->pid, SIGHUP);
	g_assert_true (tandem_test_daemon_wait_log (d, "Reload failed; keeping the running config"));
	g_assert_true (tandem_test_daemon_wait_notify (d, "READY=1"));
	log = tandem_test_read_text (d->log_path);
	g_assert_nonnull (strstr (log, "tandem.conf:2: key 'log_level' in [node]"));
	g_assert_nonnull (g_subprocess_get_identifier (d->proc)); /* still running */

	kill (d->pid, SIGTERM);
	assert_exit_status (d, 0);
	tandem_test_rm_rf (dir);
}

static char *
log_node_id (const char *log)
{
	const char *p = strstr (log, "Node ");

	g_assert_nonnull (p);
	return g_strndup (p + 5, 36);
}

static void
test_node_id_stable_across_restarts (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *id_file = g_build_filename (state, "node-id", NULL);
	g_autofree char *first = NULL;
	g_autofree char *second = NULL;
	g_autofree char *saved = NULL;

	tandem_test_write_text (conf, "[node]\n");
	for (guint run = 0; run < 2; run++) {
		g_autoptr(TandemTestDaemon) d = daemon_start (dir, conf, state);
		g_autofree char *log = NULL;

		g_assert_true (tandem_test_daemon_wait_notify (d, "READY=1"));
		kill (d->pid, SIGTERM);
		assert_exit_status (d, 0);
		log = tandem_test_read_text (d->log_path);
		if (run == 0) {
			g_assert_nonnull (strstr (log, "Generated node id"));
			first = log_node_id (log);
		} else {
			g_assert_null (strstr (log, "Generated node id"));
			second = log_node_id (log);
		}
	}
	g_assert_true (g_uuid_string_is_valid (first));
	g_assert_cmpstr (first, ==, second);
	saved = tandem_test_read_text (id_file);
	g_assert_cmpstr (g_strstrip (saved), ==, first);
	tandem_test_rm_rf (dir);
}

static void
test_state_dir_unwritable (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *err = NULL;
	const char *args[] = { "--config", conf, "--state-dir", "/proc/self/tandem-state", NULL };

	tandem_test_write_text (conf, "[node]\n");
	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	g_assert_nonnull (strstr (err, "tandemd: state directory /proc/self/tandem-state cannot be created"));
	tandem_test_rm_rf (dir);
}

static void
test_state_dir_in_use (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *err = NULL;
	g_autofree char *expected = NULL;
	const char *args[] = { "--config", conf, "--state-dir", state, NULL };
	g_autoptr(TandemTestDaemon) d = NULL;

	tandem_test_write_text (conf, "[node]\n");
	d = daemon_start (dir, conf, state);
	g_assert_true (tandem_test_daemon_wait_notify (d, "READY=1"));
	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	expected = g_strdup_printf ("is in use by another node (pid %d)", d->pid);
	g_assert_nonnull (strstr (err, expected));
	kill (d->pid, SIGTERM);
	assert_exit_status (d, 0);
	tandem_test_rm_rf (dir);
}

static void
test_start_failure_exits_1 (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *state = g_build_filename (dir, "state", NULL);
	g_autofree char *err = NULL;
	const char *args[] = { "--config", conf, "--state-dir", state, NULL };

	tandem_test_write_text (conf, "[receiver.bad]\nplugin = fixture\nfail_start = true\n");
	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	g_assert_nonnull (strstr (err, "tandemd: cannot start [receiver.bad]: fixture: asked to fail"));
	tandem_test_rm_rf (dir);
}

static void
test_duplicate_node_id_refused (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *conf = g_build_filename (dir, "tandem.conf", NULL);
	g_autofree char *state_a = g_build_filename (dir, "a", NULL);
	g_autofree char *state_b = g_build_filename (dir, "b", NULL);
	g_autofree char *text = NULL;
	g_autofree char *err = NULL;
	g_autofree char *saved = g_strdup (plugin_dir);
	g_autoptr(TandemTestDaemon) d = NULL;
	const char *args[] = { "--config", conf, "--state-dir", state_b, NULL };

	/* two nodes wrongly given one id, sharing one record store */
	text = g_strdup_printf ("[node]\nid = twin\n[store.db]\nplugin = gda\ndatabase = %s/shared.db\n", dir);
	tandem_test_write_text (conf, text);
	g_free (plugin_dir);
	plugin_dir = g_strdup_printf ("%s:%s", saved, g_getenv ("TANDEM_TEST_GDA_PLUGIN_DIR"));
	d = daemon_start (dir, conf, state_a);
	g_assert_true (tandem_test_daemon_wait_notify (d, "READY=1"));
	g_assert_cmpint (run_tandemd (args, NULL, &err), ==, 1);
	g_assert_nonnull (strstr (err, "cannot start [store.db]: node id twin is already live"));
	kill (d->pid, SIGTERM);
	assert_exit_status (d, 0);
	g_free (plugin_dir);
	plugin_dir = g_steal_pointer (&saved);
	tandem_test_rm_rf (dir);
}

int
main (int argc, char **argv)
{
	int rc;

	g_test_init (&argc, &argv, NULL);

	tandemd = g_getenv ("TANDEM_TEST_TANDEMD");
	g_assert_nonnull (tandemd);
	plugin_dir = make_tmpdir ();
	tandem_test_copy_fixture (plugin_dir, "fixture-receiver.so", NULL, 0755);
	tandem_test_copy_fixture (plugin_dir, "fixture-store.so", NULL, 0755);

	g_test_add_func ("/daemon/version", test_version);
	g_test_add_func ("/daemon/bad-option", test_bad_option);
	g_test_add_func ("/daemon/check-config-broken", test_check_config_broken);
	g_test_add_func ("/daemon/check-config-valid", test_check_config_valid);
	g_test_add_func ("/daemon/list-plugins", test_list_plugins);
	g_test_add_func ("/daemon/print-config-masks", test_print_config_masks);
	g_test_add_func ("/daemon/sigterm-stops-in-reverse-order", test_sigterm_stops_in_reverse_order);
	g_test_add_func ("/daemon/sigint-stops-in-reverse-order", test_sigint_stops_in_reverse_order);
	g_test_add_func ("/daemon/sighup-reloads", test_sighup_reloads);
	g_test_add_func ("/daemon/node-id-stable-across-restarts", test_node_id_stable_across_restarts);
	g_test_add_func ("/daemon/state-dir-unwritable", test_state_dir_unwritable);
	g_test_add_func ("/daemon/state-dir-in-use", test_state_dir_in_use);
	g_test_add_func ("/daemon/start-failure-exits-1", test_start_failure_exits_1);
	g_test_add_func ("/daemon/duplicate-node-id-refused", test_duplicate_node_id_refused);

	rc = g_test_run ();
	tandem_test_rm_rf (plugin_dir);
	return rc;
}
