/* test-discovery.c — SM-DS event discovery against a scripted eUICC and SM-DS, path fallback
 * included. */
#include "procedure-world.h"

typedef struct
{
  World world;
  LpaDiscovery *discovery;
  gboolean done;
  GPtrArray *events;
  GError *error;
} Run;

static void
on_done (gpointer user_data, GPtrArray *events, guint skipped, const GError *error)
{
  Run *r = user_data;

  g_assert_false (r->done);
  r->done = TRUE;
  g_assert_true ((events == NULL) != (error == NULL));
  if (events)
    {
      r->events = g_ptr_array_new_with_free_func ((GDestroyNotify) lpa_event_entry_free);
      for (guint i = 0; i < events->len; i++)
        {
          LpaEventEntry *in = g_ptr_array_index (events, i);
          LpaEventEntry *copy = g_new0 (LpaEventEntry, 1);
          copy->event_id = g_strdup (in->event_id);
          copy->rsp_server_address = g_strdup (in->rsp_server_address);
          g_ptr_array_add (r->events, copy);
        }
    }
  if (error)
    r->error = g_error_copy (error);
  g_clear_pointer (&r->discovery, lpa_discovery_free);
}

static void
cancel_hook (gpointer data)
{
  Run *r = data;

  lpa_discovery_cancel (r->discovery);
}

static void
discover (Run *r, Fault fault, guint families, LpaDiscoveryPaths paths, const char *cancel_at)
{
  LpaDiscoveryParams p = { 0 };
  g_autoptr (GError) error = NULL;

  memset (r, 0, sizeof *r);
  world_init (&r->world, fault);
  r->world.server_path_families = families;
  r->world.hook_at = cancel_at;
  r->world.hook = cancel_hook;
  r->world.hook_data = r;
  p.smds_address = WORLD_ADDRESS;
  p.paths = paths;
  r->discovery =
      lpa_discovery_new (&p, r->world.es10, &unit_http_ops, &r->world.http, on_done, r, &error);
  g_assert_no_error (error);
  lpa_discovery_start (r->discovery);
  g_assert_false (r->done);
  unit_pump ();
  g_assert_true (r->done);
}

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->discovery, lpa_discovery_free);
  world_clear (&r->world);
  g_clear_pointer (&r->events, g_ptr_array_unref);
  g_clear_error (&r->error);
}

static void
test_events (void)
{
  Run r;
  LpaEventEntry *e;

  discover (&r, F_NONE, 3, LPA_DISCOVERY_PATHS_ES11_FIRST, NULL);
  g_assert_no_error (r.error);
  g_assert_cmpuint (r.events->len, ==, 2);
  e = g_ptr_array_index (r.events, 0);
  g_assert_cmpstr (e->event_id, ==, "EVENT-1");
  g_assert_cmpstr (e->rsp_server_address, ==, "smdp.example.com");
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2E BF20 BF38");
  g_assert_cmpstr (r.world.http_log->str, ==,
                   "es11/initiateAuthentication es11/authenticateClient");
  /* No matching ID towards an SM-DS: ctxParams1 starts with deviceInfo. */
  unit_assert_hex (r.world.ctx_params1, "A0 19 A1 17 80 04 35 29 06 11 A1 0F 80 03 0F 00 00"
                                        "81 03 0F 00 00 85 03 0F 00 00");
  run_clear (&r);
}

static void
test_paths (void)
{
  static const struct
  {
    const char *name;
    Fault fault;
    guint families;
    LpaDiscoveryPaths paths;
    const char *http;
    gint error; /* -1 = success */
  } cases[] = {
    { "es11-404-falls-back", F_NONE, 2, LPA_DISCOVERY_PATHS_ES11_FIRST,
      "es11/initiateAuthentication initiateAuthentication authenticateClient", -1 },
    { "es9plus-first", F_NONE, 3, LPA_DISCOVERY_PATHS_ES9PLUS_FIRST,
      "initiateAuthentication authenticateClient", -1 },
    { "es9plus-404-falls-back", F_NONE, 1, LPA_DISCOVERY_PATHS_ES9PLUS_FIRST,
      "initiateAuthentication es11/initiateAuthentication es11/authenticateClient", -1 },
    { "client-404-falls-back", F_ES11_CLIENT_404, 3, LPA_DISCOVERY_PATHS_ES11_FIRST,
      "es11/initiateAuthentication es11/authenticateClient authenticateClient", -1 },
    { "es11-only", F_NONE, 2, LPA_DISCOVERY_PATHS_ES11_ONLY, "es11/initiateAuthentication",
      LPA_ERROR_HTTP },
    { "es9plus-only", F_NONE, 1, LPA_DISCOVERY_PATHS_ES9PLUS_ONLY, "initiateAuthentication",
      LPA_ERROR_HTTP },
    { "client-404-only", F_ES11_CLIENT_404, 3, LPA_DISCOVERY_PATHS_ES11_ONLY,
      "es11/initiateAuthentication es11/authenticateClient", LPA_ERROR_HTTP },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Run r;

      discover (&r, cases[i].fault, cases[i].families, cases[i].paths, NULL);
      if (cases[i].error < 0)
        {
          g_assert_no_error (r.error);
          g_assert_cmpuint (r.events->len, ==, 2);
        }
      else
        g_assert_error (r.error, LPA_ERROR, cases[i].error);
      if (g_strcmp0 (r.world.http_log->str, cases[i].http) != 0)
        g_error ("%s: \"%s\" != \"%s\"", cases[i].name, r.world.http_log->str, cases[i].http);
      run_clear (&r);
    }
}

