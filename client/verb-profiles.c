/* verb-profiles.c — list, enable, disable, delete and nickname: the installed profiles. */
#include "bus.h"
#include "errors.h"
#include "esimctl.h"
#include "output.h"
#include "profile-arg.h"
#include "prompt.h"

#include "es10c.h"
#include "iccid.h"

#include <stdio.h>
#include <unistd.h>

/* "1 test profile and 2 provisioning profiles", or NULL for none. */
static char *
describe_hidden (guint n_test, guint n_provisioning)
{
  g_autofree char *test =
      n_test ? g_strdup_printf ("%u test profile%s", n_test, n_test == 1 ? "" : "s") : NULL;
  g_autofree char *prov = n_provisioning
                              ? g_strdup_printf ("%u provisioning profile%s", n_provisioning,
                                                 n_provisioning == 1 ? "" : "s")
                              : NULL;

  if (test && prov)
    return g_strdup_printf ("%s and %s", test, prov);
  return g_strdup (test ? test : prov);
}

gboolean
esimctl_verb_list (Esimctl *ctl, int argc, char **argv, GError **error)
{
  gboolean all = FALSE;
  const GOptionEntry entries[] = {
    { "all", 'a', 0, G_OPTION_ARG_NONE, &all,
      "Also list test and provisioning profiles, not only operational ones", NULL },
    { NULL },
  };
  const char *headers[] = { "#", "ICCID", "STATE", "CLASS", "PROVIDER", "NAME", "NICKNAME" };
  g_autoptr (EsimctlTable) table = esimctl_table_new (G_N_ELEMENTS (headers), headers);
  g_auto (GVariantBuilder) shown = G_VARIANT_BUILDER_INIT (G_VARIANT_TYPE ("aa{sv}"));
  g_autofree char *euicc = NULL;
  g_autofree char *hidden_text = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) profiles = NULL;
  guint n_test = 0, n_provisioning = 0, n_shown = 0;
  gsize n;

  if (!esimctl_parse_verb (ctl, "list", NULL, "Lists the profiles installed on the eUICC.",
                           "Columns: # (the number that names the profile to enable, disable,\n"
                           "delete and nickname), ICCID, STATE (enabled or disabled), CLASS\n"
                           "(operational, test or provisioning), PROVIDER, NAME and NICKNAME.\n"
                           "Without --all, test and provisioning profiles are counted, not listed.",
                           entries, &argc, &argv, 0, 0, error))
    return FALSE;
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;
  /* Every class is read, so the hidden ones are counted and a profile's number never
   * depends on --all. */
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "ListProfiles",
                        g_variant_new ("(b)", TRUE), "(aa{sv})", ESIMCTL_CALL_READ, error);
  if (!reply)
    return FALSE;
  profiles = g_variant_get_child_value (reply, 0);
  n = g_variant_n_children (profiles);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) p = g_variant_get_child_value (profiles, i);
      const char *class = esimctl_dict_str (p, "class");
      g_autofree char *number = g_strdup_printf ("%" G_GSIZE_FORMAT, i + 1);

      if (!all && !g_str_equal (class, "operational"))
        {
          if (g_str_equal (class, "test"))
            n_test++;
          else
            n_provisioning++;
          continue;
        }
      n_shown++;
      g_variant_builder_add_value (&shown, p);
      esimctl_table_add (table, number, esimctl_dict_str (p, "iccid"),
                         esimctl_dict_str (p, "state"), class,
                         esimctl_dict_str (p, "service_provider"), esimctl_dict_str (p, "name"),
                         esimctl_dict_str (p, "nickname"));
    }
  hidden_text = describe_hidden (n_test, n_provisioning);

  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);

      json_object_set_member (obj, "profiles",
                              esimctl_json_from_variant (g_variant_builder_end (&shown)));
      json_object_set_int_member (obj, "hidden", n_test + n_provisioning);
      esimctl_output_json (ctl, obj);
      return TRUE;
    }
  if (n_shown == 0 && !hidden_text)
    g_print ("No profile is installed.\n");
  else if (n_shown == 0)
    g_print ("No operational profile is installed; %s %s not listed (esimctl list --all).\n",
             hidden_text, n_test + n_provisioning == 1 ? "is" : "are");
  else
    {
      esimctl_table_print (table, stdout);
      if (hidden_text)
        g_print ("\n%s %s not listed (esimctl list --all).\n", hidden_text,
                 n_test + n_provisioning == 1 ? "is" : "are");
    }
  return TRUE;
}

