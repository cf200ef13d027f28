/* euicc.c — an eUICC's life: its modem's availability, the re-read after a switch, the IMEI. */
#include "euicc-private.h"

#include "daemon.h"
#include "esimd-error.h"
#include "job-euicc.h"
#include "log.h"
#include "observer.h"

/* ---- state ------------------------------------------------------------------------------ */

const char *
esimd_euicc_state (EsimdEuicc *euicc)
{
  if (!euicc->available || !euicc->cache_valid)
    return "unavailable";
  /* A job only queued (the next one starts from an idle callback) is work too: a client that
   * waits for "ready" must not read the card's state before it ran. */
  return esimd_job_queue_length (euicc->queue) > 0 ? "busy" : "ready";
}

const char *
esimd_euicc_unavailable_reason (EsimdEuicc *euicc)
{
  if (euicc->available && euicc->cache_valid)
    return "";
  return euicc->unavailable_reason ? euicc->unavailable_reason : "";
}

guint
esimd_euicc_update_unavailable_reason (EsimdEuicc *euicc, const char *reason, gboolean failure)
{
  if (g_strcmp0 (euicc->unavailable_reason, reason) == 0)
    return 0;
  g_free (euicc->unavailable_reason);
  euicc->unavailable_reason = g_strdup (reason);
  /* Once per change: a modem retried every few seconds, a card read again with back-off, fail
   * the same way each time, and that is not news. */
  if (reason && failure)
    g_warning ("eUICC %s is unavailable: %s", euicc->config->name, reason);
  else if (reason)
    g_info ("eUICC %s: %s", euicc->config->name, reason);
  return ESIMD_EUICC_CHANGE_UNAVAILABLE_REASON;
}

/* ---- refreshing the modem after enable/disable ------------------------------------------ */

static void
card_reset (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdEuicc *euicc = g_task_get_task_data (task);
  GError *error = NULL;

  euicc->channel_lost = TRUE;
  if (!esimd_modem_reset_card_finish (euicc->modem, res, &error))
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

static void
refresh_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  EsimdEuicc *euicc = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;

  if (!esimd_modem_close_channel_finish (euicc->modem, res, &error))
    g_debug ("eUICC %s: closing before the power cycle: %s", euicc->config->name, error->message);
  esimd_modem_reset_card (euicc->modem, card_reset, task);
}

void
esimd_euicc_refresh_modem (EsimdEuicc *euicc, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, euicc, NULL);
  switch (euicc->config->refresh)
    {
    case ESIMD_REFRESH_FLAG:
      /* The eUICC resets itself after answering: the channel is gone. */
      euicc->channel_lost = TRUE;
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    case ESIMD_REFRESH_NONE:
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    case ESIMD_REFRESH_POWER_CYCLE:
      g_clear_pointer (&euicc->es10, lpa_es10_unref);
      esimd_modem_close_channel (euicc->modem, refresh_closed, task);
      return;
    }
}

gboolean
esimd_euicc_refresh_modem_finish (EsimdEuicc *euicc, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the IMEI --------------------------------------------------------------------------- */

const char *
esimd_euicc_get_imei (EsimdEuicc *euicc)
{
  return euicc->config->imei ? euicc->config->imei : euicc->modem_imei;
}

static void
imei_read (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdEuicc *euicc = g_task_get_task_data (task);
  g_autoptr (GError) error = NULL;
  g_autofree char *imei = esimd_modem_read_imei_finish (euicc->modem, res, &error);

  if (!imei)
    g_warning ("eUICC %s: cannot read the modem's IMEI (%s): servers get no IMEI; set Imei= "
               "to send one",
               euicc->config->name, error->message);
  else
    {
      g_info ("eUICC %s: the modem's IMEI is %s", euicc->config->name, esimd_log_pd (imei));
      euicc->imei_stale = FALSE;
      g_free (euicc->modem_imei);
      euicc->modem_imei = g_steal_pointer (&imei);
    }
  g_task_return_boolean (task, TRUE);
}

void
esimd_euicc_update_imei (EsimdEuicc *euicc, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, euicc, NULL);
  if (euicc->config->imei || !euicc->imei_stale || !esimd_modem_can_read_imei (euicc->modem))
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  esimd_modem_read_imei (euicc->modem, imei_read, task);
}

