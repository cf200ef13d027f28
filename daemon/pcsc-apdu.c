/* pcsc-apdu.c — T=0 procedure bytes, MANAGE CHANNEL and reader lists, as bytes (see the header). */
#include "pcsc-apdu.h"

#include "apdu.h"
#include "lpa-error.h"
#include "secret.h"

#include <string.h>

#define INS_GET_RESPONSE   0xC0
#define INS_MANAGE_CHANNEL 0x70
#define INS_SELECT         0xA4

/* A card that answers 61xx to GET RESPONSE without handing over a byte makes no progress; two
 * such answers in a row end the exchange instead of looping for ever. */
#define MAX_EMPTY_GET_RESPONSES 2
/* As many GET RESPONSEs as the largest response takes at 256 bytes each: a card that pays its
 * response out a byte at a time (61 01, again and again) would otherwise take a million
 * exchanges, many minutes through a reader, to reach ESIMD_T0_MAX_DATA. */
#define MAX_GET_RESPONSES (ESIMD_T0_MAX_DATA / 256)

struct _EsimdT0
{
  GByteArray *original; /* the command as given */
  GByteArray *command;  /* the one to send now */
  GByteArray *data;     /* response data gathered over GET RESPONSE */
  gsize data_cap;
  /* The command and the answer may carry a secret (AuthenticateServer's ctxParams1 and its
   * matching ID): every buffer is liblpa's wiping kind (secret.h). */
  GBytes *response; /* set once done */
  EsimdApduCase apdu_case;
  guint8 get_response_cla;
  gboolean resent; /* 6Cxx is honoured once per command */
  gboolean in_get_response;
  guint empty_get_responses;
  guint get_responses;
  guint exchanges;
};

gboolean
esimd_apdu_case (const guint8 *apdu, gsize len, EsimdApduCase *out, GError **error)
{
  if (len == 4)
    *out = ESIMD_APDU_CASE_1;
  else if (len == 5)
    *out = ESIMD_APDU_CASE_2;
  else if (len > 5 && apdu[4] != 0 && len == 5 + (gsize) apdu[4])
    *out = ESIMD_APDU_CASE_3;
  else if (len > 5 && apdu[4] != 0 && len == 6 + (gsize) apdu[4])
    *out = ESIMD_APDU_CASE_4;
  else
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                   "not a short command APDU (%" G_GSIZE_FORMAT " bytes%s)", len,
                   len > 5 && apdu[4] == 0 ? ", extended length" : "");
      return FALSE;
    }
  return TRUE;
}

guint
esimd_apdu_channel_of_cla (guint8 cla)
{
  if (cla & 0x40)
    return 4 + (cla & 0x0F);
  return cla & 0x03;
}

gboolean
esimd_apdu_status_word (const guint8 *response, gsize len, guint16 *sw)
{
  if (len < 2)
    return FALSE;
  *sw = (guint16) (response[len - 2] << 8 | response[len - 1]);
  return TRUE;
}

EsimdT0 *
esimd_t0_new (const guint8 *command, gsize len, GError **error)
{
  EsimdApduCase apdu_case;
  EsimdT0 *t0;

  if (!esimd_apdu_case (command, len, &apdu_case, error))
    return NULL;
  t0 = g_new0 (EsimdT0, 1);
  t0->apdu_case = apdu_case;
  t0->original = lpa_secret_byte_array_new (len);
  g_byte_array_append (t0->original, command, (guint) len);
  /* Room for an Le appended (6Cxx) or a GET RESPONSE, so that it never grows. */
  t0->command = lpa_secret_byte_array_new (MAX (len + 1, 5));
  g_byte_array_append (t0->command, command, (guint) len);
  t0->data_cap = 256;
  t0->data = lpa_secret_byte_array_new (t0->data_cap);
  /* GET RESPONSE is an inter-industry command on the command's own channel, whatever class the
   * command had (STORE DATA is proprietary). */
  t0->get_response_cla = lpa_apdu_cla (esimd_apdu_channel_of_cla (command[0]), FALSE);
  return t0;
}

