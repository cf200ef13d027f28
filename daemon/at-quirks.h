/* at-quirks.h — what the AT transport does differently per modem family, and why: every quirk
 * comes from a public log or manual of a real modem, named next to it in at-quirks.c. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  /* No AT+CCHO/CGLA/CCHC: APDUs go through AT+CSIM, logical channels by MANAGE CHANNEL. */
  ESIMD_AT_QUIRK_CSIM_ONLY = 1 << 0,
  /* No AT+CCHO, but AT+CGLA on session 0 reaches the basic channel: MANAGE CHANNEL through it. */
  ESIMD_AT_QUIRK_CGLA_SESSION0 = 1 << 1,
  /* The modem passes the CLA through unchanged: the host codes the channel in it (27.007 says
   * the MT does; this is for firmware that does not). */
  ESIMD_AT_QUIRK_CLA_CHANNEL = 1 << 2,
  /* The module's internal LPA holds the ISD-R: switch it off (AT+QESIM="lpa_enable",0) and
   * restart the radio when AT+CCHO of the ISD-R is refused. */
  ESIMD_AT_QUIRK_QUECTEL_LPA = 1 << 3,
} EsimdAtQuirk;

#define ESIMD_AT_QUIRK_ALL                                                                         \
  (ESIMD_AT_QUIRK_CSIM_ONLY | ESIMD_AT_QUIRK_CGLA_SESSION0 | ESIMD_AT_QUIRK_CLA_CHANNEL |          \
   ESIMD_AT_QUIRK_QUECTEL_LPA)

typedef struct
{
  const char *family;       /* "quectel", … : the ModemFamily= value */
  const char *manufacturer; /* substring of AT+CGMI's answer (case-insensitive); NULL: any */
  const char *model;        /* substring of AT+CGMM's answer; NULL: any model of the family */
  guint quirks;             /* EsimdAtQuirk */
  guint max_line;           /* the longest command line, CR included; 0: no known limit */
  const char *note;         /* what is known of the family, for logs and the man page */
} EsimdAtModemInfo;

/* The entry for a modem that answered AT+CGMI with @manufacturer and AT+CGMM with @model (either
 * may be NULL); the generic entry when none matches. */
const EsimdAtModemInfo *esimd_at_quirks_lookup (const char *manufacturer, const char *model);
/* Whether @manufacturer (a line of AT+CGMI's answer) names a family of the table, and whether
 * @model (a line of AT+CGMM's) names a model the table has an entry for with @manufacturer. */
gboolean esimd_at_quirks_knows_manufacturer (const char *manufacturer);
gboolean esimd_at_quirks_knows_model (const char *manufacturer, const char *model);
/* The family entry named @family (ModemFamily=), or NULL. "auto" is not a family. */
const EsimdAtModemInfo *esimd_at_quirks_family (const char *family);
/* The names ModemFamily= takes, "auto" first, NULL-terminated. */
const char *const *esimd_at_families (void);

/* Quirks= : a list of quirk names, each optionally preceded by '-' to remove it from what the
 * family brings ("csim-only", "-quectel-lpa"). FALSE with a message naming the bad word. */
gboolean esimd_at_quirks_parse (char **words, guint *add, guint *remove, GError **error);
/* "csim-only, cla-channel", or "none". */
char *esimd_at_quirks_to_string (guint quirks);

G_END_DECLS
