/* test-tcp-receiver.c: the tcp receiver plugin, against real tandemd processes
 *
 * Each test starts tandemd on 127.0.0.1 with the plugin (port = 0: the port
 * is read from the daemon's log), a plan and an output log, talks to it in
 * the frame format of plugins/receivers/tcp/README.md, and checks the
 * ACK/ERROR frames and what the plan wrote.  The heavier traffic goes
 * through bench/tcp-load.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "tandem-tcp-frame.h"
#include "tandem-test-util.h"

static const char *tandemd;
static const char *tcp_load;
static char *plugin_dir;

/* n and x (always >= 0) of stream S; every type in T */
static const char plan_basic[] =
	"@Plan:name('TcpTest')\n"
	"define stream S (n long, x int);\n"
	"define stream T (name string, v double, f float, ok bool, i int, l long);\n"
	"@info(name = 'count')\n"
	"from S select n, x insert into C;\n"
	"@info(name = 'types')\n"
	"from T select name, v, f, ok, i, l insert into U;\n";

/* every S event adds a partial match that every later one is checked
 * against (x is never < 0): the engine slows down as events arrive */
static const char plan_slow[] =
	"@Plan:name('Slow')\n"
	"define stream S (n long, x int);\n"
	"@info(name = 'slow')\n"
	"from every e1=S -> e2=S[e2.x < 0] select e1.x as x insert into O;\n"
	"@info(name = 'count')\n"
	"from S select n, x insert into C;\n";

/* --- a node ---------------------------------------------------------------- */

typedef struct {
	char *dir;
	char *conf;
	char *out_log;
	TandemTestDaemon *daemon;
	guint16 port;
} Node;

static char *
node_config (Node *node, const char *engine_extra, const char *receiver_extra)
{
	return g_strdup_printf ("[node]\nlog_level = info\n"
				"[engine]\nplans = %s/plans\noutput_log = %s\n%s"
				"[receiver.bin]\nplugin = tcp\naddress = 127.0.0.1\nport = 0\n%s",
				node->dir, node->out_log, engine_extra != NULL ? engine_extra : "",
				receiver_extra != NULL ? receiver_extra : "");
}

/* The line of @conf's config file where @key is set (the last time). */
static guint
config_line (Node *node, const char *key)
{
	g_autofree char *text = tandem_test_read_text (node->conf);
	g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
	g_autofree char *prefix = g_strdup_printf ("%s = ", key);
	guint found = 0;

	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix (lines[i], prefix))
			found = i + 1;
	}
	g_assert_cmpuint (found, >, 0);
	return found;
}

static Node *
node_prepare (const char *plan, const char *engine_extra, const char *receiver_extra)
{
	Node *node = g_new0 (Node, 1);
	g_autofree char *plans = NULL;
	g_autofree char *plan_file = NULL;
	g_autofree char *config = NULL;

	node->dir = tandem_test_make_tmpdir ("tandem-test-tcp-XXXXXX");
	node->conf = g_build_filename (node->dir, "tandem.conf", NULL);
	node->out_log = g_build_filename (node->dir, "outputs.jsonl", NULL);
	plans = g_build_filename (node->dir, "plans", NULL);
	g_assert_cmpint (g_mkdir (plans, 0755), ==, 0);
	plan_file = g_build_filename (plans, "plan.siddhiql", NULL);
	tandem_test_write_text (plan_file, plan);
	config = node_config (node, engine_extra, receiver_extra);
	tandem_test_write_text (node->conf, config);
	return node;
}

static void
node_launch (Node *node)
{
	g_autoptr (GSubprocessLauncher) launcher =
		tandem_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, plugin_dir);
	g_autofree char *state = g_build_filename (node->dir, "state", NULL);
	g_autofree char *log = NULL;
	const char *p;

	node->daemon = tandem_test_daemon_start (launcher, tandemd, node->dir, node->conf, state);
	g_assert_true (tandem_test_daemon_wait_notify (node->daemon, "READY=1"));
	log = tandem_test_read_text (node->daemon->log_path);
	p = strstr (log, "bin: listening on 127.0.0.1:");
	g_assert_nonnull (p);
	node->port =
		(guint16) g_ascii_strtoull (p + strlen ("bin: listening on 127.0.0.1:"), NULL, 10);
	g_assert_cmpuint (node->port, >, 0);
}

static Node *
node_start (const char *plan, const char *engine_extra, const char *receiver_extra)
{
	Node *node = node_prepare (plan, engine_extra, receiver_extra);

	node_launch (node);
	return node;
}

static gboolean
node_running (Node *node)
{
	return g_subprocess_get_identifier (node->daemon->proc) != NULL;
}

/* Stops the node with SIGTERM; it must exit cleanly. */
static void
node_stop (Node *node)
{
	kill (node->daemon->pid, SIGTERM);
	g_assert_true (tandem_test_daemon_wait (node->daemon));
	g_assert_true (g_subprocess_get_if_exited (node->daemon->proc));
	g_assert_cmpint (g_subprocess_get_exit_status (node->daemon->proc), ==, 0);
}

static void
node_free (Node *node)
{
	if (node->daemon != NULL)
		tandem_test_daemon_free (node->daemon);
	tandem_test_rm_rf (node->dir);
	g_free (node->dir);
	g_free (node->conf);
	g_free (node->out_log);
	g_free (node);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Node, node_free)

/* --- the output log -------------------------------------------------------- */

typedef struct {
	guint64 seq;
	char *data; /* the JSON array of values */
} Output;

static void
output_clear (Output *output)
{
	g_free (output->data);
}

