/* discovery-probe.c — asks one port whether an eUICC is behind it (see discovery-probe.h).
 *
 * The steps run one at a time on a modem of the port's transport; whatever happens, the modem is
 * stopped (channel closed, client released, tty closed) before the answer is given, so that the
 * eUICC's own modem can open the port right after, as a single user of an AT port must. */
#include "discovery-probe.h"

#include "es10c.h"
#include "log.h"
#include "lpa-error.h"
#include "modem.h"

#include "apdu.h"

typedef struct
{
  GTask *task;
  const EsimdModemConfig *config;
  EsimdModem *modem;
  guint timeout_id;
  gboolean connected; /* the modem was available once */
  gboolean busy;      /* an operation of the modem is in flight: its answer goes on */
  gboolean ending;    /* the modem is being stopped */
  gboolean channel_open;
  LpaEs10 *es10;
  EsimdModemSlot *active; /* in slots, or NULL */
  GPtrArray *slots;
  EsimdProbeResult *result;
  GError *error; /* the probe failed: returned once the modem stopped */
  GCancellable *cancellable;
  gulong cancelled_id;
  guint cancel_id; /* the cancellation, handled from the main loop */
} Probe;

static void step_open (Probe *p);

void
esimd_probe_result_free (EsimdProbeResult *result)
{
  if (!result)
    return;
  g_ptr_array_unref (result->euiccs);
  g_free (result->no_isdr);
  g_free (result);
}

static void
probed_free (gpointer data)
{
  EsimdProbedEuicc *e = data;

  g_free (e->eid);
  g_free (e);
}

static void
add_euicc (Probe *p, guint slot, gboolean active, const char *eid)
{
  EsimdProbedEuicc *e = g_new0 (EsimdProbedEuicc, 1);

  e->slot = slot;
  e->active = active;
  e->eid = g_strdup (eid);
  g_ptr_array_add (p->result->euiccs, e);
}

static void
probe_free (Probe *p)
{
  if (p->cancellable)
    g_cancellable_disconnect (p->cancellable, p->cancelled_id);
  g_clear_object (&p->cancellable);
  g_clear_handle_id (&p->cancel_id, g_source_remove);
  g_clear_handle_id (&p->timeout_id, g_source_remove);
  g_clear_pointer (&p->es10, lpa_es10_unref);
  g_clear_pointer (&p->slots, g_ptr_array_unref);
  g_clear_pointer (&p->result, esimd_probe_result_free);
  g_clear_error (&p->error);
  g_free (p);
}

static void
modem_stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  Probe *p = data;
  GTask *task = g_steal_pointer (&p->task);

  esimd_modem_stop_finish (p->modem, res, NULL);
  esimd_modem_free (p->modem);
  p->modem = NULL;
  if (p->error)
    g_task_return_error (task, g_steal_pointer (&p->error));
  else
    g_task_return_pointer (task, g_steal_pointer (&p->result),
                           (GDestroyNotify) esimd_probe_result_free);
  g_object_unref (task);
  probe_free (p);
}

/* The last step, after success or failure: the port is released before anyone hears. */
static void
finish (Probe *p, GError *error)
{
  if (error && !p->error)
    p->error = error;
  else if (error)
    g_error_free (error);
  if (p->ending || p->busy)
    return;
  p->ending = TRUE;
  g_clear_handle_id (&p->timeout_id, g_source_remove);
  g_clear_handle_id (&p->cancel_id, g_source_remove);
  g_clear_pointer (&p->es10, lpa_es10_unref);
  /* stop() closes the channel if one is open. */
  esimd_modem_stop (p->modem, modem_stopped, p);
}

static GError *
probe_error (Probe *p, const char *what, const GError *cause)
{
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "probing %s: %s%s%s", p->config->device, what,
                      cause ? ": " : "", cause ? cause->message : "");
}

static gboolean
on_timeout (gpointer data)
{
  Probe *p = data;

  p->timeout_id = 0;
  /* An operation in flight still answers (every transport's contract): its step sees the error
   * and ends the probe then. */
  finish (p, probe_error (p, p->connected ? "no answer in time" : "not reachable in time", NULL));
  return G_SOURCE_REMOVE;
}

/* The step that was in flight came back: go on only if nothing ended the probe meanwhile. */
static gboolean
step_back (Probe *p)
{
  p->busy = FALSE;
  if (p->error || p->ending)
    {
      finish (p, NULL);
      return FALSE;
    }
  return TRUE;
}

/* ---- GetEID on the ISD-R's channel ------------------------------------------------------- */

static void
eid_read (GBytes *response, const GError *error, gpointer data)
{
  Probe *p = data;
  g_autoptr (GError) local = NULL;
  g_autofree char *eid = NULL;

  if (!step_back (p))
    return;
  if (error)
    {
      finish (p, probe_error (p, "GetEID", error));
      return;
    }
  eid = lpa_es10c_parse_eid (response, &local);
  if (!eid)
    {
      finish (p, probe_error (p, "GetEID", local));
      return;
    }
  add_euicc (p, p->active ? p->active->number : 0, TRUE, eid);
  if (p->active)
    g_debug ("probe %s: an eUICC answers in slot %u (EID %s)", p->config->device, p->active->number,
             esimd_log_pd (eid));
  else
    g_debug ("probe %s: an eUICC answers (EID %s)", p->config->device, esimd_log_pd (eid));
  finish (p, NULL);
}

