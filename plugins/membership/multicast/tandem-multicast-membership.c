/* tandem-multicast-membership.c: the multicast membership plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Discovery by UDP multicast: every member sends a signed announcement of
 * its heartbeat channel address (tandem_membership_encode_announcement(),
 * format in README.md) to a multicast group, three times 100 ms apart at
 * start and then every `announce_interval_ms`, and hands the address of
 * every valid announcement from another member of its cluster and domain
 * to the base class (tandem_membership_add_peer()), which keeps the
 * heartbeat sessions and reports who joined and who left.
 *
 * Everything runs on the main context that was the thread-default one at
 * start: one UDP socket bound to 0.0.0.0:`port`, joined to `group` on
 * `interface`, read by a socket source, and one timer for the
 * announcements.  Nothing a datagram holds can make the plugin do more than
 * log at debug level, except a datagram of this cluster and domain that
 * fails authentication (no or another cluster key, a replay, a clock too
 * far off): that one is logged as a warning, at most once per sender and
 * per 10 s.
 */
#define G_LOG_DOMAIN "Tandem-multicast"

#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gio/gio.h>
#include <tandem.h>

#include "tandem-multicast-membership.h"

#define DEFAULT_GROUP "239.255.84.77"
#define DEFAULT_PORT 54327
#define DEFAULT_TTL 1
#define DEFAULT_DOMAIN "default"
#define DEFAULT_INTERFACE "0.0.0.0"
#define DEFAULT_ANNOUNCE_INTERVAL_MS 1000

/* the largest datagram read (larger ones are ignored) */
#define MAX_DATAGRAM 2048
/* announcements sent QUICK_INTERVAL_MS apart at start */
#define QUICK_ANNOUNCEMENTS 3
#define QUICK_INTERVAL_MS 100
/* datagrams read per wake-up, so that a flood does not starve the loop */
#define MAX_READS_PER_DISPATCH 64
/* one warning per sender per this long */
#define WARN_INTERVAL_US (10 * G_USEC_PER_SEC)
/* senders remembered for rate limiting; beyond, they share one slot */
#define MAX_WARNED_SENDERS 256
/* one warning about failing to send per this long */
#define SEND_WARN_INTERVAL_US (60 * G_USEC_PER_SEC)

/**
 * TandemMulticastMembership:
 *
 * The membership plugin `multicast`: discovery by signed UDP multicast
 * announcements (`plugins/membership/multicast/README.md`).  Its config keys
 * are its properties flagged %TANDEM_PARAM_CONFIG, plus those of
 * #TandemMembership.
 */
struct _TandemMulticastMembership {
	TandemMembership parent_instance;

	/* config */
	char *group;
	int port;
	guint ttl;
	char *domain;
	char *interface;
	guint announce_interval_ms;

	/* running */
	GMainContext *context;
	GSocket *socket;
	GSocketAddress *group_address;
	GSource *read_source;
	GSource *timer;
	guint quick_left;
	GHashTable *discovered; /* node id -> address given to the base class */
	GHashTable *warned;     /* sender host -> monotonic time of its last warning */
	gint64 send_warned_us;
};

G_DEFINE_DYNAMIC_TYPE (TandemMulticastMembership,
		       tandem_multicast_membership,
		       TANDEM_TYPE_MEMBERSHIP)

