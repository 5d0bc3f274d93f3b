/* fixture-store.c: the store plugin "fixture-store" used by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A store that stores nothing.  `trace_file` records its lifecycle, every
 * flush, and every append as `events NAME STREAM FIRST-LAST` or
 * `output NAME PLAN/QUERY SEQ.INDEX KIND VALUES` (see fixture-trace.h).
 * With `flush_error`, every flush fails with that message; with
 * `flush_delay_ms`, every flush takes that long (unless cancelled).
 */
#include <tandem.h>

#include "fixture-trace.h"

#define FIXTURE_TYPE_STORE (fixture_store_get_type ())
G_DECLARE_FINAL_TYPE (FixtureStore, fixture_store, FIXTURE, STORE, TandemStore)

struct _FixtureStore {
	TandemStore parent_instance;

	char *trace_file;
	char *flush_error;
	guint flush_delay_ms;
};

G_DEFINE_DYNAMIC_TYPE (FixtureStore, fixture_store, TANDEM_TYPE_STORE)

enum {
	PROP_0,
	PROP_TRACE_FILE,
	PROP_FLUSH_ERROR,
	PROP_FLUSH_DELAY_MS,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static gboolean
fixture_store_setup (TandemPlugin *plugin, TandemConfigSection *section, GError **error)
{
	FixtureStore *self = FIXTURE_STORE (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (fixture_store_parent_class);

	if (parent->setup != NULL && !parent->setup (plugin, section, error))
		return FALSE;

	return fixture_trace (self->trace_file, "setup", tandem_plugin_get_name (plugin), error);
}

static gboolean
fixture_store_start (TandemPlugin *plugin, GError **error)
{
	FixtureStore *self = FIXTURE_STORE (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (fixture_store_parent_class);

	if (parent->start != NULL && !parent->start (plugin, error))
		return FALSE;

	return fixture_trace (self->trace_file, "start", tandem_plugin_get_name (plugin), error);
}

static gboolean
fixture_store_stop (TandemPlugin *plugin, GError **error)
{
	FixtureStore *self = FIXTURE_STORE (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (fixture_store_parent_class);

	if (!fixture_trace (self->trace_file, "stop", tandem_plugin_get_name (plugin), error))
		return FALSE;

	return parent->stop == NULL || parent->stop (plugin, error);
}

static gboolean
fixture_store_flush (TandemStore *store, GCancellable *cancellable, GError **error)
{
	FixtureStore *self = FIXTURE_STORE (store);

	for (gint64 end = g_get_monotonic_time () + (gint64) self->flush_delay_ms * 1000;
	     g_get_monotonic_time () < end;) {
		if (g_cancellable_set_error_if_cancelled (cancellable, error))
			return FALSE;
		g_usleep (10 * 1000);
	}
	if (g_cancellable_set_error_if_cancelled (cancellable, error))
		return FALSE;
	if (self->flush_error != NULL) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, self->flush_error);
		return FALSE;
	}

	return fixture_trace (self->trace_file, "flush",
			      tandem_plugin_get_name (TANDEM_PLUGIN (store)), error);
}

static void
fixture_store_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	FixtureStore *self = FIXTURE_STORE (object);

	switch (prop_id) {
	case PROP_TRACE_FILE:
		g_value_set_string (value, self->trace_file);
		break;
	case PROP_FLUSH_ERROR:
		g_value_set_string (value, self->flush_error);
		break;
	case PROP_FLUSH_DELAY_MS:
		g_value_set_uint (value, self->flush_delay_ms);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
fixture_store_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	FixtureStore *self = FIXTURE_STORE (object);

	switch (prop_id) {
	case PROP_TRACE_FILE:
		g_free (self->trace_file);
		self->trace_file = g_value_dup_string (value);
		break;
	case PROP_FLUSH_ERROR:
		g_free (self->flush_error);
		self->flush_error = g_value_dup_string (value);
		break;
	case PROP_FLUSH_DELAY_MS:
		self->flush_delay_ms = g_value_get_uint (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
fixture_store_finalize (GObject *object)
{
	FixtureStore *self = FIXTURE_STORE (object);

	g_free (self->trace_file);
	g_free (self->flush_error);

	G_OBJECT_CLASS (fixture_store_parent_class)->finalize (object);
}

static gboolean
fixture_store_append_events (TandemStore *store, TandemStreamDefinition *stream, GPtrArray *events, GError **error)
{
	FixtureStore *self = FIXTURE_STORE (store);
	g_autofree char *what = NULL;

	if (events->len == 0)
		return TRUE;
	what = g_strdup_printf ("%s %s %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT,
				tandem_plugin_get_name (TANDEM_PLUGIN (store)),
				tandem_stream_definition_get_name (stream),
				tandem_event_get_seq (g_ptr_array_index (events, 0)),
				tandem_event_get_seq (g_ptr_array_index (events, events->len - 1)));
	return fixture_trace (self->trace_file, "events", what, error);
}

static gboolean
fixture_store_append_outputs (TandemStore *store, const TandemStoreOutput *outputs, guint n_outputs, GError **error)
{
	FixtureStore *self = FIXTURE_STORE (store);

	for (guint i = 0; i < n_outputs; i++) {
		g_autofree char *values = tandem_event_values_to_json (outputs[i].event);
		g_autofree char *what = g_strdup_printf ("%s %s/%s %" G_GUINT64_FORMAT ".%u %s %s",
							 tandem_plugin_get_name (TANDEM_PLUGIN (store)),
							 outputs[i].plan, outputs[i].query, outputs[i].input_seq,
							 outputs[i].index,
							 outputs[i].kind == TANDEM_EVENT_KIND_CURRENT ? "current" : "expired",
							 values);

		if (!fixture_trace (self->trace_file, "output", what, error))
			return FALSE;
	}
	return TRUE;
}

static void
fixture_store_class_init (FixtureStoreClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);
	TandemStoreClass *store_class = TANDEM_STORE_CLASS (klass);

	object_class->get_property = fixture_store_get_property;
	object_class->set_property = fixture_store_set_property;
	object_class->finalize = fixture_store_finalize;

	plugin_class->setup = fixture_store_setup;
	plugin_class->start = fixture_store_start;
	plugin_class->stop = fixture_store_stop;

	store_class->flush = fixture_store_flush;
	store_class->append_events = fixture_store_append_events;
	store_class->append_outputs = fixture_store_append_outputs;

	props[PROP_TRACE_FILE] =
		g_param_spec_string ("trace-file", NULL,
				     "File to which each lifecycle step appends one line", NULL,
				     TANDEM_PARAM_CONFIG | G_PARAM_READWRITE |
					     G_PARAM_STATIC_STRINGS);
	props[PROP_FLUSH_ERROR] =
		g_param_spec_string ("flush-error", NULL, "When set, every flush fails with this message", NULL,
				     TANDEM_PARAM_CONFIG | G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
	props[PROP_FLUSH_DELAY_MS] =
		g_param_spec_uint ("flush-delay-ms", NULL, "How long every flush takes", 0, 600000, 0,
				   TANDEM_PARAM_CONFIG | G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);

	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
fixture_store_class_finalize (FixtureStoreClass *klass)
{
}

static void
fixture_store_init (FixtureStore *self)
{
}

static GType
fixture_store_register_types (GTypeModule *module)
{
	/* the loader hands each plugin its own type module */
	g_assert_true (G_IS_TYPE_MODULE (module));

	fixture_store_register_type (module);
	return FIXTURE_TYPE_STORE;
}

TANDEM_PLUGIN_DEFINE ("fixture-store",
		      TANDEM_PLUGIN_KIND_STORE,
		      "1.0.0",
		      "LGPL-2.1-or-later",
		      "Test fixture: a store that stores nothing and traces its lifecycle",
		      fixture_store_register_types)