/* The outputs of @query so far, in file order. */
static GArray *
read_outputs (Node *node, const char *query)
{
	GArray *outputs = g_array_new (FALSE, TRUE, sizeof (Output));
	g_autofree char *text = NULL;
	g_autofree char *needle = g_strdup_printf ("\"query\":\"%s\"", query);
	g_auto (GStrv) lines = NULL;

	g_array_set_clear_func (outputs, (GDestroyNotify) output_clear);
	if (!g_file_get_contents (node->out_log, &text, NULL, NULL))
		return outputs;
	lines = g_strsplit (text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		const char *seq = strstr (lines[i], "\"seq\":");
		const char *data = strstr (lines[i], "\"data\":");
		Output output;

		/* a line being written has no newline yet: only whole lines */
		if (strstr (lines[i], needle) == NULL || lines[i + 1] == NULL)
			continue;
		g_assert_nonnull (seq);
		g_assert_nonnull (data);
		g_assert_true (g_str_has_suffix (lines[i], "}"));
		output.seq = g_ascii_strtoull (seq + strlen ("\"seq\":"), NULL, 10);
		data += strlen ("\"data\":");
		output.data = g_strndup (data, strlen (data) - 1);
		g_array_append_val (outputs, output);
	}
	return outputs;
}

/* Waits (bounded) until @query has @count outputs; returns them. */
static GArray *
wait_outputs (Node *node, const char *query, guint count, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time () + (gint64) timeout_s * G_USEC_PER_SEC;

	for (;;) {
		GArray *outputs = read_outputs (node, query);

		if (outputs->len >= count || g_get_monotonic_time () > deadline)
			return outputs;
		g_array_unref (outputs);
		g_usleep (20 * 1000);
	}
}

/* --- a client -------------------------------------------------------------- */

static GSocket *
client_connect (Node *node)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
	g_autoptr (GSocketAddress) address = g_inet_socket_address_new (loopback, node->port);
	GSocket *socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
					G_SOCKET_PROTOCOL_TCP, &error);

	g_assert_no_error (error);
	g_socket_set_timeout (socket, 30);
	g_socket_connect (socket, address, NULL, &error);
	g_assert_no_error (error);
	return socket;
}

static void
client_send (GSocket *socket, const void *data, gsize len)
{
	g_autoptr (GError) error = NULL;
	gsize done = 0;

	while (done < len) {
		gssize n = g_socket_send (socket, (const char *) data + done, len - done, NULL,
					  &error);

		g_assert_no_error (error);
		done += (gsize) n;
	}
}

static void
client_send_buf (GSocket *socket, GByteArray *buf)
{
	client_send (socket, buf->data, buf->len);
}

/* Reads exactly @len bytes; returns how many arrived before end-of-stream. */
static gsize
client_recv (GSocket *socket, guint8 *buf, gsize len)
{
	gsize done = 0;

	while (done < len) {
		g_autoptr (GError) error = NULL;
		gssize n = g_socket_receive (socket, (char *) buf + done, len - done, NULL, &error);

		g_assert_no_error (error);
		if (n == 0)
			break;
		done += (gsize) n;
	}
	return done;
}

typedef struct {
	TandemTcpFrameType type;
	guint32 request_id;
	guint64 first_seq;
	guint32 count;
	guint32 n_new;
	guint16 code;
	char *reason;
} Reply;

static void
reply_clear (Reply *reply)
{
	g_clear_pointer (&reply->reason, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Reply, reply_clear)

/* Reads the next frame; FALSE at end-of-stream (between frames). */
static gboolean
client_read_reply (GSocket *socket, Reply *reply)
{
	guint8 head[4];
	g_autofree guint8 *frame = NULL;
	guint32 length;
	TandemTcpReply r;
	gsize n = client_recv (socket, head, 4);

	reply_clear (reply);
	if (n == 0)
		return FALSE;
	g_assert_cmpuint (n, ==, 4);
	length = tandem_tcp_get_u32 (head);
	g_assert_cmpuint (length, <=, 4096);
	frame = g_malloc (4 + length);
	memcpy (frame, head, 4);
	g_assert_cmpuint (client_recv (socket, frame + 4, length), ==, length);
	g_assert_true (tandem_tcp_parse_reply (frame, 4 + length, &r));
	reply->type = r.type;
	reply->request_id = r.request_id;
	reply->first_seq = r.first_seq;
	reply->count = r.count;
	reply->n_new = r.n_new;
	reply->code = r.code;
	if (r.type == TANDEM_TCP_FRAME_ERROR) {
		reply->reason = g_strndup (r.reason, r.reason_len);
		g_assert_true (g_utf8_validate (reply->reason, -1, NULL));
	}
	return TRUE;
}

static void
expect_ack (GSocket *socket, guint32 request_id, guint64 first_seq, guint32 count, guint32 n_new)
{
	g_auto (Reply) reply = { 0 };

	g_assert_true (client_read_reply (socket, &reply));
	if (reply.type == TANDEM_TCP_FRAME_ERROR)
		g_test_message ("unexpected ERROR %u: %s", reply.code, reply.reason);
	g_assert_cmpint (reply.type, ==, TANDEM_TCP_FRAME_ACK);
	g_assert_cmpuint (reply.request_id, ==, request_id);
	g_assert_cmpuint (reply.first_seq, ==, first_seq);
	g_assert_cmpuint (reply.count, ==, count);
	g_assert_cmpuint (reply.n_new, ==, n_new);
}

/* The next frame is an ERROR with @code for @request_id, whose reason
 * contains @needle; then the server ends the stream. */
static void
expect_error_then_eof (GSocket *socket,
		       guint32 request_id,
		       TandemTcpErrorCode code,
		       const char *needle)
{
	g_auto (Reply) reply = { 0 };
	guint8 byte;

	g_assert_true (client_read_reply (socket, &reply));
	g_assert_cmpint (reply.type, ==, TANDEM_TCP_FRAME_ERROR);
	g_test_message ("ERROR %u for request %u: %s", reply.code, reply.request_id, reply.reason);
	g_assert_cmpuint (reply.code, ==, code);
	g_assert_cmpuint (reply.request_id, ==, request_id);
	g_assert_nonnull (strstr (reply.reason, needle));
	g_assert_cmpuint (client_recv (socket, &byte, 1), ==, 0);
}

/* One EVENTS frame for S: events n = @first_n ... with x = n % 7 and
 * timestamp 1000 + n. */
static void
put_s_frame (GByteArray *buf, guint32 request_id, const char *key, gint64 first_n, guint count)
{
	guint offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);

	tandem_tcp_put_events_header (buf, request_id, "S", key, count);
	for (guint i = 0; i < count; i++) {
		gint64 n = first_n + i;

		tandem_tcp_put_event_start (buf, TRUE, 1000 + n, NULL);
		tandem_tcp_put_long (buf, n);
		tandem_tcp_put_int (buf, (gint32) (n % 7));
	}
	tandem_tcp_frame_end (buf, offset);
}

