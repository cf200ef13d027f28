/* fuzz-mbim.c — libFuzzer harness of what esimd reads from an MBIM modem: the answers of the
 * MBIM transport (daemon/mbim-commands.c: MS UICC Low Level Access, device caps, radio,
 * subscriber state, slots) and, for Transport=qmi on a modem in MBIM mode, the QMUX frames that
 * come inside MBIM (libqmi takes them out of the QMI service's COMMAND_DONE and INDICATE_STATUS
 * buffers; daemon/qmi-uim.c reads the UIM answers). The DMS Get IDs answer is read by libqmi's
 * generated client code, whose parser libqmi 1.32 does not export: it is not reached here. */
#include "fuzz.h"

#include "lpa-error.h"
#include "mbim-commands.h"
#include "qmi-uim.h"

#include <libqmi-glib.h>
#include <string.h>

/* MBIM messages are at most a few KiB (libmbim reassembles fragments up to its own limits); a
 * few in a row are what one read may bring. */
#define INPUT_CAP (256 * 1024)
#define HEADER    12

/* Runs every esimd MBIM parser on one whole message. Each decides on its own whether the message
 * is its answer; none may crash, and their verdicts must agree on what they share. */
static void
parse_mbim (const MbimMessage *msg)
{
  g_autoptr (GError) e_open = NULL;
  g_autoptr (GError) e_apdu = NULL;
  g_autoptr (GError) e_close = NULL;
  g_autoptr (GError) e_reset = NULL;
  g_autoptr (GError) e_caps = NULL;
  g_autoptr (GError) e_other = NULL;
  g_autoptr (GBytes) rapdu = NULL;
  g_autofree char *imei = NULL;
  guint8 channel = 0;
  guint32 state = 0;
  guint slots = 0, slot = 0;
  gboolean flag = FALSE;
  gboolean opened = esimd_mbim_open_channel_parse (msg, &channel, &e_open);
  gboolean closed = esimd_mbim_close_channel_parse (msg, &e_close);
  gboolean reset = esimd_mbim_uicc_reset_parse (msg, &e_reset);

  rapdu = esimd_mbim_apdu_parse (msg, &e_apdu);
  imei = esimd_mbim_device_caps_imei_parse (msg, &e_caps);
  if (opened)
    FUZZ_CHECK (channel >= 1 && channel <= 19);
  else
    fuzz_check_error (e_open);
  if (rapdu)
    FUZZ_CHECK (g_bytes_get_size (rapdu) >= 2);
  else
    fuzz_check_error (e_apdu);
  if (imei)
    FUZZ_CHECK (strlen (imei) == 15 && fuzz_all_digits (imei));
  else
    fuzz_check_error (e_caps);
  if (!closed)
    fuzz_check_error (e_close);
  if (!reset)
    fuzz_check_error (e_reset);
  /* One message answers one command: at most one of these can accept it. */
  FUZZ_CHECK ((opened ? 1 : 0) + (rapdu ? 1 : 0) + (closed ? 1 : 0) + (reset ? 1 : 0) +
                  (imei ? 1 : 0) <=
              1);
  /* A modem that says "no such command" has not answered it. */
  if (esimd_mbim_unsupported (msg))
    FUZZ_CHECK (!opened && !rapdu && !closed && !reset && !imei);

  if (!esimd_mbim_radio_state_parse (msg, &flag, &e_other))
    fuzz_check_error (e_other);
  g_clear_error (&e_other);
  if (!esimd_mbim_ready_state_parse (msg, &state, &e_other))
    fuzz_check_error (e_other);
  g_clear_error (&e_other);
  if (esimd_mbim_sys_caps_parse (msg, &slots, &e_other))
    FUZZ_CHECK (slots >= 1 && slots <= 16);
  else
    fuzz_check_error (e_other);
  g_clear_error (&e_other);
  if (esimd_mbim_slot_mappings_parse (msg, &slot, &e_other))
    FUZZ_CHECK (slot <= 15);
  else
    fuzz_check_error (e_other);
  g_clear_error (&e_other);
  if (!esimd_mbim_slot_info_parse (msg, 0, &flag, &e_other))
    fuzz_check_error (e_other);
}

/* The QMUX frames inside a QMI-service message, cut the way libqmi's endpoint cuts them, each
 * given to the parsers Transport=qmi uses. */
static void
parse_qmux (const guint8 *buffer, guint32 len)
{
  g_autoptr (GByteArray) frames = g_byte_array_new ();

  g_byte_array_append (frames, buffer, len);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (QmiMessage) msg = NULL;
      g_autoptr (GError) e1 = NULL;
      g_autoptr (GError) e2 = NULL;
      g_autoptr (GError) e3 = NULL;
      g_autoptr (GBytes) apdu = NULL;
      guint before = frames->len;
      guint8 channel = 0;

      if (!(msg = qmi_message_new_from_raw (frames, &error)))
        break;
      FUZZ_CHECK (frames->len < before);
      if (esimd_qmi_uim_open_channel_parse (msg, &channel, &e1))
        FUZZ_CHECK (channel >= 1 && channel <= 19);
      apdu = esimd_qmi_uim_send_apdu_parse (msg, &e2);
      if (apdu)
        FUZZ_CHECK (g_bytes_get_size (apdu) >= 2);
      if (!esimd_qmi_uim_close_channel_parse (msg, &e3))
        fuzz_check_error (e3);
    }
}

