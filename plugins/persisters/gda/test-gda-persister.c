/* test-gda-persister.c: the gda persister plugin on SQLite, MariaDB and PostgreSQL
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>
#include <tandem.h>

#include "test-gda-servers.h"

typedef struct {
	const char *name;
	gboolean sqlite;
	TestServerKind kind;
	TestServer *server; /* NULL for SQLite */
	char *skip;
} Db;

static char *plugin_dir;
static Db dbs[3];
static guint db_counter;
static GPtrArray *warnings;

/* --- helpers ------------------------------------------------------------------ */

static GLogWriterOutput
log_writer (GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	if (level & G_LOG_LEVEL_WARNING) {
		for (gsize i = 0; i < n_fields; i++) {
			if (g_str_equal (fields[i].key, "MESSAGE"))
				g_ptr_array_add (warnings, g_strdup (fields[i].value));
		}
	}
	return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
assert_warnings (const char *const *patterns)
{
	guint n = g_strv_length ((char **) patterns);

	for (guint i = 0; i < warnings->len; i++)
		g_test_message ("warning: %s", (const char *) warnings->pdata[i]);
	g_assert_cmpuint (warnings->len, ==, n);
	for (guint i = 0; i < n; i++) {
		if (!g_pattern_match_simple (patterns[i], warnings->pdata[i]))
			g_error ("warning %u: \"%s\" does not match \"%s\"", i,
				 (const char *) warnings->pdata[i], patterns[i]);
	}
	g_ptr_array_set_size (warnings, 0);
}

static void
rm_rf (const char *path)
{
	g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
	const char *name;

	if (dir != NULL) {
		while ((name = g_dir_read_name (dir)) != NULL) {
			g_autofree char *child = g_build_filename (path, name, NULL);

			rm_rf (child);
		}
	}
	g_remove (path);
}

static char *
make_tmpdir (void)
{
	g_autoptr (GError) error = NULL;
	char *dir = g_dir_make_tmp ("tandem-test-gda-persister-XXXXXX", &error);

	g_assert_no_error (error);
	return dir;
}

static gboolean
skip_unavailable (Db *db)
{
	if (db->skip != NULL) {
		g_test_skip (db->skip);
		return TRUE;
	}
	return FALSE;
}

/* A fresh database for a test: its config keys, and its name */
static char *
fresh_database (Db *db, const char *dir, char **name)
{
	g_autoptr (GError) error = NULL;

	if (db->sqlite) {
		*name = g_strdup_printf ("%s/snap%u.db", dir, db_counter++);
		return g_strdup_printf ("database = %s\n", *name);
	}
	*name = g_strdup_printf ("p%u", db_counter++);
	test_server_create_database (db->server, *name, &error);
	g_assert_no_error (error);
	return test_server_store_keys (db->server, *name);
}

static TandemPersister *
persister_new (const char *keys, guint keep)
{
	g_autoptr (TandemPluginRegistry) registry = tandem_plugin_registry_new ();
	g_autoptr (TandemConfig) config = tandem_config_new ();
	g_autofree char *text =
		g_strdup_printf ("[persister.snap]\nplugin = gda-persister\nkeep = %u\n%s", keep,
				 keys);
	const char *path[] = { plugin_dir, NULL };
	g_autoptr (GError) error = NULL;
	TandemPlugin *plugin;

	tandem_plugin_registry_set_search_path (registry, path);
	tandem_plugin_registry_scan (registry);
	g_assert_true (tandem_config_load_data (config, text, -1, "tandem.conf", &error));
	plugin = tandem_plugin_registry_create (registry, "gda-persister",
						TANDEM_PLUGIN_KIND_PERSISTER, "snap", NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (G_OBJECT_TYPE_NAME (plugin), ==, "TandemGdaPersister");
	g_assert_true (tandem_plugin_setup (plugin,
					    tandem_config_get_section (config, "persister.snap"),
					    &error));
	g_assert_no_error (error);
	g_assert_true (tandem_plugin_start (plugin, &error));
	g_assert_no_error (error);
	return TANDEM_PERSISTER (plugin);
}

static GBytes *
snapshot_new (const char *plan, guint64 seq, gsize size)
{
	guint8 *data = g_malloc (MAX (size, 1));
	g_autoptr (GBytes) payload = NULL;
	guint32 x = (guint32) seq * 2654435761u + 1;

	/* every byte value, NULs and high bytes included */
	for (gsize i = 0; i < size; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (guint8) (x >> 16);
	}
	payload = g_bytes_new_take (data, size);
	return tandem_snapshot_encode (plan, 7, seq, payload);
}

static guint64
load_seq (TandemPersister *p, const char *tenant, const char *plan)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) snap = tandem_persister_load_latest (p, tenant, plan, &error);
	guint64 seq = 0;

	g_assert_no_error (error);
	if (snap == NULL)
		return 0;
	g_assert_true (tandem_snapshot_decode (snap, NULL, NULL, &seq, NULL, &error));
	g_assert_no_error (error);
	return seq;
}

