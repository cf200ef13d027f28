/* mbim-commands.c — builds esimd's MBIM requests with libmbim's generated API and reads the
 * answers, trusting nothing in them: every answer is checked to be the COMMAND_DONE of the
 * command it answers before libmbim's parser reads its buffer. */
#include "mbim-commands.h"

#include "apdu.h"
#include "lpa-error.h"
#include "secret.h"

#include <string.h>

#define MAX_RESPONSE_APDU 65536 /* data bytes; a short-APDU card sends at most 256 */

MbimMessage *
esimd_mbim_open_channel_new (GBytes *aid)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (aid, &len);

  return mbim_message_ms_uicc_low_level_access_open_channel_set_new (
      (guint32) len, data, ESIMD_MBIM_SELECT_P2, ESIMD_MBIM_CHANNEL_GROUP, NULL);
}

MbimMessage *
esimd_mbim_close_channel_new (guint32 channel)
{
  return mbim_message_ms_uicc_low_level_access_close_channel_set_new (
      channel, ESIMD_MBIM_CHANNEL_GROUP, NULL);
}

MbimMessage *
esimd_mbim_apdu_new (guint32 channel, GBytes *command)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (command, &len);
  guint8 *with_le = NULL;
  MbimMessage *message;

  /* Case 3: a body of Lc and exactly Lc bytes (Lc 0 would be an extended length). */
  if (len > 5 && data[4] != 0 && len == 5 + (gsize) data[4])
    {
      with_le = g_malloc (len + 1);
      memcpy (with_le, data, len);
      with_le[len++] = 0x00;
      data = with_le;
    }
  message = mbim_message_ms_uicc_low_level_access_apdu_set_new (
      channel, MBIM_UICC_SECURE_MESSAGING_NONE, MBIM_UICC_CLASS_BYTE_TYPE_EXTENDED, (guint32) len,
      data, NULL);
  /* The command may hold a secret (a matching ID): esimd's copy is wiped (secret.h); the
   * MbimMessage's is libmbim's. */
  if (with_le)
    {
      lpa_secret_wipe (with_le, len);
      g_free (with_le);
    }
  return message;
}

MbimMessage *
esimd_mbim_uicc_reset_new (void)
{
  return mbim_message_ms_uicc_low_level_access_reset_set_new (MBIM_UICC_PASS_THROUGH_ACTION_DISABLE,
                                                              NULL);
}

/* ---- answers ----------------------------------------------------------------------------- */

static const char *
status_name (guint32 status)
{
  switch (status)
    {
    case ESIMD_MBIM_STATUS_NO_LOGICAL_CHANNELS:
      return "no free logical channel on the card";
    case ESIMD_MBIM_STATUS_SELECT_FAILED:
      return "the card has no application with this AID";
    case ESIMD_MBIM_STATUS_INVALID_LOGICAL_CHANNEL:
      return "the logical channel is not open";
    case MBIM_STATUS_ERROR_SIM_NOT_INSERTED:
      return "no card in the modem's active slot";
    case MBIM_STATUS_ERROR_NO_DEVICE_SUPPORT:
      return "the modem does not support this command";
    default:
      return mbim_status_error_get_string ((MbimStatusError) status);
    }
}

/* The Status of a COMMAND_DONE: after the header (12), the fragment header (8), the service
 * (16) and the CID (4); the information buffer's length follows it (MBIM 1.0 §9.4.3). */
static gboolean
raw_status (const MbimMessage *response, guint32 *status)
{
  guint32 len = 0, le;
  const guint8 *raw = mbim_message_get_raw (response, &len, NULL);

  if (!raw || len < 48)
    return FALSE;
  memcpy (&le, raw + 40, sizeof le);
  *status = GUINT32_FROM_LE (le);
  return TRUE;
}

gboolean
esimd_mbim_response_status (const MbimMessage *response, guint32 *status)
{
  return mbim_message_get_message_type (response) == MBIM_MESSAGE_TYPE_COMMAND_DONE &&
         raw_status (response, status);
}

/* Fragment 0 of 1 (the fragment header follows the 12-byte header). */
static gboolean
whole (const MbimMessage *response)
{
  guint32 len = 0, fragment[2];
  const guint8 *raw = mbim_message_get_raw (response, &len, NULL);

  if (!raw || len < 20)
    return FALSE;
  memcpy (fragment, raw + 12, sizeof fragment);
  return GUINT32_FROM_LE (fragment[0]) == 1 && GUINT32_FROM_LE (fragment[1]) == 0;
}

