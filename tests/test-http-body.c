/* test-http-body.c: the HTTP receiver's body parser, without a server
 *
 * Bodies of every layout (WSO2 event objects, flat objects, arrays,
 * NDJSON), the values they carry, and every way they can be wrong, with the
 * error code (400, 413 or 422 for the receiver) and the message naming the
 * line and column or the event and attribute.  Also replays the fuzzer's
 * corpus (tests/fuzz/corpus/http-body) through the fuzzing entry point.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include "fuzz/fuzz-http-body.h"

/* The WSO2 stream of fuzz_http_streams[0]: meta_host string, meta_n int,
 * correlation_rid long, symbol string, price float, volume long, qty int,
 * ratio double, ok bool. */
#define WSO2_EVENT                                                                                   \
	"{\"event\":{\"metaData\":{\"host\":\"h1\",\"n\":3},\"correlationData\":{\"rid\":7},"        \
	"\"payloadData\":{\"symbol\":\"IBM\",\"price\":10.5,\"volume\":100,\"qty\":2,\"ratio\":0.5," \
	"\"ok\":true}}}"
#define FLAT_EVENT                                                                                 \
	"{\"meta_host\":\"h\",\"meta_n\":1,\"correlation_rid\":5,\"symbol\":\"A\",\"price\":1,"    \
	"\"volume\":2,\"qty\":3,\"ratio\":4,\"ok\":false}"

typedef struct {
	GPtrArray *events;
	GPtrArray *ids;
	GError *error;
} Result;

static void
result_clear (Result *r)
{
	g_clear_pointer (&r->events, g_ptr_array_unref);
	g_clear_pointer (&r->ids, g_ptr_array_unref);
	g_clear_error (&r->error);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Result, result_clear)

static Result
parse_full (guint stream,
	    TandemHttpBodyFormat format,
	    const char *body,
	    gssize length,
	    guint max_events)
{
	Result r = { NULL, NULL, NULL };

	if (length < 0)
		length = (gssize) strlen (body);
	if (!tandem_http_body_parse (fuzz_http_schema (stream), format, body, (gsize) length,
				     max_events, 1000, &r.events, &r.ids, &r.error))
		g_assert_nonnull (r.error);
	return r;
}

static Result
parse (const char *body)
{
	return parse_full (0, TANDEM_HTTP_BODY_FORMAT_JSON, body, -1, 10000);
}

static void
assert_error (Result *r, int code, const char *message)
{
	g_assert_nonnull (r->error);
	if (r->error->domain != TANDEM_HTTP_BODY_ERROR || r->error->code != code ||
	    strcmp (r->error->message, message) != 0)
		g_error ("expected error %d \"%s\", got %d \"%s\"", code, message, r->error->code,
			 r->error->message);
}

static TandemEvent *
event_at (Result *r, guint i)
{
	g_assert_no_error (r->error);
	g_assert_cmpuint (i, <, r->events->len);
	return g_ptr_array_index (r->events, i);
}

static void
test_wso2 (void)
{
	g_auto(Result) r = parse (WSO2_EVENT);
	TandemEvent *e = event_at (&r, 0);

	g_assert_cmpuint (r.events->len, ==, 1);
	g_assert_null (r.ids);
	g_assert_cmpstr (tandem_event_get_string (e, 0), ==, "h1");
	g_assert_cmpint (tandem_event_get_int (e, 1), ==, 3);
	g_assert_cmpint (tandem_event_get_long (e, 2), ==, 7);
	g_assert_cmpstr (tandem_event_get_string (e, 3), ==, "IBM");
	g_assert_cmpfloat (tandem_event_get_float (e, 4), ==, 10.5f);
	g_assert_cmpint (tandem_event_get_long (e, 5), ==, 100);
	g_assert_cmpint (tandem_event_get_int (e, 6), ==, 2);
	g_assert_cmpfloat (tandem_event_get_double (e, 7), ==, 0.5);
	g_assert_true (tandem_event_get_bool (e, 8));
	/* no timestamp member: the receive time */
	g_assert_cmpint (tandem_event_get_timestamp (e), ==, 1000);
}

