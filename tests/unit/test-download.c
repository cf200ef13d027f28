/* test-download.c — the download state machine against a scripted eUICC and SM-DP+: the happy
 * path with its exact command sequence, and every failure branch with the cancel it must cause. */
#include "procedure-world.h"

typedef enum
{
  AWAIT_ACCEPT,
  AWAIT_REJECT,
  AWAIT_CANCEL,
} AwaitAction;

typedef struct
{
  World world;
  LpaDownload *download;
  gboolean finished;
  GError *error;
  char *result_iccid;
  guint32 result_seq;
  char *result_oid;
  char *result_address;
  GBytes *result_pir;
  GBytes *result_aid;
  char *result_name;
  LpaProfileInfo *result_stored; /* the BPP's StoreMetadata, decoded */
  guint awaiting;
  AwaitAction await_action;
  GString *stages;
  LpaDownloadEuiccSession euicc_session; /* as the download says when it finishes */
  gboolean server_ended;
  gboolean install_unknown;
  char *metadata_iccid;
  double last_progress;
  gboolean progress_monotonic;
  LpaCancelSessionReason hook_reason;
} Run;

static void
on_stage (gpointer user_data, LpaDownloadStage stage, double progress)
{
  Run *r = user_data;

  if (r->stages->len)
    g_string_append_c (r->stages, ' ');
  g_string_append (r->stages, lpa_download_stage_name (stage));
  if (progress < r->last_progress && stage != LPA_DOWNLOAD_STAGE_CANCELLING)
    r->progress_monotonic = FALSE;
  r->last_progress = progress;
}

static void
on_awaiting (gpointer user_data, const LpaProfileInfo *metadata)
{
  Run *r = user_data;

  r->awaiting++;
  g_assert_cmpstr (metadata->iccid, ==, WORLD_ICCID);
  g_assert_cmpstr (metadata->profile_name, ==, "Plan");
  /* The answer comes later, from the test, never from inside the callback. */
}

static void
on_finished (gpointer user_data, const LpaDownloadResult *result, const GError *error)
{
  Run *r = user_data;

  g_assert_false (r->finished);
  r->finished = TRUE;
  g_assert_true ((result == NULL) != (error == NULL));
  if (error)
    r->error = g_error_copy (error);
  else
    {
      r->result_iccid = g_strdup (result->iccid);
      r->result_seq = result->notification_seq;
      r->result_oid = g_strdup (result->smdp_oid);
      r->result_address = g_strdup (result->notification_address);
      r->result_pir = g_bytes_ref (result->profile_installation_result);
      r->result_aid = g_bytes_ref (result->isdp_aid);
      r->result_name = g_strdup (result->metadata->profile_name);
      g_assert_nonnull (result->stored_metadata);
      r->result_stored = lpa_profile_metadata_parse (result->stored_metadata, NULL);
    }
  r->euicc_session = lpa_download_euicc_session (r->download);
  r->server_ended = lpa_download_server_ended_session (r->download);
  r->install_unknown = lpa_download_install_unknown (r->download);
  if (lpa_download_metadata (r->download))
    r->metadata_iccid = g_strdup (lpa_download_metadata (r->download)->iccid);
  /* Freeing from inside finished is allowed. */
  g_clear_pointer (&r->download, lpa_download_free);
}

static const LpaDownloadCallbacks callbacks = { on_stage, on_awaiting, on_finished };

static void
cancel_hook (gpointer data)
{
  Run *r = data;

  if (r->download)
    lpa_download_cancel (r->download, r->hook_reason);
}

static void
run_init (Run *r, Fault fault)
{
  memset (r, 0, sizeof *r);
  world_init (&r->world, fault);
  r->stages = g_string_new (NULL);
  r->progress_monotonic = TRUE;
}

static void
run_clear (Run *r)
{
  g_clear_pointer (&r->download, lpa_download_free);
  world_clear (&r->world);
  g_clear_error (&r->error);
  g_free (r->result_iccid);
  g_free (r->result_oid);
  g_free (r->result_address);
  g_clear_pointer (&r->result_pir, g_bytes_unref);
  g_clear_pointer (&r->result_aid, g_bytes_unref);
  g_free (r->result_name);
  lpa_profile_info_free (r->result_stored);
  g_free (r->metadata_iccid);
  g_string_free (r->stages, TRUE);
}

/* Runs the download to its end; answers the confirmation step as @r->await_action says. */
static void
run_download (Run *r, LpaDownloadParams *params)
{
  g_autoptr (GError) error = NULL;

  r->download = lpa_download_new (params, r->world.es10, &unit_http_ops, &r->world.http, &callbacks,
                                  r, &error);
  g_assert_no_error (error);
  lpa_download_start (r->download);
  g_assert_false (r->finished);
  unit_pump ();
  while (!r->finished)
    {
      g_assert_cmpuint (r->awaiting, >, 0);
      g_assert_false (lpa_download_loading_started (r->download));
      if (r->await_action == AWAIT_ACCEPT)
        lpa_download_confirm (r->download, TRUE);
      else if (r->await_action == AWAIT_REJECT)
        lpa_download_confirm (r->download, FALSE);
      else
        lpa_download_cancel (r->download, LPA_CANCEL_TIMEOUT);
      /* Neither answer finishes the download synchronously. */
      g_assert_false (r->finished);
      unit_pump ();
    }
}

