/* tls-profile.c — SGP.22's TLS certificate profile for servers whose chain ends at an eSIM CI. */
#include "tls-profile.h"

#include "lpa-error.h"

#include <gio/gio.h>
#include <gnutls/x509.h>
#include <string.h>

/* Certificate policies of the RSP role arc id-rspRole (2.23.146.1.2.1). SGP.22 v2 names each
 * role by one arc (.3 = SM-DP+ TLS); SGP.22 v3 (Annex H) adds a second set under .0.0 for its
 * certificate variants A/B/C and calls the v2 ones "-v2". Both are in use. */
typedef struct
{
  const char *oid;
  const char *name;
  gboolean server_tls; /* a TLS server certificate may carry it */
  gboolean ca;         /* a subordinate CA under a CI may carry it */
} RspRole;

static const RspRole rsp_roles[] = {
  { "2.23.146.1.2.1.0", "CI", FALSE, TRUE },
  { "2.23.146.1.2.1.1", "eUICC", FALSE, FALSE },
  { "2.23.146.1.2.1.2", "EUM", FALSE, FALSE },
  { "2.23.146.1.2.1.3", "SM-DP+ TLS", TRUE, FALSE },
  { "2.23.146.1.2.1.4", "SM-DP+ authentication (DPauth)", FALSE, FALSE },
  { "2.23.146.1.2.1.5", "SM-DP+ profile binding (DPpb)", FALSE, FALSE },
  { "2.23.146.1.2.1.6", "SM-DS TLS", TRUE, FALSE },
  { "2.23.146.1.2.1.7", "SM-DS authentication (DSauth)", FALSE, FALSE },
  { "2.23.146.1.2.1.0.0.0", "EUM", FALSE, FALSE },
  { "2.23.146.1.2.1.0.0.0.0.0", "eUICC", FALSE, FALSE },
  { "2.23.146.1.2.1.0.0.1.0", "SM-DP+ TLS", TRUE, FALSE },
  { "2.23.146.1.2.1.0.0.1.1", "SM-DP+ authentication (DPauth)", FALSE, FALSE },
  { "2.23.146.1.2.1.0.0.1.2", "SM-DP+ profile binding (DPpb)", FALSE, FALSE },
  { "2.23.146.1.2.1.0.0.2.0", "SM-DS TLS", TRUE, FALSE },
  { "2.23.146.1.2.1.0.0.2.1", "SM-DS authentication (DSauth)", FALSE, FALSE },
};

#define RSP_ROLE_ARC         "2.23.146.1.2.1."
#define OID_NAME_CONSTRAINTS "2.5.29.30"
#define OID_PERMITTED_IINS   "2.23.146.1.2.2.0" /* the newer EUMs' list of EID prefixes */

struct _EsimdTlsProfile
{
  gnutls_x509_trust_list_t cis; /* NULL: no CI is installed for this eUICC */
  gnutls_x509_crt_t *ci_list;   /* the same certificates, owned by cis */
  unsigned int n_ci;
  /* Chains accepted before, byte for byte (GBytes of each certificate's length and DER), most
   * recent first. The judgement is a pure function of the chain and the CIs; making it again
   * costs several ECDSA verifications (~6 M instructions), and libcurl asks before every request,
   * on reused connections too. Validity in time is GnuTLS's, at each handshake. */
  GPtrArray *accepted;
};

/* Enough for the SM-DP+s, SM-DSs and notification servers a daemon talks to in a while. */
#define ACCEPTED_MAX 8

void
esimd_tls_profile_free (EsimdTlsProfile *profile)
{
  if (!profile)
    return;
  if (profile->cis)
    gnutls_x509_trust_list_deinit (profile->cis, 1);
  g_free (profile->ci_list);
  if (profile->accepted)
    g_ptr_array_unref (profile->accepted);
  g_free (profile);
}

EsimdTlsProfile *
esimd_tls_profile_new (GBytes *ci_pem, GError **error)
{
  g_autoptr (EsimdTlsProfile) profile = g_new0 (EsimdTlsProfile, 1);
  gnutls_x509_crt_t *list = NULL;
  gnutls_datum_t datum;
  gsize len;
  int r;

  if (!ci_pem || g_bytes_get_size (ci_pem) == 0)
    return g_steal_pointer (&profile);
  datum.data = (unsigned char *) g_bytes_get_data (ci_pem, &len);
  datum.size = (unsigned int) len;
  r = gnutls_x509_crt_list_import2 (&list, &profile->n_ci, &datum, GNUTLS_X509_FMT_PEM, 0);
  if (r < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "CI certificates: %s",
                   gnutls_strerror (r));
      return NULL;
    }
  /* The trust list takes the certificates; keep the array to compare issuers with. */
  profile->ci_list = g_memdup2 (list, profile->n_ci * sizeof *list);
  gnutls_free (list);
  profile->accepted = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  if ((r = gnutls_x509_trust_list_init (&profile->cis, 0)) < 0 ||
      (r = gnutls_x509_trust_list_add_cas (profile->cis, profile->ci_list, profile->n_ci, 0)) < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "CI trust list: %s", gnutls_strerror (r));
      return NULL;
    }
  return g_steal_pointer (&profile);
}