/* The status of a COMMAND_DONE, or FALSE when @response is not one (for @service/@cid). */
static gboolean
command_done (const MbimMessage *response, MbimService service, guint32 cid, guint32 *status,
              const char *what, GError **error)
{
  g_autoptr (GError) local = NULL;
  guint32 len = 0;

  if (!mbim_message_validate (response, &local))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: malformed answer from the modem: %s",
                   what, local->message);
      return FALSE;
    }
  switch (mbim_message_get_message_type (response))
    {
    case MBIM_MESSAGE_TYPE_COMMAND_DONE:
      break;
    case MBIM_MESSAGE_TYPE_FUNCTION_ERROR:
      {
        g_autoptr (GError) fe = mbim_message_error_get_error (response);

        g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                     "%s: the modem reported an MBIM error: %s", what,
                     fe ? fe->message : "unknown");
        return FALSE;
      }
    default:
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "%s: the modem answered with MBIM message type 0x%08x", what,
                   (guint32) mbim_message_get_message_type (response));
      return FALSE;
    }
  if (!mbim_message_get_raw (response, &len, NULL) || len < 48 || !raw_status (response, status))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: truncated answer", what);
      return FALSE;
    }
  /* MbimDevice hands over whole messages; one that still says "fragment n of m" is not one
   * (and libmbim's getters would refuse it). */
  if (!whole (response))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: the answer is a fragment", what);
      return FALSE;
    }
  if (mbim_message_command_done_get_service (response) != service ||
      mbim_message_command_done_get_cid (response) != cid)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "%s: the modem's answer is for another command", what);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_success (const MbimMessage *response, MbimService service, guint32 cid, const char *what,
               GError **error)
{
  guint32 status = 0;

  if (!command_done (response, service, cid, &status, what, error))
    return FALSE;
  /* A modem whose MBIM firmware lacks Microsoft's UICC service answers its commands
   * NoDeviceSupport (MBIM 1.0 §9.4.5); Quectel's EM05-G answers every Open Channel Failure
   * (lpac issue #300: mbimcli's --ms-set-uicc-open-channel "Failure"). The user needs to hear
   * which transport to use instead, not only that a command failed. */
  if (service == MBIM_SERVICE_MS_UICC_LOW_LEVEL_ACCESS &&
      ((status == MBIM_STATUS_ERROR_NO_DEVICE_SUPPORT &&
        (cid == MBIM_CID_MS_UICC_LOW_LEVEL_ACCESS_OPEN_CHANNEL ||
         cid == MBIM_CID_MS_UICC_LOW_LEVEL_ACCESS_APDU)) ||
       (status == MBIM_STATUS_ERROR_FAILURE &&
        cid == MBIM_CID_MS_UICC_LOW_LEVEL_ACCESS_OPEN_CHANNEL)))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "%s refused by the modem: %s (0x%08x); %s MBIM firmware has no MS UICC Low "
                   "Level Access, use Transport=qmi with QmiMode=mbim (QMI inside MBIM) on a "
                   "Qualcomm modem, or Transport=at on its AT port",
                   what, status_name (status), status,
                   status == MBIM_STATUS_ERROR_FAILURE ? "if this persists, the modem's"
                                                       : "the modem's");
      return FALSE;
    }
  if (status != MBIM_STATUS_ERROR_NONE)
    {
      const char *name = status_name (status);

      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s refused by the modem: %s (0x%08x)",
                   what, name ? name : "unknown status", status);
      return FALSE;
    }
  return TRUE;
}

/* libmbim 1.28 allocates a list's array from the count in the message before it checks that the
 * buffer holds that many (offset, size) pairs: a count of 4 billion is a 32 GiB allocation. A
 * count is checked against the buffer here first. @count_at: where the count is in the
 * information buffer; its pairs follow it. */
static gboolean
list_fits (const MbimMessage *response, guint32 count_at, const char *what, GError **error)
{
  guint32 len = 0, count;
  const guint8 *info = mbim_message_command_done_get_raw_information_buffer (response, &len);

  if (info && len >= count_at + 4)
    {
      memcpy (&count, info + count_at, sizeof count);
      count = GUINT32_FROM_LE (count);
      if (count <= (len - count_at - 4) / 8)
        return TRUE;
    }
  g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
               "%s: malformed answer from the modem: a list longer than the message", what);
  return FALSE;
}

static gboolean
parse_failed (const char *what, GError *parse_error, GError **error)
{
  g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: malformed answer from the modem: %s",
               what, parse_error ? parse_error->message : "unknown");
  g_clear_error (&parse_error);
  return FALSE;
}

