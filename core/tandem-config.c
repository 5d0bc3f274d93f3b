/* tandem-config.c: tandem.conf and its drop-ins, with file and line for every key
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Config"

#include "config.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <fcntl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "tandem-config.h"
#include "tandem-error.h"
#include "tandem-plugin.h"

/**
 * TandemConfig:
 *
 * The configuration of a node: `tandem.conf`, then every `*.conf` file of the
 * drop-in directory `tandem.conf.d/` in name order, later keys winning.
 *
 * The syntax is that of #GKeyFile (`[section]`, `key = value`, `#` comments,
 * the escapes `\s \n \t \r \\`), but every key remembers the file and line it
 * came from, so that every error can name them:
 *
 * ```
 * tandem.conf:12: key 'port' in [receiver.http]: expected an integer 1-65535, got "80a"
 * ```
 *
 * Values are checked against #GParamSpecs: a plugin's config keys are its
 * properties flagged %TANDEM_PARAM_CONFIG.
 */

/**
 * TandemConfigSection:
 *
 * One `[section]` of a #TandemConfig, merged over all files.  Sections named
 * `prefix.instance` (such as `receiver.http-main`) configure one plugin
 * instance each.
 */

typedef struct {
	char *key;
	char *value;
	const char *file; /* interned */
	guint line;
	gboolean used;
	gboolean secret;
} Entry;

struct _TandemConfigSection {
	GObject parent_instance;

	char *name;
	char *prefix;
	char *instance;
	const char *file; /* interned */
	guint line;
	GPtrArray *entries; /* of Entry, in first-seen order */
	GHashTable *index;  /* key -> Entry */
};

struct _TandemConfig {
	GObject parent_instance;

	GPtrArray *sections; /* of TandemConfigSection */
	GHashTable *by_name; /* name -> TandemConfigSection */
	GPtrArray *files;    /* of char* */
	GPtrArray *warnings; /* of char* */
};

G_DEFINE_FINAL_TYPE (TandemConfigSection, tandem_config_section, G_TYPE_OBJECT)
G_DEFINE_FINAL_TYPE (TandemConfig, tandem_config, G_TYPE_OBJECT)

static void
entry_free (Entry *entry)
{
	g_free (entry->key);
	/* values may be secrets: do not leave them in freed memory */
	if (entry->value != NULL)
		memset (entry->value, 0, strlen (entry->value));
	g_free (entry->value);
	g_free (entry);
}

static void
tandem_config_section_finalize (GObject *object)
{
	TandemConfigSection *self = TANDEM_CONFIG_SECTION (object);

	g_hash_table_unref (self->index);
	g_ptr_array_unref (self->entries);
	g_free (self->name);
	g_free (self->prefix);
	g_free (self->instance);
	G_OBJECT_CLASS (tandem_config_section_parent_class)->finalize (object);
}

static void
tandem_config_section_class_init (TandemConfigSectionClass *klass)
{
	G_OBJECT_CLASS (klass)->finalize = tandem_config_section_finalize;
}

static void
tandem_config_section_init (TandemConfigSection *self)
{
	self->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
	self->index = g_hash_table_new (g_str_hash, g_str_equal);
}

static TandemConfigSection *
section_new (const char *name, const char *file, guint line)
{
	TandemConfigSection *self = g_object_new (TANDEM_TYPE_CONFIG_SECTION, NULL);
	const char *dot = strchr (name, '.');

	self->name = g_strdup (name);
	if (dot != NULL) {
		self->prefix = g_strndup (name, dot - name);
		self->instance = g_strdup (dot + 1);
	} else {
		self->prefix = g_strdup (name);
	}
	self->file = g_intern_string (file);
	self->line = line;
	return self;
}

static void
tandem_config_finalize (GObject *object)
{
	TandemConfig *self = TANDEM_CONFIG (object);

	g_hash_table_unref (self->by_name);
	g_ptr_array_unref (self->sections);
	g_ptr_array_unref (self->files);
	g_ptr_array_unref (self->warnings);
	G_OBJECT_CLASS (tandem_config_parent_class)->finalize (object);
}

static void
tandem_config_class_init (TandemConfigClass *klass)
{
	G_OBJECT_CLASS (klass)->finalize = tandem_config_finalize;
}

static void
tandem_config_init (TandemConfig *self)
{
	self->sections = g_ptr_array_new_with_free_func (g_object_unref);
	self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
	self->files = g_ptr_array_new_with_free_func (g_free);
	self->warnings = g_ptr_array_new_with_free_func (g_free);
}

/**
 * tandem_config_new:
 *
 * Returns: (transfer full): an empty configuration: every key has its default
 */
TandemConfig *
tandem_config_new (void)
{
	return g_object_new (TANDEM_TYPE_CONFIG, NULL);
}

/* --- parsing ------------------------------------------------------------ */

typedef struct {
	char *section;
	char *key;
	char *value;
	guint line;
	guint section_line;
} ParsedLine;

static void
parsed_line_free (ParsedLine *pl)
{
	g_free (pl->section);
	g_free (pl->key);
	g_free (pl->value);
	g_free (pl);
}

