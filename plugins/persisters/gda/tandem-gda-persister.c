/* tandem-gda-persister.c: the gda persister plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Keeps execution-plan snapshots in a table of SQLite (the default, a file
 * in the state directory), MySQL/MariaDB or PostgreSQL through libgda 5,
 * with the connection code of the gda store (plugins/stores/gda/
 * tandem-gda-db.c).  One row per snapshot, the snapshot as it is in a
 * binary column (BLOB, LONGBLOB, BYTEA), committed before save returns;
 * then the rows of the plan beyond the newest `keep` are deleted.  Loading
 * reads the ids newest first, then each snapshot alone, and takes the first
 * whose header and checksum are valid, skipping (with a warning) damaged
 * ones.  README.md has the keys and the table.
 *
 * libgda 5.2, as the store found it (tandem-gda-db.c): every statement is
 * parsed once and reused (MySQL keeps a server-side statement per distinct
 * one); 64-bit values go as the store binds them; the snapshot goes as a
 * GdaBinary read in place, which all three providers send as binary data
 * (PostgreSQL in binary parameter format), never through libgda's BLOB
 * API (which would use PostgreSQL large objects).
 */
#define G_LOG_DOMAIN "Tandem-gda-persister"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <libgda/gda-blob-op.h>

#include "tandem-gda-db.h"
#include "tandem-gda-persister.h"

#define DEFAULT_PROVIDER "sqlite"
#define DEFAULT_DATABASE_FILE "snapshots.db"
#define DEFAULT_DATABASE_NAME "tandem"
#define DEFAULT_TABLE "tandem_snapshots"
#define DEFAULT_KEEP 2

/**
 * TandemGdaPersister:
 *
 * The persister plugin `gda-persister`: snapshots in a database table
 * (`plugins/persisters/gda/README.md`).  Its config keys are its
 * properties flagged %TANDEM_PARAM_CONFIG.
 */
struct _TandemGdaPersister {
	TandemPersister parent_instance;

	/* config */
	char *provider_name;
	char *database;
	char *host;
	guint port;
	char *user;
	char *password;
	char *password_file;
	char *password_env;
	char *table;
	guint keep;

	TandemGdaProvider provider;
	char *secret;

	/* the connection and its statements, one caller at a time */
	GMutex lock;
	GdaConnection *cnc;
	TandemGdaStmt *insert;
	TandemGdaStmt *list;
	TandemGdaStmt *get;
	TandemGdaStmt *prune;
};

G_DEFINE_DYNAMIC_TYPE (TandemGdaPersister, tandem_gda_persister, TANDEM_TYPE_PERSISTER)

enum {
	PROP_0,
	PROP_PROVIDER,
	PROP_DATABASE,
	PROP_HOST,
	PROP_PORT,
	PROP_USER,
	PROP_PASSWORD,
	PROP_PASSWORD_FILE,
	PROP_PASSWORD_ENV,
	PROP_TABLE,
	PROP_KEEP,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static const char *
persister_name (TandemGdaPersister *self)
{
	return tandem_plugin_get_name (TANDEM_PLUGIN (self));
}

/* --- config ------------------------------------------------------------------- */

static char *
read_password_file (const char *path, GError **error)
{
	g_autofree char *contents = NULL;
	g_autoptr (GError) local_error = NULL;
	gsize length = 0;
	char *end;

	if (!g_file_get_contents (path, &contents, &length, &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, "cannot read %s: %s",
			     path, local_error->message);
		return NULL;
	}
	end = strpbrk (contents, "\r\n");
	if (end != NULL)
		memset (end, 0, length - (gsize) (end - contents));
	return g_steal_pointer (&contents);
}

static gboolean
valid_table_name (const char *name)
{
	if (name == NULL || *name == '\0' || strlen (name) > 63 || g_ascii_isdigit (*name))
		return FALSE;
	for (const char *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum (*p) && *p != '_')
			return FALSE;
	}
	return TRUE;
}

