/* fuzz-qmi-uim.c — libFuzzer harness of esimd's QMI UIM response parsers (daemon/qmi-uim.c). */
#include "fuzz.h"

#include "lpa-error.h"
#include "qmi-uim.h"

/* A QMUX frame is at most 64 KiB; a few frames in a row are what one read() may bring. */
#define INPUT_CAP (256 * 1024)

#define QMUX_HEADER  6 /* marker, length (2), flags, service, client */
#define QMI_HEADER   7 /* flags, transaction (2), message (2), TLV length (2) */
#define SERVICE_UIM  0x0B
#define SDU_RESPONSE 0x02

/* Runs the three parsers on one response, and the check transport-qmi.c makes of a refused Open
 * Logical Channel (a card not up yet is asked again). Each decides on its own whether the message
 * is a good answer; the shared part (the result TLV) must be judged the same by all of them. */
static void
parse_response (QmiMessage *msg)
{
  g_autoptr (GError) open_error = NULL;
  g_autoptr (GError) apdu_error = NULL;
  g_autoptr (GError) close_error = NULL;
  g_autoptr (GBytes) apdu = NULL;
  guint8 channel = 0;
  gboolean opened = esimd_qmi_uim_open_channel_parse (msg, &channel, &open_error);
  gboolean closed = esimd_qmi_uim_close_channel_parse (msg, &close_error);

  apdu = esimd_qmi_uim_send_apdu_parse (msg, &apdu_error);
  if (opened)
    FUZZ_CHECK (channel >= 1 && channel <= 19);
  else
    FUZZ_CHECK (g_error_matches (open_error, LPA_ERROR, LPA_ERROR_TRANSPORT));
  if (apdu)
    {
      guint16 tlv_len = 0;
      const guint8 *raw = qmi_message_get_raw_tlv (msg, 0x10, &tlv_len);

      /* The R-APDU is the TLV's bytes after their length: SW1 SW2 at least. */
      FUZZ_CHECK (g_bytes_get_size (apdu) >= 2);
      FUZZ_CHECK (raw && fuzz_bytes_equal (apdu, raw + 2, (gsize) tlv_len - 2));
    }
  else
    FUZZ_CHECK (g_error_matches (apdu_error, LPA_ERROR, LPA_ERROR_TRANSPORT));
  if (closed)
    FUZZ_CHECK (close_error == NULL);
  else
    FUZZ_CHECK (g_error_matches (close_error, LPA_ERROR, LPA_ERROR_TRANSPORT));
  /* A good open or APDU answer has a good result, which is all a close answer needs. */
  if (opened || apdu)
    FUZZ_CHECK (closed);
  /* "Not ready" is a refusal: never said of an answer the parsers take. */
  if (esimd_qmi_uim_card_not_ready (msg))
    FUZZ_CHECK (!opened && !apdu && !closed);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GByteArray) buffer = NULL;

  fuzz_setup ();
  if (size < 1 || size > INPUT_CAP)
    return 0;

  if (data[0] == 0x01)
    {
      /* Input that starts with the QMUX marker is what the modem's port delivers, possibly
       * several frames: libqmi cuts them as QmiDevice does, and each goes to the parsers. */
      buffer = g_byte_array_new ();
      g_byte_array_append (buffer, data, (guint) size);
    }
  else
    {
      /* Otherwise the bytes after the first are the TLVs of a UIM response whose framing is
       * built here, so that mutations spend their time where qmi-uim.c reads. */
      static const guint16 messages[] = { ESIMD_QMI_UIM_OPEN_LOGICAL_CHANNEL,
                                          ESIMD_QMI_UIM_SEND_APDU, ESIMD_QMI_UIM_LOGICAL_CHANNEL };
      gsize tlvs = MIN (size - 1, (gsize) (G_MAXUINT16 - QMUX_HEADER - QMI_HEADER));
      guint16 qmux_len = (guint16) (QMUX_HEADER - 1 + QMI_HEADER + tlvs);
      guint16 message = messages[data[0] % G_N_ELEMENTS (messages)];
      const guint8 header[QMUX_HEADER + QMI_HEADER] = {
        0x01,
        (guint8) qmux_len,
        (guint8) (qmux_len >> 8),
        0x80,
        SERVICE_UIM,
        0x01,
        SDU_RESPONSE,
        data[0],
        0x00,
        (guint8) message,
        (guint8) (message >> 8),
        (guint8) tlvs,
        (guint8) (tlvs >> 8),
      };

      buffer = g_byte_array_sized_new ((guint) (sizeof header + tlvs));
      g_byte_array_append (buffer, header, sizeof header);
      g_byte_array_append (buffer, data + 1, (guint) tlvs);
    }

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (QmiMessage) msg = NULL;
      guint before = buffer->len;

      if (!(msg = qmi_message_new_from_raw (buffer, &error)))
        break;
      FUZZ_CHECK (buffer->len < before);
      parse_response (msg);
    }
  return 0;
}
