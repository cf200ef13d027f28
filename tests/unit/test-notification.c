/* test-notification.c — notification delivery and listing against a scripted eUICC and server. */
#include "procedure-world.h"

typedef struct
{
  World world;
  LpaNotificationDelivery *delivery;
  gboolean done;
  guint32 seq;
  LpaNotificationOutcome outcome;
  char *address;
  GError *error;
} Run;

static void
on_outcome (gpointer user_data, guint32 seq, LpaNotificationOutcome outcome,
            const LpaNotificationMetadata *metadata, const GError *error)
{
  Run *r = user_data;

  g_assert_false (r->done);
  r->done = TRUE;
  r->seq = seq;
  r->outcome = outcome;
  r->address = metadata ? g_strdup (metadata->address) : NULL;
  if (error)
    r->error = g_error_copy (error);
  /* FAILED, EUICC_FAILED and NOT_REMOVED always say why; DELIVERED may say what the eUICC
   * answered the removal with. */
  g_assert_true (outcome == LPA_NOTIFICATION_DELIVERED || outcome == LPA_NOTIFICATION_GONE ||
                 error != NULL);
  g_assert_true (outcome != LPA_NOTIFICATION_GONE || error == NULL);
  g_clear_pointer (&r->delivery, lpa_notification_delivery_free);
}

static void
deliver (Run *r, Fault fault, guint32 seq)
{
  memset (r, 0, sizeof *r);
  world_init (&r->world, fault);
  r->delivery = lpa_notification_delivery_new (seq, r->world.es10, &unit_http_ops, &r->world.http,
                                               on_outcome, r);
  lpa_notification_delivery_start (r->delivery);
  g_assert_false (r->done);
  unit_pump ();
  g_assert_true (r->done);
  g_assert_cmpuint (r->seq, ==, seq);
}

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->delivery, lpa_notification_delivery_free);
  world_clear (&r->world);
  g_free (r->address);
  g_clear_error (&r->error);
}

static void
test_delivered (void)
{
  Run r;
  UnitHttpRequest *request;

  /* The PIR goes to the SM-DP+ that ran the download… */
  deliver (&r, F_NONE, 3);
  g_assert_cmpint (r.outcome, ==, LPA_NOTIFICATION_DELIVERED);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2B BF30");
  g_assert_cmpstr (r.world.http_log->str, ==, "handleNotification");
  request = g_ptr_array_index (r.world.http.requests, 0);
  g_assert_cmpstr (request->host, ==, WORLD_ADDRESS);
  g_assert_cmpstr (r.address, ==, WORLD_ADDRESS);
  run_clear (&r);

  /* …an enable notification to the address in its own metadata; seq 0 is a real one. */
  deliver (&r, F_NONE, 0);
  g_assert_cmpint (r.outcome, ==, LPA_NOTIFICATION_DELIVERED);
  request = g_ptr_array_index (r.world.http.requests, 0);
  g_assert_cmpstr (request->host, ==, "op.example.com");
  run_clear (&r);

  /* nothingToDelete after delivery: delivered, and the answer said, so that the caller reads
   * the list again instead of assuming the card removed it (fault matrix, euicc BF30=1). */
  deliver (&r, F_REMOVE_NOTHING, 3);
  g_assert_cmpint (r.outcome, ==, LPA_NOTIFICATION_DELIVERED);
  g_assert_nonnull (r.error);
  g_assert_nonnull (strstr (r.error->message, "nothing to remove"));
  run_clear (&r);
}

static void
test_gone (void)
{
  Run r;

  deliver (&r, F_NONE, 7);
  g_assert_cmpint (r.outcome, ==, LPA_NOTIFICATION_GONE);
  g_assert_null (r.address);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2B");
  g_assert_cmpstr (r.world.http_log->str, ==, "");
  run_clear (&r);

  /* An eUICC that answers with another notification: this one is not there. */
  deliver (&r, F_RETRIEVE_OTHER_SEQ, 3);
  g_assert_cmpint (r.outcome, ==, LPA_NOTIFICATION_GONE);
  g_assert_cmpstr (r.world.http_log->str, ==, "");
  run_clear (&r);
}

