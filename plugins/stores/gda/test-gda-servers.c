/* test-gda-servers.c: private MariaDB and PostgreSQL servers for the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each server gets a fresh data directory under a temporary directory and
 * listens on a Unix socket there only (no TCP: nothing to collide with in
 * parallel runs).  PostgreSQL refuses to run as root: as root, initdb and
 * postgres run as "nobody" (the child drops root before exec).  Servers
 * are stopped by PID; each gets PR_SET_PDEATHSIG (set after dropping root,
 * which clears it), and if the test dies on a signal (a failed assertion
 * aborts), a handler kills them first: none outlives the test.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "test-gda-servers.h"

#define START_TIMEOUT_S 60
#define STOP_TIMEOUT_S 30
#define PG_PORT "5432"
#define MAX_SERVERS 8

static volatile sig_atomic_t live_pids[MAX_SERVERS];

static void
kill_live_servers (void)
{
	for (guint i = 0; i < MAX_SERVERS; i++) {
		if (live_pids[i] > 0)
			kill (live_pids[i], SIGKILL);
	}
}

static void
on_fatal_signal (int signum)
{
	kill_live_servers ();
	signal (signum, SIG_DFL);
	raise (signum);
}

static void
track_pid (int pid, gboolean add)
{
	static gsize once;

	if (g_once_init_enter (&once)) {
		const int signals[] = { SIGABRT, SIGSEGV, SIGBUS, SIGTERM, SIGINT, SIGFPE };

		for (guint i = 0; i < G_N_ELEMENTS (signals); i++)
			signal (signals[i], on_fatal_signal);
		atexit (kill_live_servers);
		g_once_init_leave (&once, 1);
	}
	for (guint i = 0; i < MAX_SERVERS; i++) {
		if (add && live_pids[i] == 0) {
			live_pids[i] = pid;
			return;
		}
		if (!add && live_pids[i] == pid) {
			live_pids[i] = 0;
			return;
		}
	}
	/* a server that is not tracked would outlive a crashed test */
	g_assert_false (add);
}

static void
child_setup (gpointer data)
{
	prctl (PR_SET_PDEATHSIG, SIGKILL);
}

typedef struct {
	uid_t uid;
	gid_t gid;
} Identity;

/* runs in the child between fork and exec */
static void
child_setup_as_nobody (gpointer data)
{
	const Identity *id = data;

	if (geteuid () == 0) {
		if (setgroups (0, NULL) != 0 || setgid (id->gid) != 0 || setuid (id->uid) != 0)
			_exit (127);
	}
	/* after setuid(), which clears it */
	prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static Identity *
nobody (void)
{
	static Identity id = { 65534, 65534 };
	struct passwd *pw = getpwnam ("nobody");

	if (pw != NULL) {
		id.uid = pw->pw_uid;
		id.gid = pw->pw_gid;
	}
	return &id;
}

static char *
find_program (const char *name)
{
	const char *const dirs[] = { "/usr/sbin", "/usr/bin", "/sbin" };
	char *path = g_find_program_in_path (name);

	if (path != NULL)
		return path;
	for (guint i = 0; i < G_N_ELEMENTS (dirs); i++) {
		path = g_build_filename (dirs[i], name, NULL);
		if (g_file_test (path, G_FILE_TEST_IS_EXECUTABLE))
			return path;
		g_free (path);
	}
	return NULL;
}

/* PostgreSQL's server programs are not on PATH on Debian. */
static char *
find_postgres_program (const char *name)
{
	g_autoptr (GDir) dir = g_dir_open ("/usr/lib/postgresql", 0, NULL);
	const char *version;
	char *best = NULL;
	long best_version = -1;

	while (dir != NULL && (version = g_dir_read_name (dir)) != NULL) {
		g_autofree char *path =
			g_build_filename ("/usr/lib/postgresql", version, "bin", name, NULL);
		long v = strtol (version, NULL, 10);

		if (v > best_version && g_file_test (path, G_FILE_TEST_IS_EXECUTABLE)) {
			g_free (best);
			best = g_steal_pointer (&path);
			best_version = v;
		}
	}
	return best != NULL ? best : find_program (name);
}

static gboolean
run_and_wait (GPtrArray *argv, gboolean as_nobody, const char *log_path, GError **error)
{
	g_autoptr (GSubprocessLauncher) launcher =
		g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
	g_autoptr (GSubprocess) proc = NULL;

	g_ptr_array_add (argv, NULL);
	if (as_nobody)
		g_subprocess_launcher_set_child_setup (launcher, child_setup_as_nobody, nobody (),
						       NULL);
	else
		g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
	g_subprocess_launcher_set_stdout_file_path (launcher, log_path);
	g_subprocess_launcher_set_stderr_file_path (launcher, log_path);
	proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, error);
	g_ptr_array_remove_index (argv, argv->len - 1);
	if (proc == NULL)
		return FALSE;
	if (!g_subprocess_wait_check (proc, NULL, error)) {
		g_autofree char *log = NULL;

		g_file_get_contents (log_path, &log, NULL, NULL);
		g_prefix_error (error, "%s failed (%s): ", (const char *) argv->pdata[0],
				log != NULL ? log : "");
		return FALSE;
	}
	return TRUE;
}

