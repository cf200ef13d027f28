/* procedure-world.c — a scripted eUICC and a scripted SM-DP+/SM-DS that the download, discovery and
 * notification tests drive the procedures against, with a fault to inject at each step. */
#include "procedure-world.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <time.h>

/* The SGP.26 NIST test CI's key identifier (digest §9): the one key both sides use here. */
#define SKI       "F54172BDF98A95D65CBEB88A38A1C11D800A85C3"
#define OTHER_SKI "81370F5125D0B1D408D4C3B232E6D25E795BEBFB"
#define ISDP_AID  "A0000005591010FFFFFFFF8900001200"
#define SIGNATURE                                                                                  \
  "5F 37 40 "                                                                                      \
  "1111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111111" \
  "1111111111111111111111111111111111"

/* Writes @hex (a pre-encoded TLV) into @w. */
static void
raw (LpaDerWriter *w, const char *hex)
{
  g_autoptr (GBytes) b = unit_hex (hex);
  lpa_der_write_raw_bytes (w, b);
}

static void
write_iccid (LpaDerWriter *w, const char *iccid)
{
  guint8 bcd[10];

  g_assert_true (lpa_iccid_to_bcd (iccid, bcd, NULL));
  lpa_der_write (w, 0x5A, bcd, sizeof bcd);
}

GBytes *
world_info1 (void)
{
  return unit_hex ("BF 20 35 82 03 02 02 00 A9 16 04 14" SKI "AA 16 04 14" SKI);
}

/* A self-signed certificate whose subjectAltName names the SM-DP+ OID, as CERT.DPauth does. */
static GBytes *
make_certificate (void)
{
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  gnutls_datum_t out;
  GBytes *der;
  time_t now = time (NULL);

  g_assert_cmpint (gnutls_x509_privkey_init (&key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (
                       key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1), 0),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_crt_init (&crt), ==, 0);
  gnutls_x509_crt_set_version (crt, 3);
  gnutls_x509_crt_set_serial (crt, "\x01", 1);
  gnutls_x509_crt_set_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, "test SM-DP+", 11);
  gnutls_x509_crt_set_activation_time (crt, now);
  gnutls_x509_crt_set_expiration_time (crt, now + 3600);
  gnutls_x509_crt_set_key (crt, key);
  g_assert_cmpint (gnutls_x509_crt_set_subject_alt_name (crt, GNUTLS_SAN_REGISTERED_ID, WORLD_OID,
                                                         strlen (WORLD_OID), GNUTLS_FSAN_SET),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_crt_sign2 (crt, crt, key, GNUTLS_DIG_SHA256, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_DER, &out), ==, 0);
  der = g_bytes_new (out.data, out.size);
  gnutls_free (out.data);
  gnutls_x509_crt_deinit (crt);
  gnutls_x509_privkey_deinit (key);
  return der;
}

static void
log_add (GString *log, const char *entry)
{
  if (log->len)
    g_string_append_c (log, ' ');
  g_string_append (log, entry);
}

static void
maybe_hook (World *w, const char *entry)
{
  if (w->hook && w->hook_at && strcmp (w->hook_at, entry) == 0)
    w->hook (w->hook_data);
}

/* --- the eUICC ------------------------------------------------------------------------------- */

static UnitEuiccReply
reply_hex (const char *hex)
{
  UnitEuiccReply r = { unit_hex (hex), 0, FALSE };
  return r;
}

static UnitEuiccReply
reply_bytes (GBytes *bytes)
{
  UnitEuiccReply r = { bytes, 0, FALSE };
  return r;
}

static UnitEuiccReply
reply_transport (void)
{
  UnitEuiccReply r = { NULL, 0, TRUE };
  return r;
}

static UnitEuiccReply
reply_sw (guint16 sw)
{
  UnitEuiccReply r = { NULL, sw, FALSE };
  return r;
}

