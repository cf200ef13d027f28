/* test-es9p.c — unit tests of the ES9+ and ES11 JSON requests, responses and status mapping. */
#include "unit-support.h"

#include <json-glib/json-glib.h>

static GBytes *
text (const char *s)
{
  return g_bytes_new (s, strlen (s));
}

static void
assert_json (GBytes *body, const char *expected)
{
  g_autofree char *got = g_strndup (g_bytes_get_data (body, NULL), g_bytes_get_size (body));
  g_assert_cmpstr (got, ==, expected);
}

static void
test_requests (void)
{
  g_autoptr (GBytes) challenge = unit_hex ("10e3a3a50a2f9c20a90e9594b696ea6a");
  g_autoptr (GBytes) info1 = unit_hex ("BF 20 00");
  g_autoptr (GBytes) bf38 = unit_hex ("BF 38 00");
  g_autoptr (GBytes) bf21 = unit_hex ("BF 21 00");
  g_autoptr (GBytes) bf41 = unit_hex ("BF 41 03 81 01 05");
  g_autoptr (GBytes) bf37 = unit_hex ("BF 37 00");
  g_autoptr (GBytes) a =
      lpa_es9p_initiate_authentication_request (challenge, info1, "rsp.example.com");
  g_autoptr (GBytes) b = lpa_es9p_authenticate_client_request ("01020304", bf38);
  g_autoptr (GBytes) c = lpa_es9p_get_bound_profile_package_request ("01020304", bf21);
  g_autoptr (GBytes) d = lpa_es9p_cancel_session_request ("01020304", bf41);
  g_autoptr (GBytes) e = lpa_es9p_handle_notification_request (bf37);
  g_autoptr (GBytes) f =
      lpa_es11_initiate_authentication_request (challenge, info1, "lpa.ds.gsma.com", TRUE);
  g_autoptr (GBytes) g =
      lpa_es11_initiate_authentication_request (challenge, info1, "lpa.ds.gsma.com", FALSE);

  /* euiccChallenge is the raw 16 bytes; every other value the complete TLV; no header. */
  assert_json (a, "{\"euiccChallenge\":\"EOOjpQovnCCpDpWUtpbqag==\",\"euiccInfo1\":\"vyAA\","
                  "\"smdpAddress\":\"rsp.example.com\"}");
  assert_json (b, "{\"transactionId\":\"01020304\",\"authenticateServerResponse\":\"vzgA\"}");
  assert_json (c, "{\"transactionId\":\"01020304\",\"prepareDownloadResponse\":\"vyEA\"}");
  assert_json (d, "{\"transactionId\":\"01020304\",\"cancelSessionResponse\":\"v0EDgQEF\"}");
  assert_json (e, "{\"pendingNotification\":\"vzcA\"}");
  assert_json (f, "{\"euiccChallenge\":\"EOOjpQovnCCpDpWUtpbqag==\",\"euiccInfo1\":\"vyAA\","
                  "\"smdsAddress\":\"lpa.ds.gsma.com\"}");
  assert_json (g, "{\"euiccChallenge\":\"EOOjpQovnCCpDpWUtpbqag==\",\"euiccInfo1\":\"vyAA\","
                  "\"smdpAddress\":\"lpa.ds.gsma.com\"}");
}

/* A valid initiateAuthentication answer; base64 of 30 03 80 01 AA, 5F 37 01 00, 04 01 F5,
 * 30 00. */
#define INIT_MEMBERS                                                                               \
  "\"transactionId\":\"aAbB01\",\"serverSigned1\":\"MAOAAao=\",\"serverSignature1\":\"XzcBAA==\"," \
  "\"euiccCiPKIdToBeUsed\":\"BAH1\",\"serverCertificate\":\"MAA=\",\"unknownField\":[1,2]"

static void
test_initiate_ok (void)
{
  g_autoptr (GBytes) body = unit_json_success (INIT_MEMBERS);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaInitiateAuthenticationResponse) r =
      lpa_es9p_parse_initiate_authentication ("initiateAuthentication", 200, body, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (r->transaction_id, ==, "aAbB01");
  unit_assert_hex (r->transaction_id_bin, "AABB01");
  unit_assert_hex (r->server_signed1, "30 03 80 01 AA");
  unit_assert_hex (r->server_signature1, "5F 37 01 00");
  unit_assert_hex (r->euicc_ci_pkid, "04 01 F5");
  unit_assert_hex (r->server_certificate, "30 00");
}