static void
save_ok (TandemPersister *p, const char *tenant, const char *plan, guint64 seq, gsize size)
{
	g_autoptr (GBytes) snap = snapshot_new (plan, seq, size);
	g_autoptr (GError) error = NULL;

	g_assert_true (tandem_persister_save (p, tenant, plan, snap, &error));
	g_assert_no_error (error);
}

/* Runs SQL on the test's database: the server's client, or the SQLite file
 * through libgda (with the plugin's own provider). */
static char *
run_sql (Db *db, const char *name, const char *sql)
{
	g_autoptr (GError) error = NULL;
	char *out;

	if (db->sqlite) {
		g_autofree char *dir = g_path_get_dirname (name);
		g_autofree char *base = g_path_get_basename (name);
		const char *argv[] = {
			"/usr/bin/python3",
			"-c",
			"import sqlite3,sys\n"
			"c=sqlite3.connect(sys.argv[1])\n"
			"r=c.execute(sys.argv[2]).fetchall()\n"
			"c.commit()\n"
			"print('\\n'.join('|'.join(str(v) for v in row) for row in r))",
			name,
			sql,
			NULL
		};
		int status = 0;

		g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL,
					     NULL, &out, NULL, &status, &error));
		g_assert_no_error (error);
		g_assert_true (g_spawn_check_wait_status (status, NULL));
		return out;
	}
	out = test_server_sql (db->server, name, sql, &error);
	g_assert_no_error (error);
	return out;
}

static int
count_rows (Db *db, const char *name, const char *plan)
{
	g_autofree char *sql =
		g_strdup_printf ("SELECT COUNT(*) FROM tandem_snapshots WHERE plan = '%s'", plan);
	g_autofree char *out = run_sql (db, name, sql);

	return atoi (g_strstrip (out));
}

/* --- tests --------------------------------------------------------------------- */

/* Snapshots of a few bytes and of several MB come back byte for byte, in
 * the column type of the provider; tenants and plans are apart; nothing
 * for a plan never saved. */
