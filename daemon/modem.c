/* modem.c — the transport interface's wrappers and the table of transports this build has. */
#include "modem.h"

#include "lpa-error.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Every transport file provides its constructor (declared in modem.h); a transport built
 * without its library is left out of the table by meson (HAVE_* in build-config.h). */
static const struct
{
  const char *name;
  EsimdModemConstructor construct;
} transports[] = {
  { "qmi", esimd_modem_qmi_new },
#ifdef HAVE_TRANSPORT_MBIM
  { "mbim", esimd_modem_mbim_new },
#endif
#ifdef HAVE_TRANSPORT_AT
  { "at", esimd_modem_at_new },
#endif
#ifdef HAVE_TRANSPORT_PCSC
  { "pcsc", esimd_modem_pcsc_new },
#endif
};

const char *const *
esimd_modem_transports (void)
{
  static const char *names[G_N_ELEMENTS (transports) + 1];

  if (!names[0])
    for (gsize i = 0; i < G_N_ELEMENTS (transports); i++)
      names[i] = transports[i].name;
  return names;
}

EsimdModem *
esimd_modem_new_with (EsimdModemConstructor construct, const EsimdModemConfig *config,
                      EsimdModemAvailabilityFunc func, gpointer user_data)
{
  EsimdModem *modem = construct (config);

  modem->config = config;
  modem->availability = func;
  modem->availability_data = user_data;
  return modem;
}

EsimdModem *
esimd_modem_new (const EsimdModemConfig *config, EsimdModemAvailabilityFunc func,
                 gpointer user_data, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (transports); i++)
    if (g_strcmp0 (config->transport, transports[i].name) == 0)
      {
        /* Discovery's two cases wrap or replace the transport (their files say why). */
        if (config->unreachable)
          return esimd_modem_new_with (esimd_modem_unreachable_new, config, func, user_data);
        if (config->hold)
          return esimd_modem_new_with (esimd_modem_held_new, config, func, user_data);
        return esimd_modem_new_with (transports[i].construct, config, func, user_data);
      }

  {
    g_autofree char *list = g_strjoinv (", ", (char **) esimd_modem_transports ());

    g_set_error (error, LPA_ERROR, LPA_ERROR_TRANSPORT,
                 "modem %s: transport \"%s\" is not supported (supported: %s)", config->name,
                 config->transport, list);
  }
  return NULL;
}

void
esimd_modem_start (EsimdModem *modem)
{
  modem->ops->start (modem);
}

gboolean
esimd_modem_is_available (EsimdModem *modem)
{
  return modem->available;
}

const EsimdModemStats *
esimd_modem_get_stats (EsimdModem *modem)
{
  return &modem->stats;
}

const char *
esimd_modem_transport_name (EsimdModem *modem)
{
  /* Discovery's wrappers (unreachable, held) are not transports: name the one underneath. */
  return modem->config->unreachable || modem->config->hold ? modem->config->transport
                                                           : modem->ops->name;
}

void
esimd_modem_set_available (EsimdModem *modem, gboolean available, const GError *reason)
{
  const char *why = available ? NULL : reason ? reason->message : "";

  /* While it stays unavailable, a new reason is news too (the modem was never found, then its
   * node is there but refuses to open…); the same one again, at each retry, is not. */
  if (modem->available == available && g_strcmp0 (modem->unavailable_reason, why) == 0)
    return;
  modem->available = available;
  g_free (modem->unavailable_reason);
  modem->unavailable_reason = g_strdup (why);
  if (modem->availability)
    modem->availability (modem, available, reason, modem->availability_data);
}

void
esimd_modem_count_apdu (EsimdModem *modem, gsize sent, gsize received)
{
  modem->stats.apdus++;
  modem->stats.bytes_sent += sent;
  modem->stats.bytes_received += received;
}

typedef struct
{
  LpaApduCallback callback;
  gpointer user_data;
  GError *error;
} LateFailure;

static gboolean
fail_transmit_now (gpointer data)
{
  LateFailure *f = data;

  f->callback (NULL, f->error, f->user_data);
  g_error_free (f->error);
  g_free (f);
  return G_SOURCE_REMOVE;
}

void
esimd_modem_fail_transmit_later (LpaApduCallback callback, gpointer user_data, GError *error)
{
  LateFailure *f = g_new0 (LateFailure, 1);

  f->callback = callback;
  f->user_data = user_data;
  f->error = error;
  g_idle_add (fail_transmit_now, f);
}

/* ---- asynchronous wrappers: one GTask per call, tagged so a _finish cannot take another's -- */

static GTask *
modem_task (EsimdModem *modem, gpointer tag, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (NULL, NULL, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_task_set_task_data (task, modem, NULL);
  return task;
}

static GError *
cannot (EsimdModem *modem, const char *what)
{
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT, "modem %s: the %s transport cannot %s",
                      modem->config->name, modem->ops->name, what);
}

void
esimd_modem_stop (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data)
{
  modem->ops->stop (modem, modem_task (modem, esimd_modem_stop, callback, user_data));
}