static void
test_warning_is_success (void)
{
  g_autoptr (GBytes) body =
      text ("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-WithWarning\","
            "\"statusCodeData\":{\"subjectCode\":\"8.1\",\"reasonCode\":\"3.1\"}}},"
            "\"transactionId\":\"01\",\"boundProfilePackage\":\"vzYA\"}");
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaBoundProfilePackageResponse) r =
      lpa_es9p_parse_get_bound_profile_package (200, body, &error);

  g_assert_no_error (error);
  unit_assert_hex (r->bound_profile_package, "BF 36 00");
}

static void
test_statuses (void)
{
  static const struct
  {
    const char *subject;
    const char *reason;
    LpaError code;
    const char *meaning;
  } cases[] = {
    { "8.2.6", "3.8", LPA_ERROR_MATCHING_ID_REFUSED, "matching ID refused" },
    { "8.9.5", "3.9", LPA_ERROR_MATCHING_ID_REFUSED, "event unknown" },
    { "8.2.7", "3.8", LPA_ERROR_CONFIRMATION_CODE_REFUSED, "confirmation code refused" },
    { "8.2.7", "6.4", LPA_ERROR_CONFIRMATION_CODE_REFUSED,
      "confirmation code maximum number of retries exceeded" },
    { "8.2.7", "2.2", LPA_ERROR_CONFIRMATION_CODE_REQUIRED, "confirmation code missing" },
    { "8.8.1", "3.8", LPA_ERROR_SERVER_REJECTED, "SM-DP+ address refused" },
    { "8.1", "4.8", LPA_ERROR_SERVER_REJECTED, "eUICC insufficient memory" },
    { "8.8.5", "4.1", LPA_ERROR_SERVER_REJECTED, "download order expired" },
    { "8.10.1", "3.9", LPA_ERROR_SERVER_REJECTED, "transaction ID unknown" },
    { "9.9", "9.9", LPA_ERROR_SERVER_REJECTED, "unknown subject unknown reason" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) body =
          unit_json_failed (cases[i].subject, cases[i].reason, "said the server");
      g_autoptr (GError) error = NULL;
      g_autofree char *expected =
          g_strdup_printf ("authenticateClient: subjectCode %s reasonCode %s: %s; said the server",
                           cases[i].subject, cases[i].reason, cases[i].meaning);
      g_autofree char *subject = NULL;
      g_autofree char *reason = NULL;

      g_assert_null (lpa_es9p_parse_authenticate_client (200, body, &error));
      g_assert_error (error, LPA_ERROR, (gint) cases[i].code);
      g_assert_cmpstr (error->message, ==, expected);
      g_assert_true (lpa_server_error_codes (error, &subject, &reason));
      g_assert_cmpstr (subject, ==, cases[i].subject);
      g_assert_cmpstr (reason, ==, cases[i].reason);
    }
  {
    g_autoptr (GBytes) expired =
        text ("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Expired\"}}}");
    g_autoptr (GBytes) no_message = unit_json_failed ("8.1.3", "6.1", NULL);
    g_autoptr (GError) error = NULL;
    g_autofree char *subject = NULL;
    g_autofree char *reason = NULL;

    g_assert_false (lpa_es9p_parse_cancel_session (200, expired, &error));
    g_assert_error (error, LPA_ERROR, LPA_ERROR_SERVER_REJECTED);
    g_assert_cmpstr (error->message, ==, "cancelSession: Expired");
    g_assert_false (lpa_server_error_codes (error, &subject, &reason));
    g_clear_error (&error);
    g_assert_false (lpa_es9p_parse_cancel_session (200, no_message, &error));
    g_assert_cmpstr (error->message, ==,
                     "cancelSession: subjectCode 8.1.3 reasonCode 6.1: eUICC certificate "
                     "verification failed");
  }
}

/* Some servers put the Failed header of SGP.22's HTTP 200 answer in an HTTP error instead
 * (hand-written cases): its codes are reported, with the status; any other body gives the
 * status alone, as a Success header in an error does. */