static void
test_round_trip (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *name = NULL;
	g_autofree char *keys = NULL;
	g_autoptr (TandemPersister) p = NULL;
	g_autoptr (GError) error = NULL;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	keys = fresh_database (db, dir, &name);
	p = persister_new (keys, 2);
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 0);
	for (guint k = 0; k < 3; k++) {
		gsize sizes[] = { 0, 1000, 6 * 1024 * 1024 + 3 };
		g_autoptr (GBytes) snap = snapshot_new ("P", 10 + k, sizes[k]);
		g_autoptr (GBytes) back = NULL;

		g_assert_true (tandem_persister_save (p, "t", "P", snap, &error));
		g_assert_no_error (error);
		back = tandem_persister_load_latest (p, "t", "P", &error);
		g_assert_no_error (error);
		g_assert_nonnull (back);
		g_assert_cmpuint (g_bytes_get_size (back), ==, g_bytes_get_size (snap));
		g_assert_true (g_bytes_equal (back, snap));
	}
	save_ok (p, "other", "P", 99, 10);
	save_ok (p, "t", "Q", 98, 10);
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 12);
	g_assert_cmpuint (load_seq (p, "other", "P"), ==, 99);
	g_assert_cmpuint (load_seq (p, "t", "Q"), ==, 98);
	/* the column type */
	{
		const char *sql =
			db->sqlite
				? "SELECT type FROM pragma_table_info('tandem_snapshots') WHERE name = 'snapshot'"
			: db->kind == TEST_SERVER_MARIADB
				? "SELECT DATA_TYPE FROM information_schema.columns WHERE table_schema = DATABASE() AND "
				  "table_name = 'tandem_snapshots' AND column_name = 'snapshot'"
				: "SELECT data_type FROM information_schema.columns WHERE table_name = 'tandem_snapshots' AND "
				  "column_name = 'snapshot'";
		g_autofree char *type = run_sql (db, name, sql);

		g_assert_cmpstr (g_strstrip (type), ==,
				 db->sqlite                        ? "BLOB"
				 : db->kind == TEST_SERVER_MARIADB ? "longblob"
								   : "bytea");
	}
	/* the size and the seq in their columns */
	{
		g_autofree char *out = run_sql (
			db, name,
			"SELECT seq, size, epoch FROM tandem_snapshots WHERE plan = 'P' AND "
			"tenant = 't' ORDER BY id DESC");
		g_autofree char *want = g_strdup_printf ("12|%d|7", 6 * 1024 * 1024 + 3 + 44 + 1);
		g_auto (GStrv) lines = g_strsplit (g_strstrip (out), "\n", -1);

		/* MariaDB's client separates with tabs */
		g_strdelimit (lines[0], "\t", '|');
		g_assert_cmpstr (lines[0], ==, want);
	}
	rm_rf (dir);
}

/* The newest `keep` rows of each plan stay; older ones go once the new one
 * is committed. */
static void
test_retention (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *name = NULL;
	g_autofree char *keys = NULL;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	keys = fresh_database (db, dir, &name);
	{
		g_autoptr (TandemPersister) p = persister_new (keys, 2);

		save_ok (p, "t", "Q", 1, 10);
		for (guint64 seq = 1; seq <= 5; seq++) {
			save_ok (p, "t", "P", seq, 500);
			g_assert_cmpint (count_rows (db, name, "P"), ==, MIN (seq, 2));
			g_assert_cmpuint (load_seq (p, "t", "P"), ==, seq);
		}
		g_assert_cmpint (count_rows (db, name, "Q"), ==, 1);
	}
	{
		g_autoptr (TandemPersister) p = persister_new (keys, 3);

		for (guint64 seq = 6; seq <= 9; seq++)
			save_ok (p, "t", "P", seq, 500);
		g_assert_cmpint (count_rows (db, name, "P"), ==, 3);
		g_assert_cmpuint (load_seq (p, "t", "P"), ==, 9);
	}
	rm_rf (dir);
}

/* A truncated newest row and a corrupt one before it are skipped, each
 * with a warning naming it; none valid: nothing, without error. */