void
esimd_euicc_update_imei_finish (EsimdEuicc *euicc, GAsyncResult *result)
{
  g_task_propagate_boolean (G_TASK (result), NULL);
}

/* ---- availability ----------------------------------------------------------------------- */

void
esimd_euicc_on_availability (EsimdModem *modem, gboolean available, const GError *reason,
                             gpointer user_data)
{
  EsimdEuicc *euicc = user_data;
  gboolean was_available = euicc->available;

  euicc->available = available;
  if (!available)
    {
      g_autoptr (GError) error = g_error_new (ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "%s",
                                              reason ? reason->message : "modem not available");

      guint what = esimd_euicc_update_unavailable_reason (euicc, error->message, TRUE);

      /* Still not there, for another reason now (the node appeared but does not open…): only
       * the reason changed. */
      if (!was_available)
        {
          if (what)
            esimd_announce_euicc_changed (euicc, what);
          return;
        }
      euicc->losses++;
      euicc->cache_valid = FALSE;
      euicc->read_once = 0;
      g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
      g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
      euicc->stale_backoff = 0;
      esimd_job_queue_fail_queued (euicc->queue, error);
      esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE | what);
      return;
    }
  /* Until the card is read (esimd_euicc_read makes it valid, or says what fails). */
  esimd_announce_euicc_changed (
      euicc, ESIMD_EUICC_CHANGE_STATE |
                 esimd_euicc_update_unavailable_reason (euicc, "reading the eUICC", FALSE));
  /* It may be another modem on the same device node now. */
  euicc->imei_stale = TRUE;
  /* Deliveries that failed while it vanished failed for the modem, not the network: once it is
   * back they are retried at once, not after each server's back-off. */
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  esimd_notify_backoff_release (euicc->notify_backoff, NULL);
  esimd_notify_backoff_release (euicc->notify_card_backoff, NULL);
  /* Everything may have changed while the modem was away: read it all, then announce. */
  {
    g_autoptr (EsimdJob) job = esimd_job_refresh_new (euicc, TRUE);
    g_autoptr (GError) error = NULL;

    if (!esimd_euicc_submit (euicc, job, &error))
      g_warning ("eUICC %s: %s", euicc->config->name, error->message);
  }
  /* A job that held the queue through the loss may need the card before its outcome (a
   * download whose last answer was lost): the refresh just queued waits behind it. */
  {
    EsimdJob *current = esimd_job_queue_current (euicc->queue);

    if (current && !current->completed && current->ops->modem_returned)
      current->ops->modem_returned (current);
  }
}

/* ---- life ------------------------------------------------------------------------------- */

static EsimdEuicc *
euicc_new (guint index, EsimdModemConfig *config, EsimdModemConstructor construct, GError **error)
{
  EsimdEuicc *euicc;
  EsimdModem *modem = NULL;

  euicc = g_new0 (EsimdEuicc, 1);
  esimd_log_add_personal (config->imei);
  modem = construct ? esimd_modem_new_with (construct, config, esimd_euicc_on_availability, euicc)
                    : esimd_modem_new (config, esimd_euicc_on_availability, euicc, error);
  if (!modem)
    {
      g_free (euicc);
      return NULL;
    }

  esimd_euicc_init (euicc, index, config);
  euicc->present = TRUE;
  euicc->modem = modem;
  return euicc;
}

void
esimd_euicc_init (EsimdEuicc *euicc, guint index, EsimdModemConfig *config)
{
  euicc->index = index;
  euicc->config = config;
  euicc->segment_size = config->segment_size;
  euicc->unavailable_reason = g_strdup ("not connected yet");
  euicc->queue =
      esimd_job_queue_new (&esimd_euicc_queue_hooks, euicc, esimd->config->max_queued_jobs);
  euicc->announced = g_hash_table_new (NULL, NULL);
  euicc->notify_refused = g_hash_table_new (NULL, NULL);
  euicc->notify_card_backoff =
      esimd_notify_backoff_new (esimd->config->retry_initial, esimd->config->retry_max);
  euicc->notify_backoff =
      esimd_notify_backoff_new (esimd->config->retry_initial, esimd->config->retry_max);
}

