/* tandem-gda-store.c: the gda store plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Keeps raw events and plan outputs in SQLite (the default, a file in the
 * state directory), MySQL/MariaDB or PostgreSQL through libgda 5, and gives
 * HA its node registry and lease.  README.md documents the keys, the tables
 * and the behaviour; the work is split as follows:
 *
 * - tandem-gda-db.c: connections, dialects, statements parsed once and
 *   reused (and how libgda 5.2 must be fed to bind values exactly);
 * - tandem-gda-schema.c: table names, creation and migration, the metadata,
 *   lease and node tables;
 * - tandem-gda-writer.c: the bounded queue and the worker thread;
 * - tandem-gda-query.c: read-only queries to JSON.
 *
 * Threads: append_events/append_outputs run on the node's engine thread
 * and only queue; the writer thread owns its connection.  Everything else
 * (register_node, acquire_lease, query, flush) runs on the caller's thread:
 * register_node and acquire_lease share a control connection under a lock;
 * query opens a connection of its own.
 */
#define G_LOG_DOMAIN "Tandem-gda"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "tandem-gda-db.h"
#include "tandem-gda-query.h"
#include "tandem-gda-read.h"
#include "tandem-gda-schema.h"
#include "tandem-gda-store.h"
#include "tandem-gda-writer.h"

#define DEFAULT_PROVIDER "sqlite"
#define DEFAULT_DATABASE_FILE "tandem.db"
#define DEFAULT_DATABASE_NAME "tandem"
#define DEFAULT_BATCH_SIZE 500
#define DEFAULT_FLUSH_INTERVAL_MS 200
#define DEFAULT_QUEUE_SIZE 100000
#define DEFAULT_RETRY_MAX_INTERVAL_MS 10000
#define DEFAULT_SHUTDOWN_TIMEOUT_MS 30000
#define DEFAULT_NODE_TIMEOUT_MS 15000
/* attempts of a lease or registration statement */
#define CONTROL_ATTEMPTS 3

struct _TandemGdaStore {
	TandemStore parent_instance;

	/* config */
	char *provider_name;
	char *database;
	char *host;
	guint port;
	char *user;
	char *password;
	char *password_file;
	char *password_env;
	guint batch_size;
	guint flush_interval_ms;
	guint queue_size;
	guint retry_max_interval_ms;
	guint shutdown_timeout_ms;
	guint node_timeout_ms;

	TandemGdaProvider provider;
	char *secret; /* the password from whichever source */
	char *instance;

	TandemGdaWriter *writer;

	/* the control connection (registry, lease) and its statements */
	GMutex control_lock;
	GdaConnection *control;
	TandemGdaStmt *lease_cas;
	TandemGdaStmt *lease_get;
	TandemGdaStmt *node_register;
	TandemGdaStmt *node_get;
	GPtrArray *registered; /* node ids registered by this instance */
};

G_DEFINE_DYNAMIC_TYPE (TandemGdaStore, tandem_gda_store, TANDEM_TYPE_STORE)

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
	PROP_BATCH_SIZE,
	PROP_FLUSH_INTERVAL,
	PROP_QUEUE_SIZE,
	PROP_RETRY_MAX_INTERVAL,
	PROP_SHUTDOWN_TIMEOUT,
	PROP_NODE_TIMEOUT,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static const char *
store_name (TandemGdaStore *self)
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
	if (memchr (contents, '\0', length) != NULL) {
		memset (contents, 0, length);
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
			     "%s is not a text file", path);
		return NULL;
	}
	/* the first line, without its newline */
	end = strpbrk (contents, "\r\n");
	if (end != NULL)
		memset (end, 0, length - (gsize) (end - contents));
	return g_steal_pointer (&contents);
}