static gboolean
valid_key (const char *key)
{
	if (*key == '\0')
		return FALSE;
	for (const char *p = key; *p != '\0'; p++) {
		if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

static gboolean
valid_section_name (const char *name)
{
	if (*name == '\0')
		return FALSE;
	for (const char *p = name; *p != '\0'; p++) {
		if (g_ascii_iscntrl (*p) || *p == '[' || *p == ']')
			return FALSE;
	}
	return TRUE;
}

/* The escapes of GKeyFile, so that files stay readable by any GKeyFile tool. */
static char *
unescape_value (const char *raw, const char **bad)
{
	GString *out = g_string_sized_new (strlen (raw));

	for (const char *p = raw; *p != '\0'; p++) {
		if (*p != '\\') {
			g_string_append_c (out, *p);
			continue;
		}
		p++;
		switch (*p) {
		case 's':
			g_string_append_c (out, ' ');
			break;
		case 'n':
			g_string_append_c (out, '\n');
			break;
		case 't':
			g_string_append_c (out, '\t');
			break;
		case 'r':
			g_string_append_c (out, '\r');
			break;
		case '\\':
			g_string_append_c (out, '\\');
			break;
		default:
			*bad = p - 1;
			g_string_free (out, TRUE);
			return NULL;
		}
	}
	return g_string_free (out, FALSE);
}

static char *
escape_value (const char *value)
{
	GString *out = g_string_sized_new (strlen (value) + 2);

	for (const char *p = value; *p != '\0'; p++) {
		switch (*p) {
		case '\n':
			g_string_append (out, "\\n");
			break;
		case '\t':
			g_string_append (out, "\\t");
			break;
		case '\r':
			g_string_append (out, "\\r");
			break;
		case '\\':
			g_string_append (out, "\\\\");
			break;
		case ' ':
			/* leading and trailing spaces would be trimmed on reading */
			if (p == value || p[1] == '\0')
				g_string_append (out, "\\s");
			else
				g_string_append_c (out, ' ');
			break;
		default:
			g_string_append_c (out, *p);
		}
	}
	return g_string_free (out, FALSE);
}

static char *
shorten (const char *text)
{
	if (g_utf8_strlen (text, -1) <= 60)
		return g_strdup (text);
	return g_strdup_printf ("%.*s…", (int) (g_utf8_offset_to_pointer (text, 57) - text), text);
}

static GPtrArray *
parse_lines (const char *data, gsize length, const char *origin, GString *errors)
{
	g_autoptr(GPtrArray) parsed = g_ptr_array_new_with_free_func ((GDestroyNotify) parsed_line_free);
	g_autofree char *section = NULL;
	guint section_line = 0;
	const char *p = data;
	const char *end = data + length;
	guint lineno = 0;

	while (p < end) {
		const char *nl = memchr (p, '\n', end - p);
		const char *line_end = nl != NULL ? nl : end;
		g_autofree char *line = NULL;
		g_autofree char *shown = NULL;
		char *text;
		char *eq;

		lineno++;
		if (memchr (p, '\0', line_end - p) != NULL) {
			g_string_append_printf (errors, "%s:%u: contains a NUL byte\n", origin, lineno);
			break;
		}
		line = g_strndup (p, line_end - p);
		p = nl != NULL ? nl + 1 : end;

		if (!g_utf8_validate (line, -1, NULL)) {
			g_string_append_printf (errors, "%s:%u: not valid UTF-8\n", origin, lineno);
			continue;
		}
		text = g_strstrip (line);
		if (*text == '\0' || *text == '#')
			continue;
		shown = shorten (text);

		if (*text == '[') {
			char *close = strrchr (text, ']');

			if (close == NULL || close[1] != '\0') {
				g_string_append_printf (errors,
							"%s:%u: expected a section header '[name]', got \"%s\"\n",
							origin, lineno, shown);
				continue;
			}
			*close = '\0';
			g_strstrip (text + 1);
			if (!valid_section_name (text + 1)) {
				g_string_append_printf (errors,
							"%s:%u: invalid section name \"%s\": it must be non-empty, without brackets or control characters\n",
							origin, lineno, text + 1);
				continue;
			}
			g_free (section);
			section = g_strdup (text + 1);
			section_line = lineno;
			continue;
		}

		eq = strchr (text, '=');
		if (eq == NULL) {
			g_string_append_printf (errors,
						"%s:%u: expected '[section]', 'key = value' or a '#' comment, got \"%s\"\n",
						origin, lineno, shown);
			continue;
		}
		*eq = '\0';
		g_strstrip (text);
		if (strchr (text, '[') != NULL) {
			g_string_append_printf (errors,
						"%s:%u: key '%s': localized keys (key[locale]) are not supported\n",
						origin, lineno, text);
			continue;
		}
		if (!valid_key (text)) {
			g_string_append_printf (errors,
						"%s:%u: invalid key name '%s': use letters, digits, '_', '-' and '.'\n",
						origin, lineno, text);
			continue;
		}
		if (section == NULL) {
			g_string_append_printf (errors,
						"%s:%u: key '%s' appears before any [section]\n",
						origin, lineno, text);
			continue;
		}

		{
			const char *bad = NULL;
			char *value = unescape_value (g_strstrip (eq + 1), &bad);
			ParsedLine *pl;

			if (value == NULL) {
				g_string_append_printf (errors,
							"%s:%u: key '%s' in [%s]: invalid escape '%.2s' (use \\s \\n \\t \\r or \\\\)\n",
							origin, lineno, text, section, bad);
				continue;
			}
			pl = g_new0 (ParsedLine, 1);
			pl->section = g_strdup (section);
			pl->key = g_strdup (text);
			pl->value = value;
			pl->line = lineno;
			pl->section_line = section_line;
			g_ptr_array_add (parsed, pl);
		}
	}

	return g_steal_pointer (&parsed);
}

static TandemConfigSection *
ensure_section (TandemConfig *self, const char *name, const char *file, guint line)
{
	TandemConfigSection *section = g_hash_table_lookup (self->by_name, name);

	if (section == NULL) {
		section = section_new (name, file, line);
		g_ptr_array_add (self->sections, section);
		g_hash_table_insert (self->by_name, section->name, section);
	}
	return section;
}

static void
collect_sections (const char *data, gsize length, const char *origin, TandemConfig *self)
{
	/* A second, cheap pass that only records section headers, so that
	 * empty sections exist too. Runs only on data that parsed cleanly. */
	const char *p = data;
	const char *end = data + length;
	guint lineno = 0;

	while (p < end) {
		const char *nl = memchr (p, '\n', end - p);
		const char *line_end = nl != NULL ? nl : end;
		g_autofree char *line = g_strndup (p, line_end - p);
		char *text = g_strstrip (line);

		lineno++;
		p = nl != NULL ? nl + 1 : end;
		if (*text == '[') {
			char *close = strrchr (text, ']');

			*close = '\0';
			ensure_section (self, g_strstrip (text + 1), origin, lineno);
		}
	}
}

/**
 * tandem_config_load_data:
 * @self: a #TandemConfig
 * @data: the text of a config file
 * @length: the length of @data in bytes, or -1 if it is nul-terminated
 * @origin: the name to give in messages (normally the file path)
 * @error: return location for a #GError
 *
 * Merges one config text into @self: keys it sets replace earlier values.
 * Nothing is merged if the text has any syntax error; the error lists every
 * bad line as `origin:line: what`.
 *
 * Returns: %TRUE if the text was merged
 */
gboolean
tandem_config_load_data (TandemConfig *self,
			 const char *data,
			 gssize length,
			 const char *origin,
			 GError **error)
{
	g_autoptr(GString) errors = g_string_new (NULL);
	g_autoptr(GPtrArray) parsed = NULL;
	g_autoptr(GHashTable) seen = NULL;
	gsize len;

	g_return_val_if_fail (TANDEM_IS_CONFIG (self), FALSE);
	g_return_val_if_fail (data != NULL || length == 0, FALSE);
	g_return_val_if_fail (origin != NULL, FALSE);

	len = length < 0 ? strlen (data) : (gsize) length;
	parsed = parse_lines (data, len, origin, errors);
	if (errors->len > 0) {
		g_string_truncate (errors, errors->len - 1);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, errors->str);
		return FALSE;
	}

	collect_sections (data, len, origin, self);
	seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < parsed->len; i++) {
		ParsedLine *pl = g_ptr_array_index (parsed, i);
		TandemConfigSection *section = ensure_section (self, pl->section, origin, pl->section_line);
		g_autofree char *qualified = g_strdup_printf ("%s\n%s", pl->section, pl->key);
		Entry *entry = g_hash_table_lookup (section->index, pl->key);
		gpointer earlier_line;

		if (g_hash_table_lookup_extended (seen, qualified, NULL, &earlier_line)) {
			g_ptr_array_add (self->warnings,
					 g_strdup_printf ("%s:%u: key '%s' in [%s] repeats line %u; the later value wins",
							  origin, pl->line, pl->key, pl->section,
							  GPOINTER_TO_UINT (earlier_line)));
		}
		g_hash_table_replace (seen, g_steal_pointer (&qualified), GUINT_TO_POINTER (pl->line));

		if (entry == NULL) {
			entry = g_new0 (Entry, 1);
			entry->key = g_strdup (pl->key);
			g_ptr_array_add (section->entries, entry);
			g_hash_table_insert (section->index, entry->key, entry);
		} else if (entry->value != NULL) {
			memset (entry->value, 0, strlen (entry->value));
			g_free (entry->value);
		}
		entry->value = g_steal_pointer (&pl->value);
		entry->file = g_intern_string (origin);
		entry->line = pl->line;
	}
	return TRUE;
}

