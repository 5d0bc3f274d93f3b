/* tandem-plugin.c: the base class of every plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Plugin"

#include "config.h"

#include "tandem-config.h"
#include "tandem-enums.h"
#include "tandem-error.h"
#include "tandem-node.h"
#include "tandem-plugin.h"

/**
 * TandemPlugin:
 *
 * The base class of every plugin instance.  A plugin module registers a type
 * derived from the base class of its kind (#TandemReceiver, #TandemStore,
 * #TandemMembership or #TandemPersister); the node creates one instance per
 * enabled config section and drives it through setup, start and stop.
 *
 * The public wrappers (tandem_plugin_setup(), tandem_plugin_start(),
 * tandem_plugin_stop()) enforce that order: a plugin is set up once, started
 * at most once, and stopped only if it started.
 */

typedef struct {
	char *name;
	char *plugin_name;
	TandemNode *node; /* weak: the node owns its plugins */
	TandemPluginState state;
} TandemPluginPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (TandemPlugin, tandem_plugin, G_TYPE_OBJECT)

enum {
	PROP_0,
	PROP_NAME,
	PROP_PLUGIN_NAME,
	PROP_NODE,
	PROP_STATE,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void
tandem_plugin_finalize (GObject *object)
{
	TandemPlugin *self = TANDEM_PLUGIN (object);
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	g_clear_weak_pointer (&priv->node);
	g_free (priv->name);
	g_free (priv->plugin_name);
	G_OBJECT_CLASS (tandem_plugin_parent_class)->finalize (object);
}

static void
tandem_plugin_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemPlugin *self = TANDEM_PLUGIN (object);
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	switch (prop_id) {
	case PROP_NAME:
		g_value_set_string (value, priv->name);
		break;
	case PROP_PLUGIN_NAME:
		g_value_set_string (value, priv->plugin_name);
		break;
	case PROP_NODE:
		g_value_set_object (value, priv->node);
		break;
	case PROP_STATE:
		g_value_set_enum (value, priv->state);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_plugin_set_property (GObject *object,
			    guint prop_id,
			    const GValue *value,
			    GParamSpec *pspec)
{
	TandemPlugin *self = TANDEM_PLUGIN (object);
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	switch (prop_id) {
	case PROP_NAME:
		priv->name = g_value_dup_string (value);
		break;
	case PROP_PLUGIN_NAME:
		priv->plugin_name = g_value_dup_string (value);
		break;
	case PROP_NODE:
		g_set_weak_pointer (&priv->node, g_value_get_object (value));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_plugin_class_init (TandemPluginClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->finalize = tandem_plugin_finalize;
	object_class->get_property = tandem_plugin_get_property;
	object_class->set_property = tandem_plugin_set_property;

	/**
	 * TandemPlugin:name:
	 *
	 * The instance name: the part after the dot of the config section
	 * (`http-main` for `[receiver.http-main]`).
	 */
	props[PROP_NAME] = g_param_spec_string ("name", NULL, NULL, NULL,
						G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
						G_PARAM_STATIC_STRINGS);
	/**
	 * TandemPlugin:plugin-name:
	 *
	 * The name of the plugin module that made the instance (`http`).
	 */
	props[PROP_PLUGIN_NAME] = g_param_spec_string ("plugin-name", NULL, NULL, NULL,
						       G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
						       G_PARAM_STATIC_STRINGS);
	/**
	 * TandemPlugin:node:
	 *
	 * The node the plugin serves, or %NULL for a plugin created alone
	 * (for example by a test or `--check-config`).
	 */
	props[PROP_NODE] = g_param_spec_object ("node", NULL, NULL, TANDEM_TYPE_NODE,
						G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
						G_PARAM_STATIC_STRINGS);
	/**
	 * TandemPlugin:state:
	 *
	 * Where the instance is in its lifecycle.
	 */
	props[PROP_STATE] = g_param_spec_enum ("state", NULL, NULL, TANDEM_TYPE_PLUGIN_STATE,
					       TANDEM_PLUGIN_STATE_NEW,
					       G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
					       G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_plugin_init (TandemPlugin *self)
{
}

static void
set_state (TandemPlugin *self, TandemPluginState state)
{
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	if (priv->state == state)
		return;
	priv->state = state;
	g_object_notify_by_pspec (G_OBJECT (self), props[PROP_STATE]);
}

/**
 * tandem_plugin_get_name:
 * @self: a #TandemPlugin
 *
 * Returns: (nullable): the instance name
 */
const char *
tandem_plugin_get_name (TandemPlugin *self)
{
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_PLUGIN (self), NULL);
	return priv->name;
}

/**
 * tandem_plugin_get_plugin_name:
 * @self: a #TandemPlugin
 *
 * Returns: (nullable): the name of the plugin module that made @self
 */
const char *
tandem_plugin_get_plugin_name (TandemPlugin *self)
{
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_PLUGIN (self), NULL);
	return priv->plugin_name;
}

/**
 * tandem_plugin_get_kind:
 * @self: a #TandemPlugin
 *
 * Returns: the kind of @self, from the base class it derives from
 */
TandemPluginKind
tandem_plugin_get_kind (TandemPlugin *self)
{
	g_return_val_if_fail (TANDEM_IS_PLUGIN (self), TANDEM_PLUGIN_KIND_RECEIVER);

	for (guint k = TANDEM_PLUGIN_KIND_RECEIVER; k <= TANDEM_PLUGIN_KIND_PERSISTER; k++) {
		if (g_type_is_a (G_OBJECT_TYPE (self), tandem_plugin_kind_get_base_type (k)))
			return (TandemPluginKind) k;
	}
	g_return_val_if_reached (TANDEM_PLUGIN_KIND_RECEIVER);
}

/**
 * tandem_plugin_get_node:
 * @self: a #TandemPlugin
 *
 * Returns: (transfer none) (nullable): the node @self serves
 */
TandemNode *
tandem_plugin_get_node (TandemPlugin *self)
{
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_PLUGIN (self), NULL);
	return priv->node;
}

/**
 * tandem_plugin_get_state:
 * @self: a #TandemPlugin
 *
 * Returns: where @self is in its lifecycle
 */
TandemPluginState
tandem_plugin_get_state (TandemPlugin *self)
{
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_PLUGIN (self), TANDEM_PLUGIN_STATE_FAILED);
	return priv->state;
}

static gboolean
check_state (TandemPlugin *self, TandemPluginState expected, const char *step, GError **error)
{
	static const char *const state_names[] = {
		[TANDEM_PLUGIN_STATE_NEW] = "new",
		[TANDEM_PLUGIN_STATE_CONFIGURED] = "configured",
		[TANDEM_PLUGIN_STATE_STARTED] = "started",
		[TANDEM_PLUGIN_STATE_STOPPED] = "stopped",
		[TANDEM_PLUGIN_STATE_FAILED] = "failed",
	};
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);

	if (priv->state == expected)
		return TRUE;
	g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
		     "cannot %s plugin instance '%s': it is %s",
		     step, priv->name ? priv->name : "(unnamed)",
		     state_names[priv->state]);
	return FALSE;
}

