/* tcp-load.c: a load generator for the tcp receiver
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Connects to a tcp receiver (plugins/receivers/tcp), sends N generated
 * events in EVENTS frames of B events with up to W frames in flight per
 * connection, waits until every frame is acknowledged, checks that every
 * request got exactly one ACK, in order, for all its events, and prints the
 * rate.  Tests use it to drive a node; the benchmark scripts use its last
 * line:
 *
 *   RESULT name=tcp-load events=N batch=B window=W connections=C seconds=S events_per_s=R ...
 *
 * Event i (0-based, over all connections) has, for each attribute type
 * given with --types: long first+i, int i % 1000, float and double
 * i % 1000 + 0.5, bool i % 2, string "s" + i % 100; its timestamp is
 * --ts-base + i unless --no-timestamps.
 *
 * Exit status: 0 when every event is acknowledged, 1 on any failure (it says
 * which on stderr), 2 for a usage error.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <glib-unix.h>
#include <glib.h>

#include "tandem-tcp-frame.h"

typedef enum {
	TYPE_INT,
	TYPE_LONG,
	TYPE_FLOAT,
	TYPE_DOUBLE,
	TYPE_BOOL,
	TYPE_STRING,
} ValueType;

typedef struct {
	guint32 request_id;
	guint32 count;
} Pending;

typedef struct {
	int fd;
	guint64 next_batch; /* the next batch this connection sends */
	GByteArray *out;
	gsize out_pos;
	guint8 *in;
	gsize in_len;
	gsize in_cap;
	GQueue pending; /* of Pending, in request order */
	gboolean finished;
} Client;

static char *opt_address = (char *) "127.0.0.1";
static int opt_port = TANDEM_TCP_DEFAULT_PORT;
static char *opt_stream = (char *) "S";
static char *opt_types = (char *) "long,int";
static gint64 opt_events = 100000;
static int opt_batch = 100;
static int opt_window = 16;
static int opt_connections = 1;
static char *opt_key_prefix;
static gboolean opt_no_timestamps;
static gint64 opt_ts_base = -1;
static gint64 opt_first;
static int opt_sndbuf;
static int opt_timeout;

static GArray *types;
static guint64 n_batches;
static guint64 acked_events;
static guint64 new_events;
static guint64 seq_min = G_MAXUINT64;
static guint64 seq_max;
static guint64 stalls;

