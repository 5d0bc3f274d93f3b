/* tandem-ha-machine.c: the HA state machine, as pure logic
 *
 * The machine turns inputs (start, ticks, lease results, what the heartbeat
 * channel says about peers, stop) into actions for its caller.  It reads no
 * clock and does no I/O, so that every transition can be tested with a fake
 * clock.  docs/ha.md describes the design for operators; the comments here
 * say why each rule is safe.
 *
 * The one safety rule: this node publishes only while
 *   now < publish_until = sent_at + lease_ttl_ms - fence_margin_ms
 * where sent_at is when the lease request that the arbiter granted was
 * sent.  The arbiter started (or extended) the lease no earlier than
 * sent_at, so it cannot hand the lease to another node before
 * sent_at + lease_ttl_ms: with clocks that run at the same rate the two
 * publishing windows never overlap, and fence_margin_ms absorbs drift and
 * scheduling delays.  Everything else (epochs, take-over, tie-breaks) is
 * about liveness and about refusing stale information.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-HA"

#include "config.h"

#include <string.h>

#include "tandem-ha-machine.h"

#define DEFAULT_LEASE_TTL_MS 3000

/* What the heartbeat channel told us about another node */
typedef struct {
	gboolean up;
	gboolean claims_active; /* its last status said ACTIVE, and it has not left since */
	TandemHaState state;
	guint64 epoch;
	char *left_reason; /* why it last left, or NULL */
} Peer;

struct _TandemHaMachine {
	char *node_id;
	char *holder;      /* the holder string in use */
	char *base_holder; /* the one it was created with */
	guint generation;  /* how many times it stepped down */
	TandemHaMachineConfig config;

	gboolean started;
	TandemHaState state;

	/* The lease as the arbiter last reported it */
	char *known_holder; /* NULL: none reported yet */
	guint64 known_epoch;
	guint64 max_epoch;       /* the highest epoch the arbiter reported, for any holder */
	guint64 max_other_epoch; /* the highest epoch the arbiter reported for another holder */
	char *max_other_node;    /* the node id of that holder */
	guint64 max_claimed;     /* the highest epoch a peer claimed to be active at */

	/* Publishing (ACTIVE only) */
	gboolean publishing;
	guint64 my_epoch;
	gint64 publish_until;

	/* The lease request in flight, if any */
	guint last_request_id;
	gboolean in_flight;
	guint in_flight_id;
	gint64 in_flight_sent;
	char *in_flight_take_from;

	/* When the next poll or renewal is due (STARTING, PASSIVE, ACTIVE,
	 * FENCED): at next_attempt, or, if attempt_asap is set, as soon as no
	 * request is in flight; an answer to a request sent at or after
	 * asap_since serves as that attempt */
	gint64 next_attempt;
	gboolean attempt_asap;
	gint64 asap_since;
	/* A take-over to ask for as soon as no request is in flight */
	char *pending_take_from;
	guint64 pending_take_from_epoch;

	/* Switchover: after tandem_ha_machine_step_down() the node is STARTING
	 * and asks for the lease only at next_attempt (one ttl later), unless
	 * a peer claims to be active above stepped_epoch or a peer leaves */
	gboolean stepping_down;
	guint64 stepped_epoch;
	char *stepped_holder; /* the holder string it gave up at its last step-down */
	/* a passive: the holder that offered it the lease (switchover) */
	char *handover_holder;

	/* Warnings */
	GHashTable *warned; /* keys of warnings given since the last successful answer */
	char *last_error;   /* the last arbiter error since the last successful answer */

	GHashTable *peers; /* node id -> Peer */
};

/**
 * tandem_ha_state_to_string:
 * @state: a #TandemHaState
 *
 * Returns: (transfer none): the lower-case name of @state ("starting",
 *   "syncing", "passive", "active", "fenced" or "stopped")
 */
const char *
tandem_ha_state_to_string (TandemHaState state)
{
	switch (state) {
	case TANDEM_HA_STATE_STARTING:
		return "starting";
	case TANDEM_HA_STATE_SYNCING:
		return "syncing";
	case TANDEM_HA_STATE_PASSIVE:
		return "passive";
	case TANDEM_HA_STATE_ACTIVE:
		return "active";
	case TANDEM_HA_STATE_FENCED:
		return "fenced";
	case TANDEM_HA_STATE_STOPPED:
		return "stopped";
	default:
		return "unknown";
	}
}

/**
 * tandem_ha_state_from_string:
 * @string: (nullable): a name from tandem_ha_state_to_string()
 * @state: (out): where to store the state
 *
 * Returns: %FALSE if @string is %NULL or not the name of a state
 */
gboolean
tandem_ha_state_from_string (const char *string, TandemHaState *state)
{
	g_return_val_if_fail (state != NULL, FALSE);

	if (string == NULL)
		return FALSE;
	for (TandemHaState s = TANDEM_HA_STATE_STARTING; s <= TANDEM_HA_STATE_STOPPED; s++) {
		if (g_strcmp0 (string, tandem_ha_state_to_string (s)) == 0) {
			*state = s;
			return TRUE;
		}
	}
	return FALSE;
}

/**
 * tandem_ha_machine_config_init:
 * @config: (out caller-allocates): the configuration to fill
 *
 * Fills @config with the defaults: a lease of 3000 ms renewed every 500 ms
 * (ttl / 6), a fence margin of 1000 ms (ttl / 3), no state sync.
 */
void
tandem_ha_machine_config_init (TandemHaMachineConfig *config)
{
	g_return_if_fail (config != NULL);

	memset (config, 0, sizeof (*config));
	config->lease_ttl_ms = DEFAULT_LEASE_TTL_MS;
	config->lease_renew_ms = DEFAULT_LEASE_TTL_MS / 6;
	config->fence_margin_ms = DEFAULT_LEASE_TTL_MS / 3;
	config->state_sync = FALSE;
}

/* Zero fields take their default from the ttl; a margin that leaves no time
 * to publish, or a renewal that could not happen before the publishing
 * deadline, is brought back into range rather than trusted. */
static void
sanitize_config (TandemHaMachineConfig *config)
{
	guint ttl, window;

	if (config->lease_ttl_ms == 0)
		config->lease_ttl_ms = DEFAULT_LEASE_TTL_MS;
	ttl = config->lease_ttl_ms;
	if (config->fence_margin_ms == 0 || config->fence_margin_ms >= ttl)
		config->fence_margin_ms = MAX (ttl / 3, 1);
	if (config->fence_margin_ms >= ttl)
		config->fence_margin_ms = ttl - 1; /* ttl 1: nothing sensible; never publish long */
	window = ttl - config->fence_margin_ms;
	if (config->lease_renew_ms == 0)
		config->lease_renew_ms = MAX (ttl / 6, 1);
	if (config->lease_renew_ms >= window)
		config->lease_renew_ms = MAX (window / 2, 1);
}

static void
peer_free (gpointer data)
{
	Peer *peer = data;

	g_free (peer->left_reason);
	g_free (peer);
}

static void
action_clear (gpointer data)
{
	TandemHaAction *action = data;

	g_clear_pointer (&action->take_from, g_free);
	g_clear_pointer (&action->message, g_free);
}