static void
test_flat_and_array (void)
{
	g_auto(Result) r = parse ("[" WSO2_EVENT ", " FLAT_EVENT "]");

	g_assert_cmpuint (r.events->len, ==, 2);
	g_assert_cmpstr (tandem_event_get_string (event_at (&r, 1), 0), ==, "h");
	g_assert_cmpint (tandem_event_get_long (event_at (&r, 1), 2), ==, 5);
	g_assert_false (tandem_event_get_bool (event_at (&r, 1), 8));
	result_clear (&r);

	r = parse ("  [ ]  ");
	g_assert_cmpuint (r.events->len, ==, 0);
}

static void
test_timestamp_and_id (void)
{
	g_auto(Result) r = parse (
		"[{\"event\":{\"timestamp\":1700000000123,\"id\":\"a-1\",\"metaData\":{\"host\":\"h\","
		"\"n\":1},\"correlationData\":{\"rid\":1},\"payloadData\":{\"symbol\":\"s\","
		"\"price\":1,\"volume\":1,\"qty\":1,\"ratio\":1,\"ok\":true}}}, " FLAT_EVENT ", "
		"{\"meta_host\":\"h\",\"meta_n\":1,\"correlation_rid\":5,\"symbol\":\"A\","
		"\"price\":1,\"volume\":2,\"qty\":3,\"ratio\":4,\"ok\":false,\"id\":42,"
		"\"timestamp\":7}]");

	g_assert_cmpuint (r.events->len, ==, 3);
	g_assert_cmpint (tandem_event_get_timestamp (event_at (&r, 0)), ==, 1700000000123);
	g_assert_cmpint (tandem_event_get_timestamp (event_at (&r, 1)), ==, 1000);
	g_assert_cmpint (tandem_event_get_timestamp (event_at (&r, 2)), ==, 7);
	g_assert_nonnull (r.ids);
	g_assert_cmpuint (r.ids->len, ==, 4);
	g_assert_cmpstr (g_ptr_array_index (r.ids, 0), ==, "a-1");
	g_assert_cmpstr (g_ptr_array_index (r.ids, 1), ==, "");
	g_assert_cmpstr (g_ptr_array_index (r.ids, 2), ==, "42");
	g_assert_null (g_ptr_array_index (r.ids, 3));
	result_clear (&r);

	r = parse ("{\"event\":{\"timestamp\":-1}}");
	assert_error (
		&r, TANDEM_HTTP_BODY_ERROR_INVALID,
		"event 0: member 'timestamp': expected milliseconds since the Unix epoch (a non-negative "
		"integer), got -1");
	result_clear (&r);
	r = parse ("{\"id\":[1]}");
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_INVALID,
		      "event 0: member 'id': expected a string or an integer, got an array");
	result_clear (&r);
	r = parse ("{\"id\":\"\"}");
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_INVALID,
		      "event 0: member 'id': expected 1-256 bytes, got 0");
}

static void
test_values (void)
{
	g_auto(Result) r = parse (
		"{\"meta_host\":null,\"meta_n\":-2147483648,\"correlation_rid\":-9223372036854775808,"
		"\"symbol\":\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\",\"price\":-0.0,"
		"\"volume\":9223372036854775807,\"qty\":2147483647,\"ratio\":1.5e-300,"
		"\"ok\":null}");
	TandemEvent *e = event_at (&r, 0);

	g_assert_true (tandem_event_is_null (e, 0));
	g_assert_cmpint (tandem_event_get_int (e, 1), ==, G_MININT32);
	g_assert_cmpint (tandem_event_get_long (e, 2), ==, G_MININT64);
	g_assert_cmpstr (tandem_event_get_string (e, 3), ==, "\xc3\xa9\xf0\x9f\x98\x80\n\"/");
	g_assert_true (signbit (tandem_event_get_float (e, 4)));
	g_assert_cmpint (tandem_event_get_long (e, 5), ==, G_MAXINT64);
	g_assert_cmpint (tandem_event_get_int (e, 6), ==, G_MAXINT32);
	g_assert_cmpfloat (tandem_event_get_double (e, 7), ==, 1.5e-300);
	g_assert_true (tandem_event_is_null (e, 8));
}

