/* euicc-modem.c — a discovered eUICC's modem, changed as discovery finds it elsewhere.
 *
 * A discovered eUICC outlives its modems: unplugged, it leaves the bus and keeps its object; found
 * again (the same EID, through any port), it comes back with the same index and object path.
 * Its slot switched, it changes from its real transport to the unreachable one or back. Each
 * change lets the old modem go exactly as stopping does (queued jobs fail, the running one ends
 * first, the channel and client are released) before the new one starts. */
#include "euicc-private.h"

#include "daemon.h"
#include "esimd-error.h"
#include "log.h"
#include "observer.h"

static void begin (EsimdEuicc *euicc);

EsimdEuicc *
esimd_euicc_new_discovered (guint index, const char *eid)
{
  EsimdEuicc *euicc = g_new0 (EsimdEuicc, 1);

  euicc->discovered = TRUE;
  euicc->discovered_eid = g_strdup (eid);
  /* Until its first modem: a name for the log. */
  euicc->own_config = esimd_modem_config_new ("discovered", "qmi", NULL);
  esimd_euicc_init (euicc, index, euicc->own_config);
  return euicc;
}

/* Off the bus: what was read from the card is forgotten, so that coming back reads it all and
 * announces every profile again. */
static void
leave_bus (EsimdEuicc *euicc)
{
  if (!euicc->present)
    return;
  esimd_announce_euicc_removed (euicc);
  euicc->present = FALSE;
  euicc->available = FALSE;
  euicc->cache_valid = FALSE;
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
  g_clear_pointer (&euicc->es10, lpa_es10_unref);
  g_clear_pointer (&euicc->profiles, g_ptr_array_unref);
  g_clear_pointer (&euicc->notifications, g_ptr_array_unref);
  g_clear_pointer (&euicc->info1, lpa_euicc_info1_free);
  g_clear_pointer (&euicc->info2, lpa_euicc_info2_free);
  g_clear_pointer (&euicc->default_smdp, g_free);
  g_clear_pointer (&euicc->root_smds, g_free);
  g_clear_pointer (&euicc->eid, g_free);
  g_clear_pointer (&euicc->mm_path, g_free);
  for (guint i = 0; i < ESIMD_READ_PARTS; i++)
    g_clear_error (&euicc->read_errors[i]);
  g_hash_table_remove_all (euicc->announced);
  esimd_euicc_notify_card_retry (euicc);
}

/* The request is carried out: the old modem is gone. */
static void
apply (EsimdEuicc *euicc)
{
  EsimdModemConfig *config = g_steal_pointer (&euicc->next_config);
  g_autoptr (GError) error = NULL;
  EsimdModem *modem;

  euicc->replace_pending = FALSE;
  g_clear_pointer (&euicc->next_reason, g_free);
  if (!config)
    {
      leave_bus (euicc);
      return;
    }
  /* The config the modem points at must outlive it: the old one goes after the old modem. */
  esimd_modem_config_free (euicc->own_config);
  euicc->own_config = config;
  euicc->config = config;
  modem = esimd_modem_new (config, esimd_euicc_on_availability, euicc, &error);
  if (!modem)
    {
      g_warning ("eUICC %u: %s", euicc->index, error->message);
      leave_bus (euicc);
      return;
    }
  euicc->modem = modem;
  euicc->available = FALSE;
  g_free (euicc->unavailable_reason);
  euicc->unavailable_reason = g_strdup ("not connected yet");
  if (!euicc->present)
    {
      euicc->present = TRUE;
      esimd_announce_euicc_added (euicc);
    }
  else
    esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_MODEM | ESIMD_EUICC_CHANGE_STATE |
                                             ESIMD_EUICC_CHANGE_UNAVAILABLE_REASON);
  esimd_modem_start (modem);
}

static void
old_modem_stopped (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdEuicc *euicc = data;
  g_autoptr (GTask) stop = g_steal_pointer (&euicc->stop_task);

  esimd_modem_free (euicc->modem);
  euicc->modem = NULL;
  euicc->replacing = FALSE;
  euicc->replace_cancelled = NULL;
  euicc->replace_stopping = FALSE;
  if (stop)
    {
      /* esimd began stopping meanwhile: nothing new starts. */
      g_task_return_boolean (stop, TRUE);
      return;
    }
  apply (euicc);
  if (euicc->replace_pending)
    begin (euicc);
}

void
esimd_euicc_replacement_continue (EsimdEuicc *euicc)
{
  euicc->replace_stopping = TRUE;
  g_clear_pointer (&euicc->es10, lpa_es10_unref);
  esimd_modem_stop (euicc->modem, old_modem_stopped, euicc);
}

