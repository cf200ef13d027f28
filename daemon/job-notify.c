/* job-notify.c — SendNotifications() and automatic delivery: one notification after another. */
#include "job-notify.h"

#include "daemon.h"
#include "log.h"
#include "notify-backoff.h"

#include <string.h>

const char *const esimd_notification_filter_keys[] = { "operation:s", "iccid:s", "seq:u", NULL };

gboolean
esimd_notification_filter_check (GVariant **filter_inout, GError **error)
{
  GVariant *filter = *filter_inout;
  const char *op = NULL, *iccid = NULL;
  g_autofree char *canonical = NULL;

  if (g_variant_lookup (filter, "operation", "&s", &op) &&
      !g_strv_contains (lpa_notification_operation_names, op))
    {
      g_autofree char *names = g_strjoinv (", ", (char **) lpa_notification_operation_names);

      g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT, "operation \"%s\" is none of %s",
                   op, names);
      return FALSE;
    }
  if (!g_variant_lookup (filter, "iccid", "&s", &iccid))
    return TRUE;
  canonical = lpa_iccid_canonical (iccid);
  if (!canonical)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                   "\"%s\" is not an ICCID (" LPA_ICCID_FORMS ")", iccid);
      return FALSE;
    }
  /* Matched by equality against the listed ICCIDs: the caller's lower-case or padded form
   * becomes the listed one here, once. */
  if (!g_str_equal (canonical, iccid))
    {
      GVariantDict d;

      g_variant_dict_init (&d, filter);
      g_variant_dict_insert (&d, "iccid", "s", canonical);
      *filter_inout = g_variant_ref_sink (g_variant_dict_end (&d));
      g_variant_unref (filter);
    }
  return TRUE;
}

gboolean
esimd_notification_matches (const LpaNotificationMetadata *n, GVariant *filter)
{
  const char *op = NULL, *iccid = NULL;
  guint32 seq;

  if (!filter)
    return TRUE;
  if (g_variant_lookup (filter, "operation", "&s", &op) &&
      !g_str_equal (op, lpa_notification_event_name (n->operation)))
    return FALSE;
  if (g_variant_lookup (filter, "iccid", "&s", &iccid) && g_strcmp0 (iccid, n->iccid) != 0)
    return FALSE;
  if (g_variant_lookup (filter, "seq", "u", &seq) && seq != n->seq)
    return FALSE;
  return TRUE;
}

typedef struct
{
  GVariant *filter;
  gboolean automatic;
  GArray *todo;            /* guint32 sequence numbers, in order */
  GPtrArray *addresses;    /* the server of each, as the cache lists it (char*) */
  GHashTable *failed;      /* servers that failed in this job: their back-off grew once */
  GHashTable *unreachable; /* servers that could not be reached: their other notifications wait */
  guint next;
  guint delivered;
  guint failures;
  GError *last_error;
  GPtrArray *retrieved; /* LpaPendingNotification*: the batch's one RetrieveNotificationsList */
  gboolean reread;      /* something the card said needs its list read again after the job */
  LpaNotificationDelivery *delivery;
  gboolean stopping;    /* a caller cancelled it, or it gives way to a caller's job */
  gboolean card_failed; /* the card's back-off grew in this job, to card_wait seconds */
  guint card_wait;
} NotifyJob;

static void
notify_job_free (gpointer data)
{
  NotifyJob *n = data;

  g_clear_pointer (&n->delivery, lpa_notification_delivery_free);
  g_clear_pointer (&n->filter, g_variant_unref);
  g_clear_pointer (&n->todo, g_array_unref);
  g_clear_pointer (&n->addresses, g_ptr_array_unref);
  g_clear_pointer (&n->failed, g_hash_table_unref);
  g_clear_pointer (&n->unreachable, g_hash_table_unref);
  g_clear_pointer (&n->retrieved, g_ptr_array_unref);
  g_clear_error (&n->last_error);
  g_free (n);
}

