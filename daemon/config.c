/* config.c — parses and validates esimd.conf; every bad value is a problem naming its line,
 * section and key, and reading goes on after one so that all of them are reported at once.
 *
 * GKeyFile does the parsing, but it silently merges a section that appears twice and keeps the
 * last of two equal keys; a first pass over the text (scan_lines) finds those, and lines GKeyFile
 * would stop at, and remembers where every section and key was read for the messages.
 *
 * The keys of a [Modem NAME] section are the common ones (modem_keys) plus those of its
 * transport (the transports[] table): a new transport adds one row with its keys, a function that
 * reads them and one that describes the result for --check-config. */
#include "config.h"

#include "at-quirks.h"
#include "config-defaults.h"

#include <stdlib.h>
#include <string.h>

#define MODEM_PREFIX   "Modem "
#define MODEM_NAME_MAX 64

typedef struct
{
  GKeyFile *kf;
  GHashTable *lines; /* borrowed from the EsimdConfig */
  GPtrArray *problems;
} Reader;

void
esimd_modem_config_free (EsimdModemConfig *m)
{
  if (!m)
    return;
  g_free (m->name);
  g_free (m->transport);
  g_free (m->device);
  g_free (m->proxy_socket);
  g_clear_pointer (&m->isdr_aid, g_bytes_unref);
  g_free (m->imei);
  g_free (m->at_family);
  g_free (m->unreachable);
  g_free (m->hold_uid);
  g_free (m);
}

void
esimd_config_free (EsimdConfig *config)
{
  if (!config)
    return;
  g_ptr_array_unref (config->modems);
  g_strfreev (config->deny_ports);
  g_free (config->device_dir);
  g_strfreev (config->ci_dirs);
  g_free (config->system_ca_file);
  g_strfreev (config->connect_to);
  g_free (config->proxy);
  g_free (config->state_dir);
  g_clear_pointer (&config->lines, g_hash_table_unref);
  g_free (config);
}

const char *
esimd_refresh_to_string (EsimdRefresh refresh)
{
  switch (refresh)
    {
    case ESIMD_REFRESH_FLAG:
      return "refresh-flag";
    case ESIMD_REFRESH_POWER_CYCLE:
      return "power-cycle";
    case ESIMD_REFRESH_NONE:
      return "none";
    }
  return "?";
}

const char *
esimd_config_bool_to_string (gboolean value)
{
  return value ? "true" : "false";
}

/* -- problems ---------------------------------------------------------------------------- */

static void
problem_free (EsimdConfigProblem *p)
{
  g_free (p->message);
  g_free (p);
}

GPtrArray *
esimd_config_problems_new (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) problem_free);
}

void
esimd_config_problem_add (GPtrArray *problems, guint line, const char *format, ...)
{
  EsimdConfigProblem *p = g_new0 (EsimdConfigProblem, 1);
  va_list ap;

  va_start (ap, format);
  p->line = line;
  p->message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_ptr_array_add (problems, p);
}

/* By line, those without a line last, otherwise in the order they were found. */
static void
sort_problems (GPtrArray *problems)
{
  /* Insertion sort: stable, and files are short. */
  for (guint i = 1; i < problems->len; i++)
    for (guint j = i; j > 0; j--)
      {
        EsimdConfigProblem *a = problems->pdata[j - 1], *b = problems->pdata[j];
        guint la = a->line ? a->line : G_MAXUINT, lb = b->line ? b->line : G_MAXUINT;

        if (la <= lb)
          break;
        problems->pdata[j - 1] = b;
        problems->pdata[j] = a;
      }
}