static GPtrArray *
client_argv (TestServer *self, const char *database)
{
	GPtrArray *argv = g_ptr_array_new_with_free_func (g_free);

	if (self->kind == TEST_SERVER_MARIADB) {
		g_ptr_array_add (argv, find_program ("mariadb"));
		g_ptr_array_add (argv, g_strdup ("--no-defaults"));
		g_ptr_array_add (argv, g_strdup ("-uroot"));
		g_ptr_array_add (argv, g_strdup_printf ("--socket=%s", self->socket));
		g_ptr_array_add (argv, g_strdup ("-N"));
		g_ptr_array_add (argv, g_strdup ("-B"));
		if (database != NULL)
			g_ptr_array_add (argv, g_strdup_printf ("--database=%s", database));
		g_ptr_array_add (argv, g_strdup ("-e"));
	} else {
		g_ptr_array_add (argv, find_postgres_program ("psql"));
		g_ptr_array_add (argv, g_strdup ("-X"));
		g_ptr_array_add (argv, g_strdup ("-A"));
		g_ptr_array_add (argv, g_strdup ("-t"));
		g_ptr_array_add (argv, g_strdup ("-q"));
		g_ptr_array_add (argv, g_strdup ("-v"));
		g_ptr_array_add (argv, g_strdup ("ON_ERROR_STOP=1"));
		g_ptr_array_add (argv, g_strdup_printf ("--host=%s", self->socket));
		g_ptr_array_add (argv, g_strdup ("--port=" PG_PORT));
		g_ptr_array_add (argv, g_strdup_printf ("--username=%s", self->user));
		g_ptr_array_add (argv, g_strdup_printf ("--dbname=%s",
							database != NULL ? database : "postgres"));
		g_ptr_array_add (argv, g_strdup ("-c"));
	}
	return argv;
}

char *
test_server_sql (TestServer *self, const char *database, const char *sql, GError **error)
{
	g_autoptr (GPtrArray) argv = client_argv (self, database);
	g_autoptr (GSubprocess) proc = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;

	g_ptr_array_add (argv, g_strdup (sql));
	g_ptr_array_add (argv, NULL);
	proc = g_subprocess_newv ((const char *const *) argv->pdata,
				  G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE,
				  error);
	if (proc == NULL || !g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, error))
		return NULL;
	if (!g_subprocess_get_if_exited (proc) || g_subprocess_get_exit_status (proc) != 0) {
		g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", sql,
			     err != NULL ? g_strstrip (err) : "");
		return NULL;
	}
	return g_steal_pointer (&out);
}

static gboolean
wait_ready (TestServer *self, GError **error)
{
	gint64 deadline = g_get_monotonic_time () + START_TIMEOUT_S * G_TIME_SPAN_SECOND;
	g_autoptr (GError) last = NULL;

	while (g_get_monotonic_time () < deadline) {
		g_autofree char *out = NULL;

		g_clear_error (&last);
		if (g_subprocess_get_identifier (self->proc) == NULL) {
			g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
				     "the server exited at start (see %s)", self->dir);
			return FALSE;
		}
		out = test_server_sql (self, NULL, "SELECT 1", &last);
		if (out != NULL)
			return TRUE;
		g_usleep (100 * 1000);
	}
	g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
		     "the server did not answer within %d s: %s", START_TIMEOUT_S,
		     last != NULL ? last->message : "");
	return FALSE;
}