static gboolean
tandem_gda_persister_setup (TandemPlugin *plugin, TandemConfigSection *section, GError **error)
{
	TandemGdaPersister *self = TANDEM_GDA_PERSISTER (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_gda_persister_parent_class);
	guint sources;

	if (parent->setup != NULL && !parent->setup (plugin, section, error))
		return FALSE;
	if (!tandem_gda_provider_from_string (self->provider_name, &self->provider)) {
		tandem_config_section_set_error (
			section, "provider", error,
			"expected sqlite, mysql (or mariadb) or postgresql, got \"%s\"",
			self->provider_name);
		return FALSE;
	}
	if (!valid_table_name (self->table)) {
		tandem_config_section_set_error (
			section, "table", error,
			"expected 1-63 letters, digits or '_', not starting with a digit, "
			"got \"%s\"",
			self->table != NULL ? self->table : "");
		return FALSE;
	}
	sources = (self->password != NULL) + (self->password_file != NULL) +
		  (self->password_env != NULL);
	if (sources > 1) {
		tandem_config_section_set_error (
			section, self->password_file != NULL ? "password_file" : "password_env",
			error,
			"give the password one way: password, password_file or password_env");
		return FALSE;
	}
	g_clear_pointer (&self->secret, g_free);
	if (self->password != NULL) {
		self->secret = g_strdup (self->password);
	} else if (self->password_file != NULL) {
		g_autoptr (GError) local_error = NULL;
		GStatBuf st;

		self->secret = read_password_file (self->password_file, &local_error);
		if (self->secret == NULL) {
			tandem_config_section_set_error (section, "password_file", error, "%s",
							 local_error->message);
			return FALSE;
		}
		if (g_stat (self->password_file, &st) == 0 && (st.st_mode & S_IROTH))
			g_warning ("[persister.%s]: password file %s is readable by everyone",
				   persister_name (self), self->password_file);
	} else if (self->password_env != NULL) {
		const char *value = g_getenv (self->password_env);

		if (value == NULL) {
			tandem_config_section_set_error (section, "password_env", error,
							 "environment variable %s is not set",
							 self->password_env);
			return FALSE;
		}
		self->secret = g_strdup (value);
	}
	return TRUE;
}

static gboolean
resolve_params (TandemGdaPersister *self, TandemGdaParams *params, GError **error)
{
	memset (params, 0, sizeof *params);
	params->provider = self->provider;
	if (self->provider == TANDEM_GDA_SQLITE) {
		TandemNode *node = tandem_plugin_get_node (TANDEM_PLUGIN (self));
		const char *file = self->database != NULL ? self->database : DEFAULT_DATABASE_FILE;

		if (g_path_is_absolute (file)) {
			params->database = g_strdup (file);
		} else if (node != NULL && tandem_node_get_state_dir (node) != NULL) {
			params->database =
				g_build_filename (tandem_node_get_state_dir (node), file, NULL);
		} else {
			g_set_error (
				error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				"persister %s: the SQLite database %s is relative, and there is no state "
				"directory",
				persister_name (self), file);
			return FALSE;
		}
		return TRUE;
	}
	params->database =
		g_strdup (self->database != NULL ? self->database : DEFAULT_DATABASE_NAME);
	params->host = g_strdup (self->host);
	params->port = self->port;
	params->user = g_strdup (self->user);
	params->password = g_strdup (self->secret);
	return TRUE;
}

/* --- the table ------------------------------------------------------------------ */

