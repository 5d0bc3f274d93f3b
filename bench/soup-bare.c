/* soup-bare.c: the ceiling of libsoup 3 as an HTTP event server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * A SoupServer on 127.0.0.1 with one handler that answers 202 with a tiny
 * JSON body to any POST (405 to anything else), and does nothing else: no
 * parsing, no ingest.  bench/ingest drives it with wrk beside the HTTP
 * receiver, so that the receiver's rate can be read against the library's
 * own.  It prints one line once it listens:
 *
 *   soup-bare: listening on 127.0.0.1:PORT
 *
 * and runs until SIGINT or SIGTERM, or until --timeout seconds have passed.
 */
#include <stdio.h>

#include <glib-unix.h>
#include <libsoup/soup.h>

static void
handle_request (SoupServer *server,
		SoupServerMessage *msg,
		const char *path,
		GHashTable *query,
		gpointer user_data)
{
	static const char body[] = "{\"accepted\":1}";
	guint64 *requests = user_data;

	if (soup_server_message_get_method (msg) != SOUP_METHOD_POST) {
		soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
		return;
	}
	(*requests)++;
	soup_server_message_set_status (msg, SOUP_STATUS_ACCEPTED, NULL);
	soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, body,
					  sizeof body - 1);
}

static gboolean
quit_loop (gpointer user_data)
{
	g_main_loop_quit (user_data);
	return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
	int port = 0;
	int timeout_s = 600;
	guint64 requests = 0;
	g_autoptr (GError) error = NULL;
	g_autoptr (GOptionContext) context = NULL;
	g_autoptr (SoupServer) server = NULL;
	g_autoptr (GMainLoop) loop = NULL;
	g_autoptr (GInetAddress) loopback = NULL;
	g_autoptr (GSocketAddress) address = NULL;
	GSList *uris;
	const GOptionEntry entries[] = {
		{ "port", 'p', 0, G_OPTION_ARG_INT, &port,
		  "Port on 127.0.0.1 (default 0: a free port)", "PORT" },
		{ "timeout", 't', 0, G_OPTION_ARG_INT, &timeout_s,
		  "Exit after this many seconds (default 600)", "S" },
		{ NULL },
	};

	context = g_option_context_new ("- a bare libsoup 3 server answering 202 to any POST");
	g_option_context_add_main_entries (context, entries, NULL);
	if (!g_option_context_parse (context, &argc, &argv, &error)) {
		g_printerr ("soup-bare: %s\n", error->message);
		return 2;
	}
	if (port < 0 || port > 65535 || timeout_s < 1) {
		g_printerr ("soup-bare: --port must be 0-65535 and --timeout at least 1\n");
		return 2;
	}

	server = soup_server_new ("server-header", "soup-bare", NULL);
	soup_server_add_handler (server, NULL, handle_request, &requests, NULL);
	loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
	address = g_inet_socket_address_new (loopback, (guint16) port);
	if (!soup_server_listen (server, address, 0, &error)) {
		g_printerr ("soup-bare: cannot listen on 127.0.0.1:%d: %s\n", port, error->message);
		return 1;
	}
	uris = soup_server_get_uris (server);
	g_print ("soup-bare: listening on 127.0.0.1:%d\n",
		 uris != NULL ? g_uri_get_port (uris->data) : port);
	g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
	fflush (stdout);

	loop = g_main_loop_new (NULL, FALSE);
	g_unix_signal_add (SIGINT, quit_loop, loop);
	g_unix_signal_add (SIGTERM, quit_loop, loop);
	g_timeout_add_seconds ((guint) timeout_s, quit_loop, loop);
	g_main_loop_run (loop);

	g_print ("soup-bare: %" G_GUINT64_FORMAT " requests answered\n", requests);
	return 0;
}
