/* euicc-notify.c — between jobs: announcing pending notifications, delivering them by itself,
 * cancelling sessions left open, each retried with back-off. */
#include "euicc-private.h"

#include "daemon.h"
#include "job-euicc.h"
#include "job-notify.h"
#include "observer.h"

/* ---- notifications: announcing and automatic delivery ------------------------------------ */

/* Announces the notifications not announced before. A new one makes its server due at once,
 * whatever an earlier failure armed: the server expects it right after the operation, and the
 * back-off says nothing about the network now. */
static void
announce_notifications (EsimdEuicc *euicc)
{
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
        esimd_notify_backoff_release (euicc->notify_backoff, n->address);
        esimd_announce_notification_pending (euicc, n);
      }
  /* Forget delivered ones, so a reused sequence number (after a memory reset) is announced. */
  {
    GHashTableIter it;
    gpointer key;

    g_hash_table_iter_init (&it, euicc->announced);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (!esimd_euicc_find_notification (euicc, GPOINTER_TO_UINT (key)))
        g_hash_table_iter_remove (&it);
    g_hash_table_iter_init (&it, euicc->notify_refused);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (!esimd_euicc_find_notification (euicc, GPOINTER_TO_UINT (key)))
        g_hash_table_iter_remove (&it);
  }
}

/* ---- what the card failed to give ----------------------------------------------------------- */

void
esimd_euicc_notify_card_refused (EsimdEuicc *euicc, guint32 seq)
{
  g_hash_table_add (euicc->notify_refused, GUINT_TO_POINTER (seq));
}

gboolean
esimd_euicc_notify_card_refuses (EsimdEuicc *euicc, guint32 seq)
{
  return g_hash_table_contains (euicc->notify_refused, GUINT_TO_POINTER (seq));
}

void
esimd_euicc_notify_card_retry (EsimdEuicc *euicc)
{
  euicc->notify_batch_refused = FALSE;
  g_hash_table_remove_all (euicc->notify_refused);
}

guint
esimd_euicc_notify_card_failed (EsimdEuicc *euicc)
{
  return esimd_notify_backoff_failed (euicc->notify_card_backoff, "", g_get_monotonic_time ());
}

void
esimd_euicc_notify_card_succeeded (EsimdEuicc *euicc)
{
  esimd_notify_backoff_succeeded (euicc->notify_card_backoff, "");
}

gboolean
esimd_euicc_notify_card_due (EsimdEuicc *euicc)
{
  return esimd_notify_backoff_is_due (euicc->notify_card_backoff, "", g_get_monotonic_time ());
}

/* ---- servers, each with its own back-off ---------------------------------------------------- */

gboolean
esimd_euicc_notify_server_due (EsimdEuicc *euicc, const char *address)
{
  return esimd_notify_backoff_is_due (euicc->notify_backoff, address, g_get_monotonic_time ());
}

guint
esimd_euicc_notify_server_failed (EsimdEuicc *euicc, const char *address)
{
  return esimd_notify_backoff_failed (euicc->notify_backoff, address, g_get_monotonic_time ());
}

void
esimd_euicc_notify_server_succeeded (EsimdEuicc *euicc, const char *address)
{
  esimd_notify_backoff_succeeded (euicc->notify_backoff, address);
}

void
esimd_euicc_notify_server_postponed (EsimdEuicc *euicc, const char *address)
{
  esimd_notify_backoff_postpone (euicc->notify_backoff, address, g_get_monotonic_time ());
}

/* Pending notifications esimd's own delivery would send now. */
static gboolean
notifications_due (EsimdEuicc *euicc)
{
  if (!esimd_euicc_notify_card_due (euicc))
    return FALSE;
  for (guint i = 0; euicc->notifications && i < euicc->notifications->len; i++)
    {
      LpaNotificationMetadata *n = euicc->notifications->pdata[i];

      if (!esimd_euicc_notify_card_refuses (euicc, n->seq) &&
          esimd_euicc_notify_server_due (euicc, n->address))
        return TRUE;
    }
  return FALSE;
}

/* A session left open with something to do now: a cancel on the eUICC (it waits for no server;
 * the only thing left when the server ended its side), or telling a server that is due. */
