/* Drives an eUICC's ISD-R through libqmi's raw UIM messages: the template for esimd's QMI
 * transport. */

#include <glib.h>
#include <libqmi-glib.h>
#include <stdlib.h>
#include <string.h>

/* libqmi 1.32 has no generated API for these UIM messages (added in 1.36): build them raw. */
#define UIM_MSG_SEND_APDU            0x003B
#define UIM_MSG_LOGICAL_CHANNEL      0x003F
#define UIM_MSG_OPEN_LOGICAL_CHANNEL 0x0042

#define TLV_RESULT               0x02
#define TLV_SLOT                 0x01
#define TLV_OPEN_AID             0x10
#define TLV_OPEN_CHANNEL_ID      0x10
#define TLV_OPEN_CARD_RESULT     0x11
#define TLV_OPEN_SELECT_RESPONSE 0x12
#define TLV_APDU_APDU            0x02
#define TLV_APDU_CHANNEL_ID      0x10
#define TLV_APDU_RESPONSE        0x10
#define TLV_CLOSE_CHANNEL_ID     0x11

static const gchar *default_aid = "A0000005591010FFFFFFFF8900000100";
/* ES10b GetEUICCChallenge, one STORE DATA block; the channel goes into the CLA at send time. */
static const gchar *default_apdu = "80E2910003BF2E00";

typedef enum
{
  STEP_NEW_DEVICE,
  STEP_OPEN_DEVICE,
  STEP_ALLOCATE_CLIENT,
  STEP_OPEN_CHANNEL,
  STEP_SEND_APDU,
  STEP_CLOSE_CHANNEL,
  STEP_CARD_STATUS,
  STEP_POWER_OFF,
  STEP_POWER_ON,
  STEP_RELEASE_CLIENT,
  STEP_LAST,
} Step;

typedef struct
{
  GMainLoop *loop;
  Step step;
  gint status;
  /* options */
  gchar *device_path;
  gchar *proxy_path;
  gboolean direct;
  gboolean no_power_cycle;
  gint slot;
  guint timeout;
  GBytes *aid;
  GPtrArray *apdus; /* GBytes */
  /* state */
  QmiDevice *device;
  QmiClient *client;
  guint8 channel;
  guint next_apdu;
} Context;

static void step_next (Context *ctx);

static void
fail (Context *ctx, const gchar *what, const GError *error)
{
  g_printerr ("error: %s: %s\n", what, error ? error->message : "failed");
  ctx->status = EXIT_FAILURE;
  /* Still release what we hold, as a daemon must after any failure. */
  if (ctx->client && ctx->step < STEP_RELEASE_CLIENT)
    {
      ctx->step = STEP_RELEASE_CLIENT;
      step_next (ctx);
      return;
    }
  g_main_loop_quit (ctx->loop);
}

static GBytes *
bytes_from_hex (const gchar *hex, GError **error)
{
  gsize len = strlen (hex);
  g_autoptr (GByteArray) out = g_byte_array_sized_new (len / 2);

  if (len == 0 || len % 2)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "'%s' is not an even number of hex digits", hex);
      return NULL;
    }
  for (gsize i = 0; i < len; i += 2)
    {
      gint hi = g_ascii_xdigit_value (hex[i]);
      gint lo = g_ascii_xdigit_value (hex[i + 1]);
      guint8 b;

      if (hi < 0 || lo < 0)
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "'%s' is not hex", hex);
          return NULL;
        }
      b = (guint8) (hi << 4 | lo);
      g_byte_array_append (out, &b, 1);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static gchar *
hex_of (const guint8 *data, gsize len)
{
  GString *s = g_string_sized_new (len * 2);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (s, "%02X", data[i]);
  return g_string_free (s, FALSE);
}

/* ETSI TS 102 221 §10.1.1: channels 1..3 in CLA b1-b2, 4..19 in the further class b1-b4. */
static guint8
cla_for_channel (guint8 cla, guint8 channel)
{
  gboolean proprietary = (cla & 0x80) != 0;

  if (channel <= 3)
    return (guint8) ((cla & 0x80) | channel);
  return (guint8) ((proprietary ? 0xC0 : 0x40) | (channel - 4));
}

