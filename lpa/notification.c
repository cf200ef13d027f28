/* notification.c — delivering the eUICC's pending notifications (digest §7), one at a time. */
#include "notification.h"

#include "activation-code.h"
#include "es9p.h"
#include "lpa-error.h"

struct _LpaNotificationDelivery
{
  gboolean abandoned;
  guint32 seq;
  LpaEs10 *es10;
  const LpaHttpOps *http;
  gpointer http_self;
  LpaNotificationDeliveryCallback callback;
  gpointer user_data;
  LpaPendingNotification *notification;
};

const char *
lpa_notification_outcome_name (LpaNotificationOutcome outcome)
{
  switch (outcome)
    {
    case LPA_NOTIFICATION_DELIVERED:
      return "delivered";
    case LPA_NOTIFICATION_FAILED:
      return "failed";
    case LPA_NOTIFICATION_GONE:
      return "gone";
    case LPA_NOTIFICATION_EUICC_FAILED:
      return "euicc-failed";
    case LPA_NOTIFICATION_NOT_REMOVED:
      return "not-removed";
    }
  return "unknown";
}

static LpaNotificationDelivery *
delivery_ref (LpaNotificationDelivery *self)
{
  return g_rc_box_acquire (self);
}

static void
delivery_clear (LpaNotificationDelivery *self)
{
  lpa_es10_unref (self->es10);
  lpa_pending_notification_free (self->notification);
}

static void
delivery_unref (LpaNotificationDelivery *self)
{
  g_rc_box_release_full (self, (GDestroyNotify) delivery_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaNotificationDelivery, delivery_unref)

LpaNotificationDelivery *
lpa_notification_delivery_new (guint32 seq, LpaEs10 *es10, const LpaHttpOps *http,
                               gpointer http_self, LpaNotificationDeliveryCallback callback,
                               gpointer user_data)
{
  LpaNotificationDelivery *self = g_rc_box_new0 (LpaNotificationDelivery);

  self->seq = seq;
  self->es10 = lpa_es10_ref (es10);
  self->http = http;
  self->http_self = http_self;
  self->callback = callback;
  self->user_data = user_data;
  return self;
}

void
lpa_notification_delivery_free (LpaNotificationDelivery *self)
{
  if (self == NULL)
    return;
  self->abandoned = TRUE;
  delivery_unref (self);
}

static void
report (LpaNotificationDelivery *self, LpaNotificationOutcome outcome, const GError *error)
{
  if (!self->abandoned)
    self->callback (self->user_data, self->seq, outcome,
                    self->notification ? self->notification->metadata : NULL, error);
}

static void on_retrieved (GBytes *response, const GError *error, gpointer user_data);
static void post (LpaNotificationDelivery *self);
static void on_delivered (guint status, GBytes *body, const GError *error, gpointer user_data);
static void on_removed (GBytes *response, const GError *error, gpointer user_data);

/* The start of each completion: FALSE when abandoned or the step failed (then reported as
 * @failed: whose step it was). */
static gboolean
step_done (LpaNotificationDelivery *self, const GError *error, LpaNotificationOutcome failed)
{
  if (self->abandoned)
    return FALSE;
  if (error)
    {
      report (self, failed, error);
      return FALSE;
    }
  return TRUE;
}

/* Sends an ES10 request; these are a few bytes, so only a broken invariant makes it fail. */
static void
es10_call (LpaNotificationDelivery *self, GBytes *request, LpaEs10Callback callback)
{
  g_autoptr (GError) error = NULL;

  if (!lpa_es10_call (self->es10, request, callback, delivery_ref (self), &error))
    {
      delivery_unref (self);
      report (self, LPA_NOTIFICATION_EUICC_FAILED, error);
    }
}

LpaNotificationDelivery *
lpa_notification_delivery_new_retrieved (LpaPendingNotification *notification, LpaEs10 *es10,
                                         const LpaHttpOps *http, gpointer http_self,
                                         LpaNotificationDeliveryCallback callback,
                                         gpointer user_data, GError **error)
{
  LpaNotificationDelivery *self;

  if (!lpa_host_name_is_valid (notification->metadata->address))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "notification %u: address is not a host name", notification->metadata->seq);
      lpa_pending_notification_free (notification);
      return NULL;
    }
  self = lpa_notification_delivery_new (notification->metadata->seq, es10, http, http_self,
                                        callback, user_data);
  self->notification = notification;
  return self;
}

static void
post (LpaNotificationDelivery *self)
{
  g_autoptr (GBytes) body = lpa_es9p_handle_notification_request (self->notification->raw);

  self->http->post (self->http_self, self->notification->metadata->address,
                    LPA_ES9P_HANDLE_NOTIFICATION, body, on_delivered, delivery_ref (self));
}

void
lpa_notification_delivery_start (LpaNotificationDelivery *self)
{
  g_autoptr (GBytes) request = NULL;

  if (self->notification)
    {
      post (self);
      return;
    }
  request = lpa_es10b_retrieve_notification_request (self->seq);
  es10_call (self, request, on_retrieved);
}

