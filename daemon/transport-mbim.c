/* transport-mbim.c — the "mbim" EsimdModem: an MbimDevice's MS UICC Low Level Access service
 * (logical channels, APDUs, UICC reset), Basic Connect (the IMEI in the device caps, radio
 * off/on), the MS Basic Connect Extensions slot commands, loss and return. The only libmbim user;
 * the bytes are built and read by mbim-commands.c.
 *
 * Through mbim-proxy (UseProxy=true) the MBIM session is the proxy's: ModemManager keeps working,
 * and a channel esimd left open when it died survives it. At every connection esimd therefore
 * closes whatever is open in its own channel group before it reports the modem available. */
#include "modem.h"

#include "log.h"
#include "lpa-error.h"
#include "mbim-commands.h"

#include <libmbim-glib.h>
#include <string.h>

#define OPEN_TIMEOUT  15 /* seconds */
#define CLOSE_TIMEOUT 5
#define RETRY_FIRST   1 /* seconds */
#define RETRY_MAX     60
/* Unanswered commands in a row after which the modem counts as lost: one may be the card being
 * slow, two are a modem (or proxy) that no longer answers. */
#define MAX_TIMEOUTS 2
/* After a UICC reset, radio off/on or slot switch the modem reads the card again; the subscriber
 * state says when it is done. */
#define READY_WAIT_US (15 * G_USEC_PER_SEC)
#define READY_POLL_MS 300
/* Open Channel answered Busy: Qualcomm's MBIM function (qbi_svc_msuicc.c) answers the UICC
 * commands so while a slot mapping is in progress, which another host (ModemManager) may have
 * asked for. Asked again once a second, this many times. */
#define OPEN_BUSY_TRIES 10
#define OPEN_BUSY_MS    1000

typedef enum
{
  MBIM_STATE_IDLE,
  MBIM_STATE_CONNECTING,
  MBIM_STATE_READY,
  MBIM_STATE_WAITING, /* lost or never found: a retry is scheduled */
  MBIM_STATE_STOPPED,
} MbimState;

typedef struct _EsimdMbim EsimdMbim;

/* Called once per command: @response is the modem's answer (NULL when there is none), @error why
 * there is none (a timeout, a closed port, the modem lost). The answer's own status is for the
 * reply to judge (mbim-commands.c). */
typedef void (*ReplyFunc) (EsimdMbim *mbim, MbimMessage *response, const GError *error,
                           gpointer data);

/* A command in flight. libmbim always calls back (answer, error or timeout), even after the
 * device was dropped; if the modem is lost first, the reply runs at once and the late libmbim
 * callback finds the request done. */
typedef struct
{
  EsimdMbim *mbim;    /* NULL once the EsimdMbim is gone */
  MbimDevice *device; /* the device it went to (no reference: only compared) */
  const char *what;
  ReplyFunc reply;
  gpointer data;
  gboolean done;
} Request;

struct _EsimdMbim
{
  EsimdModem modem;               /* first: an EsimdMbim is an EsimdModem */
  const EsimdModemConfig *config; /* the same as modem.config */

  MbimState state;
  MbimDevice *device;
  gulong removed_id;
  gulong error_id;
  GCancellable *cancellable; /* cancels the connection sequence */
  guint retry_id;
  guint retry_delay;
  GFileMonitor *monitor; /* watches for the device node to come back */

  guint8 channel;      /* 0 = none open */
  GPtrArray *pending;  /* Request* */
  guint timeouts;      /* commands in a row that got no answer */
  gboolean radio_only; /* the modem has no MS UICC reset: re-read the card by radio off/on */

  /* the one wait for the card after a reset or slot switch (the job queue allows one) */
  GTask *ready_task;
  guint ready_id;
  gint64 ready_deadline;
  gboolean ready_card_expected;

  /* the one Open Channel waiting to be asked again after a Busy (the job queue opens one) */
  GTask *open_task;
  guint open_id;
};

static void connect_start (EsimdMbim *mbim);
static void lost (EsimdMbim *mbim, const GError *reason);

static GError *
not_ready_error (EsimdMbim *mbim)
{
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s is not available",
                      mbim->config->name);
}

/* ---- commands ---------------------------------------------------------------------------- */

static void
request_finish (Request *req)
{
  if (req->mbim)
    g_ptr_array_remove_fast (req->mbim->pending, req);
  g_free (req);
}

static void
request_answer (Request *req, MbimMessage *response, const GError *error)
{
  req->done = TRUE;
  req->reply (req->mbim, response, error, req->data);
}

