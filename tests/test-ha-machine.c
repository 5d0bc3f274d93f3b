/* test-ha-machine.c: the HA state machine and the lease table, with a fake clock
 *
 * Each case drives one machine input by input and compares the exact
 * actions it asks for, written one per item as
 *   "ACQUIRE 1"                     a lease request (its ttl is checked too)
 *   "ACQUIRE 2 take_from=b#1@4"      a take-over request
 *   "RELEASE"
 *   "PUBLISH epoch=1 until=2000" / "UNPUBLISH"
 *   "TRANSITION passive->active"    (the message is checked separately)
 *   "WARN"
 *   "HAND_OVER a#1@1"              a switchover's offer of the lease
 * joined with "; ".  The last cases simulate two nodes and a lease table
 * with random delays, losses, pauses and crashes, and check that two nodes
 * never publish at the same time.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "config.h"

#include <string.h>

#include <glib.h>

#include "tandem-ha-machine.h"

#define TTL 3000
#define RENEW 500
#define MARGIN 1000

typedef struct {
	TandemHaMachine *m;
	GArray *actions;
	GPtrArray *messages; /* of the actions taken last: TRANSITION and WARN messages */
	gint64 now;
} Fixture;

static Fixture *
fixture_new_full (const char *node_id, const char *holder, gboolean state_sync)
{
	Fixture *f = g_new0 (Fixture, 1);
	TandemHaMachineConfig config;

	tandem_ha_machine_config_init (&config);
	config.lease_ttl_ms = TTL;
	config.lease_renew_ms = RENEW;
	config.fence_margin_ms = MARGIN;
	config.state_sync = state_sync;
	f->m = tandem_ha_machine_new (node_id, holder, &config);
	f->actions = tandem_ha_actions_new ();
	f->messages = g_ptr_array_new_with_free_func (g_free);
	return f;
}

static Fixture *
fixture_new (void)
{
	return fixture_new_full ("a", "a#1", FALSE);
}

static void
fixture_free (Fixture *f)
{
	tandem_ha_machine_free (f->m);
	g_array_unref (f->actions);
	g_ptr_array_unref (f->messages);
	g_free (f);
}

/* Formats the actions asked for since the last call, and forgets them
 * (keeping their messages in f->messages) */
static const char *
take (Fixture *f)
{
	static char *last = NULL;
	GString *s = g_string_new (NULL);

	g_ptr_array_set_size (f->messages, 0);
	for (guint i = 0; i < f->actions->len; i++) {
		TandemHaAction *a = &g_array_index (f->actions, TandemHaAction, i);

		if (s->len > 0)
			g_string_append (s, "; ");
		switch (a->type) {
		case TANDEM_HA_ACTION_ACQUIRE_LEASE:
			g_assert_cmpint (a->ttl_ms, ==, TTL);
			g_string_append_printf (s, "ACQUIRE %u", a->request_id);
			if (a->take_from != NULL)
				g_string_append_printf (s, " take_from=%s@%" G_GUINT64_FORMAT,
							a->take_from, a->take_from_epoch);
			break;
		case TANDEM_HA_ACTION_RELEASE_LEASE:
			g_assert_cmpint (a->ttl_ms, ==, 0);
			g_string_append (s, "RELEASE");
			break;
		case TANDEM_HA_ACTION_SET_PUBLISH:
			if (a->publish)
				g_string_append_printf (s,
							"PUBLISH epoch=%" G_GUINT64_FORMAT
							" until=%" G_GINT64_FORMAT,
							a->epoch, a->publish_until_ms);
			else
				g_string_append (s, "UNPUBLISH");
			break;
		case TANDEM_HA_ACTION_TRANSITION:
			g_assert_nonnull (a->message);
			g_assert_null (strchr (a->message, '\n'));
			g_string_append_printf (s, "TRANSITION %s->%s",
						tandem_ha_state_to_string (a->from),
						tandem_ha_state_to_string (a->to));
			g_ptr_array_add (f->messages, g_strdup (a->message));
			break;
		case TANDEM_HA_ACTION_WARN:
			g_assert_nonnull (a->message);
			g_string_append (s, "WARN");
			g_ptr_array_add (f->messages, g_strdup (a->message));
			break;
		case TANDEM_HA_ACTION_HAND_OVER:
			g_assert_nonnull (a->take_from);
			g_string_append_printf (s, "HAND_OVER %s@%" G_GUINT64_FORMAT, a->take_from,
						a->take_from_epoch);
			break;
		default:
			g_assert_not_reached ();
		}
	}
	g_array_set_size (f->actions, 0);
	g_free (last);
	last = g_string_free (s, FALSE);
	return last;
}

static const char *
message (Fixture *f, guint i)
{
	g_assert_cmpuint (i, <, f->messages->len);
	return f->messages->pdata[i];
}

#define assert_message_has(f, i, text)                                                             \
	G_STMT_START                                                                               \
	{                                                                                          \
		const char *_m = message (f, i);                                                   \
		if (strstr (_m, text) == NULL)                                                     \
			g_error ("message \"%s\" does not contain \"%s\"", _m, text);              \
	}                                                                                          \
	G_STMT_END

static void
at (Fixture *f, gint64 now)
{
	g_assert_cmpint (now, >=, f->now);
	f->now = now;
}

static void
start (Fixture *f)
{
	tandem_ha_machine_start (f->m, f->now, f->actions);
}

static void
tick (Fixture *f)
{
	tandem_ha_machine_tick (f->m, f->now, f->actions);
}

static void
ok (Fixture *f, guint request_id, const char *holder, guint64 epoch)
{
	TandemHaLeaseResult r = { 0 };

	r.request_id = request_id;
	r.status = TANDEM_HA_LEASE_OK;
	r.holder = holder;
	r.epoch = epoch;
	r.remaining_ms = TTL;
	tandem_ha_machine_lease_result (f->m, f->now, &r, f->actions);
}

static void
err (Fixture *f, guint request_id, const char *error_message)
{
	TandemHaLeaseResult r = { 0 };

	r.request_id = request_id;
	r.status = TANDEM_HA_LEASE_ERROR;
	r.error_message = error_message;
	tandem_ha_machine_lease_result (f->m, f->now, &r, f->actions);
}

static void
peer_status (Fixture *f, const char *node_id, TandemHaState state, guint64 epoch)
{
	tandem_ha_machine_peer_status (f->m, f->now, node_id, state, epoch, f->actions);
}

static void
peer_up (Fixture *f, const char *node_id)
{
	tandem_ha_machine_peer_up (f->m, f->now, node_id, f->actions);
}

static void
peer_down (Fixture *f, const char *node_id, gboolean died, const char *reason)
{
	tandem_ha_machine_peer_down (f->m, f->now, node_id, died, reason, f->actions);
}

static TandemHaState
state (Fixture *f)
{
	return tandem_ha_machine_get_state (f->m);
}

static gint64
deadline (Fixture *f)
{
	return tandem_ha_machine_get_next_deadline (f->m);
}

/* start at 0, the arbiter answers request 1 at 20 with the free lease: active
 * at epoch 1 until 0 + 3000 - 1000 */
static Fixture *
fixture_active (void)
{
	Fixture *f = fixture_new ();

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	at (f, 20);
	ok (f, 1, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=1 until=2000; TRANSITION starting->active");
	return f;
}

/* start at 0, request 1 answered at 10: b#1 holds the lease at epoch 4 */
static Fixture *
fixture_passive_full (gboolean state_sync)
{
	Fixture *f = fixture_new_full ("a", "a#1", state_sync);

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	at (f, 10);
	ok (f, 1, "b#1", 4);
	if (state_sync) {
		g_assert_cmpstr (take (f), ==, "TRANSITION starting->syncing");
		tandem_ha_machine_sync_done (f->m, f->now, f->actions);
		g_assert_cmpstr (take (f), ==, "TRANSITION syncing->passive; ACQUIRE 2");
		ok (f, 2, "b#1", 4);
		g_assert_cmpstr (take (f), ==, "");
	} else {
		g_assert_cmpstr (take (f), ==, "TRANSITION starting->passive");
	}
	return f;
}

static Fixture *
fixture_passive (void)
{
	return fixture_passive_full (FALSE);
}

/* Helpers */

static void
test_state_strings (void)
{
	const char *names[] = { "starting", "syncing", "passive", "active", "fenced", "stopped" };
	TandemHaState s;

	for (guint i = 0; i < G_N_ELEMENTS (names); i++) {
		g_assert_cmpstr (tandem_ha_state_to_string ((TandemHaState) i), ==, names[i]);
		g_assert_true (tandem_ha_state_from_string (names[i], &s));
		g_assert_cmpint (s, ==, (TandemHaState) i);
	}
	s = TANDEM_HA_STATE_ACTIVE;
	g_assert_false (tandem_ha_state_from_string ("Active", &s));
	g_assert_false (tandem_ha_state_from_string ("", &s));
	g_assert_false (tandem_ha_state_from_string (NULL, &s));
	g_assert_cmpint (s, ==, TANDEM_HA_STATE_ACTIVE);
}

static void
test_holder_node_id (void)
{
	struct {
		const char *holder, *node;
	} cases[] = {
		{ "a#3", "a" }, { "node-1#17", "node-1" }, { "plain", "plain" }, { "x#y#2", "x#y" },
		{ "#1", "" },
	};

	for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
		g_autofree char *node = tandem_ha_holder_node_id (cases[i].holder);

		g_assert_cmpstr (node, ==, cases[i].node);
	}
}

