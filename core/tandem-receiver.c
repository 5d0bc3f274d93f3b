/* tandem-receiver.c: base class of receiver plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "Tandem-Receiver"

#include "config.h"

#include "tandem-receiver.h"

/**
 * TandemReceiver:
 *
 * The base class of receiver plugins (`plugins/receivers/`).  A receiver
 * takes events from clients and hands them to the node's ingest; it answers a
 * client with success only once the node accepted the events.
 *
 * When the node's bounded ingest queue is full it calls
 * tandem_receiver_pause(); the receiver then stops reading from its clients
 * (back-pressure) instead of dropping anything, until tandem_receiver_resume().
 */

typedef struct {
	gboolean duplicated_in_cluster;
	gboolean paused;
} TandemReceiverPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (TandemReceiver, tandem_receiver, TANDEM_TYPE_PLUGIN)

enum {
	PROP_0,
	PROP_DUPLICATED_IN_CLUSTER,
	PROP_PAUSED,
	N_PROPS,
};

static GParamSpec *props[N_PROPS];

static void
tandem_receiver_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	TandemReceiver *self = TANDEM_RECEIVER (object);
	TandemReceiverPrivate *priv = tandem_receiver_get_instance_private (self);

	switch (prop_id) {
	case PROP_DUPLICATED_IN_CLUSTER:
		g_value_set_boolean (value, priv->duplicated_in_cluster);
		break;
	case PROP_PAUSED:
		g_value_set_boolean (value, priv->paused);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_receiver_set_property (GObject *object,
			      guint prop_id,
			      const GValue *value,
			      GParamSpec *pspec)
{
	TandemReceiver *self = TANDEM_RECEIVER (object);
	TandemReceiverPrivate *priv = tandem_receiver_get_instance_private (self);

	switch (prop_id) {
	case PROP_DUPLICATED_IN_CLUSTER:
		priv->duplicated_in_cluster = g_value_get_boolean (value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
	}
}

static void
tandem_receiver_class_init (TandemReceiverClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS (klass);

	object_class->get_property = tandem_receiver_get_property;
	object_class->set_property = tandem_receiver_set_property;

	/**
	 * TandemReceiver:duplicated-in-cluster:
	 *
	 * Config key `duplicated_in_cluster`.  When %TRUE, clients send every
	 * event to both nodes of the cluster (as the `duplicatedInCluster`
	 * receivers of the deployment Tandem replaces) and the nodes match
	 * events by id instead of copying them to each other.
	 */
	props[PROP_DUPLICATED_IN_CLUSTER] =
		g_param_spec_boolean ("duplicated-in-cluster", NULL, NULL, FALSE,
				      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
				      TANDEM_PARAM_CONFIG);
	/**
	 * TandemReceiver:paused:
	 *
	 * Whether the node asked the receiver to stop taking events.
	 */
	props[PROP_PAUSED] = g_param_spec_boolean ("paused", NULL, NULL, FALSE,
						   G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY |
						   G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties (object_class, N_PROPS, props);
}

static void
tandem_receiver_init (TandemReceiver *self)
{
}

/**
 * tandem_receiver_get_duplicated_in_cluster:
 * @self: a #TandemReceiver
 *
 * Returns: the value of #TandemReceiver:duplicated-in-cluster
 */
gboolean
tandem_receiver_get_duplicated_in_cluster (TandemReceiver *self)
{
	TandemReceiverPrivate *priv = tandem_receiver_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_RECEIVER (self), FALSE);
	return priv->duplicated_in_cluster;
}

/**
 * tandem_receiver_is_paused:
 * @self: a #TandemReceiver
 *
 * Returns: %TRUE between tandem_receiver_pause() and tandem_receiver_resume()
 */
gboolean
tandem_receiver_is_paused (TandemReceiver *self)
{
	TandemReceiverPrivate *priv = tandem_receiver_get_instance_private (self);

	g_return_val_if_fail (TANDEM_IS_RECEIVER (self), FALSE);
	return priv->paused;
}

static void
set_paused (TandemReceiver *self, gboolean paused)
{
	TandemReceiverPrivate *priv = tandem_receiver_get_instance_private (self);
	TandemReceiverClass *klass = TANDEM_RECEIVER_GET_CLASS (self);

	if (priv->paused == paused)
		return;
	priv->paused = paused;
	if (paused && klass->pause != NULL)
		klass->pause (self);
	else if (!paused && klass->resume != NULL)
		klass->resume (self);
	g_object_notify_by_pspec (G_OBJECT (self), props[PROP_PAUSED]);
}

/**
 * tandem_receiver_pause:
 * @self: a #TandemReceiver
 *
 * Asks @self to stop taking events from its clients.  Pausing a paused
 * receiver does nothing.
 */
void
tandem_receiver_pause (TandemReceiver *self)
{
	g_return_if_fail (TANDEM_IS_RECEIVER (self));
	set_paused (self, TRUE);
}

/**
 * tandem_receiver_resume:
 * @self: a #TandemReceiver
 *
 * Lets @self take events again after tandem_receiver_pause().
 */
void
tandem_receiver_resume (TandemReceiver *self)
{
	g_return_if_fail (TANDEM_IS_RECEIVER (self));
	set_paused (self, FALSE);
}
