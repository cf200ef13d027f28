/* bus-manager.h — org.esim.Manager objects at /org/esim/euicc/N and the signals they emit. */
#pragma once

#include <systemd/sd-bus.h>

#include "euicc.h"

G_BEGIN_DECLS

/* Registers the Manager (and Profile) objects and subscribes them to the model's eUICC
 * announcements. */
int esimd_bus_manager_init (sd_bus *bus);
/* Answers the calls the manager still holds ("esimd is stopping"), before the bus goes. */
void esimd_bus_manager_stop (void);

/* PropertiesChanged on the eUICC's Manager object. */
void esimd_bus_manager_changed_strv (EsimdEuicc *euicc, const char **properties);
#define esimd_bus_manager_changed(euicc, ...)                                                      \
  esimd_bus_manager_changed_strv ((euicc), (const char *[]){ __VA_ARGS__, NULL })

/* Common to the Manager's and the Profiles' methods: checks @action with polkit for the
 * sender of @m, then queues @job on @euicc. The method is answered when the job ends (with
 * the job's output, ops->output); with @reply_now, at once with the job's path. Takes @job. */
int esimd_bus_run_job (sd_bus_message *m, EsimdEuicc *euicc, EsimdJob *job, const char *action,
                       gboolean reply_now);

/* Reads an a{sv} argument and checks its keys against @allowed ("key:type" strings, e.g.
 * "enable:b"). Unknown keys or wrong types fail with InvalidArgs. */
int esimd_bus_read_options (sd_bus_message *m, const char *const *allowed, GVariant **out,
                            sd_bus_error *error);

G_END_DECLS
