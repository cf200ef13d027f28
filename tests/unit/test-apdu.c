/* test-apdu.c — unit tests of the ES10 APDU layer against a scripted transport, byte for byte. */
#include "unit-support.h"

#include <stdlib.h>
#include <string.h>

typedef struct
{
  UnitApdu apdu;
  LpaEs10 *es10;
  guint calls;
  GBytes *response;
  GError *error;
  GArray *sizes; /* segment sizes reported */
} Fixture;

static void
on_size (guint size, gpointer user_data)
{
  Fixture *f = user_data;

  g_array_append_val (f->sizes, size);
}

static void
setup (Fixture *f, guint channel)
{
  memset (f, 0, sizeof *f);
  unit_apdu_init (&f->apdu);
  f->es10 = lpa_es10_new (&unit_apdu_ops, &f->apdu, channel);
  f->sizes = g_array_new (FALSE, FALSE, sizeof (guint));
  lpa_es10_set_segment_size_callback (f->es10, on_size, f);
}

static void
teardown (Fixture *f)
{
  unit_apdu_assert_done (&f->apdu);
  lpa_es10_unref (f->es10);
  unit_apdu_clear (&f->apdu);
  g_clear_pointer (&f->response, g_bytes_unref);
  g_clear_error (&f->error);
  g_array_unref (f->sizes);
}

static void
on_done (GBytes *response, const GError *error, gpointer user_data)
{
  Fixture *f = user_data;

  f->calls++;
  g_clear_pointer (&f->response, g_bytes_unref);
  g_clear_error (&f->error);
  if (response)
    f->response = g_bytes_ref (response);
  if (error)
    f->error = g_error_copy (error);
}

/* Calls ES10 with @request_hex and runs the transport until the call is done. */
static void
call (Fixture *f, const char *request_hex)
{
  g_autoptr (GBytes) request = unit_hex (request_hex);
  g_autoptr (GError) error = NULL;
  guint before = f->calls;

  g_assert_true (lpa_es10_call (f->es10, request, on_done, f, &error));
  g_assert_no_error (error);
  /* Never synchronous. */
  g_assert_cmpuint (f->calls, ==, before);
  unit_pump ();
  g_assert_cmpuint (f->calls, ==, before + 1);
}

/* A request of @len bytes: BF 2D, a length, then a counting pattern. */
static char *
request_hex (gsize len)
{
  GString *s = g_string_new (NULL);

  g_assert_cmpuint (len, >=, 5);
  g_assert_cmpuint (len, <, 65536);
  g_string_append_printf (s, "BF2D82%04X", (guint) (len - 5));
  for (gsize i = 5; i < len; i++)
    g_string_append_printf (s, "%02X", (guint) (i & 0xFF));
  return g_string_free (s, FALSE);
}

/* The STORE DATA command for bytes [@from, @from+@n) of @request (hex) as block @block. */
static char *
store_data (guint8 cla, const char *request, gsize from, gsize n, gboolean last, guint block)
{
  return g_strdup_printf ("%02X E2 %02X %02X %02X %.*s", cla, last ? 0x91 : 0x11, block, (guint) n,
                          (int) (2 * n), request + 2 * from);
}

/* digest Appendix A: GetEUICCChallenge on channel 1 as lpac #143 traced it, 61 15 then GET
 * RESPONSE (ISO class). */
static void
test_trace (void)
{
  Fixture f;

  setup (&f, 1);
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 2E 00", "61 15");
  unit_apdu_expect (&f.apdu, "01 C0 00 00 15",
                    "BF 2E 12 80 10 00112233445566778899AABBCCDDEEFF 90 00");
  call (&f, "BF 2E 00");
  g_assert_no_error (f.error);
  unit_assert_hex (f.response, "BF 2E 12 80 10 00112233445566778899AABBCCDDEEFF");
  g_assert_cmpuint (lpa_es10_get_apdus_sent (f.es10), ==, 2);
  g_assert_cmpuint (lpa_es10_get_bytes_sent (f.es10), ==, 8 + 5);
  g_assert_cmpuint (lpa_es10_get_bytes_received (f.es10), ==, 2 + 23);
  teardown (&f);
}

