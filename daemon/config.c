/* config.c — parses and validates esimd.conf; every bad value is an error naming its key. */
#include "config.h"

#include "config-defaults.h"

#include <string.h>

#define MODEM_PREFIX "Modem "

static void
modem_config_free (EsimdModemConfig *m)
{
  g_free (m->name);
  g_free (m->transport);
  g_free (m->device);
  g_free (m->proxy_socket);
  g_clear_pointer (&m->isdr_aid, g_bytes_unref);
  g_free (m->imei);
  g_free (m);
}

void
esimd_config_free (EsimdConfig *config)
{
  if (!config)
    return;
  g_ptr_array_unref (config->modems);
  g_strfreev (config->ci_dirs);
  g_free (config->system_ca_file);
  g_strfreev (config->connect_to);
  g_free (config->proxy);
  g_free (config->state_dir);
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

/* GKeyFile getters report a missing key as an error; a missing key just means "default". */
static gboolean
get_bool (GKeyFile *kf, const char *group, const char *key, gboolean *out, GError **error)
{
  g_autoptr (GError) local = NULL;
  gboolean v;

  if (!g_key_file_has_key (kf, group, key, NULL))
    return TRUE;
  v = g_key_file_get_boolean (kf, group, key, &local);
  if (local)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[%s] %s: expected true or false", group, key);
      return FALSE;
    }
  *out = v;
  return TRUE;
}

static gboolean
get_uint (GKeyFile *kf, const char *group, const char *key, guint min, guint max, guint *out,
          GError **error)
{
  g_autofree char *s = NULL;
  guint64 v;

  if (!g_key_file_has_key (kf, group, key, NULL))
    return TRUE;
  s = g_key_file_get_value (kf, group, key, NULL);
  g_strstrip (s);
  if (!g_ascii_string_to_unsigned (s, 10, min, max, &v, NULL))
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[%s] %s: expected a whole number from %u to %u, got \"%s\"", group, key, min,
                   max, s);
      return FALSE;
    }
  *out = (guint) v;
  return TRUE;
}

static void
get_string (GKeyFile *kf, const char *group, const char *key, char **out)
{
  g_autofree char *s = NULL;

  if (!g_key_file_has_key (kf, group, key, NULL))
    return;
  s = g_key_file_get_string (kf, group, key, NULL);
  g_free (*out);
  *out = (s && *g_strstrip (s)) ? g_steal_pointer (&s) : NULL;
}

static void
get_list (GKeyFile *kf, const char *group, const char *key, char ***out)
{
  char **v;

  if (!g_key_file_has_key (kf, group, key, NULL))
    return;
  v = g_key_file_get_string_list (kf, group, key, NULL, NULL);
  for (char **p = v; p && *p; p++)
    g_strstrip (*p);
  g_strfreev (*out);
  *out = v;
}

static gboolean
check_known_keys (GKeyFile *kf, const char *group, const char *const *known, GError **error)
{
  g_auto (GStrv) keys = g_key_file_get_keys (kf, group, NULL, NULL);

  for (char **k = keys; k && *k; k++)
    if (!g_strv_contains (known, *k))
      {
        g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND,
                     "[%s] %s: unknown setting", group, *k);
        return FALSE;
      }
  return TRUE;
}

