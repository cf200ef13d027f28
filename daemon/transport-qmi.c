/* transport-qmi.c — the "qmi" EsimdModem: a QmiDevice's UIM client (channels, APDUs, power
 * cycle), its DMS service (the IMEI), loss and return. The only libqmi user. The port may speak
 * QMUX (qmi_wwan) or carry QMI inside MBIM (a Qualcomm modem in MBIM mode): QmiMode= chooses,
 * by default from the port's kernel driver. */
#include "modem.h"

#include "log.h"
#include "lpa-error.h"
#include "qmi-uim.h"

#include <libqmi-glib.h>
#include <stdlib.h>
#include <string.h>

#define OPEN_TIMEOUT 15 /* seconds */
#define RETRY_FIRST  1  /* seconds */
#define RETRY_MAX    60
/* Commands in a row that may go unanswered before the link counts as lost. libqmi cannot tell a
 * modem that stopped answering from a stream that lost its framing (one header claiming 65 535
 * bytes makes it wait for good for the rest of that frame): either way every later command times
 * out, until the device is opened again. One timeout may be a slow card; two are a dead link. */
#define MAX_TIMEOUTS_IN_A_ROW 2

typedef enum
{
  QMI_STATE_IDLE,
  QMI_STATE_CONNECTING,
  QMI_STATE_READY,
  QMI_STATE_WAITING, /* lost or never found: a retry is scheduled */
  QMI_STATE_STOPPED,
} QmiState;

typedef struct _EsimdQmi EsimdQmi;
typedef struct _ImeiOp ImeiOp;

/* After a power cycle the modem takes the card through its start-up again; until it is done the
 * card is not "present" in UIM Get Card Status and commands to it fail. Asked this often, up to
 * this long. */
#define READY_POLL_MS 300
#define READY_WAIT_US (15 * G_USEC_PER_SEC)

/* The wait for the card after a power cycle. A Get Card Status in flight when the wait ends (the
 * modem lost, stopped or freed) finds @qmi NULL and frees the struct. */
typedef struct
{
  EsimdQmi *qmi;
  GTask *task;
  gint64 deadline;
  gboolean in_flight;
} ReadyWait;

/* An APDU in flight. libqmi always calls back eventually (answer, error or timeout); if the
 * device disappears first, the caller is answered at once and the late libqmi callback finds
 * the request already done. */
typedef struct
{
  EsimdQmi *qmi; /* NULL once the EsimdQmi is gone */
  LpaApduCallback callback;
  gpointer user_data;
  gboolean done;
  gsize sent;
} ApduRequest;

struct _EsimdQmi
{
  EsimdModem modem;               /* first: an EsimdQmi is an EsimdModem */
  const EsimdModemConfig *config; /* the same as modem.config, set by the constructor */

  QmiState state;
  QmiDevice *device;
  QmiClient *client;
  gulong removed_id;
  GCancellable *cancellable; /* cancels the connection sequence */
  guint retry_id;
  guint retry_delay;
  GFileMonitor *monitor; /* watches for the device node to come back */

  guint timeouts; /* commands in a row that got no answer on this connection */
  guint lost_id;  /* the link is taken as lost from an idle (not inside libqmi's callback) */

  gboolean mbim;       /* this connection carries QMI inside MBIM */
  guint8 channel;      /* 0 = none open */
  GPtrArray *pending;  /* ApduRequest* */
  GPtrArray *imei_ops; /* ImeiOp* not answered yet */
  ReadyWait *ready;    /* the power cycle waiting for the card, or NULL */
  guint ready_id;      /* its next Get Card Status */
};

static void connect_start (EsimdQmi *qmi);

static GError *
not_ready_error (EsimdQmi *qmi)
{
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s is not available",
                      qmi->config->name);
}

static void
set_available (EsimdQmi *qmi, gboolean available, const GError *reason)
{
  esimd_modem_set_available (&qmi->modem, available, reason);
}

/* Answers every APDU in flight: the device they were sent to is gone. */
static void
fail_pending (EsimdQmi *qmi, const GError *error)
{
  g_autoptr (GPtrArray) reqs = g_ptr_array_copy (qmi->pending, NULL, NULL);

  for (guint i = 0; i < reqs->len; i++)
    {
      ApduRequest *req = reqs->pdata[i];

      if (!req->done)
        {
          req->done = TRUE;
          req->callback (NULL, error, req->user_data);
        }
    }
}

/* Answers the power cycle waiting for the card: @error (taken) or success. */
static void
ready_wait_end (EsimdQmi *qmi, GError *error)
{
  ReadyWait *w = g_steal_pointer (&qmi->ready);

  g_clear_handle_id (&qmi->ready_id, g_source_remove);
  if (!w)
    {
      g_clear_error (&error);
      return;
    }
  if (error)
    g_task_return_error (w->task, error);
  else
    g_task_return_boolean (w->task, TRUE);
  g_clear_object (&w->task);
  w->qmi = NULL;
  if (!w->in_flight)
    g_free (w);
}

static void
drop_device (EsimdQmi *qmi)
{
  if (qmi->device && qmi->removed_id)
    g_signal_handler_disconnect (qmi->device, qmi->removed_id);
  qmi->removed_id = 0;
  g_clear_object (&qmi->client);
  g_clear_object (&qmi->device);
  qmi->channel = 0;
}

