/* profile-arg.c — resolves a PROFILE argument (ICCID, list number or nickname) to one profile. */
#include "profile-arg.h"

#include "bus.h"
#include "errors.h"
#include "output.h"

#include "iccid.h"

#include <string.h>

static gboolean
all_digits (const char *s)
{
  if (!*s)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isdigit (*s))
      return FALSE;
  return TRUE;
}

gboolean
esimctl_profile_arg_parse (const char *arg, EsimctlProfileBy *by, GError **error)
{
  gsize n = strlen (arg);
  g_autofree char *iccid = lpa_iccid_canonical (arg);

  if (iccid)
    *by = ESIMCTL_PROFILE_BY_ICCID;
  else if (all_digits (arg) && n <= 3)
    *by = ESIMCTL_PROFILE_BY_NUMBER;
  else if (all_digits (arg) || (n >= 18 && n <= 20 && g_str_has_prefix (arg, "89")))
    {
      gboolean alnum = TRUE;

      for (const char *p = arg; *p; p++)
        alnum = alnum && g_ascii_isalnum (*p);
      if (alnum)
        {
          g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                       "\"%s\" is neither an ICCID (" LPA_ICCID_FORMS ") nor a number from esimctl "
                       "list (see esimctl list --all)",
                       arg);
          return FALSE;
        }
      *by = ESIMCTL_PROFILE_BY_NICKNAME;
    }
  else if (!*arg)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "name a profile by its ICCID, its number in esimctl list or its nickname");
      return FALSE;
    }
  else
    *by = ESIMCTL_PROFILE_BY_NICKNAME;
  return TRUE;
}

/* "1 8949… (Work), 2 8949…" — what the user may type instead. */
static char *
describe_choices (GVariant *profiles)
{
  GString *s = g_string_new (NULL);
  gsize n = g_variant_n_children (profiles);

  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) p = g_variant_get_child_value (profiles, i);
      const char *nickname = esimctl_dict_str (p, "nickname");

      g_string_append_printf (s, "%s%" G_GSIZE_FORMAT " %s", i ? ", " : "", i + 1,
                              esimctl_dict_str (p, "iccid"));
      if (*nickname)
        g_string_append_printf (s, " (%s)", nickname);
    }
  {
    g_autofree char *raw = g_string_free (s, FALSE);

    return esimctl_text_sanitize (raw);
  }
}

GVariant *
esimctl_profile_arg_find (GVariant *profiles, const char *arg, GError **error)
{
  g_autofree char *folded = g_utf8_casefold (arg, -1);
  g_autofree char *iccid = NULL;
  gsize n = g_variant_n_children (profiles);
  g_autoptr (GPtrArray) exact = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autoptr (GPtrArray) loose = g_ptr_array_new_with_free_func ((GDestroyNotify) g_variant_unref);
  g_autofree char *choices = NULL;
  g_autofree char *shown = NULL;
  EsimctlProfileBy by;
  guint64 number;

  if (!esimctl_profile_arg_parse (arg, &by, error))
    return NULL;
  if (by == ESIMCTL_PROFILE_BY_NUMBER && g_ascii_string_to_unsigned (arg, 10, 1, n, &number, NULL))
    return g_variant_get_child_value (profiles, (gsize) number - 1);
  /* An ICCID is compared in the form esimd lists it: "8944…0a" or "…0F" names "8944…0A". */
  if (by == ESIMCTL_PROFILE_BY_ICCID)
    arg = iccid = lpa_iccid_canonical (arg);
  for (gsize i = 0; by != ESIMCTL_PROFILE_BY_NUMBER && i < n; i++)
    {
      GVariant *p = g_variant_get_child_value (profiles, i);
      const char *key = by == ESIMCTL_PROFILE_BY_ICCID ? "iccid" : "nickname";
      const char *value = esimctl_dict_str (p, key);
      g_autofree char *value_folded = g_utf8_casefold (value, -1);

      if (g_str_equal (value, arg))
        g_ptr_array_add (exact, g_variant_ref (p));
      else if (by == ESIMCTL_PROFILE_BY_NICKNAME && *value && g_str_equal (value_folded, folded))
        g_ptr_array_add (loose, g_variant_ref (p));
      g_variant_unref (p);
    }
  if (exact->len == 1 || (exact->len == 0 && loose->len == 1))
    return g_variant_ref (exact->len ? exact->pdata[0] : loose->pdata[0]);

  shown = esimctl_text_sanitize (arg);
  choices = describe_choices (profiles);
  if (exact->len > 1 || loose->len > 1)
    g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                 "several profiles are called \"%s\": name one by its ICCID or number: %s", shown,
                 choices);
  else if (n == 0)
    g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                 "no profile is installed, so none is %s \"%s\"",
                 by == ESIMCTL_PROFILE_BY_NICKNAME ? "called" : "numbered", shown);
  else
    g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                 "no profile is %s \"%s\"; the profiles are: %s",
                 by == ESIMCTL_PROFILE_BY_NICKNAME ? "called"
                 : by == ESIMCTL_PROFILE_BY_NUMBER ? "numbered"
                                                   : "installed with ICCID",
                 shown, choices);
  return NULL;
}

char *
esimctl_profile_arg_resolve (Esimctl *ctl, const char *euicc, const char *arg, GVariant **profile,
                             GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) profiles = NULL;
  g_autoptr (GVariant) found = NULL;
  g_autoptr (GError) local = NULL;
  EsimctlProfileBy by;

  if (profile)
    *profile = NULL;
  if (!esimctl_profile_arg_parse (arg, &by, error))
    return NULL;
  if (by == ESIMCTL_PROFILE_BY_ICCID && !profile)
    return lpa_iccid_canonical (arg);
  reply = esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "ListProfiles",
                        g_variant_new ("(b)", TRUE), "(aa{sv})", ESIMCTL_CALL_READ, error);
  if (!reply)
    return NULL;
  profiles = g_variant_get_child_value (reply, 0);
  found = esimctl_profile_arg_find (profiles, arg, &local);
  if (!found && by == ESIMCTL_PROFILE_BY_ICCID)
    return lpa_iccid_canonical (arg); /* esimd's ProfileNotFound says it best */
  if (!found)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  /* What is done next is done to this ICCID: an answer without one (a broken or look-alike
   * esimd) is said, never sent back as "" or as another profile's. */
  if (!lpa_iccid_is_valid (esimctl_dict_str (found, "iccid")))
    {
      g_set_error (
          error, ESIMCTL_ERROR, ESIMCTL_EXIT_FAILED,
          "unexpected answer from esimd to ListProfiles: profile \"%s\" has no valid ICCID", arg);
      return NULL;
    }
  if (profile)
    *profile = g_variant_ref (found);
  return g_strdup (esimctl_dict_str (found, "iccid"));
}