static void
check_chunking (guint size, gsize len)
{
  Fixture f;
  g_autofree char *req = request_hex (len);
  guint blocks = 0;

  setup (&f, 2);
  lpa_es10_set_segment_size (f.es10, size);
  for (gsize from = 0; from < len; from += size, blocks++)
    {
      gsize n = MIN (size, len - from);
      gboolean last = from + n == len;
      g_autofree char *cmd = store_data (0x82, req, from, n, last, blocks);
      unit_apdu_expect (&f.apdu, cmd, last ? "BF 31 03 80 01 00 90 00" : "90 00");
    }
  call (&f, req);
  g_assert_no_error (f.error);
  unit_assert_hex (f.response, "BF 31 03 80 01 00");
  g_assert_cmpuint (lpa_es10_get_apdus_sent (f.es10), ==, blocks);
  g_assert_cmpuint (blocks, ==, (len + size - 1) / size);
  g_assert_cmpuint (lpa_es10_get_bytes_sent (f.es10), ==, len + 5 * blocks);
  g_assert_cmpuint (f.sizes->len, ==, 0);
  teardown (&f);
}

static void
test_chunking (void)
{
  /* Odd lengths, exact multiples, one byte over, at each size of the issue. */
  check_chunking (1, 5);
  check_chunking (1, 7);
  check_chunking (63, 63);
  check_chunking (63, 127);
  check_chunking (63, 200);
  check_chunking (120, 119);
  check_chunking (120, 241);
  check_chunking (120, 301);
  check_chunking (255, 255);
  check_chunking (255, 256);
  check_chunking (255, 1021);
}

