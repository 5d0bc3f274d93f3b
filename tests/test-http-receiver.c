/* test-http-receiver.c: the http receiver plugin in real tandemd processes
 *
 * Each test starts tandemd (tandem-test-util.c) with a plan, an output log
 * and a [receiver.web] section on a free port, and talks HTTP/1.1 to it over
 * plain sockets (or TLS), so that it controls every byte: slow clients,
 * bodies too large to send, connections left open.  Outcomes are checked in
 * the answers, the output log (one line per plan output, with the input's
 * sequence number) and the daemon's log.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include "tandem-test-util.h"

static const char *tandemd;
static char *plugin_dir;

/* meta_host, correlation_rid, symbol, price, volume; every event is
 * counted by 'count' (one output line each) */
static const char plan_stock[] =
	"@Plan:name('HttpTest')\n"
	"define stream StockStream (meta_host string, correlation_rid long, symbol string, price float, "
	"volume long);\n"
	"@info(name = 'count')\n"
	"from StockStream select meta_host, correlation_rid, symbol, price, volume insert into C;\n";

/* every event adds a partial match that every later one is checked against
 * (volume is never < 0): the engine slows down as events arrive */
static const char plan_slow[] =
	"@Plan:name('Slow')\n"
	"define stream StockStream (meta_host string, correlation_rid long, symbol string, price float, "
	"volume long);\n"
	"@info(name = 'slow')\n"
	"from every e1=StockStream -> e2=StockStream[e2.volume < 0] select e1.volume as v insert into O;\n"
	"@info(name = 'count')\n"
	"from StockStream select meta_host, correlation_rid, symbol, price, volume insert into C;\n";

#define WSO2_EVENT(symbol, volume)                                                                 \
	"{\"event\":{\"metaData\":{\"host\":\"h1\"},\"correlationData\":{\"rid\":7},"              \
	"\"payloadData\":{\"symbol\":\"" symbol "\",\"price\":10.5,\"volume\":" volume "}}}"
#define FLAT_EVENT(symbol, volume)                                                                 \
	"{\"meta_host\":\"h2\",\"correlation_rid\":8,\"symbol\":\"" symbol "\",\"price\":1.25,"    \
	"\"volume\":" volume "}"

/* --- a node ---------------------------------------------------------------- */

typedef struct {
	char *dir;
	char *conf;
	char *out_log;
	TandemTestDaemon *daemon;
	guint16 port;
} Node;

static void
node_free (Node *node)
{
	g_clear_pointer (&node->daemon, tandem_test_daemon_free);
	tandem_test_rm_rf (node->dir);
	g_free (node->dir);
	g_free (node->conf);
	g_free (node->out_log);
	g_free (node);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Node, node_free)

static Node *
node_prepare (const char *plan, const char *engine_extra, const char *receiver_extra)
{
	Node *node = g_new0 (Node, 1);
	g_autofree char *plans = NULL;
	g_autofree char *plan_file = NULL;
	g_autofree char *config = NULL;

	node->dir = tandem_test_make_tmpdir ("tandem-test-http-XXXXXX");
	node->conf = g_build_filename (node->dir, "tandem.conf", NULL);
	node->out_log = g_build_filename (node->dir, "outputs.jsonl", NULL);
	plans = g_build_filename (node->dir, "plans", NULL);
	g_assert_cmpint (g_mkdir (plans, 0755), ==, 0);
	plan_file = g_build_filename (plans, "plan.siddhiql", NULL);
	tandem_test_write_text (plan_file, plan);
	config = g_strdup_printf ("[node]\nlog_level = info\n"
				  "[engine]\nplans = %s\noutput_log = %s\n%s"
				  "[receiver.web]\nplugin = http\naddress = 127.0.0.1\nport = 0\n"
				  "endpoints = stock=StockStream, versioned=StockStream:1.0.0\n%s",
				  plans, node->out_log, engine_extra != NULL ? engine_extra : "",
				  receiver_extra != NULL ? receiver_extra : "");
	tandem_test_write_text (node->conf, config);
	return node;
}

static void
node_launch (Node *node)
{
	g_autoptr(GSubprocessLauncher) launcher =
		tandem_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, plugin_dir);
	g_autofree char *state = g_build_filename (node->dir, "state", NULL);
	g_autofree char *log = NULL;
	const char *needle = "http receiver web listening on 127.0.0.1:";
	const char *p;

	node->daemon = tandem_test_daemon_start (launcher, tandemd, node->dir, node->conf, state);
	if (!tandem_test_daemon_wait_notify (node->daemon, "READY=1")) {
		log = tandem_test_read_text (node->daemon->log_path);
		g_error ("tandemd did not start:\n%s", log);
	}
	log = tandem_test_read_text (node->daemon->log_path);
	p = strstr (log, needle);
	g_assert_nonnull (p);
	node->port = (guint16) g_ascii_strtoull (p + strlen (needle), NULL, 10);
	g_assert_cmpuint (node->port, >, 0);
}

static Node *
node_start (const char *plan, const char *engine_extra, const char *receiver_extra)
{
	Node *node = node_prepare (plan, engine_extra, receiver_extra);

	node_launch (node);
	return node;
}

static void
node_stop (Node *node)
{
	g_autofree char *log = NULL;

	g_assert_cmpint (kill (node->daemon->pid, SIGTERM), ==, 0);
	g_assert_true (tandem_test_daemon_wait (node->daemon));
	g_assert_true (g_subprocess_get_if_exited (node->daemon->proc));
	g_assert_cmpint (g_subprocess_get_exit_status (node->daemon->proc), ==, 0);
	/* nothing went wrong on the way */
	log = tandem_test_read_text (node->daemon->log_path);
	if (strstr (log, "CRITICAL") != NULL || strstr (log, "WARNING") != NULL)
		g_error ("unexpected warning in the daemon's log:\n%s", log);
}

/* The resident set of the daemon, in KiB. */
static guint64
node_rss_kib (Node *node)
{
	g_autofree char *path = g_strdup_printf ("/proc/%d/status", node->daemon->pid);
	g_autofree char *status = tandem_test_read_text (path);
	const char *p = strstr (status, "VmRSS:");

	g_assert_nonnull (p);
	return g_ascii_strtoull (p + strlen ("VmRSS:"), NULL, 10);
}