/**
 * tandem_ha_actions_new:
 *
 * Returns: (transfer full): an empty array of #TandemHaAction that frees the
 *   strings of its elements when they are removed
 */
GArray *
tandem_ha_actions_new (void)
{
	GArray *actions = g_array_new (FALSE, TRUE, sizeof (TandemHaAction));

	g_array_set_clear_func (actions, action_clear);
	return actions;
}

/**
 * tandem_ha_holder_node_id:
 * @holder: a lease holder string, "NODE_ID#INCARNATION"
 *
 * The incarnation is what follows the last '#'; a string without '#' is
 * all node id.
 *
 * Returns: (transfer full): the node id part of @holder
 */
char *
tandem_ha_holder_node_id (const char *holder)
{
	const char *hash;

	g_return_val_if_fail (holder != NULL, NULL);

	hash = strrchr (holder, '#');
	if (hash == NULL)
		return g_strdup (holder);
	return g_strndup (holder, hash - holder);
}

/**
 * tandem_ha_machine_new:
 * @node_id: this node's id
 * @holder: this node's lease holder string, "NODE_ID#INCARNATION"
 * @config: (nullable): the timing, or %NULL for the defaults; zero fields
 *   take their default, and out-of-range values are brought into range
 *
 * Creates a machine in state %TANDEM_HA_STATE_STARTING that does nothing
 * until tandem_ha_machine_start().
 *
 * Returns: (transfer full): a new machine
 */
TandemHaMachine *
tandem_ha_machine_new (const char *node_id, const char *holder, const TandemHaMachineConfig *config)
{
	TandemHaMachine *self;

	g_return_val_if_fail (node_id != NULL, NULL);
	g_return_val_if_fail (holder != NULL, NULL);

	self = g_new0 (TandemHaMachine, 1);
	self->node_id = g_strdup (node_id);
	self->holder = g_strdup (holder);
	self->base_holder = g_strdup (holder);
	if (config != NULL)
		self->config = *config;
	else
		tandem_ha_machine_config_init (&self->config);
	sanitize_config (&self->config);
	self->state = TANDEM_HA_STATE_STARTING;
	self->next_attempt = G_MAXINT64;
	self->warned = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
	self->peers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, peer_free);
	return self;
}

/**
 * tandem_ha_machine_free:
 * @self: (nullable) (transfer full): a machine
 *
 * Frees @self.
 */
void
tandem_ha_machine_free (TandemHaMachine *self)
{
	if (self == NULL)
		return;
	g_free (self->node_id);
	g_free (self->holder);
	g_free (self->base_holder);
	g_free (self->stepped_holder);
	g_free (self->known_holder);
	g_free (self->max_other_node);
	g_free (self->in_flight_take_from);
	g_free (self->pending_take_from);
	g_free (self->handover_holder);
	g_free (self->last_error);
	g_hash_table_unref (self->warned);
	g_hash_table_unref (self->peers);
	g_free (self);
}

/**
 * tandem_ha_machine_get_state:
 * @self: a machine
 *
 * Returns: the current state
 */
TandemHaState
tandem_ha_machine_get_state (TandemHaMachine *self)
{
	g_return_val_if_fail (self != NULL, TANDEM_HA_STATE_STOPPED);
	return self->state;
}

/**
 * tandem_ha_machine_get_epoch:
 * @self: a machine
 *
 * Returns: this node's epoch while it is active, otherwise the highest epoch
 *   seen (reported by the arbiter or claimed by an active peer); 0 if none
 */
guint64
tandem_ha_machine_get_epoch (TandemHaMachine *self)
{
	g_return_val_if_fail (self != NULL, 0);

	if (self->state == TANDEM_HA_STATE_ACTIVE)
		return self->my_epoch;
	return MAX (self->max_epoch, self->max_claimed);
}

/**
 * tandem_ha_machine_get_lease_holder:
 * @self: a machine
 *
 * Returns: (transfer none) (nullable): the lease holder the arbiter last
 *   reported, or %NULL if it has not reported one yet
 */
const char *
tandem_ha_machine_get_lease_holder (TandemHaMachine *self)
{
	g_return_val_if_fail (self != NULL, NULL);
	return self->known_holder;
}

/**
 * tandem_ha_machine_get_holder:
 * @self: a machine
 *
 * The holder string this node asks the arbiter for the lease with: the one
 * it was created with, "NODE_ID#INCARNATION", followed by ".N" after its
 * N-th step-down (tandem_ha_machine_step_down()).
 *
 * Returns: (transfer none): the holder string in use
 */
const char *
tandem_ha_machine_get_holder (TandemHaMachine *self)
{
	g_return_val_if_fail (self != NULL, NULL);
	return self->holder;
}

/**
 * tandem_ha_machine_get_publish_until:
 * @self: a machine
 *
 * Returns: the time until which this node may publish, or 0 when it must
 *   not publish
 */
gint64
tandem_ha_machine_get_publish_until (TandemHaMachine *self)
{
	g_return_val_if_fail (self != NULL, 0);
	return self->publishing ? self->publish_until : 0;
}

static gboolean
makes_attempts (TandemHaMachine *self)
{
	return self->state == TANDEM_HA_STATE_STARTING || self->state == TANDEM_HA_STATE_PASSIVE ||
	       self->state == TANDEM_HA_STATE_ACTIVE || self->state == TANDEM_HA_STATE_FENCED;
}

/**
 * tandem_ha_machine_get_next_deadline:
 * @self: a machine
 *
 * The caller keeps one timer: it calls tandem_ha_machine_tick() at this
 * time, and asks again after every input.
 *
 * Returns: the earliest time at which tandem_ha_machine_tick() has work
 *   (a poll or renewal, a lost request, the end of the publishing window),
 *   or %G_MAXINT64 if there is none
 */
gint64
tandem_ha_machine_get_next_deadline (TandemHaMachine *self)
{
	gint64 deadline = G_MAXINT64;

	g_return_val_if_fail (self != NULL, G_MAXINT64);

	if (!self->started || self->state == TANDEM_HA_STATE_STOPPED)
		return G_MAXINT64;
	if (self->publishing)
		deadline = MIN (deadline, self->publish_until);
	/* every input ends by sending what is due, so without a request in
	 * flight neither attempt_asap nor pending_take_from is set here */
	if (self->in_flight)
		deadline =
			MIN (deadline, self->in_flight_sent + (gint64) self->config.lease_ttl_ms);
	else if (makes_attempts (self))
		deadline = MIN (deadline, self->next_attempt);
	return deadline;
}

/* Actions */

static TandemHaAction *
append_action (GArray *actions, TandemHaActionType type)
{
	TandemHaAction action = { 0 };

	action.type = type;
	g_array_append_val (actions, action);
	return &g_array_index (actions, TandemHaAction, actions->len - 1);
}

static void
emit_warn (GArray *actions, char *message)
{
	append_action (actions, TANDEM_HA_ACTION_WARN)->message = message;
}

/* Warns once for @key until the next successful answer of the arbiter */
static void
warn_once (TandemHaMachine *self, GArray *actions, const char *key, char *message)
{
	if (g_hash_table_contains (self->warned, key)) {
		g_free (message);
		return;
	}
	g_hash_table_add (self->warned, g_strdup (key));
	emit_warn (actions, message);
}

