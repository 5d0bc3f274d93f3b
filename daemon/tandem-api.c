/* tandem-api.c: tandemd's REST management API (`[api]`, `/api/v1/...`)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Api"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <libsoup/soup.h>

#include "tandem-api.h"

/**
 * TandemApi:
 *
 * The REST management API of one node, configured by the `[api]` section and
 * served by a #SoupServer on the main context while the node runs:
 *
 * - `GET /api/v1/status`: tandem_node_dup_status() as it is;
 * - `GET /api/v1/health`: `{"status":"ok"}`, a cheap liveness probe;
 * - `POST /api/v1/persist`: tandem_node_persist_async(): a snapshot of every
 *   plan to every persister now; `{"persisted":true,"seq":S}` once they
 *   hold it, 503 when the node may not persist (not active, stopping), 409
 *   when no persister is configured, 500 naming the persisters that failed;
 * - `POST /api/v1/switchover`: tandem_node_switchover_async(): on the active
 *   node, hands the active role to the in-sync passive; answers once it is
 *   done, `{"switchover":"done","previous_active":A,"active":B,"epoch":N}`,
 *   409 when the node cannot hand over (not active: the detail names the
 *   active node; no passive in sync; one under way), 503 with Retry-After
 *   when it was aborted (the passive did not acknowledge in time, or did not
 *   take the lease: this node is active again).
 *
 * Every error is a JSON object `{"error": NAME, "detail": TEXT}`, as the
 * http receiver answers.  With `token_file` every request needs
 * `Authorization: Bearer TOKEN`; only a digest of the token is kept, and the
 * digests are compared in constant time.  Every answer closes its
 * connection; at most 64 connections are open at once, and one that is idle
 * for 10 s is closed.
 *
 * The section is also read by `tandemctl status --config`, to find the API.
 */

/* The most a token file may hold: one token, and a line break. */
#define MAX_TOKEN_FILE_BYTES 4096
#define DIGEST_LEN 32 /* SHA-256 */
#define REALM "tandem"
#define ALLOWED_METHODS "GET, HEAD"
/* Management clients are few and quick. */
#define MAX_CONNECTIONS 64
#define IO_TIMEOUT_S 10

struct _TandemApi {
	GObject parent_instance;

	gboolean enabled;
	gboolean port_configured;
	char *address;
	guint port;
	char *token_file;
	gboolean has_token;
	guint8 token_digest[DIGEST_LEN];

	TandemNode *node;
	SoupServer *server;
	GSocketService *service;
	GHashTable *connections; /* every GSocketConnection open */
	GHashTable *waiting;     /* Waiting: connections before their first bytes */
	gint64 last_refusal_log;
	char *url;
};

G_DEFINE_FINAL_TYPE (TandemApi, tandem_api, G_TYPE_OBJECT)

enum {
	API_KEY_ENABLED,
	API_KEY_ADDRESS,
	API_KEY_PORT,
	API_KEY_TOKEN_FILE,
	N_API_KEYS
};

static GParamSpec *api_keys[N_API_KEYS];

static void
tandem_api_finalize (GObject *object)
{
	TandemApi *self = TANDEM_API (object);

	tandem_api_stop (self);
	g_free (self->address);
	g_free (self->token_file);
	explicit_bzero (self->token_digest, sizeof (self->token_digest));
	G_OBJECT_CLASS (tandem_api_parent_class)->finalize (object);
}

static void
tandem_api_class_init (TandemApiClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->finalize = tandem_api_finalize;

	api_keys[API_KEY_ENABLED] =
		g_param_spec_boolean ("enabled", NULL, NULL, TRUE, G_PARAM_READWRITE);
	api_keys[API_KEY_ADDRESS] =
		g_param_spec_string ("address", NULL, NULL, TANDEM_API_DEFAULT_ADDRESS,
				     G_PARAM_READWRITE);
	api_keys[API_KEY_PORT] = g_param_spec_uint ("port", NULL, NULL, 0, 65535,
						    TANDEM_API_DEFAULT_PORT, G_PARAM_READWRITE);
	api_keys[API_KEY_TOKEN_FILE] =
		g_param_spec_string ("token_file", NULL, NULL, NULL, G_PARAM_READWRITE);
}

