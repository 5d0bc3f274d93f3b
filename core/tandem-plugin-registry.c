/* tandem-plugin-registry.c: finds, checks and loads plugin modules
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Plugins"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gmodule.h>
#include <glib/gstdio.h>

#include "tandem-error.h"
#include "tandem-node.h"
#include "tandem-plugin.h"
#include "tandem-plugin-registry.h"

/**
 * TandemPluginRegistry:
 *
 * Finds plugin modules, checks them, and creates plugin instances.
 *
 * The search path is `TANDEM_PLUGIN_PATH` (a colon-separated list of
 * directories) followed by the installed plugins directory (the `pluginsdir`
 * variable of `pkg-config tandem-1`).  Every file ending in `.so` in those
 * directories is examined, directories in order and files in name order.
 * The registry refuses, and says why:
 *
 * - a file writable by its group or by others, or owned by a user other
 *   than root and the one running the process (it is never opened);
 * - a file that cannot be loaded, or that has no `tandem_plugin_describe`
 *   entry point (see TANDEM_PLUGIN_DEFINE()), or an invalid descriptor;
 * - a plugin built for another plugin ABI major version, or for a newer
 *   minor version than this libtandem provides;
 * - a plugin whose name was already found earlier in the search path.
 *
 * Types are registered into a #GTypeModule the first time an instance is
 * created; a loaded plugin stays loaded for the life of the process.
 */

/**
 * TandemPluginInfo:
 *
 * What the registry found in one plugin file: the descriptor's fields, and
 * whether the plugin is usable or why it was refused.
 */

/* --- the GTypeModule of one plugin file --------------------------------- */

#define TANDEM_TYPE_PLUGIN_MODULE (tandem_plugin_module_get_type ())
G_DECLARE_FINAL_TYPE (TandemPluginModule, tandem_plugin_module, TANDEM, PLUGIN_MODULE, GTypeModule)

struct _TandemPluginModule {
	GTypeModule parent_instance;

	GModule *gmodule; /* never closed: registered types stay valid */
	const TandemPluginDescriptor *descriptor;
	GType plugin_type;
	char *filename;
	GError *load_error; /* why the types are unusable, when plugin_type is invalid */
};

G_DEFINE_FINAL_TYPE (TandemPluginModule, tandem_plugin_module, G_TYPE_TYPE_MODULE)

static gboolean
tandem_plugin_module_load (GTypeModule *module)
{
	TandemPluginModule *self = TANDEM_PLUGIN_MODULE (module);

	self->plugin_type = self->descriptor->register_types (module);
	return self->plugin_type != G_TYPE_INVALID;
}

static void
tandem_plugin_module_unload (GTypeModule *module)
{
	/* Plugins are never unloaded: the GModule stays resident. */
}

static void
tandem_plugin_module_class_init (TandemPluginModuleClass *klass)
{
	GTypeModuleClass *module_class = G_TYPE_MODULE_CLASS (klass);

	module_class->load = tandem_plugin_module_load;
	module_class->unload = tandem_plugin_module_unload;
}

static void
tandem_plugin_module_init (TandemPluginModule *self)
{
}

/* Types are process-global, so loaded modules are too: plugin name -> module.
 * Modules in this table are never freed (a GTypeModule with registered types
 * must not be finalized). */
static GMutex loaded_lock;
static GHashTable *loaded_modules;

/* --- TandemPluginInfo --------------------------------------------------- */

struct _TandemPluginInfo {
	GObject parent_instance;

	char *name;
	char *version;
	char *license;
	char *description;
	char *filename;
	TandemPluginKind kind;
	guint abi_major;
	guint abi_minor;
	GError *error; /* why it was refused, or NULL */
	GModule *gmodule; /* open while usable and not yet loaded into a type module */
	const TandemPluginDescriptor *descriptor;
};

G_DEFINE_FINAL_TYPE (TandemPluginInfo, tandem_plugin_info, G_TYPE_OBJECT)

static void
tandem_plugin_info_finalize (GObject *object)
{
	TandemPluginInfo *self = TANDEM_PLUGIN_INFO (object);

	if (self->gmodule != NULL)
		g_module_close (self->gmodule);
	g_clear_error (&self->error);
	g_free (self->name);
	g_free (self->version);
	g_free (self->license);
	g_free (self->description);
	g_free (self->filename);
	G_OBJECT_CLASS (tandem_plugin_info_parent_class)->finalize (object);
}

