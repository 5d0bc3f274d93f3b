/* tandem-ha.c: the node's HA controller: machine, arbiter, channel, timers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-HA"

#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "tandem-error.h"
#include "tandem-ha-channel.h"
#include "tandem-ha-machine.h"
#include "tandem-ha.h"
#include "tandem-membership-private.h"
#include "tandem-plugin.h"

/*
 * The controller turns the world into inputs of the pure state machine
 * (tandem-ha-machine.c) and carries out its actions:
 *
 *  - membership: the heartbeat channel's peer-joined / peer-status /
 *    peer-left signals; this node's status goes out in every heartbeat;
 *  - the arbiter: lease requests run on a worker thread against the store
 *    (so that a slow database never stalls heartbeats), go to the witness as
 *    channel messages, or are decided locally (arbiter none);
 *  - time: one GSource whose ready time is the machine's next deadline;
 *  - switchover: tandem_ha_hand_over_async() steps the machine down and
 *    offers the lease to the passive (a "take-over" message), which takes
 *    it over (tandem_ha_machine_handover_offered()) or answers
 *    "take-over-refused" (the node's handover func decides).
 *
 * A witness runs no machine: it answers lease requests from its in-memory
 * lease table and persists the highest epoch it handed out.
 */

#define MIN_KEY_BYTES 16

struct _TandemHa {
	TandemHaConfig config;
	char *cluster;
	char *node_id;
	char *holder;
	gboolean witness;
	char *epoch_path;

	TandemMembership *membership;
	TandemHaChannel *channel;
	TandemStore *store;
	TandemHaPublishFunc publish;
	gpointer publish_data;

	TandemHaMachine *machine;
	TandemHaLeaseTable *table; /* witness */
	guint64 none_epoch;	   /* arbiter none: the highest epoch known */
	gint64 none_discovery_until_us; /* arbiter none: not before this after the start */

	GSource *timer;
	GCancellable *cancellable;
	gulong handlers[4];
	gboolean started;

	/* the lease as last heard from the arbiter, for status */
	char *lease_holder;
	guint64 lease_epoch;
	gint64 lease_expires_us; /* monotonic */

	/* the witness request in flight */
	guint witness_request;
	char *witness_id;
	gint64 publish_until_us;

	TandemHaRoleFunc role_func;
	gpointer role_data;

	/* sequence numbers this node reserved, and the highest a peer
	 * advertised: a node taking over continues above anything the old
	 * active may have used */
	guint64 seq_reserved;
	char *in_sync_passive;
	guint64 peer_seq_reserved;
	gboolean in_sync_with_active; /* the active said this node is in sync */

	/* switchover: on the active, the hand-over under way; on a passive,
	 * the node's check of an offer */
	GTask *handover_task;
	char *handover_to;
	guint64 handover_epoch;
	JsonObject *handover_extra;
	guint handover_timeout;
	TandemHaHandoverFunc handover_func;
	gpointer handover_data;
	char *last_offer; /* "HOLDER@EPOCH" of the last offer handled (it comes on every session) */
	char *handover_refusal; /* why handover_to refused the offer */
};

static const char *arbiter_names[] = { "store", "witness", "none" };

void
tandem_ha_config_init (TandemHaConfig *config)
{
	memset (config, 0, sizeof *config);
	config->arbiter = TANDEM_HA_ARBITER_STORE;
	config->lease_ttl_ms = 3000;
	config->durable_timeout_ms = 30000;
}

void
tandem_ha_config_clear (TandemHaConfig *config)
{
	g_clear_pointer (&config->key_file, g_free);
	g_clear_pointer (&config->arbiter_store, g_free);
	g_clear_pointer (&config->key_file_origin, g_free);
	g_clear_pointer (&config->arbiter_origin, g_free);
}

static gboolean
lookup (TandemConfigSection *section, GParamSpec *pspec, GValue *value, GString *errors)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GParamSpec) owned = g_param_spec_ref_sink (pspec);

	if (tandem_config_section_lookup (section, pspec, value, &error))
		return TRUE;
	g_string_append_printf (errors, "%s\n", error->message);
	return FALSE;
}

