/* test-engine.c: stream definitions, events and the plan API
 *
 * The semantics of each operator are checked case by case by the
 * conformance suite (tests/engine/cases); this covers the C API itself.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <string.h>

#include <tandem.h>

static void
test_stream_from_json (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemStreamDefinition) def = tandem_stream_definition_new_from_json (
		"{\"name\":\"StockStream\",\"version\":\"1.0.0\","
		"\"metaData\":[{\"name\":\"host\",\"type\":\"STRING\"}],"
		"\"correlationData\":[{\"name\":\"id\",\"type\":\"LONG\"}],"
		"\"payloadData\":[{\"name\":\"symbol\",\"type\":\"STRING\"},{\"name\":\"price\",\"type\":\"FLOAT\"},"
		"{\"name\":\"volume\",\"type\":\"INT\"},{\"name\":\"ok\",\"type\":\"BOOL\"},{\"name\":\"d\",\"type\":\"DOUBLE\"}]}",
		-1, &error);
	g_autofree char *siddhi = NULL;

	g_assert_no_error (error);
	g_assert_cmpstr (tandem_stream_definition_get_id (def), ==, "StockStream:1.0.0");
	g_assert_cmpuint (tandem_stream_definition_get_n_attributes (def), ==, 7);
	g_assert_cmpstr (tandem_stream_definition_get_attribute_name (def, 0), ==, "meta_host");
	g_assert_cmpint (tandem_stream_definition_get_attribute_group (def, 0), ==, TANDEM_ATTRIBUTE_GROUP_META);
	g_assert_cmpstr (tandem_stream_definition_get_attribute_name (def, 1), ==, "correlation_id");
	g_assert_cmpint (tandem_stream_definition_get_attribute_type (def, 1), ==, TANDEM_ATTRIBUTE_TYPE_LONG);
	g_assert_cmpint (tandem_stream_definition_get_attribute_group (def, 2), ==, TANDEM_ATTRIBUTE_GROUP_PAYLOAD);
	g_assert_cmpint (tandem_stream_definition_lookup (def, "price"), ==, 3);
	g_assert_cmpint (tandem_stream_definition_lookup (def, "nope"), ==, -1);
	siddhi = tandem_stream_definition_to_siddhi (def);
	g_assert_cmpstr (siddhi, ==,
			 "define stream StockStream (meta_host string, correlation_id long, symbol string, "
			 "price float, volume int, ok bool, d double);");
}

static void
test_stream_json_errors (void)
{
	const struct {
		const char *json;
		const char *message;
	} cases[] = {
		{ "{", "stream definition:" },
		{ "[]", "expected a JSON object" },
		{ "{\"version\":\"1\"}", "\"name\" must be a stream name" },
		{ "{\"name\":\"a b\"}", "\"name\" must be a stream name" },
		{ "{\"name\":\"S\",\"payloadData\":[{\"name\":\"x\",\"type\":\"DECIMAL\"}]}", "unknown type \"DECIMAL\"" },
		{ "{\"name\":\"S\",\"payloadData\":[{\"name\":\"x\"}]}", "needs string members" },
		{ "{\"name\":\"S\",\"payloadData\":{}}", "must be an array" },
		{ "{\"name\":\"S\",\"payloadData\":[{\"name\":\"x\",\"type\":\"INT\"},{\"name\":\"x\",\"type\":\"INT\"}]}", "defined twice" },
		{ "{\"name\":\"S\",\"payloadData\":[{\"name\":\"1x\",\"type\":\"INT\"}]}", "invalid attribute name" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(TandemStreamDefinition) def = tandem_stream_definition_new_from_json (cases[i].json, -1, &error);

		g_assert_null (def);
		g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT);
		if (strstr (error->message, cases[i].message) == NULL)
			g_error ("case %u: '%s' does not contain '%s'", i, error->message, cases[i].message);
	}
}

static void
test_event_values (void)
{
	g_autoptr(TandemStreamDefinition) def = tandem_stream_definition_new ("S", NULL);
	g_autoptr(TandemEvent) ev = NULL;
	g_autoptr(TandemEvent) copy = NULL;
	g_autofree char *json = NULL;

	g_assert_true (tandem_stream_definition_add_attribute (def, "i", TANDEM_ATTRIBUTE_TYPE_INT, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL));
	g_assert_true (tandem_stream_definition_add_attribute (def, "l", TANDEM_ATTRIBUTE_TYPE_LONG, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL));
	g_assert_true (tandem_stream_definition_add_attribute (def, "f", TANDEM_ATTRIBUTE_TYPE_FLOAT, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL));
	g_assert_true (tandem_stream_definition_add_attribute (def, "d", TANDEM_ATTRIBUTE_TYPE_DOUBLE, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL));
	g_assert_true (tandem_stream_definition_add_attribute (def, "b", TANDEM_ATTRIBUTE_TYPE_BOOL, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL));
	g_assert_true (tandem_stream_definition_add_attribute (def, "s", TANDEM_ATTRIBUTE_TYPE_STRING, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL));
	g_assert_true (tandem_stream_definition_add_attribute (def, "n", TANDEM_ATTRIBUTE_TYPE_STRING, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL));

	ev = tandem_event_new (def, 1234);
	g_assert_cmpuint (tandem_event_get_n_values (ev), ==, 7);
	for (guint i = 0; i < 7; i++)
		g_assert_true (tandem_event_is_null (ev, i));
	tandem_event_set_int (ev, 0, -7);
	tandem_event_set_long (ev, 1, G_GINT64_CONSTANT (9007199254740993));
	tandem_event_set_float (ev, 2, 0.1f);
	tandem_event_set_double (ev, 3, 1e-7);
	tandem_event_set_bool (ev, 4, TRUE);
	tandem_event_set_string (ev, 5, "quote \" and \\ and \n and é");
	tandem_event_set_identity (ev, 3, 42);

	g_assert_cmpint (tandem_event_get_int (ev, 0), ==, -7);
	g_assert_cmpint (tandem_event_get_long (ev, 1), ==, G_GINT64_CONSTANT (9007199254740993));
	g_assert_cmpfloat (tandem_event_get_float (ev, 2), ==, 0.1f);
	g_assert_cmpfloat (tandem_event_get_double (ev, 3), ==, 1e-7);
	g_assert_true (tandem_event_get_bool (ev, 4));
	g_assert_cmpstr (tandem_event_get_string (ev, 5), ==, "quote \" and \\ and \n and é");
	g_assert_null (tandem_event_get_string (ev, 6));
	g_assert_true (tandem_event_is_null (ev, 6));
	g_assert_cmpuint (tandem_event_get_epoch (ev), ==, 3);
	g_assert_cmpuint (tandem_event_get_seq (ev), ==, 42);
	g_assert_cmpint (tandem_event_get_value_type (ev, 2), ==, TANDEM_ATTRIBUTE_TYPE_FLOAT);

	json = tandem_event_values_to_json (ev);
	/* float 0.1 prints as the shortest binary32 round trip; types visible */
	g_assert_cmpstr (json, ==, "[-7,9007199254740993,0.1,1e-07,true,\"quote \\\" and \\\\ and \\n and é\",null]");

	copy = tandem_event_copy (ev);
	g_assert_true (tandem_event_equal (ev, copy));
	tandem_event_set_string (copy, 5, "other");
	g_assert_false (tandem_event_equal (ev, copy));
	tandem_event_set_null (copy, 5);
	g_assert_true (tandem_event_is_null (copy, 5));
	g_assert_cmpstr (tandem_event_get_string (ev, 5), ==, "quote \" and \\ and \n and é");
}

