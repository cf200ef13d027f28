/* test-pcsc-apdu.c — the PC/SC transport's own bytes (daemon/pcsc-apdu.c): T=0 procedure bytes,
 * MANAGE CHANNEL, SELECT, reader lists. Each vector says where it comes from. */
#include "unit-support.h"

#include "pcsc-apdu.h"

#include <string.h>

/* One exchange: what the transport must send, what the card answers. */
typedef struct
{
  const char *command;
  const char *response;
} Step;

/* Runs @command through the T=0 machine against @steps and checks the final response (or, with
 * @response NULL, that it fails with @error_code). */
static void
run_exchange (const char *command, const Step *steps, gsize n_steps, const char *response,
              gint error_code)
{
  g_autoptr (GBytes) cmd = unit_hex (command);
  g_autoptr (GError) error = NULL;
  g_autoptr (EsimdT0) t0 =
      esimd_t0_new (g_bytes_get_data (cmd, NULL), g_bytes_get_size (cmd), &error);
  EsimdT0Step step = ESIMD_T0_SEND;

  g_assert_no_error (error);
  for (gsize i = 0; i < n_steps; i++)
    {
      gsize len;
      const guint8 *sent = esimd_t0_command (t0, &len);
      g_autoptr (GBytes) sent_bytes = g_bytes_new (sent, len);
      g_autoptr (GBytes) answer = unit_hex (steps[i].response);

      g_assert_cmpint (step, ==, ESIMD_T0_SEND);
      unit_assert_hex (sent_bytes, steps[i].command);
      step = esimd_t0_feed (t0, g_bytes_get_data (answer, NULL), g_bytes_get_size (answer), &error);
    }
  g_assert_cmpuint (esimd_t0_exchanges (t0), ==, n_steps);
  if (response)
    {
      g_assert_no_error (error);
      g_assert_cmpint (step, ==, ESIMD_T0_DONE);
      unit_assert_hex (esimd_t0_response (t0), response);
    }
  else
    {
      g_assert_cmpint (step, ==, ESIMD_T0_ERROR);
      unit_assert_error (error, error_code, NULL);
    }
}

/* A real eUICC on a PC/SC reader answering SELECT ISD-R at once (NekokoLPA2 issue #31, "WebCard
 * backend fails to select ISD-R on logical channel 1": the basic-channel exchange it quotes). */
static void
test_t0_direct (void)
{
  static const Step steps[] = {
    { "00A4040010A0000005591010FFFFFFFF8900000100",
      "6F1F8410A0000005591010FFFFFFFF8900000100A5049F6501FFE00582030202029000" },
  };

  run_exchange (steps[0].command, steps, G_N_ELEMENTS (steps),
                "6F1F8410A0000005591010FFFFFFFF8900000100A5049F6501FFE00582030202029000", 0);
}

/* 61xx then GET RESPONSE with Le = xx (IsoApplet issue #12, "Error when reading file using GET
 * RESPONSE APDU": an Oberthur card on a T=0 reader, SELECT 5015/4402 answered 6117). */
static void
test_t0_get_response (void)
{
  static const Step steps[] = {
    { "00A4080004501544 02", "6117" },
    { "00C0000017", "6F15810202008201018302440286 08FF909090909090 00 9000" },
  };

  run_exchange (steps[0].command, steps, G_N_ELEMENTS (steps),
                "6F1581020200820101830244028608FF90909090909000 9000", 0);
}

/* GET RESPONSE keeps its command's logical channel but takes the inter-industry class: a STORE
 * DATA on channel 1 (CLA 81) and one on channel 5 (CLA C1, further class), ETSI TS 102 221
 * §10.1.1. The response spans two GET RESPONSEs (6100 = 256 bytes, then 6105). */