/* Runs bench/tcp-load; returns its stdout, asserting it succeeded. */
static char *
run_tcp_load (Node *node, const char *const *extra)
{
	g_autoptr (GSubprocessLauncher) launcher =
		tandem_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
						  G_SUBPROCESS_FLAGS_STDERR_PIPE,
					  plugin_dir);
	g_autoptr (GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *out = NULL;
	g_autofree char *err = NULL;

	g_ptr_array_add (argv, g_strdup (tcp_load));
	g_ptr_array_add (argv, g_strdup_printf ("--port=%u", node->port));
	for (guint i = 0; extra[i] != NULL; i++)
		g_ptr_array_add (argv, g_strdup (extra[i]));
	g_ptr_array_add (argv, NULL);
	proc = g_subprocess_launcher_spawnv (launcher, (const char *const *) argv->pdata, &error);
	g_assert_no_error (error);
	g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
	g_assert_no_error (error);
	g_test_message ("tcp-load: %s%s", out, err);
	g_assert_true (g_subprocess_get_if_exited (proc));
	g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 0);
	return g_steal_pointer (&out);
}

/* Every n in [0, @count) and every seq in [1, @count] appear exactly once. */
static void
assert_each_once (GArray *outputs, guint count)
{
	g_autofree guint8 *seen_n = g_new0 (guint8, count);
	g_autofree guint8 *seen_seq = g_new0 (guint8, count + 1);

	g_assert_cmpuint (outputs->len, ==, count);
	for (guint i = 0; i < outputs->len; i++) {
		Output *o = &g_array_index (outputs, Output, i);
		guint64 n = g_ascii_strtoull (o->data + 1, NULL, 10);

		g_assert_cmpuint (n, <, count);
		g_assert_cmpuint (o->seq, >=, 1);
		g_assert_cmpuint (o->seq, <=, count);
		g_assert_cmpuint (seen_n[n], ==, 0);
		g_assert_cmpuint (seen_seq[o->seq], ==, 0);
		seen_n[n] = 1;
		seen_seq[o->seq] = 1;
	}
}

/* --- tests ----------------------------------------------------------------- */

static char *
to_hex (GByteArray *buf)
{
	GString *s = g_string_new (NULL);

	for (guint i = 0; i < buf->len; i++)
		g_string_append_printf (s, "%02x", buf->data[i]);
	return g_string_free (s, FALSE);
}

/* The byte-level example of README.md. */
static void
test_frame_example (void)
{
	g_autoptr (GByteArray) buf = g_byte_array_new ();
	g_autofree char *events_hex = NULL;
	g_autofree char *ack_hex = NULL;
	guint offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);

	tandem_tcp_put_events_header (buf, 7, "S", NULL, 1);
	tandem_tcp_put_event_start (buf, TRUE, 1000, NULL);
	tandem_tcp_put_long (buf, 42);
	tandem_tcp_put_int (buf, 3);
	tandem_tcp_frame_end (buf, offset);
	events_hex = to_hex (buf);
	g_assert_cmpstr (events_hex, ==,
			 "00000026"
			 "01"
			 "01"
			 "00000007"
			 "0001"
			 "53"
			 "0000"
			 "00000001"
			 "01"
			 "00000000000003e8"
			 "02"
			 "000000000000002a"
			 "01"
			 "00000003");

	g_byte_array_set_size (buf, 0);
	tandem_tcp_put_ack (buf, 7, 1, 1, 1);
	ack_hex = to_hex (buf);
	g_assert_cmpstr (ack_hex, ==,
			 "00000016"
			 "01"
			 "02"
			 "00000007"
			 "0000000000000001"
			 "00000001"
			 "00000001");
}

