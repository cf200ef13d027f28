/* bus-manager.h — org.esim.Manager objects at /org/esim/euicc/N and the signals they emit. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

int esimd_bus_manager_init (sd_bus *bus);

/* The eUICC's object appeared (InterfacesAdded). */
void esimd_bus_manager_added (EsimdEuicc *euicc);

void esimd_bus_manager_changed_strv (EsimdEuicc *euicc, const char **properties);
#define esimd_bus_manager_changed(euicc, ...)                                                      \
  esimd_bus_manager_changed_strv ((euicc), (const char *[]){ __VA_ARGS__, NULL })

void esimd_bus_emit_notification_pending (EsimdEuicc *euicc, const LpaNotificationMetadata *n);
/* @error NULL: success. */
void esimd_bus_emit_download_result (EsimdEuicc *euicc, EsimdJob *job, const char *iccid,
                                     const GError *error);

/* A profile (or profile metadata) as the a{sv} ListProfiles and ProfileMetadata carry. */
GVariant *esimd_profile_to_variant (EsimdEuicc *euicc, const LpaProfileInfo *p);

/* Common to the Manager's and the Profiles' methods: checks @action with polkit for the
 * sender of @m, then queues @job on @euicc. The method is answered when the job ends (with
 * @job->reply's out arguments); with @reply_now, at once with the job's path. Takes @job. */
int esimd_bus_run_job (sd_bus_message *m, EsimdEuicc *euicc, EsimdJob *job, const char *action,
                       gboolean reply_now);

/* @job has ended: answers the Refresh calls that joined it (it was waiting when they came). */
void esimd_bus_manager_job_finished (EsimdJob *job);

/* Reads an a{sv} argument and checks its keys against @allowed ("key:type" strings, e.g.
 * "enable:b"). Unknown keys or wrong types fail with InvalidArgs. */
int esimd_bus_read_options (sd_bus_message *m, const char *const *allowed, GVariant **out,
                            sd_bus_error *error);

G_END_DECLS
