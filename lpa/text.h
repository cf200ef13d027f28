/* text.h — octets as text: hex strings and strictly validated base64. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Upper-case hex of @len bytes. */
char *lpa_hex_encode (const guint8 *data, gsize len);
char *lpa_hex_encode_bytes (GBytes *bytes);

/* Decodes a hex string (either case, even length, no separators). NULL with
 * LPA_ERROR_MALFORMED otherwise. */
GBytes *lpa_hex_decode (const char *hex, GError **error);

/* Standard base64 (RFC 4648, padded, no line breaks). */
char *lpa_base64_encode (GBytes *bytes);

/* Decodes base64 from a peer: whitespace anywhere is removed first (servers wrap lines), then the
 * text must be canonical padded base64 (length a multiple of 4, alphabet A-Z a-z 0-9 + /, padding
 * only at the end, unused bits zero), else LPA_ERROR_MALFORMED naming @what. */
GBytes *lpa_base64_decode (const char *text, const char *what, GError **error);

G_END_DECLS