static void
test_channels (void)
{
  static const struct
  {
    guint channel;
    const char *store;
    const char *get;
  } cases[] = {
    { 0, "80", "00" }, { 1, "81", "01" }, { 3, "83", "03" },
    { 4, "C0", "40" }, { 5, "C1", "41" }, { 19, "CF", "4F" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Fixture f;
      g_autofree char *cmd = g_strdup_printf ("%s E2 91 00 03 BF 20 00", cases[i].store);
      g_autofree char *get = g_strdup_printf ("%s C0 00 00 03", cases[i].get);

      g_assert_cmphex (lpa_apdu_cla (cases[i].channel, TRUE), ==,
                       strtoul (cases[i].store, NULL, 16));
      g_assert_cmphex (lpa_apdu_cla (cases[i].channel, FALSE), ==,
                       strtoul (cases[i].get, NULL, 16));
      setup (&f, cases[i].channel);
      unit_apdu_expect (&f.apdu, cmd, "61 03");
      unit_apdu_expect (&f.apdu, get, "BF 20 00 90 00");
      call (&f, "BF 20 00");
      g_assert_no_error (f.error);
      unit_assert_hex (f.response, "BF 20 00");
      teardown (&f);
    }
}

static void
test_get_response_loop (void)
{
  Fixture f;
  g_autoptr (GString) big = g_string_new (NULL);
  g_autoptr (GString) first = g_string_new (NULL);
  g_autoptr (GString) second = g_string_new (NULL);

  for (guint i = 0; i < 256; i++)
    g_string_append_printf (first, "%02X", i);
  for (guint i = 0; i < 16; i++)
    g_string_append_printf (second, "%02X", 0xA0 + i);
  g_string_append (big, first->str);
  g_string_append (big, second->str);
  g_string_append (first, " 61 10");
  g_string_append (second, " 90 00");

  setup (&f, 1);
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 2D 00", "61 00");
  /* 61 00 announces 256 bytes: Le 00. */
  unit_apdu_expect (&f.apdu, "01 C0 00 00 00", first->str);
  unit_apdu_expect (&f.apdu, "01 C0 00 00 10", second->str);
  call (&f, "BF 2D 00");
  g_assert_no_error (f.error);
  unit_assert_hex (f.response, big->str);
  teardown (&f);
}

static void
test_wrong_le (void)
{
  Fixture f;

  /* 6Cxx on GET RESPONSE: ask again with the Le the card gives. */
  setup (&f, 1);
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 2E 00", "61 10");
  unit_apdu_expect (&f.apdu, "01 C0 00 00 10", "6C 05");
  unit_apdu_expect (&f.apdu, "01 C0 00 00 05", "BF 2E 01 AA 00 90 00");
  call (&f, "BF 2E 00");
  g_assert_no_error (f.error);
  unit_assert_hex (f.response, "BF 2E 01 AA 00");
  teardown (&f);

  /* 6Cxx on the last STORE DATA block: repeat that block with Le. */
  setup (&f, 1);
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 2E 00", "6C 04");
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 2E 00 04", "BF 2E 00 00 90 00");
  call (&f, "BF 2E 00");
  g_assert_no_error (f.error);
  unit_assert_hex (f.response, "BF 2E 00 00");
  teardown (&f);
}

static void
test_status_words (void)
{
  static const struct
  {
    const char *sw;
    guint16 value;
    const char *message;
  } cases[] = {
    { "6A 80", 0x6A80, "6A80 incorrect data" },
    { "6A 88", 0x6A88, "6A88 referenced data not found" },
    { "69 85", 0x6985, "6985 conditions of use not satisfied" },
    { "6D 00", 0x6D00, "6D00 instruction not supported" },
    { "6F 00", 0x6F00, "6F00 technical problem" },
    { "6E 00", 0x6E00, "6E00 class not supported" },
    { "62 83", 0x6283, "6283 warning, memory unchanged" },
    { "93 02", 0x9302, "9302 unknown status" },
    /* The ISO 7816-4 families, whatever their second byte (esimd said "unknown status"). */
    { "6F C6", 0x6FC6, "6FC6 technical problem" },
    { "69 99", 0x6999, "6999 command not allowed" },
    { "6A 8A", 0x6A8A, "6A8A wrong parameters" },
    { "68 84", 0x6884, "6884 command chaining not supported" },
    { "64 01", 0x6401, "6401 execution error, memory unchanged" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Fixture f;

      setup (&f, 1);
      /* A short request: stepping the segment size down would not change it. */
      unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 31 00", cases[i].sw);
      call (&f, "BF 31 00");
      g_assert_error (f.error, LPA_ERROR, LPA_ERROR_STATUS_WORD);
      g_assert_cmpstr (f.error->message, ==, cases[i].message);
      g_assert_cmphex (lpa_status_word_from_error (f.error), ==, cases[i].value);
      g_assert_null (f.response);
      teardown (&f);
    }
  {
    GError *other = g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, "6A80 lookalike");
    g_assert_cmphex (lpa_status_word_from_error (other), ==, 0);
    g_error_free (other);
  }
}

/* ETSI TS 102 221 §10.2.1.1: 91XX (a proactive command waits, as after an enable that triggers
 * a REFRESH) and 92XX end a command normally, with its data; lpac takes every 9XXX so. Own
 * vectors: a one-block EnableProfile answered 91 1A, then a two-block request whose first block
 * is acknowledged 92 00 and whose answer comes through GET RESPONSE ending 91 0B. */
static void
test_proactive_pending (void)
{
  Fixture f;
  g_autofree char *req = request_hex (8);
  g_autofree char *first = store_data (0x81, req, 0, 5, FALSE, 0);
  g_autofree char *last = store_data (0x81, req, 5, 3, TRUE, 1);

  setup (&f, 1);
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 31 00", "BF 31 03 80 01 00 91 1A");
  call (&f, "BF 31 00");
  g_assert_no_error (f.error);
  unit_assert_hex (f.response, "BF 31 03 80 01 00");
  teardown (&f);

  setup (&f, 1);
  lpa_es10_set_segment_size (f.es10, 5);
  unit_apdu_expect (&f.apdu, first, "92 00");
  unit_apdu_expect (&f.apdu, last, "61 06");
  unit_apdu_expect (&f.apdu, "01 C0 00 00 06", "BF 31 03 80 01 00 91 0B");
  call (&f, req);
  g_assert_no_error (f.error);
  unit_assert_hex (f.response, "BF 31 03 80 01 00");
  teardown (&f);
}

static void
test_intermediate_errors (void)
{
  Fixture f;
  g_autofree char *req = request_hex (130);
  g_autofree char *b0 = store_data (0x81, req, 0, 63, FALSE, 0);
  g_autofree char *b1 = store_data (0x81, req, 63, 63, FALSE, 1);

  /* An error status on a middle block ends the command there. */
  setup (&f, 1);
  lpa_es10_set_segment_size (f.es10, 63);
  unit_apdu_expect (&f.apdu, b0, "90 00");
  unit_apdu_expect (&f.apdu, b1, "69 85");
  call (&f, req);
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_STATUS_WORD);
  g_assert_cmpuint (lpa_status_word_from_error (f.error), ==, 0x6985);
  teardown (&f);

  /* Data on an intermediate block is a protocol violation. */
  setup (&f, 1);
  lpa_es10_set_segment_size (f.es10, 63);
  unit_apdu_expect (&f.apdu, b0, "AA 90 00");
  call (&f, req);
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_UNEXPECTED);
  teardown (&f);

  /* A transport failure is passed on as it came. */
  setup (&f, 1);
  lpa_es10_set_segment_size (f.es10, 63);
  unit_apdu_expect_error (&f.apdu, b0);
  call (&f, req);
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  teardown (&f);

  /* A response without a status word. */
  setup (&f, 1);
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 31 00", "90");
  call (&f, "BF 31 00");
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_MALFORMED);
  teardown (&f);
}

