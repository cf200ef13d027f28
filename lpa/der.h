/* der.h — bounded BER-TLV reader and DER writer for the SGP.22 data objects. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* One TLV as it sits in the caller's buffer; nothing is copied, so a TLV is valid only as long as
 * that buffer.
 *
 * @tag is the tag bytes read as a big-endian number (0x5A, 0xBF2D, 0x9F70, 0x5F37): that is how
 * SGP.22 writes tags, so a switch over tags reads like the specification. Tags are at most 4
 * bytes. @constructed is bit 6 of the first tag byte. */
typedef struct
{
  guint32 tag;
  gboolean constructed;
  const guint8 *value;
  gsize value_len;
  const guint8 *tlv; /* the whole TLV: tag, length and value */
  gsize tlv_len;
  gsize header_len; /* tag and length bytes only; value == tlv + header_len */
} LpaTlv;

/* A cursor over a sequence of TLVs in [pos, end). Reading never goes outside the bounds given at
 * init; every failure is LPA_ERROR_MALFORMED with a message naming the problem and its offset. */
typedef struct
{
  const guint8 *start;
  const guint8 *pos;
  const guint8 *end;
} LpaDerReader;

/* @data may be NULL when @len is 0 (what g_bytes_get_data() returns for an empty GBytes). */
void lpa_der_reader_init (LpaDerReader *reader, const guint8 *data, gsize len);

/* Iterates over the value of @parent (its children). */
void lpa_der_reader_init_children (LpaDerReader *reader, const LpaTlv *parent);

gboolean lpa_der_reader_at_end (const LpaDerReader *reader);

/* Reads the next TLV. Fails (LPA_ERROR_MALFORMED) on a truncated tag, length or value, an
 * indefinite length (0x80: not DER, and SGP.22 never uses it), a length field of more than 4
 * bytes, a tag of more than 4 bytes, a zero tag byte (end-of-contents), or when already at the end.
 * Long-form lengths that are not minimal (81 05) are accepted, because BER allows them and no
 * signed structure is ever re-encoded here. */
gboolean lpa_der_reader_next (LpaDerReader *reader, LpaTlv *tlv, GError **error);

/* Parses @data as exactly one TLV; trailing bytes are an error. */
gboolean lpa_der_parse (const guint8 *data, gsize len, LpaTlv *tlv, GError **error);

/* As lpa_der_parse, and the tag must be @tag (LPA_ERROR_MALFORMED otherwise). */
gboolean lpa_der_parse_expect (const guint8 *data, gsize len, guint32 tag, LpaTlv *tlv,
                               GError **error);

/* An eUICC's answer to an ES10 function: as lpa_der_parse_expect, except that bytes after the
 * TLV are ignored (lpac reads every answer by looking for the function's tag, so a card that
 * pads its answer works there). Whatever keeps or forwards the answer takes the TLV only
 * (lpa_der_tlv_bytes). */
gboolean lpa_der_parse_answer (const guint8 *data, gsize len, guint32 tag, LpaTlv *tlv,
                               GError **error);

/* Looks for the first child of @parent tagged @tag. Returns FALSE with @error set only if the
 * children do not decode; otherwise TRUE, with *@found telling whether @out was filled. */
gboolean lpa_der_find_child (const LpaTlv *parent, guint32 tag, LpaTlv *out, gboolean *found,
                             GError **error);

/* As lpa_der_find_child, but a missing child is an error too (LPA_ERROR_MALFORMED). */
gboolean lpa_der_get_child (const LpaTlv *parent, guint32 tag, LpaTlv *out, GError **error);

/* A SEQUENCE OF: each child of @parent (read from @base) goes through @parse, whose results are
 * collected in order (freed with @free_item). The first failure ends it with that error; a
 * parser that returns NULL without setting its error skips that item (an unknown one). */
typedef gpointer (*LpaDerItemParser) (GBytes *base, const LpaTlv *item, GError **error);
GPtrArray *lpa_der_parse_list (GBytes *base, const LpaTlv *parent, LpaDerItemParser parse,
                               GDestroyNotify free_item, GError **error);

/* Checks that a TLV is primitive or constructed as expected. */
gboolean lpa_der_expect_primitive (const LpaTlv *tlv, GError **error);
gboolean lpa_der_expect_constructed (const LpaTlv *tlv, GError **error);

/* Value decoders; each fails with LPA_ERROR_MALFORMED naming the tag. */

