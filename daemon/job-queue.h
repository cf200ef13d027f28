/* job-queue.h — one FIFO of jobs per eUICC: one job at a time holds the card. */
#pragma once

#include "job.h"

G_BEGIN_DECLS

typedef struct _EsimdJobQueue EsimdJobQueue;

typedef void (*EsimdQueueStepDone) (EsimdJob *job, const GError *error);

typedef struct
{
  /* Before a job runs: open the logical channel etc. Calls @done (error = job fails). */
  void (*begin) (EsimdJob *job, EsimdQueueStepDone done);
  /* After a job ended: refresh caches, close the channel, queue notification delivery.
   * Calls @done (error ignored) when the next job may start. */
  void (*end) (EsimdJob *job, EsimdQueueStepDone done);
  /* The running job changed (NULL = idle). */
  void (*current_changed) (gpointer user_data, EsimdJob *current);
} EsimdJobQueueHooks;

EsimdJobQueue *esimd_job_queue_new (const EsimdJobQueueHooks *hooks, gpointer user_data,
                                    guint max_queued);
void esimd_job_queue_free (EsimdJobQueue *queue);

/* Takes a reference. Fails with ESIMD_ERROR_BUSY when the queue is full, or when the job's
 * caller (job->caller_uid) already has its share of the queue waiting. A caller's job (not
 * internal) goes before waiting jobs that give way (ops->gives_way), and asks a running one to
 * stop. */
gboolean esimd_job_queue_push (EsimdJobQueue *queue, EsimdJob *job, GError **error);

/* How many jobs of one user may wait at once in a queue of @max_queued: half of it. */
guint esimd_job_queue_share (guint max_queued);

/* A queued job is removed and ends cancelled; a running one is asked to stop (its ops decide). */
gboolean esimd_job_queue_cancel (EsimdJobQueue *queue, EsimdJob *job, GError **error);

/* Every queued (not running) job ends with @error: the eUICC went away. */
void esimd_job_queue_fail_queued (EsimdJobQueue *queue, const GError *error);

EsimdJob *esimd_job_queue_current (EsimdJobQueue *queue);
/* The running job (if any), then the waiting ones in the order they will run; borrowed. */
GPtrArray *esimd_job_queue_jobs (EsimdJobQueue *queue);
guint esimd_job_queue_length (EsimdJobQueue *queue);
gboolean esimd_job_queue_has_kind (EsimdJobQueue *queue, const char *kind);
/* The first waiting (not running) job of @kind, or NULL. */
EsimdJob *esimd_job_queue_find_waiting (EsimdJobQueue *queue, const char *kind);

G_END_DECLS
