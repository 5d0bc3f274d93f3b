/* tandem-node.c: one Tandem node: identity, state directory, plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Node"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "tandem-config.h"
#include "tandem-enums.h"
#include "tandem-durable.h"
#include "tandem-error.h"
#include "tandem-log.h"
#include "tandem-node.h"
#include "tandem-pipeline.h"
#include "tandem-persistence.h"
#include "tandem-plugin.h"
#include "tandem-plugin-registry.h"
#include "tandem-receiver.h"
#include "tandem-store.h"
#include "tandem-ha.h"
#include "tandem-ha-replication.h"
#include "tandem-membership-private.h"

/**
 * TandemNode:
 *
 * One node of a Tandem cluster: its identity, its state directory and its
 * plugin instances.
 *
 * A node is driven in steps, so that `tandemd --check-config` can stop after
 * the first one:
 *
 * 1. tandem_node_configure() checks the `[node]` and `[cluster]` sections,
 *    creates one plugin instance per enabled `[KIND.NAME]` section and sets it
 *    up from that section; unknown sections and keys become warnings of the
 *    #TandemConfig;
 * 2. tandem_node_open_state() creates and locks the state directory, loads
 *    or generates the node id (the file `node-id`, kept across restarts) and
 *    the sequence (the file `sequence`: sequence numbers are never reused);
 * 3. tandem_node_start() starts the plugins: stores, then persisters, then
 *    membership, then receivers (so that nothing is received before it can be
 *    kept), each kind in config order;
 * 4. tandem_node_stop() stops them in the reverse order.
 */

/* what a client gets while the active hands over (503, Retry-After) */
#define SWITCHOVER_BUSY "switchover in progress: retry"
/* how long the active waits for the passive to hold every event */
#define SWITCHOVER_DRAIN_MS 5000
/* how long it waits, after that, for the outputs to be published and
 * committed, so that the new active does not publish them again */
#define SWITCHOVER_PUBLISH_MS 1000

struct _TandemNode {
	GObject parent_instance;

	TandemConfig *config;
	TandemPluginRegistry *registry;

	char *configured_id;
	char *config_state_dir;
	char *state_dir_override;
	char *state_dir;
	char *id;
	char *instance_id;
	char *cluster_name;
	TandemLogLevel log_level;

	GPtrArray *plugins; /* of TandemPlugin, in start order */
	TandemPipeline *pipeline;
	TandemPersistence *persistence; /* [persistence] and the persisters */

	/* HA: with a [membership.NAME] section */
	TandemHaConfig ha_config;
	gboolean witness;
	TandemMembership *membership; /* unowned: in plugins */
	TandemStore *arbiter_store;   /* unowned: in plugins */
	GBytes *cluster_key;
	TandemHa *ha;
	TandemReplication *replication;
	/* [cluster] ack = durable: acknowledgements wait for the event store */
	TandemDurable *durable;
	gboolean ingest_full;
	gboolean replication_full;
	gboolean receivers_paused;
	gint64 publish_until_us;      /* G_MAXINT64 without HA */
	/* switchover (tandem_node_switchover_async()) */
	GTask *switchover;
	gboolean draining; /* new batches are refused until it hands over */
	char *switchover_to;
	guint64 switchover_last;
	gint64 switchover_deadline;
	gint64 switchover_drained_at;
	guint switchover_source;
	gboolean configured;
	gboolean started;
	int lock_fd;
};

G_DEFINE_FINAL_TYPE (TandemNode, tandem_node, G_TYPE_OBJECT)

enum {
	PROP_0,
	PROP_CONFIG,
	PROP_REGISTRY,
	PROP_ID,
	PROP_STATE_DIR,
	PROP_CLUSTER_NAME,
	PROP_LOG_LEVEL,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

/* The keys of the [node] and [cluster] sections. */
enum { NODE_KEY_ID, NODE_KEY_STATE_DIR, NODE_KEY_LOG_LEVEL, N_NODE_KEYS };
enum { CLUSTER_KEY_NAME, N_CLUSTER_KEYS };
static GParamSpec *node_keys[N_NODE_KEYS];
static GParamSpec *cluster_keys[N_CLUSTER_KEYS];
static GParamSpec *plugin_key_plugin;
static GParamSpec *plugin_key_enabled;

static void
tandem_node_dispose (GObject *object)
{
	TandemNode *self = TANDEM_NODE (object);

	if (self->started)
		tandem_node_stop (self);
	g_ptr_array_set_size (self->plugins, 0);
	G_OBJECT_CLASS (tandem_node_parent_class)->dispose (object);
}

static void
tandem_node_finalize (GObject *object)
{
	TandemNode *self = TANDEM_NODE (object);

	if (self->lock_fd >= 0)
		g_close (self->lock_fd, NULL);
	g_clear_pointer (&self->ha, tandem_ha_free);
	g_clear_pointer (&self->persistence, tandem_persistence_free);
	g_clear_pointer (&self->pipeline, tandem_pipeline_free);
	tandem_ha_config_clear (&self->ha_config);
	g_clear_pointer (&self->cluster_key, g_bytes_unref);
	g_clear_object (&self->config);
	g_clear_object (&self->registry);
	g_ptr_array_unref (self->plugins);
	g_free (self->configured_id);
	g_free (self->config_state_dir);
	g_free (self->state_dir_override);
	g_free (self->state_dir);
	g_free (self->id);
	g_free (self->instance_id);
	g_free (self->cluster_name);
	G_OBJECT_CLASS (tandem_node_parent_class)->finalize (object);
}

static void
tandem_node_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemNode *self = TANDEM_NODE (object);

	switch (prop_id) {
	case PROP_CONFIG:
		g_value_set_object (value, self->config);
		break;
	case PROP_REGISTRY:
		g_value_set_object (value, self->registry);
		break;
	case PROP_ID:
		g_value_set_string (value, self->id);
		break;
	case PROP_STATE_DIR:
		g_value_set_string (value, tandem_node_get_state_dir (self));
		break;
	case PROP_CLUSTER_NAME:
		g_value_set_string (value, self->cluster_name);
		break;
	case PROP_LOG_LEVEL:
		g_value_set_enum (value, self->log_level);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_node_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	TandemNode *self = TANDEM_NODE (object);

	switch (prop_id) {
	case PROP_CONFIG:
		self->config = g_value_dup_object (value);
		break;
	case PROP_REGISTRY:
		self->registry = g_value_dup_object (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_node_constructed (GObject *object)
{
	TandemNode *self = TANDEM_NODE (object);

	G_OBJECT_CLASS (tandem_node_parent_class)->constructed (object);
	if (self->config == NULL)
		self->config = tandem_config_new ();
	if (self->registry == NULL) {
		self->registry = tandem_plugin_registry_new ();
		tandem_plugin_registry_scan (self->registry);
	}
}

static void
tandem_node_class_init (TandemNodeClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->constructed = tandem_node_constructed;
	object_class->dispose = tandem_node_dispose;
	object_class->finalize = tandem_node_finalize;
	object_class->get_property = tandem_node_get_property;
	object_class->set_property = tandem_node_set_property;

	/**
	 * TandemNode:config:
	 *
	 * The configuration of the node.
	 */
	props[PROP_CONFIG] = g_param_spec_object ("config", NULL, NULL, TANDEM_TYPE_CONFIG,
						  G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
						  G_PARAM_STATIC_STRINGS);
	/**
	 * TandemNode:registry:
	 *
	 * The plugin registry the node creates its plugins from.
	 */
	props[PROP_REGISTRY] = g_param_spec_object ("registry", NULL, NULL, TANDEM_TYPE_PLUGIN_REGISTRY,
						    G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
						    G_PARAM_STATIC_STRINGS);
	/**
	 * TandemNode:id:
	 *
	 * The node id, known after tandem_node_open_state().
	 */
	props[PROP_ID] = g_param_spec_string ("id", NULL, NULL, NULL,
					      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	/**
	 * TandemNode:state-dir:
	 *
	 * The state directory.
	 */
	props[PROP_STATE_DIR] = g_param_spec_string ("state-dir", NULL, NULL, NULL,
						     G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	/**
	 * TandemNode:cluster-name:
	 *
	 * The cluster name (`[cluster] name`).
	 */
	props[PROP_CLUSTER_NAME] = g_param_spec_string ("cluster-name", NULL, NULL, NULL,
							G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	/**
	 * TandemNode:log-level:
	 *
	 * The log level configured by `[node] log_level`.
	 */
	props[PROP_LOG_LEVEL] = g_param_spec_enum ("log-level", NULL, NULL, TANDEM_TYPE_LOG_LEVEL,
						   TANDEM_LOG_LEVEL_MESSAGE,
						   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties (object_class, N_PROPS, props);

	node_keys[NODE_KEY_ID] = g_param_spec_string ("id", NULL, NULL, NULL, G_PARAM_READWRITE);
	node_keys[NODE_KEY_STATE_DIR] = g_param_spec_string ("state_dir", NULL, NULL, NULL, G_PARAM_READWRITE);
	node_keys[NODE_KEY_LOG_LEVEL] = g_param_spec_enum ("log_level", NULL, NULL, TANDEM_TYPE_LOG_LEVEL,
							   TANDEM_LOG_LEVEL_MESSAGE, G_PARAM_READWRITE);
	cluster_keys[CLUSTER_KEY_NAME] = g_param_spec_string ("name", NULL, NULL, "tandem", G_PARAM_READWRITE);
	plugin_key_plugin = g_param_spec_string ("plugin", NULL, NULL, NULL, G_PARAM_READWRITE);
	plugin_key_enabled = g_param_spec_boolean ("enabled", NULL, NULL, TRUE, G_PARAM_READWRITE);
}

static gboolean node_may_persist (gpointer data);

static void
tandem_node_init (TandemNode *self)
{
	self->plugins = g_ptr_array_new_with_free_func (g_object_unref);
	self->pipeline = tandem_pipeline_new ();
	self->persistence = tandem_persistence_new (self, self->pipeline, node_may_persist, self);
	self->log_level = TANDEM_LOG_LEVEL_MESSAGE;
	self->cluster_name = g_strdup ("tandem");
	self->lock_fd = -1;
	self->publish_until_us = G_MAXINT64;
	tandem_ha_config_init (&self->ha_config);
}

/**
 * tandem_node_new:
 * @config: (nullable): the configuration, or %NULL for an empty one
 * @registry: (nullable): the plugin registry, already scanned, or %NULL to
 *   scan the default search path
 *
 * Returns: (transfer full): a new node; configure it with
 *   tandem_node_configure()
 */
TandemNode *
tandem_node_new (TandemConfig *config, TandemPluginRegistry *registry)
{
	g_return_val_if_fail (config == NULL || TANDEM_IS_CONFIG (config), NULL);
	g_return_val_if_fail (registry == NULL || TANDEM_IS_PLUGIN_REGISTRY (registry), NULL);

	return g_object_new (TANDEM_TYPE_NODE, "config", config, "registry", registry, NULL);
}

/**
 * tandem_node_get_config:
 * @self: a #TandemNode
 *
 * Returns: (transfer none): the configuration
 */
TandemConfig *
tandem_node_get_config (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);
	return self->config;
}

/**
 * tandem_node_get_registry:
 * @self: a #TandemNode
 *
 * Returns: (transfer none): the plugin registry
 */
TandemPluginRegistry *
tandem_node_get_registry (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);
	return self->registry;
}

/**
 * tandem_node_set_state_dir:
 * @self: a #TandemNode
 * @state_dir: (nullable): the state directory, overriding `[node] state_dir`
 *   (`tandemd --state-dir`), or %NULL to use the configured one
 *
 * Must be called before tandem_node_open_state().
 */
void
tandem_node_set_state_dir (TandemNode *self, const char *state_dir)
{
	g_return_if_fail (TANDEM_IS_NODE (self));
	g_return_if_fail (self->state_dir == NULL);

	g_free (self->state_dir_override);
	self->state_dir_override = g_strdup (state_dir);
	g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE_DIR]);
}

/**
 * tandem_node_get_state_dir:
 * @self: a #TandemNode
 *
 * Returns: the state directory: the one in use once opened, otherwise the one
 *   that tandem_node_open_state() will use
 */
const char *
tandem_node_get_state_dir (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);

	if (self->state_dir != NULL)
		return self->state_dir;
	if (self->state_dir_override != NULL)
		return self->state_dir_override;
	if (self->config_state_dir != NULL)
		return self->config_state_dir;
	return TANDEM_STATEDIR;
}

/**
 * tandem_node_get_id:
 * @self: a #TandemNode
 *
 * Returns: (nullable): the node id, or %NULL before tandem_node_open_state()
 */
const char *
tandem_node_get_id (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);
	return self->id;
}

/**
 * tandem_node_get_cluster_name:
 * @self: a #TandemNode
 *
 * Returns: the cluster name (`tandem` unless configured)
 */
const char *
tandem_node_get_cluster_name (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);
	return self->cluster_name;
}

/**
 * tandem_node_get_log_level:
 * @self: a #TandemNode
 *
 * Returns: the configured log level
 */
TandemLogLevel
tandem_node_get_log_level (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), TANDEM_LOG_LEVEL_MESSAGE);
	return self->log_level;
}

