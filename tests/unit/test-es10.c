/* test-es10.c — unit tests of the ES10a/b/c builders and parsers against byte-exact vectors. */
#include "unit-support.h"

#include <json-glib/json-glib.h>

/* Appendix A of the digest (asn1c 0.9.28 output from the SGP.22 v2.2.2 module): the ICCID is
 * 8901234567890123456, the transaction ID 01..10. */
#define ICCID     "8901234567890123456"
#define ICCID_BCD "98 10 32 54 76 98 10 32 54 F6"
#define TID       "01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 10"

static GBytes *
tid (void)
{
  return unit_hex (TID);
}

/* Requests ------------------------------------------------------------------------------------ */

/* Decodes @tlv and, recursively, every constructed child: the vector reads back as DER. Returns
 * the number of TLVs seen. */
static guint
walk_der (const LpaTlv *tlv)
{
  LpaDerReader reader;
  LpaTlv child;
  guint n = 1;

  if (!tlv->constructed)
    return n;
  lpa_der_reader_init_children (&reader, tlv);
  while (!lpa_der_reader_at_end (&reader))
    {
      g_assert_true (lpa_der_reader_next (&reader, &child, NULL));
      n += walk_der (&child);
    }
  return n;
}

static void
assert_decodes (GBytes *bytes)
{
  LpaTlv tlv;

  g_assert_true (
      lpa_der_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &tlv, NULL));
  g_assert_cmpuint (walk_der (&tlv), >=, 1);
}

static void
test_appendix_requests (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) aid = unit_hex ("A0000005591010FFFFFFFF8900001000");
  g_autoptr (GBytes) t = tid ();
  LpaProfileId by_iccid = { ICCID, NULL };
  LpaProfileId by_aid = { NULL, aid };
  LpaProfileSearch search_iccid = { LPA_PROFILE_SEARCH_ICCID, ICCID, NULL, 0 };
  LpaProfileSearch search_class = { LPA_PROFILE_SEARCH_CLASS, NULL, NULL,
                                    LPA_PROFILE_CLASS_OPERATIONAL };
  static const guint32 tags[] = { 0x5A, 0x4F, 0x9F70, 0x90, 0x91, 0x92, 0x95 };
  GBytes *b;

#define CHECK(expr, hex)                                                                           \
  do                                                                                               \
    {                                                                                              \
      b = (expr);                                                                                  \
      g_assert_no_error (error);                                                                   \
      unit_assert_hex (b, hex);                                                                    \
      assert_decodes (b);                                                                          \
      g_bytes_unref (b);                                                                           \
    }                                                                                              \
  while (0)

  CHECK (lpa_es10c_get_eid_request (), "BF 3E 03 5C 01 5A");
  CHECK (lpa_es10b_get_euicc_challenge_request (), "BF 2E 00");
  CHECK (lpa_es10a_get_configured_addresses_request (), "BF 3C 00");
  CHECK (lpa_es10c_get_profiles_info_request (NULL, NULL, 0, &error), "BF 2D 00");
  CHECK (lpa_es10c_get_profiles_info_request (&search_iccid, NULL, 0, &error),
         "BF 2D 0E A0 0C 5A 0A" ICCID_BCD);
  CHECK (lpa_es10c_get_profiles_info_request (&search_class, tags, G_N_ELEMENTS (tags), &error),
         "BF 2D 0F A0 03 95 01 02 5C 08 5A 4F 9F 70 90 91 92 95");
  CHECK (lpa_es10c_enable_profile_request (&by_iccid, TRUE, &error),
         "BF 31 11 A0 0C 5A 0A" ICCID_BCD "81 01 FF");
  CHECK (lpa_es10c_disable_profile_request (&by_aid, FALSE, &error),
         "BF 32 17 A0 12 4F 10 A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 10 00 81 01 00");
  CHECK (lpa_es10c_delete_profile_request (&by_iccid, &error), "BF 33 0C 5A 0A" ICCID_BCD);
  CHECK (lpa_es10c_memory_reset_request (LPA_RESET_DELETE_OPERATIONAL_PROFILES |
                                             LPA_RESET_DELETE_FIELD_LOADED_TEST_PROFILES |
                                             LPA_RESET_DEFAULT_SMDP_ADDRESS,
                                         &error),
         "BF 34 04 82 02 05 E0");
  CHECK (lpa_es10c_set_nickname_request (ICCID, "Work", &error),
         "BF 29 12 5A 0A" ICCID_BCD "90 04 57 6F 72 6B");
  CHECK (lpa_es10a_set_default_dp_address_request ("smdp.example.com", &error),
         "BF 3F 12 80 10 73 6D 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D");
  CHECK (lpa_es10b_list_notification_request (0), "BF 28 00");
  CHECK (lpa_es10b_list_notification_request (LPA_NOTIFICATION_INSTALL), "BF 28 04 81 02 07 80");
  CHECK (lpa_es10b_retrieve_notification_request (5), "BF 2B 05 A0 03 80 01 05");
  CHECK (lpa_es10b_remove_notification_request (5), "BF 30 03 80 01 05");
  CHECK (lpa_es10b_remove_notification_request (200), "BF 30 04 80 02 00 C8");
  CHECK (lpa_es10b_cancel_session_request (t, LPA_CANCEL_END_USER_REJECTION, &error),
         "BF 41 15 80 10" TID "81 01 00");
  CHECK (lpa_es10b_cancel_session_request (t, LPA_CANCEL_LOAD_BPP_EXECUTION_ERROR, &error),
         "BF 41 15 80 10" TID "81 01 05");

  {
    static const guint8 tac[4] = { 0x35, 0x29, 0x06, 0x11 };
    LpaDeviceCapabilities caps = { 0 };
    LpaCtxParams1 full = { "ABC-123", "352906112345678", tac, &caps };
    LpaDeviceCapabilities none = { 0 };
    LpaCtxParams1 bare = { NULL, NULL, NULL, &none };

    caps.present[LPA_DEVCAP_EUTRAN_EPC] = TRUE;
    caps.release[LPA_DEVCAP_EUTRAN_EPC][0] = 15;
    CHECK (lpa_es10b_ctx_params1 (&full, &error),
           "A0 22 80 07 41 42 43 2D 31 32 33 A1 17 80 04 35 29 06 11 A1 05 85 03 0F 00 00"
           "82 08 53 92 60 11 32 54 76 F8");
    CHECK (lpa_es10b_ctx_params1 (&bare, &error), "A0 0A A1 08 80 04 35 29 06 11 A1 00");
  }
#undef CHECK
}

/* Own vectors, hand-derived from the v2.2.2 ASN.1 (automatic tags applied by hand). */
static void
test_own_requests (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) ctx = NULL;
  g_autoptr (GBytes) defaults = NULL;
  g_autoptr (GBytes) retrieve_all = lpa_es10b_retrieve_notifications_request ();
  g_autoptr (GBytes) retrieve_enable =
      lpa_es10b_retrieve_notifications_by_event_request (LPA_NOTIFICATION_ENABLE);
  g_autoptr (GBytes) rat = lpa_es10b_get_rat_request ();
  g_autoptr (GBytes) info1 = lpa_es10b_get_euicc_info1_request ();
  g_autoptr (GBytes) info2 = lpa_es10b_get_euicc_info2_request ();
  LpaCtxParams1 with_imei = { "", "352906112345678", NULL, NULL };
  LpaCtxParams1 plain = { NULL, NULL, NULL, NULL };

  unit_assert_hex (retrieve_all, "BF 2B 00");
  unit_assert_hex (retrieve_enable, "BF 2B 06 A0 04 81 02 06 40");
  unit_assert_hex (rat, "BF 43 00");
  unit_assert_hex (info1, "BF 20 00");
  unit_assert_hex (info2, "BF 22 00");
  /* An empty matching ID is sent as 80 00 (AOSP); the TAC is the IMEI's first 4 bytes; the
   * default capabilities are GSM, UTRAN and E-UTRAN/EPC release 15. */
  ctx = lpa_es10b_ctx_params1 (&with_imei, &error);
  unit_assert_hex (ctx, "A0 25 80 00 A1 21 80 04 53 92 60 11 A1 0F 80 03 0F 00 00 81 03 0F 00 00"
                        "85 03 0F 00 00 82 08 53 92 60 11 32 54 76 F8");
  defaults = lpa_es10b_ctx_params1 (&plain, &error);
  unit_assert_hex (
      defaults, "A0 19 A1 17 80 04 35 29 06 11 A1 0F 80 03 0F 00 00 81 03 0F 00 00 85 03 0F 00 00");
}

