/* activation-code.h — the SGP.22 activation code ("LPA:1$address$matchingId…"). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *smdp_address; /* FQDN */
  char *matching_id;  /* possibly empty, never NULL */
  char *smdp_oid;     /* dotted decimal, NULL if not given */
  gboolean cc_required;
} LpaActivationCode;

/* Parses an activation code as scanned from a QR code ("LPA:1$…", prefix matched in any case)
 * or typed ("1$…"); surrounding whitespace is ignored. Rejected with
 * LPA_ERROR_INVALID_ACTIVATION_CODE and a message naming the rule: empty; longer than 255
 * characters (without the prefix); fewer than three fields; format other than 1; SM-DP+ address
 * empty, with a scheme, port, path or space, an IP address, or not a host name; a matching ID that breaks
 * lpa_matching_id_problem()'s rule; SM-DP+ OID not dotted decimal (or no OID X.660 allows, or an
 * arc, or the first two packed as 40 * X + Y, beyond 64 bits); confirmation-code flag other than
 * empty or 1; a control character (C0, DEL or C1) in any field. A leading byte order mark
 * (U+FEFF, which editors and some QR readers add) is ignored like whitespace. Fields after the
 * fifth are ignored (later versions add some). */
LpaActivationCode *lpa_activation_code_parse (const char *text, GError **error);

/* Builds "1$address$matchingId[$oid[$1]]" (with "LPA:" in front if @qr_prefix); the parts must
 * pass the same rules (LPA_ERROR_INVALID_ARGUMENT otherwise). */
char *lpa_activation_code_to_string (const LpaActivationCode *code, gboolean qr_prefix,
                                     GError **error);

void lpa_activation_code_free (LpaActivationCode *code);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (LpaActivationCode, lpa_activation_code_free)

/* The one rule for a matching ID, wherever it comes from (an activation code, esimd's
 * matching_id option, esimctl --matching-id, an SM-DS event ID used as one): the letters A-Z and
 * a-z, the digits 0-9 and '-', at most 255 characters; empty means none (the default SM-DP+).
 * Returns NULL when @id follows it, else the sentence every caller shows. */
const char *lpa_matching_id_problem (const char *id);

/* TRUE if @host is an FQDN as an activation code may carry it (labels of letters, digits and
 * hyphens, 1-63 characters each, at most 253 in all), and no IPv4 address in any form the
 * resolver reads as one (a top-level label of digits only, RFC 1123 2.1; 0x7f000001). */
gboolean lpa_host_name_is_valid (const char *host);

G_END_DECLS