static void
test_damaged_rows (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *name = NULL;
	g_autofree char *keys = NULL;
	g_autoptr (TandemPersister) p = NULL;
	const char *substr = db->kind == TEST_SERVER_POSTGRES && !db->sqlite
				     ? "substring(snapshot from 1 for 100)"
				     : "substr(snapshot, 1, 100)";
	const char *junk = db->kind == TEST_SERVER_POSTGRES && !db->sqlite
				   ? "decode('00112233445566778899', 'hex')"
				   : "X'00112233445566778899'";
	g_autofree char *truncate = NULL;
	g_autofree char *corrupt = NULL;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	keys = fresh_database (db, dir, &name);
	p = persister_new (keys, 5);
	save_ok (p, "t", "P", 1, 2000);
	save_ok (p, "t", "P", 2, 2000);
	save_ok (p, "t", "P", 3, 2000);
	truncate =
		g_strdup_printf ("UPDATE tandem_snapshots SET snapshot = %s WHERE seq = 3", substr);
	corrupt = g_strdup_printf ("UPDATE tandem_snapshots SET snapshot = %s WHERE seq = 2", junk);
	g_free (run_sql (db, name, truncate));
	g_free (run_sql (db, name, corrupt));
	g_ptr_array_set_size (warnings, 0);
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 1);
	{
		const char *expected[] = {
			"*skipping the snapshot * of plan P: the snapshot is truncated: 100 bytes*",
			"*skipping the snapshot * of plan P: not a Tandem snapshot (bad magic)",
			NULL
		};

		assert_warnings (expected);
	}
	g_free (run_sql (db, name, "DELETE FROM tandem_snapshots WHERE seq = 1"));
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 0);
	{
		const char *expected[] = { "*truncated*", "*bad magic*", NULL };

		assert_warnings (expected);
	}
	rm_rf (dir);
}

/* The database goes away: saving fails with the reason, without blocking
 * or crashing; once it is back, saving and loading work again (a new
 * connection), and the snapshots from before are still there. */
static void
test_database_down (gconstpointer data)
{
	Db *db = (Db *) data;
	g_autofree char *dir = NULL;
	g_autofree char *name = NULL;
	g_autofree char *keys = NULL;
	g_autoptr (TandemPersister) p = NULL;
	g_autoptr (GBytes) snap = snapshot_new ("P", 2, 1000);
	g_autoptr (GError) error = NULL;
	g_autofree char *moved = NULL;

	if (skip_unavailable (db))
		return;
	dir = make_tmpdir ();
	keys = fresh_database (db, dir, &name);
	p = persister_new (keys, 2);
	save_ok (p, "t", "P", 1, 1000);
	if (db->sqlite) {
		/* the directory of the file disappears */
		g_autofree char *sub = g_build_filename (dir, "sub", NULL);

		g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
		g_clear_object (&p);
		g_clear_pointer (&keys, g_free);
		g_free (name);
		name = g_build_filename (sub, "snap.db", NULL);
		keys = g_strdup_printf ("database = %s\n", name);
		p = persister_new (keys, 2);
		save_ok (p, "t", "P", 1, 1000);
		moved = g_build_filename (dir, "moved", NULL);
		g_clear_object (&p);
		g_ptr_array_set_size (warnings, 0);
		g_assert_cmpint (g_rename (sub, moved), ==, 0);
		p = persister_new (keys, 2);
		{
			const char *expected[] = { "*snapshots fail until it can be reached",
						   NULL };

			assert_warnings (expected);
		}
	} else {
		test_server_kill (db->server, TRUE);
	}
	g_assert_false (tandem_persister_save (p, "t", "P", snap, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
	g_test_message ("database down: %s", error->message);
	g_clear_error (&error);
	g_assert_null (tandem_persister_load_latest (p, "t", "P", &error));
	g_assert_nonnull (error);
	g_clear_error (&error);
	if (db->sqlite) {
		g_autofree char *sub = g_path_get_dirname (name);

		g_assert_cmpint (g_rename (moved, sub), ==, 0);
	} else {
		test_server_start_again (db->server, &error);
		g_assert_no_error (error);
	}
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 1);
	g_assert_true (tandem_persister_save (p, "t", "P", snap, &error));
	g_assert_no_error (error);
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 2);
	g_ptr_array_set_size (warnings, 0);
	rm_rf (dir);
}

