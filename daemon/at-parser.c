/* at-parser.c — AT responses cut into lines and understood; no I/O (see at-parser.h). */
#include "at-parser.h"

#include "lpa-error.h"
#include "secret.h"

#include <stdio.h>
#include <string.h>

/* The lines of an APDU's answer carry the card's bytes in hex, which may hold a secret
 * (AuthenticateServer's answer carries the matching ID): every copy is wiped (secret.h). */
struct _EsimdAtReader
{
  GString *partial;   /* the line being received: grown by grow_partial() only */
  GQueue lines;       /* complete lines not yet taken */
  gboolean skip_body; /* the last line taken was the head of a two-line URC */
};

EsimdAtReader *
esimd_at_reader_new (void)
{
  EsimdAtReader *reader = g_new0 (EsimdAtReader, 1);

  reader->partial = g_string_sized_new (256);
  g_queue_init (&reader->lines);
  return reader;
}

void
esimd_at_reader_reset (EsimdAtReader *reader)
{
  lpa_secret_wipe (reader->partial->str, reader->partial->len);
  g_string_truncate (reader->partial, 0);
  g_queue_clear_full (&reader->lines, (GDestroyNotify) lpa_secret_free);
  reader->skip_body = FALSE;
}

void
esimd_at_reader_free (EsimdAtReader *reader)
{
  if (!reader)
    return;
  esimd_at_reader_reset (reader);
  g_string_free (reader->partial, TRUE);
  g_free (reader);
}

/* Room for one more character: a larger copy and the old one wiped, where g_string_append_c()
 * would realloc() and leave the old block as it was. */
static void
grow_partial (EsimdAtReader *reader)
{
  GString *old = reader->partial;

  if (old->len + 2 <= old->allocated_len)
    return;
  reader->partial = g_string_sized_new (old->allocated_len * 2);
  g_string_append_len (reader->partial, old->str, (gssize) old->len);
  lpa_secret_wipe (old->str, old->len);
  g_string_free (old, TRUE);
}

gboolean
esimd_at_reader_feed (EsimdAtReader *reader, const guint8 *data, gsize len, GError **error)
{
  for (gsize i = 0; i < len; i++)
    {
      guint8 c = data[i];

      if (c == '\r' || c == '\n')
        {
          /* CR LF, LF alone and CR alone all end a line; the empty lines between are dropped. */
          if (reader->partial->len)
            {
              g_queue_push_tail (&reader->lines,
                                 g_strndup (reader->partial->str, reader->partial->len));
              lpa_secret_wipe (reader->partial->str, reader->partial->len);
              g_string_truncate (reader->partial, 0);
            }
          continue;
        }
      /* Noise a UART picks up while the modem boots, and anything not ASCII, never belongs to
       * an answer we parse: drop it rather than let it hide a final result code. */
      if (c < 0x20 || c > 0x7E)
        continue;
      if (reader->partial->len >= ESIMD_AT_MAX_LINE)
        {
          lpa_secret_wipe (reader->partial->str, reader->partial->len);
          g_string_truncate (reader->partial, 0);
          g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                       "framing: a line of more than %d characters", ESIMD_AT_MAX_LINE);
          return FALSE;
        }
      grow_partial (reader);
      g_string_append_c (reader->partial, (char) c);
    }
  return TRUE;
}

/* Whether @line heads an unsolicited message whose body is the next line (3GPP TS 27.005
 * §3.4.1, with AT+CNMI routing messages to the port, as ModemManager sets it): +CMT and +CBM
 * in both modes, +CDS in PDU mode ("+CDS: <length>"; in text mode it is one line). */
static gboolean
heads_two_line_urc (const char *line)
{
  const char *p;

  if (g_ascii_strncasecmp (line, "+CMT:", 5) == 0 || g_ascii_strncasecmp (line, "+CBM:", 5) == 0)
    return TRUE;
  if (g_ascii_strncasecmp (line, "+CDS:", 5) != 0)
    return FALSE;
  for (p = line + 5; *p == ' '; p++)
    ;
  if (!*p)
    return FALSE;
  for (; g_ascii_isdigit (*p); p++)
    ;
  return *p == '\0';
}