static void
test_config (void)
{
	TandemHaMachineConfig config;
	g_autoptr (GArray) actions = tandem_ha_actions_new ();
	TandemHaLeaseResult r = { .request_id = 1,
				  .status = TANDEM_HA_LEASE_OK,
				  .holder = "a#1",
				  .epoch = 1 };
	TandemHaMachine *m;

	tandem_ha_machine_config_init (&config);
	g_assert_cmpuint (config.lease_ttl_ms, ==, 3000);
	g_assert_cmpuint (config.lease_renew_ms, ==, 500);
	g_assert_cmpuint (config.fence_margin_ms, ==, 1000);
	g_assert_false (config.state_sync);

	/* zero fields take their default from the ttl */
	memset (&config, 0, sizeof (config));
	config.lease_ttl_ms = 6000;
	m = tandem_ha_machine_new ("a", "a#1", &config);
	tandem_ha_machine_start (m, 0, actions);
	tandem_ha_machine_lease_result (m, 0, &r, actions);
	g_assert_cmpint (tandem_ha_machine_get_publish_until (m), ==, 6000 - 2000);
	g_assert_cmpint (tandem_ha_machine_get_next_deadline (m), ==, 1000);
	tandem_ha_machine_free (m);

	/* NULL: the defaults */
	g_array_set_size (actions, 0);
	m = tandem_ha_machine_new ("a", "a#1", NULL);
	g_assert_cmpint (tandem_ha_machine_get_state (m), ==, TANDEM_HA_STATE_STARTING);
	g_assert_cmpint (tandem_ha_machine_get_next_deadline (m), ==, G_MAXINT64);
	tandem_ha_machine_start (m, 0, actions);
	tandem_ha_machine_lease_result (m, 0, &r, actions);
	g_assert_cmpint (tandem_ha_machine_get_publish_until (m), ==, 2000);
	tandem_ha_machine_free (m);
}

static void
test_actions_clear (void)
{
	GArray *actions = tandem_ha_actions_new ();
	TandemHaMachine *m = tandem_ha_machine_new ("a", "a#1", NULL);

	TandemHaLeaseResult r = { .request_id = 1,
				  .status = TANDEM_HA_LEASE_OK,
				  .holder = "b#1",
				  .epoch = 1 };

	/* the clear function frees the strings (checked under valgrind/ASan) */
	tandem_ha_machine_start (m, 0, actions);
	tandem_ha_machine_lease_result (m, 1, &r, actions);
	tandem_ha_machine_peer_down (m, 2, "b", TRUE, "reset", actions);
	g_assert_cmpuint (actions->len, ==, 4);
	g_assert_cmpstr (g_array_index (actions, TandemHaAction, 3).take_from, ==, "b#1");
	g_array_remove_index (actions, 0);
	g_array_unref (actions);
	tandem_ha_machine_free (m);
}

/* Starting */

static void
test_start_active_free (void)
{
	Fixture *f = fixture_new ();

	g_assert_cmpint (deadline (f), ==, G_MAXINT64);
	tick (f);
	g_assert_cmpstr (take (f), ==, "");

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	g_assert_cmpstr (message (f, 0), ==,
			 "HA state starting: looking for the active member of the cluster");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	g_assert_cmpint (deadline (f), ==, TTL); /* only the lost-request timeout */

	/* a second start does nothing */
	start (f);
	g_assert_cmpstr (take (f), ==, "");

	at (f, 20);
	ok (f, 1, "a#1", 1);
	/* sent at 0: publish until 0 + 3000 - 1000, not 20 + ... */
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=1 until=2000; TRANSITION starting->active");
	g_assert_cmpstr (message (f, 0), ==, "Became active (epoch 1): the lease was free");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_ACTIVE);
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 1);
	g_assert_cmpstr (tandem_ha_machine_get_lease_holder (f->m), ==, "a#1");
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 2000);
	g_assert_cmpint (deadline (f), ==, RENEW);
	fixture_free (f);
}

/* The arbiter says the lease is free but grants it to nobody (arbiter none
 * while the node has heard from no member yet): the node waits for its next
 * poll, unless a member says it is active, which it asks about at once */
static void
test_start_peer_active_asks_now (void)
{
	Fixture *f = fixture_new ();

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	at (f, 10);
	ok (f, 1, NULL, 3);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	g_assert_cmpint (deadline (f), ==, RENEW);
	/* a member that is not active: nothing before the poll */
	at (f, 100);
	peer_status (f, "b", TANDEM_HA_STATE_PASSIVE, 3);
	g_assert_cmpstr (take (f), ==, "");
	/* it says it is active: ask now, and follow it */
	at (f, 120);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 3);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	/* its next heartbeat says the same: no second request */
	at (f, 130);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 3);
	g_assert_cmpstr (take (f), ==, "");
	at (f, 140);
	ok (f, 2, "b#1", 3);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->passive");
	fixture_free (f);
}

static void
test_start_passive_held (void)
{
	Fixture *f = fixture_new ();

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	at (f, 10);
	ok (f, 1, "b#1", 4);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->passive");
	g_assert_cmpstr (message (f, 0), ==,
			 "Became passive: b is active (epoch 4); no state sync yet (HA part 2), "
			 "this node starts without the active's state");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);
	g_assert_cmpstr (tandem_ha_machine_get_lease_holder (f->m), ==, "b#1");
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 4);
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 0);
	g_assert_cmpint (deadline (f), ==, RENEW);
	fixture_free (f);
}

static void
test_start_error_retry (void)
{
	Fixture *f = fixture_new ();

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	at (f, 10);
	err (f, 1, "connection refused");
	g_assert_cmpstr (take (f), ==, "WARN");
	assert_message_has (f, 0, "Cannot reach the arbiter: connection refused");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	g_assert_cmpint (deadline (f), ==, 500);

	at (f, 499);
	tick (f);
	g_assert_cmpstr (take (f), ==, "");
	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	err (f, 2, "connection refused");
	g_assert_cmpstr (take (f), ==, ""); /* warned once */
	at (f, 1000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	err (f, 3, "timed out");
	g_assert_cmpstr (take (f), ==, "WARN"); /* a different error */
	assert_message_has (f, 0, "timed out");
	at (f, 1500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 4");
	err (f, 4, "connection refused");
	g_assert_cmpstr (take (f), ==, "");
	err (f, 4, NULL); /* answered already: ignored */
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);

	at (f, 2000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 5");
	ok (f, 5, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->passive");

	/* after a success, the same error warns again */
	at (f, 2500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 6");
	err (f, 6, "connection refused");
	g_assert_cmpstr (take (f), ==, "WARN");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);
	fixture_free (f);
}

static void
test_start_previous_run (void)
{
	Fixture *f = fixture_new_full ("a", "a#2", FALSE);

	/* the lease of this node's previous run has not expired yet: wait */
	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	ok (f, 1, "a#1", 3);
	g_assert_cmpstr (take (f), ==, "WARN");
	assert_message_has (f, 0, "a#1 (epoch 3), a previous run of this node");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	ok (f, 2, "a#1", 3);
	g_assert_cmpstr (take (f), ==, "");
	at (f, 1000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	ok (f, 3, "a#2", 4);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=4 until=3000; TRANSITION starting->active");
	g_assert_cmpstr (
		message (f, 0), ==,
		"Became active (epoch 4): the lease of a previous run of this node (a#1) expired");
	fixture_free (f);
}

static void
test_late_grant (void)
{
	Fixture *f = fixture_new ();

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	/* granted, but the answer came after the window it opens (0 + 2000) */
	at (f, 2000);
	ok (f, 1, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "WARN; ACQUIRE 2");
	assert_message_has (f, 0, "too late to use");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 0);
	at (f, 2010);
	ok (f, 2, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=1 until=4000; TRANSITION starting->active");
	fixture_free (f);
}

/* Passive */

static void
test_passive_polling (void)
{
	Fixture *f = fixture_passive ();

	/* polls every 500 ms from when the last poll was sent */
	g_assert_cmpint (deadline (f), ==, 500);
	at (f, 499);
	tick (f);
	g_assert_cmpstr (take (f), ==, "");
	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	tick (f);
	g_assert_cmpstr (take (f), ==, ""); /* one request at a time */
	g_assert_cmpint (deadline (f), ==, 500 + TTL);
	at (f, 530);
	ok (f, 2, "b#1", 4);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (deadline (f), ==, 1000);
	at (f, 1000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");

	/* a slow answer: the next poll is already due */
	at (f, 1700);
	ok (f, 3, "b#1", 4);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 4");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);

	/* the active restarted: only remembered */
	at (f, 1710);
	ok (f, 4, "b#2", 5);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpstr (tandem_ha_machine_get_lease_holder (f->m), ==, "b#2");
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 5);

	/* the lease expired: the next poll wins it */
	at (f, 2200);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 5");
	at (f, 2210);
	ok (f, 5, "a#1", 6);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=6 until=4200; TRANSITION passive->active");
	g_assert_cmpstr (message (f, 0), ==, "Became active (epoch 6): the lease of b expired");
	fixture_free (f);
}

static void
test_passive_peer_status (void)
{
	Fixture *f = fixture_passive ();

	at (f, 100);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 7);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 7);
	/* our own status echoed back is ignored */
	peer_status (f, "a", TANDEM_HA_STATE_ACTIVE, 9);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 7);
	tandem_ha_machine_peer_up (f->m, f->now, "b", f->actions);
	g_assert_cmpstr (take (f), ==, "");
	fixture_free (f);
}

static void
test_takeover_died (void)
{
	Fixture *f = fixture_passive ();

	at (f, 300);
	/* a peer that does not hold the lease: nothing */
	peer_down (f, "c", TRUE, "connection reset");
	g_assert_cmpstr (take (f), ==, "");
	peer_down (f, "b", TRUE, "connection reset");
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2 take_from=b#1@4");
	at (f, 310);
	ok (f, 2, "a#1", 5);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=5 until=2300; TRANSITION passive->active");
	g_assert_cmpstr (message (f, 0), ==,
			 "Became active (epoch 5): took over from b (process gone)");
	g_assert_cmpint (deadline (f), ==, 800);
	fixture_free (f);
}

static void
test_takeover_died_in_flight (void)
{
	Fixture *f = fixture_passive ();

	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	at (f, 510);
	peer_down (f, "b", TRUE, "connection reset");
	g_assert_cmpstr (take (f), ==, ""); /* waits for request 2 */
	at (f, 520);
	ok (f, 2, "b#1", 4);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3 take_from=b#1@4");
	at (f, 530);
	ok (f, 3, "a#1", 5);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=5 until=2520; TRANSITION passive->active");
	fixture_free (f);
}

static void
test_takeover_refused (void)
{
	Fixture *f = fixture_passive ();

	/* b restarted and took the lease again before our take-over arrived */
	at (f, 300);
	peer_down (f, "b", TRUE, NULL);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2 take_from=b#1@4");
	ok (f, 2, "b#2", 5);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);
	g_assert_cmpint (deadline (f), ==, 800);
	at (f, 800);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3"); /* no take-over any more */
	fixture_free (f);
}