/**
 * tandem_node_get_plugins:
 * @self: a #TandemNode
 *
 * Returns: (transfer none) (element-type TandemPlugin): the plugin instances,
 *   in start order
 */
GPtrArray *
tandem_node_get_plugins (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);
	return self->plugins;
}

static gboolean
valid_node_id (const char *id)
{
	gsize len = strlen (id);

	if (g_uuid_string_is_valid (id))
		return TRUE;
	if (len == 0 || len > 64)
		return FALSE;
	for (const char *p = id; *p != '\0'; p++) {
		if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
			return FALSE;
	}
	return TRUE;
}

static gboolean
valid_instance_name (const char *name)
{
	if (name == NULL || *name == '\0' || strlen (name) > 64)
		return FALSE;
	for (const char *p = name; *p != '\0'; p++) {
		if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
			return FALSE;
	}
	return TRUE;
}

static void
append_error (GString *errors, const GError *error)
{
	g_string_append_printf (errors, "%s\n", error->message);
}

static void
configure_node_section (TandemNode *self, TandemConfigSection *section, GString *errors)
{
	GValue values[N_NODE_KEYS] = { G_VALUE_INIT };
	gboolean ok[N_NODE_KEYS];

	for (guint i = 0; i < N_NODE_KEYS; i++) {
		g_autoptr(GError) error = NULL;

		ok[i] = tandem_config_section_lookup (section, node_keys[i], &values[i], &error);
		if (!ok[i])
			append_error (errors, error);
	}
	if (ok[NODE_KEY_ID]) {
		const char *id = g_value_get_string (&values[NODE_KEY_ID]);

		if (id != NULL && !valid_node_id (id)) {
			g_autofree char *where = tandem_config_section_describe_key (section, "id");

			g_string_append_printf (errors,
						"%s: expected a UUID or a name of 1-64 letters, digits, '-', '_' or '.', got \"%s\"\n",
						where, id);
		} else {
			g_free (self->configured_id);
			self->configured_id = g_strdup (id);
		}
	}
	if (ok[NODE_KEY_STATE_DIR]) {
		const char *dir = g_value_get_string (&values[NODE_KEY_STATE_DIR]);

		if (dir != NULL && *dir == '\0') {
			g_autofree char *where = tandem_config_section_describe_key (section, "state_dir");

			g_string_append_printf (errors, "%s: expected a directory, got an empty value\n", where);
		} else {
			g_free (self->config_state_dir);
			self->config_state_dir = g_strdup (dir);
		}
	}
	if (ok[NODE_KEY_LOG_LEVEL])
		self->log_level = g_value_get_enum (&values[NODE_KEY_LOG_LEVEL]);
	for (guint i = 0; i < N_NODE_KEYS; i++) {
		if (G_IS_VALUE (&values[i]))
			g_value_unset (&values[i]);
	}
}

static void
configure_cluster_section (TandemNode *self, TandemConfigSection *section, GString *errors)
{
	g_auto(GValue) name = G_VALUE_INIT;
	g_autoptr(GError) error = NULL;
	const char *str;

	if (!tandem_config_section_lookup (section, cluster_keys[CLUSTER_KEY_NAME], &name, &error)) {
		append_error (errors, error);
		return;
	}
	str = g_value_get_string (&name);
	if (str == NULL || !valid_instance_name (str)) {
		g_autofree char *where = tandem_config_section_describe_key (section, "name");

		g_string_append_printf (errors,
					"%s: expected a name of 1-64 letters, digits, '-' or '_', got \"%s\"\n",
					where, str != NULL ? str : "");
		return;
	}
	g_free (self->cluster_name);
	self->cluster_name = g_strdup (str);
	tandem_ha_config_parse (&self->ha_config, section, errors);
}

/* HA is on when a membership plugin is configured: it then needs the
 * cluster key and an arbiter; a witness needs nothing else. */
static void
configure_ha (TandemNode *self, GString *errors)
{
	TandemConfigSection *cluster = tandem_config_get_section (self->config, "cluster");
	g_autofree char *cluster_where =
		cluster != NULL ? tandem_config_section_describe_key (cluster, NULL) : g_strdup ("[cluster]");
	TandemStore *first_store = NULL;
	guint memberships = 0;

	for (guint i = 0; i < self->plugins->len; i++) {
		TandemPlugin *plugin = g_ptr_array_index (self->plugins, i);

		if (TANDEM_IS_MEMBERSHIP (plugin)) {
			if (memberships++ == 0)
				self->membership = TANDEM_MEMBERSHIP (plugin);
		} else if (TANDEM_IS_STORE (plugin)) {
			if (first_store == NULL)
				first_store = TANDEM_STORE (plugin);
			if (g_strcmp0 (tandem_plugin_get_name (plugin), self->ha_config.arbiter_store) == 0)
				self->arbiter_store = TANDEM_STORE (plugin);
		} else if (self->witness) {
			g_string_append_printf (errors,
						"[%s.%s]: a witness (tandemd --witness) only votes: it takes no events "
						"and runs no receivers\n",
						tandem_plugin_kind_to_string (tandem_plugin_get_kind (plugin)),
						tandem_plugin_get_name (plugin));
		}
	}
	if (self->witness && tandem_config_get_section (self->config, "engine") != NULL)
		g_string_append (errors, "[engine]: a witness (tandemd --witness) runs no plans\n");
	if (self->ha_config.ack_durable && !self->witness) {
		gboolean keeps_events = FALSE;

		for (guint i = 0; i < self->plugins->len; i++) {
			TandemPlugin *plugin = g_ptr_array_index (self->plugins, i);

			if (TANDEM_IS_STORE (plugin) &&
			    (tandem_store_get_role (TANDEM_STORE (plugin)) & TANDEM_STORE_ROLE_EVENTS))
				keeps_events = TRUE;
		}
		if (!keeps_events)
			g_string_append_printf (errors,
						"%s: ack = durable waits until a store keeping events committed them, "
						"but no [store.NAME] section keeps events (role = events)\n",
						cluster_where);
	}
	if (memberships > 1)
		g_string_append (errors, "only one [membership.NAME] section may be enabled\n");
	if (self->membership == NULL) {
		if (self->witness)
			g_string_append (errors, "a witness (tandemd --witness) needs a [membership.NAME] section "
						 "to find the nodes of its cluster\n");
		return;
	}
	if (self->ha_config.key_file == NULL) {
		g_string_append_printf (errors,
					"%s: key 'key_file' is required with a [membership.NAME] section: every "
					"membership message is authenticated with the cluster key (make one with: "
					"head -c 32 /dev/urandom | base64 > cluster.key; chmod 600 cluster.key)\n",
					cluster_where);
	} else {
		g_autoptr(GError) error = NULL;

		self->cluster_key = tandem_ha_read_key_file (self->ha_config.key_file, &error);
		if (self->cluster_key == NULL)
			g_string_append_printf (errors, "%s: %s\n", self->ha_config.key_file_origin, error->message);
	}
	if (self->witness)
		return;
	switch (self->ha_config.arbiter) {
	case TANDEM_HA_ARBITER_STORE:
		if (self->ha_config.arbiter_store != NULL && self->arbiter_store == NULL)
			g_string_append_printf (errors, "%s: arbiter_store names no [store.%s] section\n",
						cluster_where, self->ha_config.arbiter_store);
		else if (self->arbiter_store == NULL)
			self->arbiter_store = first_store;
		if (self->arbiter_store == NULL)
			g_string_append_printf (errors,
						"%s: arbiter = store (the default) needs a [store.NAME] section shared by "
						"the nodes, whose lease row decides which node is active; or use arbiter = "
						"witness\n",
						self->ha_config.arbiter_origin != NULL ? self->ha_config.arbiter_origin
										     : cluster_where);
		break;
	case TANDEM_HA_ARBITER_WITNESS:
		break;
	case TANDEM_HA_ARBITER_NONE:
	default:
		if (!self->ha_config.allow_split_brain)
			g_string_append_printf (errors,
						"%s: arbiter = none lets both nodes become active after a network "
						"split; set allow_split_brain = true in [cluster] to run so anyway\n",
						self->ha_config.arbiter_origin);
		break;
	}
}