static gboolean
read_file (const char *path, char **contents, gsize *length, GError **error)
{
	g_autoptr(GString) buf = g_string_new (NULL);
	char chunk[8192];
	int fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0) {
		int saved = errno;

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
			     "%s: cannot read: %s", path, g_strerror (saved));
		return FALSE;
	}
	for (;;) {
		gssize n = read (fd, chunk, sizeof chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved = errno;

			g_close (fd, NULL);
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				     "%s: cannot read: %s", path, g_strerror (saved));
			return FALSE;
		}
		if (n == 0)
			break;
		g_string_append_len (buf, chunk, n);
	}
	g_close (fd, NULL);
	*length = buf->len;
	*contents = g_string_free (g_steal_pointer (&buf), FALSE);
	return TRUE;
}

static gboolean
load_one_file (TandemConfig *self, const char *path, GError **error)
{
	g_autofree char *contents = NULL;
	gsize length = 0;

	if (!read_file (path, &contents, &length, error))
		return FALSE;
	if (!tandem_config_load_data (self, contents, length, path, error))
		return FALSE;
	g_ptr_array_add (self->files, g_strdup (path));
	return TRUE;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
	return strcmp (*(char *const *) a, *(char *const *) b);
}

/**
 * tandem_config_load_file:
 * @self: a #TandemConfig
 * @path: the main config file, such as `/etc/tandem/tandem.conf`
 * @error: return location for a #GError
 *
 * Loads @path, then every file ending in `.conf` of the directory
 * `@path.d/` (if it exists) in byte order of their names; keys of later
 * files replace those of earlier ones.  Hidden files are skipped.
 *
 * Returns: %TRUE if every file was read and merged
 */
