/* tandem-tcp-receiver.h: the tcp receiver plugin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <tandem.h>

G_BEGIN_DECLS

/**
 * TANDEM_TYPE_TCP_RECEIVER:
 *
 * The #GType of #TandemTcpReceiver.
 */
#define TANDEM_TYPE_TCP_RECEIVER (tandem_tcp_receiver_get_type ())
G_DECLARE_FINAL_TYPE (TandemTcpReceiver, tandem_tcp_receiver, TANDEM, TCP_RECEIVER, TandemReceiver)

G_END_DECLS
