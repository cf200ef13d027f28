/* observer.h — how the eUICC model announces what changed: the one way news leaves the model.
 *
 * The model (euicc*.c, job*.c) never calls a front-end. Every change a client could see is
 * announced here, synchronously, in the model's own types, to every observer registered: the
 * D-Bus layer (bus-*.c) is one, a unit test's recorder another, another IPC could be a third.
 * An observer reads the model's state from the objects it is handed (the state is already
 * updated when the announcement comes) and must not start or end work from inside a callback.
 *
 * Order guarantees, which front-ends rely on:
 *   - a job's end (job_finished) comes after the cache updates the job caused (the queue reads
 *     back what it changed first), so a client that hears of the end and reads sees the new state;
 *     except what the outcome does not need: the notifications an enable, disable or delete made
 *     and the free memory after a delete are read after its end, and announced as they come
 *     (euicc_changed, notification_pending);
 *   - a download's download_result comes right before its job_finished: the end is the last word;
 *   - job_added comes before any other announcement about that job.
 */
#pragma once

#include <glib.h>

#include "job.h"
#include "es10b.h" /* liblpa: LpaNotificationMetadata */

G_BEGIN_DECLS

/* What changed on an eUICC (bits; several may change at once). */
typedef enum
{
  ESIMD_EUICC_CHANGE_STATE = 1 << 0,              /* esimd_euicc_state() */
  ESIMD_EUICC_CHANGE_UNAVAILABLE_REASON = 1 << 1, /* available, unavailable_reason */
  ESIMD_EUICC_CHANGE_CURRENT_JOB = 1 << 2,        /* esimd_job_queue_current() */
  ESIMD_EUICC_CHANGE_EID = 1 << 3,                /* eid */
  ESIMD_EUICC_CHANGE_INFO = 1 << 4,               /* info2: spec version, free memory */
  ESIMD_EUICC_CHANGE_ADDRESSES = 1 << 5,          /* default_smdp, root_smds */
  ESIMD_EUICC_CHANGE_NOTIFICATIONS = 1 << 6,      /* notifications: how many are pending, or
                                                   * that it is unknown */
  ESIMD_EUICC_CHANGE_SEGMENT_SIZE = 1 << 7,       /* segment_size */
  ESIMD_EUICC_CHANGE_READ_ERRORS = 1 << 8,        /* esimd_euicc_read_error() of some part */
  ESIMD_EUICC_CHANGE_MODEM = 1 << 9,    /* config (another port), mm_path, slot, active_slot */
  ESIMD_EUICC_CHANGE_SETTLED = 1 << 10, /* settling is back to 0: what a job's outcome left to
                                         * read after it was published is read */
} EsimdEuiccChange;

/* What changed on a job (bits). */
typedef enum
{
  ESIMD_JOB_CHANGE_STATE = 1 << 0,
  ESIMD_JOB_CHANGE_STAGE = 1 << 1,
  ESIMD_JOB_CHANGE_PROGRESS = 1 << 2,
  ESIMD_JOB_CHANGE_METADATA = 1 << 3,
  ESIMD_JOB_CHANGE_CONFIRMATION_CODE_REFUSED = 1 << 4,
} EsimdJobChange;

/* Any member may be NULL. @data is what the observer was registered with. */
typedef struct
{
  /* The eUICC exists and is being connected (esimd_euicc_start), or discovery found it (again). */
  void (*euicc_added) (gpointer data, EsimdEuicc *euicc);
  /* Its modem went away (discovery): the eUICC is not to be shown until it is added again, with
   * the same index. Announced while euicc->present is still TRUE. */
  void (*euicc_removed) (gpointer data, EsimdEuicc *euicc);
  void (*euicc_changed) (gpointer data, EsimdEuicc *euicc, EsimdEuiccChange what);
  /* The profile list was read again: euicc->profiles is the new list, @old the one before
   * (NULL the first time). Announced whether or not anything differs. */
  void (*profiles_changed) (gpointer data, EsimdEuicc *euicc, GPtrArray *old);
  /* A notification is pending that was not announced before (delete notifications first). */
  void (*notification_pending) (gpointer data, EsimdEuicc *euicc,
                                const LpaNotificationMetadata *notification);

  /* A job was queued (internal ones too: job->internal says so). */
  void (*job_added) (gpointer data, EsimdJob *job);
  void (*job_changed) (gpointer data, EsimdJob *job, EsimdJobChange what);
  /* A download ended: @iccid the profile (NULL if none was named), @error NULL on success.
   * Right before that job's job_finished. */
  void (*download_result) (gpointer data, EsimdJob *job, const char *iccid, const GError *error);
  /* The job's outcome is final (state, error, result, esimd_job_get_output()): the last
   * announcement about it. */
  void (*job_finished) (gpointer data, EsimdJob *job);
} EsimdObserver;

/* Registers @observer (static storage) with @data; announcements go to observers in the order
 * they were added. */
void esimd_observer_add (const EsimdObserver *observer, gpointer data);
void esimd_observer_remove (const EsimdObserver *observer, gpointer data);

/* For the model only: announce to every observer. */
void esimd_announce_euicc_added (EsimdEuicc *euicc);
void esimd_announce_euicc_removed (EsimdEuicc *euicc);
void esimd_announce_euicc_changed (EsimdEuicc *euicc, EsimdEuiccChange what);
void esimd_announce_profiles_changed (EsimdEuicc *euicc, GPtrArray *old);
void esimd_announce_notification_pending (EsimdEuicc *euicc,
                                          const LpaNotificationMetadata *notification);
void esimd_announce_job_added (EsimdJob *job);
void esimd_announce_job_changed (EsimdJob *job, EsimdJobChange what);
void esimd_announce_download_result (EsimdJob *job, const char *iccid, const GError *error);
void esimd_announce_job_finished (EsimdJob *job);

G_END_DECLS