static LpaDownloadParams
default_params (void)
{
  LpaDownloadParams p = { 0 };

  p.smdp_address = WORLD_ADDRESS;
  p.matching_id = "MATCH-1";
  p.expected_smdp_oid = WORLD_OID;
  return p;
}

#define HAPPY_ES10 "BF2E BF20 BF38 BF21 BPP0 BPP1 BPP2 BPP3 BPP4 BPP5 BPP6 BPP7"
#define HAPPY_HTTP "initiateAuthentication authenticateClient getBoundProfilePackage"

static void
assert_success (Run *r)
{
  g_assert_no_error (r->error);
  g_assert_true (r->finished);
  g_assert_cmpstr (r->result_iccid, ==, WORLD_ICCID);
  g_assert_cmpuint (r->result_seq, ==, 3);
  g_assert_cmpstr (r->result_oid, ==, WORLD_OID);
  g_assert_cmpstr (r->result_address, ==, WORLD_ADDRESS);
  g_assert_cmpstr (r->result_name, ==, "Plan");
  unit_assert_hex (r->result_aid, "A0000005591010FFFFFFFF8900001200");
  g_assert_true (g_bytes_equal (r->result_pir, r->world.pir));
  /* What the card stored: the BPP's own StoreMetadata, which the cache lists. */
  g_assert_nonnull (r->result_stored);
  g_assert_cmpstr (r->result_stored->iccid, ==, WORLD_ICCID);
  g_assert_cmpstr (r->result_stored->profile_name, ==, "Plan");
}

static void
test_happy (void)
{
  Run r;
  LpaDownloadParams p = default_params ();

  run_init (&r, F_NONE);
  run_download (&r, &p);
  assert_success (&r);
  g_assert_cmpstr (r.world.es10_log->str, ==, HAPPY_ES10);
  g_assert_cmpstr (r.world.http_log->str, ==, HAPPY_HTTP);
  g_assert_cmpuint (r.awaiting, ==, 0);
  /* ctxParams1 carries the matching ID and lpac's fixed TAC with the default capabilities. */
  unit_assert_hex (r.world.ctx_params1,
                   "A0 22 80 07 4D 41 54 43 48 2D 31 A1 17 80 04 35 29 06 11 A1 0F 80 03 0F 00 00"
                   "81 03 0F 00 00 85 03 0F 00 00");
  /* No confirmation code: PrepareDownload has no hashCc. */
  {
    LpaTlv outer, child;
    gboolean found;

    g_assert_true (lpa_der_parse (g_bytes_get_data (r.world.prepare_request, NULL),
                                  g_bytes_get_size (r.world.prepare_request), &outer, NULL));
    g_assert_true (lpa_der_find_child (&outer, 0x04, &child, &found, NULL));
    g_assert_false (found);
  }
  g_assert_cmpstr (r.stages->str, ==,
                   "authenticating downloading installing installing installing installing "
                   "installing installing installing installing done");
  g_assert_true (r.progress_monotonic);
  g_assert_cmpfloat (r.last_progress, ==, 1.0);
  /* 12 commands; AuthenticateServer and PrepareDownload carry a certificate: two blocks each. */
  g_assert_cmpuint (lpa_es10_get_apdus_sent (r.world.es10), ==, 14);
  run_clear (&r);
}

static void
test_happy_variants (void)
{
  /* Cached EUICCInfo1 (no GetEUICCInfo1), no matching ID, an IMEI, GET RESPONSE delivery. */
  {
    Run r;
    LpaDownloadParams p = default_params ();
    g_autoptr (GBytes) info1 = world_info1 ();

    run_init (&r, F_NONE);
    r.world.euicc.get_response = TRUE;
    p.euicc_info1 = info1;
    p.matching_id = NULL;
    p.imei = "352906112345678";
    run_download (&r, &p);
    assert_success (&r);
    g_assert_cmpstr (r.world.es10_log->str, ==,
                     "BF2E BF38 BF21 BPP0 BPP1 BPP2 BPP3 BPP4 BPP5 BPP6 BPP7");
    unit_assert_hex (r.world.ctx_params1,
                     "A0 23 A1 21 80 04 53 92 60 11 A1 0F 80 03 0F 00 00 81 03 0F 00 00 85 03 0F 00"
                     "00 82 08 53 92 60 11 32 54 76 F8");
    run_clear (&r);
  }
  /* An empty matching ID is left out like none. */
  {
    Run r;
    LpaDownloadParams p = default_params ();

    run_init (&r, F_NONE);
    p.matching_id = "";
    run_download (&r, &p);
    assert_success (&r);
    unit_assert_hex (r.world.ctx_params1, "A0 19 A1 17 80 04 35 29 06 11 A1 0F 80 03 0F 00 00"
                                          "81 03 0F 00 00 85 03 0F 00 00");
    run_clear (&r);
  }
}