/* The result TLV every response carries; a QMI error becomes a QMI_PROTOCOL_ERROR GError. */
static gboolean
check_result (QmiMessage *response, GError **error)
{
  gsize init;
  gsize offset = 0;
  guint16 status;
  guint16 code;

  init = qmi_message_tlv_read_init (response, TLV_RESULT, NULL, error);
  if (!init ||
      !qmi_message_tlv_read_guint16 (response, init, &offset, QMI_ENDIAN_LITTLE, &status, error) ||
      !qmi_message_tlv_read_guint16 (response, init, &offset, QMI_ENDIAN_LITTLE, &code, error))
    return FALSE;
  if (status != 0)
    {
      g_set_error (error, QMI_PROTOCOL_ERROR, code, "QMI protocol error (%u): %s", code,
                   qmi_protocol_error_get_string ((QmiProtocolError) code));
      return FALSE;
    }
  return TRUE;
}

static gboolean
write_u8_tlv (QmiMessage *msg, guint8 type, guint8 value, GError **error)
{
  gsize init = qmi_message_tlv_write_init (msg, type, error);

  return init && qmi_message_tlv_write_guint8 (msg, value, error) &&
         qmi_message_tlv_write_complete (msg, init, error);
}

/* UIM arrays are length-prefixed: a guint8 count for an AID, a guint16-LE one for an APDU. */
static gboolean
write_array_tlv (QmiMessage *msg, guint8 type, gboolean u16_prefix, GBytes *bytes, GError **error)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (bytes, &len);
  gsize init = qmi_message_tlv_write_init (msg, type, error);

  if (!init)
    return FALSE;
  if (u16_prefix ? !qmi_message_tlv_write_guint16 (msg, QMI_ENDIAN_LITTLE, (guint16) len, error)
                 : !qmi_message_tlv_write_guint8 (msg, (guint8) len, error))
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!qmi_message_tlv_write_guint8 (msg, data[i], error))
      return FALSE;
  return qmi_message_tlv_write_complete (msg, init, error);
}

static QmiMessage *
uim_request_new (Context *ctx, guint16 message_id, GError **error)
{
  g_autoptr (QmiMessage) msg = NULL;

  msg = qmi_message_new (QMI_SERVICE_UIM, qmi_client_get_cid (ctx->client),
                         qmi_client_get_next_transaction_id (ctx->client), message_id);
  if (!write_u8_tlv (msg, TLV_SLOT, (guint8) ctx->slot, error))
    return NULL;
  return g_steal_pointer (&msg);
}

/* ------------------------------------------------------------------ completions */

static void
device_new_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;
  GObject *obj = g_async_initable_new_finish (G_ASYNC_INITABLE (source), res, &error);

  if (!obj)
    {
      fail (ctx, "new device", error);
      return;
    }
  ctx->device = QMI_DEVICE (obj);
  step_next (ctx);
}

static void
device_open_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;

  if (!qmi_device_open_finish (QMI_DEVICE (source), res, &error))
    {
      fail (ctx, "open", error);
      return;
    }
  g_print ("open: ok\n");
  step_next (ctx);
}

static void
allocate_client_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;

  ctx->client = qmi_device_allocate_client_finish (QMI_DEVICE (source), res, &error);
  if (!ctx->client)
    {
      fail (ctx, "allocate client", error);
      return;
    }
  g_print ("client: cid %u\n", qmi_client_get_cid (ctx->client));
  step_next (ctx);
}

static void
open_channel_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessage) response = NULL;
  const guint8 *tlv;
  guint16 len = 0;

  response = qmi_device_command_full_finish (QMI_DEVICE (source), res, &error);
  if (!response || !check_result (response, &error))
    {
      /* The card's own status word, when the modem passes it on (e.g. 6A82: no such AID). */
      tlv = response ? qmi_message_get_raw_tlv (response, TLV_OPEN_CARD_RESULT, &len) : NULL;
      if (tlv && len == 2)
        g_prefix_error (&error, "card answered %02X%02X: ", tlv[0], tlv[1]);
      fail (ctx, "open logical channel", error);
      return;
    }
  tlv = qmi_message_get_raw_tlv (response, TLV_OPEN_CHANNEL_ID, &len);
  if (!tlv || len != 1)
    {
      fail (ctx, "open logical channel: no channel ID", NULL);
      return;
    }
  ctx->channel = tlv[0];
  g_print ("channel: %u\n", ctx->channel);
  tlv = qmi_message_get_raw_tlv (response, TLV_OPEN_SELECT_RESPONSE, &len);
  /* The select response is a guint8-length-prefixed array. */
  if (tlv && len >= 1 && tlv[0] == len - 1)
    {
      g_autofree gchar *hex = hex_of (tlv + 1, len - 1);
      g_print ("select-response: %s\n", hex);
    }
  step_next (ctx);
}

