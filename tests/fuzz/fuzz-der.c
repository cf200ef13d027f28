/* fuzz-der.c — libFuzzer harness of liblpa's BER-TLV reader, value decoders and BCD identifiers. */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

#define INPUT_CAP (16 * 1024)
/* Deep enough for every SGP.22 structure (a PIR nests 5 levels), shallow enough that a stack of
 * one-byte headers cannot make the walk itself the slow part. */
#define MAX_DEPTH 24

/* Re-encodes @tlv's header with the writer and reads it back: tag, length and form must survive.
 * The tag bytes must even be the same bytes (a tag has one encoding); the length may have been
 * non-minimal BER and comes back minimal. */
static void
check_header_round_trip (const LpaTlv *tlv)
{
  g_autoptr (GError) error = NULL;
  guint8 header[9];
  gsize n = lpa_der_encode_header (tlv->tag, tlv->value_len, header);
  g_autofree guint8 *copy = g_malloc (n + tlv->value_len + 1);
  LpaTlv again;
  gsize tag_len = tlv->tag > 0xFFFFFF ? 4 : tlv->tag > 0xFFFF ? 3 : tlv->tag > 0xFF ? 2 : 1;

  FUZZ_CHECK (n <= tlv->header_len);
  FUZZ_CHECK (memcmp (header, tlv->tlv, tag_len) == 0);
  memcpy (copy, header, n);
  if (tlv->value_len)
    memcpy (copy + n, tlv->value, tlv->value_len);
  FUZZ_CHECK (lpa_der_parse (copy, n + tlv->value_len, &again, &error));
  FUZZ_CHECK (again.tag == tlv->tag && again.value_len == tlv->value_len);
  FUZZ_CHECK (again.constructed == tlv->constructed);
  FUZZ_CHECK (again.header_len == n);
}

/* Finishes @w, whose one TLV is read back into @tlv; the returned bytes hold what @tlv points to.
 */
static GBytes *
read_back (LpaDerWriter *w, LpaTlv *tlv)
{
  GBytes *out = lpa_der_writer_finish (w);

  FUZZ_CHECK (lpa_der_parse (g_bytes_get_data (out, NULL), g_bytes_get_size (out), tlv, NULL));
  return out;
}

/* Every value decoder on a primitive TLV; what decodes must encode back to the same value. */
static void
check_values (const LpaTlv *tlv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *utf8 = NULL;
  g_autofree char *oid = NULL;
  g_autofree char *version = NULL;
  g_autofree char *iccid = NULL;
  g_autofree char *eid = NULL;
  guint32 u;
  gint32 i;
  gboolean b;
  guint64 bits;

  if (lpa_der_get_uint (tlv, &u, &error))
    {
      g_auto (LpaDerWriter) w = { 0 };
      g_autoptr (GBytes) out = NULL;
      LpaTlv again;
      guint32 u2 = ~u;

      lpa_der_writer_init (&w);
      lpa_der_write_uint (&w, 0x80, u);
      out = read_back (&w, &again);
      FUZZ_CHECK (lpa_der_get_uint (&again, &u2, NULL) && u2 == u);
      FUZZ_CHECK (again.value_len <= tlv->value_len);
    }
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if (lpa_der_get_int (tlv, &i, &error))
    {
      guint32 as_uint;
      /* Where both decoders accept the value they must agree on it. */
      if (lpa_der_get_uint (tlv, &as_uint, NULL))
        FUZZ_CHECK (i >= 0 && (guint32) i == as_uint);
    }
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if (lpa_der_get_bool (tlv, &b, &error))
    FUZZ_CHECK (b == (tlv->value[0] != 0));
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if ((utf8 = lpa_der_get_utf8 (tlv, &error)))
    {
      FUZZ_CHECK (strlen (utf8) == tlv->value_len);
      FUZZ_CHECK (tlv->value_len == 0 || memcmp (utf8, tlv->value, tlv->value_len) == 0);
      FUZZ_CHECK (g_utf8_validate (utf8, -1, NULL));
    }
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if (lpa_der_get_bits (tlv, &bits, &error))
    {
      g_auto (LpaDerWriter) w = { 0 };
      g_autoptr (GBytes) out = NULL;
      LpaTlv again;
      guint64 bits2 = ~bits;

      lpa_der_writer_init (&w);
      lpa_der_write_bits (&w, 0x81, bits);
      out = read_back (&w, &again);
      FUZZ_CHECK (lpa_der_get_bits (&again, &bits2, NULL) && bits2 == bits);
    }
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if ((oid = lpa_der_get_oid (tlv, &error)))
    {
      /* Dotted decimal: at least two arcs, digits between single dots. */
      g_auto (GStrv) arcs = g_strsplit (oid, ".", -1);
      FUZZ_CHECK (g_strv_length (arcs) >= 2);
      for (guint k = 0; arcs[k]; k++)
        FUZZ_CHECK (fuzz_all_digits (arcs[k]));
    }
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if ((version = lpa_version_parse (tlv, &error)))
    FUZZ_CHECK (tlv->value_len == 3);
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  if ((iccid = lpa_iccid_from_bcd (tlv->value, tlv->value_len)))
    {
      /* The BCD form is unique: the digits encode back to exactly the bytes they came from. */
      guint8 bcd[LPA_ICCID_BCD_LEN];
      FUZZ_CHECK (lpa_iccid_is_valid (iccid));
      FUZZ_CHECK (lpa_iccid_to_bcd (iccid, bcd, NULL));
      FUZZ_CHECK (memcmp (bcd, tlv->value, sizeof bcd) == 0);
    }

  if ((eid = lpa_eid_from_bytes (tlv->value, tlv->value_len)))
    FUZZ_CHECK (strlen (eid) == 32 && tlv->value_len == 16);
  else
    FUZZ_CHECK (tlv->value_len != 16);
}