static gboolean
tandem_gda_store_setup (TandemPlugin *plugin, TandemConfigSection *section, GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_gda_store_parent_class);
	guint sources = 0;

	if (parent->setup != NULL && !parent->setup (plugin, section, error))
		return FALSE;

	if (!tandem_gda_provider_from_string (self->provider_name, &self->provider)) {
		tandem_config_section_set_error (
			section, "provider", error,
			"expected sqlite, mysql (or mariadb) or postgresql, got \"%s\"",
			self->provider_name);
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
			g_warning ("[store.%s]: password file %s is readable by everyone",
				   store_name (self), self->password_file);
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
	if (self->batch_size > self->queue_size) {
		tandem_config_section_set_error (section, "batch_size", error,
						 "expected at most queue_size (%u), got %u",
						 self->queue_size, self->batch_size);
		return FALSE;
	}
	if (self->provider == TANDEM_GDA_SQLITE &&
	    (self->host != NULL || self->user != NULL || self->secret != NULL))
		g_warning ("[store.%s]: host, user and password are ignored with SQLite",
			   store_name (self));
	return TRUE;
}

/* Where the database is, from the config: SQLite's file defaults to
 * tandem.db in the node's state directory, and a relative file is taken
 * from there too. */
static gboolean
resolve_params (TandemGdaStore *self, TandemGdaParams *params, GError **error)
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
				"store %s: the SQLite database %s is relative, and there is no state directory",
				store_name (self), file);
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

/* --- lifecycle ------------------------------------------------------------------ */

static gboolean
open_table (GdaConnection *cnc,
	    TandemGdaStore *self,
	    GHashTable *tables,
	    TandemGdaTableKind kind,
	    const char *plan,
	    TandemStreamDefinition *stream,
	    GError **error)
{
	g_autofree char *key = tandem_gda_table_key (kind, plan, stream);
	TandemGdaTable *table;

	if (g_hash_table_contains (tables, key))
		return TRUE;
	table = tandem_gda_table_open (cnc, self->provider, kind, plan, stream, self->batch_size,
				       error);
	if (table == NULL)
		return FALSE;
	g_hash_table_insert (tables, g_steal_pointer (&key), table);
	return TRUE;
}

/* The tables of the streams the node's plans read (events) and write
 * (outputs), so that a definition the database cannot take stops the node
 * at start rather than at the first event.  Other streams get their table
 * with their first row. */
static gboolean
open_known_tables (TandemGdaStore *self, GdaConnection *cnc, GHashTable *tables, GError **error)
{
	TandemNode *node = tandem_plugin_get_node (TANDEM_PLUGIN (self));
	TandemStoreRole role = tandem_store_get_role (TANDEM_STORE (self));
	GPtrArray *plans;

	if (node == NULL)
		return TRUE;
	plans = tandem_node_get_plans (node);
	for (guint i = 0; plans != NULL && i < plans->len; i++) {
		TandemPlan *plan = g_ptr_array_index (plans, i);
		g_auto (GStrv) inputs = tandem_plan_dup_input_streams (plan);
		g_autoptr (GPtrArray) streams = tandem_plan_get_streams (plan);

		for (guint k = 0; k < streams->len; k++) {
			TandemStreamDefinition *stream = g_ptr_array_index (streams, k);
			const char *name = tandem_stream_definition_get_name (stream);
			gboolean input = g_strv_contains ((const char *const *) inputs, name);
			/* the node's definition: the one its events come with */
			TandemStreamDefinition *ingested = tandem_node_lookup_stream (node, name);

			if (input && (role & TANDEM_STORE_ROLE_EVENTS) &&
			    !open_table (cnc, self, tables, TANDEM_GDA_TABLE_EVENTS, NULL,
					 ingested != NULL ? ingested : stream, error))
				return FALSE;
			if (!input && (role & TANDEM_STORE_ROLE_OUTPUTS) &&
			    !open_table (cnc, self, tables, TANDEM_GDA_TABLE_OUTPUTS,
					 tandem_plan_get_name (plan), stream, error))
				return FALSE;
		}
	}
	return TRUE;
}