static GBytes *
signed_ok (World *w, guint32 tag, gboolean other_tid)
{
  g_auto (LpaDerWriter) d = { 0 };

  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, tag);
  lpa_der_writer_begin (&d, 0xA0);
  lpa_der_writer_begin (&d, 0x30);
  if (other_tid)
    raw (&d, "80 01 99");
  else
    lpa_der_write_bytes (&d, 0x80, w->tid);
  if (tag == 0xBF21)
    raw (&d, "5F 49 03 04 01 02");
  lpa_der_writer_end (&d);
  raw (&d, SIGNATURE);
  if (tag == 0xBF38)
    {
      lpa_der_write_raw_bytes (&d, w->cert);
      lpa_der_write_raw_bytes (&d, w->cert);
    }
  lpa_der_writer_end (&d);
  lpa_der_writer_end (&d);
  return lpa_der_writer_finish (&d);
}

static GBytes *
signed_error (World *w, guint32 tag, guint8 code)
{
  g_auto (LpaDerWriter) d = { 0 };

  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, tag);
  lpa_der_writer_begin (&d, 0xA1);
  lpa_der_write_bytes (&d, 0x80, w->tid);
  lpa_der_write (&d, 0x02, &code, 1);
  lpa_der_writer_end (&d);
  lpa_der_writer_end (&d);
  return lpa_der_writer_finish (&d);
}

static GBytes *
make_pir (World *w, gboolean success, guint8 reason)
{
  g_auto (LpaDerWriter) d = { 0 };

  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, 0xBF37);
  lpa_der_writer_begin (&d, 0xBF27);
  lpa_der_write_bytes (&d, 0x80, w->tid);
  lpa_der_writer_begin (&d, 0xBF2F);
  raw (&d, "80 01 03 81 02 07 80");
  lpa_der_write_utf8 (&d, 0x0C, WORLD_ADDRESS);
  write_iccid (&d, WORLD_ICCID);
  lpa_der_writer_end (&d);
  raw (&d, "06 03 88 37 0A");
  lpa_der_writer_begin (&d, 0xA2);
  if (success)
    raw (&d, "A0 15 4F 10" ISDP_AID "04 01 00");
  else
    {
      lpa_der_writer_begin (&d, 0xA1);
      raw (&d, "80 01 05");
      lpa_der_write (&d, 0x81, &reason, 1);
      lpa_der_writer_end (&d);
    }
  lpa_der_writer_end (&d);
  lpa_der_writer_end (&d);
  raw (&d, SIGNATURE);
  lpa_der_writer_end (&d);
  return lpa_der_writer_finish (&d);
}

/* The pending notifications of the notification tests: seq 0 (enable, another address) and the
 * PIR of seq 3. */
static GBytes *
other_notification (void)
{
  return unit_hex (
      "30 6D BF 2F 23 80 01 00 81 02 06 40 0C 0E 6F 70 2E 65 78 61 6D 70 6C 65 2E 63 6F 6D"
      " 5A 0A 98 10 32 54 76 98 10 32 54 F6" SIGNATURE " 30 00 30 00");
}

static UnitEuiccReply
notification_list (World *w, guint32 seq)
{
  g_auto (LpaDerWriter) d = { 0 };
  g_autoptr (GBytes) other = other_notification ();

  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, 0xBF2B);
  lpa_der_writer_begin (&d, 0xA0);
  if ((seq == 0) != (w->fault == F_RETRIEVE_OTHER_SEQ))
    lpa_der_write_raw_bytes (&d, other);
  else if (seq == 3 || w->fault == F_RETRIEVE_OTHER_SEQ)
    lpa_der_write_raw_bytes (&d, w->pir);
  lpa_der_writer_end (&d);
  lpa_der_writer_end (&d);
  return reply_bytes (lpa_der_writer_finish (&d));
}

static UnitEuiccReply
notification_list_all (World *w)
{
  g_auto (LpaDerWriter) d = { 0 };
  g_autoptr (GBytes) other = other_notification ();

  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, 0xBF2B);
  lpa_der_writer_begin (&d, 0xA0);
  lpa_der_write_raw_bytes (&d, other);
  lpa_der_write_raw_bytes (&d, w->pir);
  lpa_der_writer_end (&d);
  lpa_der_writer_end (&d);
  return reply_bytes (lpa_der_writer_finish (&d));
}

