/* tandem-receiver.h: base class of receiver plugins
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#if !defined(__TANDEM_H_INSIDE__) && !defined(TANDEM_COMPILATION)
#error "Only <tandem.h> can be included directly."
#endif

#include "tandem-plugin.h"

G_BEGIN_DECLS

#define TANDEM_TYPE_RECEIVER (tandem_receiver_get_type ())
TANDEM_AVAILABLE_IN_ALL
G_DECLARE_DERIVABLE_TYPE (TandemReceiver, tandem_receiver, TANDEM, RECEIVER, TandemPlugin)

/**
 * TandemReceiverClass:
 * @parent_class: the parent class
 * @pause: stop taking new events from clients (stop reading sockets, answer
 *   503) because the node's bounded ingest queue is full.  Events already
 *   taken are still delivered; nothing is dropped.
 * @resume: take events again after a @pause.
 *
 * Receivers take events in from clients and hand them to the node's ingest.
 * Every receiver section accepts the key `duplicated_in_cluster` (see
 * #TandemReceiver:duplicated-in-cluster).
 */
struct _TandemReceiverClass {
	TandemPluginClass parent_class;

	void (*pause) (TandemReceiver *self);
	void (*resume) (TandemReceiver *self);

	/*< private >*/
	gpointer padding[14];
};

TANDEM_AVAILABLE_IN_ALL
gboolean tandem_receiver_get_duplicated_in_cluster (TandemReceiver *self);
TANDEM_AVAILABLE_IN_ALL
gboolean tandem_receiver_is_paused (TandemReceiver *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_receiver_pause (TandemReceiver *self);
TANDEM_AVAILABLE_IN_ALL
void tandem_receiver_resume (TandemReceiver *self);

G_END_DECLS