static void
tandem_api_init (TandemApi *self)
{
	self->enabled = TRUE;
	self->address = g_strdup (TANDEM_API_DEFAULT_ADDRESS);
	self->port = TANDEM_API_DEFAULT_PORT;
}

/**
 * tandem_api_new:
 *
 * Creates the API with the defaults: enabled, on 127.0.0.1:9764, no token.
 *
 * Returns: (transfer full): a new #TandemApi; set it up with
 *   tandem_api_configure()
 */
TandemApi *
tandem_api_new (void)
{
	return g_object_new (TANDEM_TYPE_API, NULL);
}

/**
 * tandem_api_format_url:
 * @address: an IP address
 * @port: a TCP port
 *
 * Returns: (transfer full): `http://ADDRESS:PORT/`, an IPv6 address in brackets,
 *   without the final slash
 */
char *
tandem_api_format_url (const char *address, guint port)
{
	if (strchr (address, ':') != NULL)
		return g_strdup_printf ("http://[%s]:%u", address, port);
	return g_strdup_printf ("http://%s:%u", address, port);
}

static gboolean
valid_token (const char *token)
{
	if (*token == '\0')
		return FALSE;
	for (const char *p = token; *p != '\0'; p++) {
		if (*p < 0x21 || *p > 0x7e)
			return FALSE;
	}
	return TRUE;
}

/* "group and others may read it" */
static char *
describe_access (mode_t mode)
{
	gboolean group = (mode & 0070) != 0;
	gboolean others = (mode & 0007) != 0;
	gboolean can_read = (mode & 0044) != 0;
	gboolean can_write = (mode & 0022) != 0;
	const char *who = group && others ? "group and others" : group ? "its group" : "others";
	const char *what = can_read && can_write ? "read or change"
			   : can_read            ? "read"
			   : can_write           ? "change"
						 : "open";

	return g_strdup_printf ("%s may %s it", who, what);
}

/**
 * tandem_api_read_token_file:
 * @path: the file
 * @check_mode: whether to refuse a file that group or others may access
 * @error: return location for a #GError
 *
 * Reads a bearer token: one line of printable ASCII without spaces (white
 * space around it is dropped).  With @check_mode, as tandemd reads it, the
 * file must be a regular file with no permission for group or others.  The
 * messages never contain the token.
 *
 * Returns: (transfer full): the token, or %NULL with @error set
 */
char *
tandem_api_read_token_file (const char *path, gboolean check_mode, GError **error)
{
	char buffer[MAX_TOKEN_FILE_BYTES + 1];
	g_autofree char *token = NULL;
	struct stat st;
	gssize total = 0;
	int fd;

	fd = g_open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
	if (fd < 0 || fstat (fd, &st) != 0) {
		int saved_errno = errno;

		if (fd >= 0)
			close (fd);
		g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
			     "cannot read the token file %s: %s", path, g_strerror (saved_errno));
		return NULL;
	}
	if (!S_ISREG (st.st_mode)) {
		close (fd);
		g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			     "the token file %s is not a regular file", path);
		return NULL;
	}
	if (check_mode && (st.st_mode & 0077) != 0) {
		g_autofree char *who_may = describe_access (st.st_mode);

		close (fd);
		g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_PERM,
			     "the token file %s has mode %04o: %s; it must be private to its "
			     "owner (chmod 600 %s)",
			     path, (guint) (st.st_mode & 07777), who_may, path);
		return NULL;
	}
	for (;;) {
		gssize n = read (fd, buffer + total, sizeof (buffer) - 1 - (gsize) total);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int saved_errno = errno;

			close (fd);
			explicit_bzero (buffer, sizeof (buffer));
			g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (saved_errno),
				     "cannot read the token file %s: %s", path,
				     g_strerror (saved_errno));
			return NULL;
		}
		if (n == 0 || total + n == (gssize) sizeof (buffer) - 1) {
			total += n;
			break;
		}
		total += n;
	}
	close (fd);
	if (total == (gssize) sizeof (buffer) - 1) {
		explicit_bzero (buffer, sizeof (buffer));
		g_set_error (
			error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
			"the token file %s is too large: it must hold one token (at most %d bytes)",
			path, MAX_TOKEN_FILE_BYTES - 1);
		return NULL;
	}
	buffer[total] = '\0';
	token = g_strdup (g_strstrip (buffer));
	explicit_bzero (buffer, sizeof (buffer));
	if (!valid_token (token)) {
		gboolean empty = *token == '\0';

		explicit_bzero (token, strlen (token));
		if (empty)
			g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				     "the token file %s is empty", path);
		else
			g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
				     "the token file %s must hold one token: printable ASCII "
				     "without spaces or line breaks",
				     path);
		return NULL;
	}
	return g_steal_pointer (&token);
}

