/* test-qmi-uim.c — the raw QMI UIM answers esimd reads (daemon/qmi-uim.c), byte for byte.
 *
 * Where the vectors come from: the TLV layout of QMI UIM Open Logical Channel (0x0042) in
 * ../shared/design/QMI.md (result 0x02, channel 0x10, SW1 SW2 0x11), written out by hand; the
 * QMI error code 0x0003 is libqmi's QMI_PROTOCOL_ERROR_INTERNAL. */
#include "lpa-error.h"
#include "qmi-uim.h"
#include "unit-support.h"

/* An Open Logical Channel answer with the result TLV (status, QMI error), and optionally the
 * channel TLV and the card's SW1 SW2. */
static QmiMessage *
open_answer (guint16 status, guint16 qmi_error, gint channel, gint sw)
{
  QmiMessage *msg = qmi_message_new (QMI_SERVICE_UIM, 1, 7, ESIMD_QMI_UIM_OPEN_LOGICAL_CHANNEL);
  gsize off = qmi_message_tlv_write_init (msg, 0x02, NULL);

  g_assert_true (off && qmi_message_tlv_write_guint16 (msg, QMI_ENDIAN_LITTLE, status, NULL) &&
                 qmi_message_tlv_write_guint16 (msg, QMI_ENDIAN_LITTLE, qmi_error, NULL) &&
                 qmi_message_tlv_write_complete (msg, off, NULL));
  if (channel >= 0)
    {
      off = qmi_message_tlv_write_init (msg, 0x10, NULL);
      g_assert_true (off && qmi_message_tlv_write_guint8 (msg, (guint8) channel, NULL) &&
                     qmi_message_tlv_write_complete (msg, off, NULL));
    }
  if (sw >= 0)
    {
      off = qmi_message_tlv_write_init (msg, 0x11, NULL);
      g_assert_true (off && qmi_message_tlv_write_guint8 (msg, (guint8) (sw >> 8), NULL) &&
                     qmi_message_tlv_write_guint8 (msg, (guint8) sw, NULL) &&
                     qmi_message_tlv_write_complete (msg, off, NULL));
    }
  return msg;
}

static void
test_open_channel (void)
{
  g_autoptr (QmiMessage) opened = open_answer (0, 0, 2, 0x9000);
  g_autoptr (QmiMessage) no_isdr = open_answer (1, 0x0003, -1, 0x6A82);
  g_autoptr (QmiMessage) refused = open_answer (1, 0x0003, -1, -1);
  g_autoptr (QmiMessage) no_channel = open_answer (0, 0, -1, 0x9000);
  g_autoptr (GError) error = NULL;
  guint8 channel = 0;

  g_assert_true (esimd_qmi_uim_open_channel_parse (opened, &channel, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (channel, ==, 2);

  /* The card's status word names what the modem's generic error does not. */
  g_assert_false (esimd_qmi_uim_open_channel_parse (no_isdr, &channel, &error));
  g_assert_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT);
  g_assert_cmpstr (error->message, ==,
                   "Open Logical Channel refused by the modem: Internal (3); the card answered "
                   "its SELECT with 6A82 (application not found)");
  g_clear_error (&error);
  g_assert_false (esimd_qmi_uim_open_channel_parse (refused, &channel, &error));
  g_assert_cmpstr (error->message, ==, "Open Logical Channel refused by the modem: Internal (3)");
  g_clear_error (&error);
  g_assert_false (esimd_qmi_uim_open_channel_parse (no_channel, &channel, &error));
  unit_assert_error (error, LPA_ERROR_TRANSPORT, "no channel number");
  g_clear_error (&error);
  /* Every channel taken (68, InsufficientResources): Qualcomm's MBIM function reads it as "no
   * free logical channel" (qbi_svc_msuicc.c); the caller hears that, not only the code. */
  {
    g_autoptr (QmiMessage) full = open_answer (1, 68, -1, -1);

    g_assert_false (esimd_qmi_uim_open_channel_parse (full, &channel, &error));
    g_assert_cmpstr (error->message, ==,
                     "Open Logical Channel refused by the modem: InsufficientResources (68); no "
                     "free logical channel on the card: others (ModemManager, another LPA) hold "
                     "them");
  }
}

/* A card still starting (UimUninitialized 37, DeviceNotReady 52: libqmi's QmiProtocolError) is
 * told apart from every other refusal, and from success. */
static void
test_card_not_ready (void)
{
  g_autoptr (QmiMessage) uninitialized = open_answer (1, 37, -1, -1);
  g_autoptr (QmiMessage) not_ready = open_answer (1, 52, -1, -1);
  g_autoptr (QmiMessage) internal = open_answer (1, 0x0003, -1, -1);
  g_autoptr (QmiMessage) opened = open_answer (0, 0, 2, 0x9000);
  g_autoptr (QmiMessage) no_result =
      qmi_message_new (QMI_SERVICE_UIM, 1, 7, ESIMD_QMI_UIM_OPEN_LOGICAL_CHANNEL);

  g_assert_true (esimd_qmi_uim_card_not_ready (uninitialized));
  g_assert_true (esimd_qmi_uim_card_not_ready (not_ready));
  g_assert_false (esimd_qmi_uim_card_not_ready (internal));
  g_assert_false (esimd_qmi_uim_card_not_ready (opened));
  g_assert_false (esimd_qmi_uim_card_not_ready (no_result));
}

/* Send APDU answered InsufficientResources with TLV 0x11 (total length u16, token u32): the
 * response comes in indications (Qualcomm's qbi_svc_msuicc.c, QMI_UIM_SEND_APDU_IND). */
static void
test_send_apdu_long_response (void)
{
  g_autoptr (QmiMessage) msg = qmi_message_new (QMI_SERVICE_UIM, 1, 7, ESIMD_QMI_UIM_SEND_APDU);
  g_autoptr (GError) error = NULL;
  gsize off = qmi_message_tlv_write_init (msg, 0x02, NULL);

  g_assert_true (off && qmi_message_tlv_write_guint16 (msg, QMI_ENDIAN_LITTLE, 1, NULL) &&
                 qmi_message_tlv_write_guint16 (msg, QMI_ENDIAN_LITTLE, 68, NULL) &&
                 qmi_message_tlv_write_complete (msg, off, NULL));
  off = qmi_message_tlv_write_init (msg, 0x11, NULL);
  g_assert_true (off && qmi_message_tlv_write_guint16 (msg, QMI_ENDIAN_LITTLE, 3300, NULL) &&
                 qmi_message_tlv_write_guint32 (msg, QMI_ENDIAN_LITTLE, 5, NULL) &&
                 qmi_message_tlv_write_complete (msg, off, NULL));
  g_assert_null (esimd_qmi_uim_send_apdu_parse (msg, &error));
  unit_assert_error (error, LPA_ERROR_TRANSPORT, "in pieces by indications");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/qmi-uim/open-channel", test_open_channel);
  g_test_add_func ("/qmi-uim/card-not-ready", test_card_not_ready);
  g_test_add_func ("/qmi-uim/send-apdu-long-response", test_send_apdu_long_response);
  return g_test_run ();
}
