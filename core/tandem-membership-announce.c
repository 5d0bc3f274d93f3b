/* tandem-membership-announce.c: signed discovery datagrams of membership plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Membership"

#include "config.h"

#include "tandem-error.h"
#include "tandem-membership-private.h"

/**
 * tandem_membership_encode_announcement:
 * @self: a started #TandemMembership
 * @scope: what separates clusters besides their name (the multicast
 *   `domain`), or %NULL
 * @error: return location for a #GError
 *
 * Builds a datagram announcing this member (cluster, scope, node id, the
 * advertised address), signed with the cluster key.
 *
 * Returns: (transfer full): the datagram
 */
GBytes *
tandem_membership_encode_announcement (TandemMembership *self, const char *scope, GError **error)
{
	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);
	(void) scope;
	g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED, "not implemented yet");
	return NULL;
}

/**
 * tandem_membership_decode_announcement:
 * @self: a #TandemMembership
 * @scope: (nullable): the scope this member accepts
 * @datagram: a received datagram
 * @sender_host: the IP address it came from
 * @node_id: (out) (optional): the announcing node id
 * @error: return location for a #GError
 *
 * Checks a datagram from tandem_membership_encode_announcement().
 *
 * Returns: (transfer full) (nullable): the announced `host:port`
 */
char *
tandem_membership_decode_announcement (TandemMembership *self,
				       const char *scope,
				       GBytes *datagram,
				       const char *sender_host,
				       char **node_id,
				       GError **error)
{
	g_return_val_if_fail (TANDEM_IS_MEMBERSHIP (self), NULL);
	(void) scope;
	(void) datagram;
	(void) sender_host;
	(void) node_id;
	g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED, "not implemented yet");
	return NULL;
}