static void
test_step_down (void)
{
  Fixture f;
  g_autofree char *req = request_hex (300);
  g_autofree char *at255 = store_data (0x81, req, 0, 255, FALSE, 0);
  g_autofree char *a = store_data (0x81, req, 0, 120, FALSE, 0);
  g_autofree char *b = store_data (0x81, req, 120, 120, FALSE, 1);
  g_autofree char *c = store_data (0x81, req, 240, 60, TRUE, 2);
  g_autofree char *d63 = store_data (0x81, req, 0, 63, FALSE, 0);

  setup (&f, 1);
  /* 255 is refused with 6700: restart at 120 from block 0. */
  unit_apdu_expect (&f.apdu, at255, "67 00");
  unit_apdu_expect (&f.apdu, a, "90 00");
  unit_apdu_expect (&f.apdu, b, "90 00");
  unit_apdu_expect (&f.apdu, c, "BF 31 03 80 01 00 90 00");
  call (&f, req);
  g_assert_no_error (f.error);
  unit_assert_hex (f.response, "BF 31 03 80 01 00");
  g_assert_cmpuint (f.sizes->len, ==, 1);
  g_assert_cmpuint (g_array_index (f.sizes, guint, 0), ==, 120);
  g_assert_cmpuint (lpa_es10_get_segment_size (f.es10), ==, 120);

  /* The size that worked is kept for the next command. */
  unit_apdu_expect (&f.apdu, a, "90 00");
  unit_apdu_expect (&f.apdu, b, "90 00");
  unit_apdu_expect (&f.apdu, c, "BF 31 03 80 01 00 90 00");
  call (&f, req);
  g_assert_no_error (f.error);
  g_assert_cmpuint (f.sizes->len, ==, 1);

  /* 6A80 at 120 steps to 63; the failing block was the second one. */
  unit_apdu_expect (&f.apdu, a, "90 00");
  unit_apdu_expect (&f.apdu, b, "6A 80");
  for (guint i = 0; i * 63 < 300; i++)
    {
      gsize n = MIN (63, 300 - i * 63);
      gboolean last = i * 63 + n == 300;
      g_autofree char *cmd = store_data (0x81, req, i * 63, n, last, i);
      unit_apdu_expect (&f.apdu, cmd, last ? "BF 31 03 80 01 00 90 00" : "90 00");
    }
  call (&f, req);
  g_assert_no_error (f.error);
  g_assert_cmpuint (f.sizes->len, ==, 2);
  g_assert_cmpuint (g_array_index (f.sizes, guint, 1), ==, 63);

  /* At 63 there is no step left: the 6A80 is the answer. */
  unit_apdu_expect (&f.apdu, d63, "6A 80");
  call (&f, req);
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_STATUS_WORD);
  g_assert_cmpuint (f.sizes->len, ==, 2);
  teardown (&f);
}

