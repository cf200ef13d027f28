/* der.c — bounded BER-TLV reader and DER writer for the SGP.22 data objects. */
#include "der.h"

#include <string.h>

#include "lpa-error.h"
#include "secret.h"
#include "text.h"

void
lpa_der_reader_init (LpaDerReader *reader, const guint8 *data, gsize len)
{
  static const guint8 empty[1];

  /* An empty GBytes has a NULL data pointer (an eUICC answering 9000 without data gives one), and
   * NULL + 0 is undefined behaviour in C: read it as an empty buffer that exists. */
  if (data == NULL)
    {
      data = empty;
      len = 0;
    }
  reader->start = data;
  reader->pos = data;
  reader->end = data + len;
}

void
lpa_der_reader_init_children (LpaDerReader *reader, const LpaTlv *parent)
{
  lpa_der_reader_init (reader, parent->value, parent->value_len);
}

gboolean
lpa_der_reader_at_end (const LpaDerReader *reader)
{
  return reader->pos >= reader->end;
}

static gboolean
malformed (GError **error, const LpaDerReader *reader, const guint8 *at, const char *what)
{
  g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "DER: %s at offset %" G_GSIZE_FORMAT, what,
               (gsize) (at - reader->start));
  return FALSE;
}

gboolean
lpa_der_reader_next (LpaDerReader *reader, LpaTlv *tlv, GError **error)
{
  const guint8 *p = reader->pos;
  const guint8 *start = p;
  gsize avail;
  guint32 tag;
  gsize len = 0;

  if (p >= reader->end)
    return malformed (error, reader, p, "expected a TLV, found the end of the data");

  /* Tag: the first byte, then continuation bytes while the low five bits are all set. */
  tag = *p++;
  if (tag == 0x00)
    return malformed (error, reader, start, "zero tag (end-of-contents)");
  if ((tag & 0x1F) == 0x1F)
    {
      guint n = 1;
      do
        {
          if (p >= reader->end)
            return malformed (error, reader, start, "truncated tag");
          if (++n > 4)
            return malformed (error, reader, start, "tag longer than 4 bytes");
          tag = (tag << 8) | *p;
        }
      while (*p++ & 0x80);
    }

  if (p >= reader->end)
    return malformed (error, reader, start, "truncated length");
  if (*p < 0x80)
    len = *p++;
  else if (*p == 0x80)
    return malformed (error, reader, start, "indefinite length");
  else
    {
      guint n = *p++ & 0x7F;
      if (n > 4)
        return malformed (error, reader, start, "length field longer than 4 bytes");
      if ((gsize) (reader->end - p) < n)
        return malformed (error, reader, start, "truncated length");
      for (guint i = 0; i < n; i++)
        len = (len << 8) | *p++;
    }

  avail = (gsize) (reader->end - p);
  if (len > avail)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "DER: truncated value of tag %02X at offset %" G_GSIZE_FORMAT
                   ": %" G_GSIZE_FORMAT " bytes announced, %" G_GSIZE_FORMAT " present",
                   tag, (gsize) (start - reader->start), len, avail);
      return FALSE;
    }

  tlv->tag = tag;
  tlv->constructed = (*start & 0x20) != 0;
  tlv->tlv = start;
  tlv->header_len = (gsize) (p - start);
  tlv->value = p;
  tlv->value_len = len;
  tlv->tlv_len = tlv->header_len + len;
  reader->pos = p + len;
  return TRUE;
}

gboolean
lpa_der_parse (const guint8 *data, gsize len, LpaTlv *tlv, GError **error)
{
  LpaDerReader reader;

  lpa_der_reader_init (&reader, data, len);
  if (!lpa_der_reader_next (&reader, tlv, error))
    return FALSE;
  if (!lpa_der_reader_at_end (&reader))
    return malformed (error, &reader, reader.pos, "trailing bytes after the TLV");
  return TRUE;
}

static gboolean
expect_tag (const LpaTlv *tlv, guint32 tag, GError **error)
{
  if (tlv->tag != tag)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "DER: expected tag %02X, found %02X", tag,
                   tlv->tag);
      return FALSE;
    }
  return TRUE;
}

gboolean
lpa_der_parse_expect (const guint8 *data, gsize len, guint32 tag, LpaTlv *tlv, GError **error)
{
  return lpa_der_parse (data, len, tlv, error) && expect_tag (tlv, tag, error);
}

gboolean
lpa_der_parse_answer (const guint8 *data, gsize len, guint32 tag, LpaTlv *tlv, GError **error)
{
  LpaDerReader reader;

  lpa_der_reader_init (&reader, data, len);
  return lpa_der_reader_next (&reader, tlv, error) && expect_tag (tlv, tag, error);
}

