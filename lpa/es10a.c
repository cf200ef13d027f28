/* es10a.c — ES10a: the eUICC's configured SM-DP+ and SM-DS addresses. */
#include "es10a.h"

#include <string.h>

#include "der.h"
#include "es10-result.h"
#include "lpa-error.h"

void
lpa_configured_addresses_free (LpaConfiguredAddresses *addresses)
{
  if (addresses == NULL)
    return;
  g_free (addresses->default_dp_address);
  g_free (addresses->root_ds_address);
  g_free (addresses);
}

GBytes *
lpa_es10a_get_configured_addresses_request (void)
{
  return lpa_es10_empty_request (0xBF3C);
}

LpaConfiguredAddresses *
lpa_es10a_parse_configured_addresses (GBytes *response, GError **error)
{
  g_autoptr (LpaConfiguredAddresses) out = g_new0 (LpaConfiguredAddresses, 1);
  gsize len;
  const guint8 *data = g_bytes_get_data (response, &len);
  LpaDerReader reader;
  LpaTlv outer, child;

  if (!lpa_der_parse_answer (data, len, 0xBF3C, &outer, error) ||
      !lpa_der_expect_constructed (&outer, error))
    return NULL;
  lpa_der_reader_init_children (&reader, &outer);
  while (!lpa_der_reader_at_end (&reader))
    {
      char **slot = NULL;

      if (!lpa_der_reader_next (&reader, &child, error))
        return NULL;
      if (child.tag == 0x80)
        slot = &out->default_dp_address;
      else if (child.tag == 0x81)
        slot = &out->root_ds_address;
      else
        continue;
      if (*slot != NULL)
        {
          g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                       "EuiccConfiguredAddresses: repeated tag %02X", child.tag);
          return NULL;
        }
      /* Read as display text, as the other strings an eUICC stores: a byte that is not UTF-8
       * becomes U+FFFD, so that address fails where it is used (no host name) instead of the
       * whole read, and with it every Refresh of the eUICC (lpac reads both addresses as they
       * are: es10a_get_euicc_configured_addresses). */
      if (!(*slot = lpa_der_get_display_text (&child, error)))
        return NULL;
      g_strstrip (*slot);
    }
  if (out->root_ds_address == NULL)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                           "EuiccConfiguredAddresses: no rootDsAddress");
      return NULL;
    }
  /* An empty default address is how some eUICCs say "none". */
  if (out->default_dp_address && out->default_dp_address[0] == '\0')
    g_clear_pointer (&out->default_dp_address, g_free);
  return g_steal_pointer (&out);
}

GBytes *
lpa_es10a_set_default_dp_address_request (const char *address, GError **error)
{
  g_auto (LpaDerWriter) w = { 0 };

  if (address == NULL || strlen (address) > 255 || !g_utf8_validate (address, -1, NULL))
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                           "SM-DP+ address must be UTF-8 of at most 255 bytes");
      return NULL;
    }
  lpa_der_writer_init (&w);
  lpa_der_writer_begin (&w, 0xBF3F);
  lpa_der_write_utf8 (&w, 0x80, address);
  lpa_der_writer_end (&w);
  return lpa_der_writer_finish (&w);
}

gboolean
lpa_es10a_parse_set_default_dp_address (GBytes *response, gint *code, GError **error)
{
  return lpa_es10_parse_result (response, 0xBF3F, LPA_ES10_SET_DEFAULT_DP_ADDRESS, code, error);
}