void
tandem_ha_config_parse (TandemHaConfig *config, TandemConfigSection *section, GString *errors)
{
	g_auto(GValue) key_file = G_VALUE_INIT;
	g_auto(GValue) arbiter = G_VALUE_INIT;
	g_auto(GValue) arbiter_store = G_VALUE_INIT;
	g_auto(GValue) allow = G_VALUE_INIT;
	g_auto(GValue) ttl = G_VALUE_INIT;
	g_auto(GValue) renew = G_VALUE_INIT;
	g_auto(GValue) margin = G_VALUE_INIT;
	g_auto(GValue) ack = G_VALUE_INIT;
	g_auto(GValue) durable_timeout = G_VALUE_INIT;

	if (lookup (section,
		    g_param_spec_uint ("durable_timeout_ms", NULL, NULL, 100, 3600000, 30000, G_PARAM_READWRITE),
		    &durable_timeout, errors))
		config->durable_timeout_ms = g_value_get_uint (&durable_timeout);
	if (lookup (section, g_param_spec_string ("key_file", NULL, NULL, NULL, G_PARAM_READWRITE), &key_file,
		    errors)) {
		g_free (config->key_file);
		config->key_file = g_value_dup_string (&key_file);
		g_free (config->key_file_origin);
		config->key_file_origin = tandem_config_section_describe_key (section, "key_file");
	}
	if (lookup (section, g_param_spec_string ("arbiter", NULL, NULL, "store", G_PARAM_READWRITE), &arbiter,
		    errors)) {
		const char *name = g_value_get_string (&arbiter);
		guint i;

		for (i = 0; i < G_N_ELEMENTS (arbiter_names); i++) {
			if (g_strcmp0 (name, arbiter_names[i]) == 0)
				break;
		}
		g_free (config->arbiter_origin);
		config->arbiter_origin = tandem_config_section_describe_key (section, "arbiter");
		if (i == G_N_ELEMENTS (arbiter_names))
			g_string_append_printf (errors, "%s: expected store, witness or none, got \"%s\"\n",
						config->arbiter_origin, name != NULL ? name : "");
		else
			config->arbiter = (TandemHaArbiter) i;
	}
	if (lookup (section, g_param_spec_string ("arbiter_store", NULL, NULL, NULL, G_PARAM_READWRITE),
		    &arbiter_store, errors)) {
		g_free (config->arbiter_store);
		config->arbiter_store = g_value_dup_string (&arbiter_store);
	}
	if (lookup (section, g_param_spec_boolean ("allow_split_brain", NULL, NULL, FALSE, G_PARAM_READWRITE),
		    &allow, errors))
		config->allow_split_brain = g_value_get_boolean (&allow);
	if (lookup (section,
		    g_param_spec_uint ("lease_ttl_ms", NULL, NULL, 300, 600000, 3000, G_PARAM_READWRITE), &ttl,
		    errors))
		config->lease_ttl_ms = g_value_get_uint (&ttl);
	if (lookup (section, g_param_spec_uint ("lease_renew_ms", NULL, NULL, 0, 600000, 0, G_PARAM_READWRITE),
		    &renew, errors))
		config->lease_renew_ms = g_value_get_uint (&renew);
	if (lookup (section, g_param_spec_uint ("fence_margin_ms", NULL, NULL, 0, 600000, 0, G_PARAM_READWRITE),
		    &margin, errors))
		config->fence_margin_ms = g_value_get_uint (&margin);
	if (lookup (section, g_param_spec_string ("ack", NULL, NULL, "replicated", G_PARAM_READWRITE), &ack, errors)) {
		const char *mode = g_value_get_string (&ack);

		if (g_strcmp0 (mode, "replicated") == 0 || g_strcmp0 (mode, "local") == 0 ||
		    g_strcmp0 (mode, "durable") == 0) {
			config->ack_local = g_strcmp0 (mode, "local") == 0;
			config->ack_durable = g_strcmp0 (mode, "durable") == 0;
		} else {
			g_autofree char *where = tandem_config_section_describe_key (section, "ack");

			g_string_append_printf (errors, "%s: expected replicated, durable or local, got \"%s\"\n",
						where, mode != NULL ? mode : "");
		}
	}
	{
		guint margin_ms = config->fence_margin_ms != 0 ? config->fence_margin_ms : config->lease_ttl_ms / 3;
		guint renew_ms = config->lease_renew_ms != 0 ? config->lease_renew_ms : config->lease_ttl_ms / 6;

		if (margin_ms * 2 > config->lease_ttl_ms) {
			g_autofree char *where = tandem_config_section_describe_key (section, "fence_margin_ms");

			g_string_append_printf (errors, "%s: expected at most half of lease_ttl_ms (%u), got %u\n",
						where, config->lease_ttl_ms, margin_ms);
		} else if (renew_ms * 2 > config->lease_ttl_ms - margin_ms) {
			/* an active renews at least twice within the time it may
			 * publish on one renewal, so that one slow answer does not
			 * fence it */
			g_autofree char *where = tandem_config_section_describe_key (section, "lease_renew_ms");

			g_string_append_printf (errors,
						"%s: expected at most half of lease_ttl_ms - fence_margin_ms (%u), got %u\n",
						where, (config->lease_ttl_ms - margin_ms) / 2, renew_ms);
		}
	}
}

GBytes *
tandem_ha_read_key_file (const char *path, GError **error)
{
	g_autofree char *contents = NULL;
	gsize length = 0;
	GStatBuf st;

	if (g_stat (path, &st) != 0) {
		int saved = errno;

		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG, "cannot read the cluster key %s: %s",
			     path, g_strerror (saved));
		return NULL;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INSECURE_FILE,
			     "the cluster key %s is readable or writable by group or others (mode %03o); "
			     "chmod 600 it",
			     path, (unsigned) (st.st_mode & 0777));
		return NULL;
	}
	if (!g_file_get_contents (path, &contents, &length, error)) {
		g_prefix_error (error, "cannot read the cluster key: ");
		return NULL;
	}
	/* a key written with echo ends with a newline; it is not part of it */
	while (length > 0 && (contents[length - 1] == '\n' || contents[length - 1] == '\r'))
		length--;
	if (length < MIN_KEY_BYTES) {
		g_set_error (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
			     "the cluster key %s is too short (%zu bytes, at least %d); make one with: "
			     "head -c 32 /dev/urandom | base64 > %s",
			     path, length, MIN_KEY_BYTES, path);
		return NULL;
	}
	return g_bytes_new (contents, length);
}

static gint64
now_ms (void)
{
	return g_get_monotonic_time () / 1000;
}

/* --- status gossip ---------------------------------------------------------- */

static const char *
current_state (TandemHa *self)
{
	if (self->witness)
		return "witness";
	if (self->machine == NULL)
		return "stopped";
	return tandem_ha_state_to_string (tandem_ha_machine_get_state (self->machine));
}

const char *
tandem_ha_get_state (TandemHa *self)
{
	return current_state (self);
}

static void
send_status (TandemHa *self)
{
	g_autoptr(JsonObject) status = json_object_new ();

	json_object_set_string_member (status, "state", current_state (self));
	json_object_set_string_member (status, "holder", self->holder);
	if (self->machine != NULL) {
		json_object_set_int_member (status, "epoch", (gint64) tandem_ha_machine_get_epoch (self->machine));
		if (tandem_ha_machine_get_lease_holder (self->machine) != NULL)
			json_object_set_string_member (status, "lease_holder",
						       tandem_ha_machine_get_lease_holder (self->machine));
	} else if (self->table != NULL) {
		json_object_set_int_member (status, "epoch",
					    (gint64) tandem_ha_lease_table_get_max_epoch (self->table));
	}
	if (self->seq_reserved != 0)
		json_object_set_int_member (status, "seq_reserved", (gint64) self->seq_reserved);
	if (self->in_sync_passive != NULL)
		json_object_set_string_member (status, "in_sync_passive", self->in_sync_passive);
	if (self->channel != NULL)
		tandem_ha_channel_set_status (self->channel, status);
}

void
tandem_ha_set_replication_status (TandemHa *self, guint64 seq_reserved, const char *in_sync_passive)
{
	if (seq_reserved == self->seq_reserved && g_strcmp0 (in_sync_passive, self->in_sync_passive) == 0)
		return;
	self->seq_reserved = seq_reserved;
	g_free (self->in_sync_passive);
	self->in_sync_passive = g_strdup (in_sync_passive);
	if (self->started)
		send_status (self);
}

/* Where a node taking over continues its sequence: right after what it
 * holds when the old active said it was in sync (the old active published
 * nothing else), else above everything the old active reserved (with a
 * margin for a reservation it had no time to advertise) */
guint64
tandem_ha_get_takeover_seq_floor (TandemHa *self)
{
	if (self->in_sync_with_active || self->peer_seq_reserved == 0)
		return 0;
	return self->peer_seq_reserved + 3 * TANDEM_HA_SEQUENCE_MARGIN;
}

/* --- the machine's actions --------------------------------------------------- */