static void
command_ready (GObject *source, GAsyncResult *res, gpointer data)
{
  Request *req = data;
  EsimdMbim *mbim = req->mbim;
  g_autoptr (GError) error = NULL;
  g_autoptr (MbimMessage) response = mbim_device_command_finish (MBIM_DEVICE (source), res, &error);
  g_autoptr (GError) reason = NULL;
  g_autoptr (GError) loss = NULL;
  gboolean current;

  if (req->done)
    {
      request_finish (req);
      return;
    }
  current = mbim && mbim->device == req->device;
  if (!response)
    {
      reason = esimd_mbim_command_error (req->what, error);
      /* A timeout may be one slow command; a write that failed or a port that closed is a
       * modem gone. */
      if (current && g_error_matches (error, MBIM_CORE_ERROR, MBIM_CORE_ERROR_TIMEOUT))
        {
          if (++mbim->timeouts >= MAX_TIMEOUTS)
            loss = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                "modem %s stopped answering (%u commands timed out)",
                                mbim->config->name, mbim->timeouts);
        }
      else if (current && !g_error_matches (error, MBIM_CORE_ERROR, MBIM_CORE_ERROR_ABORTED))
        loss = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s", mbim->config->name,
                            error->message);
    }
  else if (current)
    {
      mbim->timeouts = 0;
      /* The modem refused our message itself (length, fragments, session): a framing error,
       * which only a new session fixes. */
      if (mbim_message_get_message_type (response) == MBIM_MESSAGE_TYPE_FUNCTION_ERROR)
        {
          g_autoptr (GError) fe = mbim_message_error_get_error (response);

          loss = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: MBIM error: %s",
                              mbim->config->name, fe ? fe->message : "unknown");
        }
    }
  if (loss && mbim->state != MBIM_STATE_STOPPED)
    {
      /* The modem is gone first, then this command's caller hears why: a connection sequence
       * waiting on it must not report the modem ready in between. */
      req->done = TRUE;
      lost (mbim, loss);
      req->reply (mbim, NULL, loss, req->data);
    }
  else
    request_answer (req, response, reason);
  request_finish (req);
}

static gboolean
request_fail_later (gpointer data)
{
  Request *req = data;
  g_autoptr (GError) error = NULL;

  if (!req->done)
    {
      if (!req->mbim)
        error = g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem stopped");
      else if (req->mbim->state == MBIM_STATE_READY)
        error = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                             "modem %s: no logical channel is open to the eUICC",
                             req->mbim->config->name);
      else
        error = not_ready_error (req->mbim);
      request_answer (req, NULL, error);
    }
  request_finish (req);
  return G_SOURCE_REMOVE;
}

/* Sends @msg (taken); @reply runs exactly once, never from inside this call. */
static void
send_command (EsimdMbim *mbim, MbimMessage *msg, const char *what, ReplyFunc reply, gpointer data)
{
  Request *req = g_new0 (Request, 1);
  g_autoptr (MbimMessage) owned = msg;

  req->mbim = mbim;
  req->what = what;
  req->reply = reply;
  req->data = data;
  g_ptr_array_add (mbim->pending, req);
  if (!mbim->device || !msg)
    {
      g_idle_add (request_fail_later, req);
      return;
    }
  req->device = mbim->device;
  mbim_device_command (mbim->device, msg, mbim->config->command_timeout, NULL, command_ready, req);
}

/* Answers every command in flight: the device they went to is gone. */
static void
fail_pending (EsimdMbim *mbim, const GError *error)
{
  g_autoptr (GPtrArray) reqs = g_ptr_array_copy (mbim->pending, NULL, NULL);

  for (guint i = 0; i < reqs->len; i++)
    {
      Request *req = reqs->pdata[i];

      if (!req->done)
        request_answer (req, NULL, error);
    }
}

/* ---- loss and return --------------------------------------------------------------------- */

static void
ready_wait_end (EsimdMbim *mbim, GError *error)
{
  GTask *task = g_steal_pointer (&mbim->ready_task);

  g_clear_handle_id (&mbim->ready_id, g_source_remove);
  if (!task)
    {
      /* Nobody waits: the reason is ours to free. */
      g_clear_error (&error);
      return;
    }
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* Ends the wait of an Open Channel that is to be asked again, with @error (taken). */
static void
open_wait_end (EsimdMbim *mbim, GError *error)
{
  GTask *task = g_steal_pointer (&mbim->open_task);

  g_clear_handle_id (&mbim->open_id, g_source_remove);
  if (!task)
    {
      g_clear_error (&error);
      return;
    }
  g_task_return_error (task, error);
  g_object_unref (task);
}

static void
drop_device (EsimdMbim *mbim)
{
  if (mbim->device)
    {
      if (mbim->removed_id)
        g_signal_handler_disconnect (mbim->device, mbim->removed_id);
      if (mbim->error_id)
        g_signal_handler_disconnect (mbim->device, mbim->error_id);
      /* Now, not when the last late answer has timed out: the node is free for the next open. */
      mbim_device_close_force (mbim->device, NULL);
    }
  mbim->removed_id = mbim->error_id = 0;
  g_clear_object (&mbim->device);
  mbim->channel = 0;
  mbim->timeouts = 0;
}

static gboolean
retry_cb (gpointer data)
{
  EsimdMbim *mbim = data;

  mbim->retry_id = 0;
  if (mbim->state == MBIM_STATE_WAITING)
    connect_start (mbim);
  return G_SOURCE_REMOVE;
}

static void
on_device_node_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                        gpointer data)
{
  EsimdMbim *mbim = data;

  if (mbim->state == MBIM_STATE_WAITING && event == G_FILE_MONITOR_EVENT_CREATED)
    {
      g_info ("modem %s: device node is back", mbim->config->name);
      g_clear_handle_id (&mbim->retry_id, g_source_remove);
      connect_start (mbim);
    }
}

