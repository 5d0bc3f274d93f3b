/* tandem-file-persister.c: the file persister plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Keeps execution-plan snapshots in files, in the seed's layout
 * `<directory>/<tenant>/<plan>/<TIMESTAMP>_<PLAN>` (TIMESTAMP in
 * milliseconds since the Unix epoch).  A snapshot is written to a
 * temporary file (`.<name>.tmp-XXXXXX`, mode 0600), fsynced, renamed to its
 * name and the directory fsynced: a crash at any point leaves either the
 * previous snapshots alone or the new one complete.  Only then are the
 * snapshots beyond the newest `keep` deleted.  Loading takes the newest
 * file whose header and checksum are valid (tandem_snapshot_decode()),
 * skipping, with a warning, a truncated or corrupt one.  README.md has the
 * keys.
 */
#define G_LOG_DOMAIN "Tandem-file-persister"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tandem-file-persister.h"

#define DEFAULT_SUBDIR "persistence"
#define DEFAULT_KEEP 2

/**
 * TandemFilePersister:
 *
 * The persister plugin `file`: snapshots in files with retention
 * (`plugins/persisters/file/README.md`).  Its config keys are its
 * properties flagged %TANDEM_PARAM_CONFIG.
 */
struct _TandemFilePersister {
	TandemPersister parent_instance;

	/* config */
	char *directory;
	guint keep;
	/* tests: "crash-before-rename" (the temporary file is written and
	 * fsynced, then the save stops as if the process died), "enospc"
	 * (writing fails half way with ENOSPC) */
	char *fault;

	char *root; /* the directory in use, known at start */
};

G_DEFINE_DYNAMIC_TYPE (TandemFilePersister, tandem_file_persister, TANDEM_TYPE_PERSISTER)

enum {
	PROP_0,
	PROP_DIRECTORY,
	PROP_KEEP,
	PROP_FAULT,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static const char *
persister_name (TandemFilePersister *self)
{
	return tandem_plugin_get_name (TANDEM_PLUGIN (self));
}

/* --- names ------------------------------------------------------------------- */

/* A path component for @name: letters, digits, '-', '_' and '.' stay, any
 * other byte (and a leading '.') becomes %XX. */
static char *
escape_component (const char *name)
{
	GString *out = g_string_new (NULL);

	for (const char *p = name; *p != '\0'; p++) {
		guchar c = (guchar) *p;

		if (g_ascii_isalnum (c) || c == '-' || c == '_' || (c == '.' && p != name))
			g_string_append_c (out, (char) c);
		else
			g_string_append_printf (out, "%%%02X", c);
	}
	return g_string_free (out, FALSE);
}

static char *
plan_dir (TandemFilePersister *self, const char *tenant, const char *plan)
{
	g_autofree char *t = escape_component (tenant);
	g_autofree char *p = escape_component (plan);

	return g_build_filename (self->root, t, p, NULL);
}

typedef struct {
	guint64 timestamp;
	char *name;
} Entry;

static void
entry_free (Entry *e)
{
	g_free (e->name);
	g_free (e);
}

static int
entry_newest_first (gconstpointer a, gconstpointer b)
{
	const Entry *x = *(Entry *const *) a;
	const Entry *y = *(Entry *const *) b;

	if (x->timestamp != y->timestamp)
		return x->timestamp > y->timestamp ? -1 : 1;
	return strcmp (y->name, x->name);
}

/* The snapshot files of a plan directory, newest first: `<digits>_<PLAN>`.
 * Temporary files start with '.' and are never listed. */
static GPtrArray *
list_snapshots (const char *dir, const char *escaped_plan, GError **error)
{
	g_autoptr (GDir) d = NULL;
	g_autoptr (GError) local_error = NULL;
	GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
	const char *name;

	d = g_dir_open (dir, 0, &local_error);
	if (d == NULL) {
		if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return entries;
		g_ptr_array_unref (entries);
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "%s", local_error->message);
		return NULL;
	}
	while ((name = g_dir_read_name (d)) != NULL) {
		const char *underscore = strchr (name, '_');
		g_autofree char *digits = NULL;
		guint64 ts = 0;
		Entry *e;

		if (underscore == NULL || underscore == name ||
		    g_strcmp0 (underscore + 1, escaped_plan) != 0)
			continue;
		digits = g_strndup (name, underscore - name);
		if (!g_ascii_string_to_unsigned (digits, 10, 0, G_MAXUINT64, &ts, NULL))
			continue;
		e = g_new0 (Entry, 1);
		e->timestamp = ts;
		e->name = g_strdup (name);
		g_ptr_array_add (entries, e);
	}
	g_ptr_array_sort (entries, entry_newest_first);
	return entries;
}

