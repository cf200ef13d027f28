/* test-mbim-commands.c — the MBIM requests esimd builds and the answers it reads
 * (daemon/mbim-commands.c), byte for byte.
 *
 * Where the vectors come from:
 *  - requests: the layouts of Microsoft's "MB low level UICC access" and "MB multi-SIM
 *    operations" pages (MS UICC structures give (size, offset) pairs; MBIM 1.0 lists give
 *    (offset, size)), written out by hand; libmbim 1.28.2's builders produce them, and mbimcli
 *    1.28.2 sends the same bytes for the same arguments (tests/sim/test_mbim.py pins those);
 *  - answers: what the simulator's MBIM front (tests/sim/esimsim/mbim.py) sends, which mbimcli
 *    1.28.2 and qmicli 1.32.2 parse (tests/sim/test_mbimcli.py); the Status of a UICC answer
 *    holds SW1 in its lowest byte, as ModemManager (UICC_STATUS_OK 144), ChromeOS Hermes and lpac
 *    read it;
 *  - the EID and FCI are the simulator's test eUICC's (tests/pki). */
#include <string.h>

#include "lpa-error.h"
#include "mbim-commands.h"
#include "unit-support.h"

#define UUID_UICC "c2f6588ef0374bc98665f4d44bd09367"
#define UUID_BC   "a289cc33bcbb8b4fb6b0133ec2aae6df"
#define UUID_BCX  "3d01dcc5fef54d050d3abef7058e9aaf"
#define ISDR      "a0000005591010ffffffff8900000100"

/* COMMAND headers: type 3, length, transaction 0 (MbimDevice numbers them when it sends),
 * fragment 1 of 1. */
#define COMMAND(len)                                                                               \
  "03000000" len "00000000"                                                                        \
  "01000000"                                                                                       \
  "00000000"

static void
assert_message (MbimMessage *msg, const char *hex)
{
  guint32 len = 0;
  const guint8 *raw;
  g_autoptr (GBytes) bytes = NULL;

  g_assert_nonnull (msg);
  raw = mbim_message_get_raw (msg, &len, NULL);
  bytes = g_bytes_new (raw, len);
  unit_assert_hex (bytes, hex);
  mbim_message_unref (msg);
}

static MbimMessage *
answer (const char *hex)
{
  g_autoptr (GBytes) bytes = unit_hex (hex);
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (bytes, &len);

  return mbim_message_new (data, (guint32) len);
}

/* ---- requests ---------------------------------------------------------------------------- */

static void
test_open_channel_request (void)
{
  g_autoptr (GBytes) aid = unit_hex (ISDR);

  /* AppId (size 16, offset 16), SelectP2Arg 04 (FCP), ChannelGroup 3 (esimd's), AppId */
  assert_message (esimd_mbim_open_channel_new (aid),
                  COMMAND ("50000000") UUID_UICC "02000000"
                                                 "01000000"
                                                 "20000000"
                                                 "10000000"
                                                 "10000000"
                                                 "04000000"
                                                 "03000000" ISDR);
}

static void
test_apdu_request_gets_le (void)
{
  /* ES10c GetEID as liblpa sends it on channel 1 (case 3): the 00 of Le is added. Channel 1,
   * secure messaging none, class byte type extended, Command (size 12, offset 20). */
  g_autoptr (GBytes) get_eid = unit_hex ("81e2910006bf3e035c015a");

  assert_message (esimd_mbim_apdu_new (1, get_eid),
                  COMMAND ("50000000") UUID_UICC "04000000"
                                                 "01000000"
                                                 "20000000"
                                                 "01000000"
                                                 "00000000"
                                                 "01000000"
                                                 "0c000000"
                                                 "14000000"
                                                 "81e2910006bf3e035c015a00");
}

static void
test_apdu_request_other_cases_unchanged (void)
{
  g_autoptr (GBytes) with_le = unit_hex ("81e2910006bf3e035c015a12"); /* 6Cxx retry: Le given */
  g_autoptr (GBytes) get_response = unit_hex ("01c0000010");          /* case 2 */
  g_autoptr (GBytes) case1 = unit_hex ("01700080");

  assert_message (esimd_mbim_apdu_new (5, with_le),
                  COMMAND ("50000000") UUID_UICC "04000000"
                                                 "01000000"
                                                 "20000000"
                                                 "05000000"
                                                 "00000000"
                                                 "01000000"
                                                 "0c000000"
                                                 "14000000"
                                                 "81e2910006bf3e035c015a12");
  assert_message (esimd_mbim_apdu_new (1, get_response),
                  COMMAND ("4c000000") UUID_UICC "04000000"
                                                 "01000000"
                                                 "1c000000"
                                                 "01000000"
                                                 "00000000"
                                                 "01000000"
                                                 "05000000"
                                                 "14000000"
                                                 "01c0000010000000");
  assert_message (esimd_mbim_apdu_new (1, case1), COMMAND ("48000000") UUID_UICC "04000000"
                                                                                 "01000000"
                                                                                 "18000000"
                                                                                 "01000000"
                                                                                 "00000000"
                                                                                 "01000000"
                                                                                 "04000000"
                                                                                 "14000000"
                                                                                 "01700080");
}

