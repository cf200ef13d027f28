/* bus-job.h — org.esim.Job objects at /org/esim/job/N. */
#pragma once

#include "job.h"

G_BEGIN_DECLS

int esimd_bus_job_init (sd_bus *bus);

/* Puts the job on the bus (InterfacesAdded). Internal jobs are never exported. */
void esimd_bus_job_export (EsimdJob *job);

void esimd_bus_job_changed_strv (EsimdJob *job, const char **properties);
#define esimd_bus_job_changed(job, ...)                                                            \
  esimd_bus_job_changed_strv ((job), (const char *[]){ __VA_ARGS__, NULL })

/* The job reached its final state: publishes it, emits Finished, answers the method call that
 * created it (if any), and removes the object after the linger time. */
void esimd_bus_job_finished (EsimdJob *job);

EsimdJob *esimd_bus_job_lookup (const char *path);

G_END_DECLS