static void
test_batches (void)
{
	g_autoptr (Node) node = node_start (plan_basic, NULL, NULL);
	g_autoptr (GSocket) socket = client_connect (node);
	g_autoptr (GByteArray) buf = g_byte_array_new ();
	g_autoptr (GArray) outputs = NULL;
	g_autoptr (GArray) typed = NULL;
	guint offset;
	gint64 before_ms, after_ms;

	/* three batches, one after the other: consecutive sequence numbers */
	for (guint b = 0; b < 3; b++) {
		g_byte_array_set_size (buf, 0);
		put_s_frame (buf, 10 + b, NULL, b * 5, 5);
		client_send_buf (socket, buf);
		expect_ack (socket, 10 + b, 1 + b * 5, 5, 5);
	}

	/* every type, nulls, non-ASCII text, and an event stamped on arrival */
	g_byte_array_set_size (buf, 0);
	offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
	tandem_tcp_put_events_header (buf, 20, "T:1.0.0", NULL, 3);
	tandem_tcp_put_event_start (buf, TRUE, 5000, NULL);
	tandem_tcp_put_string (buf, "h\xc3\xa9llo", -1);
	tandem_tcp_put_double (buf, 2.25);
	tandem_tcp_put_float (buf, 1.5f);
	tandem_tcp_put_bool (buf, TRUE);
	tandem_tcp_put_int (buf, -7);
	tandem_tcp_put_long (buf, G_GINT64_CONSTANT (9007199254740993));
	tandem_tcp_put_event_start (buf, TRUE, 5001, "id-1");
	for (guint k = 0; k < 6; k++)
		tandem_tcp_put_null (buf);
	tandem_tcp_put_event_start (buf, FALSE, 0, NULL);
	tandem_tcp_put_string (buf, "", 0);
	tandem_tcp_put_double (buf, -0.5);
	tandem_tcp_put_float (buf, 0.0f);
	tandem_tcp_put_bool (buf, FALSE);
	tandem_tcp_put_int (buf, G_MININT32);
	tandem_tcp_put_long (buf, G_MININT64);
	tandem_tcp_frame_end (buf, offset);
	before_ms = g_get_real_time () / 1000;
	client_send_buf (socket, buf);
	expect_ack (socket, 20, 16, 3, 3);
	after_ms = g_get_real_time () / 1000;

	outputs = wait_outputs (node, "count", 15, 10);
	g_assert_cmpuint (outputs->len, ==, 15);
	for (guint i = 0; i < 15; i++) {
		Output *o = &g_array_index (outputs, Output, i);
		g_autofree char *expected = g_strdup_printf ("[%u,%u]", i, i % 7);

		g_assert_cmpuint (o->seq, ==, i + 1);
		g_assert_cmpstr (o->data, ==, expected);
	}
	typed = wait_outputs (node, "types", 3, 10);
	g_assert_cmpuint (typed->len, ==, 3);
	g_assert_cmpuint (g_array_index (typed, Output, 0).seq, ==, 16);
	g_assert_cmpstr (g_array_index (typed, Output, 0).data, ==,
			 "[\"h\xc3\xa9llo\",2.25,1.5,true,-7,9007199254740993]");
	g_assert_cmpstr (g_array_index (typed, Output, 1).data, ==,
			 "[null,null,null,null,null,null]");
	g_assert_cmpstr (g_array_index (typed, Output, 2).data, ==,
			 "[\"\",-0.5,0.0,false,-2147483648,-9223372036854775808]");
	{
		/* the receiver stamped the third event when it arrived */
		g_autofree char *text = tandem_test_read_text (node->out_log);
		const char *line = strstr (text, "\"seq\":18");
		const char *ts;
		gint64 stamp;

		g_assert_nonnull (line);
		while (line > text && line[-1] != '\n')
			line--;
		ts = strstr (line, "\"timestamp\":");
		g_assert_nonnull (ts);
		stamp = g_ascii_strtoll (ts + strlen ("\"timestamp\":"), NULL, 10);
		g_assert_cmpint (stamp, >=, before_ms);
		g_assert_cmpint (stamp, <=, after_ms);
	}
	node_stop (node);
}

/* 40 frames in one write, then tcp-load: @events in frames of @batch on
 * @connections connections, 16 frames in flight each; every ACK in
 * request order with its batch's first seq, every event once */
static void
check_pipelined (Node *node, guint events, guint batch, guint connections)
{
	g_autoptr (GSocket) socket = client_connect (node);
	g_autoptr (GByteArray) buf = g_byte_array_new ();
	g_autoptr (GArray) outputs = NULL;
	g_autofree char *out = NULL;
	g_autofree char *events_arg = g_strdup_printf ("--events=%u", events);
	g_autofree char *batch_arg = g_strdup_printf ("--batch=%u", batch);
	g_autofree char *conns_arg = g_strdup_printf ("--connections=%u", connections);
	g_autofree char *expected = g_strdup_printf ("acked=%u new=%u seq_min=201 seq_max=%u ", events, events,
						     200 + events);
	const char *const load[] = { "--stream=S", "--types=long,int", events_arg, batch_arg, "--window=16",
				     conns_arg, "--first=200", "--timeout=60", NULL };

	for (guint b = 0; b < 40; b++)
		put_s_frame (buf, 100 + b, NULL, b * 5, 5);
	client_send_buf (socket, buf);
	for (guint b = 0; b < 40; b++)
		expect_ack (socket, 100 + b, 1 + b * 5, 5, 5);
	outputs = wait_outputs (node, "count", 200, 10);
	assert_each_once (outputs, 200);

	out = run_tcp_load (node, load);
	g_assert_nonnull (strstr (out, expected));
	g_clear_pointer (&outputs, g_array_unref);
	outputs = wait_outputs (node, "count", 200 + events, 30);
	assert_each_once (outputs, 200 + events);
}

static void
test_pipelined (void)
{
	g_autoptr (Node) node = node_start (plan_basic, NULL, NULL);

	check_pipelined (node, 20000, 100, 3);
	node_stop (node);
}

/* ack = durable: every batch waits for the event store's commit after it
 * is sequenced, and the receiver hands the next ones over meanwhile; the
 * ACKs still come in request order, each with its batch's first seq */
static void
test_pipelined_durable (void)
{
	g_autoptr (Node) node = node_start (plan_basic, NULL,
					    "\n[cluster]\nack = durable\n\n[store.db]\nplugin = gda\n");
	g_autofree char *log = NULL;

	check_pipelined (node, 5000, 50, 2);
	node_stop (node);
	log = tandem_test_read_text (node->daemon->log_path);
	g_assert_nonnull (strstr (log, "[store.db]: writing to SQLite database"));
}

