/* test-secrets.c — matching IDs and confirmation codes are wiped before the memory that held them
 * goes back to the allocator: by secret.h's helpers, and by every liblpa object that holds a copy
 * (the activation code, ctxParams1, the AuthenticateServer request, the eUICC's answer, the JSON
 * that carries it to the SM-DP+, hashCc's inputs, the download).
 *
 * How: this program replaces malloc()/free()/realloc() (glibc's own allocator does the work; a
 * program's definitions take precedence over libc's for every library it loads, GLib included).
 * While a case runs, free() looks through the whole block it is given for the secrets, as bytes,
 * as hex and as base64 at each of the three alignments, and counts each block that still holds
 * one; realloc() always moves the block and frees the old one the same way, since glibc's
 * realloc() would free it unseen. Each case first frees an unwiped copy and checks it is
 * counted: under a tool that brings its own allocator (valgrind) the cases skip themselves
 * rather than pass without looking. */
#include <malloc.h>
#include <string.h>

#include "at-parser.h"
#include "pcsc-apdu.h"
#include "unit-support.h"

#define MATCHING_ID "MID-SECRET-5c1f9a"
#define CODE        "CC-SECRET-7d2e"

extern void *__libc_malloc (size_t size);
extern void *__libc_calloc (size_t n, size_t size);
extern void *__libc_realloc (void *p, size_t size);
extern void __libc_free (void *p);

#define MAX_PATTERNS 16
static struct
{
  guint8 data[64];
  size_t len;
} patterns[MAX_PATTERNS];
static guint n_patterns;
static volatile gboolean scanning;
static volatile guint unwiped; /* blocks freed while they held a secret */

static void
scan (void *p)
{
  size_t size;

  if (!scanning || p == NULL)
    return;
  size = malloc_usable_size (p);
  for (guint i = 0; i < n_patterns; i++)
    if (memmem (p, size, patterns[i].data, patterns[i].len))
      {
        unwiped++;
        return;
      }
}

void *
malloc (size_t size)
{
  return __libc_malloc (size);
}

void *
calloc (size_t n, size_t size)
{
  return __libc_calloc (n, size);
}

void
free (void *p)
{
  scan (p);
  __libc_free (p);
}

void *
realloc (void *p, size_t size)
{
  void *moved;
  size_t old;

  if (p == NULL)
    return __libc_malloc (size);
  if (size == 0)
    {
      free (p);
      return NULL;
    }
  moved = __libc_malloc (size);
  if (moved == NULL)
    return NULL;
  old = malloc_usable_size (p);
  memcpy (moved, p, MIN (old, size));
  free (p);
  return moved;
}

static void
add_pattern (const void *data, size_t len)
{
  g_assert_cmpuint (n_patterns, <, MAX_PATTERNS);
  g_assert_cmpuint (len, <=, sizeof patterns[0].data);
  memcpy (patterns[n_patterns].data, data, len);
  patterns[n_patterns].len = len;
  n_patterns++;
}

/* @secret as it is, in hex (both cases), and the part of its base64 encoding that does not depend
 * on its neighbours, for each of the three offsets modulo 3 it may sit at. */
static void
add_secret (const char *secret)
{
  size_t len = strlen (secret);
  g_autofree char *upper = NULL, *lower = NULL;
  GString *hex = g_string_new (NULL);

  add_pattern (secret, len);
  for (size_t i = 0; i < len; i++)
    g_string_append_printf (hex, "%02X", (guchar) secret[i]);
  upper = g_string_free (hex, FALSE);
  lower = g_ascii_strdown (upper, -1);
  add_pattern (upper, strlen (upper));
  add_pattern (lower, strlen (lower));
  for (size_t shift = 0; shift < 3; shift++)
    {
      g_autofree guint8 *shifted = g_malloc0 (shift + len);
      g_autofree char *b64 = NULL;
      size_t from = shift ? 4 : 0, to = (shift + len) / 3 * 4;

      memcpy (shifted + shift, secret, len);
      b64 = g_base64_encode (shifted, shift + len);
      add_pattern (b64 + from, to - from);
    }
}

/* Starts looking, after checking that looking works: FALSE (the case skips) when it does not. */
static gboolean
watch (void)
{
  char *control = g_strdup ("control: " MATCHING_ID);

  unwiped = 0;
  scanning = TRUE;
  g_free (control);
  if (unwiped != 1)
    {
      scanning = FALSE;
      g_test_skip ("free() is not this program's (valgrind?): nothing would be seen");
      return FALSE;
    }
  unwiped = 0;
  return TRUE;
}