static void
send_apdu_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessage) response = NULL;
  g_autofree gchar *hex = NULL;
  const guint8 *tlv;
  guint16 len = 0;

  response = qmi_device_command_full_finish (QMI_DEVICE (source), res, &error);
  if (!response || !check_result (response, &error))
    {
      fail (ctx, "send APDU", error);
      return;
    }
  tlv = qmi_message_get_raw_tlv (response, TLV_APDU_RESPONSE, &len);
  /* guint16-LE length prefix, then the R-APDU with SW1 SW2 at its end */
  if (!tlv || len < 4 || (guint) (tlv[0] | tlv[1] << 8) != (guint) len - 2)
    {
      fail (ctx, "send APDU: malformed response TLV", NULL);
      return;
    }
  hex = hex_of (tlv + 2, len - 2);
  g_print ("response: %s\n", hex);
  ctx->next_apdu++;
  /* Repeat this step while APDUs remain. */
  if (ctx->next_apdu < ctx->apdus->len)
    ctx->step--;
  step_next (ctx);
}

static void
simple_command_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessage) response = NULL;

  response = qmi_device_command_full_finish (QMI_DEVICE (source), res, &error);
  if (!response || !check_result (response, &error))
    {
      fail (ctx, "close logical channel", error);
      return;
    }
  g_print ("channel-closed: %u\n", ctx->channel);
  step_next (ctx);
}

static void
card_status_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessageUimGetCardStatusOutput) output = NULL;
  GArray *cards = NULL;

  output = qmi_client_uim_get_card_status_finish (QMI_CLIENT_UIM (source), res, &error);
  if (!output || !qmi_message_uim_get_card_status_output_get_result (output, &error) ||
      !qmi_message_uim_get_card_status_output_get_card_status (output, NULL, NULL, NULL, NULL,
                                                               &cards, &error))
    {
      fail (ctx, "get card status", error);
      return;
    }
  for (guint i = 0; i < cards->len; i++)
    {
      QmiMessageUimGetCardStatusOutputCardStatusCardsElement *card =
          &g_array_index (cards, QmiMessageUimGetCardStatusOutputCardStatusCardsElement, i);
      g_print ("card-status: %s, %u applications\n",
               qmi_uim_card_state_get_string (card->card_state), card->applications->len);
    }
  step_next (ctx);
}

static void
power_off_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessageUimPowerOffSimOutput) output = NULL;

  output = qmi_client_uim_power_off_sim_finish (QMI_CLIENT_UIM (source), res, &error);
  if (!output || !qmi_message_uim_power_off_sim_output_get_result (output, &error))
    {
      fail (ctx, "power off SIM", error);
      return;
    }
  g_print ("power: off\n");
  step_next (ctx);
}

static void
power_on_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessageUimPowerOnSimOutput) output = NULL;

  output = qmi_client_uim_power_on_sim_finish (QMI_CLIENT_UIM (source), res, &error);
  if (!output || !qmi_message_uim_power_on_sim_output_get_result (output, &error))
    {
      fail (ctx, "power on SIM", error);
      return;
    }
  g_print ("power: on\n");
  step_next (ctx);
}

static void
release_client_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;

  if (!qmi_device_release_client_finish (QMI_DEVICE (source), res, &error))
    {
      g_printerr ("error: release client: %s\n", error->message);
      ctx->status = EXIT_FAILURE;
    }
  else
    {
      g_print ("released\n");
    }
  g_clear_object (&ctx->client);
  ctx->step = STEP_LAST;
  g_main_loop_quit (ctx->loop);
}

static void
device_close_ready (GObject *source, GAsyncResult *res, gpointer user_data)
{
  Context *ctx = user_data;
  g_autoptr (GError) error = NULL;

  if (!qmi_device_close_finish (QMI_DEVICE (source), res, &error))
    {
      g_printerr ("error: close: %s\n", error->message);
      ctx->status = EXIT_FAILURE;
    }
  g_main_loop_quit (ctx->loop);
}

/* ------------------------------------------------------------------ the sequence */

