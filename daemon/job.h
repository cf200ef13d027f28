/* job.h — one queued or running eUICC operation: its state, progress, outcome and caller. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

typedef enum
{
  ESIMD_JOB_QUEUED,
  ESIMD_JOB_RUNNING,
  ESIMD_JOB_AWAITING_CONFIRMATION,
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
  guint reads;            /* EsimdRead bits the job may change: read again after it */
  void (*run) (EsimdJob *job);
  /* A running job is asked to stop; FALSE (with @error) if it cannot stop now. */
  gboolean (*cancel) (EsimdJob *job, GError **error);
  /* The caller lets an awaiting-confirmation job go on. */
  gboolean (*confirm) (EsimdJob *job, GError **error);
  /* The outcome has just been published (Finished emitted): kind-specific signals. */
  void (*published) (EsimdJob *job);
  void (*free_data) (gpointer data);
} EsimdJobOps;

/* Called when the job has finished (state already final, Finished already emitted). */
typedef void (*EsimdJobDoneFunc) (EsimdJob *job, gpointer user_data);

struct _EsimdJob
{
  gint ref_count;
  guint id;
  char *path;
  const EsimdJobOps *ops;
  gpointer data;
  EsimdEuicc *euicc;

  EsimdJobState state;
  gboolean completed; /* the outcome is known (it is published once the cache is read back) */
  char *stage;
  double progress;
  GVariant *metadata; /* a{sv} */
  GError *error;
  GVariant *result;  /* a{sv} */
  gboolean internal; /* started by esimd itself: no caller, no Job object on the bus */
  gint64 caller_uid; /* the caller's user ID, whose share of the queue it takes; -1: esimd's */

  sd_bus_message *request; /* the method call to answer when the job ends, if any */
  char *owner;             /* unique bus name of the caller that created it */
  gboolean owner_gone;     /* that caller left the bus */
  sd_bus_track *track;     /* notices the owner leaving the bus */

  /* Appends the successful reply's out arguments to the method call's reply (NULL: none). */
  int (*reply) (EsimdJob *job, sd_bus_message *reply);

  EsimdJobDoneFunc done;
  gpointer done_data;
  guint linger_id;
};

EsimdJob *esimd_job_new (EsimdEuicc *euicc, const EsimdJobOps *ops, gpointer data);
EsimdJob *esimd_job_ref (EsimdJob *job);
void esimd_job_unref (EsimdJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdJob, esimd_job_unref)

const char *esimd_job_state_to_string (EsimdJobState state);
gboolean esimd_job_is_finished (EsimdJob *job);

/* Changes that clients see (PropertiesChanged on the Job object). */
void esimd_job_set_state (EsimdJob *job, EsimdJobState state);
void esimd_job_set_stage (EsimdJob *job, const char *stage, double progress);
void esimd_job_set_metadata (EsimdJob *job, GVariant *metadata);

/* Ends the job: succeeded with @result (a{sv}, may be NULL) when @error is NULL, cancelled
 * when @error is LPA_ERROR_CANCELLED, failed otherwise. The outcome is kept until the queue has
 * read back what the job changed, then published, so a client that hears of the end and reads
 * right away sees the new state. */
void esimd_job_complete (EsimdJob *job, const GError *error, GVariant *result);

/* Makes the outcome visible: final State, Finished, the method call's reply. */
void esimd_job_publish (EsimdJob *job);

G_END_DECLS
