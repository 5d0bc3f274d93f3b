/* tandem-wka-membership.c: the wka membership plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Well-known addresses: the config lists the heartbeat channel address of
 * every member (`members`), and start hands each one to the base class
 * (tandem_membership_add_peer()), which dials them, keeps an authenticated
 * heartbeat session with each and reports who joined and who left.  The
 * list may hold this member's own address: the channel recognises itself at
 * the handshake, so that every node of a cluster can share one list.
 */
#define G_LOG_DOMAIN "Tandem-wka"

#include <string.h>

#include <gio/gio.h>
#include <tandem.h>

#include "tandem-wka-membership.h"

/**
 * TandemWkaMembership:
 *
 * The membership plugin `wka`: a fixed list of member addresses
 * (`plugins/membership/wka/README.md`).  Its config keys are its
 * properties flagged %TANDEM_PARAM_CONFIG, plus those of
 * #TandemMembership.
 */
struct _TandemWkaMembership {
	TandemMembership parent_instance;

	/* config */
	GStrv members;

	/* the checked entries of members, split and without duplicates */
	GPtrArray *addresses;
};

G_DEFINE_DYNAMIC_TYPE (TandemWkaMembership, tandem_wka_membership, TANDEM_TYPE_MEMBERSHIP)

enum {
	PROP_0,
	PROP_MEMBERS,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static gboolean
is_host_char (char c)
{
	return g_ascii_isalnum (c) || c == '-' || c == '.' || c == '_';
}

/* Whether @entry is `host:port`: a host name, an IPv4 address or a
 * bracketed IPv6 address, and a port 1-65535. */
static gboolean
is_host_port (const char *entry)
{
	const char *colon = strrchr (entry, ':');
	g_autofree char *host = NULL;

	if (colon == NULL || colon == entry ||
	    !g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, NULL, NULL))
		return FALSE;
	host = g_strndup (entry, colon - entry);
	if (host[0] == '[') {
		g_autoptr (GInetAddress) address = NULL;
		gsize len = strlen (host);

		if (len < 3 || host[len - 1] != ']')
			return FALSE;
		host[len - 1] = '\0';
		address = g_inet_address_new_from_string (host + 1);
		return address != NULL &&
		       g_inet_address_get_family (address) == G_SOCKET_FAMILY_IPV6;
	}
	for (const char *p = host; *p != '\0'; p++) {
		if (!is_host_char (*p))
			return FALSE;
	}
	return TRUE;
}

/* Fails setup for the bad entry @entry of `members`, or for an empty list. */
static gboolean
fail_members (TandemConfigSection *section, GError **error, const char *entry)
{
	g_autofree char *what = NULL;

	if (entry != NULL)
		what = g_strdup_printf ("member '%s' is not host:port", entry);
	else
		what = g_strdup ("expected every member's heartbeat address (host:port), got none");
	if (section != NULL)
		tandem_config_section_set_error (section, "members", error, "%s", what);
	else
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, "members: %s", what);
	return FALSE;
}

static gboolean
tandem_wka_membership_setup (TandemPlugin *plugin, TandemConfigSection *section, GError **error)
{
	TandemWkaMembership *self = TANDEM_WKA_MEMBERSHIP (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_wka_membership_parent_class);
	g_autoptr (GPtrArray) addresses = g_ptr_array_new_with_free_func (g_free);

	if (parent->setup != NULL && !parent->setup (plugin, section, error))
		return FALSE;

	/* entries are separated by `,` or `;` (the config splits them) or by
	 * white space */
	for (guint i = 0; self->members != NULL && self->members[i] != NULL; i++) {
		g_auto (GStrv) words = g_strsplit_set (self->members[i], " \t\r\n,;", -1);

		for (guint j = 0; words[j] != NULL; j++) {
			if (*words[j] == '\0')
				continue;
			if (!is_host_port (words[j]))
				return fail_members (section, error, words[j]);
			if (!g_ptr_array_find_with_equal_func (addresses, words[j], g_str_equal,
							       NULL))
				g_ptr_array_add (addresses, g_strdup (words[j]));
		}
	}
	if (addresses->len == 0)
		return fail_members (section, error, NULL);

	g_clear_pointer (&self->addresses, g_ptr_array_unref);
	self->addresses = g_steal_pointer (&addresses);
	return TRUE;
}