enum {
	PROP_0,
	PROP_GROUP,
	PROP_PORT,
	PROP_TTL,
	PROP_DOMAIN,
	PROP_INTERFACE,
	PROP_ANNOUNCE_INTERVAL_MS,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void schedule_announcement (TandemMulticastMembership *self, guint delay_ms);

static const char *
name_of (TandemMulticastMembership *self)
{
	return tandem_plugin_get_name (TANDEM_PLUGIN (self));
}

/* --- receiving ------------------------------------------------------------- */

/* Whether a warning about @sender may be logged now (and records it). */
static gboolean
may_warn (TandemMulticastMembership *self, const char *sender)
{
	gint64 now = g_get_monotonic_time ();
	gpointer last;

	if (g_hash_table_size (self->warned) >= MAX_WARNED_SENDERS) {
		GHashTableIter iter;
		gpointer value;

		g_hash_table_iter_init (&iter, self->warned);
		while (g_hash_table_iter_next (&iter, NULL, &value)) {
			if (now - *(gint64 *) value >= WARN_INTERVAL_US)
				g_hash_table_iter_remove (&iter);
		}
		/* a crowd of senders: one warning for them all */
		if (g_hash_table_size (self->warned) >= MAX_WARNED_SENDERS)
			sender = "*";
	}
	last = g_hash_table_lookup (self->warned, sender);
	if (last != NULL && now - *(gint64 *) last < WARN_INTERVAL_US)
		return FALSE;
	g_hash_table_insert (self->warned, g_strdup (sender), g_memdup2 (&now, sizeof (now)));
	return TRUE;
}

static void
discovered (TandemMulticastMembership *self, const char *node_id, const char *address)
{
	TandemMembership *membership = TANDEM_MEMBERSHIP (self);
	const char *known = g_hash_table_lookup (self->discovered, node_id);
	g_autofree char *old = NULL;

	if (g_strcmp0 (known, address) == 0)
		return;
	if (known != NULL) {
		GHashTableIter iter;
		gpointer value;
		gboolean shared = FALSE;

		/* the node moved (restarted on another port): stop dialling its
		 * old address unless another node announces it too */
		old = g_strdup (known);
		g_hash_table_iter_init (&iter, self->discovered);
		while (g_hash_table_iter_next (&iter, NULL, &value)) {
			if (g_strcmp0 (value, old) == 0 && value != known)
				shared = TRUE;
		}
		if (!shared)
			tandem_membership_remove_peer (membership, old);
		g_message ("%s: node %s moved from %s to %s", name_of (self), node_id, old,
			   address);
	} else {
		g_message ("%s: discovered node %s at %s", name_of (self), node_id, address);
	}
	g_hash_table_replace (self->discovered, g_strdup (node_id), g_strdup (address));
	tandem_membership_add_peer (membership, address);
}

static void
handle_datagram (TandemMulticastMembership *self, const guint8 *data, gsize len, const char *sender)
{
	g_autoptr (GBytes) datagram = g_bytes_new (data, len);
	g_autoptr (GError) error = NULL;
	g_autofree char *node_id = NULL;
	g_autofree char *address = NULL;

	address = tandem_membership_decode_announcement (TANDEM_MEMBERSHIP (self), self->domain,
							 datagram, sender, &node_id, &error);
	if (address != NULL) {
		discovered (self, node_id, address);
		return;
	}
	if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_AUTH_FAILED)) {
		if (may_warn (self, sender))
			g_warning (
				"%s: refused an announcement from %s: %s (further ones from this sender are not logged for 10 s)",
				name_of (self), sender, error->message);
	} else if (g_error_matches (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT) &&
		   g_strcmp0 (error->message, "own announcement") == 0) {
		/* our own, looped back */
	} else {
		g_debug ("%s: ignored a datagram from %s: %s", name_of (self), sender,
			 error->message);
	}
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer user_data)
{
	TandemMulticastMembership *self = user_data;
	/* one byte more than accepted, to tell an oversized datagram */
	guint8 buf[MAX_DATAGRAM + 1];

	for (guint i = 0; i < MAX_READS_PER_DISPATCH && self->socket != NULL; i++) {
		g_autoptr (GSocketAddress) from = NULL;
		g_autoptr (GError) error = NULL;
		g_autofree char *sender = NULL;
		gssize len;

		len = g_socket_receive_from (socket, &from, (char *) buf, sizeof (buf), NULL,
					     &error);
		if (len < 0) {
			if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
				g_debug ("%s: receiving: %s", name_of (self), error->message);
			break;
		}
		if (G_IS_INET_SOCKET_ADDRESS (from))
			sender = g_inet_address_to_string (
				g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (from)));
		else
			sender = g_strdup ("?");
		if (len > MAX_DATAGRAM) {
			g_debug ("%s: ignored a datagram of more than %u bytes from %s",
				 name_of (self), MAX_DATAGRAM, sender);
			continue;
		}
		handle_datagram (self, buf, (gsize) len, sender);
	}
	return G_SOURCE_CONTINUE;
}

/* --- announcing ------------------------------------------------------------ */

