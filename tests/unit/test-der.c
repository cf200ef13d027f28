/* test-der.c — unit tests of the DER reader/writer, identifier BCD codings, hex and base64. */
#include "unit-support.h"

static void
read_one (const char *hex, LpaTlv *tlv, GBytes **keep)
{
  g_autoptr (GError) error = NULL;

  *keep = unit_hex (hex);
  g_assert_true (
      lpa_der_parse (g_bytes_get_data (*keep, NULL), g_bytes_get_size (*keep), tlv, &error));
  g_assert_no_error (error);
}

static void
expect_malformed (const char *hex, const char *fragment)
{
  g_autoptr (GBytes) bytes = unit_hex (hex);
  g_autoptr (GError) error = NULL;
  LpaTlv tlv;

  g_assert_false (
      lpa_der_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &tlv, &error));
  unit_assert_error (error, LPA_ERROR_MALFORMED, fragment);
}

static void
test_tags (void)
{
  g_autoptr (GBytes) a = NULL, b = NULL, c = NULL, d = NULL;
  LpaTlv tlv;

  read_one ("5A 01 00", &tlv, &a);
  g_assert_cmphex (tlv.tag, ==, 0x5A);
  g_assert_false (tlv.constructed);
  read_one ("BF 2D 00", &tlv, &b);
  g_assert_cmphex (tlv.tag, ==, 0xBF2D);
  g_assert_true (tlv.constructed);
  g_assert_cmpuint (tlv.value_len, ==, 0);
  read_one ("9F 70 01 01", &tlv, &c);
  g_assert_cmphex (tlv.tag, ==, 0x9F70);
  g_assert_cmpuint (tlv.header_len, ==, 3);
  /* A three-byte tag: the second byte has its continuation bit set. */
  read_one ("1F 81 01 02 AA BB", &tlv, &d);
  g_assert_cmphex (tlv.tag, ==, 0x1F8101);
  g_assert_cmpuint (tlv.value_len, ==, 2);
  g_assert_cmpuint (tlv.tlv_len, ==, 6);
}

static void
test_lengths (void)
{
  g_autoptr (GByteArray) big = g_byte_array_new ();
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GBytes) a = NULL, b = NULL;
  LpaTlv tlv;
  guint8 header[] = { 0x86, 0x83, 0x01, 0x00, 0x01 };

  read_one ("04 81 80"
            "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
            "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
            "00000000000000000000000000000000000000000000000000000000000000000000000000000000"
            "0000000000000000",
            &tlv, &a);
  g_assert_cmpuint (tlv.value_len, ==, 128);
  g_assert_cmpuint (tlv.header_len, ==, 3);
  /* BER's non-minimal long form is read (81 05), since nothing here is ever re-encoded. */
  read_one ("04 81 05 0102030405", &tlv, &b);
  g_assert_cmpuint (tlv.value_len, ==, 5);

  /* 65537 bytes: a three-byte length, as big BPPs use. */
  g_byte_array_append (big, header, sizeof header);
  g_byte_array_set_size (big, sizeof header + 65537);
  bytes = g_byte_array_free_to_bytes (g_steal_pointer (&big));
  g_assert_true (
      lpa_der_parse (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), &tlv, NULL));
  g_assert_cmpuint (tlv.value_len, ==, 65537);
  g_assert_cmpuint (tlv.header_len, ==, 5);
}

static void
test_errors (void)
{
  expect_malformed ("", "end of the data");
  expect_malformed ("BF", "truncated tag");
  expect_malformed ("BF 80", "truncated tag");
  expect_malformed ("5A", "truncated length");
  expect_malformed ("5A 82 01", "truncated length");
  expect_malformed ("5A 80 00 00", "indefinite length");
  expect_malformed ("5A 85 00 00 00 00 01 00", "longer than 4 bytes");
  expect_malformed ("5A 03 01 02", "truncated value");
  expect_malformed ("5A 84 FF FF FF FF 00", "truncated value");
  expect_malformed ("1F 81 81 81 01 00", "tag longer than 4 bytes");
  expect_malformed ("00 00", "zero tag");
  expect_malformed ("5A 01 00 00", "trailing bytes");
}

