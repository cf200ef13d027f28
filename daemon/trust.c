/* trust.c — loads eSIM CI certificates with GnuTLS and builds per-eUICC CA bundles. */
#include "trust.h"

#include <gio/gio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <string.h>

typedef struct
{
  GBytes *ski;
  char *pem;
  char *origin;
} CiCert;

struct _EsimdTrust
{
  GPtrArray *certs; /* CiCert* */
};

static void
ci_cert_free (CiCert *c)
{
  g_bytes_unref (c->ski);
  g_free (c->pem);
  g_free (c->origin);
  g_free (c);
}

void
esimd_trust_free (EsimdTrust *trust)
{
  if (!trust)
    return;
  g_ptr_array_unref (trust->certs);
  g_free (trust);
}

guint
esimd_trust_count (EsimdTrust *trust)
{
  return trust->certs->len;
}

static void
add_crt (EsimdTrust *trust, gnutls_x509_crt_t crt, const char *origin)
{
  guint8 ski[64];
  size_t ski_len = sizeof ski;
  gnutls_datum_t pem = { NULL, 0 };
  CiCert *c;

  if (gnutls_x509_crt_get_subject_key_id (crt, ski, &ski_len, NULL) < 0)
    {
      g_warning ("%s: CI certificate without Subject Key Identifier, ignored", origin);
      return;
    }
  if (gnutls_x509_crt_export2 (crt, GNUTLS_X509_FMT_PEM, &pem) < 0)
    return;
  c = g_new0 (CiCert, 1);
  c->ski = g_bytes_new (ski, ski_len);
  c->pem = g_strndup ((const char *) pem.data, pem.size);
  c->origin = g_strdup (origin);
  gnutls_free (pem.data);
  g_ptr_array_add (trust->certs, c);
}

static void
load_file (EsimdTrust *trust, const char *path)
{
  g_autofree char *data = NULL;
  gsize len;
  gnutls_x509_crt_t *list = NULL;
  unsigned int n = 0;
  gnutls_datum_t datum;
  int r;

  if (!g_file_get_contents (path, &data, &len, NULL))
    {
      g_warning ("%s: unreadable, ignored", path);
      return;
    }
  datum.data = (unsigned char *) data;
  datum.size = (unsigned int) len;
  r = gnutls_x509_crt_list_import2 (&list, &n, &datum, GNUTLS_X509_FMT_PEM, 0);
  if (r < 0 || n == 0)
    {
      gnutls_x509_crt_t crt;

      /* Not PEM: GSMA publishes CI certificates as DER files. */
      if (gnutls_x509_crt_init (&crt) < 0)
        return;
      if (gnutls_x509_crt_import (crt, &datum, GNUTLS_X509_FMT_DER) < 0)
        g_warning ("%s: not a certificate (PEM or DER), ignored", path);
      else
        add_crt (trust, crt, path);
      gnutls_x509_crt_deinit (crt);
      return;
    }
  for (unsigned int i = 0; i < n; i++)
    {
      add_crt (trust, list[i], path);
      gnutls_x509_crt_deinit (list[i]);
    }
  gnutls_free (list);
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const char *const *) a, *(const char *const *) b);
}

EsimdTrust *
esimd_trust_load (char **dirs, GError **error)
{
  g_autoptr (EsimdTrust) trust = g_new0 (EsimdTrust, 1);

  trust->certs = g_ptr_array_new_with_free_func ((GDestroyNotify) ci_cert_free);
  for (char **d = dirs; d && *d; d++)
    {
      g_autoptr (GDir) dir = NULL;
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *name;

      if (!**d)
        continue;
      dir = g_dir_open (*d, 0, NULL);
      if (!dir)
        {
          g_debug ("CI certificate directory %s: not present", *d);
          continue;
        }
      while ((name = g_dir_read_name (dir)))
        if (name[0] != '.')
          g_ptr_array_add (names, g_build_filename (*d, name, NULL));
      /* Directory order is arbitrary; sort so bundles are reproducible. */
      g_ptr_array_sort (names, compare_names);
      for (guint i = 0; i < names->len; i++)
        if (g_file_test (names->pdata[i], G_FILE_TEST_IS_REGULAR))
          load_file (trust, names->pdata[i]);
    }
  return g_steal_pointer (&trust);
}

GBytes *
esimd_trust_bundle (EsimdTrust *trust, GPtrArray *ci_pkids, const char *system_ca_file,
                    guint *n_matched, GError **error)
{
  g_autoptr (GString) out = g_string_new (NULL);
  guint matched = 0;

  for (guint i = 0; i < trust->certs->len; i++)
    {
      CiCert *c = trust->certs->pdata[i];

      for (guint j = 0; ci_pkids && j < ci_pkids->len; j++)
        if (g_bytes_equal (c->ski, ci_pkids->pdata[j]))
          {
            g_string_append (out, c->pem);
            matched++;
            break;
          }
    }
  if (system_ca_file)
    {
      g_autofree char *sys = NULL;
      g_autoptr (GError) local = NULL;

      if (g_file_get_contents (system_ca_file, &sys, NULL, &local))
        {
          g_string_append_c (out, '\n');
          g_string_append (out, sys);
        }
      else
        g_warning ("System CA bundle: %s", local->message);
    }
  if (n_matched)
    *n_matched = matched;
  if (out->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "no trusted certificate: none of the CI certificates this eUICC trusts is "
                   "installed, and the system CA store is not used");
      return NULL;
    }
  return g_string_free_to_bytes (g_steal_pointer (&out));
}