static void
on_retrieved (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaNotificationDelivery) self = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) list = NULL;

  if (!step_done (self, error, LPA_NOTIFICATION_EUICC_FAILED))
    return;
  if (!(list = lpa_es10b_parse_retrieve_notifications (response, &local)))
    {
      report (self, LPA_NOTIFICATION_EUICC_FAILED, local);
      return;
    }
  for (guint i = 0; i < list->len && !self->notification; i++)
    {
      LpaPendingNotification *n = g_ptr_array_index (list, i);
      if (n->metadata->seq == self->seq)
        self->notification = g_ptr_array_steal_index (list, i);
    }
  if (self->notification == NULL)
    {
      /* An eUICC that ignores the search criterion returns others; this one is gone either way. */
      report (self, LPA_NOTIFICATION_GONE, NULL);
      return;
    }
  if (!lpa_host_name_is_valid (self->notification->metadata->address))
    {
      g_set_error (&local, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "notification %u: address is not a host name", self->seq);
      report (self, LPA_NOTIFICATION_EUICC_FAILED, local);
      return;
    }
  post (self);
}

static void
on_delivered (guint status, GBytes *body, const GError *error, gpointer user_data)
{
  g_autoptr (LpaNotificationDelivery) self = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) request = NULL;

  if (!step_done (self, error, LPA_NOTIFICATION_FAILED))
    return;
  if (!lpa_es9p_parse_handle_notification (status, body, &local))
    {
      report (self, LPA_NOTIFICATION_FAILED, local);
      return;
    }
  request = lpa_es10b_remove_notification_request (self->seq);
  es10_call (self, request, on_removed);
}

static void
on_removed (GBytes *response, const GError *error, gpointer user_data)
{
  g_autoptr (LpaNotificationDelivery) self = user_data;
  g_autoptr (GError) local = NULL;
  gint code = 0;

  if (self->abandoned)
    return;
  if (error)
    {
      local = g_error_copy (error);
      g_prefix_error (&local, "delivered, but not removed: ");
      report (self, LPA_NOTIFICATION_NOT_REMOVED, local);
      return;
    }
  if (!lpa_es10b_parse_remove_notification (response, &code, &local))
    {
      g_prefix_error (&local, "delivered, but not removed: ");
      report (self, LPA_NOTIFICATION_NOT_REMOVED, local);
      return;
    }
  if (code != 0)
    {
      /* nothingToDelete: delivered, but the eUICC did not say it removed it. */
      local = g_error_new (LPA_ERROR, LPA_ERROR_EUICC,
                           "delivered, but the eUICC had nothing to remove (%d)", code);
      report (self, LPA_NOTIFICATION_DELIVERED, local);
      return;
    }
  report (self, LPA_NOTIFICATION_DELIVERED, NULL);
}

typedef struct
{
  LpaNotificationListCallback callback;
  gpointer user_data;
} ListCall;

static void
on_listed (GBytes *response, const GError *error, gpointer user_data)
{
  g_autofree ListCall *call = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) list = NULL;

  if (error)
    {
      call->callback (call->user_data, NULL, error);
      return;
    }
  list = lpa_es10b_parse_list_notification (response, &local);
  call->callback (call->user_data, list, local);
}

void
lpa_notification_list (LpaEs10 *es10, guint events, LpaNotificationListCallback callback,
                       gpointer user_data)
{
  g_autoptr (GBytes) request = lpa_es10b_list_notification_request (events);
  ListCall *call = g_new0 (ListCall, 1);

  call->callback = callback;
  call->user_data = user_data;
  /* ListNotification is at most 6 bytes: always within one STORE DATA block. */
  if (!lpa_es10_call (es10, request, on_listed, call, NULL))
    g_assert_not_reached ();
}

typedef struct
{
  LpaNotificationRetrieveCallback callback;
  gpointer user_data;
} RetrieveCall;

static void
on_retrieved_all (GBytes *response, const GError *error, gpointer user_data)
{
  g_autofree RetrieveCall *call = user_data;
  g_autoptr (GError) local = NULL;
  g_autoptr (GPtrArray) list = NULL;

  if (error)
    {
      call->callback (call->user_data, NULL, error);
      return;
    }
  list = lpa_es10b_parse_retrieve_notifications (response, &local);
  call->callback (call->user_data, list, local);
}

void
lpa_notification_retrieve_all (LpaEs10 *es10, LpaNotificationRetrieveCallback callback,
                               gpointer user_data)
{
  g_autoptr (GBytes) request = lpa_es10b_retrieve_notifications_request ();
  RetrieveCall *call = g_new0 (RetrieveCall, 1);

  call->callback = callback;
  call->user_data = user_data;
  /* BF2B 00: always within one STORE DATA block. */
  if (!lpa_es10_call (es10, request, on_retrieved_all, call, NULL))
    g_assert_not_reached ();
}