char *
esimd_config_problems_to_string (GPtrArray *problems, const char *path)
{
  g_autoptr (GString) s = g_string_new (NULL);

  sort_problems (problems);
  for (guint i = 0; i < problems->len; i++)
    {
      EsimdConfigProblem *p = problems->pdata[i];

      if (i)
        g_string_append_c (s, '\n');
      if (p->line)
        g_string_append_printf (s, "%s:%u: %s", path ? path : "esimd.conf", p->line, p->message);
      else
        g_string_append_printf (s, "%s: %s", path ? path : "esimd.conf", p->message);
    }
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static char *
line_key (const char *group, const char *key)
{
  return key ? g_strconcat (group, "\n", key, NULL) : g_strdup (group);
}

static guint
lookup_line (GHashTable *lines, const char *group, const char *key)
{
  g_autofree char *k = line_key (group, key);

  return GPOINTER_TO_UINT (g_hash_table_lookup (lines, k));
}

guint
esimd_config_line_of (const EsimdConfig *config, const char *group, const char *key)
{
  return lookup_line (config->lines, group, key);
}

static void G_GNUC_PRINTF (4, 5)
    problem (Reader *r, const char *group, const char *key, const char *format, ...)
{
  g_autofree char *why = NULL;
  va_list ap;

  va_start (ap, format);
  why = g_strdup_vprintf (format, ap);
  va_end (ap);
  if (key)
    esimd_config_problem_add (r->problems, lookup_line (r->lines, group, key), "[%s] %s: %s", group,
                              key, why);
  else
    esimd_config_problem_add (r->problems, lookup_line (r->lines, group, NULL), "[%s]: %s", group,
                              why);
}

/* -- the first pass over the text -------------------------------------------------------- */

/* Finds what GKeyFile would refuse or quietly merge, records where each section and key is,
 * and returns the text with the refused lines blanked so that GKeyFile reads the rest. */
static char *
scan_lines (const char *data, GHashTable *lines, GPtrArray *problems)
{
  g_auto (GStrv) text = g_strsplit (data, "\n", -1);
  g_autofree char *group = NULL;
  gboolean in_bad_section = FALSE; /* its keys go with it, quietly */

  for (guint n = 0; text[n]; n++)
    {
      guint lineno = n + 1;
      char *line = text[n];
      const char *p = line, *eq;

      if (!g_utf8_validate (line, -1, NULL))
        {
          esimd_config_problem_add (problems, lineno, "not valid UTF-8");
          line[0] = '\0';
          continue;
        }
      while (g_ascii_isspace (*p))
        p++;
      if (*p == '\0' || *p == '#')
        continue;
      if (*p == '[')
        {
          const char *end = strchr (p, ']');
          const char *after = end ? end + 1 : NULL;

          while (after && g_ascii_isspace (*after))
            after++;
          gboolean control = FALSE;

          for (const char *c = p + 1; end && c < end; c++)
            control |= g_ascii_iscntrl (*c) || *c == '[';
          if (!end || *after || end == p + 1 || control)
            {
              esimd_config_problem_add (problems, lineno,
                                        "\"%s\" is not a section header like [HTTP]%s", p,
                                        control ? " (it holds a control character or '[')" : "");
              line[0] = '\0';
              g_clear_pointer (&group, g_free);
              in_bad_section = TRUE;
              continue;
            }
          in_bad_section = FALSE;
          g_free (group);
          group = g_strndup (p + 1, (gsize) (end - p - 1));
          if (g_hash_table_contains (lines, group))
            esimd_config_problem_add (problems, lineno,
                                      "[%s]: the section appears again (first on line %u); "
                                      "each section may appear once",
                                      group, lookup_line (lines, group, NULL));
          else
            g_hash_table_insert (lines, g_strdup (group), GUINT_TO_POINTER (lineno));
          continue;
        }
      eq = strchr (p, '=');
      if (!eq)
        {
          esimd_config_problem_add (
              problems, lineno, "\"%s\" is not a Key=value line, a [Section] or a # comment", p);
          line[0] = '\0';
          continue;
        }
      {
        g_autofree char *key = g_strstrip (g_strndup (p, (gsize) (eq - p)));
        g_autofree char *k = NULL;

        if (!*key)
          {
            esimd_config_problem_add (problems, lineno, "a value without a key: \"%s\"", p);
            line[0] = '\0';
            continue;
          }
        if (!group)
          {
            if (!in_bad_section)
              esimd_config_problem_add (problems, lineno, "%s: set outside any [Section]", key);
            line[0] = '\0';
            continue;
          }
        k = line_key (group, key);
        if (g_hash_table_contains (lines, k))
          esimd_config_problem_add (problems, lineno,
                                    "[%s] %s: set again (first on line %u); each key may be "
                                    "set once",
                                    group, key, GPOINTER_TO_UINT (g_hash_table_lookup (lines, k)));
        else
          g_hash_table_insert (lines, g_steal_pointer (&k), GUINT_TO_POINTER (lineno));
      }
    }
  return g_strjoinv ("\n", text);
}

/* -- values ------------------------------------------------------------------------------ */

/* The spellings people write in key files and systemd units alike, in any case. */
static gboolean
parse_bool (const char *s, gboolean *out)
{
  static const char *const yes[] = { "true", "yes", "on", "1", NULL };
  static const char *const no[] = { "false", "no", "off", "0", NULL };

  for (guint i = 0; yes[i]; i++)
    {
      if (g_ascii_strcasecmp (s, yes[i]) == 0)
        return *out = TRUE, TRUE;
      if (g_ascii_strcasecmp (s, no[i]) == 0)
        return *out = FALSE, TRUE;
    }
  return FALSE;
}

/* The raw value, stripped; NULL when the key is not set. */
static char *
get_raw (Reader *r, const char *group, const char *key)
{
  char *s = g_key_file_get_value (r->kf, group, key, NULL);

  return s ? g_strstrip (s) : NULL;
}

/* The getters leave *out at its default when the key is not set or its value is wrong. */
static void
get_bool (Reader *r, const char *group, const char *key, gboolean *out)
{
  g_autofree char *s = get_raw (r, group, key);

  if (s && !parse_bool (s, out))
    problem (r, group, key, "expected true or false (or yes/no, on/off, 1/0), got \"%s\"", s);
}

static void
get_uint (Reader *r, const char *group, const char *key, guint min, guint max, guint *out)
{
  g_autofree char *s = get_raw (r, group, key);
  guint64 v;

  if (!s)
    return;
  if (!g_ascii_string_to_unsigned (s, 10, min, max, &v, NULL))
    problem (r, group, key, "expected a whole number from %u to %u, got \"%s\"", min, max, s);
  else
    *out = (guint) v;
}

/* An empty value means "not set": the default stays. */
static void
get_string (Reader *r, const char *group, const char *key, char **out)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *s = NULL;

  if (!g_key_file_has_key (r->kf, group, key, NULL))
    return;
  s = g_key_file_get_string (r->kf, group, key, &local);
  if (!s)
    {
      problem (r, group, key, "%s", local->message);
      return;
    }
  if (*g_strstrip (s))
    {
      g_free (*out);
      *out = g_steal_pointer (&s);
    }
}