static void
announce (TandemMulticastMembership *self)
{
	g_autoptr (GBytes) datagram = NULL;
	g_autoptr (GError) error = NULL;
	gint64 now = g_get_monotonic_time ();
	gconstpointer data;
	gsize len = 0;

	datagram = tandem_membership_encode_announcement (TANDEM_MEMBERSHIP (self), self->domain,
							  &error);
	if (datagram != NULL) {
		data = g_bytes_get_data (datagram, &len);
		if (g_socket_send_to (self->socket, self->group_address, data, len, NULL, &error) >=
		    0)
			return;
		if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
			return; /* the next one goes out */
	}
	if (self->send_warned_us == 0 || now - self->send_warned_us >= SEND_WARN_INTERVAL_US) {
		self->send_warned_us = now;
		g_warning ("%s: cannot announce to %s:%d: %s", name_of (self), self->group,
			   self->port, error->message);
	} else {
		g_debug ("%s: cannot announce: %s", name_of (self), error->message);
	}
}

static gboolean
on_timer (gpointer user_data)
{
	TandemMulticastMembership *self = user_data;

	g_clear_pointer (&self->timer, g_source_unref);
	announce (self);
	if (self->quick_left > 0) {
		self->quick_left--;
		schedule_announcement (self, QUICK_INTERVAL_MS);
	} else {
		schedule_announcement (self, self->announce_interval_ms);
	}
	return G_SOURCE_REMOVE;
}

static void
schedule_announcement (TandemMulticastMembership *self, guint delay_ms)
{
	if (self->timer != NULL) {
		g_source_destroy (self->timer);
		g_clear_pointer (&self->timer, g_source_unref);
	}
	self->timer = g_timeout_source_new (delay_ms);
	g_source_set_static_name (self->timer, "[tandem-multicast] announce");
	g_source_set_callback (self->timer, on_timer, self, NULL);
	g_source_attach (self->timer, self->context);
}

/* --- lifecycle ------------------------------------------------------------- */

static gboolean
check_ipv4 (const char *text, gboolean multicast)
{
	g_autoptr (GInetAddress) address = NULL;

	if (text == NULL)
		return FALSE;
	address = g_inet_address_new_from_string (text);
	return address != NULL && g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV4 &&
	       g_inet_address_get_is_multicast (address) == multicast;
}

static gboolean
fail_key (TandemConfigSection *section, const char *key, GError **error, const char *what)
{
	if (section != NULL)
		tandem_config_section_set_error (section, key, error, "%s", what);
	else
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, "%s: %s", key, what);
	return FALSE;
}

static gboolean
tandem_multicast_membership_setup (TandemPlugin *plugin,
				   TandemConfigSection *section,
				   GError **error)
{
	TandemMulticastMembership *self = TANDEM_MULTICAST_MEMBERSHIP (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_multicast_membership_parent_class);
	g_autofree char *what = NULL;

	if (parent->setup != NULL && !parent->setup (plugin, section, error))
		return FALSE;

	if (!check_ipv4 (self->group, TRUE)) {
		what = g_strdup_printf (
			"expected an IPv4 multicast address (224.0.0.0 to 239.255.255.255, such as %s), got \"%s\"",
			DEFAULT_GROUP, self->group != NULL ? self->group : "");
		return fail_key (section, "group", error, what);
	}
	if (!check_ipv4 (self->interface, FALSE)) {
		what = g_strdup_printf (
			"expected the IPv4 address of an interface (0.0.0.0: the kernel's choice), got \"%s\"",
			self->interface != NULL ? self->interface : "");
		return fail_key (section, "interface", error, what);
	}
	if (self->domain == NULL || *self->domain == '\0' || strlen (self->domain) > 255 ||
	    !g_utf8_validate (self->domain, -1, NULL))
		return fail_key (section, "domain", error,
				 "expected a name of 1 to 255 bytes, got an empty or overlong one");
	return TRUE;
}

static gboolean
set_ip_option (GSocket *socket, int option, const void *value, socklen_t len)
{
	return setsockopt (g_socket_get_fd (socket), IPPROTO_IP, option, value, len) == 0;
}

/* Opens the socket: bound to 0.0.0.0:port, joined to the group on the
 * interface, sending to the group through the interface. */