static char *
create_sql (TandemGdaPersister *self)
{
	g_autofree char *t = tandem_gda_quote (self->provider, self->table);

	switch (self->provider) {
	case TANDEM_GDA_SQLITE:
		return g_strdup_printf (
			"CREATE TABLE IF NOT EXISTS %s (id INTEGER PRIMARY KEY, "
			"tenant VARCHAR(255) NOT NULL, plan VARCHAR(255) NOT NULL, "
			"created_ms INT64 NOT NULL, epoch INT64 NOT NULL, seq INT64 NOT NULL, "
			"size INT64 NOT NULL, snapshot BLOB NOT NULL)",
			t);
	case TANDEM_GDA_MYSQL:
		return g_strdup_printf (
			"CREATE TABLE IF NOT EXISTS %s (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
			"tenant VARCHAR(255) NOT NULL, plan VARCHAR(255) NOT NULL, "
			"created_ms BIGINT NOT NULL, epoch BIGINT NOT NULL, seq BIGINT NOT NULL, "
			"size BIGINT NOT NULL, snapshot LONGBLOB NOT NULL, "
			"INDEX `%s_plan` (tenant, plan, id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
			t, self->table);
	case TANDEM_GDA_POSTGRES:
	default:
		return g_strdup_printf (
			"CREATE TABLE IF NOT EXISTS %s (id BIGSERIAL PRIMARY KEY, "
			"tenant VARCHAR(255) NOT NULL, plan VARCHAR(255) NOT NULL, "
			"created_ms BIGINT NOT NULL, epoch BIGINT NOT NULL, seq BIGINT NOT NULL, "
			"size BIGINT NOT NULL, snapshot BYTEA NOT NULL)",
			t);
	}
}

static void
drop_connection (TandemGdaPersister *self)
{
	if (self->cnc == NULL)
		return;
	g_clear_pointer (&self->insert, tandem_gda_stmt_free);
	g_clear_pointer (&self->list, tandem_gda_stmt_free);
	g_clear_pointer (&self->get, tandem_gda_stmt_free);
	g_clear_pointer (&self->prune, tandem_gda_stmt_free);
	gda_connection_close (self->cnc);
	g_clear_object (&self->cnc);
}

/* The connection, opened (and the table made) if needed; with the lock. */
static gboolean
ensure_connection (TandemGdaPersister *self, GError **error)
{
	TandemGdaParams params;
	g_autofree char *create = NULL;
	g_autofree char *t = NULL;
	g_autofree char *sql = NULL;
	g_autoptr (GError) local_error = NULL;
	gboolean ok;

	if (self->cnc != NULL)
		return TRUE;
	if (!resolve_params (self, &params, error))
		return FALSE;
	self->cnc = tandem_gda_open (&params, TANDEM_GDA_SESSION_WRITE, error);
	tandem_gda_params_clear (&params);
	if (self->cnc == NULL)
		return FALSE;
	create = create_sql (self);
	ok = tandem_gda_run (self->cnc, self->provider, create, &local_error);
	if (ok && self->provider != TANDEM_GDA_MYSQL) {
		g_autofree char *quoted = tandem_gda_quote (self->provider, self->table);
		g_autofree char *index_name = g_strdup_printf ("%s_plan", self->table);
		g_autofree char *quoted_index = tandem_gda_quote (self->provider, index_name);
		g_autofree char *index =
			g_strdup_printf ("CREATE INDEX IF NOT EXISTS %s ON %s (tenant, plan, id)",
					 quoted_index, quoted);

		ok = tandem_gda_run (self->cnc, self->provider, index, &local_error);
	}
	if (!ok) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "cannot create the table %s: %s", self->table, local_error->message);
		drop_connection (self);
		return FALSE;
	}
	t = tandem_gda_quote (self->provider, self->table);
	/* p0 tenant, p1 plan, p2 epoch, p3 seq, p4 size, p5 the snapshot */
	sql = g_strdup_printf (
		"INSERT INTO %s (tenant, plan, created_ms, epoch, seq, size, snapshot) VALUES (##p0::string::null, "
		"##p1::string::null, %s, %s, %s, %s, ##p5::string::null)",
		t, tandem_gda_now_ms_sql (self->provider),
		self->provider == TANDEM_GDA_MYSQL ? "CAST(##p2::string::null AS SIGNED)"
						   : "##p2::string::null",
		self->provider == TANDEM_GDA_MYSQL ? "CAST(##p3::string::null AS SIGNED)"
						   : "##p3::string::null",
		self->provider == TANDEM_GDA_MYSQL ? "CAST(##p4::string::null AS SIGNED)"
						   : "##p4::string::null");
	self->insert = tandem_gda_stmt_new (self->provider, sql, 6, error);
	g_clear_pointer (&sql, g_free);
	/* p0 tenant, p1 plan -> id, newest first */
	sql = g_strdup_printf (
		"SELECT id FROM %s WHERE tenant = ##p0::string::null AND plan = ##p1::string::null "
		"ORDER BY id DESC",
		t);
	self->list =
		self->insert != NULL ? tandem_gda_stmt_new (self->provider, sql, 2, error) : NULL;
	g_clear_pointer (&sql, g_free);
	/* p0 id -> the snapshot */
	sql = g_strdup_printf ("SELECT snapshot FROM %s WHERE id = %s", t,
			       self->provider == TANDEM_GDA_MYSQL
				       ? "CAST(##p0::string::null AS SIGNED)"
				       : "##p0::string::null");
	self->get = self->list != NULL ? tandem_gda_stmt_new (self->provider, sql, 1, error) : NULL;
	g_clear_pointer (&sql, g_free);
	/* p0 tenant, p1 plan, p2 the oldest id kept */
	sql = g_strdup_printf (
		"DELETE FROM %s WHERE tenant = ##p0::string::null AND plan = ##p1::string::null "
		"AND id < %s",
		t,
		self->provider == TANDEM_GDA_MYSQL ? "CAST(##p2::string::null AS SIGNED)"
						   : "##p2::string::null");
	self->prune =
		self->get != NULL ? tandem_gda_stmt_new (self->provider, sql, 3, error) : NULL;
	if (self->prune == NULL) {
		drop_connection (self);
		return FALSE;
	}
	return TRUE;
}