static void
test_confirm_and_cc (void)
{
  Run r;
  LpaDownloadParams p = default_params ();
  guint8 hash[32];
  LpaTlv outer, child;
  gboolean found;

  run_init (&r, F_NONE);
  r.world.cc_required = TRUE;
  p.confirm = TRUE;
  p.confirmation_code = "12345678";
  r.await_action = AWAIT_ACCEPT;
  run_download (&r, &p);
  assert_success (&r);
  g_assert_cmpuint (r.awaiting, ==, 1);
  g_assert_cmpstr (r.world.es10_log->str, ==, HAPPY_ES10);
  g_assert_true (g_str_has_prefix (r.stages->str,
                                   "authenticating awaiting-confirmation downloading installing"));
  /* hashCc = SHA-256(SHA-256(code) ‖ the binary transaction ID) sits between signature and
   * certificate. */
  lpa_hash_cc ("12345678", r.world.tid, hash);
  g_assert_true (lpa_der_parse (g_bytes_get_data (r.world.prepare_request, NULL),
                                g_bytes_get_size (r.world.prepare_request), &outer, NULL));
  g_assert_true (lpa_der_find_child (&outer, 0x04, &child, &found, NULL));
  g_assert_true (found);
  g_assert_cmpmem (child.value, child.value_len, hash, sizeof hash);
  run_clear (&r);
}

static void
test_policy (void)
{
  /* PPR1 allowed for the owner: GetRAT is read, no confirmation forced. */
  {
    Run r;
    LpaDownloadParams p = default_params ();

    run_init (&r, F_NONE);
    r.world.ppr = TRUE;
    run_download (&r, &p);
    assert_success (&r);
    g_assert_cmpstr (r.world.es10_log->str, ==,
                     "BF2E BF20 BF38 BF43 BF21 BPP0 BPP1 BPP2 BPP3 BPP4 BPP5 BPP6 BPP7");
    g_assert_cmpuint (r.awaiting, ==, 0);
    run_clear (&r);
  }
  /* The rule asks for consent: the download waits even without confirm. */
  {
    Run r;
    LpaDownloadParams p = default_params ();

    run_init (&r, F_NONE);
    r.world.ppr = TRUE;
    r.world.consent = TRUE;
    r.await_action = AWAIT_ACCEPT;
    r.download = NULL;
    run_download (&r, &p);
    assert_success (&r);
    g_assert_cmpuint (r.awaiting, ==, 1);
    run_clear (&r);
  }
}

/* Every failure branch: the commands seen by each side tell which cancel ran. */
typedef struct
{
  const char *name;
  Fault fault;
  gboolean ppr;
  gboolean cc_required;
  gboolean confirm;
  AwaitAction await;
  const char *es10;
  const char *http;
  LpaError code;
  const char *message; /* a fragment, or NULL */
} FailureCase;

#define AUTH   "BF2E BF20 BF38"
#define INIT   "initiateAuthentication"
#define CLIENT INIT " authenticateClient"
#define GETBPP CLIENT " getBoundProfilePackage"