static GBytes *
parse_aid (const char *hex, GError **error)
{
  gsize len = strlen (hex);
  g_autofree guint8 *buf = NULL;

  if (len < 10 || len > 32 || len % 2)
    goto bad;
  buf = g_malloc (len / 2);
  for (gsize i = 0; i < len / 2; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        goto bad;
      buf[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (g_steal_pointer (&buf), len / 2);

bad:
  g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
               "IsdrAid: expected 5 to 16 bytes in hex, got \"%s\"", hex);
  return NULL;
}

static EsimdModemConfig *
parse_modem (GKeyFile *kf, const char *group, GError **error)
{
  static const char *const known[] = { "Transport", "Device",      "UseProxy",       "ProxySocket",
                                       "Slot",      "IsdrAid",     "SegmentSize",    "Refresh",
                                       "Imei",      "NoFileCheck", "CommandTimeout", NULL };
  g_autoptr (GError) local = NULL;
  EsimdModemConfig *m = g_new0 (EsimdModemConfig, 1);
  g_autofree char *aid = g_strdup (ESIMD_ISDR_AID_DEFAULT);
  g_autofree char *refresh = NULL;

  m->name = g_strstrip (g_strdup (group + strlen (MODEM_PREFIX)));
  m->transport = g_strdup ("qmi");
  m->use_proxy = TRUE;
  m->slot = 1;
  m->segment_size = 255;
  m->refresh = ESIMD_REFRESH_POWER_CYCLE;
  m->command_timeout = 30;

  if (!check_known_keys (kf, group, known, error))
    goto fail;
  get_string (kf, group, "Transport", &m->transport);
  get_string (kf, group, "Device", &m->device);
  get_string (kf, group, "ProxySocket", &m->proxy_socket);
  get_string (kf, group, "IsdrAid", &aid);
  get_string (kf, group, "Refresh", &refresh);
  get_string (kf, group, "Imei", &m->imei);
  if (!get_bool (kf, group, "UseProxy", &m->use_proxy, error) ||
      !get_bool (kf, group, "NoFileCheck", &m->no_file_check, error) ||
      !get_uint (kf, group, "Slot", 1, 5, &m->slot, error) ||
      !get_uint (kf, group, "SegmentSize", 1, 255, &m->segment_size, error) ||
      !get_uint (kf, group, "CommandTimeout", 1, 600, &m->command_timeout, error))
    goto fail;

  if (!*m->name)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[%s]: a modem section needs a name, e.g. [Modem wwan0]", group);
      goto fail;
    }
  if (g_strcmp0 (m->transport, "qmi") != 0)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[%s] Transport: \"%s\" is not supported (supported: qmi)", group, m->transport);
      goto fail;
    }
  if (!m->device || m->device[0] != '/')
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                   "[%s] Device: an absolute device path is required, e.g. /dev/cdc-wdm0", group);
      goto fail;
    }
  if (refresh)
    {
      if (g_str_equal (refresh, "refresh-flag"))
        m->refresh = ESIMD_REFRESH_FLAG;
      else if (g_str_equal (refresh, "power-cycle"))
        m->refresh = ESIMD_REFRESH_POWER_CYCLE;
      else if (g_str_equal (refresh, "none"))
        m->refresh = ESIMD_REFRESH_NONE;
      else
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "[%s] Refresh: expected refresh-flag, power-cycle or none", group);
          goto fail;
        }
    }
  if (m->imei)
    {
      gboolean digits = strlen (m->imei) == 15;

      for (const char *p = m->imei; digits && *p; p++)
        digits = g_ascii_isdigit (*p);
      if (!digits)
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "[%s] Imei: expected 15 digits", group);
          goto fail;
        }
    }
  m->isdr_aid = parse_aid (aid, &local);
  if (!m->isdr_aid)
    {
      g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE, "[%s] %s", group,
                   local->message);
      goto fail;
    }
  return m;

fail:
  modem_config_free (m);
  return NULL;
}

static gboolean
parse_connect_to (char **entries, GError **error)
{
  for (char **e = entries; e && *e; e++)
    {
      g_auto (GStrv) parts = g_strsplit (*e, ":", -1);

      if (g_strv_length (parts) != 4 || !*parts[0] || !*parts[2])
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                       "[HTTP] ConnectTo: \"%s\" is not HOST:PORT:CONNECT-HOST:CONNECT-PORT", *e);
          return FALSE;
        }
    }
  return TRUE;
}