static void
test_no_take_from_on_timeout (void)
{
	Fixture *f = fixture_passive ();

	/* a silent active may still publish: no take-over, but poll at once */
	at (f, 300);
	peer_down (f, "b", FALSE, "heartbeat timeout (600 ms)");
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	at (f, 310);
	ok (f, 2, "b#1", 4);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (deadline (f), ==, 800);
	at (f, 800);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	at (f, 900);
	ok (f, 3, "a#1", 5); /* b's lease expired */
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=5 until=2800; TRANSITION passive->active");
	g_assert_cmpstr (
		message (f, 0), ==,
		"Became active (epoch 5): the lease of b was released or expired after it left "
		"(heartbeat timeout (600 ms))");
	fixture_free (f);
}

static void
test_goodbye_release (void)
{
	Fixture *f = fixture_passive ();

	at (f, 300);
	peer_down (f, "b", FALSE, "goodbye: stopping");
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	at (f, 305);
	ok (f, 2, "a#1", 5);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=5 until=2300; TRANSITION passive->active");
	assert_message_has (f, 0, "(goodbye: stopping)");
	fixture_free (f);
}

/* Active */

static void
test_active_renewal (void)
{
	Fixture *f = fixture_active ();

	g_assert_cmpint (deadline (f), ==, 500);
	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	g_assert_cmpint (deadline (f), ==, 2000); /* the publishing deadline comes first */
	/* answered at 800: the window runs from when the renewal was sent */
	at (f, 800);
	ok (f, 2, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=1 until=2500");
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 2500);
	g_assert_cmpint (deadline (f), ==, 1000);
	at (f, 1000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	at (f, 1001);
	ok (f, 3, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=1 until=3000");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_ACTIVE);
	fixture_free (f);
}

static void
test_active_error_fenced_at_deadline (void)
{
	Fixture *f = fixture_active ();

	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	at (f, 510);
	err (f, 2, "connection refused");
	g_assert_cmpstr (take (f), ==, "WARN");
	assert_message_has (f, 0, "Cannot renew the lease: connection refused");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_ACTIVE);
	at (f, 1000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	err (f, 3, "connection refused");
	g_assert_cmpstr (take (f), ==, ""); /* warned once */
	at (f, 1500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 4");
	err (f, 4, "connection refused");
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (deadline (f), ==, 2000);
	at (f, 1999);
	tick (f);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_ACTIVE);
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 2000);

	at (f, 2000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced; ACQUIRE 5");
	g_assert_cmpstr (
		message (f, 0), ==,
		"Fenced (was active at epoch 1), stopped publishing: lease renewal overdue: "
		"cannot reach the arbiter: connection refused");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_FENCED);
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 0);
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 1);

	/* fenced: retries every renew interval (the error was told already) */
	at (f, 2010);
	err (f, 5, "connection refused");
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (deadline (f), ==, 2500);
	at (f, 2500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 6");
	/* nobody took the lease meanwhile: active again */
	at (f, 2510);
	ok (f, 6, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=1 until=4500; TRANSITION fenced->active");
	g_assert_cmpstr (message (f, 0), ==,
			 "Became active again (epoch 1): the lease is still ours");
	fixture_free (f);
}

static void
test_active_no_answer_fenced (void)
{
	Fixture *f = fixture_active ();

	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	/* no answer at all: fenced at the deadline, the request still in flight */
	at (f, 2000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced");
	assert_message_has (f, 0, "lease renewal overdue: no answer from the arbiter for 1500 ms");
	g_assert_cmpint (deadline (f), ==, 500 + TTL);
	/* request 2 is given up 3000 ms after it was sent */
	at (f, 3500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "WARN; ACQUIRE 3");
	assert_message_has (f, 0, "Lease request 2 got no answer");
	fixture_free (f);
}

static void
test_active_late_tick (void)
{
	Fixture *f = fixture_active ();

	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	/* the answer comes after the deadline and before the caller's timer:
	 * fenced first, then active again from the answer's window */
	at (f, 2100);
	ok (f, 2, "a#1", 1);
	g_assert_cmpstr (take (f), ==,
			 "UNPUBLISH; TRANSITION active->fenced; PUBLISH epoch=1 until=2500; "
			 "TRANSITION fenced->active; ACQUIRE 3");
	/* (the renewal due at 1000 is sent at once) */
	fixture_free (f);
}

static void
test_lease_lost (void)
{
	Fixture *f = fixture_active ();

	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	at (f, 510);
	ok (f, 2, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced; ACQUIRE 3");
	g_assert_cmpstr (
		message (f, 0), ==,
		"Fenced (was active at epoch 1), stopped publishing: lease taken by b at epoch 2");
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 2);
	at (f, 520);
	ok (f, 3, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "TRANSITION fenced->passive");
	g_assert_cmpstr (
		message (f, 0), ==,
		"Rejoined as passive after fencing: b is active (epoch 2); no state sync yet (HA part 2)");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);
	g_assert_cmpint (deadline (f), ==, 1010);
	fixture_free (f);
}

static void
test_lease_epoch_changed (void)
{
	Fixture *f = fixture_active ();

	/* our holder, but the lease changed hands meanwhile */
	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	ok (f, 2, "a#1", 3);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced; ACQUIRE 3");
	assert_message_has (f, 0, "the lease epoch changed from 1 to 3");
	ok (f, 3, "a#1", 3);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=3 until=2500; TRANSITION fenced->active");
	fixture_free (f);
}

static void
test_higher_epoch_peer (void)
{
	Fixture *f = fixture_active ();

	at (f, 100);
	peer_status (f, "b", TANDEM_HA_STATE_PASSIVE, 1);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 0);
	g_assert_cmpstr (take (f), ==, "");
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 2);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced; ACQUIRE 2");
	g_assert_cmpstr (
		message (f, 0), ==,
		"Fenced (was active at epoch 1), stopped publishing: node b is active with a higher epoch 2");
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 2);

	/* an arbiter that says we still hold epoch 1 contradicts b: refused */
	at (f, 110);
	ok (f, 2, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "WARN");
	assert_message_has (f, 0, "node b says it is active at epoch 2");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_FENCED);

	/* b no longer claims to be active: the next grant is used */
	peer_status (f, "b", TANDEM_HA_STATE_FENCED, 2);
	g_assert_cmpstr (take (f), ==, "");
	at (f, 600);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	ok (f, 3, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=1 until=2600; TRANSITION fenced->active");
	fixture_free (f);
}

static void
test_tie_break (void)
{
	Fixture *f;

	/* without an arbiter both may hold the same epoch: the lower node id stays */
	f = fixture_new_full ("b", "b#1", FALSE);
	start (f);
	ok (f, 1, "b#1", 3);
	g_assert_cmpstr (take (f), ==,
			 "TRANSITION starting->starting; ACQUIRE 1; PUBLISH epoch=3 until=2000; "
			 "TRANSITION starting->active");
	peer_status (f, "c", TANDEM_HA_STATE_ACTIVE, 3);
	g_assert_cmpstr (take (f), ==, "");
	peer_status (f, "a", TANDEM_HA_STATE_ACTIVE, 2);
	g_assert_cmpstr (take (f), ==, "");
	peer_status (f, "a", TANDEM_HA_STATE_ACTIVE, 3);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced; ACQUIRE 2");
	assert_message_has (f, 0, "node a is active with the same epoch 3 and wins the tie-break");
	/* and it does not come back at that epoch while a claims it */
	ok (f, 2, "b#1", 3);
	g_assert_cmpstr (take (f), ==, "WARN");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_FENCED);
	fixture_free (f);

	f = fixture_new_full ("a", "a#1", FALSE);
	start (f);
	ok (f, 1, "a#1", 3);
	take (f);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 3);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_ACTIVE);
	fixture_free (f);
}

static void
test_stale_epoch (void)
{
	Fixture *f = fixture_passive (); /* b#1 at epoch 4 */

	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	/* an arbiter that lost its state grants an epoch at or below b's */
	ok (f, 2, "a#1", 4);
	g_assert_cmpstr (take (f), ==, "WARN");
	assert_message_has (
		f, 0, "the arbiter granted epoch 4 but epoch 4 was already held by b (stale epoch");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 0);
	at (f, 1000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	ok (f, 3, "a#1", 4);
	g_assert_cmpstr (take (f), ==, ""); /* warned once */
	at (f, 1500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 4");
	ok (f, 4, "a#1", 2);
	g_assert_cmpstr (take (f), ==, "WARN");
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 4); /* only grows */
	at (f, 2000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 5");
	ok (f, 5, "a#1", 5);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=5 until=4000; TRANSITION passive->active");
	fixture_free (f);
}

static void
test_stale_own_epoch (void)
{
	Fixture *f = fixture_active (); /* epoch 1 */

	at (f, 500);
	tick (f);
	ok (f, 2, "a#1", 7);
	g_assert_cmpstr (take (f), ==,
			 "ACQUIRE 2; UNPUBLISH; TRANSITION active->fenced; ACQUIRE 3");
	/* the arbiter went back to an older epoch of ours */
	ok (f, 3, "a#1", 6);
	g_assert_cmpstr (take (f), ==, "WARN");
	assert_message_has (f, 0, "epoch 7 was already seen");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_FENCED);
	fixture_free (f);
}

static void
test_lost_request (void)
{
	Fixture *f = fixture_new ();

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	g_assert_cmpint (deadline (f), ==, 3000);
	at (f, 2999);
	tick (f);
	g_assert_cmpstr (take (f), ==, "");
	at (f, 3000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "WARN; ACQUIRE 2");
	assert_message_has (f, 0, "Lease request 1 got no answer from the arbiter within 3000 ms");

	/* the answer to request 1 comes after all: ignored, but what it says
	 * about the lease is remembered */
	at (f, 3010);
	ok (f, 1, "b#1", 3);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	g_assert_cmpstr (tandem_ha_machine_get_lease_holder (f->m), ==, "b#1");
	g_assert_cmpuint (tandem_ha_machine_get_epoch (f->m), ==, 3);
	/* an ignored answer with an older epoch changes nothing */
	ok (f, 77, "c#1", 2);
	g_assert_cmpstr (tandem_ha_machine_get_lease_holder (f->m), ==, "b#1");
	err (f, 78, "whatever");
	g_assert_cmpstr (take (f), ==, "");

	at (f, 3020);
	ok (f, 2, "a#1", 4);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=4 until=5000; TRANSITION starting->active");
	assert_message_has (f, 0, "the lease of b expired");
	fixture_free (f);
}