static void
test_float_formatting (void)
{
	g_autoptr(TandemStreamDefinition) def = tandem_stream_definition_new ("S", NULL);
	g_autoptr(TandemEvent) ev = NULL;
	g_autofree char *json = NULL;

	tandem_stream_definition_add_attribute (def, "a", TANDEM_ATTRIBUTE_TYPE_FLOAT, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	tandem_stream_definition_add_attribute (def, "b", TANDEM_ATTRIBUTE_TYPE_DOUBLE, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	tandem_stream_definition_add_attribute (def, "c", TANDEM_ATTRIBUTE_TYPE_DOUBLE, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	tandem_stream_definition_add_attribute (def, "d", TANDEM_ATTRIBUTE_TYPE_DOUBLE, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	ev = tandem_event_new (def, 0);
	tandem_event_set_float (ev, 0, 241.0f);
	tandem_event_set_double (ev, 1, 1e21);
	tandem_event_set_double (ev, 2, 0.1 + 0.2);
	tandem_event_set_double (ev, 3, NAN);
	json = tandem_event_values_to_json (ev);
	/* NaN has no JSON form: null */
	g_assert_cmpstr (json, ==, "[241.0,1e+21,0.30000000000000004,null]");
}

typedef struct {
	GString *out;
} Capture;

static void
capture (TandemPlan *plan, const char *query, const char *stream, TandemEventKind kind, TandemEvent *event, gpointer data)
{
	Capture *c = data;
	g_autofree char *json = tandem_event_values_to_json (event);

	g_string_append_printf (c->out, "%s %s %s %" G_GINT64_FORMAT " %s\n", query, stream,
				kind == TANDEM_EVENT_KIND_CURRENT ? "current" : "expired",
				tandem_event_get_timestamp (event), json);
}

static TandemEvent *
stock (TandemPlan *plan, const char *symbol, float price, gint64 volume, gint64 ts)
{
	TandemEvent *ev = tandem_event_new (tandem_plan_lookup_stream (plan, "StockStream"), ts);

	tandem_event_set_string (ev, 0, symbol);
	tandem_event_set_float (ev, 1, price);
	tandem_event_set_long (ev, 2, volume);
	return ev;
}

static const char *plan_text =
	"@Plan:name('Stocks')\n"
	"@Plan:description('test plan')\n"
	"@Import('StockStream:1.0.0')\n"
	"define stream StockStream (symbol string, price float, volume long);\n"
	"@info(name = 'expensive')\n"
	"from StockStream[price >= 100 and not (symbol == 'X')]\n"
	"select symbol, price * 2 as doubled\n"
	"insert into Expensive;\n"
	"-- a chained query\n"
	"from Expensive#window.length(2)\n"
	"select symbol, sum(doubled) as total\n"
	"group by symbol\n"
	"insert all events into Totals;\n";

static void
test_plan_api (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemPlan) plan = tandem_plan_new (plan_text, -1, &error);
	g_auto(GStrv) inputs = NULL;
	g_auto(GStrv) queries = NULL;
	g_autoptr(GPtrArray) streams = NULL;
	TandemStreamDefinition *totals;
	Capture c = { g_string_new (NULL) };
	g_autoptr(TandemEvent) e1 = NULL;
	g_autoptr(TandemEvent) e2 = NULL;
	g_autoptr(TandemEvent) e3 = NULL;
	g_autoptr(TandemEvent) wrong = NULL;

	g_assert_no_error (error);
	g_assert_cmpstr (tandem_plan_get_name (plan), ==, "Stocks");
	g_assert_cmpstr (tandem_plan_get_description (plan), ==, "test plan");
	inputs = tandem_plan_dup_input_streams (plan);
	g_assert_cmpuint (g_strv_length (inputs), ==, 1);
	g_assert_cmpstr (inputs[0], ==, "StockStream");
	queries = tandem_plan_dup_query_names (plan);
	g_assert_cmpuint (g_strv_length (queries), ==, 2);
	g_assert_cmpstr (queries[0], ==, "expensive");
	g_assert_cmpstr (queries[1], ==, "query2");
	streams = tandem_plan_get_streams (plan);
	g_assert_cmpuint (streams->len, ==, 3);
	/* inferred output definitions */
	totals = tandem_plan_lookup_stream (plan, "Totals");
	g_assert_nonnull (totals);
	g_assert_cmpint (tandem_stream_definition_get_attribute_type (totals, 1), ==, TANDEM_ATTRIBUTE_TYPE_DOUBLE);

	tandem_plan_set_output_func (plan, capture, &c, NULL);
	e1 = stock (plan, "IBM", 120.5f, 10, 1000);
	e2 = stock (plan, "IBM", 50.0f, 10, 1001);
	e3 = stock (plan, "IBM", 100.0f, 10, 1002);
	g_assert_true (tandem_plan_send (plan, "StockStream", e1, &error));
	g_assert_true (tandem_plan_send (plan, "StockStream", e2, &error));
	g_assert_true (tandem_plan_send (plan, "StockStream", e3, &error));
	g_assert_no_error (error);
	g_assert_cmpint (tandem_plan_get_clock (plan), ==, 1002);
	g_assert_cmpstr (c.out->str, ==,
			 "expensive Expensive current 1000 [\"IBM\",241.0]\n"
			 "query2 Totals current 1000 [\"IBM\",241.0]\n"
			 "expensive Expensive current 1002 [\"IBM\",200.0]\n"
			 "query2 Totals current 1002 [\"IBM\",441.0]\n");

	/* events that do not match their stream are refused, nothing runs */
	g_assert_false (tandem_plan_send (plan, "Nope", e1, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT);
	g_clear_error (&error);
	wrong = tandem_event_new (totals, 2000);
	g_assert_false (tandem_plan_send (plan, "StockStream", wrong, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT);
	g_assert_cmpint (tandem_plan_get_clock (plan), ==, 1002);
	g_string_free (c.out, TRUE);
}

#define LONG_NAME_16 "xxxxxxxxxxxxxxxx"
#define LONG_NAME LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 \
	LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16 LONG_NAME_16

static void
test_plan_errors (void)
{
	const struct {
		const char *text;
		TandemError code;
		const char *message;
	} cases[] = {
		{ "define stream S (a int);\nfrom S select a\ninsert into;", TANDEM_ERROR_PLAN_SYNTAX,
		  "3:12: found ';', expected an output stream name" },
		{ "define stream S (a int);\nfrom S[a > ] select a insert into T;", TANDEM_ERROR_PLAN_SYNTAX, "2:12: found ']', expected an expression" },
		{ "define stream S (a integer);", TANDEM_ERROR_PLAN_SYNTAX, "1:20: found 'integer', expected an attribute type" },
		{ "define stream S (a int);\n\n  from T select a insert into U;", TANDEM_ERROR_PLAN_INVALID, "3:8: unknown stream 'T'" },
		{ "define stream S (a int);\nfrom S select b insert into U;", TANDEM_ERROR_PLAN_INVALID, "2:15: unknown attribute 'b' in stream S (it has: a)" },
		{ "define stream S (a int);\nfrom S[a == 'x'] select a insert into U;", TANDEM_ERROR_PLAN_INVALID, "2:10: type mismatch: int cannot be compared with string using '=='" },
		{ "define stream S (a int);\nfrom S[count() > 1] select a insert into U;", TANDEM_ERROR_PLAN_INVALID, "2:8: aggregate function 'count' is not allowed in a filter" },
		{ "define stream S (a int);\nfrom S#window.sliding(3) select a insert into U;", TANDEM_ERROR_PLAN_INVALID, "2:15: unknown window 'sliding'" },
		{ "define stream S (a int);\nfrom S#window.length('x') select a insert into U;", TANDEM_ERROR_PLAN_INVALID, "2:22: expected an int or long constant" },
		{ "define stream S (a int);\nfrom S#window.time(2 fortnights) select a insert into U;", TANDEM_ERROR_PLAN_INVALID, "unknown time unit 'fortnights'" },
		{ "define stream S (a int);\nfrom S select a + 1 insert into U;", TANDEM_ERROR_PLAN_INVALID, "2:15: output attribute 1 needs a name" },
		{ "define stream S (a int);\nfrom S select sum(sum(a)) as x insert into U;", TANDEM_ERROR_PLAN_INVALID, "not allowed in another aggregate" },
		{ "define stream S (a int);\ndefine stream U (x string);\nfrom S select a as x insert into U;", TANDEM_ERROR_PLAN_INVALID, "stream U is (x string)" },
		{ "define stream S (a int);\nfrom S select a insert into S;", TANDEM_ERROR_PLAN_INVALID, "makes a loop" },
		{ "define stream S (a int);\nfrom S[a] select a insert into U;", TANDEM_ERROR_PLAN_INVALID, "a filter must be a bool condition" },
		{ "define stream S (a int);\nfrom S select a insert into U; 'stray", TANDEM_ERROR_PLAN_SYNTAX, "2:32: string is not closed" },
		{ "define stream S (a int);\nfrom S select 99999999999 as a insert into U;", TANDEM_ERROR_PLAN_SYNTAX, "out of the range of int" },
		{ "define stream S (a int);\n@info(name='a \\\"b')\nfrom S select a insert into U;", TANDEM_ERROR_PLAN_INVALID, "3:1: query name 'a \"b'" },
		{ "@Plan:name('../etc')\ndefine stream S (a int);", TANDEM_ERROR_PLAN_INVALID, "plan name '../etc'" },
		{ "define stream S (a int);\nfrom S select a insert into T" LONG_NAME ";", TANDEM_ERROR_PLAN_INVALID, "2:29: a stream name has at most 255 characters" },
		{ "define stream S" LONG_NAME " (a int);", TANDEM_ERROR_PLAN_INVALID, "1:15: a stream name has at most 255 characters" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(TandemPlan) plan = tandem_plan_new (cases[i].text, -1, &error);

		g_assert_null (plan);
		if (!g_error_matches (error, TANDEM_ERROR, cases[i].code) || strstr (error->message, cases[i].message) == NULL)
			g_error ("case %u: got '%s' (code %d), expected code %d and '%s'", i, error->message,
				 error->code, cases[i].code, cases[i].message);
	}
}

static void
test_plan_deep_nesting (void)
{
	g_autoptr(GString) text = g_string_new ("define stream S (a int);\nfrom S[");
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemPlan) plan = NULL;

	for (guint i = 0; i < 100000; i++)
		g_string_append_c (text, '(');
	plan = tandem_plan_new (text->str, -1, &error);
	g_assert_null (plan);
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_PLAN_SYNTAX);
	g_assert_nonnull (strstr (error->message, "nested too deeply"));
}

static void
test_snapshot_restore_api (void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(TandemPlan) a = tandem_plan_new (plan_text, -1, &error);
	g_autoptr(TandemPlan) b = tandem_plan_new (plan_text, -1, &error);
	g_autoptr(TandemPlan) other = tandem_plan_new ("define stream S (a int);\nfrom S select a insert into T;", -1, &error);
	g_autoptr(TandemEvent) e1 = stock (a, "IBM", 150.0f, 1, 5000);
	g_autoptr(GBytes) snap = NULL;
	g_autoptr(GBytes) snap_b = NULL;
	g_autoptr(GBytes) truncated = NULL;

	g_assert_no_error (error);
	g_assert_true (tandem_plan_send (a, "StockStream", e1, &error));
	snap = tandem_plan_snapshot (a);
	g_assert_true (tandem_plan_restore (b, snap, &error));
	g_assert_no_error (error);
	g_assert_cmpint (tandem_plan_get_clock (b), ==, 5000);
	snap_b = tandem_plan_snapshot (b);
	g_assert_true (g_bytes_equal (snap, snap_b));

	g_assert_false (tandem_plan_restore (other, snap, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
	g_clear_error (&error);
	truncated = g_bytes_new_from_bytes (snap, 0, g_bytes_get_size (snap) - 1);
	g_assert_false (tandem_plan_restore (b, truncated, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_SNAPSHOT);
	/* a failed restore leaves the plan as new */
	g_assert_cmpint (tandem_plan_get_clock (b), ==, 0);
}

static JsonNode *
parse_json (const char *text)
{
	g_autoptr(GError) error = NULL;
	JsonNode *node = json_from_string (text, &error);

	g_assert_no_error (error);
	return node;
}

static void
test_json_values (void)
{
	g_autoptr(TandemStreamDefinition) def = tandem_stream_definition_new ("S", NULL);
	g_autoptr(TandemEvent) ev = NULL;
	const struct {
		guint index;
		const char *json;
		const char *error; /* NULL: accepted */
	} cases[] = {
		{ 0, "2147483647", NULL },
		{ 0, "2147483648", "expected an int, got 2147483648 (out of the int range -2147483648..2147483647)" },
		{ 0, "1.5", "expected an int, got 1.5" },
		{ 1, "9223372036854775807", NULL },
		{ 1, "\"12\"", "expected a long, got \"12\"" },
		{ 2, "1e39", "expected a float, got 1e+39 (too large for a float)" },
		{ 2, "3", NULL },
		{ 3, "-0.5", NULL },
		{ 4, "true", NULL },
		{ 4, "1", "expected a bool, got 1" },
		{ 5, "\"x\"", NULL },
		{ 5, "{}", "expected a string, got an object" },
		{ 5, "null", NULL },
	};

	tandem_stream_definition_add_attribute (def, "i", TANDEM_ATTRIBUTE_TYPE_INT, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	tandem_stream_definition_add_attribute (def, "l", TANDEM_ATTRIBUTE_TYPE_LONG, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	tandem_stream_definition_add_attribute (def, "f", TANDEM_ATTRIBUTE_TYPE_FLOAT, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	tandem_stream_definition_add_attribute (def, "d", TANDEM_ATTRIBUTE_TYPE_DOUBLE, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	tandem_stream_definition_add_attribute (def, "b", TANDEM_ATTRIBUTE_TYPE_BOOL, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	tandem_stream_definition_add_attribute (def, "s", TANDEM_ATTRIBUTE_TYPE_STRING, TANDEM_ATTRIBUTE_GROUP_PAYLOAD, NULL);
	ev = tandem_event_new (def, 0);
	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autoptr(JsonNode) node = parse_json (cases[i].json);
		g_autoptr(GError) error = NULL;
		gboolean ok = tandem_event_set_value_from_json (ev, cases[i].index, node, &error);

		if (cases[i].error == NULL) {
			g_assert_no_error (error);
			g_assert_true (ok);
		} else {
			g_assert_false (ok);
			g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT);
			g_assert_cmpstr (error->message, ==, cases[i].error);
		}
	}
	g_assert_cmpint (tandem_event_get_long (ev, 1), ==, G_MAXINT64);
	g_assert_cmpfloat (tandem_event_get_float (ev, 2), ==, 3.0f);
	g_assert_true (tandem_event_is_null (ev, 5));
}

static void
test_json_integer_range (void)
{
	g_autoptr(GError) error = NULL;

	g_autoptr(GString) deep = g_string_new (NULL);

	g_assert_true (tandem_json_check_text ("[9223372036854775807, -9223372036854775808, 1e400, \"99999999999999999999\"]", -1, 8, &error));
	g_assert_no_error (error);
	g_assert_false (tandem_json_check_text ("{\"a\": [1, 9223372036854775808]}", -1, 8, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT);
	g_assert_cmpstr (error->message, ==, "integer 9223372036854775808 is out of the 64-bit range");
	g_clear_error (&error);
	/* json-glib 1.6 crashes on deep nesting: refused before parsing */
	for (guint i = 0; i < 100000; i++)
		g_string_append_c (deep, '[');
	g_assert_false (tandem_json_check_text (deep->str, -1, 64, &error));
	g_assert_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_EVENT);
	g_assert_cmpstr (error->message, ==, "JSON nested deeper than 64 levels");
	g_clear_error (&error);
	g_assert_true (tandem_json_check_text ("[\"[[[[[[[[[[\"]", -1, 2, &error));
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);

	g_test_add_func ("/engine/stream/from-json", test_stream_from_json);
	g_test_add_func ("/engine/stream/json-errors", test_stream_json_errors);
	g_test_add_func ("/engine/event/values", test_event_values);
	g_test_add_func ("/engine/event/float-formatting", test_float_formatting);
	g_test_add_func ("/engine/json/values", test_json_values);
	g_test_add_func ("/engine/json/check-text", test_json_integer_range);
	g_test_add_func ("/engine/plan/api", test_plan_api);
	g_test_add_func ("/engine/plan/errors", test_plan_errors);
	g_test_add_func ("/engine/plan/deep-nesting", test_plan_deep_nesting);
	g_test_add_func ("/engine/plan/snapshot-restore-api", test_snapshot_restore_api);

	return g_test_run ();
}
