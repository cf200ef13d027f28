/* job-euicc.c — Refresh, ResetMemory, SetDefaultSmdpAddress, RemoveNotification as jobs. */
#include "job-euicc.h"

#include "bus-manager.h"

typedef struct
{
  guint options;
  char *address;
  guint32 seq;
} EuiccJob;

static void
euicc_job_free (gpointer data)
{
  EuiccJob *e = data;

  g_free (e->address);
  g_free (e);
}

/* ---- refresh ----------------------------------------------------------------------------- */

static void
refresh_read (GObject *source, GAsyncResult *res, gpointer data)
{
  EsimdJob *job = data;
  EsimdEuicc *euicc = job->euicc;
  g_autoptr (GError) error = NULL;

  if (esimd_euicc_read_finish (euicc, res, &error) && !euicc->cache_valid)
    {
      euicc->cache_valid = TRUE;
      esimd_bus_manager_changed (euicc, "State");
    }
  esimd_job_complete (job, error, NULL);
}

static void
refresh_run (EsimdJob *job)
{
  esimd_job_set_stage (job, "running", 0);
  esimd_euicc_read (job->euicc, ESIMD_READ_ALL, refresh_read, job);
}

static const EsimdJobOps refresh_ops = {
  .kind = "refresh",
  .needs_channel = TRUE,
  .run = refresh_run,
  .free_data = euicc_job_free,
};

EsimdJob *
esimd_job_refresh_new (EsimdEuicc *euicc, gboolean internal)
{
  EsimdJob *job = esimd_job_new (euicc, &refresh_ops, g_new0 (EuiccJob, 1));

  job->internal = internal;
  return job;
}

/* ---- the single-command jobs ------------------------------------------------------------- */

static void
command_done (GBytes *response, const GError *error, gpointer data)
{
  EsimdJob *job = data;
  g_autoptr (GError) local = NULL;
  gboolean ok;

  if (error)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  if (g_str_equal (job->ops->kind, "reset-memory"))
    {
      gint code = 0;

      ok = lpa_es10c_parse_memory_reset (response, &code, &local);
      /* Nothing to delete leaves the card as asked: not a failure for the caller. */
      if (!ok && code == LPA_MEMORY_RESET_NOTHING_TO_DELETE)
        {
          ok = TRUE;
          g_clear_error (&local);
        }
    }
  else if (g_str_equal (job->ops->kind, "set-default-smdp"))
    ok = lpa_es10a_parse_set_default_dp_address (response, NULL, &local);
  else
    ok = lpa_es10b_parse_remove_notification (response, NULL, &local);
  esimd_job_complete (job, ok ? NULL : local, NULL);
}

static void
command_run (EsimdJob *job)
{
  EuiccJob *e = job->data;
  g_autoptr (GBytes) request = NULL;
  g_autoptr (GError) error = NULL;

  esimd_job_set_stage (job, "running", 0);
  if (g_str_equal (job->ops->kind, "reset-memory"))
    request = lpa_es10c_memory_reset_request (e->options, &error);
  else if (g_str_equal (job->ops->kind, "set-default-smdp"))
    request = lpa_es10a_set_default_dp_address_request (e->address, &error);
  else
    request = lpa_es10b_remove_notification_request (e->seq);
  if (!request)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  esimd_euicc_es10 (job->euicc, request, command_done, job);
}

static const EsimdJobOps reset_ops = {
  .kind = "reset-memory",
  .action = "org.esim.reset",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_ALL & ~(ESIMD_READ_EID | ESIMD_READ_INFO1),
  .run = command_run,
  .free_data = euicc_job_free,
};

static const EsimdJobOps default_smdp_ops = {
  .kind = "set-default-smdp",
  .action = "org.esim.reset",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_ADDRESSES,
  .run = command_run,
  .free_data = euicc_job_free,
};

static const EsimdJobOps remove_notification_ops = {
  .kind = "remove-notification",
  .action = "org.esim.notifications",
  .needs_channel = TRUE,
  .reads = ESIMD_READ_NOTIFICATIONS,
  .run = command_run,
  .free_data = euicc_job_free,
};

EsimdJob *
esimd_job_reset_memory_new (EsimdEuicc *euicc, guint options)
{
  EuiccJob *e = g_new0 (EuiccJob, 1);

  e->options = options;
  return esimd_job_new (euicc, &reset_ops, e);
}

EsimdJob *
esimd_job_set_default_smdp_new (EsimdEuicc *euicc, const char *address)
{
  EuiccJob *e = g_new0 (EuiccJob, 1);

  e->address = g_strdup (address);
  return esimd_job_new (euicc, &default_smdp_ops, e);
}

EsimdJob *
esimd_job_remove_notification_new (EsimdEuicc *euicc, guint32 seq)
{
  EuiccJob *e = g_new0 (EuiccJob, 1);

  e->seq = seq;
  return esimd_job_new (euicc, &remove_notification_ops, e);
}
