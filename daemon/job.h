/* job.h — one queued or running eUICC operation: its state, progress, outcome and caller. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  ESIMD_JOB_QUEUED,
  ESIMD_JOB_RUNNING,
  ESIMD_JOB_AWAITING_CONFIRMATION,
  ESIMD_JOB_AWAITING_CONFIRMATION_CODE,
  ESIMD_JOB_SUCCEEDED,
  ESIMD_JOB_FAILED,
  ESIMD_JOB_CANCELLED,
} EsimdJobState;

typedef struct _EsimdJob EsimdJob;
typedef struct _EsimdEuicc EsimdEuicc;

/* What a kind of job does. run() is called with the eUICC's logical channel open and must end
 * with esimd_job_complete(), exactly once, from any later point. */
typedef struct
{
  const char *kind;
  const char *action;     /* polkit action that starting (and confirming, cancelling) needs */
  gboolean needs_channel; /* FALSE for jobs that only talk to servers or the modem */
  /* esimd's own background work (automatic notification delivery): a caller's job queued while
   * it waits goes before it, and one queued while it runs asks it to stop (cancel, with
   * gave_way set) so that no caller waits for a slow server on esimd's behalf. */
  gboolean gives_way;
  /* With gives_way: callers' jobs queued while it waits do not pass it (what it clears up must
   * come first: a caller's download would replace the eUICC session it is to cancel); it gives
   * way only once it runs. */
  gboolean keeps_place;
  guint reads; /* EsimdRead bits the job may change: read again after it */
  void (*run) (EsimdJob *job);
  /* A running job is asked to stop; FALSE (with @error) if it cannot stop now. */
  gboolean (*cancel) (EsimdJob *job, GError **error);
  /* The caller lets an awaiting-confirmation job go on. */
  gboolean (*confirm) (EsimdJob *job, GError **error);
  /* The caller gives the confirmation code an awaiting-confirmation-code job asks for. */
  gboolean (*supply_confirmation_code) (EsimdJob *job, const char *code, GError **error);
  /* The modem came back after it was lost while this job held the queue (its channel is gone:
   * esimd_euicc_reopen_channel). Called from the availability change: start nothing from inside
   * it, schedule it. Optional. */
  void (*modem_returned) (EsimdJob *job);
  /* The outcome is final and about to be announced: kind-specific announcements (a download's
   * result) go out here, before the job's end. */
  void (*announce_outcome) (EsimdJob *job);
  /* What a successful job returns to its caller, as a tuple of values (NULL: nothing). */
  GVariant *(*output) (EsimdJob *job);
  void (*free_data) (gpointer data);
} EsimdJobOps;

/* How long a job that gives way may still wait for a server's answer in flight when a caller's
 * job is queued: a server that answers is done well within it (abandoning its request would
 * make the job send it again later), one that accepted the connection and says nothing holds
 * the caller no longer than this. */
#define ESIMD_GIVE_WAY_GRACE 5 /* seconds */

/* Called when the job has completed (see esimd_job_complete). */
typedef void (*EsimdJobDoneFunc) (EsimdJob *job, gpointer user_data);

struct _EsimdJob
{
  gint ref_count;
  guint id; /* unique for esimd's life, from 1 */
  const EsimdJobOps *ops;
  gpointer data;
  EsimdEuicc *euicc;

  EsimdJobState state;
  gboolean completed; /* the outcome is known (it is published once the cache is read back) */
  gboolean published; /* the outcome was announced (esimd_job_publish) */
  char *stage;
  double progress;
  GVariant *metadata; /* a{sv} */
  /* The SM-DP+'s refusal of the last confirmation code given (its message, with SGP.22's
   * subject and reason codes), NULL while none was refused. */
  char *confirmation_code_refused;
  GError *error;
  GVariant *result;      /* a{sv} */
  gboolean internal;     /* started by esimd itself: no caller (clients see it, without one) */
  gboolean gave_way;     /* asked to stop for a caller's job (ops->gives_way), not by a caller */
  gboolean cancel_asked; /* a caller asked it to stop (esimd_job_queue_cancel) */
  guint grace_id;        /* giving way: the server's request in flight is abandoned when it fires */
  gint64 caller_uid;     /* the caller's user ID, whose share of the queue it takes; -1: esimd's */

  /* Who asked for it, as the front-end that took the request knows it (the D-Bus layer: the
   * caller's name, the call to answer, its tracking). Opaque to the model; freed with the job. */
  gpointer caller;
  GDestroyNotify caller_free;
  gboolean caller_gone; /* the caller went away (esimd_euicc_caller_gone) */
  gboolean detached;    /* goes on when its caller goes away (a download's "detach" option) */

  EsimdJobDoneFunc done;
  gpointer done_data;
};

EsimdJob *esimd_job_new (EsimdEuicc *euicc, const EsimdJobOps *ops, gpointer data);
EsimdJob *esimd_job_ref (EsimdJob *job);
void esimd_job_unref (EsimdJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdJob, esimd_job_unref)

const char *esimd_job_state_to_string (EsimdJobState state);
gboolean esimd_job_is_finished (EsimdJob *job);

/* Sets the front-end's record of the caller (see caller above); takes @caller. */
void esimd_job_set_caller (EsimdJob *job, gpointer caller, GDestroyNotify caller_free);

/* What the finished job returns to its caller (ops->output): a tuple (unref it), or NULL. */
GVariant *esimd_job_get_output (EsimdJob *job);

/* Changes that clients see, each announced (observer.h). */
void esimd_job_set_state (EsimdJob *job, EsimdJobState state);
void esimd_job_set_confirmation_code_refused (EsimdJob *job, const char *message);
void esimd_job_set_stage (EsimdJob *job, const char *stage, double progress);
void esimd_job_set_metadata (EsimdJob *job, GVariant *metadata);

/* Ends the job: succeeded with @result (a{sv}, may be NULL) when @error is NULL, cancelled
 * when @error is LPA_ERROR_CANCELLED, failed otherwise. The outcome is kept until the queue has
 * read back what the job changed and the outcome needs, then published, so a client that hears
 * of the end and reads right away sees the new state (see observer.h for what may follow). */
void esimd_job_complete (EsimdJob *job, const GError *error, GVariant *result);

/* A job's ops->cancel, when a request of @what (its ES9+ function) to @server is in flight: a
 * caller's cancel abandons it at once; a job that gives way (gave_way) lets the server answer
 * within ESIMD_GIVE_WAY_GRACE first, then abandons it. Either way the request ends with
 * LPA_ERROR_CANCELLED unless it is answered, and the job stops at its next safe point as its
 * own code decides. Giving way once the grace runs changes nothing. */
void esimd_job_stop_request (EsimdJob *job, const char *what, const char *server);

/* The request in flight is answered (or abandoned): no grace runs for it any more. */
void esimd_job_request_ended (EsimdJob *job);

/* Makes the outcome final and announces it: the kind's own announcements, then the job's end.
 * Once: the queue may publish a job before its end hook is done (euicc-queue.c). */
void esimd_job_publish (EsimdJob *job);

G_END_DECLS
