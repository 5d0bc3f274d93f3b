/* tandem-ha-machine.h: the HA state machine, as pure logic (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The machine decides this node's role.  It does no I/O and reads no clock:
 * every input carries the time (monotonic milliseconds), and every input
 * appends the actions the caller must carry out to an array.  Tests drive it
 * with a fake clock, transition by transition.
 *
 * The arbiter (the store's lease row, a witness, or none) is the only
 * authority on who is active.  The lease has a holder, an epoch that only
 * grows (it grows by one whenever the lease changes hands) and a time to
 * live.  Holders are "NODE_ID#INCARNATION" strings, so that a node restarted
 * within its old lease never resumes the old epoch.
 *
 * A node may publish and acknowledge only while
 *   now < publish_until = (time the successful lease request was sent)
 *                         + lease_ttl_ms - fence_margin_ms,
 * so it stops before the lease can expire in the arbiter (whose clock
 * started the lease no earlier than the request was sent).
 */

typedef enum {
	TANDEM_HA_STATE_STARTING,
	TANDEM_HA_STATE_SYNCING,
	TANDEM_HA_STATE_PASSIVE,
	TANDEM_HA_STATE_ACTIVE,
	TANDEM_HA_STATE_FENCED,
	TANDEM_HA_STATE_STOPPED,
} TandemHaState;

const char *tandem_ha_state_to_string (TandemHaState state);
/* FALSE for an unknown string */
gboolean tandem_ha_state_from_string (const char *string, TandemHaState *state);

typedef struct {
	guint lease_ttl_ms;	  /* default 3000 */
	guint lease_renew_ms;	  /* default lease_ttl_ms / 6; also the passive's poll interval */
	guint fence_margin_ms;	  /* default lease_ttl_ms / 3 */
	gboolean state_sync;	  /* FALSE until HA part 2: a joining node skips SYNCING and says so */
} TandemHaMachineConfig;

void tandem_ha_machine_config_init (TandemHaMachineConfig *config);

typedef enum {
	/* Ask the arbiter for the lease: take it if free, expired or ours;
	 * with @take_from set, also if it is still held by @take_from at
	 * @take_from_epoch (that holder's process is known to be gone).
	 * Answer with tandem_ha_machine_lease_result() and the same
	 * @request_id. */
	TANDEM_HA_ACTION_ACQUIRE_LEASE,
	/* Give the lease up (the arbiter makes it expire now) */
	TANDEM_HA_ACTION_RELEASE_LEASE,
	/* Start or stop publishing and acknowledging; @epoch and
	 * @publish_until_ms are set when @publish is TRUE, and a new
	 * SET_PUBLISH with a later deadline follows every renewal */
	TANDEM_HA_ACTION_SET_PUBLISH,
	/* The state changed: log @message (one line, with the reason) with
	 * g_message and publish the new status to the peers */
	TANDEM_HA_ACTION_TRANSITION,
	/* Log @message as a warning (arbiter unreachable, stale epoch...) */
	TANDEM_HA_ACTION_WARN,
	/* Switchover: tell the other node that it may take the lease over
	 * from @take_from at @take_from_epoch now (this node stopped
	 * publishing); it answers with tandem_ha_machine_handover_offered() */
	TANDEM_HA_ACTION_HAND_OVER,
} TandemHaActionType;

typedef struct {
	TandemHaActionType type;
	guint request_id;
	gint64 ttl_ms;
	char *take_from;
	guint64 take_from_epoch;
	gboolean publish;
	guint64 epoch;
	gint64 publish_until_ms;
	TandemHaState from;
	TandemHaState to;
	char *message;
} TandemHaAction;

/* An array of TandemHaAction whose clear function frees the strings */
GArray *tandem_ha_actions_new (void);

typedef enum {
	TANDEM_HA_LEASE_OK,	  /* the arbiter answered; @holder and @epoch are the lease after the attempt */
	TANDEM_HA_LEASE_ERROR,	  /* the arbiter could not be reached or failed; @error_message says why */
} TandemHaLeaseStatus;

typedef struct {
	guint request_id;
	TandemHaLeaseStatus status;
	const char *holder;	  /* NULL if none */
	guint64 epoch;
	gint64 remaining_ms;	  /* how long the lease still runs, by the arbiter's clock (informational) */
	const char *error_message;
} TandemHaLeaseResult;

typedef struct _TandemHaMachine TandemHaMachine;

/* @node_id: this node; @holder: its lease holder string "NODE_ID#INCARNATION" */
TandemHaMachine *tandem_ha_machine_new (const char *node_id,
					const char *holder,
					const TandemHaMachineConfig *config);