static void
test_step_down_transport (void)
{
  Fixture f;
  g_autofree char *req = request_hex (130);
  g_autofree char *at255 = store_data (0x81, req, 0, 130, TRUE, 0);
  g_autofree char *a = store_data (0x81, req, 0, 120, FALSE, 0);
  g_autofree char *b = store_data (0x81, req, 120, 10, TRUE, 1);
  g_autofree char *small = request_hex (100);
  g_autofree char *small_cmd = store_data (0x81, small, 0, 100, TRUE, 0);

  /* A modem that chokes on long APDUs fails the transport: a 130-byte block steps down. */
  setup (&f, 1);
  unit_apdu_expect_error (&f.apdu, at255);
  unit_apdu_expect (&f.apdu, a, "90 00");
  unit_apdu_expect (&f.apdu, b, "BF 31 03 80 01 00 90 00");
  call (&f, req);
  g_assert_no_error (f.error);
  g_assert_cmpuint (lpa_es10_get_segment_size (f.es10), ==, 120);
  teardown (&f);

  /* A 100-byte block would fit the next step too: no step, the failure stands. */
  setup (&f, 1);
  unit_apdu_expect_error (&f.apdu, small_cmd);
  call (&f, small);
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  g_assert_cmpuint (lpa_es10_get_segment_size (f.es10), ==, 255);
  teardown (&f);
}

/* A step-down is only a trial until a smaller block is accepted. Own vectors: the command bytes
 * follow the framing checked in test_chunking; the cases are the failure modes seen when a
 * modem disappears mid-command (every block fails the transport) and when a command is
 * refused for its content (6A80 at every size). */
static void
test_step_down_trial (void)
{
  Fixture f;
  g_autofree char *req = request_hex (300);
  g_autofree char *at255 = store_data (0x81, req, 0, 255, FALSE, 0);
  g_autofree char *rest255 = store_data (0x81, req, 255, 45, TRUE, 1);
  g_autofree char *at120 = store_data (0x81, req, 0, 120, FALSE, 0);
  g_autofree char *at63 = store_data (0x81, req, 0, 63, FALSE, 0);

  /* The modem vanished: every size fails, the size is not lowered and nothing is reported. */
  setup (&f, 1);
  unit_apdu_expect_error (&f.apdu, at255);
  unit_apdu_expect_error (&f.apdu, at120);
  unit_apdu_expect_error (&f.apdu, at63);
  call (&f, req);
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  g_assert_cmpuint (lpa_es10_get_segment_size (f.es10), ==, 255);
  g_assert_cmpuint (f.sizes->len, ==, 0);
  teardown (&f);

  /* Refused for its content: 6A80 at every size is the answer, at the original size. */
  setup (&f, 1);
  unit_apdu_expect (&f.apdu, at255, "6A 80");
  unit_apdu_expect (&f.apdu, at120, "6A 80");
  unit_apdu_expect (&f.apdu, at63, "6A 80");
  call (&f, req);
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_STATUS_WORD);
  g_assert_cmpuint (lpa_es10_get_segment_size (f.es10), ==, 255);
  g_assert_cmpuint (f.sizes->len, ==, 0);
  teardown (&f);

  /* Once this channel carried a 255-byte block, a transport failure on one is no size problem. */
  setup (&f, 1);
  unit_apdu_expect (&f.apdu, at255, "90 00");
  unit_apdu_expect (&f.apdu, rest255, "BF 31 03 80 01 00 90 00");
  call (&f, req);
  g_assert_no_error (f.error);
  unit_apdu_expect_error (&f.apdu, at255);
  call (&f, req);
  g_assert_error (f.error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  g_assert_cmpuint (lpa_es10_get_segment_size (f.es10), ==, 255);
  g_assert_cmpuint (f.sizes->len, ==, 0);
  teardown (&f);
}