static void
set_state (TandemHaMachine *self, TandemHaState to, GArray *actions, char *message)
{
	TandemHaAction *action = append_action (actions, TANDEM_HA_ACTION_TRANSITION);

	action->from = self->state;
	action->to = to;
	action->message = message;
	self->state = to;
	if (to != TANDEM_HA_STATE_STARTING)
		self->stepping_down = FALSE;
}

static void
set_publish (TandemHaMachine *self, gboolean publish, GArray *actions)
{
	TandemHaAction *action = append_action (actions, TANDEM_HA_ACTION_SET_PUBLISH);

	self->publishing = publish;
	if (!publish)
		self->publish_until = 0;
	action->publish = publish;
	if (publish) {
		action->epoch = self->my_epoch;
		action->publish_until_ms = self->publish_until;
	}
}

static void
send_acquire (TandemHaMachine *self,
	      gint64 now_ms,
	      const char *take_from,
	      guint64 take_from_epoch,
	      GArray *actions)
{
	TandemHaAction *action = append_action (actions, TANDEM_HA_ACTION_ACQUIRE_LEASE);

	self->in_flight = TRUE;
	self->in_flight_id = ++self->last_request_id;
	self->in_flight_sent = now_ms;
	g_free (self->in_flight_take_from);
	self->in_flight_take_from = g_strdup (take_from);
	self->next_attempt = now_ms + self->config.lease_renew_ms;
	self->attempt_asap = FALSE;

	action->request_id = self->in_flight_id;
	action->ttl_ms = self->config.lease_ttl_ms;
	action->take_from = g_strdup (take_from);
	action->take_from_epoch = take_from != NULL ? take_from_epoch : 0;
}

static void
ask_asap (TandemHaMachine *self, gint64 now_ms)
{
	if (!self->attempt_asap)
		self->asap_since = now_ms;
	self->attempt_asap = TRUE;
}

/* Peers */

static Peer *
ensure_peer (TandemHaMachine *self, const char *node_id)
{
	Peer *peer = g_hash_table_lookup (self->peers, node_id);

	if (peer == NULL) {
		peer = g_new0 (Peer, 1);
		g_hash_table_insert (self->peers, g_strdup (node_id), peer);
	}
	return peer;
}

/* Whether a peer that claims to be active at @epoch outranks this node
 * being active at @my_epoch.  The tie-break on the node id only matters
 * without an arbiter (with one, two holders never share an epoch). */
static gboolean
claim_beats (TandemHaMachine *self, const char *node_id, guint64 epoch, guint64 my_epoch)
{
	return epoch > my_epoch || (epoch == my_epoch && strcmp (node_id, self->node_id) < 0);
}

/* The lease */

static gboolean
is_mine (TandemHaMachine *self, const char *holder)
{
	return holder != NULL && strcmp (holder, self->holder) == 0;
}

/* Another holder string with this node's id: an earlier run of this node
 * (or, misconfigured, a second process with the same id) */
static gboolean
is_previous_run (TandemHaMachine *self, const char *holder)
{
	g_autofree char *node = NULL;

	if (holder == NULL || is_mine (self, holder))
		return FALSE;
	node = tandem_ha_holder_node_id (holder);
	return strcmp (node, self->node_id) == 0;
}

static void
note_lease (TandemHaMachine *self, const char *holder, guint64 epoch)
{
	if (g_strcmp0 (self->known_holder, holder) != 0) {
		g_free (self->known_holder);
		self->known_holder = g_strdup (holder);
	}
	self->known_epoch = epoch;
	if (holder == NULL)
		return;
	self->max_epoch = MAX (self->max_epoch, epoch);
	if (!is_mine (self, holder) && epoch >= self->max_other_epoch) {
		self->max_other_epoch = epoch;
		g_free (self->max_other_node);
		self->max_other_node = tandem_ha_holder_node_id (holder);
	}
}

/* Why the arbiter granting us @epoch must not make us active, or NULL.
 * An epoch only grows, and it grows whenever the lease changes hands, so a
 * grant at an epoch below one already seen, or not above one already seen
 * for another holder, means the arbiter lost its state (a restored
 * database, a witness without its epoch file): publishing with it could
 * repeat an epoch that another node already published under. */
static char *
stale_reason (TandemHaMachine *self, guint64 epoch)
{
	GHashTableIter iter;
	gpointer key, value;

	if (self->max_other_epoch > 0 && epoch <= self->max_other_epoch)
		return g_strdup_printf ("epoch %" G_GUINT64_FORMAT " was already held by %s",
					self->max_other_epoch, self->max_other_node);
	if (epoch < self->max_epoch)
		return g_strdup_printf ("epoch %" G_GUINT64_FORMAT " was already seen",
					self->max_epoch);
	g_hash_table_iter_init (&iter, self->peers);
	while (g_hash_table_iter_next (&iter, &key, &value)) {
		Peer *peer = value;

		if (peer->claims_active && claim_beats (self, key, peer->epoch, epoch))
			return g_strdup_printf (
				"node %s says it is active at epoch %" G_GUINT64_FORMAT,
				(const char *) key, peer->epoch);
	}
	return NULL;
}

/* Publishing stops */

static void
enter_fenced (TandemHaMachine *self, gint64 now_ms, const char *reason, GArray *actions)
{
	guint64 epoch = self->my_epoch;

	set_publish (self, FALSE, actions);
	set_state (self, TANDEM_HA_STATE_FENCED, actions,
		   g_strdup_printf ("Fenced (was active at epoch %" G_GUINT64_FORMAT
				    "), stopped publishing: %s",
				    epoch, reason));
	/* ask at once; with a request in flight, as soon as it is answered */
	ask_asap (self, now_ms);
	g_clear_pointer (&self->pending_take_from, g_free);
}

static void
fence_overdue (TandemHaMachine *self, gint64 now_ms, GArray *actions)
{
	g_autofree char *reason = NULL;

	if (self->last_error != NULL)
		reason = g_strdup_printf ("lease renewal overdue: cannot reach the arbiter: %s",
					  self->last_error);
	else if (self->in_flight)
		reason = g_strdup_printf (
			"lease renewal overdue: no answer from the arbiter for %" G_GINT64_FORMAT
			" ms",
			now_ms - self->in_flight_sent);
	else
		reason = g_strdup ("lease renewal overdue");
	enter_fenced (self, now_ms, reason, actions);
}

/* Time-driven changes of state, checked before every input: the end of
 * the publishing window and lost requests */
static void
check_time (TandemHaMachine *self, gint64 now_ms, GArray *actions)
{
	if (self->state == TANDEM_HA_STATE_ACTIVE && now_ms >= self->publish_until)
		fence_overdue (self, now_ms, actions);
	if (self->in_flight &&
	    now_ms >= self->in_flight_sent + (gint64) self->config.lease_ttl_ms) {
		emit_warn (actions,
			   g_strdup_printf (
				   "Lease request %u got no answer from the arbiter within %u ms; "
				   "sending a new one",
				   self->in_flight_id, self->config.lease_ttl_ms));
		self->in_flight = FALSE;
		g_clear_pointer (&self->in_flight_take_from, g_free);
	}
}

