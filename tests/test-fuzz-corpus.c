/* test-fuzz-corpus.c: replay the fuzzers' corpus with the normal build
 *
 * Every file of tests/fuzz/corpus/plan-parser and plan-events goes through
 * the same entry points as the libFuzzer targets (tests/fuzz/fuzz-targets.h),
 * so that a corpus input that once crashed keeps being checked without clang
 * or sanitizers.
 *
 * Also replays given files, for a reproducer found by the fuzzers, printing
 * what it does:
 *
 *   test-fuzz-corpus parser|events FILE...
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "fuzz/fuzz-targets.h"

typedef int (*FuzzTarget) (const guint8 *data, gsize size);

static void
replay_file (FuzzTarget target, const char *path)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *data = NULL;
	gsize size = 0;

	g_file_get_contents (path, &data, &size, &error);
	g_assert_no_error (error);
	g_assert_cmpint (target ((const guint8 *) data, size), ==, 0);
}

static void
replay_dir (const char *name, FuzzTarget target)
{
	g_autofree char *dir_path =
		g_test_build_filename (G_TEST_DIST, "fuzz", "corpus", name, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) dir = g_dir_open (dir_path, 0, &error);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
	const char *entry;

	g_assert_no_error (error);
	while ((entry = g_dir_read_name (dir)) != NULL)
		g_ptr_array_add (names, g_strdup (entry));
	g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
	g_assert_cmpuint (names->len, >=, 10);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *path =
			g_build_filename (dir_path, g_ptr_array_index (names, i), NULL);

		g_test_message ("%s", (const char *) g_ptr_array_index (names, i));
		replay_file (target, path);
	}
}

static void
test_plan_parser (void)
{
	replay_dir ("plan-parser", fuzz_plan_parser);
}

static void
test_plan_events (void)
{
	replay_dir ("plan-events", fuzz_plan_events);
}

int
main (int argc, char **argv)
{
	if (argc >= 3 && (strcmp (argv[1], "parser") == 0 || strcmp (argv[1], "events") == 0)) {
		FuzzTarget target =
			strcmp (argv[1], "parser") == 0 ? fuzz_plan_parser : fuzz_plan_events;

		fuzz_trace = TRUE;
		for (int i = 2; i < argc; i++) {
			g_print ("%s\n", argv[i]);
			replay_file (target, argv[i]);
		}
		return 0;
	}
	g_test_init (&argc, &argv, NULL);
	g_test_add_func ("/fuzz-corpus/plan-parser", test_plan_parser);
	g_test_add_func ("/fuzz-corpus/plan-events", test_plan_events);
	return g_test_run ();
}