static const GOptionEntry options[] = {
	{ "address", 'a', 0, G_OPTION_ARG_STRING, &opt_address,
	  "Receiver address (default 127.0.0.1)", "IP" },
	{ "port", 'p', 0, G_OPTION_ARG_INT, &opt_port, "Receiver port (default 7611)", "PORT" },
	{ "stream", 's', 0, G_OPTION_ARG_STRING, &opt_stream, "Stream name or id (default S)",
	  "NAME" },
	{ "types", 't', 0, G_OPTION_ARG_STRING, &opt_types,
	  "The stream's attribute types, in order (default long,int)", "TYPE,..." },
	{ "events", 'n', 0, G_OPTION_ARG_INT64, &opt_events, "Events to send (default 100000)",
	  "N" },
	{ "batch", 'b', 0, G_OPTION_ARG_INT, &opt_batch, "Events per frame (default 100)", "B" },
	{ "window", 'w', 0, G_OPTION_ARG_INT, &opt_window,
	  "Frames in flight per connection (default 16)", "W" },
	{ "connections", 'c', 0, G_OPTION_ARG_INT, &opt_connections, "Connections (default 1)",
	  "C" },
	{ "key-prefix", 'k', 0, G_OPTION_ARG_STRING, &opt_key_prefix,
	  "Give frame k the idempotency key PREFIX-k", "PREFIX" },
	{ "no-timestamps", 0, 0, G_OPTION_ARG_NONE, &opt_no_timestamps,
	  "Let the receiver stamp the events", NULL },
	{ "ts-base", 0, 0, G_OPTION_ARG_INT64, &opt_ts_base,
	  "Timestamp of event 0, in ms (default: now)", "MS" },
	{ "first", 0, 0, G_OPTION_ARG_INT64, &opt_first, "The long value of event 0 (default 0)",
	  "N" },
	{ "sndbuf", 0, 0, G_OPTION_ARG_INT, &opt_sndbuf, "SO_SNDBUF of each connection", "BYTES" },
	{ "timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout, "Give up after this many seconds", "S" },
	{ NULL },
};

static gboolean
parse_types (const char *text)
{
	g_auto (GStrv) names = g_strsplit (text, ",", -1);

	types = g_array_new (FALSE, FALSE, sizeof (ValueType));
	for (guint i = 0; names[i] != NULL; i++) {
		static const char *const known[] = { "int",    "long", "float",
						     "double", "bool", "string" };
		const char *name = g_strstrip (names[i]);
		gboolean found = FALSE;

		for (guint k = 0; k < G_N_ELEMENTS (known); k++) {
			if (g_strcmp0 (name, known[k]) == 0) {
				ValueType type = (ValueType) k;

				g_array_append_val (types, type);
				found = TRUE;
			}
		}
		if (!found) {
			g_printerr (
				"tcp-load: unknown type '%s' (int, long, float, double, bool, string)\n",
				name);
			return FALSE;
		}
	}
	return TRUE;
}

static void
put_event (GByteArray *buf, guint64 i)
{
	static char strings[100][8];

	if (strings[0][0] == '\0') {
		for (guint k = 0; k < G_N_ELEMENTS (strings); k++)
			g_snprintf (strings[k], sizeof strings[k], "s%u", k);
	}
	tandem_tcp_put_event_start (buf, !opt_no_timestamps, opt_ts_base + (gint64) i, NULL);
	for (guint k = 0; k < types->len; k++) {
		switch (g_array_index (types, ValueType, k)) {
		case TYPE_INT:
			tandem_tcp_put_int (buf, (gint32) (i % 1000));
			break;
		case TYPE_LONG:
			tandem_tcp_put_long (buf, opt_first + (gint64) i);
			break;
		case TYPE_FLOAT:
			tandem_tcp_put_float (buf, (float) (i % 1000) + 0.5f);
			break;
		case TYPE_DOUBLE:
			tandem_tcp_put_double (buf, (double) (i % 1000) + 0.5);
			break;
		case TYPE_BOOL:
			tandem_tcp_put_bool (buf, i % 2 == 1);
			break;
		case TYPE_STRING:
		default:
			tandem_tcp_put_string (buf, strings[i % 100], -1);
			break;
		}
	}
}

/* Appends the frame of batch k to the client's output. */
static void
queue_batch (Client *client, guint64 k)
{
	guint64 first = k * (guint64) opt_batch;
	guint64 last = MIN (first + (guint64) opt_batch, (guint64) opt_events);
	g_autofree char *key = opt_key_prefix != NULL ? g_strdup_printf ("%s-%" G_GUINT64_FORMAT,
									 opt_key_prefix, k)
						      : NULL;
	guint offset = tandem_tcp_frame_begin (client->out, TANDEM_TCP_FRAME_EVENTS);
	Pending *pending = g_new (Pending, 1);

	pending->request_id = (guint32) (k + 1);
	pending->count = (guint32) (last - first);
	tandem_tcp_put_events_header (client->out, pending->request_id, opt_stream, key,
				      pending->count);
	for (guint64 i = first; i < last; i++)
		put_event (client->out, i);
	tandem_tcp_frame_end (client->out, offset);
	g_queue_push_tail (&client->pending, pending);
}

static int
connect_to (void)
{
	struct sockaddr_in sin = { 0 };
	int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	sin.sin_family = AF_INET;
	sin.sin_port = htons ((guint16) opt_port);
	if (inet_pton (AF_INET, opt_address, &sin.sin_addr) != 1) {
		g_printerr ("tcp-load: %s is not an IPv4 address\n", opt_address);
		close (fd);
		return -1;
	}
	if (opt_sndbuf > 0)
		setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &opt_sndbuf, sizeof opt_sndbuf);
	setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect (fd, (struct sockaddr *) &sin, sizeof sin) != 0) {
		g_printerr ("tcp-load: cannot connect to %s:%d: %s\n", opt_address, opt_port,
			    g_strerror (errno));
		close (fd);
		return -1;
	}
	g_unix_set_fd_nonblocking (fd, TRUE, NULL);
	return fd;
}