static void
test_idempotency_key (void)
{
	g_autoptr (Node) node = node_start (plan_basic, NULL, NULL);
	g_autoptr (GSocket) socket = client_connect (node);
	g_autoptr (GSocket) other = NULL;
	g_autoptr (GByteArray) buf = g_byte_array_new ();
	g_autoptr (GArray) outputs = NULL;

	put_s_frame (buf, 1, "batch-1", 0, 3);
	client_send_buf (socket, buf);
	expect_ack (socket, 1, 1, 3, 3);

	/* the same request again, here and on another connection: the first
	 * sequence again, nothing new */
	client_send_buf (socket, buf);
	expect_ack (socket, 1, 1, 3, 0);
	other = client_connect (node);
	client_send_buf (other, buf);
	expect_ack (other, 1, 1, 3, 0);

	g_byte_array_set_size (buf, 0);
	put_s_frame (buf, 2, "batch-2", 3, 2);
	client_send_buf (socket, buf);
	expect_ack (socket, 2, 4, 2, 2);

	outputs = wait_outputs (node, "count", 5, 10);
	assert_each_once (outputs, 5);
	/* nothing more arrives */
	g_clear_pointer (&outputs, g_array_unref);
	g_usleep (200 * 1000);
	outputs = read_outputs (node, "count");
	g_assert_cmpuint (outputs->len, ==, 5);
	node_stop (node);
}

typedef struct {
	const char *name;
	guint32 request_id; /* in the ERROR frame */
	TandemTcpErrorCode code;
	const char *needle;  /* in its reason */
	gboolean half_close; /* shut the client's side down after sending */
} CorruptCase;

/* Appends the corrupt frame of the case @name. */
static void
put_corrupt_frame (GByteArray *buf, const char *name)
{
	guint start = buf->len;
	guint offset;

	if (g_str_equal (name, "version")) {
		put_s_frame (buf, 1, NULL, 0, 1);
		buf->data[start + 4] = 2;
	} else if (g_str_equal (name, "type-ack")) {
		tandem_tcp_put_ack (buf, 1, 1, 1, 1);
	} else if (g_str_equal (name, "type-unknown")) {
		put_s_frame (buf, 1, NULL, 0, 1);
		buf->data[start + 5] = 0x7f;
	} else if (g_str_equal (name, "length-short")) {
		static const guint8 bytes[] = { 0, 0, 0, 1, 1, 1, 0, 0 };

		g_byte_array_append (buf, bytes, sizeof bytes);
	} else if (g_str_equal (name, "length-over-max")) {
		/* only the header: the receiver must not wait for a megabyte */
		static const guint8 bytes[] = { 0, 0x10, 0, 0, 1, 1 };

		g_byte_array_append (buf, bytes, sizeof bytes);
	} else if (g_str_equal (name, "truncated-at-eof")) {
		put_s_frame (buf, 1, NULL, 0, 3);
		g_byte_array_set_size (buf, buf->len - 10);
	} else if (g_str_equal (name, "string-past-end")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "T", NULL, 1);
		tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
		tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_STRING);
		tandem_tcp_put_u32 (buf, 1000);
		g_byte_array_append (buf, (const guint8 *) "abcdefghijklmnopqrstuvwxyz", 26);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "string-not-utf8")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "T", NULL, 1);
		tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
		tandem_tcp_put_string (buf, "ab\xff\xfe", 4);
		for (guint k = 0; k < 5; k++)
			tandem_tcp_put_null (buf);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "string-with-nul")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "T", NULL, 1);
		tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
		tandem_tcp_put_string (buf, "a\0b", 3);
		for (guint k = 0; k < 5; k++)
			tandem_tcp_put_null (buf);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "stream-not-utf8")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "S\xc0", NULL, 1);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "count-too-high")) {
		put_s_frame (buf, 42, NULL, 0, 2);
		/* the count is the last 4 bytes of the header: "S", no key */
		tandem_tcp_set_u32 (buf->data + start + 6 + 4 + 3 + 2, 3);
	} else if (g_str_equal (name, "count-too-low")) {
		put_s_frame (buf, 42, NULL, 0, 2);
		tandem_tcp_set_u32 (buf->data + start + 6 + 4 + 3 + 2, 1);
	} else if (g_str_equal (name, "count-huge")) {
		put_s_frame (buf, 42, NULL, 0, 2);
		tandem_tcp_set_u32 (buf->data + start + 6 + 4 + 3 + 2, G_MAXUINT32);
	} else if (g_str_equal (name, "marker-wrong-type")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "S", NULL, 1);
		tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
		tandem_tcp_put_int (buf, 5); /* n is a long */
		tandem_tcp_put_int (buf, 5);
		tandem_tcp_put_u32 (buf, 0); /* pad to the size of a long */
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "marker-unknown")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "S", NULL, 1);
		tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
		tandem_tcp_put_long (buf, 5);
		tandem_tcp_put_u8 (buf, 0x99);
		tandem_tcp_put_u32 (buf, 5);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "bool-value")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "T", NULL, 1);
		tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
		tandem_tcp_put_null (buf);
		tandem_tcp_put_null (buf);
		tandem_tcp_put_null (buf);
		tandem_tcp_put_u8 (buf, TANDEM_TCP_MARKER_BOOL);
		tandem_tcp_put_u8 (buf, 2);
		tandem_tcp_put_null (buf);
		tandem_tcp_put_null (buf);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "event-flags")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "S", NULL, 1);
		tandem_tcp_put_u8 (buf, 0x80);
		tandem_tcp_put_null (buf);
		tandem_tcp_put_null (buf);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "unknown-stream")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "NoSuchStream", NULL, 1);
		tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
		tandem_tcp_put_null (buf);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "unknown-stream-version")) {
		offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
		tandem_tcp_put_events_header (buf, 42, "S:9.9.9", NULL, 1);
		tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
		tandem_tcp_put_long (buf, 1);
		tandem_tcp_put_int (buf, 1);
		tandem_tcp_frame_end (buf, offset);
	} else if (g_str_equal (name, "too-short-for-request-id")) {
		static const guint8 bytes[] = { 0, 0, 0, 4, 1, 1, 0, 0 };

		g_byte_array_append (buf, bytes, sizeof bytes);
	} else {
		g_assert_not_reached ();
	}
}

