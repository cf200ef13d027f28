/* euicc-queue.c — the eUICC's queue: a job's begin (the channel) and end (reading back what it
 * changed), ES10 for jobs, and starting, confirming, cancelling work. */
#include "euicc-private.h"

#include "daemon.h"
#include "esimd-error.h"
#include "observer.h"

/* ---- ES10 for jobs ----------------------------------------------------------------------- */

typedef struct
{
  EsimdEs10Func func;
  gpointer user_data;
  GError *error; /* set when the request could not even be sent */
} Es10Call;

static void
es10_done (GBytes *response, const GError *error, gpointer data)
{
  Es10Call *c = data;

  c->func (response, error, c->user_data);
  g_free (c);
}

static gboolean
es10_fail_later (gpointer data)
{
  Es10Call *c = data;
  g_autoptr (GError) error = g_steal_pointer (&c->error);

  es10_done (NULL, error, c);
  return G_SOURCE_REMOVE;
}

void
esimd_euicc_es10 (EsimdEuicc *euicc, GBytes *request, EsimdEs10Func func, gpointer user_data)
{
  Es10Call *c = g_new0 (Es10Call, 1);

  c->func = func;
  c->user_data = user_data;
  if (!euicc->es10)
    c->error = g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT,
                                    "no logical channel is open to the eUICC");
  else if (lpa_es10_call (euicc->es10, request, es10_done, c, &c->error))
    return;
  /* Callers are written for answers that come later, never from inside this call. */
  g_idle_add (es10_fail_later, c);
}

static LpaEs10 *
open_es10 (EsimdEuicc *euicc, guint8 channel)
{
  LpaEs10 *es10 = lpa_es10_new (&esimd_modem_apdu_ops, euicc->modem, channel);

  lpa_es10_set_segment_size (es10, euicc->segment_size);
  lpa_es10_set_segment_size_callback (es10, esimd_euicc_segment_size_learnt, euicc);
  euicc->channel_lost = FALSE;
  return es10;
}

static void
reopened (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr (GTask) task = data;
  EsimdEuicc *euicc = g_task_get_task_data (task);
  GError *error = NULL;
  guint8 channel = 0;

  if (!esimd_modem_open_channel_finish (euicc->modem, res, &channel, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  euicc->es10 = open_es10 (euicc, channel);
  g_task_return_boolean (task, TRUE);
}

void
esimd_euicc_reopen_channel (EsimdEuicc *euicc, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_task_data (task, euicc, NULL);
  /* The old channel went with the modem: nothing to close on the device. */
  g_clear_pointer (&euicc->es10, lpa_es10_unref);
  esimd_modem_forget_channel (euicc->modem);
  esimd_modem_open_channel (euicc->modem, euicc->config->isdr_aid, reopened, task);
}

gboolean
esimd_euicc_reopen_channel_finish (EsimdEuicc *euicc, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- a read after a command the card may have been reset by ------------------------------ */

typedef struct
{
  EsimdEuicc *euicc;
  guint what;
  gboolean reopened; /* a new channel was opened for the read */
} ResetRead;

static void reset_read_done (GObject *source, GAsyncResult *res, gpointer data);

static void
reset_read_reopened (GObject *source, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  ResetRead *r = g_task_get_task_data (task);
  GError *error = NULL;

  if (!esimd_euicc_reopen_channel_finish (r->euicc, res, &error))
    {
      g_prefix_error (&error, "no channel to the card after its answer: ");
      g_task_return_error (task, error);
      g_object_unref (task);
      return;
    }
  esimd_euicc_read (r->euicc, r->what, reset_read_done, task);
}

static void
reset_read_done (GObject *source, GAsyncResult *res, gpointer data)
{
  GTask *task = data;
  ResetRead *r = g_task_get_task_data (task);
  GError *error = NULL;

  if (esimd_euicc_read_finish (r->euicc, res, &error))
    g_task_return_boolean (task, TRUE);
  else if (!r->reopened && (g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT) ||
                            (lpa_status_word_from_error (error) & 0xFF00) == 0x6800))
    {
      /* The card was reset after it acted (the 6F00 case): its channels went with it. */
      r->reopened = TRUE;
      g_error_free (error);
      esimd_euicc_reopen_channel (r->euicc, reset_read_reopened, task);
      return;
    }
  else
    g_task_return_error (task, error);
  g_object_unref (task);
}

void
esimd_euicc_read_after_reset (EsimdEuicc *euicc, guint what, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);
  ResetRead *r = g_new0 (ResetRead, 1);

  r->euicc = euicc;
  r->what = what;
  g_task_set_task_data (task, r, g_free);
  esimd_euicc_read (euicc, what, reset_read_done, task);
}

gboolean
esimd_euicc_read_after_reset_finish (EsimdEuicc *euicc, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- the queue's hooks ------------------------------------------------------------------- */

typedef struct
{
  EsimdJob *job;
  EsimdQueueStepDone done;
  guint after; /* EsimdRead bits to read once the job's outcome is published */
} HookOp;

/* The end hook's last step, whichever way it got there: the queue hears the job has ended, then
 * the eUICC runs what waits for a job of that kind to end. */
/* The reads after a published outcome are over: calls that came meanwhile for what they read
 * (ListNotifications) are answered now, without waiting for the channel to close. */
static void
settled (EsimdEuicc *euicc)
{
  if (!euicc->settling)
    return;
  euicc->settling = 0;
  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_SETTLED);
}

static void
end_finish (HookOp *op)
{
  EsimdEuicc *euicc = op->job->euicc;
  const EsimdJobOps *ended = op->job->ops; /* the job may be gone once the queue is told */

  settled (euicc); /* if the reads after the outcome ended another way */
  op->done (op->job, NULL);
  g_free (op);
  esimd_euicc_after_job (euicc, ended);
}

static void
begin_channel_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;
  guint8 channel = 0;

  if (esimd_modem_open_channel_finish (euicc->modem, res, &channel, &error))
    euicc->es10 = open_es10 (euicc, channel);
  op->done (op->job, error);
  g_free (op);
}

