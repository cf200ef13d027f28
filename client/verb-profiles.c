/* verb-profiles.c — list, enable, disable, delete and nickname: the installed profiles. */
#include "bus.h"
#include "errors.h"
#include "esimctl.h"
#include "output.h"
#include "prompt.h"

#include "es10c.h"
#include "iccid.h"

#include <stdio.h>
#include <unistd.h>

static gboolean
check_iccid (const char *iccid, GError **error)
{
  if (lpa_iccid_is_valid (iccid))
    return TRUE;
  g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
               "\"%s\" is not an ICCID (18 to 20 digits; see esimctl list --all)", iccid);
  return FALSE;
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
  g_autofree char *euicc = NULL;
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) profiles = NULL;
  GVariantIter it;
  GVariant *p;

  if (!esimctl_parse_verb (ctl, "list", NULL, "Lists the profiles installed on the eUICC.",
                           "Columns: ICCID, STATE (enabled or disabled), CLASS (operational, test\n"
                           "or provisioning), PROVIDER, NAME and NICKNAME.",
                           entries, &argc, &argv, 0, 0, error))
    return FALSE;
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "ListProfiles", g_variant_new ("(b)", all),
                        ESIMCTL_CALL_READ, error);
  if (!reply)
    return FALSE;
  profiles = g_variant_get_child_value (reply, 0);

  if (ctl->json)
    {
      esimctl_output_list (ctl, euicc, "profiles", profiles);
      return TRUE;
    }
  if (g_variant_n_children (profiles) == 0)
    {
      g_print (all ? "No profile is installed.\n"
                   : "No operational profile is installed (esimctl list --all shows every "
                     "class).\n");
      return TRUE;
    }
  {
    const char *headers[] = { "ICCID", "STATE", "CLASS", "PROVIDER", "NAME", "NICKNAME" };
    g_autoptr (EsimctlTable) table = esimctl_table_new (G_N_ELEMENTS (headers), headers);

    g_variant_iter_init (&it, profiles);
    while ((p = g_variant_iter_next_value (&it)))
      {
        esimctl_table_add (table, esimctl_dict_str (p, "iccid"), esimctl_dict_str (p, "state"),
                           esimctl_dict_str (p, "class"), esimctl_dict_str (p, "service_provider"),
                           esimctl_dict_str (p, "name"), esimctl_dict_str (p, "nickname"));
        g_variant_unref (p);
      }
    esimctl_table_print (table, stdout);
  }
  return TRUE;
}

/* The installed profile @iccid as ListProfiles describes it, or NULL. */
static GVariant *
find_profile (Esimctl *ctl, const char *euicc, const char *iccid)
{
  g_autoptr (GVariant) reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "ListProfiles",
                                             g_variant_new ("(b)", TRUE), ESIMCTL_CALL_READ, NULL);
  g_autoptr (GVariant) profiles = reply ? g_variant_get_child_value (reply, 0) : NULL;
  GVariantIter it;
  GVariant *p;

  if (!profiles)
    return NULL;
  g_variant_iter_init (&it, profiles);
  while ((p = g_variant_iter_next_value (&it)))
    {
      if (g_str_equal (esimctl_dict_str (p, "iccid"), iccid))
        return p;
      g_variant_unref (p);
    }
  return NULL;
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
  const char *done; /* "Enabled profile": the ICCID follows */
} ProfileAction;

static gboolean
profile_action (Esimctl *ctl, const ProfileAction *action, int argc, char **argv, GError **error)
{
  gboolean yes = FALSE;
  const GOptionEntry delete_entries[] = {
    { "yes", 'y', 0, G_OPTION_ARG_NONE, &yes, "Do not ask for confirmation", NULL },
    { NULL },
  };
  gboolean is_delete = g_str_equal (action->verb, "delete");
  g_autofree char *euicc = NULL;
  g_autoptr (GVariant) reply = NULL;
  const char *iccid;

  if (!esimctl_parse_verb (ctl, action->verb, "ICCID", action->summary, action->description,
                           is_delete ? delete_entries : NULL, &argc, &argv, 1, 1, error))
    return FALSE;
  iccid = argv[1];
  if (!check_iccid (iccid, error))
    return FALSE;
  euicc = esimctl_choose_euicc (ctl, NULL, error);
  if (!euicc)
    return FALSE;

  if (is_delete && !yes && isatty (STDIN_FILENO))
    {
      g_autoptr (GVariant) profile = find_profile (ctl, euicc, iccid);
      g_autofree char *what = describe_profile (profile, iccid);
      g_autofree char *question =
          g_strdup_printf ("Delete profile %s? This cannot be undone.", what);

      if (!esimctl_prompt_yes_no (question))
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_CANCELLED, "not deleted");
          return FALSE;
        }
    }

  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, action->member,
                        g_variant_new ("(s@a{sv})", iccid, g_variant_new ("a{sv}", NULL)),
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return FALSE;
  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);

      json_object_set_string_member (obj, "iccid", iccid);
      esimctl_output_json (ctl, obj);
    }
  else
    {
      esimctl_done (ctl, "%s %s.", action->done, iccid);
    }
  return TRUE;
}

static const ProfileAction actions[] = {
  {
      "enable",
      "EnableProfile",
      "Enables a profile.",
      "The enabled profile, if any, is disabled first by the eUICC. esimd then makes the\n"
      "modem re-read the card and sends the resulting notifications.",
      "Enabled profile",
  },
  {
      "disable",
      "DisableProfile",
      "Disables the enabled profile.",
      "Profiles whose policy rules contain ppr1 cannot be disabled.",
      "Disabled profile",
  },
  {
      "delete",
      "DeleteProfile",
      "Deletes a disabled profile from the eUICC.",
      "Asks for confirmation when standard input is a terminal, unless --yes is given. An\n"
      "enabled profile must be disabled first. The operator is told through a delete\n"
      "notification, which esimd sends at once (or later, while the network is down).",
      "Deleted profile",
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
  g_autoptr (GVariant) reply = NULL;
  const char *nickname;

  if (!esimctl_parse_verb (ctl, "nickname", "ICCID NAME | ICCID --clear",
                           "Sets or removes a profile's nickname.",
                           "The nickname is stored on the eUICC: at most 64 bytes of UTF-8.",
                           entries, &argc, &argv, 1, 2, error))
    return FALSE;
  if ((argc == 3) == clear)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "usage: esimctl nickname ICCID NAME, or esimctl nickname ICCID --clear");
      return FALSE;
    }
  if (!check_iccid (argv[1], error))
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
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "SetNickname",
                        g_variant_new ("(ss)", argv[1], nickname),
                        ESIMCTL_CALL_AUTH | ESIMCTL_CALL_JOB, error);
  if (!reply)
    return FALSE;
  if (ctl->json)
    {
      JsonObject *obj = esimctl_json_result_new (euicc);

      json_object_set_string_member (obj, "iccid", argv[1]);
      json_object_set_string_member (obj, "nickname", nickname);
      esimctl_output_json (ctl, obj);
    }
  else if (clear)
    esimctl_done (ctl, "Removed the nickname of profile %s.", argv[1]);
  else
    {
      g_autofree char *shown = esimctl_text_sanitize (nickname);

      esimctl_done (ctl, "Profile %s is now called \"%s\".", argv[1], shown);
    }
  return TRUE;
}