/* Sends the request that is due, if any, checked after every input */
static void
run_due (TandemHaMachine *self, gint64 now_ms, GArray *actions)
{
	if (self->in_flight || !makes_attempts (self))
		return;
	if (self->pending_take_from != NULL) {
		g_autofree char *take_from = g_steal_pointer (&self->pending_take_from);

		send_acquire (self, now_ms, take_from, self->pending_take_from_epoch, actions);
	} else if (self->attempt_asap || now_ms >= self->next_attempt) {
		/* stepping down: the lease of the old holder string is taken
		 * back (at a new epoch) unless the other node took it */
		send_acquire (self, now_ms, self->stepping_down ? self->stepped_holder : NULL,
			      self->stepped_epoch, actions);
	}
}

static gboolean
accepts_input (TandemHaMachine *self)
{
	return self->started && self->state != TANDEM_HA_STATE_STOPPED;
}

/* Becoming active */

static char *
describe_takeover (TandemHaMachine *self, const char *prev_holder, const char *take_from)
{
	g_autofree char *node = NULL;
	Peer *peer;

	if (self->stepping_down)
		return g_strdup ("no other node took the lease after the switchover");
	if (self->handover_holder != NULL &&
	    (g_strcmp0 (take_from, self->handover_holder) == 0 ||
	     g_strcmp0 (prev_holder, self->handover_holder) == 0)) {
		node = tandem_ha_holder_node_id (self->handover_holder);
		return g_strdup_printf ("%s handed the lease over (switchover)", node);
	}
	if (prev_holder == NULL)
		return g_strdup ("the lease was free");
	if (is_mine (self, prev_holder))
		return g_strdup (self->state == TANDEM_HA_STATE_FENCED
					 ? "the lease is still ours"
					 : "the lease was already ours");
	node = tandem_ha_holder_node_id (prev_holder);
	if (take_from != NULL && strcmp (take_from, prev_holder) == 0)
		return g_strdup_printf ("took over from %s (process gone)", node);
	if (strcmp (node, self->node_id) == 0)
		return g_strdup_printf ("the lease of a previous run of this node (%s) expired",
					prev_holder);
	peer = g_hash_table_lookup (self->peers, node);
	if (peer != NULL && !peer->up && peer->left_reason != NULL)
		return g_strdup_printf (
			"the lease of %s was released or expired after it left (%s)", node,
			peer->left_reason);
	return g_strdup_printf ("the lease of %s expired", node);
}

static void
become_active (TandemHaMachine *self,
	       gint64 now_ms,
	       gint64 sent_at,
	       guint64 epoch,
	       const char *prev_holder,
	       const char *take_from,
	       GArray *actions)
{
	gint64 until = sent_at + self->config.lease_ttl_ms - self->config.fence_margin_ms;
	g_autofree char *why = NULL;
	TandemHaState from = self->state;

	if (now_ms >= until) {
		/* the answer took so long that the window it opens is already
		 * over; the lease is ours in the arbiter, so ask again at once
		 * (that renews it) and publish from the fresh answer */
		emit_warn (actions,
			   g_strdup_printf (
				   "The arbiter granted the lease (epoch %" G_GUINT64_FORMAT
				   ") %" G_GINT64_FORMAT " ms after it was asked, too late to use; "
				   "asking again",
				   epoch, now_ms - sent_at));
		ask_asap (self, now_ms);
		return;
	}

	why = describe_takeover (self, prev_holder, take_from);
	self->my_epoch = epoch;
	self->publish_until = until;
	set_publish (self, TRUE, actions);
	set_state (self, TANDEM_HA_STATE_ACTIVE, actions,
		   g_strdup_printf ("Became active%s (epoch %" G_GUINT64_FORMAT "): %s",
				    from == TANDEM_HA_STATE_FENCED ? " again" : "", epoch, why));
	g_clear_pointer (&self->pending_take_from, g_free);
	g_clear_pointer (&self->handover_holder, g_free);
	self->attempt_asap = FALSE;
}

/* Not active: someone else holds the lease */
/* Returns FALSE when the node cannot follow @holder yet (it does not reach
 * it) */
static gboolean
follow (TandemHaMachine *self, const char *holder, guint64 epoch, GArray *actions)
{
	g_autofree char *node = tandem_ha_holder_node_id (holder);
	gboolean fenced = self->state == TANDEM_HA_STATE_FENCED;
	Peer *peer = g_hash_table_lookup (self->peers, node);

	if (self->config.state_sync && (peer == NULL || !peer->up)) {
		/* its state cannot be copied from a node this one does not
		 * reach (a node starting alone after a full stop finds the
		 * lease of a node that is gone): keep polling, follow it once
		 * it connects, or take the lease once it expires */
		g_autofree char *key = g_strdup_printf ("unreachable:%s", holder);

		warn_once (self, actions, key,
			   g_strdup_printf ("The lease is held by %s (epoch %" G_GUINT64_FORMAT
					    "), which this node does not reach: waiting for it to connect, "
					    "or for its lease to expire",
					    node, epoch));
		return FALSE;
	}
	if (self->config.state_sync) {
		set_state (self, TANDEM_HA_STATE_SYNCING, actions,
			   g_strdup_printf ("%s: %s is active (epoch %" G_GUINT64_FORMAT
					    "); copying its state",
					    fenced ? "Syncing after fencing" : "Syncing", node,
					    epoch));
		g_clear_pointer (&self->pending_take_from, g_free);
	} else if (fenced) {
		set_state (
			self, TANDEM_HA_STATE_PASSIVE, actions,
			g_strdup_printf (
				"Rejoined as passive after fencing: %s is active (epoch %" G_GUINT64_FORMAT
				"); no state sync yet (HA part 2)",
				node, epoch));
	} else {
		set_state (self, TANDEM_HA_STATE_PASSIVE, actions,
			   g_strdup_printf ("Became passive: %s is active (epoch %" G_GUINT64_FORMAT
					    "); no state sync yet (HA part 2), this node starts "
					    "without the active's state",
					    node, epoch));
	}
	return TRUE;
}

/* Inputs */

/**
 * tandem_ha_machine_start:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * Starts looking for the active member: announces STARTING and asks the
 * arbiter for the lease at once.  Does nothing if already started.
 */
void
tandem_ha_machine_start (TandemHaMachine *self, gint64 now_ms, GArray *actions)
{
	g_return_if_fail (self != NULL);
	g_return_if_fail (actions != NULL);

	if (self->started || self->state == TANDEM_HA_STATE_STOPPED)
		return;
	self->started = TRUE;
	set_state (self, TANDEM_HA_STATE_STARTING, actions,
		   g_strdup ("HA state starting: looking for the active member of the cluster"));
	ask_asap (self, now_ms);
	run_due (self, now_ms, actions);
}

/**
 * tandem_ha_machine_tick:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * Does whatever is due at @now_ms: ends the publishing window, gives up on
 * a lost request, polls or renews.
 */