static void
queue_begin (EsimdJob *job, EsimdQueueStepDone done)
{
  EsimdEuicc *euicc = job->euicc;
  HookOp *op;

  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE | ESIMD_EUICC_CHANGE_CURRENT_JOB);
  euicc->reads = job->ops->reads;
  euicc->reads_after = 0;
  if (!job->ops->needs_channel)
    {
      done (job, NULL);
      return;
    }
  if (!euicc->available)
    {
      g_autoptr (GError) error =
          g_error_new (ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "%s", euicc->unavailable_reason);

      done (job, error);
      return;
    }
  op = g_new0 (HookOp, 1);
  op->job = job;
  op->done = done;
  esimd_modem_open_channel (euicc->modem, euicc->config->isdr_aid, begin_channel_opened, op);
}

static void
end_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;

  if (!esimd_modem_close_channel_finish (euicc->modem, res, &error))
    g_debug ("eUICC %s: closing the channel: %s", euicc->config->name, error->message);
  end_finish (op);
}

static void
end_close (HookOp *op)
{
  EsimdEuicc *euicc = op->job->euicc;

  g_clear_pointer (&euicc->es10, lpa_es10_unref);
  if (euicc->channel_lost)
    esimd_modem_forget_channel (euicc->modem);
  esimd_modem_close_channel (euicc->modem, end_closed, op);
}

static void
end_read_done (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;

  /* A failure is kept per part (esimd_euicc_read_error) and read again later; the reads decide
   * when the eUICC can be used. */
  if (!esimd_euicc_read_finish (euicc, res, &error))
    g_debug ("eUICC %s: reading it back: %s", euicc->config->name, error->message);
  if (op->after && euicc->available && euicc->es10)
    {
      guint after = op->after;

      /* What the outcome needed is read: the caller hears it now, the rest is read after. */
      op->after = 0;
      euicc->settling = after;
      esimd_job_publish (op->job);
      esimd_euicc_read (euicc, after, end_read_done, op);
      return;
    }
  settled (euicc);
  end_close (op);
}

static void
end_reopened (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;
  guint8 channel = 0;
  guint reads = euicc->reads;

  euicc->reads = 0;
  if (!esimd_modem_open_channel_finish (euicc->modem, res, &channel, &error))
    {
      g_warning ("eUICC %s: cannot read it again after the reset: %s", euicc->config->name,
                 error->message);
      end_finish (op);
      return;
    }
  euicc->es10 = open_es10 (euicc, channel);
  esimd_euicc_read (euicc, reads, end_read_done, op);
}