gboolean
tandem_config_load_file (TandemConfig *self, const char *path, GError **error)
{
	g_autofree char *dropin_dir = NULL;
	g_autoptr(GDir) dir = NULL;
	g_autoptr(GPtrArray) names = NULL;
	g_autoptr(GError) dir_error = NULL;
	g_autoptr(GString) errors = g_string_new (NULL);
	const char *name;

	g_return_val_if_fail (TANDEM_IS_CONFIG (self), FALSE);
	g_return_val_if_fail (path != NULL, FALSE);

	if (!load_one_file (self, path, error))
		return FALSE;

	dropin_dir = g_strconcat (path, ".d", NULL);
	dir = g_dir_open (dropin_dir, 0, &dir_error);
	if (dir == NULL) {
		if (g_error_matches (dir_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return TRUE;
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
			     "%s: cannot read drop-in directory: %s", dropin_dir, dir_error->message);
		return FALSE;
	}
	names = g_ptr_array_new_with_free_func (g_free);
	while ((name = g_dir_read_name (dir)) != NULL) {
		if (name[0] == '.' || !g_str_has_suffix (name, ".conf"))
			continue;
		g_ptr_array_add (names, g_strdup (name));
	}
	g_ptr_array_sort (names, compare_names);
	for (guint i = 0; i < names->len; i++) {
		g_autofree char *file = g_build_filename (dropin_dir, g_ptr_array_index (names, i), NULL);
		g_autoptr(GError) local_error = NULL;

		if (g_file_test (file, G_FILE_TEST_IS_DIR))
			continue;
		if (!load_one_file (self, file, &local_error))
			g_string_append_printf (errors, "%s\n", local_error->message);
	}
	if (errors->len > 0) {
		g_string_truncate (errors, errors->len - 1);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, errors->str);
		return FALSE;
	}
	return TRUE;
}

/**
 * tandem_config_get_sections:
 * @self: a #TandemConfig
 *
 * Returns: (transfer none) (element-type TandemConfigSection): the sections
 *   in the order they first appeared
 */
GPtrArray *
tandem_config_get_sections (TandemConfig *self)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG (self), NULL);
	return self->sections;
}

/**
 * tandem_config_get_section:
 * @self: a #TandemConfig
 * @name: a section name such as `node` or `receiver.http-main`
 *
 * Returns: (transfer none) (nullable): the section, or %NULL if no file has it
 */
TandemConfigSection *
tandem_config_get_section (TandemConfig *self, const char *name)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG (self), NULL);
	g_return_val_if_fail (name != NULL, NULL);
	return g_hash_table_lookup (self->by_name, name);
}

/**
 * tandem_config_get_files:
 * @self: a #TandemConfig
 *
 * Returns: (transfer none) (element-type utf8): the files loaded, in order
 */
GPtrArray *
tandem_config_get_files (TandemConfig *self)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG (self), NULL);
	return self->files;
}

/**
 * tandem_config_get_warnings:
 * @self: a #TandemConfig
 *
 * Warnings about the configuration that do not stop a node, each naming file
 * and line: repeated keys, and (after tandem_node_configure()) unknown
 * sections and keys.
 *
 * Returns: (transfer none) (element-type utf8): the warnings so far
 */
GPtrArray *
tandem_config_get_warnings (TandemConfig *self)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG (self), NULL);
	return self->warnings;
}

/**
 * tandem_config_add_warning:
 * @self: a #TandemConfig
 * @message: the warning, naming file and line
 *
 * Records a warning about the configuration.  Recording the same message
 * twice keeps one.
 */
void
tandem_config_add_warning (TandemConfig *self, const char *message)
{
	g_return_if_fail (TANDEM_IS_CONFIG (self));
	g_return_if_fail (message != NULL);

	for (guint i = 0; i < self->warnings->len; i++) {
		if (g_strcmp0 (g_ptr_array_index (self->warnings, i), message) == 0)
			return;
	}
	g_ptr_array_add (self->warnings, g_strdup (message));
}

static gboolean
key_looks_secret (const char *key)
{
	static const char *const words[] = { "password", "passwd", "secret", "token", "passphrase", "credentials" };

	for (guint i = 0; i < G_N_ELEMENTS (words); i++) {
		if (g_strcmp0 (key, words[i]) == 0)
			return TRUE;
		if (g_str_has_suffix (key, words[i]) && strlen (key) > strlen (words[i]) &&
		    (key[strlen (key) - strlen (words[i]) - 1] == '_' ||
		     key[strlen (key) - strlen (words[i]) - 1] == '-'))
			return TRUE;
	}
	return FALSE;
}

/**
 * tandem_config_to_string:
 * @self: a #TandemConfig
 * @mask_secrets: whether to replace secret values with `********`
 *
 * Prints the merged configuration as a config file, each key preceded by a
 * comment naming the file and line it came from.  A value is secret when its
 * property is flagged %TANDEM_PARAM_SECRET, when code called
 * tandem_config_section_mark_secret() on it, or when its key is or ends in
 * `password`, `secret`, `token`, `passphrase` or `credentials`.
 *
 * Returns: (transfer full): the text
 */