/* SW1 is the Status's lowest byte, SW2 the next (how Windows, ModemManager and Hermes read it:
 * ModemManager's UICC_STATUS_OK is 144, i.e. 90 00 00 00 on the wire). */
static guint16
status_sw (guint32 status)
{
  return (guint16) ((status & 0xFF) << 8 | (status >> 8 & 0xFF));
}

/* Whether @sw can be a card's status word at all: SW1 is 6X or 9X (ISO/IEC 7816-4 §5.1.3, and
 * 60 is a procedure byte, never a status). A Status of 0, or one read from the wrong place, is
 * a modem that did not report the card's word. */
static gboolean
is_status_word (guint16 sw)
{
  guint8 sw1 = sw >> 8;

  return (sw1 & 0xF0) == 0x90 || ((sw1 & 0xF0) == 0x60 && sw1 != 0x60);
}

gboolean
esimd_mbim_open_channel_parse (const MbimMessage *response, guint8 *channel, GError **error)
{
  static const char what[] = "MS UICC Open Channel";
  GError *local = NULL;
  guint32 status = 0, sw_status = 0, number = 0, fci_len = 0;
  const guint8 *fci = NULL;
  guint16 sw;

  *channel = 0;
  if (!command_done (response, MBIM_SERVICE_MS_UICC_LOW_LEVEL_ACCESS,
                     MBIM_CID_MS_UICC_LOW_LEVEL_ACCESS_OPEN_CHANNEL, &status, what, error))
    return FALSE;
  if (status == ESIMD_MBIM_STATUS_SELECT_FAILED &&
      mbim_message_ms_uicc_low_level_access_open_channel_response_parse (response, &sw_status,
                                                                         &number, NULL, NULL, NULL))
    {
      /* Qualcomm's firmware keeps a channel the card opened before refusing the SELECT
       * (qbi_svc_msuicc.c, open_channel_s_uim3f_rsp_cb): the caller closes it. */
      if (number >= 1 && number <= 19)
        *channel = (guint8) number;
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s refused by the modem: %s (SW %04X)",
                   what, status_name (status), status_sw (sw_status));
      return FALSE;
    }
  if (!check_success (response, MBIM_SERVICE_MS_UICC_LOW_LEVEL_ACCESS,
                      MBIM_CID_MS_UICC_LOW_LEVEL_ACCESS_OPEN_CHANNEL, what, error))
    return FALSE;
  if (!mbim_message_ms_uicc_low_level_access_open_channel_response_parse (
          response, &sw_status, &number, &fci_len, &fci, &local))
    return parse_failed (what, local, error);
  if (number == 0 || number > 19)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: channel %u is out of range", what,
                   number);
      return FALSE;
    }
  /* The modem said success and named an open channel: the Status is the card's word only when it
   * is one. 61XX is a SELECT that worked with its FCI held back (esimd does not read the FCI).
   * Qualcomm's MBIM firmware, for a card without a telecom application (an eUICC with no profile
   * enabled), copies the Status from one byte past the SELECT answer (qbi_svc_msuicc.c,
   * open_channel_s_apdu_rsp_cb_2: apdu[len - 1], apdu[len]): 90 00 arrives as 00 00. A SELECT
   * the card refused there arrives as success too; the first command in the channel fails. */
  sw = status_sw (sw_status);
  *channel = (guint8) number;
  if (is_status_word (sw) && !lpa_status_word_is_normal (sw) && (sw & 0xFF00) != 0x6100)
    {
      /* *channel stays set: the modem opened it, and it is the caller's to close. */
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: the card answered SELECT with %04X",
                   what, sw);
      return FALSE;
    }
  return TRUE;
}

GBytes *
esimd_mbim_apdu_parse (const MbimMessage *response, GError **error)
{
  static const char what[] = "MS UICC APDU";
  GError *local = NULL;
  guint32 status = 0, len = 0;
  const guint8 *data = NULL;
  guint8 *rapdu;

  if (!check_success (response, MBIM_SERVICE_MS_UICC_LOW_LEVEL_ACCESS,
                      MBIM_CID_MS_UICC_LOW_LEVEL_ACCESS_APDU, what, error))
    return NULL;
  if (!mbim_message_ms_uicc_low_level_access_apdu_response_parse (response, &status, &len, &data,
                                                                  &local))
    {
      parse_failed (what, local, error);
      return NULL;
    }
  if (len > MAX_RESPONSE_APDU || (len && !data))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: %u bytes of response is too long",
                   what, len);
      return NULL;
    }
  /* A Status that holds no status word (0) beside a response that ends in one: the modem passed
   * the card's whole R-APDU through instead of splitting off SW1 SW2. Appending the Status would
   * turn every answer into SW 0000. */
  if (!is_status_word (status_sw (status)) && len >= 2 &&
      is_status_word ((guint16) (data[len - 2] << 8 | data[len - 1])))
    return lpa_secret_bytes_new (data, len);
  rapdu = g_malloc (len + 2);
  if (len)
    memcpy (rapdu, data, len);
  rapdu[len] = (guint8) (status & 0xFF);
  rapdu[len + 1] = (guint8) (status >> 8 & 0xFF);
  return lpa_secret_bytes_new_take (rapdu, len + 2);
}