/* Handles one whole frame from the server; FALSE on any failure. */
static gboolean
handle_reply (Client *client, const guint8 *frame, gsize len)
{
	TandemTcpReply reply;
	g_autofree Pending *pending = NULL;

	if (!tandem_tcp_parse_reply (frame, len, &reply)) {
		g_printerr ("tcp-load: the server sent a frame that does not decode\n");
		return FALSE;
	}
	if (reply.type == TANDEM_TCP_FRAME_ERROR) {
		g_printerr ("tcp-load: ERROR for request %u: code %u: %.*s\n", reply.request_id,
			    reply.code, (int) reply.reason_len, reply.reason);
		return FALSE;
	}
	pending = g_queue_pop_head (&client->pending);
	if (pending == NULL || pending->request_id != reply.request_id ||
	    pending->count != reply.count) {
		g_printerr (
			"tcp-load: unexpected ACK for request %u (%u events); expected request %u\n",
			reply.request_id, reply.count, pending != NULL ? pending->request_id : 0);
		return FALSE;
	}
	acked_events += reply.count;
	new_events += reply.n_new;
	seq_min = MIN (seq_min, reply.first_seq);
	seq_max = MAX (seq_max, reply.first_seq + reply.count - 1);
	return TRUE;
}

static gboolean
client_read (Client *client)
{
	gsize pos = 0;

	for (;;) {
		gssize n;

		if (client->in_cap - client->in_len < 4096) {
			client->in_cap *= 2;
			client->in = g_realloc (client->in, client->in_cap);
		}
		n = recv (client->fd, client->in + client->in_len, client->in_cap - client->in_len,
			  0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			g_printerr (
				"tcp-load: the server closed the connection with %u request(s) not acknowledged%s%s\n",
				g_queue_get_length (&client->pending), n < 0 ? ": " : "",
				n < 0 ? g_strerror (errno) : "");
			return FALSE;
		}
		client->in_len += (gsize) n;
	}
	while (client->in_len - pos >= 4) {
		guint32 length = tandem_tcp_get_u32 (client->in + pos);

		if (length > 1024 * 1024) {
			g_printerr ("tcp-load: the server sent a frame of %u bytes\n", length);
			return FALSE;
		}
		if (client->in_len - pos - 4 < length)
			break;
		if (!handle_reply (client, client->in + pos, 4 + (gsize) length))
			return FALSE;
		pos += 4 + (gsize) length;
	}
	memmove (client->in, client->in + pos, client->in_len - pos);
	client->in_len -= pos;
	return TRUE;
}

static gboolean
client_write (Client *client)
{
	while (client->out_pos < client->out->len) {
		gssize n = send (client->fd, client->out->data + client->out_pos,
				 client->out->len - client->out_pos, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			stalls++;
			return TRUE;
		}
		if (n < 0) {
			g_printerr ("tcp-load: cannot send: %s\n", g_strerror (errno));
			return FALSE;
		}
		client->out_pos += (gsize) n;
	}
	g_byte_array_set_size (client->out, 0);
	client->out_pos = 0;
	return TRUE;
}

static void
client_fill (Client *client)
{
	while (g_queue_get_length (&client->pending) < (guint) opt_window &&
	       client->next_batch < n_batches) {
		queue_batch (client, client->next_batch);
		client->next_batch += (guint64) opt_connections;
	}
}