char *
esimd_at_reader_next_line (EsimdAtReader *reader)
{
  char *line;

  while ((line = g_queue_pop_head (&reader->lines)))
    {
      g_strstrip (line);
      if (!*line)
        {
          lpa_secret_free (line);
          continue;
        }
      /* A message's body (a PDU in hex, or the text of an SMS, which may well read "OK") is no
       * line of any answer: taken for one, it would end a command early or become its
       * information (an IMEI, a session id). */
      if (reader->skip_body)
        {
          reader->skip_body = FALSE;
          lpa_secret_free (line);
          continue;
        }
      reader->skip_body = heads_two_line_urc (line);
      return line;
    }
  return NULL;
}

/* ---- one command's response ----------------------------------------------------------------- */

EsimdAtResponse *
esimd_at_response_new (const char *command, const char *prefix, gboolean bare)
{
  EsimdAtResponse *r = g_new0 (EsimdAtResponse, 1);

  r->command = g_strdup (command);
  r->prefix = g_strdup (prefix);
  r->bare = bare;
  r->info = g_ptr_array_new_with_free_func ((GDestroyNotify) lpa_secret_free);
  r->other = g_ptr_array_new_with_free_func ((GDestroyNotify) lpa_secret_free);
  r->error_code = -1;
  return r;
}

void
esimd_at_response_free (EsimdAtResponse *r)
{
  if (!r)
    return;
  lpa_secret_free (r->command); /* an APDU's command line */
  g_free (r->prefix);
  g_ptr_array_unref (r->info);
  g_ptr_array_unref (r->other);
  g_free (r->error_text);
  g_free (r);
}

static gboolean
has_prefix_ci (const char *s, const char *prefix)
{
  return g_ascii_strncasecmp (s, prefix, strlen (prefix)) == 0;
}

/* The text after @prefix, with the spaces some firmware puts there and some does not (SIMCom
 * A7908E answers "+CGLA:4,…"). */
static const char *
after_prefix (const char *line, const char *prefix)
{
  const char *p = line + strlen (prefix);

  while (*p == ' ')
    p++;
  return p;
}

/* Final result codes of V.250 and 27.007 §9.2. "COMMAND NOT SUPPORT" is how some Huawei
 * firmware says ERROR (gammu issue #138's log). */
static EsimdAtFinal
final_kind (const char *line)
{
  if (g_ascii_strcasecmp (line, "OK") == 0)
    return ESIMD_AT_FINAL_OK;
  if (g_ascii_strcasecmp (line, "ERROR") == 0 ||
      g_ascii_strcasecmp (line, "COMMAND NOT SUPPORT") == 0)
    return ESIMD_AT_FINAL_ERROR;
  if (has_prefix_ci (line, "+CME ERROR:"))
    return ESIMD_AT_FINAL_CME_ERROR;
  if (has_prefix_ci (line, "+CMS ERROR:"))
    return ESIMD_AT_FINAL_CMS_ERROR;
  return ESIMD_AT_FINAL_NONE;
}

gboolean
esimd_at_line_is_final (const char *line)
{
  return final_kind (line) != ESIMD_AT_FINAL_NONE;
}

gboolean
esimd_at_line_is_restart (const char *line)
{
  /* Quectel prints RDY once its UART is ready after power-on or a reset, followed by +CFUN: 1
   * and +CPIN: READY (Quectel M50 Hardware Design V2.0, on the UART; the EC2x/EG25/EC200A/
   * EC600U/BG95 families do the same); so does SIMCom's SIM7600, before +CPIN: READY, SMS DONE
   * and PB DONE (the boot logs in Xinyuan-LilyGO/T-SIM7600X pull request #41 and
   * espressif/esp-protocols issue #789). */
  if (g_ascii_strcasecmp (line, "RDY") == 0)
    return TRUE;
  /* Cinterion (Gemalto, Thales) modules print ^SYSSTART when they have started, ^SYSSTART
   * AIRPLANE MODE when they start with the radio off (OpenMoko gsmd takes it as "the
   * interpreter is ready" and cancels every pending command; GSMTC35's tests show it after
   * AT+CFUN=1,1); Huawei's ME909s manual calls ^SYSSTART "unsolicitedly report module
   * startup". */
  if (g_ascii_strcasecmp (line, "^SYSSTART") == 0 ||
      g_ascii_strcasecmp (line, "^SYSSTART AIRPLANE MODE") == 0)
    return TRUE;
  /* SIMCom's A76xx (A7670E, A7672) print *ATREADY: 1 when the AT interpreter is up after a
   * start, before +CPIN: READY (Xinyuan-LilyGO/LilyGo-Modem-Series issue #247). */
  if (has_prefix_ci (line, "*ATREADY:"))
    return g_str_equal (after_prefix (line, "*ATREADY:"), "1");
  /* Not +CPIN: READY, SMS DONE, PB DONE or +CFUN: 1: a modem also prints those when its SIM
   * comes up after AT+CFUN=1 or a SIM swap, without having restarted. */
  return FALSE;
}

