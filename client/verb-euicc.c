/* verb-euicc.c — status, eid, info, default-smdp, reset and refresh: the eUICC as a whole. */
#include "bus.h"
#include "errors.h"
#include "esimctl.h"
#include "output.h"
#include "prompt.h"

#include "text.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* A Profile object's properties from GetManagedObjects' answer, or NULL. */
static GVariant *
profile_props (GVariant *objects, const char *path)
{
  g_autoptr (GVariant) ifaces = NULL;

  if (!path || g_str_equal (path, "/"))
    return NULL;
  ifaces = g_variant_lookup_value (objects, path, G_VARIANT_TYPE ("a{sa{sv}}"));
  return ifaces ? g_variant_lookup_value (ifaces, ESIMD_PROFILE_IFACE, G_VARIANT_TYPE_VARDICT)
                : NULL;
}

static char *
describe_active (GVariant *profile)
{
  const char *provider = esimctl_dict_str (profile, "ServiceProvider");
  const char *nickname = esimctl_dict_str (profile, "Nickname");
  const char *name = *nickname ? nickname : esimctl_dict_str (profile, "Name");
  GString *s = g_string_new (esimctl_dict_str (profile, "Iccid"));

  if (*provider || *name)
    g_string_append_printf (s, " (%s%s%s)", provider, *provider && *name ? ", " : "", name);
  return g_string_free (s, FALSE);
}

/* "3 (1 test, hidden from esimctl list)": the count esimctl list would not show in full
 * says why. */
static char *
describe_profile_count (GVariant *objects, GVariant *profiles)
{
  gsize n = profiles ? g_variant_n_children (profiles) : 0;
  guint n_test = 0, n_provisioning = 0;

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) path = g_variant_get_child_value (profiles, i);
      g_autoptr (GVariant) p = profile_props (objects, g_variant_get_string (path, NULL));
      const char *class = p ? esimctl_dict_str (p, "Class") : "";

      n_test += g_str_equal (class, "test");
      n_provisioning += g_str_equal (class, "provisioning");
    }
  if (n_test && n_provisioning)
    return g_strdup_printf ("%" G_GSIZE_FORMAT " (%u test, %u provisioning: esimctl list --all)", n,
                            n_test, n_provisioning);
  if (n_test || n_provisioning)
    return g_strdup_printf ("%" G_GSIZE_FORMAT " (%u %s: esimctl list --all)", n,
                            n_test + n_provisioning, n_test ? "test" : "provisioning");
  return g_strdup_printf ("%" G_GSIZE_FORMAT, n);
}