static const FailureCase failures[] = {
  /* Before the eUICC has a session: nothing to cancel. */
  { "challenge-transport", F_CHALLENGE_TRANSPORT, 0, 0, 0, 0, "BF2E", "", LPA_ERROR_TRANSPORT },
  { "info1-transport", F_INFO1_TRANSPORT, 0, 0, 0, 0, "BF2E BF20", "", LPA_ERROR_TRANSPORT },
  { "info1-malformed", F_INFO1_MALFORMED, 0, 0, 0, 0, "BF2E BF20", "", LPA_ERROR_MALFORMED,
    "EUICCInfo1" },
  { "initiate-network", F_INITIATE_NETWORK, 0, 0, 0, 0, "BF2E BF20", INIT, LPA_ERROR_NETWORK },
  { "initiate-http", F_INITIATE_HTTP_500, 0, 0, 0, 0, "BF2E BF20", INIT, LPA_ERROR_HTTP,
    "HTTP 500" },
  { "initiate-failed", F_INITIATE_FAILED, 0, 0, 0, 0, "BF2E BF20", INIT, LPA_ERROR_SERVER_REJECTED,
    "subjectCode 8.8.2 reasonCode 3.1" },
  { "initiate-malformed", F_INITIATE_MALFORMED, 0, 0, 0, 0, "BF2E BF20", INIT, LPA_ERROR_MALFORMED,
    "serverCertificate" },
  { "signed1-tid", F_SIGNED1_TID, 0, 0, 0, 0, "BF2E BF20", INIT, LPA_ERROR_UNEXPECTED,
    "transaction ID" },
  { "signed1-challenge", F_SIGNED1_CHALLENGE, 0, 0, 0, 0, "BF2E BF20", INIT, LPA_ERROR_UNEXPECTED,
    "challenge" },
  { "signed1-address", F_SIGNED1_ADDRESS, 0, 0, 0, 0, "BF2E BF20", INIT, LPA_ERROR_UNEXPECTED,
    "other.example.com" },
  { "pkid-unknown", F_PKID_UNKNOWN, 0, 0, 0, 0, "BF2E BF20", INIT, LPA_ERROR_UNEXPECTED,
    "euiccCiPKIdToBeUsed" },
  { "authenticate-server-transport", F_AUTH_SERVER_TRANSPORT, 0, 0, 0, 0, AUTH, INIT,
    LPA_ERROR_TRANSPORT },
  { "authenticate-server-malformed", F_AUTH_SERVER_MALFORMED, 0, 0, 0, 0, AUTH, INIT,
    LPA_ERROR_MALFORMED },
  /* The eUICC's refusal still goes to the server, which closes; the caller hears the eUICC. */
  { "authenticate-server-error", F_AUTH_SERVER_ERROR, 0, 0, 0, 0, AUTH, CLIENT, LPA_ERROR_EUICC,
    "AuthenticateServer: euiccChallengeMismatch(6)" },
  /* With a session: ES10b then ES9+ cancel, undefinedReason, unless the server said Failed. */
  { "authenticate-client-network", F_AUTH_CLIENT_NETWORK, 0, 0, 0, 0, AUTH " BF41:127",
    CLIENT " cancelSession", LPA_ERROR_NETWORK },
  { "authenticate-client-failed", F_AUTH_CLIENT_FAILED, 0, 0, 0, 0, AUTH " BF41:127", CLIENT,
    LPA_ERROR_MATCHING_ID_REFUSED, "8.2.6" },
  { "authenticate-client-expired", F_AUTH_CLIENT_EXPIRED, 0, 0, 0, 0, AUTH " BF41:127", CLIENT,
    LPA_ERROR_SERVER_REJECTED, "Expired" },
  { "authenticate-client-tid", F_AUTH_CLIENT_TID, 0, 0, 0, 0, AUTH " BF41:127",
    CLIENT " cancelSession", LPA_ERROR_UNEXPECTED, "authenticateClient" },
  { "authenticate-client-malformed", F_AUTH_CLIENT_MALFORMED, 0, 0, 0, 0, AUTH " BF41:127",
    CLIENT " cancelSession", LPA_ERROR_MALFORMED, "smdpSigned2" },
  { "signed2-tid", F_SIGNED2_TID, 0, 0, 0, 0, AUTH " BF41:127", CLIENT " cancelSession",
    LPA_ERROR_UNEXPECTED, "smdpSigned2" },
  { "rat-transport", F_RAT_TRANSPORT, TRUE, 0, 0, 0, AUTH " BF43 BF41:127", CLIENT " cancelSession",
    LPA_ERROR_TRANSPORT },
  /* A status word says which function it answered ("6D00" alone did not). */
  { "rat-status", F_RAT_STATUS, TRUE, 0, 0, 0, AUTH " BF43 BF41:127", CLIENT " cancelSession",
    LPA_ERROR_STATUS_WORD, "6D00 instruction not supported (the eUICC's answer to GetRAT)" },
  { "ppr-not-allowed", F_PPR_NOT_ALLOWED, TRUE, 0, 0, 0, AUTH " BF43 BF41:3",
    CLIENT " cancelSession", LPA_ERROR_DISALLOWED_BY_POLICY, "pprNotAllowed" },
  { "cc-missing", F_NONE, 0, TRUE, 0, 0, AUTH " BF41:1", CLIENT " cancelSession",
    LPA_ERROR_CONFIRMATION_CODE_REQUIRED },
  { "confirm-rejected", F_NONE, 0, 0, TRUE, AWAIT_REJECT, AUTH " BF41:0", CLIENT " cancelSession",
    LPA_ERROR_CANCELLED, "endUserRejection" },
  { "confirm-timeout", F_NONE, 0, 0, TRUE, AWAIT_CANCEL, AUTH " BF41:2", CLIENT " cancelSession",
    LPA_ERROR_CANCELLED, "timeout" },
  { "prepare-transport", F_PREPARE_TRANSPORT, 0, 0, 0, 0, AUTH " BF21 BF41:127",
    CLIENT " cancelSession", LPA_ERROR_TRANSPORT },
  { "prepare-tid", F_PREPARE_TID, 0, 0, 0, 0, AUTH " BF21 BF41:127", CLIENT " cancelSession",
    LPA_ERROR_UNEXPECTED, "PrepareDownload" },
  /* Forwarded to the server, then the eUICC's session is cleared without an ES9+ cancel. */
  { "prepare-error", F_PREPARE_ERROR, 0, 0, 0, 0, AUTH " BF21 BF41:127", GETBPP, LPA_ERROR_EUICC,
    "PrepareDownload: invalidSignature(2)" },
  { "get-bpp-network", F_GET_BPP_NETWORK, 0, 0, 0, 0, AUTH " BF21 BF41:127",
    GETBPP " cancelSession", LPA_ERROR_NETWORK },
  { "get-bpp-cc-refused", F_GET_BPP_FAILED_CC, 0, 0, 0, 0, AUTH " BF21 BF41:127", GETBPP,
    LPA_ERROR_CONFIRMATION_CODE_REFUSED, "8.2.7" },
  { "get-bpp-tid", F_GET_BPP_TID, 0, 0, 0, 0, AUTH " BF21 BF41:127", GETBPP " cancelSession",
    LPA_ERROR_UNEXPECTED, "getBoundProfilePackage" },
  { "bpp-malformed", F_BPP_MALFORMED, 0, 0, 0, 0, AUTH " BF21 BF41:127", GETBPP " cancelSession",
    LPA_ERROR_MALFORMED, "A3" },
  { "metadata-mismatch", F_METADATA_MISMATCH, 0, 0, 0, 0, AUTH " BF21 BF41:4",
    GETBPP " cancelSession", LPA_ERROR_UNEXPECTED, "metadataMismatch" },
  /* The load: a broken transport or status word cancels with loadBppExecutionError. */
  { "segment-transport", F_SEGMENT_TRANSPORT, 0, 0, 0, 0, AUTH " BF21 BPP0 BPP1 BPP2 BPP3 BF41:5",
    GETBPP " cancelSession", LPA_ERROR_TRANSPORT },
  { "segment-status", F_SEGMENT_STATUS, 0, 0, 0, 0, AUTH " BF21 BPP0 BPP1 BPP2 BF41:5",
    GETBPP " cancelSession", LPA_ERROR_STATUS_WORD,
    "6985 conditions of use not satisfied (the eUICC's answer to LoadBoundProfilePackage)" },
  { "segment-garbage", F_SEGMENT_GARBAGE, 0, 0, 0, 0, AUTH " BF21 BPP0 BPP1 BPP2 BPP3 BPP4 BF41:5",
    GETBPP " cancelSession", LPA_ERROR_MALFORMED, "ProfileInstallationResult" },
  { "no-pir", F_NO_PIR, 0, 0, 0, 0, AUTH " BF21 BPP0 BPP1 BPP2 BPP3 BPP4 BPP5 BPP6 BPP7 BF41:5",
    GETBPP " cancelSession", LPA_ERROR_UNEXPECTED, "no ProfileInstallationResult" },
  /* A ProfileInstallationResult error ends the session on the eUICC: no cancel. */
  { "pir-error", F_PIR_ERROR, 0, 0, 0, 0, AUTH " BF21 BPP0 BPP1 BPP2 BPP3 BPP4 BPP5 BPP6 BPP7",
    GETBPP, LPA_ERROR_INSTALL_FAILED,
    "loadProfileElements(5) failed: installFailedDueToPEProcessingError(12)" },
  { "pir-memory", F_PIR_MEMORY, 0, 0, 0, 0, AUTH " BF21 BPP0 BPP1 BPP2 BPP3 BPP4 BPP5 BPP6 BPP7",
    GETBPP, LPA_ERROR_INSUFFICIENT_MEMORY },
  /* The first BF37 stops the load: no segment after it. */
  { "pir-early", F_PIR_EARLY, 0, 0, 0, 0, AUTH " BF21 BPP0 BPP1", GETBPP,
    LPA_ERROR_INSTALL_FAILED },
};

