/* iccid.h — the BCD encodings of the identifiers an LPA handles: ICCID, IMEI, EID. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LPA_ICCID_BCD_LEN 10

/* Encodes an ICCID of 18 to 20 digits as EF_ICCID does: nibble-swapped BCD, always 10 bytes,
 * unused nibbles set to F. The digits are 0-9 and, for the non-BCD nibbles some cards carry,
 * upper-case A-E (what lpa_iccid_from_bcd() gives, so a listed ICCID encodes back to its bytes).
 * Fails with LPA_ERROR_INVALID_ARGUMENT otherwise. */
gboolean lpa_iccid_to_bcd (const char *digits, guint8 out[LPA_ICCID_BCD_LEN], GError **error);

/* Decodes a 10-byte EF_ICCID value into its 18 to 20 digits, a nibble A-E read as that hex digit
 * (as lpac does); NULL if @len is not 10, fewer than 18 nibbles precede the F padding, or a
 * nibble other than F follows an F. */
char *lpa_iccid_from_bcd (const guint8 *bcd, gsize len);

/* TRUE if @digits is an ICCID lpa_iccid_to_bcd() accepts. */
gboolean lpa_iccid_is_valid (const char *digits);

/* What lpa_iccid_canonical() accepts, for the messages that refuse an ICCID. */
#define LPA_ICCID_FORMS                                                                            \
  "18 to 20 digits 0-9 or A-E, in either case; trailing F padding and surrounding spaces "         \
  "are ignored"

/* The ICCID a caller's @text names, in the form lpa_iccid_from_bcd() lists it: surrounding ASCII
 * whitespace dropped, a-e upper-cased, and trailing F padding dropped (EF_ICCID's 20 nibbles, as
 * tools that dump it print a 19-digit ICCID), so that it encodes to the same bytes. NULL if what
 * is left is not an ICCID lpa_iccid_is_valid() accepts. */
char *lpa_iccid_canonical (const char *text);

/* Encodes a 15-digit IMEI into the 8 bytes of DeviceInfo.imei: nibble-swapped BCD, the 16th nibble
 * F. The first 4 bytes are then the TAC (its first 8 digits). */
gboolean lpa_imei_to_bcd (const char *digits, guint8 out[8], GError **error);

/* The EID (16 bytes, plain BCD) as its 32 digits. NULL if @len is not 16. Digits are not checked:
 * the EID is shown as the eUICC reports it. */
char *lpa_eid_from_bytes (const guint8 *eid, gsize len);

G_END_DECLS