static gboolean
tandem_gda_store_start (TandemPlugin *plugin, GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_gda_store_parent_class);
	TandemNode *node = tandem_plugin_get_node (plugin);
	TandemGdaWriterConfig config = { 0 };
	g_autoptr (GdaConnection) cnc = NULL;
	g_autoptr (GHashTable) tables = NULL;
	g_autofree char *what = NULL;

	if (parent->start != NULL && !parent->start (plugin, error))
		return FALSE;
	/* the registry knows a node restarted on its own state directory
	 * (after a crash, say) as the same instance, and lets it in at once */
	if (node != NULL && tandem_node_get_instance_id (node) != NULL) {
		g_free (self->instance);
		self->instance = g_strdup (tandem_node_get_instance_id (node));
	}

	if (!resolve_params (self, &config.params, error))
		return FALSE;
	what = tandem_gda_describe (&config.params);
	cnc = tandem_gda_open (&config.params, TANDEM_GDA_SESSION_WRITE, error);
	if (cnc == NULL || !tandem_gda_schema_ensure_control (cnc, self->provider, error)) {
		tandem_gda_params_clear (&config.params);
		return FALSE;
	}
	tables = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
					(GDestroyNotify) tandem_gda_table_free);
	if (!open_known_tables (self, cnc, tables, error)) {
		tandem_gda_params_clear (&config.params);
		return FALSE;
	}

	config.name = (char *) store_name (self);
	config.node_id = (char *) (node != NULL && tandem_node_get_id (node) != NULL
					   ? tandem_node_get_id (node)
					   : "");
	config.batch_size = self->batch_size;
	config.flush_interval_ms = self->flush_interval_ms;
	config.queue_size = self->queue_size;
	config.retry_max_interval_ms = self->retry_max_interval_ms;
	config.shutdown_timeout_ms = self->shutdown_timeout_ms;
	config.heartbeat_interval_ms = MAX (self->node_timeout_ms / 3, 1);
	self->writer = tandem_gda_writer_start (&config, g_steal_pointer (&cnc), tables);
	tandem_gda_params_clear (&config.params);

	g_mutex_lock (&self->control_lock);
	for (guint i = 0; i < self->registered->len; i++)
		tandem_gda_writer_add_heartbeat (self->writer,
						 g_ptr_array_index (self->registered, i),
						 self->instance);
	g_mutex_unlock (&self->control_lock);

	g_message (
		"[store.%s]: writing to %s (batches of %u rows, every %u ms at least, queue of %u rows)",
		store_name (self), what, self->batch_size, self->flush_interval_ms,
		self->queue_size);
	return TRUE;
}

static void
drop_control (TandemGdaStore *self)
{
	if (self->control != NULL) {
		gda_connection_close (self->control);
		g_clear_object (&self->control);
	}
}

static gboolean ensure_control (TandemGdaStore *self, GError **error);

/* Marks the nodes this instance registered as gone, so that they can
 * register again at once. */
static void
leave_registry (TandemGdaStore *self)
{
	g_autoptr (TandemGdaStmt) leave = NULL;

	if (self->registered->len == 0 || self->control == NULL)
		return;
	leave = tandem_gda_schema_node_leave (self->provider, NULL);
	for (guint i = 0; leave != NULL && i < self->registered->len; i++) {
		g_autoptr (GError) error = NULL;

		tandem_gda_stmt_set_string (leave, 0, g_ptr_array_index (self->registered, i));
		tandem_gda_stmt_set_string (leave, 1, self->instance);
		if (tandem_gda_stmt_exec (self->control, leave, &error) < 0)
			g_debug ("[store.%s]: cannot leave the node registry: %s",
				 store_name (self), error->message);
	}
	if (leave != NULL)
		tandem_gda_stmt_forget (self->control, leave);
}

static gboolean
tandem_gda_store_stop (TandemPlugin *plugin, GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_gda_store_parent_class);

	if (self->writer != NULL)
		g_clear_pointer (&self->writer, tandem_gda_writer_stop);
	g_mutex_lock (&self->control_lock);
	/* the control connection may have died with its server, and libgda
	 * 5.2's PostgreSQL provider crashes (strtoul on NULL) executing
	 * anything on such a connection, even a ping: leave the registry on a
	 * fresh connection there, after a ping elsewhere */
	if (self->registered->len > 0) {
		if (self->control != NULL && (self->provider == TANDEM_GDA_POSTGRES || !tandem_gda_ping (self->control)))
			drop_control (self);
		if (self->control != NULL || ensure_control (self, NULL))
			leave_registry (self);
	}
	drop_control (self);
	g_mutex_unlock (&self->control_lock);

	return parent->stop == NULL || parent->stop (plugin, error);
}