static EsimdConfig *
config_from_keyfile (GKeyFile *kf, GError **error)
{
  static const char *const known_groups[] = { "Daemon", "HTTP", "Notifications", NULL };
  static const char *const known_daemon[] = {
    "LogPersonalData", "StateDirectory",      "JobLinger", "MaxQueuedJobs",
    "MaxBppSize",      "ConfirmationTimeout", NULL
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
  g_autoptr (EsimdConfig) c = g_new0 (EsimdConfig, 1);
  g_auto (GStrv) groups = g_key_file_get_groups (kf, NULL);
  guint max_response_kib = ESIMD_DEFAULT_MAX_RESPONSE_KIB;

  c->modems = g_ptr_array_new_with_free_func ((GDestroyNotify) modem_config_free);
  c->ci_dirs = g_strsplit (ESIMD_DEFAULT_CI_DIRS, ";", -1);
  c->trust_system_cas = TRUE;
  c->system_ca_file = g_strdup (ESIMD_DEFAULT_SYSTEM_CA_FILE);
  c->connect_timeout = 30;
  c->request_timeout = 120;
  c->bpp_timeout = 600;
  c->es11_fallback = TRUE;
  c->notify_auto = TRUE;
  c->retry_initial = 30;
  c->retry_max = 3600;
  c->state_dir = g_strdup (ESIMD_DEFAULT_STATE_DIR);
  c->job_linger = 60;
  c->max_queued_jobs = 32;
  c->max_bpp_size = ESIMD_DEFAULT_MAX_BPP_SIZE;
  c->confirmation_timeout = 300;

  for (char **g = groups; *g; g++)
    {
      if (g_str_has_prefix (*g, MODEM_PREFIX))
        {
          EsimdModemConfig *m = parse_modem (kf, *g, error);

          if (!m)
            return NULL;
          for (guint i = 0; i < c->modems->len; i++)
            if (g_str_equal (((EsimdModemConfig *) c->modems->pdata[i])->name, m->name))
              {
                g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_INVALID_VALUE,
                             "[%s]: two modem sections with the same name", *g);
                modem_config_free (m);
                return NULL;
              }
          g_ptr_array_add (c->modems, m);
        }
      else if (!g_strv_contains (known_groups, *g))
        {
          g_set_error (error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND,
                       "[%s]: unknown section (known: Daemon, HTTP, Notifications, Modem NAME)",
                       *g);
          return NULL;
        }
    }

  if (!check_known_keys (kf, "Daemon", known_daemon, error) ||
      !check_known_keys (kf, "HTTP", known_http, error) ||
      !check_known_keys (kf, "Notifications", known_notify, error))
    return NULL;

  if (!get_bool (kf, "Daemon", "LogPersonalData", &c->log_personal_data, error) ||
      !get_uint (kf, "Daemon", "JobLinger", 0, 86400, &c->job_linger, error) ||
      !get_uint (kf, "Daemon", "MaxQueuedJobs", 1, 1024, &c->max_queued_jobs, error) ||
      !get_uint (kf, "Daemon", "MaxBppSize", 1024, 16 * 1024 * 1024, &c->max_bpp_size, error) ||
      !get_uint (kf, "Daemon", "ConfirmationTimeout", 1, 86400, &c->confirmation_timeout, error) ||
      !get_bool (kf, "HTTP", "TrustSystemCAs", &c->trust_system_cas, error) ||
      !get_uint (kf, "HTTP", "ConnectTimeout", 1, 600, &c->connect_timeout, error) ||
      !get_uint (kf, "HTTP", "RequestTimeout", 1, 3600, &c->request_timeout, error) ||
      !get_uint (kf, "HTTP", "BppTimeout", 1, 3600, &c->bpp_timeout, error) ||
      !get_uint (kf, "HTTP", "MaxResponseSize", 16, 65536, &max_response_kib, error) ||
      !get_bool (kf, "HTTP", "Es11Fallback", &c->es11_fallback, error) ||
      !get_bool (kf, "Notifications", "AutoSend", &c->notify_auto, error) ||
      !get_uint (kf, "Notifications", "RetryInitial", 1, 86400, &c->retry_initial, error) ||
      !get_uint (kf, "Notifications", "RetryMax", 1, 7 * 86400, &c->retry_max, error))
    return NULL;
  c->max_response_size = (gsize) max_response_kib * 1024;
  get_string (kf, "Daemon", "StateDirectory", &c->state_dir);
  get_list (kf, "HTTP", "CiCertificateDirs", &c->ci_dirs);
  get_string (kf, "HTTP", "SystemCABundle", &c->system_ca_file);
  get_list (kf, "HTTP", "ConnectTo", &c->connect_to);
  get_string (kf, "HTTP", "Proxy", &c->proxy);
  if (!parse_connect_to (c->connect_to, error))
    return NULL;
  if (c->retry_max < c->retry_initial)
    c->retry_max = c->retry_initial;
  return g_steal_pointer (&c);
}

EsimdConfig *
esimd_config_load_data (const char *data, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();

  if (!g_key_file_load_from_data (kf, data, (gsize) -1, G_KEY_FILE_NONE, error))
    return NULL;
  return config_from_keyfile (kf, error);
}

EsimdConfig *
esimd_config_load (const char *path, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autoptr (GError) local = NULL;
  EsimdConfig *c;

  if (!g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, local->domain, local->code, "%s: %s", path, local->message);
      return NULL;
    }
  c = config_from_keyfile (kf, &local);
  if (!c)
    g_set_error (error, local->domain, local->code, "%s: %s", path, local->message);
  return c;
}
