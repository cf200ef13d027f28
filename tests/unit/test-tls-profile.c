/* test-tls-profile.c — SGP.22's TLS certificate profile (daemon/tls-profile.c) judges every
 * chain by its own bytes: a chain accepted once is remembered (libcurl asks before every
 * request, and judging costs several ECDSA verifications), and that memory never lets another
 * chain through. The certificates are made here with GnuTLS, P-256 like the GSMA test PKI. */
#include "tls-profile.h"

#include "lpa-error.h"

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

#define ROLE_CI       "2.23.146.1.2.1.0"
#define ROLE_EUM      "2.23.146.1.2.1.2"
#define ROLE_SMDP_TLS "2.23.146.1.2.1.3"
#define ROLE_DPAUTH   "2.23.146.1.2.1.4"

typedef struct
{
  gnutls_x509_privkey_t key;
  gnutls_x509_crt_t crt;
  gnutls_datum_t der;
} Cert;

static void
cert_free (Cert *c)
{
  gnutls_free (c->der.data);
  gnutls_x509_crt_deinit (c->crt);
  gnutls_x509_privkey_deinit (c->key);
  g_free (c);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Cert, cert_free)

/* A certificate for CN @cn with the role policy @role, a CA or not, signed by @issuer (itself
 * when NULL); a leaf's extendedKeyUsage names @purpose (none when NULL). */
static Cert *
make_cert_for (const char *cn, const char *role, gboolean ca, Cert *issuer, unsigned int serial,
               const char *purpose)
{
  Cert *c = g_new0 (Cert, 1);
  struct gnutls_x509_policy_st policy = { 0 };
  g_autofree char *dn = g_strdup_printf ("CN=%s", cn);
  guint8 serial_bytes[2] = { serial >> 8, serial & 0xff };
  time_t now = time (NULL);

  g_assert_cmpint (gnutls_x509_privkey_init (&c->key), ==, 0);
  g_assert_cmpint (gnutls_x509_privkey_generate (c->key, GNUTLS_PK_ECDSA,
                                                 GNUTLS_CURVE_TO_BITS (GNUTLS_ECC_CURVE_SECP256R1),
                                                 0),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_crt_init (&c->crt), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_version (c->crt, 3), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_serial (c->crt, serial_bytes, sizeof serial_bytes), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_activation_time (c->crt, now - 3600), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_expiration_time (c->crt, now + 86400), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_dn (c->crt, dn, NULL), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key (c->crt, c->key), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_basic_constraints (c->crt, ca, -1), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_key_usage (c->crt, ca ? GNUTLS_KEY_KEY_CERT_SIGN
                                                             : GNUTLS_KEY_DIGITAL_SIGNATURE),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_crt_set_subject_key_id (c->crt, serial_bytes, sizeof serial_bytes),
                   ==, 0);
  if (!ca && purpose)
    g_assert_cmpint (gnutls_x509_crt_set_key_purpose_oid (c->crt, purpose, 0), ==, 0);
  policy.oid = (char *) role;
  g_assert_cmpint (gnutls_x509_crt_set_policy (c->crt, &policy, 0), ==, 0);
  g_assert_cmpint (gnutls_x509_crt_sign2 (c->crt, issuer ? issuer->crt : c->crt,
                                          issuer ? issuer->key : c->key, GNUTLS_DIG_SHA256, 0),
                   ==, 0);
  g_assert_cmpint (gnutls_x509_crt_export2 (c->crt, GNUTLS_X509_FMT_DER, &c->der), ==, 0);
  return c;
}

static Cert *
make_cert (const char *cn, const char *role, gboolean ca, Cert *issuer, unsigned int serial)
{
  return make_cert_for (cn, role, ca, issuer, serial, GNUTLS_KP_TLS_WWW_SERVER);
}

