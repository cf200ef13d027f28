/* text.h — octets as text: hex strings, strictly validated base64, and foreign text made safe. */
#pragma once

#include <glib.h>

#include "secret.h" /* LpaSecret: what lpa_text_strip() returns may be one */

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

/* Text that came from outside (a server's JSON, a card's UTF8String, a user) is made safe before
 * it reaches D-Bus (which refuses invalid UTF-8 and fails the whole message) or a log (where a
 * newline would forge a line): */
typedef enum
{
  LPA_TEXT_ONE_LINE = 0,           /* every control character is replaced */
  LPA_TEXT_KEEP_NEWLINES = 1 << 0, /* '\n' and '\t' stay (esimd's own multi-line messages) */
} LpaTextFlags;

/* A copy of @len bytes of @text (-1: up to its NUL) as valid UTF-8: each invalid sequence (a
 * lone surrogate from a JSON escape such as \udc80, a stray byte) and each control character
 * (C0, DEL, C1; see @flags) becomes U+FFFD. With @max_bytes > 0 the result is cut, at a character
 * boundary, to at most @max_bytes bytes followed by "…". NULL gives NULL. */
char *lpa_text_sanitize (const char *text, gssize len, gsize max_bytes, LpaTextFlags flags);

/* TRUE when @text (@len bytes, -1: up to its NUL) is valid UTF-8 without any character
 * lpa_text_sanitize() would replace: text that may go out as it is. */
gboolean lpa_text_is_clean (const char *text, gssize len, LpaTextFlags flags);

/* A copy of @text without the white space around it (Unicode white space, such as the newline
 * or the no-break space a paste from an e-mail brings, and byte order marks): what a person
 * typed or pasted as a code or a token, the way esimctl and esimd both read it. Text that is not
 * valid UTF-8 is copied as it is (the caller's check refuses it). NULL gives NULL. The copy may
 * hold a secret: the caller wipes it. */
char *lpa_text_strip (const char *text);

G_END_DECLS