static void
configure_plugin_section (TandemNode *self,
			  TandemConfigSection *section,
			  TandemPluginKind kind,
			  GString *errors)
{
	g_auto(GValue) enabled = G_VALUE_INIT;
	g_auto(GValue) plugin_name = G_VALUE_INIT;
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemPlugin) plugin = NULL;
	const char *instance = tandem_config_section_get_instance (section);
	const char *kind_name = tandem_plugin_kind_to_string (kind);

	if (!valid_instance_name (instance)) {
		g_autofree char *where = tandem_config_section_describe_key (section, NULL);

		g_string_append_printf (errors,
					"%s: expected [%s.NAME] with NAME made of 1-64 letters, digits, '-' or '_'\n",
					where, kind_name);
		return;
	}
	if (!tandem_config_section_lookup (section, plugin_key_enabled, &enabled, &error)) {
		append_error (errors, error);
		return;
	}
	if (!tandem_config_section_lookup (section, plugin_key_plugin, &plugin_name, &error)) {
		append_error (errors, error);
		return;
	}
	if (!g_value_get_boolean (&enabled)) {
		/* a disabled section is not checked further: mark its keys read */
		g_auto(GStrv) keys = tandem_config_section_dup_keys (section);

		for (guint i = 0; keys[i] != NULL; i++)
			tandem_config_section_mark_used (section, keys[i]);
		g_info ("[%s] is disabled", tandem_config_section_get_name (section));
		return;
	}
	if (g_value_get_string (&plugin_name) == NULL || *g_value_get_string (&plugin_name) == '\0') {
		g_autofree char *where = tandem_config_section_describe_key (section, NULL);

		g_string_append_printf (errors,
					"%s: missing key 'plugin' (the name of the %s plugin to use; `tandemd --list-plugins` lists them)\n",
					where, kind_name);
		return;
	}

	plugin = tandem_plugin_registry_create (self->registry, g_value_get_string (&plugin_name), kind,
						instance, self, &error);
	if (plugin == NULL) {
		g_autofree char *where = tandem_config_section_describe_key (section, "plugin");

		g_string_append_printf (errors, "%s: %s\n", where, error->message);
		return;
	}
	if (!tandem_plugin_setup (plugin, section, &error)) {
		if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG)) {
			append_error (errors, error);
		} else {
			g_autofree char *where = tandem_config_section_describe_key (section, NULL);

			g_string_append_printf (errors, "%s: %s\n", where, error->message);
		}
		return;
	}
	g_ptr_array_add (self->plugins, g_steal_pointer (&plugin));
}

static guint
start_rank (TandemPlugin *plugin)
{
	switch (tandem_plugin_get_kind (plugin)) {
	case TANDEM_PLUGIN_KIND_STORE:
		return 0;
	case TANDEM_PLUGIN_KIND_PERSISTER:
		return 1;
	case TANDEM_PLUGIN_KIND_MEMBERSHIP:
		return 2;
	case TANDEM_PLUGIN_KIND_RECEIVER:
		return 3;
	default:
		return 4;
	}
}

static void
sort_plugins (GPtrArray *plugins)
{
	/* a stable insertion sort: config order within each kind */
	for (guint i = 1; i < plugins->len; i++) {
		gpointer item = plugins->pdata[i];
		guint j = i;

		while (j > 0 && start_rank (plugins->pdata[j - 1]) > start_rank (item)) {
			plugins->pdata[j] = plugins->pdata[j - 1];
			j--;
		}
		plugins->pdata[j] = item;
	}
}

/**
 * tandem_node_configure:
 * @self: a #TandemNode
 * @error: return location for a #GError
 *
 * Checks the whole configuration and creates and sets up the plugin
 * instances, without starting anything or touching the state directory.
 * Every problem is reported, one line each naming file and line, in one
 * %TANDEM_ERROR_INVALID_CONFIG error.  Unknown sections and keys are added to
 * the config's warnings (tandem_config_get_warnings()).
 *
 * Returns: %TRUE if the configuration is valid
 */
gboolean
tandem_node_configure (TandemNode *self, GError **error)
{
	g_autoptr(GString) errors = g_string_new (NULL);
	GPtrArray *sections;

	g_return_val_if_fail (TANDEM_IS_NODE (self), FALSE);
	g_return_val_if_fail (!self->configured, FALSE);

	sections = tandem_config_get_sections (self->config);
	/* the engine first: receivers check their streams against its plans */
	if (tandem_config_get_section (self->config, "engine") != NULL)
		tandem_pipeline_configure (self->pipeline, tandem_config_get_section (self->config, "engine"), errors);
	for (guint i = 0; i < sections->len; i++) {
		TandemConfigSection *section = g_ptr_array_index (sections, i);
		const char *name = tandem_config_section_get_name (section);
		const char *prefix = tandem_config_section_get_prefix (section);
		TandemPluginKind kind;

		if (g_strcmp0 (name, "node") == 0) {
			configure_node_section (self, section, errors);
		} else if (g_strcmp0 (name, "cluster") == 0) {
			configure_cluster_section (self, section, errors);
		} else if (g_strcmp0 (name, "engine") == 0) {
			/* configured above */
		} else if (g_strcmp0 (name, "persistence") == 0) {
			tandem_persistence_configure (self->persistence, section, errors);
		} else if (g_strcmp0 (name, "api") == 0) {
			/* tandemd's REST API: the daemon reads and checks it */
			continue;
		} else if (tandem_plugin_kind_from_string (prefix, &kind)) {
			configure_plugin_section (self, section, kind, errors);
		} else {
			g_autofree char *where = tandem_config_section_describe_key (section, NULL);
			g_autofree char *message =
				g_strdup_printf ("%s: unknown section, ignored (known: [node], [cluster], [engine], [persistence], [api], "
						 "[receiver.NAME], [store.NAME], [membership.NAME], [persister.NAME])",
						 where);

			tandem_config_add_warning (self->config, message);
			continue;
		}

		{
			g_auto(GStrv) unused = tandem_config_section_dup_unused_keys (section);

			for (guint k = 0; unused[k] != NULL; k++) {
				guint line = 0;
				const char *file = tandem_config_section_get_origin (section, unused[k], &line);
				g_autofree char *message =
					g_strdup_printf ("%s:%u: unknown key '%s' in [%s], ignored", file, line,
							 unused[k], name);

				tandem_config_add_warning (self->config, message);
			}
		}
	}

	configure_ha (self, errors);
	if (errors->len > 0) {
		self->membership = NULL;
		self->arbiter_store = NULL;
		g_ptr_array_set_size (self->plugins, 0);
		g_string_truncate (errors, errors->len - 1);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, errors->str);
		return FALSE;
	}
	sort_plugins (self->plugins);
	self->configured = TRUE;
	g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CLUSTER_NAME]);
	g_object_notify_by_pspec (G_OBJECT (self), props[PROP_LOG_LEVEL]);
	return TRUE;
}

static gboolean
lock_state_dir (TandemNode *self, GError **error)
{
	g_autofree char *path = g_build_filename (self->state_dir, "lock", NULL);
	g_autofree char *pid = NULL;
	int fd;

	fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int saved = errno;

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR,
			     "state directory %s is not writable: cannot create %s: %s",
			     self->state_dir, path, g_strerror (saved));
		return FALSE;
	}
	if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
		int saved = errno;
		char holder[32] = { 0 };
		gssize n = pread (fd, holder, sizeof holder - 1, 0);

		g_close (fd, NULL);
		if (saved == EWOULDBLOCK) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY,
				     "state directory %s is in use by another node (pid %s); "
				     "each node needs its own state directory",
				     self->state_dir, n > 0 ? g_strstrip (holder) : "unknown");
		} else {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR,
				     "cannot lock %s: %s", path, g_strerror (saved));
		}
		return FALSE;
	}
	pid = g_strdup_printf ("%ld\n", (long) getpid ());
	if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, strlen (pid), 0) != (gssize) strlen (pid)) {
		int saved = errno;

		g_close (fd, NULL);
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR,
			     "state directory %s is not writable: cannot write %s: %s",
			     self->state_dir, path, g_strerror (saved));
		return FALSE;
	}
	self->lock_fd = fd;
	return TRUE;
}

static gboolean
load_or_create_node_id (TandemNode *self, GError **error)
{
	g_autofree char *path = g_build_filename (self->state_dir, "node-id", NULL);
	g_autofree char *contents = NULL;
	g_autofree char *line = NULL;
	g_autoptr(GError) local_error = NULL;

	if (g_file_get_contents (path, &contents, NULL, &local_error)) {
		char *id = g_strstrip (contents);

		if (!valid_node_id (id)) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR,
				     "%s: invalid node id \"%.64s\" (expected a UUID or a name of 1-64 letters, "
				     "digits, '-', '_' or '.'); fix the file, or remove it to generate a new id",
				     path, id);
			return FALSE;
		}
		if (self->configured_id != NULL) {
			if (g_strcmp0 (self->configured_id, id) != 0)
				g_message ("Node id %s from the config overrides %s (%s)",
					   self->configured_id, path, id);
			self->id = g_strdup (self->configured_id);
		} else {
			self->id = g_strdup (id);
		}
		return TRUE;
	}
	if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR, "cannot read the node id: %s",
			     local_error->message);
		return FALSE;
	}
	if (self->configured_id != NULL) {
		self->id = g_strdup (self->configured_id);
		return TRUE;
	}

	/* First start: generate an id and keep it, durably, before using it. */
	self->id = g_uuid_string_random ();
	line = g_strdup_printf ("%s\n", self->id);
	g_clear_error (&local_error);
	if (!g_file_set_contents_full (path, line, -1,
				       G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
				       0644, &local_error)) {
		g_clear_pointer (&self->id, g_free);
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR,
			     "state directory %s is not writable: cannot save the node id: %s",
			     self->state_dir, local_error->message);
		return FALSE;
	}
	g_message ("Generated node id %s (saved in %s)", self->id, path);
	return TRUE;
}

/* A UUID made once per state directory: a node restarted on the same state
 * directory is the same instance (the lock proves the previous process is
 * gone), so a registry may let it in at once; another state directory
 * claiming the same node id is another instance. */