static void feed_lease_result (TandemHa *self,
			       guint request_id,
			       gboolean ok,
			       const char *holder,
			       guint64 epoch,
			       gint64 remaining_ms,
			       const char *error_message);
static void reschedule (TandemHa *self);

typedef struct {
	TandemHa *self;
	guint request_id;
	char *cluster;
	char *holder;
	gint64 ttl_ms;
	char *take_from;
	guint64 take_from_epoch;
	TandemStore *store;
	/* results */
	TandemLease lease;
	GError *error;
} StoreRequest;

static void
store_request_free (StoreRequest *r)
{
	g_free (r->cluster);
	g_free (r->holder);
	g_free (r->take_from);
	g_clear_object (&r->store);
	tandem_lease_clear (&r->lease);
	g_clear_error (&r->error);
	g_free (r);
}

static void
store_request_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
	StoreRequest *r = data;

	(void) source;
	(void) cancellable;
	tandem_store_acquire_lease (r->store, r->cluster, r->holder, r->ttl_ms, r->take_from, r->take_from_epoch,
				    &r->lease, &r->error);
	g_task_return_boolean (task, TRUE);
}

static void
store_request_done (GObject *source, GAsyncResult *result, gpointer data)
{
	StoreRequest *r = g_task_get_task_data (G_TASK (result));

	(void) source;
	(void) data;
	if (g_task_had_error (G_TASK (result)) || g_cancellable_is_cancelled (g_task_get_cancellable (G_TASK (result))))
		return;
	if (r->error != NULL) {
		feed_lease_result (r->self, r->request_id, FALSE, NULL, 0, 0, r->error->message);
		return;
	}
	/* the expiry is by the database's clock: near enough to ours for status */
	feed_lease_result (r->self, r->request_id, TRUE, r->lease.holder, r->lease.epoch,
			   MAX (0, r->lease.expires_ms - g_get_real_time () / 1000), NULL);
}

static void
acquire_from_store (TandemHa *self, const TandemHaAction *action)
{
	StoreRequest *r = g_new0 (StoreRequest, 1);
	g_autoptr(GTask) task = g_task_new (NULL, self->cancellable, store_request_done, NULL);

	r->self = self;
	r->request_id = action->request_id;
	r->cluster = g_strdup (self->cluster);
	r->holder = g_strdup (self->holder);
	r->ttl_ms = action->ttl_ms;
	r->take_from = g_strdup (action->take_from);
	r->take_from_epoch = action->take_from_epoch;
	r->store = g_object_ref (self->store);
	g_task_set_task_data (task, r, (GDestroyNotify) store_request_free);
	g_task_run_in_thread (task, store_request_thread);
}

/* The connected witness, or NULL */
static char *
find_witness (TandemHa *self)
{
	g_autoptr(GPtrArray) peers = tandem_ha_channel_dup_peers (self->channel);

	for (guint i = 0; i < peers->len; i++) {
		TandemHaPeer *peer = g_ptr_array_index (peers, i);

		if (g_strcmp0 (peer->role, "witness") == 0)
			return g_strdup (peer->node_id);
	}
	return NULL;
}

static void
acquire_from_witness (TandemHa *self, const TandemHaAction *action)
{
	g_autofree char *witness = find_witness (self);
	g_autoptr(JsonObject) body = NULL;
	g_autoptr(GError) error = NULL;

	if (witness == NULL) {
		feed_lease_result (self, action->request_id, FALSE, NULL, 0, 0, "no witness is connected");
		return;
	}
	body = json_object_new ();
	json_object_set_int_member (body, "request", action->request_id);
	json_object_set_string_member (body, "cluster", self->cluster);
	json_object_set_string_member (body, "holder", self->holder);
	json_object_set_int_member (body, "ttl_ms", action->ttl_ms);
	if (action->take_from != NULL) {
		json_object_set_string_member (body, "take_from", action->take_from);
		json_object_set_int_member (body, "take_from_epoch", (gint64) action->take_from_epoch);
	}
	if (!tandem_ha_channel_send (self->channel, witness, "lease-acquire", body, &error)) {
		feed_lease_result (self, action->request_id, FALSE, NULL, 0, 0, error->message);
		return;
	}
	self->witness_request = action->request_id;
	g_free (self->witness_id);
	self->witness_id = g_steal_pointer (&witness);
}

static void
save_epoch (TandemHa *self, guint64 epoch)
{
	g_autofree char *text = g_strdup_printf ("%" G_GUINT64_FORMAT "\n", epoch);
	g_autoptr(GError) error = NULL;

	if (!g_file_set_contents_full (self->epoch_path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT |
				       G_FILE_SET_CONTENTS_DURABLE, 0600, &error))
		g_warning ("Cannot keep the highest epoch in %s: %s", self->epoch_path, error->message);
}

static guint64
load_epoch (const char *path)
{
	g_autofree char *text = NULL;
	guint64 epoch = 0;

	if (g_file_get_contents (path, &text, NULL, NULL))
		g_ascii_string_to_unsigned (g_strstrip (text), 10, 0, G_MAXUINT64, &epoch, NULL);
	return epoch;
}

/* Arbiter none: the lease is whatever the live members say.  A member that
 * claims to be active keeps it; otherwise whoever asks takes it, with an
 * epoch above any seen.  Two members cut off from each other both take it:
 * that is the split brain this arbiter is refused for unless acknowledged.
 *
 * A node that has just started has heard from nobody yet: it takes the
 * lease only after one heartbeat timeout, by when a member that is up has
 * connected and said whether it is active.  (Without that wait a node
 * restarted beside the active took the lease at once, with a higher epoch:
 * the active fenced itself and copied the new node's empty state.) */
static void
acquire_locally (TandemHa *self, const TandemHaAction *action)
{
	g_autoptr(GPtrArray) peers = tandem_ha_channel_dup_peers (self->channel);
	const char *mine = tandem_ha_machine_get_lease_holder (self->machine);

	for (guint i = 0; i < peers->len; i++) {
		TandemHaPeer *peer = g_ptr_array_index (peers, i);
		const char *state;
		const char *holder;
		guint64 epoch;

		if (peer->status == NULL)
			continue;
		state = json_object_get_string_member_with_default (peer->status, "state", "");
		holder = json_object_get_string_member_with_default (peer->status, "holder", NULL);
		epoch = (guint64) json_object_get_int_member_with_default (peer->status, "epoch", 0);
		self->none_epoch = MAX (self->none_epoch, epoch);
		if (g_strcmp0 (state, "active") == 0 && holder != NULL &&
		    g_strcmp0 (holder, action->take_from) != 0) {
			feed_lease_result (self, action->request_id, TRUE, holder, epoch, -1, NULL);
			return;
		}
	}
	if (action->ttl_ms == 0)
		return;
	if (g_strcmp0 (mine, self->holder) != 0 && g_get_monotonic_time () < self->none_discovery_until_us) {
		/* free, but not for this node yet: it asks again at its next poll */
		feed_lease_result (self, action->request_id, TRUE, NULL, self->none_epoch, -1, NULL);
		return;
	}
	if (g_strcmp0 (mine, self->holder) != 0 || self->none_epoch == 0) {
		self->none_epoch++;
		save_epoch (self, self->none_epoch);
	}
	feed_lease_result (self, action->request_id, TRUE, self->holder, self->none_epoch, action->ttl_ms, NULL);
}