static int
run (Client *clients)
{
	g_autofree struct pollfd *fds = g_new0 (struct pollfd, opt_connections);
	gint64 deadline = opt_timeout > 0
				  ? g_get_monotonic_time () + (gint64) opt_timeout * G_USEC_PER_SEC
				  : 0;
	guint finished = 0;

	for (int c = 0; c < opt_connections; c++)
		finished += clients[c].finished ? 1 : 0;
	while (finished < (guint) opt_connections) {
		for (int c = 0; c < opt_connections; c++) {
			Client *client = &clients[c];

			client_fill (client);
			if (!client_write (client))
				return 1;
			fds[c].fd = client->finished ? -1 : client->fd;
			fds[c].events = POLLIN | (client->out_pos < client->out->len ? POLLOUT : 0);
			fds[c].revents = 0;
		}
		if (poll (fds, (nfds_t) opt_connections, 1000) < 0 && errno != EINTR) {
			g_printerr ("tcp-load: poll: %s\n", g_strerror (errno));
			return 1;
		}
		for (int c = 0; c < opt_connections; c++) {
			Client *client = &clients[c];

			if (client->finished ||
			    (fds[c].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			if (!client_read (client))
				return 1;
			if (g_queue_is_empty (&client->pending) &&
			    client->next_batch >= n_batches) {
				client->finished = TRUE;
				finished++;
			}
		}
		if (deadline > 0 && g_get_monotonic_time () > deadline) {
			g_printerr ("tcp-load: timed out after %d s with %" G_GUINT64_FORMAT
				    " of %" G_GINT64_FORMAT " events acknowledged\n",
				    opt_timeout, acked_events, opt_events);
			return 1;
		}
	}
	return 0;
}

int
main (int argc, char **argv)
{
	g_autoptr (GOptionContext) context = g_option_context_new (
		"- send events to a Tandem tcp receiver and measure the rate");
	g_autoptr (GError) error = NULL;
	g_autofree Client *clients = NULL;
	gint64 started, elapsed_us;
	double seconds, rate;
	int rc;

	g_option_context_add_main_entries (context, options, NULL);
	if (!g_option_context_parse (context, &argc, &argv, &error)) {
		g_printerr ("tcp-load: %s\n", error->message);
		return 2;
	}
	if (opt_events < 1 || opt_batch < 1 || opt_window < 1 || opt_connections < 1 ||
	    opt_port < 1 || opt_port > 65535 || !parse_types (opt_types)) {
		g_printerr (
			"tcp-load: --events, --batch, --window and --connections must be at least 1, --port 1-65535\n");
		return 2;
	}
	if (opt_ts_base < 0)
		opt_ts_base = g_get_real_time () / 1000;
	n_batches = ((guint64) opt_events + (guint64) opt_batch - 1) / (guint64) opt_batch;

	clients = g_new0 (Client, opt_connections);
	started = g_get_monotonic_time ();
	for (int c = 0; c < opt_connections; c++) {
		clients[c].fd = connect_to ();
		if (clients[c].fd < 0)
			return 1;
		clients[c].next_batch = (guint64) c;
		clients[c].out = g_byte_array_sized_new (64 * 1024);
		clients[c].in_cap = 64 * 1024;
		clients[c].in = g_malloc (clients[c].in_cap);
		g_queue_init (&clients[c].pending);
		/* a connection without a batch has nothing to wait for */
		clients[c].finished = clients[c].next_batch >= n_batches;
	}
	rc = run (clients);
	elapsed_us = g_get_monotonic_time () - started;
	for (int c = 0; c < opt_connections; c++) {
		close (clients[c].fd);
		g_byte_array_unref (clients[c].out);
		g_free (clients[c].in);
		g_queue_clear_full (&clients[c].pending, g_free);
	}
	if (rc != 0)
		return rc;
	if (acked_events != (guint64) opt_events) {
		g_printerr ("tcp-load: %" G_GUINT64_FORMAT " events acknowledged, %" G_GINT64_FORMAT
			    " sent\n",
			    acked_events, opt_events);
		return 1;
	}

	seconds = (double) elapsed_us / G_USEC_PER_SEC;
	rate = seconds > 0 ? (double) acked_events / seconds : 0;
	g_print ("tcp-load: %s:%d, stream %s (%s)\n", opt_address, opt_port, opt_stream, opt_types);
	g_print ("  %-22s %" G_GINT64_FORMAT "\n", "events", opt_events);
	g_print ("  %-22s %d\n", "batch (events/frame)", opt_batch);
	g_print ("  %-22s %d\n", "window (frames)", opt_window);
	g_print ("  %-22s %d\n", "connections", opt_connections);
	g_print ("  %-22s %.3f\n", "seconds", seconds);
	g_print ("  %-22s %.0f\n", "events/s", rate);
	g_print ("  %-22s %" G_GUINT64_FORMAT " (%" G_GUINT64_FORMAT " new)\n", "acknowledged",
		 acked_events, new_events);
	g_print ("  %-22s %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT "\n", "sequence numbers",
		 seq_min, seq_max);
	g_print ("  %-22s %" G_GUINT64_FORMAT "\n", "blocked writes", stalls);
	g_print ("RESULT name=tcp-load events=%" G_GINT64_FORMAT
		 " batch=%d window=%d connections=%d "
		 "seconds=%.3f events_per_s=%.0f acked=%" G_GUINT64_FORMAT " new=%" G_GUINT64_FORMAT
		 " seq_min=%" G_GUINT64_FORMAT " seq_max=%" G_GUINT64_FORMAT
		 " blocked_writes=%" G_GUINT64_FORMAT "\n",
		 opt_events, opt_batch, opt_window, opt_connections, seconds, rate, acked_events,
		 new_events, seq_min, seq_max, stalls);
	return 0;
}