static gboolean
is_bpp_segment (guint32 tag)
{
  return tag == 0xBF36 || tag == 0xA0 || tag == 0xA1 || tag == 0x88 || tag == 0xA2 || tag == 0xA3 ||
         tag == 0x86;
}

static UnitEuiccReply
handle_segment (World *w)
{
  guint index = w->segment++;
  gboolean last = index + 1 == w->n_segments;
  g_autofree char *entry = g_strdup_printf ("BPP%u", index);

  log_add (w->es10_log, entry);
  maybe_hook (w, entry);
  if (w->fault == F_SEGMENT_TRANSPORT && index == 3)
    return reply_transport ();
  if (w->fault == F_LAST_SEGMENT_LOST && last)
    return reply_transport ();
  if (w->fault == F_SEGMENT_STATUS && index == 2)
    return reply_sw (0x6985);
  if (w->fault == F_SEGMENT_GARBAGE && index == 4)
    return reply_hex ("80 01 00");
  if (w->fault == F_PIR_EARLY && index == 1)
    return reply_bytes (make_pir (w, FALSE, 12));
  if (!last || w->fault == F_NO_PIR)
    return reply_bytes (NULL);
  if (w->fault == F_PIR_ERROR)
    return reply_bytes (make_pir (w, FALSE, 12));
  if (w->fault == F_PIR_MEMORY)
    return reply_bytes (make_pir (w, FALSE, 10));
  return reply_bytes (g_bytes_ref (w->pir));
}