char *
tandem_config_to_string (TandemConfig *self, gboolean mask_secrets)
{
	GString *out = g_string_new (NULL);

	g_return_val_if_fail (TANDEM_IS_CONFIG (self), NULL);

	g_string_append (out, "# merged from:");
	for (guint i = 0; i < self->files->len; i++)
		g_string_append_printf (out, " %s", (char *) g_ptr_array_index (self->files, i));
	g_string_append_c (out, '\n');

	for (guint i = 0; i < self->sections->len; i++) {
		TandemConfigSection *section = g_ptr_array_index (self->sections, i);

		g_string_append_printf (out, "\n[%s]\n", section->name);
		for (guint j = 0; j < section->entries->len; j++) {
			Entry *entry = g_ptr_array_index (section->entries, j);
			g_autofree char *escaped = NULL;

			if (mask_secrets && (entry->secret || key_looks_secret (entry->key)))
				escaped = g_strdup ("********");
			else
				escaped = escape_value (entry->value);
			g_string_append_printf (out, "# %s:%u\n%s = %s\n",
						entry->file, entry->line, entry->key, escaped);
		}
	}
	return g_string_free (out, FALSE);
}

/* --- sections ----------------------------------------------------------- */

/**
 * tandem_config_section_get_name:
 * @self: a #TandemConfigSection
 *
 * Returns: the full section name, such as `receiver.http-main`
 */
const char *
tandem_config_section_get_name (TandemConfigSection *self)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);
	return self->name;
}

/**
 * tandem_config_section_get_prefix:
 * @self: a #TandemConfigSection
 *
 * Returns: the part of the name before the first dot (`receiver`), or the
 *   whole name if it has no dot (`node`)
 */
const char *
tandem_config_section_get_prefix (TandemConfigSection *self)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);
	return self->prefix;
}

/**
 * tandem_config_section_get_instance:
 * @self: a #TandemConfigSection
 *
 * Returns: (nullable): the part of the name after the first dot
 *   (`http-main`), or %NULL if the name has no dot
 */
const char *
tandem_config_section_get_instance (TandemConfigSection *self)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);
	return self->instance;
}

/**
 * tandem_config_section_get_file:
 * @self: a #TandemConfigSection
 *
 * Returns: the file where the section header first appeared
 */
const char *
tandem_config_section_get_file (TandemConfigSection *self)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);
	return self->file;
}

/**
 * tandem_config_section_get_line:
 * @self: a #TandemConfigSection
 *
 * Returns: the line of the first section header, counting from 1
 */
guint
tandem_config_section_get_line (TandemConfigSection *self)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), 0);
	return self->line;
}

/**
 * tandem_config_section_dup_keys:
 * @self: a #TandemConfigSection
 *
 * Returns: (transfer full): the keys set in the section, in first-seen order
 */
GStrv
tandem_config_section_dup_keys (TandemConfigSection *self)
{
	GStrv keys;

	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);

	keys = g_new0 (char *, self->entries->len + 1);
	for (guint i = 0; i < self->entries->len; i++)
		keys[i] = g_strdup (((Entry *) g_ptr_array_index (self->entries, i))->key);
	return keys;
}

static Entry *
find_entry (TandemConfigSection *self, const char *key)
{
	Entry *entry = g_hash_table_lookup (self->index, key);
	g_autofree char *alt = NULL;

	if (entry != NULL)
		return entry;
	/* property names use '-', config keys '_': accept both spellings */
	alt = g_strdup (key);
	g_strdelimit (alt, strchr (key, '_') != NULL ? "_" : "-", strchr (key, '_') != NULL ? '-' : '_');
	return g_hash_table_lookup (self->index, alt);
}

/**
 * tandem_config_section_has_key:
 * @self: a #TandemConfigSection
 * @key: a key name (`max_connections`; `max-connections` is the same key)
 *
 * Returns: %TRUE if some file sets @key in this section
 */
gboolean
tandem_config_section_has_key (TandemConfigSection *self, const char *key)
{
	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), FALSE);
	g_return_val_if_fail (key != NULL, FALSE);
	return find_entry (self, key) != NULL;
}

/**
 * tandem_config_section_get_value:
 * @self: a #TandemConfigSection
 * @key: a key name
 *
 * Returns the raw (unescaped) value of @key.  Prefer typed access with
 * tandem_config_section_lookup() or config properties.  This does not mark
 * the key as used.
 *
 * Returns: (nullable): the value, or %NULL if @key is not set
 */
const char *
tandem_config_section_get_value (TandemConfigSection *self, const char *key)
{
	Entry *entry;

	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);
	g_return_val_if_fail (key != NULL, NULL);

	entry = find_entry (self, key);
	return entry != NULL ? entry->value : NULL;
}

/**
 * tandem_config_section_get_origin:
 * @self: a #TandemConfigSection
 * @key: a key name
 * @line: (out) (optional): the line of the key in that file
 *
 * Returns: (nullable): the file the value of @key came from, or %NULL if
 *   @key is not set
 */
const char *
tandem_config_section_get_origin (TandemConfigSection *self, const char *key, guint *line)
{
	Entry *entry;

	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);
	g_return_val_if_fail (key != NULL, NULL);

	entry = find_entry (self, key);
	if (line != NULL)
		*line = entry != NULL ? entry->line : 0;
	return entry != NULL ? entry->file : NULL;
}