static void handover_done (TandemHa *self, guint64 epoch, GError *error);

/* Switchover: offers the lease to the node it is handed to (or to every
 * node, if none was named): a "take-over" message with the holder string
 * and epoch to take it over from, and the members the node added */
static void
send_handover (TandemHa *self, const TandemHaAction *action)
{
	g_autoptr(JsonObject) body = json_object_new ();
	g_autoptr(GPtrArray) peers = tandem_ha_channel_dup_peers (self->channel);
	gboolean sent = FALSE;

	if (self->handover_extra != NULL) {
		g_autoptr(GList) members = json_object_get_members (self->handover_extra);

		for (GList *l = members; l != NULL; l = l->next)
			json_object_set_member (body, l->data,
						json_node_copy (json_object_get_member (self->handover_extra, l->data)));
	}
	json_object_set_string_member (body, "holder", action->take_from);
	json_object_set_int_member (body, "epoch", (gint64) action->take_from_epoch);
	for (guint i = 0; i < peers->len; i++) {
		TandemHaPeer *peer = g_ptr_array_index (peers, i);
		g_autoptr(GError) error = NULL;

		if (g_strcmp0 (peer->role, "witness") == 0 ||
		    (self->handover_to != NULL && g_strcmp0 (peer->node_id, self->handover_to) != 0))
			continue;
		if (tandem_ha_channel_send (self->channel, peer->node_id, "take-over", body, &error))
			sent = TRUE;
		else
			g_warning ("Switchover: cannot offer the lease to %s: %s", peer->node_id, error->message);
	}
	if (sent)
		g_message ("Switchover: offered the lease (epoch %" G_GUINT64_FORMAT ") to %s", action->take_from_epoch,
			   self->handover_to != NULL ? self->handover_to : "the other node");
	else
		g_warning ("Switchover: %s is not connected: nobody was offered the lease; this node takes it back "
			   "in %u ms unless another node takes it",
			   self->handover_to != NULL ? self->handover_to : "the other node", self->config.lease_ttl_ms);
}

static void
apply_actions (TandemHa *self, GArray *actions)
{
	for (guint i = 0; i < actions->len; i++) {
		TandemHaAction *action = &g_array_index (actions, TandemHaAction, i);

		switch (action->type) {
		case TANDEM_HA_ACTION_ACQUIRE_LEASE:
			if (self->config.arbiter == TANDEM_HA_ARBITER_STORE)
				acquire_from_store (self, action);
			else if (self->config.arbiter == TANDEM_HA_ARBITER_WITNESS)
				acquire_from_witness (self, action);
			else
				acquire_locally (self, action);
			break;
		case TANDEM_HA_ACTION_RELEASE_LEASE:
			/* done by tandem_ha_stop(), which may block briefly */
			break;
		case TANDEM_HA_ACTION_SET_PUBLISH:
			self->publish_until_us = action->publish ? action->publish_until_ms * 1000 : 0;
			self->publish (self->publish_until_us, self->publish_data);
			break;
		case TANDEM_HA_ACTION_TRANSITION:
			g_message ("%s", action->message);
			send_status (self);
			if (self->role_func != NULL) {
				const char *holder = tandem_ha_machine_get_lease_holder (self->machine);
				g_autofree char *active = holder != NULL ? tandem_ha_holder_node_id (holder) : NULL;

				self->role_func (tandem_ha_state_to_string (action->to),
						 tandem_ha_machine_get_epoch (self->machine),
						 g_strcmp0 (active, self->node_id) != 0 ? active : NULL, self->role_data);
			}
			if (self->handover_task != NULL) {
				const char *holder = tandem_ha_machine_get_lease_holder (self->machine);
				g_autofree char *active = holder != NULL ? tandem_ha_holder_node_id (holder) : NULL;
				guint64 epoch = tandem_ha_machine_get_epoch (self->machine);

				if (action->to == TANDEM_HA_STATE_ACTIVE)
					handover_done (self, 0,
						       g_error_new (TANDEM_ERROR, TANDEM_ERROR_BUSY,
								    "%s did not take the lease over%s%s: this node is "
								    "active again (epoch %" G_GUINT64_FORMAT ")",
								    self->handover_to,
								    self->handover_refusal != NULL ? ": " : "",
								    self->handover_refusal != NULL ? self->handover_refusal : "",
								    epoch));
				else if ((action->to == TANDEM_HA_STATE_SYNCING ||
					  action->to == TANDEM_HA_STATE_PASSIVE) &&
					 g_strcmp0 (active, self->handover_to) == 0)
					handover_done (self, epoch, NULL);
				else if (action->to != TANDEM_HA_STATE_STARTING)
					handover_done (self, 0,
						       g_error_new (TANDEM_ERROR, TANDEM_ERROR_BUSY,
								    "the switchover ended with this node %s",
								    tandem_ha_state_to_string (action->to)));
			}
			break;
		case TANDEM_HA_ACTION_HAND_OVER:
			send_handover (self, action);
			break;
		case TANDEM_HA_ACTION_WARN:
		default:
			g_warning ("%s", action->message);
			break;
		}
	}
}

static void
feed_lease_result (TandemHa *self,
		   guint request_id,
		   gboolean ok,
		   const char *holder,
		   guint64 epoch,
		   gint64 remaining_ms,
		   const char *error_message)
{
	g_autoptr(GArray) actions = tandem_ha_actions_new ();
	TandemHaLeaseResult result = {
		.request_id = request_id,
		.status = ok ? TANDEM_HA_LEASE_OK : TANDEM_HA_LEASE_ERROR,
		.holder = holder,
		.epoch = epoch,
		.remaining_ms = remaining_ms,
		.error_message = error_message,
	};

	if (self->machine == NULL)
		return;
	if (ok) {
		g_free (self->lease_holder);
		self->lease_holder = g_strdup (holder);
		self->lease_epoch = epoch;
		self->lease_expires_us = remaining_ms >= 0 ? g_get_monotonic_time () + remaining_ms * 1000 : 0;
	}
	tandem_ha_machine_lease_result (self->machine, now_ms (), &result, actions);
	apply_actions (self, actions);
	reschedule (self);
}

