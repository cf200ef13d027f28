/* job-notify.h — delivering pending notifications (handleNotification), and their filters. */
#pragma once

#include "euicc.h"

G_BEGIN_DECLS

/* Keys ListNotifications and SendNotifications accept ("key:type"). */
extern const char *const esimd_notification_filter_keys[];

/* Checks the filter's values (operation name, ICCID): LPA_ERROR_INVALID_ARGUMENT if wrong. An
 * ICCID given in another form than the listed one (lpa_iccid_canonical()) is replaced in
 * *@filter by the listed form, so that matching compares like with like. */
gboolean esimd_notification_filter_check (GVariant **filter, GError **error);
gboolean esimd_notification_matches (const LpaNotificationMetadata *n, GVariant *filter);

/* Delivers the pending notifications @filter selects (NULL: all), in sequence order, each
 * removed from the eUICC only after its server accepted it. @automatic: started by esimd after
 * an operation or on a retry; failures then schedule the next retry with back-off. */
EsimdJob *esimd_job_notify_new (EsimdEuicc *euicc, GVariant *filter, gboolean automatic);

G_END_DECLS
