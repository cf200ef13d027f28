/* bus-errors.c — maps every LpaError to one D-Bus error name; the only place names are chosen. */
#include "bus-errors.h"

#include "lpa-error.h"
#include "text.h"

#include <errno.h>

static const struct
{
  LpaError code;
  const char *name;
} lpa_names[] = {
  { LPA_ERROR_INVALID_ARGUMENT, SD_BUS_ERROR_INVALID_ARGS },
  { LPA_ERROR_INVALID_ACTIVATION_CODE, ESIMD_ERROR_PREFIX "InvalidActivationCode" },
  { LPA_ERROR_CONFIRMATION_CODE_REQUIRED, ESIMD_ERROR_PREFIX "ConfirmationCodeRequired" },
  { LPA_ERROR_MALFORMED, ESIMD_ERROR_PREFIX "ProtocolError" },
  { LPA_ERROR_UNEXPECTED, ESIMD_ERROR_PREFIX "ProtocolError" },
  { LPA_ERROR_PROFILE_NOT_FOUND, ESIMD_BUS_ERROR_PROFILE_NOT_FOUND },
  { LPA_ERROR_WRONG_PROFILE_STATE, ESIMD_ERROR_PREFIX "WrongProfileState" },
  { LPA_ERROR_DISALLOWED_BY_POLICY, ESIMD_ERROR_PREFIX "DisallowedByPolicy" },
  { LPA_ERROR_INSUFFICIENT_MEMORY, ESIMD_ERROR_PREFIX "InsufficientMemory" },
  { LPA_ERROR_CAT_BUSY, ESIMD_ERROR_PREFIX "CardBusy" },
  { LPA_ERROR_PROFILE_EXISTS, ESIMD_ERROR_PREFIX "ProfileExists" },
  { LPA_ERROR_EUICC, ESIMD_ERROR_PREFIX "EuiccError" },
  { LPA_ERROR_INSTALL_FAILED, ESIMD_ERROR_PREFIX "InstallFailed" },
  { LPA_ERROR_STATUS_WORD, ESIMD_ERROR_PREFIX "EuiccError" },
  { LPA_ERROR_SERVER_REJECTED, ESIMD_ERROR_PREFIX "ServerRejected" },
  { LPA_ERROR_MATCHING_ID_REFUSED, ESIMD_ERROR_PREFIX "MatchingIdRefused" },
  { LPA_ERROR_CONFIRMATION_CODE_REFUSED, ESIMD_ERROR_PREFIX "ConfirmationCodeRefused" },
  { LPA_ERROR_HTTP, ESIMD_ERROR_PREFIX "ServerError" },
  { LPA_ERROR_TLS_VERIFICATION, ESIMD_ERROR_PREFIX "TlsVerificationFailed" },
  { LPA_ERROR_NETWORK, ESIMD_ERROR_PREFIX "NetworkUnavailable" },
  { LPA_ERROR_TIMEOUT, ESIMD_ERROR_PREFIX "Timeout" },
  { LPA_ERROR_TRANSPORT, ESIMD_ERROR_PREFIX "Transport" },
  { LPA_ERROR_CANCELLED, ESIMD_BUS_ERROR_CANCELLED },
};

/* Indexed by EsimdError. */
static const char *const daemon_names[] = {
  [ESIMD_ERROR_NOT_AUTHORIZED] = ESIMD_BUS_ERROR_NOT_AUTHORIZED,
  [ESIMD_ERROR_UNAVAILABLE] = ESIMD_BUS_ERROR_UNAVAILABLE,
  [ESIMD_ERROR_BUSY] = ESIMD_BUS_ERROR_BUSY,
  [ESIMD_ERROR_WRONG_JOB_STATE] = ESIMD_BUS_ERROR_WRONG_JOB_STATE,
  [ESIMD_ERROR_NOTIFICATION_NOT_FOUND] = ESIMD_BUS_ERROR_NOTIFICATION_NOT_FOUND,
  [ESIMD_ERROR_FAILED] = ESIMD_ERROR_PREFIX "Failed",
  [ESIMD_ERROR_STATE_NOT_WRITABLE] = ESIMD_ERROR_PREFIX "StateNotWritable",
};

const char *
esimd_bus_error_name (const GError *error)
{
  if (error->domain == LPA_ERROR)
    for (gsize i = 0; i < G_N_ELEMENTS (lpa_names); i++)
      if (lpa_names[i].code == (LpaError) error->code)
        return lpa_names[i].name;
  if (error->domain == ESIMD_ERROR && error->code >= 0 &&
      (gsize) error->code < G_N_ELEMENTS (daemon_names))
    return daemon_names[error->code];
  return ESIMD_ERROR_PREFIX "Failed";
}

int
esimd_bus_error_set (sd_bus_error *ret_error, const GError *error)
{
  const char *name = esimd_bus_error_name (error);
  /* sd-bus refuses a message with invalid UTF-8 whole: the caller would get no answer. */
  g_autofree char *message = lpa_text_sanitize (error->message, -1, 0, LPA_TEXT_KEEP_NEWLINES);

  sd_bus_error_set (ret_error, name, message);
  return g_str_equal (name, SD_BUS_ERROR_INVALID_ARGS) ? -EINVAL : -EIO;
}

const char *const *
esimd_bus_error_all_names (void)
{
  static const char **all;

  if (!all)
    {
      GPtrArray *names = g_ptr_array_new ();

      for (gsize i = 0; i < G_N_ELEMENTS (lpa_names); i++)
        if (!g_ptr_array_find_with_equal_func (names, lpa_names[i].name, g_str_equal, NULL))
          g_ptr_array_add (names, (gpointer) lpa_names[i].name);
      for (gsize i = 0; i < G_N_ELEMENTS (daemon_names); i++)
        g_ptr_array_add (names, (gpointer) daemon_names[i]);
      g_ptr_array_add (names, NULL);
      all = (const char **) g_ptr_array_free (names, FALSE);
    }
  return all;
}
