/* tls-profile.h — SGP.22's TLS certificate profile for servers whose chain ends at an eSIM CI. */
#pragma once

#include <glib.h>
#include <gnutls/gnutls.h>

G_BEGIN_DECLS

/* The CI certificates one eUICC trusts, and the role checks a server's TLS chain under them
 * must pass. GnuTLS verifies the chain (libcurl asks it to), but it knows nothing of RSP roles,
 * and GnuTLS 3.7 does not enforce an EUM's GSMA-style name constraint: without this check a
 * TLS certificate issued by any EUM (or made with a DPauth key) would pass for any host. */
typedef struct _EsimdTlsProfile EsimdTlsProfile;

/* @ci_pem: the CI certificates (PEM), or NULL when the eUICC trusts none that is installed. */
EsimdTlsProfile *esimd_tls_profile_new (GBytes *ci_pem, GError **error);
void esimd_tls_profile_free (EsimdTlsProfile *profile);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdTlsProfile, esimd_tls_profile_free)

/* Judges the certificate chain a server sent (@chain[0] the leaf, DER), which GnuTLS has
 * already verified for the host name against the CI certificates plus, if configured, the
 * system CA store. A chain that ends at one of the CIs must follow SGP.22's TLS profile: the
 * leaf carries the SM-DP+ TLS or SM-DS TLS certificate policy and is issued by the CI, or by a
 * subordinate CA the CI issued that is no EUM and no eUICC. A chain that does not end at a CI
 * was accepted through the system store and is judged by web PKI rules alone (GnuTLS's, and
 * the leaf's key purpose, which libcurl does not ask GnuTLS about: any chain's leaf must be
 * allowed to serve TLS). Returns FALSE with a message that says which rule failed. */
gboolean esimd_tls_profile_check (EsimdTlsProfile *profile, const gnutls_datum_t *chain,
                                  guint n_chain, GError **error);

/* Why GnuTLS would refuse @chain under the CIs alone (its own words, and the leaf's issuer
 * with its RSP role when the server sent it), or NULL when the CIs accept it or there is
 * nothing to say: the detail for a refusal libcurl reports as "verification failed". */
char *esimd_tls_profile_explain (EsimdTlsProfile *profile, const gnutls_datum_t *chain,
                                 guint n_chain);

G_END_DECLS
