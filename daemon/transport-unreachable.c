/* transport-unreachable.c — the modem of an eUICC that esimd knows of but cannot reach now.
 *
 * A modem with two SIM slots reaches only the card in its active slot; it still reports the EID
 * of an eUICC in the other (QMI Get Slot Status), and that eUICC gets its object so that a
 * client sees it and can switch to it. Its modem is this one: never available, every operation
 * failing with the reason discovery gave (config->unreachable), and no device touched. When the
 * slot becomes the active one, discovery gives the eUICC its real transport instead. */
#include "modem.h"

#include "lpa-error.h"

typedef struct
{
  EsimdModem modem; /* first */
} EsimdUnreachable;

static GError *
unreachable_error (EsimdModem *modem)
{
  return g_error_new_literal (LPA_ERROR, LPA_ERROR_TRANSPORT, modem->config->unreachable);
}

static void
unreachable_start (EsimdModem *modem)
{
  g_autoptr (GError) reason = unreachable_error (modem);

  /* Unchanged availability is not reported again: say it once as a change from "available". */
  modem->available = TRUE;
  esimd_modem_set_available (modem, FALSE, reason);
}

static void
unreachable_stop (EsimdModem *modem, GTask *task)
{
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
unreachable_free (EsimdModem *modem)
{
  g_free (modem);
}

static void
fail (EsimdModem *modem, GTask *task)
{
  g_task_return_error (task, unreachable_error (modem));
  g_object_unref (task);
}

static void
unreachable_open_channel (EsimdModem *modem, GBytes *aid, GTask *task)
{
  fail (modem, task);
}

static void
unreachable_close_channel (EsimdModem *modem, GTask *task)
{
  g_task_return_boolean (task, TRUE);
  g_object_unref (task);
}

static void
unreachable_forget_channel (EsimdModem *modem)
{
}

static void
unreachable_transmit (EsimdModem *modem, GBytes *command, LpaApduCallback callback,
                      gpointer user_data)
{
  esimd_modem_fail_transmit_later (callback, user_data, unreachable_error (modem));
}

static const EsimdModemOps unreachable_ops = {
  .name = "unreachable",
  .start = unreachable_start,
  .stop = unreachable_stop,
  .free = unreachable_free,
  .open_channel = unreachable_open_channel,
  .close_channel = unreachable_close_channel,
  .forget_channel = unreachable_forget_channel,
  .transmit = unreachable_transmit,
};

EsimdModem *
esimd_modem_unreachable_new (const EsimdModemConfig *config)
{
  EsimdUnreachable *u = g_new0 (EsimdUnreachable, 1);

  u->modem.ops = &unreachable_ops;
  u->modem.config = config;
  return &u->modem;
}
