/* job.c — a job's life: queued → running (→ awaiting-confirmation) → succeeded/failed/cancelled. */
#include "job.h"

#include "euicc.h"
#include "lpa-error.h"
#include "observer.h"
#include "text.h"

static guint next_job_id = 1;

EsimdJob *
esimd_job_new (EsimdEuicc *euicc, const EsimdJobOps *ops, gpointer data)
{
  EsimdJob *job = g_new0 (EsimdJob, 1);

  job->ref_count = 1;
  job->id = next_job_id++;
  job->ops = ops;
  job->data = data;
  job->euicc = euicc;
  job->state = ESIMD_JOB_QUEUED;
  job->caller_uid = -1;
  job->stage = g_strdup ("");
  return job;
}

EsimdJob *
esimd_job_ref (EsimdJob *job)
{
  job->ref_count++;
  return job;
}

void
esimd_job_unref (EsimdJob *job)
{
  if (!job || --job->ref_count > 0)
    return;
  if (job->ops->free_data && job->data)
    job->ops->free_data (job->data);
  if (job->caller_free && job->caller)
    job->caller_free (job->caller);
  g_clear_handle_id (&job->grace_id, g_source_remove);
  g_free (job->stage);
  g_free (job->confirmation_code_refused);
  g_clear_pointer (&job->metadata, g_variant_unref);
  g_clear_pointer (&job->result, g_variant_unref);
  g_clear_error (&job->error);
  g_free (job);
}

void
esimd_job_set_caller (EsimdJob *job, gpointer caller, GDestroyNotify caller_free)
{
  if (job->caller_free && job->caller)
    job->caller_free (job->caller);
  job->caller = caller;
  job->caller_free = caller_free;
}

GVariant *
esimd_job_get_output (EsimdJob *job)
{
  GVariant *output =
      job->completed && !job->error && job->ops->output ? job->ops->output (job) : NULL;

  return output ? g_variant_ref_sink (output) : NULL;
}

const char *
esimd_job_state_to_string (EsimdJobState state)
{
  switch (state)
    {
    case ESIMD_JOB_QUEUED:
      return "queued";
    case ESIMD_JOB_RUNNING:
      return "running";
    case ESIMD_JOB_AWAITING_CONFIRMATION:
      return "awaiting-confirmation";
    case ESIMD_JOB_AWAITING_CONFIRMATION_CODE:
      return "awaiting-confirmation-code";
    case ESIMD_JOB_SUCCEEDED:
      return "succeeded";
    case ESIMD_JOB_FAILED:
      return "failed";
    case ESIMD_JOB_CANCELLED:
      return "cancelled";
    }
  return "?";
}

gboolean
esimd_job_is_finished (EsimdJob *job)
{
  return job->completed;
}

void
esimd_job_set_state (EsimdJob *job, EsimdJobState state)
{
  if (job->state == state)
    return;
  job->state = state;
  esimd_announce_job_changed (job, ESIMD_JOB_CHANGE_STATE);
}

void
esimd_job_set_confirmation_code_refused (EsimdJob *job, const char *message)
{
  g_free (job->confirmation_code_refused);
  job->confirmation_code_refused = g_strdup (message);
  esimd_announce_job_changed (job, ESIMD_JOB_CHANGE_CONFIRMATION_CODE_REFUSED);
}

void
esimd_job_set_stage (EsimdJob *job, const char *stage, double progress)
{
  gboolean stage_changed = g_strcmp0 (job->stage, stage) != 0;
  /* Progress is announced in whole percents: finer steps would only flood clients. */
  gboolean progress_changed = (int) (progress * 100) != (int) (job->progress * 100);

  if (stage_changed)
    {
      g_free (job->stage);
      job->stage = g_strdup (stage);
    }
  job->progress = progress;
  if (stage_changed || progress_changed)
    esimd_announce_job_changed (job, (stage_changed ? ESIMD_JOB_CHANGE_STAGE : 0) |
                                         (progress_changed ? ESIMD_JOB_CHANGE_PROGRESS : 0));
}

void
esimd_job_set_metadata (EsimdJob *job, GVariant *metadata)
{
  g_clear_pointer (&job->metadata, g_variant_unref);
  job->metadata = g_variant_ref_sink (metadata);
  esimd_announce_job_changed (job, ESIMD_JOB_CHANGE_METADATA);
}

void
esimd_job_complete (EsimdJob *job, const GError *error, GVariant *result)
{
  g_return_if_fail (!job->completed);
  job->completed = TRUE;
  /* A grace left running would abandon the next job's requests. */
  esimd_job_request_ended (job);
  if (result)
    job->result = g_variant_ref_sink (result);
  /* The message carries a server's or a card's words, and goes to D-Bus (ErrorMessage, the
   * method's error reply, DownloadResult) and the log: made safe once, here. */
  if (error)
    {
      g_autofree char *message = lpa_text_sanitize (error->message, -1, 0, LPA_TEXT_KEEP_NEWLINES);

      job->error = g_error_new_literal (error->domain, error->code, message);
    }
  if (job->done)
    job->done (job, job->done_data);
}

typedef struct
{
  EsimdJob *job; /* not held: the job's end or free removes the timer */
  char *what;
  char *server;
} Grace;

static void
grace_free (gpointer data)
{
  Grace *g = data;

  g_free (g->what);
  g_free (g->server);
  g_free (g);
}

static gboolean
grace_over (gpointer data)
{
  Grace *g = data;
  EsimdJob *job = g->job;

  job->grace_id = 0;
  g_info ("eUICC %s: %s has not answered %s in %u s: its request is abandoned for a caller's job",
          job->euicc->config->name, g->server, g->what, ESIMD_GIVE_WAY_GRACE);
  if (job->euicc->http)
    esimd_http_client_cancel_all (job->euicc->http);
  return G_SOURCE_REMOVE;
}

void
esimd_job_stop_request (EsimdJob *job, const char *what, const char *server)
{
  Grace *g;

  if (!job->euicc->http)
    return;
  if (!job->gave_way)
    {
      esimd_job_request_ended (job);
      esimd_http_client_cancel_all (job->euicc->http);
      return;
    }
  if (job->grace_id)
    return;
  g = g_new0 (Grace, 1);
  g->job = job;
  g->what = g_strdup (what);
  g->server = g_strdup (server && *server ? server : "the server");
  job->grace_id = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, ESIMD_GIVE_WAY_GRACE, grace_over,
                                              g, grace_free);
}

void
esimd_job_request_ended (EsimdJob *job)
{
  g_clear_handle_id (&job->grace_id, g_source_remove);
}

void
esimd_job_publish (EsimdJob *job)
{
  g_autoptr (EsimdJob) keep = NULL;

  if (job->published)
    return;
  job->published = TRUE;
  keep = esimd_job_ref (job);
  g_free (job->stage);
  job->stage = g_strdup ("");
  if (!job->error)
    job->state = ESIMD_JOB_SUCCEEDED;
  else if (g_error_matches (job->error, LPA_ERROR, LPA_ERROR_CANCELLED))
    job->state = ESIMD_JOB_CANCELLED;
  else
    job->state = ESIMD_JOB_FAILED;
  if (!job->error && job->progress > 0.0)
    job->progress = 1.0;
  if (job->ops->announce_outcome)
    job->ops->announce_outcome (job);
  esimd_announce_job_finished (job);
}