static void
test_failed_in_http_error (void)
{
  g_autoptr (GBytes) failed = unit_json_failed ("8.2.6", "3.8", "unknown");
  g_autoptr (GBytes) success = unit_json_success (INIT_MEMBERS);
  g_autoptr (GBytes) page = text ("<html>Bad Request</html>");
  g_autoptr (GBytes) unknown =
      text ("{\"header\":{\"functionExecutionStatus\":{\"status\":\"Maybe\"}}}");
  g_autoptr (GError) error = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *reason = NULL;

  g_assert_null (lpa_es9p_parse_authenticate_client (400, failed, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MATCHING_ID_REFUSED);
  g_assert_cmpstr (error->message, ==,
                   "authenticateClient: subjectCode 8.2.6 reasonCode 3.8: matching ID refused; "
                   "unknown (HTTP 400)");
  g_assert_true (lpa_server_error_codes (error, &subject, &reason));
  g_assert_cmpstr (subject, ==, "8.2.6");
  g_assert_cmpstr (reason, ==, "3.8");
  g_clear_error (&error);

  g_assert_false (lpa_es9p_parse_cancel_session (500, failed, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MATCHING_ID_REFUSED);
  g_clear_error (&error);

  g_assert_null (
      lpa_es9p_parse_initiate_authentication ("initiateAuthentication", 403, success, &error));
  unit_assert_error (error, LPA_ERROR_HTTP, "initiateAuthentication: HTTP 403");
  g_clear_error (&error);
  g_assert_null (lpa_es9p_parse_authenticate_client (400, page, &error));
  unit_assert_error (error, LPA_ERROR_HTTP, "authenticateClient: HTTP 400");
  g_clear_error (&error);
  g_assert_null (lpa_es9p_parse_authenticate_client (400, unknown, &error));
  unit_assert_error (error, LPA_ERROR_HTTP, "authenticateClient: HTTP 400");
}

static void
test_malformed (void)
{
  static const struct
  {
    guint status;
    const char *body;
    LpaError code;
    const char *fragment;
  } cases[] = {
    { 500, INIT_MEMBERS, LPA_ERROR_HTTP, "HTTP 500" },
    { 404, "", LPA_ERROR_HTTP, "HTTP 404" },
    { 200, "", LPA_ERROR_MALFORMED, "empty response" },
    { 200, "{\"header\":", LPA_ERROR_MALFORMED, "not JSON" },
    { 200, "[1,2]", LPA_ERROR_MALFORMED, "not a JSON object" },
    { 200, "{\"transactionId\":\"01\"}", LPA_ERROR_MALFORMED, "header" },
    { 200, "{\"header\":{}}", LPA_ERROR_MALFORMED, "functionExecutionStatus" },
    { 200, "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Maybe\"}}}", LPA_ERROR_MALFORMED,
      "unknown" },
    { 200, "{\"header\":{\"functionExecutionStatus\":{\"status\":7}}}", LPA_ERROR_MALFORMED,
      "status" },
  };
  static const struct
  {
    const char *members;
    const char *fragment;
  } fields[] = {
    /* Each mandatory field missing, of the wrong type, not base64, or not the expected TLV. */
    { "\"serverSigned1\":\"MAOAAao=\",\"serverSignature1\":\"XzcBAA==\",\"euiccCiPKIdToBeUsed\":"
      "\"BAH1\",\"serverCertificate\":\"MAA=\"",
      "transactionId" },
    { "\"transactionId\":5,\"serverSigned1\":\"MAOAAao=\",\"serverSignature1\":\"XzcBAA==\","
      "\"euiccCiPKIdToBeUsed\":\"BAH1\",\"serverCertificate\":\"MAA=\"",
      "transactionId" },
    { "\"transactionId\":\"0\",\"serverSigned1\":\"MAOAAao=\",\"serverSignature1\":\"XzcBAA==\","
      "\"euiccCiPKIdToBeUsed\":\"BAH1\",\"serverCertificate\":\"MAA=\"",
      "hex" },
    { "\"transactionId\":\"0102030405060708090A0B0C0D0E0F1011\",\"serverSigned1\":\"MAOAAao=\","
      "\"serverSignature1\":\"XzcBAA==\",\"euiccCiPKIdToBeUsed\":\"BAH1\",\"serverCertificate\":"
      "\"MAA=\"",
      "hex" },
    { "\"transactionId\":\"01\",\"serverSignature1\":\"XzcBAA==\",\"euiccCiPKIdToBeUsed\":\"BAH1\","
      "\"serverCertificate\":\"MAA=\"",
      "serverSigned1" },
    { "\"transactionId\":\"01\",\"serverSigned1\":\"MAOAAao\",\"serverSignature1\":\"XzcBAA==\","
      "\"euiccCiPKIdToBeUsed\":\"BAH1\",\"serverCertificate\":\"MAA=\"",
      "invalid base64" },
    { "\"transactionId\":\"01\",\"serverSigned1\":\"M@OAAao=\",\"serverSignature1\":\"XzcBAA==\","
      "\"euiccCiPKIdToBeUsed\":\"BAH1\",\"serverCertificate\":\"MAA=\"",
      "invalid base64" },
    { "\"transactionId\":\"01\",\"serverSigned1\":\"XzcBAA==\",\"serverSignature1\":\"XzcBAA==\","
      "\"euiccCiPKIdToBeUsed\":\"BAH1\",\"serverCertificate\":\"MAA=\"",
      "expected tag" },
    { "\"transactionId\":\"01\",\"serverSigned1\":\"MAOAAaoA\",\"serverSignature1\":\"XzcBAA==\","
      "\"euiccCiPKIdToBeUsed\":\"BAH1\",\"serverCertificate\":\"MAA=\"",
      "expected tag" },
    { "\"transactionId\":\"01\",\"serverSigned1\":\"MAOAAao=\",\"serverSignature1\":\"XzcBAA==\","
      "\"euiccCiPKIdToBeUsed\":[\"BAH1\"],\"serverCertificate\":\"MAA=\"",
      "euiccCiPKIdToBeUsed" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) body = NULL;
      g_autoptr (GError) error = NULL;

      if (cases[i].status == 500)
        body = unit_json_success (cases[i].body);
      else
        body = text (cases[i].body);
      g_assert_null (lpa_es9p_parse_initiate_authentication ("initiateAuthentication",
                                                             cases[i].status, body, &error));
      unit_assert_error (error, (gint) cases[i].code, cases[i].fragment);
    }
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    {
      g_autoptr (GBytes) body = unit_json_success (fields[i].members);
      g_autoptr (GError) error = NULL;

      g_assert_null (
          lpa_es9p_parse_initiate_authentication ("initiateAuthentication", 200, body, &error));
      unit_assert_error (error, LPA_ERROR_MALFORMED, fields[i].fragment);
    }
}

static void
test_authenticate_client (void)
{
  /* profileMetadata BF25 12 5A 0A … 91 01 41 92 01 42; smdpSigned2 30 06 80 01 AA 01 01 00. */
  g_autoptr (GBytes) metadata =
      unit_hex ("BF 25 12 5A 0A 98 10 32 54 76 98 10 32 54 F6 91 01 41 92 01 42");
  g_autofree char *md64 = lpa_base64_encode (metadata);
  g_autofree char *members = g_strdup_printf (
      "\"transactionId\":\"AA\",\"profileMetadata\":\"%s\",\"smdpSigned2\":\"MAaAAaoBAQA=\","
      "\"smdpSignature2\":\"XzcBAA==\",\"smdpCertificate\":\"MAA=\"",
      md64);
  g_autoptr (GBytes) body = unit_json_success (members);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaAuthenticateClientResponse) r =
      lpa_es9p_parse_authenticate_client (200, body, &error);
  g_autoptr (LpaSmdpSigned2) signed2 = NULL;

  g_assert_no_error (error);
  g_assert_true (g_bytes_equal (r->profile_metadata, metadata));
  signed2 = lpa_smdp_signed2_parse (r->smdp_signed2, &error);
  g_assert_no_error (error);
  unit_assert_hex (signed2->transaction_id, "AA");
  g_assert_false (signed2->cc_required);
  g_assert_null (signed2->bpp_euicc_otpk);
}

static void
test_handle_notification (void)
{
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) ok = unit_json_success (NULL);
  g_autoptr (GBytes) failed = unit_json_failed ("8.1", "6.1", NULL);
  g_autoptr (GBytes) junk = text ("<html>thanks</html>");
  g_autoptr (GError) error = NULL;

  g_assert_true (lpa_es9p_parse_handle_notification (204, empty, &error));
  g_assert_true (lpa_es9p_parse_handle_notification (200, ok, &error));
  /* A 2xx with a body that is not JSON (a captive portal's page) is no delivery. */
  g_assert_false (lpa_es9p_parse_handle_notification (202, junk, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_false (lpa_es9p_parse_handle_notification (200, failed, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_SERVER_REJECTED);
  g_clear_error (&error);
  g_assert_false (lpa_es9p_parse_handle_notification (404, empty, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_HTTP);
}

/* cancelSession's success carries no data: an empty 200 (osmo-smdpp's answer when its handler
 * returns nothing) or a 204 is the server having heard it. Taken for "not heard", the cancel was
 * sent again and again until esimd gave up. The same rules as handleNotification's, one by
 * one for both functions. */
static void
test_no_data_answers (void)
{
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) spaces = text (" \r\n");
  g_autoptr (GBytes) no_header = text ("{}");
  g_autoptr (GBytes) ok = unit_json_success (NULL);
  g_autoptr (GBytes) failed = unit_json_failed ("8.10.1", "3.9", NULL);
  g_autoptr (GBytes) junk = text ("<html>thanks</html>");
  gboolean (*parse[]) (guint, GBytes *, GError **) = {
    lpa_es9p_parse_cancel_session,
    lpa_es9p_parse_handle_notification,
  };

  for (guint i = 0; i < G_N_ELEMENTS (parse); i++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_true (parse[i](204, empty, &error));
      g_assert_true (parse[i](200, empty, &error));
      g_assert_true (parse[i](200, NULL, &error));
      g_assert_true (parse[i](200, no_header, &error));
      g_assert_true (parse[i](200, ok, &error));
      g_assert_no_error (error);
      g_assert_false (parse[i](200, junk, &error));
      g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
      g_clear_error (&error);
      g_assert_false (parse[i](200, spaces, &error));
      g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
      g_clear_error (&error);
      g_assert_false (parse[i](200, failed, &error));
      g_assert_nonnull (strstr (error->message, "subjectCode 8.10.1 reasonCode 3.9"));
      g_assert_false (g_error_matches (error, LPA_ERROR, LPA_ERROR_HTTP));
      g_assert_false (g_error_matches (error, LPA_ERROR, LPA_ERROR_MALFORMED));
      g_clear_error (&error);
      g_assert_false (parse[i](503, empty, &error));
      g_assert_error (error, LPA_ERROR, LPA_ERROR_HTTP);
    }
}

/* A function whose answer carries data, answered with an empty 2xx: named for what it is. */
static void
test_empty_answer_named (void)
{
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GError) error = NULL;

  g_assert_null (lpa_es9p_parse_authenticate_client (200, empty, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, "authenticateClient: empty response");
}

static void
test_signed_parts (void)
{
  g_autoptr (GBytes) signed1 = unit_hex (
      "30 3B 80 04 01 02 03 04 81 10 00112233445566778899AABBCCDDEEFF 83 0F 72 73 70 2E 65 78 61 6D"
      "70 6C 65 2E 63 6F 6D 84 10 FFEEDDCCBBAA99887766554433221100");
  g_autoptr (GBytes) short_challenge = unit_hex ("30 0B 80 01 01 81 01 00 83 00 84 00");
  g_autoptr (GBytes) signed2 = unit_hex ("30 0D 80 01 01 01 01 FF 5F 49 04 04 01 02 03");
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaServerSigned1) s1 = lpa_server_signed1_parse (signed1, &error);
  g_autoptr (LpaSmdpSigned2) s2 = NULL;

  g_assert_no_error (error);
  unit_assert_hex (s1->transaction_id, "01020304");
  unit_assert_hex (s1->euicc_challenge, "00112233445566778899AABBCCDDEEFF");
  g_assert_cmpstr (s1->server_address, ==, "rsp.example.com");
  unit_assert_hex (s1->server_challenge, "FFEEDDCCBBAA99887766554433221100");
  g_assert_null (lpa_server_signed1_parse (short_challenge, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_clear_error (&error);
  s2 = lpa_smdp_signed2_parse (signed2, &error);
  g_assert_no_error (error);
  g_assert_true (s2->cc_required);
  unit_assert_hex (s2->bpp_euicc_otpk, "04010203");
}

static void
test_es11 (void)
{
  g_autoptr (GBytes) body = unit_json_success (
      "\"transactionId\":\"0A0B\",\"eventEntries\":[{\"eventId\":\"EV-1\",\"rspServerAddress\":"
      "\"smdp.example.com\"},{\"eventId\":\"EV-2\",\"rspServerAddress\":\"other.example\","
      "\"extra\":true}]");
  g_autoptr (GBytes) none = unit_json_success ("\"transactionId\":\"0A0B\"");
  g_autoptr (GBytes) bad_entry =
      unit_json_success ("\"transactionId\":\"0A0B\",\"eventEntries\":[{\"eventId\":\"EV-1\"}]");
  g_autoptr (GBytes) bad_address = unit_json_success (
      "\"transactionId\":\"0A0B\",\"eventEntries\":[{\"eventId\":\"E\",\"rspServerAddress\":"
      "\"https://x\"}]");
  g_autoptr (GBytes) not_array =
      unit_json_success ("\"transactionId\":\"0A0B\",\"eventEntries\":{}");
  /* One usable event among entries that are not (hand-built): the usable one is kept. */
  g_autoptr (GBytes) mixed = unit_json_success (
      "\"transactionId\":\"0A0B\",\"eventEntries\":[7,{\"eventId\":\"EV-1\"},{\"eventId\":"
      "\"EV-2\",\"rspServerAddress\":\"https://x\"},{\"eventId\":\"EV-3\",\"rspServerAddress\":"
      "\"smdp.example.com\"},{\"eventId\":5,\"rspServerAddress\":\"smdp.example.com\"}]");
  g_autoptr (LpaEs11AuthenticateClientResponse) some = NULL;
  g_autoptr (GBytes) unknown_event = unit_json_failed ("8.9.5", "3.9", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEs11AuthenticateClientResponse) r =
      lpa_es11_parse_authenticate_client (200, body, &error);
  g_autoptr (LpaEs11AuthenticateClientResponse) empty = NULL;
  LpaEventEntry *e;

  g_assert_no_error (error);
  g_assert_cmpuint (r->events->len, ==, 2);
  e = g_ptr_array_index (r->events, 1);
  g_assert_cmpstr (e->event_id, ==, "EV-2");
  g_assert_cmpstr (e->rsp_server_address, ==, "other.example");
  empty = lpa_es11_parse_authenticate_client (200, none, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->events->len, ==, 0);
  g_assert_cmpuint (r->skipped, ==, 0);
  /* Every entry unusable: an error that says why the first one was. */
  g_assert_null (lpa_es11_parse_authenticate_client (200, bad_entry, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED,
                     "no event entry can be used (1 left out); the first: ES11 authenticateClient: "
                     "rspServerAddress missing");
  g_clear_error (&error);
  g_assert_null (lpa_es11_parse_authenticate_client (200, bad_address, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, "rspServerAddress is not a host name");
  g_clear_error (&error);
  some = lpa_es11_parse_authenticate_client (200, mixed, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (some->events->len, ==, 1);
  g_assert_cmpuint (some->skipped, ==, 4);
  e = g_ptr_array_index (some->events, 0);
  g_assert_cmpstr (e->event_id, ==, "EV-3");
  g_assert_cmpstr (e->rsp_server_address, ==, "smdp.example.com");
  g_assert_null (lpa_es11_parse_authenticate_client (200, not_array, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_null (lpa_es11_parse_authenticate_client (200, unknown_event, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MATCHING_ID_REFUSED);
}

static gboolean
parse_initiate (GBytes *input, GError **error)
{
  g_autoptr (LpaInitiateAuthenticationResponse) r =
      lpa_es9p_parse_initiate_authentication ("initiateAuthentication", 200, input, error);
  return r != NULL;
}

static gboolean
parse_events (GBytes *input, GError **error)
{
  g_autoptr (LpaEs11AuthenticateClientResponse) r =
      lpa_es11_parse_authenticate_client (200, input, error);
  return r != NULL;
}

static gboolean
parse_signed1 (GBytes *input, GError **error)
{
  g_autoptr (LpaServerSigned1) r = lpa_server_signed1_parse (input, error);
  return r != NULL;
}

static gboolean
parse_client (GBytes *input, GError **error)
{
  g_autoptr (LpaAuthenticateClientResponse) r =
      lpa_es9p_parse_authenticate_client (200, input, error);
  return r != NULL;
}

static gboolean
parse_bpp_response (GBytes *input, GError **error)
{
  g_autoptr (LpaBoundProfilePackageResponse) r =
      lpa_es9p_parse_get_bound_profile_package (200, input, error);
  return r != NULL;
}

static gboolean
parse_signed2 (GBytes *input, GError **error)
{
  g_autoptr (LpaSmdpSigned2) r = lpa_smdp_signed2_parse (input, error);
  return r != NULL;
}

static gboolean
parse_cancel_response (GBytes *input, GError **error)
{
  return lpa_es9p_parse_cancel_session (200, input, error);
}

static void
test_robustness (void)
{
  g_autoptr (GBytes) init = unit_json_success (INIT_MEMBERS);
  g_autoptr (GBytes) events = unit_json_success (
      "\"transactionId\":\"0A0B\",\"eventEntries\":[{\"eventId\":\"EV-1\",\"rspServerAddress\":"
      "\"smdp.example.com\"}]");
  g_autoptr (GBytes) signed1 = unit_hex (
      "30 3B 80 04 01 02 03 04 81 10 00112233445566778899AABBCCDDEEFF 83 0F 72 73 70 2E 65 78 61 6D"
      "70 6C 65 2E 63 6F 6D 84 10 FFEEDDCCBBAA99887766554433221100");

  unit_check_truncations (parse_initiate, init);
  unit_check_mutations (parse_initiate, init);
  unit_check_truncations (parse_events, events);
  unit_check_mutations (parse_events, events);
  unit_check_truncations (parse_signed1, signed1);
  unit_check_mutations (parse_signed1, signed1);
  {
    g_autoptr (GBytes) client = unit_json_success (
        "\"transactionId\":\"AA\",\"profileMetadata\":\"vyUSWgqYEDJUdpgQMlT2kQFBkgFC\","
        "\"smdpSigned2\":\"MAaAAaoBAQA=\",\"smdpSignature2\":\"XzcBAA==\","
        "\"smdpCertificate\":\"MAA=\"");
    g_autoptr (GBytes) bpp =
        unit_json_success ("\"transactionId\":\"01\",\"boundProfilePackage\":\"vzYA\"");
    g_autoptr (GBytes) signed2 = unit_hex ("30 0D 80 01 01 01 01 FF 5F 49 04 04 01 02 03");
    g_autoptr (GBytes) cancel = unit_json_success (NULL);
    g_autoptr (GError) error = NULL;

    g_assert_true (parse_client (client, &error));
    g_assert_no_error (error);
    unit_check_truncations (parse_client, client);
    unit_check_mutations (parse_client, client);
    unit_check_truncations (parse_bpp_response, bpp);
    unit_check_mutations (parse_bpp_response, bpp);
    unit_check_truncations (parse_signed2, signed2);
    unit_check_mutations (parse_signed2, signed2);
    /* Every prefix but the empty one (an empty answer is cancelSession executed:
     * test_no_data_answers) is refused. */
    for (gsize n = 1; n < g_bytes_get_size (cancel); n++)
      {
        g_autoptr (GBytes) prefix = g_bytes_new (g_bytes_get_data (cancel, NULL), n);
        g_autoptr (GError) local = NULL;

        g_assert_false (parse_cancel_response (prefix, &local));
        g_assert_error (local, LPA_ERROR, LPA_ERROR_MALFORMED);
      }
    unit_check_mutations (parse_cancel_response, cancel);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/es9p/requests", test_requests);
  g_test_add_func ("/es9p/initiate-ok", test_initiate_ok);
  g_test_add_func ("/es9p/warning-is-success", test_warning_is_success);
  g_test_add_func ("/es9p/statuses", test_statuses);
  g_test_add_func ("/es9p/malformed", test_malformed);
  g_test_add_func ("/es9p/failed-in-http-error", test_failed_in_http_error);
  g_test_add_func ("/es9p/authenticate-client", test_authenticate_client);
  g_test_add_func ("/es9p/handle-notification", test_handle_notification);
  g_test_add_func ("/es9p/no-data-answers", test_no_data_answers);
  g_test_add_func ("/es9p/empty-answer-named", test_empty_answer_named);
  g_test_add_func ("/es9p/signed-parts", test_signed_parts);
  g_test_add_func ("/es11/events", test_es11);
  g_test_add_func ("/es9p/robustness", test_robustness);
  return g_test_run ();
}
