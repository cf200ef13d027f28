/* modem.h — the one interface below the eUICC model: the way to one eUICC, whatever carries it.
 *
 * An EsimdModem is a modem's SIM slot (QMI, QMI over MBIM, MBIM, AT commands) or a smart-card
 * reader (PC/SC). The model (euicc*.c, job*.c) talks only to this interface; it never knows which
 * transport is underneath. One implementation per file: transport-qmi.c, transport-mbim.c,
 * transport-at.c, transport-pcsc.c; modem.c holds the wrappers below and the table of transports.
 *
 * Contract for every implementation:
 *   - Asynchronous operations answer exactly once, never from inside the call itself.
 *   - Failures are GErrors in the LPA_ERROR domain (LPA_ERROR_TRANSPORT unless said otherwise),
 *     with a message that names the modem and the cause, and never a secret: APDU payloads are
 *     not logged above debug level, and not even there unless LogPersonalData is set.
 *   - One logical channel at a time (the job queue holds it). Opening selects the given AID.
 *   - Loss and return of the device are reported through the availability callback, once per
 *     change, with the reason; the implementation reconnects by itself (back-off, or a watch on
 *     the device node / reader) until esimd_modem_stop(). Everything in flight when the device is
 *     lost is answered with an error at once. Every failed attempt to reach a device that is not
 *     available is reported too (esimd_modem_set_available (FALSE, why)), so that the model can
 *     say why (the node is missing, the proxy refuses…): the wrapper passes on only a changed
 *     reason.
 *   - A framing error or repeated timeouts count as a lost device: drop, reopen, report.
 */
#pragma once

#include <gio/gio.h>

#include "config.h"
#include "transport.h" /* liblpa's LpaApduOps */

G_BEGIN_DECLS

typedef struct _EsimdModem EsimdModem;

/* A transport's constructor: it only allocates and fills the embedded EsimdModem's ops and
 * config; esimd_modem_new() does the rest. */
typedef EsimdModem *(*EsimdModemConstructor) (const EsimdModemConfig *config);

/* @available: the device is usable now (FALSE: lost, or not found yet; @reason says why). */
typedef void (*EsimdModemAvailabilityFunc) (EsimdModem *modem, gboolean available,
                                            const GError *reason, gpointer user_data);

typedef struct
{
  guint64 apdus;      /* command APDUs sent */
  guint64 bytes_sent; /* bytes of command APDUs */
  guint64 bytes_received;
  /* What crossed the device for them, for transports that encode APDUs (AT: hex in command
   * lines, echo and URCs included): with the line speed, the floor a download can reach. Zero
   * for transports that do not count it. */
  guint64 line_bytes_sent;
  guint64 line_bytes_received;
} EsimdModemStats;

/* One SIM slot of a modem (a reader has exactly one). */
typedef struct
{
  guint number;          /* 1-based, as the transport numbers it */
  gboolean active;       /* the modem uses this slot now */
  gboolean card_present; /* a card answers in it */
  /* What the modem knows of the card without reaching it (QMI reports both for inactive slots
   * too, which is how an eUICC in a slot the modem does not use is found): the card is an
   * eUICC, and its EID (32 digits; "" when the modem did not say). */
  gboolean euicc;
  char eid[33];
} EsimdModemSlot;

typedef struct
{
  const char *name; /* "qmi", "mbim", "at", "pcsc": the Transport= value */

  /* Connect now, and again whenever the device goes away and comes back. */
  void (*start) (EsimdModem *modem);
  /* Close the channel if one is open and release the device, so the modem keeps no state of
   * ours; return on @task (boolean). After it, only free() is called. */
  void (*stop) (EsimdModem *modem, GTask *task);
  void (*free) (EsimdModem *modem);

  /* Open a logical channel and SELECT @aid on it; return the channel number (1..19) on @task
   * (g_task_return_int). 0: the card has no logical channel for us and @aid is selected on the
   * basic channel, which the transport keeps for us until close_channel (PC/SC). */
  void (*open_channel) (EsimdModem *modem, GBytes *aid, GTask *task);
  /* Close the open channel (none open: succeed). */
  void (*close_channel) (EsimdModem *modem, GTask *task);
  /* Forget the channel without telling the device: after a card reset it no longer exists. */
  void (*forget_channel) (EsimdModem *modem);
  /* One command APDU on the open channel; the CLA already carries the channel number (liblpa
   * codes it). The response is the whole R-APDU, data + SW1 SW2; 61xx/6Cxx of T=0 are resolved
   * below this interface. */
  void (*transmit) (EsimdModem *modem, GBytes *command, LpaApduCallback callback,
                    gpointer user_data);

  /* Make the modem re-read the card (after an enable or disable): UIM power cycle, CFUN off/on,
   * UICC reset... Every logical channel is gone afterwards. NULL: the transport cannot. */
  void (*reset_card) (EsimdModem *modem, GTask *task);
  const char *reset_name; /* "uim-power-cycle", "cfun", "uicc-reset", "card-reset" */

  /* The modem's IMEI as 15 digits, returned as a string on @task. NULL: the transport cannot. */
  void (*read_imei) (EsimdModem *modem, GTask *task);

  /* The slots the device has (EsimdModemSlot*, caller frees with g_ptr_array_unref), returned
   * on @task (g_task_return_pointer). NULL: a single slot, always active. */
  void (*list_slots) (EsimdModem *modem, GTask *task);
  /* Make slot @number the active one. NULL: the transport cannot. */
  void (*switch_slot) (EsimdModem *modem, guint number, GTask *task);
} EsimdModemOps;