static UnitEuiccReply
euicc_handler (GBytes *request, gpointer user_data)
{
  World *w = user_data;
  LpaTlv tlv, child;
  g_autofree char *entry = NULL;
  guint32 cancel_reason = 0;

  /* BPP segments: the BF36 and A1/A3 headers are not complete TLVs on their own. */
  if (!lpa_der_parse (g_bytes_get_data (request, NULL), g_bytes_get_size (request), &tlv, NULL) ||
      is_bpp_segment (tlv.tag))
    return handle_segment (w);

  if (tlv.tag == 0xBF41)
    {
      g_assert_true (lpa_der_get_child (&tlv, 0x81, &child, NULL));
      g_assert_true (lpa_der_get_uint (&child, &cancel_reason, NULL));
      g_assert_true (lpa_der_get_child (&tlv, 0x80, &child, NULL));
      g_assert_cmpmem (child.value, child.value_len, g_bytes_get_data (w->tid, NULL),
                       g_bytes_get_size (w->tid));
      entry = g_strdup_printf ("BF41:%u", cancel_reason);
    }
  else
    entry = g_strdup_printf ("%04X", tlv.tag);
  log_add (w->es10_log, entry);
  maybe_hook (w, entry);

  switch (tlv.tag)
    {
    case 0xBF2E:
      if (w->fault == F_CHALLENGE_TRANSPORT)
        return reply_transport ();
      {
        g_auto (LpaDerWriter) d = { 0 };
        lpa_der_writer_init (&d);
        lpa_der_writer_begin (&d, 0xBF2E);
        lpa_der_write_bytes (&d, 0x80, w->challenge);
        lpa_der_writer_end (&d);
        return reply_bytes (lpa_der_writer_finish (&d));
      }
    case 0xBF20:
      if (w->fault == F_INFO1_TRANSPORT)
        return reply_transport ();
      if (w->fault == F_INFO1_MALFORMED)
        return reply_hex ("BF 20 05 82 03 02 02 00");
      return reply_bytes (g_bytes_ref (w->info1));
    case 0xBF38:
      g_assert_true (lpa_der_get_child (&tlv, 0xA0, &child, NULL));
      g_clear_pointer (&w->ctx_params1, g_bytes_unref);
      w->ctx_params1 = g_bytes_new (child.tlv, child.tlv_len);
      if (w->fault == F_AUTH_SERVER_TRANSPORT)
        return reply_transport ();
      if (w->fault == F_AUTH_SERVER_ERROR)
        return reply_bytes (signed_error (w, 0xBF38, 6));
      if (w->fault == F_AUTH_SERVER_MALFORMED)
        return reply_hex ("BF 38 02 A0 00");
      return reply_bytes (signed_ok (w, 0xBF38, FALSE));
    case 0xBF43:
      if (w->fault == F_RAT_TRANSPORT)
        return reply_transport ();
      if (w->fault == F_RAT_STATUS)
        return reply_sw (0x6D00);
      return reply_hex (
          w->fault == F_PPR_NOT_ALLOWED
              ? "BF 43 15 A0 13 30 11 80 02 06 40 A1 07 30 05 80 03 62 F2 10 82 02 07 00"
          : w->consent ? "BF 43 15 A0 13 30 11 80 02 06 40 A1 07 30 05 80 03 13 F0 10 82 02 07 80"
                       : "BF 43 15 A0 13 30 11 80 02 06 40 A1 07 30 05 80 03 13 F0 10 82 02 07 00");
    case 0xBF21:
      g_clear_pointer (&w->prepare_request, g_bytes_unref);
      w->prepare_request = g_bytes_ref (request);
      if (w->fault == F_PREPARE_TRANSPORT)
        return reply_transport ();
      if (w->fault == F_PREPARE_ERROR)
        return reply_bytes (signed_error (w, 0xBF21, 2));
      return reply_bytes (signed_ok (w, 0xBF21, w->fault == F_PREPARE_TID));
    case 0xBF41:
      if (w->cancel_es10_fails)
        return reply_transport ();
      if (w->cancel_es10_no_session)
        return reply_hex ("BF 41 03 81 01 05");
      {
        g_auto (LpaDerWriter) d = { 0 };
        lpa_der_writer_init (&d);
        lpa_der_writer_begin (&d, 0xBF41);
        lpa_der_writer_begin (&d, 0xA0);
        lpa_der_writer_begin (&d, 0x30);
        lpa_der_write_bytes (&d, 0x80, w->tid);
        raw (&d, "81 03 88 37 0A");
        lpa_der_write_uint (&d, 0x82, cancel_reason);
        lpa_der_writer_end (&d);
        raw (&d, SIGNATURE);
        lpa_der_writer_end (&d);
        lpa_der_writer_end (&d);
        return reply_bytes (lpa_der_writer_finish (&d));
      }
    case 0xBF2B:
      if (w->fault == F_RETRIEVE_TRANSPORT)
        return reply_transport ();
      if (w->fault == F_RETRIEVE_ERROR)
        return reply_hex ("BF 2B 03 81 01 7F");
      {
        LpaTlv criteria, seq;
        guint32 n;
        /* No search criteria: every pending one (the batch of lpa_notification_retrieve_all). */
        if (!lpa_der_get_child (&tlv, 0xA0, &criteria, NULL))
          return notification_list_all (w);
        g_assert_true (lpa_der_get_child (&criteria, 0x80, &seq, NULL));
        g_assert_true (lpa_der_get_uint (&seq, &n, NULL));
        return notification_list (w, n);
      }
    case 0xBF30:
      if (w->fault == F_REMOVE_TRANSPORT)
        return reply_transport ();
      if (w->fault == F_REMOVE_ERROR)
        return reply_hex ("BF 30 03 80 01 7F");
      return reply_hex (w->fault == F_REMOVE_NOTHING ? "BF 30 03 80 01 01" : "BF 30 03 80 01 00");
    case 0xBF28:
      return reply_hex ("BF 28 28 A0 26 BF 2F 23 80 01 00 81 02 06 40 0C 0E 6F 70 2E 65 78 61 6D 70"
                        "6C 65 2E 63 6F 6D 5A 0A 98 10 32 54 76 98 10 32 54 F6");
    default:
      g_error ("unexpected ES10 request %04X", tlv.tag);
    }
}