/* Words modems print on their own, unasked: boot and SIM-ready notices. Lines that start with
 * one of + ^ * # $ % are unsolicited too unless they carry the prefix we wait for. */
static gboolean
is_bare_urc (const char *line)
{
  static const char *const words[] = {
    "RDY",          /* Quectel: the UART is ready */
    "SMS DONE",     /* Quectel: SMS initialised */
    "PB DONE",      /* Quectel: phone book initialised */
    "APP RDY",      /* Quectel */
    "POWERED DOWN", /* Quectel: before a power-off */
    "NORMAL POWER DOWN",
    "Call Ready", /* SIMCom */
    "SMS Ready",  /* SIMCom */
    "START",      /* SIMCom A76xx */
    /* SIMCom SIM7670G (A76xx family), unasked once its interfaces are up (espressif/esp-protocols
     * issue #669, firmware SIM767XM5_B03V02_240914 and later). */
    "QCRDY",
    "RING",       /* V.250 */
    "NO CARRIER", /* V.250: a data call ended */
    /* SIMCom SIM800/SIM7000/SIM7070 supply and call notices, "WARNNING" as they spell it
     * (the URC lists of SIMCom drivers: TinyGSM-style libraries, RT-Thread's at_device). */
    "UNDER-VOLTAGE WARNNING",
    "UNDER-VOLTAGE WARNING",
    "UNDER-VOLTAGE POWER DOWN",
    "OVER-VOLTAGE WARNNING",
    "OVER-VOLTAGE WARNING",
    "OVER-VOLTAGE POWER DOWN",
    "MO RING",
    "MO CONNECTED",
  };
  const char *p;

  for (gsize i = 0; i < G_N_ELEMENTS (words); i++)
    if (g_ascii_strcasecmp (line, words[i]) == 0)
      return TRUE;
  /* SIMCom's daylight-saving notice after *PSUTTZ: with AT+CLTS=1, "DST: <n>", a line without a
   * sigil that comes between the lines of an answer (a SIM7070G diagnostic script drops it from
   * every answer it reads). */
  if (has_prefix_ci (line, "DST:"))
    {
      p = after_prefix (line, "DST:");
      if (g_ascii_isdigit (*p) && p[1] == '\0')
        return TRUE;
    }
  return strchr ("+^*#$%", line[0]) != NULL;
}

/* The command coming back: whole, or with its head or tail lost to a line discipline that
 * was still settling (lpac issue #179 shows "T+CCHC=1" for AT+CCHC=1). */
static gboolean
is_echo (const EsimdAtResponse *r, const char *line)
{
  gsize cmd_len, len = strlen (line);

  if (!r->command)
    return FALSE;
  cmd_len = strlen (r->command);
  if (g_ascii_strcasecmp (line, r->command) == 0)
    return TRUE;
  if (len < 4 || len >= cmd_len)
    return FALSE;
  if (g_ascii_strcasecmp (line, r->command + cmd_len - len) == 0)
    return TRUE;
  return has_prefix_ci (line, "AT") && g_ascii_strncasecmp (line, r->command, len) == 0;
}