static GVariant *
notify_output (EsimdJob *job)
{
  NotifyJob *n = job->data;

  return g_variant_new ("(u)", (guint32) n->delivered);
}

static void deliver_next (EsimdJob *job);

static void
notify_stopped (EsimdJob *job)
{
  NotifyJob *n = job->data;
  g_autoptr (GError) error = NULL;

  esimd_job_request_ended (job);
  if (job->gave_way)
    error = g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED,
                                 "gave way to a caller's job; the delivery runs again after it");
  else
    {
      error = g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "cancelled");
      /* A caller stopped esimd's own delivery: it does not start again at once, but after
       * each server's back-off (at least RetryInitial). */
      if (n->automatic)
        for (guint i = n->next > 0 ? n->next - 1 : 0; n->addresses && i < n->addresses->len; i++)
          esimd_euicc_notify_server_postponed (job->euicc, n->addresses->pdata[i]);
    }
  g_info ("eUICC %s: notification delivery %s", job->euicc->config->name, error->message);
  esimd_job_complete (job, error, NULL);
}

static void
notify_finish (EsimdJob *job)
{
  NotifyJob *n = job->data;
  GVariantBuilder b;

  if (n->stopping)
    {
      notify_stopped (job);
      return;
    }
  /* Each one delivered was taken out of the cache as the card removed it: no read-back. */
  if (n->failures == 0 && !n->reread)
    esimd_euicc_cache_notifications_known (job->euicc);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "delivered", g_variant_new_uint32 (n->delivered));
  /* Asked for explicitly and none went: the caller needs to know why. */
  if (!n->automatic && n->delivered == 0 && n->last_error)
    esimd_job_complete (job, n->last_error, g_variant_builder_end (&b));
  else
    esimd_job_complete (job, NULL, g_variant_builder_end (&b));
}

static gboolean
unreachable_error (const GError *error)
{
  return g_error_matches (error, LPA_ERROR, LPA_ERROR_NETWORK) ||
         g_error_matches (error, LPA_ERROR, LPA_ERROR_TIMEOUT) ||
         g_error_matches (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION);
}

/* The card failed its part of delivering @seq (@error: its answer, or its modem's failure): no
 * server was asked, or the server took it and the card did not remove it. A card's fault is not
 * the server's: no server's back-off grows (a card that refused held back every server of its
 * notifications, for as long as the back-off lasted after the card answered again). So that
 * esimd's own delivery does not ask the card again at once, and again: a notification the card
 * refused (its answer: a status word, an error, bytes that do not decode) waits for the next
 * Refresh (esimd_euicc_notify_card_refused(), the rule of a refused batch form); after a failure
 * of the modem the card's own back-off runs (once per job). A caller's SendNotifications still
 * tries. The list is read again after the job (a failure keeps the read-back). */
static void
card_failed (EsimdJob *job, guint32 seq, gboolean removing, const GError *error)
{
  NotifyJob *n = job->data;
  /* The card's answer is an EuiccError; a modem that failed stays what it is (Transport…). */
  gboolean answer = g_error_matches (error, LPA_ERROR, LPA_ERROR_STATUS_WORD) ||
                    g_error_matches (error, LPA_ERROR, LPA_ERROR_EUICC) ||
                    g_error_matches (error, LPA_ERROR, LPA_ERROR_MALFORMED) ||
                    g_error_matches (error, LPA_ERROR, LPA_ERROR_UNEXPECTED);
  g_autofree char *when = NULL;

  n->failures++;
  if (answer)
    {
      esimd_euicc_notify_card_refused (job->euicc, seq);
      when = g_strdup ("after the next Refresh");
    }
  else
    {
      /* Any notification the card gives later ends the back-off (on_delivered()): the card
       * answers again, so the message says so beside the time. */
      if (!n->card_failed)
        n->card_wait = esimd_euicc_notify_card_failed (job->euicc);
      n->card_failed = TRUE;
      when = g_strdup_printf ("in %u s, or sooner if another notification goes through first",
                              n->card_wait);
    }
  g_clear_error (&n->last_error);
  if (removing)
    n->last_error = g_error_new (LPA_ERROR, answer ? LPA_ERROR_EUICC : error->code,
                                 "the eUICC did not remove notification %u after its server "
                                 "took it (%s); esimd's own delivery sends it again %s",
                                 seq, error->message, when);
  else
    n->last_error = g_error_new (LPA_ERROR, answer ? LPA_ERROR_EUICC : error->code,
                                 "the eUICC did not give notification %u (%s): no server was "
                                 "asked; esimd's own delivery tries it again %s",
                                 seq, error->message, when);
  g_info ("eUICC %s: %s", job->euicc->config->name, n->last_error->message);
}