gboolean
esimd_mbim_close_channel_parse (const MbimMessage *response, GError **error)
{
  return check_success (response, MBIM_SERVICE_MS_UICC_LOW_LEVEL_ACCESS,
                        MBIM_CID_MS_UICC_LOW_LEVEL_ACCESS_CLOSE_CHANNEL, "MS UICC Close Channel",
                        error);
}

gboolean
esimd_mbim_uicc_reset_parse (const MbimMessage *response, GError **error)
{
  return check_success (response, MBIM_SERVICE_MS_UICC_LOW_LEVEL_ACCESS,
                        MBIM_CID_MS_UICC_LOW_LEVEL_ACCESS_RESET, "MS UICC Reset", error);
}

char *
esimd_mbim_device_caps_imei_parse (const MbimMessage *response, GError **error)
{
  static const char what[] = "Device Caps";
  GError *local = NULL;
  g_autofree char *id = NULL;
  gsize n;

  if (!check_success (response, MBIM_SERVICE_BASIC_CONNECT, MBIM_CID_BASIC_CONNECT_DEVICE_CAPS,
                      what, error))
    return NULL;
  if (!mbim_message_device_caps_response_parse (response, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                                                NULL, NULL, &id, NULL, NULL, &local))
    {
      parse_failed (what, local, error);
      return NULL;
    }
  n = id ? strlen (id) : 0;
  for (gsize i = 0; i < n; i++)
    if (!g_ascii_isdigit (id[i]))
      n = 0;
  if (n != 15)
    {
      /* A CDMA modem's DeviceId is an ESN or MEID: not something to send as an IMEI. */
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "%s: the modem's device ID is not an IMEI (15 digits)", what);
      return NULL;
    }
  return g_steal_pointer (&id);
}

gboolean
esimd_mbim_radio_state_parse (const MbimMessage *response, gboolean *on, GError **error)
{
  static const char what[] = "Radio State";
  GError *local = NULL;
  MbimRadioSwitchState hw = MBIM_RADIO_SWITCH_STATE_OFF, sw = MBIM_RADIO_SWITCH_STATE_OFF;

  if (!check_success (response, MBIM_SERVICE_BASIC_CONNECT, MBIM_CID_BASIC_CONNECT_RADIO_STATE,
                      what, error))
    return FALSE;
  if (!mbim_message_radio_state_response_parse (response, &hw, &sw, &local))
    return parse_failed (what, local, error);
  *on = sw == MBIM_RADIO_SWITCH_STATE_ON;
  return TRUE;
}

gboolean
esimd_mbim_ready_state_parse (const MbimMessage *response, guint32 *state, GError **error)
{
  static const char what[] = "Subscriber Ready Status";
  GError *local = NULL;
  MbimSubscriberReadyState ready = MBIM_SUBSCRIBER_READY_STATE_NOT_INITIALIZED;
  guint32 status = 0;

  /* A modem still reading the card may answer the query itself NotInitialized, or Busy:
   * ModemManager (mm-broadband-modem-mbim.c, unlock_required_subscriber_ready_state_ready) takes
   * NotInitialized for the ready state of that name, and so does esimd, Busy too. */
  if (command_done (response, MBIM_SERVICE_BASIC_CONNECT,
                    MBIM_CID_BASIC_CONNECT_SUBSCRIBER_READY_STATUS, &status, what, NULL) &&
      (status == MBIM_STATUS_ERROR_NOT_INITIALIZED || status == MBIM_STATUS_ERROR_BUSY))
    {
      *state = MBIM_SUBSCRIBER_READY_STATE_NOT_INITIALIZED;
      return TRUE;
    }
  /* ReadyState, SubscriberId, SimIccId, ReadyInfo, then ElementCount and its pairs */
  if (!check_success (response, MBIM_SERVICE_BASIC_CONNECT,
                      MBIM_CID_BASIC_CONNECT_SUBSCRIBER_READY_STATUS, what, error) ||
      !list_fits (response, 24, what, error))
    return FALSE;
  if (!mbim_message_subscriber_ready_status_response_parse (response, &ready, NULL, NULL, NULL,
                                                            NULL, NULL, &local))
    return parse_failed (what, local, error);
  *state = ready;
  return TRUE;
}

