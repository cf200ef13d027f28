/* iccid.c — the BCD encodings of the identifiers an LPA handles: ICCID, IMEI, EID. */
#include "iccid.h"

#include <string.h>

#include "lpa-error.h"

static gboolean
all_digits (const char *s)
{
  for (; *s; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

/* The nibble values an ICCID's characters stand for: 0-9, and A-E for the non-BCD nibbles some
 * cards really carry (see lpa_iccid_from_bcd()). F is never a character: it is the padding. */
static gboolean
all_iccid_chars (const char *s)
{
  for (; *s; s++)
    if (!g_ascii_isdigit (*s) && !(*s >= 'A' && *s <= 'E'))
      return FALSE;
  return TRUE;
}

/* Packs @digits two per byte, the first digit of each pair in the low nibble (TS 102 221 EF_ICCID
 * and TS 24.008 IMEI coding); nibbles past the digits are F. */
static void
swapped_bcd (const char *digits, guint8 *out, gsize out_len)
{
  gsize n = strlen (digits);

  for (gsize i = 0; i < out_len; i++)
    {
      guint lo = 2 * i < n ? (guint) g_ascii_xdigit_value (digits[2 * i]) : 0xF;
      guint hi = 2 * i + 1 < n ? (guint) g_ascii_xdigit_value (digits[2 * i + 1]) : 0xF;
      out[i] = (guint8) ((hi << 4) | lo);
    }
}

gboolean
lpa_iccid_is_valid (const char *digits)
{
  gsize n = digits ? strlen (digits) : 0;

  return n >= 18 && n <= 20 && all_iccid_chars (digits);
}

char *
lpa_iccid_canonical (const char *text)
{
  g_autofree char *s = NULL;
  gsize n;

  if (text == NULL)
    return NULL;
  /* Pasted from a QR-code app or an e-mail, or read by a script: a newline or spaces around it
   * are no part of it, and an ICCID never holds either. */
  s = g_strstrip (g_strdup (text));
  n = strlen (s);
  /* F is never an ICCID character but the padding of EF_ICCID's 20 nibbles, which
   * lpa_iccid_to_bcd() puts back: dropping it changes no byte sent to the card. */
  if (n > 20)
    return NULL;
  while (n > 0 && (s[n - 1] == 'F' || s[n - 1] == 'f'))
    s[--n] = '\0';
  /* Upper case is how a listed ICCID shows its A-E nibbles; lower case names the same nibbles. */
  for (char *p = s; *p; p++)
    if (*p >= 'a' && *p <= 'e')
      *p = g_ascii_toupper (*p);
  return lpa_iccid_is_valid (s) ? g_steal_pointer (&s) : NULL;
}

gboolean
lpa_iccid_to_bcd (const char *digits, guint8 out[LPA_ICCID_BCD_LEN], GError **error)
{
  if (!lpa_iccid_is_valid (digits))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           "ICCID must be 18 to 20 digits (0-9, A-E)");
      return FALSE;
    }
  swapped_bcd (digits, out, LPA_ICCID_BCD_LEN);
  return TRUE;
}

char *
lpa_iccid_from_bcd (const guint8 *bcd, gsize len)
{
  char digits[2 * LPA_ICCID_BCD_LEN + 1];
  gsize n = 0;
  gboolean padding = FALSE;

  if (bcd == NULL || len != LPA_ICCID_BCD_LEN)
    return NULL;
  for (gsize i = 0; i < 2 * len; i++)
    {
      guint nibble = (i % 2 == 0) ? (bcd[i / 2] & 0x0F) : (bcd[i / 2] >> 4);
      /* A nibble A-E is kept as its hex digit, as lpac shows it: real cards carry such ICCIDs,
       * and refusing one failed the whole profile list. F is padding, so only trailing. */
      if (nibble == 0xF)
        padding = TRUE;
      else if (padding)
        return NULL;
      else
        digits[n++] = "0123456789ABCDE"[nibble];
    }
  digits[n] = '\0';
  return lpa_iccid_is_valid (digits) ? g_strdup (digits) : NULL;
}

gboolean
lpa_imei_to_bcd (const char *digits, guint8 out[8], GError **error)
{
  if (digits == NULL || strlen (digits) != 15 || !all_digits (digits))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           "IMEI must be 15 decimal digits");
      return FALSE;
    }
  swapped_bcd (digits, out, 8);
  return TRUE;
}

char *
lpa_eid_from_bytes (const guint8 *eid, gsize len)
{
  if (eid == NULL || len != 16)
    return NULL;
  return g_strdup_printf ("%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X%02X",
                          eid[0], eid[1], eid[2], eid[3], eid[4], eid[5], eid[6], eid[7], eid[8],
                          eid[9], eid[10], eid[11], eid[12], eid[13], eid[14], eid[15]);
}
