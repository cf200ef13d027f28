/* fuzz-pcsc.c — libFuzzer harness of the PC/SC transport's byte handling (daemon/pcsc-apdu.c):
 * the T=0 exchange against a card answering fuzz bytes, MANAGE CHANNEL answers, reader lists.
 *
 * Input: byte 0 picks the command (low 3 bits) and the Reader= pattern (the rest); then answers as
 * 16-bit big-endian length + response APDU until the exchange ends or the input does; whatever is
 * left is a reader multi-string as SCardListReaders would return it. */
#include "fuzz.h"

#include "lpa-error.h"
#include "pcsc-apdu.h"

#include <string.h>

#define INPUT_CAP (256 * 1024)

static const struct
{
  const char *hex;
  guint8 channel;
} commands[] = {
  { "81E2910003BF2000", 1 },   /* STORE DATA, channel 1 (case 3) */
  { "C1E2910003BF2D0000", 5 }, /* STORE DATA, channel 5, with Le (case 4) */
  { "00B0000000", 0 },         /* READ BINARY Le 00 (case 2) */
  { "0070000001", 0 },         /* MANAGE CHANNEL open (case 2) */
  { "01A4040010A0000005591010FFFFFFFF890000010000", 1 }, /* SELECT ISD-R (case 4) */
  { "03F2000C", 3 },                                     /* STATUS without data (case 1) */
  { "4FA4040002AABB", 19 },                              /* SELECT, channel 19 (case 3) */
  { "80AA000005A903830102", 0 },                         /* TERMINAL CAPABILITY (case 3) */
};

static const char *const patterns[] = { NULL, "", "00 00", "Virtual", "x" };

static GBytes *
hex (const char *text)
{
  gsize len = strlen (text) / 2;
  guint8 *buf = g_malloc (len);

  for (gsize i = 0; i < len; i++)
    buf[i] =
        (guint8) (g_ascii_xdigit_value (text[2 * i]) << 4 | g_ascii_xdigit_value (text[2 * i + 1]));
  return g_bytes_new_take (buf, len);
}

/* Every command the machine asks to send is a well-formed short APDU on the original's channel:
 * the original, a GET RESPONSE, or the original with another Le. */
static void
check_command (EsimdT0 *t0, GBytes *original, guint8 channel)
{
  gsize len, orig_len;
  const guint8 *cmd = esimd_t0_command (t0, &len);
  const guint8 *orig = g_bytes_get_data (original, &orig_len);
  EsimdApduCase c;

  FUZZ_CHECK (esimd_apdu_case (cmd, len, &c, NULL));
  FUZZ_CHECK (esimd_apdu_channel_of_cla (cmd[0]) == channel);
  if (cmd[1] == 0xC0 && orig[1] != 0xC0)
    FUZZ_CHECK (len == 5 && cmd[2] == 0 && cmd[3] == 0 && !(cmd[0] & 0x80));
  else
    FUZZ_CHECK (len >= orig_len - 1 && len <= orig_len + 1 && memcmp (cmd, orig, 4) == 0);
}

static gsize
run_exchange (const uint8_t *data, size_t size, guint which)
{
  g_autoptr (GBytes) original = hex (commands[which].hex);
  g_autoptr (GError) error = NULL;
  g_autoptr (EsimdT0) t0 =
      esimd_t0_new (g_bytes_get_data (original, NULL), g_bytes_get_size (original), &error);
  EsimdT0Step step = ESIMD_T0_SEND;
  gsize pos = 0, answered = 0, answers_total = 0;

  FUZZ_CHECK (t0 != NULL);
  while (step == ESIMD_T0_SEND && pos + 2 <= size)
    {
      gsize len = (gsize) data[pos] << 8 | data[pos + 1];

      check_command (t0, original, commands[which].channel);
      pos += 2;
      len = MIN (len, size - pos);
      step = esimd_t0_feed (t0, data + pos, len, &error);
      answered++;
      answers_total += len;

      /* Every answer fed is a MANAGE CHANNEL answer too. */
      {
        g_autoptr (GError) mc_error = NULL;
        guint8 channel = 0;

        if (esimd_manage_channel_open_parse (data + pos, len, &channel, &mc_error))
          FUZZ_CHECK (channel >= 1 && channel <= 19 && len == 3);
        else
          fuzz_check_error (mc_error);
      }
      pos += len;
    }
  FUZZ_CHECK (esimd_t0_exchanges (t0) == answered);
  if (step == ESIMD_T0_DONE)
    {
      gsize len;
      const guint8 *resp = g_bytes_get_data (esimd_t0_response (t0), &len);
      guint16 sw;

      /* The response is made of the answers' bytes: never longer than they were together. */
      FUZZ_CHECK (len >= 2 && len <= answers_total && len <= ESIMD_T0_MAX_DATA + 2);
      FUZZ_CHECK (esimd_apdu_status_word (resp, len, &sw));
      FUZZ_CHECK ((sw >> 8) != 0x61);
      FUZZ_CHECK (error == NULL);
    }
  else if (step == ESIMD_T0_ERROR)
    FUZZ_CHECK (g_error_matches (error, LPA_ERROR, LPA_ERROR_MALFORMED));
  return pos;
}

static void
run_readers (const uint8_t *data, size_t size, guint which)
{
  g_auto (GStrv) readers = esimd_pcsc_split_readers ((const char *) data, size);
  g_auto (GStrv) chosen = esimd_pcsc_match_readers ((const char *const *) readers,
                                                    patterns[which % G_N_ELEMENTS (patterns)]);
  gsize total = 0;

  for (char **r = readers; *r; r++)
    {
      FUZZ_CHECK (**r != '\0');
      FUZZ_CHECK (g_utf8_validate (*r, -1, NULL));
      total += strlen (*r) + 1;
    }
  FUZZ_CHECK (total <= size);
  /* Chosen readers are readers, each as often as pcscd listed it (an exact match is not listed
   * again as a substring match). */
  for (char **c = chosen; *c; c++)
    {
      guint in_chosen = 0, in_readers = 0;

      for (char **d = chosen; *d; d++)
        in_chosen += g_str_equal (*c, *d);
      for (char **d = readers; *d; d++)
        in_readers += g_str_equal (*c, *d);
      FUZZ_CHECK (in_readers > 0 && in_chosen == in_readers);
    }
  FUZZ_CHECK (g_strv_length (chosen) <= g_strv_length (readers));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  gsize used;

  fuzz_setup ();
  if (size < 1 || size > INPUT_CAP)
    return 0;
  used = run_exchange (data + 1, size - 1, data[0] % G_N_ELEMENTS (commands));
  run_readers (data + 1 + used, size - 1 - used, data[0] / G_N_ELEMENTS (commands));
  return 0;
}