static void
test_failure (gconstpointer data)
{
  const FailureCase *c = data;
  Run r;
  LpaDownloadParams p = default_params ();

  run_init (&r, c->fault);
  r.world.ppr = c->ppr;
  r.world.cc_required = c->cc_required;
  p.confirm = c->confirm;
  r.await_action = c->await;
  run_download (&r, &p);
  g_assert_true (r.finished);
  world_assert (&r.world, r.error, (gint) c->code, c->message, c->es10, c->http);
  g_assert_true (g_str_has_suffix (r.stages->str, "done"));
  run_clear (&r);
}

/* The name the server signed for itself is its text, quoted in an error headed for the log and
 * D-Bus: one line (a newline would forge a log line), and no longer than a host name may be (not
 * the 4 KiB it sent). */
static void
test_signed1_address_text (void)
{
  Run r;
  LpaDownloadParams p = default_params ();

  run_init (&r, F_SIGNED1_ADDRESS_TEXT);
  run_download (&r, &p);
  world_assert (&r.world, r.error, LPA_ERROR_UNEXPECTED,
                "server calls itself other.example.com\uFFFD** INFO: forged line xxx", "BF2E BF20",
                INIT);
  g_assert_null (strchr (r.error->message, '\n'));
  g_assert_cmpuint (strlen (r.error->message), <, 400);
  run_clear (&r);
}

/* The cancel's own failures never replace the original error. */
static void
test_cancel_failures (void)
{
  Run r;
  LpaDownloadParams p = default_params ();

  run_init (&r, F_AUTH_CLIENT_TID);
  r.world.cancel_es9_fails = TRUE;
  run_download (&r, &p);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_UNEXPECTED);
  g_assert_cmpstr (r.world.http_log->str, ==, CLIENT " cancelSession");
  run_clear (&r);

  /* Without a BF41 from the eUICC there is nothing to forward to the server. */
  run_init (&r, F_AUTH_CLIENT_TID);
  r.world.cancel_es10_fails = TRUE;
  run_download (&r, &p);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_UNEXPECTED);
  g_assert_cmpstr (r.world.es10_log->str, ==, AUTH " BF41:127");
  g_assert_cmpstr (r.world.http_log->str, ==, CLIENT);
  run_clear (&r);
}

/* What each side may still hold when the download ends, so that the daemon cancels later only
 * what is open (issue 11, item 9: a session the server ended was cancelled a second time). */
typedef struct
{
  const char *failure; /* a FailureCase's name */
  LpaDownloadEuiccSession euicc;
  gboolean server_ended;
} SessionCase;