gboolean
test_server_start_again (TestServer *self, GError **error)
{
	g_autoptr (GSubprocessLauncher) launcher =
		g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
	g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
	g_autofree char *log = g_build_filename (self->dir, "server.log", NULL);

	if (self->kind == TEST_SERVER_MARIADB) {
		g_ptr_array_add (argv, find_program ("mariadbd"));
		g_ptr_array_add (argv, g_strdup ("--no-defaults"));
		if (geteuid () == 0)
			g_ptr_array_add (argv, g_strdup ("--user=root"));
		g_ptr_array_add (argv, g_strdup_printf ("--datadir=%s/data", self->dir));
		g_ptr_array_add (argv, g_strdup_printf ("--socket=%s", self->socket));
		g_ptr_array_add (argv, g_strdup ("--skip-networking"));
		g_ptr_array_add (argv, g_strdup_printf ("--pid-file=%s/mariadbd.pid", self->dir));
		g_ptr_array_add (argv, g_strdup_printf ("--log-error=%s/mariadbd.err", self->dir));
		g_ptr_array_add (argv, g_strdup ("--innodb-buffer-pool-size=64M"));
		g_ptr_array_add (argv, g_strdup ("--max-connections=200"));
	} else {
		g_ptr_array_add (argv, find_postgres_program ("postgres"));
		g_ptr_array_add (argv, g_strdup ("-D"));
		g_ptr_array_add (argv, g_strdup_printf ("%s/data", self->socket));
		g_ptr_array_add (argv, g_strdup ("-k"));
		g_ptr_array_add (argv, g_strdup (self->socket));
		g_ptr_array_add (argv, g_strdup ("-h"));
		g_ptr_array_add (argv, g_strdup (""));
		g_ptr_array_add (argv, g_strdup ("-p"));
		g_ptr_array_add (argv, g_strdup (PG_PORT));
		g_ptr_array_add (argv, g_strdup ("-c"));
		g_ptr_array_add (argv, g_strdup ("fsync=off"));
	}
	g_ptr_array_add (argv, NULL);
	if (self->kind == TEST_SERVER_POSTGRES)
		g_subprocess_launcher_set_child_setup (launcher, child_setup_as_nobody, nobody (),
						       NULL);
	else
		g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
	g_subprocess_launcher_set_stdout_file_path (launcher, log);
	g_subprocess_launcher_set_stderr_file_path (launcher, log);
	g_clear_object (&self->proc);
	self->proc =
		g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, error);
	if (self->proc == NULL)
		return FALSE;
	self->pid = atoi (g_subprocess_get_identifier (self->proc));
	track_pid (self->pid, TRUE);
	return wait_ready (self, error);
}

static gboolean
wait_exit (TestServer *self, guint seconds)
{
	gint64 deadline = g_get_monotonic_time () + (gint64) seconds * G_TIME_SPAN_SECOND;

	while (g_get_monotonic_time () < deadline) {
		if (g_subprocess_get_identifier (self->proc) == NULL)
			return TRUE;
		g_main_context_iteration (NULL, FALSE);
		/* GSubprocess reaps its child from the GLib worker thread */
		g_usleep (20 * 1000);
	}
	return FALSE;
}

void
test_server_kill (TestServer *self, gboolean crash)
{
	if (self->proc == NULL || g_subprocess_get_identifier (self->proc) == NULL)
		return;
	/* PostgreSQL: SIGINT is the fast shutdown (SIGTERM waits for clients) */
	kill (self->pid, crash ? SIGKILL : self->kind == TEST_SERVER_POSTGRES ? SIGINT : SIGTERM);
	if (!wait_exit (self, STOP_TIMEOUT_S)) {
		kill (self->pid, SIGKILL);
		/* a server that survives SIGKILL would hold its port and files */
		g_assert_true (wait_exit (self, STOP_TIMEOUT_S));
	}
	track_pid (self->pid, FALSE);
}

gboolean
test_server_restart (TestServer *self, gboolean crash, GError **error)
{
	test_server_kill (self, crash);
	return test_server_start_again (self, error);
}

static gboolean
init_data_dir (TestServer *self, GError **error)
{
	g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
	g_autofree char *log = g_build_filename (self->dir, "init.log", NULL);

	if (self->kind == TEST_SERVER_MARIADB) {
		g_ptr_array_add (argv, find_program ("mariadb-install-db"));
		g_ptr_array_add (argv, g_strdup ("--no-defaults"));
		if (geteuid () == 0)
			g_ptr_array_add (argv, g_strdup ("--user=root"));
		g_ptr_array_add (argv, g_strdup_printf ("--datadir=%s/data", self->dir));
		g_ptr_array_add (argv, g_strdup ("--auth-root-authentication-method=normal"));
		g_ptr_array_add (argv, g_strdup ("--skip-test-db"));
		return run_and_wait (argv, FALSE, log, error);
	}
	g_ptr_array_add (argv, find_postgres_program ("initdb"));
	g_ptr_array_add (argv, g_strdup ("-D"));
	g_ptr_array_add (argv, g_strdup_printf ("%s/data", self->socket));
	g_ptr_array_add (argv, g_strdup_printf ("--username=%s", self->user));
	g_ptr_array_add (argv, g_strdup ("--auth=trust"));
	g_ptr_array_add (argv, g_strdup ("--encoding=UTF8"));
	g_ptr_array_add (argv, g_strdup ("--no-locale"));
	g_ptr_array_add (argv, g_strdup ("--no-sync"));
	return run_and_wait (argv, TRUE, log, error);
}