static guint
node_open_fds (Node *node)
{
	g_autofree char *path = g_strdup_printf ("/proc/%d/fd", node->daemon->pid);
	g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
	guint n = 0;

	g_assert_nonnull (dir);
	while (g_dir_read_name (dir) != NULL)
		n++;
	return n;
}

/* Waits (bounded) until the output log has @n lines of query @query;
 * returns the sequence numbers of those lines. */
static GArray *
wait_outputs (Node *node, const char *query, guint n)
{
	g_autofree char *needle = g_strdup_printf ("\"query\":\"%s\"", query);

	for (guint attempt = 0; attempt < TANDEM_TEST_TIMEOUT_S * 20; attempt++) {
		g_autofree char *text = NULL;
		g_auto(GStrv) lines = NULL;
		g_autoptr(GArray) seqs = g_array_new (FALSE, FALSE, sizeof (guint64));

		if (g_file_get_contents (node->out_log, &text, NULL, NULL)) {
			lines = g_strsplit (text, "\n", -1);
			for (guint i = 0; lines[i] != NULL; i++) {
				const char *seq = strstr (lines[i], "\"seq\":");
				guint64 v;

				if (strstr (lines[i], needle) == NULL || seq == NULL)
					continue;
				v = g_ascii_strtoull (seq + strlen ("\"seq\":"), NULL, 10);
				g_array_append_val (seqs, v);
			}
			if (seqs->len >= n)
				return g_steal_pointer (&seqs);
		}
		g_usleep (50 * 1000);
	}
	g_error ("fewer than %u outputs of %s in %s", n, query, node->out_log);
	return NULL;
}

static char *
read_outputs (Node *node)
{
	g_autofree char *text = NULL;

	if (!g_file_get_contents (node->out_log, &text, NULL, NULL))
		return g_strdup ("");
	return g_steal_pointer (&text);
}

/* --- an HTTP/1.1 client over plain sockets --------------------------------- */

typedef struct {
	GSocketConnection *tcp;
	GIOStream *stream; /* tcp, or TLS over it */
	GSocket *socket;
	GByteArray *buffer; /* read, not yet consumed */
} Client;

typedef struct {
	guint status;
	GHashTable *headers; /* lower-case name -> value */
	char *body;
	JsonObject *json; /* the body, when it is a JSON object */
	JsonNode *root;
} Response;

static void
client_free (Client *c)
{
	if (c->stream != NULL)
		g_io_stream_close (c->stream, NULL, NULL);
	g_clear_object (&c->stream);
	g_clear_object (&c->tcp);
	g_byte_array_unref (c->buffer);
	g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Client, client_free)

static void
response_free (Response *r)
{
	g_hash_table_unref (r->headers);
	g_free (r->body);
	g_clear_pointer (&r->root, json_node_unref);
	g_free (r);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Response, response_free)

static gboolean
accept_any_certificate (GTlsConnection *tls,
			GTlsCertificate *cert,
			GTlsCertificateFlags errors,
			gpointer data)
{
	return TRUE; /* the test's own self-signed certificate */
}

static Client *
client_connect (Node *node, gboolean tls)
{
	g_autoptr(GSocketClient) sc = g_socket_client_new ();
	g_autoptr(GError) error = NULL;
	Client *c = g_new0 (Client, 1);

	c->buffer = g_byte_array_new ();
	c->tcp = g_socket_client_connect_to_host (sc, "127.0.0.1", node->port, NULL, &error);
	g_assert_no_error (error);
	c->socket = g_socket_connection_get_socket (c->tcp);
	g_socket_set_timeout (c->socket, TANDEM_TEST_TIMEOUT_S);
	if (!tls) {
		c->stream = G_IO_STREAM (g_object_ref (c->tcp));
		return c;
	}
	c->stream = g_tls_client_connection_new (G_IO_STREAM (c->tcp), NULL, &error);
	g_assert_no_error (error);
	g_signal_connect (c->stream, "accept-certificate", G_CALLBACK (accept_any_certificate),
			  NULL);
	g_tls_connection_handshake (G_TLS_CONNECTION (c->stream), NULL, &error);
	g_assert_no_error (error);
	return c;
}

static gboolean
client_send (Client *c, const void *data, gsize length)
{
	return g_output_stream_write_all (g_io_stream_get_output_stream (c->stream), data, length,
					  NULL, NULL, NULL);
}

/* Reads more into c->buffer; FALSE at the end of the stream (or on error). */
static gboolean
client_fill (Client *c)
{
	guint8 chunk[16384];
	gssize n = g_input_stream_read (g_io_stream_get_input_stream (c->stream), chunk,
					sizeof chunk, NULL, NULL);

	if (n <= 0)
		return FALSE;
	g_byte_array_append (c->buffer, chunk, (guint) n);
	return TRUE;
}

/* TRUE when the server closed the connection (bounded wait). */
static gboolean
client_closed_by_server (Client *c)
{
	while (client_fill (c))
		g_byte_array_set_size (c->buffer, 0);
	return TRUE;
}

/* Reads one response; NULL if the connection ends first. */
static Response *
client_read_response (Client *c)
{
	Response *r;
	const char *end = NULL;
	g_auto(GStrv) lines = NULL;
	g_autofree char *head = NULL;
	const char *length;
	gsize head_len;
	gsize body_len;

	for (;;) {
		end = c->buffer->len > 0 ? g_strstr_len ((const char *) c->buffer->data,
							 c->buffer->len, "\r\n\r\n")
					 : NULL;
		if (end != NULL)
			break;
		if (!client_fill (c))
			return NULL;
	}
	head_len = (gsize) (end - (const char *) c->buffer->data);
	head = g_strndup ((const char *) c->buffer->data, head_len);
	lines = g_strsplit (head, "\r\n", -1);
	r = g_new0 (Response, 1);
	r->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
	g_assert_true (g_str_has_prefix (lines[0], "HTTP/1.1 "));
	r->status = (guint) g_ascii_strtoull (lines[0] + strlen ("HTTP/1.1 "), NULL, 10);
	for (guint i = 1; lines[i] != NULL; i++) {
		const char *colon = strchr (lines[i], ':');

		g_assert_nonnull (colon);
		g_hash_table_insert (r->headers, g_ascii_strdown (lines[i], colon - lines[i]),
				     g_strstrip (g_strdup (colon + 1)));
	}
	length = g_hash_table_lookup (r->headers, "content-length");
	body_len = length != NULL ? g_ascii_strtoull (length, NULL, 10) : 0;
	while (c->buffer->len < head_len + 4 + body_len) {
		if (!client_fill (c))
			g_error ("the connection ended in a response body");
	}
	r->body = g_strndup ((const char *) c->buffer->data + head_len + 4, body_len);
	g_byte_array_remove_range (c->buffer, 0, (guint) (head_len + 4 + body_len));
	if (g_str_has_prefix (r->body, "{")) {
		g_autoptr(JsonParser) parser = json_parser_new ();

		g_assert_true (json_parser_load_from_data (parser, r->body, -1, NULL));
		r->root = json_node_ref (json_parser_get_root (parser));
		r->json = json_node_get_object (r->root);
	}
	return r;
}