static gboolean
session_due (EsimdEuicc *euicc, const EsimdOpenSession *s)
{
  if (s->server_ended || !s->cancel_response)
    return TRUE;
  return esimd_euicc_notify_server_due (euicc, s->server);
}

static void
submit_auto_notify (EsimdEuicc *euicc)
{
  g_autoptr (EsimdJob) job = NULL;
  g_autoptr (GError) error = NULL;

  if (!esimd->config->notify_auto || !euicc->available || !notifications_due (euicc) ||
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
  gboolean due = FALSE;

  if (!euicc->available || !euicc->eid ||
      esimd_job_queue_has_kind (euicc->queue, "cancel-sessions"))
    return;
  open = esimd_euicc_open_sessions (euicc);
  for (guint i = 0; i < open->len && !due; i++)
    due = session_due (euicc, open->pdata[i]);
  if (!due)
    return;
  job = esimd_job_cancel_sessions_new (euicc);
  if (!esimd_euicc_submit (euicc, job, &error))
    g_debug ("eUICC %s: cancelling open sessions not queued: %s", euicc->config->name,
             error->message);
}

static void schedule_retry (EsimdEuicc *euicc);

static gboolean
notify_retry_cb (gpointer data)
{
  EsimdEuicc *euicc = data;

  euicc->notify_retry_id = 0;
  submit_cancel_sessions (euicc);
  submit_auto_notify (euicc);
  schedule_retry (euicc);
  return G_SOURCE_REMOVE;
}

/* One timer, for the earliest server whose back-off ends and that has something waiting. */
static void
schedule_retry (EsimdEuicc *euicc)
{
  g_autoptr (GPtrArray) open = NULL;
  gint64 now = g_get_monotonic_time (), next = G_MAXINT64;
  guint seconds;

  g_clear_handle_id (&euicc->notify_retry_id, g_source_remove);
  if (!euicc->available || euicc->stop_task)
    return;
  if (esimd->config->notify_auto)
    for (guint i = 0; euicc->notifications && i < euicc->notifications->len; i++)
      {
        LpaNotificationMetadata *n = euicc->notifications->pdata[i];

        /* One the card refused waits for a Refresh, not for a time; the others for their
         * server and for the card's own back-off. */
        if (!esimd_euicc_notify_card_refuses (euicc, n->seq))
          next = MIN (next, MAX (esimd_notify_backoff_due_time (euicc->notify_backoff, n->address),
                                 esimd_notify_backoff_due_time (euicc->notify_card_backoff, "")));
      }
  open = esimd_euicc_open_sessions (euicc);
  for (guint i = 0; i < open->len; i++)
    {
      EsimdOpenSession *s = open->pdata[i];

      if (s->cancel_response && !s->server_ended)
        next = MIN (next, esimd_notify_backoff_due_time (euicc->notify_backoff, s->server));
    }
  if (next == G_MAXINT64)
    return;
  if (next <= now)
    {
      /* Due now: the end of the running job submits it. With no job running, the back-off
       * ended between the submits' own checks (esimd_euicc_after_job) and this one, as a 1 s
       * back-off may while a slow job end runs: submit now, or nothing ever would. */
      if (!esimd_job_queue_current (euicc->queue))
        {
          submit_cancel_sessions (euicc);
          submit_auto_notify (euicc);
        }
      return;
    }
  seconds = (guint) MIN ((next - now + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, G_MAXUINT);
  euicc->notify_retry_id = g_timeout_add_seconds (seconds, notify_retry_cb, euicc);
}

/* Between jobs: close what a failed download left open, tell clients about notifications and
 * start delivering them. */
void
esimd_euicc_after_job (EsimdEuicc *euicc, const EsimdJobOps *ended)
{
  if (euicc->replacing && !euicc->stop_task)
    {
      /* Discovery is letting its modem go (euicc-modem.c). */
      if (!esimd_job_queue_current (euicc->queue) && !euicc->replace_stopping)
        esimd_euicc_replacement_continue (euicc);
      return;
    }
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
  announce_notifications (euicc);
  submit_auto_notify (euicc);
  schedule_retry (euicc);
}
