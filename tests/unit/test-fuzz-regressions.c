/* test-fuzz-regressions.c — one unit test per liblpa defect the fuzzers found (tests/fuzz). */
#include "unit-support.h"

#include <string.h>

/* fuzz-der, fuzz-es10-responses: an empty response (an eUICC answering 9000 without data) is a
 * GBytes whose data pointer is NULL; the reader computed NULL + 0, undefined behaviour that
 * UBSan reports. The reader must point into real memory even then. */
static void
test_empty_response (void)
{
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) profiles = NULL;
  g_autoptr (GPtrArray) segments = NULL;
  g_autoptr (LpaEuiccInfo2) info2 = NULL;
  g_autofree char *eid = NULL;
  LpaDerReader reader;
  LpaTlv tlv;

  g_assert_null (g_bytes_get_data (empty, NULL));
  lpa_der_reader_init (&reader, NULL, 0);
  g_assert_nonnull (reader.start);
  g_assert_true (reader.pos == reader.start && reader.end == reader.start);
  g_assert_true (lpa_der_reader_at_end (&reader));
  g_assert_false (lpa_der_reader_next (&reader, &tlv, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, "end of the data");
  g_clear_error (&error);

  g_assert_false (lpa_der_parse (NULL, 0, &tlv, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, NULL);
  g_clear_error (&error);

  profiles = lpa_es10c_parse_profiles_info (empty, &error);
  g_assert_null (profiles);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "GetProfilesInfo");
  g_clear_error (&error);
  eid = lpa_es10c_parse_eid (empty, &error);
  g_assert_null (eid);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "GetEID");
  g_clear_error (&error);
  info2 = lpa_euicc_info2_parse (empty, &error);
  g_assert_null (info2);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "EUICCInfo2");
  g_clear_error (&error);
  segments = lpa_bpp_segments (empty, &error);
  g_assert_null (segments);
  unit_assert_error (error, LPA_ERROR_MALFORMED, NULL);
}

/* fuzz-es9p: a 200 answer whose body is only whitespace loads as JSON without a root node, and
 * the root was then tested with JSON_NODE_HOLDS_OBJECT (NULL): a GLib critical (fatal in the
 * tests, G_DEBUG=fatal-criticals) instead of a malformed-response error. */
static void
test_whitespace_body (void)
{
  g_autoptr (GBytes) body = g_bytes_new_static ("\n \t\r\n", 5);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaInitiateAuthenticationResponse) init = NULL;
  g_autoptr (LpaAuthenticateClientResponse) client = NULL;
  g_autoptr (LpaBoundProfilePackageResponse) bpp = NULL;
  g_autoptr (LpaEs11AuthenticateClientResponse) es11 = NULL;

  init = lpa_es9p_parse_initiate_authentication ("initiateAuthentication", 200, body, &error);
  g_assert_null (init);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "initiateAuthentication: response is not a JSON");
  g_clear_error (&error);
  client = lpa_es9p_parse_authenticate_client (200, body, &error);
  g_assert_null (client);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "authenticateClient: response is not a JSON");
  g_clear_error (&error);
  bpp = lpa_es9p_parse_get_bound_profile_package (200, body, &error);
  g_assert_null (bpp);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "not a JSON");
  g_clear_error (&error);
  g_assert_false (lpa_es9p_parse_cancel_session (200, body, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, "not a JSON");
  g_clear_error (&error);
  es11 = lpa_es11_parse_authenticate_client (200, body, &error);
  g_assert_null (es11);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "not a JSON");
  g_clear_error (&error);
  /* handleNotification too: a 2xx whose body is not JSON is no delivery (tests/faults found a
   * notification removed from the card after such an answer). */
  g_assert_false (lpa_es9p_parse_handle_notification (200, body, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, "not a JSON");
}

/* fuzz-es10-responses: the structs use -1 for "no error code" (and ok), and a list parser took the
 * error code -1 for its "no empty-list code" marker: `BF2D { 81 -1 }` read as an empty profile
 * list and `BF41 { 81 -1 }` as a CancelSession error whose code said ok. Negative codes, which
 * SGP.22 never assigns, are malformed. */
