/* fixture-marker.c: a plugin that shows whether it was ever loaded
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A valid receiver plugin "marker" whose ELF constructor appends a line to the
 * file named by the environment variable `TANDEM_TEST_MARKER` as soon as the
 * module is mapped, before the loader can look at its descriptor.  The tests
 * use it to prove that the loader refuses an insecure file without dlopen()ing
 * it: running its code would already be the attack.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <tandem.h>

static void fixture_marker_loaded (void) __attribute__ ((constructor));

static void
fixture_marker_loaded (void)
{
	static const char line[] = "loaded\n";
	const char *marker = g_getenv ("TANDEM_TEST_MARKER");
	gssize written;
	int fd;

	if (marker == NULL || *marker == '\0')
		return;

	fd = open (marker, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	do
		written = write (fd, line, sizeof line - 1);
	while (written < 0 && errno == EINTR);
	close (fd);
	/* a marker that was not written would pass for "never loaded" */
	g_assert_cmpint (written, ==, sizeof line - 1);
}

#define FIXTURE_TYPE_MARKER (fixture_marker_get_type ())
G_DECLARE_FINAL_TYPE (FixtureMarker, fixture_marker, FIXTURE, MARKER, TandemReceiver)

struct _FixtureMarker {
	TandemReceiver parent_instance;
};

G_DEFINE_DYNAMIC_TYPE (FixtureMarker, fixture_marker, TANDEM_TYPE_RECEIVER)

static void
fixture_marker_class_init (FixtureMarkerClass *klass)
{
}

static void
fixture_marker_class_finalize (FixtureMarkerClass *klass)
{
}

static void
fixture_marker_init (FixtureMarker *self)
{
}

static GType
fixture_marker_register_types (GTypeModule *module)
{
	/* the loader hands each plugin its own type module */
	g_assert_true (G_IS_TYPE_MODULE (module));

	fixture_marker_register_type (module);
	return FIXTURE_TYPE_MARKER;
}

TANDEM_PLUGIN_DEFINE ("marker",
		      TANDEM_PLUGIN_KIND_RECEIVER,
		      "1.0.0",
		      "LGPL-2.1-or-later",
		      "Test fixture: records in $TANDEM_TEST_MARKER that it was loaded",
		      fixture_marker_register_types)