static void
test_request_arguments (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) short_aid = unit_hex ("A000000559");
  g_autoptr (GBytes) tiny_aid = unit_hex ("A0000005");
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GBytes) ok_aid = NULL;
  LpaProfileId neither = { NULL, NULL };
  LpaProfileId both = { ICCID, short_aid };
  LpaProfileId tiny = { NULL, tiny_aid };
  LpaProfileId five = { NULL, short_aid };
  LpaCtxParams1 bad_imei = { NULL, "12345", NULL, NULL };
  char long_nick[66];

  memset (long_nick, 'x', 65);
  long_nick[65] = '\0';
  g_assert_null (lpa_es10c_enable_profile_request (&neither, TRUE, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (lpa_es10c_enable_profile_request (&both, TRUE, &error));
  g_clear_error (&error);
  g_assert_null (lpa_es10c_delete_profile_request (&tiny, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  ok_aid = lpa_es10c_delete_profile_request (&five, &error);
  unit_assert_hex (ok_aid, "BF 33 07 4F 05 A0 00 00 05 59");
  g_assert_null (lpa_es10c_set_nickname_request (ICCID, long_nick, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_null (lpa_es10c_set_nickname_request ("123", "x", &error));
  g_clear_error (&error);
  g_assert_null (lpa_es10c_memory_reset_request (0, &error));
  g_clear_error (&error);
  g_assert_null (lpa_es10b_cancel_session_request (empty, LPA_CANCEL_TIMEOUT, &error));
  g_clear_error (&error);
  g_assert_null (lpa_es10b_ctx_params1 (&bad_imei, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
}

/* AuthenticateServer and PrepareDownload copy the server's TLVs unchanged, and refuse a field
 * that is not the TLV it should be. */
static void
test_session_requests (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) signed1 = unit_hex ("30 03 80 01 AA");
  g_autoptr (GBytes) sig = unit_hex ("5F 37 02 01 02");
  g_autoptr (GBytes) pkid = unit_hex ("04 02 F5 41");
  g_autoptr (GBytes) cert = unit_hex ("30 02 05 00");
  g_autoptr (GBytes) ctx = unit_hex ("A0 0A A1 08 80 04 35 29 06 11 A1 00");
  g_autoptr (GBytes) auth = NULL;
  g_autoptr (GBytes) prepare = NULL;
  g_autoptr (GBytes) prepare_cc = NULL;
  g_autoptr (GBytes) signed2 = unit_hex ("30 06 80 01 AA 01 01 FF");
  guint8 hash[32];

  auth = lpa_es10b_authenticate_server_request (signed1, sig, pkid, cert, ctx, &error);
  unit_assert_hex (auth, "BF 38 1E 30 03 80 01 AA 5F 37 02 01 02 04 02 F5 41 30 02 05 00"
                         "A0 0A A1 08 80 04 35 29 06 11 A1 00");
  g_assert_null (lpa_es10b_authenticate_server_request (sig, sig, pkid, cert, ctx, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "serverSigned1"));
  g_clear_error (&error);

  prepare = lpa_es10b_prepare_download_request (signed2, sig, cert, NULL, &error);
  unit_assert_hex (prepare, "BF 21 11 30 06 80 01 AA 01 01 FF 5F 37 02 01 02 30 02 05 00");
  memset (hash, 0xCC, sizeof hash);
  prepare_cc = lpa_es10b_prepare_download_request (signed2, sig, cert, hash, &error);
  unit_assert_hex (prepare_cc,
                   "BF 21 33 30 06 80 01 AA 01 01 FF 5F 37 02 01 02"
                   "04 20 CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"
                   "30 02 05 00");
  g_assert_null (lpa_es10b_prepare_download_request (signed2, sig, sig, NULL, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

/* SGP22-CRYPTO §6: CC 12345678 with transaction ID aaf1c75c… (bsp-vector-1's session). */
static void
test_hash_cc (void)
{
  g_autoptr (GBytes) t = unit_hex ("aaf1c75c473a44678f51de9f419eb0f8");
  g_autoptr (GBytes) got = NULL;
  guint8 out[32];

  lpa_hash_cc ("12345678", t, out);
  got = g_bytes_new (out, sizeof out);
  unit_assert_hex (got, "eb3ba9bd9339c996c38b9bfd9b761b440935c5cbe7b20d9abca66018215fa80a");
}

/* Responses ----------------------------------------------------------------------------------- */

#define PROFILE_LIST_1                                                                             \
  "BF 2D 33 A0 31 E3 2F 5A 0A 98 10 32 54 76 98 10 32 54 F6 4F 10 A0 00 00 05 59 10 10 FF FF FF "  \
  "FF"                                                                                             \
  "89 00 00 11 00 9F 70 01 01 91 02 4F 70 92 04 50 6C 61 6E 95 01 02"
#define NOTIFICATION_LIST_1                                                                        \
  "BF 28 28 A0 26 BF 2F 23 80 01 00 81 02 06 40 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"   \
  "5A 0A 98 10 32 54 76 98 10 32 54 F6"
#define PIR_ERROR                                                                                  \
  "BF 37 45 BF 27 3B 80 10" TID "BF 2F 17 80 01 07 81 02 07 80 0C 0E 64 70 2E 65 78 61"            \
  "6D 70 6C 65 2E 63 6F 6D 06 03 88 37 0A A2 08 A1 06 80 01 05 81 01 0C 5F 37 04 AA BB CC DD"

static void
test_appendix_profiles (void)
{
  g_autoptr (GBytes) response = unit_hex (PROFILE_LIST_1);
  g_autoptr (GBytes) empty = unit_hex ("BF 2D 02 A0 00");
  g_autoptr (GBytes) failed = unit_hex ("BF 2D 03 81 01 7F");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10c_parse_profiles_info (response, &error);
  g_autoptr (GPtrArray) none = NULL;
  LpaProfileInfo *p;
  g_auto (LpaDerWriter) w = { 0 };
  g_autoptr (GBytes) again = NULL;
  guint8 bcd[10];

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  p = g_ptr_array_index (list, 0);
  g_assert_cmpstr (p->iccid, ==, ICCID);
  unit_assert_hex (p->isdp_aid, "A0000005591010FFFFFFFF8900001100");
  g_assert_cmpint (p->state, ==, LPA_PROFILE_STATE_ENABLED);
  g_assert_cmpstr (p->service_provider_name, ==, "Op");
  g_assert_cmpstr (p->profile_name, ==, "Plan");
  g_assert_cmpint (p->profile_class, ==, LPA_PROFILE_CLASS_OPERATIONAL);
  g_assert_true (p->has_profile_class);
  g_assert_null (p->nickname);
  g_assert_cmpint (p->icon_type, ==, LPA_ICON_TYPE_NONE);
  g_assert_false (p->has_ppr);

  /* Encoding the decoded fields again gives the vector back. */
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF2D);
  lpa_der_writer_begin (&w, 0xA0);
  lpa_der_writer_begin (&w, 0xE3);
  lpa_iccid_to_bcd (p->iccid, bcd, NULL);
  lpa_der_write (&w, 0x5A, bcd, sizeof bcd);
  lpa_der_write_bytes (&w, 0x4F, p->isdp_aid);
  lpa_der_write_uint (&w, 0x9F70, (guint32) p->state);
  lpa_der_write_utf8 (&w, 0x91, p->service_provider_name);
  lpa_der_write_utf8 (&w, 0x92, p->profile_name);
  lpa_der_write_uint (&w, 0x95, (guint32) p->profile_class);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  again = lpa_der_writer_finish (&w);
  unit_assert_hex (again, PROFILE_LIST_1);

  none = lpa_es10c_parse_profiles_info (empty, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (none->len, ==, 0);
  g_assert_null (lpa_es10c_parse_profiles_info (failed, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_EUICC);
  g_assert_cmpstr (error->message, ==, "GetProfilesInfo: undefinedError(127)");
}

static void
test_appendix_notifications (void)
{
  g_autoptr (GBytes) response = unit_hex (NOTIFICATION_LIST_1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10b_parse_list_notification (response, &error);
  LpaNotificationMetadata *m;
  g_auto (LpaDerWriter) w = { 0 };
  g_autoptr (GBytes) again = NULL;
  guint8 bcd[10];

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  m = g_ptr_array_index (list, 0);
  /* Sequence number 0 is a real notification. */
  g_assert_cmpuint (m->seq, ==, 0);
  g_assert_cmpuint (m->operation, ==, LPA_NOTIFICATION_ENABLE);
  g_assert_cmpuint (m->events, ==, LPA_NOTIFICATION_ENABLE);
  g_assert_cmpstr (m->address, ==, "dp.example.com");
  g_assert_cmpstr (m->iccid, ==, ICCID);

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF28);
  lpa_der_writer_begin (&w, 0xA0);
  lpa_der_writer_begin (&w, 0xBF2F);
  lpa_der_write_uint (&w, 0x80, m->seq);
  lpa_der_write_bits (&w, 0x81, m->events);
  lpa_der_write_utf8 (&w, 0x0C, m->address);
  lpa_iccid_to_bcd (m->iccid, bcd, NULL);
  lpa_der_write (&w, 0x5A, bcd, sizeof bcd);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  again = lpa_der_writer_finish (&w);
  unit_assert_hex (again, NOTIFICATION_LIST_1);
}

/* Own vector, SGP.22 v3: an eUICC that ran a remote (RPM) disable lists its notification with
 * notificationRpmDisable (bit 5: 81 02 02 04) beside a local delete (bit 3: 81 02 04 10). Both are
 * pending notifications to deliver; neither makes the list malformed. */
#define NOTIFICATION_LIST_RPM                                                                      \
  "BF 28 2A A0 28"                                                                                 \
  "BF 2F 11 80 01 07 81 02 02 04 0C 08 72 70 6D 2E 74 65 73 74"                                    \
  "BF 2F 11 80 01 08 81 02 04 10 0C 08 64 70 2E 6C 6F 63 61 6C"

static void
test_notifications_rpm (void)
{
  g_autoptr (GBytes) response = unit_hex (NOTIFICATION_LIST_RPM);
  g_autoptr (GBytes) none = unit_hex ("BF 28 0F A0 0D BF 2F 0A 80 01 09 81 02 00 00 0C 01 78");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10b_parse_list_notification (response, &error);
  LpaNotificationMetadata *m;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  m = g_ptr_array_index (list, 0);
  g_assert_cmpuint (m->seq, ==, 7);
  g_assert_cmpuint (m->events, ==, 1u << 5);
  g_assert_cmpuint (m->operation, ==, 1u << 5);
  g_assert_cmpstr (lpa_notification_event_name (m->operation), ==, "rpm-disable");
  g_assert_cmpstr (m->address, ==, "rpm.test");
  m = g_ptr_array_index (list, 1);
  g_assert_cmpuint (m->operation, ==, LPA_NOTIFICATION_DELETE);
  /* A notification that names no event at all is still the card's, for its server: listed as
   * "unknown" (operation 0), as lpac lists it (test_notification_unreadable_items). */
  {
    g_autoptr (GPtrArray) without = lpa_es10b_parse_list_notification (none, &error);
    g_autoptr (LpaNotificationMetadata) parsed = NULL;
    LpaTlv tlv;

    g_assert_no_error (error);
    g_assert_cmpuint (without->len, ==, 1);
    g_assert_true (
        lpa_der_parse (g_bytes_get_data (none, NULL) + 5, g_bytes_get_size (none) - 5, &tlv, NULL));
    parsed = lpa_notification_metadata_parse (&tlv, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (parsed->seq, ==, 9);
    g_assert_cmpuint (parsed->events, ==, 0);
    g_assert_cmpstr (lpa_notification_event_name (parsed->operation), ==, "unknown");
    g_assert_cmpstr (parsed->address, ==, "x");
  }
}

/* Own vector, SGP.22 v3 RetrieveNotificationsList: a loadRpmPackageResultSigned [1] (A1 { 30 {
 * 80 transactionId, BF2F metadata with loadRpmPackageResult (bit 7), 06 smdpOid }, 5F37 }) beside
 * an OtherSignedNotification (30 { BF2F, 5F37 }). */
#define RETRIEVE_RPM                                                                               \
  "BF 2B 39 A0 37"                                                                                 \
  "A1 1F 30 18 80 01 01 BF 2F 0D 80 01 07 81 02 00 01 0C 04 72 2E 69 6F 06 03 88 37 0A"            \
  "   5F 37 02 AA BB"                                                                              \
  "30 14 BF 2F 0D 80 01 08 81 02 04 10 0C 04 72 2E 69 6F 5F 37 01 CC"

static void
test_retrieve_rpm (void)
{
  g_autoptr (GBytes) response = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;
  LpaPendingNotification *n;

  response = unit_hex (RETRIEVE_RPM);
  list = lpa_es10b_parse_retrieve_notifications (response, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  n = g_ptr_array_index (list, 0);
  g_assert_cmpuint (n->metadata->seq, ==, 7);
  g_assert_cmpuint (n->metadata->operation, ==, 1u << 7);
  g_assert_false (n->is_install_result);
  /* What goes to the server is the whole item, its A1 tag included. */
  g_assert_cmpuint (g_bytes_get_size (n->raw), ==, 2 + 0x1F);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (n->raw, NULL))[0], ==, 0xA1);
  n = g_ptr_array_index (list, 1);
  g_assert_cmpuint (n->metadata->seq, ==, 8);
  g_assert_cmpuint (n->metadata->operation, ==, LPA_NOTIFICATION_DELETE);
}

static void
test_appendix_results (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) addresses =
      unit_hex ("BF 3C 11 81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D");
  g_autoptr (GBytes) enable_ok = unit_hex ("BF 31 03 80 01 00");
  g_autoptr (GBytes) enable_state = unit_hex ("BF 31 03 80 01 02");
  g_autoptr (GBytes) prepare_error = unit_hex ("BF 21 17 A1 15 80 10" TID "02 01 02");
  g_autoptr (GBytes) auth_error = unit_hex ("BF 38 17 A1 15 80 10" TID "02 01 06");
  g_autoptr (GBytes) cancel_error = unit_hex ("BF 41 03 81 01 05");
  g_autoptr (LpaConfiguredAddresses) a = lpa_es10a_parse_configured_addresses (addresses, &error);
  g_autoptr (LpaSignedResponse) prepare = NULL;
  g_autoptr (LpaSignedResponse) auth = NULL;
  g_autoptr (LpaCancelSessionResponse) cancel = NULL;
  gint code;

  g_assert_no_error (error);
  g_assert_null (a->default_dp_address);
  g_assert_cmpstr (a->root_ds_address, ==, "lpa.ds.gsma.com");

  g_assert_true (lpa_es10c_parse_enable_profile (enable_ok, &code, &error));
  g_assert_cmpint (code, ==, 0);
  g_assert_false (lpa_es10c_parse_enable_profile (enable_state, &code, &error));
  g_assert_cmpint (code, ==, 2);
  g_assert_error (error, LPA_ERROR, LPA_ERROR_WRONG_PROFILE_STATE);
  g_assert_cmpstr (error->message, ==, "EnableProfile: profileNotInDisabledState(2)");
  g_clear_error (&error);

  prepare = lpa_es10b_parse_prepare_download (prepare_error, &error);
  g_assert_no_error (error);
  g_assert_false (prepare->ok);
  g_assert_cmpint (prepare->error_code, ==, LPA_DOWNLOAD_INVALID_SIGNATURE);
  unit_assert_hex (prepare->transaction_id, TID);
  g_assert_true (g_bytes_equal (prepare->raw, prepare_error));
  g_assert_false (lpa_signed_response_check (prepare, LPA_ES10_PREPARE_DOWNLOAD, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_EUICC);
  g_assert_cmpstr (error->message, ==, "PrepareDownload: invalidSignature(2)");
  g_clear_error (&error);

  auth = lpa_es10b_parse_authenticate_server (auth_error, &error);
  g_assert_no_error (error);
  g_assert_false (auth->ok);
  g_assert_cmpint (auth->error_code, ==, LPA_AUTHENTICATE_EUICC_CHALLENGE_MISMATCH);
  g_assert_false (lpa_signed_response_check (auth, LPA_ES10_AUTHENTICATE_SERVER, &error));
  g_assert_cmpstr (error->message, ==, "AuthenticateServer: euiccChallengeMismatch(6)");
  g_clear_error (&error);

  cancel = lpa_es10b_parse_cancel_session (cancel_error, &error);
  g_assert_no_error (error);
  g_assert_false (cancel->ok);
  g_assert_cmpint (cancel->error_code, ==, LPA_CANCEL_SESSION_INVALID_TRANSACTION_ID);
  g_assert_true (g_bytes_equal (cancel->raw, cancel_error));
}

static void
test_appendix_pir (void)
{
  g_autoptr (GBytes) bytes = unit_hex (PIR_ERROR);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaProfileInstallationResult) pir =
      lpa_es10b_parse_profile_installation_result (bytes, &error);

  g_assert_no_error (error);
  unit_assert_hex (pir->transaction_id, TID);
  g_assert_cmpuint (pir->metadata->seq, ==, 7);
  g_assert_cmpuint (pir->metadata->operation, ==, LPA_NOTIFICATION_INSTALL);
  g_assert_cmpstr (pir->metadata->address, ==, "dp.example.com");
  g_assert_null (pir->metadata->iccid);
  g_assert_cmpstr (pir->smdp_oid, ==, "2.999.10");
  g_assert_false (pir->success);
  g_assert_cmpint (pir->bpp_command_id, ==, LPA_BPP_COMMAND_LOAD_PROFILE_ELEMENTS);
  g_assert_cmpint (pir->error_reason, ==, LPA_INSTALL_PE_PROCESSING_ERROR);
  g_assert_false (lpa_profile_installation_result_check (pir, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INSTALL_FAILED);
  g_assert_cmpstr (error->message, ==,
                   "ProfileInstallationResult: loadProfileElements(5) failed: "
                   "installFailedDueToPEProcessingError(12)");
}

/* Own response vectors ------------------------------------------------------------------------ */

/* Hand-derived from the ASN.1: an EUICCInfo2 with every v2.2.2 field, plus an unknown 8D (a later
 * version's treProperties) that must be ignored. */
#define EUICC_INFO2                                                                                \
  "BF 22 81 A0"                                                                                    \
  "81 03 02 03 01  82 03 02 02 02  83 03 01 02 03"                                                 \
  "84 0B 81 01 05 82 03 01 00 00 83 01 7F"                                                         \
  "85 05 00 6B 36 D3 C3  86 03 11 02 00  87 03 02 03 00  88 02 02 9C"                              \
  "A9 2C 04 14 F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"                        \
  "      04 14 81 37 0F 51 25 D0 B1 D4 08 D4 C3 B2 32 E6 D2 5E 79 5B EB FB"                        \
  "AA 16 04 14 F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"                        \
  "8B 01 02  99 02 05 60  04 03 01 00 00  0C 06 41 42 43 2D 30 31"                                 \
  "AC 10 80 05 4C 61 62 65 6C 81 07 68 74 74 70 73 3A 2F"                                          \
  "8D 01 00"

static void
test_euicc_info2 (void)
{
  g_autoptr (GBytes) bytes = unit_hex (EUICC_INFO2);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEuiccInfo2) info = lpa_euicc_info2_parse (bytes, &error);
  g_auto (GStrv) uicc = NULL;
  g_auto (GStrv) rsp = NULL;
  g_auto (GStrv) ppr = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (info->profile_version, ==, "2.3.1");
  g_assert_cmpstr (info->svn, ==, "2.2.2");
  g_assert_cmpstr (info->firmware_version, ==, "1.2.3");
  g_assert_true (info->has_installed_applications);
  g_assert_cmpuint (info->installed_applications, ==, 5);
  g_assert_cmpuint (info->free_nvm, ==, 65536);
  g_assert_cmpuint (info->free_ram, ==, 127);
  g_assert_cmpstr (info->ts102241_version, ==, "17.2.0");
  g_assert_cmpstr (info->globalplatform_version, ==, "2.3.0");
  g_assert_cmpuint (info->ci_pkids_verification->len, ==, 2);
  g_assert_cmpuint (info->ci_pkids_signing->len, ==, 1);
  unit_assert_hex (g_ptr_array_index (info->ci_pkids_verification, 1),
                   "81370F5125D0B1D408D4C3B232E6D25E795BEBFB");
  g_assert_cmpint (info->euicc_category, ==, LPA_EUICC_CATEGORY_MEDIUM);
  g_assert_true (info->has_forbidden_ppr);
  g_assert_cmphex (info->forbidden_ppr, ==, LPA_PPR1 | LPA_PPR2);
  g_assert_cmpstr (info->pp_version, ==, "1.0.0");
  g_assert_cmpstr (info->sas_accreditation_number, ==, "ABC-01");
  g_assert_cmpstr (info->certification_platform_label, ==, "Label");
  g_assert_cmpstr (info->certification_discovery_base_url, ==, "https:/");
  g_assert_true (g_bytes_equal (info->raw, bytes));

  /* 88 02 02 9C: bits 0, 3, 4 and 5 — 5 is beyond v2.2.2's names. */
  rsp = lpa_rsp_capability_names (info->rsp_capability);
  g_assert_cmpstrv (rsp, ((const char *const[]){ "additionalProfile", "testProfileSupport",
                                                 "deviceInfoExtensibilitySupport", "bit5", NULL }));
  /* 85 05 00 6B 36 D3 C3: 6B = bits 1 2 4 6 7, 36 = 10 11 13 14, D3 = 16 17 19 22 23, C3 = 24 25
   * 30 31. */
  uicc = lpa_uicc_capability_names (info->uicc_capability);
  g_assert_cmpuint (g_strv_length (uicc), ==, 18);
  g_assert_cmpstr (uicc[0], ==, "usimSupport");
  g_assert_cmpstr (uicc[15], ==, "suciCalculatorApi");
  g_assert_cmpstr (uicc[17], ==, "bit31");
  ppr = lpa_ppr_names (info->forbidden_ppr);
  g_assert_cmpstrv (ppr, ((const char *const[]){ "ppr1", "ppr2", NULL }));
}

/* A production card's EUICCInfo1 (digest Appendix A, lpac #143 trace; the key identifier is the
 * GSMA RSP2 Root CI1 SKI of digest §9). */
#define EUICC_INFO1                                                                                \
  "BF 20 35 82 03 02 03 00"                                                                        \
  "A9 16 04 14 81 37 0F 51 25 D0 B1 D4 08 D4 C3 B2 32 E6 D2 5E 79 5B EB FB"                        \
  "AA 16 04 14 81 37 0F 51 25 D0 B1 D4 08 D4 C3 B2 32 E6 D2 5E 79 5B EB FB"

static void
test_euicc_info1 (void)
{
  g_autoptr (GBytes) bytes = unit_hex (EUICC_INFO1);
  g_autoptr (GBytes) ci1 = unit_hex ("81370F5125D0B1D408D4C3B232E6D25E795BEBFB");
  g_autoptr (GBytes) other = unit_hex ("F54172BDF98A95D65CBEB88A38A1C11D800A85C3");
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEuiccInfo1) info = lpa_euicc_info1_parse (bytes, &error);
  g_autoptr (GBytes) missing = unit_hex ("BF 20 05 82 03 02 03 00");

  g_assert_no_error (error);
  g_assert_cmpstr (info->svn, ==, "2.3.0");
  g_assert_true (lpa_pkid_list_contains (info->ci_pkids_signing, ci1));
  g_assert_false (lpa_pkid_list_contains (info->ci_pkids_signing, other));
  g_assert_true (g_bytes_equal (info->raw, bytes));
  g_assert_null (lpa_euicc_info1_parse (missing, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

/* A ProfileInfo with every field of the digest's table (hand-derived). */
#define PROFILE_FULL                                                                               \
  "E3 81 A7"                                                                                       \
  "5A 0A 98 10 32 54 76 98 10 32 54 F6"                                                            \
  "4F 10 A0 00 00 05 59 10 10 FF FF FF FF 89 00 00 11 00"                                          \
  "9F 70 01 00  90 04 57 6F 72 6B  91 02 4F 70  92 04 50 6C 61 6E"                                 \
  "93 01 01  94 04 89 50 4E 47  95 01 00"                                                          \
  "B6 26 30 11 80 02 06 40 81 0B 6F 70 2E 65 78 61 6D 70 6C 65 20"                                 \
  "      30 11 80 02 04 10 81 0B 6F 70 2E 65 78 61 6D 70 6C 65 20"                                 \
  "B7 0B 80 03 13 F0 10 81 02 AB CD 82 00"                                                         \
  "B8 05 80 03 88 37 0A"                                                                           \
  "99 02 05 60"                                                                                    \
  "BF 76 26 E2 24 E1 18 C1 14 00 11 22 33 44 55 66 77 88 99 AA BB CC DD EE FF 00 11 22 33 CA 00"   \
  "          E3 08 DB 06 00 00 00 00 00 01"

static void
test_profile_info_full (void)
{
  g_autoptr (GBytes) bytes = unit_hex (PROFILE_FULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaProfileInfo) p = NULL;
  LpaNotificationConfig *c;
  LpaRefArDo *rule;
  LpaTlv tlv;

  g_assert_true (
      lpa_der_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &tlv, &error));
  p = lpa_profile_info_parse_tlv (bytes, &tlv, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (p->iccid, ==, ICCID);
  g_assert_cmpint (p->state, ==, LPA_PROFILE_STATE_DISABLED);
  g_assert_cmpstr (p->nickname, ==, "Work");
  g_assert_cmpint (p->icon_type, ==, LPA_ICON_TYPE_PNG);
  unit_assert_hex (p->icon, "89504E47");
  g_assert_cmpint (p->profile_class, ==, LPA_PROFILE_CLASS_TEST);
  g_assert_cmpuint (p->notification_configs->len, ==, 2);
  c = g_ptr_array_index (p->notification_configs, 0);
  g_assert_cmpuint (c->events, ==, LPA_NOTIFICATION_ENABLE);
  /* Addresses are trimmed. */
  g_assert_cmpstr (c->address, ==, "op.example");
  c = g_ptr_array_index (p->notification_configs, 1);
  g_assert_cmpuint (c->events, ==, LPA_NOTIFICATION_DELETE);
  /* 13 F0 10: MCC 310, MNC 01 (F = two digits). */
  g_assert_cmpstr (p->owner->mcc, ==, "310");
  g_assert_cmpstr (p->owner->mnc, ==, "01");
  unit_assert_hex (p->owner->gid1, "ABCD");
  g_assert_cmpuint (g_bytes_get_size (p->owner->gid2), ==, 0);
  g_assert_cmpstr (p->dp_oid, ==, "2.999.10");
  unit_assert_hex (p->dp_proprietary_data, "B8 05 80 03 88 37 0A");
  g_assert_true (p->has_ppr);
  g_assert_cmphex (p->ppr, ==, LPA_PPR1 | LPA_PPR2);
  g_assert_cmpuint (p->ref_ar_do->len, ==, 1);
  rule = g_ptr_array_index (p->ref_ar_do, 0);
  g_assert_cmpuint (g_bytes_get_size (rule->device_app_id), ==, 20);
  g_assert_cmpuint (g_bytes_get_size (rule->pkg_ref), ==, 0);
  unit_assert_hex (rule->perm, "000000000001");
  g_assert_cmpstr (lpa_profile_class_name (p->profile_class), ==, "test");
  g_assert_cmpstr (lpa_profile_state_name (p->state), ==, "disabled");
}

static void
test_profile_info_repeated (void)
{
  g_autoptr (GBytes) bytes = unit_hex ("BF 2D 0A A0 08 E3 06 90 01 41 90 01 42");
  g_autoptr (GError) error = NULL;

  g_assert_null (lpa_es10c_parse_profiles_info (bytes, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

/* Own vectors: BF2D { A0 { E3 04 9F70 01 00 ×n } } (n disabled profiles without fields), n at
 * the cap and one above it. */
static GBytes *
profile_list_of (guint n)
{
  g_autoptr (GByteArray) inner = g_byte_array_new ();
  g_autoptr (GByteArray) out = g_byte_array_new ();
  static const guint8 entry[] = { 0xE3, 0x04, 0x9F, 0x70, 0x01, 0x00 };
  guint8 head[8];

  for (guint i = 0; i < n; i++)
    g_byte_array_append (inner, entry, sizeof entry);
  /* A0 82 LL LL, inside BF 2D 82 LL LL */
  head[0] = 0xBF, head[1] = 0x2D, head[2] = 0x82;
  head[3] = (guint8) ((inner->len + 4) >> 8), head[4] = (guint8) (inner->len + 4);
  head[5] = 0xA0, head[6] = 0x82;
  g_byte_array_append (out, head, 7);
  head[0] = (guint8) (inner->len >> 8), head[1] = (guint8) inner->len;
  g_byte_array_append (out, head, 2);
  g_byte_array_append (out, inner->data, inner->len);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void
test_profile_list_cap (void)
{
  g_autoptr (GBytes) at_cap = profile_list_of (LPA_ES10_MAX_LIST_ITEMS);
  g_autoptr (GBytes) above = profile_list_of (LPA_ES10_MAX_LIST_ITEMS + 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10c_parse_profiles_info (at_cap, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, LPA_ES10_MAX_LIST_ITEMS);
  g_assert_null (lpa_es10c_parse_profiles_info (above, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_assert_nonnull (strstr (error->message, "more than the 1024 allowed"));
}

/* Own vector: names with an invalid UTF-8 byte (FF), a NUL and a truncated sequence (C3) read
 * with U+FFFD in their place, so the list, and the profiles in it, stay usable. */
static void
test_profile_info_bad_text (void)
{
  g_autoptr (GBytes) bytes = unit_hex ("BF 2D 1A A0 18 E3 16 5A 0A 98 94 44 99 99 99 99 09 10 F1"
                                       "90 01 FF 91 02 41 00 92 01 C3");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10c_parse_profiles_info (bytes, &error);
  LpaProfileInfo *p;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  p = list->pdata[0];
  g_assert_cmpstr (p->iccid, ==, "8949449999999990011");
  g_assert_cmpstr (p->nickname, ==, "\xef\xbf\xbd");
  g_assert_cmpstr (p->service_provider_name, ==, "A\xef\xbf\xbd");
  g_assert_cmpstr (p->profile_name, ==, "\xef\xbf\xbd");
}

/* Hand-built: a ProfileInfo whose notificationConfigurationInfo address has a stray byte (FF).
 * It reads with U+FFFD (then no host name: that notification's delivery fails alone); failing
 * the ProfileInfo failed the whole list. */
static void
test_profile_info_bad_address (void)
{
  g_autoptr (GBytes) bytes =
      unit_hex ("BF 2D 11 A0 0F E3 0D B6 0B 30 09 80 02 06 40 81 03 61 62 FF");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10c_parse_profiles_info (bytes, &error);
  LpaProfileInfo *p;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  p = list->pdata[0];
  g_assert_cmpuint (p->notification_configs->len, ==, 1);
  g_assert_cmpstr (((LpaNotificationConfig *) p->notification_configs->pdata[0])->address, ==,
                   "ab\xef\xbf\xbd");
}

/* Hand-built: EUICC_INFO2 with sasAcreditationNumber "ABC-0" + a stray byte (FF) and a
 * platformLabel ending in a truncated sequence (C3): a real chip's odd text. They read with U+FFFD
 * in place of the bad bytes; failing the whole EUICCInfo2 left the eUICC unusable. */
#define EUICC_INFO2_BAD_TEXT                                                                       \
  "BF 22 81 A0"                                                                                    \
  "81 03 02 03 01  82 03 02 02 02  83 03 01 02 03"                                                 \
  "84 0B 81 01 05 82 03 01 00 00 83 01 7F"                                                         \
  "85 05 00 6B 36 D3 C3  86 03 11 02 00  87 03 02 03 00  88 02 02 9C"                              \
  "A9 2C 04 14 F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"                        \
  "      04 14 81 37 0F 51 25 D0 B1 D4 08 D4 C3 B2 32 E6 D2 5E 79 5B EB FB"                        \
  "AA 16 04 14 F5 41 72 BD F9 8A 95 D6 5C BE B8 8A 38 A1 C1 1D 80 0A 85 C3"                        \
  "8B 01 02  99 02 05 60  04 03 01 00 00  0C 06 41 42 43 2D 30 FF"                                 \
  "AC 10 80 05 4C 61 62 65 C3 81 07 68 74 74 70 73 3A 0A"                                          \
  "8D 01 00"

static void
test_euicc_info2_bad_text (void)
{
  g_autoptr (GBytes) bytes = unit_hex (EUICC_INFO2_BAD_TEXT);
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEuiccInfo2) info = lpa_euicc_info2_parse (bytes, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (info->svn, ==, "2.2.2");
  g_assert_cmpstr (info->sas_accreditation_number, ==, "ABC-0\xef\xbf\xbd");
  g_assert_cmpstr (info->certification_platform_label, ==, "Labe\xef\xbf\xbd");
  /* A control character (here a newline) is replaced too: the text goes to D-Bus and logs. */
  g_assert_cmpstr (info->certification_discovery_base_url, ==, "https:\xef\xbf\xbd");
  g_assert_cmpuint (info->ci_pkids_verification->len, ==, 2);
}

/* Hand-built: a profile whose ICCID carries non-BCD nibbles (A4 = digits 4 then A; E1 = 1 then
 * E), as some real cards' do. It is listed with the hex digits kept (as lpac shows it), and that
 * string, given back by a caller, addresses the same 10 bytes: listed and usable. */
#define HEX_ICCID     "89012345678901234AE1"
#define HEX_ICCID_BCD "98 10 32 54 76 98 10 32 A4 1E"

static void
test_profile_hex_iccid (void)
{
  g_autoptr (GBytes) bytes = unit_hex ("BF 2D 14 A0 12 E3 10 5A 0A " HEX_ICCID_BCD " 9F 70 01 01");
  g_autoptr (GBytes) padded = unit_hex ("BF 2D 14 A0 12 E3 10 5A 0A 98 10 32 54 76 98 10 32 "
                                        "A4 FC 9F 70 01 01");
  g_autoptr (GBytes) after_pad = unit_hex ("BF 2D 14 A0 12 E3 10 5A 0A 98 10 32 54 76 98 10 32 "
                                           "F4 1E 9F 70 01 01");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10c_parse_profiles_info (bytes, &error);
  g_autoptr (GPtrArray) list2 = NULL;
  g_autoptr (GBytes) enable = NULL;
  g_autoptr (GBytes) del = NULL;
  g_autoptr (GBytes) nick = NULL;
  LpaProfileId id = { NULL, NULL };
  LpaProfileInfo *p;
  guint8 bcd[LPA_ICCID_BCD_LEN];

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  p = list->pdata[0];
  g_assert_cmpstr (p->iccid, ==, HEX_ICCID);
  g_assert_cmpint (p->state, ==, LPA_PROFILE_STATE_ENABLED);

  /* What the bus and esimctl check (lpa_iccid_is_valid) accepts it, and it encodes back. */
  g_assert_true (lpa_iccid_is_valid (p->iccid));
  g_assert_true (lpa_iccid_to_bcd (p->iccid, bcd, &error));
  g_assert_no_error (error);
  {
    g_autoptr (GBytes) got = g_bytes_new (bcd, sizeof bcd);
    unit_assert_hex (got, HEX_ICCID_BCD);
  }
  id.iccid = p->iccid;
  enable = lpa_es10c_enable_profile_request (&id, TRUE, &error);
  g_assert_no_error (error);
  unit_assert_hex (enable, "BF 31 11 A0 0C 5A 0A " HEX_ICCID_BCD " 81 01 FF");
  del = lpa_es10c_delete_profile_request (&id, &error);
  g_assert_no_error (error);
  unit_assert_hex (del, "BF 33 0C 5A 0A " HEX_ICCID_BCD);
  nick = lpa_es10c_set_nickname_request (p->iccid, "x", &error);
  g_assert_no_error (error);
  unit_assert_hex (nick, "BF 29 0F 5A 0A " HEX_ICCID_BCD " 90 01 78");

  /* Trailing F padding is dropped (19 characters); an F before other nibbles is no padding. */
  list2 = lpa_es10c_parse_profiles_info (padded, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (((LpaProfileInfo *) list2->pdata[0])->iccid, ==, "89012345678901234AC");
  g_assert_null (lpa_es10c_parse_profiles_info (after_pad, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_clear_error (&error);
  /* F is never a character of an ICCID (it is the padding), nor is lower case. */
  g_assert_false (lpa_iccid_is_valid ("89012345678901234AF1"));
  g_assert_false (lpa_iccid_is_valid ("89012345678901234ae1"));
}

/* Hand-built: a ProfileInfoList with, between two profiles, an item that is no ProfileInfo (a
 * primitive 99 and a constructed E4). They are skipped; the profiles around them are listed. */
static void
test_profile_list_unknown_item (void)
{
  g_autoptr (GBytes) bytes = unit_hex ("BF 2D 1F A0 1D E3 04 9F 70 01 00  99 01 00  E4 02 80 00"
                                       "E3 0C 5A 0A 98 10 32 54 76 98 10 32 54 F6  E3 00");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = NULL;

  list = lpa_es10c_parse_profiles_info (bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  g_assert_cmpint (((LpaProfileInfo *) list->pdata[0])->state, ==, LPA_PROFILE_STATE_DISABLED);
  g_assert_cmpstr (((LpaProfileInfo *) list->pdata[1])->iccid, ==, ICCID);
  g_assert_null (((LpaProfileInfo *) list->pdata[2])->iccid);
}

/* Hand-built: EuiccConfiguredAddresses whose defaultDpAddress has a byte that is not UTF-8 (FF).
 * Refusing it failed the read, and every Refresh of the eUICC with it; it reads with U+FFFD (no
 * host name, so a download to it fails by itself), the root SM-DS address as it is. */
static void
test_addresses_bad_text (void)
{
  g_autoptr (GBytes) bytes = unit_hex ("BF 3C 1C 80 09 64 70 2E 65 78 FF 2E 63 6F"
                                       "81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D");
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaConfiguredAddresses) a = lpa_es10a_parse_configured_addresses (bytes, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (a->default_dp_address, ==, "dp.ex\xef\xbf\xbd.co");
  g_assert_false (lpa_host_name_is_valid (a->default_dp_address));
  g_assert_cmpstr (a->root_ds_address, ==, "lpa.ds.gsma.com");
}

/* Hand-built: an EUICCInfo2 whose descriptive members do not decode as SGP.22 writes them: a
 * profileVersion of 2 bytes, a firmware version of 5, empty uiccCapability, ts102241Version,
 * rspCapability and forbiddenProfilePolicyRules, a 9-byte category, a 2-byte ppVersion. Each
 * failed the whole EUICCInfo2, and with it every operation that needs it, for fields esimd only
 * shows. They are left out; the svn and the CI lists, which it acts on, stay required. */
#define EUICC_INFO2_ODD_MEMBERS                                                                    \
  "BF 22 6B 81 02 02 01 82 03 02 02 02 83 05 01 02 03 04 05 85 00 86 00 87 03 02 03 00 88 00"      \
  "A9 16 04 14 81 37 0F 51 25 D0 B1 D4 08 D4 C3 B2 32 E6 D2 5E 79 5B EB FB"                        \
  "AA 16 04 14 81 37 0F 51 25 D0 B1 D4 08 D4 C3 B2 32 E6 D2 5E 79 5B EB FB"                        \
  "8B 09 00 00 00 00 00 00 00 00 00 99 00 04 02 01 00"                                             \
  "0C 0D 47 49 2D 42 41 2D 55 50 2D 30 34 31 39"

static void
test_euicc_info2_odd_members (void)
{
  g_autoptr (GBytes) bytes = unit_hex (EUICC_INFO2_ODD_MEMBERS);
  g_autoptr (GBytes) bad_svn = unit_hex ("BF 22 0A 82 02 02 02 A9 02 04 00 AA 00");
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaEuiccInfo2) info = lpa_euicc_info2_parse (bytes, &error);
  g_autoptr (LpaEuiccInfo2) refused = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (info->svn, ==, "2.2.2");
  g_assert_cmpuint (info->ci_pkids_verification->len, ==, 1);
  g_assert_cmpuint (info->ci_pkids_signing->len, ==, 1);
  g_assert_null (info->profile_version);
  g_assert_null (info->firmware_version);
  g_assert_null (info->ts102241_version);
  g_assert_cmpstr (info->globalplatform_version, ==, "2.3.0");
  g_assert_null (info->pp_version);
  g_assert_cmpuint (info->rsp_capability, ==, 0);
  g_assert_false (info->has_forbidden_ppr);
  g_assert_cmpint (info->euicc_category, ==, LPA_EUICC_CATEGORY_ABSENT);
  g_assert_cmpstr (info->sas_accreditation_number, ==, "GI-BA-UP-0419");

  refused = lpa_euicc_info2_parse (bad_svn, &error);
  g_assert_null (refused);
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

/* Hand-built: a ProfileInfoList whose first profile carries, besides its ICCID, state and service
 * provider, members that do not decode as SGP.22 writes them: an ISD-P AID of 4 bytes, a PPR
 * BIT STRING of no bytes, a notificationConfigurationInfo without its address, a profileOwner
 * whose mccMnc has 2 bytes and a refArDo without deviceAppIdRefDo. The eUICC echoes what the
 * SM-DP+ put in the profile's metadata; failing the list hid every profile of the eUICC (lpac
 * lists them: its es10c_get_profiles_info skips B6, B7, B8 and 99). Those members are left out,
 * both profiles listed. A StoreMetadataRequest from a server stays strict. */
#define PROFILES_ODD_MEMBERS                                                                       \
  "BF 2D 53 A0 51 E3 3D 5A 0A 98 10 32 54 76 98 10 32 54 76 4F 04 A0 00 00 05 9F 70 01 01"         \
  "91 02 4F 70 99 00 B6 06 30 04 80 02 07 80 B7 04 80 02 00 F1"                                    \
  "BF 76 10 E2 0E E1 07 4F 05 A0 00 00 01 51 E3 03 DB 01 00"                                       \
  "E3 10 5A 0A 98 10 32 54 76 98 10 32 54 86 9F 70 01 00"

static void
test_profile_info_odd_members (void)
{
  g_autoptr (GBytes) bytes = unit_hex (PROFILES_ODD_MEMBERS);
  g_autoptr (GBytes) metadata = unit_hex ("BF 25 19 5A 0A 98 10 32 54 76 98 10 32 54 76"
                                          "91 02 4F 70 92 01 50 B7 04 80 02 00 F1");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10c_parse_profiles_info (bytes, &error);
  g_autoptr (LpaProfileInfo) info = NULL;
  LpaProfileInfo *p;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  p = list->pdata[0];
  g_assert_cmpstr (p->iccid, ==, "89012345678901234567");
  g_assert_cmpint (p->state, ==, LPA_PROFILE_STATE_ENABLED);
  g_assert_cmpstr (p->service_provider_name, ==, "Op");
  g_assert_null (p->isdp_aid);
  g_assert_false (p->has_ppr);
  g_assert_null (p->notification_configs);
  g_assert_null (p->owner);
  g_assert_null (p->ref_ar_do);
  p = list->pdata[1];
  g_assert_cmpstr (p->iccid, ==, "89012345678901234568");
  g_assert_cmpint (p->state, ==, LPA_PROFILE_STATE_DISABLED);

  info = lpa_profile_metadata_parse (metadata, &error);
  g_assert_null (info);
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

/* Hand-built: a ListNotification with an item that is no NotificationMetadata (E0) before
 * NOTIFICATION_LIST_1's one, whose ICCID has a non-BCD nibble (A4) and whose address has a stray
 * byte (FF). The item is skipped, the notification listed: failing the list left every pending
 * notification undelivered. The bad address then fails this one's delivery alone. */
static void
test_notification_list_lenient (void)
{
  g_autoptr (GBytes) bytes =
      unit_hex ("BF 28 2C A0 2A E0 02 80 00"
                "BF 2F 23 80 01 07 81 02 06 40 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F FF"
                "5A 0A 98 10 32 54 76 98 10 32 A4 F6");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list = lpa_es10b_parse_list_notification (bytes, &error);
  LpaNotificationMetadata *m;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 1);
  m = list->pdata[0];
  g_assert_cmpuint (m->seq, ==, 7);
  g_assert_cmpstr (m->address, ==, "dp.example.co\xef\xbf\xbd");
  g_assert_cmpstr (m->iccid, ==, "89012345678901234A6");
  g_assert_true (lpa_iccid_is_valid (m->iccid));
}

/* Hand-built: notifications 1 (install) and 3 (enable) around two whose operation SGP.22 does not
 * name: 2 names only bit 8 (v3 added bits 4 to 7 to v2's 0 to 3), and 4 names none. Failing the
 * whole list (and, in RetrieveNotificationsList, the whole batch) left 1 and 3 undelivered for
 * good; skipping the two then left them on the card, unlisted and undelivered, for good. They
 * are listed as "unknown" (lpac's es10b_list_notification lists an operation it does not know
 * so) and retrieved with their exact bytes, which go to their server unchanged. In the
 * retrieved list, a BF37 without its ProfileInstallationResultData is left out. */
#define LIST_WITH_UNREADABLE                                                                       \
  "BF 28 6A A0 68"                                                                                 \
  "BF 2F 17 80 01 01 81 02 07 80 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"                  \
  "BF 2F 18 80 01 02 81 03 07 00 80 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"               \
  "BF 2F 16 80 01 04 81 01 00 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"                     \
  "BF 2F 17 80 01 03 81 02 06 40 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"
#define RETRIEVED_WITH_UNREADABLE                                                                  \
  "BF 2B 72 A0 70"                                                                                 \
  "30 21 BF 2F 17 80 01 01 81 02 07 80 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"            \
  "5F 37 04 00 00 00 00"                                                                           \
  "30 22 BF 2F 18 80 01 02 81 03 07 00 80 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"         \
  "5F 37 04 00 00 00 00"                                                                           \
  "BF 37 03 30 01 00"                                                                              \
  "30 21 BF 2F 17 80 01 03 81 02 06 40 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"            \
  "5F 37 04 00 00 00 00"

static void
test_notification_unreadable_items (void)
{
  g_autoptr (GBytes) listed_bytes = unit_hex (LIST_WITH_UNREADABLE);
  g_autoptr (GBytes) retrieved_bytes = unit_hex (RETRIEVED_WITH_UNREADABLE);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) listed = lpa_es10b_parse_list_notification (listed_bytes, &error);
  g_autoptr (GPtrArray) retrieved = NULL;

  g_autoptr (GBytes) unknown_raw =
      unit_hex ("30 22 BF 2F 18 80 01 02 81 03 07 00 80 0C 0E 64 70 2E 65 78 61 6D 70 6C 65 2E 63"
                "6F 6D 5F 37 04 00 00 00 00");
  static const struct
  {
    guint32 seq;
    guint operation;
    const char *name;
  } expect[] = {
    { 1, LPA_NOTIFICATION_INSTALL, "install" },
    { 2, 0, "unknown" },
    { 4, 0, "unknown" },
    { 3, LPA_NOTIFICATION_ENABLE, "enable" },
  };
  LpaPendingNotification *unknown;

  g_assert_no_error (error);
  g_assert_cmpuint (listed->len, ==, G_N_ELEMENTS (expect));
  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      LpaNotificationMetadata *m = listed->pdata[i];

      g_assert_cmpuint (m->seq, ==, expect[i].seq);
      g_assert_cmpuint (m->operation, ==, expect[i].operation);
      g_assert_cmpstr (lpa_notification_event_name (m->operation), ==, expect[i].name);
      g_assert_cmpstr (m->address, ==, "dp.example.com");
    }
  g_assert_cmpuint (((LpaNotificationMetadata *) listed->pdata[1])->events, ==, 0);

  retrieved = lpa_es10b_parse_retrieve_notifications (retrieved_bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (retrieved->len, ==, 3);
  g_assert_cmpuint (((LpaPendingNotification *) retrieved->pdata[0])->metadata->seq, ==, 1);
  unknown = retrieved->pdata[1];
  g_assert_cmpuint (unknown->metadata->seq, ==, 2);
  g_assert_cmpstr (lpa_notification_event_name (unknown->metadata->operation), ==, "unknown");
  g_assert_true (g_bytes_equal (unknown->raw, unknown_raw));
  g_assert_cmpuint (((LpaPendingNotification *) retrieved->pdata[2])->metadata->seq, ==, 3);
}

/* Hand-built: what delivering needs stays strict. No address (5), no sequence number, an
 * operation that is no BIT STRING (unused-bits count 8, 6): left out. 2, whose operation is in
 * no bit SGP.22 names, is listed; so is 7, whose ICCID (3 bytes) does not decode: it only
 * describes the notification, and skipping it left the notification undelivered for good. */
static void
test_notification_unknown_operation_strict (void)
{
  g_autoptr (GBytes) bytes =
      unit_hex ("BF 28 77 A0 75 BF 2F 07 80 01 05 81 02 07 80 BF 2F 14 81 02 07 80 0C 0E 64 70 2E "
                "65 78 61 6D 70 6C 65 2E 63 6F 6D BF 2F 17 80 01 06 81 02 08 80 0C 0E 64 70 2E 65 "
                "78 61 6D 70 6C 65 2E 63 6F 6D BF 2F 18 80 01 02 81 03 07 00 80 0C 0E 64 70 2E 65 "
                "78 61 6D 70 6C 65 2E 63 6F 6D BF 2F 1C 80 01 07 81 02 07 80 0C 0E 64 70 2E 65 78 "
                "61 6D 70 6C 65 2E 63 6F 6D 5A 03 98 10 32");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) listed = lpa_es10b_parse_list_notification (bytes, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (listed->len, ==, 2);
  g_assert_cmpuint (((LpaNotificationMetadata *) listed->pdata[0])->seq, ==, 2);
  g_assert_cmpuint (((LpaNotificationMetadata *) listed->pdata[0])->operation, ==, 0);
  g_assert_cmpuint (((LpaNotificationMetadata *) listed->pdata[1])->seq, ==, 7);
  g_assert_cmpuint (((LpaNotificationMetadata *) listed->pdata[1])->operation, ==,
                    LPA_NOTIFICATION_INSTALL);
  g_assert_null (((LpaNotificationMetadata *) listed->pdata[1])->iccid);
}

/* GetRAT, hand-derived: rule 1 allows PPR1 for 310/01 and any MNC of 262 ('E' wildcards),
 * rule 2 allows PPR2 for 310/01 with consent required. */
#define RAT                                                                                        \
  "BF 43 2D A0 2B"                                                                                 \
  "30 16 80 02 06 40 A1 0C 30 05 80 03 13 F0 10 30 03 80 01 62 82 02 07 00"                        \
  "30 11 80 02 05 20 A1 07 30 05 80 03 13 F0 10 82 02 07 80"

static void
test_rat (void)
{
  g_autoptr (GBytes) rat_bytes = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) rat = NULL;
  g_autoptr (GBytes) owner_bytes = unit_hex ("30 05 80 03 13 F0 10");
  g_autoptr (GBytes) other_bytes = unit_hex ("30 05 80 03 62 F2 20");
  g_autoptr (LpaOperatorId) owner = NULL;
  g_autoptr (LpaOperatorId) other = NULL;
  gboolean consent;
  LpaTlv tlv;

  /* The second operator of rule 1 above is written short on purpose: mccMnc must be 3 bytes. */
  {
    g_autoptr (GBytes) bad = unit_hex (RAT);
    g_assert_null (lpa_es10b_parse_rat (bad, &error));
    g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
    g_clear_error (&error);
  }
  rat_bytes =
      unit_hex ("BF 43 2F A0 2D"
                "30 18 80 02 06 40 A1 0E 30 05 80 03 13 F0 10 30 05 80 03 62 EE EE 82 02 07 00"
                "30 11 80 02 05 20 A1 07 30 05 80 03 13 F0 10 82 02 07 80");
  rat = lpa_es10b_parse_rat (rat_bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rat->len, ==, 2);

  lpa_der_parse (g_bytes_get_data (owner_bytes, NULL), g_bytes_get_size (owner_bytes), &tlv, NULL);
  owner = lpa_operator_id_parse (owner_bytes, &tlv, &error);
  lpa_der_parse (g_bytes_get_data (other_bytes, NULL), g_bytes_get_size (other_bytes), &tlv, NULL);
  other = lpa_operator_id_parse (other_bytes, &tlv, &error);
  g_assert_cmpstr (other->mcc, ==, "262");
  g_assert_cmpstr (other->mnc, ==, "02");

  g_assert_true (lpa_rat_allows (rat, LPA_PPR1, owner, &consent));
  g_assert_false (consent);
  g_assert_true (lpa_rat_allows (rat, LPA_PPR1 | LPA_PPR2, owner, &consent));
  g_assert_true (consent);
  /* 262 EE-E matches any MNC of 262 for PPR1, but nothing grants it PPR2. */
  g_assert_true (lpa_rat_allows (rat, LPA_PPR1, other, &consent));
  g_assert_false (lpa_rat_allows (rat, LPA_PPR2, other, &consent));
  /* No owner: nothing can match. pprUpdateControl alone needs no rule. */
  g_assert_false (lpa_rat_allows (rat, LPA_PPR1, NULL, &consent));
  g_assert_true (lpa_rat_allows (rat, LPA_PPR_UPDATE_CONTROL, NULL, &consent));
}

/* CancelSession ok, shaped like bsp-vector-1's (hand-built, dummy 4-byte signature). */
#define CANCEL_OK "BF 41 25 A0 23 30 1A 80 10" TID "81 03 88 37 0A 82 01 01 5F 37 04 01 02 03 04"
/* AuthenticateServer and PrepareDownload ok (hand-built, dummy signature and certificates). */
#define AUTH_OK    "BF 38 1E A0 1C 30 12 80 10" TID "5F 37 01 00 30 00 30 00"
#define PREPARE_OK "BF 21 23 A0 21 30 19 80 10" TID "5F 49 04 04 01 02 03 5F 37 03 01 02 03"
/* A success PIR (hand-built). */
#define PIR_OK                                                                                     \
  "BF 37 3E BF 27 34 80 10" TID "BF 2F 0C 80 01 00 81 02 07 80 0C 03 61 2E 62 06 03 88 37 0A"      \
  "A2 0C A0 0A 4F 05 A0 00 00 05 59 04 01 00 5F 37 04 AA BB CC DD"
/* RetrieveNotificationsList with that PIR and an OtherSignedNotification (enable, seq 1). */
#define OTHER_NOTIF                                                                                \
  "30 1B BF 2F 10 80 01 01 81 02 06 40 0C 07 6F 70 2E 74 65 73 74 5F 37 01 00 30 00 30 00"

static void
test_session_responses (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) cancel_bytes = unit_hex (CANCEL_OK);
  g_autoptr (GBytes) auth_bytes = unit_hex (AUTH_OK);
  g_autoptr (GBytes) prepare_bytes = unit_hex (PREPARE_OK);
  g_autoptr (GBytes) pir_bytes = unit_hex (PIR_OK);
  g_autoptr (LpaCancelSessionResponse) cancel =
      lpa_es10b_parse_cancel_session (cancel_bytes, &error);
  g_autoptr (LpaSignedResponse) auth = NULL;
  g_autoptr (LpaSignedResponse) prepare = NULL;
  g_autoptr (LpaProfileInstallationResult) pir = NULL;

  g_assert_no_error (error);
  g_assert_true (cancel->ok);
  g_assert_cmpstr (cancel->smdp_oid, ==, "2.999.10");
  g_assert_cmpint (cancel->reason, ==, LPA_CANCEL_POSTPONED);
  unit_assert_hex (cancel->transaction_id, TID);

  auth = lpa_es10b_parse_authenticate_server (auth_bytes, &error);
  g_assert_no_error (error);
  g_assert_true (auth->ok);
  g_assert_cmpint (auth->error_code, ==, -1);
  g_assert_true (lpa_signed_response_check (auth, LPA_ES10_AUTHENTICATE_SERVER, &error));

  prepare = lpa_es10b_parse_prepare_download (prepare_bytes, &error);
  g_assert_no_error (error);
  g_assert_true (prepare->ok);
  unit_assert_hex (prepare->transaction_id, TID);

  pir = lpa_es10b_parse_profile_installation_result (pir_bytes, &error);
  g_assert_no_error (error);
  g_assert_true (pir->success);
  unit_assert_hex (pir->isdp_aid, "A000000559");
  g_assert_cmpuint (pir->metadata->seq, ==, 0);
  g_assert_true (lpa_profile_installation_result_check (pir, &error));
}

static void
test_install_errors (void)
{
  static const struct
  {
    guint8 reason;
    LpaError code;
  } cases[] = {
    { 9, LPA_ERROR_PROFILE_EXISTS },        { 10, LPA_ERROR_INSUFFICIENT_MEMORY },
    { 15, LPA_ERROR_DISALLOWED_BY_POLICY }, { 8, LPA_ERROR_INSTALL_FAILED },
    { 127, LPA_ERROR_INSTALL_FAILED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *hex = g_strdup_printf (
          "BF 37 45 BF 27 3B 80 10" TID "BF 2F 17 80 01 07 81 02 07 80 0C 0E 64 70 2E 65 78 61"
          "6D 70 6C 65 2E 63 6F 6D 06 03 88 37 0A A2 08 A1 06 80 01 01 81 01 %02X"
          "5F 37 04 AA BB CC DD",
          cases[i].reason);
      g_autoptr (GBytes) bytes = unit_hex (hex);
      g_autoptr (GError) error = NULL;
      g_autoptr (LpaProfileInstallationResult) pir =
          lpa_es10b_parse_profile_installation_result (bytes, &error);

      g_assert_no_error (error);
      g_assert_false (lpa_profile_installation_result_check (pir, &error));
      g_assert_error (error, LPA_ERROR, (gint) cases[i].code);
      g_assert_nonnull (strstr (error->message, "configureISDP(1)"));
    }
}

static void
test_retrieve (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bytes = unit_hex ("BF 2B 60 A0 5E" PIR_OK OTHER_NOTIF);
  g_autoptr (GBytes) none = unit_hex ("BF 2B 03 81 01 01");
  g_autoptr (GBytes) failed = unit_hex ("BF 2B 03 81 01 7F");
  g_autoptr (GPtrArray) list = lpa_es10b_parse_retrieve_notifications (bytes, &error);
  g_autoptr (GPtrArray) empty = NULL;
  LpaPendingNotification *n;

  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 2);
  n = g_ptr_array_index (list, 0);
  g_assert_true (n->is_install_result);
  unit_assert_hex (n->raw, PIR_OK);
  g_assert_cmpstr (n->metadata->address, ==, "a.b");
  n = g_ptr_array_index (list, 1);
  g_assert_false (n->is_install_result);
  unit_assert_hex (n->raw, OTHER_NOTIF);
  g_assert_cmpuint (n->metadata->seq, ==, 1);
  g_assert_cmpuint (n->metadata->operation, ==, LPA_NOTIFICATION_ENABLE);

  /* noResultAvailable is an empty list, as AOSP reads it. */
  empty = lpa_es10b_parse_retrieve_notifications (none, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (empty->len, ==, 0);
  g_assert_null (lpa_es10b_parse_retrieve_notifications (failed, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_EUICC);
  g_assert_cmpstr (error->message, ==, "RetrieveNotificationsList: undefinedError(127)");
}

static void
test_simple_results (void)
{
  static const struct
  {
    const char *hex;
    gboolean (*parse) (GBytes *, gint *, GError **);
    gboolean ok;
    gint code;
    LpaError error;
    const char *message;
  } cases[] = {
    { "BF 32 03 80 01 02", lpa_es10c_parse_disable_profile, FALSE, 2, LPA_ERROR_WRONG_PROFILE_STATE,
      "DisableProfile: profileNotInEnabledState(2)" },
    { "BF 32 03 80 01 05", lpa_es10c_parse_disable_profile, FALSE, 5, LPA_ERROR_CAT_BUSY,
      "DisableProfile: catBusy(5)" },
    { "BF 33 03 80 01 01", lpa_es10c_parse_delete_profile, FALSE, 1, LPA_ERROR_PROFILE_NOT_FOUND,
      "DeleteProfile: iccidOrAidNotFound(1)" },
    { "BF 33 03 80 01 03", lpa_es10c_parse_delete_profile, FALSE, 3, LPA_ERROR_DISALLOWED_BY_POLICY,
      "DeleteProfile: disallowedByPolicy(3)" },
    { "BF 34 03 80 01 01", lpa_es10c_parse_memory_reset, TRUE, 1, 0, NULL },
    { "BF 29 03 80 01 01", lpa_es10c_parse_set_nickname, FALSE, 1, LPA_ERROR_PROFILE_NOT_FOUND,
      "SetNickname: iccidNotFound(1)" },
    { "BF 3F 03 80 01 7F", lpa_es10a_parse_set_default_dp_address, FALSE, 127, LPA_ERROR_EUICC,
      "SetDefaultDpAddress: undefinedError(127)" },
    { "BF 30 03 80 01 01", lpa_es10b_parse_remove_notification, TRUE, 1, 0, NULL },
    { "BF 31 03 80 01 04", lpa_es10c_parse_enable_profile, FALSE, 4, LPA_ERROR_WRONG_PROFILE_STATE,
      "EnableProfile: wrongProfileReenabling(4)" },
    { "BF 31 03 80 01 09", lpa_es10c_parse_enable_profile, FALSE, 9, LPA_ERROR_EUICC,
      "EnableProfile: unknown result(9)" },
    /* The right function tag is required. */
    { "BF 32 03 80 01 00", lpa_es10c_parse_enable_profile, FALSE, -1, LPA_ERROR_MALFORMED, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) bytes = unit_hex (cases[i].hex);
      g_autoptr (GError) error = NULL;
      gint code = -2;

      g_assert_cmpint (cases[i].parse (bytes, &code, &error), ==, cases[i].ok);
      g_assert_cmpint (code, ==, cases[i].code);
      if (cases[i].ok)
        g_assert_no_error (error);
      else
        g_assert_error (error, LPA_ERROR, (gint) cases[i].error);
      if (cases[i].message)
        g_assert_cmpstr (error->message, ==, cases[i].message);
    }
  g_assert_cmpstr (lpa_es10_result_name (LPA_ES10_CANCEL_SESSION, 5), ==, "invalidTransactionId");
  g_assert_null (lpa_es10_result_name (LPA_ES10_CANCEL_SESSION, 1));
  g_assert_cmpstr (lpa_cancel_session_reason_name (LPA_CANCEL_METADATA_MISMATCH), ==,
                   "metadataMismatch");
}

static void
test_eid_challenge (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) eid_bytes =
      unit_hex ("BF 3E 12 5A 10 89 04 90 32 12 34 51 23 45 12 34 56 78 90 12 35");
  g_autoptr (GBytes) challenge_bytes = unit_hex ("BF 2E 12 80 10 10e3a3a50a2f9c20a90e9594b696ea6a");
  g_autoptr (GBytes) short_challenge = unit_hex ("BF 2E 11 80 0F 10e3a3a50a2f9c20a90e9594b696ea");
  g_autofree char *eid = lpa_es10c_parse_eid (eid_bytes, &error);
  g_autoptr (GBytes) challenge = lpa_es10b_parse_euicc_challenge (challenge_bytes, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (eid, ==, "89049032123451234512345678901235");
  unit_assert_hex (challenge, "10e3a3a50a2f9c20a90e9594b696ea6a");
  g_assert_null (lpa_es10b_parse_euicc_challenge (short_challenge, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

/* Bytes after an answer's TLV (padding such as 00 00 or FF FF): lpac reads every ES10 answer by
 * looking for the function's tag (euicc_derutil_unpack_find_tag in its es10a/b/c.c), so such an
 * answer works there; esimd failed it as "trailing bytes after the TLV". They are ignored, and
 * what is kept or sent on to a server (a ProfileInstallationResult, EUICCInfo1, a signed answer)
 * is the TLV alone. */
static void
test_trailing_bytes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) enable = unit_hex ("BF 31 03 80 01 00 00 00");
  g_autoptr (GBytes) busy = unit_hex ("BF 32 03 80 01 05 FF FF");
  g_autoptr (GBytes) empty = unit_hex ("BF 2D 02 A0 00 00 00");
  g_autoptr (GBytes) eid_bytes =
      unit_hex ("BF 3E 12 5A 10 89 04 90 32 12 34 51 23 45 12 34 56 78 90 12 35 00");
  g_autoptr (GBytes) pir_bytes = unit_hex (PIR_ERROR "00 00");
  g_autoptr (GBytes) info1_bytes = unit_hex (EUICC_INFO1 "FF FF");
  g_autoptr (GBytes) auth_bytes = unit_hex (AUTH_OK "00");
  g_autoptr (GBytes) other_tag = unit_hex ("BF 32 03 80 01 00 BF 31 03 80 01 00");
  g_autoptr (GPtrArray) list = NULL;
  g_autoptr (LpaProfileInstallationResult) pir = NULL;
  g_autoptr (LpaEuiccInfo1) info1 = NULL;
  g_autoptr (LpaSignedResponse) auth = NULL;
  g_autofree char *eid = NULL;
  gint code = -2;

  g_assert_true (lpa_es10c_parse_enable_profile (enable, &code, &error));
  g_assert_no_error (error);
  g_assert_cmpint (code, ==, 0);
  g_assert_false (lpa_es10c_parse_disable_profile (busy, &code, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_CAT_BUSY);
  g_clear_error (&error);
  list = lpa_es10c_parse_profiles_info (empty, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  eid = lpa_es10c_parse_eid (eid_bytes, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (eid, ==, "89049032123451234512345678901235");
  pir = lpa_es10b_parse_profile_installation_result (pir_bytes, &error);
  g_assert_no_error (error);
  unit_assert_hex (pir->raw, PIR_ERROR);
  info1 = lpa_euicc_info1_parse (info1_bytes, &error);
  g_assert_no_error (error);
  unit_assert_hex (info1->raw, EUICC_INFO1);
  auth = lpa_es10b_parse_authenticate_server (auth_bytes, &error);
  g_assert_no_error (error);
  unit_assert_hex (auth->raw, AUTH_OK);
  /* The answer must still start with the function's own tag. */
  g_assert_false (lpa_es10c_parse_enable_profile (other_tag, &code, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

/* Robustness: every parser, every truncated prefix of its valid inputs, and mutations. --------- */

#define WRAP_PTR(name, expr, free_fn)                                                              \
  static gboolean name (GBytes *input, GError **error)                                             \
  {                                                                                                \
    gpointer p = (expr);                                                                           \
    if (p)                                                                                         \
      free_fn (p);                                                                                 \
    return p != NULL;                                                                              \
  }

WRAP_PTR (parse_profiles, lpa_es10c_parse_profiles_info (input, error), g_ptr_array_unref)
WRAP_PTR (parse_notifications, lpa_es10b_parse_list_notification (input, error), g_ptr_array_unref)
WRAP_PTR (parse_retrieve, lpa_es10b_parse_retrieve_notifications (input, error), g_ptr_array_unref)
WRAP_PTR (parse_pir, lpa_es10b_parse_profile_installation_result (input, error),
          lpa_profile_installation_result_free)
WRAP_PTR (parse_auth, lpa_es10b_parse_authenticate_server (input, error), lpa_signed_response_free)
WRAP_PTR (parse_prepare, lpa_es10b_parse_prepare_download (input, error), lpa_signed_response_free)
WRAP_PTR (parse_cancel, lpa_es10b_parse_cancel_session (input, error),
          lpa_cancel_session_response_free)
WRAP_PTR (parse_info1, lpa_euicc_info1_parse (input, error), lpa_euicc_info1_free)
WRAP_PTR (parse_info2, lpa_euicc_info2_parse (input, error), lpa_euicc_info2_free)
WRAP_PTR (parse_rat, lpa_es10b_parse_rat (input, error), g_ptr_array_unref)
WRAP_PTR (parse_addresses, lpa_es10a_parse_configured_addresses (input, error),
          lpa_configured_addresses_free)
WRAP_PTR (parse_eid, lpa_es10c_parse_eid (input, error), g_free)
WRAP_PTR (parse_challenge, lpa_es10b_parse_euicc_challenge (input, error), g_bytes_unref)
WRAP_PTR (parse_metadata, lpa_profile_metadata_parse (input, error), lpa_profile_info_free)

static gboolean
parse_enable (GBytes *input, GError **error)
{
  gint code;
  /* A decoded failure code is still a clean error. */
  return lpa_es10c_parse_enable_profile (input, &code, error);
}

static void
test_robustness (void)
{
  static const struct
  {
    UnitParseFunc parse;
    const char *hex;
  } cases[] = {
    { parse_profiles, PROFILE_LIST_1 },
    { parse_profiles, "BF 2D 03 81 01 7F" },
    { parse_profiles, "BF 2D 81 AD A0 81 AA" PROFILE_FULL },
    { parse_notifications, NOTIFICATION_LIST_1 },
    { parse_retrieve, "BF 2B 60 A0 5E" PIR_OK OTHER_NOTIF },
    { parse_pir, PIR_ERROR },
    { parse_pir, PIR_OK },
    { parse_auth, AUTH_OK },
    { parse_auth, "BF 38 17 A1 15 80 10" TID "02 01 06" },
    { parse_prepare, PREPARE_OK },
    { parse_cancel, CANCEL_OK },
    { parse_info1, EUICC_INFO1 },
    { parse_info2, EUICC_INFO2 },
    { parse_rat, "BF 43 2F A0 2D 30 18 80 02 06 40 A1 0E 30 05 80 03 13 F0 10 30 05 80 03 62 EE EE"
                 "82 02 07 00 30 11 80 02 05 20 A1 07 30 05 80 03 13 F0 10 82 02 07 80" },
    { parse_addresses, "BF 3C 11 81 0F 6C 70 61 2E 64 73 2E 67 73 6D 61 2E 63 6F 6D" },
    { parse_eid, "BF 3E 12 5A 10 89 04 90 32 12 34 51 23 45 12 34 56 78 90 12 35" },
    { parse_challenge, "BF 2E 12 80 10 10e3a3a50a2f9c20a90e9594b696ea6a" },
    { parse_enable, "BF 31 03 80 01 00" },
    { parse_metadata, "BF 25 12 5A 0A" ICCID_BCD "91 01 41 92 01 42" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) valid = unit_hex (cases[i].hex);
      g_autoptr (GError) error = NULL;

      /* The valid input itself decodes (the error alternatives decode too, then map). */
      if (!cases[i].parse (valid, &error))
        g_assert_true (error->code == LPA_ERROR_EUICC);
      unit_check_truncations (cases[i].parse, valid);
      unit_check_mutations (cases[i].parse, valid);
    }
}

/* With the reference material: the structures of the recorded osmo-smdpp session. */
static GBytes *
vector_bytes (JsonObject *root, const char *section, const char *member)
{
  JsonObject *o = json_object_get_object_member (root, section);
  return unit_hex (json_object_get_string_member (o, member));
}

static void
test_shared_session (void)
{
  g_autofree char *path = unit_shared_file ("spec/vectors/bsp-vector-1.json");
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *root;

  if (path == NULL)
    {
      g_test_skip ("ESIMD_SHARED_DIR not set");
      return;
    }
  g_assert_true (json_parser_load_from_file (parser, path, &error));
  root = json_node_get_object (json_parser_get_root (parser));
  {
    /* euiccSigned1 carries the test eUICC's EUICCInfo2 (BF22). */
    g_autoptr (GBytes) signed1 = vector_bytes (root, "es9p", "euiccSigned1");
    g_autoptr (GBytes) bf22 = NULL;
    g_autoptr (LpaEuiccInfo2) info = NULL;
    LpaTlv outer, tlv;

    g_assert_true (lpa_der_parse (g_bytes_get_data (signed1, NULL), g_bytes_get_size (signed1),
                                  &outer, &error));
    g_assert_true (lpa_der_get_child (&outer, 0xBF22, &tlv, &error));
    bf22 = g_bytes_new (tlv.tlv, tlv.tlv_len);
    info = lpa_euicc_info2_parse (bf22, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (info->sas_accreditation_number, ==, "OSMOCOM-TEST-1");
    g_assert_cmpuint (info->ci_pkids_verification->len, ==, 1);
    unit_check_truncations (parse_info2, bf22);
  }
  {
    g_autoptr (GBytes) pir_bytes =
        vector_bytes (root, "profile_installation_result", "pendingNotification");
    g_autoptr (LpaProfileInstallationResult) pir =
        lpa_es10b_parse_profile_installation_result (pir_bytes, &error);
    g_assert_no_error (error);
    g_assert_true (pir->success);
    unit_assert_hex (pir->transaction_id, "aaf1c75c473a44678f51de9f419eb0f8");
    g_assert_cmpstr (pir->metadata->address, ==, "testsmdpplus1.example.com");
    unit_check_truncations (parse_pir, pir_bytes);
  }
  {
    g_autoptr (GBytes) cancel_bytes =
        vector_bytes (root, "cancel_session", "cancelSessionResponse");
    g_autoptr (LpaCancelSessionResponse) cancel =
        lpa_es10b_parse_cancel_session (cancel_bytes, &error);
    g_assert_no_error (error);
    g_assert_true (cancel->ok);
    g_assert_cmpstr (cancel->smdp_oid, ==, "2.999.10");
  }
  {
    g_autoptr (GBytes) metadata = vector_bytes (root, "es9p", "profileMetadata");
    g_autoptr (LpaProfileInfo) info = lpa_profile_metadata_parse (metadata, &error);
    g_assert_no_error (error);
    g_assert_nonnull (info->iccid);
    g_assert_cmpuint (info->notification_configs->len, ==, 3);
    unit_check_truncations (parse_metadata, metadata);
  }
  {
    /* The enable notification, as RetrieveNotificationsList would return it. */
    g_autoptr (GBytes) notif = vector_bytes (root, "notification_enable", "pendingNotification");
    g_auto (LpaDerWriter) w = { 0 };
    g_autoptr (GBytes) list_bytes = NULL;
    g_autoptr (GPtrArray) list = NULL;
    LpaPendingNotification *n;

    lpa_der_writer_init (&w);
    lpa_der_writer_begin (&w, 0xBF2B);
    lpa_der_writer_begin (&w, 0xA0);
    lpa_der_write_raw_bytes (&w, notif);
    lpa_der_writer_end (&w);
    lpa_der_writer_end (&w);
    list_bytes = lpa_der_writer_finish (&w);
    list = lpa_es10b_parse_retrieve_notifications (list_bytes, &error);
    g_assert_no_error (error);
    n = g_ptr_array_index (list, 0);
    g_assert_false (n->is_install_result);
    g_assert_cmpuint (n->metadata->operation, ==, LPA_NOTIFICATION_ENABLE);
    g_assert_true (g_bytes_equal (n->raw, notif));
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/es10/appendix-a/requests", test_appendix_requests);
  g_test_add_func ("/es10/appendix-a/profiles", test_appendix_profiles);
  g_test_add_func ("/es10/appendix-a/notifications", test_appendix_notifications);
  g_test_add_func ("/es10/appendix-a/results", test_appendix_results);
  g_test_add_func ("/es10/own/notifications-rpm", test_notifications_rpm);
  g_test_add_func ("/es10/own/retrieve-rpm", test_retrieve_rpm);
  g_test_add_func ("/es10/appendix-a/pir", test_appendix_pir);
  g_test_add_func ("/es10/chips/trailing-bytes", test_trailing_bytes);
  g_test_add_func ("/es10/own/requests", test_own_requests);
  g_test_add_func ("/es10/own/request-arguments", test_request_arguments);
  g_test_add_func ("/es10/own/session-requests", test_session_requests);
  g_test_add_func ("/es10/own/hash-cc", test_hash_cc);
  g_test_add_func ("/es10/own/euicc-info2", test_euicc_info2);
  g_test_add_func ("/es10/own/euicc-info1", test_euicc_info1);
  g_test_add_func ("/es10/own/profile-info-full", test_profile_info_full);
  g_test_add_func ("/es10/own/profile-info-repeated", test_profile_info_repeated);
  g_test_add_func ("/es10/own/profile-info-bad-text", test_profile_info_bad_text);
  g_test_add_func ("/es10/own/profile-info-bad-address", test_profile_info_bad_address);
  g_test_add_func ("/es10/own/profile-list-cap", test_profile_list_cap);
  g_test_add_func ("/es10/own/euicc-info2-bad-text", test_euicc_info2_bad_text);
  g_test_add_func ("/es10/own/profile-hex-iccid", test_profile_hex_iccid);
  g_test_add_func ("/es10/own/profile-list-unknown-item", test_profile_list_unknown_item);
  g_test_add_func ("/es10/own/addresses-bad-text", test_addresses_bad_text);
  g_test_add_func ("/es10/own/euicc-info2-odd-members", test_euicc_info2_odd_members);
  g_test_add_func ("/es10/own/profile-info-odd-members", test_profile_info_odd_members);
  g_test_add_func ("/es10/own/notification-list-lenient", test_notification_list_lenient);
  g_test_add_func ("/es10/own/notification-unreadable-items", test_notification_unreadable_items);
  g_test_add_func ("/es10/own/notification-unknown-operation-strict",
                   test_notification_unknown_operation_strict);
  g_test_add_func ("/es10/own/rat", test_rat);
  g_test_add_func ("/es10/own/session-responses", test_session_responses);
  g_test_add_func ("/es10/own/install-errors", test_install_errors);
  g_test_add_func ("/es10/own/retrieve", test_retrieve);
  g_test_add_func ("/es10/own/simple-results", test_simple_results);
  g_test_add_func ("/es10/own/eid-challenge", test_eid_challenge);
  g_test_add_func ("/es10/robustness", test_robustness);
  g_test_add_func ("/es10/shared/session", test_shared_session);
  return g_test_run ();
}