/* Stops looking; the number of blocks freed meanwhile with a secret in them. */
static guint
unwatch (void)
{
  scanning = FALSE;
  return unwiped;
}

/* The scanner itself: a GString that grows leaves its old block behind, even when the string is
 * wiped at the end. What the liblpa cases below would count if their owners did the same. */
static void
test_scanner (void)
{
  GString *s;

  if (!watch ())
    return;
  s = g_string_new (MATCHING_ID);
  for (guint i = 0; i < 64; i++)
    g_string_append (s, " and more");
  lpa_secret_free (g_string_free (s, FALSE));
  g_assert_cmpuint (unwatch (), >=, 1);
}

static void
test_helpers (void)
{
  GByteArray *array;
  gsize cap = 4;
  g_auto (LpaSecretStrv) fields = NULL;
  g_autoptr (LpaSecret) code = g_strdup (CODE);
  GBytes *bytes;

  if (!watch ())
    return;
  lpa_secret_free (g_strdup (MATCHING_ID));
  g_bytes_unref (lpa_secret_bytes_new (CODE, strlen (CODE)));
  bytes = lpa_secret_bytes_new (MATCHING_ID, strlen (MATCHING_ID));
  /* A slice keeps the whole: the wipe comes with the last reference. */
  {
    GBytes *slice = g_bytes_new_from_bytes (bytes, 1, 5);

    g_bytes_unref (bytes);
    g_bytes_unref (slice);
  }
  array = lpa_secret_byte_array_new (cap);
  for (guint i = 0; i < 40; i++)
    {
      lpa_secret_byte_array_reserve (&array, &cap, strlen (MATCHING_ID));
      g_byte_array_append (array, (const guint8 *) MATCHING_ID, strlen (MATCHING_ID));
    }
  g_bytes_unref (lpa_secret_byte_array_free_to_bytes (array));
  array = lpa_secret_byte_array_new (16);
  g_byte_array_append (array, (const guint8 *) CODE, strlen (CODE));
  lpa_secret_byte_array_free (array);
  fields = g_strsplit ("1$" MATCHING_ID "$" CODE, "$", -1);
  g_clear_pointer (&fields, lpa_secret_strv_free);
  g_clear_pointer (&code, lpa_secret_free);
  g_assert_cmpuint (unwatch (), ==, 0);
}

static void
test_activation_code (void)
{
  if (!watch ())
    return;
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (LpaActivationCode) ac =
        lpa_activation_code_parse ("  LPA:1$smdp.example.com$" MATCHING_ID "$2.999.10$1\n", &error);
    g_autoptr (LpaSecret) text = NULL;

    g_assert_no_error (error);
    g_assert_cmpstr (ac->matching_id, ==, MATCHING_ID);
    text = lpa_activation_code_to_string (ac, TRUE, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (text, ==, "LPA:1$smdp.example.com$" MATCHING_ID "$2.999.10$1");
  }
  /* A code refused after it was split holds the matching ID as well. */
  {
    g_autoptr (GError) error = NULL;

    g_assert_null (lpa_activation_code_parse ("LPA:1$smdp.example.com$" MATCHING_ID "$x", &error));
    g_assert_nonnull (error);
  }
  g_assert_cmpuint (unwatch (), ==, 0);
}

/* A TLV of @tag whose value is @len bytes of @fill. */
static GBytes *
tlv (guint32 tag, gsize len, guint8 fill)
{
  g_auto (LpaDerWriter) w = { 0 };
  g_autofree guint8 *value = g_malloc (len);

  memset (value, fill, len);
  lpa_der_writer_init (&w);
  lpa_der_write (&w, tag, value, len);
  return lpa_der_writer_finish (&w);
}