/* After a failure: a connection that no longer answers is dropped, so that
 * the next call opens a fresh one (the database came back). */
static void
check_connection (TandemGdaPersister *self)
{
	/* PostgreSQL: never pinged (see done_with_connection ()) */
	if (self->cnc != NULL &&
	    (self->provider == TANDEM_GDA_POSTGRES || !tandem_gda_ping (self->cnc)))
		drop_connection (self);
}

/* The ids of @plan's snapshots, newest first. */
static GArray *
list_ids (TandemGdaPersister *self, const char *tenant, const char *plan, GError **error)
{
	g_autoptr (GdaDataModel) model = NULL;
	GArray *ids;
	int n;

	tandem_gda_stmt_set_string (self->list, 0, tenant);
	tandem_gda_stmt_set_string (self->list, 1, plan);
	model = tandem_gda_stmt_select (self->cnc, self->list, error);
	/* read once: nothing of it stays prepared on the connection */
	tandem_gda_stmt_forget (self->cnc, self->list);
	if (model == NULL)
		return NULL;
	n = gda_data_model_get_n_rows (model);
	ids = g_array_sized_new (FALSE, FALSE, sizeof (gint64), MAX (n, 0));
	for (int row = 0; row < n; row++) {
		gint64 id = 0;

		if (tandem_gda_value_get_long (gda_data_model_get_value_at (model, 0, row, NULL),
					       &id))
			g_array_append_val (ids, id);
	}
	return ids;
}

/* --- saving --------------------------------------------------------------------- */