/* --- writing ------------------------------------------------------------------ */

static gboolean
set_errno_error (GError **error, int saved, const char *what, const char *path)
{
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "cannot %s %s: %s", what, path,
		     g_strerror (saved));
	return FALSE;
}

static gboolean
fsync_dir (const char *dir, GError **error)
{
	int fd = g_open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	int saved;

	if (fd < 0)
		return set_errno_error (error, errno, "open the directory", dir);
	if (fsync (fd) != 0) {
		saved = errno;
		close (fd);
		return set_errno_error (error, saved, "sync the directory", dir);
	}
	close (fd);
	return TRUE;
}

static gboolean
write_all (TandemFilePersister *self,
	   int fd,
	   const guint8 *data,
	   gsize size,
	   const char *path,
	   GError **error)
{
	gsize done = 0;
	gboolean enospc = g_strcmp0 (self->fault, "enospc") == 0;

	while (done < size) {
		gsize chunk = MIN (size - done, (gsize) 8 << 20);
		gssize n;

		if (enospc && done >= size / 2) {
			errno = ENOSPC;
			n = -1;
		} else {
			n = write (fd, data + done, chunk);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return set_errno_error (error, errno, "write", path);
		}
		done += (gsize) n;
	}
	return TRUE;
}

/* Temporary files left by a process that died while saving. */
static void
remove_stale_temporaries (const char *dir)
{
	g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
	const char *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name (d)) != NULL) {
		if (name[0] == '.' && strstr (name, ".tmp-") != NULL) {
			g_autofree char *path = g_build_filename (dir, name, NULL);

			if (g_unlink (path) == 0)
				g_info ("Removed %s, left by an interrupted save", path);
		}
	}
}

/* Deletes the snapshots beyond the newest self->keep; the new one is on
 * disk already. */
static void
apply_retention (TandemFilePersister *self, const char *dir, const char *escaped_plan)
{
	g_autoptr (GPtrArray) entries = list_snapshots (dir, escaped_plan, NULL);
	gboolean removed = FALSE;

	for (guint i = self->keep; entries != NULL && i < entries->len; i++) {
		Entry *e = g_ptr_array_index (entries, i);
		g_autofree char *path = g_build_filename (dir, e->name, NULL);

		if (g_unlink (path) != 0) {
			int saved = errno;

			g_warning ("[persister.%s]: cannot delete the old snapshot %s: %s",
				   persister_name (self), path, g_strerror (saved));
			continue;
		}
		g_debug ("[persister.%s]: deleted the old snapshot %s", persister_name (self),
			 path);
		removed = TRUE;
	}
	if (removed)
		fsync_dir (dir, NULL);
}

