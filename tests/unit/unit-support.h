/* unit-support.h — what the liblpa unit tests share: hex vectors, an asynchronous pump, and
 * scripted APDU and HTTP transports that never call back synchronously. */
#pragma once

#include <glib.h>

#include "lpa.h"

G_BEGIN_DECLS

/* Bytes from hex text; spaces and newlines are ignored. Aborts the test on bad hex. */
GBytes *unit_hex (const char *hex);
/* Asserts @bytes equals @hex byte for byte. */
#define unit_assert_hex(bytes, hex) unit_assert_hex_impl ((bytes), (hex), G_STRLOC)
void unit_assert_hex_impl (GBytes *bytes, const char *hex, const char *where);

/* Asserts @error is @code in LPA_ERROR and, unless @fragment is NULL, that its message contains
 * @fragment. */
#define unit_assert_error(error, code, fragment)                                                   \
  unit_assert_error_impl ((error), (code), (fragment), G_STRLOC)
void unit_assert_error_impl (const GError *error, gint code, const char *fragment,
                             const char *where);

/* Every parser gets every truncated prefix of a valid input and bit-flipped / length-bumped
 * variants; @parse must return FALSE with an error (or TRUE for mutations that still decode)
 * and never crash. For prefixes, @parse must fail. */
typedef gboolean (*UnitParseFunc) (GBytes *input, GError **error);
void unit_check_truncations (UnitParseFunc parse, GBytes *valid);
void unit_check_mutations (UnitParseFunc parse, GBytes *valid);

/* Deferred calls: transports queue their completions here; unit_pump() runs them (and whatever
 * they queue) until none is left. */
void unit_defer (void (*run) (gpointer data), gpointer data);
void unit_pump (void);
guint unit_pending (void);

/* The path of a file in the reference material, or NULL when ESIMD_SHARED_DIR is unset or the
 * file is missing (tests then skip that case). */
char *unit_shared_file (const char *relative);

/* A scripted APDU transport: each exchange is the expected command (hex, NULL = anything) and the
 * response (hex including SW) or a transport error. Commands are recorded as hex. */
typedef struct
{
  GQueue exchanges;
  GPtrArray *commands;
} UnitApdu;

extern const LpaApduOps unit_apdu_ops;
void unit_apdu_init (UnitApdu *apdu);
void unit_apdu_clear (UnitApdu *apdu);
void unit_apdu_expect (UnitApdu *apdu, const char *command_hex, const char *response_hex);
void unit_apdu_expect_error (UnitApdu *apdu, const char *command_hex);
void unit_apdu_assert_done (UnitApdu *apdu);

/* A scripted eUICC on top of the APDU transport: reassembles STORE DATA sequences (checking CLA,
 * P1 and P2) into ES10 requests and answers each through @handler. */
typedef struct
{
  GBytes *data; /* response TLV(s), NULL = none */
  guint16 sw;   /* 0 = 9000 */
  gboolean transport_error;
} UnitEuiccReply;

typedef UnitEuiccReply (*UnitEuiccHandler) (GBytes *request, gpointer user_data);

typedef struct
{
  guint channel;
  UnitEuiccHandler handler;
  gpointer user_data;
  gboolean get_response; /* answer with 61xx and serve the data through GET RESPONSE */
  GByteArray *assembling;
  guint next_block;
  GByteArray *pending_response;
  GPtrArray *requests; /* GBytes of each complete ES10 request */
} UnitEuicc;

extern const LpaApduOps unit_euicc_ops;
void unit_euicc_init (UnitEuicc *euicc, guint channel, UnitEuiccHandler handler,
                      gpointer user_data);
void unit_euicc_clear (UnitEuicc *euicc);

/* A scripted HTTP server: @handler answers each POST. Requests are recorded. */
typedef struct
{
  guint status;
  GBytes *body;
  gboolean error; /* transport error (LPA_ERROR_NETWORK) instead of a response */
} UnitHttpReply;

typedef UnitHttpReply (*UnitHttpHandler) (const char *host, const char *path, GBytes *body,
                                          gpointer user_data);

typedef struct
{
  char *host;
  char *path;
  GBytes *body;
} UnitHttpRequest;

typedef struct
{
  UnitHttpHandler handler;
  gpointer user_data;
  GPtrArray *requests; /* UnitHttpRequest */
} UnitHttp;

extern const LpaHttpOps unit_http_ops;
void unit_http_init (UnitHttp *http, UnitHttpHandler handler, gpointer user_data);
void unit_http_clear (UnitHttp *http);

/* A JSON ES9+ response: {"header":{"functionExecutionStatus":{"status":"Executed-Success"}}}
 * plus @members, a JSON fragment (may be NULL), e.g. "\"transactionId\":\"01\"". */
GBytes *unit_json_success (const char *members);
GBytes *unit_json_failed (const char *subject, const char *reason, const char *message);

G_END_DECLS