static gboolean
retry_cb (gpointer data)
{
  EsimdQmi *qmi = data;

  qmi->retry_id = 0;
  if (qmi->state == QMI_STATE_WAITING)
    connect_start (qmi);
  return G_SOURCE_REMOVE;
}

static void
on_device_node_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                        gpointer data)
{
  EsimdQmi *qmi = data;

  if (qmi->state == QMI_STATE_WAITING && event == G_FILE_MONITOR_EVENT_CREATED)
    {
      g_info ("modem %s: device node is back", qmi->config->name);
      g_clear_handle_id (&qmi->retry_id, g_source_remove);
      connect_start (qmi);
    }
}

/* Retries run only while the modem is missing; a working modem costs no timer. A real device
 * node is also watched with inotify so a returning modem is picked up at once. */
static void
schedule_retry (EsimdQmi *qmi)
{
  qmi->state = QMI_STATE_WAITING;
  qmi->retry_delay = qmi->retry_delay ? MIN (qmi->retry_delay * 2, RETRY_MAX) : RETRY_FIRST;
  g_clear_handle_id (&qmi->retry_id, g_source_remove);
  qmi->retry_id = g_timeout_add_seconds (qmi->retry_delay, retry_cb, qmi);

  if (!qmi->monitor && !qmi->config->no_file_check)
    {
      g_autoptr (GFile) file = g_file_new_for_path (qmi->config->device);

      qmi->monitor = g_file_monitor_file (file, G_FILE_MONITOR_NONE, NULL, NULL);
      if (qmi->monitor)
        g_signal_connect (qmi->monitor, "changed", G_CALLBACK (on_device_node_changed), qmi);
    }
}

static void
lost (EsimdQmi *qmi, const GError *reason)
{
  gboolean was_ready = qmi->state == QMI_STATE_READY;

  drop_device (qmi);
  fail_pending (qmi, reason);
  ready_wait_end (qmi, g_error_copy (reason));
  if (qmi->state == QMI_STATE_STOPPED)
    return;
  schedule_retry (qmi);
  if (was_ready)
    g_warning ("modem %s: lost: %s", qmi->config->name, reason->message);
  else
    g_debug ("modem %s: not reachable (%s); retrying in %u s", qmi->config->name, reason->message,
             qmi->retry_delay);
  /* Also when it was never there: the reason is what the eUICC's UnavailableReason shows. */
  set_available (qmi, FALSE, reason);
}

static gboolean
lost_after_timeouts (gpointer data)
{
  EsimdQmi *qmi = data;
  g_autoptr (GError) reason = g_error_new (
      LPA_ERROR, LPA_ERROR_TRANSPORT,
      "modem %s: %u commands in a row got no answer within %u s; the link is taken as lost "
      "(opening the device again)",
      qmi->config->name, MAX_TIMEOUTS_IN_A_ROW, qmi->config->command_timeout);

  qmi->lost_id = 0;
  if (qmi->state == QMI_STATE_READY)
    lost (qmi, reason);
  return G_SOURCE_REMOVE;
}

/* Every command's outcome on the current connection (@source: the device or client it was sent
 * with; a late answer from a connection already dropped says nothing about this one). Any
 * answer, even an error, shows the link works; only timeouts count. */
static void
note_outcome (EsimdQmi *qmi, gpointer source, const GError *error)
{
  if (!qmi || qmi->state != QMI_STATE_READY ||
      (source != (gpointer) qmi->device && source != (gpointer) qmi->client))
    return;
  if (!g_error_matches (error, QMI_CORE_ERROR, QMI_CORE_ERROR_TIMEOUT))
    {
      qmi->timeouts = 0;
      return;
    }
  if (++qmi->timeouts >= MAX_TIMEOUTS_IN_A_ROW && !qmi->lost_id)
    qmi->lost_id = g_idle_add (lost_after_timeouts, qmi);
}

static void
on_device_removed (QmiDevice *device, gpointer data)
{
  EsimdQmi *qmi = data;
  g_autoptr (GError) reason =
      g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s disappeared", qmi->config->name);

  lost (qmi, reason);
}

/* ---- connection sequence: device → open → UIM client ------------------------------------- */

static void
connect_failed (EsimdQmi *qmi, const char *step, GError *error)
{
  g_autoptr (GError) reason = NULL;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (error);
      return;
    }
  reason = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s: %s", qmi->config->name, step,
                        error->message);
  g_error_free (error);
  lost (qmi, reason);
}

static void
client_allocated (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdQmi *qmi = data;
  GError *error = NULL;
  QmiClient *client = qmi_device_allocate_client_finish (QMI_DEVICE (source), res, &error);

  if (!client)
    {
      connect_failed (qmi, "allocating a UIM client", error);
      return;
    }
  qmi->client = client;
  qmi->state = QMI_STATE_READY;
  qmi->retry_delay = 0;
  qmi->timeouts = 0;
  g_clear_object (&qmi->monitor);
  g_info ("modem %s: UIM client %u ready on %s%s%s", qmi->config->name, qmi_client_get_cid (client),
          qmi->config->device, qmi->mbim ? ", QMI inside MBIM" : "",
          !qmi->config->use_proxy ? ""
          : qmi->mbim             ? " (through mbim-proxy)"
                                  : " (through qmi-proxy)");
  set_available (qmi, TRUE, NULL);
}