static GSocket *
open_socket (TandemMulticastMembership *self, GError **error)
{
	g_autoptr (GSocket) socket = NULL;
	g_autoptr (GInetAddress) any = g_inet_address_new_any (G_SOCKET_FAMILY_IPV4);
	g_autoptr (GSocketAddress) bind_address = NULL;
	g_autoptr (GError) local_error = NULL;
	struct ip_mreq mreq;
	struct in_addr iface;
	int saved_errno;

	socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP,
			       &local_error);
	if (socket == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "cannot open a UDP socket: %s", local_error->message);
		return NULL;
	}
	g_socket_set_blocking (socket, FALSE);
	/* every member on this host binds the same port */
	if (!g_socket_set_option (socket, SOL_SOCKET, SO_REUSEADDR, 1, &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "cannot set SO_REUSEADDR: %s", local_error->message);
		return NULL;
	}
	bind_address = g_inet_socket_address_new (any, (guint16) self->port);
	if (!g_socket_bind (socket, bind_address, TRUE, &local_error)) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "cannot bind UDP port 0.0.0.0:%d: %s", self->port,
			     local_error->message);
		return NULL;
	}
#ifdef IP_MULTICAST_ALL
	{
		/* only the groups this socket joined, not those of every
		 * socket of the host bound to the same port */
		int off = 0;

		set_ip_option (socket, IP_MULTICAST_ALL, &off, sizeof (off));
	}
#endif

	memset (&mreq, 0, sizeof (mreq));
	memset (&iface, 0, sizeof (iface));
	if (inet_pton (AF_INET, self->group, &mreq.imr_multiaddr) != 1 ||
	    inet_pton (AF_INET, self->interface, &iface) != 1) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_ARGUMENT,
			     "group \"%s\" or interface \"%s\" is not an IPv4 address", self->group,
			     self->interface);
		return NULL;
	}
	mreq.imr_interface = iface;
	if (!set_ip_option (socket, IP_ADD_MEMBERSHIP, &mreq, sizeof (mreq))) {
		saved_errno = errno;
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "cannot join multicast group %s on interface %s: %s", self->group,
			     self->interface, g_strerror (saved_errno));
		return NULL;
	}
	if (iface.s_addr != htonl (INADDR_ANY) &&
	    !set_ip_option (socket, IP_MULTICAST_IF, &iface, sizeof (iface))) {
		saved_errno = errno;
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED,
			     "cannot send multicast through interface %s: %s", self->interface,
			     g_strerror (saved_errno));
		return NULL;
	}
	g_socket_set_multicast_ttl (socket, self->ttl);
	/* members on the same host hear each other */
	g_socket_set_multicast_loopback (socket, TRUE);
	return g_steal_pointer (&socket);
}

static void
close_socket (TandemMulticastMembership *self)
{
	if (self->timer != NULL) {
		g_source_destroy (self->timer);
		g_clear_pointer (&self->timer, g_source_unref);
	}
	if (self->read_source != NULL) {
		g_source_destroy (self->read_source);
		g_clear_pointer (&self->read_source, g_source_unref);
	}
	if (self->socket != NULL) {
		g_socket_close (self->socket, NULL);
		g_clear_object (&self->socket);
	}
	g_clear_object (&self->group_address);
	g_clear_pointer (&self->context, g_main_context_unref);
}