static gboolean
save_locked (TandemGdaPersister *self,
	     const char *tenant,
	     const char *plan,
	     GBytes *snapshot,
	     GError **error)
{
	g_autoptr (GArray) ids = NULL;
	g_autoptr (GError) local_error = NULL;
	gsize size = 0;
	const guint8 *data = g_bytes_get_data (snapshot, &size);
	guint64 epoch = 0;
	guint64 seq = 0;

	if (!ensure_connection (self, error))
		return FALSE;
	/* the header only: the caller made it; epoch and seq for the columns */
	if (!tandem_snapshot_decode (snapshot, NULL, &epoch, &seq, NULL, error)) {
		g_prefix_error (error, "refusing to save plan %s: ", plan);
		return FALSE;
	}
	tandem_gda_stmt_set_string (self->insert, 0, tenant);
	tandem_gda_stmt_set_string (self->insert, 1, plan);
	tandem_gda_stmt_set_long (self->insert, 2, (gint64) MIN (epoch, (guint64) G_MAXINT64));
	tandem_gda_stmt_set_long (self->insert, 3, (gint64) MIN (seq, (guint64) G_MAXINT64));
	tandem_gda_stmt_set_long (self->insert, 4, (gint64) size);
	tandem_gda_stmt_set_binary (self->insert, 5, data, size);
	/* an explicit transaction: the row is durable once it commits */
	if (!gda_connection_begin_transaction (self->cnc, NULL, GDA_TRANSACTION_ISOLATION_UNKNOWN,
					       &local_error) ||
	    tandem_gda_stmt_exec (self->cnc, self->insert, &local_error) < 0 ||
	    !gda_connection_commit_transaction (self->cnc, NULL, &local_error)) {
		/* no longer hold the caller's data */
		tandem_gda_stmt_set_null (self->insert, 5);
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "cannot write the snapshot of plan %s to %s: %s", plan, self->table,
			     local_error != NULL ? local_error->message : "unknown error");
		if (self->cnc != NULL && gda_connection_get_transaction_status (self->cnc) != NULL)
			gda_connection_rollback_transaction (self->cnc, NULL, NULL);
		check_connection (self);
		return FALSE;
	}
	tandem_gda_stmt_set_null (self->insert, 5);
	/* retention, now that the new row is committed */
	ids = list_ids (self, tenant, plan, &local_error);
	if (ids == NULL) {
		g_warning ("[persister.%s]: cannot apply the retention of plan %s: %s",
			   persister_name (self), plan, local_error->message);
		check_connection (self);
		return TRUE;
	}
	if (ids->len > self->keep) {
		tandem_gda_stmt_set_string (self->prune, 0, tenant);
		tandem_gda_stmt_set_string (self->prune, 1, plan);
		tandem_gda_stmt_set_long (self->prune, 2,
					  g_array_index (ids, gint64, self->keep - 1));
		if (!gda_connection_begin_transaction (self->cnc, NULL,
						       GDA_TRANSACTION_ISOLATION_UNKNOWN,
						       &local_error) ||
		    tandem_gda_stmt_exec (self->cnc, self->prune, &local_error) < 0 ||
		    !gda_connection_commit_transaction (self->cnc, NULL, &local_error)) {
			g_warning ("[persister.%s]: cannot delete the old snapshots of plan %s: %s",
				   persister_name (self), plan,
				   local_error != NULL ? local_error->message : "unknown error");
			if (gda_connection_get_transaction_status (self->cnc) != NULL)
				gda_connection_rollback_transaction (self->cnc, NULL, NULL);
			check_connection (self);
		}
	}
	return TRUE;
}

/* libgda 5.2's PostgreSQL provider crashes executing anything on a
 * connection whose server went away (as the store found): there, each
 * operation gets a connection of its own, like the store's control
 * statements; a snapshot a minute makes that cheap. */
static void
done_with_connection (TandemGdaPersister *self)
{
	if (self->provider == TANDEM_GDA_POSTGRES)
		drop_connection (self);
}

static gboolean
tandem_gda_persister_save (TandemPersister *persister,
			   const char *tenant,
			   const char *plan,
			   GBytes *snapshot,
			   GError **error)
{
	TandemGdaPersister *self = TANDEM_GDA_PERSISTER (persister);
	gboolean ok;

	g_mutex_lock (&self->lock);
	ok = save_locked (self, tenant, plan, snapshot, error);
	done_with_connection (self);
	g_mutex_unlock (&self->lock);
	return ok;
}

/* --- loading -------------------------------------------------------------------- */

