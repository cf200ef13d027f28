/* at-quirks.c — the AT modem families esimd knows, each quirk with the public source it comes
 * from. What every AT modem gets anyway (no table entry needed), because public logs show it on
 * some firmware of every family:
 *   - the echo is turned off (ATE0) and tolerated when it stays on or comes back cut (Quectel
 *     EG25-G in lpac issue #173, Fibocom FM350-GL in lpac issue #179);
 *   - URCs (+QIND, RDY, +CPIN, +CREG…) are skipped wherever they come; of the lines without a
 *     sigil before AT+CGMI's and AT+CGMM's free text, the one naming a family or model below
 *     is taken, else the last (SIMCom SIM7670G's QCRDY, espressif/esp-protocols issue #669);
 *   - the session id of AT+CCHO is taken as the modem writes it: +CCHO: 1, a bare 1 (Fibocom
 *     FM350-GL, lpac issue #209 and pull request #445) or a 64-bit hex handle (Sierra MC7455 and
 *     EM7590, lpac issue #138 and pull request #139);
 *   - +CGLA: with or without a space (SIMCom A7908E, lpac pull request #238), hex answers in
 *     either case and with or without quotes, and an answer without its prefix (or with the
 *     prefix alone on its line) taken where it has the answer's exact form and length: modelled
 *     on the FM350-GL's bare AT+CCHO answer (lpac pull request #427 says its APDUs do the same;
 *     no transcript seen); commands always send quoted upper-case hex, which
 *     every firmware takes (27.007 §8.43 defines <command> as a string);
 *   - =? test commands are never used as probes: they answer OK without support, ERROR with it
 *     (EM7590, lpac pull request #139) or a template; the transport tries AT+CCHO and falls back
 *     to AT+CSIM when it is refused;
 *   - the CLA goes out with the channel bits clear and the modem codes its channel in (27.007
 *     §8.43; lpac issue #138 explains the MC7455 failing otherwise);
 *   - 61xx answers are fetched with GET RESPONSE when a modem hands them over (SIMCom A7908E,
 *     lpac pull request #238), with a bound on a modem that keeps answering 6100.
 */
#include "at-quirks.h"

#include "lpa-error.h"

#include <string.h>

static const EsimdAtModemInfo modems[] = {
  /* Quectel RG650E-class firmware runs an LPA of its own that keeps the ISD-R; it is switched
   * off with AT+QESIM="lpa_enable",0 and a restart (issue 13's list of field reports; no public
   * transcript found in our sources, so the transport does it only when AT+CCHO is refused). */
  { "quectel", "quectel", "RG650", ESIMD_AT_QUIRK_QUECTEL_LPA, 0,
    "internal LPA holds the ISD-R until AT+QESIM=\"lpa_enable\",0 and a restart" },
  /* EG25: AT+CCHO/CGLA/CCHC work, AT+CSIM on a logical channel does not (lpac issue #164, a
   * comment testing EG25 and IK41); EG25-G downloads over AT+CGLA in lpac issue #173. */
  { "quectel", "quectel", "EG25", 0, 0, "27.007 logical channels; AT+CSIM unreliable" },
  /* EC2x/EG25/EC200A/EC600U/BG95: "most newer Quectel modems support these commands" (lpac
   * issue #64); the EC25/EC21 AT manual documents AT+CSIM; AT+CCHO/CGLA/CCHC from 2019 firmware. */
  { "quectel", "quectel", NULL, 0, 0,
    "27.007 logical channels (EC2x, EG25, EC200A, EC600U, BG95)" },
  /* SIM7600: no eSIM AT commands (lpac issue #168); AT+CSIM is what is left. */
  { "simcom", "simcom", "SIM7600", ESIMD_AT_QUIRK_CSIM_ONLY, 0, "no AT+CCHO/CGLA: AT+CSIM" },
  /* A7908E answers "+CGLA:4,…" and leaves 61xx to the host (lpac pull request #238). */
  { "simcom", "simcom", NULL, 0, 0, "+CGLA: without a space; 61xx left to the host" },
  /* FM350-GL: bare session id (lpac issue #209, pull request #445); AT+CCHC only of an open
   * session (lpac issue #179). */
  { "fibocom", "fibocom", NULL, 0, 0, "AT+CCHO answers a bare session id" },
  /* MC7455, EM7590: 64-bit hex session handles, CLA without the channel, AT+CGLA=? fails while
   * AT+CGLA works (lpac issue #138, pull request #139). */
  { "sierra", "sierra", NULL, 0, 0, "hex session handles; the modem codes the channel" },
  /* Dell DW5821e (Foxconn T77W968): no AT+CCHO/CCHC/CGLA, only AT+CSIM (lpac issue #164). */
  { "foxconn", NULL, "DW5821", ESIMD_AT_QUIRK_CSIM_ONLY, 0, "no AT+CCHO/CGLA: AT+CSIM" },
  { "generic", NULL, NULL, 0, 0, "3GPP TS 27.007" },
};

