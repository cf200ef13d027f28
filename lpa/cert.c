/* cert.c — the X.509 facts an LPA checks itself: the SM-DP+ OID in a server certificate. */
#include "cert.h"

#include <gnutls/x509.h>

#include "lpa-error.h"

G_DEFINE_AUTO_CLEANUP_FREE_FUNC (gnutls_x509_crt_t, gnutls_x509_crt_deinit, NULL)

char *
lpa_certificate_registered_id (GBytes *certificate, GError **error)
{
  g_auto (gnutls_x509_crt_t) crt = NULL;
  gsize len;
  gnutls_datum_t der;

  der.data = (unsigned char *) g_bytes_get_data (certificate, &len);
  der.size = (unsigned int) len;
  if (len > G_MAXUINT || gnutls_x509_crt_init (&crt) < 0 ||
      gnutls_x509_crt_import (crt, &der, GNUTLS_X509_FMT_DER) < 0)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                           "server certificate does not decode as X.509");
      return NULL;
    }
  for (unsigned int i = 0;; i++)
    {
      char name[256];
      size_t size = sizeof name - 1;
      int type = gnutls_x509_crt_get_subject_alt_name (crt, i, name, &size, NULL);

      if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
        break;
      /* An entry too long for the buffer is no OID we could match; skip it. */
      if (type == GNUTLS_SAN_REGISTERED_ID && size < sizeof name)
        {
          name[size] = '\0';
          return g_strdup (name);
        }
      if (type < 0 && type != GNUTLS_E_SHORT_MEMORY_BUFFER)
        break;
    }
  g_set_error_literal (error, LPA_ERROR, LPA_ERROR_UNEXPECTED,
                       "server certificate has no registeredID (SM-DP+ OID)");
  return NULL;
}