/* A SEQUENCE OF item parser that keeps each child's bytes: the list must be the children. */
static gpointer
keep_item (GBytes *base, const LpaTlv *item, GError **error)
{
  return lpa_der_tlv_bytes (base, item);
}

static void walk (GBytes *base, const guint8 *data, gsize len, guint depth);

static void
check_constructed (GBytes *base, const LpaTlv *tlv, guint n_children, guint depth)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) list =
      lpa_der_parse_list (base, tlv, keep_item, (GDestroyNotify) g_bytes_unref, &error);
  LpaTlv child, first;
  gboolean found;

  if (list)
    {
      gsize offset = 0;

      FUZZ_CHECK (list->len == n_children);
      /* The children tile the value exactly. */
      for (guint k = 0; k < list->len; k++)
        {
          GBytes *item = g_ptr_array_index (list, k);
          gsize item_len;
          const guint8 *item_data = g_bytes_get_data (item, &item_len);
          FUZZ_CHECK (item_data == tlv->value + offset);
          offset += item_len;
        }
      FUZZ_CHECK (offset == tlv->value_len);
    }
  else
    fuzz_check_error (error);
  g_clear_error (&error);

  /* find/get agree with the first child of that tag. */
  if (list && list->len > 0)
    {
      FUZZ_CHECK (lpa_der_parse (g_bytes_get_data (g_ptr_array_index (list, 0), NULL),
                                 g_bytes_get_size (g_ptr_array_index (list, 0)), &first, NULL));
      FUZZ_CHECK (lpa_der_find_child (tlv, first.tag, &child, &found, NULL) && found);
      FUZZ_CHECK (child.tlv == tlv->value && child.tlv_len == first.tlv_len);
      FUZZ_CHECK (lpa_der_get_child (tlv, first.tag, &child, NULL));
    }

  if (depth < MAX_DEPTH)
    walk (base, tlv->value, tlv->value_len, depth + 1);
}

static void
walk (GBytes *base, const guint8 *data, gsize len, guint depth)
{
  LpaDerReader reader;
  LpaTlv tlv;

  lpa_der_reader_init (&reader, data, len);
  while (!lpa_der_reader_at_end (&reader))
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) whole = NULL;
      g_autoptr (GBytes) value = NULL;
      const guint8 *before = reader.pos;

      if (!lpa_der_reader_next (&reader, &tlv, &error))
        {
          fuzz_check_error (error);
          FUZZ_CHECK (error->code == LPA_ERROR_MALFORMED);
          /* A failed read does not move the cursor. */
          FUZZ_CHECK (reader.pos == before);
          return;
        }
      FUZZ_CHECK (tlv.tlv == before);
      FUZZ_CHECK (tlv.header_len >= 2 && tlv.header_len + tlv.value_len == tlv.tlv_len);
      FUZZ_CHECK (tlv.value == tlv.tlv + tlv.header_len);
      FUZZ_CHECK (reader.pos == tlv.tlv + tlv.tlv_len && reader.pos <= data + len);
      FUZZ_CHECK (tlv.tag != 0);

      whole = lpa_der_tlv_bytes (base, &tlv);
      value = lpa_der_value_bytes (base, &tlv);
      FUZZ_CHECK (fuzz_bytes_equal (whole, tlv.tlv, tlv.tlv_len));
      FUZZ_CHECK (fuzz_bytes_equal (value, tlv.value, tlv.value_len));

      check_header_round_trip (&tlv);
      if (!tlv.constructed)
        check_values (&tlv);
      else
        {
          LpaDerReader children;
          LpaTlv child;
          guint n = 0;

          lpa_der_reader_init_children (&children, &tlv);
          while (!lpa_der_reader_at_end (&children) &&
                 lpa_der_reader_next (&children, &child, NULL))
            n++;
          check_constructed (base, &tlv, n, depth);
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) input = NULL;
  g_autoptr (GError) error = NULL;
  LpaTlv tlv;
  gsize len;
  const guint8 *bytes;

  fuzz_setup ();
  if (size > INPUT_CAP)
    return 0;
  input = fuzz_bytes (data, size);
  bytes = g_bytes_get_data (input, &len);

  if (lpa_der_parse (bytes, len, &tlv, &error))
    FUZZ_CHECK (tlv.tlv == bytes && tlv.tlv_len == len);
  else
    fuzz_check_error (error);
  walk (input, bytes, len, 0);
  return 0;
}
