/* fuzz-at.c — libFuzzer harness of the AT transport's response parser (daemon/at-parser.c):
 * whatever a tty delivers, in whatever pieces, is cut into lines, classified into one answer,
 * and its payload parsed. */
#include "fuzz.h"

#include "at-parser.h"
#include "at-quirks.h"
#include "lpa-error.h"

#include <string.h>

/* One answer of a few hundred characters is what the modem sends; a few dozen in a row is what
 * a burst of URCs and a late answer may bring. */
#define INPUT_CAP (64 * 1024)

static const struct
{
  const char *command;
  const char *prefix;
  gboolean bare;
} commands[] = {
  { "AT+CGLA=1,10,\"81F2000000\"", "+CGLA:", FALSE },
  { "AT+CSIM=10,\"0070000001\"", "+CSIM:", FALSE },
  { "AT+CCHO=\"A0000005591010FFFFFFFF8900000100\"", "+CCHO:", TRUE },
  { "AT+CGSN", "+CGSN:", TRUE },
  { "AT+CGMI", "+CGMI:", TRUE },
  { "AT+CCHC=1", NULL, FALSE },
};

static void
check_line (const char *line)
{
  gsize len = strlen (line);

  FUZZ_CHECK (len > 0 && len <= ESIMD_AT_MAX_LINE);
  for (gsize i = 0; i < len; i++)
    FUZZ_CHECK (line[i] >= 0x20 && line[i] <= 0x7E);
  FUZZ_CHECK (line[0] != ' ' && line[len - 1] != ' ');
}

static gboolean
known_manufacturer (const char *line, gpointer data)
{
  return esimd_at_quirks_knows_manufacturer (line);
}

static gboolean
known_model (const char *line, gpointer data)
{
  return esimd_at_quirks_knows_model (data, line);
}

/* AT+CGMI's and AT+CGMM's free text as transport-at.c reads it: a line naming a family (model)
 * the quirk table knows, else the last bare line. The family found from it is a real one. */
static void
check_free_text (const EsimdAtResponse *r, const char *text)
{
  const char *manufacturer = esimd_at_response_text (r, known_manufacturer, NULL);
  const char *model = esimd_at_response_text (r, known_model, (gpointer) manufacturer);
  const EsimdAtModemInfo *info;

  /* Which line is taken may differ; whether there is one does not. */
  FUZZ_CHECK (!manufacturer == !text && !model == !text);
  if (!manufacturer)
    return;
  FUZZ_CHECK (esimd_at_response_has_line (r, manufacturer));
  FUZZ_CHECK (esimd_at_response_has_line (r, model));
  info = esimd_at_quirks_lookup (manufacturer, model);
  FUZZ_CHECK (info != NULL && info->family != NULL);
  FUZZ_CHECK (esimd_at_quirks_family (info->family) != NULL);
}

