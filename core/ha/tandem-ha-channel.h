/* tandem-ha-channel.h: the authenticated heartbeat channel between members (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * Every member of a cluster (nodes and witnesses) listens on one TCP port
 * and dials the addresses it is given.  A session starts with a handshake
 * that proves both ends hold the cluster key (HMAC-SHA256 over fresh nonces
 * from both sides); every later frame carries a per-direction counter and an
 * HMAC under a session key derived from the nonces, so a frame from another
 * session, a reflected frame or a replayed frame is refused.
 *
 * Frame (all integers big-endian):
 *   u32 length       bytes after this field (max 1 MiB)
 *   u8  version      1
 *   u8  type         TandemHaFrameType
 *   u16 reserved     0
 *   u64 counter      0 for HELLO/HELLO_ACK, then 1, 2, ... per direction
 *   ... payload      UTF-8 JSON object
 *   u8[32] mac       HMAC-SHA256 over version..payload, prefixed by one
 *                    direction byte ('D' dialer->listener, 'L' listener->dialer)
 *
 * The channel runs on the thread-default main context of the thread that
 * created it.
 */

typedef enum {
	TANDEM_HA_FRAME_HELLO = 1,	/* dialer -> listener, MAC under the cluster key */
	TANDEM_HA_FRAME_HELLO_ACK = 2,	/* listener -> dialer, MAC under the cluster key */
	TANDEM_HA_FRAME_HEARTBEAT = 3,	/* carries the sender's status object */
	TANDEM_HA_FRAME_MESSAGE = 4,	/* {"type": "...", "body": {...}} */
	TANDEM_HA_FRAME_GOODBYE = 5,	/* {"reason": "..."}: an orderly close */
	TANDEM_HA_FRAME_DATA = 6,	/* binary payload (replication), not JSON */
} TandemHaFrameType;

#define TANDEM_HA_MAX_FRAME (1024 * 1024)
#define TANDEM_HA_MAC_SIZE 32

#define TANDEM_TYPE_HA_CHANNEL (tandem_ha_channel_get_type ())
G_DECLARE_FINAL_TYPE (TandemHaChannel, tandem_ha_channel, TANDEM, HA_CHANNEL, GObject)

/**
 * TandemHaPeer:
 * @node_id: the peer's node id
 * @address: the address it was reached at or connected from (`host:port`)
 * @role: "node" or "witness"
 * @status: (nullable): the last status object it sent
 * @last_heard_us: g_get_monotonic_time() of the last frame from it
 * @joined_us: g_get_monotonic_time() when its first session was authenticated
 * @sessions: how many authenticated sessions are open with it
 */
typedef struct {
	char *node_id;
	char *address;
	char *role;
	JsonObject *status;
	gint64 last_heard_us;
	gint64 joined_us;
	guint sessions;
} TandemHaPeer;

void tandem_ha_peer_free (TandemHaPeer *peer);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemHaPeer, tandem_ha_peer_free)

/* @key: the cluster key (at least 16 bytes); @role: "node" or "witness" */
TandemHaChannel *tandem_ha_channel_new (const char *cluster,
					GBytes *key,
					const char *node_id,
					const char *role);
/* defaults: 100 ms and 600 ms; the timeout also bounds the handshake */
void tandem_ha_channel_set_timing (TandemHaChannel *self,
				   guint heartbeat_interval_ms,
				   guint heartbeat_timeout_ms);
/* "host:port"; port 0 picks a free port (tests) */
gboolean tandem_ha_channel_listen (TandemHaChannel *self, const char *address, GError **error);
guint16 tandem_ha_channel_get_port (TandemHaChannel *self);
/* How long a silent session lives: a member that is up has connected and
 * sent its status within that time */
guint tandem_ha_channel_get_timeout_ms (TandemHaChannel *self);
/* Dials @address and redials it (100 ms, doubling up to 1 s) whenever no
 * session with it is open, until it is removed.  An address that turns out
 * to be this channel itself is remembered and not dialled again. */
void tandem_ha_channel_add_peer (TandemHaChannel *self, const char *address);
void tandem_ha_channel_remove_peer (TandemHaChannel *self, const char *address);
/* The status object sent in every heartbeat; a change is sent at once. */
void tandem_ha_channel_set_status (TandemHaChannel *self, JsonObject *status);
/* Sends a MESSAGE frame to every open session with @node_id. */
gboolean tandem_ha_channel_send (TandemHaChannel *self,
				 const char *node_id,
				 const char *type,
				 JsonObject *body,
				 GError **error);
/* Sends a DATA frame (binary, at most TANDEM_HA_MAX_FRAME minus the
 * header and MAC) on ONE session with @node_id, the oldest open one, so
 * that a peer gets each payload once and in order while that session
 * lasts.  A caller that needs every payload keeps them until the peer
 * acknowledges them, and sends again after "peer-left". */
gboolean tandem_ha_channel_send_data (TandemHaChannel *self,
				      const char *node_id,
				      GBytes *payload,
				      GError **error);
/* The number of bytes queued for writing to @node_id's sessions */
gsize tandem_ha_channel_get_queued (TandemHaChannel *self, const char *node_id);
/* (element-type TandemHaPeer) (transfer full): the peers with an open session, by node id */
GPtrArray *tandem_ha_channel_dup_peers (TandemHaChannel *self);
/* Sends GOODBYE with @reason on every session, closes them and the listener. */
void tandem_ha_channel_close (TandemHaChannel *self, const char *reason);

/*
 * Signals (all on the channel's main context):
 *   "peer-joined"  (const char *node_id, const char *address, const char *role)
 *        the first session with a node is authenticated
 *   "peer-status"  (const char *node_id, JsonObject *status)
 *        a heartbeat brought a status different from the last one
 *   "peer-left"    (const char *node_id, const char *reason, gboolean died)
 *        the last session with a node closed; @died is TRUE when it ended
 *        by end-of-file or reset without a GOODBYE (the peer's process is
 *        gone: its kernel closed the socket), FALSE for GOODBYE or timeout
 *   "message"      (const char *node_id, const char *type, JsonObject *body)
 *   "data"         (const char *node_id, GBytes *payload)
 *   "refused"      (const char *address, const char *reason)
 *        a peer failed the handshake (wrong cluster, bad key MAC, bad
 *        frame); also logged with g_warning
 */

G_END_DECLS