static void
test_config_errors (void)
{
	g_autoptr (TandemPluginRegistry) registry = tandem_plugin_registry_new ();
	const char *path[] = { plugin_dir, NULL };
	const char *cases[][2] = {
		{ "provider = oracle\n",
		  "*key 'provider' in [persister.snap]: expected sqlite, mysql*" },
		{ "table = 1abc\n", "*key 'table'*expected 1-63 letters*\"1abc\"*" },
		{ "keep = 0\n", "*key 'keep'*" },
		{ "password = a\npassword_env = B\n", "*give the password one way*" },
	};

	tandem_plugin_registry_set_search_path (registry, path);
	tandem_plugin_registry_scan (registry);
	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr (TandemConfig) config = tandem_config_new ();
		g_autofree char *text =
			g_strdup_printf ("[persister.snap]\nplugin = gda-persister\n%s",
					 cases[i][0]);
		g_autoptr (GError) error = NULL;
		g_autoptr (TandemPlugin) plugin = NULL;

		g_assert_true (tandem_config_load_data (config, text, -1, "tandem.conf", &error));
		plugin = tandem_plugin_registry_create (registry, "gda-persister",
							TANDEM_PLUGIN_KIND_PERSISTER, "snap", NULL,
							&error);
		g_assert_no_error (error);
		g_assert_false (
			tandem_plugin_setup (plugin,
					     tandem_config_get_section (config, "persister.snap"),
					     &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG);
		if (!g_pattern_match_simple (cases[i][1], error->message))
			g_error ("\"%s\" does not match \"%s\"", error->message, cases[i][1]);
	}
}

/* --- main ------------------------------------------------------------------------- */

static void
copy_plugin (void)
{
	const char *build = g_getenv ("TANDEM_TEST_GDA_PERSISTER_DIR");
	g_autofree char *src = NULL;
	g_autofree char *dst = NULL;
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr (GError) error = NULL;

	g_assert_nonnull (build);
	src = g_build_filename (build, "tandem-gda-persister.so", NULL);
	dst = g_build_filename (plugin_dir, "tandem-gda-persister.so", NULL);
	g_file_get_contents (src, &contents, &length, &error);
	g_assert_no_error (error);
	g_file_set_contents_full (dst, contents, length, G_FILE_SET_CONTENTS_NONE, 0755, &error);
	g_assert_no_error (error);
	g_assert_cmpint (g_chmod (dst, 0755), ==, 0);
}

int
main (int argc, char **argv)
{
	int rc;
	struct {
		const char *name;
		GTestDataFunc func;
	} tests[] = {
		{ "round-trip", test_round_trip },
		{ "retention", test_retention },
		{ "damaged-rows", test_damaged_rows },
		{ "database-down", test_database_down },
	};

	g_test_init (&argc, &argv, NULL);
	warnings = g_ptr_array_new_with_free_func (g_free);
	g_log_set_writer_func (log_writer, NULL, NULL);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	plugin_dir = make_tmpdir ();
	copy_plugin ();

	dbs[0] = (Db){ "sqlite", TRUE, 0, NULL, NULL };
	dbs[1] = (Db){ "mariadb", FALSE, TEST_SERVER_MARIADB, NULL, NULL };
	dbs[2] = (Db){ "postgresql", FALSE, TEST_SERVER_POSTGRES, NULL, NULL };
	for (guint i = 1; i < 3; i++) {
		g_autofree char *why = NULL;

		dbs[i].server = test_server_start (dbs[i].kind, &why);
		if (dbs[i].server == NULL)
			dbs[i].skip = g_strdup_printf ("%s: %s", dbs[i].name, why);
	}
	g_test_add_func ("/gda-persister/config-errors", test_config_errors);
	for (guint d = 0; d < 3; d++) {
		for (guint i = 0; i < G_N_ELEMENTS (tests); i++) {
			g_autofree char *path = g_strdup_printf ("/gda-persister/%s/%s",
								 dbs[d].name, tests[i].name);

			g_test_add_data_func (path, &dbs[d], tests[i].func);
		}
	}
	rc = g_test_run ();
	for (guint i = 0; i < 3; i++) {
		g_clear_pointer (&dbs[i].server, test_server_free);
		g_free (dbs[i].skip);
	}
	rm_rf (plugin_dir);
	g_free (plugin_dir);
	g_ptr_array_unref (warnings);
	return rc;
}