gboolean
lpa_der_find_child (const LpaTlv *parent, guint32 tag, LpaTlv *out, gboolean *found, GError **error)
{
  LpaDerReader reader;
  LpaTlv child;

  *found = FALSE;
  lpa_der_reader_init_children (&reader, parent);
  while (!lpa_der_reader_at_end (&reader))
    {
      if (!lpa_der_reader_next (&reader, &child, error))
        return FALSE;
      if (child.tag == tag && !*found)
        {
          *out = child;
          *found = TRUE;
        }
    }
  return TRUE;
}

gboolean
lpa_der_get_child (const LpaTlv *parent, guint32 tag, LpaTlv *out, GError **error)
{
  gboolean found;

  if (!lpa_der_find_child (parent, tag, out, &found, error))
    return FALSE;
  if (!found)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "DER: tag %02X lacks mandatory child %02X", parent->tag, tag);
      return FALSE;
    }
  return TRUE;
}

GPtrArray *
lpa_der_parse_list (GBytes *base, const LpaTlv *parent, LpaDerItemParser parse,
                    GDestroyNotify free_item, GError **error)
{
  g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (free_item);
  LpaDerReader reader;
  LpaTlv item;

  if (!lpa_der_expect_constructed (parent, error))
    return NULL;
  lpa_der_reader_init_children (&reader, parent);
  while (!lpa_der_reader_at_end (&reader))
    {
      GError *local = NULL;
      gpointer parsed;

      if (!lpa_der_reader_next (&reader, &item, error))
        return NULL;
      if (!(parsed = parse (base, &item, &local)))
        {
          if (local == NULL)
            continue;
          g_propagate_error (error, local);
          return NULL;
        }
      g_ptr_array_add (items, parsed);
    }
  return g_steal_pointer (&items);
}

static gboolean
bad_value (GError **error, const LpaTlv *tlv, const char *what)
{
  g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "DER: tag %02X: %s", tlv->tag, what);
  return FALSE;
}

gboolean
lpa_der_expect_primitive (const LpaTlv *tlv, GError **error)
{
  return tlv->constructed ? bad_value (error, tlv, "expected a primitive encoding") : TRUE;
}

gboolean
lpa_der_expect_constructed (const LpaTlv *tlv, GError **error)
{
  return tlv->constructed ? TRUE : bad_value (error, tlv, "expected a constructed encoding");
}

gboolean
lpa_der_expect_length (const LpaTlv *tlv, gsize len, GError **error)
{
  if (tlv->value_len != len)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "DER: tag %02X: %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT, tlv->tag,
                   tlv->value_len, len);
      return FALSE;
    }
  return TRUE;
}

/* Decodes a two's complement INTEGER of up to 8 content bytes. */
static gboolean
get_int64 (const LpaTlv *tlv, gint64 *out, GError **error)
{
  guint64 v;

  if (tlv->constructed || tlv->value_len == 0)
    return bad_value (error, tlv, "not an INTEGER");
  if (tlv->value_len > 8)
    return bad_value (error, tlv, "INTEGER too large");
  v = (tlv->value[0] & 0x80) ? G_MAXUINT64 : 0;
  for (gsize i = 0; i < tlv->value_len; i++)
    v = (v << 8) | tlv->value[i];
  *out = (gint64) v;
  return TRUE;
}

gboolean
lpa_der_get_uint (const LpaTlv *tlv, guint32 *out, GError **error)
{
  gint64 v;

  if (!get_int64 (tlv, &v, error))
    return FALSE;
  if (v < 0 || v > G_MAXUINT32)
    return bad_value (error, tlv, "INTEGER out of range");
  *out = (guint32) v;
  return TRUE;
}

char *
lpa_der_get_display_text (const LpaTlv *tlv, GError **error)
{
  if (tlv->constructed)
    {
      bad_value (error, tlv, "not a UTF8String");
      return NULL;
    }
  return lpa_text_sanitize ((const char *) tlv->value, (gssize) tlv->value_len, 0,
                            LPA_TEXT_ONE_LINE);
}

gboolean
lpa_der_get_int (const LpaTlv *tlv, gint32 *out, GError **error)
{
  gint64 v;

  if (!get_int64 (tlv, &v, error))
    return FALSE;
  if (v < G_MININT32 || v > G_MAXINT32)
    return bad_value (error, tlv, "INTEGER out of range");
  *out = (gint32) v;
  return TRUE;
}