static gboolean
load_or_create_instance_id (TandemNode *self, GError **error)
{
	g_autofree char *path = g_build_filename (self->state_dir, "instance-id", NULL);
	g_autofree char *contents = NULL;
	g_autoptr(GError) local_error = NULL;

	if (g_file_get_contents (path, &contents, NULL, NULL) && g_uuid_string_is_valid (g_strstrip (contents))) {
		self->instance_id = g_steal_pointer (&contents);
		return TRUE;
	}
	self->instance_id = g_uuid_string_random ();
	contents = g_strdup_printf ("%s\n", self->instance_id);
	if (!g_file_set_contents_full (path, contents, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0640, &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR, "cannot write %s: %s", path,
			     local_error->message);
		return FALSE;
	}
	return TRUE;
}

/**
 * tandem_node_get_instance_id:
 * @self: a #TandemNode
 *
 * Returns: (nullable): a UUID kept in the state directory (the file
 *   `instance-id`), known after tandem_node_open_state(): a node restarted
 *   on the same state directory keeps it, another state directory has
 *   another one even with the same node id
 */
const char *
tandem_node_get_instance_id (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);
	return self->instance_id;
}

/**
 * tandem_node_open_state:
 * @self: a #TandemNode
 * @error: return location for a #GError
 *
 * Creates the state directory if needed, checks that it is writable, locks it
 * (a second node on the same directory is refused with %TANDEM_ERROR_BUSY),
 * and loads the node id from its `node-id` file, generating and saving one on
 * first start.  An id set in config (`[node] id`) wins over the file.
 *
 * Returns: %TRUE when the state directory is ready and the id known
 */
gboolean
tandem_node_open_state (TandemNode *self, GError **error)
{
	g_autofree char *dir = NULL;
	g_autofree char *probe = NULL;
	int fd;

	g_return_val_if_fail (TANDEM_IS_NODE (self), FALSE);
	g_return_val_if_fail (self->state_dir == NULL, FALSE);

	dir = g_canonicalize_filename (tandem_node_get_state_dir (self), NULL);
	if (g_mkdir_with_parents (dir, 0750) != 0) {
		int saved = errno;

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR,
			     "state directory %s cannot be created: %s", dir, g_strerror (saved));
		return FALSE;
	}
	probe = g_build_filename (dir, ".write-test-XXXXXX", NULL);
	fd = g_mkstemp_full (probe, O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0) {
		int saved = errno;

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_STATE_DIR,
			     "state directory %s is not writable: %s", dir, g_strerror (saved));
		return FALSE;
	}
	g_close (fd, NULL);
	g_unlink (probe);

	self->state_dir = g_steal_pointer (&dir);
	if (!lock_state_dir (self, error) || !load_or_create_node_id (self, error) ||
	    !load_or_create_instance_id (self, error) ||
	    !tandem_pipeline_open_sequence (self->pipeline, self->state_dir, error)) {
		if (self->lock_fd >= 0) {
			g_close (self->lock_fd, NULL);
			self->lock_fd = -1;
		}
		g_clear_pointer (&self->state_dir, g_free);
		return FALSE;
	}
	g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE_DIR]);
	g_object_notify_by_pspec (G_OBJECT (self), props[PROP_ID]);
	return TRUE;
}

static void update_paused (TandemNode *self);

/* The ingest queue filled up (or has room again): receivers stop (or
 * resume) taking events from their clients. */
static void
on_pressure (gboolean full, gpointer user_data)
{
	TandemNode *self = user_data;

	self->ingest_full = full;
	g_info ("Ingest queue %s: %s receivers", full ? "full" : "has room", full ? "pausing" : "resuming");
	update_paused (self);
}

/* HA: the passive lags too far behind */
static void
on_replication_pressure (gboolean full, gpointer user_data)
{
	TandemNode *self = user_data;

	self->replication_full = full;
	update_paused (self);
}

/* Receivers stop taking events while the ingest queue is full or the
 * passive lags too far behind, and resume when neither holds */
static void
update_paused (TandemNode *self)
{
	gboolean full = self->ingest_full || self->replication_full;

	if (full == self->receivers_paused)
		return;
	self->receivers_paused = full;
	for (guint i = 0; i < self->plugins->len; i++) {
		TandemPlugin *plugin = g_ptr_array_index (self->plugins, i);

		if (!TANDEM_IS_RECEIVER (plugin) || tandem_plugin_get_state (plugin) != TANDEM_PLUGIN_STATE_STARTED)
			continue;
		if (full)
			tandem_receiver_pause (TANDEM_RECEIVER (plugin));
		else
			tandem_receiver_resume (TANDEM_RECEIVER (plugin));
	}
}

/* Stops the first @count plugins (only those of @type, unless it is
 * G_TYPE_INVALID) in reverse order. */
static void
stop_plugins (TandemNode *self, guint count, GType type)
{
	for (guint i = count; i > 0; i--) {
		TandemPlugin *plugin = g_ptr_array_index (self->plugins, i - 1);
		g_autoptr(GError) error = NULL;

		if (tandem_plugin_get_state (plugin) != TANDEM_PLUGIN_STATE_STARTED)
			continue;
		if (type != G_TYPE_INVALID && !g_type_is_a (G_OBJECT_TYPE (plugin), type))
			continue;
		g_message ("Stopping [%s.%s] (plugin %s)",
			   tandem_plugin_kind_to_string (tandem_plugin_get_kind (plugin)),
			   tandem_plugin_get_name (plugin), tandem_plugin_get_plugin_name (plugin));
		if (!tandem_plugin_stop (plugin, &error))
			g_warning ("[%s.%s] did not stop cleanly: %s",
				   tandem_plugin_kind_to_string (tandem_plugin_get_kind (plugin)),
				   tandem_plugin_get_name (plugin), error->message);
	}
}

/* A store that keeps a node registry refuses a second live node with the
 * same id: the node registers as soon as the store runs, before any
 * receiver takes events.  Stores without a registry are fine. */
static gboolean
register_in_store (TandemNode *self, TandemPlugin *plugin, GError **error)
{
	g_autoptr(GError) local_error = NULL;

	if (!TANDEM_IS_STORE (plugin))
		return TRUE;
	if (tandem_store_register_node (TANDEM_STORE (plugin), self->id, g_get_host_name (), "", &local_error))
		return TRUE;
	if (g_error_matches (local_error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED))
		return TRUE;
	g_propagate_error (error, g_steal_pointer (&local_error));
	return FALSE;
}

static void set_not_active_error (TandemNode *self, GError **error);
typedef struct _SwitchoverResult SwitchoverResult;
static void switchover_done (TandemNode *self, SwitchoverResult *result, GError *error);

/* HA: the node may publish and acknowledge until @until_us */
static void
on_publish (gint64 until_us, gpointer user_data)
{
	TandemNode *self = user_data;

	__atomic_store_n (&self->publish_until_us, until_us, __ATOMIC_RELEASE);
	tandem_pipeline_set_publish_until (self->pipeline, until_us);
	if (until_us == 0 && self->durable != NULL && tandem_durable_get_n_waiting (self->durable) > 0) {
		/* the next active publishes what the passive holds: whether
		 * these events are kept is not for this node to say */
		g_autoptr(GError) error =
			g_error_new_literal (TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT,
					     "this node stopped being the active before the event store confirmed the "
					     "events; they may be kept: send them again with the same event ids");

		tandem_durable_fail_waiting (self->durable, error);
	}
}

static gboolean
may_publish (TandemNode *self)
{
	return g_get_monotonic_time () < __atomic_load_n (&self->publish_until_us, __ATOMIC_ACQUIRE);
}

/* HA: the replication follows the role */
static void
on_role (const char *state, guint64 epoch, const char *active_node, gpointer user_data)
{
	TandemNode *self = user_data;

	if (self->replication == NULL)
		return;
	if (g_strcmp0 (state, "active") == 0) {
		/* continue above what the old active may have given out, unless
		 * it said this node was in sync (see tandem-ha.c) */
		tandem_replication_become_active (self->replication, epoch,
						  tandem_ha_get_takeover_seq_floor (self->ha));
	}
	else if ((g_strcmp0 (state, "passive") == 0 || g_strcmp0 (state, "syncing") == 0) && active_node != NULL)
		tandem_replication_become_passive (self->replication, active_node);
	else if (g_strcmp0 (state, "passive") != 0)
		tandem_replication_become_idle (self->replication);
}

/* HA, on a passive: the active offers its lease (switchover).  Take it only
 * when this node follows the active and holds every event it sequenced. */
static gboolean
on_handover (const char *from_node, JsonObject *body, char **reason, gpointer user_data)
{
	TandemNode *self = user_data;
	guint64 last = (guint64) json_object_get_int_member_with_default (body, "last_seq", 0);
	guint64 published = (guint64) json_object_get_int_member_with_default (body, "published_seq", 0);

	if (self->replication == NULL || !tandem_replication_can_forward (self->replication)) {
		*reason = g_strdup_printf ("%s does not follow %s", self->id, from_node);
		return FALSE;
	}
	if (tandem_pipeline_get_last_seq (self->pipeline) < last) {
		*reason = g_strdup_printf ("%s holds the events up to seq %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT,
					   self->id, tandem_pipeline_get_last_seq (self->pipeline), last);
		return FALSE;
	}
	/* what the old active published is not published again */
	tandem_replication_note_published (self->replication, from_node, published);
	return TRUE;
}

/* HA: the active advertises the seqs it reserved in its heartbeats */
static void
on_seq_reserved (guint64 reserved, const char *in_sync_passive, gpointer user_data)
{
	TandemNode *self = user_data;

	if (self->ha != NULL)
		tandem_ha_set_replication_status (self->ha, reserved, in_sync_passive);
}

/* HA: the replication holds the active's state: a syncing node is passive */
static void
on_synced (gpointer user_data)
{
	TandemNode *self = user_data;

	if (self->ha != NULL)
		tandem_ha_sync_done (self->ha);
}

static void
ingest_for_replication (const char *stream,
			GPtrArray *events,
			const char *const *event_ids,
			const char *idempotency_key,
			GAsyncReadyCallback callback,
			gpointer callback_data,
			gpointer user_data)
{
	tandem_node_ingest_async (TANDEM_NODE (user_data), stream, events, event_ids, idempotency_key, NULL, callback,
				  callback_data);
}

static gboolean
ingest_for_replication_finish (GAsyncResult *result, guint64 *first_seq, guint *n_new, GError **error)
{
	return tandem_node_ingest_finish (TANDEM_NODE (g_task_get_source_object (G_TASK (result))), result, first_seq,
					  n_new, error);
}