static void
test_late_answer_fences_active (void)
{
	Fixture *f = fixture_active ();

	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	/* an answer to a request given up long ago shows b at a newer epoch */
	ok (f, 1, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced");
	assert_message_has (f, 0, "lease taken by b at epoch 2");
	ok (f, 2, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "TRANSITION fenced->passive");
	fixture_free (f);
}

/* Stopping */

static void
test_stop_active (void)
{
	Fixture *f = fixture_active ();

	at (f, 100);
	tandem_ha_machine_stop (f->m, f->now, "SIGTERM", f->actions);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; RELEASE; TRANSITION active->stopped");
	g_assert_cmpstr (message (f, 0), ==, "Stepping down: SIGTERM");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STOPPED);
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 0);
	g_assert_cmpint (deadline (f), ==, G_MAXINT64);

	/* everything is ignored now */
	at (f, 5000);
	tick (f);
	ok (f, 2, "a#1", 1);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 9);
	peer_down (f, "b", TRUE, NULL);
	tandem_ha_machine_sync_done (f->m, f->now, f->actions);
	start (f);
	tandem_ha_machine_stop (f->m, f->now, "again", f->actions);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STOPPED);
	fixture_free (f);
}

static void
test_stop_not_active (void)
{
	Fixture *f = fixture_passive ();

	tandem_ha_machine_stop (f->m, f->now, "SIGINT", f->actions);
	g_assert_cmpstr (take (f), ==, "TRANSITION passive->stopped");
	assert_message_has (f, 0, "SIGINT");
	fixture_free (f);

	/* before start */
	f = fixture_new ();
	tandem_ha_machine_stop (f->m, 0, NULL, f->actions);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->stopped");
	start (f);
	g_assert_cmpstr (take (f), ==, "");
	fixture_free (f);
}

/* Switchover */

static gboolean
step_down (Fixture *f)
{
	return tandem_ha_machine_step_down (f->m, f->now, "switchover to b", f->actions);
}

static void
handover_offered (Fixture *f, const char *node_id, const char *holder, guint64 epoch)
{
	tandem_ha_machine_handover_offered (f->m, f->now, node_id, holder, epoch, f->actions);
}

static void
test_step_down (void)
{
	Fixture *f = fixture_active ();

	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	/* with a renewal in flight */
	at (f, 510);
	g_assert_true (step_down (f));
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->starting; HAND_OVER a#1@1");
	g_assert_cmpstr (
		message (f, 0), ==,
		"Stepped down (was active at epoch 1), stopped publishing: switchover to b; "
		"offering the lease to the other node, not asking for it again for 2000 ms "
		"unless another node takes it");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	g_assert_true (tandem_ha_machine_is_stepping_down (f->m));
	g_assert_cmpint (tandem_ha_machine_get_publish_until (f->m), ==, 0);
	g_assert_null (tandem_ha_machine_get_lease_holder (f->m));
	/* it never publishes under the offered holder string again */
	g_assert_cmpstr (tandem_ha_machine_get_holder (f->m), ==, "a#1.1");
	g_assert_cmpint (deadline (f), ==, 2510); /* ttl - fence margin */
	/* the renewal sent before is forgotten: it makes nobody active */
	at (f, 520);
	ok (f, 2, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	/* no poll during the hold-off */
	at (f, 1500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "");
	/* a peer that is not active (yet), or active at the old epoch: nothing */
	peer_status (f, "b", TANDEM_HA_STATE_PASSIVE, 1);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 1);
	g_assert_cmpstr (take (f), ==, "");
	/* the other node took the lease: ask the arbiter now, and follow */
	at (f, 1600);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 2);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3 take_from=a#1@1");
	at (f, 1610);
	ok (f, 3, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->passive");
	assert_message_has (f, 0, "Became passive: b is active (epoch 2)");
	g_assert_false (tandem_ha_machine_is_stepping_down (f->m));
	g_assert_cmpint (deadline (f), ==, 2100);
	/* not active any more: no second step-down */
	g_assert_false (step_down (f));
	g_assert_cmpstr (take (f), ==, "");
	fixture_free (f);
}

static void
test_step_down_state_sync (void)
{
	Fixture *f = fixture_new_full ("a", "a#1", TRUE);

	start (f);
	ok (f, 1, "a#1", 1);
	g_assert_cmpstr (take (f), ==,
			 "TRANSITION starting->starting; ACQUIRE 1; PUBLISH epoch=1 until=2000; "
			 "TRANSITION starting->active");
	at (f, 100);
	g_assert_true (step_down (f));
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->starting; HAND_OVER a#1@1");
	at (f, 150);
	peer_status (f, "b", TANDEM_HA_STATE_ACTIVE, 2);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2 take_from=a#1@1");
	ok (f, 2, "b#1", 2);
	/* it resumes from the new active like any joining node */
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->syncing");
	tandem_ha_machine_sync_done (f->m, f->now, f->actions);
	g_assert_cmpstr (take (f), ==, "TRANSITION syncing->passive; ACQUIRE 3");
	fixture_free (f);
}

static void
test_step_down_nobody_takes (void)
{
	Fixture *f = fixture_active ();

	at (f, 100);
	g_assert_true (step_down (f));
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->starting; HAND_OVER a#1@1");
	at (f, 2099);
	tick (f);
	g_assert_cmpstr (take (f), ==, "");
	/* after ttl - fence margin (before the old lease can expire) it takes
	 * the lease back from its old holder string, at a new epoch, so that a
	 * late take-over of a#1@1 is refused */
	at (f, 2100);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2 take_from=a#1@1");
	at (f, 2110);
	ok (f, 2, "a#1.1", 2);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=2 until=4100; TRANSITION starting->active");
	g_assert_cmpstr (message (f, 0), ==,
			 "Became active (epoch 2): no other node took the lease after the switchover");
	g_assert_false (tandem_ha_machine_is_stepping_down (f->m));
	fixture_free (f);

	/* the arbiter still shows the old holder string (it lost the
	 * take-over): the node waits, without a warning */
	f = fixture_active ();
	at (f, 100);
	step_down (f);
	take (f);
	at (f, 2100);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2 take_from=a#1@1");
	ok (f, 2, "a#1", 1);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	at (f, 2600);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3 take_from=a#1@1");
	fixture_free (f);

	/* the other node refuses the offer: ask at once */
	f = fixture_active ();
	at (f, 100);
	step_down (f);
	take (f);
	at (f, 150);
	tandem_ha_machine_handover_refused (f->m, f->now, "b", f->actions);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2 take_from=a#1@1");
	ok (f, 2, "a#1.1", 2);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=2 until=2150; TRANSITION starting->active");
	/* a refusal while not stepping down: nothing */
	tandem_ha_machine_handover_refused (f->m, f->now, "b", f->actions);
	g_assert_cmpstr (take (f), ==, "");
	fixture_free (f);

	/* the other node leaves during the hold-off: ask at once */
	f = fixture_active ();
	at (f, 100);
	step_down (f);
	take (f);
	at (f, 300);
	peer_down (f, "b", TRUE, "connection reset");
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2 take_from=a#1@1");
	ok (f, 2, "a#1.1", 2);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=2 until=2300; TRANSITION starting->active");
	/* a second switchover offers the new holder string */
	at (f, 400);
	g_assert_true (step_down (f));
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->starting; HAND_OVER a#1.1@2");
	g_assert_cmpstr (tandem_ha_machine_get_holder (f->m), ==, "a#1.2");
	fixture_free (f);

	/* not active: no step-down, no action */
	f = fixture_passive ();
	g_assert_false (step_down (f));
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);
	fixture_free (f);

	/* the publishing window is over: the node fences instead */
	f = fixture_active ();
	at (f, 2000);
	g_assert_false (step_down (f));
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced; ACQUIRE 2");
	fixture_free (f);
}

static void
test_handover_offered (void)
{
	Fixture *f = fixture_passive ();

	/* b holds the lease at epoch 4 and offers it */
	at (f, 100);
	handover_offered (f, "b", "b#1", 4);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2 take_from=b#1@4");
	at (f, 110);
	ok (f, 2, "a#1", 5);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=5 until=2100; TRANSITION passive->active");
	g_assert_cmpstr (message (f, 0), ==,
			 "Became active (epoch 5): b handed the lease over (switchover)");
	/* an active node takes no offer */
	handover_offered (f, "b", "b#1", 4);
	g_assert_cmpstr (take (f), ==, "");
	fixture_free (f);

	/* an offer of somebody else's lease, or of our own, is ignored */
	f = fixture_passive ();
	at (f, 100);
	handover_offered (f, "c", "b#1", 4);
	handover_offered (f, "b", "a#1", 4);
	handover_offered (f, "b", NULL, 4);
	g_assert_cmpstr (take (f), ==, "");
	/* with a poll in flight, the take-over waits for its answer */
	at (f, 500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	handover_offered (f, "b", "b#1", 4);
	g_assert_cmpstr (take (f), ==, "");
	at (f, 510);
	ok (f, 2, "b#1", 4);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3 take_from=b#1@4");
	/* refused (the lease changed hands meanwhile): a passive as before,
	 * and a later expiry is not described as a switchover */
	at (f, 520);
	ok (f, 3, "c#1", 5);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_PASSIVE);
	at (f, 1010);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 4");
	ok (f, 4, "a#1", 6);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=6 until=3010; TRANSITION passive->active");
	g_assert_cmpstr (message (f, 0), ==, "Became active (epoch 6): the lease of c expired");
	fixture_free (f);
}

/* Both sides of a switchover against a lease table, with the renewal of
 * the old active reaching the arbiter after its release */
