/* observer.c — the observers of the eUICC model and the announcements made to them. */
#include "observer.h"

typedef struct
{
  const EsimdObserver *ops;
  gpointer data;
} Registered;

static GArray *observers; /* Registered */

void
esimd_observer_add (const EsimdObserver *observer, gpointer data)
{
  Registered r = { observer, data };

  if (!observers)
    observers = g_array_new (FALSE, FALSE, sizeof (Registered));
  g_array_append_val (observers, r);
}

void
esimd_observer_remove (const EsimdObserver *observer, gpointer data)
{
  for (guint i = 0; observers && i < observers->len; i++)
    {
      Registered *r = &g_array_index (observers, Registered, i);

      if (r->ops == observer && r->data == data)
        {
          g_array_remove_index (observers, i);
          break;
        }
    }
  if (observers && observers->len == 0)
    g_clear_pointer (&observers, g_array_unref);
}

/* Calls @member of every observer that has it. An observer must not add or remove observers
 * from inside a callback, so the array is stable during the walk. */
#define ANNOUNCE(member, ...)                                                                      \
  G_STMT_START                                                                                     \
  {                                                                                                \
    for (guint i_ = 0; observers && i_ < observers->len; i_++)                                     \
      {                                                                                            \
        Registered *r_ = &g_array_index (observers, Registered, i_);                               \
                                                                                                   \
        if (r_->ops->member)                                                                       \
          r_->ops->member (r_->data, __VA_ARGS__);                                                 \
      }                                                                                            \
  }                                                                                                \
  G_STMT_END

void
esimd_announce_euicc_added (EsimdEuicc *euicc)
{
  ANNOUNCE (euicc_added, euicc);
}

void
esimd_announce_euicc_removed (EsimdEuicc *euicc)
{
  ANNOUNCE (euicc_removed, euicc);
}

void
esimd_announce_euicc_changed (EsimdEuicc *euicc, EsimdEuiccChange what)
{
  ANNOUNCE (euicc_changed, euicc, what);
}

void
esimd_announce_profiles_changed (EsimdEuicc *euicc, GPtrArray *old)
{
  ANNOUNCE (profiles_changed, euicc, old);
}

void
esimd_announce_notification_pending (EsimdEuicc *euicc, const LpaNotificationMetadata *notification)
{
  ANNOUNCE (notification_pending, euicc, notification);
}

void
esimd_announce_job_added (EsimdJob *job)
{
  ANNOUNCE (job_added, job);
}

void
esimd_announce_job_changed (EsimdJob *job, EsimdJobChange what)
{
  ANNOUNCE (job_changed, job, what);
}

void
esimd_announce_download_result (EsimdJob *job, const char *iccid, const GError *error)
{
  ANNOUNCE (download_result, job, iccid, error);
}

void
esimd_announce_job_finished (EsimdJob *job)
{
  ANNOUNCE (job_finished, job);
}
