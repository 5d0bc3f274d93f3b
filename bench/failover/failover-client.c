/* failover-client.c: the client of bench/failover/run-failover.sh
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Run mode (the default):
 *
 *   failover-client --node PORT:PID --node PORT:PID --acked FILE [options]
 *
 * Posts one WSO2 JSON event at a time to the http receivers of a two-node
 * cluster at a fixed rate (--interval-us), over a kept-alive connection per
 * node.  Event i (from 1) is
 *
 *   {"event":{"payloadData":{"id":i,"v":T},"id":"e-i"}}
 *
 * (T: microseconds since the start).  It starts with the first node, which
 * must be the active one.  Whenever a node refuses (503) or cannot be
 * reached (connection refused or closed, no answer within --io-timeout-ms),
 * the same event goes to the other node: at once after the first failure,
 * then every --retry-us while both fail.  Retry-After is not waited for.
 *
 * A second thread SIGKILLs the first node's PID --pre-ms after the start
 * (plus a random fraction of one interval, so that the kill falls anywhere
 * in a request), independently of the requests: a request may be in flight
 * when the node dies.  The client measures the time from the kill until the
 * first 202 from the other node, keeps posting --post-ms more, and stops.
 * It writes the id and the node index (0, 1) of every acknowledged event to
 * --acked, one "ID NODE" per line, and prints one line:
 *
 *   RESULT name=failover-client client_ms=X sent=N acked=N acked_before_kill=N
 *     refused=N failed=N kill_wall_us=N first_ack_wall_us=N
 *
 * client_ms: kill to the first 202 from the other node; refused: 503
 * answers; failed: connections refused or lost, timeouts; kill_wall_us: the
 * wall-clock time of the kill in microseconds since the Unix epoch (to
 * compare with the nodes' logs).
 *
 * Count mode:
 *
 *   failover-client --count --acked FILE OUTPUT_LOG...
 *
 * Reads the acknowledged ids and the nodes' output logs ([engine]
 * output_log: JSON lines whose "data" array starts with the event's id) and
 * prints
 *
 *   RESULT name=failover-count acked=N outputs=N lost=N duplicated=N unacked_in_outputs=N
 *
 * lost: acknowledged ids in no output log; duplicated: acknowledged ids
 * under more than one input seq (ingested twice; the same output logged by
 * both nodes around a takeover is one output, written once to the stores);
 * unacked_in_outputs: ids in the logs
 * that were never acknowledged (a request in flight at the kill, processed
 * by the dying node).
 *
 * Only 127.0.0.1.  Exit status: 0 measured, 1 failure (said on stderr), 2
 * usage error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <glib.h>
#include <json-glib/json-glib.h>

#define MAX_NODES 2

typedef struct {
	int port;
	pid_t pid;
	int fd;
} Node;

static char **opt_nodes;
static char *opt_path = "/endpoints/s";
static char *opt_acked;
static int opt_interval_us = 2000;
static int opt_retry_us = 500;
static int opt_pre_ms = 1000;
static int opt_post_ms = 500;
static int opt_io_timeout_ms = 2000;
static int opt_timeout = 30;
static gboolean opt_count;

static const GOptionEntry options[] = {
	{ "node", 'n', 0, G_OPTION_ARG_STRING_ARRAY, &opt_nodes,
	  "A node's http receiver port and its PID (twice; the active one first)", "PORT:PID" },
	{ "path", 0, 0, G_OPTION_ARG_STRING, &opt_path, "The endpoint (default /endpoints/s)",
	  "PATH" },
	{ "acked", 'a', 0, G_OPTION_ARG_FILENAME, &opt_acked,
	  "Write (run) or read (--count) the acknowledged ids here", "FILE" },
	{ "interval-us", 'i', 0, G_OPTION_ARG_INT, &opt_interval_us,
	  "One event every this many microseconds (default 2000)", "US" },
	{ "retry-us", 0, 0, G_OPTION_ARG_INT, &opt_retry_us,
	  "Pause between rounds of retries while both nodes fail (default 500)", "US" },
	{ "pre-ms", 0, 0, G_OPTION_ARG_INT, &opt_pre_ms,
	  "Kill the first node this long after the start (default 1000)", "MS" },
	{ "post-ms", 0, 0, G_OPTION_ARG_INT, &opt_post_ms,
	  "Keep posting this long after the first 202 from the other node (default 500)", "MS" },
	{ "io-timeout-ms", 0, 0, G_OPTION_ARG_INT, &opt_io_timeout_ms,
	  "Give up on a request without an answer after this long (default 2000)", "MS" },
	{ "timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout,
	  "Give up when no node acknowledges for this many seconds (default 30)", "S" },
	{ "count", 'c', 0, G_OPTION_ARG_NONE, &opt_count,
	  "Count lost and duplicated events in the OUTPUT_LOG arguments", NULL },
	{ NULL },
};

/* --- time ----------------------------------------------------------------- */