static void
channel_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  Probe *p = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) request = lpa_es10c_get_eid_request ();
  guint8 channel = 0;

  p->channel_open = esimd_modem_open_channel_finish (p->modem, res, &channel, &error);
  if (!step_back (p))
    return;
  if (!p->channel_open)
    {
      /* The modem itself says the card in the active slot is an eUICC: a refusal is a failure
       * to retry, not a card without an ISD-R. */
      if (p->active && p->active->euicc)
        {
          finish (p, probe_error (p, "the modem reports an eUICC, but its ISD-R did not answer",
                                  error));
          return;
        }
      p->result->no_isdr = g_strdup_printf ("no ISD-R answers (%s)", error->message);
      finish (p, NULL);
      return;
    }
  p->es10 = lpa_es10_new (&esimd_modem_apdu_ops, p->modem, channel);
  p->busy = TRUE;
  if (!lpa_es10_call (p->es10, request, eid_read, p, &error))
    {
      p->busy = FALSE;
      finish (p, probe_error (p, "GetEID", error));
    }
}

static void
step_open (Probe *p)
{
  if (p->active && !p->active->card_present)
    {
      p->result->no_isdr = g_strdup_printf ("no card in the active slot %u", p->active->number);
      finish (p, NULL);
      return;
    }
  p->busy = TRUE;
  esimd_modem_open_channel (p->modem, p->config->isdr_aid, channel_opened, p);
}

/* ---- the slots --------------------------------------------------------------------------- */

static void
slots_listed (GObject *source, GAsyncResult *res, gpointer data)
{
  Probe *p = data;
  g_autoptr (GError) error = NULL;

  p->slots = esimd_modem_list_slots_finish (p->modem, res, &error);
  if (!step_back (p))
    return;
  if (!p->slots)
    {
      /* A modem that cannot list its slots still reaches the card it uses. */
      g_debug ("probe %s: no slot list (%s); probing the card in use", p->config->device,
               error->message);
      p->result->slots = 1;
      step_open (p);
      return;
    }
  p->result->slots = MAX (p->slots->len, 1);
  for (guint i = 0; i < p->slots->len; i++)
    {
      EsimdModemSlot *slot = p->slots->pdata[i];

      if (slot->active && !p->active)
        {
          p->active = slot;
          p->result->active_slot = slot->number;
        }
      else if (!slot->active && slot->euicc && slot->eid[0])
        {
          g_debug ("probe %s: the modem reports an eUICC in inactive slot %u (EID %s)",
                   p->config->device, slot->number, esimd_log_pd (slot->eid));
          add_euicc (p, slot->number, FALSE, slot->eid);
        }
      else if (!slot->active && slot->card_present && !slot->euicc && slot->number <= 32)
        p->result->unnamed_slots |= 1u << (slot->number - 1);
    }
  /* With a single slot the number says nothing: the eUICC is simply the modem's. */
  if (p->slots->len <= 1)
    {
      p->active = NULL;
      p->result->active_slot = 0;
    }
  step_open (p);
}

static void
on_availability (EsimdModem *modem, gboolean available, const GError *reason, gpointer data)
{
  Probe *p = data;

  if (p->ending)
    return;
  if (!available)
    {
      /* Before it was ever available the transport keeps trying on its own, until the timeout. */
      if (p->connected)
        finish (p, probe_error (p, "the modem went away", reason));
      return;
    }
  if (p->connected)
    return;
  p->connected = TRUE;
  p->busy = TRUE;
  esimd_modem_list_slots (p->modem, slots_listed, p);
}

static gboolean
cancel_cb (gpointer data)
{
  Probe *p = data;

  p->cancel_id = 0;
  finish (p, g_error_new (LPA_ERROR, LPA_ERROR_CANCELLED, "probing %s: esimd is stopping",
                          p->config->device));
  return G_SOURCE_REMOVE;
}

static void
on_cancelled (GCancellable *cancellable, gpointer data)
{
  Probe *p = data;

  /* From the main loop: whoever cancels must not see the probe's end inside its call. */
  if (!p->cancel_id)
    p->cancel_id = g_idle_add (cancel_cb, p);
}

void
esimd_probe_run (const EsimdModemConfig *config, guint timeout, GCancellable *cancellable,
                 GAsyncReadyCallback callback, gpointer user_data)
{
  Probe *p = g_new0 (Probe, 1);
  GError *error = NULL;

  p->task = g_task_new (NULL, NULL, callback, user_data);
  g_task_set_source_tag (p->task, esimd_probe_run);
  p->config = config;
  p->result = g_new0 (EsimdProbeResult, 1);
  p->result->euiccs = g_ptr_array_new_with_free_func (probed_free);
  p->modem = esimd_modem_new (config, on_availability, p, &error);
  if (!p->modem)
    {
      g_task_return_error (p->task, error);
      g_clear_object (&p->task);
      probe_free (p);
      return;
    }
  p->timeout_id = g_timeout_add_seconds (timeout, on_timeout, p);
  if (cancellable)
    {
      p->cancellable = g_object_ref (cancellable);
      p->cancelled_id = g_cancellable_connect (cancellable, G_CALLBACK (on_cancelled), p, NULL);
    }
  esimd_modem_start (p->modem);
}

EsimdProbeResult *
esimd_probe_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}
