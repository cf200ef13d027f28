/* fuzz-activation-code.c — libFuzzer harness of activation code parsing and building. */
#include "fuzz.h"

#include <string.h>

#include "lpa.h"

/* Codes are at most 255 characters; a little more reaches the length rule from both sides. */
#define INPUT_CAP 1024

/* X.690 8.19: one subidentifier, base 128, high bit on all but the last byte. */
static void
append_subidentifier (GByteArray *out, unsigned __int128 v)
{
  guint8 bytes[19];
  guint n = 0;

  do
    {
      bytes[n++] = (guint8) (v & 0x7F);
      v >>= 7;
    }
  while (v);
  while (n-- > 0)
    {
      guint8 b = bytes[n] | (n ? 0x80 : 0);

      g_byte_array_append (out, &b, 1);
    }
}

/* The SM-DP+ OID of an accepted code must be one the certificate's can equal: encoded as a
 * certificate carries it, lpa_der_get_oid() reads it back the same (366481a: any other fails
 * the download only after the server was contacted). */
static void
check_oid (const char *oid)
{
  g_auto (GStrv) arcs = g_strsplit (oid, ".", -1);
  g_autoptr (GByteArray) der = g_byte_array_new ();
  g_autofree char *back = NULL;
  guint64 x, y;
  guint8 header[2] = { 0x06, 0 };
  LpaTlv tlv;

  FUZZ_CHECK (g_strv_length (arcs) >= 2);
  FUZZ_CHECK (g_ascii_string_to_unsigned (arcs[0], 10, 0, 2, &x, NULL));
  FUZZ_CHECK (g_ascii_string_to_unsigned (arcs[1], 10, 0, G_MAXUINT64, &y, NULL));
  append_subidentifier (der, (unsigned __int128) x * 40 + y);
  for (guint i = 2; arcs[i]; i++)
    {
      guint64 arc;

      FUZZ_CHECK (g_ascii_string_to_unsigned (arcs[i], 10, 0, G_MAXUINT64, &arc, NULL));
      append_subidentifier (der, arc);
    }
  FUZZ_CHECK (der->len < 128);
  header[1] = (guint8) der->len;
  g_byte_array_prepend (der, header, sizeof header);
  FUZZ_CHECK (lpa_der_parse (der->data, der->len, &tlv, NULL));
  back = lpa_der_get_oid (&tlv, NULL);
  FUZZ_CHECK (back != NULL && strcmp (back, oid) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (LpaActivationCode) ac = NULL;
  g_autoptr (LpaActivationCode) again = NULL;
  g_autofree char *built = NULL;
  g_autofree char *built_qr = NULL;

  fuzz_setup ();
  if (size > INPUT_CAP)
    return 0;
  /* The code arrives as a C string (QR scanner, D-Bus argument): up to the first NUL. */
  text = g_strndup ((const char *) data, size);
  lpa_host_name_is_valid (text);

  if (!(ac = lpa_activation_code_parse (text, &error)))
    {
      fuzz_check_error (error);
      FUZZ_CHECK (error->code == LPA_ERROR_INVALID_ACTIVATION_CODE);
      return 0;
    }
  FUZZ_CHECK (ac->smdp_address && lpa_host_name_is_valid (ac->smdp_address));
  FUZZ_CHECK (ac->matching_id != NULL);
  for (const char *p = ac->matching_id; *p; p++)
    FUZZ_CHECK (g_ascii_isalnum (*p) || *p == '-');
  if (ac->smdp_oid)
    check_oid (ac->smdp_oid);

  /* Whatever parses builds back into a code that parses to the same fields. */
  built = lpa_activation_code_to_string (ac, FALSE, &error);
  FUZZ_CHECK (built != NULL);
  built_qr = lpa_activation_code_to_string (ac, TRUE, &error);
  FUZZ_CHECK (built_qr && g_str_has_prefix (built_qr, "LPA:") && strcmp (built_qr + 4, built) == 0);
  again = lpa_activation_code_parse (built_qr, &error);
  FUZZ_CHECK (again != NULL);
  FUZZ_CHECK (strcmp (again->smdp_address, ac->smdp_address) == 0);
  FUZZ_CHECK (strcmp (again->matching_id, ac->matching_id) == 0);
  FUZZ_CHECK (g_strcmp0 (again->smdp_oid, ac->smdp_oid) == 0);
  FUZZ_CHECK (again->cc_required == ac->cc_required);
  return 0;
}
