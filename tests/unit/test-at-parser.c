/* test-at-parser.c — the AT response parser (daemon/at-parser.c) on exact bytes.
 *
 * Every transcript says where it comes from: a public log of a real modem (the answer's shape is
 * kept byte for byte; long APDU payloads are replaced by short ones of the same form), or
 * "written for esimd" where it is ours, built from 3GPP TS 27.007 / ITU-T V.250. Each is fed to
 * the reader whole and cut at every byte position, as a tty may deliver it. */
#include "unit-support.h"

#include "at-parser.h"
#include "lpa-error.h"

#include <string.h>

typedef struct
{
  const char *name;
  const char *source;
  const char *command; /* what was sent */
  const char *prefix;  /* the information prefix waited for */
  gboolean bare;
  const char *bytes; /* what the modem answered, exactly */
  EsimdAtFinal final;
  const char *info; /* the information line taken, NULL for none */
  guint urcs;
  guint echoes;
} Transcript;

static const Transcript transcripts[] = {
  { "sierra-ccho-handle", "lpac issue #138 (Sierra MC7455): the session id is a 64-bit handle",
    "AT+CCHO=\"A0000005591010FFFFFFFF8900000100\"", "+CCHO:", TRUE,
    "\r\n+CCHO: 000000000385a7cf\r\n\r\nOK\r\n", ESIMD_AT_FINAL_OK, "000000000385a7cf", 0, 0 },
  { "fibocom-ccho-bare", "lpac issue #209 (Fibocom FM350-GL): AT+CCHO answered by a bare 1",
    "AT+CCHO=\"A0000005591010FFFFFFFF8900000100\"", "+CCHO:", TRUE, "\r\n1\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "1", 0, 0 },
  { "fibocom-echo-head-lost",
    "lpac issue #179 (Fibocom FM350-GL): the echo came back as T+CCHC=1, its A lost", "AT+CCHC=1",
    NULL, FALSE, "T+CCHC=1\r\n\r\nOK\r\n", ESIMD_AT_FINAL_OK, NULL, 0, 1 },
  { "fibocom-cchc-error", "lpac issue #209 (Fibocom FM350-GL): AT+CCHC of a closed session",
    "AT+CCHC=2", NULL, FALSE, "\r\nERROR\r\n", ESIMD_AT_FINAL_ERROR, NULL, 0, 0 },
  { "simcom-cgla-no-space", "lpac pull request #238 (SIMCom A7908E): +CGLA: without a space",
    "AT+CGLA=1,16,\"81E2910003BF3C00\"", "+CGLA:", FALSE, "\r\n+CGLA:4,\"611A\"\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "4,\"611A\"", 0, 0 },
  { "quectel-eg25-echo-on",
    "lpac issue #173 (Quectel EG25-G): echo left on, the command comes back before the answer",
    "AT+CGLA=1,14,\"81E2910003BF2E\"", "+CGLA:", FALSE,
    "AT+CGLA=1,14,\"81E2910003BF2E\"\r\n+CGLA: 4,\"9000\"\r\n\r\nOK\r\n", ESIMD_AT_FINAL_OK,
    "4,\"9000\"", 0, 1 },
  { "quectel-eg95-csim-cme0", "atsign-foundation issue #1568 (Quectel EG95): AT+CSIM refused",
    "AT+CSIM=24,\"01A4040007A0000005590010\"", "+CSIM:", FALSE, "\r\n+CME ERROR: 0\r\n",
    ESIMD_AT_FINAL_CME_ERROR, NULL, 0, 0 },
  { "csim-manage-channel", "atsign-foundation issue #1568: MANAGE CHANNEL over AT+CSIM gives 01",
    "AT+CSIM=10,\"0070000001\"", "+CSIM:", FALSE, "\r\n+CSIM: 6,\"019000\"\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "6,\"019000\"", 0, 0 },
  { "huawei-command-not-support", "gammu issue #138 (Huawei E1752): its word for ERROR",
    "AT$TSSPCSW=?", NULL, FALSE, "\r\nCOMMAND NOT SUPPORT\r\n", ESIMD_AT_FINAL_ERROR, NULL, 0, 0 },
  { "urcs-everywhere",
    "written for esimd: Quectel-style URCs before, inside and after the answer (V.250 framing)",
    "AT+CGLA=1,10,\"81F2000000\"", "+CGLA:", FALSE,
    "\r\nRDY\r\n\r\n+CPIN: READY\r\n+CGLA: 6,\"01a2b3\"\r\n\r\n+QIND: SMS DONE\r\n+CREG: "
    "1\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "6,\"01a2b3\"", 4, 0 },
  { "cme-verbose", "written for esimd: +CMEE=2 verbose form of 27.007 §9.2", "AT+CCHO=\"A000\"",
    "+CCHO:", TRUE, "\r\n+CME ERROR: SIM not inserted\r\n", ESIMD_AT_FINAL_CME_ERROR, NULL, 0, 0 },
  { "ccho-prefix-alone",
    "written for esimd: the prefix alone on its line and the session id on the next, the form "
    "Fibocom FM350-GL gives +GTCCINFO: (4IceG/luci-app-3ginfo-lite pull request #70), with a "
    "URC between them",
    "AT+CCHO=\"A0000005591010FFFFFFFF8900000100\"", "+CCHO:", TRUE,
    "\r\n+CCHO:\r\n+QUSIM: 1\r\n2\r\n\r\nOK\r\n", ESIMD_AT_FINAL_OK, "2", 1, 0 },
  { "cgsn-prefix-alone", "written for esimd: the same form for AT+CGSN", "AT+CGSN", "+CGSN:", TRUE,
    "\r\n+CGSN:\r\n356938035643809\r\n\r\nOK\r\n", ESIMD_AT_FINAL_OK, "356938035643809", 0, 0 },
  { "cgsn-simcom-dst",
    "written for esimd: SIMCom's network time notices with AT+CLTS=1 (*PSUTTZ:, then DST: <n> "
    "without a sigil, which a SIM7070G diagnostic script strips from its answers) before a bare "
    "IMEI",
    "AT+CGSN", "+CGSN:", TRUE,
    "\r\n*PSUTTZ: 24/12/06,20:00:00\",+04\",1\r\n\r\nDST: 1\r\n\r\n868298067490038\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "868298067490038", 2, 0 },
  { "cgmi-simcom-undervoltage",
    "written for esimd: SIMCom's supply warning, spelt WARNNING as SIMCom drivers list it, before "
    "the manufacturer",
    "AT+CGMI", "+CGMI:", TRUE, "\r\nUNDER-VOLTAGE WARNNING\r\nSIMCOM_Ltd\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "SIMCOM_Ltd", 1, 0 },
  { "cgsn-bare", "written for esimd: AT+CGSN answers the IMEI without a prefix (27.007 §5.4)",
    "AT+CGSN", "+CGSN:", TRUE, "\r\n356938035643809\r\n\r\nOK\r\n", ESIMD_AT_FINAL_OK,
    "356938035643809", 0, 0 },
  { "cgsn-after-cmt-pdu",
    "written for esimd: an SMS routed to the port in PDU mode (27.005 §3.4.1, +CMT: [<alpha>],"
    "<length> and the PDU on the next line) just before a bare answer",
    "AT+CGSN", "+CGSN:", TRUE,
    "\r\n+CMT: ,24\r\n07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
    "\r\n\r\n356938035643809\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "356938035643809", 1, 0 },
  { "ccho-bare-after-cmt-text",
    "written for esimd: an SMS in text mode whose body reads OK, before a bare AT+CCHO answer "
    "(Fibocom FM350-GL form, lpac issue #209)",
    "AT+CCHO=\"A0000005591010FFFFFFFF8900000100\"", "+CCHO:", TRUE,
    "\r\n+CMT: \"+393331234567\",,\"24/12/06,20:00:00+04\"\r\nOK\r\n\r\n1\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "1", 1, 0 },
  { "cgla-after-cds-and-cbm",
    "written for esimd: a status report in PDU mode (+CDS: <length>, then the PDU), one in text "
    "mode (a single line) and a cell broadcast (+CBM: <length>, then the PDU) among the lines",
    "AT+CGLA=1,10,\"81F2000000\"", "+CGLA:", FALSE,
    "\r\n+CDS: 25\r\n0791447758100650060D91447758190896F1\r\n"
    "+CDS: 6,202,\"+3912345678\",145,\"24/12/06,20:00:00+04\",\"24/12/06,20:00:05+04\",0\r\n"
    "+CGLA: 4,\"9000\"\r\n+CBM: 88\r\n001000DD001133DAED46ABD56AB5186CD668341A8D46\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "4,\"9000\"", 3, 0 },
  { "cgmi-simcom-qcrdy",
    "written for esimd: SIMCom SIM7670G's QCRDY, a notice without a sigil it prints unasked "
    "(espressif/esp-protocols issue #669), before the manufacturer",
    "AT+CGMI", "+CGMI:", TRUE, "\r\nQCRDY\r\n\r\nSIMCOM INCORPORATED\r\n\r\nOK\r\n",
    ESIMD_AT_FINAL_OK, "SIMCOM INCORPORATED", 1, 0 },
  { "lf-only-and-noise",
    "written for esimd: bare LF line ends, NUL bytes of a UART settling, SMS Ready noise",
    "AT+CGMI", "+CGMI:", TRUE, "\0\0\nSMS Ready\nQuectel\n\nOK\n", ESIMD_AT_FINAL_OK, "Quectel", 1,
    0 },
};

/* The bytes of a transcript (they may hold NUL, so not strlen). */
static gsize
transcript_len (const Transcript *t)
{
  if (g_str_equal (t->name, "lf-only-and-noise"))
    return 2 + strlen (t->bytes + 2);
  return strlen (t->bytes);
}

static EsimdAtResponse *
run (const Transcript *t, gsize cut)
{
  g_autoptr (EsimdAtReader) reader = esimd_at_reader_new ();
  EsimdAtResponse *r = esimd_at_response_new (t->command, t->prefix, t->bare);
  gsize len = transcript_len (t);
  gboolean done = FALSE;
  const gsize parts[2][2] = { { 0, cut }, { cut, len - cut } };

  for (guint p = 0; p < 2; p++)
    {
      char *line;

      g_assert_true (esimd_at_reader_feed (reader, (const guint8 *) t->bytes + parts[p][0],
                                           parts[p][1], NULL));
      while ((line = esimd_at_reader_next_line (reader)))
        {
          g_assert_false (done); /* nothing after the final result code */
          done = esimd_at_response_add_line (r, line);
          g_free (line);
        }
    }
  g_assert_true (done);
  return r;
}

static void
test_transcripts (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (transcripts); i++)
    {
      const Transcript *t = &transcripts[i];

      for (gsize cut = 0; cut <= transcript_len (t); cut++)
        {
          g_autoptr (EsimdAtResponse) r = run (t, cut);

          if (g_test_verbose () && cut == 0)
            g_test_message ("%s (%s)", t->name, t->source);
          g_assert_cmpint (r->final, ==, t->final);
          g_assert_cmpstr (esimd_at_response_info (r), ==, t->info);
          g_assert_cmpuint (r->urcs, ==, t->urcs);
          g_assert_cmpuint (r->echoes, ==, t->echoes);
        }
    }
}

static void
test_cme (void)
{
  g_autoptr (EsimdAtResponse) numeric = esimd_at_response_new ("AT+CCHO=\"A0\"", "+CCHO:", TRUE);
  g_autoptr (EsimdAtResponse) verbose = esimd_at_response_new ("AT+CCHO=\"A0\"", "+CCHO:", TRUE);
  g_autoptr (EsimdAtResponse) cms = esimd_at_response_new ("AT+CSIM=4,\"0000\"", NULL, FALSE);
  g_autoptr (GError) e1 = NULL, e2 = NULL, e3 = NULL;

  g_assert_true (esimd_at_response_add_line (numeric, "+CME ERROR: 14"));
  g_assert_cmpint (numeric->error_code, ==, ESIMD_AT_CME_SIM_BUSY);
  e1 = esimd_at_response_error (numeric, "m", "AT+CCHO");
  unit_assert_error (e1, LPA_ERROR_TRANSPORT, "modem m: AT+CCHO: +CME ERROR: 14 (SIM busy)");

  /* The verbose form (AT+CMEE=2) names the same code: the transport acts on the code. */
  g_assert_true (esimd_at_response_add_line (verbose, "+CME ERROR: SIM failure"));
  g_assert_cmpint (verbose->error_code, ==, ESIMD_AT_CME_SIM_FAILURE);
  e2 = esimd_at_response_error (verbose, "m", "AT+CCHO");
  unit_assert_error (e2, LPA_ERROR_TRANSPORT, "modem m: AT+CCHO: +CME ERROR: SIM failure");

  g_assert_true (esimd_at_response_add_line (cms, "+CMS ERROR:500"));
  g_assert_cmpint (cms->error_code, ==, 500);
  e3 = esimd_at_response_error (cms, "m", "AT+CSIM");
  unit_assert_error (e3, LPA_ERROR_TRANSPORT, "+CMS ERROR: 500");

  /* Every word the transport acts on, in the case modems write it (Quectel and SIMCom manuals
   * capitalise the first letter; 27.007 does not); a text no table names keeps no code. */
  {
    static const struct
    {
      const char *line;
      int code;
    } words[] = {
      { "+CME ERROR: operation not supported", ESIMD_AT_CME_OPERATION_NOT_SUPPORTED },
      { "+CME ERROR: Operation not allowed", ESIMD_AT_CME_OPERATION_NOT_ALLOWED },
      { "+CME ERROR: SIM busy", ESIMD_AT_CME_SIM_BUSY },
      { "+CME ERROR: SIM not inserted", ESIMD_AT_CME_SIM_NOT_INSERTED },
      { "+CME ERROR: Incorrect parameters", ESIMD_AT_CME_INCORRECT_PARAMETERS },
      { "+CME ERROR:text string too long", ESIMD_AT_CME_TEXT_TOO_LONG },
      { "+CME ERROR: no network service", -1 },
      { "+CMS ERROR: SIM busy", -1 }, /* +CMS codes are another table (27.005 §3.2.5) */
    };

    for (gsize i = 0; i < G_N_ELEMENTS (words); i++)
      {
        g_autoptr (EsimdAtResponse) r = esimd_at_response_new ("AT+CCHO=\"A0\"", "+CCHO:", TRUE);

        g_assert_true (esimd_at_response_add_line (r, words[i].line));
        g_assert_cmpint (r->error_code, ==, words[i].code);
        g_assert_nonnull (r->error_text);
      }
  }

  g_assert_cmpstr (esimd_at_cme_name (10), ==, "SIM not inserted");
  g_assert_cmpstr (esimd_at_cme_name (50), ==, "incorrect parameters");
  g_assert_null (esimd_at_cme_name (9999));
}

/* An unprefixed line that is not a known URC is not information unless the command allows
 * bare answers (AT+CGLA's are judged by esimd_at_response_apdu(), below). */
static void
test_stray_text (void)
{
  g_autoptr (EsimdAtResponse) r = esimd_at_response_new ("AT+CGLA=1,4,\"8000\"", "+CGLA:", FALSE);

  g_assert_false (esimd_at_response_add_line (r, "4,\"9000\""));
  g_assert_true (esimd_at_response_add_line (r, "OK"));
  g_assert_null (esimd_at_response_info (r));
  g_assert_cmpuint (r->urcs, ==, 1);
  /* Lines after the final result belong to no command. */
  g_assert_true (esimd_at_response_add_line (r, "+CGLA: 4,\"9000\""));
  g_assert_null (esimd_at_response_info (r));
  g_assert_true (esimd_at_line_is_final ("+CME ERROR: 3"));
  g_assert_true (esimd_at_line_is_final ("ok"));
  g_assert_false (esimd_at_line_is_final ("OKAY"));
  /* The notices a modem prints only when it has just started say it restarted: Quectel's and
   * SIMCom SIM7600's RDY (Xinyuan-LilyGO/T-SIM7600X pull request #41's boot log), SIMCom
   * A76xx's *ATREADY: 1 (Xinyuan-LilyGO/LilyGo-Modem-Series issue #247, an A7670E), Cinterion's
   * and Huawei ME909s' ^SYSSTART (with " AIRPLANE MODE" when Cinterion starts with its radio
   * off). Notices a modem also prints at other times (the SIM coming up after AT+CFUN=1, a SIM
   * swap) do not. */
  g_assert_true (esimd_at_line_is_restart ("RDY"));
  g_assert_true (esimd_at_line_is_restart ("rdy"));
  g_assert_true (esimd_at_line_is_restart ("*ATREADY: 1"));
  g_assert_true (esimd_at_line_is_restart ("*ATREADY:1"));
  g_assert_true (esimd_at_line_is_restart ("^SYSSTART"));
  g_assert_true (esimd_at_line_is_restart ("^SYSSTART AIRPLANE MODE"));
  g_assert_false (esimd_at_line_is_restart ("APP RDY"));
  g_assert_false (esimd_at_line_is_restart ("+CPIN: READY"));
  g_assert_false (esimd_at_line_is_restart ("SMS DONE"));
  g_assert_false (esimd_at_line_is_restart ("PB DONE"));
  g_assert_false (esimd_at_line_is_restart ("*ATREADY: 10"));
  g_assert_false (esimd_at_line_is_restart ("^SYSSTARTED"));
  g_assert_false (esimd_at_line_is_restart ("+CFUN: 1"));
}

static void
test_apdu_answer (void)
{
  static const struct
  {
    const char *text;
    const char *hex; /* NULL: must fail */
  } cases[] = {
    { "4,\"9000\"", "9000" },
    { "4,9000", "9000" },                 /* unquoted */
    { "6,\"01a2b3\"", "01A2B3" },         /* lower case */
    { " 8 , \"6A82BEEF\" ", "6A82BEEF" }, /* spaces */
    { "4,\"90\"", NULL },                 /* length disagrees */
    { "2,\"90\"", NULL },                 /* no whole status word */
    { "5,\"90001\"", NULL },              /* odd */
    { "4,\"90G0\"", NULL },               /* not hex */
    { "4,\"9000", NULL },                 /* unbalanced quote */
    { "\"9000\"", NULL },                 /* no length */
    { "-4,\"9000\"", NULL },
    { "99999999999999999999,\"9000\"", NULL },
    { "", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) bytes = esimd_at_parse_apdu_answer (cases[i].text, &error);

      if (cases[i].hex)
        {
          g_assert_no_error (error);
          unit_assert_hex (bytes, cases[i].hex);
        }
      else
        {
          g_assert_null (bytes);
          unit_assert_error (error, LPA_ERROR_TRANSPORT, NULL);
        }
    }
}

static void
test_session_and_imei (void)
{
  static const struct
  {
    const char *text;
    const char *session;
  } sessions[] = {
    { "1", "1" },
    { "+CCHO: 1", "1" },
    { "000000000385a7cf", "000000000385a7cf" },
    { "\"2\"", "2" },
    { "", NULL },
    { "1,2", NULL },
    { "-1", NULL },
    { "0123456789abcdef0123456789abcdef0", NULL }, /* 33 characters */
  };
  static const struct
  {
    const char *text;
    const char *imei;
  } imeis[] = {
    { "356938035643809", "356938035643809" },
    { "+CGSN: \"356938035643809\"", "356938035643809" },
    { "35693803564380", NULL },
    { "35693803564380A", NULL },
    { "3569380356438090", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (sessions); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *s = esimd_at_parse_session (sessions[i].text, &error);

      g_assert_cmpstr (s, ==, sessions[i].session);
      if (!s)
        unit_assert_error (error, LPA_ERROR_TRANSPORT, "session id");
    }
  for (gsize i = 0; i < G_N_ELEMENTS (imeis); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autofree char *s = esimd_at_parse_imei (imeis[i].text, &error);

      g_assert_cmpstr (s, ==, imeis[i].imei);
      if (!s)
        unit_assert_error (error, LPA_ERROR_TRANSPORT, "IMEI");
    }
}

static void
test_format (void)
{
  g_autoptr (GBytes) apdu = unit_hex ("81E2910003BF2E00");
  g_autofree char *cgla = esimd_at_format_apdu ("000000000385a7cf", apdu);
  g_autofree char *csim = esimd_at_format_apdu (NULL, apdu);

  g_assert_cmpstr (cgla, ==, "AT+CGLA=000000000385a7cf,16,\"81E2910003BF2E00\"");
  g_assert_cmpstr (csim, ==, "AT+CSIM=16,\"81E2910003BF2E00\"");
  g_assert_cmpuint (esimd_at_apdu_line_length ("000000000385a7cf", 8), ==, strlen (cgla) + 1);
  g_assert_cmpuint (esimd_at_apdu_line_length (NULL, 8), ==, strlen (csim) + 1);
  /* The longest STORE DATA block: 5 + 255 + Le. */
  g_assert_cmpuint (esimd_at_apdu_line_length ("1", 261), ==,
                    strlen ("AT+CGLA=1,522,\"\"") + 522 + 1);
}

/* A modem that resolves 61xx itself answers AT+CGLA with the whole response in one line. Found
 * when notification delivery began retrieving every pending notification in one command: four
 * notifications came back as a line of ~4 400 characters and the reader took it for a framing
 * error, lost the modem and never delivered them. The sizes here: a real chip's 3.3 KB
 * notification list (issue 11) and the longest response APDU, 65 536 bytes and the status word. */
static void
test_long_answer (void)
{
  static const gsize sizes[] = { 3300, 65536 };

  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      gsize n = sizes[i] + 2;
      g_autoptr (EsimdAtReader) reader = esimd_at_reader_new ();
      g_autoptr (GString) text = g_string_new ("\r\n+CGLA: ");
      g_autoptr (GError) error = NULL;
      g_autofree char *line = NULL;
      g_autoptr (GBytes) apdu = NULL;
      const guint8 *data;

      g_string_append_printf (text, "%" G_GSIZE_FORMAT ",\"", 2 * n);
      for (gsize k = 0; k < sizes[i]; k++)
        g_string_append_printf (text, "%02X", (guint) (k & 0xFF));
      g_string_append (text, "9000\"\r\n\r\nOK\r\n");
      g_assert_true (esimd_at_reader_feed (reader, (const guint8 *) text->str, text->len, &error));
      g_assert_no_error (error);
      line = esimd_at_reader_next_line (reader);
      g_assert_nonnull (line);
      g_assert_true (g_str_has_prefix (line, "+CGLA: "));
      apdu = esimd_at_parse_apdu_answer (line + strlen ("+CGLA:"), &error);
      g_assert_no_error (error);
      g_assert_cmpuint (g_bytes_get_size (apdu), ==, n);
      data = g_bytes_get_data (apdu, NULL);
      g_assert_cmpuint (data[sizes[i] - 1], ==, (sizes[i] - 1) & 0xFF);
      g_assert_cmpuint (data[n - 2], ==, 0x90);
    }
}

/* The R-APDU of a whole AT+CGLA/AT+CSIM answer as the transport reads it (bare lines kept): the
 * prefixed line when there is one with content, else a bare line of the answer's exact form. */
static void
test_apdu_bare (void)
{
  static const struct
  {
    const char *name;
    const char *source;
    const char *command;
    const char *bytes;
    const char *hex; /* NULL: must fail */
  } cases[] = {
    { "cgla-bare",
      "written for esimd: the answer without its +CGLA: prefix, as Fibocom FM350-GL answers "
      "AT+CCHO (lpac issues #179 and #209; lpac pull request #427 reports the same for its "
      "APDUs, with no transcript)",
      "AT+CGLA=1,10,\"81F2000000\"", "\r\n4,\"9000\"\r\n\r\nOK\r\n", "9000" },
    { "cgla-prefix-alone",
      "written for esimd: the prefix alone on its line and the data on the next, as FM350-GL "
      "writes +GTCCINFO: (4IceG/luci-app-3ginfo-lite pull request #70)",
      "AT+CGLA=1,10,\"81F2000000\"", "\r\n+CGLA:\r\n6,\"01a2b3\"\r\n\r\nOK\r\n", "01A2B3" },
    { "csim-bare-echo-urc",
      "written for esimd: echo on (lpac issue #173), a Quectel URC, then a bare, unquoted answer",
      "AT+CSIM=10,\"0070000001\"",
      "AT+CSIM=10,\"0070000001\"\r\n\r\n+QUSIM: 1\r\n6,019000\r\n\r\nOK\r\n", "019000" },
    { "csim-echo-head-lost-bare",
      "written for esimd: the echo with its head lost (lpac issue #179) has the answer's form "
      "and length: it is the echo, the next line is the answer",
      "AT+CSIM=10,\"0070000001\"", "10,\"0070000001\"\r\n\r\n6,\"019000\"\r\n\r\nOK\r\n",
      "019000" },
    { "cgla-prefixed-wins", "written for esimd: a prefixed answer is the answer",
      "AT+CGLA=1,10,\"81F2000000\"", "\r\n4,\"6A82\"\r\n+CGLA: 4,\"9000\"\r\n\r\nOK\r\n", "9000" },
    { "cgla-prefixed-malformed",
      "written for esimd: a malformed prefixed answer is an error, not a reason to take another",
      "AT+CGLA=1,10,\"81F2000000\"", "\r\n+CGLA: 4,\"90\"\r\n4,\"9000\"\r\n\r\nOK\r\n", NULL },
    { "cgla-bare-short",
      "written for esimd: a bare line whose length disagrees (a truncated answer) is no answer",
      "AT+CGLA=1,10,\"81F2000000\"", "\r\n8,\"9000\"\r\n\r\nOK\r\n", NULL },
    { "cgla-unknown-line", "written for esimd: a line no list knows, and no answer",
      "AT+CGLA=1,10,\"81F2000000\"", "\r\nNITZ READY\r\n\r\nOK\r\n", NULL },
    { "cgla-nothing", "written for esimd: OK alone", "AT+CGLA=1,10,\"81F2000000\"", "\r\nOK\r\n",
      NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *prefix = g_str_has_prefix (cases[i].command, "AT+CSIM") ? "+CSIM:" : "+CGLA:";
      g_autoptr (EsimdAtReader) reader = esimd_at_reader_new ();
      g_autoptr (EsimdAtResponse) r = esimd_at_response_new (cases[i].command, prefix, TRUE);
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) apdu = NULL;
      gboolean done = FALSE;
      char *line;

      g_test_message ("%s (%s)", cases[i].name, cases[i].source);
      g_assert_true (esimd_at_reader_feed (reader, (const guint8 *) cases[i].bytes,
                                           strlen (cases[i].bytes), NULL));
      while ((line = esimd_at_reader_next_line (reader)))
        {
          done = esimd_at_response_add_line (r, line);
          g_free (line);
        }
      g_assert_true (done);
      g_assert_cmpint (r->final, ==, ESIMD_AT_FINAL_OK);
      apdu = esimd_at_response_apdu (r, &error);
      if (cases[i].hex)
        {
          g_assert_no_error (error);
          unit_assert_hex (apdu, cases[i].hex);
        }
      else
        {
          g_assert_null (apdu);
          unit_assert_error (error, LPA_ERROR_TRANSPORT, NULL);
        }
    }
}

/* A session id or an IMEI is the line of its form: a bare line of another form before it (a
 * notice no list knows) is passed over, a prefixed line must be the answer. */
static void
test_shaped_answers (void)
{
  static const struct
  {
    const char *command;
    const char *bytes;
    const char *expected; /* NULL: must fail */
  } cases[] = {
    { "AT+CGSN", "\r\nNITZ READY\r\n356938035643809\r\n\r\nOK\r\n", "356938035643809" },
    { "AT+CGSN", "\r\n+CGSN: 35693803564380\r\n356938035643809\r\n\r\nOK\r\n", NULL },
    { "AT+CGSN", "\r\nNITZ READY\r\n\r\nOK\r\n", NULL },
    { "AT+CCHO=\"A000\"", "\r\nNITZ READY\r\n3\r\n\r\nOK\r\n", "3" },
    { "AT+CCHO=\"A000\"", "\r\n+CCHO:\r\n0000000003a5b1c9\r\n\r\nOK\r\n", "0000000003a5b1c9" },
    { "AT+CCHO=\"A000\"", "\r\nOK\r\n", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      gboolean cgsn = g_str_equal (cases[i].command, "AT+CGSN");
      g_autoptr (EsimdAtReader) reader = esimd_at_reader_new ();
      g_autoptr (EsimdAtResponse) r =
          esimd_at_response_new (cases[i].command, cgsn ? "+CGSN:" : "+CCHO:", TRUE);
      g_autoptr (GError) error = NULL;
      g_autofree char *found = NULL;
      char *line;

      g_assert_true (esimd_at_reader_feed (reader, (const guint8 *) cases[i].bytes,
                                           strlen (cases[i].bytes), NULL));
      while ((line = esimd_at_reader_next_line (reader)))
        {
          esimd_at_response_add_line (r, line);
          g_free (line);
        }
      g_assert_cmpint (r->final, ==, ESIMD_AT_FINAL_OK);
      found = cgsn ? esimd_at_response_imei (r, &error) : esimd_at_response_session (r, &error);
      g_assert_cmpstr (found, ==, cases[i].expected);
      if (!cases[i].expected)
        unit_assert_error (error, LPA_ERROR_TRANSPORT, NULL);
    }
}

/* A line longer than the reader keeps is a framing error; the reader is usable again after a
 * reset. */
static gboolean
is_quectel (const char *line, gpointer data)
{
  return g_ascii_strcasecmp (line, "Quectel") == 0;
}

/* A free-text answer (AT+CGMI, AT+CGMM) with a line before it that no list knows: the line the
 * caller recognises, else the last one, the one OK follows; never the notice. */
static void
test_free_text (void)
{
  static const struct
  {
    const char *bytes;
    const char *with_known; /* esimd_at_response_text with is_quectel */
    const char *without;    /* with no @known */
  } cases[] = {
    /* written for esimd: an unknown notice without a sigil, then the answer */
    { "\r\nMODEM:STARTUP\r\nQuectel\r\n\r\nOK\r\n", "Quectel", "Quectel" },
    { "\r\nMODEM:STARTUP\r\nEG25GGBR07A08M2G\r\n\r\nOK\r\n", "EG25GGBR07A08M2G",
      "EG25GGBR07A08M2G" },
    /* the answer first, a notice after it: only a known answer is found */
    { "\r\nQuectel\r\nMODEM:STARTUP\r\n\r\nOK\r\n", "Quectel", "MODEM:STARTUP" },
    /* a prefixed answer wins over any bare line */
    { "\r\nMODEM:STARTUP\r\n+CGMI: Quectel\r\n\r\nOK\r\n", "Quectel", "Quectel" },
    { "\r\nOK\r\n", NULL, NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (EsimdAtReader) reader = esimd_at_reader_new ();
      g_autoptr (EsimdAtResponse) r = esimd_at_response_new ("AT+CGMI", "+CGMI:", TRUE);
      char *line;

      g_assert_true (esimd_at_reader_feed (reader, (const guint8 *) cases[i].bytes,
                                           strlen (cases[i].bytes), NULL));
      while ((line = esimd_at_reader_next_line (reader)))
        {
          esimd_at_response_add_line (r, line);
          g_free (line);
        }
      g_assert_cmpint (r->final, ==, ESIMD_AT_FINAL_OK);
      g_assert_cmpstr (esimd_at_response_text (r, is_quectel, NULL), ==, cases[i].with_known);
      g_assert_cmpstr (esimd_at_response_text (r, NULL, NULL), ==, cases[i].without);
      if (cases[i].with_known)
        g_assert_true (esimd_at_response_has_line (r, cases[i].with_known));
      g_assert_false (esimd_at_response_has_line (r, "Fibocom"));
    }
}

static void
test_framing (void)
{
  g_autoptr (EsimdAtReader) reader = esimd_at_reader_new ();
  g_autofree guint8 *junk = g_malloc (ESIMD_AT_MAX_LINE + 1);
  g_autoptr (GError) error = NULL;
  char *line;

  memset (junk, 'A', ESIMD_AT_MAX_LINE + 1);
  g_assert_true (esimd_at_reader_feed (reader, junk, ESIMD_AT_MAX_LINE, NULL));
  g_assert_false (esimd_at_reader_feed (reader, junk, 1, &error));
  unit_assert_error (error, LPA_ERROR_TRANSPORT, "framing");
  esimd_at_reader_reset (reader);
  g_assert_true (esimd_at_reader_feed (reader, (const guint8 *) "OK\r\n", 4, NULL));
  line = esimd_at_reader_next_line (reader);
  g_assert_cmpstr (line, ==, "OK");
  g_free (line);
  g_assert_null (esimd_at_reader_next_line (reader));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/at/transcripts", test_transcripts);
  g_test_add_func ("/at/cme", test_cme);
  g_test_add_func ("/at/stray-text", test_stray_text);
  g_test_add_func ("/at/apdu-answer", test_apdu_answer);
  g_test_add_func ("/at/apdu-bare", test_apdu_bare);
  g_test_add_func ("/at/shaped-answers", test_shaped_answers);
  g_test_add_func ("/at/session-imei", test_session_and_imei);
  g_test_add_func ("/at/format", test_format);
  g_test_add_func ("/at/framing", test_framing);
  g_test_add_func ("/at/free-text", test_free_text);
  g_test_add_func ("/at/long-answer", test_long_answer);
  return g_test_run ();
}