static void
device_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdQmi *qmi = data;
  GError *error = NULL;

  if (!qmi_device_open_finish (QMI_DEVICE (source), res, &error))
    {
      connect_failed (qmi, "opening the device", error);
      return;
    }
  qmi->removed_id = g_signal_connect (qmi->device, QMI_DEVICE_SIGNAL_REMOVED,
                                      G_CALLBACK (on_device_removed), qmi);
  qmi_device_allocate_client (qmi->device, QMI_SERVICE_UIM, QMI_CID_NONE, OPEN_TIMEOUT,
                              qmi->cancellable, client_allocated, qmi);
}

/* QmiMode=auto: the decision libqmi's AUTO flag makes (a cdc-wdm port of the cdc_mbim driver, or
 * a WWAN port of type MBIM, carries QMI inside MBIM), made here first so that a port the kernel
 * does not describe (a test rig's pty, a proxy socket) still means QMUX instead of failing. */
static gboolean
port_is_mbim (const char *device)
{
  g_autofree char *real = realpath (device, NULL);
  g_autofree char *name = g_path_get_basename (real ? real : device);
  g_autofree char *driver_link = g_strdup_printf ("/sys/class/usbmisc/%s/device/driver", name);
  g_autofree char *type_path = g_strdup_printf ("/sys/class/wwan/%s/type", name);
  g_autofree char *driver = g_file_read_link (driver_link, NULL);
  g_autofree char *type = NULL;

  if (driver)
    {
      g_autofree char *base = g_path_get_basename (driver);

      return g_str_equal (base, "cdc_mbim");
    }
  if (g_file_get_contents (type_path, &type, NULL, NULL))
    return g_str_has_prefix (type, "MBIM");
  return FALSE;
}

static gboolean
speaks_mbim (EsimdQmi *qmi)
{
  switch (qmi->config->qmi_mode)
    {
    case ESIMD_QMI_MODE_MBIM:
      return TRUE;
    case ESIMD_QMI_MODE_QMI:
      return FALSE;
    case ESIMD_QMI_MODE_AUTO:
    default:
      return !qmi->config->no_file_check && !qmi->config->proxy_socket &&
             port_is_mbim (qmi->config->device);
    }
}

static void
device_created (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdQmi *qmi = data;
  GError *error = NULL;
  GObject *device = g_async_initable_new_finish (G_ASYNC_INITABLE (source), res, &error);
  QmiDeviceOpenFlags flags = QMI_DEVICE_OPEN_FLAGS_VERSION_INFO;

  if (!device)
    {
      connect_failed (qmi, "creating the device", error);
      return;
    }
  qmi->device = QMI_DEVICE (device);
  /* With MBIM, libqmi opens the port with libmbim, and PROXY means mbim-proxy. */
  qmi->mbim = speaks_mbim (qmi);
#if QMI_MBIM_QMUX_SUPPORTED
  if (qmi->mbim)
    flags |= QMI_DEVICE_OPEN_FLAGS_MBIM;
#else
  if (qmi->mbim)
    {
      g_autoptr (GError) unsupported = g_error_new_literal (
          G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "this libqmi was built without QMI over MBIM");

      connect_failed (qmi, "opening the device", g_steal_pointer (&unsupported));
      return;
    }
#endif
  if (qmi->config->use_proxy)
    flags |= QMI_DEVICE_OPEN_FLAGS_PROXY;
  qmi_device_open (qmi->device, flags, OPEN_TIMEOUT, qmi->cancellable, device_opened, qmi);
}

static void
connect_start (EsimdQmi *qmi)
{
  g_autoptr (GFile) file = g_file_new_for_path (qmi->config->device);
  g_autoptr (GError) missing =
      qmi->config->no_file_check ? NULL : esimd_modem_node_missing (qmi->config);

  qmi->state = QMI_STATE_CONNECTING;
  g_clear_object (&qmi->cancellable);
  qmi->cancellable = g_cancellable_new ();
  if (missing)
    {
      lost (qmi, missing);
      return;
    }
  /* The proxy path and file-check properties are how a test rig (or an unusual proxy socket)
   * is reached; on a real modem both keep libqmi's defaults. */
  if (qmi->config->proxy_socket)
    g_async_initable_new_async (QMI_TYPE_DEVICE, G_PRIORITY_DEFAULT, qmi->cancellable,
                                device_created, qmi, QMI_DEVICE_FILE, file,
                                QMI_DEVICE_NO_FILE_CHECK, qmi->config->no_file_check,
                                QMI_DEVICE_PROXY_PATH, qmi->config->proxy_socket, NULL);
  else
    g_async_initable_new_async (QMI_TYPE_DEVICE, G_PRIORITY_DEFAULT, qmi->cancellable,
                                device_created, qmi, QMI_DEVICE_FILE, file,
                                QMI_DEVICE_NO_FILE_CHECK, qmi->config->no_file_check, NULL);
}