static void
test_children (void)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  LpaTlv outer, child;
  gboolean found;

  read_one ("BF 2F 0B 80 01 00 81 02 07 80 0C 02 61 62", &outer, &bytes);
  g_assert_true (lpa_der_find_child (&outer, 0x0C, &child, &found, &error));
  g_assert_true (found);
  g_assert_cmpuint (child.value_len, ==, 2);
  g_assert_true (lpa_der_find_child (&outer, 0x5A, &child, &found, &error));
  g_assert_false (found);
  g_assert_false (lpa_der_get_child (&outer, 0x5A, &child, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_clear_error (&error);

  /* A child running past its parent is truncation, not a read past the parent's end. */
  {
    g_autoptr (GBytes) bad = NULL;
    LpaTlv parent;

    read_one ("A0 03 80 05 01", &parent, &bad);
    g_assert_false (lpa_der_find_child (&parent, 0x80, &child, &found, &error));
    g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  }
}

static void
test_values (void)
{
  g_autoptr (GBytes) a = NULL, b = NULL, c = NULL, d = NULL, e = NULL, f = NULL, g = NULL;
  g_autoptr (GError) error = NULL;
  LpaTlv tlv;
  guint32 u;
  gint32 i;
  guint64 bits;
  gboolean flag;
  g_autofree char *oid = NULL;
  g_autofree char *text = NULL;

  read_one ("80 02 00 C8", &tlv, &a);
  g_assert_true (lpa_der_get_uint (&tlv, &u, &error));
  g_assert_cmpuint (u, ==, 200);
  read_one ("80 01 FF", &tlv, &b);
  g_assert_true (lpa_der_get_int (&tlv, &i, &error));
  g_assert_cmpint (i, ==, -1);
  g_assert_false (lpa_der_get_uint (&tlv, &u, &error));
  g_clear_error (&error);
  read_one ("82 02 05 E0", &tlv, &c);
  g_assert_true (lpa_der_get_bits (&tlv, &bits, &error));
  g_assert_cmphex (bits, ==, 0x7);
  read_one ("81 01 FF", &tlv, &d);
  g_assert_true (lpa_der_get_bool (&tlv, &flag, &error));
  g_assert_true (flag);
  /* 2.999.10, the SGP.26 SM-DP+ OID: the first subidentifier 1079 = 2*40+999. */
  read_one ("06 03 88 37 0A", &tlv, &e);
  oid = lpa_der_get_oid (&tlv, &error);
  g_assert_cmpstr (oid, ==, "2.999.10");
  read_one ("0C 02 C3 28", &tlv, &f);
  text = lpa_der_get_utf8 (&tlv, &error);
  g_assert_null (text);
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_clear_error (&error);
  read_one ("03 01 07", &tlv, &g);
  g_assert_false (lpa_der_get_bits (&tlv, &bits, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

static void
test_writer (void)
{
  g_auto (LpaDerWriter) w = { 0 };
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GBytes) big = NULL;
  g_autofree guint8 *zeros = g_malloc0 (70000);

  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF2F);
  lpa_der_write_uint (&w, 0x80, 0);
  lpa_der_write_bits (&w, 0x81, LPA_NOTIFICATION_INSTALL);
  lpa_der_write_utf8 (&w, 0x0C, "ab");
  lpa_der_writer_begin (&w, 0xA0);
  lpa_der_write_uint (&w, 0x80, 200);
  lpa_der_write_uint (&w, 0x81, 0x12345678);
  lpa_der_write_bool (&w, 0x82, FALSE);
  lpa_der_write_bits (&w, 0x83, 0);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  out = lpa_der_writer_finish (&w);
  unit_assert_hex (out, "BF2F 1D 800100 81020780 0C026162"
                        "A0 10 800200C8 810412345678 820100 830100");

  /* A value of 70000 bytes gets a three-byte length; its parent too. */
  lpa_der_writer_begin (&w, 0xBF36);
  lpa_der_write (&w, 0x86, zeros, 70000);
  lpa_der_writer_end (&w);
  big = lpa_der_writer_finish (&w);
  g_assert_cmpuint (g_bytes_get_size (big), ==, 70000 + 5 + 6);
  {
    const guint8 *p = g_bytes_get_data (big, NULL);
    static const guint8 head[] = {
      0xBF, 0x36, 0x83, 0x01, 0x11, 0x75, 0x86, 0x83, 0x01, 0x11, 0x70
    };
    g_assert_cmpmem (p, sizeof head, head, sizeof head);
  }
}

static void
test_iccid (void)
{
  static const struct
  {
    const char *digits;
    const char *bcd;
  } cases[] = {
    /* Appendix A's ICCID: 19 digits, F-padded. */
    { "8901234567890123456", "98 10 32 54 76 98 10 32 54 F6" },
    { "890123456789012345", "98 10 32 54 76 98 10 32 54 FF" },
    { "89012345678901234567", "98 10 32 54 76 98 10 32 54 76" },
  };
  guint8 bcd[10];
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) want = unit_hex (cases[i].bcd);
      g_autoptr (GBytes) got = NULL;
      g_autofree char *back = NULL;

      g_assert_true (lpa_iccid_to_bcd (cases[i].digits, bcd, &error));
      got = g_bytes_new (bcd, sizeof bcd);
      g_assert_true (g_bytes_equal (got, want));
      back = lpa_iccid_from_bcd (bcd, sizeof bcd);
      g_assert_cmpstr (back, ==, cases[i].digits);
    }
  g_assert_false (lpa_iccid_to_bcd ("89012345678901234", bcd, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (lpa_iccid_to_bcd ("890123456789012345678", bcd, &error));
  g_clear_error (&error);
  /* F is the padding, never a character; lower case is not what lpa_iccid_from_bcd() gives. */
  g_assert_false (lpa_iccid_to_bcd ("89012345678901234F", bcd, &error));
  g_clear_error (&error);
  g_assert_false (lpa_iccid_to_bcd ("89012345678901234a", bcd, &error));
  g_clear_error (&error);
  g_assert_false (lpa_iccid_to_bcd (NULL, bcd, &error));
  g_clear_error (&error);

  /* Decoding keeps a hex nibble A-E as its digit (real cards carry them; see test-es10's
   * profile-hex-iccid), and rejects digits after the padding and wrong lengths. */
  {
    static const guint8 hex_nibble[10] = { 0x98, 0x10, 0x32, 0x54, 0x76,
                                           0x98, 0x10, 0x32, 0x5A, 0xF6 };
    g_autofree char *hex = lpa_iccid_from_bcd (hex_nibble, 10);

    g_assert_cmpstr (hex, ==, "8901234567890123A56");
    static const guint8 digit_after_f[10] = { 0x98, 0x10, 0x32, 0x54, 0x76,
                                              0x98, 0x10, 0x32, 0xF4, 0x16 };
    static const guint8 too_short[10] = {
      0x98, 0x10, 0x32, 0x54, 0x76, 0x98, 0x10, 0x32, 0xFF, 0xFF
    };
    g_assert_null (lpa_iccid_from_bcd (digit_after_f, 10));
    g_assert_null (lpa_iccid_from_bcd (too_short, 10));
    g_assert_null (lpa_iccid_from_bcd (hex_nibble, 9));
  }
}

/* A caller's ICCID as people and tools give it: each names the listed form, and so encodes to the
 * listed profile's bytes (the hex-nibble ICCID is test_iccid's, the padded ones EF_ICCID dumps). */
static void
test_iccid_canonical (void)
{
  static const struct
  {
    const char *given;
    const char *listed; /* NULL: no ICCID */
  } cases[] = {
    { "8901234567890123A56", "8901234567890123A56" },
    { "8901234567890123a56", "8901234567890123A56" },
    { "8901234567890123456F", "8901234567890123456" },
    { "8901234567890123456f", "8901234567890123456" },
    { "890123456789012345FF", "890123456789012345" },
    { " 8901234567890123456\r\n", "8901234567890123456" },
    { "\t8901234567890123a56F ", "8901234567890123A56" },
    /* F only as trailing padding, within EF_ICCID's 20 nibbles; nothing else is made valid. */
    { "89012345678901234F", NULL },
    { "8901234567890123F56", NULL },
    { "8901234567890123456FF", NULL },
    { "89012345678901234567F", NULL },
    { "8901234567890123g56", NULL },
    { "8901 2345 6789 0123 456", NULL },
    { "", NULL },
    { "   ", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *got = lpa_iccid_canonical (cases[i].given);

      g_assert_cmpstr (got, ==, cases[i].listed);
      if (got)
        g_assert_true (lpa_iccid_is_valid (got));
    }
  g_assert_null (lpa_iccid_canonical (NULL));
}

static void
test_imei_eid (void)
{
  guint8 imei[8];
  g_autoptr (GBytes) got = NULL;
  g_autoptr (GError) error = NULL;
  static const guint8 eid[16] = { 0x89, 0x04, 0x90, 0x32, 0x12, 0x34, 0x51, 0x23,
                                  0x45, 0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0x35 };
  g_autofree char *eid_text = lpa_eid_from_bytes (eid, sizeof eid);

  /* Appendix A's IMEI field: 352906112345678 swapped, F in the last nibble. */
  g_assert_true (lpa_imei_to_bcd ("352906112345678", imei, &error));
  got = g_bytes_new (imei, sizeof imei);
  unit_assert_hex (got, "53 92 60 11 32 54 76 F8");
  g_assert_false (lpa_imei_to_bcd ("35290611234567", imei, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  /* The EID of the SGP.26 test eUICC, as its certificate names it. */
  g_assert_cmpstr (eid_text, ==, "89049032123451234512345678901235");
  g_assert_null (lpa_eid_from_bytes (eid, 15));
}

static void
test_hex (void)
{
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;

  bytes = lpa_hex_decode ("aaF1c75C", &error);
  text = lpa_hex_encode_bytes (bytes);
  g_assert_cmpstr (text, ==, "AAF1C75C");
  g_assert_null (lpa_hex_decode ("ABC", &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  g_clear_error (&error);
  g_assert_null (lpa_hex_decode ("AG", &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

static void
test_base64 (void)
{
  static const char *const bad[] = { "QUI",          "QUJD=",     "QU=D", "=QUJ",
                                     "QUJDRA=",      "QUJDRA===", "QR==", "Q===",
                                     "QUJDRA==QUJD", "-_==",      "QU*D" };
  g_autoptr (GBytes) in = unit_hex ("BF 2E 00 41 42");
  g_autofree char *b64 = lpa_base64_encode (in);
  g_autoptr (GBytes) out = NULL;
  g_autoptr (GBytes) wrapped = NULL;

  g_assert_cmpstr (b64, ==, "vy4AQUI=");
  out = lpa_base64_decode (b64, "test", NULL);
  g_assert_true (g_bytes_equal (in, out));
  /* Servers may wrap lines: whitespace anywhere is ignored. */
  wrapped = lpa_base64_decode (" vy4A\r\n QUI=\n", "test", NULL);
  g_assert_true (g_bytes_equal (in, wrapped));
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) none = lpa_base64_decode (bad[i], "field", &error);
      if (none)
        g_error ("accepted bad base64 \"%s\"", bad[i]);
      g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
      g_assert_nonnull (strstr (error->message, "field"));
    }
  /* Every length (all three paddings) round-trips through GLib's encoder, also line-wrapped as
   * g_base64_encode_close (break_lines) wraps it: own vectors, checked against GLib. */
  for (gsize len = 0; len < 300; len++)
    {
      g_autofree guint8 *data = g_malloc (len + 1);
      g_autofree char *text = NULL;
      g_autofree char *lines = g_malloc (len * 4 / 3 + len / 54 + 16);
      gint state = 0, save = 0;
      gsize n;

      for (gsize i = 0; i < len; i++)
        data[i] = (guint8) g_test_rand_int ();
      text = g_base64_encode (data, len);
      n = g_base64_encode_step (data, len, TRUE, lines, &state, &save);
      n += g_base64_encode_close (TRUE, lines + n, &state, &save);
      lines[n] = 0;
      {
        g_autoptr (GBytes) plain = lpa_base64_decode (text, "test", NULL);
        g_autoptr (GBytes) wrapped_too = lpa_base64_decode (lines, "test", NULL);
        g_autoptr (GBytes) expected = g_bytes_new (data, len);

        g_assert_true (g_bytes_equal (plain, expected));
        g_assert_true (g_bytes_equal (wrapped_too, expected));
      }
    }
}

static gboolean
parse_any_tlv (GBytes *input, GError **error)
{
  LpaTlv tlv;

  return lpa_der_parse (g_bytes_get_data (input, NULL), g_bytes_get_size (input), &tlv, error);
}

static void
test_truncations (void)
{
  g_autoptr (GBytes) valid = unit_hex ("BF 2F 0B 80 01 00 81 02 07 80 0C 02 61 62");
  g_autoptr (GBytes) long_form = unit_hex ("04 82 00 03 01 02 03");

  unit_check_truncations (parse_any_tlv, valid);
  unit_check_truncations (parse_any_tlv, long_form);
  unit_check_mutations (parse_any_tlv, valid);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/der/tags", test_tags);
  g_test_add_func ("/der/lengths", test_lengths);
  g_test_add_func ("/der/errors", test_errors);
  g_test_add_func ("/der/children", test_children);
  g_test_add_func ("/der/values", test_values);
  g_test_add_func ("/der/writer", test_writer);
  g_test_add_func ("/der/truncations", test_truncations);
  g_test_add_func ("/iccid/round-trip", test_iccid);
  g_test_add_func ("/iccid/canonical", test_iccid_canonical);
  g_test_add_func ("/iccid/imei-eid", test_imei_eid);
  g_test_add_func ("/text/hex", test_hex);
  g_test_add_func ("/text/base64", test_base64);
  return g_test_run ();
}