static void
print_euicc_status (GVariant *objects, const char *path, GVariant *props, gboolean first)
{
  g_autoptr (EsimctlTable) t = esimctl_table_new (2, NULL);
  g_autoptr (GVariant) active = profile_props (objects, esimctl_dict_str (props, "ActiveProfile"));
  g_autoptr (GVariant) profiles = g_variant_lookup_value (props, "Profiles", G_VARIANT_TYPE ("ao"));
  const char *state = esimctl_dict_str (props, "State");
  const char *reason = esimctl_dict_str (props, "UnavailableReason");
  const char *job = esimctl_dict_str (props, "CurrentJob");
  g_autofree char *state_text =
      *reason ? g_strdup_printf ("%s (%s)", state, reason) : g_strdup (state);
  g_autofree char *active_text = active ? describe_active (active) : g_strdup ("none");
  g_autofree char *n_profiles = describe_profile_count (objects, profiles);
  g_autofree char *pending = NULL;
  g_autofree char *job_text = NULL;
  g_autofree char *name = NULL;
  g_autofree char *slot_text = NULL;
  const char *mm_path = esimctl_dict_str (props, "ModemManagerModem");
  guint32 n_pending = 0, slot = 0, active_slot = 0;

  g_autoptr (GVariant) read_errors =
      g_variant_lookup_value (props, "ReadErrors", G_VARIANT_TYPE ("a{ss}"));
  const char *profiles_error = NULL, *notifications_error = NULL;

  if (read_errors)
    {
      g_variant_lookup (read_errors, "profiles", "&s", &profiles_error);
      g_variant_lookup (read_errors, "notifications", "&s", &notifications_error);
    }
  g_variant_lookup (props, "PendingNotifications", "u", &n_pending);
  /* A list that could not be read is unknown, not empty: say why. */
  if (n_pending == G_MAXUINT32)
    pending = g_strdup_printf ("unknown (%s)",
                               notifications_error ? notifications_error : "not read yet");
  else
    pending = n_pending ? g_strdup_printf ("%u pending (esimctl notifications)", n_pending)
                        : g_strdup ("none pending");
  if (profiles_error)
    {
      g_free (n_profiles);
      n_profiles = g_strdup_printf ("unknown (%s)", profiles_error);
    }
  g_variant_lookup (props, "Slot", "u", &slot);
  g_variant_lookup (props, "ActiveSlot", "u", &active_slot);
  if (slot)
    slot_text = slot == active_slot
                    ? g_strdup_printf ("%u (active)", slot)
                    : g_strdup_printf ("%u (slot %u is active: esimctl switch-slot %u)", slot,
                                       active_slot, slot);
  if (*job && !g_str_equal (job, "/"))
    job_text = g_strdup_printf ("%s (esimctl job show %s)", job, esimctl_short_id (job));

  if (!first)
    g_print ("\n");
  name = esimctl_text_sanitize (esimctl_dict_str (props, "Name"));
  g_print ("eUICC %s: %s\n", esimctl_short_id (path), name);
  esimctl_table_add (t, "  State:", state_text);
  esimctl_table_add (t, "  EID:", esimctl_dict_str (props, "Eid"));
  esimctl_table_add (t, "  Modem:", esimctl_dict_str (props, "Device"));
  if (*mm_path)
    esimctl_table_add (t, "  ModemManager:", mm_path);
  if (slot)
    esimctl_table_add (t, "  SIM slot:", slot_text);
  esimctl_table_add (t, "  Active profile:", active_text);
  esimctl_table_add (t, "  Profiles:", n_profiles);
  esimctl_table_add (t, "  Notifications:", pending);
  if (job_text)
    esimctl_table_add (t, "  Running job:", job_text);
  esimctl_table_print (t, stdout);
}

static JsonObject *
euicc_json (GVariant *objects, const char *path, GVariant *props)
{
  JsonObject *obj = esimctl_json_from_properties (props);
  g_autoptr (GVariant) active = profile_props (objects, esimctl_dict_str (props, "ActiveProfile"));

  guint32 n_pending = 0;

  json_object_set_string_member (obj, "path", path);
  if (active)
    json_object_set_string_member (obj, "active_iccid", esimctl_dict_str (active, "Iccid"));
  else
    json_object_set_null_member (obj, "active_iccid");
  /* Unknown (the list could not be read; read_errors says why) is null, not a number. */
  if (g_variant_lookup (props, "PendingNotifications", "u", &n_pending) && n_pending == G_MAXUINT32)
    json_object_set_null_member (obj, "pending_notifications");
  return obj;
}