/* --- time ------------------------------------------------------------------ */

static gboolean
timer_dispatch (GSource *source, GSourceFunc callback, gpointer data)
{
	(void) source;
	return callback (data);
}

static GSourceFuncs timer_funcs = { NULL, NULL, timer_dispatch, NULL, NULL, NULL };

static gboolean
on_timer (gpointer data)
{
	TandemHa *self = data;
	g_autoptr(GArray) actions = tandem_ha_actions_new ();

	g_source_set_ready_time (self->timer, -1);
	if (self->machine == NULL)
		return G_SOURCE_CONTINUE;
	tandem_ha_machine_tick (self->machine, now_ms (), actions);
	apply_actions (self, actions);
	reschedule (self);
	return G_SOURCE_CONTINUE;
}

static void
reschedule (TandemHa *self)
{
	gint64 deadline;

	if (self->machine == NULL || self->timer == NULL)
		return;
	deadline = tandem_ha_machine_get_next_deadline (self->machine);
	if (deadline == G_MAXINT64)
		g_source_set_ready_time (self->timer, -1);
	else
		g_source_set_ready_time (self->timer, MAX (deadline, 0) * 1000);
}

/* --- membership ------------------------------------------------------------ */

static void
on_peer_joined (TandemHaChannel *channel, const char *node_id, const char *address, const char *role, gpointer data)
{
	TandemHa *self = data;
	g_autoptr(GArray) actions = tandem_ha_actions_new ();

	(void) channel;
	(void) address;
	if (self->machine == NULL || g_strcmp0 (role, "witness") == 0)
		return;
	tandem_ha_machine_peer_up (self->machine, now_ms (), node_id, actions);
	apply_actions (self, actions);
	reschedule (self);
}

static void
on_peer_status (TandemHaChannel *channel, const char *node_id, JsonObject *status, gpointer data)
{
	TandemHa *self = data;
	g_autoptr(GArray) actions = tandem_ha_actions_new ();
	TandemHaState state;

	(void) channel;
	if (self->machine == NULL || status == NULL)
		return;
	self->peer_seq_reserved =
		MAX (self->peer_seq_reserved,
		     (guint64) json_object_get_int_member_with_default (status, "seq_reserved", 0));
	if (g_strcmp0 (json_object_get_string_member_with_default (status, "state", ""), "active") == 0)
		self->in_sync_with_active =
			g_strcmp0 (json_object_get_string_member_with_default (status, "in_sync_passive", NULL),
				   self->node_id) == 0;
	if (!tandem_ha_state_from_string (json_object_get_string_member_with_default (status, "state", ""), &state))
		return;
	tandem_ha_machine_peer_status (self->machine, now_ms (), node_id, state,
				       (guint64) json_object_get_int_member_with_default (status, "epoch", 0),
				       actions);
	apply_actions (self, actions);
	reschedule (self);
	/* switchover: the node the lease was handed to says it is active */
	if (self->handover_task != NULL && g_strcmp0 (node_id, self->handover_to) == 0 &&
	    state == TANDEM_HA_STATE_ACTIVE &&
	    (guint64) json_object_get_int_member_with_default (status, "epoch", 0) > self->handover_epoch)
		handover_done (self, (guint64) json_object_get_int_member_with_default (status, "epoch", 0), NULL);
}

static void
on_peer_left (TandemHaChannel *channel, const char *node_id, const char *reason, gboolean died, gpointer data)
{
	TandemHa *self = data;
	g_autoptr(GArray) actions = tandem_ha_actions_new ();

	(void) channel;
	if (self->machine == NULL)
		return;
	if (self->witness_request != 0 && g_strcmp0 (node_id, self->witness_id) == 0) {
		guint request = self->witness_request;

		self->witness_request = 0;
		feed_lease_result (self, request, FALSE, NULL, 0, 0, "the witness left before answering");
	}
	tandem_ha_machine_peer_down (self->machine, now_ms (), node_id, died, reason, actions);
	apply_actions (self, actions);
	reschedule (self);
}

/* Switchover, on a passive: tells the node that offered its lease why this
 * one does not take it */
static void
refuse_offer (TandemHa *self, const char *node_id, JsonObject *offer, const char *reason)
{
	g_autoptr(JsonObject) body = json_object_new ();

	g_message ("Switchover: %s offers its lease (epoch %" G_GINT64_FORMAT "), not taking it: %s", node_id,
		   json_object_get_int_member_with_default (offer, "epoch", 0), reason);
	json_object_set_string_member (body, "holder", json_object_get_string_member_with_default (offer, "holder", ""));
	json_object_set_int_member (body, "epoch", json_object_get_int_member_with_default (offer, "epoch", 0));
	json_object_set_string_member (body, "reason", reason);
	tandem_ha_channel_send (self->channel, node_id, "take-over-refused", body, NULL);
}