/**
 * tandem_node_start:
 * @self: a configured #TandemNode with its state opened
 * @error: return location for a #GError
 *
 * Starts every plugin in start order.  If one fails, those already started
 * are stopped again in reverse order and the error names the failing section.
 *
 * Returns: %TRUE when every plugin runs
 */
gboolean
tandem_node_start (TandemNode *self, GError **error)
{
	g_autoptr(GPtrArray) stores = NULL;

	g_return_val_if_fail (TANDEM_IS_NODE (self), FALSE);
	g_return_val_if_fail (self->configured, FALSE);
	g_return_val_if_fail (self->id != NULL, FALSE);
	g_return_val_if_fail (!self->started, FALSE);

	stores = g_ptr_array_new ();
	for (guint i = 0; i < self->plugins->len; i++) {
		if (TANDEM_IS_STORE (g_ptr_array_index (self->plugins, i)))
			g_ptr_array_add (stores, g_ptr_array_index (self->plugins, i));
	}
	/* with HA nothing is published or acknowledged until the node is
	 * active */
	if (self->membership != NULL)
		on_publish (0, self);
	if (!tandem_pipeline_start (self->pipeline, stores, on_pressure, self, error))
		return FALSE;
	if (self->ha_config.ack_durable && !self->witness) {
		g_autoptr(GPtrArray) event_stores = g_ptr_array_new ();

		for (guint i = 0; i < stores->len; i++) {
			if (tandem_store_get_role (g_ptr_array_index (stores, i)) & TANDEM_STORE_ROLE_EVENTS)
				g_ptr_array_add (event_stores, g_ptr_array_index (stores, i));
		}
		self->durable = tandem_durable_new (self->pipeline, event_stores, self->ha_config.durable_timeout_ms);
	}
	for (guint i = 0; i < self->plugins->len; i++) {
		TandemPlugin *plugin = g_ptr_array_index (self->plugins, i);
		const char *kind = tandem_plugin_kind_to_string (tandem_plugin_get_kind (plugin));
		g_autoptr(GError) local_error = NULL;

		/* the plans' state from the persisters (and the event store),
		 * once they run and before membership and receivers do */
		if (start_rank (plugin) > 1 /* stores 0, persisters 1 */)
			tandem_persistence_restore (self->persistence);
		g_message ("Starting [%s.%s] (plugin %s)", kind, tandem_plugin_get_name (plugin),
			   tandem_plugin_get_plugin_name (plugin));
		if (TANDEM_IS_MEMBERSHIP (plugin)) {
			tandem_membership_set_cluster (TANDEM_MEMBERSHIP (plugin), self->cluster_name, self->cluster_key,
						       self->id, self->witness ? "witness" : "node");
			if (!tandem_membership_open_channel (TANDEM_MEMBERSHIP (plugin), &local_error)) {
				g_set_error (error, TANDEM_ERROR,
					     local_error->domain == TANDEM_ERROR ? local_error->code : TANDEM_ERROR_FAILED,
					     "cannot start [%s.%s]: %s", kind, tandem_plugin_get_name (plugin),
					     local_error->message);
				stop_plugins (self, i, TANDEM_TYPE_RECEIVER);
				g_clear_pointer (&self->durable, tandem_durable_free);
				tandem_pipeline_stop (self->pipeline);
				stop_plugins (self, i, G_TYPE_INVALID);
				return FALSE;
			}
		}
		if (!tandem_plugin_start (plugin, &local_error) || !register_in_store (self, plugin, &local_error)) {
			if (TANDEM_IS_MEMBERSHIP (plugin))
				tandem_membership_close_channel (TANDEM_MEMBERSHIP (plugin), "start failed");
			g_set_error (error, TANDEM_ERROR,
				     local_error->domain == TANDEM_ERROR ? local_error->code : TANDEM_ERROR_FAILED,
				     "cannot start [%s.%s]: %s", kind, tandem_plugin_get_name (plugin),
				     local_error->message);
			stop_plugins (self, i + 1, TANDEM_TYPE_RECEIVER);
			g_clear_pointer (&self->durable, tandem_durable_free);
			tandem_pipeline_stop (self->pipeline);
			stop_plugins (self, i + 1, G_TYPE_INVALID);
			return FALSE;
		}
	}
	tandem_persistence_restore (self->persistence);
	self->started = TRUE;
	tandem_persistence_start (self->persistence);
	if (self->membership != NULL) {
		self->ha = tandem_ha_new (&self->ha_config, self->cluster_name, self->id,
					  tandem_pipeline_get_incarnation (self->pipeline), self->membership,
					  self->arbiter_store, self->witness, self->state_dir, on_publish, self, NULL);
		if (!self->witness) {
			self->replication = tandem_replication_new (self->pipeline, stores,
								    tandem_membership_get_channel (self->membership),
								    self->ha_config.ack_local ? TANDEM_ACK_LOCAL
											       : TANDEM_ACK_REPLICATED);
			tandem_replication_set_ingest (self->replication, ingest_for_replication,
						       ingest_for_replication_finish, self);
			tandem_replication_set_synced_func (self->replication, on_synced, self);
			tandem_replication_set_pressure_func (self->replication, on_replication_pressure, self);
			tandem_replication_set_reserved_func (self->replication, on_seq_reserved, self);
			tandem_ha_set_role_func (self->ha, on_role, self);
			tandem_ha_set_handover_func (self->ha, on_handover, self);
		}
		tandem_ha_start (self->ha);
	}
	return TRUE;
}

/**
 * tandem_node_stop:
 * @self: a #TandemNode
 *
 * Stops every started plugin, in reverse start order.  Errors are logged;
 * every plugin gets its stop call.
 */
void
tandem_node_stop (TandemNode *self)
{
	g_return_if_fail (TANDEM_IS_NODE (self));

	if (!self->started)
		return;
	self->started = FALSE;
	if (self->switchover_source != 0)
		switchover_done (self, NULL,
				 g_error_new_literal (TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is stopping"));
	/* receivers first, so that nothing new arrives; then the engine
	 * processes everything they accepted and hands it to the stores;
	 * then the rest, in reverse start order */
	stop_plugins (self, self->plugins->len, TANDEM_TYPE_RECEIVER);
	/* nobody is left to answer */
	g_clear_pointer (&self->durable, tandem_durable_free);
	tandem_pipeline_stop (self->pipeline);
	/* the last snapshot, while this node still knows whether it is
	 * active and its persisters run */
	tandem_persistence_stop (self->persistence);
	/* then step down (the lease is released) and say goodbye, so that
	 * the other node takes over at once */
	if (self->ha != NULL) {
		tandem_ha_stop (self->ha, "the node is stopping");
		g_clear_pointer (&self->ha, tandem_ha_free);
	}
	g_clear_pointer (&self->replication, tandem_replication_free);
	if (self->membership != NULL)
		tandem_membership_close_channel (self->membership, "stopping");
	stop_plugins (self, self->plugins->len, G_TYPE_INVALID);
}

/**
 * tandem_node_lookup_stream:
 * @self: a #TandemNode
 * @name: a stream name, or a stream id `name:version`
 *
 * Returns: (transfer none) (nullable): the definition of a stream the node
 *   accepts events for (an input of a deployed plan, or a definition listed
 *   in `[engine] streams`)
 */
TandemStreamDefinition *
tandem_node_lookup_stream (TandemNode *self, const char *name)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);
	g_return_val_if_fail (name != NULL, NULL);
	return tandem_pipeline_lookup_stream (self->pipeline, name);
}

/**
 * tandem_node_get_plans:
 * @self: a #TandemNode
 *
 * Returns: (transfer none) (element-type TandemPlan): the deployed plans.
 *   They run on the engine thread: use their read-only accessors only.
 */
GPtrArray *
tandem_node_get_plans (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);
	return tandem_pipeline_get_plans (self->pipeline);
}

/**
 * tandem_node_is_accepting:
 * @self: a #TandemNode
 *
 * Returns: %TRUE if the node takes events now (it runs and its ingest queue
 *   has room); receivers answer 503 otherwise
 */
gboolean
tandem_node_is_accepting (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), FALSE);
	return tandem_node_check_accepting (self, NULL);
}

/**
 * tandem_node_check_accepting:
 * @self: a #TandemNode
 * @error: return location for a #GError
 *
 * Like tandem_node_is_accepting(), with the reason when the node does not
 * take events: it is not running, it is not the active node of its cluster
 * (the message names the active one), or its ingest queue is full.
 *
 * Returns: %TRUE if the node takes events now; else %FALSE with
 *   %TANDEM_ERROR_BUSY
 */
gboolean
tandem_node_check_accepting (TandemNode *self, GError **error)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), FALSE);

	if (!self->started) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is not running");
		return FALSE;
	}
	if (self->draining) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, SWITCHOVER_BUSY);
		return FALSE;
	}
	if (!may_publish (self) &&
	    !(self->replication != NULL && tandem_replication_can_forward (self->replication))) {
		set_not_active_error (self, error);
		return FALSE;
	}
	if (self->replication_full) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY,
				     "the passive node is too far behind: retry later");
		return FALSE;
	}
	if (!tandem_pipeline_is_accepting (self->pipeline)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY,
				     "the node's ingest queue is full: retry later");
		return FALSE;
	}
	return TRUE;
}

/**
 * tandem_node_get_events_processed:
 * @self: a #TandemNode
 *
 * Returns: how many accepted events the engine has run through the plans
 */
guint64
tandem_node_get_events_processed (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), 0);
	return tandem_pipeline_get_processed (self->pipeline);
}

/**
 * tandem_node_get_last_seq:
 * @self: a #TandemNode
 *
 * Returns: the sequence number given to the last accepted event (0 if none)
 */
guint64
tandem_node_get_last_seq (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), 0);
	return tandem_pipeline_get_last_seq (self->pipeline);
}

/**
 * tandem_node_wait_engine_idle:
 * @self: a #TandemNode
 *
 * Blocks until the engine thread has processed every accepted event.
 */
void
tandem_node_wait_engine_idle (TandemNode *self)
{
	g_return_if_fail (TANDEM_IS_NODE (self));
	tandem_pipeline_wait_idle (self->pipeline);
}

static void
set_not_active_error (TandemNode *self, GError **error)
{
	g_autofree char *active = self->ha != NULL ? tandem_ha_dup_active_description (self->ha) : NULL;
	const char *state = self->ha != NULL ? tandem_ha_get_state (self->ha) : "stopped";

	if (active != NULL && g_strcmp0 (state, "active") != 0)
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY,
			     "this node is %s, not active: send events to the active node %s", state, active);
	else
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_BUSY,
			     "this node is %s, not active: no node is active now; retry shortly", state);
}