static void
step_next (Context *ctx)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (QmiMessage) msg = NULL;

  switch (ctx->step++)
    {
    case STEP_NEW_DEVICE:
      {
        g_autoptr (GFile) file = g_file_new_for_path (ctx->device_path);

        if (ctx->proxy_path)
          /* Another proxy socket than the system's: the device file only exists behind it. */
          g_async_initable_new_async (QMI_TYPE_DEVICE, G_PRIORITY_DEFAULT, NULL, device_new_ready,
                                      ctx, QMI_DEVICE_FILE, file, QMI_DEVICE_NO_FILE_CHECK, TRUE,
                                      QMI_DEVICE_PROXY_PATH, ctx->proxy_path, NULL);
        else
          g_async_initable_new_async (QMI_TYPE_DEVICE, G_PRIORITY_DEFAULT, NULL, device_new_ready,
                                      ctx, QMI_DEVICE_FILE, file, NULL);
        return;
      }
    case STEP_OPEN_DEVICE:
      {
        /* Through qmi-proxy the modem stays shared with ModemManager. */
        QmiDeviceOpenFlags flags = QMI_DEVICE_OPEN_FLAGS_VERSION_INFO;

        flags |= ctx->direct ? QMI_DEVICE_OPEN_FLAGS_NONE : QMI_DEVICE_OPEN_FLAGS_PROXY;
        qmi_device_open (ctx->device, flags, ctx->timeout, NULL, device_open_ready, ctx);
        return;
      }
    case STEP_ALLOCATE_CLIENT:
      qmi_device_allocate_client (ctx->device, QMI_SERVICE_UIM, QMI_CID_NONE, ctx->timeout, NULL,
                                  allocate_client_ready, ctx);
      return;
    case STEP_OPEN_CHANNEL:
      msg = uim_request_new (ctx, UIM_MSG_OPEN_LOGICAL_CHANNEL, &error);
      if (!msg || !write_array_tlv (msg, TLV_OPEN_AID, FALSE, ctx->aid, &error))
        {
          fail (ctx, "build open logical channel", error);
          return;
        }
      qmi_device_command_full (ctx->device, msg, NULL, ctx->timeout, NULL, open_channel_ready, ctx);
      return;
    case STEP_SEND_APDU:
      {
        gsize len;
        const guint8 *apdu =
            g_bytes_get_data (g_ptr_array_index (ctx->apdus, ctx->next_apdu), &len);
        guint8 *copy = g_memdup2 (apdu, len);
        g_autoptr (GBytes) coded = NULL;

        copy[0] = cla_for_channel (copy[0], ctx->channel);
        coded = g_bytes_new_take (copy, len);
        msg = uim_request_new (ctx, UIM_MSG_SEND_APDU, &error);
        if (!msg || !write_array_tlv (msg, TLV_APDU_APDU, TRUE, coded, &error) ||
            !write_u8_tlv (msg, TLV_APDU_CHANNEL_ID, ctx->channel, &error))
          {
            fail (ctx, "build send APDU", error);
            return;
          }
        qmi_device_command_full (ctx->device, msg, NULL, ctx->timeout, NULL, send_apdu_ready, ctx);
        return;
      }
    case STEP_CLOSE_CHANNEL:
      msg = uim_request_new (ctx, UIM_MSG_LOGICAL_CHANNEL, &error);
      if (!msg || !write_u8_tlv (msg, TLV_CLOSE_CHANNEL_ID, ctx->channel, &error))
        {
          fail (ctx, "build close logical channel", error);
          return;
        }
      qmi_device_command_full (ctx->device, msg, NULL, ctx->timeout, NULL, simple_command_ready,
                               ctx);
      return;
    case STEP_CARD_STATUS:
      qmi_client_uim_get_card_status (QMI_CLIENT_UIM (ctx->client), NULL, ctx->timeout, NULL,
                                      card_status_ready, ctx);
      return;
    case STEP_POWER_OFF:
      {
        g_autoptr (QmiMessageUimPowerOffSimInput) input = NULL;

        if (ctx->no_power_cycle)
          {
            ctx->step = STEP_RELEASE_CLIENT;
            step_next (ctx);
            return;
          }
        input = qmi_message_uim_power_off_sim_input_new ();
        qmi_message_uim_power_off_sim_input_set_slot (input, (guint8) ctx->slot, NULL);
        qmi_client_uim_power_off_sim (QMI_CLIENT_UIM (ctx->client), input, ctx->timeout, NULL,
                                      power_off_ready, ctx);
        return;
      }
    case STEP_POWER_ON:
      {
        g_autoptr (QmiMessageUimPowerOnSimInput) input = qmi_message_uim_power_on_sim_input_new ();

        qmi_message_uim_power_on_sim_input_set_slot (input, (guint8) ctx->slot, NULL);
        qmi_client_uim_power_on_sim (QMI_CLIENT_UIM (ctx->client), input, ctx->timeout, NULL,
                                     power_on_ready, ctx);
        return;
      }
    case STEP_RELEASE_CLIENT:
      qmi_device_release_client (ctx->device, ctx->client,
                                 QMI_DEVICE_RELEASE_CLIENT_FLAGS_RELEASE_CID, ctx->timeout, NULL,
                                 release_client_ready, ctx);
      return;
    case STEP_LAST:
    default:
      g_main_loop_quit (ctx->loop);
      return;
    }
}