static GBytes *
value_to_bytes (const GValue *value)
{
	if (value == NULL || gda_value_is_null (value))
		return NULL;
	if (G_VALUE_TYPE (value) == GDA_TYPE_BINARY) {
		const GdaBinary *bin = gda_value_get_binary (value);

		return g_bytes_new (bin->data, (gsize) bin->binary_length);
	}
	if (G_VALUE_TYPE (value) == GDA_TYPE_BLOB) {
		const GdaBlob *blob = gda_value_get_blob (value);
		GdaBinary *bin = (GdaBinary *) blob;

		if (blob->op != NULL && bin->binary_length == 0) {
			glong size = gda_blob_op_get_length (blob->op);

			if (size > 0)
				gda_blob_op_read (blob->op, (GdaBlob *) blob, 0, size);
		}
		return g_bytes_new (bin->data, (gsize) bin->binary_length);
	}
	if (G_VALUE_TYPE (value) == G_TYPE_STRING && g_value_get_string (value) != NULL)
		return g_bytes_new (g_value_get_string (value),
				    strlen (g_value_get_string (value)));
	return NULL;
}

static GBytes *
load_locked (TandemGdaPersister *self, const char *tenant, const char *plan, GError **error)
{
	g_autoptr (GArray) ids = NULL;
	GType binary_type[] = { GDA_TYPE_BINARY, G_TYPE_NONE };

	if (!ensure_connection (self, error))
		return NULL;
	ids = list_ids (self, tenant, plan, error);
	if (ids == NULL) {
		g_prefix_error (error, "cannot list the snapshots of plan %s in %s: ", plan,
				self->table);
		check_connection (self);
		return NULL;
	}
	for (guint i = 0; i < ids->len; i++) {
		gint64 id = g_array_index (ids, gint64, i);
		g_autoptr (GdaDataModel) model = NULL;
		g_autoptr (GError) local_error = NULL;
		g_autoptr (GBytes) bytes = NULL;
		g_autofree char *name = NULL;

		tandem_gda_stmt_set_long (self->get, 0, id);
		/* SQLite: a BLOB column would come as a GdaBlob whose blob
		 * handle keeps a read transaction open; asked as binary data,
		 * it is read at once */
		model = self->provider == TANDEM_GDA_SQLITE
				? tandem_gda_stmt_select_typed (self->cnc, self->get, binary_type,
								&local_error)
				: tandem_gda_stmt_select (self->cnc, self->get, &local_error);
		tandem_gda_stmt_forget (self->cnc, self->get);
		if (model == NULL) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "cannot read the snapshot %" G_GINT64_FORMAT " of plan %s: %s",
				     id, plan, local_error->message);
			check_connection (self);
			return NULL;
		}
		if (gda_data_model_get_n_rows (model) != 1)
			continue; /* deleted meanwhile */
		bytes = value_to_bytes (gda_data_model_get_value_at (model, 0, 0, NULL));
		if (bytes == NULL) {
			g_warning ("[persister.%s]: skipping the snapshot %" G_GINT64_FORMAT
				   " of plan %s: no data",
				   persister_name (self), id, plan);
			continue;
		}
		if (!tandem_snapshot_decode (bytes, &name, NULL, NULL, NULL, &local_error)) {
			g_warning ("[persister.%s]: skipping the snapshot %" G_GINT64_FORMAT
				   " of plan %s: %s",
				   persister_name (self), id, plan, local_error->message);
			continue;
		}
		if (g_strcmp0 (name, plan) != 0) {
			g_warning ("[persister.%s]: skipping the snapshot %" G_GINT64_FORMAT
				   " of plan %s: it holds plan %s",
				   persister_name (self), id, plan, name);
			continue;
		}
		return g_steal_pointer (&bytes);
	}
	return NULL;
}

static GBytes *
tandem_gda_persister_load_latest (TandemPersister *persister,
				  const char *tenant,
				  const char *plan,
				  GError **error)
{
	TandemGdaPersister *self = TANDEM_GDA_PERSISTER (persister);
	GBytes *bytes;

	g_mutex_lock (&self->lock);
	bytes = load_locked (self, tenant, plan, error);
	done_with_connection (self);
	g_mutex_unlock (&self->lock);
	return bytes;
}

/* --- lifecycle ------------------------------------------------------------------ */