static const SessionCase session_cases[] = {
  { "initiate-failed", LPA_DOWNLOAD_EUICC_SESSION_CLOSED, TRUE },
  { "authenticate-server-error", LPA_DOWNLOAD_EUICC_SESSION_CLOSED, FALSE },
  { "authenticate-client-network", LPA_DOWNLOAD_EUICC_SESSION_CANCELLED, FALSE },
  { "authenticate-client-failed", LPA_DOWNLOAD_EUICC_SESSION_CANCELLED, TRUE },
  { "authenticate-client-expired", LPA_DOWNLOAD_EUICC_SESSION_CANCELLED, TRUE },
  { "confirm-rejected", LPA_DOWNLOAD_EUICC_SESSION_CANCELLED, FALSE },
  { "prepare-error", LPA_DOWNLOAD_EUICC_SESSION_CANCELLED, TRUE },
  { "get-bpp-cc-refused", LPA_DOWNLOAD_EUICC_SESSION_CANCELLED, TRUE },
  { "segment-transport", LPA_DOWNLOAD_EUICC_SESSION_CANCELLED, FALSE },
  { "pir-error", LPA_DOWNLOAD_EUICC_SESSION_CLOSED, FALSE },
  { "pir-early", LPA_DOWNLOAD_EUICC_SESSION_CLOSED, FALSE },
};

/* Only a lost answer to the last segment leaves the install unknown (the eUICC may have
 * completed it), and only while no CancelSession found the session still open; the profile's
 * ICCID is known for the read-back that settles it. */
static void
test_install_unknown (void)
{
  Run r;
  LpaDownloadParams p = default_params ();

  /* The modem is gone: the CancelSession after it is lost too. */
  run_init (&r, F_LAST_SEGMENT_LOST);
  r.world.cancel_es10_fails = TRUE;
  run_download (&r, &p);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  g_assert_true (r.install_unknown);
  g_assert_cmpstr (r.metadata_iccid, ==, WORLD_ICCID);
  g_assert_cmpint (r.euicc_session, ==, LPA_DOWNLOAD_EUICC_SESSION_OPEN);
  run_clear (&r);

  /* invalidTransactionId: the session had ended, by the install or anything else. */
  run_init (&r, F_LAST_SEGMENT_LOST);
  r.world.cancel_es10_no_session = TRUE;
  run_download (&r, &p);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  g_assert_true (r.install_unknown);
  run_clear (&r);

  /* The eUICC cancelled the session: it was still open, so nothing was installed. */
  run_init (&r, F_LAST_SEGMENT_LOST);
  run_download (&r, &p);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  g_assert_cmpint (r.euicc_session, ==, LPA_DOWNLOAD_EUICC_SESSION_CANCELLED);
  g_assert_false (r.install_unknown);
  run_clear (&r);

  /* An earlier segment's answer lost: the later ones never went. */
  run_init (&r, F_SEGMENT_TRANSPORT);
  r.world.cancel_es10_fails = TRUE;
  run_download (&r, &p);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  g_assert_false (r.install_unknown);
  run_clear (&r);

  /* Any other failure of the last segment is an answer. */
  run_init (&r, F_NO_PIR);
  run_download (&r, &p);
  g_assert_nonnull (r.error);
  g_assert_false (r.install_unknown);
  run_clear (&r);
}

static void
test_session_state (void)
{
  Run r;
  LpaDownloadParams p;

  for (gsize i = 0; i < G_N_ELEMENTS (session_cases); i++)
    {
      const SessionCase *sc = &session_cases[i];
      const FailureCase *c = NULL;

      for (gsize j = 0; j < G_N_ELEMENTS (failures) && !c; j++)
        if (g_str_equal (failures[j].name, sc->failure))
          c = &failures[j];
      if (!c)
        g_error ("no failure case %s", sc->failure);
      g_test_message ("%s", sc->failure);
      p = default_params ();
      run_init (&r, c->fault);
      p.confirm = c->confirm;
      r.await_action = c->await;
      run_download (&r, &p);
      g_assert_cmpint (r.euicc_session, ==, sc->euicc);
      g_assert_cmpint (r.server_ended, ==, sc->server_ended);
      run_clear (&r);
    }

  /* Installed: the eUICC's session ended with its result. */
  p = default_params ();
  run_init (&r, F_NONE);
  run_download (&r, &p);
  assert_success (&r);
  g_assert_cmpint (r.euicc_session, ==, LPA_DOWNLOAD_EUICC_SESSION_CLOSED);
  g_assert_false (r.server_ended);
  run_clear (&r);

  /* No answer to CancelSession: the eUICC may still hold the session. */
  run_init (&r, F_AUTH_CLIENT_TID);
  r.world.cancel_es10_fails = TRUE;
  run_download (&r, &p);
  g_assert_cmpint (r.euicc_session, ==, LPA_DOWNLOAD_EUICC_SESSION_OPEN);
  run_clear (&r);

  /* invalidTransactionId: the eUICC cancelled nothing, so the server is not told it did. */
  run_init (&r, F_AUTH_CLIENT_TID);
  r.world.cancel_es10_no_session = TRUE;
  run_download (&r, &p);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_UNEXPECTED);
  g_assert_cmpstr (r.world.es10_log->str, ==, AUTH " BF41:127");
  g_assert_cmpstr (r.world.http_log->str, ==, CLIENT);
  g_assert_cmpint (r.euicc_session, ==, LPA_DOWNLOAD_EUICC_SESSION_CLOSED);
  g_assert_false (r.server_ended);
  run_clear (&r);
}

