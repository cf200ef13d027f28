/* euicc-notify.c — between jobs: announcing pending notifications, delivering them by itself,
 * cancelling sessions left open, each retried with back-off. */
#include "euicc-private.h"

#include "daemon.h"
#include "job-euicc.h"
#include "job-notify.h"
#include "observer.h"

/* ---- notifications: announcing and automatic delivery ------------------------------------ */

/* Returns how many were announced for the first time. */
static guint
announce_notifications (EsimdEuicc *euicc)
{
  guint fresh = 0;

  /* Delete notifications first: they tell an operator a subscription is gone. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; euicc->notifications && i < euicc->notifications->len; i++)
      {
        LpaNotificationMetadata *n = euicc->notifications->pdata[i];
        gboolean is_delete = n->operation == LPA_NOTIFICATION_DELETE;

        if ((pass == 0) != is_delete)
          continue;
        if (g_hash_table_contains (euicc->announced, GUINT_TO_POINTER (n->seq)))
          continue;
        g_hash_table_add (euicc->announced, GUINT_TO_POINTER (n->seq));
        esimd_announce_notification_pending (euicc, n);
        fresh++;
      }
  /* Forget delivered ones, so a reused sequence number (after a memory reset) is announced. */
  {
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init (&it, euicc->announced);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (!esimd_euicc_find_notification (euicc, GPOINTER_TO_UINT (key)))
        g_hash_table_iter_remove (&it);
  }
  return fresh;
}

static void
submit_auto_notify (EsimdEuicc *euicc)
{
  g_autoptr (EsimdJob) job = NULL;
  g_autoptr (GError) error = NULL;

  if (!esimd->config->notify_auto || !euicc->available || !euicc->notifications ||
      euicc->notifications->len == 0 || euicc->notify_retry_id ||
      esimd_job_queue_has_kind (euicc->queue, "send-notifications"))
    return;
  job = esimd_job_notify_new (euicc, NULL, TRUE);
  if (!esimd_euicc_submit (euicc, job, &error))
    g_debug ("eUICC %s: automatic notification delivery not queued: %s", euicc->config->name,
             error->message);
}

/* Transactions a failed download (or a crash) left open: cancel them while nothing else runs. */
static void
submit_cancel_sessions (EsimdEuicc *euicc)
{
  g_autoptr (GPtrArray) open = NULL;
  g_autoptr (EsimdJob) job = NULL;
  g_autoptr (GError) error = NULL;

  if (!euicc->available || !euicc->eid ||
      esimd_job_queue_has_kind (euicc->queue, "cancel-sessions"))
    return;
  open = esimd_euicc_open_sessions (euicc);
  if (open->len == 0)
    return;
  job = esimd_job_cancel_sessions_new (euicc);
  if (!esimd_euicc_submit (euicc, job, &error))
    g_debug ("eUICC %s: cancelling open sessions not queued: %s", euicc->config->name,
             error->message);
}

static gboolean
notify_retry_cb (gpointer data)
{
  EsimdEuicc *euicc = data;

  euicc->notify_retry_id = 0;
  submit_cancel_sessions (euicc);
  submit_auto_notify (euicc);
  return G_SOURCE_REMOVE;
}

void
esimd_euicc_notifications_failed (EsimdEuicc *euicc)
{
  const EsimdConfig *c = esimd->config;

  euicc->notify_backoff =
      euicc->notify_backoff ? MIN (euicc->notify_backoff * 2, c->retry_max) : c->retry_initial;
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  euicc->notify_retry_id = g_timeout_add_seconds (euicc->notify_backoff, notify_retry_cb, euicc);
  g_info ("eUICC %s: notifications not delivered; next attempt in %u s", euicc->config->name,
          euicc->notify_backoff);
}

void
esimd_euicc_notifications_succeeded (EsimdEuicc *euicc)
{
  /* The server is reachable again: nothing left should wait for the back-off. */
  euicc->notify_backoff = 0;
  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
}

/* Between jobs: close what a failed download left open, tell clients about notifications and
 * start delivering them. */
void
esimd_euicc_after_job (EsimdEuicc *euicc, const EsimdJobOps *ended)
{
  if (euicc->stop_task)
    {
      if (!esimd_job_queue_current (euicc->queue))
        esimd_euicc_stop_transport (euicc);
      return;
    }
  if (!euicc->cache_valid)
    return;
  /* After a cancel job that could not finish, wait for the back-off or the modem's return. */
  if (!g_str_equal (ended->kind, "cancel-sessions"))
    submit_cancel_sessions (euicc);
  /* A new notification (the PIR of a download, an enable's) goes out now, even while older ones
   * wait for the back-off: the server expects it right after the operation, and a back-off
   * armed by an earlier failure says nothing about the network now. */
  if (announce_notifications (euicc) > 0)
    g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  submit_auto_notify (euicc);
}