gboolean
lpa_der_get_bool (const LpaTlv *tlv, gboolean *out, GError **error)
{
  if (tlv->constructed || tlv->value_len != 1)
    return bad_value (error, tlv, "not a BOOLEAN");
  *out = tlv->value[0] != 0;
  return TRUE;
}

char *
lpa_der_get_utf8 (const LpaTlv *tlv, GError **error)
{
  if (tlv->constructed)
    {
      bad_value (error, tlv, "not a UTF8String");
      return NULL;
    }
  if (memchr (tlv->value, 0, tlv->value_len) != NULL ||
      !g_utf8_validate ((const char *) tlv->value, (gssize) tlv->value_len, NULL))
    {
      bad_value (error, tlv, "invalid UTF-8");
      return NULL;
    }
  return g_strndup ((const char *) tlv->value, tlv->value_len);
}

gboolean
lpa_der_get_bits (const LpaTlv *tlv, guint64 *out, GError **error)
{
  guint unused;
  gsize nbits;
  guint64 bits = 0;

  if (tlv->constructed || tlv->value_len == 0)
    return bad_value (error, tlv, "not a BIT STRING");
  unused = tlv->value[0];
  if (unused > 7 || (tlv->value_len == 1 && unused != 0))
    return bad_value (error, tlv, "bad unused-bits count in BIT STRING");
  nbits = (tlv->value_len - 1) * 8 - unused;
  for (gsize n = 0; n < nbits && n < 64; n++)
    if (tlv->value[1 + n / 8] & (0x80 >> (n % 8)))
      bits |= G_GUINT64_CONSTANT (1) << n;
  *out = bits;
  return TRUE;
}