/* --- writing -------------------------------------------------------------------- */

static gboolean
check_running (TandemGdaStore *self, TandemStoreRole wanted, GError **error)
{
	if (self->writer == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "store %s is not running",
			     store_name (self));
		return FALSE;
	}
	if (!(tandem_store_get_role (TANDEM_STORE (self)) & wanted)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
			     "store %s does not keep %s (role)", store_name (self),
			     wanted == TANDEM_STORE_ROLE_EVENTS ? "events" : "outputs");
		return FALSE;
	}
	return TRUE;
}

static gboolean
tandem_gda_store_append_events (TandemStore *store,
				TandemStreamDefinition *stream,
				GPtrArray *events,
				GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (store);

	if (!check_running (self, TANDEM_STORE_ROLE_EVENTS, error))
		return FALSE;
	return tandem_gda_writer_append_events (self->writer, stream, events, error);
}

static gboolean
tandem_gda_store_append_outputs (TandemStore *store,
				 const TandemStoreOutput *outputs,
				 guint n_outputs,
				 GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (store);

	if (!check_running (self, TANDEM_STORE_ROLE_OUTPUTS, error))
		return FALSE;
	return tandem_gda_writer_append_outputs (self->writer, outputs, n_outputs, error);
}

static gboolean
tandem_gda_store_flush (TandemStore *store, GCancellable *cancellable, GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (store);

	if (self->writer == NULL)
		return TRUE;
	return tandem_gda_writer_flush (self->writer, cancellable, error);
}

/* --- the control connection: registry and lease ---------------------------------- */

typedef gboolean (*ControlFunc) (TandemGdaStore *self, gpointer data, GError **error);

static gboolean
ensure_control (TandemGdaStore *self, GError **error)
{
	TandemGdaParams params;
	gboolean ok;

	if (self->control != NULL)
		return TRUE;
	if (!resolve_params (self, &params, error))
		return FALSE;
	self->control = tandem_gda_open (&params, TANDEM_GDA_SESSION_WRITE, error);
	ok = self->control != NULL &&
	     tandem_gda_schema_ensure_control (self->control, self->provider, error);
	tandem_gda_params_clear (&params);
	if (!ok)
		drop_control (self);
	return ok;
}

/* Runs @func in a transaction of the control connection, again on a
 * fresh connection if the connection was lost, and again if the database
 * refused (a deadlock, a busy SQLite file). */
static gboolean
with_control (TandemGdaStore *self, ControlFunc func, gpointer data, GError **error)
{
	g_autoptr (GError) local_error = NULL;

	g_mutex_lock (&self->control_lock);
	for (guint attempt = 0; attempt < CONTROL_ATTEMPTS; attempt++) {
		g_clear_error (&local_error);
		if (attempt > 0)
			g_usleep (20 * 1000 * attempt);
		if (!ensure_control (self, &local_error))
			continue;
		if (gda_connection_begin_transaction (self->control, NULL,
						      GDA_TRANSACTION_ISOLATION_UNKNOWN,
						      &local_error) &&
		    func (self, data, &local_error) &&
		    gda_connection_commit_transaction (self->control, NULL, &local_error)) {
			g_mutex_unlock (&self->control_lock);
			return TRUE;
		}
		if (gda_connection_get_transaction_status (self->control) != NULL)
			gda_connection_rollback_transaction (self->control, NULL, NULL);
		if (local_error != NULL && local_error->domain == TANDEM_ERROR &&
		    local_error->code == TANDEM_ERROR_BUSY)
			break;
		if (!tandem_gda_ping (self->control))
			drop_control (self);
	}
	g_mutex_unlock (&self->control_lock);
	g_propagate_error (error, g_steal_pointer (&local_error));
	return FALSE;
}

