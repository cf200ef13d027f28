/* esimctl.h — what every verb shares: global options, the bus connection and the verb table. */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define ESIMD_BUS_NAME      "org.esim"
#define ESIMD_ROOT_PATH     "/org/esim"
#define ESIMD_EUICC_PREFIX  "/org/esim/euicc/"
#define ESIMD_JOB_PREFIX    "/org/esim/job/"
#define ESIMD_MANAGER_IFACE "org.esim.Manager"
#define ESIMD_PROFILE_IFACE "org.esim.Profile"
#define ESIMD_JOB_IFACE     "org.esim.Job"

#define ESIMCTL_DEFAULT_TIMEOUT 300 /* seconds; jobs wait in a queue, downloads take a while */

typedef struct
{
  /* Global options, valid before and after the verb. */
  char *euicc; /* --euicc: index, modem name, EID or object path */
  gboolean json;
  int timeout; /* seconds */
  gboolean no_ask_password;
  gboolean quiet; /* --quiet: nothing on success but what was asked for */

  /* Derived. */
  gboolean interactive; /* a person may be asked (stdin is a terminal, asking not refused) */
  const char *command;  /* the verb (and sub-verb) running, for hints */
  gboolean json_done;   /* the verb already printed its JSON document */
  sd_bus *bus;          /* connected on first use */
  char *esimd_owner;    /* the unique name owning org.esim, when last asked */
} Esimctl;

typedef gboolean (*EsimctlVerbFunc) (Esimctl *ctl, int argc, char **argv, GError **error);

typedef struct
{
  const char *name;
  const char *parameters; /* usage after the verb, e.g. "ICCID" */
  const char *summary;    /* one line for esimctl --help */
  EsimctlVerbFunc run;
} EsimctlVerb;

/* A command under a verb ("job show"). */
typedef struct
{
  const char *name;
  const char *parameters; /* for the verb's overview, e.g. "JOB" */
  const char *summary;
  EsimctlVerbFunc run;
} EsimctlSubverb;

/* Runs the sub-command argv[1] names (it then sees itself as argv[0]). Without one, or when
 * argv[1] is an option, runs @fallback on argv as it is; with no fallback, --help prints an
 * overview of the sub-commands and anything else is a usage error. */
gboolean esimctl_run_subverb (Esimctl *ctl, const char *verb, const EsimctlSubverb *subs,
                              gsize n_subs, EsimctlVerbFunc fallback, int argc, char **argv,
                              GError **error);

/* Parses the options of a verb (argv[0] is its name) together with the global ones, with
 * GOptionContext's --help. On return *argv holds the verb's name followed by the positional
 * arguments, whose number must lie in [@min_args, @max_args] (-1: no maximum). @command is the
 * usage line's command ("notifications send"), @description the text --help shows under the
 * options. */
gboolean esimctl_parse_verb (Esimctl *ctl, const char *command, const char *parameters,
                             const char *summary, const char *description,
                             const GOptionEntry *entries, int *argc, char ***argv, int min_args,
                             int max_args, GError **error);

/* Splits the command line into global options, the verb and its arguments. *verb is NULL when
 * no verb was given (the default, status, then runs). */
gboolean esimctl_parse_global (Esimctl *ctl, int *argc, char ***argv, const EsimctlVerb **verb,
                               GError **error);

const EsimctlVerb *esimctl_find_verb (const char *name);
const EsimctlVerb *esimctl_verbs (gsize *n_verbs);

/* Runs esimctl on a command line and returns its exit status: main() in a testable form. */
int esimctl_main (int argc, char **argv);

void esimctl_clear (Esimctl *ctl);

/* The verbs, one file per group. */
gboolean esimctl_verb_status (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_eid (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_info (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_default_smdp (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_reset (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_refresh (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_switch_slot (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_list (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_enable (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_disable (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_delete (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_nickname (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_download (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_discover (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_notifications (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_jobs (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_job (Esimctl *ctl, int argc, char **argv, GError **error);
gboolean esimctl_verb_monitor (Esimctl *ctl, int argc, char **argv, GError **error);

G_END_DECLS