char *
lpa_der_get_oid (const LpaTlv *tlv, GError **error)
{
  g_autoptr (GString) s = NULL;
  guint64 arc = 0;
  gboolean first = TRUE;

  if (tlv->constructed || tlv->value_len == 0 || (tlv->value[tlv->value_len - 1] & 0x80))
    {
      bad_value (error, tlv, "not an OBJECT IDENTIFIER");
      return NULL;
    }
  s = g_string_new (NULL);
  for (gsize i = 0; i < tlv->value_len; i++)
    {
      if (arc == 0 && tlv->value[i] == 0x80)
        {
          bad_value (error, tlv, "non-minimal OBJECT IDENTIFIER arc");
          return NULL;
        }
      if (arc > (G_MAXUINT64 >> 7))
        {
          bad_value (error, tlv, "OBJECT IDENTIFIER arc too large");
          return NULL;
        }
      arc = (arc << 7) | (tlv->value[i] & 0x7F);
      if (tlv->value[i] & 0x80)
        continue;
      if (first)
        {
          /* The first subidentifier packs two arcs: 40 * X + Y, with X at most 2. */
          guint x = arc < 40 ? 0 : arc < 80 ? 1 : 2;
          g_string_append_printf (s, "%u.%" G_GUINT64_FORMAT, x, arc - 40 * x);
          first = FALSE;
        }
      else
        g_string_append_printf (s, ".%" G_GUINT64_FORMAT, arc);
      arc = 0;
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

GBytes *
lpa_der_tlv_bytes (GBytes *base, const LpaTlv *tlv)
{
  gsize base_len;
  const guint8 *data = g_bytes_get_data (base, &base_len);

  g_return_val_if_fail (tlv->tlv >= data && tlv->tlv + tlv->tlv_len <= data + base_len, NULL);
  return g_bytes_new_from_bytes (base, (gsize) (tlv->tlv - data), tlv->tlv_len);
}

GBytes *
lpa_der_value_bytes (GBytes *base, const LpaTlv *tlv)
{
  gsize base_len;
  const guint8 *data = g_bytes_get_data (base, &base_len);

  g_return_val_if_fail (tlv->value >= data && tlv->value + tlv->value_len <= data + base_len, NULL);
  return g_bytes_new_from_bytes (base, (gsize) (tlv->value - data), tlv->value_len);
}

gsize
lpa_der_encode_header (guint32 tag, gsize len, guint8 *out)
{
  gsize n = 0;
  guint tag_bytes = tag > 0xFFFFFF ? 4 : tag > 0xFFFF ? 3 : tag > 0xFF ? 2 : 1;

  for (guint i = tag_bytes; i > 0; i--)
    out[n++] = (guint8) (tag >> (8 * (i - 1)));
  if (len < 0x80)
    out[n++] = (guint8) len;
  else
    {
      guint len_bytes = len > 0xFFFFFF ? 4 : len > 0xFFFF ? 3 : len > 0xFF ? 2 : 1;
      out[n++] = (guint8) (0x80 | len_bytes);
      for (guint i = len_bytes; i > 0; i--)
        out[n++] = (guint8) (len >> (8 * (i - 1)));
    }
  return n;
}

void
lpa_der_writer_init (LpaDerWriter *writer)
{
  writer->cap = 256;
  writer->buf = lpa_secret_byte_array_new (writer->cap);
  writer->depth = 0;
}

void
lpa_der_writer_clear (LpaDerWriter *writer)
{
  g_clear_pointer (&writer->buf, lpa_secret_byte_array_free);
  writer->depth = 0;
}

void
lpa_der_writer_begin (LpaDerWriter *writer, guint32 tag)
{
  g_return_if_fail (writer->depth < LPA_DER_WRITER_MAX_DEPTH);
  writer->open_tag[writer->depth] = tag;
  writer->open[writer->depth] = writer->buf->len;
  writer->depth++;
}

void
lpa_der_writer_end (LpaDerWriter *writer)
{
  guint8 header[9];
  gsize start, len, hlen;

  g_return_if_fail (writer->depth > 0);
  writer->depth--;
  start = writer->open[writer->depth];
  len = writer->buf->len - start;
  hlen = lpa_der_encode_header (writer->open_tag[writer->depth], len, header);
  /* The value is already in place: make room in front of it for the header. */
  lpa_secret_byte_array_reserve (&writer->buf, &writer->cap, hlen);
  g_byte_array_set_size (writer->buf, writer->buf->len + hlen);
  memmove (writer->buf->data + start + hlen, writer->buf->data + start, len);
  memcpy (writer->buf->data + start, header, hlen);
}

void
lpa_der_write (LpaDerWriter *writer, guint32 tag, const guint8 *value, gsize len)
{
  guint8 header[9];
  gsize hlen = lpa_der_encode_header (tag, len, header);

  lpa_secret_byte_array_reserve (&writer->buf, &writer->cap, hlen + len);
  g_byte_array_append (writer->buf, header, (guint) hlen);
  if (len > 0)
    g_byte_array_append (writer->buf, value, (guint) len);
}

void
lpa_der_write_bytes (LpaDerWriter *writer, guint32 tag, GBytes *value)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (value, &len);

  lpa_der_write (writer, tag, data, len);
}

void
lpa_der_write_utf8 (LpaDerWriter *writer, guint32 tag, const char *value)
{
  lpa_der_write (writer, tag, (const guint8 *) value, strlen (value));
}

void
lpa_der_write_uint (LpaDerWriter *writer, guint32 tag, guint32 value)
{
  guint8 out[5];
  gsize n = 0;
  gboolean started = FALSE;

  for (gint shift = 24; shift >= 0; shift -= 8)
    {
      guint8 b = (guint8) (value >> shift);
      if (!started && b == 0 && shift > 0)
        continue;
      /* A leading 1 bit would read as negative: DER puts a 00 in front. */
      if (!started && (b & 0x80))
        out[n++] = 0x00;
      started = TRUE;
      out[n++] = b;
    }
  lpa_der_write (writer, tag, out, n);
}

void
lpa_der_write_bool (LpaDerWriter *writer, guint32 tag, gboolean value)
{
  guint8 b = value ? 0xFF : 0x00;

  lpa_der_write (writer, tag, &b, 1);
}

void
lpa_der_write_bits (LpaDerWriter *writer, guint32 tag, guint64 bits)
{
  guint8 out[9] = { 0 };
  guint nbits = 0;
  gsize nbytes;

  for (guint n = 0; n < 64; n++)
    if (bits & (G_GUINT64_CONSTANT (1) << n))
      {
        out[1 + n / 8] |= (guint8) (0x80 >> (n % 8));
        nbits = n + 1;
      }
  nbytes = (nbits + 7) / 8;
  out[0] = (guint8) (nbytes * 8 - nbits);
  lpa_der_write (writer, tag, out, 1 + nbytes);
}

void
lpa_der_write_raw (LpaDerWriter *writer, const guint8 *tlvs, gsize len)
{
  lpa_secret_byte_array_reserve (&writer->buf, &writer->cap, len);
  if (len > 0)
    g_byte_array_append (writer->buf, tlvs, (guint) len);
}

void
lpa_der_write_raw_bytes (LpaDerWriter *writer, GBytes *tlvs)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (tlvs, &len);

  lpa_der_write_raw (writer, data, len);
}

GBytes *
lpa_der_writer_finish (LpaDerWriter *writer)
{
  GBytes *out;

  g_return_val_if_fail (writer->depth == 0, NULL);
  out = lpa_secret_byte_array_free_to_bytes (writer->buf);
  writer->cap = 256;
  writer->buf = lpa_secret_byte_array_new (writer->cap);
  return out;
}