/* The card's refusal of the job's channel or of the application itself: another card now, or
 * the same one reset (a switched slot): 68xx channel or class function not supported, 6A82 not
 * found, 6E00 class not supported. The modem and its link work: they carried the answer. */
static gboolean
card_changed (const GError *error)
{
  guint16 sw = error ? lpa_status_word_from_error (error) : 0;

  return (sw & 0xFF00) == 0x6800 || sw == 0x6A82 || sw == 0x6E00;
}

/* The job failed the way it fails when the card is no longer behind the modem: that, or the
 * modem's refusal. */
static gboolean
card_may_be_gone (const GError *error)
{
  return card_changed (error) || g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT);
}

/* The job's outcome says that the eUICC left (@why), not what the card or modem answered last. */
static void
fail_as_unavailable (EsimdJob *job, const char *why)
{
  GError *error = g_error_new (ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "%s; the %s stopped (%s)", why,
                               job->ops->kind, job->error->message);

  g_info ("eUICC %s: job %u (%s): %s", job->euicc->config->name, job->id, job->ops->kind,
          error->message);
  g_clear_error (&job->error);
  job->error = error;
}

static void end_continue (HookOp *op);

static void
end_check_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;
  g_autoptr (GError) error = NULL;
  guint8 channel = 0;

  if (esimd_modem_open_channel_finish (euicc->modem, res, &channel, &error))
    {
      /* Still there: the failure was the job's own. */
      euicc->es10 = open_es10 (euicc, channel);
      end_continue (op);
      return;
    }
  if (!esimd_modem_is_available (euicc->modem))
    {
      /* The modem itself went away: the transport says so, and the job's error stands. */
      end_continue (op);
      return;
    }
  g_debug ("eUICC %s: its ISD-R no longer answers: %s", euicc->config->name, error->message);
  fail_as_unavailable (op->job, "the eUICC no longer answers through its modem (the modem "
                                "switched to another SIM slot, or the card was taken out)");
  /* Nothing is open to read with or close; what the eUICC holds is read again when it is back. */
  euicc->cache_valid = FALSE;
  euicc->reads = 0;
  end_finish (op);
}

static void
end_check_closed (GObject *source, GAsyncResult *res, gpointer data)
{
  HookOp *op = data;
  EsimdEuicc *euicc = op->job->euicc;

  esimd_modem_close_channel_finish (euicc->modem, res, NULL);
  esimd_modem_open_channel (euicc->modem, euicc->config->isdr_aid, end_check_opened, op);
}

/* After every job: read again what it may have changed, then let the card go. What its outcome
 * does not need (reads_after: an enable's notifications, a download's free memory) is read after
 * the outcome is published, so the caller is answered at the operation's floor.
 *
 * A job whose channel the card or the modem refused (what they do after a slot switch or a swap)
 * is told apart from one the card itself refused: the eUICC is asked again on a fresh channel,
 * and when the modem, still there, says its ISD-R does not answer, the job fails as unavailable,
 * rather than with the modem's or the card's last words; so does a job that failed while
 * discovery lets the eUICC's modem go, having learnt that the eUICC left it, with discovery's
 * reason. A modem that went away keeps its transport error (the transport reports the loss). */
static void
queue_end (EsimdJob *job, EsimdQueueStepDone done)
{
  EsimdEuicc *euicc = job->euicc;
  HookOp *op = g_new0 (HookOp, 1);

  op->job = job;
  op->done = done;
  if (!job->ops->needs_channel)
    {
      euicc->reads_after = 0;
      end_finish (op);
      return;
    }
  if (euicc->replacing && job->error &&
      (card_may_be_gone (job->error) || job == euicc->replace_cancelled))
    fail_as_unavailable (job, euicc->unavailable_reason ? euicc->unavailable_reason
                                                        : "its modem changed");
  else if (card_may_be_gone (job->error) && euicc->available && !euicc->channel_lost &&
           euicc->modem && esimd_modem_is_available (euicc->modem))
    {
      g_clear_pointer (&euicc->es10, lpa_es10_unref);
      esimd_modem_close_channel (euicc->modem, end_check_closed, op);
      return;
    }
  end_continue (op);
}

