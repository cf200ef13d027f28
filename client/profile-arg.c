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

/* A run of digits that is neither a list number nor an ICCID, or 18 to 20 letters and digits
 * starting with "89": an ICCID mistyped, when no nickname is that text. */
static gboolean
looks_like_mistyped_iccid (const char *arg)
{
  gsize n = strlen (arg);
  gboolean alnum = TRUE;

  if (!(all_digits (arg) && n > 3) && !(n >= 18 && n <= 20 && g_str_has_prefix (arg, "89")))
    return FALSE;
  for (const char *p = arg; *p; p++)
    alnum = alnum && g_ascii_isalnum (*p);
  return alnum;
}

gboolean
esimctl_profile_arg_parse (const char *arg, EsimctlProfileBy *by, GError **error)
{
  g_autofree char *iccid = lpa_iccid_canonical (arg);

  if (iccid)
    *by = ESIMCTL_PROFILE_BY_ICCID;
  else if (all_digits (arg) && strlen (arg) <= 3)
    *by = ESIMCTL_PROFILE_BY_NUMBER;
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

/* "profile 2 8949… (Work)": one profile, for a message. */
static char *
describe_one (GVariant *profiles, gsize index)
{
  g_autoptr (GVariant) p = g_variant_get_child_value (profiles, index);
  const char *nickname = esimctl_dict_str (p, "nickname");
  g_autofree char *raw = g_strdup_printf ("profile %" G_GSIZE_FORMAT " %s%s%s%s", index + 1,
                                          esimctl_dict_str (p, "iccid"), *nickname ? " (" : "",
                                          nickname, *nickname ? ")" : "");

  return esimctl_text_sanitize (raw);
}

typedef enum
{
  FIND_FOUND,
  FIND_NONE,
  FIND_AMBIGUOUS,
} FindOutcome;

/* Every way @arg may name a profile, weighed against the listed profiles: as an ICCID (in any
 * form lpa_iccid_canonical() reads), as a list number, as a nickname (exactly, else ignoring
 * case). What one reading finds is the profile; two readings that find different profiles are
 * an ambiguity, named, never settled by guessing (a nickname that looks like an ICCID or a
 * number would otherwise address another profile, or none). */
static FindOutcome
find_profile (GVariant *profiles, const char *arg, gsize *found, GError **error)
{
  g_autofree char *folded = g_utf8_casefold (arg, -1);
  g_autofree char *iccid = lpa_iccid_canonical (arg);
  gsize n = g_variant_n_children (profiles);
  g_autoptr (GArray) exact = g_array_new (FALSE, FALSE, sizeof (gsize));
  g_autoptr (GArray) loose = g_array_new (FALSE, FALSE, sizeof (gsize));
  GArray *nicknamed;
  g_autofree char *choices = NULL;
  g_autofree char *shown = NULL;
  gssize by_key = -1; /* the profile the ICCID or the number names */
  const char *key_kind = NULL;
  const char *reading;
  guint64 number;

  if (all_digits (arg) && strlen (arg) <= 3 &&
      g_ascii_string_to_unsigned (arg, 10, 1, n, &number, NULL))
    {
      by_key = (gssize) number - 1;
      key_kind = "number";
    }
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr (GVariant) p = g_variant_get_child_value (profiles, i);
      const char *nickname = esimctl_dict_str (p, "nickname");
      g_autofree char *nickname_folded = g_utf8_casefold (nickname, -1);

      /* An ICCID is compared in the form esimd lists it: "8944…0a" or "…0F" names "8944…0A". */
      if (iccid && g_str_equal (esimctl_dict_str (p, "iccid"), iccid))
        {
          by_key = (gssize) i;
          key_kind = "ICCID";
        }
      if (*nickname && g_str_equal (nickname, arg))
        g_array_append_val (exact, i);
      else if (*nickname && g_str_equal (nickname_folded, folded))
        g_array_append_val (loose, i);
    }
  nicknamed = exact->len ? exact : loose;

  shown = esimctl_text_sanitize (arg);
  if (by_key >= 0 && nicknamed->len > 0 &&
      (nicknamed->len > 1 || g_array_index (nicknamed, gsize, 0) != (gsize) by_key))
    {
      g_autofree char *keyed = describe_one (profiles, (gsize) by_key);
      /* The nickname's profile that is not the key's (when several share the nickname, the
       * first other one). */
      gsize other_index = g_array_index (nicknamed, gsize, 0) == (gsize) by_key
                              ? g_array_index (nicknamed, gsize, 1)
                              : g_array_index (nicknamed, gsize, 0);
      g_autofree char *other = describe_one (profiles, other_index);

      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "\"%s\" names two profiles: it is the %s of %s and the nickname of %s; name "
                   "the one meant another way (its ICCID or its number in esimctl list, "
                   "whichever is not \"%s\")",
                   shown, key_kind, keyed, other, shown);
      return FIND_AMBIGUOUS;
    }
  if (by_key >= 0)
    {
      *found = (gsize) by_key;
      return FIND_FOUND;
    }
  if (nicknamed->len == 1)
    {
      *found = g_array_index (nicknamed, gsize, 0);
      return FIND_FOUND;
    }

  choices = describe_choices (profiles);
  if (nicknamed->len > 1)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "several profiles are called \"%s\": name one by its ICCID or number: %s", shown,
                   choices);
      return FIND_AMBIGUOUS;
    }
  if (!iccid && looks_like_mistyped_iccid (arg))
    g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                 "\"%s\" is neither an ICCID (" LPA_ICCID_FORMS ") nor a number from esimctl "
                 "list nor a nickname (see esimctl list --all)",
                 shown);
  else
    {
      reading = iccid                                   ? "installed with ICCID"
                : all_digits (arg) && strlen (arg) <= 3 ? "numbered"
                                                        : "called";
      if (n == 0)
        g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                     "no profile is installed, so none is %s \"%s\"", reading, shown);
      else
        g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                     "no profile is %s \"%s\"; the profiles are: %s", reading, shown, choices);
    }
  return FIND_NONE;
}