/* Retries run only while the modem is missing; the device node is also watched with inotify so
 * a returning modem is picked up at once. */
static void
schedule_retry (EsimdMbim *mbim)
{
  mbim->state = MBIM_STATE_WAITING;
  mbim->retry_delay = mbim->retry_delay ? MIN (mbim->retry_delay * 2, RETRY_MAX) : RETRY_FIRST;
  g_clear_handle_id (&mbim->retry_id, g_source_remove);
  mbim->retry_id = g_timeout_add_seconds (mbim->retry_delay, retry_cb, mbim);
  if (!mbim->monitor)
    {
      g_autoptr (GFile) file = g_file_new_for_path (mbim->config->device);

      mbim->monitor = g_file_monitor_file (file, G_FILE_MONITOR_NONE, NULL, NULL);
      if (mbim->monitor)
        g_signal_connect (mbim->monitor, "changed", G_CALLBACK (on_device_node_changed), mbim);
    }
}

static void
lost (EsimdMbim *mbim, const GError *reason)
{
  gboolean was_ready = mbim->state == MBIM_STATE_READY;

  drop_device (mbim);
  fail_pending (mbim, reason);
  ready_wait_end (mbim, g_error_copy (reason));
  open_wait_end (mbim, g_error_copy (reason));
  if (mbim->state == MBIM_STATE_STOPPED)
    return;
  schedule_retry (mbim);
  if (was_ready)
    g_warning ("modem %s: lost: %s", mbim->config->name, reason->message);
  else
    g_debug ("modem %s: not reachable (%s); retrying in %u s", mbim->config->name, reason->message,
             mbim->retry_delay);
  /* Also when it was never there: the reason is what the eUICC's UnavailableReason shows. */
  esimd_modem_set_available (&mbim->modem, FALSE, reason);
}

static void
on_device_removed (MbimDevice *device, gpointer data)
{
  EsimdMbim *mbim = data;
  g_autoptr (GError) reason =
      g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s disappeared%s", mbim->config->name,
                   mbim->config->use_proxy ? " (or mbim-proxy stopped)" : "");

  lost (mbim, reason);
}

/* The modem (or the proxy) says the MBIM session is gone: only a new one helps. */
static void
on_device_error (MbimDevice *device, GError *error, gpointer data)
{
  EsimdMbim *mbim = data;
  g_autoptr (GError) reason = NULL;

  if (!g_error_matches (error, MBIM_PROTOCOL_ERROR, MBIM_PROTOCOL_ERROR_NOT_OPENED))
    {
      g_debug ("modem %s: MBIM error indication: %s", mbim->config->name, error->message);
      return;
    }
  reason = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s closed the MBIM session",
                        mbim->config->name);
  lost (mbim, reason);
}

/* ---- connection: device → open → our channels closed → ready ----------------------------- */

static void
connect_failed (EsimdMbim *mbim, const char *step, const GError *error)
{
  g_autoptr (GError) reason = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      mbim->state == MBIM_STATE_STOPPED)
    return;
  reason = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s: %s", mbim->config->name,
                        step, error->message);
  lost (mbim, reason);
}

static void
connected (EsimdMbim *mbim)
{
  mbim->state = MBIM_STATE_READY;
  mbim->retry_delay = 0;
  g_clear_object (&mbim->monitor);
  g_info ("modem %s: MBIM ready on %s%s", mbim->config->name, mbim->config->device,
          mbim->config->use_proxy ? " (through mbim-proxy)" : "");
  esimd_modem_set_available (&mbim->modem, TRUE, NULL);
}