static void
test_type_errors (void)
{
	static const struct {
		const char *member;
		const char *message;
	} cases[] = {
		{ "\"qty\":1.5", "event 0: attribute 'qty': expected an int, got 1.5" },
		{ "\"qty\":2147483648",
		  "event 0: attribute 'qty': expected an int, got 2147483648 (out of the int range -2147483648..2147483647)" },
		{ "\"volume\":9223372036854775808",
		  "event 0: attribute 'volume': integer 9223372036854775808 is out of the 64-bit range" },
		{ "\"correlation_rid\":-9223372036854775809",
		  "event 0: attribute 'correlation_rid': integer -9223372036854775809 is out of the 64-bit range" },
		{ "\"ratio\":18446744073709551616",
		  "event 0: attribute 'ratio': integer 18446744073709551616 is out of the 64-bit range" },
		{ "\"price\":1e39",
		  "event 0: attribute 'price': expected a float, got 1e+39 (too large for a float)" },
		{ "\"ratio\":1e999",
		  "event 0: attribute 'ratio': expected a double, got a number too large for a double" },
		{ "\"ok\":\"true\"", "event 0: attribute 'ok': expected a bool, got \"true\"" },
		{ "\"symbol\":3", "event 0: attribute 'symbol': expected a string, got 3" },
		{ "\"symbol\":{}",
		  "event 0: attribute 'symbol': expected a string, got an object" },
		{ "\"qty\":[1]", "event 0: attribute 'qty': expected an int, got an array" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree char *body = g_strdup_printf ("{%s}", cases[i].member);
		g_auto(Result) r = parse (body);

		assert_error (&r, TANDEM_HTTP_BODY_ERROR_INVALID, cases[i].message);
	}
}

static void
test_shape_errors (void)
{
	static const struct {
		const char *body;
		const char *message;
	} cases[] = {
		{ "{\"meta_host\":\"h\"}", "event 0: attribute 'meta_n' is missing" },
		{ "{\"event\":{\"payloadData\":{}}}",
		  "event 0: attribute 'meta_host' is missing (expected member 'host' in 'metaData')" },
		{ "[" FLAT_EVENT ", {\"nope\":1}]",
		  "event 1: unknown attribute 'nope' (stream Fuzz:1.0.0)" },
		{ "{\"event\":{\"payloadData\":{\"nope\":1}}}",
		  "event 0: unknown attribute 'nope' in 'payloadData' (stream Fuzz:1.0.0)" },
		{ "{\"event\":{\"extra\":1}}",
		  "event 0: unknown member 'extra' in 'event' (expected metaData, correlationData, payloadData, timestamp, id)" },
		{ "{\"event\":{},\"qty\":1}", "event 0: unknown member 'qty' beside 'event'" },
		{ "{\"qty\":1,\"event\":{}}",
		  "event 0: member 'event' must be the only member of the event object" },
		{ "{\"event\":[]}", "event 0: member 'event': expected an object, got '['" },
		{ "{\"event\":{\"payloadData\":5}}",
		  "event 0: member 'payloadData': expected an object, got '5'" },
		{ "{\"qty\":1,\"qty\":2}", "event 0: attribute 'qty' is given twice" },
		{ "[1]", "event 0: expected an event object, got 1" },
		{ "\"x\"", "event 0: expected an event object, got \"x\"" },
		{ "[[]]", "event 0: expected an event object, got an array" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_auto(Result) r = parse (cases[i].body);

		assert_error (&r, TANDEM_HTTP_BODY_ERROR_INVALID, cases[i].message);
	}
}

static void
test_syntax_errors (void)
{
	static const struct {
		const char *body;
		const char *message;
	} cases[] = {
		{ "", "the body is empty: expected an event object or an array of events" },
		{ " \n ", "the body is empty: expected an event object or an array of events" },
		{ "{\"qty\":1,}",
		  "line 1, column 10: expected a member name in double quotes, got '}'" },
		{ "[" FLAT_EVENT "\n,]", "line 2, column 2: expected an event object, got ']'" },
		{ "{\"qty\" 1}", "line 1, column 8: expected ':' after the member name, got '1'" },
		{ "{\"qty\":0123}",
		  "line 1, column 8: invalid number: leading zeros are not allowed" },
		{ "{\"qty\":0x1F}",
		  "line 1, column 8: invalid number: unexpected 'x' (JSON numbers are decimal)" },
		{ "{\"qty\":1.}", "line 1, column 8: invalid number: expected a digit after '.'" },
		{ "{\"qty\":-}", "line 1, column 8: invalid number: expected a digit after '-'" },
		{ "{'qty':1}",
		  "line 1, column 2: expected a member name in double quotes, got '''" },
		{ "/* c */ {}", "line 1, column 1: expected an event object, got '/'" },
		{ "{\"symbol\":tru}",
		  "line 1, column 11: unexpected 'tru' (strings need double quotes)" },
		{ "{\"symbol\":\"a\\qb\"}",
		  "line 1, column 13: invalid escape: backslash followed by 'q'" },
		{ "{\"symbol\":\"a\tb\"}",
		  "line 1, column 13: control character U+0009 in a string (write it as \\u0009)" },
		{ "{\"symbol\":\"\\ud800x\"}",
		  "line 1, column 12: invalid \\u escape: a high surrogate must be followed by a low one" },
		{ "{\"symbol\":\"\\u12\"}",
		  "line 1, column 12: invalid \\u escape: expected 4 hex digits" },
		{ "{\"symbol\":\"abc", "line 1, column 11: string not terminated" },
		{ FLAT_EVENT " {}",
		  "line 1, column 113: unexpected data after the JSON value: send several events as an array" },
		{ "[" FLAT_EVENT,
		  "line 1, column 113: expected ',' or ']' after an event, got the end of the body" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_auto(Result) r = parse (cases[i].body);

		assert_error (&r, TANDEM_HTTP_BODY_ERROR_SYNTAX, cases[i].message);
	}
}

static void
test_utf8 (void)
{
	g_auto(Result) r = parse ("{\n\"symbol\":\"\xc3\x28\"}");

	assert_error (&r, TANDEM_HTTP_BODY_ERROR_SYNTAX, "line 2, column 11: invalid UTF-8");
	result_clear (&r);
	/* a byte order mark is skipped */
	r = parse ("\xef\xbb\xbf" WSO2_EVENT);
	g_assert_cmpuint (r.events->len, ==, 1);
}

static void
test_deep_nesting (void)
{
	gsize n = 1 << 20;
	g_autofree char *body = g_malloc (n);
	g_auto(Result) r = { NULL, NULL, NULL };

	/* json-glib 1.6 recurses once per level and overflows the stack */
	memset (body, '[', n);
	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_JSON, body, (gssize) n, 10000);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_INVALID,
		      "event 0: expected an event object, got an array");
	result_clear (&r);
	memset (body, '{', n);
	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_JSON, body, (gssize) n, 10000);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_SYNTAX,
		      "line 1, column 2: expected a member name in double quotes, got '{'");
}