static void
test_failed (void)
{
  static const struct
  {
    Fault fault;
    LpaNotificationOutcome outcome; /* whose part failed: the card's is never the server's */
    const char *es10;
    const char *http;
    LpaError code;
    const char *fragment;
  } cases[] = {
    /* The eUICC did not give it: no server asked. */
    { F_RETRIEVE_TRANSPORT, LPA_NOTIFICATION_EUICC_FAILED, "BF2B", "", LPA_ERROR_TRANSPORT, NULL },
    { F_RETRIEVE_ERROR, LPA_NOTIFICATION_EUICC_FAILED, "BF2B", "", LPA_ERROR_EUICC,
      "RetrieveNotificationsList: undefinedError" },
    /* Not accepted by the server: kept on the eUICC (no RemoveNotificationFromList). */
    { F_NOTIFY_NETWORK, LPA_NOTIFICATION_FAILED, "BF2B", "handleNotification", LPA_ERROR_NETWORK,
      NULL },
    { F_NOTIFY_HTTP_500, LPA_NOTIFICATION_FAILED, "BF2B", "handleNotification", LPA_ERROR_HTTP,
      "HTTP 500" },
    { F_NOTIFY_FAILED, LPA_NOTIFICATION_FAILED, "BF2B", "handleNotification",
      LPA_ERROR_SERVER_REJECTED, "8.1" },
    /* Accepted by the server, not removed by the eUICC. */
    { F_REMOVE_TRANSPORT, LPA_NOTIFICATION_NOT_REMOVED, "BF2B BF30", "handleNotification",
      LPA_ERROR_TRANSPORT, "delivered, but not removed" },
    { F_REMOVE_ERROR, LPA_NOTIFICATION_NOT_REMOVED, "BF2B BF30", "handleNotification",
      LPA_ERROR_EUICC,
      "delivered, but not removed: RemoveNotificationFromList: undefinedError(127)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Run r;

      deliver (&r, cases[i].fault, 3);
      g_assert_cmpint (r.outcome, ==, cases[i].outcome);
      world_assert (&r.world, r.error, (gint) cases[i].code, cases[i].fragment, cases[i].es10,
                    cases[i].http);
      run_clear (&r);
    }
}

static void
test_free_in_flight (void)
{
  Run r;

  memset (&r, 0, sizeof r);
  world_init (&r.world, F_NONE);
  r.delivery = lpa_notification_delivery_new (3, r.world.es10, &unit_http_ops, &r.world.http,
                                              on_outcome, &r);
  lpa_notification_delivery_start (r.delivery);
  g_clear_pointer (&r.delivery, lpa_notification_delivery_free);
  unit_pump ();
  g_assert_false (r.done);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2B");
  run_clear (&r);
}

static void
on_list (gpointer user_data, GPtrArray *notifications, const GError *error)
{
  GPtrArray **out = user_data;
  LpaNotificationMetadata *m;

  g_assert_no_error (error);
  g_assert_cmpuint (notifications->len, ==, 1);
  m = g_ptr_array_index (notifications, 0);
  g_assert_cmpuint (m->seq, ==, 0);
  g_assert_cmpstr (m->address, ==, "op.example.com");
  *out = g_ptr_array_ref (notifications);
}

static void
test_list (void)
{
  World w;
  g_autoptr (GPtrArray) got = NULL;

  world_init (&w, F_NONE);
  lpa_notification_list (w.es10, 0, on_list, &got);
  g_assert_null (got);
  unit_pump ();
  g_assert_nonnull (got);
  g_assert_cmpstr (w.es10_log->str, ==, "BF28");
  world_clear (&w);
}

static void
on_retrieved_all (gpointer user_data, GPtrArray *notifications, const GError *error)
{
  GPtrArray **out = user_data;

  g_assert_no_error (error);
  *out = g_ptr_array_ref (notifications);
}

/* A batch: one RetrieveNotificationsList for all, then per notification only the POST and the
 * RemoveNotificationFromList (issue 18: the floor of a delivery). */
static void
test_batch (void)
{
  g_autoptr (GPtrArray) got = NULL;
  LpaPendingNotification *pir = NULL;
  g_autoptr (GError) error = NULL;
  Run r;

  memset (&r, 0, sizeof r);
  world_init (&r.world, F_NONE);
  lpa_notification_retrieve_all (r.world.es10, on_retrieved_all, &got);
  g_assert_null (got);
  unit_pump ();
  g_assert_cmpuint (got->len, ==, 2);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2B");
  for (guint i = 0; i < got->len && !pir; i++)
    if (((LpaPendingNotification *) got->pdata[i])->metadata->seq == 3)
      pir = g_ptr_array_steal_index (got, i);
  g_assert_nonnull (pir);
  r.delivery = lpa_notification_delivery_new_retrieved (pir, r.world.es10, &unit_http_ops,
                                                        &r.world.http, on_outcome, &r, &error);
  g_assert_no_error (error);
  lpa_notification_delivery_start (r.delivery);
  g_assert_false (r.done);
  unit_pump ();
  g_assert_true (r.done);
  g_assert_cmpuint (r.seq, ==, 3);
  g_assert_cmpint (r.outcome, ==, LPA_NOTIFICATION_DELIVERED);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2B BF30");
  g_assert_cmpstr (r.world.http_log->str, ==, "handleNotification");
  g_assert_cmpstr (r.address, ==, WORLD_ADDRESS);
  run_clear (&r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/notification/delivered", test_delivered);
  g_test_add_func ("/notification/gone", test_gone);
  g_test_add_func ("/notification/failed", test_failed);
  g_test_add_func ("/notification/free-in-flight", test_free_in_flight);
  g_test_add_func ("/notification/list", test_list);
  g_test_add_func ("/notification/batch", test_batch);
  return g_test_run ();
}