static void
slot_checked (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  guint slot = 0;

  if (!mbim || mbim->state != MBIM_STATE_CONNECTING)
    return;
  if (!response)
    {
      connect_failed (mbim, "reading the slot mapping", error);
      return;
    }
  /* UICC Low Level Access reaches only the card in the active slot: say so if Slot= names
   * another (esimd does not move the modem's SIM under ModemManager's feet on its own). */
  if (esimd_mbim_slot_mappings_parse (response, &slot, NULL) && slot + 1 != mbim->config->slot)
    g_warning ("modem %s: Slot=%u, but the modem uses slot %u: esimd reaches the card in slot %u "
               "until the active slot is switched",
               mbim->config->name, mbim->config->slot, slot + 1, slot + 1);
  connected (mbim);
}

static void
group_closed (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  if (!mbim || mbim->state != MBIM_STATE_CONNECTING)
    return;
  if (!response)
    {
      connect_failed (mbim, "closing esimd's channels left from before", error);
      return;
    }
  /* Any status will do: nothing was open, or the modem does not know groups. */
  send_command (mbim,
                mbim_message_ms_basic_connect_extensions_device_slot_mappings_query_new (NULL),
                "Device Slot Mappings", slot_checked, NULL);
}

static void
device_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdMbim *mbim = data;
  g_autoptr (GError) error = NULL;

  if (!mbim_device_open_full_finish (MBIM_DEVICE (source), res, &error))
    {
      connect_failed (mbim, "opening the device", error);
      return;
    }
  mbim->removed_id = g_signal_connect (mbim->device, MBIM_DEVICE_SIGNAL_REMOVED,
                                       G_CALLBACK (on_device_removed), mbim);
  mbim->error_id =
      g_signal_connect (mbim->device, MBIM_DEVICE_SIGNAL_ERROR, G_CALLBACK (on_device_error), mbim);
  send_command (mbim, esimd_mbim_close_channel_new (0), "MS UICC Close Channel", group_closed,
                NULL);
}

static void
device_created (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdMbim *mbim = data;
  g_autoptr (GError) error = NULL;
  MbimDevice *device = mbim_device_new_finish (res, &error);

  if (!device)
    {
      connect_failed (mbim, "creating the device", error);
      return;
    }
  mbim->device = device;
  mbim_device_open_full (
      device, mbim->config->use_proxy ? MBIM_DEVICE_OPEN_FLAGS_PROXY : MBIM_DEVICE_OPEN_FLAGS_NONE,
      OPEN_TIMEOUT, mbim->cancellable, device_opened, mbim);
}

static void
connect_start (EsimdMbim *mbim)
{
  g_autoptr (GFile) file = g_file_new_for_path (mbim->config->device);
  g_autoptr (GError) missing = esimd_modem_node_missing (mbim->config);

  mbim->state = MBIM_STATE_CONNECTING;
  g_clear_object (&mbim->cancellable);
  mbim->cancellable = g_cancellable_new ();
  if (missing)
    {
      lost (mbim, missing);
      return;
    }
  mbim_device_new (file, mbim->cancellable, device_created, mbim);
}

/* ---- channels and APDUs ------------------------------------------------------------------ */

static gboolean
ready_or_error (EsimdMbim *mbim, GTask *task)
{
  if (mbim->state == MBIM_STATE_READY)
    return TRUE;
  g_task_return_error (task, not_ready_error (mbim));
  g_object_unref (task);
  return FALSE;
}

/* Prefixes the modem's name to an error of mbim-commands.c. */
static GError *
named (EsimdMbim *mbim, GError *error)
{
  GError *e = g_error_new (error->domain, error->code, "modem %s: %s",
                           mbim ? mbim->config->name : "?", error->message);

  g_error_free (error);
  return e;
}

static void
leaked_channel_closed (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  g_autoptr (GError) local = NULL;

  if (mbim && response && !esimd_mbim_close_channel_parse (response, &local))
    g_debug ("modem %s: %s", mbim->config->name, local->message);
}

static gboolean open_again_cb (gpointer data);

static void
channel_opened (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  g_autoptr (GTask) task = data;
  GError *local = NULL;
  guint8 channel = 0;
  guint32 status = 0;
  guint tries = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (task), "busy-tries"));

  if (!response)
    {
      g_task_return_error (task, g_error_copy (error));
      return;
    }
  if (mbim && mbim->state == MBIM_STATE_READY && !mbim->open_task &&
      esimd_mbim_response_status (response, &status) && status == MBIM_STATUS_ERROR_BUSY &&
      tries < OPEN_BUSY_TRIES)
    {
      /* No channel was opened: a slot mapping is in progress. */
      g_debug ("modem %s: Open Channel answered Busy; asking again", mbim->config->name);
      g_object_set_data (G_OBJECT (task), "busy-tries", GUINT_TO_POINTER (tries + 1));
      mbim->open_task = g_steal_pointer (&task);
      mbim->open_id = g_timeout_add (OPEN_BUSY_MS, open_again_cb, mbim);
      return;
    }
  if (!esimd_mbim_open_channel_parse (response, &channel, &local))
    {
      /* A channel opened for a refused SELECT is closed here: nobody else knows its number, and
       * each such leak takes one of the card's few channels until the modem is reconnected. */
      if (channel && mbim && mbim->state == MBIM_STATE_READY)
        send_command (mbim, esimd_mbim_close_channel_new (channel), "MS UICC Close Channel",
                      leaked_channel_closed, NULL);
      g_task_return_error (task, named (mbim, local));
      return;
    }
  mbim->channel = channel;
  g_debug ("modem %s: logical channel %u open to the ISD-R", mbim->config->name, channel);
  g_task_return_int (task, channel);
}

