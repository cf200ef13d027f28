/* unit-support.c — what the liblpa unit tests share: hex vectors, an asynchronous pump, and
 * scripted APDU and HTTP transports that never call back synchronously. */
#include "unit-support.h"

#include <string.h>

GBytes *
unit_hex (const char *hex)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  gint hi = -1;

  for (const char *p = hex; *p; p++)
    {
      gint d;

      if (g_ascii_isspace (*p))
        continue;
      d = g_ascii_xdigit_value (*p);
      g_assert_cmpint (d, >=, 0);
      if (hi < 0)
        hi = d;
      else
        {
          guint8 b = (guint8) (hi << 4 | d);
          g_byte_array_append (out, &b, 1);
          hi = -1;
        }
    }
  g_assert_cmpint (hi, ==, -1);
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

void
unit_assert_hex_impl (GBytes *bytes, const char *hex, const char *where)
{
  g_autoptr (GBytes) expected = unit_hex (hex);
  g_autofree char *got = NULL;
  g_autofree char *want = NULL;

  g_assert_nonnull (bytes);
  if (g_bytes_equal (bytes, expected))
    return;
  got = lpa_hex_encode_bytes (bytes);
  want = lpa_hex_encode_bytes (expected);
  g_error ("%s: bytes differ\n  got  %s\n  want %s", where, got, want);
}

void
unit_assert_error_impl (const GError *error, gint code, const char *fragment, const char *where)
{
  if (error == NULL)
    g_error ("%s: no error, expected %s", where, lpa_error_code_name ((LpaError) code));
  if (error->domain != LPA_ERROR || error->code != code)
    g_error ("%s: error \"%s\" (%s), expected %s", where, error->message,
             error->domain == LPA_ERROR ? lpa_error_code_name ((LpaError) error->code) : "other",
             lpa_error_code_name ((LpaError) code));
  if (fragment && !strstr (error->message, fragment))
    g_error ("%s: \"%s\" lacks \"%s\"", where, error->message, fragment);
}

void
unit_check_truncations (UnitParseFunc parse, GBytes *valid)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (valid, &len);

  for (gsize n = 0; n < len; n++)
    {
      g_autoptr (GBytes) prefix = g_bytes_new (data, n);
      g_autoptr (GError) error = NULL;

      if (parse (prefix, &error))
        g_error ("a %" G_GSIZE_FORMAT "-byte prefix of a %" G_GSIZE_FORMAT
                 "-byte input was accepted",
                 n, len);
      g_assert_nonnull (error);
      g_assert_true (error->domain == LPA_ERROR);
    }
}

static void
check_one (UnitParseFunc parse, const guint8 *data, gsize len)
{
  g_autoptr (GBytes) input = g_bytes_new (data, len);
  g_autoptr (GError) error = NULL;

  if (!parse (input, &error))
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == LPA_ERROR);
    }
  else
    g_assert_null (error);
}

void
unit_check_mutations (UnitParseFunc parse, GBytes *valid)
{
  static const guint8 flips[] = { 0x01, 0x80, 0xFF };
  gsize len;
  const guint8 *data = g_bytes_get_data (valid, &len);
  g_autofree guint8 *copy = g_memdup2 (data, len);
  /* Every position of small inputs; about 600 positions of large ones, always the first 64. */
  gsize stride = len > 600 ? len / 600 : 1;

  for (gsize i = 0; i < len; i += (i < 64 ? 1 : stride))
    {
      for (guint f = 0; f < G_N_ELEMENTS (flips); f++)
        {
          copy[i] = data[i] ^ flips[f];
          check_one (parse, copy, len);
        }
      copy[i] = (guint8) (data[i] + 1);
      check_one (parse, copy, len);
      copy[i] = (guint8) (data[i] - 1);
      check_one (parse, copy, len);
      copy[i] = data[i];
    }
  /* Extra bytes at the end. */
  {
    g_autofree guint8 *longer = g_malloc (len + 2);
    memcpy (longer, data, len);
    longer[len] = 0x00;
    longer[len + 1] = 0x00;
    check_one (parse, longer, len + 2);
  }
}

