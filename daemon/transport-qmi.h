/* transport-qmi.h — an eUICC reached through a modem's QMI UIM service; the only libqmi user. */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "transport.h"

G_BEGIN_DECLS

typedef struct _EsimdQmi EsimdQmi;

/* Called whenever the modem becomes usable or stops being usable (@reason says why). */
typedef void (*EsimdQmiAvailabilityFunc) (EsimdQmi *qmi, gboolean available, const GError *reason,
                                          gpointer user_data);

typedef struct
{
  guint64 apdus;      /* command APDUs sent */
  guint64 bytes_sent; /* bytes of command APDUs */
  guint64 bytes_received;
} EsimdQmiStats;

EsimdQmi *esimd_qmi_new (const EsimdModemConfig *config, EsimdQmiAvailabilityFunc func,
                         gpointer user_data);
/* Connects now, and again (with back-off) whenever the modem goes away and comes back. */
void esimd_qmi_start (EsimdQmi *qmi);
gboolean esimd_qmi_is_available (EsimdQmi *qmi);
const EsimdQmiStats *esimd_qmi_get_stats (EsimdQmi *qmi);

/* Closes the channel if one is open and releases the UIM client, so the modem keeps no state
 * of ours; then the object may be freed. */
void esimd_qmi_stop (EsimdQmi *qmi, GAsyncReadyCallback callback, gpointer user_data);
gboolean esimd_qmi_stop_finish (EsimdQmi *qmi, GAsyncResult *result, GError **error);
void esimd_qmi_free (EsimdQmi *qmi);

/* Opens a logical channel to the configured ISD-R AID; one at a time (the job queue holds it). */
void esimd_qmi_open_channel (EsimdQmi *qmi, GAsyncReadyCallback callback, gpointer user_data);
gboolean esimd_qmi_open_channel_finish (EsimdQmi *qmi, GAsyncResult *result, guint8 *channel,
                                        GError **error);
void esimd_qmi_close_channel (EsimdQmi *qmi, GAsyncReadyCallback callback, gpointer user_data);
gboolean esimd_qmi_close_channel_finish (EsimdQmi *qmi, GAsyncResult *result, GError **error);
/* Forgets the channel without telling the modem: after a card reset it no longer exists. */
void esimd_qmi_forget_channel (EsimdQmi *qmi);

/* UIM power off + on: the modem re-reads the card (and drops every logical channel). */
void esimd_qmi_power_cycle (EsimdQmi *qmi, GAsyncReadyCallback callback, gpointer user_data);
gboolean esimd_qmi_power_cycle_finish (EsimdQmi *qmi, GAsyncResult *result, GError **error);

/* APDUs on the open channel; self is the EsimdQmi. */
extern const LpaApduOps esimd_qmi_apdu_ops;

G_END_DECLS