/* ---- raw commands ------------------------------------------------------------------------ */

static gboolean
ready_or_error (EsimdQmi *qmi, GTask *task)
{
  if (qmi->state == QMI_STATE_READY)
    return TRUE;
  g_task_return_error (task, not_ready_error (qmi));
  return FALSE;
}

static void
send_raw (EsimdQmi *qmi, QmiMessage *msg, GAsyncReadyCallback callback, gpointer data)
{
  qmi_device_command_full (qmi->device, msg, NULL, qmi->config->command_timeout, NULL, callback,
                           data);
}

static GError *
command_error (EsimdQmi *qmi, const char *what, GError *qmi_error)
{
  GError *e = g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "%s on modem %s: %s", what,
                           qmi->config->name, qmi_error->message);

  g_error_free (qmi_error);
  return e;
}

static void wait_card_ready (EsimdQmi *qmi, GTask *task);
static void send_open (EsimdQmi *qmi, GTask *task);

/* The wait for a card that was not up is over: Open Logical Channel once more, or its error. */
static void
open_after_wait (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  GError *error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_object_set_data (G_OBJECT (task), "waited", GINT_TO_POINTER (TRUE));
  if (!ready_or_error (qmi, task))
    return;
  send_open (qmi, g_steal_pointer (&task));
}

static void
channel_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (QmiMessage) resp = qmi_device_command_full_finish (QMI_DEVICE (source), res, &error);
  guint8 channel = 0;

  note_outcome (qmi, source, error);
  if (!resp)
    {
      g_task_return_error (task, command_error (qmi, "Open Logical Channel", error));
      return;
    }
  if (esimd_qmi_uim_card_not_ready (resp) && !g_object_get_data (G_OBJECT (task), "waited") &&
      qmi->state == QMI_STATE_READY)
    {
      /* The card is still starting (the modem just started, or another host power-cycled or
       * switched it): wait for it as after our own power cycle, then ask once more. */
      GTask *wait = g_task_new (NULL, NULL, open_after_wait, g_steal_pointer (&task));

      g_debug ("modem %s: the card is not up yet; waiting for it", qmi->config->name);
      g_task_set_task_data (wait, qmi, NULL);
      wait_card_ready (qmi, wait);
      return;
    }
  if (!esimd_qmi_uim_open_channel_parse (resp, &channel, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  qmi->channel = channel;
  g_debug ("modem %s: logical channel %u open to the ISD-R", qmi->config->name, channel);
  g_task_return_int (task, channel);
}

static void
qmi_open_channel (EsimdModem *modem, GBytes *aid, GTask *task_in)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;
  g_autoptr (GTask) task = task_in;

  if (!ready_or_error (qmi, task))
    return;
  g_object_set_data_full (G_OBJECT (task), "aid", g_bytes_ref (aid),
                          (GDestroyNotify) g_bytes_unref);
  send_open (qmi, g_steal_pointer (&task));
}

static void
send_open (EsimdQmi *qmi, GTask *task)
{
  g_autoptr (QmiMessage) msg = esimd_qmi_uim_open_channel_new (
      qmi_client_get_cid (qmi->client), qmi_client_get_next_transaction_id (qmi->client),
      (guint8) qmi->config->slot, g_object_get_data (G_OBJECT (task), "aid"));

  send_raw (qmi, msg, channel_opened, task);
}

static void
channel_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (QmiMessage) resp = qmi_device_command_full_finish (QMI_DEVICE (source), res, &error);

  note_outcome (qmi, source, error);
  if (!resp)
    g_task_return_error (task, command_error (qmi, "Close Logical Channel", error));
  else if (!esimd_qmi_uim_close_channel_parse (resp, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* Shared by the job queue's close and by stop(), which runs it while already stopping. */
static void
close_channel_task (EsimdQmi *qmi, GTask *task)
{
  g_autoptr (QmiMessage) msg = NULL;
  guint8 channel = qmi->channel;

  qmi->channel = 0;
  if (channel == 0 || !qmi->client)
    {
      g_task_return_boolean (task, TRUE); /* nothing left to close */
      g_object_unref (task);
      return;
    }
  msg = esimd_qmi_uim_close_channel_new (qmi_client_get_cid (qmi->client),
                                         qmi_client_get_next_transaction_id (qmi->client),
                                         (guint8) qmi->config->slot, channel);
  send_raw (qmi, msg, channel_closed, task);
}

static void
qmi_close_channel (EsimdModem *modem, GTask *task)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;

  if (qmi->state != QMI_STATE_READY)
    qmi->channel = 0;
  close_channel_task (qmi, task);
}

static void
qmi_forget_channel (EsimdModem *modem)
{
  ((EsimdQmi *) modem)->channel = 0;
}

/* ---- APDUs ------------------------------------------------------------------------------- */

static void
apdu_request_finish (ApduRequest *req)
{
  if (req->qmi)
    g_ptr_array_remove_fast (req->qmi->pending, req);
  g_free (req);
}

static void
apdu_sent (GObject *source, GAsyncResult *res, gpointer data)
{
  ApduRequest *req = data;
  EsimdQmi *qmi = req->qmi;
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessage) resp = qmi_device_command_full_finish (QMI_DEVICE (source), res, &error);
  g_autoptr (GBytes) rapdu = NULL;

  note_outcome (qmi, source, error);
  if (req->done)
    {
      apdu_request_finish (req);
      return;
    }
  req->done = TRUE;
  if (!resp)
    {
      g_autoptr (GError) e =
          g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "Send APDU on modem %s: %s",
                       qmi ? qmi->config->name : "?", error->message);

      req->callback (NULL, e, req->user_data);
    }
  else if (!(rapdu = esimd_qmi_uim_send_apdu_parse (resp, &error)))
    req->callback (NULL, error, req->user_data);
  else
    {
      if (qmi)
        esimd_modem_count_apdu (&qmi->modem, req->sent, g_bytes_get_size (rapdu));
      req->callback (rapdu, NULL, req->user_data);
    }
  apdu_request_finish (req);
}