/* A witness answers lease requests; a node reads the answers. */
static void
on_message (TandemHaChannel *channel, const char *node_id, const char *type, JsonObject *body, gpointer data)
{
	TandemHa *self = data;

	if (self->witness && g_strcmp0 (type, "lease-acquire") == 0) {
		g_autoptr(JsonObject) reply = json_object_new ();
		g_autoptr(GError) error = NULL;
		g_autofree char *holder = NULL;
		const char *cluster = json_object_get_string_member_with_default (body, "cluster", "");
		const char *asking = json_object_get_string_member_with_default (body, "holder", NULL);
		gint64 ttl = json_object_get_int_member_with_default (body, "ttl_ms", -1);
		guint64 before = tandem_ha_lease_table_get_max_epoch (self->table);
		guint64 epoch = 0;
		gint64 remaining = 0;

		json_object_set_int_member (reply, "request", json_object_get_int_member_with_default (body, "request", 0));
		if (asking == NULL || ttl < 0 || ttl > 600000 || g_strcmp0 (cluster, self->cluster) != 0) {
			json_object_set_string_member (reply, "error", "malformed lease request");
		} else {
			tandem_ha_lease_table_acquire (self->table, now_ms (), cluster, asking, ttl,
						       json_object_get_string_member_with_default (body, "take_from", NULL),
						       (guint64) json_object_get_int_member_with_default (body, "take_from_epoch", 0),
						       &holder, &epoch, &remaining);
			if (tandem_ha_lease_table_get_max_epoch (self->table) != before) {
				save_epoch (self, tandem_ha_lease_table_get_max_epoch (self->table));
				g_message ("Witness: lease of cluster %s granted to %s (epoch %" G_GUINT64_FORMAT ")",
					   cluster, holder, epoch);
				send_status (self);
			}
			if (holder != NULL)
				json_object_set_string_member (reply, "holder", holder);
			json_object_set_int_member (reply, "epoch", (gint64) epoch);
			json_object_set_int_member (reply, "remaining_ms", remaining);
		}
		if (!tandem_ha_channel_send (channel, node_id, "lease-result", reply, &error))
			g_debug ("cannot answer %s: %s", node_id, error->message);
		return;
	}
	if (!self->witness && g_strcmp0 (type, "lease-result") == 0) {
		guint request = (guint) json_object_get_int_member_with_default (body, "request", 0);
		const char *problem = json_object_get_string_member_with_default (body, "error", NULL);

		if (request == 0 || request != self->witness_request || g_strcmp0 (node_id, self->witness_id) != 0)
			return;
		self->witness_request = 0;
		if (problem != NULL)
			feed_lease_result (self, request, FALSE, NULL, 0, 0, problem);
		else
			feed_lease_result (self, request, TRUE,
					   json_object_get_string_member_with_default (body, "holder", NULL),
					   (guint64) json_object_get_int_member_with_default (body, "epoch", 0),
					   json_object_get_int_member_with_default (body, "remaining_ms", 0), NULL);
		return;
	}
	if (!self->witness && self->machine != NULL && g_strcmp0 (type, "take-over") == 0) {
		g_autoptr(GArray) actions = tandem_ha_actions_new ();
		const char *holder = json_object_get_string_member_with_default (body, "holder", NULL);
		guint64 epoch = (guint64) json_object_get_int_member_with_default (body, "epoch", 0);
		g_autofree char *offer = g_strdup_printf ("%s@%" G_GUINT64_FORMAT, holder, epoch);

		if (g_strcmp0 (offer, self->last_offer) == 0)
			return;
		g_free (self->last_offer);
		self->last_offer = g_steal_pointer (&offer);
		if (tandem_ha_machine_get_state (self->machine) != TANDEM_HA_STATE_PASSIVE) {
			g_autofree char *reason = g_strdup_printf ("%s is %s, not passive", self->node_id,
								   current_state (self));

			refuse_offer (self, node_id, body, reason);
			return;
		}
		if (self->handover_func != NULL) {
			g_autofree char *reason = NULL;

			if (!self->handover_func (node_id, body, &reason, self->handover_data)) {
				refuse_offer (self, node_id, body, reason != NULL ? reason : "refused");
				return;
			}
		}
		g_message ("Switchover: %s offers its lease (epoch %" G_GUINT64_FORMAT "): taking it over", node_id,
			   epoch);
		tandem_ha_machine_handover_offered (self->machine, now_ms (), node_id, holder, epoch, actions);
		apply_actions (self, actions);
		reschedule (self);
		return;
	}
	if (!self->witness && self->machine != NULL && g_strcmp0 (type, "take-over-refused") == 0) {
		g_autoptr(GArray) actions = tandem_ha_actions_new ();
		const char *reason = json_object_get_string_member_with_default (body, "reason", "refused");

		if (self->handover_task == NULL || g_strcmp0 (node_id, self->handover_to) != 0 ||
		    self->handover_refusal != NULL || !tandem_ha_machine_is_stepping_down (self->machine))
			return;
		g_message ("Switchover: %s refused the lease: %s; taking it back", node_id, reason);
		g_free (self->handover_refusal);
		self->handover_refusal = g_strdup (reason);
		tandem_ha_machine_handover_refused (self->machine, now_ms (), node_id, actions);
		apply_actions (self, actions);
		reschedule (self);
	}
}

/* --- life cycle ------------------------------------------------------------ */

TandemHa *
tandem_ha_new (const TandemHaConfig *config,
	       const char *cluster,
	       const char *node_id,
	       guint64 incarnation,
	       TandemMembership *membership,
	       TandemStore *store,
	       gboolean witness,
	       const char *state_dir,
	       TandemHaPublishFunc publish,
	       gpointer publish_data,
	       GError **error)
{
	TandemHa *self;

	if (!witness && config->arbiter == TANDEM_HA_ARBITER_STORE && store == NULL) {
		g_set_error_literal (error, TANDEM_ERROR, TANDEM_ERROR_INVALID_CONFIG,
				     "arbiter = store needs a [store.NAME] section that keeps the lease");
		return NULL;
	}
	self = g_new0 (TandemHa, 1);
	self->config = *config;
	self->config.key_file = g_strdup (config->key_file);
	self->config.arbiter_store = g_strdup (config->arbiter_store);
	self->config.key_file_origin = g_strdup (config->key_file_origin);
	self->config.arbiter_origin = g_strdup (config->arbiter_origin);
	self->cluster = g_strdup (cluster);
	self->node_id = g_strdup (node_id);
	self->holder = g_strdup_printf ("%s#%" G_GUINT64_FORMAT, node_id, incarnation);
	self->witness = witness;
	self->membership = g_object_ref (membership);
	self->store = store != NULL ? g_object_ref (store) : NULL;
	self->publish = publish;
	self->publish_data = publish_data;
	self->epoch_path = g_build_filename (state_dir, witness ? "witness-epoch" : "ha-epoch", NULL);
	self->cancellable = g_cancellable_new ();
	if (witness) {
		self->table = tandem_ha_lease_table_new (load_epoch (self->epoch_path));
	} else {
		TandemHaMachineConfig machine_config;

		tandem_ha_machine_config_init (&machine_config);
		machine_config.lease_ttl_ms = config->lease_ttl_ms;
		machine_config.lease_renew_ms = config->lease_renew_ms != 0 ? config->lease_renew_ms
									      : config->lease_ttl_ms / 6;
		machine_config.fence_margin_ms = config->fence_margin_ms != 0 ? config->fence_margin_ms
										: config->lease_ttl_ms / 3;
		/* a node that finds another active copies its state first */
		machine_config.state_sync = TRUE;
		self->machine = tandem_ha_machine_new (node_id, self->holder, &machine_config);
		if (config->arbiter == TANDEM_HA_ARBITER_NONE)
			self->none_epoch = load_epoch (self->epoch_path);
	}
	return self;
}

void
tandem_ha_sync_done (TandemHa *self)
{
	g_autoptr(GArray) actions = tandem_ha_actions_new ();

	if (self->machine == NULL || !self->started)
		return;
	tandem_ha_machine_sync_done (self->machine, now_ms (), actions);
	apply_actions (self, actions);
	reschedule (self);
}

