/* config-check.c — `esimd --check-config`: every problem of a configuration in one run, or what
 * it configures and the settings in effect, so an edit can be judged before a restart. */
#include "config-check.h"

#include "config-defaults.h"
#include "modem.h"

#include <stdlib.h>

void
esimd_config_check_trust (const EsimdConfig *config, EsimdTrust *trust, GPtrArray *problems)
{
  g_autofree char *dirs = NULL;

  if (config->trust_system_cas || esimd_trust_count (trust) > 0)
    return;
  dirs = g_strjoinv (";", config->ci_dirs ? config->ci_dirs : (char *[]){ NULL });
  esimd_config_problem_add (problems, esimd_config_line_of (config, "HTTP", "TrustSystemCAs"),
                            "[HTTP] TrustSystemCAs: false, but CiCertificateDirs (%s) hold no eSIM "
                            "CI certificate, so no server could be trusted; install the CI "
                            "certificates or set TrustSystemCAs=true",
                            *dirs ? dirs : "empty");
}

static void
print_list (const char *key, char **values)
{
  g_autofree char *joined = g_strjoinv (";", values ? values : (char *[]){ NULL });

  g_print ("%s=%s\n", key, joined);
}

static void
print_ci_dirs (const EsimdConfig *c)
{
  print_list ("CiCertificateDirs", c->ci_dirs);
  for (char **d = c->ci_dirs; d && *d; d++)
    {
      char *one[] = { *d, NULL };
      g_autoptr (EsimdTrust) trust = NULL;

      if (!**d)
        continue;
      if (!g_file_test (*d, G_FILE_TEST_IS_DIR))
        {
          g_print ("# %s: not present\n", *d);
          continue;
        }
      trust = esimd_trust_load (one, NULL);
      g_print ("# %s: %u eSIM CI certificate(s)\n", *d, esimd_trust_count (trust));
    }
}

/* The settings in effect, as a key file: defaults and the file's values alike. */
static void
print_effective (const EsimdConfig *c)
{
  g_print ("\n# effective settings\n[HTTP]\n");
  print_ci_dirs (c);
  g_print ("TrustSystemCAs=%s\n", esimd_config_bool_to_string (c->trust_system_cas));
  g_print ("SystemCABundle=%s\n", c->system_ca_file ? c->system_ca_file : "");
  print_list ("ConnectTo", c->connect_to);
  g_print ("ConnectTimeout=%u\n", c->connect_timeout);
  g_print ("RequestTimeout=%u\n", c->request_timeout);
  g_print ("BppTimeout=%u\n", c->bpp_timeout);
  g_print ("Proxy=%s\n", c->proxy ? c->proxy : "");
  g_print ("MaxResponseSize=%" G_GSIZE_FORMAT "\n", c->max_response_size / 1024);
  g_print ("Es11Fallback=%s\n", esimd_config_bool_to_string (c->es11_fallback));

  g_print ("\n[Notifications]\n");
  g_print ("AutoSend=%s\n", esimd_config_bool_to_string (c->notify_auto));
  g_print ("RetryInitial=%u\n", c->retry_initial);
  g_print ("RetryMax=%u\n", c->retry_max);

  g_print ("\n[Discovery]\n");
  g_print ("ModemManager=%s\n", esimd_config_bool_to_string (c->discover_mm));
  g_print ("Udev=%s\n", esimd_config_bool_to_string (c->discover_udev));
  g_print ("PCSC=%s\n", esimd_config_bool_to_string (c->discover_pcsc));
  print_list ("DenyPorts", c->deny_ports);
  g_print ("ProbeTimeout=%u\n", c->probe_timeout);
  g_print ("DeviceDirectory=%s\n", c->device_dir);

  g_print ("\n[Daemon]\n");
  g_print ("LogPersonalData=%s\n", esimd_config_bool_to_string (c->log_personal_data));
  g_print ("StateDirectory=%s\n", c->state_dir);
  g_print ("JobLinger=%u\n", c->job_linger);
  g_print ("MaxQueuedJobs=%u\n", c->max_queued_jobs);
  g_print ("MaxBppSize=%u\n", c->max_bpp_size);
  g_print ("ConfirmationTimeout=%u\n", c->confirmation_timeout);
  g_print ("ModemReturnTimeout=%u\n", c->modem_return_timeout);
}

int
esimd_config_check_run (const char *path)
{
  g_autoptr (GPtrArray) problems = esimd_config_problems_new ();
  g_autoptr (EsimdConfig) config = NULL;
  g_autoptr (EsimdTrust) trust = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  const char *shown = path ? path : ESIMD_DEFAULT_CONFIG_FILE;
  gboolean defaults = FALSE;

  if (!path && !g_file_test (ESIMD_DEFAULT_CONFIG_FILE, G_FILE_TEST_EXISTS))
    {
      defaults = TRUE;
      data = g_strdup ("");
    }
  else if (!g_file_get_contents (shown, &data, NULL, &error))
    {
      g_printerr ("esimd: %s\n", error->message);
      return EXIT_FAILURE;
    }

  config = esimd_config_parse (data, problems);
  /* Wrong values read as their defaults, so this check holds for the rest of the file. */
  trust = esimd_trust_load (config->ci_dirs, NULL);
  esimd_config_check_trust (config, trust, problems);
  if (problems->len)
    {
      g_autofree char *text = esimd_config_problems_to_string (problems, shown);
      g_auto (GStrv) lines = g_strsplit (text, "\n", -1);

      for (char **l = lines; *l; l++)
        g_printerr ("esimd: %s\n", *l);
      g_printerr ("esimd: %s: %u problem(s); esimd would not start\n", shown, problems->len);
      return EXIT_FAILURE;
    }

  if (defaults)
    g_print ("%s: not present; using the defaults\n", shown);
  else
    g_print ("%s: OK\n", shown);
  gboolean pcsc = config->discover_pcsc && g_strv_contains (esimd_modem_transports (), "pcsc");

  if (config->discover_pcsc && !pcsc)
    g_print ("note: esimd is built without PC/SC: [Discovery] PCSC= finds no reader\n");
  if (config->modems->len == 0 && !config->discover_mm && !config->discover_udev && !pcsc)
    g_print ("no modem is configured and discovery is off: esimd would manage no eUICC (add a "
             "[Modem NAME] section, or turn on ModemManager=, Udev= or PCSC= in [Discovery])\n");
  else if (config->modems->len == 0)
    {
      const char *modems = config->discover_mm && config->discover_udev
                               ? "ModemManager's modems, or udev's modem ports without ModemManager"
                           : config->discover_mm   ? "ModemManager's modems"
                           : config->discover_udev ? "udev's modem ports"
                                                   : NULL;
      g_print ("no modem is configured: esimd finds eUICCs by itself (%s%s%s%s)\n",
               modems ? modems : "", modems && pcsc ? ", and " : "",
               pcsc ? "pcscd's smart-card readers" : "", modems && !pcsc ? " only" : "");
    }
  for (guint i = 0; i < config->modems->len; i++)
    {
      EsimdModemConfig *m = config->modems->pdata[i];
      g_autofree char *what = esimd_config_describe_modem (m);

      g_print ("modem %s: %s\n", m->name, what);
      if (m->device && m->device[0] == '/' && !m->no_file_check &&
          !g_file_test (m->device, G_FILE_TEST_EXISTS))
        g_print ("  note: %s does not exist now; esimd will wait for it\n", m->device);
    }
  print_effective (config);
  return EXIT_SUCCESS;
}
