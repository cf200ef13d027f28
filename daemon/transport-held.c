/* transport-held.c — a port another program keeps open, taken from it for each use.
 *
 * ModemManager keeps a modem's AT ports open while it manages the modem; two programs writing
 * commands to one tty would read each other's answers. For a modem esimd reaches only through
 * such a port, discovery gives the eUICC this modem: it looks available (the modem is there), and
 * opening a logical channel first takes the modem from ModemManager (InhibitDevice, through
 * config->hold), then opens the real transport underneath (Transport=, usually at) and the
 * channel on it. Closing the channel, which the job queue does at the end of every job, closes
 * the transport and gives the modem back, and ModemManager reads the SIM again by itself. So
 * the modem is away from ModemManager for one job at a time, never between jobs. */
#include "modem.h"

#include "esimd-error.h"
#include "lpa-error.h"

#define TAKE_TIMEOUT 30 /* seconds for the transport underneath to come up once taken */

typedef struct
{
  EsimdModem modem; /* first */
  EsimdModemConfig *inner_config;
  EsimdModem *inner; /* while taken */
  gboolean taken;
  gboolean taking;
  GTask *open_task; /* the open_channel waiting for the modem */
  GBytes *open_aid;
  guint open_timeout_id;
  gboolean stopped;
} EsimdHeld;

static void give_back (EsimdHeld *h, GTask *task);

static const char *
uid_of (EsimdHeld *h)
{
  return h->modem.config->hold_uid;
}

/* ---- giving back ------------------------------------------------------------------------- */

static void
inner_stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  EsimdHeld *h = g_task_get_task_data (task);

  esimd_modem_free (h->inner);
  h->inner = NULL;
  if (h->taken)
    {
      h->taken = FALSE;
      h->modem.config->hold->give (uid_of (h));
    }
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

/* Stops the transport underneath and gives the modem back; then answers @task (TRUE). */
static void
give_back (EsimdHeld *h, GTask *task)
{
  g_task_set_task_data (task, h, NULL);
  if (h->inner)
    {
      esimd_modem_stop (h->inner, inner_stopped, task);
      return;
    }
  if (h->taken)
    {
      h->taken = FALSE;
      h->modem.config->hold->give (uid_of (h));
    }
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

typedef struct
{
  GTask *task;
  GError *error;
} FailOp;

static void
failed_given_back (GObject *source, GAsyncResult *res, gpointer data)
{
  FailOp *op = data;

  g_task_return_error (op->task, op->error);
  g_object_unref (op->task);
  g_free (op);
}

/* The open failed: give the modem back, then answer with @error. */
static void
open_failed (EsimdHeld *h, GError *error)
{
  FailOp *op = g_new0 (FailOp, 1);

  g_clear_handle_id (&h->open_timeout_id, g_source_remove);
  g_clear_pointer (&h->open_aid, g_bytes_unref);
  op->task = g_steal_pointer (&h->open_task);
  op->error = error;
  give_back (h, g_task_new (NULL, NULL, failed_given_back, op));
}

/* ---- taking ------------------------------------------------------------------------------ */

static void
inner_channel_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdHeld *h = data;
  GError *error = NULL;
  guint8 channel = 0;

  if (!esimd_modem_open_channel_finish (h->inner, res, &channel, &error))
    {
      open_failed (h, error);
      return;
    }
  g_task_return_int (h->open_task, channel);
  g_clear_object (&h->open_task);
}

static void
on_inner_availability (EsimdModem *inner, gboolean available, const GError *reason, gpointer data)
{
  EsimdHeld *h = data;

  if (!available || !h->open_task || !h->open_timeout_id)
    return; /* a loss while open: the transport answers what is in flight with an error */
  g_clear_handle_id (&h->open_timeout_id, g_source_remove);
  esimd_modem_open_channel (h->inner, h->open_aid, inner_channel_opened, h);
  g_clear_pointer (&h->open_aid, g_bytes_unref);
}

static gboolean
open_timeout (gpointer data)
{
  EsimdHeld *h = data;

  h->open_timeout_id = 0;
  open_failed (h, g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "modem %s: its %s port did not answer within %u s of being taken "
                               "from ModemManager",
                               h->modem.config->name, h->inner_config->transport, TAKE_TIMEOUT));
  return G_SOURCE_REMOVE;
}

static void
taken (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdHeld *h = data;
  GError *error = NULL;

  h->taking = FALSE;
  if (!h->modem.config->hold->take_finish (res, &error))
    {
      /* ModemManager keeps the modem (it refused, or is not there to ask): nothing was asked of
       * the card, which is where it was. Not a transport failure, which the queue would check
       * by opening a channel again and, the modem being there, take for a card gone from it. */
      GError *refused = g_error_new_literal (ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, error->message);

      g_error_free (error);
      open_failed (h, refused);
      return;
    }
  h->taken = TRUE;
  if (h->stopped)
    {
      open_failed (h, g_error_new (LPA_ERROR, LPA_ERROR_CANCELLED, "modem %s: stopping",
                                   h->modem.config->name));
      return;
    }
  h->inner = esimd_modem_new (h->inner_config, on_inner_availability, h, &error);
  if (!h->inner)
    {
      open_failed (h, error);
      return;
    }
  h->open_timeout_id = g_timeout_add_seconds (TAKE_TIMEOUT, open_timeout, h);
  esimd_modem_start (h->inner);
}