static const RspRole *
find_role (const char *oid)
{
  for (gsize i = 0; i < G_N_ELEMENTS (rsp_roles); i++)
    if (strcmp (rsp_roles[i].oid, oid) == 0)
      return &rsp_roles[i];
  return NULL;
}

/* The certificate's policies in the RSP role arc, as a readable list ("" when none), and
 * whether one of them is a server TLS role / a role only a CA may carry / a role nobody
 * but an end entity or an EUM may carry (any other arc member, known or not). */
typedef struct
{
  GString *names;
  gboolean server_tls;
  gboolean non_ca_role;
} Roles;

static void
read_roles (gnutls_x509_crt_t crt, Roles *out)
{
  out->names = g_string_new (NULL);
  out->server_tls = FALSE;
  out->non_ca_role = FALSE;
  for (unsigned int i = 0;; i++)
    {
      struct gnutls_x509_policy_st policy;
      const RspRole *role;

      if (gnutls_x509_crt_get_policy (crt, i, &policy, NULL) < 0)
        break;
      if (g_str_has_prefix (policy.oid, RSP_ROLE_ARC) || strcmp (policy.oid, "2.23.146.1.2.1") == 0)
        {
          role = find_role (policy.oid);
          if (out->names->len)
            g_string_append (out->names, ", ");
          g_string_append (out->names, role ? role->name : policy.oid);
          if (role && role->server_tls)
            out->server_tls = TRUE;
          if (!role || !role->ca)
            out->non_ca_role = TRUE;
        }
      gnutls_x509_policy_release (&policy);
    }
}

static gboolean
has_extension (gnutls_x509_crt_t crt, const char *oid)
{
  gnutls_datum_t value = { NULL, 0 };
  int r = gnutls_x509_crt_get_extension_by_oid2 (crt, oid, 0, &value, NULL);

  gnutls_free (value.data);
  return r >= 0;
}

/* The common name only: an eUICC certificate's subject carries the EID (serialNumber), which
 * must not reach the log. */
static char *
name_of (gnutls_x509_crt_t crt)
{
  char buf[256];
  size_t len = sizeof buf;

  if (gnutls_x509_crt_get_dn_by_oid (crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len) < 0)
    return g_strdup ("(no common name)");
  /* Certificate names are attacker-chosen text headed for a log and D-Bus. */
  return g_utf8_make_valid (buf, (gssize) len);
}

/* TRUE when @issuer's key made @crt's signature. Only the signature is asked about: validity,
 * CA flags and path were judged by the full verification before. */
static gboolean
signed_by (gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
  unsigned int status = 0;

  if (!gnutls_x509_crt_check_issuer (crt, issuer))
    return FALSE;
  if (gnutls_x509_crt_verify (crt, &issuer, 1,
                              GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
                                  GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS |
                                  GNUTLS_VERIFY_DISABLE_CA_SIGN,
                              &status) < 0)
    return FALSE;
  return (status & (GNUTLS_CERT_SIGNATURE_FAILURE | GNUTLS_CERT_SIGNER_NOT_FOUND)) == 0;
}

static gboolean
issued_by_ci (EsimdTlsProfile *profile, gnutls_x509_crt_t crt)
{
  for (unsigned int i = 0; i < profile->n_ci; i++)
    if (signed_by (crt, profile->ci_list[i]))
      return TRUE;
  return FALSE;
}

/* A subordinate CA may stand between a CI and a TLS leaf (SGP.22 v3), but never an EUM nor an
 * eUICC, whatever their certificates say about being a CA: an EUM is recognised by its role
 * policy, by its name constraint or by its list of EID prefixes. */
static gboolean
check_subordinate_ca (EsimdTlsProfile *profile, gnutls_x509_crt_t ca, GError **error)
{
  g_autofree char *name = name_of (ca);
  Roles roles;
  unsigned int is_ca = 0;
  int r;

  read_roles (ca, &roles);
  if (roles.non_ca_role)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "it is issued by a certificate with the %s role (CN \"%s\"), not by a CI "
                   "or a CI's subordinate CA",
                   roles.names->str, name);
      g_string_free (roles.names, TRUE);
      return FALSE;
    }
  g_string_free (roles.names, TRUE);
  if (has_extension (ca, OID_NAME_CONSTRAINTS) || has_extension (ca, OID_PERMITTED_IINS))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "it is issued by a certificate with EID name constraints (CN \"%s\"), an "
                   "EUM, not by a CI",
                   name);
      return FALSE;
    }
  r = gnutls_x509_crt_get_basic_constraints (ca, NULL, &is_ca, NULL);
  if (r < 0 || !is_ca)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "it is issued by CN \"%s\", which is not a CA", name);
      return FALSE;
    }
  if (!issued_by_ci (profile, ca))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "it is issued by CN \"%s\", which is neither a CI nor issued by one", name);
      return FALSE;
    }
  return TRUE;
}