static void
mbim_open_channel (EsimdModem *modem, GBytes *aid, GTask *task)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;

  if (!ready_or_error (mbim, task))
    return;
  g_object_set_data_full (G_OBJECT (task), "aid", g_bytes_ref (aid),
                          (GDestroyNotify) g_bytes_unref);
  send_command (mbim, esimd_mbim_open_channel_new (aid), "MS UICC Open Channel", channel_opened,
                task);
}

static gboolean
open_again_cb (gpointer data)
{
  EsimdMbim *mbim = data;
  GTask *task = g_steal_pointer (&mbim->open_task);

  mbim->open_id = 0;
  if (ready_or_error (mbim, task))
    send_command (mbim, esimd_mbim_open_channel_new (g_object_get_data (G_OBJECT (task), "aid")),
                  "MS UICC Open Channel", channel_opened, task);
  return G_SOURCE_REMOVE;
}

static void
channel_closed (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  g_autoptr (GTask) task = data;
  GError *local = NULL;

  if (!response)
    g_task_return_error (task, g_error_copy (error));
  else if (!esimd_mbim_close_channel_parse (response, &local))
    g_task_return_error (task, named (mbim, local));
  else
    g_task_return_boolean (task, TRUE);
}

/* Shared by the job queue's close and by stop(). */
static void
close_channel_task (EsimdMbim *mbim, GTask *task)
{
  guint8 channel = mbim->channel;

  mbim->channel = 0;
  if (channel == 0 || mbim->state != MBIM_STATE_READY)
    {
      g_task_return_boolean (task, TRUE); /* nothing left to close */
      g_object_unref (task);
      return;
    }
  send_command (mbim, esimd_mbim_close_channel_new (channel), "MS UICC Close Channel",
                channel_closed, task);
}

static void
mbim_close_channel (EsimdModem *modem, GTask *task)
{
  close_channel_task ((EsimdMbim *) modem, task);
}

static void
mbim_forget_channel (EsimdModem *modem)
{
  ((EsimdMbim *) modem)->channel = 0;
}

typedef struct
{
  LpaApduCallback callback;
  gpointer user_data;
  gsize sent;
} Apdu;

static void
apdu_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  g_autofree Apdu *apdu = data;
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) rapdu = NULL;

  if (!response)
    apdu->callback (NULL, error, apdu->user_data);
  else if (!(rapdu = esimd_mbim_apdu_parse (response, &local)))
    {
      g_autoptr (GError) e = named (mbim, g_steal_pointer (&local));

      apdu->callback (NULL, e, apdu->user_data);
    }
  else
    {
      esimd_modem_count_apdu (&mbim->modem, apdu->sent, g_bytes_get_size (rapdu));
      apdu->callback (rapdu, NULL, apdu->user_data);
    }
}

static void
mbim_transmit (EsimdModem *modem, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;
  Apdu *apdu = g_new0 (Apdu, 1);

  apdu->callback = callback;
  apdu->user_data = user_data;
  apdu->sent = g_bytes_get_size (command);
  /* Without a channel the message is not built: send_command answers with an error later. */
  send_command (mbim,
                mbim->state == MBIM_STATE_READY && mbim->channel
                    ? esimd_mbim_apdu_new (mbim->channel, command)
                    : NULL,
                "MS UICC APDU", apdu_answered, apdu);
}

/* ---- making the modem read the card again ------------------------------------------------ */

static void ready_poll (EsimdMbim *mbim);

static gboolean
ready_poll_cb (gpointer data)
{
  EsimdMbim *mbim = data;

  mbim->ready_id = 0;
  ready_poll (mbim);
  return G_SOURCE_REMOVE;
}

