/* trust.h — the eSIM CI certificates esimd trusts for TLS, indexed by Subject Key Identifier. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EsimdTrust EsimdTrust;

/* Reads every certificate (PEM or DER) in @dirs; missing directories are skipped, unreadable
 * certificates are logged and skipped. */
EsimdTrust *esimd_trust_load (char **dirs, GError **error);
void esimd_trust_free (EsimdTrust *trust);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdTrust, esimd_trust_free)

guint esimd_trust_count (EsimdTrust *trust);

/* A PEM bundle of the CI certificates whose SKI is in @ci_pkids (GBytes, the eUICC's
 * euiccCiPKIdListForVerification), followed by the contents of @system_ca_file when it is not
 * NULL. *@n_matched gets the number of CI certificates taken. A server certificate under a CI
 * the eUICC would reject anyway is thereby refused at the TLS layer already. */
GBytes *esimd_trust_bundle (EsimdTrust *trust, GPtrArray *ci_pkids, const char *system_ca_file,
                            guint *n_matched, GError **error);

G_END_DECLS