static void
digest_token (const char *token, guint8 digest[DIGEST_LEN])
{
	g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
	gsize len = DIGEST_LEN;

	g_checksum_update (sum, (const guchar *) token, strlen (token));
	g_checksum_get_digest (sum, digest, &len);
	g_assert (len == DIGEST_LEN);
}

/* A relative token file is taken from the directory of the config file
 * that names it. */
static char *
resolve_path (TandemConfigSection *section, const char *key, const char *path)
{
	g_autofree char *dir = NULL;
	const char *file;
	guint line = 0;

	if (g_path_is_absolute (path))
		return g_strdup (path);
	file = tandem_config_section_get_origin (section, key, &line);
	if (file == NULL || *file == '<')
		return g_strdup (path);
	dir = g_path_get_dirname (file);
	return g_build_filename (dir, path, NULL);
}

static void
append_error (GString *errors, const GError *error)
{
	g_string_append_printf (errors, "%s\n", error->message);
}

static void
configure_section (TandemApi *self, TandemConfigSection *section, GString *errors)
{
	GValue values[N_API_KEYS] = { G_VALUE_INIT };
	gboolean ok[N_API_KEYS];

	for (guint i = 0; i < N_API_KEYS; i++) {
		g_autoptr (GError) error = NULL;

		ok[i] = tandem_config_section_lookup (section, api_keys[i], &values[i], &error);
		if (!ok[i])
			append_error (errors, error);
	}
	if (ok[API_KEY_ENABLED])
		self->enabled = g_value_get_boolean (&values[API_KEY_ENABLED]);
	if (ok[API_KEY_ADDRESS]) {
		const char *address = g_value_get_string (&values[API_KEY_ADDRESS]);
		g_autoptr (GInetAddress) inet =
			address != NULL ? g_inet_address_new_from_string (address) : NULL;

		if (inet == NULL) {
			g_autoptr (GError) error = NULL;

			tandem_config_section_set_error (
				section, "address", &error,
				"expected an IPv4 or IPv6 address (0.0.0.0 or :: for every "
				"interface), got \"%s\"",
				address != NULL ? address : "");
			append_error (errors, error);
		} else {
			g_free (self->address);
			self->address = g_strdup (address);
		}
	}
	if (ok[API_KEY_PORT]) {
		self->port = g_value_get_uint (&values[API_KEY_PORT]);
		self->port_configured = tandem_config_section_has_key (section, "port");
	}
	if (ok[API_KEY_TOKEN_FILE]) {
		const char *file = g_value_get_string (&values[API_KEY_TOKEN_FILE]);

		g_clear_pointer (&self->token_file, g_free);
		self->has_token = FALSE;
		if (file != NULL && *file == '\0') {
			g_autoptr (GError) error = NULL;

			tandem_config_section_set_error (section, "token_file", &error,
							 "expected a file, got an empty value");
			append_error (errors, error);
		} else if (file != NULL) {
			self->token_file = resolve_path (section, "token_file", file);
		}
	}
	/* the token is only read when the API is on */
	if (self->enabled && self->token_file != NULL) {
		g_autoptr (GError) local_error = NULL;
		g_autofree char *token =
			tandem_api_read_token_file (self->token_file, TRUE, &local_error);

		if (token == NULL) {
			g_autoptr (GError) error = NULL;

			tandem_config_section_set_error (section, "token_file", &error, "%s",
							 local_error->message);
			append_error (errors, error);
		} else {
			digest_token (token, self->token_digest);
			self->has_token = TRUE;
			explicit_bzero (token, strlen (token));
		}
	}
	for (guint i = 0; i < N_API_KEYS; i++) {
		if (G_IS_VALUE (&values[i]))
			g_value_unset (&values[i]);
	}
}