/**
 * tandem_config_section_describe_key:
 * @self: a #TandemConfigSection
 * @key: (nullable): a key name, or %NULL for the section itself
 *
 * Returns the location prefix of messages about @key:
 * `tandem.conf:12: key 'port' in [receiver.http]`, or
 * `tandem.conf:10: section [receiver.http]` if @key is %NULL or not set.
 *
 * Returns: (transfer full): the description
 */
char *
tandem_config_section_describe_key (TandemConfigSection *self, const char *key)
{
	Entry *entry;

	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);

	entry = key != NULL ? find_entry (self, key) : NULL;
	if (entry == NULL)
		return g_strdup_printf ("%s:%u: section [%s]", self->file, self->line, self->name);
	return g_strdup_printf ("%s:%u: key '%s' in [%s]", entry->file, entry->line, entry->key, self->name);
}

/**
 * tandem_config_section_set_error: (skip)
 * @self: a #TandemConfigSection
 * @key: (nullable): the key the error is about, or %NULL for the section
 * @error: return location for a #GError
 * @format: printf()-style format of what is wrong
 * @...: arguments for @format
 *
 * Sets a %TANDEM_ERROR_INVALID_CONFIG error located at @key, in the form
 * `tandem.conf:12: key 'mode' in [receiver.x]: expected normal or strict, got "fast"`.
 */
void
tandem_config_section_set_error (TandemConfigSection *self,
				 const char *key,
				 GError **error,
				 const char *format,
				 ...)
{
	g_autofree char *where = NULL;
	g_autofree char *what = NULL;
	va_list args;

	g_return_if_fail (TANDEM_IS_CONFIG_SECTION (self));

	va_start (args, format);
	what = g_strdup_vprintf (format, args);
	va_end (args);
	where = tandem_config_section_describe_key (self, key);
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, "%s: %s", where, what);
}

/**
 * tandem_config_section_mark_used:
 * @self: a #TandemConfigSection
 * @key: a key name
 *
 * Records that code read @key, so that it is not reported as unknown.
 * Config properties are marked by tandem_config_section_apply().
 */
void
tandem_config_section_mark_used (TandemConfigSection *self, const char *key)
{
	Entry *entry;

	g_return_if_fail (TANDEM_IS_CONFIG_SECTION (self));
	g_return_if_fail (key != NULL);

	entry = find_entry (self, key);
	if (entry != NULL)
		entry->used = TRUE;
}

/**
 * tandem_config_section_mark_secret:
 * @self: a #TandemConfigSection
 * @key: a key name
 *
 * Records that the value of @key is a secret, masked by
 * tandem_config_to_string().
 */
void
tandem_config_section_mark_secret (TandemConfigSection *self, const char *key)
{
	Entry *entry;

	g_return_if_fail (TANDEM_IS_CONFIG_SECTION (self));
	g_return_if_fail (key != NULL);

	entry = find_entry (self, key);
	if (entry != NULL)
		entry->secret = TRUE;
}

/**
 * tandem_config_section_dup_unused_keys:
 * @self: a #TandemConfigSection
 *
 * Returns: (transfer full): the keys nobody read, in first-seen order
 */
GStrv
tandem_config_section_dup_unused_keys (TandemConfigSection *self)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), NULL);

	for (guint i = 0; i < self->entries->len; i++) {
		Entry *entry = g_ptr_array_index (self->entries, i);

		if (!entry->used)
			g_strv_builder_add (builder, entry->key);
	}
	return g_strv_builder_end (builder);
}

/* --- typed values ------------------------------------------------------- */

static gboolean
parse_boolean (const char *text, gboolean *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (guint i = 0; i < G_N_ELEMENTS (yes); i++) {
		if (g_ascii_strcasecmp (text, yes[i]) == 0) {
			*out = TRUE;
			return TRUE;
		}
		if (g_ascii_strcasecmp (text, no[i]) == 0) {
			*out = FALSE;
			return TRUE;
		}
	}
	return FALSE;
}

static char *
describe_int_range (gint64 min, gint64 max, gint64 type_min, gint64 type_max)
{
	if (min == type_min && max == type_max)
		return g_strdup ("an integer");
	if (max == type_max)
		return g_strdup_printf ("an integer >= %" G_GINT64_FORMAT, min);
	if (min == type_min)
		return g_strdup_printf ("an integer <= %" G_GINT64_FORMAT, max);
	return g_strdup_printf ("an integer %" G_GINT64_FORMAT "-%" G_GINT64_FORMAT, min, max);
}