typedef struct
{
  void (*run) (gpointer data);
  gpointer data;
} Deferred;

static GQueue deferred = G_QUEUE_INIT;

void
unit_defer (void (*run) (gpointer data), gpointer data)
{
  Deferred *d = g_new0 (Deferred, 1);

  d->run = run;
  d->data = data;
  g_queue_push_tail (&deferred, d);
}

void
unit_pump (void)
{
  Deferred *d;

  while ((d = g_queue_pop_head (&deferred)))
    {
      d->run (d->data);
      g_free (d);
    }
}

guint
unit_pending (void)
{
  return g_queue_get_length (&deferred);
}

char *
unit_shared_file (const char *relative)
{
  const char *dir = g_getenv ("ESIMD_SHARED_DIR");
  g_autofree char *path = NULL;

  if (dir == NULL || dir[0] == '\0')
    return NULL;
  path = g_build_filename (dir, relative, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    return NULL;
  return g_steal_pointer (&path);
}

/* --- APDU completions ------------------------------------------------------------------------ */

typedef struct
{
  GBytes *response;
  GError *error;
  LpaApduCallback callback;
  gpointer user_data;
} ApduCompletion;

static void
run_apdu_completion (gpointer data)
{
  ApduCompletion *c = data;

  c->callback (c->response, c->error, c->user_data);
  g_clear_pointer (&c->response, g_bytes_unref);
  g_clear_error (&c->error);
  g_free (c);
}

static void
complete_apdu (GBytes *response, GError *error, LpaApduCallback callback, gpointer user_data)
{
  ApduCompletion *c = g_new0 (ApduCompletion, 1);

  c->response = response;
  c->error = error;
  c->callback = callback;
  c->user_data = user_data;
  unit_defer (run_apdu_completion, c);
}

/* --- scripted APDU exchanges ----------------------------------------------------------------- */

typedef struct
{
  char *command;
  char *response; /* NULL = transport error */
} Exchange;

static void
exchange_free (Exchange *e)
{
  g_free (e->command);
  g_free (e->response);
  g_free (e);
}

static void
apdu_transmit (gpointer self, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  UnitApdu *apdu = self;
  Exchange *e = g_queue_pop_head (&apdu->exchanges);
  g_autofree char *got = lpa_hex_encode_bytes (command);

  g_ptr_array_add (apdu->commands, g_strdup (got));
  if (e == NULL)
    g_error ("unexpected APDU %s", got);
  if (e->command)
    {
      g_autoptr (GBytes) want = unit_hex (e->command);
      g_autofree char *want_hex = lpa_hex_encode_bytes (want);
      g_assert_cmpstr (got, ==, want_hex);
    }
  if (e->response)
    complete_apdu (unit_hex (e->response), NULL, callback, user_data);
  else
    complete_apdu (NULL, g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "scripted failure"),
                   callback, user_data);
  exchange_free (e);
}

const LpaApduOps unit_apdu_ops = { apdu_transmit };

void
unit_apdu_init (UnitApdu *apdu)
{
  g_queue_init (&apdu->exchanges);
  apdu->commands = g_ptr_array_new_with_free_func (g_free);
}

void
unit_apdu_clear (UnitApdu *apdu)
{
  g_queue_clear_full (&apdu->exchanges, (GDestroyNotify) exchange_free);
  g_clear_pointer (&apdu->commands, g_ptr_array_unref);
}

void
unit_apdu_expect (UnitApdu *apdu, const char *command_hex, const char *response_hex)
{
  Exchange *e = g_new0 (Exchange, 1);

  e->command = g_strdup (command_hex);
  e->response = g_strdup (response_hex);
  g_queue_push_tail (&apdu->exchanges, e);
}

void
unit_apdu_expect_error (UnitApdu *apdu, const char *command_hex)
{
  unit_apdu_expect (apdu, command_hex, NULL);
}