static void
test_close_and_reset_requests (void)
{
  assert_message (esimd_mbim_close_channel_new (1), COMMAND ("38000000") UUID_UICC "03000000"
                                                                                   "01000000"
                                                                                   "08000000"
                                                                                   "01000000"
                                                                                   "03000000");
  /* channel 0: every channel of group 3 */
  assert_message (esimd_mbim_close_channel_new (0), COMMAND ("38000000") UUID_UICC "03000000"
                                                                                   "01000000"
                                                                                   "08000000"
                                                                                   "00000000"
                                                                                   "03000000");
  /* PassThroughAction 0: disabled, the modem reads the card as an ordinary UICC again */
  assert_message (esimd_mbim_uicc_reset_new (), COMMAND ("34000000") UUID_UICC "06000000"
                                                                               "01000000"
                                                                               "04000000"
                                                                               "00000000");
}

/* ---- answers ----------------------------------------------------------------------------- */

#define DONE(len)                                                                                  \
  "03000080" len "07000000"                                                                        \
  "01000000"                                                                                       \
  "00000000"

static const char open_ok[] =
    DONE ("64000000") UUID_UICC "02000000"
                                "00000000"
                                "34000000"
                                "90000000"
                                "01000000"
                                "21000000"
                                "10000000"
                                "6f1f8410" ISDR "a5049f6501ffe0058203020202"
                                "000000";

static const char apdu_ok[] =
    DONE ("54000000") UUID_UICC "04000000"
                                "00000000"
                                "24000000"
                                "90000000"
                                "15000000"
                                "0c000000"
                                "bf3e125a1089049032123451234512345678901235"
                                "000000";