static void
get_list (Reader *r, const char *group, const char *key, char ***out)
{
  g_autoptr (GError) local = NULL;
  char **v;

  if (!g_key_file_has_key (r->kf, group, key, NULL))
    return;
  v = g_key_file_get_string_list (r->kf, group, key, NULL, &local);
  if (!v)
    {
      problem (r, group, key, "%s", local->message);
      return;
    }
  for (char **p = v; *p; p++)
    g_strstrip (*p);
  g_strfreev (*out);
  *out = v;
}

static const char *
known_case_insensitive (const char *word, const char *const *known)
{
  for (guint i = 0; known[i]; i++)
    if (g_ascii_strcasecmp (word, known[i]) == 0)
      return known[i];
  return NULL;
}

/* Every key of @group that is not in @known (and not in @also, when given) is a problem;
 * @elsewhere names where it would belong, when it belongs somewhere else, or returns "" to let
 * it pass. */
static void
check_known_keys (Reader *r, const char *group, const char *const *known, const char *const *also,
                  const char *(*elsewhere) (const char *key))
{
  g_auto (GStrv) keys = g_key_file_get_keys (r->kf, group, NULL, NULL);

  for (char **k = keys; k && *k; k++)
    {
      const char *hint;

      if (g_strv_contains (known, *k) || (also && g_strv_contains (also, *k)))
        continue;
      if (elsewhere && (hint = elsewhere (*k)) && !*hint)
        continue;
      if (elsewhere && (hint = elsewhere (*k)))
        problem (r, group, *k, "%s", hint);
      else if ((hint = known_case_insensitive (*k, known)) ||
               (also && (hint = known_case_insensitive (*k, also))))
        problem (r, group, *k, "unknown setting (did you mean %s? keys are case-sensitive)", hint);
      else
        problem (r, group, *k, "unknown setting");
    }
}