static void
tandem_plugin_info_class_init (TandemPluginInfoClass *klass)
{
	G_OBJECT_CLASS (klass)->finalize = tandem_plugin_info_finalize;
}

static void
tandem_plugin_info_init (TandemPluginInfo *self)
{
}

/**
 * tandem_plugin_info_get_name:
 * @self: a #TandemPluginInfo
 *
 * Returns: (nullable): the plugin name, or %NULL if the file was refused
 *   before its descriptor could be read
 */
const char *
tandem_plugin_info_get_name (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), NULL);
	return self->name;
}

/**
 * tandem_plugin_info_get_kind:
 * @self: a #TandemPluginInfo
 *
 * Returns: the kind the descriptor declares
 */
TandemPluginKind
tandem_plugin_info_get_kind (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), TANDEM_PLUGIN_KIND_RECEIVER);
	return self->kind;
}

/**
 * tandem_plugin_info_get_version:
 * @self: a #TandemPluginInfo
 *
 * Returns: (nullable): the plugin's own version
 */
const char *
tandem_plugin_info_get_version (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), NULL);
	return self->version;
}

/**
 * tandem_plugin_info_get_license:
 * @self: a #TandemPluginInfo
 *
 * Returns: (nullable): the plugin's SPDX license expression
 */
const char *
tandem_plugin_info_get_license (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), NULL);
	return self->license;
}

/**
 * tandem_plugin_info_get_description:
 * @self: a #TandemPluginInfo
 *
 * Returns: (nullable): what the plugin does, in one line
 */
const char *
tandem_plugin_info_get_description (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), NULL);
	return self->description;
}

/**
 * tandem_plugin_info_get_filename:
 * @self: a #TandemPluginInfo
 *
 * Returns: the path of the plugin file
 */
const char *
tandem_plugin_info_get_filename (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), NULL);
	return self->filename;
}

/**
 * tandem_plugin_info_get_abi_major:
 * @self: a #TandemPluginInfo
 *
 * Returns: the plugin ABI major version the plugin was built for (0 if unknown)
 */
guint
tandem_plugin_info_get_abi_major (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), 0);
	return self->abi_major;
}

/**
 * tandem_plugin_info_get_abi_minor:
 * @self: a #TandemPluginInfo
 *
 * Returns: the plugin ABI minor version the plugin was built for
 */
guint
tandem_plugin_info_get_abi_minor (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), 0);
	return self->abi_minor;
}

/**
 * tandem_plugin_info_is_usable:
 * @self: a #TandemPluginInfo
 *
 * Returns: %TRUE if the plugin passed every check and can be instantiated
 */
gboolean
tandem_plugin_info_is_usable (TandemPluginInfo *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), FALSE);
	return self->error == NULL;
}

/**
 * tandem_plugin_info_check:
 * @self: a #TandemPluginInfo
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the plugin is usable; otherwise %FALSE with the reason it
 *   was refused, naming the file
 */
gboolean
tandem_plugin_info_check (TandemPluginInfo *self, GError **error)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_INFO (self), FALSE);

	if (self->error == NULL)
		return TRUE;
	g_propagate_error (error, g_error_copy (self->error));
	return FALSE;
}

static void
info_refuse (TandemPluginInfo *self, TandemError code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
info_refuse (TandemPluginInfo *self, TandemError code, const char *format, ...)
{
	g_autofree char *reason = NULL;
	va_list args;

	va_start (args, format);
	reason = g_strdup_vprintf (format, args);
	va_end (args);
	g_clear_error (&self->error);
	self->error = g_error_new (TANDEM_ERROR, code, "%s: %s", self->filename, reason);
	if (self->gmodule != NULL) {
		g_module_close (self->gmodule);
		self->gmodule = NULL;
	}
	self->descriptor = NULL;
	g_debug ("refused %s", self->error->message);
}

/* --- the registry ------------------------------------------------------- */

struct _TandemPluginRegistry {
	GObject parent_instance;

	GStrv search_path;
	GPtrArray *plugins; /* of TandemPluginInfo, in search order */
};

G_DEFINE_FINAL_TYPE (TandemPluginRegistry, tandem_plugin_registry, G_TYPE_OBJECT)

static void
tandem_plugin_registry_finalize (GObject *object)
{
	TandemPluginRegistry *self = TANDEM_PLUGIN_REGISTRY (object);

	g_strfreev (self->search_path);
	g_ptr_array_unref (self->plugins);
	G_OBJECT_CLASS (tandem_plugin_registry_parent_class)->finalize (object);
}

static void
tandem_plugin_registry_class_init (TandemPluginRegistryClass *klass)
{
	G_OBJECT_CLASS (klass)->finalize = tandem_plugin_registry_finalize;
}

static GStrv
default_search_path (void)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
	const char *env = g_getenv ("TANDEM_PLUGIN_PATH");

	if (env != NULL) {
		g_auto(GStrv) dirs = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

		for (guint i = 0; dirs[i] != NULL; i++) {
			if (*dirs[i] != '\0')
				g_strv_builder_add (builder, dirs[i]);
		}
	}
	g_strv_builder_add (builder, TANDEM_PLUGINSDIR);
	return g_strv_builder_end (builder);
}