/* The chain as one byte string: each certificate's length, then its DER. */
static GBytes *
chain_key (const gnutls_datum_t *chain, guint n_chain)
{
  GByteArray *key = g_byte_array_new ();

  for (guint i = 0; i < n_chain; i++)
    {
      guint32 len = GUINT32_TO_BE (chain[i].size);

      g_byte_array_append (key, (const guint8 *) &len, sizeof len);
      g_byte_array_append (key, chain[i].data, chain[i].size);
    }
  return g_byte_array_free_to_bytes (key);
}

static gboolean
accepted_before (EsimdTlsProfile *profile, GBytes *key)
{
  for (guint i = 0; i < profile->accepted->len; i++)
    if (g_bytes_equal (profile->accepted->pdata[i], key))
      {
        if (i > 0) /* most recent first */
          {
            gpointer hit = profile->accepted->pdata[i];

            memmove (&profile->accepted->pdata[1], &profile->accepted->pdata[0],
                     i * sizeof (gpointer));
            profile->accepted->pdata[0] = hit;
          }
        return TRUE;
      }
  return FALSE;
}

static void
remember_accepted (EsimdTlsProfile *profile, GBytes *key)
{
  if (profile->accepted->len == ACCEPTED_MAX)
    g_ptr_array_remove_index (profile->accepted, ACCEPTED_MAX - 1);
  g_ptr_array_insert (profile->accepted, 0, g_bytes_ref (key));
}

static gboolean judge_chain (EsimdTlsProfile *profile, const gnutls_datum_t *chain, guint n_chain,
                             GError **error);

/* libcurl has GnuTLS verify the chain and the host name, but not the leaf's key purpose
 * (gnutls_certificate_verify_peers2 asks for none): a certificate whose extendedKeyUsage allows
 * TLS clients only, which a CI or a public CA may issue for that host, would pass for its
 * server. Both ways in require id-kp-serverAuth when the extension is there (RFC 5280 §4.2.1.12;
 * SGP.22's TLS profile names it); a leaf without the extension is not limited. */
static gboolean
leaf_serves_tls (const gnutls_datum_t *leaf, GError **error)
{
  gnutls_x509_crt_t crt;
  gboolean ok;

  if (gnutls_x509_crt_init (&crt) < 0)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION, "out of memory");
      return FALSE;
    }
  if (gnutls_x509_crt_import (crt, leaf, GNUTLS_X509_FMT_DER) < 0)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                           "the server's certificate cannot be read");
      gnutls_x509_crt_deinit (crt);
      return FALSE;
    }
  ok = gnutls_x509_crt_check_key_purpose (crt, GNUTLS_KP_TLS_WWW_SERVER, 0) != 0;
  if (!ok)
    g_set_error_literal (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                         "its extended key usage does not include TLS server authentication "
                         "(id-kp-serverAuth)");
  gnutls_x509_crt_deinit (crt);
  return ok;
}

gboolean
esimd_tls_profile_check (EsimdTlsProfile *profile, const gnutls_datum_t *chain, guint n_chain,
                         GError **error)
{
  g_autoptr (GBytes) key = NULL;

  if (n_chain == 0)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                           "the server sent no certificate");
      return FALSE;
    }
  if (!profile->cis)
    return leaf_serves_tls (&chain[0], error); /* no CI: the system store's chain */
  key = chain_key (chain, n_chain);
  if (accepted_before (profile, key))
    return TRUE;
  if (!leaf_serves_tls (&chain[0], error) || !judge_chain (profile, chain, n_chain, error))
    return FALSE;
  remember_accepted (profile, key);
  return TRUE;
}