/* --- the server ------------------------------------------------------------------------------ */

static UnitHttpReply
http_reply (guint status, GBytes *body)
{
  UnitHttpReply r = { status, body, FALSE };
  return r;
}

static UnitHttpReply
http_error (void)
{
  UnitHttpReply r = { 0, NULL, TRUE };
  return r;
}

static JsonObject *
request_object (GBytes *body)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                             (gssize) g_bytes_get_size (body), NULL));
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static GBytes *
request_tlv (JsonObject *o, const char *member)
{
  GBytes *b = lpa_base64_decode (json_object_get_string_member (o, member), member, NULL);
  g_assert_nonnull (b);
  return b;
}

static char *
b64 (GBytes *bytes)
{
  return lpa_base64_encode (bytes);
}

static UnitHttpReply
initiate (World *w, JsonObject *req, gboolean es11)
{
  g_autoptr (GBytes) challenge = request_tlv (req, "euiccChallenge");
  g_autoptr (GBytes) info1 = request_tlv (req, "euiccInfo1");
  g_auto (LpaDerWriter) d = { 0 };
  g_autoptr (GBytes) signed1 = NULL;
  g_autoptr (GBytes) sig = unit_hex (SIGNATURE);
  g_autoptr (GBytes) pkid = unit_hex (w->fault == F_PKID_UNKNOWN ? "04 14" OTHER_SKI : "04 14" SKI);
  g_autofree char *s1 = NULL, *s2 = NULL, *s3 = NULL, *s4 = NULL, *members = NULL;
  const char *address_member = es11 ? "smdsAddress" : "smdpAddress";

  g_assert_true (g_bytes_equal (challenge, w->challenge));
  g_assert_true (g_bytes_equal (info1, w->info1));
  g_assert_cmpstr (json_object_get_string_member (req, address_member), ==, WORLD_ADDRESS);
  if (w->fault == F_INITIATE_NETWORK)
    return http_error ();
  if (w->fault == F_INITIATE_HTTP_500)
    return http_reply (500, NULL);
  if (w->fault == F_INITIATE_FAILED)
    return http_reply (200, unit_json_failed ("8.8.2", "3.1", "no common CI"));

  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, 0x30);
  if (w->fault == F_SIGNED1_TID)
    raw (&d, "80 01 77");
  else
    lpa_der_write_bytes (&d, 0x80, w->tid);
  if (w->fault == F_SIGNED1_CHALLENGE)
    raw (&d, "81 10 00000000000000000000000000000000");
  else
    lpa_der_write_bytes (&d, 0x81, w->challenge);
  /* The server spells its own name in another case: the LPA compares case-insensitively. */
  if (w->fault == F_SIGNED1_ADDRESS_TEXT)
    {
      g_autofree char *padding = g_strnfill (4096, 'x');
      g_autofree char *name =
          g_strconcat ("other.example.com\n** INFO: forged line ", padding, NULL);

      lpa_der_write_utf8 (&d, 0x83, name);
    }
  else
    lpa_der_write_utf8 (&d, 0x83,
                        w->fault == F_SIGNED1_ADDRESS ? "other.example.com" : "SMDP.Example.COM");
  raw (&d, "84 10 0102030405060708090A0B0C0D0E0F10");
  lpa_der_writer_end (&d);
  signed1 = lpa_der_writer_finish (&d);
  s1 = b64 (signed1);
  s2 = b64 (sig);
  s3 = b64 (pkid);
  s4 = b64 (w->cert);
  members = g_strdup_printf (
      "\"transactionId\":\"%s\",\"serverSigned1\":\"%s\","
      "\"serverSignature1\":\"%s\",\"euiccCiPKIdToBeUsed\":\"%s\"%s%s%s",
      w->tid_hex, s1, s2, s3, w->fault == F_INITIATE_MALFORMED ? "" : ",\"serverCertificate\":\"",
      w->fault == F_INITIATE_MALFORMED ? "" : s4, w->fault == F_INITIATE_MALFORMED ? "" : "\"");
  return http_reply (200, unit_json_success (members));
}