static const struct
{
  guint quirk;
  const char *name;
} quirk_names[] = {
  { ESIMD_AT_QUIRK_CSIM_ONLY, "csim-only" },
  { ESIMD_AT_QUIRK_CGLA_SESSION0, "cgla-session0" },
  { ESIMD_AT_QUIRK_CLA_CHANNEL, "cla-channel" },
  { ESIMD_AT_QUIRK_QUECTEL_LPA, "quectel-lpa" },
};

static gboolean
contains_ci (const char *haystack, const char *needle)
{
  g_autofree char *h = NULL;
  g_autofree char *n = NULL;

  if (!needle)
    return TRUE;
  if (!haystack)
    return FALSE;
  h = g_ascii_strdown (haystack, -1);
  n = g_ascii_strdown (needle, -1);
  return strstr (h, n) != NULL;
}

const EsimdAtModemInfo *
esimd_at_quirks_lookup (const char *manufacturer, const char *model)
{
  for (gsize i = 0; i < G_N_ELEMENTS (modems); i++)
    {
      const EsimdAtModemInfo *m = &modems[i];

      /* An entry that names neither is the generic one, taken last. */
      if (!m->manufacturer && !m->model)
        continue;
      if (contains_ci (manufacturer, m->manufacturer) && contains_ci (model, m->model))
        return m;
    }
  return &modems[G_N_ELEMENTS (modems) - 1];
}

gboolean
esimd_at_quirks_knows_manufacturer (const char *manufacturer)
{
  return manufacturer && esimd_at_quirks_lookup (manufacturer, NULL)->manufacturer != NULL;
}

gboolean
esimd_at_quirks_knows_model (const char *manufacturer, const char *model)
{
  return model && esimd_at_quirks_lookup (manufacturer, model)->model != NULL;
}

const EsimdAtModemInfo *
esimd_at_quirks_family (const char *family)
{
  /* The family's own entry: the last of its rows, the one without a model. */
  const EsimdAtModemInfo *found = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (modems); i++)
    if (g_str_equal (modems[i].family, family) && (!found || !modems[i].model))
      found = &modems[i];
  return found;
}

const char *const *
esimd_at_families (void)
{
  static const char *const names[] = { "auto",    "generic", "quectel", "simcom",
                                       "fibocom", "sierra",  "foxconn", NULL };
  return names;
}

gboolean
esimd_at_quirks_parse (char **words, guint *add, guint *remove, GError **error)
{
  *add = *remove = 0;
  for (char **w = words; w && *w; w++)
    {
      const char *word = *w;
      gboolean minus = word[0] == '-';
      gboolean found = FALSE;

      if (minus || word[0] == '+')
        word++;
      if (!*word)
        continue;
      for (gsize i = 0; i < G_N_ELEMENTS (quirk_names); i++)
        if (g_str_equal (word, quirk_names[i].name))
          {
            *(minus ? remove : add) |= quirk_names[i].quirk;
            found = TRUE;
          }
      if (!found)
        {
          g_autofree char *known = esimd_at_quirks_to_string (ESIMD_AT_QUIRK_ALL);

          g_set_error (error, LPA_ERROR, LPA_ERROR_INVALID_ARGUMENT,
                       "unknown quirk \"%s\" (known: %s; prefix - to remove one)", word, known);
          return FALSE;
        }
    }
  return TRUE;
}

char *
esimd_at_quirks_to_string (guint quirks)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (quirk_names); i++)
    if (quirks & quirk_names[i].quirk)
      g_string_append_printf (s, "%s%s", s->len ? ", " : "", quirk_names[i].name);
  if (!s->len)
    g_string_append (s, "none");
  return g_string_free (g_steal_pointer (&s), FALSE);
}
