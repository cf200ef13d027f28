/* test-bpp.c — unit tests of Bound Profile Package segmentation and metadata extraction. */
#include "unit-support.h"

#include <json-glib/json-glib.h>

/* A hand-built BPP (shape of digest §4.1, contents dummies): BF23, A0 {87}, A1 {88 88},
 * A2 {87}, A3 {86 86 86}. The two 88 values are halves of a BF25 followed by 8 MAC bytes each. */
#define BF23 "BF 23 0C 82 01 01 80 02 AA BB 5F 37 02 01 02"
#define A0   "A0 05 87 03 01 02 03"
#define M1   "88 15 BF 25 12 5A 0A 98 10 32 54 76 98 10 32 4D 4D 4D 4D 4D 4D 4D 4D"
#define M2   "88 10 54 F6 91 01 41 92 01 42 00 00 00 00 00 00 00 00"
#define A2   "A2 04 87 02 0A 0B"
#define P1   "86 03 11 12 13"
#define P2   "86 04 21 22 23 24"
#define P3   "86 02 31 32"

static GBytes *
hand_bpp (gboolean with_a2, char **parts_out)
{
  g_autofree char *a1 = NULL;
  g_autofree char *a3 = g_strdup_printf ("A3 0F %s %s %s", P1, P2, P3);
  g_autofree char *body = NULL;
  g_autoptr (GBytes) body_bytes = NULL;
  g_autofree char *hex = NULL;

  a1 = g_strdup_printf ("A1 29 %s %s", M1, M2);
  body = g_strdup_printf ("%s %s %s %s %s", BF23, A0, a1, with_a2 ? A2 : "", a3);
  body_bytes = unit_hex (body);
  hex = g_strdup_printf ("BF 36 %02X %s", (guint) g_bytes_get_size (body_bytes), body);
  if (parts_out)
    *parts_out = g_strdup (a1);
  return unit_hex (hex);
}

static void
test_segments (void)
{
  for (int with_a2 = 0; with_a2 <= 1; with_a2++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *a1 = NULL;
      g_autoptr (GBytes) bpp = hand_bpp (with_a2, &a1);
      g_autoptr (GPtrArray) segments = lpa_bpp_segments (bpp, &error);
      g_autofree char *first =
          g_strdup_printf ("BF 36 %02X %s", (guint) g_bytes_get_size (bpp) - 3, BF23);
      gsize len;
      const guint8 *base = g_bytes_get_data (bpp, &len);
      guint i = 0;
      gsize total = 0;

      g_assert_no_error (error);
      g_assert_cmpuint (segments->len, ==, (with_a2 ? 10 : 9));
      unit_assert_hex (g_ptr_array_index (segments, i++), first);
      unit_assert_hex (g_ptr_array_index (segments, i++), A0);
      unit_assert_hex (g_ptr_array_index (segments, i++), "A1 29");
      unit_assert_hex (g_ptr_array_index (segments, i++), M1);
      unit_assert_hex (g_ptr_array_index (segments, i++), M2);
      if (with_a2)
        unit_assert_hex (g_ptr_array_index (segments, i++), A2);
      unit_assert_hex (g_ptr_array_index (segments, i++), "A3 0F");
      unit_assert_hex (g_ptr_array_index (segments, i++), P1);
      unit_assert_hex (g_ptr_array_index (segments, i++), P2);
      unit_assert_hex (g_ptr_array_index (segments, i++), P3);

      /* The segments are slices of the received buffer, in order, covering it exactly. */
      for (i = 0; i < segments->len; i++)
        {
          gsize n;
          const guint8 *p = g_bytes_get_data (g_ptr_array_index (segments, i), &n);
          g_assert_true (p == base + total);
          total += n;
        }
      g_assert_cmpuint (total, ==, len);
    }
}