/**
 * tandem_node_ingest:
 * @self: a #TandemNode
 * @stream: a stream name or id (see tandem_node_lookup_stream())
 * @events: (element-type TandemEvent): the events, built for @stream's
 *   definition; the node sets their cluster identity
 * @event_ids: (array zero-terminated=1) (nullable): one id per event (empty
 *   for none), for per-event idempotency, or %NULL
 * @idempotency_key: (nullable): a key for the whole request, or %NULL
 * @first_seq: (out) (optional): the sequence number of the first event
 * @n_new: (out) (optional): how many events were new
 * @error: return location for a #GError
 *
 * The synchronous form of tandem_node_ingest_async(), for receivers on the
 * main thread when the node acknowledges at acceptance (it saves the main
 * loop round trip of the async form on every request).
 *
 * Returns: %TRUE if the events are accepted; %FALSE with
 *   %TANDEM_ERROR_BUSY when the node does not take events now, or
 *   %TANDEM_ERROR_INVALID_EVENT for an unknown stream or a bad event
 */
gboolean
tandem_node_ingest (TandemNode *self,
		    const char *stream,
		    GPtrArray *events,
		    const char *const *event_ids,
		    const char *idempotency_key,
		    guint64 *first_seq,
		    guint *n_new,
		    GError **error)
{
	guint64 ack_seq;

	g_return_val_if_fail (TANDEM_IS_NODE (self), FALSE);
	g_return_val_if_fail (stream != NULL, FALSE);
	g_return_val_if_fail (events != NULL, FALSE);

	if (self->started && may_publish (self) && !tandem_node_acks_at_acceptance (self)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
				     "this node acknowledges once the passive (or the event store) holds the events: use "
				     "tandem_node_ingest_async()");
		return FALSE;
	}
	return tandem_node_accept (self, stream, events, event_ids, idempotency_key, first_seq, n_new, &ack_seq,
				   error);
}

typedef struct {
	guint64 first_seq;
	guint n_new;
} IngestResult;

/* the active answered a forwarded batch */
static void
forwarded_cb (GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GTask) task = data;
	g_autoptr(GError) error = NULL;
	TandemReplicationForwarded *fw = g_task_propagate_pointer (G_TASK (res), &error);
	IngestResult *result;

	(void) source;
	if (fw == NULL) {
		g_task_return_error (task, g_steal_pointer (&error));
		return;
	}
	result = g_new0 (IngestResult, 1);
	result->first_seq = fw->first_seq;
	result->n_new = fw->n_new;
	g_free (fw);
	g_task_return_pointer (task, result, g_free);
}

/**
 * tandem_node_acks_at_acceptance:
 * @self: a #TandemNode
 *
 * Whether tandem_node_ingest() may be used: a node acknowledges at
 * acceptance unless it is the active node of a cluster whose passive must
 * hold events before they are acknowledged (`[cluster] ack = replicated`,
 * the default), a node whose event store must have committed them (`ack =
 * durable`), or a passive node that forwards events to the active.
 * Receivers use tandem_node_ingest_async() otherwise.
 *
 * Returns: %TRUE if an acknowledgement may follow acceptance at once
 */
gboolean
tandem_node_acks_at_acceptance (TandemNode *self)
{
	g_return_val_if_fail (TANDEM_IS_NODE (self), TRUE);
	if (self->durable != NULL)
		return FALSE;
	return self->replication == NULL || !tandem_replication_must_wait (self->replication);
}

/**
 * tandem_node_accept:
 * @self: a #TandemNode
 * @stream: a stream name or id (see tandem_node_lookup_stream())
 * @events: (element-type TandemEvent): the events, built for @stream's
 *   definition; the node sets their cluster identity
 * @event_ids: (array zero-terminated=1) (nullable): one id per event (empty
 *   for none), or %NULL
 * @idempotency_key: (nullable): a key for the whole request, or %NULL
 * @first_seq: (out) (optional): the sequence number of the first event
 * @n_new: (out) (optional): how many events were new
 * @ack_seq: (out): what to give tandem_node_wait_acknowledged_async()
 * @error: return location for a #GError
 *
 * The first half of tandem_node_ingest_async(), for receivers that keep
 * several batches of one client in flight: hands the batch to the node's
 * sequenced ingest at once, all or nothing, and tells which seq its
 * acknowledgement waits for.  The receiver may accept the client's next
 * batch right away (it is sequenced after this one), and answers this one
 * when tandem_node_wait_acknowledged_async() says so; the waits complete in
 * the order of the batches.
 *
 * A passive node that forwards batches to the active cannot sequence them:
 * it refuses with %TANDEM_ERROR_NOT_SUPPORTED, and the receiver uses
 * tandem_node_ingest_async() (one batch at a time) instead.
 *
 * Returns: %TRUE if the events are accepted; %FALSE with
 *   %TANDEM_ERROR_BUSY when the node does not take events now,
 *   %TANDEM_ERROR_INVALID_EVENT for an unknown stream or a bad event, or
 *   %TANDEM_ERROR_NOT_SUPPORTED on a node that forwards
 */
gboolean
tandem_node_accept (TandemNode *self,
		    const char *stream,
		    GPtrArray *events,
		    const char *const *event_ids,
		    const char *idempotency_key,
		    guint64 *first_seq,
		    guint *n_new,
		    guint64 *ack_seq,
		    GError **error)
{
	guint64 first = 0;
	guint n = 0;

	g_return_val_if_fail (TANDEM_IS_NODE (self), FALSE);
	g_return_val_if_fail (stream != NULL, FALSE);
	g_return_val_if_fail (events != NULL, FALSE);
	g_return_val_if_fail (ack_seq != NULL, FALSE);

	if (self->started && self->replication != NULL && !may_publish (self) &&
	    tandem_replication_can_forward (self->replication)) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
				     "this node forwards batches to the active: use tandem_node_ingest_async()");
		return FALSE;
	}
	if (self->started && self->draining) {
		/* a switchover drains: also what the passive forwards */
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, SWITCHOVER_BUSY);
		return FALSE;
	}
	if (!self->started) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is not running");
		return FALSE;
	}
	if (!may_publish (self)) {
		set_not_active_error (self, error);
		return FALSE;
	}
	if (self->replication_full) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY,
				     "the passive node is too far behind: retry later");
		return FALSE;
	}
	if (!tandem_pipeline_ingest (self->pipeline, stream, events, event_ids, idempotency_key, &first, &n, error))
		return FALSE;
	if (first_seq != NULL)
		*first_seq = first;
	if (n_new != NULL)
		*n_new = n;
	/* the events of the batch, new ones and repeats acknowledged again,
	 * have seqs up to the last one given out */
	*ack_seq = tandem_pipeline_get_last_seq (self->pipeline);
	return TRUE;
}

static void
acknowledged_cb (GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GTask) task = data;
	GError *error = NULL;

	(void) source;
	if (!g_task_propagate_boolean (G_TASK (res), &error))
		g_task_return_error (task, error);
	else
		g_task_return_boolean (task, TRUE);
}

/**
 * tandem_node_wait_acknowledged_async:
 * @self: a #TandemNode
 * @ack_seq: what tandem_node_accept() returned
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the batch may be acknowledged, or not
 * @user_data: data for @callback
 *
 * Waits until the batch tandem_node_accept() took may be acknowledged to
 * its client: at once with `[cluster] ack = local` or without HA, once the
 * in-sync passive holds it with `ack = replicated`, once the event stores
 * committed it with `ack = durable`.
 */
void
tandem_node_wait_acknowledged_async (TandemNode *self,
				     guint64 ack_seq,
				     GCancellable *cancellable,
				     GAsyncReadyCallback callback,
				     gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	GTask *inner;

	g_return_if_fail (TANDEM_IS_NODE (self));

	task = g_task_new (self, cancellable, callback, user_data);
	g_task_set_source_tag (task, tandem_node_wait_acknowledged_async);
	if (self->durable != NULL) {
		/* published (so held by an in-sync passive) and committed by
		 * the event stores */
		inner = g_task_new (self, NULL, acknowledged_cb, g_object_ref (task));
		tandem_durable_wait (self->durable, ack_seq, inner);
		g_object_unref (inner);
		return;
	}
	if (self->replication != NULL && tandem_replication_must_wait (self->replication)) {
		inner = g_task_new (self, NULL, acknowledged_cb, g_object_ref (task));
		tandem_replication_wait (self->replication, ack_seq, inner);
		g_object_unref (inner);
		return;
	}
	g_task_return_boolean (task, TRUE);
}

/**
 * tandem_node_wait_acknowledged_finish:
 * @self: a #TandemNode
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the batch may be acknowledged; %FALSE with
 *   %TANDEM_ERROR_TIMED_OUT when the node stopped being the active before
 *   it could say (the events may be kept: the client sends them again with
 *   the same ids), %TANDEM_ERROR_FAILED when the event store could not keep
 *   them, %TANDEM_ERROR_BUSY when the node stopped
 */
gboolean
tandem_node_wait_acknowledged_finish (TandemNode *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
	return g_task_propagate_boolean (G_TASK (result), error);
}

/* ingest_async: the acknowledgement came (or not) */
static void
ingest_acknowledged_cb (GObject *source, GAsyncResult *res, gpointer data)
{
	g_autoptr(GTask) task = data;
	g_autoptr(GError) error = NULL;
	IngestResult *result;

	if (!tandem_node_wait_acknowledged_finish (TANDEM_NODE (source), res, &error)) {
		g_task_return_error (task, g_steal_pointer (&error));
		return;
	}
	result = g_task_get_task_data (task);
	g_task_return_pointer (task, g_memdup2 (result, sizeof *result), g_free);
}

/**
 * tandem_node_ingest_async:
 * @self: a #TandemNode
 * @stream: a stream name or id (see tandem_node_lookup_stream())
 * @events: (element-type TandemEvent): the events, built for @stream's
 *   definition; the node sets their cluster identity
 * @event_ids: (array zero-terminated=1) (nullable): one id per event (empty
 *   for none), for per-event idempotency, or %NULL
 * @idempotency_key: (nullable): a key for the whole request, or %NULL
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the events are accepted, or refused
 * @user_data: data for @callback
 *
 * Hands a batch to the node's sequenced ingest, all or nothing.  The
 * callback runs once the events are accepted: only then may a receiver
 * acknowledge them to its client.  A key or event id seen within the
 * idempotency window (`[engine] idempotency_window`) is acknowledged again
 * with its first sequence, and not ingested twice.  (A passive node
 * forwards the batch to the active and answers when the active does.)
 */