static void
test_switchover_pair (void)
{
	TandemHaLeaseTable *t = tandem_ha_lease_table_new (0);
	Fixture *a = fixture_new_full ("a", "a#1", TRUE);
	Fixture *b = fixture_new_full ("b", "b#1", TRUE);
	g_autofree char *holder = NULL;
	guint64 epoch = 0;
	TandemHaAction *offer;

	start (a);
	take (a);
	tandem_ha_lease_table_acquire (t, 0, "c", "a#1", TTL, NULL, 0, &holder, &epoch, NULL);
	ok (a, 1, holder, epoch);
	g_assert_cmpstr (take (a), ==, "PUBLISH epoch=1 until=2000; TRANSITION starting->active");
	start (b);
	take (b);
	/* connected to each other */
	peer_up (a, "b");
	peer_up (b, "a");
	g_clear_pointer (&holder, g_free);
	tandem_ha_lease_table_acquire (t, 0, "c", "b#1", TTL, NULL, 0, &holder, &epoch, NULL);
	ok (b, 1, holder, epoch);
	g_assert_cmpstr (take (b), ==, "TRANSITION starting->syncing");
	tandem_ha_machine_sync_done (b->m, b->now, b->actions);
	g_assert_cmpstr (take (b), ==, "TRANSITION syncing->passive; ACQUIRE 2");
	ok (b, 2, holder, epoch);
	take (b);

	/* a renews at 500; the renewal is slow */
	at (a, 500);
	tick (a);
	g_assert_cmpstr (take (a), ==, "ACQUIRE 2");
	at (a, 510);
	g_assert_true (step_down (a));
	offer = &g_array_index (a->actions, TandemHaAction, a->actions->len - 1);
	g_assert_cmpint (offer->type, ==, TANDEM_HA_ACTION_HAND_OVER);
	at (b, 515);
	handover_offered (b, "a", offer->take_from, offer->take_from_epoch);
	g_assert_cmpstr (take (a), ==, "UNPUBLISH; TRANSITION active->starting; HAND_OVER a#1@1");
	g_assert_cmpstr (take (b), ==, "ACQUIRE 3 take_from=a#1@1");
	/* the old renewal reaches the arbiter (and extends a's lease), then
	 * b's take-over, which wins anyway */
	tandem_ha_lease_table_acquire (t, 521, "c", "a#1", TTL, NULL, 0, NULL, NULL, NULL);
	g_clear_pointer (&holder, g_free);
	tandem_ha_lease_table_acquire (t, 522, "c", "b#1", TTL, "a#1", 1, &holder, &epoch, NULL);
	g_assert_cmpstr (holder, ==, "b#1");
	g_assert_cmpuint (epoch, ==, 2);
	at (b, 525);
	ok (b, 3, holder, epoch);
	g_assert_cmpstr (take (b), ==, "PUBLISH epoch=2 until=2515; TRANSITION passive->active");
	/* the renewal's answer reaches a: ignored */
	at (a, 526);
	ok (a, 2, "a#1", 1);
	g_assert_cmpstr (take (a), ==, "");
	/* b's status reaches a, which asks and follows */
	at (a, 530);
	peer_status (a, "b", TANDEM_HA_STATE_ACTIVE, 2);
	g_assert_cmpstr (take (a), ==, "ACQUIRE 3 take_from=a#1@1");
	g_clear_pointer (&holder, g_free);
	tandem_ha_lease_table_acquire (t, 531, "c", "a#1.1", TTL, "a#1", 1, &holder, &epoch, NULL);
	g_assert_cmpstr (holder, ==, "b#1");
	ok (a, 3, holder, epoch);
	g_assert_cmpstr (take (a), ==, "TRANSITION starting->syncing");
	assert_message_has (a, 0, "Syncing: b is active (epoch 2)");
	fixture_free (a);
	fixture_free (b);
	tandem_ha_lease_table_free (t);
}

/* Syncing (HA part 2) */

static void
test_syncing (void)
{
	Fixture *f = fixture_new_full ("a", "a#1", TRUE);

	start (f);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->starting; ACQUIRE 1");
	peer_up (f, "b");
	at (f, 10);
	ok (f, 1, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->syncing");
	g_assert_cmpstr (message (f, 0), ==, "Syncing: b is active (epoch 2); copying its state");
	/* no lease attempts while syncing */
	g_assert_cmpint (deadline (f), ==, G_MAXINT64);
	at (f, 5000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "");
	peer_down (f, "c", TRUE, NULL);
	g_assert_cmpstr (take (f), ==, "");
	tandem_ha_machine_sync_done (f->m, f->now, f->actions);
	g_assert_cmpstr (take (f), ==, "TRANSITION syncing->passive; ACQUIRE 2");
	g_assert_cmpstr (message (f, 0), ==, "Became passive: state copied from b (epoch 2)");
	/* sync_done in another state: ignored */
	tandem_ha_machine_sync_done (f->m, f->now, f->actions);
	g_assert_cmpstr (take (f), ==, "");
	ok (f, 2, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "");
	g_assert_cmpint (deadline (f), ==, 5500);
	fixture_free (f);
}

static void
test_syncing_active_lost (void)
{
	Fixture *f = fixture_new_full ("a", "a#1", TRUE);

	start (f);
	peer_up (f, "b");
	ok (f, 1, "b#1", 2);
	take (f);
	at (f, 300);
	peer_down (f, "b", TRUE, "connection reset");
	g_assert_cmpstr (take (f), ==,
			 "WARN; TRANSITION syncing->starting; ACQUIRE 2 take_from=b#1@2");
	assert_message_has (f, 0, "Lost the state sync: the active b left (connection reset)");
	ok (f, 2, "a#1", 3);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=3 until=2300; TRANSITION starting->active");
	fixture_free (f);

	/* a silent active: no take-over; it is followed again once it
	 * connects again */
	f = fixture_new_full ("a", "a#1", TRUE);
	start (f);
	peer_up (f, "b");
	ok (f, 1, "b#1", 2);
	take (f);
	at (f, 300);
	peer_down (f, "b", FALSE, "heartbeat timeout");
	g_assert_cmpstr (take (f), ==, "WARN; TRANSITION syncing->starting; ACQUIRE 2");
	ok (f, 2, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "WARN");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	at (f, 400);
	peer_up (f, "b");
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	ok (f, 3, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "TRANSITION starting->syncing");
	fixture_free (f);
}

/* A node starting alone finds the lease of a node it does not reach (gone
 * since a full stop): it cannot copy that node's state, so it waits for
 * the lease to expire (or the node to connect) instead of syncing forever */
static void
test_syncing_waits_for_unreachable_holder (void)
{
	Fixture *f = fixture_new_full ("a", "a#1", TRUE);

	start (f);
	take (f);
	at (f, 10);
	ok (f, 1, "b#7", 2);
	g_assert_cmpstr (take (f), ==, "WARN");
	g_assert_cmpstr (message (f, 0), ==,
			 "The lease is held by b (epoch 2), which this node does not reach: waiting for it "
			 "to connect, or for its lease to expire");
	g_assert_cmpint (state (f), ==, TANDEM_HA_STATE_STARTING);
	/* it polls; the same answer is not logged again */
	at (f, 510);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	ok (f, 2, "b#7", 2);
	g_assert_cmpstr (take (f), ==, "");
	/* the lease expired: this node takes it, with the state it has */
	at (f, 1010);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 3");
	ok (f, 3, "a#1", 3);
	g_assert_cmpstr (take (f), ==, "PUBLISH epoch=3 until=3010; TRANSITION starting->active");
	g_assert_cmpstr (message (f, 0), ==, "Became active (epoch 3): the lease of b expired");
	fixture_free (f);
}

static void
test_fenced_to_syncing (void)
{
	Fixture *f = fixture_new_full ("a", "a#1", TRUE);

	start (f);
	peer_up (f, "b");
	ok (f, 1, "a#1", 1);
	take (f);
	at (f, 500);
	tick (f);
	ok (f, 2, "b#1", 2);
	g_assert_cmpstr (take (f), ==,
			 "ACQUIRE 2; UNPUBLISH; TRANSITION active->fenced; ACQUIRE 3");
	ok (f, 3, "b#1", 2);
	g_assert_cmpstr (take (f), ==, "TRANSITION fenced->syncing");
	assert_message_has (f, 0, "Syncing after fencing: b is active (epoch 2)");
	fixture_free (f);
}

static void
test_next_deadline (void)
{
	Fixture *f = fixture_new ();

	g_assert_cmpint (deadline (f), ==, G_MAXINT64);
	at (f, 1000);
	start (f);
	take (f);
	g_assert_cmpint (deadline (f), ==, 1000 + TTL);
	at (f, 1100);
	ok (f, 1, "a#1", 1);
	take (f);
	/* active: renewal at 1500, deadline at 3000 */
	g_assert_cmpint (deadline (f), ==, 1500);
	at (f, 1500);
	tick (f);
	g_assert_cmpstr (take (f), ==, "ACQUIRE 2");
	g_assert_cmpint (deadline (f), ==, 3000);
	at (f, 2900);
	err (f, 2, "down");
	/* the renewal due at 2000 is sent at once */
	g_assert_cmpstr (take (f), ==, "WARN; ACQUIRE 3");
	g_assert_cmpint (deadline (f), ==, 3000);
	at (f, 3000);
	tick (f);
	g_assert_cmpstr (take (f), ==, "UNPUBLISH; TRANSITION active->fenced");
	/* fenced with request 3 in flight since 2900 */
	g_assert_cmpint (deadline (f), ==, 2900 + TTL);
	fixture_free (f);
}

/* The lease table */

typedef struct {
	char *holder;
	guint64 epoch;
	gint64 remaining;
} Lease;

static void
acquire (TandemHaLeaseTable *t,
	 gint64 now,
	 const char *holder,
	 gint64 ttl,
	 const char *take_from,
	 guint64 take_from_epoch,
	 const char *want_holder,
	 guint64 want_epoch,
	 gint64 want_remaining)
{
	g_autofree char *h = NULL;
	guint64 epoch = 0;
	gint64 remaining = -1;

	tandem_ha_lease_table_acquire (t, now, "c1", holder, ttl, take_from, take_from_epoch, &h,
				       &epoch, &remaining);
	g_assert_cmpstr (h, ==, want_holder);
	g_assert_cmpuint (epoch, ==, want_epoch);
	g_assert_cmpint (remaining, ==, want_remaining);
}

static void
test_lease_table (void)
{
	TandemHaLeaseTable *t = tandem_ha_lease_table_new (0);
	g_autofree char *h = NULL;
	guint64 epoch = 99;
	gint64 remaining = -1;

	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (t), ==, 0);
	/* a release of a lease nobody holds: nothing */
	acquire (t, 0, "a#1", 0, NULL, 0, NULL, 0, 0);
	/* free */
	acquire (t, 0, "a#1", 3000, NULL, 0, "a#1", 1, 3000);
	/* held: refused, the lease as it is */
	acquire (t, 100, "b#1", 3000, NULL, 0, "a#1", 1, 2900);
	/* own renewal: same epoch, runs from now */
	acquire (t, 1000, "a#1", 3000, NULL, 0, "a#1", 1, 3000);
	/* take_from with the wrong epoch or holder: refused */
	acquire (t, 1100, "b#1", 3000, "a#1", 2, "a#1", 1, 2900);
	acquire (t, 1100, "b#1", 3000, "a#2", 1, "a#1", 1, 2900);
	/* a release by another holder: nothing */
	acquire (t, 1100, "b#1", 0, NULL, 0, "a#1", 1, 2900);
	/* take_from matching: handed over before it expires */
	acquire (t, 1200, "b#1", 3000, "a#1", 1, "b#1", 2, 3000);
	/* expired (at exactly now + ttl) */
	acquire (t, 4199, "a#2", 3000, NULL, 0, "b#1", 2, 1);
	acquire (t, 4200, "a#2", 3000, NULL, 0, "a#2", 3, 3000);
	/* release by the holder: expires now, taken at once, a new epoch */
	acquire (t, 5000, "a#2", 0, NULL, 0, "a#2", 3, 0);
	acquire (t, 5000, "b#1", 3000, NULL, 0, "b#1", 4, 3000);
	/* the same holder again after its lease expired keeps its epoch */
	acquire (t, 9000, "b#1", 3000, NULL, 0, "b#1", 4, 3000);
	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (t), ==, 4);

	/* clusters are independent; outputs are optional */
	tandem_ha_lease_table_acquire (t, 0, "c2", "x#1", 1000, NULL, 0, NULL, NULL, NULL);
	tandem_ha_lease_table_acquire (t, 0, "c2", "y#1", 1000, NULL, 0, &h, &epoch, &remaining);
	g_assert_cmpstr (h, ==, "x#1");
	g_assert_cmpuint (epoch, ==, 1);
	g_assert_cmpint (remaining, ==, 1000);
	g_clear_pointer (&h, g_free);
	tandem_ha_lease_table_acquire (t, 0, "c3", "y#1", 0, NULL, 0, &h, &epoch, &remaining);
	g_assert_null (h);
	g_assert_cmpuint (epoch, ==, 0);
	g_assert_cmpint (remaining, ==, 0);
	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (t), ==, 4);
	tandem_ha_lease_table_free (t);
	tandem_ha_lease_table_free (NULL);
}