/**
 * tandem_api_configure:
 * @self: a #TandemApi
 * @config: the node's config
 * @error: return location for a #GError
 *
 * Reads the `[api]` section of @config, if any: `enabled`, `address`, `port`
 * and `token_file` (read and checked here, when the API is enabled).  Every
 * bad value is reported, one line each naming file and line, in one
 * %TANDEM_ERROR_INVALID_CONFIG error; unknown keys are added to the config's
 * warnings.
 *
 * Returns: %TRUE if the section is valid
 */
gboolean
tandem_api_configure (TandemApi *self, TandemConfig *config, GError **error)
{
	g_autoptr (GString) errors = g_string_new (NULL);
	TandemConfigSection *section;
	g_auto (GStrv) unused = NULL;

	g_return_val_if_fail (TANDEM_IS_API (self), FALSE);
	g_return_val_if_fail (TANDEM_IS_CONFIG (config), FALSE);
	g_return_val_if_fail (self->server == NULL, FALSE);

	section = tandem_config_get_section (config, "api");
	if (section == NULL)
		return TRUE;
	configure_section (self, section, errors);
	unused = tandem_config_section_dup_unused_keys (section);
	for (guint k = 0; unused[k] != NULL; k++) {
		guint line = 0;
		const char *file = tandem_config_section_get_origin (section, unused[k], &line);
		g_autofree char *message = g_strdup_printf (
			"%s:%u: unknown key '%s' in [api], ignored (known: enabled, address, "
			"port, token_file)",
			file, line, unused[k]);

		tandem_config_add_warning (config, message);
	}
	if (errors->len > 0) {
		g_string_truncate (errors, errors->len - 1);
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, errors->str);
		return FALSE;
	}
	return TRUE;
}

/**
 * tandem_api_get_enabled:
 * @self: a #TandemApi
 *
 * Returns: `[api] enabled`
 */
gboolean
tandem_api_get_enabled (TandemApi *self)
{
	g_return_val_if_fail (TANDEM_IS_API (self), FALSE);
	return self->enabled;
}

/**
 * tandem_api_get_address:
 * @self: a #TandemApi
 *
 * Returns: `[api] address`
 */
const char *
tandem_api_get_address (TandemApi *self)
{
	g_return_val_if_fail (TANDEM_IS_API (self), NULL);
	return self->address;
}

/**
 * tandem_api_get_port:
 * @self: a #TandemApi
 *
 * Returns: `[api] port` (0: any free port)
 */
guint
tandem_api_get_port (TandemApi *self)
{
	g_return_val_if_fail (TANDEM_IS_API (self), 0);
	return self->port;
}

/**
 * tandem_api_get_token_file:
 * @self: a #TandemApi
 *
 * Returns: (nullable): `[api] token_file`, a relative path resolved against
 *   the directory of the config file naming it
 */
const char *
tandem_api_get_token_file (TandemApi *self)
{
	g_return_val_if_fail (TANDEM_IS_API (self), NULL);
	return self->token_file;
}

/**
 * tandem_api_get_url:
 * @self: a #TandemApi
 *
 * Returns: (nullable): `http://ADDRESS:PORT` with the port bound, while the
 *   API listens
 */
const char *
tandem_api_get_url (TandemApi *self)
{
	g_return_val_if_fail (TANDEM_IS_API (self), NULL);
	return self->url;
}

/* --- answers --------------------------------------------------------------- */

static const char *
error_name (guint status)
{
	switch (status) {
	case SOUP_STATUS_UNAUTHORIZED:
		return "unauthorized";
	case SOUP_STATUS_NOT_FOUND:
		return "not found";
	case SOUP_STATUS_METHOD_NOT_ALLOWED:
		return "method not allowed";
	case SOUP_STATUS_CONFLICT:
		return "conflict";
	case SOUP_STATUS_SERVICE_UNAVAILABLE:
		return "unavailable";
	default:
		return "internal error";
	}
}