static void
test_t0_get_response_channels (void)
{
  g_autoptr (GString) first = g_string_new (NULL);
  g_autoptr (GString) whole = g_string_new (NULL);
  Step steps[3];

  for (guint i = 0; i < 256; i++)
    g_string_append_printf (first, "%02X", i);
  g_string_append (whole, first->str);
  g_string_append (whole, "0102030405");
  steps[1] = (Step){ "01C0000000", NULL };
  steps[2] = (Step){ "01C0000005", "01020304059000" };
  steps[0] = (Step){ "81E2910003BF3E00", "6100" };
  {
    g_autofree char *resp = g_strconcat (first->str, "6105", NULL);
    g_autofree char *final = g_strconcat (whole->str, "9000", NULL);

    steps[1].response = resp;
    run_exchange (steps[0].command, steps, 3, final, 0);

    steps[0] = (Step){ "C1E2910003BF3E00", "6100" };
    steps[1].command = "41C0000000";
    steps[2].command = "41C0000005";
    run_exchange (steps[0].command, steps, 3, final, 0);
  }
}

/* 6Cxx on a case-2 command: the same command again with Le = xx (ISO/IEC 7816-3 §10.3.3; EMV
 * Book 1 §9.3.1.2 as quoted in pcsc-sharp PR #9). READ BINARY with Le 00 on a 16-byte file. */
static void
test_t0_wrong_le (void)
{
  static const Step steps[] = {
    { "00B0000000", "6C10" },
    { "00B0000010", "000102030405060708090A0B0C0D0E0F9000" },
  };

  run_exchange (steps[0].command, steps, G_N_ELEMENTS (steps),
                "000102030405060708090A0B0C0D0E0F9000", 0);
}

/* 6Cxx answering GET RESPONSE with Le 00 (pcsc-sharp issue #28: an EMV card answered its GET
 * RESPONSE 00C0000000 with 6C26); here after a 6100, then the 0x26 bytes. */
static void
test_t0_get_response_wrong_le (void)
{
  g_autoptr (GString) data = g_string_new (NULL);
  g_autofree char *answer = NULL;
  g_autofree char *final = NULL;

  for (guint i = 0; i < 0x26; i++)
    g_string_append_printf (data, "%02X", 0xA0 ^ i);
  answer = g_strconcat (data->str, "9000", NULL);
  final = g_strconcat (data->str, "9000", NULL);
  {
    const Step steps[] = {
      { "00A4040007A0000000041010 00", "6100" },
      { "00C0000000", "6C26" },
      { "00C0000026", answer },
    };

    run_exchange (steps[0].command, steps, G_N_ELEMENTS (steps), final, 0);
  }
}

/* 6Cxx on a command without Le (case 3): Le is appended, not written over the data. */
static void
test_t0_wrong_le_case3 (void)
{
  static const Step steps[] = {
    { "00A4040002AABB", "6C04" },
    { "00A4040002AABB04", "112233449000" },
  };

  run_exchange (steps[0].command, steps, G_N_ELEMENTS (steps), "112233449000", 0);
}

/* A second 6Cxx for the same command is the answer: no loop. */
static void
test_t0_wrong_le_twice (void)
{
  static const Step steps[] = {
    { "00B0000000", "6C10" },
    { "00B0000010", "6C08" },
  };

  run_exchange (steps[0].command, steps, G_N_ELEMENTS (steps), "6C08", 0);
}

/* Errors and warnings end the exchange as they are; data before a 61xx is kept. */
static void
test_t0_status_passthrough (void)
{
  static const Step refused[] = { { "81E2910003BF2000", "6A88" } };
  static const Step split[] = {
    { "81E2910003BF2000", "AABB6102" },
    { "01C0000002", "CCDD6283" },
  };

  run_exchange (refused[0].command, refused, 1, "6A88", 0);
  run_exchange (split[0].command, split, 2, "AABBCCDD6283", 0);
}

/* A card that keeps answering 61xx without data, and one answering without a status word. */
static void
test_t0_bad_cards (void)
{
  static const Step endless[] = {
    { "81E2910003BF2000", "6110" },
    { "01C0000010", "6110" },
    { "01C0000010", "6110" },
  };
  static const Step mute[] = { { "81E2910003BF2000", "90" } };

  run_exchange (endless[0].command, endless, 3, NULL, LPA_ERROR_MALFORMED);
  run_exchange (mute[0].command, mute, 1, NULL, LPA_ERROR_MALFORMED);
}