static char *
describe_uint_range (guint64 min, guint64 max, guint64 type_max)
{
	if (min == 0 && max == type_max)
		return g_strdup ("a non-negative integer");
	if (max == type_max)
		return g_strdup_printf ("an integer >= %" G_GUINT64_FORMAT, min);
	return g_strdup_printf ("an integer %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT, min, max);
}

static gboolean
parse_signed (const char *text,
	      gint64 min,
	      gint64 max,
	      gint64 type_min,
	      gint64 type_max,
	      gint64 *out,
	      char **expected)
{
	if (g_ascii_string_to_signed (text, 10, min, max, out, NULL))
		return TRUE;
	*expected = describe_int_range (min, max, type_min, type_max);
	return FALSE;
}

static gboolean
parse_unsigned (const char *text, guint64 min, guint64 max, guint64 type_max, guint64 *out, char **expected)
{
	if (g_ascii_string_to_unsigned (text, 10, min, max, out, NULL))
		return TRUE;
	*expected = describe_uint_range (min, max, type_max);
	return FALSE;
}

static gboolean
parse_double (const char *text, double min, double max, double *out, char **expected)
{
	char *end = NULL;
	double d;

	errno = 0;
	d = g_ascii_strtod (text, &end);
	if (*text != '\0' && end != NULL && *end == '\0' && errno == 0 && isfinite (d) && d >= min && d <= max) {
		*out = d;
		return TRUE;
	}
	if (min <= -G_MAXDOUBLE && max >= G_MAXDOUBLE)
		*expected = g_strdup ("a number");
	else
		*expected = g_strdup_printf ("a number %g-%g", min, max);
	return FALSE;
}

static GStrv
split_list (const char *text)
{
	g_auto(GStrv) parts = g_regex_split_simple ("[,;]", text, 0, 0);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

	for (guint i = 0; parts[i] != NULL; i++) {
		g_strstrip (parts[i]);
		if (*parts[i] != '\0')
			g_strv_builder_add (builder, parts[i]);
	}
	return g_strv_builder_end (builder);
}

static char *
enum_choices (GEnumClass *klass)
{
	GString *out = g_string_new ("one of ");

	for (guint i = 0; i < klass->n_values; i++)
		g_string_append_printf (out, "%s%s", i > 0 ? ", " : "", klass->values[i].value_nick);
	return g_string_free (out, FALSE);
}

static gboolean
parse_value (const char *text, GParamSpec *pspec, GValue *value, char **expected)
{
	GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);

	g_value_init (value, type);

	if (type == G_TYPE_BOOLEAN) {
		gboolean b;

		if (!parse_boolean (text, &b)) {
			*expected = g_strdup ("a boolean (true or false)");
			return FALSE;
		}
		g_value_set_boolean (value, b);
	} else if (type == G_TYPE_INT) {
		GParamSpecInt *p = G_PARAM_SPEC_INT (pspec);
		gint64 v;

		if (!parse_signed (text, p->minimum, p->maximum, G_MININT, G_MAXINT, &v, expected))
			return FALSE;
		g_value_set_int (value, (gint) v);
	} else if (type == G_TYPE_LONG) {
		GParamSpecLong *p = G_PARAM_SPEC_LONG (pspec);
		gint64 v;

		if (!parse_signed (text, p->minimum, p->maximum, G_MINLONG, G_MAXLONG, &v, expected))
			return FALSE;
		g_value_set_long (value, (glong) v);
	} else if (type == G_TYPE_INT64) {
		GParamSpecInt64 *p = G_PARAM_SPEC_INT64 (pspec);
		gint64 v;

		if (!parse_signed (text, p->minimum, p->maximum, G_MININT64, G_MAXINT64, &v, expected))
			return FALSE;
		g_value_set_int64 (value, v);
	} else if (type == G_TYPE_UINT) {
		GParamSpecUInt *p = G_PARAM_SPEC_UINT (pspec);
		guint64 v;

		if (!parse_unsigned (text, p->minimum, p->maximum, G_MAXUINT, &v, expected))
			return FALSE;
		g_value_set_uint (value, (guint) v);
	} else if (type == G_TYPE_ULONG) {
		GParamSpecULong *p = G_PARAM_SPEC_ULONG (pspec);
		guint64 v;

		if (!parse_unsigned (text, p->minimum, p->maximum, G_MAXULONG, &v, expected))
			return FALSE;
		g_value_set_ulong (value, (gulong) v);
	} else if (type == G_TYPE_UINT64) {
		GParamSpecUInt64 *p = G_PARAM_SPEC_UINT64 (pspec);
		guint64 v;

		if (!parse_unsigned (text, p->minimum, p->maximum, G_MAXUINT64, &v, expected))
			return FALSE;
		g_value_set_uint64 (value, v);
	} else if (type == G_TYPE_DOUBLE) {
		GParamSpecDouble *p = G_PARAM_SPEC_DOUBLE (pspec);
		double v;

		if (!parse_double (text, p->minimum, p->maximum, &v, expected))
			return FALSE;
		g_value_set_double (value, v);
	} else if (type == G_TYPE_FLOAT) {
		GParamSpecFloat *p = G_PARAM_SPEC_FLOAT (pspec);
		double v;

		if (!parse_double (text, p->minimum, p->maximum, &v, expected))
			return FALSE;
		g_value_set_float (value, (float) v);
	} else if (type == G_TYPE_STRING) {
		g_value_set_string (value, text);
	} else if (type == G_TYPE_STRV) {
		g_value_take_boxed (value, split_list (text));
	} else if (G_TYPE_IS_ENUM (type)) {
		GEnumClass *klass = G_PARAM_SPEC_ENUM (pspec)->enum_class;
		GEnumValue *ev = NULL;

		for (guint i = 0; i < klass->n_values && ev == NULL; i++) {
			if (g_ascii_strcasecmp (text, klass->values[i].value_nick) == 0 ||
			    g_strcmp0 (text, klass->values[i].value_name) == 0)
				ev = &klass->values[i];
		}
		if (ev == NULL) {
			*expected = enum_choices (klass);
			return FALSE;
		}
		g_value_set_enum (value, ev->value);
	} else if (G_TYPE_IS_FLAGS (type)) {
		GFlagsClass *klass = G_PARAM_SPEC_FLAGS (pspec)->flags_class;
		g_auto(GStrv) parts = g_regex_split_simple ("[,;|]", text, 0, 0);
		guint flags = 0;

		for (guint i = 0; parts[i] != NULL; i++) {
			GFlagsValue *fv;

			g_strstrip (parts[i]);
			if (*parts[i] == '\0')
				continue;
			fv = g_flags_get_value_by_nick (klass, parts[i]);
			if (fv == NULL) {
				GString *choices = g_string_new ("a list of ");

				for (guint j = 0; j < klass->n_values; j++)
					g_string_append_printf (choices, "%s%s", j > 0 ? ", " : "",
								klass->values[j].value_nick);
				*expected = g_string_free (choices, FALSE);
				return FALSE;
			}
			flags |= fv->value;
		}
		g_value_set_flags (value, flags);
	} else {
		*expected = g_strdup_printf ("a value of type %s, which config files cannot express",
					     g_type_name (type));
		return FALSE;
	}
	return TRUE;
}

