/* test-file-persister.c: the file persister plugin, in process
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <tandem.h>

static char *plugin_dir;
static GPtrArray *warnings; /* of char *: the warnings logged since the last check */

/* Warnings are recorded (and not fatal): the tests check them. */
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

/* The warnings since the last call match @patterns, in order. */
static void
assert_warnings (const char *const *patterns)
{
	guint n = patterns != NULL ? g_strv_length ((char **) patterns) : 0;

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

/* --- helpers ------------------------------------------------------------------ */

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
	char *dir = g_dir_make_tmp ("tandem-test-file-persister-XXXXXX", &error);

	g_assert_no_error (error);
	return dir;
}

static TandemPersister *
persister_new (const char *directory, guint keep)
{
	g_autoptr (TandemPluginRegistry) registry = tandem_plugin_registry_new ();
	const char *path[] = { plugin_dir, NULL };
	g_autoptr (GError) error = NULL;
	TandemPlugin *plugin;

	tandem_plugin_registry_set_search_path (registry, path);
	tandem_plugin_registry_scan (registry);
	plugin = tandem_plugin_registry_create (registry, "file", TANDEM_PLUGIN_KIND_PERSISTER,
						"files", NULL, &error);
	g_assert_no_error (error);
	g_assert_cmpstr (G_OBJECT_TYPE_NAME (plugin), ==, "TandemFilePersister");
	g_object_set (plugin, "directory", directory, "keep", keep, NULL);
	g_assert_true (tandem_plugin_setup (plugin, NULL, &error));
	g_assert_true (tandem_plugin_start (plugin, &error));
	g_assert_no_error (error);
	return TANDEM_PERSISTER (plugin);
}

/* a snapshot of @plan at @seq, its payload @size bytes derived from @seq */
static GBytes *
snapshot_new (const char *plan, guint64 seq, gsize size)
{
	guint8 *data = g_malloc (MAX (size, 1));
	g_autoptr (GBytes) payload = NULL;

	for (gsize i = 0; i < size; i++)
		data[i] = (guint8) (seq * 7 + i);
	payload = g_bytes_new_take (data, size);
	return tandem_snapshot_encode (plan, 1, seq, payload);
}

static guint64
seq_of (GBytes *snapshot)
{
	g_autoptr (GError) error = NULL;
	guint64 seq = 0;

	g_assert_nonnull (snapshot);
	g_assert_true (tandem_snapshot_decode (snapshot, NULL, NULL, &seq, NULL, &error));
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

static guint64
load_seq (TandemPersister *p, const char *tenant, const char *plan)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GBytes) snap = tandem_persister_load_latest (p, tenant, plan, &error);

	g_assert_no_error (error);
	return snap != NULL ? seq_of (snap) : 0;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
	return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The names in @dir, sorted, dot files included. */
static GPtrArray *
list_dir (const char *dir)
{
	g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
	GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
	const char *name;

	while (d != NULL && (name = g_dir_read_name (d)) != NULL)
		g_ptr_array_add (names, g_strdup (name));
	g_ptr_array_sort (names, compare_names);
	return names;
}

static guint
count_temporaries (const char *dir)
{
	g_autoptr (GPtrArray) names = list_dir (dir);
	guint n = 0;

	for (guint i = 0; i < names->len; i++)
		n += ((const char *) names->pdata[i])[0] == '.';
	return n;
}

/* --- tests ------------------------------------------------------------------------ */

/* Layout <dir>/<tenant>/<plan>/<TIMESTAMP>_<PLAN>, modes 0600 and 0700, the
 * snapshot byte for byte, and nothing for a plan never saved. */