static void
test_max_events (void)
{
	g_auto(Result) r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_JSON,
					"[" WSO2_EVENT "," WSO2_EVENT "]", -1, 2);

	g_assert_cmpuint (r.events->len, ==, 2);
	result_clear (&r);
	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_JSON,
			"[" WSO2_EVENT "," WSO2_EVENT "," WSO2_EVENT "]", -1, 2);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_TOO_MANY,
		      "more than 2 events in one request (max_events_per_request)");
	result_clear (&r);
	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_NDJSON, WSO2_EVENT "\n" WSO2_EVENT "\n", -1, 1);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_TOO_MANY,
		      "more than 1 events in one request (max_events_per_request)");
}

static void
test_ndjson (void)
{
	g_auto(Result) r =
		parse_full (0, TANDEM_HTTP_BODY_FORMAT_NDJSON,
			    WSO2_EVENT "\n\n  \r\n" FLAT_EVENT "\r\n" FLAT_EVENT, -1, 100);

	g_assert_cmpuint (r.events->len, ==, 3);
	result_clear (&r);

	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_NDJSON, WSO2_EVENT "\n{\"qty\":\n1}\n", -1, 100);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_SYNTAX,
		      "line 2, column 8: expected a value, got the end of the line");
	result_clear (&r);
	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_NDJSON,
			WSO2_EVENT "\n" FLAT_EVENT " " FLAT_EVENT "\n", -1, 100);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_SYNTAX,
		      "line 2, column 113: unexpected data after the event: one event per line");
	result_clear (&r);
	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_NDJSON, WSO2_EVENT "\n\n{\"qty\":\"x\"}\n", -1,
			100);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_INVALID,
		      "line 3 (event 1): attribute 'qty': expected an int, got \"x\"");
	result_clear (&r);
	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_NDJSON, "[" WSO2_EVENT "]", -1, 100);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_INVALID,
		      "line 1 (event 0): expected an event object, got an array");
	result_clear (&r);
	r = parse_full (0, TANDEM_HTTP_BODY_FORMAT_NDJSON, "\n \n", -1, 100);
	assert_error (&r, TANDEM_HTTP_BODY_ERROR_SYNTAX,
		      "the body is empty: expected one event object per line");
}