static TandemGdaStmt *
control_stmt (TandemGdaStore *self,
	      TandemGdaStmt **slot,
	      TandemGdaStmt *(*make) (TandemGdaProvider, GError **),
	      GError **error)
{
	if (*slot == NULL)
		*slot = make (self->provider, error);
	return *slot;
}

typedef struct {
	const char *cluster;
	const char *holder;
	gint64 ttl_ms;
	const char *take_from;
	guint64 take_from_epoch;
	TandemLease *lease;
} LeaseAttempt;

static gboolean
lease_in_transaction (TandemGdaStore *self, gpointer data, GError **error)
{
	LeaseAttempt *a = data;
	TandemGdaStmt *cas =
		control_stmt (self, &self->lease_cas, tandem_gda_schema_lease_cas, error);
	TandemGdaStmt *get = cas != NULL ? control_stmt (self, &self->lease_get,
							 tandem_gda_schema_lease_get, error)
					 : NULL;
	g_autoptr (GdaDataModel) model = NULL;
	gint64 epoch = 0;

	if (get == NULL)
		return FALSE;
	tandem_gda_stmt_set_string (cas, 0, a->cluster);
	tandem_gda_stmt_set_string (cas, 1, a->holder);
	tandem_gda_stmt_set_long (cas, 2, a->ttl_ms);
	tandem_gda_stmt_set_long (cas, 3, a->ttl_ms);
	tandem_gda_stmt_set_string (cas, 4, a->take_from != NULL ? a->take_from : "");
	tandem_gda_stmt_set_long (cas, 5, (gint64) a->take_from_epoch);
	if (tandem_gda_stmt_exec (self->control, cas, error) < 0)
		return FALSE;
	tandem_gda_stmt_set_string (get, 0, a->cluster);
	model = tandem_gda_stmt_select (self->control, get, error);
	if (model == NULL)
		return FALSE;
	if (gda_data_model_get_n_rows (model) != 1) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "the lease of cluster %s is missing", a->cluster);
		return FALSE;
	}
	g_clear_pointer (&a->lease->holder, g_free);
	a->lease->holder =
		tandem_gda_value_dup_string (gda_data_model_get_value_at (model, 0, 0, NULL));
	if (!tandem_gda_value_get_long (gda_data_model_get_value_at (model, 1, 0, NULL), &epoch) ||
	    !tandem_gda_value_get_long (gda_data_model_get_value_at (model, 2, 0, NULL),
					&a->lease->expires_ms)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "the lease of cluster %s is not readable", a->cluster);
		return FALSE;
	}
	a->lease->epoch = (guint64) epoch;
	return TRUE;
}

