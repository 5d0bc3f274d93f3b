/* fuzz-http-body.h: the HTTP receiver's body parser as a fuzzing entry point
 *
 * Shared by the libFuzzer target fuzz-http-body.c (built with clang and
 * sanitizers by run-fuzzers.sh) and by test-http-body.c, which replays the
 * committed corpus (corpus/http-body/) with the normal build.  Everything
 * is static: include this header once per program.
 *
 * fuzz_http_body(): byte 0 chooses the layout (bit 0: NDJSON or JSON) and
 * the stream (bits 1-2: a WSO2 definition with meta, correlation and
 * payload attributes of every type; a plan-style stream whose meta_ and
 * correlation_ attributes have no group; a stream with attributes named
 * "event", "timestamp" and "id"); byte 1 the most events allowed (1-256);
 * the rest is the body.  A body that parses must give well-formed events
 * (every value typed as its attribute, one id per event or none), each of
 * which is formatted to JSON; one that does not must say why in an error
 * of the body error domain.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <string.h>

#include <tandem.h>

#include "../../plugins/receivers/http/tandem-http-body.h"

static const char *const fuzz_http_streams[] G_GNUC_UNUSED = {
	"{\"name\": \"Fuzz\", \"version\": \"1.0.0\","
	" \"metaData\": [{\"name\": \"host\", \"type\": \"STRING\"}, {\"name\": \"n\", \"type\": \"INT\"}],"
	" \"correlationData\": [{\"name\": \"rid\", \"type\": \"LONG\"}],"
	" \"payloadData\": [{\"name\": \"symbol\", \"type\": \"STRING\"}, {\"name\": \"price\", \"type\": \"FLOAT\"},"
	" {\"name\": \"volume\", \"type\": \"LONG\"}, {\"name\": \"qty\", \"type\": \"INT\"},"
	" {\"name\": \"ratio\", \"type\": \"DOUBLE\"}, {\"name\": \"ok\", \"type\": \"BOOL\"}]}",
	"{\"name\": \"Plain\", \"payloadData\": [{\"name\": \"meta_host\", \"type\": \"STRING\"},"
	" {\"name\": \"correlation_rid\", \"type\": \"LONG\"}, {\"name\": \"v\", \"type\": \"DOUBLE\"}]}",
	"{\"name\": \"Named\", \"payloadData\": [{\"name\": \"event\", \"type\": \"STRING\"},"
	" {\"name\": \"timestamp\", \"type\": \"LONG\"}, {\"name\": \"id\", \"type\": \"INT\"}]}",
};

static TandemHttpBodySchema *
fuzz_http_schema (guint which)
{
	static TandemHttpBodySchema *schemas[G_N_ELEMENTS (fuzz_http_streams)];

	which %= G_N_ELEMENTS (fuzz_http_streams);
	if (schemas[which] == NULL) {
		g_autoptr(GError) error = NULL;
		g_autoptr(TandemStreamDefinition) def =
			tandem_stream_definition_new_from_json (fuzz_http_streams[which], -1,
								&error);

		g_assert_no_error (error);
		schemas[which] = tandem_http_body_schema_new (def);
	}
	return schemas[which];
}

static int G_GNUC_UNUSED
fuzz_http_body (const guint8 *data, gsize size)
{
	TandemHttpBodySchema *schema;
	TandemStreamDefinition *def;
	TandemHttpBodyFormat format;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GPtrArray) ids = NULL;
	g_autoptr(GError) error = NULL;
	guint max_events;

	if (size < 2)
		return 0;
	format = (data[0] & 1) ? TANDEM_HTTP_BODY_FORMAT_NDJSON : TANDEM_HTTP_BODY_FORMAT_JSON;
	schema = fuzz_http_schema ((data[0] >> 1) & 3);
	def = tandem_http_body_schema_get_definition (schema);
	max_events = (guint) data[1] + 1;
	if (!tandem_http_body_parse (schema, format, (const char *) data + 2, size - 2, max_events,
				     1000, &events, &ids, &error)) {
		g_assert_nonnull (error);
		g_assert_true (error->domain == TANDEM_HTTP_BODY_ERROR);
		g_assert_true (g_utf8_validate (error->message, -1, NULL));
		return 0;
	}
	g_assert_no_error (error);
	g_assert_cmpuint (events->len, <=, max_events);
	if (ids != NULL) {
		g_assert_cmpuint (ids->len, ==, events->len + 1);
		g_assert_null (g_ptr_array_index (ids, events->len));
	}
	for (guint i = 0; i < events->len; i++) {
		TandemEvent *event = g_ptr_array_index (events, i);
		g_autofree char *json = NULL;

		g_assert_cmpuint (tandem_event_get_n_values (event), ==,
				  tandem_stream_definition_get_n_attributes (def));
		for (guint k = 0; k < tandem_event_get_n_values (event); k++)
			g_assert_cmpint (tandem_event_get_value_type (event, k), ==,
					 tandem_stream_definition_get_attribute_type (def, k));
		json = tandem_event_values_to_json (event);
		g_assert_true (g_utf8_validate (json, -1, NULL));
	}
	return 0;
}