static gboolean
tandem_gda_persister_start (TandemPlugin *plugin, GError **error)
{
	TandemGdaPersister *self = TANDEM_GDA_PERSISTER (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_gda_persister_parent_class);
	g_autoptr (GError) local_error = NULL;
	TandemGdaParams params;
	g_autofree char *what = NULL;

	if (parent->start != NULL && !parent->start (plugin, error))
		return FALSE;
	if (!resolve_params (self, &params, error))
		return FALSE;
	what = tandem_gda_describe (&params);
	tandem_gda_params_clear (&params);
	/* a database down is not fatal: the node runs on, and each save
	 * tries again */
	g_mutex_lock (&self->lock);
	if (!ensure_connection (self, &local_error))
		g_warning ("[persister.%s]: %s; snapshots fail until it can be reached",
			   persister_name (self), local_error->message);
	done_with_connection (self);
	g_mutex_unlock (&self->lock);
	g_message ("[persister.%s]: snapshots in table %s of %s, the newest %u of each plan kept",
		   persister_name (self), self->table, what, self->keep);
	return TRUE;
}

static gboolean
tandem_gda_persister_stop (TandemPlugin *plugin, GError **error)
{
	TandemGdaPersister *self = TANDEM_GDA_PERSISTER (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_gda_persister_parent_class);

	g_mutex_lock (&self->lock);
	drop_connection (self);
	g_mutex_unlock (&self->lock);
	return parent->stop == NULL || parent->stop (plugin, error);
}

/* --- GObject --------------------------------------------------------------------- */

