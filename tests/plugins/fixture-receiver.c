/* fixture-receiver.c: the receiver plugin "fixture" used by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A receiver that receives nothing.  Its config keys exercise every kind of
 * property the core converts (string, boolean, bounded int and double, secret);
 * `trace_file` records its lifecycle (see fixture-trace.h), `fail_start` makes
 * tandem_plugin_start() fail, and `mode` must be `normal` or `strict`.
 */
#include <tandem.h>

#include "fixture-trace.h"

#define FIXTURE_TYPE_RECEIVER (fixture_receiver_get_type ())
G_DECLARE_FINAL_TYPE (FixtureReceiver, fixture_receiver, FIXTURE, RECEIVER, TandemReceiver)

struct _FixtureReceiver {
	TandemReceiver parent_instance;

	char *trace_file;
	gboolean fail_start;
	int port;
	char *mode;
	char *token;
	double ratio;
};

G_DEFINE_DYNAMIC_TYPE (FixtureReceiver, fixture_receiver, TANDEM_TYPE_RECEIVER)

enum {
	PROP_0,
	PROP_TRACE_FILE,
	PROP_FAIL_START,
	PROP_PORT,
	PROP_MODE,
	PROP_TOKEN,
	PROP_RATIO,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

#define FIXTURE_CONFIG_FLAGS (TANDEM_PARAM_CONFIG | G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)

static gboolean
fixture_receiver_setup (TandemPlugin *plugin, TandemConfigSection *section, GError **error)
{
	FixtureReceiver *self = FIXTURE_RECEIVER (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (fixture_receiver_parent_class);

	if (parent->setup != NULL && !parent->setup (plugin, section, error))
		return FALSE;

	if (g_strcmp0 (self->mode, "normal") != 0 && g_strcmp0 (self->mode, "strict") != 0) {
		tandem_config_section_set_error (section, "mode", error,
						 "expected normal or strict, got \"%s\"",
						 self->mode != NULL ? self->mode : "");
		return FALSE;
	}

	return fixture_trace (self->trace_file, "setup", tandem_plugin_get_name (plugin), error);
}

static gboolean
fixture_receiver_start (TandemPlugin *plugin, GError **error)
{
	FixtureReceiver *self = FIXTURE_RECEIVER (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (fixture_receiver_parent_class);

	if (self->fail_start) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "fixture: asked to fail");
		return FALSE;
	}

	if (parent->start != NULL && !parent->start (plugin, error))
		return FALSE;

	return fixture_trace (self->trace_file, "start", tandem_plugin_get_name (plugin), error);
}

static gboolean
fixture_receiver_stop (TandemPlugin *plugin, GError **error)
{
	FixtureReceiver *self = FIXTURE_RECEIVER (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (fixture_receiver_parent_class);

	if (!fixture_trace (self->trace_file, "stop", tandem_plugin_get_name (plugin), error))
		return FALSE;

	return parent->stop == NULL || parent->stop (plugin, error);
}

static void
fixture_receiver_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	FixtureReceiver *self = FIXTURE_RECEIVER (object);

	switch (prop_id) {
	case PROP_TRACE_FILE:
		g_value_set_string (value, self->trace_file);
		break;
	case PROP_FAIL_START:
		g_value_set_boolean (value, self->fail_start);
		break;
	case PROP_PORT:
		g_value_set_int (value, self->port);
		break;
	case PROP_MODE:
		g_value_set_string (value, self->mode);
		break;
	case PROP_TOKEN:
		g_value_set_string (value, self->token);
		break;
	case PROP_RATIO:
		g_value_set_double (value, self->ratio);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
fixture_receiver_set_property (GObject *object,
			       guint prop_id,
			       const GValue *value,
			       GParamSpec *pspec)
{
	FixtureReceiver *self = FIXTURE_RECEIVER (object);

	switch (prop_id) {
	case PROP_TRACE_FILE:
		g_free (self->trace_file);
		self->trace_file = g_value_dup_string (value);
		break;
	case PROP_FAIL_START:
		self->fail_start = g_value_get_boolean (value);
		break;
	case PROP_PORT:
		self->port = g_value_get_int (value);
		break;
	case PROP_MODE:
		g_free (self->mode);
		self->mode = g_value_dup_string (value);
		break;
	case PROP_TOKEN:
		g_free (self->token);
		self->token = g_value_dup_string (value);
		break;
	case PROP_RATIO:
		self->ratio = g_value_get_double (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
fixture_receiver_finalize (GObject *object)
{
	FixtureReceiver *self = FIXTURE_RECEIVER (object);

	g_free (self->trace_file);
	g_free (self->mode);
	g_free (self->token);

	G_OBJECT_CLASS (fixture_receiver_parent_class)->finalize (object);
}

static void
fixture_receiver_class_init (FixtureReceiverClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);

	object_class->get_property = fixture_receiver_get_property;
	object_class->set_property = fixture_receiver_set_property;
	object_class->finalize = fixture_receiver_finalize;

	plugin_class->setup = fixture_receiver_setup;
	plugin_class->start = fixture_receiver_start;
	plugin_class->stop = fixture_receiver_stop;

	props[PROP_TRACE_FILE] =
		g_param_spec_string ("trace-file", NULL,
				     "File to which each lifecycle step appends one line", NULL,
				     FIXTURE_CONFIG_FLAGS);
	props[PROP_FAIL_START] = g_param_spec_boolean ("fail-start", NULL, "Whether start fails",
						       FALSE, FIXTURE_CONFIG_FLAGS);
	props[PROP_PORT] = g_param_spec_int ("port", NULL, "A port number (not bound)", 1, 65535,
					     8080, FIXTURE_CONFIG_FLAGS);
	props[PROP_MODE] = g_param_spec_string ("mode", NULL, "normal or strict", "normal",
						FIXTURE_CONFIG_FLAGS);
	props[PROP_TOKEN] = g_param_spec_string ("token", NULL, "A secret", NULL,
						 FIXTURE_CONFIG_FLAGS | TANDEM_PARAM_SECRET);
	props[PROP_RATIO] =
		g_param_spec_double ("ratio", NULL, "A ratio", 0.0, 1.0, 0.5, FIXTURE_CONFIG_FLAGS);

	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
fixture_receiver_class_finalize (FixtureReceiverClass *klass)
{
}

static void
fixture_receiver_init (FixtureReceiver *self)
{
	self->port = 8080;
	self->mode = g_strdup ("normal");
	self->ratio = 0.5;
}

static GType
fixture_receiver_register_types (GTypeModule *module)
{
	/* the loader hands each plugin its own type module */
	g_assert_true (G_IS_TYPE_MODULE (module));

	fixture_receiver_register_type (module);
	return FIXTURE_TYPE_RECEIVER;
}

TANDEM_PLUGIN_DEFINE ("fixture",
		      TANDEM_PLUGIN_KIND_RECEIVER,
		      "1.2.3",
		      "LGPL-2.1-or-later",
		      "Test fixture: a receiver that receives nothing and traces its lifecycle",
		      fixture_receiver_register_types)
