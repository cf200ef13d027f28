/* test-fuzz-regressions.c — one unit test per liblpa defect the fuzzers found (tests/fuzz). */
#include "unit-support.h"

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
  /* handleNotification: a 2xx is delivery whatever the body, unless it is a Failed header. */
  g_assert_true (lpa_es9p_parse_handle_notification (200, body, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/fuzz-regressions/empty-response", test_empty_response);
  g_test_add_func ("/fuzz-regressions/whitespace-body", test_whitespace_body);
  return g_test_run ();
}