/* The eUICC listed @seq as pending but did not return it when asked. That may be true (another
 * LPA removed it meanwhile) or the card may contradict itself: either way the cache is not
 * changed on its word; the list is read again after the job, which settles it. */
static void
not_returned (EsimdJob *job, guint32 seq)
{
  g_autoptr (GError) error =
      g_error_new (LPA_ERROR, LPA_ERROR_EUICC, "listed, but not returned when asked for");

  card_failed (job, seq, FALSE, error);
}

static void
on_delivered (gpointer user_data, guint32 seq, LpaNotificationOutcome outcome,
              const LpaNotificationMetadata *metadata, const GError *error)
{
  EsimdJob *job = user_data;
  NotifyJob *n = job->data;
  const char *name = job->euicc->config->name;
  const char *address = n->addresses->pdata[n->next - 1];
  g_autofree char *key = esimd_notify_backoff_key (address);

  switch (outcome)
    {
    case LPA_NOTIFICATION_DELIVERED:
      n->delivered++;
      esimd_euicc_notify_server_succeeded (job->euicc, address);
      esimd_euicc_notify_card_succeeded (job->euicc);
      /* The card had nothing to remove: its list is read again rather than guessed. */
      if (error)
        n->reread = TRUE;
      else
        esimd_euicc_cache_notification_removed (job->euicc, seq);
      g_info ("eUICC %s: %s notification %u delivered to %s", name,
              metadata ? lpa_notification_event_name (metadata->operation) : "", seq,
              metadata && metadata->address ? metadata->address : "its server");
      break;
    case LPA_NOTIFICATION_GONE:
      not_returned (job, seq);
      break;
    case LPA_NOTIFICATION_EUICC_FAILED:
    case LPA_NOTIFICATION_NOT_REMOVED:
      if (n->stopping && g_error_matches (error, LPA_ERROR, LPA_ERROR_CANCELLED))
        break;
      /* Not removed: the server took it, it did its part. */
      if (outcome == LPA_NOTIFICATION_NOT_REMOVED)
        esimd_euicc_notify_server_succeeded (job->euicc, address);
      card_failed (job, seq, outcome == LPA_NOTIFICATION_NOT_REMOVED, error);
      break;
    case LPA_NOTIFICATION_FAILED:
      /* Our own abort (a cancel, or giving way) says nothing about the server. */
      if (n->stopping && g_error_matches (error, LPA_ERROR, LPA_ERROR_CANCELLED))
        break;
      n->failures++;
      g_clear_error (&n->last_error);
      n->last_error = g_error_copy (error);
      if (!g_hash_table_contains (n->failed, key))
        {
          guint wait = esimd_euicc_notify_server_failed (job->euicc, address);

          g_hash_table_add (n->failed, g_strdup (key));
          g_info ("eUICC %s: notification %u not delivered to %s: %s; that server is tried "
                  "again in %u s",
                  name, seq, *key ? key : "its server", error->message, wait);
        }
      else
        g_info ("eUICC %s: notification %u not delivered: %s", name, seq, error->message);
      /* A server that cannot be reached fails all its notifications the same way; the other
       * servers' still go. */
      if (unreachable_error (error))
        g_hash_table_add (n->unreachable, g_steal_pointer (&key));
      break;
    }
  deliver_next (job);
}

