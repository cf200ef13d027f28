/* job-queue.c — runs an eUICC's jobs in submission order, each between begin and end hooks. */
#include "job-queue.h"

#include "esimd-error.h"
#include "lpa-error.h"

struct _EsimdJobQueue
{
  const EsimdJobQueueHooks *hooks;
  gpointer user_data;
  guint max_queued;
  GQueue waiting; /* EsimdJob* (owned refs) */
  EsimdJob *current;
  gboolean ending; /* the end hook of the current job runs */
  guint kick_id;
};

static void kick (EsimdJobQueue *queue);

static void
set_current (EsimdJobQueue *queue, EsimdJob *job)
{
  queue->current = job;
  if (queue->hooks->current_changed)
    queue->hooks->current_changed (queue->user_data, job);
}

static void
on_end_done (EsimdJob *job, const GError *error)
{
  EsimdJobQueue *queue = job->done_data;

  queue->ending = FALSE;
  esimd_job_publish (job);
  set_current (queue, NULL);
  esimd_job_unref (job);
  kick (queue);
}

/* The job reached a final state (from its own run, a failed begin, or a cancel). */
static void
on_job_done (EsimdJob *job, gpointer user_data)
{
  EsimdJobQueue *queue = user_data;

  if (job != queue->current)
    {
      /* A queued job cancelled before it ran: nothing to read back. */
      esimd_job_publish (job);
      return;
    }
  g_debug ("job %u (%s): %s%s%s", job->id, job->ops->kind, esimd_job_state_to_string (job->state),
           job->error ? ": " : "", job->error ? job->error->message : "");
  queue->ending = TRUE;
  queue->hooks->end (job, on_end_done);
}

static void
on_begin_done (EsimdJob *job, const GError *error)
{
  if (error)
    {
      esimd_job_complete (job, error, NULL);
      return;
    }
  if (esimd_job_is_finished (job))
    return; /* cancelled while the channel opened */
  g_debug ("job %u (%s): running", job->id, job->ops->kind);
  job->ops->run (job);
}

static void give_way (EsimdJobQueue *queue);

static gboolean
callers_waiting (EsimdJobQueue *queue)
{
  for (GList *l = queue->waiting.head; l; l = l->next)
    if (!((EsimdJob *) l->data)->internal)
      return TRUE;
  return FALSE;
}

static gboolean
run_next (gpointer data)
{
  EsimdJobQueue *queue = data;
  EsimdJob *job;
  gboolean yield;

  queue->kick_id = 0;
  if (queue->current || g_queue_is_empty (&queue->waiting))
    return G_SOURCE_REMOVE;
  job = g_queue_pop_head (&queue->waiting);
  /* Background work that kept its place ahead of a caller's job gives way as soon as it runs. */
  yield = job->ops->gives_way && callers_waiting (queue);
  g_debug ("job %u (%s): starting", job->id, job->ops->kind);
  set_current (queue, job);
  esimd_job_set_state (job, ESIMD_JOB_RUNNING);
  queue->hooks->begin (job, on_begin_done);
  if (yield)
    give_way (queue); /* the current job, if begin has not ended it */
  return G_SOURCE_REMOVE;
}

/* Starting from an idle keeps a job's start out of the D-Bus handler that queued it. */
static void
kick (EsimdJobQueue *queue)
{
  if (!queue->kick_id && !queue->current && !g_queue_is_empty (&queue->waiting))
    queue->kick_id = g_idle_add (run_next, queue);
}

/* A caller's job is waiting: background work that holds the card stops for it. */
static void
give_way (EsimdJobQueue *queue)
{
  EsimdJob *current = queue->current;
  g_autoptr (GError) error = NULL;

  if (!current || !current->ops->gives_way || !current->ops->cancel || current->gave_way ||
      current->cancel_asked || queue->ending || esimd_job_is_finished (current))
    return;
  current->gave_way = TRUE;
  g_debug ("job %u (%s): giving way to a caller's job", current->id, current->ops->kind);
  if (!current->ops->cancel (current, &error))
    g_debug ("job %u (%s) goes on: %s", current->id, current->ops->kind, error->message);
}

EsimdJobQueue *
esimd_job_queue_new (const EsimdJobQueueHooks *hooks, gpointer user_data, guint max_queued)
{
  EsimdJobQueue *queue = g_new0 (EsimdJobQueue, 1);

  queue->hooks = hooks;
  queue->user_data = user_data;
  queue->max_queued = max_queued;
  g_queue_init (&queue->waiting);
  return queue;
}

void
esimd_job_queue_free (EsimdJobQueue *queue)
{
  if (!queue)
    return;
  g_clear_handle_id (&queue->kick_id, g_source_remove);
  g_queue_clear_full (&queue->waiting, (GDestroyNotify) esimd_job_unref);
  g_free (queue);
}