static void
test_der (void)
{
  if (!watch ())
    return;
  {
    LpaCtxParams1 params = { .matching_id = MATCHING_ID, .imei = "352906112345678" };
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) ctx = lpa_es10b_ctx_params1 (&params, &error);
    g_autoptr (GBytes) signed1 = tlv (0x30, 100, 1);
    g_autoptr (GBytes) signature1 = tlv (0x5F37, 64, 2);
    g_autoptr (GBytes) pkid = tlv (0x04, 20, 3);
    g_autoptr (GBytes) cert = tlv (0x30, 1500, 4); /* the writer grows past its first block */
    g_autoptr (GBytes) request = NULL;

    g_assert_no_error (error);
    request = lpa_es10b_authenticate_server_request (signed1, signature1, pkid, cert, ctx, &error);
    g_assert_no_error (error);
    g_assert_nonnull (memmem (g_bytes_get_data (request, NULL), g_bytes_get_size (request),
                              MATCHING_ID, strlen (MATCHING_ID)));
  }
  /* hashCc: the code, and SHA-256 of it (add_secret() made it a secret too), are gone. */
  {
    g_autoptr (GBytes) tid = unit_hex ("0102030405060708090A0B0C0D0E0F10");
    guint8 hash[32];

    lpa_hash_cc (CODE, tid, hash);
  }
  g_assert_cmpuint (unwatch (), ==, 0);
}

static void
test_es9p (void)
{
  if (!watch ())
    return;
  /* The eUICC's AuthenticateServer answer carries ctxParams1: the JSON carries it in base64. */
  for (guint shift = 0; shift < 3; shift++)
    {
      g_autofree guint8 *answer = g_malloc0 (40 + shift);
      g_autoptr (GBytes) response = NULL;
      g_autoptr (GBytes) body = NULL;
      g_autoptr (JsonParser) parser = json_parser_new ();

      memcpy (answer + 8 + shift, MATCHING_ID, strlen (MATCHING_ID));
      response = lpa_secret_bytes_new (answer, 40 + shift);
      lpa_secret_wipe (answer, 40 + shift);
      body = lpa_es9p_authenticate_client_request ("0A\"1B\n", response);
      /* Still JSON: the transaction ID escaped, the value in base64. The parser's copies are
       * this test's, not liblpa's. */
      scanning = FALSE;
      g_assert_true (json_parser_load_from_data (parser, g_bytes_get_data (body, NULL),
                                                 (gssize) g_bytes_get_size (body), NULL));
      g_assert_cmpstr (json_object_get_string_member (
                           json_node_get_object (json_parser_get_root (parser)), "transactionId"),
                       ==, "0A\"1B\n");
      g_clear_object (&parser);
      scanning = TRUE;
    }
  g_assert_cmpuint (unwatch (), ==, 0);
}

/* An eUICC that answers every command in two parts (61xx, then GET RESPONSE), each with the
 * matching ID in it, as AuthenticateServer's answer does; what it makes is wiped when freed. */
typedef struct
{
  GBytes *command;
  LpaApduCallback callback;
  gpointer user_data;
  guint commands;
} Card;

static void
card_answer (gpointer data)
{
  Card *card = data;
  const guint8 *apdu = g_bytes_get_data (card->command, NULL);
  gboolean get_response = apdu[1] == 0xC0;
  GByteArray *answer = lpa_secret_byte_array_new (1024); /* never grown */
  g_autoptr (GBytes) response = NULL;
  LpaApduCallback callback = card->callback;

  gboolean last_block = get_response || (apdu[2] & 0x80);

  for (guint i = 0; last_block && i < 20; i++)
    g_byte_array_append (answer, (const guint8 *) MATCHING_ID, strlen (MATCHING_ID));
  g_byte_array_append (answer,
                       (const guint8 *) (get_response || !last_block ? "\x90\x00" : "\x61\x00"), 2);
  response = lpa_secret_bytes_new (answer->data, answer->len);
  lpa_secret_byte_array_free (answer);
  g_clear_pointer (&card->command, g_bytes_unref);
  callback (response, NULL, card->user_data);
}

static void
card_transmit (gpointer self, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  Card *card = self;

  card->commands++;
  card->command = g_bytes_ref (command);
  card->callback = callback;
  card->user_data = user_data;
  unit_defer (card_answer, card);
}

static const LpaApduOps card_ops = { card_transmit };

static void
on_es10 (GBytes *response, const GError *error, gpointer user_data)
{
  GBytes **out = user_data;

  g_assert_no_error (error);
  *out = g_bytes_ref (response);
}