static GBytes *
profile_metadata (World *w, const char *iccid)
{
  g_auto (LpaDerWriter) d = { 0 };

  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, 0xBF25);
  write_iccid (&d, iccid);
  lpa_der_write_utf8 (&d, 0x91, "Operator");
  lpa_der_write_utf8 (&d, 0x92, "Plan");
  if (w->ppr)
    raw (&d, "B7 05 80 03 13 F0 10 99 02 06 40");
  lpa_der_writer_end (&d);
  return lpa_der_writer_finish (&d);
}

static UnitHttpReply
authenticate_client (World *w, JsonObject *req)
{
  g_autoptr (GBytes) response = request_tlv (req, "authenticateServerResponse");
  g_autoptr (LpaSignedResponse) parsed = lpa_es10b_parse_authenticate_server (response, NULL);
  g_autoptr (GBytes) metadata = profile_metadata (w, WORLD_ICCID);
  g_autoptr (GBytes) sig = unit_hex (SIGNATURE);
  g_auto (LpaDerWriter) d = { 0 };
  g_autoptr (GBytes) signed2 = NULL;
  g_autofree char *m = NULL, *s2 = NULL, *sg = NULL, *c = NULL, *members = NULL;

  g_assert_nonnull (parsed);
  g_assert_cmpstr (json_object_get_string_member (req, "transactionId"), ==, w->tid_hex);
  if (!parsed->ok)
    return http_reply (200, unit_json_failed ("8.1", "6.1", "eUICC refused"));
  if (w->fault == F_AUTH_CLIENT_NETWORK)
    return http_error ();
  if (w->fault == F_AUTH_CLIENT_FAILED)
    return http_reply (200, unit_json_failed ("8.2.6", "3.8", "matching ID refused"));
  if (w->fault == F_AUTH_CLIENT_EXPIRED)
    {
      static const char expired[] =
          "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Expired\"}}}";
      return http_reply (200, g_bytes_new_static (expired, sizeof expired - 1));
    }
  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, 0x30);
  if (w->fault == F_SIGNED2_TID)
    raw (&d, "80 01 77");
  else
    lpa_der_write_bytes (&d, 0x80, w->tid);
  lpa_der_write_bool (&d, 0x01, w->cc_required);
  lpa_der_writer_end (&d);
  signed2 = lpa_der_writer_finish (&d);
  m = b64 (metadata);
  s2 = b64 (signed2);
  sg = b64 (sig);
  c = b64 (w->cert);
  if (w->fault == F_AUTH_CLIENT_MALFORMED)
    members = g_strdup_printf ("\"transactionId\":\"%s\",\"profileMetadata\":\"%s\","
                               "\"smdpSignature2\":\"%s\",\"smdpCertificate\":\"%s\"",
                               w->tid_hex, m, sg, c);
  else
    members = g_strdup_printf ("\"transactionId\":\"%s\",\"profileMetadata\":\"%s\","
                               "\"smdpSigned2\":\"%s\",\"smdpSignature2\":\"%s\","
                               "\"smdpCertificate\":\"%s\"",
                               w->fault == F_AUTH_CLIENT_TID ? "0A0A" : w->tid_hex, m, s2, sg, c);
  return http_reply (200, unit_json_success (members));
}