gboolean
esimctl_verb_status (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_autoptr (GVariant) objects = NULL;
  g_autoptr (GVariant) managers = NULL;
  g_autofree char *only = NULL;
  JsonArray *list = NULL;
  GVariantIter it;
  const char *path;
  GVariant *props;
  gboolean first = TRUE;

  if (!esimctl_parse_verb (
          ctl, "status", NULL,
          "Shows every eUICC esimd manages (or the one --euicc names): its state,\n"
          "EID, modem, active profile and pending notifications.",
          NULL, NULL, &argc, &argv, 0, 0, error))
    return FALSE;
  objects = esimctl_get_objects_for (ctl, &only, error);
  if (!objects)
    return FALSE;
  managers = esimctl_objects_with (objects, ESIMD_MANAGER_IFACE);
  if (ctl->json)
    list = json_array_new ();
  else if (g_variant_n_children (managers) == 0)
    g_print ("esimd manages no eUICC: it found none (see [Discovery] in esimd.conf(5)), and "
             "esimd.conf has no [Modem NAME] section.\n");

  g_variant_iter_init (&it, managers);
  while (g_variant_iter_next (&it, "{&o@a{sv}}", &path, &props))
    {
      if (!only || g_str_equal (only, path))
        {
          if (list)
            json_array_add_object_element (list, euicc_json (objects, path, props));
          else
            print_euicc_status (objects, path, props, first);
          first = FALSE;
        }
      g_variant_unref (props);
    }
  if (list)
    {
      JsonObject *obj = json_object_new ();

      json_object_set_array_member (obj, "euiccs", list);
      esimctl_output_json (ctl, obj);
    }
  return TRUE;
}

gboolean
esimctl_verb_eid (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_autoptr (GVariant) props = NULL;
  g_autofree char *euicc = NULL;
  const char *eid;

  if (!esimctl_parse_verb (ctl, "eid", NULL, "Prints the eUICC's EID (32 digits).", NULL, NULL,
                           &argc, &argv, 0, 0, error))
    return FALSE;
  euicc = esimctl_choose_euicc (ctl, &props, error);
  if (!euicc)
    return FALSE;
  eid = esimctl_dict_str (props, "Eid");
  if (!*eid)
    {
      const char *reason = esimctl_dict_str (props, "UnavailableReason");

      g_propagate_error (
          error, esimctl_error_new_remote ("org.esim.Error.Unavailable",
                                           *reason ? reason : "esimd has not read the EID yet"));
      return FALSE;
    }
  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);

      json_object_set_string_member (obj, "eid", eid);
      esimctl_output_json (ctl, obj);
    }
  else
    {
      /* What esimd sends is shown, never obeyed: no control character reaches the terminal. */
      g_autofree char *shown = esimctl_text_sanitize (eid);

      g_print ("%s\n", shown);
    }
  return TRUE;
}

/* GetInfo's keys in the order and words a person reads them; others follow as they come. */
static const struct
{
  const char *key;
  const char *label;
} info_labels[] = {
  { "profile_version", "Profile package version" },
  { "svn", "SVN" },
  { "firmware_version", "Firmware version" },
  { "category", "Category" },
  { "free_non_volatile_memory", "Free non-volatile memory" },
  { "free_volatile_memory", "Free RAM" },
  { "installed_applications", "Installed applications" },
  { "uicc_capabilities", "UICC capabilities" },
  { "rsp_capabilities", "RSP capabilities" },
  { "ci_pkids_verification", "CI keys (verification)" },
  { "ci_pkids_signing", "CI keys (signing)" },
  { "forbidden_policy_rules", "Forbidden policy rules" },
  { "pp_version", "Protection profile version" },
  { "sas_accreditation", "SAS accreditation" },
  { "ts102241_version", "TS 102 241 version" },
  { "globalplatform_version", "GlobalPlatform version" },
  { "platform_label", "Platform label" },
  { "discovery_base_url", "DLOA discovery URL" },
};

static void
add_info_row (EsimctlTable *t, const char *label, GVariant *value)
{
  g_autofree char *text = NULL;

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING_ARRAY))
    {
      /* One item per line: CI key identifiers are 40 hex digits each. */
      g_autofree const char **items = g_variant_get_strv (value, NULL);

      if (!items[0])
        esimctl_table_add (t, label, "");
      for (gsize i = 0; items[i]; i++)
        esimctl_table_add (t, i == 0 ? label : NULL, items[i]);
      return;
    }
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64) && g_str_has_prefix (label, "Free"))
    text = g_format_size_full (g_variant_get_uint64 (value),
                               G_FORMAT_SIZE_IEC_UNITS | G_FORMAT_SIZE_LONG_FORMAT);
  else
    text = esimctl_format_value (value);
  esimctl_table_add (t, label, text);
}