static void
one_message (const guint8 *data, guint32 len)
{
  g_autoptr (MbimMessage) msg = mbim_message_new (data, len);
  guint32 type, buffer_len = 0;
  const guint8 *buffer = NULL;

  if (!mbim_message_validate (msg, NULL))
    return;
  parse_mbim (msg);
  /* Only whole messages reach libqmi: MbimDevice reassembles fragments first. */
  if (len < 20 || memcmp (data + 12, "\x01\x00\x00\x00\x00\x00\x00\x00", 8) != 0)
    return;
  type = mbim_message_get_message_type (msg);
  if (type == MBIM_MESSAGE_TYPE_COMMAND_DONE &&
      mbim_message_command_done_get_service (msg) == MBIM_SERVICE_QMI)
    buffer = mbim_message_command_done_get_raw_information_buffer (msg, &buffer_len);
  else if (type == MBIM_MESSAGE_TYPE_INDICATE_STATUS &&
           mbim_message_indicate_status_get_service (msg) == MBIM_SERVICE_QMI)
    buffer = mbim_message_indicate_status_get_raw_information_buffer (msg, &buffer_len);
  if (buffer && buffer_len)
    parse_qmux (buffer, buffer_len);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  fuzz_setup ();
  if (size < 1 || size > INPUT_CAP)
    return 0;

  if (size >= 4 && data[3] == 0x80)
    {
      /* Input that starts like a message from the modem (type 0x800000xx) is what the port
       * delivers, possibly several messages: cut by their length field as libmbim does. */
      gsize pos = 0;

      while (size - pos >= HEADER)
        {
          guint32 len;

          memcpy (&len, data + pos + 4, sizeof len);
          len = GUINT32_FROM_LE (len);
          if (len < HEADER || len > size - pos)
            break;
          one_message (data + pos, len);
          pos += len;
        }
    }
  else
    {
      /* Otherwise the first byte picks a command, the next four are its status and the rest its
       * information buffer: the framing is built here, so mutations spend their time where
       * mbim-commands.c (or the QMUX parsers) read. */
      static const struct
      {
        const char *uuid;
        guint32 cid;
      } commands[] = {
        { "\xc2\xf6\x58\x8e\xf0\x37\x4b\xc9\x86\x65\xf4\xd4\x4b\xd0\x93\x67",
          2 }, /* open channel */
        { "\xc2\xf6\x58\x8e\xf0\x37\x4b\xc9\x86\x65\xf4\xd4\x4b\xd0\x93\x67", 3 }, /* close */
        { "\xc2\xf6\x58\x8e\xf0\x37\x4b\xc9\x86\x65\xf4\xd4\x4b\xd0\x93\x67", 4 }, /* APDU */
        { "\xc2\xf6\x58\x8e\xf0\x37\x4b\xc9\x86\x65\xf4\xd4\x4b\xd0\x93\x67", 6 }, /* reset */
        { "\xa2\x89\xcc\x33\xbc\xbb\x8b\x4f\xb6\xb0\x13\x3e\xc2\xaa\xe6\xdf", 1 }, /* device caps */
        { "\xa2\x89\xcc\x33\xbc\xbb\x8b\x4f\xb6\xb0\x13\x3e\xc2\xaa\xe6\xdf",
          2 }, /* ready status */
        { "\xa2\x89\xcc\x33\xbc\xbb\x8b\x4f\xb6\xb0\x13\x3e\xc2\xaa\xe6\xdf", 3 }, /* radio */
        { "\x3d\x01\xdc\xc5\xfe\xf5\x4d\x05\x0d\x3a\xbe\xf7\x05\x8e\x9a\xaf", 5 }, /* sys caps */
        { "\x3d\x01\xdc\xc5\xfe\xf5\x4d\x05\x0d\x3a\xbe\xf7\x05\x8e\x9a\xaf", 7 }, /* slot map */
        { "\x3d\x01\xdc\xc5\xfe\xf5\x4d\x05\x0d\x3a\xbe\xf7\x05\x8e\x9a\xaf", 8 }, /* slot info */
        { "\xd1\xa3\x0b\xc2\xf9\x7a\x6e\x43\xbf\x65\xc7\xe2\x4f\xb0\xf0\xd3", 1 }, /* QMI msg */
      };
      guint which = data[0] % G_N_ELEMENTS (commands);
      gsize status_len = MIN (size - 1, (gsize) 4);
      gsize info = MIN (size - 1 - status_len, (gsize) (INPUT_CAP - 48));
      guint32 total = (guint32) (48 + info);
      g_autofree guint8 *msg = g_malloc0 (total);
      guint32 fields[5] = { GUINT32_TO_LE (0x80000003), GUINT32_TO_LE (total),
                            GUINT32_TO_LE (data[0]), GUINT32_TO_LE (1), 0 };
      guint32 tail[3] = { GUINT32_TO_LE (commands[which].cid), 0, GUINT32_TO_LE ((guint32) info) };

      memcpy (msg, fields, sizeof fields);
      memcpy (msg + 20, commands[which].uuid, 16);
      memcpy (msg + 36, tail, sizeof tail);
      memcpy (msg + 40, data + 1, status_len);
      memcpy (msg + 48, data + 1 + status_len, info);
      one_message (msg, total);
    }
  return 0;
}