/* A cancel while awaiting confirmation ends the wait: there is nothing left to confirm. */
static void
test_awaiting_confirmation (void)
{
  Run r;
  LpaDownloadParams p = default_params ();
  g_autoptr (GError) error = NULL;

  run_init (&r, F_NONE);
  p.confirm = TRUE;
  r.download =
      lpa_download_new (&p, r.world.es10, &unit_http_ops, &r.world.http, &callbacks, &r, &error);
  g_assert_no_error (error);
  g_assert_false (lpa_download_awaiting_confirmation (r.download));
  lpa_download_start (r.download);
  unit_pump ();
  g_assert_cmpuint (r.awaiting, ==, 1);
  g_assert_true (lpa_download_awaiting_confirmation (r.download));
  lpa_download_cancel (r.download, LPA_CANCEL_END_USER_REJECTION);
  g_assert_false (lpa_download_awaiting_confirmation (r.download));
  unit_pump ();
  g_assert_true (r.finished);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_CANCELLED);
  run_clear (&r);
}

static void
on_code_needed (gpointer user_data, const LpaProfileInfo *metadata)
{
  Run *r = user_data;

  g_assert_cmpstr (metadata->iccid, ==, WORLD_ICCID);
  r->awaiting++;
}

static const LpaDownloadCallbacks asking_callbacks = { on_stage, on_awaiting, on_finished,
                                                       on_code_needed };

/* The SM-DP+ wants a code nobody gave: with confirmation_code_needed the download waits for it
 * after the confirmation (SGP.22's order), then hashes it into PrepareDownload; a cancel while
 * it waits is a Common Cancel Session. */
static void
test_code_asked_mid_download (void)
{
  Run r;
  LpaDownloadParams p = default_params ();
  g_autoptr (GError) error = NULL;
  guint8 hash[32];
  LpaTlv outer, child;
  gboolean found;

  run_init (&r, F_NONE);
  r.world.cc_required = TRUE;
  p.confirm = TRUE;
  r.download = lpa_download_new (&p, r.world.es10, &unit_http_ops, &r.world.http, &asking_callbacks,
                                 &r, &error);
  g_assert_no_error (error);
  lpa_download_start (r.download);
  unit_pump ();
  g_assert_cmpuint (r.awaiting, ==, 1);
  g_assert_true (lpa_download_awaiting_confirmation (r.download));
  g_assert_false (lpa_download_awaiting_confirmation_code (r.download));
  lpa_download_confirm (r.download, TRUE);
  unit_pump ();
  g_assert_cmpuint (r.awaiting, ==, 2);
  g_assert_true (lpa_download_awaiting_confirmation_code (r.download));
  g_assert_false (r.finished);
  lpa_download_supply_confirmation_code (r.download, "24682468");
  g_assert_false (lpa_download_awaiting_confirmation_code (r.download));
  unit_pump ();
  assert_success (&r);
  g_assert_cmpstr (r.world.es10_log->str, ==, HAPPY_ES10);
  g_assert_true (g_str_has_prefix (
      r.stages->str,
      "authenticating awaiting-confirmation awaiting-confirmation-code downloading installing"));
  lpa_hash_cc ("24682468", r.world.tid, hash);
  g_assert_true (lpa_der_parse (g_bytes_get_data (r.world.prepare_request, NULL),
                                g_bytes_get_size (r.world.prepare_request), &outer, NULL));
  g_assert_true (lpa_der_find_child (&outer, 0x04, &child, &found, NULL));
  g_assert_true (found);
  g_assert_cmpmem (child.value, child.value_len, hash, sizeof hash);
  run_clear (&r);

  /* Cancelled while it waits for the code: the eUICC's session is cancelled (postponed). */
  run_init (&r, F_NONE);
  r.world.cc_required = TRUE;
  p.confirm = FALSE;
  r.download = lpa_download_new (&p, r.world.es10, &unit_http_ops, &r.world.http, &asking_callbacks,
                                 &r, &error);
  g_assert_no_error (error);
  lpa_download_start (r.download);
  unit_pump ();
  g_assert_true (lpa_download_awaiting_confirmation_code (r.download));
  lpa_download_cancel (r.download, LPA_CANCEL_POSTPONED);
  unit_pump ();
  g_assert_true (r.finished);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_CANCELLED);
  g_assert_nonnull (strstr (r.world.es10_log->str, "BF41"));
  g_assert_null (strstr (r.world.es10_log->str, "BF21"));
  run_clear (&r);
}

static void
test_oid_mismatch (void)
{
  Run r;
  LpaDownloadParams p = default_params ();

  run_init (&r, F_NONE);
  p.expected_smdp_oid = "2.999.11";
  run_download (&r, &p);
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_UNEXPECTED);
  g_assert_nonnull (strstr (r.error->message, "2.999.10"));
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2E BF20");
  g_assert_cmpstr (r.world.http_log->str, ==, INIT);
  run_clear (&r);
}

/* Cancel requested while a given step is in flight. */
typedef struct
{
  const char *name;
  const char *at; /* log entry during which lpa_download_cancel() is called */
  const char *es10;
  const char *http;
  gboolean success;
  Fault fault; /* the step in flight also fails, as when the daemon aborts its HTTP request */
} CancelCase;