static void
tandem_plugin_registry_init (TandemPluginRegistry *self)
{
	self->search_path = default_search_path ();
	self->plugins = g_ptr_array_new_with_free_func (g_object_unref);
}

/**
 * tandem_plugin_registry_new:
 *
 * Creates a registry whose search path is `TANDEM_PLUGIN_PATH` followed by
 * the installed plugins directory.  Call tandem_plugin_registry_scan() to
 * look at the files.
 *
 * Returns: (transfer full): a new #TandemPluginRegistry
 */
TandemPluginRegistry *
tandem_plugin_registry_new (void)
{
	return g_object_new (TANDEM_TYPE_PLUGIN_REGISTRY, NULL);
}

/**
 * tandem_plugin_registry_set_search_path:
 * @self: a #TandemPluginRegistry
 * @dirs: (array zero-terminated=1) (nullable): the directories to search, in
 *   order, or %NULL for the default path
 *
 * Replaces the search path.  Takes effect at the next scan.
 */
void
tandem_plugin_registry_set_search_path (TandemPluginRegistry *self, const char *const *dirs)
{
	g_return_if_fail (TANDEM_IS_PLUGIN_REGISTRY (self));

	g_strfreev (self->search_path);
	self->search_path = dirs != NULL ? g_strdupv ((char **) dirs) : default_search_path ();
}

/**
 * tandem_plugin_registry_get_search_path:
 * @self: a #TandemPluginRegistry
 *
 * Returns: (transfer none) (array zero-terminated=1): the directories searched, in order
 */
const char *const *
tandem_plugin_registry_get_search_path (TandemPluginRegistry *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_REGISTRY (self), NULL);
	return (const char *const *) self->search_path;
}

static gboolean
valid_plugin_name (const char *name)
{
	if (name == NULL || !g_ascii_islower (name[0]) || strlen (name) > 64)
		return FALSE;
	for (const char *p = name; *p != '\0'; p++) {
		if (!g_ascii_islower (*p) && !g_ascii_isdigit (*p) && *p != '-')
			return FALSE;
	}
	return TRUE;
}

static TandemPluginInfo *
find_usable (TandemPluginRegistry *self, const char *name)
{
	for (guint i = 0; i < self->plugins->len; i++) {
		TandemPluginInfo *info = g_ptr_array_index (self->plugins, i);

		if (info->error == NULL && g_strcmp0 (info->name, name) == 0)
			return info;
	}
	return NULL;
}