static void
tandem_gda_persister_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemGdaPersister *self = TANDEM_GDA_PERSISTER (object);

	switch (prop_id) {
	case PROP_PROVIDER:
		g_value_set_string (value, self->provider_name);
		break;
	case PROP_DATABASE:
		g_value_set_string (value, self->database);
		break;
	case PROP_HOST:
		g_value_set_string (value, self->host);
		break;
	case PROP_PORT:
		g_value_set_uint (value, self->port);
		break;
	case PROP_USER:
		g_value_set_string (value, self->user);
		break;
	case PROP_PASSWORD_FILE:
		g_value_set_string (value, self->password_file);
		break;
	case PROP_PASSWORD_ENV:
		g_value_set_string (value, self->password_env);
		break;
	case PROP_TABLE:
		g_value_set_string (value, self->table);
		break;
	case PROP_KEEP:
		g_value_set_uint (value, self->keep);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
set_string (char **field, const GValue *value)
{
	const char *str = g_value_get_string (value);

	g_free (*field);
	*field = str != NULL && *str != '\0' ? g_strdup (str) : NULL;
}

static void
wipe (char **secret)
{
	if (*secret != NULL)
		memset (*secret, 0, strlen (*secret));
	g_clear_pointer (secret, g_free);
}

static void
tandem_gda_persister_set_property (GObject *object,
				   guint prop_id,
				   const GValue *value,
				   GParamSpec *pspec)
{
	TandemGdaPersister *self = TANDEM_GDA_PERSISTER (object);

	switch (prop_id) {
	case PROP_PROVIDER:
		g_free (self->provider_name);
		self->provider_name = g_value_dup_string (value);
		if (self->provider_name == NULL)
			self->provider_name = g_strdup (DEFAULT_PROVIDER);
		break;
	case PROP_DATABASE:
		set_string (&self->database, value);
		break;
	case PROP_HOST:
		set_string (&self->host, value);
		break;
	case PROP_PORT:
		self->port = g_value_get_uint (value);
		break;
	case PROP_USER:
		set_string (&self->user, value);
		break;
	case PROP_PASSWORD:
		wipe (&self->password);
		set_string (&self->password, value);
		break;
	case PROP_PASSWORD_FILE:
		set_string (&self->password_file, value);
		break;
	case PROP_PASSWORD_ENV:
		set_string (&self->password_env, value);
		break;
	case PROP_TABLE:
		g_free (self->table);
		self->table = g_value_dup_string (value);
		break;
	case PROP_KEEP:
		self->keep = g_value_get_uint (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_gda_persister_finalize (GObject *object)
{
	TandemGdaPersister *self = TANDEM_GDA_PERSISTER (object);

	drop_connection (self);
	g_free (self->provider_name);
	g_free (self->database);
	g_free (self->host);
	g_free (self->user);
	wipe (&self->password);
	wipe (&self->secret);
	g_free (self->password_file);
	g_free (self->password_env);
	g_free (self->table);
	g_mutex_clear (&self->lock);
	G_OBJECT_CLASS (tandem_gda_persister_parent_class)->finalize (object);
}

static void
tandem_gda_persister_class_init (TandemGdaPersisterClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);
	TandemPersisterClass *persister_class = TANDEM_PERSISTER_CLASS (klass);
	const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG;

	object_class->get_property = tandem_gda_persister_get_property;
	object_class->set_property = tandem_gda_persister_set_property;
	object_class->finalize = tandem_gda_persister_finalize;
	plugin_class->setup = tandem_gda_persister_setup;
	plugin_class->start = tandem_gda_persister_start;
	plugin_class->stop = tandem_gda_persister_stop;
	persister_class->save = tandem_gda_persister_save;
	persister_class->load_latest = tandem_gda_persister_load_latest;

	props[PROP_PROVIDER] =
		g_param_spec_string ("provider", NULL,
				     "The database: sqlite, mysql (also mariadb) or postgresql",
				     DEFAULT_PROVIDER, flags);
	props[PROP_DATABASE] = g_param_spec_string (
		"database", NULL,
		"SQLite: the database file (default snapshots.db in the state directory); others: the database "
		"name (default tandem)",
		NULL, flags);
	props[PROP_HOST] = g_param_spec_string (
		"host", NULL,
		"Server host name or address; a path is a Unix socket (MySQL: the "
		"socket file; PostgreSQL: its directory)",
		NULL, flags);
	props[PROP_PORT] = g_param_spec_uint ("port", NULL, "Server port (0: the default)", 0,
					      65535, 0, flags);
	props[PROP_USER] = g_param_spec_string ("user", NULL, "User name", NULL, flags);
	props[PROP_PASSWORD] =
		g_param_spec_string ("password", NULL, "Password", NULL,
				     G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS |
					     TANDEM_PARAM_CONFIG | TANDEM_PARAM_SECRET);
	props[PROP_PASSWORD_FILE] =
		g_param_spec_string ("password-file", NULL,
				     "File whose first line is the password (read at setup)", NULL,
				     flags);
	props[PROP_PASSWORD_ENV] =
		g_param_spec_string ("password-env", NULL,
				     "Environment variable holding the password", NULL, flags);
	props[PROP_TABLE] = g_param_spec_string ("table", NULL, "The table holding the snapshots",
						 DEFAULT_TABLE, flags);
	props[PROP_KEEP] = g_param_spec_uint ("keep", NULL, "Snapshots kept per plan, the newest",
					      1, 1000, DEFAULT_KEEP, flags);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_gda_persister_class_finalize (TandemGdaPersisterClass *klass)
{
}

static void
tandem_gda_persister_init (TandemGdaPersister *self)
{
	self->provider_name = g_strdup (DEFAULT_PROVIDER);
	self->provider = TANDEM_GDA_SQLITE;
	self->table = g_strdup (DEFAULT_TABLE);
	self->keep = DEFAULT_KEEP;
	g_mutex_init (&self->lock);
}

static GType
tandem_gda_persister_register_types (GTypeModule *module)
{
	tandem_gda_persister_register_type (module);
	return TANDEM_TYPE_GDA_PERSISTER;
}

/* plugin names are unique across kinds, and `gda` is the store */
TANDEM_PLUGIN_DEFINE (
	"gda-persister",
	TANDEM_PLUGIN_KIND_PERSISTER,
	"0.1.0",
	"LGPL-2.1-or-later",
	"Keeps execution-plan snapshots in SQLite, MySQL/MariaDB or PostgreSQL (libgda), with retention",
	tandem_gda_persister_register_types)
