/* Verifies a certificate chain with GnuTLS the way esimd's TLS stack will (test helper). */
#include <glib.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

/* Usage: gnutls-verify CA-FILE CERT-FILE [HOSTNAME]
 * CA-FILE holds the trusted roots (PEM or DER), CERT-FILE the leaf (PEM or DER). Checks the
 * chain, validity, TLS server purpose and, when given, the host name. Exit 0 = trusted,
 * 1 = rejected (reason on stderr), 2 = usage or I/O error. */

static int
load_crt (const char *path, gnutls_x509_crt_t *crt)
{
  g_autofree char *data = NULL;
  gsize len = 0;
  g_autoptr (GError) error = NULL;

  if (!g_file_get_contents (path, &data, &len, &error))
    {
      g_printerr ("gnutls-verify: %s\n", error->message);
      return -1;
    }
  gnutls_datum_t d = { (unsigned char *) data, (unsigned int) len };
  gnutls_x509_crt_init (crt);
  gnutls_x509_crt_fmt_t fmt =
      g_strstr_len (data, (gssize) len, "-----BEGIN") ? GNUTLS_X509_FMT_PEM : GNUTLS_X509_FMT_DER;
  int r = gnutls_x509_crt_import (*crt, &d, fmt);
  if (r < 0)
    {
      g_printerr ("gnutls-verify: %s: %s\n", path, gnutls_strerror (r));
      gnutls_x509_crt_deinit (*crt);
      return -1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  if (argc < 3 || argc > 4)
    {
      g_printerr ("usage: gnutls-verify CA-FILE CERT-FILE [HOSTNAME]\n");
      return 2;
    }

  gnutls_x509_crt_t ca, leaf;
  if (load_crt (argv[1], &ca) < 0)
    return 2;
  if (load_crt (argv[2], &leaf) < 0)
    return 2;

  gnutls_x509_trust_list_t tl;
  gnutls_x509_trust_list_init (&tl, 0);
  /* The trust list takes ownership of the CA certificate. */
  if (gnutls_x509_trust_list_add_cas (tl, &ca, 1, 0) != 1)
    {
      g_printerr ("gnutls-verify: cannot add the CA\n");
      return 2;
    }

  gnutls_typed_vdata_st vdata[2];
  unsigned int n = 0;
  vdata[n].type = GNUTLS_DT_KEY_PURPOSE_OID;
  vdata[n].data = (unsigned char *) GNUTLS_KP_TLS_WWW_SERVER;
  vdata[n].size = 0;
  n++;
  if (argc == 4)
    {
      vdata[n].type = GNUTLS_DT_DNS_HOSTNAME;
      vdata[n].data = (unsigned char *) argv[3];
      vdata[n].size = 0;
      n++;
    }

  unsigned int status = 0;
  int r = gnutls_x509_trust_list_verify_crt2 (tl, &leaf, 1, vdata, n, 0, &status, NULL);
  int ret = 0;
  if (r < 0)
    {
      g_printerr ("gnutls-verify: %s\n", gnutls_strerror (r));
      ret = 2;
    }
  else if (status != 0)
    {
      gnutls_datum_t out = { NULL, 0 };
      gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509, &out, 0);
      g_printerr ("gnutls-verify: rejected: %s\n", out.data);
      gnutls_free (out.data);
      ret = 1;
    }
  gnutls_x509_crt_deinit (leaf);
  gnutls_x509_trust_list_deinit (tl, 1);
  return ret;
}