void
unit_apdu_assert_done (UnitApdu *apdu)
{
  g_assert_cmpuint (g_queue_get_length (&apdu->exchanges), ==, 0);
}

/* --- scripted eUICC -------------------------------------------------------------------------- */

static GBytes *
sw_only (guint16 sw)
{
  guint8 b[2] = { sw >> 8, sw & 0xFF };
  return g_bytes_new (b, 2);
}

static GBytes *
data_sw (const guint8 *data, gsize len, guint16 sw)
{
  GByteArray *out = g_byte_array_sized_new ((guint) len + 2);
  guint8 b[2] = { sw >> 8, sw & 0xFF };

  g_byte_array_append (out, data, (guint) len);
  g_byte_array_append (out, b, 2);
  return g_byte_array_free_to_bytes (out);
}

static GBytes *
euicc_get_response (UnitEuicc *euicc, guint le)
{
  guint want = le == 0 ? 256 : le;
  guint n = MIN (want, euicc->pending_response->len);
  GBytes *out;
  guint rest;

  if (euicc->pending_response->len == 0)
    return sw_only (0x6985);
  if (le != 0 && le > euicc->pending_response->len)
    return sw_only ((guint16) (0x6C00 | euicc->pending_response->len));
  rest = euicc->pending_response->len - n;
  out = data_sw (euicc->pending_response->data, n,
                 rest == 0 ? 0x9000 : (guint16) (0x6100 | (rest >= 256 ? 0 : rest)));
  g_byte_array_remove_range (euicc->pending_response, 0, n);
  return out;
}

static void
euicc_transmit (gpointer self, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  UnitEuicc *euicc = self;
  gsize len;
  const guint8 *apdu = g_bytes_get_data (command, &len);
  GBytes *reply = NULL;

  g_assert_cmpuint (len, >=, 5);
  if (apdu[1] == 0xC0)
    {
      g_assert_cmpuint (apdu[0], ==, lpa_apdu_cla (euicc->channel, FALSE));
      g_assert_cmpuint (len, ==, 5);
      complete_apdu (euicc_get_response (euicc, apdu[4]), NULL, callback, user_data);
      return;
    }
  g_assert_cmpuint (apdu[1], ==, 0xE2);
  g_assert_cmpuint (apdu[0], ==, lpa_apdu_cla (euicc->channel, TRUE));
  g_assert_cmpuint (apdu[3], ==, euicc->next_block);
  g_assert_true (apdu[2] == 0x11 || apdu[2] == 0x91);
  g_assert_cmpuint (len, ==, 5 + (gsize) apdu[4]);
  g_byte_array_append (euicc->assembling, apdu + 5, apdu[4]);
  if (apdu[2] == 0x11)
    {
      euicc->next_block++;
      complete_apdu (sw_only (0x9000), NULL, callback, user_data);
      return;
    }

  {
    g_autoptr (GBytes) request = g_bytes_new (euicc->assembling->data, euicc->assembling->len);
    UnitEuiccReply r;

    g_byte_array_set_size (euicc->assembling, 0);
    euicc->next_block = 0;
    g_ptr_array_add (euicc->requests, g_bytes_ref (request));
    r = euicc->handler (request, euicc->user_data);
    if (r.transport_error)
      {
        g_clear_pointer (&r.data, g_bytes_unref);
        complete_apdu (NULL,
                       g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "scripted failure"),
                       callback, user_data);
        return;
      }
    if (r.sw != 0 && r.sw != 0x9000)
      reply = sw_only (r.sw);
    else if (r.data && euicc->get_response && g_bytes_get_size (r.data) > 0)
      {
        gsize n = g_bytes_get_size (r.data);
        g_byte_array_set_size (euicc->pending_response, 0);
        g_byte_array_append (euicc->pending_response, g_bytes_get_data (r.data, NULL), (guint) n);
        reply = sw_only ((guint16) (0x6100 | (n >= 256 ? 0 : n)));
      }
    else if (r.data)
      reply = data_sw (g_bytes_get_data (r.data, NULL), g_bytes_get_size (r.data), 0x9000);
    else
      reply = sw_only (0x9000);
    g_clear_pointer (&r.data, g_bytes_unref);
    complete_apdu (reply, NULL, callback, user_data);
  }
}

