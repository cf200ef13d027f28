/* qmi-uim.c — raw UIM Open Logical Channel / Send APDU / Logical Channel messages (QMI.md). */
#include "qmi-uim.h"

#include "apdu.h"
#include "lpa-error.h"
#include "secret.h"

#define TLV_RESULT 0x02

static gboolean
write_u8_tlv (QmiMessage *msg, guint8 type, guint8 value)
{
  gsize off = qmi_message_tlv_write_init (msg, type, NULL);

  return off && qmi_message_tlv_write_guint8 (msg, value, NULL) &&
         qmi_message_tlv_write_complete (msg, off, NULL);
}

QmiMessage *
esimd_qmi_uim_open_channel_new (guint8 cid, guint16 tid, guint8 slot, GBytes *aid)
{
  g_autoptr (QmiMessage) msg =
      qmi_message_new (QMI_SERVICE_UIM, cid, tid, ESIMD_QMI_UIM_OPEN_LOGICAL_CHANNEL);
  gsize aid_len;
  const guint8 *aid_data = g_bytes_get_data (aid, &aid_len);
  gsize off;

  if (!write_u8_tlv (msg, 0x01, slot))
    return NULL;
  off = qmi_message_tlv_write_init (msg, 0x10, NULL);
  if (!off || !qmi_message_tlv_write_guint8 (msg, (guint8) aid_len, NULL))
    return NULL;
  for (gsize i = 0; i < aid_len; i++)
    if (!qmi_message_tlv_write_guint8 (msg, aid_data[i], NULL))
      return NULL;
  if (!qmi_message_tlv_write_complete (msg, off, NULL))
    return NULL;
  return g_steal_pointer (&msg);
}

QmiMessage *
esimd_qmi_uim_send_apdu_new (guint8 cid, guint16 tid, guint8 slot, guint8 channel, GBytes *apdu)
{
  g_autoptr (QmiMessage) msg = qmi_message_new (QMI_SERVICE_UIM, cid, tid, ESIMD_QMI_UIM_SEND_APDU);
  gsize len;
  const guint8 *data = g_bytes_get_data (apdu, &len);
  gsize off;

  if (len > G_MAXUINT16 || !write_u8_tlv (msg, 0x01, slot))
    return NULL;
  off = qmi_message_tlv_write_init (msg, 0x02, NULL);
  if (!off || !qmi_message_tlv_write_guint16 (msg, QMI_ENDIAN_LITTLE, (guint16) len, NULL))
    return NULL;
  for (gsize i = 0; i < len; i++)
    if (!qmi_message_tlv_write_guint8 (msg, data[i], NULL))
      return NULL;
  if (!qmi_message_tlv_write_complete (msg, off, NULL) || !write_u8_tlv (msg, 0x10, channel))
    return NULL;
  return g_steal_pointer (&msg);
}

QmiMessage *
esimd_qmi_uim_close_channel_new (guint8 cid, guint16 tid, guint8 slot, guint8 channel)
{
  g_autoptr (QmiMessage) msg =
      qmi_message_new (QMI_SERVICE_UIM, cid, tid, ESIMD_QMI_UIM_LOGICAL_CHANNEL);

  /* 0x13 "terminate application": deselect the ISD-R as the channel closes. */
  if (!write_u8_tlv (msg, 0x01, slot) || !write_u8_tlv (msg, 0x11, channel) ||
      !write_u8_tlv (msg, 0x13, 1))
    return NULL;
  return g_steal_pointer (&msg);
}

static gboolean check_result_code (QmiMessage *response, const char *what, guint16 *code_out,
                                   GError **error);

static gboolean
check_result (QmiMessage *response, const char *what, GError **error)
{
  return check_result_code (response, what, NULL, error);
}

static gboolean
check_result_code (QmiMessage *response, const char *what, guint16 *code_out, GError **error)
{
  g_autoptr (GError) local = NULL;
  guint16 status = 0, code = 0;
  gsize pos = 0; /* the read position inside the TLV's value */
  gsize off = qmi_message_tlv_read_init (response, TLV_RESULT, NULL, &local);

  if (!off ||
      !qmi_message_tlv_read_guint16 (response, off, &pos, QMI_ENDIAN_LITTLE, &status, &local) ||
      !qmi_message_tlv_read_guint16 (response, off, &pos, QMI_ENDIAN_LITTLE, &code, &local))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s: the modem's answer has no result",
                   what);
      return FALSE;
    }
  if (code_out)
    *code_out = status != 0 ? code : 0;
  if (status != 0)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT, "%s refused by the modem: %s (%u)", what,
                   qmi_protocol_error_get_string ((QmiProtocolError) code) ?: "unknown", code);
      return FALSE;
    }
  return TRUE;
}

static void
append (GError *error, const char *text)
{
  char *message = g_strconcat (error->message, text, NULL);

  g_free (error->message);
  error->message = message;
}