static void
test_es10 (void)
{
  Card card = { 0 };

  if (!watch ())
    return;
  {
    g_autoptr (LpaEs10) es10 = lpa_es10_new (&card_ops, &card, 1);
    g_autoptr (GBytes) request = NULL;
    g_autoptr (GBytes) response = NULL;
    g_autoptr (GError) error = NULL;
    LpaCtxParams1 params = { .matching_id = MATCHING_ID };
    g_autoptr (GBytes) ctx = lpa_es10b_ctx_params1 (&params, &error);
    g_autoptr (GBytes) cert = tlv (0x30, 600, 4); /* a request of three STORE DATA blocks */
    g_auto (LpaDerWriter) w = { 0 };

    lpa_der_writer_init (&w);
    lpa_der_writer_begin (&w, 0xBF38);
    lpa_der_write_raw_bytes (&w, cert);
    lpa_der_write_raw_bytes (&w, ctx);
    lpa_der_writer_end (&w);
    request = lpa_der_writer_finish (&w);
    g_assert_true (lpa_es10_call (es10, request, on_es10, &response, &error));
    g_assert_no_error (error);
    unit_pump ();
    g_assert_nonnull (response);
    g_assert_cmpuint (card.commands, >=, 4);
    g_assert_cmpuint (g_bytes_get_size (response), ==, 2 * 20 * strlen (MATCHING_ID));
  }
  g_assert_cmpuint (unwatch (), ==, 0);
}

static void
on_finished (gpointer user_data, const LpaDownloadResult *result, const GError *error)
{
  gboolean *finished = user_data;

  g_assert_nonnull (error);
  *finished = TRUE;
}

static void
test_download (void)
{
  if (!watch ())
    return;
  {
    static const LpaDownloadCallbacks callbacks = { .finished = on_finished };
    Card card = { 0 };
    UnitHttp http;
    g_autoptr (LpaEs10) es10 = lpa_es10_new (&card_ops, &card, 1);
    LpaDownloadParams p = { 0 };
    g_autoptr (GError) error = NULL;
    LpaDownload *d;
    gboolean finished = FALSE;

    unit_http_init (&http, NULL, NULL);
    p.smdp_address = "smdp.example.com";
    p.matching_id = MATCHING_ID;
    p.confirmation_code = CODE;
    d = lpa_download_new (&p, es10, &unit_http_ops, &http, &callbacks, &finished, &error);
    g_assert_no_error (error);
    /* It authenticates with what it copied: the card's garbage answer to GetEUICCChallenge ends
     * it. */
    lpa_download_start (d);
    unit_pump ();
    g_assert_true (finished);
    lpa_download_free (d);
    unit_http_clear (&http);
  }
  g_assert_cmpuint (unwatch (), ==, 0);
}

/* The daemon's PC/SC transport resolves 61xx/6Cxx itself (daemon/pcsc-apdu.c): the command and
 * every answer it gathers are wiped as liblpa's are. */
static void
test_pcsc (void)
{
  if (!watch ())
    return;
  {
    GByteArray *apdu = lpa_secret_byte_array_new (5 + strlen (MATCHING_ID));
    g_autoptr (GError) error = NULL;
    g_autoptr (EsimdT0) t0 = NULL;
    guint8 answer[2 + 20 * 17];
    gsize n = 0, len;

    g_byte_array_append (apdu, (const guint8 *) "\x81\xE2\x91\x00", 4);
    g_byte_array_append (apdu, (const guint8[]){ (guint8) strlen (MATCHING_ID) }, 1);
    g_byte_array_append (apdu, (const guint8 *) MATCHING_ID, strlen (MATCHING_ID));
    t0 = esimd_t0_new (apdu->data, apdu->len, &error);
    g_assert_no_error (error);
    lpa_secret_byte_array_free (apdu);
    /* The answer in three parts: 61xx, 61xx, 9000, each with the matching ID in it. */
    for (guint part = 0; part < 3; part++)
      {
        esimd_t0_command (t0, &len);
        n = 0;
        for (guint i = 0; i < 20; i++, n += strlen (MATCHING_ID))
          memcpy (answer + n, MATCHING_ID, strlen (MATCHING_ID));
        answer[n++] = part < 2 ? 0x61 : 0x90;
        answer[n++] = 0x00;
        g_assert_cmpint (esimd_t0_feed (t0, answer, n, &error), ==,
                         part < 2 ? ESIMD_T0_SEND : ESIMD_T0_DONE);
        g_assert_no_error (error);
      }
    lpa_secret_wipe (answer, sizeof answer);
    g_assert_cmpuint (g_bytes_get_size (esimd_t0_response (t0)), ==,
                      3 * 20 * strlen (MATCHING_ID) + 2);
  }
  g_assert_cmpuint (unwatch (), ==, 0);
}