guint
esimd_job_queue_share (guint max_queued)
{
  return MAX (1, (max_queued + 1) / 2);
}

gboolean
esimd_job_queue_push (EsimdJobQueue *queue, EsimdJob *job, GError **error)
{
  if (g_queue_get_length (&queue->waiting) >= queue->max_queued)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_BUSY,
                   "%u operations are already waiting for this eUICC", queue->max_queued);
      return FALSE;
    }
  /* One user may fill only a share of the queue: whatever it sends, the others (root's
   * downloads, another session's settings panel) still find room. */
  if (job->caller_uid >= 0)
    {
      guint share = esimd_job_queue_share (queue->max_queued), mine = 0;

      for (GList *l = queue->waiting.head; l; l = l->next)
        if (((EsimdJob *) l->data)->caller_uid == job->caller_uid)
          mine++;
      if (mine >= share)
        {
          g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_BUSY,
                       "this user already has %u operations waiting for this eUICC, its share "
                       "of the %u allowed (MaxQueuedJobs)",
                       mine, queue->max_queued);
          return FALSE;
        }
    }
  job->done = on_job_done;
  job->done_data = queue;
  if (!job->internal)
    {
      GList *l = queue->waiting.head;

      /* Ahead of esimd's own background work: it runs once the callers' jobs are done. */
      while (l &&
             !(((EsimdJob *) l->data)->ops->gives_way && !((EsimdJob *) l->data)->ops->keeps_place))
        l = l->next;
      if (l)
        g_queue_insert_before (&queue->waiting, l, esimd_job_ref (job));
      else
        g_queue_push_tail (&queue->waiting, esimd_job_ref (job));
      give_way (queue);
    }
  else
    g_queue_push_tail (&queue->waiting, esimd_job_ref (job));
  kick (queue);
  return TRUE;
}

gboolean
esimd_job_queue_cancel (EsimdJobQueue *queue, EsimdJob *job, GError **error)
{
  if (esimd_job_is_finished (job))
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE, "the job has already %s",
                   esimd_job_state_to_string (job->state));
      return FALSE;
    }
  if (job != queue->current)
    {
      g_autoptr (GError) cancelled =
          g_error_new_literal (LPA_ERROR, LPA_ERROR_CANCELLED, "cancelled before it started");

      if (!g_queue_remove (&queue->waiting, job))
        {
          g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                       "the job is not queued here");
          return FALSE;
        }
      esimd_job_complete (job, cancelled, NULL);
      esimd_job_unref (job);
      return TRUE;
    }
  if (!job->ops->cancel)
    {
      g_set_error (error, ESIMD_ERROR, ESIMD_ERROR_WRONG_JOB_STATE,
                   "a running %s cannot be cancelled", job->ops->kind);
      return FALSE;
    }
  /* Background work that is giving way (its server has the grace to answer) is cancelled all
   * the same: the request in flight is abandoned at once, and it ends as a caller stopped it
   * (esimd's own delivery then waits for each server's back-off, as Job.Cancel says), not as
   * having given way, which would start it again right after the caller's job. */
  job->gave_way = FALSE;
  job->cancel_asked = TRUE;
  return job->ops->cancel (job, error);
}

void
esimd_job_queue_fail_queued (EsimdJobQueue *queue, const GError *error)
{
  EsimdJob *job;

  while ((job = g_queue_pop_head (&queue->waiting)))
    {
      esimd_job_complete (job, error, NULL);
      esimd_job_unref (job);
    }
}

EsimdJob *
esimd_job_queue_current (EsimdJobQueue *queue)
{
  return queue->current;
}

GPtrArray *
esimd_job_queue_jobs (EsimdJobQueue *queue)
{
  GPtrArray *jobs = g_ptr_array_new ();

  if (queue->current)
    g_ptr_array_add (jobs, queue->current);
  for (GList *l = queue->waiting.head; l; l = l->next)
    g_ptr_array_add (jobs, l->data);
  return jobs;
}

guint
esimd_job_queue_length (EsimdJobQueue *queue)
{
  return g_queue_get_length (&queue->waiting) + (queue->current ? 1 : 0);
}

EsimdJob *
esimd_job_queue_find_waiting (EsimdJobQueue *queue, const char *kind)
{
  for (GList *l = queue->waiting.head; l; l = l->next)
    if (g_str_equal (((EsimdJob *) l->data)->ops->kind, kind))
      return l->data;
  return NULL;
}

gboolean
esimd_job_queue_has_kind (EsimdJobQueue *queue, const char *kind)
{
  return esimd_job_queue_find_waiting (queue, kind) != NULL;
}