/* Sends a request on @c and reads the answer. */
static Response *
client_request (Client *c,
		const char *method,
		const char *path,
		const char *content_type,
		const char *headers,
		const char *body)
{
	g_autoptr(GString) request = g_string_new (NULL);

	g_string_append_printf (request, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path);
	if (content_type != NULL)
		g_string_append_printf (request, "Content-Type: %s\r\n", content_type);
	if (headers != NULL)
		g_string_append (request, headers);
	g_string_append_printf (request, "Content-Length: %" G_GSIZE_FORMAT "\r\n\r\n%s",
				body != NULL ? strlen (body) : 0, body != NULL ? body : "");
	g_assert_true (client_send (c, request->str, request->len));
	return client_read_response (c);
}

/* One request on a new connection. */
static Response *
post (Node *node, const char *path, const char *content_type, const char *headers, const char *body)
{
	g_autoptr(Client) c = client_connect (node, FALSE);

	return client_request (c, "POST", path, content_type, headers, body);
}

static Response *
post_json (Node *node, const char *body)
{
	return post (node, "/endpoints/stock", "application/json", NULL, body);
}

static void
assert_accepted (Response *r, guint accepted, guint64 first_seq, guint n_new)
{
	if (r->status != 202)
		g_error ("expected 202, got %u: %s", r->status, r->body);
	g_assert_cmpstr (g_hash_table_lookup (r->headers, "content-type"), ==, "application/json");
	g_assert_cmpint (json_object_get_int_member (r->json, "accepted"), ==, accepted);
	if (first_seq != 0)
		g_assert_cmpint (json_object_get_int_member (r->json, "first_seq"), ==,
				 (gint64) first_seq);
	g_assert_cmpint (json_object_get_int_member (r->json, "new"), ==, n_new);
}

/* An error answer: @status, JSON {"error", "detail"} with @detail in it. */
static void
assert_refused (Response *r, guint status, const char *error, const char *detail)
{
	if (r->status != status)
		g_error ("expected %u, got %u: %s", status, r->status, r->body);
	g_assert_cmpstr (g_hash_table_lookup (r->headers, "content-type"), ==, "application/json");
	g_assert_nonnull (r->json);
	g_assert_cmpstr (json_object_get_string_member (r->json, "error"), ==, error);
	if (strstr (json_object_get_string_member (r->json, "detail"), detail) == NULL)
		g_error ("expected a detail with \"%s\", got \"%s\"", detail,
			 json_object_get_string_member (r->json, "detail"));
}

static guint64
first_seq (Response *r)
{
	return (guint64) json_object_get_int_member (r->json, "first_seq");
}

/* --- tests ----------------------------------------------------------------- */

static void
test_events_reach_the_plan (void)
{
	g_autoptr(Node) node = node_start (plan_stock, NULL, NULL);
	g_autoptr(GArray) seqs = NULL;
	g_autoptr(Response) r = NULL;
	g_autofree char *out = NULL;
	guint64 seq;

	/* a WSO2 event */
	r = post_json (node, WSO2_EVENT ("IBM", "100"));
	assert_accepted (r, 1, 0, 1);
	seq = first_seq (r);
	g_clear_pointer (&r, response_free);

	/* an array of WSO2 and flat events, on the tenant path and the
	 * versioned endpoint */
	r = post (node, "/endpoints/t/carbon.super/versioned", "application/json; charset=utf-8",
		  NULL, "[" WSO2_EVENT ("A", "1") "," FLAT_EVENT ("B", "2") "]");
	assert_accepted (r, 2, seq + 1, 2);
	g_clear_pointer (&r, response_free);

	/* NDJSON, with an event time */
	r = post (
		node, "/endpoints/stock", "application/x-ndjson", NULL,
		FLAT_EVENT (
			"C",
			"3") "\n\n"
			     "{\"meta_host\":\"h3\",\"correlation_rid\":9,\"symbol\":\"D\",\"price\":2,\"volume\":4,"
			     "\"timestamp\":1700000000000}\n");
	assert_accepted (r, 2, seq + 3, 2);
	g_clear_pointer (&r, response_free);

	/* no Content-Type: JSON */
	r = post (node, "/endpoints/stock", NULL, NULL, FLAT_EVENT ("E", "5"));
	assert_accepted (r, 1, seq + 5, 1);

	/* the plan saw every event, in order, with its sequence number */
	seqs = wait_outputs (node, "count", 6);
	g_assert_cmpuint (seqs->len, ==, 6);
	for (guint i = 0; i < seqs->len; i++)
		g_assert_cmpuint (g_array_index (seqs, guint64, i), ==, seq + i);
	out = read_outputs (node);
	g_assert_nonnull (strstr (out, "\"data\":[\"h1\",7,\"IBM\",10.5,100]"));
	g_assert_nonnull (strstr (out, "\"data\":[\"h2\",8,\"B\",1.25,2]"));
	g_assert_nonnull (strstr (out, "\"timestamp\":1700000000000,"));
	node_stop (node);
}