static void
end_continue (HookOp *op)
{
  EsimdJob *job = op->job;
  EsimdEuicc *euicc = job->euicc;
  guint reads = euicc->reads | euicc->stale;
  guint after = euicc->reads_after;

  euicc->reads_after = 0;
  if (reads == 0 && after != 0 && euicc->available)
    {
      euicc->settling = after;
      esimd_job_publish (job);
      reads = after;
    }
  else
    op->after = after & ~reads;
  if (!euicc->available || reads == 0)
    {
      euicc->reads = 0;
      end_close (op);
      return;
    }
  euicc->reads = reads;
  if (euicc->channel_lost || !euicc->es10)
    {
      /* The card was reset (refresh or power cycle): open a fresh channel to read it. */
      g_clear_pointer (&euicc->es10, lpa_es10_unref);
      esimd_modem_forget_channel (euicc->modem);
      esimd_modem_open_channel (euicc->modem, euicc->config->isdr_aid, end_reopened, op);
      return;
    }
  euicc->reads = 0;
  esimd_euicc_read (euicc, reads, end_read_done, op);
}

static void
queue_current_changed (gpointer user_data, EsimdJob *current)
{
  EsimdEuicc *euicc = user_data;

  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE | ESIMD_EUICC_CHANGE_CURRENT_JOB);
}

const EsimdJobQueueHooks esimd_euicc_queue_hooks = {
  .begin = queue_begin,
  .end = queue_end,
  .current_changed = queue_current_changed,
};

/* ---- submitting and steering jobs -------------------------------------------------------- */

gboolean
esimd_euicc_submit (EsimdEuicc *euicc, EsimdJob *job, GError **error)
{
  if (euicc->stop_task)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "esimd is stopping");
      return FALSE;
    }
  if (!euicc->available && job->ops->needs_channel)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_UNAVAILABLE, "%s",
                   euicc->unavailable_reason ? euicc->unavailable_reason : "modem not available");
      return FALSE;
    }
  if (!esimd_job_queue_push (euicc->queue, job, error))
    return FALSE;
  esimd_announce_job_added (job);
  esimd_announce_euicc_changed (euicc, ESIMD_EUICC_CHANGE_STATE);
  return TRUE;
}

gboolean
esimd_euicc_cancel_job (EsimdEuicc *euicc, EsimdJob *job, GError **error)
{
  return esimd_job_queue_cancel (euicc->queue, job, error);
}

void
esimd_euicc_caller_gone (EsimdEuicc *euicc, EsimdJob *job)
{
  g_autoptr (GError) error = NULL;

  if (esimd_job_is_finished (job))
    return;
  if (job->detached)
    {
      g_info ("eUICC %s: the caller of job %u (%s) went away; the job was detached: it goes on",
              euicc->config->name, job->id, job->ops->kind);
      return;
    }
  g_info ("eUICC %s: the caller of job %u (%s) went away: cancelling it", euicc->config->name,
          job->id, job->ops->kind);
  job->caller_gone = TRUE;
  if (!esimd_euicc_cancel_job (euicc, job, &error))
    g_info ("eUICC %s: job %u goes on: %s", euicc->config->name, job->id, error->message);
}

gboolean
esimd_euicc_supply_confirmation_code (EsimdEuicc *euicc, EsimdJob *job, const char *code,
                                      GError **error)
{
  if (job->state != ESIMD_JOB_AWAITING_CONFIRMATION_CODE || !job->ops->supply_confirmation_code)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                   "the job is %s, not awaiting a confirmation code",
                   esimd_job_state_to_string (job->state));
      return FALSE;
    }
  return job->ops->supply_confirmation_code (job, code, error);
}

gboolean
esimd_euicc_confirm_job (EsimdEuicc *euicc, EsimdJob *job, GError **error)
{
  if (job->state != ESIMD_JOB_AWAITING_CONFIRMATION || !job->ops->confirm)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                   "the job is %s, not awaiting confirmation",
                   esimd_job_state_to_string (job->state));
      return FALSE;
    }
  return job->ops->confirm (job, error);
}
