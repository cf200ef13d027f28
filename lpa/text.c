/* text.c — octets as text: hex strings, strictly validated base64, and foreign text made safe. */
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

static int
base64_value (char c)
{
  static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *p = c ? strchr (alphabet, c) : NULL;

  return p ? (int) (p - alphabet) : -1;
}

GBytes *
lpa_base64_decode (const char *text, const char *what, GError **error)
{
  gsize chars = 0, pad = 0, out_len, written;
  int last = 0, state = 0;
  guint save = 0;
  guint8 *out;

  /* GLib's decoder skips invalid characters silently, so the strictness wanted for data about to
   * be signed over (alphabet, padding, length, zero trailing bits) is checked first, in one pass
   * that also sizes the result; GLib then decodes straight into it. No stripped copy of the text
   * is made: a BPP's base64 is the largest string esimd handles. */
  for (const char *p = text; *p; p++)
    {
      if (g_ascii_isspace (*p))
        continue;
      if (*p == '=')
        pad++;
      else if (pad > 0 || (last = base64_value (*p)) < 0)
        goto invalid;
      else
        chars++;
    }
  if ((chars + pad) % 4 != 0 || pad > 2 || (pad > 0 && chars % 4 == 0))
    goto invalid;
  /* The bits of the last character that do not make a whole byte must be zero (RFC 4648 §3.5). */
  if ((pad == 1 && (last & 0x3) != 0) || (pad == 2 && (last & 0xf) != 0))
    goto invalid;
  out_len = (chars + pad) / 4 * 3 - pad;
  /* g_base64_decode_step() documents a need for up to 3 bytes beyond what it writes. */
  out = g_malloc (out_len + 3);
  written = g_base64_decode_step (text, strlen (text), out, &state, &save);
  g_assert (written == out_len);
  /* The decoded buffer becomes the GBytes as it is: a BPP is sliced from it, never copied. */
  return g_bytes_new_take (out, out_len);

invalid:
  g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "%s: invalid base64", what);
  return NULL;
}

static gboolean
is_control (gunichar c, LpaTextFlags flags)
{
  if ((flags & LPA_TEXT_KEEP_NEWLINES) && (c == '\n' || c == '\t'))
    return FALSE;
  return c < 0x20 || (c >= 0x7F && c < 0xA0);
}

gboolean
lpa_text_is_clean (const char *text, gssize len, LpaTextFlags flags)
{
  const char *end;

  if (text == NULL)
    return TRUE;
  if (len < 0)
    len = (gssize) strlen (text);
  /* g_utf8_validate() stops at a NUL: one inside the given length is a control character. */
  if (!g_utf8_validate (text, len, &end) || end != text + len)
    return FALSE;
  for (const char *p = text; p < end; p = g_utf8_next_char (p))
    if (is_control (g_utf8_get_char (p), flags))
      return FALSE;
  return TRUE;
}

char *
lpa_text_sanitize (const char *text, gssize len, gsize max_bytes, LpaTextFlags flags)
{
  static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */
  GString *out;
  const char *p, *end;

  if (text == NULL)
    return NULL;
  if (len < 0)
    len = (gssize) strlen (text);
  out = g_string_sized_new ((gsize) len + 1);
  for (p = text, end = text + len; p < end;)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      gsize before = out->len;

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          /* One U+FFFD per invalid byte, as g_utf8_make_valid() does. */
          g_string_append (out, replacement);
          p++;
        }
      else
        {
          const char *next = g_utf8_next_char (p);

          if (c == 0 || is_control (c, flags))
            g_string_append (out, replacement);
          else
            g_string_append_len (out, p, next - p);
          p = next;
        }
      if (max_bytes > 0 && out->len > max_bytes)
        {
          g_string_truncate (out, before);
          g_string_append (out, "\xE2\x80\xA6"); /* … */
          break;
        }
    }
  return g_string_free (out, FALSE);
}

static gboolean
is_surrounding_space (gunichar c)
{
  return g_unichar_isspace (c) || c == 0xFEFF || c == 0x200B;
}

char *
lpa_text_strip (const char *text)
{
  const char *start, *end;

  if (text == NULL)
    return NULL;
  if (!g_utf8_validate (text, -1, NULL))
    return g_strdup (text);
  start = text;
  end = text + strlen (text);
  while (start < end && is_surrounding_space (g_utf8_get_char (start)))
    start = g_utf8_next_char (start);
  while (end > start)
    {
      const char *last = g_utf8_find_prev_char (start, end);

      if (!last || !is_surrounding_space (g_utf8_get_char (last)))
        break;
      end = last;
    }
  return g_strndup (start, (gsize) (end - start));
}