void
esimd_t0_free (EsimdT0 *t0)
{
  if (!t0)
    return;
  lpa_secret_byte_array_free (t0->original);
  lpa_secret_byte_array_free (t0->command);
  lpa_secret_byte_array_free (t0->data);
  g_clear_pointer (&t0->response, g_bytes_unref);
  g_free (t0);
}

const guint8 *
esimd_t0_command (EsimdT0 *t0, gsize *len)
{
  *len = t0->command->len;
  return t0->command->data;
}

guint
esimd_t0_exchanges (EsimdT0 *t0)
{
  return t0->exchanges;
}

GBytes *
esimd_t0_response (EsimdT0 *t0)
{
  return t0->response;
}

static void
set_get_response (EsimdT0 *t0, guint8 le)
{
  const guint8 get_response[] = { t0->get_response_cla, INS_GET_RESPONSE, 0x00, 0x00, le };

  lpa_secret_wipe (t0->command->data, t0->command->len);
  g_byte_array_set_size (t0->command, 0);
  g_byte_array_append (t0->command, get_response, sizeof get_response);
  t0->in_get_response = TRUE;
}

/* The command that was last sent, with Le = @le: replaced where it had one, appended where not
 * (ISO/IEC 7816-3 §10.3.3: 6Cxx gives the exact Le to send the same command with). */
static void
set_resend (EsimdT0 *t0, guint8 le)
{
  gboolean has_le;

  if (t0->in_get_response)
    has_le = TRUE;
  else
    has_le = t0->apdu_case == ESIMD_APDU_CASE_2 || t0->apdu_case == ESIMD_APDU_CASE_4;
  if (has_le)
    t0->command->data[t0->command->len - 1] = le;
  else
    g_byte_array_append (t0->command, &le, 1);
}

static EsimdT0Step
finish (EsimdT0 *t0, const guint8 *sw)
{
  lpa_secret_byte_array_reserve (&t0->data, &t0->data_cap, 2);
  g_byte_array_append (t0->data, sw, 2);
  t0->response = lpa_secret_bytes_new (t0->data->data, t0->data->len);
  return ESIMD_T0_DONE;
}

EsimdT0Step
esimd_t0_feed (EsimdT0 *t0, const guint8 *response, gsize len, GError **error)
{
  gsize data_len;
  guint8 sw1, sw2;

  g_return_val_if_fail (t0->response == NULL, ESIMD_T0_ERROR);
  t0->exchanges++;
  if (len < 2)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "the card answered %" G_GSIZE_FORMAT " bytes, without a status word", len);
      return ESIMD_T0_ERROR;
    }
  data_len = len - 2;
  sw1 = response[len - 2];
  sw2 = response[len - 1];

  if (data_len > ESIMD_T0_MAX_DATA - t0->data->len)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED, "the card's response runs past %u bytes",
                   (guint) ESIMD_T0_MAX_DATA);
      return ESIMD_T0_ERROR;
    }

  if (sw1 == 0x6C && !t0->resent)
    {
      /* Wrong Le: a checking error, so the card did nothing; the data of this answer (none, from
       * a conforming card) is not part of the response. */
      t0->resent = TRUE;
      set_resend (t0, sw2);
      return ESIMD_T0_SEND;
    }

  lpa_secret_byte_array_reserve (&t0->data, &t0->data_cap, data_len);
  g_byte_array_append (t0->data, response, (guint) data_len);
  if (sw1 != 0x61)
    return finish (t0, response + data_len);

  if (t0->in_get_response && data_len == 0)
    {
      if (++t0->empty_get_responses >= MAX_EMPTY_GET_RESPONSES)
        {
          g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                       "the card keeps answering 61%02X to GET RESPONSE without any data", sw2);
          return ESIMD_T0_ERROR;
        }
    }
  else
    t0->empty_get_responses = 0;
  if (++t0->get_responses > MAX_GET_RESPONSES)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "the card hands its response over in more than %u GET RESPONSEs (61%02X)",
                   (guint) MAX_GET_RESPONSES, sw2);
      return ESIMD_T0_ERROR;
    }
  /* 61xx: xx bytes wait (00: 256 or more); a GET RESPONSE may be answered 6Cxx in turn. */
  t0->resent = FALSE;
  set_get_response (t0, sw2);
  return ESIMD_T0_SEND;
}