static const CancelCase cancels[] = {
  { "during-challenge", "BF2E", "BF2E", "", FALSE },
  { "during-initiate", INIT, "BF2E BF20", INIT, FALSE },
  /* AuthenticateServer completes: from then on the eUICC has a session to cancel. */
  { "during-authenticate-server", "BF38", AUTH " BF41:1", INIT " cancelSession", FALSE },
  { "during-authenticate-client", "authenticateClient", AUTH " BF41:1", CLIENT " cancelSession",
    FALSE },
  { "during-prepare", "BF21", AUTH " BF21 BF41:1", CLIENT " cancelSession", FALSE },
  { "during-get-bpp", "getBoundProfilePackage", AUTH " BF21 BF41:1", GETBPP " cancelSession",
    FALSE },
  /* Once the load started the download completes. */
  { "during-load", "BPP1", HAPPY_ES10, HAPPY_HTTP, TRUE },
  /* The aborted request's failure does not replace the requested reason. */
  { "aborted-authenticate-client", "authenticateClient", AUTH " BF41:1", CLIENT " cancelSession",
    FALSE, F_AUTH_CLIENT_NETWORK },
  { "aborted-get-bpp", "getBoundProfilePackage", AUTH " BF21 BF41:1", GETBPP " cancelSession",
    FALSE, F_GET_BPP_NETWORK },
  { "aborted-initiate", INIT, "BF2E BF20", INIT, FALSE, F_INITIATE_NETWORK },
};

static void
test_cancel (gconstpointer data)
{
  const CancelCase *c = data;
  Run r;
  LpaDownloadParams p = default_params ();

  run_init (&r, c->fault);
  r.hook_reason = LPA_CANCEL_POSTPONED;
  r.world.hook_at = c->at;
  r.world.hook = cancel_hook;
  r.world.hook_data = &r;
  run_download (&r, &p);
  if (c->success)
    assert_success (&r);
  else
    {
      g_assert_error (r.error, LPA_ERROR, LPA_ERROR_CANCELLED);
      g_assert_cmpstr (r.error->message, ==, "download cancelled (postponed)");
    }
  g_assert_cmpstr (r.world.es10_log->str, ==, c->es10);
  g_assert_cmpstr (r.world.http_log->str, ==, c->http);
  run_clear (&r);
}

static void
test_cancel_before_start (void)
{
  Run r;
  LpaDownloadParams p = default_params ();
  g_autoptr (GError) error = NULL;

  run_init (&r, F_NONE);
  r.download =
      lpa_download_new (&p, r.world.es10, &unit_http_ops, &r.world.http, &callbacks, &r, &error);
  lpa_download_cancel (r.download, LPA_CANCEL_END_USER_REJECTION);
  lpa_download_start (r.download);
  g_assert_false (r.finished);
  unit_pump ();
  g_assert_error (r.error, LPA_ERROR, LPA_ERROR_CANCELLED);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2E");
  g_assert_cmpstr (r.world.http_log->str, ==, "");
  run_clear (&r);
}

/* Freed while an operation is in flight: the operation completes unseen, nothing is called. */
static void
test_free_in_flight (void)
{
  Run r;
  LpaDownloadParams p = default_params ();
  g_autoptr (GError) error = NULL;

  run_init (&r, F_NONE);
  r.download =
      lpa_download_new (&p, r.world.es10, &unit_http_ops, &r.world.http, &callbacks, &r, &error);
  lpa_download_start (r.download);
  g_clear_pointer (&r.download, lpa_download_free);
  unit_pump ();
  g_assert_false (r.finished);
  g_assert_cmpstr (r.world.es10_log->str, ==, "BF2E");
  run_clear (&r);
}

static void
test_invalid_params (void)
{
  World w;
  LpaDownloadParams p = default_params ();
  g_autoptr (GError) error = NULL;

  world_init (&w, F_NONE);
  p.smdp_address = "https://smdp.example.com";
  g_assert_null (lpa_download_new (&p, w.es10, &unit_http_ops, &w.http, &callbacks, NULL, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  p = default_params ();
  p.imei = "1234";
  g_assert_null (lpa_download_new (&p, w.es10, &unit_http_ops, &w.http, &callbacks, NULL, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  world_clear (&w);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/download/happy", test_happy);
  g_test_add_func ("/download/happy-variants", test_happy_variants);
  g_test_add_func ("/download/confirm-and-cc", test_confirm_and_cc);
  g_test_add_func ("/download/policy", test_policy);
  g_test_add_func ("/download/oid-mismatch", test_oid_mismatch);
  g_test_add_func ("/download/signed1-address-text", test_signed1_address_text);
  g_test_add_func ("/download/cancel-failures", test_cancel_failures);
  g_test_add_func ("/download/session-state", test_session_state);
  g_test_add_func ("/download/install-unknown", test_install_unknown);
  g_test_add_func ("/download/awaiting-confirmation", test_awaiting_confirmation);
  g_test_add_func ("/download/code-asked-mid-download", test_code_asked_mid_download);
  g_test_add_func ("/download/cancel-before-start", test_cancel_before_start);
  g_test_add_func ("/download/free-in-flight", test_free_in_flight);
  g_test_add_func ("/download/invalid-params", test_invalid_params);
  for (guint i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      g_autofree char *path = g_strdup_printf ("/download/failure/%s", failures[i].name);
      g_test_add_data_func (path, &failures[i], test_failure);
    }
  for (guint i = 0; i < G_N_ELEMENTS (cancels); i++)
    {
      g_autofree char *path = g_strdup_printf ("/download/cancel/%s", cancels[i].name);
      g_test_add_data_func (path, &cancels[i], test_cancel);
    }
  return g_test_run ();
}