gboolean
esimctl_verb_info (Esimctl *ctl, int argc, char **argv, GError **error)
{
  static const char *const manager_rows[][2] = {
    { "Name", "Modem" },
    { "Device", "Device" },
    { "Transport", "Transport" },
    { "State", "State" },
    { "Eid", "EID" },
    { "SpecVersion", "Spec version" },
    { "DefaultSmdpAddress", "Default SM-DP+" },
    { "RootSmdsAddress", "Root SM-DS" },
    { "SegmentSize", "STORE DATA segment size" },
  };
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) info = NULL;
  g_autoptr (GVariant) objects = NULL;
  g_autofree char *euicc = NULL;
  g_autoptr (EsimctlTable) t = NULL;
  GVariantIter it;
  const char *key;
  GVariant *value;

  if (!esimctl_parse_verb (ctl, "info", NULL,
                           "Shows the eUICC's EUICCInfo2 (versions, free memory, capabilities,\n"
                           "trusted CI keys) and what esimd knows of the modem.",
                           NULL, NULL, &argc, &argv, 0, 0, error))
    return FALSE;
  objects = esimctl_get_objects (ctl, error);
  if (!objects)
    return FALSE;
  euicc = esimctl_euicc_select (objects, ctl->euicc, &props, error);
  if (!euicc)
    return FALSE;
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "GetInfo", NULL, "(a{sv})",
                        ESIMCTL_CALL_READ, error);
  if (!reply)
    return FALSE;
  info = g_variant_get_child_value (reply, 0);

  if (ctl->json)
    {
      /* As every document about one eUICC: "euicc" is its path; then the members status
       * shows of it, and GetInfo's dictionary. */
      JsonObject *obj = esimctl_json_result_new (euicc);
      g_autoptr (JsonObject) status = euicc_json (objects, euicc, props);
      g_autoptr (GList) members = json_object_get_members (status);

      for (GList *l = members; l; l = l->next)
        if (!g_str_equal (l->data, "path"))
          json_object_set_member (obj, l->data,
                                  json_node_copy (json_object_get_member (status, l->data)));
      json_object_set_member (obj, "info", esimctl_json_from_variant (info));
      esimctl_output_json (ctl, obj);
      return TRUE;
    }

  t = esimctl_table_new (2, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (manager_rows); i++)
    {
      g_autoptr (GVariant) v = g_variant_lookup_value (props, manager_rows[i][0], NULL);
      g_autofree char *label = g_strconcat (manager_rows[i][1], ":", NULL);

      if (v)
        add_info_row (t, label, v);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (info_labels); i++)
    {
      g_autoptr (GVariant) v = g_variant_lookup_value (info, info_labels[i].key, NULL);
      g_autofree char *label = g_strconcat (info_labels[i].label, ":", NULL);

      if (v)
        add_info_row (t, label, v);
    }
  g_variant_iter_init (&it, info);
  while (g_variant_iter_next (&it, "{&sv}", &key, &value))
    {
      gboolean known = FALSE;

      for (gsize i = 0; i < G_N_ELEMENTS (info_labels) && !known; i++)
        known = g_str_equal (info_labels[i].key, key);
      if (!known)
        {
          g_autofree char *label = g_strconcat (key, ":", NULL);

          add_info_row (t, label, value);
        }
      g_variant_unref (value);
    }
  esimctl_table_print (t, stdout);
  return TRUE;
}

static void
print_shown (Esimctl *ctl, const char *euicc, JsonObject *obj, const char *human)
{
  if (ctl->json)
    {
      json_object_set_string_member (obj, "euicc", euicc);
      esimctl_output_json (ctl, obj);
    }
  else
    {
      json_object_unref (obj);
      g_print ("%s\n", human);
    }
}

/* What a change did: silent with --quiet. */
static void
print_done (Esimctl *ctl, const char *euicc, JsonObject *obj, const char *human)
{
  if (ctl->quiet && !ctl->json)
    {
      json_object_unref (obj);
      return;
    }
  print_shown (ctl, euicc, obj, human);
}