static void
test_negative_code (void)
{
  static const char *const lists[] = { "BF 2D 03 81 01 FF", "BF 28 03 81 01 FF",
                                       "BF 2B 03 81 01 FF" };
  g_autoptr (GBytes) cancel = unit_hex ("BF 41 03 81 01 FF");
  g_autoptr (GBytes) auth = unit_hex ("BF 38 09 A1 07 80 02 01 02 02 01 FF");
  g_autoptr (GBytes) enable = unit_hex ("BF 31 03 80 01 FF");
  g_autoptr (GBytes) big = unit_hex ("BF 31 06 80 04 80 00 00 00");
  g_autoptr (LpaCancelSessionResponse) cancelled = NULL;
  g_autoptr (LpaSignedResponse) signed_response = NULL;
  g_autoptr (GError) error = NULL;
  gint code = 0;

  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      g_autoptr (GBytes) bytes = unit_hex (lists[i]);
      g_autoptr (GPtrArray) items = NULL;

      items = i == 0   ? lpa_es10c_parse_profiles_info (bytes, &error)
              : i == 1 ? lpa_es10b_parse_list_notification (bytes, &error)
                       : lpa_es10b_parse_retrieve_notifications (bytes, &error);
      g_assert_null (items);
      unit_assert_error (error, LPA_ERROR_MALFORMED, "negative result code -1");
      g_clear_error (&error);
    }
  cancelled = lpa_es10b_parse_cancel_session (cancel, &error);
  g_assert_null (cancelled);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "CancelSession response: negative result code");
  g_clear_error (&error);
  signed_response = lpa_es10b_parse_authenticate_server (auth, &error);
  g_assert_null (signed_response);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "negative result code");
  g_clear_error (&error);
  g_assert_false (lpa_es10c_parse_enable_profile (enable, &code, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, "EnableProfile response: negative result code");
  g_assert_cmpint (code, ==, -1);
  g_clear_error (&error);
  /* Beyond 32 bits is malformed too (the INTEGER decoder's range). */
  g_assert_false (lpa_es10c_parse_enable_profile (big, &code, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, NULL);
}

/* A hand-made input for fuzz-es9p (libFuzzer's default input length never gets there): json-glib
 * recurses once per nesting level without a limit, so 200 000 '[' in an answer overflowed the
 * stack (a crash of esimd from any server an activation code names). Bounded now; the ES11
 * parser shares the code. */
static void
test_deep_json (void)
{
  const gsize n = 200000;
  g_autofree char *text = g_malloc (n);
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GBytes) many = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaAuthenticateClientResponse) client = NULL;
  g_autoptr (LpaEs11AuthenticateClientResponse) es11 = NULL;
  g_autoptr (GString) events = g_string_new ("{\"header\":{\"functionExecutionStatus\":"
                                             "{\"status\":\"Executed-Success\"}},"
                                             "\"transactionId\":\"0102\",\"eventEntries\":[");

  memset (text, '[', n);
  body = g_bytes_new_take (g_steal_pointer (&text), n);
  client = lpa_es9p_parse_authenticate_client (200, body, &error);
  g_assert_null (client);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "more than 4096 arrays and objects");
  g_clear_error (&error);
  es11 = lpa_es11_parse_authenticate_client (200, body, &error);
  g_assert_null (es11);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "more than 4096 arrays and objects");
  g_clear_error (&error);
  g_clear_pointer (&es11, lpa_es11_authenticate_client_response_free);

  /* A long but flat answer is still read (1000 events are 1002 containers), its first
   * LPA_ES11_MAX_EVENTS events kept. */
  for (guint i = 0; i < 1000; i++)
    g_string_append_printf (events, "%s{\"eventId\":\"E%u\",\"rspServerAddress\":\"a.example\"}",
                            i ? "," : "", i);
  g_string_append (events, "]}");
  many = g_bytes_new (events->str, events->len);
  es11 = lpa_es11_parse_authenticate_client (200, many, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (es11->events->len, ==, LPA_ES11_MAX_EVENTS);
  g_assert_cmpuint (es11->skipped, ==, 1000 - LPA_ES11_MAX_EVENTS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fuzz-regressions/empty-response", test_empty_response);
  g_test_add_func ("/fuzz-regressions/whitespace-body", test_whitespace_body);
  g_test_add_func ("/fuzz-regressions/negative-code", test_negative_code);
  g_test_add_func ("/fuzz-regressions/deep-json", test_deep_json);
  return g_test_run ();
}