void tandem_ha_machine_free (TandemHaMachine *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (TandemHaMachine, tandem_ha_machine_free)

TandemHaState tandem_ha_machine_get_state (TandemHaMachine *self);
guint64 tandem_ha_machine_get_epoch (TandemHaMachine *self);	  /* this node's epoch while active, else the last seen */
const char *tandem_ha_machine_get_lease_holder (TandemHaMachine *self); /* last known, or NULL */
gint64 tandem_ha_machine_get_publish_until (TandemHaMachine *self);   /* 0 when not publishing */
/* the holder string in use: the one given to tandem_ha_machine_new(), with
 * ".N" appended after the N-th step-down */
const char *tandem_ha_machine_get_holder (TandemHaMachine *self);
/* the earliest time tandem_ha_machine_tick() has something to do */
gint64 tandem_ha_machine_get_next_deadline (TandemHaMachine *self);

/* Inputs.  @now_ms is monotonic time in milliseconds. */
void tandem_ha_machine_start (TandemHaMachine *self, gint64 now_ms, GArray *actions);
void tandem_ha_machine_tick (TandemHaMachine *self, gint64 now_ms, GArray *actions);
void tandem_ha_machine_lease_result (TandemHaMachine *self,
				     gint64 now_ms,
				     const TandemHaLeaseResult *result,
				     GArray *actions);
void tandem_ha_machine_peer_up (TandemHaMachine *self, gint64 now_ms, const char *node_id, GArray *actions);
void tandem_ha_machine_peer_status (TandemHaMachine *self,
				    gint64 now_ms,
				    const char *node_id,
				    TandemHaState state,
				    guint64 epoch,
				    GArray *actions);
/* @died: the peer's process is gone (its connection ended without a goodbye) */
void tandem_ha_machine_peer_down (TandemHaMachine *self,
				  gint64 now_ms,
				  const char *node_id,
				  gboolean died,
				  const char *reason,
				  GArray *actions);
/* HA part 2: the state sync of a SYNCING node finished */
void tandem_ha_machine_sync_done (TandemHaMachine *self, gint64 now_ms, GArray *actions);
void tandem_ha_machine_stop (TandemHaMachine *self, gint64 now_ms, const char *reason, GArray *actions);
/* Switchover: an active node stops publishing, offers the lease to the
 * other node (HAND_OVER), changes its holder string, and asks for the
 * lease again (taking it over from its old holder string) only after
 * lease_ttl_ms - fence_margin_ms, unless another node claims to be active
 * first (it then follows it), a peer leaves or refuses the offer.  FALSE
 * (and no action) when not active. */
gboolean tandem_ha_machine_step_down (TandemHaMachine *self,
				      gint64 now_ms,
				      const char *reason,
				      GArray *actions);
/* Switchover: @node_id offers this passive node its lease (@holder at
 * @epoch): ask for it at once, taking it over from @holder */
void tandem_ha_machine_handover_offered (TandemHaMachine *self,
					 gint64 now_ms,
					 const char *node_id,
					 const char *holder,
					 guint64 epoch,
					 GArray *actions);
/* Switchover: @node_id refused the offer: a node stepping down asks for
 * the lease back at once */
void tandem_ha_machine_handover_refused (TandemHaMachine *self,
					 gint64 now_ms,
					 const char *node_id,
					 GArray *actions);
/* TRUE between tandem_ha_machine_step_down() and the next change of state */
gboolean tandem_ha_machine_is_stepping_down (TandemHaMachine *self);

/* The node id part of a holder string ("a#3" -> "a"); newly allocated */
char *tandem_ha_holder_node_id (const char *holder);

/*
 * The lease table of a witness (and of tests): the same rules as the
 * store's lease row, in memory, by the witness's monotonic clock.
 */
typedef struct _TandemHaLeaseTable TandemHaLeaseTable;

/* @first_epoch: the epoch to continue from (the witness persists the highest) */
TandemHaLeaseTable *tandem_ha_lease_table_new (guint64 first_epoch);
void tandem_ha_lease_table_free (TandemHaLeaseTable *self);
/* Takes the lease of @cluster for @holder (free, expired, its own, or held
 * by @take_from at @take_from_epoch); @ttl_ms 0 by the holder releases it.
 * Fills the lease as it is after the attempt. */
void tandem_ha_lease_table_acquire (TandemHaLeaseTable *self,
				    gint64 now_ms,
				    const char *cluster,
				    const char *holder,
				    gint64 ttl_ms,
				    const char *take_from,
				    guint64 take_from_epoch,
				    char **out_holder,
				    guint64 *out_epoch,
				    gint64 *out_remaining_ms);
guint64 tandem_ha_lease_table_get_max_epoch (TandemHaLeaseTable *self);
/* Hands no lease to a new holder before @until_ms (only renewals of leases
 * it knows): a restarted witness lost the leases it granted, which may
 * still run; it holds them for one lease ttl from its start. */
void tandem_ha_lease_table_hold_until (TandemHaLeaseTable *self, gint64 until_ms);

G_END_DECLS