static void
begin (EsimdEuicc *euicc)
{
  g_autoptr (GError) error = NULL;
  EsimdJob *current;

  if (!euicc->modem)
    {
      apply (euicc);
      return;
    }
  euicc->replacing = TRUE;
  error = g_error_new (ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "%s",
                       euicc->next_reason ? euicc->next_reason : "its modem changed");
  /* Nothing new is queued on the old modem from now on. */
  euicc->available = FALSE;
  euicc->cache_valid = FALSE;
  g_free (euicc->unavailable_reason);
  euicc->unavailable_reason = g_strdup (error->message);
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  g_clear_handle_id (&euicc->stale_retry_id, g_source_remove);
  esimd_job_queue_fail_queued (euicc->queue, error);
  if (euicc->present)
    esimd_announce_euicc_changed (euicc,
                                  ESIMD_EUICC_CHANGE_STATE | ESIMD_EUICC_CHANGE_UNAVAILABLE_REASON);
  current = esimd_job_queue_current (euicc->queue);
  if (current)
    {
      g_autoptr (GError) cancel_error = NULL;

      /* The queue calls esimd_euicc_replacement_continue() once it ended. Its caller did not
       * cancel it: it ends failed, with the reason (euicc-queue.c). */
      if (current->ops->cancel && !current->ops->cancel (current, &cancel_error))
        g_info ("eUICC %u: letting the running %s finish before its modem changes: %s",
                euicc->index, current->ops->kind, cancel_error->message);
      else if (current->ops->cancel)
        euicc->replace_cancelled = current;
      return;
    }
  esimd_euicc_replacement_continue (euicc);
}

/* Whether @a and @b reach the card the same way (the IMEI goes with the location instead). */
static gboolean
same_way (const EsimdModemConfig *a, const EsimdModemConfig *b)
{
  return a && b && g_strcmp0 (a->name, b->name) == 0 &&
         g_strcmp0 (a->transport, b->transport) == 0 && g_strcmp0 (a->device, b->device) == 0 &&
         a->use_proxy == b->use_proxy && g_strcmp0 (a->proxy_socket, b->proxy_socket) == 0 &&
         a->qmi_mode == b->qmi_mode && a->slot == b->slot &&
         ((!a->isdr_aid && !b->isdr_aid) ||
          (a->isdr_aid && b->isdr_aid && g_bytes_equal (a->isdr_aid, b->isdr_aid))) &&
         g_strcmp0 (a->unreachable, b->unreachable) == 0 && a->hold == b->hold &&
         g_strcmp0 (a->hold_uid, b->hold_uid) == 0;
}

void
esimd_euicc_set_modem (EsimdEuicc *euicc, EsimdModemConfig *config, const char *reason)
{
  /* Discovery found the eUICC where it was, reached the same way (its modem was probed again
   * for a change elsewhere, such as a card put in another slot): the modem it has stays, and
   * so does the job running on it. */
  if (config && euicc->present && !euicc->stop_task &&
      same_way (config, euicc->replace_pending ? euicc->next_config : euicc->config))
    {
      esimd_modem_config_free (config);
      return;
    }
  esimd_modem_config_free (euicc->next_config);
  euicc->next_config = config;
  g_free (euicc->next_reason);
  euicc->next_reason = g_strdup (reason);
  euicc->replace_pending = TRUE;
  if (euicc->stop_task)
    {
      /* esimd is stopping. */
      g_clear_pointer (&euicc->next_config, esimd_modem_config_free);
      euicc->replace_pending = FALSE;
      return;
    }
  if (euicc->replacing)
    return; /* carried out once the current change is done */
  begin (euicc);
}

void
esimd_euicc_set_location (EsimdEuicc *euicc, const char *mm_path, guint slot, guint active_slot,
                          const char *imei)
{
  gboolean changed = g_strcmp0 (mm_path, euicc->mm_path) != 0 || slot != euicc->slot ||
                     active_slot != euicc->active_slot;

  g_free (euicc->mm_path);
  euicc->mm_path = g_strdup (mm_path);
  euicc->slot = slot;
  euicc->active_slot = active_slot;
  /* The modem's own IMEI, as ModemManager read it: the servers get it. */
  if (imei && euicc->own_config && g_strcmp0 (imei, euicc->own_config->imei) != 0)
    {
      g_free (euicc->own_config->imei);
      euicc->own_config->imei = g_strdup (imei);
    }
  if (changed && euicc->present)
    esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_MODEM);
}

void
esimd_euicc_discovered_free (EsimdEuicc *euicc)
{
  g_free (euicc->discovered_eid);
  g_free (euicc->mm_path);
  esimd_modem_config_free (euicc->next_config);
  g_free (euicc->next_reason);
  /* Freed after the modem, which points at it. */
  esimd_modem_config_free (euicc->own_config);
}
