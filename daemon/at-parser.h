/* at-parser.h — what an AT modem answers (ITU-T V.250, 3GPP TS 27.007), cut into lines and
 * understood, without any I/O: the AT transport feeds it the bytes its tty delivers, the unit
 * tests and the fuzzer feed it transcripts.
 *
 * A modem's answer to one command is: maybe the echo of the command, information lines, and one
 * final result code (OK, ERROR, +CME ERROR: n, +CMS ERROR: n). Unsolicited result codes (+QIND,
 * RDY, +CPIN, +CREG…) may come between any two lines, and a line may arrive in several reads.
 * Every quirk this parser tolerates is one seen in a public log of a real modem; at-quirks.c
 * lists them with their sources. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The longest line the reader keeps. A modem that resolves 61xx itself (GET RESPONSE inside the
 * modem, as many do) answers AT+CGLA with the whole response, which may be as long as the longest
 * response APDU: 65 536 bytes and the status word, as hex, after "+CGLA: <length>,". A real chip's
 * notification list alone is 3.3 KB (6 600 characters). A longer line than this cannot be an
 * answer: the stream is not what we think it is. */
#define ESIMD_AT_MAX_LINE (2 * (65536 + 2) + 64)

/* ---- lines ---------------------------------------------------------------------------------- */

typedef struct _EsimdAtReader EsimdAtReader;

EsimdAtReader *esimd_at_reader_new (void);
void esimd_at_reader_free (EsimdAtReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdAtReader, esimd_at_reader_free)
/* Forgets a partial line (after the device was reopened). */
void esimd_at_reader_reset (EsimdAtReader *reader);
/* Appends what one read() brought. FALSE (LPA_ERROR_TRANSPORT, "framing") when a line grows
 * past ESIMD_AT_MAX_LINE: the caller treats the device as lost and reopens it. */
gboolean esimd_at_reader_feed (EsimdAtReader *reader, const guint8 *data, gsize len,
                               GError **error);
/* The next complete line that is not empty, without its CR/LF, or NULL. NUL bytes and other
 * control characters (line noise while a UART settles) are dropped from the line, and the body
 * line of a two-line URC (+CMT, +CBM, +CDS in PDU mode: an SMS routed to the port) is dropped
 * after its head is taken. */
char *esimd_at_reader_next_line (EsimdAtReader *reader);

/* ---- one command's response ----------------------------------------------------------------- */

typedef enum
{
  ESIMD_AT_FINAL_NONE, /* still waiting */
  ESIMD_AT_FINAL_OK,
  ESIMD_AT_FINAL_ERROR,     /* ERROR, or a vendor's "COMMAND NOT SUPPORT" */
  ESIMD_AT_FINAL_CME_ERROR, /* +CME ERROR: (mobile equipment) */
  ESIMD_AT_FINAL_CMS_ERROR, /* +CMS ERROR: (message service) */
} EsimdAtFinal;

/* 3GPP TS 27.007 §9.2 +CME ERROR codes the transport acts on or names. */
typedef enum
{
  ESIMD_AT_CME_PHONE_FAILURE = 0,
  ESIMD_AT_CME_OPERATION_NOT_ALLOWED = 3,
  ESIMD_AT_CME_OPERATION_NOT_SUPPORTED = 4,
  ESIMD_AT_CME_SIM_NOT_INSERTED = 10,
  ESIMD_AT_CME_SIM_PIN_REQUIRED = 11,
  ESIMD_AT_CME_SIM_PUK_REQUIRED = 12,
  ESIMD_AT_CME_SIM_FAILURE = 13,
  ESIMD_AT_CME_SIM_BUSY = 14,
  ESIMD_AT_CME_SIM_WRONG = 15,
  ESIMD_AT_CME_MEMORY_FULL = 20,
  ESIMD_AT_CME_INVALID_INDEX = 21,
  ESIMD_AT_CME_NOT_FOUND = 22,
  ESIMD_AT_CME_TEXT_TOO_LONG = 24,
  ESIMD_AT_CME_INVALID_CHARACTERS = 25,
  ESIMD_AT_CME_INCORRECT_PARAMETERS = 50,
  ESIMD_AT_CME_UNKNOWN = 100,
} EsimdAtCme;

typedef struct
{
  /* What was sent, to recognise its echo. */
  char *command;
  /* Information lines start with this ("+CGLA:"); NULL when the answer has no prefix. */
  char *prefix;
  /* Lines without the prefix that are not known URCs count as information too (the answer of
   * AT+CGSN, AT+CGMI; the bare session id some firmware answers AT+CCHO with). */
  gboolean bare;

  GPtrArray *info;  /* information lines carrying the prefix, prefix and spaces removed */
  GPtrArray *other; /* with @bare: information lines without it */
  EsimdAtFinal final;
  int error_code;   /* the n of +CME/+CMS ERROR: n, or of a +CME ERROR: <text> that names a
                     * code of 27.007 §9.2; -1 when none or unknown */
  char *error_text; /* +CME/+CMS ERROR: <text> as the modem wrote it (verbose mode) */
  guint urcs;       /* lines taken for unsolicited result codes and skipped */
  guint echoes;     /* lines taken for the echo of the command and skipped */
} EsimdAtResponse;