void
tandem_node_ingest_async (TandemNode *self,
			  const char *stream,
			  GPtrArray *events,
			  const char *const *event_ids,
			  const char *idempotency_key,
			  GCancellable *cancellable,
			  GAsyncReadyCallback callback,
			  gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	g_autoptr(GError) error = NULL;
	IngestResult *result;
	guint64 ack_seq = 0;

	g_return_if_fail (TANDEM_IS_NODE (self));
	g_return_if_fail (stream != NULL);
	g_return_if_fail (events != NULL);

	task = g_task_new (self, cancellable, callback, user_data);
	g_task_set_source_tag (task, tandem_node_ingest_async);
	if (self->started && self->replication != NULL && !may_publish (self) &&
	    tandem_replication_can_forward (self->replication)) {
		/* a passive hands the batch to the active, which answers once
		 * it is sequenced and held by both nodes */
		GTask *inner = g_task_new (self, NULL, forwarded_cb, g_object_ref (task));

		tandem_replication_forward (self->replication, stream, events, event_ids, idempotency_key, inner);
		g_object_unref (inner);
		return;
	}
	result = g_new0 (IngestResult, 1);
	if (!tandem_node_accept (self, stream, events, event_ids, idempotency_key, &result->first_seq,
				 &result->n_new, &ack_seq, &error)) {
		g_free (result);
		g_task_return_error (task, g_steal_pointer (&error));
		return;
	}
	g_task_set_task_data (task, result, g_free);
	tandem_node_wait_acknowledged_async (self, ack_seq, NULL, ingest_acknowledged_cb, g_object_ref (task));
}

/**
 * tandem_node_ingest_finish:
 * @self: a #TandemNode
 * @result: the #GAsyncResult given to the callback
 * @first_seq: (out) (optional): the sequence number of the first event
 * @n_new: (out) (optional): how many events were new (the rest were
 *   repeats, acknowledged again)
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the events are accepted; %FALSE with
 *   %TANDEM_ERROR_BUSY when the node does not take events now (answer 503),
 *   or %TANDEM_ERROR_INVALID_EVENT for an unknown stream or a bad event
 */
gboolean
tandem_node_ingest_finish (TandemNode *self, GAsyncResult *result, guint64 *first_seq, guint *n_new, GError **error)
{
	g_autofree IngestResult *r = NULL;

	g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

	r = g_task_propagate_pointer (G_TASK (result), error);
	if (r == NULL)
		return FALSE;
	if (first_seq != NULL)
		*first_seq = r->first_seq;
	if (n_new != NULL)
		*n_new = r->n_new;
	return TRUE;
}

/**
 * tandem_node_dup_status:
 * @self: a #TandemNode
 *
 * The node's view of itself and of its cluster, as served by
 * `GET /api/v1/status` and printed by `tandemctl status`: an object with
 * `node_id`, `cluster`, `state` (`standalone` when the node runs no
 * membership, else the HA state), `role`, `epoch`, `accepting`, `last_seq`,
 * `events_processed`, `ack` (`local`, `replicated` or `durable`: when a
 * client's events count as accepted), `durable_seq` (with `ack = durable`,
 * the seq up to which the event stores committed every event, else null),
 * `switchover` (null, or while one is under way an object: `to`, the node
 * it hands over to, `draining`, whether new events are refused, and
 * `up_to_seq`, the last seq the passive must hold), `members` (an array)
 * and `lease` (an object, or null).
 * With HA, also `holder` (this node's lease holder string), `arbiter` and
 * `publishing`; each member has `node_id`, `address`, `role`, `state`,
 * `epoch` and `last_heartbeat_ms_ago`; the lease has `holder`,
 * `holder_incarnation`, `epoch` and `expires_in_ms`.  `persistence` (an
 * object) tells the snapshots: `enabled`, `tenant`, `interval_s`,
 * `persisting` (whether this node persists now), `in_progress`,
 * `last_success_ms` and `last_success_seq` (null before the first),
 * `last_attempt_ms`, `last_error` (null after a success), `last_error_ms`,
 * `last_duration_ms`, `last_bytes`, `runs`, `failures`, `persisters` (one
 * object each: `name`, `last_success_ms`, `last_success_seq`,
 * `last_error`) and `restore` (what the start restored: `plans_restored`,
 * `snapshot_seq`, `replayed_events`, `replayed_seqs`, `replayed_from`,
 * `unrecovered`); docs/persistence.md has the details.
 *
 * Returns: (transfer full): a JSON object node
 */
JsonNode *
tandem_node_dup_status (TandemNode *self)
{
	g_autoptr(JsonBuilder) builder = json_builder_new ();

	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);

	json_builder_begin_object (builder);
	json_builder_set_member_name (builder, "node_id");
	json_builder_add_string_value (builder, self->id);
	json_builder_set_member_name (builder, "cluster");
	json_builder_add_string_value (builder, self->cluster_name);
	if (self->ha != NULL) {
		tandem_ha_add_status (self->ha, builder);
		if (self->replication != NULL)
			tandem_replication_add_status (self->replication, builder);
	} else {
		json_builder_set_member_name (builder, "state");
		json_builder_add_string_value (builder, self->started ? "standalone" : "stopped");
		json_builder_set_member_name (builder, "role");
		json_builder_add_string_value (builder, self->started ? "active" : "none");
		json_builder_set_member_name (builder, "epoch");
		json_builder_add_int_value (builder, 0);
		json_builder_set_member_name (builder, "members");
		json_builder_begin_array (builder);
		json_builder_end_array (builder);
		json_builder_set_member_name (builder, "lease");
		json_builder_add_null_value (builder);
	}
	json_builder_set_member_name (builder, "accepting");
	json_builder_add_boolean_value (builder, tandem_node_is_accepting (self));
	json_builder_set_member_name (builder, "last_seq");
	json_builder_add_int_value (builder, (gint64) tandem_pipeline_get_last_seq (self->pipeline));
	json_builder_set_member_name (builder, "events_processed");
	json_builder_add_int_value (builder, (gint64) tandem_pipeline_get_processed (self->pipeline));
	json_builder_set_member_name (builder, "ack");
	json_builder_add_string_value (builder, self->ha_config.ack_durable ? "durable"
						: self->ha_config.ack_local || self->membership == NULL ? "local"
						: "replicated");
	json_builder_set_member_name (builder, "durable_seq");
	if (self->durable != NULL)
		json_builder_add_int_value (builder, (gint64) tandem_durable_get_seq (self->durable));
	else
		json_builder_add_null_value (builder);
	json_builder_set_member_name (builder, "switchover");
	if (self->switchover_source != 0) {
		json_builder_begin_object (builder);
		json_builder_set_member_name (builder, "to");
		if (self->switchover_to != NULL)
			json_builder_add_string_value (builder, self->switchover_to);
		else
			json_builder_add_null_value (builder);
		json_builder_set_member_name (builder, "draining");
		json_builder_add_boolean_value (builder, self->draining);
		json_builder_set_member_name (builder, "up_to_seq");
		json_builder_add_int_value (builder, (gint64) self->switchover_last);
		json_builder_end_object (builder);
	} else {
		json_builder_add_null_value (builder);
	}
	tandem_persistence_add_status (self->persistence, builder);
	json_builder_end_object (builder);
	return json_builder_get_root (builder);
}

/**
 * tandem_node_set_witness:
 * @self: a #TandemNode, not configured yet
 * @witness: %TRUE for a witness
 *
 * Makes the node a witness (`tandemd --witness`): a member of the cluster
 * that takes no events and runs no plans, and only holds the lease table
 * for `[cluster] arbiter = witness`.
 */
void
tandem_node_set_witness (TandemNode *self, gboolean witness)
{
	g_return_if_fail (TANDEM_IS_NODE (self));
	g_return_if_fail (!self->configured);
	self->witness = witness;
}

/**
 * tandem_node_dup_state_digest:
 * @self: a running #TandemNode
 * @error: return location for a #GError
 *
 * Takes the state of every plan at one seq (on the engine thread, between
 * two batches) and returns `{"seq": S, "plans": {"NAME": "SHA-256 of its
 * snapshot", ...}}`: the two nodes of a cluster that processed the same
 * events show the same digests.
 *
 * Returns: (transfer full) (nullable): a JSON object node, or %NULL
 */
JsonNode *
tandem_node_dup_state_digest (TandemNode *self, GError **error)
{
	g_autoptr(JsonBuilder) builder = json_builder_new ();
	g_autoptr(GPtrArray) states = NULL;
	guint64 seq = 0;

	g_return_val_if_fail (TANDEM_IS_NODE (self), NULL);

	if (!self->started) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is not running");
		return NULL;
	}
	states = tandem_pipeline_snapshot (self->pipeline, &seq, error);
	if (states == NULL)
		return NULL;
	json_builder_begin_object (builder);
	json_builder_set_member_name (builder, "seq");
	json_builder_add_int_value (builder, (gint64) seq);
	json_builder_set_member_name (builder, "plans");
	json_builder_begin_object (builder);
	for (guint i = 0; i < states->len; i++) {
		TandemPipelineState *st = g_ptr_array_index (states, i);
		g_autofree char *digest = g_compute_checksum_for_bytes (G_CHECKSUM_SHA256, st->state);

		json_builder_set_member_name (builder, st->plan);
		json_builder_add_string_value (builder, digest);
	}
	json_builder_end_object (builder);
	json_builder_end_object (builder);
	return json_builder_get_root (builder);
}

/* --- persistence ------------------------------------------------------------ */

/* only a node that may publish persists (unless [persistence] passive) */
static gboolean
node_may_persist (gpointer data)
{
	return may_publish (TANDEM_NODE (data));
}

/**
 * tandem_node_persist_async:
 * @self: a running #TandemNode
 * @cancellable: (nullable): a #GCancellable
 * @callback: called once every persister holds the snapshots, or failed
 * @user_data: data for @callback
 *
 * Takes a snapshot of every plan at one point of the sequence (on the
 * engine thread, between two batches) and saves it with every persister
 * (`[persister.NAME]`), as the periodic snapshots do, without waiting for
 * the interval: `POST /api/v1/persist` and `tandemctl persist` call it.
 * Only a node that may persist does (the active one, or a standalone node,
 * or any node with `[persistence] passive = true`); a run already in
 * progress is followed by a new one.
 */