static void
test_keep_alive (void)
{
	g_autoptr(Node) node = node_start (plan_stock, NULL, NULL);
	g_autoptr(Client) c = client_connect (node, FALSE);
	guint fds;

	/* many requests on one connection, errors included */
	for (guint i = 0; i < 20; i++) {
		g_autoptr(Response) r =
			client_request (c, "POST", "/endpoints/stock", "application/json", NULL,
					i % 5 == 4 ? "{" : FLAT_EVENT ("K", "1"));

		g_assert_nonnull (r);
		g_assert_cmpuint (r->status, ==, i % 5 == 4 ? 400 : 202);
	}
	g_clear_pointer (&c, client_free);
	g_array_unref (wait_outputs (node, "count", 16));

	/* clients that close kept-alive connections leave nothing open
	 * behind (libsoup 3.2 alone would leak each of them) */
	fds = node_open_fds (node);
	for (guint i = 0; i < 50; i++) {
		g_autoptr(Response) r = post_json (node, FLAT_EVENT ("L", "1"));

		assert_accepted (r, 1, 0, 1);
	}
	for (guint i = 0; i < 40 && node_open_fds (node) > fds; i++)
		g_usleep (50 * 1000);
	g_assert_cmpuint (node_open_fds (node), <=, fds);
	node_stop (node);
}

static void
test_status_codes (void)
{
	g_autoptr(Node) node = node_start (plan_stock, NULL,
					    "max_body_bytes = 2048\nmax_events_per_request = 3\n");
	g_autoptr(Client) c = client_connect (node, FALSE);
	g_autoptr(GString) big = g_string_new ("[");
	Response *r;

	/* 400: not JSON, with line and column */
	r = post (node, "/endpoints/stock", "application/json", NULL,
		  "[\n" FLAT_EVENT ("A", "1") ",\n]");
	assert_refused (r, 400, "malformed JSON",
			"line 3, column 1: expected an event object, got ']'");
	response_free (r);
	r = post (node, "/endpoints/stock", "application/json", NULL, "{\"volume\":0x10}");
	assert_refused (r, 400, "malformed JSON", "line 1, column 11: invalid number");
	response_free (r);

	/* 422: the event and the attribute */
	r = post_json (
		node,
		"[" FLAT_EVENT ("A",
				"1") ",{\"meta_host\":\"h\",\"correlation_rid\":1,\"symbol\":\"S\","
				     "\"price\":\"cheap\",\"volume\":1}]");
	assert_refused (r, 422, "invalid event",
			"event 1: attribute 'price': expected a float, got \"cheap\"");
	response_free (r);
	r = post_json (node,
		       "{\"meta_host\":\"h\",\"correlation_rid\":1,\"symbol\":\"S\",\"price\":1}");
	assert_refused (r, 422, "invalid event", "event 0: attribute 'volume' is missing");
	response_free (r);
	r = post_json (node,
		       "{\"meta_host\":\"h\",\"correlation_rid\":1,\"symbol\":\"S\",\"price\":1,"
		       "\"volume\":9223372036854775808}");
	assert_refused (r, 422, "invalid event",
			"integer 9223372036854775808 is out of the 64-bit range");
	response_free (r);
	r = post (node, "/endpoints/stock", "application/x-ndjson", NULL,
		  FLAT_EVENT ("A",
			      "1") "\n{\"meta_host\":null,\"correlation_rid\":1,\"symbol\":\"S\","
				   "\"price\":1,\"volume\":true}\n");
	assert_refused (r, 422, "invalid event",
			"line 2 (event 1): attribute 'volume': expected a long, got true");
	response_free (r);

	/* 404: unknown receiver */
	r = post (node, "/endpoints/nope", "application/json", NULL, FLAT_EVENT ("A", "1"));
	assert_refused (r, 404, "not found", "no receiver at /endpoints/nope");
	response_free (r);
	r = post (node, "/", "application/json", NULL, FLAT_EVENT ("A", "1"));
	assert_refused (r, 404, "not found", "no receiver at /");
	response_free (r);

	/* 405: wrong method, with Allow */
	r = client_request (c, "GET", "/endpoints/stock", NULL, NULL, NULL);
	assert_refused (r, 405, "method not allowed", "method GET is not allowed");
	g_assert_cmpstr (g_hash_table_lookup (r->headers, "allow"), ==, "POST");
	response_free (r);

	/* 415: another Content-Type, or another charset */
	r = client_request (c, "POST", "/endpoints/stock", "application/x-www-form-urlencoded",
			    NULL, "a=1");
	assert_refused (r, 415, "unsupported media type",
			"Content-Type application/x-www-form-urlencoded");
	response_free (r);
	r = client_request (c, "POST", "/endpoints/stock", "application/json; charset=latin1", NULL,
			    "{}");
	assert_refused (r, 415, "unsupported media type", "charset latin1 is not supported");
	response_free (r);

	/* 413: too many events, or a body larger than max_body_bytes */
	r = client_request (c, "POST", "/endpoints/stock", "application/json", NULL,
			    "[" FLAT_EVENT ("A", "1") "," FLAT_EVENT ("A", "1") "," FLAT_EVENT (
				    "A", "1") "," FLAT_EVENT ("A", "1") "]");
	assert_refused (r, 413, "payload too large", "more than 3 events in one request");
	response_free (r);
	while (big->len < 3000)
		g_string_append (big, FLAT_EVENT ("A", "1") ",");
	g_string_append (big, FLAT_EVENT ("A", "1") "]");
	r = post_json (node, big->str);
	assert_refused (r, 413, "payload too large", "Content-Length 3");
	g_assert_cmpstr (g_hash_table_lookup (r->headers, "connection"), ==, "close");
	response_free (r);

	/* the kept-alive connection still works after all these */
	r = client_request (c, "POST", "/endpoints/stock", "application/json", NULL,
			    FLAT_EVENT ("Z", "9"));
	assert_accepted (r, 1, 0, 1);
	response_free (r);
	node_stop (node);
}

/* Sends a request announcing (or chunking) 100 MB as fast as the server
 * takes it, until the server answers; returns the answer. */