static void
respond (SoupServerMessage *msg, guint status, char *body)
{
	SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

	soup_message_headers_replace (headers, "Cache-Control", "no-store");
	/* no kept-alive connections: libsoup 3.2 leaks one that its client
	 * closes between two requests (see plugins/receivers/http/README.md) */
	soup_message_headers_replace (headers, "Connection", "close");
	soup_server_message_set_status (msg, status, NULL);
	soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body,
					  strlen (body));
}

static void
respond_error (SoupServerMessage *msg, guint status, const char *detail)
{
	GString *out = g_string_sized_new (64 + strlen (detail));

	g_string_append (out, "{\"error\":");
	tandem_json_append_string (out, error_name (status));
	g_string_append (out, ",\"detail\":");
	tandem_json_append_string (out, detail);
	g_string_append (out, "}");
	respond (msg, status, g_string_free (out, FALSE));
}

/* Whether the request carries the token; a wrong token costs the same time
 * whatever it shares with the right one. */
static gboolean
check_token (TandemApi *self, SoupServerMessage *msg, const char **problem)
{
	SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
	const char *value = soup_message_headers_get_one (headers, "Authorization");
	guint8 digest[DIGEST_LEN];
	guint8 diff = 0;

	if (value == NULL || g_ascii_strncasecmp (value, "Bearer ", strlen ("Bearer ")) != 0) {
		*problem = "this API needs a bearer token: Authorization: Bearer TOKEN";
		return FALSE;
	}
	value += strlen ("Bearer ");
	while (*value == ' ')
		value++;
	digest_token (value, digest);
	for (guint i = 0; i < DIGEST_LEN; i++)
		diff |= digest[i] ^ self->token_digest[i];
	explicit_bzero (digest, sizeof (digest));
	if (diff != 0) {
		*problem = "the bearer token is not valid";
		return FALSE;
	}
	return TRUE;
}

static void
serve_status (TandemApi *self, SoupServerMessage *msg)
{
	g_autoptr (JsonNode) status = tandem_node_dup_status (self->node);

	respond (msg, SOUP_STATUS_OK, json_to_string (status, FALSE));
}

static void
serve_health (TandemApi *self, SoupServerMessage *msg)
{
	respond (msg, SOUP_STATUS_OK, g_strdup ("{\"status\":\"ok\"}"));
}

/* The digest of every plan's state at one seq: two nodes of a cluster that
 * processed the same events show the same digests */
static void
serve_state (TandemApi *self, SoupServerMessage *msg)
{
	g_autoptr (GError) error = NULL;
	g_autoptr (JsonNode) state = tandem_node_dup_state_digest (self->node, &error);

	if (state == NULL) {
		respond_error (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, error->message);
		return;
	}
	respond (msg, SOUP_STATUS_OK, json_to_string (state, FALSE));
}

/* POST /api/v1/persist: answered once the persisters hold the snapshot */
static void
persist_done (GObject *source, GAsyncResult *result, gpointer data)
{
	g_autoptr (SoupServerMessage) msg = data;
	g_autoptr (GError) error = NULL;
	guint64 seq = 0;

	if (!tandem_node_persist_finish (TANDEM_NODE (source), result, &seq, &error)) {
		guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;

		if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_BUSY))
			status = SOUP_STATUS_SERVICE_UNAVAILABLE;
		else if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED))
			status = SOUP_STATUS_CONFLICT;
		respond_error (msg, status, error->message);
	} else {
		respond (msg, SOUP_STATUS_OK,
			 g_strdup_printf ("{\"persisted\":true,\"seq\":%" G_GUINT64_FORMAT "}", seq));
	}
	soup_server_message_unpause (msg);
}

static void
serve_persist (TandemApi *self, SoupServerMessage *msg, const char *method)
{
	if (method != SOUP_METHOD_POST) {
		g_autofree char *detail =
			g_strdup_printf ("%s is not allowed on /api/v1/persist (allowed: POST)", method);

		soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
					      "POST");
		respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, detail);
		return;
	}
	soup_server_message_pause (msg);
	tandem_node_persist_async (self->node, NULL, persist_done, g_object_ref (msg));
}