gboolean
esimctl_verb_default_smdp (Esimctl *ctl, int argc, char **argv, GError **error)
{
  gboolean clear = FALSE;
  const GOptionEntry entries[] = {
    { "clear", 0, 0, G_OPTION_ARG_NONE, &clear, "Remove the default SM-DP+ address", NULL },
    { NULL },
  };
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *euicc = NULL;
  g_autofree char *human = NULL;
  g_autofree char *stripped = NULL;
  const char *address;
  JsonObject *obj;

  if (!esimctl_parse_verb (
          ctl, "default-smdp", "[ADDRESS | --clear]",
          "Shows, sets or clears the default SM-DP+ address kept on the eUICC.",
          "Without arguments, prints the default SM-DP+ address and the root SM-DS\n"
          "address. With ADDRESS (a host name, e.g. smdp.example.com), makes it\n"
          "the default; esimctl download --default-smdp then downloads from it.",
          entries, &argc, &argv, 0, 1, error))
    return FALSE;
  if (clear && argc == 2)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "give an ADDRESS or --clear, not both");
      return FALSE;
    }
  euicc = esimctl_choose_euicc (ctl, &props, error);
  if (!euicc)
    return FALSE;

  obj = json_object_new ();
  if (!clear && argc == 1)
    {
      address = esimctl_dict_str (props, "DefaultSmdpAddress");
      json_object_set_string_member (obj, "default_smdp_address", address);
      json_object_set_string_member (obj, "root_smds_address",
                                     esimctl_dict_str (props, "RootSmdsAddress"));
      {
        /* The addresses are the card's own text: shown, never obeyed by the terminal. */
        g_autofree char *dp = esimctl_text_sanitize (*address ? address : "(none)");
        g_autofree char *ds = esimctl_text_sanitize (esimctl_dict_str (props, "RootSmdsAddress"));

        human = g_strdup_printf ("Default SM-DP+: %s\nRoot SM-DS:     %s", dp, ds);
      }
      print_shown (ctl, euicc, obj, human);
      return TRUE;
    }
  /* Read as esimd reads it: without the white space around it (lpa_text_strip()). */
  stripped = lpa_text_strip (clear ? "" : argv[1]);
  address = stripped;
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "SetDefaultSmdpAddress",
                        g_variant_new ("(s)", address), "()", ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB,
                        error);
  if (!reply)
    {
      json_object_unref (obj);
      return FALSE;
    }
  json_object_set_string_member (obj, "default_smdp_address", address);
  human = clear ? g_strdup ("Cleared the default SM-DP+ address.")
                : g_strdup_printf ("The default SM-DP+ is now %s.", address);
  print_done (ctl, euicc, obj, human);
  return TRUE;
}