static TandemPluginInfo *
examine_file (TandemPluginRegistry *self, const char *path)
{
	g_autoptr(TandemPluginInfo) info = g_object_new (TANDEM_TYPE_PLUGIN_INFO, NULL);
	const TandemPluginDescriptor *(*describe) (void) = NULL;
	const TandemPluginDescriptor *d;
	TandemPluginInfo *earlier;
	GStatBuf st;

	info->filename = g_strdup (path);

	/* Check the file before anything of it runs: opening a module runs its
	 * constructors. */
	if (g_stat (path, &st) != 0) {
		int saved = errno;

		info_refuse (info, TANDEM_ERROR_NOT_A_PLUGIN, "cannot stat: %s", g_strerror (saved));
		return g_steal_pointer (&info);
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		info_refuse (info, TANDEM_ERROR_INSECURE_FILE,
			     "refusing to load a file writable by %s (mode %04o); fix with: chmod go-w %s",
			     (st.st_mode & S_IWOTH) ? "others" : "its group",
			     (unsigned) (st.st_mode & 07777), path);
		return g_steal_pointer (&info);
	}
	if (st.st_uid != 0 && st.st_uid != geteuid ()) {
		info_refuse (info, TANDEM_ERROR_INSECURE_FILE,
			     "refusing to load a file owned by uid %u, neither root nor the running user (uid %u)",
			     (unsigned) st.st_uid, (unsigned) geteuid ());
		return g_steal_pointer (&info);
	}

	info->gmodule = g_module_open (path, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
	if (info->gmodule == NULL) {
		info_refuse (info, TANDEM_ERROR_NOT_A_PLUGIN, "not a Tandem plugin: cannot load it: %s",
			     g_module_error ());
		return g_steal_pointer (&info);
	}
	if (!g_module_symbol (info->gmodule, TANDEM_PLUGIN_ENTRY_POINT, (gpointer *) &describe) ||
	    describe == NULL) {
		info_refuse (info, TANDEM_ERROR_NOT_A_PLUGIN,
			     "not a Tandem plugin: it has no %s() entry point (define it with TANDEM_PLUGIN_DEFINE)",
			     TANDEM_PLUGIN_ENTRY_POINT);
		return g_steal_pointer (&info);
	}
	d = describe ();
	if (d == NULL) {
		info_refuse (info, TANDEM_ERROR_NOT_A_PLUGIN, "not a Tandem plugin: %s() returned no descriptor",
			     TANDEM_PLUGIN_ENTRY_POINT);
		return g_steal_pointer (&info);
	}

	info->abi_major = d->abi_major;
	info->abi_minor = d->abi_minor;
	if (d->abi_major != TANDEM_PLUGIN_ABI_MAJOR) {
		info_refuse (info, TANDEM_ERROR_ABI_MISMATCH,
			     "built for plugin ABI %u.%u, but this Tandem provides ABI %u.%u (major versions differ); rebuild the plugin against Tandem %s",
			     d->abi_major, d->abi_minor, TANDEM_PLUGIN_ABI_MAJOR, TANDEM_PLUGIN_ABI_MINOR,
			     TANDEM_VERSION_S);
		return g_steal_pointer (&info);
	}
	if (d->abi_minor > TANDEM_PLUGIN_ABI_MINOR) {
		info_refuse (info, TANDEM_ERROR_ABI_MISMATCH,
			     "needs plugin ABI %u.%u, newer than the ABI %u.%u this Tandem provides; upgrade Tandem or use an older build of the plugin",
			     d->abi_major, d->abi_minor, TANDEM_PLUGIN_ABI_MAJOR, TANDEM_PLUGIN_ABI_MINOR);
		return g_steal_pointer (&info);
	}
	if (d->struct_size < G_STRUCT_OFFSET (TandemPluginDescriptor, reserved)) {
		info_refuse (info, TANDEM_ERROR_NOT_A_PLUGIN, "invalid descriptor: struct_size %u is too small",
			     d->struct_size);
		return g_steal_pointer (&info);
	}
	if (!valid_plugin_name (d->name)) {
		info_refuse (info, TANDEM_ERROR_NOT_A_PLUGIN,
			     "invalid plugin name \"%s\": use lower-case letters, digits and '-', starting with a letter (at most 64)",
			     d->name != NULL ? d->name : "(null)");
		return g_steal_pointer (&info);
	}
	info->name = g_strdup (d->name);
	if ((guint) d->kind > TANDEM_PLUGIN_KIND_PERSISTER) {
		info_refuse (info, TANDEM_ERROR_NOT_A_PLUGIN, "invalid descriptor: unknown kind %d", (int) d->kind);
		return g_steal_pointer (&info);
	}
	info->kind = d->kind;
	info->version = g_strdup (d->version);
	info->license = g_strdup (d->license);
	info->description = g_strdup (d->description);
	if (d->version == NULL || d->license == NULL || d->register_types == NULL) {
		info_refuse (info, TANDEM_ERROR_NOT_A_PLUGIN,
			     "invalid descriptor: version, license and register function are required");
		return g_steal_pointer (&info);
	}

	earlier = find_usable (self, d->name);
	if (earlier != NULL) {
		info_refuse (info, TANDEM_ERROR_DUPLICATE_PLUGIN,
			     "duplicate plugin name '%s': already provided by %s, found earlier in the search path",
			     d->name, earlier->filename);
		return g_steal_pointer (&info);
	}
	info->descriptor = d;
	g_debug ("found %s plugin '%s' %s in %s", tandem_plugin_kind_to_string (d->kind), d->name,
		 d->version, path);
	return g_steal_pointer (&info);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
	return strcmp (*(char *const *) a, *(char *const *) b);
}

/**
 * tandem_plugin_registry_scan:
 * @self: a #TandemPluginRegistry
 *
 * Examines every `.so` file of the search path, replacing what an earlier
 * scan found.  Missing directories are skipped.  Refused files are listed
 * too: see tandem_plugin_info_check().
 */
void
tandem_plugin_registry_scan (TandemPluginRegistry *self)
{
	g_return_if_fail (TANDEM_IS_PLUGIN_REGISTRY (self));

	g_ptr_array_set_size (self->plugins, 0);
	for (guint i = 0; self->search_path[i] != NULL; i++) {
		const char *dirname = self->search_path[i];
		g_autoptr(GDir) dir = NULL;
		g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
		g_autoptr(GError) error = NULL;
		const char *name;

		dir = g_dir_open (dirname, 0, &error);
		if (dir == NULL) {
			g_debug ("skipping plugin directory %s: %s", dirname, error->message);
			continue;
		}
		while ((name = g_dir_read_name (dir)) != NULL) {
			if (g_str_has_suffix (name, ".so") && name[0] != '.')
				g_ptr_array_add (names, g_strdup (name));
		}
		g_ptr_array_sort (names, compare_names);
		for (guint j = 0; j < names->len; j++) {
			g_autofree char *path = g_build_filename (dirname, g_ptr_array_index (names, j), NULL);

			if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
				continue;
			g_ptr_array_add (self->plugins, examine_file (self, path));
		}
	}
}

/**
 * tandem_plugin_registry_get_plugins:
 * @self: a #TandemPluginRegistry
 *
 * Returns: (transfer none) (element-type TandemPluginInfo): every plugin file
 *   found by the last scan, usable or refused, in search order
 */
GPtrArray *
tandem_plugin_registry_get_plugins (TandemPluginRegistry *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN_REGISTRY (self), NULL);
	return self->plugins;
}