static gboolean
tandem_gda_store_acquire_lease (TandemStore *store,
				const char *cluster,
				const char *holder,
				gint64 ttl_ms,
				const char *take_from,
				guint64 take_from_epoch,
				TandemLease *lease,
				GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (store);
	LeaseAttempt attempt = { cluster, holder, ttl_ms, take_from, take_from_epoch, lease };

	if (!with_control (self, lease_in_transaction, &attempt, error)) {
		g_prefix_error (error, "store %s: cannot take the lease of cluster %s: ",
				store_name (self), cluster);
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	const char *node_id;
	const char *host;
	const char *ports;
} Registration;

static gboolean
register_in_transaction (TandemGdaStore *self, gpointer data, GError **error)
{
	Registration *r = data;
	TandemGdaStmt *reg =
		control_stmt (self, &self->node_register, tandem_gda_schema_node_register, error);
	TandemGdaStmt *get = reg != NULL ? control_stmt (self, &self->node_get,
							 tandem_gda_schema_node_get, error)
					 : NULL;
	g_autoptr (GdaDataModel) model = NULL;
	g_autofree char *host = NULL;
	g_autofree char *instance = NULL;
	gint64 last_seen = 0;
	gint64 now = 0;

	if (get == NULL)
		return FALSE;
	tandem_gda_stmt_set_string (reg, 0, r->node_id);
	tandem_gda_stmt_set_string (reg, 1, r->host);
	tandem_gda_stmt_set_string (reg, 2, r->ports);
	tandem_gda_stmt_set_string (reg, 3, self->instance);
	tandem_gda_stmt_set_long (reg, 4, self->node_timeout_ms);
	if (tandem_gda_stmt_exec (self->control, reg, error) < 0)
		return FALSE;
	tandem_gda_stmt_set_string (get, 0, r->node_id);
	model = tandem_gda_stmt_select (self->control, get, error);
	if (model == NULL)
		return FALSE;
	if (gda_data_model_get_n_rows (model) != 1) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "node %s is missing from tandem_nodes", r->node_id);
		return FALSE;
	}
	host = tandem_gda_value_dup_string (gda_data_model_get_value_at (model, 0, 0, NULL));
	instance = tandem_gda_value_dup_string (gda_data_model_get_value_at (model, 1, 0, NULL));
	tandem_gda_value_get_long (gda_data_model_get_value_at (model, 3, 0, NULL), &last_seen);
	tandem_gda_value_get_long (gda_data_model_get_value_at (model, 4, 0, NULL), &now);
	if (g_strcmp0 (instance, self->instance) != 0) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY,
			     "node id %s is already live on %s (last seen %.1f s ago)", r->node_id,
			     host != NULL ? host : "an unknown host",
			     MAX (now - last_seen, 0) / 1000.0);
		return FALSE;
	}
	return TRUE;
}

static gboolean
tandem_gda_store_register_node (TandemStore *store,
				const char *node_id,
				const char *host,
				const char *ports,
				GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (store);
	Registration r = { node_id, host, ports };

	if (!with_control (self, register_in_transaction, &r, error)) {
		if (error != NULL && *error != NULL &&
		    !g_error_matches (*error, TANDEM_ERROR, TANDEM_ERROR_BUSY))
			g_prefix_error (error,
					"store %s: cannot register node %s: ", store_name (self),
					node_id);
		return FALSE;
	}
	g_mutex_lock (&self->control_lock);
	if (!g_ptr_array_find_with_equal_func (self->registered, node_id, g_str_equal, NULL))
		g_ptr_array_add (self->registered, g_strdup (node_id));
	if (self->writer != NULL)
		tandem_gda_writer_add_heartbeat (self->writer, node_id, self->instance);
	g_mutex_unlock (&self->control_lock);
	g_info ("[store.%s]: node %s registered (%s, %s)", store_name (self), node_id, host, ports);
	return TRUE;
}

/* --- reading --------------------------------------------------------------------- */

static char *
tandem_gda_store_query (TandemStore *store,
			const char *sql,
			guint row_limit,
			guint timeout_ms,
			GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (store);
	TandemGdaParams params;
	char *json;

	/* refused before anything is opened */
	if (!tandem_gda_query_check (self->provider, sql, error))
		return NULL;
	if (!resolve_params (self, &params, error))
		return NULL;
	json = tandem_gda_query_run (&params, sql, row_limit, timeout_ms, error);
	tandem_gda_params_clear (&params);
	return json;
}

static GPtrArray *
tandem_gda_store_read_events (TandemStore *store,
			      TandemStreamDefinition *stream,
			      guint64 after_seq,
			      guint limit,
			      GError **error)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (store);
	TandemGdaParams params;
	GPtrArray *events;

	if (!(tandem_store_get_role (store) & TANDEM_STORE_ROLE_EVENTS)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
			     "store %s does not keep events (role)", store_name (self));
		return NULL;
	}
	if (!resolve_params (self, &params, error))
		return NULL;
	events = tandem_gda_read_events (&params, stream, after_seq, limit, error);
	tandem_gda_params_clear (&params);
	if (events == NULL)
		g_prefix_error (error, "store %s: ", store_name (self));
	return events;
}

/* --- GObject ---------------------------------------------------------------------- */