void
tandem_ha_machine_tick (TandemHaMachine *self, gint64 now_ms, GArray *actions)
{
	g_return_if_fail (self != NULL);
	g_return_if_fail (actions != NULL);

	if (!accepts_input (self))
		return;
	check_time (self, now_ms, actions);
	run_due (self, now_ms, actions);
}

static void
lease_error (TandemHaMachine *self, gint64 now_ms, const char *error_message, GArray *actions)
{
	const char *error = error_message != NULL ? error_message : "unknown error";
	g_autofree char *key = g_strconcat ("error:", error, NULL);

	g_free (self->last_error);
	self->last_error = g_strdup (error);

	if (self->state == TANDEM_HA_STATE_ACTIVE) {
		warn_once (
			self, actions, key,
			g_strdup_printf (
				"Cannot renew the lease: %s; publishing stops in %" G_GINT64_FORMAT
				" ms unless a renewal succeeds",
				error, self->publish_until - now_ms));
	} else {
		warn_once (self, actions, key,
			   g_strdup_printf ("Cannot reach the arbiter: %s; retrying every %u ms",
					    error, self->config.lease_renew_ms));
	}
}

static void
lease_ok (TandemHaMachine *self,
	  gint64 now_ms,
	  gint64 sent_at,
	  const char *take_from,
	  const TandemHaLeaseResult *result,
	  GArray *actions)
{
	g_autofree char *prev_holder = g_strdup (self->known_holder);
	const char *holder = result->holder;
	guint64 epoch = result->epoch;
	gboolean trusted = TRUE; /* warnings may repeat after this answer */

	g_clear_pointer (&self->last_error, g_free);

	switch (self->state) {
	case TANDEM_HA_STATE_ACTIVE:
		note_lease (self, holder, epoch);
		if (is_mine (self, holder) && epoch == self->my_epoch) {
			gint64 until =
				sent_at + self->config.lease_ttl_ms - self->config.fence_margin_ms;

			if (until > self->publish_until) {
				self->publish_until = until;
				set_publish (self, TRUE, actions);
			}
		} else if (is_mine (self, holder)) {
			g_autofree char *reason =
				g_strdup_printf ("the lease epoch changed from %" G_GUINT64_FORMAT
						 " to %" G_GUINT64_FORMAT,
						 self->my_epoch, epoch);
			enter_fenced (self, now_ms, reason, actions);
		} else if (holder != NULL) {
			g_autofree char *node = tandem_ha_holder_node_id (holder);
			g_autofree char *reason =
				g_strdup_printf ("lease taken by %s at epoch %" G_GUINT64_FORMAT,
						 node, epoch);
			enter_fenced (self, now_ms, reason, actions);
		} else {
			enter_fenced (self, now_ms, "the arbiter reports no lease holder", actions);
		}
		break;

	case TANDEM_HA_STATE_STARTING:
	case TANDEM_HA_STATE_PASSIVE:
	case TANDEM_HA_STATE_FENCED:
		if (is_mine (self, holder)) {
			g_autofree char *stale = stale_reason (self, epoch);

			note_lease (self, holder, epoch);
			if (stale != NULL) {
				g_autofree char *key =
					g_strdup_printf ("stale:%" G_GUINT64_FORMAT, epoch);

				warn_once (
					self, actions, key,
					g_strdup_printf (
						"Not becoming active: the arbiter granted epoch %" G_GUINT64_FORMAT
						" but %s (stale epoch: the arbiter may have lost its state)",
						epoch, stale));
				trusted = FALSE;
			} else {
				become_active (self, now_ms, sent_at, epoch, prev_holder, take_from,
					       actions);
			}
		} else if (holder != NULL && g_strcmp0 (holder, self->stepped_holder) == 0) {
			/* the lease this node handed over, not taken yet (or
			 * renewed late): wait for it to expire, without warning */
			note_lease (self, holder, epoch);
			trusted = FALSE;
		} else if (holder != NULL && is_previous_run (self, holder) &&
			   self->state != TANDEM_HA_STATE_PASSIVE) {
			g_autofree char *key = g_strconcat ("previous-run:", holder, NULL);

			note_lease (self, holder, epoch);
			warn_once (self, actions, key,
				   g_strdup_printf (
					   "The lease is held by %s (epoch %" G_GUINT64_FORMAT
					   "), a previous run of this node or another process "
					   "with the same node id; waiting for it to expire",
					   holder, epoch));
			trusted = FALSE;
		} else if (holder != NULL) {
			note_lease (self, holder, epoch);
			/* (a warning about an unreachable holder is not
			 * repeated at every poll) */
			if (self->state != TANDEM_HA_STATE_PASSIVE && !follow (self, holder, epoch, actions))
				trusted = FALSE;
		} else {
			note_lease (self, NULL, epoch);
		}
		break;

	case TANDEM_HA_STATE_SYNCING:
	case TANDEM_HA_STATE_STOPPED:
	default:
		note_lease (self, holder, epoch);
		break;
	}
	if (trusted)
		g_hash_table_remove_all (self->warned);
}

/**
 * tandem_ha_machine_lease_result:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @result: the answer of the arbiter to an ACQUIRE_LEASE action
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * Handles the answer to the request in flight.  An answer to any other
 * request (one given up as lost) only adds what it says about a newer
 * epoch; if that shows another holder while this node is active, it fences.
 */
void
tandem_ha_machine_lease_result (TandemHaMachine *self,
				gint64 now_ms,
				const TandemHaLeaseResult *result,
				GArray *actions)
{
	gint64 sent_at;
	g_autofree char *take_from = NULL;

	g_return_if_fail (self != NULL);
	g_return_if_fail (result != NULL);
	g_return_if_fail (actions != NULL);

	if (!accepts_input (self))
		return;
	check_time (self, now_ms, actions);

	if (!self->in_flight || result->request_id != self->in_flight_id) {
		if (result->status == TANDEM_HA_LEASE_OK && result->holder != NULL &&
		    result->epoch > self->max_epoch) {
			note_lease (self, result->holder, result->epoch);
			if (self->state == TANDEM_HA_STATE_ACTIVE &&
			    !is_mine (self, result->holder)) {
				g_autofree char *node = tandem_ha_holder_node_id (result->holder);
				g_autofree char *reason = g_strdup_printf (
					"lease taken by %s at epoch %" G_GUINT64_FORMAT, node,
					result->epoch);
				enter_fenced (self, now_ms, reason, actions);
			} else if (self->state == TANDEM_HA_STATE_ACTIVE &&
				   result->epoch != self->my_epoch) {
				g_autofree char *reason = g_strdup_printf (
					"the lease epoch changed from %" G_GUINT64_FORMAT
					" to %" G_GUINT64_FORMAT,
					self->my_epoch, result->epoch);
				enter_fenced (self, now_ms, reason, actions);
			}
		}
		run_due (self, now_ms, actions);
		return;
	}

	self->in_flight = FALSE;
	sent_at = self->in_flight_sent;
	take_from = g_steal_pointer (&self->in_flight_take_from);
	if (self->attempt_asap && sent_at >= self->asap_since)
		self->attempt_asap = FALSE;

	if (result->status == TANDEM_HA_LEASE_OK)
		lease_ok (self, now_ms, sent_at, take_from, result, actions);
	else
		lease_error (self, now_ms, result->error_message, actions);
	/* a switchover's take-over that did not make this node active is over */
	if (take_from != NULL && g_strcmp0 (take_from, self->handover_holder) == 0)
		g_clear_pointer (&self->handover_holder, g_free);
	run_due (self, now_ms, actions);
}