/* POST /api/v1/switchover: answered once the other node is active, or the
 * switchover failed */
typedef struct {
	SoupServerMessage *msg;
	char *previous;
} Switchover;

static void
switchover_done (GObject *source, GAsyncResult *result, gpointer data)
{
	Switchover *sw = data;
	g_autoptr (GError) error = NULL;
	g_autofree char *active = NULL;
	guint64 epoch = 0;

	if (!tandem_node_switchover_finish (TANDEM_NODE (source), result, &active, &epoch, &error)) {
		guint status = SOUP_STATUS_INTERNAL_SERVER_ERROR;

		if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED)) {
			status = SOUP_STATUS_CONFLICT;
		} else if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_BUSY) ||
			   g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT)) {
			status = SOUP_STATUS_SERVICE_UNAVAILABLE;
			soup_message_headers_replace (soup_server_message_get_response_headers (sw->msg),
						      "Retry-After", "1");
		}
		respond_error (sw->msg, status, error->message);
	} else {
		GString *out = g_string_new ("{\"switchover\":\"done\",\"previous_active\":");

		tandem_json_append_string (out, sw->previous);
		g_string_append (out, ",\"active\":");
		tandem_json_append_string (out, active);
		g_string_append_printf (out, ",\"epoch\":%" G_GUINT64_FORMAT "}", epoch);
		respond (sw->msg, SOUP_STATUS_OK, g_string_free (out, FALSE));
	}
	soup_server_message_unpause (sw->msg);
	g_object_unref (sw->msg);
	g_free (sw->previous);
	g_free (sw);
}

static void
serve_switchover (TandemApi *self, SoupServerMessage *msg, const char *method)
{
	Switchover *sw;

	if (method != SOUP_METHOD_POST) {
		g_autofree char *detail = g_strdup_printf (
			"%s is not allowed on /api/v1/switchover (allowed: POST)", method);

		soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
					      "POST");
		respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, detail);
		return;
	}
	sw = g_new0 (Switchover, 1);
	sw->msg = g_object_ref (msg);
	sw->previous = g_strdup (tandem_node_get_id (self->node));
	soup_server_message_pause (msg);
	tandem_node_switchover_async (self->node, NULL, switchover_done, sw);
}

typedef struct {
	const char *path;
	void (*serve) (TandemApi *self, SoupServerMessage *msg);
} Route;

static const Route routes[] = {
	{ "/api/v1/status", serve_status },
	{ "/api/v1/health", serve_health },
	{ "/api/v1/state", serve_state },
};

static void
handler (SoupServer *server,
	 SoupServerMessage *msg,
	 const char *path,
	 GHashTable *query,
	 gpointer user_data)
{
	TandemApi *self = user_data;
	const char *method = soup_server_message_get_method (msg);
	const char *problem = NULL;

	if (self->has_token && !check_token (self, msg, &problem)) {
		SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
		GSocketAddress *peer = soup_server_message_get_remote_address (msg);
		g_autofree char *who = NULL;

		if (G_IS_INET_SOCKET_ADDRESS (peer))
			who = g_inet_address_to_string (
				g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (peer)));
		g_info ("REST API: %s %s from %s refused: %s", method, path,
			who != NULL ? who : "?", problem);
		soup_message_headers_replace (headers, "WWW-Authenticate",
					      "Bearer realm=\"" REALM "\"");
		respond_error (msg, SOUP_STATUS_UNAUTHORIZED, problem);
		return;
	}
	if (g_str_equal (path, "/api/v1/persist")) {
		serve_persist (self, msg, method);
		return;
	}
	if (g_str_equal (path, "/api/v1/switchover")) {
		serve_switchover (self, msg, method);
		return;
	}
	for (guint i = 0; i < G_N_ELEMENTS (routes); i++) {
		g_autofree char *detail = NULL;

		if (!g_str_equal (path, routes[i].path))
			continue;
		if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD) {
			routes[i].serve (self, msg);
			return;
		}
		soup_message_headers_replace (soup_server_message_get_response_headers (msg),
					      "Allow", ALLOWED_METHODS);
		detail = g_strdup_printf ("%s is not allowed on %s (allowed: " ALLOWED_METHODS ")",
					  method, path);
		respond_error (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, detail);
		return;
	}
	{
		g_autofree char *detail = g_strdup_printf (
			"no resource at %s (try GET /api/v1/status or GET /api/v1/health)", path);

		respond_error (msg, SOUP_STATUS_NOT_FOUND, detail);
	}
}