static gboolean
tandem_file_persister_save (TandemPersister *persister,
			    const char *tenant,
			    const char *plan,
			    GBytes *snapshot,
			    GError **error)
{
	TandemFilePersister *self = TANDEM_FILE_PERSISTER (persister);
	g_autofree char *dir = NULL;
	g_autofree char *escaped_plan = escape_component (plan);
	g_autofree char *final_name = NULL;
	g_autofree char *final_path = NULL;
	g_autofree char *tmp_path = NULL;
	g_autoptr (GPtrArray) entries = NULL;
	guint64 ts = (guint64) (g_get_real_time () / 1000);
	gsize size = 0;
	const guint8 *data = g_bytes_get_data (snapshot, &size);
	int fd;

	if (self->root == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "persister %s is not started",
			     persister_name (self));
		return FALSE;
	}
	dir = plan_dir (self, tenant, plan);
	if (g_mkdir_with_parents (dir, 0700) != 0)
		return set_errno_error (error, errno, "create the directory", dir);
	remove_stale_temporaries (dir);
	/* names stay in time order even if the clock steps back */
	entries = list_snapshots (dir, escaped_plan, error);
	if (entries == NULL)
		return FALSE;
	if (entries->len > 0)
		ts = MAX (ts, ((Entry *) g_ptr_array_index (entries, 0))->timestamp + 1);

	final_name = g_strdup_printf ("%" G_GUINT64_FORMAT "_%s", ts, escaped_plan);
	final_path = g_build_filename (dir, final_name, NULL);
	tmp_path = g_strdup_printf ("%s/.%s.tmp-XXXXXX", dir, final_name);
	fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		return set_errno_error (error, errno, "create a file in", dir);
	if (!write_all (self, fd, data, size, tmp_path, error) || fsync (fd) != 0) {
		int saved = errno;

		close (fd);
		g_unlink (tmp_path);
		if (error != NULL && *error == NULL)
			set_errno_error (error, saved, "sync", tmp_path);
		return FALSE;
	}
	if (close (fd) != 0) {
		int saved = errno;

		g_unlink (tmp_path);
		return set_errno_error (error, saved, "close", tmp_path);
	}
	if (g_strcmp0 (self->fault, "crash-before-rename") == 0) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "fault injected: stopped before renaming %s", tmp_path);
		return FALSE;
	}
	if (g_rename (tmp_path, final_path) != 0) {
		int saved = errno;

		g_unlink (tmp_path);
		return set_errno_error (error, saved, "rename the snapshot to", final_path);
	}
	if (!fsync_dir (dir, error))
		return FALSE;
	g_debug ("[persister.%s]: wrote %s (%" G_GSIZE_FORMAT " bytes)", persister_name (self),
		 final_path, size);
	apply_retention (self, dir, escaped_plan);
	return TRUE;
}

/* --- reading ------------------------------------------------------------------ */

static GBytes *
tandem_file_persister_load_latest (TandemPersister *persister,
				   const char *tenant,
				   const char *plan,
				   GError **error)
{
	TandemFilePersister *self = TANDEM_FILE_PERSISTER (persister);
	g_autofree char *dir = NULL;
	g_autofree char *escaped_plan = escape_component (plan);
	g_autoptr (GPtrArray) entries = NULL;

	if (self->root == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "persister %s is not started",
			     persister_name (self));
		return NULL;
	}
	dir = plan_dir (self, tenant, plan);
	entries = list_snapshots (dir, escaped_plan, error);
	if (entries == NULL)
		return NULL;
	for (guint i = 0; i < entries->len; i++) {
		Entry *e = g_ptr_array_index (entries, i);
		g_autofree char *path = g_build_filename (dir, e->name, NULL);
		g_autoptr (GMappedFile) mapped = NULL;
		g_autoptr (GBytes) bytes = NULL;
		g_autoptr (GError) local_error = NULL;
		g_autofree char *name = NULL;

		mapped = g_mapped_file_new (path, FALSE, &local_error);
		if (mapped == NULL) {
			g_warning ("[persister.%s]: skipping the snapshot %s: %s",
				   persister_name (self), path, local_error->message);
			continue;
		}
		bytes = g_mapped_file_get_bytes (mapped);
		if (!tandem_snapshot_decode (bytes, &name, NULL, NULL, NULL, &local_error)) {
			g_warning ("[persister.%s]: skipping the snapshot %s: %s",
				   persister_name (self), path, local_error->message);
			continue;
		}
		if (g_strcmp0 (name, plan) != 0) {
			g_warning (
				"[persister.%s]: skipping the snapshot %s: it holds plan %s, not %s",
				persister_name (self), path, name, plan);
			continue;
		}
		g_info ("[persister.%s]: loaded %s", persister_name (self), path);
		/* a copy: the file may be deleted while the bytes live */
		return g_bytes_new (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes));
	}
	return NULL;
}

/* --- lifecycle ------------------------------------------------------------------ */