static void
test_failures (void)
{
  static const struct
  {
    Fault fault;
    const char *es10;
    const char *http;
    LpaError code;
    const char *fragment;
  } cases[] = {
    { F_CHALLENGE_TRANSPORT, "BF2E", "", LPA_ERROR_TRANSPORT, NULL },
    { F_INITIATE_NETWORK, "BF2E BF20", "es11/initiateAuthentication", LPA_ERROR_NETWORK, NULL },
    { F_INITIATE_FAILED, "BF2E BF20", "es11/initiateAuthentication", LPA_ERROR_SERVER_REJECTED,
      "ES11 initiateAuthentication: subjectCode 8.8.2" },
    { F_SIGNED1_ADDRESS, "BF2E BF20", "es11/initiateAuthentication", LPA_ERROR_UNEXPECTED,
      "other.example.com" },
    { F_AUTH_SERVER_TRANSPORT, "BF2E BF20 BF38", "es11/initiateAuthentication", LPA_ERROR_TRANSPORT,
      NULL },
    /* The refusal is forwarded, then reported. */
    { F_AUTH_SERVER_ERROR, "BF2E BF20 BF38", "es11/initiateAuthentication es11/authenticateClient",
      LPA_ERROR_EUICC, "AuthenticateServer: euiccChallengeMismatch(6)" },
    { F_ES11_CLIENT_FAILED, "BF2E BF20 BF38", "es11/initiateAuthentication es11/authenticateClient",
      LPA_ERROR_MATCHING_ID_REFUSED, "8.9.5" },
    { F_ES11_CLIENT_TID, "BF2E BF20 BF38", "es11/initiateAuthentication es11/authenticateClient",
      LPA_ERROR_UNEXPECTED, "transaction ID" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Run r;

      discover (&r, cases[i].fault, 3, LPA_DISCOVERY_PATHS_ES11_FIRST, NULL);
      world_assert (&r.world, r.error, (gint) cases[i].code, cases[i].fragment, cases[i].es10,
                    cases[i].http);
      run_clear (&r);
    }
}

static void
test_cancel (void)
{
  Run r;

  discover (&r, F_NONE, 3, LPA_DISCOVERY_PATHS_ES11_FIRST, "es11/initiateAuthentication");
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_CANCELLED);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2E BF20");
  run_clear (&r);

  /* After AuthenticateServer: stopped before authenticateClient, no cancel needed. */
  discover (&r, F_NONE, 3, LPA_DISCOVERY_PATHS_ES11_FIRST, "BF38");
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_CANCELLED);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2E BF20 BF38");
  g_assert_cmpstr (r.world.http_log->str, ==, "es11/initiateAuthentication");
  run_clear (&r);
}

static void
test_invalid (void)
{
  World w;
  LpaDiscoveryParams p = { 0 };
  g_autoptr (GError) error = NULL;

  world_init (&w, F_NONE);
  p.smds_address = "lpa.ds.gsma.com:443";
  g_assert_null (lpa_discovery_new (&p, w.es10, &unit_http_ops, &w.http, on_done, NULL, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/discovery/events", test_events);
  g_test_add_func ("/discovery/paths", test_paths);
  g_test_add_func ("/discovery/failures", test_failures);
  g_test_add_func ("/discovery/cancel", test_cancel);
  g_test_add_func ("/discovery/invalid", test_invalid);
  return g_test_run ();
}