/**
 * tandem_config_section_lookup:
 * @self: a #TandemConfigSection
 * @pspec: describes the key: its name (with `-` read as `_`), type, range
 *   and default
 * @value: (out caller-allocates): an uninitialized #GValue to receive the value
 * @error: return location for a #GError
 *
 * Reads the key described by @pspec, converts and checks it, and marks it as
 * used.  Booleans accept true/false, yes/no, on/off, 1/0; enums their nicks;
 * string lists (%G_TYPE_STRV) and flags items separated by `,` or `;`.  When
 * the key is not set @value holds the default of @pspec.
 *
 * Returns: %TRUE on success; on a bad value %FALSE with a
 *   %TANDEM_ERROR_INVALID_CONFIG error naming file, line, key, what was
 *   expected and what was found
 */
gboolean
tandem_config_section_lookup (TandemConfigSection *self,
			      GParamSpec *pspec,
			      GValue *value,
			      GError **error)
{
	g_autofree char *expected = NULL;
	g_autofree char *key = NULL;
	Entry *entry;

	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), FALSE);
	g_return_val_if_fail (G_IS_PARAM_SPEC (pspec), FALSE);
	g_return_val_if_fail (value != NULL && !G_IS_VALUE (value), FALSE);

	key = g_strdup (g_param_spec_get_name (pspec));
	g_strdelimit (key, "-", '_');
	entry = find_entry (self, key);
	if (entry == NULL) {
		g_value_init (value, G_PARAM_SPEC_VALUE_TYPE (pspec));
		g_param_value_set_default (pspec, value);
		return TRUE;
	}
	entry->used = TRUE;
	if (pspec->flags & TANDEM_PARAM_SECRET)
		entry->secret = TRUE;
	if (!parse_value (entry->value, pspec, value, &expected)) {
		g_autofree char *shown = NULL;

		if (G_IS_VALUE (value))
			g_value_unset (value);
		shown = entry->secret ? g_strdup ("(secret value hidden)") : g_strdup_printf ("\"%s\"", entry->value);
		tandem_config_section_set_error (self, entry->key, error, "expected %s, got %s", expected, shown);
		return FALSE;
	}
	return TRUE;
}

/**
 * tandem_config_section_apply:
 * @self: a #TandemConfigSection
 * @object: the object to configure
 * @error: return location for a #GError
 *
 * Sets every writable property of @object flagged %TANDEM_PARAM_CONFIG from
 * its key in @self (see tandem_config_section_lookup()).  Properties whose
 * key is not set keep their value.  Every bad key is reported, one line each,
 * in one error; nothing is set if any key is bad.
 *
 * Returns: %TRUE if every key was valid and set
 */
gboolean
tandem_config_section_apply (TandemConfigSection *self, GObject *object, GError **error)
{
	g_autoptr(GString) errors = g_string_new (NULL);
	g_autoptr(GArray) values = g_array_new (FALSE, TRUE, sizeof (GValue));
	g_autoptr(GPtrArray) names = g_ptr_array_new ();
	g_autofree GParamSpec **pspecs = NULL;
	guint n_pspecs = 0;

	g_return_val_if_fail (TANDEM_IS_CONFIG_SECTION (self), FALSE);
	g_return_val_if_fail (G_IS_OBJECT (object), FALSE);

	g_array_set_clear_func (values, (GDestroyNotify) g_value_unset);
	pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n_pspecs);
	for (guint i = 0; i < n_pspecs; i++) {
		GParamSpec *pspec = pspecs[i];
		GValue value = G_VALUE_INIT;
		g_autoptr(GError) local_error = NULL;
		g_autofree char *key = NULL;

		if (!(pspec->flags & TANDEM_PARAM_CONFIG))
			continue;
		if (!(pspec->flags & G_PARAM_WRITABLE) || (pspec->flags & G_PARAM_CONSTRUCT_ONLY)) {
			g_critical ("%s:%s is flagged TANDEM_PARAM_CONFIG but is not writable after construction",
				    G_OBJECT_TYPE_NAME (object), pspec->name);
			continue;
		}
		key = g_strdup (pspec->name);
		g_strdelimit (key, "-", '_');
		if (find_entry (self, key) == NULL)
			continue;
		if (!tandem_config_section_lookup (self, pspec, &value, &local_error)) {
			g_string_append_printf (errors, "%s\n", local_error->message);
			continue;
		}
		g_array_append_val (values, value);
		g_ptr_array_add (names, (gpointer) pspec->name);
	}
	if (errors->len > 0) {
		g_string_truncate (errors, errors->len - 1);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, errors->str);
		return FALSE;
	}
	if (names->len > 0)
		g_object_setv (object, names->len, (const char **) names->pdata, (const GValue *) values->data);
	return TRUE;
}
