/* errors.c — the one table from D-Bus error names to esimctl's exit statuses and hints. */
#include "errors.h"

#include <gio/gio.h>
#include <string.h>

G_DEFINE_QUARK (esimctl - error - quark, esimctl_error)

#define ESIM "org.esim.Error."
#define DBUS "org.freedesktop.DBus.Error."

/* Every name org.esim's introspection XML documents is listed here explicitly, even those that
 * take the default, so a new name cannot slip in unclassified (test-errors checks the XML). */
static const struct
{
  const char *name;
  EsimctlExit status;
} exit_table[] = {
  /* The eUICC or a server said no. */
  { ESIM "ProfileNotFound", ESIMCTL_EXIT_FAILED },
  { ESIM "WrongProfileState", ESIMCTL_EXIT_FAILED },
  { ESIM "DisallowedByPolicy", ESIMCTL_EXIT_FAILED },
  { ESIM "InsufficientMemory", ESIMCTL_EXIT_FAILED },
  { ESIM "ProfileExists", ESIMCTL_EXIT_FAILED },
  { ESIM "InstallFailed", ESIMCTL_EXIT_FAILED },
  { ESIM "EuiccError", ESIMCTL_EXIT_FAILED },
  { ESIM "CardBusy", ESIMCTL_EXIT_FAILED },
  { ESIM "ServerRejected", ESIMCTL_EXIT_FAILED },
  { ESIM "MatchingIdRefused", ESIMCTL_EXIT_FAILED },
  { ESIM "ConfirmationCodeRefused", ESIMCTL_EXIT_FAILED },
  { ESIM "ProtocolError", ESIMCTL_EXIT_FAILED },
  { ESIM "NotificationNotFound", ESIMCTL_EXIT_FAILED },
  { ESIM "WrongJobState", ESIMCTL_EXIT_FAILED },
  { ESIM "Busy", ESIMCTL_EXIT_FAILED },
  { ESIM "Failed", ESIMCTL_EXIT_FAILED },
  { ESIM "StateNotWritable", ESIMCTL_EXIT_FAILED },
  { DBUS "UnknownObject", ESIMCTL_EXIT_FAILED },
  /* The request itself is wrong. */
  { DBUS "InvalidArgs", ESIMCTL_EXIT_USAGE },
  /* A call carrying file descriptors (esimd takes none; esimctl sends none). */
  { DBUS "NotSupported", ESIMCTL_EXIT_USAGE },
  { ESIM "InvalidActivationCode", ESIMCTL_EXIT_USAGE },
  { ESIM "ConfirmationCodeRequired", ESIMCTL_EXIT_USAGE },
  /* Nobody allowed it. */
  { ESIM "NotAuthorized", ESIMCTL_EXIT_NOT_AUTHORIZED },
  { DBUS "AccessDenied", ESIMCTL_EXIT_NOT_AUTHORIZED },
  { DBUS "InteractiveAuthorizationRequired", ESIMCTL_EXIT_NOT_AUTHORIZED },
  /* esimd, the modem or the eUICC is out of reach. */
  { ESIM "Unavailable", ESIMCTL_EXIT_UNAVAILABLE },
  { ESIM "NoEuicc", ESIMCTL_EXIT_UNAVAILABLE },
  { ESIM "Transport", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "ServiceUnknown", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "NameHasNoOwner", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "NoReply", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "Timeout", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "TimedOut", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "Disconnected", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "NoServer", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "UnknownMethod", ESIMCTL_EXIT_UNAVAILABLE },
  { DBUS "UnknownInterface", ESIMCTL_EXIT_UNAVAILABLE },
  /* The way to a server failed. */
  { ESIM "NetworkUnavailable", ESIMCTL_EXIT_NETWORK },
  { ESIM "TlsVerificationFailed", ESIMCTL_EXIT_NETWORK },
  { ESIM "Timeout", ESIMCTL_EXIT_NETWORK },
  { ESIM "ServerError", ESIMCTL_EXIT_NETWORK },
  { ESIM "Cancelled", ESIMCTL_EXIT_CANCELLED },
};

/* verb NULL: the hint holds for every verb. The first match wins, so verb-specific rows come
 * first. Hints never repeat arguments: they may be secrets. */