static void
test_plan_stream (void)
{
	/* no groups in a plan's stream: meta_X still comes in metaData */
	g_auto(Result) r = parse_full (
		1, TANDEM_HTTP_BODY_FORMAT_JSON,
		"[{\"event\":{\"metaData\":{\"host\":\"h\"},\"correlationData\":{\"rid\":5},"
		"\"payloadData\":{\"v\":2.5}}}, {\"meta_host\":\"i\",\"correlation_rid\":6,\"v\":1}]",
		-1, 100);

	g_assert_cmpuint (r.events->len, ==, 2);
	g_assert_cmpstr (tandem_event_get_string (event_at (&r, 0), 0), ==, "h");
	g_assert_cmpint (tandem_event_get_long (event_at (&r, 0), 1), ==, 5);
	g_assert_cmpfloat (tandem_event_get_double (event_at (&r, 1), 2), ==, 1.0);
}

static void
test_reserved_names (void)
{
	/* a stream with attributes named event, timestamp and id: in flat
	 * objects those are attributes */
	g_auto(Result) r = parse_full (2, TANDEM_HTTP_BODY_FORMAT_JSON,
					"{\"event\":\"e\",\"timestamp\":5,\"id\":7}", -1, 100);
	TandemEvent *e = event_at (&r, 0);

	g_assert_cmpstr (tandem_event_get_string (e, 0), ==, "e");
	g_assert_cmpint (tandem_event_get_long (e, 1), ==, 5);
	g_assert_cmpint (tandem_event_get_int (e, 2), ==, 7);
	g_assert_cmpint (tandem_event_get_timestamp (e), ==, 1000);
	g_assert_null (r.ids);
}

static void
test_corpus (void)
{
	g_autofree char *dir_path =
		g_test_build_filename (G_TEST_DIST, "fuzz", "corpus", "http-body", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) dir = g_dir_open (dir_path, 0, &error);
	const char *entry;
	guint n = 0;

	g_assert_no_error (error);
	while ((entry = g_dir_read_name (dir)) != NULL) {
		g_autofree char *path = g_build_filename (dir_path, entry, NULL);
		g_autofree char *data = NULL;
		gsize size = 0;

		g_file_get_contents (path, &data, &size, &error);
		g_assert_no_error (error);
		g_test_message ("%s", entry);
		g_assert_cmpint (fuzz_http_body ((const guint8 *) data, size), ==, 0);
		n++;
	}
	g_assert_cmpuint (n, >=, 10);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);

	g_test_add_func ("/http-body/wso2", test_wso2);
	g_test_add_func ("/http-body/flat-and-array", test_flat_and_array);
	g_test_add_func ("/http-body/timestamp-and-id", test_timestamp_and_id);
	g_test_add_func ("/http-body/values", test_values);
	g_test_add_func ("/http-body/type-errors", test_type_errors);
	g_test_add_func ("/http-body/shape-errors", test_shape_errors);
	g_test_add_func ("/http-body/syntax-errors", test_syntax_errors);
	g_test_add_func ("/http-body/utf8", test_utf8);
	g_test_add_func ("/http-body/deep-nesting", test_deep_nesting);
	g_test_add_func ("/http-body/max-events", test_max_events);
	g_test_add_func ("/http-body/ndjson", test_ndjson);
	g_test_add_func ("/http-body/plan-stream", test_plan_stream);
	g_test_add_func ("/http-body/reserved-names", test_reserved_names);
	g_test_add_func ("/http-body/corpus", test_corpus);

	return g_test_run ();
}
