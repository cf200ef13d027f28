/* cert.h — the X.509 facts an LPA checks itself: the SM-DP+ OID in a server certificate. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The registeredID of the subjectAltName of a DER certificate (CERT.DPauth / CERT.DPpb carry the
 * SM-DP+ OID there), dotted decimal; NULL with LPA_ERROR_MALFORMED if the certificate does not
 * decode, or LPA_ERROR_UNEXPECTED if it has no registeredID. */
char *lpa_certificate_registered_id (GBytes *certificate, GError **error);

G_END_DECLS