static void
ready_state_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  guint32 state = MBIM_SUBSCRIBER_READY_STATE_NOT_INITIALIZED;

  if (!mbim || !mbim->ready_task)
    return;
  /* Still reading the card: ask again shortly, up to the deadline. A modem that cannot say
   * (the query unsupported, or refused) is taken as done. Some say "no SIM" while the card
   * restarts (ModemManager, mm-broadband-modem-mbim.c: "the MC7710 may use this while the SIM
   * is not ready yet"): a card that was there before the reset is waited for too. */
  if (response && esimd_mbim_ready_state_parse (response, &state, NULL) &&
      (state == MBIM_SUBSCRIBER_READY_STATE_NOT_INITIALIZED ||
       (state == MBIM_SUBSCRIBER_READY_STATE_SIM_NOT_INSERTED && mbim->ready_card_expected)) &&
      g_get_monotonic_time () < mbim->ready_deadline)
    {
      mbim->ready_id = g_timeout_add (READY_POLL_MS, ready_poll_cb, mbim);
      return;
    }
  if (!response && error)
    {
      ready_wait_end (mbim, g_error_copy (error));
      return;
    }
  g_debug ("modem %s: card read again (subscriber state %u)", mbim->config->name, state);
  ready_wait_end (mbim, NULL);
}

static void
ready_poll (EsimdMbim *mbim)
{
  send_command (mbim, mbim_message_subscriber_ready_status_query_new (NULL),
                "Subscriber Ready Status", ready_state_answered, NULL);
}

/* Answers @task when the modem has read the card again. @card_expected: the card was there
 * before (a reset or radio cycle), so "no SIM" means not read yet; after a slot switch it may
 * simply be an empty slot. */
static void
wait_card_ready (EsimdMbim *mbim, GTask *task, gboolean card_expected)
{
  ready_wait_end (
      mbim, g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "superseded by another reset"));
  mbim->ready_task = task;
  mbim->ready_card_expected = card_expected;
  mbim->ready_deadline = g_get_monotonic_time () + READY_WAIT_US;
  ready_poll (mbim);
}

typedef struct
{
  GTask *task;
  gboolean on; /* the half of the cycle this answer is for */
} RadioOp;

static void
radio_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  RadioOp *op = data;
  GError *local = NULL;
  gboolean on = FALSE;

  if (!response || !esimd_mbim_radio_state_parse (response, &on, &local) || on != op->on)
    {
      if (!response)
        local = g_error_copy (error);
      else if (local)
        local = named (mbim, local);
      else
        local = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: the radio did not turn %s",
                             mbim->config->name, op->on ? "on" : "off");
      g_task_return_error (op->task, local);
      g_object_unref (op->task);
      g_free (op);
      return;
    }
  if (!op->on)
    {
      op->on = TRUE;
      send_command (mbim, mbim_message_radio_state_set_new (MBIM_RADIO_SWITCH_STATE_ON, NULL),
                    "Radio State", radio_answered, op);
      return;
    }
  wait_card_ready (mbim, op->task, TRUE);
  g_free (op);
}

/* The fallback for modems without MS UICC reset: radio off then on. It re-reads the card on
 * modems whose radio off powers the SIM down (AT+CFUN=0-like); a modem whose radio off keeps
 * the SIM powered (CFUN=4-like) reads nothing new, which esimd cannot tell from the outside. */
static void
radio_cycle (EsimdMbim *mbim, GTask *task)
{
  RadioOp *op = g_new0 (RadioOp, 1);

  op->task = task;
  send_command (mbim, mbim_message_radio_state_set_new (MBIM_RADIO_SWITCH_STATE_OFF, NULL),
                "Radio State", radio_answered, op);
}

static void
uicc_reset_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  GTask *task = data;
  GError *local = NULL;

  if (!response)
    {
      g_task_return_error (task, g_error_copy (error));
      g_object_unref (task);
      return;
    }
  if (esimd_mbim_unsupported (response))
    {
      g_info ("modem %s has no MS UICC reset: it re-reads the card by radio off and on",
              mbim->config->name);
      mbim->radio_only = TRUE;
      radio_cycle (mbim, task);
      return;
    }
  if (!esimd_mbim_uicc_reset_parse (response, &local))
    {
      g_task_return_error (task, named (mbim, local));
      g_object_unref (task);
      return;
    }
  wait_card_ready (mbim, task, TRUE);
}

static void
mbim_reset_card (EsimdModem *modem, GTask *task)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;

  if (!ready_or_error (mbim, task))
    return;
  mbim->channel = 0; /* a card reset closes every logical channel */
  if (mbim->radio_only)
    radio_cycle (mbim, task);
  else
    send_command (mbim, esimd_mbim_uicc_reset_new (), "MS UICC Reset", uicc_reset_answered, task);
}

/* ---- the IMEI ---------------------------------------------------------------------------- */

static void
caps_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  g_autoptr (GTask) task = data;
  GError *local = NULL;
  char *imei;

  if (!response)
    g_task_return_error (task, g_error_copy (error));
  else if (!(imei = esimd_mbim_device_caps_imei_parse (response, &local)))
    g_task_return_error (task, named (mbim, local));
  else
    g_task_return_pointer (task, imei, g_free);
}