void
tandem_ha_set_role_func (TandemHa *self, TandemHaRoleFunc func, gpointer user_data)
{
	self->role_func = func;
	self->role_data = user_data;
}

void
tandem_ha_start (TandemHa *self)
{
	g_autoptr(GArray) actions = tandem_ha_actions_new ();

	self->channel = g_object_ref (tandem_membership_get_channel (self->membership));
	self->handlers[0] = g_signal_connect (self->channel, "peer-joined", G_CALLBACK (on_peer_joined), self);
	self->handlers[1] = g_signal_connect (self->channel, "peer-status", G_CALLBACK (on_peer_status), self);
	self->handlers[2] = g_signal_connect (self->channel, "peer-left", G_CALLBACK (on_peer_left), self);
	self->handlers[3] = g_signal_connect (self->channel, "message", G_CALLBACK (on_message), self);
	self->started = TRUE;
	if (self->witness) {
		/* leases granted before a restart may still run */
		tandem_ha_lease_table_hold_until (self->table, now_ms () + self->config.lease_ttl_ms);
		g_message ("Witness of cluster %s started: it votes on the lease and holds no data "
			   "(highest epoch so far %" G_GUINT64_FORMAT ")",
			   self->cluster, tandem_ha_lease_table_get_max_epoch (self->table));
		send_status (self);
		return;
	}
	if (self->config.arbiter == TANDEM_HA_ARBITER_NONE) {
		g_warning ("HA runs without an arbiter (arbiter = none): after a network split both nodes "
			   "may become active; use arbiter = store or witness in production");
		self->none_discovery_until_us =
			g_get_monotonic_time () + (gint64) tandem_ha_channel_get_timeout_ms (self->channel) * 1000;
	}
	self->timer = g_source_new (&timer_funcs, sizeof (GSource));
	g_source_set_callback (self->timer, on_timer, self, NULL);
	g_source_set_priority (self->timer, G_PRIORITY_HIGH);
	g_source_set_name (self->timer, "tandem-ha-timer");
	g_source_attach (self->timer, NULL);
	tandem_ha_machine_start (self->machine, now_ms (), actions);
	apply_actions (self, actions);
	reschedule (self);
}

/* --- switchover ------------------------------------------------------------ */

static void
handover_done (TandemHa *self, guint64 epoch, GError *error)
{
	GTask *task = g_steal_pointer (&self->handover_task);

	if (task == NULL) {
		g_clear_error (&error);
		return;
	}
	g_clear_pointer (&self->handover_to, g_free);
	g_clear_pointer (&self->handover_extra, json_object_unref);
	g_clear_pointer (&self->handover_refusal, g_free);
	if (self->handover_timeout != 0) {
		g_source_remove (self->handover_timeout);
		self->handover_timeout = 0;
	}
	if (error != NULL) {
		g_task_return_error (task, error);
	} else {
		guint64 *result = g_new (guint64, 1);

		*result = epoch;
		g_task_return_pointer (task, result, g_free);
	}
	g_object_unref (task);
}

static gboolean
on_handover_timeout (gpointer data)
{
	TandemHa *self = data;

	self->handover_timeout = 0;
	handover_done (self, 0,
		       g_error_new (TANDEM_ERROR, TANDEM_ERROR_TIMED_OUT,
				    "%s did not take the lease over and this node did not take it back within %u ms "
				    "(state %s)",
				    self->handover_to, self->config.lease_ttl_ms + 1000, current_state (self)));
	return G_SOURCE_REMOVE;
}

void
tandem_ha_hand_over_async (TandemHa *self,
			   const char *to_node,
			   JsonObject *extra,
			   GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
	g_autoptr(GArray) actions = tandem_ha_actions_new ();
	g_autofree char *reason = g_strdup_printf ("switchover to %s", to_node != NULL ? to_node : "the other node");
	guint64 epoch;

	g_task_set_source_tag (task, tandem_ha_hand_over_async);
	if (self->machine == NULL || !self->started) {
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
					 "this member does not run the HA state machine");
		return;
	}
	if (self->handover_task != NULL) {
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED,
					 "a switchover to %s is already under way", self->handover_to);
		return;
	}
	epoch = tandem_ha_machine_get_epoch (self->machine);
	/* set first: the HAND_OVER action goes to handover_to, with the extra members */
	self->handover_task = g_object_ref (task);
	self->handover_to = g_strdup (to_node);
	self->handover_epoch = epoch;
	self->handover_extra = extra != NULL ? json_object_ref (extra) : NULL;
	if (!tandem_ha_machine_step_down (self->machine, now_ms (), reason, actions)) {
		g_autofree char *state = g_strdup (current_state (self));

		g_object_unref (g_steal_pointer (&self->handover_task));
		g_clear_pointer (&self->handover_to, g_free);
		g_clear_pointer (&self->handover_extra, json_object_unref);
		apply_actions (self, actions);
		reschedule (self);
		g_task_return_new_error (task, TANDEM_ERROR, TANDEM_ERROR_NOT_SUPPORTED, "this node is %s, not active",
					 state);
		return;
	}
	/* the offered holder string is never used again: see
	 * tandem_ha_machine_step_down() */
	g_free (self->holder);
	self->holder = g_strdup (tandem_ha_machine_get_holder (self->machine));
	self->handover_timeout = g_timeout_add (self->config.lease_ttl_ms + 1000, on_handover_timeout, self);
	apply_actions (self, actions);
	reschedule (self);
}

gboolean
tandem_ha_hand_over_finish (TandemHa *self, GAsyncResult *result, guint64 *epoch, GError **error)
{
	g_autofree guint64 *value = NULL;

	(void) self;
	g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
	value = g_task_propagate_pointer (G_TASK (result), error);
	if (value == NULL)
		return FALSE;
	if (epoch != NULL)
		*epoch = *value;
	return TRUE;
}

void
tandem_ha_set_handover_func (TandemHa *self, TandemHaHandoverFunc func, gpointer user_data)
{
	self->handover_func = func;
	self->handover_data = user_data;
}

gboolean
tandem_ha_is_handing_over (TandemHa *self)
{
	return self->handover_task != NULL;
}