static void
test_lease_table_first_epoch (void)
{
	/* a witness restarted with the highest epoch it handed out before */
	TandemHaLeaseTable *t = tandem_ha_lease_table_new (41);

	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (t), ==, 41);
	acquire (t, 0, "a#1", 3000, NULL, 0, "a#1", 42, 3000);
	acquire (t, 3000, "b#1", 3000, NULL, 0, "b#1", 43, 3000);
	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (t), ==, 43);
	tandem_ha_lease_table_acquire (t, 0, "other", "z#1", 3000, NULL, 0, NULL, NULL, NULL);
	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (t), ==, 43);
	acquire (t, 6000, "a#1", 3000, NULL, 0, "a#1", 44, 3000);
	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (t), ==, 44);
	tandem_ha_lease_table_free (t);
}

static void
test_lease_table_hold (void)
{
	/* a witness restarted at 10000 holds every lease for one ttl */
	TandemHaLeaseTable *t = tandem_ha_lease_table_new (7);

	tandem_ha_lease_table_hold_until (t, 13000);
	acquire (t, 10000, "a#1", 3000, NULL, 0, NULL, 0, 3000);
	acquire (t, 12000, "b#1", 3000, "a#1", 7, NULL, 0, 1000);
	acquire (t, 12999, "b#1", 3000, NULL, 0, NULL, 0, 1);
	/* a hold never shortens */
	tandem_ha_lease_table_hold_until (t, 11000);
	acquire (t, 12999, "a#1", 3000, NULL, 0, NULL, 0, 1);
	acquire (t, 13000, "b#1", 3000, NULL, 0, "b#1", 8, 3000);
	/* the holder it knows renews during a later hold; nobody else takes it */
	tandem_ha_lease_table_hold_until (t, 20000);
	acquire (t, 15000, "b#1", 3000, NULL, 0, "b#1", 8, 3000);
	acquire (t, 18500, "a#1", 3000, NULL, 0, "b#1", 8, 0);
	acquire (t, 18500, "b#1", 3000, NULL, 0, "b#1", 8, 3000);
	acquire (t, 20000, "a#1", 3000, NULL, 0, "b#1", 8, 1500);
	acquire (t, 21500, "a#1", 3000, NULL, 0, "a#1", 9, 3000);
	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (t), ==, 9);
	tandem_ha_lease_table_free (t);
}

/* The simulation */

#define CLUSTER "c"
#define N_NODES 2

typedef enum {
	EV_REQUEST,     /* a lease request reaches the arbiter */
	EV_RESULT,      /* its answer reaches the node */
	EV_PEER_STATUS, /* a status reaches the other node */
	EV_PEER_UP,
	EV_PEER_DOWN,
	EV_SYNC_DONE,
	EV_HANDOVER, /* a switchover's offer reaches the other node */
	EV_FAULT,
	EV_RESUME,
	EV_RESTART,
} EvKind;

typedef struct {
	gint64 time;
	guint64 order;
	EvKind kind;
	int node; /* the receiver (the sender for EV_REQUEST) */
	guint incarnation;
	guint request_id;
	char *holder;
	gint64 ttl;
	char *take_from;
	guint64 epoch; /* take_from epoch, result epoch, status epoch */
	char *peer;
	char *reason;
	TandemHaState state;
	gboolean died;
	guint gen;
} Event;

typedef struct {
	TandemHaMachine *m;
	char id[2];
	guint incarnation;
	char *holder;
	gboolean alive;
	gboolean paused;
	GQueue backlog; /* events that reached the node while it was paused */
	gboolean publish;
	guint64 epoch;
	gint64 until;
	guint sync_gen;
} SimNode;

typedef struct {
	GRand *rand;
	gboolean state_sync;
	gint64 now;
	guint64 order;
	GQueue events; /* sorted by time, then order */
	TandemHaLeaseTable *table;
	gint64 table_started; /* when the arbiter (a witness) last restarted */
	SimNode nodes[N_NODES];
	gint64 lossy_until; /* a period of heavy loss */
	guint64 max_published_epoch;
	GHashTable *epoch_holders; /* epoch -> holder that published under it */
	gint64 publishing_ms;
	guint n_takeovers;
	guint n_fenced;
	guint n_crashes;
	guint n_pauses;
	guint n_arbiter_restarts;
	guint n_switchovers;
	guint n_handed_over; /* switchovers that made the other node active */
	GArray *actions;
} Sim;

static void
event_free (Event *ev)
{
	g_free (ev->holder);
	g_free (ev->take_from);
	g_free (ev->peer);
	g_free (ev->reason);
	g_free (ev);
}

static gint
event_cmp (gconstpointer a, gconstpointer b, gpointer data)
{
	const Event *x = a, *y = b;

	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	return x->order < y->order ? -1 : 1;
}

static Event *
sim_event (Sim *sim, gint64 time, EvKind kind, int node)
{
	Event *ev = g_new0 (Event, 1);

	ev->time = time;
	ev->order = sim->order++;
	ev->kind = kind;
	ev->node = node;
	ev->incarnation = sim->nodes[node].incarnation;
	g_queue_insert_sorted (&sim->events, ev, event_cmp, NULL);
	return ev;
}

/* Network delay of one message, or -1 if it is lost */
static gint64
sim_delay (Sim *sim)
{
	double loss = sim->now < sim->lossy_until ? 0.4 : 0.02;

	if (g_rand_double (sim->rand) < loss)
		return -1;
	if (g_rand_double (sim->rand) < 0.03)
		return g_rand_int_range (sim->rand, 500, 4000);
	return g_rand_int_range (sim->rand, 1, 30);
}

static void sim_apply (Sim *sim, int i);

static void
sim_send_status (Sim *sim, int from, TandemHaState state, guint64 epoch)
{
	int to = 1 - from;
	Event *ev;

	/* heartbeats run over TCP: late, but not lost while the session lasts */
	ev = sim_event (sim, sim->now + g_rand_int_range (sim->rand, 1, 20), EV_PEER_STATUS, to);
	ev->peer = g_strdup (sim->nodes[from].id);
	ev->state = state;
	ev->epoch = epoch;
}

static void
sim_check_publish_start (Sim *sim, SimNode *n)
{
	const char *holder =
		g_hash_table_lookup (sim->epoch_holders, GUINT_TO_POINTER ((guint) n->epoch));

	/* one holder per epoch, and epochs only grow */
	if (holder == NULL)
		g_hash_table_insert (sim->epoch_holders, GUINT_TO_POINTER ((guint) n->epoch),
				     g_strdup (n->holder));
	else
		g_assert_cmpstr (holder, ==, n->holder);
	g_assert_cmpuint (n->epoch, >=, sim->max_published_epoch);
	sim->max_published_epoch = n->epoch;
}