static const CorruptCase corrupt_cases[] = {
	{ "version", 0, TANDEM_TCP_ERROR_UNSUPPORTED_VERSION, "version 2", FALSE },
	{ "type-ack", 0, TANDEM_TCP_ERROR_UNKNOWN_TYPE, "type 2", FALSE },
	{ "type-unknown", 0, TANDEM_TCP_ERROR_UNKNOWN_TYPE, "type 127", FALSE },
	{ "length-short", 0, TANDEM_TCP_ERROR_MALFORMED, "frame length 1", FALSE },
	{ "length-over-max", 0, TANDEM_TCP_ERROR_FRAME_TOO_LARGE, "max_frame_bytes (4096)", FALSE },
	{ "truncated-at-eof", 0, TANDEM_TCP_ERROR_MALFORMED, "ended inside a frame", TRUE },
	{ "too-short-for-request-id", 0, TANDEM_TCP_ERROR_MALFORMED, "request id", FALSE },
	{ "string-past-end", 42, TANDEM_TCP_ERROR_MALFORMED,
	  "attribute 'name': string length 1000 runs past", FALSE },
	{ "string-not-utf8", 42, TANDEM_TCP_ERROR_MALFORMED, "not valid UTF-8", FALSE },
	{ "string-with-nul", 42, TANDEM_TCP_ERROR_MALFORMED, "not valid UTF-8", FALSE },
	{ "stream-not-utf8", 42, TANDEM_TCP_ERROR_MALFORMED, "stream name is not valid UTF-8",
	  FALSE },
	{ "count-too-high", 42, TANDEM_TCP_ERROR_MALFORMED, "after 2 of 3 events", FALSE },
	{ "count-too-low", 42, TANDEM_TCP_ERROR_MALFORMED, "bytes follow the last of 1 events",
	  FALSE },
	{ "count-huge", 42, TANDEM_TCP_ERROR_MALFORMED, "4294967295 events cannot fit", FALSE },
	{ "marker-wrong-type", 42, TANDEM_TCP_ERROR_MALFORMED,
	  "attribute 'n': value marker 1, expected 0 (null) or 2 (long)", FALSE },
	{ "marker-unknown", 42, TANDEM_TCP_ERROR_MALFORMED, "attribute 'x': value marker 153",
	  FALSE },
	{ "bool-value", 42, TANDEM_TCP_ERROR_MALFORMED, "bool value 2", FALSE },
	{ "event-flags", 42, TANDEM_TCP_ERROR_MALFORMED, "unknown flags 0x80", FALSE },
	{ "unknown-stream", 42, TANDEM_TCP_ERROR_UNKNOWN_STREAM, "no stream 'NoSuchStream'",
	  FALSE },
	{ "unknown-stream-version", 42, TANDEM_TCP_ERROR_UNKNOWN_STREAM, "no stream 'S:9.9.9'",
	  FALSE },
};

static void
test_corrupt_frames (void)
{
	g_autoptr (Node) node = node_start (plan_basic, NULL, "max_frame_bytes = 4096\n");
	g_autoptr (GByteArray) buf = g_byte_array_new ();
	g_autoptr (GArray) outputs = NULL;
	guint64 seq = 1;

	for (guint i = 0; i < G_N_ELEMENTS (corrupt_cases); i++) {
		const CorruptCase *c = &corrupt_cases[i];
		g_autoptr (GSocket) socket = client_connect (node);
		g_autoptr (GError) error = NULL;

		g_test_message ("case %s", c->name);
		/* a good request first, in the same write: it is acknowledged
		 * before the ERROR */
		g_byte_array_set_size (buf, 0);
		put_s_frame (buf, 7, NULL, (gint64) seq - 1, 1);
		put_corrupt_frame (buf, c->name);
		/* and something after it that must not be taken */
		if (!c->half_close)
			put_s_frame (buf, 8, NULL, 1000, 1);
		client_send_buf (socket, buf);
		if (c->half_close) {
			g_socket_shutdown (socket, FALSE, TRUE, &error);
			g_assert_no_error (error);
		}
		expect_ack (socket, 7, seq, 1, 1);
		seq++;
		expect_error_then_eof (socket, c->request_id, c->code, c->needle);
		g_assert_true (node_running (node));
	}

	/* the node still serves new connections, and took only the good requests */
	{
		g_autoptr (GSocket) socket = client_connect (node);

		g_byte_array_set_size (buf, 0);
		put_s_frame (buf, 9, NULL, (gint64) seq - 1, 1);
		client_send_buf (socket, buf);
		expect_ack (socket, 9, seq, 1, 1);
	}
	outputs = wait_outputs (node, "count", (guint) seq, 10);
	assert_each_once (outputs, (guint) seq);
	node_stop (node);
}

