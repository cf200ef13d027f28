/* bus-job.h — org.esim.Job objects at /org/esim/job/N, and the callers of jobs. */
#pragma once

#include <systemd/sd-bus.h>

#include "bus-watch.h"
#include "job.h"

G_BEGIN_DECLS

/* Registers the Job objects and subscribes them to the model's job announcements. */
int esimd_bus_job_init (sd_bus *bus);

/* Makes the sender of @call the caller of @job, before it is submitted. With @answer_at_end
 * the call is answered when the job ends (with its output); otherwise the caller is watched,
 * and leaving the bus is the model's "caller gone". @watch (taken; may be NULL) is a watch on
 * the sender made when @call came, which has seen it leave while polkit was asked. */
void esimd_bus_job_take_call (EsimdJob *job, sd_bus_message *call, gboolean answer_at_end,
                              EsimdBusWatch *watch);

/* The exported (not internal) job at @path, or NULL. */
EsimdJob *esimd_bus_job_lookup (const char *path);

G_END_DECLS
