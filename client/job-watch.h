/* job-watch.h — follows one org.esim.Job through its signals until it ends. */
#pragma once

#include "bus.h"
#include "esimctl.h"

G_BEGIN_DECLS

typedef struct _EsimctlJobWatch EsimctlJobWatch;

/* Called whenever State, Stage, Progress or ProfileMetadata changed. */
typedef void (*EsimctlJobChanged) (EsimctlJobWatch *watch, gpointer user_data);

struct _EsimctlJobWatch
{
  Esimctl *ctl;
  char *path; /* NULL until esimctl_job_watch_start() */

  /* What is known of the job; the strings are never NULL. */
  char *state;
  char *stage;
  double progress;
  GVariant *metadata; /* a{sv}, possibly empty */
  GVariant *result;   /* a{sv}, possibly empty */
  char *error_name;
  char *error_message;
  char *code_refused; /* ConfirmationCodeRefused: the SM-DP+'s answer to the last code, or "" */
  gboolean finished;  /* Finished arrived (or the job was found already over) */
  /* The job entered awaiting-confirmation-code (again): set on each entry, for the caller to
   * clear once it has answered. */
  gboolean code_asked;

  /* Private. */
  gboolean wake;
  gboolean awaiting_seen;
  sd_bus_slot *slots[3];
  EsimctlJobChanged changed;
  gpointer changed_data;
};

/* Subscribes to the signals of jobs (and to DownloadResult of @euicc, if given). Call it
 * before the method that creates the job, so not even a job that ends at once is missed. */
EsimctlJobWatch *esimctl_job_watch_new (Esimctl *ctl, const char *euicc, EsimctlJobChanged changed,
                                        gpointer user_data, GError **error);

/* Follows the job at @path from now on; reads its current properties. */
gboolean esimctl_job_watch_start (EsimctlJobWatch *watch, const char *path, GError **error);

/* Waits until the job ends, or first enters "awaiting-confirmation" (the caller then decides;
 * calling again waits for the end), or @deadline_us, an interrupt or a bus failure. */
EsimctlWait esimctl_job_watch_wait (EsimctlJobWatch *watch, gint64 deadline_us, GError **error);

/* After the end: reads the job's final Result and Error (the object lingers a while), and
 * returns TRUE if it succeeded, else FALSE with the job's error ("cancelled" gives
 * org.esim.Error.Cancelled). */
gboolean esimctl_job_watch_outcome (EsimctlJobWatch *watch, GError **error);

void esimctl_job_watch_free (EsimctlJobWatch *watch);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimctlJobWatch, esimctl_job_watch_free)

/* TRUE for "succeeded", "failed" and "cancelled". */
gboolean esimctl_job_state_is_final (const char *state);

G_END_DECLS