/* The response may not grow past ESIMD_T0_MAX_DATA, however the card paces it. */
static void
test_t0_cap (void)
{
  g_autoptr (GError) error = NULL;
  static const guint8 cmd[] = { 0x81, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x2D, 0x00 };
  g_autoptr (EsimdT0) t0 = esimd_t0_new (cmd, sizeof cmd, &error);
  g_autofree guint8 *chunk = g_malloc0 (258);
  EsimdT0Step step;
  guint rounds = 0;

  chunk[256] = 0x61;
  chunk[257] = 0x00;
  do
    step = esimd_t0_feed (t0, chunk, 258, &error);
  while (step == ESIMD_T0_SEND && ++rounds < 10000);
  g_assert_cmpint (step, ==, ESIMD_T0_ERROR);
  g_assert_cmpuint (rounds, ==, ESIMD_T0_MAX_DATA / 256);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "past");
}

/* A card that pays its response out one byte per GET RESPONSE (written for esimd: 61 01 and one
 * byte, for ever; ISO/IEC 7816-3 §10.3.3 lets a card announce any count) gives up within the
 * GET RESPONSEs the largest response takes at 256 bytes each, not after a million exchanges. */
static void
test_t0_trickle (void)
{
  g_autoptr (GError) error = NULL;
  static const guint8 cmd[] = { 0x81, 0xE2, 0x91, 0x00, 0x03, 0xBF, 0x2D, 0x00 };
  static const guint8 byte_and_more[] = { 0xAA, 0x61, 0x01 };
  g_autoptr (EsimdT0) t0 = esimd_t0_new (cmd, sizeof cmd, &error);
  EsimdT0Step step;
  guint rounds = 0;

  do
    step = esimd_t0_feed (t0, byte_and_more, sizeof byte_and_more, &error);
  while (step == ESIMD_T0_SEND && ++rounds < 2 * ESIMD_T0_MAX_DATA / 256);
  g_assert_cmpint (step, ==, ESIMD_T0_ERROR);
  g_assert_cmpuint (rounds, ==, ESIMD_T0_MAX_DATA / 256);
  unit_assert_error (error, LPA_ERROR_MALFORMED, "GET RESPONSE");
}

/* Command APDU cases (ISO/IEC 7816-3 §12.1.3); extended lengths are refused. */
static void
test_apdu_case (void)
{
  static const struct
  {
    const char *hex;
    gint expected; /* 0 = invalid */
  } cases[] = {
    { "0070000001", ESIMD_APDU_CASE_2 },
    { "00708001", ESIMD_APDU_CASE_1 },
    { "00A4040002AABB", ESIMD_APDU_CASE_3 },
    { "00A4040002AABB00", ESIMD_APDU_CASE_4 },
    { "00A4040002AA", 0 },
    { "00A4040002AABB0000", 0 },
    { "00B000000001 00", 0 },
    { "00B000", 0 },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GBytes) b = unit_hex (cases[i].hex);
      g_autoptr (GError) error = NULL;
      EsimdApduCase c = 0;
      gboolean ok = esimd_apdu_case (g_bytes_get_data (b, NULL), g_bytes_get_size (b), &c, &error);

      if (cases[i].expected)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (c, ==, cases[i].expected);
        }
      else
        {
          g_assert_false (ok);
          unit_assert_error (error, LPA_ERROR_INVALID_ARGUMENT, "short command APDU");
        }
    }
  g_assert_cmpuint (esimd_apdu_channel_of_cla (0x81), ==, 1);
  g_assert_cmpuint (esimd_apdu_channel_of_cla (0x03), ==, 3);
  g_assert_cmpuint (esimd_apdu_channel_of_cla (0x40), ==, 4);
  g_assert_cmpuint (esimd_apdu_channel_of_cla (0xCF), ==, 19);
}

/* MANAGE CHANNEL (ETSI TS 102 221 §11.1.17): open 00 70 00 00 01 answers the channel number;
 * close 00 70 80 NN. A card without free channels answers 6A81, one without logical channels
 * 6881 (table 10.11 / ISO 7816-4 §5.1.3). */