/**
 * tandem_plugin_registry_lookup:
 * @self: a #TandemPluginRegistry
 * @name: a plugin name
 * @error: return location for a #GError
 *
 * Returns: (transfer none): the usable plugin named @name; or %NULL with
 *   %TANDEM_ERROR_PLUGIN_NOT_FOUND listing the available ones, or with the
 *   code and reason of the refusal of a file that provides @name
 */
TandemPluginInfo *
tandem_plugin_registry_lookup (TandemPluginRegistry *self, const char *name, GError **error)
{
	TandemPluginInfo *info;
	g_autoptr(GString) available = g_string_new (NULL);
	g_autofree char *path = NULL;

	g_return_val_if_fail (TANDEM_IS_PLUGIN_REGISTRY (self), NULL);
	g_return_val_if_fail (name != NULL, NULL);

	info = find_usable (self, name);
	if (info != NULL)
		return info;
	for (guint i = 0; i < self->plugins->len; i++) {
		TandemPluginInfo *other = g_ptr_array_index (self->plugins, i);

		if (other->error != NULL && g_strcmp0 (other->name, name) == 0) {
			g_set_error (error, TANDEM_ERROR, other->error->code,
				     "plugin '%s' is not usable: %s", name, other->error->message);
			return NULL;
		}
		if (other->error == NULL)
			g_string_append_printf (available, "%s%s", available->len > 0 ? ", " : "", other->name);
	}
	path = g_strjoinv (":", self->search_path);
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND,
		     "no plugin named '%s' in %s (available: %s)", name, path,
		     available->len > 0 ? available->str : "none");
	return NULL;
}