static void
check_payloads (const EsimdAtResponse *r)
{
  const char *info = esimd_at_response_info (r);
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL;
  g_autoptr (GBytes) apdu = NULL;
  g_autofree char *session = NULL;
  g_autofree char *imei = NULL;
  g_autofree char *shaped = NULL;
  g_autoptr (GError) e4 = NULL;
  const char *text = esimd_at_response_text (r, NULL, NULL);

  /* A free-text answer exists exactly when an information line does, and is one of its lines. */
  FUZZ_CHECK (!text == !info);
  FUZZ_CHECK (!text || esimd_at_response_has_line (r, text));
  check_free_text (r, text);

  /* The answer-level readers give what the line-level parsers give, or a transport error. */
  shaped = esimd_at_response_session (r, &e4);
  FUZZ_CHECK (shaped || g_error_matches (e4, LPA_ERROR, LPA_ERROR_TRANSPORT));
  g_clear_pointer (&shaped, g_free);
  g_clear_error (&e4);
  shaped = esimd_at_response_imei (r, &e4);
  FUZZ_CHECK (shaped ? strlen (shaped) == 15 && fuzz_all_digits (shaped)
                     : g_error_matches (e4, LPA_ERROR, LPA_ERROR_TRANSPORT));
  if (!info)
    return;
  apdu = esimd_at_parse_apdu_answer (info, &e1);
  if (apdu)
    FUZZ_CHECK (g_bytes_get_size (apdu) >= 2 && g_bytes_get_size (apdu) <= ESIMD_AT_MAX_LINE / 2);
  else
    FUZZ_CHECK (g_error_matches (e1, LPA_ERROR, LPA_ERROR_TRANSPORT));
  session = esimd_at_parse_session (info, &e2);
  if (session)
    {
      FUZZ_CHECK (*session && strlen (session) <= 32);
      for (const char *p = session; *p; p++)
        FUZZ_CHECK (g_ascii_isxdigit (*p));
    }
  else
    FUZZ_CHECK (g_error_matches (e2, LPA_ERROR, LPA_ERROR_TRANSPORT));
  imei = esimd_at_parse_imei (info, &e3);
  if (imei)
    FUZZ_CHECK (strlen (imei) == 15 && fuzz_all_digits (imei));
  else
    FUZZ_CHECK (g_error_matches (e3, LPA_ERROR, LPA_ERROR_TRANSPORT));
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (EsimdAtReader) reader = NULL;
  g_autoptr (EsimdAtResponse) r = NULL;
  g_autoptr (EsimdAtResponse) apdu_r = NULL;
  gsize cut;
  gboolean framing_ok = TRUE;

  fuzz_setup ();
  if (size < 2 || size > INPUT_CAP)
    return 0;

  /* Byte 0 picks the command, byte 1 where the stream is cut in two reads. */
  r = esimd_at_response_new (commands[data[0] % G_N_ELEMENTS (commands)].command,
                             commands[data[0] % G_N_ELEMENTS (commands)].prefix,
                             commands[data[0] % G_N_ELEMENTS (commands)].bare);
  /* AT+CGLA and AT+CSIM as the transport reads them too: bare lines kept, the R-APDU taken by
   * esimd_at_response_apdu(). */
  if (g_strcmp0 (r->prefix, "+CGLA:") == 0 || g_strcmp0 (r->prefix, "+CSIM:") == 0)
    apdu_r = esimd_at_response_new (r->command, r->prefix, TRUE);
  data += 2;
  size -= 2;
  cut = size ? data[-1] % (size + 1) : 0;
  reader = esimd_at_reader_new ();

  for (guint part = 0; part < 2 && framing_ok; part++)
    {
      g_autoptr (GError) error = NULL;
      char *line;

      framing_ok = part == 0 ? esimd_at_reader_feed (reader, data, cut, &error)
                             : esimd_at_reader_feed (reader, data + cut, size - cut, &error);
      if (!framing_ok)
        FUZZ_CHECK (g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT));
      while ((line = esimd_at_reader_next_line (reader)))
        {
          gboolean was_final = r->final != ESIMD_AT_FINAL_NONE;
          gboolean final;

          check_line (line);
          /* A restart notice (RDY, ^SYSSTART…) is never a final result code. */
          if (esimd_at_line_is_restart (line))
            FUZZ_CHECK (!esimd_at_line_is_final (line));
          final = esimd_at_response_add_line (r, line);
          /* Once final, always final; a final result is one of the final codes. */
          FUZZ_CHECK (!was_final || final);
          if (final && !was_final)
            FUZZ_CHECK (esimd_at_line_is_final (line));
          if (apdu_r)
            FUZZ_CHECK (esimd_at_response_add_line (apdu_r, line) == final);
          g_free (line);
        }
    }

  if (r->final == ESIMD_AT_FINAL_CME_ERROR || r->final == ESIMD_AT_FINAL_CMS_ERROR ||
      r->final == ESIMD_AT_FINAL_ERROR)
    {
      g_autoptr (GError) error = esimd_at_response_error (r, "fuzz", "AT");

      FUZZ_CHECK (g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT));
    }
  check_payloads (r);
  if (apdu_r)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) apdu = esimd_at_response_apdu (apdu_r, &error);

      if (apdu)
        FUZZ_CHECK (g_bytes_get_size (apdu) >= 2 &&
                    g_bytes_get_size (apdu) <= ESIMD_AT_MAX_LINE / 2);
      else
        FUZZ_CHECK (g_error_matches (error, LPA_ERROR, LPA_ERROR_TRANSPORT));
    }
  return 0;
}