gboolean
esimd_mbim_sys_caps_parse (const MbimMessage *response, guint *slots, GError **error)
{
  static const char what[] = "System Caps";
  GError *local = NULL;
  guint32 executors = 0, n = 0, concurrency = 0;
  guint64 id = 0;

  if (!check_success (response, MBIM_SERVICE_MS_BASIC_CONNECT_EXTENSIONS,
                      MBIM_CID_MS_BASIC_CONNECT_EXTENSIONS_SYS_CAPS, what, error))
    return FALSE;
  if (!mbim_message_ms_basic_connect_extensions_sys_caps_response_parse (response, &executors, &n,
                                                                         &concurrency, &id, &local))
    return parse_failed (what, local, error);
  /* EsimdModem numbers slots from 1; more than 16 would be a nonsense answer. */
  if (n == 0 || n > 16)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: the modem reports %u SIM slots",
                   what, n);
      return FALSE;
    }
  *slots = n;
  return TRUE;
}

gboolean
esimd_mbim_slot_mappings_parse (const MbimMessage *response, guint *slot, GError **error)
{
  static const char what[] = "Device Slot Mappings";
  GError *local = NULL;
  guint32 count = 0;
  g_autoptr (MbimSlotArray) map = NULL;

  /* MapCount, then its pairs */
  if (!check_success (response, MBIM_SERVICE_MS_BASIC_CONNECT_EXTENSIONS,
                      MBIM_CID_MS_BASIC_CONNECT_EXTENSIONS_DEVICE_SLOT_MAPPINGS, what, error) ||
      !list_fits (response, 0, what, error))
    return FALSE;
  if (!mbim_message_ms_basic_connect_extensions_device_slot_mappings_response_parse (
          response, &count, &map, &local))
    return parse_failed (what, local, error);
  if (count == 0 || !map || !map[0] || map[0]->slot > 15)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: no slot mapped to the modem", what);
      return FALSE;
    }
  *slot = map[0]->slot;
  return TRUE;
}

gboolean
esimd_mbim_slot_info_parse (const MbimMessage *response, guint slot, gboolean *card_present,
                            GError **error)
{
  static const char what[] = "Slot Info Status";
  GError *local = NULL;
  guint32 index = 0;
  MbimUiccSlotState state = MBIM_UICC_SLOT_STATE_UNKNOWN;

  if (!check_success (response, MBIM_SERVICE_MS_BASIC_CONNECT_EXTENSIONS,
                      MBIM_CID_MS_BASIC_CONNECT_EXTENSIONS_SLOT_INFO_STATUS, what, error))
    return FALSE;
  if (!mbim_message_ms_basic_connect_extensions_slot_info_status_response_parse (response, &index,
                                                                                 &state, &local))
    return parse_failed (what, local, error);
  if (index != slot)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: asked for slot %u, told of slot %u",
                   what, slot, index);
      return FALSE;
    }
  switch (state)
    {
    case MBIM_UICC_SLOT_STATE_OFF: /* powered off, but a card is there (OFF_EMPTY says none) */
    case MBIM_UICC_SLOT_STATE_NOT_READY:
    case MBIM_UICC_SLOT_STATE_ACTIVE:
    case MBIM_UICC_SLOT_STATE_ERROR:
    case MBIM_UICC_SLOT_STATE_ACTIVE_ESIM:
    case MBIM_UICC_SLOT_STATE_ACTIVE_ESIM_NO_PROFILES:
      *card_present = TRUE;
      break;
    default:
      *card_present = FALSE;
    }
  return TRUE;
}

gboolean
esimd_mbim_unsupported (const MbimMessage *response)
{
  guint32 status = 0;

  if (!mbim_message_validate (response, NULL) ||
      mbim_message_get_message_type (response) != MBIM_MESSAGE_TYPE_COMMAND_DONE ||
      !whole (response) || !raw_status (response, &status))
    return FALSE;
  return status == MBIM_STATUS_ERROR_NO_DEVICE_SUPPORT ||
         status == MBIM_STATUS_ERROR_OPERATION_NOT_ALLOWED;
}

GError *
esimd_mbim_command_error (const char *what, const GError *error)
{
  if (g_error_matches (error, MBIM_CORE_ERROR, MBIM_CORE_ERROR_TIMEOUT))
    return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: the modem did not answer in time",
                        what);
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: %s", what, error->message);
}