/* A refused Open Logical Channel may carry the card's answer to its SELECT in TLV 0x11 (SW1
 * SW2). The modem's error code is generic (e.g. "sim-file-not-found" or "internal"); 6A82 says
 * the card in that slot has no ISD-R, i.e. is no eUICC, which the user needs to know. */
static void
add_card_status (QmiMessage *response, GError *error)
{
  g_autoptr (GError) local = NULL;
  guint8 sw1 = 0, sw2 = 0;
  gsize pos = 0;
  gsize off = qmi_message_tlv_read_init (response, 0x11, NULL, &local);
  guint16 sw;
  char *message;

  if (!off || !qmi_message_tlv_read_guint8 (response, off, &pos, &sw1, &local) ||
      !qmi_message_tlv_read_guint8 (response, off, &pos, &sw2, &local))
    return;
  sw = (guint16) (sw1 << 8 | sw2);
  message = g_strdup_printf ("%s; the card answered its SELECT with %04X (%s)", error->message, sw,
                             lpa_status_word_name (sw));
  g_free (error->message);
  error->message = message;
}

gboolean
esimd_qmi_uim_open_channel_parse (QmiMessage *response, guint8 *channel, GError **error)
{
  g_autoptr (GError) local = NULL;
  gsize off, pos = 0;
  guint16 code = 0;

  if (!check_result_code (response, "Open Logical Channel", &code, &local))
    {
      /* Qualcomm's own MBIM function reads this answer as "no free logical channel"
       * (qbi_svc_msuicc.c: InsufficientResources → MBIM_STATUS_MS_NO_LOGICAL_CHANNELS). */
      if (code == QMI_PROTOCOL_ERROR_INSUFFICIENT_RESOURCES)
        append (local, "; no free logical channel on the card: others (ModemManager, another "
                       "LPA) hold them");
      add_card_status (response, local);
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  off = qmi_message_tlv_read_init (response, 0x10, NULL, &local);
  if (!off || !qmi_message_tlv_read_guint8 (response, off, &pos, channel, &local))
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "Open Logical Channel: the modem sent no channel number");
      return FALSE;
    }
  if (*channel == 0 || *channel > 19)
    {
      g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                   "Open Logical Channel: channel %u is out of range", *channel);
      return FALSE;
    }
  return TRUE;
}

GBytes *
esimd_qmi_uim_send_apdu_parse (QmiMessage *response, GError **error)
{
  guint16 tlv_len = 0, apdu_len, code = 0;
  const guint8 *raw;
  g_autoptr (GError) local = NULL;

  if (!check_result_code (response, "Send APDU", &code, &local))
    {
      /* A response longer than one message comes as InsufficientResources with its total length
       * and a token in TLV 0x11, the rest in Send APDU indications (Qualcomm's qbi_svc_msuicc.c
       * puts the pieces together; it asks the modem to skip procedure bytes, request TLV 0x11,
       * so that the modem fetches whole responses). esimd does not ask that, and without TLV 0x11
       * the modem returns the card's intermediate procedure bytes (Qualcomm's MCM SIM API:
       * "UIM_APDU_RETURN_PROCEDURE_BYTES (0x00) ... (Default)"; Telit's QMI SDK likewise): 61xx
       * comes back to liblpa, which sends GET RESPONSE, so no answer is longer than 256 bytes and
       * the status word, far below the message's limit. If one comes, the caller hears what it
       * is. */
      if (code == QMI_PROTOCOL_ERROR_INSUFFICIENT_RESOURCES &&
          qmi_message_get_raw_tlv (response, 0x11, &tlv_len))
        append (local, "; the modem sends this response in pieces by indications, which esimd "
                       "does not read");
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  raw = qmi_message_get_raw_tlv (response, 0x10, &tlv_len);
  if (!raw || tlv_len < 2)
    goto bad;
  apdu_len = (guint16) (raw[0] | raw[1] << 8);
  /* The response APDU always ends with SW1 SW2; its length must fit the TLV exactly. */
  if (apdu_len < 2 || apdu_len != tlv_len - 2)
    goto bad;
  /* An answer may hold a secret (AuthenticateServer's carries the matching ID): esimd's copy is
   * wiped when freed (secret.h); the QmiMessage's is libqmi's. */
  return lpa_secret_bytes_new (raw + 2, apdu_len);

bad:
  g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
               "Send APDU: the modem's answer has no well-formed response APDU");
  return NULL;
}

gboolean
esimd_qmi_uim_close_channel_parse (QmiMessage *response, GError **error)
{
  return check_result (response, "Close Logical Channel", error);
}

gboolean
esimd_qmi_uim_card_not_ready (QmiMessage *response)
{
  guint16 code = 0;

  if (check_result_code (response, "", &code, NULL))
    return FALSE;
  return code == QMI_PROTOCOL_ERROR_UIM_UNINITIALIZED ||
         code == QMI_PROTOCOL_ERROR_DEVICE_NOT_READY;
}
