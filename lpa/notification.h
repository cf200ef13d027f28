/* notification.h — delivering the eUICC's pending notifications (digest §7), one at a time. */
#pragma once

#include <glib.h>

#include "apdu.h"
#include "es10b.h"
#include "transport.h"

G_BEGIN_DECLS

typedef enum
{
  LPA_NOTIFICATION_DELIVERED, /* the server accepted it and the eUICC removed it */
  LPA_NOTIFICATION_FAILED,    /* the server did not take it (HTTP, ES9+): kept on the eUICC */
  LPA_NOTIFICATION_GONE,      /* the eUICC has no notification with this sequence number */
  /* The eUICC did not give the notification (RetrieveNotificationsList answered with a status
   * word, an error, bytes that do not decode, an address that is no host name, or the modem
   * failed): no server was asked. Kept on the eUICC; no server is at fault. */
  LPA_NOTIFICATION_EUICC_FAILED,
  /* The server accepted it, the eUICC did not remove it (RemoveNotificationFromList failed):
   * kept on the eUICC, delivering it again is harmless; the server is not at fault. */
  LPA_NOTIFICATION_NOT_REMOVED,
} LpaNotificationOutcome;

const char *lpa_notification_outcome_name (LpaNotificationOutcome outcome);

/* @metadata: of the notification (NULL when GONE, or when it could not be retrieved). @error: set
 * for FAILED — the HTTP or server error; for EUICC_FAILED — the retrieval's error; for
 * NOT_REMOVED — the RemoveNotificationFromList error; and for DELIVERED when the
 * eUICC answered the removal with nothingToDelete (the server has it; whether the card still
 * lists it is for a read of the list to say). Called exactly once, never
 * from inside an lpa_notification_* call; data only borrowed. */
typedef void (*LpaNotificationDeliveryCallback) (gpointer user_data, guint32 seq,
                                                 LpaNotificationOutcome outcome,
                                                 const LpaNotificationMetadata *metadata,
                                                 const GError *error);

typedef struct _LpaNotificationDelivery LpaNotificationDelivery;

/* RetrieveNotificationsList(@seq) → POST handleNotification to the notification's address →
 * RemoveNotificationFromList(@seq) after a 2xx only. */
LpaNotificationDelivery *lpa_notification_delivery_new (guint32 seq, LpaEs10 *es10,
                                                        const LpaHttpOps *http, gpointer http_self,
                                                        LpaNotificationDeliveryCallback callback,
                                                        gpointer user_data);
/* The same for a notification already retrieved (lpa_notification_retrieve_all), which it
 * takes: POST → RemoveNotificationFromList, no retrieval of its own. NULL (with
 * LPA_ERROR_MALFORMED) when its address is not a host name; @notification is freed then too. */
LpaNotificationDelivery *lpa_notification_delivery_new_retrieved (
    LpaPendingNotification *notification, LpaEs10 *es10, const LpaHttpOps *http, gpointer http_self,
    LpaNotificationDeliveryCallback callback, gpointer user_data, GError **error);
void lpa_notification_delivery_start (LpaNotificationDelivery *self);
/* Drops the caller's reference; no callback afterwards. */
void lpa_notification_delivery_free (LpaNotificationDelivery *self);

/* ListNotification (@events: LpaNotificationEvent bits, 0 = all) → @callback with a GPtrArray of
 * LpaNotificationMetadata (borrowed), or an error. Exactly once, never from inside this call. */
typedef void (*LpaNotificationListCallback) (gpointer user_data, GPtrArray *notifications,
                                             const GError *error);
void lpa_notification_list (LpaEs10 *es10, guint events, LpaNotificationListCallback callback,
                            gpointer user_data);

/* RetrieveNotificationsList of every pending notification: one command for a batch of
 * deliveries → @callback with a GPtrArray of LpaPendingNotification (the callee's: it may steal
 * them), or an error. Exactly once, never from inside this call. */
typedef void (*LpaNotificationRetrieveCallback) (gpointer user_data, GPtrArray *notifications,
                                                 const GError *error);
void lpa_notification_retrieve_all (LpaEs10 *es10, LpaNotificationRetrieveCallback callback,
                                    gpointer user_data);

G_END_DECLS