static gint64
now_ns (void)
{
	struct timespec ts;

	clock_gettime (CLOCK_MONOTONIC, &ts);
	return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static gint64
wall_us (void)
{
	struct timespec ts;

	clock_gettime (CLOCK_REALTIME, &ts);
	return (gint64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
sleep_until_ns (gint64 when)
{
	struct timespec ts = { .tv_sec = when / 1000000000, .tv_nsec = when % 1000000000 };

	while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* --- the kill ------------------------------------------------------------- */

typedef struct {
	pid_t pid;
	gint64 at_ns;
	gint64 killed_ns;   /* atomic: 0 until the kill */
	gint64 killed_wall; /* wall clock of the kill, us */
	int error;
} Killer;

static gpointer
killer_thread (gpointer data)
{
	Killer *k = data;
	gint64 t;

	sleep_until_ns (k->at_ns);
	/* the time just before the signal goes: what the take-over is measured from */
	k->killed_wall = wall_us ();
	t = now_ns ();
	if (kill (k->pid, SIGKILL) != 0)
		k->error = errno;
	__atomic_store_n (&k->killed_ns, t, __ATOMIC_RELEASE);
	return NULL;
}

/* --- HTTP ----------------------------------------------------------------- */

static int
connect_to (int port)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((guint16) port) };
	int fd, one = 1, err = 0;
	socklen_t len = sizeof (err);
	struct pollfd p;

	addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
	fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
	if (connect (fd, (struct sockaddr *) &addr, sizeof (addr)) != 0) {
		if (errno != EINPROGRESS) {
			close (fd);
			return -1;
		}
		p = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (poll (&p, 1, opt_io_timeout_ms) != 1 ||
		    getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			close (fd);
			return -1;
		}
	}
	return fd;
}

/* Waits for @fd to be ready for @events until @deadline_ns. */
static gboolean
wait_fd (int fd, short events, gint64 deadline_ns)
{
	struct pollfd p = { .fd = fd, .events = events };
	gint64 left_ms = (deadline_ns - now_ns ()) / 1000000;
	int r;

	if (left_ms < 0)
		return FALSE;
	do
		r = poll (&p, 1, (int) left_ms + 1);
	while (r < 0 && errno == EINTR);
	return r == 1;
}

/* Sends @len bytes of @data on @fd until @deadline_ns. */
static gboolean
send_all (int fd, const char *data, gsize len, int flags, gint64 deadline_ns)
{
	gsize off = 0;

	while (off < len) {
		ssize_t w = send (fd, data + off, len - off, MSG_NOSIGNAL | flags);

		if (w > 0)
			off += (gsize) w;
		else if (w < 0 && errno == EINTR)
			continue;
		else if (!(w < 0 && errno == EAGAIN && wait_fd (fd, POLLOUT, deadline_ns)))
			return FALSE;
	}
	return TRUE;
}

/* Reads an answer (headers, then Content-Length bytes of body) into @buf of
 * @size bytes, NUL-terminated; sets @header_bytes and @body_bytes. */
static gboolean
read_answer (int fd,
	     char *buf,
	     gsize size,
	     gsize *header_bytes,
	     gsize *body_bytes,
	     gint64 deadline_ns)
{
	gsize have = 0;

	for (;;) {
		char *end;
		ssize_t r;

		buf[have] = '\0';
		end = strstr (buf, "\r\n\r\n");
		if (end != NULL) {
			char *cl;
			long length = 0;

			*header_bytes = (gsize) (end - buf) + 4;
			cl = g_strstr_len (buf, (gssize) *header_bytes, "\r\nContent-Length:");
			if (cl == NULL)
				cl = g_strstr_len (buf, (gssize) *header_bytes,
						   "\r\ncontent-length:");
			if (cl != NULL)
				length = strtol (cl + 17, NULL, 10);
			if (length < 0 || *header_bytes + (gsize) length >= size)
				return FALSE;
			*body_bytes = (gsize) length;
			if (have >= *header_bytes + *body_bytes)
				return TRUE;
		}
		if (have >= size - 1)
			return FALSE;
		r = recv (fd, buf + have, size - 1 - have, 0);
		if (r > 0)
			have += (gsize) r;
		else if (r < 0 && errno == EINTR)
			continue;
		else if (!(r < 0 && errno == EAGAIN && wait_fd (fd, POLLIN, deadline_ns)))
			return FALSE;
	}
}

static void
drop_connection (Node *node)
{
	if (node->fd >= 0)
		close (node->fd);
	node->fd = -1;
}

/* Posts @body on @node's kept-alive connection (connecting first if needed).
 * Returns the HTTP status, or -1 when the node could not be reached or did not
 * answer (the connection is then closed). */
static int
post (Node *node, const char *body, gsize body_len)
{
	g_autofree char *head = NULL;
	char buf[8192];
	gsize header_bytes = 0, body_bytes = 0;
	gint64 deadline = now_ns () + (gint64) opt_io_timeout_ms * 1000000;
	int status;

	if (node->fd < 0)
		node->fd = connect_to (node->port);
	if (node->fd < 0)
		return -1;

	head = g_strdup_printf ("POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				"Content-Type: application/json\r\nContent-Length: %" G_GSIZE_FORMAT
				"\r\n\r\n",
				opt_path, node->port, body_len);
	if (!send_all (node->fd, head, strlen (head), MSG_MORE, deadline) ||
	    !send_all (node->fd, body, body_len, 0, deadline) ||
	    !read_answer (node->fd, buf, sizeof (buf), &header_bytes, &body_bytes, deadline) ||
	    sscanf (buf, "HTTP/1.%*d %d", &status) != 1) {
		drop_connection (node);
		return -1;
	}
	if (status != 202 && status != 503)
		g_printerr ("failover-client: port %d answered %d: %.*s\n", node->port, status,
			    (int) body_bytes, buf + header_bytes);
	buf[header_bytes] = '\0';
	if (g_strstr_len (buf, -1, "\r\nConnection: close") != NULL ||
	    g_strstr_len (buf, -1, "\r\nconnection: close") != NULL)
		drop_connection (node);
	return status;
}

/* --- run ------------------------------------------------------------------ */

typedef struct {
	gint64 id;
	int node;
} Ack;

static gboolean
parse_node (const char *text, Node *node)
{
	char *colon = strchr (text, ':');
	char *end = NULL;
	long port, pid;

	if (colon == NULL)
		return FALSE;
	port = strtol (text, &end, 10);
	if (end != colon || port < 1 || port > 65535)
		return FALSE;
	pid = strtol (colon + 1, &end, 10);
	if (*end != '\0' || pid < 2)
		return FALSE;
	node->port = (int) port;
	node->pid = (pid_t) pid;
	node->fd = -1;
	return TRUE;
}

static int
run (void)
{
	Node nodes[MAX_NODES];
	Killer killer = { 0 };
	GThread *thread;
	g_autoptr (GArray) acks = g_array_new (FALSE, FALSE, sizeof (Ack));
	g_autoptr (GString) body = g_string_new (NULL);
	g_autoptr (GString) out = g_string_new (NULL);
	g_autoptr (GError) error = NULL;
	gint64 t0, next, killed = 0, first_ack = 0, last_progress, id = 1;
	gint64 first_ack_wall = 0;
	guint64 sent = 0, refused = 0, failed = 0, acked_before_kill = 0;
	int cur = 0, failures_in_row = 0;

	if (opt_nodes == NULL || g_strv_length (opt_nodes) != MAX_NODES ||
	    !parse_node (opt_nodes[0], &nodes[0]) || !parse_node (opt_nodes[1], &nodes[1])) {
		g_printerr (
			"failover-client: give --node PORT:PID twice (the active node first)\n");
		return 2;
	}

	t0 = now_ns ();
	killer.pid = nodes[0].pid;
	killer.at_ns = t0 + (gint64) opt_pre_ms * 1000000 +
		       (gint64) g_random_int_range (0, opt_interval_us) * 1000;
	thread = g_thread_new ("killer", killer_thread, &killer);
	next = t0;
	last_progress = t0;

	for (;;) {
		gint64 now, t;
		int status;

		now = now_ns ();
		if (killed == 0)
			killed = __atomic_load_n (&killer.killed_ns, __ATOMIC_ACQUIRE);
		if (killed != 0 && killer.error != 0)
			break;
		if (first_ack != 0 && now >= first_ack + (gint64) opt_post_ms * 1000000)
			break;
		if (now - last_progress > (gint64) opt_timeout * 1000000000) {
			g_printerr ("failover-client: no event acknowledged for %d s (%s)\n",
				    opt_timeout, killed ? "after the kill" : "before the kill");
			g_thread_join (thread);
			return 1;
		}

		sleep_until_ns (next);
		g_string_printf (body,
				 "{\"event\":{\"payloadData\":{\"id\":%" G_GINT64_FORMAT
				 ",\"v\":%" G_GINT64_FORMAT "},\"id\":\"e-%" G_GINT64_FORMAT "\"}}",
				 id, (now_ns () - t0) / 1000, id);
		sent++;
		status = post (&nodes[cur], body->str, body->len);
		t = now_ns ();
		if (killed == 0)
			killed = __atomic_load_n (&killer.killed_ns, __ATOMIC_ACQUIRE);
		if (status == 202) {
			Ack a = { id, cur };

			g_array_append_val (acks, a);
			if (killed == 0 || cur == 0)
				acked_before_kill++;
			if (killed != 0 && cur == 1 && first_ack == 0) {
				first_ack = t;
				first_ack_wall = wall_us ();
			}
			id++;
			failures_in_row = 0;
			last_progress = t;
			next += (gint64) opt_interval_us * 1000;
			/* behind schedule (a slow answer): no burst to catch up */
			if (next < t)
				next = t;
			continue;
		}
		if (status == 503) {
			refused++;
		} else if (status < 0) {
			failed++;
		} else {
			g_thread_join (thread);
			return 1;
		}
		/* the same event to the other node: at once, then every retry_us */
		cur = 1 - cur;
		failures_in_row++;
		next = failures_in_row % 2 == 1 ? t : t + (gint64) opt_retry_us * 1000;
	}
	g_thread_join (thread);
	if (killer.error != 0) {
		g_printerr ("failover-client: kill %d: %s\n", (int) killer.pid,
			    g_strerror (killer.error));
		return 1;
	}
	for (int i = 0; i < MAX_NODES; i++)
		if (nodes[i].fd >= 0)
			close (nodes[i].fd);

	for (guint i = 0; i < acks->len; i++) {
		Ack *a = &g_array_index (acks, Ack, i);

		g_string_append_printf (out, "%" G_GINT64_FORMAT " %d\n", a->id, a->node);
	}
	if (!g_file_set_contents (opt_acked, out->str, (gssize) out->len, &error)) {
		g_printerr ("failover-client: %s\n", error->message);
		return 1;
	}
	g_print ("RESULT name=failover-client client_ms=%.2f sent=%" G_GUINT64_FORMAT
		 " acked=%u acked_before_kill=%" G_GUINT64_FORMAT " refused=%" G_GUINT64_FORMAT
		 " failed=%" G_GUINT64_FORMAT " kill_wall_us=%" G_GINT64_FORMAT
		 " first_ack_wall_us=%" G_GINT64_FORMAT "\n",
		 (double) (first_ack - killed) / 1e6, sent, acks->len, acked_before_kill, refused,
		 failed, killer.killed_wall, first_ack_wall);
	return 0;
}

/* --- count ---------------------------------------------------------------- */

static int
count (int argc, char **argv)
{
	g_autofree char *acked_text = NULL;
	g_autoptr (GHashTable) acked = g_hash_table_new (g_int64_hash, g_int64_equal);
	g_autoptr (GHashTable) seen =
		g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
	g_autoptr (GHashTable) seqs =
		g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
	g_autoptr (GError) error = NULL;
	g_auto (GStrv) lines = NULL;
	g_autofree gint64 *ids = NULL;
	guint n_acked = 0, lost = 0, duplicated = 0, unacked = 0;
	guint64 outputs = 0;
	GHashTableIter iter;
	gpointer key, value;

	if (!g_file_get_contents (opt_acked, &acked_text, NULL, &error)) {
		g_printerr ("failover-client: %s\n", error->message);
		return 1;
	}
	lines = g_strsplit (acked_text, "\n", -1);
	ids = g_new0 (gint64, g_strv_length (lines) + 1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (lines[i][0] == '\0')
			continue;
		ids[n_acked] = g_ascii_strtoll (lines[i], NULL, 10);
		g_hash_table_add (acked, &ids[n_acked]);
		n_acked++;
	}

	for (int f = 1; f < argc; f++) {
		g_autofree char *text = NULL;
		g_auto (GStrv) out_lines = NULL;

		if (!g_file_get_contents (argv[f], &text, NULL, &error)) {
			/* a node that never published has no output log */
			if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
				g_clear_error (&error);
				continue;
			}
			g_printerr ("failover-client: %s\n", error->message);
			return 1;
		}
		out_lines = g_strsplit (text, "\n", -1);
		for (guint i = 0; out_lines[i] != NULL; i++) {
			g_autoptr (JsonParser) parser = json_parser_new ();
			JsonNode *root;
			JsonArray *data;
			gint64 *id;
			gint64 *first_seq;
			gint64 in_seq;
			guint n;

			if (out_lines[i][0] == '\0')
				continue;
			/* the last line of a killed node's log may be cut short */
			if (!json_parser_load_from_data (parser, out_lines[i], -1, NULL))
				continue;
			root = json_parser_get_root (parser);
			if (!JSON_NODE_HOLDS_OBJECT (root) ||
			    !json_object_has_member (json_node_get_object (root), "data"))
				continue;
			data = json_object_get_array_member (json_node_get_object (root), "data");
			if (data == NULL || json_array_get_length (data) < 1)
				continue;
			outputs++;
			id = g_new (gint64, 1);
			*id = json_array_get_int_element (data, 0);
			in_seq = json_object_get_int_member_with_default (json_node_get_object (root), "seq", 0);
			/* an output both nodes logged for the same input seq is one
			 * output (the stores key it by input seq and write it once);
			 * an id under two input seqs was ingested twice */
			n = GPOINTER_TO_UINT (g_hash_table_lookup (seen, id));
			first_seq = g_hash_table_lookup (seqs, id);
			if (first_seq == NULL) {
				gint64 *k = g_new (gint64, 1);

				*k = *id;
				first_seq = g_new (gint64, 1);
				*first_seq = in_seq;
				g_hash_table_insert (seqs, k, first_seq);
				g_hash_table_insert (seen, id, GUINT_TO_POINTER (1));
			} else if (*first_seq != in_seq) {
				g_hash_table_insert (seen, id, GUINT_TO_POINTER (n + 1));
			} else {
				g_free (id);
			}
		}
	}

	for (guint i = 0; i < n_acked; i++) {
		guint n = GPOINTER_TO_UINT (g_hash_table_lookup (seen, &ids[i]));

		if (n == 0)
			lost++;
		else if (n > 1)
			duplicated++;
	}
	g_hash_table_iter_init (&iter, seen);
	while (g_hash_table_iter_next (&iter, &key, &value))
		if (!g_hash_table_contains (acked, key))
			unacked++;
	g_print ("RESULT name=failover-count acked=%u outputs=%" G_GUINT64_FORMAT
		 " lost=%u duplicated=%u unacked_in_outputs=%u\n",
		 n_acked, outputs, lost, duplicated, unacked);
	return 0;
}

int
main (int argc, char **argv)
{
	g_autoptr (GOptionContext) context = g_option_context_new (
		"[OUTPUT_LOG...] - time a failover of a two-node Tandem cluster");
	g_autoptr (GError) error = NULL;

	g_option_context_add_main_entries (context, options, NULL);
	if (!g_option_context_parse (context, &argc, &argv, &error)) {
		g_printerr ("failover-client: %s\n", error->message);
		return 2;
	}
	if (opt_acked == NULL) {
		g_printerr ("failover-client: --acked FILE is required\n");
		return 2;
	}
	if (opt_count)
		return count (argc, argv);
	if (opt_interval_us < 1 || opt_retry_us < 0 || opt_pre_ms < 0 || opt_post_ms < 0 ||
	    opt_io_timeout_ms < 1 || opt_timeout < 1) {
		g_printerr ("failover-client: --interval-us, --io-timeout-ms and --timeout must be "
			    "at least 1, the others at least 0\n");
		return 2;
	}
	return run ();
}