/* "8944… (Provider Name)" for messages and questions. */
static char *
describe_profile (GVariant *profile, const char *iccid)
{
  const char *provider = profile ? esimctl_dict_str (profile, "service_provider") : "";
  const char *name = profile ? esimctl_dict_str (profile, "name") : "";
  const char *nickname = profile ? esimctl_dict_str (profile, "nickname") : "";
  const char *label = *nickname ? nickname : name;
  g_autofree char *text = NULL;

  if (*provider && *label)
    text = g_strdup_printf ("%s (%s, %s)", iccid, provider, label);
  else if (*provider || *label)
    text = g_strdup_printf ("%s (%s)", iccid, *provider ? provider : label);
  else
    text = g_strdup (iccid);
  return esimctl_text_sanitize (text);
}

typedef struct
{
  const char *verb;
  const char *member;
  const char *summary;
  const char *description;
  const char *done;    /* "Enabled profile": the profile follows */
  const char *target;  /* the state the profile is in afterwards ("enabled"), or NULL */
  const char *already; /* "is already enabled" */
} ProfileAction;

/* The state of profile @iccid as esimd has it now, or "" when it is not installed. */
static char *
profile_state (Esimctl *ctl, const char *euicc, const char *iccid)
{
  g_autoptr (GVariant) profile = NULL;
  g_autofree char *found = esimctl_profile_arg_resolve (ctl, euicc, iccid, &profile, NULL);

  return g_strdup (profile ? esimctl_dict_str (profile, "state") : "");
}

static gboolean
profile_action (Esimctl *ctl, const ProfileAction *action, int argc, char **argv, GError **error)
{
  gboolean yes = FALSE;
  const GOptionEntry delete_entries[] = {
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes,
      "Delete without asking (required when standard input is no terminal)", NULL },
    { NULL },
  };
  gboolean is_delete = g_str_equal (action->verb, "delete");
  g_autofree char *euicc = NULL;
  g_autofree char *iccid = NULL;
  g_autofree char *what = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) profile = NULL;
  g_autoptr (GError) local = NULL;
  gboolean changed = TRUE;
  EsimctlProfileBy by;

  if (!esimctl_parse_verb (ctl, action->verb, "PROFILE", action->summary, action->description,
                           is_delete ? delete_entries : NULL, &argc, &argv, 1, 1, error) ||
      !esimctl_profile_arg_parse (argv[1], &by, error))
    return FALSE;
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;
  /* As reset: what cannot be undone is done without a question only when told so. */
  if (is_delete && !yes && !isatty (STDIN_FILENO))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "delete erases the profile for good: add --yes to do it without a terminal "
                   "to ask on");
      return FALSE;
    }
  iccid = esimctl_profile_arg_resolve (ctl, euicc, argv[1], is_delete ? &profile : NULL, error);
  if (!iccid)
    return FALSE;
  what = describe_profile (profile, iccid);
  if (is_delete && !yes)
    {
      g_autofree char *question =
          g_strdup_printf ("Delete profile %s? This cannot be undone.", what);

      if (!esimctl_prompt_yes_no (question))
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_CANCELLED, "not deleted");
          return FALSE;
        }
    }

  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, action->member,
                        g_variant_new ("(s@a{sv})", iccid, g_variant_new ("a{sv}", NULL)), "()",
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, &local);
  if (!reply)
    {
      g_autofree char *name = esimctl_error_get_name (local);
      g_autofree char *state = NULL;

      /* Asking for the state a profile is in succeeds, as systemctl start of a running unit
       * does; esimd's method keeps its WrongProfileState for callers that want to know. */
      if (!action->target || g_strcmp0 (name, "org.esim.Error.WrongProfileState") != 0 ||
          !g_str_equal ((state = profile_state (ctl, euicc, iccid)), action->target))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      changed = FALSE;
    }
  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);

      json_object_set_string_member (obj, "iccid", iccid);
      json_object_set_boolean_member (obj, "changed", changed);
      esimctl_output_json (ctl, obj);
    }
  else if (changed)
    esimctl_done (ctl, "%s %s.", action->done, iccid);
  else
    esimctl_done (ctl, "Profile %s %s.", iccid, action->already);
  return TRUE;
}