static void
test_streams_key (void)
{
	g_autoptr (Node) node = node_start (plan_basic, NULL, "streams = S:1.0.0\n");
	g_autoptr (Node) bad = NULL;
	g_autoptr (GSocket) socket = client_connect (node);
	g_autoptr (GByteArray) buf = g_byte_array_new ();
	g_autofree char *log = NULL;
	guint offset;

	put_s_frame (buf, 1, NULL, 0, 2);
	client_send_buf (socket, buf);
	expect_ack (socket, 1, 1, 2, 2);
	g_byte_array_set_size (buf, 0);
	offset = tandem_tcp_frame_begin (buf, TANDEM_TCP_FRAME_EVENTS);
	tandem_tcp_put_events_header (buf, 2, "T", NULL, 1);
	tandem_tcp_put_event_start (buf, TRUE, 1, NULL);
	for (guint k = 0; k < 6; k++)
		tandem_tcp_put_null (buf);
	tandem_tcp_frame_end (buf, offset);
	client_send_buf (socket, buf);
	expect_error_then_eof (socket, 2, TANDEM_TCP_ERROR_STREAM_NOT_ALLOWED,
			       "does not take stream 'T'");
	node_stop (node);

	/* a stream the node does not know stops it from starting, saying where */
	bad = node_prepare (plan_basic, NULL, "streams = S, Nope\n");
	{
		g_autoptr (GSubprocessLauncher) launcher =
			tandem_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE, plugin_dir);
		g_autofree char *state = g_build_filename (bad->dir, "state", NULL);
		g_autofree char *expected = g_strdup_printf (
			"tandem.conf:%u: key 'streams' in [receiver.bin]: the node knows no stream 'Nope'",
			config_line (bad, "streams"));

		bad->daemon =
			tandem_test_daemon_start (launcher, tandemd, bad->dir, bad->conf, state);
		g_assert_true (tandem_test_daemon_wait (bad->daemon));
		g_assert_cmpint (g_subprocess_get_exit_status (bad->daemon->proc), ==, 1);
		log = tandem_test_read_text (bad->daemon->log_path);
		g_test_message ("%s", log);
		g_assert_nonnull (strstr (log, expected));
	}
}

/* Runs tandemd --check-config on @node's config; returns its stderr. */
static char *
check_config (Node *node, int expected_status)
{
	g_autoptr (GSubprocessLauncher) launcher =
		tandem_test_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
						  G_SUBPROCESS_FLAGS_STDERR_PIPE,
					  plugin_dir);
	g_autoptr (GSubprocess) proc = NULL;
	g_autoptr (GError) error = NULL;
	g_autofree char *out = NULL;
	char *err = NULL;

	proc = g_subprocess_launcher_spawn (launcher, &error, tandemd, "--config", node->conf,
					    "--check-config", NULL);
	g_assert_no_error (error);
	g_subprocess_communicate_utf8 (proc, NULL, NULL, &out, &err, &error);
	g_assert_no_error (error);
	g_test_message ("%s%s", out, err);
	g_assert_true (g_subprocess_get_if_exited (proc));
	g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, expected_status);
	return err;
}

static void
test_config_errors (void)
{
	g_autoptr (Node) node = node_prepare (plan_basic, NULL, NULL);
	g_autofree char *err = NULL;
	g_autofree char *expected = NULL;
	g_autofree char *text = g_strdup_printf ("[engine]\nplans = %s/plans\n"
						 "[receiver.bin]\nplugin = tcp\nport = 70000\n",
						 node->dir);

	tandem_test_write_text (node->conf, text);
	err = check_config (node, 1);
	expected = g_strdup_printf (
		"tandem.conf:%u: key 'port' in [receiver.bin]: expected an integer 0-65535, got \"70000\"",
		config_line (node, "port"));
	g_assert_nonnull (strstr (err, expected));

	g_free (text);
	text = g_strdup_printf ("[engine]\nplans = %s/plans\n[receiver.bin]\nplugin = tcp\n"
				"address = localhost\nmax_frame_bytes = 10\nidle_timeout = -1\n",
				node->dir);
	tandem_test_write_text (node->conf, text);
	g_free (err);
	err = check_config (node, 1);
	g_free (expected);
	expected = g_strdup_printf (
		"tandem.conf:%u: key 'max_frame_bytes' in [receiver.bin]: expected an integer 64-1073741824, got \"10\"",
		config_line (node, "max_frame_bytes"));
	g_assert_nonnull (strstr (err, expected));

	g_free (text);
	text = g_strdup_printf ("[engine]\nplans = %s/plans\n[receiver.bin]\nplugin = tcp\n"
				"address = localhost\n",
				node->dir);
	tandem_test_write_text (node->conf, text);
	g_free (err);
	err = check_config (node, 1);
	g_free (expected);
	expected = g_strdup_printf (
		"tandem.conf:%u: key 'address' in [receiver.bin]: expected an IP address such as 127.0.0.1, 0.0.0.0 or ::, got \"localhost\"",
		config_line (node, "address"));
	g_assert_nonnull (strstr (err, expected));

	/* every key with a good value, and duplicated_in_cluster of the base class */
	g_free (text);
	text = g_strdup_printf (
		"[engine]\nplans = %s/plans\n[receiver.bin]\nplugin = tcp\n"
		"address = ::1\nport = 7611\nmax_connections = 10\nmax_frame_bytes = 65536\n"
		"idle_timeout = 0\nstreams = S, T:1.0.0\nduplicated_in_cluster = true\n",
		node->dir);
	tandem_test_write_text (node->conf, text);
	g_free (err);
	err = check_config (node, 0);
	g_assert_null (strstr (err, "unknown key"));
}

static void
test_limits (void)
{
	g_autoptr (Node) node =
		node_start (plan_basic, NULL, "max_connections = 2\nidle_timeout = 1\n");
	g_autoptr (GSocket) a = client_connect (node);
	g_autoptr (GSocket) b = client_connect (node);
	g_autoptr (GSocket) c = NULL;
	g_autoptr (GByteArray) buf = g_byte_array_new ();

	put_s_frame (buf, 1, NULL, 0, 1);
	client_send_buf (a, buf);
	expect_ack (a, 1, 1, 1, 1);
	client_send_buf (b, buf);
	expect_ack (b, 1, 2, 1, 1);

	/* a third client is turned away; the two others are served */
	c = client_connect (node);
	expect_error_then_eof (c, 0, TANDEM_TCP_ERROR_TOO_MANY_CONNECTIONS, "max_connections");
	g_byte_array_set_size (buf, 0);
	put_s_frame (buf, 2, NULL, 1, 1);
	client_send_buf (a, buf);
	expect_ack (a, 2, 3, 1, 1);

	/* a silent client is closed after idle_timeout */
	expect_error_then_eof (b, 0, TANDEM_TCP_ERROR_IDLE_TIMEOUT, "idle_timeout");
	expect_error_then_eof (a, 0, TANDEM_TCP_ERROR_IDLE_TIMEOUT, "idle_timeout");
	node_stop (node);
}