static gboolean
judge_chain (EsimdTlsProfile *profile, const gnutls_datum_t *chain, guint n_chain, GError **error)
{
  gnutls_x509_crt_t crts[16];
  guint n = 0;
  unsigned int status = 0;
  gboolean ok = FALSE, anchored = FALSE, direct;
  Roles roles = { NULL, FALSE, FALSE };
  int r;

  if (n_chain > G_N_ELEMENTS (crts))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "the server sent %u certificates, more than the %zu a chain may have", n_chain,
                   G_N_ELEMENTS (crts));
      return FALSE;
    }
  for (; n < n_chain; n++)
    {
      if (gnutls_x509_crt_init (&crts[n]) < 0)
        {
          g_set_error_literal (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION, "out of memory");
          goto out;
        }
      if (gnutls_x509_crt_import (crts[n], &chain[n], GNUTLS_X509_FMT_DER) < 0)
        {
          gnutls_x509_crt_deinit (crts[n]);
          g_set_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                       "certificate %u of the server's chain cannot be read", n);
          goto out;
        }
    }

  /* Which anchor? First the leaf alone against the CIs: when a CI signed it (the usual SM-DP+
   * and SM-DS chain), that one verification says both that the chain ends at a CI and who issued
   * the leaf, at the cost of one ECDSA verification instead of three. */
  r = gnutls_x509_trust_list_verify_crt2 (profile->cis, crts, 1, NULL, 0, 0, &status, NULL);
  direct = r >= 0 && status == 0;
  /* Otherwise the same verification GnuTLS made for libcurl, with the CIs alone. A chain that
   * fails it ends at a system CA, the web PKI path, which has its own rules (host name,
   * validity: checked) and no RSP roles. */
  if (!direct)
    {
      status = 0;
      r = gnutls_x509_trust_list_verify_crt2 (profile->cis, crts, n, NULL, 0,
                                              GNUTLS_VERIFY_ALLOW_UNSORTED_CHAIN, &status, NULL);
      if (r < 0 || status != 0)
        {
          ok = TRUE;
          goto out;
        }
    }

  anchored = TRUE;
  read_roles (crts[0], &roles);
  if (!roles.server_tls)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                   "it is no SM-DP+ or SM-DS TLS certificate (its certificate policies name %s)",
                   roles.names->len ? roles.names->str : "no RSP role");
      goto out;
    }
  if (direct || issued_by_ci (profile, crts[0]))
    {
      ok = TRUE;
      goto out;
    }
  for (guint i = 1; i < n; i++)
    if (signed_by (crts[0], crts[i]))
      {
        ok = check_subordinate_ca (profile, crts[i], error);
        goto out;
      }
  g_set_error_literal (error, LPA_ERROR, LPA_ERROR_TLS_VERIFICATION,
                       "its issuer is neither a CI nor among the certificates the server sent");

out:
  if (!ok && anchored)
    g_prefix_error (error, "it chains to an eSIM CI but breaks SGP.22's TLS certificate profile: ");
  if (roles.names)
    g_string_free (roles.names, TRUE);
  for (guint i = 0; i < n; i++)
    gnutls_x509_crt_deinit (crts[i]);
  return ok;
}

char *
esimd_tls_profile_explain (EsimdTlsProfile *profile, const gnutls_datum_t *chain, guint n_chain)
{
  gnutls_x509_crt_t crts[16] = { NULL };
  guint n = 0;
  unsigned int status = 0;
  gnutls_datum_t text = { NULL, 0 };
  GString *out = NULL;

  if (!profile->cis || n_chain == 0 || n_chain > G_N_ELEMENTS (crts))
    return NULL;
  for (; n < n_chain; n++)
    if (gnutls_x509_crt_init (&crts[n]) < 0 ||
        gnutls_x509_crt_import (crts[n], &chain[n], GNUTLS_X509_FMT_DER) < 0)
      {
        if (crts[n])
          gnutls_x509_crt_deinit (crts[n]);
        goto out;
      }
  if (gnutls_x509_trust_list_verify_crt2 (profile->cis, crts, n, NULL, 0,
                                          GNUTLS_VERIFY_ALLOW_UNSORTED_CHAIN, &status, NULL) < 0 ||
      status == 0 ||
      gnutls_certificate_verification_status_print (status, GNUTLS_CRT_X509, &text, 0) < 0)
    goto out;
  out = g_string_new (NULL);
  g_string_append_len (out, (const char *) text.data, text.size);
  gnutls_free (text.data);
  /* GnuTLS ends each sentence with two spaces. */
  while (out->len && out->str[out->len - 1] == ' ')
    g_string_truncate (out, out->len - 1);
  /* Name the leaf's issuer when the server sent it: "not a CA" alone does not say who. */
  for (guint i = 1; i < n; i++)
    if (gnutls_x509_crt_check_issuer (crts[0], crts[i]))
      {
        g_autofree char *name = name_of (crts[i]);
        Roles roles;

        read_roles (crts[i], &roles);
        g_string_append_printf (out, " Its issuer is CN \"%s\"", name);
        if (roles.names->len)
          g_string_append_printf (out, " (%s role)", roles.names->str);
        g_string_append_c (out, '.');
        g_string_free (roles.names, TRUE);
        break;
      }

out:
  for (guint i = 0; i < n; i++)
    gnutls_x509_crt_deinit (crts[i]);
  return out ? g_string_free (out, FALSE) : NULL;
}