gboolean
esimd_at_response_add_line (EsimdAtResponse *r, const char *line)
{
  EsimdAtFinal kind;

  if (r->final != ESIMD_AT_FINAL_NONE)
    return TRUE;
  if (is_echo (r, line))
    {
      r->echoes++;
      return FALSE;
    }
  kind = final_kind (line);
  if (kind != ESIMD_AT_FINAL_NONE)
    {
      r->final = kind;
      if (kind == ESIMD_AT_FINAL_CME_ERROR || kind == ESIMD_AT_FINAL_CMS_ERROR)
        {
          const char *arg = after_prefix (line, "+CME ERROR:");
          guint64 v;

          if (g_ascii_string_to_unsigned (arg, 10, 0, 65535, &v, NULL))
            r->error_code = (int) v;
          else if (*arg)
            {
              r->error_text = g_strdup (arg);
              /* AT+CMEE=2 (a firmware that keeps it saved, or a modem that reset and restored
               * it) says the same codes in words: what the transport acts on (SIM busy: wait;
               * operation not supported: AT+CSIM) must not depend on the form. */
              if (kind == ESIMD_AT_FINAL_CME_ERROR)
                r->error_code = esimd_at_cme_code (arg);
            }
        }
      return TRUE;
    }
  if (r->prefix && has_prefix_ci (line, r->prefix))
    {
      g_ptr_array_add (r->info, g_strdup (after_prefix (line, r->prefix)));
      return FALSE;
    }
  if (is_bare_urc (line) || !r->bare)
    {
      r->urcs++;
      return FALSE;
    }
  g_ptr_array_add (r->other, g_strdup (line));
  return FALSE;
}

/* The first prefixed line with anything after the prefix. A prefix alone on its line, its data
 * on the next (as Fibocom FM350-GL writes +GTCCINFO:, 4IceG/luci-app-3ginfo-lite pull request
 * #70), is no information: the line after it is. */
static const char *
first_prefixed (const EsimdAtResponse *r)
{
  for (guint i = 0; i < r->info->len; i++)
    if (*(const char *) r->info->pdata[i])
      return r->info->pdata[i];
  return NULL;
}

const char *
esimd_at_response_info (const EsimdAtResponse *r)
{
  const char *info = first_prefixed (r);

  if (info)
    return info;
  if (r->bare && r->other->len)
    return r->other->pdata[0];
  return NULL;
}

const char *
esimd_at_response_text (const EsimdAtResponse *r, EsimdAtLineKnown known, gpointer data)
{
  const char *info = first_prefixed (r);

  if (info)
    return info;
  if (!r->bare || !r->other->len)
    return NULL;
  for (guint i = 0; known && i < r->other->len; i++)
    if (known (r->other->pdata[i], data))
      return r->other->pdata[i];
  return r->other->pdata[r->other->len - 1];
}

gboolean
esimd_at_response_has_line (const EsimdAtResponse *r, const char *text)
{
  for (guint i = 0; i < r->info->len; i++)
    if (g_str_equal (r->info->pdata[i], text))
      return TRUE;
  for (guint i = 0; r->bare && i < r->other->len; i++)
    if (g_str_equal (r->other->pdata[i], text))
      return TRUE;
  return FALSE;
}

static const struct
{
  int code;
  const char *name;
} cme_names[] = {
  { ESIMD_AT_CME_PHONE_FAILURE, "phone failure" },
  { ESIMD_AT_CME_OPERATION_NOT_ALLOWED, "operation not allowed" },
  { ESIMD_AT_CME_OPERATION_NOT_SUPPORTED, "operation not supported" },
  { ESIMD_AT_CME_SIM_NOT_INSERTED, "SIM not inserted" },
  { ESIMD_AT_CME_SIM_PIN_REQUIRED, "SIM PIN required" },
  { ESIMD_AT_CME_SIM_PUK_REQUIRED, "SIM PUK required" },
  { ESIMD_AT_CME_SIM_FAILURE, "SIM failure" },
  { ESIMD_AT_CME_SIM_BUSY, "SIM busy" },
  { ESIMD_AT_CME_SIM_WRONG, "SIM wrong" },
  { ESIMD_AT_CME_MEMORY_FULL, "memory full" },
  { ESIMD_AT_CME_INVALID_INDEX, "invalid index" },
  { ESIMD_AT_CME_NOT_FOUND, "not found" },
  { ESIMD_AT_CME_TEXT_TOO_LONG, "text string too long" },
  { ESIMD_AT_CME_INVALID_CHARACTERS, "invalid characters in text string" },
  { ESIMD_AT_CME_INCORRECT_PARAMETERS, "incorrect parameters" },
  { ESIMD_AT_CME_UNKNOWN, "unknown" },
};