static gboolean
apdu_fail_later (gpointer data)
{
  ApduRequest *req = data;
  g_autoptr (GError) error = g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                                  "no logical channel is open to the eUICC");

  req->done = TRUE;
  req->callback (NULL, error, req->user_data);
  apdu_request_finish (req);
  return G_SOURCE_REMOVE;
}

static void
qmi_transmit (EsimdModem *modem, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;
  ApduRequest *req = g_new0 (ApduRequest, 1);
  g_autoptr (QmiMessage) msg = NULL;

  req->qmi = qmi;
  req->callback = callback;
  req->user_data = user_data;
  req->sent = g_bytes_get_size (command);
  g_ptr_array_add (qmi->pending, req);

  if (qmi->state != QMI_STATE_READY || qmi->channel == 0)
    {
      g_idle_add (apdu_fail_later, req); /* the transport contract: never answer in the call */
      return;
    }
  msg = esimd_qmi_uim_send_apdu_new (qmi_client_get_cid (qmi->client),
                                     qmi_client_get_next_transaction_id (qmi->client),
                                     (guint8) qmi->config->slot, qmi->channel, command);
  send_raw (qmi, msg, apdu_sent, req);
}

/* ---- power cycle: the modem re-reads the card -------------------------------------------- */

static void ready_poll (EsimdQmi *qmi);

static gboolean
ready_poll_cb (gpointer data)
{
  EsimdQmi *qmi = data;

  qmi->ready_id = 0;
  ready_poll (qmi);
  return G_SOURCE_REMOVE;
}

/* The state of the card in the configured slot, from Get Card Status's list (one entry per
 * slot, in slot order); FALSE if the answer has none for it. */
static gboolean
card_state_of_slot (QmiMessageUimGetCardStatusOutput *out, guint slot, QmiUimCardState *state)
{
  GArray *cards = NULL;

  if (!qmi_message_uim_get_card_status_output_get_card_status (out, NULL, NULL, NULL, NULL, &cards,
                                                               NULL) ||
      !cards || slot < 1 || slot > cards->len)
    return FALSE;
  *state = g_array_index (cards, QmiMessageUimGetCardStatusOutputCardStatusCardsElement, slot - 1)
               .card_state;
  return TRUE;
}

static void
card_status_got (GObject *source, GAsyncResult *res, gpointer data)
{
  ReadyWait *w = data;
  EsimdQmi *qmi = w->qmi;
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessageUimGetCardStatusOutput) out =
      qmi_client_uim_get_card_status_finish (QMI_CLIENT_UIM (source), res, &error);
  QmiUimCardState state = QMI_UIM_CARD_STATE_ABSENT;

  w->in_flight = FALSE;
  if (!qmi)
    {
      g_free (w); /* the wait ended meanwhile */
      return;
    }
  note_outcome (qmi, source, error);
  if (!out)
    {
      ready_wait_end (qmi, g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                        "modem %s: Get Card Status after the SIM power cycle: %s",
                                        qmi->config->name, error->message));
      return;
    }
  if (!qmi_message_uim_get_card_status_output_get_result (out, &error))
    {
      /* A modem without the message cannot say: the card is taken as read. */
      if (g_error_matches (error, QMI_PROTOCOL_ERROR, QMI_PROTOCOL_ERROR_INVALID_QMI_COMMAND) ||
          g_error_matches (error, QMI_PROTOCOL_ERROR, QMI_PROTOCOL_ERROR_NOT_SUPPORTED))
        {
          ready_wait_end (qmi, NULL);
          return;
        }
    }
  else if (card_state_of_slot (out, qmi->config->slot, &state) &&
           state == QMI_UIM_CARD_STATE_PRESENT)
    {
      g_debug ("modem %s: the card is up again after the power cycle", qmi->config->name);
      ready_wait_end (qmi, NULL);
      return;
    }
  if (g_get_monotonic_time () < w->deadline)
    {
      qmi->ready_id = g_timeout_add (READY_POLL_MS, ready_poll_cb, qmi);
      return;
    }
  /* What the card says when it is next used tells the caller more than a timeout would. */
  g_info ("modem %s: the card is not present %d s after the SIM power cycle", qmi->config->name,
          (int) (READY_WAIT_US / G_USEC_PER_SEC));
  ready_wait_end (qmi, NULL);
}