static Response *
send_huge_body (Node *node, gboolean chunked, gsize *sent)
{
	g_autoptr(Client) c = client_connect (node, FALSE);
	g_autofree char *chunk = g_malloc (65536);
	const gsize total = 100 * 1024 * 1024;
	const char *head =
		chunked ? "POST /endpoints/stock HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			  "Transfer-Encoding: chunked\r\n\r\n"
			: "POST /endpoints/stock HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
			  "Content-Length: 104857600\r\n\r\n";

	memset (chunk, ' ', 65536);
	g_assert_true (client_send (c, head, strlen (head)));
	for (*sent = 0; *sent < total; *sent += 65536) {
		g_autofree char *size_line = g_strdup_printf ("%x\r\n", 65536);

		/* the answer came: stop sending */
		if (g_socket_condition_check (c->socket, G_IO_IN) != 0)
			break;
		if ((chunked && !client_send (c, size_line, strlen (size_line))) ||
		    !client_send (c, chunk, 65536) || (chunked && !client_send (c, "\r\n", 2)))
			break;
	}
	return client_read_response (c);
}

static void
test_huge_body (void)
{
	g_autoptr(Node) node = node_start (plan_stock, NULL, NULL);
	g_autoptr(Response) r = NULL;
	guint64 rss_before;
	guint64 rss_after;
	gsize sent = 0;

	/* warm up, so that the first request's allocations are not counted */
	r = post_json (node, FLAT_EVENT ("W", "1"));
	assert_accepted (r, 1, 0, 1);
	g_clear_pointer (&r, response_free);
	rss_before = node_rss_kib (node);

	/* announced by Content-Length: refused from the headers */
	r = send_huge_body (node, FALSE, &sent);
	g_assert_nonnull (r);
	assert_refused (r, 413, "payload too large",
			"Content-Length 104857600 is larger than max_body_bytes (1048576 bytes)");
	g_test_message ("Content-Length: answered after %" G_GSIZE_FORMAT " bytes sent", sent);
	g_assert_cmpuint (sent, <, 50 * 1024 * 1024);
	g_clear_pointer (&r, response_free);

	/* chunked: refused as soon as the limit is passed */
	r = send_huge_body (node, TRUE, &sent);
	g_assert_nonnull (r);
	assert_refused (r, 413, "payload too large",
			"the body is larger than max_body_bytes (1048576 bytes)");
	g_test_message ("chunked: answered after %" G_GSIZE_FORMAT " bytes sent", sent);
	g_assert_cmpuint (sent, <, 50 * 1024 * 1024);
	g_clear_pointer (&r, response_free);

	rss_after = node_rss_kib (node);
	g_test_message ("VmRSS %" G_GUINT64_FORMAT " KiB before, %" G_GUINT64_FORMAT " KiB after",
			rss_before, rss_after);
	g_assert_cmpuint (rss_after, <, rss_before + 4096);

	/* and the node goes on */
	r = post_json (node, FLAT_EVENT ("W", "2"));
	assert_accepted (r, 1, 0, 1);
	node_stop (node);
}

static void
test_slow_clients (void)
{
	g_autoptr(Node) node =
		node_start (plan_stock, NULL, "header_timeout = 1\nidle_timeout = 2\n");
	g_autoptr(Client) trickle = client_connect (node, FALSE);
	g_autoptr(Client) slow_body = client_connect (node, FALSE);
	g_autoptr(Client) idle = client_connect (node, FALSE);
	const char *head =
		"POST /endpoints/stock HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
	gint64 start = g_get_monotonic_time ();
	gboolean dropped = FALSE;
	Response *r;

	/* a kept-alive connection with nothing more to say */
	r = client_request (idle, "POST", "/endpoints/stock", "application/json", NULL,
			    FLAT_EVENT ("I", "1"));
	assert_accepted (r, 1, 0, 1);
	response_free (r);
	/* a body that never completes */
	g_assert_true (client_send (slow_body, head, strlen (head)));
	g_assert_true (client_send (slow_body, "Content-Length: 100\r\n\r\n{", 24));

	/* headers trickled a byte at a time: dropped after header_timeout,
	 * while the node serves others */
	for (guint i = 0; i < 60 && !dropped; i++) {
		g_autoptr(Response) other = post_json (node, FLAT_EVENT ("O", "1"));

		assert_accepted (other, 1, 0, 1);
		dropped = !client_send (trickle, head + (i % strlen (head)), 1);
		g_usleep (100 * 1000);
		if (!dropped && g_socket_condition_check (trickle->socket, G_IO_IN | G_IO_HUP) != 0)
			dropped = client_closed_by_server (trickle);
	}
	g_assert_true (dropped);
	g_assert_cmpint (g_get_monotonic_time () - start, <, 4 * G_USEC_PER_SEC);
	g_assert_true (
		tandem_test_daemon_wait_log (node->daemon,
					     "request headers not complete within header_timeout"));

	/* the slow body and the idle connection are closed after idle_timeout */
	g_assert_true (client_closed_by_server (slow_body));
	g_assert_true (client_closed_by_server (idle));
	g_assert_cmpint (g_get_monotonic_time () - start, <, 8 * G_USEC_PER_SEC);
	g_assert_true (
		tandem_test_daemon_wait_log (node->daemon,
					     "request body not complete within idle_timeout"));
	node_stop (node);
}

static void
test_max_connections (void)
{
	g_autoptr(Node) node = node_start (plan_stock, NULL, "max_connections = 2\n");
	g_autoptr(Client) a = client_connect (node, FALSE);
	g_autoptr(Client) b = client_connect (node, FALSE);
	g_autoptr(Client) refused = NULL;
	g_autoptr(Response) r = NULL;

	r = client_request (a, "POST", "/endpoints/stock", "application/json", NULL,
			    FLAT_EVENT ("A", "1"));
	assert_accepted (r, 1, 0, 1);
	g_clear_pointer (&r, response_free);
	r = client_request (b, "POST", "/endpoints/stock", "application/json", NULL,
			    FLAT_EVENT ("B", "1"));
	assert_accepted (r, 1, 0, 1);
	g_clear_pointer (&r, response_free);

	/* a third connection is closed at once */
	refused = client_connect (node, FALSE);
	client_send (refused, "POST", 4);
	g_assert_null (client_read_response (refused));
	g_assert_true (
		tandem_test_daemon_wait_log (node->daemon,
					     "refusing connections: 2 open (max_connections)"));

	/* once one is gone, the next one is served */
	g_clear_pointer (&a, client_free);
	for (guint i = 0; i < 40 && r == NULL; i++) {
		g_autoptr(Client) c = client_connect (node, FALSE);

		r = client_request (c, "POST", "/endpoints/stock", "application/json", NULL,
				    FLAT_EVENT ("C", "1"));
		if (r == NULL)
			g_usleep (50 * 1000);
	}
	g_assert_nonnull (r);
	assert_accepted (r, 1, 0, 1);
	g_clear_pointer (&b, client_free);
	/* the refusal was warned about: that is expected here */
	g_assert_cmpint (kill (node->daemon->pid, SIGTERM), ==, 0);
	g_assert_true (tandem_test_daemon_wait (node->daemon));
}

