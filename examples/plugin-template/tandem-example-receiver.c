/* tandem-example-receiver.c: a minimal Tandem plugin built out of tree
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The receiver plugin "example".  It takes no events; it shows the whole
 * shape of a plugin: a type derived from the base class of its kind,
 * registered into the loader's GTypeModule with G_DEFINE_DYNAMIC_TYPE(), a
 * config key declared as a property, the lifecycle vfuncs, and the entry
 * point defined by TANDEM_PLUGIN_DEFINE().
 *
 * Config:
 *
 *   [receiver.hello]
 *   plugin = example
 *   greeting = hi
 */
#define G_LOG_DOMAIN "Tandem-example"

#include <tandem.h>

#define TANDEM_TYPE_EXAMPLE_RECEIVER (tandem_example_receiver_get_type ())
G_DECLARE_FINAL_TYPE (TandemExampleReceiver,
		      tandem_example_receiver,
		      TANDEM,
		      EXAMPLE_RECEIVER,
		      TandemReceiver)

struct _TandemExampleReceiver {
	TandemReceiver parent_instance;

	char *greeting;
};

G_DEFINE_DYNAMIC_TYPE (TandemExampleReceiver, tandem_example_receiver, TANDEM_TYPE_RECEIVER)

enum {
	PROP_0,
	PROP_GREETING,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

/* The core has already applied the config properties (here `greeting`) from
 * the section and checked their values.  Check here what depends on several
 * keys; do not open sockets or files yet: `tandemd --check-config` runs this
 * too. */
static gboolean
tandem_example_receiver_setup (TandemPlugin *plugin, TandemConfigSection *section, GError **error)
{
	TandemExampleReceiver *self = TANDEM_EXAMPLE_RECEIVER (plugin);

	if (self->greeting != NULL && *self->greeting != '\0')
		return TRUE;

	/* Errors about a key name its file and line. */
	if (section != NULL)
		tandem_config_section_set_error (section, "greeting", error,
						 "expected a non-empty greeting");
	else
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
				     "the greeting must not be empty");
	return FALSE;
}

/* Start serving: a real receiver binds its socket here. */
static gboolean
tandem_example_receiver_start (TandemPlugin *plugin, GError **error)
{
	TandemExampleReceiver *self = TANDEM_EXAMPLE_RECEIVER (plugin);

	g_message ("%s: %s", tandem_plugin_get_name (plugin), self->greeting);
	return TRUE;
}

/* Release what start took; must not block for long. */
static gboolean
tandem_example_receiver_stop (TandemPlugin *plugin, GError **error)
{
	g_debug ("%s: stopped", tandem_plugin_get_name (plugin));
	return TRUE;
}

static void
tandem_example_receiver_get_property (GObject *object,
				      guint prop_id,
				      GValue *value,
				      GParamSpec *pspec)
{
	TandemExampleReceiver *self = TANDEM_EXAMPLE_RECEIVER (object);

	switch (prop_id) {
	case PROP_GREETING:
		g_value_set_string (value, self->greeting);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_example_receiver_set_property (GObject *object,
				      guint prop_id,
				      const GValue *value,
				      GParamSpec *pspec)
{
	TandemExampleReceiver *self = TANDEM_EXAMPLE_RECEIVER (object);

	switch (prop_id) {
	case PROP_GREETING:
		g_free (self->greeting);
		self->greeting = g_value_dup_string (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_example_receiver_finalize (GObject *object)
{
	TandemExampleReceiver *self = TANDEM_EXAMPLE_RECEIVER (object);

	g_free (self->greeting);

	G_OBJECT_CLASS (tandem_example_receiver_parent_class)->finalize (object);
}

static void
tandem_example_receiver_class_init (TandemExampleReceiverClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);

	object_class->get_property = tandem_example_receiver_get_property;
	object_class->set_property = tandem_example_receiver_set_property;
	object_class->finalize = tandem_example_receiver_finalize;

	plugin_class->setup = tandem_example_receiver_setup;
	plugin_class->start = tandem_example_receiver_start;
	plugin_class->stop = tandem_example_receiver_stop;

	/* TANDEM_PARAM_CONFIG makes the property the config key `greeting`
	 * (a property `max-connections` would be the key `max_connections`). */
	props[PROP_GREETING] = g_param_spec_string ("greeting", NULL,
						    "What to say when the receiver starts", "hello",
						    TANDEM_PARAM_CONFIG | G_PARAM_READWRITE |
							    G_PARAM_STATIC_STRINGS);

	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_example_receiver_class_finalize (TandemExampleReceiverClass *klass)
{
}

static void
tandem_example_receiver_init (TandemExampleReceiver *self)
{
	self->greeting = g_strdup ("hello");
}

/* Called by the loader the first time an instance is needed: register every
 * type of the module and return the plugin type. */
static GType
tandem_example_receiver_register_types (GTypeModule *module)
{
	tandem_example_receiver_register_type (module);
	return TANDEM_TYPE_EXAMPLE_RECEIVER;
}

TANDEM_PLUGIN_DEFINE ("example",
		      TANDEM_PLUGIN_KIND_RECEIVER,
		      "0.1.0",
		      "LGPL-2.1-or-later",
		      "Example receiver: greets at start, receives nothing",
		      tandem_example_receiver_register_types)
