/* errors.h — esimctl's exit statuses, which D-Bus error means which, and hints for the user. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The exit statuses esimctl(1) documents; scripts depend on them, so they never change. */
typedef enum
{
  ESIMCTL_EXIT_OK = 0,
  ESIMCTL_EXIT_FAILED = 1,         /* the eUICC or a server said no */
  ESIMCTL_EXIT_USAGE = 2,          /* bad command line or arguments */
  ESIMCTL_EXIT_NOT_AUTHORIZED = 3, /* polkit or the bus policy said no */
  ESIMCTL_EXIT_UNAVAILABLE = 4,    /* esimd, the modem or the eUICC cannot be reached */
  ESIMCTL_EXIT_NETWORK = 5,        /* the network or TLS failed on the way to a server */
  ESIMCTL_EXIT_CANCELLED = 6,
} EsimctlExit;

/* Failures esimctl finds itself (before or instead of asking esimd); the code is the exit
 * status. Errors esimd returns are carried as GDBus remote errors instead (see below). */
#define ESIMCTL_ERROR (esimctl_error_quark ())
GQuark esimctl_error_quark (void);

/* A GError for a D-Bus error esimd (or the bus) returned: g_dbus_error_get_remote_error()
 * gives @name back. A NULL or empty @message is replaced by the name. */
GError *esimctl_error_new_remote (const char *name, const char *message);

/* TRUE and *status if @name is one esimctl knows; unknown names are operation failures. */
gboolean esimctl_exit_status_lookup (const char *name, EsimctlExit *status);

/* The exit status for any error esimctl reports. */
EsimctlExit esimctl_exit_status (const GError *error);

/* The D-Bus error name behind @error, or NULL for esimctl's own errors. */
char *esimctl_error_get_name (const GError *error);

/* The human message of @error, without GDBus's "GDBus.Error:NAME: " prefix. */
char *esimctl_error_get_message (const GError *error);

/* What the user can do about error @name after running @verb (e.g. "delete"), or NULL. */
const char *esimctl_error_hint (const char *verb, const char *name);

G_END_DECLS