static GBytes *
pem_of (Cert *c)
{
  gnutls_datum_t pem;
  GBytes *out;

  g_assert_cmpint (gnutls_x509_crt_export2 (c->crt, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
  out = g_bytes_new (pem.data, pem.size);
  gnutls_free (pem.data);
  return out;
}

static gboolean
check (EsimdTlsProfile *profile, Cert *leaf, Cert *issuer, GError **error)
{
  gnutls_datum_t chain[2] = { leaf->der, issuer ? issuer->der : leaf->der };

  return esimd_tls_profile_check (profile, chain, issuer ? 2 : 1, error);
}

/* Accepted chains are remembered, refused ones are not, and a remembered chain lets no other
 * chain through: each is judged again in any order. */
static void
test_judged_by_bytes (void)
{
  g_autoptr (Cert) ci = make_cert ("Test CI", ROLE_CI, TRUE, NULL, 1);
  g_autoptr (Cert) eum = make_cert ("Test EUM", ROLE_EUM, TRUE, ci, 2);
  g_autoptr (Cert) good = make_cert ("testsmdpplus1.example.com", ROLE_SMDP_TLS, FALSE, ci, 3);
  g_autoptr (Cert) by_eum = make_cert ("testsmdpplus1.example.com", ROLE_SMDP_TLS, FALSE, eum, 4);
  g_autoptr (Cert) dpauth = make_cert ("testsmdpplus1.example.com", ROLE_DPAUTH, FALSE, ci, 5);
  g_autoptr (GBytes) ci_pem = pem_of (ci);
  g_autoptr (GError) error = NULL;
  g_autoptr (EsimdTlsProfile) profile = esimd_tls_profile_new (ci_pem, &error);

  g_assert_no_error (error);
  for (int round = 0; round < 3; round++)
    {
      g_assert_true (check (profile, good, NULL, &error));
      g_assert_no_error (error);
      g_assert_true (check (profile, good, ci, &error));
      g_assert_no_error (error);

      g_assert_false (check (profile, by_eum, eum, &error));
      g_assert_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION);
      g_assert_nonnull (strstr (error->message, "EUM"));
      g_clear_error (&error);

      g_assert_false (check (profile, dpauth, NULL, &error));
      g_assert_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION);
      g_assert_nonnull (strstr (error->message, "DPauth"));
      g_clear_error (&error);
    }
}

/* More servers than the memory holds: the oldest is forgotten, and judged again when it returns,
 * with the same verdict. */
static void
test_memory_is_bounded (void)
{
  g_autoptr (Cert) ci = make_cert ("Test CI", ROLE_CI, TRUE, NULL, 1);
  g_autoptr (GBytes) ci_pem = pem_of (ci);
  g_autoptr (GError) error = NULL;
  g_autoptr (EsimdTlsProfile) profile = esimd_tls_profile_new (ci_pem, &error);
  Cert *leaves[12];

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (leaves); i++)
    {
      g_autofree char *cn = g_strdup_printf ("smdp%u.example.com", i);

      leaves[i] = make_cert (cn, ROLE_SMDP_TLS, FALSE, ci, 10 + i);
    }
  for (int round = 0; round < 2; round++)
    for (guint i = 0; i < G_N_ELEMENTS (leaves); i++)
      {
        g_assert_true (check (profile, leaves[i], ci, &error));
        g_assert_no_error (error);
      }
  for (guint i = 0; i < G_N_ELEMENTS (leaves); i++)
    cert_free (leaves[i]);
}

/* libcurl has GnuTLS check the chain and the host name but not the leaf's key purpose: a leaf
 * for TLS clients only is refused here, under the CIs and through the system store (no CI), while
 * a leaf without extendedKeyUsage is not limited by it. */
static void
test_leaf_for_servers_only (void)
{
  g_autoptr (Cert) ci = make_cert ("Test CI", ROLE_CI, TRUE, NULL, 1);
  g_autoptr (Cert) client = make_cert_for ("testsmdpplus1.example.com", ROLE_SMDP_TLS, FALSE, ci, 3,
                                           GNUTLS_KP_TLS_WWW_CLIENT);
  g_autoptr (Cert) unlimited =
      make_cert_for ("testsmdpplus1.example.com", ROLE_SMDP_TLS, FALSE, ci, 4, NULL);
  g_autoptr (GBytes) ci_pem = pem_of (ci);
  g_autoptr (GError) error = NULL;
  g_autoptr (EsimdTlsProfile) under_cis = esimd_tls_profile_new (ci_pem, &error);
  g_autoptr (EsimdTlsProfile) system_only = esimd_tls_profile_new (NULL, &error);

  g_assert_no_error (error);
  for (int round = 0; round < 2; round++)
    {
      EsimdTlsProfile *profile = round == 0 ? under_cis : system_only;

      g_assert_false (check (profile, client, ci, &error));
      g_assert_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION);
      g_assert_nonnull (strstr (error->message, "id-kp-serverAuth"));
      g_clear_error (&error);

      g_assert_true (check (profile, unlimited, ci, &error));
      g_assert_no_error (error);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  gnutls_global_init ();
  g_test_add_func ("/tls-profile/judged-by-bytes", test_judged_by_bytes);
  g_test_add_func ("/tls-profile/memory-is-bounded", test_memory_is_bounded);
  g_test_add_func ("/tls-profile/leaf-for-servers-only", test_leaf_for_servers_only);
  return g_test_run ();
}