/* The AT transport sends an APDU as hex in a command line and reads the answer as hex in lines
 * (daemon/at-parser.c): the line, the reader's buffer and lines, the response and the decoded
 * answer are wiped. The answer comes in several reads, as a UART delivers it. */
static void
test_at (void)
{
  if (!watch ())
    return;
  {
    g_autoptr (GBytes) apdu = NULL;
    g_autoptr (LpaSecret) line = NULL;
    g_autoptr (LpaSecret) answer = NULL;
    g_autoptr (GError) error = NULL;
    g_autoptr (GBytes) rapdu = NULL;
    GString *hex = g_string_sized_new (2 * 20 * strlen (MATCHING_ID) + 8);
    EsimdAtReader *reader = esimd_at_reader_new ();
    EsimdAtResponse *r = NULL;
    char *l;
    gsize len;

    {
      GByteArray *a = lpa_secret_byte_array_new (5 + strlen (MATCHING_ID));

      g_byte_array_append (a, (const guint8 *) "\x81\xE2\x91\x00", 4);
      g_byte_array_append (a, (const guint8[]){ (guint8) strlen (MATCHING_ID) }, 1);
      g_byte_array_append (a, (const guint8 *) MATCHING_ID, strlen (MATCHING_ID));
      apdu = lpa_secret_byte_array_free_to_bytes (a);
    }
    line = esimd_at_format_apdu ("1", apdu);
    r = esimd_at_response_new (line, "+CGLA:", TRUE);
    for (guint i = 0; i < 20; i++)
      for (const char *p = MATCHING_ID; *p; p++)
        g_string_append_printf (hex, "%02X", (guchar) *p);
    g_string_append (hex, "9000");
    {
      /* The card's side: written in place, not through printf (whose buffer grows). */
      GString *text = g_string_sized_new (hex->len + 64);
      char digits[24];

      g_snprintf (digits, sizeof digits, "%" G_GSIZE_FORMAT, hex->len);
      g_string_append (text, "\r\n+CGLA: ");
      g_string_append (text, digits);
      g_string_append (text, ",\"");
      g_string_append_len (text, hex->str, (gssize) hex->len);
      g_string_append (text, "\"\r\n\r\nOK\r\n");
      answer = g_string_free (text, FALSE);
    }
    lpa_secret_wipe (hex->str, hex->len);
    g_string_free (hex, TRUE);
    len = strlen (answer);
    for (gsize off = 0; off < len; off += 97)
      g_assert_true (esimd_at_reader_feed (reader, (const guint8 *) answer + off,
                                           MIN (97, len - off), &error));
    while ((l = esimd_at_reader_next_line (reader)))
      {
        esimd_at_response_add_line (r, l);
        lpa_secret_free (l);
      }
    rapdu = esimd_at_response_apdu (r, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (g_bytes_get_size (rapdu), ==, 20 * strlen (MATCHING_ID) + 2);
    esimd_at_response_free (r);
    esimd_at_reader_free (reader);
  }
  g_assert_cmpuint (unwatch (), ==, 0);
}

int
main (int argc, char **argv)
{
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  GChecksum *sha = g_checksum_new (G_CHECKSUM_SHA256);

  g_test_init (&argc, &argv, NULL);
  add_secret (MATCHING_ID);
  add_secret (CODE);
  g_checksum_update (sha, (const guchar *) CODE, strlen (CODE));
  g_checksum_get_digest (sha, digest, &digest_len);
  g_checksum_free (sha);
  add_pattern (digest, sizeof digest);
  g_test_add_func ("/secrets/scanner", test_scanner);
  g_test_add_func ("/secrets/helpers", test_helpers);
  g_test_add_func ("/secrets/activation-code", test_activation_code);
  g_test_add_func ("/secrets/der", test_der);
  g_test_add_func ("/secrets/es9p", test_es9p);
  g_test_add_func ("/secrets/es10", test_es10);
  g_test_add_func ("/secrets/download", test_download);
  g_test_add_func ("/secrets/pcsc", test_pcsc);
  g_test_add_func ("/secrets/at", test_at);
  return g_test_run ();
}
