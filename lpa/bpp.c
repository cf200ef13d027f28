/* bpp.c — a Bound Profile Package cut into the segments LoadBoundProfilePackage sends. */
#include "bpp.h"

#include "der.h"
#include "lpa-error.h"

#define MAC_LEN 8

typedef struct
{
  LpaTlv outer, bf23, a0, a1, a2, a3;
  gboolean has_a2;
} BppParts;

static gboolean
bad (GError **error, const char *what)
{
  g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "BoundProfilePackage: %s", what);
  return FALSE;
}

/* Every child of @list must be tagged @tag, and there must be at least one. */
static gboolean
check_children (const LpaTlv *list, guint32 tag, GError **error)
{
  LpaDerReader reader;
  LpaTlv child;
  guint n = 0;

  lpa_der_reader_init_children (&reader, list);
  while (!lpa_der_reader_at_end (&reader))
    {
      if (!lpa_der_reader_next (&reader, &child, error))
        return FALSE;
      if (child.tag != tag)
        {
          g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                       "BoundProfilePackage: %02X holds a %02X where only %02X belongs", list->tag,
                       child.tag, tag);
          return FALSE;
        }
      n++;
    }
  if (n == 0)
    return bad (error, "empty sequence of protected TLVs");
  return TRUE;
}

/* The next part of the BPP; running out of parts names the one that is missing. */
static gboolean
next_part (LpaDerReader *reader, LpaTlv *tlv, const char *what, GError **error)
{
  if (lpa_der_reader_at_end (reader))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "BoundProfilePackage: %s missing", what);
      return FALSE;
    }
  return lpa_der_reader_next (reader, tlv, error);
}

static gboolean
parse_parts (GBytes *bpp, BppParts *p, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bpp, &len);
  LpaDerReader reader;
  LpaTlv t;

  p->has_a2 = FALSE;
  if (!lpa_der_parse_expect (data, len, 0xBF36, &p->outer, error) ||
      !lpa_der_expect_constructed (&p->outer, error))
    return FALSE;
  lpa_der_reader_init_children (&reader, &p->outer);

  if (!next_part (&reader, &p->bf23, "InitialiseSecureChannelRequest (BF23)", error))
    return FALSE;
  if (p->bf23.tag != 0xBF23 || !p->bf23.constructed)
    return bad (error, "does not start with InitialiseSecureChannelRequest (BF23)");

  if (!next_part (&reader, &p->a0, "firstSequenceOf87 (A0)", error))
    return FALSE;
  if (p->a0.tag != 0xA0)
    return bad (error, "firstSequenceOf87 (A0) missing");
  if (!check_children (&p->a0, 0x87, error))
    return FALSE;

  if (!next_part (&reader, &p->a1, "sequenceOf88 (A1)", error))
    return FALSE;
  if (p->a1.tag != 0xA1)
    return bad (error, "sequenceOf88 (A1) missing");
  if (!check_children (&p->a1, 0x88, error))
    return FALSE;

  if (!next_part (&reader, &t, "sequenceOf86 (A3)", error))
    return FALSE;
  if (t.tag == 0xA2)
    {
      if (!check_children (&t, 0x87, error))
        return FALSE;
      p->a2 = t;
      p->has_a2 = TRUE;
      if (!next_part (&reader, &t, "sequenceOf86 (A3)", error))
        return FALSE;
    }
  if (t.tag != 0xA3)
    return bad (error, "sequenceOf86 (A3) missing");
  if (!check_children (&t, 0x86, error))
    return FALSE;
  p->a3 = t;

  if (!lpa_der_reader_at_end (&reader))
    return bad (error, "data after sequenceOf86");
  return TRUE;
}

static void
add_slice (GPtrArray *segments, GBytes *bpp, const guint8 *start, gsize len)
{
  const guint8 *base = g_bytes_get_data (bpp, NULL);

  g_ptr_array_add (segments, g_bytes_new_from_bytes (bpp, (gsize) (start - base), len));
}

static void
add_each_child (GPtrArray *segments, GBytes *bpp, const LpaTlv *list)
{
  LpaDerReader reader;
  LpaTlv child;

  /* Already validated by parse_parts(). */
  lpa_der_reader_init_children (&reader, list);
  while (!lpa_der_reader_at_end (&reader) && lpa_der_reader_next (&reader, &child, NULL))
    add_slice (segments, bpp, child.tlv, child.tlv_len);
}

GPtrArray *
lpa_bpp_segments (GBytes *bpp, GError **error)
{
  g_autoptr (GPtrArray) segments = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  BppParts p;

  if (!parse_parts (bpp, &p, error))
    return NULL;
  /* BF23 follows the BF36 header directly, so header and BF23 are one contiguous slice. */
  add_slice (segments, bpp, p.outer.tlv, p.outer.header_len + p.bf23.tlv_len);
  add_slice (segments, bpp, p.a0.tlv, p.a0.tlv_len);
  add_slice (segments, bpp, p.a1.tlv, p.a1.header_len);
  add_each_child (segments, bpp, &p.a1);
  if (p.has_a2)
    add_slice (segments, bpp, p.a2.tlv, p.a2.tlv_len);
  add_slice (segments, bpp, p.a3.tlv, p.a3.header_len);
  add_each_child (segments, bpp, &p.a3);
  return g_steal_pointer (&segments);
}

GBytes *
lpa_bpp_metadata (GBytes *bpp, GError **error)
{
  g_autoptr (GByteArray) metadata = g_byte_array_new ();
  g_autoptr (GBytes) result = NULL;
  BppParts p;
  LpaDerReader reader;
  LpaTlv child, bf25;

  if (!parse_parts (bpp, &p, error))
    return NULL;
  lpa_der_reader_init_children (&reader, &p.a1);
  while (!lpa_der_reader_at_end (&reader))
    {
      if (!lpa_der_reader_next (&reader, &child, error))
        return NULL;
      if (child.value_len < MAC_LEN)
        {
          bad (error, "88 TLV shorter than its MAC");
          return NULL;
        }
      g_byte_array_append (metadata, child.value, (guint) (child.value_len - MAC_LEN));
    }
  result = g_byte_array_free_to_bytes (g_steal_pointer (&metadata));
  if (!lpa_der_parse_expect (g_bytes_get_data (result, NULL), g_bytes_get_size (result), 0xBF25,
                             &bf25, error))
    {
      g_prefix_error (error, "BoundProfilePackage metadata: ");
      return NULL;
    }
  return g_steal_pointer (&result);
}