void
tandem_ha_stop (TandemHa *self, const char *reason)
{
	g_autoptr(GArray) actions = tandem_ha_actions_new ();
	gboolean release = FALSE;

	if (!self->started)
		return;
	handover_done (self, 0, g_error_new (TANDEM_ERROR, TANDEM_ERROR_BUSY, "the node is stopping"));
	self->started = FALSE;
	if (self->machine != NULL) {
		tandem_ha_machine_stop (self->machine, now_ms (), reason, actions);
		for (guint i = 0; i < actions->len; i++) {
			if (g_array_index (actions, TandemHaAction, i).type == TANDEM_HA_ACTION_RELEASE_LEASE)
				release = TRUE;
		}
		apply_actions (self, actions);
	}
	g_cancellable_cancel (self->cancellable);
	if (release && self->config.arbiter == TANDEM_HA_ARBITER_STORE) {
		TandemLease lease = { 0 };
		g_autoptr(GError) error = NULL;

		if (!tandem_store_acquire_lease (self->store, self->cluster, self->holder, 0, NULL, 0, &lease, &error))
			g_warning ("Could not release the lease (the other node takes over when it expires): %s",
				   error->message);
		tandem_lease_clear (&lease);
	} else if (release && self->config.arbiter == TANDEM_HA_ARBITER_WITNESS) {
		g_autofree char *witness = find_witness (self);
		g_autoptr(JsonObject) body = json_object_new ();

		json_object_set_int_member (body, "request", G_MAXINT32);
		json_object_set_string_member (body, "cluster", self->cluster);
		json_object_set_string_member (body, "holder", self->holder);
		json_object_set_int_member (body, "ttl_ms", 0);
		if (witness != NULL)
			tandem_ha_channel_send (self->channel, witness, "lease-acquire", body, NULL);
	}
	send_status (self);
	if (self->timer != NULL) {
		g_source_destroy (self->timer);
		g_clear_pointer (&self->timer, g_source_unref);
	}
	for (guint i = 0; i < G_N_ELEMENTS (self->handlers); i++) {
		if (self->handlers[i] != 0)
			g_signal_handler_disconnect (self->channel, self->handlers[i]);
		self->handlers[i] = 0;
	}
}

void
tandem_ha_free (TandemHa *self)
{
	if (self == NULL)
		return;
	if (self->started)
		tandem_ha_stop (self, "shutting down");
	g_clear_object (&self->cancellable);
	g_clear_object (&self->channel);
	g_clear_object (&self->membership);
	g_clear_object (&self->store);
	g_clear_pointer (&self->machine, tandem_ha_machine_free);
	g_clear_pointer (&self->table, tandem_ha_lease_table_free);
	tandem_ha_config_clear (&self->config);
	g_free (self->cluster);
	g_free (self->node_id);
	g_free (self->holder);
	g_free (self->epoch_path);
	g_free (self->lease_holder);
	g_free (self->witness_id);
	g_free (self->last_offer);
	g_free (self);
}

char *
tandem_ha_dup_active_description (TandemHa *self)
{
	g_autofree char *node = NULL;
	const char *holder;

	if (self->machine == NULL)
		return NULL;
	holder = tandem_ha_machine_get_lease_holder (self->machine);
	if (holder == NULL)
		return NULL;
	node = tandem_ha_holder_node_id (holder);
	return g_strdup_printf ("%s (epoch %" G_GUINT64_FORMAT ")", node, tandem_ha_machine_get_epoch (self->machine));
}

void
tandem_ha_add_status (TandemHa *self, JsonBuilder *builder)
{
	const char *state = current_state (self);
	g_autoptr(GPtrArray) peers = NULL;
	gint64 now = g_get_monotonic_time ();

	json_builder_set_member_name (builder, "state");
	json_builder_add_string_value (builder, state);
	json_builder_set_member_name (builder, "role");
	json_builder_add_string_value (builder, g_strcmp0 (state, "active") == 0	? "active"
						: g_strcmp0 (state, "witness") == 0 ? "witness"
										    : "passive");
	json_builder_set_member_name (builder, "epoch");
	json_builder_add_int_value (builder, self->machine != NULL ? (gint64) tandem_ha_machine_get_epoch (self->machine)
								   : (gint64) tandem_ha_lease_table_get_max_epoch (self->table));
	json_builder_set_member_name (builder, "holder");
	json_builder_add_string_value (builder, self->holder);
	json_builder_set_member_name (builder, "arbiter");
	json_builder_add_string_value (builder, self->witness ? "witness" : arbiter_names[self->config.arbiter]);
	json_builder_set_member_name (builder, "publishing");
	json_builder_add_boolean_value (builder, self->publish_until_us > now);

	json_builder_set_member_name (builder, "members");
	json_builder_begin_array (builder);
	if (self->channel != NULL)
		peers = tandem_ha_channel_dup_peers (self->channel);
	for (guint i = 0; peers != NULL && i < peers->len; i++) {
		TandemHaPeer *peer = g_ptr_array_index (peers, i);
		const char *peer_state =
			peer->status != NULL ? json_object_get_string_member_with_default (peer->status, "state", NULL)
					     : NULL;

		json_builder_begin_object (builder);
		json_builder_set_member_name (builder, "node_id");
		json_builder_add_string_value (builder, peer->node_id);
		json_builder_set_member_name (builder, "address");
		json_builder_add_string_value (builder, peer->address);
		json_builder_set_member_name (builder, "role");
		json_builder_add_string_value (builder, g_strcmp0 (peer->role, "witness") == 0 ? "witness"
							 : g_strcmp0 (peer_state, "active") == 0 ? "active"
												  : "passive");
		json_builder_set_member_name (builder, "state");
		json_builder_add_string_value (builder, peer_state);
		if (peer->status != NULL && json_object_has_member (peer->status, "epoch")) {
			json_builder_set_member_name (builder, "epoch");
			json_builder_add_int_value (builder, json_object_get_int_member (peer->status, "epoch"));
		}
		json_builder_set_member_name (builder, "last_heartbeat_ms_ago");
		json_builder_add_int_value (builder, (now - peer->last_heard_us) / 1000);
		json_builder_end_object (builder);
	}
	json_builder_end_array (builder);

	json_builder_set_member_name (builder, "lease");
	if (self->lease_holder == NULL && self->table == NULL) {
		json_builder_add_null_value (builder);
		return;
	}
	json_builder_begin_object (builder);
	if (self->lease_holder != NULL) {
		g_autofree char *node = tandem_ha_holder_node_id (self->lease_holder);

		json_builder_set_member_name (builder, "holder");
		json_builder_add_string_value (builder, node);
		json_builder_set_member_name (builder, "holder_incarnation");
		json_builder_add_string_value (builder, self->lease_holder);
		json_builder_set_member_name (builder, "epoch");
		json_builder_add_int_value (builder, (gint64) self->lease_epoch);
		if (self->lease_expires_us != 0) {
			json_builder_set_member_name (builder, "expires_in_ms");
			json_builder_add_int_value (builder, MAX (0, (self->lease_expires_us - now) / 1000));
		}
	}
	json_builder_end_object (builder);
}
