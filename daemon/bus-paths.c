/* bus-paths.c — object paths are the bus's names for the model's objects, made here alone. */
#include "bus-paths.h"

#include "daemon.h"

char *
esimd_bus_euicc_path (EsimdEuicc *euicc)
{
  return g_strdup_printf ("/org/esim/euicc/%u", euicc->index);
}

EsimdEuicc *
esimd_bus_euicc_from_path (const char *path)
{
  for (guint i = 0; esimd && i < esimd->euiccs->len; i++)
    {
      EsimdEuicc *e = esimd->euiccs->pdata[i];
      g_autofree char *p = NULL;

      /* An eUICC whose modem went away keeps its index, but is not on the bus. */
      if (!e->present)
        continue;
      p = esimd_bus_euicc_path (e);
      if (g_str_equal (p, path))
        return e;
    }
  return NULL;
}

char *
esimd_bus_profile_path (EsimdEuicc *euicc, const char *iccid)
{
  return g_strdup_printf ("/org/esim/euicc/%u/profile/%s", euicc->index, iccid);
}

char *
esimd_bus_job_path (EsimdJob *job)
{
  return g_strdup_printf ("/org/esim/job/%u", job->id);
}