void
tandem_node_persist_async (TandemNode *self,
			   GCancellable *cancellable,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_return_if_fail (TANDEM_IS_NODE (self));

	if (!self->started) {
		g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

		g_task_set_source_tag (task, tandem_persistence_persist_async);
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is not running");
		return;
	}
	tandem_persistence_persist_async (self->persistence, self, cancellable, callback, user_data);
}

/**
 * tandem_node_persist_finish:
 * @self: a #TandemNode
 * @result: the #GAsyncResult given to the callback
 * @seq: (out) (optional): the last input sequence the snapshots include
 * @error: return location for a #GError
 *
 * Returns: %TRUE if every persister saved every plan; %FALSE with
 *   %TANDEM_ERROR_NOT_SUPPORTED when no persister is configured,
 *   %TANDEM_ERROR_BUSY when the node is not running or may not persist,
 *   or %TANDEM_ERROR_FAILED naming each persister that failed (the others
 *   saved their snapshots)
 */
gboolean
tandem_node_persist_finish (TandemNode *self, GAsyncResult *result, guint64 *seq, GError **error)
{
	g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
	return tandem_persistence_persist_finish (result, seq, error);
}

/* --- switchover --------------------------------------------------------------- */

struct _SwitchoverResult {
	char *active;
	guint64 epoch;
};

static void
switchover_result_free (SwitchoverResult *result)
{
	g_free (result->active);
	g_free (result);
}

/* Ends the switchover under way: with @result (taken) or @error (taken) */
static void
switchover_done (TandemNode *self, SwitchoverResult *result, GError *error)
{
	g_autoptr(GTask) task = g_steal_pointer (&self->switchover);

	self->draining = FALSE;
	if (self->switchover_source != 0) {
		g_source_remove (self->switchover_source);
		self->switchover_source = 0;
	}
	g_clear_pointer (&self->switchover_to, g_free);
	if (task == NULL) {
		if (result != NULL)
			switchover_result_free (result);
		g_clear_error (&error);
		return;
	}
	if (error != NULL) {
		g_message ("Switchover: failed: %s", error->message);
		g_task_return_error (task, error);
	} else {
		g_task_return_pointer (task, result, (GDestroyNotify) switchover_result_free);
	}
}

static void
on_handed_over (GObject *source, GAsyncResult *res, gpointer data)
{
	TandemNode *self = data;
	GError *error = NULL;
	SwitchoverResult *result;
	guint64 epoch = 0;

	(void) source;
	if (!tandem_ha_hand_over_finish (self->ha, res, &epoch, &error)) {
		switchover_done (self, NULL, error);
		return;
	}
	result = g_new0 (SwitchoverResult, 1);
	result->active = g_strdup (self->switchover_to);
	result->epoch = epoch;
	g_message ("Switchover: handed over to %s (epoch %" G_GUINT64_FORMAT ")", result->active, epoch);
	switchover_done (self, result, NULL);
}

/* While draining: hands over once the passive holds every event (and,
 * for at most SWITCHOVER_PUBLISH_MS more, once the outputs of all of them
 * are published and committed) */
static gboolean
on_switchover_tick (gpointer data)
{
	TandemNode *self = data;
	gint64 now = g_get_monotonic_time ();
	const char *passive = NULL;
	guint64 last = tandem_pipeline_get_last_seq (self->pipeline);
	guint64 acked = 0;
	guint64 published = 0;
	g_autoptr(JsonObject) extra = NULL;

	if (self->ha == NULL || g_strcmp0 (tandem_ha_get_state (self->ha), "active") != 0) {
		self->switchover_source = 0;
		switchover_done (self, NULL,
				 g_error_new (TANDEM_ERROR, TANDEM_ERROR_BUSY,
					      "this node stopped being active while it drained (%s): "
					      "switchover aborted",
					      self->ha != NULL ? tandem_ha_get_state (self->ha) : "stopped"));
		return G_SOURCE_REMOVE;
	}
	passive = tandem_replication_get_in_sync_passive (self->replication);
	if (g_strcmp0 (passive, self->switchover_to) != 0 ||
	    !tandem_replication_get_drain_state (self->replication, &acked, &published)) {
		self->switchover_source = 0;
		switchover_done (self, NULL,
				 g_error_new (TANDEM_ERROR, TANDEM_ERROR_BUSY,
					      "the passive %s is no longer in sync: switchover aborted, this "
					      "node stays active",
					      self->switchover_to));
		return G_SOURCE_REMOVE;
	}
	if (acked < last) {
		if (now < self->switchover_deadline)
			return G_SOURCE_CONTINUE;
		self->switchover_source = 0;
		switchover_done (self, NULL,
				 g_error_new (TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT,
					      "the passive %s did not acknowledge every event within %d ms (it "
					      "holds up to seq %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
					      "): switchover aborted, this node stays active",
					      self->switchover_to, SWITCHOVER_DRAIN_MS, acked, last));
		return G_SOURCE_REMOVE;
	}
	if (self->switchover_drained_at == 0)
		self->switchover_drained_at = now;
	if (published < last && now - self->switchover_drained_at < SWITCHOVER_PUBLISH_MS * 1000)
		return G_SOURCE_CONTINUE;
	self->switchover_source = 0;
	if (published >= last)
		g_message ("Switchover: %s holds every event up to seq %" G_GUINT64_FORMAT
			   " and their outputs are published; handing the lease over",
			   self->switchover_to, last);
	else
		g_message ("Switchover: %s holds every event up to seq %" G_GUINT64_FORMAT
			   "; outputs are published up to seq %" G_GUINT64_FORMAT
			   " (it publishes the rest); handing the lease over",
			   self->switchover_to, last, published);
	extra = json_object_new ();
	json_object_set_int_member (extra, "last_seq", (gint64) last);
	json_object_set_int_member (extra, "published_seq", (gint64) MIN (published, last));
	tandem_ha_hand_over_async (self->ha, self->switchover_to, extra, on_handed_over, self);
	return G_SOURCE_REMOVE;
}

/**
 * tandem_node_switchover_async:
 * @self: a running #TandemNode, the active node of its cluster
 * @cancellable: (nullable): a #GCancellable (the switchover goes on; only
 *   the callback is told)
 * @callback: called when the other node is active, or when the switchover
 *   failed
 * @user_data: data for @callback
 *
 * Hands the active role to the in-sync passive node, with nothing lost or
 * published twice (`tandemctl switchover`, `POST /api/v1/switchover`):
 *
 * 1. the node drains: it refuses new batches, its own receivers' and those
 *    the passive forwards, with %TANDEM_ERROR_BUSY ("switchover in
 *    progress: retry": receivers answer 503 with Retry-After), until the
 *    passive holds every event sequenced so far (at most 5 s, then the
 *    switchover is aborted and the node goes on as the active), and waits
 *    up to 1 s more for the outputs of those events to be published and
 *    committed;
 * 2. it stops publishing and offers its lease to the passive, which takes
 *    it over at once and continues the sequence;
 * 3. it follows the new active as its passive.
 *
 * The callback runs once the other node says it is active (or this node
 * follows it), or when the switchover failed.
 */
void
tandem_node_switchover_async (TandemNode *self,
			      GCancellable *cancellable,
			      GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	const char *passive;

	g_return_if_fail (TANDEM_IS_NODE (self));

	task = g_task_new (self, cancellable, callback, user_data);
	g_task_set_source_tag (task, tandem_node_switchover_async);
	if (!self->started) {
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is not running");
		return;
	}
	if (self->ha == NULL || self->replication == NULL) {
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
					 self->witness ? "a witness is never active: there is nothing to hand over"
						       : "this node runs without a cluster (no [membership.NAME] "
							 "section): there is nothing to hand over");
		return;
	}
	if (self->switchover != NULL || tandem_ha_is_handing_over (self->ha)) {
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
					 "a switchover is already under way");
		return;
	}
	if (g_strcmp0 (tandem_ha_get_state (self->ha), "active") != 0 || !may_publish (self)) {
		g_autofree char *active = tandem_ha_dup_active_description (self->ha);

		if (active != NULL)
			g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
						 "this node is %s, not active: run the switchover on the active "
						 "node %s",
						 tandem_ha_get_state (self->ha), active);
		else
			g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
						 "this node is %s, not active, and no node is active now",
						 tandem_ha_get_state (self->ha));
		return;
	}
	passive = tandem_replication_get_in_sync_passive (self->replication);
	if (passive == NULL) {
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
					 "no passive node is in sync with this one (it is down, or still "
					 "catching up): there is nobody to hand over to");
		return;
	}
	self->switchover = g_steal_pointer (&task);
	self->draining = TRUE;
	self->switchover_to = g_strdup (passive);
	self->switchover_last = tandem_pipeline_get_last_seq (self->pipeline);
	self->switchover_deadline = g_get_monotonic_time () + SWITCHOVER_DRAIN_MS * 1000;
	self->switchover_drained_at = 0;
	g_message ("Switchover: draining: new events are refused until %s holds every event up to seq "
		   "%" G_GUINT64_FORMAT " (at most %d ms)",
		   passive, self->switchover_last, SWITCHOVER_DRAIN_MS);
	self->switchover_source = g_timeout_add (10, on_switchover_tick, self);
}

/**
 * tandem_node_switchover_finish:
 * @self: a #TandemNode
 * @result: the #GAsyncResult given to the callback
 * @active_node: (out) (optional) (transfer full): the node id of the new
 *   active node
 * @epoch: (out) (optional): its epoch
 * @error: return location for a #GError
 *
 * Returns: %TRUE if the other node is active now; %FALSE with
 *   %TANDEM_ERROR_NOT_SUPPORTED when the node cannot hand over (it runs no
 *   cluster, it is not active, no passive is in sync, a switchover is under
 *   way), %TANDEM_ERROR_TIMED_OUT when the passive did not acknowledge every
 *   event in time, or %TANDEM_ERROR_BUSY when the switchover was aborted
 *   (the node is stopping, it lost its role or its passive, or the other
 *   node did not take the lease: this node is active again)
 */
gboolean
tandem_node_switchover_finish (TandemNode *self,
			       GAsyncResult *result,
			       char **active_node,
			       guint64 *epoch,
			       GError **error)
{
	SwitchoverResult *r;

	g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

	r = g_task_propagate_pointer (G_TASK (result), error);
	if (r == NULL)
		return FALSE;
	if (active_node != NULL)
		*active_node = g_steal_pointer (&r->active);
	if (epoch != NULL)
		*epoch = r->epoch;
	switchover_result_free (r);
	return TRUE;
}