static void
test_save_load (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autoptr (TandemPersister) p = persister_new (dir, 2);
	g_autoptr (GBytes) snap = snapshot_new ("Stocks", 42, 1000);
	g_autoptr (GBytes) loaded = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *plan_dir = g_build_filename (dir, "prod", "Stocks", NULL);
	g_autoptr (GPtrArray) names = NULL;
	g_autofree char *file = NULL;
	GStatBuf st;
	gint64 before = g_get_real_time () / 1000;
	guint64 ts = 0;

	loaded = tandem_persister_load_latest (p, "prod", "Stocks", &error);
	g_assert_no_error (error);
	g_assert_null (loaded);

	g_assert_true (tandem_persister_save (p, "prod", "Stocks", snap, &error));
	g_assert_no_error (error);
	names = list_dir (plan_dir);
	g_assert_cmpuint (names->len, ==, 1);
	g_assert_true (g_str_has_suffix (names->pdata[0], "_Stocks"));
	ts = g_ascii_strtoull (names->pdata[0], NULL, 10);
	g_assert_cmpuint (ts, >=, (guint64) before);
	g_assert_cmpuint (ts, <=, (guint64) (g_get_real_time () / 1000));
	file = g_build_filename (plan_dir, names->pdata[0], NULL);
	g_assert_cmpint (g_stat (file, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 0777, ==, 0600);
	g_assert_cmpint (g_stat (plan_dir, &st), ==, 0);
	g_assert_cmpint (st.st_mode & 0777, ==, 0700);

	loaded = tandem_persister_load_latest (p, "prod", "Stocks", &error);
	g_assert_no_error (error);
	g_assert_true (g_bytes_equal (loaded, snap));

	/* another tenant, another plan: apart */
	g_assert_cmpuint (load_seq (p, "other", "Stocks"), ==, 0);
	g_assert_cmpuint (load_seq (p, "prod", "Other"), ==, 0);

	/* names that are not path components are escaped */
	save_ok (p, "../t", "a/b c", 5, 10);
	g_assert_cmpuint (load_seq (p, "../t", "a/b c"), ==, 5);
	g_clear_pointer (&plan_dir, g_free);
	plan_dir = g_build_filename (dir, "%2E.%2Ft", "a%2Fb%20c", NULL);
	g_assert_true (g_file_test (plan_dir, G_FILE_TEST_IS_DIR));
	rm_rf (dir);
}

/* The newest N are kept (N = 2 by default, or keep), older ones deleted;
 * each plan on its own. */
static void
test_retention (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *plan_dir = g_build_filename (dir, "t", "P", NULL);
	g_autofree char *other_dir = g_build_filename (dir, "t", "Q", NULL);

	{
		g_autoptr (TandemPersister) p = persister_new (dir, 2);

		save_ok (p, "t", "Q", 100, 10);
		for (guint64 seq = 1; seq <= 6; seq++) {
			g_autoptr (GPtrArray) names = NULL;

			save_ok (p, "t", "P", seq, 100);
			names = list_dir (plan_dir);
			g_assert_cmpuint (names->len, ==, MIN (seq, 2));
			g_assert_cmpuint (load_seq (p, "t", "P"), ==, seq);
		}
		/* the two newest: 5 and 6 */
		{
			g_autoptr (GPtrArray) names = list_dir (plan_dir);
			g_autofree char *older = g_build_filename (plan_dir, names->pdata[0], NULL);
			g_autofree char *contents = NULL;
			gsize length = 0;
			g_autoptr (GBytes) bytes = NULL;

			g_assert_true (g_file_get_contents (older, &contents, &length, NULL));
			bytes = g_bytes_new (contents, length);
			g_assert_cmpuint (seq_of (bytes), ==, 5);
		}
		/* plan Q untouched */
		g_assert_cmpuint (load_seq (p, "t", "Q"), ==, 100);
		{
			g_autoptr (GPtrArray) names = list_dir (other_dir);

			g_assert_cmpuint (names->len, ==, 1);
		}
	}
	{
		g_autoptr (TandemPersister) p = persister_new (dir, 4);

		for (guint64 seq = 7; seq <= 12; seq++)
			save_ok (p, "t", "P", seq, 100);
		{
			g_autoptr (GPtrArray) names = list_dir (plan_dir);

			g_assert_cmpuint (names->len, ==, 4);
		}
		g_assert_cmpuint (load_seq (p, "t", "P"), ==, 12);
	}
	rm_rf (dir);
}

/* A crash between write and rename (injected: the temporary file is
 * written and fsynced, then the save stops) leaves the previous snapshot
 * the newest valid one; the next save removes the leftover and goes on. */
static void
test_crash_before_rename (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *plan_dir = g_build_filename (dir, "t", "P", NULL);
	g_autoptr (TandemPersister) p = persister_new (dir, 2);
	g_autoptr (GBytes) snap = snapshot_new ("P", 2, 5000);
	g_autoptr (GError) error = NULL;
	g_autoptr (GPtrArray) names = NULL;

	save_ok (p, "t", "P", 1, 5000);
	g_object_set (p, "fault", "crash-before-rename", NULL);
	g_assert_false (tandem_persister_save (p, "t", "P", snap, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
	g_assert_nonnull (strstr (error->message, "before renaming"));
	g_clear_error (&error);
	/* the temporary file is there, complete, and ignored */
	names = list_dir (plan_dir);
	g_assert_cmpuint (names->len, ==, 2);
	g_assert_cmpuint (count_temporaries (plan_dir), ==, 1);
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 1);

	g_object_set (p, "fault", NULL, NULL);
	save_ok (p, "t", "P", 3, 5000);
	g_clear_pointer (&names, g_ptr_array_unref);
	names = list_dir (plan_dir);
	g_assert_cmpuint (names->len, ==, 2);
	g_assert_cmpuint (count_temporaries (plan_dir), ==, 0);
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 3);
	rm_rf (dir);
}

/* the snapshot file with the newest (or oldest) timestamp */
static char *
file_by_time (const char *plan_dir, gboolean newest)
{
	g_autoptr (GPtrArray) names = list_dir (plan_dir);
	guint64 best = newest ? 0 : G_MAXUINT64;
	const char *name = NULL;

	for (guint i = 0; i < names->len; i++) {
		guint64 ts = g_ascii_strtoull (names->pdata[i], NULL, 10);

		if (((const char *) names->pdata[i])[0] == '.')
			continue;
		if (newest ? ts >= best : ts <= best) {
			best = ts;
			name = names->pdata[i];
		}
	}
	g_assert_nonnull (name);
	return g_build_filename (plan_dir, name, NULL);
}

static char *
newest_file (const char *plan_dir)
{
	return file_by_time (plan_dir, TRUE);
}

/* A truncated or corrupt newest file, or one holding another plan, is
 * skipped with a warning naming it; the next older valid one is taken;
 * none valid: nothing, without error. */
static void
test_damaged_newest (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *plan_dir = g_build_filename (dir, "t", "P", NULL);
	g_autoptr (TandemPersister) p = persister_new (dir, 5);
	g_autofree char *path = NULL;
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr (GError) error = NULL;

	save_ok (p, "t", "P", 1, 3000);
	save_ok (p, "t", "P", 2, 3000);

	/* truncated */
	path = newest_file (plan_dir);
	g_assert_true (g_file_get_contents (path, &contents, &length, &error));
	g_assert_true (g_file_set_contents (path, contents, (gssize) length / 2, &error));
	g_ptr_array_set_size (warnings, 0);
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 1);
	{
		const char *expected[] = { "*skipping the snapshot*_P: the snapshot is truncated*",
					   NULL };

		assert_warnings (expected);
	}

	/* corrupt: one bit in the middle */
	save_ok (p, "t", "P", 3, 3000);
	g_clear_pointer (&path, g_free);
	g_clear_pointer (&contents, g_free);
	path = newest_file (plan_dir);
	g_assert_true (g_file_get_contents (path, &contents, &length, &error));
	contents[length / 2] ^= 0x10;
	g_assert_true (g_file_set_contents (path, contents, (gssize) length, &error));
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 1);
	{
		const char *expected[] = {
			"*skipping the snapshot*: the snapshot is corrupt: its CRC32C is*",
			"*skipping the snapshot*truncated*", NULL
		};

		assert_warnings (expected);
	}

	/* another plan's snapshot under this plan's name */
	{
		g_autoptr (GBytes) foreign = snapshot_new ("Q", 9, 10);
		g_autofree char *name = g_strdup_printf ("%s/%" G_GINT64_FORMAT "_P", plan_dir,
							 g_get_real_time () / 1000 + 100000);

		g_assert_true (g_file_set_contents (name, g_bytes_get_data (foreign, NULL),
						    (gssize) g_bytes_get_size (foreign), &error));
	}
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 1);
	{
		const char *expected[] = { "*it holds plan Q, not P*", "*corrupt*", "*truncated*",
					   NULL };

		assert_warnings (expected);
	}

	/* nothing valid left: the oldest, seq 1, emptied */
	{
		g_autofree char *oldest = file_by_time (plan_dir, FALSE);

		g_assert_true (g_file_set_contents (oldest, "", 0, &error));
	}
	g_assert_cmpuint (load_seq (p, "t", "P"), ==, 0);
	{
		const char *expected[] = { "*not P*", "*corrupt*", "*truncated*",
					   "*the snapshot is empty", NULL };

		assert_warnings (expected);
	}
	rm_rf (dir);
}