static void
ready_poll (EsimdQmi *qmi)
{
  if (qmi->state != QMI_STATE_READY || !qmi->client)
    {
      ready_wait_end (qmi, not_ready_error (qmi));
      return;
    }
  qmi->ready->in_flight = TRUE;
  qmi_client_uim_get_card_status (QMI_CLIENT_UIM (qmi->client), NULL, qmi->config->command_timeout,
                                  NULL, card_status_got, qmi->ready);
}

/* The modem takes the card through its start-up again after Power On SIM answers, and until it
 * is done commands to the card fail: some modems and cards take seconds (openwrt/openwrt pull
 * request #18772 had to lengthen the wait after a power cycle; ModemManager's mm-sim-qmi.c
 * polls Get Card Status until the card is ready). @task is answered once the card in the slot
 * is present again, or at the deadline. */
static void
wait_card_ready (EsimdQmi *qmi, GTask *task)
{
  ready_wait_end (
      qmi, g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "superseded by another reset"));
  qmi->ready = g_new0 (ReadyWait, 1);
  qmi->ready->qmi = qmi;
  qmi->ready->task = task;
  qmi->ready->deadline = g_get_monotonic_time () + READY_WAIT_US;
  ready_poll (qmi);
}

static void
powered_on (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (QmiMessageUimPowerOnSimOutput) out =
      qmi_client_uim_power_on_sim_finish (QMI_CLIENT_UIM (source), res, &error);

  note_outcome (qmi, source, error);
  if (!out || !qmi_message_uim_power_on_sim_output_get_result (out, &error))
    g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT, "SIM power on: %s",
                             error->message);
  else
    wait_card_ready (qmi, g_steal_pointer (&task));
  g_clear_error (&error);
}

static void
powered_off (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  GError *error = NULL;
  g_autoptr (QmiMessageUimPowerOffSimOutput) out =
      qmi_client_uim_power_off_sim_finish (QMI_CLIENT_UIM (source), res, &error);
  g_autoptr (QmiMessageUimPowerOnSimInput) in = NULL;

  note_outcome (qmi, source, error);
  if (!out || !qmi_message_uim_power_off_sim_output_get_result (out, &error))
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT, "SIM power off: %s",
                               error->message);
      g_clear_error (&error);
      return;
    }
  if (qmi->state != QMI_STATE_READY)
    {
      g_task_return_error (task, not_ready_error (qmi));
      return;
    }
  in = qmi_message_uim_power_on_sim_input_new ();
  qmi_message_uim_power_on_sim_input_set_slot (in, (guint8) qmi->config->slot, NULL);
  qmi_client_uim_power_on_sim (QMI_CLIENT_UIM (qmi->client), in, qmi->config->command_timeout, NULL,
                               powered_on, g_steal_pointer (&task));
}

static void
qmi_reset_card (EsimdModem *modem, GTask *task)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;
  g_autoptr (QmiMessageUimPowerOffSimInput) in = NULL;

  if (!ready_or_error (qmi, task))
    {
      g_object_unref (task);
      return;
    }
  qmi->channel = 0; /* a card reset closes every logical channel */
  in = qmi_message_uim_power_off_sim_input_new ();
  qmi_message_uim_power_off_sim_input_set_slot (in, (guint8) qmi->config->slot, NULL);
  qmi_client_uim_power_off_sim (QMI_CLIENT_UIM (qmi->client), in, qmi->config->command_timeout,
                                NULL, powered_off, task);
}

/* ---- the IMEI, from the DMS service ------------------------------------------------------ */

/* A DMS client lives only for the one Get IDs: esimd needs the IMEI once per connection, and a
 * client left allocated would be one more the modem keeps for us. The answer is returned as soon
 * as it is known; the client is released afterwards, on the device that allocated it. */
struct _ImeiOp
{
  EsimdQmi *qmi; /* NULL once the EsimdQmi is gone */
  GTask *task;   /* NULL once answered */
  QmiDevice *device;
  QmiClient *client;
};

static void
imei_op_answer (ImeiOp *op, char *imei, GError *error)
{
  GTask *task = g_steal_pointer (&op->task);

  if (op->qmi)
    g_ptr_array_remove_fast (op->qmi->imei_ops, op);
  op->qmi = NULL;
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, imei, g_free);
  g_object_unref (task);
}

static void
imei_op_free (ImeiOp *op)
{
  g_clear_object (&op->client);
  g_clear_object (&op->device);
  g_free (op);
}

static void
imei_client_released (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!qmi_device_release_client_finish (QMI_DEVICE (source), res, &error))
    g_debug ("releasing the DMS client: %s", error->message);
  imei_op_free (data);
}

static gboolean
is_imei (const char *s)
{
  gsize n = 0;

  for (; s[n]; n++)
    if (!g_ascii_isdigit (s[n]))
      return FALSE;
  return n == 15;
}