static void
test_idempotency (void)
{
	g_autoptr(Node) node = node_start (plan_stock, NULL, NULL);
	const char *key = "Idempotency-Key: batch-42\r\n";
	const char *batch = "[" FLAT_EVENT ("A", "1") "," FLAT_EVENT ("B", "2") "]";
	g_autoptr(GArray) seqs = NULL;
	Response *r;
	guint64 seq;

	/* a request retried with its key: acknowledged again, not counted twice */
	r = post (node, "/endpoints/stock", "application/json", key, batch);
	assert_accepted (r, 2, 0, 2);
	seq = first_seq (r);
	response_free (r);
	r = post (node, "/endpoints/stock", "application/json", key, batch);
	assert_accepted (r, 2, seq, 0);
	response_free (r);

	/* events with ids: only the new ones are taken */
	r = post_json (
		node,
		"[{\"meta_host\":\"h\",\"correlation_rid\":1,\"symbol\":\"C\",\"price\":1,\"volume\":3,"
		"\"id\":\"ev-c\"},{\"meta_host\":\"h\",\"correlation_rid\":1,\"symbol\":\"D\",\"price\":1,"
		"\"volume\":4,\"id\":\"ev-d\"}]");
	assert_accepted (r, 2, seq + 2, 2);
	response_free (r);
	r = post_json (
		node,
		"{\"event\":{\"id\":\"ev-d\",\"metaData\":{\"host\":\"h\"},\"correlationData\":{\"rid\":1},"
		"\"payloadData\":{\"symbol\":\"D\",\"price\":1,\"volume\":4}}}");
	assert_accepted (r, 1, seq + 3, 0);
	response_free (r);
	r = post_json (
		node,
		"[{\"meta_host\":\"h\",\"correlation_rid\":1,\"symbol\":\"D\",\"price\":1,\"volume\":4,"
		"\"id\":\"ev-d\"},{\"meta_host\":\"h\",\"correlation_rid\":1,\"symbol\":\"E\",\"price\":1,"
		"\"volume\":5,\"id\":\"ev-e\"}]");
	assert_accepted (r, 2, seq + 3, 1);
	response_free (r);

	/* a bad key */
	r = post (node, "/endpoints/stock", "application/json", "Idempotency-Key: \r\n", batch);
	assert_refused (r, 400, "bad request", "Idempotency-Key must be 1-256 bytes");
	response_free (r);

	/* the plan saw A, B, C, D, E once each */
	seqs = wait_outputs (node, "count", 5);
	g_usleep (300 * 1000);
	g_array_unref (seqs);
	seqs = wait_outputs (node, "count", 5);
	g_assert_cmpuint (seqs->len, ==, 5);
	for (guint i = 0; i < 5; i++)
		g_assert_cmpuint (g_array_index (seqs, guint64, i), ==, seq + i);
	node_stop (node);
}

static char *
write_credentials (Node *node, const char *name, const char *text)
{
	g_autoptr(GError) error = NULL;
	char *path = g_build_filename (node->dir, name, NULL);

	g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_NONE, 0600, &error);
	g_assert_no_error (error);
	return path;
}

static void
test_auth_bearer (void)
{
	g_autoptr(Node) node = node_prepare (plan_stock, NULL, NULL);
	g_autofree char *file =
		write_credentials (node, "tokens", "# publishers\ns3cr3t-one\n\ns3cr3t-two\n");
	g_autofree char *extra = g_strdup_printf ("auth = bearer\ncredentials_file = %s\n", file);
	g_autofree char *conf = tandem_test_read_text (node->conf);
	g_autofree char *new_conf = g_strconcat (conf, extra, NULL);
	g_autofree char *log = NULL;
	Response *r;

	tandem_test_write_text (node->conf, new_conf);
	node_launch (node);

	r = post_json (node, FLAT_EVENT ("A", "1"));
	assert_refused (r, 401, "unauthorized", "missing or wrong credentials");
	g_assert_cmpstr (g_hash_table_lookup (r->headers, "www-authenticate"), ==,
			 "Bearer realm=\"tandem\"");
	response_free (r);
	r = post (node, "/endpoints/stock", "application/json",
		  "Authorization: Bearer s3cr3t-three\r\n", FLAT_EVENT ("A", "1"));
	g_assert_cmpuint (r->status, ==, 401);
	response_free (r);
	/* unknown paths answer 401 too: no receiver names leak */
	r = post (node, "/endpoints/secret", "application/json", NULL, FLAT_EVENT ("A", "1"));
	g_assert_cmpuint (r->status, ==, 401);
	response_free (r);
	r = post (node, "/endpoints/stock", "application/json",
		  "Authorization: Bearer s3cr3t-two\r\n", FLAT_EVENT ("A", "1"));
	assert_accepted (r, 1, 0, 1);
	response_free (r);
	r = post (node, "/endpoints/stock", "application/json",
		  "Authorization: bearer  s3cr3t-one\r\n", FLAT_EVENT ("A", "1"));
	assert_accepted (r, 1, 0, 1);
	response_free (r);
	node_stop (node);

	/* the tokens are never logged */
	log = tandem_test_read_text (node->daemon->log_path);
	g_assert_null (strstr (log, "s3cr3t"));
}