static gboolean
run (const char *const *argv, char **out)
{
	g_autoptr (GError) error = NULL;
	int status = 0;

	if (!g_spawn_sync (NULL, (char **) argv, NULL,
			   G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, out, NULL,
			   &status, &error))
		return FALSE;
	return g_spawn_check_wait_status (status, NULL);
}

/* A full disk: a 256 KiB tmpfs when the test may mount one (as root), else
 * an injected ENOSPC.  The save fails saying so, leaves no temporary file,
 * keeps the previous snapshot (and deletes nothing); it succeeds again once
 * there is room. */
static void
test_disk_full (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *mnt = g_build_filename (dir, "mnt", NULL);
	g_autofree char *plan_dir = g_build_filename (mnt, "t", "P", NULL);
	g_autoptr (GError) error = NULL;
	gboolean mounted = FALSE;
	const char *mount_argv[] = { "mount", "-t", "tmpfs", "-o", "size=256k,mode=0700",
				     "tmpfs", mnt,  NULL };

	g_assert_cmpint (g_mkdir (mnt, 0700), ==, 0);
	if (getuid () == 0)
		mounted = run (mount_argv, NULL);
	g_test_message ("disk full: %s",
			mounted ? "a 256 KiB tmpfs" : "an injected ENOSPC (cannot mount a tmpfs)");
	{
		g_autoptr (TandemPersister) p = persister_new (mnt, 2);
		g_autoptr (GBytes) big = snapshot_new ("P", 2, 400 * 1024);
		g_autoptr (GPtrArray) names = NULL;

		save_ok (p, "t", "P", 1, 100 * 1024);
		if (!mounted)
			g_object_set (p, "fault", "enospc", NULL);
		g_assert_false (tandem_persister_save (p, "t", "P", big, &error));
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
		g_assert_nonnull (strstr (error->message, g_strerror (ENOSPC)));
		g_clear_error (&error);
		names = list_dir (plan_dir);
		g_assert_cmpuint (names->len, ==, 1);
		g_assert_cmpuint (count_temporaries (plan_dir), ==, 0);
		g_assert_cmpuint (load_seq (p, "t", "P"), ==, 1);

		/* room again (a smaller snapshot fits beside the first) */
		g_object_set (p, "fault", NULL, NULL);
		save_ok (p, "t", "P", 3, 50 * 1024);
		g_assert_cmpuint (load_seq (p, "t", "P"), ==, 3);
	}
	if (mounted) {
		const char *umount_argv[] = { "umount", mnt, NULL };

		g_assert_true (run (umount_argv, NULL));
	}
	rm_rf (dir);
}