static void
imei_got_ids (GObject *source, GAsyncResult *res, gpointer data)
{
  ImeiOp *op = data;
  const char *name = op->qmi ? op->qmi->config->name : "?";
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessageDmsGetIdsOutput) out =
      qmi_client_dms_get_ids_finish (QMI_CLIENT_DMS (source), res, &error);
  const char *imei = NULL;

  note_outcome (op->qmi, op->device, error);
  if (!out || !qmi_message_dms_get_ids_output_get_result (out, &error) ||
      !qmi_message_dms_get_ids_output_get_imei (out, &imei, &error))
    imei_op_answer (op, NULL,
                    g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "DMS Get IDs on modem %s: %s",
                                 name, error->message));
  else if (!is_imei (imei))
    imei_op_answer (op, NULL,
                    g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                 "modem %s: the IMEI it reports is not 15 digits", name));
  else
    imei_op_answer (op, g_strdup (imei), NULL);
  qmi_device_release_client (op->device, op->client, QMI_DEVICE_RELEASE_CLIENT_FLAGS_RELEASE_CID, 5,
                             NULL, imei_client_released, op);
}

static void
imei_client_allocated (GObject *source, GAsyncResult *res, gpointer data)
{
  ImeiOp *op = data;
  GError *error = NULL;

  op->client = qmi_device_allocate_client_finish (QMI_DEVICE (source), res, &error);
  if (!op->client)
    {
      imei_op_answer (op, NULL,
                      g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                   "allocating a DMS client on modem %s: %s",
                                   op->qmi ? op->qmi->config->name : "?", error->message));
      g_error_free (error);
      imei_op_free (op);
      return;
    }
  qmi_client_dms_get_ids (QMI_CLIENT_DMS (op->client), NULL,
                          op->qmi ? op->qmi->config->command_timeout : 5, NULL, imei_got_ids, op);
}

static void
qmi_read_imei (EsimdModem *modem, GTask *task)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;
  ImeiOp *op;

  if (!ready_or_error (qmi, task))
    {
      g_object_unref (task);
      return;
    }
  op = g_new0 (ImeiOp, 1);
  op->qmi = qmi;
  op->task = task;
  op->device = g_object_ref (qmi->device);
  g_ptr_array_add (qmi->imei_ops, op);
  qmi_device_allocate_client (qmi->device, QMI_SERVICE_DMS, QMI_CID_NONE,
                              qmi->config->command_timeout, NULL, imei_client_allocated, op);
}

/* ---- slots: UIM Get Slot Status and Switch Slot ------------------------------------------ */

static char *
eid_digits (GArray *eid)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; eid && i < eid->len; i++)
    g_string_append_printf (s, "%02X", g_array_index (eid, guint8, i));
  return g_string_free (s, FALSE);
}

static void
slot_status_got (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessageUimGetSlotStatusOutput) out =
      qmi_client_uim_get_slot_status_finish (QMI_CLIENT_UIM (source), res, &error);
  g_autoptr (GPtrArray) slots = g_ptr_array_new_with_free_func (g_free);
  GArray *status = NULL, *info = NULL, *eids = NULL;

  if (!out || !qmi_message_uim_get_slot_status_output_get_result (out, &error) ||
      !qmi_message_uim_get_slot_status_output_get_physical_slot_status (out, &status, &error))
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "Get Slot Status on modem %s: %s", qmi->config->name,
                               error->message);
      return;
    }
  /* Older firmware leaves out the slot information and EIDs: the slots are still listed. */
  qmi_message_uim_get_slot_status_output_get_physical_slot_information (out, &info, NULL);
  qmi_message_uim_get_slot_status_output_get_slot_eid (out, &eids, NULL);
  for (guint i = 0; i < status->len; i++)
    {
      QmiPhysicalSlotStatusSlot *st = &g_array_index (status, QmiPhysicalSlotStatusSlot, i);
      EsimdModemSlot *slot = g_new0 (EsimdModemSlot, 1);

      slot->number = i + 1;
      slot->active = st->physical_slot_status == QMI_UIM_SLOT_STATE_ACTIVE;
      slot->card_present = st->physical_card_status == QMI_UIM_PHYSICAL_CARD_STATE_PRESENT;
      if (info && i < info->len)
        slot->euicc = g_array_index (info, QmiPhysicalSlotInformationSlot, i).is_euicc;
      if (eids && i < eids->len)
        {
          g_autofree char *eid = eid_digits (g_array_index (eids, QmiSlotEidElement, i).eid);

          /* An EID is 32 digits; anything else is not one, whatever the modem meant. */
          if (strlen (eid) == 32)
            memcpy (slot->eid, eid, 33);
        }
      g_ptr_array_add (slots, slot);
    }
  g_task_return_pointer (task, g_steal_pointer (&slots), (GDestroyNotify) g_ptr_array_unref);
}

static void
qmi_list_slots (EsimdModem *modem, GTask *task)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;

  if (!ready_or_error (qmi, task))
    {
      g_object_unref (task);
      return;
    }
  qmi_client_uim_get_slot_status (QMI_CLIENT_UIM (qmi->client), NULL, qmi->config->command_timeout,
                                  NULL, slot_status_got, task);
}

static void
slot_switched (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessageUimSwitchSlotOutput) out =
      qmi_client_uim_switch_slot_finish (QMI_CLIENT_UIM (source), res, &error);

  /* NoEffect: the slot was already the active one, which is what the caller wants. */
  if (out && !qmi_message_uim_switch_slot_output_get_result (out, &error) &&
      g_error_matches (error, QMI_PROTOCOL_ERROR, QMI_PROTOCOL_ERROR_NO_EFFECT))
    g_clear_error (&error);
  if (error)
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT, "Switch Slot on modem %s: %s",
                               qmi->config->name, error->message);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