/* The retrieved notification @seq, taken from the batch; NULL if the card had none. */
static LpaPendingNotification *
take_retrieved (NotifyJob *n, guint32 seq)
{
  for (guint i = 0; n->retrieved && i < n->retrieved->len; i++)
    {
      LpaPendingNotification *p = n->retrieved->pdata[i];

      if (p->metadata->seq == seq)
        return g_ptr_array_steal_index (n->retrieved, i);
    }
  return NULL;
}

static void
deliver_next (EsimdJob *job)
{
  NotifyJob *n = job->data;
  LpaPendingNotification *retrieved = NULL;
  g_autoptr (GError) error = NULL;
  guint32 seq;

  g_clear_pointer (&n->delivery, lpa_notification_delivery_free);
next:
  for (;;)
    {
      g_autofree char *key = NULL;

      if (n->stopping || n->next >= n->todo->len)
        {
          notify_finish (job);
          return;
        }
      key = esimd_notify_backoff_key (n->addresses->pdata[n->next]);
      if (!g_hash_table_contains (n->unreachable, key))
        break;
      n->failures++;
      n->next++;
    }
  seq = g_array_index (n->todo, guint32, n->next++);
  esimd_job_set_stage (job, "notifying", (double) n->next / (n->todo->len + 1));
  if (!n->retrieved)
    {
      /* A batch of one, or a card that refuses the batch: retrieved by its sequence number (for
       * one, as cheap in APDUs and without the others' bytes). */
      n->delivery = lpa_notification_delivery_new (seq, job->euicc->es10, &esimd_http_client_ops,
                                                   job->euicc->http, on_delivered, job);
      lpa_notification_delivery_start (n->delivery);
      return;
    }
  if (!(retrieved = take_retrieved (n, seq)))
    {
      not_returned (job, seq);
      goto next;
    }
  n->delivery =
      lpa_notification_delivery_new_retrieved (retrieved, job->euicc->es10, &esimd_http_client_ops,
                                               job->euicc->http, on_delivered, job, &error);
  if (!n->delivery)
    {
      card_failed (job, seq, FALSE, error);
      goto next;
    }
  lpa_notification_delivery_start (n->delivery);
}

/* The card answered the batch's RetrieveNotificationsList, but not with a list that can be used:
 * a status word (6A80, 6D00…), an error result (undefinedError), or bytes that do not decode.
 * Not a lost modem or a cancel, which would fail each retrieval alike. */
static gboolean
batch_refused (const GError *error)
{
  return g_error_matches (error, LPA_ERROR, LPA_ERROR_STATUS_WORD) ||
         g_error_matches (error, LPA_ERROR, LPA_ERROR_EUICC) ||
         g_error_matches (error, LPA_ERROR, LPA_ERROR_MALFORMED) ||
         g_error_matches (error, LPA_ERROR, LPA_ERROR_UNEXPECTED);
}

/* The batch's one RetrieveNotificationsList: every pending notification, signed. */
static void
retrieved_all (gpointer user_data, GPtrArray *notifications, const GError *error)
{
  EsimdJob *job = user_data;
  NotifyJob *n = job->data;

  if (batch_refused (error))
    {
      /* Each one is retrieved by its sequence number instead (the form lpac's notification
       * process and AOSP's EuiccPort.retrieveNotification use), now and in later runs: else no
       * notification of this card would ever be delivered. */
      g_info ("eUICC %s: notifications not retrieved at once (%s): retrieving each by its "
              "sequence number until the next Refresh",
              job->euicc->config->name, error->message);
      job->euicc->notify_batch_refused = TRUE;
      deliver_next (job);
      return;
    }
  if (error)
    {
      /* The modem failed (or the job was cancelled): as a failed retrieval of each would, on the
       * card's side, never a server's. */
      if (!(n->stopping && g_error_matches (error, LPA_ERROR, LPA_ERROR_CANCELLED)))
        for (guint i = 0; i < n->todo->len; i++)
          card_failed (job, g_array_index (n->todo, guint32, i), FALSE, error);
      n->next = n->todo->len;
      notify_finish (job);
      return;
    }
  n->retrieved = g_ptr_array_ref (notifications);
  deliver_next (job);
}