GVariant *
esimctl_profile_arg_find (GVariant *profiles, const char *arg, GError **error)
{
  gsize found;

  if (!*arg)
    {
      g_set_error (error, ESIMCTL_ERROR, ESIMCTL_EXIT_USAGE,
                   "name a profile by its ICCID, its number in esimctl list or its nickname");
      return NULL;
    }
  if (find_profile (profiles, arg, &found, error) != FIND_FOUND)
    return NULL;
  return g_variant_get_child_value (profiles, found);
}

char *
esimctl_profile_arg_resolve (Esimctl *ctl, const char *euicc, const char *arg, GVariant **profile,
                             GError **error)
{
  g_autoptr (GVariant) reply = NULL;
  g_autoptr (GVariant) profiles = NULL;
  g_autoptr (GVariant) found = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *iccid = lpa_iccid_canonical (arg);
  EsimctlProfileBy by;
  gsize index;

  if (profile)
    *profile = NULL;
  if (!esimctl_profile_arg_parse (arg, &by, error))
    return NULL;
  /* Even an ICCID is weighed against the list: it may be another profile's nickname. */
  reply =
      esimctl_call (ctl, euicc, ESIMD_MANAGER_IFACE, "ListProfiles", g_variant_new ("(b)", TRUE),
                    "(aa{sv})", ESIMCTL_CALL_READ, iccid ? &local : error);
  if (!reply)
    {
      if (iccid && !profile)
        return g_steal_pointer (&iccid); /* esimd is asked with the ICCID, and says */
      if (local)
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  profiles = g_variant_get_child_value (reply, 0);
  switch (find_profile (profiles, arg, &index, &local))
    {
    case FIND_FOUND:
      found = g_variant_get_child_value (profiles, index);
      break;
    case FIND_NONE:
      if (iccid)
        return g_steal_pointer (&iccid); /* esimd's ProfileNotFound says it best */
      G_GNUC_FALLTHROUGH;
    case FIND_AMBIGUOUS:
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