gboolean
esimctl_verb_reset (Esimctl *ctl, int argc, char **argv, GError **error)
{
  gboolean operational = FALSE, test = FALSE, smdp = FALSE, yes = FALSE;
  const GOptionEntry entries[] = {
    { "operational", 0, 0, G_OPTION_ARG_NONE, &operational, "Delete every operational profile",
      NULL },
    { "test", 0, 0, G_OPTION_ARG_NONE, &test, "Delete every field-loaded test profile", NULL },
    { "default-smdp", 0, 0, G_OPTION_ARG_NONE, &smdp, "Clear the default SM-DP+ address", NULL },
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, "Do not ask for confirmation", NULL },
    { NULL },
  };
  g_autoptr (GVariant) props = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GPtrArray) what = g_ptr_array_new ();
  g_autofree char *euicc = NULL;
  g_autofree char *list = NULL;
  guint32 mask = 0;
  JsonArray *parts;
  JsonObject *obj;

  if (!esimctl_parse_verb (ctl, "reset", "--operational | --test | --default-smdp",
                           "Erases profiles or settings of the eUICC (eUICC memory reset).",
                           "Give at least one of --operational, --test and --default-smdp.\n"
                           "Asks for confirmation on a terminal; elsewhere --yes is required.\n"
                           "Deleted profiles cannot be recovered.",
                           entries, &argc, &argv, 0, 0, error))
    return FALSE;
  if (operational)
    {
      mask |= 1;
      g_ptr_array_add (what, "every operational profile");
    }
  if (test)
    {
      mask |= 2;
      g_ptr_array_add (what, "every test profile");
    }
  if (smdp)
    {
      mask |= 4;
      g_ptr_array_add (what, "the default SM-DP+ address");
    }
  if (!mask)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "say what to reset: --operational, --test and/or --default-smdp");
      return FALSE;
    }
  g_ptr_array_add (what, NULL);
  list = g_strjoinv (" and ", (char **) what->pdata);
  euicc = esimctl_choose_euicc (ctl, &props, error);
  if (!euicc)
    return FALSE;
  if (!yes)
    {
      g_autofree char *question = NULL;

      if (!isatty (STDIN_FILENO))
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                       "reset erases %s: add --yes to do it without a terminal to ask on", list);
          return FALSE;
        }
      question = g_strdup_printf ("Erase %s on eUICC %s (%s)? This cannot be undone.", list,
                                  esimctl_short_id (euicc), esimctl_dict_str (props, "Name"));
      if (!esimctl_prompt_yes_no (question))
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_CANCELLED, "nothing was reset");
          return FALSE;
        }
    }
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "ResetMemory", g_variant_new ("(u)", mask),
                        "()", ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return FALSE;

  obj = json_object_new ();
  parts = json_array_new ();
  if (operational)
    json_array_add_string_element (parts, "operational");
  if (test)
    json_array_add_string_element (parts, "test");
  if (smdp)
    json_array_add_string_element (parts, "default-smdp");
  json_object_set_array_member (obj, "reset", parts);
  {
    g_autofree char *human = g_strdup_printf ("Erased %s.", list);

    print_done (ctl, euicc, obj, human);
  }
  return TRUE;
}

gboolean
esimctl_verb_switch_slot (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *euicc = NULL;
  g_autofree char *done = NULL;
  JsonObject *obj;
  guint64 slot = 0;

  if (!esimctl_parse_verb (
          ctl, "switch-slot", "SLOT", "Makes the modem use another of its SIM slots.",
          "SLOT counts from 1 (esimctl status shows the eUICC's slot and the active one).\n"
          "The card in the slot the modem leaves goes out of reach; an eUICC in the new\n"
          "slot becomes reachable. Only for modems esimd found by itself.",
          NULL, &argc, &argv, 1, 1, error))
    return FALSE;
  if (!g_ascii_string_to_unsigned (argv[0], 10, 1, 16, &slot, NULL))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "SLOT must be a slot number from 1, got \"%s\"", argv[0]);
      return FALSE;
    }
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "SwitchSlot",
                        g_variant_new ("(u)", (guint32) slot), "()",
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return FALSE;
  obj = json_object_new ();
  json_object_set_int_member (obj, "slot", (gint64) slot);
  done = g_strdup_printf ("The modem uses slot %" G_GUINT64_FORMAT " now.", slot);
  print_done (ctl, euicc, obj, done);
  return TRUE;
}

gboolean
esimctl_verb_refresh (Esimctl *ctl, int argc, char **argv, GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  g_autofree char *euicc = NULL;

  if (!esimctl_parse_verb (
          ctl, "refresh", NULL, "Makes esimd re-read everything from the eUICC.",
          "Identity, EUICCInfo2, profiles, notifications and addresses: for after\n"
          "another program changed the card behind esimd's back.",
          NULL, &argc, &argv, 0, 0, error))
    return FALSE;
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "Refresh", NULL, "()",
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return FALSE;
  print_done (ctl, euicc, json_object_new (), "Refreshed.");
  return TRUE;
}