int
esimd_at_cme_code (const char *text)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cme_names); i++)
    if (g_ascii_strcasecmp (cme_names[i].name, text) == 0)
      return cme_names[i].code;
  return -1;
}

const char *
esimd_at_cme_name (int code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (cme_names); i++)
    if (cme_names[i].code == code)
      return cme_names[i].name;
  return NULL;
}

GError *
esimd_at_response_error (const EsimdAtResponse *r, const char *modem, const char *what)
{
  const char *kind = r->final == ESIMD_AT_FINAL_CMS_ERROR ? "+CMS ERROR" : "+CME ERROR";

  switch (r->final)
    {
    case ESIMD_AT_FINAL_OK:
    case ESIMD_AT_FINAL_NONE:
      return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s: no final result", modem,
                          what);
    case ESIMD_AT_FINAL_ERROR:
      return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s: ERROR", modem, what);
    case ESIMD_AT_FINAL_CME_ERROR:
    case ESIMD_AT_FINAL_CMS_ERROR:
      if (r->error_text)
        return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s: %s: %s", modem, what,
                            kind, r->error_text);
      if (r->error_code >= 0)
        {
          const char *name =
              r->final == ESIMD_AT_FINAL_CME_ERROR ? esimd_at_cme_name (r->error_code) : NULL;

          return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s: %s: %d (%s)", modem,
                              what, kind, r->error_code, name ? name : "no name in 27.007 §9.2");
        }
      return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: %s: %s: (no code)", modem,
                          what, kind);
    }
  g_assert_not_reached ();
}

/* ---- payloads ------------------------------------------------------------------------------ */

static GError *
malformed (const char *what, const char *text)
{
  /* The text is the modem's, but an APDU answer may carry profile data: say how long it was,
   * never what it said. */
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                      "malformed %s (%" G_GSIZE_FORMAT " characters)", what, strlen (text));
}

/* Takes the text between optional double quotes, trimmed of spaces; NULL if a quote is
 * unbalanced. */
static char *
unquote (const char *text)
{
  g_autoptr (LpaSecret) s = g_strstrip (g_strdup (text));
  gsize len = strlen (s);

  if (len && s[0] == '"')
    {
      if (len < 2 || s[len - 1] != '"')
        return NULL;
      s[len - 1] = '\0';
      return g_strstrip (g_strdup (s + 1));
    }
  if (strchr (s, '"'))
    return NULL;
  return g_steal_pointer (&s);
}

GBytes *
esimd_at_parse_apdu_answer (const char *text, GError **error)
{
  const char *comma = strchr (text, ',');
  g_autofree char *len_text = NULL;
  g_autoptr (LpaSecret) hex = NULL;
  guint8 *buf = NULL;
  guint64 declared;
  gsize n;

  if (!comma)
    {
      g_propagate_error (error, malformed ("APDU answer: no length", text));
      return NULL;
    }
  len_text = g_strstrip (g_strndup (text, (gsize) (comma - text)));
  hex = unquote (comma + 1);
  if (!g_ascii_string_to_unsigned (len_text, 10, 0, ESIMD_AT_MAX_LINE, &declared, NULL) || !hex)
    {
      g_propagate_error (error, malformed ("APDU answer", text));
      return NULL;
    }
  n = strlen (hex);
  if (n != declared)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "APDU answer of %" G_GSIZE_FORMAT
                   " hex characters says it has %" G_GUINT64_FORMAT,
                   n, declared);
      return NULL;
    }
  if (n < 4 || n % 2)
    {
      g_propagate_error (error, malformed ("APDU answer: not a whole R-APDU", text));
      return NULL;
    }
  buf = g_malloc (n / 2);
  for (gsize i = 0; i < n / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        {
          g_propagate_error (error, malformed ("APDU answer: not hex", text));
          lpa_secret_wipe (buf, i);
          g_free (buf);
          return NULL;
        }
      buf[i] = (guint8) (hi << 4 | lo);
    }
  return lpa_secret_bytes_new_take (buf, n / 2);
}

