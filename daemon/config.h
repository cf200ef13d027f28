/* config.h — esimd's configuration: /etc/esimd/esimd.conf read into plain structures.
 *
 * Reading never stops at the first mistake: every problem in the file is collected (with its
 * line), so that `esimd --check-config` can list them all in one run. */
#pragma once

#include <glib.h>

#include "build-config.h"

G_BEGIN_DECLS

#define ESIMD_DEFAULT_CONFIG_FILE SYSCONFDIR "/esimd/esimd.conf"
#define ESIMD_ISDR_AID_DEFAULT    "A0000005591010FFFFFFFF8900000100"

/* How the modem is made to re-read the card after a profile is enabled or disabled. */
typedef enum
{
  ESIMD_REFRESH_FLAG,        /* ask the eUICC for a REFRESH (refreshFlag TRUE) */
  ESIMD_REFRESH_POWER_CYCLE, /* refreshFlag FALSE, then a UIM power off/on through the modem */
  ESIMD_REFRESH_NONE,        /* refreshFlag FALSE and nothing else: the integrator handles it */
} EsimdRefresh;

/* Transport=qmi: how the control port carries QMI. */
typedef enum
{
  ESIMD_QMI_MODE_AUTO, /* by the port's kernel driver: cdc_mbim → MBIM, anything else → QMI */
  ESIMD_QMI_MODE_QMI,  /* QMUX, as qmi_wwan ports speak it */
  ESIMD_QMI_MODE_MBIM, /* QMI inside MBIM, on a (Qualcomm) modem in MBIM mode */
} EsimdQmiMode;

typedef struct
{
  char *name;      /* the part after "Modem " in the section name */
  char *transport; /* "qmi" */
  char *device;    /* e.g. /dev/cdc-wdm0, or the pcsc Reader= (NULL: any): one section per device */
  gboolean use_proxy;     /* share the device with ModemManager through qmi-proxy */
  char *proxy_socket;     /* abstract socket name; NULL = libqmi's default ("qmi-proxy") */
  gboolean no_file_check; /* test rigs only: the device path need not exist */
  EsimdQmiMode qmi_mode;  /* Transport=qmi only */
  guint slot;             /* UIM slot, 1-based */
  GBytes *isdr_aid;
  guint segment_size; /* STORE DATA block size to start from, 1..255 */
  EsimdRefresh refresh;
  char *imei;            /* sent to the SM-DP+ in ctxParams1; NULL = a generic TAC only */
  guint command_timeout; /* seconds for one QMI request / AT command */

  /* Transport=at */
  guint baud;          /* line speed of a real tty (a pty ignores it) */
  char *at_family;     /* ModemFamily=: "auto" (from AT+CGMI/AT+CGMM) or a family of at-quirks.c */
  guint at_quirks_add; /* Quirks=: EsimdAtQuirk bits added to the family's */
  guint at_quirks_remove; /* and removed from them */
  guint at_max_line; /* MaxCommandLength=: longest command line, CR included; 0 = the family's */

  /* Set by discovery (discovery.c), never read from the file. */
  char *unreachable; /* the eUICC cannot be reached now (its slot is not the active one): why */
  const struct _EsimdModemHold *hold; /* another program keeps the port: take it per use */
  char *hold_uid;                     /* the device to take (ModemManager's Device) */
} EsimdModemConfig;