static void
test_stop_with_clients (void)
{
	g_autoptr (Node) node = node_start (plan_basic, NULL, NULL);
	g_autoptr (GSocket) socket = client_connect (node);
	g_autoptr (GByteArray) buf = g_byte_array_new ();
	g_autoptr (GArray) outputs = NULL;

	put_s_frame (buf, 1, NULL, 0, 4);
	client_send_buf (socket, buf);
	expect_ack (socket, 1, 1, 4, 4);
	kill (node->daemon->pid, SIGTERM);
	expect_error_then_eof (socket, 0, TANDEM_TCP_ERROR_UNAVAILABLE, "stopping");
	g_assert_true (tandem_test_daemon_wait (node->daemon));
	g_assert_cmpint (g_subprocess_get_exit_status (node->daemon->proc), ==, 0);
	/* what was acknowledged was processed before the node stopped */
	outputs = read_outputs (node, "count");
	assert_each_once (outputs, 4);
}

static void
test_back_pressure (void)
{
	g_autoptr (Node) node = node_start (plan_slow, "queue_size = 1000\n", NULL);
	g_autoptr (GArray) outputs = NULL;
	g_autofree char *out = NULL;
	g_autofree char *log = NULL;
	/* every frame sent at once (the window holds them all), from small
	 * send buffers: the client can only go as fast as the receiver reads */
	const char *const load[] = { "--stream=S",    "--types=long,int", "--events=12000",
				     "--batch=50",    "--window=1000",    "--connections=2",
				     "--sndbuf=4096", "--timeout=100",    NULL };

	out = run_tcp_load (node, load);
	g_assert_nonnull (strstr (out, "acked=12000 new=12000 seq_min=1 seq_max=12000 "));

	/* the node's queue was full: the receiver stopped reading, and
	 * went on when the engine had drained it */
	g_assert_true (
		tandem_test_daemon_wait_log (node->daemon, "Ingest queue full: pausing receivers"));
	g_assert_true (tandem_test_daemon_wait_log (
		node->daemon, "bin: the node's ingest queue is full: stopped reading"));
	g_assert_true (tandem_test_daemon_wait_log (node->daemon, "bin: the node has room again"));

	/* every event was processed exactly once, and the events of each
	 * connection in the order it sent them (tcp-load sends frame k of 50
	 * events on connection k % 2) */
	outputs = wait_outputs (node, "count", 12000, 100);
	assert_each_once (outputs, 12000);
	{
		gint64 last[2] = { -1, -1 };
		guint64 last_seq = 0;

		for (guint i = 0; i < outputs->len; i++) {
			Output *o = &g_array_index (outputs, Output, i);
			gint64 n = g_ascii_strtoll (o->data + 1, NULL, 10);
			guint c = (guint) ((n / 50) % 2);

			g_assert_cmpuint (o->seq, >, last_seq);
			g_assert_cmpint (n, >, last[c]);
			last_seq = o->seq;
			last[c] = n;
		}
	}
	log = tandem_test_read_text (node->daemon->log_path);
	g_assert_null (strstr (log, "WARNING"));
	node_stop (node);
}

int
main (int argc, char **argv)
{
	g_autofree char *copy = NULL;
	int rc;

	g_test_init (&argc, &argv, NULL);

	tandemd = g_getenv ("TANDEM_TEST_TANDEMD");
	tcp_load = g_getenv ("TANDEM_TEST_TCP_LOAD");
	g_assert_nonnull (tandemd);
	g_assert_nonnull (tcp_load);
	g_assert_nonnull (g_getenv ("TANDEM_TEST_TCP_PLUGIN_DIR"));

	/* the loader refuses modules writable by others: load a copy with a
	 * known mode, whatever the umask of the build */
	plugin_dir = tandem_test_make_tmpdir ("tandem-test-tcp-plugins-XXXXXX");
	copy = tandem_test_copy_module (g_getenv ("TANDEM_TEST_TCP_PLUGIN_DIR"), "tandem-tcp-receiver.so",
					plugin_dir, NULL, 0755);
	g_free (copy);
	/* the event store of ack = durable */
	g_assert_nonnull (g_getenv ("TANDEM_TEST_GDA_STORE_DIR"));
	copy = tandem_test_copy_module (g_getenv ("TANDEM_TEST_GDA_STORE_DIR"), "tandem-gda-store.so", plugin_dir,
					NULL, 0755);

	g_test_add_func ("/tcp-receiver/frame-example", test_frame_example);
	g_test_add_func ("/tcp-receiver/batches", test_batches);
	g_test_add_func ("/tcp-receiver/pipelined", test_pipelined);
	g_test_add_func ("/tcp-receiver/pipelined-durable", test_pipelined_durable);
	g_test_add_func ("/tcp-receiver/idempotency-key", test_idempotency_key);
	g_test_add_func ("/tcp-receiver/corrupt-frames", test_corrupt_frames);
	g_test_add_func ("/tcp-receiver/streams-key", test_streams_key);
	g_test_add_func ("/tcp-receiver/config-errors", test_config_errors);
	g_test_add_func ("/tcp-receiver/limits", test_limits);
	g_test_add_func ("/tcp-receiver/stop-with-clients", test_stop_with_clients);
	g_test_add_func ("/tcp-receiver/back-pressure", test_back_pressure);

	rc = g_test_run ();
	tandem_test_rm_rf (plugin_dir);
	g_free (plugin_dir);
	return rc;
}
