/* pcsc-apdu.h — the card and reader bytes the PC/SC transport handles itself, without I/O.
 *
 * A modem hides the T=0 procedure bytes and opens channels with its own messages; a smart-card
 * reader does neither, so the PC/SC transport must: resolve 61xx with GET RESPONSE and 6Cxx by
 * sending the command again with the right Le (ISO/IEC 7816-3 §10.3.3, 7816-4 §5.1.3), open and
 * close logical channels with MANAGE CHANNEL (ETSI TS 102 221 §11.1.17), and read pcscd's reader
 * lists. Everything here is pure so it is unit-tested on exact bytes and fuzzed
 * (tests/unit/test-pcsc-apdu.c, tests/fuzz/fuzz-pcsc.c).
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The most response data one command may gather over GET RESPONSE: far above any ES10 answer
 * (liblpa caps a list at 1024 items), far below what would hurt the daemon. */
#define ESIMD_T0_MAX_DATA (1024 * 1024)

/* ISO/IEC 7816-3 §12.1.3: the four cases of a short command APDU. */
typedef enum
{
  ESIMD_APDU_CASE_1 = 1, /* CLA INS P1 P2 */
  ESIMD_APDU_CASE_2,     /* … Le */
  ESIMD_APDU_CASE_3,     /* … Lc data */
  ESIMD_APDU_CASE_4,     /* … Lc data Le */
} EsimdApduCase;

/* The case of @apdu; FALSE (LPA_ERROR_INVALID_ARGUMENT) if its length fields do not add up or it
 * uses extended lengths, which nothing in esimd sends. */
gboolean esimd_apdu_case (const guint8 *apdu, gsize len, EsimdApduCase *out, GError **error);

/* The logical channel a CLA byte addresses (ETSI TS 102 221 §10.1.1), 0..19. */
guint esimd_apdu_channel_of_cla (guint8 cla);

typedef enum
{
  ESIMD_T0_SEND,  /* send esimd_t0_command() and feed its answer */
  ESIMD_T0_DONE,  /* esimd_t0_response() is the answer to the original command */
  ESIMD_T0_ERROR, /* the card's answers cannot be resolved; *error says why */
} EsimdT0Step;

/* One command's exchange with a card: the command, then as many GET RESPONSEs (61xx) and at most
 * one resend with a corrected Le (6Cxx) as the card asks for. */
typedef struct _EsimdT0 EsimdT0;

/* NULL with LPA_ERROR_INVALID_ARGUMENT if @command is not a short command APDU. */
EsimdT0 *esimd_t0_new (const guint8 *command, gsize len, GError **error);
void esimd_t0_free (EsimdT0 *t0);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdT0, esimd_t0_free)

/* The command to send now (first the original, later GET RESPONSE or the resend). */
const guint8 *esimd_t0_command (EsimdT0 *t0, gsize *len);
/* The card's answer to esimd_t0_command(), data + SW1 SW2. */
EsimdT0Step esimd_t0_feed (EsimdT0 *t0, const guint8 *response, gsize len, GError **error);
/* After ESIMD_T0_DONE: every data byte gathered, then the last status word. */
GBytes *esimd_t0_response (EsimdT0 *t0);
/* Commands sent so far, the original included (1 when the card answered at once). */
guint esimd_t0_exchanges (EsimdT0 *t0);

/* MANAGE CHANNEL open (on the basic channel; the card chooses the number). */
GBytes *esimd_manage_channel_open_command (void);
/* MANAGE CHANNEL close of @channel, sent on the basic channel. */
GBytes *esimd_manage_channel_close_command (guint8 channel);
/* The channel number of a MANAGE CHANNEL open's full response (data + SW). FALSE when the card
 * refused (LPA_ERROR_STATUS_WORD, message "SWSW name") or answered something that is not one
 * channel number 1..19 (LPA_ERROR_MALFORMED). */
gboolean esimd_manage_channel_open_parse (const guint8 *response, gsize len, guint8 *channel,
                                          GError **error);

/* Whether a MANAGE CHANNEL open refused with @sw means the card gives us no logical channel at
 * all, so the ISD-R must be used on the basic channel: 6881 (logical channel not supported),
 * 6A81 (function not supported; also what a card with every channel taken answers), 6D00 (no
 * such instruction), 6E00 (no such class). Anything else (6F00, 6985...) is a failure. */
gboolean esimd_manage_channel_unsupported (guint16 sw);

/* SELECT by DF name (@aid, 5..16 bytes) on @channel, asking for the FCI (P2 00, Le 00). */
GBytes *esimd_select_aid_command (guint8 channel, GBytes *aid);

/* The status word closing a response APDU; FALSE if it is shorter than 2 bytes. */
gboolean esimd_apdu_status_word (const guint8 *response, gsize len, guint16 *sw);

/* The reader names in a PC/SC multi-string ("a\0b\0\0", as SCardListReaders returns it), in
 * order. Stops at the empty name or at @len; a name that runs past @len or is not valid UTF-8
 * is left out (pcscd's names are UTF-8; anything else cannot be matched nor logged). */
GStrv esimd_pcsc_split_readers (const char *multi, gsize len);

/* The readers @want (a Reader= value) chooses, best first: an exact name, then every name
 * containing it, in pcscd's order. @want NULL or "": every reader. Never NULL. */
GStrv esimd_pcsc_match_readers (const char *const *readers, const char *want);

G_END_DECLS