/**
 * tandem_ha_machine_peer_up:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @node_id: the node whose first session was authenticated
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * Remembers that @node_id is reachable.
 */
void
tandem_ha_machine_peer_up (TandemHaMachine *self,
			   gint64 now_ms,
			   const char *node_id,
			   GArray *actions)
{
	Peer *peer;

	g_return_if_fail (self != NULL);
	g_return_if_fail (node_id != NULL);
	g_return_if_fail (actions != NULL);

	if (!accepts_input (self) || strcmp (node_id, self->node_id) == 0)
		return;
	check_time (self, now_ms, actions);
	peer = ensure_peer (self, node_id);
	peer->up = TRUE;
	g_clear_pointer (&peer->left_reason, g_free);
	/* the holder of the lease connects: ask now, to follow it */
	if ((self->state == TANDEM_HA_STATE_STARTING || self->state == TANDEM_HA_STATE_FENCED) &&
	    !self->stepping_down && self->known_holder != NULL && !is_mine (self, self->known_holder)) {
		g_autofree char *holder_node = tandem_ha_holder_node_id (self->known_holder);

		if (strcmp (holder_node, node_id) == 0)
			ask_asap (self, now_ms);
	}
	run_due (self, now_ms, actions);
}

/**
 * tandem_ha_machine_peer_status:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @node_id: the node that sent the status
 * @state: its state
 * @epoch: its epoch
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * Remembers what @node_id says.  An active node fences at once when a peer
 * says it is active at a higher epoch (or at the same epoch with a lower
 * node id, which only happens without an arbiter).
 */
void
tandem_ha_machine_peer_status (TandemHaMachine *self,
			       gint64 now_ms,
			       const char *node_id,
			       TandemHaState state,
			       guint64 epoch,
			       GArray *actions)
{
	Peer *peer;
	gboolean was_active;

	g_return_if_fail (self != NULL);
	g_return_if_fail (node_id != NULL);
	g_return_if_fail (actions != NULL);

	if (!accepts_input (self) || strcmp (node_id, self->node_id) == 0)
		return;
	check_time (self, now_ms, actions);
	peer = ensure_peer (self, node_id);
	peer->up = TRUE;
	g_clear_pointer (&peer->left_reason, g_free);
	was_active = peer->claims_active;
	peer->state = state;
	peer->epoch = epoch;
	peer->claims_active = state == TANDEM_HA_STATE_ACTIVE;
	if (peer->claims_active) {
		self->max_claimed = MAX (self->max_claimed, epoch);
		if (self->state == TANDEM_HA_STATE_ACTIVE &&
		    claim_beats (self, node_id, epoch, self->my_epoch)) {
			g_autofree char *reason = NULL;

			if (epoch > self->my_epoch)
				reason = g_strdup_printf (
					"node %s is active with a higher epoch %" G_GUINT64_FORMAT,
					node_id, epoch);
			else
				reason = g_strdup_printf (
					"node %s is active with the same epoch %" G_GUINT64_FORMAT
					" and wins the tie-break (lower node id)",
					node_id, epoch);
			enter_fenced (self, now_ms, reason, actions);
		}
		/* stepping down: the other node took the lease; ask the
		 * arbiter now, to follow it */
		if (self->stepping_down && epoch > self->stepped_epoch)
			ask_asap (self, now_ms);
		/* a starting node hears of an active one: ask now, rather
		 * than at the next poll, to follow it */
		else if (!self->stepping_down && !was_active && self->state == TANDEM_HA_STATE_STARTING)
			ask_asap (self, now_ms);
	}
	run_due (self, now_ms, actions);
}

/**
 * tandem_ha_machine_peer_down:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @node_id: the node whose last session closed
 * @died: %TRUE if its process is gone (the connection ended without a
 *   goodbye), %FALSE for a goodbye or a heartbeat timeout
 * @reason: (nullable): why, for the log
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * When the node that holds the lease is gone, a node that is not active
 * asks for the lease at once: with take-over (the arbiter hands over a
 * lease that has not expired yet) only if its process is gone, since a
 * silent node (paused, cut off) may still be publishing until its lease
 * runs out.  A syncing node that loses its active starts again.
 */
void
tandem_ha_machine_peer_down (TandemHaMachine *self,
			     gint64 now_ms,
			     const char *node_id,
			     gboolean died,
			     const char *reason,
			     GArray *actions)
{
	Peer *peer;
	g_autofree char *holder_node = NULL;

	g_return_if_fail (self != NULL);
	g_return_if_fail (node_id != NULL);
	g_return_if_fail (actions != NULL);

	if (!accepts_input (self) || strcmp (node_id, self->node_id) == 0)
		return;
	check_time (self, now_ms, actions);
	if (reason == NULL)
		reason = died ? "process gone" : "left";

	peer = ensure_peer (self, node_id);
	peer->up = FALSE;
	peer->claims_active = FALSE;
	g_free (peer->left_reason);
	peer->left_reason = g_strdup (reason);
	/* stepping down: the node that was to take over may be gone; the
	 * lease is free or held by it, ask now */
	if (self->stepping_down)
		ask_asap (self, now_ms);

	if (self->known_holder != NULL && !is_mine (self, self->known_holder))
		holder_node = tandem_ha_holder_node_id (self->known_holder);
	if (holder_node == NULL || strcmp (holder_node, node_id) != 0) {
		run_due (self, now_ms, actions);
		return;
	}

	if (self->state == TANDEM_HA_STATE_SYNCING) {
		emit_warn (actions, g_strdup_printf ("Lost the state sync: the active %s left (%s)",
						     node_id, reason));
		set_state (self, TANDEM_HA_STATE_STARTING, actions,
			   g_strdup_printf (
				   "HA state starting: the active %s left while syncing (%s); "
				   "looking for the active member of the cluster",
				   node_id, reason));
	}
	if (self->state == TANDEM_HA_STATE_STARTING || self->state == TANDEM_HA_STATE_PASSIVE ||
	    self->state == TANDEM_HA_STATE_FENCED) {
		if (died) {
			g_free (self->pending_take_from);
			self->pending_take_from = g_strdup (self->known_holder);
			self->pending_take_from_epoch = self->known_epoch;
		} else {
			/* a goodbye comes with a release: the next poll can win */
			ask_asap (self, now_ms);
		}
	}
	run_due (self, now_ms, actions);
}

/**
 * tandem_ha_machine_sync_done:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * The state sync of a syncing node finished: it becomes passive and starts
 * polling the lease.  Ignored in any other state.
 */