static GType
ensure_type (TandemPluginInfo *info, GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&loaded_lock);
	TandemPluginModule *module;
	GType base;

	if (loaded_modules == NULL)
		loaded_modules = g_hash_table_new (g_str_hash, g_str_equal);

	module = g_hash_table_lookup (loaded_modules, info->name);
	if (module != NULL) {
		if (g_strcmp0 (module->filename, info->filename) != 0 && info->gmodule != NULL) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_DUPLICATE_PLUGIN,
				     "%s: plugin '%s' is already loaded in this process from %s",
				     info->filename, info->name, module->filename);
			return G_TYPE_INVALID;
		}
		if (module->plugin_type == G_TYPE_INVALID) {
			g_propagate_error (error, g_error_copy (module->load_error));
			return G_TYPE_INVALID;
		}
		return module->plugin_type;
	}
	if (info->gmodule == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "%s: plugin '%s' cannot be loaded again after a failed load",
			     info->filename, info->name);
		return G_TYPE_INVALID;
	}

	module = g_object_new (TANDEM_TYPE_PLUGIN_MODULE, NULL);
	module->gmodule = g_steal_pointer (&info->gmodule);
	module->descriptor = info->descriptor;
	module->filename = g_strdup (info->filename);
	g_module_make_resident (module->gmodule);
	g_type_module_set_name (G_TYPE_MODULE (module), info->filename);

	base = tandem_plugin_kind_get_base_type (info->kind);
	if (!g_type_module_use (G_TYPE_MODULE (module)) ||
	    !g_type_is_a (module->plugin_type, base) || G_TYPE_IS_ABSTRACT (module->plugin_type)) {
		module->load_error = g_error_new (
			TANDEM_ERROR, TANDEM_ERROR_NOT_A_PLUGIN,
			"%s: plugin '%s' declares kind %s but its type %s is not a concrete subclass of %s",
			info->filename, info->name, tandem_plugin_kind_to_string (info->kind),
			module->plugin_type != G_TYPE_INVALID ? g_type_name (module->plugin_type) : "(none)",
			g_type_name (base));
		/* The module may have registered types: keep it alive forever,
		 * but remember that it is unusable, and why. */
		module->plugin_type = G_TYPE_INVALID;
		g_clear_error (&info->error);
		info->error = g_error_copy (module->load_error);
		info->descriptor = NULL;
		g_propagate_error (error, g_error_copy (module->load_error));
		g_hash_table_insert (loaded_modules, g_strdup (info->name), module);
		return G_TYPE_INVALID;
	}
	g_hash_table_insert (loaded_modules, g_strdup (info->name), module);
	g_debug ("loaded plugin '%s' from %s: type %s", info->name, info->filename,
		 g_type_name (module->plugin_type));
	return module->plugin_type;
}

/**
 * tandem_plugin_registry_create:
 * @self: a #TandemPluginRegistry
 * @plugin_name: the plugin to instantiate (`plugin = ...` in config)
 * @kind: the kind the caller expects (from the config section prefix)
 * @instance_name: the instance name (after the dot of the section name)
 * @node: (nullable): the node the instance will serve
 * @error: return location for a #GError
 *
 * Loads the plugin's types if needed and creates an instance.  The instance
 * is new: set it up with tandem_plugin_setup().
 *
 * Returns: (transfer full): the new instance, or %NULL with @error set
 */
TandemPlugin *
tandem_plugin_registry_create (TandemPluginRegistry *self,
			       const char *plugin_name,
			       TandemPluginKind kind,
			       const char *instance_name,
			       TandemNode *node,
			       GError **error)
{
	TandemPluginInfo *info;
	GType type;

	g_return_val_if_fail (TANDEM_IS_PLUGIN_REGISTRY (self), NULL);
	g_return_val_if_fail (plugin_name != NULL, NULL);
	g_return_val_if_fail (instance_name != NULL, NULL);
	g_return_val_if_fail (node == NULL || TANDEM_IS_NODE (node), NULL);

	info = tandem_plugin_registry_lookup (self, plugin_name, error);
	if (info == NULL)
		return NULL;
	if (info->kind != kind) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_PLUGIN_NOT_FOUND,
			     "plugin '%s' (%s) is a %s plugin, not a %s plugin",
			     plugin_name, info->filename, tandem_plugin_kind_to_string (info->kind),
			     tandem_plugin_kind_to_string (kind));
		return NULL;
	}
	type = ensure_type (info, error);
	if (type == G_TYPE_INVALID)
		return NULL;
	return g_object_new (type, "name", instance_name, "plugin-name", info->name, "node", node, NULL);
}