static void
held_open_channel (EsimdModem *modem, GBytes *aid, GTask *task)
{
  EsimdHeld *h = (EsimdHeld *) modem;

  if (h->open_task || h->taking)
    {
      g_task_return_new_error (task, LPA_ERROR, LPA_ERROR_TRANSPORT,
                               "modem %s: a channel is being opened already", modem->config->name);
      g_object_unref (task);
      return;
    }
  if (h->inner)
    {
      /* Taken already (a channel reopened within a job, after a card reset). */
      h->open_task = task;
      esimd_modem_open_channel (h->inner, aid, inner_channel_opened, h);
      return;
    }
  h->open_task = task;
  h->open_aid = g_bytes_ref (aid);
  h->taking = TRUE;
  modem->config->hold->take (uid_of (h), taken, h);
}

/* ---- the channel, while taken ------------------------------------------------------------ */

static void
inner_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  EsimdHeld *h = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!esimd_modem_close_channel_finish (h->inner, res, &error))
    g_debug ("modem %s: closing the channel: %s", h->modem.config->name, error->message);
  /* The end of a job: the modem goes back to ModemManager now. */
  give_back (h, task);
}

static void
held_close_channel (EsimdModem *modem, GTask *task)
{
  EsimdHeld *h = (EsimdHeld *) modem;

  g_task_set_task_data (task, h, NULL);
  if (!h->inner)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  esimd_modem_close_channel (h->inner, inner_closed, task);
}

static void
held_forget_channel (EsimdModem *modem)
{
  EsimdHeld *h = (EsimdHeld *) modem;

  if (h->inner)
    esimd_modem_forget_channel (h->inner);
}

static void
held_transmit (EsimdModem *modem, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  EsimdHeld *h = (EsimdHeld *) modem;

  if (h->inner)
    {
      esimd_modem_count_apdu (modem, g_bytes_get_size (command), 0);
      h->inner->ops->transmit (h->inner, command, callback, user_data);
      return;
    }
  esimd_modem_fail_transmit_later (callback, user_data,
                                   g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                                "modem %s: no channel is open",
                                                modem->config->name));
}

static void
inner_reset (GObject *source, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  EsimdHeld *h = g_task_get_task_data (task);
  GError *error = NULL;

  if (!h->inner || !esimd_modem_reset_card_finish (h->inner, res, &error))
    g_task_return_error (task, error ? error
                                     : g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                                    "modem %s: given back during the reset",
                                                    h->modem.config->name));
  else
    g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
held_reset_card (EsimdModem *modem, GTask *task)
{
  EsimdHeld *h = (EsimdHeld *) modem;

  g_task_set_task_data (task, h, NULL);
  if (!h->inner)
    {
      /* Between jobs ModemManager has the modem, and reads the SIM again when it gets it back. */
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  esimd_modem_reset_card (h->inner, inner_reset, task);
}

/* ---- life -------------------------------------------------------------------------------- */

static void
held_start (EsimdModem *modem)
{
  /* ModemManager says the modem is there; it is taken when a job needs it. */
  esimd_modem_set_available (modem, TRUE, NULL);
}

static void
held_stop (EsimdModem *modem, GTask *task)
{
  EsimdHeld *h = (EsimdHeld *) modem;

  h->stopped = TRUE;
  give_back (h, task);
}

static void
held_free (EsimdModem *modem)
{
  EsimdHeld *h = (EsimdHeld *) modem;

  g_clear_handle_id (&h->open_timeout_id, g_source_remove);
  g_clear_pointer (&h->open_aid, g_bytes_unref);
  if (h->inner)
    esimd_modem_free (h->inner);
  esimd_modem_config_free (h->inner_config);
  g_free (h);
}

static const EsimdModemOps held_ops = {
  .name = "held",
  .start = held_start,
  .stop = held_stop,
  .free = held_free,
  .open_channel = held_open_channel,
  .close_channel = held_close_channel,
  .forget_channel = held_forget_channel,
  .transmit = held_transmit,
  .reset_card = held_reset_card,
  .reset_name = "given back to ModemManager",
};

EsimdModem *
esimd_modem_held_new (const EsimdModemConfig *config)
{
  EsimdHeld *h = g_new0 (EsimdHeld, 1);

  h->modem.ops = &held_ops;
  h->modem.config = config;
  h->inner_config = esimd_modem_config_copy (config);
  h->inner_config->hold = NULL;
  g_clear_pointer (&h->inner_config->hold_uid, g_free);
  return &h->modem;
}