static void
test_auth_basic (void)
{
	g_autoptr(Node) node = node_prepare (plan_stock, NULL, NULL);
	g_autofree char *file = write_credentials (node, "users", "alice:wonder:land\nbob:\n");
	g_autofree char *extra = g_strdup_printf ("auth = basic\ncredentials_file = %s\n", file);
	g_autofree char *conf = tandem_test_read_text (node->conf);
	g_autofree char *new_conf = g_strconcat (conf, extra, NULL);
	g_autofree char *alice = g_base64_encode ((const guchar *) "alice:wonder:land", 17);
	g_autofree char *mallory = g_base64_encode ((const guchar *) "alice:wonder", 12);
	g_autofree char *bob = g_base64_encode ((const guchar *) "bob:", 4);
	g_autofree char *header = NULL;
	Response *r;

	tandem_test_write_text (node->conf, new_conf);
	node_launch (node);

	r = post_json (node, FLAT_EVENT ("A", "1"));
	assert_refused (r, 401, "unauthorized", "missing or wrong credentials");
	g_assert_cmpstr (g_hash_table_lookup (r->headers, "www-authenticate"), ==,
			 "Basic realm=\"tandem\", charset=\"UTF-8\"");
	response_free (r);
	header = g_strdup_printf ("Authorization: Basic %s\r\n", mallory);
	r = post (node, "/endpoints/stock", "application/json", header, FLAT_EVENT ("A", "1"));
	g_assert_cmpuint (r->status, ==, 401);
	response_free (r);
	g_free (header);
	header = g_strdup_printf ("Authorization: Basic %s\r\n", alice);
	r = post (node, "/endpoints/stock", "application/json", header, FLAT_EVENT ("A", "1"));
	assert_accepted (r, 1, 0, 1);
	response_free (r);
	g_free (header);
	header = g_strdup_printf ("Authorization: Basic %s\r\n", bob);
	r = post (node, "/endpoints/stock", "application/json", header, FLAT_EVENT ("A", "1"));
	assert_accepted (r, 1, 0, 1);
	response_free (r);
	/* a Bearer token is not a password */
	r = post (node, "/endpoints/stock", "application/json",
		  "Authorization: Bearer alice:wonder:land\r\n", FLAT_EVENT ("A", "1"));
	g_assert_cmpuint (r->status, ==, 401);
	response_free (r);
	node_stop (node);
}

static gboolean
have_program (const char *name)
{
	g_autofree char *path = g_find_program_in_path (name);

	return path != NULL;
}

static void
test_tls (void)
{
	g_autoptr(Node) node = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *cert = NULL;
	g_autofree char *key = NULL;
	g_autofree char *extra = NULL;
	g_autofree char *curl_out = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(Client) c = NULL;
	g_autoptr(Client) plain = NULL;
	int status = -1;
	Response *r;

	if (!have_program ("openssl")) {
		g_test_skip ("openssl not found: cannot make a certificate");
		return;
	}
	dir = tandem_test_make_tmpdir ("tandem-test-http-tls-XXXXXX");
	cert = g_build_filename (dir, "cert.pem", NULL);
	key = g_build_filename (dir, "key.pem", NULL);
	{
		const char *argv[] = { "openssl",
				       "req",
				       "-x509",
				       "-newkey",
				       "ec",
				       "-pkeyopt",
				       "ec_paramgen_curve:prime256v1",
				       "-nodes",
				       "-keyout",
				       key,
				       "-out",
				       cert,
				       "-days",
				       "1",
				       "-subj",
				       "/CN=127.0.0.1",
				       "-addext",
				       "subjectAltName=IP:127.0.0.1",
				       NULL };

		g_spawn_sync (NULL, (char **) argv, NULL,
			      G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
				      G_SPAWN_STDERR_TO_DEV_NULL,
			      NULL, NULL, NULL, NULL, &status, &error);
		g_assert_no_error (error);
		g_assert_true (g_spawn_check_wait_status (status, NULL));
	}
	extra = g_strdup_printf ("tls_certificate = %s\ntls_key = %s\n", cert, key);
	node = node_start (plan_stock, NULL, extra);

	/* HTTPS, kept alive */
	c = client_connect (node, TRUE);
	for (guint i = 0; i < 3; i++) {
		r = client_request (c, "POST", "/endpoints/stock", "application/json", NULL,
				    FLAT_EVENT ("T", "1"));
		assert_accepted (r, 1, 0, 1);
		response_free (r);
	}
	r = client_request (c, "POST", "/endpoints/stock", "application/json", NULL, "{");
	assert_refused (r, 400, "malformed JSON", "line 1, column 2");
	response_free (r);

	/* plain HTTP on the TLS port goes nowhere */
	plain = client_connect (node, FALSE);
	r = client_request (plain, "POST", "/endpoints/stock", "application/json", NULL,
			    FLAT_EVENT ("P", "1"));
	g_assert_null (r);

	/* curl trusts the certificate it is given */
	if (have_program ("curl")) {
		g_autofree char *url =
			g_strdup_printf ("https://127.0.0.1:%u/endpoints/stock", node->port);
		const char *argv[] = { "curl",
				       "-sS",
				       "--cacert",
				       cert,
				       "-H",
				       "Content-Type: application/json",
				       "--data-binary",
				       FLAT_EVENT ("U", "1"),
				       url,
				       NULL };

		g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
			      &curl_out, NULL, &status, &error);
		g_assert_no_error (error);
		g_assert_true (g_spawn_check_wait_status (status, NULL));
		g_assert_true (g_str_has_prefix (curl_out, "{\"accepted\":1,\"first_seq\":"));
	}
	g_clear_pointer (&c, client_free);
	g_clear_pointer (&plain, client_free);
	g_array_unref (wait_outputs (node, "count", have_program ("curl") ? 4 : 3));
	node_stop (node);
	tandem_test_rm_rf (dir);
}

static void
test_busy (void)
{
	g_autoptr(Node) node = node_start (plan_slow, "queue_size = 50\n", NULL);
	g_autoptr(GString) batch = g_string_new ("[");
	g_autoptr(GArray) seqs = NULL;
	guint accepted = 0;
	guint refused = 0;

	for (guint i = 0; i < 49; i++)
		g_string_append (batch, FLAT_EVENT ("S", "1") ",");
	g_string_append (batch, FLAT_EVENT ("S", "1") "]");

	/* the plan slows down with every event: the queue fills up, and the
	 * receiver answers 503 with Retry-After instead of taking more */
	for (guint i = 0; i < 400 && refused == 0; i++) {
		g_autoptr(Response) r = post_json (node, batch->str);

		if (r->status == 503) {
			assert_refused (r, 503, "unavailable", "retry later");
			g_assert_cmpstr (g_hash_table_lookup (r->headers, "retry-after"), ==, "1");
			refused++;
		} else {
			assert_accepted (r, 50, 0, 50);
			accepted++;
		}
	}
	g_assert_cmpuint (refused, >, 0);
	g_test_message ("%u batches accepted before a 503", accepted);

	/* every accepted event is processed, once; refused ones never */
	seqs = wait_outputs (node, "count", accepted * 50);
	g_assert_cmpuint (seqs->len, ==, accepted * 50);
	for (guint i = 1; i < seqs->len; i++)
		g_assert_cmpuint (g_array_index (seqs, guint64, i), ==,
				  g_array_index (seqs, guint64, i - 1) + 1);
	node_stop (node);
}