static gboolean
tandem_multicast_membership_start (TandemPlugin *plugin, GError **error)
{
	TandemMulticastMembership *self = TANDEM_MULTICAST_MEMBERSHIP (plugin);
	TandemMembership *membership = TANDEM_MEMBERSHIP (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_multicast_membership_parent_class);
	g_autoptr (GBytes) probe = NULL;
	g_autoptr (GInetAddress) group = NULL;
	g_autoptr (GInetAddress) iface = NULL;
	g_autofree char *advertised = NULL;
	g_autoptr (GError) local_error = NULL;

	if (parent->start != NULL && !parent->start (plugin, error))
		return FALSE;

	/* what would be announced: fails early without a cluster or an address */
	probe = tandem_membership_encode_announcement (membership, self->domain, &local_error);
	if (probe == NULL) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_FAILED, "cannot announce: %s",
			     local_error->message);
		return FALSE;
	}
	advertised = tandem_membership_dup_advertised_address (membership);
	iface = g_inet_address_new_from_string (self->interface);
	if (advertised != NULL && iface != NULL && !g_inet_address_get_is_loopback (iface) &&
	    (g_str_has_prefix (advertised, "127.") || g_str_has_prefix (advertised, "[::1]:") ||
	     g_str_has_prefix (advertised, "localhost:")))
		g_warning (
			"%s: announcing the loopback address %s to the network: set 'listen' or 'advertise' to an address the other members can reach",
			name_of (self), advertised);

	self->socket = open_socket (self, error);
	if (self->socket == NULL)
		return FALSE;
	group = g_inet_address_new_from_string (self->group);
	self->group_address = g_inet_socket_address_new (group, (guint16) self->port);
	self->context = g_main_context_ref_thread_default ();
	self->read_source = g_socket_create_source (self->socket, G_IO_IN, NULL);
	g_source_set_static_name (self->read_source, "[tandem-multicast] read");
	g_source_set_callback (self->read_source, G_SOURCE_FUNC (on_readable), self, NULL);
	g_source_attach (self->read_source, self->context);

	g_message ("%s: announcing %s to %s:%d (domain %s, interface %s, ttl %u)", name_of (self),
		   advertised != NULL ? advertised : "?", self->group, self->port, self->domain,
		   self->interface, self->ttl);
	/* one now, then QUICK_ANNOUNCEMENTS - 1 more QUICK_INTERVAL_MS apart,
	 * then every announce_interval_ms */
	announce (self);
	self->quick_left = QUICK_ANNOUNCEMENTS - 2;
	schedule_announcement (self, QUICK_INTERVAL_MS);
	return TRUE;
}

static gboolean
tandem_multicast_membership_stop (TandemPlugin *plugin, GError **error)
{
	TandemMulticastMembership *self = TANDEM_MULTICAST_MEMBERSHIP (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_multicast_membership_parent_class);

	close_socket (self);
	g_debug ("%s: stopped", name_of (self));
	return parent->stop == NULL || parent->stop (plugin, error);
}

