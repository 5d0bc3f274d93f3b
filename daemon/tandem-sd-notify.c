/* tandem-sd-notify.c: the systemd notification protocol, without libsystemd
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Daemon"

#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tandem-sd-notify.h"

/* Sends @state (such as "READY=1") as one datagram to $NOTIFY_SOCKET, as
 * sd_notify(3) does: a path, or an abstract socket when it starts with '@'.
 * Returns TRUE if there was a socket and the datagram was sent. */
gboolean
tandem_sd_notify (const char *state)
{
	const char *path = g_getenv ("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t sa_len;
	gsize len;
	int fd;
	gssize sent;

	if (path == NULL || *path == '\0')
		return FALSE;
	len = strlen (path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path) {
		g_debug ("ignoring NOTIFY_SOCKET=%s: not a socket path", path);
		return FALSE;
	}
	memcpy (sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';
	sa_len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + len + (path[0] == '/' ? 1 : 0));

	fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return FALSE;
	do
		sent = sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *) &sa, sa_len);
	while (sent < 0 && errno == EINTR);
	if (sent < 0)
		g_debug ("cannot notify %s: %s", path, g_strerror (errno));
	close (fd);
	return sent >= 0;
}