static void
test_manage_channel (void)
{
  static const struct
  {
    const char *response;
    gint channel; /* -1: error */
    gint code;
  } answers[] = {
    { "019000", 1, 0 },
    { "139000", 19, 0 },
    { "02910B", 2, 0 }, /* a normal ending with a proactive command pending (TS 102 221) */
    { "6881", -1, LPA_ERROR_STATUS_WORD },
    { "019302", -1, LPA_ERROR_STATUS_WORD }, /* SIM toolkit busy: no normal ending */
    { "6A81", -1, LPA_ERROR_STATUS_WORD },
    { "009000", -1, LPA_ERROR_MALFORMED },
    { "149000", -1, LPA_ERROR_MALFORMED },
    { "9000", -1, LPA_ERROR_MALFORMED },
    { "01029000", -1, LPA_ERROR_MALFORMED },
    { "01", -1, LPA_ERROR_MALFORMED },
  };
  g_autoptr (GBytes) open = esimd_manage_channel_open_command ();
  g_autoptr (GBytes) close = esimd_manage_channel_close_command (3);

  unit_assert_hex (open, "0070000001");
  unit_assert_hex (close, "00708003");
  for (gsize i = 0; i < G_N_ELEMENTS (answers); i++)
    {
      g_autoptr (GBytes) b = unit_hex (answers[i].response);
      g_autoptr (GError) error = NULL;
      guint8 channel = 0;
      gboolean ok = esimd_manage_channel_open_parse (g_bytes_get_data (b, NULL),
                                                     g_bytes_get_size (b), &channel, &error);

      if (answers[i].channel >= 0)
        {
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpint (channel, ==, answers[i].channel);
        }
      else
        {
          g_assert_false (ok);
          unit_assert_error (error, answers[i].code, NULL);
        }
    }
  {
    g_autoptr (GBytes) b = unit_hex ("6881");
    g_autoptr (GError) error = NULL;
    guint8 channel;

    g_assert_false (
        esimd_manage_channel_open_parse (g_bytes_get_data (b, NULL), 2, &channel, &error));
    g_assert_cmpuint (lpa_status_word_from_error (error), ==, 0x6881);
  }
}

/* Which refusals of MANAGE CHANNEL open send esimd to the basic channel: the card has no logical
 * channel for it (ISO/IEC 7816-4 §5.1.3: 6881 logical channel not supported, 6A81 function not
 * supported, 6D00 instruction not supported, 6E00 class not supported); any other status word
 * is a failure to report, not a reason to take the basic channel. */
static void
test_manage_channel_unsupported (void)
{
  static const guint16 basic[] = { 0x6881, 0x6A81, 0x6D00, 0x6E00 };
  static const guint16 failure[] = {
    0x9000, 0x6F00, 0x6985, 0x6982, 0x6A82, 0x6700, 0x6B00, 0x6882
  };

  for (gsize i = 0; i < G_N_ELEMENTS (basic); i++)
    g_assert_true (esimd_manage_channel_unsupported (basic[i]));
  for (gsize i = 0; i < G_N_ELEMENTS (failure); i++)
    g_assert_false (esimd_manage_channel_unsupported (failure[i]));
}

/* SELECT ISD-R by its SGP.22 AID on channels 1 and 4 (further class from 4 on). */
static void
test_select (void)
{
  g_autoptr (GBytes) aid = unit_hex ("A0000005591010FFFFFFFF8900000100");
  g_autoptr (GBytes) on1 = esimd_select_aid_command (1, aid);
  g_autoptr (GBytes) on4 = esimd_select_aid_command (4, aid);

  unit_assert_hex (on1, "01A4040010A0000005591010FFFFFFFF890000010000");
  unit_assert_hex (on4, "40A4040010A0000005591010FFFFFFFF890000010000");
}