static gboolean
tandem_wka_membership_start (TandemPlugin *plugin, GError **error)
{
	TandemWkaMembership *self = TANDEM_WKA_MEMBERSHIP (plugin);
	TandemMembership *membership = TANDEM_MEMBERSHIP (plugin);
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_wka_membership_parent_class);
	g_autoptr (GString) shown = g_string_new (NULL);

	if (self->addresses == NULL) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
				     "the wka membership was started without setup");
		return FALSE;
	}
	if (parent->start != NULL && !parent->start (plugin, error))
		return FALSE;

	for (guint i = 0; i < self->addresses->len; i++) {
		const char *address = g_ptr_array_index (self->addresses, i);

		tandem_membership_add_peer (membership, address);
		g_string_append_printf (shown, "%s%s", i > 0 ? ", " : "", address);
	}
	g_message ("%s: %u well-known member(s): %s", tandem_plugin_get_name (plugin),
		   self->addresses->len, shown->str);
	return TRUE;
}

static gboolean
tandem_wka_membership_stop (TandemPlugin *plugin, GError **error)
{
	TandemPluginClass *parent = TANDEM_PLUGIN_CLASS (tandem_wka_membership_parent_class);

	g_debug ("%s: stopped", tandem_plugin_get_name (plugin));
	return parent->stop == NULL || parent->stop (plugin, error);
}

static void
tandem_wka_membership_get_property (GObject *object,
				    guint prop_id,
				    GValue *value,
				    GParamSpec *pspec)
{
	TandemWkaMembership *self = TANDEM_WKA_MEMBERSHIP (object);

	switch (prop_id) {
	case PROP_MEMBERS:
		g_value_set_boxed (value, self->members);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_wka_membership_set_property (GObject *object,
				    guint prop_id,
				    const GValue *value,
				    GParamSpec *pspec)
{
	TandemWkaMembership *self = TANDEM_WKA_MEMBERSHIP (object);

	switch (prop_id) {
	case PROP_MEMBERS:
		g_strfreev (self->members);
		self->members = g_value_dup_boxed (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_wka_membership_finalize (GObject *object)
{
	TandemWkaMembership *self = TANDEM_WKA_MEMBERSHIP (object);

	g_strfreev (self->members);
	g_clear_pointer (&self->addresses, g_ptr_array_unref);
	G_OBJECT_CLASS (tandem_wka_membership_parent_class)->finalize (object);
}

static void
tandem_wka_membership_class_init (TandemWkaMembershipClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);
	TandemPluginClass *plugin_class = TANDEM_PLUGIN_CLASS (klass);

	object_class->get_property = tandem_wka_membership_get_property;
	object_class->set_property = tandem_wka_membership_set_property;
	object_class->finalize = tandem_wka_membership_finalize;
	plugin_class->setup = tandem_wka_membership_setup;
	plugin_class->start = tandem_wka_membership_start;
	plugin_class->stop = tandem_wka_membership_stop;

	/**
	 * TandemWkaMembership:members:
	 *
	 * Config key `members`: the heartbeat channel address (`host:port`)
	 * of every member, separated by `,`, `;` or white space.  It may
	 * include this member's own address.
	 */
	props[PROP_MEMBERS] =
		g_param_spec_boxed ("members", NULL,
				    "host:port of every member's heartbeat channel", G_TYPE_STRV,
				    G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
					    TANDEM_PARAM_CONFIG);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_wka_membership_class_finalize (TandemWkaMembershipClass *klass)
{
}

static void
tandem_wka_membership_init (TandemWkaMembership *self)
{
}

static GType
tandem_wka_membership_register_types (GTypeModule *module)
{
	tandem_wka_membership_register_type (module);
	return TANDEM_TYPE_WKA_MEMBERSHIP;
}

TANDEM_PLUGIN_DEFINE ("wka",
		      TANDEM_PLUGIN_KIND_MEMBERSHIP,
		      "0.1.0",
		      "LGPL-2.1-or-later",
		      "Finds the other members from a configured list of well-known addresses",
		      tandem_wka_membership_register_types)