/* INTEGER (two's complement) that must be in 0..G_MAXUINT32. */
gboolean lpa_der_get_uint (const LpaTlv *tlv, guint32 *out, GError **error);
/* INTEGER that must be in G_MININT32..G_MAXINT32 (result codes may in theory be negative). */
gboolean lpa_der_get_int (const LpaTlv *tlv, gint32 *out, GError **error);
/* BOOLEAN: one byte, 00 = FALSE, anything else TRUE (BER; DER would require FF). */
gboolean lpa_der_get_bool (const LpaTlv *tlv, gboolean *out, GError **error);
/* UTF8String: must be valid UTF-8 without NUL. Returns a newly allocated string. */
char *lpa_der_get_utf8 (const LpaTlv *tlv, GError **error);
/* UTF8String shown to people (profile names, nicknames): invalid sequences and NULs become
 * U+FFFD instead of failing, so one bad name (from a server, or another LPA) cannot make a
 * card's whole profile list unreadable, and the profile undeletable. */
char *lpa_der_get_display_text (const LpaTlv *tlv, GError **error);
/* BIT STRING of named bits: bit n of the ASN.1 type (bit 0 = most significant bit of the first
 * content byte) becomes bit n of *@out. Named bits beyond 63 are ignored (later versions add
 * some). Rejects an empty value, more than 7 unused bits, and unused bits in an empty string. */
gboolean lpa_der_get_bits (const LpaTlv *tlv, guint64 *out, GError **error);
/* OBJECT IDENTIFIER as dotted decimal ("2.999.10"). */
char *lpa_der_get_oid (const LpaTlv *tlv, GError **error);
/* The value must be exactly @len bytes long. */
gboolean lpa_der_expect_length (const LpaTlv *tlv, gsize len, GError **error);

/* A GBytes for @tlv (whole TLV) or its value, referencing @base when @tlv lies inside it, without
 * copying. @base must be the GBytes the TLV was read from. */
GBytes *lpa_der_tlv_bytes (GBytes *base, const LpaTlv *tlv);
GBytes *lpa_der_value_bytes (GBytes *base, const LpaTlv *tlv);

/* Writer. Builds DER into a GByteArray; constructed TLVs are opened with lpa_der_writer_begin()
 * and closed with lpa_der_writer_end(), which fills in the (minimal) length. Declare it
 * `g_auto (LpaDerWriter) w = { 0 };` so an early return before lpa_der_writer_init() is safe.
 * What it writes may hold a secret (ctxParams1's matching ID, hashCc): its buffer grows without
 * leaving an unwiped copy behind, is wiped when cleared, and lpa_der_writer_finish() returns a
 * GBytes that is wiped when its last reference goes (secret.h). */
#define LPA_DER_WRITER_MAX_DEPTH 16

typedef struct
{
  GByteArray *buf;
  gsize cap; /* what buf holds without GLib reallocating it */
  guint depth;
  gsize open[LPA_DER_WRITER_MAX_DEPTH]; /* offset where each open TLV's value starts */
  guint32 open_tag[LPA_DER_WRITER_MAX_DEPTH];
} LpaDerWriter;

void lpa_der_writer_init (LpaDerWriter *writer);
void lpa_der_writer_clear (LpaDerWriter *writer);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (LpaDerWriter, lpa_der_writer_clear)

void lpa_der_writer_begin (LpaDerWriter *writer, guint32 tag);
void lpa_der_writer_end (LpaDerWriter *writer);
void lpa_der_write (LpaDerWriter *writer, guint32 tag, const guint8 *value, gsize len);
void lpa_der_write_bytes (LpaDerWriter *writer, guint32 tag, GBytes *value);
void lpa_der_write_utf8 (LpaDerWriter *writer, guint32 tag, const char *value);
void lpa_der_write_uint (LpaDerWriter *writer, guint32 tag, guint32 value);
void lpa_der_write_bool (LpaDerWriter *writer, guint32 tag, gboolean value);
/* BIT STRING of named bits (bit n of @bits = named bit n), DER form: trailing zero bits removed. */
void lpa_der_write_bits (LpaDerWriter *writer, guint32 tag, guint64 bits);
/* Appends bytes that already are one or more complete TLVs (received signed data). */
void lpa_der_write_raw (LpaDerWriter *writer, const guint8 *tlvs, gsize len);
void lpa_der_write_raw_bytes (LpaDerWriter *writer, GBytes *tlvs);
/* Returns the encoding and resets the writer. All opened TLVs must have been closed. */
GBytes *lpa_der_writer_finish (LpaDerWriter *writer);

/* The tag and length header for a TLV of @tag with a value of @len bytes, written into @out
 * (at least 9 bytes). Returns the number of bytes written. */
gsize lpa_der_encode_header (guint32 tag, gsize len, guint8 *out);

G_END_DECLS