/* A directory that cannot be made (a file stands in the way, which stops
 * root too): the save fails naming it; the other tenants still work. */
static void
test_unwritable_directory (void)
{
	g_autofree char *dir = make_tmpdir ();
	g_autofree char *blocker = g_build_filename (dir, "blocked", NULL);
	g_autoptr (TandemPersister) p = persister_new (dir, 2);
	g_autoptr (GBytes) snap = snapshot_new ("P", 1, 10);
	g_autoptr (GError) error = NULL;

	g_assert_true (g_file_set_contents (blocker, "not a directory", -1, &error));
	g_assert_false (tandem_persister_save (p, "blocked", "P", snap, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED);
	g_assert_nonnull (strstr (error->message, "cannot create the directory"));
	g_assert_nonnull (strstr (error->message, "blocked"));
	g_clear_error (&error);
	save_ok (p, "fine", "P", 1, 10);
	g_assert_cmpuint (load_seq (p, "fine", "P"), ==, 1);
	rm_rf (dir);
}

/* --- main ------------------------------------------------------------------------- */

static void
copy_plugin (void)
{
	const char *build = g_getenv ("TANDEM_TEST_FILE_PERSISTER_DIR");
	g_autofree char *src = NULL;
	g_autofree char *dst = NULL;
	g_autofree char *contents = NULL;
	gsize length = 0;
	g_autoptr (GError) error = NULL;

	g_assert_nonnull (build);
	src = g_build_filename (build, "tandem-file-persister.so", NULL);
	dst = g_build_filename (plugin_dir, "tandem-file-persister.so", NULL);
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

	g_test_init (&argc, &argv, NULL);
	warnings = g_ptr_array_new_with_free_func (g_free);
	g_log_set_writer_func (log_writer, NULL, NULL);
	g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	plugin_dir = make_tmpdir ();
	copy_plugin ();
	g_test_add_func ("/file-persister/save-load", test_save_load);
	g_test_add_func ("/file-persister/retention", test_retention);
	g_test_add_func ("/file-persister/crash-before-rename", test_crash_before_rename);
	g_test_add_func ("/file-persister/damaged-newest", test_damaged_newest);
	g_test_add_func ("/file-persister/disk-full", test_disk_full);
	g_test_add_func ("/file-persister/unwritable-directory", test_unwritable_directory);
	rc = g_test_run ();
	rm_rf (plugin_dir);
	g_free (plugin_dir);
	g_ptr_array_unref (warnings);
	return rc;
}
