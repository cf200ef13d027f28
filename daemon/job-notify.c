/* job-notify.c — SendNotifications() and automatic delivery: one notification after another. */
#include "job-notify.h"

#include "daemon.h"
#include "log.h"

#include <string.h>

const char *const esimd_notification_filter_keys[] = { "operation:s", "iccid:s", "seq:u", NULL };

static const char *const operation_names[] = { "install", "enable", "disable", "delete", NULL };

gboolean
esimd_notification_filter_check (GVariant *filter, GError **error)
{
  const char *op = NULL, *iccid = NULL;

  if (g_variant_lookup (filter, "operation", "&s", &op) && !g_strv_contains (operation_names, op))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                   "operation \"%s\" is not install, enable, disable or delete", op);
      return FALSE;
    }
  if (g_variant_lookup (filter, "iccid", "&s", &iccid) && !lpa_iccid_is_valid (iccid))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                   "\"%s\" is not an ICCID (18 to 20 digits)", iccid);
      return FALSE;
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
  GArray *todo; /* guint32 sequence numbers, in order */
  guint next;
  guint delivered;
  guint failed;
  GError *last_error;
  LpaNotificationDelivery *delivery;
} NotifyJob;

static void
notify_job_free (gpointer data)
{
  NotifyJob *n = data;

  g_clear_pointer (&n->delivery, lpa_notification_delivery_free);
  g_clear_pointer (&n->filter, g_variant_unref);
  g_clear_pointer (&n->todo, g_array_unref);
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
notify_finish (EsimdJob *job)
{
  NotifyJob *n = job->data;
  EsimdEuicc *euicc = job->euicc;
  GVariantBuilder b;

  if (n->failed > 0)
    esimd_euicc_notifications_failed (euicc);
  else
    esimd_euicc_notifications_succeeded (euicc);
  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "delivered", g_variant_new_uint32 (n->delivered));
  /* Asked for explicitly and none went: the caller needs to know why. */
  if (!n->automatic && n->delivered == 0 && n->last_error)
    esimd_job_complete (job, n->last_error, g_variant_builder_end (&b));
  else
    esimd_job_complete (job, NULL, g_variant_builder_end (&b));
}

static void
on_delivered (gpointer user_data, guint32 seq, LpaNotificationOutcome outcome,
              const LpaNotificationMetadata *metadata, const GError *error)
{
  EsimdJob *job = user_data;
  NotifyJob *n = job->data;
  const char *name = job->euicc->config->name;

  switch (outcome)
    {
    case LPA_NOTIFICATION_DELIVERED:
      n->delivered++;
      g_info ("eUICC %s: %s notification %u delivered to %s", name,
              metadata ? lpa_notification_event_name (metadata->operation) : "", seq,
              metadata && metadata->address ? metadata->address : "its server");
      break;
    case LPA_NOTIFICATION_GONE:
      g_debug ("eUICC %s: notification %u is no longer pending", name, seq);
      break;
    case LPA_NOTIFICATION_FAILED:
      n->failed++;
      g_clear_error (&n->last_error);
      n->last_error = g_error_copy (error);
      g_info ("eUICC %s: notification %u not delivered: %s", name, seq, error->message);
      break;
    }
  deliver_next (job);
}

static void
deliver_next (EsimdJob *job)
{
  NotifyJob *n = job->data;
  guint32 seq;

  g_clear_pointer (&n->delivery, lpa_notification_delivery_free);
  if (n->next >= n->todo->len)
    {
      notify_finish (job);
      return;
    }
  /* A server that cannot be reached fails every notification the same way: after a network
   * failure, stop and let the back-off retry them all later. */
  if (n->last_error && n->last_error->domain == LPA_ERROR &&
      (n->last_error->code == LPA_ERROR_NETWORK || n->last_error->code == LPA_ERROR_TIMEOUT) &&
      n->automatic)
    {
      n->failed += n->todo->len - n->next;
      n->next = n->todo->len;
      notify_finish (job);
      return;
    }
  seq = g_array_index (n->todo, guint32, n->next++);
  esimd_job_set_stage (job, "notifying", (double) n->next / (n->todo->len + 1));
  n->delivery = lpa_notification_delivery_new (seq, job->euicc->es10, &esimd_http_client_ops,
                                               job->euicc->http, on_delivered, job);
  lpa_notification_delivery_start (n->delivery);
}

static void
notify_run (EsimdJob *job)
{
  NotifyJob *n = job->data;
  EsimdEuicc *euicc = job->euicc;
  g_autoptr (GError) error = NULL;

  n->todo = g_array_new (FALSE, FALSE, sizeof (guint32));
  for (guint i = 0; euicc->notifications && i < euicc->notifications->len; i++)
    {
      LpaNotificationMetadata *m = euicc->notifications->pdata[i];

      if (esimd_notification_matches (m, n->filter))
        g_array_append_val (n->todo, m->seq);
    }
  if (n->todo->len > 0 && !euicc->http)
    {
      g_set_error (&error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "no server can be trusted: none of the CI certificates this eUICC trusts is "
                   "installed and the system CA store is not used");
      n->failed = n->todo->len;
      esimd_euicc_notifications_failed (euicc);
      esimd_job_complete (job, n->automatic ? NULL : error, NULL);
      return;
    }
  deliver_next (job);
}

static const EsimdJobOps notify_ops = {
  .kind = "send-notifications",
  .action = "org.esim.notifications",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_NOTIFICATIONS,
  .run = notify_run,
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
  job = esimd_job_new (euicc, &notify_ops, n);
  job->internal = automatic;
  return job;
}