static void
mbim_read_imei (EsimdModem *modem, GTask *task)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;

  if (!ready_or_error (mbim, task))
    return;
  send_command (mbim, mbim_message_device_caps_query_new (NULL), "Device Caps", caps_answered,
                task);
}

/* ---- slots: MS Basic Connect Extensions ------------------------------------------------- */

typedef struct
{
  GTask *task;
  guint count;
  guint active; /* 0-based */
  GPtrArray *slots;
} SlotList;

static void
slot_list_free (SlotList *l)
{
  g_clear_pointer (&l->slots, g_ptr_array_unref);
  g_free (l);
}

static void
slot_list_fail (SlotList *l, GError *error)
{
  g_task_return_error (l->task, error);
  g_object_unref (l->task);
  slot_list_free (l);
}

static void slot_info_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error,
                                gpointer data);

static void
slot_list_next (EsimdMbim *mbim, SlotList *l)
{
  guint index = l->slots->len;

  if (index == l->count)
    {
      g_task_return_pointer (l->task, g_steal_pointer (&l->slots),
                             (GDestroyNotify) g_ptr_array_unref);
      g_object_unref (l->task);
      slot_list_free (l);
      return;
    }
  send_command (mbim,
                mbim_message_ms_basic_connect_extensions_slot_info_status_query_new (index, NULL),
                "Slot Info Status", slot_info_answered, l);
}

static void
slot_info_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  SlotList *l = data;
  GError *local = NULL;
  EsimdModemSlot *slot;
  gboolean present = FALSE;

  if (!response)
    {
      slot_list_fail (l, g_error_copy (error));
      return;
    }
  if (!esimd_mbim_slot_info_parse (response, l->slots->len, &present, &local))
    {
      slot_list_fail (l, named (mbim, local));
      return;
    }
  slot = g_new0 (EsimdModemSlot, 1);
  slot->number = l->slots->len + 1;
  slot->active = l->slots->len == l->active;
  slot->card_present = present;
  g_ptr_array_add (l->slots, slot);
  slot_list_next (mbim, l);
}

static void
mappings_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  SlotList *l = data;
  GError *local = NULL;

  if (!response)
    slot_list_fail (l, g_error_copy (error));
  else if (!esimd_mbim_slot_mappings_parse (response, &l->active, &local))
    slot_list_fail (l, named (mbim, local));
  else
    slot_list_next (mbim, l);
}

static void
sys_caps_answered (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  SlotList *l = data;
  GError *local = NULL;

  if (!response)
    {
      slot_list_fail (l, g_error_copy (error));
      return;
    }
  if (esimd_mbim_unsupported (response))
    {
      /* A single-SIM modem without the multi-SIM commands: its one slot, always active. */
      EsimdModemSlot *only = g_new0 (EsimdModemSlot, 1);

      only->number = 1;
      only->active = TRUE;
      only->card_present = TRUE;
      g_ptr_array_add (l->slots, only);
      l->count = 1;
      slot_list_next (mbim, l);
      return;
    }
  if (!esimd_mbim_sys_caps_parse (response, &l->count, &local))
    {
      slot_list_fail (l, named (mbim, local));
      return;
    }
  send_command (mbim,
                mbim_message_ms_basic_connect_extensions_device_slot_mappings_query_new (NULL),
                "Device Slot Mappings", mappings_answered, l);
}

static void
mbim_list_slots (EsimdModem *modem, GTask *task)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;
  SlotList *l;

  if (!ready_or_error (mbim, task))
    return;
  l = g_new0 (SlotList, 1);
  l->task = task;
  l->slots = g_ptr_array_new_with_free_func (g_free);
  send_command (mbim, mbim_message_ms_basic_connect_extensions_sys_caps_query_new (NULL),
                "System Caps", sys_caps_answered, l);
}

typedef struct
{
  GTask *task;
  guint slot; /* 0-based, as MBIM numbers slots */
} SwitchOp;

static void
mapping_set (EsimdMbim *mbim, MbimMessage *response, const GError *error, gpointer data)
{
  g_autofree SwitchOp *op = data;
  guint slot = 0;
  GError *local = NULL;

  if (!response)
    g_task_return_error (op->task, g_error_copy (error));
  else if (!esimd_mbim_slot_mappings_parse (response, &slot, &local))
    g_task_return_error (op->task, named (mbim, local));
  else if (slot != op->slot)
    g_task_return_new_error (op->task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                             "modem %s stayed on slot %u instead of slot %u", mbim->config->name,
                             slot + 1, op->slot + 1);
  else
    {
      g_info ("modem %s: switched to slot %u", mbim->config->name, slot + 1);
      wait_card_ready (mbim, op->task, FALSE);
      return;
    }
  g_object_unref (op->task);
}