GBytes *
esimd_manage_channel_open_command (void)
{
  static const guint8 open[] = { 0x00, INS_MANAGE_CHANNEL, 0x00, 0x00, 0x01 };

  return g_bytes_new_static (open, sizeof open);
}

GBytes *
esimd_manage_channel_close_command (guint8 channel)
{
  const guint8 close[] = { 0x00, INS_MANAGE_CHANNEL, 0x80, channel };

  return g_bytes_new (close, sizeof close);
}

gboolean
esimd_manage_channel_open_parse (const guint8 *response, gsize len, guint8 *channel, GError **error)
{
  guint16 sw;

  if (!esimd_apdu_status_word (response, len, &sw))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "MANAGE CHANNEL: an answer of %" G_GSIZE_FORMAT " bytes has no status word",
                   len);
      return FALSE;
    }
  if (!lpa_status_word_is_normal (sw))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_STATUS_WORD, "%04X %s", sw,
                   lpa_status_word_name (sw));
      return FALSE;
    }
  if (len != 3 || response[0] < 1 || response[0] > 19)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_MALFORMED,
                   "MANAGE CHANNEL: expected one channel number from 1 to 19, got %" G_GSIZE_FORMAT
                   " bytes%s",
                   len - 2, len == 3 ? " out of range" : "");
      return FALSE;
    }
  *channel = response[0];
  return TRUE;
}

gboolean
esimd_manage_channel_unsupported (guint16 sw)
{
  switch (sw)
    {
    case 0x6881:
    case 0x6A81:
    case 0x6D00:
    case 0x6E00:
      return TRUE;
    default:
      return FALSE;
    }
}

GBytes *
esimd_select_aid_command (guint8 channel, GBytes *aid)
{
  gsize aid_len;
  const guint8 *aid_data = g_bytes_get_data (aid, &aid_len);
  GByteArray *cmd;
  guint8 header[5];
  const guint8 le = 0x00;

  g_return_val_if_fail (aid_len >= 1 && aid_len <= 16, NULL);
  header[0] = lpa_apdu_cla (channel, FALSE);
  header[1] = INS_SELECT;
  header[2] = 0x04; /* by DF name */
  header[3] = 0x00; /* first occurrence, return the FCI */
  header[4] = (guint8) aid_len;
  cmd = g_byte_array_sized_new (6 + (guint) aid_len);
  g_byte_array_append (cmd, header, sizeof header);
  g_byte_array_append (cmd, aid_data, (guint) aid_len);
  g_byte_array_append (cmd, &le, 1);
  return g_byte_array_free_to_bytes (cmd);
}

GStrv
esimd_pcsc_split_readers (const char *multi, gsize len)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  gsize pos = 0;

  while (multi && pos < len && multi[pos] != '\0')
    {
      const char *name = multi + pos;
      const char *end = memchr (name, '\0', len - pos);

      if (!end)
        break; /* runs past the buffer: not a name */
      if (g_utf8_validate (name, end - name, NULL))
        g_strv_builder_add (builder, name);
      pos += (gsize) (end - name) + 1;
    }
  return g_strv_builder_end (builder);
}

GStrv
esimd_pcsc_match_readers (const char *const *readers, const char *want)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();

  if (!want || !*want)
    {
      for (const char *const *r = readers; r && *r; r++)
        g_strv_builder_add (builder, *r);
      return g_strv_builder_end (builder);
    }
  for (const char *const *r = readers; r && *r; r++)
    if (g_str_equal (*r, want))
      g_strv_builder_add (builder, *r);
  for (const char *const *r = readers; r && *r; r++)
    if (!g_str_equal (*r, want) && strstr (*r, want))
      g_strv_builder_add (builder, *r);
  return g_strv_builder_end (builder);
}