static const struct
{
  const char *verb;
  const char *name;
  const char *hint;
} hint_table[] = {
  { "delete", ESIM "WrongProfileState",
    "the profile is enabled: disable it first (esimctl disable ICCID)" },
  { "enable", ESIM "WrongProfileState", "the profile is already enabled" },
  { "disable", ESIM "WrongProfileState", "the profile is not enabled" },
  { "delete", ESIM "DisallowedByPolicy", "the profile's policy rules (ppr2) forbid deleting it" },
  { "disable", ESIM "DisallowedByPolicy", "the profile's policy rules (ppr1) forbid disabling it" },
  { "download", DBUS "NoReply",
    "the download needs more time than --timeout allows; raise it (e.g. --timeout 900)" },
  { NULL, ESIM "ProfileNotFound", "list the installed profiles with: esimctl list --all" },
  { NULL, ESIM "InsufficientMemory", "delete a profile you no longer need, then try again" },
  { NULL, ESIM "ProfileExists", "this profile is already installed (esimctl list --all)" },
  { NULL, ESIM "CardBusy", "the eUICC is busy with a proactive command; try again in a moment" },
  { NULL, ESIM "ConfirmationCodeRequired",
    "give the code with --confirmation-code-file FILE, or run esimctl on a terminal to be asked" },
  { NULL, ESIM "ConfirmationCodeRefused",
    "check the confirmation code; servers allow only a few attempts" },
  { NULL, ESIM "MatchingIdRefused",
    "the activation code is unknown, expired or already used: ask the operator for a new one" },
  { NULL, ESIM "NotAuthorized",
    "run as root, or as a user polkit allows (see the AUTHORIZATION section of esimctl(1))" },
  { NULL, DBUS "AccessDenied", "the bus policy does not allow this user to call esimd" },
  { NULL, DBUS "InteractiveAuthorizationRequired",
    "authentication is needed: run esimctl on a terminal without --no-ask-password, or as root" },
  { NULL, ESIM "Unavailable", "see why with: esimctl status" },
  { NULL, ESIM "NoEuicc", "configure a modem in esimd.conf(5) and restart esimd" },
  { NULL, ESIM "Transport", "the modem failed or disappeared; see: esimctl status" },
  { NULL, ESIM "Busy", "too many jobs are queued; see them with: esimctl jobs" },
  { NULL, ESIM "StateNotWritable",
    "esimd cannot write its state directory (StateDirectory= in esimd.conf(5)): make room or "
    "make it writable; nothing was started" },
  { NULL, DBUS "ServiceUnknown", "is esimd running? (systemctl status esimd)" },
  { NULL, DBUS "NameHasNoOwner", "is esimd running? (systemctl status esimd)" },
  { NULL, DBUS "NoReply",
    "esimd did not answer in time; the job may still run (esimctl jobs); see --timeout" },
  { NULL, DBUS "Timeout",
    "esimd did not answer in time; the job may still run (esimctl jobs); see --timeout" },
  { NULL, DBUS "UnknownMethod", "esimd is older or newer than esimctl; update both" },
  { NULL, DBUS "UnknownInterface", "esimd is older or newer than esimctl; update both" },
  { NULL, DBUS "UnknownObject",
    "it does not exist (any more); jobs vanish a while after they end" },
  { NULL, ESIM "NetworkUnavailable",
    "check the network connection; pending notifications are retried" },
  { NULL, ESIM "TlsVerificationFailed",
    "the server's certificate is not trusted or names another host; see CiCertificateDirs in "
    "esimd.conf(5)" },
  { NULL, ESIM "Timeout", "the server did not answer in time; try again later" },
};

GError *
esimctl_error_new_remote (const char *name, const char *message)
{
  return g_dbus_error_new_for_dbus_error (name, message && *message ? message : name);
}

gboolean
esimctl_exit_status_lookup (const char *name, EsimctlExit *status)
{
  for (gsize i = 0; i < G_N_ELEMENTS (exit_table); i++)
    if (g_str_equal (exit_table[i].name, name))
      {
        *status = exit_table[i].status;
        return TRUE;
      }
  /* D-Bus activation failures (Spawn.ChildExited, Spawn.ServiceNotFound…): esimd is not there. */
  if (g_str_has_prefix (name, DBUS "Spawn."))
    {
      *status = ESIMCTL_EXIT_UNAVAILABLE;
      return TRUE;
    }
  return FALSE;
}

EsimctlExit
esimctl_exit_status (const GError *error)
{
  g_autofree char *name = NULL;
  EsimctlExit status = ESIMCTL_EXIT_FAILED;

  if (error->domain == ESIMCTL_ERROR)
    return (EsimctlExit) error->code;
  if (error->domain == G_OPTION_ERROR)
    return ESIMCTL_EXIT_USAGE;
  name = g_dbus_error_get_remote_error (error);
  if (name)
    esimctl_exit_status_lookup (name, &status);
  return status;
}

char *
esimctl_error_get_name (const GError *error)
{
  return g_dbus_error_get_remote_error (error);
}

char *
esimctl_error_get_message (const GError *error)
{
  g_autoptr (GError) copy = g_error_copy (error);

  g_dbus_error_strip_remote_error (copy);
  return g_strdup (copy->message);
}

const char *
esimctl_error_hint (const char *verb, const char *name)
{
  if (!name)
    return NULL;
  for (gsize i = 0; i < G_N_ELEMENTS (hint_table); i++)
    if (g_str_equal (hint_table[i].name, name) &&
        (!hint_table[i].verb || g_strcmp0 (hint_table[i].verb, verb) == 0))
      return hint_table[i].hint;
  return NULL;
}