static void
mbim_switch_slot (EsimdModem *modem, guint number, GTask *task)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;
  MbimSlot slot = { number - 1 };
  const MbimSlot *map[] = { &slot, NULL };
  SwitchOp *op;

  if (!ready_or_error (mbim, task))
    return;
  if (number == 0 || number > 16)
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                               "modem %s has no slot %u", mbim->config->name, number);
      g_object_unref (task);
      return;
    }
  mbim->channel = 0; /* the card of the old slot, and its channels, are gone */
  op = g_new0 (SwitchOp, 1);
  op->task = task;
  op->slot = number - 1;
  send_command (
      mbim, mbim_message_ms_basic_connect_extensions_device_slot_mappings_set_new (1, map, NULL),
      "Device Slot Mappings", mapping_set, op);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void
mbim_start (EsimdModem *modem)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;

  if (mbim->state == MBIM_STATE_IDLE)
    connect_start (mbim);
}

static void
stop_device_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  g_autoptr (GError) error = NULL;

  /* Through the proxy this only ends our client session; directly it ends the modem's. */
  if (!mbim_device_close_finish (MBIM_DEVICE (source), res, &error))
    g_debug ("closing the MBIM device: %s", error->message);
  g_task_return_boolean (task, TRUE);
}

static void
stop_channel_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdMbim *mbim = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) stopped =
      g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s stopped", mbim->config->name);

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    g_debug ("modem %s: closing the channel: %s", mbim->config->name, error->message);
  fail_pending (mbim, stopped);
  ready_wait_end (mbim, g_error_copy (stopped));
  open_wait_end (mbim, g_error_copy (stopped));
  if (!mbim->device || !mbim_device_is_open (mbim->device))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  mbim_device_close (mbim->device, CLOSE_TIMEOUT, NULL, stop_device_closed,
                     g_steal_pointer (&task));
}

static void
mbim_stop (EsimdModem *modem, GTask *task_in)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;
  g_autoptr (GTask) task = task_in;
  gboolean ready = mbim->state == MBIM_STATE_READY;

  /* The close below still goes out (close_channel_task checks READY): STOPPED comes after. */
  g_clear_handle_id (&mbim->retry_id, g_source_remove);
  g_clear_object (&mbim->monitor);
  if (mbim->cancellable)
    g_cancellable_cancel (mbim->cancellable);
  if (!ready)
    {
      g_autoptr (GError) stopped =
          g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s stopped", mbim->config->name);

      mbim->state = MBIM_STATE_STOPPED;
      fail_pending (mbim, stopped);
      ready_wait_end (mbim, g_error_copy (stopped));
      open_wait_end (mbim, g_error_copy (stopped));
      g_task_return_boolean (task, TRUE);
      return;
    }
  {
    GTask *close = g_task_new (NULL, NULL, stop_channel_closed, g_steal_pointer (&task));

    g_task_set_task_data (close, mbim, NULL);
    close_channel_task (mbim, close);
    mbim->state = MBIM_STATE_STOPPED;
  }
}

static void
mbim_free (EsimdModem *modem)
{
  EsimdMbim *mbim = (EsimdMbim *) modem;

  g_clear_handle_id (&mbim->retry_id, g_source_remove);
  g_clear_object (&mbim->monitor);
  if (mbim->cancellable)
    g_cancellable_cancel (mbim->cancellable);
  g_clear_object (&mbim->cancellable);
  ready_wait_end (mbim, g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem freed"));
  open_wait_end (mbim, g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem freed"));
  for (guint i = 0; i < mbim->pending->len; i++)
    {
      Request *req = mbim->pending->pdata[i];

      req->mbim = NULL;
      req->done = TRUE; /* stop() answered everything that mattered */
    }
  g_ptr_array_unref (mbim->pending);
  drop_device (mbim);
  g_free (mbim);
}

static const EsimdModemOps mbim_ops = {
  .name = "mbim",
  .start = mbim_start,
  .stop = mbim_stop,
  .free = mbim_free,
  .open_channel = mbim_open_channel,
  .close_channel = mbim_close_channel,
  .forget_channel = mbim_forget_channel,
  .transmit = mbim_transmit,
  .reset_card = mbim_reset_card,
  .reset_name = "uicc-reset",
  .read_imei = mbim_read_imei,
  .list_slots = mbim_list_slots,
  .switch_slot = mbim_switch_slot,
};

EsimdModem *
esimd_modem_mbim_new (const EsimdModemConfig *config)
{
  EsimdMbim *mbim = g_new0 (EsimdMbim, 1);

  mbim->modem.ops = &mbim_ops;
  mbim->modem.config = config;
  mbim->config = config;
  mbim->pending = g_ptr_array_new ();
  return &mbim->modem;
}