EsimdAtResponse *esimd_at_response_new (const char *command, const char *prefix, gboolean bare);
void esimd_at_response_free (EsimdAtResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdAtResponse, esimd_at_response_free)

/* Classifies one line of the answer; TRUE once it was the final result code. Lines after that
 * belong to no command: give them to esimd_at_line_is_final() / drop them. */
gboolean esimd_at_response_add_line (EsimdAtResponse *response, const char *line);

/* TRUE if @line is a notice a modem prints only when it has just started (Quectel's and SIMCom
 * SIM7600's RDY, SIMCom A76xx's *ATREADY: 1, Cinterion's and Huawei's ^SYSSTART): it restarted,
 * forgetting the command it was given, its settings and every logical channel. */
gboolean esimd_at_line_is_restart (const char *line);

/* TRUE if @line is a final result code (used to resynchronise after a timeout). */
gboolean esimd_at_line_is_final (const char *line);

/* The one information line the answer is about: the first prefixed one with anything after
 * the prefix, else (with @bare) the first other one (the data of a prefix written alone on its
 * line); NULL if there is none. */
const char *esimd_at_response_info (const EsimdAtResponse *response);

/* Tells whether a bare line of a free-text answer is one esimd recognises (a manufacturer in its
 * family table, say). */
typedef gboolean (*EsimdAtLineKnown) (const char *line, gpointer data);

/* The information of a free-text answer (AT+CGMI, AT+CGMM: read with @bare TRUE), where a line
 * of any form may be the answer: the first prefixed line with content; else the first bare line
 * @known (may be NULL) accepts; else the last bare line, the one the final result code follows
 * (a notice no list knows, as SIMCom SIM7670G's QCRDY was, comes before it). NULL if none. */
const char *esimd_at_response_text (const EsimdAtResponse *response, EsimdAtLineKnown known,
                                    gpointer data);
/* Whether any information line of the answer, prefixed or bare, is @text exactly. */
gboolean esimd_at_response_has_line (const EsimdAtResponse *response, const char *text);

/* The failure an answer that did not end in OK stands for, LPA_ERROR_TRANSPORT, with a message
 * "modem NAME: WHAT: +CME ERROR: 10 (SIM not inserted)". */
GError *esimd_at_response_error (const EsimdAtResponse *response, const char *modem,
                                 const char *what);
/* The name of a +CME ERROR code ("SIM not inserted"), or NULL if this table has none. */
const char *esimd_at_cme_name (int code);
/* The code of a +CME ERROR name, in any case ("sim busy": 14), or -1 if this table has none. */
int esimd_at_cme_code (const char *text);

/* ---- the payload of the answers ------------------------------------------------------------- */

/* The R-APDU of an answer to AT+CGLA or AT+CSIM (read with @bare TRUE): from the first line
 * carrying the prefix that has anything after it; where no line does, from the first line without
 * it that is a whole "<length>,<response>" (firmware that drops the prefix, as Fibocom FM350-GL
 * does for AT+CCHO, or writes the prefix alone on its line and the data on the next, as it does
 * for +GTCCINFO:). A prefixed answer that is malformed is an error, never passed over for
 * another line. */
GBytes *esimd_at_response_apdu (const EsimdAtResponse *response, GError **error);

/* "<length>,<response>" of +CGLA:/+CSIM: (prefix already removed, or absent): the response is
 * hex, upper or lower case, quoted or not, and <length> must be its number of characters. The
 * R-APDU must hold at least SW1 SW2. */
GBytes *esimd_at_parse_apdu_answer (const char *text, GError **error);
/* The <sessionid> of +CCHO: a decimal number (1), or a long hex handle (Sierra: 000000000385a7cf),
 * optionally quoted; returned as the modem wrote it, for AT+CGLA/AT+CCHC. */
char *esimd_at_parse_session (const char *text, GError **error);
/* The IMEI of AT+CGSN (optionally "+CGSN:" and quotes): 15 digits. */
char *esimd_at_parse_imei (const char *text, GError **error);
/* The session id of a whole AT+CCHO answer and the IMEI of a whole AT+CGSN answer (read with
 * @bare TRUE): from the first prefixed line with content, which must parse; where there is none,
 * from the first line without the prefix that parses (a line of another form is a notice no list
 * knows, not the answer). */
char *esimd_at_response_session (const EsimdAtResponse *response, GError **error);
char *esimd_at_response_imei (const EsimdAtResponse *response, GError **error);

/* "AT+CGLA=<session>,<2n>,\"<HEX>\"" or "AT+CSIM=<2n>,\"<HEX>\"" (@session NULL): the APDU in
 * upper-case hex, always quoted (both are what 27.007 specifies and what every firmware in
 * at-quirks.c takes). */
char *esimd_at_format_apdu (const char *session, GBytes *apdu);
/* The length of that command line, CR included, without building it. */
gsize esimd_at_apdu_line_length (const char *session, gsize apdu_len);

G_END_DECLS