/* A port another program keeps open between uses (ModemManager's AT ports): esimd takes the
 * modem from it for as long as it has a logical channel open, and gives it back right after
 * (transport-held.c). @uid names the device (ModemManager's Device property). */
typedef struct _EsimdModemHold
{
  void (*take) (const char *uid, GAsyncReadyCallback callback, gpointer user_data);
  gboolean (*take_finish) (GAsyncResult *result, GError **error);
  void (*give) (const char *uid);
} EsimdModemHold;

/* The part every implementation shares; implementations embed it first in their own struct. */
struct _EsimdModem
{
  const EsimdModemOps *ops;
  const EsimdModemConfig *config; /* borrowed from the daemon's configuration */
  EsimdModemAvailabilityFunc availability;
  gpointer availability_data;
  gboolean available;
  char *unavailable_reason; /* the last one reported (esimd_modem_set_available) */
  EsimdModemStats stats;
};

/* Creates the modem for @config->transport; fails with a named error listing the supported
 * transports when there is none of that name. Does not connect yet (esimd_modem_start). */
EsimdModem *esimd_modem_new (const EsimdModemConfig *config, EsimdModemAvailabilityFunc func,
                             gpointer user_data, GError **error);
/* The same with @construct instead of the table's constructor for @config->transport: a
 * transport outside the table, such as the scripted modem of the model's unit test. */
EsimdModem *esimd_modem_new_with (EsimdModemConstructor construct, const EsimdModemConfig *config,
                                  EsimdModemAvailabilityFunc func, gpointer user_data);
/* Every Transport= value this build supports, NULL-terminated, for errors and --check-config. */
const char *const *esimd_modem_transports (void);

void esimd_modem_start (EsimdModem *modem);
gboolean esimd_modem_is_available (EsimdModem *modem);
const EsimdModemStats *esimd_modem_get_stats (EsimdModem *modem);
const char *esimd_modem_transport_name (EsimdModem *modem);

void esimd_modem_stop (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data);
gboolean esimd_modem_stop_finish (EsimdModem *modem, GAsyncResult *result, GError **error);
void esimd_modem_free (EsimdModem *modem);

void esimd_modem_open_channel (EsimdModem *modem, GBytes *aid, GAsyncReadyCallback callback,
                               gpointer user_data);
gboolean esimd_modem_open_channel_finish (EsimdModem *modem, GAsyncResult *result, guint8 *channel,
                                          GError **error);
void esimd_modem_close_channel (EsimdModem *modem, GAsyncReadyCallback callback,
                                gpointer user_data);
gboolean esimd_modem_close_channel_finish (EsimdModem *modem, GAsyncResult *result, GError **error);
void esimd_modem_forget_channel (EsimdModem *modem);

/* TRUE if esimd_modem_reset_card() can do anything on this transport. */
gboolean esimd_modem_can_reset_card (EsimdModem *modem);
void esimd_modem_reset_card (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data);
gboolean esimd_modem_reset_card_finish (EsimdModem *modem, GAsyncResult *result, GError **error);

gboolean esimd_modem_can_read_imei (EsimdModem *modem);
void esimd_modem_read_imei (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data);
char *esimd_modem_read_imei_finish (EsimdModem *modem, GAsyncResult *result, GError **error);

void esimd_modem_list_slots (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data);
GPtrArray *esimd_modem_list_slots_finish (EsimdModem *modem, GAsyncResult *result, GError **error);
void esimd_modem_switch_slot (EsimdModem *modem, guint number, GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean esimd_modem_switch_slot_finish (EsimdModem *modem, GAsyncResult *result, GError **error);

/* APDUs on the open channel, for liblpa; self is the EsimdModem. */
extern const LpaApduOps esimd_modem_apdu_ops;

/* For implementations: report a change of availability, or of the reason for being unavailable
 * (no-op when neither changed), and count an APDU exchange in the stats. */
void esimd_modem_set_available (EsimdModem *modem, gboolean available, const GError *reason);
void esimd_modem_count_apdu (EsimdModem *modem, gsize sent, gsize received);
/* For implementations: NULL when @config's device node is there (or cannot be looked at: the
 * transport's own open says why); else the error that names what is missing, the same at every
 * retry, with the kernel driver that makes such a port. */
GError *esimd_modem_node_missing (const EsimdModemConfig *config);
/* For implementations: answer a transmit with an error from the main loop, never from inside the
 * call (the interface's contract). Takes the error. */
void esimd_modem_fail_transmit_later (LpaApduCallback callback, gpointer user_data, GError *error);

/* For implementations: the constructor every transport file provides (EsimdModemConstructor),
 * listed in modem.c's table. */
EsimdModem *esimd_modem_qmi_new (const EsimdModemConfig *config);
EsimdModem *esimd_modem_mbim_new (const EsimdModemConfig *config);
EsimdModem *esimd_modem_at_new (const EsimdModemConfig *config);
EsimdModem *esimd_modem_pcsc_new (const EsimdModemConfig *config);
/* Not transports of their own, chosen by esimd_modem_new() from what discovery set in the
 * config: an eUICC the modem cannot reach now (config->unreachable), and a port taken from
 * another program per use (config->hold) around the transport of its Transport=. */
EsimdModem *esimd_modem_unreachable_new (const EsimdModemConfig *config);
EsimdModem *esimd_modem_held_new (const EsimdModemConfig *config);

G_END_DECLS