static GBytes *
make_bpp (World *w)
{
  g_auto (LpaDerWriter) d = { 0 };
  g_autoptr (GBytes) metadata =
      profile_metadata (w, w->fault == F_METADATA_MISMATCH ? "8901234567890123457" : WORLD_ICCID);
  g_autoptr (GByteArray) m88 = g_byte_array_new ();
  static const guint8 mac[8] = { 0x4D, 0x4D, 0x4D, 0x4D, 0x4D, 0x4D, 0x4D, 0x4D };

  g_byte_array_append (m88, g_bytes_get_data (metadata, NULL), (guint) g_bytes_get_size (metadata));
  g_byte_array_append (m88, mac, sizeof mac);
  lpa_der_writer_init (&d);
  lpa_der_writer_begin (&d, 0xBF36);
  lpa_der_writer_begin (&d, 0xBF23);
  raw (&d, "82 01 01");
  lpa_der_write_bytes (&d, 0x80, w->tid);
  raw (&d, "A6 09 80 01 88 81 01 10 84 01 01 5F 49 03 04 01 02");
  raw (&d, SIGNATURE);
  lpa_der_writer_end (&d);
  raw (&d, "A0 05 87 03 01 02 03");
  lpa_der_writer_begin (&d, 0xA1);
  lpa_der_write (&d, 0x88, m88->data, m88->len);
  lpa_der_writer_end (&d);
  if (w->fault != F_BPP_MALFORMED)
    raw (&d, "A3 0F 86 03 11 12 13 86 04 21 22 23 24 86 02 31 32");
  lpa_der_writer_end (&d);
  return lpa_der_writer_finish (&d);
}

static UnitHttpReply
get_bpp (World *w, JsonObject *req)
{
  g_autoptr (GBytes) response = request_tlv (req, "prepareDownloadResponse");
  g_autoptr (LpaSignedResponse) parsed = lpa_es10b_parse_prepare_download (response, NULL);
  g_autoptr (GBytes) bpp = NULL;
  g_autofree char *b = NULL, *members = NULL;

  g_assert_nonnull (parsed);
  if (!parsed->ok)
    return http_reply (200, unit_json_failed ("8.1", "6.1", "eUICC refused"));
  if (w->fault == F_GET_BPP_NETWORK)
    return http_error ();
  if (w->fault == F_GET_BPP_FAILED_CC)
    return http_reply (200, unit_json_failed ("8.2.7", "3.8", "wrong code"));
  bpp = make_bpp (w);
  b = b64 (bpp);
  members = g_strdup_printf ("\"transactionId\":\"%s\",\"boundProfilePackage\":\"%s\"",
                             w->fault == F_GET_BPP_TID ? "0B0B" : w->tid_hex, b);
  return http_reply (200, unit_json_success (members));
}

static UnitHttpReply
es11_authenticate_client (World *w, JsonObject *req)
{
  g_autoptr (GBytes) response = request_tlv (req, "authenticateServerResponse");
  g_autoptr (LpaSignedResponse) parsed = lpa_es10b_parse_authenticate_server (response, NULL);
  g_autofree char *members = NULL;

  g_assert_nonnull (parsed);
  if (!parsed->ok)
    return http_reply (200, unit_json_failed ("8.1", "6.1", "eUICC refused"));
  if (w->fault == F_ES11_CLIENT_FAILED)
    return http_reply (200, unit_json_failed ("8.9.5", "3.9", NULL));
  members = g_strdup_printf ("\"transactionId\":\"%s\",\"eventEntries\":[{\"eventId\":\"EVENT-1\","
                             "\"rspServerAddress\":\"smdp.example.com\"},{\"eventId\":\"EVENT-2\","
                             "\"rspServerAddress\":\"other.example.com\"}]",
                             w->fault == F_ES11_CLIENT_TID ? "0C0C" : w->tid_hex);
  return http_reply (200, unit_json_success (members));
}