/* SCardListReaders' multi-string, as pcsc-lite 1.9.9 answers for the vpcd driver's two slots. */
static void
test_split_readers (void)
{
  static const char two[] = "Virtual PCD 00 00\0Virtual PCD 00 01\0";
  static const char cut[] = { 'A', '\0', 'B', 'C' };
  static const char bad[] = "\xff\xfe\0Good\0";
  g_auto (GStrv) r2 = esimd_pcsc_split_readers (two, sizeof two);
  g_auto (GStrv) rcut = esimd_pcsc_split_readers (cut, sizeof cut);
  g_auto (GStrv) rbad = esimd_pcsc_split_readers (bad, sizeof bad);
  g_auto (GStrv) rnone = esimd_pcsc_split_readers ("", 1);
  g_auto (GStrv) rnull = esimd_pcsc_split_readers (NULL, 0);

  g_assert_cmpuint (g_strv_length (r2), ==, 2);
  g_assert_cmpstr (r2[0], ==, "Virtual PCD 00 00");
  g_assert_cmpstr (r2[1], ==, "Virtual PCD 00 01");
  g_assert_cmpuint (g_strv_length (rcut), ==, 1);
  g_assert_cmpstr (rcut[0], ==, "A");
  g_assert_cmpuint (g_strv_length (rbad), ==, 1);
  g_assert_cmpstr (rbad[0], ==, "Good");
  g_assert_cmpuint (g_strv_length (rnone), ==, 0);
  g_assert_cmpuint (g_strv_length (rnull), ==, 0);
}

/* Reader= chooses an exact name first, then names containing it, in pcscd's order. */
static void
test_match_readers (void)
{
  const char *const readers[] = { "Identiv uTrust 2700 R [CCID Interface] 00 00",
                                  "Alcor Micro AU9540 00 00", "Alcor Micro AU9540 00 00 x", NULL };
  g_auto (GStrv) all = esimd_pcsc_match_readers (readers, NULL);
  g_auto (GStrv) exact = esimd_pcsc_match_readers (readers, "Alcor Micro AU9540 00 00");
  g_auto (GStrv) sub = esimd_pcsc_match_readers (readers, "uTrust");
  g_auto (GStrv) none = esimd_pcsc_match_readers (readers, "Gemalto");

  g_assert_cmpuint (g_strv_length (all), ==, 3);
  g_assert_cmpuint (g_strv_length (exact), ==, 2);
  g_assert_cmpstr (exact[0], ==, "Alcor Micro AU9540 00 00");
  g_assert_cmpstr (exact[1], ==, "Alcor Micro AU9540 00 00 x");
  g_assert_cmpuint (g_strv_length (sub), ==, 1);
  g_assert_cmpstr (sub[0], ==, readers[0]);
  g_assert_cmpuint (g_strv_length (none), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/pcsc/t0/direct", test_t0_direct);
  g_test_add_func ("/pcsc/t0/get-response", test_t0_get_response);
  g_test_add_func ("/pcsc/t0/get-response-channels", test_t0_get_response_channels);
  g_test_add_func ("/pcsc/t0/wrong-le", test_t0_wrong_le);
  g_test_add_func ("/pcsc/t0/get-response-wrong-le", test_t0_get_response_wrong_le);
  g_test_add_func ("/pcsc/t0/wrong-le-case3", test_t0_wrong_le_case3);
  g_test_add_func ("/pcsc/t0/wrong-le-twice", test_t0_wrong_le_twice);
  g_test_add_func ("/pcsc/t0/status-passthrough", test_t0_status_passthrough);
  g_test_add_func ("/pcsc/t0/bad-cards", test_t0_bad_cards);
  g_test_add_func ("/pcsc/t0/cap", test_t0_cap);
  g_test_add_func ("/pcsc/t0/trickle", test_t0_trickle);
  g_test_add_func ("/pcsc/apdu-case", test_apdu_case);
  g_test_add_func ("/pcsc/manage-channel", test_manage_channel);
  g_test_add_func ("/pcsc/manage-channel-unsupported", test_manage_channel_unsupported);
  g_test_add_func ("/pcsc/select", test_select);
  g_test_add_func ("/pcsc/split-readers", test_split_readers);
  g_test_add_func ("/pcsc/match-readers", test_match_readers);
  return g_test_run ();
}