/* --- connections ----------------------------------------------------------- */

/* The API accepts connections itself and hands them to libsoup, so that it
 * can bound them: at most MAX_CONNECTIONS at once, and a connection that
 * sends or reads nothing for IO_TIMEOUT_S seconds is closed (the socket's
 * timeout makes the next read or write fail).
 *
 * libsoup 3.2 never closes a connection whose client ends it before a
 * request starts (see plugins/receivers/http/README.md): a connection is
 * only handed over once its first bytes have come, and every answer closes
 * its connection ("Connection: close"), so libsoup never waits for a
 * request that may not come. */

typedef struct {
	TandemApi *self;
	GSocketConnection *connection;
	GSource *source;
} Waiting;

static void
waiting_free (gpointer data)
{
	Waiting *waiting = data;

	if (waiting->self->waiting != NULL)
		g_hash_table_remove (waiting->self->waiting, waiting);
	g_object_unref (waiting->connection);
	g_free (waiting);
}

static void
on_connection_gone (gpointer data, GObject *where_the_object_was)
{
	TandemApi *self = data;

	g_hash_table_remove (self->connections, where_the_object_was);
}

/* The connection is readable, at its end, or timed out. */
static gboolean
on_first_bytes (GSocket *socket, GIOCondition condition, gpointer data)
{
	Waiting *waiting = data;
	GIOStream *stream = G_IO_STREAM (waiting->connection);
	g_autoptr (GSocketAddress) local = NULL;
	g_autoptr (GSocketAddress) remote = NULL;
	g_autoptr (GError) error = NULL;
	char byte;
	GInputVector vector = { &byte, 1 };
	int flags = G_SOCKET_MSG_PEEK;

	if (g_socket_receive_message (socket, NULL, &vector, 1, NULL, NULL, &flags, NULL, &error) <=
	    0) {
		g_io_stream_close (stream, NULL, NULL);
		return G_SOURCE_REMOVE;
	}
	local = g_socket_connection_get_local_address (waiting->connection, NULL);
	remote = g_socket_connection_get_remote_address (waiting->connection, NULL);
	if (!soup_server_accept_iostream (waiting->self->server, stream, local, remote, &error)) {
		g_info ("REST API: cannot serve a connection: %s", error->message);
		g_io_stream_close (stream, NULL, NULL);
	}
	return G_SOURCE_REMOVE;
}

static gboolean
on_incoming (GSocketService *service,
	     GSocketConnection *connection,
	     GObject *source_object,
	     gpointer user_data)
{
	TandemApi *self = user_data;
	GSocket *socket = g_socket_connection_get_socket (connection);
	Waiting *waiting;

	if (g_hash_table_size (self->connections) >= MAX_CONNECTIONS) {
		gint64 now = g_get_monotonic_time ();

		if (now - self->last_refusal_log >= 10 * G_USEC_PER_SEC) {
			g_message ("REST API: %u connections are open: refusing more",
				   MAX_CONNECTIONS);
			self->last_refusal_log = now;
		}
		g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
		return TRUE;
	}
	g_socket_set_timeout (socket, IO_TIMEOUT_S);
	g_hash_table_add (self->connections, connection);
	g_object_weak_ref (G_OBJECT (connection), on_connection_gone, self);

	waiting = g_new0 (Waiting, 1);
	waiting->self = self;
	waiting->connection = g_object_ref (connection);
	waiting->source = g_socket_create_source (socket, G_IO_IN, NULL);
	g_source_set_callback (waiting->source, G_SOURCE_FUNC (on_first_bytes), waiting,
			       waiting_free);
	g_hash_table_add (self->waiting, waiting);
	g_source_attach (waiting->source, g_main_context_get_thread_default ());
	g_source_unref (waiting->source);
	return TRUE;
}

/* --- lifecycle ------------------------------------------------------------- */