static void
tandem_gda_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (object);

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
	case PROP_BATCH_SIZE:
		g_value_set_uint (value, self->batch_size);
		break;
	case PROP_FLUSH_INTERVAL:
		g_value_set_uint (value, self->flush_interval_ms);
		break;
	case PROP_QUEUE_SIZE:
		g_value_set_uint (value, self->queue_size);
		break;
	case PROP_RETRY_MAX_INTERVAL:
		g_value_set_uint (value, self->retry_max_interval_ms);
		break;
	case PROP_SHUTDOWN_TIMEOUT:
		g_value_set_uint (value, self->shutdown_timeout_ms);
		break;
	case PROP_NODE_TIMEOUT:
		g_value_set_uint (value, self->node_timeout_ms);
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
tandem_gda_store_set_property (GObject *object,
			       guint prop_id,
			       const GValue *value,
			       GParamSpec *pspec)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (object);

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
		if (self->password != NULL)
			memset (self->password, 0, strlen (self->password));
		set_string (&self->password, value);
		break;
	case PROP_PASSWORD_FILE:
		set_string (&self->password_file, value);
		break;
	case PROP_PASSWORD_ENV:
		set_string (&self->password_env, value);
		break;
	case PROP_BATCH_SIZE:
		self->batch_size = g_value_get_uint (value);
		break;
	case PROP_FLUSH_INTERVAL:
		self->flush_interval_ms = g_value_get_uint (value);
		break;
	case PROP_QUEUE_SIZE:
		self->queue_size = g_value_get_uint (value);
		break;
	case PROP_RETRY_MAX_INTERVAL:
		self->retry_max_interval_ms = g_value_get_uint (value);
		break;
	case PROP_SHUTDOWN_TIMEOUT:
		self->shutdown_timeout_ms = g_value_get_uint (value);
		break;
	case PROP_NODE_TIMEOUT:
		self->node_timeout_ms = g_value_get_uint (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_gda_store_dispose (GObject *object)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (object);

	/* a store stopped by its node has no writer left; this is for one
	 * that was never stopped */
	if (self->writer != NULL)
		g_clear_pointer (&self->writer, tandem_gda_writer_stop);
	g_mutex_lock (&self->control_lock);
	g_clear_pointer (&self->lease_cas, tandem_gda_stmt_free);
	g_clear_pointer (&self->lease_get, tandem_gda_stmt_free);
	g_clear_pointer (&self->node_register, tandem_gda_stmt_free);
	g_clear_pointer (&self->node_get, tandem_gda_stmt_free);
	drop_control (self);
	g_mutex_unlock (&self->control_lock);
	G_OBJECT_CLASS (tandem_gda_store_parent_class)->dispose (object);
}

static void
wipe (char **secret)
{
	if (*secret != NULL)
		memset (*secret, 0, strlen (*secret));
	g_clear_pointer (secret, g_free);
}

static void
tandem_gda_store_finalize (GObject *object)
{
	TandemGdaStore *self = TANDEM_GDA_STORE (object);

	g_free (self->provider_name);
	g_free (self->database);
	g_free (self->host);
	g_free (self->user);
	wipe (&self->password);
	wipe (&self->secret);
	g_free (self->password_file);
	g_free (self->password_env);
	g_free (self->instance);
	g_ptr_array_unref (self->registered);
	g_mutex_clear (&self->control_lock);
	G_OBJECT_CLASS (tandem_gda_store_parent_class)->finalize (object);
}

