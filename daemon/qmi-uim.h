/* qmi-uim.h — builds and parses the raw QMI UIM messages libqmi 1.32 has no API for. */
#pragma once

#include <glib.h>
#include <libqmi-glib.h>

G_BEGIN_DECLS

#define ESIMD_QMI_UIM_SEND_APDU            0x003B
#define ESIMD_QMI_UIM_LOGICAL_CHANNEL      0x003F
#define ESIMD_QMI_UIM_OPEN_LOGICAL_CHANNEL 0x0042

QmiMessage *esimd_qmi_uim_open_channel_new (guint8 cid, guint16 tid, guint8 slot, GBytes *aid);
QmiMessage *esimd_qmi_uim_send_apdu_new (guint8 cid, guint16 tid, guint8 slot, guint8 channel,
                                         GBytes *apdu);
QmiMessage *esimd_qmi_uim_close_channel_new (guint8 cid, guint16 tid, guint8 slot, guint8 channel);

/* Response parsers. They take whatever the modem sent: a failed result, missing or short TLVs
 * all end in LPA_ERROR_TRANSPORT with a message naming what was wrong. */
gboolean esimd_qmi_uim_open_channel_parse (QmiMessage *response, guint8 *channel, GError **error);
GBytes *esimd_qmi_uim_send_apdu_parse (QmiMessage *response, GError **error);
gboolean esimd_qmi_uim_close_channel_parse (QmiMessage *response, GError **error);
/* TRUE if @response refused its request because the card is not up (yet): UimUninitialized or
 * DeviceNotReady, what a modem answers while it takes the card through its start-up. */
gboolean esimd_qmi_uim_card_not_ready (QmiMessage *response);

G_END_DECLS