static GBytes *
parse_aid (const char *hex)
{
  gsize len = strlen (hex);
  g_autofree guint8 *buf = NULL;

  if (len < 10 || len > 32 || len % 2)
    return NULL;
  buf = g_malloc (len / 2);
  for (gsize i = 0; i < len / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return NULL;
      buf[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (g_steal_pointer (&buf), len / 2);
}

/* -- [Modem NAME]: the transports -------------------------------------------------------- */

typedef struct
{
  const char *name;           /* the Transport= value */
  const char *const *keys;    /* the keys only this transport has */
  const char *device_key;     /* the key read into ->device, which one section at most names */
  const char *device_example; /* for the message when it is missing */
  void (*read) (Reader *r, const char *group, EsimdModemConfig *m);
  void (*describe) (const EsimdModemConfig *m, GString *out); /* after "modem NAME: " */
  gboolean device_optional; /* without it the transport finds the device by itself */
} ConfigTransport;

static const char *const qmi_keys[] = { "Device",      "UseProxy", "ProxySocket",
                                        "NoFileCheck", "QmiMode",  NULL };

static void
qmi_read (Reader *r, const char *group, EsimdModemConfig *m)
{
  g_autofree char *mode = NULL;

  m->use_proxy = TRUE;
  get_bool (r, group, "UseProxy", &m->use_proxy);
  get_string (r, group, "ProxySocket", &m->proxy_socket);
  get_bool (r, group, "NoFileCheck", &m->no_file_check);
  get_string (r, group, "QmiMode", &mode);
  if (!mode || g_str_equal (mode, "auto"))
    m->qmi_mode = ESIMD_QMI_MODE_AUTO;
  else if (g_str_equal (mode, "qmi"))
    m->qmi_mode = ESIMD_QMI_MODE_QMI;
  else if (g_str_equal (mode, "mbim"))
    m->qmi_mode = ESIMD_QMI_MODE_MBIM;
  else
    problem (r, group, "QmiMode", "expected auto, qmi or mbim, got \"%s\"", mode);
  /* In MBIM mode libqmi opens the port with libmbim, whose proxy socket has no other name. */
  if (m->qmi_mode == ESIMD_QMI_MODE_MBIM && m->proxy_socket)
    problem (r, group, "ProxySocket",
             "names a qmi-proxy socket, but with QmiMode=mbim the port is shared through "
             "mbim-proxy");
}

static void
qmi_describe (const EsimdModemConfig *m, GString *out)
{
  if (m->qmi_mode == ESIMD_QMI_MODE_MBIM)
    {
      g_string_append_printf (out, "qmi inside MBIM %s%s", m->device,
                              m->use_proxy ? " through mbim-proxy" : "");
      return;
    }
  g_string_append_printf (out, "qmi %s%s", m->device, m->use_proxy ? " through qmi-proxy" : "");
  if (m->use_proxy && m->proxy_socket)
    g_string_append_printf (out, " (socket @%s)", m->proxy_socket);
}

#ifdef HAVE_TRANSPORT_PCSC
/* Reader= is the device key: a reader's name or part of it; none = the first reader whose card
 * has the ISD-R. */
static const char *const pcsc_keys[] = { "Reader", NULL };

static void
pcsc_read (Reader *r, const char *group, EsimdModemConfig *m)
{
  if (m->slot != 1)
    problem (r, group, "Slot", "a smart-card reader has one slot; name the reader with Reader=");
}

static void
pcsc_describe (const EsimdModemConfig *m, GString *out)
{
  if (m->device)
    g_string_append_printf (out, "pcsc reader \"%s\" (or the first whose name contains it)",
                            m->device);
  else
    g_string_append (out, "pcsc, the first reader whose card has the ISD-R");
}
#endif

static const char *const at_keys[] = { "Device",           "Baud", "ModemFamily", "Quirks",
                                       "MaxCommandLength", NULL };

/* The speeds termios has names for (B9600…B4000000); a UART module runs at one of them. */
static const guint at_bauds[] = { 9600,   19200,   38400,   57600,   115200,  230400, 460800,
                                  921600, 1000000, 1500000, 2000000, 3000000, 4000000 };

static void
at_read (Reader *r, const char *group, EsimdModemConfig *m)
{
  g_auto (GStrv) quirks = NULL;
  g_autoptr (GError) local = NULL;
  gboolean baud_ok = FALSE;

  m->baud = 115200;
  m->at_family = g_strdup ("auto");
  get_uint (r, group, "Baud", 1, 4000000, &m->baud);
  for (gsize i = 0; i < G_N_ELEMENTS (at_bauds); i++)
    baud_ok |= m->baud == at_bauds[i];
  if (!baud_ok)
    {
      m->baud = 115200;
      problem (r, group, "Baud",
               "expected a serial line speed: 9600, 19200, 38400, 57600, 115200, 230400, 460800, "
               "921600, 1000000, 1500000, 2000000, 3000000 or 4000000");
    }
  get_string (r, group, "ModemFamily", &m->at_family);
  if (!g_strv_contains (esimd_at_families (), m->at_family))
    {
      g_autofree char *known = g_strjoinv (", ", (char **) esimd_at_families ());

      problem (r, group, "ModemFamily", "\"%s\" is not a modem family (known: %s)", m->at_family,
               known);
      g_free (m->at_family);
      m->at_family = g_strdup ("auto");
    }
  get_list (r, group, "Quirks", &quirks);
  if (quirks && !esimd_at_quirks_parse (quirks, &m->at_quirks_add, &m->at_quirks_remove, &local))
    problem (r, group, "Quirks", "%s", local->message);
  /* A command line for the smallest APDU is some 30 characters; below 64 nothing would fit. */
  get_uint (r, group, "MaxCommandLength", 64, 65535, &m->at_max_line);
}

static void
at_describe (const EsimdModemConfig *m, GString *out)
{
  g_autofree char *add = esimd_at_quirks_to_string (m->at_quirks_add);
  g_autofree char *remove = esimd_at_quirks_to_string (m->at_quirks_remove);

  g_string_append_printf (out, "at %s at %u baud, modem family %s", m->device, m->baud,
                          m->at_family);
  if (m->at_quirks_add || m->at_quirks_remove)
    g_string_append (out, ", quirks");
  if (m->at_quirks_add)
    g_string_append_printf (out, " +%s", add);
  if (m->at_quirks_remove)
    g_string_append_printf (out, " -%s", remove);
  if (m->at_max_line)
    g_string_append_printf (out, ", command lines up to %u characters", m->at_max_line);
}

#ifdef HAVE_TRANSPORT_MBIM
/* MBIM has no ProxySocket or NoFileCheck: libmbim 1.28 always reaches its proxy at the abstract
 * socket "mbim-proxy" and always wants a character device. */
static const char *const mbim_keys[] = { "Device", "UseProxy", NULL };

static void
mbim_read (Reader *r, const char *group, EsimdModemConfig *m)
{
  m->use_proxy = TRUE;
  get_bool (r, group, "UseProxy", &m->use_proxy);
}

static void
mbim_describe (const EsimdModemConfig *m, GString *out)
{
  g_string_append_printf (out, "mbim %s%s", m->device, m->use_proxy ? " through mbim-proxy" : "");
}
#endif

static const ConfigTransport transports[] = {
  { "qmi", qmi_keys, "Device", "/dev/cdc-wdm0", qmi_read, qmi_describe },
  { "at", at_keys, "Device", "/dev/ttyUSB2", at_read, at_describe },
#ifdef HAVE_TRANSPORT_PCSC
  { "pcsc", pcsc_keys, "Reader", "\"Identiv uTrust 3700 F\"", pcsc_read, pcsc_describe, TRUE },
#endif
#ifdef HAVE_TRANSPORT_MBIM
  { "mbim", mbim_keys, "Device", "/dev/cdc-wdm0", mbim_read, mbim_describe },
#endif
};

/* The keys every transport's section has. */
static const char *const modem_keys[] = { "Transport", "Slot", "IsdrAid",        "SegmentSize",
                                          "Refresh",   "Imei", "CommandTimeout", NULL };

static const ConfigTransport *
find_transport (const char *name)
{
  for (gsize i = 0; i < G_N_ELEMENTS (transports); i++)
    if (g_str_equal (transports[i].name, name))
      return &transports[i];
  return NULL;
}

static char *
transport_names (void)
{
  g_autoptr (GString) s = g_string_new (NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (transports); i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", transports[i].name);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* For a key no row of the section's own transport has: the transport it belongs to. */
static const char *
key_of_other_transport (const char *key)
{
  static char hint[96];

  for (gsize i = 0; i < G_N_ELEMENTS (transports); i++)
    if (g_strv_contains (transports[i].keys, key))
      {
        g_snprintf (hint, sizeof hint, "a setting of Transport=%s, not of this section's transport",
                    transports[i].name);
        return hint;
      }
  return NULL;
}

/* With an unknown Transport= there is no telling which transport's keys are wrong. */
static const char *
key_of_any_transport (const char *key)
{
  for (gsize i = 0; i < G_N_ELEMENTS (transports); i++)
    if (g_strv_contains (transports[i].keys, key))
      return "";
  return NULL;
}

char *
esimd_config_describe_modem (const EsimdModemConfig *m)
{
  const ConfigTransport *t = find_transport (m->transport);
  g_autoptr (GString) s = g_string_new (NULL);

  if (t)
    t->describe (m, s);
  else
    g_string_append_printf (s, "%s %s", m->transport, m->device ? m->device : "");
  g_string_append_printf (s, ", slot %u, refresh %s", m->slot,
                          esimd_refresh_to_string (m->refresh));
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Names appear in esimctl's output and its --euicc option, and in log lines: a word. */
static gboolean
modem_name_valid (const char *name)
{
  gsize n = strlen (name);

  if (n == 0 || n > MODEM_NAME_MAX)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && !strchr ("-_.", *p))
      return FALSE;
  return TRUE;
}

/* Every key of a [Modem] section at its default. */
static EsimdModemConfig *
modem_defaults (const char *name, const char *transport)
{
  EsimdModemConfig *m = g_new0 (EsimdModemConfig, 1);

  m->name = g_strdup (name);
  m->transport = g_strdup (transport);
  m->slot = 1;
  m->segment_size = 255;
  m->refresh = ESIMD_REFRESH_POWER_CYCLE;
  m->command_timeout = 30;
  m->isdr_aid = parse_aid (ESIMD_ISDR_AID_DEFAULT);
  return m;
}

EsimdModemConfig *
esimd_modem_config_new (const char *name, const char *transport, const char *device)
{
  EsimdModemConfig *m = modem_defaults (name, transport);
  const ConfigTransport *t = find_transport (transport);
  g_autoptr (GKeyFile) empty = g_key_file_new ();
  g_autoptr (GPtrArray) problems = esimd_config_problems_new ();
  Reader r = { empty, NULL, problems };

  m->device = g_strdup (device);
  /* The transport's own defaults, exactly as a section without its keys gets them. */
  if (t)
    t->read (&r, "Modem", m);
  return m;
}

EsimdModemConfig *
esimd_modem_config_copy (const EsimdModemConfig *o)
{
  EsimdModemConfig *m = g_memdup2 (o, sizeof *o);

  m->name = g_strdup (o->name);
  m->transport = g_strdup (o->transport);
  m->device = g_strdup (o->device);
  m->proxy_socket = g_strdup (o->proxy_socket);
  m->isdr_aid = o->isdr_aid ? g_bytes_ref (o->isdr_aid) : NULL;
  m->imei = g_strdup (o->imei);
  m->at_family = g_strdup (o->at_family);
  m->unreachable = g_strdup (o->unreachable);
  m->hold_uid = g_strdup (o->hold_uid);
  return m;
}

static EsimdModemConfig *
read_modem (Reader *r, const char *group)
{
  g_autofree char *transport = g_strdup ("qmi");
  EsimdModemConfig *m;
  const ConfigTransport *t;
  g_autofree char *aid = NULL;
  g_autofree char *refresh = NULL;

  get_string (r, group, "Transport", &transport);
  m = modem_defaults (group + strlen (MODEM_PREFIX), transport);

  if (!modem_name_valid (m->name))
    problem (r, group, NULL,
             "a modem's name is 1 to %d letters, digits, '-', '_' or '.', e.g. [Modem wwan0]",
             MODEM_NAME_MAX);

  t = find_transport (m->transport);
  if (!t)
    {
      g_autofree char *names = transport_names ();

      problem (r, group, "Transport", "\"%s\" is not supported (supported: %s)", m->transport,
               names);
    }
  check_known_keys (r, group, modem_keys, t ? t->keys : NULL,
                    t ? key_of_other_transport : key_of_any_transport);

  get_uint (r, group, "Slot", 1, 5, &m->slot);
  get_uint (r, group, "SegmentSize", 1, 255, &m->segment_size);
  get_uint (r, group, "CommandTimeout", 1, 600, &m->command_timeout);
  get_string (r, group, "Refresh", &refresh);
  get_string (r, group, "Imei", &m->imei);
  get_string (r, group, "IsdrAid", &aid);

  if (refresh)
    {
      if (g_str_equal (refresh, "refresh-flag"))
        m->refresh = ESIMD_REFRESH_FLAG;
      else if (g_str_equal (refresh, "power-cycle"))
        m->refresh = ESIMD_REFRESH_POWER_CYCLE;
      else if (g_str_equal (refresh, "none"))
        m->refresh = ESIMD_REFRESH_NONE;
      else
        problem (r, group, "Refresh", "expected refresh-flag, power-cycle or none, got \"%s\"",
                 refresh);
    }
  if (m->imei)
    {
      gboolean digits = strlen (m->imei) == 15;

      for (const char *p = m->imei; digits && *p; p++)
        digits = g_ascii_isdigit (*p);
      if (!digits)
        problem (r, group, "Imei", "expected 15 digits");
    }
  if (aid)
    {
      GBytes *b = parse_aid (aid);

      if (b)
        {
          g_bytes_unref (m->isdr_aid);
          m->isdr_aid = b;
        }
      else
        problem (r, group, "IsdrAid", "expected 5 to 16 bytes in hex, got \"%s\"", aid);
    }

  if (t)
    {
      get_string (r, group, t->device_key, &m->device);
      if (!m->device && !t->device_optional)
        problem (r, group, NULL, "%s= is required, e.g. %s=%s", t->device_key, t->device_key,
                 t->device_example);
      else if (m->device && g_str_equal (t->device_key, "Device") && m->device[0] != '/')
        problem (r, group, "Device", "an absolute device path is required, e.g. %s, got \"%s\"",
                 t->device_example, m->device);
      t->read (r, group, m);
    }
  return m;
}

/* Two sections for one device would be two eUICC objects fighting over one card. The same
 * node may be reached through a symlink (/dev/serial/by-id/...): compare where they lead. */
static void
check_devices_distinct (Reader *r, GPtrArray *modems)
{
  g_autoptr (GPtrArray) real = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < modems->len; i++)
    {
      EsimdModemConfig *m = modems->pdata[i];
      char *resolved = m->device && m->device[0] == '/' ? realpath (m->device, NULL) : NULL;

      g_ptr_array_add (real, resolved ? resolved : g_strdup (m->device));
      for (guint j = 0; j < i && real->pdata[i]; j++)
        {
          EsimdModemConfig *o = modems->pdata[j];
          const ConfigTransport *t = find_transport (m->transport);
          g_autofree char *group = g_strconcat (MODEM_PREFIX, m->name, NULL);

          if (!real->pdata[j] || g_strcmp0 (real->pdata[i], real->pdata[j]) != 0)
            continue;
          problem (r, group, t ? t->device_key : "Device",
                   "%s is already the device of [Modem %s]; one section per device", m->device,
                   o->name);
          break;
        }
    }

  /* A section without its device key takes whatever device it finds first: beside another
   * section of its transport, the two could take the same one. */
  for (guint i = 0; i < modems->len; i++)
    {
      EsimdModemConfig *m = modems->pdata[i];
      const ConfigTransport *t = find_transport (m->transport);

      if (m->device || !t || !t->device_optional)
        continue;
      for (guint j = 0; j < modems->len; j++)
        {
          EsimdModemConfig *o = modems->pdata[j];
          g_autofree char *group = g_strconcat (MODEM_PREFIX, m->name, NULL);

          if (j == i || !g_str_equal (o->transport, m->transport))
            continue;
          problem (r, group, NULL,
                   "%s= is required beside [Modem %s] (Transport=%s): without it each would take "
                   "the first device found",
                   t->device_key, o->name, m->transport);
          break;
        }
    }
}

/* -- the file ---------------------------------------------------------------------------- */

static const char *const known_groups[] = { "Daemon", "HTTP", "Notifications", "Discovery", NULL };
static const char *const known_daemon[] = {
  "LogPersonalData", "StateDirectory",      "JobLinger",          "MaxQueuedJobs",
  "MaxBppSize",      "ConfirmationTimeout", "ModemReturnTimeout", NULL
};
static const char *const known_http[] = { "CiCertificateDirs",
                                          "TrustSystemCAs",
                                          "SystemCABundle",
                                          "ConnectTo",
                                          "ConnectTimeout",
                                          "RequestTimeout",
                                          "BppTimeout",
                                          "Proxy",
                                          "MaxResponseSize",
                                          "Es11Fallback",
                                          NULL };
static const char *const known_notify[] = { "AutoSend", "RetryInitial", "RetryMax", NULL };
static const char *const known_discovery[] = {
  "ModemManager", "Udev", "PCSC", "DenyPorts", "ProbeTimeout", "DeviceDirectory", NULL
};

static void
set_defaults (EsimdConfig *c)
{
  c->modems = g_ptr_array_new_with_free_func ((GDestroyNotify) esimd_modem_config_free);
  c->ci_dirs = g_strsplit (ESIMD_DEFAULT_CI_DIRS, ";", -1);
  c->trust_system_cas = TRUE;
  c->system_ca_file = g_strdup (ESIMD_DEFAULT_SYSTEM_CA_FILE);
  c->connect_timeout = 30;
  c->request_timeout = 120;
  c->bpp_timeout = 600;
  c->max_response_size = (gsize) ESIMD_DEFAULT_MAX_RESPONSE_KIB * 1024;
  c->es11_fallback = TRUE;
  c->notify_auto = TRUE;
  c->retry_initial = 30;
  c->retry_max = 3600;
  c->state_dir = g_strdup (ESIMD_DEFAULT_STATE_DIR);
  c->job_linger = 60;
  c->max_queued_jobs = 32;
  c->max_bpp_size = ESIMD_DEFAULT_MAX_BPP_SIZE;
  c->confirmation_timeout = 300;
  c->discover_mm = TRUE;
  c->discover_udev = TRUE;
  c->discover_pcsc = TRUE;
  c->probe_timeout = ESIMD_DEFAULT_PROBE_TIMEOUT;
  c->device_dir = g_strdup (ESIMD_DEFAULT_DEVICE_DIR);
  c->modem_return_timeout = 60;
}

static void
read_sections (Reader *r, EsimdConfig *c)
{
  g_auto (GStrv) groups = g_key_file_get_groups (r->kf, NULL);
  guint max_response_kib = ESIMD_DEFAULT_MAX_RESPONSE_KIB;

  for (char **g = groups; *g; g++)
    {
      const char *hint;

      if (g_str_has_prefix (*g, MODEM_PREFIX))
        g_ptr_array_add (c->modems, read_modem (r, *g));
      else if (g_strv_contains (known_groups, *g))
        continue;
      else if ((hint = known_case_insensitive (*g, known_groups)) ||
               (g_ascii_strncasecmp (*g, MODEM_PREFIX, strlen (MODEM_PREFIX)) == 0 &&
                (hint = "Modem NAME")))
        problem (r, *g, NULL, "unknown section (did you mean [%s]? names are case-sensitive)",
                 hint);
      else
        problem (r, *g, NULL,
                 "unknown section (known: Daemon, HTTP, Notifications, Discovery, Modem NAME)");
    }
  check_devices_distinct (r, c->modems);

  check_known_keys (r, "Daemon", known_daemon, NULL, NULL);
  check_known_keys (r, "HTTP", known_http, NULL, NULL);
  check_known_keys (r, "Notifications", known_notify, NULL, NULL);
  check_known_keys (r, "Discovery", known_discovery, NULL, NULL);

  get_bool (r, "Daemon", "LogPersonalData", &c->log_personal_data);
  get_string (r, "Daemon", "StateDirectory", &c->state_dir);
  get_uint (r, "Daemon", "JobLinger", 0, 86400, &c->job_linger);
  get_uint (r, "Daemon", "MaxQueuedJobs", 1, 1024, &c->max_queued_jobs);
  get_uint (r, "Daemon", "MaxBppSize", 1024, 16 * 1024 * 1024, &c->max_bpp_size);
  get_uint (r, "Daemon", "ConfirmationTimeout", 1, 86400, &c->confirmation_timeout);
  get_uint (r, "Daemon", "ModemReturnTimeout", 1, 3600, &c->modem_return_timeout);

  get_list (r, "HTTP", "CiCertificateDirs", &c->ci_dirs);
  get_bool (r, "HTTP", "TrustSystemCAs", &c->trust_system_cas);
  get_string (r, "HTTP", "SystemCABundle", &c->system_ca_file);
  get_list (r, "HTTP", "ConnectTo", &c->connect_to);
  get_uint (r, "HTTP", "ConnectTimeout", 1, 600, &c->connect_timeout);
  get_uint (r, "HTTP", "RequestTimeout", 1, 3600, &c->request_timeout);
  get_uint (r, "HTTP", "BppTimeout", 1, 3600, &c->bpp_timeout);
  get_string (r, "HTTP", "Proxy", &c->proxy);
  get_uint (r, "HTTP", "MaxResponseSize", 16, 65536, &max_response_kib);
  c->max_response_size = (gsize) max_response_kib * 1024;
  get_bool (r, "HTTP", "Es11Fallback", &c->es11_fallback);

  get_bool (r, "Notifications", "AutoSend", &c->notify_auto);
  get_uint (r, "Notifications", "RetryInitial", 1, 86400, &c->retry_initial);
  get_uint (r, "Notifications", "RetryMax", 1, 7 * 86400, &c->retry_max);

  get_bool (r, "Discovery", "ModemManager", &c->discover_mm);
  get_bool (r, "Discovery", "Udev", &c->discover_udev);
  get_bool (r, "Discovery", "PCSC", &c->discover_pcsc);
  get_list (r, "Discovery", "DenyPorts", &c->deny_ports);
  get_uint (r, "Discovery", "ProbeTimeout", 1, 600, &c->probe_timeout);
  get_string (r, "Discovery", "DeviceDirectory", &c->device_dir);
  for (char **d = c->deny_ports; d && *d; d++)
    if (!**d)
      problem (r, "Discovery", "DenyPorts", "an empty pattern denies nothing; remove it");
  if (c->device_dir[0] != '/')
    {
      problem (r, "Discovery", "DeviceDirectory", "an absolute directory is required, got \"%s\"",
               c->device_dir);
      g_free (c->device_dir);
      c->device_dir = g_strdup (ESIMD_DEFAULT_DEVICE_DIR);
    }
  /* A relative path would be taken from whatever directory esimd was started in: the crash
   * records and the state-directory lock of a service and of an esimd started by hand would be
   * in different places, and the service's sandbox (ProtectSystem=strict, cwd /) could not write
   * them at all. The same for the files esimd reads its trust from. */
  if (c->state_dir[0] != '/')
    problem (r, "Daemon", "StateDirectory", "an absolute directory is required, got \"%s\"",
             c->state_dir);
  for (char **d = c->ci_dirs; d && *d; d++)
    if (**d && **d != '/')
      problem (r, "HTTP", "CiCertificateDirs", "an absolute directory is required, got \"%s\"", *d);
  if (c->system_ca_file && *c->system_ca_file && c->system_ca_file[0] != '/')
    problem (r, "HTTP", "SystemCABundle", "an absolute file name is required, got \"%s\"",
             c->system_ca_file);

  for (char **e = c->connect_to; e && *e; e++)
    {
      g_auto (GStrv) parts = g_strsplit (*e, ":", -1);

      if (g_strv_length (parts) != 4 || !*parts[0] || !*parts[2])
        problem (r, "HTTP", "ConnectTo", "\"%s\" is not HOST:PORT:CONNECT-HOST:CONNECT-PORT", *e);
    }
  if (c->retry_max < c->retry_initial)
    c->retry_max = c->retry_initial;
}

EsimdConfig *
esimd_config_parse (const char *data, GPtrArray *problems)
{
  g_autoptr (EsimdConfig) c = g_new0 (EsimdConfig, 1);
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  g_autofree char *clean = NULL;
  Reader r = { kf, NULL, problems };

  set_defaults (c);
  c->lines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  r.lines = c->lines;
  clean = scan_lines (data, c->lines, problems);
  /* What scan_lines lets through GKeyFile reads; anything it still refuses is one problem. */
  if (!g_key_file_load_from_data (kf, clean, (gsize) -1, G_KEY_FILE_NONE, &local))
    esimd_config_problem_add (problems, 0, "%s", local->message);
  else
    read_sections (&r, c);
  return g_steal_pointer (&c);
}

static EsimdConfig *
parse_or_fail (const char *data, const char *path, GError **error)
{
  g_autoptr (GPtrArray) problems = esimd_config_problems_new ();
  g_autoptr (EsimdConfig) c = esimd_config_parse (data, problems);

  if (problems->len)
    {
      g_autofree char *msg = esimd_config_problems_to_string (problems, path);

      g_set_error_literal (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, msg);
      return NULL;
    }
  return g_steal_pointer (&c);
}

EsimdConfig *
esimd_config_load_data (const char *data, GError **error)
{
  return parse_or_fail (data, NULL, error);
}

EsimdConfig *
esimd_config_load (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autofree char *data = NULL;

  if (!g_file_get_contents (path, &data, NULL, &local))
    {
      /* GLib's message names the file and the system's reason. */
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  return parse_or_fail (data, path, error);
}