TestServer *
test_server_start (TestServerKind kind, char **why)
{
	g_autoptr (TestServer) self = g_new0 (TestServer, 1);
	g_autoptr (GError) error = NULL;
	const char *const needed_mariadb[] = { "mariadbd", "mariadb-install-db", "mariadb" };
	const char *const needed_postgres[] = { "postgres", "initdb", "psql" };

	self->kind = kind;
	for (guint i = 0; i < 3; i++) {
		g_autofree char *path = kind == TEST_SERVER_MARIADB
						? find_program (needed_mariadb[i])
						: find_postgres_program (needed_postgres[i]);

		if (path == NULL) {
			*why = g_strdup_printf ("%s is not installed",
						kind == TEST_SERVER_MARIADB ? needed_mariadb[i]
									    : needed_postgres[i]);
			return NULL;
		}
	}
	self->dir = g_dir_make_tmp (kind == TEST_SERVER_MARIADB ? "tandem-mariadb-XXXXXX"
								: "tandem-pg-XXXXXX",
				    &error);
	if (self->dir == NULL) {
		*why = g_strdup (error->message);
		return NULL;
	}
	if (kind == TEST_SERVER_MARIADB) {
		self->socket = g_build_filename (self->dir, "mariadbd.sock", NULL);
		self->user = g_strdup ("root");
	} else {
		/* a directory that "nobody" owns, for data and socket */
		self->socket = g_build_filename (self->dir, "pg", NULL);
		self->user = g_strdup ("tandem");
		g_mkdir (self->socket, 0755);
		g_chmod (self->dir, 0755);
		if (geteuid () == 0 && chown (self->socket, nobody ()->uid, nobody ()->gid) != 0) {
			*why = g_strdup_printf ("cannot chown %s: %s", self->socket,
						g_strerror (errno));
			return NULL;
		}
	}
	if (!init_data_dir (self, &error) || !test_server_start_again (self, &error)) {
		*why = g_strdup (error->message);
		return NULL;
	}
	return g_steal_pointer (&self);
}

gboolean
test_server_create_database (TestServer *self, const char *name, GError **error)
{
	g_autofree char *sql = g_strdup_printf (self->kind == TEST_SERVER_MARIADB
							? "CREATE DATABASE %s CHARACTER SET utf8mb4"
							: "CREATE DATABASE %s",
						name);
	g_autofree char *out = test_server_sql (self, NULL, sql, error);

	return out != NULL;
}

char *
test_server_store_keys (TestServer *self, const char *database)
{
	if (self->kind == TEST_SERVER_MARIADB)
		return g_strdup_printf (
			"provider = mariadb\nhost = %s\nuser = root\ndatabase = %s\n", self->socket,
			database);
	return g_strdup_printf ("provider = postgresql\nhost = %s\nport = " PG_PORT
				"\nuser = %s\ndatabase = %s\n",
				self->socket, self->user, database);
}

static void
rm_rf (const char *path)
{
	g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
	const char *name;

	if (dir != NULL) {
		while ((name = g_dir_read_name (dir)) != NULL) {
			g_autofree char *child = g_build_filename (path, name, NULL);
			GStatBuf st;

			if (g_lstat (child, &st) == 0 && S_ISDIR (st.st_mode))
				rm_rf (child);
			else
				g_remove (child);
		}
	}
	g_remove (path);
}

void
test_server_free (TestServer *self)
{
	if (self == NULL)
		return;
	if (self->proc != NULL)
		test_server_kill (self, FALSE);
	g_clear_object (&self->proc);
	if (self->dir != NULL && g_getenv ("TANDEM_TEST_KEEP") == NULL)
		rm_rf (self->dir);
	g_free (self->dir);
	g_free (self->socket);
	g_free (self->user);
	g_free (self);
}