gboolean
esimd_modem_stop_finish (EsimdModem *modem, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
esimd_modem_free (EsimdModem *modem)
{
  if (!modem)
    return;
  g_clear_pointer (&modem->unavailable_reason, g_free);
  modem->ops->free (modem);
}

void
esimd_modem_open_channel (EsimdModem *modem, GBytes *aid, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  modem->ops->open_channel (modem, aid,
                            modem_task (modem, esimd_modem_open_channel, callback, user_data));
}

gboolean
esimd_modem_open_channel_finish (EsimdModem *modem, GAsyncResult *result, guint8 *channel,
                                 GError **error)
{
  gssize value = g_task_propagate_int (G_TASK (result), error);

  if (value < 0)
    return FALSE;
  *channel = (guint8) value;
  return TRUE;
}

void
esimd_modem_close_channel (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data)
{
  modem->ops->close_channel (modem,
                             modem_task (modem, esimd_modem_close_channel, callback, user_data));
}

gboolean
esimd_modem_close_channel_finish (EsimdModem *modem, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
esimd_modem_forget_channel (EsimdModem *modem)
{
  modem->ops->forget_channel (modem);
}

gboolean
esimd_modem_can_reset_card (EsimdModem *modem)
{
  return modem->ops->reset_card != NULL;
}

void
esimd_modem_reset_card (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = modem_task (modem, esimd_modem_reset_card, callback, user_data);

  if (modem->ops->reset_card)
    {
      modem->ops->reset_card (modem, task);
      return;
    }
  g_task_return_error (task, cannot (modem, "make the modem re-read the card"));
  g_object_unref (task);
}

gboolean
esimd_modem_reset_card_finish (EsimdModem *modem, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
esimd_modem_can_read_imei (EsimdModem *modem)
{
  return modem->ops->read_imei != NULL;
}

void
esimd_modem_read_imei (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = modem_task (modem, esimd_modem_read_imei, callback, user_data);

  if (modem->ops->read_imei)
    {
      modem->ops->read_imei (modem, task);
      return;
    }
  g_task_return_error (task, cannot (modem, "read the IMEI"));
  g_object_unref (task);
}

char *
esimd_modem_read_imei_finish (EsimdModem *modem, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
slot_free (gpointer data)
{
  g_free (data);
}

void
esimd_modem_list_slots (EsimdModem *modem, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = modem_task (modem, esimd_modem_list_slots, callback, user_data);
  GPtrArray *slots;
  EsimdModemSlot *only;

  if (modem->ops->list_slots)
    {
      modem->ops->list_slots (modem, task);
      return;
    }
  /* A single slot, always active: say so rather than fail. */
  slots = g_ptr_array_new_with_free_func (slot_free);
  only = g_new0 (EsimdModemSlot, 1);
  only->number = modem->config->slot ? modem->config->slot : 1;
  only->active = TRUE;
  only->card_present = modem->available;
  g_ptr_array_add (slots, only);
  g_task_return_pointer (task, slots, (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (task);
}

GPtrArray *
esimd_modem_list_slots_finish (EsimdModem *modem, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
esimd_modem_switch_slot (EsimdModem *modem, guint number, GAsyncReadyCallback callback,
                         gpointer user_data)
{
  GTask *task = modem_task (modem, esimd_modem_switch_slot, callback, user_data);

  if (modem->ops->switch_slot)
    {
      modem->ops->switch_slot (modem, number, task);
      return;
    }
  g_task_return_error (task, cannot (modem, "switch SIM slots"));
  g_object_unref (task);
}

gboolean
esimd_modem_switch_slot_finish (EsimdModem *modem, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
modem_transmit (gpointer self, GBytes *command, LpaApduCallback callback, gpointer user_data)
{
  EsimdModem *modem = self;

  modem->ops->transmit (modem, command, callback, user_data);
}

const LpaApduOps esimd_modem_apdu_ops = {
  .transmit = modem_transmit,
};

/* The kernel driver that makes a port of this name (and transport): the node is missing when the
 * modem is unplugged or powered off, or when that driver is not loaded (not built, blacklisted,
 * or the module package missing). */
static const char *
port_driver (const char *name, const char *transport)
{
  if (g_str_has_prefix (name, "cdc-wdm"))
    return g_strcmp0 (transport, "mbim") == 0 ? "cdc_mbim" : "qmi_wwan";
  if (g_str_has_prefix (name, "wwan"))
    return "mhi_wwan_ctrl";
  if (g_str_has_prefix (name, "ttyUSB"))
    return "option or qcserial";
  if (g_str_has_prefix (name, "ttyACM"))
    return "cdc_acm";
  return NULL;
}

GError *
esimd_modem_node_missing (const EsimdModemConfig *config)
{
  struct stat st;
  g_autofree char *name = NULL;
  g_autofree char *real = NULL;
  const char *driver;

  if (!config->device || stat (config->device, &st) == 0 || errno != ENOENT)
    return NULL;
  /* A /dev/serial/by-id/ link names no driver; the node it pointed to does. */
  real = g_file_read_link (config->device, NULL);
  name = g_path_get_basename (real ? real : config->device);
  driver = port_driver (name, config->transport);
  return g_error_new (LPA_ERROR, LPA_ERROR_TRANSPORT,
                      "modem %s: %s: No such file or directory: no modem port there now (the "
                      "modem is unplugged or off, or its kernel driver%s%s%s is not loaded; "
                      "`mmcli -m 0` names a modem's ports); esimd waits for it",
                      config->name, config->device, driver ? " (" : "", driver ? driver : "",
                      driver ? ")" : "");
}