typedef struct
{
  GPtrArray *modems; /* EsimdModemConfig* */

  /* [Discovery]: finding eUICCs no [Modem] section names */
  gboolean discover_mm;   /* ask ModemManager when it is on the bus */
  gboolean discover_udev; /* without ModemManager: udev's modem ports */
  gboolean discover_pcsc; /* pcscd's smart-card readers (when built with PC/SC) */
  char **deny_ports;      /* glob patterns of port names or paths never probed */
  guint probe_timeout;    /* seconds one probe may take */
  char *device_dir;       /* where the ports' nodes are (/dev) */

  /* [HTTP] */
  char **ci_dirs;            /* directories of trusted eSIM CI certificates (PEM or DER) */
  gboolean trust_system_cas; /* also accept web PKI server certificates (default TRUE) */
  char *system_ca_file;      /* the system's CA bundle */
  char **connect_to;         /* curl --connect-to entries HOST:PORT:CONNECT-HOST:CONNECT-PORT */
  guint connect_timeout;     /* seconds */
  guint request_timeout;     /* seconds for one ES9+/ES11 call */
  guint bpp_timeout;         /* seconds for getBoundProfilePackage (binding may take long) */
  char *proxy;               /* HTTP(S) proxy URL; NULL = none (the environment is ignored) */
  gsize max_response_size;   /* bytes; caps every response body but the BPP's */
  gboolean es11_fallback;    /* retry ES11 calls on the es9plus paths after a 404 */

  /* [Notifications] */
  gboolean notify_auto; /* deliver pending notifications after every operation */
  guint retry_initial;  /* seconds before the first retry */
  guint retry_max;      /* the back-off stops growing here */

  /* [Daemon] */
  gboolean log_personal_data; /* EID/ICCID in logs */
  char *state_dir;            /* small persistent facts (learnt segment sizes) */
  guint job_linger;           /* seconds a finished Job object stays on the bus */
  guint max_queued_jobs;      /* per eUICC; beyond it methods fail with Busy */
  guint max_bpp_size;         /* bytes; caps the getBoundProfilePackage answer (as base64 JSON) */
  guint confirmation_timeout; /* seconds a download waits in awaiting-confirmation */
  /* seconds a download whose last BPP segment's answer was lost waits for the modem to come back
   * and the card to be read (was the profile installed?) before its outcome is reported unknown */
  guint modem_return_timeout;

  GHashTable *lines; /* "Section" or "Section\nKey" -> line number (GUINT_TO_POINTER) */
} EsimdConfig;

/* One mistake in the file. */
typedef struct
{
  guint line;    /* 1-based; 0 when no single line is at fault */
  char *message; /* "[Section] Key: why", never a secret */
} EsimdConfigProblem;

/* Parses @data (the contents of a key file) with the defaults for everything it does not set or
 * sets wrongly. Every problem is appended to @problems (EsimdConfigProblem*, created with
 * esimd_config_problems_new()); the result is only meant to be used when there is none. */
EsimdConfig *esimd_config_parse (const char *data, GPtrArray *problems);
GPtrArray *esimd_config_problems_new (void);
/* Adds a problem at @line (0: none in particular). */
void esimd_config_problem_add (GPtrArray *problems, guint line, const char *format, ...)
    G_GNUC_PRINTF (3, 4);
/* The line a key (or, with @key NULL, a section header) was read from; 0 if not in the file. */
guint esimd_config_line_of (const EsimdConfig *config, const char *group, const char *key);
/* "PATH:LINE: message" lines, one per problem in the order of their lines (@problems is sorted
 * in place), joined by newlines (@path NULL: "esimd.conf"). */
char *esimd_config_problems_to_string (GPtrArray *problems, const char *path);

/* Both fail with every problem in the error's message, one per line. */
EsimdConfig *esimd_config_load (const char *path, GError **error);
EsimdConfig *esimd_config_load_data (const char *data, GError **error);
void esimd_config_free (EsimdConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdConfig, esimd_config_free)

/* "true" or "false": booleans as --check-config prints them. */
const char *esimd_config_bool_to_string (gboolean value);
/* The part of --check-config's line about @modem after "modem NAME: ", e.g.
 * "qmi /dev/cdc-wdm0 through qmi-proxy, slot 1, refresh power-cycle". */
char *esimd_config_describe_modem (const EsimdModemConfig *modem);

const char *esimd_refresh_to_string (EsimdRefresh refresh);

/* A [Modem] section's settings for a port discovery found, as if written with only Transport=
 * and Device=: every other key at its default. @name is the port's name (cdc-wdm0). */
EsimdModemConfig *esimd_modem_config_new (const char *name, const char *transport,
                                          const char *device);
EsimdModemConfig *esimd_modem_config_copy (const EsimdModemConfig *config);
void esimd_modem_config_free (EsimdModemConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EsimdModemConfig, esimd_modem_config_free)

G_END_DECLS
