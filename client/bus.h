/* bus.h — esimctl's side of org.esim: connection, calls, properties, eUICC choice, waiting. */
#pragma once

#include "esimctl.h"

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_message, sd_bus_message_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_slot, sd_bus_slot_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sd_bus_creds, sd_bus_creds_unref)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (sd_bus_error, sd_bus_error_free)

typedef enum
{
  ESIMCTL_CALL_READ = 0,      /* served from esimd's cache: the bus's default timeout */
  ESIMCTL_CALL_AUTH = 1 << 0, /* polkit may want to ask the user: start a terminal agent */
  ESIMCTL_CALL_JOB = 1 << 1,  /* replies when a queued job ends: wait up to --timeout */
} EsimctlCallFlags;

/* Connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS if set) once; later calls reuse it. */
gboolean esimctl_bus_connect (Esimctl *ctl, GError **error);

/* Calls esimd's @member on @path with the children of the tuple @args (NULL: no arguments; a
 * floating reference is consumed) and returns the reply's values as a tuple of @reply_type (the
 * method's out arguments as the API defines them, "()" for none). A reply of any other type is
 * an error: callers read what they asked for without checking it again. */
GVariant *esimctl_call (Esimctl *ctl, const char *path, const char *iface, const char *member,
                        GVariant *args, const char *reply_type, EsimctlCallFlags flags,
                        GError **error);

/* Every property of @iface on @path: a{sv}. */
GVariant *esimctl_get_properties (Esimctl *ctl, const char *path, const char *iface,
                                  GError **error);

/* ObjectManager.GetManagedObjects on /org/esim: a{oa{sa{sv}}} (eUICCs, profiles, jobs). */
GVariant *esimctl_get_objects (Esimctl *ctl, GError **error);

/* esimctl_get_objects(), and in *@only the eUICC --euicc names, or NULL without --euicc: for
 * the commands that show every eUICC unless told otherwise. */
GVariant *esimctl_get_objects_for (Esimctl *ctl, char **only, GError **error);

/* The objects in @objects that implement @iface with that interface's properties, in the
 * order of their numbers (/org/esim/job/2 before /org/esim/job/10): a{oa{sv}}. */
GVariant *esimctl_objects_with (GVariant *objects, const char *iface);

/* Orders object paths by their last element as a number when both are numbers. */
int esimctl_path_compare (const char *a, const char *b);

/* The Manager that @selector names in @objects: an index ("0"), an object path, a modem name
 * or an EID; NULL selects the only one there is. Fails with NoEuicc when there is none, and
 * with a usage error listing the choices when the selector matches none or several exist. */
char *esimctl_euicc_select (GVariant *objects, const char *selector, GVariant **properties,
                            GError **error);

/* esimctl_euicc_select() on esimd's objects with --euicc. */
char *esimctl_choose_euicc (Esimctl *ctl, GVariant **properties, GError **error);

/* The number at the end of an eUICC's or a job's path ("/org/esim/job/3" → "3"): what people
 * type and read. Borrowed from @path. */
const char *esimctl_short_id (const char *path);

/* A Job's object path from what the user typed: its number or its path. */
char *esimctl_job_path (const char *id, GError **error);

/* A GError for a failed sd-bus operation: the D-Bus error when there is one, else @r. */
GError *esimctl_error_from_sd_bus (const sd_bus_error *e, int r);

/* The values of @m from its current position on, as a tuple. */
GVariant *esimctl_message_read (sd_bus_message *m, GError **error);

/* Subscribes @callback to the signals matching @rule (a D-Bus match rule; sender='org.esim' is
 * added) on the connection, synchronously, so no signal sent after this returns is missed. Only
 * the signals the owner of org.esim sent reach @callback. *@slot (not NULL) holds the
 * subscription. */
gboolean esimctl_bus_match (Esimctl *ctl, const char *rule, sd_bus_message_handler_t callback,
                            void *userdata, sd_bus_slot **slot, GError **error);

typedef enum
{
  ESIMCTL_WAIT_DONE,
  ESIMCTL_WAIT_TIMEOUT,
  ESIMCTL_WAIT_INTERRUPTED,
  ESIMCTL_WAIT_FAILED,
} EsimctlWait;

/* Dispatches incoming messages to their handlers until *@done is set, CLOCK_MONOTONIC
 * @deadline_us passes (0: never), SIGINT/SIGTERM arrives (see esimctl_catch_interrupt) or the
 * connection fails (ESIMCTL_WAIT_FAILED with @error set). */
EsimctlWait esimctl_bus_wait (Esimctl *ctl, const gboolean *done, gint64 deadline_us,
                              GError **error);

/* While caught, SIGINT and SIGTERM make esimctl_bus_wait() return ESIMCTL_WAIT_INTERRUPTED
 * instead of killing esimctl, so it can cancel what it started; a second one kills. */
void esimctl_catch_interrupt (gboolean catch);
gboolean esimctl_interrupted (void);

G_END_DECLS
