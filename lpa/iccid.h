/* iccid.h — the BCD encodings of the identifiers an LPA handles: ICCID, IMEI, EID. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define LPA_ICCID_BCD_LEN 10

/* Encodes an ICCID of 18 to 20 decimal digits as EF_ICCID does: nibble-swapped BCD, always 10
 * bytes, unused nibbles set to F. Fails with LPA_ERROR_INVALID_ARGUMENT otherwise. */
gboolean lpa_iccid_to_bcd (const char *digits, guint8 out[LPA_ICCID_BCD_LEN], GError **error);

/* Decodes a 10-byte EF_ICCID value into its 18 to 20 digits; NULL if @len is not 10, a nibble
 * before the padding is not a digit, or a digit follows an F. */
char *lpa_iccid_from_bcd (const guint8 *bcd, gsize len);

/* TRUE if @digits is an ICCID lpa_iccid_to_bcd() accepts. */
gboolean lpa_iccid_is_valid (const char *digits);

/* Encodes a 15-digit IMEI into the 8 bytes of DeviceInfo.imei: nibble-swapped BCD, the 16th nibble
 * F. The first 4 bytes are then the TAC (its first 8 digits). */
gboolean lpa_imei_to_bcd (const char *digits, guint8 out[8], GError **error);

/* The EID (16 bytes, plain BCD) as its 32 digits. NULL if @len is not 16. Digits are not checked:
 * the EID is shown as the eUICC reports it. */
char *lpa_eid_from_bytes (const guint8 *eid, gsize len);

G_END_DECLS