static void
test_step_down_floor (void)
{
  Fixture f;
  g_autofree char *req = request_hex (70);
  g_autofree char *at63 = store_data (0x81, req, 0, 63, FALSE, 0);
  g_autofree char *a = store_data (0x81, req, 0, 32, FALSE, 0);
  g_autofree char *b = store_data (0x81, req, 32, 32, FALSE, 1);
  g_autofree char *c = store_data (0x81, req, 64, 6, TRUE, 2);

  /* Configured lower, the step after 63 is the configured minimum. */
  setup (&f, 1);
  lpa_es10_set_segment_size (f.es10, 63);
  lpa_es10_set_min_segment_size (f.es10, 32);
  unit_apdu_expect (&f.apdu, at63, "67 00");
  unit_apdu_expect (&f.apdu, a, "90 00");
  unit_apdu_expect (&f.apdu, b, "90 00");
  unit_apdu_expect (&f.apdu, c, "90 00");
  call (&f, req);
  g_assert_no_error (f.error);
  g_assert_cmpuint (g_bytes_get_size (f.response), ==, 0);
  g_assert_cmpuint (g_array_index (f.sizes, guint, 0), ==, 32);
  teardown (&f);
}

static void
test_queue (void)
{
  Fixture f;
  g_autoptr (GBytes) one = unit_hex ("BF 2E 00");
  g_autoptr (GBytes) two = unit_hex ("BF 20 00");
  g_autoptr (GError) error = NULL;

  setup (&f, 1);
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 2E 00", "AA 90 00");
  unit_apdu_expect (&f.apdu, "81 E2 91 00 03 BF 20 00", "BB 90 00");
  g_assert_true (lpa_es10_call (f.es10, one, on_done, &f, &error));
  g_assert_true (lpa_es10_call (f.es10, two, on_done, &f, &error));
  /* The second command waits for the first to finish. */
  g_assert_cmpuint (f.apdu.commands->len, ==, 1);
  unit_pump ();
  g_assert_cmpuint (f.calls, ==, 2);
  unit_assert_hex (f.response, "BB");
  teardown (&f);
}

static void
test_too_long (void)
{
  Fixture f;
  g_autofree char *req = request_hex (300);
  g_autoptr (GBytes) request = unit_hex (req);
  g_autoptr (GBytes) empty = g_bytes_new (NULL, 0);
  g_autoptr (GError) error = NULL;

  setup (&f, 1);
  lpa_es10_set_segment_size (f.es10, 1);
  g_assert_cmpuint (lpa_es10_max_request_size (f.es10), ==, 256);
  g_assert_false (lpa_es10_call (f.es10, request, on_done, &f, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_false (lpa_es10_call (f.es10, empty, on_done, &f, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT);
  unit_pump ();
  g_assert_cmpuint (f.calls, ==, 0);
  teardown (&f);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/apdu/trace", test_trace);
  g_test_add_func ("/apdu/chunking", test_chunking);
  g_test_add_func ("/apdu/channels", test_channels);
  g_test_add_func ("/apdu/get-response-loop", test_get_response_loop);
  g_test_add_func ("/apdu/wrong-le", test_wrong_le);
  g_test_add_func ("/apdu/status-words", test_status_words);
  g_test_add_func ("/apdu/proactive-pending", test_proactive_pending);
  g_test_add_func ("/apdu/intermediate-errors", test_intermediate_errors);
  g_test_add_func ("/apdu/step-down", test_step_down);
  g_test_add_func ("/apdu/step-down-transport", test_step_down_transport);
  g_test_add_func ("/apdu/step-down-floor", test_step_down_floor);
  g_test_add_func ("/apdu/step-down-trial", test_step_down_trial);
  g_test_add_func ("/apdu/queue", test_queue);
  g_test_add_func ("/apdu/too-long", test_too_long);
  return g_test_run ();
}