static void
test_metadata (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bpp = hand_bpp (TRUE, NULL);
  g_autoptr (GBytes) metadata = lpa_bpp_metadata (bpp, &error);
  g_autoptr (LpaProfileInfo) info = NULL;
  /* One 88 whose value, MAC removed, is a BF25 with a stray byte after it. */
  g_autoptr (GBytes) trailing = unit_hex (
      "BF 36 3E " BF23 " " A0 " A1 20 88 1E BF 25 12 5A 0A 98 10 32 54 76 98 10 32 54 F6 91 01 41"
      "92 01 42 FF 00 00 00 00 00 00 00 00 A3 02 86 00");

  g_assert_no_error (error);
  /* The two 88 values without their MACs, joined. */
  unit_assert_hex (metadata, "BF 25 12 5A 0A 98 10 32 54 76 98 10 32 54 F6 91 01 41 92 01 42");
  info = lpa_profile_metadata_parse (metadata, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (info->iccid, ==, "8901234567890123456");
  g_assert_null (lpa_bpp_metadata (trailing, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
}

static void
expect_bad (const char *hex, const char *fragment)
{
  g_autoptr (GBytes) bpp = unit_hex (hex);
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) segments = lpa_bpp_segments (bpp, &error);

  g_assert_null (segments);
  unit_assert_error (error, LPA_ERROR_MALFORMED, fragment);
}

static void
test_structure_errors (void)
{
  /* Order, presence and contents of the parts. */
  expect_bad ("BF 36 07 " A0 "", "BF23");
  expect_bad ("BF 36 14 " BF23 " " P1, "A0");
  expect_bad ("BF 36 13 " BF23 " A1 02 88 00", "A0");
  expect_bad ("BF 36 1A " BF23 " " A0 " A3 02 86 00", "A1");
  expect_bad ("BF 36 1E " BF23 " " A0 " A1 02 88 00 A2 02 87 00", "A3");
  expect_bad ("BF 36 1A " BF23 " " A0 " A1 02 86 00", "only 88");
  expect_bad ("BF 36 1C " BF23 " " A0 " A1 00 A3 02 86 00", "empty");
  expect_bad ("BF 36 1E " BF23 " " A0 " A1 02 88 00 A3 02 88 00", "only 86");
  expect_bad ("BF 36 22 " BF23 " " A0 " A1 02 88 00 A3 02 86 00 A4 02 01 02", "after");
  expect_bad ("BF 36 1F " BF23 " " A0 " A1 02 88 00 A3 02 86 00 00", NULL);
  expect_bad ("BF 35 1E " BF23 " " A0 " A1 02 88 00 A3 02 86 00", "expected tag BF36");
  /* Bytes after the BF36 TLV. */
  expect_bad ("BF 36 1E " BF23 " " A0 " A1 02 88 00 A3 02 86 00 FF", "trailing");
  /* An 88 shorter than its MAC: segments are fine, the metadata is not. */
  {
    g_autoptr (GBytes) bpp = unit_hex ("BF 36 20 " BF23 " " A0 " A1 04 88 02 01 02 A3 02 86 00");
    g_autoptr (GError) error = NULL;
    g_autoptr (GPtrArray) segments = lpa_bpp_segments (bpp, &error);
    g_autoptr (GBytes) metadata = NULL;

    g_assert_no_error (error);
    g_assert_cmpuint (segments->len, ==, 6);
    metadata = lpa_bpp_metadata (bpp, &error);
    g_assert_null (metadata);
    g_assert_error (error, LPA_ERROR, LPA_ERROR_MALFORMED);
  }
}

/* More than 64 KiB, so every container has a three-byte length (digest pitfall 2). */
static void
test_large (void)
{
  g_auto (LpaDerWriter) w = { 0 };
  g_autoptr (GBytes) bpp = NULL;
  g_autoptr (GPtrArray) segments = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *block = g_malloc (1016);
  g_autoptr (GBytes) bf23 = unit_hex (BF23);
  g_autoptr (GBytes) a0 = unit_hex (A0);

  memset (block, 0x5C, 1016);
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF36);
  lpa_der_write_raw_bytes (&w, bf23);
  lpa_der_write_raw_bytes (&w, a0);
  lpa_der_writer_begin (&w, 0xA1);
  lpa_der_write (&w, 0x88, block, 1016);
  lpa_der_writer_end (&w);
  lpa_der_writer_begin (&w, 0xA3);
  for (guint i = 0; i < 70; i++)
    lpa_der_write (&w, 0x86, block, 1016);
  lpa_der_writer_end (&w);
  lpa_der_writer_end (&w);
  bpp = lpa_der_writer_finish (&w);
  segments = lpa_bpp_segments (bpp, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (segments->len, ==, 3 + 1 + 1 + 70);
  /* Segment 1 starts with the BF36 header in its three-byte-length form. */
  g_assert_cmphex (((const guint8 *) g_bytes_get_data (g_ptr_array_index (segments, 0), NULL))[2],
                   ==, 0x83);
  /* The A3 header alone: A3 83 01 16 E8 (70 × 1020 bytes). */
  unit_assert_hex (g_ptr_array_index (segments, 4), "A3 83 01 16 E8");
  g_assert_cmpuint (g_bytes_get_size (g_ptr_array_index (segments, 5)), ==, 1020);
}

static gboolean
parse_bpp (GBytes *input, GError **error)
{
  g_autoptr (GPtrArray) segments = lpa_bpp_segments (input, error);
  return segments != NULL;
}

static gboolean
parse_bpp_metadata (GBytes *input, GError **error)
{
  g_autoptr (GBytes) metadata = lpa_bpp_metadata (input, error);
  return metadata != NULL;
}

static void
test_robustness (void)
{
  g_autoptr (GBytes) bpp = hand_bpp (TRUE, NULL);

  unit_check_truncations (parse_bpp, bpp);
  unit_check_mutations (parse_bpp, bpp);
  unit_check_truncations (parse_bpp_metadata, bpp);
  unit_check_mutations (parse_bpp_metadata, bpp);
}

/* With the reference material: the BPPs of bsp-vector-1 (osmo-smdpp, with ReplaceSessionKeys) and
 * bsp-vector-2 (session keys only, no A2). */
static void
check_shared_bpp (const char *file, gboolean has_a2)
{
  g_autofree char *path = unit_shared_file (file);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) bpp = NULL;
  g_autoptr (GPtrArray) segments = NULL;
  g_autoptr (GBytes) metadata = NULL;
  JsonObject *root, *scp;
  gint64 n86;
  gsize total = 0;
  guint first86;

  if (path == NULL)
    {
      g_test_skip ("ESIMD_SHARED_DIR not set");
      return;
    }
  g_assert_true (json_parser_load_from_file (parser, path, &error));
  root = json_node_get_object (json_parser_get_root (parser));
  scp = json_object_has_member (root, "scp03t") ? json_object_get_object_member (root, "scp03t")
                                                : root;
  bpp = unit_hex (json_object_get_string_member (root, "bpp_hex"));
  n86 = json_object_get_int_member (scp, "n_86");
  segments = lpa_bpp_segments (bpp, &error);
  g_assert_no_error (error);
  /* BF36+BF23, A0, A1 header, one 88, [A2], A3 header, the 86s. */
  g_assert_cmpuint (segments->len, ==, 5 + (has_a2 ? 1 : 0) + (guint) n86);
  for (guint i = 0; i < segments->len; i++)
    total += g_bytes_get_size (g_ptr_array_index (segments, i));
  g_assert_cmpuint (total, ==, g_bytes_get_size (bpp));
  {
    JsonObject *s88 =
        json_object_has_member (scp, "storeMetadata_88") &&
                JSON_NODE_HOLDS_ARRAY (json_object_get_member (scp, "storeMetadata_88"))
            ? json_array_get_object_element (json_object_get_array_member (scp, "storeMetadata_88"),
                                             0)
            : json_object_get_object_member (scp, "storeMetadata_88");
    JsonArray *p86 = json_object_get_array_member (scp, "profile_86_first_two");

    unit_assert_hex (g_ptr_array_index (segments, 3), json_object_get_string_member (s88, "tlv"));
    first86 = has_a2 ? 6 : 5;
    unit_assert_hex (g_ptr_array_index (segments, first86),
                     json_object_get_string_member (json_array_get_object_element (p86, 0), "tlv"));
    unit_assert_hex (g_ptr_array_index (segments, first86 + 1),
                     json_object_get_string_member (json_array_get_object_element (p86, 1), "tlv"));
    metadata = lpa_bpp_metadata (bpp, &error);
    g_assert_no_error (error);
    unit_assert_hex (metadata, json_object_get_string_member (s88, "plaintext"));
  }
}

static void
test_shared_vector1 (void)
{
  check_shared_bpp ("spec/vectors/bsp-vector-1.json", TRUE);
}

static void
test_shared_vector2 (void)
{
  check_shared_bpp ("spec/vectors/bsp-vector-2-session-keys.json", FALSE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/bpp/segments", test_segments);
  g_test_add_func ("/bpp/metadata", test_metadata);
  g_test_add_func ("/bpp/structure-errors", test_structure_errors);
  g_test_add_func ("/bpp/large", test_large);
  g_test_add_func ("/bpp/robustness", test_robustness);
  g_test_add_func ("/bpp/shared/vector-1", test_shared_vector1);
  g_test_add_func ("/bpp/shared/vector-2", test_shared_vector2);
  return g_test_run ();
}