void
tandem_ha_machine_sync_done (TandemHaMachine *self, gint64 now_ms, GArray *actions)
{
	g_autofree char *node = NULL;

	g_return_if_fail (self != NULL);
	g_return_if_fail (actions != NULL);

	if (!accepts_input (self))
		return;
	check_time (self, now_ms, actions);
	if (self->state == TANDEM_HA_STATE_SYNCING) {
		node = self->known_holder != NULL ? tandem_ha_holder_node_id (self->known_holder)
						  : g_strdup ("the active");
		set_state (self, TANDEM_HA_STATE_PASSIVE, actions,
			   g_strdup_printf (
				   "Became passive: state copied from %s (epoch %" G_GUINT64_FORMAT
				   ")",
				   node, self->known_epoch));
		ask_asap (self, now_ms);
	}
	run_due (self, now_ms, actions);
}

/**
 * tandem_ha_machine_stop:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @reason: (nullable): why, for the log
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * An active node stops publishing and releases the lease, so that the
 * other node can take it at its next poll.  After this, every input is
 * ignored.
 */
void
tandem_ha_machine_stop (TandemHaMachine *self, gint64 now_ms, const char *reason, GArray *actions)
{
	g_return_if_fail (self != NULL);
	g_return_if_fail (actions != NULL);

	if (self->state == TANDEM_HA_STATE_STOPPED)
		return;
	if (reason == NULL)
		reason = "stopping";
	if (self->state == TANDEM_HA_STATE_ACTIVE) {
		TandemHaAction *release;

		set_publish (self, FALSE, actions);
		release = append_action (actions, TANDEM_HA_ACTION_RELEASE_LEASE);
		release->request_id = ++self->last_request_id;
		release->ttl_ms = 0;
		set_state (self, TANDEM_HA_STATE_STOPPED, actions,
			   g_strdup_printf ("Stepping down: %s", reason));
	} else {
		set_state (self, TANDEM_HA_STATE_STOPPED, actions,
			   g_strdup_printf ("HA stopped: %s", reason));
	}
	self->in_flight = FALSE;
	g_clear_pointer (&self->pending_take_from, g_free);
	(void) now_ms;
}

/**
 * tandem_ha_machine_step_down:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @reason: (nullable): why, for the log
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * A switchover: an active node stops publishing (first), becomes STARTING
 * and offers the lease to the other node (HAND_OVER, after the TRANSITION,
 * so that the other node hears that this one is no longer active before
 * the offer).  The other node takes it over from this node's holder at its
 * epoch, which the arbiter grants whether the lease still runs or not.  A
 * renewal in flight is forgotten: its answer cannot make this node active
 * again.  The node then holds off for lease_ttl_ms - fence_margin_ms: it
 * asks the arbiter earlier only when a peer says it is active above the
 * epoch this node had (it then follows it), when a peer leaves, or when the
 * other node refuses the offer (tandem_ha_machine_handover_refused()).
 * If nobody took the lease by then, it takes it back.
 *
 * The offer stays valid for as long as the lease is held by the holder
 * string at the epoch it names, and a request can reach the arbiter late:
 * so this node never publishes under that holder string again.  It asks
 * with a new one from now on (tandem_ha_machine_get_holder(): the old one
 * with ".N" appended), taking the lease over from its old holder string
 * while it steps down: the arbiter gives it a new epoch, at once (the hold
 * ends before the old lease can expire, so that a passive polling for it
 * does not win it first), and an offer that arrives after that is refused.
 * For the same reason the lease is not released (unlike at stop): a
 * release cannot be told from a late one, and the take-over needs none.
 *
 * Safety does not depend on the hold-off: the take-over is granted only
 * while the lease is still the old holder's at its epoch, and this node
 * stopped publishing before it offered it.
 *
 * Returns: %TRUE if the node stepped down; %FALSE, with no action, when it
 *   was not active (or its publishing window had just ended: it fences)
 */
gboolean
tandem_ha_machine_step_down (TandemHaMachine *self,
			     gint64 now_ms,
			     const char *reason,
			     GArray *actions)
{
	TandemHaAction *action;
	guint64 epoch;

	g_return_val_if_fail (self != NULL, FALSE);
	g_return_val_if_fail (actions != NULL, FALSE);

	if (!accepts_input (self))
		return FALSE;
	check_time (self, now_ms, actions);
	if (self->state != TANDEM_HA_STATE_ACTIVE) {
		run_due (self, now_ms, actions);
		return FALSE;
	}
	if (reason == NULL)
		reason = "switchover";
	epoch = self->my_epoch;
	set_publish (self, FALSE, actions);

	self->in_flight = FALSE;
	g_clear_pointer (&self->in_flight_take_from, g_free);
	g_clear_pointer (&self->pending_take_from, g_free);
	g_clear_pointer (&self->known_holder, g_free); /* handed over: nobody active is known */
	self->attempt_asap = FALSE;
	self->next_attempt = now_ms + self->config.lease_ttl_ms - self->config.fence_margin_ms;

	/* the lease offered under the old holder string stays the other
	 * node's to take over, whenever its request reaches the arbiter;
	 * this node never publishes under it again, and asks with a new
	 * holder string from now on (the arbiter gives a new epoch to it) */
	g_free (self->stepped_holder);
	self->stepped_holder = g_steal_pointer (&self->holder);
	self->holder = g_strdup_printf ("%s.%u", self->base_holder, ++self->generation);

	set_state (self, TANDEM_HA_STATE_STARTING, actions,
		   g_strdup_printf (
			   "Stepped down (was active at epoch %" G_GUINT64_FORMAT
			   "), stopped publishing: %s; offering the lease to the other "
			   "node, not asking for it again for %u ms unless another node takes it",
			   epoch, reason, self->config.lease_ttl_ms - self->config.fence_margin_ms));
	self->stepping_down = TRUE;
	self->stepped_epoch = epoch;

	action = append_action (actions, TANDEM_HA_ACTION_HAND_OVER);
	action->take_from = g_strdup (self->stepped_holder);
	action->take_from_epoch = epoch;
	action->epoch = epoch;
	return TRUE;
}

/**
 * tandem_ha_machine_handover_offered:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @node_id: the node that offers its lease
 * @holder: its holder string
 * @epoch: the epoch it held the lease at
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * A passive node asks for the lease at once (as soon as no request is in
 * flight), taking it over from @holder at @epoch: the arbiter grants that
 * whether or not the release of @holder reached it first, and refuses it
 * if the lease changed hands since.  Ignored unless this node is passive
 * and @holder belongs to @node_id.
 */
void
tandem_ha_machine_handover_offered (TandemHaMachine *self,
				    gint64 now_ms,
				    const char *node_id,
				    const char *holder,
				    guint64 epoch,
				    GArray *actions)
{
	g_autofree char *holder_node = NULL;

	g_return_if_fail (self != NULL);
	g_return_if_fail (node_id != NULL);
	g_return_if_fail (actions != NULL);

	if (!accepts_input (self) || strcmp (node_id, self->node_id) == 0)
		return;
	check_time (self, now_ms, actions);
	if (holder != NULL)
		holder_node = tandem_ha_holder_node_id (holder);
	if (self->state == TANDEM_HA_STATE_PASSIVE && holder_node != NULL &&
	    strcmp (holder_node, node_id) == 0 && !is_mine (self, holder)) {
		g_free (self->pending_take_from);
		self->pending_take_from = g_strdup (holder);
		self->pending_take_from_epoch = epoch;
		g_free (self->handover_holder);
		self->handover_holder = g_strdup (holder);
	}
	run_due (self, now_ms, actions);
}