static const ProfileAction actions[] = {
  {
      "enable",
      "EnableProfile",
      "Enables a profile.",
      "PROFILE is its ICCID, its number in esimctl list or its nickname. The enabled\n"
      "profile, if any, is disabled first by the eUICC. esimd then makes the modem re-read\n"
      "the card and sends the resulting notifications. Enabling the enabled profile\n"
      "succeeds and says so.",
      "Enabled profile",
      "enabled",
      "is already enabled",
  },
  {
      "disable",
      "DisableProfile",
      "Disables the enabled profile.",
      "PROFILE is its ICCID, its number in esimctl list or its nickname. Profiles whose\n"
      "policy rules contain ppr1 cannot be disabled. Disabling a disabled profile succeeds\n"
      "and says so.",
      "Disabled profile",
      "disabled",
      "is already disabled",
  },
  {
      "delete",
      "DeleteProfile",
      "Deletes a disabled profile from the eUICC.",
      "PROFILE is its ICCID, its number in esimctl list or its nickname. Asks for\n"
      "confirmation when standard input is a terminal; elsewhere --yes is required. An\n"
      "enabled profile must be disabled first. The operator is told through a delete\n"
      "notification, which esimd sends at once (or later, while the network is down).",
      "Deleted profile",
      NULL,
      NULL,
  },
};

gboolean
esimctl_verb_enable (Esimctl *ctl, int argc, char **argv, GError **error)
{
  return profile_action (ctl, &actions[0], argc, argv, error);
}

gboolean
esimctl_verb_disable (Esimctl *ctl, int argc, char **argv, GError **error)
{
  return profile_action (ctl, &actions[1], argc, argv, error);
}

gboolean
esimctl_verb_delete (Esimctl *ctl, int argc, char **argv, GError **error)
{
  return profile_action (ctl, &actions[2], argc, argv, error);
}

gboolean
esimctl_verb_nickname (Esimctl *ctl, int argc, char **argv, GError **error)
{
  gboolean clear = FALSE;
  const GOptionEntry entries[] = {
    { "clear", 0, 0, G_OPTION_ARG_NONE, &clear, "Remove the nickname", NULL },
    { NULL },
  };
  g_autofree char *euicc = NULL;
  g_autofree char *iccid = NULL;
  g_autoptr (GVariant) reply = NULL;
  const char *nickname;
  EsimctlProfileBy by;

  if (!esimctl_parse_verb (ctl, "nickname", "PROFILE NAME | PROFILE --clear",
                           "Sets or removes a profile's nickname.",
                           "PROFILE is its ICCID, its number in esimctl list or its current\n"
                           "nickname. The nickname is stored on the eUICC: at most 64 bytes of\n"
                           "UTF-8.",
                           entries, &argc, &argv, 1, 2, error))
    return FALSE;
  if ((argc == 3) == clear)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "usage: esimctl nickname PROFILE NAME, or esimctl nickname PROFILE --clear");
      return FALSE;
    }
  if (!esimctl_profile_arg_parse (argv[1], &by, error))
    return FALSE;
  nickname = clear ? "" : argv[2];
  /* liblpa's rule, as esimd's: what the eUICC stores is shown in every list. */
  if (lpa_nickname_problem (nickname))
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE, "%s", lpa_nickname_problem (nickname));
      return FALSE;
    }
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;
  iccid = esimctl_profile_arg_resolve (ctl, euicc, argv[1], NULL, error);
  if (!iccid)
    return FALSE;
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "SetNickname",
                        g_variant_new ("(ss)", iccid, nickname), "()",
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return FALSE;
  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);

      json_object_set_string_member (obj, "iccid", iccid);
      json_object_set_string_member (obj, "nickname", nickname);
      esimctl_output_json (ctl, obj);
    }
  else if (clear)
    esimctl_done (ctl, "Removed the nickname of profile %s.", iccid);
  else
    {
      g_autofree char *shown = esimctl_text_sanitize (nickname);

      esimctl_done (ctl, "Profile %s is now called \"%s\".", iccid, shown);
    }
  return TRUE;
}