static void
notify_run (EsimdJob *job)
{
  NotifyJob *n = job->data;
  EsimdEuicc *euicc = job->euicc;
  g_autoptr (GError) error = NULL;

  n->todo = g_array_new (FALSE, FALSE, sizeof (guint32));
  n->addresses = g_ptr_array_new_with_free_func (g_free);
  n->failed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  n->unreachable = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (n->stopping)
    {
      notify_stopped (job); /* cancelled while the channel opened */
      return;
    }
  for (guint i = 0; euicc->notifications && i < euicc->notifications->len; i++)
    {
      LpaNotificationMetadata *m = euicc->notifications->pdata[i];

      if (!esimd_notification_matches (m, n->filter))
        continue;
      /* esimd's own delivery waits for each server's back-off, and for a Refresh after the card
       * failed to give one; a caller's does not. */
      if (n->automatic &&
          (!esimd_euicc_notify_server_due (euicc, m->address) ||
           !esimd_euicc_notify_card_due (euicc) || esimd_euicc_notify_card_refuses (euicc, m->seq)))
        continue;
      g_array_append_val (n->todo, m->seq);
      g_ptr_array_add (n->addresses, g_strdup (m->address ? m->address : ""));
    }
  if (n->todo->len > 0 && !euicc->http)
    {
      g_set_error (&error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "no server can be trusted: none of the CI certificates this eUICC trusts is "
                   "installed and the system CA store is not used");
      n->failures = n->todo->len;
      for (guint i = 0; i < n->addresses->len; i++)
        esimd_euicc_notify_server_failed (euicc, n->addresses->pdata[i]);
      esimd_job_complete (job, n->automatic ? NULL : error, NULL);
      return;
    }
  if (n->todo->len <= 1 || euicc->notify_batch_refused)
    {
      deliver_next (job);
      return;
    }
  lpa_notification_retrieve_all (euicc->es10, retrieved_all, job);
}

/* A caller cancelled it, or a caller's job is queued (job->gave_way): stop after the step in
 * flight. An ES10 command completes first, so the card is left consistent. An HTTP request is
 * abandoned (its notification stays on the eUICC, delivered later): at once for a caller's
 * cancel, after ESIMD_GIVE_WAY_GRACE when giving way. */
static gboolean
notify_cancel (EsimdJob *job, GError **error)
{
  NotifyJob *n = job->data;

  n->stopping = TRUE;
  if (n->delivery)
    esimd_job_stop_request (job, "handleNotification", n->addresses->pdata[n->next - 1]);
  return TRUE;
}

static const EsimdJobOps notify_ops = {
  .kind = "send-notifications",
  .action = "org.esim.notifications",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_NOTIFICATIONS,
  .run = notify_run,
  .cancel = notify_cancel,
  .output = notify_output,
  .free_data = notify_job_free,
};

/* esimd's own delivery: the same work, but giving way to callers' jobs. */
static const EsimdJobOps auto_notify_ops = {
  .kind = "send-notifications",
  .action = "org.esim.notifications",
  .needs_channel = TRUE,
  .gives_way = TRUE,
  .reads = ESIMD_READ_NOTIFICATIONS,
  .run = notify_run,
  .cancel = notify_cancel,
  .output = notify_output,
  .free_data = notify_job_free,
};

EsimdJob *
esimd_job_notify_new (EsimdEuicc *euicc, GVariant *filter, gboolean automatic)
{
  NotifyJob *n = g_new0 (NotifyJob, 1);
  EsimdJob *job;

  n->filter = filter ? g_variant_ref (filter) : NULL;
  n->automatic = automatic;
  job = esimd_job_new (euicc, automatic ? &auto_notify_ops : &notify_ops, n);
  job->internal = automatic;
  return job;
}