/**
 * tandem_ha_machine_handover_refused:
 * @self: a machine
 * @now_ms: monotonic time in milliseconds
 * @node_id: the node that refused the lease offered by
 *   tandem_ha_machine_step_down()
 * @actions: (element-type TandemHaAction): where to append the actions
 *
 * While stepping down: the hold-off ends, and the node asks for the lease
 * back at once.  Ignored otherwise.
 */
void
tandem_ha_machine_handover_refused (TandemHaMachine *self,
				    gint64 now_ms,
				    const char *node_id,
				    GArray *actions)
{
	g_return_if_fail (self != NULL);
	g_return_if_fail (node_id != NULL);
	g_return_if_fail (actions != NULL);

	if (!accepts_input (self))
		return;
	check_time (self, now_ms, actions);
	if (self->stepping_down)
		ask_asap (self, now_ms);
	run_due (self, now_ms, actions);
}

/**
 * tandem_ha_machine_is_stepping_down:
 * @self: a machine
 *
 * Returns: %TRUE from tandem_ha_machine_step_down() until the node follows
 *   another active node, becomes active again or stops
 */
gboolean
tandem_ha_machine_is_stepping_down (TandemHaMachine *self)
{
	g_return_val_if_fail (self != NULL, FALSE);
	return self->stepping_down;
}

/* The lease table */

typedef struct {
	char *holder;
	guint64 epoch;
	gint64 expires_ms;
} Lease;

struct _TandemHaLeaseTable {
	GHashTable *leases; /* cluster -> Lease */
	guint64 first_epoch;
	guint64 max_epoch;
	gint64 hold_until_ms; /* no lease changes hands before this */
};

static void
lease_free (gpointer data)
{
	Lease *lease = data;

	g_free (lease->holder);
	g_free (lease);
}

/**
 * tandem_ha_lease_table_new:
 * @first_epoch: the highest epoch handed out before (a witness persists it),
 *   or 0
 *
 * Returns: (transfer full): an empty lease table whose new epochs are all
 *   above @first_epoch
 */
TandemHaLeaseTable *
tandem_ha_lease_table_new (guint64 first_epoch)
{
	TandemHaLeaseTable *self = g_new0 (TandemHaLeaseTable, 1);

	self->leases = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, lease_free);
	self->first_epoch = first_epoch;
	self->max_epoch = first_epoch;
	self->hold_until_ms = G_MININT64;
	return self;
}

/**
 * tandem_ha_lease_table_hold_until:
 * @self: a lease table
 * @until_ms: a time of the table's clock
 *
 * Hands no lease to a new holder before @until_ms: the table only renews
 * the leases it holds (and takes releases).  A witness that restarts has
 * lost its leases, but a node may still publish under one it granted
 * before; holding every lease for one lease ttl from the start keeps the
 * other node from taking it meanwhile.  Until then, an unknown cluster
 * reads as held by nobody for the time that is left.
 */
void
tandem_ha_lease_table_hold_until (TandemHaLeaseTable *self, gint64 until_ms)
{
	g_return_if_fail (self != NULL);
	self->hold_until_ms = MAX (self->hold_until_ms, until_ms);
}

/**
 * tandem_ha_lease_table_free:
 * @self: (nullable) (transfer full): a lease table
 *
 * Frees @self.
 */
void
tandem_ha_lease_table_free (TandemHaLeaseTable *self)
{
	if (self == NULL)
		return;
	g_hash_table_unref (self->leases);
	g_free (self);
}

/**
 * tandem_ha_lease_table_acquire:
 * @self: a lease table
 * @now_ms: the table's monotonic time in milliseconds
 * @cluster: the cluster name
 * @holder: the requesting holder, "NODE_ID#INCARNATION"
 * @ttl_ms: how long the lease runs from @now_ms; 0 (or less) releases it
 *   if @holder holds it, and does nothing otherwise
 * @take_from: (nullable): a holder known to be gone
 * @take_from_epoch: the epoch @take_from holds the lease at
 * @out_holder: (out) (optional) (transfer full) (nullable): the holder after
 *   the attempt, %NULL if none
 * @out_epoch: (out) (optional): the epoch after the attempt
 * @out_remaining_ms: (out) (optional): how long the lease still runs, 0 if
 *   it has expired
 *
 * Gives the lease of @cluster to @holder if it is free, expired, already
 * held by @holder, or held by @take_from at @take_from_epoch.  The epoch
 * grows by one whenever the holder changes, and is always above the
 * table's @first_epoch.
 */
void
tandem_ha_lease_table_acquire (TandemHaLeaseTable *self,
			       gint64 now_ms,
			       const char *cluster,
			       const char *holder,
			       gint64 ttl_ms,
			       const char *take_from,
			       guint64 take_from_epoch,
			       char **out_holder,
			       guint64 *out_epoch,
			       gint64 *out_remaining_ms)
{
	Lease *lease;

	g_return_if_fail (self != NULL);
	g_return_if_fail (cluster != NULL);
	g_return_if_fail (holder != NULL);

	lease = g_hash_table_lookup (self->leases, cluster);
	if (ttl_ms <= 0) {
		if (lease != NULL && g_strcmp0 (lease->holder, holder) == 0)
			lease->expires_ms = MIN (lease->expires_ms, now_ms);
	} else if (now_ms < self->hold_until_ms) {
		/* holding: only the holder the table knows may renew */
		if (lease != NULL && g_strcmp0 (lease->holder, holder) == 0)
			lease->expires_ms = now_ms + ttl_ms;
	} else if (lease == NULL || lease->holder == NULL || now_ms >= lease->expires_ms ||
		   strcmp (lease->holder, holder) == 0 ||
		   (take_from != NULL && strcmp (lease->holder, take_from) == 0 &&
		    lease->epoch == take_from_epoch)) {
		if (lease == NULL) {
			lease = g_new0 (Lease, 1);
			g_hash_table_insert (self->leases, g_strdup (cluster), lease);
		}
		if (g_strcmp0 (lease->holder, holder) != 0) {
			g_free (lease->holder);
			lease->holder = g_strdup (holder);
			lease->epoch = MAX (lease->epoch, self->first_epoch) + 1;
			self->max_epoch = MAX (self->max_epoch, lease->epoch);
		}
		lease->expires_ms = now_ms + ttl_ms;
	}

	if (out_holder != NULL)
		*out_holder = lease != NULL ? g_strdup (lease->holder) : NULL;
	if (out_epoch != NULL)
		*out_epoch = lease != NULL ? lease->epoch : 0;
	if (out_remaining_ms != NULL) {
		if (lease != NULL)
			*out_remaining_ms = MAX (0, lease->expires_ms - now_ms);
		else
			*out_remaining_ms = MAX (0, self->hold_until_ms - now_ms);
	}
}

/**
 * tandem_ha_lease_table_get_max_epoch:
 * @self: a lease table
 *
 * Returns: the highest epoch handed out, or the table's first epoch if none
 *   was (what a witness persists)
 */
guint64
tandem_ha_lease_table_get_max_epoch (TandemHaLeaseTable *self)
{
	g_return_val_if_fail (self != NULL, 0);
	return self->max_epoch;
}