static void
sim_apply (Sim *sim, int i)
{
	SimNode *n = &sim->nodes[i];

	for (guint k = 0; k < sim->actions->len; k++) {
		TandemHaAction *a = &g_array_index (sim->actions, TandemHaAction, k);
		gint64 delay;
		Event *ev;

		switch (a->type) {
		case TANDEM_HA_ACTION_ACQUIRE_LEASE:
		case TANDEM_HA_ACTION_RELEASE_LEASE:
			delay = sim_delay (sim);
			if (delay < 0)
				break;
			ev = sim_event (sim, sim->now + delay, EV_REQUEST, i);
			ev->request_id = a->request_id;
			ev->holder = g_strdup (n->holder);
			ev->ttl = a->ttl_ms;
			ev->take_from = g_strdup (a->take_from);
			ev->epoch = a->take_from_epoch;
			if (a->take_from != NULL)
				sim->n_takeovers++;
			break;
		case TANDEM_HA_ACTION_SET_PUBLISH:
			n->publish = a->publish;
			if (a->publish) {
				gboolean was = n->until > sim->now && n->epoch == a->epoch;

				g_assert_cmpint (a->publish_until_ms, >, sim->now);
				n->epoch = a->epoch;
				n->until = a->publish_until_ms;
				if (!was)
					sim_check_publish_start (sim, n);
			} else {
				n->until = 0;
			}
			break;
		case TANDEM_HA_ACTION_TRANSITION:
			if (a->to == TANDEM_HA_STATE_FENCED)
				sim->n_fenced++;
			if (a->to == TANDEM_HA_STATE_ACTIVE &&
			    strstr (a->message, "handed the lease over") != NULL)
				sim->n_handed_over++;
			sim_send_status (sim, i, a->to, tandem_ha_machine_get_epoch (n->m));
			if (a->to == TANDEM_HA_STATE_SYNCING) {
				ev = sim_event (sim,
						sim->now + g_rand_int_range (sim->rand, 20, 400),
						EV_SYNC_DONE, i);
				ev->gen = ++n->sync_gen;
			}
			break;
		case TANDEM_HA_ACTION_WARN:
			break;
		case TANDEM_HA_ACTION_HAND_OVER:
			/* a channel message: late, but not lost while the session lasts */
			if (!sim->nodes[1 - i].alive)
				break;
			ev = sim_event (sim, sim->now + g_rand_int_range (sim->rand, 1, 20),
					EV_HANDOVER, 1 - i);
			ev->peer = g_strdup (n->id);
			ev->holder = g_strdup (a->take_from);
			ev->epoch = a->take_from_epoch;
			break;
		default:
			g_assert_not_reached ();
		}
	}
	g_array_set_size (sim->actions, 0);
	/* after every input the machine has nothing left to do now */
	g_assert_cmpint (tandem_ha_machine_get_next_deadline (n->m), >, sim->now);
}

static void
sim_restart (Sim *sim, int i)
{
	SimNode *n = &sim->nodes[i];
	TandemHaMachineConfig config;
	Event *ev;
	int other = 1 - i;

	tandem_ha_machine_config_init (&config);
	config.lease_ttl_ms = TTL;
	config.lease_renew_ms = RENEW;
	config.fence_margin_ms = MARGIN;
	config.state_sync = sim->state_sync;
	g_clear_pointer (&n->m, tandem_ha_machine_free);
	g_free (n->holder);
	n->incarnation++;
	n->holder = g_strdup_printf ("%s#%u", n->id, n->incarnation);
	n->m = tandem_ha_machine_new (n->id, n->holder, &config);
	n->alive = TRUE;
	n->paused = FALSE;
	n->publish = FALSE;
	n->until = 0;
	tandem_ha_machine_start (n->m, sim->now, sim->actions);
	sim_apply (sim, i);

	/* the sessions come up both ways */
	ev = sim_event (sim, sim->now + g_rand_int_range (sim->rand, 1, 20), EV_PEER_UP, other);
	ev->peer = g_strdup (n->id);
	if (sim->nodes[other].alive) {
		ev = sim_event (sim, sim->now + g_rand_int_range (sim->rand, 1, 20), EV_PEER_UP, i);
		ev->peer = g_strdup (sim->nodes[other].id);
		ev = sim_event (sim, ev->time, EV_PEER_STATUS, i);
		ev->peer = g_strdup (sim->nodes[other].id);
		ev->state = tandem_ha_machine_get_state (sim->nodes[other].m);
		ev->epoch = tandem_ha_machine_get_epoch (sim->nodes[other].m);
	}
}

static void
sim_peer_down (Sim *sim, int about, gint64 when, gboolean died, const char *reason)
{
	Event *ev = sim_event (sim, when, EV_PEER_DOWN, 1 - about);

	ev->peer = g_strdup (sim->nodes[about].id);
	ev->died = died;
	ev->reason = g_strdup (reason);
}

/* An event reaches a running node */
static void
sim_deliver (Sim *sim, Event *ev)
{
	SimNode *n = &sim->nodes[ev->node];

	switch (ev->kind) {
	case EV_RESULT: {
		TandemHaLeaseResult r = { 0 };

		r.request_id = ev->request_id;
		r.status = TANDEM_HA_LEASE_OK;
		r.holder = ev->holder;
		r.epoch = ev->epoch;
		r.remaining_ms = ev->ttl;
		tandem_ha_machine_lease_result (n->m, sim->now, &r, sim->actions);
		break;
	}
	case EV_PEER_STATUS:
		tandem_ha_machine_peer_status (n->m, sim->now, ev->peer, ev->state, ev->epoch,
					       sim->actions);
		break;
	case EV_PEER_UP:
		tandem_ha_machine_peer_up (n->m, sim->now, ev->peer, sim->actions);
		break;
	case EV_PEER_DOWN:
		tandem_ha_machine_peer_down (n->m, sim->now, ev->peer, ev->died, ev->reason,
					     sim->actions);
		break;
	case EV_SYNC_DONE:
		if (ev->gen == n->sync_gen)
			tandem_ha_machine_sync_done (n->m, sim->now, sim->actions);
		break;
	case EV_HANDOVER:
		tandem_ha_machine_handover_offered (n->m, sim->now, ev->peer, ev->holder, ev->epoch,
						    sim->actions);
		break;
	case EV_REQUEST:
	case EV_FAULT:
	case EV_RESUME:
	case EV_RESTART:
	default:
		g_assert_not_reached ();
	}
	sim_apply (sim, ev->node);
}

static void
sim_fault (Sim *sim)
{
	int i = g_rand_int_range (sim->rand, 0, N_NODES);
	SimNode *n = &sim->nodes[i];
	double r = g_rand_double (sim->rand);

	if (g_rand_double (sim->rand) < 0.3) {
		/* an operator's switchover on the active node */
		if (!n->alive || n->paused)
			return;
		if (tandem_ha_machine_step_down (n->m, sim->now, "switchover", sim->actions))
			sim->n_switchovers++;
		sim_apply (sim, i);
		g_free (n->holder);
		n->holder = g_strdup (tandem_ha_machine_get_holder (n->m));
		return;
	}
	if (r < 0.4) {
		/* a process pause (SIGSTOP, a long GC, a VM migration) */
		gint64 duration = g_rand_int_range (sim->rand, 100, 6000);

		if (!n->alive || n->paused)
			return;
		sim->n_pauses++;
		n->paused = TRUE;
		sim_event (sim, sim->now + duration, EV_RESUME, i);
		if (duration > 600)
			sim_peer_down (sim, i, sim->now + 600, FALSE, "heartbeat timeout");
	} else if (r < 0.65) {
		/* a crash: the kernel closes the sockets, the peer sees it */
		if (!n->alive)
			return;
		sim->n_crashes++;
		n->alive = FALSE;
		n->paused = FALSE;
		n->publish = FALSE;
		g_queue_clear_full (&n->backlog, (GDestroyNotify) event_free);
		sim_peer_down (sim, i, sim->now + g_rand_int_range (sim->rand, 1, 10), TRUE,
			       "connection reset");
		sim_event (sim, sim->now + g_rand_int_range (sim->rand, 200, 4000), EV_RESTART, i);
	} else if (r < 0.8) {
		/* an orderly stop, then a start */
		if (!n->alive || n->paused)
			return;
		tandem_ha_machine_stop (n->m, sim->now, "SIGTERM", sim->actions);
		sim_apply (sim, i);
		n->alive = FALSE;
		sim_peer_down (sim, i, sim->now + g_rand_int_range (sim->rand, 1, 10), FALSE,
			       "goodbye");
		sim_event (sim, sim->now + g_rand_int_range (sim->rand, 200, 4000), EV_RESTART, i);
	} else if (r < 0.92) {
		/* the network loses many messages for a while */
		sim->lossy_until = sim->now + g_rand_int_range (sim->rand, 500, 5000);
	} else {
		/* the witness restarts: it lost its leases, kept its highest
		 * epoch, and holds the leases for one ttl */
		guint64 max_epoch = tandem_ha_lease_table_get_max_epoch (sim->table);

		sim->n_arbiter_restarts++;
		tandem_ha_lease_table_free (sim->table);
		sim->table = tandem_ha_lease_table_new (max_epoch);
		tandem_ha_lease_table_hold_until (sim->table, sim->now + TTL);
		sim->table_started = sim->now;
	}
}

static void
sim_handle (Sim *sim, Event *ev)
{
	SimNode *n = &sim->nodes[ev->node];

	switch (ev->kind) {
	case EV_REQUEST: {
		g_autofree char *holder = NULL;
		guint64 epoch;
		gint64 remaining;
		gint64 delay;
		Event *res;

		tandem_ha_lease_table_acquire (sim->table, sim->now, CLUSTER, ev->holder, ev->ttl,
					       ev->take_from, ev->epoch, &holder, &epoch,
					       &remaining);
		if (ev->ttl == 0)
			break;
		delay = sim_delay (sim);
		if (delay < 0)
			break;
		res = sim_event (sim, sim->now + delay, EV_RESULT, ev->node);
		res->incarnation = ev->incarnation;
		res->request_id = ev->request_id;
		res->holder = g_steal_pointer (&holder);
		res->epoch = epoch;
		res->ttl = remaining;
		break;
	}
	case EV_FAULT:
		sim_fault (sim);
		sim_event (sim, sim->now + g_rand_int_range (sim->rand, 1000, 6000), EV_FAULT, 0);
		break;
	case EV_RESUME:
		if (ev->incarnation != n->incarnation || !n->alive || !n->paused)
			break;
		n->paused = FALSE;
		/* what arrived meanwhile, then what is due */
		while (!g_queue_is_empty (&n->backlog)) {
			Event *late = g_queue_pop_head (&n->backlog);

			sim_deliver (sim, late);
			event_free (late);
		}
		tandem_ha_machine_tick (n->m, sim->now, sim->actions);
		sim_apply (sim, ev->node);
		{
			Event *up = sim_event (sim, sim->now + 5, EV_PEER_UP, 1 - ev->node);

			up->peer = g_strdup (n->id);
			sim_send_status (sim, ev->node, tandem_ha_machine_get_state (n->m),
					 tandem_ha_machine_get_epoch (n->m));
		}
		break;
	case EV_RESTART:
		sim_restart (sim, ev->node);
		break;
	case EV_RESULT:
	case EV_PEER_STATUS:
	case EV_PEER_UP:
	case EV_PEER_DOWN:
	case EV_SYNC_DONE:
	case EV_HANDOVER:
	default:
		if (ev->incarnation != n->incarnation || !n->alive)
			break;
		if (n->paused) {
			g_queue_push_tail (&n->backlog, g_steal_pointer (&ev));
			return;
		}
		sim_deliver (sim, ev);
		break;
	}
	event_free (ev);
}