static void
test_open_channel_answer (void)
{
  g_autoptr (MbimMessage) msg = answer (open_ok);
  g_autoptr (GError) error = NULL;
  guint8 channel = 0;

  g_assert_true (esimd_mbim_open_channel_parse (msg, &channel, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (channel, ==, 1);
}

static void
test_open_channel_refusals (void)
{
  /* status 0x87430002 (SELECT failed) with SW 6A82 in the Status field */
  g_autoptr (MbimMessage) select_failed = answer (DONE ("40000000") UUID_UICC "02000000"
                                                                              "02004387"
                                                                              "10000000"
                                                                              "6a820000"
                                                                              "00000000"
                                                                              "00000000"
                                                                              "00000000");
  /* success, but the card's SELECT answer is 6A82 */
  g_autoptr (MbimMessage) bad_sw = answer (DONE ("40000000") UUID_UICC "02000000"
                                                                       "00000000"
                                                                       "10000000"
                                                                       "6a820000"
                                                                       "01000000"
                                                                       "00000000"
                                                                       "00000000");
  /* channel 20 does not exist (ETSI TS 102 221: 1..19) */
  g_autoptr (MbimMessage) bad_channel = answer (DONE ("40000000") UUID_UICC "02000000"
                                                                            "00000000"
                                                                            "10000000"
                                                                            "90000000"
                                                                            "14000000"
                                                                            "00000000"
                                                                            "00000000");
  /* no free channel: 0x87430001, no buffer */
  g_autoptr (MbimMessage) no_channel = answer (DONE ("30000000") UUID_UICC "02000000"
                                                                           "01004387"
                                                                           "00000000");
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;
  g_autoptr (GError) e3 = NULL;
  g_autoptr (GError) e4 = NULL;
  guint8 channel = 0;

  g_assert_false (esimd_mbim_open_channel_parse (select_failed, &channel, &e1));
  unit_assert_error (e1, LPA_ERROR_TRANSPORT, "no application with this AID (SW 6A82)");
  g_assert_cmpuint (channel, ==, 0);
  g_assert_false (esimd_mbim_open_channel_parse (bad_sw, &channel, &e2));
  unit_assert_error (e2, LPA_ERROR_TRANSPORT, "answered SELECT with 6A82");
  g_assert_cmpuint (channel, ==, 1); /* open on the modem: the caller closes it */
  g_assert_false (esimd_mbim_open_channel_parse (bad_channel, &channel, &e3));
  unit_assert_error (e3, LPA_ERROR_TRANSPORT, "channel 20 is out of range");
  g_assert_false (esimd_mbim_open_channel_parse (no_channel, &channel, &e4));
  unit_assert_error (e4, LPA_ERROR_TRANSPORT, "no free logical channel on the card (0x87430001)");
}

/* Successful opens whose Status is not 90 00:
 *  - 00 00: Qualcomm's MBIM firmware (qbi_svc_msuicc.c, open_channel_s_apdu_rsp_cb_2, the path
 *    for a card without a telecom application, i.e. an eUICC with no profile enabled) copies the
 *    Status from apdu[len - 1] and apdu[len], one byte past the card's 90 00, and sends the FCI
 *    without its SW;
 *  - 61 1C: a SELECT that worked, its FCI held back (TS 102 221 §10.2.1.1), no FCI sent;
 *  - a refused SELECT that Qualcomm's firmware reports with the channel the card opened for it
 *    (open_channel_s_uim3f_rsp_cb adds it to its open channels): its number is the caller's to
 *    close. */
static void
test_open_channel_status_words (void)
{
  g_autoptr (MbimMessage) zero =
      answer (DONE ("60000000") UUID_UICC "02000000"
                                          "00000000"
                                          "30000000"
                                          "00000000"
                                          "02000000"
                                          "1f000000"
                                          "10000000"
                                          "8410" ISDR "a5049f6501ffe005820302020200");
  g_autoptr (MbimMessage) pending = answer (DONE ("40000000") UUID_UICC "02000000"
                                                                        "00000000"
                                                                        "10000000"
                                                                        "611c0000"
                                                                        "01000000"
                                                                        "00000000"
                                                                        "00000000");
  g_autoptr (MbimMessage) refused_in_channel = answer (DONE ("40000000") UUID_UICC "02000000"
                                                                                   "02004387"
                                                                                   "10000000"
                                                                                   "6a820000"
                                                                                   "03000000"
                                                                                   "00000000"
                                                                                   "00000000");
  g_autoptr (GError) error = NULL;
  guint8 channel = 0;

  g_assert_true (esimd_mbim_open_channel_parse (zero, &channel, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (channel, ==, 2);
  g_assert_true (esimd_mbim_open_channel_parse (pending, &channel, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (channel, ==, 1);
  g_assert_false (esimd_mbim_open_channel_parse (refused_in_channel, &channel, &error));
  unit_assert_error (error, LPA_ERROR_TRANSPORT, "no application with this AID (SW 6A82)");
  g_assert_cmpuint (channel, ==, 3);
}

static void
test_apdu_answer (void)
{
  g_autoptr (MbimMessage) msg = answer (apdu_ok);
  g_autoptr (MbimMessage) sw_only = answer (DONE ("3c000000") UUID_UICC "04000000"
                                                                        "00000000"
                                                                        "0c000000"
                                                                        "6a880000"
                                                                        "00000000"
                                                                        "00000000");
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) rapdu = esimd_mbim_apdu_parse (msg, &error);
  g_autoptr (GBytes) sw = NULL;

  g_assert_no_error (error);
  /* the data, then SW1 SW2 taken from the Status */
  unit_assert_hex (rapdu, "bf3e125a1089049032123451234512345678901235"
                          "9000");
  sw = esimd_mbim_apdu_parse (sw_only, &error);
  g_assert_no_error (error);
  unit_assert_hex (sw, "6a88");
}

/* A Status of 0 beside a response that ends in the card's SW: no modem seen doing it, but a
 * Status that is no status word must not turn every answer into SW 0000 (the Status is filled
 * wrongly in real firmware: see test_open_channel_status_words). */
static void
test_apdu_answer_sw_in_the_response (void)
{
  g_autoptr (MbimMessage) msg =
      answer (DONE ("54000000") UUID_UICC "04000000"
                                          "00000000"
                                          "24000000"
                                          "00000000"
                                          "17000000"
                                          "0c000000"
                                          "bf3e125a1089049032123451234512345678901235"
                                          "9000"
                                          "00");
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) rapdu = esimd_mbim_apdu_parse (msg, &error);

  g_assert_no_error (error);
  unit_assert_hex (rapdu, "bf3e125a1089049032123451234512345678901235"
                          "9000");
}

/* Firmware without Microsoft's UICC service: NoDeviceSupport (MBIM 1.0 §9.4.5), or Failure to
 * every Open Channel as Quectel's EM05-G answers (lpac issue #300). The error says what to use. */
static void
test_open_channel_without_the_service (void)
{
  g_autoptr (MbimMessage) unsupported = answer (DONE ("30000000") UUID_UICC "02000000"
                                                                            "09000000"
                                                                            "00000000");
  g_autoptr (MbimMessage) failure = answer (DONE ("30000000") UUID_UICC "02000000"
                                                                        "02000000"
                                                                        "00000000");
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;
  guint8 channel = 0;

  g_assert_false (esimd_mbim_open_channel_parse (unsupported, &channel, &e1));
  unit_assert_error (e1, LPA_ERROR_TRANSPORT,
                     "the modem's MBIM firmware has no MS UICC Low Level Access, use "
                     "Transport=qmi with QmiMode=mbim");
  g_assert_false (esimd_mbim_open_channel_parse (failure, &channel, &e2));
  unit_assert_error (e2, LPA_ERROR_TRANSPORT, "Failure (0x00000002); if this persists");
  g_assert_true (strstr (e2->message, "Transport=at") != NULL);
}

/* The ready status query answered NotInitialized or Busy while the modem reads the card: the
 * card is not ready yet (as ModemManager reads it, mm-broadband-modem-mbim.c), not a failure. */
static void
test_ready_state_not_initialized (void)
{
  g_autoptr (MbimMessage) not_initialized = answer (DONE ("30000000") UUID_BC "02000000"
                                                                              "0e000000"
                                                                              "00000000");
  g_autoptr (MbimMessage) busy = answer (DONE ("30000000") UUID_BC "02000000"
                                                                   "01000000"
                                                                   "00000000");
  g_autoptr (MbimMessage) failure = answer (DONE ("30000000") UUID_BC "02000000"
                                                                      "02000000"
                                                                      "00000000");
  g_autoptr (GError) error = NULL;
  guint32 state = MBIM_SUBSCRIBER_READY_STATE_INITIALIZED;

  g_assert_true (esimd_mbim_ready_state_parse (not_initialized, &state, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (state, ==, MBIM_SUBSCRIBER_READY_STATE_NOT_INITIALIZED);
  state = MBIM_SUBSCRIBER_READY_STATE_INITIALIZED;
  g_assert_true (esimd_mbim_ready_state_parse (busy, &state, &error));
  g_assert_cmpuint (state, ==, MBIM_SUBSCRIBER_READY_STATE_NOT_INITIALIZED);
  g_assert_false (esimd_mbim_ready_state_parse (failure, &state, &error));
  unit_assert_error (error, LPA_ERROR_TRANSPORT, "Subscriber Ready Status refused by the modem");
}

static void
test_other_answers (void)
{
  g_autoptr (MbimMessage) close_ok = answer (DONE ("34000000") UUID_UICC "03000000"
                                                                         "00000000"
                                                                         "04000000"
                                                                         "90000000");
  g_autoptr (MbimMessage) reset_ok = answer (DONE ("34000000") UUID_UICC "06000000"
                                                                         "00000000"
                                                                         "04000000"
                                                                         "00000000");
  g_autoptr (MbimMessage) reset_unsupported = answer (DONE ("30000000") UUID_UICC "06000000"
                                                                                  "09000000"
                                                                                  "00000000");
  g_autoptr (MbimMessage) ready = answer (DONE ("4c000000") UUID_BC "02000000"
                                                                    "00000000"
                                                                    "1c000000"
                                                                    "07000000"
                                                                    "00000000"
                                                                    "00000000"
                                                                    "00000000"
                                                                    "00000000"
                                                                    "00000000"
                                                                    "00000000");
  g_autoptr (MbimMessage) radio = answer (DONE ("38000000") UUID_BC "03000000"
                                                                    "00000000"
                                                                    "08000000"
                                                                    "01000000"
                                                                    "01000000");
  g_autoptr (GError) error = NULL;
  guint32 state = 0;
  gboolean on = FALSE;

  g_assert_true (esimd_mbim_close_channel_parse (close_ok, &error));
  g_assert_true (esimd_mbim_uicc_reset_parse (reset_ok, &error));
  g_assert_false (esimd_mbim_unsupported (reset_ok));
  g_assert_true (esimd_mbim_unsupported (reset_unsupported));
  g_assert_false (esimd_mbim_uicc_reset_parse (reset_unsupported, &error));
  unit_assert_error (error, LPA_ERROR_TRANSPORT, "does not support this command (0x00000009)");
  g_clear_error (&error);
  g_assert_true (esimd_mbim_ready_state_parse (ready, &state, &error));
  g_assert_cmpuint (state, ==, MBIM_SUBSCRIBER_READY_STATE_NO_ESIM_PROFILE);
  g_assert_true (esimd_mbim_radio_state_parse (radio, &on, &error));
  g_assert_true (on);
  g_assert_no_error (error);
}

static void
test_device_caps_imei (void)
{
  /* DeviceId "356938035643809" in UTF-16LE at (offset 0x40, size 0x1e) */
  g_autoptr (MbimMessage) gsm =
      answer (DONE ("98000000") UUID_BC
              "01000000"
              "00000000"
              "68000000"
              "01000000"
              "01000000"
              "01000000"
              "02000000"
              "3f000000"
              "00000000"
              "01000000"
              "01000000"
              "00000000"
              "00000000"
              "40000000"
              "1e000000"
              "60000000"
              "04000000"
              "64000000"
              "04000000"
              "33003500360039003300380030003300350036003400330038003000390000006600770068007700");
  /* a CDMA modem's DeviceId is its MEID: not an IMEI */
  g_autoptr (MbimMessage) cdma =
      answer (DONE ("94000000") UUID_BC "01000000"
                                        "00000000"
                                        "64000000"
                                        "01000000"
                                        "02000000"
                                        "01000000"
                                        "02000000"
                                        "3f000000"
                                        "00000000"
                                        "01000000"
                                        "01000000"
                                        "00000000"
                                        "00000000"
                                        "40000000"
                                        "1c000000"
                                        "5c000000"
                                        "04000000"
                                        "60000000"
                                        "04000000"
                                        "41003100300030003000300034003900410042004300440045004600"
                                        "6600770068007700");
  g_autoptr (GError) error = NULL;
  g_autofree char *imei = esimd_mbim_device_caps_imei_parse (gsm, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (imei, ==, "356938035643809");
  g_assert_null (esimd_mbim_device_caps_imei_parse (cdma, &error));
  unit_assert_error (error, LPA_ERROR_TRANSPORT, "not an IMEI");
}

static void
test_slot_answers (void)
{
  g_autoptr (MbimMessage) caps = answer (DONE ("44000000") UUID_BCX "05000000"
                                                                    "00000000"
                                                                    "14000000"
                                                                    "01000000"
                                                                    "02000000"
                                                                    "01000000"
                                                                    "1aa5510e00000000");
  /* MapCount 1, (offset 12, size 4) → slot 1 */
  g_autoptr (MbimMessage) map = answer (DONE ("40000000") UUID_BCX "07000000"
                                                                   "00000000"
                                                                   "10000000"
                                                                   "01000000"
                                                                   "0c000000"
                                                                   "04000000"
                                                                   "01000000");
  /* slot 1: state 3, empty */
  g_autoptr (MbimMessage) info = answer (DONE ("38000000") UUID_BCX "08000000"
                                                                    "00000000"
                                                                    "08000000"
                                                                    "01000000"
                                                                    "03000000");
  g_autoptr (GError) error = NULL;
  guint slots = 0, active = 9;
  gboolean present = TRUE;

  g_assert_true (esimd_mbim_sys_caps_parse (caps, &slots, &error));
  g_assert_cmpuint (slots, ==, 2);
  g_assert_true (esimd_mbim_slot_mappings_parse (map, &active, &error));
  g_assert_cmpuint (active, ==, 1);
  g_assert_true (esimd_mbim_slot_info_parse (info, 1, &present, &error));
  g_assert_false (present);
  g_assert_no_error (error);
  g_assert_false (esimd_mbim_slot_info_parse (info, 0, &present, &error));
  unit_assert_error (error, LPA_ERROR_TRANSPORT, "asked for slot 0, told of slot 1");
}

/* Found by fuzz-mbim: libmbim 1.28 sizes the map's array from MapCount (here 0xfeff0001) before
 * it checks the buffer, a 32 GiB allocation; esimd checks the count first. */
static void
test_list_count_beyond_the_message (void)
{
  g_autoptr (MbimMessage) map = answer (DONE ("40000000") UUID_BCX "07000000"
                                                                   "00000000"
                                                                   "10000000"
                                                                   "0100fffe"
                                                                   "0c000001"
                                                                   "00000001"
                                                                   "00000000");
  g_autoptr (MbimMessage) ready = answer (DONE ("4c000000") UUID_BC "02000000"
                                                                    "00000000"
                                                                    "1c000000"
                                                                    "01000000"
                                                                    "00000000"
                                                                    "00000000"
                                                                    "00000000"
                                                                    "00000000"
                                                                    "00000000"
                                                                    "ffffffff");
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;
  guint slot = 0;
  guint32 state = 0;

  g_assert_false (esimd_mbim_slot_mappings_parse (map, &slot, &e1));
  unit_assert_error (e1, LPA_ERROR_TRANSPORT, "a list longer than the message");
  g_assert_false (esimd_mbim_ready_state_parse (ready, &state, &e2));
  unit_assert_error (e2, LPA_ERROR_TRANSPORT, "a list longer than the message");
}

static void
test_wrong_answers (void)
{
  /* a FUNCTION_ERROR (NotOpened) in place of the answer */
  g_autoptr (MbimMessage) function_error = answer ("04000080"
                                                   "10000000"
                                                   "07000000"
                                                   "05000000");
  /* the close-channel answer where the APDU's was expected */
  g_autoptr (MbimMessage) other = answer (DONE ("34000000") UUID_UICC "03000000"
                                                                      "00000000"
                                                                      "04000000"
                                                                      "90000000");
  g_autoptr (GError) e1 = NULL;
  g_autoptr (GError) e2 = NULL;

  g_assert_null (esimd_mbim_apdu_parse (function_error, &e1));
  unit_assert_error (e1, LPA_ERROR_TRANSPORT, "MBIM error");
  g_assert_null (esimd_mbim_apdu_parse (other, &e2));
  unit_assert_error (e2, LPA_ERROR_TRANSPORT, "another command");
}

/* Every prefix of a good answer is refused without a crash: the length fields are never
 * trusted. */
static gboolean
parse_any (GBytes *input, GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (input, &len);
  g_autoptr (MbimMessage) msg = NULL;
  g_autoptr (GBytes) rapdu = NULL;
  guint8 channel = 0;

  if (len < 12)
    {
      g_set_error_literal (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "short");
      return FALSE;
    }
  msg = mbim_message_new (data, (guint32) len);
  if (len < 37 || data[36] == 2) /* the CID: open channel, else APDU */
    return esimd_mbim_open_channel_parse (msg, &channel, error);
  rapdu = esimd_mbim_apdu_parse (msg, error);
  return rapdu != NULL;
}

static void
test_truncations (void)
{
  g_autoptr (GBytes) open = unit_hex (open_ok);
  g_autoptr (GBytes) apdu = unit_hex (apdu_ok);

  unit_check_truncations (parse_any, open);
  unit_check_truncations (parse_any, apdu);
  unit_check_mutations (parse_any, apdu);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/mbim/request/open-channel", test_open_channel_request);
  g_test_add_func ("/mbim/request/apdu-le", test_apdu_request_gets_le);
  g_test_add_func ("/mbim/request/apdu-other-cases", test_apdu_request_other_cases_unchanged);
  g_test_add_func ("/mbim/request/close-reset", test_close_and_reset_requests);
  g_test_add_func ("/mbim/answer/open-channel", test_open_channel_answer);
  g_test_add_func ("/mbim/answer/open-channel-refusals", test_open_channel_refusals);
  g_test_add_func ("/mbim/answer/open-channel-status-words", test_open_channel_status_words);
  g_test_add_func ("/mbim/answer/apdu", test_apdu_answer);
  g_test_add_func ("/mbim/answer/ready-state-not-initialized", test_ready_state_not_initialized);
  g_test_add_func ("/mbim/answer/apdu-sw-in-the-response", test_apdu_answer_sw_in_the_response);
  g_test_add_func ("/mbim/answer/open-channel-without-the-service",
                   test_open_channel_without_the_service);
  g_test_add_func ("/mbim/answer/others", test_other_answers);
  g_test_add_func ("/mbim/answer/device-caps-imei", test_device_caps_imei);
  g_test_add_func ("/mbim/answer/slots", test_slot_answers);
  g_test_add_func ("/mbim/answer/wrong", test_wrong_answers);
  g_test_add_func ("/mbim/answer/list-count", test_list_count_beyond_the_message);
  g_test_add_func ("/mbim/answer/truncations", test_truncations);
  return g_test_run ();
}