const LpaApduOps unit_euicc_ops = { euicc_transmit };

void
unit_euicc_init (UnitEuicc *euicc, guint channel, UnitEuiccHandler handler, gpointer user_data)
{
  memset (euicc, 0, sizeof *euicc);
  euicc->channel = channel;
  euicc->handler = handler;
  euicc->user_data = user_data;
  euicc->assembling = g_byte_array_new ();
  euicc->pending_response = g_byte_array_new ();
  euicc->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

void
unit_euicc_clear (UnitEuicc *euicc)
{
  g_clear_pointer (&euicc->assembling, g_byte_array_unref);
  g_clear_pointer (&euicc->pending_response, g_byte_array_unref);
  g_clear_pointer (&euicc->requests, g_ptr_array_unref);
}

/* --- scripted HTTP --------------------------------------------------------------------------- */

typedef struct
{
  guint status;
  GBytes *body;
  GError *error;
  LpaHttpCallback callback;
  gpointer user_data;
} HttpCompletion;

static void
run_http_completion (gpointer data)
{
  HttpCompletion *c = data;

  c->callback (c->status, c->body, c->error, c->user_data);
  g_clear_pointer (&c->body, g_bytes_unref);
  g_clear_error (&c->error);
  g_free (c);
}

static void
http_request_free (UnitHttpRequest *r)
{
  g_free (r->host);
  g_free (r->path);
  g_bytes_unref (r->body);
  g_free (r);
}

static void
http_post (gpointer self, const char *host, const char *path, GBytes *body,
           LpaHttpCallback callback, gpointer user_data)
{
  UnitHttp *http = self;
  UnitHttpRequest *r = g_new0 (UnitHttpRequest, 1);
  HttpCompletion *c = g_new0 (HttpCompletion, 1);
  UnitHttpReply reply;

  r->host = g_strdup (host);
  r->path = g_strdup (path);
  r->body = g_bytes_ref (body);
  g_ptr_array_add (http->requests, r);
  reply = http->handler (host, path, body, http->user_data);
  c->callback = callback;
  c->user_data = user_data;
  if (reply.error)
    {
      c->error = g_error_new_literal (LPA_ERROR, LPA_ERROR_NETWORK, "scripted network failure");
      g_clear_pointer (&reply.body, g_bytes_unref);
    }
  else
    {
      c->status = reply.status;
      c->body = reply.body ? reply.body : g_bytes_new (NULL, 0);
    }
  unit_defer (run_http_completion, c);
}

const LpaHttpOps unit_http_ops = { http_post };

void
unit_http_init (UnitHttp *http, UnitHttpHandler handler, gpointer user_data)
{
  http->handler = handler;
  http->user_data = user_data;
  http->requests = g_ptr_array_new_with_free_func ((GDestroyNotify) http_request_free);
}

void
unit_http_clear (UnitHttp *http)
{
  g_clear_pointer (&http->requests, g_ptr_array_unref);
}

GBytes *
unit_json_success (const char *members)
{
  char *s = g_strdup_printf (
      "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Executed-Success\"}}%s%s}",
      members ? "," : "", members ? members : "");
  return g_bytes_new_take (s, strlen (s));
}

GBytes *
unit_json_failed (const char *subject, const char *reason, const char *message)
{
  char *s = g_strdup_printf (
      "{\"header\":{\"functionExecutionStatus\":{\"status\":\"Failed\",\"statusCodeData\":"
      "{\"subjectCode\":\"%s\",\"reasonCode\":\"%s\",\"message\":\"%s\"}}}}",
      subject, reason, message ? message : "");
  return g_bytes_new_take (s, strlen (s));
}