char *
esimd_at_parse_session (const char *text, GError **error)
{
  g_autofree char *s =
      unquote (has_prefix_ci (text, "+CCHO:") ? after_prefix (text, "+CCHO:") : text);
  gsize len = s ? strlen (s) : 0;

  if (len == 0 || len > 32)
    goto bad;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isxdigit (s[i]))
      goto bad;
  return g_steal_pointer (&s);

bad:
  g_propagate_error (error, malformed ("session id of AT+CCHO", text));
  return NULL;
}

char *
esimd_at_parse_imei (const char *text, GError **error)
{
  g_autofree char *s =
      unquote (has_prefix_ci (text, "+CGSN:") ? after_prefix (text, "+CGSN:") : text);
  gsize len = s ? strlen (s) : 0;

  if (len != 15)
    goto bad;
  for (gsize i = 0; i < len; i++)
    if (!g_ascii_isdigit (s[i]))
      goto bad;
  return g_steal_pointer (&s);

bad:
  g_propagate_error (error, malformed ("IMEI of AT+CGSN", text));
  return NULL;
}

typedef gpointer (*PayloadParser) (const char *text, GError **error);

/* The payload of an answer that has one of a known shape (a response APDU, a session id, an
 * IMEI): the first prefixed line with content, which must parse; where there is none, the first
 * bare line that parses. Only a line of the answer's exact shape stands for the answer: a bare
 * line of another shape is a notice no list knows (SIMCom's "DST: 1" was one until it was
 * listed), or an echo cut in the middle. */
static gpointer
response_find (const EsimdAtResponse *r, PayloadParser parse, const char *what, GError **error)
{
  const char *info = first_prefixed (r);

  if (info)
    return parse (info, error);
  for (guint i = 0; r->bare && i < r->other->len; i++)
    {
      gpointer found = parse (r->other->pdata[i], NULL);

      if (found)
        return found;
    }
  if (r->bare && r->other->len)
    g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                 "no %s in the answer (%u lines without %s, none of its form)", what, r->other->len,
                 r->prefix ? r->prefix : "a prefix");
  else
    g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "no %s in the answer", what);
  return NULL;
}

static gpointer
parse_apdu (const char *text, GError **error)
{
  return esimd_at_parse_apdu_answer (text, error);
}

static gpointer
parse_session (const char *text, GError **error)
{
  return esimd_at_parse_session (text, error);
}

static gpointer
parse_imei (const char *text, GError **error)
{
  return esimd_at_parse_imei (text, error);
}

GBytes *
esimd_at_response_apdu (const EsimdAtResponse *r, GError **error)
{
  return response_find (r, parse_apdu, "response APDU", error);
}

char *
esimd_at_response_session (const EsimdAtResponse *r, GError **error)
{
  return response_find (r, parse_session, "session id", error);
}

char *
esimd_at_response_imei (const EsimdAtResponse *r, GError **error)
{
  return response_find (r, parse_imei, "IMEI", error);
}

gsize
esimd_at_apdu_line_length (const char *session, gsize apdu_len)
{
  char digits[24];
  gsize n = (gsize) g_snprintf (digits, sizeof digits, "%" G_GSIZE_FORMAT, apdu_len * 2);

  /* AT+CGLA=<session>,<len>,"<hex>"\r  or  AT+CSIM=<len>,"<hex>"\r */
  return strlen ("AT+CGLA=") + (session ? strlen (session) + 1 : 0) + n + 2 + apdu_len * 2 + 1 + 1;
}

char *
esimd_at_format_apdu (const char *session, GBytes *apdu)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (apdu, &len);
  GString *s = g_string_sized_new (esimd_at_apdu_line_length (session, len));

  if (session)
    g_string_append_printf (s, "AT+CGLA=%s,%" G_GSIZE_FORMAT ",\"", session, len * 2);
  else
    g_string_append_printf (s, "AT+CSIM=%" G_GSIZE_FORMAT ",\"", len * 2);
  /* Sized for all of it, and no printf of the bytes: the line is an LpaSecret (it may carry a
   * matching ID), and no other copy is left. */
  for (gsize i = 0; i < len; i++)
    {
      g_string_append_c (s, "0123456789ABCDEF"[data[i] >> 4]);
      g_string_append_c (s, "0123456789ABCDEF"[data[i] & 0x0F]);
    }
  g_string_append_c (s, '"');
  return g_string_free (s, FALSE);
}