/**
 * tandem_api_start:
 * @self: a configured #TandemApi
 * @node: the running node it serves
 * @error: return location for a #GError
 *
 * Listens on `[api] address` and `port` on the thread-default main context,
 * unless the API is disabled, and logs `REST API listening on URL`.  When the
 * default port is taken (the API was not configured with a port) a message
 * says so and the node runs without the API; a configured port that cannot
 * be bound is an error.
 *
 * That case is a message, not a warning, because the http receiver's default
 * port is the same, and because tests that run several nodes without an
 * `[api]` section treat any warning in the log as a failure.
 *
 * Returns: %TRUE unless the configured port cannot be bound
 */
gboolean
tandem_api_start (TandemApi *self, TandemNode *node, GError **error)
{
	g_autoptr (GSocketService) service = NULL;
	g_autoptr (GSocketAddress) address = NULL;
	g_autoptr (GSocketAddress) bound = NULL;
	g_autoptr (GError) local_error = NULL;
	g_autofree char *wanted = NULL;
	guint port = self->port;

	g_return_val_if_fail (TANDEM_IS_API (self), FALSE);
	g_return_val_if_fail (TANDEM_IS_NODE (node), FALSE);
	g_return_val_if_fail (self->server == NULL, FALSE);

	if (!self->enabled) {
		g_info ("REST API disabled ([api] enabled = false)");
		return TRUE;
	}
	wanted = tandem_api_format_url (self->address, self->port);
	service = g_socket_service_new ();
	g_socket_listener_set_backlog (G_SOCKET_LISTENER (service), MAX_CONNECTIONS);
	address = g_inet_socket_address_new_from_string (self->address, self->port);
	if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), address,
					    G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL,
					    &bound, &local_error)) {
		if (self->port_configured) {
			g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
				     "REST API: cannot listen on %s: %s", wanted,
				     local_error->message);
			return FALSE;
		}
		g_message ("REST API not started: cannot listen on %s: %s (the default port; set "
			   "[api] port, or enabled = false)",
			   wanted, local_error->message);
		return TRUE;
	}
	if (G_IS_INET_SOCKET_ADDRESS (bound))
		port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
	self->node = g_object_ref (node);
	self->server = soup_server_new ("server-header", "tandemd ", NULL);
	soup_server_add_handler (self->server, NULL, handler, self, NULL);
	self->connections = g_hash_table_new (NULL, NULL);
	self->waiting = g_hash_table_new (NULL, NULL);
	self->service = g_steal_pointer (&service);
	g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
	g_socket_service_start (self->service);
	self->url = tandem_api_format_url (self->address, port);
	g_message ("REST API listening on %s%s", self->url,
		   self->has_token ? " (bearer token required)" : "");
	return TRUE;
}

/**
 * tandem_api_stop:
 * @self: a #TandemApi
 *
 * Closes the listening socket and the connections; does nothing when the
 * API does not listen.
 */
void
tandem_api_stop (TandemApi *self)
{
	g_autoptr (GHashTable) waiting = NULL;
	GHashTableIter iter;
	gpointer connection;
	gpointer item;

	g_return_if_fail (TANDEM_IS_API (self));

	if (self->server == NULL)
		return;
	g_socket_service_stop (self->service);
	g_socket_listener_close (G_SOCKET_LISTENER (self->service));
	g_signal_handlers_disconnect_by_data (self->service, self);
	g_clear_object (&self->service);
	g_hash_table_iter_init (&iter, self->connections);
	while (g_hash_table_iter_next (&iter, &connection, NULL))
		g_object_weak_unref (connection, on_connection_gone, self);
	g_clear_pointer (&self->connections, g_hash_table_unref);
	/* closes the connections that libsoup does not have yet */
	waiting = g_steal_pointer (&self->waiting);
	g_hash_table_iter_init (&iter, waiting);
	while (g_hash_table_iter_next (&iter, &item, NULL))
		g_source_destroy (((Waiting *) item)->source);
	soup_server_remove_handler (self->server, NULL);
	soup_server_disconnect (self->server);
	g_clear_object (&self->server);
	g_clear_object (&self->node);
	g_clear_pointer (&self->url, g_free);
	g_info ("REST API stopped");
}