/* tandemd --check-config with the receiver section @receiver. */
static char *
check_config (Node *node, const char *receiver, int *status)
{
	g_autoptr(GSubprocessLauncher) launcher =
		tandem_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
						  G_SUBPROCESS_FLAGS_STDERR_MERGE,
					  plugin_dir);
	g_autoptr(GSubprocess) proc = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *plans = g_build_filename (node->dir, "plans", NULL);
	g_autofree char *config =
		g_strdup_printf ("[engine]\nplans = %s\n[receiver.web]\nplugin = http\n%s", plans,
				 receiver);
	char *out = NULL;

	tandem_test_write_text (node->conf, config);
	proc = g_subprocess_launcher_spawn (launcher, &error, tandemd, "--config", node->conf,
					    "--check-config", NULL);
	g_assert_no_error (error);
	g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, NULL, &error);
	g_assert_no_error (error);
	*status = g_subprocess_get_exit_status (proc);
	return out;
}

static void
test_config_errors (void)
{
	g_autoptr(Node) node = node_prepare (plan_stock, NULL, NULL);
	static const struct {
		const char *receiver;
		const char *message;
	} cases[] = {
		{ "endpoints = stock=NoSuchStream\n",
		  ":5: key 'endpoints' in [receiver.web]: receiver stock: the node has no stream NoSuchStream" },
		{ "endpoints = stock=StockStream:2.0\n",
		  ":5: key 'endpoints' in [receiver.web]: receiver stock: the node has no stream StockStream:2.0" },
		{ "endpoints = stock\n",
		  "expected RECEIVER=STREAM or RECEIVER=STREAM:VERSION, got \"stock\"" },
		{ "endpoints = a/b=StockStream\n", "receiver name \"a/b\": expected 1-64 letters" },
		{ "endpoints = s=StockStream, s=StockStream\n", "receiver s is listed twice" },
		{ "port = 80\n", ":3: section [receiver.web]: expected at least one endpoint" },
		{ "endpoints = s=StockStream\nport = 70000\n",
		  ":6: key 'port' in [receiver.web]: expected an integer 0-65535, got \"70000\"" },
		{ "endpoints = s=StockStream\naddress = localhost\n",
		  ":6: key 'address' in [receiver.web]: expected an IPv4 or IPv6 address, got \"localhost\"" },
		{ "endpoints = s=StockStream\nauth = bearer\n",
		  ":6: key 'auth' in [receiver.web]: auth = bearer needs credentials_file" },
		{ "endpoints = s=StockStream\nauth = digest\n",
		  ":6: key 'auth' in [receiver.web]: expected one of none, bearer, basic, got \"digest\"" },
		{ "endpoints = s=StockStream\nauth = basic\ncredentials_file = /nonexistent/users\n",
		  ":7: key 'credentials_file' in [receiver.web]: Failed to open file" },
		{ "endpoints = s=StockStream\ncredentials_file = /etc/hostname\n",
		  "not used with auth = none" },
		{ "endpoints = s=StockStream\ntls_key = /nonexistent/key.pem\n",
		  "tls_key needs tls_certificate" },
		{ "endpoints = s=StockStream\ntls_certificate = /nonexistent/cert.pem\n",
		  "key 'tls_certificate' in [receiver.web]" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		int status = 0;
		g_autofree char *out = check_config (node, cases[i].receiver, &status);

		if (status != 1 || strstr (out, cases[i].message) == NULL)
			g_error ("case %u: expected exit 1 and \"%s\", got %d:\n%s", i,
				 cases[i].message, status, out);
	}
	{
		int status = 0;
		g_autofree char *out =
			check_config (node, "endpoints = stock=StockStream, t=StockStream:1.0.0\n",
				      &status);

		if (status != 0)
			g_error ("a good config was refused:\n%s", out);
	}
}

int
main (int argc, char **argv)
{
	g_autofree char *copy = NULL;
	int rc;

	g_test_init (&argc, &argv, NULL);

	tandemd = g_getenv ("TANDEM_TEST_TANDEMD");
	g_assert_nonnull (tandemd);
	g_assert_nonnull (g_getenv ("TANDEM_TEST_HTTP_PLUGIN_DIR"));

	/* the loader refuses modules writable by others: load a copy with a
	 * known mode, whatever the umask of the build */
	plugin_dir = tandem_test_make_tmpdir ("tandem-test-http-plugins-XXXXXX");
	copy = tandem_test_copy_module (g_getenv ("TANDEM_TEST_HTTP_PLUGIN_DIR"), "tandem-http-receiver.so",
					plugin_dir, NULL, 0755);

	g_test_add_func ("/http-receiver/events-reach-the-plan", test_events_reach_the_plan);
	g_test_add_func ("/http-receiver/keep-alive", test_keep_alive);
	g_test_add_func ("/http-receiver/status-codes", test_status_codes);
	g_test_add_func ("/http-receiver/huge-body", test_huge_body);
	g_test_add_func ("/http-receiver/slow-clients", test_slow_clients);
	g_test_add_func ("/http-receiver/max-connections", test_max_connections);
	g_test_add_func ("/http-receiver/idempotency", test_idempotency);
	g_test_add_func ("/http-receiver/auth-bearer", test_auth_bearer);
	g_test_add_func ("/http-receiver/auth-basic", test_auth_basic);
	g_test_add_func ("/http-receiver/tls", test_tls);
	g_test_add_func ("/http-receiver/busy", test_busy);
	g_test_add_func ("/http-receiver/config-errors", test_config_errors);

	rc = g_test_run ();
	tandem_test_rm_rf (plugin_dir);
	g_free (plugin_dir);
	return rc;
}