/* The lease as the table has it now (a release by nobody reads it) */
static void
sim_peek (Sim *sim, char **holder, guint64 *epoch, gint64 *remaining)
{
	tandem_ha_lease_table_acquire (sim->table, sim->now, CLUSTER, "nobody#0", 0, NULL, 0,
				       holder, epoch, remaining);
}

static gboolean
sim_publishing (Sim *sim, SimNode *n)
{
	return n->alive && n->publish && sim->now < n->until;
}

static void
sim_check (Sim *sim)
{
	guint publishing = 0;

	for (int i = 0; i < N_NODES; i++) {
		SimNode *n = &sim->nodes[i];

		if (!sim_publishing (sim, n))
			continue;
		publishing++;
		/* a node publishes only under a lease the arbiter still gives
		 * it, at the epoch it publishes with (unless it was granted by
		 * an arbiter that restarted since) */
		if (n->until - (TTL - MARGIN) >= sim->table_started) {
			g_autofree char *holder = NULL;
			guint64 epoch;
			gint64 remaining;

			sim_peek (sim, &holder, &epoch, &remaining);
			g_assert_cmpstr (holder, ==, n->holder);
			g_assert_cmpuint (epoch, ==, n->epoch);
			g_assert_cmpint (remaining, >, 0);
		}
	}
	g_assert_cmpuint (publishing, <=, 1);
}

static void
sim_run (guint32 seed, gboolean state_sync, guint steps)
{
	Sim sim = { 0 };

	sim.rand = g_rand_new_with_seed (seed);
	sim.state_sync = state_sync;
	sim.table = tandem_ha_lease_table_new (0);
	sim.epoch_holders = g_hash_table_new_full (NULL, NULL, NULL, g_free);
	sim.actions = tandem_ha_actions_new ();
	for (int i = 0; i < N_NODES; i++) {
		sim.nodes[i].id[0] = (char) ('a' + i);
		g_queue_init (&sim.nodes[i].backlog);
	}
	sim_restart (&sim, 0);
	sim_event (&sim, g_rand_int_range (sim.rand, 0, 100), EV_RESTART, 1);
	sim_event (&sim, 2000, EV_FAULT, 0);

	for (guint step = 0; step < steps; step++) {
		Event *head = g_queue_peek_head (&sim.events);
		gint64 next = head != NULL ? head->time : G_MAXINT64;
		int tick_node = -1;

		for (int i = 0; i < N_NODES; i++) {
			SimNode *n = &sim.nodes[i];
			gint64 d;

			if (!n->alive || n->paused)
				continue;
			d = tandem_ha_machine_get_next_deadline (n->m);
			g_assert_cmpint (d, >=, sim.now);
			if (d <= next) {
				next = d;
				tick_node = i;
			}
		}
		g_assert_cmpint (next, <, G_MAXINT64);
		g_assert_cmpint (next, >=, sim.now);

		/* count the time somebody publishes (a liveness figure) */
		for (int i = 0; i < N_NODES; i++) {
			SimNode *n = &sim.nodes[i];

			if (n->alive && n->publish && n->until > sim.now)
				sim.publishing_ms += MIN (n->until, next) - sim.now;
		}
		sim.now = next;

		if (tick_node >= 0) {
			tandem_ha_machine_tick (sim.nodes[tick_node].m, sim.now, sim.actions);
			sim_apply (&sim, tick_node);
		} else {
			sim_handle (&sim, g_queue_pop_head (&sim.events));
		}
		sim_check (&sim);
	}

	g_test_message ("seed %u%s: %" G_GINT64_FORMAT
			" ms simulated, published %.0f%% of the time, "
			"max epoch %" G_GUINT64_FORMAT
			", %u take-over requests, %u fencings, %u crashes, %u pauses, "
			"%u arbiter restarts, %u switchovers (%u handed over)",
			seed, state_sync ? " (state sync)" : "", sim.now,
			100.0 * (double) sim.publishing_ms / (double) sim.now,
			tandem_ha_lease_table_get_max_epoch (sim.table), sim.n_takeovers,
			sim.n_fenced, sim.n_crashes, sim.n_pauses, sim.n_arbiter_restarts,
			sim.n_switchovers, sim.n_handed_over);
	/* the run exercised hand-overs, and the cluster was mostly served */
	g_assert_cmpuint (tandem_ha_lease_table_get_max_epoch (sim.table), >=, 5);
	g_assert_cmpuint (sim.n_crashes, >, 0);
	g_assert_cmpuint (sim.n_pauses, >, 0);
	g_assert_cmpuint (sim.n_arbiter_restarts, >, 0);
	g_assert_cmpuint (sim.n_fenced, >, 0);
	g_assert_cmpuint (sim.n_switchovers, >, 0);
	g_assert_cmpuint (sim.n_handed_over, >, 0);
	g_assert_cmpint (sim.publishing_ms, >, sim.now / 2);

	for (int i = 0; i < N_NODES; i++) {
		g_clear_pointer (&sim.nodes[i].m, tandem_ha_machine_free);
		g_free (sim.nodes[i].holder);
		g_queue_clear_full (&sim.nodes[i].backlog, (GDestroyNotify) event_free);
	}
	g_queue_clear_full (&sim.events, (GDestroyNotify) event_free);
	g_hash_table_unref (sim.epoch_holders);
	g_array_unref (sim.actions);
	tandem_ha_lease_table_free (sim.table);
	g_rand_free (sim.rand);
}

static void
test_simulation (void)
{
	for (guint32 seed = 1; seed <= 3; seed++)
		sim_run (seed, FALSE, 10000);
}

static void
test_simulation_state_sync (void)
{
	for (guint32 seed = 1; seed <= 3; seed++)
		sim_run (seed, TRUE, 10000);
}

int
main (int argc, char **argv)
{
	g_test_init (&argc, &argv, NULL);

	g_test_add_func ("/ha-machine/state-strings", test_state_strings);
	g_test_add_func ("/ha-machine/holder-node-id", test_holder_node_id);
	g_test_add_func ("/ha-machine/config", test_config);
	g_test_add_func ("/ha-machine/actions-clear", test_actions_clear);
	g_test_add_func ("/ha-machine/start/active-free", test_start_active_free);
	g_test_add_func ("/ha-machine/start/passive-held", test_start_passive_held);
	g_test_add_func ("/ha-machine/start/peer-active-asks-now", test_start_peer_active_asks_now);
	g_test_add_func ("/ha-machine/syncing/waits-for-unreachable-holder", test_syncing_waits_for_unreachable_holder);
	g_test_add_func ("/ha-machine/start/error-retry", test_start_error_retry);
	g_test_add_func ("/ha-machine/start/previous-run", test_start_previous_run);
	g_test_add_func ("/ha-machine/start/late-grant", test_late_grant);
	g_test_add_func ("/ha-machine/passive/polling", test_passive_polling);
	g_test_add_func ("/ha-machine/passive/peer-status", test_passive_peer_status);
	g_test_add_func ("/ha-machine/passive/takeover-died", test_takeover_died);
	g_test_add_func ("/ha-machine/passive/takeover-died-in-flight",
			 test_takeover_died_in_flight);
	g_test_add_func ("/ha-machine/passive/takeover-refused", test_takeover_refused);
	g_test_add_func ("/ha-machine/passive/no-take-from-on-timeout",
			 test_no_take_from_on_timeout);
	g_test_add_func ("/ha-machine/passive/goodbye-release", test_goodbye_release);
	g_test_add_func ("/ha-machine/active/renewal", test_active_renewal);
	g_test_add_func ("/ha-machine/active/error-fenced-at-deadline",
			 test_active_error_fenced_at_deadline);
	g_test_add_func ("/ha-machine/active/no-answer-fenced", test_active_no_answer_fenced);
	g_test_add_func ("/ha-machine/active/late-tick", test_active_late_tick);
	g_test_add_func ("/ha-machine/active/lease-lost", test_lease_lost);
	g_test_add_func ("/ha-machine/active/lease-epoch-changed", test_lease_epoch_changed);
	g_test_add_func ("/ha-machine/active/higher-epoch-peer", test_higher_epoch_peer);
	g_test_add_func ("/ha-machine/active/tie-break", test_tie_break);
	g_test_add_func ("/ha-machine/active/late-answer-fences", test_late_answer_fences_active);
	g_test_add_func ("/ha-machine/stale-epoch", test_stale_epoch);
	g_test_add_func ("/ha-machine/stale-own-epoch", test_stale_own_epoch);
	g_test_add_func ("/ha-machine/lost-request", test_lost_request);
	g_test_add_func ("/ha-machine/stop/active", test_stop_active);
	g_test_add_func ("/ha-machine/stop/not-active", test_stop_not_active);
	g_test_add_func ("/ha-machine/switchover/step-down", test_step_down);
	g_test_add_func ("/ha-machine/switchover/step-down-state-sync", test_step_down_state_sync);
	g_test_add_func ("/ha-machine/switchover/nobody-takes", test_step_down_nobody_takes);
	g_test_add_func ("/ha-machine/switchover/handover-offered", test_handover_offered);
	g_test_add_func ("/ha-machine/switchover/pair", test_switchover_pair);
	g_test_add_func ("/ha-machine/syncing/done", test_syncing);
	g_test_add_func ("/ha-machine/syncing/active-lost", test_syncing_active_lost);
	g_test_add_func ("/ha-machine/syncing/after-fencing", test_fenced_to_syncing);
	g_test_add_func ("/ha-machine/next-deadline", test_next_deadline);
	g_test_add_func ("/ha-machine/lease-table/rules", test_lease_table);
	g_test_add_func ("/ha-machine/lease-table/first-epoch", test_lease_table_first_epoch);
	g_test_add_func ("/ha-machine/lease-table/hold", test_lease_table_hold);
	g_test_add_func ("/ha-machine/simulation", test_simulation);
	g_test_add_func ("/ha-machine/simulation-state-sync", test_simulation_state_sync);

	return g_test_run ();
}