static gboolean
tandem_file_persister_start (TandemPlugin *plugin, GError **error)
{
	TandemFilePersister *self = TANDEM_FILE_PERSISTER (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_file_persister_parent_class);
	TandemNode *node = tandem_plugin_get_node (plugin);
	g_autofree char *root = NULL;

	if (parent->start != NULL && !parent->start (plugin, error))
		return FALSE;
	if (self->directory != NULL && g_path_is_absolute (self->directory)) {
		root = g_strdup (self->directory);
	} else if (node != NULL && tandem_node_get_state_dir (node) != NULL) {
		root = g_build_filename (tandem_node_get_state_dir (node),
					 self->directory != NULL ? self->directory : DEFAULT_SUBDIR,
					 NULL);
	} else {
		g_set_error (
			error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
			"persister %s: the directory %s is relative, and there is no state directory",
			persister_name (self),
			self->directory != NULL ? self->directory : DEFAULT_SUBDIR);
		return FALSE;
	}
	/* not fatal: the node runs on, and each save reports the problem
	 * until it is fixed */
	if (g_mkdir_with_parents (root, 0700) != 0) {
		int saved = errno;

		g_warning (
			"[persister.%s]: cannot create the directory %s: %s; snapshots fail until it can be",
			persister_name (self), root, g_strerror (saved));
	}
	g_free (self->root);
	self->root = g_canonicalize_filename (root, NULL);
	g_message ("[persister.%s]: snapshots in %s/TENANT/PLAN/, the newest %u of each plan kept",
		   persister_name (self), self->root, self->keep);
	return TRUE;
}

/* --- GObject --------------------------------------------------------------------- */

static void
tandem_file_persister_get_property (GObject *object,
				    guint prop_id,
				    GValue *value,
				    GParamSpec *pspec)
{
	TandemFilePersister *self = TANDEM_FILE_PERSISTER (object);

	switch (prop_id) {
	case PROP_DIRECTORY:
		g_value_set_string (value, self->directory);
		break;
	case PROP_KEEP:
		g_value_set_uint (value, self->keep);
		break;
	case PROP_FAULT:
		g_value_set_string (value, self->fault);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_file_persister_set_property (GObject *object,
				    guint prop_id,
				    const GValue *value,
				    GParamSpec *pspec)
{
	TandemFilePersister *self = TANDEM_FILE_PERSISTER (object);
	const char *str;

	switch (prop_id) {
	case PROP_DIRECTORY:
		str = g_value_get_string (value);
		g_free (self->directory);
		self->directory = str != NULL && *str != '\0' ? g_strdup (str) : NULL;
		break;
	case PROP_KEEP:
		self->keep = g_value_get_uint (value);
		break;
	case PROP_FAULT:
		g_free (self->fault);
		self->fault = g_value_dup_string (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_file_persister_finalize (GObject *object)
{
	TandemFilePersister *self = TANDEM_FILE_PERSISTER (object);

	g_free (self->directory);
	g_free (self->fault);
	g_free (self->root);
	G_OBJECT_CLASS (tandem_file_persister_parent_class)->finalize (object);
}

static void
tandem_file_persister_class_init (TandemFilePersisterClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);
	TandemPersisterClass *persister_class = TANDEM_PERSISTER_CLASS (klass);
	const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG;

	object_class->get_property = tandem_file_persister_get_property;
	object_class->set_property = tandem_file_persister_set_property;
	object_class->finalize = tandem_file_persister_finalize;
	plugin_class->start = tandem_file_persister_start;
	persister_class->save = tandem_file_persister_save;
	persister_class->load_latest = tandem_file_persister_load_latest;

	props[PROP_DIRECTORY] = g_param_spec_string (
		"directory", NULL,
		"Where snapshots go (DIRECTORY/TENANT/PLAN/TIMESTAMP_PLAN); a relative path is taken "
		"from the state directory",
		DEFAULT_SUBDIR, flags);
	props[PROP_KEEP] = g_param_spec_uint ("keep", NULL, "Snapshots kept per plan, the newest",
					      1, 1000, DEFAULT_KEEP, flags);
	/* not a config key: tests inject faults with it */
	props[PROP_FAULT] = g_param_spec_string ("fault", NULL, "Fault injection for tests", NULL,
						 G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_file_persister_class_finalize (TandemFilePersisterClass *klass)
{
}

static void
tandem_file_persister_init (TandemFilePersister *self)
{
	self->keep = DEFAULT_KEEP;
}

static GType
tandem_file_persister_register_types (GTypeModule *module)
{
	tandem_file_persister_register_type (module);
	return TANDEM_TYPE_FILE_PERSISTER;
}

TANDEM_PLUGIN_DEFINE ("file",
		      TANDEM_PLUGIN_KIND_PERSISTER,
		      "0.1.0",
		      "LGPL-2.1-or-later",
		      "Keeps execution-plan snapshots in files, with retention",
		      tandem_file_persister_register_types)
