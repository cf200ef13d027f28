/* text.c — octets as text: hex strings and strictly validated base64. */
#include "text.h"

#include <gnutls/gnutls.h>
#include <string.h>

#include "lpa-error.h"

char *
lpa_hex_encode (const guint8 *data, gsize len)
{
  static const char digits[] = "0123456789ABCDEF";
  char *out = g_malloc (2 * len + 1);

  for (gsize i = 0; i < len; i++)
    {
      out[2 * i] = digits[data[i] >> 4];
      out[2 * i + 1] = digits[data[i] & 0x0F];
    }
  out[2 * len] = '\0';
  return out;
}

char *
lpa_hex_encode_bytes (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return lpa_hex_encode (data, len);
}

GBytes *
lpa_hex_decode (const char *hex, GError **error)
{
  gsize n = strlen (hex);
  g_autofree guint8 *out = NULL;

  if (n % 2 != 0)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED, "hex string of odd length");
      return NULL;
    }
  out = g_malloc (n / 2 + 1);
  for (gsize i = 0; i < n / 2; i++)
    {
      gint hi = g_ascii_xdigit_value (hex[2 * i]);
      gint lo = g_ascii_xdigit_value (hex[2 * i + 1]);
      if (hi < 0 || lo < 0)
        {
          g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                               "hex string with a non-hex character");
          return NULL;
        }
      out[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (g_steal_pointer (&out), n / 2);
}

char *
lpa_base64_encode (GBytes *bytes)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return g_base64_encode (data, len);
}

GBytes *
lpa_base64_decode (const char *text, const char *what, GError **error)
{
  g_autoptr (GString) clean = g_string_sized_new (strlen (text));
  gnutls_datum_t in, out = { NULL, 0 };
  GBytes *result;

  for (const char *p = text; *p; p++)
    if (!g_ascii_isspace (*p))
      g_string_append_c (clean, *p);

  /* GLib's decoder skips invalid characters silently; GnuTLS's rejects bad alphabet, padding and
   * non-zero trailing bits, which is the strictness wanted for data about to be signed over. */
  in.data = (unsigned char *) clean->str;
  in.size = (unsigned int) clean->len;
  if (clean->len > G_MAXUINT || gnutls_base64_decode2 (&in, &out) < 0)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: invalid base64", what);
      return NULL;
    }
  /* The decoded buffer becomes the GBytes as it is: a BPP is sliced from it, never copied. */
  if (out.data == NULL)
    return g_bytes_new (NULL, 0);
  result = g_bytes_new_with_free_func (out.data, out.size, (GDestroyNotify) gnutls_free, out.data);
  return result;
}
