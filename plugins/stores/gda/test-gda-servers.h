/* test-gda-servers.h: private MariaDB and PostgreSQL servers for the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
	TEST_SERVER_MARIADB,
	TEST_SERVER_POSTGRES,
} TestServerKind;

/* A database server of our own: its files in a temporary directory, Unix
 * sockets only (no TCP port), stopped by its PID. */
typedef struct {
	TestServerKind kind;
	char *dir;    /* everything lives here */
	char *socket; /* MariaDB: the socket file; PostgreSQL: its directory */
	char *user;
	int pid;
	GSubprocess *proc;
} TestServer;

/* NULL (and a reason in @why) when the server's programs are missing or it
 * does not start. */
TestServer *test_server_start (TestServerKind kind, char **why);
gboolean test_server_restart (TestServer *server, gboolean crash, GError **error);
void test_server_kill (TestServer *server, gboolean crash);
gboolean test_server_start_again (TestServer *server, GError **error);
gboolean test_server_create_database (TestServer *server, const char *name, GError **error);
/* The store keys reaching database @name: provider, host, user, database. */
char *test_server_store_keys (TestServer *server, const char *database);
/* Runs SQL with the server's command-line client, returns its output. */
char *test_server_sql (TestServer *server, const char *database, const char *sql, GError **error);
void test_server_free (TestServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (TestServer, test_server_free)

G_END_DECLS