static void
tandem_gda_store_class_init (TandemGdaStoreClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);
	TandemStoreClass *store_class = TANDEM_STORE_CLASS (klass);
	const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG;

	object_class->get_property = tandem_gda_store_get_property;
	object_class->set_property = tandem_gda_store_set_property;
	object_class->dispose = tandem_gda_store_dispose;
	object_class->finalize = tandem_gda_store_finalize;
	plugin_class->setup = tandem_gda_store_setup;
	plugin_class->start = tandem_gda_store_start;
	plugin_class->stop = tandem_gda_store_stop;
	store_class->flush = tandem_gda_store_flush;
	store_class->append_events = tandem_gda_store_append_events;
	store_class->append_outputs = tandem_gda_store_append_outputs;
	store_class->register_node = tandem_gda_store_register_node;
	store_class->acquire_lease = tandem_gda_store_acquire_lease;
	store_class->query = tandem_gda_store_query;
	store_class->read_events = tandem_gda_store_read_events;

	props[PROP_PROVIDER] =
		g_param_spec_string ("provider", NULL,
				     "The database: sqlite, mysql (also mariadb) or postgresql",
				     DEFAULT_PROVIDER, flags);
	props[PROP_DATABASE] = g_param_spec_string (
		"database", NULL,
		"SQLite: the database file (default tandem.db in the state directory); "
		"others: the database name (default tandem)",
		NULL, flags);
	props[PROP_HOST] =
		g_param_spec_string ("host", NULL,
				     "Server host name or address; a path is a Unix socket "
				     "(MySQL: the socket file; PostgreSQL: its directory)",
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
	props[PROP_BATCH_SIZE] = g_param_spec_uint ("batch-size", NULL, "Rows per transaction", 1,
						    100000, DEFAULT_BATCH_SIZE, flags);
	props[PROP_FLUSH_INTERVAL] =
		g_param_spec_uint ("flush-interval", NULL,
				   "Longest wait of a row before it is written, in ms", 1, 3600000,
				   DEFAULT_FLUSH_INTERVAL_MS, flags);
	props[PROP_QUEUE_SIZE] =
		g_param_spec_uint ("queue-size", NULL,
				   "Rows waiting to be written before appends block", 1, 100000000,
				   DEFAULT_QUEUE_SIZE, flags);
	props[PROP_RETRY_MAX_INTERVAL] =
		g_param_spec_uint ("retry-max-interval", NULL,
				   "Longest pause between reconnection attempts, in ms", 100,
				   3600000, DEFAULT_RETRY_MAX_INTERVAL_MS, flags);
	props[PROP_SHUTDOWN_TIMEOUT] = g_param_spec_uint (
		"shutdown-timeout", NULL,
		"How long stopping keeps trying to write what is queued while the database is away, in ms",
		0, 3600000, DEFAULT_SHUTDOWN_TIMEOUT_MS, flags);
	props[PROP_NODE_TIMEOUT] =
		g_param_spec_uint ("node-timeout", NULL,
				   "A registered node not seen for this long is gone, in ms", 1000,
				   3600000, DEFAULT_NODE_TIMEOUT_MS, flags);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_gda_store_class_finalize (TandemGdaStoreClass *klass)
{
}

static void
tandem_gda_store_init (TandemGdaStore *self)
{
	self->provider_name = g_strdup (DEFAULT_PROVIDER);
	self->provider = TANDEM_GDA_SQLITE;
	self->batch_size = DEFAULT_BATCH_SIZE;
	self->flush_interval_ms = DEFAULT_FLUSH_INTERVAL_MS;
	self->queue_size = DEFAULT_QUEUE_SIZE;
	self->retry_max_interval_ms = DEFAULT_RETRY_MAX_INTERVAL_MS;
	self->shutdown_timeout_ms = DEFAULT_SHUTDOWN_TIMEOUT_MS;
	self->node_timeout_ms = DEFAULT_NODE_TIMEOUT_MS;
	self->instance = g_uuid_string_random ();
	self->registered = g_ptr_array_new_with_free_func (g_free);
	g_mutex_init (&self->control_lock);
}

static GType
tandem_gda_store_register_types (GTypeModule *module)
{
	tandem_gda_store_register_type (module);
	return TANDEM_TYPE_GDA_STORE;
}

TANDEM_PLUGIN_DEFINE (
	"gda",
	TANDEM_PLUGIN_KIND_STORE,
	"0.1.0",
	"LGPL-2.1-or-later",
	"Keeps events and plan outputs in SQLite, MySQL/MariaDB or PostgreSQL (libgda)",
	tandem_gda_store_register_types)