int
main (int argc, char **argv)
{
  Context ctx = { .slot = 1, .timeout = 10, .status = EXIT_SUCCESS };
  g_autofree gchar *aid_hex = NULL;
  g_auto (GStrv) apdu_hex = NULL;
  gint timeout = 10;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) options = NULL;
  const GOptionEntry entries[] = {
    { "proxy-path", 'p', 0, G_OPTION_ARG_STRING, &ctx.proxy_path,
      "Abstract socket name of the qmi-proxy to use (default: the system's)", "NAME" },
    { "direct", 0, 0, G_OPTION_ARG_NONE, &ctx.direct,
      "Open the device file directly, not via qmi-proxy", NULL },
    { "slot", 's', 0, G_OPTION_ARG_INT, &ctx.slot, "UIM slot (default 1)", "N" },
    { "aid", 'a', 0, G_OPTION_ARG_STRING, &aid_hex,
      "Application to open a channel to (default ISD-R)", "HEX" },
    { "apdu", 0, 0, G_OPTION_ARG_STRING_ARRAY, &apdu_hex,
      "APDU to send on the channel, CLA channel bits are filled in (repeatable; default "
      "GetEUICCChallenge)",
      "HEX" },
    { "no-power-cycle", 0, 0, G_OPTION_ARG_NONE, &ctx.no_power_cycle, "Skip Power Off/On SIM",
      NULL },
    { "timeout", 't', 0, G_OPTION_ARG_INT, &timeout, "Seconds per QMI request (default 10)", "S" },
    G_OPTION_ENTRY_NULL,
  };

  options = g_option_context_new ("DEVICE - exercise an eUICC's ISD-R over QMI UIM");
  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  if (argc != 2 || timeout <= 0)
    {
      g_printerr ("usage: %s [OPTION…] DEVICE\n", g_get_prgname ());
      return 2;
    }
  ctx.timeout = (guint) timeout;
  ctx.device_path = argv[1];
  ctx.aid = bytes_from_hex (aid_hex ? aid_hex : default_aid, &error);
  ctx.apdus = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  if (ctx.aid)
    {
      const gchar *const *list =
          apdu_hex && apdu_hex[0] ? (const gchar *const *) apdu_hex : &default_apdu;
      guint n = apdu_hex && apdu_hex[0] ? g_strv_length (apdu_hex) : 1;

      for (guint i = 0; i < n && !error; i++)
        {
          GBytes *b = bytes_from_hex (list[i], &error);

          if (b && g_bytes_get_size (b) < 4)
            g_set_error (&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                         "APDU shorter than 4 bytes");
          if (b)
            g_ptr_array_add (ctx.apdus, b);
        }
    }
  if (error)
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }

  ctx.loop = g_main_loop_new (NULL, FALSE);
  step_next (&ctx);
  g_main_loop_run (ctx.loop);

  if (ctx.device)
    {
      qmi_device_close_async (ctx.device, ctx.timeout, NULL, device_close_ready, &ctx);
      g_main_loop_run (ctx.loop);
    }
  g_clear_object (&ctx.device);
  g_main_loop_unref (ctx.loop);
  g_bytes_unref (ctx.aid);
  g_ptr_array_unref (ctx.apdus);
  g_free (ctx.proxy_path);
  return ctx.status;
}