static UnitHttpReply
server_handler (const char *host, const char *path, GBytes *body, gpointer user_data)
{
  World *w = user_data;
  g_autoptr (JsonObject) req = request_object (body);
  const char *function = strrchr (path, '/') + 1;
  gboolean es11 = strstr (path, "/es11/") != NULL;
  g_autofree char *entry = g_strconcat (es11 ? "es11/" : "", function, NULL);
  guint family = es11 ? 1 : 2;

  log_add (w->http_log, entry);
  maybe_hook (w, entry);
  if (strcmp (function, "handleNotification") != 0)
    g_assert_cmpstr (host, ==, WORLD_ADDRESS);

  if (w->server_path_families && !(w->server_path_families & family))
    return http_reply (404, NULL);
  if (w->fault == F_ES11_CLIENT_404 && es11 && strcmp (function, "authenticateClient") == 0)
    return http_reply (404, NULL);
  if (strcmp (function, "initiateAuthentication") == 0)
    return initiate (w, req, es11);
  if (strcmp (function, "authenticateClient") == 0)
    return w->server_path_families ? es11_authenticate_client (w, req)
                                   : authenticate_client (w, req);
  if (strcmp (function, "getBoundProfilePackage") == 0)
    return get_bpp (w, req);
  if (strcmp (function, "cancelSession") == 0)
    {
      g_autoptr (GBytes) bf41 = request_tlv (req, "cancelSessionResponse");
      g_autoptr (LpaCancelSessionResponse) parsed = lpa_es10b_parse_cancel_session (bf41, NULL);

      g_assert_nonnull (parsed);
      g_assert_cmpstr (json_object_get_string_member (req, "transactionId"), ==, w->tid_hex);
      if (w->cancel_es9_fails)
        return http_error ();
      return http_reply (200, unit_json_success (NULL));
    }
  if (strcmp (function, "handleNotification") == 0)
    {
      g_autoptr (GBytes) notification = request_tlv (req, "pendingNotification");
      g_autoptr (GBytes) other = other_notification ();

      /* Delivered as the eUICC signed it. */
      g_assert_true (g_bytes_equal (notification, w->pir) || g_bytes_equal (notification, other));
      if (w->fault == F_NOTIFY_NETWORK)
        return http_error ();
      if (w->fault == F_NOTIFY_HTTP_500)
        return http_reply (500, NULL);
      if (w->fault == F_NOTIFY_FAILED)
        return http_reply (200, unit_json_failed ("8.1", "6.1", NULL));
      return http_reply (204, NULL);
    }
  g_error ("unexpected path %s", path);
}

/* --- setup ----------------------------------------------------------------------------------- */

void
world_init (World *w, Fault fault)
{
  static GBytes *cert;

  memset (w, 0, sizeof *w);
  if (cert == NULL)
    cert = make_certificate ();
  w->fault = fault;
  w->cert = g_bytes_ref (cert);
  w->challenge = unit_hex ("C0C1C2C3C4C5C6C7C8C9CACBCCCDCECF");
  w->tid = unit_hex ("0A1B2C3D4E5F60718293A4B5C6D7E8F9");
  /* Lower case on purpose: hex transaction IDs compare case-insensitively. */
  w->tid_hex = g_strdup ("0a1b2c3d4e5f60718293a4b5c6d7e8f9");
  w->info1 = world_info1 ();
  w->n_segments = 8;
  w->es10_log = g_string_new (NULL);
  w->http_log = g_string_new (NULL);
  w->pir = make_pir (w, TRUE, 0);
  unit_euicc_init (&w->euicc, 2, euicc_handler, w);
  unit_http_init (&w->http, server_handler, w);
  w->es10 = lpa_es10_new (&unit_euicc_ops, &w->euicc, 2);
  /* Faults here are the procedure's business: no segment-size step-down retries (test-apdu). */
  lpa_es10_set_min_segment_size (w->es10, 255);
}

void
world_clear (World *w)
{
  g_assert_cmpuint (unit_pending (), ==, 0);
  lpa_es10_unref (w->es10);
  unit_euicc_clear (&w->euicc);
  unit_http_clear (&w->http);
  g_bytes_unref (w->cert);
  g_bytes_unref (w->challenge);
  g_bytes_unref (w->tid);
  g_free (w->tid_hex);
  g_bytes_unref (w->info1);
  g_string_free (w->es10_log, TRUE);
  g_string_free (w->http_log, TRUE);
  g_clear_pointer (&w->prepare_request, g_bytes_unref);
  g_clear_pointer (&w->ctx_params1, g_bytes_unref);
  g_clear_pointer (&w->pir, g_bytes_unref);
}