static void
tandem_multicast_membership_get_property (GObject *object,
					  guint prop_id,
					  GValue *value,
					  GParamSpec *pspec)
{
	TandemMulticastMembership *self = TANDEM_MULTICAST_MEMBERSHIP (object);

	switch (prop_id) {
	case PROP_GROUP:
		g_value_set_string (value, self->group);
		break;
	case PROP_PORT:
		g_value_set_int (value, self->port);
		break;
	case PROP_TTL:
		g_value_set_uint (value, self->ttl);
		break;
	case PROP_DOMAIN:
		g_value_set_string (value, self->domain);
		break;
	case PROP_INTERFACE:
		g_value_set_string (value, self->interface);
		break;
	case PROP_ANNOUNCE_INTERVAL_MS:
		g_value_set_uint (value, self->announce_interval_ms);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_multicast_membership_set_property (GObject *object,
					  guint prop_id,
					  const GValue *value,
					  GParamSpec *pspec)
{
	TandemMulticastMembership *self = TANDEM_MULTICAST_MEMBERSHIP (object);

	switch (prop_id) {
	case PROP_GROUP:
		g_free (self->group);
		self->group = g_value_dup_string (value);
		break;
	case PROP_PORT:
		self->port = g_value_get_int (value);
		break;
	case PROP_TTL:
		self->ttl = g_value_get_uint (value);
		break;
	case PROP_DOMAIN:
		g_free (self->domain);
		self->domain = g_value_dup_string (value);
		break;
	case PROP_INTERFACE:
		g_free (self->interface);
		self->interface = g_value_dup_string (value);
		break;
	case PROP_ANNOUNCE_INTERVAL_MS:
		self->announce_interval_ms = g_value_get_uint (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_multicast_membership_dispose (GObject *object)
{
	TandemMulticastMembership *self = TANDEM_MULTICAST_MEMBERSHIP (object);

	/* a plugin that was never stopped */
	close_socket (self);
	G_OBJECT_CLASS (tandem_multicast_membership_parent_class)->dispose (object);
}

static void
tandem_multicast_membership_finalize (GObject *object)
{
	TandemMulticastMembership *self = TANDEM_MULTICAST_MEMBERSHIP (object);

	g_hash_table_unref (self->discovered);
	g_hash_table_unref (self->warned);
	g_free (self->group);
	g_free (self->domain);
	g_free (self->interface);
	G_OBJECT_CLASS (tandem_multicast_membership_parent_class)->finalize (object);
}

static void
tandem_multicast_membership_class_init (TandemMulticastMembershipClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);

	object_class->get_property = tandem_multicast_membership_get_property;
	object_class->set_property = tandem_multicast_membership_set_property;
	object_class->dispose = tandem_multicast_membership_dispose;
	object_class->finalize = tandem_multicast_membership_finalize;
	plugin_class->setup = tandem_multicast_membership_setup;
	plugin_class->start = tandem_multicast_membership_start;
	plugin_class->stop = tandem_multicast_membership_stop;

	/**
	 * TandemMulticastMembership:group:
	 *
	 * Config key `group`: the IPv4 multicast group announcements go to.
	 */
	props[PROP_GROUP] =
		g_param_spec_string ("group", NULL, "IPv4 multicast group of the announcements",
				     DEFAULT_GROUP,
				     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					     TANDEM_PARAM_CONFIG);
	/**
	 * TandemMulticastMembership:port:
	 *
	 * Config key `port`: the UDP port of the group.
	 */
	props[PROP_PORT] =
		g_param_spec_int ("port", NULL, "UDP port of the announcements", 1, 65535,
				  DEFAULT_PORT,
				  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | TANDEM_PARAM_CONFIG);
	/**
	 * TandemMulticastMembership:ttl:
	 *
	 * Config key `ttl`: the IP time to live of the announcements (1: this
	 * network segment only).
	 */
	props[PROP_TTL] = g_param_spec_uint ("ttl", NULL, "Multicast TTL (1: this segment only)", 0,
					     255, DEFAULT_TTL,
					     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
						     TANDEM_PARAM_CONFIG);
	/**
	 * TandemMulticastMembership:domain:
	 *
	 * Config key `domain`: separates clusters that share a group; only
	 * announcements of the same cluster name and domain are considered.
	 */
	props[PROP_DOMAIN] = g_param_spec_string ("domain", NULL,
						  "Scope separating clusters that share the group",
						  DEFAULT_DOMAIN,
						  G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
							  TANDEM_PARAM_CONFIG);
	/**
	 * TandemMulticastMembership:interface:
	 *
	 * Config key `interface`: the IPv4 address of the interface to join
	 * the group on and send through; `0.0.0.0` leaves the choice to the
	 * kernel (its multicast route).
	 */
	props[PROP_INTERFACE] =
		g_param_spec_string ("interface", NULL,
				     "IPv4 address of the interface (0.0.0.0: the kernel's choice)",
				     DEFAULT_INTERFACE,
				     G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					     TANDEM_PARAM_CONFIG);
	/**
	 * TandemMulticastMembership:announce-interval-ms:
	 *
	 * Config key `announce_interval_ms`: how often this member announces
	 * itself, after three announcements 100 ms apart at start.
	 */
	props[PROP_ANNOUNCE_INTERVAL_MS] =
		g_param_spec_uint ("announce-interval-ms", NULL,
				   "Milliseconds between announcements", 100, 3600000,
				   DEFAULT_ANNOUNCE_INTERVAL_MS,
				   G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					   TANDEM_PARAM_CONFIG);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_multicast_membership_class_finalize (TandemMulticastMembershipClass *klass)
{
}

static void
tandem_multicast_membership_init (TandemMulticastMembership *self)
{
	self->group = g_strdup (DEFAULT_GROUP);
	self->port = DEFAULT_PORT;
	self->ttl = DEFAULT_TTL;
	self->domain = g_strdup (DEFAULT_DOMAIN);
	self->interface = g_strdup (DEFAULT_INTERFACE);
	self->announce_interval_ms = DEFAULT_ANNOUNCE_INTERVAL_MS;
	self->discovered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
	self->warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
}

static GType
tandem_multicast_membership_register_types (GTypeModule *module)
{
	tandem_multicast_membership_register_type (module);
	return TANDEM_TYPE_MULTICAST_MEMBERSHIP;
}

TANDEM_PLUGIN_DEFINE ("multicast",
		      TANDEM_PLUGIN_KIND_MEMBERSHIP,
		      "0.1.0",
		      "LGPL-2.1-or-later",
		      "Finds the other members by signed UDP multicast announcements",
		      tandem_multicast_membership_register_types)