EsimdEuicc *
esimd_euicc_new (guint index, EsimdModemConfig *config, GError **error)
{
  return euicc_new (index, config, NULL, error);
}

EsimdEuicc *
esimd_euicc_new_with_modem (guint index, EsimdModemConfig *config, EsimdModemConstructor construct)
{
  return euicc_new (index, config, construct, NULL);
}

void
esimd_euicc_start (EsimdEuicc *euicc)
{
  esimd_announce_euicc_added (euicc);
  esimd_modem_start (euicc->modem);
}

static void
modem_stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdEuicc *euicc = data;
  g_autoptr (GTask) task = g_steal_pointer (&euicc->stop_task);

  /* Returning a result keeps the creator's reference: it is dropped here. */
  if (task)
    g_task_return_boolean (task, TRUE);
}

/* The last step of stopping: the modem keeps no channel or client of ours. */
void
esimd_euicc_stop_transport (EsimdEuicc *euicc)
{
  g_clear_handle_id (&euicc->stop_timeout_id, g_source_remove);
  esimd_modem_stop (euicc->modem, modem_stopped, euicc);
}

static gboolean
stop_timeout (gpointer data)
{
  EsimdEuicc *euicc = data;

  euicc->stop_timeout_id = 0;
  g_warning ("eUICC %s: the running job did not end in time; stopping anyway", euicc->config->name);
  esimd_euicc_stop_transport (euicc);
  return G_SOURCE_REMOVE;
}

void
esimd_euicc_stop (EsimdEuicc *euicc, guint grace, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GError) error =
      g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "esimd is stopping");
  EsimdJob *current = esimd_job_queue_current (euicc->queue);

  euicc->stop_task = g_task_new (NULL, NULL, callback, user_data);
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
  esimd_job_queue_fail_queued (euicc->queue, error);
  if (euicc->replace_stopping)
    return; /* the modem discovery let go is stopping: that answers stop_task */
  if (!euicc->modem)
    {
      /* A discovered eUICC whose modem is away: nothing to release. */
      g_autoptr (GTask) task = g_steal_pointer (&euicc->stop_task);

      g_task_return_boolean (task, TRUE);
      return;
    }
  if (!current)
    {
      esimd_euicc_stop_transport (euicc);
      return;
    }
  if (current->ops->cancel)
    {
      g_autoptr (GError) cancel_error = NULL;

      if (!current->ops->cancel (current, &cancel_error))
        g_info ("eUICC %s: letting the running %s finish: %s", euicc->config->name,
                current->ops->kind, cancel_error->message);
    }
  euicc->stop_timeout_id = g_timeout_add_seconds (grace, stop_timeout, euicc);
}

void
esimd_euicc_free (EsimdEuicc *euicc)
{
  if (!euicc)
    return;
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
  g_clear_handle_id (&euicc->stop_timeout_id, g_source_remove);
  g_clear_pointer (&euicc->es10, lpa_es10_unref);
  esimd_job_queue_free (euicc->queue);
  esimd_modem_free (euicc->modem);
  g_clear_pointer (&euicc->http, esimd_http_client_unref);
  g_clear_pointer (&euicc->info1, lpa_euicc_info1_free);
  g_clear_pointer (&euicc->info2, lpa_euicc_info2_free);
  g_clear_pointer (&euicc->profiles, g_ptr_array_unref);
  g_clear_pointer (&euicc->notifications, g_ptr_array_unref);
  g_hash_table_unref (euicc->announced);
  g_hash_table_unref (euicc->notify_refused);
  esimd_notify_backoff_free (euicc->notify_card_backoff);
  esimd_notify_backoff_free (euicc->notify_backoff);
  for (guint i = 0; i < ESIMD_READ_PARTS; i++)
    g_clear_error (&euicc->read_errors[i]);
  g_free (euicc->eid);
  g_free (euicc->modem_imei);
  g_free (euicc->default_smdp);
  g_free (euicc->root_smds);
  g_free (euicc->unavailable_reason);
  esimd_euicc_discovered_free (euicc);
  g_free (euicc);
}