/**
 * tandem_plugin_setup:
 * @self: a #TandemPlugin
 * @section: (nullable): the instance's config section, or %NULL for defaults
 * @error: return location for a #GError
 *
 * Applies every config property from @section (see %TANDEM_PARAM_CONFIG),
 * then calls the class's `setup` vfunc.  Errors name the file and line.
 *
 * Returns: %TRUE when @self is configured
 */
gboolean
tandem_plugin_setup (TandemPlugin *self, TandemConfigSection *section, GError **error)
{
	TandemPluginClass *klass = TANDEM_PLUGIN_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_PLUGIN (self), FALSE);
	g_return_val_if_fail (section == NULL || TANDEM_IS_CONFIG_SECTION (section), FALSE);

	if (!check_state (self, TANDEM_PLUGIN_STATE_NEW, "set up", error))
		return FALSE;
	if (section != NULL && !tandem_config_section_apply (section, G_OBJECT (self), error)) {
		set_state (self, TANDEM_PLUGIN_STATE_FAILED);
		return FALSE;
	}
	if (klass->setup != NULL && !klass->setup (self, section, error)) {
		set_state (self, TANDEM_PLUGIN_STATE_FAILED);
		return FALSE;
	}
	set_state (self, TANDEM_PLUGIN_STATE_CONFIGURED);
	return TRUE;
}

/**
 * tandem_plugin_start:
 * @self: a configured #TandemPlugin
 * @error: return location for a #GError
 *
 * Calls the class's `start` vfunc.
 *
 * Returns: %TRUE when @self is running
 */
gboolean
tandem_plugin_start (TandemPlugin *self, GError **error)
{
	TandemPluginClass *klass = TANDEM_PLUGIN_GET_CLASS (self);

	g_return_val_if_fail (TANDEM_IS_PLUGIN (self), FALSE);

	if (!check_state (self, TANDEM_PLUGIN_STATE_CONFIGURED, "start", error))
		return FALSE;
	if (klass->start != NULL && !klass->start (self, error)) {
		set_state (self, TANDEM_PLUGIN_STATE_FAILED);
		return FALSE;
	}
	set_state (self, TANDEM_PLUGIN_STATE_STARTED);
	return TRUE;
}

/**
 * tandem_plugin_stop:
 * @self: a #TandemPlugin
 * @error: return location for a #GError
 *
 * Calls the class's `stop` vfunc if @self was started.  Stopping a plugin
 * that never started, or twice, does nothing and succeeds.
 *
 * Returns: %TRUE unless the plugin reported an error while stopping (it is
 *   stopped all the same)
 */
gboolean
tandem_plugin_stop (TandemPlugin *self, GError **error)
{
	TandemPluginClass *klass = TANDEM_PLUGIN_GET_CLASS (self);
	TandemPluginPrivate *priv = tandem_plugin_get_instance_private (self);
	gboolean ok = TRUE;

	g_return_val_if_fail (TANDEM_IS_PLUGIN (self), FALSE);

	if (priv->state != TANDEM_PLUGIN_STATE_STARTED)
		return TRUE;
	if (klass->stop != NULL)
		ok = klass->stop (self, error);
	set_state (self, TANDEM_PLUGIN_STATE_STOPPED);
	return ok;
}