qmi_switch_slot (EsimdModem *modem, guint number, GTask *task)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;
  g_autoptr (QmiMessageUimSwitchSlotInput) in = NULL;

  if (!ready_or_error (qmi, task))
    {
      g_object_unref (task);
      return;
    }
  /* The modem leaves the card it used: its logical channels are gone. */
  qmi->channel = 0;
  in = qmi_message_uim_switch_slot_input_new ();
  qmi_message_uim_switch_slot_input_set_logical_slot (in, (guint8) qmi->config->slot, NULL);
  qmi_message_uim_switch_slot_input_set_physical_slot (in, number, NULL);
  qmi_client_uim_switch_slot (QMI_CLIENT_UIM (qmi->client), in, qmi->config->command_timeout, NULL,
                              slot_switched, task);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void
qmi_start (EsimdModem *modem)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;

  if (qmi->state == QMI_STATE_IDLE)
    connect_start (qmi);
}

static void
stop_closed_device (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  g_autoptr (GError) error = NULL;

  qmi_device_close_finish (QMI_DEVICE (source), res, &error);
  g_task_return_boolean (task, TRUE);
}

static void
stop_released (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!qmi_device_release_client_finish (QMI_DEVICE (source), res, &error))
    g_debug ("modem %s: releasing the UIM client: %s", qmi->config->name, error->message);
  g_clear_object (&qmi->client);
  if (!qmi->device) /* lost while the release was on its way: nothing left to close */
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  qmi_device_close_async (qmi->device, 5, NULL, stop_closed_device, g_steal_pointer (&task));
}

static void
stop_channel_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdQmi *qmi = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!g_task_propagate_boolean (G_TASK (res), &error))
    g_debug ("modem %s: closing the channel: %s", qmi->config->name, error->message);
  /* The modem may have vanished while the channel closed: libqmi would refuse a NULL device or
   * client without ever calling back, and esimd would never exit. */
  if (!qmi->device || !qmi->client)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  qmi_device_release_client (qmi->device, qmi->client, QMI_DEVICE_RELEASE_CLIENT_FLAGS_RELEASE_CID,
                             5, NULL, stop_released, g_steal_pointer (&task));
}

static void
qmi_stop (EsimdModem *modem, GTask *task_in)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;
  g_autoptr (GTask) task = task_in;
  gboolean ready = qmi->state == QMI_STATE_READY;

  qmi->state = QMI_STATE_STOPPED;
  g_clear_handle_id (&qmi->retry_id, g_source_remove);
  g_clear_handle_id (&qmi->lost_id, g_source_remove);
  ready_wait_end (qmi, not_ready_error (qmi));
  g_clear_object (&qmi->monitor);
  if (qmi->cancellable)
    g_cancellable_cancel (qmi->cancellable);
  if (!ready)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  {
    GTask *close = g_task_new (NULL, NULL, stop_channel_closed, g_steal_pointer (&task));

    g_task_set_task_data (close, qmi, NULL);
    close_channel_task (qmi, close);
  }
}

static void
qmi_free (EsimdModem *modem)
{
  EsimdQmi *qmi = (EsimdQmi *) modem;

  g_clear_handle_id (&qmi->retry_id, g_source_remove);
  g_clear_handle_id (&qmi->lost_id, g_source_remove);
  ready_wait_end (qmi, not_ready_error (qmi));
  g_clear_object (&qmi->monitor);
  if (qmi->cancellable)
    g_cancellable_cancel (qmi->cancellable);
  g_clear_object (&qmi->cancellable);
  for (guint i = 0; i < qmi->pending->len; i++)
    ((ApduRequest *) qmi->pending->pdata[i])->qmi = NULL;
  g_ptr_array_unref (qmi->pending);
  for (guint i = 0; i < qmi->imei_ops->len; i++)
    ((ImeiOp *) qmi->imei_ops->pdata[i])->qmi = NULL;
  g_ptr_array_unref (qmi->imei_ops);
  drop_device (qmi);
  g_free (qmi);
}

static const EsimdModemOps qmi_ops = {
  .name = "qmi",
  .start = qmi_start,
  .stop = qmi_stop,
  .free = qmi_free,
  .open_channel = qmi_open_channel,
  .close_channel = qmi_close_channel,
  .forget_channel = qmi_forget_channel,
  .transmit = qmi_transmit,
  .reset_card = qmi_reset_card,
  .reset_name = "uim-power-cycle",
  .read_imei = qmi_read_imei,
  .list_slots = qmi_list_slots,
  .switch_slot = qmi_switch_slot,
};

EsimdModem *
esimd_modem_qmi_new (const EsimdModemConfig *config)
{
  EsimdQmi *qmi = g_new0 (EsimdQmi, 1);

  qmi->modem.ops = &qmi_ops;
  qmi->modem.config = config;
  qmi->config = config;
  qmi->pending = g_ptr_array_new ();
  qmi->imei_ops = g_ptr_array_new ();
  return &qmi->modem;
}
